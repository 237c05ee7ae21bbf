//! The node state machine under a fuzzed schedule (spec §6): alpha (the node under test) and
//! bravo are real `hotline_proto::Node`s of a three-member network; charlie, and bravo too when the
//! schedule says so, are impersonated by the harness, which holds their keys and forges frames.
//!
//! Input: chunks `[tag][len u16 LE][payload]` (`hotline_fuzz::chunks`). `tag & 0x7f` picks the
//! operation, bit 7 the impersonated peer (charlie if set, else bravo); the payload is the
//! operation's raw frame, its re-signed body (`[kind][flags][body…]`), or the bytes the
//! operation's fields are drawn from (`arbitrary`). Operations: raw frames, re-signed bodies,
//! forged well-formed notices / receipts / acks / checkpoint offers / cosignatures, the passing of
//! time (`handle_timeout`), persistence (`poll_persist` + `persisted`, also partial), delivery
//! between alpha and bravo (with loss, duplication and reordering), operator commands on both
//! nodes, checkpoints, reconnection, crash and restart from the durable log, and the queries.
//!
//! Properties checked besides "no panic": every frame a node transmits opens at its receiver and
//! is signed by it; a persist batch starts where the store ends; a crashed node restores from its
//! durable log; at the end each node's whole log verifies with `Check::Full` and restores to the
//! same notices, outstanding deadlines and checkpoints.
#![no_main]

use arbitrary::{Result, Unstructured};
use hotline_fuzz::{
    arb_body, arb_disposition, arb_notice, arb_operator, arb_precedence, arb_texts, resign, Fixture, T0,
};
use hotline_proto::merkle::MerkleTree;
use hotline_proto::note::{self, Checkpoint};
use hotline_proto::wire::Opened;
use hotline_proto::{Ack, Draft, Event, Hash32, Heartbeat, Node, NodeId, NoticeId, Role};
use hotline_proto::{Check, LogVerifier};
use hotline_proto::{CheckpointOffer, Cosignature, Kind, Message, MessageRef, SignedCheckpoint};
use libfuzzer_sys::fuzz_target;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const MAX_OPS: usize = 96;

struct Sim {
    i: usize,
    node: Node,
    /// Leaves handed out by `poll_persist` and written.
    store: Vec<Vec<u8>>,
    /// What was reported durable with `persisted`.
    durable: u64,
    /// This node's clock minus the world's, ms.
    offset: i64,
}

impl Sim {
    fn new(fx: &Fixture, i: usize) -> Sim {
        Sim { i, node: fx.node(i, T0), store: Vec::new(), durable: 0, offset: 0 }
    }

    fn now(&self, world: u64) -> u64 {
        world.saturating_add_signed(self.offset)
    }

    fn persist(&mut self, upto: Option<u64>) {
        while let Some(batch) = self.node.poll_persist() {
            assert_eq!(
                batch.first_index,
                self.store.len() as u64,
                "a persist batch does not follow the store"
            );
            self.store.extend(batch.leaves);
        }
        let len = upto.map_or(self.store.len() as u64, |n| n.min(self.store.len() as u64));
        self.durable = self.durable.max(len);
        self.node.persisted(len);
    }
}

struct World {
    fx: &'static Fixture,
    now: u64,
    sims: [Sim; 2],
    /// In flight between the two real nodes: `queues[j]` goes to node `j`.
    queues: [Vec<Vec<u8>>; 2],
    /// Messages the real nodes sent to a peer the harness may impersonate: (to, message).
    out: Vec<(NodeId, Opened)>,
    /// Notice ids seen anywhere (for threads and replies).
    known: Vec<NoticeId>,
    /// Charlie's log as the harness pretends it grows, and whether it was rewritten.
    c_tree: MerkleTree,
    c_leaf: u64,
}

impl World {
    fn new() -> World {
        let fx = hotline_fuzz::rich();
        World {
            fx,
            now: T0,
            sims: [Sim::new(fx, A), Sim::new(fx, B)],
            queues: [Vec::new(), Vec::new()],
            out: Vec::new(),
            known: Vec::new(),
            c_tree: MerkleTree::new(),
            c_leaf: 0,
        }
    }

    fn remember(&mut self, id: NoticeId) {
        if !self.known.contains(&id) && self.known.len() < 64 {
            self.known.push(id);
        }
    }

