//! # hotline-sim
//!
//! A deterministic simulator of a network of hotline nodes, in the manner of quinn-proto's test
//! pair and TigerBeetle's VOPR: real [`hotline_proto::Node`] state machines, a virtual clock, a
//! seeded random source, a network that loses, duplicates, delays, reorders and partitions,
//! disks whose un-synced writes vanish in a crash, crashes and restarts, and skewed clocks.
//! Invariants are checked after every step; the same seed always replays the same run.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
/// The shared fixtures live in the core's `testing` feature, so the core's tests, the fuzz targets and
/// the benchmarks build the same keys and rosters.
pub use hotline_proto::testing::fixtures;
pub mod workload;
pub mod world;

pub use world::{Faults, Sim, SimConfig, Violation};
