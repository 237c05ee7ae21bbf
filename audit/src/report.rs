//! The deadline compliance report (spec §15.6): per addressee and precedence, from the senders'
//! logs, with every recorded miss and a timeline; as JSON, text or a self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hotline_proto::{DeadlineKind, Hash32, Kind, Message, NodeId, Outcome, Precedence, Roster};
use serde::Serialize;

use crate::cross::Party;

/// Deadline compliance of one addressee at one precedence, from the senders' logs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Compliance {
    /// The addressee.
    pub party: String,
    /// The precedence.
    pub precedence: String,
    /// Notices addressed to it.
    pub notices: usize,
    /// Receipts accepted before a miss was recorded (spec §6.4).
    pub receipts_on_time: usize,
    /// Receipts accepted after the miss was recorded.
    pub receipts_late: usize,
    /// Acknowledgements owed.
    pub acks_due: usize,
    /// Acknowledgements accepted before a miss was recorded.
    pub acks_on_time: usize,
    /// Acknowledgements accepted after the miss was recorded.
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
        // (entry index, time) of each accepted receipt and ack, and the index of each recorded
        // miss: a deadline is met if accepted before the miss is recorded (spec §6.4).
        let mut receipts: BTreeMap<(Hash32, NodeId), (u64, u64)> = BTreeMap::new();
        let mut acks: BTreeMap<(hotline_proto::NoticeId, NodeId), (u64, u64)> = BTreeMap::new();
        for (i, t, _, m) in p.accepted.values() {
            match m {
                Message::Receipt(r) if r.of.kind == Kind::Notice => {
                    receipts.insert((r.of.hash, r.signer), (*i, *t));
                }
                Message::Ack(a) => {
                    acks.insert((a.notice, a.signer), (*i, *t));
                }
                _ => {}
            }
        }
        let missed: BTreeMap<(hotline_proto::NoticeId, NodeId, DeadlineKind), u64> =
            p.misses.iter().map(|(i, _, notice, party, kind, _)| ((*notice, *party, *kind), *i)).collect();
        let outcome = |accepted: Option<(u64, u64)>, key| {
            Outcome::of(accepted.map(|(i, _)| i), missed.get(&key).copied())
        };
        let mut sent: Vec<_> = p.sent.iter().collect();
        sent.sort_by_key(|(_, (i, _, _))| *i);
        for (hash, (_, _, m)) in sent {
            let Message::Notice(n) = m else { continue };
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
                let accepted = receipts.get(&(*hash, a.node)).copied();
                let receipt = accepted.map(|(_, t)| t.saturating_sub(n.created_ms));
                if let Some(l) = receipt {
                    entry.1.push(l);
                    if outcome(accepted, (n.id(), a.node, DeadlineKind::Receipt)).is_met() {
                        entry.0.receipts_on_time += 1;
                    } else {
                        entry.0.receipts_late += 1;
                    }
                }
                let mut ack = None;
                if n.needs_ack_from(&a.node) {
                    entry.0.acks_due += 1;
                    let accepted = acks.get(&(n.id(), a.node)).copied();
                    ack = accepted.map(|(_, t)| t.saturating_sub(n.created_ms));
                    if let Some(l) = ack {
                        entry.2.push(l);
                        if outcome(accepted, (n.id(), a.node, DeadlineKind::Ack)).is_met() {
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
pub fn text(r: &Report) -> String {
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
pub fn html(r: &Report) -> String {
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
