//! `--auth-proxy PROGRAM`: logins decided by a program the operator writes, as in rclone.
//!
//! The program gets `{"client_ip": ..., "pass": ..., "user": ...}` on stdin and prints a
//! backend config as a JSON object of strings on stdout: `type`, `_root`, optional `_obscure`
//! (keys whose values it gave in clear and we must obscure, as rclone.conf stores them), and the
//! backend's options. The login then gets a VFS over that backend.
//!
//! Results are cached for [`CACHE_TTL`] after their last use, under `user` plus a keyed hash
//! (HMAC-SHA256 with a per-process random key) of the password and client IP, so another
//! password never reuses a login's backend; logins whose configs are identical share one VFS.
//! Failures (exit status, timeout, bad JSON, no `type`, a backend that cannot be built) are
//! logged with the reason, never cached, and give 530. Logins run on workers; the program runs
//! concurrently for different users but once at a time per user. Passwords are never logged.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::{constant_time_eq, Secret};
use crate::vfs::{Vfs, VfsOptions};

/// How long an unused login result is kept.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// The most a program may print (stdout or stderr); more is a failure.
const MAX_OUTPUT: usize = 1 << 20;

struct CachedLogin {
    vfs: Arc<Vfs>,
    pass_hash: [u8; 32],
    last_used: Instant,
}

/// The auth proxy: the program, its results, and the VFSes they made.
pub struct AuthProxy {
    argv: Vec<String>,
    timeout: Duration,
    vfs_options: VfsOptions,
    key: [u8; 32],
    cache: Mutex<HashMap<String, CachedLogin>>,
    /// One lock per user name, so a user's program runs once at a time.
    user_locks: Mutex<HashMap<String, Weak<Mutex<()>>>>,
    /// VFSes by their backend config, so identical configs share one.
    by_config: Mutex<HashMap<String, Weak<Vfs>>>,
    runs: std::sync::atomic::AtomicU64,
    /// The disk cache flags; each login's VFS gets its own cache, named after its config.
    disk_cache: Option<crate::vfs::cache::CacheOptions>,
}

impl std::fmt::Debug for AuthProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthProxy").field("argv", &self.argv).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// Why a login through the proxy failed (logged; the client only sees 530).
#[derive(Debug)]
pub struct ProxyError(pub String);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AuthProxy {
    /// A proxy running `command` (split on whitespace, no shell, as rclone does), killed after
    /// `timeout`; its VFSes get `vfs_options`.
    ///
    /// # Errors
    /// The command is empty.
    pub fn new(command: &str, timeout: Duration, vfs_options: VfsOptions) -> Result<AuthProxy, String> {
        let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        if argv.is_empty() {
            return Err("--auth-proxy needs a program".into());
        }
        Ok(AuthProxy {
            argv,
            timeout,
            vfs_options,
            key: random_key(),
            cache: Mutex::default(),
            user_locks: Mutex::default(),
            by_config: Mutex::default(),
            runs: Default::default(),
            disk_cache: None,
        })
    }

    /// Gives each login's VFS a disk cache with these flags.
    pub fn with_cache(mut self, cache: Option<crate::vfs::cache::CacheOptions>) -> AuthProxy {
        self.disk_cache = cache;
        self
    }

