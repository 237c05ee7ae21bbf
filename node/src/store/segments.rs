//! Old leaves moved out of redb into immutable files, so that the database stays the size of
//! the recent log, the index and the tiles (spec §6.11).
//!
//! redb keeps allocator state in memory in proportion to its file's size: about 0.3 MiB per GB
//! (measured: a node at 10 M entries, a 5.2 GB store, held 2.2 MiB more than at 10 000). Leaves
//! are 90 % of the bytes and, once indexed and tiled, are only ever read, so whole segments of
//! [`SEGMENT`] leaves are written to files of their own beside the database and deleted from it
//! (the freed pages are reused by later leaves, so the file stops growing with the log).
//!
//! A segment file is written to a temporary name, fsynced, renamed and its directory fsynced
//! *before* the transaction that deletes its leaves from the database commits; a crash between
//! the two leaves a file nobody reads, overwritten by the next attempt. The disk can lie, so
//! every leaf read back from a segment is checked against its leaf hash in the hash tiles (which
//! stay in the database) before it is served.
//!
//! Format (local storage, not part of the wire): `CBMSEG01`, the first leaf's index (u64
//! big-endian), the number of leaves `n` (u32 big-endian), `n + 1` offsets (u64 big-endian, from
//! the start of the data, the first 0, the last the data's length), then the leaves.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hotline_proto::limits::MAX_LOG_ENTRY;

/// Leaves per segment file: a multiple of the 256-hash tile width, about 2 MB of typical
/// entries, so that writing one is a few milliseconds of the writer's idle time.
pub(super) const SEGMENT: u64 = 4096;

const MAGIC: &[u8; 8] = b"CBMSEG01";
const HEADER: u64 = 8 + 8 + 4;
const OFFSETS: u64 = (SEGMENT + 1) * 8;

/// The directory of a store's segments: `store.redb` → `store.segments`.
pub(super) fn dir(store: &Path) -> PathBuf {
    store.with_extension("segments")
}

fn file(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

fn damaged(path: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "the store's segment {} is damaged ({what}); restore the node directory from a backup",
        path.display()
    )
}

/// Writes leaves `first..first + SEGMENT` as one durable segment file.
pub(super) fn write(dir: &Path, first: u64, leaves: &[Vec<u8>]) -> Result<()> {
    if !first.is_multiple_of(SEGMENT) || leaves.len() as u64 != SEGMENT {
        bail!("a segment holds {SEGMENT} leaves from a multiple of {SEGMENT}");
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let mut bytes =
        Vec::with_capacity(leaves.iter().map(Vec::len).sum::<usize>() + (HEADER + OFFSETS) as usize);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&first.to_be_bytes());
    bytes.extend_from_slice(&(SEGMENT as u32).to_be_bytes());
    let mut offset = 0u64;
    bytes.extend_from_slice(&offset.to_be_bytes());
    for leaf in leaves {
        offset += leaf.len() as u64;
        bytes.extend_from_slice(&offset.to_be_bytes());
    }
    for leaf in leaves {
        bytes.extend_from_slice(leaf);
    }
    let path = file(dir, first);
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(&bytes).with_context(|| format!("writing {}", tmp.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))?;
    Ok(())
}

/// Leaves `from..to` of the segment that starts at `first` (`first <= from <= to <=
/// first + SEGMENT`), read with bounded allocations: the offsets are checked before the data
/// is read, and no leaf may exceed the largest log entry.
pub(super) fn read(dir: &Path, first: u64, from: u64, to: u64) -> Result<Vec<Vec<u8>>> {
    if from < first || to < from || to > first + SEGMENT {
        bail!("leaves {from}..{to} are not in the segment from {first}");
    }
    let path = file(dir, first);
    let f = File::open(&path).map_err(|e| damaged(&path, format!("it cannot be opened: {e}")))?;
    let len = f.metadata().map_err(|e| damaged(&path, e))?.len();
    let mut head = [0u8; HEADER as usize];
    f.read_exact_at(&mut head, 0).map_err(|e| damaged(&path, e))?;
    if &head[..8] != MAGIC
        || head[8..16] != first.to_be_bytes()
        || head[16..20] != (SEGMENT as u32).to_be_bytes()
    {
        return Err(damaged(&path, "its header is not this segment's"));
    }
    let (lo, hi) = (from - first, to - first);
    let mut raw = vec![0u8; ((hi - lo + 1) * 8) as usize];
    f.read_exact_at(&mut raw, HEADER + lo * 8).map_err(|e| damaged(&path, e))?;
    let offsets: Vec<u64> =
        raw.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0xff; 8]))).collect();
    let data = HEADER + OFFSETS;
    let mut leaves = Vec::with_capacity(offsets.len().saturating_sub(1));
    for pair in offsets.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        if end < start || end - start > MAX_LOG_ENTRY as u64 || data.saturating_add(end) > len {
            return Err(damaged(&path, "its offsets do not fit its data"));
        }
        let mut leaf = vec![0u8; (end - start) as usize];
        f.read_exact_at(&mut leaf, data + start).map_err(|e| damaged(&path, e))?;
        leaves.push(leaf);
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(first: u64) -> Vec<Vec<u8>> {
        (first..first + SEGMENT).map(|i| i.to_be_bytes().repeat((i % 7) as usize + 1)).collect()
    }

    #[test]
    fn a_segment_reads_back_every_range_and_refuses_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir(&tmp.path().join("store.redb"));
        let all = leaves(SEGMENT);
        write(&dir, SEGMENT, &all).unwrap();
        for (from, to) in [(0, SEGMENT), (0, 1), (5, 6), (SEGMENT - 1, SEGMENT), (100, 100), (17, 3000)] {
            let got = read(&dir, SEGMENT, SEGMENT + from, SEGMENT + to).unwrap();
            assert!(got == all[from as usize..to as usize], "{from}..{to}");
        }
        assert!(read(&dir, SEGMENT, 0, 1).is_err(), "outside the segment");
        assert!(read(&dir, 0, 0, 1).is_err(), "no such file");
        let path = file(&dir, SEGMENT);
        let good = std::fs::read(&path).unwrap();
        // Another segment's header, offsets that overrun the data, a truncated file.
        let mut bad = good.clone();
        bad[15] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(read(&dir, SEGMENT, SEGMENT, SEGMENT + 1).is_err());
        let mut bad = good.clone();
        bad[(HEADER + 8 * 10) as usize] = 0xff;
        std::fs::write(&path, &bad).unwrap();
        let e = read(&dir, SEGMENT, SEGMENT, SEGMENT + 20).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(read(&dir, SEGMENT, SEGMENT + SEGMENT - 1, SEGMENT + SEGMENT).is_err());
        assert!(read(&dir, SEGMENT, SEGMENT, SEGMENT + 1).is_ok(), "the rest still reads");
    }
}
