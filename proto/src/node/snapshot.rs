//! The working set saved beside the log, so that a restart reads it and the entries since, not
//! the whole log (spec §6.12).
//!
//! A node's state is a function of its log; a snapshot is that function's value after the first
//! `log_len` entries, taken when a batch of entries is handed to the store and written once they
//! are durable (in a transaction of its own). A restart then reads the snapshot, checks it
//! against the log (its signature, its network and node, the leaf hash of the entry before it)
//! and applies only the entries after it, each verified in full, signatures included: restart
//! time and memory depend on the open work and the roster, never on the log's length.
//!
//! Open notices and the frames awaiting a receipt are saved by reference (the notice's id):
//! their entries are in the history already, and copying megabytes of them into every snapshot
//! of a flood stalled the node's event loop (BENCHMARKS.md, the flood's p99.9).
//!
//! What is saved is exactly what the entries establish; what lives outside the log (timers,
//! retransmission backoff, when a peer was last heard, output queues) is rebuilt by the restart
//! as it is after a full replay, so both ways of starting give the same node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{self, leaf_hash, Context};
use crate::history::{about_checked, open_leaf};
use crate::ids::{Hash32, NodeId, NoticeId, Sig64};
use crate::log::{Check, LogEntry, LogVerifier, Record};
use crate::merkle::CompactTree;
use crate::message::SignedCheckpoint;
use crate::precedence::Precedence;

use super::state::{Retx, Work};
use super::tree::Tree;
use super::Node;

/// A snapshot is taken when the log has grown by at least this many entries since the last one
/// (and see [`due`]): with a small working set, the most a restart verifies and applies beside
/// the snapshot itself.
pub const SNAPSHOT_EVERY: u64 = 1024;

/// Whether a snapshot is due: at least [`SNAPSHOT_EVERY`] entries since the last one, and the
/// entries logged since weigh at least twice the last snapshot. A large working set (a flood of
/// unreceipted notices) then costs at most half as many bytes again as the log itself, instead of
/// a snapshot of megabytes every thousand entries that stalls the node; a restart then verifies
/// more entries, in proportion to the open work, never to the log's length.
pub(super) fn due(entries_since: u64, bytes_since: u64, last_len: u64) -> bool {
    entries_since >= SNAPSHOT_EVERY && bytes_since >= last_len.saturating_mul(2)
}

/// The largest snapshot a node reads back (its size is the open work's, bounded by the roster's
/// limits on open notices and their sizes; a larger one is refused before it is allocated).
pub const MAX_SNAPSHOT: usize = 256 << 20;

/// The format of the saved state; another version is not read (the log is replayed instead).
const VERSION: u8 = 3;

#[derive(Serialize, Deserialize)]
struct SavedPeer {
    id: NodeId,
    up: bool,
    link_seq_out: u64,
    recv_contiguous: u64,
    recv_above: Vec<u64>,
    recv_reported_upto: u64,
    last_link_test_ms: Option<u64>,
    down_since_ms: Option<u64>,
    last_outage: Option<(u64, u64)>,
    /// Messages awaiting the peer's receipt: hash, precedence, and the notice whose `sent`
    /// entry (of the notice itself, or of this node's acknowledgement of it) holds the frame.
    retx: Vec<(Hash32, Precedence, NoticeId)>,
    cosigned_mine: u64,
    theirs: Vec<(SignedCheckpoint, u64, Sig64)>,
    conflicts: Vec<(u64, Hash32)>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u8,
    network: Hash32,
    node: NodeId,
    log_len: u64,
    prev: Hash32,
    last_time: u64,
    peaks: Vec<Hash32>,
    own_checkpoints: Vec<SignedCheckpoint>,
    grown_since_checkpoint: bool,
    next_seq: u64,
    peers: Vec<SavedPeer>,
    /// The notices with open work, by id: what is known of each is read back from the
    /// history's entries about it (spec §6.11), so that a flood of open notices costs a
    /// snapshot tens of bytes each, not their frames again.
    open: Vec<NoticeId>,
    equivocations: Vec<Hash32>,
}

