//! A small blocking FTP client that returns raw replies (code and every text line), so tests
//! can assert exactly what the server sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One reply: its code and its lines (without CRLF).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Every line as received.
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A control connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    /// The control socket (for raw writes).
    pub stream: TcpStream,
    /// The greeting.
    pub greeting: Reply,
}

impl Client {
    /// Connects and reads the 220 greeting.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut c = Client { reader, stream, greeting: Reply { code: 0, lines: vec![] } };
        c.greeting = c.reply();
        assert_eq!(c.greeting.code, 220, "greeting: {:?}", c.greeting);
        c
    }

    /// Reads the 220 greeting on a connection the test opened itself (one that sent a PROXY
    /// header first, say).
    pub fn over(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut c = Client { reader, stream, greeting: Reply { code: 0, lines: vec![] } };
        c.greeting = c.reply();
        assert_eq!(c.greeting.code, 220, "greeting: {:?}", c.greeting);
        c
    }

    /// Connects and logs in as anonymous.
    pub fn login_anonymous(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr);
        c.login("anonymous", "test@example.com");
        c
    }

    /// USER + PASS, asserting 230.
    pub fn login(&mut self, user: &str, pass: &str) {
        let r = self.cmd(&format!("USER {user}"));
        assert_eq!(r.code, 331, "{r:?}");
        let r = self.cmd(&format!("PASS {pass}"));
        assert_eq!(r.code, 230, "{r:?}");
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> Reply {
        let mut lines = Vec::new();
        let mut first_code: Option<String> = None;
        loop {
            let mut raw = Vec::new();
            let n = self.reader.read_until(b'\n', &mut raw).expect("read reply");
            assert!(n > 0, "connection closed while reading a reply (so far: {lines:?})");
            assert!(raw.ends_with(b"\r\n"), "reply line does not end in CRLF: {raw:?}");
            let line = String::from_utf8_lossy(&raw[..raw.len() - 2]).into_owned();
            lines.push(line.clone());
            match &first_code {
                None => {
                    let code = line.get(..3).expect("reply code").to_string();
                    if line.as_bytes().get(3) == Some(&b'-') {
                        first_code = Some(code);
                    } else {
                        return Reply { code: code.parse().expect("numeric code"), lines };
                    }
                }
                Some(code) => {
                    if line.starts_with(&format!("{code} ")) {
                        return Reply { code: code.parse().expect("numeric code"), lines };
                    }
                }
            }
        }
    }

    /// Sends a command line and reads its reply.
    pub fn cmd(&mut self, line: &str) -> Reply {
        self.send(line);
        self.reply()
    }

    /// Sends a command line without reading.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Whether the server has closed the control connection (reads EOF within `timeout`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).expect("timeout");
        let mut buf = [0u8; 512];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// PASV; returns the data address from the 227 reply.
    pub fn pasv(&mut self) -> SocketAddr {
        let r = self.cmd("PASV");
        assert_eq!(r.code, 227, "{r:?}");
        let inner = r.lines[0].split('(').nth(1).and_then(|s| s.split(')').next()).expect("227 numbers");
        let n: Vec<u16> = inner.split(',').map(|x| x.trim().parse().expect("number")).collect();
        SocketAddr::from(([n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8], n[4] * 256 + n[5]))
    }

    /// EPSV; returns the data port.
    pub fn epsv(&mut self) -> u16 {
        let r = self.cmd("EPSV");
        assert_eq!(r.code, 229, "{r:?}");
        r.lines[0].split("|||").nth(1).and_then(|s| s.split('|').next()).and_then(|p| p.parse().ok()).expect("229 port")
    }

    /// PASV, connect, send `cmd`; returns the data socket and the preliminary reply.
    pub fn open_data(&mut self, cmd: &str) -> (TcpStream, Reply) {
        let addr = self.pasv();
        let data = TcpStream::connect(addr).expect("data connect");
        data.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let r = self.cmd(cmd);
        (data, r)
    }

    /// Downloads `path` (binary), asserting 150 then 226.
    pub fn retr(&mut self, path: &str) -> Vec<u8> {
        let (mut data, r) = self.open_data(&format!("RETR {path}"));
        assert_eq!(r.code, 150, "{r:?}");
        let mut out = Vec::new();
        data.read_to_end(&mut out).expect("read data");
        let r = self.reply();
        assert_eq!(r.code, 226, "{r:?}");
        out
    }

    /// Uploads `bytes` with `cmd` (`STOR x`, `APPE x`), asserting 150 then 226.
    pub fn store(&mut self, cmd: &str, bytes: &[u8]) -> Reply {
        let (mut data, r) = self.open_data(cmd);
        assert_eq!(r.code, 150, "{r:?}");
        data.write_all(bytes).expect("write data");
        drop(data);
        let r = self.reply();
        assert_eq!(r.code, 226, "{r:?}");
        r
    }

    /// A listing command's data (`LIST`, `NLST x`, `MLSD`), asserting 150 then 226.
    pub fn listing(&mut self, cmd: &str) -> String {
        let (mut data, r) = self.open_data(cmd);
        assert_eq!(r.code, 150, "{cmd}: {r:?}");
        let mut out = String::new();
        data.read_to_string(&mut out).expect("read listing");
        let r = self.reply();
        assert_eq!(r.code, 226, "{r:?}");
        out
    }
}
