//! The node's durable history, read on demand (spec §6.11).
//!
//! A node that runs for years cannot hold every notice it ever handled. The core keeps its
//! *working set* — the notices with open work (a receipt, an acknowledgement or a retransmission
//! still owed by someone) — and forgets a notice once its work is closed and every entry about it
//! is durable. What it forgot it reads back through a [`History`]: the store keeps, in the same
//! durable transaction as the entries, an index of them by the notice they concern, by thread,
//! and of the notices received. The index is a function of the entries alone ([`index_keys`]),
//! so any store can build it, and rebuild it from the log.
//!
//! Reading is synchronous and deterministic: the same durable log gives the same answers, which
//! keeps the core sans-IO in spirit (it never decides *when* to read the disk; it asks for facts
//! it needs to handle the input it was given) and lets the simulator run it against a history in
//! memory ([`MemHistory`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::codec;
use crate::crypto::{self, leaf_hash, Context};
use crate::ids::{Hash32, NodeId, NoticeId};
use crate::limits::MAX_LOG_ENTRY;
use crate::log::{DeadlineMissed, LogEntry, Record, SignedEntry};
use crate::merkle::MerkleTree;
use crate::message::{self, Message, Opened};

/// A store's index could not be read; the input that needed it is not handled (a peer
/// retransmits; an operator is told to try again).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the store's history could not be read: {0}")]
pub struct HistoryError(pub String);

/// The durable history of one node's log, as the core needs it.
pub trait History: Send {
    /// The durable entries (leaf bytes) that concern `notice` ([`IndexKeys::notice`]), in log
    /// order. Empty if the notice is unknown.
    fn about(&self, notice: &NoticeId) -> Result<Vec<Vec<u8>>, HistoryError>;

    /// The notices of a thread ([`IndexKeys::thread`]) that are durable, in log order.
    fn thread(&self, thread: &NoticeId) -> Result<Vec<NoticeId>, HistoryError>;

    /// Notices this node accepted, newest first: at most `limit` of those logged before the log
    /// index `before` (all, if `None`), each with the index of its `accepted` entry.
    fn received(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, NoticeId)>, HistoryError>;

    /// The root of the perfect Merkle subtree (spec §15.1) over the durable leaves
    /// `[index·2^level, (index+1)·2^level)`: what consistency proofs are built from (a store
    /// reads it from its hash tiles, spec §15.5). An error if the history lacks any of them.
    fn subtree(&self, level: u32, index: u64) -> Result<Hash32, HistoryError>;
}

/// Where one entry of a node's log is indexed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexKeys {
    /// The notice the entry concerns: a notice sent or accepted, a receipt or an acknowledgement
    /// of it, a receipt this node issued for it or for an acknowledgement of it, a missed
    /// deadline of it.
    pub notice: Option<NoticeId>,
    /// For a notice sent or accepted: its thread.
    pub thread: Option<NoticeId>,
    /// For a notice accepted: it was received.
    pub received: bool,
}

/// The notice an entry's record concerns, given the entry's embedded message (one home of the
/// rule, for the core's working set and for every store's index).
pub(crate) fn concerns(record: &Record, message: Option<&Message>) -> Option<NoticeId> {
    match (record, message) {
        (Record::Sent { .. } | Record::Accepted { .. } | Record::Receipted { .. }, Some(m)) => match m {
            Message::Notice(n) => Some(n.id()),
            Message::Receipt(r) => Some(r.notice),
            Message::Ack(a) => Some(a.notice),
            Message::Checkpoint(_) | Message::Cosignature(_) | Message::Heartbeat(_) => None,
        },
        (Record::DeadlineMissed(DeadlineMissed { notice, .. }), _) => Some(*notice),
        _ => None,
    }
}

/// The index keys of one leaf of a node's own log. The leaf is trusted (it was written by this
/// node and read back from its store); a leaf that does not decode is indexed nowhere.
pub fn index_keys(leaf: &[u8]) -> IndexKeys {
    let Some((entry, opened)) = open_leaf(leaf) else { return IndexKeys::default() };
    let message = opened.as_ref().map(|o| &o.message);
    let notice = concerns(&entry.record, message);
    let (thread, received) = match (&entry.record, message) {
        (Record::Sent { .. }, Some(Message::Notice(n))) => (Some(n.thread_id()), false),
        (Record::Accepted { .. }, Some(Message::Notice(n))) => (Some(n.thread_id()), true),
        _ => (None, false),
    };
    IndexKeys { notice, thread, received }
}

