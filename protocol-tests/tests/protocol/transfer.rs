use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::wait::wait_until;
use protocol_tests::{pattern, sha256, Server};

#[test]
fn stor_then_retr_returns_the_same_bytes_from_0_b_to_256_mib() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE I").code, 200);
    let sizes = [0usize, 1, 1000, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 << 20, 256 << 20];
    for (i, &size) in sizes.iter().enumerate() {
        let data = pattern(size, i as u64 + 1);
        let name = format!("f{size}.bin");
        c.store(&format!("STOR {name}"), &data);
        assert_eq!(sha256(&std::fs::read(s.path().join(&name)).unwrap()), sha256(&data), "on disk, {size} B");
        assert_eq!(c.cmd(&format!("SIZE {name}")).text(), format!("213 {size}"));
        let back = c.retr(&name);
        assert_eq!(back.len(), size);
        assert_eq!(sha256(&back), sha256(&data), "downloaded, {size} B");
    }
}

#[test]
fn rest_retr_resumes_a_download() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"0123456789").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("REST 3").code, 350);
    assert_eq!(c.retr("f"), b"3456789");
    assert_eq!(c.retr("f"), b"0123456789", "REST applies to one transfer only");
    assert_eq!(c.cmd("REST 10").code, 350);
    assert_eq!(c.retr("f"), b"", "REST at the end sends nothing");
    // REST before PASV (as lftp and curl send PASV first, others after) both work.
    let addr = c.pasv();
    assert_eq!(c.cmd("REST 8").code, 350);
    let mut data = TcpStream::connect(addr).unwrap();
    assert_eq!(c.cmd("RETR f").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply().code, 226);
    assert_eq!(got, b"89");
}

#[test]
fn rest_stor_writes_from_the_offset_and_keeps_the_rest() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"0123456789").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("REST 3").code, 350);
    c.store("STOR f", b"ab");
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"012ab56789");
    assert_eq!(c.cmd("REST 10").code, 350);
    c.store("STOR f", b"XY");
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"012ab56789XY");
    assert_eq!(c.cmd("REST 100").code, 350);
    let (_, r) = c.open_data("STOR f");
    assert_eq!(r.code, 550, "restart beyond the end: {r:?}");
}

#[test]
fn megabyte_uploads_at_an_offset_and_appended_land_where_they_belong() {
    // Large enough to take the spliced path (binary, plain, local file) after the first read.
    let s = Server::start(&[]);
    let old = pattern(8 << 20, 71);
    std::fs::write(s.path().join("f"), &old).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let new = pattern(3 << 20, 72);
    assert_eq!(c.cmd("REST 1048579").code, 350);
    c.store("STOR f", &new);
    let mut want = old.clone();
    want[1048579..1048579 + new.len()].copy_from_slice(&new);
    assert!(std::fs::read(s.path().join("f")).unwrap() == want, "REST 1048579 + STOR of 3 MiB into 8 MiB");
    let tail = pattern(5 << 20, 73);
    c.store("APPE f", &tail);
    want.extend_from_slice(&tail);
    assert!(std::fs::read(s.path().join("f")).unwrap() == want, "APPE of 5 MiB");
    c.store("STOR f", &tail);
    assert!(std::fs::read(s.path().join("f")).unwrap() == tail, "STOR of 5 MiB over 13 MiB");
}

#[test]
fn appe_appends_and_creates() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"0123456789").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    c.store("APPE f", b"abc");
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"0123456789abc");
    c.store("APPE new", b"xyz");
    assert_eq!(std::fs::read(s.path().join("new")).unwrap(), b"xyz");
}

#[test]
fn stor_replaces_a_file_and_stou_picks_a_new_name() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"old content that is long").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    c.store("STOR f", b"new");
    assert_eq!(std::fs::read(s.path().join("f")).unwrap(), b"new");
    let (mut data, r) = c.open_data("STOU");
    assert_eq!(r.code, 150);
    let name = r.lines[0].strip_prefix("150 FILE: ").expect("STOU names the file").to_string();
    data.write_all(b"unique").unwrap();
    drop(data);
    assert_eq!(c.reply().code, 226);
    assert_eq!(std::fs::read(s.path().join(name)).unwrap(), b"unique");
    std::fs::create_dir(s.path().join("d")).unwrap();
    let (_, r) = c.open_data("STOR d");
    assert_eq!(r.code, 550, "STOR onto a directory");
}

