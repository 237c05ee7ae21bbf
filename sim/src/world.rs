//! The simulated world: nodes, disks, network, clock, officers.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use hotline_proto::merkle::MerkleTree;
use hotline_proto::{Check, VerifiedEntry};
use hotline_proto::{
    Disposition, Draft, Event, Hash32, LogVerifier, Node, NodeId, NoticeId, Record, Roster, Transmit,
};
use hotline_proto::{History, Message, Now, SharedHistory};

use crate::fixtures::{self, test_key};

/// True time at the start of every run (UTC ms): 2027-01-15.
pub const EPOCH_MS: u64 = 1_800_000_000_000;

/// What can go wrong, and how often.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// One-way delay range in ms; frames overtake each other within it (reordering).
    pub delay_ms: (u64, u64),
    /// fsync latency range in ms.
    pub fsync_ms: (u64, u64),
    /// Whether links are cut (one way or both) and healed.
    pub partitions: bool,
    /// Whether nodes crash (losing un-synced writes) and restart.
    pub crashes: bool,
    /// Largest clock offset of a node from true time, in ms (0: all clocks agree).
    pub max_skew_ms: u64,
}

impl Faults {
    /// A perfect world: no loss, 5–20 ms delay, fast disks.
    pub fn none() -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            delay_ms: (5, 20),
            fsync_ms: (1, 3),
            partitions: false,
            crashes: false,
            max_skew_ms: 0,
        }
    }

    /// Everything at once, drawn from the seed.
    pub fn chaos(rng: &mut StdRng) -> Faults {
        Faults {
            loss: rng.gen_range(0.0..0.3),
            duplicate: rng.gen_range(0.0..0.1),
            delay_ms: (1, rng.gen_range(10..400)),
            fsync_ms: (0, rng.gen_range(1..30)),
            partitions: rng.gen_bool(0.7),
            crashes: rng.gen_bool(0.7),
            max_skew_ms: if rng.gen_bool(0.3) { rng.gen_range(0..6_000) } else { 0 },
        }
    }
}

/// A run's parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed: the whole run follows from it.
    pub seed: u64,
    /// Number of nodes (2 to 8).
    pub nodes: usize,
    /// Faults.
    pub faults: Faults,
    /// Probability that an officer acknowledges a notice that asks for it (0: nobody answers).
    pub ack_probability: f64,
    /// Called on every node right after it boots or restarts (tests use it to break a rule).
    pub on_boot: Option<fn(&mut Node)>,
}

impl SimConfig {
    /// A run of `nodes` nodes without faults in which officers answer nothing by themselves.
    pub fn quiet(seed: u64, nodes: usize) -> SimConfig {
        SimConfig { seed, nodes, faults: Faults::none(), ack_probability: 0.0, on_boot: None }
    }
}

/// A broken invariant: what, when, and how to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The seed of the run.
    pub seed: u64,
    /// Simulated time since the start, in ms.
    pub at_ms: u64,
    /// What was broken.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} at t+{} ms: {}\nreplay: HOTLINE_SIM_FIRST_SEED={} HOTLINE_SIM_SEEDS=1 cargo test --release --test simulation random_seeds -- --nocapture",
            self.seed, self.at_ms, self.what, self.seed
        )
    }
}

/// A scheduled action in the world.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a few hundred scheduled at most
pub enum Action {
    /// An officer sends a notice.
    Send(usize, Draft),
    /// An officer acknowledges a notice.
    Ack(usize, NoticeId),
    /// A node's process is killed.
    Crash(usize),
    /// A node's process starts again from its disk.
    Restart(usize),
    /// Frames from `.0` to `.1` are dropped until healed.
    Cut(usize, usize),
    /// Frames from `.0` to `.1` flow again.
    Heal(usize, usize),
    /// Let the workload generator act.
    Workload,
    /// A node's wall clock is stepped by this many ms (its monotonic clock is not).
    StepClock(usize, i64),
}

/// A frame on the wire: (arrival time, tie-break order, from, to, bytes).
type InFlight = (u64, u64, usize, usize, Vec<u8>);

