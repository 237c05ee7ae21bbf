//! Drafted notices waiting for a second officer's release (spec §16.2), in `HOME/drafts.json`
//! (mode 0600, replaced atomically and fsynced at every change, so a drafted FLASH survives a
//! restart of the node). A draft is not signed and not in the log: it is a request held until a
//! different officer releases it, at which point it is sent like any other.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::api::{DraftInfo, SendRequest};

/// Drafts held at once: a desk's work in hand, never a queue. The file is then at most this many
/// API requests (each at most [`crate::api::MAX_REQUEST`]).
pub const MAX_DRAFTS: usize = 32;
/// Largest drafts file read, in bytes.
const MAX_FILE: u64 = (MAX_DRAFTS as u64 + 1) * crate::api::MAX_REQUEST;

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The number the next draft gets: numbers are never reused, so a release names one draft.
    next: u64,
    drafts: Vec<Held>,
}

/// A draft as stored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Held {
    draft: u64,
    drafted_by: String,
    drafted_ms: u64,
    send: SendRequest,
}

/// The drafts of a node.
pub struct Drafts {
    path: PathBuf,
    file: File,
}

/// Why a draft operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The list is full.
    #[error("this node already holds {MAX_DRAFTS} drafts: release or discard one first")]
    Full,
    /// No such draft.
    #[error("there is no draft {0} (it was released or discarded, or never existed)")]
    Unknown(u64),
}

impl Drafts {
    /// Reads `path` (a missing file: no drafts).
    pub fn load(path: &Path) -> Result<Drafts> {
        let file = if path.exists() {
            let text = crate::files::read_capped_text(path, MAX_FILE, "the drafts file")?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid drafts file", path.display()))?
        } else {
            File::default()
        };
        Ok(Drafts { path: path.to_path_buf(), file })
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.file)?;
        crate::files::write_private(&self.path, &text)
    }

    /// Holds a new draft; durable when this returns.
    pub fn add(&mut self, drafted_by: &str, drafted_ms: u64, send: SendRequest) -> Result<u64> {
        if self.file.drafts.len() >= MAX_DRAFTS {
            return Err(DraftError::Full.into());
        }
        let draft = self.file.next.max(1);
        self.file.next = draft + 1;
        self.file.drafts.push(Held { draft, drafted_by: drafted_by.to_string(), drafted_ms, send });
        if let Err(e) = self.save() {
            self.file.drafts.pop();
            return Err(e);
        }
        Ok(draft)
    }

    /// The draft numbered `draft`: who drafted it and what it sends.
    pub fn get(&self, draft: u64) -> Result<(&str, &SendRequest), DraftError> {
        self.file
            .drafts
            .iter()
            .find(|d| d.draft == draft)
            .map(|d| (d.drafted_by.as_str(), &d.send))
            .ok_or(DraftError::Unknown(draft))
    }

    /// Removes a draft (released or discarded); durable when this returns.
    pub fn remove(&mut self, draft: u64) -> Result<()> {
        let at = self.file.drafts.iter().position(|d| d.draft == draft).ok_or(DraftError::Unknown(draft))?;
        let held = self.file.drafts.remove(at);
        if let Err(e) = self.save() {
            self.file.drafts.insert(at, held);
            return Err(e);
        }
        Ok(())
    }

    /// Every draft, oldest first, as the API shows it.
    pub fn list(&self, roster: &hotline_proto::Roster) -> Vec<DraftInfo> {
        self.file
            .drafts
            .iter()
            .map(|d| DraftInfo {
                draft: d.draft,
                drafted_by: d.drafted_by.clone(),
                drafted_ms: d.drafted_ms,
                headline: crate::views::body_headline(&d.send.body, roster),
                send: d.send.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::{Body, LangText, Precedence};

    fn request() -> SendRequest {
        SendRequest {
            precedence: Precedence::Flash,
            to: vec!["bravo".into()],
            info: vec![],
            thread: None,
            in_reply_to: None,
            body: Body::Reply(vec![LangText { lang: "en".into(), text: "hello".into() }]),
        }
    }

    #[test]
    fn drafts_survive_a_restart_and_numbers_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        let mut drafts = Drafts::load(&path).unwrap();
        let one = drafts.add("duty-1", 5, request()).unwrap();
        let two = drafts.add("duty-1", 6, request()).unwrap();
        drafts.remove(two).unwrap();
        let mut again = Drafts::load(&path).unwrap();
        assert_eq!(again.get(one).unwrap().0, "duty-1");
        assert!(matches!(again.get(two), Err(DraftError::Unknown(_))));
        assert_eq!(again.add("duty-2", 7, request()).unwrap(), two + 1);
        for _ in 2..MAX_DRAFTS {
            again.add("duty-2", 8, request()).unwrap();
        }
        assert!(again.add("duty-2", 9, request()).unwrap_err().downcast_ref::<DraftError>().is_some());
    }
}
