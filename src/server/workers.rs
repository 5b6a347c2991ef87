//! The worker pool: a fixed set of threads that run blocking VFS work (`Task`) and send the
//! results (`Completion`) back to the reactor, waking it through `mio::Waker`.
//!
//! A job that panics (a bug) does not take its session down with it: the session gets an
//! `Other` error, or its transfer fails, and the worker carries on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
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

/// The running pool.
pub struct Workers {
    tx: Sender<Task>,
    _threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` workers; results go to `done` and each wakes `waker`.
    ///
    /// # Errors
    /// A thread could not be spawned.
    pub fn start(n: usize, done: Sender<Completion>, waker: Arc<Waker>) -> std::io::Result<Workers> {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let (rx, done, waker) = (rx.clone(), done.clone(), waker.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ftpvfs-worker-{i}"))
                    .stack_size(256 * 1024)
                    .spawn(move || worker_loop(&rx, &done, &waker))?,
            );
        }
        Ok(Workers { tx, _threads: threads })
    }

    /// Queues a task. If the pool is gone (only at exit) the task is dropped.
    pub fn submit(&self, task: Task) {
        let _ = self.tx.send(task);
    }
}

fn worker_loop(rx: &Mutex<Receiver<Task>>, done: &Sender<Completion>, waker: &Waker) {
    loop {
        let task = {
            let guard = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match guard.recv() {
                Ok(t) => t,
                Err(_) => return, // the reactor is gone
            }
        };
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
            Task::Pump { conn, pump, task } => match catch_unwind(AssertUnwindSafe(|| pump::run_task(task))) {
                Ok(Some(d)) => Some(Completion::Pump { conn, pump, done: d }),
                Ok(None) => None,
                Err(_) => {
                    log::error!("a transfer task panicked");
                    Some(Completion::PumpFailed { conn, pump })
                }
            },
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
