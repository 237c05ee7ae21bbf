//! Property tests of the wire format and of verification:
//!
//! 1. every wire type round-trips through the strict codec;
//! 2. a validly sealed frame survives no single-bit flip, truncation or appended byte;
//! 3. the same for a signed log leaf under a full audit;
//! 4. `hotline_proto::wire::open` refuses arbitrary bytes without panicking;
//! 5. `LogVerifier` refuses arbitrary bytes without panicking.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::Config as ProptestConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

use hotline_proto::crypto::{self, Context};
use hotline_proto::testing::fixtures::{self, test_key, NAMES};
use hotline_proto::testing::{codec, decode_trusted};
use hotline_proto::wire::Frame;
use hotline_proto::wire::{seal_entry, SignedEntry};
use hotline_proto::{
    Ack, Body, DeadlineKind, Disposition, ErrorCode, Hash32, Kind, LangText, LogEntry, NodeId, Notice,
    NoticeId, Precedence, Receipt, Record, Role, Sig64, Texts,
};
use hotline_proto::{Addressee, CodedMessage, Heartbeat, MessageRef};
use hotline_proto::{
    Attachment, Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident, Location, Severity,
    SystemClass,
};
use hotline_proto::{Check, LogVerifier};
use hotline_proto::{ClockSkew, DeadlineMissed, LinkDown, SequenceGap};
use hotline_proto::{CodebookEntry, Deadlines, Member, Policy, Roster};

// ---- fixtures -----------------------------------------------------------------------------------

/// Member `i` (0 = alpha, 1 = bravo, 2 = charlie; 3 and up are outsiders) signs with its test key.
fn key(i: usize) -> SigningKey {
    test_key(NAMES.get(i).copied().unwrap_or("outsider"))
}

fn id(i: usize) -> NodeId {
    crypto::node_id(&key(i))
}

fn lt(lang: &str, text: &str) -> LangText {
    LangText { lang: lang.into(), text: text.into() }
}

/// The default policy plus one codebook entry, so that codebook notices can be valid.
fn policy() -> Policy {
    Policy {
        codebook: vec![CodebookEntry {
            number: 7,
            word: "LANTERN".into(),
            meaning: vec![lt("en", "Media attributed to your officials is fabricated.")],
        }],
        ..Policy::default()
    }
}

fn roster() -> Roster {
    let roster = Roster { network: "prop-test".into(), ..fixtures::roster(3, policy()) };
    roster.check().expect("the test roster is valid");
    roster
}

fn config(cases: u32) -> ProptestConfig {
    // No regression files: this suite must not write next to the sources.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let bytes = codec::encode(value);
    let back: T = codec::decode("value", &bytes, usize::MAX)
        .map_err(|e| TestCaseError::fail(format!("decode failed: {e}")))?;
    prop_assert_eq!(&back, value);
    prop_assert_eq!(codec::encode(&back), bytes);
    Ok(())
}

// ---- strategies: arbitrary (not necessarily valid) values ---------------------------------------

/// A short string from a safe alphabet (with a few multi-byte characters).
fn short_string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._-]{1,20}|[a-z éü船号]{1,20}"
}

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn node_id() -> impl Strategy<Value = NodeId> {
    bytes32().prop_map(NodeId)
}

fn hash32() -> impl Strategy<Value = Hash32> {
    bytes32().prop_map(Hash32)
}

fn sig64() -> impl Strategy<Value = Sig64> {
    (bytes32(), bytes32()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Sig64(s)
    })
}

fn notice_id() -> impl Strategy<Value = NoticeId> {
    (node_id(), any::<u64>()).prop_map(|(sender, seq)| NoticeId { sender, seq })
}

fn precedence() -> impl Strategy<Value = Precedence> {
    select(Precedence::ALL.to_vec())
}

fn kind() -> impl Strategy<Value = Kind> {
    select(vec![Kind::Notice, Kind::Receipt, Kind::Ack])
}

fn role() -> impl Strategy<Value = Role> {
    select(vec![Role::Action, Role::Info])
}

fn disposition() -> impl Strategy<Value = Disposition> {
    select(vec![
        Disposition::Understood,
        Disposition::Investigating,
        Disposition::ActionTaken,
        Disposition::Disputed,
    ])
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    select(ErrorCode::ALL.to_vec())
}

fn completeness() -> impl Strategy<Value = Completeness> {
    select(Completeness::ALL.to_vec())
}

fn domain() -> impl Strategy<Value = Domain> {
    select(Domain::ALL.to_vec())
}

