//! systemd: ftpvfs started by `systemd-socket-activate` on a socket it holds, serving on it
//! (not on `--addr`), and telling a test-owned notify socket `READY=1`, `WATCHDOG=1`,
//! `RELOADING=1` then `READY=1` on SIGHUP, and `STOPPING=1` on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::{binary, have};

/// Reads notify datagrams until one holds `what`; returns it.
fn wait_for(socket: &UnixDatagram, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == what) {
                return msg;
            }
        }
    }
    panic!("no {what:?} on the notify socket within 15 s");
}

#[test]
fn socket_activation_and_the_notify_protocol() {
    assert!(have("systemd-socket-activate"), "systemd-socket-activate (Debian's systemd package) is needed");
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), b"from an activated socket").unwrap();
    // The activator needs a concrete port: take a free one from the kernel.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new("systemd-socket-activate")
        .args(["-l", &addr.to_string(), "--fdname=ftp"])
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .arg("--setenv=WATCHDOG_USEC=400000")
        .arg(binary())
        .args(["serve", root.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The activator listens at once; ftpvfs answers on that socket.
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready = wait_for(&notify, "READY=1");
    assert!(ready.contains(&format!("STATUS=Serving FTP on {addr}")), "{ready}");
    let mut c = Client::connect(addr);
    c.login("anonymous", "x");
    assert_eq!(c.retr("hello.txt"), b"from an activated socket");
    wait_for(&notify, "WATCHDOG=1");
    let pid = child.id().to_string();
    protocol_tests::run_ok(Command::new("kill").args(["-HUP", &pid]));
    let reloading = wait_for(&notify, "RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    wait_for(&notify, "READY=1");
    protocol_tests::run_ok(Command::new("kill").args(["-TERM", &pid]));
    wait_for(&notify, "STOPPING=1");
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "ftpvfs did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log: Vec<String> = rx.try_iter().collect();
    assert!(log.iter().any(|l| l.contains(&format!("Serving FTP on {addr}"))), "served on the passed socket: {log:?}");
}

#[test]
fn the_shipped_units_pass_systemd_analyze_verify() {
    assert!(have("systemd-analyze"), "systemd-analyze (Debian's systemd package) is needed");
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/systemd");
    let dir = tempfile::tempdir().unwrap();
    for unit in ["ftpvfs.socket", "ftpvfs.service"] {
        // Point ExecStart at the binary under test (verify checks that it exists).
        let text = std::fs::read_to_string(dist.join(unit)).unwrap();
        let text = text.replace("/usr/local/bin/ftpvfs", binary().to_str().unwrap());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("ftpvfs.socket"))
        .arg(dir.path().join("ftpvfs.service"))
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
}
