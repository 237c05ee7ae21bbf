//! The `hotline-audit` binary, as an auditor who runs no node uses it: exit 0 on a sound bundle,
//! 4 on a tampered one, 1 on one it cannot read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use hotline_sim::fixtures::{roster, sim_policy, test_key};

mod common;

/// Alpha's genuine log of a few simulated minutes with bravo: link tests both ways, their
/// receipts, checkpoints and cosignatures.
fn alpha_log() -> Vec<Vec<u8>> {
    alpha_log_from(1_000_000, roster(2, sim_policy()))
}

/// Alpha's log as [`alpha_log`] makes it, starting at `t0` under `roster`.
fn alpha_log_from(t0: u64, roster: hotline_proto::Roster) -> Vec<Vec<u8>> {
    hotline_sim::fixtures::idle_logs(t0, &roster, 40).swap_remove(0)
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

/// A fresh copy of alpha's bundle in `dir/name`.
fn fresh(dir: &Path, name: &str, leaves: &[Vec<u8>]) -> std::path::PathBuf {
    let bundle = dir.join(name);
    let roster = roster(2, sim_policy());
    let alpha = hotline_proto::crypto::node_id(&test_key("alpha"));
    hotline_audit::bundle::write(&bundle, &roster, alpha, leaves).unwrap();
    bundle
}

/// Splits an entry bundle into its leaves (a 16-bit length, then the bytes).
fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

fn join(leaves: &[Vec<u8>]) -> Vec<u8> {
    leaves.iter().flat_map(|l| (l.len() as u16).to_be_bytes().into_iter().chain(l.iter().copied())).collect()
}

/// Spec §15.5 on hostile and incomplete bundles (issue 11, items 2, 3, 10 and 26): every file is
/// read within the bound the layout sets, only regular files are read, a missing file makes the
/// bundle invalid (4) while a directory that is no bundle is a failure to read (1), and errors
/// name the entry whose bytes are wrong.
#[test]
fn hostile_and_incomplete_bundles_are_refused_by_name_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = alpha_log();
    // The entry bundle of the whole log (the others are checkpoints' partial bundles).
    assert!(leaves.len() < 256, "one entry bundle");
    let entries = |b: &Path| b.join(format!("tile/entries/000.p/{}", leaves.len()));
    let alpha = hotline_proto::crypto::node_id(&test_key("alpha"));
    let mut verifier =
        hotline_proto::LogVerifier::new(roster(2, sim_policy()), alpha, hotline_proto::Check::Chain);
    let checkpoints = leaves
        .iter()
        .filter(|l| {
            matches!(verifier.push(l).unwrap().entry.record, hotline_proto::Record::Checkpoint { .. })
        })
        .count();
    assert!(checkpoints >= 2, "a log with checkpoints to note");

    // The count of notes is the log's checkpoints: `checkpoint`, the newest again, is not one more.
    let b = fresh(dir.path(), "sound", &leaves);
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("{checkpoints} checkpoint notes")), "{text}");

    // Every checkpoint's size has its partial tiles (spec §15.5), checked like the others: a
    // partial entry bundle or hash tile of an earlier checkpoint that is not the log's is refused.
    let mut v = hotline_proto::LogVerifier::new(roster(2, sim_policy()), alpha, hotline_proto::Check::Chain);
    let first_checkpoint = leaves
        .iter()
        .map(|l| v.push(l).unwrap().entry)
        .find(|e| matches!(e.record, hotline_proto::Record::Checkpoint { .. }) && e.index % 256 > 0)
        .expect("a checkpoint of a non-empty log")
        .index;
    for file in [format!("tile/entries/000.p/{first_checkpoint}"), format!("tile/0/000.p/{first_checkpoint}")]
    {
        let b = fresh(dir.path(), &format!("edge-{}", file.replace('/', "-")), &leaves);
        let path = b.join(&file);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (code, text) = audit(&["verify"], &b);
        assert_eq!(code, 4, "{file}: {text}");
        assert!(text.contains(&file), "{file} not named: {text}");
    }

    // An entry bundle of zeros: 256 empty leaves and then megabytes; refused, naming what follows.
    let b = fresh(dir.path(), "zeros", &leaves);
    std::fs::write(entries(&b), vec![0u8; 16 << 20]).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    // Larger than 256 leaves of the largest size can be: refused before it is read.
    std::fs::write(entries(&b), vec![0u8; 17 << 20]).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("more than it can be"), "{text}");

    // A symlink to /dev/zero as a hash tile, a FIFO as an entry bundle: refused at once.
    let b = fresh(dir.path(), "zero-link", &leaves);
    let tile = first_file(&b.join("tile/0"));
    std::fs::remove_file(&tile).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &tile).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    let b = fresh(dir.path(), "fifo", &leaves);
    let bundle0 = entries(&b);
    std::fs::remove_file(&bundle0).unwrap();
    if Command::new("mkfifo").arg(&bundle0).status().is_ok_and(|s| s.success()) {
        let (code, text) = audit(&["verify"], &b);
        assert_eq!(code, 4, "{text}");
        assert!(text.contains("not a regular file"), "{text}");
    }

    // A leaf in the middle that does not decode is named by its position, not as entry 0.
    let b = fresh(dir.path(), "bad-leaf", &leaves);
    let mut inner = split(&std::fs::read(entries(&b)).unwrap());
    let k = inner.len() / 2;
    inner[k] = vec![0xff; inner[k].len()];
    std::fs::write(entries(&b), join(&inner)).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains(&format!("entry {k}:")), "entry {k} not named: {text}");
    // A length prefix that runs past the end names its leaf too.
    let mut bytes = join(&inner[..k + 1]);
    let at = bytes.len() - inner[k].len() - 2;
    bytes[at..at + 2].copy_from_slice(&u16::MAX.to_be_bytes());
    std::fs::write(entries(&b), bytes).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains(&format!("entry {k}: its length prefix")), "{text}");

    // Missing files: the entry bundle, a checkpoint note, `checkpoint`: invalid, exit 4.
    for (name, missing) in [("no-entries", "entries"), ("no-note", "note"), ("no-checkpoint", "checkpoint")] {
        let b = fresh(dir.path(), name, &leaves);
        let path = match missing {
            "entries" => entries(&b),
            "note" => first_file(&b.join("checkpoints")),
            _ => b.join("checkpoint"),
        };
        std::fs::remove_file(&path).unwrap();
        let (code, text) = audit(&["verify"], &b);
        assert_eq!(code, 4, "{missing}: {text}");
        assert!(text.contains("missing"), "{missing}: {text}");
    }
    // `checkpoint` that is not the newest note.
    let b = fresh(dir.path(), "old-checkpoint", &leaves);
    std::fs::copy(first_file(&b.join("checkpoints")), b.join("checkpoint")).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    // A directory that is no bundle at all: exit 1, saying what to give.
    let (code, text) = audit(&["verify"], dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not an audit bundle"), "{text}");
}

