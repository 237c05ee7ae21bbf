//! Frames from peers (spec §6.2, §6.7–§6.8): verification, duplicates, equivocation, receipts,
//! acknowledgements, clock skew, and the rate-limited record of refusals.

use crate::clock::check_peer_time;
use crate::crypto::sha256;
use crate::deadline::{Deadline, Outcome};
use crate::error::{ErrorCode, Rejection};
use crate::ids::NodeId;
use crate::log::{ClockSkew, Record};
use crate::message::{self, Ack, Heartbeat, Kind, Message, MessageRef, Notice, Opened, Receipt};

use super::{Event, Node, Now, Transmit};

/// Refusals logged per peer per window; the rest are counted in the next logged one.
const REJECTS_PER_WINDOW: u32 = 16;
/// The refusal rate-limit window, in ms.
const REJECT_WINDOW_MS: u64 = 60_000;

impl Node {
    /// Handles a frame delivered by the transport from the authenticated peer `from` at `now`.
    ///
    /// Returns the refusal, if any; refusals of roster members are also logged (rate-limited) and
    /// reported as [`Event::Rejected`]. Bad input never changes any other state.
    pub fn handle_frame(&mut self, now: impl Into<Now>, from: NodeId, bytes: &[u8]) -> Result<(), Rejection> {
        let now = self.read_clocks(now.into()).wall_ms;
        if from == self.id || !self.peers.contains_key(&from) {
            // The transport admits roster members only; nothing to attribute this to.
            return Err(Rejection::new(
                ErrorCode::UnknownSigner,
                "the delivering peer is not a roster member",
            ));
        }
        let result = match message::open(bytes, &self.roster, &self.network) {
            Ok(opened) if opened.message.signer() != from => Err(Rejection::new(
                ErrorCode::SignerMismatch,
                format!("signed by {}, delivered by {}", opened.message.signer().short(), from.short()),
            )),
            // A node whose store lost what it signed signs nothing (spec §6.13): only
            // heartbeats, which sign no claim of its own, are handled; the rest is as if lost.
            Ok(opened) if self.rolled_back.is_some() && !matches!(opened.message, Message::Heartbeat(_)) => {
                Ok(())
            }
            Ok(opened) => {
                self.heard_from(now, from);
                // A notice that closed was forgotten; a frame about it (a late duplicate, an
                // acknowledgement after the deadline) brings it back from the history first.
                let about = match &opened.message {
                    Message::Notice(n) => Some(n.id()),
                    Message::Receipt(r) => Some(r.notice),
                    Message::Ack(a) => Some(a.notice),
                    Message::Checkpoint(_) | Message::Cosignature(_) | Message::Heartbeat(_) => None,
                };
                if let Some(Err(e)) = about.map(|id| self.recall(&id)) {
                    // Not handled: as if the frame were lost, the peer sends it again.
                    let after = self.log_len;
                    self.outputs.event(after, Event::HistoryUnavailable { detail: e.0 });
                    return Ok(());
                }
                match &opened.message {
                    Message::Notice(n) => self.on_notice(now, from, &opened, n),
                    Message::Receipt(r) => self.on_receipt(now, from, &opened, r),
                    Message::Ack(a) => self.on_ack(now, from, &opened, a),
                    Message::Checkpoint(c) => self.on_checkpoint(now, from, c),
                    Message::Cosignature(c) => self.on_cosignature(now, from, c),
                    Message::Heartbeat(h) => self.on_heartbeat(now, from, &opened, h),
                }
            }
            Err(rejection) => Err(rejection),
        };
        if let Err(rejection) = &result {
            // Equivocation is recorded with its evidence by `on_notice`.
            if rejection.code != ErrorCode::Equivocation {
                self.record_rejection(now, from, bytes, rejection);
            }
        }
        self.forget_closed();
        result
    }

