//! The s3 backend: a bucket (or every bucket of an account) of AWS S3 or an S3-compatible
//! store, stored as rclone stores it, so rclone and ftpvfs read what the other wrote:
//! modification times in `X-Amz-Meta-Mtime` (decimal seconds), `X-Amz-Meta-Md5chksum` on
//! multipart uploads, `Content-MD5` on single PUTs, directories as common prefixes (and as
//! `dir/` marker objects with `directory_markers`). At the remote's root the buckets are the
//! directories. A rename is a server-side copy and a delete (a multipart copy at or above
//! `copy_cutoff`); a directory rename moves every key below it; MFMT is a copy onto itself
//! with the metadata replaced.
//!
//! S3 has no empty directories: without markers, a directory made by MKD, or emptied by DELE or
//! a rename, stays listed by this process until RMD (rclone's VFS keeps one for
//! `--dir-cache-time`); other servers on the bucket do not see it.
//! Listings cost one request per 1,000 keys (`list_chunk`), and the real modification times one
//! HEAD per object, made eight at a time and remembered while the object's ETag and date stay
//! the same; `--use-server-modtime` or `--no-modtime` skip them.

pub mod client;
pub mod credentials;
pub mod options;
pub mod responses;
pub mod sign;
mod upload;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use client::{Body, Request, Response, S3Client, S3Error};
pub use options::S3Options;
use responses::{parse_buckets, parse_list, parse_result_etag, parse_upload_id, ListedObject};

use crate::backend::net::http_time::{mtime_meta, parse_mtime_meta, parse_rfc1123};
use crate::backend::{
    check_rename, Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

/// rclone's `--default-time` for directories, which S3 does not date: 2000-01-01T00:00:00Z.
const DIR_TIME_SECS: u64 = 946_684_800;
/// Concurrent HEADs while a listing fetches modification times (rclone's `--checkers`).
const CHECKERS: usize = 8;
/// Modification times remembered (the table is emptied when it reaches this).
const MTIME_CACHE_MAX: usize = 200_000;
/// The largest listing or result body read.
const XML_LIMIT: u64 = 32 << 20;

fn dir_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(DIR_TIME_SECS)
}

/// A bucket and a key in it (`""` for the bucket itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Loc {
    bucket: String,
    key: String,
}

impl Loc {
    /// The key as a directory prefix (`dir/`, or `""` at the bucket's root).
    fn dir_prefix(&self) -> String {
        if self.key.is_empty() {
            String::new()
        } else {
            format!("{}/", self.key)
        }
    }
}

/// What a HEAD says about an object.
struct ObjectMeta {
    size: u64,
    etag: String,
    last_modified: SystemTime,
    mtime: Option<SystemTime>,
    content_type: Option<String>,
    /// Every `x-amz-meta-*` header, names without the prefix.
    metadata: Vec<(String, String)>,
    storage_class: Option<String>,
}

impl ObjectMeta {
    fn from_response(resp: &Response) -> ObjectMeta {
        let mut metadata = Vec::new();
        for (name, value) in &resp.headers {
            if let (Some(meta), Ok(v)) = (name.as_str().strip_prefix("x-amz-meta-"), value.to_str()) {
                metadata.push((meta.to_string(), v.to_string()));
            }
        }
        let mtime = metadata.iter().find(|(k, _)| k == "mtime").and_then(|(_, v)| parse_mtime_meta(v));
        ObjectMeta {
            size: resp.header("content-length").and_then(|l| l.trim().parse().ok()).unwrap_or(0),
            etag: resp.header("etag").unwrap_or("").trim_matches('"').to_string(),
            last_modified: resp.header("last-modified").and_then(parse_rfc1123).unwrap_or(SystemTime::UNIX_EPOCH),
            mtime,
            content_type: resp.header("content-type").map(str::to_string),
            metadata,
            storage_class: resp.header("x-amz-storage-class").map(str::to_string),
        }
    }

    fn modtime(&self, server_modtime: bool) -> SystemTime {
        if server_modtime {
            self.last_modified
        } else {
            self.mtime.unwrap_or(self.last_modified)
        }
    }
}

/// The state shared by the backend, its streams and its part uploaders.
pub(crate) struct Inner {
    client: S3Client,
    opts: S3Options,
    /// The bucket served, or `None` when the root lists the buckets.
    root_bucket: Option<String>,
    /// The key prefix served inside it (`dir/sub`, or `""`).
    root_prefix: String,
    /// Directories made by MKD without markers, until removed.
    virtual_dirs: Mutex<BTreeSet<Loc>>,
    /// Modification times from HEADs, by object, with the ETag and date they belong to.
    mtimes: Mutex<HashMap<Loc, (String, SystemTime, SystemTime)>>,
    requests: AtomicU64,
    bytes_read: AtomicU64,
}

/// An S3 bucket or account, served as a backend.
pub struct S3Backend {
    inner: Arc<Inner>,
}

