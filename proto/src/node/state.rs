//! The protocol state derived from the log, and [`Node::apply`], the one function that changes it.
//!
//! Live operation and restart both go through `apply`, so a restarted node is in exactly the state
//! its log describes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;
use crate::history::{concerns, open_leaf};
use crate::ids::{Hash32, NodeId, NoticeId};
use crate::log::{ClockSkew, DeadlineKind, DeadlineMissed, LinkDown, LogEntry, Record, SequenceGap};
use crate::message::{Kind, Message, Notice, Opened, Role};
use crate::precedence::Precedence;

use super::checkpoints::PeerCheckpoints;
use super::timers::Timer;
use super::{Node, Now};

/// A message to a peer that waits for its receipt.
pub(super) struct Retx {
    pub frame: Vec<u8>,
    pub precedence: Precedence,
    /// The notice it is (or acknowledges): a snapshot names it, and a restart reads the frame
    /// back from the `sent` entry about it.
    pub notice: NoticeId,
    /// When the timer fires next; a timer at another time is stale.
    pub next_ms: u64,
    pub rto_ms: u64,
}

/// Which per-link sequence numbers arrived from a peer.
#[derive(Default)]
pub(super) struct SeqTracker {
    /// Every number up to this one arrived.
    pub contiguous: u64,
    /// Numbers above `contiguous + 1` that arrived.
    pub above: BTreeSet<u64>,
    /// Missing numbers up to this one were already recorded as a gap.
    pub reported_upto: u64,
}

impl SeqTracker {
    /// Records an arrival; returns true if it opened a gap not seen before.
    fn record(&mut self, seq: u64) -> bool {
        let highest_before = self.highest();
        if seq <= self.contiguous {
            return false;
        }
        self.above.insert(seq);
        // Sequence numbers come from peers: any u64, so no arithmetic here may overflow.
        while self.contiguous < u64::MAX && self.above.remove(&(self.contiguous + 1)) {
            self.contiguous += 1;
        }
        seq > highest_before.saturating_add(1)
    }

    /// A gap up to `last` is on record: what is missing up to there is settled (a late arrival
    /// is still accepted, by its id), so the numbers that arrived above a gap that never fills
    /// are not kept for ever (spec §6.11).
    pub fn gap_recorded(&mut self, last: u64) {
        self.reported_upto = self.reported_upto.max(last);
        if self.contiguous < self.reported_upto {
            self.contiguous = self.reported_upto;
            self.above = self.above.split_off(&self.contiguous.saturating_add(1));
            while self.contiguous < u64::MAX && self.above.remove(&(self.contiguous + 1)) {
                self.contiguous += 1;
            }
        }
    }

    pub fn highest(&self) -> u64 {
        self.above.last().copied().unwrap_or(self.contiguous).max(self.contiguous)
    }

    /// Missing runs above `reported_upto`, bounded by what arrived.
    pub fn missing_runs(&self) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let Some(mut expected) = self.contiguous.max(self.reported_upto).checked_add(1) else { return runs };
        for &seq in self.above.range(expected..) {
            if seq > expected {
                runs.push((expected, seq - 1));
            }
            match seq.checked_add(1) {
                Some(next) => expected = next,
                None => break,
            }
        }
        runs
    }
}

/// Refusal rate limit for one peer (spec §6.8).
#[derive(Default)]
pub(super) struct RateLimit {
    pub window_start: u64,
    pub logged: u32,
    pub suppressed: u32,
}

/// How many of its own latest heartbeats to a peer a node remembers, to recognise the peer's echo
/// of one (heartbeats cross on the wire, so the echo may be of the one before the last).
pub(super) const HEARTBEATS_REMEMBERED: usize = 4;

/// A heartbeat this node sent.
pub(super) struct SentHeartbeat {
    pub hash: Hash32,
    pub time_ms: u64,
    pub frame: Vec<u8>,
}

