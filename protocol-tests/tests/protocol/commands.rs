use protocol_tests::client::Client;
use protocol_tests::Server;

#[test]
fn info_commands() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("SYST").text(), "215 UNIX Type: L8");
    let feat = c.cmd("FEAT");
    assert_eq!(feat.code, 211);
    for f in [" EPSV", " EPRT", " MDTM", " MFMT", " REST STREAM", " SIZE", " UTF8", " TVFS"] {
        assert!(feat.lines.iter().any(|l| l == f), "FEAT lacks {f}: {feat:?}");
    }
    assert!(feat.lines.iter().any(|l| l.starts_with(" MLST type*;size*;modify*;")), "{feat:?}");
    assert_eq!(c.cmd("OPTS UTF8 ON").code, 200);
    assert_eq!(c.cmd("OPTS MLST type;size;").text(), "200 MLST OPTS type;size;");
    assert_eq!(c.cmd("HELP RETR").code, 214);
    assert_eq!(c.cmd("NOOP").code, 200);
    assert_eq!(c.cmd("ALLO 100").code, 202);
    assert_eq!(c.cmd("ACCT x").code, 202);
    let stat = c.cmd("STAT");
    assert_eq!(stat.code, 211);
    assert!(stat.text().contains("Logged in as anonymous"), "{stat:?}");
}

#[test]
fn type_mode_stru() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    for (cmd, code) in [
        ("TYPE A", 200),
        ("TYPE A N", 200),
        ("TYPE I", 200),
        ("TYPE L 8", 200),
        ("TYPE E", 504),
        ("TYPE X", 501),
        ("MODE S", 200),
        ("MODE B", 504),
        ("STRU F", 200),
        ("STRU R", 504),
    ] {
        assert_eq!(c.cmd(cmd).code, code, "{cmd}");
    }
}

#[test]
fn unknown_and_unimplemented_verbs() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("FOOBAR").code, 500);
    assert_eq!(c.cmd("SITE CHMOD 777 x").code, 502);
    assert_eq!(c.cmd("REIN").code, 502);
    assert_eq!(c.cmd("RETR").code, 501, "missing argument");
    assert_eq!(c.cmd("PWD").code, 257, "the session goes on");
}

#[test]
fn directories_pwd_cwd_cdup_mkd_rmd_and_x_aliases() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("PWD").text(), "257 \"/\" is the current directory");
    assert_eq!(c.cmd("MKD a b").text(), "257 \"/a b\" created");
    assert!(s.path().join("a b").is_dir());
    assert_eq!(c.cmd("XMKD /a b/c").code, 257);
    assert_eq!(c.cmd("MKD a b").code, 550, "already exists");
    assert_eq!(c.cmd("CWD a b/c").code, 250);
    assert_eq!(c.cmd("XPWD").text(), "257 \"/a b/c\" is the current directory");
    assert_eq!(c.cmd("CDUP").code, 250);
    assert_eq!(c.cmd("PWD").text(), "257 \"/a b\" is the current directory");
    assert_eq!(c.cmd("XCUP").code, 250);
    assert_eq!(c.cmd("XCWD nope").code, 550);
    assert_eq!(c.cmd("RMD a b").code, 550, "not empty");
    assert_eq!(c.cmd("XRMD a b/c").code, 250);
    assert_eq!(c.cmd("RMD /a b").code, 250);
    assert!(!s.path().join("a b").exists());
    assert_eq!(c.cmd("RMD /").code, 550);
    std::fs::write(s.path().join("f"), b"x").unwrap();
    assert_eq!(c.cmd("CWD f").code, 550, "a file is not a directory");
    assert_eq!(c.cmd("MKD \"quoted\"").text(), "257 \"/\"\"quoted\"\"\" created");
}

