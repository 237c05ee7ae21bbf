//! The node's Merkle tree over its own log (spec §15.1, §6.11): the right edge in memory, the
//! rest read from the history.
//!
//! A node signs the root of its whole log in every checkpoint and proves each checkpoint
//! consistent with the one a peer co-signed last. The root needs only the tree's peaks, one hash
//! per set bit of the size; a proof needs roots of older subtrees, which the store keeps in its
//! hash tiles. So the core holds the peaks and the leaf hashes the history may not hold yet (those
//! of entries not yet known durable) — O(log n + unstored), whatever the log's length — and asks
//! the history for the rest. A node without a history keeps every subtree hash instead.

use crate::history::{History, HistoryError};
use crate::ids::Hash32;
use crate::merkle::{self, node_hash, perfect_root, CompactTree, MerkleTree};

/// Where the roots of older subtrees come from.
enum Older {
    /// No history: every subtree hash in memory (tests and tools that keep a log in memory).
    All(MerkleTree),
    /// The history holds every leaf before `from`; `hashes` are the leaf hashes from `from` on.
    Unstored { from: u64, hashes: Vec<Hash32> },
}

pub(super) struct Tree {
    peaks: CompactTree,
    older: Older,
}

impl Tree {
    /// An empty tree; `with_history` says whether a history will hold the durable leaves.
    pub fn new(with_history: bool) -> Tree {
        let older = if with_history {
            Older::Unstored { from: 0, hashes: Vec::new() }
        } else {
            Older::All(MerkleTree::new())
        };
        Tree { peaks: CompactTree::new(), older }
    }

    /// The tree saved in a snapshot: every leaf it covers is in the history.
    pub fn resumed(peaks: CompactTree) -> Tree {
        let from = peaks.size();
        Tree { peaks, older: Older::Unstored { from, hashes: Vec::new() } }
    }

    pub fn peaks(&self) -> &CompactTree {
        &self.peaks
    }

    pub fn push(&mut self, leaf_hash: Hash32) {
        self.peaks.push(leaf_hash);
        match &mut self.older {
            Older::All(tree) => tree.push(leaf_hash),
            Older::Unstored { hashes, .. } => hashes.push(leaf_hash),
        }
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash32 {
        self.peaks.root()
    }

    /// The first `durable` leaves are in the history now: their hashes need not be kept.
    pub fn stored(&mut self, durable: u64) {
        if let Older::Unstored { from, hashes } = &mut self.older {
            let drop = usize::try_from(durable.saturating_sub(*from)).unwrap_or(usize::MAX).min(hashes.len());
            if drop > 0 {
                hashes.drain(..drop);
                *from += drop as u64;
            }
        }
    }

    /// The root of the first `size` leaves (`size <= len`).
    pub fn root_at(&self, size: u64, history: Option<&dyn History>) -> Result<Hash32, HistoryError> {
        match size {
            0 => Ok(merkle::empty_root()),
            s if s > self.peaks.size() => Err(HistoryError(format!("no root of {s} leaves"))),
            s if s == self.peaks.size() => Ok(self.peaks.root()),
            s => merkle::range(0, s, &mut |level, index| self.subtree(level, index, history)),
        }
    }

    /// The RFC 9162 consistency proof from `old` leaves to `new` (`old <= new <= size`).
    pub fn consistency_proof(
        &self,
        old: u64,
        new: u64,
        history: Option<&dyn History>,
    ) -> Result<Vec<Hash32>, HistoryError> {
        if old > new || new > self.peaks.size() {
            return Err(HistoryError(format!("no consistency proof from {old} to {new} leaves")));
        }
        merkle::consistency_proof(old, new, &mut |level, index| self.subtree(level, index, history))
    }

    fn subtree(&self, level: u32, index: u64, history: Option<&dyn History>) -> Result<Hash32, HistoryError> {
        let missing = || HistoryError(format!("the tree lacks subtree {index} of level {level}"));
        match &self.older {
            Older::All(tree) => tree.subtree(level, index).ok_or_else(missing),
            Older::Unstored { from, hashes } => {
                let width = 1u64.checked_shl(level).ok_or_else(missing)?;
                let start = index.checked_mul(width).ok_or_else(missing)?;
                let end = start.checked_add(width).ok_or_else(missing)?;
                if end <= *from {
                    return history.ok_or_else(missing)?.subtree(level, index);
                }
                if start >= *from {
                    let first = usize::try_from(start - from).map_err(|_| missing())?;
                    let last = usize::try_from(end - from).map_err(|_| missing())?;
                    return hashes.get(first..last).and_then(perfect_root).ok_or_else(missing);
                }
                // Straddles the durable edge: half from the history, half from memory.
                let left = self.subtree(level - 1, index * 2, history)?;
                let right = self.subtree(level - 1, index * 2 + 1, history)?;
                Ok(node_hash(&left, &right))
            }
        }
    }
}
