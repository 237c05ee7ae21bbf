//! The console bench (issue 13's figures): a real `hotline console` beside a real node whose
//! history holds `console_history` notices, spoken to over HTTP as a browser would.
//!
//! - **render**: each page's own time (`Server-Timing`) and the time a client waits for it;
//! - **event → board**: from the moment the node's `watch` emits a notice's arrival to the moment
//!   an open board holds it (the live stream's delivery, the page's 50 ms coalescing delay, then
//!   the `/board` fetch), on a board that has not redrawn in the last 750 ms (the page's most);
//! - **sessions**: the node's notice → receipt latency with `console_sessions` logged-in boards
//!   open, each refreshing on every event as the page does, against the same latency with only
//!   one board open, measured before and after (A, B, A), with the samples spread by the same
//!   random pauses in every phase so that they fall at every moment of the boards' work.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hotline_node::api::Request;
use hotline_node::client::{self, Client};
use hotline_proto::{Disposition, Precedence};
use hotline_testnet::console::{self as web, Console, Events, Session};
use hotline_testnet::procfs::{cpu_ticks, rss_kib};
use serde_json::{json, Value};

use crate::net::Net;
use crate::run::{f, one_notice, send, stats, Sizes};

/// The page's own coalescing of events before it fetches the board (`static/console.js`).
const PAGE_DELAY: Duration = Duration::from_millis(50);
/// The page redraws its board at most once in this long (`static/console.js`).
const PAGE_EVERY: Duration = Duration::from_millis(750);
/// Officers' passwords in the bench (12 characters at least).
const PASSWORD: &str = "bench officer password";

pub(crate) fn console(dir: &Path, sizes: &Sizes) -> Result<Value> {
    eprintln!("bench: console (making a history of {} notices)", sizes.console_history);
    let mut net = Net::init(&dir.join("console"), 2)?;
    let officers = sizes.console_sessions.max(1);
    let mut book = hotline_node::officers::Officers::load(&net.homes[0].officers_path())?;
    for i in 0..officers {
        book.add(&call_sign(i), "", "en", PASSWORD)?;
    }
    book.save(&net.homes[0].officers_path())?;
    net.start(0)?;
    net.start(1)?;
    net.warm_up()?;
    let history = fill(&net, sizes.console_history, &call_sign(0))?;
    let console = Console::start(&std::env::current_exe()?, &net.homes[0], 0, &dir.join("console.log"))?;
    let probe = web::login(&console.url, &call_sign(0), PASSWORD)?;
    eprintln!("bench: console: pages");
    let render = render(&console, &probe, sizes.console_samples, history.open_from)?;
    eprintln!("bench: console: event to board");
    let live = event_to_board(&net, &console, &probe, sizes.console_samples)?;
    eprintln!("bench: console: {} sessions", sizes.console_sessions);
    let sessions = sessions(&net, &console, sizes)?;
    Ok(json!({
        "history_notices": history.notices,
        "open_duties": history.open,
        "render": render,
        "event_to_board": live,
        "sessions": sessions,
        "console_rss_kib": rss_kib(console.pid()),
    }))
}

fn call_sign(i: usize) -> String {
    format!("duty-{i:03}")
}

struct History {
    notices: usize,
    /// Notices left open on the board each way.
    open: usize,
    /// The first of bravo's notices still awaiting alpha's acknowledgement.
    open_from: u64,
}

