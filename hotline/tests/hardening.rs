//! Hardening against local users and hostile local files (spec §11.2), on real processes: the
//! operator API survives descriptor exhaustion and caps its connections, closed watches are let
//! go at once, the node directory is private whatever the umask, and hostile files are refused
//! before they are read.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hotline_node::api::{Request, MAX_CONNECTIONS};
use hotline_node::client;
use hotline_testnet::harness::{binary, wait_until, Net, FAST_POLICY};
use hotline_testnet::procfs::open_fds;

fn status_ok(net: &Net, name: &str) -> bool {
    client::call(&net.home(name).api_path(), &Request::Status {}).is_ok()
}

/// Connects to the API and reads nothing; `None` if the connection is refused.
fn idle_connection(net: &Net, name: &str) -> Option<UnixStream> {
    UnixStream::connect(net.home(name).api_path()).ok()
}

#[test]
fn the_operator_api_survives_running_out_of_descriptors() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start("alpha");
    let baseline = open_fds(net.pid("alpha"));
    net.stop("alpha");
    // Room for the node's own descriptors and a dozen connections, fewer than the API's cap, so
    // that the descriptors run out first.
    let limit = baseline + 12;
    const { assert!(12 < MAX_CONNECTIONS) };
    net.start_limited("alpha", Some(limit as u32));
    let pid = net.pid("alpha");
    let held: Vec<UnixStream> = (0..MAX_CONNECTIONS).filter_map(|_| idle_connection(&net, "alpha")).collect();
    wait_until("alpha has used up its descriptors", Duration::from_secs(10), || open_fds(pid) >= limit - 1);
    // Every descriptor is taken: requests fail now, but the node is up.
    drop(held);
    wait_until("the API answers again once descriptors are free", Duration::from_secs(20), || {
        status_ok(&net, "alpha")
    });
    let log = net.node_log("alpha");
    assert!(log.contains("cannot accept operator connections"), "the exhaustion was not logged:\n{log}");
}

#[test]
fn operator_connections_are_capped_and_closed_watches_let_go() {
    // The default policy: no event in the seconds this takes, so nothing but the hang-up itself
    // can release a watch.
    let mut net = Net::init(2, None);
    net.start("alpha");
    let pid = net.pid("alpha");
    // Watches that hang up are let go at once, not at the next event.
    let mut watches = Vec::new();
    for _ in 0..10 {
        let mut s = UnixStream::connect(net.home("alpha").api_path()).unwrap();
        s.write_all(b"{\"op\":\"watch\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(s.try_clone().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("watching"), "{line}");
        watches.push(s);
    }
    let watching = open_fds(pid);
    drop(watches);
    wait_until("closed watches are released", Duration::from_secs(5), || open_fds(pid) + 10 <= watching);
    std::thread::sleep(Duration::from_millis(200)); // their slots are returned just after
                                                    // The cap: one connection more than the cap is told why, and the API serves again once some
                                                    // close. The node takes connections in order, so the one after the cap finds every slot taken.
    let held: Vec<UnixStream> =
        (0..MAX_CONNECTIONS).map(|_| idle_connection(&net, "alpha").unwrap()).collect();
    let extra = idle_connection(&net, "alpha").unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    BufReader::new(extra).read_line(&mut line).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error"].as_str().unwrap().contains(&format!("{MAX_CONNECTIONS} operator connections")),
        "{line}"
    );
    drop(held);
    wait_until("the API answers once connections close", Duration::from_secs(10), || {
        status_ok(&net, "alpha")
    });
}

