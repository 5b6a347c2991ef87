//! The http remote (read-only) against real web servers started by the test: Python's
//! `http.server` and Debian's nginx with `autoindex on`. Listings from their index pages
//! (escaped, non-ASCII and long names, directories), sizes and times from HEAD, RETR and REST
//! (nginx answers ranges with 206, Python ignores them and sends the whole file), a crafted
//! index whose foreign, parent, query and missing links are left out exactly as the official
//! rclone leaves them out, every change refused with 550, and a proxy that throttles, cuts off
//! and stalls the server's answers.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::fault_proxy::{Fault, FaultProxy};
use protocol_tests::web::WebServer;
use protocol_tests::{pattern, run_ok, sha256, Server};

const LONG: &str = "a-very-long-file-name-that-nginx-cuts-short-in-its-index-page-0123456789.txt";

/// Fills a served folder; returns the big file's bytes.
fn fill(root: &Path) -> Vec<u8> {
    let data = pattern(3 << 20, 41);
    std::fs::write(root.join("big file #1%.bin"), &data).unwrap();
    std::fs::write(root.join("café.txt"), b"unicode").unwrap();
    std::fs::write(root.join(LONG), b"long").unwrap();
    run_ok(Command::new("touch").args(["-d", "2020-01-02 03:04:05 UTC"]).arg(root.join("café.txt")));
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    std::fs::create_dir(root.join("empty dir")).unwrap();
    // An index page written by hand: only real.txt and subdir/ are entries of crafted/.
    std::fs::create_dir_all(root.join("crafted/subdir")).unwrap();
    std::fs::write(root.join("crafted/real.txt"), b"real").unwrap();
    std::fs::write(
        root.join("crafted/index.html"),
        r#"<html><body><a href="real.txt">real</a> <a href="ghost.txt">removed</a> <a href="../">up</a>
<a href="?C=M;O=A">sort</a> <a href="http://example.invalid/crafted/x.txt">elsewhere</a>
<a href="/other/y.txt">outside</a> <a href="deeper/z.txt">deeper</a> <a href='real.txt'>again</a>
<a href="subdir/">a directory</a> <a href="real.txt?download=1">query</a></body></html>"#,
    )
    .unwrap();
    data
}

fn remote(url: &str) -> String {
    format!(":http,url='{url}':")
}

/// What every web server must give through the http remote.
fn serves_the_folder(web: &WebServer, data: &[u8]) {
    let s = Server::start_remote(&remote(&web.url), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), format!("{LONG}\r\nbig file #1%.bin\r\ncafé.txt\r\ncrafted\r\nempty dir\r\nsub\r\n"));
    assert_eq!(c.cmd("SIZE big file #1%.bin").text(), format!("213 {}", data.len()));
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(data));
    assert_eq!(c.cmd("REST 1000000").code, 350);
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data[1_000_000..]));
    assert_eq!(c.cmd("MDTM café.txt").text(), "213 20200102030405");
    assert_eq!(c.retr(LONG), b"long");
    let mlsd = c.listing("MLSD");
    assert!(mlsd.contains("type=dir;") && mlsd.contains(" sub\r\n"), "{mlsd}");
    assert!(mlsd.contains(&format!("type=file;size={};", data.len())), "{mlsd}");
    assert!(!mlsd.contains("perm=adfrw") && !mlsd.contains("w;"), "no write permission is offered: {mlsd}");
    assert_eq!(c.cmd("CWD sub").code, 250);
    assert_eq!(c.listing("NLST"), "inner.txt\r\n");
    assert_eq!(c.retr("inner.txt"), b"inner");
    assert_eq!(c.cmd("CWD /empty dir").code, 250);
    assert_eq!(c.listing("NLST"), "");
    assert_eq!(c.cmd("CWD /nowhere").code, 550);
    assert_eq!(c.cmd("CWD /").code, 250);
    assert_eq!(c.cmd("SIZE missing.txt").code, 550);
    let (_d, r) = c.open_data("RETR missing.txt");
    assert_eq!(r.code, 550, "{r:?}");
    // The links rclone keeps, and no others.
    assert_eq!(c.listing("NLST crafted"), "real.txt\r\nsubdir\r\n");
    assert_eq!(c.retr("crafted/real.txt"), b"real");
    let rclone =
        run_ok(Command::new("rclone").args(["lsf", &format!("{}crafted", remote(&web.url)), "--config", "/dev/null"]));
    assert_eq!(rclone, "real.txt\nsubdir/\n", "the official rclone sees the same entries");
    // Every change is refused, and nothing reaches the folder.
    for cmd in ["STOR new.txt", "APPE café.txt", "MKD newdir", "DELE café.txt", "RMD empty dir", "RNFR café.txt"] {
        assert_eq!(c.cmd(cmd).code, 550, "{cmd}");
    }
    assert_eq!(c.cmd("MFMT 20210101000000 café.txt").code, 550);
    assert!(!web.path().join("new.txt").exists() && !web.path().join("newdir").exists());
    // With a write cache too: refused at once, not accepted into the cache to fail later.
    let cached = Server::start_remote(&remote(&web.url), &["--vfs-cache-mode", "writes"], &[]);
    let mut c = Client::login_anonymous(cached.addr);
    assert_eq!(c.cmd("STOR new.txt").code, 550);
    assert_eq!(c.retr("café.txt"), b"unicode");
    // A full cache reads through it: whole files and resumed ones, twice (the second from disk).
    let cache_dir = tempfile::tempdir().unwrap();
    let full = Server::start_remote(
        &remote(&web.url),
        &["--vfs-cache-mode", "full", "--cache-dir", cache_dir.path().to_str().unwrap()],
        &[],
    );
    let mut c = Client::login_anonymous(full.addr);
    for _ in 0..2 {
        assert_eq!(c.cmd("REST 2000000").code, 350);
        assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data[2_000_000..]));
        assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(data));
    }
    assert_eq!(c.cmd("STOR new.txt").code, 550);
}

