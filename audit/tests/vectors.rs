//! Bundle vectors (spec §10, §15.5; issue 11, item 20): the audit bundle of the vectors' log
//! (`spec/vectors/v1.json`, alpha's log with one entry of every record kind), committed file by
//! file under `spec/vectors/bundle-v1/`, and `spec/vectors/bundle-v1.json`: the verdict on it and
//! on altered copies, each alteration a file, a byte offset and an XOR mask, with the verdict a
//! verifier must reach (`invalid`, naming the file). A second implementation runs its verifier on
//! the directory and on each alteration, from the spec alone.
//!
//! The test regenerates the bundle from the log and compares it byte for byte; run with
//! `HOTLINE_UPDATE_VECTORS=1` to rewrite after a deliberate change (with the spec, in the same
//! commit).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

mod common;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors");

fn unhex(v: &Value) -> Vec<u8> {
    hotline_proto::hex::decode(v.as_str().expect("hex")).expect("hexadecimal")
}

/// Every file under `dir`, as (relative path, bytes), sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn copy(from: &Path, to: &Path) {
    for (rel, bytes) in files(from) {
        let path = to.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// The alterations, each with the file it names in its verdict.
fn alterations(bundle: &[(String, Vec<u8>)]) -> Vec<Value> {
    let find = |prefix: &str| {
        bundle.iter().find(|(rel, _)| rel.starts_with(prefix)).map(|(rel, b)| (rel.clone(), b.len()))
    };
    let mut out = Vec::new();
    let mut alter = |name: &str, (file, len): (String, usize), offset: usize, why: &str| {
        out.push(json!({
            "name": name,
            "file": file,
            "offset": offset.min(len - 1),
            "xor": 1,
            "verdict": "invalid",
            "why": why,
        }));
    };
    let entries = find("tile/entries/").expect("an entry bundle");
    alter(
        "entry-bundle-byte",
        entries.clone(),
        entries.1 / 2,
        "an entry's bytes: its signature or the chain fails",
    );
    let tile = find("tile/0/").expect("a hash tile");
    alter("hash-tile-byte", tile, 0, "a hash tile that is not the tree's");
    let note = find("checkpoints/").expect("a checkpoint note");
    alter("note-byte", note.clone(), note.1 - 3, "a note signature that does not verify");
    let roster = find("roster.bin").expect("the roster");
    alter("roster-byte", roster.clone(), roster.1 / 2, "a roster that is not the network's");
    let jsonl = find("log.jsonl").expect("the readable log");
    alter(
        "readable-log-byte",
        jsonl.clone(),
        jsonl.1 / 2,
        "a readable log that is not the entries' rendering",
    );
    out
}

fn verdict(dir: &Path) -> (String, String) {
    match hotline_audit::bundle::verify(dir, 1, |_, _| {}) {
        Ok(_) => ("ok".into(), String::new()),
        Err(e) if e.downcast_ref::<hotline_audit::bundle::Invalid>().is_some() => {
            ("invalid".into(), format!("{e:#}"))
        }
        Err(e) => ("unreadable".into(), format!("{e:#}")),
    }
}

#[test]
fn the_bundle_vectors_match_the_code_and_every_alteration_is_refused() {
    let v1: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(SPEC).join("v1.json")).unwrap()).unwrap();
    let roster = hotline_proto::Roster::from_bytes(&unhex(&v1["roster"]["bytes"])).unwrap();
    let node = hotline_proto::NodeId::from_hex(v1["log"]["node"].as_str().unwrap()).unwrap();
    let leaves: Vec<Vec<u8>> =
        v1["log"]["entries"].as_array().unwrap().iter().map(|e| unhex(&e["leaf"])).collect();

    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("bundle");
    hotline_audit::bundle::write(&made, &roster, node, &leaves).unwrap();
    let made_files = files(&made);
    let expected = json!({
        "about": "The audit bundle of the log in v1.json (spec §15.5), in bundle-v1/, and the verdict a verifier must reach on it and on each alteration (the byte at `offset` of `file` XORed with `xor`). Test keys only.",
        "bundle": "bundle-v1",
        "files": made_files.iter().map(|(rel, b)| json!({"path": rel, "bytes": b.len(), "sha256": hotline_proto::crypto::sha256(b).to_hex()})).collect::<Vec<_>>(),
        "verdict": "ok",
        "alterations": alterations(&made_files),
    });
    let committed_dir = PathBuf::from(SPEC).join("bundle-v1");
    let committed_json = PathBuf::from(SPEC).join("bundle-v1.json");
    let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    if std::env::var_os("HOTLINE_UPDATE_VECTORS").is_some() {
        let _ = std::fs::remove_dir_all(&committed_dir);
        copy(&made, &committed_dir);
        std::fs::write(&committed_json, &text).unwrap();
    }
    assert!(
        files(&committed_dir) == made_files,
        "spec/vectors/bundle-v1/ differs from the bundle the code writes: regenerate with HOTLINE_UPDATE_VECTORS=1 and update the spec"
    );
    assert!(std::fs::read_to_string(&committed_json).unwrap() == text, "spec/vectors/bundle-v1.json differs");

    // The committed bundle verifies; each alteration of a copy gets its verdict, naming its file.
    assert_eq!(verdict(&committed_dir).0, "ok", "{}", verdict(&committed_dir).1);
    for a in expected["alterations"].as_array().unwrap() {
        let dir = tmp.path().join(a["name"].as_str().unwrap());
        copy(&committed_dir, &dir);
        let path = dir.join(a["file"].as_str().unwrap());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[a["offset"].as_u64().unwrap() as usize] ^= a["xor"].as_u64().unwrap() as u8;
        std::fs::write(&path, bytes).unwrap();
        let (got, why) = verdict(&dir);
        assert_eq!(got, a["verdict"].as_str().unwrap(), "{}: {why}", a["name"]);
        let file = a["file"].as_str().unwrap();
        let named = why.contains(file) || (file == "roster.bin" && why.contains("roster"));
        assert!(named, "{}: the verdict does not name {file}: {why}", a["name"]);
    }
}

