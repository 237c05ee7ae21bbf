//! The node's officers: the people who work its desk, each with a call sign, a language and a
//! password (Argon2id, PHC string), in `HOME/officers.toml` (mode 0600).
//!
//! The file is the one list of who may act in this node's name. The daemon reads it at each
//! decision it governs (the operator of an acknowledgement, the two officers of a release: spec
//! §10.4), so that `hotline officer add` takes effect without a restart; the console reads it to
//! log officers in. Passwords are checked here and only here.

use std::path::Path;

use anyhow::{bail, Context, Result};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// Officers one node holds at most: a desk's watch list, with room to spare; the file stays small
/// enough to read at every decision.
pub const MAX_OFFICERS: usize = 256;
/// Longest password accepted, in bytes (Argon2 takes any length; an unbounded one is only a way to
/// make the node hash megabytes).
pub const MAX_PASSWORD: usize = 1024;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 12;
/// Largest officers file read, in bytes.
const MAX_FILE: u64 = 256 * 1024;

/// One officer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Officer {
    /// The call sign: what the officer's acknowledgements carry as `operator`, what a release
    /// names. The rules of a member name (a-z, 0-9, -; spec §3.1).
    pub call_sign: String,
    /// The officer's full name, shown beside the call sign.
    #[serde(default)]
    pub name: String,
    /// The language of the officer's screens (`en`, `zh`).
    pub language: String,
    /// The password's Argon2id hash, as a PHC string.
    pub password: String,
}

/// Every officer of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Officers {
    /// In the order they were added.
    #[serde(default, rename = "officer")]
    pub officers: Vec<Officer>,
}

/// A password that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BadPassword {
    /// Too short.
    #[error("a password must have at least {MIN_PASSWORD} characters")]
    Short,
    /// Too long.
    #[error("a password may have at most {MAX_PASSWORD} bytes")]
    Long,
}

/// Checks a new password against the rules.
pub fn check_password(password: &str) -> Result<(), BadPassword> {
    if password.len() > MAX_PASSWORD {
        Err(BadPassword::Long)
    } else if password.chars().count() < MIN_PASSWORD {
        Err(BadPassword::Short)
    } else {
        Ok(())
    }
}

/// The Argon2id hash of `password` with a fresh salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// A hash no password matches, verified for unknown call signs so that a wrong call sign costs
/// the same time as a wrong password and does not tell which call signs exist.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("no officer has this password").unwrap_or_default())
}

impl Officers {
    /// Reads `path`; a missing file is a node with no officers.
    pub fn load(path: &Path) -> Result<Officers> {
        if !path.exists() {
            return Ok(Officers::default());
        }
        let text = crate::files::read_capped_text(path, MAX_FILE, "the officers file")?;
        let officers: Officers = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid officers file", path.display()))?;
        if officers.officers.len() > MAX_OFFICERS {
            bail!("{} lists more than {MAX_OFFICERS} officers", path.display());
        }
        Ok(officers)
    }

    /// Writes `path` (mode 0600, replaced atomically, fsynced).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).context("encoding the officers file")?;
        let header = "# The officers of this node (`hotline officer add|remove|passwd|list`).\n# Passwords are Argon2id hashes; the file is private to the node's user.\n\n";
        crate::files::write_private(path, format!("{header}{text}").as_bytes())
    }

    /// The officer with this call sign.
    pub fn get(&self, call_sign: &str) -> Option<&Officer> {
        self.officers.iter().find(|o| o.call_sign == call_sign)
    }

    /// Whether any officer is registered: a node with none takes acknowledgements in any name
    /// (from its command line) and can release nothing that needs a second officer.
    pub fn is_empty(&self) -> bool {
        self.officers.is_empty()
    }

    /// Adds an officer; refuses a call sign already taken, a bad one, or a full list.
    pub fn add(&mut self, call_sign: &str, name: &str, language: &str, password: &str) -> Result<()> {
        hotline_proto::check_name("call sign", call_sign).map_err(|e| crate::cli::Invalid(e.to_string()))?;
        check_password(password).map_err(|e| crate::cli::Invalid(e.to_string()))?;
        if self.get(call_sign).is_some() {
            bail!(crate::cli::Invalid(format!("there is already an officer {call_sign}")));
        }
        if self.officers.len() >= MAX_OFFICERS {
            bail!(crate::cli::Invalid(format!("a node has at most {MAX_OFFICERS} officers")));
        }
        self.officers.push(Officer {
            call_sign: call_sign.to_string(),
            name: name.to_string(),
            language: language.to_string(),
            password: hash_password(password)?,
        });
        Ok(())
    }

    /// Whether `password` is the password of `call_sign`. Takes the same time for an unknown call
    /// sign as for a wrong password.
    pub fn verify(&self, call_sign: &str, password: &str) -> Option<&Officer> {
        let officer = self.get(call_sign);
        let stored = officer.map_or(decoy(), |o| o.password.as_str());
        let good = password.len() <= MAX_PASSWORD
            && PasswordHash::new(stored)
                .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok());
        officer.filter(|_| good)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_checked_and_never_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("officers.toml");
        assert!(Officers::load(&path).unwrap().is_empty());
        let mut officers = Officers::default();
        officers.add("duty-1", "Li Wei", "zh", "correct horse battery").unwrap();
        assert!(officers.add("duty-1", "", "en", "another long password").is_err(), "a call sign twice");
        assert!(officers.add("Duty 2", "", "en", "another long password").is_err(), "a bad call sign");
        assert!(officers.add("duty-2", "", "en", "short").is_err(), "a short password");
        officers.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("correct horse"), "{text}");
        assert!(text.contains("$argon2id$"), "{text}");
        let back = Officers::load(&path).unwrap();
        assert_eq!(back, officers);
        assert_eq!(back.verify("duty-1", "correct horse battery").map(|o| o.language.as_str()), Some("zh"));
        assert!(back.verify("duty-1", "correct horse batterY").is_none());
        assert!(back.verify("nobody", "correct horse battery").is_none());
        assert!(back.verify("duty-1", &"x".repeat(MAX_PASSWORD + 1)).is_none());
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("officers.toml");
        std::fs::write(&path, "[[officer]]\ncall_sign = 3\n").unwrap();
        let e = Officers::load(&path).unwrap_err();
        assert!(format!("{e:#}").contains("not a valid officers file"), "{e:#}");
    }
}
