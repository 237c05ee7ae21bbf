//! Shared fixtures and builders of the fuzz targets: fixed test keys and rosters, well-formed
//! values built from fuzz bytes, and re-signing of fuzzed message bodies so that they get past the
//! signature check to the value-level checks behind it.
//!
//! Test keys only: `seed = SHA-256("hotline test key " ‖ name)`, as in `spec/vectors/v1.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use ed25519_dalek::SigningKey;
use hotline_proto::crypto::{self, node_id};
use hotline_proto::note::{self, Checkpoint};
use hotline_proto::testing::codec;
use hotline_proto::testing::fixtures::sim_policy;
use hotline_proto::wire::Frame;
use hotline_proto::Roster;
use hotline_proto::{
    Ack, Body, Disposition, Hash32, Heartbeat, LangText, Node, NodeId, Notice, NoticeId, Precedence, Receipt,
    Role, Texts,
};
use hotline_proto::{
    Addressee, CheckpointOffer, CodedMessage, Cosignature, Kind, MessageRef, SignedCheckpoint,
};
use hotline_proto::{
    Attachment, Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident, Location, Severity,
    SystemClass,
};

/// The members of every fixture roster, in order.
pub const NAMES: [&str; 3] = ["alpha", "bravo", "charlie"];
/// The time the vectors use (UTC ms); nodes start here.
pub const T0: u64 = 1_795_860_120_000;
/// The network id of `spec/vectors/v1.json`, read at compile time, to warn if the roster built
/// here drifts from the vectors' (the seeds would then stop opening).
pub const VECTORS_JSON: &str = include_str!("../../spec/vectors/v1.json");

pub use hotline_proto::testing::fixtures::{codebook, en_zh as texts, test_key as key, vectors_roster};

/// The vectors' members with a codebook and short timers (the simulator's policy), so that
/// codebook notices are accepted and timers fire after little simulated time.
pub fn rich_roster() -> Roster {
    Roster { network: "cbm-hotline-fuzz".into(), ..hotline_proto::testing::fixtures::roster(3, sim_policy()) }
}

/// A roster with its id, keys and member ids.
pub struct Fixture {
    /// The roster.
    pub roster: Roster,
    /// Its network id.
    pub network: Hash32,
    /// The members' keys, in roster order.
    pub keys: Vec<SigningKey>,
    /// The members' ids, in roster order.
    pub ids: Vec<NodeId>,
}

impl Fixture {
    fn new(roster: Roster) -> Fixture {
        assert!(roster.check().is_ok(), "fixture roster must be valid");
        let keys: Vec<SigningKey> = NAMES.iter().map(|n| key(n)).collect();
        let ids = keys.iter().map(node_id).collect();
        Fixture { network: roster.network_id(), roster, keys, ids }
    }

    /// A fresh node of member `i`, started at `now`.
    pub fn node(&self, i: usize, now: u64) -> Node {
        Node::new(self.keys[i].clone(), self.roster.clone(), now).expect("a fixture member starts")
    }
}

/// The vectors' fixture (warns once if it no longer matches `spec/vectors/v1.json`).
pub fn vectors() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let f = Fixture::new(vectors_roster());
        if !VECTORS_JSON.contains(&format!("\"network_id\": \"{}\"", f.network.to_hex())) {
            eprintln!("hotline-fuzz: the fixture roster is not the roster of spec/vectors/v1.json any more");
        }
        f
    })
}

/// The fixture with a codebook and short timers.
pub fn rich() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(rich_roster()))
}

// ---- values from fuzz bytes -------------------------------------------------------------------

/// A member index, or (rarely) an outsider.
pub fn member_index(u: &mut Unstructured) -> Result<usize> {
    u.choose_index(NAMES.len())
}

/// A node id: usually a member, sometimes arbitrary bytes.
pub fn node_ref(u: &mut Unstructured, fx: &Fixture) -> Result<NodeId> {
    if u.ratio(1, 16)? {
        Ok(NodeId(u.arbitrary()?))
    } else {
        Ok(fx.ids[member_index(u)?])
    }
}

