//! # hotline-testnet
//!
//! Whole CBM hotline networks on one machine, for testers and for the project's own tests: the
//! fault-injecting UDP relay ([`relay`]), node directories and child processes
//! ([`testnet`], behind `hotline testnet`), the multi-process test harness ([`harness`]) and the
//! scenario S1 demonstration ([`demo`], behind `hotline demo`). Nodes run as real `hotline run`
//! processes: nothing here reaches into a node's memory.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod console;
pub mod demo;
pub mod flood;
pub mod harness;
pub mod processes;
pub mod procfs;
pub mod relay;
pub mod supervisor;
pub mod testnet;
