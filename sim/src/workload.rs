//! Random traffic and random faults for seeded runs: officers who report incidents, update and
//! close them, reply, send coded messages and (mostly) acknowledge, in a network that misbehaves.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use hotline_proto::CodedMessage;
use hotline_proto::Completeness;
use hotline_proto::DeadlineMissed;
use hotline_proto::{Body, Draft, Precedence, Role};

use crate::check;
use crate::fixtures::{en_zh, s1_incident, s4_incident};
use crate::world::{Action, Faults, Sim, SimConfig, Violation};

/// How long officers create traffic and faults happen (simulated ms).
pub const ACTIVE_MS: u64 = 240_000;
/// After the faults heal: long enough for every deadline of the last notice to fall and every
/// retransmission to get through.
pub const DRAIN_MS: u64 = 300_000;
/// At the end, with officers gone: lets what is in flight land.
pub const QUIET_MS: u64 = 30_000;

/// Figures from one run.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Nodes in the run.
    pub nodes: usize,
    /// Notices created (including link tests).
    pub notices: u64,
    /// Deadline misses recorded.
    pub misses: u64,
    /// Frames put on the wire.
    pub frames: u64,
    /// Frames lost.
    pub lost: u64,
    /// Simulator steps.
    pub steps: u64,
    /// Crashes scheduled (each followed by a restart).
    pub crashes: u64,
    /// Partitions scheduled (one- or two-way).
    pub partitions: u64,
    /// Checkpoints signed.
    pub checkpoints: u64,
    /// Checkpoints co-signed by a peer.
    pub cosigned: u64,
    /// Restarts from a snapshot and the entries after it (spec §6.12), the rest replaying the log.
    pub resumed: u64,
    /// SHA-256 over every node's durable log, leaf by leaf: two runs of one seed must agree on
    /// every byte of every log, not merely on counts.
    pub logs: [u8; 32],
}

/// One seeded run with random faults, followed by every end-of-run check.
pub fn random_run(seed: u64) -> Result<RunReport, Violation> {
    random_run_with(seed, None)
}

/// [`random_run`], with a hook called on every node as it boots (to break a rule on purpose).
pub fn random_run_with(
    seed: u64,
    on_boot: Option<fn(&mut hotline_proto::Node)>,
) -> Result<RunReport, Violation> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0fc0_ffee);
    let nodes = rng.gen_range(2..=5);
    let faults = Faults::chaos(&mut rng);
    let ack_probability = rng.gen_range(0.5..=1.0);
    let mut sim = Sim::new(SimConfig { seed, nodes, faults: faults.clone(), ack_probability, on_boot });
    let (mut crashes, mut partitions) = (0, 0);
    if faults.crashes {
        for _ in 0..rng.gen_range(1..=4) {
            crashes += 1;
            let i = rng.gen_range(0..nodes);
            let at = rng.gen_range(0..ACTIVE_MS);
            let down = rng.gen_range(100..120_000);
            sim.schedule(at, Action::Crash(i));
            sim.schedule((at + down).min(ACTIVE_MS), Action::Restart(i));
        }
    }
    if faults.partitions {
        for _ in 0..rng.gen_range(1..=4) {
            let a = rng.gen_range(0..nodes);
            let b = (a + rng.gen_range(1..nodes)) % nodes;
            let at = rng.gen_range(0..ACTIVE_MS);
            let heal = (at + rng.gen_range(1_000..150_000)).min(ACTIVE_MS);
            partitions += 1;
            sim.schedule(at, Action::Cut(a, b));
            sim.schedule(heal, Action::Heal(a, b));
            if rng.gen_bool(0.5) {
                sim.schedule(at, Action::Cut(b, a));
                sim.schedule(heal, Action::Heal(b, a));
            }
        }
    }
    sim.workload_active = true;
    sim.schedule(rng.gen_range(0..5_000), Action::Workload);
    sim.run_until(ACTIVE_MS);
    settle(&mut sim);
    sim.run_until(ACTIVE_MS + DRAIN_MS);
    sim.clear_actions();
    sim.run_until(ACTIVE_MS + DRAIN_MS + QUIET_MS);
    if let Some(v) = sim.violation.take() {
        return Err(v);
    }
    check::final_checks(&mut sim, QUIET_MS);
    if let Some(v) = sim.violation.take() {
        return Err(v);
    }
    Ok(RunReport { crashes, partitions, ..report(&sim) })
}

/// Ends the faults: officers stop sending, links heal, loss stops, crashed nodes restart.
pub fn settle(sim: &mut Sim) {
    sim.workload_active = false;
    sim.config.faults.loss = 0.0;
    let n = sim.nodes.len();
    for a in 0..n {
        for b in 0..n {
            sim.cut[a][b] = false;
        }
    }
    for i in 0..n {
        sim.restart(i);
    }
}