/// Decodes a leaf of this node's own log, and the message of a `sent`, `accepted` or
/// `receipted` entry, without checking signatures (the node wrote and verified them).
pub(crate) fn open_leaf(leaf: &[u8]) -> Option<(LogEntry, Option<Opened>)> {
    decode_leaf(leaf).ok().map(|(_, entry, opened)| (entry, opened))
}

/// [`open_leaf`], keeping the signed envelope (for [`about_checked`]'s signature check) and the
/// decoding error.
fn decode_leaf(leaf: &[u8]) -> Result<(SignedEntry, LogEntry, Option<Opened>), crate::Rejection> {
    let signed: SignedEntry = codec::decode("log entry", leaf, MAX_LOG_ENTRY)?;
    let entry: LogEntry = codec::decode("log entry", &signed.entry, MAX_LOG_ENTRY)?;
    let opened = match &entry.record {
        Record::Sent { frame } | Record::Accepted { frame } | Record::Receipted { frame } => {
            message::decode_trusted(frame).ok()
        }
        _ => None,
    };
    Ok((signed, entry, opened))
}

/// How many entries [`Verified`] remembers: every entry of a few hundred notices, what a console's
/// board and hand-over read again and again (about 1 MiB).
pub const VERIFIED_ENTRIES: usize = 16_384;

/// Entries read back whose signature verified, remembered by log index and the hash of their
/// exact bytes (spec §6.11): the same bytes at the same index verify the same, so reading them
/// again costs a hash (a few µs) instead of a signature check (about 50 µs), while bytes that
/// changed on the disk hash differently and are checked in full, as the first time. Bounded: the
/// oldest remembered is forgotten first. Forgotten at a restart.
#[derive(Debug, Default)]
pub(crate) struct Verified(Mutex<Remembered>);

#[derive(Debug, Default)]
struct Remembered {
    by_index: HashMap<u64, Hash32>,
    order: VecDeque<u64>,
}

impl Verified {
    /// Whether the entry at `index` with these bytes' hash has verified.
    fn knows(&self, index: u64, hash: &Hash32) -> bool {
        self.0.lock().is_ok_and(|r| r.by_index.get(&index) == Some(hash))
    }

    /// Remembers that the entry at `index` with these bytes' hash verified.
    fn remember(&self, index: u64, hash: Hash32) {
        let Ok(mut r) = self.0.lock() else { return };
        if r.by_index.insert(index, hash).is_none() {
            r.order.push_back(index);
        }
        while r.order.len() > VERIFIED_ENTRIES {
            if let Some(old) = r.order.pop_front() {
                r.by_index.remove(&old);
            }
        }
    }

    /// How many entries are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map_or(0, |r| r.by_index.len())
    }
}

/// The durable leaves about `notice` logged before index `below`, each checked before the core
/// relies on it, for the disk can lie (spec §6.11): it decodes, it is an entry of `node`'s log in
/// `network` signed by `node` (the signature covers every byte of it, embedded frames included,
/// which were verified in full when it was logged), it concerns `notice`, and the indexes
/// increase. One signature check per leaf not already in `verified` with the same bytes; a
/// failure names the entry and refuses the read.
pub(crate) fn about_checked(
    history: &dyn History,
    verified: &Verified,
    network: &Hash32,
    node: &NodeId,
    notice: &NoticeId,
    below: u64,
) -> Result<Vec<Vec<u8>>, HistoryError> {
    let mut leaves = history.about(notice)?;
    let mut next = 0u64;
    let mut kept = 0;
    for (i, leaf) in leaves.iter().enumerate() {
        let damaged = |index: u64, what: &str| {
            HistoryError(format!("the store's entry {index} about {notice} is damaged: {what}"))
        };
        let (signed, entry, opened) = decode_leaf(leaf).map_err(|e| damaged(next, &e.to_string()))?;
        if entry.index >= below {
            break;
        }
        if entry.network != *network || entry.node != *node {
            return Err(damaged(entry.index, "it is not an entry of this node's log"));
        }
        if entry.index < next {
            return Err(damaged(entry.index, "the index lists it out of order"));
        }
        let bytes = crypto::sha256(leaf);
        if !verified.knows(entry.index, &bytes) {
            crypto::verify(node, Context::LogEntry, &signed.entry, &signed.signature)
                .map_err(|_| damaged(entry.index, "its signature does not verify"))?;
            verified.remember(entry.index, bytes);
        }
        if concerns(&entry.record, opened.as_ref().map(|o| &o.message)) != Some(*notice) {
            return Err(damaged(entry.index, "the index files it under a notice it is not about"));
        }
        next = entry.index.saturating_add(1);
        kept = i + 1;
    }
    leaves.truncate(kept);
    Ok(leaves)
}