/// What this node knows about one peer.
pub(super) struct Peer {
    pub up: bool,
    /// Whether anything valid was heard from the peer since this node started: until then its
    /// link is presumed up (spec §6.10), not known to be.
    pub heard: bool,
    /// When the peer was last heard, on the wall clock (for the record and the operator) and on
    /// the monotonic clock (for the silence timer).
    pub last_heard_ms: u64,
    pub last_heard_mono: u64,
    pub link_seq_out: u64,
    pub recv: SeqTracker,
    pub gap_check_pending: bool,
    /// A link test is to be logged with the next heartbeat round trip.
    pub link_test_due: bool,
    /// When the last link test with this peer was logged.
    pub last_link_test_ms: Option<u64>,
    /// This node's latest heartbeats to the peer, oldest first (at most
    /// [`HEARTBEATS_REMEMBERED`]).
    pub heartbeats: std::collections::VecDeque<SentHeartbeat>,
    /// Message hash of the latest heartbeat from the peer: the next heartbeat to it echoes this.
    pub echo: Hash32,
    /// The peer's clock offset (its clock minus this node's, ms) while it is flagged as skewed
    /// (spec §6.9); None while its clock agrees.
    pub skew_ms: Option<i64>,
    /// While the link is down, when the peer was last heard (its `link_down` entry says so).
    pub down_since_ms: Option<u64>,
    /// The link's latest outage that ended: last heard, and the time of the `link_up` entry.
    /// What explains a receipt that came late (bounded: one per peer).
    pub last_outage: Option<(u64, u64)>,
    pub retx: BTreeMap<Hash32, Retx>,
    pub rejects: RateLimit,
    pub checkpoints: PeerCheckpoints,
}

impl Peer {
    pub fn new(now: Now) -> Peer {
        Peer {
            checkpoints: PeerCheckpoints::default(),
            up: true,
            heard: false,
            last_heard_ms: now.wall_ms,
            last_heard_mono: now.mono_ms,
            link_seq_out: 0,
            recv: SeqTracker::default(),
            gap_check_pending: false,
            link_test_due: true,
            last_link_test_ms: None,
            heartbeats: std::collections::VecDeque::new(),
            echo: Hash32([0; 32]),
            skew_ms: None,
            down_since_ms: None,
            last_outage: None,
            retx: BTreeMap::new(),
            rejects: RateLimit::default(),
        }
    }
}

/// What an acknowledgement says, as the officers on both sides are shown it (spec §5.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckView {
    /// When the acknowledging officer acknowledged (the acknowledger's clock).
    pub acked_ms: u64,
    /// The officer's position or call sign.
    pub operator: String,
    /// The decision.
    pub disposition: crate::message::Disposition,
    /// The officer's remark, in any language.
    pub note: crate::text::Texts,
}

impl AckView {
    fn of(a: &crate::message::Ack) -> AckView {
        AckView {
            acked_ms: a.acked_ms,
            operator: a.operator.clone(),
            disposition: a.disposition,
            note: a.note.clone(),
        }
    }
}

/// One addressee's progress on a notice this node sent.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct PartyStatus {
    pub needs_ack: bool,
    pub receipt_ms: Option<u64>,
    pub ack_ms: Option<u64>,
    pub ack_hash: Option<Hash32>,
    /// What its acknowledgement said.
    pub ack: Option<AckView>,
    /// The receipt this node issued for the addressee's acknowledgement (to answer duplicates).
    pub ack_receipt: Option<Vec<u8>>,
    pub receipt_missed: bool,
    pub ack_missed: bool,
}

/// A notice this node sent.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Outgoing {
    pub notice: Notice,
    pub hash: Hash32,
    pub sent_ms: u64,
    pub parties: BTreeMap<NodeId, PartyStatus>,
    /// The index of the latest log entry about it.
    pub last_entry: u64,
}

/// A notice this node accepted.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Incoming {
    pub notice: Notice,
    pub hash: Hash32,
    pub received_ms: u64,
    pub receipt: Option<Vec<u8>>,
    pub needs_ack: bool,
    pub acked: bool,
    pub overdue: bool,
    /// This node's acknowledgement of it, once sent.
    pub own_ack: Option<OwnAck>,
    /// The index of its `accepted` entry.
    pub accepted_at: u64,
    /// The index of the latest log entry about it.
    pub last_entry: u64,
}

/// An acknowledgement this node sent.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct OwnAck {
    pub hash: Hash32,
    pub receipted: bool,
    /// What it said.
    pub said: AckView,
}

/// What is known of one notice: the facts its log entries establish (spec §6.11). These rules
/// live here once: the core applies them as entries are logged, and [`Work::fold`] applies them
/// to a notice's entries read back from the store.
pub(super) enum Work {
    Out(Outgoing),
    In(Incoming),
}

