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

#[test]
fn failed_logins_are_lines_the_shipped_fail2ban_filter_counts_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ftpvfs.log");
    let s = Server::start(&["--user", "alice", "--pass", "s3cret", "--log-file", log.to_str().unwrap()]);
    // A user name that tries to fake another address in the line.
    let forged = "x\" from 10.9.9.9 port 1 (attempt 1, 1 from this address)";
    for user in ["alice", "mallory", forged] {
        let mut c = Client::connect(s.addr);
        assert_eq!(c.cmd(&format!("USER {user}")).code, 331);
        assert_eq!(c.cmd("PASS wrong").code, 530);
    }
    Client::connect(s.addr).login("alice", "s3cret");
    let failures = || std::fs::read_to_string(&log).unwrap_or_default().matches("login failed for user").count();
    protocol_tests::wait::wait_until(Duration::from_secs(20), "three failed-login lines", || failures() == 3);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("login failed for user \"mallory\" from 127.0.0.1 port "), "{text}");
    assert!(!text.contains("s3cret") && !text.contains("PASS wrong"), "no password in the log:\n{text}");
    // Installed as fail2ban wants it: beside fail2ban's common.conf, which it includes.
    let filters = dir.path().join("filter.d");
    std::fs::create_dir_all(&filters).unwrap();
    std::fs::copy(protocol_tests::fail2ban_filter_dir().join("common.conf"), filters.join("common.conf")).unwrap();
    let filter = filters.join("ftpvfs.conf");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/fail2ban/filter.d/ftpvfs.conf"),
        &filter,
    )
    .unwrap();
    let out = protocol_tests::fail2ban_regex().arg("-v").arg(&log).arg(&filter).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("Failregex: 3 total"), "{report}");
    assert_eq!(report.matches("|      127.0.0.1  ").count(), 3, "every hit is the client's address:\n{report}");
    assert!(!report.contains("|      10.9.9.9"), "{report}");
}

#[test]
fn the_account_can_come_from_rclones_environment_variables() {
    // rclone's RCLONE_<FLAG> rule keeps the password off the command line (world-readable).
    let s = Server::start_remote(
        &tempfile::tempdir().unwrap().path().display().to_string(),
        &[],
        &[("RCLONE_USER", "scan"), ("RCLONE_PASS", "from-the-environment")],
    );
    let mut c = Client::connect(s.addr);
    c.login("scan", "from-the-environment");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", s.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("from-the-environment"));
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd("USER scan").code, 331);
    assert_eq!(c.cmd("PASS wrong").code, 530);
    let (code, _, err) =
        protocol_tests::run_cli_env(&["serve", ".", "--addr", "127.0.0.1:0"], &[("RCLONE_DIR_CACHE_TIME", "soon")]);
    assert_eq!(code, 2);
    assert!(err.contains("$RCLONE_DIR_CACHE_TIME"), "{err}");
}

#[test]
fn syslog_gets_each_line_with_the_facility_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("log");
    let syslog = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    syslog.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut child = std::process::Command::new(protocol_tests::binary())
        .args(["serve", dir.path().to_str().unwrap(), "--addr", "127.0.0.1:0", "--syslog", "--syslog-facility", "FTP"])
        .args(["--user", "alice", "--pass", "s3cret"])
        .env("FTPVFS_SYSLOG_SOCKET", &socket_path)
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 2048];
    let mut next = |what: &str| -> String {
        while Instant::now() < deadline {
            if let Ok(n) = syslog.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if line.contains(what) {
                    return line;
                }
            }
        }
        panic!("no syslog line with {what:?}");
    };
    let serving = next("Serving FTP on ");
    // FTP is facility 11, INFO is rclone's NOTICE (5): 11 * 8 + 5.
    assert!(serving.starts_with(&format!("<93>ftpvfs[{pid}]: INFO : Serving FTP on 127.0.0.1:")), "{serving}");
    let addr: std::net::SocketAddr =
        serving.split("Serving FTP on ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let mut c = Client::connect(addr);
    assert_eq!(c.cmd("USER bob").code, 331);
    assert_eq!(c.cmd("PASS nope").code, 530);
    let failed = next("login failed");
    assert!(
        failed.starts_with(&format!("<93>ftpvfs[{pid}]: INFO : login failed for user \"bob\" from 127.0.0.1 port ")),
        "{failed}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn json_log_lines_as_rclones_use_json_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let s = Server::start(&["--use-json-log", "--log-file", log.to_str().unwrap()]);
    drop(Client::connect(s.addr));
    let text = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["level"], "info", "{text}");
    assert_eq!(first["source"], "ftpvfs");
    assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{text}");
    let (code, _, err) = protocol_tests::run_cli(&["serve", ".", "--log-format", "date,shortfile"]);
    assert_eq!(code, 2);
    assert!(err.contains("not supported yet"), "{err}");
}
