//! The audit bundle (spec §15.5): a directory an auditor verifies with the roster's public keys
//! alone. The entries and the Merkle tree are laid out as C2SP `tlog-tiles`, so generic tlog tools
//! can read them; `log.jsonl` is the same log for people and `jq`.
//!
//! Verification streams: entries are read one entry bundle (256 leaves) at a time, signatures are
//! checked in parallel chunks across cores while one thread follows the chain and the tree, and
//! memory stays bounded whatever the size of the log.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use hotline_proto::limits::{MAX_LOG_ENTRY, MAX_ROSTER};
use hotline_proto::merkle::node_hash;
use hotline_proto::note::{self, Checkpoint, NoteSignature, ALG_COSIGNATURE_V1, ALG_ED25519};
use hotline_proto::wire::verify_leaf_signatures;
use hotline_proto::LogError;
use hotline_proto::SignedCheckpoint;
use hotline_proto::{Check, LogVerifier, VerifiedEntry};
use hotline_proto::{Hash32, NodeId, Record, Roster, Sig64};
use serde::{Deserialize, Serialize};

use crate::files;

/// The bundle format's name and version.
pub const FORMAT: &str = "cbm-hotline-audit-bundle/1";
/// Leaves per entry bundle and hashes per tile.
const WIDTH: u64 = 256;
/// Leaves whose signatures are checked together, split across threads.
const CHUNK: usize = 8192;

/// `bundle.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The node whose log this is (hex key).
    pub node: NodeId,
    /// Its member name.
    pub name: String,
    /// The network id.
    pub network_id: Hash32,
    /// Number of entries.
    pub size: u64,
    /// RFC 9162 root of all entries.
    pub root: Hash32,
}

/// Why a bundle is not trustworthy, as opposed to unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A tlog-tiles index path element: `x001/x234/067` for 1234067.
pub fn tile_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The path of tile `index` (of `width` items) under `tile/<level>/`.
fn tile_path(level: &str, index: u64, width: u64) -> PathBuf {
    let mut p = format!("tile/{level}/{}", tile_index(index));
    if width < WIDTH {
        p.push_str(&format!(".p/{width}"));
    }
    PathBuf::from(p)
}

/// Hash tiles built as leaf hashes stream by: each level keeps at most one tile's worth, writes
/// a tile when it is full and hands its root to the next level; the partial tiles of the right
/// edge are written at the end.
#[derive(Default)]
struct TileBuilder {
    pending: Vec<Vec<Hash32>>,
    written: Vec<u64>,
}

impl TileBuilder {
    fn push(&mut self, dir: &Path, level: usize, hash: Hash32) -> Result<()> {
        if self.pending.len() <= level {
            self.pending.resize_with(level + 1, Vec::new);
            self.written.resize(level + 1, 0);
        }
        self.pending[level].push(hash);
        if self.pending[level].len() as u64 == WIDTH {
            let tile = std::mem::take(&mut self.pending[level]);
            self.write(dir, level, &tile)?;
            self.push(dir, level + 1, subtree_root(&tile))?;
        }
        Ok(())
    }

    fn write(&mut self, dir: &Path, level: usize, tile: &[Hash32]) -> Result<()> {
        let bytes: Vec<u8> = tile.iter().flat_map(|h| h.0).collect();
        let index = self.written[level];
        write_file(&dir.join(tile_path(&level.to_string(), index, tile.len() as u64)), &bytes)?;
        if tile.len() as u64 == WIDTH {
            self.written[level] += 1;
        }
        Ok(())
    }

    /// Writes the partial tiles of the right edge as they stand: those of the tree of the leaves
    /// pushed so far (tlog-tiles serves them for every published checkpoint's size).
    fn write_edge(&mut self, dir: &Path) -> Result<()> {
        for level in 0..self.pending.len() {
            let tile = std::mem::take(&mut self.pending[level]);
            if !tile.is_empty() {
                self.write(dir, level, &tile)?;
            }
            self.pending[level] = tile;
        }
        Ok(())
    }