/// Figures of a finished run.
pub fn report(sim: &Sim) -> RunReport {
    let mut r = RunReport {
        nodes: sim.nodes.len(),
        frames: sim.frames_sent,
        lost: sim.frames_lost,
        steps: sim.steps,
        resumed: sim.resumed,
        ..Default::default()
    };
    for n in &sim.nodes {
        for e in &n.entries {
            match &e.entry.record {
                hotline_proto::Record::Sent { .. }
                    if matches!(
                        e.message.as_ref().map(|o| &o.message),
                        Some(hotline_proto::Message::Notice(_))
                    ) =>
                {
                    r.notices += 1
                }
                hotline_proto::Record::DeadlineMissed(DeadlineMissed { .. }) => r.misses += 1,
                hotline_proto::Record::Checkpoint { .. } => r.checkpoints += 1,
                hotline_proto::Record::Cosignature { .. } => r.cosigned += 1,
                _ => {}
            }
        }
    }
    let mut all = Vec::new();
    for n in &sim.nodes {
        for leaf in &n.durable {
            all.extend_from_slice(hotline_proto::crypto::leaf_hash(leaf).as_bytes());
        }
        all.push(0xff); // where one node's log ends
    }
    r.logs = hotline_proto::crypto::sha256(&all).0;
    r
}

fn random_precedence(rng: &mut StdRng) -> Precedence {
    *Precedence::ALL.choose(rng).unwrap_or(&Precedence::Routine)
}

/// The workload generator's turn: one officer does one thing, and the next turn is scheduled.
pub fn act(sim: &mut Sim) {
    if !sim.workload_active {
        return;
    }
    let n = sim.nodes.len();
    let i = sim.rng.gen_range(0..n);
    if let Some(draft) = draft_for(sim, i) {
        sim.send(i, draft);
    }
    let next = sim.now + sim.rng.gen_range(300..6_000);
    sim.schedule(next, Action::Workload);
}

fn draft_for(sim: &mut Sim, i: usize) -> Option<Draft> {
    let node = sim.nodes[i].node.as_ref()?;
    let me = node.id();
    let others: Vec<_> = sim.roster.members.iter().map(|m| m.key).filter(|k| *k != me).collect();
    // Threads this node started and has not closed; notices it received.
    let own_open: Vec<_> =
        node.sent_threads().into_iter().filter(|t| !t.closed).map(|t| (t.thread, t.to)).collect();
    let received: Vec<_> = node.received().map(|(n, _)| (n.id(), n.thread_id(), n.sender)).collect();
    let rng = &mut sim.rng;
    let roll = rng.gen_range(0..100);
    let precedence = random_precedence(rng);
    if roll < 20 && !own_open.is_empty() {
        let (thread, to) = own_open.choose(rng)?.clone();
        let stage = if rng.gen_bool(0.3) { Completeness::Final } else { Completeness::Update };
        let body = Body::Incident(s4_incident(stage, rng.gen_range(1..9)));
        return Some(Draft { precedence, to, thread: Some(thread), in_reply_to: None, body });
    }
    if roll < 45 && !received.is_empty() {
        let (id, thread, sender) = *received.choose(rng)?;
        let body = if rng.gen_bool(0.7) {
            Body::Reply(en_zh("Vessel confirmed civilian.", "已确认该船只为民用船只。"))
        } else {
            Body::Clarification(en_zh(
                "Please give the time of the misidentification.",
                "请提供误识别发生的时间。",
            ))
        };
        return Some(Draft {
            precedence,
            to: vec![(sender, Role::Action)],
            thread: Some(thread),
            in_reply_to: Some(id),
            body,
        });
    }
    let count = rng.gen_range(1..=others.len());
    let mut chosen = others.clone();
    chosen.shuffle(rng);
    let to: Vec<_> = chosen
        .into_iter()
        .take(count)
        .enumerate()
        .map(|(k, key)| (key, if k == 0 || rng.gen_bool(0.5) { Role::Action } else { Role::Info }))
        .collect();
    if roll < 55 {
        let body = Body::Codebook(CodedMessage {
            number: 7,
            word: "LANTERN".into(),
            note: Vec::new(),
            attachments: Vec::new(),
        });
        return Some(Draft { precedence: Precedence::Priority, to, thread: None, in_reply_to: None, body });
    }
    let body = if rng.gen_bool(0.5) { s1_incident() } else { s4_incident(Completeness::Initial, 0) };
    Some(Draft { precedence, to, thread: None, in_reply_to: None, body: Body::Incident(body) })
}
