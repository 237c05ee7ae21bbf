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

mod codec;
pub mod crypto;
pub mod deadline;
pub mod error;
pub mod hex;
pub mod ids;
pub mod incident;
pub mod limits;
pub mod log;
pub mod merkle;
pub mod message;
pub mod node;
pub mod note;
pub mod precedence;
pub mod roster;
pub mod signer;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use deadline::{Deadline, Outcome};
pub use error::{CommandError, ErrorCode, LogError, Rejection, StartError};
pub use ids::{Hash32, NodeId, NoticeId, Sig64};
pub use incident::Incident;
pub use log::{DeadlineKind, LogEntry, LogVerifier, Record};
pub use message::{Ack, Body, Disposition, Kind, Message, Notice, NoticeKind, Receipt, Role};
pub use node::{
    Direction, Draft, Event, LinkView, Node, NoticeView, PartyView, PersistBatch, SentThread, Transmit,
};
pub use precedence::{Filed, Lanes, Precedence};
pub use roster::{Member, Policy, Roster};
pub use signer::Signer;
pub use text::{LangText, Texts};

/// The name and version recorded in each node's `Started` log entry.
pub const SOFTWARE: &str = concat!("hotline-proto/", env!("CARGO_PKG_VERSION"));