    fn finish(mut self, dir: &Path) -> Result<()> {
        self.write_edge(dir)
    }
}

/// The root of a complete subtree of 256 nodes.
fn subtree_root(hashes: &[Hash32]) -> Hash32 {
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    row[0]
}

/// A checkpoint of the log, with the peers' cosignatures of exactly it.
struct Noted {
    checkpoint: SignedCheckpoint,
    cosignatures: Vec<(NodeId, u64, Sig64)>,
}

/// Writes the audit bundle of `node`'s log to `dir` (created; must be empty or absent). Every
/// entry is verified first, signatures included: a node never exports a log it cannot vouch for.
pub fn write(dir: &Path, roster: &Roster, node: NodeId, leaves: &[Vec<u8>]) -> Result<Manifest> {
    let mut writer = Writer::create(dir, roster, node, leaves.len() as u64)?;
    for chunk in leaves.chunks(CHUNK) {
        writer.push(chunk)?;
    }
    writer.finish()
}

/// Writes an audit bundle as the log streams by, a chunk of leaves at a time (an export of a log
/// of any length): memory holds a chunk, one tile per level and the checkpoints' notes. Every
/// entry is verified, signatures included, before anything of it is written.
pub struct Writer {
    dir: PathBuf,
    roster: Roster,
    node: NodeId,
    name: String,
    network: Hash32,
    size: u64,
    verifier: LogVerifier,
    threads: usize,
    /// The entry bundle being filled, and how many leaves it holds.
    bundle: Vec<u8>,
    in_bundle: u64,
    bundles: u64,
    tiles: TileBuilder,
    noted: BTreeMap<u64, Noted>,
    jsonl: std::io::BufWriter<std::fs::File>,
}

