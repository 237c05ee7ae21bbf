//! The auditor's reconciliation of several parties' bundles (spec §15.6) and the deadline
//! compliance report. Both need public keys only: every bundle is verified first
//! ([`crate::bundle::verify`]), then read whole (a cross-audit compares logs with each other, so
//! it holds them; verification alone streams).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use hotline_proto::log::{Check, LogVerifier};
use hotline_proto::merkle::MerkleTree;
use hotline_proto::message::SignedCheckpoint;
use hotline_proto::{DeadlineKind, Hash32, Kind, Message, NodeId, NoticeKind, Precedence, Record, Roster};
use serde::Serialize;

use crate::bundle::{self, Manifest};

/// One party's verified log, indexed for comparison.
pub struct Party {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Frames it logged as sent, received and receipted: message hash → (entry index, frame).
    sent: BTreeMap<Hash32, (u64, Vec<u8>, Message)>,
    accepted: BTreeMap<Hash32, (u64, u64, Vec<u8>, Message)>,
    receipted: BTreeMap<Hash32, (u64, Vec<u8>)>,
    cosigned: Vec<(u64, NodeId, SignedCheckpoint, u64)>,
    cosignatures: Vec<(u64, NodeId, u64, Hash32, u64)>,
    checkpoints: Vec<(u64, SignedCheckpoint)>,
    conflicts: Vec<(u64, NodeId, SignedCheckpoint, SignedCheckpoint)>,
    misses: Vec<(u64, u64, hotline_proto::NoticeId, NodeId, DeadlineKind, u64)>,
    tree: MerkleTree,
    /// Time of the bundle's last entry (0 if empty): what a party signed at or after this time
    /// may be beyond the end of this bundle.
    end_ms: u64,
}

/// A discrepancy between logs, with the entries that prove it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// A stable name for the kind of finding.
    pub kind: &'static str,
    /// Whether it proves a party's log is wrong (as opposed to merely incomplete).
    pub violation: bool,
    /// What, in words.
    pub detail: String,
    /// The evidence: (party, entry index).
    pub evidence: Vec<(String, u64)>,
}

/// Verifies and loads bundles; all must be of one network, one per party.
pub fn load(dirs: &[PathBuf], threads: usize) -> Result<(Roster, Vec<Party>)> {
    let mut parties: Vec<Party> = Vec::new();
    let mut roster: Option<Roster> = None;
    for dir in dirs {
        let verified = bundle::verify(dir, threads, |_, _| {})?;
        let (manifest, r) = bundle::open(dir)?;
        if let Some(first) = &roster {
            if first.network_id() != r.network_id() {
                return Err(bundle::Invalid(format!("{} is of another network", dir.display())).into());
            }
        }
        if parties.iter().any(|p| p.manifest.node == manifest.node) {
            bail!("two bundles of {}'s log", manifest.name);
        }
        let party = index(dir, manifest, &r, verified.manifest.size)?;
        roster.get_or_insert(r);
        parties.push(party);
    }
    roster.map(|r| (r, parties)).ok_or_else(|| anyhow::anyhow!("no bundle given"))
}

