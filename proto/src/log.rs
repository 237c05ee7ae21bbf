//! The tamper-evident log: numbered, hash-chained, signed entries (spec §7).
//!
//! Each entry is a leaf of the node's log. The leaf bytes are the canonical encoding of a
//! [`SignedEntry`]; the chain links each entry to the RFC 9162 leaf hash of the one before, so a
//! Merkle tree over the same leaves (checkpoints, co-signing) needs no change of format.
//! Messages appear in entries as their exact frame bytes, so an auditor re-verifies every party's
//! signature with public keys alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{self, leaf_hash, Context};
pub use crate::deadline::DeadlineKind;
use crate::error::{ErrorCode, LogError, Rejection};
use crate::ids::{Hash32, NodeId, NoticeId, Sig64};
use crate::limits::MAX_LOG_ENTRY;
use crate::merkle::{verify_consistency, CompactTree};
use crate::message::{self, Cosignature, Message, Opened, SignedCheckpoint};
use crate::roster::Roster;

/// A deadline passed without the receipt or acknowledgement it required: a log record
/// ([`Record::DeadlineMissed`]) and, once durable, an event for the operator (the one definition
/// of both; the wire form is that of the fields in this order, spec §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineMissed {
    /// The notice.
    pub notice: NoticeId,
    /// Who missed it: an addressee (in the sender's log), or this node itself (in an addressee's
    /// log, for its own overdue acknowledgement).
    pub party: NodeId,
    /// Receipt or acknowledgement.
    pub deadline: DeadlineKind,
    /// When the deadline fell (the notice's creation time plus the policy deadline).
    pub deadline_ms: u64,
}

/// Nothing valid was heard from a peer for the policy's link silence (record and event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDown {
    /// The peer.
    pub peer: NodeId,
    /// When something valid was last heard from it (this node's clock).
    pub last_heard_ms: u64,
}

/// Notices from a peer with the per-link sequence numbers `first..=last` are missing (record and
/// event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceGap {
    /// The peer.
    pub peer: NodeId,
    /// First missing per-link sequence number.
    pub first: u64,
    /// Last missing per-link sequence number.
    pub last: u64,
}

/// A peer's clock differs from this node's by more than the policy tolerates (record and event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSkew {
    /// The peer.
    pub peer: NodeId,
    /// Observed lower bound of the difference, peer minus this node, in ms.
    pub offset_ms: i64,
}

