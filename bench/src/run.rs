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
//! - **recovery**, process start to serving the API with logs of growing size, and memory;
//! - **console**, the watch-floor console's pages with 10 000 notices in the history, an event's
//!   way to an open board, and the node's latency with 100 boards open ([`crate::console`]).
//!
//! Results go to `OUT/results.json`, `OUT/summary.md` and SVG plots in `OUT/`. `--quick` runs every
//! bench at toy sizes: a smoke test for CI, not a measurement.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hotline_node::api::{Request, SendRequest};
use hotline_node::client::{self, Client};
use hotline_proto::Policy;
use hotline_proto::{Body, Incident, Precedence};
use serde_json::{json, Value};

use hotline_testnet::procfs::status_kib;
use hotline_testnet::testnet;

use crate::flood::flood;
use crate::floors::{batch_floor, floors, two_members, verify_floor};
use crate::net::Net;
use crate::report::{plots, summary};

/// Arguments of `hotline bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Directory for results.json, summary.md and the plots.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Toy sizes: checks that every bench runs (for CI), measures nothing worth reading.
    #[arg(long)]
    quick: bool,
    /// Only these benches: latency, throughput, fanout, audit, recovery, flood, console (default:
    /// all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Network sizes for the fan-out bench, instead of its defaults (4, 8, 16, 32).
    #[arg(long, value_delimiter = ',', value_name = "NODES")]
    fanout_sizes: Vec<usize>,
    /// Log lengths for the recovery bench, instead of its defaults (10 000, 100 000, 1 000 000).
    #[arg(long, value_delimiter = ',', value_name = "ENTRIES")]
    recovery_sizes: Vec<usize>,
    /// Keep the generated audit bundles in OUT/bundle-N (to run the auditor on them by hand).
    #[arg(long)]
    keep: bool,
    /// Measure nothing: redraw the plots and the summary from an earlier run's results.json.
    #[arg(long, value_name = "RESULTS_JSON")]
    from: Option<PathBuf>,
}

pub(crate) struct Sizes {
    pub(crate) samples: usize,
    pub(crate) floor_samples: usize,
    pub(crate) throughput: usize,
    pub(crate) fanout: Vec<usize>,
    pub(crate) fanout_samples: usize,
    pub(crate) audit: Vec<usize>,
    pub(crate) recovery: Vec<usize>,
    /// Distinct Initials the flood cycles through.
    pub(crate) flood_initials: usize,
    /// Flood rates in Initials a second (0: as fast as one thread sends).
    pub(crate) flood_rates: Vec<u64>,
    /// The least time each flood lasts, in seconds.
    pub(crate) flood_seconds: u64,
    /// Notices in the history of the console bench's node.
    pub(crate) console_history: usize,
    /// Boards open at once in the console bench.
    pub(crate) console_sessions: usize,
    /// Samples of each page and of event → board.
    pub(crate) console_samples: usize,
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
                recovery: vec![2_000],
                flood_initials: 200,
                flood_rates: vec![0],
                flood_seconds: 1,
                console_history: 200,
                console_sessions: 5,
                console_samples: 5,
            }
        } else {
            Sizes {
                samples: 300,
                floor_samples: 500,
                throughput: 3000,
                fanout: vec![4, 8, 16, 32],
                fanout_samples: 20,
                audit: vec![10_000, 100_000, 1_000_000],
                recovery: vec![10_000, 100_000, 1_000_000],
                flood_initials: 20_000,
                flood_rates: vec![1_500, 0],
                flood_seconds: 20,
                console_history: 10_000,
                console_sessions: 100,
                console_samples: 50,
            }
        }
    }
}

/// The S1 incident, which every latency sample carries.
pub(crate) fn incident() -> Result<Incident> {
    Ok(serde_json::from_str(include_str!("../../spec/examples/s1-misidentification.json"))?)
}

pub(crate) fn policy() -> Policy {
    Policy { required_languages: vec!["en".into()], ..Policy::default() }
}

/// p50, p99, p99.9 and max of samples in ms.
pub(crate) fn stats(samples: &[f64]) -> Value {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    json!({"n": v.len(), "p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1.0)})
}

pub(crate) fn f(v: &Value, key: &str) -> f64 {
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
    let mut sizes = Sizes::new(args.quick);
    if !args.recovery_sizes.is_empty() {
        sizes.recovery = args.recovery_sizes.clone();
    }
    if !args.fanout_sizes.is_empty() {
        sizes.fanout = args.fanout_sizes.clone();
    }
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
    if want("flood") {
        results["flood"] = flood(work.path(), &sizes)?;
    }
    if want("console") {
        results["console"] = crate::console::console(work.path(), &sizes)?;
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

pub(crate) fn send(precedence: Precedence, to: Vec<String>) -> Result<Request> {
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
pub(crate) fn one_notice(
    api: &Path,
    watch: &mut Option<Client>,
    request: &Request,
    receipts: usize,
) -> Result<Option<f64>> {
    if watch.is_none() {
        let mut w = Client::connect(api)?;
        w.call(&Request::Watch {})?;
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
        let each = net.rss_kib();
        let rss: u64 = each.iter().sum();
        let rss_sender = each.first().copied().unwrap_or(0);
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
        out[n.to_string()] = json!({
            "stats": s,
            "floor_p50_ms": floor,
            "ratio_p50": f(&s, "p50") / floor,
            "rss_kib_total": rss,
            "rss_kib_one_node": rss_sender,
        });
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
            peak_kib = peak_kib.max(status_kib(child.id(), "VmHWM:").unwrap_or(0));
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

/// Process start to serving the API, and memory, for a member of a 5-member network whose log
/// holds `n` entries of realistic traffic ([`crate::history`]): made by real cores on real
/// stores, so the node starts from its latest snapshot and the entries after it (spec §6.12).
fn recovery(dir: &Path, sizes: &Sizes) -> Result<Value> {
    let mut out = json!({});
    for &n in &sizes.recovery {
        eprintln!("bench: recovery with {n} entries (making the history of a 5-member network)");
        let mut net = Net::init(&dir.join(format!("recovery-{n}")), 5)?;
        let made = crate::history::make(&net.homes, n as u64, crate::history::Traffic::default(), |len| {
            eprintln!("bench: recovery: {len} entries")
        })?;
        let store_path = net.homes[0].store_path();
        let store_bytes = std::fs::metadata(&store_path).map_or(0, |m| m.len());
        let segments_bytes: u64 = std::fs::read_dir(store_path.with_extension("segments"))
            .map(|dir| dir.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        let first = net.start(0)?;
        std::thread::sleep(Duration::from_secs(2));
        let rss_first = net.rss_kib()[0];
        net.stop(0)?;
        let again = net.start(0)?;
        std::thread::sleep(Duration::from_secs(2));
        let rss = net.rss_kib()[0];
        // A crash (power loss): the store was not closed, and the database must find its last
        // commit without the clean-shutdown mark.
        net.kill9(0)?;
        let crashed = net.start(0)?;
        out[n.to_string()] = json!({
            "entries": made.entries[0],
            "history": made.json(),
            "store_bytes": store_bytes,
            "segments_bytes": segments_bytes,
            "start_to_serving_s": first.as_secs_f64(),
            "restart_to_serving_s": again.as_secs_f64(),
            "restart_after_kill9_s": crashed.as_secs_f64(),
            "rss_kib": rss_first,
            "rss_after_restart_kib": rss,
        });
        drop(net);
        let _ = std::fs::remove_dir_all(dir.join(format!("recovery-{n}")));
    }
    Ok(out)
}
