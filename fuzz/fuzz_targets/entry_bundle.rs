//! Audit bundles on disk (spec §15.5): a valid bundle of a real two-node exchange is written once
//! (`hotline_audit::bundle::write`), then each input damages one of its files and
//! `bundle::verify` must refuse it, never panic; a bundle that still verifies reads back the
//! same leaves (`bundle::leaves`).
//!
//! Input: `[file][mode][bytes…]`. `file` indexes the template's files (sorted paths). A high
//! nibble of `mode` of 0xf picks the large template (over 256 entries: full and partial tiles, two
//! entry bundles; 60 times slower to verify, hence rare). `(mode & 0xf) % 5`:
//! 0 replace the file with the bytes; 1 patch it with `[offset u16 BE][xor u8]` triples; 2 delete
//! it; 3 write the bytes as an extra note `checkpoints/<bytes[0]>`; 4 truncate it to
//! `[len u16 BE]`.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use hotline_audit::bundle;
use libfuzzer_sys::fuzz_target;

struct Template {
    dir: PathBuf,
    files: BTreeMap<PathBuf, Vec<u8>>,
    leaves: Vec<Vec<u8>>,
    /// Paths (relative) this input changed, to put back before the next one.
    dirty: Mutex<BTreeSet<PathBuf>>,
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in std::fs::read_dir(dir).expect("template readable") {
        let path = e.expect("template entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            out.insert(rel, std::fs::read(&path).expect("template file"));
        }
    }
}

fn template(large: bool) -> &'static Template {
    static SMALL: OnceLock<Template> = OnceLock::new();
    static LARGE: OnceLock<Template> = OnceLock::new();
    let cell = if large { &LARGE } else { &SMALL };
    cell.get_or_init(|| {
        let fx = hotline_fuzz::vectors();
        // Checkpoints every 60 s (the vectors' policy), cosigned by bravo.
        let (leaves, _) = if large {
            hotline_fuzz::two_node_logs(fx, 62, 7_000, 1)
        } else {
            hotline_fuzz::two_node_logs(fx, 14, 10_000, 6)
        };
        let base = std::env::temp_dir().join(format!(
            "hotline-fuzz-bundle-{}-{}",
            std::process::id(),
            if large { "large" } else { "small" }
        ));
        let _ = std::fs::remove_dir_all(&base);
        remove_stale(&base);
        let dir = base.join("b");
        bundle::write(&dir, &fx.roster, fx.ids[0], &leaves).expect("the template bundle writes");
        bundle::verify(&dir, 1, |_, _| {}).expect("the template bundle verifies");
        let mut files = BTreeMap::new();
        walk(&dir, &dir, &mut files);
        Template { dir, files, leaves, dirty: Mutex::new(BTreeSet::new()) }
    })
}

/// Removes the template directories of fuzzing processes that are gone.
fn remove_stale(base: &Path) {
    let Some(parent) = base.parent() else { return };
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("hotline-fuzz-bundle-") else { continue };
        let pid = rest.split('-').next().unwrap_or_default();
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn restore(t: &Template) {
    let mut dirty = t.dirty.lock().unwrap_or_else(|e| e.into_inner());
    for rel in std::mem::take(&mut *dirty) {
        let path = t.dir.join(&rel);
        match t.files.get(&rel) {
            Some(bytes) => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                std::fs::write(&path, bytes).expect("restore a template file");
            }
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel, mode, rest @ ..] = data else { return };
    let t = template(mode & 0xf0 == 0xf0);
    restore(t);
    let paths: Vec<&PathBuf> = t.files.keys().collect();
    let rel = paths[usize::from(*sel) % paths.len()].clone();
    let original = &t.files[&rel];
    let path = t.dir.join(&rel);
    let (rel, new): (PathBuf, Option<Vec<u8>>) = match (mode & 0xf) % 5 {
        0 => (rel, Some(rest.to_vec())),
        1 => {
            let mut b = original.clone();
            for p in rest.chunks_exact(3) {
                if !b.is_empty() {
                    let at = usize::from(u16::from_be_bytes([p[0], p[1]])) % b.len();
                    b[at] ^= p[2];
                }
            }
            (rel, Some(b))
        }
        2 => (rel, None),
        3 => {
            let name = PathBuf::from("checkpoints").join(rest.first().copied().unwrap_or(0).to_string());
            (name, Some(rest.get(1..).unwrap_or_default().to_vec()))
        }
        _ => {
            let len = rest.first_chunk::<2>().map_or(0, |l| usize::from(u16::from_be_bytes(*l)));
            (rel, Some(original[..len.min(original.len())].to_vec()))
        }
    };
    let target = t.dir.join(&rel);
    t.dirty.lock().unwrap_or_else(|e| e.into_inner()).insert(rel.clone());
    match &new {
        Some(bytes) => {
            if let Some(parent) = target.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            std::fs::write(&target, bytes).expect("write the damaged file");
        }
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    let unchanged = new.as_ref() == t.files.get(&rel);
    let mut read = Vec::new();
    let outcome = bundle::verify_with(&t.dir, 1, |_, _| {}, |_, _, v| {
        read.push(v.leaf_hash);
        Ok(())
    });
    match outcome {
        Ok(_) => {
            // Only the manifest's JSON form and the checkpoint notes (extra or fewer cosignature
            // lines) may change without changing what the bundle says.
            let name = rel.to_string_lossy();
            let lenient = name == "bundle.json"
                || name == "log.jsonl" // compared as JSON values: spacing and key order are free (spec §15.5)
                || name == "checkpoint"
                || name.starts_with("checkpoints");
            assert!(unchanged || lenient, "a bundle with a changed {name} still verifies");
            let template: Vec<_> = t.leaves.iter().map(|l| hotline_proto::crypto::leaf_hash(l)).collect();
            assert_eq!(read, template, "a verified bundle shows the verifier other leaves");
            assert!(bundle::open(&t.dir).is_ok());
        }
        Err(_) => {
            assert!(!unchanged, "the unchanged template bundle does not verify");
        }
    }
});
