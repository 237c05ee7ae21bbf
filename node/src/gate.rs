//! Admission of incoming QUIC handshakes (spec §11.1): what an outsider holding no key can make a
//! node spend is bounded here, before any TLS work or connection state.
//!
//! Sources whose address QUIC has not validated get a stateless Retry from the transport and cost
//! nothing else. A validated source then needs a *slot*: at most [`MAX_HANDSHAKES`] handshakes
//! run at once, at most [`MAX_PER_SOURCE`] from one IP address, and each address may start
//! [`RATE_PER_SOURCE`] a second (a token bucket with a burst of [`BURST_PER_SOURCE`]).
//! [`MEMBER_SLOTS`] further slots are kept for addresses the roster lists, so a flood from
//! elsewhere cannot lock the members out; an address that several members share (a test network
//! on one machine, members behind one NAT) gets the per-source limits once for each of them. That is a preference, never trust: a member's address
//! is as easy to spoof as any other, so those handshakes pass the same Retry, the same per-source
//! limits and the same key check.
//!
//! Refusals are counted and reported at most once per [`REPORT_EVERY`], so a flood cannot fill
//! the log either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Handshakes in progress at once from addresses outside the roster.
pub const MAX_HANDSHAKES: usize = 32;
/// Further handshakes in progress at once, for addresses the roster lists.
pub const MEMBER_SLOTS: usize = 8;
/// Handshakes in progress at once from one IP address.
pub const MAX_PER_SOURCE: usize = 4;
/// Handshakes one IP address may start per second, on average.
pub const RATE_PER_SOURCE: f64 = 5.0;
/// Handshakes one IP address may start at once after a quiet spell.
pub const BURST_PER_SOURCE: f64 = 10.0;
/// Sources whose rate is remembered; beyond this the idle ones are forgotten first.
pub const MAX_SOURCES: usize = 4096;
/// At most one log line about refused handshakes per this interval.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Why a handshake was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// All slots are taken.
    Busy,
    /// This address already has [`MAX_PER_SOURCE`] handshakes in progress.
    SourceBusy,
    /// This address started too many handshakes recently.
    SourceRate,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    running: usize,
}

#[derive(Default)]
struct Counts {
    busy: u64,
    source_busy: u64,
    source_rate: u64,
    retried: u64,
    failed: u64,
}

struct State {
    running: usize,
    running_members: usize,
    sources: HashMap<IpAddr, Bucket>,
    counts: Counts,
    reported: Option<Instant>,
}

/// The admission state of one node, shared by its accept loop and the handshakes it started.
#[derive(Clone)]
pub struct Gate {
    /// The addresses the roster lists, with how many members list each.
    members: Arc<HashMap<IpAddr, usize>>,
    state: Arc<Mutex<State>>,
}

/// A handshake's slot; dropping it (when the handshake ends, however) frees the slot.
pub struct Slot {
    gate: Gate,
    source: IpAddr,
    /// Whether the slot is one of the [`MEMBER_SLOTS`].
    reserved: bool,
}

impl Gate {
    /// A gate that favours the given addresses (those the roster lists).
    pub fn new(members: impl IntoIterator<Item = IpAddr>) -> Gate {
        let mut counts = HashMap::new();
        for ip in members {
            *counts.entry(ip).or_insert(0) += 1;
        }
        Gate {
            members: Arc::new(counts),
            state: Arc::new(Mutex::new(State {
                running: 0,
                running_members: 0,
                sources: HashMap::new(),
                counts: Counts::default(),
                reported: None,
            })),
        }
    }

    /// Asks for a slot for a handshake from `source` at `now`.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Result<Slot, Refusal> {
        let mut guard = self.state.lock().map_err(|_| Refusal::Busy)?;
        let state = &mut *guard;
        let share = self.members.get(&source).copied().unwrap_or(0);
        let result = admit(state, source, share, now);
        match result {
            Ok(reserved) => Ok(Slot { gate: self.clone(), source, reserved }),
            Err(refusal) => {
                match refusal {
                    Refusal::Busy => state.counts.busy += 1,
                    Refusal::SourceBusy => state.counts.source_busy += 1,
                    Refusal::SourceRate => state.counts.source_rate += 1,
                }
                Err(refusal)
            }
        }
    }

    /// Counts a source sent a Retry (its address not yet validated).
    pub fn retried(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.counts.retried += 1;
        }
    }

    /// Counts an admitted handshake that failed or timed out.
    pub fn failed(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.counts.failed += 1;
        }
    }

    /// The refusals since the last report, if any and if a report is due at `now`; resets them.
    pub fn report(&self, now: Instant) -> Option<String> {
        let mut state = self.state.lock().ok()?;
        if state.reported.is_some_and(|at| now.duration_since(at) < REPORT_EVERY) {
            return None;
        }
        let c = std::mem::take(&mut state.counts);
        if c.busy + c.source_busy + c.source_rate + c.failed == 0 && c.retried < 100 {
            return None;
        }
        state.reported = Some(now);
        Some(format!(
            "incoming handshakes since the last report: {} sent a Retry, {} refused (all slots busy), {} refused (too many from one address at once), {} refused (too many from one address per second), {} failed or timed out; {} in progress",
            c.retried, c.busy, c.source_busy, c.source_rate, c.failed, state.running + state.running_members
        ))
    }

    /// Handshakes in progress.
    pub fn running(&self) -> usize {
        self.state.lock().map_or(0, |s| s.running + s.running_members)
    }
}

