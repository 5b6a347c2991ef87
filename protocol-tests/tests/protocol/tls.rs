//! FTPS (RFC 4217): explicit AUTH TLS and implicit TLS with curl, Python's FTP_TLS and lftp;
//! the refusals (clear-text login, PROT C, no session reuse, foreign ALPN); broken handshakes;
//! plaintext pipelined behind AUTH TLS; certificate reload on SIGHUP.

use std::process::Command;
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{have, make_cert, pattern, python, sha256, Server};

struct Tls {
    server: Server,
    _certs: tempfile::TempDir,
    cert: std::path::PathBuf,
}

fn start(extra: &[&str]) -> Tls {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(certs.path(), "localhost");
    let mut args = vec!["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    Tls { server: Server::start(&args), cert, _certs: certs }
}

/// Python preamble: an FTP_TLS client `f` logged in with PROT P; certificate not verified
/// (self-signed test certificate).
fn py_client(port: u16) -> String {
    format!(
        "import ftplib, ssl, io, hashlib, os\n\
         ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
         f = ftplib.FTP_TLS(context=ctx); f.connect('127.0.0.1', {port}, timeout=20); f.login(); f.prot_p()\n"
    )
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(["-sS", "-k", "--max-time", "30"]).args(args).output().expect("curl")
}

#[test]
fn feat_advertises_auth_tls_pbsz_and_prot() {
    let t = start(&[]);
    let mut c = Client::connect(t.server.addr);
    let feat = c.cmd("FEAT");
    for f in [" AUTH TLS", " PBSZ", " PROT"] {
        assert!(feat.lines.iter().any(|l| l == f), "{feat:?}");
    }
}

#[test]
fn clear_text_login_is_refused_unless_tls_is_optional() {
    let t = start(&[]);
    let mut c = Client::connect(t.server.addr);
    assert_eq!(c.cmd("USER anonymous").code, 530);
    assert_eq!(c.cmd("PBSZ 0").code, 503, "PBSZ needs AUTH first");
    drop(t);
    let t = start(&["--tls-optional"]);
    let mut c = Client::login_anonymous(t.server.addr);
    assert_eq!(c.listing("NLST"), "", "PROT C transfers allowed with --tls-optional");
}

#[test]
fn curl_explicit_tls_lists_uploads_and_downloads() {
    let t = start(&[]);
    let work = tempfile::tempdir().unwrap();
    let data = pattern(5 << 20, 40);
    std::fs::write(work.path().join("up.bin"), &data).unwrap();
    let url = t.server.url("/up.bin");
    let out = curl(&["--ssl-reqd", "-T", work.path().join("up.bin").to_str().unwrap(), &url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha256(&std::fs::read(t.server.path().join("up.bin")).unwrap()), sha256(&data));
    let out = curl(&["--ssl-reqd", &t.server.url("/")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(" up.bin"), "{out:?}");
    let out = curl(&["--ssl-reqd", &url]);
    assert!(out.status.success());
    assert_eq!(sha256(&out.stdout), sha256(&data));
    let plain = curl(&[&t.server.url("/")]);
    assert!(!plain.status.success(), "a client that will not do TLS cannot log in");
}

#[test]
fn curl_implicit_tls_with_ftps_urls() {
    let t = start(&["--implicit-tls"]);
    std::fs::write(t.server.path().join("f.bin"), pattern(1 << 20, 41)).unwrap();
    let url = format!("ftps://{}/f.bin", t.server.addr);
    let out = curl(&[&url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&pattern(1 << 20, 41)));
    let out = curl(&[&format!("ftps://{}/", t.server.addr)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(" f.bin"), "{out:?}");
}

#[test]
fn python_ftp_tls_with_prot_p_lists_uploads_and_downloads() {
    let t = start(&[]);
    let script = py_client(t.server.addr.port())
        + "data = os.urandom(3 * 1024 * 1024 + 5)\n\
           f.storbinary('STOR p.bin', io.BytesIO(data))\n\
           got = io.BytesIO(); f.retrbinary('RETR p.bin', got.write)\n\
           assert hashlib.sha256(got.getvalue()).digest() == hashlib.sha256(data).digest()\n\
           assert f.nlst() == ['p.bin'], f.nlst()\n\
           f.prot_c()\n\
           try:\n    f.nlst(); print('PROT C allowed')\n\
           except ftplib.error_perm as e:\n    print(str(e)[:3])\n\
           f.quit()\n";
    assert_eq!(python(&script).trim(), "521", "PROT C transfers are refused by default");
}

#[test]
fn prot_p_downloads_of_an_empty_file_a_resumed_one_and_an_aborted_one() {
    // Downloads under TLS are read and encrypted by a worker; the reactor closes the stream.
    let t = start(&[]);
    std::fs::write(t.server.path().join("empty"), b"").unwrap();
    std::fs::write(t.server.path().join("big.bin"), pattern(32 << 20, 43)).unwrap();
    let script = py_client(t.server.addr.port())
        + "got = io.BytesIO(); print(f.retrbinary('RETR empty', got.write)[:3], len(got.getvalue()))\n\
           got = io.BytesIO(); f.retrbinary('RETR big.bin', got.write, rest=1000003)\n\
           data = open(os.environ['BIG'], 'rb').read()\n\
           print('resumed', got.getvalue() == data[1000003:])\n\
           c = f.transfercmd('RETR big.bin'); c.recv(65536)\n\
           resp = f.abort(); c.close()\n\
           print('aborted', resp[:3])\n\
           resp.startswith('426') and f.voidresp()\n\
           print(f.sendcmd('NOOP')[:3])\n\
           f.quit()\n";
    let out =
        Command::new("python3").args(["-c", &script]).env("BIG", t.server.path().join("big.bin")).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().collect::<Vec<_>>(), ["226 0", "resumed True", "aborted 426", "200"], "{out:?}");
}

#[test]
fn prot_p_uploads_that_end_on_a_worker_budget_complete_at_once() {
    // A worker receives an upload 64 MiB at a time. A file of exactly that size ends as the
    // budget runs out, often with the client's close_notify already read into the TLS buffer
    // and nothing left on the socket: the next task must still run, or the client waits for
    // our close_notify until the data timeout and the upload is lost.
    let t = start(&["--tls-optional", "--data-timeout", "20s"]);
    let script = py_client(t.server.addr.port())
        + "import time\n\
           data = os.urandom(1 << 20) * 64\n\
           for i in range(6):\n\
           \x20   start = time.monotonic()\n\
           \x20   f.storbinary('STOR u%d.bin' % i, io.BytesIO(data))\n\
           \x20   print(i, os.path.getsize(os.path.join(os.environ['ROOT'], 'u%d.bin' % i)), time.monotonic() - start < 15)\n\
           f.quit()\n";
    let out = Command::new("python3").args(["-c", &script]).env("ROOT", t.server.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let want: Vec<String> = (0..6).map(|i| format!("{i} {} True", 64 << 20)).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want, "{out:?}");
}

#[test]
fn prot_p_upload_with_a_forged_record_fails_and_stores_nothing() {
    // Four MiB of good records, then an application-data record that fails authentication,
    // written under the TLS layer: the upload must fail, not be stored short or with the
    // forged bytes, and the session must go on.
    let t = start(&["--tls-optional"]);
    let script = py_client(t.server.addr.port())
        + "conn = f.transfercmd('STOR forged.bin')\n\
           conn.sendall(os.urandom(1 << 20) * 4)\n\
           os.write(conn.fileno(), bytes([23, 3, 3, 0, 64]) + os.urandom(64))\n\
           conn.close()\n\
           try:\n    print(f.voidresp()[:3])\n\
           except ftplib.all_errors as e:\n    print(str(e)[:3])\n\
           print(f.sendcmd('NOOP')[:3])\n";
    let out = python(&script);
    let codes: Vec<_> = out.split_whitespace().collect();
    assert_eq!(codes.len(), 2, "{out}");
    assert_eq!(codes[0], "426", "the upload fails as a broken transfer: {out}");
    assert_eq!(codes[1], "200", "{out}");
    let left: Vec<_> = std::fs::read_dir(t.server.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "neither the file nor a partial one is left: {left:?}");
}

#[test]
fn lftp_with_ssl_force_mirrors_both_ways() {
    assert!(have("lftp"), "lftp is not installed: the README's test command installs it");
    let t = start(&["--tls-require-reuse"]);
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("up");
    std::fs::create_dir_all(up.join("sub")).unwrap();
    std::fs::write(up.join("a.bin"), pattern(2 << 20, 42)).unwrap();
    std::fs::write(up.join("sub/b.txt"), b"bee\n").unwrap();
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ssl:verify-certificate no; \
         set ftp:ssl-force yes; set ftp:ssl-protect-data yes; open -u anonymous,x ftp://{}; \
         mirror -R {} /r; mirror /r {}",
        t.server.addr,
        up.display(),
        local.path().join("down").display()
    );
    let out = Command::new("lftp").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(t.server.path().join("r/a.bin")).unwrap(), pattern(2 << 20, 42));
    assert_eq!(std::fs::read(local.path().join("down/sub/b.txt")).unwrap(), b"bee\n");
}

#[test]
fn require_reuse_refuses_data_connections_that_do_not_resume_the_session() {
    let t = start(&["--tls-require-reuse"]);
    std::fs::write(t.server.path().join("f"), b"reused").unwrap();
    // curl resumes the control session on the data connection: allowed.
    let out = curl(&["--ssl-reqd", &t.server.url("/f")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"reused");
    // Python's ftplib does not resume: refused with 522, and the session goes on.
    let script = py_client(t.server.addr.port())
        + "try:\n    f.nlst(); print('allowed')\n\
           except ftplib.error_perm as e:\n    print(str(e)[:3])\n\
           except (ssl.SSLError, OSError):\n    \
               try:\n        f.voidresp()\n    except ftplib.error_perm as e:\n        print(str(e)[:3])\n\
           print(f.sendcmd('NOOP')[:3])\n";
    assert_eq!(python(&script).split_whitespace().collect::<Vec<_>>(), ["522", "200"]);
}

#[test]
fn require_reuse_refuses_an_upload_that_does_not_resume_and_stores_nothing() {
    // Uploads are received (and decrypted) by a worker, which also runs the data handshake.
    let t = start(&["--tls-require-reuse"]);
    let script = py_client(t.server.addr.port())
        + "try:\n    f.storbinary('STOR u.bin', io.BytesIO(b'x' * 300000)); print('allowed')\n\
           except ftplib.error_perm as e:\n    print(str(e)[:3])\n\
           except (ssl.SSLError, OSError):\n    \
               try:\n        f.voidresp()\n    except ftplib.error_perm as e:\n        print(str(e)[:3])\n\
           print(f.sendcmd('NOOP')[:3])\n";
    assert_eq!(python(&script).split_whitespace().collect::<Vec<_>>(), ["522", "200"]);
    let left: Vec<_> = std::fs::read_dir(t.server.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "neither the file nor a partial one is left: {left:?}");
}

#[test]
fn foreign_alpn_and_broken_handshakes_leave_the_server_serving() {
    let t = start(&["--implicit-tls"]);
    let port = t.server.addr.port();
    let script = format!(
        "import socket, ssl\n\
         def ctx(alpn):\n    c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n    \
             alpn and c.set_alpn_protocols(alpn); return c\n\
         def greet(alpn):\n    s = ctx(alpn).wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=10))\n    \
             return s.recv(100)[:3].decode()\n\
         try:\n    greet(['http/1.1']); print('http accepted')\n\
         except ssl.SSLError as e:\n    print('alpn refused')\n\
         print(greet(['ftp']), greet(None))\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=10); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n\
         got = b''\n\
         while True:\n    \
             try:\n        d = s.recv(100)\n    except ConnectionResetError:\n        d = b''\n    \
             if not d: break\n    got += d\n\
         print('garbage closed' if got == b'' or got[0] == 0x15 else repr(got))\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=10); s.sendall(b'\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03' + b'\\x00' * 40); s.close()\n\
         print(greet(None))\n"
    );
    let out = python(&script);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["alpn refused", "220 220", "garbage closed", "220"], "{out}");
    wait_until(Duration::from_secs(5), "the failed handshakes are logged", || {
        t.server.log().contains("TLS on the control connection failed")
    });
}

#[test]
fn plaintext_pipelined_behind_auth_tls_is_discarded() {
    let t = start(&[]);
    let script = format!(
        "import socket, ssl\n\
         s = socket.create_connection(('127.0.0.1', {}), timeout=10); f = s.makefile('rb')\n\
         f.readline()\n\
         s.sendall(b'AUTH TLS\\r\\nUSER anonymous\\r\\nPASS x\\r\\n')\n\
         print(f.readline()[:3].decode())\n\
         c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
         t = c.wrap_socket(s); t.sendall(b'PWD\\r\\n'); print(t.recv(100)[:3].decode())\n",
        t.server.addr.port()
    );
    assert_eq!(python(&script).split_whitespace().collect::<Vec<_>>(), ["234", "530"], "USER/PASS were not executed");
    assert!(t.server.log().contains("pipelined behind AUTH TLS"));
}

#[test]
fn sighup_reloads_the_certificate_and_a_bad_file_keeps_the_old_one() {
    let t = start(&["--implicit-tls"]);
    let port = t.server.addr.port();
    let fingerprint = |_: ()| {
        python(&format!(
            "import socket, ssl, hashlib\n\
             c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
             s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=10))\n\
             print(hashlib.sha256(s.getpeercert(True)).hexdigest())\n"
        ))
    };
    let first = fingerprint(());
    let other = tempfile::tempdir().unwrap();
    let (cert2, key2) = make_cert(other.path(), "renewed");
    std::fs::copy(&cert2, &t.cert).unwrap();
    std::fs::copy(&key2, t.cert.with_extension("key")).unwrap();
    t.server.signal("HUP");
    wait_until(Duration::from_secs(5), "reload logged", || t.server.log().contains("reloaded the TLS certificate"));
    let second = fingerprint(());
    assert_ne!(first, second, "the renewed certificate is served without a restart");
    std::fs::write(&t.cert, b"not a certificate").unwrap();
    t.server.signal("HUP");
    wait_until(Duration::from_secs(5), "failed reload logged", || {
        t.server.log().contains("keeping the old TLS certificate")
    });
    assert_eq!(fingerprint(()), second);
}

