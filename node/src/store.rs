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
    pub fn spawn_writer(
        mut self,
        done: tokio::sync::mpsc::UnboundedSender<Result<u64, String>>,
    ) -> mpsc::Sender<(u64, Vec<Vec<u8>>)> {
        let (tx, rx) = mpsc::channel::<(u64, Vec<Vec<u8>>)>();
        std::thread::Builder::new()
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
            .map_or_else(|e| tracing::error!("cannot start the store writer: {e}"), |_| ());
        tx
    }
}

/// Reads the leaves of a stopped node's store without writing to it (for export): opened
/// read-only, never created, never repaired.
pub fn read_leaves(path: &Path) -> Result<Vec<Vec<u8>>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading the store {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file; it cannot be the store", path.display());
    }
    let db = redb::ReadOnlyDatabase::open(path).with_context(|| {
        format!("opening the store {} read-only (is the node still running?)", path.display())
    })?;
    all_leaves(&db)
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
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
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
        // Nothing is created where there is no store.
        let missing = dir.path().join("none.redb");
        assert!(read_leaves(&missing).is_err());
        assert!(!missing.exists());
    }
}
