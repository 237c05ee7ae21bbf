//! End-of-run invariants, read from the nodes' durable logs the way an auditor would.
//!
//! Checked after every step elsewhere ([`crate::world`]): logs verify, nothing is sent before it
//! is durable, no receipt precedes the stored notice, nothing is accepted or shown twice, every
//! restart succeeds. Checked here, at the end of a run whose faults have healed: every notice and
//! acknowledgement reached every addressee exactly once and was receipted; every deadline was
//! either met or recorded as missed, exactly at the deadline when the node was up; clock-skew
//! records are true; link-down and link-up alternate; links were tested until the end.

use std::collections::BTreeMap;

use hotline_proto::{ClockSkew, DeadlineMissed, LinkDown};
use hotline_proto::{Deadline, DeadlineKind, Hash32, Message, NodeId, Notice, NoticeId, Record};

use crate::world::{true_time, Sim};

/// What one node's durable log says, indexed.
#[derive(Default)]
pub struct LogFacts {
    /// Notices it sent: (entry time, notice, hash).
    pub sent: Vec<(u64, Notice, Hash32)>,
    /// Acks it sent: notice → (entry index, time, ack hash).
    pub acks_sent: BTreeMap<NoticeId, (usize, u64, Hash32)>,
    /// Receipts it accepted: (receipted hash, signer) → (entry index, time).
    pub receipts: BTreeMap<(Hash32, NodeId), (usize, u64)>,
    /// Acks it accepted: (notice, signer) → (entry index, time).
    pub acks: BTreeMap<(NoticeId, NodeId), (usize, u64)>,
    /// Notices it accepted: hash → (entry index, notice).
    pub accepted_notices: BTreeMap<Hash32, (usize, Notice)>,
    /// Acks it accepted, by ack hash.
    pub accepted_acks: BTreeMap<Hash32, usize>,
    /// Deadline misses: (notice, party, kind) → (entry index, time, deadline).
    pub misses: BTreeMap<(NoticeId, NodeId, DeadlineKind), (usize, u64, u64)>,
    /// Number of duplicate miss records.
    pub duplicate_misses: usize,
}

/// Indexes a node's durable log.
pub fn facts(sim: &Sim, i: usize) -> LogFacts {
    let mut f = LogFacts::default();
    for (idx, e) in sim.nodes[i].entries.iter().enumerate() {
        let t = e.entry.time_ms;
        match (&e.entry.record, e.message.as_ref()) {
            (Record::Sent { .. }, Some(o)) => match &o.message {
                Message::Notice(n) => f.sent.push((t, n.clone(), o.hash)),
                Message::Ack(a) => {
                    f.acks_sent.insert(a.notice, (idx, t, o.hash));
                }
                Message::Receipt(_)
                | Message::Checkpoint(_)
                | Message::Cosignature(_)
                | Message::Heartbeat(_) => {}
            },
            (Record::Accepted { .. }, Some(o)) => match &o.message {
                Message::Receipt(r) => {
                    f.receipts.insert((r.of.hash, r.signer), (idx, t));
                }
                Message::Ack(a) => {
                    f.acks.insert((a.notice, a.signer), (idx, t));
                    f.accepted_acks.insert(o.hash, idx);
                }
                Message::Notice(n) => {
                    f.accepted_notices.insert(o.hash, (idx, n.clone()));
                }
                Message::Checkpoint(_) | Message::Cosignature(_) | Message::Heartbeat(_) => {}
            },
            (Record::DeadlineMissed(DeadlineMissed { notice, party, deadline, deadline_ms }), _) => {
                let previous = f.misses.insert((*notice, *party, *deadline), (idx, t, *deadline_ms));
                f.duplicate_misses += usize::from(previous.is_some());
            }
            _ => {}
        }
    }
    f
}

