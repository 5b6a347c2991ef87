//! `Pump`: moves one transfer's bytes between its data socket (non-blocking, on the reactor)
//! and its file stream (blocking, on the workers).
//!
//! Memory is bounded: an upload has two buffers of `BUFFER_SIZE`; a download has the buffer
//! being sent plus up to `--buffer-size` of read-ahead (`BUFFER_SIZE` at least), filled only
//! while the file outpaces the client. Buffers are allocated as the transfer needs them and
//! freed when it ends; a slow client or a slow disk only makes the other side wait (the socket
//! is not read, or no read is submitted). Only one worker task per transfer is in flight, so
//! file operations stay in order.
//!
//! The pump does not own workers or the poll: it hands out `PumpTask`s and takes `PumpDone`s,
//! and the reactor moves them. A zero-copy path for local files (sendfile/splice) fits in as
//! another `Body` using `ReadStream::raw_fd`.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use crate::backend::{self, ReadStream, WriteStream};
use crate::data::ascii::{FromCrlf, ToCrlf};
use crate::data::{TransferBody, TransferOutcome};
use crate::tls::stream::NetStream;

/// Size of each of a transfer's two buffers.
pub const BUFFER_SIZE: usize = 256 * 1024;

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
}

/// Runs a pump task. Blocking; worker threads only.
pub fn run_task(task: PumpTask) -> Option<PumpDone> {
    match task {
        PumpTask::Read { mut stream, mut buf, mut ascii } => {
            let want = if ascii.is_some() { BUFFER_SIZE / 2 } else { BUFFER_SIZE };
            buf.resize(want, 0);
            let result = stream.read(&mut buf);
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
    }
}

enum Body {
    Send {
        data: Vec<u8>,
        pos: usize,
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
    tasks: Vec<PumpTask>,
    outcome: Option<TransferOutcome>,
}

impl Pump {
    /// A transfer waiting for its data connection.
    pub fn new(id: u64, body: TransferBody, now: Instant) -> Pump {
        let body = match body {
            TransferBody::Send(data) => Body::Send { data, pos: 0 },
            TransferBody::Download { stream, ascii, read_ahead } => Body::Download {
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
            tasks: Vec::new(),
            outcome: None,
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

    /// When bytes last moved (for the stall timeout).
    pub fn last_progress(&self) -> Instant {
        self.last_progress
    }

    /// Whether this transfer moves a file (RETR, STOR...), not a listing.
    pub fn moves_a_file(&self) -> bool {
        !matches!(self.body, Body::Send { .. })
    }

    /// Bytes moved on the data connection so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Attaches the data connection.
    pub fn attach(&mut self, socket: NetStream, now: Instant) {
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
        self.socket = None;
        if let Body::Upload { stream, .. } = &mut self.body {
            if let Some(stream) = stream.take() {
                self.tasks.push(PumpTask::Abort { stream });
            }
        }
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
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
        match self.body {
            Body::Send { .. } => self.drive_send(now),
            Body::Download { .. } => self.drive_download(now),
            Body::Upload { .. } => self.drive_upload(now),
        }
    }

    fn drive_send(&mut self, now: Instant) {
        loop {
            let (Some(socket), Body::Send { data, pos }) = (self.socket.as_mut(), &mut self.body) else { return };
            if *pos == data.len() {
                return self.begin_close();
            }
            match send_some(socket, &data[*pos..]) {
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
                    let mut old = std::mem::replace(out, next);
                    old.clear();
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
            match send_some(socket, &out[*out_pos..]) {
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
            match socket.read(&mut fill[*fill_len..]) {
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
        let body = TransferBody::Download { stream: Box::new(Counting(read.clone())), ascii: false, read_ahead };
        let now = Instant::now();
        let mut pump = Pump::new(1, body, now);
        loop {
            let tasks = pump.take_tasks();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                if let Some(done) = run_task(task) {
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