/// Maps an id onto a roster member by its first byte (0xff keeps it), so that fuzzed ids reach
/// past the "not in the roster" checks.
pub fn fix_node(id: &mut NodeId, fx: &Fixture) {
    if id.0[0] != 0xff {
        *id = fx.ids[usize::from(id.0[0]) % fx.ids.len()];
    }
}

fn short_string(u: &mut Unstructured, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(s[..end].to_string())
}

/// A language tag: usually a required one.
fn lang(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=7u8)? {
        0..=2 => "en".into(),
        3..=5 => "zh".into(),
        6 => "fr".into(),
        _ => short_string(u, 40)?,
    })
}

/// A text field: valid in both required languages, or fuzzed.
pub fn arb_texts(u: &mut Unstructured) -> Result<Texts> {
    Ok(match u.int_in_range(0..=5u8)? {
        0..=2 => texts("Something happened.", "发生了一些事情。"),
        3 => Vec::new(),
        4 => {
            let n = u.int_in_range(0..=9usize)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(LangText { lang: lang(u)?, text: short_string(u, 2048)? });
            }
            out
        }
        _ => {
            let mut t = texts("x", "y");
            t[0].text = short_string(u, 1200)?;
            t[1].text = short_string(u, 1200)?;
            t
        }
    })
}

fn arb_attachments(u: &mut Unstructured) -> Result<Vec<Attachment>> {
    let n = if u.ratio(1, 4)? { u.int_in_range(0..=17usize)? } else { 0 };
    (0..n)
        .map(|_| {
            Ok(Attachment {
                sha256: Hash32(u.arbitrary()?),
                size: u.arbitrary()?,
                media_type: if u.arbitrary()? { "video/mp4".into() } else { short_string(u, 70)? },
                description: short_string(u, 300)?,
            })
        })
        .collect()
}

/// An incident report, mostly well-formed.
pub fn arb_incident(u: &mut Unstructured, completeness: Completeness) -> Result<Incident> {
    let n_modes = if u.ratio(7, 8)? { 1 } else { u.int_in_range(0..=12usize)? };
    let mut failure_modes = Vec::new();
    for _ in 0..n_modes {
        failure_modes.push(*u.choose(&FailureMode::ALL)?);
    }
    let location = if u.arbitrary()? {
        Some(Location {
            region: if u.arbitrary()? { "East China Sea".into() } else { short_string(u, 300)? },
            lat_decideg: u.arbitrary()?,
            lon_decideg: u.arbitrary()?,
        })
    } else {
        None
    };
    Ok(Incident {
        completeness,
        domain: *u.choose(&Domain::ALL)?,
        system_class: *u.choose(&SystemClass::ALL)?,
        failure_modes,
        severity: *u.choose(&Severity::ALL)?,
        occurred_ms: u.arbitrary()?,
        location,
        summary: arb_texts(u)?,
        suspected_cause: if u.arbitrary()? { Vec::new() } else { arb_texts(u)? },
        human_control: HumanControl {
            role: *u.choose(&HumanRole::ALL)?,
            final_decision_by: if u.ratio(7, 8)? {
                "commanding officer".into()
            } else {
                short_string(u, 70)?
            },
            statement: arb_texts(u)?,
        },
        actions_taken: if u.arbitrary()? { Vec::new() } else { arb_texts(u)? },
        requested_response: if u.arbitrary()? { Vec::new() } else { arb_texts(u)? },
        contact: if u.ratio(7, 8)? { "liaison desk".into() } else { short_string(u, 300)? },
        attachments: arb_attachments(u)?,
    })
}

/// A precedence.
pub fn arb_precedence(u: &mut Unstructured) -> Result<Precedence> {
    Ok(*u.choose(&Precedence::ALL)?)
}