impl S3Backend {
    /// Checks the store once (so wrong keys or a missing bucket stop the start with the
    /// store's error code and message), then serves it.
    ///
    /// # Errors
    /// What failed: the endpoint, the credentials, the bucket.
    pub fn connect(opts: S3Options) -> std::result::Result<S3Backend, String> {
        let client = S3Client::new(&opts)?;
        let enc = opts.encoding;
        let (root_bucket, root_prefix) = match opts.root.split_once('/') {
            _ if opts.root.is_empty() => (None, String::new()),
            Some((b, p)) => (Some(enc.from_standard(b)), enc.from_standard_path(p.trim_matches('/'))),
            None => (Some(enc.from_standard(&opts.root)), String::new()),
        };
        let inner = Inner {
            client,
            opts,
            root_bucket,
            root_prefix,
            virtual_dirs: Mutex::default(),
            mtimes: Mutex::default(),
            requests: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        };
        let where_ = format!(
            "s3 {} ({})",
            inner.client.endpoint(),
            if inner.opts.root.is_empty() { "all buckets" } else { &inner.opts.root }
        );
        match &inner.root_bucket {
            None => {
                inner.list_buckets().map_err(|e| format!("{where_}: listing the buckets: {e}"))?;
            }
            Some(bucket) if !inner.opts.no_check_bucket => {
                let req = Request::new("GET", Some(bucket), "").query("max-keys", "1").query("delimiter", "/");
                let req = if inner.opts.list_version == 2 { req.query("list-type", "2") } else { req };
                inner.send(&req, &[]).map_err(|e| format!("{where_}: bucket {bucket:?}: {e}"))?;
            }
            Some(_) => {}
        }
        log::info!("s3 backend: serving {where_}, {:?}", inner.opts);
        Ok(S3Backend { inner: Arc::new(inner) })
    }

