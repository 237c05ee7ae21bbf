//! Officers' sessions and the guards around logging in (spec §16.3): a random token in an
//! `HttpOnly`, `Secure`, `SameSite=Strict` cookie, a CSRF token per session that every form
//! carries, an idle and an absolute expiry, and failed log-ins limited per call sign and per
//! client address. Everything here is bounded: at most [`MAX_SESSIONS`] sessions and
//! [`MAX_TRACKED`] tracked failures, the oldest dropped first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::RngCore;

/// Sessions open at once; one more ends the longest idle.
pub const MAX_SESSIONS: usize = 256;
/// Call signs and addresses whose failures are remembered at once.
pub const MAX_TRACKED: usize = 4096;
/// Failed log-ins allowed per call sign in [`FAILURE_WINDOW`]; then it is locked until the
/// window after the last failure has passed.
pub const MAX_FAILURES_PER_OFFICER: u32 = 5;
/// Failed log-ins allowed per client address in [`FAILURE_WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// How long failures are remembered.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long sessions live.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Without a request (an open board asks every 30 s, so an officer watching is not logged
    /// out; one who walked away is).
    pub idle: Duration,
    /// At most, whatever happens: a watch's length.
    pub absolute: Duration,
}

impl Default for Lifetimes {
    fn default() -> Lifetimes {
        Lifetimes { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(12 * 3600) }
    }
}

/// A logged-in officer.
#[derive(Clone, Debug)]
pub struct Session {
    /// The officer's call sign: what acknowledgements and releases carry.
    pub call_sign: String,
    /// The token every form must carry.
    pub csrf: String,
    /// The language of the officer's screens.
    pub language: String,
    created: Instant,
    seen: Instant,
}

/// Every open session, by cookie token.
pub struct Sessions {
    open: HashMap<String, Session>,
    lifetimes: Lifetimes,
}

/// 32 random bytes, hex: a session token or a CSRF token.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hotline_proto::hex::encode(&bytes)
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// No sessions yet.
    pub fn new(lifetimes: Lifetimes) -> Sessions {
        Sessions { open: HashMap::new(), lifetimes }
    }

    /// Opens a session for `call_sign`; returns its cookie token.
    pub fn open(&mut self, call_sign: &str, language: &str, now: Instant) -> String {
        self.expire(now);
        if self.open.len() >= MAX_SESSIONS {
            if let Some(oldest) = self.open.iter().min_by_key(|(_, s)| s.seen).map(|(t, _)| t.clone()) {
                self.open.remove(&oldest);
            }
        }
        let id = token();
        let session = Session {
            call_sign: call_sign.to_string(),
            csrf: token(),
            language: language.to_string(),
            created: now,
            seen: now,
        };
        self.open.insert(id.clone(), session);
        id
    }

    /// The live session of `token`, its idle time reset.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<Session> {
        let lifetimes = self.lifetimes;
        let session = self.open.get_mut(token)?;
        if now.duration_since(session.seen) > lifetimes.idle
            || now.duration_since(session.created) > lifetimes.absolute
        {
            self.open.remove(token);
            return None;
        }
        session.seen = now;
        Some(session.clone())
    }

    /// The language of a session, without counting it as activity.
    pub fn peek(&self, token: &str) -> Option<String> {
        self.open.get(token).map(|s| s.language.clone())
    }

    /// Changes a session's language.
    pub fn set_language(&mut self, token: &str, language: &str) {
        if let Some(s) = self.open.get_mut(token) {
            s.language = language.to_string();
        }
    }

    /// Ends a session.
    pub fn close(&mut self, token: &str) {
        self.open.remove(token);
    }

    /// Ends every session of an officer who is no longer one.
    pub fn close_officer(&mut self, call_sign: &str) {
        self.open.retain(|_, s| s.call_sign != call_sign);
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        let l = self.lifetimes;
        self.open.retain(|_, s| {
            now.duration_since(s.seen) <= l.idle && now.duration_since(s.created) <= l.absolute
        });
    }
}