fn system_class() -> impl Strategy<Value = SystemClass> {
    select(SystemClass::ALL.to_vec())
}

fn severity() -> impl Strategy<Value = Severity> {
    select(Severity::ALL.to_vec())
}

fn human_role() -> impl Strategy<Value = HumanRole> {
    select(HumanRole::ALL.to_vec())
}

fn texts() -> impl Strategy<Value = Texts> {
    prop::collection::vec(
        (short_string(), short_string()).prop_map(|(lang, text)| LangText { lang, text }),
        0..3,
    )
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (hash32(), any::<u64>(), short_string(), short_string()).prop_map(
        |(sha256, size, media_type, description)| Attachment { sha256, size, media_type, description },
    )
}

fn location() -> impl Strategy<Value = Location> {
    (short_string(), any::<Option<i16>>(), any::<Option<i16>>())
        .prop_map(|(region, lat_decideg, lon_decideg)| Location { region, lat_decideg, lon_decideg })
}

fn incident() -> impl Strategy<Value = Incident> {
    let head = (
        completeness(),
        domain(),
        system_class(),
        prop::collection::vec(select(FailureMode::ALL.to_vec()), 0..4),
        severity(),
        any::<u64>(),
        prop::option::of(location()),
    );
    let tail = (
        texts(),
        texts(),
        (human_role(), short_string(), texts()).prop_map(|(role, final_decision_by, statement)| {
            HumanControl { role, final_decision_by, statement }
        }),
        texts(),
        texts(),
        short_string(),
        prop::collection::vec(attachment(), 0..3),
    );
    (head, tail).prop_map(
        |(
            (completeness, domain, system_class, failure_modes, severity, occurred_ms, location),
            (
                summary,
                suspected_cause,
                human_control,
                actions_taken,
                requested_response,
                contact,
                attachments,
            ),
        )| Incident {
            completeness,
            domain,
            system_class,
            failure_modes,
            severity,
            occurred_ms,
            location,
            summary,
            suspected_cause,
            human_control,
            actions_taken,
            requested_response,
            contact,
            attachments,
        },
    )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        incident().prop_map(Body::Incident),
        texts().prop_map(Body::Reply),
        texts().prop_map(Body::Clarification),
        (any::<u32>(), short_string(), texts(), prop::collection::vec(attachment(), 0..2)).prop_map(
            |(number, word, note, attachments)| Body::Codebook(CodedMessage {
                number,
                word,
                note,
                attachments
            })
        ),
    ]
}

fn addressee() -> impl Strategy<Value = Addressee> {
    (node_id(), role(), any::<u64>()).prop_map(|(node, role, link_seq)| Addressee { node, role, link_seq })
}

fn notice() -> impl Strategy<Value = Notice> {
    (
        hash32(),
        node_id(),
        any::<u64>(),
        any::<u64>(),
        precedence(),
        prop::collection::vec(addressee(), 0..4),
        prop::option::of(notice_id()),
        prop::option::of(notice_id()),
        body(),
    )
        .prop_map(|(network, sender, seq, created_ms, precedence, to, thread, in_reply_to, body)| {
            Notice { network, sender, seq, created_ms, precedence, to, thread, in_reply_to, body }
        })
}

fn receipt() -> impl Strategy<Value = Receipt> {
    (hash32(), node_id(), kind(), hash32(), notice_id(), any::<u64>()).prop_map(
        |(network, signer, kind, hash, notice, received_ms)| Receipt {
            network,
            signer,
            of: MessageRef { kind, hash },
            notice,
            received_ms,
        },
    )
}

