//! One test per class of malformed or unacceptable input, each driving a real [`Node`]: the frame
//! is refused with the right [`ErrorCode`], the refusal is logged (rate-limited), and the node
//! still accepts and receipts a valid notice afterwards.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;

use hotline_proto::crypto::{self, Context};
use hotline_proto::limits::{MAX_FRAME, MAX_LOG_ENTRY};
use hotline_proto::testing::fixtures::{self, test_key, NAMES};
use hotline_proto::testing::{codec, decode_trusted};
use hotline_proto::wire::Frame;
use hotline_proto::wire::SignedEntry;
use hotline_proto::{
    Ack, Body, Disposition, Draft, ErrorCode, Event, Hash32, Kind, LangText, LogEntry, Message, Node, NodeId,
    Notice, NoticeId, Precedence, Receipt, Record, Rejection, Role, Texts,
};
use hotline_proto::{Addressee, Heartbeat, MessageRef};
use hotline_proto::{Check, LogVerifier};
use hotline_proto::{
    Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident, Severity, SystemClass,
};
use hotline_proto::{Policy, Roster};

const T0: u64 = 1_800_000_000_000;

// ---- fixtures -----------------------------------------------------------------------------------

const ALPHA: usize = 0;
const BRAVO: usize = 1;
const CHARLIE: usize = 2;
/// Not a member of the roster.
const OUTSIDER: usize = 9;

fn key(i: usize) -> SigningKey {
    test_key(NAMES.get(i).copied().unwrap_or("outsider"))
}

fn id(i: usize) -> NodeId {
    crypto::node_id(&key(i))
}

fn roster_named(network: &str) -> Roster {
    let roster = Roster { network: network.into(), ..fixtures::roster(3, Policy::default()) };
    roster.check().expect("the test roster is valid");
    roster
}

fn roster() -> Roster {
    roster_named("rejections-test")
}

fn en(text: &str) -> Texts {
    vec![LangText { lang: "en".into(), text: text.into() }]
}

fn incident(summary: &str) -> Incident {
    Incident {
        completeness: Completeness::Initial,
        domain: Domain::Maritime,
        system_class: SystemClass::DecisionSupport,
        failure_modes: vec![FailureMode::Misidentification],
        severity: Severity::High,
        occurred_ms: T0 - 60_000,
        location: None,
        summary: en(summary),
        suspected_cause: vec![],
        human_control: HumanControl {
            role: HumanRole::InTheLoop,
            final_decision_by: "commanding officer".into(),
            statement: en("Engagement was withheld."),
        },
        actions_taken: vec![],
        requested_response: vec![],
        contact: "liaison desk".into(),
        attachments: vec![],
    }
}

/// A valid initial incident notice from `sender` to alpha (action).
fn notice(sender: usize, seq: u64, link_seq: u64, created_ms: u64, summary: &str) -> Notice {
    Notice {
        network: roster().network_id(),
        sender: id(sender),
        seq,
        created_ms,
        precedence: Precedence::Immediate,
        to: vec![Addressee { node: id(ALPHA), role: Role::Action, link_seq }],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident(summary)),
    }
}

fn seal_notice(signer: usize, n: &Notice) -> (Vec<u8>, Hash32) {
    hotline_proto::wire::seal(&key(signer), Kind::Notice, n)
}

fn decode_leaf(leaf: &[u8]) -> LogEntry {
    let signed: SignedEntry = codec::decode("leaf", leaf, MAX_LOG_ENTRY).expect("leaf decodes");
    codec::decode("entry", &signed.entry, MAX_LOG_ENTRY).expect("entry decodes")
}

/// Alpha's node, with the durable log kept beside it as the I/O layer would.
struct Harness {
    node: Node,
    now: u64,
    log: Vec<Vec<u8>>,
    events: Vec<Event>,
    transmits: Vec<hotline_proto::Transmit>,
    /// Next (seq, link_seq towards alpha) of each peer's valid notices.
    next: BTreeMap<usize, (u64, u64)>,
}

impl Harness {
    fn new() -> Harness {
        let node = Node::new(key(ALPHA), roster(), T0).expect("node starts");
        let mut h = Harness {
            node,
            now: T0,
            log: Vec::new(),
            events: Vec::new(),
            transmits: Vec::new(),
            next: BTreeMap::new(),
        };
        h.flush();
        h
    }

    /// Makes everything durable and collects what was released.
    fn flush(&mut self) {
        while let Some(batch) = self.node.poll_persist() {
            assert_eq!(batch.first_index, self.log.len() as u64);
            self.log.extend(batch.leaves);
        }
        self.node.persisted(self.node.log_len());
        while let Some(t) = self.node.poll_transmit() {
            self.transmits.push(t);
        }
        while let Some(e) = self.node.poll_event() {
            self.events.push(e);
        }
    }

    fn tick(&mut self) -> u64 {
        self.now += 10;
        self.now
    }

    /// Delivers a frame from `from`, makes the log durable, and returns the node's verdict.
    fn deliver(&mut self, from: usize, bytes: &[u8]) -> Result<(), Rejection> {
        let now = self.tick();
        let result = self.node.handle_frame(now, id(from), bytes);
        self.flush();
        result
    }

    /// Delivers a frame that must be refused with `code`, and checks the refusal is logged.
    fn refuse(&mut self, from: usize, bytes: &[u8], code: ErrorCode) -> Rejection {
        let before = self.log.len();
        let rejection = self.deliver(from, bytes).expect_err("the frame must be refused");
        assert_eq!(rejection.code, code, "wrong code; detail: {}", rejection.detail);
        let entries: Vec<LogEntry> = self.log[before..].iter().map(|l| decode_leaf(l)).collect();
        if code != ErrorCode::Equivocation {
            assert_eq!(entries.len(), 1, "exactly one entry per refusal: {entries:?}");
            match &entries[0].record {
                Record::Rejected { peer, code: logged, frame_hash, frame_len, suppressed } => {
                    assert_eq!(*peer, id(from));
                    assert_eq!(*logged, code);
                    assert_eq!(*frame_hash, crypto::sha256(bytes));
                    assert_eq!(*frame_len as usize, bytes.len());
                    assert_eq!(*suppressed, 0);
                }
                other => panic!("expected a Rejected record, got {other:?}"),
            }
            assert!(
                self.events.iter().any(
                    |e| matches!(e, Event::Rejected { peer, code: c, .. } if *peer == id(from) && *c == code)
                ),
                "no Rejected event for {code:?}"
            );
        }
        rejection
    }