/// A snapshot as stored: the saved state and the node's signature over it (context
/// `cbm-hotline/v1/snapshot`), so that a damaged or foreign one is refused, never applied.
#[derive(Serialize, Deserialize)]
struct Sealed {
    state: Vec<u8>,
    signature: Sig64,
}

impl Node {
    /// The node's state after its `log_len` entries, sealed for the store (spec §6.12).
    pub fn snapshot(&self) -> Vec<u8> {
        let peers = self
            .peers
            .iter()
            .map(|(id, p)| SavedPeer {
                id: *id,
                up: p.up,
                link_seq_out: p.link_seq_out,
                recv_contiguous: p.recv.contiguous,
                recv_above: p.recv.above.iter().copied().collect(),
                recv_reported_upto: p.recv.reported_upto,
                last_link_test_ms: p.last_link_test_ms,
                down_since_ms: p.down_since_ms,
                last_outage: p.last_outage,
                retx: p.retx.iter().map(|(h, r)| (*h, r.precedence, r.notice)).collect(),
                cosigned_mine: p.checkpoints.cosigned_mine,
                theirs: p.checkpoints.theirs.values().copied().collect(),
                conflicts: p.checkpoints.conflicts.clone(),
            })
            .collect();
        let open = self
            .outgoing
            .iter()
            .filter(|(_, o)| !o.closed())
            .map(|(id, _)| *id)
            .chain(self.incoming.iter().filter(|(_, i)| !i.closed()).map(|(id, _)| *id))
            .collect();
        let saved = Saved {
            version: VERSION,
            network: self.network,
            node: self.id,
            log_len: self.log_len,
            prev: self.prev,
            last_time: self.last_time,
            peaks: self.tree.peaks().peaks().to_vec(),
            own_checkpoints: self.own_checkpoints.values().copied().collect(),
            grown_since_checkpoint: self.grown_since_checkpoint,
            next_seq: self.next_seq,
            peers,
            open,
            equivocations: self.equivocations.iter().copied().collect(),
        };
        let state = codec::encode(&saved);
        let signature = crypto::sign(self.key.as_ref(), Context::Snapshot, &state);
        codec::encode(&Sealed { state, signature })
    }

