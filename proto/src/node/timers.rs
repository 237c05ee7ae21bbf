//! Timers: retransmission, deadlines, heartbeats, link tests, link silence and sequence-gap
//! checks (spec §6.3–§6.6).
//!
//! A timer is known by what it is for ([`Timer`]): scheduling one that is already set moves it,
//! and cancelling needs only its identity, never the time it was set for. A timer whose condition
//! no longer holds when it fires (the receipt came, the peer was heard) does nothing, so
//! cancelling is an optimisation, not a rule.

use std::collections::{BTreeMap, BTreeSet};

use crate::deadline::Deadline;
use crate::ids::{Hash32, NodeId, NoticeId};
use crate::log::{DeadlineKind, DeadlineMissed, LinkDown, Record, SequenceGap};
use crate::message::{self, Heartbeat, Kind};
use crate::precedence::Precedence;

use super::state::{SentHeartbeat, HEARTBEATS_REMEMBERED};
use super::{Event, Node, Now, Transmit};

/// What a timer is for. Ordered so that the timer set is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// Send a message to a peer again.
    Retransmit { peer: NodeId, hash: Hash32 },
    /// A deadline falls. `party` is the addressee (this node itself for its own acknowledgement).
    Deadline { notice: NoticeId, party: NodeId, kind: DeadlineKind },
    /// 80 % of an acknowledgement window has passed.
    Warn { notice: NoticeId, party: NodeId },
    /// Send every peer a heartbeat.
    Heartbeat,
    /// Time to log a link test with a peer (at the next heartbeat round trip).
    LinkTest { peer: NodeId },
    /// Check whether a peer has been silent too long.
    Silence { peer: NodeId },
    /// Check whether notices from a peer are still missing.
    GapCheck { peer: NodeId },
    /// Sign a checkpoint, if the log grew, and offer it to the peers.
    Checkpoint,
}

impl Timer {
    /// Deadlines and their warnings fall at wall-clock times (they count from a signed creation
    /// time); every other timer is an interval on the monotonic clock (spec §6.9).
    fn on_wall_clock(&self) -> bool {
        matches!(self, Timer::Deadline { .. } | Timer::Warn { .. })
    }
}

/// The set timers: at most one of each identity, each in order of time on its own clock.
#[derive(Default)]
pub(super) struct Timers {
    wall: BTreeSet<(u64, Timer)>,
    mono: BTreeSet<(u64, Timer)>,
    by_identity: BTreeMap<Timer, u64>,
}

impl Timers {
    fn set(&mut self, timer: Timer) -> &mut BTreeSet<(u64, Timer)> {
        if timer.on_wall_clock() {
            &mut self.wall
        } else {
            &mut self.mono
        }
    }

    /// Sets `timer` to fire at `at` on its clock, moving it if it was set for another time.
    pub(super) fn schedule(&mut self, at: u64, timer: Timer) {
        if let Some(old) = self.by_identity.insert(timer, at) {
            self.set(timer).remove(&(old, timer));
        }
        self.set(timer).insert((at, timer));
    }

    /// Unsets `timer`, wherever it was set.
    pub(super) fn cancel(&mut self, timer: Timer) {
        if let Some(at) = self.by_identity.remove(&timer) {
            self.set(timer).remove(&(at, timer));
        }
    }

    /// When the next timer fires, on the monotonic clock, as of the reading `now`: a wall-clock
    /// time is as far ahead of `now.mono_ms` as it is of `now.wall_ms` (the next reading corrects
    /// it if the wall clock steps meanwhile).
    pub(super) fn next_at(&self, now: Now) -> Option<u64> {
        let mono = self.mono.first().map(|(at, _)| *at);
        let wall =
            self.wall.first().map(|(at, _)| now.mono_ms.saturating_add(at.saturating_sub(now.wall_ms)));
        mono.into_iter().chain(wall).min()
    }

    /// Unsets and returns every timer due at `now` on its clock, earliest first (wall-clock times
    /// ordered as their monotonic equivalents), each with the time it was set for.
    pub(super) fn take_due(&mut self, now: Now) -> Vec<(u64, Timer)> {
        let mut due = Vec::new();
        for (set, reading, on_wall) in
            [(&mut self.mono, now.mono_ms, false), (&mut self.wall, now.wall_ms, true)]
        {
            while let Some(&(at, timer)) = set.first() {
                if at > reading {
                    break;
                }
                set.pop_first();
                self.by_identity.remove(&timer);
                let order = if on_wall { now.mono_ms.saturating_sub(now.wall_ms - at) } else { at };
                due.push((order, at, timer));
            }
        }
        due.sort();
        due.into_iter().map(|(_, at, timer)| (at, timer)).collect()
    }
}

impl Node {
    /// Fires every timer due at `now`: deadlines by the wall clock, the rest by the monotonic
    /// clock.
    ///
    /// Only the timers due when it is called: one that firing sets again (a link test, the
    /// checkpoint, a retransmission) waits for the next call even if its new time is not after
    /// `now`, as happens when times saturate at the top of u64 (a lying disk or clock), so a
    /// call always ends.
    pub fn handle_timeout(&mut self, now: impl Into<Now>) {
        let reading = self.read_clocks(now.into());
        let now = reading.wall_ms;
        for (at, timer) in self.timers.take_due(reading) {
            self.fire(now, at, timer);
        }
    }