    /// The next valid notice of `sender` (fresh seq and link_seq), sealed.
    fn next_valid(&mut self, sender: usize) -> (Notice, Vec<u8>, Hash32) {
        let (seq, link_seq) = *self.next.entry(sender).or_insert((1, 1));
        self.next.insert(sender, (seq + 1, link_seq + 1));
        let n = notice(sender, seq, link_seq, self.now, &format!("Valid notice {seq}."));
        let (frame, hash) = seal_notice(sender, &n);
        (n, frame, hash)
    }

    /// Receipts sent to `to` so far, as (frame bytes, receipt).
    fn receipts_to(&self, to: usize) -> Vec<(Vec<u8>, Receipt)> {
        self.transmits
            .iter()
            .filter(|t| t.to == id(to))
            .filter_map(|t| match decode_trusted(&t.frame).ok()?.message {
                Message::Receipt(r) => Some((t.frame.clone(), r)),
                _ => None,
            })
            .collect()
    }

    /// Checks that the node accepts a fresh valid notice from `sender`, reports it once and sends
    /// the sender a receipt for it once durable.
    fn still_accepts(&mut self, sender: usize) {
        let (n, frame, hash) = self.next_valid(sender);
        let before_transmits = self.transmits.len();
        let before_events = self.events.len();
        let now = self.tick();
        self.node.handle_frame(now, id(sender), &frame).expect("a valid notice is accepted");
        // Nothing leaves before the log is durable.
        assert_eq!(self.node.poll_transmit(), None);
        assert_eq!(self.node.poll_event(), None);
        self.flush();
        let new_transmits = &self.transmits[before_transmits..];
        let receipt = new_transmits
            .iter()
            .find_map(|t| match decode_trusted(&t.frame).ok()?.message {
                Message::Receipt(r) if t.to == id(sender) => Some(r),
                _ => None,
            })
            .expect("a receipt for the valid notice is sent to its sender");
        assert_eq!(receipt.signer, id(ALPHA));
        assert_eq!(receipt.of, MessageRef { kind: Kind::Notice, hash });
        assert_eq!(receipt.notice, n.id());
        let received = self.events[before_events..]
            .iter()
            .filter(|e| matches!(e, Event::NoticeReceived { id, .. } if *id == n.id()))
            .count();
        assert_eq!(received, 1, "the valid notice is reported exactly once");
        self.audit();
    }

    /// The whole log verifies under a full audit.
    fn audit(&self) {
        let mut verifier = LogVerifier::new(roster(), id(ALPHA), Check::Full);
        for leaf in &self.log {
            verifier.push(leaf).expect("the node's log verifies");
        }
    }

    fn records(&self) -> Vec<Record> {
        self.log.iter().map(|l| decode_leaf(l).record).collect()
    }
}

/// A valid frame from bravo to alpha, not delivered yet (seq 1).
fn some_valid_frame() -> Vec<u8> {
    seal_notice(BRAVO, &notice(BRAVO, 1, 1, T0, "Valid notice.")).0
}

/// Frames `body` as a notice with the given signature (made over some other bytes).
fn reframe(body: Vec<u8>, signature: hotline_proto::Sig64) -> Vec<u8> {
    codec::encode(&Frame { version: hotline_proto::wire::VERSION, kind: Kind::Notice, body, signature })
}

/// Signs an already-encoded body as `signer` and frames it.
fn frame_raw_body(signer: usize, kind: Kind, body: Vec<u8>) -> Vec<u8> {
    let signature = crypto::sign(&key(signer), kind.context(), &body);
    codec::encode(&Frame { version: hotline_proto::wire::VERSION, kind, body, signature })
}

/// Length of the postcard varint at the start of `bytes`.
fn varint_len(bytes: &[u8]) -> usize {
    bytes.iter().position(|b| b & 0x80 == 0).expect("varint ends") + 1
}

/// The same varint one byte longer: the last byte gets a continuation bit and a zero follows.
fn overlong(varint: &[u8]) -> Vec<u8> {
    let mut out = varint.to_vec();
    let last = out.len() - 1;
    out[last] |= 0x80;
    out.push(0);
    out
}

// ---- decoding -----------------------------------------------------------------------------------

#[test]
fn frame_too_large() {
    let mut h = Harness::new();
    h.refuse(BRAVO, &vec![hotline_proto::wire::VERSION; MAX_FRAME + 1], ErrorCode::FrameTooLarge);
    // A valid frame padded past the limit: the size is checked before anything else.
    let mut big = some_valid_frame();
    big.resize(MAX_FRAME + 1, 0);
    h.refuse(BRAVO, &big, ErrorCode::FrameTooLarge);
    h.still_accepts(BRAVO);
}

#[test]
fn empty_frame_is_malformed() {
    let mut h = Harness::new();
    h.refuse(BRAVO, &[], ErrorCode::Malformed);
    h.still_accepts(BRAVO);
}

#[test]
fn garbage_is_malformed() {
    let mut h = Harness::new();
    // Version byte right, then nonsense: an unknown kind, a truncated frame, a length past the end.
    h.refuse(BRAVO, &[hotline_proto::wire::VERSION], ErrorCode::Malformed);
    h.refuse(BRAVO, &[hotline_proto::wire::VERSION, 7, 1, 2, 3], ErrorCode::Malformed);
    h.refuse(BRAVO, &[hotline_proto::wire::VERSION, 0, 0xff, 0xff, 0x03, 1, 2], ErrorCode::Malformed);
    let valid = some_valid_frame();
    h.refuse(BRAVO, &valid[..valid.len() - 1], ErrorCode::Malformed);
    // A well-formed frame whose body is not a notice.
    h.refuse(BRAVO, &frame_raw_body(BRAVO, Kind::Notice, vec![1, 2, 3]), ErrorCode::Malformed);
    h.still_accepts(BRAVO);
}

#[test]
fn unsupported_version() {
    let mut h = Harness::new();
    for version in [0u8, 2, 0xff] {
        let mut frame = some_valid_frame();
        frame[0] = version;
        h.refuse(BRAVO, &frame, ErrorCode::UnsupportedVersion);
    }
    h.refuse(BRAVO, b"hello", ErrorCode::UnsupportedVersion);
    h.still_accepts(BRAVO);
}

#[test]
fn trailing_byte_is_malformed() {
    let mut h = Harness::new();
    for byte in [0u8, 1, 0xff] {
        let mut frame = some_valid_frame();
        frame.push(byte);
        h.refuse(BRAVO, &frame, ErrorCode::Malformed);
    }
    // Trailing bytes inside the (signed) body.
    let mut body = codec::encode(&notice(BRAVO, 1, 1, T0, "Valid notice."));
    body.push(0);
    h.refuse(BRAVO, &frame_raw_body(BRAVO, Kind::Notice, body), ErrorCode::Malformed);
    h.still_accepts(BRAVO);
}