impl Outgoing {
    fn start(t: u64, index: u64, n: &Notice, hash: Hash32) -> Outgoing {
        let parties =
            n.to.iter()
                .map(|a| {
                    let status = PartyStatus {
                        needs_ack: a.role == Role::Action,
                        receipt_ms: None,
                        ack_ms: None,
                        ack_hash: None,
                        ack: None,
                        ack_receipt: None,
                        receipt_missed: false,
                        ack_missed: false,
                    };
                    (a.node, status)
                })
                .collect();
        Outgoing { notice: n.clone(), hash, sent_ms: t, parties, last_entry: index }
    }

    /// Whether nothing is owed on it any more: every addressee receipted, every acknowledgement
    /// expected arrived.
    pub fn closed(&self) -> bool {
        self.parties.values().all(|s| s.receipt_ms.is_some() && (!s.needs_ack || s.ack_ms.is_some()))
    }

    fn update(&mut self, me: &NodeId, entry: &LogEntry, opened: Option<&Opened>) {
        let t = entry.time_ms;
        self.last_entry = entry.index;
        match (&entry.record, opened.map(|o| (&o.message, o.hash, &o.frame))) {
            (Record::Accepted { .. }, Some((Message::Receipt(r), _, _))) if r.of.kind == Kind::Notice => {
                if let Some(status) = self.parties.get_mut(&r.signer) {
                    status.receipt_ms = Some(t);
                }
            }
            (Record::Accepted { .. }, Some((Message::Ack(a), hash, _))) => {
                if let Some(status) = self.parties.get_mut(&a.signer) {
                    status.ack_ms = Some(t);
                    status.ack_hash = Some(hash);
                    status.ack = Some(AckView::of(a));
                }
            }
            (Record::Receipted { frame }, Some((Message::Receipt(r), _, _))) if r.of.kind == Kind::Ack => {
                if let Some(status) = self.parties.values_mut().find(|s| s.ack_hash == Some(r.of.hash)) {
                    status.ack_receipt = Some(frame.clone());
                }
            }
            (Record::DeadlineMissed(DeadlineMissed { party, deadline, .. }), _) if party != me => {
                if let Some(status) = self.parties.get_mut(party) {
                    match deadline {
                        DeadlineKind::Receipt => status.receipt_missed = true,
                        DeadlineKind::Ack => status.ack_missed = true,
                    }
                }
            }
            _ => {}
        }
    }
}

impl Incoming {
    fn start(me: &NodeId, t: u64, index: u64, n: &Notice, hash: Hash32) -> Incoming {
        Incoming {
            notice: n.clone(),
            hash,
            received_ms: t,
            receipt: None,
            needs_ack: n.needs_ack_from(me),
            acked: false,
            overdue: false,
            own_ack: None,
            accepted_at: index,
            last_entry: index,
        }
    }

    /// Whether nothing is owed on it any more: receipted, and acknowledged (with the
    /// acknowledgement receipted) if an acknowledgement is expected or was given.
    pub fn closed(&self) -> bool {
        self.receipt.is_some()
            && match &self.own_ack {
                Some(own) => own.receipted,
                None => !self.needs_ack,
            }
    }

    fn update(&mut self, me: &NodeId, entry: &LogEntry, opened: Option<&Opened>) {
        self.last_entry = entry.index;
        match (&entry.record, opened.map(|o| (&o.message, o.hash))) {
            (Record::Receipted { frame }, Some((Message::Receipt(r), _))) if r.of.kind == Kind::Notice => {
                self.receipt = Some(frame.clone());
            }
            (Record::Sent { .. }, Some((Message::Ack(a), hash))) => {
                self.acked = true;
                self.own_ack = Some(OwnAck { hash, receipted: false, said: AckView::of(a) });
            }
            (Record::Accepted { .. }, Some((Message::Receipt(r), _))) if r.of.kind == Kind::Ack => {
                if let Some(own) = self.own_ack.as_mut().filter(|own| own.hash == r.of.hash) {
                    own.receipted = true;
                }
            }
            (Record::DeadlineMissed(DeadlineMissed { party, .. }), _) if party == me => self.overdue = true,
            _ => {}
        }
    }
}

impl Work {
    /// The work a notice's own entry (`sent` or `accepted`) starts.
    fn start(me: &NodeId, entry: &LogEntry, opened: Option<&Opened>) -> Option<Work> {
        let (t, index) = (entry.time_ms, entry.index);
        match (&entry.record, opened.map(|o| (&o.message, o.hash))) {
            (Record::Sent { .. }, Some((Message::Notice(n), hash))) => {
                Some(Work::Out(Outgoing::start(t, index, n, hash)))
            }
            (Record::Accepted { .. }, Some((Message::Notice(n), hash))) => {
                Some(Work::In(Incoming::start(me, t, index, n, hash)))
            }
            _ => None,
        }
    }

