//! `ftpbench`: measures an FTP server (ftpvfs, or any server by address) and prints each figure
//! next to the raw TCP ceiling measured in the same run on the same machine.
//!
//! ```text
//! ftpbench --spawn target/release/ftpvfs [--size-mib 1024] [--tls]
//! ftpbench --addr 127.0.0.1:21 --user u --pass p [--pid N] [--root /srv/ftp] [--tls]
//! ```
//! Figures: raw TCP (loopback, in-process), RETR and STOR throughput (plain, and with `--tls`
//! PROT P through an in-process rustls client that resumes the control connection's TLS session
//! on each data connection and does not check the server's certificate), server CPU per GiB
//! (with a known server pid), small-file sessions per second (100 clients: login, 4 KiB STOR,
//! RETR, QUIT; server and client CPU per session), LIST and MLSD of 10,000 files (the
//! files are made in `--root` when given, else uploaded), idle server RSS and RSS per idle
//! logged-in session. Speed is measured here, never asserted in tests.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    addr: Option<SocketAddr>,
    spawn: Option<PathBuf>,
    user: String,
    pass: String,
    pid: Option<u32>,
    root: Option<PathBuf>,
    size_mib: u64,
    rounds: usize,
    clients: usize,
    sessions_per_client: usize,
    list_files: usize,
    idle_sessions: usize,
    tls: bool,
}

const USAGE: &str = "usage: ftpbench (--spawn FTPVFS_BINARY | --addr HOST:PORT [--pid PID] [--root DIR]) \
[--user U] [--pass P] [--size-mib N] [--rounds N] [--clients N] [--sessions-per-client N] \
[--list-files N] [--idle-sessions N] [--tls]";

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        addr: None,
        spawn: None,
        user: "anonymous".into(),
        pass: "bench@".into(),
        pid: None,
        root: None,
        size_mib: 1024,
        rounds: 3,
        clients: 100,
        sessions_per_client: 5,
        list_files: 10_000,
        idle_sessions: 1000,
        tls: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: {v:?} is not a number"));
        match flag.as_str() {
            "--addr" => {
                let v = value()?;
                o.addr = Some(v.to_socket_addrs().map_err(|e| format!("{v}: {e}"))?.next().ok_or("no address")?);
            }
            "--spawn" => o.spawn = Some(PathBuf::from(value()?)),
            "--user" => o.user = value()?,
            "--pass" => o.pass = value()?,
            "--pid" => o.pid = Some(number(value()?)? as u32),
            "--root" => o.root = Some(PathBuf::from(value()?)),
            "--size-mib" => o.size_mib = number(value()?)?,
            "--rounds" => o.rounds = number(value()?)?.max(1) as usize,
            "--clients" => o.clients = number(value()?)?.max(1) as usize,
            "--sessions-per-client" => o.sessions_per_client = number(value()?)?.max(1) as usize,
            "--list-files" => o.list_files = number(value()?)? as usize,
            "--idle-sessions" => o.idle_sessions = number(value()?)? as usize,
            "--tls" => o.tls = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if o.addr.is_none() == o.spawn.is_none() {
        return Err(format!("give exactly one of --spawn and --addr\n{USAGE}"));
    }
    Ok(o)
}

/// A byte stream the client talks over: a plain socket or TLS on one.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A control connection with just what the benchmark needs.
struct Ftp {
    /// The control connection.
    reader: BufReader<Box<dyn Stream>>,
    /// The server's address, for data connections.
    peer: IpAddr,
    /// Data connections use TLS with this configuration (PROT P).
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Ftp {
    fn login(addr: SocketAddr, user: &str, pass: &str) -> io::Result<Ftp> {
        Self::login_with(addr, user, pass, None)
    }

    /// Logs in; with `tls`, after AUTH TLS, and with PROT P for every data connection.
    fn login_with(addr: SocketAddr, user: &str, pass: &str, tls: Option<Arc<rustls::ClientConfig>>) -> io::Result<Ftp> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut ftp = Ftp { reader: BufReader::new(Box::new(stream.try_clone()?)), peer: addr.ip(), tls: None };
        ftp.expect(220)?;
        if let Some(config) = &tls {
            ftp.cmd_expect("AUTH TLS", 234)?;
            // Nothing follows 234 before the handshake, so the plain reader held no more bytes.
            ftp.reader = BufReader::new(Box::new(tls_client(config, addr.ip(), stream)?));
        }
        let r = ftp.cmd(&format!("USER {user}"))?;
        if r != 230 {
            if r != 331 {
                return Err(io::Error::other(format!("USER: {r}")));
            }
            ftp.cmd_expect(&format!("PASS {pass}"), 230)?;
        }
        if tls.is_some() {
            ftp.cmd_expect("PBSZ 0", 200)?;
            ftp.cmd_expect("PROT P", 200)?;
            ftp.tls = tls;
        }
        ftp.cmd_expect("TYPE I", 200)?;
        Ok(ftp)
    }

