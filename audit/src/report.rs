//! The deadline compliance report (spec §15.7): per addressee and precedence, from the senders'
//! logs, with every recorded miss once and the evidence of every log that recorded it, the
//! clocks the parties recorded as skewed, and a timeline; as JSON (format
//! [`FORMAT`]), text, or a self-contained HTML page (no scripts, no external resources).
//!
//! Every figure is computed from bundles verified in full in the same pass
//! ([`crate::cross::load`]); the provenance says which, with their sizes and roots.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hotline_proto::utc::{rfc3339_ms, utc_seconds};
use hotline_proto::{DeadlineKind, Hash32, Kind, Message, NodeId, NoticeId, Outcome, Precedence, Roster};
use serde::Serialize;

use crate::cross::Party;

/// The report's JSON format and version (spec §15.7).
pub const FORMAT: &str = "cbm-hotline-audit-report/1";

/// What the report was computed from.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    /// The network's name and id.
    pub network: String,
    /// The network id (the roster's hash).
    pub network_id: Hash32,
    /// The bundles, each verified in full (signatures, chain, tree, tiles, notes, readable log)
    /// before anything below was computed from it.
    pub bundles: Vec<BundleInfo>,
    /// The span of time the logs cover (UTC ms): the earliest first entry, the latest last one.
    pub from_ms: Option<u64>,
    /// See `from_ms`.
    pub to_ms: Option<u64>,
    /// When the report was made, on the auditor's clock (UTC ms).
    pub generated_ms: u64,
    /// What made it.
    pub software: String,
}

/// One verified bundle.
#[derive(Clone, Debug, Serialize)]
pub struct BundleInfo {
    /// Whose log.
    pub party: String,
    /// Where it was read.
    pub path: String,
    /// Its entries.
    pub size: u64,
    /// Its root.
    pub root: Hash32,
    /// Times of its first and last entries (UTC ms).
    pub first_ms: Option<u64>,
    /// See `first_ms`.
    pub last_ms: Option<u64>,
    /// Earlier bundles of the same log given with it (prefixes of it).
    pub earlier: Vec<(String, u64)>,
}

/// How the receipts or the acknowledgements owed by one addressee at one precedence fared.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    /// Owed: every notice for receipts; the notices it was an action addressee of for acks.
    pub due: usize,
    /// Accepted by the sender before its log recorded a miss.
    pub on_time: usize,
    /// Accepted after the sender's log recorded the miss.
    pub late: usize,
    /// Missed and never accepted, as far as the sender's bundle goes.
    pub missed: usize,
    /// Neither accepted nor missed by the end of the sender's bundle: the deadline had not yet
    /// fallen there. Never counted as missed.
    pub pending: usize,
    /// Latency from the notice's creation to the sender's acceptance (ms): p50, p95, max;
    /// `null` when nothing was accepted.
    pub latency_ms: Option<[u64; 3]>,
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
    /// Receipts.
    pub receipts: Tally,
    /// Acknowledgements.
    pub acks: Tally,
}

/// A log entry that is evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Whose log.
    pub recorded_by: String,
    /// The entry's index.
    pub entry: u64,
}

/// A recorded deadline miss, once, with every log entry that records it (the sender records a
/// missed receipt or acknowledgement; the addressee records its own missed acknowledgement).
#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    /// A stable anchor: `miss-1`, `miss-2`, … in order of the deadline.
    pub id: String,
    /// The notice.
    pub notice: String,
    /// Who missed.
    pub party: String,
    /// Receipt or ack.
    pub deadline: DeadlineKind,
    /// When it fell (UTC ms).
    pub deadline_ms: u64,
    /// Whether it was accepted after all (late), in the sender's bundle.
    pub accepted_late: bool,
    /// The entries that record it.
    pub evidence: Vec<Evidence>,
}

