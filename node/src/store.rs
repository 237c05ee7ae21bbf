//! The durable log on disk: redb, one table of leaves by index.
//!
//! redb gives ACID transactions with one fsync per durable commit. The writer takes every batch
//! that is waiting and commits them in **one** transaction (group commit), so throughput does not
//! collapse to one fsync per message, while the protocol core releases no receipt before the
//! commit that holds its notice has returned.

use std::path::Path;
use std::sync::{mpsc, Arc};

use anyhow::{bail, Context, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// Leaves to append, from the given index on.
pub type Batch = (u64, Vec<Vec<u8>>);

/// The node's durable log.
pub struct Store {
    db: Arc<Database>,
    len: u64,
}

/// A read-only handle on the store, usable while the writer runs (redb allows concurrent readers).
#[derive(Clone)]
pub struct Reader(Arc<Database>);

impl Reader {
    /// Every durable leaf, in order.
    pub fn leaves(&self) -> Result<Vec<Vec<u8>>> {
        let tx = self.0.begin_read()?;
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
        Ok((Store { db: Arc::new(db), len }, leaves))
    }

    /// A read-only handle.
    pub fn reader(&self) -> Reader {
        Reader(self.db.clone())
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
        let tx = self.db.begin_write()?;
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

    /// Runs the store's writer on its own thread: it takes batches `(first_index, leaves)`, groups
    /// all that are waiting into one commit, and reports the new durable length through `done`.
    /// A write error stops the writer (and so the node): losing durability silently is not an option.
    /// The writer ends when the sender is dropped; joining the handle then means its store is
    /// closed (redb closes cleanly when the last handle goes, so the next start need not repair).
    pub fn spawn_writer(
        mut self,
        done: tokio::sync::mpsc::UnboundedSender<Result<u64, String>>,
    ) -> Result<(mpsc::Sender<Batch>, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                while let Ok((first, mut leaves)) = rx.recv() {
                    while let Ok((_, more)) = rx.try_recv() {
                        leaves.extend(more);
                    }
                    let result = self.append(first, &leaves).map(|()| self.len).map_err(|e| format!("{e:#}"));
                    let failed = result.is_err();
                    if done.send(result).is_err() || failed {
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
