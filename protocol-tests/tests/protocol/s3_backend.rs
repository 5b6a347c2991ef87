//! The s3 remote against real S3 servers (the official rclone's `rclone serve s3` and moto's
//! server), beyond the conformance suite: what rclone wrote ftpvfs reads and the other way
//! round (bytes, modification times, MD5 metadata), long listings with both list versions,
//! multipart uploads and what an abort leaves, start-up errors, the disk cache's recovery,
//! two servers on one bucket, credentials from the environment and metadata services, buckets
//! at the root, and a proxy that throttles, cuts off and stalls the store's answers.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use protocol_tests::client::Client;
use protocol_tests::fault_proxy::{Fault, FaultProxy};
use protocol_tests::s3::{no_files_below, S3Store, ACCESS_KEY, SECRET_KEY};
use protocol_tests::wait::wait_until;
use protocol_tests::{pattern, run_cli, sha256, Server};

fn mdtm(c: &mut Client, path: &str) -> String {
    let r = c.cmd(&format!("MDTM {path}"));
    assert_eq!(r.code, 213, "{r:?}");
    r.text()[4..].to_string()
}

/// rclone's JSON listing of `path` on the store: (name, size, modtime) of each entry.
fn rclone_lsjson(store: &S3Store, path: &str) -> Vec<(String, i64, String)> {
    let out = store.rclone_client(&["lsjson", &format!("{{}}{path}")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Name"].as_str().unwrap().to_string(),
                e["Size"].as_i64().unwrap(),
                e["ModTime"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn rclone_reads_what_ftpvfs_wrote_and_ftpvfs_reads_what_rclone_wrote() {
    let store = S3Store::rclone();
    let s = Server::start_remote(&store.remote("", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let big = pattern(7 << 20, 5);
    assert_eq!(c.cmd("MKD d").code, 257);
    c.store("STOR d/big.bin", &big);
    c.store("STOR d/empty", b"");
    c.store("STOR d/a b ü.txt", b"hello");
    assert_eq!(c.cmd("MFMT 20210304050607 d/a b ü.txt").code, 213);
    // The official rclone as an S3 client: same bytes, same time.
    let cat = |p: &str| {
        let out = Command::new("rclone")
            .args(["cat", &format!("{}bucket/d/{p}", store.remote("", "")), "--config", "/dev/null"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(sha256(&cat("big.bin")), sha256(&big));
    assert_eq!(cat("a b ü.txt"), b"hello");
    let listed = rclone_lsjson(&store, "bucket/d");
    let entry = listed.iter().find(|e| e.0 == "a b ü.txt").unwrap();
    assert!(entry.2.starts_with("2021-03-04T05:06:07"), "{listed:?}");
    assert!(
        listed.iter().any(|e| e.0 == "empty" && e.1 == 0) && listed.iter().any(|e| e.0 == "big.bin" && e.1 == 7 << 20)
    );
    // rclone uploads a file with a known time; ftpvfs serves it with that time.
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("from-rclone.txt");
    std::fs::write(&file, b"written by rclone").unwrap();
    protocol_tests::run_ok(Command::new("touch").args(["-d", "2019-08-07 06:05:04.5 UTC"]).arg(&file));
    store.rclone_client(&["copyto", file.to_str().unwrap(), "{}bucket/d/from-rclone.txt"]);
    c.cmd("NOOP");
    let mut fresh = Client::login_anonymous(Server::start_remote(&store.remote("", "bucket"), &[], &[]).addr);
    let _ = &mut fresh;
    assert_eq!(c.retr("d/from-rclone.txt"), b"written by rclone");
    assert_eq!(mdtm(&mut c, "d/from-rclone.txt"), "20190807060504");
    let mlsd = c.listing("MLSD d");
    assert!(mlsd.contains("modify=20190807060504.500;") || mlsd.contains("modify=20190807060504;"), "{mlsd}");
    // The store's own folder holds exactly the files.
    assert_eq!(std::fs::read(store.bucket_dir("bucket").join("d/big.bin")).unwrap(), big);
}

#[test]
fn writes_mode_multipart_uploads_carry_rclones_md5_and_mtime_metadata() {
    let store = S3Store::moto();
    let cache = tempfile::tempdir().unwrap();
    let s = Server::start_remote(
        &store.remote(",upload_cutoff=5Mi,chunk_size=5Mi", "bucket"),
        &["--vfs-cache-mode", "writes", "--vfs-write-back", "0s", "--cache-dir", cache.path().to_str().unwrap()],
        &[],
    );
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(12 << 20, 9);
    c.store("STOR big.bin", &data);
    c.store("STOR small.txt", b"small");
    assert_eq!(c.cmd("MFMT 20200102030405 small.txt").code, 213);
    let head = |key: &str| {
        let h = Command::new("curl")
            .args(["-sI", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", &format!("{ACCESS_KEY}:{SECRET_KEY}")])
            .arg(format!("{}/bucket/{key}", store.endpoint))
            .output()
            .unwrap();
        String::from_utf8_lossy(&h.stdout).to_ascii_lowercase()
    };
    wait_until(Duration::from_secs(30), "both files uploaded, with the time MFMT set", || {
        head("small.txt").contains("x-amz-meta-mtime: 1577934245") && head("big.bin").contains(" 200 ")
    });
    let big = head("big.bin");
    assert!(big.contains("-3\""), "a 3-part multipart ETag: {big}");
    let md5 = {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), &data).unwrap();
        protocol_tests::run_ok(Command::new("md5sum").arg(dir.path().join("f")))[..32].to_string()
    };
    assert!(big.contains("x-amz-meta-md5chksum:"), "{big}");
    // rclone reads the MD5 back from that metadata.
    let sums = store.rclone_client(&["md5sum", "{}bucket"]);
    assert!(sums.contains(&format!("{md5}  big.bin")), "{sums}");
    let small = head("small.txt");
    assert!(!small.contains("-1\""), "one PUT: {small}");
    assert_eq!(c.retr("small.txt"), b"small");
    assert_eq!(mdtm(&mut c, "small.txt"), "20200102030405");
}

#[test]
fn listings_past_list_chunk_with_both_list_versions() {
    let store = S3Store::moto();
    let writer = Server::start_remote(&store.remote("", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(writer.addr);
    assert_eq!(c.cmd("MKD sub").code, 257);
    let mut names: Vec<String> = (0..11).map(|i| format!("f{i:02} +%.txt")).collect();
    for n in &names {
        c.store(&format!("STOR {n}"), n.as_bytes());
    }
    c.store("STOR sub/inner", b"x");
    names.push("sub".into());
    names.sort();
    for version in ["1", "2"] {
        for encode in ["true", "false"] {
            let s = Server::start_remote(
                &store.remote(&format!(",list_chunk=3,list_version={version},list_url_encode={encode}"), "bucket"),
                &["--use-server-modtime"],
                &[],
            );
            let mut c = Client::login_anonymous(s.addr);
            let listed: Vec<String> = c.listing("NLST").lines().map(str::to_string).collect();
            assert_eq!(listed, names, "list_version {version}, url encoding {encode}");
        }
    }
}

#[test]
fn a_streamed_upload_is_multipart_and_an_aborted_one_leaves_no_parts() {
    let store = S3Store::moto();
    let s = Server::start_remote(&store.remote(",chunk_size=5Mi,upload_concurrency=2", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(13 << 20, 3);
    c.store("STOR big.bin", &data);
    assert_eq!(sha256(&c.retr("big.bin")), sha256(&data));
    let head = store.curl(&["-I", &format!("{}/bucket/big.bin", store.endpoint)]);
    assert!(head.contains("-3\""), "13 MiB in 5 MiB parts: {head}");
    // Abort a replacing upload half way: no parts stay behind, the old object stays whole.
    let (mut conn, r) = c.open_data("STOR big.bin");
    assert_eq!(r.code, 150);
    conn.write_all(&pattern(11 << 20, 4)).unwrap();
    c.send("ABOR");
    let first = c.reply().code;
    assert!(first == 426 || first == 226, "{first}");
    if first == 426 {
        assert_eq!(c.reply().code, 226);
    }
    drop(conn);
    wait_until(Duration::from_secs(20), "no multipart upload left", || store.multipart_uploads("bucket").is_empty());
    assert_eq!(sha256(&c.retr("big.bin")), sha256(&data));
}

#[test]
fn wrong_keys_a_missing_bucket_and_a_missing_key_are_reported() {
    let store = S3Store::rclone();
    let wrong = format!(
        ":s3,provider=Rclone,endpoint='{}',access_key_id={ACCESS_KEY},secret_access_key=wrong-secret:bucket",
        store.endpoint
    );
    let (code, _, err) = run_cli(&["serve", &wrong, "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SignatureDoesNotMatch"), "the store's code: {err}");
    let (code, _, err) = run_cli(&["serve", &store.remote("", "nosuchbucket"), "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
    let s = Server::start_remote(&store.remote("", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("SIZE nothing").code, 550);
    let (_d, r) = c.open_data("RETR nothing");
    assert_eq!(r.code, 550, "{r:?}");
}

#[test]
fn a_server_killed_during_a_writes_mode_upload_completes_it_after_a_restart() {
    let store = S3Store::rclone();
    let cache = tempfile::tempdir().unwrap();
    let remote = store.remote("", "bucket");
    let cache_dir = cache.path().to_str().unwrap().to_string();
    let mut s = Server::start_remote(
        &remote,
        &["--vfs-cache-mode", "writes", "--vfs-write-back", "1h", "--cache-dir", &cache_dir],
        &[],
    );
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(3 << 20, 21);
    c.store("STOR precious.bin", &data);
    assert!(!store.bucket_dir("bucket").join("precious.bin").exists(), "held back by --vfs-write-back 1h");
    s.signal("KILL");
    s.wait_exit(Duration::from_secs(10));
    let _again = Server::start_remote(
        &remote,
        &["--vfs-cache-mode", "writes", "--vfs-write-back", "0s", "--cache-dir", &cache_dir],
        &[],
    );
    let on_disk = store.bucket_dir("bucket").join("precious.bin");
    wait_until(Duration::from_secs(30), "the upload completes after the restart", || {
        std::fs::read(&on_disk).is_ok_and(|d| d == data)
    });
}

#[test]
fn two_servers_on_one_bucket_see_each_others_files() {
    let store = S3Store::rclone();
    let remote = store.remote("", "bucket");
    let (a, b) = (
        Server::start_remote(&remote, &["--dir-cache-time", "1s"], &[]),
        Server::start_remote(&remote, &["--dir-cache-time", "1s"], &[]),
    );
    let (mut ca, mut cb) = (Client::login_anonymous(a.addr), Client::login_anonymous(b.addr));
    assert_eq!(cb.listing("NLST"), "");
    ca.store("STOR from-a.txt", b"a");
    wait_until(Duration::from_secs(10), "b lists a's upload", || cb.listing("NLST") == "from-a.txt\r\n");
    assert_eq!(cb.retr("from-a.txt"), b"a");
    cb.store("STOR from-b.txt", b"b");
    assert_eq!(cb.cmd("DELE from-a.txt").code, 250);
    wait_until(Duration::from_secs(10), "a sees b's changes", || ca.listing("NLST") == "from-b.txt\r\n");
}

/// A metadata service on loopback: ECS container credentials at `/ecs` (which wants the
/// token `Bearer T`) and IMDSv2 (`PUT /latest/api/token`, then the role and its keys).
fn metadata_stub() -> (std::process::Child, u16) {
    let script = format!(
        r#"
import http.server, json, sys
creds = json.dumps({{"AccessKeyId": "{ACCESS_KEY}", "SecretAccessKey": "{SECRET_KEY}", "Token": "", "Expiration": "2099-01-01T00:00:00Z"}})
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, body):
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body.encode())
    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.answer(200, "tok")
        else: self.answer(403, "")
    def do_GET(self):
        if self.path == "/ecs":
            self.answer(200 if self.headers.get("Authorization") == "Bearer T" else 401, creds)
        elif self.headers.get("X-aws-ec2-metadata-token") != "tok": self.answer(401, "")
        elif self.path == "/latest/meta-data/iam/security-credentials/": self.answer(200, "role\n")
        elif self.path == "/latest/meta-data/iam/security-credentials/role": self.answer(200, creds)
        else: self.answer(404, "")
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn env_auth_finds_credentials_as_rclone_does() {
    let store = S3Store::rclone();
    let remote = format!(":s3,provider=Rclone,endpoint='{}',env_auth:bucket", store.endpoint);
    let (mut stub, port) = metadata_stub();
    let imds = format!("http://127.0.0.1:{port}");
    // Never the real metadata address, whatever the environment lacks.
    let base = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()), ("HOME", "/nonexistent")];
    let works = |env: &[(&str, &str)]| {
        let env: Vec<(&str, &str)> = base.iter().chain(env).copied().collect();
        let s = Server::start_remote(&remote, &[], &env);
        let mut c = Client::login_anonymous(s.addr);
        c.store("STOR probe.txt", b"signed");
        assert_eq!(c.retr("probe.txt"), b"signed");
    };
    works(&[("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, format!("[default]\naws_access_key_id = x\naws_secret_access_key = y\n[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")).unwrap();
    works(&[("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap()), ("AWS_PROFILE", "work")]);
    let ecs = format!("http://127.0.0.1:{port}/ecs");
    works(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &ecs), ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer T")]);
    works(&[]); // IMDSv2
                // With nothing anywhere, requests are anonymous, and rclone serve s3 refuses them.
    let (code, _, err) = run_cli(&["serve", &remote, "--addr", "127.0.0.1:0"]);
    let _ = (code, err);
    let _ = stub.kill();
    let _ = stub.wait();
}

#[test]
fn at_the_root_buckets_are_directories() {
    let store = S3Store::rclone();
    let s = Server::start_remote(&store.remote("", ""), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "bucket\r\n");
    assert_eq!(c.cmd("MKD newbucket").code, 257);
    assert!(store.root.path().join("newbucket").is_dir());
    c.store("STOR newbucket/f.txt", b"in a new bucket");
    assert_eq!(c.cmd("RMD newbucket").code, 550, "not empty");
    let (_d, r) = c.open_data("STOR f");
    assert_eq!(r.code, 550, "no files outside a bucket: {r:?}");
    assert_eq!(c.cmd("DELE newbucket/f.txt").code, 250);
    assert_eq!(c.cmd("RMD newbucket").code, 250);
    assert!(!store.root.path().join("newbucket").exists());
    assert_eq!(c.listing("NLST"), "bucket\r\n");
}

#[test]
fn throttling_cut_off_answers_and_stalls_end_in_retries_or_a_clean_451() {
    let store = S3Store::rclone();
    let proxy = FaultProxy::start(&store.endpoint);
    let remote = format!(
        ":s3,provider=Rclone,endpoint='{}',access_key_id={ACCESS_KEY},secret_access_key={SECRET_KEY}:bucket",
        proxy.endpoint()
    );
    let s =
        Server::start_remote(&remote, &["--timeout", "2s", "--low-level-retries", "4", "--dir-cache-time", "0"], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(6 << 20, 8);
    // 503 SlowDown on the next three connections: retried.
    proxy.set(Fault::SlowDown(3));
    let before = proxy.connections();
    c.store("STOR f.bin", &data);
    assert!(proxy.connections() >= before + 4, "three refused connections, then one that worked");
    proxy.set(Fault::SlowDown(3));
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    // Answers cut off mid-body: the download resumes where it broke.
    proxy.set(Fault::Reset { n: 2, after: 1 << 20 });
    let before = proxy.connections();
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    assert!(proxy.connections() >= before + 2, "the cut-off connections were used");
    // A store that never answers: a clean 451 within the timeouts, and no new object.
    proxy.set(Fault::Stall);
    let started = Instant::now();
    let (mut conn, r) = c.open_data("RETR f.bin");
    let code = if r.code == 150 {
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
        c.reply().code
    } else {
        r.code
    };
    assert!(code == 451 || code == 450 || code == 550, "{code}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    let (mut conn, r) = c.open_data("STOR stalled.bin");
    if r.code == 150 {
        let _ = conn.write_all(b"half of a file");
        drop(conn);
        let code = c.reply().code;
        assert!(code == 451 || code == 426, "{code}");
    } else {
        assert!(r.code == 451 || r.code == 450, "{r:?}");
    }
    proxy.set(Fault::None);
    assert!(!store.bucket_dir("bucket").join("stalled.bin").exists());
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data), "serving again once the store answers");
    assert!(no_files_below(&store.root.path().join("none")));
}

#[test]
fn renames_and_mfmt_of_large_objects_are_multipart_copies_above_copy_cutoff() {
    let store = S3Store::moto();
    let s = Server::start_remote(&store.remote(",copy_cutoff=5Mi,chunk_size=5Mi", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(12 << 20, 12);
    c.store("STOR a.bin", &data);
    assert_eq!(c.cmd("MFMT 20220101010101 a.bin").code, 213);
    assert_eq!(mdtm(&mut c, "a.bin"), "20220101010101");
    assert_eq!(c.cmd("MKD d").code, 257);
    assert_eq!(c.cmd("RNFR a.bin").code, 350);
    assert_eq!(c.cmd("RNTO d/b.bin").code, 250);
    assert_eq!(c.listing("NLST"), "d\r\n");
    assert_eq!(sha256(&c.retr("d/b.bin")), sha256(&data));
    assert_eq!(mdtm(&mut c, "d/b.bin"), "20220101010101", "the copy keeps the time");
    let head = store.curl(&["-I", &format!("{}/bucket/d/b.bin", store.endpoint)]);
    assert!(head.contains("-3\""), "three copied parts of 5 MiB: {head}");
    assert!(store.multipart_uploads("bucket").is_empty());
}

#[test]
fn rc_stats_count_the_requests_and_bytes_of_the_store() {
    let store = S3Store::rclone();
    let s = Server::start_remote(
        &store.remote("", "bucket"),
        &["--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth", "-v"],
        &[],
    );
    let log = s.log();
    let url =
        log.split("Serving remote control on ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_string();
    let stats = |command: &str| -> serde_json::Value {
        let (code, out, err) = run_cli(&["rc", "--url", &url, command]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let before = stats("core/stats")["backendRequests"].as_u64().unwrap();
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR f.bin", &pattern(100_000, 1));
    assert_eq!(c.retr("f.bin").len(), 100_000);
    let core = stats("core/stats");
    assert!(core["backendRequests"].as_u64().unwrap() >= before + 3, "{core}");
    assert_eq!(core["backendBytesRead"].as_u64(), Some(100_000), "{core}");
    let vfs = stats("vfs/stats");
    assert!(vfs["backendRequests"].as_u64().unwrap() >= before + 3, "{vfs}");
}

#[test]
fn names_are_encoded_in_keys_as_rclone_encodes_them() {
    let store = S3Store::moto();
    let s = Server::start_remote(&store.remote("", "bucket"), &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("MKD names").code, 257);
    // Names whose keys differ from them under rclone's s3 encoding (Slash,InvalidUtf8,Dot).
    let stored = ["quote‛d.txt", "fullwidth／slash.txt", "日本語．txt", "trailing ", "．"];
    for (i, name) in stored.iter().enumerate() {
        let r = c.store(&format!("STOR names/{name}"), format!("file {i}").as_bytes());
        assert_eq!(r.code, 226, "{name:?}: {r:?}");
    }
    // A key with a control character, written by rclone without any encoding: rclone shows
    // it as "ctl␁char", and so does ftpvfs (it used to be skipped).
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("f");
    std::fs::write(&file, b"control").unwrap();
    store.rclone_client(&["copyto", file.to_str().unwrap(), "{}bucket/names/ctl␁char", "--s3-encoding", "None"]);
    let keys = store.curl(&[&format!("{}/bucket?prefix=names/", store.endpoint)]);
    assert!(keys.contains("<Key>names/quote‛‛d.txt</Key>"), "the quote is quoted in the key: {keys}");
    // A look-alike stands for its original in rclone's standard names, so it is kept as it is.
    assert!(keys.contains("<Key>names/fullwidth／slash.txt</Key>"), "{keys}");
    assert!(keys.contains("<Key>names/．</Key>"), "{keys}");
    assert!(keys.contains("names/ctl\u{1}char") || keys.contains("names/ctl&#x1;char"), "{keys}");
    // ftpvfs lists exactly the names rclone lists, and each listed name can be read.
    let mut ours: Vec<String> =
        c.listing("NLST names").split("\r\n").filter(|l| !l.is_empty()).map(String::from).collect();
    let mut theirs: Vec<String> =
        store.rclone_client(&["lsf", "{}bucket/names"]).lines().map(|l| l.trim_end_matches('/').to_string()).collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert!(ours.iter().any(|n| n == "ctl␁char"), "{ours:?}");
    for name in &ours {
        assert!(!c.retr(&format!("names/{name}")).is_empty(), "{name:?}");
    }
    assert_eq!(c.retr("names/ctl␁char"), b"control");
    assert_eq!(c.retr("names/fullwidth／slash.txt"), b"file 1");
}

#[test]
fn a_wrapped_s3_remote_gets_the_network_flags_too() {
    // A crypt remote over the store, behind a proxy that stalls: --timeout 1s ends the read
    // in seconds (without the flags reaching the wrapped s3 remote it would wait 5 minutes).
    let store = S3Store::rclone();
    let proxy = FaultProxy::start(&store.endpoint);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rclone.conf");
    let pass = run_cli(&["obscure", "wrapped"]).1;
    std::fs::write(
        &conf,
        format!(
            "[store]\ntype = s3\nprovider = Rclone\nendpoint = {}\naccess_key_id = {ACCESS_KEY}\nsecret_access_key = {SECRET_KEY}\n\n[secret]\ntype = crypt\nremote = store:bucket/enc\npassword = {}\n",
            proxy.endpoint(),
            pass.trim()
        ),
    )
    .unwrap();
    let args =
        ["--config", conf.to_str().unwrap(), "--timeout", "1s", "--low-level-retries", "2", "--dir-cache-time", "0"];
    let s = Server::start_remote("secret:", &args, &[]);
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR f.txt", b"through crypt over s3");
    assert_eq!(c.retr("f.txt"), b"through crypt over s3");
    proxy.set(Fault::Stall);
    let started = Instant::now();
    let (mut conn, r) = c.open_data("RETR f.txt");
    let code = if r.code == 150 {
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
        c.reply().code
    } else {
        r.code
    };
    assert!(code == 451 || code == 450 || code == 550, "{code}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    proxy.set(Fault::None);
}
