//! Checkpoints and cosignatures in the C2SP formats (spec §15.2–§15.3): `tlog-checkpoint` bodies,
//! `signed-note` signatures and `tlog-cosignature/v1` cosignatures, byte for byte, so that any
//! tlog tool checks a node's checkpoints and its peers' cosignatures.
//!
//! Note signatures are plain Ed25519 over the note text, as C2SP requires, not the domain-separated
//! form of spec §4.2. The two cannot be confused: every signed-note message starts with an origin
//! `cbm-hotline/<64 hex digits>/…` or the line `cosignature/v1`, and contains no NUL byte, while
//! every domain-separated message starts with `cbm-hotline/v1/<label>` followed by NUL.

use base64ct::{Base64, Encoding};
use ed25519_dalek::VerifyingKey;

use crate::signer::Signer;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::ids::{Hash32, NodeId, Sig64};
use crate::roster::Roster;

/// The signed-note key type of an Ed25519 note signature.
pub const ALG_ED25519: u8 = 0x01;
/// The signed-note key type of a `cosignature/v1` signature.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The first line of every cosigned message.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1";
/// Largest note text an auditor reads (a checkpoint with one signature per roster member).
pub const MAX_NOTE: usize = 64 * 1024;

/// The largest cosignature timestamp, as C2SP `tlog-cosignature` caps it: 2^63 − 1 seconds. A
/// larger one is out of range, whatever its signature (spec §15.3).
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// Why a note does not parse or verify.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NoteError {
    /// Not the checkpoint format.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// A signature line is malformed.
    #[error("malformed signature line: {0}")]
    BadLine(&'static str),
    /// The note is larger than [`MAX_NOTE`].
    #[error("note larger than {MAX_NOTE} bytes")]
    TooLarge,
}

/// A node's log name: `cbm-hotline/<network id, lower-case hex>/<member name>`. Unique per log,
/// and bound to the roster, so a checkpoint of one network's log is meaningless in another.
pub fn origin(network: &Hash32, name: &str) -> String {
    format!("cbm-hotline/{}/{name}", crate::hex::encode(&network.0))
}

/// The origin of `node`'s log in `roster`'s network, if it is a member.
pub fn origin_of(roster: &Roster, node: &NodeId) -> Option<String> {
    origin_in(roster, &roster.network_id(), node)
}

/// [`origin_of`] with the roster's network id already known: what every signature check on a
/// node's path uses, since computing the id encodes and hashes the whole roster (256 members:
/// more than verifying the signature itself).
pub fn origin_in(roster: &Roster, network: &Hash32, node: &NodeId) -> Option<String> {
    roster.member(node).map(|m| origin(network, &m.name))
}

/// A signed-note key id: `SHA-256(name ‖ "\n" ‖ alg ‖ key)[..4]`.
pub fn key_id(name: &str, alg: u8, key: &NodeId) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(key.0);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A checkpoint: the size and root hash of one log at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin ([`origin`]).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root of the first `size` leaves.
    pub root: Hash32,
}