#[test]
fn rclone_ftp_backend_over_explicit_and_implicit_tls() {
    assert!(have("rclone"), "rclone is not installed: the README's test command installs it");
    let obscured = |p: &str| {
        let out = Command::new("rclone").args(["obscure", p]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let pass = obscured("x");
    for (flags, option) in [(&["--tls-require-reuse"][..], "explicit_tls=true"), (&["--implicit-tls"][..], "tls=true")]
    {
        let t = start(flags);
        let local = tempfile::tempdir().unwrap();
        std::fs::write(local.path().join("up.bin"), pattern(1 << 20, 43)).unwrap();
        let remote = format!(
            ":ftp,host=127.0.0.1,port={},user=anonymous,pass={pass},{option},no_check_certificate=true:",
            t.server.addr.port()
        );
        let rclone = |args: &[&str]| {
            let out = Command::new("rclone")
                .args(["--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{option}: {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        rclone(&["copy", local.path().to_str().unwrap(), &format!("{remote}dir")]);
        assert_eq!(std::fs::read(t.server.path().join("dir/up.bin")).unwrap(), pattern(1 << 20, 43), "{option}");
        assert_eq!(rclone(&["lsf", &format!("{remote}dir")]), b"up.bin\n", "{option}");
        assert_eq!(rclone(&["cat", &format!("{remote}dir/up.bin")]), pattern(1 << 20, 43), "{option}");
    }
}

#[test]
fn metrics_count_tls_handshakes_that_complete_and_that_fail() {
    let t = start(&["--metrics-addr", "127.0.0.1:0", "-v"]);
    let log = t.server.log();
    let url = log.split("Serving metrics on ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_string();
    let sample = |name: &str| -> u64 {
        let body = protocol_tests::run_ok(Command::new("curl").args(["-sS", "-f", &url]));
        body.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
    };
    // A listing over explicit TLS: the control connection's handshake and the data one's.
    let out = curl(&["--ssl-reqd", &t.server.url("/")]);
    assert!(out.status.success(), "{out:?}");
    let ok = "ftpvfs_tls_handshakes_total{result=\"ok\"}";
    let failed = "ftpvfs_tls_handshakes_total{result=\"failed\"}";
    wait_until(Duration::from_secs(20), "two handshakes counted", || sample(ok) == 2);
    assert_eq!(sample(failed), 0);
    // AUTH TLS, then bytes that are no ClientHello.
    let mut c = Client::connect(t.server.addr);
    assert_eq!(c.cmd("AUTH TLS").code, 234);
    c.send_raw(b"this is not a TLS record\r\n");
    assert!(c.closed_within(Duration::from_secs(20)));
    wait_until(Duration::from_secs(20), "the broken handshake counted", || sample(failed) == 1);
    assert_eq!(sample(ok), 2);
}
