//! The node directory: key, configuration, roster, store and API socket in one place.
//!
//! ```text
//! HOME/
//!   node.key       Ed25519 key, PKCS#8 PEM, mode 0600
//!   config.toml    name, listen address
//!   roster.bin     the network's roster (canonical bytes; its hash is the network id)
//!   store.redb     the durable log
//!   api.sock       the local operator API (Unix socket, mode 0600)
//!   officers.toml  the desk's officers: call signs, languages, Argon2id password hashes
//!   drafts.json    notices drafted and waiting for a second officer's release
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use hotline_proto::Roster;
use serde::{Deserialize, Serialize};

/// The node's configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's member name in the roster.
    pub name: String,
    /// UDP address to listen on for QUIC.
    pub listen: SocketAddr,
    /// Local overrides of peers' roster addresses, by member name (e.g. to reach a peer through a
    /// fault-injecting relay, or a NAT). The roster, and so the network id, is unchanged.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub peers: std::collections::BTreeMap<String, String>,
    /// Which notices need a second officer's release (spec §16.2).
    #[serde(default)]
    pub release: Release,
}

/// `[release]` of config.toml: the two-person rule of the desk (spec §16.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Notices at these precedences are sent only when an officer other than the one who drafted
    /// them releases them. Default: FLASH and IMMEDIATE, as at a watch floor where messages are
    /// checked before release; `[]` turns the rule off (test networks).
    pub second_officer: Vec<hotline_proto::Precedence>,
}

impl Default for Release {
    fn default() -> Release {
        Release {
            second_officer: vec![hotline_proto::Precedence::Flash, hotline_proto::Precedence::Immediate],
        }
    }
}

impl Release {
    /// No second officer for anything: for test networks, whose testers send alone.
    pub fn off() -> Release {
        Release { second_officer: Vec::new() }
    }

    /// Whether a notice at `precedence` needs a second officer.
    pub fn needs_second_officer(&self, precedence: hotline_proto::Precedence) -> bool {
        self.second_officer.contains(&precedence)
    }
}

/// A node directory.
#[derive(Clone, Debug)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// The directory at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("node.key")
    }

    /// Path of the configuration.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// Path of the roster.
    pub fn roster_path(&self) -> PathBuf {
        self.dir.join("roster.bin")
    }

    /// Path of the store.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store.redb")
    }

    /// Path of the officers file.
    pub fn officers_path(&self) -> PathBuf {
        self.dir.join("officers.toml")
    }

    /// Path of the drafts file.
    pub fn drafts_path(&self) -> PathBuf {
        self.dir.join("drafts.json")
    }

    /// Path of the operator API socket.
    pub fn api_path(&self) -> PathBuf {
        self.dir.join("api.sock")
    }

    /// Creates a new node directory with a fresh key. Refuses an existing key.
    pub fn init(&self, config: &Config) -> Result<SigningKey> {
        crate::files::create_private_dir(&self.dir)?;
        let key = crate::keys::generate();
        crate::keys::write(&self.key_path(), &key)?;
        self.write_config(config)?;
        Ok(key)
    }

    /// Writes the configuration.
    pub fn write_config(&self, config: &Config) -> Result<()> {
        let text = toml::to_string(config).context("encoding the configuration")?;
        crate::files::write_private(&self.config_path(), text.as_bytes())
    }

    /// Reads the configuration.
    pub fn config(&self) -> Result<Config> {
        let path = self.config_path();
        let text = crate::files::read_capped_text(&path, crate::files::MAX_CONFIG, "the configuration")
            .with_context(|| {
                format!("is {} a node directory? create one with `hotline init`", self.dir.display())
            })?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", path.display()))
    }

    /// Reads the key.
    pub fn key(&self) -> Result<SigningKey> {
        crate::keys::read(&self.key_path())
    }

    /// Reads and checks the roster.
    pub fn roster(&self) -> Result<Roster> {
        read_roster(&self.roster_path()).with_context(|| {
            format!(
                "no usable roster in {}; install one with `hotline roster install FILE`",
                self.dir.display()
            )
        })
    }

    /// Refuses a node directory that users other than the node's own can reach (the key is
    /// checked in the same way whenever it is read, [`crate::keys::read`]).
    pub fn check_private(&self) -> Result<()> {
        crate::files::check_private(&self.dir)
    }

    /// Installs `roster` as this node's roster (mode 0600, replaced atomically).
    pub fn write_roster(&self, roster: &Roster) -> Result<()> {
        crate::files::write_private(&self.roster_path(), &roster.to_bytes())
    }

    /// Everything a running node needs, checked against each other.
    pub fn load(&self) -> Result<(Config, SigningKey, Roster)> {
        let config = self.config()?;
        let key = self.key()?;
        let roster = self.roster()?;
        let id = hotline_proto::crypto::node_id(&key);
        match roster.member(&id) {
            Some(m) if m.name == config.name => Ok((config, key, roster)),
            Some(m) => {
                bail!("the roster names this node's key {:?}, but config.toml says {:?}", m.name, config.name)
            }
            None => bail!("this node's key {} is not in the roster (network {})", id, roster.network_id()),
        }
    }
}

/// Reads a roster file: its canonical bytes, strictly decoded and checked.
pub fn read_roster(path: &Path) -> Result<Roster> {
    let bytes = crate::files::read_capped(path, hotline_proto::limits::MAX_ROSTER as u64, "a roster")?;
    Roster::from_bytes(&bytes).with_context(|| format!("{} is not a valid roster", path.display()))
}
