//! `Pool`: the ftp backend's control connections. Idle ones are reused (and closed after
//! `idle_timeout`); at most `concurrency` are open at once (0: no limit). A caller that finds
//! every connection busy waits a bounded time, then gets a transient error (450): workers are
//! a fixed pool, and a worker must never wait forever on a connection another transfer holds.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::backend::ftp::conn::{FtpConn, FtpError, TlsClient};
use crate::backend::ftp::options::FtpOptions;

/// How long a caller waits for a free connection when `concurrency` is reached.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);

struct State {
    idle: Vec<FtpConn>,
    open: usize,
}

/// The connections of one ftp backend.
pub struct Pool {
    opts: FtpOptions,
    tls: Option<TlsClient>,
    state: Mutex<State>,
    freed: Condvar,
}

/// A connection lent out of the pool. `release` gives it back for reuse; dropping it closes
/// it (the safe choice whenever its state is unknown).
pub struct Lease {
    conn: Option<FtpConn>,
    pool: Arc<Pool>,
    /// Whether it came from the idle list (and so may have been closed by the server).
    pub reused: bool,
}

impl Lease {
    /// The connection.
    pub fn conn(&mut self) -> &mut FtpConn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a lease holds its connection until released"))
    }

    /// Returns the connection to the idle list.
    pub fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = self.pool.lock();
            state.idle.push(conn);
            drop(state);
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.pool.lock().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

impl Pool {
    /// An empty pool.
    pub fn new(opts: FtpOptions, tls: Option<TlsClient>) -> Arc<Pool> {
        Arc::new(Pool { opts, tls, state: Mutex::new(State { idle: Vec::new(), open: 0 }), freed: Condvar::new() })
    }

    /// The options the connections are made with.
    pub fn options(&self) -> &FtpOptions {
        &self.opts
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection: an idle one, a new one, or (at the limit) the next one freed.
    ///
    /// # Errors
    /// A new connection failed, or none was freed within [`BUSY_WAIT`].
    pub fn get(self: &Arc<Self>) -> Result<Lease, FtpError> {
        let deadline = Instant::now() + BUSY_WAIT;
        let mut state = self.lock();
        loop {
            let timeout = self.opts.idle_timeout;
            if !timeout.is_zero() {
                let before = state.idle.len();
                state.idle.retain(|c| c.idle_since.elapsed() < timeout);
                state.open -= before - state.idle.len();
            }
            if let Some(conn) = state.idle.pop() {
                return Ok(Lease { conn: Some(conn), pool: self.clone(), reused: true });
            }
            if self.opts.concurrency == 0 || state.open < self.opts.concurrency {
                state.open += 1;
                drop(state);
                return match FtpConn::connect(&self.opts, self.tls.as_ref()) {
                    Ok(conn) => Ok(Lease { conn: Some(conn), pool: self.clone(), reused: false }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(FtpError::Io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("all {} connections to the FTP server are busy", self.opts.concurrency),
                )));
            }
            state = self.freed.wait_timeout(state, deadline - now).map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
    }

    /// Runs `op` on a connection. A broken pooled connection (the server may close idle ones)
    /// is replaced once by a new one and `op` run again; a connection that broke is closed,
    /// and one that only got a negative reply goes back to the pool.
    ///
    /// # Errors
    /// As `op`, or as [`get`](Self::get).
    pub fn run<T>(self: &Arc<Self>, mut op: impl FnMut(&mut FtpConn) -> Result<T, FtpError>) -> Result<T, FtpError> {
        loop {
            let mut lease = self.get()?;
            match op(lease.conn()) {
                Err(FtpError::Io(e)) => {
                    let reused = lease.reused;
                    drop(lease);
                    if reused {
                        log::debug!("ftp backend: a pooled connection failed ({e}); retrying on a new one");
                        continue;
                    }
                    return Err(FtpError::Io(e));
                }
                result => {
                    lease.release();
                    return result;
                }
            }
        }
    }
}
