//! Real clients against the real server: curl, Python's ftplib, lftp and rclone's ftp backend.
//! Each must list, upload, download, resume, rename and delete with byte-identical results.

use std::process::Command;

use protocol_tests::{have, pattern, run_ok as run, sha256, Server};

fn require(program: &str) {
    assert!(have(program), "{program} is not installed: the README's test command (.ci/run) installs it");
}

#[test]
fn curl_lists_uploads_downloads_resumes_renames_and_deletes() {
    require("curl");
    let s = Server::start(&["--user", "u", "--pass", "p"]);
    let work = tempfile::tempdir().unwrap();
    let data = pattern(5 << 20, 11);
    std::fs::write(work.path().join("up.bin"), &data).unwrap();
    let curl = || {
        let mut c = Command::new("curl");
        c.args(["-sS", "--user", "u:p", "--max-time", "60"]);
        c
    };
    run(curl().args(["-T", work.path().join("up.bin").to_str().unwrap(), &s.url("/dir/up.bin"), "--ftp-create-dirs"]));
    assert_eq!(sha256(&std::fs::read(s.path().join("dir/up.bin")).unwrap()), sha256(&data));
    let listing = run(curl().arg(s.url("/dir/")));
    assert!(listing.contains(" up.bin") && listing.starts_with("-rw"), "{listing:?}");
    let down = work.path().join("down.bin");
    run(curl().args([&s.url("/dir/up.bin"), "-o", down.to_str().unwrap()]));
    assert_eq!(sha256(&std::fs::read(&down).unwrap()), sha256(&data));
    // Resume a download: keep the first MiB and let curl fetch the rest (REST).
    std::fs::write(&down, &data[..1 << 20]).unwrap();
    run(curl().args(["-C", "-", &s.url("/dir/up.bin"), "-o", down.to_str().unwrap()]));
    assert_eq!(sha256(&std::fs::read(&down).unwrap()), sha256(&data));
    // Resume an upload: the server has the first 2 MiB; curl appends the rest (SIZE + APPE).
    std::fs::write(s.path().join("dir/part.bin"), &data[..2 << 20]).unwrap();
    run(curl().args(["-C", "-", "-T", work.path().join("up.bin").to_str().unwrap(), &s.url("/dir/part.bin")]));
    assert_eq!(sha256(&std::fs::read(s.path().join("dir/part.bin")).unwrap()), sha256(&data));
    // Active mode and plain PASV.
    run(curl().args(["-P", "127.0.0.1", &s.url("/dir/up.bin"), "-o", down.to_str().unwrap()]));
    assert_eq!(sha256(&std::fs::read(&down).unwrap()), sha256(&data));
    run(curl().args(["--disable-epsv", &s.url("/dir/"), "-l"]));
    // Rename and delete with quote commands.
    run(curl().args([&s.url("/"), "-Q", "RNFR dir/up.bin", "-Q", "RNTO dir/renamed.bin", "-Q", "DELE dir/part.bin"]));
    assert!(s.path().join("dir/renamed.bin").exists());
    assert!(!s.path().join("dir/part.bin").exists());
}

#[test]
fn python_ftplib_does_everything_including_abort_and_ascii() {
    require("python3");
    let s = Server::start(&["--user", "u", "--pass", "p"]);
    std::fs::write(s.path().join("big.bin"), pattern(16 << 20, 4)).unwrap();
    let script = format!(
        r#"
import ftplib, io, hashlib, os
f = ftplib.FTP()
f.connect('127.0.0.1', {port}, timeout=30)
f.login('u', 'p')
data = os.urandom(3 * 1024 * 1024 + 17)
f.storbinary('STOR up.bin', io.BytesIO(data))
got = io.BytesIO(); f.retrbinary('RETR up.bin', got.write)
assert hashlib.sha256(got.getvalue()).digest() == hashlib.sha256(data).digest()
assert f.size('up.bin') == len(data)
rest = io.BytesIO(); f.retrbinary('RETR up.bin', rest.write, rest=1000)
assert rest.getvalue() == data[1000:]
facts = dict(f.mlsd())
assert facts['up.bin']['type'] == 'file' and facts['up.bin']['size'] == str(len(data))
f.mkd('sub'); f.cwd('sub'); assert f.pwd() == '/sub'; f.cwd('..')
f.rename('up.bin', 'sub/moved.bin'); assert f.nlst('sub') == ['moved.bin']
f.storlines('STOR lines.txt', io.BytesIO(b'one\ntwo\n'))
lines = []; f.retrlines('RETR lines.txt', lines.append); assert lines == ['one', 'two'], lines
# Abort a download mid-way: IAC IP, IAC DM (urgent), ABOR.
conn = f.transfercmd('RETR big.bin')
conn.recv(65536)
resp = f.abort()
assert resp[:3] in ('426', '226', '225'), resp
conn.close()
if resp.startswith('426'):
    f.voidresp()  # RFC 959: 426 for the transfer, then 226 for the ABOR
f.delete('sub/moved.bin'); f.rmd('sub'); f.delete('lines.txt')
assert f.nlst() == ['big.bin'], f.nlst()
print('ok')
f.quit()
"#,
        port = s.addr.port()
    );
    assert_eq!(run(Command::new("python3").args(["-c", &script])).trim(), "ok");
}