/// Checks a deadline of `owner`'s: met (`done` at or before it, and no miss) or missed (a miss at
/// or after it, before any `done`). The miss must be recorded exactly at the deadline, or — if the
/// owner only learnt of the notice at `known_ms`, after the deadline — at that moment, unless the
/// owner was down then.
fn check_deadline(
    sim: &mut Sim,
    owner: usize,
    what: &str,
    (deadline_ms, known_ms): (u64, u64),
    done: Option<(usize, u64)>,
    miss: Option<(usize, u64, u64)>,
) {
    let name = sim.nodes[owner].name;
    match (done, miss) {
        (Some((_, t)), None) if t <= deadline_ms => {}
        (Some((_, t)), None) => {
            sim.fail(format!("{name}: {what} came at {t}, after {deadline_ms}, with no miss recorded"))
        }
        (None, None) => {
            sim.fail(format!("{name}: {what}: deadline {deadline_ms} passed with no miss recorded"))
        }
        (done, Some((mi, mt, md))) => {
            if md != deadline_ms {
                return sim.fail(format!("{name}: {what}: miss names deadline {md}, not {deadline_ms}"));
            }
            if let Some((di, dt)) = done {
                if di < mi || dt < deadline_ms {
                    return sim.fail(format!("{name}: {what}: miss recorded although it came in time"));
                }
            }
            if mt < deadline_ms {
                return sim.fail(format!(
                    "{name}: {what}: miss recorded at {mt}, before the deadline {deadline_ms}"
                ));
            }
            let skew = sim.nodes[owner].skew_ms;
            let expected = deadline_ms.max(known_ms);
            // A miss recorded at the deadline but lost in a crash before it was durable (fsyncs
            // take up to 30 ms, and queue behind each other) is recorded again at the restart.
            let (due, recorded) = (true_time(expected, skew), true_time(mt, skew));
            let lost_in_crash = sim.nodes[owner]
                .downtime
                .iter()
                .any(|(start, end)| (due..=due + 1_000).contains(start) && *end == Some(recorded));
            if mt != expected && !sim.nodes[owner].down_at(due) && !lost_in_crash {
                sim.fail(format!("{name}: {what}: miss recorded at {mt}, not at {expected}, though up"));
            }
        }
    }
}