    fn reply(&mut self) -> io::Result<u16> {
        let mut line = String::new();
        let mut code: Option<String> = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::other("the server closed the control connection"));
            }
            match &code {
                None if line.as_bytes().get(3) == Some(&b'-') => code = Some(line[..3].to_string()),
                None => {
                    return line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| io::Error::other(line.clone()))
                }
                Some(c) if line.starts_with(&format!("{c} ")) => return c.parse().map_err(io::Error::other),
                Some(_) => {}
            }
        }
    }

    fn expect(&mut self, want: u16) -> io::Result<()> {
        let got = self.reply()?;
        if got == want {
            Ok(())
        } else {
            Err(io::Error::other(format!("expected {want}, got {got}")))
        }
    }

    fn cmd(&mut self, line: &str) -> io::Result<u16> {
        let control = self.reader.get_mut();
        control.write_all(format!("{line}\r\n").as_bytes())?;
        control.flush()?;
        self.reply()
    }

    fn cmd_expect(&mut self, line: &str, want: u16) -> io::Result<()> {
        let got = self.cmd(line)?;
        if got == want {
            Ok(())
        } else {
            Err(io::Error::other(format!("{line}: expected {want}, got {got}")))
        }
    }

    /// EPSV, connect, send `command`, expect 150/125; returns the data connection.
    fn data(&mut self, command: &str) -> io::Result<Data> {
        let control = self.reader.get_mut();
        control.write_all(b"EPSV\r\n")?;
        control.flush()?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let port: u16 = line
            .split("|||")
            .nth(1)
            .and_then(|s| s.split('|').next())
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| io::Error::other(format!("EPSV: {line}")))?;
        let data = TcpStream::connect((self.peer, port))?;
        let code = self.cmd(command)?;
        if code != 150 && code != 125 {
            return Err(io::Error::other(format!("{command}: {code}")));
        }
        match &self.tls {
            Some(config) => Ok(Data::Tls(Box::new(tls_client(config, self.peer, data)?))),
            None => Ok(Data::Plain(data)),
        }
    }

    fn retr_discard(&mut self, path: &str, buf: &mut [u8]) -> io::Result<u64> {
        let mut data = self.data(&format!("RETR {path}"))?;
        let mut total = 0u64;
        loop {
            let n = data.read(buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        drop(data);
        self.expect(226)?;
        Ok(total)
    }

    fn stor_pattern(&mut self, path: &str, bytes: u64, buf: &[u8]) -> io::Result<()> {
        let mut data = self.data(&format!("STOR {path}"))?;
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            data.write_all(&buf[..n])?;
            left -= n as u64;
        }
        data.finish()?;
        drop(data);
        self.expect(226)
    }

    fn listing(&mut self, command: &str) -> io::Result<usize> {
        let mut data = self.data(command)?;
        let mut text = Vec::new();
        data.read_to_end(&mut text)?;
        drop(data);
        self.expect(226)?;
        Ok(text.iter().filter(|b| **b == b'\n').count())
    }
}

/// A data connection: plain, or TLS (PROT P).
enum Data {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, ReadAhead>>),
}

