//! The log's Merkle tree as C2SP tlog-tiles hash tiles (spec §15.5), written in the same
//! transaction as the leaves they cover, as Sunlight and Tessera write theirs.
//!
//! A tile of level `L` and index `N` holds up to 256 consecutive hashes of tree level `8·L`:
//! level 0 the leaf hashes, level 1 the roots of complete level-0 tiles, and so on. A tile that
//! is not full is the right edge; it grows in place until it is. Any perfect subtree's root is
//! then one tile read and at most 127 hashes ([`subtree`]), so consistency proofs cost
//! O(log n) reads whatever the log's length, and the core keeps only the tree's right edge.

use anyhow::{bail, Result};
use hotline_proto::merkle::perfect_root;
use hotline_proto::Hash32;
use redb::{ReadableTable, TableDefinition};

/// `(level << 56) | index` → the tile's hashes, 32 bytes each.
pub(super) const TILES: TableDefinition<u64, &[u8]> = TableDefinition::new("tiles");

/// Hashes per tile, and tree levels per tile level.
const WIDTH: u64 = 256;
const HEIGHT: u32 = 8;

fn key(level: u32, index: u64) -> u64 {
    (u64::from(level) << 56) | index
}

fn hashes(bytes: &[u8]) -> Vec<Hash32> {
    bytes.chunks_exact(32).filter_map(|c| c.try_into().ok().map(Hash32)).collect()
}

/// Adds the leaf hashes of leaves `first..` to the tiles, completing tiles upward.
pub(super) fn append(
    table: &mut redb::Table<u64, &[u8]>,
    first: u64,
    leaf_hashes: Vec<Hash32>,
) -> Result<()> {
    let (mut level, mut start, mut pending) = (0u32, first, leaf_hashes);
    while !pending.is_empty() {
        // The roots of the tiles this level completes: consecutive hashes of the next level.
        let mut completed = Vec::new();
        let mut completed_from = None;
        let mut i = 0usize;
        while i < pending.len() {
            let at = start + i as u64;
            let (tile, offset) = (at / WIDTH, (at % WIDTH) as usize);
            let take = (WIDTH as usize - offset).min(pending.len() - i);
            let mut bytes = table.get(key(level, tile))?.map(|v| v.value().to_vec()).unwrap_or_default();
            if bytes.len() != offset * 32 {
                bail!(
                    "hash tile {tile} of level {level} holds {} bytes where {} were expected: the store is damaged; restore it from a backup",
                    bytes.len(),
                    offset * 32
                );
            }
            for h in &pending[i..i + take] {
                bytes.extend_from_slice(&h.0);
            }
            table.insert(key(level, tile), bytes.as_slice())?;
            if offset + take == WIDTH as usize {
                completed_from.get_or_insert(tile);
                let Some(root) = perfect_root(&hashes(&bytes)) else { bail!("a full tile has no root") };
                completed.push(root);
            }
            i += take;
        }
        level += 1;
        start = completed_from.unwrap_or(0);
        pending = completed;
    }
    Ok(())
}

/// The root of the perfect subtree of `2^level` leaves starting at leaf `index << level`, if
/// the tiles hold all of it.
pub(super) fn subtree(
    table: &impl ReadableTable<u64, &'static [u8]>,
    level: u32,
    index: u64,
) -> Result<Option<Hash32>> {
    let (tile_level, rows) = (level / HEIGHT, level % HEIGHT);
    let width = 1u64 << rows;
    let Some(first) = index.checked_mul(width) else { return Ok(None) };
    let (tile, offset) = (first / WIDTH, first % WIDTH);
    let Some(bytes) = table.get(key(tile_level, tile))? else { return Ok(None) };
    let (from, to) = (offset as usize * 32, (offset + width) as usize * 32);
    Ok(bytes.value().get(from..to).and_then(|b| perfect_root(&hashes(b))))
}

/// The leaf hashes of leaves `from..to`, from the level-0 tiles; an error if they lack any.
pub(super) fn leaf_hashes(
    table: &impl ReadableTable<u64, &'static [u8]>,
    from: u64,
    to: u64,
) -> Result<Vec<Hash32>> {
    let mut out = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
    let mut at = from;
    while at < to {
        let (tile, offset) = (at / WIDTH, at % WIDTH);
        let take = (WIDTH - offset).min(to - at);
        let bytes = table.get(key(0, tile))?;
        let hashes = bytes
            .as_ref()
            .and_then(|b| b.value().get((offset * 32) as usize..((offset + take) * 32) as usize));
        let Some(hashes) = hashes else {
            bail!("the hash tiles lack leaf {at}: the store is damaged; restore it from a backup");
        };
        out.extend(self::hashes(hashes));
        at += take;
    }
    Ok(out)
}

/// How many leaves the tiles cover: the level-0 tiles' hashes.
pub(super) fn covered(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    let last = table.range(key(0, 0)..key(1, 0))?.next_back().transpose()?;
    Ok(last.map_or(0, |(k, v)| k.value() * WIDTH + v.value().len() as u64 / 32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::merkle::MerkleTree;
    use redb::ReadableDatabase;

    /// Tiles written in batches of every shape answer every subtree as a tree in memory does.
    #[test]
    fn tiles_answer_every_subtree_as_the_tree_does() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        let leaves: Vec<Hash32> =
            (0..70_000u32).map(|i| hotline_proto::crypto::leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = MerkleTree::new();
        let mut at = 0usize;
        for (k, size) in [1usize, 255, 1, 300, 65_536, 1000, 2_907].iter().enumerate() {
            let tx = db.begin_write().unwrap();
            {
                let mut table = tx.open_table(TILES).unwrap();
                append(&mut table, at as u64, leaves[at..at + size].to_vec()).unwrap();
            }
            tx.commit().unwrap();
            leaves[at..at + size].iter().for_each(|h| tree.push(*h));
            at += size;
            let tx = db.begin_read().unwrap();
            let table = tx.open_table(TILES).unwrap();
            assert_eq!(covered(&table).unwrap(), at as u64, "batch {k}");
            for level in 0..18u32 {
                let count = (at as u64 >> level) + 1;
                let step = (count / 40).max(1);
                for index in (0..count).step_by(step as usize).chain([count - 1, count]) {
                    assert_eq!(
                        subtree(&table, level, index).unwrap(),
                        tree.subtree(level, index),
                        "level {level} index {index} at {at}"
                    );
                }
            }
        }
    }
}
