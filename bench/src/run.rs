//! `hotline bench`: the end-to-end benchmarks of `BENCHMARKS.md`, on real node processes over
//! loopback, each figure next to its floor measured in the same run (the machines are noisy, so
//! ratios mean more than absolute times):
//!
//! - **latency**, notice → signed receipt at the sender, per precedence, idle and under load;
//!   floor: a raw quinn request/response of the same size with the same TLS, one fsync, and the
//!   signatures the protocol needs, all measured here;
//! - **throughput**, durable notices per second between two nodes; floor: the signing and
//!   verification work per notice spread over every core;
//! - **fan-out**, one FLASH notice to N − 1 peers, until every receipt is in;
//! - **audit**, `hotline audit verify` on bundles of growing size; floor: strict verification of
//!   the same signatures on every core, nothing else; and its peak memory;
//! - **recovery**, process start to serving the API with logs of growing size, and memory.
//!
//! Results go to `OUT/results.json`, `OUT/summary.md` and SVG plots in `OUT/`. `--quick` runs every
//! bench at toy sizes: a smoke test for CI, not a measurement.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plot::{Chart, Series};
use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::{Signer, SigningKey};
use hotline_node::api::{Request, SendRequest};
use hotline_node::client::{self, Client};
use hotline_node::home::Home;
use hotline_proto::roster::Policy;
use hotline_proto::{Body, Incident, Precedence};
use serde_json::{json, Value};

use hotline_testnet::testnet::{self, Child};

/// Arguments of `hotline bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Directory for results.json, summary.md and the plots.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Toy sizes: checks that every bench runs (for CI), measures nothing worth reading.
    #[arg(long)]
    quick: bool,
    /// Only these benches: latency, throughput, fanout, audit, recovery (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Keep the generated audit bundles in OUT/bundle-N (to run the auditor on them by hand).
    #[arg(long)]
    keep: bool,
    /// Measure nothing: redraw the plots and the summary from an earlier run's results.json.
    #[arg(long, value_name = "RESULTS_JSON")]
    from: Option<PathBuf>,
}

struct Sizes {
    samples: usize,
    floor_samples: usize,
    throughput: usize,
    fanout: Vec<usize>,
    fanout_samples: usize,
    audit: Vec<usize>,
    recovery: Vec<usize>,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                samples: 10,
                floor_samples: 20,
                throughput: 100,
                fanout: vec![3],
                fanout_samples: 2,
                audit: vec![600],
                recovery: vec![600],
            }
        } else {
            Sizes {
                samples: 300,
                floor_samples: 500,
                throughput: 3000,
                fanout: vec![4, 8, 16, 32],
                fanout_samples: 20,
                audit: vec![10_000, 100_000, 1_000_000],
                recovery: vec![1_000, 100_000, 1_000_000],
            }
        }
    }
}

/// The S1 incident, which every latency sample carries.
fn incident() -> Result<Incident> {
    Ok(serde_json::from_str(include_str!("../../spec/examples/s1-misidentification.json"))?)
}

fn policy() -> Policy {
    Policy { required_languages: vec!["en".into()], ..Policy::default() }
}

/// p50, p99, p99.9 and max of samples in ms.
fn stats(samples: &[f64]) -> Value {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    json!({"n": v.len(), "p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)})
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0)
}

/// Runs the benches and writes the results.
pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(from) = &args.from {
        let results: Value = serde_json::from_slice(
            &std::fs::read(from).with_context(|| format!("reading {}", from.display()))?,
        )?;
        std::fs::create_dir_all(&args.out)?;
        plots(&args.out, &results)?;
        let summary = summary(&results);
        std::fs::write(args.out.join("summary.md"), &summary)?;
        print!("{summary}");
        return Ok(());
    }
    let sizes = Sizes::new(args.quick);
    let want = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let work = tempfile::tempdir()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = json!({
        "machine": machine(cores),
        "quick": args.quick,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    });
    eprintln!("bench: floors");
    let floors = floors(work.path(), &sizes)?;
    results["floors"] = floors.clone();
    if want("audit") {
        let bundles = if args.keep { args.out.clone() } else { work.path().to_path_buf() };
        results["audit"] = audit(&bundles, &sizes, cores, args.keep)?;
    }
    if want("recovery") {
        results["recovery"] = recovery(work.path(), &sizes)?;
    }
    if want("latency") || want("throughput") {
        results["latency"] = latency_and_throughput(work.path(), &sizes, &floors, cores, want("throughput"))?;
    }
    if want("fanout") {
        results["fanout"] = fanout(work.path(), &sizes, &floors, cores)?;
    }
    std::fs::write(args.out.join("results.json"), serde_json::to_string_pretty(&results)? + "\n")?;
    plots(&args.out, &results)?;
    let summary = summary(&results);
    std::fs::write(args.out.join("summary.md"), &summary)?;
    print!("{summary}");
    eprintln!("bench: results in {}", args.out.display());
    Ok(())
}