#[test]
fn ascii_mode_converts_line_ends() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("unix.txt"), b"a\nb\n\nc").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("TYPE A").code, 200);
    assert_eq!(c.retr("unix.txt"), b"a\r\nb\r\n\r\nc");
    c.store("STOR dos.txt", b"x\r\ny\r\n\r\nz\r");
    assert_eq!(std::fs::read(s.path().join("dos.txt")).unwrap(), b"x\ny\n\nz\r");
    assert_eq!(c.cmd("TYPE I").code, 200);
    assert_eq!(c.retr("unix.txt"), b"a\nb\n\nc");
}

#[test]
fn abor_during_a_download_gives_426_then_226_also_after_telnet_ip_synch() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("big"), pattern(64 << 20, 7)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    for prefix in [&b""[..], b"\xff\xf4\xff\xf2"] {
        let (data, r) = c.open_data("RETR big");
        assert_eq!(r.code, 150);
        // Not reading: the transfer is certainly still running.
        c.send_raw(&[prefix, b"ABOR\r\n"].concat());
        assert_eq!(c.reply().code, 426);
        assert_eq!(c.reply().code, 226);
        drop(data);
        assert_eq!(c.cmd("NOOP").code, 200);
    }
}

#[test]
fn abor_during_an_upload_leaves_no_file() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("STOR up.bin");
    assert_eq!(r.code, 150);
    data.write_all(&pattern(1 << 20, 3)).unwrap();
    c.send("ABOR");
    assert_eq!(c.reply().code, 426);
    assert_eq!(c.reply().code, 226);
    wait_until(Duration::from_secs(10), "the partial upload is removed", || {
        std::fs::read_dir(s.path()).unwrap().count() == 0
    });
}

#[test]
fn a_client_closing_the_data_connection_early_gets_426_and_the_session_goes_on() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("big"), pattern(32 << 20, 9)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    for offset in [0u64, 1 << 20] {
        assert_eq!(c.cmd(&format!("REST {offset}")).code, 350);
        let (mut data, r) = c.open_data("RETR big");
        assert_eq!(r.code, 150);
        let mut buf = vec![0; 64 * 1024];
        data.read_exact(&mut buf).unwrap();
        drop(data);
        assert_eq!(c.reply().code, 426, "a parallel-range client closes early on purpose");
        assert_eq!(c.cmd("NOOP").code, 200);
    }
}

#[test]
fn epsv_and_active_port_and_eprt_transfers() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"via every mode").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let port = c.epsv();
    let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(c.cmd("RETR f").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply().code, 226);
    assert_eq!(got, b"via every mode");
    for use_eprt in [false, true] {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        let cmd =
            if use_eprt { format!("EPRT |1|127.0.0.1|{p}|") } else { format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255) };
        assert_eq!(c.cmd(&cmd).code, 200);
        assert_eq!(c.cmd("RETR f").code, 150);
        let (mut d, _) = l.accept().unwrap();
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        assert_eq!(c.reply().code, 226);
        assert_eq!(got, b"via every mode");
    }
    // Active mode to a port where nobody listens: 425.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    assert_eq!(c.cmd(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255)).code, 200);
    assert_eq!(c.cmd("RETR f").code, 150);
    assert_eq!(c.reply().code, 425);
}

#[test]
fn retr_of_a_missing_file_or_a_directory_is_550_without_150() {
    let s = Server::start(&[]);
    std::fs::create_dir(s.path().join("d")).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let (_, r) = c.open_data("RETR nope");
    assert_eq!(r.code, 550);
    let (_, r) = c.open_data("RETR d");
    assert_eq!(r.code, 550);
    let mut fresh = Client::login_anonymous(s.addr);
    assert_eq!(fresh.cmd("RETR d").code, 425, "no PASV/PORT yet");
}

