//! Outputs held back until the log entries they depend on are durable (spec §6.2, rule W).
//!
//! Every transmit and every operator event is tagged with the log length at the moment it was
//! produced; it is released only when the I/O layer reports at least that many entries durable.
//! So no receipt leaves a node before its notice is stored, no notice leaves before the record that
//! fixes its sequence number is stored, and no operator sees what a crash could take back.

use std::collections::VecDeque;

use crate::ids::NodeId;
use crate::precedence::{Lanes, Precedence};

use super::Event;

/// Bytes to send to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The peer.
    pub to: NodeId,
    /// The precedence of the notice the frame concerns; more urgent frames are polled first and
    /// the transport should send them first (stream priority).
    pub precedence: Precedence,
    /// The frame bytes.
    pub frame: Vec<u8>,
}

/// Log entries to make durable, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistBatch {
    /// Index of the first leaf.
    pub first_index: u64,
    /// Leaf bytes (canonical signed entries), in index order.
    pub leaves: Vec<Vec<u8>>,
    /// The node's state after these leaves (spec §6.12), now and then: write it in the same
    /// transaction, replacing the previous one, and hand it to [`super::Node::resume`] at the
    /// next start.
    pub snapshot: Option<Vec<u8>>,
}

/// The gated output queues.
pub(super) struct Outputs {
    gated_transmits: VecDeque<(u64, Transmit)>,
    gated_events: VecDeque<(u64, Event)>,
    ready_transmits: Lanes<Transmit>,
    ready_events: VecDeque<Event>,
    /// Entries known durable: output that depends on no more than these is ready at once.
    durable: u64,
    /// Test-only fault: release transmits without waiting for durability.
    pub(super) ungated_transmits: bool,
}

impl Default for Outputs {
    fn default() -> Outputs {
        Outputs {
            gated_transmits: VecDeque::new(),
            gated_events: VecDeque::new(),
            // Unbounded here: what the core produces, the I/O layer must take (its own queues
            // are the bounded ones).
            ready_transmits: Lanes::new(usize::MAX),
            ready_events: VecDeque::new(),
            durable: 0,
            ungated_transmits: false,
        }
    }
}

impl Outputs {
    pub(super) fn transmit(&mut self, after: u64, transmit: Transmit) {
        if self.ungated_transmits || after <= self.durable {
            self.ready_transmits.push(transmit.precedence, transmit);
        } else {
            self.gated_transmits.push_back((after, transmit));
        }
    }

    pub(super) fn event(&mut self, after: u64, event: Event) {
        if after <= self.durable && self.gated_events.is_empty() {
            self.ready_events.push_back(event);
        } else {
            self.gated_events.push_back((after, event));
        }
    }

    /// Releases everything that depends only on the first `durable` entries.
    pub(super) fn release(&mut self, durable: u64) {
        self.durable = self.durable.max(durable);
        while self.gated_transmits.front().is_some_and(|(after, _)| *after <= durable) {
            if let Some((_, transmit)) = self.gated_transmits.pop_front() {
                self.ready_transmits.push(transmit.precedence, transmit);
            }
        }
        while self.gated_events.front().is_some_and(|(after, _)| *after <= durable) {
            if let Some((_, event)) = self.gated_events.pop_front() {
                self.ready_events.push_back(event);
            }
        }
    }

    pub(super) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ready_transmits.pop().map(|(_, t)| t)
    }

    pub(super) fn poll_event(&mut self) -> Option<Event> {
        self.ready_events.pop_front()
    }
}