/// A notice body, mostly well-formed. `kind` 0..=5: initial, update, final, reply, clarification,
/// codebook.
pub fn arb_body(u: &mut Unstructured, kind: u8) -> Result<Body> {
    Ok(match kind % 6 {
        0 => Body::Incident(arb_incident(u, Completeness::Initial)?),
        1 => Body::Incident(arb_incident(u, Completeness::Update)?),
        2 => Body::Incident(arb_incident(u, Completeness::Final)?),
        3 => Body::Reply(arb_texts(u)?),
        4 => Body::Clarification(arb_texts(u)?),
        _ => {
            let (number, word) = match u.int_in_range(0..=3u8)? {
                0 | 1 => (7, "LANTERN".to_string()),
                2 => (12, "HARBOUR".to_string()),
                _ => (u.arbitrary()?, short_string(u, 70)?),
            };
            let note = if u.arbitrary()? { Vec::new() } else { arb_texts(u)? };
            Body::Codebook(CodedMessage { number, word, note, attachments: arb_attachments(u)? })
        }
    })
}

/// A sequence number: small, near the limit, or anything.
pub fn arb_seq(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0..=15u8)? {
        0 => 0,
        1 => u.arbitrary()?,
        2 => (1 << 53) - 1 - u64::from(u.int_in_range(0..=2u8)?),
        _ => u64::from(u.int_in_range(1..=12u8)?),
    })
}

/// A notice id: a member and a small sequence number, mostly.
pub fn arb_notice_id(u: &mut Unstructured, fx: &Fixture) -> Result<NoticeId> {
    Ok(NoticeId { sender: node_ref(u, fx)?, seq: arb_seq(u)? })
}

/// A notice of `sender`, mostly well-formed; `known` offers ids for threads and replies.
pub fn arb_notice(
    u: &mut Unstructured,
    fx: &Fixture,
    sender: usize,
    now: u64,
    known: &[NoticeId],
) -> Result<Notice> {
    let kind = u.int_in_range(0..=6u8)?;
    let body = arb_body(u, kind)?;
    let mut to = Vec::new();
    let n_to = if u.ratio(15, 16)? { u.int_in_range(1..=2usize)? } else { u.int_in_range(0..=4usize)? };
    for k in 0..n_to {
        let node = if u.ratio(15, 16)? { fx.ids[(sender + 1 + k) % fx.ids.len()] } else { node_ref(u, fx)? };
        let role = if k == 0 || u.arbitrary()? { Role::Action } else { Role::Info };
        to.push(Addressee { node, role, link_seq: arb_seq(u)? });
    }
    let pick = |u: &mut Unstructured| -> Result<Option<NoticeId>> {
        Ok(match u.int_in_range(0..=3u8)? {
            0 => None,
            1 => Some(arb_notice_id(u, fx)?),
            _ if known.is_empty() => None,
            _ => Some(*u.choose(known)?),
        })
    };
    let mut thread = pick(u)?;
    let mut in_reply_to = pick(u)?;
    // Mostly follow the rules on threads, so that checks behind them are reached.
    if u.ratio(3, 4)? {
        match kind % 7 {
            0 | 6 => {
                thread = None;
                in_reply_to = None;
            }
            _ => {
                if thread.is_none() {
                    thread = known.first().copied().or(Some(NoticeId { sender: fx.ids[sender], seq: 1 }));
                }
                if kind % 7 >= 3 && in_reply_to.is_none() {
                    in_reply_to = thread;
                }
            }
        }
    }
    let created_ms = match u.int_in_range(0..=7u8)? {
        0 => u.arbitrary()?,
        1 => now.saturating_add(u64::from(u.arbitrary::<u32>()?)),
        _ => now.saturating_sub(u64::from(u.arbitrary::<u16>()?)),
    };
    let precedence = if kind % 7 == 6 && u.ratio(7, 8)? { Precedence::Routine } else { arb_precedence(u)? };
    Ok(Notice {
        network: fx.network,
        sender: fx.ids[sender],
        seq: arb_seq(u)?,
        created_ms,
        precedence,
        to,
        thread,
        in_reply_to,
        body,
    })
}