/// One addressee's part in a notice on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct PartyOutcome {
    /// The addressee.
    pub party: String,
    /// How its receipt fared (`unknown` without the sender's bundle).
    pub receipt: String,
    /// Receipt latency from creation (ms), if accepted.
    pub receipt_ms: Option<u64>,
    /// How its acknowledgement fared, if one was owed.
    pub ack: Option<String>,
    /// Acknowledgement latency from creation (ms), if accepted.
    pub ack_ms: Option<u64>,
    /// The misses of this notice by this party (ids in [`Report::misses`]).
    pub misses: Vec<String>,
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
    /// Created (UTC ms, the sender's signed time).
    pub created_ms: u64,
    /// Whether the sender's bundle is among those audited (else the notice is known from an
    /// addressee's log, and its outcomes are not the sender's record).
    pub sender_audited: bool,
    /// Per addressee.
    pub parties: Vec<PartyOutcome>,
}

/// A peer's clock as one party's log recorded it (spec §6.9).
#[derive(Clone, Debug, Serialize)]
pub struct Skew {
    /// Whose log.
    pub recorded_by: String,
    /// Whose clock.
    pub peer: String,
    /// The largest difference recorded, peer minus recorder (ms): positive when the peer's
    /// clock runs ahead.
    pub offset_ms: i64,
    /// The entry recording it, and when (the recorder's clock, UTC ms).
    pub entry: u64,
    /// See `entry`.
    pub time_ms: u64,
    /// How many times it was recorded.
    pub records: usize,
}

/// The deadline report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// [`FORMAT`].
    pub format: &'static str,
    /// What it was computed from.
    pub provenance: Provenance,
    /// Per addressee and precedence.
    pub compliance: Vec<Compliance>,
    /// Every recorded miss, once.
    pub misses: Vec<Miss>,
    /// Clock skew the parties recorded of each other.
    pub clocks: Vec<Skew>,
    /// Every notice, in order of creation.
    pub timeline: Vec<Event>,
}

/// A compliance row with its receipt and acknowledgement latencies, before percentiles.
type Row = (Compliance, Vec<u64>, Vec<u64>);

fn percentiles(mut v: Vec<u64>) -> Option<[u64; 3]> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let at = |q: usize| v[(v.len() - 1) * q / 100];
    Some([at(50), at(95), v[v.len() - 1]])
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Open => "pending",
        Outcome::Met => "on_time",
        Outcome::Late => "late",
        Outcome::Missed => "missed",
    }
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        self.due += 1;
        match outcome {
            Outcome::Open => self.pending += 1,
            Outcome::Met => self.on_time += 1,
            Outcome::Late => self.late += 1,
            Outcome::Missed => self.missed += 1,
        }
    }
}

/// Builds the report from verified bundles, made now on the auditor's clock.
pub fn report(roster: &Roster, parties: &[Party]) -> Report {
    report_at(roster, parties, crate::wall_now_ms())
}