/// What happened. Wire values are the variant indices, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// The node started (or restarted) with this software.
    Started {
        /// Software name and version.
        software: String,
    },
    /// The node sent a notice or an ack it created; the exact frame.
    Sent {
        /// Frame bytes.
        frame: Vec<u8>,
    },
    /// The node accepted a peer's notice, receipt or ack; the exact frame as received.
    Accepted {
        /// Frame bytes.
        frame: Vec<u8>,
    },
    /// The node issued a receipt for an accepted notice or ack; the exact frame.
    Receipted {
        /// Frame bytes.
        frame: Vec<u8>,
    },
    /// A deadline passed without the receipt or acknowledgement it required.
    DeadlineMissed(DeadlineMissed),
    /// Nothing valid was heard from a peer for the policy's link silence.
    LinkDown(LinkDown),
    /// A valid frame arrived from a peer whose link was down.
    LinkUp {
        /// The peer.
        peer: NodeId,
    },
    /// Notices from a peer with these per-link sequence numbers are missing for longer than the
    /// policy's link silence.
    SequenceGap(SequenceGap),
    /// A peer's clock differs from this node's by more than the policy tolerates.
    ClockSkew(ClockSkew),
    /// A frame from a peer was refused.
    Rejected {
        /// The authenticated peer that delivered it.
        peer: NodeId,
        /// Why.
        code: ErrorCode,
        /// SHA-256 of the refused bytes.
        frame_hash: Hash32,
        /// Their length.
        frame_len: u32,
        /// Refusals from this peer not logged individually since the last one (rate limit).
        suppressed: u32,
    },
    /// A peer signed two different notices with the same id: the second frame, as evidence
    /// (the first is in this log already).
    Equivocation {
        /// The conflicting frame.
        frame: Vec<u8>,
        /// Message hash of the notice this node holds under the same id.
        conflicts_with: Hash32,
    },
    /// This node signed a checkpoint of its own log: the first `size` entries, i.e. every entry
    /// before this one (spec §15.2).
    Checkpoint {
        /// The checkpoint and its note signature.
        checkpoint: SignedCheckpoint,
    },
    /// This node co-signed a peer's checkpoint after checking it is consistent with the last one
    /// it co-signed (spec §15.4).
    Cosigned {
        /// Whose log.
        log: NodeId,
        /// The peer's signed checkpoint.
        checkpoint: SignedCheckpoint,
        /// The cosignature's timestamp (POSIX seconds).
        timestamp_s: u64,
        /// This node's `cosignature/v1` signature.
        signature: Sig64,
    },
    /// A peer co-signed one of this node's checkpoints.
    Cosignature {
        /// The co-signing peer.
        by: NodeId,
        /// The checkpoint's size.
        size: u64,
        /// Its root.
        root: Hash32,
        /// The cosignature's timestamp (POSIX seconds).
        timestamp_s: u64,
        /// The peer's `cosignature/v1` signature.
        signature: Sig64,
    },
    /// A peer presented a checkpoint that contradicts one this node co-signed: the same size with
    /// another root, or a larger size it could not prove consistent. Both checkpoints carry the
    /// peer's own signature: the evidence (spec §15.4).
    LogConflict {
        /// The peer.
        log: NodeId,
        /// The checkpoint this node co-signed earlier.
        cosigned: SignedCheckpoint,
        /// The contradicting checkpoint.
        presented: SignedCheckpoint,
        /// The consistency proof offered with it (from `cosigned.size`), if any.
        proof: Vec<Hash32>,
    },
    /// A link test (spec §6.5): a heartbeat round trip with a peer. Both heartbeats are signed,
    /// each by its sender, and the peer's echoes this node's, so the record proves that both ends
    /// were up and heard each other between the two heartbeats' times.
    LinkTest {
        /// The peer.
        peer: NodeId,
        /// This node's heartbeat to the peer (frame bytes).
        ours: Vec<u8>,
        /// The peer's heartbeat that echoes it (frame bytes, as received).
        theirs: Vec<u8>,
    },
    /// This node's own wall clock moved by something other than the time elapsed on its
    /// monotonic clock (spec §6.9): it was stepped, forward or back.
    ClockStep {
        /// The wall time the monotonic clock predicted.
        expected_ms: u64,
        /// The wall time read.
        observed_ms: u64,
    },
}

impl Record {
    /// A short lower-case name.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Started { .. } => "started",
            Record::Sent { .. } => "sent",
            Record::Accepted { .. } => "accepted",
            Record::Receipted { .. } => "receipted",
            Record::DeadlineMissed(DeadlineMissed { .. }) => "deadline_missed",
            Record::LinkDown(LinkDown { .. }) => "link_down",
            Record::LinkUp { .. } => "link_up",
            Record::SequenceGap(SequenceGap { .. }) => "sequence_gap",
            Record::ClockSkew(ClockSkew { .. }) => "clock_skew",
            Record::Rejected { .. } => "rejected",
            Record::Equivocation { .. } => "equivocation",
            Record::Checkpoint { .. } => "checkpoint",
            Record::Cosigned { .. } => "cosigned",
            Record::Cosignature { .. } => "cosignature",
            Record::LogConflict { .. } => "log_conflict",
            Record::LinkTest { .. } => "link_test",
            Record::ClockStep { .. } => "clock_step",
        }
    }
}

/// One log entry, before signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The network id.
    pub network: Hash32,
    /// The node whose log this is (the signer).
    pub node: NodeId,
    /// Position in the log, from 0.
    pub index: u64,
    /// Leaf hash of the entry at `index - 1`; 32 zero bytes for entry 0.
    pub prev: Hash32,
    /// When it was recorded (the node's clock, UTC ms). Never decreases along the log.
    pub time_ms: u64,
    /// What happened.
    pub record: Record,
}

