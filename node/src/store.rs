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
//!
//! Beside the leaves, the same transaction writes the history's index (spec §6.11): the entries
//! by the notice they concern, the notices by thread, and the notices received, each key from
//! [`hotline_proto::index_keys`]. The core reads what it forgot through [`Reader`], which is its
//! [`History`]; an index that lags the leaves (a store written before the index existed) is
//! completed when the store opens.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hotline_proto::{index_keys, History, HistoryError, NodeId, NoticeId};
use redb::{Database, MultimapTableDefinition, ReadableDatabase, ReadableTable, TableDefinition};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Notice key → the indexes of the entries about it.
const ABOUT: MultimapTableDefinition<&[u8], u64> = MultimapTableDefinition::new("about");
/// Thread key → the keys of its notices.
const THREADS: MultimapTableDefinition<&[u8], &[u8]> = MultimapTableDefinition::new("threads");
/// Index of an `accepted` entry of a notice → the notice key.
const RECEIVED: TableDefinition<u64, &[u8]> = TableDefinition::new("received");
/// `"indexed"`: how many leaves the index covers.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// A notice id as an index key: the sender's key, then the sequence number big-endian.
fn notice_key(id: &NoticeId) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(id.sender.as_bytes());
    key[32..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

fn notice_of_key(key: &[u8]) -> Option<NoticeId> {
    let sender: [u8; 32] = key.get(..32)?.try_into().ok()?;
    let seq: [u8; 8] = key.get(32..40)?.try_into().ok()?;
    (key.len() == 40).then(|| NoticeId { sender: NodeId(sender), seq: u64::from_be_bytes(seq) })
}

/// Indexes leaves `first..` in a write transaction (the one that appends them).
fn index(tx: &redb::WriteTransaction, first: u64, leaves: &[Vec<u8>]) -> Result<()> {
    let mut about = tx.open_multimap_table(ABOUT)?;
    let mut threads = tx.open_multimap_table(THREADS)?;
    let mut received = tx.open_table(RECEIVED)?;
    for (i, leaf) in leaves.iter().enumerate() {
        let at = first + i as u64;
        let keys = index_keys(leaf);
        let Some(notice) = keys.notice else { continue };
        let key = notice_key(&notice);
        about.insert(key.as_slice(), at)?;
        if let Some(thread) = keys.thread {
            threads.insert(notice_key(&thread).as_slice(), key.as_slice())?;
        }
        if keys.received {
            received.insert(at, key.as_slice())?;
        }
    }
    tx.open_table(META)?.insert("indexed", first + leaves.len() as u64)?;
    Ok(())
}

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

fn unreadable(e: impl std::fmt::Display) -> HistoryError {
    HistoryError(e.to_string())
}

impl History for Reader {
    fn about(&self, notice: &NoticeId) -> Result<Vec<Vec<u8>>, HistoryError> {
        let db = current(&self.0).map_err(unreadable)?;
        let tx = db.begin_read().map_err(unreadable)?;
        let about = tx.open_multimap_table(ABOUT).map_err(unreadable)?;
        let log = tx.open_table(LOG).map_err(unreadable)?;
        let mut leaves = Vec::new();
        for at in about.get(notice_key(notice).as_slice()).map_err(unreadable)? {
            let at = at.map_err(unreadable)?.value();
            let leaf = log.get(at).map_err(unreadable)?.ok_or_else(|| {
                HistoryError(format!("the index names log entry {at}, which the store lacks"))
            })?;
            leaves.push(leaf.value().to_vec());
        }
        Ok(leaves)
    }

    fn thread(&self, thread: &NoticeId) -> Result<Vec<NoticeId>, HistoryError> {
        let db = current(&self.0).map_err(unreadable)?;
        let tx = db.begin_read().map_err(unreadable)?;
        let threads = tx.open_multimap_table(THREADS).map_err(unreadable)?;
        let mut ids = Vec::new();
        for key in threads.get(notice_key(thread).as_slice()).map_err(unreadable)? {
            let key = key.map_err(unreadable)?;
            ids.extend(notice_of_key(key.value()));
        }
        Ok(ids)
    }

    fn received(&self, before: Option<u64>, limit: usize) -> Result<Vec<(u64, NoticeId)>, HistoryError> {
        let db = current(&self.0).map_err(unreadable)?;
        let tx = db.begin_read().map_err(unreadable)?;
        let received = tx.open_table(RECEIVED).map_err(unreadable)?;
        let mut page = Vec::new();
        for item in received.range(..before.unwrap_or(u64::MAX)).map_err(unreadable)?.rev().take(limit) {
            let (at, key) = item.map_err(unreadable)?;
            page.extend(notice_of_key(key.value()).map(|id| (at.value(), id)));
        }
        Ok(page)
    }
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
        let leaves = all_leaves(&db)?;
        let len = leaves.len() as u64;
        {
            // Creates the tables, and completes an index that lags the leaves.
            let tx = db.begin_write()?;
            tx.open_table(LOG)?;
            let indexed = tx.open_table(META)?.get("indexed")?.map_or(0, |v| v.value()).min(len);
            let first = usize::try_from(indexed).unwrap_or(usize::MAX).min(leaves.len());
            index(&tx, indexed, &leaves[first..])?;
            tx.commit()?;
        }
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
        index(&tx, first_index, leaves)?;
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

    /// The store's index answers as the history in memory does (the model), for a real log
    /// written in two batches, and an index dropped from a store is rebuilt when it opens.
    #[test]
    fn the_index_agrees_with_the_model_and_is_rebuilt() {
        use hotline_proto::testing::desk::deliver;
        use hotline_proto::testing::fixtures::{en, id, party, roster, s1_incident};
        use hotline_proto::testing::Pair;
        use hotline_proto::{Body, Disposition, Draft, Precedence, Role};

        let t0 = 1_800_000_000_000;
        let mut pair = Pair::new(party(0), party(1), roster(2, hotline_proto::Policy::default()), t0);
        let mut ids = Vec::new();
        for k in 0..3u64 {
            let draft = Draft {
                precedence: Precedence::Routine,
                to: vec![(id(party(1)), Role::Action)],
                thread: ids.first().copied(),
                in_reply_to: ids.first().copied(),
                body: if k == 0 { Body::Incident(s1_incident()) } else { Body::Reply(en("more")) },
            };
            ids.push(pair.a.node.send_notice(t0 + k, draft).unwrap());
            pair.a.sync();
            deliver(&mut pair.a, &mut pair.b, t0 + k);
            pair.b.sync();
            deliver(&mut pair.b, &mut pair.a, t0 + k);
            pair.a.sync();
        }
        pair.b.node.acknowledge(t0 + 10, ids[0], "watch", Disposition::Understood, vec![]).unwrap();
        pair.b.sync();
        let model = pair.b.history.lock().unwrap().clone();
        let leaves = pair.b.disk.clone();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let (mut store, _) = Store::open(&path).unwrap();
        let half = leaves.len() / 2;
        store.append(0, &leaves[..half]).unwrap();
        store.append(half as u64, &leaves[half..]).unwrap();
        let same = |reader: &Reader| {
            for n in &ids {
                assert_eq!(reader.about(n).unwrap(), model.about(n).unwrap(), "about {n}");
                assert!(!reader.about(n).unwrap().is_empty());
            }
            let mut thread = reader.thread(&ids[0]).unwrap();
            thread.sort();
            let mut expected = model.thread(&ids[0]).unwrap();
            expected.sort();
            assert_eq!(thread, expected);
            assert_eq!(thread.len(), 3);
            assert_eq!(reader.received(None, 10).unwrap(), model.received(None, 10).unwrap());
            assert_eq!(reader.received(None, 2).unwrap().len(), 2);
            let newest = reader.received(None, 1).unwrap()[0].0;
            assert_eq!(reader.received(Some(newest), 10).unwrap(), model.received(Some(newest), 10).unwrap());
        };
        same(&store.reader());
        drop(store);
        // A store written before the index existed: its index tables are gone.
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.delete_multimap_table(ABOUT).unwrap();
            tx.delete_multimap_table(THREADS).unwrap();
            tx.delete_table(RECEIVED).unwrap();
            tx.delete_table(META).unwrap();
            tx.commit().unwrap();
        }
        let (store, _) = Store::open(&path).unwrap();
        same(&store.reader());
    }
}
