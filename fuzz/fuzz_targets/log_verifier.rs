//! Log leaves into `LogVerifier` (alpha's log in the vectors' network), with `Check::Full` and
//! `Check::Chain`, and the leaves the chain check accepts into `Node::restore`.
//!
//! Input: `[mode][…]`. Even mode: the rest is leaves in entry-bundle framing (`[len u16 BE][leaf]`;
//! the seed is the vectors' log, which verifies). Odd mode: the rest is chunks
//! (`hotline_fuzz::chunks`), each describing a record that the harness builds, chains to the
//! previous entry and seals with alpha's key (`hotline_proto::wire::seal_entry`), so the record rules are reached.
//!
//! Properties: a leaf `Full` accepts, `Chain` accepts; a prefix `Chain` accepts restores a node
//! exactly when its tail (the last checkpoint record and what follows) verifies in full.
#![no_main]

use arbitrary::{Result, Unstructured};
use hotline_fuzz::{arb_notice, arb_notice_id, node_ref, resign, vector_frames, Fixture};
use hotline_proto::crypto::leaf_hash;
use hotline_proto::note::{self, Checkpoint};
use hotline_proto::wire::verify_leaf_signatures;
use hotline_proto::{Check, DeadlineKind, LogEntry, LogVerifier, Record};
use hotline_proto::{ErrorCode, Hash32, Node, Sig64};
use hotline_proto::{Heartbeat, Kind, SignedCheckpoint};
use libfuzzer_sys::fuzz_target;

const ALPHA: usize = 0;

fn frame(u: &mut Unstructured, fx: &Fixture, now: u64) -> Result<Vec<u8>> {
    let (frames, _) = vector_frames();
    Ok(match u.int_in_range(0..=5u8)? {
        0 | 1 if !frames.is_empty() => u.choose(frames)?.clone(),
        2 => {
            let sender = if u.ratio(3, 4)? { ALPHA } else { hotline_fuzz::member_index(u)? };
            let n = arb_notice(u, fx, sender, now, &[])?;
            hotline_proto::wire::seal(&fx.keys[sender], Kind::Notice, &n).0
        }
        3 => {
            let kind = hotline_fuzz::kind_of(u.arbitrary()?);
            let signer = hotline_fuzz::member_index(u)?;
            let flags = u.arbitrary()?;
            let body: Vec<u8> = u.arbitrary()?;
            resign(fx, kind, signer, flags, &body).0
        }
        _ => u.arbitrary()?,
    })
}

/// A checkpoint of `log`'s log signed by it, at `size` with `root`.
fn signed(fx: &Fixture, log: usize, size: u64, root: Hash32) -> SignedCheckpoint {
    let origin = note::origin_of(&fx.roster, &fx.ids[log]).unwrap_or_default();
    SignedCheckpoint { size, root, signature: Checkpoint { origin, size, root }.sign(&fx.keys[log]) }
}

fn arb_signed(u: &mut Unstructured, fx: &Fixture, log: usize) -> Result<SignedCheckpoint> {
    let size = if u.arbitrary()? { u64::from(u.arbitrary::<u8>()?) } else { u.arbitrary()? };
    let root = Hash32(u.arbitrary()?);
    Ok(if u.ratio(7, 8)? {
        signed(fx, log, size, root)
    } else {
        SignedCheckpoint { size, root, signature: Sig64(u.arbitrary()?) }
    })
}

