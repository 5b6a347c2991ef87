//! `Counters`: what the sessions count for `/metrics` (logins by result, commands by verb,
//! deletions and renames, as rclone's `rclone_files_deleted_total` and friends),
//! shared by every session through `Shared`, lock-free.

use std::sync::atomic::{AtomicU64, Ordering};

/// The verbs counted, as `Command::verb` spells them.
pub const VERBS: [&str; 46] = [
    "ABOR", "ACCT", "ALLO", "APPE", "AUTH", "AVBL", "CCC", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP",
    "LIST", "MDTM", "MKD", "MFMT", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PROT",
    "PORT", "PWD", "QUIT", "REST", "RETR", "RMD", "RNFR", "RNTO", "SIZE", "STAT", "STOR", "STOU", "STRU", "SYST",
    "TYPE", "USER", "", "",
];

/// Counters moved by sessions.
#[derive(Debug)]
pub struct Counters {
    /// Logins accepted.
    pub logins_ok: AtomicU64,
    /// Logins refused (wrong password, refused by the auth proxy).
    pub logins_failed: AtomicU64,
    /// Files deleted (DELE that succeeded).
    pub files_deleted: AtomicU64,
    /// Directories removed (RMD that succeeded).
    pub dirs_deleted: AtomicU64,
    /// Renames that succeeded (RNTO), files and directories.
    pub files_renamed: AtomicU64,
    commands: [AtomicU64; VERBS.len()],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            logins_ok: AtomicU64::new(0),
            logins_failed: AtomicU64::new(0),
            files_deleted: AtomicU64::new(0),
            dirs_deleted: AtomicU64::new(0),
            files_renamed: AtomicU64::new(0),
            commands: [const { AtomicU64::new(0) }; VERBS.len()],
        }
    }
}

impl Counters {
    /// Adds one to `counter` when a job succeeded.
    pub fn count_success<T, E>(&self, result: &Result<T, E>, counter: &AtomicU64) {
        if result.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one parsed command.
    pub fn command(&self, verb: &str) {
        if let Some(i) = VERBS.iter().position(|v| !v.is_empty() && *v == verb) {
            self.commands[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every verb counted at least once, with its count.
    pub fn commands(&self) -> Vec<(&'static str, u64)> {
        VERBS
            .iter()
            .zip(&self.commands)
            .map(|(v, n)| (*v, n.load(Ordering::Relaxed)))
            .filter(|(v, n)| !v.is_empty() && *n > 0)
            .collect()
    }
}
