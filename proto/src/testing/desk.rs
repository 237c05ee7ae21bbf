//! A two-node harness in memory (like quinn-proto's `Pair`): each [`Desk`] is a core [`Node`]
//! with a disk that is a vector of leaves, and [`Pair`] moves frames between two of them at a
//! time the test chooses. Nothing here is random and nothing runs by itself: the test calls
//! [`Desk::sync`] when the disk has written, and [`Pair::deliver`] when the network has carried.

use crate::log::{LogEntry, SignedEntry};
use crate::testing::fixtures::test_key;
use crate::{Event, History, MemHistory, Message, Node, NodeId, Record, Roster, SharedHistory, Transmit};

/// A node with its own durable disk (a vector of leaves).
pub struct Desk {
    /// The core under test.
    pub node: Node,
    /// Every leaf reported durable, in log order.
    pub disk: Vec<Vec<u8>>,
    /// The party's name, which also names its test key.
    pub name: &'static str,
    /// The disk's history, which the node reads what it forgot from (rebuilt from `disk` at a
    /// restart, so a test may change the disk in between).
    pub history: SharedHistory,
    /// The latest snapshot the node handed over with a batch, and the disk length it is at.
    pub snapshot: Option<(usize, Vec<u8>)>,
}

/// A history holding `disk`'s leaves, indexed.
pub fn history_of(disk: &[Vec<u8>]) -> SharedHistory {
    let mut history = MemHistory::new();
    for leaf in disk {
        history.push(leaf.clone());
    }
    SharedHistory::new(std::sync::Mutex::new(history))
}

impl Desk {
    /// A fresh node of the named party (its test key) on `roster`, started at `now`.
    ///
    /// # Panics
    /// If the roster does not hold the party's key: a broken fixture, not an input to handle.
    pub fn new(name: &'static str, roster: Roster, now: u64) -> Desk {
        let history = SharedHistory::default();
        let boxed: Box<dyn History> = Box::new(history.clone());
        let node = Node::restore_with(test_key(name), roster, std::iter::empty::<&[u8]>(), Some(boxed), now)
            .expect("the fixture's roster holds the party");
        Desk { node, disk: Vec::new(), name, history, snapshot: None }
    }

    /// The party's node id.
    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// Writes everything pending to the disk and reports it durable.
    ///
    /// # Panics
    /// If a batch does not continue the disk (the core's persistence contract).
    pub fn sync(&mut self) {
        while let Some(batch) = self.node.poll_persist() {
            assert_eq!(batch.first_index, self.disk.len() as u64, "a persist batch continues the log");
            if let Ok(mut history) = self.history.lock() {
                for leaf in &batch.leaves {
                    history.push(leaf.clone());
                }
            }
            self.disk.extend(batch.leaves);
            if let Some(snapshot) = batch.snapshot {
                self.snapshot = Some((self.disk.len(), snapshot));
            }
        }
        self.node.persisted(self.disk.len() as u64);
    }

    /// Every frame the node wants sent now.
    pub fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.node.poll_transmit()).collect()
    }

    /// Every event the node has for its operator now.
    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.node.poll_event()).collect()
    }

    /// The records on the disk, in log order.
    ///
    /// # Panics
    /// If a leaf on the disk does not decode: the node wrote it, so that is a bug.
    pub fn records(&self) -> Vec<Record> {
        self.disk
            .iter()
            .map(|leaf| {
                let signed: SignedEntry =
                    crate::codec::decode("leaf", leaf, 1 << 20).expect("own leaf decodes");
                crate::codec::decode::<LogEntry>("entry", &signed.entry, 1 << 20)
                    .expect("own entry decodes")
                    .record
            })
            .collect()
    }

    /// Crash and restart from the disk at `now`: everything not synced is gone. The node starts
    /// from its latest snapshot and the entries after it, as a store starts it, if it took one.
    ///
    /// # Panics
    /// If the node cannot restore the log it wrote itself.
    pub fn restart(&mut self, now: u64) {
        let Some((at, snapshot)) = self.snapshot.clone().filter(|(at, _)| *at <= self.disk.len()) else {
            return self.restart_by_replay(now);
        };
        let roster = self.node.roster().clone();
        self.history = history_of(&self.disk);
        let boxed: Box<dyn History> = Box::new(self.history.clone());
        let before = at.checked_sub(1).map(|i| self.disk[i].as_slice());
        self.node =
            Node::resume(test_key(self.name), roster, &snapshot, before, &self.disk[at..], boxed, now)
                .expect("own snapshot and log restore");
    }

    /// Crash and restart at `now` by replaying the whole disk, ignoring any snapshot.
    ///
    /// # Panics
    /// If the node cannot restore the log it wrote itself.
    pub fn restart_by_replay(&mut self, now: u64) {
        let roster = self.node.roster().clone();
        self.history = history_of(&self.disk);
        let boxed: Box<dyn History> = Box::new(self.history.clone());
        self.node = Node::restore_with(test_key(self.name), roster, self.disk.iter(), Some(boxed), now)
            .expect("own log restores");
    }

    /// Takes a snapshot now, as if the node had handed one over with its last batch (call after
    /// [`Desk::sync`], when every entry is durable).
    pub fn save_snapshot(&mut self) {
        self.snapshot = Some((self.disk.len(), self.node.snapshot()));
    }
}

