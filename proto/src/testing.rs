//! Internals opened for the project's own tests, benchmarks and fuzz targets (feature `testing`),
//! so that they can build malformed and non-canonical inputs and read frames without a roster. Not
//! part of the API: a build that ships never enables the feature.

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