#[test]
fn non_canonical_body_length() {
    let mut h = Harness::new();
    let frame = some_valid_frame();
    // Frame layout: version (1 byte), kind (varint), body length (varint), body, signature (64).
    assert_eq!(frame[0], hotline_proto::wire::VERSION);
    assert_eq!(frame[1], 0, "kind notice");
    let len_bytes = varint_len(&frame[2..]);
    let mut bytes = frame[..2].to_vec();
    bytes.extend(overlong(&frame[2..2 + len_bytes]));
    bytes.extend_from_slice(&frame[2 + len_bytes..]);
    h.refuse(BRAVO, &bytes, ErrorCode::NonCanonical);
    h.still_accepts(BRAVO);
}

#[test]
fn non_canonical_signed_body() {
    let mut h = Harness::new();
    // An over-long `seq` inside a correctly signed body: network (32), sender (32), seq (varint).
    let body = codec::encode(&notice(BRAVO, 1, 1, T0, "Valid notice."));
    let mut overlong_body = body[..64].to_vec();
    let seq_len = varint_len(&body[64..]);
    overlong_body.extend(overlong(&body[64..64 + seq_len]));
    overlong_body.extend_from_slice(&body[64 + seq_len..]);
    h.refuse(BRAVO, &frame_raw_body(BRAVO, Kind::Notice, overlong_body), ErrorCode::NonCanonical);
    h.still_accepts(BRAVO);
}

// ---- verification -------------------------------------------------------------------------------

#[test]
fn wrong_network() {
    let mut h = Harness::new();
    let other = roster_named("another-network");
    assert_ne!(other.network_id(), roster().network_id());
    let mut n = notice(BRAVO, 1, 1, T0, "For another network.");
    n.network = other.network_id();
    h.refuse(BRAVO, &seal_notice(BRAVO, &n).0, ErrorCode::WrongNetwork);
    h.still_accepts(BRAVO);
}

#[test]
fn unknown_signer() {
    let mut h = Harness::new();
    let n = notice(OUTSIDER, 1, 1, T0, "From outside the roster.");
    h.refuse(BRAVO, &seal_notice(OUTSIDER, &n).0, ErrorCode::UnknownSigner);
    h.still_accepts(BRAVO);
}

#[test]
fn delivering_peer_not_in_roster() {
    let mut h = Harness::new();
    let before = h.log.len();
    let frame = some_valid_frame();
    let rejection = h.deliver(OUTSIDER, &frame).unwrap_err();
    assert_eq!(rejection.code, ErrorCode::UnknownSigner);
    let rejection = h.deliver(ALPHA, &frame).unwrap_err();
    assert_eq!(rejection.code, ErrorCode::UnknownSigner);
    // Nothing to attribute it to: not logged.
    assert_eq!(h.log.len(), before);
    h.still_accepts(BRAVO);
}

#[test]
fn signer_mismatch() {
    let mut h = Harness::new();
    h.refuse(CHARLIE, &some_valid_frame(), ErrorCode::SignerMismatch);
    // Not taken as bravo's notice either: bravo's seq 1 is still new.
    h.still_accepts(BRAVO);
    h.still_accepts(CHARLIE);
}

#[test]
fn bad_signature() {
    let mut h = Harness::new();
    let n = notice(BRAVO, 1, 1, T0, "Original text.");
    let (frame, _) = seal_notice(BRAVO, &n);
    let original: Frame = codec::decode("frame", &frame, MAX_FRAME).unwrap();

    let mut altered = n.clone();
    altered.created_ms += 1;
    h.refuse(BRAVO, &reframe(codec::encode(&altered), original.signature), ErrorCode::BadSignature);

    let mut altered = n.clone();
    altered.body = Body::Incident(incident("Altered text."));
    h.refuse(BRAVO, &reframe(codec::encode(&altered), original.signature), ErrorCode::BadSignature);

    // The right body under another context (signed as a receipt).
    let wrong_context = crypto::sign(&key(BRAVO), Context::Receipt, &original.body);
    h.refuse(BRAVO, &reframe(original.body.clone(), wrong_context), ErrorCode::BadSignature);

    // A signature with one bit flipped.
    let mut flipped = original.signature;
    flipped.0[40] ^= 0x01;
    h.refuse(BRAVO, &reframe(original.body.clone(), flipped), ErrorCode::BadSignature);

    // The original frame was never accepted: bravo's seq 1 is still new.
    h.still_accepts(BRAVO);
}

// ---- times (spec §6.9) --------------------------------------------------------------------------

/// A notice created far in the future is refused (it would show a countdown that never runs);
/// one a little ahead is accepted and only recorded as skew; an old one is accepted, however old.
#[test]
fn time_out_of_range_future_created_ms() {
    let mut h = Harness::new();
    let limit = hotline_proto::future_limit_ms(h.node.policy());
    for created in [u64::MAX, h.now + limit + 1_000] {
        let n = notice(BRAVO, 1, 1, created, "From the future.");
        let e = h.refuse(BRAVO, &seal_notice(BRAVO, &n).0, ErrorCode::TimeOutOfRange);
        assert!(e.detail.contains("ahead of this node's clock"), "{}", e.detail);
    }
    // Within the limit: accepted, and the skew is recorded.
    let n = notice(BRAVO, 1, 1, h.now + limit / 2, "A little ahead.");
    h.deliver(BRAVO, &seal_notice(BRAVO, &n).0).unwrap();
    assert!(h.records().iter().any(|r| matches!(r, Record::ClockSkew(_))));
}

#[test]
fn time_out_of_range_before_the_floor() {
    let mut h = Harness::new();
    for created in [0, hotline_proto::TIME_FLOOR_MS - 1] {
        let n = notice(BRAVO, 1, 1, created, "From 1970.");
        h.refuse(BRAVO, &seal_notice(BRAVO, &n).0, ErrorCode::TimeOutOfRange);
    }
    // A notice a year old (delivered after a long partition) is accepted.
    let n = notice(BRAVO, 1, 1, h.now - 365 * 24 * 3_600_000, "Delayed a year.");
    h.deliver(BRAVO, &seal_notice(BRAVO, &n).0).unwrap();
}

// ---- schema -------------------------------------------------------------------------------------

fn refuse_invalid_field(mutate: impl FnOnce(&mut Notice), field: &str) {
    let mut h = Harness::new();
    let mut n = notice(BRAVO, 1, 1, T0, "Invalid notice.");
    mutate(&mut n);
    let rejection = h.refuse(BRAVO, &seal_notice(BRAVO, &n).0, ErrorCode::InvalidField);
    assert!(rejection.detail.starts_with(field), "detail {:?} should name {field}", rejection.detail);
    h.still_accepts(BRAVO);
}