impl Writer {
    /// Starts a bundle of `node`'s log of `size` entries in `dir` (created; must be empty or
    /// absent).
    pub fn create(dir: &Path, roster: &Roster, node: NodeId, size: u64) -> Result<Writer> {
        let name = roster
            .member(&node)
            .map(|m| m.name.clone())
            .ok_or_else(|| anyhow!("node is not in the roster"))?;
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            bail!("{} exists and is not empty; choose a new directory", dir.display());
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("log.jsonl");
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut jsonl = std::io::BufWriter::new(file);
        writeln!(jsonl, "{}", crate::jsonl::header(roster, node, size))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            roster: roster.clone(),
            node,
            name,
            network: roster.network_id(),
            size,
            verifier: LogVerifier::new(roster.clone(), node, Check::Chain),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            bundle: Vec::new(),
            in_bundle: 0,
            bundles: 0,
            tiles: TileBuilder::default(),
            noted: BTreeMap::new(),
            jsonl,
        })
    }

    /// Verifies and writes the next leaves.
    pub fn push(&mut self, leaves: &[Vec<u8>]) -> Result<()> {
        if self.verifier.len() + leaves.len() as u64 > self.size {
            bail!("more than the {} entries the export started with", self.size);
        }
        let verified =
            check_chunk(&mut self.verifier, &self.roster, &self.network, &self.node, leaves, self.threads)
                .map_err(|e| anyhow!("the log does not verify: {e}"))?;
        for (v, leaf) in verified.into_iter().zip(leaves) {
            if checkpoint_of_the_entries_before(&v) {
                // A checkpoint of the log up to here: its partial tiles, so that a generic
                // tlog-tiles client can check the checkpoint against the tiles (spec §15.5).
                self.tiles.write_edge(&self.dir)?;
                if self.in_bundle > 0 {
                    let path = self.dir.join(tile_path("entries", self.bundles, self.in_bundle));
                    write_file(&path, &self.bundle)?;
                }
            }
            let len = u16::try_from(leaf.len()).map_err(|_| anyhow!("a leaf is longer than 65535 bytes"))?;
            self.bundle.extend_from_slice(&len.to_be_bytes());
            self.bundle.extend_from_slice(leaf);
            self.in_bundle += 1;
            if self.in_bundle == WIDTH {
                self.write_bundle()?;
            }
            self.tiles.push(&self.dir, 0, v.leaf_hash)?;
            writeln!(self.jsonl, "{}", crate::jsonl::line(&v, leaf))?;
            note_record(&mut self.noted, v.entry.record);
        }
        Ok(())
    }

    fn write_bundle(&mut self) -> Result<()> {
        let path = self.dir.join(tile_path("entries", self.bundles, self.in_bundle));
        write_file(&path, &self.bundle)?;
        if self.in_bundle == WIDTH {
            self.bundles += 1;
        }
        self.bundle.clear();
        self.in_bundle = 0;
        Ok(())
    }

    /// Writes the right edge, the checkpoints' notes and the manifest.
    pub fn finish(mut self) -> Result<Manifest> {
        if self.verifier.len() != self.size {
            bail!("the export stopped at {} of {} entries", self.verifier.len(), self.size);
        }
        if self.in_bundle > 0 {
            self.write_bundle()?;
        }
        let dir = self.dir.clone();
        std::mem::take(&mut self.tiles).finish(&dir)?;
        let manifest = Manifest {
            format: FORMAT.into(),
            node: self.node,
            name: self.name.clone(),
            network_id: self.network,
            size: self.size,
            root: self.verifier.root(),
        };
        let origin = note::origin(&manifest.network_id, &manifest.name);
        let mut newest = None;
        for (size, n) in &self.noted {
            let text = note_text(&self.roster, &origin, self.node, n);
            write_file(&dir.join("checkpoints").join(size.to_string()), text.as_bytes())?;
            newest = Some(text);
        }
        if let Some(text) = newest {
            write_file(&dir.join("checkpoint"), text.as_bytes())?;
        }
        write_file(&dir.join("roster.bin"), &self.roster.to_bytes())?;
        self.jsonl.flush()?;
        // Last: a bundle without its manifest is visibly incomplete.
        write_file(&dir.join("bundle.json"), (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes())?;
        Ok(manifest)
    }
}

/// Whether `v` is a checkpoint record of the entries before it (the log's own checkpoints sit
/// at the index of their size, spec §6.6): the size whose partial tiles the bundle holds.
fn checkpoint_of_the_entries_before(v: &VerifiedEntry) -> bool {
    matches!(&v.entry.record, Record::Checkpoint { checkpoint } if checkpoint.size == v.entry.index)
}

/// Collects checkpoint records and the cosignatures of each.
fn note_record(noted: &mut BTreeMap<u64, Noted>, record: Record) {
    match record {
        Record::Checkpoint { checkpoint } => {
            noted.insert(checkpoint.size, Noted { checkpoint, cosignatures: Vec::new() });
        }
        Record::Cosignature { by, size, timestamp_s, signature, .. } => {
            if let Some(n) = noted.get_mut(&size) {
                n.cosignatures.push((by, timestamp_s, signature));
            }
        }
        _ => {}
    }
}

/// Verifies a run of leaves: their signatures on `threads` threads, while this thread follows the
/// chain and the tree with `verifier` ([`Check::Chain`]). Reports the first bad entry, whichever
/// check found it.
fn check_chunk(
    verifier: &mut LogVerifier,
    roster: &Roster,
    network: &Hash32,
    node: &NodeId,
    leaves: &[Vec<u8>],
    threads: usize,
) -> Result<Vec<VerifiedEntry>, LogError> {
    let per = leaves.len().div_ceil(threads.max(1)).max(1);
    let first = verifier.len();
    let (chain, sigs) = std::thread::scope(|s| {
        let workers: Vec<_> = leaves
            .chunks(per)
            .enumerate()
            .map(|(k, part)| {
                let base = first + (k * per) as u64;
                s.spawn(move || {
                    part.iter().enumerate().find_map(|(i, l)| {
                        verify_leaf_signatures(roster, network, node, base + i as u64, l).err()
                    })
                })
            })
            .collect();
        let chain: Result<Vec<VerifiedEntry>, LogError> = leaves.iter().map(|l| verifier.push(l)).collect();
        let sigs: Vec<LogError> = workers.into_iter().filter_map(|w| w.join().ok().flatten()).collect();
        (chain, sigs)
    });
    let mut first_bad = chain.as_ref().err().cloned();
    for e in sigs {
        if first_bad.as_ref().is_none_or(|f| e.index < f.index) {
            first_bad = Some(e);
        }
    }
    match first_bad {
        Some(e) => Err(e),
        None => chain,
    }
}