fn ack() -> impl Strategy<Value = Ack> {
    (hash32(), node_id(), notice_id(), hash32(), any::<u64>(), short_string(), disposition(), texts())
        .prop_map(|(network, signer, notice, notice_hash, acked_ms, operator, disposition, note)| Ack {
            network,
            signer,
            notice,
            notice_hash,
            acked_ms,
            operator,
            disposition,
            note,
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    (any::<u8>(), kind(), prop::collection::vec(any::<u8>(), 0..64), sig64())
        .prop_map(|(version, kind, body, signature)| Frame { version, kind, body, signature })
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        short_string().prop_map(|software| Record::Started { software }),
        small_bytes().prop_map(|frame| Record::Sent { frame }),
        small_bytes().prop_map(|frame| Record::Accepted { frame }),
        small_bytes().prop_map(|frame| Record::Receipted { frame }),
        (notice_id(), node_id(), select(vec![DeadlineKind::Receipt, DeadlineKind::Ack]), any::<u64>())
            .prop_map(|(notice, party, deadline, deadline_ms)| Record::DeadlineMissed(DeadlineMissed {
                notice,
                party,
                deadline,
                deadline_ms
            })),
        (node_id(), any::<u64>())
            .prop_map(|(peer, last_heard_ms)| Record::LinkDown(LinkDown { peer, last_heard_ms })),
        node_id().prop_map(|peer| Record::LinkUp { peer }),
        (node_id(), any::<u64>(), any::<u64>())
            .prop_map(|(peer, first, last)| Record::SequenceGap(SequenceGap { peer, first, last })),
        (node_id(), any::<i64>())
            .prop_map(|(peer, offset_ms)| Record::ClockSkew(ClockSkew { peer, offset_ms })),
        (node_id(), error_code(), hash32(), any::<u32>(), any::<u32>()).prop_map(
            |(peer, code, frame_hash, frame_len, suppressed)| Record::Rejected {
                peer,
                code,
                frame_hash,
                frame_len,
                suppressed
            }
        ),
        (small_bytes(), hash32())
            .prop_map(|(frame, conflicts_with)| Record::Equivocation { frame, conflicts_with }),
    ]
}

fn log_entry() -> impl Strategy<Value = LogEntry> {
    (hash32(), node_id(), any::<u64>(), hash32(), any::<u64>(), record()).prop_map(
        |(network, node, index, prev, time_ms, record)| LogEntry {
            network,
            node,
            index,
            prev,
            time_ms,
            record,
        },
    )
}

fn deadlines() -> impl Strategy<Value = Deadlines> {
    (any::<u64>(), any::<u64>()).prop_map(|(receipt_ms, ack_ms)| Deadlines { receipt_ms, ack_ms })
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        (deadlines(), deadlines(), deadlines(), deadlines()),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        prop::collection::vec(short_string(), 0..3),
        prop::collection::vec(
            (any::<u32>(), short_string(), texts()).prop_map(|(number, word, meaning)| CodebookEntry {
                number,
                word,
                meaning,
            }),
            0..3,
        ),
    )
        .prop_map(
            |(
                (flash, immediate, priority, routine),
                (
                    heartbeat_interval_ms,
                    link_silence_ms,
                    link_test_interval_ms,
                    checkpoint_interval_ms,
                    max_clock_skew_ms,
                    retransmit_initial_ms,
                    retransmit_max_ms,
                ),
                required_languages,
                codebook,
            )| Policy {
                flash,
                immediate,
                priority,
                routine,
                heartbeat_interval_ms,
                link_silence_ms,
                link_test_interval_ms,
                checkpoint_interval_ms,
                max_clock_skew_ms,
                retransmit_initial_ms,
                retransmit_max_ms,
                required_languages,
                codebook,
            },
        )
}

fn arb_roster() -> impl Strategy<Value = Roster> {
    let member = (
        short_string(),
        node_id(),
        prop::collection::vec(short_string(), 0..3),
        prop::collection::vec(short_string(), 0..3),
    )
        .prop_map(|(name, key, addresses, languages)| Member { name, key, addresses, languages });
    (any::<u8>(), short_string(), prop::collection::vec(member, 0..4), arb_policy())
        .prop_map(|(format, network, members, policy)| Roster { format, network, members, policy })
}

// ---- strategies: valid, sealed messages ----------------------------------------------------------

/// Text that is not blank and has no control characters.
fn line() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9 .,éü船]{0,19}"
}

/// Texts that satisfy the policy: English plus up to two other languages, in any order.
fn valid_texts() -> impl Strategy<Value = Texts> {
    (subsequence(vec!["zh", "fr", "de-CH"], 0..=2), prop::collection::vec(line(), 3))
        .prop_map(|(others, lines)| {
            std::iter::once("en")
                .chain(others)
                .zip(lines)
                .map(|(lang, text)| LangText { lang: lang.into(), text })
                .collect::<Texts>()
        })
        .prop_shuffle()
}

fn optional_texts() -> impl Strategy<Value = Texts> {
    prop_oneof![Just(Vec::new()), valid_texts()]
}

