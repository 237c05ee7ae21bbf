//! Timers: retransmission, deadlines, link tests, link silence and sequence-gap checks
//! (spec §6.3–§6.6).
//!
//! A timer is known by what it is for ([`Timer`]): scheduling one that is already set moves it,
//! and cancelling needs only its identity, never the time it was set for. A timer whose condition
//! no longer holds when it fires (the receipt came, the peer was heard) does nothing, so
//! cancelling is an optimisation, not a rule.

use std::collections::{BTreeMap, BTreeSet};

use crate::deadline::Deadline;
use crate::ids::{Hash32, NodeId, NoticeId};
use crate::log::{DeadlineKind, DeadlineMissed, LinkDown, Record, SequenceGap};
use crate::message::{Addressee, Body, Notice, Role};
use crate::precedence::Precedence;

use super::{Event, Node, Transmit};

/// What a timer is for. Ordered so that the timer set is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// Send a message to a peer again.
    Retransmit { peer: NodeId, hash: Hash32 },
    /// A deadline falls. `party` is the addressee (this node itself for its own acknowledgement).
    Deadline { notice: NoticeId, party: NodeId, kind: DeadlineKind },
    /// 80 % of an acknowledgement window has passed.
    Warn { notice: NoticeId, party: NodeId },
    /// Time for a link test to a peer.
    LinkTest { peer: NodeId },
    /// Check whether a peer has been silent too long.
    Silence { peer: NodeId },
    /// Check whether notices from a peer are still missing.
    GapCheck { peer: NodeId },
    /// Sign a checkpoint and offer it to the peers (every link-test interval).
    Checkpoint,
}

/// The set timers: at most one of each identity, in order of time.
#[derive(Default)]
pub(super) struct Timers {
    by_time: BTreeSet<(u64, Timer)>,
    by_identity: BTreeMap<Timer, u64>,
}

impl Timers {
    /// Sets `timer` to fire at `at`, moving it if it was set for another time.
    pub(super) fn schedule(&mut self, at: u64, timer: Timer) {
        if let Some(old) = self.by_identity.insert(timer, at) {
            self.by_time.remove(&(old, timer));
        }
        self.by_time.insert((at, timer));
    }

    /// Unsets `timer`, wherever it was set.
    pub(super) fn cancel(&mut self, timer: Timer) {
        if let Some(at) = self.by_identity.remove(&timer) {
            self.by_time.remove(&(at, timer));
        }
    }

    /// When the next timer fires.
    pub(super) fn next_at(&self) -> Option<u64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Unsets and returns every timer due at or before `now`, earliest first.
    pub(super) fn take_due(&mut self, now: u64) -> Vec<(u64, Timer)> {
        let mut due = Vec::new();
        while let Some(&(at, timer)) = self.by_time.first() {
            if at > now {
                break;
            }
            self.by_time.pop_first();
            self.by_identity.remove(&timer);
            due.push((at, timer));
        }
        due
    }
}

impl Node {
    /// Fires every timer due at or before `now` (UTC ms).
    ///
    /// Only the timers due when it is called: one that firing sets again (a link test, the
    /// checkpoint, a retransmission) waits for the next call even if its new time is not after
    /// `now`, as happens when times saturate at the top of u64 (a lying disk or clock), so a
    /// call always ends.
    pub fn handle_timeout(&mut self, now: u64) {
        let now = self.clock(now);
        for (at, timer) in self.timers.take_due(now) {
            self.fire(now, at, timer);
        }
    }

    fn fire(&mut self, now: u64, at: u64, timer: Timer) {
        match timer {
            Timer::Retransmit { peer, hash } => self.retransmit(now, at, peer, hash),
            Timer::Deadline { notice, party, kind } => self.deadline(now, notice, party, kind),
            Timer::Warn { notice, party } => {
                if let Some(deadline_ms) = self.ack_still_awaited(notice, party) {
                    let after = self.log_len;
                    self.outputs.event(after, Event::DeadlineApproaching { notice, party, deadline_ms });
                }
            }
            Timer::LinkTest { peer } => {
                let outstanding = self.peers.get(&peer).is_none_or(|p| p.link_test_outstanding);
                if !outstanding {
                    self.send_link_test(now, peer);
                }
                let interval = self.policy().link_test_interval_ms;
                self.schedule(now.saturating_add(interval), Timer::LinkTest { peer });
            }
            Timer::Silence { peer } => self.check_silence(now, peer),
            Timer::GapCheck { peer } => self.check_gaps(now, peer),
            Timer::Checkpoint => {
                self.checkpoint(now);
                let interval = self.policy().link_test_interval_ms;
                self.schedule(now.saturating_add(interval), Timer::Checkpoint);
            }
        }
    }

