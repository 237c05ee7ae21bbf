//! The human text of every reply and event: one place for each, so the words stay consistent and
//! the compiler checks that each event has its case.

use super::style::{paint, Tone};
use crate::api::{DirectionInfo, Event, Inbox, LinkInfo, NoticeInfo, Status, Thread};

/// The `--json` form of every read command: one line per object, with `"api"`, the version of
/// the operator API whose types it carries ([`crate::api::API_VERSION`]); a list goes under
/// `key`.
pub fn print_json<T: serde::Serialize>(value: &T, key: &str) -> anyhow::Result<()> {
    let mut object = match serde_json::to_value(value)? {
        serde_json::Value::Object(map) => map,
        other => [(key.to_string(), other)].into_iter().collect(),
    };
    object.insert("api".into(), crate::api::API_VERSION.into());
    println!("{}", serde_json::Value::Object(object));
    Ok(())
}

/// `1h 30m`, `10m`, `5s`, `250ms`.
pub fn span(ms: u64) -> String {
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

/// A signed duration for humans: `4m 12s`, `-35s`.
pub fn left(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let s = ms.unsigned_abs() / 1000;
    match s {
        s if s >= 3600 => format!("{sign}{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{sign}{}m {:02}s", s / 60, s % 60),
        s => format!("{sign}{s}s"),
    }
}

/// ` on bravo's clock, 3m 00s ahead of ours` when the sender's clock is flagged as skewed (a
/// deadline is on the sender's clock, spec §6.9), else nothing.
pub fn on_clock_of(sender: &str, offset_ms: Option<i64>) -> String {
    match offset_ms {
        Some(o) => {
            let way = if o >= 0 { "ahead of" } else { "behind" };
            format!(" on {sender}'s clock, {} {way} ours", left(o.saturating_abs()))
        }
        None => String::new(),
    }
}

/// A deadline for humans: `OVERDUE by 35s` once it has passed, otherwise `ahead` of the time left.
fn overdue_or(left_ms: i64, ahead: impl FnOnce(String) -> String) -> String {
    if left_ms < 0 {
        format!("OVERDUE by {}", left(-left_ms))
    } else {
        ahead(left(left_ms))
    }
}

/// Sent notices, one line each, with every addressee's progress.
pub(super) fn print_sent(sent: &[NoticeInfo]) {
    if sent.is_empty() {
        println!("nothing sent");
        return;
    }
    for n in sent {
        let precedence = format!("{:<9}", n.precedence.name());
        let precedence = match n.precedence {
            hotline_proto::Precedence::Flash => paint(&precedence, Tone::Alarm),
            _ => precedence,
        };
        println!(
            "  {:<12} {precedence} {:<13} {} {}",
            n.id,
            n.kind.name(),
            hotline_proto::utc::utc_seconds(n.logged_ms),
            n.headline
        );
        if let DirectionInfo::Sent { parties } = &n.direction {
            for p in parties {
                let receipt = match (p.receipt_ms, p.receipt_missed) {
                    (Some(ms), _) => format!("receipt {}", hotline_proto::utc::utc_seconds(ms)),
                    (None, true) => paint("receipt MISSED", Tone::Alarm),
                    (None, false) => "no receipt yet".to_string(),
                };
                let ack = match (&p.ack, p.ack_missed, p.role) {
                    (Some(a), _, _) => format!("acknowledged {} by {}", a.disposition.name(), a.operator),
                    (None, true, _) => paint("acknowledgement MISSED", Tone::Alarm),
                    (None, false, hotline_proto::Role::Action) => "no acknowledgement yet".to_string(),
                    (None, false, hotline_proto::Role::Info) => "for information".to_string(),
                };
                println!("  {:<12} {:<8} {receipt}; {ack}", "", p.name);
            }
        }
    }
}

pub(super) fn print_inbox(inbox: &Inbox) {
    if inbox.awaiting_ack.is_empty() && inbox.other.is_empty() {
        println!("inbox empty");
        return;
    }
    let line = |n: &NoticeInfo, state: &str| {
        let precedence = format!("{:<9}", n.precedence.name());
        let precedence = match n.precedence {
            hotline_proto::Precedence::Flash => paint(&precedence, Tone::Alarm),
            _ => precedence,
        };
        let state = format!("{state:<18}");
        let state = if state.starts_with("OVERDUE") { paint(&state, Tone::Alarm) } else { state };
        println!(
            "  {:<12} {precedence} {:<13} from {:<8} {state} {}",
            n.id,
            n.kind.name(),
            n.from,
            n.headline
        );
    };
    if !inbox.awaiting_ack.is_empty() {
        println!("AWAITING YOUR ACKNOWLEDGEMENT");
        for n in &inbox.awaiting_ack {
            let (left, offset) = match &n.direction {
                DirectionInfo::Received { ack_left_ms, sender_clock_offset_ms, .. } => {
                    (*ack_left_ms, *sender_clock_offset_ms)
                }
                DirectionInfo::Sent { .. } => (0, None),
            };
            line(n, &overdue_or(left, |t| format!("{t} left")));
            if offset.is_some() {
                println!(
                    "  {:<12} the deadline is {}{}",
                    "",
                    hotline_proto::utc::utc_seconds(n.ack_due_ms),
                    on_clock_of(&n.from, offset)
                );
            }
        }
    }
    if !inbox.other.is_empty() {
        println!("OTHER");
        for n in &inbox.other {
            let acked = matches!(n.direction, DirectionInfo::Received { acked: true, .. });
            line(n, if acked { "acknowledged" } else { "information" });
        }
        if inbox.more {
            println!("  … older notices not shown (--limit N shows more)");
        }
    }
}

pub(super) fn print_thread(thread: &Thread, links: &[LinkInfo]) {
    println!("thread {}", thread.thread);
    for n in &thread.notices {
        print!("{}", super::notice::render(n, links));
    }
}

/// Why `party`'s receipt or acknowledgement of a notice sent at `from_ms` came late or not by
/// `to_ms`, when the link's latest outage overlaps that time: "the link to bravo was down from …
/// to …".
pub(super) fn past_outage(links: &[LinkInfo], party: &str, from_ms: u64, to_ms: u64) -> Option<String> {
    let (down, up) = links.iter().find(|l| l.peer == party)?.last_outage_ms?;
    (down <= to_ms && up >= from_ms).then(|| {
        format!(
            "the link to {party} was down from {} to {}",
            hotline_proto::utc::utc_seconds(down),
            hotline_proto::utc::utc_seconds(up)
        )
    })
}

/// Why nothing may be coming from `party`, as far as this node knows now: its link is down,
/// nothing was ever heard from it, or its frames are refused. None when the link is up.
pub(super) fn link_trouble(links: &[LinkInfo], party: &str) -> Option<String> {
    let l = links.iter().find(|l| l.peer == party)?;
    let silent = left(i64::try_from(l.silent_ms).unwrap_or(i64::MAX));
    match &l.last_refusal {
        Some(r) if !l.heard || r.at_ms > l.last_heard_ms => {
            return Some(format!("this node refuses {party}'s frames ({})", r.code));
        }
        _ => {}
    }
    if !l.up {
        Some(format!("the link to {party} is DOWN (nothing heard for {silent})"))
    } else if !l.heard {
        Some(format!("nothing heard from {party} since this node started {silent} ago"))
    } else {
        None
    }
}

pub(super) fn role(role: hotline_proto::Role) -> &'static str {
    match role {
        hotline_proto::Role::Action => "action",
        hotline_proto::Role::Info => "info",
    }
}

