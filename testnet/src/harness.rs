//! A real network of `hotline` processes on loopback for tests: each test gets its own directory
//! and free ports, and every process is killed when the network is dropped.
//!
//! Test code: it panics with the reason on anything unexpected, which is what a failing test
//! should do. The processes are the `hotline` binary found by [`binary`].

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hotline_node::api::Request;
use hotline_node::client;
use hotline_node::home::Home;
use hotline_proto::{Check, LogVerifier, VerifiedEntry};
use serde_json::Value;

use crate::processes::{free_ports, wait_links, Processes};

/// The `hotline` binary the harness runs: `$HOTLINE_BIN` if set; else this very program if it is
/// `hotline`; else the `hotline` beside the running test's directory (`target/<profile>/`), which
/// cargo builds before it runs the integration tests of package `hotline`.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HOTLINE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the path of the running program");
    if exe.file_name().is_some_and(|n| n == "hotline") {
        return exe;
    }
    let dir = exe.parent().expect("a directory");
    let dir = if dir.ends_with("deps") { dir.parent().expect("a directory") } else { dir };
    let bin = dir.join("hotline");
    assert!(
        bin.exists(),
        "no hotline binary at {}: run the tests of package hotline, or set HOTLINE_BIN",
        bin.display()
    );
    bin
}

/// A short policy for tests: deadlines of seconds, heartbeats every half second, link tests and
/// checkpoints every second.
pub const FAST_POLICY: &str = r#"
heartbeat_interval_ms = 500
link_test_interval_ms = 1000
checkpoint_interval_ms = 1000
link_silence_ms = 3000
max_clock_skew_ms = 2000
retransmit_initial_ms = 100
retransmit_max_ms = 1000
required_languages = ["en"]
codebook = []
[flash]
receipt_ms = 1000
ack_ms = 2000
[immediate]
receipt_ms = 1000
ack_ms = 3000
[priority]
receipt_ms = 2000
ack_ms = 4000
[routine]
receipt_ms = 2000
ack_ms = 60000
"#;

pub struct Net {
    pub names: Vec<String>,
    processes: Processes,
    // Last, so that the processes stop before their directory goes.
    pub dir: tempfile::TempDir,
}

impl Net {
    /// `hotline testnet init` with `n` nodes and an optional policy (TOML text).
    pub fn init(n: usize, policy: Option<&str>) -> Net {
        let mut dir = tempfile::tempdir().unwrap();
        if std::env::var_os("HOTLINE_TEST_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("keeping the test network in {}", dir.path().display());
        }
        let ports = free_ports(n).unwrap();
        let mut args =
            vec!["testnet".to_string(), "init".into(), dir.path().join("net").display().to_string()];
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        args.extend(["--nodes".into(), n.to_string(), "--ports".into(), ports.join(",")]);
        if let Some(policy) = policy {
            let path = dir.path().join("policy.toml");
            std::fs::write(&path, policy).unwrap();
            args.extend(["--policy".into(), path.display().to_string()]);
        }
        let out = cli(None, &args);
        assert!(out.status.success(), "testnet init: {}", String::from_utf8_lossy(&out.stderr));
        let names =
            ["alpha", "bravo", "charlie", "delta", "echo"][..n].iter().map(|s| s.to_string()).collect();
        let level = std::env::var("HOTLINE_TEST_LOG").unwrap_or_else(|_| "info".into());
        let processes = Processes::new(binary(), dir.path().to_path_buf()).env("HOTLINE_LOG", &level);
        Net { names, processes, dir }
    }

    pub fn home(&self, name: &str) -> Home {
        Home::new(self.dir.path().join("net").join(name))
    }

    pub fn start(&mut self, name: &str) {
        self.start_limited(name, None);
    }