fn valid_incident(completeness: Completeness) -> impl Strategy<Value = Incident> {
    let head = (
        domain(),
        system_class(),
        subsequence(FailureMode::ALL.to_vec(), 1..=4),
        severity(),
        any::<u64>(),
        prop::option::of(
            (line(), prop::option::of(-900i16..=900), prop::option::of(-1800i16..=1800))
                .prop_map(|(region, lat_decideg, lon_decideg)| Location { region, lat_decideg, lon_decideg }),
        ),
    );
    let tail = (
        valid_texts(),
        optional_texts(),
        (human_role(), line(), valid_texts()).prop_map(|(role, final_decision_by, statement)| HumanControl {
            role,
            final_decision_by,
            statement,
        }),
        optional_texts(),
        optional_texts(),
        line(),
        prop::collection::vec(
            (hash32(), any::<u64>(), line(), line()).prop_map(|(sha256, size, media_type, description)| {
                Attachment { sha256, size, media_type, description }
            }),
            0..2,
        ),
    );
    (head, tail).prop_map(
        move |(
            (domain, system_class, failure_modes, severity, occurred_ms, location),
            (
                summary,
                suspected_cause,
                human_control,
                actions_taken,
                requested_response,
                contact,
                attachments,
            ),
        )| Incident {
            completeness,
            domain,
            system_class,
            failure_modes,
            severity,
            occurred_ms,
            location,
            summary,
            suspected_cause,
            human_control,
            actions_taken,
            requested_response,
            contact,
            attachments,
        },
    )
}

/// A reference to another member's notice (never breaks the "later notice of the sender" rule).
fn foreign_ref(sender: usize) -> impl Strategy<Value = NoticeId> {
    (1..3usize, 1..1_000_000u64).prop_map(move |(d, seq)| NoticeId { sender: id((sender + d) % 3), seq })
}

/// Body, thread and in-reply-to of a valid notice by `sender`.
fn valid_content(sender: usize) -> impl Strategy<Value = (Body, Option<NoticeId>, Option<NoticeId>)> {
    prop_oneof![
        valid_incident(Completeness::Initial).prop_map(|i| (Body::Incident(i), None, None)),
        (
            prop_oneof![Just(Completeness::Update), Just(Completeness::Final)],
            foreign_ref(sender),
            prop::option::of(foreign_ref(sender)),
        )
            .prop_flat_map(|(c, thread, reply)| {
                valid_incident(c).prop_map(move |i| (Body::Incident(i), Some(thread), reply))
            }),
        (valid_texts(), foreign_ref(sender), foreign_ref(sender)).prop_map(|(t, thread, reply)| (
            Body::Reply(t),
            Some(thread),
            Some(reply)
        )),
        (valid_texts(), foreign_ref(sender), foreign_ref(sender)).prop_map(|(t, thread, reply)| (
            Body::Clarification(t),
            Some(thread),
            Some(reply)
        )),
        (optional_texts(), prop::option::of(foreign_ref(sender))).prop_map(|(note, thread)| {
            let coded = CodedMessage { number: 7, word: "LANTERN".into(), note, attachments: vec![] };
            (Body::Codebook(coded), thread, None)
        }),
    ]
}

fn valid_notice(sender: usize) -> impl Strategy<Value = Notice> {
    let others = [(sender + 1) % 3, (sender + 2) % 3];
    (
        1..1_000_000u64,
        any::<u64>(),
        precedence(),
        (1..1_000_000u64, prop::option::of((role(), 1..1_000_000u64))),
        valid_content(sender),
    )
        .prop_map(
            move |(seq, created_ms, precedence, (link_seq, second), (body, thread, in_reply_to))| {
                let mut to = vec![Addressee { node: id(others[0]), role: Role::Action, link_seq }];
                if let Some((role, link_seq)) = second {
                    to.push(Addressee { node: id(others[1]), role, link_seq });
                }
                Notice {
                    network: roster().network_id(),
                    sender: id(sender),
                    seq,
                    created_ms,
                    precedence,
                    to,
                    thread,
                    in_reply_to,
                    body,
                }
            },
        )
}

/// A receipt by `signer`: of another's notice (it is an addressee), or of an acknowledgement of
/// its own notice (it is the sender), spec §5.5.
fn valid_receipt(signer: usize) -> impl Strategy<Value = Receipt> {
    let own = (1..1_000_000u64).prop_map(move |seq| NoticeId { sender: id(signer), seq });
    let of_notice = (Just(Kind::Notice), foreign_ref(signer));
    let of_ack = (Just(Kind::Ack), own);
    (prop_oneof![of_notice, of_ack], hash32(), any::<u64>()).prop_map(
        move |((kind, notice), hash, received_ms)| Receipt {
            network: roster().network_id(),
            signer: id(signer),
            of: MessageRef { kind, hash },
            notice,
            received_ms,
        },
    )
}