/// A disposition.
pub fn arb_disposition(u: &mut Unstructured) -> Result<Disposition> {
    Ok(*u.choose(&[
        Disposition::Understood,
        Disposition::Investigating,
        Disposition::ActionTaken,
        Disposition::Disputed,
    ])?)
}

/// An operator name: usually fine.
pub fn arb_operator(u: &mut Unstructured) -> Result<String> {
    Ok(if u.ratio(7, 8)? { "watch officer".into() } else { short_string(u, 80)? })
}

// ---- frames -----------------------------------------------------------------------------------

/// Frames `body` (any bytes) with a valid signature by `key` over them: for bodies that are not
/// canonical postcard, so that only the strict decoder stands between them and the checks.
pub fn seal_raw(key: &SigningKey, kind: Kind, body: &[u8]) -> Vec<u8> {
    let signature = crypto::sign(key, kind.context(), body);
    codec::encode(&Frame { version: hotline_proto::wire::VERSION, kind, body: body.to_vec(), signature })
}

/// The kind with wire value `b % 6`.
pub fn kind_of(b: u8) -> Kind {
    [Kind::Notice, Kind::Receipt, Kind::Ack, Kind::Checkpoint, Kind::Cosignature, Kind::Heartbeat]
        [usize::from(b % 6)]
}

/// Re-signs the note signature of a checkpoint of `log`'s log with `key`.
pub fn resign_checkpoint(fx: &Fixture, key: &SigningKey, log: &NodeId, c: &mut SignedCheckpoint) {
    if let Some(cp) = c.checkpoint(&fx.roster, &fx.roster.network_id(), log) {
        c.signature = cp.sign(key);
    }
}

/// Re-signs a cosignature with `key`.
pub fn resign_cosignature(fx: &Fixture, key: &SigningKey, c: &mut Cosignature) {
    if let Some(origin) = note::origin_of(&fx.roster, &c.log) {
        c.signature = Checkpoint { origin, size: c.size, root: c.root }.cosign(key, c.timestamp_s);
    }
}