fn record(u: &mut Unstructured, fx: &Fixture, v: &LogVerifier, now: u64) -> Result<Record> {
    let peer = |u: &mut Unstructured| -> Result<usize> { Ok(1 + u.choose_index(2)?) };
    Ok(match u.int_in_range(0..=16u8)? {
        0 => Record::Started { software: u.arbitrary()? },
        15 => {
            // A link test, mostly a true round trip, sometimes with a fuzzed part.
            let p = peer(u)?;
            let heartbeat =
                |u: &mut Unstructured, from: usize, to: usize, echo: Hash32| -> Result<Heartbeat> {
                    Ok(Heartbeat {
                        network: fx.network,
                        signer: fx.ids[from],
                        to: fx.ids[to],
                        time_ms: if u.arbitrary()? { now } else { u.arbitrary()? },
                        echo,
                        cosigned: hotline_fuzz::arb_cosigned(u, fx, to, None)?,
                    })
                };
            let first_echo = Hash32(u.arbitrary()?);
            let mine = heartbeat(u, ALPHA, p, first_echo)?;
            let (ours, hash) = hotline_proto::wire::seal(&fx.keys[ALPHA], Kind::Heartbeat, &mine);
            let echo = if u.ratio(7, 8)? { hash } else { Hash32(u.arbitrary()?) };
            let theirs = heartbeat(u, p, ALPHA, echo)?;
            let theirs = if u.ratio(7, 8)? {
                hotline_proto::wire::seal(&fx.keys[p], Kind::Heartbeat, &theirs).0
            } else {
                frame(u, fx, now)?
            };
            Record::LinkTest { peer: fx.ids[p], ours, theirs }
        }
        16 => Record::ClockStep { expected_ms: u.arbitrary()?, observed_ms: u.arbitrary()? },
        1 => Record::Sent { frame: frame(u, fx, now)? },
        2 => Record::Accepted { frame: frame(u, fx, now)? },
        3 => Record::Receipted { frame: frame(u, fx, now)? },
        4 => Record::DeadlineMissed(hotline_proto::DeadlineMissed {
            notice: arb_notice_id(u, fx)?,
            party: node_ref(u, fx)?,
            deadline: if u.arbitrary()? { DeadlineKind::Receipt } else { DeadlineKind::Ack },
            deadline_ms: u.arbitrary()?,
        }),
        5 => Record::LinkDown(hotline_proto::LinkDown {
            peer: node_ref(u, fx)?,
            last_heard_ms: u.arbitrary()?,
        }),
        6 => Record::LinkUp { peer: node_ref(u, fx)? },
        7 => Record::SequenceGap(hotline_proto::SequenceGap {
            peer: node_ref(u, fx)?,
            first: hotline_fuzz::arb_seq(u)?,
            last: hotline_fuzz::arb_seq(u)?,
        }),
        8 => {
            Record::ClockSkew(hotline_proto::ClockSkew { peer: node_ref(u, fx)?, offset_ms: u.arbitrary()? })
        }
        9 => Record::Rejected {
            peer: node_ref(u, fx)?,
            code: *u.choose(&[
                ErrorCode::Malformed,
                ErrorCode::BadSignature,
                ErrorCode::InconsistentLog,
                ErrorCode::TimeOutOfRange,
            ])?,
            frame_hash: Hash32(u.arbitrary()?),
            frame_len: u.arbitrary()?,
            suppressed: u.arbitrary()?,
        },
        10 => Record::Equivocation { frame: frame(u, fx, now)?, conflicts_with: Hash32(u.arbitrary()?) },
        11 => {
            let checkpoint =
                if u.ratio(7, 8)? { signed(fx, ALPHA, v.len(), v.root()) } else { arb_signed(u, fx, ALPHA)? };
            Record::Checkpoint { checkpoint }
        }
        12 => {
            let log = peer(u)?;
            let checkpoint = arb_signed(u, fx, log)?;
            let timestamp_s = u.arbitrary()?;
            let origin = note::origin_of(&fx.roster, &fx.ids[log]).unwrap_or_default();
            let signature = if u.ratio(7, 8)? {
                Checkpoint { origin, size: checkpoint.size, root: checkpoint.root }
                    .cosign(&fx.keys[ALPHA], timestamp_s)
            } else {
                Sig64(u.arbitrary()?)
            };
            Record::Cosigned { log: fx.ids[log], checkpoint, timestamp_s, signature }
        }
        13 => {
            let by = peer(u)?;
            let own: Vec<(u64, Hash32)> = v.checkpoints().iter().map(|(s, r)| (*s, *r)).collect();
            let (size, root) = if !own.is_empty() && u.ratio(7, 8)? {
                *u.choose(&own)?
            } else {
                (u.arbitrary()?, Hash32(u.arbitrary()?))
            };
            let timestamp_s = if u.ratio(7, 8)? { now / 1000 } else { u.arbitrary()? };
            let origin = note::origin_of(&fx.roster, &fx.ids[ALPHA]).unwrap_or_default();
            let signature = Checkpoint { origin, size, root }.cosign(&fx.keys[by], timestamp_s);
            Record::Cosignature { by: fx.ids[by], size, root, timestamp_s, signature }
        }
        _ => {
            let log = peer(u)?;
            let cosigned = arb_signed(u, fx, log)?;
            let presented = if u.ratio(3, 4)? {
                signed(fx, log, cosigned.size, Hash32(u.arbitrary()?))
            } else {
                arb_signed(u, fx, log)?
            };
            let n = u.int_in_range(0..=3usize)?;
            let proof = (0..n).map(|_| Ok(Hash32(u.arbitrary()?))).collect::<Result<_>>()?;
            Record::LogConflict { log: fx.ids[log], cosigned, presented, proof }
        }
    })
}

