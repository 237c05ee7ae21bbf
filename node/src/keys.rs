//! Node keys on disk: Ed25519 in PKCS#8 PEM (so `openssl pkey` reads it), mode 0600.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

/// A new random key from the operating system's generator.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// PKCS#8 v1 (RFC 5958 without the optional public key): the form `openssl genpkey -algorithm
/// ed25519` writes and every tool reads.
fn keypair_bytes(key: &SigningKey) -> ed25519_dalek::pkcs8::KeypairBytes {
    ed25519_dalek::pkcs8::KeypairBytes { secret_key: key.to_bytes(), public_key: None }
}

/// Largest key file read: a PEM key is about 120 bytes.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Writes `key` to `path` as PKCS#8 PEM with mode 0600. Refuses to overwrite a file.
pub fn write(path: &Path, key: &SigningKey) -> Result<()> {
    let pem = keypair_bytes(key).to_pkcs8_pem(Default::default()).context("encoding the key as PKCS#8")?;
    let mut file = crate::files::create_new_private(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Reads a key written by [`write`] (or by `openssl genpkey -algorithm ed25519`). Refuses a key
/// file that others can read.
pub fn read(path: &Path) -> Result<SigningKey> {
    crate::files::check_private(path)?;
    let pem = crate::files::read_capped_text(path, MAX_KEY_FILE, "a key file")?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 PKCS#8 key: {e}", path.display()))
}

/// The key's PKCS#8 DER encoding (for rustls).
pub fn pkcs8_der(key: &SigningKey) -> Result<Vec<u8>> {
    Ok(keypair_bytes(key).to_pkcs8_der().context("encoding the key as PKCS#8")?.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = generate();
        write(&path, &key).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(write(&path, &key).is_err(), "overwrote a key");
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "not PKCS#8 v1 Ed25519: {pem}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("chmod 600"));
    }
}
