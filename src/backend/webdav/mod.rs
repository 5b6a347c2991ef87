//! The webdav remote: any WebDAV server (RFC 4918) as rclone's webdav remote uses it, with
//! rclone's vendor quirks ([`options`]). A listing is a `PROPFIND` with `Depth: 1`
//! ([`propfind`]), a stat one with `Depth: 0`; a read is a ranged GET reopened where it broke
//! off; MKD is `MKCOL`, DELE and RMD are `DELETE` (RMD only once a listing shows the directory
//! empty, so nothing is deleted by accident), RNFR/RNTO is `MOVE`, MFMT is a `PROPPATCH` of
//! `lastmodified` where the vendor takes one. Uploads ([`upload`]) never show half a file:
//! they go to a temporary name and are moved over the old file once whole, unless the server's
//! own PUT is atomic (ownCloud, Nextcloud, Infinite Scale), and Nextcloud's large files go up
//! in chunks ([`chunked`]).

pub mod chunked;
pub mod options;
pub mod propfind;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;

pub use self::options::WebdavOptions;
use crate::backend::net::body::Body;
use crate::backend::net::ranged_read::{RangeSource, RangedRead};
use crate::backend::net::url::Url;
use crate::backend::net::{http, retry, status_error, transport_error, HttpClient};
use crate::backend::{
    check_rename, Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, Usage, WriteMode,
    WriteStream,
};
use crate::vfs::VfsPath;

/// The largest multistatus read, the XML reader's own bound (a listing of 10,000 entries is
/// about 5 MiB from rclone serve webdav, 9 MiB from WsgiDAV).
const LISTING_LIMIT: u64 = crate::backend::net::xml::MAX_BYTES as u64;
/// The largest error or small answer body read.
const SMALL_LIMIT: u64 = 1 << 20;

/// A WebDAV server's folder.
pub struct WebdavBackend {
    inner: Arc<Inner>,
}

/// What every request of the remote shares.
pub(crate) struct Inner {
    opts: WebdavOptions,
    client: HttpClient,
    /// The served folder's URL, ending in `/`.
    endpoint: Url,
    /// The current bearer token (from `bearer_token`, or `bearer_token_command`).
    token: Mutex<Option<String>>,
    requests: AtomicU64,
}

/// What the server said of one path.
enum Found {
    Item(propfind::Item),
    Missing,
}

/// What rclone's `URLPathEscapeAll` leaves as it is: letters, digits, `-._~` and `/`.
const KEEP: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

fn escape(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, KEEP).to_string()
}

/// An answer's body, at most `limit` bytes.
fn read_body(resp: http::Response<ureq::Body>, limit: u64, vpath: &str) -> Result<Vec<u8>> {
    resp.into_body().with_config().limit(limit).read_to_vec().map_err(|e| {
        let mut err = Error::with_detail(ErrorKind::Other, vpath, "The server's answer could not be read whole");
        err.source = Some(std::io::Error::other(e.to_string()));
        err
    })
}

fn xml_error(e: crate::backend::net::xml::XmlError, vpath: &str) -> Error {
    let mut err = Error::with_detail(ErrorKind::Other, vpath, "The server's PROPFIND answer is not a multistatus");
    err.source = Some(std::io::Error::other(e.to_string()));
    err
}

