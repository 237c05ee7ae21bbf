//! Precedence: how urgent a notice is, which sets its deadlines and the order of transmission.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Message precedence, after ACP 127 / STANAG 4406. Wire values: FLASH 0 … ROUTINE 3.
///
/// `Ord` sorts by urgency: `Flash < Immediate < Priority < Routine`, so the smallest is sent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precedence {
    /// Handled at once, pre-empting all other traffic. Human acknowledgement by default in 10 min.
    Flash,
    /// Handled before all but FLASH. Default acknowledgement deadline 30 min.
    Immediate,
    /// Handled before ROUTINE. Default acknowledgement deadline 3 h.
    Priority,
    /// Normal traffic. Default acknowledgement deadline 6 h.
    Routine,
}

impl Precedence {
    /// All precedences, most urgent first.
    pub const ALL: [Precedence; 4] =
        [Precedence::Flash, Precedence::Immediate, Precedence::Priority, Precedence::Routine];

    /// Place in the order of handling, 0 (FLASH) to 3 (ROUTINE): the one definition of "more
    /// urgent" (spec §6.1). `Ord`, [`Lanes`] and the transport's stream priorities follow it.
    pub fn rank(self) -> usize {
        self as usize
    }

    /// The upper-case name used in messaging practice.
    pub fn name(self) -> &'static str {
        match self {
            Precedence::Flash => "FLASH",
            Precedence::Immediate => "IMMEDIATE",
            Precedence::Priority => "PRIORITY",
            Precedence::Routine => "ROUTINE",
        }
    }

    /// Whether texts must stay short ([`crate::limits::MAX_SHORT_TEXT`]) at this precedence.
    pub fn short_texts(self) -> bool {
        matches!(self, Precedence::Flash | Precedence::Immediate)
    }

    /// The per-language text bound at this precedence.
    pub fn max_text(self) -> usize {
        if self.short_texts() {
            crate::limits::MAX_SHORT_TEXT
        } else {
            crate::limits::MAX_TEXT
        }
    }
}

impl fmt::Display for Precedence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precedence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Precedence::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not a precedence (flash, immediate, priority, routine)"))
    }
}

/// What [`Lanes::push`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Filed<T> {
    /// Queued.
    Queued,
    /// Queued; this older, no more urgent item was dropped to make room.
    Displaced(T),
    /// Not queued, since every queued item is more urgent: here it is back.
    Refused(T),
}

/// Items waiting to be sent or handled, most urgent first and first in, first out within a
/// precedence, at most `capacity` of them. When full, the oldest item of the least urgent lane
/// that is no more urgent than the newcomer makes room; if every item is more urgent, the newcomer
/// is refused. (Whatever is dropped is recovered by retransmission, spec §6.3.) So a FLASH frame
/// never waits behind ROUTINE traffic, and a flood costs a fixed amount of memory.
#[derive(Debug)]
pub struct Lanes<T> {
    lanes: [VecDeque<T>; 4],
    len: usize,
    capacity: usize,
}

impl<T> Lanes<T> {
    /// Empty lanes holding at most `capacity` items in all.
    pub fn new(capacity: usize) -> Lanes<T> {
        Lanes { lanes: Default::default(), len: 0, capacity }
    }

    /// Files `item` at `precedence` (see the type's documentation for what happens when full).
    pub fn push(&mut self, precedence: Precedence, item: T) -> Filed<T> {
        let mine = precedence.rank();
        let mut filed = Filed::Queued;
        if self.len >= self.capacity {
            let victim = (mine..self.lanes.len()).rev().find(|l| !self.lanes[*l].is_empty());
            match victim.and_then(|l| self.lanes[l].pop_front()) {
                Some(dropped) => {
                    self.len -= 1;
                    filed = Filed::Displaced(dropped);
                }
                None => return Filed::Refused(item),
            }
        }
        self.lanes[mine].push_back(item);
        self.len += 1;
        filed
    }

    /// The most urgent item, oldest first within its precedence.
    pub fn pop(&mut self) -> Option<(Precedence, T)> {
        let (rank, item) = self.lanes.iter_mut().enumerate().find_map(|(i, l)| Some((i, l.pop_front()?)))?;
        self.len -= 1;
        Some((Precedence::ALL[rank], item))
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_the_order() {
        for (i, p) in Precedence::ALL.into_iter().enumerate() {
            assert_eq!(p.rank(), i);
        }
        assert!(Precedence::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lanes_urgent_first_fifo_within_and_bounded() {
        let mut q = Lanes::new(3);
        assert_eq!(q.push(Precedence::Routine, 1), Filed::Queued);
        assert_eq!(q.push(Precedence::Routine, 2), Filed::Queued);
        assert_eq!(q.push(Precedence::Flash, 3), Filed::Queued);
        assert_eq!(q.push(Precedence::Flash, 4), Filed::Displaced(1), "the oldest ROUTINE makes room");
        assert_eq!(q.push(Precedence::Immediate, 5), Filed::Displaced(2));
        assert_eq!(q.push(Precedence::Routine, 6), Filed::Refused(6), "everything queued is more urgent");
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some((Precedence::Flash, 3)));
        assert_eq!(q.pop(), Some((Precedence::Flash, 4)));
        assert_eq!(q.pop(), Some((Precedence::Immediate, 5)));
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn order_and_parse() {
        assert!(Precedence::Flash < Precedence::Routine);
        assert_eq!("flash".parse::<Precedence>(), Ok(Precedence::Flash));
        assert_eq!("ROUTINE".parse::<Precedence>(), Ok(Precedence::Routine));
        assert!("urgent".parse::<Precedence>().is_err());
    }
}