/// One simulated node with its disk and officer.
pub struct SimNode {
    /// Party name.
    pub name: &'static str,
    /// Signing key.
    pub key: SigningKey,
    /// Node id.
    pub id: NodeId,
    /// The state machine; `None` while crashed.
    pub node: Option<Node>,
    /// Clock offset from true time (ms).
    pub skew_ms: i64,
    /// Durable leaves.
    pub durable: Vec<Vec<u8>>,
    /// The same leaves as the node's history: the index the core reads what it forgot from.
    pub history: SharedHistory,
    /// The durable log, decoded and fully verified.
    pub entries: Vec<VerifiedEntry>,
    verifier: LogVerifier,
    /// Batches written but not yet synced: when they will be, their leaves, and the snapshot
    /// after them (spec §6.12).
    in_flight: VecDeque<Unsynced>,
    /// The latest durable snapshot and the log length it is at.
    pub snapshot: Option<(usize, Vec<u8>)>,
    /// Message hashes this node has durably accepted, with counts.
    pub accepted: BTreeMap<Hash32, u32>,
    /// Message hashes of frames this node durably created (sent notices and acks, receipts).
    pub own: BTreeSet<Hash32>,
    /// The Merkle tree over the durable log.
    pub tree: MerkleTree,
    /// Peers' checkpoints this node durably co-signed: (log, size, root).
    pub cosigned: BTreeSet<(NodeId, u64, Hash32)>,
    /// Checkpoints this node offered to peers, (size, root) → first offered (true ms).
    pub published: BTreeMap<(u64, Hash32), u64>,
    /// Every event the operator saw, with the node's local time.
    pub events: Vec<(u64, Event)>,
    /// `NoticeReceived` events per notice, over all restarts.
    pub shown: BTreeMap<NoticeId, u32>,
    /// Crash intervals (true ms since start; end `None` while down).
    pub downtime: Vec<(u64, Option<u64>)>,
    /// Acknowledgements the officer asked for and has not yet seen stored.
    pub acks_wanted: BTreeSet<NoticeId>,
}

impl SimNode {
    /// Whether the node was down at true time `t` (ms since start).
    pub fn down_at(&self, t: u64) -> bool {
        self.downtime.iter().any(|(start, end)| t >= *start && end.is_none_or(|e| t <= e))
    }

    /// A leaf reached the disk: it is in the log and in the history's index.
    fn remember(&mut self, leaf: Vec<u8>) {
        match self.history.lock() {
            Ok(mut history) => history.push(leaf.clone()),
            Err(poisoned) => poisoned.into_inner().push(leaf.clone()),
        }
        self.durable.push(leaf);
    }
}

/// A batch written but not yet synced: when it will be, its leaves, and its snapshot.
type Unsynced = (u64, Vec<Vec<u8>>, Option<Vec<u8>>);

/// The simulator.
pub struct Sim {
    /// The run's parameters.
    pub config: SimConfig,
    /// The roster every node holds.
    pub roster: Roster,
    /// The nodes.
    pub nodes: Vec<SimNode>,
    /// The random source: every choice comes from here.
    pub rng: StdRng,
    /// True time in ms since the start.
    pub now: u64,
    net: BinaryHeap<Reverse<InFlight>>,
    actions: BinaryHeap<Reverse<(u64, u64, usize)>>,
    action_slots: Vec<Option<Action>>,
    order: u64,
    /// `cut[a][b]`: frames from a to b are dropped.
    pub cut: Vec<Vec<bool>>,
    /// The first broken invariant.
    pub violation: Option<Violation>,
    /// Frames put on the wire.
    pub frames_sent: u64,
    /// Frames lost by the network.
    pub frames_lost: u64,
    /// Steps taken.
    pub steps: u64,
    /// Restarts from a snapshot (spec §6.12).
    pub resumed: u64,
    /// Whether the workload generator still creates traffic.
    pub workload_active: bool,
}

