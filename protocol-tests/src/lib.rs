//! Test harness: start the real `ftpvfs` binary on 127.0.0.1:0 with a fresh temporary root,
//! read the bound address from its first log line, and kill it on drop. Tests talk to it with
//! [`client::Client`] (raw replies), curl, Python's ftplib, lftp and rclone.

pub mod client;
pub mod dav;
pub mod fault_proxy;
pub mod s3;
pub mod wait;
pub mod web;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ftpvfs binary: `FTPVFS_BIN`, else `target/debug/ftpvfs` next to this test binary.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FTPVFS_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/protocol-xxxx -> target/debug/ftpvfs
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("ftpvfs");
    assert!(bin.exists(), "{} is missing: run `cargo build` first (the README's test command does)", bin.display());
    bin
}

/// A running ftpvfs.
pub struct Server {
    child: Option<Child>,
    /// The control address.
    pub addr: SocketAddr,
    /// The served directory (removed on drop).
    pub root: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

/// Passive ports for test servers: one shared range; the server skips ports in use.
pub const PASSIVE_RANGE: &str = "41000-44999";

impl Server {
    /// Starts `ftpvfs serve <fresh root> --addr 127.0.0.1:0 --passive-port ...` plus `args`.
    pub fn start(args: &[&str]) -> Server {
        Self::start_in(tempfile::tempdir().expect("tempdir"), args)
    }

    /// Starts the server on an existing root directory.
    pub fn start_in(root: tempfile::TempDir, args: &[&str]) -> Server {
        let remote = root.path().to_str().expect("UTF-8 temp path").to_string();
        Self::launch(root, &remote, args, &[])
    }

    /// Starts `ftpvfs serve REMOTE ...` with extra environment variables; `path()` is then an
    /// unused empty directory.
    pub fn start_remote(remote: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::launch(tempfile::tempdir().expect("tempdir"), remote, args, env)
    }

    /// Starts `ftpvfs serve` with no REMOTE:PATH (for `--auth-proxy`), with `args` and extra
    /// environment variables.
    pub fn start_without_remote(args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::launch(tempfile::tempdir().expect("tempdir"), "", args, env)
    }