#[test]
fn python_http_server_listings_reads_and_refusals() {
    let web = WebServer::python(tempfile::tempdir().unwrap());
    let data = fill(web.path());
    serves_the_folder(&web, &data);
}

#[test]
fn nginx_autoindex_listings_ranged_reads_and_refusals() {
    let web = WebServer::nginx(tempfile::tempdir().unwrap());
    let data = fill(web.path());
    serves_the_folder(&web, &data);
    // A URL naming a file serves that file alone, as rclone does.
    let s = Server::start_remote(&format!(":http,url='{}':sub/inner.txt", web.url), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "inner.txt\r\n");
    assert_eq!(c.retr("inner.txt"), b"inner");
    // A directory named without its slash is found by its redirect.
    let s = Server::start_remote(&format!(":http,url='{}':sub", web.url), &[], &[]);
    assert_eq!(Client::login_anonymous(s.addr).listing("NLST"), "inner.txt\r\n");
}

#[test]
fn bad_http_remotes_stop_the_start_with_a_clear_message() {
    for (spec, expected) in [
        (":http:", "needs url="),
        (":http,url='ftp://127.0.0.1/':", "not an http:// or https:// address"),
        (":http,url='http://127.0.0.1:1/',no_head=true:", "no_head is not supported yet"),
        (":http,url='http://127.0.0.1:1/',headers='a,b,c':", "odd number of headers"),
    ] {
        let (code, _, err) = protocol_tests::run_cli(&["serve", spec, "--addr", "127.0.0.1:0"]);
        assert_ne!(code, 0, "{spec}");
        assert!(err.contains(expected), "{spec}: {err}");
    }
}

#[test]
fn throttling_cut_off_answers_and_stalls_end_in_retries_or_a_clean_451() {
    let web = WebServer::python(tempfile::tempdir().unwrap());
    let data = fill(web.path());
    let proxy = FaultProxy::start(web.url.trim_end_matches('/'));
    let s = Server::start_remote(
        &remote(&format!("{}/", proxy.endpoint())),
        &["--timeout", "2s", "--low-level-retries", "4"],
        &[],
    );
    let mut c = Client::login_anonymous(s.addr);
    // 503 on the next three connections: the listing's requests are retried.
    proxy.set(Fault::SlowDown(3));
    assert!(c.listing("NLST").contains("big file #1%.bin"));
    proxy.set(Fault::SlowDown(3));
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data));
    // Answers cut off mid-body: the download goes on where it broke (Python ignores Range, so
    // the bytes already sent are skipped in the new answer).
    proxy.set(Fault::Reset { n: 2, after: 1 << 20 });
    let before = proxy.connections();
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data));
    assert!(proxy.connections() >= before + 3, "two cut-off connections, then one that finished");
    // A server that never answers: a clean error within the timeouts.
    proxy.set(Fault::Stall);
    let started = Instant::now();
    let (mut conn, r) = c.open_data("RETR big file #1%.bin");
    let code = if r.code == 150 {
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
        c.reply().code
    } else {
        r.code
    };
    assert!(code == 451 || code == 450, "{code}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    proxy.set(Fault::None);
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data), "serving again once the server answers");
}