/// Spec §15.3: a cosignature's timestamp is at most 2^63 − 1. A correctly signed line at 2^63
/// is out of range, and says so, rather than "does not verify" (issue 11, item 9).
#[test]
fn a_cosignature_timestamp_beyond_c2sp_range_is_named_out_of_range() {
    use hotline_proto::note;
    let dir = tempfile::tempdir().unwrap();
    let b = fresh(dir.path(), "far-future", &alpha_log());
    let r = roster(2, sim_policy());
    let bravo = test_key("bravo");
    let bravo_id = hotline_proto::crypto::node_id(&bravo);
    let newest = b.join("checkpoint");
    let (checkpoint, mut lines) = note::parse_note(&std::fs::read_to_string(&newest).unwrap()).unwrap();
    let t = 1u64 << 63;
    let sig = checkpoint.cosign(&bravo, t);
    let origin = note::origin_of(&r, &bravo_id).unwrap();
    lines.retain(|l| l.name != origin);
    lines.push(note::NoteSignature::cosignature(&origin, &bravo_id, t, &sig));
    let text = note::note(&checkpoint, &lines);
    std::fs::write(&newest, &text).unwrap();
    std::fs::write(b.join("checkpoints").join(checkpoint.size.to_string()), &text).unwrap();
    let (code, text) = audit(&["verify"], &b);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("out of range") && !text.contains("bravo does not verify"), "{text}");
}