/// Two desks on one roster, started and synced at the same time.
pub struct Pair {
    /// The first party.
    pub a: Desk,
    /// The second party.
    pub b: Desk,
}

impl Pair {
    /// Desks of the first two parties of `roster` by the given names, started at `now`.
    pub fn new(a: &'static str, b: &'static str, roster: Roster, now: u64) -> Pair {
        let mut a = Desk::new(a, roster.clone(), now);
        let mut b = Desk::new(b, roster, now);
        a.sync();
        b.sync();
        Pair { a, b }
    }

    /// Runs both nodes on a perfect network and disk until `end`: at each timer, both nodes
    /// handle it, write, and exchange frames until neither has anything more to send. Returns how
    /// many timer steps it took.
    ///
    /// # Panics
    /// If a node refuses a frame of the other (see [`deliver`]), or the run does not end within
    /// ten million steps (a timer that never moves forward).
    pub fn run_until(&mut self, end: u64) -> u64 {
        let mut steps = 0u64;
        loop {
            let next = [self.a.node.poll_timeout(), self.b.node.poll_timeout()].into_iter().flatten().min();
            let Some(now) = next.filter(|t| *t <= end) else { return steps };
            steps += 1;
            assert!(steps < 10_000_000, "the timers never move past {now}");
            self.a.node.handle_timeout(now);
            self.b.node.handle_timeout(now);
            for _ in 0..16 {
                self.a.sync();
                self.b.sync();
                let quiet = self.a_to_b(now).is_empty() & self.b_to_a(now).is_empty();
                if quiet {
                    break;
                }
            }
        }
    }

    /// Carries every frame `a` wants sent to `b` (frames to others are dropped); returns all
    /// of `a`'s frames.
    pub fn a_to_b(&mut self, now: u64) -> Vec<Transmit> {
        deliver(&mut self.a, &mut self.b, now)
    }

    /// Carries every frame `b` wants sent to `a`; returns all of `b`'s frames.
    pub fn b_to_a(&mut self, now: u64) -> Vec<Transmit> {
        deliver(&mut self.b, &mut self.a, now)
    }
}

/// Delivers every transmit from `from` to `to` (ignoring other addressees); returns them.
///
/// # Panics
/// If `to` refuses a frame with an error (a rejection is an answer, not an error).
pub fn deliver(from: &mut Desk, to: &mut Desk, now: u64) -> Vec<Transmit> {
    let frames = from.transmits();
    let target = to.id();
    for t in frames.iter().filter(|t| t.to == target) {
        to.node.handle_frame(now, from.id(), &t.frame).expect("a frame from a member is handled");
    }
    frames
}

/// The kind of each frame, as a short name (`heartbeat`, `notice`, `receipt`, …).
///
/// # Panics
/// If a frame does not decode: the node sealed it, so that is a bug.
pub fn kinds(ts: &[Transmit]) -> Vec<&'static str> {
    ts.iter()
        .map(|t| match crate::message::decode_trusted(&t.frame).expect("own frame decodes").message {
            Message::Notice(_) => "notice",
            Message::Receipt(_) => "receipt",
            Message::Ack(_) => "ack",
            Message::Checkpoint(_) => "checkpoint",
            Message::Cosignature(_) => "cosignature",
            Message::Heartbeat(_) => "heartbeat",
        })
        .collect()
}
