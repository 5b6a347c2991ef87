//! `FtpConn`: one blocking control connection to an FTP server (plain, implicit or explicit
//! TLS), logged in, with binary type set; and `DataStream`, one passive data connection.
//! Only worker threads use these; every socket has a read and write timeout, so a silent server
//! ends in an error, never a hung worker.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::backend::ftp::options::FtpOptions;
use crate::ftp::reply_parser::{parse_epsv, parse_pasv, parse_reply, RawReply, ReplyParse};

/// How long a connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a socket may be silent in the middle of a command or transfer (rclone's --timeout).
pub const IO_TIMEOUT: Duration = Duration::from_secs(300);

/// A failure talking to the server: the connection broke (and must be dropped), or the server
/// answered with a reply that is not the expected one (the connection is still good).
#[derive(Debug)]
pub enum FtpError {
    /// Network, TLS or protocol failure.
    Io(io::Error),
    /// A negative or unexpected reply.
    Reply(RawReply),
}

impl From<io::Error> for FtpError {
    fn from(e: io::Error) -> Self {
        FtpError::Io(e)
    }
}

impl std::fmt::Display for FtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FtpError::Io(e) => write!(f, "{e}"),
            FtpError::Reply(r) => write!(f, "server replied {}", r.summary()),
        }
    }
}

/// What the server said it supports in FEAT (RFC 2389).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerFeatures {
    /// MLST and MLSD (RFC 3659 §7).
    pub mlst: bool,
    /// MFMT (set modification time).
    pub mfmt: bool,
    /// AVBL (free space).
    pub avbl: bool,
    /// UTF8 (RFC 2640).
    pub utf8: bool,
}

impl ServerFeatures {
    fn from_feat(reply: &RawReply) -> ServerFeatures {
        let mut f = ServerFeatures::default();
        for line in reply.lines.iter().skip(1) {
            let word = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            match word.as_str() {
                "MLST" | "MLSD" => f.mlst = true,
                "MFMT" => f.mfmt = true,
                "AVBL" => f.avbl = true,
                "UTF8" => f.utf8 = true,
                _ => {}
            }
        }
        f
    }
}

/// TLS settings shared by every connection of one backend.
#[derive(Clone)]
pub struct TlsClient {
    /// The client config (its session store lets data connections resume).
    pub config: Arc<ClientConfig>,
    /// The name the certificate must match.
    pub name: ServerName<'static>,
}

enum Wire {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Wire {
    fn tcp(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => &s.sock,
        }
    }

    fn wrap(self, tls: &TlsClient) -> io::Result<Wire> {
        let tcp = match self {
            Wire::Plain(tcp) => tcp,
            Wire::Tls(_) => return Err(io::Error::other("TLS is already on")),
        };
        let conn = ClientConnection::new(tls.config.clone(), tls.name.clone()).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        // Handshake now, so a certificate problem is reported as such.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(Wire::Tls(Box::new(stream)))
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
        }
    }
}

/// One logged-in control connection.
pub struct FtpConn {
    wire: Wire,
    inbuf: Vec<u8>,
    peer: IpAddr,
    tls: Option<TlsClient>,
    epsv: bool,
    close_timeout: Duration,
    /// What FEAT said.
    pub features: ServerFeatures,
    /// The directory the server put us in after login (from PWD).
    pub home: String,
    /// When this connection last finished a command (for the pool's idle timeout).
    pub idle_since: Instant,
}

fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address found"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn expect(reply: RawReply, ok: impl Fn(u16) -> bool) -> Result<RawReply, FtpError> {
    if ok(reply.code) {
        Ok(reply)
    } else {
        Err(FtpError::Reply(reply))
    }
}