fn index(dir: &Path, manifest: Manifest, roster: &Roster, size: u64) -> Result<Party> {
    let mut verifier = LogVerifier::new(roster.clone(), manifest.node, Check::Chain);
    let mut p = Party {
        path: dir.to_path_buf(),
        manifest,
        sent: BTreeMap::new(),
        accepted: BTreeMap::new(),
        receipted: BTreeMap::new(),
        cosigned: Vec::new(),
        cosignatures: Vec::new(),
        checkpoints: Vec::new(),
        conflicts: Vec::new(),
        misses: Vec::new(),
        tree: MerkleTree::new(),
        end_ms: 0,
    };
    for leaf in bundle::leaves(dir, size)? {
        let v = verifier.push(&leaf).map_err(|e| bundle::Invalid(e.to_string()))?;
        let (i, t) = (v.entry.index, v.entry.time_ms);
        p.tree.push(v.leaf_hash);
        p.end_ms = t;
        match (v.entry.record, v.message) {
            (Record::Sent { frame }, Some(o)) => {
                p.sent.insert(o.hash, (i, frame, o.message));
            }
            (Record::Accepted { frame }, Some(o)) => {
                p.accepted.insert(o.hash, (i, t, frame, o.message));
            }
            (Record::Receipted { frame }, Some(o)) => {
                p.receipted.insert(o.hash, (i, frame));
            }
            (Record::Checkpoint { checkpoint }, _) => p.checkpoints.push((i, checkpoint)),
            (Record::Cosigned { log, checkpoint, timestamp_s, .. }, _) => {
                p.cosigned.push((i, log, checkpoint, timestamp_s))
            }
            (Record::Cosignature { by, size, root, timestamp_s, .. }, _) => {
                p.cosignatures.push((i, by, size, root, timestamp_s))
            }
            (Record::LogConflict { log, cosigned, presented, .. }, _) => {
                p.conflicts.push((i, log, cosigned, presented))
            }
            (Record::DeadlineMissed { notice, party, deadline, deadline_ms }, _) => {
                p.misses.push((i, t, notice, party, deadline, deadline_ms))
            }
            _ => {}
        }
    }
    Ok(p)
}

/// When `m`'s signer logged it: the time the message carries, which is the time of the signer's
/// log entry that records it (spec §15.6). Checkpoints carry none.
fn signed_at_ms(m: &Message) -> Option<u64> {
    match m {
        Message::Notice(n) => Some(n.created_ms),
        Message::Receipt(r) => Some(r.received_ms),
        Message::Ack(a) => Some(a.acked_ms),
        Message::Cosignature(c) => Some(c.timestamp_s.saturating_mul(1000)),
        Message::Checkpoint(_) => None,
    }
}

/// Whether something `b` logged at `at_ms` (whole seconds for cosignatures, hence the slack) may
/// lie beyond the end of `b`'s bundle: then its absence proves nothing, as the bundle may simply
/// be older than the evidence.
fn beyond(b: &Party, at_ms: u64, slack_ms: u64) -> bool {
    at_ms.saturating_add(slack_ms) >= b.end_ms
}

/// The note for evidence that postdates `b`'s bundle.
fn stale(b: &Party, what: String) -> String {
    format!(
        "{what}, after the last entry of {}'s bundle ({} entries): it may be older than the evidence; audit a later bundle of {}",
        b.manifest.name, b.manifest.size, b.manifest.name
    )
}