impl Data {
    /// Ends an upload: under TLS says goodbye (close_notify) so the server knows the file is
    /// complete.
    fn finish(&mut self) -> io::Result<()> {
        if let Data::Tls(s) = self {
            s.conn.send_close_notify();
        }
        self.flush()
    }
}

impl Read for Data {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Data::Plain(s) => s.read(buf),
            Data::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Data {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Data::Plain(s) => s.write(buf),
            Data::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Data::Plain(s) => s.flush(),
            Data::Tls(s) => s.flush(),
        }
    }
}

/// TLS over `sock` to the server at `ip` (the handshake runs on first use). One configuration
/// for the control and every data connection, so data connections resume the control
/// connection's session as FTPS clients do.
fn tls_client(
    config: &Arc<rustls::ClientConfig>,
    ip: IpAddr,
    sock: TcpStream,
) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, ReadAhead>> {
    let name = rustls::pki_types::ServerName::IpAddress(ip.into());
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
    Ok(rustls::StreamOwned::new(
        conn,
        ReadAhead { sock, buf: vec![0; 256 * 1024].into_boxed_slice(), start: 0, end: 0 },
    ))
}

/// A socket read 256 KiB at a time. rustls asks for at most 4 KiB per `read_tls`; straight
/// from the socket that is a system call per 4 KiB, and the client, not the server, set the
/// PROT P download rate.
struct ReadAhead {
    sock: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            self.end = self.sock.read(&mut self.buf)?;
            self.start = 0;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl Write for ReadAhead {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.sock.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// The benchmark's TLS client configuration: ring, TLS 1.2 and 1.3, session resumption, and
/// any server certificate accepted (signatures are still checked). For measuring only.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts whatever certificate the server shows (a benchmark talks to a self-signed one).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs `rounds` downloads of `ftpbench.bin` (`size` bytes, checked) or uploads of `size`
/// bytes to `upload_name`; returns the median rate in bytes per second and, with a known server
/// pid, the server's CPU seconds per GiB over all rounds.
fn transfer_rounds(
    ftp: &mut Ftp,
    upload: bool,
    upload_name: &str,
    size: u64,
    rounds: usize,
    pattern: &[u8],
    pid: Option<u32>,
) -> Result<(f64, Option<f64>), String> {
    let e = |e: io::Error| e.to_string();
    let cpu = |pid: Option<u32>| pid.and_then(cpu_seconds);
    let mut buf = vec![0u8; 256 * 1024];
    let mut rates = Vec::new();
    let mut server_cpu = Some(0.0);
    for _ in 0..rounds {
        let c0 = cpu(pid);
        let start = Instant::now();
        if upload {
            ftp.stor_pattern(upload_name, size, pattern).map_err(e)?;
        } else {
            let got = ftp.retr_discard("ftpbench.bin", &mut buf).map_err(e)?;
            if got != size {
                return Err(format!("RETR: {got} of {size} bytes"));
            }
        }
        rates.push(size as f64 / start.elapsed().as_secs_f64());
        server_cpu = match (server_cpu, c0, cpu(pid)) {
            (Some(sum), Some(a), Some(b)) => Some(sum + b - a),
            _ => None,
        };
        if upload {
            // Each round stores a new file, as a first upload does: replacing the last one
            // frees a GiB of page cache inside the measurement (and on a VM whose freed memory
            // goes back to the host, the new pages fault in slowly).
            ftp.cmd_expect(&format!("DELE {upload_name}"), 250).map_err(e)?;
        }
    }
    Ok((median(rates), server_cpu.map(|s| s / (gib(size) * rounds as f64))))
}

/// Server CPU seconds (user + system) from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Bytes per second over loopback TCP between two threads of this process.
fn raw_tcp(bytes: u64) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let buf = vec![7u8; 256 * 1024];
    let start = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    drop(s);
    let got = reader.join().map_err(|_| io::Error::other("reader thread panicked"))??;
    Ok(got as f64 / start.elapsed().as_secs_f64())
}

/// The kernel's default TCP congestion control. It sets the loopback figures as much as any
/// server does: on one VM, bbr (which paces every flow) gave a 2 GB/s ceiling where cubic gave
/// 7, and a server's RETR cost three times the CPU, so a table is only read beside it.
fn congestion_control() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Target {
    addr: SocketAddr,
    pid: Option<u32>,
    root: Option<PathBuf>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(bin: &PathBuf, tls: bool) -> Result<Target, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("root");
    std::fs::create_dir(&root).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg(&root).args(["--addr", "127.0.0.1:0", "--passive-port", "45000-49999"]);
    cmd.args(["--max-connections", "20000", "--login-timeout", "10m", "--idle-timeout", "10m"]);
    if tls {
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let ok = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("openssl: {e}"))?;
        if !ok.success() {
            return Err("openssl failed".into());
        }
        cmd.arg("--cert").arg(&cert).arg("--key").arg(&key).arg("--tls-optional");
    }
    let mut child =
        cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else { return Err("ftpvfs exited before serving".into()) };
        if let Some(rest) = line.split("Serving FTP on ").nth(1) {
            break rest.split_whitespace().next().unwrap_or("").parse::<SocketAddr>().map_err(|e| e.to_string())?;
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Target { addr, pid: Some(child.id()), root: Some(root), child: Some(child), _dir: Some(dir) })
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn main() {
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&o) {
        eprintln!("ftpbench: {e}");
        std::process::exit(1);
    }
}

