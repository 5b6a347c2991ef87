//! The worker pool: a fixed set of threads that run blocking VFS work (`Task`) and send the
//! results (`Completion`) back to the reactor, waking it through `mio::Waker`.
//!
//! A job that panics (a bug) does not take its session down with it: the session gets an
//! `Other` error, or its transfer fails, and the worker carries on.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use mio::Waker;

use crate::backend::{Error, ErrorKind};
use crate::data::pump::{self, PumpDone, PumpTask};
use crate::server::token::ConnId;
use crate::session::jobs::{self, Job, JobResult};
use crate::vfs::Vfs;

/// Work for a worker.
pub enum Task {
    /// A session's VFS job.
    Session {
        /// For whom.
        conn: ConnId,
        /// What.
        job: Job,
        /// The session's file system (`None` before login).
        vfs: Option<Arc<Vfs>>,
    },
    /// Blocking work for an rc command (`vfs/refresh`).
    Rc {
        /// The rc connection slot.
        slot: usize,
        /// Its generation.
        generation: u64,
        /// What.
        work: crate::rc::commands::RcWork,
    },
    /// A transfer's file I/O.
    Pump {
        /// For whom.
        conn: ConnId,
        /// Which transfer.
        pump: u64,
        /// What.
        task: PumpTask,
    },
}

/// A finished task.
pub enum Completion {
    /// A session job's result.
    Session {
        /// For whom.
        conn: ConnId,
        /// The result.
        result: JobResult,
    },
    /// A transfer task's result.
    Pump {
        /// For whom.
        conn: ConnId,
        /// Which transfer.
        pump: u64,
        /// The result.
        done: PumpDone,
    },
    /// An rc command's work finished.
    Rc {
        /// The rc connection slot.
        slot: usize,
        /// Its generation.
        generation: u64,
        /// The answer, or the error message.
        result: Result<serde_json::Value, String>,
    },
    /// A transfer task panicked; its stream is lost.
    PumpFailed {
        /// For whom.
        conn: ConnId,
        /// Which transfer.
        pump: u64,
    },
}

/// The running pool. Dropping it lets the workers finish the queued tasks and exit.
pub struct Workers {
    queue: Arc<Queue>,
    _threads: Vec<JoinHandle<()>>,
}

/// The tasks waiting for a worker. One task wakes at most one sleeping worker, and none when
/// every worker is busy: a worker takes the next task itself when it finishes one. (A shared
/// `mpsc::Receiver` behind a mutex woke two threads per task: the one that received it, and
/// the next idle one, to wait in `recv` in its place.)
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    tasks: VecDeque<Task>,
    /// Workers waiting on `ready`.
    sleeping: usize,
    /// The pool is gone: workers exit.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether tasks wait for a worker.
    fn has_waiting(&self) -> bool {
        !self.lock().tasks.is_empty()
    }

    /// The next task, waiting for one; `None` once the pool is closed and every queued task
    /// has been taken (an abort queued at shutdown still runs).
    fn next(&self) -> Option<Task> {
        let mut state = self.lock();
        loop {
            if let Some(task) = state.tasks.pop_front() {
                return Some(task);
            }
            if state.closed {
                return None;
            }
            state.sleeping += 1;
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.sleeping -= 1;
        }
    }
}