impl FtpConn {
    /// Connects, logs in and sets binary mode.
    ///
    /// # Errors
    /// The server cannot be reached, refuses TLS or the login, or does not speak FTP.
    pub fn connect(opts: &FtpOptions, tls: Option<&TlsClient>) -> Result<FtpConn, FtpError> {
        let tcp = connect_tcp(&opts.host, opts.port)?;
        let peer = tcp.peer_addr()?.ip();
        let mut wire = Wire::Plain(tcp);
        if opts.implicit_tls {
            let tls = tls.ok_or_else(|| io::Error::other("TLS is not configured"))?;
            wire = wire.wrap(tls)?;
        }
        let mut conn = FtpConn {
            wire,
            inbuf: Vec::new(),
            peer,
            tls: tls.cloned(),
            epsv: !opts.disable_epsv,
            close_timeout: opts.close_timeout,
            features: ServerFeatures::default(),
            home: String::from("/"),
            idle_since: Instant::now(),
        };
        let mut greeting = conn.reply()?;
        while greeting.class() == 1 {
            greeting = conn.reply()?;
        }
        expect(greeting, |c| c == 220)?;
        if opts.explicit_tls {
            expect(conn.command("AUTH TLS")?, |c| c == 234)?;
            let tls = tls.ok_or_else(|| io::Error::other("TLS is not configured"))?;
            let placeholder = Wire::Plain(conn.wire.tcp().try_clone()?);
            let wire = std::mem::replace(&mut conn.wire, placeholder);
            conn.wire = wire.wrap(tls)?;
        }
        let user = conn.command(&format!("USER {}", opts.user))?;
        if user.code == 331 {
            expect(conn.command(&format!("PASS {}", opts.pass))?, |c| c == 230 || c == 202)?;
        } else {
            expect(user, |c| c == 230)?;
        }
        if let Ok(feat) = conn.command("FEAT") {
            if feat.code == 211 {
                conn.features = ServerFeatures::from_feat(&feat);
            }
        }
        if opts.tls() {
            expect(conn.command("PBSZ 0")?, |c| c == 200)?;
            expect(conn.command("PROT P")?, |c| c == 200)?;
        }
        if conn.features.utf8 && !opts.disable_utf8 {
            let _ = conn.command("OPTS UTF8 ON")?;
        }
        expect(conn.command("TYPE I")?, |c| c == 200)?;
        let pwd = expect(conn.command("PWD")?, |c| c == 257)?;
        conn.home = quoted_path(pwd.text()).unwrap_or_else(|| "/".into());
        Ok(conn)
    }

    /// Sends one command line (CRLF added; the line must not hold CR or LF).
    ///
    /// # Errors
    /// The connection broke.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        if line.contains(['\r', '\n']) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a command cannot hold CR or LF"));
        }
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.wire.write_all(&out)?;
        self.wire.flush()
    }

    /// Reads the next reply.
    ///
    /// # Errors
    /// The connection broke, timed out, or sent something that is not a reply.
    pub fn reply(&mut self) -> io::Result<RawReply> {
        loop {
            match parse_reply(&self.inbuf) {
                ReplyParse::Complete(reply, used) => {
                    self.inbuf.drain(..used);
                    if reply.code == 421 {
                        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, reply.summary()));
                    }
                    self.idle_since = Instant::now();
                    return Ok(reply);
                }
                ReplyParse::Invalid(why) => return Err(io::Error::new(io::ErrorKind::InvalidData, why)),
                ReplyParse::Incomplete => {}
            }
            let mut chunk = [0u8; 4096];
            let n = self.wire.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the control connection"));
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and reads its reply (skipping nothing: a 1xx is returned as is).
    ///
    /// # Errors
    /// The connection broke.
    pub fn command(&mut self, line: &str) -> io::Result<RawReply> {
        self.send(line)?;
        self.reply()
    }

    /// Sends a command that must succeed with one of `codes`.
    ///
    /// # Errors
    /// The connection broke, or another reply came.
    pub fn expect(&mut self, line: &str, codes: &[u16]) -> Result<RawReply, FtpError> {
        expect(self.command(line)?, |c| codes.contains(&c))
    }

    /// `close_timeout`: how long the reply that ends a transfer may take.
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// Reads the reply that follows the end of a transfer, waiting at most `close_timeout`.
    ///
    /// # Errors
    /// The connection broke or the reply did not come in time.
    pub fn closing_reply(&mut self) -> io::Result<RawReply> {
        let _ = self.wire.tcp().set_read_timeout(Some(self.close_timeout.max(Duration::from_millis(1))));
        let reply = self.reply();
        let _ = self.wire.tcp().set_read_timeout(Some(IO_TIMEOUT));
        reply
    }

    /// Opens a passive data connection (EPSV, falling back to PASV for good if the server
    /// refuses it). The address in a 227 reply is ignored: data goes to the control peer.
    fn open_data(&mut self) -> Result<TcpStream, FtpError> {
        let mut port = None;
        if self.epsv {
            let r = self.command("EPSV")?;
            match (r.code, parse_epsv(r.text())) {
                (229, Some(p)) => port = Some(p),
                (229, None) => return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed 229 reply").into()),
                _ => self.epsv = false,
            }
        }
        let port = match port {
            Some(p) => p,
            None => {
                let r = expect(self.command("PASV")?, |c| c == 227)?;
                parse_pasv(r.text()).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed 227 reply"))?.1
            }
        };
        let tcp = TcpStream::connect_timeout(&SocketAddr::new(self.peer, port), CONNECT_TIMEOUT)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(tcp)
    }

    /// Starts a transfer: opens a data connection, sends `REST offset` (when non-zero) and
    /// `command`, and waits for the 1xx that says data flows.
    ///
    /// # Errors
    /// The connection broke, or the server refused (its reply).
    pub fn start_transfer(&mut self, command: &str, offset: u64) -> Result<DataStream, FtpError> {
        let tcp = self.open_data()?;
        if offset > 0 {
            self.expect(&format!("REST {offset}"), &[350])?;
        }
        let start = expect(self.command(command)?, |c| c == 125 || c == 150)?;
        log::trace!("ftp backend: {command}: {}", start.summary());
        let wire = match &self.tls {
            Some(tls) => Wire::Plain(tcp).wrap(tls)?,
            None => Wire::Plain(tcp),
        };
        Ok(DataStream { wire })
    }

    /// Reads the reply that ends a transfer.
    ///
    /// # Errors
    /// The connection broke, or the transfer failed (its reply).
    pub fn end_transfer(&mut self) -> Result<RawReply, FtpError> {
        expect(self.closing_reply()?, |c| c == 226 || c == 250)
    }
}