/// Every end-of-run invariant. `quiet_ms` is the final quiet period: messages created in it may
/// legitimately still be in flight.
pub fn final_checks(sim: &mut Sim, quiet_ms: u64) {
    let n = sim.nodes.len();
    if sim.nodes.iter().any(|node| node.node.is_none()) {
        return sim.fail("a node is still down at the end");
    }
    let all: Vec<LogFacts> = (0..n).map(|i| facts(sim, i)).collect();
    let end_true = sim.now;
    let policy = sim.roster.policy.clone();
    for s in 0..n {
        if all[s].duplicate_misses > 0 {
            sim.fail(format!("{} recorded a deadline miss twice", sim.nodes[s].name));
        }
        for (sent_ms, notice, hash) in &all[s].sent {
            let settled = true_time(*sent_ms, sim.nodes[s].skew_ms) + quiet_ms <= end_true;
            for a in &notice.to {
                let Some(r) = sim.index_of(&a.node) else { continue };
                let rname = sim.nodes[r].name;
                // Delivery: exactly once (no more is checked at every step), and receipted.
                let accepted = sim.nodes[r].accepted.get(hash).copied().unwrap_or(0);
                if settled && accepted != 1 {
                    return sim.fail(format!("notice {} reached {rname} {accepted} times", notice.id()));
                }
                let receipt = all[s].receipts.get(&(*hash, a.node)).copied();
                if settled && receipt.is_none() {
                    return sim.fail(format!(
                        "{}'s notice {} was never receipted by {rname}",
                        sim.nodes[s].name,
                        notice.id()
                    ));
                }
                let shown = sim.nodes[r].shown.get(&notice.id()).copied().unwrap_or(0);
                if settled && shown != 1 {
                    return sim.fail(format!(
                        "notice {} was shown {shown} times to {rname}'s officer",
                        notice.id()
                    ));
                }
                let id = notice.id();
                let deadline = Deadline::receipt(&policy, notice).due_ms();
                let miss = all[s].misses.get(&(id, a.node, DeadlineKind::Receipt)).copied();
                if true_time(deadline, sim.nodes[s].skew_ms) < end_true {
                    check_deadline(
                        sim,
                        s,
                        &format!("receipt of {id} from {rname}"),
                        (deadline, 0),
                        receipt,
                        miss,
                    );
                }
                if notice.needs_ack_from(&a.node) {
                    let deadline = Deadline::ack(&policy, notice).due_ms();
                    if true_time(deadline, sim.nodes[s].skew_ms) < end_true {
                        let ack = all[s].acks.get(&(id, a.node)).copied();
                        let miss = all[s].misses.get(&(id, a.node, DeadlineKind::Ack)).copied();
                        check_deadline(
                            sim,
                            s,
                            &format!("ack of {id} from {rname}"),
                            (deadline, 0),
                            ack,
                            miss,
                        );
                    }
                    // The addressee's own view of its acknowledgement deadline.
                    let me = sim.nodes[r].id;
                    let own_ack = all[r].acks_sent.get(&id).map(|(i, t, _)| (*i, *t));
                    let own_miss = all[r].misses.get(&(id, me, DeadlineKind::Ack)).copied();
                    let known = all[r]
                        .accepted_notices
                        .get(hash)
                        .map(|(i, _)| sim.nodes[r].entries[*i].entry.time_ms);
                    if let (Some(known), true) = (known, true_time(deadline, sim.nodes[r].skew_ms) < end_true)
                    {
                        check_deadline(
                            sim,
                            r,
                            &format!("own ack of {id}"),
                            (deadline, known),
                            own_ack,
                            own_miss,
                        );
                    }
                }
                if sim.violation.is_some() {
                    return;
                }
            }
        }
        // Every ack this node sent reached the notice's sender exactly once, and was receipted.
        for (notice, (_, t, hash)) in &all[s].acks_sent {
            let settled = true_time(*t, sim.nodes[s].skew_ms) + quiet_ms <= end_true;
            let Some(o) = sim.index_of(&notice.sender) else { continue };
            if settled && !all[o].accepted_acks.contains_key(hash) {
                return sim.fail(format!(
                    "{}'s ack of {notice} never reached {}",
                    sim.nodes[s].name, sim.nodes[o].name
                ));
            }
            if settled && !all[s].receipts.contains_key(&(*hash, notice.sender)) {
                return sim.fail(format!("{}'s ack of {notice} was never receipted", sim.nodes[s].name));
            }
        }
        check_link_records(sim, s);
        check_skew_records(sim, s);
        check_checkpoints(sim, s);
    }
    // No sender ever signed two notices with one id.
    let mut ids: BTreeMap<NoticeId, Hash32> = BTreeMap::new();
    for f in &all {
        for (_, notice, hash) in &f.sent {
            if let Some(other) = ids.insert(notice.id(), *hash) {
                if other != *hash {
                    return sim.fail(format!("equivocation: two notices with id {}", notice.id()));
                }
            }
        }
    }
}