    /// Requests sent so far (rc `core/stats`).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn send(&self, req: &Request<'_>, allowed: &[u16]) -> std::result::Result<Response, S3Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        log::trace!("s3: {} {}/{} {:?}", req.method, req.bucket.unwrap_or(""), req.key, req.query);
        self.client.execute(req, allowed)
    }

    /// The storage error for an S3 failure on `path`, logged with the store's words.
    fn error(&self, e: S3Error, path: &str) -> Error {
        let kind = match (e.status(), e.code()) {
            (_, "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload") | (Some(404), _) => ErrorKind::NotFound,
            (_, "BucketNotEmpty") => ErrorKind::NotEmpty,
            (_, "BucketAlreadyExists" | "BucketAlreadyOwnedByYou") => ErrorKind::AlreadyExists,
            (_, "EntityTooLarge" | "QuotaExceeded") => ErrorKind::NoSpace,
            (_, "InvalidBucketName" | "KeyTooLongError" | "InvalidObjectName") => ErrorKind::InvalidName,
            (Some(401 | 403), _) => ErrorKind::PermissionDenied,
            (Some(409), _) => ErrorKind::AlreadyExists,
            (Some(400), _) => ErrorKind::Other,
            _ => ErrorKind::Transient,
        };
        if kind == ErrorKind::NotFound {
            log::debug!("s3: {path}: {e}");
        } else {
            log::warn!("s3: {path}: {e}");
        }
        let mut err = Error::new(kind, path);
        err.source = Some(std::io::Error::other(format!("S3: {e}")));
        err
    }

    /// Where a VFS path lives; `None` for the account's root (the list of buckets).
    fn locate(&self, path: &VfsPath) -> Option<Loc> {
        let rel = self.opts.encoding.from_standard_path(path.as_str().trim_start_matches('/'));
        let rel = rel.as_str();
        match &self.root_bucket {
            Some(bucket) => {
                let key = match (self.root_prefix.is_empty(), rel.is_empty()) {
                    (true, _) => rel.to_string(),
                    (false, true) => self.root_prefix.clone(),
                    (false, false) => format!("{}/{rel}", self.root_prefix),
                };
                Some(Loc { bucket: bucket.clone(), key })
            }
            None if rel.is_empty() => None,
            None => {
                let (bucket, key) = rel.split_once('/').unwrap_or((rel, ""));
                Some(Loc { bucket: bucket.to_string(), key: key.to_string() })
            }
        }
    }

    /// Whether `loc` is the top of what is served in its bucket (a bucket, or the root prefix).
    fn is_top(&self, loc: &Loc) -> bool {
        match &self.root_bucket {
            Some(_) => loc.key == self.root_prefix,
            None => loc.key.is_empty(),
        }
    }

    fn list_buckets(&self) -> std::result::Result<Vec<(String, SystemTime)>, S3Error> {
        let body = self.send(&Request::new("GET", None, ""), &[])?.bytes(XML_LIMIT)?;
        parse_buckets(&body).map_err(|e| S3Error::Transport(format!("ListBuckets: {e}")))
    }

    /// One directory level: common prefixes and objects under `prefix`, every page.
    /// `limit` stops after that many keys (0: all).
    fn list_level(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        limit: usize,
    ) -> std::result::Result<(Vec<String>, Vec<ListedObject>), S3Error> {
        let (mut prefixes, mut objects) = (Vec::new(), Vec::new());
        let mut cursor: Option<String> = None;
        loop {
            let max = if limit > 0 { limit.min(self.opts.list_chunk as usize) } else { self.opts.list_chunk as usize };
            let mut req =
                Request::new("GET", Some(bucket), "").query("prefix", prefix).query("max-keys", &max.to_string());
            if delimiter {
                req = req.query("delimiter", "/");
            }
            if self.opts.list_url_encode {
                req = req.query("encoding-type", "url");
            }
            if self.opts.list_version == 2 {
                req = req.query("list-type", "2");
                if let Some(t) = &cursor {
                    req = req.query("continuation-token", t);
                }
            } else if let Some(m) = &cursor {
                req = req.query("marker", m);
            }
            let body = self.send(&req, &[])?.bytes(XML_LIMIT)?;
            let page = parse_list(&body, self.opts.list_url_encode)
                .map_err(|e| S3Error::Transport(format!("listing {bucket}/{prefix}: {e}")))?;
            prefixes.extend(page.prefixes);
            objects.extend(page.objects);
            if !page.truncated || (limit > 0 && prefixes.len() + objects.len() >= limit) {
                return Ok((prefixes, objects));
            }
            let next = if self.opts.list_version == 2 { page.next_token } else { page.next_marker };
            match next {
                Some(n) if Some(&n) != cursor.as_ref() => cursor = Some(n),
                _ => {
                    return Err(S3Error::Transport(format!(
                        "listing {bucket}/{prefix}: the store said the listing goes on but gave no way to continue (try list_version = {})",
                        if self.opts.list_version == 2 { 1 } else { 2 }
                    )))
                }
            }
        }
    }

    fn head(&self, loc: &Loc) -> std::result::Result<Option<ObjectMeta>, S3Error> {
        if loc.key.is_empty() {
            return Ok(None);
        }
        let resp = self.send(&Request::new("HEAD", Some(&loc.bucket), &loc.key), &[404])?;
        if resp.status == 404 {
            return Ok(None);
        }
        let meta = ObjectMeta::from_response(&resp);
        if let Some(m) = meta.mtime {
            self.remember_mtime(loc, &meta.etag, meta.last_modified, m);
        }
        Ok(Some(meta))
    }

    fn remember_mtime(&self, loc: &Loc, etag: &str, last_modified: SystemTime, mtime: SystemTime) {
        let mut cache = lock(&self.mtimes);
        if cache.len() >= MTIME_CACHE_MAX {
            cache.clear();
        }
        cache.insert(loc.clone(), (etag.to_string(), last_modified, mtime));
    }

    /// Whether anything lives under `loc/` (a marker, an object or a sub-prefix).
    fn dir_exists(&self, loc: &Loc) -> std::result::Result<bool, S3Error> {
        if loc.key.is_empty() || lock(&self.virtual_dirs).contains(loc) {
            return Ok(true);
        }
        let (prefixes, objects) = self.list_level(&loc.bucket, &loc.dir_prefix(), true, 1)?;
        Ok(!prefixes.is_empty() || !objects.is_empty())
    }

    /// What `loc` is: a file, a directory, or nothing.
    fn stat_loc(&self, loc: &Loc, name: &str) -> std::result::Result<Option<Entry>, S3Error> {
        if loc.key.is_empty() {
            // A bucket: it exists if it can be listed.
            return match self.list_level(&loc.bucket, "", true, 1) {
                Ok(_) => Ok(Some(dir_entry(name, dir_time()))),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(e),
            };
        }
        if self.is_top(loc) {
            return Ok(Some(dir_entry(name, dir_time())));
        }
        if let Some(meta) = self.head(loc)? {
            return Ok(Some(Entry {
                name: name.to_string(),
                kind: EntryKind::File,
                size: meta.size,
                mtime: meta.modtime(self.opts.server_modtime),
            }));
        }
        Ok(self.dir_exists(loc)?.then(|| dir_entry(name, dir_time())))
    }

    /// The entries of a directory (not the account root).
    fn list_dir(&self, loc: &Loc) -> std::result::Result<Vec<Entry>, S3Error> {
        let prefix = loc.dir_prefix();
        let (prefixes, objects) = self.list_level(&loc.bucket, &prefix, true, 0)?;
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let shown = |key: &str, stored: &str| -> Option<String> {
            let name = self.opts.encoding.to_standard(stored).filter(|n| valid_name(n));
            if name.is_none() {
                log::info!("s3: skipping {key:?} in {}/{prefix}: not a name FTP can show", loc.bucket);
            }
            name
        };
        for p in prefixes {
            if let Some(name) = shown(&p, p.strip_prefix(&prefix).unwrap_or(&p).trim_end_matches('/')) {
                entries.insert(name.clone(), dir_entry(&name, dir_time()));
            }
        }
        let mut files = Vec::new();
        for o in objects {
            let Some(stored) = o.key.strip_prefix(&prefix) else { continue };
            if stored.is_empty() {
                continue; // the directory's own marker
            }
            if let Some(dir) = stored.strip_suffix('/') {
                if let Some(name) = shown(&o.key, dir) {
                    entries.insert(name.clone(), dir_entry(&name, dir_time()));
                }
                continue;
            }
            match shown(&o.key, stored) {
                Some(name) if !entries.contains_key(&name) => files.push((name, o)),
                _ => {}
            }
        }
        let times = self.modtimes(&loc.bucket, &files);
        for ((name, o), mtime) in files.into_iter().zip(times) {
            entries.insert(name.clone(), Entry { name, kind: EntryKind::File, size: o.size, mtime });
        }
        for v in lock(&self.virtual_dirs).iter() {
            if v.bucket == loc.bucket {
                let stored = v.key.strip_prefix(&prefix).filter(|n| !n.contains('/') && !n.is_empty());
                if let Some(name) = stored.and_then(|n| self.opts.encoding.to_standard(n)) {
                    entries.entry(name.clone()).or_insert_with(|| dir_entry(&name, dir_time()));
                }
            }
        }
        Ok(entries.into_values().collect())
    }

    /// Each listed object's modification time: from the listing with server times, else from
    /// the cache of earlier HEADs, else from a HEAD (eight at a time).
    fn modtimes(&self, bucket: &str, files: &[(String, ListedObject)]) -> Vec<SystemTime> {
        if self.opts.server_modtime {
            return files.iter().map(|(_, o)| o.last_modified).collect();
        }
        let mut times: Vec<Option<SystemTime>> = {
            let cache = lock(&self.mtimes);
            files
                .iter()
                .map(|(_, o)| {
                    let loc = Loc { bucket: bucket.to_string(), key: o.key.clone() };
                    cache
                        .get(&loc)
                        .filter(|(etag, lm, _)| *etag == o.etag && *lm == o.last_modified)
                        .map(|(_, _, m)| *m)
                })
                .collect()
        };
        let missing: Vec<usize> = (0..files.len()).filter(|i| times[*i].is_none()).collect();
        if !missing.is_empty() {
            let next = AtomicU64::new(0);
            let found: Mutex<Vec<(usize, SystemTime)>> = Mutex::default();
            std::thread::scope(|s| {
                for _ in 0..CHECKERS.min(missing.len()) {
                    s.spawn(|| loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(&index) = missing.get(i) else { return };
                        let o = &files[index].1;
                        let loc = Loc { bucket: bucket.to_string(), key: o.key.clone() };
                        let t = match self.head(&loc) {
                            Ok(Some(meta)) => {
                                let t = meta.modtime(false);
                                self.remember_mtime(&loc, &o.etag, o.last_modified, t);
                                t
                            }
                            Ok(None) => o.last_modified,
                            Err(e) => {
                                log::info!("s3: modification time of {bucket}/{}: {e}; using the store's date", o.key);
                                o.last_modified
                            }
                        };
                        lock(&found).push((index, t));
                    });
                }
            });
            for (i, t) in found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
                times[i] = Some(t);
            }
        }
        times.into_iter().zip(files).map(|(t, (_, o))| t.unwrap_or(o.last_modified)).collect()
    }

    /// Headers every new object gets: rclone's mtime, ACL, storage class, encryption, type.
    fn object_headers(&self, loc: &Loc, mtime: SystemTime) -> Vec<(String, String)> {
        let mut h = vec![
            ("x-amz-meta-mtime".to_string(), mtime_meta(mtime)),
            ("content-type".to_string(), mime_type(&loc.key).to_string()),
        ];
        let o = &self.opts;
        for (name, value) in [
            ("x-amz-acl", &o.acl),
            ("x-amz-storage-class", &o.storage_class),
            ("x-amz-server-side-encryption", &o.server_side_encryption),
            ("x-amz-server-side-encryption-aws-kms-key-id", &o.sse_kms_key_id),
        ] {
            if !value.is_empty() {
                h.push((name.to_string(), value.clone()));
            }
        }
        h
    }

    fn put_object(
        &self,
        loc: &Loc,
        body: Body<'_>,
        mtime: SystemTime,
        md5: [u8; 16],
        no_md5: bool,
    ) -> std::result::Result<(), S3Error> {
        let mut req = Request::new("PUT", Some(&loc.bucket), &loc.key).body(body);
        req.headers = self.object_headers(loc, mtime);
        if !no_md5 && !self.opts.disable_checksum {
            req.headers.push(("content-md5".into(), upload::content_md5(md5)));
            if !self.opts.server_side_encryption.is_empty() {
                // An SSE-KMS ETag is not the MD5: keep it in rclone's metadata.
                req.headers.push(("x-amz-meta-md5chksum".into(), upload::md5chksum(md5)));
            }
        }
        self.send(&req, &[]).map(|_| ())
    }

    fn create_multipart(
        &self,
        loc: &Loc,
        mtime: SystemTime,
        md5: Option<[u8; 16]>,
    ) -> std::result::Result<String, S3Error> {
        let mut req = Request::new("POST", Some(&loc.bucket), &loc.key).query("uploads", "");
        req.headers = self.object_headers(loc, mtime);
        if let Some(md5) = md5.filter(|_| !self.opts.disable_checksum) {
            req.headers.push(("x-amz-meta-md5chksum".into(), upload::md5chksum(md5)));
        }
        let body = self.send(&req, &[])?.bytes(XML_LIMIT)?;
        parse_upload_id(&body).map_err(|e| S3Error::Transport(format!("CreateMultipartUpload: {e}")))
    }

    fn upload_part(
        &self,
        loc: &Loc,
        upload_id: &str,
        number: u32,
        body: Body<'_>,
        md5: [u8; 16],
    ) -> std::result::Result<(String, [u8; 16]), S3Error> {
        let mut req = Request::new("PUT", Some(&loc.bucket), &loc.key)
            .query("partNumber", &number.to_string())
            .query("uploadId", upload_id)
            .body(body);
        if !self.opts.disable_checksum {
            req = req.header("content-md5", &upload::content_md5(md5));
        }
        let resp = self.send(&req, &[])?;
        let etag = resp.header("etag").unwrap_or("").trim_matches('"').to_string();
        Ok((etag, md5))
    }

    /// Completes a multipart upload or copy; with `check_etag` (uploads, whose parts' MD5s
    /// are known) the store's ETag must be the one S3 computes, where the provider makes it so.
    fn complete_multipart(
        &self,
        loc: &Loc,
        upload_id: &str,
        parts: &BTreeMap<u32, (String, [u8; 16])>,
        check_etag: bool,
    ) -> std::result::Result<(), S3Error> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, (etag, _)) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>\"{}\"</ETag></Part>",
                crate::backend::net::xml::escape(etag)
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let req = Request::new("POST", Some(&loc.bucket), &loc.key)
            .query("uploadId", upload_id)
            .body(Body::Bytes(xml.as_bytes()));
        let body = self.send(&req, &[])?.bytes(XML_LIMIT)?;
        let etag = result_etag(&body, "CompleteMultipartUpload")?;
        let expected = upload::multipart_etag(parts);
        let checked = check_etag && self.opts.use_multipart_etag && !self.opts.disable_checksum;
        if checked && !etag.is_empty() && etag != expected {
            return Err(S3Error::Transport(format!(
                "multipart upload: the store's ETag {etag} is not the expected {expected}"
            )));
        }
        Ok(())
    }

    fn abort_multipart(&self, loc: &Loc, upload_id: &str) {
        let req = Request::new("DELETE", Some(&loc.bucket), &loc.key).query("uploadId", upload_id);
        match self.send(&req, &[404]) {
            Ok(_) => log::debug!("s3: aborted the multipart upload of {}/{}", loc.bucket, loc.key),
            Err(e) => log::warn!("s3: aborting the multipart upload of {}/{}: {e}", loc.bucket, loc.key),
        }
    }

    /// After an upload: unless `no_head`, a HEAD checks that the store holds what was sent.
    fn after_upload(&self, loc: &Loc, size: u64, mtime: SystemTime, vpath: &str) -> Result<()> {
        if self.opts.no_head {
            return Ok(());
        }
        match self.head(loc) {
            Ok(Some(meta)) if meta.size == size => {
                self.remember_mtime(loc, &meta.etag, meta.last_modified, meta.mtime.unwrap_or(mtime));
                Ok(())
            }
            Ok(Some(meta)) => {
                log::error!("s3: {vpath}: uploaded {size} bytes but the store holds {}", meta.size);
                Err(Error::with_detail(ErrorKind::Other, vpath, "The store holds another size than was uploaded"))
            }
            Ok(None) => {
                Err(Error::with_detail(ErrorKind::Transient, vpath, "The upload is not visible in the store yet"))
            }
            Err(e) => Err(self.error(e, vpath)),
        }
    }

    /// A server-side copy of `from` to `to` with `from`'s metadata (or `replace` as the new
    /// mtime, with the rest kept), multipart at or above `copy_cutoff`.
    fn copy(
        &self,
        from: &Loc,
        to: &Loc,
        meta: &ObjectMeta,
        replace: Option<SystemTime>,
    ) -> std::result::Result<(), S3Error> {
        let source = format!("{}/{}", from.bucket, from.key);
        let source = sign::encode_path(&source);
        let mut headers: Vec<(String, String)> = vec![];
        if let Some(acl) = Some(&self.opts.acl).filter(|a| !a.is_empty()) {
            headers.push(("x-amz-acl".into(), acl.clone()));
        }
        if let Some(class) = meta.storage_class.as_ref().or(Some(&self.opts.storage_class)).filter(|c| !c.is_empty()) {
            headers.push(("x-amz-storage-class".into(), class.clone()));
        }
        if !self.opts.server_side_encryption.is_empty() {
            headers.push(("x-amz-server-side-encryption".into(), self.opts.server_side_encryption.clone()));
        }
        if !self.opts.sse_kms_key_id.is_empty() {
            headers.push(("x-amz-server-side-encryption-aws-kms-key-id".into(), self.opts.sse_kms_key_id.clone()));
        }
        let new_meta = || -> Vec<(String, String)> {
            let mut h: Vec<(String, String)> = meta
                .metadata
                .iter()
                .filter(|(k, _)| k != "mtime")
                .map(|(k, v)| (format!("x-amz-meta-{k}"), v.clone()))
                .collect();
            let mtime = replace.or(meta.mtime).unwrap_or(meta.last_modified);
            h.push(("x-amz-meta-mtime".into(), mtime_meta(mtime)));
            h.push((
                "content-type".into(),
                meta.content_type.clone().unwrap_or_else(|| mime_type(&to.key).to_string()),
            ));
            h
        };
        if meta.size < self.opts.copy_cutoff {
            let mut req = Request::new("PUT", Some(&to.bucket), &to.key).header("x-amz-copy-source", &source);
            req.headers.extend(headers);
            if replace.is_some() {
                req = req.header("x-amz-metadata-directive", "REPLACE");
                req.headers.extend(new_meta());
            } else {
                req = req.header("x-amz-metadata-directive", "COPY");
            }
            let body = self.send(&req, &[])?.bytes(XML_LIMIT)?;
            return result_etag(&body, "CopyObject").map(|_| ());
        }
        // Multipart copy: the metadata goes into the new upload.
        let mut req = Request::new("POST", Some(&to.bucket), &to.key).query("uploads", "");
        req.headers.extend(headers);
        req.headers.extend(new_meta());
        let upload_id = parse_upload_id(&self.send(&req, &[])?.bytes(XML_LIMIT)?)
            .map_err(|e| S3Error::Transport(format!("CreateMultipartUpload: {e}")))?;
        let part = self.opts.copy_cutoff;
        let mut parts = BTreeMap::new();
        let mut offset = 0;
        let mut number = 1u32;
        let result = loop {
            if offset >= meta.size {
                break Ok(());
            }
            let end = (offset + part).min(meta.size) - 1;
            let req = Request::new("PUT", Some(&to.bucket), &to.key)
                .query("partNumber", &number.to_string())
                .query("uploadId", &upload_id)
                .header("x-amz-copy-source", &source)
                .header("x-amz-copy-source-range", &format!("bytes={offset}-{end}"));
            match self.send(&req, &[]).and_then(|r| r.bytes(XML_LIMIT)).and_then(|b| result_etag(&b, "UploadPartCopy"))
            {
                Ok(etag) => {
                    parts.insert(number, (etag, [0u8; 16]));
                }
                Err(e) => break Err(e),
            }
            offset = end + 1;
            number += 1;
        };
        let completed = result.and_then(|()| self.complete_multipart(to, &upload_id, &parts, false));
        if completed.is_err() {
            self.abort_multipart(to, &upload_id);
        }
        completed
    }

    /// Keeps a directory that its last file may just have left (S3 forgets a prefix with
    /// its last key), as a file system keeps an emptied directory until RMD.
    fn keep_dir(&self, dir: &Loc) {
        if !dir.key.is_empty() && !self.is_top(dir) && !self.opts.directory_markers {
            lock(&self.virtual_dirs).insert(dir.clone());
        }
    }

    fn delete(&self, loc: &Loc) -> std::result::Result<(), S3Error> {
        lock(&self.mtimes).remove(loc);
        self.send(&Request::new("DELETE", Some(&loc.bucket), &loc.key), &[404]).map(|_| ())
    }

    /// Moves one object: copy, then delete the source.
    fn move_object(&self, from: &Loc, to: &Loc, meta: &ObjectMeta) -> std::result::Result<(), S3Error> {
        self.copy(from, to, meta, None)?;
        if let Some(m) = meta.mtime {
            self.remember_mtime(to, &meta.etag, meta.last_modified, m);
        }
        self.delete(from)
    }
}

