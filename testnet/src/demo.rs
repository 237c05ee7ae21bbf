//! `hotline demo`: scenario S1 end to end on a fresh, temporary three-node network of real
//! processes over loopback QUIC, printed as a timeline, with every node's log verified at the end.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hotline_node::api::{Request, SendRequest};
use hotline_node::client::{self, Client};
use hotline_node::home::Home;
use hotline_node::now_ms;
use hotline_proto::Completeness;
use hotline_proto::Policy;
use hotline_proto::{Body, Disposition, Incident, Precedence};
use hotline_proto::{Check, LogVerifier};
use serde_json::Value;

use crate::processes::{free_ports, wait_links, Processes};
use crate::testnet;
use hotline_node::cli::{left, parse_texts};

/// Options of the demo.
#[derive(Args)]
pub struct DemoArgs {
    /// Keep the network in this (new) directory instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Instead of playing S1, open the watch-floor consoles of two desks (alpha and bravo, two
    /// officers each, FLASH and IMMEDIATE released by a second officer) on a live three-node
    /// network, print their addresses and log-ins, and run until Ctrl-C.
    #[arg(long)]
    console: bool,
    /// The TCP port of alpha's console (bravo's is the next).
    #[arg(long, default_value_t = 8470, requires = "console")]
    console_port: u16,
}

const S1: &str = include_str!("../../spec/examples/s1-misidentification.json");

/// Events from all nodes, with the name of the node and the local receive time.
struct Watch {
    rx: mpsc::Receiver<(String, u64, Value)>,
    seen: Vec<(String, u64, Value)>,
}