    /// Starts a node with at most `open_files` file descriptors (`ulimit -n`), if given.
    pub fn start_limited(&mut self, name: &str, open_files: Option<u32>) {
        let home = self.home(name);
        self.processes
            .start(name, &home, open_files, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Routes node `name` to its peers at `peers` from its next start on ([`Processes::route`]).
    pub fn route(&mut self, name: &str, peers: &std::collections::BTreeMap<String, String>) {
        self.processes.route(name, peers);
    }

    pub fn start_all(&mut self) {
        for name in self.names.clone() {
            self.start(&name);
        }
    }

    /// Waits until every node has every link tested (all link tests receipted).
    pub fn wait_links(&self) {
        for name in self.names.iter().filter(|n| self.processes.running(n)) {
            wait_links(&self.home(name), Duration::from_secs(20)).unwrap_or_else(|e| panic!("{e:#}"));
        }
    }

    pub fn pid(&self, name: &str) -> u32 {
        self.processes.pid(name).unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(&mut self, name: &str) {
        self.processes.kill9(name).unwrap();
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self, name: &str) {
        self.processes.stop(name).unwrap_or_else(|e| panic!("{e:#}"));
    }

    pub fn api(&self, name: &str, request: &Request) -> Value {
        client::call(&self.home(name).api_path(), request).unwrap_or_else(|e| panic!("{name}: {e:#}"))
    }

    /// Runs the CLI against a node's home.
    pub fn cli(&self, name: &str, args: &[&str]) -> Output {
        let mut all = vec!["--home".to_string(), self.home(name).dir().display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        cli(None, &all)
    }

    /// The CLI's stdout, asserting success.
    pub fn ok(&self, name: &str, args: &[&str]) -> String {
        let out = self.cli(name, args);
        assert!(
            out.status.success(),
            "hotline {args:?} at {name} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sets node `name`'s two-person rule (config.toml `[release]`) before it starts.
    pub fn second_officer(&self, name: &str, precedences: &[hotline_proto::Precedence]) {
        let home = self.home(name);
        let mut config = home.config().unwrap();
        config.release.second_officer = precedences.to_vec();
        home.write_config(&config).unwrap();
    }

    /// `hotline officer add` at node `name`, the password on standard input.
    pub fn add_officer(&self, name: &str, call_sign: &str, language: &str, password: &str) {
        use std::io::Write;
        let home = self.home(name).dir().display().to_string();
        let args = ["--home", &home, "officer", "add", call_sign, "--language", language, "--password-stdin"];
        let mut child = std::process::Command::new(binary())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "officer add: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `from` sends `to` a FLASH notice with an English incident; returns its id.
    pub fn send_flash(&self, from: &str, to: &str) -> String {
        let incident = english_incident(self.dir.path());
        let args = ["send", "--to", to, "--precedence", "flash", "--incident", incident.to_str().unwrap()];
        self.ok(from, &args).trim().to_string()
    }

    pub fn json(&self, name: &str, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(name, args)).unwrap()
    }

    /// A stopped node's durable log, fully verified.
    pub fn log(&self, name: &str) -> Vec<VerifiedEntry> {
        let home = self.home(name);
        let leaves = hotline_node::store::read_leaves(&home.store_path()).unwrap();
        let mut verifier = LogVerifier::new(
            home.roster().unwrap(),
            hotline_proto::crypto::node_id(&home.key().unwrap()),
            Check::Full,
        );
        leaves.iter().map(|l| verifier.push(l).unwrap_or_else(|e| panic!("{name}'s log: {e}"))).collect()
    }

    /// Exports the bundles of the named (running) nodes with `hotline log export` and audits them
    /// as an outsider would, with the CLI alone: every bundle verifies, the cross-audit finds no
    /// violation. Returns the bundle paths and the deadline report (`audit report --format json`).
    pub fn export_and_audit(&self, names: &[&str]) -> (Vec<String>, Value) {
        let mut bundles = Vec::new();
        for name in names {
            let dir = self.dir.path().join(format!("{name}-bundle"));
            self.ok(name, &["log", "export", "--out", dir.to_str().unwrap()]);
            bundles.push(dir.to_str().unwrap().to_string());
        }
        let audit = |args: &[&str]| {
            let mut all: Vec<String> = ["audit"].iter().chain(args).map(|s| s.to_string()).collect();
            all.extend(bundles.iter().cloned());
            let out = cli(None, &all);
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(
                out.status.success(),
                "hotline {all:?}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        };
        assert_eq!(audit(&["verify"]).matches(": OK").count(), names.len());
        let cross = audit(&["cross"]);
        assert!(cross.contains("0 violations"), "{cross}");
        let report = serde_json::from_str(&audit(&["report", "--format", "json"])).unwrap();
        (bundles, report)
    }

    pub fn node_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.processes.log_path(name)).unwrap_or_default()
    }
}

pub fn cli(cwd: Option<&Path>, args: &[String]) -> Output {
    let mut c = Command::new(binary());
    c.args(args).stdin(Stdio::null());
    if let Some(cwd) = cwd {
        c.current_dir(cwd);
    }
    c.output().unwrap()
}

pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/examples").join(name)
}

/// An incident file whose texts are English only (for networks that require only English).
pub fn english_incident(dir: &Path) -> PathBuf {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(example("s1-misidentification.json")).unwrap())
            .unwrap();
    for field in ["summary", "suspected_cause", "actions_taken", "requested_response"] {
        v[field].as_array_mut().unwrap().truncate(1);
    }
    v["human_control"]["statement"].as_array_mut().unwrap().truncate(1);
    let path = dir.join("incident-en.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// Resident memory of a process, in KiB.
///
/// # Panics
/// If it cannot be read: the test measures a node it started, so that is a failure.
pub fn rss_kib(pid: u32) -> u64 {
    crate::procfs::status_kib(pid, "VmRSS:").unwrap()
}