/// The ETag of a copy or completion result, or the error S3 put in its 200 answer.
fn result_etag(body: &[u8], what: &str) -> std::result::Result<String, S3Error> {
    match parse_result_etag(body) {
        Ok(etag) => Ok(etag),
        Err(Ok(e)) => Err(S3Error::Status { status: 200, code: e.code, message: e.message }),
        Err(Err(e)) => Err(S3Error::Transport(format!("{what}: {e}"))),
    }
}

/// The first byte of `bytes a-b/total`.
fn parent_loc(loc: &Loc) -> Loc {
    let key = loc.key.rsplit_once('/').map_or("", |(p, _)| p).to_string();
    Loc { bucket: loc.bucket.clone(), key }
}

fn dir_entry(name: &str, mtime: SystemTime) -> Entry {
    Entry { name: name.to_string(), kind: EntryKind::Dir, size: 0, mtime }
}

/// A name FTP can show: not empty, no `/`, not `.` or `..`, no control characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.chars().any(|c| c.is_control())
}

/// The MIME type rclone would send for a name, from its extension (a short table of the
/// common ones; anything else is `application/octet-stream`).
fn mime_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "json" => "application/json",
        "js" => "text/javascript; charset=utf-8",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// A ranged download; a connection that breaks mid-body is reopened where it stopped (and
