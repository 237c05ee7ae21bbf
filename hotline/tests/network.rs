//! Real processes over loopback QUIC: scenarios S1, S2 (with `kill -9`), S3, S5, and crash
//! durability under a burst of notices.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hotline_node::api::{Request, SendRequest};
use hotline_proto::{Body, Hash32, Message, Precedence, Record};
use hotline_proto::{DeadlineMissed, LinkDown};
use hotline_testnet::flood::initials;
use hotline_testnet::harness::{english_incident, example, rss_kib, wait_until, Net, FAST_POLICY};
use serde_json::Value;

fn accepted_notices(log: &[hotline_proto::VerifiedEntry]) -> Vec<(String, Hash32)> {
    log.iter()
        .filter(|e| matches!(e.entry.record, Record::Accepted { .. }))
        .filter_map(|e| e.message.as_ref())
        .filter_map(|o| match &o.message {
            Message::Notice(n) => Some((format!("{}", n.seq), o.hash)),
            _ => None,
        })
        .collect()
}

#[test]
fn s1_end_to_end_through_the_cli() {
    let mut net = Net::init(3, None);
    net.start_all();
    net.wait_links();
    let incident = example("s1-misidentification.json");
    let id = net.ok(
        "alpha",
        &[
            "send",
            "--to",
            "bravo",
            "--info",
            "charlie",
            "--precedence",
            "FLASH",
            "--incident",
            incident.to_str().unwrap(),
        ],
    );
    let id = id.trim().to_string();
    assert!(id.starts_with("alpha/"), "{id}");
    // `--incident -` reads the report from standard input; the sender is told what the action
    // addressee owes (issue 12, item 3).
    let mut child = std::process::Command::new(hotline_testnet::harness::binary())
        .args(["--home", net.home("alpha").dir().to_str().unwrap()])
        .args(["send", "--to", "charlie", "--precedence", "routine", "--incident", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &std::fs::read(&incident).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let piped = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(piped.starts_with("alpha/"), "{piped}");
    assert!(err.contains("ROUTINE notice: charlie must acknowledge within 6h"), "{err}");
    wait_until("charlie can acknowledge it", Duration::from_secs(10), || {
        net.cli("charlie", &["ack", &piped]).status.success()
    });
    // bravo's inbox shows it awaiting acknowledgement, with time left; charlie's as information.
    wait_until("bravo has it", Duration::from_secs(10), || {
        net.json("bravo", &["inbox", "--json"])["awaiting_ack"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["id"] == id.as_str()))
    });
    let human = net.ok("bravo", &["inbox"]);
    assert!(
        human.contains("AWAITING YOUR ACKNOWLEDGEMENT") && human.contains(&id) && human.contains("left"),
        "{human}"
    );
    wait_until("charlie has it", Duration::from_secs(10), || {
        net.json("charlie", &["inbox", "--json"])["other"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["id"] == id.as_str()))
    });
    // Before acknowledging, bravo's `show` tells its officer what is owed and by when (with the
    // date), and the whole notice: every field, every language (issue 12, item 1).
    let shown = net.ok("bravo", &["show", &id]);
    for needed in [
        "severity high",
        "domain maritime",
        "system decision_support",
        "failure modes: misidentification, automation_bias",
        "East China Sea, grid QK-17 (29.1° N, 124.4° E)",
        "[en] Our naval AI decision-support system",
        "[zh] 我方海军人工智能决策支持系统",
        "suspected cause:",
        "human control: in_the_loop; final decision by commanding officer",
        "[zh] 人类保留并行使了最终决定权",
        "requested response:",
        "contact: alpha liaison desk, watch officer",
        "you must acknowledge it by 20",
        "to: bravo (action), charlie (info)",
    ] {
        assert!(shown.contains(needed), "bravo's show lacks {needed:?}:\n{shown}");
    }
    net.ok(
        "bravo",
        &[
            "ack",
            &id,
            "--disposition",
            "investigating",
            "--operator",
            "bravo duty officer",
            "--note",
            "en=Checking the vessel registry.",
        ],
    );
    // Acknowledging twice is refused with exit code 4.
    assert_eq!(net.cli("bravo", &["ack", &id]).status.code(), Some(4));
    // The sender sees the acknowledgement itself: disposition, operator, note (issue 12, item 2);
    // the acknowledger sees its own.
    wait_until("alpha has the acknowledgement", Duration::from_secs(10), || {
        net.ok("alpha", &["show", &id]).contains("investigating by bravo duty officer at 20")
    });
    let shown = net.ok("alpha", &["show", &id]);
    assert!(shown.contains("note [en] Checking the vessel registry."), "{shown}");
    let json = net.json("alpha", &["show", &id, "--json"]);
    let bravo_part =
        json["notices"][0]["parties"].as_array().unwrap().iter().find(|p| p["name"] == "bravo").unwrap();
    assert_eq!(bravo_part["ack"]["operator"], "bravo duty officer", "{json}");
    assert_eq!(bravo_part["ack"]["disposition"], "investigating", "{json}");
    // `ack --json` answers as JSON (issue 12, item 15); a second acknowledgement is refused.
    assert_eq!(net.cli("bravo", &["ack", &id, "--json"]).status.code(), Some(4));
    let own = net.ok("bravo", &["show", &id]);
    assert!(
        own.contains("you acknowledged it") && own.contains("investigating by bravo duty officer"),
        "{own}"
    );
    let reply = net
        .ok(
            "bravo",
            &[
                "reply",
                &id,
                "--text",
                "en=Vessel confirmed civilian.",
                "--text",
                "zh=已确认该船只为民用船只。",
            ],
        )
        .trim()
        .to_string();
    // A reply is ROUTINE unless its officer chooses otherwise (issue 12, item 4): answering a
    // FLASH puts no FLASH duty on its recipient unasked.
    let reply_json = net.json("bravo", &["show", &reply, "--json"]);
    let answered =
        reply_json["notices"].as_array().unwrap().iter().find(|n| n["id"] == reply.as_str()).unwrap();
    assert_eq!(answered["precedence"], "routine", "{reply_json}");
    wait_until("alpha has the reply", Duration::from_secs(10), || {
        net.json("alpha", &["inbox", "--json"])["awaiting_ack"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["id"] == reply.as_str()))
    });
    let acked: Value = serde_json::from_str(&net.ok("alpha", &["ack", &reply, "--json"])).unwrap();
    assert_eq!(acked["notice"], reply.as_str(), "{acked}");
    let mut closing: Value = serde_json::from_str(&std::fs::read_to_string(&incident).unwrap()).unwrap();
    closing["completeness"] = "final".into();
    let closing_path = net.dir.path().join("final.json");
    std::fs::write(&closing_path, closing.to_string()).unwrap();
    let fin = net.ok(
        "alpha",
        &[
            "send",
            "--to",
            "bravo",
            "--info",
            "charlie",
            "--precedence",
            "immediate",
            "--thread",
            &id,
            "--incident",
            closing_path.to_str().unwrap(),
        ],
    );
    let fin = fin.trim().to_string();
    wait_until("bravo has the final report", Duration::from_secs(10), || {
        net.cli("bravo", &["ack", &fin]).status.success()
    });
    // alpha's view of the thread: both receipts and bravo's acknowledgements.
    wait_until("alpha has every receipt and acknowledgement", Duration::from_secs(10), || {
        let thread = net.json("alpha", &["show", &id, "--json"]);
        let notices = thread["notices"].as_array().unwrap();
        notices.len() == 3
            && notices.iter().filter(|n| n["direction"] == "sent").all(|n| {
                n["parties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|p| p["receipt_ms"].is_u64() && (p["role"] == "info" || p["ack_ms"].is_u64()))
            })
    });
    let shown = net.ok("alpha", &["show", &id]);
    assert!(
        shown.contains("receipt") && shown.contains("charlie") && !shown.contains("deadline missed"),
        "{shown}"
    );
    let status = net.json("alpha", &["status", "--json"]);
    assert!(status["links"].as_array().unwrap().iter().all(|l| l["up"] == true));
    assert_eq!(status["awaiting"].as_array().unwrap().len(), 0, "{status}");
    // Each node signs a checkpoint on request; the others co-sign it.
    for name in ["alpha", "bravo", "charlie"] {
        let size = net.json(name, &["checkpoint", "--json"])["size"].as_u64().unwrap();
        wait_until("the checkpoint is co-signed by both peers", Duration::from_secs(10), || {
            let status = net.json(name, &["status", "--json"]);
            status["links"].as_array().unwrap().iter().all(|l| l["cosigned_size"].as_u64().unwrap() >= size)
        });
    }
    // Export every bundle, stop everything, and audit: each verifies, and they reconcile.
    let (bundles, report) = net.export_and_audit(&["alpha", "bravo", "charlie"]);
    let lines = std::fs::read_to_string(net.dir.path().join("alpha-bundle/log.jsonl")).unwrap();
    assert!(lines.lines().next().unwrap().contains("cbm-hotline-log-export/1"));
    let note = std::fs::read_to_string(net.dir.path().join("alpha-bundle/checkpoint")).unwrap();
    assert!(note.lines().filter(|l| l.starts_with('\u{2014}')).count() >= 1, "{note}");
    for name in ["alpha", "bravo", "charlie"] {
        net.stop(name);
    }
    assert_eq!(report["misses"].as_array().unwrap().len(), 0, "{report}");
    let text = hotline_testnet::harness::cli(
        None,
        &[&["audit".to_string(), "report".into()][..], &bundles[..]].concat(),
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("bravo") && text.contains("FLASH"), "{text}");
    let seq = id.trim_start_matches("alpha/").to_string();
    let sent_hash = net
        .log("alpha")
        .iter()
        .filter_map(|e| e.message.as_ref())
        .find_map(|o| match &o.message {
            Message::Notice(n) if n.seq.to_string() == seq && matches!(o.message, Message::Notice(_)) => {
                Some(o.hash)
            }
            _ => None,
        })
        .unwrap();
    for name in ["bravo", "charlie"] {
        let copies: Vec<_> =
            accepted_notices(&net.log(name)).into_iter().filter(|(s, _)| *s == seq).collect();
        assert_eq!(copies, vec![(seq.clone(), sent_hash)], "{name}");
    }
    assert!(!net
        .log("alpha")
        .iter()
        .any(|e| matches!(e.entry.record, Record::DeadlineMissed(DeadlineMissed { .. }))));
}

