//! # hotline-node
//!
//! The CBM hotline node: it drives the sans-IO [`hotline_proto::Node`] with real sockets (QUIC,
//! TLS 1.3 with raw public keys pinned to the roster), a real disk (redb, fsynced, group commit),
//! a real clock, and a local operator API; and the operator's commands of the `hotline` tool
//! ([`cli`]). The auditor is `hotline-audit`, testnets and the demo `hotline-testnet`.
//!
//! No protocol rule lives here: every decision is the core's; this crate moves bytes and time.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod drafts;
pub mod files;
pub mod gate;
pub mod home;
pub mod keys;
pub mod names;
pub mod officers;
pub mod sendq;
pub mod store;
pub mod transport;
pub mod views;

/// Both clocks the core needs (spec §6.9): the wall clock ([`now_ms`]) for signed times and
/// deadlines, and a monotonic clock (ms since the process first read it) for timers, so that a
/// stepped wall clock neither stalls nor hurries them.
pub fn now() -> hotline_proto::Now {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    let mono_ms = u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
    hotline_proto::Now::new(now_ms(), mono_ms)
}

/// Milliseconds since the Unix epoch, from the system clock: the only wall clock read in the
/// node.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
