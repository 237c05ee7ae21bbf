//! Chaos soak with real processes: five nodes, every link through a fault-injecting relay (loss,
//! duplication, jitter that reorders, partitions that come and go), `kill -9` and restart of
//! random nodes at random times, while officers send notices of every precedence between random
//! parties and acknowledge most of them. After healing: nothing lost, nothing accepted twice, every
//! log verifies, and every recorded deadline miss coincides with a real outage or an unanswered
//! notice.
//!
//! `HOTLINE_SOAK_SECS` (default 75) sets the chaotic phase; `HOTLINE_SOAK_SEED` replays a run's
//! random schedule (printed at the start).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hotline_node::api::{Request, SendRequest};
use hotline_node::now_ms;
use hotline_proto::DeadlineMissed;
use hotline_proto::{Body, DeadlineKind, Message, Precedence, Record};
use hotline_testnet::harness::{english_incident, Net};
use hotline_testnet::relay::{LinkFaults, Partition, Scenario};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const POLICY: &str = r#"
heartbeat_interval_ms = 1000
link_test_interval_ms = 2000
checkpoint_interval_ms = 2000
link_silence_ms = 8000
max_clock_skew_ms = 2000
retransmit_initial_ms = 200
retransmit_max_ms = 2000
required_languages = ["en"]
codebook = []
[flash]
receipt_ms = 40000
ack_ms = 60000
[immediate]
receipt_ms = 40000
ack_ms = 60000
[priority]
receipt_ms = 45000
ack_ms = 65000
[routine]
receipt_ms = 45000
ack_ms = 65000
"#;
/// After a node restarts or a partition heals, reconnection takes this long at most (idle timeout
/// of the stale connection, re-dial backoff, handshake under loss): misses within it are due to
/// the outage. The receipt deadlines (40-45 s) keep a wide margin: away from outages and
/// partitions, receipts under 20-30 % loss take well under a second (the run prints it), but a
/// connection can still stall under loss until it is replaced after `link_silence_ms` (8 s) and
/// re-dialled, with handshakes that may time out (4 s) and start again.
const GRACE_MS: u64 = 12_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

