//! `NetStream`: a non-blocking TCP stream, in clear text or with a rustls server session on
//! top, with the same read/write contract as a plain socket (`WouldBlock` when it must wait), so
//! the control channel and the transfer pump need not know which it is. AUTH TLS upgrades a
//! clear stream in place.
//!
//! TLS notes: a write goes into rustls' buffer only when the previous records reached the wire
//! (so memory stays bounded); `close_step` sends close_notify and flushes it; a peer that closes
//! the TCP connection without close_notify reads as end of file (vsftpd's default, for the
//! clients that do this), logged at debug.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ServerConnection;

/// Most plaintext handed to rustls per write (one batch of records).
const TLS_WRITE_CHUNK: usize = 64 * 1024;

/// Socket read size for TLS data connections. rustls reads at most 4 KiB of records per
/// `read_tls`, so an upload read straight from the socket costs a system call per 4 KiB; data
/// connections read this much at once and feed rustls from memory.
const TLS_DATA_READ: usize = 128 * 1024;

/// A TLS failure after the handshake (a record that fails authentication, an alert from the
/// peer): carried inside the `InvalidData` error a read returns, so a transfer can report a
/// broken connection rather than a failed negotiation.
#[derive(Debug)]
pub struct RecordError(pub rustls::Error);

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS failure after the handshake: {}", self.0)
    }
}

impl std::error::Error for RecordError {}

/// A control or data connection.
pub struct NetStream {
    io: Layered<TcpStream>,
    /// The TLS session is lent to a worker with the socket (see [`NetStream::lend`]).
    tls_lent: bool,
}

/// A data connection lent to a worker thread: a duplicate of the socket's descriptor and, under
/// TLS, the session itself, so one thread decrypts and writes the file (handing every buffer
/// from the reactor's core to a worker's cost more than the decryption). Blocking callers wait
/// on its descriptor (`AsFd`) when a call returns `WouldBlock`.
pub struct LentStream {
    io: Layered<std::net::TcpStream>,
}

/// A socket and, under TLS, the session on it: the reading, writing and closing that
/// [`NetStream`] (mio's socket, on the reactor) and [`LentStream`] (a std socket, on a worker)
/// share.
struct Layered<T> {
    tcp: T,
    tls: Option<Box<TlsLayer>>,
}

impl<T: Read + Write> Layered<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => self.tcp.read(buf),
            Some(tls) => tls.read(&mut self.tcp, buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => self.tcp.write(buf),
            Some(tls) => tls.write(&mut self.tcp, buf),
        }
    }

    fn flush_step(&mut self) -> io::Result<bool> {
        match self.tls.as_mut() {
            None => Ok(true),
            Some(tls) => tls.flush(&mut self.tcp),
        }
    }

    fn close_step(&mut self) -> io::Result<bool> {
        match self.tls.as_mut() {
            None => Ok(true),
            Some(tls) => tls.close_step(&mut self.tcp),
        }
    }
}

struct TlsLayer {
    conn: ServerConnection,
    /// For data connections under `--tls-require-reuse`: the resumption data the handshake must
    /// carry (the control session's token).
    must_resume: Option<[u8; 16]>,
    checked: bool,
    /// The handshake's end was counted (see [`crate::tls::HANDSHAKES_OK`]).
    handshake_counted: bool,
    close_sent: bool,
    /// Data connections only: records read from the socket and not yet given to rustls.
    inbuf: Option<InBuf>,
    /// Data connections only: an error met while gathering more records after some plaintext
    /// was already read; the next read reports it.
    deferred_error: Option<io::Error>,
}

