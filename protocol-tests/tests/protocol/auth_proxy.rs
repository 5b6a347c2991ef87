//! `--auth-proxy`: per-user backends decided by a program the test writes (Python), the cache
//! (counted program runs), `_obscure`, bad programs, concurrency, and the flag rules.

use std::path::{Path, PathBuf};

use protocol_tests::client::Client;
use protocol_tests::{pattern, run_cli, sha256, Server};

/// The proxy program: appends one line per run to `runs`, waits `delay` seconds, then answers
/// by user name. `alice`/`bob`: their own folder under `base`, password `pw-<user>`;
/// `mem-*`: a memory remote; `ftp-*`: the ftp backend to the port in the password
/// (`<port>:<upstream password>`), with the password obscured through `_obscure`;
/// `exit`, `hang`, `junk`, `notype`: broken answers.
const PROXY: &str = r#"
import json, os, sys, time
base, runs, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
req = json.load(sys.stdin)
with open(runs, "a") as f:
    f.write(req["user"] + " " + req.get("client_ip", "") + "\n")
time.sleep(delay)
user, pw = req["user"], req["pass"]
if user in ("alice", "bob") or user.startswith("user"):
    if pw != "pw-" + user:
        sys.stderr.write("wrong password\n"); sys.exit(1)
    print(json.dumps({"type": "local", "_root": os.path.join(base, user)}))
elif user.startswith("mem-"):
    print(json.dumps({"type": "memory", "_root": ""}))
elif user.startswith("ftp-"):
    port, upstream_pw = pw.split(":", 1)
    print(json.dumps({"type": "ftp", "_root": "", "host": "127.0.0.1", "port": port,
                      "user": "up", "pass": upstream_pw, "_obscure": "pass"}))
elif user == "exit":
    sys.exit(3)
elif user == "hang":
    time.sleep(60)
elif user == "junk":
    print("this is not json")
elif user == "notype":
    print(json.dumps({"_root": ""}))
"#;

struct Proxy {
    dir: tempfile::TempDir,
}

impl Proxy {
    fn new() -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("proxy.py"), PROXY).unwrap();
        for user in ["alice", "bob"] {
            std::fs::create_dir_all(dir.path().join("roots").join(user)).unwrap();
        }
        Proxy { dir }
    }

    fn command(&self, delay: f64) -> String {
        let d = self.dir.path();
        format!(
            "python3 {} {} {} {delay}",
            d.join("proxy.py").display(),
            d.join("roots").display(),
            self.runs_file().display()
        )
    }

    fn runs_file(&self) -> PathBuf {
        self.dir.path().join("runs.txt")
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.runs_file()).map(|s| s.lines().count()).unwrap_or(0)
    }

    fn root(&self, user: &str) -> PathBuf {
        self.dir.path().join("roots").join(user)
    }

    fn serve(&self, delay: f64, extra: &[&str]) -> Server {
        let command = self.command(delay);
        let mut args = vec!["--auth-proxy", command.as_str()];
        args.extend_from_slice(extra);
        Server::start_without_remote(&args, &[])
    }
}

fn login(s: &Server, user: &str, pass: &str) -> (Client, u16) {
    let mut c = Client::connect(s.addr);
    assert_eq!(c.cmd(&format!("USER {user}")).code, 331);
    let code = c.cmd(&format!("PASS {pass}")).code;
    (c, code)
}

fn logged_in(s: &Server, user: &str, pass: &str) -> Client {
    let (c, code) = login(s, user, pass);
    assert_eq!(code, 230, "{user} should log in");
    c
}

