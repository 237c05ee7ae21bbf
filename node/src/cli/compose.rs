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
        media_type: media_type(path).into(),
        description: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}

/// The media type of a file by its extension: the kinds an incident's evidence comes in (video,
/// images, audio, documents, data), else `application/octet-stream`.
fn media_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "webp" => "image/webp",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn media_types_follow_the_extension() {
        let m = |p: &str| super::media_type(std::path::Path::new(p));
        assert_eq!(m("clip.MP4"), "video/mp4");
        assert_eq!(m("photo.jpeg"), "image/jpeg");
        assert_eq!(m("report.pdf"), "application/pdf");
        assert_eq!(m("no-extension"), "application/octet-stream");
    }
}