    fn on_notice(&mut self, now: u64, from: NodeId, opened: &Opened, n: &Notice) -> Result<(), Rejection> {
        let Some(me) = n.addressee(&self.id).copied() else {
            return Err(Rejection::new(ErrorCode::NotAddressed, "this node is not an addressee"));
        };
        let id = n.id();
        if let Some(existing) = self.incoming.get(&id) {
            #[cfg(feature = "fault-injection")]
            let duplicate =
                existing.hash == opened.hash && !self.is_broken(super::BrokenRule::AcceptDuplicates);
            #[cfg(not(feature = "fault-injection"))]
            let duplicate = existing.hash == opened.hash;
            if duplicate {
                // A retransmission: answer with the original receipt, show nothing new.
                if let Some(receipt) = existing.receipt.clone() {
                    let after = self.log_len;
                    self.outputs
                        .transmit(after, Transmit { to: from, precedence: n.precedence, frame: receipt });
                }
                return Ok(());
            }
            if existing.hash != opened.hash {
                // Each piece of evidence is recorded once, within the refusal rate limit: an
                // equivocating peer retransmits its conflicting notice for ever.
                let conflicts_with = existing.hash;
                if !self.equivocations.contains(&opened.hash) && self.refusal_budget(from) {
                    self.append(now, Record::Equivocation { frame: opened.frame.clone(), conflicts_with });
                    let after = self.log_len;
                    self.outputs.event(after, Event::Equivocation { peer: from, notice: id });
                }
                return Err(Rejection::new(
                    ErrorCode::Equivocation,
                    format!(
                        "notice {} differs from the one already accepted under that id",
                        self.roster.notice_name(&id)
                    ),
                ));
            }
        }
        check_peer_time("created_ms", n.created_ms, now, self.policy())?;
        let tolerance = self.policy().max_clock_skew_ms;
        if n.created_ms > now.saturating_add(tolerance) {
            self.note_skew(now, from, offset(n.created_ms, now));
        }
        self.append(now, Record::Accepted { frame: opened.frame.clone() });
        self.issue_receipt(now, from, MessageRef { kind: Kind::Notice, hash: opened.hash }, id, n.precedence);
        let ack_due_ms = n.needs_ack_from(&self.id).then(|| Deadline::ack(self.policy(), n).due_ms());
        let event = Event::NoticeReceived {
            id,
            thread: n.thread_id(),
            kind: n.kind(),
            precedence: n.precedence,
            role: me.role,
            ack_due_ms,
        };
        let after = self.log_len;
        self.outputs.event(after, event);
        Ok(())
    }

    /// Signs a receipt for a just-accepted message, logs it, and queues it behind the log.
    fn issue_receipt(
        &mut self,
        now: u64,
        to: NodeId,
        of: MessageRef,
        notice: crate::NoticeId,
        precedence: crate::Precedence,
    ) {
        let receipt = Receipt { network: self.network, signer: self.id, of, notice, received_ms: now };
        let (frame, _) = message::seal(&self.key, Kind::Receipt, &receipt);
        self.append(now, Record::Receipted { frame: frame.clone() });
        let after = self.log_len;
        self.outputs.transmit(after, Transmit { to, precedence, frame });
    }