fn write_file(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
fn each_user_sees_only_their_own_root_even_at_the_same_time() {
    let p = Proxy::new();
    write_file(&p.root("alice"), "alice.txt", b"from alice");
    write_file(&p.root("bob"), "bob.txt", b"from bob");
    let s = p.serve(0.0, &["-vv"]);
    let mut a = logged_in(&s, "alice", "pw-alice");
    let mut b = logged_in(&s, "bob", "pw-bob");
    assert_eq!(a.listing("NLST"), "alice.txt\r\n");
    assert_eq!(b.listing("NLST"), "bob.txt\r\n");
    assert_eq!(a.cmd("SIZE bob.txt").code, 550);
    assert_eq!(a.cmd("SIZE ../bob/bob.txt").code, 550, "no way out of the proxy's root");
    let data = pattern(1 << 20, 4);
    b.store("STOR up.bin", &data);
    assert_eq!(sha256(&std::fs::read(p.root("bob").join("up.bin")).unwrap()), sha256(&data));
    assert_eq!(a.listing("NLST"), "alice.txt\r\n");
    // A wrong password is a failed login, and passwords never reach the log.
    let (_, code) = login(&s, "alice", "pw-bob");
    assert_eq!(code, 530);
    let log = s.log();
    assert!(!log.contains("pw-alice") && !log.contains("pw-bob"), "a password was logged:\n{log}");
    assert!(log.contains("the auth proxy refused \"alice\""), "{log}");
    assert!(log.contains("login failed for user \"alice\" from 127.0.0.1 port "), "{log}");
}

#[test]
fn results_are_cached_per_password_and_users_with_one_config_share_a_vfs() {
    let p = Proxy::new();
    let s = p.serve(0.0, &[]);
    let mut first = logged_in(&s, "alice", "pw-alice");
    drop(logged_in(&s, "alice", "pw-alice"));
    assert_eq!(p.runs(), 1, "the second login of alice used the cache");
    // Another password is never served from the cache: the program decides again (and refuses).
    assert_eq!(login(&s, "alice", "not-her-password").1, 530);
    assert_eq!(p.runs(), 2);
    // Memory remotes: two users whose configs are identical share one tree.
    let mut m1 = logged_in(&s, "mem-1", "x");
    let mut m2 = logged_in(&s, "mem-2", "y");
    m1.store("STOR shared.txt", b"one tree");
    assert_eq!(m2.retr("shared.txt"), b"one tree");
    assert_eq!(first.cmd("NOOP").code, 200);
}

#[test]
fn the_proxy_can_serve_an_ftp_backend_with_an_obscured_password() {
    let upstream = Server::start(&["--user", "up", "--pass", "upstream secret"]);
    write_file(upstream.path(), "remote.txt", b"through the ftp backend");
    let p = Proxy::new();
    let s = p.serve(0.0, &[]);
    let pass = format!("{}:upstream secret", upstream.addr.port());
    let mut c = logged_in(&s, "ftp-user", &pass);
    assert_eq!(c.retr("remote.txt"), b"through the ftp backend");
    // The wrong upstream password: the backend cannot be made, so the login fails.
    let wrong = format!("{}:nope", upstream.addr.port());
    assert_eq!(login(&s, "ftp-other", &wrong).1, 530);
}

#[test]
fn broken_programs_give_530_and_are_not_cached() {
    let p = Proxy::new();
    for user in ["exit", "junk", "notype", "hang"] {
        // A server each: failed logins from one address slow down, and that is not the point.
        let s = p.serve(0.0, &["--auth-proxy-timeout", "1s", "-v"]);
        let before = p.runs();
        assert_eq!(login(&s, user, "x").1, 530, "{user}");
        assert_eq!(login(&s, user, "x").1, 530, "{user}, again");
        assert_eq!(p.runs(), before + 2, "{user}: a failure is not cached");
        let log = s.log();
        let why = match user {
            "exit" => "failed (exit status: 3)",
            "junk" => "failed to read output",
            "notype" => "type not set in result",
            _ => "did not answer within",
        };
        assert!(log.contains(why), "{user}: {log}");
    }
}

#[test]
fn fifty_logins_at_once_run_the_program_once_per_user() {
    let p = Proxy::new();
    let users: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
    for u in &users {
        std::fs::create_dir_all(p.root(u)).unwrap();
        write_file(&p.root(u), "me.txt", u.as_bytes());
    }
    let s = p.serve(0.3, &[]);
    let addr = s.addr;
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let user = users[i % users.len()].clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                assert_eq!(c.cmd(&format!("USER {user}")).code, 331);
                assert_eq!(c.cmd(&format!("PASS pw-{user}")).code, 230, "{user}");
                assert_eq!(c.retr("me.txt"), user.as_bytes());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(p.runs(), users.len(), "five logins of each user at once ran the program once per user");
}

#[test]
fn flag_rules() {
    let (code, _, err) = run_cli(&["serve", "--auth-proxy", "/bin/true", "--user", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--auth-proxy and --user/--pass cannot be used together"), "{err}");
    let (code, _, err) = run_cli(&["serve", "/tmp", "--auth-proxy", "/bin/true"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give no REMOTE:PATH"), "{err}");
}

#[test]
fn a_proxy_login_can_serve_an_s3_bucket() {
    use protocol_tests::s3::{S3Store, ACCESS_KEY, SECRET_KEY};
    let store = S3Store::rclone();
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("s3proxy.py");
    std::fs::write(
        &program,
        format!(
            "import json, sys\nreq = json.load(sys.stdin)\nprint(json.dumps({{\"type\": \"s3\", \"_root\": \"bucket/\" + req[\"user\"], \
             \"provider\": \"Rclone\", \"endpoint\": \"{}\", \"access_key_id\": \"{ACCESS_KEY}\", \"secret_access_key\": \"{SECRET_KEY}\"}}))\n",
            store.endpoint
        ),
    )
    .unwrap();
    let command = format!("python3 {}", program.display());
    let s = Server::start_without_remote(&["--auth-proxy", &command], &[]);
    let mut c = Client::connect(s.addr);
    c.login("carol", "any");
    c.store("STOR scan.pdf", b"scanned");
    assert_eq!(c.retr("scan.pdf"), b"scanned");
    assert_eq!(std::fs::read(store.bucket_dir("bucket").join("carol/scan.pdf")).unwrap(), b"scanned");
}

#[test]
fn a_proxy_login_to_an_http_remote_is_read_only_even_with_a_write_cache() {
    let web = protocol_tests::web::WebServer::python(tempfile::tempdir().unwrap());
    std::fs::write(web.path().join("notice.txt"), b"published").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("httpproxy.py");
    std::fs::write(
        &program,
        format!("import json\nprint(json.dumps({{\"type\": \"http\", \"_root\": \"\", \"url\": \"{}\"}}))\n", web.url),
    )
    .unwrap();
    let command = format!("python3 {}", program.display());
    let s = Server::start_without_remote(&["--auth-proxy", &command, "--vfs-cache-mode", "writes"], &[]);
    let mut c = Client::connect(s.addr);
    c.login("dave", "any");
    assert_eq!(c.listing("NLST"), "notice.txt\r\n");
    assert_eq!(c.retr("notice.txt"), b"published");
    for cmd in ["STOR new.txt", "MKD d", "DELE notice.txt"] {
        assert_eq!(c.cmd(cmd).code, 550, "{cmd}");
    }
    assert!(!web.path().join("new.txt").exists());
}
