//! Benchmarks of the protocol's pieces, each next to the primitive that bounds it, so that the
//! overhead of the protocol over raw cryptography can be read off one run.
//!
//! Run with `cargo bench -p hotline-proto --bench pieces`. The groups:
//!
//! - `floor`: the primitives themselves. Ed25519 `sign` and `verify_strict` of a 1 KiB message
//!   (about the size of a FLASH incident notice body), SHA-256 of 1 KiB, and one RFC 9162 interior
//!   node hash (SHA-256 of 65 bytes). Batch verification is not measured: the workspace does not
//!   enable ed25519-dalek's `batch` feature.
//! - `message`: `seal` (encode, one signature, one hash) and `open` (strict decode, network and
//!   roster checks, one `verify_strict`, schema check) of a FLASH notice carrying the example
//!   incident of `spec/examples/s1-misidentification.json`; `decode_trusted` is `open` without
//!   the signature and schema. Floors: one `sign` for `seal`, one `verify_strict` for `open`.
//! - `log`: a [`LogVerifier`] over a node's log of [`LOG_LEN`] entries (a `Started` entry, then
//!   link tests), from a fresh verifier each iteration. `Check::Full` verifies two signatures per
//!   entry (the entry's and its embedded frame's), so its floor is two `verify_strict` per entry;
//!   `Check::Chain` verifies none, so its floor is the SHA-256 of each leaf. The standalone
//!   `verify_leaf_signatures` is the parallelisable half of `Check::Full`.
//! - `merkle`: `MerkleTree::push` and `CompactTree::push` of [`PUSHED`] leaves (floor: about one
//!   node hash per leaf), then `root_at`, inclusion and consistency proofs and their verification
//!   on a tree of [`BIG_TREE`] leaves built once (floor: one node hash per proof element, about
//!   20 at that size).
//! - `node`: one `Node::send_notice` of the FLASH notice (schema check, seal, one log entry: two
//!   signatures) and one `Node::handle_frame` of it at the addressee (open, then the `accepted`
//!   entry, the receipt and the `receipted` entry: one verification and three signatures). Each
//!   iteration runs on a freshly started node, so no state accumulates across iterations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use hotline_proto::crypto::leaf_hash;
use hotline_proto::merkle::{node_hash, verify_consistency, verify_inclusion, CompactTree, MerkleTree};
use hotline_proto::testing::decode_trusted;
use hotline_proto::testing::fixtures::{self, id, test_key as key};
use hotline_proto::wire::verify_leaf_signatures;
use hotline_proto::{Addressee, Kind};
use hotline_proto::{Body, Draft, Hash32, Incident, Node, Notice, Precedence, Role};
use hotline_proto::{Check, LogVerifier};
use hotline_proto::{Policy, Roster};

const T0: u64 = 1_800_000_000_000;
/// Entries in the log the `log` group verifies.
const LOG_LEN: usize = 1_000;
/// Leaves pushed per iteration in the `merkle` push benchmarks.
const PUSHED: u64 = 10_000;
/// Leaves of the tree the `merkle` proof benchmarks query.
const BIG_TREE: u64 = 1_000_000;

// ---- fixtures -----------------------------------------------------------------------------------

fn roster() -> Roster {
    Roster { network: "bench".into(), ..fixtures::roster(3, Policy::default()) }
}

fn incident() -> Incident {
    serde_json::from_str(include_str!("../../spec/examples/s1-misidentification.json")).unwrap()
}

/// The FLASH incident notice from alpha to bravo, as an operator drafts it.
fn flash_draft() -> Draft {
    Draft {
        precedence: Precedence::Flash,
        to: vec![(id("bravo"), Role::Action)],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident()),
    }
}

/// The same notice as `Node::send_notice` builds it for alpha's first notice.
fn flash_notice(roster: &Roster) -> Notice {
    Notice {
        network: roster.network_id(),
        sender: id("alpha"),
        seq: 1,
        created_ms: T0,
        precedence: Precedence::Flash,
        to: vec![Addressee { node: id("bravo"), role: Role::Action, link_seq: 1 }],
        thread: None,
        in_reply_to: None,
        body: Body::Incident(incident()),
    }
}

/// A started node whose `Started` entry is already durable.
fn started(name: &str, now: u64) -> Node {
    let mut node = Node::new(key(name), roster(), now).unwrap();
    drain(&mut node);
    node
}

/// Takes every pending leaf and reports it durable; returns the leaves.
fn drain(node: &mut Node) -> Vec<Vec<u8>> {
    let mut leaves = Vec::new();
    while let Some(batch) = node.poll_persist() {
        leaves.extend(batch.leaves);
    }
    node.persisted(node.log_len());
    leaves
}

/// Alpha's log: its `Started` entry, then an initial report to bravo and ROUTINE replies in its
/// thread, `len` leaves in all.
fn notice_log(len: usize) -> Vec<Vec<u8>> {
    let mut node = Node::new(key("alpha"), roster(), T0).unwrap();
    let mut leaves = drain(&mut node);
    let mut thread = None;
    for i in 1..len as u64 {
        let draft = Draft {
            precedence: Precedence::Routine,
            to: vec![(id("bravo"), Role::Info)],
            thread,
            in_reply_to: thread,
            body: match thread {
                None => Body::Incident(fixtures::s1_incident()),
                Some(_) => Body::Reply(fixtures::en("Reply.")),
            },
        };
        let sent = node.send_notice(T0 + i, draft).unwrap();
        thread.get_or_insert(sent);
        leaves.extend(drain(&mut node));
    }
    assert_eq!(leaves.len(), len);
    leaves
}

fn leaf_hashes(n: u64) -> Vec<Hash32> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

// ---- groups -------------------------------------------------------------------------------------

fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let signing = key("alpha");
    let verifying = signing.verifying_key();
    let msg = vec![0x5a_u8; 1024];
    let signature = signing.sign(&msg);
    g.bench_function("ed25519_sign_1KiB", |b| b.iter(|| signing.sign(black_box(&msg))));
    g.bench_function("ed25519_verify_strict_1KiB", |b| {
        b.iter(|| verifying.verify_strict(black_box(&msg), black_box(&signature)).unwrap())
    });
    g.bench_function("sha256_1KiB", |b| b.iter(|| Sha256::digest(black_box(&msg))));
    let (left, right) = (leaf_hash(b"left"), leaf_hash(b"right"));
    g.bench_function("merkle_node_hash", |b| b.iter(|| node_hash(black_box(&left), black_box(&right))));
    g.finish();
}

fn message(c: &mut Criterion) {
    let mut g = c.benchmark_group("message");
    let roster = roster();
    let network = roster.network_id();
    let alpha = key("alpha");
    let notice = flash_notice(&roster);
    let (frame, _) = hotline_proto::wire::seal(&alpha, Kind::Notice, &notice);
    eprintln!("message: FLASH incident notice frame is {} bytes", frame.len());
    g.bench_function("seal_flash_notice", |b| {
        b.iter(|| hotline_proto::wire::seal(&alpha, Kind::Notice, black_box(&notice)))
    });
    g.bench_function("open_flash_notice", |b| {
        b.iter(|| hotline_proto::wire::open(black_box(&frame), &roster, &network).unwrap())
    });
    g.bench_function("decode_trusted_flash_notice", |b| {
        b.iter(|| decode_trusted(black_box(&frame)).unwrap())
    });
    g.finish();
}

fn log(c: &mut Criterion) {
    let mut g = c.benchmark_group("log");
    g.sample_size(10);
    let roster = roster();
    let network = roster.network_id();
    let alpha = id("alpha");
    let leaves = notice_log(LOG_LEN);
    let bytes: usize = leaves.iter().map(Vec::len).sum();
    eprintln!("log: {} leaves, {} bytes on average", leaves.len(), bytes / leaves.len());
    g.throughput(Throughput::Elements(leaves.len() as u64));
    for (name, check) in [("verify_full", Check::Full), ("verify_chain", Check::Chain)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || LogVerifier::new(roster.clone(), alpha, check),
                |mut verifier| {
                    for leaf in &leaves {
                        verifier.push(leaf).unwrap();
                    }
                    verifier
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.bench_function("verify_leaf_signatures", |b| {
        b.iter(|| {
            for leaf in &leaves {
                verify_leaf_signatures(&roster, &network, &alpha, 0, leaf).unwrap();
            }
        })
    });
    g.finish();
}

fn merkle(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle");
    let pushed = leaf_hashes(PUSHED);
    g.throughput(Throughput::Elements(PUSHED));
    g.bench_function("merkle_tree_push", |b| {
        b.iter(|| {
            let mut tree = MerkleTree::new();
            pushed.iter().for_each(|h| tree.push(*h));
            tree
        })
    });
    g.bench_function("compact_tree_push", |b| {
        b.iter(|| {
            let mut tree = CompactTree::new();
            pushed.iter().for_each(|h| tree.push(*h));
            tree
        })
    });

    g.throughput(Throughput::Elements(1));
    let leaves = leaf_hashes(BIG_TREE);
    let mut tree = MerkleTree::new();
    leaves.iter().for_each(|h| tree.push(*h));
    let (size, old, index) = (BIG_TREE, 400_001, 123_457);
    let root = tree.root_at(size).unwrap();
    let old_root = tree.root_at(old).unwrap();
    let inclusion = tree.inclusion_proof(index, size).unwrap();
    let consistency = tree.consistency_proof(old, size).unwrap();
    eprintln!(
        "merkle: {size}-leaf tree; inclusion proof of {} hashes, consistency proof from {old} of {}",
        inclusion.len(),
        consistency.len()
    );
    let leaf = leaves[index as usize];
    g.bench_function("root_at_1M", |b| b.iter(|| tree.root_at(black_box(size)).unwrap()));
    g.bench_function("inclusion_proof_1M", |b| {
        b.iter(|| tree.inclusion_proof(black_box(index), size).unwrap())
    });
    g.bench_function("verify_inclusion_1M", |b| {
        b.iter(|| assert!(verify_inclusion(&leaf, black_box(index), size, &inclusion, &root)))
    });
    g.bench_function("consistency_proof_1M", |b| {
        b.iter(|| tree.consistency_proof(black_box(old), size).unwrap())
    });
    g.bench_function("verify_consistency_1M", |b| {
        b.iter(|| assert!(verify_consistency(black_box(old), size, &old_root, &root, &consistency)))
    });
    g.finish();
}

fn node(c: &mut Criterion) {
    let mut g = c.benchmark_group("node");
    g.sample_size(20);
    g.bench_function("send_notice_flash", |b| {
        b.iter_batched(
            || (started("alpha", T0), flash_draft()),
            |(mut alpha, draft)| {
                alpha.send_notice(T0, draft).unwrap();
                alpha
            },
            BatchSize::SmallInput,
        )
    });
    let frame = {
        let mut alpha = started("alpha", T0);
        alpha.send_notice(T0, flash_draft()).unwrap();
        drain(&mut alpha);
        alpha.poll_transmit().unwrap().frame
    };
    let from = id("alpha");
    g.bench_function("handle_frame_flash_notice", |b| {
        b.iter_batched(
            || started("bravo", T0),
            |mut bravo| {
                bravo.handle_frame(T0 + 5, from, &frame).unwrap();
                bravo
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, floor, message, log, merkle, node);
criterion_main!(benches);