fn note_text(roster: &Roster, origin: &str, node: NodeId, n: &Noted) -> String {
    let checkpoint =
        Checkpoint { origin: origin.to_string(), size: n.checkpoint.size, root: n.checkpoint.root };
    let mut lines = vec![NoteSignature::log(origin, &node, &n.checkpoint.signature)];
    for (by, timestamp_s, signature) in &n.cosignatures {
        if let Some(cosigner) = note::origin_of(roster, by) {
            lines.push(NoteSignature::cosignature(&cosigner, by, *timestamp_s, signature));
        }
    }
    note::note(&checkpoint, &lines)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// What a verified bundle holds.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// The roster the bundle holds, checked against the manifest's network id (not printed:
    /// `roster.bin` is in the bundle).
    #[serde(skip)]
    pub roster: Roster,
    /// Checkpoint notes checked, and cosignature lines among them.
    pub notes: usize,
    /// Cosignature lines verified.
    pub cosignatures: usize,
    /// The log's checkpoints (size → root), from its entries.
    pub checkpoints: BTreeMap<u64, Hash32>,
}

/// Reads a bundle's manifest and roster, checking that they belong together.
pub fn open(dir: &Path) -> Result<(Manifest, Roster)> {
    if !dir.is_dir() {
        bail!("{} is not a directory: give the directory `hotline log export --out` wrote", dir.display());
    }
    let text = files::read_optional(&dir.join("bundle.json"), MAX_MANIFEST, "manifest")?.ok_or_else(|| {
        anyhow!(
            "{} is not an audit bundle (it has no bundle.json): give the directory `hotline log export --out` wrote",
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| Invalid(format!("{}: bundle.json is malformed: {e}", dir.display())))?;
    if manifest.format != FORMAT {
        return Err(
            Invalid(format!("{}: format {:?} is not {FORMAT}", dir.display(), manifest.format)).into()
        );
    }
    let roster = Roster::from_bytes(&files::read(&dir.join("roster.bin"), MAX_ROSTER as u64, "roster")?)
        .map_err(|e| Invalid(format!("{}: roster.bin: {e}", dir.display())))?;
    if roster.network_id() != manifest.network_id {
        return Err(Invalid(format!(
            "{}: roster.bin is not the roster of network {}",
            dir.display(),
            manifest.network_id
        ))
        .into());
    }
    match roster.member(&manifest.node) {
        Some(m) if m.name == manifest.name => {}
        _ => {
            return Err(Invalid(format!(
                "{}: {} is not a member named {:?}",
                dir.display(),
                manifest.node,
                manifest.name
            ))
            .into())
        }
    }
    Ok((manifest, roster))
}

/// The largest `bundle.json`: a few hundred bytes in practice.
const MAX_MANIFEST: u64 = 64 * 1024;

/// Reads the leaves of entry bundle `index` (of `width` leaves), strictly: exactly `width`
/// length-prefixed leaves and nothing after them, the file never larger than that many leaves of
/// the largest size can be. Errors name the leaf whose bytes are wrong.
fn read_entry_bundle(dir: &Path, index: u64, width: u64) -> Result<Vec<Vec<u8>>> {
    let path = dir.join(tile_path("entries", index, width));
    let max = width * (2 + MAX_LOG_ENTRY as u64);
    let bytes = files::read(&path, max, "entry bundle")?;
    let first = index * WIDTH;
    let bad = |what: String| -> anyhow::Error {
        Invalid(format!("entry bundle {}: {what}", path.display())).into()
    };
    let mut leaves = Vec::with_capacity(width as usize);
    let mut rest = bytes.as_slice();
    for n in first..first + width {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(bad(format!("it ends before entry {n} (it must hold {width} entries)")));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(bad(format!(
                "entry {n}: its length prefix says {len} bytes, only {} remain",
                tail.len()
            )));
        }
        leaves.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes follow its {width} entries", rest.len())));
    }
    Ok(leaves)
}

/// Streams a bundle's leaves in order, `CHUNK` at a time.
pub fn for_each_chunk(
    dir: &Path,
    size: u64,
    mut f: impl FnMut(u64, Vec<Vec<u8>>) -> Result<()>,
) -> Result<()> {
    let mut first = 0;
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut chunk_first = 0;
    while first < size {
        let width = (size - first).min(WIDTH);
        chunk.extend(read_entry_bundle(dir, first / WIDTH, width)?);
        first += width;
        if chunk.len() >= CHUNK || first == size {
            f(chunk_first, std::mem::take(&mut chunk))?;
            chunk_first = first;
        }
    }
    Ok(())
}

/// Checks hash tiles as leaf hashes stream by: each level keeps at most one tile's worth.
struct TileChecker<'a> {
    dir: &'a Path,
    pending: Vec<Vec<Hash32>>,
    checked: Vec<u64>,
}