impl Checkpoint {
    /// The note body: `origin\nsize\nbase64(root)\n` (no extension lines).
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, Base64::encode_string(&self.root.0))
    }

    /// Parses a note body strictly: three lines, a decimal size without leading zeros, a
    /// canonical base64 root of 32 bytes. Extension lines are refused (this protocol has none).
    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let lines: Vec<&str> = body.split_terminator('\n').collect();
        if !body.ends_with('\n') || lines.len() != 3 {
            return Err(NoteError::Malformed("expected exactly three newline-terminated lines"));
        }
        let origin = lines[0];
        if origin.is_empty() || origin.chars().any(|c| c.is_control() || c == ' ') {
            return Err(NoteError::Malformed("origin"));
        }
        let size = lines[1];
        let digits_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size: u64 = match size.parse() {
            Ok(s) if digits_ok => s,
            _ => return Err(NoteError::Malformed("size is not a decimal without leading zeros")),
        };
        let root = Base64::decode_vec(lines[2]).map_err(|_| NoteError::Malformed("root is not base64"))?;
        let root: [u8; 32] = root.try_into().map_err(|_| NoteError::Malformed("root is not 32 bytes"))?;
        let checkpoint = Checkpoint { origin: origin.to_string(), size, root: Hash32(root) };
        if checkpoint.body() != body {
            return Err(NoteError::Malformed("not in canonical form"));
        }
        Ok(checkpoint)
    }

    /// The log's signature over the body.
    pub fn sign(&self, key: &dyn Signer) -> Sig64 {
        key.sign(self.body().as_bytes())
    }

    /// Checks the log's signature (`verify_strict`).
    pub fn verify(&self, signer: &NodeId, signature: &Sig64) -> bool {
        verify_raw(signer, self.body().as_bytes(), signature)
    }

    /// What a cosigner signs: `cosignature/v1\ntime <timestamp>\n` then the body.
    pub fn cosigned_message(&self, timestamp_s: u64) -> String {
        format!("{COSIGNATURE_HEADER}\ntime {timestamp_s}\n{}", self.body())
    }

    /// A cosigner's signature, at `timestamp_s` (POSIX seconds).
    pub fn cosign(&self, key: &dyn Signer, timestamp_s: u64) -> Sig64 {
        key.sign(self.cosigned_message(timestamp_s).as_bytes())
    }

    /// Checks a cosignature (`verify_strict`).
    pub fn verify_cosignature(&self, cosigner: &NodeId, timestamp_s: u64, signature: &Sig64) -> bool {
        timestamp_s <= MAX_TIMESTAMP
            && verify_raw(cosigner, self.cosigned_message(timestamp_s).as_bytes(), signature)
    }
}

fn verify_raw(signer: &NodeId, message: &[u8], signature: &Sig64) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&signer.0) else { return false };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: [u8; 4],
    /// What follows the key id: a 64-byte signature, or 8-byte timestamp ‖ signature for a
    /// cosignature.
    pub payload: Vec<u8>,
}

impl NoteSignature {
    /// The log's own signature line.
    pub fn log(origin: &str, key: &NodeId, signature: &Sig64) -> NoteSignature {
        NoteSignature {
            name: origin.to_string(),
            key_id: key_id(origin, ALG_ED25519, key),
            payload: signature.0.to_vec(),
        }
    }

    /// A cosigner's line: the payload is the big-endian timestamp then the signature.
    pub fn cosignature(cosigner: &str, key: &NodeId, timestamp_s: u64, signature: &Sig64) -> NoteSignature {
        let mut payload = timestamp_s.to_be_bytes().to_vec();
        payload.extend_from_slice(&signature.0);
        NoteSignature {
            name: cosigner.to_string(),
            key_id: key_id(cosigner, ALG_COSIGNATURE_V1, key),
            payload,
        }
    }

    /// The line, with its newline: `— <name> base64(key id ‖ payload)`.
    pub fn line(&self) -> String {
        let mut bytes = self.key_id.to_vec();
        bytes.extend_from_slice(&self.payload);
        format!("\u{2014} {} {}\n", self.name, Base64::encode_string(&bytes))
    }

    /// For a cosignature line: the timestamp and the signature.
    pub fn timestamped(&self) -> Option<(u64, Sig64)> {
        let (ts, sig) = self.payload.split_first_chunk::<8>()?;
        Some((u64::from_be_bytes(*ts), Sig64(<[u8; 64]>::try_from(sig).ok()?)))
    }

    /// For a log signature line: the signature.
    pub fn signature(&self) -> Option<Sig64> {
        Some(Sig64(<[u8; 64]>::try_from(self.payload.as_slice()).ok()?))
    }
}

/// A checkpoint note: the body, a blank line, the signature lines.
pub fn note(checkpoint: &Checkpoint, signatures: &[NoteSignature]) -> String {
    let mut text = checkpoint.body();
    text.push('\n');
    for s in signatures {
        text.push_str(&s.line());
    }
    text
}