    fn launch(root: tempfile::TempDir, remote: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(binary());
        cmd.arg("serve");
        if !remote.is_empty() {
            cmd.arg(remote);
        }
        cmd.args(["--addr", "127.0.0.1:0", "--passive-port", PASSIVE_RANGE]);
        cmd.envs(env.iter().copied());
        cmd.args(args).env_remove("RUST_LOG").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn ftpvfs");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                {
                    let mut l = log2.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                // Announce the address only once the line is in the log.
                if let Some(rest) = line.split("Serving FTP on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        // With --log-file the address line goes to that file instead of stderr.
        let log_file = args.iter().position(|a| *a == "--log-file").and_then(|i| args.get(i + 1)).map(PathBuf::from);
        let announced = match &log_file {
            None => rx.recv_timeout(Duration::from_secs(20)).ok(),
            Some(file) => {
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                loop {
                    let text = std::fs::read_to_string(file).unwrap_or_default();
                    if let Some(rest) = text.split("Serving FTP on ").nth(1) {
                        break Some(rest.split_whitespace().next().unwrap_or("").to_string());
                    }
                    if std::time::Instant::now() > deadline {
                        break None;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        let addr = match announced {
            Some(a) => a.parse().expect("bound address"),
            None => {
                let _ = child.kill();
                panic!("ftpvfs did not log its address; log:\n{}", log.lock().unwrap());
            }
        };
        Server { child: Some(child), addr, root, log }
    }

    /// The root directory on disk.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The port as text (for URLs).
    pub fn url(&self, path: &str) -> String {
        format!("ftp://{}{}", self.addr, path)
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill").args([&format!("-{sig}"), &pid]).status().expect("kill").success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for the process to exit (up to `timeout`) and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "ftpvfs did not exit within {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Memory use of the server process (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the ftpvfs binary with `args` (no server expected to stay up) and returns
/// (exit code, stdout, stderr). A process still running after 20 s is killed and the test fails.
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_env(args, &[])
}

/// As [`run_cli`], with extra environment variables.
pub fn run_cli_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ftpvfs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("ftpvfs {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// SHA-256 of bytes, hex.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Whether an external program is installed.
pub fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// A fresh self-signed certificate and key (PEM) for `cn` in `dir`, made with the openssl CLI;
/// returns (cert path, key path).
pub fn make_cert(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    openssl_cert(dir, cn, &[])
}

fn openssl_cert(dir: &Path, cn: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}")])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (the README's test command installs it)");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// Runs a command; asserts it succeeded (showing its output if not) and returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python 3 script; asserts it succeeded and returns its stdout.
pub fn python(script: &str) -> String {
    run_ok(Command::new("python3").args(["-c", script]))
}

/// A cert for `localhost` and `127.0.0.1` (subjectAltName, not a CA), so TLS clients that
/// check names (rustls) accept it once it is trusted (e.g. through `SSL_CERT_FILE`).
pub fn make_trusted_cert(dir: &Path) -> (PathBuf, PathBuf) {
    openssl_cert(
        dir,
        "localhost",
        &["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"],
    )
}

/// A running pyftpdlib server (anonymous, full write rights) on 127.0.0.1 with a fresh root,
/// killed on drop. The README's test command installs pyftpdlib.
pub struct PyFtpd {
    child: Child,
    /// Its control port.
    pub port: u16,
    /// The served directory.
    pub root: tempfile::TempDir,
}

impl PyFtpd {
    /// Starts it; panics (with the fix) if pyftpdlib is missing.
    pub fn start() -> PyFtpd {
        let root = tempfile::tempdir().expect("tempdir");
        let script = r#"
import logging, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
auth = DummyAuthorizer()
auth.add_anonymous(sys.argv[1], perm="elradfmwMT")
FTPHandler.authorizer = auth
FTPHandler.permit_foreign_addresses = False
server = FTPServer(("127.0.0.1", 0), FTPHandler)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            panic!("pyftpdlib did not start (is python3-pyftpdlib installed? protocol-tests/test-all.sh installs it)");
        };
        PyFtpd { child, port, root }
    }
}

impl Drop for PyFtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fail2ban-regex`: the one on PATH, else Debian's package unpacked by test-all.sh into
/// `~/.cache/ftpvfs-tests/fail2ban` (unpacked, not installed: no service is started).
pub fn fail2ban_regex() -> Command {
    if have("fail2ban-regex") {
        return Command::new("fail2ban-regex");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let root = PathBuf::from(home).join(".cache/ftpvfs-tests/fail2ban");
    let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
    let mut cmd = Command::new(python);
    cmd.arg(root.join("usr/bin/fail2ban-regex")).env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"));
    cmd
}

/// fail2ban's own `filter.d` (with `common.conf`, which filters include): the system's when
/// fail2ban is installed, else the one unpacked by test-all.sh.
pub fn fail2ban_filter_dir() -> PathBuf {
    if have("fail2ban-regex") {
        return PathBuf::from("/etc/fail2ban/filter.d");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/ftpvfs-tests/fail2ban/etc/fail2ban/filter.d")
}

/// HAProxy: the one on PATH, else Debian's package unpacked by test-all.sh into
/// `~/.cache/ftpvfs-tests/haproxy` with the libraries it needs (unpacked, not installed: no
/// service is started).
pub fn haproxy() -> Command {
    if have("haproxy") {
        return Command::new("haproxy");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let root = PathBuf::from(home).join(".cache/ftpvfs-tests/haproxy");
    let mut cmd = Command::new(root.join("usr/sbin/haproxy"));
    cmd.env("LD_LIBRARY_PATH", root.join("usr/lib/x86_64-linux-gnu"));
    cmd
}
