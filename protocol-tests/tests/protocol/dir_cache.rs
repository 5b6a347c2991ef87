//! The directory cache seen through LIST: changes made through the server show at once,
//! outside changes when the listing expires or right after SIGHUP; `--dir-cache-time 0` caches
//! nothing.

use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::Server;

#[test]
fn outside_changes_show_when_the_listing_expires() {
    let s = Server::start(&["--dir-cache-time", "2s"]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "");
    let t = Instant::now();
    std::fs::write(s.path().join("outside.txt"), b"x").unwrap();
    assert_eq!(c.listing("NLST"), "", "the cached listing is still used");
    assert_eq!(c.cmd("SIZE outside.txt").code, 550, "a stat is answered from the cached listing");
    wait_until(Duration::from_secs(10), "the listing expires", || c.listing("NLST") == "outside.txt\r\n");
    assert!(t.elapsed() >= Duration::from_millis(1500), "not before the cache time");
    assert_eq!(c.cmd("SIZE outside.txt").text(), "213 1");
}

#[test]
fn changes_through_the_server_show_at_once() {
    let s = Server::start(&["--dir-cache-time", "1h"]);
    let mut c = Client::login_anonymous(s.addr);
    let mut other = Client::login_anonymous(s.addr);
    assert_eq!(other.listing("NLST"), "");
    c.store("STOR a", b"1");
    assert_eq!(c.cmd("MKD d").code, 257);
    assert_eq!(other.listing("NLST"), "a\r\nd\r\n");
    c.store("APPE a", b"23");
    assert_eq!(other.cmd("SIZE a").text(), "213 3");
    assert_eq!(c.cmd("RNFR a").code, 350);
    assert_eq!(c.cmd("RNTO d/b").code, 250);
    assert_eq!(other.listing("NLST"), "d\r\n");
    assert_eq!(other.listing("NLST d"), "b\r\n");
    assert_eq!(c.cmd("DELE d/b").code, 250);
    assert_eq!(other.listing("NLST d"), "");
}

#[test]
fn sighup_flushes_the_cache_and_zero_caches_nothing() {
    let s = Server::start(&["--dir-cache-time", "1h"]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "");
    std::fs::write(s.path().join("outside.txt"), b"x").unwrap();
    assert_eq!(c.listing("NLST"), "");
    s.signal("HUP");
    wait_until(Duration::from_secs(5), "the flush is logged", || s.log().contains("flushed the directory cache"));
    assert_eq!(c.listing("NLST"), "outside.txt\r\n");
    drop(c);
    let s = Server::start(&["--dir-cache-time", "0"]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "");
    std::fs::write(s.path().join("now.txt"), b"x").unwrap();
    assert_eq!(c.listing("NLST"), "now.txt\r\n");
}
