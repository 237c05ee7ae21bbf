//! The handshake flood (spec §11.1): a second process floods the receiving node with QUIC
//! Initials from keys and addresses outside the roster while FLASH notices go to it; reports its
//! memory and the FLASH receipt latency idle and under the flood. Targets: memory bounded
//! (≤ 64 MiB above idle) whatever the flood, FLASH p99 under the flood ≤ 5× idle.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use hotline_proto::Precedence;
use hotline_testnet::flood::{initials, Flood};
use hotline_testnet::procfs::rss_kib;
use serde_json::{json, Value};

use crate::net::Net;
use crate::run::{f, one_notice, send, stats, Sizes};

pub(crate) fn flood(dir: &Path, sizes: &Sizes) -> Result<Value> {
    eprintln!("bench: handshake flood");
    let mut net = Net::init(&dir.join("flood"), 2)?;
    net.start(0)?;
    net.start(1)?;
    net.warm_up()?;
    std::thread::sleep(Duration::from_secs(2));
    let target = &net.homes[1];
    let server = hotline_proto::crypto::node_id(&target.key()?);
    let addr = target.config()?.listen;
    let pid = net.pid(1);
    let api = net.api(0);
    let flash = send(Precedence::Flash, vec!["bravo".into()])?;
    let mut watch = None;
    let idle_rss = rss_kib(pid);
    let idle: Vec<f64> = (0..sizes.samples)
        .filter_map(|_| one_notice(&api, &mut watch, &flash, 1).transpose())
        .collect::<Result<_>>()?;
    let packets = initials(sizes.flood_initials, &hotline_node::keys::generate(), server, addr)?;
    let initial_bytes = packets.iter().map(Vec::len).sum::<usize>() as f64 / packets.len().max(1) as f64;
    let mut out = json!({"idle_rss_kib": idle_rss, "initial_bytes": initial_bytes, "rates": {}});
    for &rate in &sizes.flood_rates {
        let flood = Flood::start(packets.clone(), addr, 64, rate)?;
        std::thread::sleep(Duration::from_millis(500));
        let mut peak = rss_kib(pid);
        let mut samples = Vec::new();
        let mut lost = 0;
        let t = Instant::now();
        for _ in 0..sizes.samples {
            match one_notice(&api, &mut watch, &flash, 1)? {
                Some(ms) => samples.push(ms),
                None => lost += 1,
            }
            peak = peak.max(rss_kib(pid));
        }
        while t.elapsed() < Duration::from_secs(sizes.flood_seconds) {
            std::thread::sleep(Duration::from_millis(100));
            peak = peak.max(rss_kib(pid));
        }
        let (sent, back, secs) = flood.stop();
        std::thread::sleep(Duration::from_secs(1));
        let s = stats(&samples);
        let idle_s = stats(&idle);
        let key = if rate == 0 { "max".to_string() } else { rate.to_string() };
        out["rates"][key] = json!({
            "initials_sent": sent, "initials_per_s": sent as f64 / secs, "seconds": secs,
            "amplification": back as f64 / (sent as f64 * initial_bytes).max(1.0),
            "peak_rss_kib": peak, "rss_after_kib": rss_kib(pid),
            "growth_kib": peak.saturating_sub(idle_rss),
            "flash": s, "lost_samples": lost,
            "ratio_p99_to_idle": f(&s, "p99") / f(&idle_s, "p99").max(1e-9),
            "ratio_p50_to_idle": f(&s, "p50") / f(&idle_s, "p50").max(1e-9),
        });
    }
    out["idle_flash"] = stats(&idle);
    Ok(out)
}