/// Reconciles the parties' logs with each other (spec §15.6).
pub fn cross(roster: &Roster, parties: &[Party]) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = |id: &NodeId| roster.member(id).map_or_else(|| id.short(), |m| m.name.clone());
    let present: BTreeMap<NodeId, &Party> = parties.iter().map(|p| (p.manifest.node, p)).collect();
    let mut finding = |kind, violation, detail: String, evidence: Vec<(String, u64)>| {
        out.push(Finding { kind, violation, detail, evidence });
    };
    for a in parties {
        let an = &a.manifest.name;
        // Notices and acks a logged as sent, in each present addressee's log with the same bytes.
        for (hash, (i, frame, m)) in &a.sent {
            let targets: Vec<NodeId> = match m {
                Message::Notice(n) => n.to.iter().map(|x| x.node).collect(),
                Message::Ack(ack) => vec![ack.notice.sender],
                _ => vec![],
            };
            for t in targets {
                let Some(b) = present.get(&t) else { continue };
                match b.accepted.get(hash) {
                    Some((_, _, bytes, _)) if bytes == frame => {}
                    Some((j, ..)) => finding(
                        "different_bytes",
                        true,
                        format!("{an} and {} logged different bytes for one message", b.manifest.name),
                        vec![(an.clone(), *i), (b.manifest.name.clone(), *j)],
                    ),
                    None => {
                        let receipt = a.accepted.values().find(|(_, _, _, r)| {
                            matches!(r, Message::Receipt(r) if r.of.hash == *hash && r.signer == t)
                        });
                        match receipt {
                            Some((j, _, _, r)) if signed_at_ms(r).is_some_and(|t| beyond(b, t, 0)) => {
                                finding(
                                    "stale_bundle",
                                    false,
                                    stale(b, format!("{} receipted a message from {an}", b.manifest.name)),
                                    vec![(an.clone(), *i), (an.clone(), *j)],
                                )
                            }
                            Some((j, ..)) => finding(
                                "receipted_but_not_logged",
                                true,
                                format!(
                                    "{} receipted a message from {an} that its log does not hold",
                                    b.manifest.name
                                ),
                                vec![(an.clone(), *i), (an.clone(), *j)],
                            ),
                            None => finding(
                                "undelivered",
                                false,
                                format!("a message {an} sent never reached {}'s log", b.manifest.name),
                                vec![(an.clone(), *i)],
                            ),
                        }
                    }
                }
            }
        }
        for (hash, (i, _, frame, m)) in &a.accepted {
            let signer = m.signer();
            let Some(b) = present.get(&signer) else { continue };
            let bn = &b.manifest.name;
            let (kind, logged) = match m {
                Message::Receipt(_) => {
                    ("receipt_not_logged_by_signer", b.receipted.get(hash).map(|(j, f)| (*j, f)))
                }
                _ => ("message_not_logged_by_signer", b.sent.get(hash).map(|(j, f, _)| (*j, f))),
            };
            match logged {
                Some((_, bytes)) if bytes == frame => {}
                Some((j, _)) => finding(
                    "different_bytes",
                    true,
                    format!("{an} and {bn} logged different bytes for one message"),
                    vec![(an.clone(), *i), (bn.clone(), j)],
                ),
                None if signed_at_ms(m).is_some_and(|t| beyond(b, t, 0)) => finding(
                    "stale_bundle",
                    false,
                    stale(b, format!("{an} holds a message {bn} signed")),
                    vec![(an.clone(), *i)],
                ),
                None => finding(
                    kind,
                    true,
                    format!("{an} holds a message signed by {bn} that {bn}'s log does not record"),
                    vec![(an.clone(), *i)],
                ),
            }
        }
        // What a co-signed of others: their trees must agree, or they rewrote their logs.
        for (i, log, c, _) in &a.cosigned {
            let Some(b) = present.get(log) else { continue };
            let bn = &b.manifest.name;
            match b.tree.root_at(c.size) {
                Some(root) if root == c.root => {}
                Some(_) => finding(
                    "rewritten_log",
                    true,
                    format!("{an} co-signed {bn}'s checkpoint of size {}, signed by {bn}; {bn}'s log now has another root at that size: rewritten", c.size),
                    vec![(an.clone(), *i)],
                ),
                // The bundle predates the checkpoint: stale, or cut short by its owner; only a
                // later bundle can tell (a rewrite of what it does hold is caught above).
                None => finding(
                    "stale_bundle",
                    false,
                    format!("{an} co-signed {bn}'s checkpoint of size {}, but {bn}'s bundle holds only {} entries: it is older than that checkpoint, or cut short; audit a later bundle of {bn}", c.size, b.manifest.size),
                    vec![(an.clone(), *i)],
                ),
            }
        }
        for (i, by, size, root, ts) in &a.cosignatures {
            let Some(b) = present.get(by) else { continue };
            let logged = b.cosigned.iter().any(|(_, log, c, t)| {
                *log == a.manifest.node && c.size == *size && c.root == *root && t == ts
            });
            if !logged && beyond(b, ts.saturating_mul(1000), 999) {
                finding(
                    "stale_bundle",
                    false,
                    stale(b, format!("{an} holds {}'s cosignature of size {size}", b.manifest.name)),
                    vec![(an.clone(), *i)],
                );
            } else if !logged {
                finding(
                    "cosignature_not_logged",
                    true,
                    format!(
                        "{an} holds {}'s cosignature of size {size} that {}'s log does not record",
                        b.manifest.name, b.manifest.name
                    ),
                    vec![(an.clone(), *i)],
                );
            }
        }
        for (i, log, cosigned, presented) in &a.conflicts {
            finding(
                "log_conflict_recorded",
                true,
                format!(
                    "{an} recorded that {} presented a checkpoint (size {}) contradicting one it co-signed (size {})",
                    name(log),
                    presented.size,
                    cosigned.size
                ),
                vec![(an.clone(), *i)],
            );
        }
    }
    // Equivocation: one log, one size, two roots, each signed by the log's node.
    let mut seen: BTreeMap<(NodeId, u64), (Hash32, String, u64)> = BTreeMap::new();
    let mut split = Vec::new();
    for p in parties {
        let pn = &p.manifest.name;
        let own = p.checkpoints.iter().map(|(i, c)| (p.manifest.node, *c, *i));
        let others = p.cosigned.iter().map(|(i, log, c, _)| (*log, *c, *i));
        let conflicts = p.conflicts.iter().flat_map(|(i, log, a, b)| [(*log, *a, *i), (*log, *b, *i)]);
        for (log, c, i) in own.chain(others).chain(conflicts) {
            match seen.get(&(log, c.size)) {
                Some((root, q, j)) if *root != c.root => {
                    split.push((log, c.size, (q.clone(), *j), (pn.clone(), i)))
                }
                Some(_) => {}
                None => {
                    seen.insert((log, c.size), (c.root, pn.clone(), i));
                }
            }
        }
    }
    for (log, size, first, second) in split {
        out.push(Finding {
            kind: "equivocation",
            violation: true,
            detail: format!("{} signed two checkpoints of size {size} with different roots", name(&log)),
            evidence: vec![first, second],
        });
    }
    out
}

