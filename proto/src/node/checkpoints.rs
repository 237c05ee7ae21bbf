//! Checkpoints and co-signing between parties (spec §15.4).
//!
//! Each node signs checkpoints of its own log and offers each peer the newest with a consistency
//! proof from the largest one that peer co-signed. The peer checks the proof against the checkpoint
//! it co-signed last, co-signs, and records both in its own log; a checkpoint that contradicts a
//! co-signed one is refused and recorded with the two signed checkpoints as evidence. Once a peer
//! has co-signed, the log's owner can no longer rewrite what the checkpoint covers without the
//! peer's log proving it.

use std::collections::BTreeMap;

use crate::error::{ErrorCode, Rejection};
use crate::ids::{Hash32, NodeId, Sig64};
use crate::log::{conflicting, LogEntry, Record};
use crate::merkle::verify_consistency;
use crate::message::{self, CheckpointOffer, Cosignature, Kind, SignedCheckpoint};
use crate::note::Checkpoint;
use crate::precedence::Precedence;

use super::{Event, Node, Transmit};

/// How many of its latest checkpoints a node keeps at hand (its own, and each peer's it
/// co-signed): a cosignature or an offer that crosses a newer checkpoint on the wire is still
/// recognised, and memory does not grow with the log (spec §6.11). Older ones are in the log.
pub(super) const CHECKPOINTS_KEPT: usize = 8;

/// Keeps the newest [`CHECKPOINTS_KEPT`] entries of a map by size.
fn keep_latest<V>(map: &mut BTreeMap<u64, V>) {
    while map.len() > CHECKPOINTS_KEPT {
        map.pop_first();
    }
}

/// What one peer and this node know of each other's checkpoints.
#[derive(Default)]
pub(super) struct PeerCheckpoints {
    /// Largest size of this node's log the peer co-signed (0: none).
    pub cosigned_mine: u64,
    /// The peer's latest checkpoints this node co-signed ([`CHECKPOINTS_KEPT`]), by size, with
    /// the cosignature it gave.
    pub theirs: BTreeMap<u64, (SignedCheckpoint, u64, Sig64)>,
    /// The peer's latest checkpoints recorded as conflicting ([`CHECKPOINTS_KEPT`]): each is
    /// recorded once while it is among them.
    pub conflicts: Vec<(u64, Hash32)>,
}

impl Node {
    /// Signs a checkpoint of the log as it stands, if it grew since the last one, and offers it
    /// to every peer once it is durable. Called when the operator asks (and by an export);
    /// returns the newest checkpoint either way.
    pub fn checkpoint(&mut self, now: impl Into<super::Now>) -> Option<SignedCheckpoint> {
        let now = self.read_clocks(now.into()).wall_ms;
        let last = self.own_checkpoints.last_key_value().map(|(size, _)| *size);
        if self.rolled_back.is_some() {
            return self.own_checkpoints.last_key_value().map(|(_, c)| *c);
        }
        // The checkpoint record itself is the one entry a checkpoint never covers.
        if last.is_none_or(|size| self.log_len > size.saturating_add(1)) {
            self.sign_checkpoint(now);
        }
        self.own_checkpoints.last_key_value().map(|(_, c)| *c)
    }

    /// The checkpoint timer (spec §15.2): a checkpoint only if the log grew by something other
    /// than co-signing since the last one. Co-signing records (`checkpoint`, `cosigned`,
    /// `cosignature`) do not count, or co-signing would feed itself: each checkpoint makes every
    /// peer's log grow by a `cosigned` entry and this node's by their `cosignature` entries, which
    /// would call for the next checkpoint, for ever, on an idle network.
    pub(super) fn checkpoint_if_grown(&mut self, now: u64) {
        if self.grown_since_checkpoint {
            self.sign_checkpoint(now);
        }
    }