pub(super) fn print_status(s: &Status) {
    println!("{}  network {} ({})", s.name, s.network, s.network_id);
    println!("spoken fingerprint: {}", s.fingerprint);
    println!("log: {} entries ({} durable)", s.log_entries, s.durable_entries);
    if let Some(why) = &s.rolled_back {
        println!("STORE ROLLED BACK: {why}");
    }
    if let Some(why) = &s.store_error {
        println!("THE STORE CANNOT WRITE: {why}; new notices are refused until it can (the node retries by itself)");
    }
    println!("links:");
    for l in &s.links {
        let tested = match l.last_link_test_ms {
            Some(t) => format!(
                "link test logged {} ago",
                left(i64::try_from(s.now_ms.saturating_sub(t)).unwrap_or(i64::MAX))
            ),
            None => "no link test logged yet".to_string(),
        };
        let state = match (l.up, l.heard) {
            (false, _) => paint(&format!("{:<13}", "DOWN"), Tone::Alarm),
            (true, true) => paint(&format!("{:<13}", "up"), Tone::Good),
            // Presumed up at start (spec §6.10), but nothing heard yet: not the same thing.
            (true, false) => paint(&format!("{:<13}", "not yet heard"), Tone::Warn),
        };
        let heard = if l.heard {
            format!("last heard {} ago", left(i64::try_from(l.silent_ms).unwrap_or(i64::MAX)))
        } else {
            format!(
                "nothing heard since this node started {} ago",
                left(i64::try_from(l.silent_ms).unwrap_or(i64::MAX))
            )
        };
        println!(
            "  {:<10} {state} {heard}, {tested}{}{}",
            l.peer,
            match l.unreceipted {
                0 => String::new(),
                n => format!(", {n} unreceipted"),
            },
            if l.clock_skewed { ", CLOCK SKEW" } else { "" }
        );
        // A refusal newer than anything valid heard explains a link that is down or unheard.
        if let Some(r) = l.last_refusal.as_ref().filter(|r| !l.heard || r.at_ms > l.last_heard_ms) {
            let hint = match r.code.as_str() {
                "wrong_network" => ": its roster differs from this node's (compare network ids and spoken fingerprints with that party, and install the same roster)",
                "bad_signature" | "unknown_signer" | "signer_mismatch" => ": check the roster's keys with that party",
                _ => "",
            };
            let why = paint(&format!("refusing its frames: {}", r.code), Tone::Alarm);
            println!(
                "  {:<10} {why} ({}) since {}{hint}",
                "",
                r.detail,
                hotline_proto::utc::utc_seconds(r.at_ms)
            );
        }
    }
    if s.awaiting.is_empty() {
        println!("nothing awaited");
    } else {
        println!("awaiting:");
        // One line per notice and duty, the parties that owe it together: a FLASH to eight
        // parties is one line, not sixteen.
        let mut lines: Vec<(&str, &str, u64, i64, Vec<&str>)> = Vec::new();
        for a in &s.awaiting {
            let kind = a.awaiting.name();
            match lines.iter_mut().find(|(n, k, due, _, _)| *n == a.notice && *k == kind && *due == a.due_ms)
            {
                Some(line) => line.4.push(&a.party),
                None => lines.push((&a.notice, kind, a.due_ms, a.left_ms, vec![&a.party])),
            }
        }
        for (notice, kind, _, left_ms, parties) in lines {
            let due = overdue_or(left_ms, |t| format!("due in {t}"));
            let due = if left_ms < 0 { paint(&due, Tone::Alarm) } else { due };
            println!("  {notice:<12} {kind} from {:<8} {due}", parties.join(", "));
            for party in parties {
                if let Some(why) = link_trouble(&s.links, party) {
                    println!("  {:<12} {}", "", paint(&format!("why: {why}"), Tone::Warn));
                }
            }
        }
    }
}