fn run(args: &[&str], bundles: &[&Path]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline-audit")).args(args).args(bundles).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `verify` checks every bundle given and names each, with `--json` too (issue 11, item 6);
/// `cross` needs two bundles, refuses two networks as unreadable (not as tampering) and compares
/// two bundles of one log: an earlier one is a note, a fork is a violation (item 7).
#[test]
fn every_bundle_is_reported_and_two_bundles_of_one_log_are_compared() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = alpha_log();
    let good = fresh(dir.path(), "good", &leaves);
    let bad = fresh(dir.path(), "bad", &leaves);
    std::fs::remove_file(bad.join("roster.bin")).unwrap();
    let (code, out, err) = run(&["verify"], &[&bad, &good]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains(&format!("{}: INVALID", bad.display())), "{out}");
    assert!(out.contains(&format!("{}: OK", good.display())), "the bundle after a bad one is checked: {out}");
    assert!(err.contains("1 of 2 bundles do not verify"), "{err}");
    let (code, out, _) = run(&["verify", "--json"], &[&bad, &good]);
    assert_eq!(code, 4);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&v["format"], &v["ok"]),
        (&serde_json::json!("cbm-hotline-audit-verify/1"), &serde_json::json!(false))
    );
    let v = &v["bundles"];
    assert_eq!(v[0]["ok"], false);
    assert_eq!(v[0]["outcome"], "invalid");
    assert!(v[0]["error"].as_str().unwrap().contains("roster.bin is missing"));
    assert_eq!(v[1]["ok"], true);

    // One bundle is not a cross-audit: bad usage.
    let (code, out, err) = run(&["cross"], &[&good]);
    assert_eq!(code, 2, "{out}{err}");
    // Two networks: a failure to compare, not evidence of tampering.
    let other_policy = hotline_proto::Policy { max_clock_skew_ms: 1234, ..sim_policy() };
    let other = dir.path().join("other");
    let other_roster = roster(2, other_policy.clone());
    let alpha = hotline_proto::crypto::node_id(&test_key("alpha"));
    hotline_audit::bundle::write(
        &other,
        &other_roster,
        alpha,
        &alpha_log_from(1_000_000, other_roster.clone()),
    )
    .unwrap();
    let (code, out, err) = run(&["cross"], &[&good, &other]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("compares the logs of one network"), "{err}");

    // An earlier bundle of the same log: a note, and the longer one is audited.
    let early = fresh(dir.path(), "early", &leaves[..leaves.len() / 2]);
    let (code, out, err) = run(&["cross"], &[&early, &good]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("earlier_bundle"), "{out}");
    // Two versions of alpha's log (the same key, another history): a violation naming entry 0.
    let forked = fresh(dir.path(), "forked", &alpha_log_from(1_000_500, roster(2, sim_policy())));
    let (code, out, err) = run(&["cross"], &[&good, &forked]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("VIOLATION forked_log") && out.contains("entry 0 differs"), "{out}");
}

/// `log.jsonl`, the log an auditor reads, is verified line by line against the signed entries
/// (issue 11, item 4; spec §15.5): an edited field is named by its path, an added or a missing
/// line is found, while spacing and key order are not part of the rendering.
#[test]
fn the_readable_log_is_verified_against_the_signed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = alpha_log();
    let edit = |name: &str, f: &dyn Fn(&mut Vec<String>)| {
        let b = fresh(dir.path(), name, &leaves);
        let path = b.join("log.jsonl");
        let mut lines: Vec<String> =
            std::fs::read_to_string(&path).unwrap().lines().map(String::from).collect();
        f(&mut lines);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        audit(&["verify"], &b)
    };
    // Spacing and key order: still the same values.
    let (code, text) = edit("pretty", &|lines| {
        let v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        lines[3] = serde_json::to_string_pretty(&v).unwrap().replace('\n', " ");
    });
    assert_eq!(code, 0, "{text}");
    // A nested field edited: named by its path.
    let (code, text) = edit("edited", &|lines| {
        let mut v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        let t = v["time_ms"].as_u64().unwrap();
        v["time_ms"] = (t + 1).into();
        lines[3] = v.to_string();
    });
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("line 4: it does not render entry 2: `time_ms` differs"), "{text}");
    let (code, text) = edit("nested", &|lines| {
        let mut v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        v["detail"]["software"] = "hotline-proto/9.9.9".into();
        lines[1] = v.to_string();
    });
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("`detail.software` differs"), "{text}");
    // A line added at the end, the last line removed.
    let (code, text) = edit("added", &|lines| lines.push(lines[1].clone()));
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("a line after the last entry's"), "{text}");
    let (code, text) = edit("removed", &|lines| {
        lines.pop();
    });
    assert_eq!(code, 4, "{text}");
    assert!(text.contains(&format!("it ends before entry {}", leaves.len() - 1)), "{text}");
}

