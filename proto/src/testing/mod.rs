//! For the project's own tests, benchmarks, simulator and fuzz targets (feature `testing`): the
//! shared fixtures (keys, rosters, incidents), a two-node harness in memory, and a few internals
//! so that tests can build malformed and non-canonical inputs and read frames without a roster.
//! Not part of the API: a build that ships never enables the feature.
//!
//! The harness panics where the core breaks its own contract (a fixture that does not start, a
//! log the node wrote that does not restore): in a test that is the failure to report.
#![allow(clippy::expect_used)]

pub mod desk;
pub mod fixtures;

pub use crate::node::{seal_snapshot_state, unseal_snapshot_state};
pub use desk::{Desk, Pair};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Rejection;
use crate::message::Opened;

/// The strict postcard codec (spec §4.1).
pub mod codec {
    use super::*;

    /// Encodes a value canonically.
    pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        crate::codec::encode(value)
    }

    /// Decodes strictly: bounded, no trailing bytes, canonical.
    pub fn decode<T: Serialize + DeserializeOwned>(
        what: &str,
        bytes: &[u8],
        max: usize,
    ) -> Result<T, Rejection> {
        crate::codec::decode(what, bytes, max)
    }
}

/// Decodes a frame without verifying its signature (the node uses it on its own durable log).
pub fn decode_trusted(frame_bytes: &[u8]) -> Result<Opened, Rejection> {
    crate::message::decode_trusted(frame_bytes)
}
