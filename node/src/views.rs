//! What operators see: the core's state and events as the operator API's types
//! ([`crate::api`]), with names instead of keys.

use hotline_proto::{
    Body, DeadlineKind, Direction, HistoryError, Node, Notice, NoticeId, NoticeView, Roster,
};
use hotline_proto::{ClockSkew, DeadlineMissed, LinkDown, SequenceGap};

use crate::api::{
    AddresseeInfo, Awaiting, DirectionInfo, Event, Inbox, LinkInfo, NoticeInfo, PartyInfo, Status, Thread,
};
use crate::names::name;

/// A one-line headline of a notice, in its first language.
pub fn headline(notice: &Notice, roster: &Roster) -> String {
    body_headline(&notice.body, roster)
}

/// A one-line headline of a notice's content, in its first language.
pub fn body_headline(body: &Body, roster: &Roster) -> String {
    let text = match body {
        Body::Incident(i) => i.summary.first().map(|t| t.text.clone()),
        Body::Reply(t) | Body::Clarification(t) => t.first().map(|t| t.text.clone()),
        Body::Codebook(c) => Some(match roster.policy.code(c.number).and_then(|e| e.meaning.first()) {
            Some(meaning) => format!("{} ({}): {}", c.word, c.number, meaning.text),
            None => format!("{} ({})", c.word, c.number),
        }),
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
pub fn notice(node: &Node, nid: &NoticeId, now: u64) -> Result<Option<NoticeInfo>, HistoryError> {
    Ok(node.view(nid)?.map(|view| info(node, view, now)))
}

/// The most notices one `notices` request may name.
pub const NOTICES_LIMIT: usize = 64;

/// Notices by id (`sender/seq`), each one read; those not held are left out. Refused beyond
/// [`NOTICES_LIMIT`] or for an id that does not parse, saying which.
pub fn notices(node: &Node, ids: &[String], now: u64) -> Result<Vec<NoticeInfo>, String> {
    if ids.len() > NOTICES_LIMIT {
        return Err(format!("at most {NOTICES_LIMIT} notices a request ({} asked): ask in parts", ids.len()));
    }
    let mut list = Vec::with_capacity(ids.len());
    for text in ids {
        let nid = crate::names::notice(node.roster(), text).map_err(|e| format!("{e:#}"))?;
        list.extend(notice(node, &nid, now).map_err(|e| format!("{e}; try again"))?);
    }
    Ok(list)
}

/// What an operator is shown of a notice.
fn info(node: &Node, view: NoticeView, now: u64) -> NoticeInfo {
    let roster = node.roster();
    let n = &view.notice;
    let nid = &n.id();
    let direction = match view.direction {
        Direction::Sent { parties } => DirectionInfo::Sent {
            parties: parties
                .iter()
                .map(|p| PartyInfo {
                    name: name(roster, &p.party),
                    role: p.role,
                    receipt_ms: p.receipt_ms,
                    ack_ms: p.ack_ms,
                    receipt_missed: p.receipt_missed,
                    ack_missed: p.ack_missed,
                    ack: p.ack.clone(),
                })
                .collect(),
        },
        Direction::Received { needs_ack, acked, overdue, own_ack } => DirectionInfo::Received {
            needs_ack,
            acked,
            overdue: overdue || (needs_ack && !acked && view.ack.has_passed(now)),
            ack_left_ms: {
                let window = view.ack.due_ms().saturating_sub(n.created_ms);
                let here = i64::try_from(view.logged_ms.saturating_add(window)).unwrap_or(i64::MAX)
                    - i64::try_from(now).unwrap_or(i64::MAX);
                view.ack.left_ms(now).min(here)
            },
            sender_clock_offset_ms: node.clock_offset(&n.sender),
            own_ack,
        },
    };
    NoticeInfo {
        id: id(roster, nid),
        thread: id(roster, &n.thread_id()),
        in_reply_to: n.in_reply_to.map(|r| id(roster, &r)),
        from: name(roster, &n.sender),
        to: n.to.iter().map(|a| AddresseeInfo { name: name(roster, &a.node), role: a.role }).collect(),
        kind: n.kind(),
        precedence: n.precedence,
        created_ms: n.created_ms,
        logged_ms: view.logged_ms,
        receipt_due_ms: view.receipt.due_ms(),
        ack_due_ms: view.ack.due_ms(),
        headline: headline(n, roster),
        hash: view.hash.to_hex(),
        body: n.body.clone(),
        direction,
    }
}

/// The most notices one `sent` answer lists.
pub const SENT_LIMIT: usize = 500;

/// Notices this node sent, newest first: at most `limit` numbered below `before` and logged at
/// or after `since`. Each is one read, and the walk stops at the first older one (numbers follow
/// the log), so the cost is the answer's, whatever the history's length.
pub fn sent(
    node: &Node,
    now: u64,
    limit: usize,
    before: Option<u64>,
    since: Option<u64>,
) -> Result<Vec<NoticeInfo>, HistoryError> {
    let top = before.unwrap_or(u64::MAX).min(node.sent_count().saturating_add(1));
    let mut list = Vec::new();
    for seq in (1..top).rev().take(limit.min(SENT_LIMIT)) {
        match notice(node, &NoticeId { sender: node.id(), seq }, now)? {
            Some(v) if since.is_some_and(|s| v.logged_ms < s) => break,
            Some(v) => list.push(v),
            None => {}
        }
    }
    Ok(list)
}

/// How many notices the inbox lists besides those awaiting acknowledgement, unless asked.
pub const INBOX_LIMIT: usize = 100;

/// The inbox: every received notice awaiting this node's acknowledgement (open work, soonest
/// deadline first), then the `limit` newest of the rest logged at or after `since`. The cost is
/// the answer's.
pub fn inbox(node: &Node, now: u64, limit: usize, since: Option<u64>) -> Result<Inbox, HistoryError> {
    let me = node.id();
    let mut awaiting_ack = Vec::new();
    for (n, acked) in node.received() {
        if n.needs_ack_from(&me) && !acked {
            awaiting_ack.extend(notice(node, &n.id(), now)?);
        }
    }
    awaiting_ack.sort_by_key(|v| v.ack_due_ms);
    let awaiting: std::collections::BTreeSet<String> = awaiting_ack.iter().map(|v| v.id.clone()).collect();
    let mut other = Vec::new();
    // One more than asked, to say whether there are more; those awaiting are skipped.
    let page = node.received_page(None, limit.saturating_add(awaiting.len()).saturating_add(1))?;
    for nid in page {
        if let Some(v) = notice(node, &nid, now)? {
            if since.is_some_and(|s| v.logged_ms < s) {
                break;
            }
            if !awaiting.contains(&v.id) {
                other.push(v);
            }
        }
    }
    let more = other.len() > limit;
    other.truncate(limit);
    Ok(Inbox { awaiting_ack, other, more })
}

/// A whole thread, in reading order.
pub fn thread(node: &Node, of: &NoticeId, now: u64) -> Result<Option<Thread>, HistoryError> {
    let Some(view) = node.view(of)? else { return Ok(None) };
    let thread_id = view.notice.thread_id();
    let roster = node.roster();
    let notices = node.thread(thread_id)?.into_iter().map(|v| info(node, v, now)).collect();
    Ok(Some(Thread { thread: id(roster, &thread_id), notices }))
}

/// Links, pending receipts and acknowledgements, next deadlines.
pub fn status(node: &Node, name_of_node: &str, now: u64) -> Status {
    let roster = node.roster();
    let cosigned: std::collections::BTreeMap<_, _> = node.cosigned_by_peers().into_iter().collect();
    let links = node
        .links()
        .iter()
        .map(|l| LinkInfo {
            peer: name(roster, &l.peer),
            cosigned_size: cosigned.get(&l.peer).copied().unwrap_or(0),
            up: l.up,
            heard: l.heard,
            last_heard_ms: l.last_heard_ms,
            silent_ms: now.saturating_sub(l.last_heard_ms),
            last_link_test_ms: l.last_link_test_ms,
            unreceipted: l.unreceipted,
            clock_skewed: l.clock_skewed,
            clock_offset_ms: l.clock_offset_ms,
            last_outage_ms: l.last_outage,
            last_refusal: None,
        })
        .collect();
    let mut awaiting: Vec<Awaiting> = node
        .awaiting()
        .iter()
        .filter_map(|(nid, party, what)| {
            let view = node.view(nid).ok()??;
            let deadline = match what {
                DeadlineKind::Receipt => view.receipt,
                DeadlineKind::Ack => view.ack,
            };
            Some(Awaiting {
                notice: id(roster, nid),
                party: name(roster, party),
                awaiting: *what,
                due_ms: deadline.due_ms(),
                left_ms: deadline.left_ms(now),
            })
        })
        .collect();
    awaiting.sort_by_key(|a| a.due_ms);
    Status {
        name: name_of_node.to_string(),
        node_id: node.id().to_hex(),
        network: roster.network.clone(),
        network_id: node.network().to_hex(),
        fingerprint: hotline_proto::fingerprint(&node.network(), hotline_proto::FingerprintLanguage::English),
        now_ms: now,
        started_ms: node.started_ms(),
        store_error: None,
        rolled_back: node.rolled_back().map(|r| rolled_back(roster, r)),
        second_officer: Vec::new(),
        drafts: 0,
        log_entries: node.log_len(),
        durable_entries: node.durable_len(),
        links,
        awaiting,
    }
}

/// The operator's event for one of the core's: the one place where the core's events become the
/// API's (the compiler checks that every event has its case).
pub fn event(roster: &Roster, e: &hotline_proto::Event) -> Event {
    use hotline_proto::Event as Core;
    let n = |x: &hotline_proto::NodeId| name(roster, x);
    match e {
        Core::NoticeStored { id: i } => Event::NoticeStored { notice: id(roster, i) },
        Core::AckStored { notice } => Event::AckStored { notice: id(roster, notice) },
        Core::NoticeReceived { id: i, thread, kind, precedence, role, ack_due_ms } => Event::NoticeReceived {
            notice: id(roster, i),
            thread: id(roster, thread),
            kind: *kind,
            precedence: *precedence,
            role: *role,
            ack_due_ms: *ack_due_ms,
        },
        Core::ReceiptReceived { notice, from, of, late } => {
            Event::ReceiptReceived { notice: id(roster, notice), from: n(from), of: *of, late: *late }
        }
        Core::AckReceived { notice, from, disposition, operator, late } => Event::AckReceived {
            notice: id(roster, notice),
            from: n(from),
            disposition: *disposition,
            operator: operator.clone(),
            late: *late,
        },
        Core::DeadlineApproaching { notice, party, deadline_ms } => Event::DeadlineApproaching {
            notice: id(roster, notice),
            party: n(party),
            deadline_ms: *deadline_ms,
        },
        Core::DeadlineMissed(DeadlineMissed { notice, party, deadline, deadline_ms }) => {
            Event::DeadlineMissed {
                notice: id(roster, notice),
                party: n(party),
                deadline: *deadline,
                deadline_ms: *deadline_ms,
            }
        }
        Core::LinkDown(LinkDown { peer, last_heard_ms }) => {
            Event::LinkDown { peer: n(peer), last_heard_ms: *last_heard_ms }
        }
        Core::LinkUp { peer } => Event::LinkUp { peer: n(peer) },
        Core::SequenceGap(SequenceGap { peer, first, last }) => {
            Event::SequenceGap { peer: n(peer), first: *first, last: *last }
        }
        Core::ClockSkew(ClockSkew { peer, offset_ms }) => {
            Event::ClockSkew { peer: n(peer), offset_ms: *offset_ms }
        }
        Core::ClockStep { expected_ms, observed_ms } => {
            Event::ClockStep { expected_ms: *expected_ms, observed_ms: *observed_ms }
        }
        Core::Rejected { peer, code, detail } => {
            Event::Rejected { peer: n(peer), code: code.name().to_string(), detail: detail.clone() }
        }
        Core::Equivocation { peer, notice } => {
            Event::Equivocation { peer: n(peer), notice: id(roster, notice) }
        }
        Core::LogConflict { peer, cosigned_size, size } => {
            Event::LogConflict { peer: n(peer), cosigned_size: *cosigned_size, size: *size }
        }
        Core::HistoryUnavailable { detail } => Event::StoreUnreadable { detail: detail.clone() },
        Core::RolledBack(r) => {
            Event::StoreRolledBack { peer: n(&r.peer), size: r.size, log_size: r.log_size }
        }
    }
}

/// What a rolled-back store means for the operator, with the peer's name (spec §6.13).
pub fn rolled_back(roster: &Roster, r: &hotline_proto::RolledBack) -> String {
    format!(
        "this node's store has lost entries: {} holds this node's signed checkpoint of {} entries, but the store holds {}. The node signs nothing (no receipt, no notice, no checkpoint) until store.redb is restored from a backup holding at least {} entries; the peers hold receipts for the notices the lost entries recorded: ask them to send those again",
        name(roster, &r.peer),
        r.size,
        r.log_size,
        r.size + 1
    )
}

#[cfg(test)]
mod tests {
    use hotline_proto::testing::desk::Desk;
    use hotline_proto::testing::fixtures::{roster, s1_incident};
    use hotline_proto::{Body, Draft, Policy, Precedence, Role};

    use crate::api::DirectionInfo;

    const T0: u64 = 1_800_000_000_000;

    /// Issue 12, item 14: a receiver whose clock runs 50 s behind the sender's is not shown
    /// more time to acknowledge a FLASH than the whole window, and is told that the deadline is
    /// on the sender's clock, and by how much that clock is off.
    #[test]
    fn a_clock_behind_the_senders_shows_no_more_time_than_there_is() {
        let policy = Policy::default();
        let window = i64::try_from(policy.flash.ack_ms).unwrap();
        let behind = T0 - 50_000;
        let roster = roster(2, policy);
        let mut a = Desk::new("alpha", roster.clone(), T0);
        let mut b = Desk::new("bravo", roster, behind);
        let draft = Draft {
            precedence: Precedence::Flash,
            to: vec![(b.id(), Role::Action)],
            thread: None,
            in_reply_to: None,
            body: Body::Incident(s1_incident()),
        };
        a.node.send_notice(T0, draft).unwrap();
        a.sync();
        let frame = a.transmits().remove(0).frame;
        b.node.handle_frame(behind, a.id(), &frame).unwrap();
        b.sync();
        let inbox = super::inbox(&b.node, behind + 10_000, 10, None).unwrap();
        let DirectionInfo::Received { ack_left_ms, sender_clock_offset_ms, .. } =
            inbox.awaiting_ack[0].direction
        else {
            panic!("not received: {inbox:?}")
        };
        assert_eq!(ack_left_ms, window - 10_000, "counted from its arrival, not the sender's clock");
        assert_eq!(sender_clock_offset_ms, Some(50_000));
    }

    /// `since` bounds what `sent` and `inbox` read, by the time each notice was logged, and
    /// `notices` reads several by id, leaving out those not held and refusing too many.
    #[test]
    fn since_and_notices_read_only_what_they_are_asked() {
        let roster = roster(2, Policy::default());
        let mut a = Desk::new("alpha", roster.clone(), T0);
        let mut b = Desk::new("bravo", roster, T0);
        for i in 0..4u64 {
            let draft = Draft {
                precedence: Precedence::Routine,
                to: vec![(b.id(), Role::Action)],
                thread: None,
                in_reply_to: None,
                body: Body::Incident(s1_incident()),
            };
            let at = T0 + i * 60_000;
            let id = a.node.send_notice(at, draft).unwrap();
            a.sync();
            let frame = a.transmits().remove(0).frame;
            b.node.handle_frame(at + 10, a.id(), &frame).unwrap();
            b.sync();
            b.node
                .acknowledge(at + 20, id, "duty-1", hotline_proto::Disposition::Understood, vec![])
                .unwrap();
            b.sync();
        }
        let now = T0 + 300_000;
        let ids = |list: &[crate::api::NoticeInfo]| list.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&super::sent(&a.node, now, 10, None, None).unwrap()),
            ["alpha/4", "alpha/3", "alpha/2", "alpha/1"]
        );
        assert_eq!(
            ids(&super::sent(&a.node, now, 10, None, Some(T0 + 120_000)).unwrap()),
            ["alpha/4", "alpha/3"]
        );
        assert_eq!(ids(&super::sent(&a.node, now, 10, Some(4), Some(T0 + 120_000)).unwrap()), ["alpha/3"]);
        let inbox = super::inbox(&b.node, now, 10, Some(T0 + 60_000)).unwrap();
        assert_eq!(ids(&inbox.other), ["alpha/4", "alpha/3", "alpha/2"]);
        assert!(!inbox.more, "nothing more in the span");
        let inbox = super::inbox(&b.node, now, 1, None).unwrap();
        assert_eq!(ids(&inbox.other), ["alpha/4"]);
        assert!(inbox.more);
        let asked: Vec<String> = ["alpha/2", "alpha/9", "alpha/1"].map(String::from).to_vec();
        assert_eq!(ids(&super::notices(&b.node, &asked, now).unwrap()), ["alpha/2", "alpha/1"]);
        let too_many: Vec<String> =
            (1..=super::NOTICES_LIMIT as u64 + 1).map(|i| format!("alpha/{i}")).collect();
        assert!(super::notices(&b.node, &too_many, now).unwrap_err().contains("at most 64"));
        assert!(super::notices(&b.node, &["nobody/1".to_string()], now).is_err());
    }
}