    /// A frame from peer `from` (bravo or charlie) to alpha.
    fn to_alpha(&mut self, from: usize, frame: &[u8]) {
        let a = &mut self.sims[A];
        let now = a.now(self.now);
        let _ = a.node.urgency(frame);
        let _ = a.node.handle_frame(now, self.fx.ids[from], frame);
    }

    fn pump(&mut self) {
        for s in 0..2 {
            loop {
                let Some(t) = self.sims[s].node.poll_transmit() else { break };
                let me = self.fx.ids[s];
                assert_ne!(t.to, me, "a node transmits to itself");
                let to = self.fx.ids.iter().position(|id| *id == t.to).expect("transmit to a member");
                let opened = hotline_proto::wire::open(&t.frame, &self.fx.roster, &self.fx.network)
                    .unwrap_or_else(|r| panic!("a node transmits a frame its peer refuses: {r}"));
                assert_eq!(opened.message.signer(), me, "a node transmits a frame it did not sign");
                if let Message::Notice(n) = &opened.message {
                    let id = n.id();
                    self.remember(id);
                }
                if to < 2 && self.queues[to].len() < 256 {
                    self.queues[to].push(t.frame);
                }
                // What alpha sends is what the harness answers when it impersonates a peer.
                let seen = self.out.iter().any(|(x, o)| *x == t.to && o.hash == opened.hash);
                if s == A && !seen && self.out.len() < 256 {
                    self.out.push((t.to, opened));
                }
            }
        }
    }

    fn events(&mut self) {
        for s in 0..2 {
            while let Some(e) = self.sims[s].node.poll_event() {
                if let Event::NoticeReceived { id, thread, .. } = e {
                    self.remember(id);
                    self.remember(thread);
                }
            }
        }
    }