/// Half the notices each way, all acknowledged, then a few left open each way (so that the board
/// has cards to draw): a desk's history, made through the API as quickly as the nodes take it.
fn fill(net: &Net, notices: usize, operator: &str) -> Result<History> {
    let half = (notices / 2) as u64;
    let open = 20;
    std::thread::scope(|scope| -> Result<()> {
        let a = scope.spawn(|| send_many(net, 0, "bravo", half));
        let b = scope.spawn(|| send_many(net, 1, "alpha", half));
        a.join().map_err(|_| anyhow!("a sender panicked"))??;
        b.join().map_err(|_| anyhow!("a sender panicked"))??;
        Ok(())
    })?;
    net.quiet(0, Duration::from_secs(600))?;
    net.quiet(1, Duration::from_secs(600))?;
    eprintln!("bench: console: acknowledging {} notices", 2 * half);
    // alpha's notice 1 is the warm-up; bravo's are 1..=half.
    std::thread::scope(|scope| -> Result<()> {
        let a = scope.spawn(|| ack_many(net, 0, "bravo", 1..=half, operator));
        let b = scope.spawn(|| ack_many(net, 1, "alpha", 1..=half + 1, "bench"));
        a.join().map_err(|_| anyhow!("an acknowledger panicked"))??;
        b.join().map_err(|_| anyhow!("an acknowledger panicked"))??;
        Ok(())
    })?;
    let priority = |to: &str| send(Precedence::Priority, vec![to.to_string()]);
    for _ in 0..open {
        client::call(&net.api(0), &priority("bravo")?)?;
        client::call(&net.api(1), &priority("alpha")?)?;
    }
    net.quiet(0, Duration::from_secs(600))?;
    net.quiet(1, Duration::from_secs(600))?;
    Ok(History { notices: 2 * half as usize + 1 + 2 * open, open, open_from: half + 1 })
}

fn send_many(net: &Net, from: usize, to: &str, n: u64) -> Result<()> {
    let request = send(Precedence::Routine, vec![to.to_string()])?;
    parallel(8, n, |c, _| c.call(&request).map(|_| ()), &net.api(from))
}

fn ack_many(
    net: &Net,
    at: usize,
    sender: &str,
    seqs: std::ops::RangeInclusive<u64>,
    operator: &str,
) -> Result<()> {
    let first = *seqs.start();
    let n = seqs.count() as u64;
    parallel(
        8,
        n,
        |c, i| {
            c.call(&Request::Ack {
                notice: format!("{sender}/{}", first + i),
                operator: operator.to_string(),
                disposition: Disposition::Understood,
                note: Default::default(),
            })
            .map(|_| ())
        },
        &net.api(at),
    )
}

/// Runs `job(client, i)` for every i < n on `threads` API connections.
fn parallel(
    threads: u64,
    n: u64,
    job: impl Fn(&mut Client, u64) -> Result<()> + Sync,
    api: &Path,
) -> Result<()> {
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut c = Client::connect(api)?;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        job(&mut c, i)?;
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| anyhow!("a worker panicked"))?)
    })
}

/// Every page, `n` times each (the fresh board at most 20 times): the console's time and the
/// client's.
fn render(console: &Console, probe: &Session, n: usize, open_from: u64) -> Result<Value> {
    let notice = format!("/notice/bravo/{open_from}");
    let pages = [
        ("board", "/"),
        ("board_refresh", "/board"),
        ("notice", notice.as_str()),
        ("compose", "/compose"),
        ("drafts", "/drafts"),
        ("handover", "/handover"),
    ];
    let mut out = json!({});
    // The board's reading of the node is shared for up to a second when nothing happens
    // (pages::board): "board" is a board drawn from a reading another board made, "board_fresh"
    // one that reads the node itself (a second apart).
    let fresh = [("board_fresh", "/board")];
    for (name, path) in pages.into_iter().chain(fresh) {
        let (mut server, mut client, mut bytes) = (Vec::new(), Vec::new(), 0);
        for _ in 0..if name == "board_fresh" { n.min(20) } else { n } {
            if name == "board_fresh" {
                std::thread::sleep(Duration::from_millis(1_100));
            }
            let t = Instant::now();
            let reply = web::get(&console.url, path, &probe.cookie)?;
            client.push(t.elapsed().as_secs_f64() * 1e3);
            if reply.status != 200 {
                bail!("{path} answered {}: {}", reply.status, reply.body);
            }
            server.push(reply.server_ms().context("no Server-Timing")?);
            bytes = reply.body.len();
        }
        out[name] =
            json!({"path": path, "server_ms": stats(&server), "client_ms": stats(&client), "bytes": bytes});
    }
    Ok(out)
}

