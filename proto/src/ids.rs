//! Fixed-size identifiers: node keys, hashes, signatures, and notice ids.
//!
//! On the wire (postcard) every fixed-size byte string is its raw bytes with no length prefix;
//! in human-readable forms (JSON, the CLI) it is lowercase hexadecimal.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::hex;

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hexadecimal.
            pub fn to_hex(&self) -> String {
                hex::encode(&self.0)
            }

            /// Parses exactly `2 * LEN` hexadecimal digits.
            pub fn from_hex(text: &str) -> Option<Self> {
                hex::decode_array(text).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_fixed(&self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_fixed(deserializer).map(Self)
            }
        }
    };
}

fixed_bytes!(
    /// A node's identity: its Ed25519 public key (RFC 8032 encoding).
    NodeId,
    32
);
fixed_bytes!(
    /// A SHA-256 digest.
    Hash32,
    32
);
fixed_bytes!(
    /// An Ed25519 signature (R ‖ S).
    Sig64,
    64
);

impl NodeId {
    /// The short printable form (first 8 hex digits) used in logs and human output.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

fn serialize_fixed<S: Serializer, const N: usize>(bytes: &[u8; N], serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&hex::encode(bytes))
    } else {
        let mut tuple = serializer.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }
}

fn deserialize_fixed<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error> {
    struct Fixed<const N: usize>;

    impl<'de, const N: usize> Visitor<'de> for Fixed<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{N} bytes ({} hexadecimal digits)", 2 * N)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<[u8; N], E> {
            hex::decode_array(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
            let mut out = [0u8; N];
            for (i, slot) in out.iter_mut().enumerate() {
                *slot = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
            }
            Ok(out)
        }
    }

    if deserializer.is_human_readable() {
        deserializer.deserialize_str(Fixed::<N>)
    } else {
        deserializer.deserialize_tuple(N, Fixed::<N>)
    }
}

/// Names a notice for ever: its sender and the sender's sequence number (from 1, no gaps, never
/// reused). Printed as `<sender-name>/<seq>` where a roster is at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NoticeId {
    /// The node that created and signed the notice.
    pub sender: NodeId,
    /// The sender's sequence number of the notice.
    pub seq: u64,
}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.sender.short(), self.seq)
    }
}
