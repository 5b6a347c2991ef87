use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::Server;

#[test]
fn dot_dot_and_absolute_paths_stay_inside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret"), b"s").unwrap();
    let root = tempfile::Builder::new().tempdir_in(outer.path()).unwrap();
    let s = Server::start_in(root, &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("CWD ../../../..").code, 250);
    assert_eq!(c.cmd("PWD").text(), "257 \"/\" is the current directory");
    for p in ["../secret", "/../secret", "../../../../../../etc/passwd", "/etc/passwd", "%2e%2e/secret", "..\\secret"] {
        let (_, r) = c.open_data(&format!("RETR {p}"));
        assert_eq!(r.code, 550, "{p}: {r:?}");
    }
    assert_eq!(c.cmd("MKD ../escaped").code, 257);
    assert!(s.path().join("escaped").is_dir(), "the new directory is inside the root");
    assert!(!outer.path().join("escaped").exists());
}

#[test]
fn symlinks_pointing_out_of_the_root_are_not_served() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"s").unwrap();
    let s = Server::start(&[]);
    std::os::unix::fs::symlink(outside.path(), s.path().join("dirlink")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), s.path().join("filelink")).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "");
    assert_eq!(c.cmd("CWD dirlink").code, 550);
    assert_eq!(c.cmd("SIZE filelink").code, 550);
    for p in ["filelink", "dirlink/secret"] {
        let (_, r) = c.open_data(&format!("RETR {p}"));
        assert_eq!(r.code, 550, "{p}");
    }
    let (_, r) = c.open_data("STOR dirlink/new");
    assert_eq!(r.code, 550);
    assert!(!outside.path().join("new").exists());
    assert_eq!(c.cmd("DELE filelink").code, 550);
    assert!(outside.path().join("secret").exists());
}

#[test]
fn a_fifo_is_not_served_and_never_holds_the_server() {
    // Opening a FIFO for reading waits for a writer: were it opened, the loop (or a worker)
    // would hang. More attempts than there are workers, then an ordinary download.
    let s = Server::start(&[]);
    let fifo = s.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::fs::write(s.path().join("plain.txt"), b"plain").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    for _ in 0..12 {
        let (_, r) = c.open_data("RETR pipe");
        assert_eq!(r.code, 550, "{r:?}");
    }
    assert_eq!(c.retr("plain.txt"), b"plain");
    assert_eq!(c.listing("NLST"), "plain.txt\r\n", "the FIFO is not listed");
}

#[test]
fn nul_and_cr_in_names_are_refused_and_never_echoed_raw() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    c.send_raw(b"MKD a\x00b\r\n");
    assert_eq!(c.reply().code, 553);
    // CR NUL is Telnet for a bare CR inside a line.
    c.send_raw(b"MKD evil\r\x00230 fake\r\n");
    let r = c.reply();
    assert_eq!(r.code, 553);
    assert_eq!(r.lines.len(), 1, "no injected reply line: {r:?}");
    c.send_raw(b"RETR \xff\xfe\r\n");
    assert_eq!(c.reply().code, 501, "not UTF-8");
    assert_eq!(std::fs::read_dir(s.path()).unwrap().count(), 0);
    assert_eq!(c.cmd("NOOP").code, 200);
}

#[test]
fn over_long_lines_get_500_and_the_session_goes_on() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    c.send_raw(&[vec![b'A'; 5000], b"\r\n".to_vec()].concat());
    assert_eq!(c.reply().code, 500);
    c.send_raw(&[b"NOOP ".to_vec(), vec![b'x'; 1 << 20], b"\r\nNOOP\r\n".to_vec()].concat());
    assert_eq!(c.reply().code, 500);
    assert_eq!(c.reply().code, 200);
    assert!(s.rss_kib() < 64 * 1024, "a 1 MiB line is not buffered");
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    let many: String = (0..300).map(|i| if i % 2 == 0 { "NOOP\r\n" } else { "PWD\r\n" }).collect();
    c.send_raw(many.as_bytes());
    for i in 0..300 {
        assert_eq!(c.reply().code, if i % 2 == 0 { 200 } else { 257 });
    }
}

#[test]
fn port_and_eprt_to_another_host_or_a_privileged_port_are_refused() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("PORT 10,0,0,1,200,10").code, 504);
    assert_eq!(c.cmd("PORT 127,0,0,2,200,10").code, 504);
    assert_eq!(c.cmd("EPRT |1|192.0.2.1|5000|").code, 504);
    assert_eq!(c.cmd("EPRT |2|::1|5000|").code, 504);
    assert_eq!(c.cmd("PORT 127,0,0,1,0,22").code, 504);
    assert_eq!(c.cmd("PORT 1,2,3").code, 501);
}

