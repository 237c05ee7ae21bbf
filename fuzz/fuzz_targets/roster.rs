//! Any bytes as a roster file (`Roster::from_bytes`); what is accepted must be canonical, checked,
//! and usable: every fixture member in it must start a node and run its timers. A second roster
//! is built from the same bytes read as a structured policy (extreme deadlines and timers), so the
//! node's arithmetic meets every policy `check()` lets through.
#![no_main]

use arbitrary::Unstructured;
use hotline_proto::{Deadlines, Policy};
use hotline_proto::{Node, NoticeId, Roster};
use libfuzzer_sys::fuzz_target;

/// Starts every fixture member that is in `roster` and runs a few rounds of timers.
fn exercise(roster: &Roster, u: &mut Unstructured, any_start: bool) {
    let fx = hotline_fuzz::vectors();
    for key in &fx.keys {
        let id = hotline_proto::crypto::node_id(key);
        if roster.member(&id).is_none() {
            continue;
        }
        let start = if any_start && u.arbitrary().unwrap_or(false) {
            u.arbitrary().unwrap_or(0)
        } else {
            hotline_fuzz::T0
        };
        let mut node =
            Node::new(key.clone(), roster.clone(), start).expect("a member starts on a valid roster");
        let mut now = start;
        for _ in 0..6 {
            match node.poll_timeout() {
                Some(t) => now = now.max(t),
                None => break,
            }
            node.handle_timeout(now);
            let mut len = node.durable_len();
            while let Some(batch) = node.poll_persist() {
                len = batch.first_index + batch.leaves.len() as u64;
            }
            node.persisted(len);
            while node.poll_transmit().is_some() {}
            while node.poll_event().is_some() {}
            let _ = node.checkpoint(now);
        }
        let _ = node.links();
    }
}

fn policy(u: &mut Unstructured) -> arbitrary::Result<Policy> {
    let base = Policy::default();
    let n = |u: &mut Unstructured, default: u64| -> arbitrary::Result<u64> {
        Ok(match u.int_in_range(0..=5u8)? {
            0 => default,
            1 => u64::MAX - u64::from(u.arbitrary::<u8>()?),
            2 => u64::from(u.arbitrary::<u8>()?),
            _ => u.arbitrary()?,
        })
    };
    let d = |u: &mut Unstructured, d: Deadlines| -> arbitrary::Result<Deadlines> {
        Ok(Deadlines { receipt_ms: n(u, d.receipt_ms)?, ack_ms: n(u, d.ack_ms)? })
    };
    let flash = d(u, base.flash)?;
    let immediate = d(u, base.immediate)?;
    let priority = d(u, base.priority)?;
    let routine = d(u, base.routine)?;
    Ok(Policy {
        flash,
        immediate,
        priority,
        routine,
        heartbeat_interval_ms: n(u, base.heartbeat_interval_ms)?,
        link_silence_ms: n(u, base.link_silence_ms)?,
        link_test_interval_ms: n(u, base.link_test_interval_ms)?,
        checkpoint_interval_ms: n(u, base.checkpoint_interval_ms)?,
        max_clock_skew_ms: n(u, base.max_clock_skew_ms)?,
        retransmit_initial_ms: n(u, base.retransmit_initial_ms)?,
        retransmit_max_ms: n(u, base.retransmit_max_ms)?,
        required_languages: vec!["en".into()],
        codebook: Vec::new(),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(roster) = Roster::from_bytes(data) {
        assert!(roster.check().is_ok());
        assert_eq!(roster.to_bytes(), data, "an accepted roster is not its canonical bytes");
        let _ = roster.network_id();
        for m in &roster.members {
            assert_eq!(roster.member(&m.key).map(|x| &x.name), Some(&m.name));
            let id = NoticeId { sender: m.key, seq: 42 };
            assert_eq!(roster.parse_notice_name(&roster.notice_name(&id)), Some(id));
        }
        exercise(&roster, &mut u, false);
    }
    // The same bytes as a structured policy on the fixture members.
    let mut u = Unstructured::new(data);
    if let Ok(policy) = policy(&mut u) {
        let mut roster = hotline_fuzz::vectors_roster();
        roster.policy = policy;
        if roster.check().is_ok() {
            assert_eq!(Roster::from_bytes(&roster.to_bytes()).as_ref(), Ok(&roster));
            exercise(&roster, &mut u, true);
        }
    }
});
