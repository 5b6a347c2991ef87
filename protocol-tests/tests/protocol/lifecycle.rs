use std::io::Read;
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::{pattern, Server};

#[test]
fn idle_and_login_timeouts_close_with_421() {
    let s = Server::start(&["--idle-timeout", "1s", "--login-timeout", "1s"]);
    let mut c = Client::connect(s.addr);
    let r = c.reply();
    assert_eq!(r.code, 421, "{r:?}");
    assert!(c.closed_within(Duration::from_secs(5)));
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.reply().code, 421);
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn an_unclaimed_passive_port_times_out() {
    let s = Server::start(&["--data-timeout", "1s"]);
    std::fs::write(s.path().join("f"), b"x").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let _ = c.pasv();
    assert_eq!(c.cmd("RETR f").code, 150);
    assert_eq!(c.reply().code, 425, "nobody connected in time");
    assert_eq!(c.retr("f"), b"x", "a new PASV works");
}

#[test]
fn max_connections_refuses_extra_sessions_with_421() {
    let s = Server::start(&["--max-connections", "2"]);
    let _a = Client::connect(s.addr);
    let _b = Client::connect(s.addr);
    let mut raw = std::net::TcpStream::connect(s.addr).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("421 "), "{text:?}");
}

#[test]
fn sigterm_lets_a_transfer_finish_then_exits_0() {
    let mut s = Server::start(&[]);
    std::fs::write(s.path().join("big"), pattern(16 << 20, 5)).unwrap();
    let mut idle = Client::login_anonymous(s.addr);
    let mut c = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("RETR big");
    assert_eq!(r.code, 150);
    let mut first = vec![0; 1024];
    data.read_exact(&mut first).unwrap();
    s.signal("TERM");
    assert_eq!(idle.reply().code, 421, "idle sessions are told at once");
    let mut rest = Vec::new();
    data.read_to_end(&mut rest).unwrap();
    assert_eq!(first.len() + rest.len(), 16 << 20, "the transfer in flight finished");
    assert_eq!(c.reply().code, 226);
    assert_eq!(c.reply().code, 421);
    assert!(s.wait_exit(Duration::from_secs(10)).success());
    assert!(std::net::TcpStream::connect(s.addr).is_err(), "no longer listening");
}

#[test]
fn sighup_keeps_serving() {
    let s = Server::start(&[]);
    s.signal("HUP");
    protocol_tests::wait::wait_until(Duration::from_secs(5), "SIGHUP logged", || s.log().contains("SIGHUP"));
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("NOOP").code, 200);
}
