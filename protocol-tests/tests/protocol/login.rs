use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::Server;

#[test]
fn anonymous_with_any_password_by_default() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    c.login("anonymous", "whatever");
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd("USER ftp").code, 331);
    assert_eq!(c.cmd("PASS x").code, 530, "only --user may log in");
}

#[test]
fn configured_user_and_password() {
    let s = Server::start(&["--user", "alice", "--pass", "s3cret"]);
    let mut c = Client::connect(s.addr);
    c.login("alice", "s3cret");
    assert_eq!(c.cmd("PWD").code, 257);
    assert!(!s.log().contains("s3cret"), "the password must never be logged");
}

#[test]
fn wrong_password_gets_530_after_a_growing_delay() {
    let s = Server::start(&["--user", "alice", "--pass", "s3cret", "-vv"]);
    let mut c = Client::connect(s.addr);
    let mut delays = Vec::new();
    for _ in 0..2 {
        assert_eq!(c.cmd("USER alice").code, 331);
        let t = Instant::now();
        assert_eq!(c.cmd("PASS wrong").code, 530);
        delays.push(t.elapsed());
    }
    assert!(delays[0] >= Duration::from_millis(900), "{delays:?}");
    assert!(delays[1] >= Duration::from_millis(1900), "{delays:?}");
    c.login("alice", "s3cret");
    assert!(s.log().contains("PASS ****") && !s.log().contains("wrong"), "passwords are redacted in -vv logs");
}

#[test]
fn commands_before_login_get_530_but_info_commands_work() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    for cmd in ["PWD", "LIST", "RETR x", "CWD /", "PASV", "MKD x", "SIZE x"] {
        assert_eq!(c.cmd(cmd).code, 530, "{cmd}");
    }
    assert_eq!(c.cmd("SYST").code, 215);
    assert_eq!(c.cmd("FEAT").code, 211);
    assert_eq!(c.cmd("HELP").code, 214);
    assert_eq!(c.cmd("NOOP").code, 200);
    assert_eq!(c.cmd("STAT").code, 211);
    assert_eq!(c.cmd("PASS x").code, 503, "PASS before USER");
}

#[test]
fn reconnecting_does_not_reset_the_login_delay() {
    let s = Server::start(&["--user", "alice", "--pass", "s3cret"]);
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd("USER alice").code, 331);
    assert_eq!(c.cmd("PASS wrong").code, 530);
    drop(c);
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd("USER alice").code, 331);
    let t = Instant::now();
    assert_eq!(c.cmd("PASS wrong").code, 530);
    assert!(t.elapsed() >= Duration::from_millis(1900), "second failure from this IP waits 2 s: {:?}", t.elapsed());
    c.login("alice", "s3cret");
}