/// Deadline compliance of one addressee at one precedence, from the senders' logs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Compliance {
    /// The addressee.
    pub party: String,
    /// The precedence.
    pub precedence: String,
    /// Notices addressed to it.
    pub notices: usize,
    /// Receipts in time.
    pub receipts_on_time: usize,
    /// Receipts after the deadline.
    pub receipts_late: usize,
    /// Acknowledgements owed.
    pub acks_due: usize,
    /// Acknowledgements in time.
    pub acks_on_time: usize,
    /// Acknowledgements after the deadline.
    pub acks_late: usize,
    /// Receipt latency p50, p95, max (ms).
    pub receipt_ms: [u64; 3],
    /// Acknowledgement latency p50, p95, max (ms).
    pub ack_ms: [u64; 3],
}

/// A recorded deadline miss and where it is recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    /// Whose log recorded it.
    pub recorded_by: String,
    /// Entry index.
    pub entry: u64,
    /// The notice.
    pub notice: String,
    /// Who missed.
    pub party: String,
    /// Receipt or ack.
    pub deadline: DeadlineKind,
    /// When it fell (UTC ms).
    pub deadline_ms: u64,
}

/// One notice on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// The notice.
    pub notice: String,
    /// Sender.
    pub from: String,
    /// Precedence.
    pub precedence: String,
    /// Created (UTC ms).
    pub created_ms: u64,
    /// Per addressee: (name, receipt latency, ack latency).
    pub parties: Vec<(String, Option<u64>, Option<u64>)>,
}

/// The deadline report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per addressee and precedence.
    pub compliance: Vec<Compliance>,
    /// Every recorded miss.
    pub misses: Vec<Miss>,
    /// Every notice, for the timeline.
    pub timeline: Vec<Event>,
}

fn percentiles(mut v: Vec<u64>) -> [u64; 3] {
    if v.is_empty() {
        return [0; 3];
    }
    v.sort_unstable();
    let at = |q: usize| v[(v.len() - 1) * q / 100];
    [at(50), at(95), v[v.len() - 1]]
}

/// A compliance row with its receipt and acknowledgement latencies, before percentiles.
type Row = (Compliance, Vec<u64>, Vec<u64>);