    fn on_receipt(&mut self, now: u64, from: NodeId, opened: &Opened, r: &Receipt) -> Result<(), Rejection> {
        let unknown =
            || Rejection::new(ErrorCode::UnknownReference, "receipt for a message this node did not send");
        match r.of.kind {
            Kind::Notice => {
                let out = self.outgoing.get(&r.notice).filter(|o| o.hash == r.of.hash).ok_or_else(unknown)?;
                let status = out.parties.get(&from).ok_or_else(|| {
                    Rejection::new(ErrorCode::WrongParty, "receipt from a node that was not addressed")
                })?;
                if status.receipt_ms.is_some() {
                    return Ok(()); // duplicate receipt
                }
                check_peer_time("received_ms", r.received_ms, now, self.policy())?;
                let late = Outcome::on_accepting(status.receipt_missed) == Outcome::Late;
                let sent_ms = out.sent_ms;
                self.check_round_trip(now, from, sent_ms, r.received_ms);
                self.append(now, Record::Accepted { frame: opened.frame.clone() });
                let after = self.log_len;
                self.outputs
                    .event(after, Event::ReceiptReceived { notice: r.notice, from, of: Kind::Notice, late });
                Ok(())
            }
            Kind::Ack => {
                let incoming = self.incoming.get(&r.notice).ok_or_else(unknown)?;
                let own = incoming.own_ack.as_ref().filter(|a| a.hash == r.of.hash).ok_or_else(unknown)?;
                if incoming.notice.sender != from {
                    return Err(Rejection::new(
                        ErrorCode::WrongParty,
                        "receipt for an ack from a node it was not sent to",
                    ));
                }
                if own.receipted {
                    return Ok(());
                }
                check_peer_time("received_ms", r.received_ms, now, self.policy())?;
                self.append(now, Record::Accepted { frame: opened.frame.clone() });
                let after = self.log_len;
                self.outputs.event(
                    after,
                    Event::ReceiptReceived { notice: r.notice, from, of: Kind::Ack, late: false },
                );
                Ok(())
            }
            Kind::Receipt | Kind::Checkpoint | Kind::Cosignature | Kind::Heartbeat => {
                Err(Rejection::field("of.kind", "only notices and acks are receipted"))
            }
        }
    }

    fn on_ack(&mut self, now: u64, from: NodeId, opened: &Opened, a: &Ack) -> Result<(), Rejection> {
        let out = self.outgoing.get(&a.notice).filter(|o| o.hash == a.notice_hash).ok_or_else(|| {
            Rejection::new(ErrorCode::UnknownReference, "ack for a notice this node did not send")
        })?;
        let precedence = out.notice.precedence;
        let status = out
            .parties
            .get(&from)
            .ok_or_else(|| Rejection::new(ErrorCode::WrongParty, "ack from a node that was not addressed"))?;
        match status.ack_hash {
            Some(hash) if hash == opened.hash => {
                if let Some(receipt) = status.ack_receipt.clone() {
                    let after = self.log_len;
                    self.outputs.transmit(after, Transmit { to: from, precedence, frame: receipt });
                }
                return Ok(());
            }
            Some(_) => {
                return Err(Rejection::field(
                    "ack",
                    "a different acknowledgement from this node was already accepted",
                ))
            }
            None => {}
        }
        check_peer_time("acked_ms", a.acked_ms, now, self.policy())?;
        let late = Outcome::on_accepting(status.ack_missed) == Outcome::Late;
        self.append(now, Record::Accepted { frame: opened.frame.clone() });
        self.issue_receipt(
            now,
            from,
            MessageRef { kind: Kind::Ack, hash: opened.hash },
            a.notice,
            precedence,
        );
        let after = self.log_len;
        let event = Event::AckReceived {
            notice: a.notice,
            from,
            disposition: a.disposition,
            operator: a.operator.clone(),
            late,
        };
        self.outputs.event(after, event);
        Ok(())
    }