impl Sim {
    /// A world of `config.nodes` fresh nodes at time 0, with the simulation policy.
    pub fn new(config: SimConfig) -> Sim {
        Sim::with_roster(config.clone(), fixtures::roster(config.nodes, fixtures::sim_policy()))
    }

    /// A world with a given roster (its members must be the first `config.nodes` test parties).
    pub fn with_roster(config: SimConfig, roster: Roster) -> Sim {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let max_skew = i64::try_from(config.faults.max_skew_ms).unwrap_or(0);
        let mut nodes = Vec::new();
        for name in (0..config.nodes).map(fixtures::party) {
            let key = test_key(name);
            let id = hotline_proto::crypto::node_id(&key);
            let skew_ms = if max_skew > 0 { rng.gen_range(-max_skew..=max_skew) } else { 0 };
            nodes.push(SimNode {
                name,
                key,
                id,
                node: None,
                skew_ms,
                durable: Vec::new(),
                history: SharedHistory::default(),
                entries: Vec::new(),
                verifier: LogVerifier::new(roster.clone(), id, Check::Full),
                in_flight: VecDeque::new(),
                snapshot: None,
                accepted: BTreeMap::new(),
                own: BTreeSet::new(),
                tree: MerkleTree::new(),
                cosigned: BTreeSet::new(),
                published: BTreeMap::new(),
                events: Vec::new(),
                shown: BTreeMap::new(),
                downtime: Vec::new(),
                acks_wanted: BTreeSet::new(),
            });
        }
        let n = config.nodes;
        let mut sim = Sim {
            config,
            roster,
            nodes,
            rng,
            now: 0,
            net: BinaryHeap::new(),
            actions: BinaryHeap::new(),
            action_slots: Vec::new(),
            order: 0,
            cut: vec![vec![false; n]; n],
            violation: None,
            frames_sent: 0,
            frames_lost: 0,
            steps: 0,
            resumed: 0,
            workload_active: false,
        };
        for i in 0..n {
            sim.boot(i);
        }
        sim
    }

    /// Node `i`'s local clock now (UTC ms).
    pub fn local(&self, i: usize) -> u64 {
        local_time(self.now, self.nodes[i].skew_ms)
    }

    /// Node `i`'s monotonic clock now: true time from an origin of its own, so that no code can
    /// mistake it for the wall clock and pass.
    pub fn mono(&self, i: usize) -> u64 {
        mono_origin(i) + self.now
    }

    /// Both of node `i`'s clocks now, as a node is given them.
    pub fn reading(&self, i: usize) -> Now {
        Now::new(self.local(i), self.mono(i))
    }

