//! Strict postcard: the only way bytes from outside become values (spec §4.1).
//!
//! postcard is a stable format but not a canonical one (an over-long varint still decodes), so
//! decoding here also demands that re-encoding the value gives back the very same bytes. A value
//! therefore has exactly one accepted encoding, and signatures and hashes over "the bytes" and over
//! "the value" can never disagree.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ErrorCode, Rejection};

/// Encodes a value. Encoding our own in-memory values cannot fail: every type in this crate is
/// plain data that postcard supports; a failure would be a bug in this crate.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("postcard cannot encode an in-memory protocol value: {e}"),
    }
}

/// Decodes `bytes` as a `T`: no trailing bytes, no size beyond `max`, and canonical.
pub fn decode<T: Serialize + DeserializeOwned>(what: &str, bytes: &[u8], max: usize) -> Result<T, Rejection> {
    if bytes.len() > max {
        return Err(Rejection::new(
            ErrorCode::FrameTooLarge,
            format!("{what} is {} bytes, more than {max}", bytes.len()),
        ));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| Rejection::new(ErrorCode::Malformed, format!("{what} does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(Rejection::new(
            ErrorCode::Malformed,
            format!("{what} has {} trailing bytes", rest.len()),
        ));
    }
    if encode(&value) != bytes {
        return Err(Rejection::new(ErrorCode::NonCanonical, format!("{what} is not canonically encoded")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_trailing_overlong_and_oversize() {
        let bytes = encode(&(300u32, String::from("ab")));
        assert_eq!(decode::<(u32, String)>("t", &bytes, 100), Ok((300, "ab".into())));

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode::<(u32, String)>("t", &trailing, 100).unwrap_err().code, ErrorCode::Malformed);

        // 300 as a three-byte varint instead of two: decodes, but is not canonical.
        let overlong = [0xac, 0x82, 0x00, 0x02, b'a', b'b'];
        assert_eq!(decode::<(u32, String)>("t", &overlong, 100).unwrap_err().code, ErrorCode::NonCanonical);
        assert_eq!(decode::<(u32, String)>("t", &bytes, 2).unwrap_err().code, ErrorCode::FrameTooLarge);
        assert_eq!(decode::<(u32, String)>("t", &[], 100).unwrap_err().code, ErrorCode::Malformed);
    }
}
