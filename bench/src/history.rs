//! A whole network's history made by real cores on real stores, for the long-running node's
//! measurements: memory and restart time against the length of the log (spec §6.11, §6.12).
//!
//! Every member is a [`hotline_proto::Node`] on its own [`Store`] (the node's own redb store,
//! index, hash tiles and snapshots), the network is a queue in memory and the clock is simulated,
//! so the history is exactly what a running network writes, only faster: member 0 sends notices
//! in bursts at a steady rate ([`Traffic`]) to every other member (half of them for action, half for information, in
//! threads of [`THREAD_LENGTH`]), its peers answer one notice in ten, officers acknowledge what
//! is owed a minute later, and heartbeats, hourly link tests and checkpoints with co-signing run
//! on their own timers. The stores are written without an fsync per commit and synced at the end
//! (a bench tool's shortcut; the node never does this).

use std::collections::VecDeque;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use hotline_node::home::Home;
use hotline_node::store::Store;
use hotline_proto::{Body, Disposition, Draft, Event, History, Node, NodeId, NoticeId, Precedence, Role};

use crate::synthetic::{incident, text};
use serde_json::{json, Value};

/// Notices per thread: an initial report, then replies.
pub const THREAD_LENGTH: u64 = 20;

/// How member 0 and its peers behave.
#[derive(Clone, Copy, Debug)]
pub struct Traffic {
    /// Member 0 sends a burst of notices every this many simulated milliseconds.
    pub burst_every_ms: u64,
    /// Notices in a burst (a watch floor sends in bursts; the stores then commit many entries at
    /// once, which is what makes long histories quick to make).
    pub burst: u64,
    /// Officers acknowledge what they owe this long after it arrives.
    pub ack_after_ms: u64,
}

impl Default for Traffic {
    /// 14 400 notices a day from member 0, in bursts of 10 a minute.
    fn default() -> Traffic {
        Traffic { burst_every_ms: 60_000, burst: 10, ack_after_ms: 60_000 }
    }
}

impl Traffic {
    /// As JSON, for results files.
    pub fn json(&self) -> Value {
        json!({
            "notices_a_day_from_member_0": self.burst * 86_400_000 / self.burst_every_ms.max(1),
            "burst": self.burst,
            "ack_after_ms": self.ack_after_ms,
        })
    }
}

struct Member {
    node: Node,
    store: Store,
    /// Acknowledgements owed, oldest first: when, and of what.
    owed: VecDeque<(u64, NoticeId)>,
    /// The thread this member's notices go in, and how many it holds.
    thread: Option<(NoticeId, u64)>,
    sent: u64,
    /// The store's length when old entries were last moved to segment files (as the node's
    /// writer does when idle), so that a synthetic history is stored as a node's would be.
    archived_at: u64,
}

/// What a run made.
pub struct Made {
    /// Entries in each member's log.
    pub entries: Vec<u64>,
    /// Notices each member sent.
    pub notices: Vec<u64>,
    /// Simulated time covered.
    pub simulated_ms: u64,
    /// Wall-clock time it took.
    pub seconds: f64,
    /// The traffic.
    pub traffic: Traffic,
}

impl Made {
    /// As JSON, for results files.
    pub fn json(&self) -> Value {
        json!({
            "traffic": self.traffic.json(),
            "entries": self.entries,
            "notices": self.notices,
            "simulated_days": self.simulated_ms as f64 / 86_400_000.0,
            "seconds": self.seconds,
        })
    }
}