/// fails if the object's ETag changed meanwhile, rather than mix versions), up to the retry
/// count.
struct S3Read {
    inner: Arc<Inner>,
    loc: Loc,
    vpath: String,
    pos: u64,
    /// One past the last byte wanted, if bounded.
    end: Option<u64>,
    etag: String,
    body: Option<ureq::BodyReader<'static>>,
    /// Where the open answer's body ends, from its length.
    body_end: Option<u64>,
}

impl S3Read {
    fn open(
        inner: Arc<Inner>,
        loc: Loc,
        vpath: &str,
        offset: u64,
        len: Option<u64>,
        etag: Option<&str>,
    ) -> Result<S3Read> {
        let mut r = S3Read {
            inner,
            loc,
            vpath: vpath.to_string(),
            pos: offset,
            end: len.map(|l| offset.saturating_add(l)),
            etag: etag.unwrap_or("").to_string(),
            body: None,
            body_end: None,
        };
        r.request()?;
        Ok(r)
    }

    /// Starts the GET from `pos`.
    fn request(&mut self) -> Result<()> {
        if self.end.is_some_and(|e| self.pos >= e) {
            return Ok(());
        }
        let range = match self.end {
            Some(end) => format!("bytes={}-{}", self.pos, end - 1),
            None => format!("bytes={}-", self.pos),
        };
        let req = Request::new("GET", Some(&self.loc.bucket), &self.loc.key).header("range", &range);
        let resp = self.inner.send(&req, &[416]).map_err(|e| self.inner.error(e, &self.vpath))?;
        if resp.status == 416 {
            self.end = Some(self.pos);
            return Ok(());
        }
        let etag = resp.header("etag").unwrap_or("").trim_matches('"').to_string();
        if self.etag.is_empty() {
            self.etag = etag;
        } else if etag != self.etag {
            // Reopened after a break, and the object is another one now: never mix versions.
            return Err(Error::with_detail(
                ErrorKind::Transient,
                self.vpath.clone(),
                "The file changed while being read",
            ));
        }
        let (body, body_end) =
            crate::backend::net::body_from(resp.status, &resp.headers, resp.body, self.pos, &self.vpath)?;
        self.body_end = body_end;
        self.body = Some(body);
        Ok(())
    }
}