/// Builds the report from the senders' logs (receipts and acks as each sender accepted them).
pub fn report(roster: &Roster, parties: &[Party]) -> Report {
    let name = |id: &NodeId| roster.member(id).map_or_else(|| id.short(), |m| m.name.clone());
    let mut rows: BTreeMap<(String, Precedence), Row> = BTreeMap::new();
    let mut timeline = Vec::new();
    let mut misses = Vec::new();
    for p in parties {
        let mut receipts: BTreeMap<(Hash32, NodeId), u64> = BTreeMap::new();
        let mut acks: BTreeMap<(hotline_proto::NoticeId, NodeId), u64> = BTreeMap::new();
        for (_, t, _, m) in p.accepted.values() {
            match m {
                Message::Receipt(r) if r.of.kind == Kind::Notice => {
                    receipts.insert((r.of.hash, r.signer), *t);
                }
                Message::Ack(a) => {
                    acks.insert((a.notice, a.signer), *t);
                }
                _ => {}
            }
        }
        let mut sent: Vec<_> = p.sent.iter().collect();
        sent.sort_by_key(|(_, (i, _, _))| *i);
        for (hash, (_, _, m)) in sent {
            let Message::Notice(n) = m else { continue };
            if n.kind() == NoticeKind::LinkTest {
                continue;
            }
            let d = roster.policy.deadlines(n.precedence);
            let mut event = Event {
                notice: roster.notice_name(&n.id()),
                from: p.manifest.name.clone(),
                precedence: n.precedence.name().to_string(),
                created_ms: n.created_ms,
                parties: Vec::new(),
            };
            for a in &n.to {
                let party = name(&a.node);
                let entry = rows.entry((party.clone(), n.precedence)).or_default();
                entry.0.party = party.clone();
                entry.0.precedence = n.precedence.name().to_string();
                entry.0.notices += 1;
                let receipt = receipts.get(&(*hash, a.node)).map(|t| t.saturating_sub(n.created_ms));
                if let Some(l) = receipt {
                    entry.1.push(l);
                    if l <= d.receipt_ms {
                        entry.0.receipts_on_time += 1;
                    } else {
                        entry.0.receipts_late += 1;
                    }
                }
                let mut ack = None;
                if n.needs_ack_from(&a.node) {
                    entry.0.acks_due += 1;
                    ack = acks.get(&(n.id(), a.node)).map(|t| t.saturating_sub(n.created_ms));
                    if let Some(l) = ack {
                        entry.2.push(l);
                        if l <= d.ack_ms {
                            entry.0.acks_on_time += 1;
                        } else {
                            entry.0.acks_late += 1;
                        }
                    }
                }
                event.parties.push((party, receipt, ack));
            }
            timeline.push(event);
        }
        for (i, _, notice, party, deadline, deadline_ms) in &p.misses {
            misses.push(Miss {
                recorded_by: p.manifest.name.clone(),
                entry: *i,
                notice: roster.notice_name(notice),
                party: name(party),
                deadline: *deadline,
                deadline_ms: *deadline_ms,
            });
        }
    }
    let compliance = rows
        .into_values()
        .map(|(mut c, r, a)| {
            c.receipt_ms = percentiles(r);
            c.ack_ms = percentiles(a);
            c
        })
        .collect();
    timeline.sort_by_key(|e| e.created_ms);
    Report { compliance, misses, timeline }
}