    /// How many times the program has run (for tests and stats).
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Logs in: a cached result, or the program's. Blocking (workers only).
    ///
    /// # Errors
    /// Why the login failed, for the log.
    pub fn login(&self, user: &str, pass: &Secret<String>, client_ip: IpAddr) -> Result<Arc<Vfs>, ProxyError> {
        let key = self.cache_key(user, pass, client_ip);
        let pass_hash = sha256(pass.expose().as_bytes());
        if let Some(vfs) = self.cached(&key, &pass_hash) {
            return Ok(vfs);
        }
        let user_lock = {
            let mut locks = lock(&self.user_locks);
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(user).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(Mutex::new(()));
                    locks.insert(user.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        };
        let _running = lock(&user_lock);
        // Another login of this user may have filled the cache while we waited.
        if let Some(vfs) = self.cached(&key, &pass_hash) {
            return Ok(vfs);
        }
        let (fingerprint, config) = self.run_program(user, pass, client_ip)?;
        let vfs = self.vfs_for(&fingerprint, config)?;
        lock(&self.cache).insert(key, CachedLogin { vfs: vfs.clone(), pass_hash, last_used: Instant::now() });
        Ok(vfs)
    }

    /// Forgets every cached directory listing of every VFS (SIGHUP).
    pub fn forget_all(&self) {
        for entry in lock(&self.cache).values() {
            entry.vfs.forget_all();
        }
    }

    /// The VFSes of the logins cached now (rc `vfs/*` commands act on all of them).
    pub fn vfses(&self) -> Vec<Arc<Vfs>> {
        lock(&self.cache).values().map(|e| e.vfs.clone()).collect()
    }

    fn cached(&self, key: &str, pass_hash: &[u8; 32]) -> Option<Arc<Vfs>> {
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        cache.retain(|_, e| now.duration_since(e.last_used) < CACHE_TTL);
        let entry = cache.get_mut(key)?;
        // A final guard, as rclone keeps: the key already covers the password.
        if !constant_time_eq(&entry.pass_hash, pass_hash) {
            return None;
        }
        entry.last_used = now;
        Some(entry.vfs.clone())
    }

    /// `user` + "-" + the first 8 bytes of HMAC-SHA256(key, pass ‖ 0 ‖ client_ip), in hex.
    fn cache_key(&self, user: &str, pass: &Secret<String>, client_ip: IpAddr) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(pass.expose().as_bytes());
        mac.update(&[0]);
        mac.update(client_ip.to_string().as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("{user}-{hex}")
    }

    fn run_program(
        &self,
        user: &str,
        pass: &Secret<String>,
        client_ip: IpAddr,
    ) -> Result<(String, BTreeMap<String, String>), ProxyError> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let input = serde_json::json!({ "client_ip": client_ip.to_string(), "pass": pass.expose(), "user": user });
        let fail = |why: String| ProxyError(format!("proxy: {why}"));
        let mut child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {:?}: {e}", self.argv[0])))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail("no pipes to the program".into()));
        };
        let text = input.to_string();
        // The program may not read its input: write from a thread so a full pipe cannot block us.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
        let out_reader = std::thread::spawn(move || read_capped(stdout));
        let err_reader = std::thread::spawn(move || read_capped(stderr));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!("{:?} did not answer within {:?}", self.argv[0], self.timeout)));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(fail(format!("waiting for {:?}: {e}", self.argv[0]))),
            }
        };
        let _ = writer.join();
        let stdout = out_reader.join().unwrap_or(None);
        let stderr = err_reader.join().unwrap_or(None).unwrap_or_default();
        if !status.success() {
            let said = String::from_utf8_lossy(&stderr).trim().chars().take(500).collect::<String>();
            return Err(fail(format!("{:?} failed ({status}): {said:?}", self.argv[0])));
        }
        let stdout = stdout.ok_or_else(|| fail("the program printed more than 1 MiB".into()))?;
        parse_output(&stdout).map_err(fail)
    }

    /// The VFS for a config: a live one made from the same config (`fingerprint`), or a new one.
    fn vfs_for(&self, fingerprint: &str, mut config: BTreeMap<String, String>) -> Result<Arc<Vfs>, ProxyError> {
        let mut by_config = lock(&self.by_config);
        by_config.retain(|_, v| v.strong_count() > 0);
        if let Some(vfs) = by_config.get(fingerprint).and_then(Weak::upgrade) {
            return Ok(vfs);
        }
        let backend_type = config.remove("type").unwrap_or_default();
        let root = config.remove("_root").unwrap_or_default();
        let no_env = |_: &str| None;
        let resolved = crate::remote::resolve_backend(&backend_type, config, &root, &no_env)
            .map_err(|e| ProxyError(format!("proxy: failed to create backend: {e}")))?;
        let backend = resolved
            .open(self.vfs_options.read_only)
            .map_err(|e| ProxyError(format!("proxy: failed to create backend: {e}")))?;
        let cache = self.disk_cache.clone().map(|mut c| {
            let digest = sha256(fingerprint.as_bytes());
            c.name = format!("proxy-{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>());
            c.root = String::new();
            c
        });
        let options =
            VfsOptions { read_only: self.vfs_options.read_only || resolved.read_only_by_nature(), ..self.vfs_options };
        let vfs = Vfs::with_cache(backend, options, cache)
            .map_err(|e| ProxyError(format!("proxy: failed to create the cache: {e}")))?;
        by_config.insert(fingerprint.to_string(), Arc::downgrade(&vfs));
        Ok(vfs)
    }
}

