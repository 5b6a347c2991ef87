//! `--rc`: rclone's remote-control protocol, driven by `ftpvfs rc`, plain HTTP (curl) and
//! `rclone rc`: forgetting and refreshing make outside changes visible, stats count transfers,
//! credentials are enforced, bad requests get clear errors, and `core/quit` stops the server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::{have, pattern, run_cli, run_ok, Server};

const CREDS: [&str; 4] = ["--rc-user", "admin", "--rc-pass", "s3cret"];

fn start(extra: &[&str]) -> (Server, String) {
    let mut args = vec!["--rc", "--rc-addr", "127.0.0.1:0", "--dir-cache-time", "1h", "-v"];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    let log = s.log();
    let url = log
        .split("Serving remote control on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no rc address in the log:\n{log}"))
        .to_string();
    (s, url)
}

/// `ftpvfs rc` with the test credentials: (exit code, stdout, stderr).
fn rc(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["rc", "--url", url, "--user", "admin", "--pass", "s3cret"];
    all.extend_from_slice(args);
    run_cli(&all)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn forget_and_refresh_make_outside_changes_visible() {
    let (s, url) = start(&CREDS);
    std::fs::create_dir(s.path().join("sub")).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "sub\r\n");
    assert_eq!(c.listing("NLST sub"), "");
    std::fs::write(s.path().join("outside.txt"), b"x").unwrap();
    std::fs::write(s.path().join("sub/deep.txt"), b"y").unwrap();
    assert_eq!(c.listing("NLST"), "sub\r\n", "cached for an hour");
    // Forget one directory with `ftpvfs rc`: only it shows the change.
    let (code, out, err) = rc(&url, &["vfs/forget", "dir=sub"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["forgotten"], serde_json::json!(["sub"]));
    assert_eq!(c.listing("NLST sub"), "deep.txt\r\n");
    // file= forgets the listing holding the file.
    let (code, _, err) = rc(&url, &["vfs/forget", "file=outside.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.listing("NLST"), "outside.txt\r\nsub\r\n");
    // Plain HTTP with a form body, then a recursive refresh.
    std::fs::write(s.path().join("sub/second.txt"), b"z").unwrap();
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "-u", "admin:s3cret", "-d", "recursive=true"])
            .arg(format!("{url}vfs/refresh")),
    );
    assert_eq!(json(&out)["result"][""], "OK");
    assert_eq!(c.listing("NLST sub"), "deep.txt\r\nsecond.txt\r\n");
}

#[test]
fn small_downloads_sent_from_the_page_cache_count_as_file_transfers() {
    // Files of up to 64 KiB the page cache holds are read by the event loop and sent from
    // memory, the way listings are; they are still file transfers, resumable, byte for byte.
    let (s, url) = start(&CREDS);
    let data = pattern(40_000, 9);
    std::fs::write(s.path().join("small.bin"), &data).unwrap();
    assert_eq!(std::fs::read(s.path().join("small.bin")).unwrap(), data, "now in the page cache");
    let before = json(&rc(&url, &["core/stats"]).1);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    assert_eq!(c.retr("small.bin"), data);
    assert_eq!(c.cmd("REST 39000").code, 350);
    assert_eq!(c.retr("small.bin"), &data[39_000..]);
    assert_eq!(c.listing("NLST"), "small.bin\r\n");
    let after = json(&rc(&url, &["core/stats"]).1);
    assert_eq!(after["transfers"].as_u64().unwrap() - before["transfers"].as_u64().unwrap(), 2, "{after}");
    assert_eq!(after["bytes"].as_u64().unwrap() - before["bytes"].as_u64().unwrap(), 41_000);
}