/// A log entry with the node's signature: the leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedEntry {
    /// Canonical encoding of the [`LogEntry`].
    pub entry: Vec<u8>,
    /// Signature over `"cbm-hotline/v1/log-entry" ‖ 0x00 ‖ entry`.
    pub signature: Sig64,
}

/// Signs an entry and returns the leaf bytes.
pub fn seal_entry(key: &dyn crate::signer::Signer, entry: &LogEntry) -> Vec<u8> {
    let entry = codec::encode(entry);
    let signature = crypto::sign(key, Context::LogEntry, &entry);
    codec::encode(&SignedEntry { entry, signature })
}

/// How much checking a [`LogVerifier`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Structure and chain only: what a node does with its own durable log at start-up.
    Chain,
    /// Everything, including every signature in every entry and every embedded frame, with
    /// `verify_strict`: what an auditor does.
    Full,
}

/// Verifies a log one leaf at a time. Memory is O(log n) for the tree plus 40 bytes per checkpoint
/// the node signed (to match its peers' cosignatures), whatever the number of entries.
pub struct LogVerifier {
    roster: Roster,
    network: Hash32,
    node: NodeId,
    check: Check,
    next_index: u64,
    prev: Hash32,
    last_time: u64,
    tree: CompactTree,
    checkpoints: BTreeMap<u64, Hash32>,
}

/// A verified leaf.
#[derive(Clone, Debug)]
pub struct VerifiedEntry {
    /// The decoded entry.
    pub entry: LogEntry,
    /// Its leaf hash.
    pub leaf_hash: Hash32,
    /// For `Sent`, `Accepted`, `Receipted` and `Equivocation`: the decoded frame.
    pub message: Option<Opened>,
}

impl LogVerifier {
    /// A verifier of `node`'s log in the network defined by `roster`.
    pub fn new(roster: Roster, node: NodeId, check: Check) -> Self {
        LogVerifier {
            network: roster.network_id(),
            roster,
            node,
            check,
            next_index: 0,
            prev: Hash32([0; 32]),
            last_time: 0,
            tree: CompactTree::new(),
            checkpoints: BTreeMap::new(),
        }
    }

    /// A verifier that continues a log from its first `tree.size()` leaves, verified before
    /// (a node's restart from its snapshot, spec §6.12): `prev` and `last_time` are those of the
    /// last of them, `checkpoints` the log's checkpoints a later cosignature may name.
    pub fn resume(
        roster: Roster,
        node: NodeId,
        check: Check,
        tree: CompactTree,
        prev: Hash32,
        last_time: u64,
        checkpoints: BTreeMap<u64, Hash32>,
    ) -> Self {
        LogVerifier {
            network: roster.network_id(),
            roster,
            node,
            check,
            next_index: tree.size(),
            prev,
            last_time,
            tree,
            checkpoints,
        }
    }

    /// The root of the tree over every leaf verified so far.
    pub fn root(&self) -> Hash32 {
        self.tree.root()
    }

    /// The node's checkpoints seen so far: size → root.
    pub fn checkpoints(&self) -> &BTreeMap<u64, Hash32> {
        &self.checkpoints
    }

    /// Leaf hash of the last verified leaf (32 zero bytes before the first).
    pub fn head(&self) -> Hash32 {
        self.prev
    }

    /// How many leaves verified so far.
    pub fn len(&self) -> u64 {
        self.next_index
    }

