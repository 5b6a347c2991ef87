//! The bad-input suite: each class of hostile or broken input gets the right reply or a clean
//! close, and afterwards the server still serves a fresh client with memory bounded.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{pattern, sha256, Server};

/// A fresh client logs in and gets answers, and the server's memory stayed bounded.
#[track_caller]
fn still_serves(s: &Server) {
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("NOOP").code, 200);
    let rss = s.rss_kib();
    assert!(rss < 64 * 1024, "server RSS {rss} KiB");
}

#[test]
fn cross_protocol_chatter_is_cut_off_after_ten_bad_commands() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    // An HTTP request sent to the FTP port.
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\nAccept: */*\r\n\r\n");
    let mut codes = Vec::new();
    // Five lines so far (the blank one included); five more make ten bad commands.
    c.send_raw(b"X-1: z\r\nX-2: z\r\nX-3: z\r\nX-4: z\r\nX-5: z\r\nX-6: never read\r\n");
    for _ in 0..10 {
        codes.push(c.reply().code);
    }
    codes.push(c.reply().code);
    assert_eq!(codes, [vec![500; 10], vec![421]].concat());
    assert!(c.closed_within(Duration::from_secs(5)));
    still_serves(&s);
}

#[test]
fn per_ip_connection_limit() {
    let s = Server::start(&["--max-connections-per-ip", "2"]);
    let _a = Client::connect(s.addr);
    let _b = Client::connect(s.addr);
    let mut raw = TcpStream::connect(s.addr).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("421 Too many connections from your address"), "{text:?}");
    drop(_a);
    wait_until(Duration::from_secs(5), "a slot frees up", || {
        let mut c = TcpStream::connect(s.addr).unwrap();
        let mut buf = [0u8; 3];
        c.read_exact(&mut buf).is_ok() && &buf == b"220"
    });
}

#[test]
fn repeated_failed_logins_ban_the_ip_for_a_while() {
    // The second 530 itself comes 2 s late, so the ban must outlast that.
    let s = Server::start(&["--user", "u", "--pass", "p", "--ban-after", "2", "--ban-time", "6s"]);
    let mut c = Client::connect(s.addr);
    for _ in 0..2 {
        assert_eq!(c.cmd("USER u").code, 331);
        assert_eq!(c.cmd("PASS wrong").code, 530);
    }
    let mut raw = TcpStream::connect(s.addr).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("421 Too many failed logins"), "{text:?}\n{}", s.log());
    let t = Instant::now();
    wait_until(Duration::from_secs(10), "the ban ends", || {
        let mut c = TcpStream::connect(s.addr).unwrap();
        let mut buf = [0u8; 3];
        c.read_exact(&mut buf).is_ok() && &buf == b"220"
    });
    assert!(t.elapsed() >= Duration::from_millis(1000), "banned for about 6 s from the second failure");
    let mut c = Client::connect(s.addr);
    c.login("u", "p");
}

#[test]
fn a_listing_over_the_cap_is_refused_not_truncated() {
    let s = Server::start(&["--max-list-entries", "5"]);
    std::fs::create_dir(s.path().join("big")).unwrap();
    std::fs::create_dir(s.path().join("small")).unwrap();
    for i in 0..6 {
        std::fs::write(s.path().join(format!("big/{i}")), b"x").unwrap();
    }
    for i in 0..5 {
        std::fs::write(s.path().join(format!("small/{i}")), b"x").unwrap();
    }
    let mut c = Client::login_anonymous(s.addr);
    for cmd in ["LIST big", "NLST big", "MLSD big"] {
        let (_, r) = c.open_data(cmd);
        assert_eq!(r.code, 550, "{cmd}: {r:?}");
    }
    assert_eq!(c.listing("NLST small").lines().count(), 5);
    still_serves(&s);
}

#[test]
fn cr_without_lf_telnet_sequences_and_high_bytes() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    c.send_raw(b"NOOP\rNOOP\r\n");
    assert_eq!(c.reply().code, 500, "a bare CR does not split a line");
    c.send_raw(b"\xff\xfb\x01NOOP\r\n");
    assert_eq!(c.reply().code, 200, "IAC WILL x is dropped");
    c.send_raw(b"N\xff\xffOOP\r\n");
    assert_eq!(c.reply().code, 500, "IAC IAC is a literal 0xFF");
    c.send_raw(b"MKD caf\xc3\xa9\r\n");
    assert_eq!(c.reply().code, 257, "UTF-8 names work");
    assert!(s.path().join("café").is_dir());
    assert_eq!(c.listing("NLST"), "café\r\n");
    c.send_raw(b"MKD \x80\x81\r\n");
    assert_eq!(c.reply().code, 501, "not UTF-8");
    still_serves(&s);
}

#[test]
fn half_open_tcp_gets_every_reply_then_a_close() {
    let s = Server::start(&[]);
    let mut raw = TcpStream::connect(s.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"USER anonymous\r\nPASS x\r\nPWD\r\n").unwrap();
    raw.shutdown(Shutdown::Write).unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).unwrap();
    let codes: Vec<&str> = text.lines().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["220", "331", "230", "257"], "{text:?}");
    still_serves(&s);
}

#[test]
fn a_client_that_never_reads_its_data_connection_times_out() {
    let s = Server::start(&["--data-timeout", "1s"]);
    std::fs::write(s.path().join("big"), pattern(64 << 20, 50)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let (data, r) = c.open_data("RETR big");
    assert_eq!(r.code, 150);
    let t = Instant::now();
    assert_eq!(c.reply().code, 426, "a stalled data connection ends the transfer");
    assert!(t.elapsed() < Duration::from_secs(10));
    drop(data);
    assert_eq!(c.cmd("NOOP").code, 200);
    still_serves(&s);
}

#[test]
fn a_download_read_in_fits_and_starts_arrives_whole_while_others_are_served() {
    // The reader pauses with the socket full many times: each pause leaves the server's
    // send waiting for room and handing the transfer back to the event loop.
    let s = Server::start(&[]);
    let data = pattern(24 << 20, 77);
    std::fs::write(s.path().join("big"), &data).unwrap();
    let mut slow = Client::login_anonymous(s.addr);
    assert_eq!(slow.cmd("TYPE I").code, 200);
    let (mut sock, r) = slow.open_data("RETR big");
    assert_eq!(r.code, 150);
    let mut other = Client::login_anonymous(s.addr);
    let mut got = Vec::with_capacity(data.len());
    let mut chunk = vec![0u8; 256 << 10];
    let mut pauses = 0;
    loop {
        let n = sock.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        if got.len() / (2 << 20) > pauses {
            pauses += 1;
            // Another session is answered at once while this download waits for its reader.
            assert_eq!(other.cmd("NOOP").code, 200);
            assert_eq!(other.cmd("SIZE big").text(), format!("213 {}", data.len()));
            std::thread::sleep(Duration::from_millis(40));
        }
    }
    assert_eq!(slow.reply().code, 226);
    assert_eq!(got.len(), data.len());
    assert_eq!(sha256(&got), sha256(&data));
    assert_eq!(slow.retr("big").len(), data.len(), "the session goes on with the next download");
    still_serves(&s);
}

#[test]
fn a_long_fast_download_outlasts_a_short_data_timeout() {
    // With no other work waiting, a worker sends for up to a second before it reports
    // progress; the stall clock must wait for that report rather than call a download that
    // moves all the time stalled. (A sparse file: 3 GiB of zeros cost no disk.)
    let s = Server::start(&["--data-timeout", "1s"]);
    let size = 3u64 << 30;
    std::fs::File::create(s.path().join("sparse")).unwrap().set_len(size).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    let (mut sock, r) = c.open_data("RETR sparse");
    assert_eq!(r.code, 150);
    let mut chunk = vec![0u8; 1 << 20];
    let (mut total, mut nonzero) = (0u64, false);
    loop {
        let n = sock.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        nonzero |= chunk[..n].iter().any(|b| *b != 0);
        total += n as u64;
    }
    assert_eq!(c.reply().code, 226);
    assert_eq!(total, size);
    assert!(!nonzero);
}

#[test]
fn a_client_that_stalls_mid_upload_times_out_and_leaves_no_file() {
    let s = Server::start(&["--data-timeout", "1s"]);
    let mut c = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("STOR stalled.bin");
    assert_eq!(r.code, 150);
    data.write_all(&pattern(1 << 20, 51)).unwrap();
    // Then nothing: the connection stays open and silent.
    let t = Instant::now();
    assert_eq!(c.reply().code, 426, "a stalled upload ends the transfer");
    assert!(t.elapsed() < Duration::from_secs(10));
    drop(data);
    wait_until(Duration::from_secs(10), "the partial upload is removed", || {
        std::fs::read_dir(s.path()).unwrap().count() == 0
    });
    assert_eq!(c.cmd("NOOP").code, 200);
    still_serves(&s);
}

#[test]
fn trickling_uploads_do_not_hold_the_workers() {
    // More trickling uploads than there are workers: each sends a byte every 5 ms, so a worker
    // receiving one would never see it pause. Another session must still be served promptly.
    let s = Server::start(&[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tricklers: Vec<_> = (0..12)
        .map(|i| {
            let (addr, stop) = (s.addr, stop.clone());
            std::thread::spawn(move || {
                let mut c = Client::login_anonymous(addr);
                let (mut data, r) = c.open_data(&format!("STOR trickle-{i}"));
                assert_eq!(r.code, 150);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if data.write_all(b"x").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                drop(data);
                c.reply().code
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let mut c = Client::login_anonymous(s.addr);
    std::fs::write(s.path().join("f"), b"served").unwrap();
    assert_eq!(c.retr("f"), b"served");
    assert!(t.elapsed() < Duration::from_secs(5), "a session waited {:?} behind trickling uploads", t.elapsed());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tricklers {
        assert_eq!(t.join().unwrap(), 226, "each trickled upload completes");
    }
}

#[test]
fn thousands_of_pasv_without_connecting_hold_one_port() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    let pipelined: String = "PASV\r\n".repeat(3000);
    c.send_raw(pipelined.as_bytes());
    for _ in 0..3000 {
        assert_eq!(c.reply().code, 227);
    }
    let pid_fds = std::fs::read_dir(format!("/proc/{}/fd", s.pid())).unwrap().count();
    assert!(pid_fds < 64, "each PASV replaces the last listener: {pid_fds} fds open");
    still_serves(&s);
}

#[test]
fn globs_recursion_and_long_paths_cost_nothing() {
    let s = Server::start(&[]);
    std::fs::create_dir_all(s.path().join("a/b/c")).unwrap();
    std::fs::write(s.path().join("a/b/c/deep"), b"x").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let t = Instant::now();
    for cmd in ["LIST *", "NLST *.txt", "LIST {a,b}/*", &format!("LIST {}", "*/".repeat(1000))] {
        let (_, r) = c.open_data(cmd);
        assert_eq!(r.code, 550, "{cmd}: no globbing, the name does not exist");
    }
    assert_eq!(c.listing("NLST -R"), "a\r\n", "LIST -R is not recursive");
    assert!(t.elapsed() < Duration::from_secs(5));
    let long = format!("MLSD {}", "a/".repeat(2100));
    c.send(&long);
    assert_eq!(c.reply().code, 500, "over the line limit");
    let (_, r) = c.open_data(&format!("MLSD {}", "x".repeat(300)));
    assert_eq!(r.code, 553, "a 300-byte name");
    still_serves(&s);
}