/// A restarted node gets its links back at once whichever side dials (spec §14): the accepting
/// member, killed and restarted, answers its peer's next packet on the dead connection with a
/// stateless reset the peer accepts, so the peer dials again instead of waiting for the idle
/// timeout. The peer's log says so ("reset by peer"; it would say "timed out" otherwise).
#[test]
fn a_restarted_acceptor_resets_the_dead_connection() {
    // The default policy: no link test or silence check closes the connection within the test.
    let mut net = Net::init(2, None);
    net.start_all();
    net.wait_links();
    let key = |n: &str| hotline_proto::crypto::node_id(&net.home(n).key().unwrap());
    // Of each pair, the smaller key dials (spec §14).
    let (dialler, acceptor) =
        if key("alpha") < key("bravo") { ("alpha", "bravo") } else { ("bravo", "alpha") };
    net.kill9(acceptor);
    net.start(acceptor);
    wait_until("the dialler sees the reset", Duration::from_secs(30), || {
        net.node_log(dialler).contains("reset by peer")
    });
    let incident = english_incident(net.dir.path());
    let id = net
        .ok(
            acceptor,
            &["send", "--to", dialler, "--precedence", "flash", "--incident", incident.to_str().unwrap()],
        )
        .trim()
        .to_string();
    wait_until("the receipt", Duration::from_secs(30), || {
        net.json(acceptor, &["show", &id, "--json"])["notices"][0]["parties"][0]["receipt_ms"].is_u64()
    });
}

