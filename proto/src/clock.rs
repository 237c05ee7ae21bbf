//! The bounds on every time a peer signs (spec §6.9): the one home of the rule that a peer's
//! `created_ms`, `received_ms` and `acked_ms` are refused when they lie too far ahead of the
//! receiver's clock, or before any time this protocol could have produced.
//!
//! An *old* time is never refused for its age: a notice delivered after a long partition is
//! legitimate and must not be lost; its deadlines have simply passed, and the log and the
//! officer's screen say so. A time far in the *future* would show a countdown that never runs
//! (a notice "due in 0 s" for ever) and, once signed into logs, mislead every later reader.

use crate::error::{ErrorCode, Rejection};
use crate::roster::Policy;

/// No signed time of this protocol is earlier than 2024-01-01T00:00:00Z (UTC ms).
pub const TIME_FLOOR_MS: u64 = 1_704_067_200_000;

/// The least margin by which a peer's time may be ahead of the receiver's clock.
pub const MIN_FUTURE_MS: u64 = 60_000;

/// How far ahead of the receiver's clock a peer's signed time may be: ten times the policy's
/// `max_clock_skew_ms`, and at least [`MIN_FUTURE_MS`]. Skew below this is only recorded (§6.9).
pub fn future_limit_ms(policy: &Policy) -> u64 {
    policy.max_clock_skew_ms.saturating_mul(10).max(MIN_FUTURE_MS)
}

/// Refuses a peer's signed time `t` (the field `field`) that is before [`TIME_FLOOR_MS`] or more
/// than [`future_limit_ms`] ahead of `now`.
pub fn check_peer_time(field: &str, t: u64, now: u64, policy: &Policy) -> Result<(), Rejection> {
    if t < TIME_FLOOR_MS {
        return Err(Rejection::new(
            ErrorCode::TimeOutOfRange,
            format!(
                "{field} {t} is before {TIME_FLOOR_MS} (2024-01-01), earlier than any time of this protocol"
            ),
        ));
    }
    let limit = future_limit_ms(policy);
    if t > now.saturating_add(limit) {
        return Err(Rejection::new(
            ErrorCode::TimeOutOfRange,
            format!(
                "{field} is {} ms ahead of this node's clock, more than the {limit} ms allowed; the sender's clock is wrong",
                t - now
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn a_little_ahead_passes_far_ahead_is_refused() {
        let policy = Policy::default();
        let limit = future_limit_ms(&policy);
        assert_eq!(limit, MIN_FUTURE_MS.max(10 * policy.max_clock_skew_ms));
        assert!(check_peer_time("created_ms", NOW + limit, NOW, &policy).is_ok());
        let e = check_peer_time("created_ms", NOW + limit + 1, NOW, &policy).unwrap_err();
        assert_eq!(e.code, ErrorCode::TimeOutOfRange);
        assert!(check_peer_time("created_ms", u64::MAX, NOW, &policy).is_err());
        assert!(check_peer_time("created_ms", u64::MAX, u64::MAX, &policy).is_ok(), "no overflow");
    }

    #[test]
    fn old_times_pass_times_before_the_floor_do_not() {
        let policy = Policy::default();
        assert!(check_peer_time("created_ms", TIME_FLOOR_MS, NOW, &policy).is_ok(), "a year-old notice");
        assert!(check_peer_time("created_ms", TIME_FLOOR_MS - 1, NOW, &policy).is_err());
        assert!(check_peer_time("created_ms", 0, NOW, &policy).is_err());
    }
}
