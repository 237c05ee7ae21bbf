//! Local files, which are untrusted input too (spec §11.2): the one place that says how the node
//! directory and everything in it is created, checked and read.
//!
//! * The node directory is created 0700 and every file in it 0600, whatever the umask: the store
//!   holds every incident text, and only the node's own user may read it.
//! * `hotline run` refuses a directory or key that other users can reach, naming the `chmod`
//!   that fixes it.
//! * Every file is read with a size cap before parsing, and only if it is a regular file: a FIFO
//!   would block start-up for ever, a device or a sparse file of gigabytes would exhaust memory.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Largest `config.toml`, policy or fault scenario file.
pub const MAX_CONFIG: u64 = 64 * 1024;
/// Largest member card (`card.json`) or incident JSON file.
pub const MAX_JSON: u64 = 256 * 1024;

/// Creates `dir` (and its parents) and makes `dir` itself 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private (0700)", dir.display()))
}

/// Creates `path` as a new file, mode 0600 whatever the umask; fails if it exists.
pub fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `bytes` to `path` durably, mode 0600: a new file beside it, synced, then renamed over
/// `path`, so a crash leaves the old file or the new one, never a torn one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staging)
            .with_context(|| format!("creating {}", staging.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&staging, path).with_context(|| format!("replacing {}", path.display()))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Reads a regular file of at most `max` bytes; `what` names it in errors ("the roster").
pub fn read_capped(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    let meta = std::fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (a directory, FIFO or device); {what} must be a plain file",
            path.display()
        );
    }
    if meta.len() > max {
        bail!(crate::cli::Invalid(format!(
            "{} is {} bytes; {what} may be at most {max} bytes",
            path.display(),
            meta.len()
        )));
    }
    let file =
        OpenOptions::new().read(true).open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!(crate::cli::Invalid(format!(
            "{} grew past {max} bytes while being read; {what} may be at most {max} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Reads a UTF-8 text file of at most `max` bytes.
pub fn read_capped_text(path: &Path, max: u64, what: &str) -> Result<String> {
    String::from_utf8(read_capped(path, max, what)?).map_err(|_| {
        anyhow::anyhow!(crate::cli::Invalid(format!("{} is not UTF-8 text; {what} must be", path.display())))
    })
}

/// Standard input as UTF-8 text of at most `max` bytes (`--incident -`): refused, naming the
/// limit, once it is longer, without reading more than one byte past it.
pub fn read_stdin_text(max: u64, what: &str) -> Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} from standard input"))?;
    if bytes.len() as u64 > max {
        bail!(crate::cli::Invalid(format!(
            "{what} on standard input is longer than {max} bytes, the most it can be"
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(crate::cli::Invalid(format!("standard input is not UTF-8 text; {what} must be")))
    })
}

/// Refuses `path` if users other than its owner can reach it, with the command that fixes it.
pub fn check_private(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let fix = if meta.is_dir() { "700" } else { "600" };
        bail!(
            "{} is accessible to other users (mode {mode:03o}); the node refuses to run so. Fix it with `chmod {fix} {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// The first `max` characters of untrusted text, for an error message, with the length of the
/// rest: input is never echoed unbounded.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} more bytes)", &text[..at], text.len() - at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_and_dirs_ignore_a_permissive_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("home");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let file = dir.join("config.toml");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&file, b"new").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        check_private(&dir).unwrap();
        check_private(&file).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no staging file left behind");
    }

    #[test]
    fn reachable_paths_are_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = check_private(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("mode 755") && e.contains("chmod 700"), "{e}");
        let file = tmp.path().join("store.redb");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(check_private(&file).unwrap_err().to_string().contains("chmod 600"));
    }

    #[test]
    fn oversized_and_special_files_are_refused_before_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("config.toml");
        // A sparse file of 2 GiB: refused from its metadata, never read.
        std::fs::File::create(&big).unwrap().set_len(2 << 30).unwrap();
        let e = read_capped(&big, MAX_CONFIG, "the configuration").unwrap_err().to_string();
        assert!(e.contains("at most 65536 bytes"), "{e}");
        let fifo = tmp.path().join("roster.bin");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let e = read_capped(&fifo, 1024, "the roster").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(read_capped(tmp.path(), 1024, "the roster").is_err(), "a directory");
        let small = tmp.path().join("ok");
        std::fs::write(&small, "fine").unwrap();
        assert_eq!(read_capped(&small, 4, "x").unwrap(), b"fine");
        assert!(read_capped(&small, 3, "x").is_err());
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short", 10), "short");
        let long = "é".repeat(1000);
        let e = excerpt(&long, 5);
        assert!(e.starts_with("ééééé…") && e.contains("(1990 more bytes)"), "{e}");
    }
}
