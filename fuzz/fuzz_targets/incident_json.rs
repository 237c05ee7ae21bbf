//! Any bytes as the JSON incident the CLI reads (`serde_json` → `Incident`), then its checks; an
//! incident that passes must survive the wire (postcard, strictly) and open inside a notice.
#![no_main]

use hotline_proto::testing::codec;
use hotline_proto::Addressee;
use hotline_proto::Completeness;
use hotline_proto::Kind;
use hotline_proto::{Body, ErrorCode, Incident, Notice, NoticeId, Precedence, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(incident) = serde_json::from_slice::<Incident>(data) else { return };
    let fx = hotline_fuzz::vectors();
    let required = &fx.roster.policy.required_languages;
    // JSON round trip.
    let json = serde_json::to_vec(&incident).expect("an incident encodes as JSON");
    assert_eq!(serde_json::from_slice::<Incident>(&json).expect("re-reads"), incident);
    // Wire round trip, strictly.
    let bytes = codec::encode(&incident);
    assert_eq!(codec::decode::<Incident>("incident", &bytes, usize::MAX).expect("strict"), incident);
    for precedence in Precedence::ALL {
        if incident.check(required, precedence.max_text()).is_err() {
            let _ = incident.check(&[], usize::MAX);
            continue;
        }
        let thread = match incident.completeness {
            Completeness::Initial => None,
            _ => Some(NoticeId { sender: fx.ids[0], seq: 1 }),
        };
        let notice = Notice {
            network: fx.network,
            sender: fx.ids[0],
            seq: 2,
            created_ms: hotline_fuzz::T0,
            precedence,
            to: vec![Addressee { node: fx.ids[1], role: Role::Action, link_seq: 1 }],
            thread,
            in_reply_to: None,
            body: Body::Incident(incident.clone()),
        };
        let (frame, _) = hotline_proto::wire::seal(&fx.keys[0], Kind::Notice, &notice);
        match hotline_proto::wire::open(&frame, &fx.roster, &fx.network) {
            Ok(_) => {}
            Err(r) => assert_eq!(
                r.code,
                ErrorCode::FrameTooLarge,
                "a checked incident does not open in a notice: {}",
                r.detail
            ),
        }
    }
});