/// `hotline ARGS` under `umask 022`.
fn run_with_umask(args: &[&str]) -> std::process::Output {
    Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn node_directories_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net");
    let out =
        run_with_umask(&["testnet", "init", net.to_str().unwrap(), "--nodes", "2", "--base-port", "47950"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let home = net.join("alpha");
    assert_eq!(mode(&net), 0o700);
    assert_eq!(mode(&home), 0o700);
    for file in ["node.key", "config.toml", "roster.bin", "card.json"] {
        let path = home.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    // The store is created private on first start; a reachable home is refused with the fix.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_with_umask(&["--home", home.to_str().unwrap(), "run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("chmod 700 {}", home.display())), "{err}");
}

/// Runs `hotline run` on `home`, waiting at most 20 s; returns its stderr (or fails the test if
/// it did not stop by itself).
fn run_briefly(home: &std::path::Path) -> String {
    let mut child = Command::new(binary())
        .args(["--home", home.to_str().unwrap(), "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hotline run on a hostile file did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    err
}

#[test]
fn hostile_local_files_are_refused_before_they_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net");
    let out =
        run_with_umask(&["testnet", "init", net.to_str().unwrap(), "--nodes", "2", "--base-port", "47960"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let home = net.join("alpha");
    // A sparse configuration of 2 GiB: refused from its size, without reading it.
    let config = home.join("config.toml");
    let saved = std::fs::read(&config).unwrap();
    std::fs::OpenOptions::new().write(true).open(&config).unwrap().set_len(2 << 30).unwrap();
    let err = run_briefly(&home);
    assert!(err.contains("at most 65536 bytes"), "{err}");
    std::fs::write(&config, &saved).unwrap();
    // A FIFO in place of the roster: refused, not waited on.
    let roster = home.join("roster.bin");
    std::fs::remove_file(&roster).unwrap();
    assert!(Command::new("mkfifo").arg(&roster).status().unwrap().success());
    let err = run_briefly(&home);
    assert!(err.contains("not a regular file"), "{err}");
    // A member card with a huge unknown field is refused, and not echoed in full.
    let card = tmp.path().join("card.json");
    let huge = "A".repeat(10 << 20);
    std::fs::write(&card, format!("{{\"name\":\"x\",\"key\":\"{huge}\",\"addresses\":[],\"languages\":[]}}"))
        .unwrap();
    let out = Command::new(binary())
        .args(["roster", "build", "--network", "n", "--out"])
        .arg(tmp.path().join("r.bin"))
        .arg("--card")
        .arg(&card)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stderr.len() < 4096, "{} bytes of error", out.stderr.len());
}

/// A byte flipped inside the last entry of a stopped node's store (which no later entry's `prev`
/// covers) makes the node refuse to start, naming the entry, instead of serving and co-signing a
/// damaged log (spec §6.10).
#[test]
fn a_damaged_last_entry_is_refused_at_start() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    net.stop("alpha");
    net.stop("bravo");
    let home = net.home("alpha");
    let store = home.store_path();
    let leaves = hotline_node::store::read_leaves(&store).unwrap();
    let last = leaves.last().unwrap();
    let mut bytes = std::fs::read(&store).unwrap();
    let at =
        bytes.windows(last.len()).position(|w| w == last.as_slice()).expect("the last leaf is stored as is");
    // A byte of the entry's signature (the leaf's last 64 bytes).
    bytes[at + last.len() - 10] ^= 0x01;
    std::fs::write(&store, &bytes).unwrap();
    let err = run_briefly(home.dir());
    let index = leaves.len() - 1;
    assert!(
        err.contains(&format!("entry {index}")) && err.contains("does not verify"),
        "expected a refusal naming entry {index}: {err}"
    );
}

/// Sets the soft file-size limit of a running process (`prlimit`, util-linux): writes beyond it
/// fail with EFBIG, as writes to a full disk fail with ENOSPC.
fn limit_file_size(pid: u32, soft: &str) {
    let status = Command::new("prlimit")
        .args([format!("--pid={pid}"), format!("--fsize={soft}:unlimited")])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit failed");
}

/// A full disk is an alarm, not a crash (issue 10): the node stays up, says why it refuses new
/// notices, keeps answering reads, and writes again by itself once space returns; every notice
/// it said was stored is in its log afterwards, and nothing was receipted that it did not store.
#[test]
fn a_full_disk_refuses_new_notices_keeps_serving_and_recovers_by_itself() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    let incident = hotline_testnet::harness::english_incident(net.dir.path());
    let send = |net: &Net| {
        net.cli(
            "alpha",
            &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident.to_str().unwrap()],
        )
    };
    let pid = net.pid("alpha");
    let size = std::fs::metadata(net.home("alpha").store_path()).unwrap().len();
    limit_file_size(pid, &size.to_string());
    let mut stored = Vec::new();
    let mut refusal = None;
    for _ in 0..400 {
        let out = send(&net);
        if out.status.success() {
            stored.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        } else {
            refusal = Some(String::from_utf8_lossy(&out.stderr).to_string());
            break;
        }
    }
    let refusal = refusal.expect("a send fails once the store cannot grow");
    assert!(refusal.contains("store"), "the refusal does not say why: {refusal}");
    // Still up, still answering reads, and saying what is wrong.
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the node exited");
    let status = net.json("alpha", &["status", "--json"]);
    assert!(status["store_error"].is_string(), "status does not show the store error: {status}");
    net.ok("alpha", &["inbox"]);
    let again = send(&net);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("store full"), "{again:?}");
    // Space returns: the node writes again by itself.
    limit_file_size(pid, "unlimited");
    wait_until("the store writes again", Duration::from_secs(20), || {
        net.json("alpha", &["status", "--json"])["store_error"].is_null()
    });
    stored.push(
        net.ok(
            "alpha",
            &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident.to_str().unwrap()],
        )
        .trim()
        .to_string(),
    );
    // Every notice reported stored survives a restart and reaches bravo.
    net.stop("alpha");
    net.start("alpha");
    net.wait_links();
    for id in &stored {
        wait_until("the receipt", Duration::from_secs(20), || {
            net.json("alpha", &["show", id, "--json"])["notices"][0]["parties"][0]["receipt_ms"].is_u64()
        });
    }
    // Nothing was receipted that alpha did not store: the cross-audit of both logs finds every
    // notice bravo accepted and receipted in alpha's log, byte for byte.
    let bundles: Vec<String> = ["alpha", "bravo"]
        .iter()
        .map(|name| {
            let out = net.dir.path().join(format!("{name}-bundle"));
            net.ok(name, &["log", "export", "--out", out.to_str().unwrap()]);
            out.to_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec!["audit", "cross"];
    args.extend(bundles.iter().map(String::as_str));
    net.ok("alpha", &args);
}

/// Alpha, with a FLASH notice to bravo receipted and a checkpoint covering it co-signed by
/// bravo; returns the notice's id.
fn notice_cosigned(net: &Net) -> String {
    let id = net.send_flash("alpha", "bravo");
    wait_until("the receipt", Duration::from_secs(20), || {
        net.json("alpha", &["show", &id, "--json"])["notices"][0]["parties"][0]["receipt_ms"].is_u64()
    });
    // Checkpoints every second (FAST_POLICY): wait until bravo co-signed one beyond the receipt.
    let entries = net.json("alpha", &["status", "--json"])["log_entries"].as_u64().unwrap();
    wait_until("a cosignature by bravo", Duration::from_secs(20), || {
        net.json("alpha", &["status", "--json"])["links"][0]["cosigned_size"].as_u64().unwrap() >= entries
    });
    id
}

/// A store restored from an older backup (issue 10 item 8b, spec §6.13): the node starts on the
/// valid but shorter log, learns from bravo's first heartbeat that bravo holds its signed
/// checkpoint of more, says so, and signs nothing — a send is refused saying why — until the
/// newer store is put back, when it works again.
#[test]
fn a_store_restored_from_an_older_backup_is_found_and_signs_nothing() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    let store = net.home("alpha").store_path();
    net.stop("alpha");
    let backup = std::fs::read(&store).unwrap();
    net.start("alpha");
    net.wait_links();
    notice_cosigned(&net);
    net.stop("alpha");
    let newer = std::fs::read(&store).unwrap();
    std::fs::write(&store, &backup).unwrap();
    net.start("alpha");
    wait_until("alpha finds its store rolled back", Duration::from_secs(20), || {
        net.json("alpha", &["status", "--json"])["rolled_back"].is_string()
    });
    let status = net.ok("alpha", &["status"]);
    assert!(status.contains("STORE ROLLED BACK") && status.contains("bravo"), "{status}");
    let incident = hotline_testnet::harness::english_incident(net.dir.path());
    let refused = net.cli(
        "alpha",
        &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident.to_str().unwrap()],
    );
    assert!(!refused.status.success(), "a rolled-back node sent a notice");
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("lost entries") && why.contains("backup"), "{why}");
    let entries = net.json("alpha", &["status", "--json"])["log_entries"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        net.json("alpha", &["status", "--json"])["log_entries"].as_u64().unwrap(),
        entries,
        "a rolled-back node went on logging"
    );
    // The operator puts the newer store back: the node starts and works normally.
    net.stop("alpha");
    std::fs::write(&store, &newer).unwrap();
    net.start("alpha");
    net.wait_links();
    std::thread::sleep(Duration::from_secs(2));
    assert!(net.json("alpha", &["status", "--json"])["rolled_back"].is_null());
    net.ok(
        "alpha",
        &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident.to_str().unwrap()],
    );
}