    /// A peer's heartbeat (spec §6.5): it echoes one of this node's, which may complete a due
    /// link test; it states the peer's clock and what the peer co-signed of this node's log.
    fn on_heartbeat(
        &mut self,
        now: u64,
        from: NodeId,
        opened: &Opened,
        h: &Heartbeat,
    ) -> Result<(), Rejection> {
        if h.to != self.id {
            return Err(Rejection::new(ErrorCode::NotAddressed, "a heartbeat for another node"));
        }
        check_peer_time("time_ms", h.time_ms, now, self.policy())?;
        // The peer holds this node's signed checkpoint of its log: a store that lost it was
        // rolled back (spec §6.13).
        if let Some(checkpoint) = &h.cosigned {
            if self.lost(checkpoint) {
                self.stop_signing(from, checkpoint);
            }
        }
        let Some(p) = self.peers.get_mut(&from) else { return Ok(()) };
        p.echo = opened.hash;
        let echoed = p
            .heartbeats
            .iter()
            .find(|sent| sent.hash == h.echo)
            .map(|sent| (sent.time_ms, sent.frame.clone()));
        let due = p.link_test_due && self.rolled_back.is_none();
        // The peer has not heard this node's recent heartbeats (it just started or connected):
        // answer at once, echoing it, so that both ends complete their round trips now rather
        // than a heartbeat interval later. An answer echoes the peer, so it is never answered.
        if echoed.is_none() {
            self.send_heartbeat(now, from);
        }
        match echoed {
            Some((sent_ms, ours)) => {
                self.check_round_trip(now, from, sent_ms, h.time_ms);
                if due {
                    if let Some(p) = self.peers.get_mut(&from) {
                        p.link_test_due = false;
                    }
                    self.append(now, Record::LinkTest { peer: from, ours, theirs: opened.frame.clone() });
                }
            }
            None if h.time_ms > now.saturating_add(self.policy().max_clock_skew_ms) => {
                self.note_skew(now, from, offset(h.time_ms, now));
            }
            None => {}
        }
        // The peer has not co-signed this node's newest checkpoint: the offer or the cosignature
        // was lost; offer it again (answered without a new log entry if it was co-signed).
        let cosigned = h.cosigned.map_or(0, |c| c.size);
        if self.rolled_back.is_none()
            && cosigned < self.own_checkpoints.last_key_value().map_or(0, |(size, _)| *size)
        {
            self.reoffer_checkpoint(from);
        }
        Ok(())
    }

    /// Clock skew from a round trip (spec §6.9): the peer read `peer_ms` on its clock between
    /// this node's `sent_ms` and `now`, so anything outside that window, beyond the tolerance, is
    /// skew; a reading inside it clears a skew flag.
    fn check_round_trip(&mut self, now: u64, peer: NodeId, sent_ms: u64, peer_ms: u64) {
        let tolerance = self.policy().max_clock_skew_ms;
        if peer_ms.saturating_add(tolerance) < sent_ms {
            self.note_skew(now, peer, offset(peer_ms, sent_ms));
        } else if peer_ms > now.saturating_add(tolerance) {
            self.note_skew(now, peer, offset(peer_ms, now));
        } else if let Some(p) = self.peers.get_mut(&peer) {
            p.skew_ms = None;
        }
    }

    fn note_skew(&mut self, now: u64, peer: NodeId, offset_ms: i64) {
        if self.rolled_back.is_some() || self.peers.get(&peer).is_none_or(|p| p.skew_ms.is_some()) {
            return;
        }
        let skew = ClockSkew { peer, offset_ms };
        self.append(now, Record::ClockSkew(skew));
        let after = self.log_len;
        self.outputs.event(after, Event::ClockSkew(skew));
    }

    /// Takes one unit of `peer`'s refusal budget (spec §6.8); false, and counted as suppressed,
    /// when the window's budget is spent.
    fn refusal_budget(&mut self, peer: NodeId) -> bool {
        // The window runs on the monotonic clock: a wall-clock step neither extends nor resets it.
        let now = self.mono;
        let Some(p) = self.peers.get_mut(&peer) else { return false };
        let limit = &mut p.rejects;
        if now >= limit.window_start.saturating_add(REJECT_WINDOW_MS) {
            limit.window_start = now;
            limit.logged = 0;
        }
        if limit.logged >= REJECTS_PER_WINDOW {
            limit.suppressed = limit.suppressed.saturating_add(1);
            return false;
        }
        limit.logged += 1;
        true
    }

    fn record_rejection(&mut self, now: u64, peer: NodeId, bytes: &[u8], rejection: &Rejection) {
        if !self.refusal_budget(peer) {
            return;
        }
        let suppressed = self.peers.get_mut(&peer).map_or(0, |p| std::mem::take(&mut p.rejects.suppressed));
        let record = Record::Rejected {
            peer,
            code: rejection.code,
            frame_hash: sha256(bytes),
            frame_len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            suppressed,
        };
        self.append(now, record);
        let after = self.log_len;
        let event = Event::Rejected { peer, code: rejection.code, detail: rejection.detail.clone() };
        self.outputs.event(after, event);
    }
}

/// `a - b` as a signed number of ms, saturating.
fn offset(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}
