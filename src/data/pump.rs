//! `Pump`: moves one transfer's bytes between its data socket (non-blocking, on the reactor)
//! and its file stream (blocking, on the workers).
//!
//! Memory is bounded: an upload has two buffers of `BUFFER_SIZE` (a worker-side upload one, of
//! up to `RECV_BUFFER_SIZE`); a download has the buffer
//! being sent plus up to `--buffer-size` of read-ahead (`BUFFER_SIZE` at least), filled only
//! while the file outpaces the client. Buffers are allocated as the transfer needs them and
//! freed when it ends; a slow client or a slow disk only makes the other side wait (the socket
//! is not read, or no read is submitted). Only one worker task per transfer is in flight, so
//! file operations stay in order.
//!
//! Binary transfers of local files skip the reactor's buffers: a plain download is sent with
//! sendfile (`Body::SendFile`), a TLS one is read, encrypted and sent by a worker in one loop
//! (`Body::SendStream`), and every binary upload is received (decrypted) and written by a worker
//! in one loop (`Body::RecvFile`), so each buffer stays on one core; a plain one into a local
//! file or the disk cache is spliced from the socket into the file past its first read
//! (`splice_recv`). Those workers use the data
//! connection lent by the reactor (a duplicate of the descriptor, and the TLS session); to stop
//! one the reactor marks the transfer cancelled and shuts the socket down. A binary download of
//! a local file of up to `INLINE_SEND_MAX` that the page cache holds skips the worker: the
//! reactor reads it with `RWF_NOWAIT` (which never waits for storage) and sends it from memory.
//!
//! The pump does not own workers or the poll: it hands out `PumpTask`s and takes `PumpDone`s,
//! and the reactor moves them.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::backend::{self, ReadStream, WriteStream};
use crate::data::ascii::{FromCrlf, ToCrlf};
use crate::data::bandwidth::Throttle;
use crate::data::splice_recv::{self, Spliced};
use crate::data::{TransferBody, TransferOutcome};
use crate::tls::stream::{LentStream, NetStream};

/// Size of each of a transfer's two buffers.
pub const BUFFER_SIZE: usize = 256 * 1024;
/// The largest receive buffer of a worker-side upload. Reads this large drain the socket in
/// one call and the sender never waits for window; measured on loopback against pure-ftpd
/// (which reads 512 KiB too): 128 and 256 KiB ran at half its rate, 1 MiB no better (the
/// buffer no longer stays in the core's cache between the socket copy and the file copy).
pub const RECV_BUFFER_SIZE: usize = 512 * 1024;
/// The receive buffer an upload starts with; it grows to [`RECV_BUFFER_SIZE`] the first time a
/// read fills it, so a small file never pays for zeroing the large one.
pub const RECV_BUFFER_START: usize = 16 * 1024;

/// Blocking work for a worker thread on behalf of a pump.
pub enum PumpTask {
    /// Fill `buf` from the stream (converting to CRLF when `ascii` is set).
    Read {
        /// The file.
        stream: Box<dyn ReadStream>,
        /// An empty buffer to fill.
        buf: Vec<u8>,
        /// TYPE A state.
        ascii: Option<ToCrlf>,
    },
    /// Write `buf[..len]` to the stream (converting from CRLF when `ascii` is set).
    Write {
        /// The file.
        stream: Box<dyn WriteStream>,
        /// The data.
        buf: Vec<u8>,
        /// How much of `buf` is data.
        len: usize,
        /// TYPE A state.
        ascii: Option<FromCrlf>,
    },
    /// Finish an upload and make it visible.
    Commit {
        /// The file.
        stream: Box<dyn WriteStream>,
        /// TYPE A state (a held CR is written first).
        ascii: Option<FromCrlf>,
    },
    /// Send a local file with sendfile from `offset` up to `end`, until the socket stays full for
    /// [`SENDFILE_WAIT_MS`], the file is sent, or [`SENDFILE_TASK_BYTES`] went out.
    SendFile {
        /// The file (kept open by its stream).
        stream: Box<dyn ReadStream>,
        /// A duplicate of the data socket's descriptor (the reactor may close its own).
        sock: OwnedFd,
        /// The next byte to send.
        offset: u64,
        /// Where to stop (the file's size at open).
        end: u64,
        /// The bandwidth limits it sends under.
        throttle: Throttle,
    },
    /// Receive a binary upload on this worker: read the socket (and decrypt, under TLS) and
    /// write the file in one loop (the bytes stay in this core's cache), until the socket has
    /// nothing for a moment, the task limit, or the end, where the upload is committed.
    RecvFile {
        /// The file.
        stream: Box<dyn WriteStream>,
        /// The data connection, lent by the reactor (non-blocking).
        sock: LentStream,
        /// The receive buffer.
        buf: Vec<u8>,
        /// Set by the reactor before it shuts the socket to abort: an end is then not a commit.
        cancelled: Arc<AtomicBool>,
        /// The bandwidth limits it receives under.
        throttle: Throttle,
    },
    /// Send a binary download on this worker: read the file and write it (encrypting, under
    /// TLS) in one loop, until the socket is full for a moment, the task limit, or the end,
    /// where what TLS holds is flushed.
    SendStream(SendJob),
    /// Give an upload up (a replaced file is left as it was).
    Abort {
        /// The file.
        stream: Box<dyn WriteStream>,
    },
}

/// A worker's answer to a `PumpTask` (aborts have none).
pub enum PumpDone {
    /// A read finished.
    Read {
        /// The file, back home.
        stream: Box<dyn ReadStream>,
        /// The filled buffer.
        buf: Vec<u8>,
        /// TYPE A state.
        ascii: Option<ToCrlf>,
        /// Bytes read from the file (0 at the end), or the error.
        result: backend::Result<usize>,
    },
    /// A write finished.
    Write {
        /// The file, back home.
        stream: Box<dyn WriteStream>,
        /// The buffer, for reuse.
        buf: Vec<u8>,
        /// TYPE A state.
        ascii: Option<FromCrlf>,
        /// Success or the error.
        result: backend::Result<()>,
    },
    /// A commit finished.
    Commit {
        /// Bytes stored, or the error.
        result: backend::Result<u64>,
    },
    /// A receive task stopped; `stream` is `None` when it committed the upload (`result`).
    RecvFile {
        /// The file, back home (not yet committed or aborted).
        stream: Option<Box<dyn WriteStream>>,
        /// The lent data connection, back home.
        sock: LentStream,
        /// The buffer, for the next task.
        buf: Vec<u8>,
        /// Bytes received by this task.
        received: u64,
        /// Why it stopped.
        state: RecvFileState,
    },
    /// A send task stopped.
    SendStream {
        /// The file, the lent connection and the buffer, back home.
        job: SendJob,
        /// Bytes sent by this task.
        sent: u64,
        /// Why it stopped.
        state: SendStreamState,
    },
    /// A sendfile task finished.
    SendFile {
        /// The file, back home.
        stream: Box<dyn ReadStream>,
        /// The socket duplicate, back home.
        sock: OwnedFd,
        /// The next byte to send.
        offset: u64,
        /// Bytes sent by this task.
        sent: u64,
        /// Why it stopped.
        state: SendFileState,
    },
}

