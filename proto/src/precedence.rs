//! Precedence: how urgent a notice is, which sets its deadlines and the order of transmission.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_parse() {
        assert!(Precedence::Flash < Precedence::Routine);
        assert_eq!("flash".parse::<Precedence>(), Ok(Precedence::Flash));
        assert_eq!("ROUTINE".parse::<Precedence>(), Ok(Precedence::Routine));
        assert!("urgent".parse::<Precedence>().is_err());
    }
}
