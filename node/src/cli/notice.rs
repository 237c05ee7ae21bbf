//! A whole notice as an officer reads it on a terminal: every field of its body, every language,
//! attachments with their hashes, and every party's receipt and acknowledgement — what was
//! decided, by whom, with what remark, and when, with the date (issue 12, items 1 and 2).

use std::fmt::Write as _;

use hotline_proto::utc::utc_seconds;
use hotline_proto::{AckView, Attachment, Body, Incident, Texts};
use serde::Serialize;

use crate::api::{DirectionInfo, NoticeInfo};

use super::print::left;

/// The wire (and schema) name of an enumeration value, e.g. `decision_support`.
fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Every version of a text, one block per language, indented under its label.
fn texts(out: &mut String, label: &str, t: &Texts) {
    if t.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {label}:");
    for version in t {
        let mut lines = version.text.lines();
        let _ = writeln!(out, "    [{}] {}", version.lang, lines.next().unwrap_or(""));
        for line in lines {
            let _ = writeln!(out, "         {line}");
        }
    }
}

fn attachments(out: &mut String, list: &[Attachment]) {
    if list.is_empty() {
        return;
    }
    let _ =
        writeln!(out, "  attachments (check a file you received with `hotline attachment check ID FILE`):");
    for a in list {
        let _ = writeln!(
            out,
            "    sha256 {}  {} bytes  {}  {}",
            a.sha256.to_hex(),
            a.size,
            if a.media_type.is_empty() { "-" } else { &a.media_type },
            a.description
        );
    }
}

/// Tenths of a degree as `29.1° N`.
fn degrees(tenths: i16, positive: char, negative: char) -> String {
    let hemisphere = if tenths < 0 { negative } else { positive };
    let t = i32::from(tenths).abs();
    format!("{}.{}° {hemisphere}", t / 10, t % 10)
}

fn incident(out: &mut String, i: &Incident) {
    let modes: Vec<String> = i.failure_modes.iter().map(word).collect();
    let _ = writeln!(
        out,
        "  severity {}   domain {}   system {}   {}",
        word(&i.severity),
        word(&i.domain),
        word(&i.system_class),
        word(&i.completeness)
    );
    let _ = writeln!(out, "  failure modes: {}", modes.join(", "));
    let place = match &i.location {
        Some(l) => {
            let mut p =
                if l.region.trim().is_empty() { "unnamed region".to_string() } else { l.region.clone() };
            if let (Some(lat), Some(lon)) = (l.lat_decideg, l.lon_decideg) {
                let _ = write!(p, " ({}, {})", degrees(lat, 'N', 'S'), degrees(lon, 'E', 'W'));
            }
            p
        }
        None => "not given".into(),
    };
    let _ = writeln!(out, "  occurred {}   where: {place}", utc_seconds(i.occurred_ms));
    texts(out, "summary", &i.summary);
    texts(out, "suspected cause", &i.suspected_cause);
    let _ = writeln!(
        out,
        "  human control: {}; final decision by {}",
        word(&i.human_control.role),
        i.human_control.final_decision_by
    );
    texts(out, "human-control statement", &i.human_control.statement);
    texts(out, "actions taken", &i.actions_taken);
    texts(out, "requested response", &i.requested_response);
    let _ = writeln!(out, "  contact: {}", i.contact);
    attachments(out, &i.attachments);
}

/// The attachments a notice's body names.
pub(super) fn attachments_of(b: &Body) -> &[Attachment] {
    match b {
        Body::Incident(i) => &i.attachments,
        Body::Codebook(c) => &c.attachments,
        Body::Reply(_) | Body::Clarification(_) => &[],
    }
}

fn body(out: &mut String, b: &Body) {
    match b {
        Body::Incident(i) => incident(out, i),
        Body::Reply(t) => texts(out, "reply", t),
        Body::Clarification(t) => texts(out, "clarification asked", t),
        Body::Codebook(c) => {
            let _ = writeln!(out, "  code {} ({})", c.word, c.number);
            texts(out, "note", &c.note);
            attachments(out, &c.attachments);
        }
    }
}