/// What a worker-side download carries between tasks.
pub struct SendJob {
    /// The file.
    stream: Box<dyn ReadStream>,
    /// The data connection, lent by the reactor.
    sock: LentStream,
    /// `buf[pos..len]` is read and not yet sent; the buffer keeps its length, so it is zeroed
    /// once, not before every read.
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// The file is read to its end.
    eof: bool,
    /// The bandwidth limits it sends under.
    throttle: Throttle,
}

/// Why a send task stopped.
#[derive(Debug)]
pub enum SendStreamState {
    /// The file is sent and TLS flushed: the reactor takes the connection back and closes it.
    Done,
    /// The task limit was reached: run again.
    More,
    /// The socket took nothing (or, during the TLS handshake, the client sent nothing) for a
    /// moment: wait for it.
    Stalled,
    /// The bandwidth limit allows more at this instant.
    Throttled(Instant),
    /// Reading the file failed.
    Storage(backend::Error),
    /// The socket (or TLS on it) failed.
    SocketFailed(io::Error),
}

/// Why a receive task stopped.
#[derive(Debug)]
pub enum RecvFileState {
    /// The socket had nothing for a moment.
    Waiting,
    /// The task limit was reached with bytes still coming: run again.
    More,
    /// The bandwidth limit allows more at this instant.
    Throttled(Instant),
    /// The client closed: the upload was committed with this result.
    Committed(backend::Result<u64>),
    /// The reactor cancelled the transfer (ABOR, timeout): the stream is not committed.
    Cancelled,
    /// Writing the file failed.
    Storage(backend::Error),
    /// The socket (or TLS on it) failed.
    SocketFailed(io::Error),
}

/// Why a sendfile task stopped.
#[derive(Debug)]
pub enum SendFileState {
    /// Everything up to the end is sent.
    Done,
    /// The per-task limit was reached; more to send.
    More,
    /// The socket is full; wait until it drains.
    Full,
    /// The bandwidth limit allows more at this instant.
    Throttled(Instant),
    /// The file ended before its size at open: it changed while being read.
    FileEnded,
    /// The socket failed (the client closed or reset it).
    SocketFailed(io::Error),
}

/// Binary downloads of local files up to this size are read on the reactor when the page cache
/// holds them (see `cached_small_file`) and sent from memory: no worker round trip.
pub const INLINE_SEND_MAX: u64 = 64 * 1024;

/// The bytes of a small local file from its offset to `size`, if the page cache holds all of
/// them: read without waiting for storage (`RWF_NOWAIT`), so the reactor may call it. `None`
/// sends the file the usual way (not cached, too big, not local, or it shrank).
fn cached_small_file(stream: &dyn ReadStream, size: u64) -> Option<Vec<u8>> {
    let (fd, offset) = stream.sendfile_source()?;
    let len = size.checked_sub(offset).filter(|len| *len <= INLINE_SEND_MAX)?;
    let mut data = vec![0; usize::try_from(len).ok()?];
    let mut got = 0;
    while got < data.len() {
        match crate::sys::pread_cached(fd, &mut data[got..], offset + got as u64) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(data)
}

/// Most bytes a transfer task moves in one slice (see `Budget`).
pub const SENDFILE_TASK_BYTES: u64 = 64 << 20;
/// How long a sendfile task waits for a full socket to drain before giving its worker back.
pub const SENDFILE_WAIT_MS: i32 = 20;
/// The longest slice of a transfer task (see `Budget`), however the peer trickles: a client
/// sending a byte every few milliseconds must not hold a worker for ever.
pub const WORKER_TASK_TIME: std::time::Duration = std::time::Duration::from_millis(100);
/// The longest a transfer task keeps its worker when no other task waits for one.
pub const WORKER_TASK_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// When a transfer task (sendfile, receive, TLS send) gives its worker back. It runs in slices
/// of [`SENDFILE_TASK_BYTES`] or [`WORKER_TASK_TIME`]; after a slice it goes on only while no
/// other task waits for a worker, and never past [`WORKER_TASK_MAX_TIME`]. Each hand-back is a
/// round trip through the reactor during which the socket drains (measured: a 1 GiB RETR at
/// 2.6-2.7 GB/s in 64 MiB tasks, 2.95-2.99 in one).
struct Budget<'a> {
    started: Instant,
    slice_started: Instant,
    /// Bytes moved when the current slice began.
    slice_from: u64,
    others_waiting: &'a dyn Fn() -> bool,
}

impl<'a> Budget<'a> {
    fn new(others_waiting: &'a dyn Fn() -> bool) -> Self {
        let now = Instant::now();
        Budget { started: now, slice_started: now, slice_from: 0, others_waiting }
    }

    /// Whether the task must give its worker back now, having moved `moved` bytes in all.
    fn spent(&mut self, moved: u64) -> bool {
        if moved - self.slice_from < SENDFILE_TASK_BYTES && self.slice_started.elapsed() < WORKER_TASK_TIME {
            return false;
        }
        if self.started.elapsed() >= WORKER_TASK_MAX_TIME || (self.others_waiting)() {
            return true;
        }
        self.slice_started = Instant::now();
        self.slice_from = moved;
        false
    }

    /// Bytes the current slice may still move.
    fn slice_left(&self, moved: u64) -> u64 {
        SENDFILE_TASK_BYTES.saturating_sub(moved - self.slice_from)
    }
}

