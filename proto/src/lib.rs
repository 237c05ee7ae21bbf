//! # hotline-proto
//!
//! The sans-IO core of the CBM hotline protocol: a military-incident hotline through which
//! parties notify each other of AI incidents with signed, timestamped, deadline-bound notices.
//!
//! This crate never touches sockets, disks, threads or the system clock. Time and bytes come in as
//! arguments ([`Node::handle_frame`], [`Node::handle_timeout`], operator commands); what the node
//! must do comes out of polls ([`Node::poll_persist`], [`Node::poll_transmit`],
//! [`Node::poll_event`], [`Node::poll_timeout`]). The same code therefore runs in the real node
//! and in a deterministic simulation of a whole network with faults and crashes.
//!
//! The normative description is `spec/` at the root of the repository; section numbers in the
//! documentation here refer to it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// The modules are private: what users need is re-exported below, so the crate can rearrange its
// insides without breaking them. Five modules stay public because they are namespaces of free
// functions and constants over standard formats, not types of this protocol.
mod clock;
mod codec;
pub mod crypto;
mod deadline;
mod error;
pub mod hex;
mod history;
mod ids;
mod incident;
pub mod limits;
mod log;
pub mod merkle;
mod message;
mod node;
pub mod note;
mod precedence;
mod roster;
mod signer;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
pub mod utc;

pub use clock::{check_peer_time, future_limit_ms, TIME_FLOOR_MS};
pub use deadline::{Deadline, DeadlineKind, Outcome};
pub use error::{CommandError, ErrorCode, LogError, Rejection, StartError};
pub use history::{index_keys, History, HistoryError, IndexKeys, MemHistory, SharedHistory};
pub use ids::{Hash32, NodeId, NoticeId, Sig64};
pub use incident::{
    check_attachments, Attachment, Completeness, Domain, FailureMode, HumanControl, HumanRole, Incident,
    Location, Severity, SystemClass,
};
pub use log::{
    conflicting, Check, ClockSkew, DeadlineMissed, LinkDown, LogEntry, LogVerifier, Record, SequenceGap,
    VerifiedEntry,
};
pub use message::{
    Ack, Addressee, Body, CheckpointOffer, CodedMessage, Cosignature, Disposition, Heartbeat, Kind, Message,
    MessageRef, Notice, NoticeKind, Receipt, Role, SignedCheckpoint,
};
#[cfg(feature = "fault-injection")]
pub use node::BrokenRule;
pub use node::{
    AckView, Direction, Draft, Event, LinkView, Node, NoticeView, Now, PartyView, PersistBatch, RolledBack,
    SentThread, Transmit,
};
pub use precedence::{Filed, Lanes, Precedence};
pub use roster::{
    check_name, fingerprint, CodebookEntry, Deadlines, FingerprintLanguage, Member, Policy, Roster,
    FINGERPRINT_WORDS, MIN_CLOCK_SKEW_MS, ROSTER_FORMAT,
};
pub use signer::Signer;
pub use text::{check_lang, check_line, check_texts, LangText, Texts};

/// Bytes on the wire and on the disk: sealing values into signed frames and log entries, and
/// opening them again under a roster (spec §4, §8).
pub mod wire {
    pub use crate::log::{seal_entry, verify_leaf_signatures, SignedEntry};
    pub use crate::message::{message_hash, open, peek, seal, Frame, Opened, VERSION};
}

/// The name and version recorded in each node's `Started` log entry.
pub const SOFTWARE: &str = concat!("hotline-proto/", env!("CARGO_PKG_VERSION"));