    /// Whether no leaf was verified yet.
    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    /// Verifies the next leaf.
    pub fn push(&mut self, leaf: &[u8]) -> Result<VerifiedEntry, LogError> {
        let index = self.next_index;
        let fail = |problem: String| LogError { index, problem };
        let signed: SignedEntry =
            codec::decode("log entry", leaf, MAX_LOG_ENTRY).map_err(|e| fail(e.to_string()))?;
        let entry: LogEntry =
            codec::decode("log entry", &signed.entry, MAX_LOG_ENTRY).map_err(|e| fail(e.to_string()))?;
        // Errors say which field of which entry is wrong, and what it should have been.
        if entry.network != self.network {
            return Err(fail(format!(
                "its `network` field is {}, not this log's network id {}",
                entry.network.to_hex(),
                self.network.to_hex()
            )));
        }
        if entry.node != self.node {
            let whose = match self.roster.member(&entry.node) {
                Some(m) => format!("member {}", m.name),
                None => "no member of the roster".into(),
            };
            return Err(fail(format!(
                "its `node` field is {} ({whose}), not this log's node {}: the field was altered or the entry is another log's",
                entry.node.short(),
                self.node.short()
            )));
        }
        if entry.index != index {
            return Err(fail(format!("its `index` field is {}, but it is at position {index}", entry.index)));
        }
        if entry.prev != self.prev {
            return Err(fail(match index.checked_sub(1) {
                Some(before) => format!(
                    "hash chain broken: its `prev` is not the leaf hash of entry {before}, so entry {before} or this one was altered"
                ),
                None => "hash chain broken: entry 0's `prev` is not 32 zero bytes".into(),
            }));
        }
        if entry.time_ms < self.last_time {
            return Err(fail(format!(
                "time {} is before the previous entry's {}",
                entry.time_ms, self.last_time
            )));
        }
        if self.check == Check::Full {
            check_signatures(&self.roster, &self.network, &self.node, &signed, &entry.record)
                .map_err(fail)?;
        }
        let message = self.embedded(&entry.record).map_err(|e| fail(e.to_string()))?;
        own_time(&entry, message.as_ref()).map_err(fail)?;
        self.tree_records(index, &entry.record).map_err(fail)?;
        self.named_parties(&entry.record).map_err(fail)?;
        if let Record::LinkTest { peer, ours, theirs } = &entry.record {
            check_link_test(&self.node, peer, ours, theirs).map_err(fail)?;
        }
        let leaf_hash = leaf_hash(leaf);
        self.tree.push(leaf_hash);
        self.next_index += 1;
        self.prev = leaf_hash;
        self.last_time = entry.time_ms;
        Ok(VerifiedEntry { entry, leaf_hash, message })
    }