fn entry(name: &str, item: &propfind::Item) -> Entry {
    Entry {
        name: name.to_string(),
        kind: if item.is_dir { EntryKind::Dir } else { EntryKind::File },
        size: if item.is_dir { 0 } else { item.size },
        mtime: item.mtime.unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// Unix seconds, as `X-OC-Mtime` and `lastmodified` take them.
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl WebdavBackend {
    /// A backend for the WebDAV folder `opts` names. Nothing is sent yet, except a run of
    /// `bearer_token_command` when one is set.
    ///
    /// # Errors
    /// No TLS roots, or the token command failed.
    pub fn connect(opts: WebdavOptions) -> std::result::Result<WebdavBackend, String> {
        let client = HttpClient::new(opts.net, true)?;
        let mut endpoint = opts.url.clone();
        if !opts.root.is_empty() {
            endpoint.path = format!("{}{}/", endpoint.path, escape(&opts.root));
        }
        let inner = Inner { token: Mutex::new(opts.bearer_token.clone()), opts, client, endpoint, requests: 0.into() };
        if !inner.opts.bearer_token_command.is_empty() {
            inner.refresh_token()?;
        }
        Ok(WebdavBackend { inner: Arc::new(inner) })
    }

    /// Requests sent so far (rc `core/stats`).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The URL of `path` below the served folder (a directory's ends in `/`).
    fn url(&self, path: &VfsPath, dir: bool) -> String {
        let rel = path.as_str().trim_start_matches('/');
        let mut url = self.endpoint.clone();
        url.path.push_str(&escape(rel));
        if dir && !rel.is_empty() {
            url.path.push('/');
        }
        url.text()
    }

    /// Runs `bearer_token_command` and keeps the token it prints.
    fn refresh_token(&self) -> std::result::Result<(), String> {
        let cmd = &self.opts.bearer_token_command;
        let Some((program, args)) = cmd.split_first() else { return Ok(()) };
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("webdav: bearer_token_command {program:?} could not run: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(format!(
                "webdav: bearer_token_command {program:?} failed ({}): {}",
                out.status,
                if stderr.is_empty() { "no message" } else { &stderr }
            ));
        }
        if stdout.is_empty() || stdout.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("webdav: bearer_token_command {program:?} printed no token on one line"));
        }
        *self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(stdout);
        Ok(())
    }

    /// A request of `method` for `url` with the remote's headers and authentication.
    fn builder(&self, method: &str, url: &str) -> http::request::Builder {
        let mut b = http::Request::builder().method(method).uri(url);
        if !self.opts.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("referer")) {
            b = b.header("referer", self.opts.url.text());
        }
        for (k, v) in &self.opts.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some((user, pass)) = &self.opts.basic_auth {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            b = b.header("authorization", format!("Basic {token}"));
        } else if let Some(token) = self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
            b = b.header("authorization", format!("Bearer {token}"));
        }
        b
    }

    /// Sends `method` for `url` with the remote's headers, authentication and retries; a 401
    /// with `bearer_token_command` set fetches a new token and tries once more.
    fn send(
        &self,
        method: &str,
        url: &str,
        extra: &[(&str, String)],
        body: Body<'_>,
    ) -> std::result::Result<http::Response<ureq::Body>, String> {
        let what = format!("webdav: {method} {url}");
        let make = || {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut b = self.builder(method, url);
            for (k, v) in extra {
                b = b.header(*k, v.as_str());
            }
            Ok(b)
        };
        let tries = self.opts.net.low_level_retries;
        let resp = retry::send_with_body(&self.client, tries, &what, body, &make)?;
        if resp.status() == 401 && !self.opts.bearer_token_command.is_empty() {
            log::debug!("{what}: 401: fetching a new bearer token");
            self.refresh_token()?;
            return retry::send_with_body(&self.client, tries, &what, body, &make);
        }
        Ok(resp)
    }

    /// `send`, with a failure to reach the server as a storage error for `vpath`.
    fn call(
        &self,
        method: &str,
        url: &str,
        extra: &[(&str, String)],
        body: Body<'_>,
        vpath: &str,
    ) -> Result<http::Response<ureq::Body>> {
        self.send(method, url, extra, body).map_err(|e| transport_error(e, vpath))
    }

    /// The body of a PROPFIND: ownCloud's properties where the vendor has them.
    fn props(&self) -> &'static str {
        let q = &self.opts.quirks;
        if q.has_oc_md5 || q.has_oc_sha1 {
            propfind::OWNCLOUD_PROPS
        } else {
            propfind::STANDARD_PROPS
        }
    }

    /// A PROPFIND of `url` with `depth`: the resources, or `None` when the URL is missing.
    fn propfind(&self, url: &str, depth: &str, body: &str, vpath: &str) -> Result<Option<Vec<propfind::Item>>> {
        let extra = [("depth", depth.to_string()), ("content-type", "application/xml; charset=utf-8".to_string())];
        let resp = self.call("PROPFIND", url, &extra, Body::Bytes(body.as_bytes()), vpath)?;
        match resp.status().as_u16() {
            207 | 200 => {}
            404 | 410 => return Ok(None),
            // Apache answers a file's URL with a trailing slash with 301s and 409s alike.
            301 | 302 | 303 | 307 | 308 => return Ok(None),
            status => return Err(status_error(status, vpath)),
        }
        let doc = read_body(resp, LISTING_LIMIT, vpath)?;
        propfind::parse(&doc).map(Some).map_err(|e| xml_error(e, vpath))
    }

    /// What the server says of `path` (a PROPFIND with `Depth: 0`, then as a collection).
    fn find(&self, path: &VfsPath) -> Result<Found> {
        let vpath = path.as_str();
        for dir in [false, true] {
            if dir && path.is_root() {
                break;
            }
            match self.propfind(&self.url(path, dir || path.is_root()), "0", self.props(), vpath)? {
                Some(items) => match items.into_iter().find(|i| i.ok) {
                    Some(item) => return Ok(Found::Item(item)),
                    None => return Ok(Found::Missing),
                },
                None => continue,
            }
        }
        Ok(Found::Missing)
    }

    /// Stats `path` as an entry, `NotFound` when missing.
    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        match self.find(path)? {
            Found::Item(item) => Ok(entry(path.name(), &item)),
            Found::Missing if path.is_root() => {
                Ok(Entry { name: String::new(), kind: EntryKind::Dir, size: 0, mtime: SystemTime::UNIX_EPOCH })
            }
            Found::Missing => Err(Error::new(ErrorKind::NotFound, path.as_str())),
        }
    }

    /// The entries of the directory `path` (a PROPFIND with `Depth: 1`), unsorted; `None` for
    /// the directory itself when the server lists it as a file.
    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let vpath = path.as_str();
        let url = self.url(path, true);
        let Some(items) = self.propfind(&url, "1", self.props(), vpath)? else {
            if path.is_root() {
                return Ok(Vec::new()); // the served folder is made on the first upload
            }
            return Err(Error::new(ErrorKind::NotFound, vpath));
        };
        let Some(base) = Url::parse(&url) else {
            return Err(Error::with_detail(ErrorKind::Other, vpath, "The directory's URL does not parse"));
        };
        let mut entries = Vec::with_capacity(items.len());
        for item in &items {
            let Some(name) = propfind::name_in(&base, &item.href) else {
                log::debug!("webdav: {vpath}: item with unknown path received: {:?}", item.href);
                continue;
            };
            if name.is_empty() {
                if !item.is_dir && item.ok {
                    return Err(Error::new(ErrorKind::NotADirectory, vpath));
                }
                continue; // the directory's own entry
            }
            if !item.ok {
                log::debug!("webdav: {vpath}: ignoring {name:?}: bad status");
                continue;
            }
            if upload::is_temporary(&name) {
                continue; // an upload in progress, shown under its own name once whole
            }
            if (self.opts.exclude_shares && item.permissions.contains('S'))
                || (self.opts.exclude_mounts && item.permissions.contains('M'))
            {
                continue;
            }
            entries.push(entry(&name, item));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        Ok(entries)
    }

    /// `MKCOL` of the directory `path`; a missing parent above the served folder is made too
    /// (rclone makes the served folder on the first write).
    fn mkcol(&self, path: &VfsPath) -> Result<()> {
        let vpath = path.as_str();
        // Asked first: some servers (rclone serve webdav) answer MKCOL of an existing
        // collection with 201.
        if let Found::Item(_) = self.find(path)? {
            return Err(Error::new(ErrorKind::AlreadyExists, vpath));
        }
        let resp = self.call("MKCOL", &self.url(path, true), &[], Body::Empty, vpath)?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            405 => Err(Error::new(ErrorKind::AlreadyExists, vpath)),
            409 if path.parent().is_root() && !path.is_root() => {
                self.make_root()?;
                let resp = self.call("MKCOL", &self.url(path, true), &[], Body::Empty, vpath)?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    405 => Err(Error::new(ErrorKind::AlreadyExists, vpath)),
                    status => Err(status_error(status, vpath)),
                }
            }
            409 => Err(Error::with_detail(ErrorKind::NotFound, vpath, "The parent directory does not exist")),
            status => Err(status_error(status, vpath)),
        }
    }

    /// Makes the served folder and its missing parents below the URL (after a 409).
    fn make_root(&self) -> Result<()> {
        let mut url = self.opts.url.clone();
        for segment in self.opts.root.split('/').filter(|s| !s.is_empty()) {
            url.path = format!("{}{}/", url.path, escape(segment));
            let resp = self.call("MKCOL", &url.text(), &[], Body::Empty, "/")?;
            match resp.status().as_u16() {
                200..=299 | 405 => {}
                status => return Err(status_error(status, "/")),
            }
        }
        Ok(())
    }

    /// `DELETE` of `url`.
    fn delete(&self, url: &str, vpath: &str) -> Result<()> {
        let resp = self.call("DELETE", url, &[], Body::Empty, vpath)?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(status_error(status, vpath)),
        }
    }

    /// `MOVE` of `from` onto `to` (both URLs), replacing a file there; `mtime` goes along as
    /// `X-OC-Mtime` where the vendor takes it.
    fn r#move(&self, from: &str, to: &str, mtime: Option<SystemTime>, vpath: &str) -> Result<()> {
        let mut extra = vec![("destination", to.to_string()), ("overwrite", "T".to_string())];
        if let Some(t) = mtime.filter(|_| self.opts.quirks.use_oc_mtime) {
            extra.push(("x-oc-mtime", unix_seconds(t).to_string()));
        }
        let resp = self.call("MOVE", from, &extra, Body::Empty, vpath)?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            409 => Err(Error::with_detail(ErrorKind::NotFound, vpath, "The target directory does not exist")),
            412 => Err(Error::new(ErrorKind::AlreadyExists, vpath)),
            status => Err(status_error(status, vpath)),
        }
    }
}