#[test]
fn invalid_field_missing_required_language() {
    refuse_invalid_field(
        |n| {
            let mut i = incident("x");
            i.summary = vec![LangText { lang: "fr".into(), text: "Navire mal identifié.".into() }];
            n.body = Body::Incident(i);
        },
        "summary",
    );
}

/// "Trojan Source": a text whose display differs from its characters is refused (spec §5.3).
#[test]
fn invalid_field_bidirectional_override_in_a_text() {
    refuse_invalid_field(
        |n| {
            let mut i = incident("x");
            i.summary[0].text = "Vessel \u{202E}elitsoh\u{202C} confirmed.".into();
            n.body = Body::Incident(i);
        },
        "summary",
    );
}

#[test]
fn invalid_field_seq_zero() {
    refuse_invalid_field(|n| n.seq = 0, "seq");
}

#[test]
fn invalid_field_link_seq_zero() {
    refuse_invalid_field(|n| n.to[0].link_seq = 0, "to.link_seq");
}

#[test]
fn invalid_field_no_action_addressee() {
    refuse_invalid_field(|n| n.to[0].role = Role::Info, "to");
}

#[test]
fn invalid_field_thread_on_initial() {
    refuse_invalid_field(|n| n.thread = Some(NoticeId { sender: id(CHARLIE), seq: 1 }), "thread");
}

#[test]
fn invalid_field_reply_without_thread() {
    refuse_invalid_field(
        |n| {
            n.body = Body::Reply(en("Understood."));
            n.in_reply_to = Some(NoticeId { sender: id(ALPHA), seq: 1 });
        },
        "thread",
    );
}

#[test]
fn invalid_field_empty_ack_operator() {
    let mut h = Harness::new();
    let ack = Ack {
        network: roster().network_id(),
        signer: id(BRAVO),
        notice: NoticeId { sender: id(ALPHA), seq: 1 },
        notice_hash: Hash32([0; 32]),
        acked_ms: T0,
        operator: "  ".into(),
        disposition: Disposition::Understood,
        note: vec![],
    };
    let rejection =
        h.refuse(BRAVO, &hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, &ack).0, ErrorCode::InvalidField);
    assert!(rejection.detail.starts_with("operator"), "{}", rejection.detail);
    h.still_accepts(BRAVO);
}

/// Issue 11, item 18: a receipt or acknowledgement names a notice of a roster member with a
/// number a notice can have; a notice is receipted by an addressee and an acknowledgement by the
/// notice's sender; nobody acknowledges its own notice (spec §5.5, §5.6).
#[test]
fn receipts_and_acks_name_a_possible_notice_of_the_right_party() {
    let mut h = Harness::new();
    let network = roster().network_id();
    let receipt = |kind, sender: NodeId, seq| Receipt {
        network,
        signer: id(BRAVO),
        of: MessageRef { kind, hash: Hash32([3; 32]) },
        notice: NoticeId { sender, seq },
        received_ms: T0,
    };
    let seal = |r: &Receipt| hotline_proto::wire::seal(&key(BRAVO), Kind::Receipt, r).0;
    for (r, code, detail) in [
        (receipt(Kind::Notice, id(OUTSIDER), 1), ErrorCode::InvalidField, "not in the roster"),
        (receipt(Kind::Notice, id(ALPHA), 0), ErrorCode::InvalidField, "notice number 0"),
        (receipt(Kind::Notice, id(BRAVO), 1), ErrorCode::WrongParty, "receipted by an addressee"),
        (receipt(Kind::Ack, id(ALPHA), 1), ErrorCode::WrongParty, "receipted by an addressee"),
    ] {
        let rejection = h.refuse(BRAVO, &seal(&r), code);
        assert!(rejection.detail.contains(detail), "{}", rejection.detail);
    }
    let ack = |sender: NodeId, seq| Ack {
        network,
        signer: id(BRAVO),
        notice: NoticeId { sender, seq },
        notice_hash: Hash32([0; 32]),
        acked_ms: T0,
        operator: "watch 1".into(),
        disposition: Disposition::Understood,
        note: vec![],
    };
    let seal = |a: &Ack| hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, a).0;
    let own = h.refuse(BRAVO, &seal(&ack(id(BRAVO), 1)), ErrorCode::WrongParty);
    assert!(own.detail.contains("its own notice"), "{}", own.detail);
    h.refuse(BRAVO, &seal(&ack(id(OUTSIDER), 1)), ErrorCode::InvalidField);
    h.refuse(BRAVO, &seal(&ack(id(ALPHA), 0)), ErrorCode::InvalidField);
    h.still_accepts(BRAVO);
}

/// Issue 11, item 18: language tags are case-insensitive (BCP 47): `EN` beside `en` is one
/// language twice, and `ZH` is the required `zh`.
#[test]
fn language_tags_compare_without_case() {
    let t = |lang: &str, text: &str| LangText { lang: lang.into(), text: text.into() };
    let required = vec!["en".to_string(), "zh".to_string()];
    let check = |texts: &Texts| hotline_proto::check_texts("summary", texts, &required, 1024, true);
    let e = check(&vec![t("en", "a"), t("EN", "b"), t("zh", "c")]).unwrap_err();
    assert!(e.detail.contains("twice"), "{}", e.detail);
    assert!(check(&vec![t("EN", "a"), t("ZH", "b")]).is_ok(), "required languages match without case");
}

/// Issue 11, item 18: roster rules the spec states (§3): a member's languages do not repeat, a
/// code word starts with a letter, the network's name is not blank, the clock-skew tolerance is
/// at least 100 ms.
#[test]
fn roster_rules_refuse_repeats_blank_names_bare_dashes_and_no_skew_tolerance() {
    let base = roster();
    let refused = |r: &Roster, field: &str| {
        let e = r.check().expect_err("refused");
        assert!(e.detail.starts_with(field), "{field}: {}", e.detail);
    };
    let mut r = base.clone();
    r.members[0].languages = vec!["en".into(), "EN".into()];
    refused(&r, "members.languages");
    let mut r = base.clone();
    r.network = "   ".into();
    refused(&r, "network");
    let mut r = base.clone();
    r.policy.max_clock_skew_ms = 0;
    refused(&r, "policy.max_clock_skew_ms");
    r.policy.max_clock_skew_ms = hotline_proto::MIN_CLOCK_SKEW_MS;
    assert!(r.check().is_ok());
    let mut r = base.clone();
    r.policy.codebook = fixtures::codebook();
    r.policy.codebook[0].word = "-".into();
    refused(&r, "policy.codebook.word");
    r.policy.codebook[0].word = "9LIVES".into();
    refused(&r, "policy.codebook.word");
}

