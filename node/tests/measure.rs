//! First measurements (not pass/fail): `cargo test --release -p hotline-node --test measure -- --ignored --nocapture`.
//!
//! Notice → receipt latency between two real nodes over loopback, against floors measured in the
//! same run: a raw quinn request/response of the same size with the same TLS configuration, and
//! one fsync of the same size; durable notices per second; idle memory of a node.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{english_incident, rss_kib, Net};
use hotline_node::api::{Request, SendRequest};
use hotline_proto::{Body, Incident, Precedence};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut xs: Vec<f64>) -> (f64, f64) {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50, p99) = (percentile(&xs, 0.5), percentile(&xs, 0.99));
    println!("{name:<44} n={:<5} p50 {p50:>8.3} ms  p99 {p99:>8.3} ms", xs.len());
    (p50, p99)
}

/// Raw quinn: request of `size` bytes on a uni stream, response of 100 bytes back on a uni stream.
fn quinn_round_trips(n: usize, size: usize) -> Vec<f64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let a = hotline_node::keys::generate();
        let b = hotline_node::keys::generate();
        let roster = hotline_proto::Roster {
            format: 1,
            network: "m".into(),
            members: [("a", &a), ("b", &b)]
                .iter()
                .map(|(n, k)| hotline_proto::Member {
                    name: (*n).into(),
                    key: hotline_proto::crypto::node_id(k),
                    addresses: vec![],
                    languages: vec![],
                })
                .collect(),
            policy: hotline_proto::Policy::default(),
        };
        let server = quinn::Endpoint::server(
            hotline_node::transport::server_config(&b, &roster).unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let conn = server.accept().await.unwrap().await.unwrap();
            while let Ok(mut s) = conn.accept_uni().await {
                let _ = s.read_to_end(1 << 20).await.unwrap();
                let mut out = conn.open_uni().await.unwrap();
                out.write_all(&[0u8; 100]).await.unwrap();
                out.finish().unwrap();
            }
        });
        let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        client.set_default_client_config(
            hotline_node::transport::client_config(&a, hotline_proto::crypto::node_id(&b)).unwrap(),
        );
        let conn = client.connect(addr, "x.invalid").unwrap().await.unwrap();
        let payload = vec![7u8; size];
        let mut times = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let mut s = conn.open_uni().await.unwrap();
            s.write_all(&payload).await.unwrap();
            s.finish().unwrap();
            let mut r = conn.accept_uni().await.unwrap();
            r.read_to_end(1 << 20).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times
    })
}

fn fsyncs(dir: &std::path::Path, n: usize, size: usize) -> Vec<f64> {
    let mut f = std::fs::File::create(dir.join("fsync.bin")).unwrap();
    let buf = vec![1u8; size];
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f.write_all(&buf).unwrap();
            f.sync_all().unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn incident(net: &Net) -> Incident {
    serde_json::from_str(&std::fs::read_to_string(english_incident(net.dir.path())).unwrap()).unwrap()
}

fn send_request(incident: &Incident) -> Request {
    Request::Send(Box::new(SendRequest {
        precedence: Precedence::Flash,
        to: vec!["bravo".into()],
        info: vec![],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident.clone()),
    }))
}