impl ReadStream for S3Read {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut tries = 0;
        loop {
            let Some(body) = self.body.as_mut() else { return Ok(0) };
            let early_end = |n: usize, pos: u64, end: Option<u64>| n == 0 && end.is_some_and(|e| pos < e);
            match body.read(buf) {
                Ok(n) if early_end(n, self.pos, self.body_end) => {
                    tries += 1;
                    self.body = None;
                    if tries >= self.inner.opts.net.low_level_retries.max(1) {
                        return Err(Error::with_detail(
                            ErrorKind::Transient,
                            self.vpath.clone(),
                            "The store's answer kept breaking off",
                        ));
                    }
                    log::info!("s3: reading {}: the answer broke off at {}; reopening", self.vpath, self.pos);
                    std::thread::sleep(crate::backend::net::retry::backoff(tries));
                    self.request()?;
                }
                Ok(n) => {
                    self.pos += n as u64;
                    self.inner.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    if n == 0 {
                        self.body = None;
                    }
                    return Ok(n);
                }
                Err(e) => {
                    tries += 1;
                    self.body = None;
                    if tries >= self.inner.opts.net.low_level_retries.max(1) {
                        log::warn!("s3: reading {} at {}: {e}; giving up", self.vpath, self.pos);
                        let mut err = Error::from_io(e, self.vpath.clone());
                        err.kind = ErrorKind::Transient;
                        return Err(err);
                    }
                    log::info!("s3: reading {} at {}: {e}; reopening", self.vpath, self.pos);
                    std::thread::sleep(crate::backend::net::retry::backoff(tries));
                    self.request()?;
                }
            }
        }
    }
}