/// Issue 11, item 18: the nodes a log record names are roster members and a peer is never the
/// log's own node; a sequence gap runs forwards (spec §7.2). A verifier refuses such an entry,
/// though its signature is good.
#[test]
fn log_records_name_members_and_real_peers() {
    use hotline_proto::{DeadlineKind, DeadlineMissed, LinkDown, SequenceGap};
    let r = roster();
    let network = r.network_id();
    let entry = |index: u64, prev: Hash32, record: Record| LogEntry {
        network,
        node: id(ALPHA),
        index,
        prev,
        time_ms: T0 + index,
        record,
    };
    let first = hotline_proto::wire::seal_entry(
        &key(ALPHA),
        &entry(0, Hash32([0; 32]), Record::Started { software: "t".into() }),
    );
    let after = crypto::leaf_hash(&first);
    for (record, says) in [
        (Record::SequenceGap(SequenceGap { peer: id(BRAVO), first: 5, last: 4 }), "forwards"),
        (Record::SequenceGap(SequenceGap { peer: id(BRAVO), first: 0, last: 4 }), "forwards"),
        (Record::LinkDown(LinkDown { peer: id(ALPHA), last_heard_ms: T0 }), "own node"),
        (Record::LinkUp { peer: id(OUTSIDER) }, "not a member"),
        (
            Record::DeadlineMissed(DeadlineMissed {
                notice: NoticeId { sender: id(ALPHA), seq: 1 },
                party: id(OUTSIDER),
                deadline: DeadlineKind::Ack,
                deadline_ms: T0,
            }),
            "`party`",
        ),
    ] {
        let mut v = LogVerifier::new(r.clone(), id(ALPHA), Check::Full);
        v.push(&first).unwrap();
        let bad = hotline_proto::wire::seal_entry(&key(ALPHA), &entry(1, after, record.clone()));
        let e = v.push(&bad).expect_err("refused");
        assert!(e.index == 1 && e.problem.contains(says), "{record:?}: {}", e.problem);
    }
    // The same records naming a real peer, going forwards, are fine.
    let mut v = LogVerifier::new(r.clone(), id(ALPHA), Check::Full);
    v.push(&first).unwrap();
    let good = hotline_proto::wire::seal_entry(
        &key(ALPHA),
        &entry(1, after, Record::SequenceGap(SequenceGap { peer: id(BRAVO), first: 4, last: 4 })),
    );
    v.push(&good).unwrap();
}

// ---- state --------------------------------------------------------------------------------------

#[test]
fn not_addressed() {
    let mut h = Harness::new();
    let mut n = notice(BRAVO, 1, 1, T0, "For charlie only.");
    n.to = vec![Addressee { node: id(CHARLIE), role: Role::Action, link_seq: 1 }];
    h.refuse(BRAVO, &seal_notice(BRAVO, &n).0, ErrorCode::NotAddressed);
    // Bravo's seq 1 was not recorded as seen: a notice to alpha with seq 1 is no equivocation.
    h.still_accepts(BRAVO);
}

#[test]
fn equivocation() {
    let mut h = Harness::new();
    let first = notice(BRAVO, 1, 1, T0, "First version.");
    let (first_frame, first_hash) = seal_notice(BRAVO, &first);
    h.deliver(BRAVO, &first_frame).expect("the first notice is accepted");
    h.next.insert(BRAVO, (2, 2));

    let second = notice(BRAVO, 1, 1, T0, "Second, different version.");
    let (second_frame, second_hash) = seal_notice(BRAVO, &second);
    assert_ne!(first_hash, second_hash);
    let before = h.log.len();
    h.refuse(BRAVO, &second_frame, ErrorCode::Equivocation);

    let new: Vec<Record> = h.log[before..].iter().map(|l| decode_leaf(l).record).collect();
    assert_eq!(
        new,
        vec![Record::Equivocation { frame: second_frame.clone(), conflicts_with: first_hash }],
        "the evidence is logged, and not as a plain rejection"
    );
    assert_eq!(h.records().iter().filter(|r| matches!(r, Record::Equivocation { .. })).count(), 1);
    assert!(!h.records().iter().any(|r| matches!(r, Record::Rejected { .. })));
    assert!(h.events.iter().any(
        |e| matches!(e, Event::Equivocation { peer, notice } if *peer == id(BRAVO) && *notice == first.id())
    ));
    // The accepted version stays the accepted one.
    let held: Vec<&Notice> = h.node.received().map(|(n, _)| n).collect();
    assert_eq!(held, vec![&first]);
    h.audit();
    h.still_accepts(BRAVO);
}

#[test]
fn receipt_for_unknown_message() {
    let mut h = Harness::new();
    let network = roster().network_id();
    // A notice of alpha's receipted by bravo; an acknowledgement of bravo's notice receipted by
    // bravo, its sender.
    for (kind, sender) in [(Kind::Notice, ALPHA), (Kind::Ack, BRAVO)] {
        let receipt = Receipt {
            network,
            signer: id(BRAVO),
            of: MessageRef { kind, hash: Hash32([3; 32]) },
            notice: NoticeId { sender: id(sender), seq: 1 },
            received_ms: T0,
        };
        let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Receipt, &receipt).0;
        h.refuse(BRAVO, &frame, ErrorCode::UnknownReference);
    }
    h.still_accepts(BRAVO);
}

#[test]
fn ack_for_unknown_notice() {
    let mut h = Harness::new();
    let ack = Ack {
        network: roster().network_id(),
        signer: id(BRAVO),
        notice: NoticeId { sender: id(ALPHA), seq: 1 },
        notice_hash: Hash32([3; 32]),
        acked_ms: T0,
        operator: "watch officer".into(),
        disposition: Disposition::Understood,
        note: vec![],
    };
    h.refuse(BRAVO, &hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, &ack).0, ErrorCode::UnknownReference);
    h.still_accepts(BRAVO);
}

/// Alpha sends a notice to bravo only; returns its id and message hash.
fn alpha_sends_to_bravo(h: &mut Harness) -> (NoticeId, Hash32) {
    let now = h.tick();
    let draft = Draft {
        precedence: Precedence::Priority,
        to: vec![(id(BRAVO), Role::Action)],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident("Alpha's report to bravo.")),
    };
    let notice_id = h.node.send_notice(now, draft).expect("alpha sends");
    h.flush();
    let sent = h
        .transmits
        .iter()
        .rev()
        .find(|t| t.to == id(BRAVO))
        .map(|t| decode_trusted(&t.frame).unwrap())
        .expect("the notice goes to bravo");
    assert!(matches!(&sent.message, Message::Notice(n) if n.id() == notice_id));
    (notice_id, sent.hash)
}

