//! The webdav remote against real WebDAV servers started by the test (the official `rclone
//! serve webdav`, WsgiDAV, Apache's mod_dav) and the Nextcloud stand-in: listings of escaped
//! and non-ASCII names with sizes and times, files the official rclone wrote and reads back,
//! streamed uploads (gathered, sent as they arrive, spooled, or in Nextcloud chunks) checked
//! byte for byte in the served folder, aborted replacing uploads that leave the old file and
//! nothing else, MFMT by PROPPATCH, the quota, bearer tokens from a command, refused options,
//! and a proxy that throttles, cuts off and stalls the server's answers. (The conformance suite
//! runs on each server in conformance.rs.)

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::dav::DavServer;
use protocol_tests::fault_proxy::{Fault, FaultProxy};
use protocol_tests::wait::wait_until;
use protocol_tests::{pattern, run_cli, run_ok, sha256, Server};

fn remote(url: &str, options: &str) -> String {
    format!(":webdav,url='{url}'{options}:")
}

/// The Nextcloud stand-in's options: its user, the obscured password, 1 MiB chunks.
fn nextcloud_options() -> String {
    let (_, pass, _) = run_cli(&["obscure", "secret"]);
    format!(",vendor=nextcloud,user=ann,pass={},nextcloud_chunk_size=1Mi", pass.trim())
}

/// Files with awkward names and known times in a served folder; returns the big file's bytes.
fn fill(root: &Path) -> Vec<u8> {
    let data = pattern(3 << 20, 51);
    std::fs::write(root.join("big file #1%.bin"), &data).unwrap();
    std::fs::write(root.join("café ü.txt"), b"unicode").unwrap();
    run_ok(Command::new("touch").args(["-d", "2020-01-02 03:04:05 UTC"]).arg(root.join("café ü.txt")));
    std::fs::create_dir(root.join("sub dir")).unwrap();
    std::fs::write(root.join("sub dir/inner&plus+.txt"), b"inner").unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    data
}

/// Every server must list and read the filled folder alike.
fn lists_and_reads(server: &DavServer, options: &str) {
    let data = fill(server.path());
    let s = Server::start_remote(&remote(&server.url, options), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "big file #1%.bin\r\ncafé ü.txt\r\nempty\r\nsub dir\r\n", "{}", server.url);
    assert_eq!(c.cmd("SIZE big file #1%.bin").text(), format!("213 {}", data.len()));
    assert_eq!(c.cmd("MDTM café ü.txt").text(), "213 20200102030405");
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data));
    assert_eq!(c.cmd("REST 2000000").code, 350);
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data[2_000_000..]));
    assert_eq!(c.listing("NLST sub dir"), "inner&plus+.txt\r\n");
    assert_eq!(c.retr("sub dir/inner&plus+.txt"), b"inner");
    let mlsd = c.listing("MLSD");
    assert!(mlsd.contains("type=dir;") && mlsd.contains(" empty\r\n"), "{mlsd}");
    assert_eq!(c.listing("NLST empty"), "");
    assert_eq!(c.cmd("CWD café ü.txt").code, 550, "a file is not a directory");
    assert_eq!(c.cmd("SIZE nothing").code, 550);
}

#[test]
fn listings_and_reads_on_every_server() {
    lists_and_reads(&DavServer::rclone(&[]), ",vendor=rclone");
    lists_and_reads(&DavServer::wsgidav(), "");
    lists_and_reads(&DavServer::apache(), "");
    lists_and_reads(&DavServer::nextcloud(), &nextcloud_options());
}

