//! The ftp backend: serves a directory of another FTP server (including another ftpvfs)
//! through a pool of control connections, passive data connections, MLSD/MLST listings with a
//! LIST fallback, and plain, explicit (`AUTH TLS`) or implicit TLS.
//!
//! Uploads that replace a file go to a hidden `.NAME.<id>.ftpvfs-upload` next to it and are
//! renamed over it when complete, so an upload that fails leaves the old file (or nothing), not
//! a partial file posing as complete; such names are hidden from listings. REST+STOR and APPE
//! write in place, as the server does them.

pub mod conn;
pub mod options;
pub mod pool;
mod streams;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use conn::{FtpConn, FtpError, TlsClient};
pub use options::FtpOptions;
use pool::Pool;

use crate::backend::{
    check_rename, Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, WriteMode, WriteStream,
};
use crate::ftp::listing_parser::{parse_list_line, parse_mlsx_line};
use crate::ftp::reply_parser::RawReply;
use crate::vfs::VfsPath;

/// The suffix of in-progress uploads on the server (hidden from listings).
pub const UPLOAD_SUFFIX: &str = ".ftpvfs-upload";

/// The largest listing read from the server (a larger one is refused, not buffered).
const MAX_LISTING_BYTES: usize = 256 << 20;

/// A directory on an FTP server, served as a backend.
pub struct FtpBackend {
    pool: Arc<Pool>,
    /// The served directory as an absolute path on the server, without a trailing `/` (empty
    /// for the server's root).
    base: String,
    features: conn::ServerFeatures,
    next_upload: AtomicU64,
}

impl FtpBackend {
    /// Connects once (so a wrong host, password or certificate is reported at start-up) and
    /// finds the served directory.
    ///
    /// # Errors
    /// A message saying what failed: TLS set-up, the connection, the login, or the directory.
    pub fn connect(opts: FtpOptions) -> std::result::Result<FtpBackend, String> {
        let tls = if opts.tls() {
            let config = crate::tls::client::client_config(!opts.no_check_certificate, !opts.disable_tls13)
                .map_err(|e| e.to_string())?;
            let name = rustls::pki_types::ServerName::try_from(opts.host.clone())
                .map_err(|e| format!("{}: not a valid TLS server name: {e}", opts.host))?;
            Some(TlsClient { config, name })
        } else {
            None
        };
        let where_ = format!("ftp://{}@{}:{}", opts.user, opts.host, opts.port);
        let root = opts.encoding.from_standard_path(&opts.root);
        let pool = Pool::new(opts, tls);
        let mut lease = pool.get().map_err(|e| {
            let hint = if e.to_string().contains("certificate") {
                " (trust the server's certificate through SSL_CERT_FILE, or set no_check_certificate = true)"
            } else {
                ""
            };
            format!("{where_}: {e}{hint}")
        })?;
        let conn = lease.conn();
        let features = conn.features;
        let joined = if root.starts_with('/') { root } else { format!("{}/{root}", conn.home.trim_end_matches('/')) };
        let base = normalise(&joined);
        let probe = if base.is_empty() { "/".to_string() } else { base.clone() };
        match conn.command(&format!("CWD {probe}")) {
            Ok(r) if r.class() == 2 => {}
            Ok(r) => return Err(format!("{where_}: the directory {probe:?} cannot be served: {}", r.summary())),
            Err(e) => return Err(format!("{where_}: {e}")),
        }
        lease.release();
        log::info!("ftp backend: serving {probe:?} of {where_} ({features:?})");
        Ok(FtpBackend { pool, base, features, next_upload: AtomicU64::new(0) })
    }

    /// The server-side path of a VFS path.
    fn remote(&self, path: &VfsPath) -> String {
        if path.is_root() {
            if self.base.is_empty() {
                "/".into()
            } else {
                self.base.clone()
            }
        } else {
            format!("{}{}", self.base, self.pool.options().encoding.from_standard_path(path.as_str()))
        }
    }

    fn fail(&self, e: FtpError, path: &VfsPath) -> Error {
        error_for(e, path.as_str())
    }