    /// Checkpoint records must commit to the tree as it stands; a cosignature must be of one of
    /// the log's own checkpoints; a conflict must be one.
    fn tree_records(&mut self, index: u64, record: &Record) -> Result<(), String> {
        match record {
            Record::Checkpoint { checkpoint } => {
                if checkpoint.size != index {
                    return Err(format!("checkpoint of size {} at index {index}", checkpoint.size));
                }
                if checkpoint.root != self.tree.root() {
                    return Err("checkpoint root is not the root of the entries before it".into());
                }
                self.checkpoints.insert(checkpoint.size, checkpoint.root);
            }
            Record::Cosigned { log, .. } if *log == self.node => {
                return Err("a node does not co-sign its own log".into());
            }
            Record::Cosignature { by, .. } if *by == self.node => {
                return Err("a node does not co-sign its own log".into());
            }
            Record::Cosignature { size, root, .. } if self.checkpoints.get(size) != Some(root) => {
                return Err(format!("cosignature of a checkpoint (size {size}) this log never signed"));
            }
            Record::LogConflict { cosigned, presented, proof, .. }
                if !conflicting(cosigned, presented, proof) =>
            {
                return Err("log conflict record whose checkpoints do not conflict".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// The nodes a record names are roster members, and a peer is never the log's own node; a
    /// gap runs forwards (spec §7.2).
    fn named_parties(&self, record: &Record) -> Result<(), String> {
        let member = |what: &str, id: &NodeId| match self.roster.member(id) {
            Some(_) => Ok(()),
            None => Err(format!("its `{what}` {} is not a member of the roster", id.short())),
        };
        let peer = |what: &str, id: &NodeId| {
            member(what, id)?;
            if *id == self.node {
                return Err(format!("its `{what}` is the log's own node, not a peer"));
            }
            Ok(())
        };
        match record {
            Record::LinkDown(LinkDown { peer: p, .. })
            | Record::LinkUp { peer: p }
            | Record::ClockSkew(ClockSkew { peer: p, .. })
            | Record::Rejected { peer: p, .. }
            | Record::LinkTest { peer: p, .. } => peer("peer", p),
            Record::SequenceGap(SequenceGap { peer: p, first, last }) => {
                peer("peer", p)?;
                if *first == 0 || first > last {
                    return Err(format!(
                        "a sequence gap from {first} to {last}: it must run from 1 or more forwards"
                    ));
                }
                Ok(())
            }
            Record::DeadlineMissed(DeadlineMissed { party, .. }) => member("party", party),
            Record::Cosigned { log, .. } | Record::LogConflict { log, .. } => peer("log", log),
            Record::Cosignature { by, .. } => peer("by", by),
            _ => Ok(()),
        }
    }

    fn embedded(&self, record: &Record) -> Result<Option<Opened>, Rejection> {
        let (frame, own) = match record {
            Record::Sent { frame } => (frame, Some(true)),
            Record::Accepted { frame } => (frame, Some(false)),
            Record::Receipted { frame } => (frame, Some(true)),
            Record::Equivocation { frame, .. } => (frame, Some(false)),
            _ => return Ok(None),
        };
        let opened = message::decode_trusted(frame)?;
        let signed_by_node = opened.message.signer() == self.node;
        let kind_ok = matches!(
            (record, &opened.message),
            (Record::Sent { .. }, Message::Notice(_) | Message::Ack(_))
                | (Record::Receipted { .. }, Message::Receipt(_))
                | (Record::Accepted { .. }, Message::Notice(_) | Message::Receipt(_) | Message::Ack(_))
                | (Record::Equivocation { .. }, Message::Notice(_))
        );
        if !kind_ok {
            return Err(Rejection::field(
                "record",
                format!("{} cannot hold this message kind", record.name()),
            ));
        }
        if own != Some(signed_by_node) {
            return Err(Rejection::new(
                ErrorCode::WrongParty,
                format!(
                    "{} entry holds a message signed by {}",
                    record.name(),
                    opened.message.signer().short()
                ),
            ));
        }
        Ok(Some(opened))
    }
}

/// A message the log's own node signed carries the time of the entry that records it (spec
/// §7.1): a notice's `created_ms` and an acknowledgement's `acked_ms` that of its `sent` entry, a
/// receipt's `received_ms` that of its `receipted` entry, and a cosignature's `timestamp_s` the
/// second of its `cosigned` entry. Auditors rely on it to tell a bundle that ends before a
/// message from one that lost it (§15.6).
fn own_time(entry: &LogEntry, opened: Option<&Opened>) -> Result<(), String> {
    let t = entry.time_ms;
    let (what, signed) = match (&entry.record, opened.map(|o| &o.message)) {
        (Record::Sent { .. }, Some(Message::Notice(n))) => ("notice's created_ms", n.created_ms),
        (Record::Sent { .. }, Some(Message::Ack(a))) => ("acknowledgement's acked_ms", a.acked_ms),
        (Record::Receipted { .. }, Some(Message::Receipt(r))) => ("receipt's received_ms", r.received_ms),
        (Record::Cosigned { timestamp_s, .. }, _) => {
            if *timestamp_s != t / 1000 {
                return Err(format!(
                    "cosigned entry at {t} ms holds a cosignature of timestamp {timestamp_s} s, not that second"
                ));
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if signed != t {
        return Err(format!("{} entry at {t} ms holds a {what} of {signed}", entry.record.name()));
    }
    Ok(())
}

/// Every signature a leaf holds, checked strictly against the roster: the entry's own, the
/// embedded frame's (with every rule of spec §5.7 steps 1–7), and the note signatures and
/// cosignatures of checkpoint records. Independent of every other leaf, so an auditor checks
/// leaves in parallel while one thread follows the chain with [`Check::Chain`]. `index` is the
/// leaf's position in the log, which errors name (whatever index the leaf claims, and whether or
/// not it decodes: the chain check compares the two).
pub fn verify_leaf_signatures(
    roster: &Roster,
    network: &Hash32,
    node: &NodeId,
    index: u64,
    leaf: &[u8],
) -> Result<(), LogError> {
    let fail = |problem: String| LogError { index, problem };
    let signed: SignedEntry =
        codec::decode("log entry", leaf, MAX_LOG_ENTRY).map_err(|e| fail(e.to_string()))?;
    let entry: LogEntry =
        codec::decode("log entry", &signed.entry, MAX_LOG_ENTRY).map_err(|e| fail(e.to_string()))?;
    check_signatures(roster, network, node, &signed, &entry.record).map_err(fail)
}

fn check_signatures(
    roster: &Roster,
    network: &Hash32,
    node: &NodeId,
    signed: &SignedEntry,
    record: &Record,
) -> Result<(), String> {
    let network = *network;
    crypto::verify(node, Context::LogEntry, &signed.entry, &signed.signature)
        .map_err(|_| "entry signature does not verify".to_string())?;
    let verify = |r: Result<(), Rejection>| r.map_err(|e| e.to_string());
    match record {
        Record::Sent { frame }
        | Record::Accepted { frame }
        | Record::Receipted { frame }
        | Record::Equivocation { frame, .. } => {
            verify(message::open(frame, roster, &network).map(|_| ()))?;
        }
        Record::Checkpoint { checkpoint } => verify(checkpoint.verify(roster, &network, node))?,
        Record::Cosigned { log, checkpoint, timestamp_s, signature } => {
            verify(checkpoint.verify(roster, &network, log))?;
            let (size, root) = (checkpoint.size, checkpoint.root);
            let c = Cosignature {
                network,
                signer: *node,
                log: *log,
                size,
                root,
                timestamp_s: *timestamp_s,
                signature: *signature,
            };
            verify(c.verify(roster))?;
        }
        Record::Cosignature { by, size, root, timestamp_s, signature } => {
            let c = Cosignature {
                network,
                signer: *by,
                log: *node,
                size: *size,
                root: *root,
                timestamp_s: *timestamp_s,
                signature: *signature,
            };
            verify(c.verify(roster))?;
        }
        Record::LogConflict { log, cosigned, presented, .. } => {
            verify(cosigned.verify(roster, &network, log))?;
            verify(presented.verify(roster, &network, log))?;
        }
        Record::LinkTest { ours, theirs, .. } => {
            verify(message::open(ours, roster, &network).map(|_| ()))?;
            verify(message::open(theirs, roster, &network).map(|_| ()))?;
        }
        _ => {}
    }
    Ok(())
}

/// The structure of a link-test record of `node`'s log: two heartbeats, `ours` from `node` to
/// `peer` and `theirs` from `peer` to `node` echoing `ours`.
fn check_link_test(node: &NodeId, peer: &NodeId, ours: &[u8], theirs: &[u8]) -> Result<(), String> {
    let heartbeat = |frame: &[u8], what: &str| match message::decode_trusted(frame) {
        Ok(Opened { message: Message::Heartbeat(h), hash, .. }) => Ok((h, hash)),
        Ok(_) => Err(format!("link_test: {what} is not a heartbeat")),
        Err(e) => Err(format!("link_test: {what}: {e}")),
    };
    let (mine, my_hash) = heartbeat(ours, "ours")?;
    let (peers, _) = heartbeat(theirs, "theirs")?;
    if mine.signer != *node || mine.to != *peer {
        return Err("link_test: ours is not this node's heartbeat to the peer".into());
    }
    if peers.signer != *peer || peers.to != *node {
        return Err("link_test: theirs is not the peer's heartbeat to this node".into());
    }
    if peers.echo != my_hash {
        return Err("link_test: the peer's heartbeat does not echo this node's".into());
    }
    Ok(())
}

/// Whether `presented` contradicts `cosigned` (both of one log): the same size with another root,
/// or a larger size that `proof` does not show consistent. A smaller size proves nothing.
pub fn conflicting(cosigned: &SignedCheckpoint, presented: &SignedCheckpoint, proof: &[Hash32]) -> bool {
    match presented.size.cmp(&cosigned.size) {
        std::cmp::Ordering::Equal => presented.root != cosigned.root,
        std::cmp::Ordering::Greater => {
            !verify_consistency(cosigned.size, presented.size, &cosigned.root, &presented.root, proof)
        }
        std::cmp::Ordering::Less => false,
    }
}