#[test]
fn chaos_soak() {
    let secs = env_u64("HOTLINE_SOAK_SECS").unwrap_or(75);
    let seed = env_u64("HOTLINE_SOAK_SEED").unwrap_or_else(rand::random);
    eprintln!("soak: {secs} s of chaos, seed {seed} (replay the schedule with HOTLINE_SOAK_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Net::init(5, Some(POLICY));
    let names = net.names.clone();
    let homes: Vec<_> = names.iter().map(|n| net.home(n)).collect();

    // Faults: 20-30 % loss, duplication, jitter; partitions that come and go.
    let mut partitions = Vec::new();
    for _ in 0..rng.gen_range(3..=5) {
        let mut pair = names.clone();
        pair.shuffle(&mut rng);
        let start = rng.gen_range(5.0..(secs as f64 - 20.0).max(6.0));
        partitions.push(Partition {
            between: [pair[0].clone(), pair[1].clone()],
            one_way: rng.gen_bool(0.3),
            start_s: start,
            end_s: start + rng.gen_range(4.0..15.0),
        });
    }
    let scenario = Scenario {
        seed,
        default: LinkFaults {
            loss: rng.gen_range(0.2..0.3),
            duplicate: 0.05,
            delay_ms: 2,
            jitter_ms: 15,
            bandwidth_kbps: 0,
        },
        link: vec![],
        partition: partitions.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start_ms = now_ms();
    let (control, routes) =
        rt.block_on(hotline_testnet::relay::route_testnet(&homes, Some(scenario))).unwrap().unwrap();
    for (name, peers) in &routes {
        net.route(name, peers);
    }
    net.start_all();

    // Kills: (node, kill at, restart at), in ms since the start.
    let mut kills = Vec::new();
    for _ in 0..rng.gen_range(3..=6) {
        let at = rng.gen_range(5_000..(secs * 1000).saturating_sub(15_000).max(5_001));
        kills.push((rng.gen_range(0..names.len()), at, at + rng.gen_range(2_000..10_000)));
    }
    kills.sort_by_key(|k| k.1);
    let mut down: BTreeMap<usize, u64> = BTreeMap::new(); // node → restart due (ms since start)
                                                          // Node, from, to (absolute ms). A node's first start counts as the end of an outage: its links
                                                          // come up under the same loss, and within the same grace, as after a restart.
    let mut outages: Vec<(usize, u64, u64)> = (0..names.len()).map(|i| (i, start_ms, now_ms())).collect();

    let incident: hotline_proto::Incident =
        serde_json::from_str(&std::fs::read_to_string(english_incident(net.dir.path())).unwrap()).unwrap();
    let mut confirmed: BTreeSet<String> = BTreeSet::new();
    let mut decided: BTreeMap<(usize, String), bool> = BTreeMap::new(); // (officer, notice) → will acknowledge
    let begin = Instant::now();
    let elapsed = |b: &Instant| b.elapsed().as_millis() as u64;
    let mut next_kill = 0;
    while elapsed(&begin) < secs * 1000 {
        let t = elapsed(&begin);
        // Process kills and restarts that are due.
        while next_kill < kills.len() && kills[next_kill].1 <= t {
            let (i, _, restart) = kills[next_kill];
            next_kill += 1;
            if let std::collections::btree_map::Entry::Vacant(e) = down.entry(i) {
                net.kill9(&names[i]);
                e.insert(restart);
                outages.push((i, now_ms(), u64::MAX));
            }
        }
        let due: Vec<usize> = down.iter().filter(|(_, r)| **r <= t).map(|(i, _)| *i).collect();
        for i in due {
            down.remove(&i);
            net.start(&names[i]);
            if let Some(o) = outages.iter_mut().rev().find(|o| o.0 == i && o.2 == u64::MAX) {
                o.2 = now_ms();
            }
        }
        // An officer sends.
        let s = rng.gen_range(0..names.len());
        if !down.contains_key(&s) {
            let mut others: Vec<&String> = names.iter().filter(|n| **n != names[s]).collect();
            others.shuffle(&mut rng);
            let count = rng.gen_range(1..=3);
            let precedence = *Precedence::ALL.choose(&mut rng).unwrap();
            let to = vec![others[0].clone()];
            let info: Vec<String> = others[1..count].iter().map(|n| (*n).clone()).collect();
            let request = Request::Send(Box::new(SendRequest {
                precedence,
                to,
                info,
                thread: None,
                in_reply_to: None,
                body: Body::Incident(incident.clone()),
            }));
            if let Ok(r) = hotline_node::client::call(&net.home(&names[s]).api_path(), &request) {
                confirmed.insert(r["notice"].as_str().unwrap().to_string());
            }
        }
        // An officer goes through the inbox: decides once per notice, acknowledges 85 %.
        let o = rng.gen_range(0..names.len());
        if !down.contains_key(&o) {
            if let Ok(inbox) = hotline_node::client::call(
                &net.home(&names[o]).api_path(),
                &Request::Inbox { limit: Some(0), since: None },
            ) {
                for n in inbox["awaiting_ack"].as_array().unwrap() {
                    let id = n["id"].as_str().unwrap().to_string();
                    let will = *decided.entry((o, id.clone())).or_insert_with(|| rng.gen_bool(0.85));
                    if will {
                        let ack = Request::Ack {
                            notice: id,
                            operator: "officer".into(),
                            disposition: hotline_proto::Disposition::Understood,
                            note: vec![],
                        };
                        let _ = hotline_node::client::call(&net.home(&names[o]).api_path(), &ack);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..120)));
    }
    // Heal: faults stop, every node comes back; officers finish what they decided.
    control.heal();
    let healed_at = now_ms();
    for i in down.keys().copied().collect::<Vec<_>>() {
        net.start(&names[i]);
        if let Some(o) = outages.iter_mut().rev().find(|o| o.0 == i && o.2 == u64::MAX) {
            o.2 = now_ms();
        }
    }
    let settle = Instant::now();
    loop {
        for (o, name) in names.iter().enumerate() {
            let inbox = net.api(name, &Request::Inbox { limit: Some(0), since: None });
            for n in inbox["awaiting_ack"].as_array().unwrap() {
                let id = n["id"].as_str().unwrap().to_string();
                if *decided.entry((o, id.clone())).or_insert(true) {
                    let ack = Request::Ack {
                        notice: id,
                        operator: "officer".into(),
                        disposition: hotline_proto::Disposition::Understood,
                        note: vec![],
                    };
                    let _ = hotline_node::client::call(&net.home(name).api_path(), &ack);
                }
            }
        }
        let quiet = names.iter().all(|n| {
            net.api(n, &Request::Status {})["links"].as_array().unwrap().iter().all(|l| l["unreceipted"] == 0)
        });
        // Every deadline of the last notices must have fallen too.
        if quiet && settle.elapsed() > Duration::from_secs(67) {
            break;
        }
        if settle.elapsed() > Duration::from_secs(180) {
            for n in &names {
                eprintln!("{n}: {}", net.api(n, &Request::Status {})["links"]);
                eprintln!("{}", net.node_log(n).lines().rev().take(12).collect::<Vec<_>>().join("\n"));
            }
            panic!("the network did not settle within 3 minutes of healing");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for name in &names {
        net.stop(name);
    }
    // The cross-audit of every party's bundle: no violation (undelivered notes are allowed).
    let mut bundles = Vec::new();
    for name in &names {
        let home = net.home(name);
        let leaves = hotline_node::store::read_leaves(&home.store_path()).unwrap();
        let dir = net.dir.path().join(format!("{name}-bundle"));
        let id = hotline_proto::crypto::node_id(&home.key().unwrap());
        hotline_audit::bundle::write(&dir, &home.roster().unwrap(), id, &leaves).unwrap();
        bundles.push(dir);
    }
    let (audit_roster, parties) = hotline_audit::cross::load(&bundles, 2).unwrap();
    let findings = hotline_audit::cross::cross(&audit_roster, &parties);
    let violations: Vec<_> = findings.iter().filter(|f| f.violation).collect();
    assert!(violations.is_empty(), "the cross-audit found violations: {violations:#?}");
    eprintln!("soak: cross-audit of {} bundles clean ({} notes)", parties.len(), findings.len());

    // The audit.
    let logs: Vec<_> = names.iter().map(|n| net.log(n)).collect(); // every entry fully verified
    let key_of: BTreeMap<hotline_proto::NodeId, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (hotline_proto::crypto::node_id(&net.home(n).key().unwrap()), i))
        .collect();
    let mut accepted: Vec<BTreeMap<hotline_proto::Hash32, usize>> = vec![BTreeMap::new(); names.len()];
    for (i, log) in logs.iter().enumerate() {
        for e in log {
            if let (Record::Accepted { .. }, Some(o)) = (&e.entry.record, &e.message) {
                *accepted[i].entry(o.hash).or_default() += 1;
            }
        }
    }
    let roster = net.home(&names[0]).roster().unwrap();
    let (mut sent, mut delivered, mut latencies) = (0usize, 0usize, Vec::new());
    // Receipt latencies of notices whose whole wait overlapped no outage or partition of the pair.
    let mut clean_latencies = Vec::new();
    let mut misses: BTreeMap<&str, usize> = BTreeMap::new();
    let down_between = |a: usize, b: usize, from: u64, to: u64| {
        outages.iter().any(|(i, s, e)| (*i == a || *i == b) && *s <= to && e.saturating_add(GRACE_MS) >= from)
    };
    let cut_between = |a: &str, b: &str, from: u64, to: u64| {
        partitions.iter().any(|p| {
            let (ps, pe) =
                (start_ms + (p.start_s * 1000.0) as u64, start_ms + (p.end_s * 1000.0) as u64 + GRACE_MS);
            p.between.iter().any(|n| n == a) && p.between.iter().any(|n| n == b) && ps <= to && pe >= from
        })
    };
    let mut logged_ids = BTreeSet::new();
    for (s, log) in logs.iter().enumerate() {
        let mut created: BTreeMap<hotline_proto::NoticeId, (u64, Precedence, hotline_proto::Hash32)> =
            BTreeMap::new();
        for e in log {
            match (&e.entry.record, e.message.as_ref().map(|o| (&o.message, o.hash))) {
                (Record::Sent { .. }, Some((Message::Notice(n), hash))) => {
                    sent += 1;
                    logged_ids.insert(roster.notice_name(&n.id()));
                    created.insert(n.id(), (n.created_ms, n.precedence, hash));
                    for a in &n.to {
                        let r = key_of[&a.node];
                        let copies = accepted[r].get(&hash).copied().unwrap_or(0);
                        assert_eq!(
                            copies,
                            1,
                            "{} reached {} {copies} times",
                            roster.notice_name(&n.id()),
                            names[r]
                        );
                        delivered += 1;
                    }
                }
                (Record::Accepted { .. }, Some((Message::Receipt(r), _))) => {
                    if let Some((c, _, _)) = created.get(&r.notice) {
                        let (t, p) = (e.entry.time_ms, key_of[&r.signer]);
                        latencies.push(t.saturating_sub(*c));
                        if !down_between(s, p, *c, t) && !cut_between(&names[s], &names[p], *c, t) {
                            clean_latencies.push(t.saturating_sub(*c));
                        }
                    }
                }
                (Record::DeadlineMissed(DeadlineMissed { notice, party, deadline, deadline_ms }), _) => {
                    let p = key_of[party];
                    let sender = key_of[&notice.sender];
                    let from = created.get(notice).map_or(deadline_ms.saturating_sub(60_000), |c| c.0);
                    let (a, b) = (sender, if p == s { sender } else { p });
                    let outage =
                        down_between(s, p, from, *deadline_ms) || down_between(a, b, from, *deadline_ms);
                    let cut = cut_between(&names[sender], &names[p], from, *deadline_ms);
                    let unanswered = *deadline == DeadlineKind::Ack
                        && decided.get(&(p, roster.notice_name(notice))) == Some(&false);
                    let why = if outage {
                        "node down"
                    } else if cut {
                        "partition"
                    } else if unanswered {
                        "not answered by choice"
                    } else {
                        ""
                    };
                    if why.is_empty() {
                        for n in [&names[s], &names[p]] {
                            let log = net.node_log(n);
                            let lines: Vec<&str> = log
                                .lines()
                                .filter(|l| !l.contains("DEBUG") && !l.contains("TRACE"))
                                .collect();
                            eprintln!("---- {n}: {} log lines; connection lines:", lines.len());
                            for l in lines.iter().filter(|l| {
                                l.contains("connect") || l.contains("closed") || l.contains("link_")
                            }) {
                                eprintln!("{l}");
                            }
                        }
                    }
                    assert!(
                        !why.is_empty(),
                        "{} recorded a {deadline:?} miss of {} by {} that no outage, partition or choice explains: created +{} ms, deadline +{} ms, recorded +{} ms; outages {:?}; partitions {:?}",
                        names[s],
                        roster.notice_name(notice),
                        names[p],
                        from.saturating_sub(start_ms),
                        deadline_ms.saturating_sub(start_ms),
                        e.entry.time_ms.saturating_sub(start_ms),
                        outages.iter().map(|(i, a, b)| (names[*i].clone(), a.saturating_sub(start_ms), b.saturating_sub(start_ms))).collect::<Vec<_>>(),
                        partitions.iter().map(|p| (p.between.clone(), p.one_way, p.start_s, p.end_s)).collect::<Vec<_>>(),
                    );
                    *misses.entry(why).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    for id in &confirmed {
        assert!(logged_ids.contains(id), "{id} was confirmed to an officer but is not in the sender's log");
    }
    let p99_max = |v: &mut Vec<u64>| {
        v.sort_unstable();
        (v.get(v.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0), v.last().copied().unwrap_or(0))
    };
    let (p99, max) = p99_max(&mut latencies);
    let (clean_p99, clean_max) = p99_max(&mut clean_latencies);
    eprintln!(
        "soak: seed {seed}: {sent} notices sent ({} confirmed to officers), {delivered} deliveries, each exactly once; {} kills; {}; deadline misses by cause {misses:?}; receipt latency p99 {p99} ms, max {max} ms ({} receipts; of the {} away from outages and partitions: p99 {clean_p99} ms, max {clean_max} ms); healed at +{} s",
        confirmed.len(),
        outages.len() - names.len(),
        control.summary(),
        latencies.len(),
        clean_latencies.len(),
        (healed_at - start_ms) / 1000,
    );
}