    fn sign_checkpoint(&mut self, now: u64) {
        let size = self.log_len;
        let root = self.tree.root();
        let Some(origin) = crate::note::origin_in(&self.roster, &self.network, &self.id) else { return };
        let signature = Checkpoint { origin, size, root }.sign(&self.key);
        let checkpoint = SignedCheckpoint { size, root, signature };
        self.append(now, Record::Checkpoint { checkpoint });
        let peers: Vec<NodeId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.offer_checkpoint(peer, checkpoint);
        }
    }

    /// Offers the newest checkpoint again to a peer that has not co-signed it: one that was
    /// unreachable when it was signed, or whose cosignature was lost. Offers are never
    /// retransmitted (spec §15.4); this is how a lost one is replaced when checkpoints are rare.
    pub(super) fn reoffer_checkpoint(&mut self, peer: NodeId) {
        let Some((_, latest)) = self.own_checkpoints.last_key_value() else { return };
        let latest = *latest;
        let cosigned = self.peers.get(&peer).map_or(u64::MAX, |p| p.checkpoints.cosigned_mine);
        if cosigned < latest.size {
            self.offer_checkpoint(peer, latest);
        }
    }

    /// Sends `checkpoint` to `peer` with a proof from what that peer last co-signed.
    fn offer_checkpoint(&mut self, peer: NodeId, checkpoint: SignedCheckpoint) {
        #[cfg(feature = "fault-injection")]
        let after = if self.is_broken(super::BrokenRule::CheckpointBeforePersist) { 0 } else { self.log_len };
        #[cfg(not(feature = "fault-injection"))]
        let after = self.log_len;
        let Some(from) = self.peers.get(&peer).map(|p| p.checkpoints.cosigned_mine) else { return };
        if from > checkpoint.size {
            return;
        }
        let proof = match self.tree.consistency_proof(from, checkpoint.size, self.history.as_deref()) {
            Ok(proof) => proof,
            Err(e) => {
                // Not offered this time; the next heartbeat round or checkpoint offers again.
                self.outputs.event(after, Event::HistoryUnavailable { detail: e.to_string() });
                return;
            }
        };
        let offer =
            CheckpointOffer { network: self.network, signer: self.id, checkpoint, proof_from: from, proof };
        let (frame, _) = message::seal(&self.key, Kind::Checkpoint, &offer);
        self.outputs.transmit(after, Transmit { to: peer, precedence: Precedence::Routine, frame });
    }

    /// A peer offers a checkpoint of its log.
    pub(super) fn on_checkpoint(
        &mut self,
        now: u64,
        from: NodeId,
        offer: &CheckpointOffer,
    ) -> Result<(), Rejection> {
        let presented = offer.checkpoint;
        let Some(peer) = self.peers.get(&from) else { return Ok(()) };
        let theirs = &peer.checkpoints.theirs;
        let latest = theirs.last_key_value().map(|(size, (c, _, _))| (*size, *c));
        // The same size co-signed before: the same root gets the same cosignature again.
        if let Some((cosigned, timestamp_s, signature)) = theirs.get(&presented.size).copied() {
            if cosigned.root == presented.root {
                self.send_cosignature(from, &cosigned, timestamp_s, signature);
                return Ok(());
            }
            return self.log_conflict(now, from, cosigned, presented, Vec::new());
        }
        match latest {
            // Older than what this node co-signed last: proves nothing; tell the peer where it is.
            Some((size, _)) if presented.size < size => {
                self.resend_latest_cosignature(from);
                Ok(())
            }
            // The proof starts elsewhere (a cosignature of ours was lost): check it against the
            // older checkpoint it starts from, if this node co-signed that one, and tell the peer
            // which one to prove from.
            Some((size, _)) if offer.proof_from != size => {
                let base = theirs.get(&offer.proof_from).map(|(c, _, _)| *c);
                if let Some(base) = base.filter(|b| conflicting(b, &presented, &offer.proof)) {
                    return self.log_conflict(now, from, base, presented, offer.proof.clone());
                }
                self.resend_latest_cosignature(from);
                Ok(())
            }
            Some((_, cosigned))
                if !verify_consistency(
                    cosigned.size,
                    presented.size,
                    &cosigned.root,
                    &presented.root,
                    &offer.proof,
                ) =>
            {
                self.log_conflict(now, from, cosigned, presented, offer.proof.clone())
            }
            // Consistent with the last one, or the first this node sees: co-sign.
            _ => {
                let timestamp_s = now / 1000;
                let Some(checkpoint) = presented.checkpoint(&self.roster, &self.network, &from) else {
                    return Ok(());
                };
                let signature = checkpoint.cosign(&self.key, timestamp_s);
                self.append(
                    now,
                    Record::Cosigned { log: from, checkpoint: presented, timestamp_s, signature },
                );
                self.send_cosignature(from, &presented, timestamp_s, signature);
                Ok(())
            }
        }
    }

    fn resend_latest_cosignature(&mut self, to: NodeId) {
        let latest = self.peers.get(&to).and_then(|p| p.checkpoints.theirs.last_key_value().map(|(_, v)| *v));
        if let Some((checkpoint, timestamp_s, signature)) = latest {
            self.send_cosignature(to, &checkpoint, timestamp_s, signature);
        }
    }

    fn send_cosignature(
        &mut self,
        to: NodeId,
        checkpoint: &SignedCheckpoint,
        timestamp_s: u64,
        signature: Sig64,
    ) {
        let cosignature = Cosignature {
            network: self.network,
            signer: self.id,
            log: to,
            size: checkpoint.size,
            root: checkpoint.root,
            timestamp_s,
            signature,
        };
        let (frame, _) = message::seal(&self.key, Kind::Cosignature, &cosignature);
        let after = self.log_len;
        self.outputs.transmit(after, Transmit { to, precedence: Precedence::Routine, frame });
    }

    fn log_conflict(
        &mut self,
        now: u64,
        from: NodeId,
        cosigned: SignedCheckpoint,
        presented: SignedCheckpoint,
        proof: Vec<Hash32>,
    ) -> Result<(), Rejection> {
        let seen = self
            .peers
            .get(&from)
            .is_some_and(|p| p.checkpoints.conflicts.contains(&(presented.size, presented.root)));
        if !seen && conflicting(&cosigned, &presented, &proof) {
            self.append(now, Record::LogConflict { log: from, cosigned, presented, proof });
            let after = self.log_len;
            self.outputs.event(
                after,
                Event::LogConflict { peer: from, cosigned_size: cosigned.size, size: presented.size },
            );
        }
        Err(Rejection::new(
            ErrorCode::InconsistentLog,
            format!(
                "checkpoint of size {} contradicts the checkpoint of size {} this node co-signed",
                presented.size, cosigned.size
            ),
        ))
    }

    /// A peer co-signed one of this node's checkpoints.
    pub(super) fn on_cosignature(
        &mut self,
        now: u64,
        from: NodeId,
        c: &Cosignature,
    ) -> Result<(), Rejection> {
        if c.log != self.id {
            return Err(Rejection::new(ErrorCode::NotAddressed, "cosignature of another node's log"));
        }
        let oldest_kept = self.own_checkpoints.first_key_value().map_or(0, |(size, _)| *size);
        match self.own_checkpoints.get(&c.size) {
            Some(own) if own.root == c.root => {}
            // Of a checkpoint older than those kept: superseded by a newer one this node offers.
            None if c.size < oldest_kept && self.own_checkpoints.len() >= CHECKPOINTS_KEPT => return Ok(()),
            _ => {
                return Err(Rejection::new(
                    ErrorCode::UnknownReference,
                    format!("cosignature of a checkpoint (size {}) this node never signed", c.size),
                ))
            }
        }
        let known = self.peers.get(&from).map_or(0, |p| p.checkpoints.cosigned_mine);
        if c.size > known {
            let record = Record::Cosignature {
                by: from,
                size: c.size,
                root: c.root,
                timestamp_s: c.timestamp_s,
                signature: c.signature,
            };
            self.append(now, record);
        }
        Ok(())
    }

    /// Applies the checkpoint records of the log, and notes whether the log grew by anything
    /// else since the last checkpoint.
    pub(super) fn apply_checkpoint_record(&mut self, entry: &LogEntry) {
        match &entry.record {
            Record::Checkpoint { .. } => self.grown_since_checkpoint = false,
            Record::Cosigned { .. } | Record::Cosignature { .. } => {}
            _ => self.grown_since_checkpoint = true,
        }
        match &entry.record {
            Record::Checkpoint { checkpoint } => {
                self.own_checkpoints.insert(checkpoint.size, *checkpoint);
                keep_latest(&mut self.own_checkpoints);
            }
            Record::Cosigned { log, checkpoint, timestamp_s, signature } => {
                if let Some(p) = self.peers.get_mut(log) {
                    p.checkpoints.theirs.insert(checkpoint.size, (*checkpoint, *timestamp_s, *signature));
                    keep_latest(&mut p.checkpoints.theirs);
                }
            }
            Record::Cosignature { by, size, .. } => {
                if let Some(p) = self.peers.get_mut(by) {
                    p.checkpoints.cosigned_mine = p.checkpoints.cosigned_mine.max(*size);
                }
            }
            Record::LogConflict { log, presented, .. } => {
                if let Some(p) = self.peers.get_mut(log) {
                    p.checkpoints.conflicts.push((presented.size, presented.root));
                    if p.checkpoints.conflicts.len() > CHECKPOINTS_KEPT {
                        p.checkpoints.conflicts.remove(0);
                    }
                }
            }
            _ => {}
        }
    }

    /// This node's latest checkpoints ([`CHECKPOINTS_KEPT`]), newest last, each with the peers
    /// that co-signed it.
    pub fn checkpoints(&self) -> Vec<(SignedCheckpoint, Vec<NodeId>)> {
        self.own_checkpoints
            .values()
            .map(|c| {
                let by = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.checkpoints.cosigned_mine >= c.size)
                    .map(|(id, _)| *id);
                (*c, by.collect())
            })
            .collect()
    }

    /// The largest checkpoint of this node's log each peer co-signed (0: none).
    pub fn cosigned_by_peers(&self) -> Vec<(NodeId, u64)> {
        self.peers.iter().map(|(id, p)| (*id, p.checkpoints.cosigned_mine)).collect()
    }

    /// The RFC 9162 root of the whole log as it stands (durable or not).
    pub fn root(&self) -> Hash32 {
        self.tree.root()
    }
}