/// Turns fuzzed body bytes of `kind` into a frame signed by member `signer`.
///
/// `flags`: bits 0–1 choose the mode: 0 and 1 decode the body leniently (postcard, trailing bytes
/// ignored), set its network and signer to the fixture's, and seal the value (so it is canonical);
/// 2 writes the network id and the signer over the body's first 64 bytes (every body starts with
/// them) and signs the bytes as they are (non-canonical encodings reach the strict decoder); 3
/// signs the bytes untouched. Bit 2 maps every other node id of the value onto a member
/// ([`fix_node`]); bit 3 re-signs embedded checkpoint and cosignature signatures.
///
/// Returns the frame and whether it was sealed from a decoded value (so is canonical).
pub fn resign(fx: &Fixture, kind: Kind, signer: usize, flags: u8, body: &[u8]) -> (Vec<u8>, bool) {
    let key = &fx.keys[signer];
    let id = fx.ids[signer];
    let fix_ids = flags & 4 != 0;
    let fix_sigs = flags & 8 != 0;
    match flags & 3 {
        0 | 1 => {
            macro_rules! lenient {
                ($t:ty) => {
                    match postcard::take_from_bytes::<$t>(body) {
                        Ok((v, _)) => v,
                        Err(_) => return (seal_raw(key, kind, body), false),
                    }
                };
            }
            let net = fx.network;
            let frame = match kind {
                Kind::Notice => {
                    let mut n = lenient!(Notice);
                    n.network = net;
                    n.sender = id;
                    if fix_ids {
                        n.to.iter_mut().for_each(|a| fix_node(&mut a.node, fx));
                        if let Some(t) = &mut n.thread {
                            fix_node(&mut t.sender, fx);
                        }
                        if let Some(r) = &mut n.in_reply_to {
                            fix_node(&mut r.sender, fx);
                        }
                    }
                    hotline_proto::wire::seal(key, kind, &n).0
                }
                Kind::Receipt => {
                    let mut r = lenient!(Receipt);
                    r.network = net;
                    r.signer = id;
                    if fix_ids {
                        fix_node(&mut r.notice.sender, fx);
                    }
                    hotline_proto::wire::seal(key, kind, &r).0
                }
                Kind::Ack => {
                    let mut a = lenient!(Ack);
                    a.network = net;
                    a.signer = id;
                    if fix_ids {
                        fix_node(&mut a.notice.sender, fx);
                    }
                    hotline_proto::wire::seal(key, kind, &a).0
                }
                Kind::Checkpoint => {
                    let mut c = lenient!(CheckpointOffer);
                    c.network = net;
                    c.signer = id;
                    if fix_sigs {
                        resign_checkpoint(fx, key, &id, &mut c.checkpoint);
                    }
                    hotline_proto::wire::seal(key, kind, &c).0
                }
                Kind::Cosignature => {
                    let mut c = lenient!(Cosignature);
                    c.network = net;
                    c.signer = id;
                    if fix_ids {
                        fix_node(&mut c.log, fx);
                    }
                    if fix_sigs {
                        resign_cosignature(fx, key, &mut c);
                    }
                    hotline_proto::wire::seal(key, kind, &c).0
                }
                Kind::Heartbeat => {
                    let mut h = lenient!(Heartbeat);
                    h.network = net;
                    h.signer = id;
                    if fix_ids {
                        fix_node(&mut h.to, fx);
                    }
                    hotline_proto::wire::seal(key, kind, &h).0
                }
            };
            (frame, true)
        }
        2 => {
            let mut b = body.to_vec();
            if b.len() < 64 {
                b.resize(64, 0);
            }
            b[..32].copy_from_slice(&fx.network.0);
            b[32..64].copy_from_slice(&id.0);
            (seal_raw(key, kind, &b), false)
        }
        _ => (seal_raw(key, kind, body), false),
    }
}

/// A receipt by member `signer` of a message.
pub fn receipt(fx: &Fixture, signer: usize, of: MessageRef, notice: NoticeId, received_ms: u64) -> Vec<u8> {
    let r = Receipt { network: fx.network, signer: fx.ids[signer], of, notice, received_ms };
    hotline_proto::wire::seal(&fx.keys[signer], Kind::Receipt, &r).0
}

/// Splits `data` into chunks `[tag u8][len u16 LE][len bytes]` (the last one may be short).
pub fn chunks(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        let (len, rest) = match rest.split_first_chunk::<2>() {
            Some((len, rest)) => (usize::from(u16::from_le_bytes(*len)), rest),
            None => (rest.len(), rest),
        };
        let len = len.min(rest.len());
        out.push((tag, &rest[..len]));
        data = &rest[len..];
    }
    out
}

// ---- a small network --------------------------------------------------------------------------