    fn retransmit(&mut self, now: u64, at: u64, peer: NodeId, hash: Hash32) {
        let max = self.policy().retransmit_max_ms;
        let after = self.log_len;
        let Some(retx) = self.peers.get_mut(&peer).and_then(|p| p.retx.get_mut(&hash)) else { return };
        if retx.next_ms != at {
            return; // stale: rescheduled since
        }
        let transmit = Transmit { to: peer, precedence: retx.precedence, frame: retx.frame.clone() };
        retx.rto_ms = retx.rto_ms.saturating_mul(2).min(max);
        retx.next_ms = now.saturating_add(retx.rto_ms);
        let next = retx.next_ms;
        self.outputs.transmit(after, transmit);
        self.schedule(next, Timer::Retransmit { peer, hash });
    }

    /// The deadline of an acknowledgement still awaited from `party` (or from this node).
    fn ack_still_awaited(&self, notice: NoticeId, party: NodeId) -> Option<u64> {
        if party == self.id {
            let incoming = self.incoming.get(&notice)?;
            let awaited = incoming.needs_ack && !incoming.acked && !incoming.overdue;
            awaited.then(|| Deadline::ack(self.policy(), &incoming.notice).due_ms())
        } else {
            let out = self.outgoing.get(&notice)?;
            let status = out.parties.get(&party)?;
            let awaited = status.needs_ack && status.ack_ms.is_none() && !status.ack_missed;
            awaited.then(|| Deadline::ack(self.policy(), &out.notice).due_ms())
        }
    }

    fn deadline(&mut self, now: u64, notice: NoticeId, party: NodeId, kind: DeadlineKind) {
        #[cfg(feature = "fault-injection")]
        if kind == DeadlineKind::Ack && self.is_broken(super::BrokenRule::ForgetAckDeadlines) {
            return;
        }
        let deadline_ms = match kind {
            DeadlineKind::Ack => self.ack_still_awaited(notice, party),
            DeadlineKind::Receipt => self.outgoing.get(&notice).and_then(|out| {
                let status = out.parties.get(&party)?;
                let awaited = status.receipt_ms.is_none() && !status.receipt_missed;
                awaited.then(|| Deadline::receipt(self.policy(), &out.notice).due_ms())
            }),
        };
        let Some(deadline_ms) = deadline_ms else { return };
        let miss = DeadlineMissed { notice, party, deadline: kind, deadline_ms };
        self.append(now, Record::DeadlineMissed(miss));
        let after = self.log_len;
        self.outputs.event(after, Event::DeadlineMissed(miss));
    }

    fn send_link_test(&mut self, now: u64, peer: NodeId) {
        let link_seq = self.peers.get(&peer).map_or(1, |p| p.link_seq_out.saturating_add(1));
        let notice = Notice {
            network: self.network,
            sender: self.id,
            seq: self.next_seq,
            created_ms: now,
            precedence: Precedence::Routine,
            to: vec![Addressee { node: peer, role: Role::Action, link_seq }],
            thread: None,
            in_reply_to: None,
            body: Body::LinkTest,
        };
        self.send_checked(now, &notice);
    }

    fn check_silence(&mut self, now: u64, peer: NodeId) {
        let silence = self.policy().link_silence_ms;
        let Some(p) = self.peers.get(&peer) else { return };
        if !p.up {
            return;
        }
        let limit = p.last_heard_ms.saturating_add(silence);
        if now < limit {
            self.schedule(limit, Timer::Silence { peer });
            return;
        }
        let last_heard_ms = p.last_heard_ms;
        let down = LinkDown { peer, last_heard_ms };
        self.append(now, Record::LinkDown(down));
        let after = self.log_len;
        self.outputs.event(after, Event::LinkDown(down));
    }

    fn check_gaps(&mut self, now: u64, peer: NodeId) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.gap_check_pending = false;
        for (first, last) in p.recv.missing_runs() {
            let gap = SequenceGap { peer, first, last };
            self.append(now, Record::SequenceGap(gap));
            let after = self.log_len;
            self.outputs.event(after, Event::SequenceGap(gap));
        }
    }

    /// Called for every valid frame from `peer`: the link is alive.
    pub(super) fn heard_from(&mut self, now: u64, peer: NodeId) {
        let silence = self.policy().link_silence_ms;
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.last_heard_ms = now;
        if p.up {
            return;
        }
        self.append(now, Record::LinkUp { peer });
        let after = self.log_len;
        self.outputs.event(after, Event::LinkUp { peer });
        self.schedule(now.saturating_add(silence), Timer::Silence { peer });
        // The peer is back: send everything it has not receipted now, and restart the backoff.
        self.peer_reachable(now, peer);
    }
}