/// Reads until `buf` is full or the file ends. Remote streams return what one network read
/// brought (often far less than the buffer), and a buffer handed back shorter than it was is
/// zero-filled again before its next read: filling it whole keeps both the reads and the
/// fills to one per buffer. An error drops what was read before it: the transfer fails.
fn fill(stream: &mut dyn ReadStream, buf: &mut [u8]) -> crate::backend::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Runs a pump task. Blocking; worker threads only. `others_waiting` says whether other tasks
/// wait for a worker (a transfer task then gives its worker back sooner; see `Budget`).
pub fn run_task(task: PumpTask, others_waiting: &dyn Fn() -> bool) -> Option<PumpDone> {
    match task {
        PumpTask::Read { mut stream, mut buf, mut ascii } => {
            let want = if ascii.is_some() { BUFFER_SIZE / 2 } else { BUFFER_SIZE };
            // Recycled buffers keep their length, so only a new buffer is zero-filled once
            // (a memset of every buffer before each read cost a pass over all the data).
            buf.resize(want, 0);
            let result = fill(stream.as_mut(), &mut buf);
            match &result {
                Ok(n) => {
                    buf.truncate(*n);
                    if let Some(a) = ascii.as_mut() {
                        a.convert(&mut buf);
                    }
                }
                Err(_) => buf.clear(),
            }
            let result = result.map(|_| buf.len());
            Some(PumpDone::Read { stream, buf, ascii, result })
        }
        PumpTask::Write { mut stream, mut buf, len, mut ascii } => {
            let len = match ascii.as_mut() {
                Some(a) => a.convert(&mut buf, len),
                None => len,
            };
            let result = stream.write_all(&buf[..len]);
            Some(PumpDone::Write { stream, buf, ascii, result })
        }
        PumpTask::Commit { mut stream, mut ascii } => {
            let tail = ascii.as_mut().map_or(&b""[..], FromCrlf::finish);
            let result = if tail.is_empty() { Ok(()) } else { stream.write_all(tail) };
            Some(PumpDone::Commit { result: result.and_then(|_| stream.commit()) })
        }
        PumpTask::Abort { stream } => {
            stream.abort();
            None
        }
        PumpTask::RecvFile { mut stream, mut sock, mut buf, cancelled, throttle } => {
            let mut received = 0u64;
            let mut budget = Budget::new(others_waiting);
            if buf.is_empty() {
                buf.resize(RECV_BUFFER_START, 0);
            }
            // A plain upload into a local file is spliced (one copy fewer; see `splice_recv`)
            // once a read fills the first buffer: a small file costs no pipe work.
            let mut can_splice = sock.is_plain() && stream.takes_splice();
            let mut splicing = false;
            let state = loop {
                if budget.spent(received) {
                    break RecvFileState::More;
                }
                let allowed = match throttle.grant(if splicing { usize::MAX } else { buf.len() }) {
                    Ok(n) => n,
                    Err(at) => break RecvFileState::Throttled(at),
                };
                let got = if splicing {
                    match splice_recv::receive(sock.as_fd(), stream.as_mut(), allowed) {
                        Spliced::Moved(n) => {
                            received += n as u64;
                            throttle.unused(allowed - n);
                            continue;
                        }
                        Spliced::End => Ok(0),
                        Spliced::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
                        Spliced::Unavailable => {
                            (can_splice, splicing) = (false, false);
                            continue;
                        }
                        Spliced::Socket(e) => Err(e),
                        Spliced::Storage(e) => break RecvFileState::Storage(e),
                    }
                } else {
                    sock.read(&mut buf[..allowed])
                };
                throttle.unused(allowed - got.as_ref().map_or(0, |n| *n));
                match got {
                    Ok(0) if cancelled.load(Ordering::Acquire) => break RecvFileState::Cancelled,
                    Ok(0) => {
                        // Answer the client's close_notify (TLS) before committing; one small
                        // record, sent best effort: the data is complete whatever happens to it.
                        let _ = sock.close_step();
                        let result = stream.commit();
                        return Some(PumpDone::RecvFile {
                            stream: None,
                            sock,
                            buf,
                            received,
                            state: RecvFileState::Committed(result),
                        });
                    }
                    Ok(n) => {
                        received += n as u64;
                        if let Err(e) = stream.write_all(&buf[..n]) {
                            break RecvFileState::Storage(e);
                        }
                        if n == buf.len() && can_splice {
                            splicing = true;
                        } else if n == buf.len() && buf.len() < RECV_BUFFER_SIZE {
                            buf.resize(RECV_BUFFER_SIZE, 0);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // A TLS handshake reply the socket did not take yet must go out first:
                        // the client waits for it before it sends anything more.
                        let ready = match sock.flush_step() {
                            Ok(true) => crate::sys::wait_readable(sock.as_fd(), SENDFILE_WAIT_MS),
                            Ok(false) => crate::sys::wait_writable(sock.as_fd(), SENDFILE_WAIT_MS),
                            Err(e) => break RecvFileState::SocketFailed(e),
                        };
                        if cancelled.load(Ordering::Acquire) || !ready {
                            break RecvFileState::Waiting;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) if cancelled.load(Ordering::Acquire) => break RecvFileState::Cancelled,
                    Err(e) => break RecvFileState::SocketFailed(e),
                }
            };
            Some(PumpDone::RecvFile { stream: Some(stream), sock, buf, received, state })
        }
        PumpTask::SendStream(job) => Some(run_send_stream(job, others_waiting)),
        PumpTask::SendFile { stream, sock, mut offset, end, throttle } => {
            let mut sent = 0u64;
            let mut budget = Budget::new(others_waiting);
            // Once the socket is full the sends turn blocking and corked: the kernel waits for
            // room itself and sends only full segments (measured: 2.7 against 2.25 GB/s, at less
            // CPU, than non-blocking calls and a poll whenever the socket is full). A file that
            // fits in the socket at once goes out without the extra system calls. The timeout
            // keeps a stalled client from holding the worker; the socket is non-blocking again
            // before the reactor sees it.
            let mut blocking: Option<io::Result<BlockingSend<'_>>> = None;
            let state = loop {
                if offset >= end {
                    break SendFileState::Done;
                }
                if budget.spent(sent) {
                    break SendFileState::More;
                }
                let Some((file, _)) = stream.sendfile_source() else { break SendFileState::FileEnded };
                let want = usize::try_from((end - offset).min(budget.slice_left(sent))).unwrap_or(usize::MAX);
                let want = match throttle.grant(want) {
                    Ok(n) => n,
                    Err(at) => break SendFileState::Throttled(at),
                };
                let result = crate::sys::sendfile(sock.as_fd(), file, &mut offset, want);
                throttle.unused(want - result.as_ref().map_or(0, |n| *n));
                match result {
                    Ok(0) => break SendFileState::FileEnded,
                    Ok(n) => sent += n as u64,
                    // A client that keeps up is served by this worker without a round trip to
                    // the reactor; one that does not gives the worker back soon.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => match &blocking {
                        None => blocking = Some(BlockingSend::enter(&sock)),
                        // Blocking, the call itself already waited that long.
                        Some(Ok(_)) => break SendFileState::Full,
                        Some(Err(_)) => {
                            if !crate::sys::wait_writable(sock.as_fd(), SENDFILE_WAIT_MS) {
                                break SendFileState::Full;
                            }
                        }
                    },
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break SendFileState::SocketFailed(e),
                }
            };
            // If the socket could not be made blocking, the loop above polled as before.
            let state = match blocking {
                Some(Ok(b)) => b.leave().map_or_else(SendFileState::SocketFailed, |()| state),
                None | Some(Err(_)) => state,
            };
            Some(PumpDone::SendFile { stream, sock, offset, sent, state })
        }
    }
}

/// A data socket switched to blocking, corked sends for one sendfile task (see
/// [`PumpTask::SendFile`]). The descriptor is a duplicate of the reactor's, and blocking mode
/// belongs to the shared open file, so [`leave`](Self::leave) must run before the reactor uses
/// the socket again.
struct BlockingSend<'a>(socket2::SockRef<'a>);

