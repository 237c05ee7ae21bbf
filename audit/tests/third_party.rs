//! An audit bundle as third-party C2SP tools read it (issue 11, item 15; spec §15.5): Cloudflare's
//! `signed_note` verifies every checkpoint note's log signature, and its `tlog_tiles` (a port of
//! Go's `sumdb/tlog`) checks each checkpoint against the bundle's tiles — the tree hash from the
//! tiles, an inclusion proof of every entry from the entry bundles, and a consistency proof
//! between consecutive checkpoints. Neither shares code with ours: only the formats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use hotline_sim::fixtures::{idle_logs, roster, sim_policy, test_key};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash, Tile, TileHashReader, TileReader};

/// Reads tiles from a bundle directory. `tlog_tiles` names tiles as Go's `sumdb/tlog` does
/// (`tile/8/0/000`, `tile/8/data/000`); C2SP tlog-tiles drops the height and calls data tiles
/// `entries`, which is the layout a bundle has.
struct Bundle(PathBuf);

impl Bundle {
    fn c2sp_path(tile: &Tile) -> String {
        let go = tile.path();
        let rest = go.strip_prefix("tile/8/").expect("height 8");
        format!("tile/{}", rest.replacen("data/", "entries/", 1))
    }
}

impl TileReader for Bundle {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                std::fs::read(self.0.join(Self::c2sp_path(t))).map_err(|_| tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// The leaves of entry bundle (data tile) `tile`, as tlog-tiles frames them: a 16-bit length,
/// then the bytes.
fn entries(dir: &Path, tile: &Tile) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(dir.join(Bundle::c2sp_path(tile))).unwrap();
    let mut rest = bytes.as_slice();
    let mut out = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len));
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

#[test]
fn generic_tlog_tiles_clients_verify_every_checkpoint_of_a_bundle() {
    let roster = roster(3, sim_policy());
    let logs = idle_logs(1_000_000, &roster, 600);
    let leaves = &logs[0];
    assert!(leaves.len() > 600, "a log over several entry bundles: {}", leaves.len());
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("alpha");
    let key = test_key("alpha");
    let alpha = hotline_proto::crypto::node_id(&key);
    let manifest = hotline_audit::bundle::write(&bundle, &roster, alpha, leaves).unwrap();

    let origin = hotline_proto::note::origin(&manifest.network_id, &manifest.name);
    let vkey = signed_note::new_ed25519_verifier_key(&origin, &key.verifying_key());
    let known = VerifierList::new(vec![Box::new(StandardVerifier::new(&vkey).unwrap())]);
    let reader = Bundle(bundle.clone());

    let mut notes: Vec<(u64, PathBuf)> = std::fs::read_dir(bundle.join("checkpoints"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.file_name().unwrap().to_str().unwrap().parse().unwrap(), path)
        })
        .collect();
    notes.sort();
    assert!(notes.len() >= 3, "several checkpoints: {notes:?}");
    assert!(notes.iter().any(|(size, _)| size % 256 != 0 && *size > 256), "a checkpoint inside a later tile");
    let mut previous: Option<(u64, Hash)> = None;
    for (size, path) in &notes {
        // The note: the log's signature verifies under its vkey; the peers' cosignatures are
        // other keys, which a verifier that does not know them leaves aside (C2SP signed-note).
        let note = Note::from_bytes(&std::fs::read(path).unwrap()).unwrap();
        let (verified, _others) = note.verify(&known).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(verified.len(), 1);
        let checkpoint = Checkpoint::from_bytes(note.text()).unwrap();
        assert_eq!((checkpoint.origin(), checkpoint.size()), (origin.as_str(), *size));
        let root = *checkpoint.hash();

        // The tree of that size, from the bundle's tiles (its partial tiles included).
        let hashes = TileHashReader::new(*size, root, &reader);
        assert_eq!(tlog_tiles::tlog::tree_hash(*size, &hashes).unwrap(), root, "size {size}");
        // Every entry below it is in that tree: its record hash, an inclusion proof.
        for i in (0..*size).step_by(37).chain([size - 1]) {
            let tile =
                Tile::from_index(8, tlog_tiles::tlog::stored_hash_index(0, i)).parent(0, *size).unwrap();
            let mut data = tile;
            data.set_is_data();
            let leaf = &entries(&bundle, &data)[(i % 256) as usize];
            let proof = tlog_tiles::tlog::prove_record(*size, i, &hashes).unwrap();
            tlog_tiles::tlog::check_record(&proof, *size, root, i, tlog_tiles::tlog::record_hash(leaf))
                .unwrap_or_else(|e| panic!("entry {i} in checkpoint {size}: {e:?}"));
        }
        // The previous checkpoint's tree is a prefix of this one's.
        if let Some((old, old_root)) = previous {
            let proof = tlog_tiles::tlog::prove_tree(*size, old, &hashes).unwrap();
            tlog_tiles::tlog::check_tree(&proof, *size, root, old, old_root)
                .unwrap_or_else(|e| panic!("{old} → {size}: {e:?}"));
        }
        previous = Some((*size, root));
    }

    // The whole log's tree, from the same tiles: the manifest's root.
    let root = Hash(manifest.root.0);
    let hashes = TileHashReader::new(manifest.size, root, &reader);
    assert_eq!(tlog_tiles::tlog::tree_hash(manifest.size, &hashes).unwrap(), root);

    // And a tile that is not the log's fails them too: this test can fail.
    let (size, _) = notes[notes.len() / 2];
    let edge = Tile::from_index(8, tlog_tiles::tlog::stored_hash_index(0, size - 1)).parent(0, size).unwrap();
    let path = bundle.join(Bundle::c2sp_path(&edge));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let note =
        Note::from_bytes(&std::fs::read(bundle.join("checkpoints").join(size.to_string())).unwrap()).unwrap();
    let checkpoint = Checkpoint::from_bytes(note.text()).unwrap();
    let hashes = TileHashReader::new(size, *checkpoint.hash(), &reader);
    assert!(tlog_tiles::tlog::tree_hash(size, &hashes).is_err(), "a forged tile went unnoticed");
}
