//! The command line as people use it: setting up a network by hand, codebook messages, watching,
//! testnets, `--help`, and exit codes that say what happened.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use hotline_testnet::harness::{binary, cli, wait_until};

fn run(args: &[&str]) -> std::process::Output {
    cli(None, &args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "hotline {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A testnet of `nodes` on free ports, made by `hotline testnet init` in a new directory: the
/// directory, the testnet's path in it, and the ports.
fn testnet(nodes: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let ports: Vec<String> = (0..nodes).map(|_| free_port().to_string()).collect();
    ok(&[
        "testnet",
        "init",
        net.to_str().unwrap(),
        "--nodes",
        &nodes.to_string(),
        "--ports",
        &ports.join(","),
    ]);
    (dir, net, ports)
}

#[test]
fn help_everywhere() {
    for sub in [
        vec![],
        vec!["demo"],
        vec!["keygen"],
        vec!["init"],
        vec!["roster"],
        vec!["roster", "build"],
        vec!["run"],
        vec!["send"],
        vec!["reply"],
        vec!["codebook", "send"],
        vec!["inbox"],
        vec!["sent"],
        vec!["show"],
        vec!["ack"],
        vec!["watch"],
        vec!["status"],
        vec!["log", "export"],
        vec!["testnet", "init"],
        vec!["testnet", "up"],
        vec!["testnet", "status"],
        vec!["testnet", "kill"],
        vec!["testnet", "restart"],
        vec!["testnet", "logs"],
        vec!["testnet", "down"],
        vec!["checkpoint"],
        vec!["incident", "template"],
        vec!["attachment", "check"],
        vec!["incident", "check"],
        vec!["completions"],
        vec!["man"],
        vec!["audit", "verify"],
        vec!["audit", "cross"],
        vec!["audit", "report"],
        vec!["bench"],
        vec!["console"],
        vec!["officer", "add"],
        vec!["officer", "list"],
        vec!["drafts"],
        vec!["release"],
        vec!["discard"],
    ] {
        let mut args = sub.clone();
        args.push("--help");
        let out = ok(&args);
        assert!(out.contains("Usage:"), "{sub:?}: {out}");
        // --home only where there is a node directory to mean (issue 12, item 11).
        if matches!(sub.first().copied(), Some("testnet" | "audit" | "demo" | "bench")) {
            assert!(!out.contains("--home"), "{sub:?} offers --home: {out}");
        }
        if sub.is_empty() {
            assert!(out.contains("--home"), "{out}");
        }
    }
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn a_network_by_hand_with_a_codebook() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    // keygen writes a key openssl-compatible tools read, and prints the public key.
    let public = ok(&["keygen", "--out", &d("spare.key")]);
    assert_eq!(public.trim().len(), 64);
    let mut cards = Vec::new();
    for name in ["alpha", "bravo"] {
        let port = free_port().to_string();
        let listen = format!("127.0.0.1:{port}");
        let card = ok(&["--home", &d(name), "init", "--name", name, "--listen", &listen, "--language", "en"]);
        assert!(card.contains(name));
        cards.push(d(&format!("{name}/card.json")));
    }
    std::fs::write(
        dir.path().join("policy.toml"),
        r#"
heartbeat_interval_ms = 500
link_test_interval_ms = 1000
checkpoint_interval_ms = 1000
link_silence_ms = 3000
max_clock_skew_ms = 2000
retransmit_initial_ms = 100
retransmit_max_ms = 1000
required_languages = ["en"]
[flash]
receipt_ms = 5000
ack_ms = 600000
[immediate]
receipt_ms = 10000
ack_ms = 1800000
[priority]
receipt_ms = 30000
ack_ms = 10800000
[routine]
receipt_ms = 60000
ack_ms = 21600000
[[codebook]]
number = 7
word = "LANTERN"
meaning = [{ lang = "en", text = "Media attributed to your officials is fabricated; please deny it." }]
"#,
    )
    .unwrap();
    let built = ok(&[
        "roster",
        "build",
        "--network",
        "by-hand",
        "--card",
        &cards[0],
        "--card",
        &cards[1],
        "--policy",
        &d("policy.toml"),
        "--out",
        &d("roster.bin"),
    ]);
    let network_id = built.trim().trim_start_matches("network id ").to_string();
    let shown = ok(&["roster", "show", &d("roster.bin"), "--json"]);
    assert!(shown.contains(&network_id));
    for name in ["alpha", "bravo"] {
        ok(&["--home", &d(name), "roster", "install", &d("roster.bin")]);
    }
    // A roster that does not name the node is refused.
    let out = run(&["--home", &d("alpha"), "roster", "install", &d("spare.key")]);
    assert!(!out.status.success());
    // Not running yet: exit code 3 and a message that says what to do.
    let out = run(&["--home", &d("alpha"), "status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hotline run"));

    let mut nodes: Vec<_> = ["alpha", "bravo"]
        .iter()
        .map(|name| {
            Command::new(binary())
                .args(["--home", &d(name), "run"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for name in ["alpha", "bravo"] {
        wait_until("the node answers", Duration::from_secs(20), || {
            run(&["--home", &d(name), "status"]).status.success()
        });
    }
    // bravo watches.
    let mut watch = Command::new(binary())
        .args(["--home", &d("bravo"), "watch", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    // And in words, as an officer reads them (issue 12, item 5).
    let mut words = Command::new(binary())
        .args(["--home", &d("bravo"), "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(words.stdout.take().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(300));
    // The codebook, and a coded message with an attachment by hash.
    assert!(ok(&["--home", &d("alpha"), "codebook", "list"]).contains("LANTERN"));
    std::fs::write(dir.path().join("video.mp4"), b"not really a video").unwrap();
    let id =
        ok(&["--home", &d("alpha"), "codebook", "send", "7", "--to", "bravo", "--attach", &d("video.mp4")])
            .trim()
            .to_string();
    let unknown = run(&["--home", &d("alpha"), "codebook", "send", "99", "--to", "bravo"]);
    assert_eq!(unknown.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("LANTERN (7)"), "the error lists the codes");
    let event = loop {
        let line = lines.next().unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "notice_received" {
            break v;
        }
    };
    assert_eq!(event["notice"], id.as_str());
    assert_eq!(event["kind"], "codebook");
    let new = loop {
        let line = said.next().unwrap().unwrap();
        if line.contains("NEW ") {
            break line;
        }
    };
    assert!(new.contains(&id) && new.contains("you must acknowledge it by 20"), "{new}");
    // Its words follow, not only its id (issue 12, item 5).
    let text = said.next().unwrap().unwrap();
    assert!(text.contains("LANTERN") && text.contains(&format!("hotline show {id}")), "{text}");
    // By word, in any case (issue 12, item 6); the attachment is typed by its extension.
    let by_word = ok(&["--home", &d("alpha"), "codebook", "send", "lantern", "--to", "bravo"]);
    assert!(by_word.trim().starts_with("alpha/"), "{by_word}");
    let shown = ok(&["--home", &d("alpha"), "show", &id, "--json"]);
    assert_eq!(shown.lines().count(), 1, "one line per object (issue 12, item 15): {shown}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["api"], 1, "{shown}");
    let attachment = &shown["notices"][0]["body"]["codebook"]["attachments"][0];
    assert_eq!(attachment["media_type"], "video/mp4", "{shown}");
    let inbox = ok(&["--home", &d("bravo"), "inbox"]);
    assert!(inbox.contains("LANTERN (7)"), "{inbox}");
    // What alpha sent, newest first, with bravo's progress; and a hand-over's span.
    let sent = ok(&["--home", &d("alpha"), "sent", "--json"]);
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    let ids: Vec<&str> = sent["sent"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids.last(), Some(&id.as_str()), "oldest last: {sent}");
    assert!(ids[0] == by_word.trim(), "newest first: {sent}");
    let sent = ok(&["--home", &d("alpha"), "sent", "--limit", "1"]);
    assert!(sent.contains(by_word.trim()) && sent.contains("bravo"), "{sent}");
    let future = hotline_proto::utc::rfc3339_ms(hotline_node::now_ms() + 3_600_000);
    assert!(ok(&["--home", &d("alpha"), "sent", "--since", &future]).contains("nothing sent"));
    let bad = run(&["--home", &d("alpha"), "sent", "--since", "25:00"]);
    assert_eq!(bad.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("give HH:MM"));
    let later = ok(&["--home", &d("bravo"), "inbox", "--since", &future, "--json"]);
    let later: serde_json::Value = serde_json::from_str(&later).unwrap();
    assert_eq!(later["other"], serde_json::json!([]), "{later}");
    // The receiver checks the file it got by other means (issue 12, item 6).
    let checked = ok(&["--home", &d("bravo"), "attachment", "check", &id, &d("video.mp4")]);
    assert!(checked.contains("is attachment 1 of") && checked.contains("video/mp4"), "{checked}");
    std::fs::write(d("forged.mp4"), b"not the video").unwrap();
    let forged = run(&["--home", &d("bravo"), "attachment", "check", &id, &d("forged.mp4")]);
    assert_eq!(forged.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&forged.stderr).contains("is none of the 1 attachments"));
    // An invalid incident is refused with the field named, and exit code 4.
    std::fs::write(dir.path().join("bad.json"), r#"{"completeness":"initial","domain":"sea"}"#).unwrap();
    let out = run(&[
        "--home",
        &d("alpha"),
        "send",
        "--to",
        "bravo",
        "--precedence",
        "flash",
        "--incident",
        &d("bad.json"),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    // Every problem at once (issue 12, item 3), each with its path and the allowed values.
    assert!(err.contains("/domain: \"sea\" is not one of: maritime, land"), "{err}");
    assert!(err.contains("/summary: missing") && err.contains("/human_control: missing"), "{err}");
    // An unknown member is named.
    let incident = hotline_testnet::harness::english_incident(dir.path());
    let out = run(&[
        "--home",
        &d("alpha"),
        "send",
        "--to",
        "zulu",
        "--precedence",
        "flash",
        "--incident",
        incident.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("members are alpha, bravo"));
    let _ = watch.kill();
    let _ = watch.wait();
    for n in &mut nodes {
        let _ = n.kill();
        let _ = n.wait();
    }
    // The node is gone: the watch says so and ends with the not-running status, never quietly.
    let out = words.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("closed the watch"));
}

/// Issue 12, items 8, 9 and 11: `testnet up` supervises; `kill` one node and the others run on,
/// the death is reported by name, `restart` brings it back, each node logs to its own file, the
/// relays' ports never reach config.toml, `down` stops everything; `init` twice says what to do.
#[test]
fn a_testnet_is_broken_and_mended_one_node_at_a_time() {
    let (dir, net, ports) = testnet(3);
    let n = net.to_str().unwrap();
    let again = run(&["testnet", "init", n, "--nodes", "3", "--ports", &ports.join(",")]);
    assert_eq!(again.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a testnet"));
    let card: serde_json::Value =
        serde_json::from_str(&ok(&["--home", net.join("alpha").to_str().unwrap(), "roster", "card"]))
            .unwrap();
    assert_eq!(card["name"], "alpha");
    let codebook = ok(&["--home", net.join("alpha").to_str().unwrap(), "codebook", "list"]);
    assert!(codebook.contains("codebook of network testnet is empty"), "{codebook}");
    assert_eq!(run(&["testnet", "status", n]).status.code(), Some(3), "no supervisor yet");

    let up_log = dir.path().join("up.log");
    let mut up = Command::new(binary())
        .args(["testnet", "up", n, "--loss", "0", "--seed", "5"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&up_log).unwrap())
        .spawn()
        .unwrap();
    let status =
        || -> serde_json::Value { serde_json::from_str(&ok(&["testnet", "status", n, "--json"])).unwrap() };
    wait_until("every node runs and hears its peers", Duration::from_secs(30), || {
        run(&["testnet", "status", n, "--json"]).status.success()
            && status()["nodes"].as_array().unwrap().iter().all(|node| {
                node["state"] == "running"
                    && node["node"]["links"]
                        .as_array()
                        .is_some_and(|ls| ls.iter().all(|l| l["heard"] == true))
            })
    });
    assert_eq!(status()["faults_seed"], 5);
    // The network id's spoken fingerprint (issue 12, item 7): six words, the same at every node.
    let spoken = status()["nodes"][0]["node"]["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(spoken.split(' ').count(), 6, "{spoken}");
    let shown = ok(&["--home", net.join("bravo").to_str().unwrap(), "roster", "show"]);
    assert!(shown.contains(&format!("spoken fingerprint: {spoken} / ")), "{shown}");
    for name in ["alpha", "bravo", "charlie"] {
        let config = std::fs::read_to_string(net.join(name).join("config.toml")).unwrap();
        assert!(!config.contains("peers"), "a relay's address reached {name}'s config.toml: {config}");
    }

    ok(&["testnet", "kill", n, "bravo"]);
    let s = status();
    let state = |s: &serde_json::Value, name: &str| {
        s["nodes"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap().clone()
    };
    assert_eq!(state(&s, "bravo")["state"], "killed");
    assert_eq!(state(&s, "alpha")["state"], "running");
    assert!(run(&["--home", net.join("charlie").to_str().unwrap(), "status"]).status.success());
    let unknown = run(&["testnet", "kill", n, "zulu"]);
    assert_eq!(unknown.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("alpha, bravo, charlie"));

    // A death not ordered by `testnet kill` is reported by name; the others run on.
    let charlie = state(&s, "charlie")["pid"].as_i64().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(charlie as i32), nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    wait_until("charlie's death is noticed", Duration::from_secs(10), || {
        state(&status(), "charlie")["state"] == "exited"
    });
    assert!(state(&status(), "charlie")["detail"].as_str().unwrap().contains("signal 9"));
    assert!(std::fs::read_to_string(&up_log).unwrap().contains("charlie killed by signal 9"));
    assert!(up.try_wait().unwrap().is_none(), "testnet up stopped with one node");
    assert!(run(&["--home", net.join("alpha").to_str().unwrap(), "status"]).status.success());

    ok(&["testnet", "restart", n, "bravo"]);
    ok(&["testnet", "restart", n, "charlie"]);
    let s = status();
    assert_eq!(state(&s, "bravo")["state"], "running");
    assert_eq!(state(&s, "bravo")["restarts"], 1);
    let logs = ok(&["testnet", "logs", n, "bravo", "-n", "2"]);
    assert_eq!(logs.lines().count(), 2, "{logs}");
    assert!(ok(&["testnet", "logs", n, "bravo"]).contains("log restored"));
    assert!(!ok(&["testnet", "logs", n, "alpha"]).contains("\x1b["), "colour in a log file");

    ok(&["testnet", "down", n]);
    wait_until("testnet up exits", Duration::from_secs(20), || up.try_wait().unwrap().is_some());
    assert!(up.wait().unwrap().success());
    for name in ["alpha", "bravo", "charlie"] {
        let home = net.join(name).display().to_string();
        assert_eq!(run(&["--home", &home, "status"]).status.code(), Some(3), "{name} still running");
    }
}

/// Issue 12, items 3 and 15: an incident written from `incident template` passes `incident
/// check` (stdin too); completions, manual pages and a version that says what was built.
#[test]
fn incidents_from_a_template_completions_man_pages_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let template = ok(&["incident", "template", "--language", "en", "--language", "zh"]);
    let file = dir.path().join("incident.json");
    std::fs::write(&file, &template).unwrap();
    assert!(ok(&["incident", "check", file.to_str().unwrap(), "--precedence", "FLASH"])
        .contains("is a valid incident at FLASH"));
    let mut check = Command::new(binary())
        .args(["incident", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut check.stdin.take().unwrap(),
        template.replace("\"initial\"", "\"first\"").as_bytes(),
    )
    .unwrap();
    let out = check.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/completeness: \"first\" is not one of"));
    assert!(ok(&["incident", "schema"]).contains("\"$defs\""));

    assert!(ok(&["completions", "bash"]).contains("_hotline"));
    assert!(ok(&["completions", "zsh"]).contains("#compdef hotline"));
    let man = dir.path().join("man");
    std::fs::create_dir(&man).unwrap();
    run(&["man", "--out", man.to_str().unwrap()]);
    for page in ["hotline.1", "hotline-send.1", "hotline-testnet-kill.1", "hotline-audit-verify.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let version = ok(&["--version"]);
    assert!(
        version.contains("commit ")
            && version.contains("wire protocol 1")
            && version.contains("operator API 1"),
        "{version}"
    );
    // A closed pipe ends completions quietly too (clap_complete would panic on it).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary())
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Issue 12, item 13: a peer on a roster one byte different is refused (correctly), and `status`
/// says so, with what to do, instead of a bare "DOWN".
#[test]
fn a_peer_on_another_roster_is_named_for_it_in_status() {
    let (dir, net, _) = testnet(2);
    let n = net.to_str().unwrap();
    let card = |name: &str| net.join(name).join("card.json").display().to_string();
    let other = net.join("other.bin").display().to_string();
    ok(&[
        "roster",
        "build",
        "--network",
        "other",
        "--card",
        &card("alpha"),
        "--card",
        &card("bravo"),
        "--out",
        &other,
    ]);
    ok(&["--home", net.join("bravo").to_str().unwrap(), "roster", "install", &other]);
    let mut up = Command::new(binary())
        .args(["testnet", "up", n])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let alpha = net.join("alpha").display().to_string();
    wait_until("alpha refuses bravo's frames", Duration::from_secs(30), || {
        let out = run(&["--home", &alpha, "status", "--json"]);
        out.status.success() && {
            let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            s["links"][0]["last_refusal"]["code"] == "wrong_network"
        }
    });
    let status = ok(&["--home", &alpha, "status"]);
    assert!(
        status.contains("refusing its frames: wrong_network") && status.contains("roster differs"),
        "{status}"
    );
    // A notice to it waits for a receipt, and `status` and `show` say why (issue 12, item 10).
    let incident = hotline_testnet::harness::english_incident(dir.path());
    let id = ok(&[
        "--home",
        &alpha,
        "send",
        "--to",
        "bravo",
        "--precedence",
        "flash",
        "--incident",
        incident.to_str().unwrap(),
    ]);
    let why = "why: this node refuses bravo's frames (wrong_network)";
    let status = ok(&["--home", &alpha, "status"]);
    assert!(status.contains(why), "{status}");
    let shown = ok(&["--home", &alpha, "show", id.trim()]);
    assert!(shown.contains(why), "{shown}");
    ok(&["testnet", "down", n]);
    wait_until("testnet up exits", Duration::from_secs(20), || up.try_wait().unwrap().is_some());
}

/// The quick bench mode runs every bench end to end and writes its results and plots (a smoke
/// test: it checks that the benches run, not how fast).
#[test]
fn bench_quick_runs_every_bench() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    ok(&["bench", "--quick", "--out", out.to_str().unwrap()]);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for key in ["floors", "latency", "fanout", "audit", "recovery", "flood", "console"] {
        assert!(results[key].is_object(), "results.json lacks {key}: {results}");
    }
    for page in ["board", "board_fresh", "notice", "compose", "drafts", "handover"] {
        let ms = &results["console"]["render"][page]["server_ms"]["p50"];
        assert!(ms.as_f64().is_some_and(|ms| ms > 0.0), "no server time for {page}: {ms}");
    }
    assert_eq!(results["console"]["sessions"]["with_sessions"]["board_fetch_failures"], 0);
    assert!(results["latency"]["throughput"]["notices_per_s"].as_f64().unwrap() > 0.0);
    for plot in ["latency.svg", "fanout.svg", "audit.svg", "recovery.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{plot}");
    }
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| FLASH idle |") && summary.contains("## Console"), "{summary}");
}

/// Issue 12, items 7 and 12: a `--home` that is not there, or is no node's, is said so; a node
/// that is down is "not running", and a socket left by a crash too, never "Connection refused".
#[test]
fn a_wrong_home_and_a_node_that_is_down_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let status = |home: &std::path::Path| {
        let out = run(&["--home", home.to_str().unwrap(), "status"]);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = status(&dir.path().join("nonexistent"));
    assert_eq!(code, Some(3));
    assert!(err.contains("there is no directory") && err.contains("--home"), "{err}");
    let (code, err) = status(dir.path());
    assert_eq!(code, Some(3));
    assert!(err.contains("is not a node directory"), "{err}");
    std::fs::write(dir.path().join("config.toml"), "name = \"alpha\"\n").unwrap();
    let (_, err) = status(dir.path());
    assert!(err.contains("the node is not running") && err.contains("hotline run"), "{err}");
    // A socket nobody listens on, as a crash leaves it.
    drop(std::os::unix::net::UnixListener::bind(dir.path().join("api.sock")).unwrap());
    let (code, err) = status(dir.path());
    assert_eq!(code, Some(3));
    assert!(err.contains("did not stop cleanly") && !err.contains("refused"), "{err}");
}

/// Issue 12, item 15: a reader that goes away (`hotline … | head`) ends the command quietly with
/// the SIGPIPE status, not a panic; bad usage of `testnet` is exit 2 like clap's.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/cross-v1/honest");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary())
        .args([
            "audit",
            "report",
            "--format",
            "text",
            &format!("{vectors}/alpha"),
            &format!("{vectors}/bravo"),
        ])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let out = run(&["testnet", "init", net.to_str().unwrap(), "--nodes", "3", "--ports", "4001,4002"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The two-person rule (spec §16.2): a FLASH goes only when a second officer releases the draft
/// of a first; the node refuses it sent alone, released by its author, or by a stranger, and an
/// acknowledgement carries an officer's call sign on a node that has officers.
#[test]
fn a_flash_goes_only_on_a_second_officers_release() {
    use hotline_proto::Precedence;
    let mut net = hotline_testnet::harness::Net::init(2, None);
    net.second_officer("alpha", &[Precedence::Flash, Precedence::Immediate]);
    // Releasing needs officers, and a weak password is refused before anything is written.
    let incident = hotline_testnet::harness::english_incident(net.dir.path());
    let incident = incident.to_str().unwrap();
    net.add_officer("alpha", "duty-1", "en", "first officer's passphrase");
    net.add_officer("alpha", "duty-2", "zh", "second officer's passphrase");
    let listed = net.json("alpha", &["officer", "list", "--json"]);
    assert_eq!(listed["officers"].as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!listed.to_string().contains("argon2"), "hashes are never listed: {listed}");
    net.start_all();
    net.wait_links();

    let alone = net.cli("alpha", &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident]);
    assert_eq!(alone.status.code(), Some(4));
    let said = String::from_utf8_lossy(&alone.stderr);
    assert!(said.contains("only when a second officer releases them"), "{said}");
    // PRIORITY is not under the rule.
    net.ok("alpha", &["send", "--to", "bravo", "--precedence", "priority", "--incident", incident]);

    let stranger = net.cli(
        "alpha",
        &["send", "--to", "bravo", "--precedence", "flash", "--incident", incident, "--officer", "nobody"],
    );
    assert_eq!(stranger.status.code(), Some(4), "{}", String::from_utf8_lossy(&stranger.stderr));
    let drafted = net.json(
        "alpha",
        &[
            "send",
            "--to",
            "bravo",
            "--precedence",
            "flash",
            "--incident",
            incident,
            "--officer",
            "duty-1",
            "--json",
        ],
    );
    let draft = drafted["draft"].as_u64().unwrap().to_string();
    let held = net.json("alpha", &["drafts", "--json"]);
    assert_eq!(held["drafts"][0]["drafted_by"], "duty-1", "{held}");
    assert_eq!(net.json("alpha", &["status", "--json"])["drafts"], 1);
    // Nothing went: bravo has only the PRIORITY notice.
    let inbox = net.json("bravo", &["inbox", "--json"]);
    assert_eq!(inbox["other"].as_array().unwrap().len() + inbox["awaiting_ack"].as_array().unwrap().len(), 1);

    let own = net.cli("alpha", &["release", &draft, "--officer", "duty-1"]);
    assert_eq!(own.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&own.stderr).contains("a second officer must release it"));
    let outsider = net.cli("alpha", &["release", &draft, "--officer", "watch-officer"]);
    assert_eq!(outsider.status.code(), Some(4));
    let id = net.ok("alpha", &["release", &draft, "--officer", "duty-2"]).trim().to_string();
    assert!(id.starts_with("alpha/"), "{id}");
    // Released once: the draft is gone and a second release names it as gone.
    let again = net.cli("alpha", &["release", &draft, "--officer", "duty-2"]);
    assert_eq!(again.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&again.stderr).contains("there is no draft"));
    wait_until("bravo holds the released FLASH", Duration::from_secs(10), || {
        net.cli("bravo", &["show", &id]).status.success()
    });

    // bravo gets officers: its acknowledgements then carry one's call sign, never a free name.
    net.add_officer("bravo", "desk-b", "en", "bravo desk passphrase");
    let free = net.cli("bravo", &["ack", &id, "--operator", "watch officer"]);
    assert_eq!(free.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&free.stderr).contains("is not an officer of this node"));
    net.ok("bravo", &["ack", &id, "--operator", "desk-b"]);

    // A draft survives a restart of its node; a discard drops it.
    let second = net.json(
        "alpha",
        &[
            "send",
            "--to",
            "bravo",
            "--precedence",
            "immediate",
            "--incident",
            incident,
            "--officer",
            "duty-2",
            "--json",
        ],
    );
    let second = second["draft"].as_u64().unwrap().to_string();
    net.stop("alpha");
    net.start("alpha");
    assert_eq!(net.json("alpha", &["drafts", "--json"])["drafts"][0]["draft"].to_string(), second);
    net.ok("alpha", &["discard", &second, "--officer", "duty-1"]);
    assert_eq!(net.json("alpha", &["drafts", "--json"])["drafts"].as_array().map(Vec::len), Some(0));
}
