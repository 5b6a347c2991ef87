//! `Stats`: what the server has done since it started, for rc `core/stats`.

use std::time::Instant;

use crate::data::TransferOutcome;

/// Counters kept by the reactor.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// When the server started.
    pub started: Instant,
    /// File transfers (RETR, STOR, APPE, STOU) that completed.
    pub transfers: u64,
    /// File transfers that failed or were aborted.
    pub errors: u64,
    /// Bytes of files moved on data connections (completed or not).
    pub bytes: u64,
    /// Control connections accepted.
    pub sessions: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats { started: Instant::now(), transfers: 0, errors: 0, bytes: 0, sessions: 0 }
    }
}

impl Stats {
    /// Counts one finished file transfer that moved `bytes`.
    pub fn file_transfer(&mut self, outcome: &TransferOutcome, bytes: u64) {
        self.bytes += bytes;
        match outcome {
            TransferOutcome::Complete { .. } => self.transfers += 1,
            _ => self.errors += 1,
        }
    }
}