#[test]
fn ack_from_a_node_not_addressed() {
    let mut h = Harness::new();
    let (notice, notice_hash) = alpha_sends_to_bravo(&mut h);
    let ack = Ack {
        network: roster().network_id(),
        signer: id(CHARLIE),
        notice,
        notice_hash,
        acked_ms: h.now,
        operator: "charlie watch".into(),
        disposition: Disposition::Understood,
        note: vec![],
    };
    h.refuse(CHARLIE, &hotline_proto::wire::seal(&key(CHARLIE), Kind::Ack, &ack).0, ErrorCode::WrongParty);
    // Bravo's own ack is fine.
    let ack = Ack { signer: id(BRAVO), operator: "bravo watch".into(), ..ack };
    h.deliver(BRAVO, &hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, &ack).0)
        .expect("the addressee's ack is accepted");
    h.still_accepts(CHARLIE);
}

#[test]
fn receipt_from_a_node_not_addressed() {
    let mut h = Harness::new();
    let (notice, hash) = alpha_sends_to_bravo(&mut h);
    let receipt = Receipt {
        network: roster().network_id(),
        signer: id(CHARLIE),
        of: MessageRef { kind: Kind::Notice, hash },
        notice,
        received_ms: h.now,
    };
    h.refuse(
        CHARLIE,
        &hotline_proto::wire::seal(&key(CHARLIE), Kind::Receipt, &receipt).0,
        ErrorCode::WrongParty,
    );
    h.still_accepts(CHARLIE);
}

// ---- duplicates and rate limiting -----------------------------------------------------------------

#[test]
fn duplicate_notice_gets_the_same_receipt_and_no_second_event() {
    let mut h = Harness::new();
    let (n, frame, _) = h.next_valid(BRAVO);
    h.deliver(BRAVO, &frame).expect("accepted");
    let first = h.receipts_to(BRAVO);
    assert_eq!(first.len(), 1);
    let log_len = h.log.len();

    for _ in 0..3 {
        h.deliver(BRAVO, &frame).expect("a duplicate is not an error");
    }
    let all = h.receipts_to(BRAVO);
    assert_eq!(all.len(), 4, "each copy is answered");
    assert!(all.iter().all(|(bytes, _)| bytes == &first[0].0), "with the very same receipt bytes");
    assert_eq!(h.log.len(), log_len, "duplicates change no log");
    let reported =
        h.events.iter().filter(|e| matches!(e, Event::NoticeReceived { id, .. } if *id == n.id())).count();
    assert_eq!(reported, 1, "the notice is reported once");
    h.still_accepts(BRAVO);
}

#[test]
fn rejections_are_rate_limited() {
    let mut h = Harness::new();
    let garbage = [hotline_proto::wire::VERSION, 7, 7, 7];
    let start = h.log.len();
    for i in 0..100u64 {
        let r = h.node.handle_frame(T0 + 1_000 + i * 100, id(BRAVO), &garbage).unwrap_err();
        assert_eq!(r.code, ErrorCode::Malformed);
    }
    h.flush();
    let rejected: Vec<u32> = h.log[start..]
        .iter()
        .filter_map(|l| match decode_leaf(l).record {
            Record::Rejected { suppressed, .. } => Some(suppressed),
            _ => None,
        })
        .collect();
    assert!(rejected.len() <= 16, "{} refusals logged in one minute", rejected.len());
    assert_eq!(rejected.len(), 16);
    assert!(rejected.iter().all(|s| *s == 0));
    let events = h.events.iter().filter(|e| matches!(e, Event::Rejected { .. })).count();
    assert_eq!(events, 16, "events are rate-limited like the log");

    // A different peer has its own budget.
    h.now = T0 + 20_000;
    h.refuse(CHARLIE, &garbage, ErrorCode::Malformed);

    // After the window: the next refusal is logged with the count of those suppressed.
    let mark = h.log.len();
    h.node.handle_frame(T0 + 1_000 + 61_000, id(BRAVO), &garbage).unwrap_err();
    h.now = T0 + 1_000 + 61_000;
    h.flush();
    let new: Vec<Record> = h.log[mark..].iter().map(|l| decode_leaf(l).record).collect();
    assert_eq!(new.len(), 1);
    match &new[0] {
        Record::Rejected { peer, code, suppressed, .. } => {
            assert_eq!(*peer, id(BRAVO));
            assert_eq!(*code, ErrorCode::Malformed);
            assert_eq!(*suppressed, 84);
        }
        other => panic!("expected a Rejected record, got {other:?}"),
    }
    h.audit();
    h.still_accepts(BRAVO);
    assert!(h.records().iter().filter(|r| matches!(r, Record::Rejected { .. })).count() <= 18);
}

// ---- more field rules of §6.7 ---------------------------------------------------------------------

#[test]
fn invalid_field_receipt_of_a_receipt() {
    let mut h = Harness::new();
    let receipt = Receipt {
        network: roster().network_id(),
        signer: id(BRAVO),
        of: MessageRef { kind: Kind::Receipt, hash: Hash32([3; 32]) },
        notice: NoticeId { sender: id(ALPHA), seq: 1 },
        received_ms: T0,
    };
    let rejection = h.refuse(
        BRAVO,
        &hotline_proto::wire::seal(&key(BRAVO), Kind::Receipt, &receipt).0,
        ErrorCode::InvalidField,
    );
    assert!(rejection.detail.starts_with("of.kind"), "{}", rejection.detail);
    h.still_accepts(BRAVO);
}

fn heartbeat(from: usize, to: usize) -> Heartbeat {
    Heartbeat {
        network: roster().network_id(),
        signer: id(from),
        to: id(to),
        time_ms: T0,
        echo: Hash32([0; 32]),
        cosigned: None,
    }
}

/// A checkpoint of `log`'s log of `size` entries, signed by `signer`.
fn checkpoint_of(log: usize, signer: usize, size: u64) -> hotline_proto::SignedCheckpoint {
    let root = crypto::sha256(b"some root");
    let origin = hotline_proto::note::origin_of(&roster(), &id(log)).unwrap();
    let signature = hotline_proto::note::Checkpoint { origin, size, root }.sign(&key(signer));
    hotline_proto::SignedCheckpoint { size, root, signature }
}

/// Spec §5.8: a heartbeat's co-signed checkpoint is the addressee's, signed by it; one its
/// sender signed itself (or anyone but the addressee) is `bad_signature`, so that no peer can
/// make a node believe its store lost entries it never signed (spec §6.13).
#[test]
fn bad_signature_heartbeat_with_a_checkpoint_the_addressee_never_signed() {
    let mut h = Harness::new();
    let forged =
        Heartbeat { cosigned: Some(checkpoint_of(ALPHA, BRAVO, 1_000_000)), ..heartbeat(BRAVO, ALPHA) };
    let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Heartbeat, &forged).0;
    h.refuse(BRAVO, &frame, ErrorCode::BadSignature);
    h.still_accepts(BRAVO);
}