impl TileChecker<'_> {
    fn push(&mut self, level: usize, hash: Hash32) -> Result<()> {
        if self.pending.len() == level {
            self.pending.push(Vec::new());
            self.checked.push(0);
        }
        self.pending[level].push(hash);
        if self.pending[level].len() as u64 == WIDTH {
            let tile = std::mem::take(&mut self.pending[level]);
            self.check(level, &tile)?;
            self.push(level + 1, subtree_root(&tile))?;
        }
        Ok(())
    }

    fn check(&mut self, level: usize, tile: &[Hash32]) -> Result<()> {
        let index = self.checked[level];
        let path = self.dir.join(tile_path(&level.to_string(), index, tile.len() as u64));
        let bytes = files::read(&path, tile.len() as u64 * 32, "hash tile")?;
        let want: Vec<u8> = tile.iter().flat_map(|h| h.0).collect();
        if bytes != want {
            let level_size = WIDTH.pow(level as u32);
            return Err(Invalid(format!(
                "hash tile {} does not hold the tree's hashes (leaves from {})",
                path.display(),
                index * WIDTH * level_size
            ))
            .into());
        }
        self.checked[level] += 1;
        Ok(())
    }

    /// The partial tiles of the tree of the leaves pushed so far, as they stand.
    fn check_edge(&mut self) -> Result<()> {
        for level in 0..self.pending.len() {
            let tile = std::mem::take(&mut self.pending[level]);
            let checked = self.checked[level];
            if !tile.is_empty() {
                self.check(level, &tile)?;
                self.checked[level] = checked;
            }
            self.pending[level] = tile;
        }
        Ok(())
    }

    /// The partial tiles at the right edge.
    fn finish(mut self) -> Result<()> {
        for level in 0..self.pending.len() {
            let tile = std::mem::take(&mut self.pending[level]);
            if !tile.is_empty() {
                self.check(level, &tile)?;
            }
        }
        Ok(())
    }
}

/// Verifies a bundle (spec §15.5). `threads` signature workers; `progress` is called with the
/// number of entries verified so far.
pub fn verify(dir: &Path, threads: usize, progress: impl FnMut(u64, u64)) -> Result<Verified> {
    verify_with(dir, threads, progress, |_, _, _| Ok(()))
}

