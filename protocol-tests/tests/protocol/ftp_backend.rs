//! The ftp backend beyond the conformance suite: TLS (explicit with a trusted certificate and
//! session reuse, implicit without a check, an untrusted certificate refused), a config-file
//! remote with an obscured password, uploads that fail leaving nothing behind, the connection
//! limit, and an upstream that goes away.

use std::io::Write;
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{make_trusted_cert, pattern, run_cli, run_ok, sha256, Server};

fn ftp_remote(port: u16, extra: &str) -> String {
    format!(":ftp,host=127.0.0.1,port={port},user=anonymous{extra}:")
}

fn round_trip(front: &Server) {
    let mut c = Client::login_anonymous(front.addr);
    let data = pattern(2 << 20, 31);
    c.store("STOR f.bin", &data);
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    assert_eq!(c.cmd("REST 1048576").code, 350);
    assert_eq!(c.retr("f.bin"), &data[1 << 20..]);
    assert_eq!(c.listing("NLST"), "f.bin\r\n");
}

#[test]
fn explicit_tls_with_a_trusted_certificate_and_required_session_reuse() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_trusted_cert(certs.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let upstream = Server::start(&["--cert", cert, "--key", key, "--tls-require-reuse"]);
    let front =
        Server::start_remote(&ftp_remote(upstream.addr.port(), ",explicit_tls"), &[], &[("SSL_CERT_FILE", cert)]);
    round_trip(&front);
    let on_disk = std::fs::read(upstream.path().join("f.bin")).unwrap();
    assert_eq!(sha256(&on_disk), sha256(&pattern(2 << 20, 31)));
}

#[test]
fn implicit_tls_without_a_certificate_check() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_trusted_cert(certs.path());
    let upstream = Server::start(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--implicit-tls"]);
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ",tls,no_check_certificate"), &[], &[]);
    round_trip(&front);
}

#[test]
fn an_untrusted_certificate_stops_the_start_with_a_clear_error() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_trusted_cert(certs.path());
    let upstream = Server::start(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    let remote = ftp_remote(upstream.addr.port(), ",explicit_tls");
    let (code, _, err) = run_cli(&["serve", &remote, "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("certificate") && err.contains("no_check_certificate"), "{err}");
}

#[test]
fn a_config_file_remote_with_an_obscured_password() {
    let upstream = Server::start(&["--user", "alice", "--pass", "s3cret pw"]);
    let (code, obscured, _) = run_cli(&["obscure", "s3cret pw"]);
    assert_eq!(code, 0);
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("rclone.conf");
    let section = format!(
        "[up]\ntype = ftp\nhost = 127.0.0.1\nport = {}\nuser = alice\npass = {}\n",
        upstream.addr.port(),
        obscured.trim()
    );
    std::fs::write(&conf, section).unwrap();
    let front = Server::start_remote("up:", &["--config", conf.to_str().unwrap()], &[]);
    round_trip(&front);
    // The wrong password: the start stops, saying what the server said.
    std::fs::write(
        &conf,
        format!("[up]\ntype = ftp\nhost = 127.0.0.1\nport = {}\nuser = alice\npass = {obscured}", upstream.addr.port()),
    )
    .unwrap();
    let wrong = run_cli(&["obscure", "wrong"]).1;
    let (code, _, err) = run_cli(&[
        "serve",
        &format!("up,pass={}:", wrong.trim()),
        "--config",
        conf.to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("530"), "{err}");
}

#[test]
fn an_aborted_upload_leaves_neither_a_partial_file_nor_a_changed_one() {
    let upstream = Server::start(&[]);
    std::fs::write(upstream.path().join("keep.bin"), b"old content").unwrap();
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ""), &[], &[]);
    let mut c = Client::login_anonymous(front.addr);
    for name in ["new.bin", "keep.bin"] {
        let (mut data, r) = c.open_data(&format!("STOR {name}"));
        assert_eq!(r.code, 150);
        data.write_all(&pattern(1 << 20, 3)).unwrap();
        c.send("ABOR");
        assert_eq!(c.reply().code, 426);
        assert_eq!(c.reply().code, 226);
        drop(data);
    }
    wait_until(Duration::from_secs(20), "the upstream holds keep.bin only", || {
        let names: Vec<_> = std::fs::read_dir(upstream.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names == ["keep.bin"]
    });
    assert_eq!(std::fs::read(upstream.path().join("keep.bin")).unwrap(), b"old content");
    assert_eq!(c.listing("NLST"), "keep.bin\r\n");
}

#[test]
fn with_one_connection_allowed_transfers_take_turns() {
    let upstream = Server::start(&["-vv"]);
    let data = pattern(4 << 20, 12);
    std::fs::write(upstream.path().join("f.bin"), &data).unwrap();
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ",concurrency=1"), &[], &[]);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let addr = front.addr;
            std::thread::spawn(move || sha256(&Client::login_anonymous(addr).retr("f.bin")))
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), sha256(&data));
    }
    // The limit holds: the upstream saw one session from the front at a time.
    let log = upstream.log();
    assert_eq!(log.matches("logged in").count(), 1, "one pooled connection was reused:\n{log}");
}

