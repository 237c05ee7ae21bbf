//! The node state machine (spec §6).
//!
//! A [`Node`] is one party's protocol endpoint. Its whole protocol state is a function of its log:
//! every change is made by appending a [`Record`] and applying it ([`state`]), and a restart
//! rebuilds the same state by applying the persisted entries in order. Timers, retransmission
//! schedules and output queues are the only state outside the log, and all of them can be derived
//! again from it.

mod checkpoints;
mod clocks;
mod inbound;
mod outputs;
mod snapshot;
mod state;
mod timers;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use crate::deadline::Deadline;

use crate::crypto::leaf_hash;
use crate::error::{CommandError, StartError};
use crate::history::{about_checked, History, HistoryError, Verified};
use crate::ids::{Hash32, NodeId, NoticeId};
use crate::log::{
    seal_entry, verify_leaf_signatures, Check, ClockSkew, DeadlineKind, DeadlineMissed, LinkDown, LogEntry,
    LogVerifier, Record, SequenceGap,
};
use crate::message::{
    self, Ack, Addressee, Body, Disposition, Kind, Notice, NoticeKind, Role, SignedCheckpoint,
};
use crate::precedence::Precedence;
use crate::roster::{Policy, Roster};
use crate::signer::Signer;
use crate::text::Texts;
use crate::ErrorCode;

use clocks::Clocks;
pub use clocks::Now;
use outputs::Outputs;
pub use outputs::{PersistBatch, Transmit};
#[cfg(feature = "testing")]
pub use snapshot::{seal_state as seal_snapshot_state, unseal_state as unseal_snapshot_state};
pub use state::AckView;
use state::{Incoming, Outgoing, Peer, Work};
use timers::{Timer, Timers};
use tree::Tree;

/// What the operator asks to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// Precedence.
    pub precedence: Precedence,
    /// Addressees and their roles. Per-link sequence numbers are assigned by the node.
    pub to: Vec<(NodeId, Role)>,
    /// The thread, for anything but an initial report.
    pub thread: Option<NoticeId>,
    /// The notice answered, if any.
    pub in_reply_to: Option<NoticeId>,
    /// Content.
    pub body: Body,
}

/// A peer holds this node's signed checkpoint of its own log that the log does not hold (spec
/// §6.13): the store was rolled back (restored from an older backup, or a damaged disk opened an
/// older state) or replaced. The node signs nothing more — no entry, receipt, checkpoint or
/// acknowledgement — until its operator restores the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "this node's store has lost entries: {} holds this node's signed checkpoint of {size} entries (root {}), but the store holds {log_size}; the node signs nothing until the store is restored from a backup holding at least {} entries (the peers hold receipts for notices the lost entries recorded)",
    peer.short(), &root.to_hex()[..16], size + 1
)]
pub struct RolledBack {
    /// The peer that showed it.
    pub peer: NodeId,
    /// The checkpoint's size.
    pub size: u64,
    /// The checkpoint's root.
    pub root: Hash32,
    /// What the store holds.
    pub log_size: u64,
}

/// Something the operator should be told. Released only once everything it reports is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A notice this node created is durable and is being delivered.
    NoticeStored {
        /// The notice.
        id: NoticeId,
    },
    /// An acknowledgement this node's officer gave is durable and is being delivered.
    AckStored {
        /// The notice acknowledged.
        notice: NoticeId,
    },
    /// A new notice for this node (never reported twice).
    NoticeReceived {
        /// The notice.
        id: NoticeId,
        /// Its thread.
        thread: NoticeId,
        /// Its kind.
        kind: NoticeKind,
        /// Its precedence.
        precedence: Precedence,
        /// This node's role.
        role: Role,
        /// When this node's acknowledgement is due, if one is expected.
        ack_due_ms: Option<u64>,
    },
    /// An addressee receipted a notice (or the sender receipted this node's ack).
    ReceiptReceived {
        /// The notice concerned.
        notice: NoticeId,
        /// Who receipted.
        from: NodeId,
        /// What was receipted.
        of: Kind,
        /// Whether it came after the receipt deadline.
        late: bool,
    },
    /// An addressee's officer acknowledged a notice.
    AckReceived {
        /// The notice.
        notice: NoticeId,
        /// The addressee.
        from: NodeId,
        /// The decision.
        disposition: Disposition,
        /// The officer.
        operator: String,
        /// Whether it came after the acknowledgement deadline.
        late: bool,
    },
    /// 80 % of an acknowledgement window has passed without the acknowledgement.
    DeadlineApproaching {
        /// The notice.
        notice: NoticeId,
        /// Whose acknowledgement is awaited (this node's own, on the receiving side).
        party: NodeId,
        /// When it falls.
        deadline_ms: u64,
    },
    /// The store's history could not be read to handle a frame about a notice this node had
    /// forgotten (its work closed); the frame was dropped as if lost, and its sender sends it
    /// again.
    HistoryUnavailable {
        /// What failed.
        detail: String,
    },
    /// A deadline was missed; the miss is in the log (the same facts as its record).
    DeadlineMissed(DeadlineMissed),
    /// A peer has been silent past the policy's limit.
    LinkDown(LinkDown),
    /// A silent peer was heard again.
    LinkUp {
        /// The peer.
        peer: NodeId,
    },
    /// Notices from a peer are missing.
    SequenceGap(SequenceGap),
    /// A peer's clock is off by more than the policy tolerates.
    ClockSkew(ClockSkew),
    /// This node's own wall clock was stepped (the same facts as its `clock_step` record).
    ClockStep {
        /// Where the monotonic clock said the wall clock should be.
        expected_ms: u64,
        /// What it read.
        observed_ms: u64,
    },
    /// A frame from a peer was refused (rate-limited, like its log entries).
    Rejected {
        /// The peer.
        peer: NodeId,
        /// Why.
        code: ErrorCode,
        /// Details.
        detail: String,
    },
    /// A peer signed two different notices with one id; the evidence is in the log.
    Equivocation {
        /// The peer.
        peer: NodeId,
        /// The id.
        notice: NoticeId,
    },
    /// This node's store lost entries a peer holds its signature on (spec §6.13): it signs
    /// nothing more. Not logged (logging is signing); told as soon as it is found.
    RolledBack(RolledBack),
    /// A peer presented a checkpoint of its log that contradicts one this node co-signed: it
    /// rewrote its history. The two signed checkpoints are in the log.
    LogConflict {
        /// The peer.
        peer: NodeId,
        /// Size of the checkpoint this node co-signed.
        cosigned_size: u64,
        /// Size of the contradicting checkpoint.
        size: u64,
    },
}

