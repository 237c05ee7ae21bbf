//! The durable log on disk: redb, one table of leaves by index.
//!
//! redb gives ACID transactions with one fsync per durable commit. The writer takes every batch
//! that is waiting and commits them in **one** transaction (group commit), so throughput does not
//! collapse to one fsync per message, while the protocol core releases no receipt before the
//! commit that holds its notice has returned.
//!
//! A write that fails (a full disk, an I/O error) is not the end: the writer reports it, keeps
//! what it could not write, and tries again with backoff until it succeeds, reopening the
//! database each time (redb refuses every operation after an I/O error until it is reopened).
//! Readers share the database through one slot, so that a reopen replaces it for them too.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// Leaves to append, from the given index on.
pub type Batch = (u64, Vec<Vec<u8>>);

/// The database, shared by the writer and the readers; empty while the writer reopens it.
type Slot = Arc<Mutex<Option<Arc<Database>>>>;

/// What the writer reports: the new durable length, or why the last write failed (it retries).
pub type Written = Result<u64, String>;

/// The first and the longest wait between attempts to write after a failure.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The node's durable log.
pub struct Store {
    slot: Slot,
    path: PathBuf,
    len: u64,
}

/// A read-only handle on the store, usable while the writer runs (redb allows concurrent readers).
#[derive(Clone)]
pub struct Reader(Slot);

fn current(slot: &Slot) -> Result<Arc<Database>> {
    let db = slot.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?.clone();
    db.ok_or_else(|| {
        anyhow::anyhow!("the store is being reopened after a write error; try again in a few seconds")
    })
}

impl Reader {
    /// Every durable leaf, in order.
    pub fn leaves(&self) -> Result<Vec<Vec<u8>>> {
        let db = current(&self.0)?;
        let tx = db.begin_read()?;
        let table = tx.open_table(LOG)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            out.push(item?.1.value().to_vec());
        }
        Ok(out)
    }
}

impl Store {
    /// Opens (or creates) the store and reads every leaf, in order.
    pub fn open(path: &Path) -> Result<(Store, Vec<Vec<u8>>)> {
        create_private(path)?;
        let db = Database::create(path).with_context(|| format!("opening the store {}", path.display()))?;
        {
            let tx = db.begin_write()?;
            tx.open_table(LOG)?;
            tx.commit()?;
        }
        let leaves = all_leaves(&db)?;
        let len = leaves.len() as u64;
        let slot = Arc::new(Mutex::new(Some(Arc::new(db))));
        Ok((Store { slot, path: path.to_path_buf(), len }, leaves))
    }

    /// A read-only handle.
    pub fn reader(&self) -> Reader {
        Reader(self.slot.clone())
    }

    /// Number of durable leaves.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends leaves starting at `first_index` in one durable transaction (fsync on commit).
    pub fn append(&mut self, first_index: u64, leaves: &[Vec<u8>]) -> Result<()> {
        if first_index != self.len {
            bail!("log append at {first_index}, but the store holds {} entries", self.len);
        }
        let db = current(&self.slot)?;
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(LOG)?;
            for (i, leaf) in leaves.iter().enumerate() {
                table.insert(first_index + i as u64, leaf.as_slice())?;
            }
        }
        tx.commit()?;
        self.len += leaves.len() as u64;
        Ok(())
    }

    /// Closes the database and opens it again (after a write error, redb refuses everything
    /// until then), and learns how many leaves it really holds: a commit that reported an error
    /// may still have reached the disk.
    fn reopen(&mut self) -> Result<()> {
        let old = self.slot.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?.take();
        if let Some(mut db) = old {
            // Readers finish their reads within moments; the file closes with the last handle.
            for _ in 0..200 {
                match Arc::try_unwrap(db) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(shared) => {
                        db = shared;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
        let db = Database::create(&self.path)
            .with_context(|| format!("reopening the store {}", self.path.display()))?;
        let len = {
            let tx = db.begin_read()?;
            let table = tx.open_table(LOG)?;
            let last = table.last()?.map_or(0, |(index, _)| index.value() + 1);
            last
        };
        *self.slot.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))? = Some(Arc::new(db));
        self.len = self.len.max(len);
        Ok(())
    }

    /// Writes `leaves` from `first` on, however long it takes: on failure, reports the error
    /// through `done` (once per distinct error), waits, gathers what arrived meanwhile, reopens
    /// and tries again. Returns false if the node went away meanwhile (what was not written was
    /// never durable, so nothing of it was receipted).
    fn write_until_done(
        &mut self,
        first: u64,
        mut leaves: Vec<Vec<u8>>,
        rx: &mpsc::Receiver<Batch>,
        done: &tokio::sync::mpsc::UnboundedSender<Written>,
    ) -> bool {
        let mut wait = RETRY_FIRST;
        let mut reported: Option<String> = None;
        loop {
            // What a failed commit wrote after all is not written twice.
            let written =
                usize::try_from(self.len.saturating_sub(first)).unwrap_or(usize::MAX).min(leaves.len());
            let result = self.append(first + written as u64, &leaves[written..]);
            match result {
                Ok(()) => return done.send(Ok(self.len)).is_ok(),
                Err(e) => {
                    let detail = format!("{e:#}");
                    tracing::warn!(error = %detail, retry_in_ms = wait.as_millis() as u64, "the store failed to write");
                    if reported.as_deref() != Some(detail.as_str()) {
                        if done.send(Err(detail.clone())).is_err() {
                            return false;
                        }
                        reported = Some(detail);
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(RETRY_MAX);
                    loop {
                        match rx.try_recv() {
                            Ok((_, more)) => leaves.extend(more),
                            Err(mpsc::TryRecvError::Empty) => break,
                            Err(mpsc::TryRecvError::Disconnected) => return false,
                        }
                    }
                    if let Err(e) = self.reopen() {
                        tracing::warn!(error = %format!("{e:#}"), "the store could not be reopened");
                    }
                }
            }
        }
    }

    /// Runs the store's writer on its own thread: it takes batches `(first_index, leaves)`, groups
    /// all that are waiting into one commit, and reports the new durable length through `done`.
    /// A write error is reported and retried until the write succeeds (a full disk is an alarm,
    /// not a crash); nothing is reported durable that is not. The writer ends when the sender is
    /// dropped; joining the handle then means its store is closed (redb closes cleanly when the
    /// last handle goes, so the next start need not repair).
    pub fn spawn_writer(
        mut self,
        done: tokio::sync::mpsc::UnboundedSender<Written>,
    ) -> Result<(mpsc::Sender<Batch>, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok((first, mut leaves)) = rx.recv() {
                    while let Ok((_, more)) = rx.try_recv() {
                        leaves.extend(more);
                    }
                    if !self.write_until_done(first, leaves, &rx, &done) {
                        return;
                    }
                }
            })
            .context("starting the store writer")?;
        Ok((tx, handle))
    }
}

