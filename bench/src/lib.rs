//! # hotline-bench
//!
//! `hotline bench`: the end-to-end benchmarks of `BENCHMARKS.md` ([`run`]), the SVG plots they
//! draw ([`plot`]) and synthetic logs of any size for the audit and recovery benchmarks
//! ([`synthetic`]). Results of reference runs stay in this directory beside the code.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod console;
mod flood;
mod floors;
pub mod history;
mod net;
pub mod plot;
mod report;
mod run;
pub mod synthetic;

pub use run::{run, BenchArgs};