/// Single bytes of a stopped node's store flipped at many positions (issue 10 item 8): each
/// time the node either refuses to start with an error, or starts and then, once its peer's
/// heartbeats have come, serves its whole log intact (it exports and verifies, and holds every
/// entry it had), or says its store lost entries. Never a damaged or shorter log served quietly.
#[test]
fn a_store_with_a_flipped_byte_is_refused_or_found_never_served_quietly() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    notice_cosigned(&net);
    let (store, peer_store) = (net.home("alpha").store_path(), net.home("bravo").store_path());
    net.stop("alpha");
    net.stop("bravo");
    let intact = std::fs::read(&store).unwrap();
    // Bravo starts each time as it was, holding alpha's checkpoint as of the intact store (a node
    // that ran on a flipped store and was served intact would otherwise have moved it on).
    let peer_intact = std::fs::read(&peer_store).unwrap();
    let had = hotline_node::store::read_leaves(&store).unwrap().len();
    // The database's header and commit slots (the first pages), densely, and the rest spread.
    let header = (0..8192).step_by(256);
    let positions: Vec<usize> =
        header.chain((0..16).map(|k| k * intact.len() / 16 + (k * 37) % 97)).collect();
    let (mut refused, mut found, mut intact_served) = (0, 0, 0);
    for at in positions.into_iter().filter(|at| *at < intact.len()) {
        let mut bytes = intact.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&store, &bytes).unwrap();
        std::fs::write(&peer_store, &peer_intact).unwrap();
        net.start("bravo");
        let home = net.home("alpha");
        // A refusal to start is an answer; a start that hangs is not.
        let mut child = Command::new(binary())
            .args(["--home", home.dir().to_str().unwrap(), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let serving = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            child.try_wait().unwrap().is_none()
                && home.api_path().exists()
                && net.cli("alpha", &["status", "--json"]).status.success()
        });
        if !serving {
            let _ = child.kill();
            let status = child.wait().unwrap();
            assert!(!status.success(), "byte {at}: the node neither served nor refused");
            refused += 1;
        } else {
            // Bravo's heartbeats come every half second.
            std::thread::sleep(Duration::from_millis(1000));
            let status = net.json("alpha", &["status", "--json"]);
            if status["rolled_back"].is_string() {
                eprintln!("byte {at}: {} of {had} entries: {}", status["log_entries"], status["rolled_back"]);
                found += 1;
            } else {
                let out = net.dir.path().join(format!("flip-{at}"));
                let export = net.cli("alpha", &["log", "export", "--out", out.to_str().unwrap()]);
                assert!(
                    export.status.success(),
                    "byte {at}: a started node's log does not export: {export:?}"
                );
                net.ok("alpha", &["audit", "verify", out.to_str().unwrap()]);
                let size = status["log_entries"].as_u64().unwrap() as usize;
                assert!(size > had, "byte {at}: the node serves {size} entries of the {had} it had, quietly");
                intact_served += 1;
            }
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::SIGTERM,
            );
            let _ = child.wait();
        }
        net.stop("bravo");
    }
    eprintln!(
        "flipped bytes: {refused} refused at start, {found} found rolled back, {intact_served} served intact"
    );
    assert!(refused > 0, "no flip was refused: the positions miss the data");
}
