//! Test vectors (spec §10): fixed keys → exact bytes, hashes and signatures of the roster, each
//! message kind and each log record kind.
//!
//! `vectors_match_spec` regenerates the vectors and compares them with `spec/vectors/v1.json`;
//! run with `HOTLINE_UPDATE_VECTORS=1` to rewrite the file after a deliberate change (which is a
//! protocol change: the spec must change in the same commit). `vectors_verify_independently`
//! checks the file with plain SHA-256 and Ed25519 only, as an outside implementer would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use hotline_proto::crypto::{leaf_hash, node_id, sha256};
use hotline_proto::hex;
use hotline_proto::merkle::MerkleTree;
use hotline_proto::note::{note, origin, Checkpoint, NoteSignature};
use hotline_proto::testing::fixtures::{en_zh as texts, test_key as key, vectors_roster as roster};
use hotline_proto::wire::seal;
use hotline_proto::wire::seal_entry;
use hotline_proto::{Ack, Body, Disposition, ErrorCode, Hash32, Notice, NoticeId, Precedence, Receipt, Role};
use hotline_proto::{Addressee, CheckpointOffer, Cosignature, Heartbeat, Kind, MessageRef, SignedCheckpoint};
use hotline_proto::{Check, DeadlineKind, LogEntry, LogVerifier, Record};
use hotline_proto::{ClockSkew, DeadlineMissed, LinkDown, SequenceGap};
use hotline_proto::{
    Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident, Location, Severity, SystemClass,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/v1.json");
const T0: u64 = 1_795_860_120_000;

fn incident() -> Incident {
    Incident {
        completeness: Completeness::Initial,
        domain: Domain::Maritime,
        system_class: SystemClass::DecisionSupport,
        failure_modes: vec![FailureMode::Misidentification],
        severity: Severity::High,
        occurred_ms: T0 - 600_000,
        location: Some(Location {
            region: "East China Sea".into(),
            lat_decideg: Some(291),
            lon_decideg: Some(1244),
        }),
        summary: texts("Civilian fishing vessel misidentified as hostile.", "民用渔船被误识别为敌方船只。"),
        suspected_cause: texts("Training-data gap.", "训练数据缺口。"),
        human_control: HumanControl {
            role: HumanRole::InTheLoop,
            final_decision_by: "commanding officer".into(),
            statement: texts("Engagement withheld by a human.", "人类决定不予交战。"),
        },
        actions_taken: vec![],
        requested_response: texts("Confirm the vessel's identity.", "请确认该船只身份。"),
        contact: "alpha liaison desk".into(),
        attachments: vec![],
    }
}

struct Built {
    value: Value,
    leaves: Vec<Vec<u8>>,
}

fn message_vector(name: &str, kind: Kind, frame: &[u8], hash: Hash32, value: Value) -> Value {
    let decoded: hotline_proto::wire::Frame =
        hotline_proto::testing::codec::decode("frame", frame, 1 << 20).unwrap();
    json!({
        "name": name,
        "kind": format!("{kind:?}").to_lowercase(),
        "context": String::from_utf8(context(kind).to_vec()).unwrap(),
        "body": hex::encode(&decoded.body),
        "signature": decoded.signature.to_hex(),
        "frame": hex::encode(frame),
        "message_hash": hash.to_hex(),
        "value": value,
    })
}

fn context(kind: Kind) -> &'static [u8] {
    kind.context().label()
}