/// Every checkpoint a node offered is one of its final log (never two inconsistent ones); honest
/// nodes never record a log conflict; and every peer co-signed every checkpoint offered more than
/// two and a half checkpoint intervals before the end (or a later one).
fn check_checkpoints(sim: &mut Sim, s: usize) {
    let name = sim.nodes[s].name;
    let interval = sim.roster.policy.link_test_interval_ms;
    let mut cosigned_by: BTreeMap<NodeId, u64> = BTreeMap::new();
    for e in &sim.nodes[s].entries {
        match &e.entry.record {
            Record::LogConflict { log, .. } => {
                let peer = sim.index_of(log).map_or("?", |p| sim.nodes[p].name);
                return sim.fail(format!("{name} recorded a log conflict with honest {peer}"));
            }
            Record::Cosignature { by, size, .. } => {
                let best = cosigned_by.entry(*by).or_default();
                *best = (*best).max(*size);
            }
            _ => {}
        }
    }
    let node = &sim.nodes[s];
    let inconsistent = node.published.keys().find(|(size, root)| node.tree.root_at(*size) != Some(*root));
    if let Some((size, _)) = inconsistent {
        return sim
            .fail(format!("{name} offered a checkpoint of size {size} that its final log contradicts"));
    }
    let old_enough = sim.now.saturating_sub(interval * 5 / 2);
    let Some(largest) =
        node.published.iter().filter(|(_, at)| **at <= old_enough).map(|((size, _), _)| *size).max()
    else {
        return;
    };
    for p in (0..sim.nodes.len()).filter(|p| *p != s) {
        let best = cosigned_by.get(&sim.nodes[p].id).copied().unwrap_or(0);
        if best < largest {
            let peer = sim.nodes[p].name;
            return sim.fail(format!(
                "{peer} co-signed {name}'s log only up to size {best}, though {name} offered size {largest} long before the end"
            ));
        }
    }
}

fn check_link_records(sim: &mut Sim, s: usize) {
    let mut up: BTreeMap<NodeId, bool> = BTreeMap::new();
    let mut bad = None;
    for e in &sim.nodes[s].entries {
        match &e.entry.record {
            // A restart begins with every link presumed up.
            Record::Started { .. } => up.clear(),
            Record::LinkDown(LinkDown { peer, .. }) => {
                let was_up = up.insert(*peer, false).unwrap_or(true);
                bad = bad.or((!was_up).then_some("link down twice in a row"));
            }
            Record::LinkUp { peer } => {
                let was_up = up.insert(*peer, true).unwrap_or(true);
                bad = bad.or(was_up.then_some("link up while up"));
            }
            _ => {}
        }
    }
    if let Some(what) = bad {
        return sim.fail(format!("{}: {what}", sim.nodes[s].name));
    }
    // The record proves the links were tested: in the healed final quiet period, every node logs
    // a link test with every peer within a link-test interval and two heartbeat intervals.
    let policy = &sim.roster.policy;
    let window = policy.link_test_interval_ms + 2 * policy.heartbeat_interval_ms + 5_000;
    let skew = sim.nodes[s].skew_ms;
    let mut last_test: BTreeMap<NodeId, u64> = BTreeMap::new();
    for e in &sim.nodes[s].entries {
        if let Record::LinkTest { peer, .. } = &e.entry.record {
            last_test.insert(*peer, true_time(e.entry.time_ms, skew));
        }
    }
    for p in (0..sim.nodes.len()).filter(|p| *p != s) {
        let peer = sim.nodes[p].id;
        let at = last_test.get(&peer).copied().unwrap_or(0);
        if at.saturating_add(window) < sim.now {
            let (name, peer) = (sim.nodes[s].name, sim.nodes[p].name);
            return sim.fail(format!(
                "{name} logged no link test with {peer} since {at}, {window} ms before the end"
            ));
        }
    }
}

fn check_skew_records(sim: &mut Sim, s: usize) {
    let tolerance = i64::try_from(sim.roster.policy.max_clock_skew_ms).unwrap_or(i64::MAX);
    for e in &sim.nodes[s].entries {
        if let Record::ClockSkew(ClockSkew { peer, offset_ms }) = &e.entry.record {
            let Some(p) = sim.index_of(peer) else { continue };
            let actual = sim.nodes[p].skew_ms - sim.nodes[s].skew_ms;
            let plausible = offset_ms.abs() > tolerance
                && offset_ms.signum() == actual.signum()
                && offset_ms.abs() <= actual.abs();
            if !plausible {
                let name = sim.nodes[s].name;
                return sim.fail(format!(
                    "{name} recorded clock skew {offset_ms} ms, but the true offset is {actual} ms"
                ));
            }
        }
    }
}