/// One data connection, plain or TLS.
pub struct DataStream {
    wire: Wire,
}

impl DataStream {
    /// Reads data; 0 at the end.
    ///
    /// # Errors
    /// The connection broke (a TLS stream that ends without close_notify is a broken one).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.wire.read(buf)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// The connection broke.
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.wire.write_all(buf)
    }

    /// Ends an upload cleanly: close_notify (TLS), half-close, then drain what the server
    /// still sends until it closes, so no unread byte turns our close into a reset that would
    /// cost the server the end of the data.
    ///
    /// # Errors
    /// The connection broke before the end was sent.
    pub fn finish_upload(mut self, timeout: Duration) -> io::Result<()> {
        if let Wire::Tls(s) = &mut self.wire {
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                s.conn.write_tls(&mut s.sock)?;
            }
        }
        self.wire.flush()?;
        self.wire.tcp().shutdown(Shutdown::Write)?;
        let _ = self.wire.tcp().set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let mut sink = [0u8; 1024];
        while let Ok(n) = self.wire.tcp().read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Drops the connection without a clean end (an aborted upload or an early-ended read).
    pub fn abandon(self) {
        let _ = self.wire.tcp().shutdown(Shutdown::Both);
    }
}

/// The path of a 257 reply: `"path"` with doubled quotes for literal ones (RFC 959).
pub fn quoted_path(text: &str) -> Option<String> {
    let rest = text.split_once('"')?.1;
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                out.push('"');
                chars.next();
                continue;
            }
            return Some(out);
        }
        out.push(c);
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quoted_paths() {
        assert_eq!(quoted_path("\"/home/u\" is the current directory").as_deref(), Some("/home/u"));
        assert_eq!(quoted_path("\"/a \"\"b\"\"\" ok").as_deref(), Some("/a \"b\""));
        assert_eq!(quoted_path("no quotes"), None);
    }

    #[test]
    fn features_from_feat() {
        let r = RawReply {
            code: 211,
            lines: vec!["Features:".into(), " MLST type*;size*;".into(), " MFMT".into(), " UTF8".into(), "End".into()],
        };
        let f = ServerFeatures::from_feat(&r);
        assert!(f.mlst && f.mfmt && f.utf8 && !f.avbl);
    }
}