fn machine(cores: usize) -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(str::to_string))
        .unwrap_or_default();
    json!({"cores": cores, "cpu": cpu, "memory": mem, "version": env!("CARGO_PKG_VERSION")})
}

/// The size of a FLASH notice carrying the S1 incident, as sealed.
fn frame_len() -> Result<usize> {
    let key = SigningKey::from_bytes(&[1; 32]);
    let notice = hotline_proto::Notice {
        network: hotline_proto::Hash32([0; 32]),
        sender: hotline_proto::crypto::node_id(&key),
        seq: 1,
        created_ms: 0,
        precedence: Precedence::Flash,
        to: vec![],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident()?),
    };
    Ok(hotline_proto::message::seal(&key, hotline_proto::Kind::Notice, &notice).0.len())
}

fn floors(dir: &Path, sizes: &Sizes) -> Result<Value> {
    let size = frame_len()?;
    let rtt = quinn_round_trips(sizes.floor_samples, size)?;
    let fsync = fsyncs(dir, sizes.floor_samples, size + 200)?;
    let commits = store_commits(dir, sizes.floor_samples, size + 200)?;
    let key = SigningKey::from_bytes(&[2; 32]);
    let message = vec![5u8; size];
    let t = Instant::now();
    let mut signature = key.sign(&message);
    for _ in 0..2000 {
        signature = key.sign(&message);
    }
    let sign_us = t.elapsed().as_secs_f64() * 1e6 / 2001.0;
    let t = Instant::now();
    for _ in 0..2000 {
        key.verifying_key().verify_strict(&message, &signature).map_err(|e| anyhow!("{e}"))?;
    }
    let verify_us = t.elapsed().as_secs_f64() * 1e6 / 2000.0;
    // On the path from a notice to its receipt: the sender signs the notice and its `sent` entry;
    // the receiver verifies the notice and signs two entries and the receipt; the sender verifies
    // the receipt and signs its `accepted` entry.
    let crypto_ms = (6.0 * sign_us + 2.0 * verify_us) / 1000.0;
    let (rtt, fsync, commits) = (stats(&rtt), stats(&fsync), stats(&commits));
    let floor = |q: &str| f(&rtt, q) + f(&fsync, q) + crypto_ms;
    Ok(json!({
        "frame_bytes": size,
        "quinn_rtt_ms": rtt,
        "fsync_ms": fsync,
        "store_commit_ms": commits,
        "sign_us": sign_us,
        "verify_strict_us": verify_us,
        "path_crypto_ms": crypto_ms,
        "latency_floor_ms": {"p50": floor("p50"), "p99": floor("p99"), "p999": floor("p999")},
        "latency_floor_3_fsyncs_ms": {"p50": floor("p50") + 2.0 * f(&fsync, "p50"), "p99": floor("p99") + 2.0 * f(&fsync, "p99")},
    }))
}

/// Two fresh keys, alpha and bravo, and a roster of them with the bench policy.
fn two_members(network: &str) -> (SigningKey, SigningKey, hotline_proto::Roster) {
    let (a, b) = (hotline_node::keys::generate(), hotline_node::keys::generate());
    let member = |name: &str, k: &SigningKey| hotline_proto::Member {
        name: name.into(),
        key: hotline_proto::crypto::node_id(k),
        addresses: vec![],
        languages: vec![],
    };
    let roster = hotline_proto::Roster {
        format: hotline_proto::roster::ROSTER_FORMAT,
        network: network.into(),
        members: vec![member("alpha", &a), member("bravo", &b)],
        policy: policy(),
    };
    (a, b, roster)
}

