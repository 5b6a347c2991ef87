//! `LoginFailures`: failed logins counted per client IP across sessions, so reconnecting does
//! not reset the growing delay. Entries fade after `FORGET_AFTER` without failures; the table is
//! bounded, and when full the stalest entries are dropped.

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
    table: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl LoginFailures {
    /// Records a failure from `ip`; returns that IP's count of recent failures, this one included.
    pub fn record(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut t = self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() >= MAX_TRACKED && !t.contains_key(&ip) {
            t.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
            if t.len() >= MAX_TRACKED {
                t.clear();
            }
        }
        let entry = t.entry(ip).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        entry.0
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
        assert_eq!(f.record(a, t0), 1);
        assert_eq!(f.record(a, t0), 2);
        assert_eq!(f.record(b, t0), 1);
        assert_eq!(f.record(a, t0 + FORGET_AFTER), 1, "faded");
        f.clear(a);
        assert_eq!(f.record(a, t0), 1);
    }
}