/// Cross-audit vectors (spec §15.6): bundles of several parties under `spec/vectors/cross-v1/`,
/// one directory per case, and `cross-v1.json`: each case's findings (name, violation or note,
/// evidence as party and entry), audited as of a fixed time, which a second implementation must
/// reproduce (in any order; the wording of details is free).
#[test]
fn the_cross_audit_vectors_match_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    // An honest pair: a few minutes of link tests, checkpoints and co-signing.
    let honest = tmp.path().join("honest");
    let r = hotline_sim::fixtures::roster(2, hotline_sim::fixtures::sim_policy());
    let logs = hotline_sim::fixtures::idle_logs(1_790_000_000_000, &r, 12);
    for (i, name) in ["alpha", "bravo"].iter().enumerate() {
        let id = hotline_proto::crypto::node_id(&hotline_sim::fixtures::test_key(name));
        hotline_audit::bundle::write(&honest.join(name), &r, id, &logs[i]).unwrap();
    }
    // Two recipients holding two versions of one notice, the sender's bundle absent.
    let equivocation = tmp.path().join("equivocation");
    common::equivocating_recipients(&equivocation);
    let at_ms = 1_790_000_000_000 + 86_400_000;
    let mut cases = Vec::new();
    for (name, dir) in [("honest", &honest), ("equivocation", &equivocation)] {
        let mut parties: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        parties.sort();
        let (roster, loaded) = hotline_audit::cross::load_at(&parties, 1, at_ms).unwrap();
        let mut findings: Vec<Value> = hotline_audit::cross::cross(&roster, &loaded)
            .iter()
            .map(|f| json!({"finding": f.kind, "violation": f.violation, "evidence": f.evidence}))
            .collect();
        findings.sort_by_key(|f| f.to_string());
        let names: Vec<String> =
            parties.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        cases.push(json!({"case": name, "bundles": names, "audited_at_ms": at_ms, "findings": findings}));
    }
    let expected = json!({
        "about": "Cross-audit cases (spec §15.6): cross-v1/<case>/<party>/ are audit bundles; each case lists the findings a cross-audit as of audited_at_ms must report. Test keys only.",
        "cases": cases,
    });
    let committed_dir = PathBuf::from(SPEC).join("cross-v1");
    let committed_json = PathBuf::from(SPEC).join("cross-v1.json");
    let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    if std::env::var_os("HOTLINE_UPDATE_VECTORS").is_some() {
        let _ = std::fs::remove_dir_all(&committed_dir);
        copy(tmp.path(), &committed_dir);
        std::fs::write(&committed_json, &text).unwrap();
    }
    assert!(
        files(&committed_dir) == files(tmp.path()),
        "spec/vectors/cross-v1/ differs from what the code writes: regenerate with HOTLINE_UPDATE_VECTORS=1"
    );
    assert!(std::fs::read_to_string(&committed_json).unwrap() == text, "spec/vectors/cross-v1.json differs");
    // The equivocation case proves it; the honest one has no violation.
    let cases = expected["cases"].as_array().unwrap();
    assert!(cases[0]["findings"].as_array().unwrap().iter().all(|f| f["violation"] == false), "{}", cases[0]);
    assert!(
        cases[1]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["finding"] == "equivocation" && f["violation"] == true),
        "{}",
        cases[1]
    );
}