/// Raw quinn, same TLS configuration as the nodes: a request of `size` bytes on a uni stream, 100
/// bytes back on another.
fn quinn_round_trips(n: usize, size: usize) -> Result<Vec<f64>> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let (a, b, roster) = two_members("floor");
        let server = quinn::Endpoint::server(
            hotline_node::transport::server_config(&b, &roster)?,
            "127.0.0.1:0".parse()?,
        )?;
        let addr = server.local_addr()?;
        tokio::spawn(async move {
            let Some(incoming) = server.accept().await else { return };
            let Ok(conn) = incoming.await else { return };
            while let Ok(mut s) = conn.accept_uni().await {
                if s.read_to_end(1 << 20).await.is_err() {
                    return;
                }
                let Ok(mut out) = conn.open_uni().await else { return };
                let _ = out.write_all(&[0u8; 100]).await;
                let _ = out.finish();
            }
        });
        let mut client = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
        client.set_default_client_config(hotline_node::transport::client_config(
            &a,
            hotline_proto::crypto::node_id(&b),
        )?);
        let conn = client.connect(addr, "floor.invalid")?.await?;
        let payload = vec![7u8; size];
        let mut times = Vec::with_capacity(n);
        for _ in 0..n + 10 {
            let t = Instant::now();
            let mut s = conn.open_uni().await?;
            s.write_all(&payload).await?;
            s.finish()?;
            let mut r = conn.accept_uni().await?;
            r.read_to_end(1 << 20).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(times.split_off(10))
    })
}

/// The node's own durable append: one leaf committed to the redb store (not a floor: the cost the
/// store adds to a raw fsync).
fn store_commits(dir: &Path, n: usize, size: usize) -> Result<Vec<f64>> {
    let (mut store, _) = hotline_node::store::Store::open(&dir.join("commit-bench.redb"))?;
    let leaf = vec![3u8; size];
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        store.append(i as u64, std::slice::from_ref(&leaf))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

fn fsyncs(dir: &Path, n: usize, size: usize) -> Result<Vec<f64>> {
    let mut file = std::fs::File::create(dir.join("fsync.bin"))?;
    let buf = vec![1u8; size];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&buf)?;
        file.sync_all()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// A running testnet for one bench; every process is stopped when it is dropped.
struct Net {
    homes: Vec<Home>,
    children: Vec<Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            child.stop();
        }
    }
}

impl Net {
    /// Initialises `n` nodes under `dir` (without starting them).
    fn init(dir: &Path, n: usize) -> Result<Net> {
        let sockets: Vec<std::net::UdpSocket> =
            (0..n).map(|_| std::net::UdpSocket::bind("127.0.0.1:0")).collect::<std::io::Result<_>>()?;
        let ports: Vec<u16> =
            sockets.iter().map(|s| s.local_addr().map(|a| a.port())).collect::<std::io::Result<_>>()?;
        drop(sockets);
        let homes = testnet::init(dir, &ports, policy())?.into_iter().map(|(_, h)| h).collect();
        Ok(Net { homes, children: Vec::new() })
    }

