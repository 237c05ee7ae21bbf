//! What operators see: notices, inbox, threads, status and events as JSON (the API's answers),
//! with names instead of keys.

use hotline_proto::{Body, Direction, Event, Node, Notice, NoticeId, Roster};
use serde_json::{json, Value};

use crate::names::name;

/// A one-line headline of a notice, in its first language.
pub fn headline(notice: &Notice, roster: &Roster) -> String {
    let text = match &notice.body {
        Body::Incident(i) => i.summary.first().map(|t| t.text.clone()),
        Body::Reply(t) | Body::Clarification(t) => t.first().map(|t| t.text.clone()),
        Body::Codebook(c) => Some(match roster.policy.code(c.number).and_then(|e| e.meaning.first()) {
            Some(meaning) => format!("{} ({}): {}", c.word, c.number, meaning.text),
            None => format!("{} ({})", c.word, c.number),
        }),
        Body::LinkTest => Some("link test".into()),
    };
    let text = text.unwrap_or_default();
    let mut line: String = text.chars().take(96).collect();
    if text.chars().count() > 96 {
        line.push('…');
    }
    line
}

fn id(roster: &Roster, id: &NoticeId) -> String {
    roster.notice_name(id)
}

/// One notice with what this node knows of its delivery.
pub fn notice(node: &Node, nid: &NoticeId, now: u64) -> Option<Value> {
    let roster = node.roster();
    let view = node.view(nid)?;
    let n = view.notice;
    let mut v = json!({
        "id": id(roster, nid),
        "thread": id(roster, &n.thread_id()),
        "in_reply_to": n.in_reply_to.map(|r| id(roster, &r)),
        "from": name(roster, &n.sender),
        "to": n.to.iter().map(|a| json!({"name": name(roster, &a.node), "role": a.role})).collect::<Vec<_>>(),
        "kind": n.kind().name(),
        "precedence": n.precedence,
        "created_ms": n.created_ms,
        "logged_ms": view.logged_ms,
        "receipt_due_ms": view.receipt.due_ms(),
        "ack_due_ms": view.ack.due_ms(),
        "headline": headline(n, roster),
        "hash": view.hash.to_hex(),
        "body": n.body,
    });
    match view.direction {
        Direction::Sent { parties } => {
            v["direction"] = json!("sent");
            v["parties"] = parties
                .iter()
                .map(|p| {
                    json!({
                        "name": name(roster, &p.party),
                        "role": p.role,
                        "receipt_ms": p.receipt_ms,
                        "ack_ms": p.ack_ms,
                        "receipt_missed": p.receipt_missed,
                        "ack_missed": p.ack_missed,
                    })
                })
                .collect();
        }
        Direction::Received { needs_ack, acked, overdue } => {
            v["direction"] = json!("received");
            v["needs_ack"] = json!(needs_ack);
            v["acked"] = json!(acked);
            v["overdue"] = json!(overdue || (needs_ack && !acked && view.ack.has_passed(now)));
            v["ack_left_ms"] = json!(view.ack.left_ms(now));
        }
    }
    Some(v)
}

/// The inbox: received notices, those awaiting this node's acknowledgement first (soonest
/// deadline first), then the rest, newest first.
pub fn inbox(node: &Node, now: u64) -> Value {
    let mut waiting = Vec::new();
    let mut rest = Vec::new();
    for (n, acked) in node.received() {
        if n.kind() == hotline_proto::NoticeKind::LinkTest {
            continue;
        }
        let Some(v) = notice(node, &n.id(), now) else { continue };
        if n.needs_ack_from(&node.id()) && !acked {
            waiting.push(v);
        } else {
            rest.push(v);
        }
    }
    waiting.sort_by_key(|v| v["ack_due_ms"].as_u64());
    rest.sort_by_key(|v| std::cmp::Reverse(v["logged_ms"].as_u64()));
    json!({ "awaiting_ack": waiting, "other": rest })
}

/// A whole thread, in reading order.
pub fn thread(node: &Node, of: &NoticeId, now: u64) -> Option<Value> {
    let thread_id = node.view(of)?.notice.thread_id();
    let notices: Vec<Value> =
        node.thread(thread_id).iter().filter_map(|n| notice(node, &n.id(), now)).collect();
    Some(json!({ "thread": id(node.roster(), &thread_id), "notices": notices }))
}