/// A history in memory: for the simulator, tests and benchmarks, and as the model any store's
/// index must agree with.
#[derive(Clone, Debug, Default)]
pub struct MemHistory {
    leaves: Vec<Vec<u8>>,
    about: BTreeMap<NoticeId, Vec<u64>>,
    threads: BTreeMap<NoticeId, Vec<NoticeId>>,
    received: Vec<(u64, NoticeId)>,
    tree: MerkleTree,
}

impl MemHistory {
    /// An empty history.
    pub fn new() -> MemHistory {
        MemHistory::default()
    }

    /// Replaces the bytes of the leaf at `index` and nothing else (its index stays as it was
    /// written): a disk that changed an entry after it was logged, for tests. Returns whether
    /// the leaf exists.
    pub fn overwrite(&mut self, index: u64, leaf: Vec<u8>) -> bool {
        match usize::try_from(index).ok().and_then(|i| self.leaves.get_mut(i)) {
            Some(slot) => {
                *slot = leaf;
                true
            }
            None => false,
        }
    }

    /// Appends the next durable leaf and indexes it.
    pub fn push(&mut self, leaf: Vec<u8>) {
        let index = self.leaves.len() as u64;
        let keys = index_keys(&leaf);
        if let Some(notice) = keys.notice {
            self.about.entry(notice).or_default().push(index);
            if let Some(thread) = keys.thread {
                self.threads.entry(thread).or_default().push(notice);
            }
            if keys.received {
                self.received.push((index, notice));
            }
        }
        self.tree.push(leaf_hash(&leaf));
        self.leaves.push(leaf);
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether it holds no leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
}

impl History for MemHistory {
    fn about(&self, notice: &NoticeId) -> Result<Vec<Vec<u8>>, HistoryError> {
        let indexes = self.about.get(notice).map_or(&[][..], |v| v.as_slice());
        Ok(indexes.iter().filter_map(|&i| self.leaves.get(i as usize).cloned()).collect())
    }

    fn thread(&self, thread: &NoticeId) -> Result<Vec<NoticeId>, HistoryError> {
        Ok(self.threads.get(thread).cloned().unwrap_or_default())
    }

    fn received(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, NoticeId)>, HistoryError> {
        let end = before.map_or(self.received.len(), |b| self.received.partition_point(|(i, _)| *i < b));
        Ok(self.received[..end].iter().rev().take(limit).copied().collect())
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Hash32, HistoryError> {
        self.tree.subtree(level, index).ok_or_else(|| {
            HistoryError(format!(
                "no subtree {index} of level {level}: the history holds {} leaves",
                self.len()
            ))
        })
    }
}

/// A history shared between the core and whoever appends to it (the simulator's disk).
pub type SharedHistory = Arc<Mutex<MemHistory>>;

fn locked(shared: &SharedHistory) -> Result<std::sync::MutexGuard<'_, MemHistory>, HistoryError> {
    shared.lock().map_err(|_| HistoryError("the history's lock is poisoned".into()))
}

impl History for SharedHistory {
    fn about(&self, notice: &NoticeId) -> Result<Vec<Vec<u8>>, HistoryError> {
        locked(self)?.about(notice)
    }

    fn thread(&self, thread: &NoticeId) -> Result<Vec<NoticeId>, HistoryError> {
        locked(self)?.thread(thread)
    }

    fn received(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, NoticeId)>, HistoryError> {
        locked(self)?.received(before, limit)
    }

    fn subtree(&self, level: u32, index: u64) -> Result<Hash32, HistoryError> {
        locked(self)?.subtree(level, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_knows_only_the_same_bytes_at_the_same_index_and_stays_bounded() {
        let v = Verified::default();
        let a = crypto::sha256(b"entry 7");
        v.remember(7, a);
        assert!(v.knows(7, &a));
        assert!(!v.knows(7, &crypto::sha256(b"entry 7, changed on the disk")));
        assert!(!v.knows(8, &a), "the same bytes at another index are not known");
        for i in 0..(VERIFIED_ENTRIES as u64 + 100) {
            v.remember(1_000 + i, crypto::sha256(&i.to_le_bytes()));
        }
        assert_eq!(v.len(), VERIFIED_ENTRIES);
        assert!(!v.knows(7, &a), "the oldest is forgotten first");
        assert!(v.knows(
            1_000 + VERIFIED_ENTRIES as u64 + 99,
            &crypto::sha256(&(VERIFIED_ENTRIES as u64 + 99).to_le_bytes())
        ));
        // Remembering an index again does not grow it.
        let last = 1_000 + VERIFIED_ENTRIES as u64 + 99;
        v.remember(last, a);
        assert_eq!(v.len(), VERIFIED_ENTRIES);
        assert!(v.knows(last, &a));
    }
}
