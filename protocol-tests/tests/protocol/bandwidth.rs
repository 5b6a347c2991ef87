//! `--bwlimit` and `--bwlimit-file`: each data path (sendfile, TLS, the reactor's buffers,
//! received uploads) takes at least as long as the limit demands, sessions share the limit,
//! `rc core/bwlimit` reads and changes it, SIGUSR2 toggles it, and bad values exit 2.
//!
//! Only lower bounds on time are asserted: a limited transfer cannot be faster than its rate
//! allows (the buckets start empty and hold at most a quarter of a second of the rate).

use std::process::Command;
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{make_cert, pattern, run_cli, sha256, Server};

const RATE: usize = 256 * 1024;

/// Seconds a transfer of `len` bytes takes at least at `rate`, less the largest burst.
fn floor_secs(len: usize, rate: usize) -> f64 {
    (len - rate / 4) as f64 / rate as f64
}

fn rc_url(s: &Server) -> String {
    let log = s.log();
    log.split("Serving remote control on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no rc address in the log:\n{log}"))
        .to_string()
}

fn rc(url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["rc", "--url", url];
    all.extend_from_slice(args);
    let (code, out, err) = run_cli(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn every_plain_data_path_keeps_to_the_limit() {
    let s = Server::start(&["--bwlimit", "256k", "-v"]);
    let data = pattern(RATE * 2, 7);
    std::fs::write(s.path().join("big.bin"), &data).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    // A local file: sent with sendfile by a worker.
    let t = Instant::now();
    assert_eq!(sha256(&c.retr("big.bin")), sha256(&data));
    let secs = t.elapsed().as_secs_f64();
    assert!(secs >= floor_secs(data.len(), RATE), "RETR of 512 KiB at 256 KiB/s took {secs:.2} s");
    // An upload: received (and spliced) by a worker.
    let t = Instant::now();
    assert_eq!(c.store("STOR up.bin", &data).code, 226);
    let secs = t.elapsed().as_secs_f64();
    assert!(secs >= floor_secs(data.len(), RATE), "STOR of 512 KiB at 256 KiB/s took {secs:.2} s");
    assert_eq!(sha256(&std::fs::read(s.path().join("up.bin")).unwrap()), sha256(&data));
    // TYPE A goes through the reactor's buffers, both ways.
    assert_eq!(c.cmd("TYPE A").code, 200);
    let text: Vec<u8> = b"line of text\n".iter().copied().cycle().take(RATE * 2).collect();
    std::fs::write(s.path().join("text.txt"), &text).unwrap();
    let t = Instant::now();
    let got = c.retr("text.txt");
    let secs = t.elapsed().as_secs_f64();
    assert!(got.len() > text.len(), "CRLF conversion happened");
    assert!(secs >= floor_secs(got.len(), RATE), "ASCII RETR took {secs:.2} s");
    let t = Instant::now();
    assert_eq!(c.store("STOR text-up.txt", &got).code, 226);
    let secs = t.elapsed().as_secs_f64();
    assert!(secs >= floor_secs(got.len(), RATE), "ASCII STOR took {secs:.2} s");
    assert_eq!(std::fs::read(s.path().join("text-up.txt")).unwrap(), text);
    assert!(s.log().contains("Starting bandwidth limiter at 256Ki Byte/s"), "{}", s.log());
}

#[test]
fn a_tls_download_and_upload_keep_to_the_limit() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(certs.path(), "localhost");
    let s = Server::start(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--bwlimit", "256k"]);
    let data = pattern(RATE * 2, 8);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("up.bin"), &data).unwrap();
    std::fs::write(s.path().join("down.bin"), &data).unwrap();
    let curl = |args: &[&str]| {
        let t = Instant::now();
        let out =
            Command::new("curl").args(["-sS", "-k", "--ssl-reqd", "--max-time", "60"]).args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        (out.stdout, t.elapsed().as_secs_f64())
    };
    let (got, secs) = curl(&[&s.url("/down.bin")]);
    assert_eq!(sha256(&got), sha256(&data));
    assert!(secs >= floor_secs(data.len(), RATE), "TLS RETR took {secs:.2} s");
    let (_, secs) = curl(&["-T", work.path().join("up.bin").to_str().unwrap(), &s.url("/up.bin")]);
    assert!(secs >= floor_secs(data.len(), RATE), "TLS STOR took {secs:.2} s");
    assert_eq!(sha256(&std::fs::read(s.path().join("up.bin")).unwrap()), sha256(&data));
}

#[test]
fn sessions_share_the_limit_and_up_down_limit_each_direction() {
    // Uploads unlimited, downloads 256 KiB/s shared by both sessions.
    let s = Server::start(&["--bwlimit", "off:256k"]);
    let data = pattern(RATE, 9);
    std::fs::write(s.path().join("a.bin"), &data).unwrap();
    let t = Instant::now();
    let downloads: Vec<_> = (0..2)
        .map(|_| {
            let addr = s.addr;
            let want = sha256(&data);
            std::thread::spawn(move || {
                let mut c = Client::login_anonymous(addr);
                assert_eq!(c.cmd("TYPE I").code, 200);
                assert_eq!(sha256(&c.retr("a.bin")), want);
            })
        })
        .collect();
    for d in downloads {
        d.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    assert!(secs >= floor_secs(2 * data.len(), RATE), "two 256 KiB downloads under one 256 KiB/s took {secs:.2} s");
    // Uploads are not limited: 8 MiB would take 32 s at the download rate.
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    let big = pattern(8 << 20, 10);
    let t = Instant::now();
    assert_eq!(c.store("STOR big.bin", &big).code, 226);
    assert!(t.elapsed() < Duration::from_secs(20), "the upload direction was limited");
}

#[test]
fn per_file_limit_applies_to_each_transfer() {
    let s = Server::start(&["--bwlimit-file", "256k"]);
    let data = pattern(RATE * 2, 11);
    std::fs::write(s.path().join("f.bin"), &data).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    let t = Instant::now();
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    let secs = t.elapsed().as_secs_f64();
    assert!(secs >= floor_secs(data.len(), RATE), "RETR under --bwlimit-file took {secs:.2} s");
}

#[test]
fn rc_core_bwlimit_reads_and_sets_the_limit_and_sigusr2_toggles_it() {
    let s = Server::start(&["--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth", "--bwlimit", "10M", "-v"]);
    let url = rc_url(&s);
    let now = rc(&url, &["core/bwlimit"]);
    assert_eq!(now["rate"], "10Mi");
    assert_eq!(now["bytesPerSecond"], 10 << 20);
    let set = rc(&url, &["core/bwlimit", "rate=1M:256k"]);
    assert_eq!(set["rate"], "1Mi:256Ki");
    assert_eq!(
        (set["bytesPerSecondTx"].as_i64(), set["bytesPerSecondRx"].as_i64()),
        (Some(1 << 20), Some(RATE as i64))
    );
    // The new limit holds for the next download.
    let data = pattern(RATE * 2, 12);
    std::fs::write(s.path().join("x.bin"), &data).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    let t = Instant::now();
    assert_eq!(sha256(&c.retr("x.bin")), sha256(&data));
    assert!(t.elapsed().as_secs_f64() >= floor_secs(data.len(), RATE));
    // A timetable or a bad value is refused with rclone's words.
    let (code, _, err) = run_cli(&["rc", "--url", &url, "core/bwlimit", "rate=08:00,1M 09:00,2M"]);
    assert_ne!(code, 0);
    assert!(err.contains("need exactly 1 bandwidth setting"), "{err}");
    let (code, _, err) = run_cli(&["rc", "--url", &url, "core/bwlimit", "rate=fast"]);
    assert_ne!(code, 0);
    assert!(err.contains("bad bwlimit"), "{err}");
    // SIGUSR2: off, then back to the limit in force.
    s.signal("USR2");
    wait_until(Duration::from_secs(10), "SIGUSR2 to turn the limit off", || {
        rc(&url, &["core/bwlimit"])["rate"] == "off"
    });
    assert!(s.log().contains("Bandwidth limit disabled by user (now off)"), "{}", s.log());
    s.signal("USR2");
    wait_until(Duration::from_secs(10), "SIGUSR2 to turn the limit on again", || {
        rc(&url, &["core/bwlimit"])["rate"] == "1Mi:256Ki"
    });
    let off = rc(&url, &["core/bwlimit", "rate=off"]);
    assert_eq!((off["rate"].as_str(), off["bytesPerSecond"].as_i64()), (Some("off"), Some(-1)));
}

#[test]
fn a_timetable_follows_the_local_clock() {
    // The slot of the current minute (UTC) limits downloads; the next one, a minute later, not
    // (a test running across the minute's end sees the other slot: it then checks nothing).
    let (weekday, hhmm) = utc_weekday_hhmm(std::time::SystemTime::now());
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    let (weekday2, hhmm2) = utc_weekday_hhmm(later);
    let day = |d: u32| ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d as usize];
    let table = format!(
        "{}-{:02}:{:02},256k {}-{:02}:{:02},off",
        day(weekday),
        hhmm / 100,
        hhmm % 100,
        day(weekday2),
        hhmm2 / 100,
        hhmm2 % 100
    );
    let s = Server::start_remote(
        ":memory:",
        &["--bwlimit", &table, "--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth", "-v"],
        &[("TZ", "UTC")],
    );
    let url = rc_url(&s);
    let rate = rc(&url, &["core/bwlimit"])["rate"].as_str().map(str::to_string);
    let (w, h) = utc_weekday_hhmm(std::time::SystemTime::now());
    if (w, h) == (weekday, hhmm) {
        assert_eq!(rate.as_deref(), Some("256Ki"), "{}", s.log());
    }
}

fn utc_weekday_hhmm(t: std::time::SystemTime) -> (u32, u32) {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let weekday = ((secs / 86_400 + 4) % 7) as u32;
    let in_day = secs % 86_400;
    (weekday, (in_day / 3600 * 100 + in_day % 3600 / 60) as u32)
}

#[test]
fn bad_values_exit_2_with_a_clear_message() {
    for bad in ["fast", "25:00,1M", "Fun-10:00,1M", "10:00,1M,2M", "1M:x"] {
        let (code, _, err) = run_cli(&["serve", ".", "--bwlimit", bad]);
        assert_eq!(code, 2, "--bwlimit {bad:?}: {err}");
        assert!(err.contains("--bwlimit"), "{err}");
    }
    let (code, _, err) = run_cli(&["serve", ".", "--bwlimit-file", "08:00,"]);
    assert_eq!(code, 2, "{err}");
}
