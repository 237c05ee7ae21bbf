//! The `hotline-audit` binary, as an auditor who runs no node uses it: exit 0 on a sound bundle,
//! 4 on a tampered one, 1 on one it cannot read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use hotline_proto::Node;
use hotline_sim::fixtures::{roster, sim_policy, test_key};

/// Alpha's genuine log of a few simulated minutes with bravo: link tests both ways, their
/// receipts, checkpoints and cosignatures.
fn alpha_log() -> Vec<Vec<u8>> {
    let names = ["alpha", "bravo"];
    let mut nodes: Vec<Node> =
        names.iter().map(|n| Node::new(test_key(n), roster(2, sim_policy()), 1_000_000).unwrap()).collect();
    let mut logs = vec![Vec::new(), Vec::new()];
    for step in 0..40 {
        let now = 1_000_000 + step * 10_000;
        for i in 0..2 {
            nodes[i].handle_timeout(now);
            while let Some(batch) = nodes[i].poll_persist() {
                logs[i].extend(batch.leaves);
                let len = logs[i].len() as u64;
                nodes[i].persisted(len);
            }
            let from = nodes[i].id();
            while let Some(t) = nodes[i].poll_transmit() {
                let _ = nodes[1 - i].handle_frame(now, from, &t.frame);
            }
        }
    }
    logs.swap_remove(0)
}

fn audit(args: &[&str], bundle: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline-audit")).args(args).arg(bundle).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The first file under `dir`, depth first.
fn first_file(dir: &Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let first = entries.into_iter().next().expect("a file");
    if first.is_dir() {
        first_file(&first)
    } else {
        first
    }
}

#[test]
fn verifies_refuses_tampering_and_says_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("alpha");
    let leaves = alpha_log();
    assert!(leaves.len() > 10, "a log worth auditing");
    let roster = roster(2, sim_policy());
    let alpha = hotline_proto::crypto::node_id(&test_key("alpha"));
    hotline_audit::bundle::write(&bundle, &roster, alpha, &leaves).unwrap();

    let (code, text) = audit(&["verify"], &bundle);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(": OK"), "{text}");
    let (code, text) = audit(&["report", "--format", "json"], &bundle);
    assert_eq!(code, 0, "{text}");

    // One byte in the middle of the first entry bundle flipped: invalid, exit 4.
    let tile = first_file(&bundle.join("tile/entries"));
    let mut bytes = std::fs::read(&tile).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&tile, bytes).unwrap();
    let (code, text) = audit(&["verify"], &bundle);
    assert_eq!(code, 4, "{text}");

    let (code, text) = audit(&["verify"], &dir.path().join("no-such-bundle"));
    assert_eq!(code, 1, "{text}");
}