#[test]
fn s2_the_line_is_dead_kill_9_and_restart() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    net.kill9("bravo");
    let id = net.send_flash("alpha", "bravo");
    // The receipt deadline (1 s) passes: alpha records the miss and its officer sees it.
    wait_until("the receipt miss", Duration::from_secs(10), || {
        net.json("alpha", &["show", &id, "--json"])["notices"][0]["parties"][0]["receipt_missed"] == true
    });
    wait_until("link down", Duration::from_secs(10), || {
        net.json("alpha", &["status", "--json"])["links"][0]["up"] == false
    });
    net.start("bravo");
    wait_until("the late receipt", Duration::from_secs(20), || {
        net.json("alpha", &["show", &id, "--json"])["notices"][0]["parties"][0]["receipt_ms"].is_u64()
    });
    wait_until("link up", Duration::from_secs(10), || {
        net.json("alpha", &["status", "--json"])["links"][0]["up"] == true
    });
    net.ok("bravo", &["ack", &id]);
    wait_until("the ack", Duration::from_secs(10), || {
        net.json("alpha", &["show", &id, "--json"])["notices"][0]["parties"][0]["ack_ms"].is_u64()
    });
    // The officer is told why the receipt was late (issue 12, item 10).
    let shown = net.ok("alpha", &["show", &id]);
    assert!(shown.contains("why: the link to bravo was down from 20"), "{shown}");
    // The audit report shows the miss and the late delivery, with exact times.
    let (_, report) = net.export_and_audit(&["alpha", "bravo"]);
    let misses = report["misses"].as_array().unwrap();
    assert!(
        misses.iter().any(|m| m["evidence"].as_array().unwrap().iter().any(|e| e["recorded_by"] == "alpha")
            && m["notice"] == id.as_str()
            && m["party"] == "bravo"
            && m["deadline"] == "receipt"
            && m["deadline_ms"].is_u64()),
        "{report}"
    );
    let row = report["compliance"].as_array().unwrap().iter().find(|c| c["party"] == "bravo").unwrap();
    assert_eq!(
        (row["precedence"].as_str(), row["receipts"]["late"].as_u64()),
        (Some("FLASH"), Some(1)),
        "{row}"
    );
    let event = report["timeline"].as_array().unwrap().iter().find(|e| e["notice"] == id.as_str()).unwrap();
    let receipt_latency = event["parties"][0]["receipt_ms"].as_u64().unwrap();
    assert!(receipt_latency > 1_000, "the late receipt is reported {receipt_latency} ms after creation");
    net.stop("alpha");
    net.stop("bravo");
    let alpha = net.log("alpha");
    let records: Vec<&Record> = alpha.iter().map(|e| &e.entry.record).collect();
    let miss = records
        .iter()
        .position(|r| {
            matches!(
                r,
                Record::DeadlineMissed(DeadlineMissed { deadline: hotline_proto::DeadlineKind::Receipt, .. })
            )
        })
        .expect("miss");
    let down =
        records.iter().position(|r| matches!(r, Record::LinkDown(LinkDown { .. }))).expect("link down");
    let up = records.iter().position(|r| matches!(r, Record::LinkUp { .. })).expect("link up");
    assert!(miss < up && down < up);
    // Exactly one copy at bravo, and bravo's receipt time is after the miss.
    assert_eq!(accepted_notices(&net.log("bravo")).len(), 1);
}

