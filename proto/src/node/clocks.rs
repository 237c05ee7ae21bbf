//! The node's two clocks (spec §6.9, "One's own clock").
//!
//! Signed times, log times and deadlines are on the **wall clock** (UTC ms): they must mean the
//! same to every party. Timers — retransmission, heartbeats, link tests, silence, gap checks,
//! checkpoints — run on a **monotonic clock**, which never jumps: a wall clock stepped back by an
//! hour must not stall retransmission for an hour, and one stepped forward must not make every
//! link look silent at once. Each reading carries both; comparing how far each moved since the
//! previous reading reveals a step of the wall clock, which the node records.

/// One reading of both clocks, as the I/O layer hands it to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Now {
    /// The wall clock: UTC ms since the Unix epoch.
    pub wall_ms: u64,
    /// A monotonic clock in ms from any origin (for example the process's start): never
    /// decreases while the node runs. Only differences of it are meaningful.
    pub mono_ms: u64,
}

impl Now {
    /// A reading of both clocks.
    pub fn new(wall_ms: u64, mono_ms: u64) -> Now {
        Now { wall_ms, mono_ms }
    }
}

impl From<u64> for Now {
    /// A wall clock that never steps, read as both clocks: for tests and tools that drive a node
    /// on one timeline.
    fn from(ms: u64) -> Now {
        Now { wall_ms: ms, mono_ms: ms }
    }
}

/// The last reading, and what a new one says about the wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Clocks {
    last: Option<Now>,
}

/// A wall-clock step: where the monotonic clock said the wall clock should be, and where it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Step {
    pub expected_ms: u64,
    pub observed_ms: u64,
}

impl Clocks {
    /// Takes a reading. The monotonic clock is held to never decrease (an I/O layer's bug or a
    /// fuzzer's input must not run timers backwards). Returns the reading as used, and a step of
    /// the wall clock by more than `tolerance_ms` since the previous reading, if there was one.
    pub(super) fn read(&mut self, now: Now, tolerance_ms: u64) -> (Now, Option<Step>) {
        let Some(last) = self.last else {
            self.last = Some(now);
            return (now, None);
        };
        let now = Now { mono_ms: now.mono_ms.max(last.mono_ms), ..now };
        let expected_ms = last.wall_ms.saturating_add(now.mono_ms - last.mono_ms);
        let step = (expected_ms.abs_diff(now.wall_ms) > tolerance_ms)
            .then_some(Step { expected_ms, observed_ms: now.wall_ms });
        self.last = Some(now);
        (now, step)
    }
}

#[cfg(test)]
mod tests {
    use super::{Clocks, Now, Step};

    #[test]
    fn a_wall_clock_step_is_seen_either_way_and_drift_is_not() {
        let mut c = Clocks::default();
        assert_eq!(c.read(Now::new(1_000_000, 5), 2_000).1, None);
        // 30 s later on both clocks, 10 ms of drift: no step.
        assert_eq!(c.read(Now::new(1_030_010, 30_005), 2_000).1, None);
        // The wall clock jumps an hour ahead.
        let step = c.read(Now::new(1_030_010 + 3_600_000 + 1_000, 31_005), 2_000).1;
        assert_eq!(step, Some(Step { expected_ms: 1_031_010, observed_ms: 4_631_010 }));
        // And back.
        let step = c.read(Now::new(1_032_010, 32_005), 2_000).1;
        assert_eq!(step, Some(Step { expected_ms: 4_632_010, observed_ms: 1_032_010 }));
    }

    #[test]
    fn the_monotonic_clock_never_runs_backwards() {
        let mut c = Clocks::default();
        c.read(Now::new(1_000, 500), 0);
        let (used, step) = c.read(Now::new(1_000, 100), 0);
        assert_eq!(used, Now::new(1_000, 500));
        assert_eq!(step, None, "no time passed on either clock");
    }
}