#[test]
fn aborting_transfers_over_and_over_leaves_nothing_behind() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("big"), pattern(8 << 20, 51)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    for i in 0..50 {
        let cmd = if i % 2 == 0 { "RETR big" } else { "STOR up" };
        let (data, r) = c.open_data(cmd);
        assert_eq!(r.code, 150);
        c.send("ABOR");
        let first = c.reply().code;
        if first == 426 {
            assert_eq!(c.reply().code, 226);
        } else {
            assert_eq!(first, 226);
        }
        drop(data);
    }
    assert_eq!(c.retr("big").len(), 8 << 20);
    wait_until(Duration::from_secs(10), "aborted uploads leave no files", || {
        std::fs::read_dir(s.path()).unwrap().count() == 1
    });
    still_serves(&s);
}

#[test]
fn site_and_other_commands_before_login_do_nothing() {
    let s = Server::start(&[]);
    let mut c = Client::connect(s.addr);
    for cmd in ["SITE CHMOD 777 /", "SITE EXEC id", "DELE x", "MKD x", "STOR x"] {
        let code = c.cmd(cmd).code;
        assert!(code == 530 || code == 502, "{cmd}: {code}");
    }
    assert_eq!(std::fs::read_dir(s.path()).unwrap().count(), 0);
    still_serves(&s);
}