    fn fire(&mut self, now: u64, at: u64, timer: Timer) {
        // A node whose store lost what it signed keeps its peers' links alive and signs nothing
        // else (spec §6.13).
        if self.rolled_back.is_some() && timer != Timer::Heartbeat {
            return;
        }
        match timer {
            Timer::Retransmit { peer, hash } => self.retransmit(at, peer, hash),
            Timer::Deadline { notice, party, kind } => self.deadline(now, notice, party, kind),
            Timer::Warn { notice, party } => {
                if let Some(deadline_ms) = self.ack_still_awaited(notice, party) {
                    let after = self.log_len;
                    self.outputs.event(after, Event::DeadlineApproaching { notice, party, deadline_ms });
                }
            }
            Timer::Heartbeat => {
                let peers: Vec<NodeId> = self.peers.keys().copied().collect();
                for peer in peers {
                    self.send_heartbeat(now, peer);
                }
                let interval = self.policy().heartbeat_interval_ms;
                self.schedule(self.mono.saturating_add(interval), Timer::Heartbeat);
            }
            Timer::LinkTest { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.link_test_due = true;
                }
                let interval = self.policy().link_test_interval_ms;
                self.schedule(self.mono.saturating_add(interval), Timer::LinkTest { peer });
            }
            Timer::Silence { peer } => self.check_silence(now, peer),
            Timer::GapCheck { peer } => self.check_gaps(now, peer),
            Timer::Checkpoint => {
                self.checkpoint_if_grown(now);
                let interval = self.policy().checkpoint_interval_ms;
                self.schedule(self.mono.saturating_add(interval), Timer::Checkpoint);
            }
        }
    }

    /// Sets the deadline, warning and gap-check timers of the open work from the state alone, as
    /// applying the log sets them (a restart from a snapshot has not applied the log): a
    /// timer whose condition no longer holds does nothing when it fires, so setting one twice or
    /// needlessly is harmless, and missing one is what this prevents.
    pub(super) fn schedule_open_work(&mut self) {
        let me = self.id;
        let mut due = Vec::new();
        for (notice, o) in &self.outgoing {
            let receipt = Deadline::receipt(self.policy(), &o.notice).due_ms();
            let ack = Deadline::ack(self.policy(), &o.notice);
            for (party, s) in &o.parties {
                if s.receipt_ms.is_none() && !s.receipt_missed {
                    due.push((
                        receipt,
                        Timer::Deadline { notice: *notice, party: *party, kind: DeadlineKind::Receipt },
                    ));
                }
                if s.needs_ack && s.ack_ms.is_none() && !s.ack_missed {
                    due.push((
                        ack.due_ms(),
                        Timer::Deadline { notice: *notice, party: *party, kind: DeadlineKind::Ack },
                    ));
                    due.push((ack.warning_ms(), Timer::Warn { notice: *notice, party: *party }));
                }
            }
        }
        for (notice, i) in &self.incoming {
            if i.needs_ack && !i.acked && !i.overdue {
                let ack = Deadline::ack(self.policy(), &i.notice);
                due.push((
                    ack.due_ms(),
                    Timer::Deadline { notice: *notice, party: me, kind: DeadlineKind::Ack },
                ));
                due.push((ack.warning_ms(), Timer::Warn { notice: *notice, party: me }));
            }
        }
        let gap_check = self.mono.saturating_add(self.policy().link_silence_ms);
        for (peer, p) in self.peers.iter_mut() {
            if !p.recv.missing_runs().is_empty() {
                p.gap_check_pending = true;
                due.push((gap_check, Timer::GapCheck { peer: *peer }));
            }
        }
        for (at, timer) in due {
            self.schedule(at, timer);
        }
    }

    fn retransmit(&mut self, at: u64, peer: NodeId, hash: Hash32) {
        let max = self.policy().retransmit_max_ms;
        let mono = self.mono;
        let after = self.log_len;
        let Some(retx) = self.peers.get_mut(&peer).and_then(|p| p.retx.get_mut(&hash)) else { return };
        if retx.next_ms != at {
            return; // stale: rescheduled since
        }
        let transmit = Transmit { to: peer, precedence: retx.precedence, frame: retx.frame.clone() };
        retx.rto_ms = retx.rto_ms.saturating_mul(2).min(max);
        retx.next_ms = mono.saturating_add(retx.rto_ms);
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

    /// Signs and queues a heartbeat to `peer` (spec §5.8), remembering it to recognise the echo.
    /// Queued behind the log like any frame: it states what this node co-signed.
    pub(super) fn send_heartbeat(&mut self, now: u64, peer: NodeId) {
        let after = self.log_len;
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let heartbeat = Heartbeat {
            network: self.network,
            signer: self.id,
            to: peer,
            time_ms: now,
            echo: p.echo,
            cosigned: p.checkpoints.theirs.last_key_value().map(|(_, (c, _, _))| *c),
        };
        let (frame, hash) = message::seal(&self.key, Kind::Heartbeat, &heartbeat);
        if p.heartbeats.len() >= HEARTBEATS_REMEMBERED {
            p.heartbeats.pop_front();
        }
        p.heartbeats.push_back(SentHeartbeat { hash, time_ms: now, frame: frame.clone() });
        self.outputs.transmit(after, Transmit { to: peer, precedence: Precedence::Routine, frame });
    }

    fn check_silence(&mut self, now: u64, peer: NodeId) {
        let silence = self.policy().link_silence_ms;
        let Some(p) = self.peers.get(&peer) else { return };
        if !p.up {
            return;
        }
        let limit = p.last_heard_mono.saturating_add(silence);
        if self.mono < limit {
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
        let mono = self.mono;
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.last_heard_ms = now;
        p.last_heard_mono = mono;
        p.heard = true;
        if p.up || self.rolled_back.is_some() {
            return;
        }
        self.append(now, Record::LinkUp { peer });
        let after = self.log_len;
        self.outputs.event(after, Event::LinkUp { peer });
        self.schedule(mono.saturating_add(silence), Timer::Silence { peer });
        // The peer is back: send everything it has not receipted now, and restart the backoff.
        self.reach(now, peer);
    }
}