#[test]
fn s3_nobody_answers() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start_all();
    net.wait_links();
    let incident = english_incident(net.dir.path());
    let id = net
        .ok(
            "alpha",
            &["send", "--to", "bravo", "--precedence", "immediate", "--incident", incident.to_str().unwrap()],
        )
        .trim()
        .to_string();
    wait_until("the acknowledgement miss at alpha", Duration::from_secs(10), || {
        net.json("alpha", &["show", &id, "--json"])["notices"][0]["parties"][0]["ack_missed"] == true
    });
    wait_until("bravo's inbox shows it overdue", Duration::from_secs(10), || {
        net.json("bravo", &["inbox", "--json"])["awaiting_ack"][0]["overdue"] == true
    });
    assert!(net.ok("bravo", &["inbox"]).contains("OVERDUE"));
    // The audit report lists the miss, from both logs, and the acknowledgement still owed.
    let (_, report) = net.export_and_audit(&["alpha", "bravo"]);
    let ack_misses: Vec<_> = report["misses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["notice"] == id.as_str() && m["party"] == "bravo" && m["deadline"] == "ack")
        .flat_map(|m| {
            m["evidence"].as_array().unwrap().iter().map(|e| e["recorded_by"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(ack_misses, ["alpha", "bravo"], "{report}");
    let row = report["compliance"].as_array().unwrap().iter().find(|c| c["party"] == "bravo").unwrap();
    assert_eq!((row["acks"]["due"].as_u64(), row["acks"]["on_time"].as_u64()), (Some(1), Some(0)), "{row}");
    net.stop("alpha");
    net.stop("bravo");
    for name in ["alpha", "bravo"] {
        let missed = net.log(name).iter().any(|e| {
            matches!(
                e.entry.record,
                Record::DeadlineMissed(DeadlineMissed { deadline: hotline_proto::DeadlineKind::Ack, .. })
            )
        });
        assert!(missed, "{name} did not record the missed acknowledgement");
    }
}

/// Sends frames to a node as `as_name` (whose process is not running), over a real QUIC
/// connection made with that member's key.
struct Rogue {
    rt: tokio::runtime::Runtime,
    conn: Option<quinn::Connection>,
}

impl Rogue {
    fn connect(net: &Net, key: &ed25519_dalek::SigningKey, to: &str) -> Result<Rogue, String> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let home = net.home(to);
        let target = hotline_proto::crypto::node_id(&home.key().unwrap());
        let addr = home.config().unwrap().listen;
        let config = hotline_node::transport::client_config(key, target).unwrap();
        let conn = rt.block_on(async {
            let mut endpoint =
                quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).map_err(|e| e.to_string())?;
            endpoint.set_default_client_config(config);
            let conn = endpoint
                .connect(addr, "peer.cbm-hotline.invalid")
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
            // TLS 1.3: the server checks the client's key last; give it time to refuse.
            tokio::time::sleep(Duration::from_millis(300)).await;
            match conn.close_reason() {
                Some(reason) => Err(reason.to_string()),
                None => Ok(conn),
            }
        })?;
        Ok(Rogue { rt, conn: Some(conn) })
    }

    fn send(&self, bytes: &[u8]) {
        let conn = self.conn.clone().unwrap();
        let bytes = bytes.to_vec();
        self.rt.block_on(async move {
            let mut s = conn.open_uni().await.unwrap();
            let _ = s.write_all(&bytes).await;
            let _ = s.finish();
            let _ = s.stopped().await;
        });
    }

    /// The next receipt the node sends us, within 5 s (link tests and the like are skipped).
    fn receipt(&self) -> Option<hotline_proto::Receipt> {
        let conn = self.conn.clone().unwrap();
        self.rt.block_on(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let mut s = tokio::time::timeout_at(deadline, conn.accept_uni()).await.ok()?.ok()?;
                let bytes = s.read_to_end(1 << 20).await.ok()?;
                if let Some(Message::Receipt(r)) = hotline_proto::wire::peek(&bytes) {
                    return Some(r);
                }
            }
        })
    }
}

