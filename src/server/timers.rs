//! `Timers`: a deadline heap with lazy deletion. Each connection computes its own nearest
//! deadline; the heap only says when to look again, and stale entries are skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::server::token::ConnId;

/// Pending wake-ups for connections.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    /// Asks to look at `conn` at `at`.
    pub fn schedule(&mut self, at: Instant, conn: ConnId) {
        self.heap.push(Reverse((at, conn.slot, conn.generation)));
    }

    /// The earliest wake-up.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the connections whose wake-up is due.
    pub fn due(&mut self, now: Instant) -> Vec<ConnId> {
        let mut out = Vec::new();
        while let Some(Reverse((at, slot, generation))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            out.push(ConnId { slot, generation });
        }
        out
    }
}