/// [`report`], made at `generated_ms`.
pub fn report_at(roster: &Roster, parties: &[Party], generated_ms: u64) -> Report {
    let name = |id: &NodeId| roster.member(id).map_or_else(|| id.short(), |m| m.name.clone());
    // Misses, once each, with every entry that records them.
    let mut misses: BTreeMap<(NoticeId, NodeId, DeadlineKind), Miss> = BTreeMap::new();
    for p in parties {
        for (i, _, notice, party, deadline, deadline_ms) in &p.misses {
            let miss = misses.entry((*notice, *party, *deadline)).or_insert_with(|| Miss {
                id: String::new(),
                notice: roster.notice_name(notice),
                party: name(party),
                deadline: *deadline,
                deadline_ms: *deadline_ms,
                accepted_late: false,
                evidence: Vec::new(),
            });
            miss.evidence.push(Evidence { recorded_by: p.manifest.name.clone(), entry: *i });
        }
    }
    let mut order: Vec<_> = misses.keys().copied().collect();
    order.sort_by_key(|k| (misses[k].deadline_ms, roster.notice_name(&k.0), name(&k.1)));
    for (n, key) in order.iter().enumerate() {
        if let Some(m) = misses.get_mut(key) {
            m.id = format!("miss-{}", n + 1);
        }
    }

    let mut rows: BTreeMap<(String, Precedence), Row> = BTreeMap::new();
    let mut timeline = Vec::new();
    let audited: BTreeMap<NodeId, &Party> = parties.iter().map(|p| (p.manifest.node, p)).collect();
    // Notices shown from an addressee's log (their sender's bundle is not audited), once each.
    let mut from_addressees: std::collections::BTreeSet<NoticeId> = std::collections::BTreeSet::new();
    for p in parties {
        // (entry index, time) of each accepted receipt and ack, and the index of each recorded
        // miss: a deadline is met if accepted before the miss is recorded (spec §6.4).
        let mut receipts: BTreeMap<(Hash32, NodeId), (u64, u64)> = BTreeMap::new();
        let mut acks: BTreeMap<(NoticeId, NodeId), (u64, u64)> = BTreeMap::new();
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
        let missed: BTreeMap<(NoticeId, NodeId, DeadlineKind), u64> = p
            .misses
            .iter()
            .filter(|(_, _, _, party, _, _)| *party != p.manifest.node)
            .map(|(i, _, notice, party, kind, _)| ((*notice, *party, *kind), *i))
            .collect();
        let mut sent: Vec<_> = p.sent.iter().collect();
        sent.sort_by_key(|(_, (i, _, _))| *i);
        for (hash, (_, _, m)) in sent {
            let Message::Notice(n) = m else { continue };
            let mut event = Event {
                notice: roster.notice_name(&n.id()),
                from: p.manifest.name.clone(),
                precedence: n.precedence.name().to_string(),
                created_ms: n.created_ms,
                sender_audited: true,
                parties: Vec::new(),
            };
            for a in &n.to {
                let party = name(&a.node);
                let row = rows.entry((party.clone(), n.precedence)).or_default();
                row.0.party = party.clone();
                row.0.precedence = n.precedence.name().to_string();
                row.0.notices += 1;
                let mut ids = Vec::new();
                let mut judge = |kind: DeadlineKind, accepted: Option<(u64, u64)>| {
                    let key = (n.id(), a.node, kind);
                    let outcome = Outcome::of(accepted.map(|(i, _)| i), missed.get(&key).copied());
                    if let Some(m) = misses.get_mut(&key) {
                        m.accepted_late |= outcome == Outcome::Late;
                        ids.push(m.id.clone());
                    }
                    (outcome, accepted.map(|(_, t)| t.saturating_sub(n.created_ms)))
                };
                let (receipt, receipt_ms) =
                    judge(DeadlineKind::Receipt, receipts.get(&(*hash, a.node)).copied());
                row.0.receipts.count(receipt);
                row.1.extend(receipt_ms);
                let ack = n.needs_ack_from(&a.node).then(|| {
                    let (ack, ack_ms) = judge(DeadlineKind::Ack, acks.get(&(n.id(), a.node)).copied());
                    row.0.acks.count(ack);
                    row.2.extend(ack_ms);
                    (ack, ack_ms)
                });
                event.parties.push(PartyOutcome {
                    party,
                    receipt: outcome_name(receipt).into(),
                    receipt_ms,
                    ack: ack.map(|(o, _)| outcome_name(o).into()),
                    ack_ms: ack.and_then(|(_, l)| l),
                    misses: ids,
                });
            }
            timeline.push(event);
        }
        // Notices this party accepted whose sender's bundle is not audited: shown, from the
        // addressee's side only.
        for (_, _, _, m) in p.accepted.values() {
            let Message::Notice(n) = m else { continue };
            if audited.contains_key(&n.sender) || !from_addressees.insert(n.id()) {
                continue;
            }
            let me = p.manifest.node;
            let missed_own = misses.get(&(n.id(), me, DeadlineKind::Ack)).map(|m| m.id.clone());
            timeline.push(Event {
                notice: roster.notice_name(&n.id()),
                from: name(&n.sender),
                precedence: n.precedence.name().to_string(),
                created_ms: n.created_ms,
                sender_audited: false,
                parties: vec![PartyOutcome {
                    party: p.manifest.name.clone(),
                    receipt: "unknown".into(),
                    receipt_ms: None,
                    ack: n
                        .needs_ack_from(&me)
                        .then(|| if missed_own.is_some() { "missed" } else { "unknown" }.into()),
                    ack_ms: None,
                    misses: missed_own.into_iter().collect(),
                }],
            });
        }
    }
    let compliance = rows
        .into_values()
        .map(|(mut c, r, a)| {
            c.receipts.latency_ms = percentiles(r);
            c.acks.latency_ms = percentiles(a);
            c
        })
        .collect();
    timeline.sort_by(|a, b| (a.created_ms, &a.notice).cmp(&(b.created_ms, &b.notice)));
    let misses: Vec<Miss> = order.iter().filter_map(|key| misses.remove(key)).collect();

    let mut clocks: BTreeMap<(String, String), Skew> = BTreeMap::new();
    for p in parties {
        for (entry, time_ms, peer, offset_ms) in &p.skews {
            let key = (p.manifest.name.clone(), name(peer));
            let s = clocks.entry(key.clone()).or_insert(Skew {
                recorded_by: key.0,
                peer: key.1,
                offset_ms: *offset_ms,
                entry: *entry,
                time_ms: *time_ms,
                records: 0,
            });
            s.records += 1;
            if offset_ms.unsigned_abs() > s.offset_ms.unsigned_abs() {
                (s.offset_ms, s.entry, s.time_ms) = (*offset_ms, *entry, *time_ms);
            }
        }
    }
    let bundles = parties
        .iter()
        .map(|p| BundleInfo {
            party: p.manifest.name.clone(),
            path: p.path.display().to_string(),
            size: p.manifest.size,
            root: p.manifest.root,
            first_ms: p.start_ms,
            last_ms: p.start_ms.map(|_| p.end_ms),
            earlier: p.others.iter().map(|(path, size, _, _)| (path.display().to_string(), *size)).collect(),
        })
        .collect();
    Report {
        format: FORMAT,
        provenance: Provenance {
            network: roster.network.clone(),
            network_id: roster.network_id(),
            bundles,
            from_ms: parties.iter().filter_map(|p| p.start_ms).min(),
            to_ms: parties.iter().filter(|p| p.start_ms.is_some()).map(|p| p.end_ms).max(),
            generated_ms,
            software: concat!("hotline-audit/", env!("CARGO_PKG_VERSION")).into(),
        },
        compliance,
        misses,
        clocks: clocks.into_values().collect(),
        timeline,
    }
}