fn notice_from(net: &Net, sender: &str, to: &str, seq: u64, link_seq: u64) -> hotline_proto::Notice {
    let roster = net.home(to).roster().unwrap();
    let sender = roster.member_named(sender).unwrap().key;
    let to = roster.member_named(to).unwrap().key;
    hotline_proto::Notice {
        network: roster.network_id(),
        sender,
        seq,
        created_ms: hotline_node::now_ms(),
        precedence: Precedence::Priority,
        to: vec![hotline_proto::Addressee { node: to, role: hotline_proto::Role::Action, link_seq }],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(
            serde_json::from_str(&std::fs::read_to_string(english_incident(net.dir.path())).unwrap())
                .unwrap(),
        ),
    }
}

/// S5: a source that has not shown it owns its address gets a stateless Retry, smaller than
/// three times what it sent (RFC 9000 §8.1), and a flood of Initials that never go on costs the
/// node no memory to speak of (spec §11.1).
#[test]
fn s5_handshake_flood_costs_a_retry_and_no_state() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start("alpha");
    let home = net.home("alpha");
    let alpha = hotline_proto::crypto::node_id(&home.key().unwrap());
    let addr = home.config().unwrap().listen;
    let stranger = hotline_node::keys::generate();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    // One Initial: everything that comes back within the wait.
    let initial = &initials(1, &stranger, alpha, addr).unwrap()[0];
    socket.send_to(initial, addr).unwrap();
    let mut replies = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok((n, _)) = socket.recv_from(&mut buf) {
        replies.push(buf[..n].to_vec());
    }
    assert!(!replies.is_empty(), "no answer at all to an Initial");
    // Long header (bit 7) of type Retry (bits 4–5 = 3 in QUIC v1).
    assert!(replies.iter().all(|p| p[0] & 0x80 != 0 && (p[0] >> 4) & 3 == 3), "answers other than a Retry");
    let sent: usize = replies.iter().map(Vec::len).sum();
    assert!(sent <= 3 * initial.len(), "{} bytes answered to an Initial of {}", sent, initial.len());
    // A flood: 3000 Initials from 3000 connections that never answer.
    let before = rss_kib(net.pid("alpha"));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, packet) in initials(3000, &stranger, alpha, addr).unwrap().iter().enumerate() {
        socket.send_to(packet, addr).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(5)); // do not overrun loopback's buffers
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(net.pid("alpha"));
    assert!(
        after < before + 16 * 1024,
        "memory grew from {before} KiB to {after} KiB under an Initial flood"
    );
    // The members still get through.
    net.start("bravo");
    net.wait_links();
}

