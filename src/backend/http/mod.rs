//! The http remote: a plain web server's directory indexes served read-only, as rclone's
//! http remote reads them. A directory is a URL ending in `/` whose `text/html` answer lists
//! its entries as links ([`index`], [`links`]); a file's size and time come from a HEAD
//! (`Content-Length`, `Last-Modified`); a read is a GET with a `Range`, reopened where it broke
//! off. Every change is refused as on a read-only server.

pub mod index;
pub mod links;
pub mod options;
mod read;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;

use self::links::{entry_name, escape_path, Url};
pub use self::options::HttpOptions;
use crate::backend::net::body::Body;
use crate::backend::net::{http, retry, status_error, transport_error, HttpClient};
use crate::backend::{
    Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

/// Concurrent HEADs while a listing fetches sizes and times (rclone's `--checkers`).
const CHECKERS: usize = 8;
/// The largest index page read.
const INDEX_LIMIT: u64 = 32 << 20;
/// Redirects followed, as Go's client follows them.
const REDIRECTS: u32 = 10;

/// A web directory served read-only.
pub struct HttpBackend {
    inner: Arc<Inner>,
}

struct Inner {
    opts: HttpOptions,
    /// Follows redirects: listings and reads.
    client: HttpClient,
    /// Follows none: telling a directory from a file by its redirect.
    direct: HttpClient,
    /// The served directory's URL, ending in `/`.
    endpoint: String,
    /// When the URL names a file: its name, the one entry of the served directory.
    only: Option<String>,
    requests: AtomicU64,
}

/// What a HEAD of a path found.
enum Found {
    File { size: u64, mtime: SystemTime },
    Dir,
    Missing,
}

fn read_only(path: &VfsPath) -> Error {
    Error::with_detail(ErrorKind::ReadOnly, path.as_str(), "http remotes are read only")
}

fn dir_entry(name: &str) -> Entry {
    Entry { name: name.to_string(), kind: EntryKind::Dir, size: 0, mtime: SystemTime::UNIX_EPOCH }
}

fn header<'a>(resp: &'a http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn media_type(resp: &http::Response<ureq::Body>) -> String {
    header(resp, "content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

impl HttpBackend {
    /// A backend for the web directory `opts` names. As rclone does, a URL (with the path
    /// after `remote:`) that does not end in `/` is asked with a HEAD whether it is a
    /// directory; a file is served as the one entry of its directory.
    ///
    /// # Errors
    /// No TLS roots, or the server cannot be reached to tell a file from a directory.
    pub fn connect(opts: HttpOptions) -> std::result::Result<HttpBackend, String> {
        let client = HttpClient::following_redirects(opts.net, true, REDIRECTS)?;
        let direct = HttpClient::new(opts.net, true)?;
        let mut inner = Inner {
            endpoint: format!("{}{}", opts.url.text(), escape_path(&opts.root, opts.no_escape)),
            opts,
            client,
            direct,
            only: None,
            requests: AtomicU64::new(0),
        };
        if !inner.endpoint.ends_with('/') {
            if inner.names_a_file()? {
                let (parent, name) = inner.endpoint.rsplit_once('/').unwrap_or(("", &inner.endpoint));
                let name = links::decode_path(name).unwrap_or_else(|| name.to_string());
                log::info!("http: {} is a file: serving it alone", inner.endpoint);
                inner.only = Some(name);
                inner.endpoint = format!("{parent}/");
            } else {
                inner.endpoint.push('/');
            }
        }
        Ok(HttpBackend { inner: Arc::new(inner) })
    }

    /// Requests sent so far (rc `core/stats`).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// The URL of `path` below the served directory (a directory's ends in `/`).
    fn url(&self, path: &VfsPath, dir: bool) -> String {
        let rel = path.as_str().trim_start_matches('/');
        let mut url = format!("{}{}", self.endpoint, escape_path(rel, self.opts.no_escape));
        if dir && !rel.is_empty() {
            url.push('/');
        }
        url
    }

    /// Sends `method` for `url` with the remote's headers and retries.
    fn send(
        &self,
        client: &HttpClient,
        method: &str,
        url: &str,
        extra: &[(&str, String)],
    ) -> std::result::Result<http::Response<ureq::Body>, String> {
        let what = format!("http: {method} {url}");
        let make = || {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut b = http::Request::builder().method(method).uri(url);
            for (k, v) in &self.opts.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            if let Some((user, pass)) = &self.opts.basic_auth {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                b = b.header("authorization", format!("Basic {token}"));
            }
            for (k, v) in extra {
                b = b.header(*k, v.as_str());
            }
            Ok(b)
        };
        retry::send_with_body(client, self.opts.net.low_level_retries, &what, Body::Empty, &make)
    }

    /// rclone's `getFsEndpoint`: whether the endpoint (not ending in `/`) is a file.
    fn names_a_file(&self) -> std::result::Result<bool, String> {
        let resp = self
            .send(&self.direct, "HEAD", &self.endpoint, &[])
            .map_err(|e| format!("http: cannot reach {}: {e}", self.endpoint))?;
        Ok(match resp.status().as_u16() {
            404 => false,
            301 | 302 | 303 | 307 | 308 => !header(&resp, "location").is_some_and(|l| l.ends_with('/')),
            _ => true,
        })
    }

    /// A HEAD of a file's URL: its size and time, or that it is a directory or missing.
    fn head(&self, url: &str, vpath: &str) -> Result<Found> {
        let resp = self.send(&self.client, "HEAD", url, &[]).map_err(|e| transport_error(e, vpath))?;
        self.classify(&resp, vpath)
    }

    /// What a HEAD's answer says of a file's URL.
    fn classify(&self, resp: &http::Response<ureq::Body>, vpath: &str) -> Result<Found> {
        let status = resp.status().as_u16();
        if status == 404 || status == 410 {
            return Ok(Found::Missing);
        }
        if !(200..300).contains(&status) {
            return Err(status_error(status, vpath));
        }
        if self.opts.no_slash && media_type(resp) == "text/html" {
            return Ok(Found::Dir);
        }
        let size = header(resp, "content-length").and_then(|l| l.trim().parse::<u64>().ok()).ok_or_else(|| {
            Error::with_detail(ErrorKind::Other, vpath, "The server gives no size (Content-Length) for this file")
        })?;
        let mtime = header(resp, "last-modified")
            .and_then(crate::backend::net::http_time::parse_rfc1123)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Found::File { size, mtime })
    }

    /// Whether `url` (a directory's, ending in `/`) answers.
    fn dir_exists(&self, url: &str, vpath: &str) -> Result<bool> {
        let resp = self.send(&self.client, "HEAD", url, &[]).map_err(|e| transport_error(e, vpath))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 | 410 => Ok(false),
            // A server that refuses HEAD on directories: ask for the page itself.
            405 | 501 => {
                let resp = self.send(&self.client, "GET", url, &[]).map_err(|e| transport_error(e, vpath))?;
                Ok(resp.status().is_success())
            }
            status => Err(status_error(status, vpath)),
        }
    }

    /// The names an index page lists (`name/` for directories), in page order, once each.
    fn read_index(&self, path: &VfsPath) -> Result<Vec<String>> {
        let url = self.url(path, true);
        let vpath = path.as_str();
        let resp = self.send(&self.client, "GET", &url, &[]).map_err(|e| transport_error(e, vpath))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(status_error(status, vpath));
        }
        let media = media_type(&resp);
        if media != "text/html" {
            log::info!("http: {url}: can't parse content type {media:?} as a directory");
            return Err(Error::new(ErrorKind::NotADirectory, vpath));
        }
        let mut body = resp.into_body();
        let page = body.with_config().limit(INDEX_LIMIT).read_to_vec().map_err(|e| {
            let mut err = Error::with_detail(ErrorKind::Other, vpath, "The index page could not be read whole");
            err.source = Some(std::io::Error::other(e.to_string()));
            err
        })?;
        let Some(base) = Url::parse(&url) else {
            return Err(Error::with_detail(ErrorKind::Other, vpath, "The directory's URL does not parse"));
        };
        let mut seen = std::collections::HashSet::new();
        let names: Vec<String> = index::hrefs(&page)
            .iter()
            .filter_map(|href| entry_name(&base, href))
            .filter(|n| !n.chars().any(char::is_control) && seen.insert(n.clone()))
            .collect();
        if names.len() >= index::MAX_LINKS {
            log::warn!("http: {url}: more than {} links; the listing is cut there", index::MAX_LINKS);
        }
        Ok(names)
    }
}