#[test]
fn no_seek_refuses_a_restarted_download() {
    let s = Server::start(&["--no-seek"]);
    std::fs::write(s.path().join("f"), b"0123456789").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("REST 3").code, 350);
    let (_, r) = c.open_data("RETR f");
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(c.retr("f"), b"0123456789");
}

#[test]
fn pasv_advertises_the_public_ip_when_set() {
    let s = Server::start(&["--public-ip", "10.1.2.3"]);
    let mut c = Client::login_anonymous(s.addr);
    let r = c.cmd("PASV");
    assert_eq!(r.code, 227);
    assert!(r.lines[0].contains("(10,1,2,3,"), "{r:?}");
    assert_eq!(c.cmd("EPSV").code, 229, "EPSV gives only the port");
}

#[test]
fn stat_and_noop_answer_during_a_transfer() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("big"), pattern(32 << 20, 8)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("RETR big");
    assert_eq!(r.code, 150);
    let mut first = vec![0; 1 << 20];
    data.read_exact(&mut first).unwrap();
    let r = c.cmd("STAT");
    assert_eq!(r.code, 213, "{r:?}");
    assert!(r.text().contains("bytes moved"), "{r:?}");
    assert_eq!(c.cmd("NOOP").code, 200);
    let mut rest = Vec::new();
    data.read_to_end(&mut rest).unwrap();
    assert_eq!(first.len() + rest.len(), 32 << 20);
    assert_eq!(c.reply().code, 226);
}

#[test]
fn epsv_all_refuses_pasv_port_and_eprt_afterwards() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f"), b"x").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("EPSV ALL").code, 200);
    assert_eq!(c.cmd("PASV").code, 503);
    assert_eq!(c.cmd("PORT 127,0,0,1,200,10").code, 503);
    assert_eq!(c.cmd("EPRT |1|127.0.0.1|5000|").code, 503);
    assert_eq!(c.cmd("EPSV 2").code, 522, "IPv6 data on an IPv4 control connection");
    let port = c.epsv();
    let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(c.cmd("RETR f").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply().code, 226);
    assert_eq!(got, b"x");
}

#[test]
fn xferlog_has_a_standard_line_per_file_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let xferlog = dir.path().join("xferlog");
    let s = Server::start(&["--user", "alice", "--pass", "pw", "--xferlog", xferlog.to_str().unwrap()]);
    std::fs::write(s.path().join("big.bin"), pattern(64 << 20, 5)).unwrap();
    let mut c = Client::connect(s.addr);
    c.login("alice", "pw");
    let data = pattern(300_000, 4);
    c.store("STOR scan 01.pdf", &data);
    assert_eq!(c.retr("scan 01.pdf"), data);
    c.cmd("TYPE A");
    assert!(!c.listing("LIST").is_empty(), "listings are not file transfers");
    let lines = || std::fs::read_to_string(&xferlog).unwrap_or_default();
    wait_until(Duration::from_secs(10), "two xferlog lines", || lines().lines().count() == 2);
    let text = lines();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    for (row, direction) in rows.iter().zip(["i", "o"]) {
        // ctime (5 fields), seconds, host, bytes, path, type, action, direction, mode, user,
        // service, auth method, auth user, status: 18 fields split on blanks.
        assert_eq!(row.len(), 18, "{text}");
        assert!(row[5].parse::<u64>().unwrap() >= 1);
        assert_eq!(
            &row[6..],
            ["127.0.0.1", "300000", "/scan_01.pdf", "b", "_", direction, "r", "alice", "ftp", "0", "*", "c"]
        );
    }
    // A file the client stops reading part way is logged as incomplete.
    c.cmd("TYPE I");
    let (mut conn, r) = c.open_data("RETR big.bin");
    assert_eq!(r.code, 150);
    let mut first = vec![0u8; 1 << 20];
    conn.read_exact(&mut first).unwrap();
    drop(conn);
    let _ = c.reply();
    wait_until(Duration::from_secs(10), "the third line", || lines().lines().count() == 3);
    let last = lines().lines().nth(2).unwrap().to_string();
    assert!(last.contains(" /big.bin b _ o r alice ftp 0 * i"), "{last}");
}
