//! A fuzzed message body, re-signed by a roster member so that it passes the signature check and
//! `open` exercises the value-level rules (spec §5.7 steps 5–7) behind it.
//!
//! Input: `[kind][flags][body…]`; kind = byte % 5 (notice, receipt, ack, checkpoint,
//! cosignature); flags as in `hotline_fuzz::resign`, bits 4–5 pick the signer.
#![no_main]

use hotline_proto::testing::codec;
use hotline_proto::wire::message_hash;
use hotline_proto::ErrorCode;
use hotline_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fx = hotline_fuzz::rich();
    let [k, flags, body @ ..] = data else { return };
    let kind = hotline_fuzz::kind_of(*k);
    let signer = usize::from(flags >> 4 & 3) % fx.ids.len();
    let (frame, from_value) = hotline_fuzz::resign(fx, kind, signer, *flags, body);
    match hotline_proto::wire::open(&frame, &fx.roster, &fx.network) {
        Ok(opened) => {
            assert_eq!(opened.message.signer(), fx.ids[signer]);
            let decoded: hotline_proto::wire::Frame =
                codec::decode("frame", &frame, usize::MAX).expect("decodes");
            assert_eq!(opened.hash, message_hash(kind, &decoded.body));
            let key = &fx.keys[signer];
            let again = match &opened.message {
                Message::Notice(n) => hotline_proto::wire::seal(key, kind, n).0,
                Message::Receipt(r) => hotline_proto::wire::seal(key, kind, r).0,
                Message::Ack(a) => hotline_proto::wire::seal(key, kind, a).0,
                Message::Checkpoint(c) => hotline_proto::wire::seal(key, kind, c).0,
                Message::Cosignature(c) => hotline_proto::wire::seal(key, kind, c).0,
                Message::Heartbeat(h) => hotline_proto::wire::seal(key, kind, h).0,
            };
            assert_eq!(again, frame, "an opened value does not seal back to its frame");
            if let Message::Notice(n) = &opened.message {
                assert!(n.check(&fx.roster).is_ok());
            }
        }
        Err(rejection) => {
            // A frame sealed from a value is canonical and decodes: the strict decoder must agree.
            if from_value {
                assert!(
                    !matches!(rejection.code, ErrorCode::NonCanonical | ErrorCode::Malformed),
                    "a sealed value is refused as {:?}: {}",
                    rejection.code,
                    rejection.detail
                );
            }
        }
    }
});