/// An addressee's progress on a notice this node sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyView {
    /// The addressee.
    pub party: NodeId,
    /// Its role.
    pub role: Role,
    /// When its receipt was accepted (this node's clock).
    pub receipt_ms: Option<u64>,
    /// When its acknowledgement was accepted.
    pub ack_ms: Option<u64>,
    /// Whether the receipt deadline was missed.
    pub receipt_missed: bool,
    /// Whether the acknowledgement deadline was missed.
    pub ack_missed: bool,
    /// What its acknowledgement said, once accepted.
    pub ack: Option<AckView>,
}

/// Sent or received, with what is known of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// This node sent it.
    Sent {
        /// Each addressee's progress.
        parties: Vec<PartyView>,
    },
    /// This node received it.
    Received {
        /// Whether this node's officer owes an acknowledgement.
        needs_ack: bool,
        /// Whether it was acknowledged.
        acked: bool,
        /// Whether the acknowledgement deadline passed first.
        overdue: bool,
        /// What this node's acknowledgement said, once sent.
        own_ack: Option<AckView>,
    },
}

/// A notice as an operator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeView {
    /// The notice.
    pub notice: Notice,
    /// Its message hash.
    pub hash: Hash32,
    /// When this node logged it (sent or accepted).
    pub logged_ms: u64,
    /// Its receipt deadline.
    pub receipt: Deadline,
    /// Its acknowledgement deadline.
    pub ack: Deadline,
    /// Sent or received.
    pub direction: Direction,
}

/// One peer's link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    /// The peer.
    pub peer: NodeId,
    /// Up or down (spec §6.5).
    pub up: bool,
    /// Whether anything valid was heard from it since this node started; until then an `up`
    /// link is only presumed up (spec §6.10).
    pub heard: bool,
    /// When something valid was last heard from it (since this node started: its start time
    /// until something is heard).
    pub last_heard_ms: u64,
    /// When the last link test with it was logged (since this node's log began).
    pub last_link_test_ms: Option<u64>,
    /// Messages to it not yet receipted.
    pub unreceipted: usize,
    /// Whether its clock is currently flagged as skewed.
    pub clock_skewed: bool,
    /// How far its clock is off (its clock minus this node's, ms), while it is flagged.
    pub clock_offset_ms: Option<i64>,
    /// While the link is down: when the peer was last heard.
    pub down_since_ms: Option<u64>,
    /// The link's latest outage that ended: from when the peer was last heard to the `link_up`.
    pub last_outage: Option<(u64, u64)>,
}

/// A thread this node started (see [`Node::sent_threads`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentThread {
    /// The thread id (its initial report).
    pub thread: NoticeId,
    /// The initial report's addressees and roles.
    pub to: Vec<(NodeId, Role)>,
    /// Whether this node closed it with a final report.
    pub closed: bool,
}

/// Rules that can be broken on purpose, to prove that the simulation catches a broken node.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenRule {
    /// Send receipts (and everything else) without waiting for durability.
    ReceiptBeforePersist,
    /// Never record a missed acknowledgement deadline.
    ForgetAckDeadlines,
    /// Accept a duplicate notice as new.
    AcceptDuplicates,
    /// Offer checkpoints to peers before the entries they cover are durable.
    CheckpointBeforePersist,
}

/// One party's protocol endpoint. See the crate documentation for the I/O contract.
pub struct Node {
    key: Box<dyn Signer>,
    id: NodeId,
    roster: Roster,
    network: Hash32,
    // The log.
    log_len: u64,
    durable: u64,
    prev: Hash32,
    last_time: u64,
    unpersisted: Vec<Vec<u8>>,
    /// The log length at the last snapshot (spec §6.12), its size, and the bytes of the entries
    /// handed to the store since.
    snapshot_at: u64,
    snapshot_len: u64,
    logged_since_snapshot: u64,
    tree: Tree,
    // State derived from the log.
    own_checkpoints: BTreeMap<u64, SignedCheckpoint>,
    /// Whether the log grew by anything but co-signing since the last checkpoint.
    grown_since_checkpoint: bool,
    /// The log time of this run's `started` entry.
    started_ms: u64,
    next_seq: u64,
    peers: BTreeMap<NodeId, Peer>,
    outgoing: BTreeMap<NoticeId, Outgoing>,
    incoming: BTreeMap<NoticeId, Incoming>,
    /// Notices whose work closed, to be forgotten once every entry about them is durable.
    closing: Vec<NoticeId>,
    /// Set when a peer shows that the store lost entries this node signed (spec §6.13): from then
    /// on the node signs nothing.
    rolled_back: Option<RolledBack>,
    /// Where forgotten notices are read back from; without one, nothing is forgotten.
    history: Option<Box<dyn History>>,
    /// Entries read back whose signatures verified (bounded).
    verified: Verified,
    /// Message hashes of conflicting notices already recorded as equivocation evidence.
    equivocations: BTreeSet<Hash32>,
    // Outside the log.
    clocks: Clocks,
    /// The latest reading of both clocks, the wall clock as log time (never before the last
    /// entry's).
    now: Now,
    /// `now.mono_ms`: what timers are scheduled from.
    mono: u64,
    timers: Timers,
    outputs: Outputs,
    #[cfg(feature = "fault-injection")]
    broken: Option<BrokenRule>,
}