fn latency(l: &Option<[u64; 3]>, unit_ms: u64, unit: &str) -> String {
    match l {
        Some([a, b, c]) => format!("{}/{}/{} {unit}", a / unit_ms, b / unit_ms, c / unit_ms),
        None => "—".into(),
    }
}

fn tally(t: &Tally) -> String {
    format!("{}/{}/{}/{} of {}", t.on_time, t.late, t.missed, t.pending, t.due)
}

fn skew_words(s: &Skew) -> String {
    let way = if s.offset_ms >= 0 { "ahead of" } else { "behind" };
    format!(
        "{} recorded {}'s clock {} ms {way} its own (largest of {} records: entry {}, at {})",
        s.recorded_by,
        s.peer,
        s.offset_ms.unsigned_abs(),
        s.records,
        s.entry,
        utc_seconds(s.time_ms)
    )
}

/// The report as plain text for people.
pub fn text(r: &Report) -> String {
    let p = &r.provenance;
    let mut s = String::from("CBM hotline audit report\n\n");
    let _ = writeln!(s, "network   {} ({})", p.network, p.network_id);
    if let (Some(from), Some(to)) = (p.from_ms, p.to_ms) {
        let _ = writeln!(s, "covering  {} to {}", utc_seconds(from), utc_seconds(to));
    }
    let _ = writeln!(s, "made      {} by {}", utc_seconds(p.generated_ms), p.software);
    let _ = writeln!(s, "bundles   (each verified in full before anything below was computed)");
    for b in &p.bundles {
        let _ = writeln!(s, "  {:<10} {} entries, root {}  {}", b.party, b.size, b.root, b.path);
        for (path, size) in &b.earlier {
            let _ = writeln!(s, "  {:<10} an earlier bundle of the same log: {size} entries, {path}", "");
        }
    }
    let _ = writeln!(
        s,
        "\nDeadline compliance, per addressee and precedence, from the senders' logs\n(on time/late/missed/pending of due; pending: the deadline had not fallen by the end of the sender's bundle)\n"
    );
    let _ = writeln!(
        s,
        "{:<10} {:<10} {:>7} {:>24} {:>24} {:>20} {:>16}",
        "party", "precedence", "notices", "receipts", "acks", "receipt p50/p95/max", "ack p50/p95/max"
    );
    for c in &r.compliance {
        let _ = writeln!(
            s,
            "{:<10} {:<10} {:>7} {:>24} {:>24} {:>20} {:>16}",
            c.party,
            c.precedence,
            c.notices,
            tally(&c.receipts),
            tally(&c.acks),
            latency(&c.receipts.latency_ms, 1, "ms"),
            latency(&c.acks.latency_ms, 1000, "s"),
        );
    }
    let _ = writeln!(s, "\nRecorded deadline misses: {}", r.misses.len());
    for m in &r.misses {
        let evidence: Vec<String> =
            m.evidence.iter().map(|e| format!("{} entry {}", e.recorded_by, e.entry)).collect();
        let _ = writeln!(
            s,
            "  {}: {} missed the {} deadline of {} at {}{} (recorded by {})",
            m.id,
            m.party,
            kind_name(m.deadline),
            m.notice,
            utc_seconds(m.deadline_ms),
            if m.accepted_late { ", accepted late" } else { "" },
            evidence.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nClocks: {}",
        if r.clocks.is_empty() { "no party recorded a peer's clock as skewed" } else { "" }
    );
    for k in &r.clocks {
        let _ = writeln!(s, "  {}", skew_words(k));
    }
    s
}

fn kind_name(k: DeadlineKind) -> &'static str {
    match k {
        DeadlineKind::Receipt => "receipt",
        DeadlineKind::Ack => "acknowledgement",
    }
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The colours of outcomes, in the timeline and its legend.
const COLOURS: [(&str, &str, &str); 4] = [
    ("on_time", "#1a7f37", "on time"),
    ("late", "#bf8700", "late"),
    ("missed", "#cf222e", "missed"),
    ("pending", "#8c959f", "pending or unknown"),
];

fn colour(outcome: &str) -> &'static str {
    COLOURS.iter().find(|(o, _, _)| *o == outcome).map_or(COLOURS[3].1, |(_, c, _)| c)
}

