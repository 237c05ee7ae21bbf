//! Deadlines (spec §6.1, §6.4): when a notice's receipt and acknowledgement are due, when the
//! officer is warned, when a deadline has fallen, and whether it was met.
//!
//! This is the one place these rules are written. The core schedules and records misses with
//! them, the operator's views count down with them, the simulator checks the core against them and
//! the auditor judges the logs with them, so that none of them can drift from the others.

use serde::{Deserialize, Serialize};

use crate::message::Notice;
use crate::roster::Policy;

/// Which deadline: the machine receipt or the human acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// The machine receipt.
    Receipt,
    /// The human acknowledgement.
    Ack,
}

impl DeadlineKind {
    /// Lower-case name, as in JSON: `receipt`, `ack`.
    pub fn name(self) -> &'static str {
        match self {
            DeadlineKind::Receipt => "receipt",
            DeadlineKind::Ack => "ack",
        }
    }
}

/// One deadline of one notice. Both count from the notice's `created_ms`, on the sender's clock,
/// so that every party computes the same instant from the signed notice alone (spec §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    /// Receipt or acknowledgement.
    pub kind: DeadlineKind,
    /// The notice's creation time (UTC ms).
    pub created_ms: u64,
    /// The policy's window for the notice's precedence (ms).
    pub window_ms: u64,
}

impl Deadline {
    /// The `kind` deadline of `notice` under `policy`.
    pub fn of(policy: &Policy, notice: &Notice, kind: DeadlineKind) -> Deadline {
        let windows = policy.deadlines(notice.precedence);
        let window_ms = match kind {
            DeadlineKind::Receipt => windows.receipt_ms,
            DeadlineKind::Ack => windows.ack_ms,
        };
        Deadline { kind, created_ms: notice.created_ms, window_ms }
    }

    /// The receipt deadline of `notice`.
    pub fn receipt(policy: &Policy, notice: &Notice) -> Deadline {
        Deadline::of(policy, notice, DeadlineKind::Receipt)
    }

    /// The acknowledgement deadline of `notice`.
    pub fn ack(policy: &Policy, notice: &Notice) -> Deadline {
        Deadline::of(policy, notice, DeadlineKind::Ack)
    }

    /// When it falls (UTC ms): creation plus the window.
    pub fn due_ms(self) -> u64 {
        self.created_ms.saturating_add(self.window_ms)
    }

    /// When the operator is warned that it approaches: 80 % of the window has passed (spec §6.4).
    pub fn warning_ms(self) -> u64 {
        self.created_ms.saturating_add(self.window_ms / 5 * 4)
    }

    /// Whether it has fallen at `now`. A node records the miss at the first moment its clock
    /// reaches [`Deadline::due_ms`], so it has fallen *at* that instant, not after it.
    pub fn has_passed(self, now: u64) -> bool {
        now >= self.due_ms()
    }

    /// Milliseconds left at `now`; zero or negative once it has passed.
    pub fn left_ms(self, now: u64) -> i64 {
        let due = i128::from(self.due_ms()) - i128::from(now);
        i64::try_from(due).unwrap_or(if due < 0 { i64::MIN } else { i64::MAX })
    }
}

/// Where a deadline stands in one log (spec §6.4): it is met if the receipt or acknowledgement is
/// accepted before the miss is recorded, whatever the clock said; a miss is recorded once, and
/// what is accepted after it is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Neither accepted nor missed yet.
    Open,
    /// Accepted before any miss was recorded.
    Met,
    /// Missed, and nothing accepted since.
    Missed,
    /// Accepted after the miss was recorded.
    Late,
}

impl Outcome {
    /// The outcome from the log positions (entry indices, or any numbers in log order) of the
    /// `accepted` entry and of the `deadline_missed` entry, where there are such entries.
    pub fn of(accepted_at: Option<u64>, missed_at: Option<u64>) -> Outcome {
        match (accepted_at, missed_at) {
            (None, None) => Outcome::Open,
            (Some(_), None) => Outcome::Met,
            (None, Some(_)) => Outcome::Missed,
            (Some(accepted), Some(missed)) if accepted < missed => Outcome::Met,
            (Some(_), Some(_)) => Outcome::Late,
        }
    }

    /// The outcome of accepting now, in a log that has (`missed`) or has not recorded the miss.
    pub fn on_accepting(missed: bool) -> Outcome {
        if missed {
            Outcome::Late
        } else {
            Outcome::Met
        }
    }

    /// Whether the receipt or acknowledgement came and came in time.
    pub fn is_met(self) -> bool {
        self == Outcome::Met
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(window_ms: u64) -> Deadline {
        Deadline { kind: DeadlineKind::Ack, created_ms: 1_000, window_ms }
    }

    #[test]
    fn due_warning_and_passing() {
        let ack = d(600_000);
        assert_eq!(ack.due_ms(), 601_000);
        assert_eq!(ack.warning_ms(), 481_000);
        assert!(!ack.has_passed(600_999));
        assert!(ack.has_passed(601_000), "a deadline has fallen at its instant, as the core records it");
        assert_eq!(ack.left_ms(601_000), 0);
        assert_eq!(ack.left_ms(602_000), -1_000);
        assert_eq!(d(u64::MAX).due_ms(), u64::MAX);
    }

    #[test]
    fn met_means_accepted_before_the_miss_is_recorded() {
        assert_eq!(Outcome::of(None, None), Outcome::Open);
        assert_eq!(Outcome::of(Some(7), None), Outcome::Met);
        assert_eq!(Outcome::of(None, Some(7)), Outcome::Missed);
        assert_eq!(Outcome::of(Some(6), Some(7)), Outcome::Met);
        assert_eq!(Outcome::of(Some(8), Some(7)), Outcome::Late);
        assert_eq!(Outcome::on_accepting(false), Outcome::Met);
        assert_eq!(Outcome::on_accepting(true), Outcome::Late);
    }
}