/// [`verify`], handing `visit` every entry as it is verified, in log order, with the manifest
/// and roster it was verified against: what an audit concludes it concludes from the bytes that
/// were verified, read once (a file that changes between two reads — a FIFO, a network file
/// system — cannot show the verifier one log and the report another). What `visit` built is
/// worth nothing unless this returns `Ok`.
pub fn verify_with(
    dir: &Path,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
    mut visit: impl FnMut(&Manifest, &Roster, &VerifiedEntry) -> Result<()>,
) -> Result<Verified> {
    let (manifest, roster) = open(dir)?;
    let network = manifest.network_id;
    let mut verifier = LogVerifier::new(roster.clone(), manifest.node, Check::Chain);
    let mut tiles = TileChecker { dir, pending: Vec::new(), checked: Vec::new() };
    // The readable log is checked beside the entries; what is wrong with the signed data itself
    // is reported first, so a difference found there waits for the end.
    let mut readable = crate::jsonl::Checker::open(dir, &roster, manifest.node, manifest.size);
    let mut check_line = |v: &VerifiedEntry, leaf: &[u8]| {
        if let Ok(checker) = &mut readable {
            if let Err(e) = checker.entry(v, leaf) {
                readable = Err(e);
            }
        }
    };
    // The log's cosignatures of each checkpoint, in log order, as 16-byte digests: what the
    // notes must hold, no more and no less (memory: 16 bytes a cosignature entry).
    let mut cosigned: BTreeMap<u64, Vec<[u8; 16]>> = BTreeMap::new();
    let threads = threads.max(1);
    for_each_chunk(dir, manifest.size, |first, leaves| {
        let verified = check_chunk(&mut verifier, &roster, &network, &manifest.node, &leaves, threads)
            .map_err(|e| Invalid(format!("entry {}: {}", e.index, e.problem)))?;
        for (v, leaf) in verified.iter().zip(&leaves) {
            if checkpoint_of_the_entries_before(v) {
                // The partial tiles of the checkpoint's size: hash tiles and entries.
                tiles.check_edge()?;
                let (at, width) = (v.entry.index, v.entry.index % WIDTH);
                if width > 0 {
                    let from = usize::try_from(at - width - first).unwrap_or(usize::MAX);
                    let want = leaves.get(from..from + width as usize);
                    if want != Some(read_entry_bundle(dir, at / WIDTH, width)?.as_slice()) {
                        return Err(Invalid(format!(
                            "entry bundle {}: it is not the first {width} entries of entry bundle {}",
                            dir.join(tile_path("entries", at / WIDTH, width)).display(),
                            at / WIDTH
                        ))
                        .into());
                    }
                }
            }
            tiles.push(0, v.leaf_hash)?;
            check_line(v, leaf);
            visit(&manifest, &roster, v)?;
            if let Record::Cosignature { by, size, timestamp_s, signature, .. } = &v.entry.record {
                cosigned.entry(*size).or_default().push(cosignature_digest(by, *timestamp_s, signature));
            }
        }
        progress(first + leaves.len() as u64, manifest.size);
        Ok(())
    })?;
    if verifier.len() != manifest.size {
        return Err(
            Invalid(format!("{} entries, but bundle.json says {}", verifier.len(), manifest.size)).into()
        );
    }
    if verifier.root() != manifest.root {
        return Err(Invalid("the tree of the entries does not have the root bundle.json names".into()).into());
    }
    tiles.finish()?;
    readable.and_then(crate::jsonl::Checker::finish)?;
    let checkpoints = verifier.checkpoints().clone();
    let (notes, cosignatures) = verify_notes(dir, &roster, &manifest, &checkpoints, &cosigned)?;
    Ok(Verified { manifest, roster, notes, cosignatures, checkpoints })
}