fn build() -> Built {
    let roster = roster();
    let network = roster.network_id();
    let (alpha, bravo, charlie) = (key("alpha"), key("bravo"), key("charlie"));
    let (a, b, c) = (node_id(&alpha), node_id(&bravo), node_id(&charlie));

    let notice = Notice {
        network,
        sender: a,
        seq: 1,
        created_ms: T0,
        precedence: Precedence::Flash,
        to: vec![
            Addressee { node: b, role: Role::Action, link_seq: 1 },
            Addressee { node: c, role: Role::Info, link_seq: 1 },
        ],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident()),
    };
    let (notice_frame, notice_hash) = seal(&alpha, Kind::Notice, &notice);
    let id = NoticeId { sender: a, seq: 1 };
    let receipt = Receipt {
        network,
        signer: b,
        of: MessageRef { kind: Kind::Notice, hash: notice_hash },
        notice: id,
        received_ms: T0 + 40,
    };
    let (receipt_frame, receipt_hash) = seal(&bravo, Kind::Receipt, &receipt);
    let ack = Ack {
        network,
        signer: b,
        notice: id,
        notice_hash,
        acked_ms: T0 + 240_000,
        operator: "bravo watch officer".into(),
        disposition: Disposition::Investigating,
        note: vec![],
    };
    let (ack_frame, ack_hash) = seal(&bravo, Kind::Ack, &ack);
    let ack_receipt = Receipt {
        network,
        signer: a,
        of: MessageRef { kind: Kind::Ack, hash: ack_hash },
        notice: id,
        received_ms: T0 + 240_050,
    };
    let (ack_receipt_frame, ack_receipt_hash) = seal(&alpha, Kind::Receipt, &ack_receipt);
    let clarification = Notice {
        network,
        sender: b,
        seq: 1,
        created_ms: T0 + 1,
        precedence: Precedence::Flash,
        to: vec![Addressee { node: a, role: Role::Action, link_seq: 1 }],
        thread: Some(id),
        in_reply_to: Some(id),
        body: Body::Clarification(texts("Which vessel class?", "哪一类船只？")),
    };
    let (clarification_frame, clarification_hash) = seal(&bravo, Kind::Notice, &clarification);
    let mut forged = clarification.clone();
    forged.created_ms += 1;
    let (equivocating_frame, _) = seal(&bravo, Kind::Notice, &forged);
    let heartbeat =
        Heartbeat { network, signer: a, to: b, time_ms: T0 + 30_000, echo: Hash32([0; 32]), cosigned: None };
    let (heartbeat_frame, heartbeat_hash) = seal(&alpha, Kind::Heartbeat, &heartbeat);
    // Bravo co-signed alpha's checkpoint of 5 entries: its heartbeats carry it, as alpha signed it.
    let alpha_checkpoint = {
        let root = sha256(b"alpha's log of five entries");
        let origin = hotline_proto::note::origin_of(&roster, &a).expect("alpha is a member");
        let signature = Checkpoint { origin, size: 5, root }.sign(&alpha);
        SignedCheckpoint { size: 5, root, signature }
    };
    let echo = Heartbeat {
        network,
        signer: b,
        to: a,
        time_ms: T0 + 30_250,
        echo: heartbeat_hash,
        cosigned: Some(alpha_checkpoint),
    };
    let (echo_frame, echo_hash) = seal(&bravo, Kind::Heartbeat, &echo);

    let messages = vec![
        message_vector("notice-flash-s1", Kind::Notice, &notice_frame, notice_hash, json!(notice)),
        message_vector("receipt-of-notice", Kind::Receipt, &receipt_frame, receipt_hash, json!(receipt)),
        message_vector("ack", Kind::Ack, &ack_frame, ack_hash, json!(ack)),
        message_vector(
            "receipt-of-ack",
            Kind::Receipt,
            &ack_receipt_frame,
            ack_receipt_hash,
            json!(ack_receipt),
        ),
        message_vector(
            "notice-clarification",
            Kind::Notice,
            &clarification_frame,
            clarification_hash,
            json!(clarification),
        ),
        message_vector("heartbeat", Kind::Heartbeat, &heartbeat_frame, heartbeat_hash, json!(heartbeat)),
        message_vector("heartbeat-echo", Kind::Heartbeat, &echo_frame, echo_hash, json!(echo)),
    ];

    // alpha's log with one entry of every record kind, in a plausible order, each at a time that
    // fits it: what alpha signed carries its entry's time (spec §7.1).
    let records = vec![
        (T0 - 60_000, Record::Started { software: "hotline-proto/vectors".into() }),
        (T0, Record::Sent { frame: notice_frame.clone() }),
        (T0 + 45, Record::Accepted { frame: receipt_frame }),
        (T0 + 60, Record::Accepted { frame: clarification_frame }),
        (
            T0 + 5_000,
            Record::DeadlineMissed(DeadlineMissed {
                notice: id,
                party: c,
                deadline: DeadlineKind::Receipt,
                deadline_ms: T0 + 5_000,
            }),
        ),
        (T0 + 6_000, Record::SequenceGap(SequenceGap { peer: b, first: 2, last: 4 })),
        (T0 + 7_000, Record::ClockSkew(ClockSkew { peer: b, offset_ms: -3_500 })),
        (
            T0 + 8_000,
            Record::Rejected {
                peer: c,
                code: ErrorCode::BadSignature,
                frame_hash: sha256(b"garbage"),
                frame_len: 7,
                suppressed: 0,
            },
        ),
        (T0 + 9_000, Record::Equivocation { frame: equivocating_frame, conflicts_with: clarification_hash }),
        (T0 + 30_300, Record::LinkTest { peer: b, ours: heartbeat_frame, theirs: echo_frame }),
        (T0 + 180_010, Record::LinkDown(LinkDown { peer: c, last_heard_ms: T0 + 10 })),
        (T0 + 200_000, Record::LinkUp { peer: c }),
        (T0 + 240_030, Record::Accepted { frame: ack_frame }),
        (T0 + 240_050, Record::Receipted { frame: ack_receipt_frame }),
        (
            T0 + 712_000 + 3_600_000,
            Record::ClockStep { expected_ms: T0 + 712_000, observed_ms: T0 + 712_000 + 3_600_000 },
        ),
    ];
    // Then a checkpoint of those entries, bravo's cosignature of it, alpha's cosignature of a
    // checkpoint of bravo's, and a conflict: bravo presenting another root for the same size.
    let mut tree = MerkleTree::new();
    let mut prev = Hash32([0; 32]);
    let mut leaves = Vec::new();
    let mut log = Vec::new();
    let size = records.len() as u64;
    let mut records = records;
    let origin_a = origin(&network, "alpha");
    let origin_b = origin(&network, "bravo");
    let mut seal_log = |records: Vec<(u64, Record)>, tree: &mut MerkleTree| {
        for (time_ms, record) in records {
            let i = leaves.len();
            let name = record.name();
            let entry = LogEntry { network, node: a, index: i as u64, prev, time_ms, record };
            let leaf = seal_entry(&alpha, &entry);
            let signed: hotline_proto::wire::SignedEntry =
                hotline_proto::testing::codec::decode("leaf", &leaf, 1 << 20).unwrap();
            prev = leaf_hash(&leaf);
            tree.push(prev);
            log.push(json!({
                "index": i,
                "record": name,
                "entry": hex::encode(&signed.entry),
                "signature": signed.signature.to_hex(),
                "leaf": hex::encode(&leaf),
                "leaf_hash": prev.to_hex(),
            }));
            leaves.push(leaf);
        }
    };
    seal_log(std::mem::take(&mut records), &mut tree);
    let root = tree.root_at(size).unwrap();
    let checkpoint = Checkpoint { origin: origin_a.clone(), size, root };
    let signed = SignedCheckpoint { size, root, signature: checkpoint.sign(&alpha) };
    // bravo co-signs alpha's checkpoint at its own time; alpha co-signs bravo's a little later,
    // in the second of its `cosigned` entry.
    let cosigned_at = (T0 + 4_320_000) / 1000;
    let cosignature = checkpoint.cosign(&bravo, cosigned_at);
    let theirs = Checkpoint { origin: origin_b.clone(), size: 5, root: sha256(b"bravo's tree") };
    let theirs_signed = SignedCheckpoint { size: 5, root: theirs.root, signature: theirs.sign(&bravo) };
    let forked = Checkpoint { root: sha256(b"bravo's rewritten tree"), ..theirs.clone() };
    let forked_signed = SignedCheckpoint { size: 5, root: forked.root, signature: forked.sign(&bravo) };
    let alpha_cosigned_at = (T0 + 4_330_000) / 1000;
    let alpha_cosignature = theirs.cosign(&alpha, alpha_cosigned_at);
    seal_log(
        vec![
            (T0 + 4_315_000, Record::Checkpoint { checkpoint: signed }),
            (
                T0 + 4_320_500,
                Record::Cosignature { by: b, size, root, timestamp_s: cosigned_at, signature: cosignature },
            ),
            (
                alpha_cosigned_at * 1000 + 250,
                Record::Cosigned {
                    log: b,
                    checkpoint: theirs_signed,
                    timestamp_s: alpha_cosigned_at,
                    signature: alpha_cosignature,
                },
            ),
            (
                T0 + 4_340_000,
                Record::LogConflict {
                    log: b,
                    cosigned: theirs_signed,
                    presented: forked_signed,
                    proof: vec![],
                },
            ),
        ],
        &mut tree,
    );
    let offer = CheckpointOffer {
        network,
        signer: a,
        checkpoint: signed,
        proof_from: 4,
        proof: tree.consistency_proof(4, size).unwrap(),
    };
    let (offer_frame, offer_hash) = seal(&alpha, Kind::Checkpoint, &offer);
    let cosig_message = Cosignature {
        network,
        signer: b,
        log: a,
        size,
        root,
        timestamp_s: cosigned_at,
        signature: cosignature,
    };
    let (cosig_frame, cosig_hash) = seal(&bravo, Kind::Cosignature, &cosig_message);
    let mut messages = messages;
    messages.push(message_vector(
        "checkpoint-offer",
        Kind::Checkpoint,
        &offer_frame,
        offer_hash,
        json!(offer),
    ));
    messages.push(message_vector(
        "cosignature",
        Kind::Cosignature,
        &cosig_frame,
        cosig_hash,
        json!(cosig_message),
    ));
    let note_text = note(
        &checkpoint,
        &[
            NoteSignature::log(&origin_a, &a, &signed.signature),
            NoteSignature::cosignature(&origin_b, &b, cosigned_at, &cosignature),
        ],
    );
    let checkpoints = json!({
        "origin": origin_a,
        "size": size,
        "root": root.to_hex(),
        "root_of_all_entries": tree.root_at(tree.len()).unwrap().to_hex(),
        "note": note_text,
        "cosigned_message": checkpoint.cosigned_message(cosigned_at),
        "cosigner": "bravo",
        "consistency_proof_4": offer.proof.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        "root_4": tree.root_at(4).unwrap().to_hex(),
    });

    // Frames every receiver must refuse, with the code.
    let mut flipped = notice_frame.clone();
    let last = flipped.len() - 70; // inside the body, before the signature
    flipped[last] ^= 0x01;
    let mut trailing = notice_frame.clone();
    trailing.push(0);
    let mut version = notice_frame.clone();
    version[0] = 2;
    let mut invalid = vec![
        json!({"name": "body-bit-flipped", "frame": hex::encode(&flipped), "error": ErrorCode::BadSignature.name()}),
        json!({"name": "trailing-byte", "frame": hex::encode(&trailing), "error": ErrorCode::Malformed.name()}),
        json!({"name": "version-2", "frame": hex::encode(&version), "error": ErrorCode::UnsupportedVersion.name()}),
    ];
    invalid.extend(refusals(&notice, &ack, &receipt, &notice_frame));

    let keys: Vec<Value> = [("alpha", &alpha), ("bravo", &bravo), ("charlie", &charlie)]
        .iter()
        .map(|(name, k)| json!({"name": name, "secret_seed": hex::encode(&k.to_bytes()), "public": node_id(k).to_hex()}))
        .collect();
    let value = json!({
        "about": "CBM hotline protocol v1 test vectors (spec/hotline-v1.md §10). Test keys only.",
        "keys": keys,
        "roster": { "bytes": hex::encode(&roster.to_bytes()), "network_id": network.to_hex(), "value": roster },
        "messages": messages,
        "log": { "node": a.to_hex(), "entries": log },
        "checkpoint": checkpoints,
        "invalid_frames": invalid,
    });
    Built { value, leaves }
}