/// Runs two nodes (alpha and bravo) of `fx` for `steps` rounds of `step_ms`, alpha sending a notice
/// to bravo every `every` rounds and bravo acknowledging it; every transmit is delivered and every
/// log entry persisted at once. Returns alpha's and bravo's logs. Used to build realistic bundles.
pub fn two_node_logs(fx: &Fixture, steps: usize, step_ms: u64, every: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut now = T0;
    let mut nodes = [fx.node(0, now), fx.node(1, now)];
    let mut logs: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for step in 0..steps {
        now += step_ms;
        if every > 0 && step % every == 0 {
            let draft = hotline_proto::Draft {
                precedence: Precedence::Flash,
                to: vec![(fx.ids[1], Role::Action)],
                thread: None,
                in_reply_to: None,
                body: Body::Incident(incident_fixture(Completeness::Initial)),
            };
            let _ = nodes[0].send_notice(now, draft);
        }
        for _ in 0..4 {
            for i in 0..2 {
                nodes[i].handle_timeout(now);
                while let Some(batch) = nodes[i].poll_persist() {
                    logs[i].extend(batch.leaves);
                    nodes[i].persisted(logs[i].len() as u64);
                }
            }
            let mut moved = false;
            for i in 0..2 {
                while let Some(t) = nodes[i].poll_transmit() {
                    moved = true;
                    let from = fx.ids[i];
                    if let Some(j) = fx.ids[..2].iter().position(|id| *id == t.to) {
                        let _ = nodes[j].handle_frame(now, from, &t.frame);
                    }
                }
                while let Some(e) = nodes[i].poll_event() {
                    if let hotline_proto::Event::NoticeReceived { id, ack_due_ms: Some(_), .. } = e {
                        let _ = nodes[i].acknowledge(
                            now,
                            id,
                            "watch officer",
                            Disposition::Understood,
                            Vec::new(),
                        );
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }
    for i in 0..2 {
        while let Some(batch) = nodes[i].poll_persist() {
            logs[i].extend(batch.leaves);
            nodes[i].persisted(logs[i].len() as u64);
        }
    }
    let [a, b] = logs;
    (a, b)
}

/// A valid incident (both languages, one failure mode).
pub fn incident_fixture(completeness: Completeness) -> Incident {
    Incident {
        completeness,
        domain: Domain::Maritime,
        system_class: SystemClass::DecisionSupport,
        failure_modes: vec![FailureMode::Misidentification],
        severity: Severity::High,
        occurred_ms: T0 - 600_000,
        location: None,
        summary: texts("Civilian fishing vessel misidentified as hostile.", "民用渔船被误识别为敌方船只。"),
        suspected_cause: Vec::new(),
        human_control: HumanControl {
            role: HumanRole::InTheLoop,
            final_decision_by: "commanding officer".into(),
            statement: texts("Engagement withheld by a human.", "人类决定不予交战。"),
        },
        actions_taken: Vec::new(),
        requested_response: Vec::new(),
        contact: "alpha liaison desk".into(),
        attachments: Vec::new(),
    }
}

/// The frames of `spec/vectors/v1.json` (valid under [`vectors`]), then its log's leaves.
pub fn vector_frames() -> &'static (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    static F: OnceLock<(Vec<Vec<u8>>, Vec<Vec<u8>>)> = OnceLock::new();
    F.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(VECTORS_JSON).unwrap_or_default();
        let list = |items: &serde_json::Value, field: &str| -> Vec<Vec<u8>> {
            items
                .as_array()
                .map(|a| {
                    a.iter().filter_map(|m| m[field].as_str().and_then(hotline_proto::hex::decode)).collect()
                })
                .unwrap_or_default()
        };
        (list(&v["messages"], "frame"), list(&v["log"]["entries"], "leaf"))
    })
}

/// Hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    hotline_proto::hex::encode(bytes)
}

/// What a heartbeat to member `to` says it co-signed of `to`'s log (spec §5.8): mostly nothing
/// or `known` (a true checkpoint of that log), sometimes a checkpoint of any size and root that
/// `to` signed (the node must find it lost, spec §6.13), rarely one signed by someone else (which
/// `open` must refuse).
pub fn arb_cosigned(
    u: &mut Unstructured,
    fx: &Fixture,
    to: usize,
    known: Option<hotline_proto::SignedCheckpoint>,
) -> Result<Option<hotline_proto::SignedCheckpoint>> {
    Ok(match u.int_in_range(0..=31u8)? {
        0 | 1 => {
            let (size, root) = (u.arbitrary()?, hotline_proto::Hash32(u.arbitrary()?));
            let signer = if u.ratio(1, 4)? { (to + 1) % fx.keys.len() } else { to };
            let origin = hotline_proto::note::origin_of(&fx.roster, &fx.ids[to]).unwrap_or_default();
            let signature = hotline_proto::note::Checkpoint { origin, size, root }.sign(&fx.keys[signer]);
            Some(hotline_proto::SignedCheckpoint { size, root, signature })
        }
        2..=15 => known,
        _ => None,
    })
}
