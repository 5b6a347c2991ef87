//! Plain web servers with directory indexes, for the http remote's tests: Python's
//! `http.server` and Debian's nginx with `autoindex on`, each serving a temporary folder on
//! 127.0.0.1 and stopped on drop.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running web server.
pub struct WebServer {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    /// The folder it serves.
    pub root: tempfile::TempDir,
    /// nginx's prefix (config, pid, temp files).
    _prefix: Option<tempfile::TempDir>,
}

impl WebServer {
    /// Python's `http.server` on `root` (it prints the port it bound).
    pub fn python(root: tempfile::TempDir) -> WebServer {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" port ").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let Ok(port) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!("python's http.server did not start within 30 s");
        };
        WebServer { child, url: format!("http://127.0.0.1:{port}/"), root, _prefix: None }
    }

    /// nginx with `autoindex on` over `root`, on a free loopback port (tried again on another
    /// port if the one picked was taken meanwhile).
    pub fn nginx(root: tempfile::TempDir) -> WebServer {
        let prefix = tempfile::tempdir().expect("tempdir");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let conf = prefix.path().join("nginx.conf");
            std::fs::write(&conf, nginx_conf(prefix.path(), root.path(), port)).expect("nginx.conf");
            let mut child = nginx()
                .args(["-e", "stderr", "-p"])
                .arg(prefix.path())
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx (protocol-tests/test-all.sh unpacks Debian's nginx)");
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return WebServer { child, url: format!("http://127.0.0.1:{port}/"), root, _prefix: Some(prefix) };
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("nginx did not start within 20 s");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("nginx could not bind a loopback port");
    }

    /// The served folder.
    pub fn path(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_conf(prefix: &Path, root: &Path, port: u16) -> String {
    let p = prefix.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log stderr;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
         types {{ text/html html; text/plain txt; }}\n  default_type application/octet-stream;\n  \
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location / {{ autoindex on; }}\n  }}\n}}\n",
        root.display()
    )
}

/// nginx: the one on PATH, else Debian's package unpacked by test-all.sh into
/// `~/.cache/ftpvfs-tests/nginx` (unpacked, not installed: no service is started).
pub fn nginx() -> Command {
    if crate::have("nginx") {
        return Command::new("nginx");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    Command::new(PathBuf::from(home).join(".cache/ftpvfs-tests/nginx/usr/sbin/nginx"))
}