/// The report as plain text for people.
pub fn report_text(r: &Report) -> String {
    let mut s =
        String::from("Deadline compliance, per addressee and precedence (from the senders' logs)\n\n");
    let _ = writeln!(
        s,
        "{:<10} {:<10} {:>7} {:>12} {:>10} {:>10} {:>22} {:>22}",
        "party",
        "precedence",
        "notices",
        "receipts ok",
        "late",
        "acks ok",
        "receipt p50/p95/max",
        "ack p50/p95/max"
    );
    for c in &r.compliance {
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:>7} {:>12} {:>10} {:>10} {:>22} {:>22}",
            c.party,
            c.precedence,
            c.notices,
            c.receipts_on_time,
            c.receipts_late,
            format!("{}/{}", c.acks_on_time, c.acks_due),
            format!("{}/{}/{} ms", c.receipt_ms[0], c.receipt_ms[1], c.receipt_ms[2]),
            format!("{}/{}/{} s", c.ack_ms[0] / 1000, c.ack_ms[1] / 1000, c.ack_ms[2] / 1000),
        );
    }
    let _ = writeln!(s, "\nRecorded deadline misses: {}", r.misses.len());
    for m in &r.misses {
        let _ = writeln!(
            s,
            "  {} missed the {:?} deadline of {} (recorded by {}, entry {})",
            m.party, m.deadline, m.notice, m.recorded_by, m.entry
        );
    }
    s
}

/// The report as a self-contained HTML page with a timeline chart (inline SVG, no scripts).
pub fn report_html(r: &Report) -> String {
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut s = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>CBM hotline audit report</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:right}th{background:#eee}.miss{color:#b00}</style></head><body><h1>CBM hotline: deadline compliance</h1><p>Computed from the signed logs of the parties; every figure can be traced to a log entry.</p><table><tr><th>party</th><th>precedence</th><th>notices</th><th>receipts on time</th><th>receipts late</th><th>acks on time / due</th><th>receipt p50 / p95 / max (ms)</th><th>ack p50 / p95 / max (s)</th></tr>");
    for c in &r.compliance {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{} / {} / {}</td><td>{} / {} / {}</td></tr>",
            esc(&c.party), c.precedence, c.notices, c.receipts_on_time, c.receipts_late, c.acks_on_time, c.acks_due,
            c.receipt_ms[0], c.receipt_ms[1], c.receipt_ms[2], c.ack_ms[0] / 1000, c.ack_ms[1] / 1000, c.ack_ms[2] / 1000
        );
    }
    s.push_str("</table><h2>Timeline</h2>");
    s.push_str(&timeline_svg(r));
    let _ = write!(s, "<h2>Recorded deadline misses ({})</h2><ul>", r.misses.len());
    for m in &r.misses {
        let _ = write!(
            s,
            "<li class=\"miss\">{} missed the {:?} deadline of {} — recorded by {}, log entry {}</li>",
            esc(&m.party),
            m.deadline,
            esc(&m.notice),
            esc(&m.recorded_by),
            m.entry
        );
    }
    s.push_str("</ul></body></html>\n");
    s
}

/// Each notice as a row: a dot at creation, a bar to its last acknowledgement; red when an
/// acknowledgement is missing.
fn timeline_svg(r: &Report) -> String {
    let (w, row) = (900.0, 14.0);
    let start = r.timeline.first().map_or(0, |e| e.created_ms);
    let end = r
        .timeline
        .iter()
        .map(|e| e.created_ms + e.parties.iter().filter_map(|p| p.2.or(p.1)).max().unwrap_or(0))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let x = |t: u64| 150.0 + (t - start) as f64 / (end - start) as f64 * (w - 170.0);
    let h = 30.0 + row * r.timeline.len() as f64;
    let mut s =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"10\">");
    for (i, e) in r.timeline.iter().enumerate() {
        let y = 20.0 + row * i as f64;
        let done = e.created_ms + e.parties.iter().filter_map(|p| p.2.or(p.1)).max().unwrap_or(0);
        let complete = e.parties.iter().all(|p| p.1.is_some());
        let color = if complete { "#2a7" } else { "#c22" };
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\">{} {}</text><line x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"4\"/><circle cx=\"{:.1}\" cy=\"{y}\" r=\"3\"/>",
            y + 3.0,
            e.notice.replace('<', ""),
            e.precedence,
            x(e.created_ms),
            x(done).max(x(e.created_ms) + 2.0),
            x(e.created_ms)
        );
    }
    s.push_str("</svg>");
    s
}