/// Spec §15.5: a note's cosignature lines are exactly the log's cosignatures of its checkpoint,
/// in log order: a line removed or repeated is found, though each line left verifies (issue 11,
/// item 5; and item 16: a line by a key the roster does not know is refused, not ignored).
#[test]
fn a_note_holds_exactly_the_cosignatures_the_log_records() {
    use hotline_proto::note;
    let dir = tempfile::tempdir().unwrap();
    let leaves = alpha_log();
    let with_cosignature = |b: &Path| {
        let mut notes: Vec<_> =
            std::fs::read_dir(b.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
        notes.sort();
        notes
            .into_iter()
            .find(|p| note::parse_note(&std::fs::read_to_string(p).unwrap()).unwrap().1.len() > 1)
            .expect("a note with a cosignature")
    };
    let rewrite = |name: &str, f: &dyn Fn(&mut Vec<note::NoteSignature>)| {
        let b = fresh(dir.path(), name, &leaves);
        let path = with_cosignature(&b);
        let (checkpoint, mut lines) = note::parse_note(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut lines);
        let text = note::note(&checkpoint, &lines);
        // The newest note is `checkpoint` too.
        if std::fs::read(b.join("checkpoint")).unwrap() == std::fs::read(&path).unwrap() {
            std::fs::write(b.join("checkpoint"), &text).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        audit(&["verify"], &b)
    };
    let (code, text) = rewrite("removed", &|lines| {
        lines.pop();
    });
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("cosignatures the log records"), "{text}");
    let (code, text) = rewrite("repeated", &|lines| lines.push(lines[1].clone()));
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("cosignatures the log records"), "{text}");
    let (code, text) = rewrite("stranger", &|lines| {
        let mut l = lines[1].clone();
        l.name = "example.org/witness".into();
        lines.push(l);
    });
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("not a roster member"), "{text}");
}

/// Spec §15.6 (issue 11, item 1): two recipients holding two different, validly signed versions
/// of one notice prove that its sender equivocated, without the sender's bundle.
#[test]
fn recipients_holding_two_versions_of_one_notice_prove_equivocation() {
    let dir = tempfile::tempdir().unwrap();
    let bundles = common::equivocating_recipients(dir.path());
    let (code, out, err) = run(&["cross"], &[&bundles[0], &bundles[1]]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("VIOLATION equivocation") && out.contains("two different notices"), "{out}");
    assert!(out.contains("bravo entry") && out.contains("charlie entry"), "evidence on both sides: {out}");
}

/// Spec §15.6 (issue 11, item 28): a log signed at times after the audit is a violation at once,
/// not a `stale_bundle` note that no later bundle could ever settle.
#[test]
fn a_log_signed_in_the_future_is_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let future = alpha_log_from(now_ms + 86_400_000, roster(2, sim_policy()));
    let (a, b) = (fresh(dir.path(), "a", &future), fresh(dir.path(), "b", &future));
    let (code, out, err) = run(&["cross"], &[&a, &b]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("VIOLATION signed_in_the_future") && out.contains("alpha entry 0"), "{out}");
    let present = alpha_log_from(now_ms - 86_400_000, roster(2, sim_policy()));
    let (a, b) = (fresh(dir.path(), "c", &present), fresh(dir.path(), "d", &present));
    let (code, out, err) = run(&["cross"], &[&a, &b]);
    assert_eq!(code, 0, "{out}{err}");
}