fn valid_ack(signer: usize) -> impl Strategy<Value = Ack> {
    (foreign_ref(signer), hash32(), any::<u64>(), "[a-z][a-z0-9 -]{0,19}", disposition(), optional_texts())
        .prop_map(move |(notice, notice_hash, acked_ms, operator, disposition, note)| Ack {
            network: roster().network_id(),
            signer: id(signer),
            notice,
            notice_hash,
            acked_ms,
            operator,
            disposition,
            note,
        })
}

fn valid_heartbeat(signer: usize, to: usize) -> impl Strategy<Value = Heartbeat> {
    (any::<u64>(), hash32(), proptest::option::of((any::<u64>(), hash32()))).prop_map(
        move |(time_ms, echo, cosigned)| Heartbeat {
            network: roster().network_id(),
            signer: id(signer),
            to: id(to),
            time_ms,
            echo,
            // A checkpoint of the addressee's log, as the addressee signed it.
            cosigned: cosigned.map(|(size, root)| {
                let origin = hotline_proto::note::origin_of(&roster(), &id(to)).expect("a member");
                let signature = hotline_proto::note::Checkpoint { origin, size, root }.sign(&key(to));
                hotline_proto::SignedCheckpoint { size, root, signature }
            }),
        },
    )
}

/// A link test of alpha's with bravo: alpha's heartbeat and bravo's echo of it.
fn valid_link_test() -> impl Strategy<Value = Record> {
    (valid_heartbeat(0, 1), valid_heartbeat(1, 0)).prop_map(|(ours, theirs)| {
        let (ours, hash) = hotline_proto::wire::seal(&key(0), Kind::Heartbeat, &ours);
        let theirs = Heartbeat { echo: hash, ..theirs };
        Record::LinkTest {
            peer: id(1),
            ours,
            theirs: hotline_proto::wire::seal(&key(1), Kind::Heartbeat, &theirs).0,
        }
    })
}

/// A frame sealed by member `signer` that `hotline_proto::wire::open` accepts.
fn valid_frame(signer: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => valid_notice(signer).prop_map(move |n| hotline_proto::wire::seal(&key(signer), Kind::Notice, &n).0),
        1 => valid_receipt(signer).prop_map(move |r| hotline_proto::wire::seal(&key(signer), Kind::Receipt, &r).0),
        1 => valid_ack(signer).prop_map(move |a| hotline_proto::wire::seal(&key(signer), Kind::Ack, &a).0),
    ]
}

/// A first log entry of alpha's log, signed by alpha, that a full audit accepts.
fn valid_leaf() -> impl Strategy<Value = Vec<u8>> {
    // What the node signs itself carries the time of its entry (spec §7.1): those records come
    // with that time, the others take any.
    let own = prop_oneof![
        valid_notice(0).prop_map(|n| (n.created_ms, hotline_proto::wire::seal(&key(0), Kind::Notice, &n).0)),
        valid_ack(0).prop_map(|a| (a.acked_ms, hotline_proto::wire::seal(&key(0), Kind::Ack, &a).0)),
    ]
    .prop_map(|(t, frame)| (Some(t), Record::Sent { frame }));
    let receipted = valid_receipt(0).prop_map(|r| {
        (
            Some(r.received_ms),
            Record::Receipted { frame: hotline_proto::wire::seal(&key(0), Kind::Receipt, &r).0 },
        )
    });
    let record = prop_oneof![
        short_string().prop_map(|software| Record::Started { software }),
        valid_frame(1).prop_map(|frame| Record::Accepted { frame }),
        (valid_notice(2), hash32()).prop_map(|(n, conflicts_with)| Record::Equivocation {
            frame: hotline_proto::wire::seal(&key(2), Kind::Notice, &n).0,
            conflicts_with,
        }),
        (error_code(), hash32(), any::<u32>(), any::<u32>()).prop_map(
            |(code, frame_hash, frame_len, suppressed)| {
                Record::Rejected { peer: id(1), code, frame_hash, frame_len, suppressed }
            }
        ),
        (1..u64::MAX, any::<u64>()).prop_map(|(first, len)| Record::SequenceGap(SequenceGap {
            peer: id(2),
            first,
            last: first.saturating_add(len % 1000),
        })),
        any::<i64>().prop_map(|offset_ms| Record::ClockSkew(ClockSkew { peer: id(1), offset_ms })),
        valid_link_test(),
        (any::<u64>(), any::<u64>())
            .prop_map(|(expected_ms, observed_ms)| Record::ClockStep { expected_ms, observed_ms }),
    ];
    let any_time = record.prop_map(|record| (None, record));
    (any::<u64>(), prop_oneof![own, receipted, any_time]).prop_map(|(time_ms, (own_time, record))| {
        let entry = LogEntry {
            network: roster().network_id(),
            node: id(0),
            index: 0,
            prev: Hash32([0; 32]),
            time_ms: own_time.unwrap_or(time_ms),
            record,
        };
        seal_entry(&key(0), &entry)
    })
}