    /// Index of the node with this id.
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| &n.id == id)
    }

    /// Records the first violation; later ones are ignored.
    pub fn fail(&mut self, what: impl Into<String>) {
        if self.violation.is_none() {
            self.violation = Some(Violation { seed: self.config.seed, at_ms: self.now, what: what.into() });
        }
    }

    /// Schedules an action at true time `at`.
    pub fn schedule(&mut self, at: u64, action: Action) {
        self.order += 1;
        self.action_slots.push(Some(action));
        self.actions.push(Reverse((at, self.order, self.action_slots.len() - 1)));
    }

    /// Drops every scheduled action (the officers go home).
    pub fn clear_actions(&mut self) {
        self.actions.clear();
        self.action_slots.clear();
    }

    fn boot(&mut self, i: usize) {
        let local = self.reading(i);
        let n = &self.nodes[i];
        let history: Box<dyn History> = Box::new(n.history.clone());
        // Half the restarts from the latest snapshot and the entries after it (spec §6.12), half
        // from the whole log: both must give the node its state back.
        let from_snapshot = n.snapshot.as_ref().filter(|(at, _)| *at <= n.durable.len());
        let restored = match from_snapshot {
            Some((at, snapshot)) if self.rng.gen_bool(0.5) => {
                self.resumed += 1;
                let before = at.checked_sub(1).and_then(|b| n.durable.get(b)).map(|l| l.as_slice());
                Node::resume(
                    n.key.clone(),
                    self.roster.clone(),
                    snapshot,
                    before,
                    &n.durable[*at..],
                    history,
                    local,
                )
            }
            _ => {
                Node::restore_with(n.key.clone(), self.roster.clone(), n.durable.iter(), Some(history), local)
            }
        };
        match restored {
            Ok(mut node) => {
                if let Some(hook) = self.config.on_boot {
                    hook(&mut node);
                }
                self.nodes[i].node = Some(node);
                self.drain(i);
            }
            Err(e) => self.fail(format!("{} cannot restart from its own disk: {e}", self.nodes[i].name)),
        }
    }

    /// Kills node `i`: memory is gone; of the writes not yet synced, a random prefix of whole
    /// batches reached the disk anyway.
    pub fn crash(&mut self, i: usize) {
        if self.nodes[i].node.take().is_none() {
            return;
        }
        let keep = self.rng.gen_range(0..=self.nodes[i].in_flight.len());
        let batches: Vec<_> = self.nodes[i].in_flight.drain(..).take(keep).collect();
        for (_, leaves, snapshot) in batches {
            self.make_durable(i, leaves, snapshot);
        }
        let now = self.now;
        self.nodes[i].downtime.push((now, None));
    }

    /// Restarts node `i` from its disk.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].node.is_some() {
            return;
        }
        let now = self.now;
        if let Some(last) = self.nodes[i].downtime.last_mut() {
            last.1 = Some(now);
        }
        self.boot(i);
        self.reload_inbox(i);
        // The officer re-does acknowledgements that a crash took back.
        let wanted: Vec<NoticeId> = self.nodes[i].acks_wanted.iter().copied().collect();
        for notice in wanted {
            self.schedule(now + 1_000, Action::Ack(i, notice));
        }
    }

    /// Sends a notice from node `i` now. Returns its id, or `None` if the node is down.
    pub fn send(&mut self, i: usize, draft: Draft) -> Option<NoticeId> {
        let local = self.reading(i);
        let result = self.nodes[i].node.as_mut()?.send_notice(local, draft);
        match result {
            Ok(id) => {
                self.drain(i);
                Some(id)
            }
            Err(e) => {
                self.fail(format!("{} could not send a valid draft: {e}", self.nodes[i].name));
                None
            }
        }
    }

    /// Node `i`'s officer acknowledges `notice` now (retried after a restart if a crash loses it).
    pub fn acknowledge(&mut self, i: usize, notice: NoticeId) {
        self.nodes[i].acks_wanted.insert(notice);
        let local = self.reading(i);
        let name = self.nodes[i].name;
        let Some(node) = self.nodes[i].node.as_mut() else { return };
        let result = node.acknowledge(
            local,
            notice,
            &format!("{name} watch officer"),
            Disposition::Understood,
            Vec::new(),
        );
        match result {
            Ok(()) => self.drain(i),
            Err(hotline_proto::CommandError::AlreadyAcknowledged(_)) => {
                self.nodes[i].acks_wanted.remove(&notice);
            }
            Err(e) => self.fail(format!("{name} could not acknowledge {notice}: {e}")),
        }
    }

    /// Collects everything node `i` wants done and checks what it emits.
    fn drain(&mut self, i: usize) {
        loop {
            let Some(node) = self.nodes[i].node.as_mut() else { return };
            let batch = node.poll_persist();
            let transmit = node.poll_transmit();
            let event = node.poll_event();
            if batch.is_none() && transmit.is_none() && event.is_none() {
                return;
            }
            if let Some(batch) = batch {
                let (lo, hi) = self.config.faults.fsync_ms;
                let delay = self.rng.gen_range(lo..=hi);
                let after_last = self.nodes[i].in_flight.back().map_or(0, |(at, _, _)| *at);
                let at = (self.now + delay).max(after_last);
                // The node takes a snapshot now and then (every 1024 entries); in a run with
                // crashes the simulator takes one after a fifth of the batches besides, so that
                // restarts from snapshots are as common as restarts go (the state after the
                // batch is the node's state now: it took every entry it had).
                let snapshot = match batch.snapshot {
                    Some(s) => Some(s),
                    None if self.config.faults.crashes && self.rng.gen_bool(0.2) => {
                        self.nodes[i].node.as_ref().map(|n| n.snapshot())
                    }
                    None => None,
                };
                self.nodes[i].in_flight.push_back((at, batch.leaves, snapshot));
            }
            if let Some(t) = transmit {
                self.check_transmit(i, &t);
                self.put_on_wire(i, t);
            }
            if let Some(e) = event {
                self.on_event(i, e);
            }
        }
    }

    /// Invariant: nothing leaves a node before the log entries it depends on are durable.
    fn check_transmit(&mut self, i: usize, t: &Transmit) {
        let opened = match hotline_proto::testing::decode_trusted(&t.frame) {
            Ok(o) => o,
            Err(e) => {
                return self.fail(format!("{} transmitted an undecodable frame: {e}", self.nodes[i].name))
            }
        };
        let n = &mut self.nodes[i];
        match &opened.message {
            // A checkpoint offered must be of the durable log, so that no crash can make the node
            // sign another checkpoint of the same size later: never two inconsistent checkpoints.
            Message::Checkpoint(offer) => {
                let c = offer.checkpoint;
                if n.tree.root_at(c.size) != Some(c.root) {
                    let what = format!(
                        "{} offered a checkpoint (size {}) that is not a checkpoint of its durable log ({} entries)",
                        n.name,
                        c.size,
                        n.tree.len()
                    );
                    return self.fail(what);
                }
                n.published.entry((c.size, c.root)).or_insert(self.now);
                return;
            }
            Message::Cosignature(c) => {
                if !n.cosigned.contains(&(c.log, c.size, c.root)) {
                    let what = format!("{} sent a cosignature before recording it durably", n.name);
                    return self.fail(what);
                }
                return;
            }
            // Unlogged, but what it states of co-signing must be durable: a peer acts on it.
            Message::Heartbeat(h) => {
                if let Some(c) = h.cosigned.filter(|c| !n.cosigned.contains(&(h.to, c.size, c.root))) {
                    let what = format!(
                        "{} claimed in a heartbeat to have co-signed size {} before recording it durably",
                        n.name, c.size
                    );
                    return self.fail(what);
                }
                return;
            }
            _ => {}
        }
        if !n.own.contains(&opened.hash) {
            let what = format!(
                "{} transmitted a {:?} before the entry holding it was durable",
                n.name, opened.message
            );
            return self.fail(what);
        }
        if let Message::Receipt(r) = &opened.message {
            if !n.accepted.contains_key(&r.of.hash) {
                let what =
                    format!("{} sent a receipt for {} before storing what it receipts", n.name, r.notice);
                self.fail(what);
            }
        }
    }

    fn put_on_wire(&mut self, from: usize, t: Transmit) {
        let Some(to) = self.index_of(&t.to) else {
            return self.fail(format!("{} transmitted to a non-member", self.nodes[from].name));
        };
        self.frames_sent += 1;
        let faults = self.config.faults.clone();
        if self.cut[from][to] || self.rng.gen_bool(faults.loss) {
            self.frames_lost += 1;
            return;
        }
        let copies = if self.rng.gen_bool(faults.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.rng.gen_range(faults.delay_ms.0..=faults.delay_ms.1);
            self.order += 1;
            self.net.push(Reverse((self.now + delay, self.order, from, to, t.frame.clone())));
        }
    }

    fn on_event(&mut self, i: usize, event: Event) {
        let local = self.local(i);
        match &event {
            Event::NoticeReceived { id, ack_due_ms, .. } => self.officer_sees(i, *id, *ack_due_ms),
            Event::AckStored { notice } => {
                self.nodes[i].acks_wanted.remove(notice);
            }
            _ => {}
        }
        self.nodes[i].events.push((local, event));
    }

    /// Node `i`'s officer sees a notice (an event, or the inbox reloaded after a restart) and,
    /// if it asks for an acknowledgement, perhaps decides to give one.
    fn officer_sees(&mut self, i: usize, id: NoticeId, ack_due_ms: Option<u64>) {
        let local = self.local(i);
        let count = self.nodes[i].shown.entry(id).or_insert(0);
        *count += 1;
        let count = *count;
        if count > 1 {
            let what = format!("{} showed notice {id} to its officer {count} times", self.nodes[i].name);
            return self.fail(what);
        }
        if let Some(due) = ack_due_ms {
            if self.rng.gen_bool(self.config.ack_probability) {
                // Some officers answer late: up to 1.3 times the window.
                let window = due.saturating_sub(local).max(1_000);
                let delay = self.rng.gen_range(500..=window + window * 3 / 10);
                let at = self.now + delay;
                self.schedule(at, Action::Ack(i, id));
            }
        }
    }

    /// After a restart the officer's console reloads the inbox: a notice that became durable just
    /// before the crash, whose event the crash took, is shown now (the inbox, not the event
    /// stream, is the officer's record; spec §6.10).
    fn reload_inbox(&mut self, i: usize) {
        let Some(node) = self.nodes[i].node.as_ref() else { return };
        let me = node.id();
        let policy = &self.roster.policy;
        let shown = &self.nodes[i].shown;
        // Every notice received, the forgotten ones (closed work) from the history.
        let received = match node.received_page(None, usize::MAX) {
            Ok(ids) => ids,
            Err(e) => {
                let what = format!("{} cannot read its history: {e}", self.nodes[i].name);
                return self.fail(what);
            }
        };
        let unseen: Vec<(NoticeId, Option<u64>)> = received
            .into_iter()
            .filter(|id| !shown.contains_key(id))
            .filter_map(|id| node.view(&id).ok().flatten())
            .map(|v| {
                let acked = matches!(v.direction, hotline_proto::Direction::Received { acked: true, .. });
                let n = &v.notice;
                let due = (n.needs_ack_from(&me) && !acked)
                    .then(|| hotline_proto::Deadline::ack(policy, n).due_ms());
                (n.id(), due)
            })
            .collect();
        for (id, due) in unseen {
            self.officer_sees(i, id, due);
        }
    }

    fn make_durable(&mut self, i: usize, leaves: Vec<Vec<u8>>, snapshot: Option<Vec<u8>>) {
        self.append_durable(i, leaves);
        if let Some(snapshot) = snapshot {
            let n = &mut self.nodes[i];
            n.snapshot = Some((n.durable.len(), snapshot));
        }
    }

    fn append_durable(&mut self, i: usize, leaves: Vec<Vec<u8>>) {
        for leaf in leaves {
            let n = &mut self.nodes[i];
            let mut verified = match n.verifier.push(&leaf) {
                Ok(v) => v,
                Err(e) => {
                    let what = format!("{}'s log does not verify: {e}", n.name);
                    return self.fail(what);
                }
            };
            if let Some(opened) = &verified.message {
                match &verified.entry.record {
                    Record::Accepted { .. } => {
                        let count = n.accepted.entry(opened.hash).or_insert(0);
                        *count += 1;
                        if *count > 1 {
                            let what = format!("{} accepted the same {:?} twice", n.name, opened.message);
                            n.remember(leaf);
                            n.entries.push(verified);
                            return self.fail(what);
                        }
                    }
                    Record::Sent { .. } | Record::Receipted { .. } => {
                        n.own.insert(opened.hash);
                    }
                    _ => {}
                }
            }
            // The frame is in the entry's record already: a second copy would double what a
            // long run of many members holds.
            if let Some(opened) = verified.message.as_mut() {
                opened.frame = Vec::new();
            }
            if let Record::Cosigned { log, checkpoint, .. } = &verified.entry.record {
                n.cosigned.insert((*log, checkpoint.size, checkpoint.root));
            }
            n.tree.push(verified.leaf_hash);
            n.remember(leaf);
            n.entries.push(verified);
        }
    }

    /// The time of the next thing that happens, if anything does.
    fn next_time(&self) -> Option<u64> {
        let mut next = None::<u64>;
        let mut consider = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        if let Some(Reverse((at, ..))) = self.net.peek() {
            consider(*at);
        }
        if let Some(Reverse((at, ..))) = self.actions.peek() {
            consider(*at);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some((at, _, _)) = n.in_flight.front() {
                consider(*at);
            }
            if let Some(mono) = n.node.as_ref().and_then(Node::poll_timeout) {
                consider(mono.saturating_sub(mono_origin(i)).max(self.now));
            }
        }
        next
    }

    /// Runs until true time `until` (ms since start) or the first violation.
    pub fn run_until(&mut self, until: u64) {
        while self.violation.is_none() {
            match self.next_time() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.step();
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
    }

    /// Does everything due now, in a fixed order: disks, network, actions, timers.
    fn step(&mut self) {
        self.steps += 1;
        let now = self.now;
        for i in 0..self.nodes.len() {
            while self.nodes[i].in_flight.front().is_some_and(|(at, _, _)| *at <= now) {
                if let Some((_, leaves, snapshot)) = self.nodes[i].in_flight.pop_front() {
                    self.make_durable(i, leaves, snapshot);
                    let len = self.nodes[i].durable.len() as u64;
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        node.persisted(len);
                    }
                    self.drain(i);
                }
            }
        }
        while self.net.peek().is_some_and(|Reverse((at, ..))| *at <= now) {
            if let Some(Reverse((_, _, from, to, frame))) = self.net.pop() {
                self.deliver(from, to, &frame);
            }
        }
        while self.actions.peek().is_some_and(|Reverse((at, ..))| *at <= now) {
            if let Some(Reverse((_, _, slot))) = self.actions.pop() {
                if let Some(action) = self.action_slots[slot].take() {
                    self.perform(action);
                }
            }
        }
        for i in 0..self.nodes.len() {
            let local = self.reading(i);
            let due =
                self.nodes[i].node.as_ref().and_then(Node::poll_timeout).is_some_and(|t| t <= local.mono_ms);
            if due {
                if let Some(node) = self.nodes[i].node.as_mut() {
                    node.handle_timeout(local);
                }
                self.drain(i);
            }
        }
    }

    fn deliver(&mut self, from: usize, to: usize, frame: &[u8]) {
        let local = self.reading(to);
        let from_id = self.nodes[from].id;
        let Some(node) = self.nodes[to].node.as_mut() else { return };
        if let Err(e) = node.handle_frame(local, from_id, frame) {
            // Honest nodes only exchange valid frames; a refusal here is a protocol bug.
            let what = format!("{} refused a frame from {}: {e}", self.nodes[to].name, self.nodes[from].name);
            self.fail(what);
        }
        self.drain(to);
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Send(i, draft) => {
                self.send(i, draft);
            }
            Action::Ack(i, notice) => {
                if self.nodes[i].node.is_some() {
                    self.acknowledge(i, notice);
                } else {
                    self.nodes[i].acks_wanted.insert(notice);
                }
            }
            Action::Crash(i) => self.crash(i),
            Action::Restart(i) => self.restart(i),
            Action::Cut(a, b) => self.cut[a][b] = true,
            Action::Heal(a, b) => self.cut[a][b] = false,
            Action::Workload => crate::workload::act(self),
            Action::StepClock(i, delta) => self.nodes[i].skew_ms += delta,
        }
    }
}

/// Where node `i`'s monotonic clock starts (a billion ms apart per node).
fn mono_origin(i: usize) -> u64 {
    (i as u64 + 1) * 1_000_000_000
}

/// A node's local clock at true time `now` (ms since start).
pub fn local_time(now: u64, skew_ms: i64) -> u64 {
    (EPOCH_MS + now).saturating_add_signed(skew_ms)
}

/// True time (ms since start) at which a node's local clock shows `local`.
pub fn true_time(local: u64, skew_ms: i64) -> u64 {
    local.saturating_add_signed(-skew_ms).saturating_sub(EPOCH_MS)
}