    /// Restores the state a snapshot holds into a node fresh from [`Node::blank`], checking it
    /// against the log: `before` is the leaf just before the snapshot's point (none for an empty
    /// log). Returns the verifier that continues the log from there.
    pub(super) fn load_snapshot(
        &mut self,
        bytes: &[u8],
        before: Option<&[u8]>,
    ) -> Result<LogVerifier, String> {
        let sealed: Sealed = codec::decode("snapshot", bytes, MAX_SNAPSHOT).map_err(|e| e.to_string())?;
        crypto::verify(&self.id, Context::Snapshot, &sealed.state, &sealed.signature)
            .map_err(|_| "its signature is not this node's".to_string())?;
        let saved: Saved =
            codec::decode("snapshot", &sealed.state, MAX_SNAPSHOT).map_err(|e| e.to_string())?;
        if saved.version != VERSION {
            return Err(format!("it is of format {}, not {VERSION}", saved.version));
        }
        if saved.network != self.network || saved.node != self.id {
            return Err("it is of another network or node".into());
        }
        let expected_prev = before.map_or(Hash32([0; 32]), leaf_hash);
        if saved.log_len == 0 && before.is_some() || saved.prev != expected_prev {
            return Err(format!("it does not continue the stored log at entry {}", saved.log_len));
        }
        let peaks = CompactTree::from_peaks(saved.log_len, saved.peaks)
            .ok_or_else(|| "its Merkle tree does not match its length".to_string())?;
        self.log_len = saved.log_len;
        self.durable = saved.log_len;
        self.prev = saved.prev;
        self.last_time = saved.last_time;
        if self.history.is_none() {
            return Err("a node without a history cannot start from a snapshot".into());
        }
        self.tree = Tree::resumed(peaks.clone());
        self.own_checkpoints = saved.own_checkpoints.iter().map(|c| (c.size, *c)).collect();
        self.grown_since_checkpoint = saved.grown_since_checkpoint;
        self.next_seq = saved.next_seq;
        // The open notices, each folded from its durable entries before the snapshot's point
        // (checked as they are read: the disk can lie), and the leaves kept for the frames
        // awaiting a receipt.
        let mut leaves: BTreeMap<NoticeId, Vec<Vec<u8>>> = BTreeMap::new();
        for id in saved.open {
            let about = self.about_before(&id, saved.log_len)?;
            match Work::fold(&self.id, &about) {
                Some(Work::Out(o)) if id.sender == self.id => {
                    self.outgoing.insert(id, o);
                }
                Some(Work::In(i)) if id.sender != self.id => {
                    self.incoming.insert(id, i);
                }
                _ => return Err(format!("the store holds no entry that starts open notice {id}")),
            }
            leaves.insert(id, about);
        }
        let rto = self.roster.policy.retransmit_initial_ms;
        for sp in saved.peers {
            if !self.peers.contains_key(&sp.id) {
                return Err(format!("it names {}, who is not a peer", sp.id.short()));
            }
            let mut retx = BTreeMap::new();
            for (hash, precedence, notice) in sp.retx {
                let about = match leaves.entry(notice) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(self.about_before(&notice, saved.log_len)?)
                    }
                };
                let frame = sent_frame(about, &hash).ok_or_else(|| {
                    format!("the store holds no message {} about {notice} to retransmit", hash.to_hex())
                })?;
                retx.insert(hash, Retx { frame, precedence, notice, next_ms: 0, rto_ms: rto });
            }
            let Some(p) = self.peers.get_mut(&sp.id) else { continue };
            p.up = sp.up;
            p.link_seq_out = sp.link_seq_out;
            p.recv.contiguous = sp.recv_contiguous;
            p.recv.above = sp.recv_above.into_iter().collect();
            p.recv.reported_upto = sp.recv_reported_upto;
            p.last_link_test_ms = sp.last_link_test_ms;
            p.down_since_ms = sp.down_since_ms;
            p.last_outage = sp.last_outage;
            p.retx = retx;
            p.checkpoints.cosigned_mine = sp.cosigned_mine;
            p.checkpoints.theirs = sp.theirs.into_iter().map(|c| (c.0.size, c)).collect();
            p.checkpoints.conflicts = sp.conflicts;
        }
        self.equivocations = saved.equivocations.into_iter().collect();
        let checkpoints: BTreeMap<u64, Hash32> =
            self.own_checkpoints.values().map(|c| (c.size, c.root)).collect();
        Ok(LogVerifier::resume(
            self.roster.clone(),
            self.id,
            Check::Full,
            peaks,
            self.prev,
            self.last_time,
            checkpoints,
        ))
    }
}

impl Node {
    /// The entries about `notice` before the snapshot's point `below`, read and checked.
    fn about_before(&self, notice: &NoticeId, below: u64) -> Result<Vec<Vec<u8>>, String> {
        let history = self.history.as_ref().ok_or("a node without a history cannot start from a snapshot")?;
        about_checked(history.as_ref(), &self.verified, &self.network, &self.id, notice, below)
            .map_err(|e| e.to_string())
    }
}

/// The frame of the message with `hash` that one of `leaves` (a notice's entries) records as
/// sent by this node.
fn sent_frame(leaves: &[Vec<u8>], hash: &Hash32) -> Option<Vec<u8>> {
    leaves.iter().find_map(|leaf| match open_leaf(leaf)? {
        (LogEntry { record: Record::Sent { .. }, .. }, Some(opened)) if opened.hash == *hash => {
            Some(opened.frame)
        }
        _ => None,
    })
}

/// Seals `state` as a snapshot signed by `key`, whatever it holds: for fuzzing the decoder behind
/// the signature check (feature `testing`).
#[cfg(feature = "testing")]
pub fn seal_state(key: &dyn crate::Signer, state: &[u8]) -> Vec<u8> {
    let signature = crypto::sign(key, Context::Snapshot, state);
    codec::encode(&Sealed { state: state.to_vec(), signature })
}

/// The state inside a sealed snapshot, unchecked (feature `testing`).
#[cfg(feature = "testing")]
pub fn unseal_state(bytes: &[u8]) -> Option<Vec<u8>> {
    codec::decode::<Sealed>("snapshot", bytes, MAX_SNAPSHOT).ok().map(|s| s.state)
}