    /// What is known of a notice from its durable entries ([`crate::History::about`]), in log
    /// order; `None` if they do not start with the notice itself.
    pub fn fold(me: &NodeId, leaves: &[Vec<u8>]) -> Option<Work> {
        let mut work: Option<Work> = None;
        for leaf in leaves {
            let Some((entry, opened)) = open_leaf(leaf) else { continue };
            match work.as_mut() {
                None => work = Work::start(me, &entry, opened.as_ref()),
                Some(Work::Out(o)) => o.update(me, &entry, opened.as_ref()),
                Some(Work::In(i)) => i.update(me, &entry, opened.as_ref()),
            }
        }
        work
    }
}

impl Node {
    /// Applies one log entry to the state. `opened` is the entry's embedded message, if any.
    pub(super) fn apply(&mut self, entry: &LogEntry, opened: Option<&Opened>) {
        self.apply_checkpoint_record(entry);
        if let Some(id) = concerns(&entry.record, opened.map(|o| &o.message)) {
            self.apply_to_work(id, entry, opened);
        }
        self.apply_effects(entry, opened);
    }

    /// The facts an entry establishes about the notice it concerns (the [`Work`] rules).
    fn apply_to_work(&mut self, id: NoticeId, entry: &LogEntry, opened: Option<&Opened>) {
        let me = self.id;
        let closed = match Work::start(&me, entry, opened) {
            Some(Work::Out(o)) => {
                let closed = o.closed();
                self.outgoing.insert(id, o);
                closed
            }
            Some(Work::In(i)) => {
                let closed = i.closed();
                self.incoming.insert(id, i);
                closed
            }
            // An entry about a forgotten notice (an officer acknowledging a notice that needed
            // no acknowledgement, replayed at a restart) reopens it from the history first.
            None if self.recall(&id).is_err() => false,
            None if id.sender == me => self.outgoing.get_mut(&id).is_some_and(|o| {
                o.update(&me, entry, opened);
                o.closed()
            }),
            None => self.incoming.get_mut(&id).is_some_and(|i| {
                i.update(&me, entry, opened);
                i.closed()
            }),
        };
        if closed {
            self.closing.push(id);
        }
    }