fn run(o: &Options) -> Result<(), String> {
    let target = match (&o.spawn, o.addr) {
        (Some(bin), _) => spawn(bin, o.tls)?,
        (None, Some(addr)) => Target { addr, pid: o.pid, root: o.root.clone(), child: None, _dir: None },
        _ => return Err(USAGE.into()),
    };
    let e = |e: io::Error| e.to_string();
    let size = o.size_mib << 20;
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let cpu = |pid: Option<u32>| pid.and_then(cpu_seconds);

    // Memory first, while the server is fresh.
    if let Some(pid) = target.pid {
        let idle = rss_kib(pid).unwrap_or(0);
        rows.push(("idle server RSS".into(), format!("{:.1} MiB", idle as f64 / 1024.0), String::new()));
    }

    let raw = median((0..o.rounds).map(|_| raw_tcp(size).unwrap_or(0.0)).collect());
    rows.push(("raw TCP ceiling (loopback)".into(), format!("{:.0} MB/s", raw / 1e6), "1.00x".into()));

    let mut ftp = Ftp::login(target.addr, &o.user, &o.pass).map_err(e)?;
    let pattern: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 7 + 3) as u8).collect();
    ftp.stor_pattern("ftpbench.bin", size, &pattern).map_err(e)?;

    let mut plain_rates = Vec::new();
    for (name, upload) in [("RETR", false), ("STOR", true)] {
        let (rate, per_gib) =
            transfer_rounds(&mut ftp, upload, "ftpbench-up.bin", size, o.rounds, &pattern, target.pid)?;
        plain_rates.push(rate);
        rows.push((
            format!("{name} {} MiB", o.size_mib),
            format!("{:.0} MB/s", rate / 1e6),
            format!("{:.2}x", rate / raw),
        ));
        if let Some(per_gib) = per_gib {
            rows.push((format!("{name} server CPU"), format!("{per_gib:.2} s/GiB"), String::new()));
        }
    }

    if o.tls {
        let mut tftp = Ftp::login_with(target.addr, &o.user, &o.pass, Some(tls_config()?)).map_err(e)?;
        for ((name, upload), plain) in [("RETR PROT P", false), ("STOR PROT P", true)].into_iter().zip(plain_rates) {
            let (rate, per_gib) =
                transfer_rounds(&mut tftp, upload, "ftpbench-tls.bin", size, o.rounds, &pattern, target.pid)?;
            let cpu_text = per_gib.map_or(String::new(), |c| format!(", server {c:.2} CPU-s/GiB"));
            rows.push((
                name.into(),
                format!("{:.0} MB/s ({:.2}x plain){cpu_text}", rate / 1e6, rate / plain),
                format!("{:.2}x", rate / raw),
            ));
        }
    }

    // Small files: clients each run sessions of login, STOR 4 KiB, RETR, QUIT.
    let c0 = cpu(target.pid);
    // This process's own CPU: the client shares the machine, and when it is the slower side
    // the sessions/s figure measures it rather than the server.
    let client0 = cpu_seconds(std::process::id());
    let start = Instant::now();
    let threads: Vec<_> = (0..o.clients)
        .map(|i| {
            let (addr, user, pass, rounds) = (target.addr, o.user.clone(), o.pass.clone(), o.sessions_per_client);
            std::thread::spawn(move || -> io::Result<()> {
                let small = vec![b's'; 4096];
                let mut buf = vec![0u8; 8192];
                for r in 0..rounds {
                    let mut f = Ftp::login(addr, &user, &pass)?;
                    let name = format!("small-{i}-{r}");
                    f.stor_pattern(&name, 4096, &small)?;
                    f.retr_discard(&name, &mut buf)?;
                    f.cmd_expect("QUIT", 221)?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a client thread panicked".to_string())?.map_err(e)?;
    }
    let sessions = (o.clients * o.sessions_per_client) as f64;
    let elapsed = start.elapsed().as_secs_f64();
    let mut cpu_text = match (c0, cpu(target.pid)) {
        (Some(a), Some(b)) => format!(", {:.2} ms server CPU each", (b - a) * 1000.0 / sessions),
        _ => String::new(),
    };
    if let (Some(a), Some(b)) = (client0, cpu_seconds(std::process::id())) {
        cpu_text.push_str(&format!(" (client {:.2} ms)", (b - a) * 1000.0 / sessions));
    }
    rows.push((
        format!("small files ({} clients x {})", o.clients, o.sessions_per_client),
        format!("{:.0} sessions/s{cpu_text}", sessions / elapsed),
        String::new(),
    ));

    // Listing 10,000 files.
    if o.list_files > 0 {
        ftp.cmd("MKD ftpbench-list").map_err(e)?;
        match &target.root {
            Some(root) => {
                for i in 0..o.list_files {
                    std::fs::write(root.join("ftpbench-list").join(format!("file-{i:06}.dat")), b"x").map_err(e)?;
                }
            }
            None => {
                for i in 0..o.list_files {
                    ftp.stor_pattern(&format!("ftpbench-list/file-{i:06}.dat"), 1, b"x").map_err(e)?;
                }
            }
        }
        for command in ["LIST", "MLSD"] {
            let mut times = Vec::new();
            for _ in 0..o.rounds.max(3) {
                let start = Instant::now();
                let lines = ftp.listing(&format!("{command} ftpbench-list")).map_err(e)?;
                times.push(start.elapsed().as_secs_f64());
                if lines < o.list_files {
                    return Err(format!("{command} listed {lines} of {} files", o.list_files));
                }
            }
            let first = times[0];
            rows.push((
                format!("{command} of {} files", o.list_files),
                format!("{:.3} s first, {:.3} s median", first, median(times)),
                String::new(),
            ));
        }
    }

    // Idle logged-in sessions.
    if let (Some(pid), true) = (target.pid, o.idle_sessions > 0) {
        let before = rss_kib(pid).unwrap_or(0);
        let mut held = Vec::with_capacity(o.idle_sessions);
        for _ in 0..o.idle_sessions {
            held.push(Ftp::login(target.addr, &o.user, &o.pass).map_err(e)?);
        }
        std::thread::sleep(Duration::from_millis(500));
        let after = rss_kib(pid).unwrap_or(0);
        let each = after.saturating_sub(before) as f64 / o.idle_sessions as f64;
        rows.push((
            format!("{} idle logged-in sessions", o.idle_sessions),
            format!("{each:.1} KiB each"),
            String::new(),
        ));
        drop(held);
    }

    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(10);
    println!(
        "ftpbench against {} ({} round(s), {} MiB files, TCP congestion control {})",
        target.addr,
        o.rounds,
        o.size_mib,
        congestion_control()
    );
    println!("{:width$}  {:>40}  vs raw TCP", "figure", "value");
    for (name, value, ratio) in rows {
        println!("{name:width$}  {value:>40}  {ratio}");
    }
    Ok(())
}