/// The varint at the start of `bytes`, one byte longer (a continuation bit and a zero byte): the
/// same number, not canonically encoded.
fn overlong_varint(bytes: &[u8]) -> Vec<u8> {
    let len = bytes.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let mut out = bytes[..len].to_vec();
    out[len - 1] |= 0x80;
    out.push(0);
    out.extend_from_slice(&bytes[len..]);
    out
}

/// Frames refused by every receiver whatever its state (spec §5.7 steps 1–7, §9), one per rule a
/// second implementation most easily gets wrong: size, canonical encoding (of the frame and of
/// the signed body), strict signatures, and the field rules of §5.3–§5.6.
fn refusals(notice: &Notice, ack: &Ack, receipt: &Receipt, notice_frame: &[u8]) -> Vec<Value> {
    let (alpha, bravo) = (key("alpha"), key("bravo"));
    let frame_of = |kind: Kind, body: Vec<u8>, signature| {
        hotline_proto::testing::codec::encode(&hotline_proto::wire::Frame {
            version: hotline_proto::wire::VERSION,
            kind,
            body,
            signature,
        })
    };
    let signed = |key: &ed25519_dalek::SigningKey, kind: Kind, body: Vec<u8>| {
        let signature = hotline_proto::crypto::sign(key, kind.context(), &body);
        frame_of(kind, body, signature)
    };
    let body = |frame: &[u8]| -> Vec<u8> {
        hotline_proto::testing::codec::decode::<hotline_proto::wire::Frame>("frame", frame, 1 << 20)
            .unwrap()
            .body
    };
    let mut out: Vec<Value> = Vec::new();
    let mut push = |name: &str, frame: Vec<u8>, error: ErrorCode, rule: &str| {
        out.push(json!({"name": name, "frame": hex::encode(&frame), "error": error.name(), "rule": rule}));
    };
    // Size: one byte over the limit, a valid frame padded (the size is checked first).
    // The frame's body length as an overlong varint.
    let mut long_len = notice_frame[..2].to_vec();
    long_len.extend(overlong_varint(&notice_frame[2..]));
    push("frame-length-non-canonical", long_len, ErrorCode::NonCanonical, "§4.1: every varint is minimal");
    // A signed body whose `seq` is an overlong varint, signed as it is.
    let b = body(notice_frame);
    let mut long_seq = b[..64].to_vec();
    long_seq.extend(overlong_varint(&b[64..]));
    push(
        "body-non-canonical",
        signed(&alpha, Kind::Notice, long_seq),
        ErrorCode::NonCanonical,
        "§4.1: the signed bytes are the canonical encoding",
    );
    // A signature whose S is S + L (the same signature for lax verifiers): refused by strict ones.
    let good = body(notice_frame);
    let sig = hotline_proto::crypto::sign(&alpha, Kind::Notice.context(), &good);
    let mut malleable = sig.0;
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(malleable[32 + i]) + u16::from(l[i]) + carry;
        malleable[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    push(
        "signature-s-not-reduced",
        frame_of(Kind::Notice, good.clone(), hotline_proto::Sig64(malleable)),
        ErrorCode::BadSignature,
        "§4.2: strict Ed25519 (S < L, canonical R and A)",
    );
    // Field rules, each on an otherwise valid, validly signed message.
    let notice_with = |change: &dyn Fn(&mut Notice)| {
        let mut n = notice.clone();
        change(&mut n);
        seal(&alpha, Kind::Notice, &n).0
    };
    push(
        "notice-seq-zero",
        notice_with(&|n| n.seq = 0),
        ErrorCode::InvalidField,
        "§5.2: seq is 1 to 2^53 - 1",
    );
    push(
        "notice-contact-with-tab",
        notice_with(&|n| {
            if let Body::Incident(i) = &mut n.body {
                i.contact = "desk\t1".into()
            }
        }),
        ErrorCode::InvalidField,
        "§5.3: a single-line string holds no control character",
    );
    push(
        "notice-summary-bidi-override",
        notice_with(&|n| {
            if let Body::Incident(i) = &mut n.body {
                i.summary[0].text = "abc\u{202E}def".into()
            }
        }),
        ErrorCode::InvalidField,
        "§5.3: no hidden format characters",
    );
    push(
        "notice-summary-language-twice",
        notice_with(&|n| {
            if let Body::Incident(i) = &mut n.body {
                let mut twice = i.summary[0].clone();
                twice.lang = twice.lang.to_uppercase();
                i.summary.push(twice);
            }
        }),
        ErrorCode::InvalidField,
        "§3.2: language tags compare without case",
    );
    push(
        "notice-final-decision-blank",
        notice_with(&|n| {
            if let Body::Incident(i) = &mut n.body {
                i.human_control.final_decision_by = "\u{3000}".into();
            }
        }),
        ErrorCode::InvalidField,
        "§5.3: blank is Unicode White_Space",
    );
    let ack_with = |change: &dyn Fn(&mut Ack)| {
        let mut a = ack.clone();
        change(&mut a);
        seal(&bravo, Kind::Ack, &a).0
    };
    push(
        "ack-operator-blank",
        ack_with(&|a| a.operator = "  ".into()),
        ErrorCode::InvalidField,
        "§5.6: operator not blank",
    );
    push(
        "ack-of-own-notice",
        ack_with(&|a| a.notice.sender = a.signer),
        ErrorCode::WrongParty,
        "§5.6: nobody acknowledges its own notice",
    );
    let mut r = receipt.clone();
    r.notice.seq = 0;
    push(
        "receipt-of-notice-zero",
        seal(&bravo, Kind::Receipt, &r).0,
        ErrorCode::InvalidField,
        "§5.5: the notice named is 1 to 2^53 - 1",
    );
    let mut r = receipt.clone();
    r.of.kind = Kind::Receipt;
    push(
        "receipt-of-a-receipt",
        seal(&bravo, Kind::Receipt, &r).0,
        ErrorCode::InvalidField,
        "§5.5: only notices and acks are receipted",
    );
    // (Stored as the valid frame and the length to pad it to with zero bytes.)
    out.push(json!({
        "name": "frame-too-large",
        "frame": hex::encode(notice_frame),
        "pad_to": hotline_proto::limits::MAX_FRAME + 1,
        "error": ErrorCode::FrameTooLarge.name(),
        "rule": "§8: frames are at most 64 512 bytes, checked before decoding",
    }));
    out
}

#[test]
fn vectors_match_spec() {
    let text = serde_json::to_string_pretty(&build().value).unwrap() + "\n";
    if std::env::var_os("HOTLINE_UPDATE_VECTORS").is_some() {
        std::fs::write(PATH, &text).unwrap();
    }
    let on_disk =
        std::fs::read_to_string(PATH).expect("spec/vectors/v1.json (generate with HOTLINE_UPDATE_VECTORS=1)");
    assert!(on_disk == text, "spec/vectors/v1.json differs from what the code produces: a wire change? Regenerate with HOTLINE_UPDATE_VECTORS=1 and update the spec");
}

#[test]
fn vectors_verify_with_the_code() {
    let built = build();
    let roster = roster();
    let mut verifier = LogVerifier::new(roster.clone(), node_id(&key("alpha")), Check::Full);
    for leaf in &built.leaves {
        verifier.push(leaf).expect("vector leaf verifies");
    }
    for bad in built.value["invalid_frames"].as_array().unwrap() {
        let mut frame = decode_hex(bad["frame"].as_str().unwrap());
        if let Some(pad) = bad["pad_to"].as_u64() {
            frame.resize(pad as usize, 0);
        }
        let err = hotline_proto::wire::open(&frame, &roster, &roster.network_id()).unwrap_err();
        assert_eq!(err.code.name(), bad["error"].as_str().unwrap());
    }
}

fn decode_hex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hexadecimal")
}

