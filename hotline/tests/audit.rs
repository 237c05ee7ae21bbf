//! Scenario S6, rewriting history, against the auditor (`hotline audit …`) with bundles exported
//! by real nodes: a flipped byte, a removed entry, swapped entries, a truncated bundle and a forged
//! cosignature are each caught by `verify`, which names the first bad entry; a party that rewrites
//! its log after its peers co-signed a checkpoint passes `verify` on its own, and `cross` proves the
//! rewrite with the co-signed checkpoint. Tampered bundles are rebuilt with the bundle format's own
//! rules (spec §15.5), written out here with plain SHA-256, as an attacker would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hotline_testnet::harness::{english_incident, wait_until, Net, FAST_POLICY};
use sha2::{Digest, Sha256};

fn audit(args: &[&str], bundles: &[&Path]) -> Output {
    let mut all: Vec<String> = vec!["audit".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend(bundles.iter().map(|b| b.display().to_string()));
    hotline_testnet::harness::cli(None, &all)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Two nodes exchange notices and co-sign each other's checkpoints; returns the network and the
/// two exported bundles.
fn network() -> (Net, PathBuf, PathBuf) {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    let incident = english_incident(net.dir.path());
    for precedence in ["flash", "routine", "priority"] {
        net.ok(
            "alpha",
            &["send", "--to", "bravo", "--precedence", precedence, "--incident", incident.to_str().unwrap()],
        );
    }
    for name in ["alpha", "bravo"] {
        let size = net.json(name, &["checkpoint", "--json"])["size"].as_u64().unwrap();
        wait_until("the checkpoint is co-signed", Duration::from_secs(10), || {
            net.json(name, &["status", "--json"])["links"][0]["cosigned_size"].as_u64().unwrap() >= size
        });
    }
    let a = net.dir.path().join("alpha-bundle");
    let b = net.dir.path().join("bravo-bundle");
    net.ok("alpha", &["log", "export", "--out", a.to_str().unwrap()]);
    net.ok("bravo", &["log", "export", "--out", b.to_str().unwrap()]);
    net.stop("alpha");
    net.stop("bravo");
    (net, a, b)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The leaves of a bundle, read with the format's rules only.
fn read_leaves(dir: &Path) -> Vec<Vec<u8>> {
    let size = manifest(dir)["size"].as_u64().unwrap();
    let mut leaves = Vec::new();
    let mut n = 0;
    while (leaves.len() as u64) < size {
        let width = (size - leaves.len() as u64).min(256);
        let bytes = std::fs::read(dir.join(entries_path(n, width))).unwrap();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            leaves.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        n += 1;
    }
    leaves
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap()
}

fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn entries_path(n: u64, width: u64) -> String {
    let p = format!("tile/entries/{}", index_path(n));
    if width < 256 {
        format!("{p}.p/{width}")
    } else {
        p
    }
}

fn node_hash(l: &[u8], r: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().to_vec()
}

fn mth(hashes: &[Vec<u8>]) -> Vec<u8> {
    if hashes.len() == 1 {
        return hashes[0].clone();
    }
    let mut k = 1;
    while k * 2 < hashes.len() {
        k *= 2;
    }
    node_hash(&mth(&hashes[..k]), &mth(&hashes[k..]))
}

/// Rewrites a bundle's entries, tiles and manifest around `leaves`, consistently: what an attacker
/// who controls the bundle but not the keys can do.
fn rewrite_bundle(dir: &Path, leaves: &[Vec<u8>]) {
    std::fs::remove_dir_all(dir.join("tile")).unwrap();
    for (n, chunk) in leaves.chunks(256).enumerate() {
        let mut bytes = Vec::new();
        for leaf in chunk {
            bytes.extend_from_slice(&(leaf.len() as u16).to_be_bytes());
            bytes.extend_from_slice(leaf);
        }
        let path = dir.join(entries_path(n as u64, chunk.len() as u64));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let hashes: Vec<Vec<u8>> = leaves
        .iter()
        .map(|l| {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(l);
            h.finalize().to_vec()
        })
        .collect();
    for (n, chunk) in hashes.chunks(256).enumerate() {
        let p = entries_path(n as u64, chunk.len() as u64).replace("entries", "0");
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, chunk.concat()).unwrap();
    }
    let mut m = manifest(dir);
    m["size"] = leaves.len().into();
    m["root"] = hotline_proto::hex::encode(&mth(&hashes)).into();
    std::fs::write(dir.join("bundle.json"), m.to_string()).unwrap();
}

fn assert_invalid(out: &Output, names: &str) {
    assert_eq!(out.status.code(), Some(4), "{}", text(out));
    assert!(text(out).contains(names), "expected {names:?} in: {}", text(out));
}

#[test]
fn s6_rewriting_history_is_caught() {
    let (net, alpha, bravo) = network();
    let ok = audit(&["verify"], &[&alpha, &bravo]);
    assert!(ok.status.success(), "{}", text(&ok));
    let ok = audit(&["cross"], &[&alpha, &bravo]);
    assert!(ok.status.success(), "{}", text(&ok));
    let leaves = read_leaves(&alpha);
    assert!(leaves.len() > 8, "{} entries", leaves.len());
    let work = |name: &str| {
        let dir = net.dir.path().join(name);
        copy_dir(&alpha, &dir);
        dir
    };

    // One byte flipped inside entry 5 (the entry bundle's bytes only).
    let dir = work("flipped");
    let path = dir.join(entries_path(0, leaves.len().min(256) as u64));
    let mut bytes = std::fs::read(&path).unwrap();
    let offset: usize = leaves[..5].iter().map(|l| l.len() + 2).sum::<usize>() + 2 + leaves[5].len() / 2;
    bytes[offset] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    assert_invalid(&audit(&["verify"], &[&dir]), "entry 5");

    // Entry 5 removed, the bundle otherwise consistent.
    let dir = work("removed");
    let mut removed = leaves.clone();
    removed.remove(5);
    rewrite_bundle(&dir, &removed);
    assert_invalid(&audit(&["verify"], &[&dir]), "entry 5");

    // Entries 5 and 6 swapped.
    let dir = work("swapped");
    let mut swapped = leaves.clone();
    swapped.swap(5, 6);
    rewrite_bundle(&dir, &swapped);
    assert_invalid(&audit(&["verify"], &[&dir]), "entry 5");

    // The entry bundle cut short.
    let dir = work("truncated");
    let path = dir.join(entries_path(0, leaves.len().min(256) as u64));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let last = leaves.len().min(256) - 1;
    assert_invalid(&audit(&["verify"], &[&dir]), &format!("entry {last}: its length prefix"));
    // A file the layout requires, missing: the bundle is invalid (spec §15.5), not unreadable.
    let dir = work("incomplete");
    std::fs::remove_file(dir.join("roster.bin")).unwrap();
    assert_invalid(&audit(&["verify"], &[&dir]), "roster.bin is missing");

    // A forged cosignature on the newest checkpoint.
    let dir = work("forged");
    let note = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    let cosig = note.lines().filter(|l| l.starts_with('\u{2014}')).nth(1).expect("a cosignature line");
    let (head, b64) = cosig.rsplit_once(' ').unwrap();
    let mut chars: Vec<char> = b64.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    let forged = format!("{head} {}", chars.into_iter().collect::<String>());
    std::fs::write(dir.join("checkpoint"), note.replace(cosig, &forged)).unwrap();
    assert_invalid(&audit(&["verify"], &[&dir]), "cosignature");

    // alpha rewrites its history after bravo co-signed: a new, self-consistent log under alpha's
    // own key, as long as the old one, in which one of its notices never happened.
    let home = net.home("alpha");
    let roster = home.roster().unwrap();
    let key = home.key().unwrap();
    let now = hotline_node::now_ms();
    let mut node = hotline_proto::Node::new(key.clone(), roster.clone(), now).unwrap();
    let bravo_id = roster.members.iter().find(|m| m.name == "bravo").unwrap().key;
    let incident: hotline_proto::Incident =
        serde_json::from_str(&std::fs::read_to_string(english_incident(net.dir.path())).unwrap()).unwrap();
    let mut rewritten: Vec<Vec<u8>> = Vec::new();
    while rewritten.len() < leaves.len() + 4 {
        let draft = hotline_proto::Draft {
            precedence: hotline_proto::Precedence::Routine,
            to: vec![(bravo_id, hotline_proto::Role::Action)],
            thread: None,
            in_reply_to: None,
            body: hotline_proto::Body::Incident(incident.clone()),
        };
        node.send_notice(now, draft).unwrap();
        while let Some(batch) = node.poll_persist() {
            rewritten.extend(batch.leaves);
        }
    }
    node.checkpoint(now);
    while let Some(batch) = node.poll_persist() {
        rewritten.extend(batch.leaves);
    }
    let dir = net.dir.path().join("rewritten");
    hotline_audit::bundle::write(&dir, &roster, hotline_proto::crypto::node_id(&key), &rewritten).unwrap();
    let alone = audit(&["verify"], &[&dir]);
    assert!(alone.status.success(), "on its own the rewritten log verifies: {}", text(&alone));
    let cross = audit(&["cross"], &[&dir, &bravo]);
    assert_invalid(&cross, "rewritten_log");
    assert!(text(&cross).contains("bravo entry"), "the evidence is bravo's cosigned entry: {}", text(&cross));
}

#[test]
fn the_report_covers_every_party_and_precedence() {
    let (_net, alpha, bravo) = network();
    let out = audit(&["report", "--format", "json"], &[&alpha, &bravo]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["compliance"].as_array().unwrap();
    let precedences: Vec<&str> = rows.iter().map(|r| r["precedence"].as_str().unwrap()).collect();
    assert_eq!(precedences, vec!["FLASH", "PRIORITY", "ROUTINE"], "{report}");
    assert!(rows.iter().all(|r| r["party"] == "bravo" && r["receipts"]["on_time"] == 1));
    let html = audit(&["report", "--format", "html"], &[&alpha, &bravo]);
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg"), "{html}");
}

/// Parties export their bundles at different moments. What one holds but an *older* bundle of
/// another cannot yet contain is a note ("stale_bundle": audit a later bundle), not a violation.
#[test]
fn bundles_of_different_moments_reconcile_with_notes_not_violations() {
    let (net, alpha, bravo) = network();
    let home = net.home("alpha");
    let (roster, id) = (home.roster().unwrap(), hotline_proto::crypto::node_id(&home.key().unwrap()));
    // alpha's honest bundle of an earlier moment: its log up to just before its last `sent`
    // entry, a message bravo's bundle holds.
    let leaves = read_leaves(&alpha);
    let mut verifier = hotline_proto::LogVerifier::new(roster.clone(), id, hotline_proto::Check::Chain);
    let entries: Vec<_> = leaves.iter().map(|l| verifier.push(l).unwrap()).collect();
    let last_sent =
        entries.iter().rposition(|v| matches!(v.entry.record, hotline_proto::Record::Sent { .. })).unwrap();
    let older = net.dir.path().join("alpha-older");
    hotline_audit::bundle::write(&older, &roster, id, &leaves[..last_sent]).unwrap();
    let out = audit(&["cross"], &[&older, &bravo]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(" 0 violations") && report.contains("stale_bundle"), "{report}");
    assert!(report.contains("audit a later bundle of alpha"), "{report}");
}

/// An outsider's check of an exported bundle, with the spec's rules and nothing but SHA-256 and
/// Ed25519 (no hotline types): every entry's signature, the hash chain, the tree root, and the
/// checkpoint note's signature.
#[test]
fn a_bundle_verifies_with_generic_sha256_and_ed25519_alone() {
    use ed25519_dalek::{Signature, VerifyingKey};
    let (_net, alpha, _bravo) = network();
    let m = manifest(&alpha);
    let key_bytes: [u8; 32] =
        hotline_proto::hex::decode(m["node"].as_str().unwrap()).unwrap().try_into().unwrap();
    let key = VerifyingKey::from_bytes(&key_bytes).unwrap();
    let varint = |b: &[u8]| -> (usize, usize) {
        let (mut v, mut i) = (0usize, 0);
        loop {
            v |= ((b[i] & 0x7f) as usize) << (7 * i);
            i += 1;
            if b[i - 1] & 0x80 == 0 {
                return (v, i);
            }
        }
    };
    let mut prev = vec![0u8; 32];
    let mut hashes = Vec::new();
    for leaf in read_leaves(&alpha) {
        // SignedEntry = varint length ‖ entry ‖ 64-byte signature.
        let (len, at) = varint(&leaf);
        let (entry, sig) = (&leaf[at..at + len], &leaf[at + len..]);
        assert_eq!(sig.len(), 64);
        let mut signed = b"cbm-hotline/v1/log-entry\0".to_vec();
        signed.extend_from_slice(entry);
        key.verify_strict(&signed, &Signature::from_bytes(sig.try_into().unwrap())).expect("entry signature");
        // LogEntry = network (32) ‖ node (32) ‖ varint index ‖ prev (32) ‖ …
        assert_eq!(&entry[32..64], &key_bytes);
        let (_, index_len) = varint(&entry[64..]);
        assert_eq!(&entry[64 + index_len..96 + index_len], &prev[..], "hash chain");
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&leaf);
        prev = h.finalize().to_vec();
        hashes.push(prev.clone());
    }
    assert_eq!(hotline_proto::hex::encode(&mth(&hashes)), m["root"].as_str().unwrap());
    // The newest checkpoint note: its root is the tree's at its size; the log's signature verifies.
    let note = std::fs::read_to_string(alpha.join("checkpoint")).unwrap();
    let (body, sigs) = note.split_once("\n\n").unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let size: usize = lines[1].parse().unwrap();
    use base64ct::Encoding;
    let root = base64ct::Base64::decode_vec(lines[2]).unwrap();
    assert_eq!(root, mth(&hashes[..size]));
    let first = sigs.lines().next().unwrap();
    let b64 = first.rsplit_once(' ').unwrap().1;
    let bytes = base64ct::Base64::decode_vec(b64).unwrap();
    let body = format!("{body}\n");
    key.verify_strict(body.as_bytes(), &Signature::from_bytes(bytes[4..].try_into().unwrap()))
        .expect("note signature");
}