fn open(bytes: &[u8]) -> Result<hotline_proto::wire::Opened, hotline_proto::Rejection> {
    let roster = roster();
    let network = roster.network_id();
    hotline_proto::wire::open(bytes, &roster, &network)
}

fn audit(leaf: &[u8], check: Check) -> Result<(), hotline_proto::LogError> {
    LogVerifier::new(roster(), id(0), check).push(leaf).map(|_| ())
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

// ---- 1. round trips ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn notice_round_trips(n in notice()) {
        round_trip(&n)?;
    }

    #[test]
    fn receipt_round_trips(r in receipt()) {
        round_trip(&r)?;
    }

    #[test]
    fn ack_round_trips(a in ack()) {
        round_trip(&a)?;
    }

    #[test]
    fn frame_round_trips(f in frame()) {
        round_trip(&f)?;
    }

    #[test]
    fn log_entry_round_trips(e in log_entry()) {
        round_trip(&e)?;
        let signed = SignedEntry { entry: codec::encode(&e), signature: Sig64([7; 64]) };
        round_trip(&signed)?;
    }

    #[test]
    fn roster_round_trips(r in arb_roster()) {
        round_trip(&r)?;
    }

    #[test]
    fn valid_notice_round_trips_and_passes_its_own_checks(n in valid_notice(1)) {
        round_trip(&n)?;
        prop_assert_eq!(n.check(&roster()), Ok(()));
    }
}

// ---- 2. a sealed frame survives no damage --------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn sealed_frame_opens(frame in valid_frame(1)) {
        let opened = open(&frame);
        prop_assert!(opened.is_ok(), "a valid frame was refused: {:?}", opened.err());
        let opened = opened.unwrap();
        prop_assert_eq!(opened.message.signer(), id(1));
        prop_assert_eq!(opened.frame, frame);
    }

    #[test]
    fn sealed_frame_bit_flip_is_refused(frame in valid_frame(1), bit in any::<Index>()) {
        let damaged = flip(&frame, bit.index(frame.len() * 8));
        prop_assert!(open(&damaged).is_err());
    }

    #[test]
    fn sealed_frame_truncation_is_refused(frame in valid_frame(1), cut in any::<Index>()) {
        let len = cut.index(frame.len());
        prop_assert!(open(&frame[..len]).is_err());
    }

    #[test]
    fn sealed_frame_appended_bytes_are_refused(
        frame in valid_frame(1),
        extra in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let mut longer = frame.clone();
        longer.extend_from_slice(&extra);
        let rejection = open(&longer).unwrap_err();
        prop_assert_eq!(rejection.code, ErrorCode::Malformed);
    }

    #[test]
    fn sealed_frame_overwritten_bytes_are_refused(
        frame in valid_frame(1),
        writes in prop::collection::vec((any::<Index>(), any::<u8>()), 1..8),
    ) {
        let mut damaged = frame.clone();
        for (at, byte) in writes {
            let at = at.index(damaged.len());
            damaged[at] = byte;
        }
        if damaged != frame {
            prop_assert!(open(&damaged).is_err());
        }
    }
}

