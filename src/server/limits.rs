//! Every limit of the server and its default, in one place. README's "Limits" table mirrors
//! this file.

use std::time::Duration;

/// Bounds on what one client (or all of them) can make the server hold or wait for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest command line, CRLF excluded (over it: 500, line discarded).
    pub max_line: usize,
    /// Control input buffered per session while it is busy (then the socket is not read).
    pub max_pending_input: usize,
    /// Reply bytes buffered per session for a client that does not read (then no more lines
    /// are taken).
    pub max_pending_output: usize,
    /// Concurrent control connections (`--max-connections`); more get 421 and are closed.
    pub max_sessions: usize,
    /// A logged-in session with no command for this long is closed with 421 (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// A session not logged in this long after connecting is closed (`--login-timeout`).
    pub login_timeout: Duration,
    /// How long a transfer waits for its data connection, an unclaimed passive port stays
    /// open, and a transfer may make no progress (`--data-timeout`).
    pub data_timeout: Duration,
    /// Failed logins before the session is closed with 421.
    pub max_login_failures: u32,
    /// On SIGINT/SIGTERM, how long transfers in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Worker threads for disk I/O.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 4096,
            max_pending_input: 64 * 1024,
            max_pending_output: 256 * 1024,
            max_sessions: 10_000,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(60),
            max_login_failures: 5,
            shutdown_grace: Duration::from_secs(10),
            workers: 8,
        }
    }
}