/// Parses a checkpoint note into its checkpoint and signature lines (verifying nothing).
pub fn parse_note(text: &str) -> Result<(Checkpoint, Vec<NoteSignature>), NoteError> {
    if text.len() > MAX_NOTE {
        return Err(NoteError::TooLarge);
    }
    let Some(split) = text.find("\n\n") else { return Err(NoteError::Malformed("no blank line")) };
    let checkpoint = Checkpoint::parse(&text[..=split])?;
    let mut signatures = Vec::new();
    for line in text[split + 2..].split_inclusive('\n') {
        let line = line.strip_suffix('\n').ok_or(NoteError::BadLine("not newline-terminated"))?;
        let rest =
            line.strip_prefix("\u{2014} ").ok_or(NoteError::BadLine("does not start with an em dash"))?;
        let (name, b64) = rest.rsplit_once(' ').ok_or(NoteError::BadLine("no key name"))?;
        let bytes = Base64::decode_vec(b64).map_err(|_| NoteError::BadLine("not base64"))?;
        if bytes.len() < 5 || name.is_empty() || name.contains(' ') {
            return Err(NoteError::BadLine("too short"));
        }
        let (id, payload) = bytes.split_at(4);
        signatures.push(NoteSignature {
            name: name.to_string(),
            key_id: [id[0], id[1], id[2], id[3]],
            payload: payload.to_vec(),
        });
    }
    if signatures.is_empty() {
        return Err(NoteError::Malformed("no signature"));
    }
    Ok((checkpoint, signatures))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> Checkpoint {
        Checkpoint { origin: origin(&Hash32([7; 32]), "alpha"), size: 12, root: Hash32([9; 32]) }
    }

    #[test]
    fn body_is_the_c2sp_form_and_parses_back() {
        let c = cp();
        let body = c.body();
        assert_eq!(
            body,
            "cbm-hotline/0707070707070707070707070707070707070707070707070707070707070707/alpha\n12\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"
        );
        assert_eq!(Checkpoint::parse(&body), Ok(c));
        for bad in [
            body.replace("\n12\n", "\n012\n"),
            body.replace("\n12\n", "\n+12\n"),
            body.replace("\n12\n", "\n\n"),
            format!("{body}extension\n"),
            body.trim_end().to_string(),
            body.replace("CQk=", "CQk"),
            body.replace("CQk=", "CQl="),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signatures_and_cosignatures_verify_and_bind_everything() {
        use ed25519_dalek::SigningKey;
        let (log, witness) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
        let (log_id, witness_id) = (crate::crypto::node_id(&log), crate::crypto::node_id(&witness));
        let c = cp();
        let sig = c.sign(&log);
        assert!(c.verify(&log_id, &sig));
        assert!(!c.verify(&witness_id, &sig));
        let other = Checkpoint { size: 13, ..c.clone() };
        assert!(!other.verify(&log_id, &sig));
        let cosig = c.cosign(&witness, 1_700_000_000);
        assert!(c.verify_cosignature(&witness_id, 1_700_000_000, &cosig));
        assert!(!c.verify_cosignature(&witness_id, 1_700_000_001, &cosig));
        assert!(!other.verify_cosignature(&witness_id, 1_700_000_000, &cosig));
        assert!(c.cosigned_message(5).starts_with("cosignature/v1\ntime 5\ncbm-hotline/"));

        let lines = [
            NoteSignature::log(&c.origin, &log_id, &sig),
            NoteSignature::cosignature("cbm-hotline/x/bravo", &witness_id, 1_700_000_000, &cosig),
        ];
        let text = note(&c, &lines);
        let (parsed, sigs) = parse_note(&text).unwrap();
        assert_eq!(parsed, c);
        assert_eq!(sigs, lines);
        assert_eq!(sigs[0].signature(), Some(sig));
        assert_eq!(sigs[1].timestamped(), Some((1_700_000_000, cosig)));
        assert!(parse_note(&text.replace('\u{2014}', "-")).is_err());
        assert!(parse_note(&c.body()).is_err());
    }
}
