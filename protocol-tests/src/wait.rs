//! Waiting on a condition with a deadline, never a bare sleep.

use std::time::{Duration, Instant};

/// Polls `condition` every 10 ms until it returns true; panics with `what` (at the caller's
/// line) if `timeout` passes first.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