/// Lines of a stream, each stamped when it was read, from a thread of its own.
fn stamped<T: Send + 'static>(
    mut next: impl FnMut() -> Result<Option<T>> + Send + 'static,
) -> mpsc::Receiver<(Instant, T)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(Some(item)) = next() {
            if tx.send((Instant::now(), item)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for the first item of `rx` that `pick` accepts, at most 10 s.
fn first<T>(rx: &mpsc::Receiver<(Instant, T)>, pick: impl Fn(&T) -> bool) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, item) =
            rx.recv_timeout(left).map_err(|_| anyhow!("the awaited event did not come within 10 s"))?;
        if pick(&item) {
            return Ok(at);
        }
    }
}

fn event_to_board(net: &Net, console: &Console, probe: &Session, n: usize) -> Result<Value> {
    let mut watch = Client::connect(&net.api(0))?;
    watch.call(&Request::Watch {})?;
    watch.set_read_timeout(Some(Duration::from_secs(30)))?;
    let node_events = stamped(move || watch.next_line());
    let mut events = Events::open(&console.url, &probe.cookie, Duration::from_secs(30))?;
    let board_events = stamped(move || Ok(events.next_data()?));
    let flash = send(Precedence::Flash, vec!["alpha".into()])?;
    let (mut stream_ms, mut board_ms, mut total_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let id = client::call(&net.api(1), &flash)?["notice"].as_str().unwrap_or_default().to_string();
        let emitted =
            first(&node_events, |e: &Value| e["event"] == "notice_received" && e["notice"] == id.as_str())?;
        let streamed = first(&board_events, |data: &String| data.contains(&format!("\"{id}\"")))?;
        std::thread::sleep(PAGE_DELAY.saturating_sub(streamed.elapsed()));
        let fetch = Instant::now();
        let board = web::get(&console.url, "/board", &probe.cookie)?;
        let done = Instant::now();
        if !board.body.contains(&format!("data-notice=\"{id}\"")) {
            bail!("the board fetched after {id} arrived does not show it");
        }
        stream_ms.push(streamed.saturating_duration_since(emitted).as_secs_f64() * 1e3);
        board_ms.push(done.saturating_duration_since(fetch).as_secs_f64() * 1e3);
        total_ms.push(done.saturating_duration_since(emitted).as_secs_f64() * 1e3);
        // Acknowledged again, so that every sample meets the same board.
        client::call(
            &net.api(0),
            &Request::Ack {
                notice: id,
                operator: call_sign(0),
                disposition: Disposition::Understood,
                note: Default::default(),
            },
        )?;
        net.quiet(1, Duration::from_secs(60))?;
    }
    Ok(json!({
        "stream_ms": stats(&stream_ms),
        "board_fetch_ms": stats(&board_ms),
        "page_delay_ms": PAGE_DELAY.as_secs_f64() * 1e3,
        "total_ms": stats(&total_ms),
    }))
}