#[test]
fn a_passive_connection_from_another_address_is_closed_and_not_used() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"for the real client").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let addr = c.pasv();
    // The thief comes from 127.0.0.2 (still loopback) and connects first.
    assert!(thief_is_refused("127.0.0.2", addr), "the connection from another address was closed unused");
    let mut data = TcpStream::connect(addr).unwrap();
    assert_eq!(c.cmd("RETR f").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply().code, 226);
    assert_eq!(got, b"for the real client");
    assert!(s.log().contains("refused a data connection from 127.0.0.2"), "{}", s.log());
}

/// Connects to `to` from the `source` address and reports whether the server closed the
/// connection without sending anything (std cannot bind before connect; Python can).
fn thief_is_refused(source: &str, to: SocketAddr) -> bool {
    let script = format!(
        "import socket,sys\ns=socket.socket()\ns.settimeout(10)\ns.bind(('{source}',0))\n\
         s.connect(('127.0.0.1',{}))\nsys.exit(0 if s.recv(64)==b'' else 1)\n",
        to.port()
    );
    std::process::Command::new("python3").args(["-c", &script]).status().is_ok_and(|s| s.success())
}

#[test]
fn a_connection_made_between_transfers_is_never_used_for_the_next_one() {
    // After a transfer the session may keep its passive port for the next PASV. Whatever
    // connects to that port in between (even from the client's own address) must be closed
    // unused, and the next transfer must go to the connection made after the 227.
    let s = Server::start(&[]);
    std::fs::write(s.path().join("a"), b"first").unwrap();
    std::fs::write(s.path().join("b"), b"second").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let first = c.pasv();
    let mut data = TcpStream::connect(first).unwrap();
    assert_eq!(c.cmd("RETR a").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"first");
    assert_eq!(c.reply().code, 226);
    // A stray connection to the old port, if it is still listening.
    let stray = TcpStream::connect(first).ok();
    let second = c.pasv();
    let mut data = TcpStream::connect(second).unwrap();
    data.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.cmd("RETR b").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"second");
    assert_eq!(c.reply().code, 226);
    if let Some(mut stray) = stray {
        stray.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        // Closed by the server without a byte: end of file or a reset, never data or a hang.
        assert!(matches!(stray.read(&mut buf), Ok(0) | Err(_)), "the stray connection got data");
    }
}

#[test]
fn with_a_one_port_range_idle_sessions_never_hold_the_port() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let range = format!("{port}-{port}");
    let s = Server::start(&["--passive-port", &range]);
    std::fs::write(s.path().join("f"), b"shared port").unwrap();
    let mut a = Client::login_anonymous(s.addr);
    let mut b = Client::login_anonymous(s.addr);
    for _ in 0..3 {
        assert_eq!(a.retr("f"), b"shared port");
        // a is idle now; b gets the one port at once.
        assert_eq!(b.retr("f"), b"shared port");
    }
}

#[test]
fn read_only_refuses_every_change_and_changes_nothing() {
    let s = Server::start(&["--read-only"]);
    std::fs::write(s.path().join("f"), b"keep").unwrap();
    std::fs::create_dir(s.path().join("d")).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    for cmd in ["STOR f", "STOR new", "APPE f", "STOU"] {
        let (_, r) = c.open_data(cmd);
        assert_eq!(r.code, 550, "{cmd}");
    }
    for cmd in ["MKD x", "RMD d", "DELE f", "RNFR f", "MFMT 20000101000000 f"] {
        assert_eq!(c.cmd(cmd).code, 550, "{cmd}");
    }
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"keep");
    assert_eq!(std::fs::read_dir(s.path()).unwrap().count(), 2);
    assert_eq!(c.retr("f"), b"keep", "reads still work");
    assert!(c.listing("MLSD").contains("perm=r;"));
}

#[test]
fn an_upload_is_invisible_until_complete_and_a_failed_one_keeps_the_old_file() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"old").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let mut other = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("STOR f");
    assert_eq!(r.code, 150);
    data.write_all(&vec![b'n'; 1 << 20]).unwrap();
    data.flush().unwrap();
    wait_until(Duration::from_secs(10), "the partial file is written", || {
        std::fs::read_dir(s.path()).unwrap().count() == 2
    });
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"old");
    assert_eq!(other.listing("NLST"), "f\r\n", "the partial upload is not listed");
    assert_eq!(other.retr("f"), b"old");
    // The client's connection breaks mid-upload: an abort, not a short file.
    drop(data);
    drop(c);
    wait_until(Duration::from_secs(10), "the partial file is removed", || {
        std::fs::read_dir(s.path()).unwrap().count() == 1
    });
    let now = std::fs::read(s.path().join("f")).unwrap();
    assert!(now == b"old" || now.len() == 1 << 20, "either the old file or the whole new one");
}