#[test]
fn an_upload_past_the_file_size_limit_gets_452_and_the_replaced_file_stays() {
    // `ulimit -f` (RLIMIT_FSIZE) on the running server: a write past it fails (EFBIG) as a write
    // to a full disk does (ENOSPC), and by default the kernel also kills the writer with SIGXFSZ.
    // Each upload path (binary STOR, spliced from the socket; TYPE A STOR through the reactor;
    // APPE, read and written) must answer 452, leave a replaced file as it was and no partial
    // file, and the server must go on serving.
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"the old content").unwrap();
    let limited = std::process::Command::new("prlimit")
        .args(["--pid", &s.pid().to_string(), "--fsize=1048576:1048576"])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(limited.success());
    let mut c = Client::login_anonymous(s.addr);
    for (kind, cmd) in [("I", "STOR f"), ("A", "STOR f"), ("I", "APPE g")] {
        assert_eq!(c.cmd(&format!("TYPE {kind}")).code, 200);
        let (mut data, r) = c.open_data(cmd);
        assert_eq!(r.code, 150, "{cmd}: {r:?}");
        data.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        // The server may close the connection at the limit, before all of it is sent.
        let _ = data.write_all(&pattern(4 << 20, 61));
        drop(data);
        let r = c.reply();
        assert_eq!(r.code, 452, "TYPE {kind} {cmd}: {r:?}");
    }
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"the old content");
    let g = std::fs::metadata(s.path().join("g")).unwrap().len();
    assert!(g <= 1 << 20, "APPE wrote {g} bytes past the limit");
    wait_until(Duration::from_secs(10), "no partial upload is left", || {
        std::fs::read_dir(s.path()).unwrap().count() == 2
    });
    still_serves(&s);
}