/// Every single-bit flip and every truncation of one frame of each kind, exhaustively.
#[test]
fn every_bit_flip_and_truncation_of_sealed_frames_is_refused() {
    let network = roster().network_id();
    let notice = Notice {
        network,
        sender: id(1),
        seq: 3,
        created_ms: 1_800_000_000_000,
        precedence: Precedence::Flash,
        to: vec![Addressee { node: id(0), role: Role::Action, link_seq: 2 }],
        thread: None,
        in_reply_to: None,
        body: Body::Codebook(CodedMessage {
            number: 7,
            word: "LANTERN".into(),
            note: vec![lt("en", "Deny it.")],
            attachments: vec![],
        }),
    };
    let receipt = Receipt {
        network,
        signer: id(1),
        of: MessageRef { kind: Kind::Notice, hash: Hash32([9; 32]) },
        notice: NoticeId { sender: id(0), seq: 1 },
        received_ms: 1_800_000_000_000,
    };
    let ack = Ack {
        network,
        signer: id(1),
        notice: NoticeId { sender: id(0), seq: 1 },
        notice_hash: Hash32([9; 32]),
        acked_ms: 1_800_000_000_000,
        operator: "watch officer".into(),
        disposition: Disposition::Understood,
        note: vec![],
    };
    let frames = [
        hotline_proto::wire::seal(&key(1), Kind::Notice, &notice).0,
        hotline_proto::wire::seal(&key(1), Kind::Receipt, &receipt).0,
        hotline_proto::wire::seal(&key(1), Kind::Ack, &ack).0,
    ];
    for frame in &frames {
        assert!(open(frame).is_ok());
        for bit in 0..frame.len() * 8 {
            assert!(open(&flip(frame, bit)).is_err(), "flip of bit {bit} was accepted");
        }
        for len in 0..frame.len() {
            assert!(open(&frame[..len]).is_err(), "truncation to {len} bytes was accepted");
        }
        for byte in [0u8, 1, 0x80, 0xff] {
            let mut longer = frame.clone();
            longer.push(byte);
            assert_eq!(open(&longer).unwrap_err().code, ErrorCode::Malformed);
        }
    }
}

// ---- 3. a signed log leaf survives no damage under a full audit ----------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn signed_leaf_verifies(leaf in valid_leaf()) {
        let full = audit(&leaf, Check::Full);
        prop_assert!(full.is_ok(), "a valid leaf was refused: {:?}", full.err());
        prop_assert!(audit(&leaf, Check::Chain).is_ok());
    }

    #[test]
    fn signed_leaf_bit_flip_is_refused(leaf in valid_leaf(), bit in any::<Index>()) {
        let damaged = flip(&leaf, bit.index(leaf.len() * 8));
        prop_assert!(audit(&damaged, Check::Full).is_err());
    }

    #[test]
    fn signed_leaf_truncation_is_refused(leaf in valid_leaf(), cut in any::<Index>()) {
        let len = cut.index(leaf.len());
        prop_assert!(audit(&leaf[..len], Check::Full).is_err());
    }

    #[test]
    fn signed_leaf_appended_bytes_are_refused(
        leaf in valid_leaf(),
        extra in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let mut longer = leaf.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(audit(&longer, Check::Full).is_err());
    }
}

/// Every single-bit flip and every truncation of one leaf holding a frame, exhaustively.
#[test]
fn every_bit_flip_and_truncation_of_a_signed_leaf_is_refused() {
    let network = roster().network_id();
    let receipt = Receipt {
        network,
        signer: id(0),
        of: MessageRef { kind: Kind::Notice, hash: Hash32([5; 32]) },
        notice: NoticeId { sender: id(1), seq: 4 },
        received_ms: 1_800_000_000_000,
    };
    let frame = hotline_proto::wire::seal(&key(0), Kind::Receipt, &receipt).0;
    let entry = LogEntry {
        network,
        node: id(0),
        index: 0,
        prev: Hash32([0; 32]),
        time_ms: 1_800_000_000_000,
        record: Record::Receipted { frame },
    };
    let leaf = seal_entry(&key(0), &entry);
    assert!(audit(&leaf, Check::Full).is_ok());
    for bit in 0..leaf.len() * 8 {
        assert!(audit(&flip(&leaf, bit), Check::Full).is_err(), "flip of bit {bit} was accepted");
    }
    for len in 0..leaf.len() {
        assert!(audit(&leaf[..len], Check::Full).is_err(), "truncation to {len} bytes was accepted");
    }
    let mut longer = leaf.clone();
    longer.push(0);
    assert!(audit(&longer, Check::Full).is_err());
}

// ---- 4. and 5. arbitrary bytes -------------------------------------------------------------------