/// Links, pending receipts and acknowledgements, next deadlines.
pub fn status(node: &Node, name_of_node: &str, now: u64) -> Value {
    let roster = node.roster();
    let cosigned: std::collections::BTreeMap<_, _> = node.cosigned_by_peers().into_iter().collect();
    let links: Vec<Value> = node
        .links()
        .iter()
        .map(|l| {
            json!({
                "peer": name(roster, &l.peer),
                "cosigned_size": cosigned.get(&l.peer).copied().unwrap_or(0),
                "up": l.up,
                "last_heard_ms": l.last_heard_ms,
                "silent_ms": now.saturating_sub(l.last_heard_ms),
                "unreceipted": l.unreceipted,
                "clock_skewed": l.clock_skewed,
            })
        })
        .collect();
    let mut awaiting: Vec<Value> = node
        .awaiting()
        .iter()
        .filter_map(|(nid, party, what)| {
            let view = node.view(nid)?;
            if view.notice.kind() == hotline_proto::NoticeKind::LinkTest {
                return None;
            }
            let deadline = match what {
                hotline_proto::DeadlineKind::Receipt => view.receipt,
                hotline_proto::DeadlineKind::Ack => view.ack,
            };
            Some(json!({
                "notice": id(roster, nid),
                "party": name(roster, party),
                "awaiting": what,
                "due_ms": deadline.due_ms(),
                "left_ms": deadline.left_ms(now),
            }))
        })
        .collect();
    awaiting.sort_by_key(|v| v["due_ms"].as_u64());
    json!({
        "name": name_of_node,
        "node_id": node.id().to_hex(),
        "network": roster.network,
        "network_id": node.network().to_hex(),
        "now_ms": now,
        "log_entries": node.log_len(),
        "durable_entries": node.durable_len(),
        "links": links,
        "awaiting": awaiting,
    })
}

/// An event for the operator, as JSON.
pub fn event(roster: &Roster, e: &Event) -> Value {
    let n = |x: &hotline_proto::NodeId| name(roster, x);
    match e {
        Event::NoticeStored { id: i } => json!({"event": "notice_stored", "notice": id(roster, i)}),
        Event::AckStored { notice } => json!({"event": "ack_stored", "notice": id(roster, notice)}),
        Event::NoticeReceived { id: i, thread, kind, precedence, role, ack_due_ms } => json!({
            "event": "notice_received", "notice": id(roster, i), "thread": id(roster, thread),
            "kind": kind.name(), "precedence": precedence, "role": role, "ack_due_ms": ack_due_ms,
        }),
        Event::ReceiptReceived { notice, from, of, late } => json!({
            "event": "receipt_received", "notice": id(roster, notice), "from": n(from), "of": of, "late": late,
        }),
        Event::AckReceived { notice, from, disposition, operator, late } => json!({
            "event": "ack_received", "notice": id(roster, notice), "from": n(from),
            "disposition": disposition, "operator": operator, "late": late,
        }),
        Event::DeadlineApproaching { notice, party, deadline_ms } => json!({
            "event": "deadline_approaching", "notice": id(roster, notice), "party": n(party), "deadline_ms": deadline_ms,
        }),
        Event::DeadlineMissed { notice, party, deadline, deadline_ms } => json!({
            "event": "deadline_missed", "notice": id(roster, notice), "party": n(party),
            "deadline": deadline, "deadline_ms": deadline_ms,
        }),
        Event::LinkDown { peer, last_heard_ms } => {
            json!({"event": "link_down", "peer": n(peer), "last_heard_ms": last_heard_ms})
        }
        Event::LinkUp { peer } => json!({"event": "link_up", "peer": n(peer)}),
        Event::SequenceGap { peer, first, last } => {
            json!({"event": "sequence_gap", "peer": n(peer), "first": first, "last": last})
        }
        Event::ClockSkew { peer, offset_ms } => {
            json!({"event": "clock_skew", "peer": n(peer), "offset_ms": offset_ms})
        }
        Event::Rejected { peer, code, detail } => {
            json!({"event": "rejected", "peer": n(peer), "code": code.name(), "detail": detail})
        }
        Event::Equivocation { peer, notice } => {
            json!({"event": "equivocation", "peer": n(peer), "notice": id(roster, notice)})
        }
        Event::LogConflict { peer, cosigned_size, size } => json!({
            "event": "log_conflict", "peer": n(peer), "cosigned_size": cosigned_size, "size": size,
        }),
    }
}
