//! The VFS disk cache (`--vfs-cache-mode`): the protocol scenarios once per mode, rewrites
//! that keep the rest of a file, write-back with retries, recovery after `kill -9`, the cache
//! lock, eviction by size, partial reads in full mode (bytes counted in the memory backend),
//! shared downloads, and files changed on the remote.

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{pattern, run_cli, sha256, Server};

/// The rc address a server logged.
fn rc_url(s: &Server) -> String {
    let log = s.log();
    log.split("Serving remote control on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no rc address:\n{log}"))
        .to_string()
}

fn rc_json(url: &str, command: &str) -> serde_json::Value {
    let (code, out, err) = run_cli(&["rc", "--url", url, command]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Waits until every upload is done and the clean items aged out of the cache (servers started
/// with `--vfs-cache-max-age 1s`), so the next reads come from the backend.
fn wait_uploaded_and_evicted(url: &str) {
    wait_until(Duration::from_secs(60), "uploaded and evicted", || {
        rc_json(url, "vfs/stats")["diskCache"]["files"] == 0
            && rc_json(url, "vfs/queue")["queue"] == serde_json::json!([])
    });
}

const RC: [&str; 5] = ["--rc", "--rc-no-auth", "--rc-addr", "127.0.0.1:0", "-v"];

fn with_cache(mode: &str, cache_dir: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--vfs-cache-mode", mode, "--cache-dir"].iter().map(|s| (*s).to_string()).collect();
    args.push(cache_dir.to_str().unwrap().to_string());
    args.extend(extra.iter().map(|s| (*s).to_string()));
    args
}

fn start_with(remote_or_root: Option<&str>, args: &[String]) -> Server {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match remote_or_root {
        Some(remote) => Server::start_remote(remote, &args, &[]),
        None => Server::start(&args),
    }
}

/// The scenarios every mode must pass: listing, transfers, resume, APPE, renames and deletes,
/// and a download that keeps going while its file is renamed, replaced and deleted.
fn scenarios(s: &Server, label: &str) {
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(6 << 20, 3);
    c.store("STOR f.bin", &data);
    assert_eq!(c.listing("NLST"), "f.bin\r\n");
    assert_eq!(c.cmd("SIZE f.bin").text(), format!("213 {}", data.len()));
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    assert_eq!(c.cmd("REST 5000000").code, 350);
    assert_eq!(c.retr("f.bin"), &data[5_000_000..]);
    c.store("APPE f.bin", b"tail");
    assert_eq!(c.cmd("SIZE f.bin").text(), format!("213 {}", data.len() + 4));
    // A download in progress while the file is renamed, replaced and deleted elsewhere.
    let (mut reader, r) = c.open_data("RETR f.bin");
    assert_eq!(r.code, 150);
    let mut first = vec![0u8; 4096];
    reader.read_exact(&mut first).unwrap();
    let mut other = Client::login_anonymous(s.addr);
    assert_eq!(other.cmd("RNFR f.bin").code, 350);
    assert_eq!(other.cmd("RNTO g.bin").code, 250);
    other.store("STOR g.bin", b"replaced");
    assert_eq!(other.cmd("DELE g.bin").code, 250);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let r = c.reply();
    assert_eq!(r.code, 226, "{label}: {r:?}");
    first.extend_from_slice(&rest);
    let mut expected = data.clone();
    expected.extend_from_slice(b"tail");
    assert!(first == expected, "the open download kept the version it opened");
    assert_eq!(c.listing("NLST"), "");
    assert_eq!(c.cmd("DELE g.bin").code, 550);
}

#[test]
fn the_scenarios_pass_in_every_cache_mode() {
    for mode in ["off", "minimal", "writes", "full"] {
        let cache = tempfile::tempdir().unwrap();
        let s = start_with(None, &with_cache(mode, cache.path(), &["--vfs-write-back", "0s"]));
        scenarios(&s, &format!("{mode}, write-back 0s"));
        // And with uploads held back, so everything is served from the cache meanwhile.
        let cache = tempfile::tempdir().unwrap();
        let s = start_with(None, &with_cache(mode, cache.path(), &["--vfs-write-back", "1h"]));
        scenarios(&s, &format!("{mode}, write-back 1h"));
    }
}

#[test]
fn rest_stor_rewrites_from_the_offset_and_keeps_the_rest_in_writes_and_full() {
    for mode in ["writes", "full"] {
        let cache = tempfile::tempdir().unwrap();
        let s = start_with(Some(":memory:"), &with_cache(mode, cache.path(), &["--vfs-write-back", "0s"]));
        let mut c = Client::login_anonymous(s.addr);
        c.store("STOR f", b"hello world");
        assert_eq!(c.cmd("REST 6").code, 350);
        c.store("STOR f", b"WOR");
        assert_eq!(c.retr("f"), b"hello WORld", "{mode}: RFC 3659 section 5 keeps the bytes after the rewrite");
        c.store("APPE f", b"!");
        assert_eq!(c.retr("f"), b"hello WORld!");
        // Megabytes, which the cache file takes by splice from the socket.
        let mut want = pattern(5 << 20, 81);
        c.store("STOR big", &want);
        let middle = pattern(3 << 20, 82);
        assert_eq!(c.cmd("REST 1000001").code, 350);
        c.store("STOR big", &middle);
        want[1_000_001..1_000_001 + middle.len()].copy_from_slice(&middle);
        let tail = pattern(2 << 20, 83);
        c.store("APPE big", &tail);
        want.extend_from_slice(&tail);
        assert!(c.retr("big") == want, "{mode}: REST+STOR and APPE of megabytes through the cache");
    }
    // Mode off on a remote that cannot write in place names the fix.
    let s = Server::start_remote(":memory:", &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR f", b"x");
    let _ = c.cmd("REST 1");
    let (_d, r) = c.open_data("STOR f");
    assert!(r.code == 150 || r.text().contains("--vfs-cache-mode writes"), "{r:?}");
}

#[test]
fn failed_uploads_are_retried_with_growing_waits_and_the_file_stays_listed() {
    let cache = tempfile::tempdir().unwrap();
    let mut args = with_cache("writes", cache.path(), &["--vfs-write-back", "0s"]);
    args.extend(RC.iter().map(|s| (*s).to_string()));
    let s = start_with(Some(":memory,fail_uploads=3:"), &args);
    let url = rc_url(&s);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(100_000, 9);
    c.store("STOR retry.bin", &data);
    assert_eq!(c.cmd("SIZE retry.bin").text(), "213 100000", "listed with its size while pending");
    wait_until(Duration::from_secs(30), "the upload succeeds after three failures", || {
        s.log().contains("uploaded /retry.bin")
    });
    let log = s.log();
    let waits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("upload of /retry.bin failed"))
        .filter_map(|l| l.split("retrying in ").nth(1))
        .collect();
    assert_eq!(waits, ["1s", "2s", "4s"], "waits double:\n{log}");
    assert_eq!(rc_json(&url, "vfs/queue")["queue"], serde_json::json!([]));
    assert_eq!(sha256(&c.retr("retry.bin")), sha256(&data));
}

#[test]
fn a_server_killed_before_uploading_uploads_when_started_again() {
    let cache = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_path_buf();
    let mut s = Server::start_in(
        root,
        &with_cache("writes", cache.path(), &["--vfs-write-back", "1h"]).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(3 << 20, 17);
    c.store("STOR precious.bin", &data);
    assert!(!root_path.join("precious.bin").exists(), "held back by --vfs-write-back 1h");
    // A second server on the same cache is refused.
    let cache_dir = cache.path().to_str().unwrap().to_string();
    let root_text = root_path.to_str().unwrap().to_string();
    let (code, _, err) = run_cli(&[
        "serve",
        &root_text,
        "--addr",
        "127.0.0.1:0",
        "--vfs-cache-mode",
        "writes",
        "--cache-dir",
        &cache_dir,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("in use by another ftpvfs"), "{err}");
    s.signal("KILL");
    s.wait_exit(Duration::from_secs(10));
    let again = Command::new(protocol_tests::binary())
        .args(["serve", &root_text, "--addr", "127.0.0.1:0", "--vfs-cache-mode", "writes", "--cache-dir", &cache_dir])
        .args(["--vfs-write-back", "1s"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _again = Kill(again);
    wait_until(Duration::from_secs(20), "the file is uploaded after the restart", || {
        std::fs::read(root_path.join("precious.bin")).is_ok_and(|d| d == data)
    });
}

#[test]
fn full_mode_reads_only_what_is_asked_plus_read_ahead_and_shares_downloads() {
    let cache = tempfile::tempdir().unwrap();
    let mut args = with_cache(
        "full",
        cache.path(),
        &["--vfs-write-back", "0s", "--vfs-cache-max-age", "1s", "--vfs-cache-poll-interval", "200ms"],
    );
    args.extend(["--vfs-read-ahead", "2M", "--buffer-size", "0"].iter().map(|s| (*s).to_string()));
    args.extend(RC.iter().map(|s| (*s).to_string()));
    let s = start_with(Some(":memory:"), &args);
    let url = rc_url(&s);
    let mut c = Client::login_anonymous(s.addr);
    let big = pattern(256 << 20, 5);
    c.store("STOR big.bin", &big);
    wait_uploaded_and_evicted(&url);
    let before = rc_json(&url, "vfs/stats")["backendBytesRead"].as_u64().unwrap();
    let (mut data, r) = c.open_data("RETR big.bin");
    assert_eq!(r.code, 150);
    let mut first = vec![0u8; 1 << 20];
    data.read_exact(&mut first).unwrap();
    assert!(first == big[..1 << 20]);
    drop(data);
    let _ = c.reply();
    let read = rc_json(&url, "vfs/stats")["backendBytesRead"].as_u64().unwrap() - before;
    // 1 MiB asked, 2 MiB of read-ahead, and what the socket buffers took before the close.
    assert!((1 << 20..=24 << 20).contains(&read), "read {read} bytes of 256 MiB from the backend for 1 MiB");
    // Two readers of one file at once share its downloads.
    let before = rc_json(&url, "vfs/stats")["backendBytesRead"].as_u64().unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let addr = s.addr;
            std::thread::spawn(move || sha256(&Client::login_anonymous(addr).retr("big.bin")))
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), sha256(&big));
    }
    let read = rc_json(&url, "vfs/stats")["backendBytesRead"].as_u64().unwrap() - before;
    assert!(read <= (256 << 20) + (8 << 20), "two readers fetched {read} bytes of a 256 MiB file");
}

#[test]
fn the_cache_stays_near_its_maximum_size() {
    let cache = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    for i in 0..6 {
        std::fs::write(root.path().join(format!("f{i}")), pattern(8 << 20, i)).unwrap();
    }
    let mut args =
        with_cache("full", cache.path(), &["--vfs-cache-max-size", "20M", "--vfs-cache-poll-interval", "200ms"]);
    args.extend(RC.iter().map(|s| (*s).to_string()));
    let s = Server::start_in(root, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let url = rc_url(&s);
    let mut c = Client::login_anonymous(s.addr);
    for i in 0..6 {
        assert_eq!(sha256(&c.retr(&format!("f{i}"))), sha256(&pattern(8 << 20, i)));
    }
    wait_until(Duration::from_secs(10), "the cache is trimmed to --vfs-cache-max-size", || {
        rc_json(&url, "vfs/stats")["diskCache"]["bytesUsed"].as_u64().unwrap() <= 20 << 20
    });
    assert!(s.log().contains("vfs cache: cleaned"), "{}", s.log());
}

#[test]
fn full_mode_fetches_a_file_changed_on_the_remote_afresh() {
    let cache = tempfile::tempdir().unwrap();
    let s = start_with(None, &with_cache("full", cache.path(), &[]));
    std::fs::write(s.path().join("doc.txt"), b"version one").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.retr("doc.txt"), b"version one");
    std::fs::write(s.path().join("doc.txt"), b"version two, longer").unwrap();
    s.signal("HUP");
    wait_until(Duration::from_secs(10), "SIGHUP handled", || s.log().contains("SIGHUP"));
    assert_eq!(c.retr("doc.txt"), b"version two, longer");
}

#[test]
fn a_slow_remote_still_delivers_through_the_full_cache() {
    let cache = tempfile::tempdir().unwrap();
    let mut args = with_cache(
        "full",
        cache.path(),
        &["--vfs-write-back", "0s", "--vfs-cache-max-age", "1s", "--vfs-cache-poll-interval", "200ms"],
    );
    args.extend(RC.iter().map(|s| (*s).to_string()));
    let s = start_with(Some(":memory,slow_reads=5ms:"), &args);
    let url = rc_url(&s);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(3 << 20, 44);
    c.store("STOR slow.bin", &data);
    wait_uploaded_and_evicted(&url);
    // Every byte now comes from the slow remote (12 reads of 256 KiB, 5 ms each).
    assert_eq!(sha256(&c.retr("slow.bin")), sha256(&data));
    assert_eq!(sha256(&c.retr("slow.bin")), sha256(&data), "and again, from the cache");
}