/// Every note under `checkpoints/` and `checkpoint`: strict format, the log's signature, every
/// cosignature line, and agreement with the log's own checkpoint entries; exactly one note per
/// checkpoint, and `checkpoint` the newest of them again. Returns the notes in `checkpoints/` and
/// the cosignature lines among them.
fn verify_notes(
    dir: &Path,
    roster: &Roster,
    manifest: &Manifest,
    checkpoints: &BTreeMap<u64, Hash32>,
    cosigned: &BTreeMap<u64, Vec<[u8; 16]>>,
) -> Result<(usize, usize)> {
    let folder = dir.join("checkpoints");
    let mut paths = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for e in entries {
            // One note per checkpoint of the log: more files than that is not a bundle this
            // layout wrote, and they are not read.
            if paths.len() >= checkpoints.len() {
                return Err(Invalid(format!(
                    "{} holds more files than the log has checkpoints ({})",
                    folder.display(),
                    checkpoints.len()
                ))
                .into());
            }
            paths.push(e?.path());
        }
    }
    let named = |size: &u64| folder.join(size.to_string());
    if let Some(size) = checkpoints.keys().find(|size| !paths.contains(&named(size))) {
        return Err(Invalid(format!(
            "{} is missing: the note of the log's checkpoint of size {size}",
            named(size).display()
        ))
        .into());
    }
    let newest = checkpoints.keys().next_back().map(named);
    let mut newest_bytes = None;
    let mut cosignature_lines = 0;
    for path in &paths {
        let bytes = files::read(path, note::MAX_NOTE as u64, "checkpoint note")?;
        let (size, lines) = verify_note(path, &bytes, roster, manifest, checkpoints, cosigned)?;
        if *path != named(&size) {
            return Err(Invalid(format!(
                "{}: it holds the checkpoint of size {size}; its name must be that size",
                path.display()
            ))
            .into());
        }
        cosignature_lines += lines;
        if newest.as_ref() == Some(path) {
            newest_bytes = Some(bytes);
        }
    }
    // `checkpoint` is required exactly when the log has a checkpoint, and is the newest note.
    let latest_path = dir.join("checkpoint");
    match (&newest, newest_bytes) {
        (Some(newest), Some(copy)) => {
            let bytes = files::read(&latest_path, note::MAX_NOTE as u64, "checkpoint note")?;
            verify_note(&latest_path, &bytes, roster, manifest, checkpoints, cosigned)?;
            if copy != bytes {
                return Err(Invalid(format!(
                    "{} is not the newest checkpoint note, {}",
                    latest_path.display(),
                    newest.display()
                ))
                .into());
            }
        }
        _ => {
            if files::read_optional(&latest_path, note::MAX_NOTE as u64, "checkpoint note")?.is_some() {
                return Err(Invalid(format!("{}: the log has no checkpoint", latest_path.display())).into());
            }
        }
    }
    Ok((paths.len(), cosignature_lines))
}

/// A cosignature as the notes and the log are compared: by whom, when, the signature.
fn cosignature_digest(by: &NodeId, timestamp_s: u64, signature: &Sig64) -> [u8; 16] {
    let mut bytes = Vec::with_capacity(104);
    bytes.extend_from_slice(&by.0);
    bytes.extend_from_slice(&timestamp_s.to_be_bytes());
    bytes.extend_from_slice(&signature.0);
    let hash = hotline_proto::crypto::sha256(&bytes);
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&hash.0[..16]);
    digest
}