/// Reads a pipe to its end; `None` if it held more than [`MAX_OUTPUT`].
fn read_capped(pipe: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut limited = pipe.take(MAX_OUTPUT as u64 + 1);
    limited.read_to_end(&mut out).ok()?;
    (out.len() <= MAX_OUTPUT).then_some(out)
}

/// The program's answer: a JSON object of strings with `type` and `_root`; the values named in
/// `_obscure` are obscured (and `_obscure` removed). Also returns the config as given, as the
/// key under which identical configs share a VFS (obscuring is randomised).
pub(crate) fn parse_output(stdout: &[u8]) -> Result<(String, BTreeMap<String, String>), String> {
    let text = String::from_utf8_lossy(stdout);
    let value: serde_json::Value =
        serde_json::from_slice(stdout).map_err(|e| format!("failed to read output: {:?}: {e}", preview(&text)))?;
    let object = value.as_object().ok_or_else(|| format!("the output is not a JSON object: {:?}", preview(&text)))?;
    let mut config = BTreeMap::new();
    for (k, v) in object {
        let s = v.as_str().ok_or_else(|| format!("the value of {k:?} is not a string"))?;
        config.insert(k.clone(), s.to_string());
    }
    if config.get("type").is_none_or(String::is_empty) {
        return Err("type not set in result".into());
    }
    if !config.contains_key("_root") {
        return Err("_root not set in result".into());
    }
    let fingerprint = serde_json::to_string(&config).unwrap_or_default();
    if let Some(list) = config.remove("_obscure") {
        for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if let Some(v) = config.get_mut(key) {
                *v = crate::remote::obscure::obscure(v).map_err(|e| format!("cannot obscure {key}: {e}"))?;
            }
        }
    }
    Ok((fingerprint, config))
}

/// The start of a text, for error messages (a program's output may hold secrets: keep it short).
fn preview(text: &str) -> String {
    text.chars().take(80).collect()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    Sha256::digest(data).into()
}

/// 32 random bytes from the OS (getrandom through /dev/urandom), for the HMAC key.
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key)).is_err() {
        // No /dev/urandom (a bare chroot): std's randomly keyed hashers still give 128 bits
        // per draw.
        for chunk in key.chunks_mut(16) {
            chunk.copy_from_slice(&crate::tls::new_session_token());
        }
    }
    key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn output_rules() {
        let (_, ok) =
            parse_output(br#"{"type":"memory","_root":"","_obscure":"pass","pass":"pw","user":"u"}"#).unwrap();
        assert_eq!(ok.get("type").map(String::as_str), Some("memory"));
        assert!(!ok.contains_key("_obscure"));
        assert_eq!(crate::remote::obscure::reveal(&ok["pass"]).unwrap(), "pw");
        assert!(parse_output(b"not json").unwrap_err().contains("failed to read output"));
        assert!(parse_output(br#"{"_root":""}"#).unwrap_err().contains("type not set"));
        assert!(parse_output(br#"{"type":"local"}"#).unwrap_err().contains("_root not set"));
        assert!(parse_output(br#"{"type":"local","_root":"","port":21}"#).unwrap_err().contains("not a string"));
        assert!(parse_output(br#"["type"]"#).unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn the_cache_key_depends_on_user_password_and_address_and_hides_the_password() {
        let p = AuthProxy::new("true", Duration::from_secs(1), VfsOptions::default()).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let k = |u: &str, pw: &str, ip: IpAddr| p.cache_key(u, &Secret::new(pw.to_string()), ip);
        assert_eq!(k("u", "pw", ip), k("u", "pw", ip));
        assert_ne!(k("u", "pw", ip), k("u", "pw2", ip));
        assert_ne!(k("u", "pw", ip), k("u", "pw", "127.0.0.2".parse().unwrap()));
        assert!(k("u", "secretpassword", ip).starts_with("u-") && !k("u", "secretpassword", ip).contains("secret"));
        // Another process (another key) makes other keys.
        let q = AuthProxy::new("true", Duration::from_secs(1), VfsOptions::default()).unwrap();
        assert_ne!(k("u", "pw", ip), q.cache_key("u", &Secret::new("pw".into()), ip));
    }
}