/// Whether an event calls for the officer's attention at once: a FLASH arriving, a deadline
/// approaching or missed, a link lost, the store in trouble (the watch rings the terminal bell).
pub fn urgent(e: &Event) -> bool {
    match e {
        Event::NoticeReceived { precedence, .. } => *precedence == hotline_proto::Precedence::Flash,
        Event::DeadlineApproaching { .. }
        | Event::DeadlineMissed { .. }
        | Event::LinkDown { .. }
        | Event::StoreFailed { .. }
        | Event::StoreRolledBack { .. }
        | Event::Equivocation { .. }
        | Event::LogConflict { .. } => true,
        _ => false,
    }
}

/// One line for an event, said to the officer of node `me` (in the first person: what *you* owe,
/// by when, with the date): the one place each event is put into words (the compiler checks that
/// every event has its case).
pub fn describe(e: &Event, me: &str) -> String {
    let late = |late: bool| if late { " (LATE)" } else { "" };
    let when = |ms: u64| hotline_proto::utc::utc_seconds(ms);
    match e {
        Event::NoticeReceived { notice, kind, precedence, role: r, ack_due_ms, .. } => {
            let owed = match ack_due_ms {
                Some(due) => format!(": you must acknowledge it by {}", when(*due)),
                None => ": an information copy, nothing is owed".into(),
            };
            format!("NEW {} {} {notice} ({}){owed}", precedence.name(), kind.name(), role(*r))
        }
        Event::NoticeStored { notice } => format!("sent {notice}"),
        Event::AckStored { notice } => format!("acknowledged {notice}"),
        Event::ReceiptReceived { notice, from, late: l, .. } => format!("receipt for {notice} from {from}{}", late(*l)),
        Event::AckReceived { notice, from, disposition, late: l, .. } => {
            format!("{from} acknowledged {notice}: {}{}", disposition.name(), late(*l))
        }
        Event::DeadlineApproaching { notice, party, deadline_ms } if party == me => {
            format!("YOU must acknowledge {notice} by {} (run `hotline show {notice}`)", when(*deadline_ms))
        }
        Event::DeadlineApproaching { notice, party, deadline_ms } => {
            format!("{party} has not yet acknowledged your {notice}; it is due by {}", when(*deadline_ms))
        }
        Event::DeadlineMissed { notice, party, deadline_ms, .. } if party == me => format!(
            "YOU MISSED the acknowledgement deadline of {notice} ({}): acknowledge it now; the miss is in your log",
            when(*deadline_ms)
        ),
        Event::DeadlineMissed { notice, party, deadline, deadline_ms } => format!(
            "DEADLINE MISSED: {party} did not send the {} of your {notice} by {}",
            deadline.name(),
            when(*deadline_ms)
        ),
        Event::LinkDown { peer, .. } => format!("LINK DOWN to {peer}"),
        Event::LinkUp { peer } => format!("link up to {peer}"),
        Event::SequenceGap { peer, first, last } => format!("MISSING notices {first}..{last} from {peer}"),
        Event::ClockSkew { peer, offset_ms } => format!("CLOCK SKEW with {peer}: {offset_ms} ms"),
        Event::ClockStep { expected_ms, observed_ms } => {
            let by = i64::try_from(observed_ms.abs_diff(*expected_ms)).unwrap_or(i64::MAX);
            let way = if observed_ms >= expected_ms { "forward" } else { "back" };
            format!("THIS NODE'S CLOCK WAS STEPPED {way} by {}: check its time service", left(by))
        }
        Event::Rejected { peer, code, detail } => format!("refused a frame from {peer}: {code} ({detail})"),
        Event::StoreFailed { detail } => format!(
            "THE STORE CANNOT WRITE: {detail}. New notices are refused and nothing is accepted until it can; free disk space (the node retries by itself)"
        ),
        Event::StoreRecovered => "the store writes again; the node works normally".to_string(),
        Event::StoreRolledBack { peer, size, log_size } => format!(
            "THIS NODE'S STORE LOST ENTRIES: {peer} holds this node's signed checkpoint of {size} entries, the store holds {log_size}. The node signs nothing until store.redb is restored from a backup holding at least {} entries (run `hotline status`)",
            size + 1
        ),
        Event::StoreUnreadable { detail } => format!(
            "THE STORE COULD NOT BE READ: {detail}. A frame about an old notice was set aside (its sender sends it again); check the disk"
        ),
        Event::Equivocation { peer, notice } => format!("EQUIVOCATION by {peer} on {notice}"),
        Event::LogConflict { peer, cosigned_size, size } => format!(
            "LOG CONFLICT: {peer} presented a checkpoint of {size} entries contradicting the one of {cosigned_size} this node co-signed"
        ),
        Event::Lagged { missed } => format!("{missed} events missed: this watch fell behind (run `hotline inbox` and `hotline status`)"),
    }
}