impl Backend for HttpBackend {
    fn features(&self) -> Features {
        Features { write_in_place: false }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        let inner = &self.inner;
        if path.is_root() {
            return Ok(dir_entry(""));
        }
        if let Some(only) = &inner.only {
            if path.parent().is_root() && path.name() == only {
                if let Found::File { size, mtime } = inner.head(&inner.url(path, false), path.as_str())? {
                    return Ok(Entry { name: only.clone(), kind: EntryKind::File, size, mtime });
                }
            }
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        // Without redirects first: `/dir` answered with a redirect to `/dir/` is a directory.
        let url = inner.url(path, false);
        let vpath = path.as_str();
        let resp = inner.send(&inner.direct, "HEAD", &url, &[]).map_err(|e| transport_error(e, vpath))?;
        let status = resp.status().as_u16();
        let found = match status {
            300..=399 if header(&resp, "location").is_some_and(|l| l.ends_with('/')) => Found::Dir,
            300..=399 => inner.head(&url, vpath)?,
            404 | 410 if inner.dir_exists(&inner.url(path, true), vpath)? => Found::Dir,
            _ => inner.classify(&resp, vpath)?,
        };
        match found {
            Found::File { size, mtime } => {
                Ok(Entry { name: path.name().to_string(), kind: EntryKind::File, size, mtime })
            }
            Found::Dir => Ok(dir_entry(path.name())),
            Found::Missing => Err(Error::new(ErrorKind::NotFound, vpath)),
        }
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let inner = &self.inner;
        if let Some(only) = &inner.only {
            if !path.is_root() {
                return Err(Error::new(ErrorKind::NotFound, path.as_str()));
            }
            let file = path.child(only).map_err(|_| Error::new(ErrorKind::InvalidName, path.as_str()))?;
            return Ok(vec![self.stat(&file)?]);
        }
        let names = inner.read_index(path)?;
        let mut entries = Vec::with_capacity(names.len());
        let mut files = Vec::new();
        for name in names {
            match name.strip_suffix('/') {
                Some(dir) => entries.push(dir_entry(dir)),
                None => files.push(name),
            }
        }
        // A HEAD for each file, `CHECKERS` at a time; a file the HEAD cannot find is left out
        // (the index was wrong or stale), as rclone leaves it out.
        let next = AtomicUsize::new(0);
        let found: Vec<Vec<Entry>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..CHECKERS.min(files.len()))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(name) = files.get(i) else { return Ok(mine) };
                            let Ok(child) = path.child(name) else { continue };
                            match inner.head(&inner.url(&child, false), child.as_str()) {
                                Ok(Found::File { size, mtime }) => {
                                    mine.push(Entry { name: name.clone(), kind: EntryKind::File, size, mtime })
                                }
                                Ok(Found::Dir) => mine.push(dir_entry(name)),
                                Ok(Found::Missing) => log::debug!("http: {}: skipping: not found", child.as_str()),
                                Err(e) if e.kind == ErrorKind::Transient => return Err(e),
                                Err(e) => log::debug!("http: {}: skipping because of error: {e}", child.as_str()),
                            }
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Ok(Vec::new()))).collect::<Result<Vec<_>>>()
        })?;
        entries.extend(found.into_iter().flatten());
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        Ok(entries)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        if path.is_root() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let url = self.inner.url(path, false);
        let get = read::HttpGet { inner: self.inner.clone(), url, vpath: path.as_str().to_string() };
        Ok(Box::new(crate::backend::net::ranged_read::RangedRead::open(Box::new(get), path.as_str(), offset, len)?))
    }

    fn open_write(&self, path: &VfsPath, _mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        Err(read_only(path))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        Err(read_only(path))
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        Err(read_only(path))
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        Err(read_only(path))
    }

    fn rename(&self, from: &VfsPath, _to: &VfsPath) -> Result<()> {
        Err(read_only(from))
    }

    fn set_modtime(&self, path: &VfsPath, _mtime: SystemTime) -> Result<()> {
        Err(read_only(path))
    }

    fn requests(&self) -> Option<u64> {
        Some(self.requests())
    }
}