/// The report as a self-contained HTML page: provenance, compliance, misses with their evidence,
/// clocks, and a timeline with a time axis and a legend whose rows link to the misses.
pub fn html(r: &Report) -> String {
    let p = &r.provenance;
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CBM hotline audit report</title><style>body{font-family:sans-serif;font-size:15px;margin:2em;max-width:80em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:4px 8px}td.n{text-align:right}th{background:#eee}.missed{color:#cf222e}.late{color:#bf8700}code{font-size:13px}svg text{font-size:13px}</style></head><body><h1>CBM hotline audit report</h1>",
    );
    let _ = write!(
        s,
        "<section id=\"provenance\"><h2>Provenance</h2><table><tr><th>network</th><td>{} <code>{}</code></td></tr>",
        esc(&p.network),
        p.network_id
    );
    if let (Some(from), Some(to)) = (p.from_ms, p.to_ms) {
        let _ = write!(s, "<tr><th>covering</th><td>{} to {}</td></tr>", rfc3339_ms(from), rfc3339_ms(to));
    }
    let _ = write!(
        s,
        "<tr><th>made</th><td>{} by {}</td></tr></table><p>Every bundle below was verified in full — signatures, hash chain, Merkle tree, tiles, checkpoint notes and the readable log — before anything in this report was computed from it.</p><table><tr><th>party</th><th>entries</th><th>root</th><th>first entry</th><th>last entry</th><th>bundle</th></tr>",
        rfc3339_ms(p.generated_ms),
        esc(&p.software)
    );
    for b in &p.bundles {
        let t = |ms: Option<u64>| ms.map_or("—".to_string(), rfc3339_ms);
        let _ = write!(
            s,
            "<tr class=\"bundle\"><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&b.party),
            b.size,
            b.root,
            t(b.first_ms),
            t(b.last_ms),
            esc(&b.path)
        );
    }
    s.push_str("</table></section>");

    s.push_str("<section id=\"compliance\"><h2>Deadline compliance</h2><p>Per addressee and precedence, from the senders' logs. <em>Pending</em>: the deadline had not fallen by the end of the sender's bundle; it is never counted as missed.</p><table><tr><th rowspan=\"2\">party</th><th rowspan=\"2\">precedence</th><th rowspan=\"2\">notices</th><th colspan=\"5\">receipts</th><th colspan=\"5\">acknowledgements</th><th rowspan=\"2\">receipt p50 / p95 / max</th><th rowspan=\"2\">ack p50 / p95 / max</th></tr><tr>");
    for _ in 0..2 {
        s.push_str("<th>due</th><th>on time</th><th>late</th><th>missed</th><th>pending</th>");
    }
    s.push_str("</tr>");
    for c in &r.compliance {
        let _ = write!(
            s,
            "<tr class=\"row\"><td>{}</td><td>{}</td><td class=\"n\">{}</td>",
            esc(&c.party),
            c.precedence,
            c.notices
        );
        for t in [&c.receipts, &c.acks] {
            let _ = write!(
                s,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n late\">{}</td><td class=\"n missed\">{}</td><td class=\"n\">{}</td>",
                t.due, t.on_time, t.late, t.missed, t.pending
            );
        }
        let _ = write!(
            s,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            latency(&c.receipts.latency_ms, 1, "ms"),
            latency(&c.acks.latency_ms, 1000, "s")
        );
    }
    s.push_str("</table></section>");

    let _ = write!(s, "<section id=\"misses\"><h2>Recorded deadline misses ({})</h2>", r.misses.len());
    if r.misses.is_empty() {
        s.push_str("<p>No log records a missed deadline.</p>");
    } else {
        s.push_str("<table><tr><th></th><th>who</th><th>deadline</th><th>notice</th><th>fell at</th><th>then</th><th>recorded by (log, entry)</th></tr>");
    }
    for m in &r.misses {
        let evidence: Vec<String> =
            m.evidence.iter().map(|e| format!("{} entry {}", esc(&e.recorded_by), e.entry)).collect();
        let _ = write!(
            s,
            "<tr class=\"miss\" id=\"{}\"><td>{}</td><td>{}</td><td class=\"missed\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.id,
            m.id,
            esc(&m.party),
            kind_name(m.deadline),
            esc(&m.notice),
            rfc3339_ms(m.deadline_ms),
            if m.accepted_late { "accepted late" } else { "never accepted" },
            evidence.join("; ")
        );
    }
    if !r.misses.is_empty() {
        s.push_str("</table>");
    }
    s.push_str("</section><section id=\"clocks\"><h2>Clocks</h2>");
    if r.clocks.is_empty() {
        s.push_str("<p>No party recorded a peer's clock as skewed.</p>");
    } else {
        s.push_str("<ul>");
        for k in &r.clocks {
            let _ = write!(s, "<li class=\"skew\">{}</li>", esc(&skew_words(k)));
        }
        s.push_str("</ul>");
    }
    s.push_str("</section><section id=\"timeline\"><h2>Timeline</h2>");
    s.push_str(&timeline_svg(r));
    s.push_str("</section></body></html>\n");
    s
}