impl Workers {
    /// Starts `n` workers; results go to `done` and each wakes `waker`.
    ///
    /// # Errors
    /// A thread could not be spawned.
    pub fn start(n: usize, done: Sender<Completion>, waker: Arc<Waker>) -> std::io::Result<Workers> {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState { tasks: VecDeque::new(), sleeping: 0, closed: false }),
            ready: Condvar::new(),
        });
        let mut threads = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let (queue, done, waker) = (queue.clone(), done.clone(), waker.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ftpvfs-worker-{i}"))
                    .stack_size(256 * 1024)
                    .spawn(move || worker_loop(&queue, &done, &waker))?,
            );
        }
        Ok(Workers { queue, _threads: threads })
    }

    /// Queues a task, waking a sleeping worker if no worker is free to take it.
    pub fn submit(&self, task: Task) {
        let wake = {
            let mut state = self.queue.lock();
            state.tasks.push_back(task);
            // Tasks queued ahead of this one have each woken a sleeper already.
            state.sleeping >= state.tasks.len()
        };
        if wake {
            self.queue.ready.notify_one();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

fn worker_loop(queue: &Queue, done: &Sender<Completion>, waker: &Waker) {
    while let Some(task) = queue.next() {
        let completion = match task {
            Task::Session { conn, job, vfs } => {
                let result = catch_unwind(AssertUnwindSafe(|| jobs::run(vfs.as_ref(), job))).unwrap_or_else(|_| {
                    log::error!("a worker job panicked");
                    Err(Error::with_detail(ErrorKind::Other, "", "Internal error"))
                });
                Some(Completion::Session { conn, result })
            }
            Task::Rc { slot, generation, work } => {
                let result = catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
                    log::error!("an rc task panicked");
                    Err("internal error".into())
                });
                Some(Completion::Rc { slot, generation, result })
            }
            Task::Pump { conn, pump, task } => {
                match catch_unwind(AssertUnwindSafe(|| pump::run_task(task, &|| queue.has_waiting()))) {
                    Ok(Some(d)) => Some(Completion::Pump { conn, pump, done: d }),
                    Ok(None) => None,
                    Err(_) => {
                        log::error!("a transfer task panicked");
                        Some(Completion::PumpFailed { conn, pump })
                    }
                }
            }
        };
        if let Some(c) = completion {
            if done.send(c).is_err() {
                return;
            }
            if let Err(e) = waker.wake() {
                log::error!("cannot wake the reactor: {e}");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn pool(n: usize) -> (Workers, mpsc::Receiver<Completion>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let (tx, rx) = mpsc::channel();
        (Workers::start(n, tx, waker).unwrap(), rx, poll)
    }

    fn task(slot: usize, work: impl FnOnce() -> Result<serde_json::Value, String> + Send + 'static) -> Task {
        Task::Rc { slot, generation: 0, work: Box::new(work) }
    }

    #[test]
    fn a_burst_larger_than_the_pool_is_run_once_each_even_while_workers_are_busy() {
        let (workers, done, _poll) = pool(3);
        // Two workers are held busy while a hundred tasks queue behind them.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        for slot in 0..2 {
            let r = release_rx.clone();
            workers.submit(task(1000 + slot, move || {
                let _ = r.lock().unwrap().recv();
                Ok(serde_json::Value::Null)
            }));
        }
        for slot in 0..100 {
            workers.submit(task(slot, move || Ok(serde_json::json!(slot))));
        }
        let mut seen = [false; 100];
        for _ in 0..100 {
            match done.recv_timeout(Duration::from_secs(10)).expect("a task was left in the queue") {
                Completion::Rc { slot, result, .. } => {
                    assert_eq!(result.unwrap(), serde_json::json!(slot));
                    assert!(!std::mem::replace(&mut seen[slot], true), "task {slot} ran twice");
                }
                _ => panic!("unexpected completion"),
            }
        }
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        for _ in 0..2 {
            assert!(matches!(done.recv_timeout(Duration::from_secs(10)).unwrap(), Completion::Rc { slot: 1000.., .. }));
        }
    }

    #[test]
    fn tasks_queued_when_the_pool_is_dropped_still_run() {
        let (workers, done, _poll) = pool(1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        workers.submit(task(0, move || {
            let _ = release_rx.recv();
            Ok(serde_json::Value::Null)
        }));
        for slot in 1..4 {
            workers.submit(task(slot, move || Ok(serde_json::json!(slot))));
        }
        drop(workers);
        release_tx.send(()).unwrap();
        let mut slots: Vec<usize> = (0..4)
            .map(|_| match done.recv_timeout(Duration::from_secs(10)).expect("a queued task was dropped") {
                Completion::Rc { slot, .. } => slot,
                _ => panic!("unexpected completion"),
            })
            .collect();
        slots.sort_unstable();
        assert_eq!(slots, [0, 1, 2, 3]);
    }

    #[test]
    fn a_panicking_task_is_reported_and_the_worker_goes_on() {
        let (workers, done, _poll) = pool(1);
        workers.submit(task(1, || panic!("a bug")));
        workers.submit(task(2, || Ok(serde_json::Value::Bool(true))));
        let first = done.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(first, Completion::Rc { slot: 1, result: Err(_), .. }));
        let second = done.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(second, Completion::Rc { slot: 2, result: Ok(_), .. }));
    }
}
