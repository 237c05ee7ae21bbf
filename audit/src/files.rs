//! Reading a bundle's files as the untrusted input they are (spec §15.5): an auditor reads
//! directories an adversary may have prepared, so every read is bounded by what the layout allows
//! before anything is allocated, and only regular files are read. A symlink to `/dev/zero` or a
//! FIFO is refused at once instead of growing until memory runs out or waiting forever.
//!
//! One rule for absence, stated in spec §15.5: a file the layout requires that is missing from a
//! bundle makes the bundle invalid (exit 4), as a wrong byte would; a file that is present but
//! cannot be read (permissions, an I/O error) is a failure to read (exit 1): the auditor learned
//! nothing about the bundle.

use std::fs::File;
use std::io::{BufRead, ErrorKind, Read};
use std::path::Path;

use anyhow::{Context, Result};

use crate::Invalid;

/// Opens `path` for reading without blocking on a FIFO or a device, and only if it is a regular
/// file; `what` names it in errors. `Ok(None)` if it does not exist.
fn open(path: &Path, what: &str) -> Result<Option<(File, u64)>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO opened for reading waits for a writer unless opened non-blocking; regular files
        // ignore the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {what} {}", path.display())),
    };
    #[cfg(test)]
    opened::count(path);
    let meta = file.metadata().with_context(|| format!("reading {what} {}", path.display()))?;
    if !meta.is_file() {
        return Err(Invalid(format!(
            "{what} {} is not a regular file (a bundle holds only regular files)",
            path.display()
        ))
        .into());
    }
    Ok(Some((file, meta.len())))
}

/// Reads the regular file `path`, of at most `max` bytes, whole; `what` names it in errors. A
/// missing file is [`Invalid`] (the bundle is incomplete), as is one larger than `max`.
pub fn read(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    read_optional(path, max, what)?.ok_or_else(|| {
        Invalid(format!("{what} {} is missing: the bundle is incomplete", path.display())).into()
    })
}

/// [`read`], but a missing file is `None`.
pub fn read_optional(path: &Path, max: u64, what: &str) -> Result<Option<Vec<u8>>> {
    let Some((file, len)) = open(path, what)? else { return Ok(None) };
    if len > max {
        return Err(Invalid(format!(
            "{what} {} is {len} bytes, more than it can be ({max})",
            path.display()
        ))
        .into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The file may grow while it is read: never past the bound.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(
            Invalid(format!("{what} {} grew past {max} bytes while it was read", path.display())).into()
        );
    }
    Ok(Some(bytes))
}

/// Opens the regular file `path` to be read a bounded piece at a time ([`read_line`]); a missing
/// file is [`Invalid`].
pub fn reader(path: &Path, what: &str) -> Result<std::io::BufReader<File>> {
    let (file, _) = open(path, what)?
        .ok_or_else(|| Invalid(format!("{what} {} is missing: the bundle is incomplete", path.display())))?;
    Ok(std::io::BufReader::new(file))
}

/// The next line of `reader` without its newline, at most `max` bytes (a longer one is
/// [`Invalid`] and is not read whole), or `None` at the end.
pub fn read_line(reader: &mut impl BufRead, max: u64, what: &str) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(max + 1)
        .read_until(b'\n', &mut line)
        .with_context(|| format!("reading {what}"))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() as u64 > max {
        return Err(Invalid(format!("{what}: a line longer than {max} bytes")).into());
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(r: Result<Vec<u8>>) -> String {
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<Invalid>().is_some(), "not Invalid: {e:#}");
        e.to_string()
    }

    #[test]
    fn reads_are_bounded_and_only_of_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read(&p, 5, "file").unwrap(), b"12345");
        assert!(invalid(read(&p, 4, "file")).contains("5 bytes, more than it can be (4)"));
        assert!(invalid(read(&dir.path().join("absent"), 5, "file")).contains("missing"));
        assert!(read_optional(&dir.path().join("absent"), 5, "file").unwrap().is_none());
        // A directory, a symlink to a device, a FIFO: refused at once, nothing read.
        assert!(invalid(read(dir.path(), 5, "file")).contains("not a regular file"));
        #[cfg(unix)]
        {
            let zero = dir.path().join("zero");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            assert!(invalid(read(&zero, 1 << 30, "tile")).contains("not a regular file"));
            let fifo = dir.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                assert!(invalid(read(&fifo, 5, "tile")).contains("not a regular file"));
            }
        }
    }
}

/// How many times this thread opened each bundle file: what a test of "every verdict comes from
/// the bytes verified, read once" counts.
#[cfg(test)]
pub(crate) mod opened {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    thread_local! {
        static OPENED: RefCell<BTreeMap<PathBuf, u32>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub(crate) fn count(path: &Path) {
        OPENED.with(|o| *o.borrow_mut().entry(path.to_path_buf()).or_default() += 1);
    }

    /// The counts so far, and a fresh start.
    pub(crate) fn take() -> BTreeMap<PathBuf, u32> {
        OPENED.with(|o| std::mem::take(&mut *o.borrow_mut()))
    }
}
