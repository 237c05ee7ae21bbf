//! Signing, verification and hashing, with domain separation (spec §4.2).
//!
//! Every signature covers `context ‖ 0x00 ‖ bytes`, where the context names what is signed, so a
//! signature made for one purpose can never be presented as another. Verification is always
//! `verify_strict` (rejects small-order keys and non-canonical signatures).

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::signer::Signer;
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, Rejection};
use crate::ids::{Hash32, NodeId, Sig64};

/// What a signature is for. The string is part of the signed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// A notice (spec §5.2).
    Notice,
    /// A machine receipt (spec §5.5).
    Receipt,
    /// A human acknowledgement (spec §5.6).
    Ack,
    /// A log entry (spec §7).
    LogEntry,
    /// A checkpoint offered for co-signing (spec §15.4).
    Checkpoint,
    /// A co-signature sent back (spec §15.4).
    Cosignature,
    /// A heartbeat (spec §5.8).
    Heartbeat,
    /// A node's saved working set, read back at its restart (spec §6.12).
    Snapshot,
    /// The network id: the hash of the roster (not a signature context; a hash domain).
    Roster,
}

impl Context {
    /// The ASCII context string.
    pub fn label(self) -> &'static [u8] {
        match self {
            Context::Notice => b"cbm-hotline/v1/notice",
            Context::Receipt => b"cbm-hotline/v1/receipt",
            Context::Ack => b"cbm-hotline/v1/ack",
            Context::LogEntry => b"cbm-hotline/v1/log-entry",
            Context::Checkpoint => b"cbm-hotline/v1/checkpoint",
            Context::Cosignature => b"cbm-hotline/v1/cosignature",
            Context::Heartbeat => b"cbm-hotline/v1/heartbeat",
            Context::Snapshot => b"cbm-hotline/v1/snapshot",
            Context::Roster => b"cbm-hotline/v1/roster",
        }
    }
}

/// The exact bytes that are signed or hashed for `bytes` under `context`.
pub fn domain_bytes(context: Context, bytes: &[u8]) -> Vec<u8> {
    let label = context.label();
    let mut out = Vec::with_capacity(label.len() + 1 + bytes.len());
    out.extend_from_slice(label);
    out.push(0);
    out.extend_from_slice(bytes);
    out
}

/// SHA-256 of `context ‖ 0x00 ‖ bytes`: the identity of a signed body (its "message hash").
pub fn domain_hash(context: Context, bytes: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(context.label());
    h.update([0u8]);
    h.update(bytes);
    Hash32(h.finalize().into())
}

/// Plain SHA-256.
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

/// Signs `bytes` under `context`.
pub fn sign(key: &dyn Signer, context: Context, bytes: &[u8]) -> Sig64 {
    key.sign(&domain_bytes(context, bytes))
}

/// The node id of a signing key.
pub fn node_id(key: &SigningKey) -> NodeId {
    NodeId(key.verifying_key().to_bytes())
}

/// Whether `key` is a roster-worthy Ed25519 public key (spec §3): it decodes as RFC 8032 §5.1.3
/// requires, which includes a canonical encoding (`y < p`: a point also reachable as `y + p` is
/// refused, so that one key has one id), and it is not of small order.
pub fn usable_key(key: &NodeId) -> bool {
    VerifyingKey::from_bytes(&key.0)
        .is_ok_and(|k| !k.is_weak() && k.to_edwards().compress().to_bytes() == key.0)
}

/// Verifies a signature with `verify_strict`.
pub fn verify(signer: &NodeId, context: Context, bytes: &[u8], sig: &Sig64) -> Result<(), Rejection> {
    let key = VerifyingKey::from_bytes(&signer.0)
        .map_err(|_| Rejection::new(ErrorCode::BadSignature, "signer key is not a valid Ed25519 point"))?;
    let signature = ed25519_dalek::Signature::from_bytes(&sig.0);
    key.verify_strict(&domain_bytes(context, bytes), &signature)
        .map_err(|_| Rejection::new(ErrorCode::BadSignature, "signature does not verify"))
}

/// RFC 9162 leaf hash: `SHA-256(0x00 ‖ leaf)`. Log entries are the leaves (spec §7.3).
pub fn leaf_hash(leaf: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    Hash32(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_separate_domains() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let id = node_id(&key);
        let sig = sign(&key, Context::Notice, b"body");
        assert!(verify(&id, Context::Notice, b"body", &sig).is_ok());
        assert_eq!(verify(&id, Context::Receipt, b"body", &sig).unwrap_err().code, ErrorCode::BadSignature);
        assert!(verify(&id, Context::Notice, b"bodY", &sig).is_err());
        assert_ne!(domain_hash(Context::Notice, b"x"), domain_hash(Context::Ack, b"x"));
        assert_eq!(domain_hash(Context::Notice, b"x"), sha256(&domain_bytes(Context::Notice, b"x")));
    }

    #[test]
    fn rejects_small_order_key() {
        // The identity point (small order): verify_strict must refuse it whatever the signature.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let sig = Sig64([0u8; 64]);
        assert!(verify(&NodeId(identity), Context::Notice, b"", &sig).is_err());
        assert!(!usable_key(&NodeId(identity)));
    }

    /// RFC 8032 §5.1.3: decoding fails for `y >= p`. The point with `y = 3` is also encoded as
    /// `y = p + 3`, which `VerifyingKey::from_bytes` accepts; a roster must not (issue 11, item 8).
    #[test]
    fn a_key_encoded_non_canonically_is_not_usable() {
        let mut canonical = [0u8; 32];
        canonical[0] = 3;
        assert!(usable_key(&NodeId(canonical)), "y = 3 is a point of large order");
        // p + 3 = 2^255 - 16, little-endian.
        let mut alias = [0xffu8; 32];
        alias[0] = 0xf0;
        alias[31] = 0x7f;
        assert!(VerifyingKey::from_bytes(&alias).is_ok(), "the alias decodes in ed25519-dalek");
        assert!(!usable_key(&NodeId(alias)));
        assert!(usable_key(&node_id(&SigningKey::from_bytes(&[7u8; 32]))));
    }
}