    /// What an entry changes beyond the notice's facts: timers, retransmission, links.
    fn apply_effects(&mut self, entry: &LogEntry, opened: Option<&Opened>) {
        let t = entry.time_ms;
        match (&entry.record, opened.map(|o| (&o.message, o.hash, &o.frame))) {
            (Record::Sent { .. }, Some((Message::Notice(n), hash, frame))) => {
                self.apply_sent_notice(n, hash, frame)
            }
            (Record::Sent { .. }, Some((Message::Ack(a), hash, frame))) => {
                let to = a.notice.sender;
                let precedence =
                    self.incoming.get(&a.notice).map_or(Precedence::Routine, |i| i.notice.precedence);
                let me = self.id;
                self.cancel(Timer::Deadline { notice: a.notice, party: me, kind: DeadlineKind::Ack });
                self.cancel(Timer::Warn { notice: a.notice, party: me });
                self.start_retransmission(to, a.notice, hash, precedence, frame);
            }
            (Record::Accepted { .. }, Some((Message::Notice(n), _, _))) => self.apply_accepted_notice(n),
            (Record::Accepted { .. }, Some((Message::Receipt(r), _, _))) => {
                if let Some(peer) = self.peers.get_mut(&r.signer) {
                    peer.retx.remove(&r.of.hash);
                }
                self.cancel(Timer::Retransmit { peer: r.signer, hash: r.of.hash });
                if r.of.kind == Kind::Notice {
                    self.cancel(Timer::Deadline {
                        notice: r.notice,
                        party: r.signer,
                        kind: DeadlineKind::Receipt,
                    });
                }
            }
            (Record::Accepted { .. }, Some((Message::Ack(a), _, _))) => {
                self.cancel(Timer::Deadline { notice: a.notice, party: a.signer, kind: DeadlineKind::Ack });
                self.cancel(Timer::Warn { notice: a.notice, party: a.signer });
            }
            (Record::LinkDown(LinkDown { peer, last_heard_ms }), _) => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.up = false;
                    p.down_since_ms = Some(*last_heard_ms);
                }
            }
            (Record::LinkUp { peer }, _) => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.up = true;
                    if let Some(from) = p.down_since_ms.take() {
                        p.last_outage = Some((from, t));
                    }
                }
            }
            (Record::SequenceGap(SequenceGap { peer, last, .. }), _) => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.recv.gap_recorded(*last);
                }
            }
            (Record::Equivocation { .. }, Some((_, hash, _))) => {
                self.equivocations.insert(hash);
            }
            (Record::ClockSkew(ClockSkew { peer, offset_ms }), _) => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.skew_ms = Some(*offset_ms);
                }
            }
            (Record::LinkTest { peer, .. }, _) => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.last_link_test_ms = Some(t);
                }
            }
            _ => {}
        }
    }

    fn apply_sent_notice(&mut self, n: &Notice, hash: Hash32, frame: &[u8]) {
        self.next_seq = self.next_seq.max(n.seq.saturating_add(1));
        let receipt = Deadline::receipt(&self.roster.policy, n);
        let ack = Deadline::ack(&self.roster.policy, n);
        for a in &n.to {
            if let Some(peer) = self.peers.get_mut(&a.node) {
                peer.link_seq_out = peer.link_seq_out.max(a.link_seq);
            }
            self.start_retransmission(a.node, n.id(), hash, n.precedence, frame);
            let notice = n.id();
            self.schedule(
                receipt.due_ms(),
                Timer::Deadline { notice, party: a.node, kind: DeadlineKind::Receipt },
            );
            if a.role == Role::Action {
                self.schedule(
                    ack.due_ms(),
                    Timer::Deadline { notice, party: a.node, kind: DeadlineKind::Ack },
                );
                self.schedule(ack.warning_ms(), Timer::Warn { notice, party: a.node });
            }
        }
    }

    fn apply_accepted_notice(&mut self, n: &Notice) {
        let me = self.id;
        let silence = self.roster.policy.link_silence_ms;
        if let (Some(peer), Some(addressee)) = (self.peers.get_mut(&n.sender), n.addressee(&me)) {
            if peer.recv.record(addressee.link_seq) && !peer.gap_check_pending {
                peer.gap_check_pending = true;
                let sender = n.sender;
                self.schedule(self.mono.saturating_add(silence), Timer::GapCheck { peer: sender });
            }
        }
        if n.needs_ack_from(&me) {
            let ack = Deadline::ack(&self.roster.policy, n);
            let notice = n.id();
            self.schedule(ack.due_ms(), Timer::Deadline { notice, party: me, kind: DeadlineKind::Ack });
            self.schedule(ack.warning_ms(), Timer::Warn { notice, party: me });
        }
    }

    /// Registers a message for retransmission to `peer` until it is receipted. The first
    /// transmission is the caller's; retries start one initial timeout from now on the monotonic
    /// clock (at a restart, [`Node::restore`] then makes them all due at once).
    fn start_retransmission(
        &mut self,
        peer: crate::NodeId,
        notice: NoticeId,
        hash: Hash32,
        precedence: Precedence,
        frame: &[u8],
    ) {
        let rto = self.roster.policy.retransmit_initial_ms;
        let next_ms = self.mono.saturating_add(rto);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.retx.insert(hash, Retx { frame: frame.to_vec(), precedence, notice, next_ms, rto_ms: rto });
            self.schedule(next_ms, Timer::Retransmit { peer, hash });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeqTracker;

    /// Found by the `node_frames`/`log_verifier` fuzz targets' family of inputs: a peer's
    /// `link_seq` is any u64, and the tracker's arithmetic must not overflow at the top.
    #[test]
    fn sequence_numbers_at_the_top_of_u64_do_not_overflow() {
        let mut t = SeqTracker::default();
        assert!(t.record(u64::MAX), "a gap below the largest number");
        assert!(!t.record(u64::MAX));
        assert_eq!(t.highest(), u64::MAX);
        assert_eq!(t.missing_runs(), vec![(1, u64::MAX - 1)]);
        t.reported_upto = u64::MAX;
        assert!(t.missing_runs().is_empty());
        let mut full = SeqTracker { contiguous: u64::MAX - 1, ..SeqTracker::default() };
        full.record(u64::MAX);
        assert_eq!(full.contiguous, u64::MAX);
        assert!(full.missing_runs().is_empty());
    }
}