impl<'a> BlockingSend<'a> {
    /// Makes `sock` blocking with sends that give up after [`SENDFILE_WAIT_MS`] without room,
    /// and corks it (only full segments go out until [`leave`](Self::leave)).
    fn enter(sock: &'a OwnedFd) -> io::Result<Self> {
        let sock = socket2::SockRef::from(sock);
        sock.set_write_timeout(Some(std::time::Duration::from_millis(SENDFILE_WAIT_MS.unsigned_abs().into())))?;
        let _ = sock.set_tcp_cork(true);
        sock.set_nonblocking(false)?;
        Ok(Self(sock))
    }

    /// Makes the socket non-blocking again and pushes out what the cork held back.
    fn leave(self) -> io::Result<()> {
        let _ = self.0.set_tcp_cork(false);
        self.0.set_nonblocking(true)
    }
}

/// The worker loop of a [`PumpTask::SendStream`].
fn run_send_stream(mut job: SendJob, others_waiting: &dyn Fn() -> bool) -> PumpDone {
    let mut sent = 0u64;
    let mut budget = Budget::new(others_waiting);
    let state = loop {
        if job.pos == job.len {
            if job.eof {
                match job.sock.flush_step() {
                    Ok(true) => break SendStreamState::Done,
                    Ok(false) if crate::sys::wait_writable(job.sock.as_fd(), SENDFILE_WAIT_MS) => continue,
                    Ok(false) => break SendStreamState::Stalled,
                    Err(e) => break SendStreamState::SocketFailed(e),
                }
            }
            if budget.spent(sent) {
                break SendStreamState::More;
            }
            if job.buf.len() < BUFFER_SIZE {
                job.buf.resize(BUFFER_SIZE, 0);
            }
            match job.stream.read(&mut job.buf) {
                Ok(0) => job.eof = true,
                Ok(n) => (job.pos, job.len) = (0, n),
                Err(e) => break SendStreamState::Storage(e),
            }
            continue;
        }
        let allowed = match job.throttle.grant(job.len - job.pos) {
            Ok(n) => n,
            Err(at) => break SendStreamState::Throttled(at),
        };
        let result = job.sock.write(&job.buf[job.pos..job.pos + allowed]);
        job.throttle.unused(allowed - result.as_ref().map_or(0, |n| *n));
        match result {
            Ok(0) => break SendStreamState::SocketFailed(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                job.pos += n;
                sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // During the handshake rustls waits for the client, not for the socket.
                let ready = if job.sock.has_pending_input() {
                    true
                } else if job.sock.is_handshaking() && !job.sock.wants_write() {
                    crate::sys::wait_readable(job.sock.as_fd(), SENDFILE_WAIT_MS)
                } else {
                    crate::sys::wait_writable(job.sock.as_fd(), SENDFILE_WAIT_MS)
                };
                if !ready {
                    break SendStreamState::Stalled;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break SendStreamState::SocketFailed(e),
        }
    };
    PumpDone::SendStream { job, sent, state }
}

enum Body {
    /// A binary upload, received (and decrypted) and written by workers.
    RecvFile {
        /// `None` while a worker receives.
        stream: Option<Box<dyn WriteStream>>,
        /// The data connection lent when it attaches; `None` while a worker receives.
        sock: Option<LentStream>,
        buf: Option<Vec<u8>>,
        cancelled: Arc<AtomicBool>,
        /// The worker committed the upload (or it failed): nothing more to do.
        ended: bool,
        /// The last task stopped on its budget, not for want of bytes: TLS may hold records it
        /// already read from the socket (up to the client's close_notify), which no readiness
        /// event will announce, so the next task runs at once.
        resume: bool,
    },
    /// A local file sent with sendfile (zero-copy), plain sockets only.
    SendFile {
        /// `None` while a worker sends.
        stream: Option<Box<dyn ReadStream>>,
        /// A duplicate of the data socket, made when it attaches; `None` while a worker sends.
        sock: Option<OwnedFd>,
        offset: u64,
        end: u64,
    },
    /// Bytes in memory: a listing, or a small file read from the page cache.
    Send {
        data: Vec<u8>,
        pos: usize,
        /// A file (a transfer the stats count), not a listing.
        file: bool,
    },
    /// A binary download of a local file over TLS, read, encrypted and sent by workers.
    SendStream {
        /// The file until the data connection attaches.
        waiting: Option<Box<dyn ReadStream>>,
        /// Home between tasks; `None` while a worker sends (`in_flight`) or once done.
        job: Option<SendJob>,
        in_flight: bool,
    },
    Download {
        /// `None` while a worker reads.
        stream: Option<Box<dyn ReadStream>>,
        ascii: Option<ToCrlf>,
        /// Being written to the socket.
        out: Vec<u8>,
        out_pos: usize,
        /// Filled by workers, next in line (the read-ahead).
        ready: VecDeque<Vec<u8>>,
        /// Bytes in `ready`.
        ready_bytes: usize,
        /// `--buffer-size`: keep reading while less than this is ready (one buffer at least).
        read_ahead: usize,
        /// Empty buffers, for the next reads.
        spares: Vec<Vec<u8>>,
        eof: bool,
    },
    Upload {
        /// `None` while a worker writes or commits.
        stream: Option<Box<dyn WriteStream>>,
        ascii: Option<FromCrlf>,
        /// Being filled from the socket (`len` = capacity).
        fill: Vec<u8>,
        fill_len: usize,
        spare: Option<Vec<u8>>,
        eof: bool,
        committing: bool,
    },
}

/// One running transfer.
pub struct Pump {
    /// Identifies this transfer's worker results (a stale result for an earlier one is
    /// disposed of, never applied).
    pub id: u64,
    body: Body,
    socket: Option<NetStream>,
    /// All data is out; the stream is being closed cleanly (TLS close_notify).
    closing: bool,
    bytes: u64,
    started: Instant,
    last_progress: Instant,
    /// Whether the data socket is registered with the reactor (as [`attach`](Self::attach)
    /// is told, then as [`set_registered`](Self::set_registered) records).
    registered: bool,
    tasks: Vec<PumpTask>,
    outcome: Option<TransferOutcome>,
    /// The bandwidth limits (`--bwlimit`, `--bwlimit-file`) this transfer moves under.
    throttle: Throttle,
    /// Nothing moves before this instant: the limit is spent (the reactor's timer wakes it).
    throttled_until: Option<Instant>,
}

impl Pump {
    /// A transfer waiting for its data connection. A binary download of a small local file
    /// the page cache holds is read here (never waiting for storage) and sent from memory; a
    /// larger one with sendfile with `zero_copy_ok` (no TLS), else read, encrypted and sent by
    /// a worker. A binary upload is received by workers either way.
    pub fn new(id: u64, body: TransferBody, now: Instant, zero_copy_ok: bool, throttle: Throttle) -> Pump {
        let mut inline = match &body {
            TransferBody::Download { stream, ascii: false, size, .. } => cached_small_file(stream.as_ref(), *size),
            _ => None,
        };
        let body = match body {
            // A small file the page cache holds goes out from memory (the file closes here).
            _ if inline.is_some() => Body::Send { data: inline.take().unwrap_or_default(), pos: 0, file: true },
            TransferBody::Download { stream, ascii: false, size, .. }
                if zero_copy_ok && stream.sendfile_source().is_some() =>
            {
                let offset = stream.sendfile_source().map_or(0, |(_, o)| o);
                Body::SendFile { stream: Some(stream), sock: None, offset, end: size.max(offset) }
            }
            TransferBody::Send(data) => Body::Send { data, pos: 0, file: false },
            // Under TLS a local file is encrypted by the worker that reads it: handing each
            // buffer from a worker's core to the reactor's cost more than the encryption.
            TransferBody::Download { stream, ascii: false, .. } if stream.sendfile_source().is_some() => {
                Body::SendStream { waiting: Some(stream), job: None, in_flight: false }
            }
            TransferBody::Upload { stream, ascii: false } => Body::RecvFile {
                stream: Some(stream),
                sock: None,
                // Sized by the worker (a fresh buffer is zeroed: not on the reactor's time).
                buf: Some(Vec::new()),
                cancelled: Arc::new(AtomicBool::new(false)),
                ended: false,
                resume: false,
            },
            TransferBody::Download { stream, ascii, read_ahead, .. } => Body::Download {
                stream: Some(stream),
                ascii: ascii.then(ToCrlf::default),
                out: Vec::new(),
                out_pos: 0,
                ready: VecDeque::new(),
                ready_bytes: 0,
                read_ahead,
                spares: Vec::new(),
                eof: false,
            },
            TransferBody::Upload { stream, ascii } => Body::Upload {
                stream: Some(stream),
                ascii: ascii.then(FromCrlf::default),
                fill: vec![0; BUFFER_SIZE],
                fill_len: 0,
                spare: None,
                eof: false,
                committing: false,
            },
        };
        let mut pump = Pump {
            id,
            body,
            socket: None,
            closing: false,
            bytes: 0,
            started: now,
            last_progress: now,
            // No socket yet: `attach` says whether the one it brings is registered.
            registered: false,
            tasks: Vec::new(),
            outcome: None,
            throttle,
            throttled_until: None,
        };
        // Start reading the file before the client connects.
        pump.submit_read();
        pump
    }

    /// Whether the data connection is attached.
    pub fn connected(&self) -> bool {
        self.socket.is_some()
    }

    /// When the transfer started waiting (for the connect/accept timeout).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Whether the data socket's registration with the reactor must change: `Some(false)` when
    /// a worker sends or receives on it (its readiness would only wake the reactor for nothing,
    /// once per segment), `Some(true)` when it is home again. Registering again reports the
    /// socket's current readiness, so nothing that happened meanwhile is missed.
    pub fn wanted_registration(&self) -> Option<bool> {
        self.socket.as_ref()?;
        let want = !self.worker_holds_socket();
        (want != self.registered).then_some(want)
    }

    /// Whether a worker is sending or receiving on the data socket now. Its task reports the
    /// bytes it moved when it ends, within [`WORKER_TASK_MAX_TIME`] (or [`SENDFILE_WAIT_MS`]
    /// once the peer stops), so until then a quiet `last_progress` is no sign of a stall.
    pub fn worker_holds_socket(&self) -> bool {
        matches!(&self.body, Body::RecvFile { sock: None, .. } | Body::SendFile { sock: None, .. })
            || matches!(&self.body, Body::SendStream { in_flight: true, .. })
    }

    /// The data socket, for the reactor to register or deregister; then call
    /// [`set_registered`](Self::set_registered).
    pub fn socket_tcp(&mut self) -> Option<&mut mio::net::TcpStream> {
        self.socket.as_mut().map(NetStream::tcp_mut)
    }

    /// Records the data socket's registration state.
    pub fn set_registered(&mut self, registered: bool) {
        self.registered = registered;
    }

    /// When the bandwidth limit lets this transfer move again, while it waits for that.
    pub fn throttled_until(&self) -> Option<Instant> {
        self.throttled_until
    }

    /// When bytes last moved (for the stall timeout).
    pub fn last_progress(&self) -> Instant {
        self.last_progress
    }

    /// Whether this transfer moves a file (RETR, STOR...), not a listing.
    pub fn moves_a_file(&self) -> bool {
        !matches!(self.body, Body::Send { file: false, .. })
    }

    /// Whether this transfer brings a file from the client (STOR, APPE, STOU).
    pub fn is_upload(&self) -> bool {
        matches!(self.body, Body::Upload { .. } | Body::RecvFile { .. })
    }

    /// Bytes moved on the data connection so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Attaches the data connection; `registered` says whether it is in the reactor's poll set.
    pub fn attach(&mut self, socket: NetStream, registered: bool, now: Instant) {
        let mut socket = socket;
        self.registered = registered;
        if let Body::RecvFile { sock, .. } = &mut self.body {
            match socket.lend() {
                Ok(lent) => *sock = Some(lent),
                Err(_) => {
                    self.socket = Some(socket);
                    return self.fail(TransferOutcome::ConnectionLost("cannot use the data connection"));
                }
            }
        }
        if let Body::SendStream { waiting, job, .. } = &mut self.body {
            match (waiting.take(), socket.lend()) {
                (Some(stream), Ok(sock)) => {
                    *job = Some(SendJob {
                        stream,
                        sock,
                        buf: Vec::new(),
                        pos: 0,
                        len: 0,
                        eof: false,
                        throttle: self.throttle.clone(),
                    });
                }
                _ => {
                    self.socket = Some(socket);
                    return self.fail(TransferOutcome::ConnectionLost("cannot use the data connection"));
                }
            }
        }
        if let Body::SendFile { sock, .. } = &mut self.body {
            match socket.plain_fd().map(|fd| fd.try_clone_to_owned()) {
                Some(Ok(dup)) => *sock = Some(dup),
                _ => {
                    self.socket = Some(socket);
                    return self.fail(TransferOutcome::ConnectionLost("cannot use the data connection for sendfile"));
                }
            }
        }
        self.socket = Some(socket);
        self.last_progress = now;
    }

    /// Worker tasks to submit.
    pub fn take_tasks(&mut self) -> Vec<PumpTask> {
        std::mem::take(&mut self.tasks)
    }

    /// How the transfer ended, once it has.
    pub fn take_outcome(&mut self) -> Option<TransferOutcome> {
        self.outcome.take()
    }

    /// Stops the transfer now with `outcome`: the socket is closed and an upload is aborted
    /// (if its stream is at a worker, the reactor disposes of it when it comes back).
    pub fn fail(&mut self, outcome: TransferOutcome) {
        self.stop_worker();
        self.socket = None;
        if let Body::Upload { stream, .. } | Body::RecvFile { stream, .. } = &mut self.body {
            if let Some(stream) = stream.take() {
                self.tasks.push(PumpTask::Abort { stream });
            }
        }
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
    }

    /// A worker may be using a duplicate of the socket: mark the transfer cancelled (so an end
    /// of stream is not taken for a complete upload), then shut the socket to stop it now.
    fn stop_worker(&mut self) {
        let in_flight = match &self.body {
            Body::SendFile { stream: None, .. } | Body::SendStream { in_flight: true, .. } => true,
            Body::RecvFile { stream: None, ended: false, cancelled, .. } => {
                cancelled.store(true, Ordering::Release);
                true
            }
            _ => false,
        };
        if let (true, Some(socket)) = (in_flight, &self.socket) {
            socket.shutdown_now();
        }
    }

    fn finish(&mut self, outcome: TransferOutcome) {
        self.socket = None;
        self.outcome = Some(outcome);
    }

    /// Starts the next file read when the stream is home and the read-ahead is not full.
    fn submit_read(&mut self) {
        if let Body::Download { stream, ascii, ready, ready_bytes, read_ahead, spares, eof: false, .. } = &mut self.body
        {
            if ready.is_empty() || *ready_bytes < *read_ahead {
                if let Some(stream) = stream.take() {
                    let buf = spares.pop().unwrap_or_else(|| Vec::with_capacity(BUFFER_SIZE));
                    self.tasks.push(PumpTask::Read { stream, buf, ascii: ascii.take() });
                }
            }
        }
    }

    /// Takes a worker's result for this transfer, then moves data as far as possible.
    pub fn on_done(&mut self, done: PumpDone, now: Instant) {
        match (done, &mut self.body) {
            (
                PumpDone::Read { stream: s, buf, ascii: a, result },
                Body::Download { stream, ascii, ready, ready_bytes, spares, eof, .. },
            ) => {
                *stream = Some(s);
                *ascii = a;
                match result {
                    Ok(0) => {
                        *eof = true;
                        spares.push(buf);
                    }
                    Ok(_) => {
                        *ready_bytes += buf.len();
                        ready.push_back(buf);
                    }
                    Err(e) => {
                        self.fail(TransferOutcome::Storage(e));
                        return;
                    }
                }
            }
            (PumpDone::Write { stream: s, mut buf, ascii: a, result }, Body::Upload { stream, ascii, spare, .. }) => {
                *stream = Some(s);
                *ascii = a;
                buf.resize(BUFFER_SIZE, 0);
                *spare = Some(buf);
                if let Err(e) = result {
                    self.fail(TransferOutcome::Storage(e));
                    return;
                }
            }
            (
                PumpDone::SendFile { stream: s, sock: d, offset: o, sent, state },
                Body::SendFile { stream, sock, offset, .. },
            ) => {
                *stream = Some(s);
                *sock = Some(d);
                *offset = o;
                if sent > 0 {
                    self.record_progress(usize::try_from(sent).unwrap_or(usize::MAX), now);
                }
                match state {
                    SendFileState::Done | SendFileState::More => {}
                    SendFileState::Throttled(at) => self.throttled_until = Some(at),
                    SendFileState::Full => {
                        let Body::SendFile { sock: Some(fd), .. } = &self.body else { return };
                        // The socket may have drained (and signalled) while the worker ran.
                        if !crate::sys::writable_now(fd.as_fd()) {
                            return;
                        }
                    }
                    SendFileState::FileEnded => {
                        let path = String::new();
                        return self.fail(TransferOutcome::Storage(backend::Error::with_detail(
                            backend::ErrorKind::Transient,
                            path,
                            "The file changed while being read (it ended early)",
                        )));
                    }
                    SendFileState::SocketFailed(e) => {
                        log::debug!("sendfile: {e}");
                        return self.fail(TransferOutcome::ClosedByPeer { bytes: self.bytes });
                    }
                }
            }
            (PumpDone::SendStream { job: j, sent, state }, Body::SendStream { in_flight, .. }) => {
                *in_flight = false;
                if sent > 0 {
                    self.record_progress(usize::try_from(sent).unwrap_or(usize::MAX), now);
                }
                let Body::SendStream { job, .. } = &mut self.body else { return };
                match state {
                    SendStreamState::Done => {
                        // The reactor says goodbye (close_notify) on its own stream.
                        if let Some(socket) = self.socket.as_mut() {
                            socket.give_back(j.sock);
                        }
                        self.begin_close();
                        return;
                    }
                    SendStreamState::More => *job = Some(j),
                    SendStreamState::Throttled(at) => {
                        *job = Some(j);
                        self.throttled_until = Some(at);
                    }
                    SendStreamState::Stalled => {
                        let writable = crate::sys::writable_now(j.sock.as_fd());
                        *job = Some(j);
                        // The socket may have drained (and signalled) while the worker waited.
                        if !writable {
                            return;
                        }
                    }
                    SendStreamState::Storage(e) => return self.fail(TransferOutcome::Storage(e)),
                    SendStreamState::SocketFailed(e) => {
                        log::debug!("send: {e}");
                        return self
                            .fail(tls_failure(&e).unwrap_or(TransferOutcome::ClosedByPeer { bytes: self.bytes }));
                    }
                }
            }
            (PumpDone::RecvFile { stream: s, sock: d, buf: b, received, state }, Body::RecvFile { sock, buf, .. }) => {
                *sock = Some(d);
                *buf = Some(b);
                if received > 0 {
                    self.record_progress(usize::try_from(received).unwrap_or(usize::MAX), now);
                }
                let Body::RecvFile { stream, ended, sock, resume, .. } = &mut self.body else { return };
                match state {
                    RecvFileState::Committed(result) => {
                        *ended = true;
                        match result {
                            Ok(_) => self.finish(TransferOutcome::Complete { bytes: self.bytes }),
                            Err(e) => self.finish(TransferOutcome::Storage(e)),
                        }
                        return;
                    }
                    RecvFileState::Waiting => {
                        *stream = s;
                        // Bytes may have arrived (and signalled) while the worker waited.
                        if !sock.as_ref().is_some_and(|fd| crate::sys::wait_readable(fd.as_fd(), 0)) {
                            return;
                        }
                    }
                    RecvFileState::More => {
                        *stream = s;
                        *resume = true;
                    }
                    RecvFileState::Throttled(at) => {
                        *stream = s;
                        *resume = true;
                        self.throttled_until = Some(at);
                    }
                    RecvFileState::Cancelled => {
                        if let Some(stream) = s {
                            self.tasks.push(PumpTask::Abort { stream });
                        }
                        return;
                    }
                    RecvFileState::Storage(e) => {
                        *stream = s;
                        return self.fail(TransferOutcome::Storage(e));
                    }
                    RecvFileState::SocketFailed(e) => {
                        *stream = s;
                        return self.fail(
                            tls_failure(&e)
                                .unwrap_or(TransferOutcome::ConnectionLost("data connection reset by the client")),
                        );
                    }
                }
            }
            (PumpDone::Commit { result }, Body::Upload { .. }) => {
                match result {
                    Ok(_) => self.finish(TransferOutcome::Complete { bytes: self.bytes }),
                    Err(e) => self.finish(TransferOutcome::Storage(e)),
                }
                return;
            }
            _ => {
                log::warn!("a worker result did not match its transfer");
                return;
            }
        }
        self.drive(now);
    }

    /// Moves data between the socket and the buffers until something would block.
    pub fn drive(&mut self, now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        if self.closing {
            return self.drive_close();
        }
        if let Some(at) = self.throttled_until {
            if now < at {
                return;
            }
            self.throttled_until = None;
        }
        match self.body {
            Body::RecvFile { .. } => self.drive_recvfile(),
            Body::SendFile { .. } => self.drive_sendfile(),
            Body::SendStream { .. } => self.drive_sendstream(),
            Body::Send { .. } => self.drive_send(now),
            Body::Download { .. } => self.drive_download(now),
            Body::Upload { .. } => self.drive_upload(now),
        }
    }

    /// Hands the next receive task to a worker when the socket is attached and none runs.
    fn drive_recvfile(&mut self) {
        let Body::RecvFile { stream, sock, buf, cancelled, ended, resume } = &mut self.body else { return };
        if self.socket.is_none() || *ended {
            return;
        }
        // Only when there is something to do: registering the socket again reports it writable,
        // and a task per such event would cycle a worker every few milliseconds while a client
        // sends nothing.
        let has_work = *resume
            || sock
                .as_ref()
                .is_some_and(|s| s.wants_write() || s.has_pending_input() || crate::sys::wait_readable(s.as_fd(), 0));
        if !has_work {
            return;
        }
        if let (Some(stream), Some(sock), Some(buf)) = (stream.take(), sock.take(), buf.take()) {
            *resume = false;
            self.tasks.push(PumpTask::RecvFile {
                stream,
                sock,
                buf,
                cancelled: cancelled.clone(),
                throttle: self.throttle.clone(),
            });
        }
    }

    /// Hands the next sendfile task to a worker, or closes once everything is sent.
    fn drive_sendfile(&mut self) {
        let Body::SendFile { stream, sock, offset, end } = &mut self.body else { return };
        if self.socket.is_none() || stream.is_none() {
            return;
        }
        if *offset >= *end {
            return self.begin_close();
        }
        if let (Some(stream), Some(sock)) = (stream.take(), sock.take()) {
            self.tasks.push(PumpTask::SendFile {
                stream,
                sock,
                offset: *offset,
                end: *end,
                throttle: self.throttle.clone(),
            });
        }
    }

    /// Hands the next send task to a worker when the socket is attached and none runs. During
    /// the TLS handshake only once the client has sent something (registering the socket again
    /// reports it writable, and a task per such event would cycle a worker while it waits).
    fn drive_sendstream(&mut self) {
        let Body::SendStream { job, in_flight, .. } = &mut self.body else { return };
        if self.socket.is_none() || *in_flight {
            return;
        }
        let waits_for_client = job.as_ref().is_some_and(|j| {
            j.sock.is_handshaking()
                && !j.sock.wants_write()
                && !j.sock.has_pending_input()
                && !crate::sys::wait_readable(j.sock.as_fd(), 0)
        });
        if waits_for_client {
            return;
        }
        if let Some(job) = job.take() {
            *in_flight = true;
            self.tasks.push(PumpTask::SendStream(job));
        }
    }

    fn drive_send(&mut self, now: Instant) {
        loop {
            let (Some(socket), Body::Send { data, pos, file }) = (self.socket.as_mut(), &mut self.body) else { return };
            if *pos == data.len() {
                return self.begin_close();
            }
            // A listing is not limited (rclone limits transfers only).
            let allowed = if *file {
                match self.throttle.grant(data.len() - *pos) {
                    Ok(n) => n,
                    Err(at) => return self.throttled_until = Some(at),
                }
            } else {
                data.len() - *pos
            };
            let result = send_some(socket, &data[*pos..*pos + allowed]);
            self.throttle.unused(allowed - result.as_ref().map_or(0, |n| n.unwrap_or(0)));
            match result {
                Ok(Some(n)) => {
                    *pos += n;
                    self.record_progress(n, now);
                }
                Ok(None) => return,
                Err(lost) => return self.fail(lost.outcome(self.bytes)),
            }
        }
    }

    /// Everything was sent: close the stream cleanly, then report completion.
    fn begin_close(&mut self) {
        self.closing = true;
        self.drive_close();
    }

    fn drive_close(&mut self) {
        let Some(socket) = self.socket.as_mut() else { return };
        match socket.close_step() {
            Ok(false) => {}
            Ok(true) => self.finish(TransferOutcome::Complete { bytes: self.bytes }),
            Err(e) => match tls_failure(&e) {
                // The handshake of an empty transfer failed or was refused.
                Some(outcome) => self.fail(outcome),
                // Everything was delivered to the socket; a failure to say goodbye changes nothing.
                None => self.finish(TransferOutcome::Complete { bytes: self.bytes }),
            },
        }
    }

    fn record_progress(&mut self, n: usize, now: Instant) {
        self.bytes += n as u64;
        self.last_progress = now;
    }

    fn drive_download(&mut self, now: Instant) {
        loop {
            let Body::Download { stream, out, out_pos, ready, ready_bytes, spares, eof, .. } = &mut self.body else {
                return;
            };
            if *out_pos == out.len() {
                if let Some(next) = ready.pop_front() {
                    *ready_bytes -= next.len();
                    let old = std::mem::replace(out, next);
                    if old.capacity() > 0 {
                        spares.push(old);
                    }
                    *out_pos = 0;
                } else if *eof && stream.is_some() {
                    if self.socket.is_some() {
                        self.begin_close();
                    }
                    return;
                }
            }
            self.submit_read();
            let Body::Download { out, out_pos, .. } = &mut self.body else { return };
            let Some(socket) = self.socket.as_mut() else { return };
            if *out_pos == out.len() {
                return;
            }
            let allowed = match self.throttle.grant(out.len() - *out_pos) {
                Ok(n) => n,
                Err(at) => return self.throttled_until = Some(at),
            };
            let result = send_some(socket, &out[*out_pos..*out_pos + allowed]);
            self.throttle.unused(allowed - result.as_ref().map_or(0, |n| n.unwrap_or(0)));
            match result {
                Ok(Some(n)) => {
                    *out_pos += n;
                    self.record_progress(n, now);
                }
                Ok(None) => return,
                Err(lost) => return self.fail(lost.outcome(self.bytes)),
            }
        }
    }

    fn drive_upload(&mut self, now: Instant) {
        loop {
            let Body::Upload { stream, ascii, fill, fill_len, spare, eof, committing } = &mut self.body else { return };
            if *committing {
                return;
            }
            // Hand a full buffer (or the last one) to a worker when the stream is home.
            if stream.is_some() && (*fill_len == fill.len() || (*eof && *fill_len > 0)) {
                let next = spare.take().unwrap_or_else(|| vec![0; BUFFER_SIZE]);
                let buf = std::mem::replace(fill, next);
                let len = std::mem::take(fill_len);
                if let Some(stream) = stream.take() {
                    self.tasks.push(PumpTask::Write { stream, buf, len, ascii: ascii.take() });
                }
                continue;
            }
            if *eof && *fill_len == 0 {
                if let Some(stream) = stream.take() {
                    *committing = true;
                    self.tasks.push(PumpTask::Commit { stream, ascii: ascii.take() });
                }
                return;
            }
            if *eof || *fill_len == fill.len() {
                // Waiting for the worker: the socket is not read (backpressure).
                return;
            }
            let Some(socket) = self.socket.as_mut() else { return };
            let allowed = match self.throttle.grant(fill.len() - *fill_len) {
                Ok(n) => n,
                Err(at) => return self.throttled_until = Some(at),
            };
            let result = socket.read(&mut fill[*fill_len..*fill_len + allowed]);
            self.throttle.unused(allowed - result.as_ref().map_or(0, |n| *n));
            match result {
                Ok(0) => {
                    *eof = true;
                    // Answer the client's close_notify (TLS) before closing; one small record,
                    // sent best effort: the data is complete whatever happens to it.
                    if let Some(mut socket) = self.socket.take() {
                        let _ = socket.close_step();
                    }
                }
                Ok(n) => {
                    *fill_len += n;
                    self.record_progress(n, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return self.fail(
                        tls_failure(&e)
                            .unwrap_or(TransferOutcome::ConnectionLost("data connection reset by the client")),
                    )
                }
            }
        }
    }
}

impl Drop for Pump {
    /// A transfer torn down while a worker holds its socket stops that worker (an upload is
    /// then not committed; the reactor aborts it when the worker's result comes back).
    fn drop(&mut self) {
        self.stop_worker();
    }
}

/// Why a send stopped for good.
enum SendError {
    /// The socket accepted nothing (`write` returned 0).
    Closed,
    /// The client reset or closed the data connection before the end: a clean abort.
    ClosedByPeer,
    /// TLS failed or was refused on the data connection.
    Tls(TransferOutcome),
}

impl SendError {
    fn outcome(self, bytes: u64) -> TransferOutcome {
        match self {
            SendError::Closed => TransferOutcome::ConnectionLost("data connection closed"),
            SendError::ClosedByPeer => TransferOutcome::ClosedByPeer { bytes },
            SendError::Tls(outcome) => outcome,
        }
    }
}

/// The outcome for a TLS failure on the data connection, if `e` is one.
fn tls_failure(e: &io::Error) -> Option<TransferOutcome> {
    match e.kind() {
        // The connection logs these with the client's address (it knows it; the pump does not).
        io::ErrorKind::InvalidData
            if e.get_ref().is_some_and(|inner| inner.is::<crate::tls::stream::RecordError>()) =>
        {
            log::debug!("TLS on a data connection failed: {e}");
            Some(TransferOutcome::ConnectionLost("TLS record on the data connection failed"))
        }
        io::ErrorKind::InvalidData => {
            log::debug!("TLS on a data connection failed: {e}");
            Some(TransferOutcome::TlsRefused("TLS negotiation on the data connection failed"))
        }
        io::ErrorKind::PermissionDenied => {
            log::debug!("refused a data connection: {e}");
            Some(TransferOutcome::TlsRefused("the data connection must resume the control connection's TLS session"))
        }
        _ => None,
    }
}

/// Writes what the socket takes now: `Some(n)` bytes, or `None` when it would block.
fn send_some(socket: &mut NetStream, data: &[u8]) -> Result<Option<usize>, SendError> {
    loop {
        match socket.write(data) {
            Ok(0) => return Err(SendError::Closed),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(tls_failure(&e).map_or(SendError::ClosedByPeer, SendError::Tls)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;

    /// An endless file that counts the bytes read from it.
    struct Counting(Arc<AtomicU64>);

    impl ReadStream for Counting {
        fn read(&mut self, buf: &mut [u8]) -> backend::Result<usize> {
            self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
            Ok(buf.len())
        }
    }

    /// Bytes a download reads from its file before any client connects.
    fn read_before_the_client(read_ahead: usize) -> u64 {
        let read = Arc::new(AtomicU64::new(0));
        let body = TransferBody::Download {
            stream: Box::new(Counting(read.clone())),
            ascii: false,
            read_ahead,
            size: u64::MAX,
        };
        let now = Instant::now();
        let mut pump = Pump::new(1, body, now, true, Throttle::unlimited());
        loop {
            let tasks = pump.take_tasks();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                if let Some(done) = run_task(task, &|| false) {
                    pump.on_done(done, now);
                }
            }
        }
        read.load(Ordering::Relaxed)
    }

    #[test]
    fn a_download_reads_ahead_up_to_the_buffer_size_and_no_further() {
        // The buffer next to be sent is filled too, so that much more is read.
        let buffer = BUFFER_SIZE as u64;
        assert_eq!(read_before_the_client(0), 2 * buffer, "no read-ahead: the next buffer and one more");
        for ahead in [4u64 << 20, 16 << 20] {
            let read = read_before_the_client(ahead as usize);
            assert!((ahead + buffer..=ahead + 2 * buffer).contains(&read), "{ahead} of read-ahead read {read}");
        }
    }
}