#[test]
fn files_dele_rename_size_mdtm_mfmt() {
    let s = Server::start(&[]);
    std::fs::write(s.path().join("f.txt"), b"12345").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("SIZE f.txt").text(), "213 5");
    assert_eq!(c.cmd("SIZE nope").code, 550);
    std::fs::create_dir(s.path().join("d")).unwrap();
    assert_eq!(c.cmd("SIZE d").code, 550);
    assert_eq!(c.cmd("MFMT 20200102030405 f.txt").text(), "213 Modify=20200102030405; /f.txt");
    assert_eq!(c.cmd("MDTM f.txt").text(), "213 20200102030405");
    assert_eq!(c.cmd("MFMT 2020 f.txt").code, 501);
    assert_eq!(c.cmd("RNFR f.txt").code, 350);
    assert_eq!(c.cmd("RNTO d/g.txt").code, 250);
    assert_eq!(std::fs::read(s.path().join("d/g.txt")).unwrap(), b"12345");
    assert_eq!(c.cmd("RNFR nope").code, 550);
    assert_eq!(c.cmd("RNTO x").code, 503);
    assert_eq!(c.cmd("DELE d/g.txt").code, 250);
    assert!(!s.path().join("d/g.txt").exists());
    assert_eq!(c.cmd("DELE d/g.txt").code, 550);
    assert_eq!(c.cmd("DELE d").code, 550, "DELE of a directory");
    assert_eq!(c.cmd("RNFR d").code, 350);
    assert_eq!(c.cmd("RNTO e").code, 250, "directories rename too");
    assert!(s.path().join("e").is_dir());
}

#[test]
fn every_reply_line_ends_in_crlf_and_multiline_replies_are_well_formed() {
    // Client::reply asserts CRLF on every line and the code-dash/code-space framing.
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    for cmd in ["FEAT", "HELP", "STAT", "STAT /"] {
        let r = c.cmd(cmd);
        assert!(r.lines.len() >= 2, "{cmd}: {r:?}");
        assert!(r.lines[0].as_bytes()[3] == b'-', "{cmd}: {r:?}");
        for middle in &r.lines[1..r.lines.len() - 1] {
            assert!(!middle.as_bytes().first().is_some_and(u8::is_ascii_digit), "{cmd}: {middle:?}");
        }
    }
}

#[test]
fn avbl_reports_free_space_where_the_backend_knows_it() {
    let s = Server::start(&[]);
    let mut c = Client::login_anonymous(s.addr);
    let r = c.cmd("AVBL");
    assert_eq!(r.code, 213, "{r:?}");
    let free: u64 = r.lines[0][4..].parse().expect("a byte count");
    assert!(free > 0);
    assert!(c.cmd("FEAT").lines.iter().any(|l| l == " AVBL"));
    assert_eq!(c.cmd("AVBL nope").code, 550);
    let ro = Server::start(&["--read-only"]);
    let mut c = Client::login_anonymous(ro.addr);
    assert_eq!(c.cmd("AVBL").text(), "213 0", "nothing can be uploaded to a read-only server");
    let mem = Server::start_remote(":memory:", &[], &[]);
    let mut c = Client::login_anonymous(mem.addr);
    assert_eq!(c.cmd("AVBL").code, 550, "the memory remote does not know");
}

/// Clients send ABOR as TCP urgent data (Python's ftplib sends all of "ABOR\r\n" that way, so
/// the urgent byte is the final LF). A read stops just before the urgent byte, so the server
/// must not take that short read for an empty socket: each command here is answered, within
/// the client's timeout, though its last byte is urgent and nothing follows it.
#[test]
fn a_command_whose_last_byte_is_urgent_data_is_answered() {
    let s = Server::start(&[]);
    let out = protocol_tests::python(&format!(
        r#"
import socket
c = socket.create_connection(("127.0.0.1", {port}), timeout=10)
f = c.makefile("rb")
assert f.readline().startswith(b"220")
c.sendall(b"NOOP\r\n", socket.MSG_OOB)
print(f.readline().decode().strip())
c.sendall(b"SYST\r\nNOOP\r\n", socket.MSG_OOB)
print(f.readline().decode().strip())
print(f.readline().decode().strip())
c.sendall(b"USER anonymous\r\n")
assert f.readline().startswith(b"331")
c.sendall(b"PASS x@example.com\r\n", socket.MSG_OOB)
assert f.readline().startswith(b"230")
c.sendall(b"ABOR\r\n", socket.MSG_OOB)
print(f.readline().decode().strip()[:3])
"#,
        port = s.addr.port()
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["200 OK", "215 UNIX Type: L8", "200 OK", "226"], "{out}");
}