    /// Starts node `i`; returns once its API answers (and how long that took).
    fn start(&mut self, i: usize) -> Result<Duration> {
        let t = Instant::now();
        let log = self.homes[i].dir().join("node.log");
        self.children.push(Child::start(&self.homes[i], Some(&log))?);
        let api = self.homes[i].api_path();
        while client::call(&api, &Request::Status).is_err() {
            if t.elapsed() > Duration::from_secs(120) {
                bail!("node {i} did not start within 120 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(t.elapsed())
    }

    fn api(&self, i: usize) -> PathBuf {
        self.homes[i].api_path()
    }

    /// Sends a FLASH notice from node 0 to every other node and waits until all receipted.
    fn warm_up(&self) -> Result<()> {
        let to: Vec<String> = (1..self.homes.len()).map(testnet::name).collect();
        client::call(&self.api(0), &send(Precedence::Flash, to)?)?;
        self.quiet(0, Duration::from_secs(60))
    }

    /// Waits until node `i` has nothing unreceipted.
    fn quiet(&self, i: usize, limit: Duration) -> Result<()> {
        let t = Instant::now();
        loop {
            let status = client::call(&self.api(i), &Request::Status)?;
            let links = status["links"].as_array().cloned().unwrap_or_default();
            if links.iter().all(|l| l["unreceipted"] == 0) {
                return Ok(());
            }
            if t.elapsed() > limit {
                bail!("node {i} still has unreceipted messages after {limit:?}: {}", status["links"]);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rss_kib(&self) -> Vec<u64> {
        self.children.iter().map(|c| rss_kib(c.id())).collect()
    }
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// A `kB` field of `/proc/PID/status` (0 if the process is gone).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn send(precedence: Precedence, to: Vec<String>) -> Result<Request> {
    Ok(Request::Send(Box::new(SendRequest {
        precedence,
        to,
        info: vec![],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident()?),
    })))
}

/// Sends one notice and waits for `receipts` receipt events for it; the time in ms, or `None` if
/// the events did not come within 10 s (the event stream can lag under load).
fn one_notice(
    api: &Path,
    watch: &mut Option<Client>,
    request: &Request,
    receipts: usize,
) -> Result<Option<f64>> {
    if watch.is_none() {
        let mut w = Client::connect(api)?;
        w.call(&Request::Watch)?;
        w.set_read_timeout(Some(Duration::from_secs(10)))?;
        *watch = Some(w);
    }
    let t = Instant::now();
    let id = client::call(api, request)?["notice"].as_str().unwrap_or_default().to_string();
    let mut seen = 0;
    while seen < receipts {
        let event = match watch.as_mut().map(Client::next_line) {
            Some(Ok(Some(e))) => e,
            _ => {
                *watch = None;
                return Ok(None);
            }
        };
        if event["event"] == "receipt_received" && event["notice"] == id.as_str() && event["of"] == "notice" {
            seen += 1;
        }
    }
    Ok(Some(t.elapsed().as_secs_f64() * 1e3))
}

fn latency_and_throughput(
    dir: &Path,
    sizes: &Sizes,
    floors: &Value,
    cores: usize,
    throughput: bool,
) -> Result<Value> {
    eprintln!("bench: latency");
    let mut net = Net::init(&dir.join("latency"), 2)?;
    net.start(0)?;
    net.start(1)?;
    net.warm_up()?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = net.rss_kib();
    let api = net.api(0);
    let mut watch = None;
    let mut out = json!({"idle_rss_kib": idle_rss});
    let floor = &floors["latency_floor_ms"];
    for precedence in Precedence::ALL {
        let request = send(precedence, vec!["bravo".into()])?;
        let samples: Vec<f64> = (0..sizes.samples)
            .filter_map(|_| one_notice(&api, &mut watch, &request, 1).transpose())
            .collect::<Result<_>>()?;
        let s = stats(&samples);
        out["idle"][precedence.name()] = json!({
            "stats": s, "samples": samples,
            "ratio_p50": f(&s, "p50") / f(floor, "p50"), "ratio_p99": f(&s, "p99") / f(floor, "p99"),
        });
    }
    // Under load: four officers send ROUTINE notices as fast as the node takes them while FLASH
    // latency is measured.
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (api, stop) = (api.clone(), stop.clone());
            let request = send(Precedence::Routine, vec!["bravo".into()]);
            std::thread::spawn(move || -> Result<u64> {
                let request = request?;
                let mut c = Client::connect(&api)?;
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) {
                    c.call(&request)?;
                    sent += 1;
                }
                Ok(sent)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let flash = send(Precedence::Flash, vec!["bravo".into()])?;
    let t = Instant::now();
    let mut lost = 0;
    let mut samples = Vec::new();
    for _ in 0..sizes.samples {
        match one_notice(&api, &mut watch, &flash, 1)? {
            Some(ms) => samples.push(ms),
            None => lost += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let background: u64 = loaders
        .into_iter()
        .map(|l| l.join().map_err(|_| anyhow!("a loader panicked"))?)
        .sum::<Result<u64>>()?;
    let secs = t.elapsed().as_secs_f64();
    let s = stats(&samples);
    out["flash_under_load"] = json!({
        "stats": s, "samples": samples, "lost_samples": lost,
        "background_routine_per_s": background as f64 / secs,
        "ratio_p50": f(&s, "p50") / f(floor, "p50"), "ratio_p99": f(&s, "p99") / f(floor, "p99"),
    });
    net.quiet(0, Duration::from_secs(300))?;
    if throughput {
        eprintln!("bench: throughput");
        out["throughput"] = throughput_bench(&net, sizes.throughput, floors, cores)?;
    }
    Ok(out)
}

fn throughput_bench(net: &Net, n: usize, floors: &Value, cores: usize) -> Result<Value> {
    let t = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let api = net.api(0);
            let request = send(Precedence::Routine, vec!["bravo".into()]);
            std::thread::spawn(move || -> Result<usize> {
                let request = request?;
                let mut c = Client::connect(&api)?;
                for _ in 0..n / 16 {
                    c.call(&request)?;
                }
                Ok(n / 16)
            })
        })
        .collect();
    let sent: usize = workers
        .into_iter()
        .map(|w| w.join().map_err(|_| anyhow!("a sender panicked"))?)
        .sum::<Result<usize>>()?;
    let durable_at_sender = t.elapsed().as_secs_f64();
    net.quiet(0, Duration::from_secs(600))?;
    let secs = t.elapsed().as_secs_f64();
    let per_notice_us = f(floors, "path_crypto_ms") * 1000.0;
    let crypto_floor = cores as f64 * 1e6 / per_notice_us;
    let rate = sent as f64 / secs;
    Ok(json!({
        "notices": sent,
        "seconds": secs,
        "notices_per_s": rate,
        "stored_at_sender_per_s": sent as f64 / durable_at_sender,
        "crypto_floor_per_s": crypto_floor,
        "ratio": rate / crypto_floor,
        "fsyncs_per_s_raw": 1000.0 / f(&floors["fsync_ms"], "p50"),
    }))
}

fn fanout(dir: &Path, sizes: &Sizes, floors: &Value, cores: usize) -> Result<Value> {
    let mut out = json!({});
    for &n in &sizes.fanout {
        eprintln!("bench: fan-out to {} nodes", n - 1);
        let mut net = Net::init(&dir.join(format!("fanout-{n}")), n)?;
        for i in 0..n {
            net.start(i)?;
        }
        net.warm_up()?;
        std::thread::sleep(Duration::from_secs(1));
        let rss: u64 = net.rss_kib().iter().sum();
        let to: Vec<String> = (1..n).map(testnet::name).collect();
        let request = send(Precedence::Flash, to)?;
        let mut watch = None;
        let mut samples = Vec::new();
        for _ in 0..sizes.fanout_samples {
            if let Some(ms) = one_notice(&net.api(0), &mut watch, &request, n - 1)? {
                samples.push(ms);
            }
            net.quiet(0, Duration::from_secs(60))?;
        }
        // Floor: one exchange, plus the sender's own work for each further receipt (verify it,
        // sign its entry), spread over the cores.
        let extra =
            (n - 2) as f64 * (f(floors, "verify_strict_us") + f(floors, "sign_us")) / 1000.0 / cores as f64;
        let floor = f(&floors["latency_floor_ms"], "p50") + extra;
        let s = stats(&samples);
        out[n.to_string()] = json!({"stats": s, "floor_p50_ms": floor, "ratio_p50": f(&s, "p50") / floor, "rss_kib_total": rss});
    }
    Ok(out)
}

fn audit(dir: &Path, sizes: &Sizes, cores: usize, keep: bool) -> Result<Value> {
    let mut out = json!({});
    let (a, b, roster) = two_members("bench");
    let exe = std::env::current_exe()?;
    for &n in &sizes.audit {
        eprintln!("bench: audit of {n} entries");
        let leaves =
            crate::synthetic::log(&a, &roster, hotline_proto::crypto::node_id(&b), n, 1_800_000_000_000)?;
        let bundle = dir.join(format!("bundle-{n}"));
        hotline_audit::bundle::write(&bundle, &roster, hotline_proto::crypto::node_id(&a), &leaves)?;
        drop(leaves);
        let floor_s = verify_floor(&a, 2 * n, cores);
        let batch_s = batch_floor(&a, 2 * n, cores)?;
        let t = Instant::now();
        let mut child = std::process::Command::new(&exe)
            .args(["audit", "verify", "--json"])
            .arg(&bundle)
            .stdout(std::process::Stdio::null())
            .spawn()?;
        // The auditor's own peak (VmHWM after exec), read until it exits: a child's rusage would
        // count the pages it shared with this process between fork and exec.
        let mut peak_kib = 0;
        let status = loop {
            peak_kib = peak_kib.max(proc_status_kib(child.id(), "VmHWM:"));
            if let Some(status) = child.try_wait()? {
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let secs = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("hotline audit verify failed on the synthetic bundle of {n} entries");
        }
        let bytes = dir_size(&bundle);
        if !keep {
            std::fs::remove_dir_all(&bundle)?;
        }
        out[n.to_string()] = json!({
            "entries": n, "seconds": secs, "entries_per_s": n as f64 / secs,
            "floor_entries_per_s": n as f64 / floor_s, "ratio": floor_s / secs,
            "batch_floor_entries_per_s": n as f64 / batch_s, "ratio_to_batch": batch_s / secs,
            "peak_rss_kib": peak_kib, "bundle_bytes": bytes,
        });
    }
    Ok(out)
}

/// Seconds to verify `count` signatures strictly on `cores` threads, with nothing else to do.
fn verify_floor(key: &SigningKey, count: usize, cores: usize) -> f64 {
    let messages: Vec<Vec<u8>> = (0..1024u32).map(|i| vec![i as u8; 400]).collect();
    let signatures: Vec<_> = messages.iter().map(|m| key.sign(m)).collect();
    let vk = key.verifying_key();
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in 0..cores {
            let (messages, signatures) = (&messages, &signatures);
            s.spawn(move || {
                for i in (c..count).step_by(cores) {
                    let j = i % messages.len();
                    let _ = vk.verify_strict(&messages[j], &signatures[j]);
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

/// Seconds to check `count` signatures with `ed25519_dalek::verify_batch` (batches of 64) on
/// `cores` threads: the floor. Batch verification is not what the auditor may use (it
/// accepts signatures that `verify_strict` refuses), but it is the cheapest way to check them.
fn batch_floor(key: &SigningKey, count: usize, cores: usize) -> Result<f64> {
    const BATCH: usize = 64;
    let messages: Vec<Vec<u8>> = (0..BATCH as u32).map(|i| vec![i as u8; 400]).collect();
    let signatures: Vec<_> = messages.iter().map(|m| key.sign(m)).collect();
    let keys = vec![key.verifying_key(); BATCH];
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&refs, &signatures, &keys).map_err(|e| anyhow!("batch floor: {e}"))?;
    let batches = count.div_ceil(BATCH);
    let t = Instant::now();
    std::thread::scope(|s| {
        for c in 0..cores {
            let (refs, signatures, keys) = (&refs, &signatures, &keys);
            s.spawn(move || {
                for _ in (c..batches).step_by(cores) {
                    let _ = ed25519_dalek::verify_batch(refs, signatures, keys);
                }
            });
        }
    });
    Ok(t.elapsed().as_secs_f64())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn recovery(dir: &Path, sizes: &Sizes) -> Result<Value> {
    let mut out = json!({});
    for &n in &sizes.recovery {
        eprintln!("bench: recovery with {n} entries");
        let mut net = Net::init(&dir.join(format!("recovery-{n}")), 2)?;
        let key = net.homes[0].key()?;
        let roster = net.homes[0].roster()?;
        let peer = roster
            .members
            .iter()
            .find(|m| m.name == "bravo")
            .map(|m| m.key)
            .ok_or_else(|| anyhow!("no bravo"))?;
        let leaves = crate::synthetic::log(&key, &roster, peer, n, hotline_node::now_ms() - 3_600_000)?;
        {
            let (mut store, _) = hotline_node::store::Store::open(&net.homes[0].store_path())?;
            for (i, chunk) in leaves.chunks(10_000).enumerate() {
                store.append((i * 10_000) as u64, chunk)?;
            }
        }
        drop(leaves);
        let took = net.start(0)?;
        std::thread::sleep(Duration::from_secs(1));
        let rss = net.rss_kib()[0];
        out[n.to_string()] = json!({"entries": n, "start_to_serving_s": took.as_secs_f64(), "rss_kib": rss});
    }
    Ok(out)
}

fn plots(out: &Path, r: &Value) -> Result<()> {
    let cdf = |samples: &Value| -> Vec<(f64, f64)> {
        let mut v: Vec<f64> =
            samples.as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        v.sort_by(f64::total_cmp);
        let len = v.len().max(1) as f64;
        v.iter().enumerate().map(|(i, x)| (*x, 100.0 * (i + 1) as f64 / len)).collect()
    };
    if r["latency"].is_object() {
        let mut series: Vec<Series> = Precedence::ALL
            .iter()
            .map(|p| Series {
                name: format!("{} idle", p.name()),
                points: cdf(&r["latency"]["idle"][p.name()]["samples"]),
                dashed: false,
            })
            .collect();
        series.push(Series {
            name: "FLASH under load".into(),
            points: cdf(&r["latency"]["flash_under_load"]["samples"]),
            dashed: false,
        });
        let floor = f(&r["floors"]["latency_floor_ms"], "p50");
        series.push(Series {
            name: "floor p50".into(),
            points: vec![(floor, 0.0), (floor, 100.0)],
            dashed: true,
        });
        let chart = Chart {
            title: "Notice to signed receipt: latency distribution".into(),
            x_label: "milliseconds (logarithmic)".into(),
            y_label: "percent of notices".into(),
            log_x: true,
            series,
        };
        std::fs::write(out.join("latency.svg"), chart.svg())?;
    }
    let by_size = |v: &Value, key: &str| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = v
            .as_object()
            .map(|o| {
                o.iter().filter_map(|(k, x)| Some((k.parse().ok()?, x.pointer(key)?.as_f64()?))).collect()
            })
            .unwrap_or_default();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    let charts = [
        (
            "fanout",
            "fanout.svg",
            "One FLASH notice to N − 1 peers: time until every receipt",
            "nodes",
            "milliseconds (p50)",
            false,
            vec![("measured", "/stats/p50", false), ("floor", "/floor_p50_ms", true)],
        ),
        (
            "audit",
            "audit.svg",
            "hotline audit verify: entries per second",
            "entries",
            "entries per second",
            true,
            vec![
                ("measured", "/entries_per_s", false),
                ("strict floor", "/floor_entries_per_s", true),
                ("batch floor", "/batch_floor_entries_per_s", true),
            ],
        ),
        (
            "recovery",
            "recovery.svg",
            "Recovery: process start to serving",
            "log entries",
            "seconds",
            true,
            vec![("start to serving", "/start_to_serving_s", false)],
        ),
    ];
    for (key, file, title, x, y, log_x, lines) in charts {
        if !r[key].is_object() {
            continue;
        }
        let series = lines
            .into_iter()
            .map(|(name, ptr, dashed)| Series { name: name.into(), points: by_size(&r[key], ptr), dashed })
            .collect();
        let chart = Chart { title: title.into(), x_label: x.into(), y_label: y.into(), log_x, series };
        std::fs::write(out.join(file), chart.svg())?;
    }
    Ok(())
}

fn summary(r: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let fl = &r["floors"];
    let _ = writeln!(s, "## Floors (this run)\n");
    let _ = writeln!(s, "| floor | p50 | p99 |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| raw quinn request/response, {} B | {:.3} ms | {:.3} ms |",
        fl["frame_bytes"],
        f(&fl["quinn_rtt_ms"], "p50"),
        f(&fl["quinn_rtt_ms"], "p99")
    );
    let _ = writeln!(
        s,
        "| write + fsync | {:.3} ms | {:.3} ms |",
        f(&fl["fsync_ms"], "p50"),
        f(&fl["fsync_ms"], "p99")
    );
    let _ = writeln!(
        s,
        "| (not a floor) one entry committed to the node's redb store | {:.3} ms | {:.3} ms |",
        f(&fl["store_commit_ms"], "p50"),
        f(&fl["store_commit_ms"], "p99")
    );
    let _ = writeln!(
        s,
        "| ed25519 sign / verify_strict | {:.1} µs | {:.1} µs |",
        f(fl, "sign_us"),
        f(fl, "verify_strict_us")
    );
    let _ = writeln!(
        s,
        "| latency floor: RTT + 1 fsync + 6 signs + 2 verifies | {:.3} ms | {:.3} ms |",
        f(&fl["latency_floor_ms"], "p50"),
        f(&fl["latency_floor_ms"], "p99")
    );
    let _ = writeln!(
        s,
        "| the same with the 3 fsyncs on the protocol's path | {:.3} ms | {:.3} ms |\n",
        f(&fl["latency_floor_3_fsyncs_ms"], "p50"),
        f(&fl["latency_floor_3_fsyncs_ms"], "p99")
    );
    if r["latency"].is_object() {
        let _ = writeln!(s, "## Latency: notice → signed receipt at the sender\n");
        let _ = writeln!(
            s,
            "| case | n | p50 | p99 | p99.9 | p50 / floor | p99 / floor |\n|---|---|---|---|---|---|---|"
        );
        let row = |s: &mut String, name: &str, v: &Value| {
            let st = &v["stats"];
            let _ = writeln!(
                s,
                "| {name} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} | {:.2} |",
                st["n"],
                f(st, "p50"),
                f(st, "p99"),
                f(st, "p999"),
                f(v, "ratio_p50"),
                f(v, "ratio_p99")
            );
        };
        for p in Precedence::ALL {
            row(&mut s, &format!("{} idle", p.name()), &r["latency"]["idle"][p.name()]);
        }
        let load = &r["latency"]["flash_under_load"];
        row(
            &mut s,
            &format!("FLASH under ROUTINE load ({:.0}/s)", f(load, "background_routine_per_s")),
            load,
        );
        let _ = writeln!(s, "\nIdle node memory (RSS, KiB, per node): {}\n", r["latency"]["idle_rss_kib"]);
        let t = &r["latency"]["throughput"];
        if t.is_object() {
            let _ = writeln!(s, "## Throughput\n\n{} notices, stored and receipted at both ends: {:.0} notices/s; crypto floor on every core {:.0}/s; ratio {:.2}. (Stored at the sender: {:.0}/s; raw fsyncs: {:.0}/s.)\n", t["notices"], f(t, "notices_per_s"), f(t, "crypto_floor_per_s"), f(t, "ratio"), f(t, "stored_at_sender_per_s"), f(t, "fsyncs_per_s_raw"));
        }
    }
    let table = |s: &mut String, title: &str, head: &str, v: &Value, row: &dyn Fn(&str, &Value) -> String| {
        if let Some(o) = v.as_object() {
            let _ = writeln!(s, "## {title}\n\n{head}");
            let mut rows: Vec<(u64, String)> =
                o.iter().map(|(k, x)| (k.parse().unwrap_or(0), row(k, x))).collect();
            rows.sort();
            for (_, line) in rows {
                let _ = writeln!(s, "{line}");
            }
            s.push('\n');
        }
    };
    table(
        &mut s,
        "Fan-out: one FLASH notice to N − 1 peers",
        "| nodes | p50 | max | floor | p50 / floor | memory, all nodes |\n|---|---|---|---|---|---|",
        &r["fanout"],
        &|k, x| {
            format!(
                "| {k} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} | {:.0} MiB |",
                f(&x["stats"], "p50"),
                f(&x["stats"], "max"),
                f(x, "floor_p50_ms"),
                f(x, "ratio_p50"),
                f(x, "rss_kib_total") / 1024.0
            )
        },
    );
    table(&mut s, "Audit: hotline audit verify", "| entries | time | entries/s | strict floor entries/s | ratio | batch floor entries/s | ratio | peak memory | bundle |\n|---|---|---|---|---|---|---|---|---|", &r["audit"], &|k, x| {
        format!("| {k} | {:.2} s | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.0} MiB | {:.0} MiB |", f(x, "seconds"), f(x, "entries_per_s"), f(x, "floor_entries_per_s"), f(x, "ratio"), f(x, "batch_floor_entries_per_s"), f(x, "ratio_to_batch"), f(x, "peak_rss_kib") / 1024.0, f(x, "bundle_bytes") / 1048576.0)
    });
    table(
        &mut s,
        "Recovery: process start to serving",
        "| entries | start to serving | memory after |\n|---|---|---|",
        &r["recovery"],
        &|k, x| {
            format!("| {k} | {:.3} s | {:.0} MiB |", f(x, "start_to_serving_s"), f(x, "rss_kib") / 1024.0)
        },
    );
    s
}
