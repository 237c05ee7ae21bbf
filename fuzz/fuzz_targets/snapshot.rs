//! A node's snapshot (spec §6.12) read back at a restart: whatever the bytes, `Node::resume`
//! refuses or restores, never panics, and a restored node keeps working.
//!
//! Input: `[mode][bytes…]`. Mode % 3: 0 — the bytes as the stored snapshot (the signature check
//! refuses nearly all); 1 — the bytes as the saved state, sealed with the node's own key, so the
//! decoder and the checks behind the signature see them; 2 — a real snapshot of a node with open
//! work, its state's bytes overwritten by the input from a position the input chooses, resealed.
#![no_main]

use std::sync::OnceLock;

use hotline_proto::testing::desk::deliver;
use hotline_proto::testing::fixtures::{en, party, roster, s1_incident, test_key};
use hotline_proto::testing::{seal_snapshot_state, unseal_snapshot_state, Pair};
use hotline_proto::{Body, Draft, History, Node, Policy, Precedence, Role, Roster, SharedHistory};
use libfuzzer_sys::fuzz_target;

const T0: u64 = 1_800_000_000_000;

struct Fixture {
    roster: Roster,
    /// Bravo's disk and a snapshot of it with open work either way.
    disk: Vec<Vec<u8>>,
    state: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let roster = roster(3, Policy::default());
        let mut pair = Pair::new(party(0), party(1), roster.clone(), T0);
        let to_b = |thread| Draft {
            precedence: Precedence::Priority,
            to: vec![(pair_id(1), Role::Action)],
            thread,
            in_reply_to: thread,
            body: match thread {
                None => Body::Incident(s1_incident()),
                Some(_) => Body::Reply(en("more")),
            },
        };
        let first = pair.a.node.send_notice(T0, to_b(None)).expect("sends");
        pair.a.node.send_notice(T0 + 1, to_b(Some(first))).expect("sends");
        pair.a.sync();
        deliver(&mut pair.a, &mut pair.b, T0 + 2);
        pair.b.sync();
        let back = Draft {
            precedence: Precedence::Flash,
            to: vec![(pair_id(0), Role::Action), (pair_id(2), Role::Info)],
            thread: Some(first),
            in_reply_to: Some(first),
            body: Body::Reply(en("seen")),
        };
        pair.b.node.send_notice(T0 + 3, back).expect("replies");
        pair.b.node.checkpoint(T0 + 4);
        pair.b.sync();
        pair.b.save_snapshot();
        let (_, sealed) = pair.b.snapshot.clone().expect("a snapshot");
        let state = unseal_snapshot_state(&sealed).expect("a sealed snapshot");
        Fixture { roster, disk: pair.b.disk.clone(), state }
    })
}

fn pair_id(i: usize) -> hotline_proto::NodeId {
    hotline_proto::testing::fixtures::id(party(i))
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let [mode, rest @ ..] = data else { return };
    let key = test_key(party(1));
    let snapshot = match mode % 3 {
        0 => rest.to_vec(),
        1 => seal_snapshot_state(&key, rest),
        _ => {
            let [at, bytes @ ..] = rest else { return };
            let mut state = fx.state.clone();
            let start = usize::from(*at) * state.len() / 256;
            for (i, b) in bytes.iter().enumerate() {
                match state.get_mut(start + i) {
                    Some(s) => *s = *b,
                    None => state.push(*b),
                }
            }
            seal_snapshot_state(&key, &state)
        }
    };
    // Resumed at the end of the disk (the snapshot's own point), or earlier if it says so.
    let history: Box<dyn History> = Box::new(SharedHistory::default());
    let before = fx.disk.last().map(|l| l.as_slice());
    let Ok(mut node) = Node::resume(key, fx.roster.clone(), &snapshot, before, std::iter::empty::<&[u8]>(), history, T0 + 10)
    else {
        return;
    };
    // A node that accepted it keeps working: a day of timers, its queries, a new snapshot.
    for step in 0..8u64 {
        node.handle_timeout(T0 + 10 + step * 3 * 3_600_000);
        while let Some(batch) = node.poll_persist() {
            node.persisted(batch.first_index + batch.leaves.len() as u64);
        }
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }
    let _ = (node.links(), node.awaiting(), node.notice_ids(), node.sent_threads(), node.checkpoints());
    let _ = node.snapshot();
});