/// Fills the (empty) stores of `homes` with the history of a network whose member 0 reaches
/// `target` log entries, ending about now. `progress` is told member 0's length now and then.
pub fn make(homes: &[Home], target: u64, traffic: Traffic, mut progress: impl FnMut(u64)) -> Result<Made> {
    let started = Instant::now();
    let roster = homes.first().ok_or_else(|| anyhow!("no members"))?.roster()?;
    // Member 0 logs about 9 entries a notice; start far enough back (at 4 a notice) that the
    // history ends before now (a log from the future would be refused).
    let per_burst = traffic.burst.max(1).saturating_mul(4);
    let span = (target / per_burst + 1).saturating_mul(traffic.burst_every_ms) + 86_400_000;
    let t0 = hotline_node::now_ms().saturating_sub(span);
    let mut members = Vec::with_capacity(homes.len());
    for home in homes {
        let (store, start) = Store::open(&home.store_path())?;
        if start.len > 0 {
            anyhow::bail!("{} already holds a log", home.store_path().display());
        }
        let history: Box<dyn History> = Box::new(store.reader());
        let node =
            Node::restore_with(home.key()?, roster.clone(), std::iter::empty::<&[u8]>(), Some(history), t0)
                .map_err(|e| anyhow!("{e}"))?;
        members.push(Member { node, store, owed: VecDeque::new(), thread: None, sent: 0, archived_at: 0 });
    }
    let ids: Vec<NodeId> = members.iter().map(|m| m.node.id()).collect();
    let mut wire: VecDeque<(usize, hotline_proto::Transmit)> = VecDeque::new();
    let mut t = t0;
    let mut next_notice = t0 + traffic.burst_every_ms;
    let mut reported = 0u64;
    pump(&mut members, &ids, &mut wire, t, traffic)?;
    while members[0].node.log_len() < target {
        let timers = members.iter().filter_map(|m| m.node.poll_timeout()).min();
        let acks = members.iter().filter_map(|m| m.owed.front().map(|(at, _)| *at)).min();
        let next = [timers, acks, Some(next_notice)].into_iter().flatten().min().unwrap_or(next_notice);
        t = t.max(next);
        for m in members.iter_mut() {
            m.node.handle_timeout(t);
        }
        if t >= next_notice {
            for _ in 0..traffic.burst {
                let n = members[0].sent;
                send(&mut members, &ids, 0, t, n.is_multiple_of(2))?;
                // One notice in ten is answered by a peer, in its own thread, to member 0.
                if n % 10 == 9 {
                    let peer = 1 + (n / 10) as usize % (members.len() - 1);
                    send(&mut members, &ids, peer, t, true)?;
                }
            }
            next_notice += traffic.burst_every_ms;
        }
        for m in members.iter_mut() {
            while m.owed.front().is_some_and(|(at, _)| *at <= t) {
                if let Some((_, notice)) = m.owed.pop_front() {
                    // Owed and not yet given: a refusal here would be a bug of the generator.
                    m.node
                        .acknowledge(t, notice, "watch officer", Disposition::Understood, text("Noted."))
                        .map_err(|e| anyhow!("acknowledging {notice}: {e}"))?;
                }
            }
        }
        pump(&mut members, &ids, &mut wire, t, traffic)?;
        let len = members[0].node.log_len();
        if len >= reported + 100_000 {
            reported = len;
            progress(len);
        }
        if t > hotline_node::now_ms() {
            anyhow::bail!("the history reached the present before {target} entries");
        }
    }
    for m in members.iter_mut() {
        m.store.sync()?;
    }
    Ok(Made {
        entries: members.iter().map(|m| m.node.log_len()).collect(),
        notices: members.iter().map(|m| m.sent).collect(),
        simulated_ms: t - t0,
        seconds: started.elapsed().as_secs_f64(),
        traffic,
    })
}

/// Member `from` sends a notice: member 0 to everyone (`wide`: the first half for action), a
/// peer to member 0 for action.
fn send(members: &mut [Member], ids: &[NodeId], from: usize, t: u64, wide: bool) -> Result<()> {
    let to: Vec<(NodeId, Role)> = if from == 0 {
        let peers = &ids[1..];
        let half = if wide { peers.len().div_ceil(2) } else { 1 };
        peers
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, if i < half { Role::Action } else { Role::Info }))
            .collect()
    } else {
        vec![(ids[0], Role::Action)]
    };
    let m = &mut members[from];
    let thread = m.thread.filter(|(_, count)| *count < THREAD_LENGTH);
    let draft = Draft {
        precedence: if m.sent.is_multiple_of(7) { Precedence::Priority } else { Precedence::Routine },
        to,
        thread: thread.map(|(id, _)| id),
        in_reply_to: thread.map(|(id, _)| id),
        body: match thread {
            None => Body::Incident(incident(t)),
            Some(_) => Body::Reply(text("Synthetic reply: the track was re-identified; no action needed.")),
        },
    };
    let id = m.node.send_notice(t, draft).map_err(|e| anyhow!("sending: {e}"))?;
    m.thread = Some(match thread {
        Some((thread, count)) => (thread, count + 1),
        None => (id, 1),
    });
    m.sent += 1;
    Ok(())
}

/// Runs the network at time `t` until nothing moves: entries stored, frames delivered, events
/// read (what is owed is noted for the officers).
fn pump(
    members: &mut [Member],
    ids: &[NodeId],
    wire: &mut VecDeque<(usize, hotline_proto::Transmit)>,
    t: u64,
    traffic: Traffic,
) -> Result<()> {
    for _ in 0..10_000 {
        for (i, m) in members.iter_mut().enumerate() {
            while let Some(batch) = m.node.poll_persist() {
                m.store
                    .append_unsynced(batch.first_index, &batch.leaves, batch.snapshot)
                    .with_context(|| format!("storing member {i}'s entries"))?;
            }
            m.node.persisted(m.store.len());
            if m.store.len() >= m.archived_at + 4096 {
                while m.store.archive_step().with_context(|| format!("archiving member {i}'s entries"))? {}
                m.archived_at = m.store.len();
            }
            while let Some(transmit) = m.node.poll_transmit() {
                wire.push_back((i, transmit));
            }
            while let Some(event) = m.node.poll_event() {
                if let Event::NoticeReceived { id, ack_due_ms: Some(_), .. } = event {
                    m.owed.push_back((t + traffic.ack_after_ms, id));
                }
            }
        }
        if wire.is_empty() {
            return Ok(());
        }
        while let Some((from, transmit)) = wire.pop_front() {
            let Some(to) = ids.iter().position(|id| *id == transmit.to) else { continue };
            // A refusal is the peer's business (it is logged or answered); the generator goes on.
            let _ = members[to].node.handle_frame(t, ids[from], &transmit.frame);
        }
    }
    Err(anyhow!("the network did not settle at {t}"))
}
