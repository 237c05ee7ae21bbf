//! The seam between the core and the key that signs for a node.
//!
//! The core never holds key material itself: it asks a [`Signer`] for Ed25519 signatures of exact
//! bytes (messages, log entries, checkpoint notes, cosignatures). The file key of today is one
//! implementation ([`ed25519_dalek::SigningKey`]); a hardware security module, a PKCS#11 token or
//! an agent holding the key in another process is another, and plugs in without touching the core.

use crate::ids::{NodeId, Sig64};

/// Signs for one node with one Ed25519 key.
///
/// Signing cannot fail as far as the core is concerned: every state change is a signed log entry,
/// so a backend that cannot sign must not let the node go on. A backend that can fail (a token
/// unplugged, an agent gone) retries or ends the process; it never returns a wrong signature.
pub trait Signer: Send {
    /// The public key, which is the node's id in the roster.
    fn public_key(&self) -> NodeId;

    /// A pure Ed25519 signature (RFC 8032) of exactly `message`.
    fn sign(&self, message: &[u8]) -> Sig64;
}

impl Signer for ed25519_dalek::SigningKey {
    fn public_key(&self) -> NodeId {
        NodeId(self.verifying_key().to_bytes())
    }

    fn sign(&self, message: &[u8]) -> Sig64 {
        Sig64(ed25519_dalek::Signer::sign(self, message).to_bytes())
    }
}

impl<S: Signer + ?Sized> Signer for Box<S> {
    fn public_key(&self) -> NodeId {
        (**self).public_key()
    }

    fn sign(&self, message: &[u8]) -> Sig64 {
        (**self).sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_key_signs_as_ed25519() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let boxed: Box<dyn Signer> = Box::new(key.clone());
        assert_eq!(boxed.public_key().0, key.verifying_key().to_bytes());
        let sig = boxed.sign(b"hotline");
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        assert!(key.verifying_key().verify_strict(b"hotline", &sig).is_ok());
    }
}