fn unhex(v: &Value) -> Vec<u8> {
    decode_hex(v.as_str().expect("hex string"))
}

/// An outside implementer's check: SHA-256 and Ed25519 only, no protocol types.
#[test]
fn vectors_verify_independently() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let roster_bytes = unhex(&file["roster"]["bytes"]);
    let mut h = Sha256::new();
    h.update(b"cbm-hotline/v1/roster\0");
    h.update(&roster_bytes);
    assert_eq!(hex::encode(&h.finalize()), file["roster"]["network_id"].as_str().unwrap());

    let public = |name: &str| -> VerifyingKey {
        let k = file["keys"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap();
        VerifyingKey::from_bytes(&unhex(&k["public"]).try_into().unwrap()).unwrap()
    };
    for m in file["messages"].as_array().unwrap() {
        let mut signed = m["context"].as_str().unwrap().as_bytes().to_vec();
        signed.push(0);
        signed.extend(unhex(&m["body"]));
        assert_eq!(hex::encode(&Sha256::digest(&signed)), m["message_hash"].as_str().unwrap());
        let signer = if ["receipt-of-ack", "notice-flash-s1", "checkpoint-offer", "heartbeat"]
            .contains(&m["name"].as_str().unwrap())
        {
            "alpha"
        } else {
            "bravo"
        };
        let sig = Signature::from_bytes(&unhex(&m["signature"]).try_into().unwrap());
        public(signer).verify_strict(&signed, &sig).expect("message signature");
        // The frame is version 1, kind, varint body length, body, signature.
        let frame = unhex(&m["frame"]);
        assert_eq!(frame[0], 1);
        assert!(frame.ends_with(&unhex(&m["signature"])));
    }
    let mut prev = vec![0u8; 32];
    for e in file["log"]["entries"].as_array().unwrap() {
        let entry = unhex(&e["entry"]);
        let mut signed = b"cbm-hotline/v1/log-entry\0".to_vec();
        signed.extend(&entry);
        let sig = Signature::from_bytes(&unhex(&e["signature"]).try_into().unwrap());
        public("alpha").verify_strict(&signed, &sig).expect("entry signature");
        // The entry starts with network id (32), node (32), varint index, then prev (32).
        let index_len = entry[64..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
        assert_eq!(&entry[64 + index_len..96 + index_len], &prev[..], "hash chain");
        let mut leaf_hash = Sha256::new();
        leaf_hash.update([0u8]);
        leaf_hash.update(unhex(&e["leaf"]));
        prev = leaf_hash.finalize().to_vec();
        assert_eq!(hex::encode(&prev), e["leaf_hash"].as_str().unwrap());
    }

    // The Merkle tree (RFC 9162) over the leaf hashes, straight from its definition.
    let hashes: Vec<Vec<u8>> =
        file["log"]["entries"].as_array().unwrap().iter().map(|e| unhex(&e["leaf_hash"])).collect();
    fn mth(leaves: &[Vec<u8>]) -> Vec<u8> {
        if leaves.len() == 1 {
            return leaves[0].clone();
        }
        let mut k = 1;
        while k * 2 < leaves.len() {
            k *= 2;
        }
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(mth(&leaves[..k]));
        h.update(mth(&leaves[k..]));
        h.finalize().to_vec()
    }
    let cp = &file["checkpoint"];
    let size = cp["size"].as_u64().unwrap() as usize;
    assert_eq!(hex::encode(&mth(&hashes[..size])), cp["root"].as_str().unwrap());
    assert_eq!(hex::encode(&mth(&hashes)), cp["root_of_all_entries"].as_str().unwrap());
    assert_eq!(hex::encode(&mth(&hashes[..4])), cp["root_4"].as_str().unwrap());

    // The C2SP note: body, blank line, the log's signature line, bravo's cosignature line.
    use base64ct::{Base64, Encoding};
    let text = cp["note"].as_str().unwrap();
    let (body, sigs) = text.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let root_b64 = Base64::encode_string(&unhex(&cp["root"]));
    assert_eq!(body, format!("{}\n{size}\n{root_b64}\n", cp["origin"].as_str().unwrap()));
    let lines: Vec<&str> = sigs.lines().collect();
    assert_eq!(lines.len(), 2);
    let key_id = |name: &str, alg: u8, key: &VerifyingKey| {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update([alg]);
        h.update(key.as_bytes());
        h.finalize()[..4].to_vec()
    };
    let parse = |line: &str| {
        let rest = line.strip_prefix("\u{2014} ").unwrap();
        let (name, b64) = rest.rsplit_once(' ').unwrap();
        (name.to_string(), Base64::decode_vec(b64).unwrap())
    };
    let (name, bytes) = parse(lines[0]);
    assert_eq!(name, cp["origin"].as_str().unwrap());
    assert_eq!(bytes[..4], key_id(&name, 0x01, &public("alpha")));
    let sig = Signature::from_bytes(&bytes[4..].try_into().unwrap());
    public("alpha").verify_strict(body.as_bytes(), &sig).expect("checkpoint signature");
    let (name, bytes) = parse(lines[1]);
    assert_eq!(bytes[..4], key_id(&name, 0x04, &public("bravo")));
    let timestamp = u64::from_be_bytes(bytes[4..12].try_into().unwrap());
    let cosigned = format!("cosignature/v1\ntime {timestamp}\n{body}");
    assert_eq!(cosigned, cp["cosigned_message"].as_str().unwrap());
    let sig = Signature::from_bytes(&bytes[12..].try_into().unwrap());
    public("bravo").verify_strict(cosigned.as_bytes(), &sig).expect("cosignature");
}
