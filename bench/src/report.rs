//! The plots and the `summary.md` of a bench run, from its `results.json` values.

use std::path::Path;

use crate::plot::{Chart, Series};
use anyhow::Result;
use hotline_proto::Precedence;
use serde_json::Value;

use crate::run::f;

pub(crate) fn plots(out: &Path, r: &Value) -> Result<()> {
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
            vec![
                ("start to serving", "/start_to_serving_s", false),
                ("restart to serving", "/restart_to_serving_s", true),
                ("restart after kill -9", "/restart_after_kill9_s", true),
            ],
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

pub(crate) fn summary(r: &Value) -> String {
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
        "| entries | start to serving | restart to serving | restart after kill -9 | memory after | after the restart | database | segments |\n|---|---|---|---|---|---|---|---|",
        &r["recovery"],
        &|k, x| {
            format!(
                "| {k} | {:.3} s | {:.3} s | {:.3} s | {:.1} MiB | {:.1} MiB | {:.0} MiB | {:.0} MiB |",
                f(x, "start_to_serving_s"),
                f(x, "restart_to_serving_s"),
                f(x, "restart_after_kill9_s"),
                f(x, "rss_kib") / 1024.0,
                f(x, "rss_after_restart_kib") / 1024.0,
                f(x, "store_bytes") / 1048576.0,
                f(x, "segments_bytes") / 1048576.0
            )
        },
    );
    let fl = &r["flood"];
    if fl.is_object() {
        let idle = &fl["idle_flash"];
        let _ = writeln!(
            s,
            "\n### Handshake flood (spec §11.1)\n\nIdle: FLASH receipt p50 {:.2} ms, p99 {:.2} ms; receiver memory {:.1} MiB; an Initial is {:.0} B.\n",
            f(idle, "p50"),
            f(idle, "p99"),
            f(fl, "idle_rss_kib") / 1024.0,
            f(fl, "initial_bytes")
        );
    }
    table(
        &mut s,
        "Under the flood",
        "| offered rate | Initials sent | sent/s | bytes back per byte in | peak memory above idle | FLASH p50 | FLASH p99 | p99 / idle p99 | lost |\n|---|---|---|---|---|---|---|---|---|",
        &fl["rates"],
        &|k, x| {
            format!(
                "| {k}/s | {:.0} | {:.0} | {:.3} | {:.1} MiB | {:.2} ms | {:.2} ms | {:.2} | {} |",
                f(x, "initials_sent"),
                f(x, "initials_per_s"),
                f(x, "amplification"),
                f(x, "growth_kib") / 1024.0,
                f(&x["flash"], "p50"),
                f(&x["flash"], "p99"),
                f(x, "ratio_p99_to_idle"),
                x["lost_samples"]
            )
        },
    );
    let c = &r["console"];
    if c.is_object() {
        let _ = writeln!(
            s,
            "\n## Console ({} notices in the node's history, {} open each way)\n",
            c["history_notices"], c["open_duties"]
        );
        let _ = writeln!(s, "| page | server p50 | server p99 | client p50 | bytes |\n|---|---|---|---|---|");
        if let Some(pages) = c["render"].as_object() {
            for (name, p) in pages {
                let _ = writeln!(
                    s,
                    "| {name} (`{}`) | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
                    p["path"].as_str().unwrap_or_default(),
                    f(&p["server_ms"], "p50"),
                    f(&p["server_ms"], "p99"),
                    f(&p["client_ms"], "p50"),
                    p["bytes"]
                );
            }
        }
        let e = &c["event_to_board"];
        let _ = writeln!(
            s,
            "\nEvent → open board: p50 {:.1} ms, p99 {:.1} ms (live stream {:.2} ms, the page's own wait {:.0} ms, board fetch {:.1} ms p50).\n",
            f(&e["total_ms"], "p50"),
            f(&e["total_ms"], "p99"),
            f(&e["stream_ms"], "p50"),
            f(e, "page_delay_ms"),
            f(&e["board_fetch_ms"], "p50")
        );
        let x = &c["sessions"];
        let _ = writeln!(s, "| phase | boards | FLASH → receipt p50 | p99 | board fetches | node CPU | console CPU | bench clients' CPU |\n|---|---|---|---|---|---|---|---|");
        for phase in ["before", "with_sessions", "with_sessions_niced", "after"] {
            let p = &x[phase];
            if p.is_object() {
                let _ = writeln!(
                    s,
                    "| {phase} | {} | {:.2} ms | {:.2} ms | {} | {:.2} s | {:.2} s | {:.2} s |",
                    p["boards"],
                    f(&p["stats"], "p50"),
                    f(&p["stats"], "p99"),
                    p["board_fetches"],
                    f(p, "node_cpu_s"),
                    f(p, "console_cpu_s"),
                    f(p, "bench_clients_cpu_s")
                );
            }
        }
        let _ = writeln!(
            s,
            "\nWith the boards open / without: p50 ×{:.2}, p99 ×{:.2}; with the console at nice {}: p50 ×{:.2}, p99 ×{:.2}. Console memory {:.1} MiB.",
            f(x, "ratio_p50"),
            f(x, "ratio_p99"),
            x["niced"],
            f(x, "ratio_p50_niced"),
            f(x, "ratio_p99_niced"),
            f(c, "console_rss_kib") / 1024.0
        );
    }
    s
}