    fn op(&mut self, tag: u8, payload: &[u8]) -> Result<()> {
        let fx = self.fx;
        let peer = if tag & 0x80 != 0 { C } else { B };
        let mut u = Unstructured::new(payload);
        match (tag & 0x7f) % 21 {
            0 => self.to_alpha(peer, payload),
            1 => {
                if let [k, flags, body @ ..] = payload {
                    let (frame, _) = resign(fx, hotline_fuzz::kind_of(*k), peer, *flags, body);
                    self.to_alpha(peer, &frame);
                }
            }
            2 => {
                let n = arb_notice(&mut u, fx, peer, self.now, &self.known)?;
                self.remember(n.id());
                let (frame, _) = hotline_proto::wire::seal(&fx.keys[peer], Kind::Notice, &n);
                self.to_alpha(peer, &frame);
            }
            3 => {
                // A receipt of something alpha sent to `peer`.
                let mine: Vec<&Opened> =
                    self.out.iter().filter(|(to, _)| *to == fx.ids[peer]).map(|(_, o)| o).collect();
                if mine.is_empty() {
                    return Ok(());
                }
                let o = *u.choose(&mine)?;
                let signed_ms = match u.int_in_range(0..=7u8)? {
                    0 => u.arbitrary()?,
                    1 => self.now.saturating_sub(u64::from(u.arbitrary::<u32>()?)),
                    2 => self.now.saturating_add(u64::from(u.arbitrary::<u32>()?)),
                    _ => self.now,
                };
                if let Message::Heartbeat(h) = &o.message {
                    // The peer's echo of alpha's heartbeat: a round trip, maybe a link test.
                    let echo = Heartbeat {
                        network: fx.network,
                        signer: fx.ids[peer],
                        to: h.signer,
                        time_ms: signed_ms,
                        echo: o.hash,
                        cosigned: hotline_fuzz::arb_cosigned(
                            &mut u,
                            fx,
                            A,
                            self.sims[A].node.checkpoints().last().map(|(c, _)| *c),
                        )?,
                    };
                    let (frame, _) = hotline_proto::wire::seal(&fx.keys[peer], Kind::Heartbeat, &echo);
                    self.to_alpha(peer, &frame);
                    return Ok(());
                }
                let (kind, notice) = match &o.message {
                    Message::Notice(n) => (Kind::Notice, n.id()),
                    Message::Ack(a) => (Kind::Ack, a.notice),
                    _ => (hotline_fuzz::kind_of(u.arbitrary()?), hotline_fuzz::arb_notice_id(&mut u, fx)?),
                };
                let mut of = MessageRef { kind, hash: o.hash };
                if u.ratio(1, 16)? {
                    of.hash = Hash32(u.arbitrary()?);
                }
                let frame = hotline_fuzz::receipt(fx, peer, of, notice, signed_ms);
                self.to_alpha(peer, &frame);
            }
            4 => {
                // An acknowledgement of a notice alpha sent to `peer`.
                let notices: Vec<&Opened> = self
                    .out
                    .iter()
                    .filter(|(to, o)| *to == fx.ids[peer] && matches!(o.message, Message::Notice(_)))
                    .map(|(_, o)| o)
                    .collect();
                let (notice, notice_hash) = match notices.is_empty() {
                    false => {
                        let o = *u.choose(&notices)?;
                        let Message::Notice(n) = &o.message else { return Ok(()) };
                        (n.id(), o.hash)
                    }
                    true => (hotline_fuzz::arb_notice_id(&mut u, fx)?, Hash32(u.arbitrary()?)),
                };
                let ack = Ack {
                    network: fx.network,
                    signer: fx.ids[peer],
                    notice,
                    notice_hash,
                    acked_ms: if u.ratio(7, 8)? { self.now } else { u.arbitrary()? },
                    operator: arb_operator(&mut u)?,
                    disposition: arb_disposition(&mut u)?,
                    note: if u.arbitrary()? { Vec::new() } else { arb_texts(&mut u)? },
                };
                let (frame, _) = hotline_proto::wire::seal(&fx.keys[peer], Kind::Ack, &ack);
                self.to_alpha(peer, &frame);
            }
            5 => {
                // Charlie (or bravo) offers a checkpoint of a log the harness grows, with a real
                // consistency proof unless told otherwise; sometimes it rewrites its history.
                if u.ratio(1, 8)? {
                    self.c_tree = MerkleTree::new();
                    self.c_leaf += 1_000_000;
                }
                for _ in 0..u.int_in_range(0..=4u8)? {
                    self.c_leaf += 1;
                    self.c_tree.push(hotline_proto::crypto::leaf_hash(&self.c_leaf.to_be_bytes()));
                }
                let len = self.c_tree.len();
                let size = if u.ratio(3, 4)? { len } else { u.int_in_range(0..=len)? };
                let proof_from = match u.int_in_range(0..=3u8)? {
                    0 => 0,
                    1 => u.arbitrary()?,
                    _ => u.int_in_range(0..=size)?,
                };
                let mut proof = self.c_tree.consistency_proof(proof_from, size).unwrap_or_default();
                if u.ratio(1, 8)? && !proof.is_empty() {
                    let i = u.choose_index(proof.len())?;
                    proof[i] = Hash32(u.arbitrary()?);
                }
                let root = self.c_tree.root_at(size).unwrap_or(Hash32([0; 32]));
                let origin = note::origin_of(&fx.roster, &fx.ids[peer]).unwrap_or_default();
                let signature = Checkpoint { origin, size, root }.sign(&fx.keys[peer]);
                let offer = CheckpointOffer {
                    network: fx.network,
                    signer: fx.ids[peer],
                    checkpoint: SignedCheckpoint { size, root, signature },
                    proof_from,
                    proof,
                };
                let (frame, _) = hotline_proto::wire::seal(&fx.keys[peer], Kind::Checkpoint, &offer);
                self.to_alpha(peer, &frame);
            }
            6 => {
                // A cosignature of one of alpha's checkpoints (or of a made-up one).
                let own = self.sims[A].node.checkpoints();
                let (size, root) = match own.is_empty() || u.ratio(1, 8)? {
                    false => {
                        let (c, _) = u.choose(&own)?;
                        (c.size, c.root)
                    }
                    true => (u.arbitrary()?, Hash32(u.arbitrary()?)),
                };
                let timestamp_s = if u.ratio(7, 8)? { self.now / 1000 } else { u.arbitrary()? };
                let log = if u.ratio(15, 16)? { fx.ids[A] } else { hotline_fuzz::node_ref(&mut u, fx)? };
                let mut c = Cosignature {
                    network: fx.network,
                    signer: fx.ids[peer],
                    log,
                    size,
                    root,
                    timestamp_s,
                    signature: hotline_proto::Sig64([0; 64]),
                };
                hotline_fuzz::resign_cosignature(fx, &fx.keys[peer], &mut c);
                let (frame, _) = hotline_proto::wire::seal(&fx.keys[peer], Kind::Cosignature, &c);
                self.to_alpha(peer, &frame);
            }
            7 => {
                let delta: u64 = match u.int_in_range(0..=7u8)? {
                    0 => u64::from(u.arbitrary::<u16>()?),
                    1 => u64::from(u.arbitrary::<u16>()?) * 1000,
                    2 => u64::from(u.arbitrary::<u32>()?) * 10,
                    3 => {
                        // The world clock jumps back (e.g. an NTP step).
                        self.now = self.now.saturating_sub(u64::from(u.arbitrary::<u16>()?) * 100);
                        0
                    }
                    _ => {
                        // To the next timer of either node.
                        let next =
                            self.sims.iter().filter_map(|s| s.node.poll_timeout()).min().unwrap_or(self.now);
                        next.saturating_sub(self.now)
                    }
                };
                self.now = self.now.saturating_add(delta);
                for s in &mut self.sims {
                    let now = s.now(self.now);
                    s.node.handle_timeout(now);
                }
            }
            8 => {
                let s = &mut self.sims[usize::from(tag >> 7)];
                let upto = if u.ratio(3, 4)? { None } else { Some(u.arbitrary()?) };
                s.persist(upto);
            }
            9 => self.pump(),
            10 | 11 => {
                let to = if (tag & 0x7f) % 21 == 10 { A } else { B };
                let from = 1 - to;
                if self.queues[to].is_empty() {
                    return Ok(());
                }
                let n = u.int_in_range(1..=8usize)?;
                for _ in 0..n {
                    if self.queues[to].is_empty() {
                        break;
                    }
                    let i = if u.ratio(3, 4)? { 0 } else { u.choose_index(self.queues[to].len())? };
                    let frame = match u.int_in_range(0..=7u8)? {
                        0 => self.queues[to][i].clone(), // duplicated
                        1 => {
                            self.queues[to].remove(i); // lost
                            continue;
                        }
                        _ => self.queues[to].remove(i),
                    };
                    let s = &mut self.sims[to];
                    let now = s.now(self.now);
                    let _ = s.node.handle_frame(now, self.fx.ids[from], &frame);
                }
            }
            12 | 13 => {
                let s = if (tag & 0x7f) % 21 == 12 { A } else { B };
                let mut to = Vec::new();
                for k in 0..u.int_in_range(1..=2usize)? {
                    let node = fx.ids[(s + 1 + k) % 3];
                    let role = if k == 0 || u.arbitrary()? { Role::Action } else { Role::Info };
                    to.push((node, role));
                }
                if u.ratio(1, 16)? {
                    to.push((hotline_fuzz::node_ref(&mut u, fx)?, Role::Info));
                }
                let kind = u.int_in_range(0..=6u8)?;
                let pick = |u: &mut Unstructured, known: &[NoticeId]| -> Result<Option<NoticeId>> {
                    Ok(if known.is_empty() || u.ratio(1, 4)? { None } else { Some(*u.choose(known)?) })
                };
                let (thread, in_reply_to) = match kind {
                    0 | 6 => (None, None),
                    1 | 2 => (pick(&mut u, &self.known)?, None),
                    _ => {
                        let r = pick(&mut u, &self.known)?;
                        (if u.arbitrary()? { r } else { pick(&mut u, &self.known)? }, r)
                    }
                };
                let draft = Draft {
                    precedence: arb_precedence(&mut u)?,
                    to,
                    thread,
                    in_reply_to,
                    body: arb_body(&mut u, kind)?,
                };
                let sim = &mut self.sims[s];
                let now = sim.now(self.now);
                if let Ok(id) = sim.node.send_notice(now, draft) {
                    self.remember(id);
                }
            }
            14 | 15 => {
                let s = if (tag & 0x7f) % 21 == 14 { A } else { B };
                let sim = &mut self.sims[s];
                let received: Vec<NoticeId> = sim.node.received().map(|(n, _)| n.id()).collect();
                let id = if received.is_empty() || u.ratio(1, 16)? {
                    hotline_fuzz::arb_notice_id(&mut u, fx)?
                } else {
                    *u.choose(&received)?
                };
                let operator = arb_operator(&mut u)?;
                let disposition = arb_disposition(&mut u)?;
                let note = if u.arbitrary()? { Vec::new() } else { arb_texts(&mut u)? };
                let now = sim.now(self.now);
                let _ = sim.node.acknowledge(now, id, &operator, disposition, note);
            }
            16 => {
                let s = &mut self.sims[usize::from(tag >> 7)];
                let now = s.now(self.now);
                let _ = s.node.checkpoint(now);
            }
            17 => {
                let s = &mut self.sims[usize::from(tag >> 7)];
                let now = s.now(self.now);
                let p = fx.ids[if s.i == A { peer } else { [A, C][usize::from(u.arbitrary::<bool>()?)] }];
                s.node.peer_reachable(now, p);
            }
            18 => {
                // Crash and restart: whatever was written may survive beyond what was reported
                // durable, but nothing after it; outputs in flight are gone.
                let which = usize::from(tag >> 7);
                let s = &mut self.sims[which];
                let lo = s.durable.min(s.store.len() as u64);
                let keep = u.int_in_range(lo..=s.store.len() as u64)?;
                s.store.truncate(keep as usize);
                s.durable = keep;
                let now = s.now(self.now);
                s.node = Node::restore(fx.keys[s.i].clone(), fx.roster.clone(), &s.store, now)
                    .unwrap_or_else(|e| panic!("a node does not restore from its own durable log: {e}"));
            }
            19 => {
                for s in &self.sims {
                    let n = &s.node;
                    for id in &self.known {
                        let _ = n.view(id);
                        let _ = n.thread(*id);
                    }
                    let _ = (n.links(), n.awaiting(), n.notice_ids(), n.sent_threads(), n.checkpoints());
                    let _ = (n.cosigned_by_peers(), n.pending_retransmissions(), n.poll_timeout());
                    let _ = n.root();
                    for q in &self.queues {
                        for f in q.iter().take(8) {
                            let _ = n.urgency(f);
                        }
                    }
                }
            }
            _ => {
                let s = &mut self.sims[usize::from(tag >> 7)];
                s.offset = i64::from(u.arbitrary::<i32>()?);
            }
        }
        Ok(())
    }