/// An acknowledgement's content: `understood by watch 1 at 2027-01-15 08:03:00Z`, then its note.
fn ack(out: &mut String, indent: &str, a: &AckView) {
    let _ =
        writeln!(out, "{indent}{} by {} at {}", a.disposition.name(), a.operator, utc_seconds(a.acked_ms));
    for version in &a.note {
        let _ = writeln!(out, "{indent}  note [{}] {}", version.lang, version.text.replace('\n', " / "));
    }
}

/// The whole notice, then what became of it.
pub fn render(n: &NoticeInfo, links: &[crate::api::LinkInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}  {} {} from {}  created {}",
        n.id,
        n.precedence.name(),
        n.kind.name(),
        n.from,
        utc_seconds(n.created_ms)
    );
    let to: Vec<String> =
        n.to.iter().map(|a| format!("{} ({})", a.name, super::print::role(a.role))).collect();
    let _ = writeln!(out, "  to: {}", to.join(", "));
    if let Some(r) = &n.in_reply_to {
        let _ = writeln!(out, "  in reply to {r}");
    }
    body(&mut out, &n.body);
    let after = |t: Option<u64>| {
        t.map_or("—".to_string(), |t| {
            format!(
                "+{} ({})",
                left(i64::try_from(t.saturating_sub(n.created_ms)).unwrap_or(i64::MAX)),
                utc_seconds(t)
            )
        })
    };
    let missed = |flag: bool| if flag { " DEADLINE MISSED" } else { "" };
    match &n.direction {
        DirectionInfo::Sent { parties } => {
            let _ = writeln!(out, "  delivery:");
            for p in parties {
                let _ = writeln!(
                    out,
                    "    {:<8} {:<6} receipt {}{}",
                    p.name,
                    super::print::role(p.role),
                    after(p.receipt_ms),
                    missed(p.receipt_missed)
                );
                if p.role == hotline_proto::Role::Action {
                    let _ = writeln!(
                        out,
                        "             acknowledgement {}{}",
                        after(p.ack_ms),
                        missed(p.ack_missed)
                    );
                }
                if let Some(a) = &p.ack {
                    ack(&mut out, "               ", a);
                }
                let outstanding =
                    p.receipt_ms.is_none() || (p.role == hotline_proto::Role::Action && p.ack_ms.is_none());
                // Outstanding: what stops it now; late: the outage it fell into, if the node saw one.
                let late = p.receipt_missed || p.ack_missed;
                let until = p.ack_ms.or(p.receipt_ms).unwrap_or_else(crate::now_ms);
                let why =
                    outstanding.then(|| super::print::link_trouble(links, &p.name)).flatten().or_else(|| {
                        late.then(|| super::print::past_outage(links, &p.name, n.created_ms, until)).flatten()
                    });
                if let Some(why) = why {
                    let _ = writeln!(out, "             why: {why}");
                }
            }
        }
        DirectionInfo::Received {
            needs_ack,
            acked,
            overdue,
            ack_left_ms,
            own_ack,
            sender_clock_offset_ms,
        } => {
            let state = match (needs_ack, acked, overdue) {
                (_, true, _) => "you acknowledged it".to_string(),
                (true, _, true) => {
                    format!("you have NOT acknowledged it: OVERDUE since {}", utc_seconds(n.ack_due_ms))
                }
                (true, _, _) => format!(
                    "you must acknowledge it by {}{} ({} left)",
                    utc_seconds(n.ack_due_ms),
                    super::print::on_clock_of(&n.from, *sender_clock_offset_ms),
                    left(*ack_left_ms)
                ),
                _ => "an information copy: no acknowledgement is owed".to_string(),
            };
            let _ = writeln!(out, "  received {}; {state}", utc_seconds(n.logged_ms));
            if let Some(a) = own_ack {
                ack(&mut out, "    ", a);
            }
        }
    }
    out
}