#[test]
fn an_upstream_that_goes_away_gives_a_transient_error_not_a_hang() {
    let mut upstream = Server::start(&[]);
    std::fs::write(upstream.path().join("f"), b"x").unwrap();
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ""), &[], &[]);
    let mut c = Client::login_anonymous(front.addr);
    assert_eq!(c.retr("f"), b"x");
    upstream.signal("KILL");
    upstream.wait_exit(Duration::from_secs(10));
    let r = c.cmd("SIZE g");
    assert_eq!(r.code, 450, "{r:?}");
    let (_data, r) = c.open_data("RETR f");
    assert_eq!(r.code, 450, "{r:?}");
    assert_eq!(c.cmd("NOOP").code, 200, "the session goes on");
}

#[test]
fn curl_and_ftplib_through_two_servers() {
    let upstream = Server::start(&[]);
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ""), &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    std::fs::write(&src, pattern(5 << 20, 8)).unwrap();
    run_ok(
        std::process::Command::new("curl")
            .args(["-sS", "-T"])
            .arg(&src)
            .arg(front.url("/via/curl.bin"))
            .arg("--ftp-create-dirs"),
    );
    let got = run_ok(
        std::process::Command::new("curl")
            .args(["-sS", &front.url("/via/curl.bin"), "-o"])
            .arg(dir.path().join("back.bin")),
    );
    assert!(got.is_empty());
    assert_eq!(std::fs::read(dir.path().join("back.bin")).unwrap(), std::fs::read(&src).unwrap());
    assert_eq!(std::fs::read(upstream.path().join("via/curl.bin")).unwrap(), std::fs::read(&src).unwrap());
    let out = protocol_tests::python(&format!(
        "import ftplib\nf = ftplib.FTP()\nf.connect('127.0.0.1', {})\nf.login()\nprint(sorted(f.nlst('via')))\nprint(f.size('via/curl.bin'))",
        front.addr.port()
    ));
    assert_eq!(out, format!("['curl.bin']\n{}\n", 5 << 20));
}

#[test]
fn names_are_encoded_on_the_server_as_rclone_encodes_them() {
    // rclone's ftp encoding (Slash,Del,Ctl,RightSpace,Dot): a trailing space is kept as "␠",
    // since many FTP servers drop or change it.
    let upstream = Server::start(&[]);
    std::fs::write(upstream.path().join("from disk␠"), b"on disk").unwrap();
    let front = Server::start_remote(&ftp_remote(upstream.addr.port(), ""), &[], &[]);
    let mut c = Client::login_anonymous(front.addr);
    assert_eq!(c.store("STOR report ", b"trailing space").code, 226);
    assert_eq!(std::fs::read(upstream.path().join("report␠")).unwrap(), b"trailing space");
    assert!(!upstream.path().join("report ").exists());
    let listed = c.listing("NLST");
    assert_eq!(listed, "from disk \r\nreport \r\n");
    assert_eq!(c.retr("from disk "), b"on disk");
    // The official rclone, as a client of the same server, sees the same names.
    let pass = protocol_tests::run_ok(std::process::Command::new("rclone").args(["obscure", "guest"]));
    let theirs = protocol_tests::run_ok(std::process::Command::new("rclone").args([
        "lsf",
        &ftp_remote(upstream.addr.port(), &format!(",pass={}", pass.trim())),
        "--config",
        "/dev/null",
    ]));
    assert_eq!(theirs, "from disk \nreport \n");
    // encoding = None keeps names as they are.
    let raw = Server::start_remote(&ftp_remote(upstream.addr.port(), ",encoding=None"), &[], &[]);
    let mut c = Client::login_anonymous(raw.addr);
    assert_eq!(c.listing("NLST"), "from disk␠\r\nreport␠\r\n");
}