#[test]
fn stats_count_transfers_and_bytes() {
    let (s, url) = start(&CREDS);
    std::fs::write(s.path().join("f.bin"), pattern(300_000, 1)).unwrap();
    let before = json(&rc(&url, &["core/stats"]).1);
    let mut c = Client::login_anonymous(s.addr);
    c.retr("f.bin");
    c.store("STOR g.bin", &pattern(100_000, 2));
    let (code, out, err) = rc(&url, &["core/stats"]);
    assert_eq!(code, 0, "{err}");
    let after = json(&out);
    assert_eq!(after["transfers"].as_u64().unwrap() - before["transfers"].as_u64().unwrap(), 2);
    assert_eq!(after["bytes"].as_u64().unwrap() - before["bytes"].as_u64().unwrap(), 400_000);
    assert_eq!(after["errors"], 0);
    assert_eq!(after["sessions"], 1, "one session open now");
    let (code, out, _) = rc(&url, &["vfs/stats"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["opt"]["CacheMode"], "off");
    assert_eq!(json(&rc(&url, &["vfs/queue"]).1)["queue"], serde_json::json!([]));
    let (code, out, _) = rc(&url, &["rc/noop", "hello=world"]);
    assert_eq!((code, json(&out)["hello"].as_str()), (0, Some("world")));
}

#[test]
fn credentials_are_enforced_and_no_auth_must_be_asked_for() {
    let (_s, url) = start(&CREDS);
    let (code, _, err) = run_cli(&["rc", "--url", &url, "rc/noop"]);
    assert_eq!(code, 1);
    assert!(err.contains("authentication required") && err.contains("401"), "{err}");
    let (code, _, err) = run_cli(&["rc", "--url", &url, "--user", "admin", "--pass", "wrong", "rc/noop"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run_cli(&["serve", "/tmp", "--rc"]);
    assert_eq!(code, 2);
    assert!(err.contains("--rc-no-auth"), "{err}");
    let (code, _, err) = run_cli(&["serve", "/tmp", "--rc-user", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs --rc"), "{err}");
    let (_s, open_url) = start(&["--rc-no-auth"]);
    assert_eq!(run_cli(&["rc", "--url", &open_url, "rc/noop"]).0, 0);
}

#[test]
fn bad_requests_get_clear_http_errors() {
    let (_s, url) = start(&CREDS);
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let exchange = |request: &[u8]| {
        let mut t = TcpStream::connect(&addr).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = t.write_all(request);
        let mut out = String::new();
        let _ = t.read_to_string(&mut out);
        out
    };
    assert!(exchange(b"hello\r\n\r\n").starts_with("HTTP/1.1 400"));
    let get = exchange(b"GET /core/version HTTP/1.1\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\r\n");
    assert!(get.starts_with("HTTP/1.1 405"), "{get}");
    let huge = exchange(format!("POST /rc/noop HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 2 << 20).as_bytes());
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    let unknown = rc(&url, &["no/such"]);
    assert_eq!(unknown.0, 1);
    assert!(unknown.2.contains("couldn't find method"), "{}", unknown.2);
}

#[test]
fn rclone_rc_is_a_client_and_core_quit_stops_the_server() {
    assert!(have("rclone"), "rclone is not installed: the README's test command installs it");
    let (mut s, url) = start(&CREDS);
    let out = run_ok(Command::new("rclone").args([
        "rc",
        "--url",
        &url,
        "--user",
        "admin",
        "--pass",
        "s3cret",
        "core/version",
    ]));
    assert!(json(&out)["version"].as_str().unwrap().starts_with('v'), "{out}");
    run_ok(Command::new("rclone").args(["rc", "--url", &url, "--user", "admin", "--pass", "s3cret", "core/quit"]));
    let status = s.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

/// promtool: on PATH, else Debian's prometheus package unpacked by test-all.sh.
fn promtool() -> Command {
    if have("promtool") {
        return Command::new("promtool");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    Command::new(std::path::Path::new(&home).join(".cache/ftpvfs-tests/prometheus/usr/bin/promtool"))
}

/// One sample's value in a Prometheus text body.
fn sample(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_in_the_prometheus_format_move_with_transfers() {
    let (s, url) = start(&CREDS.iter().copied().chain(["--rc-enable-metrics"]).collect::<Vec<_>>());
    let metrics = || run_ok(Command::new("curl").args(["-sS", "-f", "-u", "admin:s3cret", &format!("{url}metrics")]));
    let before = metrics();
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR m.bin", &pattern(123_456, 9));
    let (_d, r) = c.open_data("RETR missing.bin");
    assert_eq!(r.code, 550);
    let after = metrics();
    // A download the client breaks off is an error, not a transferred file.
    c.store("STOR big.bin", &pattern(64 << 20, 10));
    let mid = metrics();
    let (mut conn, r) = c.open_data("RETR big.bin");
    assert_eq!(r.code, 150);
    let mut first = [0u8; 1 << 16];
    conn.read_exact(&mut first).unwrap();
    drop(conn);
    assert_eq!(c.reply().code, 426);
    let mut wrong = Client::connect(s.addr);
    assert_eq!(wrong.cmd("USER someone").code, 331);
    assert_eq!(wrong.cmd("PASS x").code, 530, "only anonymous may log in");
    let broken = metrics();
    assert_eq!(
        sample(&broken, "ftpvfs_logins_total{result=\"failed\"}"),
        sample(&mid, "ftpvfs_logins_total{result=\"failed\"}") + 1.0
    );
    assert_eq!(sample(&broken, "rclone_files_transferred_total"), sample(&mid, "rclone_files_transferred_total"));
    assert_eq!(sample(&broken, "rclone_errors_total"), sample(&mid, "rclone_errors_total") + 1.0);
    let transfers = |text: &str, dir: &str, outcome: &str| {
        sample(text, &format!("ftpvfs_transfers_total{{direction=\"{dir}\",outcome=\"{outcome}\"}}"))
    };
    assert_eq!(transfers(&broken, "download", "failed"), transfers(&mid, "download", "failed") + 1.0);
    assert_eq!(transfers(&mid, "upload", "complete"), 2.0);
    assert_eq!(sample(&mid, "ftpvfs_transferred_bytes_total{direction=\"upload\"}"), (123_456 + (64 << 20)) as f64);
    assert!(sample(&broken, "ftpvfs_transferred_bytes_total{direction=\"download\"}") >= 65536.0);
    // rclone's deletion and rename counters move only for what succeeded.
    assert_eq!(c.cmd("RNFR m.bin").code, 350);
    assert_eq!(c.cmd("RNTO n.bin").code, 250);
    assert_eq!(c.cmd("DELE n.bin").code, 250);
    assert_eq!(c.cmd("DELE n.bin").code, 550);
    assert_eq!(c.cmd("MKD d").code, 257);
    assert_eq!(c.cmd("RMD d").code, 250);
    let later = metrics();
    for (family, moved) in
        [("rclone_files_renamed_total", 1.0), ("rclone_files_deleted_total", 1.0), ("rclone_dirs_deleted_total", 1.0)]
    {
        assert_eq!(sample(&later, family) - sample(&broken, family), moved, "{family}");
    }
    assert_eq!(sample(&later, "rclone_checked_files_total"), 0.0);
    // The remote's calls by operation; a "not found" is an answer about a name, not an error.
    let calls = |text: &str, op: &str| sample(text, &format!("ftpvfs_backend_operations_total{{operation=\"{op}\"}}"));
    for op in ["rename", "mkdir", "rmdir"] {
        assert_eq!(calls(&later, op) - calls(&broken, op), 1.0, "{op}");
    }
    assert!(c.listing("NLST").contains("big.bin"));
    assert!(calls(&metrics(), "list") >= 1.0);
    assert!(calls(&mid, "open_write") + calls(&mid, "upload_file") >= 2.0, "{mid}");
    assert!(!later.contains("ftpvfs_backend_errors_total{operation=\"remove\"} 1"), "{later}");
    assert_eq!(sample(&later, "ftpvfs_backend_errors_total{operation=\"stat\"}"), 0.0);
    for family in ["rclone_bytes_transferred_total", "rclone_files_transferred_total"] {
        assert!(after.contains(&format!("# TYPE {family} counter")), "{after}");
    }
    assert_eq!(
        sample(&after, "rclone_bytes_transferred_total") - sample(&before, "rclone_bytes_transferred_total"),
        123_456.0
    );
    assert_eq!(
        sample(&after, "rclone_files_transferred_total") - sample(&before, "rclone_files_transferred_total"),
        1.0
    );
    assert_eq!(sample(&after, "ftpvfs_sessions_open"), 1.0);
    assert_eq!(sample(&after, "ftpvfs_commands_total{verb=\"STOR\"}"), 1.0);
    assert!(sample(&after, "ftpvfs_logins_total{result=\"ok\"}") >= 1.0);
    assert!(after.contains("# TYPE ftpvfs_passive_ports_in_use gauge"), "{after}");
    assert!(sample(&after, "process_resident_memory_bytes") > 1e6);
    let mut check = promtool()
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(after.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The same credentials as the rc; and no /metrics without the flag.
    let status =
        run_ok(Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("{url}metrics")]));
    assert_eq!(status, "401");
    let (_plain, url) = start(&CREDS);
    let status = run_ok(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-u",
        "admin:s3cret",
        &format!("{url}metrics"),
    ]));
    assert_eq!(status, "405", "without --rc-enable-metrics /metrics is an rc command that needs POST");
}

#[test]
fn the_shipped_dashboard_asks_only_for_families_the_server_exports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/grafana/ftpvfs.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (_s, url) = start(&["--rc-no-auth", "--rc-enable-metrics", "--vfs-cache-mode", "writes"]);
    let body = run_ok(Command::new("curl").args(["-sS", "-f", &format!("{url}metrics")]));
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !(word.starts_with("rclone_") || word.starts_with("ftpvfs_") || word.starts_with("process_")) {
                    continue;
                }
                asked += 1;
                // The remote's request figures exist only for the remotes that count them (s3).
                if word == "ftpvfs_backend_requests_total" || word == "ftpvfs_backend_read_bytes_total" {
                    continue;
                }
                assert!(
                    body.contains(&format!("# TYPE {word} ")),
                    "the dashboard asks for {word}, not exported:\n{body}"
                );
            }
        }
    }
    assert!(asked > 10, "{asked}");
}

#[test]
fn metrics_addr_serves_only_metrics_on_its_own_listener_and_credentials() {
    let metrics_url = |s: &Server| {
        let log = s.log();
        log.split("Serving metrics on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
            .to_string()
    };
    let status =
        |args: &[&str]| run_ok(Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]).args(args));
    // As in rclone, no credentials unless asked for; no rc needed.
    let s = Server::start(&["--metrics-addr", "127.0.0.1:0", "-v"]);
    let url = metrics_url(&s);
    Client::login_anonymous(s.addr).cmd("NOOP");
    let body = run_ok(Command::new("curl").args(["-sS", "-f", &url]));
    assert!(body.contains("ftpvfs_sessions_total 1"), "{body}");
    assert!(body.contains("# TYPE rclone_bytes_transferred_total counter"), "{body}");
    // Nothing but /metrics: rc commands are not reachable through it.
    let base = url.trim_end_matches("metrics");
    assert_eq!(status(&["-X", "POST", &format!("{base}core/quit")]), "404");
    assert_eq!(status(&["-X", "POST", &url]), "405");
    assert!(Client::connect(s.addr).cmd("NOOP").code == 200, "core/quit was not run");
    // With --metrics-user and --metrics-pass: Basic auth.
    let s =
        Server::start(&["--metrics-addr", "127.0.0.1:0", "--metrics-user", "prom", "--metrics-pass", "scrape", "-v"]);
    let url = metrics_url(&s);
    assert_eq!(status(&[&url]), "401");
    assert_eq!(status(&["-u", "prom:wrong", &url]), "401");
    assert_eq!(status(&["-u", "prom:scrape", &url]), "200");
    assert!(!s.log().contains("scrape"), "the password is not logged");
    for bad in [&["--metrics-user", "prom"][..], &["--metrics-addr", "127.0.0.1:0", "--metrics-user", "prom"]] {
        let mut args = vec!["serve", ".", "--addr", "127.0.0.1:0"];
        args.extend_from_slice(bad);
        let (code, _, err) = run_cli(&args);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("--metrics-"), "{err}");
    }
    // Under --metrics-baseurl only that prefix is served; a 401 names --metrics-realm.
    let s = Server::start(&[
        "--metrics-addr",
        "127.0.0.1:0",
        "--metrics-baseurl",
        "/prom/",
        "--metrics-realm",
        "scrapers",
        "--metrics-user",
        "prom",
        "--metrics-pass",
        "scrape",
        "-v",
    ]);
    let url = metrics_url(&s);
    assert!(url.ends_with("/prom/metrics"), "{url}");
    assert_eq!(status(&["-u", "prom:scrape", &url]), "200");
    let root = url.replace("/prom/metrics", "/metrics");
    assert_eq!(status(&["-u", "prom:scrape", &root]), "404", "nothing outside the base URL");
    let headers = run_ok(Command::new("curl").args(["-s", "-D", "-", "-o", "/dev/null", &url]));
    assert!(headers.contains("WWW-Authenticate: Basic realm=\"scrapers\""), "{headers}");
    // rclone's TLS, htpasswd and other metrics-server options are refused by name, not ignored.
    let (code, _, err) = run_cli(&["serve", ".", "--metrics-addr", "127.0.0.1:0", "--metrics-cert", "c.pem"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--metrics-cert is not supported yet"), "{err}");
}

#[test]
fn idle_connections_cannot_lock_clients_out_of_the_metrics_or_the_rc() {
    let s = Server::start(&["--metrics-addr", "127.0.0.1:0", "--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth", "-v"]);
    let log = s.log();
    let url_after = |marker: &str| {
        log.split(marker)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {marker:?} in the log:\n{log}"))
            .to_string()
    };
    let metrics = url_after("Serving metrics on ");
    let rc = url_after("Serving remote control on ");
    let addr_of = |url: &str| -> std::net::SocketAddr {
        url.trim_start_matches("http://").split('/').next().unwrap().parse().unwrap()
    };
    // Far more connections than the table holds, each silent or stopped mid-request.
    let mut idle = Vec::new();
    for i in 0..100 {
        for url in [&metrics, &rc] {
            let mut c = std::net::TcpStream::connect(addr_of(url)).unwrap();
            if i % 2 == 0 {
                c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            idle.push(c);
        }
    }
    let body = run_ok(Command::new("curl").args(["-sS", "-f", "--max-time", "10", &metrics]));
    assert!(body.contains("# TYPE ftpvfs_sessions_open gauge"), "{body}");
    let answer = run_ok(Command::new("curl").args([
        "-sS",
        "-f",
        "--max-time",
        "10",
        "-X",
        "POST",
        &format!("{rc}core/version"),
    ]));
    assert!(answer.contains("\"version\""), "{answer}");
    drop(idle);
}