/// One checkpoint note (`path` names it in errors): strict format, this log's origin, a
/// checkpoint the log records, the log's signature and every cosignature line (key ids included),
/// and the cosignature lines exactly the log's cosignatures of that checkpoint, in log order.
/// Returns the checkpoint's size and the number of cosignature lines.
fn verify_note(
    path: &Path,
    bytes: &[u8],
    roster: &Roster,
    manifest: &Manifest,
    checkpoints: &BTreeMap<u64, Hash32>,
    cosigned: &BTreeMap<u64, Vec<[u8; 16]>>,
) -> Result<(u64, usize)> {
    let bad = |what: String| -> anyhow::Error { Invalid(format!("{}: {what}", path.display())).into() };
    let origin = note::origin(&manifest.network_id, &manifest.name);
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let (checkpoint, lines) = note::parse_note(text).map_err(|e| bad(e.to_string()))?;
    if checkpoint.origin != origin {
        return Err(bad(format!("origin {:?} is not this log's", checkpoint.origin)));
    }
    if checkpoints.get(&checkpoint.size) != Some(&checkpoint.root) {
        return Err(bad(format!("checkpoint of size {} is not one the log records", checkpoint.size)));
    }
    let own = &lines[0];
    let signature = own
        .signature()
        .filter(|_| own.name == origin && own.key_id == note::key_id(&origin, ALG_ED25519, &manifest.node));
    if !signature.is_some_and(|s| checkpoint.verify(&manifest.node, &s)) {
        return Err(bad("the log's note signature is missing or does not verify".into()));
    }
    let mut digests = Vec::with_capacity(lines.len() - 1);
    for line in &lines[1..] {
        let cosigner = roster
            .members
            .iter()
            .find(|m| note::origin(&manifest.network_id, &m.name) == line.name)
            .ok_or_else(|| bad(format!("cosigner {:?} is not a roster member", line.name)))?;
        if let Some((t, _)) = line.timestamped().filter(|(t, _)| *t > note::MAX_TIMESTAMP) {
            return Err(bad(format!(
                "cosignature by {} has timestamp {t}, beyond 2^63 - 1 (C2SP tlog-cosignature): out of range",
                cosigner.name
            )));
        }
        let ok = line.key_id == note::key_id(&line.name, ALG_COSIGNATURE_V1, &cosigner.key)
            && line.timestamped().is_some_and(|(t, s)| checkpoint.verify_cosignature(&cosigner.key, t, &s));
        if !ok {
            return Err(bad(format!("cosignature by {} does not verify", cosigner.name)));
        }
        if let Some((t, s)) = line.timestamped() {
            digests.push(cosignature_digest(&cosigner.key, t, &s));
        }
    }
    let logged = cosigned.get(&checkpoint.size).map_or(&[][..], Vec::as_slice);
    if digests != logged {
        return Err(bad(format!(
            "its {} cosignature lines are not the {} cosignatures the log records of this checkpoint, in log order (a line removed, repeated or copied in)",
            digests.len(),
            logged.len()
        )));
    }
    Ok((checkpoint.size, lines.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_tlog_tiles() {
        assert_eq!(tile_index(0), "000");
        assert_eq!(tile_index(67), "067");
        assert_eq!(tile_index(1234067), "x001/x234/067");
        assert_eq!(tile_index(1000), "x001/000");
        assert_eq!(tile_path("0", 3, 256), PathBuf::from("tile/0/003"));
        assert_eq!(tile_path("entries", 1234067, 7), PathBuf::from("tile/entries/x001/x234/067.p/7"));
    }

    #[test]
    fn hash_tiles_of_a_tree() {
        let leaves: Vec<Hash32> =
            (0u32..600).map(|i| hotline_proto::crypto::leaf_hash(&i.to_be_bytes())).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut tiles = TileBuilder::default();
        for l in &leaves {
            tiles.push(dir.path(), 0, *l).unwrap();
        }
        tiles.finish(dir.path()).unwrap();
        // Level 0: 256, 256, 88; level 1: two complete subtrees of 256.
        let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
        for (path, len) in
            [("tile/0/000", 256), ("tile/0/001", 256), ("tile/0/002.p/88", 88), ("tile/1/000.p/2", 2)]
        {
            assert_eq!(read(path).len(), len * 32, "{path}");
        }
        let mut tree = hotline_proto::merkle::MerkleTree::new();
        leaves.iter().for_each(|l| tree.push(*l));
        assert_eq!(read("tile/1/000.p/2")[..32], tree.root_at(256).unwrap().0);
        assert_eq!(read("tile/0/002.p/88")[..32], leaves[512].0);
    }
}