#[test]
#[ignore = "a measurement, not a test: run with --ignored --nocapture"]
fn measure() {
    let mut net = Net::init(2, None);
    net.start_all();
    net.wait_links();
    std::thread::sleep(Duration::from_secs(2));
    println!("idle memory: alpha {} KiB, bravo {} KiB", rss_kib(net.pid("alpha")), rss_kib(net.pid("bravo")));
    let incident = incident(&net);
    let frame_len = {
        let key = hotline_node::keys::generate();
        let n = hotline_proto::Notice {
            network: hotline_proto::Hash32([0; 32]),
            sender: hotline_proto::crypto::node_id(&key),
            seq: 1,
            created_ms: 0,
            precedence: Precedence::Flash,
            to: vec![],
            thread: None,
            in_reply_to: None,
            body: Body::Incident(incident.clone()),
        };
        hotline_proto::message::seal(&key, hotline_proto::Kind::Notice, &n).0.len()
    };
    // Latency: one notice at a time, send → the receipt event at the sender.
    let mut watch = hotline_node::client::Client::connect(&net.home("alpha").api_path()).unwrap();
    watch.call(&Request::Watch).unwrap();
    let mut client = hotline_node::client::Client::connect(&net.home("alpha").api_path()).unwrap();
    let (mut to_durable, mut to_receipt) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let t = Instant::now();
        let id = client.call(&send_request(&incident)).unwrap()["notice"].as_str().unwrap().to_string();
        to_durable.push(t.elapsed().as_secs_f64() * 1e3);
        loop {
            let e = watch.next_line().unwrap().unwrap();
            if e["event"] == "receipt_received" && e["notice"] == id.as_str() {
                break;
            }
        }
        to_receipt.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("frame size {frame_len} bytes");
    let (q50, q99) = summary("floor: raw quinn request/response", quinn_round_trips(300, frame_len));
    let (f50, f99) = summary("floor: one write + fsync", fsyncs(net.dir.path(), 300, frame_len + 200));
    summary("send → sent durable (API answer)", to_durable);
    let (r50, r99) = summary("send → signed receipt at the sender", to_receipt);
    // The signatures on the path: alpha signs the notice and its `sent` entry; bravo verifies the
    // notice, signs two entries and the receipt; alpha verifies the receipt and signs an entry.
    let key = hotline_node::keys::generate();
    let message = vec![5u8; frame_len];
    let t = Instant::now();
    let mut sig = None;
    for _ in 0..1000 {
        sig = Some(ed25519_dalek::Signer::sign(&key, &message));
    }
    let sign_ms = t.elapsed().as_secs_f64() * 1e3 / 1000.0;
    let sig = sig.unwrap();
    let t = Instant::now();
    for _ in 0..1000 {
        key.verifying_key().verify_strict(&message, &sig).unwrap();
    }
    let verify_ms = t.elapsed().as_secs_f64() * 1e3 / 1000.0;
    println!("floor: ed25519 sign {:.1} µs, verify_strict {:.1} µs", sign_ms * 1e3, verify_ms * 1e3);
    let crypto = 6.0 * sign_ms + 2.0 * verify_ms;
    let (floor50, floor99) = (q50 + 3.0 * f50 + crypto, q99 + 3.0 * f99 + crypto);
    println!("floor = quinn RTT + 3 fsyncs (sent; accepted+receipted; receipt accepted) + 6 signs + 2 verifies: p50 {floor50:.3} ms, p99 {floor99:.3} ms");
    println!("ratio to floor: p50 {:.2}, p99 {:.2}", r50 / floor50, r99 / floor99);
    // Throughput: 16 officers sending at once.
    let n = 2000;
    let t = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let api = net.home("alpha").api_path();
            let request = send_request(&incident);
            std::thread::spawn(move || {
                let mut c = hotline_node::client::Client::connect(&api).unwrap();
                let mut ids = Vec::new();
                for _ in 0..n / 16 {
                    ids.push(c.call(&request).unwrap()["notice"].as_str().unwrap().to_string());
                }
                ids
            })
        })
        .collect();
    let ids: std::collections::BTreeSet<String> =
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    // Every notice receipted: nothing unreceipted on the link to bravo (the event stream may lag
    // under this load, so count from the node's state).
    let api = net.home("alpha").api_path();
    common::wait_until("every receipt", Duration::from_secs(120), || {
        hotline_node::client::call(&api, &Request::Status)
            .map(|s| s["links"].as_array().is_some_and(|ls| ls.iter().all(|l| l["unreceipted"] == 0)))
            .unwrap_or(false)
    });
    let secs = t.elapsed().as_secs_f64();
    println!("throughput: {} notices sent, stored and receipted (durable at both ends) in {secs:.2} s = {:.0} notices/s", ids.len(), ids.len() as f64 / secs);
    println!(
        "memory after: alpha {} KiB, bravo {} KiB",
        rss_kib(net.pid("alpha")),
        rss_kib(net.pid("bravo"))
    );
}