/// Failed log-ins, per call sign and per client address.
#[derive(Default)]
pub struct Limiter {
    officers: HashMap<String, Failures>,
    addresses: HashMap<IpAddr, Failures>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Why a log-in is not even tried.
#[derive(Debug, PartialEq, Eq)]
pub enum Locked {
    /// Too many failures for this call sign: wait this long.
    Officer(Duration),
    /// Too many failures from this address: wait this long.
    Address(Duration),
}

impl Limiter {
    /// Whether a log-in as `call_sign` from `from` may be tried now.
    pub fn check(&mut self, call_sign: &str, from: IpAddr, now: Instant) -> Result<(), Locked> {
        self.forget(now);
        let wait = |f: &Failures| FAILURE_WINDOW.saturating_sub(now.duration_since(f.last));
        if let Some(f) = self.officers.get(call_sign).filter(|f| f.count >= MAX_FAILURES_PER_OFFICER) {
            return Err(Locked::Officer(wait(f)));
        }
        if let Some(f) = self.addresses.get(&from).filter(|f| f.count >= MAX_FAILURES_PER_ADDRESS) {
            return Err(Locked::Address(wait(f)));
        }
        Ok(())
    }

    /// Records a failed log-in.
    pub fn failed(&mut self, call_sign: &str, from: IpAddr, now: Instant) {
        if self.officers.len() >= MAX_TRACKED {
            evict(&mut self.officers);
        }
        if self.addresses.len() >= MAX_TRACKED {
            evict(&mut self.addresses);
        }
        let bump = |f: &mut Failures| {
            f.count = f.count.saturating_add(1);
            f.last = now;
        };
        bump(self.officers.entry(call_sign.to_string()).or_insert(Failures { count: 0, last: now }));
        bump(self.addresses.entry(from).or_insert(Failures { count: 0, last: now }));
    }

    /// A successful log-in clears the call sign's failures (not the address's).
    pub fn succeeded(&mut self, call_sign: &str) {
        self.officers.remove(call_sign);
    }

    fn forget(&mut self, now: Instant) {
        self.officers.retain(|_, f| now.duration_since(f.last) < FAILURE_WINDOW);
        self.addresses.retain(|_, f| now.duration_since(f.last) < FAILURE_WINDOW);
    }
}

fn evict<K: Clone + std::hash::Hash + Eq>(map: &mut HashMap<K, Failures>) {
    if let Some(oldest) = map.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone()) {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_at_the_end_of_a_watch() {
        let lifetimes = Lifetimes { idle: Duration::from_secs(60), absolute: Duration::from_secs(300) };
        let mut sessions = Sessions::new(lifetimes);
        let t0 = Instant::now();
        let token = sessions.open("duty-1", "en", t0);
        assert!(sessions.touch(&token, t0 + Duration::from_secs(50)).is_some());
        assert!(sessions.touch(&token, t0 + Duration::from_secs(100)).is_some(), "touched at 50 s");
        assert!(sessions.touch(&token, t0 + Duration::from_secs(161)).is_none(), "idle 61 s");
        let token = sessions.open("duty-1", "en", t0);
        for s in (30..=300).step_by(30) {
            assert!(sessions.touch(&token, t0 + Duration::from_secs(s)).is_some(), "{s}");
        }
        assert!(sessions.touch(&token, t0 + Duration::from_secs(301)).is_none(), "a whole watch");
        assert!(sessions.touch("forged", t0).is_none());
    }

    #[test]
    fn sessions_are_bounded_and_end_with_their_officer() {
        let mut sessions = Sessions::new(Lifetimes::default());
        let t0 = Instant::now();
        let first = sessions.open("a", "en", t0);
        for i in 1..=MAX_SESSIONS {
            sessions.open("b", "en", t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.touch(&first, t0 + Duration::from_secs(1)).is_none(), "the longest idle went");
        sessions.close_officer("b");
        assert!(sessions.is_empty());
    }

    #[test]
    fn failed_log_ins_lock_a_call_sign_then_an_address() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_OFFICER {
            assert_eq!(limiter.check("duty-1", here, t0), Ok(()));
            limiter.failed("duty-1", here, t0);
        }
        assert!(matches!(limiter.check("duty-1", here, t0), Err(Locked::Officer(_))));
        assert_eq!(limiter.check("duty-2", here, t0), Ok(()), "another call sign is not locked");
        assert_eq!(limiter.check("duty-1", here, t0 + FAILURE_WINDOW), Ok(()), "the lock ends");
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.failed(&format!("guess-{i}"), here, t0);
        }
        assert!(matches!(limiter.check("duty-9", here, t0), Err(Locked::Address(_))));
        let elsewhere: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(limiter.check("duty-9", elsewhere, t0), Ok(()));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert_eq!(token().len(), 64);
        assert_ne!(token(), token());
    }
}