impl Backend for S3Backend {
    fn features(&self) -> Features {
        Features { write_in_place: false }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        let Some(loc) = self.inner.locate(path) else { return Ok(dir_entry("", dir_time())) };
        self.inner
            .stat_loc(&loc, path.name())
            .map_err(|e| self.inner.error(e, path.as_str()))?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let inner = &self.inner;
        let Some(loc) = inner.locate(path) else {
            let buckets = inner.list_buckets().map_err(|e| inner.error(e, path.as_str()))?;
            let mut entries: Vec<Entry> = buckets
                .into_iter()
                .filter_map(|(n, t)| {
                    inner.opts.encoding.to_standard(&n).filter(|n| valid_name(n)).map(|n| dir_entry(&n, t))
                })
                .collect();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(entries);
        };
        let entries = inner.list_dir(&loc).map_err(|e| inner.error(e, path.as_str()))?;
        if entries.is_empty() && !inner.is_top(&loc) && !lock(&inner.virtual_dirs).contains(&loc) {
            // An empty answer: a marker, a file, or nothing at all.
            let marker = Loc { bucket: loc.bucket.clone(), key: loc.dir_prefix() };
            if inner.opts.directory_markers && inner.head(&marker).map_err(|e| inner.error(e, path.as_str()))?.is_some()
            {
                return Ok(entries);
            }
            return match inner.head(&loc).map_err(|e| inner.error(e, path.as_str()))? {
                Some(_) => Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
                None => Err(Error::new(ErrorKind::NotFound, path.as_str())),
            };
        }
        Ok(entries)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let Some(loc) = self.inner.locate(path).filter(|l| !l.key.is_empty()) else {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        };
        match S3Read::open(self.inner.clone(), loc.clone(), path.as_str(), offset, len, None) {
            Err(e) if e.kind == ErrorKind::NotFound => match self.inner.dir_exists(&loc) {
                Ok(true) => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
                _ => Err(e),
            },
            other => other.map(|r| Box::new(r) as Box<dyn ReadStream>),
        }
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        let inner = &self.inner;
        if mode != WriteMode::Replace {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "S3 objects cannot be written in place",
            ));
        }
        let Some(loc) = inner.locate(path).filter(|l| !l.key.is_empty()) else {
            return Err(Error::with_detail(
                ErrorKind::PermissionDenied,
                path.as_str(),
                "Files must be stored inside a bucket",
            ));
        };
        let fail = |e| inner.error(e, path.as_str());
        if inner.dir_exists(&loc).map_err(fail)? && inner.head(&loc).map_err(fail)?.is_none() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let parent = parent_loc(&loc);
        if !inner.is_top(&parent) && !parent.key.is_empty() && !inner.dir_exists(&parent).map_err(fail)? {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        Ok(Box::new(upload::S3Write::new(inner.clone(), loc, path.as_str())))
    }

    fn upload_file(&self, path: &VfsPath, file: &std::fs::File, size: u64, mtime: SystemTime) -> Option<Result<()>> {
        let Some(loc) = self.inner.locate(path).filter(|l| !l.key.is_empty()) else {
            return Some(Err(Error::with_detail(
                ErrorKind::PermissionDenied,
                path.as_str(),
                "Files must be stored inside a bucket",
            )));
        };
        Some(upload::upload_file(&self.inner, &loc, file, size, mtime, path.as_str()))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        let inner = &self.inner;
        let Some(loc) = inner.locate(path) else { return Err(Error::new(ErrorKind::AlreadyExists, "/")) };
        let fail = |e| inner.error(e, path.as_str());
        if loc.key.is_empty() {
            // A bucket.
            if inner.stat_loc(&loc, "").map_err(fail)?.is_some() {
                return Err(Error::new(ErrorKind::AlreadyExists, path.as_str()));
            }
            let body = match inner.opts.location_constraint.as_str() {
                "" => String::new(),
                lc => format!(
                    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                    crate::backend::net::xml::escape(lc)
                ),
            };
            let mut req = Request::new("PUT", Some(&loc.bucket), "").body(Body::Bytes(body.as_bytes()));
            if !inner.opts.bucket_acl.is_empty() {
                req = req.header("x-amz-acl", &inner.opts.bucket_acl);
            }
            return inner.send(&req, &[]).map(|_| ()).map_err(fail);
        }
        if inner.stat_loc(&loc, path.name()).map_err(fail)?.is_some() {
            return Err(Error::new(ErrorKind::AlreadyExists, path.as_str()));
        }
        let parent = parent_loc(&loc);
        let parent_ok = inner.is_top(&parent) || inner.stat_loc(&parent, "").map_err(fail)?.is_some_and(|e| e.is_dir());
        if !parent_ok {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        if inner.opts.directory_markers {
            let marker = Loc { bucket: loc.bucket.clone(), key: loc.dir_prefix() };
            let mut req = Request::new("PUT", Some(&marker.bucket), &marker.key).body(Body::Bytes(b""));
            req.headers = inner.object_headers(&marker, SystemTime::now());
            inner.send(&req, &[]).map_err(fail)?;
        } else {
            lock(&inner.virtual_dirs).insert(loc);
        }
        Ok(())
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        let inner = &self.inner;
        let Some(loc) = inner.locate(path).filter(|l| !inner.is_top(l) || l.key.is_empty()) else {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        };
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        let fail = |e| inner.error(e, path.as_str());
        match inner.stat_loc(&loc, path.name()).map_err(fail)? {
            None => return Err(Error::new(ErrorKind::NotFound, path.as_str())),
            Some(e) if !e.is_dir() => return Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
            Some(_) => {}
        }
        let (prefixes, objects) = inner.list_level(&loc.bucket, &loc.dir_prefix(), true, 2).map_err(fail)?;
        let marker_key = loc.dir_prefix();
        let has_children = !prefixes.is_empty() || objects.iter().any(|o| o.key != marker_key);
        let virtual_children = lock(&inner.virtual_dirs).iter().any(|v| {
            v.bucket == loc.bucket && v.key.starts_with(&marker_key) && (loc.key.is_empty() || v.key != loc.key)
        });
        if has_children || virtual_children {
            return Err(Error::new(ErrorKind::NotEmpty, path.as_str()));
        }
        if loc.key.is_empty() {
            inner.send(&Request::new("DELETE", Some(&loc.bucket), ""), &[]).map_err(fail)?;
        } else if objects.iter().any(|o| o.key == marker_key) {
            inner.delete(&Loc { bucket: loc.bucket.clone(), key: marker_key }).map_err(fail)?;
        }
        lock(&inner.virtual_dirs).remove(&loc);
        Ok(())
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let inner = &self.inner;
        let Some(loc) = inner.locate(path).filter(|l| !l.key.is_empty()) else {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        };
        let fail = |e| inner.error(e, path.as_str());
        if inner.head(&loc).map_err(fail)?.is_none() {
            return Err(match inner.dir_exists(&loc).map_err(fail)? {
                true => Error::new(ErrorKind::IsDirectory, path.as_str()),
                false => Error::new(ErrorKind::NotFound, path.as_str()),
            });
        }
        inner.delete(&loc).map_err(fail)?;
        inner.keep_dir(&parent_loc(&loc));
        Ok(())
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let inner = &self.inner;
        let (Some(src), Some(dst)) = (inner.locate(from), inner.locate(to)) else {
            return Err(Error::new(ErrorKind::PermissionDenied, from.as_str()));
        };
        if src.key.is_empty() || dst.key.is_empty() {
            return Err(Error::with_detail(ErrorKind::Unsupported, from.as_str(), "Buckets cannot be renamed"));
        }
        let fail = |e| inner.error(e, from.as_str());
        if let Some(meta) = inner.head(&src).map_err(fail)? {
            if inner.dir_exists(&dst).map_err(fail)? && inner.head(&dst).map_err(fail)?.is_none() {
                return Err(Error::new(ErrorKind::IsDirectory, to.as_str()));
            }
            let parent = parent_loc(&dst);
            if !inner.is_top(&parent) && !parent.key.is_empty() && !inner.dir_exists(&parent).map_err(fail)? {
                return Err(Error::new(ErrorKind::NotFound, to.as_str()));
            }
            inner.move_object(&src, &dst, &meta).map_err(fail)?;
            inner.keep_dir(&parent_loc(&src));
            return Ok(());
        }
        if !inner.dir_exists(&src).map_err(fail)? {
            return Err(Error::new(ErrorKind::NotFound, from.as_str()));
        }
        if inner.stat_loc(&dst, to.name()).map_err(fail)?.is_some() {
            return Err(Error::new(ErrorKind::AlreadyExists, to.as_str()));
        }
        // A directory: every key below it, then the directories made by MKD.
        let (src_prefix, dst_prefix) = (src.dir_prefix(), dst.dir_prefix());
        let (_, objects) = inner.list_level(&src.bucket, &src_prefix, false, 0).map_err(fail)?;
        for o in objects {
            let from_loc = Loc { bucket: src.bucket.clone(), key: o.key.clone() };
            let to_loc = Loc { bucket: dst.bucket.clone(), key: format!("{dst_prefix}{}", &o.key[src_prefix.len()..]) };
            let meta = inner.head(&from_loc).map_err(fail)?;
            if let Some(meta) = meta {
                inner.move_object(&from_loc, &to_loc, &meta).map_err(fail)?;
            }
        }
        let mut dirs = lock(&inner.virtual_dirs);
        let moved: Vec<Loc> = dirs
            .iter()
            .filter(|v| v.bucket == src.bucket && (v.key == src.key || v.key.starts_with(&src_prefix)))
            .cloned()
            .collect();
        for v in moved {
            dirs.remove(&v);
            let rest = &v.key[src.key.len()..];
            dirs.insert(Loc { bucket: dst.bucket.clone(), key: format!("{}{rest}", dst.key) });
        }
        if !inner.opts.directory_markers {
            dirs.insert(dst.clone());
        }
        drop(dirs);
        inner.keep_dir(&parent_loc(&src));
        Ok(())
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let inner = &self.inner;
        let Some(loc) = inner.locate(path).filter(|l| !l.key.is_empty()) else {
            return Err(Error::with_detail(ErrorKind::Unsupported, path.as_str(), "Directories on S3 have no time"));
        };
        let fail = |e| inner.error(e, path.as_str());
        let Some(meta) = inner.head(&loc).map_err(fail)? else {
            return Err(match inner.dir_exists(&loc).map_err(fail)? {
                true => Error::with_detail(ErrorKind::Unsupported, path.as_str(), "Directories on S3 have no time"),
                false => Error::new(ErrorKind::NotFound, path.as_str()),
            });
        };
        if matches!(meta.storage_class.as_deref(), Some("GLACIER" | "DEEP_ARCHIVE")) {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "Archived objects cannot be given a new time",
            ));
        }
        inner.copy(&loc, &loc, &meta, Some(mtime)).map_err(fail)?;
        lock(&inner.mtimes).remove(&loc);
        Ok(())
    }

    fn bytes_read(&self) -> Option<u64> {
        Some(self.inner.bytes_read.load(Ordering::Relaxed))
    }

    fn requests(&self) -> Option<u64> {
        Some(self.requests())
    }
}