/// Each notice a row: a dot at its creation, then one bar per addressee to its receipt and on to
/// its acknowledgement, coloured by how each fared (the worse of the two); a row with a miss
/// links to it. Axis: UTC, with ticks at round intervals; legend above.
fn timeline_svg(r: &Report) -> String {
    let (w, row, left, top) = (1000.0_f64, 22.0_f64, 190.0_f64, 64.0_f64);
    let start = r.timeline.first().map_or(0, |e| e.created_ms);
    let end_of = |e: &Event| {
        e.created_ms + e.parties.iter().filter_map(|p| p.ack_ms.or(p.receipt_ms)).max().unwrap_or(0)
    };
    let deadlines = r.misses.iter().map(|m| m.deadline_ms);
    let end = r.timeline.iter().map(end_of).chain(deadlines).max().unwrap_or(start).max(start + 1000);
    let span = (end - start) as f64;
    let right = 70.0;
    let x = |t: u64| left + t.saturating_sub(start) as f64 / span * (w - left - right);
    let bars: usize = r.timeline.iter().map(|e| e.parties.len().max(1)).sum();
    let h = top + row * bars as f64 + 40.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline of notices\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    // Legend.
    for (k, (_, c, label)) in COLOURS.iter().enumerate() {
        let lx = left + 150.0 * k as f64;
        let _ = write!(
            s,
            "<g class=\"legend\"><rect x=\"{lx}\" y=\"6\" width=\"14\" height=\"14\" fill=\"{c}\"/><text x=\"{}\" y=\"18\">{label}</text></g>",
            lx + 20.0
        );
    }
    // Axis: ticks at a round step giving at most 8 of them.
    const STEPS: [u64; 12] = [
        1_000,
        5_000,
        15_000,
        60_000,
        300_000,
        900_000,
        3_600_000,
        10_800_000,
        21_600_000,
        86_400_000,
        604_800_000,
        2_592_000_000,
    ];
    let step = STEPS.iter().copied().find(|s| (end - start) / s <= 8).unwrap_or(2_592_000_000);
    let axis_y = top - 12.0;
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
        w - right
    );
    let mut t = start.div_ceil(step) * step;
    while t <= end {
        let tx = x(t);
        let label = if step >= 86_400_000 {
            rfc3339_ms(t)[..10].to_string()
        } else {
            utc_seconds(t)[5..].to_string()
        };
        let _ = write!(
            s,
            "<g class=\"tick\"><line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#ccc\"/><text x=\"{tx:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text></g>",
            axis_y,
            h - 30.0,
            axis_y - 6.0
        );
        t += step;
    }
    let _ = write!(s, "<text x=\"{left}\" y=\"{}\">UTC</text>", h - 12.0);
    let mut y = top + 6.0;
    for e in &r.timeline {
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\">{} {} → </text><circle cx=\"{:.1}\" cy=\"{}\" r=\"4\"/>",
            y + 4.0,
            esc(&e.notice),
            e.precedence,
            x(e.created_ms),
            y
        );
        for p in &e.parties {
            let worst = ["missed", "late", "pending", "on_time"]
                .into_iter()
                .find(|o| p.receipt == *o || p.ack.as_deref() == Some(*o))
                .unwrap_or("pending");
            let done = e.created_ms + p.ack_ms.or(p.receipt_ms).unwrap_or(0);
            let to = x(done).max(x(e.created_ms) + 3.0);
            let bar = format!(
                "<line class=\"bar {worst}\" x1=\"{:.1}\" y1=\"{y}\" x2=\"{to:.1}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"8\"><title>{}: receipt {}, acknowledgement {}</title></line><text x=\"{:.1}\" y=\"{}\">{}</text>",
                x(e.created_ms),
                colour(worst),
                esc(&p.party),
                p.receipt,
                p.ack.as_deref().unwrap_or("not owed"),
                to + 6.0,
                y + 4.0,
                esc(&p.party)
            );
            match p.misses.first() {
                Some(id) => {
                    let _ = write!(s, "<a href=\"#{id}\">{bar}</a>");
                }
                None => s.push_str(&bar),
            }
            // Each missed deadline: a red diamond where it fell, linked to the miss.
            for m in p.misses.iter().filter_map(|id| r.misses.iter().find(|m| &m.id == id)) {
                let mx = x(m.deadline_ms);
                let _ = write!(
                    s,
                    "<a href=\"#{}\"><path class=\"deadline missed\" d=\"M{mx:.1} {} l6 6 l-6 6 l-6 -6 z\" fill=\"{}\"><title>{}: {} deadline missed at {}</title></path></a>",
                    m.id,
                    y - 6.0,
                    colour("missed"),
                    esc(&m.party),
                    kind_name(m.deadline),
                    rfc3339_ms(m.deadline_ms)
                );
            }
            y += row;
        }
        if e.parties.is_empty() {
            y += row;
        }
    }
    s.push_str("</svg>");
    s
}
