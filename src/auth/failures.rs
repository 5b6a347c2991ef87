//! `LoginFailures`: failed logins counted per client IP across sessions, so reconnecting does
//! not reset the growing delay, and an IP that keeps failing is banned for a while (its new
//! connections get 421 at once). Entries fade after `FORGET_AFTER` without failures; the table
//! is bounded, and when full the stalest entries are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An IP's count is forgotten this long after its last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most IPs tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// Failed-login counts per IP; shared by all sessions.
#[derive(Debug, Default)]
pub struct LoginFailures {
    table: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    banned_until: Option<Instant>,
}

impl LoginFailures {
    /// Records a failure from `ip`; returns that IP's count of recent failures, this one
    /// included. When the count reaches `ban_after` (if not 0), the IP is banned for `ban_time`.
    pub fn record(&self, ip: IpAddr, now: Instant, ban_after: u32, ban_time: Duration) -> u32 {
        let mut t = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() >= MAX_TRACKED && !t.contains_key(&ip) {
            t.retain(|_, e| now.duration_since(e.last) < FORGET_AFTER || e.banned_until.is_some_and(|b| b > now));
            if t.len() >= MAX_TRACKED {
                t.clear();
            }
        }
        let e = t.entry(ip).or_insert(Entry { failures: 0, last: now, banned_until: None });
        if now.duration_since(e.last) >= FORGET_AFTER {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        let count = e.failures;
        if ban_after > 0 && e.failures >= ban_after && e.banned_until.is_none_or(|b| b <= now) {
            log::warn!("{ip}: banned for {} s after {} failed logins", ban_time.as_secs(), e.failures);
            e.banned_until = Some(now + ban_time);
            // The next failure after the ban starts a new count.
            e.failures = 0;
        }
        count
    }

    /// Whether `ip` is banned now.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        let t = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        t.get(&ip).and_then(|e| e.banned_until).is_some_and(|b| b > now)
    }

    /// Forgets `ip` after a successful login.
    pub fn clear(&self, ip: IpAddr) {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_ip_fade_and_clear() {
        let f = LoginFailures::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        let ban = Duration::from_secs(60);
        assert_eq!(f.record(a, t0, 0, ban), 1);
        assert_eq!(f.record(a, t0, 0, ban), 2);
        assert_eq!(f.record(b, t0, 0, ban), 1);
        assert_eq!(f.record(a, t0 + FORGET_AFTER, 0, ban), 1, "faded");
        f.clear(a);
        assert_eq!(f.record(a, t0, 0, ban), 1);
        assert!(!f.is_banned(a, t0));
    }

    #[test]
    fn repeated_failures_ban_an_ip_for_a_while() {
        let f = LoginFailures::default();
        let ip = IpAddr::from([10, 0, 0, 9]);
        let t0 = Instant::now();
        let ban = Duration::from_secs(60);
        for _ in 0..2 {
            f.record(ip, t0, 3, ban);
        }
        assert!(!f.is_banned(ip, t0));
        f.record(ip, t0, 3, ban);
        assert!(f.is_banned(ip, t0));
        assert!(f.is_banned(ip, t0 + Duration::from_secs(59)));
        assert!(!f.is_banned(ip, t0 + ban));
        assert!(!f.is_banned(IpAddr::from([10, 0, 0, 8]), t0));
    }
}