/// Takes a slot for `source`, which `share` roster members list (0: an outsider); says whether it
/// is one of the reserved ones.
fn admit(state: &mut State, source: IpAddr, share: usize, now: Instant) -> Result<bool, Refusal> {
    let member = share > 0;
    let scale = share.max(1);
    let (used, cap) = if member {
        // A member's address may use the shared slots too, then its own.
        (state.running + state.running_members, MAX_HANDSHAKES + MEMBER_SLOTS)
    } else {
        (state.running, MAX_HANDSHAKES)
    };
    if used >= cap {
        return Err(Refusal::Busy);
    }
    if state.sources.len() >= MAX_SOURCES && !state.sources.contains_key(&source) {
        forget_idle(state, now);
        if state.sources.len() >= MAX_SOURCES {
            return Err(Refusal::Busy);
        }
    }
    let burst = BURST_PER_SOURCE * scale as f64;
    let bucket = state.sources.entry(source).or_insert(Bucket { tokens: burst, at: now, running: 0 });
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * RATE_PER_SOURCE * scale as f64).min(burst);
    bucket.at = now;
    if bucket.running >= MAX_PER_SOURCE * scale {
        return Err(Refusal::SourceBusy);
    }
    if bucket.tokens < 1.0 {
        return Err(Refusal::SourceRate);
    }
    bucket.tokens -= 1.0;
    bucket.running += 1;
    let reserved = member && state.running >= MAX_HANDSHAKES;
    if reserved {
        state.running_members += 1;
    } else {
        state.running += 1;
    }
    Ok(reserved)
}

/// Forgets sources with nothing running whose bucket has refilled: they are indistinguishable
/// from sources never seen.
fn forget_idle(state: &mut State, now: Instant) {
    let full = Duration::from_secs_f64(BURST_PER_SOURCE / RATE_PER_SOURCE);
    state.sources.retain(|_, b| b.running > 0 || now.saturating_duration_since(b.at) < full);
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Ok(mut state) = self.gate.state.lock() else { return };
        if self.reserved {
            state.running_members = state.running_members.saturating_sub(1);
        } else {
            state.running = state.running.saturating_sub(1);
        }
        if let Some(bucket) = state.sources.get_mut(&self.source) {
            bucket.running = bucket.running.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn one_source_gets_at_most_its_share_at_once() {
        let gate = Gate::new([]);
        let t = Instant::now();
        let slots: Vec<Slot> = (0..MAX_PER_SOURCE).map(|_| gate.admit(ip(1), t).unwrap()).collect();
        assert_eq!(gate.admit(ip(1), t).err(), Some(Refusal::SourceBusy));
        assert!(gate.admit(ip(2), t).is_ok(), "another source is not affected");
        drop(slots);
        assert!(gate.admit(ip(1), t).is_ok(), "dropped slots are free again");
    }

    #[test]
    fn one_source_is_rate_limited_and_refills() {
        let gate = Gate::new([]);
        let t = Instant::now();
        for _ in 0..BURST_PER_SOURCE as usize {
            drop(gate.admit(ip(1), t).unwrap());
        }
        assert_eq!(gate.admit(ip(1), t).err(), Some(Refusal::SourceRate));
        let later = t + Duration::from_secs_f64(1.0 / RATE_PER_SOURCE);
        assert!(gate.admit(ip(1), later).is_ok(), "a token came back");
    }

    #[test]
    fn a_flood_from_many_sources_leaves_the_members_slots() {
        let member = ip(200);
        let gate = Gate::new([member]);
        let t = Instant::now();
        let mut held = Vec::new();
        for i in 0..MAX_HANDSHAKES {
            held.push(gate.admit(IpAddr::from([198, 51, (i / 250) as u8, (i % 250) as u8]), t).unwrap());
        }
        assert_eq!(gate.admit(ip(3), t).err(), Some(Refusal::Busy), "outsiders are refused when full");
        let member_slots: Vec<Slot> = (0..MAX_PER_SOURCE).map(|_| gate.admit(member, t).unwrap()).collect();
        assert_eq!(gate.running(), MAX_HANDSHAKES + MAX_PER_SOURCE);
        drop(member_slots);
        drop(held);
        assert_eq!(gate.running(), 0, "every slot is returned");
    }

    #[test]
    fn an_address_several_members_share_gets_a_share_for_each() {
        let shared = ip(100);
        let gate = Gate::new([shared, shared, shared]);
        let t = Instant::now();
        let slots: Vec<Slot> = (0..3 * MAX_PER_SOURCE).map(|_| gate.admit(shared, t).unwrap()).collect();
        assert_eq!(gate.admit(shared, t).err(), Some(Refusal::SourceBusy));
        drop(slots);
    }

    #[test]
    fn remembered_sources_are_bounded() {
        let gate = Gate::new([]);
        let t = Instant::now();
        for i in 0..(MAX_SOURCES + 10) as u32 {
            let _ = gate.admit(IpAddr::from(i.to_be_bytes()), t);
        }
        assert!(gate.state.lock().unwrap().sources.len() <= MAX_SOURCES);
        // Once their buckets have refilled, new sources are admitted again.
        let later = t + Duration::from_secs(10);
        assert!(gate.admit(IpAddr::from([203, 0, 113, 1]), later).is_ok());
    }

    #[test]
    fn refusals_are_reported_at_most_once_per_interval() {
        let gate = Gate::new([]);
        let t = Instant::now();
        assert!(gate.report(t).is_none(), "nothing to report");
        let _held: Vec<Slot> = (0..MAX_PER_SOURCE).map(|_| gate.admit(ip(1), t).unwrap()).collect();
        for _ in 0..1000 {
            let _ = gate.admit(ip(1), t);
        }
        let line = gate.report(t).unwrap();
        assert!(line.contains("1000 refused (too many from one address at once)"), "{line}");
        let _ = gate.admit(ip(1), t);
        assert!(gate.report(t + Duration::from_secs(1)).is_none(), "not again within the interval");
        assert!(gate.report(t + REPORT_EVERY).is_some());
    }
}