    fn list_remote(&self, conn: &mut FtpConn, dir: &str) -> std::result::Result<Vec<Entry>, FtpError> {
        let use_mlsd = self.features.mlst && !self.pool.options().disable_mlsd;
        let command = if use_mlsd {
            format!("MLSD {dir}")
        } else if self.pool.options().force_list_hidden {
            format!("LIST -a {dir}")
        } else {
            format!("LIST {dir}")
        };
        let mut data = conn.start_transfer(&command, 0)?;
        let mut raw = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = data.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
            if raw.len() > MAX_LISTING_BYTES {
                data.abandon();
                let _ = conn.reply();
                return Err(FtpError::Io(std::io::Error::other("the server's listing is too large")));
            }
        }
        drop(data);
        conn.end_transfer()?;
        let text = String::from_utf8_lossy(&raw);
        let now = SystemTime::now();
        let encoding = self.pool.options().encoding;
        let mut entries: Vec<Entry> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter_map(|l| if use_mlsd { parse_mlsx_line(l) } else { parse_list_line(l, now) })
            .filter(|e| !e.name.ends_with(UPLOAD_SUFFIX))
            .filter_map(|mut e| match encoding.to_standard(&e.name) {
                Some(name) => {
                    e.name = name;
                    Some(e)
                }
                None => {
                    log::info!("ftp: skipping {:?} in {dir}: its name does not decode to UTF-8", e.name);
                    None
                }
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        Ok(entries)
    }

    fn stat_remote(&self, conn: &mut FtpConn, path: &VfsPath) -> std::result::Result<Option<Entry>, FtpError> {
        if path.is_root() {
            return Ok(Some(Entry {
                name: String::new(),
                kind: EntryKind::Dir,
                size: 0,
                mtime: SystemTime::UNIX_EPOCH,
            }));
        }
        if self.features.mlst {
            let r = conn.command(&format!("MLST {}", self.remote(path)))?;
            return match r.code {
                250 => Ok(r.lines.iter().skip(1).find(|l| l.starts_with(' ')).and_then(|l| {
                    let l = l.replacen("type=cdir;", "type=dir;", 1).replacen("Type=cdir;", "Type=dir;", 1);
                    parse_mlsx_line(&l).map(|mut e| {
                        e.name = path.name().to_string();
                        e
                    })
                })),
                550 => Ok(None),
                _ => Err(FtpError::Reply(r)),
            };
        }
        let parent = self.remote(&path.parent());
        match self.list_remote(conn, &parent) {
            Ok(entries) => Ok(entries.into_iter().find(|e| e.name == path.name())),
            Err(FtpError::Reply(r)) if r.code == 550 => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn upload_name(&self, path: &VfsPath) -> String {
        let id = self.next_upload.fetch_add(1, Ordering::Relaxed);
        let name: String = self.pool.options().encoding.from_standard(path.name()).chars().take(100).collect();
        format!(
            "{}/.{name}.{}-{id}{UPLOAD_SUFFIX}",
            self.remote(&path.parent()).trim_end_matches('/'),
            std::process::id()
        )
    }
}

/// `a/./b//c/` → `/a/b/c`; `..` removes a component; the root is `""`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.iter().map(|p| format!("/{p}")).collect()
}

/// The storage error for a failure on `path`: a broken connection is transient; a reply is
/// classified by its code and, for the catch-all 550, by its text.
pub fn error_for(e: FtpError, path: &str) -> Error {
    match e {
        FtpError::Io(io) => {
            log::warn!("ftp backend: {path}: {io}");
            let mut err = Error::from_io(io, path);
            if matches!(err.kind, ErrorKind::Other | ErrorKind::NotFound | ErrorKind::PermissionDenied) {
                // Network trouble (refused, reset, TLS): worth a retry by the client.
                err.kind = ErrorKind::Transient;
            }
            err
        }
        FtpError::Reply(reply) => {
            let kind = kind_for_reply(&reply);
            log::debug!("ftp backend: {path}: {}", reply.summary());
            let mut err = Error::new(kind, path);
            err.source = Some(std::io::Error::other(format!("FTP server said: {}", reply.summary())));
            err
        }
    }
}

/// The error kind a negative reply means.
pub fn kind_for_reply(reply: &RawReply) -> ErrorKind {
    let text = reply.lines.join(" ").to_ascii_lowercase();
    let has = |s: &str| text.contains(s);
    match reply.code {
        452 | 552 => ErrorKind::NoSpace,
        553 => ErrorKind::InvalidName,
        530 | 532 => ErrorKind::PermissionDenied,
        500..=504 => ErrorKind::Unsupported,
        550 | 450 | 451 => {
            if has("no such") || has("not found") || has("not exist") || has("doesn't exist") || has("cannot find") {
                ErrorKind::NotFound
            } else if has("not empty") {
                ErrorKind::NotEmpty
            } else if has("not a directory") || has("not a dir") {
                ErrorKind::NotADirectory
            } else if has("is a directory") {
                ErrorKind::IsDirectory
            } else if has("exists") {
                ErrorKind::AlreadyExists
            } else if has("read-only") || has("read only") {
                ErrorKind::ReadOnly
            } else if has("permission") || has("denied") || has("not allowed") {
                ErrorKind::PermissionDenied
            } else if has("no space") || has("quota") || has("disk full") {
                ErrorKind::NoSpace
            } else if reply.code == 550 {
                ErrorKind::NotFound
            } else {
                ErrorKind::Transient
            }
        }
        400..=499 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

impl Backend for FtpBackend {
    fn features(&self) -> Features {
        Features { write_in_place: true }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        self.pool
            .run(|c| self.stat_remote(c, path))
            .map_err(|e| self.fail(e, path))?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let dir = self.remote(path);
        self.pool
            .run(|c| match self.list_remote(c, &dir) {
                Err(FtpError::Reply(r)) if r.class() == 5 => match self.stat_remote(c, path)? {
                    Some(e) if !e.is_dir() => Ok(Err(ErrorKind::NotADirectory)),
                    Some(_) => Err(FtpError::Reply(r)),
                    None => Ok(Err(ErrorKind::NotFound)),
                },
                other => other.map(Ok),
            })
            .map_err(|e| self.fail(e, path))?
            .map_err(|kind| Error::new(kind, path.as_str()))
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let mut lease = self.pool.get().map_err(|e| self.fail(e, path))?;
        let command = format!("RETR {}", self.remote(path));
        let data = match lease.conn().start_transfer(&command, offset) {
            Ok(d) => d,
            Err(FtpError::Io(e)) if lease.reused => {
                // A pooled connection the server had closed: once more on a new one.
                log::debug!("ftp backend: a pooled connection failed ({e}); retrying on a new one");
                drop(lease);
                lease = self.pool.get().map_err(|e| self.fail(e, path))?;
                lease.conn().start_transfer(&command, offset).map_err(|e| self.fail(e, path))?
            }
            Err(e @ FtpError::Reply(_)) => {
                lease.release();
                return Err(self.fail(e, path));
            }
            Err(e) => return Err(self.fail(e, path)),
        };
        Ok(Box::new(streams::FtpRead::new(lease, data, len, path.as_str())))
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        let final_name = self.remote(path);
        let (command, offset, rename) = match mode {
            WriteMode::Replace => {
                if let Ok(Some(e)) = self.pool.run(|c| self.stat_remote(c, path)) {
                    if e.is_dir() {
                        return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
                    }
                }
                let temp = self.upload_name(path);
                (format!("STOR {temp}"), 0, Some((temp, final_name)))
            }
            WriteMode::At(offset) => (format!("STOR {final_name}"), offset, None),
            WriteMode::Append => (format!("APPE {final_name}"), 0, None),
        };
        let mut lease = self.pool.get().map_err(|e| self.fail(e, path))?;
        let data = match lease.conn().start_transfer(&command, offset) {
            Ok(d) => d,
            Err(e @ FtpError::Reply(_)) => {
                lease.release();
                return Err(self.fail(e, path));
            }
            Err(e) => return Err(self.fail(e, path)),
        };
        Ok(Box::new(streams::FtpWrite::new(lease, data, rename, path.as_str())))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        let dir = self.remote(path);
        self.pool
            .run(|c| match c.expect(&format!("MKD {dir}"), &[257, 250]) {
                Ok(_) => Ok(Ok(())),
                Err(FtpError::Reply(r)) if r.class() == 5 => Ok(Err(match self.stat_remote(c, path)? {
                    Some(_) => ErrorKind::AlreadyExists,
                    None if self.stat_remote(c, &path.parent())?.is_none() => ErrorKind::NotFound,
                    None => kind_for_reply(&r),
                })),
                Err(e) => Err(e),
            })
            .map_err(|e| self.fail(e, path))?
            .map_err(|kind| Error::new(kind, path.as_str()))
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        let dir = self.remote(path);
        self.pool.run(|c| c.expect(&format!("RMD {dir}"), &[250, 200])).map(|_| ()).map_err(|e| self.fail(e, path))
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let file = self.remote(path);
        self.pool
            .run(|c| match c.expect(&format!("DELE {file}"), &[250, 200]) {
                Ok(_) => Ok(Ok(())),
                Err(FtpError::Reply(r)) if r.class() == 5 => match self.stat_remote(c, path)? {
                    Some(e) if e.is_dir() => Ok(Err(Error::new(ErrorKind::IsDirectory, path.as_str()))),
                    _ => Err(FtpError::Reply(r)),
                },
                Err(e) => Err(e),
            })
            .map_err(|e| self.fail(e, path))?
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let (src, dst) = (self.remote(from), self.remote(to));
        self.pool
            .run(|c| {
                c.expect(&format!("RNFR {src}"), &[350])?;
                c.expect(&format!("RNTO {dst}"), &[250, 200])
            })
            .map(|_| ())
            .map_err(|e| self.fail(e, from))
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let file = self.remote(path);
        let stamp = crate::ftp::time::time_val(mtime);
        let command = if self.features.mfmt {
            format!("MFMT {stamp} {file}")
        } else if self.pool.options().writing_mdtm {
            format!("MDTM {stamp} {file}")
        } else {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "The FTP server cannot set times (no MFMT; see writing_mdtm)",
            ));
        };
        self.pool.run(|c| c.expect(&command, &[213, 250, 200])).map(|_| ()).map_err(|e| self.fail(e, path))
    }

    fn usage(&self) -> Result<crate::backend::Usage> {
        Ok(crate::backend::Usage { free: self.available(&VfsPath::root())?, ..Default::default() })
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        if !self.features.avbl {
            return self.stat(path).map(|_| None);
        }
        let dir = self.remote(path);
        let reply = self.pool.run(|c| c.expect(&format!("AVBL {dir}"), &[213])).map_err(|e| self.fail(e, path))?;
        Ok(reply.text().trim().parse().ok())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> RawReply {
        RawReply { code, lines: vec![text.to_string()] }
    }

    #[test]
    fn replies_map_to_error_kinds() {
        assert_eq!(kind_for_reply(&reply(550, "/x: No such file or directory")), ErrorKind::NotFound);
        assert_eq!(kind_for_reply(&reply(550, "Directory not empty.")), ErrorKind::NotEmpty);
        assert_eq!(kind_for_reply(&reply(550, "/d: File exists")), ErrorKind::AlreadyExists);
        assert_eq!(kind_for_reply(&reply(550, "Permission denied.")), ErrorKind::PermissionDenied);
        assert_eq!(kind_for_reply(&reply(550, "Can't do that")), ErrorKind::NotFound);
        assert_eq!(kind_for_reply(&reply(450, "busy")), ErrorKind::Transient);
        assert_eq!(kind_for_reply(&reply(421, "bye")), ErrorKind::Transient);
        assert_eq!(kind_for_reply(&reply(552, "quota")), ErrorKind::NoSpace);
        assert_eq!(kind_for_reply(&reply(553, "bad name")), ErrorKind::InvalidName);
        assert_eq!(kind_for_reply(&reply(502, "no")), ErrorKind::Unsupported);
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise("/home/u/./a//b/"), "/home/u/a/b");
        assert_eq!(normalise("/a/../b"), "/b");
        assert_eq!(normalise("/"), "");
    }
}