impl Drop for TlsLayer {
    /// A handshake that never completed (refused, broken, or abandoned by the client) counts
    /// as failed.
    fn drop(&mut self) {
        if !self.handshake_counted {
            crate::tls::HANDSHAKES_FAILED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Bytes read from the socket ahead of rustls: `data[start..end]` is pending.
struct InBuf {
    data: Box<[u8]>,
    start: usize,
    end: usize,
}

impl NetStream {
    /// A clear-text stream.
    pub fn plain(tcp: TcpStream) -> NetStream {
        NetStream { io: Layered { tcp, tls: None }, tls_lent: false }
    }

    /// Puts TLS on this stream from now on. `token` is written into the tickets this session
    /// issues.
    pub fn start_tls(&mut self, mut conn: ServerConnection, token: [u8; 16]) {
        conn.set_resumption_data(&token);
        self.io.tls = Some(Box::new(TlsLayer {
            conn,
            must_resume: None,
            checked: false,
            handshake_counted: false,
            close_sent: false,
            inbuf: None,
            deferred_error: None,
        }));
    }

    /// Puts TLS on a data connection: as [`start_tls`](Self::start_tls), reading the socket in
    /// large blocks (the buffer lives as long as the connection); `must_resume` demands that the
    /// handshake resumed a session carrying `token` (`--tls-require-reuse`).
    pub fn start_data_tls(&mut self, conn: ServerConnection, token: [u8; 16], must_resume: bool) {
        self.start_tls(conn, token);
        if let Some(tls) = self.io.tls.as_mut() {
            tls.must_resume = must_resume.then_some(token);
            tls.inbuf = Some(InBuf { data: vec![0; TLS_DATA_READ].into_boxed_slice(), start: 0, end: 0 });
        }
    }

    /// The TCP socket, for (de)registering it with the reactor.
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.io.tcp
    }

    /// Whether this stream is TLS.
    pub fn is_tls(&self) -> bool {
        self.io.tls.is_some() || self.tls_lent
    }

    /// The socket's descriptor when the stream is plain TCP (for sendfile); `None` under TLS,
    /// where every byte must pass through rustls.
    pub fn plain_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        (!self.is_tls()).then(|| self.io.tcp.as_fd())
    }

    /// Lends the connection to a worker: a duplicate of the descriptor, and the TLS session if
    /// there is one. Until it is given back this stream must not be read or written; it can
    /// still be registered, deregistered and shut down (which stops the worker).
    ///
    /// # Errors
    /// The descriptor could not be duplicated; nothing was lent.
    pub fn lend(&mut self) -> io::Result<LentStream> {
        use std::os::fd::AsFd;
        let fd = self.io.tcp.as_fd().try_clone_to_owned()?;
        let tls = self.io.tls.take();
        self.tls_lent = tls.is_some();
        Ok(LentStream { io: Layered { tcp: std::net::TcpStream::from(fd), tls } })
    }

    /// Shuts the socket down in both directions now (stops a sendfile running on a worker
    /// through a duplicate of the descriptor).
    pub fn shutdown_now(&self) {
        let _ = self.io.tcp.shutdown(std::net::Shutdown::Both);
    }

    /// Takes back what [`lend`](Self::lend) lent (the duplicate descriptor is closed).
    pub fn give_back(&mut self, lent: LentStream) {
        if lent.io.tls.is_some() {
            self.io.tls = lent.io.tls;
        }
        self.tls_lent = false;
    }

    /// Reads plaintext. `Ok(0)` is end of stream; `WouldBlock` means wait for readiness.
    ///
    /// # Errors
    /// Socket errors; `InvalidData` for a TLS failure (bad handshake, bad record, refused ALPN);
    /// `PermissionDenied` when `--tls-require-reuse` is not met.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(buf)
    }

    /// Writes plaintext; `Ok(n)` may be less than `buf.len()`.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    /// Pushes buffered TLS records to the socket; true when nothing is left to send.
    ///
    /// # Errors
    /// Socket errors.
    pub fn flush_step(&mut self) -> io::Result<bool> {
        self.io.flush_step()
    }

    /// Ends the stream cleanly: for TLS, sends close_notify (once) and flushes; true when done.
    ///
    /// # Errors
    /// Socket errors.
    pub fn close_step(&mut self) -> io::Result<bool> {
        self.io.close_step()
    }
}

impl LentStream {
    /// As [`NetStream::read`].
    ///
    /// # Errors
    /// As [`NetStream::read`].
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(buf)
    }

    /// Writes plaintext; as [`NetStream::write`].
    ///
    /// # Errors
    /// As [`NetStream::write`].
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    /// Whether the connection is plain TCP (its bytes can be spliced; see `data::splice_recv`).
    pub fn is_plain(&self) -> bool {
        self.io.tls.is_none()
    }

    /// Whether the TLS handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.io.tls.as_ref().is_some_and(|tls| tls.conn.is_handshaking())
    }

    /// Whether bytes already read from the socket wait for rustls: no readiness event will
    /// announce them, so a caller must not wait on the socket for them.
    pub fn has_pending_input(&self) -> bool {
        self.io
            .tls
            .as_ref()
            .is_some_and(|tls| tls.deferred_error.is_some() || tls.inbuf.as_ref().is_some_and(|b| b.start < b.end))
    }

    /// Whether TLS records wait to be sent (a handshake reply the socket did not take).
    pub fn wants_write(&self) -> bool {
        self.io.tls.as_ref().is_some_and(|tls| tls.conn.wants_write())
    }

    /// As [`NetStream::flush_step`].
    ///
    /// # Errors
    /// Socket errors.
    pub fn flush_step(&mut self) -> io::Result<bool> {
        self.io.flush_step()
    }

    /// As [`NetStream::close_step`].
    ///
    /// # Errors
    /// As [`NetStream::close_step`].
    pub fn close_step(&mut self) -> io::Result<bool> {
        self.io.close_step()
    }
}