#[test]
fn invalid_field_heartbeat_to_its_own_sender() {
    let mut h = Harness::new();
    let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Heartbeat, &heartbeat(BRAVO, BRAVO)).0;
    let rejection = h.refuse(BRAVO, &frame, ErrorCode::InvalidField);
    assert!(rejection.detail.starts_with("to"), "{}", rejection.detail);
    h.still_accepts(BRAVO);
}

#[test]
fn not_addressed_heartbeat_for_another_node() {
    let mut h = Harness::new();
    let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Heartbeat, &heartbeat(BRAVO, CHARLIE)).0;
    h.refuse(BRAVO, &frame, ErrorCode::NotAddressed);
    h.still_accepts(BRAVO);
}

#[test]
fn time_out_of_range_heartbeat_from_1970() {
    let mut h = Harness::new();
    let old = Heartbeat { time_ms: 86_400_000, ..heartbeat(BRAVO, ALPHA) };
    let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Heartbeat, &old).0;
    h.refuse(BRAVO, &frame, ErrorCode::TimeOutOfRange);
    h.still_accepts(BRAVO);
}

#[test]
fn invalid_field_receipt_of_a_heartbeat() {
    let mut h = Harness::new();
    let receipt = Receipt {
        network: roster().network_id(),
        signer: id(BRAVO),
        of: MessageRef { kind: Kind::Heartbeat, hash: Hash32([3; 32]) },
        notice: NoticeId { sender: id(ALPHA), seq: 1 },
        received_ms: T0,
    };
    let frame = hotline_proto::wire::seal(&key(BRAVO), Kind::Receipt, &receipt).0;
    let rejection = h.refuse(BRAVO, &frame, ErrorCode::InvalidField);
    assert!(rejection.detail.starts_with("of.kind"), "{}", rejection.detail);
    h.still_accepts(BRAVO);
}

#[test]
fn invalid_field_second_different_ack() {
    let mut h = Harness::new();
    let (notice, notice_hash) = alpha_sends_to_bravo(&mut h);
    let ack = Ack {
        network: roster().network_id(),
        signer: id(BRAVO),
        notice,
        notice_hash,
        acked_ms: h.now,
        operator: "bravo watch".into(),
        disposition: Disposition::Investigating,
        note: vec![],
    };
    let (first, _) = hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, &ack);
    h.deliver(BRAVO, &first).expect("the first ack is accepted");
    let receipts = h.receipts_to(BRAVO);
    assert_eq!(receipts.len(), 1);
    // A copy gets the same receipt again.
    h.deliver(BRAVO, &first).expect("a copy is not an error");
    let again = h.receipts_to(BRAVO);
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].0, receipts[0].0);
    // A different second ack is refused.
    let second = Ack { disposition: Disposition::ActionTaken, ..ack };
    let rejection = h.refuse(
        BRAVO,
        &hotline_proto::wire::seal(&key(BRAVO), Kind::Ack, &second).0,
        ErrorCode::InvalidField,
    );
    assert!(rejection.detail.starts_with("ack"), "{}", rejection.detail);
    h.still_accepts(BRAVO);
}

#[test]
fn invalid_utf8_in_a_signed_body_is_malformed() {
    let mut h = Harness::new();
    let mut body = codec::encode(&notice(BRAVO, 1, 1, T0, "Valid notice."));
    let at = body.windows(5).position(|w| w == b"Valid").expect("the summary is in the body");
    body[at] = 0xff;
    h.refuse(BRAVO, &frame_raw_body(BRAVO, Kind::Notice, body), ErrorCode::Malformed);
    h.still_accepts(BRAVO);
}

// ---- the order of the checks (§5.7) ----------------------------------------------------------------

/// A frame that breaks several rules is refused with the code of the first step it fails.
#[test]
fn checks_apply_in_the_order_of_the_spec() {
    let mut h = Harness::new();
    let other_network = roster_named("another-network").network_id();
    let valid = some_valid_frame();

    // 1 before 2: too large and a bad version.
    let mut bytes = vec![0x7f; MAX_FRAME + 1];
    bytes[0] = 9;
    h.refuse(BRAVO, &bytes, ErrorCode::FrameTooLarge);

    // 2 before 3: a bad version on garbage.
    h.refuse(BRAVO, &[9, 0xff, 0xff], ErrorCode::UnsupportedVersion);

    // 3 before 4: non-canonical and for another network.
    let mut n = notice(BRAVO, 1, 1, T0, "x");
    n.network = other_network;
    let (frame, _) = seal_notice(BRAVO, &n);
    let len_bytes = varint_len(&frame[2..]);
    let mut bytes = frame[..2].to_vec();
    bytes.extend(overlong(&frame[2..2 + len_bytes]));
    bytes.extend_from_slice(&frame[2 + len_bytes..]);
    h.refuse(BRAVO, &bytes, ErrorCode::NonCanonical);

    // 4 before 5: another network and an unknown signer.
    let mut n = notice(OUTSIDER, 1, 1, T0, "x");
    n.network = other_network;
    h.refuse(BRAVO, &seal_notice(OUTSIDER, &n).0, ErrorCode::WrongNetwork);

    // 5 before 6: an unknown signer whose signature is also bad.
    let n = notice(OUTSIDER, 1, 1, T0, "x");
    let body = codec::encode(&n);
    let bad = crypto::sign(&key(BRAVO), Context::Notice, &body);
    h.refuse(BRAVO, &reframe(body, bad), ErrorCode::UnknownSigner);

    // 6 before 7: a bad signature on a notice with seq 0.
    let mut n = notice(BRAVO, 1, 1, T0, "x");
    n.seq = 0;
    let body = codec::encode(&n);
    let bad = crypto::sign(&key(CHARLIE), Context::Notice, &body);
    h.refuse(BRAVO, &reframe(body, bad), ErrorCode::BadSignature);

    // 7 before 8: seq 0, delivered by the wrong peer.
    h.refuse(CHARLIE, &seal_notice(BRAVO, &n).0, ErrorCode::InvalidField);

    // 8 before 9: delivered by the wrong peer, and not addressed to this node.
    let mut n = notice(BRAVO, 1, 1, T0, "x");
    n.to = vec![Addressee { node: id(CHARLIE), role: Role::Action, link_seq: 1 }];
    h.refuse(CHARLIE, &seal_notice(BRAVO, &n).0, ErrorCode::SignerMismatch);

    // None of it touched bravo's seq 1.
    assert_eq!(h.deliver(BRAVO, &valid), Ok(()));
    h.next.insert(BRAVO, (2, 2));
    h.still_accepts(BRAVO);
    h.still_accepts(CHARLIE);
}

