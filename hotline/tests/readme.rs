//! The README's walk-throughs for officers and testers, run as written (issue 12: "the README's
//! officer and tester walk-throughs run as written"): its shell blocks are taken from README.md
//! itself, so a command or flag that drifts from the binary fails here. Only what cannot run
//! unattended is adapted: the testnet goes to a temporary directory on free ports instead of
//! /tmp/net and 47000, `testnet up` runs in the background instead of in its own terminal, and a
//! command that runs until interrupted (`watch`, `logs --follow`) is given two seconds.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use hotline_testnet::harness::binary;

/// The `sh` blocks of the README's section for liaison officers and testers, in order.
fn walkthrough_blocks() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("## For liaison officers and testers").expect("the section is there");
    let end = start + readme[start..].find("\n## The scenarios").expect("the section ends");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme[start..end].lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), line) => block.push(line.to_string()),
            (None, _) => {}
        }
    }
    blocks
}

/// A README line as the script runs it.
fn adapt(line: &str, net: &str, base_port: u16) -> Option<String> {
    // Trailing comments go (no argument in the walk-through holds " # ").
    let line = match line.find("  #") {
        Some(i) => &line[..i],
        None => line,
    };
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.replace("/tmp/net", net);
    let line = if line.starts_with("hotline testnet init") {
        format!("{line} --base-port {base_port}")
    } else if line.starts_with("hotline testnet up") {
        // In the background, then wait until every node runs and has heard every peer.
        // The binary itself, not the shell function: dash would leave the saved descriptors of
        // a function's redirection (this test's pipes) open in the background job.
        format!(
            "{} >\"$WORK/up.log\" 2>&1 </dev/null &\n\
             for i in $(seq 300); do\n\
               s=$(hotline testnet status {net} --json 2>/dev/null) && ! echo \"$s\" | grep -q '\"heard\":false' && ! echo \"$s\" | grep -q '\"node\":null' && break\n\
               sleep 0.2\n\
             done",
            line.replacen("hotline", "\"$BIN\"", 1)
        )
    } else if line.contains(" watch") || line.contains("--follow") {
        format!("timeout 2 {} || [ $? -eq 124 ]", line.replacen("hotline", "\"$BIN\"", 1))
    } else {
        line
    };
    Some(line)
}

#[test]
fn the_readme_walkthroughs_run_as_written() {
    let blocks = walkthrough_blocks();
    assert!(blocks.len() >= 3, "the README's walk-through blocks: {blocks:?}");
    let work = tempfile::tempdir().unwrap();
    let net = work.path().join("net").display().to_string();
    // The walk-through's paths are relative to the repository (spec/examples/...).
    let examples = work.path().join("spec/examples");
    std::fs::create_dir_all(&examples).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/examples/s1-misidentification.json"),
        examples.join("s1-misidentification.json"),
    )
    .unwrap();
    let ports = hotline_testnet::processes::free_ports(1).unwrap();
    // The officer's walk-through (block 1) and breaking one node at a time (block 3); block 2
    // only starts the testnet with faults, and the last runs the soak test.
    // Whatever happens, the testnet goes down with the script.
    let mut script = format!(
        "set -ex\nhotline() {{ \"$BIN\" \"$@\"; }}\ntrap '\"$BIN\" testnet down {net} >/dev/null 2>&1 || true' EXIT\n"
    );
    for line in blocks[0].iter().chain(&blocks[2]) {
        if let Some(line) = adapt(line, &net, ports[0]) {
            script.push_str(&line);
            script.push('\n');
        }
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("BIN", binary())
        .env("WORK", work.path())
        .env("HOTLINE_NO_BELL", "1")
        .env_remove("HOTLINE_HOME")
        .output()
        .unwrap();
    let up = std::fs::read_to_string(work.path().join("up.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the walk-through failed:\n--- script\n{script}\n--- stdout\n{}\n--- stderr\n{}\n--- testnet up\n{up}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("alpha/1"), "the first FLASH is alpha/1, as the README says:\n{stdout}");
    assert!(stdout.contains("killed bravo") && stdout.contains("restarted bravo"), "{stdout}");
}