/// Arbitrary bytes, and arbitrary bytes behind a plausible frame prefix (version 1, a valid kind)
/// so that decoding gets past the first byte.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(any::<u8>(), 0..2000);
    let prefixed = (0u8..3, prop::collection::vec(any::<u8>(), 0..2000)).prop_map(|(kind, rest)| {
        let mut bytes = vec![hotline_proto::wire::VERSION, kind];
        bytes.extend(rest);
        bytes
    });
    prop_oneof![raw, prefixed]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn open_refuses_arbitrary_bytes(bytes in junk()) {
        prop_assert!(open(&bytes).is_err());
    }

    /// A well-formed frame around an arbitrary body: gets to the body decoder.
    #[test]
    fn open_refuses_arbitrary_bodies(kind in kind(), body in prop::collection::vec(any::<u8>(), 0..600), signature in sig64()) {
        let bytes = codec::encode(&Frame { version: hotline_proto::wire::VERSION, kind, body, signature });
        prop_assert!(open(&bytes).is_err());
        // Without a signature check, decoding must still never panic.
        let _ = decode_trusted(&bytes);
    }

    #[test]
    fn log_verifier_refuses_arbitrary_bytes(bytes in junk()) {
        prop_assert!(audit(&bytes, Check::Full).is_err());
        prop_assert!(audit(&bytes, Check::Chain).is_err());
    }

    /// A well-formed signed entry around arbitrary entry bytes: gets to the entry decoder.
    #[test]
    fn log_verifier_refuses_arbitrary_entries(entry in prop::collection::vec(any::<u8>(), 0..600), signature in sig64()) {
        let leaf = codec::encode(&SignedEntry { entry, signature });
        prop_assert!(audit(&leaf, Check::Full).is_err());
        prop_assert!(audit(&leaf, Check::Chain).is_err());
    }

    /// A correctly chained, correctly signed entry whose embedded frame is junk: gets to the frame
    /// decoder under both checks.
    #[test]
    fn log_verifier_refuses_junk_embedded_frames(frame in junk(), which in 0u8..4, time_ms in any::<u64>()) {
        let record = match which {
            0 => Record::Sent { frame },
            1 => Record::Accepted { frame },
            2 => Record::Receipted { frame },
            _ => Record::Equivocation { frame, conflicts_with: Hash32([1; 32]) },
        };
        let entry = LogEntry { network: roster().network_id(), node: id(0), index: 0, prev: Hash32([0; 32]), time_ms, record };
        let leaf = seal_entry(&key(0), &entry);
        prop_assert!(audit(&leaf, Check::Full).is_err());
        prop_assert!(audit(&leaf, Check::Chain).is_err());
    }
}

/// The entry signature really is checked under `Check::Full` (and only there): a leaf whose
/// signature is by another key passes the chain check but not the audit.
#[test]
fn full_check_verifies_the_entry_signature() {
    let entry = LogEntry {
        network: roster().network_id(),
        node: id(0),
        index: 0,
        prev: Hash32([0; 32]),
        time_ms: 1,
        record: Record::Started { software: "x".into() },
    };
    let forged = seal_entry(&key(1), &entry);
    assert!(audit(&forged, Check::Chain).is_ok());
    assert!(audit(&forged, Check::Full).is_err());
    let bytes = codec::encode(&entry);
    let signature = crypto::sign(&key(0), Context::LogEntry, &bytes);
    let genuine = codec::encode(&SignedEntry { entry: bytes, signature });
    assert_eq!(genuine, seal_entry(&key(0), &entry));
    assert!(audit(&genuine, Check::Full).is_ok());
}

// ---- Merkle proofs (spec §15.1) ------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// For any tree size, any leaf and any earlier size: the proofs verify, and any change to a
    /// proof hash, the leaf, or the roots makes them fail.
    #[test]
    fn merkle_proofs_verify_and_bind(size in 1u64..3000, a in any::<Index>(), b in any::<Index>(), flip in any::<Index>()) {
        use hotline_proto::merkle::{verify_consistency, verify_inclusion, MerkleTree, CompactTree};
        let leaves: Vec<hotline_proto::Hash32> = (0..size).map(|i| crypto::leaf_hash(&i.to_le_bytes())).collect();
        let mut tree = MerkleTree::new();
        let mut compact = CompactTree::new();
        for l in &leaves {
            tree.push(*l);
            compact.push(*l);
        }
        let root = tree.root_at(size).unwrap();
        prop_assert_eq!(compact.root(), root);
        let index = a.index(size as usize) as u64;
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &proof, &root));
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = flip.index(bad.len());
            bad[at].0[0] ^= 1;
            prop_assert!(!verify_inclusion(&leaves[index as usize], index, size, &bad, &root));
        }
        let old = b.index(size as usize) as u64 + 1; // 1..=size
        let old_root = tree.root_at(old).unwrap();
        let proof = tree.consistency_proof(old, size).unwrap();
        prop_assert!(verify_consistency(old, size, &old_root, &root, &proof));
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = flip.index(bad.len());
            bad[at].0[31] ^= 0x80;
            prop_assert!(!verify_consistency(old, size, &old_root, &root, &bad));
            let mut other = old_root;
            other.0[5] ^= 1;
            prop_assert!(!verify_consistency(old, size, &other, &root, &proof));
        }
    }
}
