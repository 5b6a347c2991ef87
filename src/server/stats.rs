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
    /// Transfers by direction and outcome: `[upload, download][complete, failed]`.
    pub by_direction: [[u64; 2]; 2],
    /// Bytes moved by direction: `[upload, download]`.
    pub bytes_by_direction: [u64; 2],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            transfers: 0,
            errors: 0,
            bytes: 0,
            sessions: 0,
            by_direction: [[0; 2]; 2],
            bytes_by_direction: [0; 2],
        }
    }
}

impl Stats {
    /// Counts one finished file transfer that moved `bytes` (an upload when `upload`).
    pub fn file_transfer(&mut self, outcome: &TransferOutcome, bytes: u64, upload: bool) {
        self.bytes += bytes;
        let direction = usize::from(!upload);
        self.bytes_by_direction[direction] += bytes;
        let complete = matches!(outcome, TransferOutcome::Complete { .. });
        if complete {
            self.transfers += 1;
        } else {
            self.errors += 1;
        }
        self.by_direction[direction][usize::from(!complete)] += 1;
    }
}