impl std::os::fd::AsFd for LentStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.tcp.as_fd()
    }
}

impl TlsLayer {
    /// Reads plaintext from the session (see [`NetStream::read`]). A data connection gathers
    /// every record already at hand, up to `buf.len()`: rustls yields one record (16 KiB) per
    /// read, and an upload written to storage 16 KiB at a time spent a quarter more CPU in the
    /// file system (profiled) than one written in large blocks.
    fn read<S: Read + Write>(&mut self, tcp: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.deferred_error.take() {
            return Err(e);
        }
        let mut filled = self.read_record(tcp, buf)?;
        if self.inbuf.is_none() || filled == 0 {
            return Ok(filled);
        }
        while filled < buf.len() {
            match self.read_record(tcp, &mut buf[filled..]) {
                // The end of the stream: the next read reports it again.
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.deferred_error = Some(e);
                    break;
                }
            }
        }
        Ok(filled)
    }

    /// Reads the plaintext of the records rustls has decrypted, or pulls more records first.
    fn read_record<S: Read + Write>(&mut self, tcp: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    log::debug!("TLS peer closed without close_notify; treating it as end of data");
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            if !self.pull(tcp)? {
                // TCP end of file: whatever rustls still holds, then the end.
                return Ok(self.conn.reader().read(buf).unwrap_or(0));
            }
        }
    }

    /// Writes plaintext into the session (see [`NetStream::write`]).
    fn write<S: Read + Write>(&mut self, tcp: &mut S, buf: &[u8]) -> io::Result<usize> {
        if !self.flush(tcp)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.conn.is_handshaking() {
            // Drive the handshake from the read side; data waits until it is done.
            match self.pull(tcp) {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::ConnectionAborted.into()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.conn.is_handshaking() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        self.check_resumption()?;
        let n = self.conn.writer().write(&buf[..buf.len().min(TLS_WRITE_CHUNK)])?;
        self.flush(tcp)?;
        Ok(n)
    }

    /// Sends close_notify once and flushes (see [`NetStream::close_step`]).
    fn close_step<S: Read + Write>(&mut self, tcp: &mut S) -> io::Result<bool> {
        if self.conn.is_handshaking() && !self.close_sent {
            // Nothing was sent yet (an empty listing or file): finish the handshake first, or
            // the client sees its handshake cut rather than an empty, properly closed stream.
            self.flush(tcp)?;
            match self.pull(tcp) {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::ConnectionAborted.into()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
            if self.conn.is_handshaking() {
                return Ok(false);
            }
        }
        self.check_resumption()?;
        if !self.close_sent {
            self.conn.send_close_notify();
            self.close_sent = true;
        }
        self.flush(tcp)
    }

    /// Sends what rustls has queued; true when all of it went out.
    fn flush<S: Write>(&mut self, tcp: &mut S) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads TLS records from the socket (or the data connection's read buffer) and processes
    /// them. `Ok(false)` at TCP end of file.
    fn pull<S: Read + Write>(&mut self, tcp: &mut S) -> io::Result<bool> {
        loop {
            let read = match self.inbuf.as_mut() {
                None => self.conn.read_tls(tcp),
                Some(inbuf) => {
                    if inbuf.start == inbuf.end {
                        match tcp.read(&mut inbuf.data) {
                            Ok(0) => return Ok(false),
                            Ok(n) => (inbuf.start, inbuf.end) = (0, n),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    let mut pending = &inbuf.data[inbuf.start..inbuf.end];
                    let n = self.conn.read_tls(&mut pending)?;
                    inbuf.start += n;
                    // rustls takes nothing more until it has processed what it holds.
                    Ok(n.max(1))
                }
            };
            match read {
                Ok(0) => return Ok(false),
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Send the alert rustls queued, then fail.
            let _ = self.flush(tcp);
            if self.conn.is_handshaking() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordError(e)));
        }
        if !self.handshake_counted && !self.conn.is_handshaking() {
            self.handshake_counted = true;
            crate::tls::HANDSHAKES_OK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.check_resumption()?;
        // Handshake replies go out at once.
        self.flush(tcp)?;
        Ok(true)
    }

    /// SECURITY: under `--tls-require-reuse` a data connection must have resumed a session
    /// whose tickets carry this control session's token; another client cannot have one.
    fn check_resumption(&mut self) -> io::Result<()> {
        if self.checked || self.conn.is_handshaking() {
            return Ok(());
        }
        self.checked = true;
        if let Some(token) = self.must_resume {
            if self.conn.received_resumption_data() != Some(&token[..]) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the data connection did not resume the control connection's TLS session",
                ));
            }
        }
        Ok(())
    }
}