/// A streamed upload of each size, checked in the served folder; then a replacing upload
/// aborted half way, which must leave the old file and no temporary file or upload folder.
fn streamed_uploads(server: &DavServer, options: &str) {
    let s = Server::start_remote(&remote(&server.url, options), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    for (name, len) in [("empty", 0), ("small.bin", 100_000), ("big.bin", 5 << 20)] {
        let data = pattern(len, len as u64);
        assert_eq!(c.store(&format!("STOR {name}"), &data).code, 226, "{name} on {}", server.url);
        assert_eq!(sha256(&std::fs::read(server.path().join(name)).unwrap()), sha256(&data), "{name} stored");
        assert_eq!(c.cmd(&format!("SIZE {name}")).text(), format!("213 {len}"));
    }
    let old = pattern(5 << 20, 5 << 20);
    let (mut conn, r) = c.open_data("STOR big.bin");
    assert_eq!(r.code, 150);
    conn.write_all(&pattern(3 << 20, 9)).unwrap();
    c.send("ABOR");
    let first = c.reply().code;
    assert!(first == 426 || first == 226, "{first}");
    if first == 426 {
        assert_eq!(c.reply().code, 226);
    }
    drop(conn);
    let names = || {
        let mut n: Vec<String> =
            std::fs::read_dir(server.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        n.sort();
        n
    };
    wait_until(Duration::from_secs(20), "only the three files are left", || {
        names() == ["big.bin", "empty", "small.bin"]
    });
    assert_eq!(sha256(&std::fs::read(server.path().join("big.bin")).unwrap()), sha256(&old), "the old file is whole");
    if server.url.contains("/remote.php/") {
        let aux = server.aux.as_ref().unwrap().path();
        wait_until(Duration::from_secs(20), "the aborted chunked upload's folder is deleted", || {
            !std::fs::read_dir(aux)
                .unwrap()
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("ftpvfs-chunked-upload-"))
        });
    }
}

#[test]
fn streamed_uploads_sent_as_they_arrive_to_rclone_serve_webdav() {
    streamed_uploads(&DavServer::rclone(&[]), ",vendor=rclone");
}

#[test]
fn streamed_uploads_spooled_for_servers_that_cannot_stream() {
    streamed_uploads(&DavServer::wsgidav(), "");
    streamed_uploads(&DavServer::apache(), "");
}

#[test]
fn streamed_uploads_in_nextcloud_chunks() {
    let nc = DavServer::nextcloud();
    streamed_uploads(&nc, &nextcloud_options());
    let asked = nc.requests();
    let chunk_puts = asked.lines().filter(|l| l.starts_with("PUT /remote.php/dav/uploads/ann/")).count();
    assert!(chunk_puts >= 5, "5 MiB in 1 MiB chunks:\n{asked}");
    assert!(asked.contains("MKCOL /remote.php/dav/uploads/ann/ftpvfs-chunked-upload-"), "{asked}");
    assert!(asked.contains("/.file"), "assembled by a MOVE of .file:\n{asked}");
    assert!(asked.contains("PUT /remote.php/dav/files/ann/small.bin"), "a small file is one PUT:\n{asked}");
}

#[test]
fn what_rclone_writes_ftpvfs_reads_and_the_other_way_round() {
    let dav = DavServer::rclone(&[]);
    let rclone_remote = format!(":webdav,url='{}',vendor=rclone:", dav.url);
    let local = tempfile::tempdir().unwrap();
    let data = pattern(2 << 20, 8);
    std::fs::write(local.path().join("from rclone é.bin"), &data).unwrap();
    run_ok(Command::new("touch").args(["-d", "2021-03-04 05:06:07 UTC"]).arg(local.path().join("from rclone é.bin")));
    run_ok(
        Command::new("rclone")
            .args(["copyto", "--config", "/dev/null"])
            .arg(local.path().join("from rclone é.bin"))
            .arg(format!("{rclone_remote}sub/from rclone é.bin")),
    );
    let s = Server::start_remote(&remote(&dav.url, ",vendor=rclone"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(sha256(&c.retr("sub/from rclone é.bin")), sha256(&data));
    assert_eq!(c.cmd("MDTM sub/from rclone é.bin").text(), "213 20210304050607", "rclone's X-OC-Mtime read back");
    let ours = pattern(1_500_000, 9);
    c.store("STOR sub/from ftpvfs.bin", &ours);
    let cat = Command::new("rclone")
        .args(["cat", "--config", "/dev/null"])
        .arg(format!("{rclone_remote}sub/from ftpvfs.bin"))
        .output()
        .unwrap();
    assert_eq!(sha256(&cat.stdout), sha256(&ours));
    let lsf = run_ok(
        Command::new("rclone")
            .args(["lsf", "--config", "/dev/null", "--format", "ps"])
            .arg(format!("{rclone_remote}sub")),
    );
    assert_eq!(lsf, format!("from ftpvfs.bin;1500000\nfrom rclone é.bin;{}\n", data.len()));
}

#[test]
fn nextcloud_times_by_proppatch_quota_and_renames() {
    let nc = DavServer::nextcloud();
    let s = Server::start_remote(&remote(&nc.url, &nextcloud_options()), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR a.txt", b"alpha");
    assert_eq!(c.cmd("MFMT 20190203040506 a.txt").code, 213);
    assert!(nc.requests().contains("PROPPATCH /remote.php/dav/files/ann/a.txt"));
    let mtime = std::fs::metadata(nc.path().join("a.txt")).unwrap().modified().unwrap();
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1_549_166_706, "set on the server");
    assert_eq!(c.cmd("MDTM a.txt").text(), "213 20190203040506");
    // WsgiDAV under the stand-in reports the folder's file system quota.
    let avbl = c.cmd("AVBL");
    assert_eq!(avbl.code, 213, "{avbl:?}");
    assert!(avbl.text()[4..].trim().parse::<u64>().unwrap() > 0);
    // A rename keeps the time (X-OC-Mtime on the MOVE); a directory moves with its files.
    assert_eq!(c.cmd("MKD d").code, 257);
    assert_eq!(c.cmd("RNFR a.txt").code, 350);
    assert_eq!(c.cmd("RNTO d/b.txt").code, 250);
    assert_eq!(c.cmd("MDTM d/b.txt").text(), "213 20190203040506");
    assert_eq!(c.cmd("RNFR d").code, 350);
    assert_eq!(c.cmd("RNTO e").code, 250);
    assert_eq!(std::fs::read(nc.path().join("e/b.txt")).unwrap(), b"alpha");
    assert_eq!(c.cmd("RMD e").code, 550, "not empty");
    assert!(nc.path().join("e/b.txt").exists(), "a refused RMD deletes nothing");
}

#[test]
fn a_bearer_token_comes_from_the_command_again_after_a_401() {
    let nc = DavServer::nextcloud();
    let aux = nc.aux.as_ref().unwrap().path();
    std::fs::write(aux.join("token"), "fresh-token").unwrap();
    // The first run prints a stale token, every later run the one the server takes.
    let script = aux.join("token.sh");
    let runs = aux.join("runs");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho x >> '{r}'\nif [ $(wc -l < '{r}') -le 1 ]; then echo stale-token; else cat '{t}'; fi\n",
            r = runs.display(),
            t = aux.join("token").display()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&script));
    let options = format!(",vendor=nextcloud,bearer_token_command='{}',nextcloud_chunk_size=0", script.display());
    let s = Server::start_remote(&remote(&nc.url, &options), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR t.txt", b"token");
    assert_eq!(std::fs::read(nc.path().join("t.txt")).unwrap(), b"token");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2, "run at start, and once after the 401");
    assert!(!s.log().contains("fresh-token"), "tokens stay out of the log");
}

#[test]
fn bad_webdav_remotes_stop_the_start_with_a_clear_message() {
    for (options, expect) in [
        (":webdav:", "url"),
        (":webdav,url='http://127.0.0.1:1/',vendor=sharepoint-ntlm:", "not supported yet"),
        (":webdav,url='http://127.0.0.1:1/',can_tus=true:", "can_tus"),
        (":webdav,url='http://127.0.0.1:1/',pass=plain:", "obscure"),
        (":webdav,url='http://127.0.0.1:1/',bearer_token_command=/bin/false:", "bearer_token_command"),
    ] {
        let (code, _, err) = run_cli(&["serve", options, "--addr", "127.0.0.1:0"]);
        assert_eq!(code, 1, "{options}: {err}");
        assert!(err.contains(expect), "{options}: {err}");
    }
}

#[test]
fn throttling_cut_off_answers_and_stalls_end_in_retries_or_a_clean_451() {
    let dav = DavServer::rclone(&[]);
    let data = fill(dav.path());
    let proxy = FaultProxy::start(dav.url.trim_end_matches('/'));
    let s = Server::start_remote(
        &remote(&format!("{}/", proxy.endpoint()), ",vendor=rclone"),
        &["--timeout", "2s", "--low-level-retries", "4"],
        &[],
    );
    let mut c = Client::login_anonymous(s.addr);
    proxy.set(Fault::SlowDown(3));
    assert!(c.listing("NLST").contains("big file #1%.bin"));
    proxy.set(Fault::SlowDown(3));
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data));
    proxy.set(Fault::SlowDown(2));
    assert_eq!(c.store("STOR small.txt", b"retried").code, 226, "a small upload is sent again");
    assert_eq!(std::fs::read(dav.path().join("small.txt")).unwrap(), b"retried");
    proxy.set(Fault::Reset { n: 2, after: 1 << 20 });
    let before = proxy.connections();
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data));
    assert!(proxy.connections() >= before + 3, "two cut-off connections, then one that finished");
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
    // An upload into a server that stops answering: a clean error, and the old file stays.
    let started = Instant::now();
    let (mut conn, r) = c.open_data("STOR big file #1%.bin");
    let code = if r.code == 150 {
        let _ = conn.write_all(&pattern(3 << 20, 12));
        drop(conn);
        c.reply().code
    } else {
        r.code
    };
    assert!(code == 451 || code == 450 || code == 426, "{code}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    proxy.set(Fault::None);
    assert_eq!(sha256(&c.retr("big file #1%.bin")), sha256(&data), "serving again once the server answers");
    assert_eq!(sha256(&std::fs::read(dav.path().join("big file #1%.bin")).unwrap()), sha256(&data), "old file whole");
    let leftovers: Vec<_> = std::fs::read_dir(dav.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