impl Watch {
    fn start(homes: &[(String, Home)]) -> Result<Watch> {
        let (tx, rx) = mpsc::channel();
        for (name, home) in homes {
            let mut c = Client::connect(&home.api_path())?;
            c.call(&Request::Watch {})?;
            let tx = tx.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                while let Ok(Some(event)) = c.next_line() {
                    if tx.send((name.clone(), now_ms(), event)).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Watch { rx, seen: Vec::new() })
    }

    /// Waits (up to 30 s) for an event at `node` matching `pred`; returns when it was seen.
    fn wait(&mut self, node: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Result<u64> {
        if let Some((_, t, _)) = self.seen.iter().find(|(n, _, e)| n == node && pred(e)) {
            return Ok(*t);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (n, t, e) = self
                .rx
                .recv_timeout(remaining)
                .map_err(|_| anyhow!("timed out waiting for {what} at {node}"))?;
            let hit = n == node && pred(&e);
            self.seen.push((n, t, e));
            if hit {
                return Ok(t);
            }
        }
    }
}

fn is(e: &Value, event: &str, notice: &str) -> bool {
    e["event"] == event && e["notice"] == notice
}

fn send(home: &Home, request: SendRequest) -> Result<String> {
    let result = client::call(&home.api_path(), &Request::Send(Box::new(request)))?;
    Ok(result["notice"].as_str().unwrap_or_default().to_string())
}

fn ack(home: &Home, notice: &str, operator: &str, disposition: Disposition) -> Result<()> {
    client::call(
        &home.api_path(),
        &Request::Ack { notice: notice.into(), operator: operator.into(), disposition, note: vec![] },
    )?;
    Ok(())
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    if args.console {
        return consoles(&args);
    }
    let temp = tempfile::tempdir()?;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let policy = Policy { required_languages: vec!["en".into(), "zh".into()], ..Policy::default() };
    let flash = policy.flash;
    let immediate = policy.immediate;
    let homes = testnet::init(&dir, &free_ports(3)?, policy, &hotline_node::home::Release::off())?;
    let [alpha, bravo] = [&homes[0].1, &homes[1].1];
    println!("CBM hotline demo — scenario S1, maritime misidentification");
    println!(
        "three nodes (alpha, bravo, charlie) as separate processes on loopback QUIC, in {}",
        dir.display()
    );
    let id = homes[0].1.roster()?.network_id();
    println!(
        "network id {id}, read aloud by the parties before going live as \"{}\" / \"{}\"",
        hotline_proto::fingerprint(&id, hotline_proto::FingerprintLanguage::English),
        hotline_proto::fingerprint(&id, hotline_proto::FingerprintLanguage::ChineseSimplified)
    );
    println!(
        "FLASH deadlines: receipt {}, acknowledgement {}\n",
        left(flash.receipt_ms as i64),
        left(flash.ack_ms as i64)
    );

    // Stopped however the demo ends.
    let mut nodes = Processes::new(std::env::current_exe()?, dir.clone());
    for (name, home) in &homes {
        nodes.start(name, home, None, Duration::from_secs(60))?;
    }
    // Every link test receipted: all six directions of the three links work.
    for (_, home) in &homes {
        wait_links(home, Duration::from_secs(60))?;
    }
    let mut watch = Watch::start(&homes)?;
    let mut timeline: Vec<(u64, String)> = Vec::new();

    let incident: Incident = serde_json::from_str(S1).context("the S1 example")?;
    let t0 = now_ms();
    let id = send(
        alpha,
        SendRequest {
            precedence: Precedence::Flash,
            to: vec!["bravo".into()],
            info: vec!["charlie".into()],
            thread: None,
            in_reply_to: None,
            body: Body::Incident(incident.clone()),
        },
    )?;
    timeline.push((now_ms(), format!("alpha    sends FLASH initial report {id} to bravo (action), charlie (information); durable before sending")));
    for who in ["bravo", "charlie"] {
        let t = watch.wait("alpha", "a receipt", |e| is(e, "receipt_received", &id) && e["from"] == who)?;
        let margin = (t0 + flash.receipt_ms) as i64 - t as i64;
        timeline.push((t, format!("alpha    has {who}'s signed receipt, {} ms after sending (stored durably at {who} first); {margin} ms before the receipt deadline", t.saturating_sub(t0))));
    }
    watch.wait("bravo", "the notice", |e| is(e, "notice_received", &id))?;
    std::thread::sleep(Duration::from_millis(1500)); // the officer reads it
    ack(bravo, &id, "bravo watch officer", Disposition::Investigating)?;
    let t = watch.wait("alpha", "bravo's acknowledgement", |e| is(e, "ack_received", &id))?;
    timeline.push((
        t,
        format!(
            "alpha    has bravo's signed acknowledgement (investigating); {} before the FLASH deadline",
            left((t0 + flash.ack_ms) as i64 - t as i64)
        ),
    ));

    let reply = send(
        bravo,
        SendRequest {
            precedence: Precedence::Flash,
            to: vec!["alpha".into()],
            info: vec![],
            thread: Some(id.clone()),
            in_reply_to: Some(id.clone()),
            body: Body::Reply(parse_texts(&[
                "en=Vessel confirmed civilian: fishing vessel registered in bravo, crew of 11, no military role.".into(),
                "zh=已确认该船只为民用船只：在bravo注册的渔船，船员11人，无军事用途。".into(),
            ])?),
        },
    )?;
    let t = watch.wait("alpha", "the reply", |e| is(e, "notice_received", &reply))?;
    timeline.push((
        t,
        format!(
            "alpha    receives bravo's FLASH reply {reply} in the same thread: \"vessel confirmed civilian\""
        ),
    ));
    ack(alpha, &reply, "alpha watch officer", Disposition::Understood)?;
    let t = watch.wait("bravo", "alpha's acknowledgement", |e| is(e, "ack_received", &reply))?;
    timeline.push((t, "bravo    has alpha's acknowledgement of the reply".into()));

    let mut closing = incident;
    closing.completeness = Completeness::Final;
    closing.summary = parse_texts(&[
        "en=Final: the flag state confirmed the vessel as civilian. The AI decision-support system stays advisory-only pending retraining. Incident closed.".into(),
        "zh=最终报告：船旗国确认该船只为民用船只。人工智能决策支持系统在重新训练前仅提供建议。事件结束。".into(),
    ])?;
    let fin = send(
        alpha,
        SendRequest {
            precedence: Precedence::Immediate,
            to: vec!["bravo".into()],
            info: vec!["charlie".into()],
            thread: Some(id.clone()),
            in_reply_to: Some(reply.clone()),
            body: Body::Incident(closing),
        },
    )?;
    timeline
        .push((now_ms(), format!("alpha    closes the incident with the final report {fin} (IMMEDIATE)")));
    watch.wait("bravo", "the final report", |e| is(e, "notice_received", &fin))?;
    ack(bravo, &fin, "bravo watch officer", Disposition::Understood)?;
    let t =
        watch.wait("alpha", "the acknowledgement of the final report", |e| is(e, "ack_received", &fin))?;
    timeline.push((
        t,
        format!(
            "alpha    has bravo's acknowledgement of {fin}; {} before the IMMEDIATE deadline — thread closed",
            left((t0 + immediate.ack_ms) as i64 - t as i64)
        ),
    ));
    let t = watch.wait("charlie", "the final report", |e| is(e, "notice_received", &fin))?;
    timeline.push((t, format!("charlie  (information addressee) holds the whole thread: {id}, {fin}")));

    timeline.sort_by_key(|(t, _)| *t);
    println!("{:>9}  what happened", "t+ms");
    for (t, line) in &timeline {
        println!("{:>9}  {line}", t.saturating_sub(t0));
    }
    let misses = watch.seen.iter().filter(|(_, _, e)| e["event"] == "deadline_missed").count();
    println!("\ndeadline misses: {misses}");
    drop(nodes);

    // The audit: every log verifies with public keys alone, and the recipients hold alpha's
    // notice byte for byte.
    println!("\nverifying the logs (every signature, the hash chains, every embedded message):");
    let roster = alpha.roster()?;
    let mut copies = Vec::new();
    for (name, home) in &homes {
        let leaves = hotline_node::store::read_leaves(&home.store_path())?;
        let node = hotline_proto::crypto::node_id(&home.key()?);
        let mut verifier = LogVerifier::new(roster.clone(), node, Check::Full);
        let mut hashes = Vec::new();
        for leaf in &leaves {
            let v = verifier.push(leaf).map_err(|e| anyhow!("{name}'s log does not verify: {e}"))?;
            if let Some(opened) = v.message {
                if let hotline_proto::Message::Notice(n) = &opened.message {
                    if roster.notice_name(&n.id()) == id {
                        hashes.push(opened.hash);
                    }
                }
            }
        }
        println!(
            "  {name:<8} {:>4} entries verified, head {}",
            leaves.len(),
            verifier.head().to_hex().get(..16).unwrap_or("")
        );
        copies.push((name.clone(), hashes));
    }
    let reference = copies
        .first()
        .and_then(|(_, h)| h.first().copied())
        .ok_or_else(|| anyhow!("alpha's log lacks {id}"))?;
    for (name, hashes) in &copies {
        if hashes.first() != Some(&reference) {
            bail!("{name}'s copy of {id} differs from alpha's");
        }
    }
    println!(
        "  {id} is the same signed message (hash {}…) in all three logs",
        reference.to_hex().get(..16).unwrap_or("")
    );
    if let Some(dir) = args.keep {
        println!(
            "\nthe network is kept in {}: try `hotline --home {}/bravo inbox` after `hotline testnet up {}`",
            dir.display(),
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// The demo's officers: (node, call sign, language).
const OFFICERS: [(&str, &str, &str); 4] = [
    ("alpha", "duty-1", "en"),
    ("alpha", "duty-2", "zh"),
    ("bravo", "desk-b", "zh"),
    ("bravo", "desk-e", "en"),
];

/// `hotline demo --console`: two desks' consoles on a live network, until Ctrl-C.
fn consoles(args: &DemoArgs) -> Result<()> {
    use rand::Rng;
    let temp = tempfile::tempdir()?;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let mut policy = Policy { required_languages: vec!["en".into(), "zh".into()], ..Policy::default() };
    policy.codebook = vec![hotline_proto::CodebookEntry {
        number: 7,
        word: "LANTERN".into(),
        meaning: parse_texts(&[
            "en=Media attributed to your officials is fabricated; please deny it.".into(),
            "zh=归于贵方官员的媒体内容系伪造，请予以否认。".into(),
        ])?,
    }];
    let homes = testnet::init(&dir, &free_ports(3)?, policy, &hotline_node::home::Release::default())?;
    let mut logins = Vec::new();
    for (node, call_sign, language) in OFFICERS {
        let home = &homes.iter().find(|(n, _)| n == node).ok_or_else(|| anyhow!("no node {node}"))?.1;
        let mut officers = hotline_node::officers::Officers::load(&home.officers_path())?;
        let password: String = (0..4)
            .map(|_| format!("{:04}", rand::thread_rng().gen_range(0..10_000)))
            .collect::<Vec<_>>()
            .join("-");
        officers.add(call_sign, "", language, &password)?;
        officers.save(&home.officers_path())?;
        logins.push((node, call_sign, language, password));
    }
    let mut nodes = Processes::new(std::env::current_exe()?, dir.clone());
    for (name, home) in &homes {
        nodes.start(name, home, None, Duration::from_secs(60))?;
    }
    for (_, home) in &homes {
        wait_links(home, Duration::from_secs(60))?;
    }
    let mut running = Vec::new();
    for (i, (name, home)) in homes.iter().take(2).enumerate() {
        let port = args.console_port.saturating_add(i as u16);
        std::fs::create_dir_all(dir.join("logs"))?;
        let log = dir.join("logs").join(format!("{name}-console.log"));
        let console = crate::console::Console::start(&std::env::current_exe()?, home, port, &log)
            .with_context(|| format!("the console of {name} did not start (try another --console-port)"))?;
        let url = console.url.clone();
        running.push(console);
        println!("{name} desk console: {url}");
        for (node, call_sign, language, password) in logins.iter().filter(|l| l.0 == name) {
            let _ = node;
            println!("    log on as {call_sign:<7} ({language}) password {password}");
        }
    }
    println!(
        "\nA FLASH or IMMEDIATE notice composed by one officer goes when the other of the same desk releases it\n(Drafts). The network is in {}; charlie has no console (`hotline --home {}/charlie …`).\nCtrl-C stops the consoles and the nodes.",
        dir.display(),
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<_, anyhow::Error>(())
    })?;
    drop(running);
    nodes.stop_all();
    println!("stopped");
    Ok(())
}