#[test]
fn s5_hostile_input() {
    let mut net = Net::init(3, Some(FAST_POLICY));
    net.start("alpha");
    // A key that is not in the roster is refused during the handshake.
    let stranger = hotline_node::keys::generate();
    assert!(Rogue::connect(&net, &stranger, "alpha").is_err(), "a stranger got a connection");
    // charlie's key (charlie's process is not running) speaks for charlie.
    let charlie_key = net.home("charlie").key().unwrap();
    let rogue = Rogue::connect(&net, &charlie_key, "alpha").expect("a member connects");
    let (frame, _) = hotline_proto::wire::seal(
        &charlie_key,
        hotline_proto::Kind::Notice,
        &notice_from(&net, "charlie", "alpha", 900, 900),
    );
    // Tampered after signing: flip a byte of the body.
    let mut tampered = frame.clone();
    let at = tampered.len() - 70; // inside the body text, before the signature
    tampered[at] ^= 0x20;
    rogue.send(&tampered);
    // Oversized, truncated, garbage.
    rogue.send(&vec![1u8; hotline_proto::limits::MAX_FRAME + 10_000]);
    rogue.send(&frame[..frame.len() / 2]);
    rogue.send(b"\x01\xff\xff\xff garbage");
    // A stream flood: memory stays bounded and the node keeps serving.
    let before = rss_kib(net.pid("alpha"));
    let conn = rogue.conn.clone().unwrap();
    rogue.rt.block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..3000u32 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                if let Ok(mut s) = conn.open_uni().await {
                    let _ = s.write_all(&vec![(i % 251) as u8; 4096]).await;
                    let _ = s.finish();
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let after = rss_kib(net.pid("alpha"));
    assert!(after < before + 150 * 1024, "memory grew from {before} KiB to {after} KiB under a stream flood");
    // Valid traffic on the same connection still gets a receipt.
    rogue.send(&frame);
    let receipt = rogue.receipt().unwrap_or_else(|| {
        panic!(
            "no receipt for the valid notice; alpha's log:\n{}",
            net.node_log("alpha").lines().rev().take(30).collect::<Vec<_>>().join("\n")
        )
    });
    assert_eq!(receipt.notice.seq, 900);
    let status = net.json("alpha", &["status", "--json"]);
    assert!(status["log_entries"].as_u64().unwrap() > 0);
    net.stop("alpha");
    let log = net.log("alpha");
    let codes: BTreeSet<&str> = log
        .iter()
        .filter_map(|e| match &e.entry.record {
            Record::Rejected { code, .. } => Some(code.name()),
            _ => None,
        })
        .collect();
    for expected in ["bad_signature", "frame_too_large", "malformed"] {
        assert!(codes.contains(expected), "no {expected} refusal logged: {codes:?}");
    }
    let rejected = log.iter().filter(|e| matches!(e.entry.record, Record::Rejected { .. })).count();
    assert!(rejected <= 16 * 2, "{rejected} refusals logged: the rate limit does not hold");
    assert_eq!(accepted_notices(&log).len(), 1);
}

#[test]
fn crash_durability_under_a_burst() {
    const N: usize = 1000;
    let mut net = Net::init(2, None);
    net.start_all();
    net.wait_links();
    // Watch alpha's receipts as they come.
    let mut watch = hotline_node::client::Client::connect(&net.home("alpha").api_path()).unwrap();
    watch.call(&Request::Watch {}).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        while let Ok(Some(e)) = watch.next_line() {
            if e["event"] == "receipt_received"
                && tx.send(e["notice"].as_str().unwrap_or_default().to_string()).is_err()
            {
                return;
            }
        }
    });
    // Eight officers send at once.
    let api = net.home("alpha").api_path();
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let api = api.clone();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                let mut client = hotline_node::client::Client::connect(&api).unwrap();
                for _ in 0..N / 8 {
                    let incident: hotline_proto::Incident = serde_json::from_str(
                        &std::fs::read_to_string(hotline_testnet::harness::example(
                            "s1-misidentification.json",
                        ))
                        .unwrap(),
                    )
                    .unwrap();
                    let mut incident = incident;
                    for t in [
                        &mut incident.summary,
                        &mut incident.suspected_cause,
                        &mut incident.actions_taken,
                        &mut incident.requested_response,
                        &mut incident.human_control.statement,
                    ] {
                        t.truncate(1);
                    }
                    let request = Request::Send(Box::new(SendRequest {
                        precedence: Precedence::Routine,
                        to: vec!["bravo".into()],
                        info: vec![],
                        thread: None,
                        in_reply_to: None,
                        body: Body::Incident(incident),
                    }));
                    ids.push(client.call(&request).unwrap()["notice"].as_str().unwrap().to_string());
                }
                ids
            })
        })
        .collect();
    // Kill bravo once it has receipted a third of the burst.
    let mut receipted = BTreeSet::new();
    while receipted.len() < N / 3 {
        receipted.insert(rx.recv_timeout(Duration::from_secs(30)).expect("receipts"));
    }
    net.kill9("bravo");
    while let Ok(id) = rx.try_recv() {
        receipted.insert(id);
    }
    // Every notice alpha holds a receipt for is in bravo's store, exactly once.
    let at_crash: BTreeMap<String, usize> =
        accepted_notices(&net.log("bravo")).into_iter().fold(BTreeMap::new(), |mut m, (seq, _)| {
            *m.entry(format!("alpha/{seq}")).or_default() += 1;
            m
        });
    for id in &receipted {
        assert_eq!(at_crash.get(id), Some(&1), "{id} was receipted but is not durable at bravo exactly once");
    }
    let sent: Vec<String> = senders.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(sent.len(), N);
    net.start("bravo");
    let all: BTreeSet<String> = sent.iter().cloned().collect();
    let mut got = receipted.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // Events can lag under this load (the watcher then misses some): alpha's state is the record.
    let unreceipted = |net: &Net| net.json("alpha", &["status", "--json"])["links"][0]["unreceipted"] == 0;
    while !all.is_subset(&got) && !unreceipted(&net) {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {N} receipted after restart",
            got.intersection(&all).count()
        );
        if let Ok(id) = rx.recv_timeout(Duration::from_secs(1)) {
            got.insert(id);
        }
    }
    net.stop("alpha");
    net.stop("bravo");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (seq, _) in accepted_notices(&net.log("bravo")) {
        *counts.entry(format!("alpha/{seq}")).or_default() += 1;
    }
    for id in &sent {
        assert_eq!(counts.get(id), Some(&1), "{id} is not at bravo exactly once");
    }
    eprintln!(
        "burst: {N} notices, {} receipted before the kill, all delivered exactly once after restart",
        receipted.len()
    );
}

