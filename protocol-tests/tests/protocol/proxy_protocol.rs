//! `--proxy-protocol-from`: connections from a balancer start with a PROXY header (v1 or v2)
//! and the address in it is the client's for everything (logs, bans, the passive data-peer
//! check, PORT); HAProxy in front of two instances on one bucket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::Duration;

use protocol_tests::client::Client;
use protocol_tests::s3::S3Store;
use protocol_tests::wait::wait_until;
use protocol_tests::{python, Server};

fn v2_header(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (source, destination) else { panic!("IPv4 only") };
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&s.ip().octets());
    h.extend_from_slice(&d.ip().octets());
    h.extend_from_slice(&s.port().to_be_bytes());
    h.extend_from_slice(&d.port().to_be_bytes());
    h
}

/// A control connection that says, through a v1 header, it comes from `client`.
fn connect_as(addr: SocketAddr, client: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "PROXY TCP4 {client} 127.0.0.2 40000 21\r\n").unwrap();
    stream
}

fn first_line(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[test]
fn the_header_names_the_client_for_logs_bans_passive_data_and_port() {
    let s = Server::start(&[
        "--proxy-protocol-from",
        "127.0.0.0/8",
        "--user",
        "alice",
        "--pass",
        "s3cret",
        "--ban-after",
        "2",
        "-v",
    ]);
    std::fs::write(s.path().join("hello.txt"), b"hello through the balancer\n").unwrap();
    // The header and the USER line in one segment: the line after the header is still read.
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.2 40000 21\r\nUSER alice\r\n").unwrap();
    let mut c = Client::over(stream);
    assert_eq!(c.reply().code, 331);
    assert_eq!(c.cmd("PASS s3cret").code, 230);
    // PASV names the address the client connected to (the balancer's front end).
    let data_addr = c.pasv();
    assert_eq!(data_addr.ip().to_string(), "127.0.0.2");
    let data_port = SocketAddr::new(s.addr.ip(), data_addr.port());
    // From the balancer, a data connection whose header names someone else is closed...
    let mut intruder = TcpStream::connect(data_port).unwrap();
    intruder.write_all(&v2_header("198.51.100.9:5000".parse().unwrap(), data_addr)).unwrap();
    intruder.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(intruder.read(&mut [0u8; 16]).unwrap_or(0), 0, "the intruder's data connection is closed");
    // ...and the one naming the client carries the transfer, header removed.
    let mut data = TcpStream::connect(data_port).unwrap();
    data.write_all(&v2_header("192.0.2.7:5001".parse().unwrap(), data_addr)).unwrap();
    assert_eq!(c.cmd("RETR hello.txt").code, 150);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello through the balancer\n");
    assert_eq!(c.reply().code, 226);
    // An upload's first bytes may come in the same segment as the header.
    let data_addr = c.pasv();
    let mut data = TcpStream::connect(SocketAddr::new(s.addr.ip(), data_addr.port())).unwrap();
    let mut segment = v2_header("192.0.2.7:5002".parse().unwrap(), data_addr);
    segment.extend_from_slice(b"uploaded bytes");
    data.write_all(&segment).unwrap();
    assert_eq!(c.cmd("STOR up.txt").code, 150);
    drop(data);
    assert_eq!(c.reply().code, 226);
    assert_eq!(std::fs::read(s.path().join("up.txt")).unwrap(), b"uploaded bytes");
    // PORT may only name the client, which is 192.0.2.7 now, not the balancer.
    assert_eq!(c.cmd("PORT 127,0,0,1,200,10").code, 504);
    // Bans go by the client's address: 192.0.2.8 is banned, 192.0.2.9 through the same
    // balancer is not.
    for _ in 0..2 {
        let mut c = Client::over(connect_as(s.addr, "192.0.2.8"));
        assert_eq!(c.cmd("USER alice").code, 331);
        assert_eq!(c.cmd("PASS wrong").code, 530);
    }
    let mut banned = connect_as(s.addr, "192.0.2.8");
    assert!(first_line(&mut banned).starts_with("421 "));
    Client::over(connect_as(s.addr, "192.0.2.9")).login("alice", "s3cret");
    let log = s.log();
    assert!(log.contains("login failed for user \"alice\" from 192.0.2.8 port 40000"), "{log}");
    assert!(!log.contains("from 127.0.0.1 port"), "no line names the balancer as the client:\n{log}");
}

#[test]
fn without_a_header_or_with_a_bad_one_the_balancer_connection_is_closed() {
    let s = Server::start(&["--proxy-protocol-from", "127.0.0.1"]);
    for opening in [&b"USER anonymous\r\n"[..], b"PROXY TCP4 1.2.3.4\r\n", b"PROXY TCP9 x y 1 2\r\n"] {
        let mut stream = TcpStream::connect(s.addr).unwrap();
        stream.write_all(opening).unwrap();
        assert_eq!(first_line(&mut stream), "", "{:?}: closed without a greeting", String::from_utf8_lossy(opening));
    }
    // A header arriving in pieces is waited for; v2 works on the control connection too.
    let mut stream = TcpStream::connect(s.addr).unwrap();
    let header = v2_header("192.0.2.1:7".parse().unwrap(), "127.0.0.2:21".parse().unwrap());
    stream.write_all(&header[..5]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // two segments, not a condition to wait on
    stream.write_all(&header[5..]).unwrap();
    Client::over(stream).login("anonymous", "x@example.com");
    // From an address outside the list, a header is just a bad command.
    let s = Server::start(&["--proxy-protocol-from", "10.0.0.0/8"]);
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd("PROXY TCP4 192.0.2.1 127.0.0.1 1 21").code, 500);
    let (code, _, err) =
        protocol_tests::run_cli(&["serve", ".", "--addr", "127.0.0.1:0", "--proxy-protocol-from", "10.0.0.0/33"]);
    assert_eq!(code, 2);
    assert!(err.contains("--proxy-protocol-from"), "{err}");
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port(ip: &str) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn haproxy_in_front_of_two_instances_on_one_bucket() {
    let store = S3Store::rclone();
    let remote = store.remote("", "bucket");
    // Each instance its own passive range; HAProxy forwards each range to its instance.
    let ranges = [(28100, 28119), (28120, 28139)];
    let instances: Vec<Server> = ranges
        .iter()
        .map(|(first, last)| {
            let range = format!("{first}-{last}");
            let args = [
                "--proxy-protocol-from",
                "127.0.0.1",
                "--passive-port",
                &range,
                "--user",
                "scan",
                "--pass",
                "s3cret",
                "--ban-after",
                "2",
                "--dir-cache-time",
                "0s",
                "-vv",
            ];
            Server::start_remote(&remote, &args, &[])
        })
        .collect();
    let front = free_port("127.0.0.2");
    let dir = tempfile::tempdir().unwrap();
    let mut config = format!(
        "global\n    maxconn 200\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\
         frontend ftp\n    bind 127.0.0.2:{front}\n    default_backend ftpvfs\n\
         backend ftpvfs\n    balance roundrobin\n    server a {} send-proxy-v2\n    server b {} send-proxy-v2\n",
        instances[0].addr, instances[1].addr
    );
    for (i, (first, last)) in ranges.iter().enumerate() {
        config.push_str(&format!(
            "frontend pasv{i}\n    bind 127.0.0.2:{first}-{last}\n    default_backend pasv{i}\n\
             backend pasv{i}\n    server s{i} 127.0.0.1 send-proxy-v2\n"
        ));
    }
    let config_path = dir.path().join("haproxy.cfg");
    std::fs::write(&config_path, config).unwrap();
    let _haproxy = Haproxy(
        protocol_tests::haproxy()
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy (protocol-tests/test-all.sh unpacks Debian's)"),
    );
    wait_until(Duration::from_secs(20), "HAProxy listening", || TcpStream::connect(("127.0.0.2", front)).is_ok());
    // Two clients with their own addresses (127.0.0.3 and .4, on both their control and data
    // connections), each on its own instance (round robin), with Python's ftplib in passive mode.
    let out = python(&format!(
        r#"
import ftplib, io, json
def session(ip):
    f = ftplib.FTP(source_address=(ip, 0), timeout=30)
    f.connect("127.0.0.2", {front})
    f.login("scan", "s3cret")
    return f
def fetch(f, name):
    buf = io.BytesIO()
    f.retrbinary("RETR " + name, buf.write)
    return buf.getvalue().decode()
c1 = session("127.0.0.3")
c2 = session("127.0.0.4")
c1.storbinary("STOR from-c1.txt", io.BytesIO(b"written through one instance"))
seen_by_c2 = sorted(c2.nlst())
got_by_c2 = fetch(c2, "from-c1.txt")
c2.storbinary("STOR from-c2.txt", io.BytesIO(b"and read through the other"))
got_by_c1 = fetch(c1, "from-c2.txt")
print(json.dumps({{"ports": [c1.sock.getsockname()[1], c2.sock.getsockname()[1]],
                   "seen_by_c2": seen_by_c2, "got_by_c2": got_by_c2, "got_by_c1": got_by_c1}}))
c1.quit(); c2.quit()
"#
    ));
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["got_by_c2"], "written through one instance");
    assert_eq!(result["got_by_c1"], "and read through the other");
    assert!(result["seen_by_c2"].as_array().unwrap().iter().any(|n| n == "from-c1.txt"), "{result}");
    // Each instance saw one of them, by its real address and port.
    let logs: Vec<String> = instances.iter().map(Server::log).collect();
    let c1 = format!("127.0.0.3:{}: connected", result["ports"][0]);
    let c2 = format!("127.0.0.4:{}: connected", result["ports"][1]);
    assert!(
        (logs[0].contains(&c1) && logs[1].contains(&c2)) || (logs[0].contains(&c2) && logs[1].contains(&c1)),
        "one client per instance:\n{}\n---\n{}",
        logs[0],
        logs[1]
    );
    // 127.0.0.3 fails its logins until both instances ban it; 127.0.0.4, through the same
    // balancer, still gets in on both.
    let out = python(&format!(
        r#"
import socket
def attempt(ip, password):
    s = socket.create_connection(("127.0.0.2", {front}), timeout=30, source_address=(ip, 0))
    f = s.makefile("rb")
    greeting = f.readline().decode()
    if not greeting.startswith("220"):
        return greeting[:3]
    s.sendall(b"USER scan\r\n"); f.readline()
    s.sendall(b"PASS " + password + b"\r\n")
    return f.readline().decode()[:3]
refused_in_a_row = 0
for _ in range(10):
    code = attempt("127.0.0.3", b"wrong")
    refused_in_a_row = refused_in_a_row + 1 if code == "421" else 0
    if refused_in_a_row == 2:
        break
print(refused_in_a_row, attempt("127.0.0.4", b"s3cret"), attempt("127.0.0.4", b"s3cret"))
"#
    ));
    assert_eq!(out.trim(), "2 230 230", "banned by its own address on both instances, the other client not");
    for log in instances.iter().map(Server::log) {
        assert!(log.contains("login failed for user \"scan\" from 127.0.0.3 port"), "{log}");
        assert!(!log.contains("from 127.0.0.1 port"), "{log}");
    }
}