#[test]
fn lftp_mirrors_both_ways_and_resumes() {
    require("lftp");
    let s = Server::start(&["--user", "u", "--pass", "p"]);
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("up");
    std::fs::create_dir_all(up.join("nested/deeper")).unwrap();
    let files = [("a.bin", 1 << 20), ("nested/b.txt", 1234), ("nested/deeper/c.bin", 300_000), ("empty", 0)];
    for (i, (name, size)) in files.iter().enumerate() {
        std::fs::write(up.join(name), pattern(*size, i as u64 + 20)).unwrap();
    }
    let lftp = |commands: &str| {
        let script = format!(
            "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set xfer:clobber on; \
             open -u u,p ftp://{}; {commands}",
            s.addr
        );
        run(Command::new("lftp").args(["-c", &script]))
    };
    lftp(&format!("mirror -R {} /remote", up.display()));
    for (name, _) in &files {
        assert_eq!(
            sha256(&std::fs::read(s.path().join("remote").join(name)).unwrap()),
            sha256(&std::fs::read(up.join(name)).unwrap()),
            "{name} uploaded"
        );
    }
    let down = local.path().join("down");
    lftp(&format!("mirror /remote {}", down.display()));
    for (name, _) in &files {
        assert_eq!(std::fs::read(down.join(name)).unwrap(), std::fs::read(up.join(name)).unwrap(), "{name} downloaded");
    }
    // Resume a download with get -c.
    let whole = std::fs::read(up.join("a.bin")).unwrap();
    let target = local.path().join("partial.bin");
    std::fs::write(&target, &whole[..100_000]).unwrap();
    lftp(&format!("get -c /remote/a.bin -o {}", target.display()));
    assert_eq!(std::fs::read(&target).unwrap(), whole);
    lftp("mv /remote/empty /remote/was-empty; rm /remote/nested/b.txt");
    assert!(s.path().join("remote/was-empty").exists());
    assert!(!s.path().join("remote/nested/b.txt").exists());
}

#[test]
fn rclone_ftp_backend_copies_checks_moves_and_deletes() {
    require("rclone");
    let s = Server::start(&["--user", "u", "--pass", "p", "-vv"]);
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("one.bin"), pattern(2 << 20, 31)).unwrap();
    std::fs::write(src.join("sub/two.txt"), b"two\n").unwrap();
    let obscured = run(Command::new("rclone").args(["obscure", "p"])).trim().to_string();
    let remote = format!(":ftp,host=127.0.0.1,port={},user=u,pass={obscured}:", s.addr.port());
    let rclone = |args: &[&str]| {
        let mut c = Command::new("rclone");
        c.args(["--config", "/dev/null", "--low-level-retries", "1", "--retries", "1", "--contimeout", "10s"]);
        c.args(args);
        run(&mut c)
    };
    rclone(&["copy", src.to_str().unwrap(), &format!("{remote}dst")]);
    assert_eq!(std::fs::read(s.path().join("dst/one.bin")).unwrap(), std::fs::read(src.join("one.bin")).unwrap());
    rclone(&["check", src.to_str().unwrap(), &format!("{remote}dst")]);
    let listing = rclone(&["lsf", "-R", &format!("{remote}dst")]);
    assert_eq!(listing, "one.bin\nsub/\nsub/two.txt\n");
    let back = local.path().join("back");
    rclone(&["copy", &format!("{remote}dst"), back.to_str().unwrap()]);
    assert_eq!(std::fs::read(back.join("sub/two.txt")).unwrap(), b"two\n");
    // Multi-thread download: ranged RETRs that close the data connection early (rclone #7532).
    std::fs::create_dir(s.path().join("mt")).unwrap();
    std::fs::write(s.path().join("mt/big.bin"), pattern(24 << 20, 32)).unwrap();
    let mt = local.path().join("mt");
    let threads = ["--multi-thread-streams", "4", "--multi-thread-cutoff", "1M", "--multi-thread-chunk-size", "4M"];
    rclone(&[&threads[..], &["copy", &format!("{remote}mt"), mt.to_str().unwrap()]].concat());
    assert_eq!(
        sha256(&std::fs::read(mt.join("big.bin")).unwrap()),
        sha256(&std::fs::read(s.path().join("mt/big.bin")).unwrap())
    );
    assert!(s.log().contains("<- REST 4194304"), "rclone used ranged reads");
    rclone(&["moveto", &format!("{remote}dst/one.bin"), &format!("{remote}dst/moved.bin")]);
    assert!(s.path().join("dst/moved.bin").exists() && !s.path().join("dst/one.bin").exists());
    rclone(&["delete", &format!("{remote}dst/sub/two.txt")]);
    assert!(!s.path().join("dst/sub/two.txt").exists());
}