/// One API connection may carry any number of requests: the 1 MiB limit is per request, not per
/// connection (found by `hotline bench`, whose officers send thousands of notices on one
/// connection). A request over the limit is refused and the connection closed.
#[test]
fn an_api_connection_outlives_the_request_limit() {
    let mut net = Net::init(2, None);
    net.start("alpha");
    let api = net.home("alpha").api_path();
    let mut client = hotline_node::client::Client::connect(&api).unwrap();
    let long_id = "x".repeat(200_000);
    for _ in 0..8 {
        // 1.6 MB in all over one connection, each request refused on its merits.
        let e = client.call(&Request::Show { notice: long_id.clone() }).unwrap_err();
        assert!(!e.to_string().contains("bad request"), "{e}");
    }
    assert!(client.call(&Request::Status {}).is_ok());
    // One request longer than the limit is refused as such, and the connection is closed.
    let mut raw = std::os::unix::net::UnixStream::connect(&api).unwrap();
    let huge = format!("{{\"op\":\"show\",\"notice\":\"{}\"}}\n", "y".repeat(1_100_000));
    let _ = std::io::Write::write_all(&mut raw, huge.as_bytes());
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut raw, &mut answer);
    assert!(answer.contains("larger than"), "{answer}");
    assert!(hotline_node::client::call(&api, &Request::Status {}).is_ok(), "the node survived");
}

/// Issue 12, item 10: a peer that never started is "not yet heard", not "up": a link is presumed
/// up at start (spec §6.10) and shown as such until something valid arrives from it.
#[test]
fn a_peer_never_heard_is_not_shown_as_up() {
    let mut net = Net::init(2, Some(FAST_POLICY));
    net.start("alpha");
    let status = net.ok("alpha", &["status"]);
    let line = status.lines().find(|l| l.trim_start().starts_with("bravo")).expect("bravo's link");
    assert!(line.contains("not yet heard") && line.contains("nothing heard since"), "{status}");
    let json = net.json("alpha", &["status", "--json"]);
    assert_eq!(json["links"][0]["heard"], false, "{json}");
    net.start("bravo");
    net.wait_links();
    wait_until("alpha hears bravo", Duration::from_secs(20), || {
        net.json("alpha", &["status", "--json"])["links"][0]["heard"] == true
    });
    let status = net.ok("alpha", &["status"]);
    let line = status.lines().find(|l| l.trim_start().starts_with("bravo")).expect("bravo's link");
    assert!(line.contains(" up ") && line.contains("last heard"), "{status}");
}