/// The GETs of one file.
struct WebdavGet {
    inner: Arc<Inner>,
    url: String,
    vpath: String,
}

impl RangeSource for WebdavGet {
    fn get(&self, range: Option<String>) -> Result<http::Response<ureq::Body>> {
        let extra: Vec<(&str, String)> = range.into_iter().map(|r| ("range", r)).collect();
        self.inner.call("GET", &self.url, &extra, Body::Empty, &self.vpath)
    }

    fn tries(&self) -> u32 {
        self.inner.opts.net.low_level_retries
    }
}

impl Backend for WebdavBackend {
    fn features(&self) -> Features {
        Features { write_in_place: false }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        self.inner.stat(path)
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        self.inner.list(path)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let inner = &self.inner;
        if path.is_root() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let get = WebdavGet { inner: inner.clone(), url: inner.url(path, false), vpath: path.as_str().to_string() };
        let read = RangedRead::open(Box::new(get), path.as_str(), offset, len);
        match read {
            // A collection answers GET with a page, or not at all: say what it is.
            Err(e) if e.kind == ErrorKind::NotFound || e.kind == ErrorKind::Other => match inner.find(path) {
                Ok(Found::Item(item)) if item.is_dir => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
                _ => Err(e),
            },
            Ok(r) => Ok(Box::new(r)),
            Err(e) => Err(e),
        }
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        if mode != WriteMode::Replace {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "WebDAV files cannot be written in place (use --vfs-cache-mode writes)",
            ));
        }
        upload::check_target(&self.inner, path)?;
        Ok(Box::new(upload::WebdavWrite::new(self.inner.clone(), path)))
    }

    fn upload_file(&self, path: &VfsPath, file: &std::fs::File, size: u64, mtime: SystemTime) -> Option<Result<()>> {
        Some(upload::upload_file(&self.inner, path, file, size, mtime))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::new(ErrorKind::AlreadyExists, "/"));
        }
        self.inner.mkcol(path)
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        let inner = &self.inner;
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        // Listed first: a DELETE of a collection removes everything below it.
        if !inner.list(path)?.is_empty() {
            return Err(Error::new(ErrorKind::NotEmpty, path.as_str()));
        }
        inner.delete(&inner.url(path, true), path.as_str())
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let inner = &self.inner;
        // Stat first, for the same reason.
        if inner.stat(path)?.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        inner.delete(&inner.url(path, false), path.as_str())
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let inner = &self.inner;
        let source = inner.stat(from)?;
        if from == to {
            return Ok(());
        }
        match inner.find(to)? {
            Found::Item(item) if item.is_dir => {
                return Err(Error::with_detail(ErrorKind::AlreadyExists, to.as_str(), "A directory has that name"));
            }
            Found::Item(_) if source.is_dir() => {
                return Err(Error::with_detail(ErrorKind::AlreadyExists, to.as_str(), "A file has that name"));
            }
            _ => {}
        }
        let dir = source.is_dir();
        let mtime = (!dir).then_some(source.mtime);
        inner.r#move(&inner.url(from, dir), &inner.url(to, dir), mtime, from.as_str())
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let inner = &self.inner;
        let vpath = path.as_str();
        if !inner.opts.quirks.propset_mtime {
            inner.stat(path)?;
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                vpath,
                "This WebDAV server cannot set times (see the webdav vendor and propset_mtime)",
            ));
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<D:propertyupdate xmlns:D=\"DAV:\">\n <D:set>\n  <D:prop>\n   <lastmodified xmlns=\"DAV:\">{}</lastmodified>\n  </D:prop>\n </D:set>\n</D:propertyupdate>\n",
            unix_seconds(mtime)
        );
        let extra = [("content-type", "application/xml; charset=utf-8".to_string())];
        let resp = inner.call("PROPPATCH", &inner.url(path, false), &extra, Body::Bytes(body.as_bytes()), vpath)?;
        match resp.status().as_u16() {
            207 | 200 => {}
            status => return Err(status_error(status, vpath)),
        }
        let doc = read_body(resp, SMALL_LIMIT, vpath)?;
        let items = propfind::parse(&doc).map_err(|e| xml_error(e, vpath))?;
        if items.len() == 1 && items[0].ok {
            return Ok(());
        }
        // It may have worked all the same: look.
        let now = inner.stat(path)?;
        if unix_seconds(now.mtime) == unix_seconds(mtime) {
            return Ok(());
        }
        Err(Error::with_detail(ErrorKind::Unsupported, vpath, "The WebDAV server refused to set the time"))
    }

    fn usage(&self) -> Result<Usage> {
        let inner = &self.inner;
        let Some(items) = inner.propfind(&inner.endpoint.text(), "0", propfind::QUOTA_PROPS, "/")? else {
            return Ok(Usage::default());
        };
        let Some(item) = items.first() else { return Ok(Usage::default()) };
        let (free, used) = (item.quota_available, item.quota_used);
        let total = free.zip(used).map(|(f, u)| f.saturating_add(u));
        Ok(Usage { total, used, free })
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        self.inner.stat(path)?;
        Ok(self.usage().ok().and_then(|u| u.free))
    }

    fn requests(&self) -> Option<u64> {
        Some(self.requests())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_as_rclone_escapes_them() {
        assert_eq!(escape("dir/a b#%?é+$:@.txt"), "dir/a%20b%23%25%3F%C3%A9%2B%24%3A%40.txt");
        assert_eq!(unix_seconds(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)), 1_600_000_000);
    }
}
