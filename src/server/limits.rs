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
    /// Concurrent control connections from one IP address (`--max-connections-per-ip`);
    /// 0 means only `max_sessions` applies.
    pub max_sessions_per_ip: usize,
    /// Failed logins from one IP (across sessions, within 15 minutes) before it is banned
    /// (`--ban-after`); 0 disables the ban.
    pub ban_after: u32,
    /// How long a banned IP's new connections get 421 (`--ban-time`).
    pub ban_time: Duration,
    /// Unknown commands, or refused commands before login, before the session is closed with
    /// 421 (`--max-bad-commands`): defeats cross-protocol attacks (an HTTP request sent to
    /// the FTP port) as vsftpd does.
    pub max_bad_commands: u32,
    /// Most entries in one listing (`--max-list-entries`); a larger directory gets 550 rather
    /// than a truncated listing (which a sync tool could take as "the rest was deleted").
    pub max_list_entries: usize,
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
            max_sessions_per_ip: 0,
            ban_after: 20,
            ban_time: Duration::from_secs(60),
            max_bad_commands: 10,
            max_list_entries: 500_000,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(60),
            max_login_failures: 5,
            shutdown_grace: Duration::from_secs(10),
            workers: 8,
        }
    }
}