    /// Everything persisted; each log verifies in full and restores to the same state.
    fn finish(mut self) {
        self.events();
        let stats = stats_enabled();
        for s in &mut self.sims {
            s.persist(None);
            let mut v = LogVerifier::new(self.fx.roster.clone(), self.fx.ids[s.i], Check::Full);
            for leaf in &s.store {
                match v.push(leaf) {
                    Ok(e) if stats => eprintln!("STAT node{} {}", s.i, e.entry.record.name()),
                    Ok(_) => {}
                    Err(e) => {
                        panic!("node {}'s own log does not verify: entry {}: {}", s.i, e.index, e.problem)
                    }
                }
            }
            assert_eq!(v.len(), s.node.log_len());
            assert_eq!(v.root(), s.node.root());
            let now = s.now(self.now);
            let restored = Node::restore(self.fx.keys[s.i].clone(), self.fx.roster.clone(), &s.store, now)
                .unwrap_or_else(|e| panic!("node {} does not restore from its own log: {e}", s.i));
            assert_eq!(restored.notice_ids(), s.node.notice_ids(), "restart changes the notices");
            assert_eq!(restored.awaiting(), s.node.awaiting(), "restart changes what is awaited");
            assert_eq!(restored.checkpoints(), s.node.checkpoints(), "restart changes the checkpoints");
            assert_eq!(restored.sent_threads(), s.node.sent_threads(), "restart changes the threads");
        }
    }
}

/// `HOTLINE_FUZZ_STATS=1` prints the record kinds of both logs at the end of each input (to see
/// how deep a corpus reaches: `… -runs=0 corpus/node_frames 2>&1 | grep STAT | sort | uniq -c`).
fn stats_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HOTLINE_FUZZ_STATS").is_some())
}

fuzz_target!(|data: &[u8]| {
    let mut w = World::new();
    for (tag, payload) in hotline_fuzz::chunks(data).into_iter().take(MAX_OPS) {
        let _ = w.op(tag, payload);
        w.events();
    }
    w.finish();
});
