//! # hotline-audit
//!
//! What an auditor needs and nothing more: the audit bundle's layout (written by a node's
//! `log export`, read here), its verification with the roster's public keys alone, the
//! reconciliation of several parties' bundles, and the deadline compliance report (spec §15.5,
//! §15.6). It depends on the sans-IO core only: no network stack, no async runtime, no database,
//! so an auditor who runs no node builds and reads a small dependency tree.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod bundle;
pub mod cli;
pub mod cross;
pub mod files;
pub mod jsonl;
pub mod report;

pub use bundle::{Invalid, Manifest};

/// The auditor's wall clock, UTC ms: the present an audit is made at (a test or a simulation
/// passes its own to [`cross::load_at`] and [`report::report_at`]).
pub(crate) fn wall_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
