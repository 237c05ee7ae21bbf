//! A node that runs for years (issue 10; spec §6.11, §6.12): its memory and its restart time do
//! not grow with its log. Histories of a 5-member network made by real cores on real stores
//! ([`hotline_bench::history`]) at two lengths, ten times apart; member 0's node is started on
//! each as a real process. A check of flatness (ratios in one run, never absolute times); the
//! figures at 10 M entries are `hotline bench --only recovery`'s, in BENCHMARKS.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use hotline_bench::history::{make, Traffic};
use hotline_testnet::harness::{rss_kib, Net};

struct Measured {
    entries: u64,
    start: Duration,
    rss_kib: u64,
    /// The database file and the segment files old entries moved to.
    database: u64,
    segments: u64,
}

fn measure(entries: u64, export: bool) -> Measured {
    let mut net = Net::init(5, None);
    let homes: Vec<_> = net.names.iter().map(|n| net.home(n)).collect();
    let made = make(&homes, entries, Traffic::default(), |_| {}).unwrap();
    let started = Instant::now();
    net.start("alpha");
    let start = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_kib(net.pid("alpha"));
    // It serves the whole log: its status counts every entry (and the `started` of this run).
    let status = net.json("alpha", &["status", "--json"]);
    assert!(status["log_entries"].as_u64().unwrap() > made.entries[0], "{status}");
    if export {
        // The running node exports its whole log in bounded chunks; the bundle verifies.
        let out = net.dir.path().join("bundle");
        net.ok("alpha", &["log", "export", "--out", out.to_str().unwrap()]);
        net.ok("alpha", &["audit", "verify", out.to_str().unwrap()]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("bundle.json")).unwrap()).unwrap();
        assert!(manifest["size"].as_u64().unwrap() > made.entries[0], "{manifest}");
    }
    let store = net.home("alpha").store_path();
    let database = std::fs::metadata(&store).unwrap().len();
    let segments = std::fs::read_dir(store.with_extension("segments"))
        .map(|d| d.flatten().map(|e| e.metadata().unwrap().len()).sum())
        .unwrap_or(0);
    Measured { entries: made.entries[0], start, rss_kib: rss, database, segments }
}

#[test]
fn memory_and_restart_do_not_grow_with_the_log() {
    let small = measure(10_000, false);
    let large = measure(100_000, true);
    for m in [&small, &large] {
        eprintln!(
            "{} entries: started in {:?}, {} KiB resident, database {} B, segments {} B",
            m.entries, m.start, m.rss_kib, m.database, m.segments
        );
    }
    // The database holds the recent log, the index and the tiles; old entries are in segment
    // files (redb's memory follows its file's size). Ten times the log, far less than ten times
    // the database (without segments: 8 times).
    assert!(large.segments > large.database, "old entries were not moved to segments");
    assert!(
        large.database <= small.database * 4,
        "the database grows with the log: {} B at {} entries, {} B at {}",
        small.database,
        small.entries,
        large.database,
        large.entries
    );
    assert!(
        large.rss_kib <= small.rss_kib + small.rss_kib / 4,
        "memory grows with the log: {} KiB at {} entries, {} KiB at {}",
        small.rss_kib,
        small.entries,
        large.rss_kib,
        large.entries
    );
    assert!(
        large.start <= small.start * 3 + Duration::from_millis(500),
        "restart time grows with the log: {:?} at {} entries, {:?} at {}",
        small.start,
        small.entries,
        large.start,
        large.entries
    );
}