// ---- flooding ---------------------------------------------------------------------------------------

/// A member that keeps sending the same conflicting notice (for instance because it retransmits
/// it, as §6.3 requires, and the refusal means it is never receipted) should not be able to grow
/// this node's log without bound: the evidence is needed once.
#[test]
fn repeated_equivocation_is_logged_at_a_bounded_rate() {
    let mut h = Harness::new();
    let (first_frame, _) = seal_notice(BRAVO, &notice(BRAVO, 1, 1, T0, "First version."));
    h.deliver(BRAVO, &first_frame).expect("accepted");
    h.next.insert(BRAVO, (2, 2));
    let (second_frame, _) = seal_notice(BRAVO, &notice(BRAVO, 1, 1, T0, "Second version."));
    for _ in 0..100 {
        let r = h.deliver(BRAVO, &second_frame).unwrap_err();
        assert_eq!(r.code, ErrorCode::Equivocation);
    }
    let logged = h.records().iter().filter(|r| matches!(r, Record::Equivocation { .. })).count();
    assert_eq!(logged, 1, "the same evidence must be recorded once");
    // Distinct conflicting notices are recorded within the refusal budget of §6.8.
    for i in 0..100 {
        let (frame, _) = seal_notice(BRAVO, &notice(BRAVO, 1, 1, T0, &format!("Version {i}.")));
        assert_eq!(h.deliver(BRAVO, &frame).unwrap_err().code, ErrorCode::Equivocation);
    }
    let logged = h.records().iter().filter(|r| matches!(r, Record::Equivocation { .. })).count();
    assert!(logged <= 16, "{logged} equivocation entries from one peer in one minute");
    h.still_accepts(BRAVO);
}

/// Spec §3: a member's key is canonically encoded. `y = p + 3` decodes to the point `y = 3` in
/// ed25519-dalek, but one key must have one id (issue 11, item 8).
#[test]
fn a_roster_refuses_a_key_encoded_non_canonically() {
    let mut alias = [0xffu8; 32];
    alias[0] = 0xf0;
    alias[31] = 0x7f;
    let mut r = roster();
    r.members[1].key = NodeId(alias);
    let e = r.check().unwrap_err();
    assert!(e.detail.contains("members.key") && e.detail.contains("canonically"), "{e}");
    let mut canonical = [0u8; 32];
    canonical[0] = 3;
    r.members[1].key = NodeId(canonical);
    r.check().expect("the same point, canonically encoded, is a usable key");
}

/// Spec §15.3: a cosignature timestamp beyond 2^63 − 1 is out of range (`invalid_field`),
/// though correctly signed, not a bad signature (issue 11, item 9).
#[test]
fn a_cosignature_timestamp_beyond_c2sp_range_is_an_invalid_field() {
    let r = roster();
    let (alpha, bravo) = (id(0), id(1));
    let origin = hotline_proto::note::origin_of(&r, &alpha).unwrap();
    let checkpoint = hotline_proto::note::Checkpoint { origin, size: 7, root: Hash32([9; 32]) };
    let cosignature = |t: u64| hotline_proto::Cosignature {
        network: r.network_id(),
        signer: bravo,
        log: alpha,
        size: 7,
        root: Hash32([9; 32]),
        timestamp_s: t,
        signature: checkpoint.cosign(&key(1), t),
    };
    cosignature(hotline_proto::note::MAX_TIMESTAMP).verify(&r).expect("the largest timestamp is in range");
    let e = cosignature(1 << 63).verify(&r).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidField, "{e}");
}

/// Spec §7.1/§7.4: what a node signs carries its entry's time. An entry re-sealed (validly
/// signed) a millisecond away from its notice's `created_ms`, or from its receipt's
/// `received_ms`, is an invalid log (issue 11, item 12).
#[test]
fn an_own_message_carries_the_time_of_its_entry() {
    let mut h = Harness::new();
    h.deliver(BRAVO, &some_valid_frame()).expect("accepted");
    h.flush();
    let draft = Draft {
        precedence: Precedence::Routine,
        to: vec![(id(BRAVO), Role::Action)],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident("An own notice.")),
    };
    let now = h.tick();
    h.node.send_notice(now, draft).expect("sent");
    h.flush();
    h.audit();
    let verify = |log: &[Vec<u8>]| {
        let mut verifier = LogVerifier::new(roster(), id(ALPHA), Check::Full);
        log.iter().try_for_each(|leaf| verifier.push(leaf).map(|_| ()))
    };
    for kind in ["sent", "receipted"] {
        let at =
            h.log.iter().position(|l| decode_leaf(l).record.name() == kind).expect("an entry of the kind");
        let mut log = h.log[..=at].to_vec();
        let mut entry = decode_leaf(&log[at]);
        entry.time_ms += 1;
        log[at] = hotline_proto::wire::seal_entry(&key(ALPHA), &entry);
        let e = verify(&log).expect_err("a message at another time than its entry");
        assert_eq!(e.index, at as u64, "{e}");
        assert!(e.problem.contains(&format!("{kind} entry at")), "{e}");
    }
}

/// Spec §7.4 (issue 11, item 25): a verifier names the field and the entries that are wrong: an
/// altered `node` field says it names no member, and a broken chain names both entries it joins.
#[test]
fn log_errors_name_the_field_and_the_entries() {
    let mut h = Harness::new();
    h.deliver(BRAVO, &some_valid_frame()).expect("accepted");
    h.flush();
    assert!(h.log.len() >= 3, "a log of a few entries");
    let verify = |log: &[Vec<u8>]| {
        let mut verifier = LogVerifier::new(roster(), id(ALPHA), Check::Full);
        log.iter().try_for_each(|leaf| verifier.push(leaf).map(|_| ()))
    };
    let mut log = h.log.clone();
    let mut entry = decode_leaf(&log[1]);
    entry.node = NodeId([7; 32]);
    log[1] = hotline_proto::wire::seal_entry(&key(ALPHA), &entry);
    let e = verify(&log).unwrap_err();
    assert_eq!(e.index, 1);
    assert!(e.problem.contains("`node` field") && e.problem.contains("no member of the roster"), "{e}");
    // Entry 1 re-signed with another time: entry 2 no longer chains to it.
    let mut log = h.log.clone();
    let mut entry = decode_leaf(&log[1]);
    entry.time_ms += 1;
    log[1] = hotline_proto::wire::seal_entry(&key(ALPHA), &entry);
    let e = verify(&log).unwrap_err();
    assert!(e.problem.contains("entry 1 or this one was altered"), "{e}");
}