/// Builds, chains and seals one entry after `v`'s last; returns the leaf and its time.
fn entry(u: &mut Unstructured, fx: &Fixture, v: &LogVerifier, last_time: u64) -> Result<(Vec<u8>, u64)> {
    let now = match u.int_in_range(0..=15u8)? {
        0 => u.arbitrary()?,
        1 => last_time.saturating_sub(1),
        _ => last_time.saturating_add(u64::from(u.arbitrary::<u16>()?)),
    };
    let record = record(u, fx, v, now)?;
    let mut e = LogEntry {
        network: fx.network,
        node: fx.ids[ALPHA],
        index: v.len(),
        prev: v.head(),
        time_ms: now,
        record,
    };
    if u.ratio(1, 32)? {
        e.network = Hash32(u.arbitrary()?);
    }
    if u.ratio(1, 32)? {
        e.node = node_ref(u, fx)?;
    }
    if u.ratio(1, 32)? {
        e.index = u.arbitrary()?;
    }
    if u.ratio(1, 32)? {
        e.prev = Hash32(u.arbitrary()?);
    }
    let key = if u.ratio(1, 32)? { &fx.keys[1] } else { &fx.keys[ALPHA] };
    Ok((hotline_proto::wire::seal_entry(key, &e), now))
}

struct State {
    full: LogVerifier,
    chain: LogVerifier,
    full_ok: bool,
    chain_ok: bool,
    accepted: Vec<Vec<u8>>,
    /// Whether each accepted leaf's signatures verify.
    signed: Vec<bool>,
    /// The position in `accepted` of the last checkpoint record.
    last_checkpoint: Option<usize>,
}

impl State {
    /// Pushes a leaf into both verifiers (each stops at its first refusal); true if the chain
    /// verifier accepted it.
    fn push(&mut self, fx: &Fixture, leaf: Vec<u8>) -> bool {
        let f = self.full_ok && self.full.push(&leaf).is_ok();
        self.full_ok = f;
        let signed = verify_leaf_signatures(&fx.roster, &fx.network, &fx.ids[ALPHA], 0, &leaf).is_ok();
        if !self.chain_ok {
            return false;
        }
        match self.chain.push(&leaf) {
            Ok(verified) => {
                assert_eq!(verified.leaf_hash, leaf_hash(&leaf));
                if matches!(verified.entry.record, Record::Checkpoint { .. }) {
                    self.last_checkpoint = Some(self.accepted.len());
                }
                self.accepted.push(leaf);
                self.signed.push(signed);
                true
            }
            Err(e) => {
                assert!(!f, "Check::Full accepts entry {} that Check::Chain refuses: {}", e.index, e.problem);
                self.chain_ok = false;
                false
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fx = hotline_fuzz::vectors();
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut s = State {
        full: LogVerifier::new(fx.roster.clone(), fx.ids[ALPHA], Check::Full),
        chain: LogVerifier::new(fx.roster.clone(), fx.ids[ALPHA], Check::Chain),
        full_ok: true,
        chain_ok: true,
        accepted: Vec::new(),
        signed: Vec::new(),
        last_checkpoint: None,
    };
    if mode % 2 == 0 {
        let mut bytes = rest;
        while let Some((len, tail)) = bytes.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
            s.push(fx, tail[..len].to_vec());
            bytes = &tail[len..];
        }
    } else {
        let mut last_time = hotline_fuzz::T0;
        for (_, chunk) in hotline_fuzz::chunks(rest).into_iter().take(64) {
            let mut u = Unstructured::new(chunk);
            // Built from the chain verifier's view: what the node itself would have logged.
            let Ok((leaf, time)) = entry(&mut u, fx, &s.chain, last_time) else { continue };
            if s.push(fx, leaf) {
                last_time = time;
            }
            if !s.chain_ok {
                break;
            }
        }
    }
    let _ = (s.full.root(), s.full.len(), s.chain.checkpoints());
    // A node restores from what the chain check accepts exactly when the tail (the last
    // checkpoint record and everything after it) also verifies in full (spec §6.10).
    let tail_ok = s.signed[s.last_checkpoint.unwrap_or(0)..].iter().all(|&ok| ok);
    match (Node::restore(fx.keys[ALPHA].clone(), fx.roster.clone(), &s.accepted, hotline_fuzz::T0), tail_ok) {
        (Ok(_), true) | (Err(hotline_proto::StartError::Log(_)), false) => {}
        (Err(e), true) => panic!("a log whose chain and tail verify does not restore: {e}"),
        (Err(e), false) => panic!("a log with a bad tail is refused for another reason: {e}"),
        (Ok(_), false) => panic!("a log whose tail does not verify was restored"),
    }
});
