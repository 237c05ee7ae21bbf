//! Error codes and the typed errors of decoding, verification and operator commands.
//!
//! Every rejection of untrusted input maps to exactly one [`ErrorCode`]; the code is what a node
//! records in its log, so the numbering is part of the protocol (spec §9) and never changes.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a frame from a peer was refused. The discriminant is the wire value (spec §9).
///
/// In JSON (a `rejected` record in `log.jsonl`) a code is its name, `wrong_network`, as events,
/// the CLI and the spec say it; postcard encodes the variant's index, which the name does not
/// change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ErrorCode {
    /// The frame is longer than [`crate::limits::MAX_FRAME`].
    FrameTooLarge = 0,
    /// The bytes do not decode as the type they claim to be, or have trailing bytes.
    Malformed = 1,
    /// The bytes decode, but are not the canonical encoding of what they decode to.
    NonCanonical = 2,
    /// The frame's version is not one this node speaks.
    UnsupportedVersion = 3,
    /// The message names another network id.
    WrongNetwork = 4,
    /// The signer is not a member of the roster.
    UnknownSigner = 5,
    /// The signer is not the authenticated peer that delivered the frame.
    SignerMismatch = 6,
    /// The signature does not verify under `verify_strict`.
    BadSignature = 7,
    /// A field is out of bounds or violates a rule of the message schema.
    InvalidField = 8,
    /// This node is not an addressee of the message.
    NotAddressed = 9,
    /// Two different messages claim the same identity: proof of equivocation.
    Equivocation = 10,
    /// The message refers to a message this node does not know.
    UnknownReference = 11,
    /// The signer is not the party entitled to send this message.
    WrongParty = 12,
    /// A checkpoint is not consistent with one this node co-signed: proof of a rewritten log.
    InconsistentLog = 13,
    /// A signed time is before the protocol's floor or too far ahead of the receiver's clock
    /// (spec §6.9).
    TimeOutOfRange = 14,
}

impl ErrorCode {
    /// Every code, in the order of their numbers.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::FrameTooLarge,
        ErrorCode::Malformed,
        ErrorCode::NonCanonical,
        ErrorCode::UnsupportedVersion,
        ErrorCode::WrongNetwork,
        ErrorCode::UnknownSigner,
        ErrorCode::SignerMismatch,
        ErrorCode::BadSignature,
        ErrorCode::InvalidField,
        ErrorCode::NotAddressed,
        ErrorCode::Equivocation,
        ErrorCode::UnknownReference,
        ErrorCode::WrongParty,
        ErrorCode::InconsistentLog,
        ErrorCode::TimeOutOfRange,
    ];

    /// A stable, lowercase name, as printed by tools and used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::Malformed => "malformed",
            ErrorCode::NonCanonical => "non_canonical",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::WrongNetwork => "wrong_network",
            ErrorCode::UnknownSigner => "unknown_signer",
            ErrorCode::SignerMismatch => "signer_mismatch",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::NotAddressed => "not_addressed",
            ErrorCode::Equivocation => "equivocation",
            ErrorCode::UnknownReference => "unknown_reference",
            ErrorCode::WrongParty => "wrong_party",
            ErrorCode::InconsistentLog => "inconsistent_log",
            ErrorCode::TimeOutOfRange => "time_out_of_range",
        }
    }
}

/// A refused input: the code that goes in the log and a human explanation.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}: {detail}", code.name())]
pub struct Rejection {
    /// The protocol error code.
    pub code: ErrorCode,
    /// What exactly was wrong, for operators and auditors.
    pub detail: String,
}

impl Rejection {
    /// A rejection with the given code and explanation.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Rejection { code, detail: detail.into() }
    }

    /// An [`ErrorCode::InvalidField`] rejection naming the field.
    pub fn field(field: &str, problem: impl std::fmt::Display) -> Self {
        Rejection::new(ErrorCode::InvalidField, format!("{field}: {problem}"))
    }
}

/// Why an operator command was refused. Nothing was signed or logged.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The draft violates the schema or the network policy.
    #[error("invalid notice: {0}")]
    Invalid(Rejection),
    /// No notice with that id was received by this node.
    #[error("no notice {0} was received by this node")]
    UnknownNotice(String),
    /// This node is not an addressee entitled to acknowledge the notice.
    #[error("this node is not an action or information addressee of notice {0}")]
    NotAddressee(String),
    /// The notice was already acknowledged by this node.
    #[error("notice {0} was already acknowledged")]
    AlreadyAcknowledged(String),
    /// This node's store lost entries its peers hold its signature on (spec §6.13): it signs
    /// nothing more until the operator restores the store.
    #[error("{0}")]
    RolledBack(crate::node::RolledBack),
    /// The store's history, which the command needed, could not be read; nothing was done.
    #[error("{0}; nothing was done: try again")]
    History(#[from] crate::history::HistoryError),
}

/// Why a sequence of log entries does not verify (restore or audit).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("log entry {index}: {problem}")]
pub struct LogError {
    /// The index of the first bad entry.
    pub index: u64,
    /// What is wrong with it.
    pub problem: String,
}

/// Why a node could not start.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StartError {
    /// The roster breaks a rule of spec §3.
    #[error("the roster is invalid: {0}")]
    Roster(Rejection),
    /// The node's key is not a member of the roster.
    #[error("this node's key {0} is not a member of the roster")]
    NotMember(String),
    /// The persisted log does not verify; nothing was changed.
    #[error("the stored log does not verify: {0}; the store is damaged: the node will not serve it (restore the store from a backup)")]
    Log(LogError),
    /// The saved working set (spec §6.12) cannot be used; the log itself may be fine: start
    /// from the log alone (a full replay) instead.
    #[error("the saved working set cannot be used: {0}")]
    Snapshot(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_codes_in_number_order_none_missing() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{}", code.name());
        }
    }

    /// One spelling everywhere (issue 12, item 12: `log.jsonl` said "WrongNetwork"), and the
    /// binary encoding is the number, whatever the name.
    #[test]
    fn json_says_the_name_postcard_the_number() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.name());
            assert_eq!(crate::codec::encode(&code), vec![code as u8]);
        }
    }
}