/// Reads the leaves of a stopped node's store without writing to it (for export): opened
/// read-only, never created, never repaired.
pub fn read_leaves(path: &Path) -> Result<Vec<Vec<u8>>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading the store {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file; it cannot be the store", path.display());
    }
    match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => all_leaves(&db),
        // A store the node did not close (it crashed, or was killed) needs redb's repair, which
        // writes. The repair runs on a private copy beside it; the store itself is not touched.
        Err(redb::DatabaseError::RepairAborted) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let copy = tempfile::Builder::new()
                .prefix(".export-")
                .suffix(".redb")
                .tempfile_in(dir)
                .with_context(|| format!("making a private copy of the store in {}", dir.display()))?;
            std::fs::copy(path, copy.path())
                .with_context(|| format!("copying the store {} to repair the copy", path.display()))?;
            let db = Database::create(copy.path())
                .with_context(|| format!("repairing a copy of the store {}", path.display()))?;
            all_leaves(&db)
        }
        Err(e) => Err(e).with_context(|| {
            format!("opening the store {} read-only (is the node still running?)", path.display())
        }),
    }
}

/// Every leaf, in order, checking that no index is missing.
fn all_leaves(db: &impl ReadableDatabase) -> Result<Vec<Vec<u8>>> {
    let tx = db.begin_read()?;
    let table = match tx.open_table(LOG) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut leaves = Vec::new();
    for (expected, item) in table.iter()?.enumerate() {
        let (index, leaf) = item?;
        if index.value() != expected as u64 {
            bail!("the store is missing log entry {expected}: it is damaged; restore it from a backup");
        }
        leaves.push(leaf.value().to_vec());
    }
    Ok(leaves)
}

/// Creates the store file 0600 before redb opens it (redb would create it under the umask), and
/// refuses an existing one that other users can read.
fn create_private(path: &Path) -> Result<()> {
    match crate::files::create_new_private(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => crate::files::check_private(path),
        Err(e) => Err(e).with_context(|| format!("creating the store {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let (mut store, leaves) = Store::open(&path).unwrap();
        assert!(leaves.is_empty());
        store.append(0, &[b"a".to_vec(), b"b".to_vec()]).unwrap();
        store.append(2, &[b"c".to_vec()]).unwrap();
        assert!(store.append(5, &[b"x".to_vec()]).is_err());
        drop(store);
        let (store, leaves) = Store::open(&path).unwrap();
        assert_eq!(leaves, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn export_reads_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let (mut store, _) = Store::open(&path).unwrap();
        store.append(0, &[b"a".to_vec(), b"b".to_vec()]).unwrap();
        drop(store);
        let before = std::fs::read(&path).unwrap();
        assert_eq!(read_leaves(&path).unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(std::fs::read(&path).unwrap(), before, "reading changed the store");
        // A store left open by a crash is read through a repaired copy; it stays as it was.
        let (mut store, _) = Store::open(&path).unwrap();
        store.append(2, &[b"c".to_vec()]).unwrap();
        // The file as a crash leaves it: copied while the store is open (never closed).
        let crashed_dir = tempfile::tempdir().unwrap();
        let crashed = crashed_dir.path().join("store.redb");
        std::fs::copy(&path, &crashed).unwrap();
        drop(store);
        let bytes = std::fs::read(&crashed).unwrap();
        assert_eq!(read_leaves(&crashed).unwrap().len(), 3);
        assert_eq!(std::fs::read(&crashed).unwrap(), bytes, "reading changed the crashed store");
        assert_eq!(std::fs::read_dir(crashed_dir.path()).unwrap().count(), 1, "the copy is gone");
        // Nothing is created where there is no store.
        let missing = dir.path().join("none.redb");
        assert!(read_leaves(&missing).is_err());
        assert!(!missing.exists());
    }
}
