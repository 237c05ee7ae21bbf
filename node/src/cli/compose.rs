//! Turning command-line arguments into the parts of a notice: texts, attachments.

use std::path::Path;

use anyhow::{Context, Result};
use hotline_proto::{LangText, Texts};

use super::Invalid;

/// Parses `LANG=TEXT` arguments.
pub fn parse_texts(items: &[String]) -> Result<Texts> {
    items
        .iter()
        .map(|item| {
            let (lang, text) = item.split_once('=').ok_or_else(|| {
                Invalid(format!("{item:?} is not LANG=TEXT (e.g. en=\"Vessel confirmed civilian.\")"))
            })?;
            Ok(LangText { lang: lang.trim().to_string(), text: text.to_string() })
        })
        .collect()
}

/// An attachment's hash and size, read in pieces: a file of any size (a video) is hashed without
/// being held in memory, and only a regular file is read (a FIFO would block for ever).
pub(super) fn attachment(path: &Path) -> Result<hotline_proto::Attachment> {
    use sha2::{Digest, Sha256};
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        return Err(Invalid(format!("{} is not a regular file; attach files only", path.display())).into());
    }
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let size =
        std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hotline_proto::Attachment {
        sha256: hotline_proto::Hash32(hasher.finalize().into()),
        size,
        media_type: "application/octet-stream".into(),
        description: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}