impl Node {
    /// A node with an empty log, started at `now`.
    pub fn new(key: impl Signer + 'static, roster: Roster, now: impl Into<Now>) -> Result<Node, StartError> {
        Node::restore(key, roster, std::iter::empty::<&[u8]>(), now)
    }

    /// Rebuilds a node from its durable log (leaves in index order) and starts it at `now`.
    ///
    /// Every leaf is checked for structure and chain ([`Check::Chain`]), which also checks that
    /// each checkpoint record commits to the entries before it, and the tail since the last
    /// checkpoint in full (see `replay`). The cost is the log's: a node with a store starts from
    /// its snapshot instead ([`Node::resume`]).
    pub fn restore<I, L>(
        key: impl Signer + 'static,
        roster: Roster,
        leaves: I,
        now: impl Into<Now>,
    ) -> Result<Node, StartError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        Node::restore_with(key, roster, leaves, None, now)
    }

    /// [`Node::restore`] with the store's [`History`] of the same leaves: the node then keeps in
    /// memory only the notices with open work (spec §6.11) — during the restore too — and reads
    /// the others back from `history` when it needs them.
    pub fn restore_with<I, L>(
        key: impl Signer + 'static,
        roster: Roster,
        leaves: I,
        history: Option<Box<dyn History>>,
        now: impl Into<Now>,
    ) -> Result<Node, StartError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let now = now.into();
        let mut node = Node::blank(key, roster, history, now)?;
        let verifier = LogVerifier::new(node.roster.clone(), node.id, Check::Chain);
        // Replayed from the log alone: `snapshot_at` stays 0, so the first batch past 1 024
        // entries carries a snapshot and the next start need not replay again.
        node.replay(verifier, leaves, true)?;
        node.begin(now);
        Ok(node)
    }

    /// Restarts a node from its snapshot (spec §6.12) and the entries after it, in index order:
    /// `before` is the stored leaf just before the snapshot's point (none if it is at 0), and
    /// every entry of `tail` is verified in full, signatures included, before it is applied. The
    /// cost is the snapshot's and the tail's, not the log's. A snapshot that cannot be used is
    /// [`StartError::Snapshot`]: the log may be fine, and [`Node::restore_with`] replays it.
    pub fn resume<I, L>(
        key: impl Signer + 'static,
        roster: Roster,
        snapshot: &[u8],
        before: Option<&[u8]>,
        tail: I,
        history: Box<dyn History>,
        now: impl Into<Now>,
    ) -> Result<Node, StartError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let now = now.into();
        let mut node = Node::blank(key, roster, Some(history), now)?;
        let verifier = node.load_snapshot(snapshot, before).map_err(StartError::Snapshot)?;
        node.snapshot_at = node.log_len;
        node.snapshot_len = snapshot.len() as u64;
        node.replay(verifier, tail, false)?;
        node.begin(now);
        Ok(node)
    }

    /// A node of `roster` with an empty log and no state.
    fn blank(
        key: impl Signer + 'static,
        roster: Roster,
        history: Option<Box<dyn History>>,
        now: Now,
    ) -> Result<Node, StartError> {
        roster.check().map_err(StartError::Roster)?;
        let id = key.public_key();
        let key: Box<dyn Signer> = Box::new(key);
        if roster.member(&id).is_none() {
            return Err(StartError::NotMember(id.to_hex()));
        }
        let network = roster.network_id();
        let peers = roster.members.iter().filter(|m| m.key != id).map(|m| (m.key, Peer::new(now))).collect();
        Ok(Node {
            key,
            id,
            roster,
            network,
            log_len: 0,
            durable: 0,
            prev: Hash32([0; 32]),
            last_time: 0,
            unpersisted: Vec::new(),
            snapshot_at: 0,
            snapshot_len: 0,
            logged_since_snapshot: 0,
            tree: Tree::new(history.is_some()),
            own_checkpoints: BTreeMap::new(),
            grown_since_checkpoint: false,
            started_ms: 0,
            next_seq: 1,
            peers,
            outgoing: BTreeMap::new(),
            incoming: BTreeMap::new(),
            closing: Vec::new(),
            rolled_back: None,
            history,
            verified: Verified::default(),
            equivocations: BTreeSet::new(),
            clocks: Clocks::default(),
            now,
            mono: now.mono_ms,
            timers: Timers::default(),
            outputs: Outputs::default(),
            #[cfg(feature = "fault-injection")]
            broken: None,
        })
    }

    /// Applies stored leaves, each checked by `verifier`. With `check_tail`, the verifier checks
    /// the chain only, and the *tail* — the last checkpoint record and everything after it — is
    /// checked in full afterwards, signatures included (spec §6.10): the checkpoint's signature
    /// then vouches for everything before it through the chain, and a damaged last entry (which
    /// no later `prev` covers) is refused instead of being applied, served and co-signed.
    fn replay<I, L>(
        &mut self,
        mut verifier: LogVerifier,
        leaves: I,
        check_tail: bool,
    ) -> Result<(), StartError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        // The leaves since the last checkpoint record (inclusive), whose signatures are checked:
        // kept as given (a caller's references are not copied).
        let mut tail: Vec<L> = Vec::new();
        for leaf in leaves {
            let verified = verifier.push(leaf.as_ref()).map_err(StartError::Log)?;
            if matches!(verified.entry.record, Record::Checkpoint { .. }) {
                tail.clear();
            }
            self.apply(&verified.entry, verified.message.as_ref());
            self.log_len += 1;
            self.prev = verified.leaf_hash;
            self.tree.push(verified.leaf_hash);
            self.last_time = verified.entry.time_ms;
            if check_tail {
                tail.push(leaf);
            }
            // Every restored entry is durable already: closed work is forgotten as it closes.
            self.durable = self.log_len;
            self.tree.stored(self.durable);
            self.forget_closed();
        }
        let first = self.log_len - tail.len() as u64;
        for (i, leaf) in tail.iter().enumerate() {
            verify_leaf_signatures(&self.roster, &self.network, &self.id, first + i as u64, leaf.as_ref())
                .map_err(StartError::Log)?;
        }
        Ok(())
    }

    /// Starts a restored node at `now`: everything restored is durable, the open work's timers
    /// are set from the state (as a full replay leaves them), and the run's `started` entry is
    /// logged.
    fn begin(&mut self, now: Now) {
        self.durable = self.log_len;
        self.outputs.release(self.durable);
        self.tree.stored(self.durable);
        self.schedule_open_work();
        self.start(now);
    }

    /// Forgets the notices whose work closed and whose every entry is durable (so that the
    /// history holds them all). Without a history, nothing is forgotten.
    fn forget_closed(&mut self) {
        if self.history.is_none() {
            self.closing.clear();
            return;
        }
        let durable = self.durable;
        let mut waiting = Vec::new();
        for id in std::mem::take(&mut self.closing) {
            let state = if id.sender == self.id {
                self.outgoing.get(&id).map(|o| (o.closed(), o.last_entry))
            } else {
                self.incoming.get(&id).map(|i| (i.closed(), i.last_entry))
            };
            match state {
                Some((true, last)) if last < durable => {
                    self.outgoing.remove(&id);
                    self.incoming.remove(&id);
                }
                Some((true, _)) => waiting.push(id),
                _ => {}
            }
        }
        waiting.sort();
        waiting.dedup();
        self.closing = waiting;
    }

    /// Brings a forgotten notice back into the working set from the history, to handle an
    /// input about it (a late duplicate, an acknowledgement of a closed notice). It is forgotten
    /// again once the input is handled. Returns whether the notice is known.
    pub(super) fn recall(&mut self, id: &NoticeId) -> Result<bool, HistoryError> {
        if self.outgoing.contains_key(id) || self.incoming.contains_key(id) {
            return Ok(true);
        }
        let Some(history) = self.history.as_ref() else { return Ok(false) };
        // Only durable entries: at a replay the history also holds the entries still to be
        // applied, which must not be counted twice.
        let leaves =
            about_checked(history.as_ref(), &self.verified, &self.network, &self.id, id, self.durable)?;
        match Work::fold(&self.id, &leaves) {
            Some(Work::Out(o)) => {
                self.outgoing.insert(*id, o);
            }
            Some(Work::In(i)) => {
                self.incoming.insert(*id, i);
            }
            None => return Ok(false),
        }
        self.closing.push(*id);
        Ok(true)
    }

    fn start(&mut self, reading: Now) {
        // The wall clock behind the log across a restart: it was stepped back while the node was
        // down (or the disk's times are from the future). Log times stay where they were.
        let tolerance = self.policy().max_clock_skew_ms;
        let behind = reading.wall_ms.saturating_add(tolerance) < self.last_time;
        let last_time = self.last_time;
        let reading = self.read_clocks(reading);
        let now = reading.wall_ms;
        self.append(now, Record::Started { software: crate::SOFTWARE.into() });
        self.started_ms = now;
        if behind {
            self.record_clock_step(now, last_time, reading.wall_ms.min(last_time));
        }
        let mono = self.mono;
        let silence = self.policy().link_silence_ms;
        let link_test = self.policy().link_test_interval_ms;
        let initial = self.policy().retransmit_initial_ms;
        let peers: Vec<NodeId> = self.peers.keys().copied().collect();
        for peer in peers {
            let mut due = Vec::new();
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_heard_ms = now;
                p.last_heard_mono = mono;
                p.up = true;
                // A skewed clock is flagged again by its next message (the flag is not saved).
                p.skew_ms = None;
                // Everything unreceipted goes out again at once (spec §6.10).
                for (hash, retx) in p.retx.iter_mut() {
                    retx.next_ms = mono;
                    retx.rto_ms = initial;
                    due.push(*hash);
                }
            }
            for hash in due {
                self.schedule(mono, Timer::Retransmit { peer, hash });
            }
            // A link test is due at once (a restart is worth proving), then every interval.
            self.schedule(mono.saturating_add(link_test), Timer::LinkTest { peer });
            self.schedule(mono.saturating_add(silence), Timer::Silence { peer });
        }
        self.schedule(mono, Timer::Heartbeat);
        let interval = self.policy().checkpoint_interval_ms;
        self.schedule(mono.saturating_add(interval), Timer::Checkpoint);
    }

    /// Breaks a protocol rule on purpose (tests of the simulator only).
    #[cfg(feature = "fault-injection")]
    pub fn break_rule(&mut self, rule: BrokenRule) {
        self.broken = Some(rule);
        self.outputs.ungated_transmits = rule == BrokenRule::ReceiptBeforePersist;
    }

    #[cfg(feature = "fault-injection")]
    fn is_broken(&self, rule: BrokenRule) -> bool {
        self.broken == Some(rule)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The network id.
    pub fn network(&self) -> Hash32 {
        self.network
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.roster.policy
    }

    /// When this run of the node started (the log time of its `started` entry).
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    /// How many notices this node has created: their ids are `(self, 1..=sent_count)`.
    pub fn sent_count(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Entries in the log (durable or not).
    pub fn log_len(&self) -> u64 {
        self.log_len
    }

    /// Number of log entries known durable.
    pub fn durable_len(&self) -> u64 {
        self.durable
    }

    /// Takes a reading of both clocks at an input (spec §6.9): records a step of the wall clock
    /// since the previous reading, and returns the reading with the log time as its wall time
    /// (log time never goes backwards, whatever the wall clock does).
    fn read_clocks(&mut self, now: Now) -> Now {
        let (reading, step) = self.clocks.read(now, self.policy().max_clock_skew_ms);
        let wall = reading.wall_ms.max(self.last_time);
        self.now = Now { wall_ms: wall, mono_ms: reading.mono_ms };
        self.mono = reading.mono_ms;
        if let Some(step) = step {
            self.record_clock_step(wall, step.expected_ms, step.observed_ms);
        }
        self.now
    }

    fn record_clock_step(&mut self, now: u64, expected_ms: u64, observed_ms: u64) {
        if self.rolled_back.is_some() {
            return;
        }
        self.append(now, Record::ClockStep { expected_ms, observed_ms });
        let after = self.log_len;
        self.outputs.event(after, Event::ClockStep { expected_ms, observed_ms });
    }

    // ---- I/O contract -------------------------------------------------------------------------

    /// New log entries to make durable. Write them in order, then call [`Node::persisted`].
    pub fn poll_persist(&mut self) -> Option<PersistBatch> {
        if self.unpersisted.is_empty() {
            return None;
        }
        let leaves = std::mem::take(&mut self.unpersisted);
        self.logged_since_snapshot += leaves.iter().map(|l| l.len() as u64).sum::<u64>();
        // A snapshot of the state after these leaves, to be written with them (only a node with
        // a history starts from one): spec §6.12's rule.
        let snapshot = (self.history.is_some()
            && snapshot::due(self.log_len - self.snapshot_at, self.logged_since_snapshot, self.snapshot_len))
        .then(|| {
            let bytes = self.snapshot();
            self.snapshot_at = self.log_len;
            self.snapshot_len = bytes.len() as u64;
            self.logged_since_snapshot = 0;
            bytes
        });
        Some(PersistBatch { first_index: self.log_len - leaves.len() as u64, leaves, snapshot })
    }

    /// The first `len` log entries are durable (fsynced). Releases what waited for them.
    pub fn persisted(&mut self, len: u64) {
        let handed_out = self.log_len - self.unpersisted.len() as u64;
        self.durable = self.durable.max(len.min(handed_out));
        self.outputs.release(self.durable);
        self.tree.stored(self.durable);
        self.forget_closed();
    }

    /// The next frame to send, most urgent first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outputs.poll_transmit()
    }

    /// The next event for the operator.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.outputs.poll_event()
    }

    /// When [`Node::handle_timeout`] should next be called, on the monotonic clock of the
    /// readings it is given.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next_at(self.now)
    }

    // ---- operator commands --------------------------------------------------------------------

    /// Creates, signs, logs and queues a notice. It leaves the node once durable; the operator is
    /// told by [`Event::NoticeStored`].
    pub fn send_notice(&mut self, now: impl Into<Now>, draft: Draft) -> Result<NoticeId, CommandError> {
        let now = self.read_clocks(now.into()).wall_ms;
        let notice = self.prepare(now, draft)?;
        Ok(self.send_checked(now, &notice))
    }

    /// Whether [`Node::send_notice`] would take `draft` now (the same checks; nothing signed,
    /// nothing changed): for a node that holds a notice for a second officer's release and
    /// refuses at drafting what would be refused at release.
    pub fn check_draft(&self, now_ms: u64, draft: &Draft) -> Result<(), CommandError> {
        self.prepare(now_ms, draft.clone()).map(|_| ())
    }

    /// The notice `draft` becomes, checked against the roster and what this node knows.
    fn prepare(&self, now: u64, draft: Draft) -> Result<Notice, CommandError> {
        self.refuse_if_rolled_back()?;
        // The notice answered must be known; the thread must be known at least through one of
        // its notices (an update may arrive before the initial report it updates).
        if let Some(reference) = &draft.in_reply_to {
            if !self.knows(reference)? {
                return Err(CommandError::UnknownNotice(self.roster.notice_name(reference)));
            }
        }
        if let Some(thread) = &draft.thread {
            if !self.knows(thread)? && !self.knows_thread(thread)? {
                return Err(CommandError::UnknownNotice(self.roster.notice_name(thread)));
            }
        }
        let to = draft
            .to
            .iter()
            .map(|(node, role)| Addressee {
                node: *node,
                role: *role,
                link_seq: self.peers.get(node).map_or(1, |p| p.link_seq_out.saturating_add(1)),
            })
            .collect();
        let notice = Notice {
            network: self.network,
            sender: self.id,
            seq: self.next_seq,
            created_ms: now,
            precedence: draft.precedence,
            to,
            thread: draft.thread,
            in_reply_to: draft.in_reply_to,
            body: draft.body,
        };
        notice.check(&self.roster).map_err(CommandError::Invalid)?;
        Ok(notice)
    }

    fn knows(&self, id: &NoticeId) -> Result<bool, HistoryError> {
        if self.outgoing.contains_key(id) || self.incoming.contains_key(id) {
            return Ok(true);
        }
        match self.history.as_ref() {
            Some(history) => Ok(!history.about(id)?.is_empty()),
            None => Ok(false),
        }
    }

    /// Whether a notice of the thread is known (an update may arrive before the initial report
    /// it updates).
    fn knows_thread(&self, thread: &NoticeId) -> Result<bool, HistoryError> {
        let mut known =
            self.outgoing.values().map(|o| &o.notice).chain(self.incoming.values().map(|i| &i.notice));
        if known.any(|n| n.thread.as_ref() == Some(thread)) {
            return Ok(true);
        }
        match self.history.as_ref() {
            Some(history) => Ok(!history.thread(thread)?.is_empty()),
            None => Ok(false),
        }
    }

    fn send_checked(&mut self, now: u64, notice: &Notice) -> NoticeId {
        let id = notice.id();
        let (frame, _) = message::seal(&self.key, Kind::Notice, notice);
        self.append(now, Record::Sent { frame: frame.clone() });
        let after = self.log_len;
        for addressee in &notice.to {
            let transmit =
                Transmit { to: addressee.node, precedence: notice.precedence, frame: frame.clone() };
            self.outputs.transmit(after, transmit);
        }
        self.outputs.event(after, Event::NoticeStored { id });
        id
    }

    /// Records the officer's acknowledgement of a received notice and sends it to the sender.
    pub fn acknowledge(
        &mut self,
        now: impl Into<Now>,
        notice: NoticeId,
        operator: &str,
        disposition: Disposition,
        note: Texts,
    ) -> Result<(), CommandError> {
        let now = self.read_clocks(now.into()).wall_ms;
        self.refuse_if_rolled_back()?;
        let name = self.roster.notice_name(&notice);
        self.recall(&notice)?;
        let result = self.acknowledge_known(now, notice, name, operator, disposition, note);
        self.forget_closed();
        result
    }

    fn acknowledge_known(
        &mut self,
        now: u64,
        notice: NoticeId,
        name: String,
        operator: &str,
        disposition: Disposition,
        note: Texts,
    ) -> Result<(), CommandError> {
        let incoming = self.incoming.get(&notice).ok_or_else(|| CommandError::UnknownNotice(name.clone()))?;
        if incoming.acked {
            return Err(CommandError::AlreadyAcknowledged(name));
        }
        let ack = Ack {
            network: self.network,
            signer: self.id,
            notice,
            notice_hash: incoming.hash,
            acked_ms: now,
            operator: operator.to_string(),
            disposition,
            note,
        };
        let precedence = incoming.notice.precedence;
        let (frame, _) = message::seal(&self.key, Kind::Ack, &ack);
        // Validate exactly as a receiver will, before anything is logged.
        message::open(&frame, &self.roster, &self.network).map_err(CommandError::Invalid)?;
        self.append(now, Record::Sent { frame: frame.clone() });
        let after = self.log_len;
        self.outputs.transmit(after, Transmit { to: notice.sender, precedence, frame });
        self.outputs.event(after, Event::AckStored { notice });
        Ok(())
    }

    // ---- the log ------------------------------------------------------------------------------

    /// Appends a record: signs it, queues it for persistence, applies it to the state.
    fn append(&mut self, now: u64, record: Record) {
        let entry = LogEntry {
            network: self.network,
            node: self.id,
            index: self.log_len,
            prev: self.prev,
            time_ms: now,
            record,
        };
        let leaf = seal_entry(&self.key, &entry);
        self.prev = leaf_hash(&leaf);
        self.tree.push(self.prev);
        self.log_len += 1;
        self.last_time = now;
        self.unpersisted.push(leaf);
        let opened = match &entry.record {
            Record::Sent { frame }
            | Record::Accepted { frame }
            | Record::Receipted { frame }
            | Record::Equivocation { frame, .. } => message::decode_trusted(frame).ok(),
            _ => None,
        };
        self.apply(&entry, opened.as_ref());
    }

    fn schedule(&mut self, at: u64, timer: Timer) {
        self.timers.schedule(at, timer);
    }

    fn cancel(&mut self, timer: Timer) {
        self.timers.cancel(timer);
    }

    // ---- queries ------------------------------------------------------------------------------

    /// Notices received that are in the working set (open work, and what is not yet durable;
    /// every notice if the node has no history), in the order of their ids, each with whether
    /// it was acknowledged. [`Node::received_page`] lists the others too.
    pub fn received(&self) -> impl Iterator<Item = (&Notice, bool)> {
        self.incoming.values().map(|i| (&i.notice, i.acked))
    }

    /// What this node knows of a notice it received or sent, for operators: from the working
    /// set, or else from the history (an error reading it is an error of the query).
    pub fn view(&self, id: &NoticeId) -> Result<Option<NoticeView>, HistoryError> {
        if let Some(o) = self.outgoing.get(id) {
            return Ok(Some(self.view_sent(o)));
        }
        if let Some(i) = self.incoming.get(id) {
            return Ok(Some(self.view_received(i)));
        }
        let Some(history) = self.history.as_ref() else { return Ok(None) };
        let leaves =
            about_checked(history.as_ref(), &self.verified, &self.network, &self.id, id, self.durable)?;
        Ok(match Work::fold(&self.id, &leaves) {
            Some(Work::Out(o)) => Some(self.view_sent(&o)),
            Some(Work::In(i)) => Some(self.view_received(&i)),
            None => None,
        })
    }

    fn view_sent(&self, o: &Outgoing) -> NoticeView {
        let parties = o
            .parties
            .iter()
            .map(|(party, s)| PartyView {
                party: *party,
                role: o.notice.addressee(party).map_or(Role::Info, |a| a.role),
                receipt_ms: s.receipt_ms,
                ack_ms: s.ack_ms,
                receipt_missed: s.receipt_missed,
                ack_missed: s.ack_missed,
                ack: s.ack.clone(),
            })
            .collect();
        NoticeView {
            notice: o.notice.clone(),
            hash: o.hash,
            logged_ms: o.sent_ms,
            receipt: Deadline::receipt(self.policy(), &o.notice),
            ack: Deadline::ack(self.policy(), &o.notice),
            direction: Direction::Sent { parties },
        }
    }

    fn view_received(&self, i: &Incoming) -> NoticeView {
        NoticeView {
            notice: i.notice.clone(),
            hash: i.hash,
            logged_ms: i.received_ms,
            receipt: Deadline::receipt(self.policy(), &i.notice),
            ack: Deadline::ack(self.policy(), &i.notice),
            direction: Direction::Received {
                needs_ack: i.needs_ack,
                acked: i.acked,
                overdue: i.overdue,
                own_ack: i.own_ack.as_ref().map(|o| o.said.clone()),
            },
        }
    }

    /// Notices received, newest first: at most `limit` of those logged before the log index
    /// `before` (all, if `None`), from the history and the working set together.
    pub fn received_page(&self, before: Option<u64>, limit: usize) -> Result<Vec<NoticeId>, HistoryError> {
        let mut page = match self.history.as_ref() {
            Some(history) => history.received(before, limit)?,
            None => Vec::new(),
        };
        // The working set adds what the history does not hold yet (not durable), or everything
        // when there is no history.
        let durable = if self.history.is_some() { self.durable } else { 0 };
        page.extend(
            self.incoming
                .iter()
                .filter(|(_, i)| i.accepted_at >= durable && before.is_none_or(|b| i.accepted_at < b))
                .map(|(id, i)| (i.accepted_at, *id)),
        );
        page.sort_by(|a, b| b.cmp(a));
        page.dedup();
        page.truncate(limit);
        Ok(page.into_iter().map(|(_, id)| id).collect())
    }

    /// Ids of the notices in the working set (open work, and what is not yet durable; every
    /// notice if the node has no history), oldest first.
    pub fn notice_ids(&self) -> Vec<NoticeId> {
        let mut ids: Vec<(u64, NoticeId)> = self
            .outgoing
            .values()
            .map(|o| (o.sent_ms, o.notice.id()))
            .chain(self.incoming.values().map(|i| (i.received_ms, i.notice.id())))
            .collect();
        ids.sort();
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// Notices sent that still wait for a receipt or an acknowledgement from someone.
    pub fn awaiting(&self) -> Vec<(NoticeId, NodeId, DeadlineKind)> {
        let mut out = Vec::new();
        for (id, o) in &self.outgoing {
            for (party, status) in &o.parties {
                if status.receipt_ms.is_none() {
                    out.push((*id, *party, DeadlineKind::Receipt));
                } else if status.needs_ack && status.ack_ms.is_none() {
                    out.push((*id, *party, DeadlineKind::Ack));
                }
            }
        }
        out
    }

    /// The state of each peer's link.
    pub fn links(&self) -> Vec<LinkView> {
        self.peers
            .iter()
            .map(|(peer, p)| LinkView {
                peer: *peer,
                up: p.up,
                heard: p.heard,
                last_heard_ms: p.last_heard_ms,
                last_link_test_ms: p.last_link_test_ms,
                unreceipted: p.retx.len(),
                clock_skewed: p.skew_ms.is_some(),
                clock_offset_ms: p.skew_ms,
                down_since_ms: p.down_since_ms,
                last_outage: p.last_outage,
            })
            .collect()
    }

    /// The transport has (re)connected to `peer`: send it a heartbeat, the newest checkpoint if it
    /// has not co-signed it, and everything it has not receipted, now rather than at the next
    /// timer. Changes no protocol state.
    pub fn peer_reachable(&mut self, now: impl Into<Now>, peer: NodeId) {
        let now = self.read_clocks(now.into()).wall_ms;
        self.reach(now, peer);
    }

    /// [`Node::peer_reachable`] within an input whose clocks were read already (a public entry
    /// point must never be called from inside the core: it would read the clocks again).
    fn reach(&mut self, now: u64, peer: NodeId) {
        self.send_heartbeat(now, peer);
        self.reoffer_checkpoint(peer);
        let initial = self.policy().retransmit_initial_ms;
        let mono = self.mono;
        let after = self.log_len;
        let mut retries = Vec::new();
        if let Some(p) = self.peers.get_mut(&peer) {
            for (hash, retx) in p.retx.iter_mut() {
                retx.rto_ms = initial;
                retx.next_ms = mono.saturating_add(initial);
                retries.push((
                    *hash,
                    retx.next_ms,
                    Transmit { to: peer, precedence: retx.precedence, frame: retx.frame.clone() },
                ));
            }
        }
        for (hash, next, transmit) in retries {
            self.outputs.transmit(after, transmit);
            self.schedule(next, Timer::Retransmit { peer, hash });
        }
    }

    /// The notices of a thread this node knows, in reading order (creation time, then id): the
    /// same order on every node, whatever order they arrived in. From the working set and the
    /// history together; the cost is the thread's, not the log's.
    pub fn thread(&self, thread: NoticeId) -> Result<Vec<NoticeView>, HistoryError> {
        let mut ids: BTreeSet<NoticeId> = self
            .outgoing
            .values()
            .map(|o| &o.notice)
            .chain(self.incoming.values().map(|i| &i.notice))
            .filter(|n| n.thread_id() == thread)
            .map(|n| n.id())
            .collect();
        if let Some(history) = self.history.as_ref() {
            ids.extend(history.thread(&thread)?);
        }
        let mut views = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(view) = self.view(id)? {
                views.push(view);
            }
        }
        views.sort_by_key(|v| (v.notice.created_ms, v.notice.id()));
        Ok(views)
    }

    /// Threads this node started: the thread id, its first notice's addressees, and whether this
    /// node has closed it with a final report.
    pub fn sent_threads(&self) -> Vec<SentThread> {
        self.outgoing
            .values()
            .filter(|o| o.notice.kind() == NoticeKind::Initial)
            .map(|o| {
                let thread = o.notice.id();
                let closed = self
                    .outgoing
                    .values()
                    .any(|x| x.notice.thread == Some(thread) && x.notice.kind() == NoticeKind::Final);
                SentThread { thread, to: o.notice.to.iter().map(|a| (a.node, a.role)).collect(), closed }
            })
            .collect()
    }

    /// How urgent a frame from a peer is, before any verification, so that an I/O layer holding
    /// several can hand the most urgent to [`Node::handle_frame`] first: a notice's precedence; for
    /// a receipt or an acknowledgement, the precedence of the notice it concerns, if this node
    /// knows it; ROUTINE otherwise. Decoding is bounded and strict; nothing is trusted or changed.
    pub fn urgency(&self, bytes: &[u8]) -> Precedence {
        let Some(message) = message::peek(bytes) else { return Precedence::Routine };
        let of = |notice: &NoticeId| {
            self.outgoing
                .get(notice)
                .map(|o| o.notice.precedence)
                .or_else(|| self.incoming.get(notice).map(|i| i.notice.precedence))
                .unwrap_or(Precedence::Routine)
        };
        match &message {
            message::Message::Notice(n) => n.precedence,
            message::Message::Receipt(r) => of(&r.notice),
            message::Message::Ack(a) => of(&a.notice),
            message::Message::Checkpoint(_)
            | message::Message::Cosignature(_)
            | message::Message::Heartbeat(_) => Precedence::Routine,
        }
    }

    /// Whether this node's store lost entries its peers hold its signature on (spec §6.13).
    pub fn rolled_back(&self) -> Option<&RolledBack> {
        self.rolled_back.as_ref()
    }

    fn refuse_if_rolled_back(&self) -> Result<(), CommandError> {
        self.rolled_back.map_or(Ok(()), |r| Err(CommandError::RolledBack(r)))
    }

    /// Whether a peer's checkpoint of this node's log, signed by this node, is one its log does
    /// not hold: beyond its length, or another root at that size (read from the hash tiles).
    fn lost(&self, checkpoint: &SignedCheckpoint) -> bool {
        if checkpoint.size >= self.log_len {
            return true;
        }
        match self.tree.root_at(checkpoint.size, self.history.as_deref()) {
            Ok(root) => root != checkpoint.root,
            // Unknown: the next heartbeat asks again.
            Err(_) => false,
        }
    }

    /// From now on the node signs nothing (spec §6.13), and its operator is told at once.
    fn stop_signing(&mut self, peer: NodeId, checkpoint: &SignedCheckpoint) {
        if self.rolled_back.is_some() {
            return;
        }
        let lost = RolledBack { peer, size: checkpoint.size, root: checkpoint.root, log_size: self.log_len };
        self.rolled_back = Some(lost);
        let after = self.durable;
        self.outputs.event(after, Event::RolledBack(lost));
    }

    /// Whether a peer's link is up.
    pub fn link_up(&self, peer: &NodeId) -> Option<bool> {
        self.peers.get(peer).map(|p| p.up)
    }

    /// How far `peer`'s clock is off (its minus this node's, ms), while it is flagged as skewed.
    pub fn clock_offset(&self, peer: &NodeId) -> Option<i64> {
        self.peers.get(peer).and_then(|p| p.skew_ms)
    }

    /// Messages waiting to be receipted, for each peer.
    pub fn pending_retransmissions(&self) -> usize {
        self.peers.values().map(|p| p.retx.len()).sum()
    }
}
