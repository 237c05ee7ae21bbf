//! The floors each figure is divided by, measured in the same run: a raw quinn round trip with
//! the node's TLS, a store commit, an fsync, strict signature verification on every core.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Result};
use ed25519_dalek::{Signer, SigningKey};
use hotline_proto::{Body, Precedence};
use serde_json::{json, Value};

use crate::run::{f, incident, policy, stats, Sizes};

/// The size of a FLASH notice carrying the S1 incident, as sealed.
pub(crate) fn frame_len() -> Result<usize> {
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
    Ok(hotline_proto::wire::seal(&key, hotline_proto::Kind::Notice, &notice).0.len())
}

pub(crate) fn floors(dir: &Path, sizes: &Sizes) -> Result<Value> {
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
pub(crate) fn two_members(network: &str) -> (SigningKey, SigningKey, hotline_proto::Roster) {
    let (a, b) = (hotline_node::keys::generate(), hotline_node::keys::generate());
    let member = |name: &str, k: &SigningKey| hotline_proto::Member {
        name: name.into(),
        key: hotline_proto::crypto::node_id(k),
        addresses: vec![],
        languages: vec![],
    };
    let roster = hotline_proto::Roster {
        format: hotline_proto::ROSTER_FORMAT,
        network: network.into(),
        members: vec![member("alpha", &a), member("bravo", &b)],
        policy: policy(),
    };
    (a, b, roster)
}

/// Raw quinn, same TLS configuration as the nodes: a request of `size` bytes on a uni stream, 100
/// bytes back on another.
pub(crate) fn quinn_round_trips(n: usize, size: usize) -> Result<Vec<f64>> {
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
pub(crate) fn store_commits(dir: &Path, n: usize, size: usize) -> Result<Vec<f64>> {
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

pub(crate) fn fsyncs(dir: &Path, n: usize, size: usize) -> Result<Vec<f64>> {
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

/// Seconds to verify `count` signatures strictly on `cores` threads, with nothing else to do.
pub(crate) fn verify_floor(key: &SigningKey, count: usize, cores: usize) -> f64 {
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
pub(crate) fn batch_floor(key: &SigningKey, count: usize, cores: usize) -> Result<f64> {
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