/// `sessions` boards, as many officers, each following the live stream and fetching its board
/// as the page does ([`PAGE_DELAY`] after an event, at most once in [`PAGE_EVERY`]), until `stop`.
struct Boards {
    stop: Arc<AtomicBool>,
    fetches: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Boards {
    fn open(console: &Console, sessions: &[Session]) -> Result<Boards> {
        let (stop, fetches, failures) = (Arc::default(), Arc::default(), Arc::default());
        let mut threads = Vec::new();
        for session in sessions {
            let mut events = Events::open(&console.url, &session.cookie, Duration::from_millis(200))?;
            let (url, cookie) = (console.url.clone(), session.cookie.clone());
            let (stop, fetches, failures): (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>) =
                (Arc::clone(&stop), Arc::clone(&fetches), Arc::clone(&failures));
            threads.push(std::thread::spawn(move || {
                let mut last: Option<Instant> = None;
                while !stop.load(Ordering::Relaxed) {
                    match events.next_data() {
                        Ok(Some(_)) => {
                            // Everything that comes meanwhile is one refresh.
                            let due = last.map_or(PAGE_DELAY, |l| {
                                (l + PAGE_EVERY).saturating_duration_since(Instant::now())
                            });
                            std::thread::sleep(due.max(PAGE_DELAY));
                            let _ = events.drain();
                            last = Some(Instant::now());
                            match web::get(&url, "/board", &cookie) {
                                Ok(r) if r.status == 200 => fetches.fetch_add(1, Ordering::Relaxed),
                                _ => failures.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                        Ok(None) => return,
                        Err(e) if web::timed_out(&e) => {} // look at `stop` again
                        Err(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            }));
        }
        Ok(Boards { stop, fetches, failures, threads })
    }

    fn close(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        (self.fetches.load(Ordering::Relaxed), self.failures.load(Ordering::Relaxed))
    }
}

/// The niceness deploy/hotline-console.service gives the console.
const NICE: i32 = 10;

/// Sets the niceness of every thread of a process (`renice`, from util-linux); whether it did.
fn renice(pid: u32, nice: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    let mut all = true;
    for task in tasks.flatten() {
        let ok = std::process::Command::new("renice")
            .args(["-n", &nice.to_string(), "-p"])
            .arg(task.file_name())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        all &= ok;
    }
    all
}

/// A small generator (xorshift) for the pauses between samples (the same sequence in every
/// phase).
struct Random(u64);

impl Random {
    fn pause(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % 100)
    }
}

fn sessions(net: &Net, console: &Console, sizes: &Sizes) -> Result<Value> {
    let logins: Vec<Session> = (0..sizes.console_sessions)
        .map(|i| web::login(&console.url, &call_sign(i), PASSWORD))
        .collect::<Result<_>>()?;
    let flash = send(Precedence::Flash, vec!["bravo".into()])?;
    let pids = [net.pid(0), console.pid(), std::process::id()];
    let phase = |boards: Option<&[Session]>| -> Result<Value> {
        let open = boards.map(|b| Boards::open(console, b)).transpose()?;
        let mut watch = None;
        let mut pauses = Random(0x9e37_79b9_7f4a_7c15);
        let cpu: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p).unwrap_or(0)).collect();
        let t = Instant::now();
        let mut samples = Vec::new();
        for _ in 0..sizes.samples {
            std::thread::sleep(pauses.pause());
            if let Some(ms) = one_notice(&net.api(0), &mut watch, &flash, 1)? {
                samples.push(ms);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let used: Vec<f64> = pids
            .iter()
            .zip(&cpu)
            .map(|(p, c)| cpu_ticks(*p).unwrap_or(0).saturating_sub(*c) as f64 / 100.0)
            .collect();
        let (fetches, failures) = open.map_or((0, 0), Boards::close);
        net.quiet(0, Duration::from_secs(60))?;
        Ok(json!({
            "boards": boards.map_or(0, <[Session]>::len),
            "stats": stats(&samples),
            "board_fetches": fetches,
            "board_fetch_failures": failures,
            "seconds": secs,
            "node_cpu_s": used[0],
            "console_cpu_s": used[1],
            "bench_clients_cpu_s": used[2],
        }))
    };
    let before = phase(None)?;
    let loaded = phase(Some(&logins))?;
    // As deploy/hotline-console.service runs it: the console yields the processor to the node.
    let niced = renice(console.pid(), NICE);
    let loaded_niced = if niced { Some(phase(Some(&logins))?) } else { None };
    let after = phase(None)?;
    let base = |key: &str| (f(&before["stats"], key) + f(&after["stats"], key)) / 2.0;
    let mut out = json!({
        "before": before,
        "with_sessions": loaded,
        "after": after,
        "ratio_p50": f(&loaded["stats"], "p50") / base("p50"),
        "ratio_p99": f(&loaded["stats"], "p99") / base("p99"),
    });
    if let Some(n) = loaded_niced {
        out["niced"] = json!(NICE);
        out["ratio_p50_niced"] = json!(f(&n["stats"], "p50") / base("p50"));
        out["ratio_p99_niced"] = json!(f(&n["stats"], "p99") / base("p99"));
        out["with_sessions_niced"] = n;
    }
    Ok(out)
}
