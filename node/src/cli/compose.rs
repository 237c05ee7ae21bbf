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

pub(super) fn attachment(path: &Path) -> Result<hotline_proto::Attachment> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hotline_proto::Attachment {
        sha256: hotline_proto::crypto::sha256(&bytes),
        size: bytes.len() as u64,
        media_type: "application/octet-stream".into(),
        description: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}
