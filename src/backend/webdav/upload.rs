//! Uploads to a WebDAV server, none of which shows half a file under the target's name:
//! - the PUT goes to a temporary name beside the target (`NAME.XXXXXXXX.partial`), moved over
//!   the target once whole (`MOVE`, `Overwrite: T`), unless the vendor's PUT is itself atomic
//!   (ownCloud, Nextcloud and Infinite Scale write a `.part` file and rename it);
//! - a streamed upload (an FTP STOR without the disk cache) is gathered in memory up to 1 MiB
//!   and sent as one PUT with its length if it ends there; a longer one is sent as it arrives,
//!   with chunked transfer encoding where the vendor takes it (`can_stream`: rclone, ownCloud,
//!   Fastmail), else spooled to an unnamed temporary file first and sent with its length (as
//!   rclone does when it cannot stream), and to Nextcloud above `nextcloud_chunk_size` in
//!   chunks ([`super::chunked`]);
//! - a whole local file (the disk cache's write-back) is sent with its length and time.
//!
//! A failed or aborted upload leaves the old file as it was, and deletes its temporary file.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use super::chunked::{random_hex, ChunkedUpload};
use super::{unix_seconds, Found, Inner};
use crate::backend::net::body::Body;
use crate::backend::net::{http, status_error, transport_error};
use crate::backend::{Error, ErrorKind, Result, WriteStream};
use crate::vfs::VfsPath;

/// What a streamed upload gathers before it starts sending.
const GATHER: usize = 1 << 20;

/// Refuses an upload to a directory, or into a directory that does not exist.
///
/// # Errors
/// `IsDirectory`, `NotFound`, or the failure to ask.
pub(super) fn check_target(inner: &Inner, path: &VfsPath) -> Result<()> {
    if path.is_root() {
        return Err(Error::new(ErrorKind::IsDirectory, "/"));
    }
    match inner.find(path)? {
        Found::Item(item) if item.is_dir => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
        Found::Item(_) => Ok(()),
        Found::Missing if path.parent().is_root() => Ok(()),
        Found::Missing => match inner.find(&path.parent())? {
            Found::Item(item) if item.is_dir => Ok(()),
            _ => Err(Error::with_detail(ErrorKind::NotFound, path.as_str(), "The directory does not exist")),
        },
    }
}

/// Where an upload's PUT goes: the target, or a temporary name beside it.
fn put_url(inner: &Inner, path: &VfsPath) -> (String, bool) {
    let target = inner.url(path, false);
    if inner.opts.quirks.atomic_put {
        return (target, false);
    }
    let temp = format!("{target}.{}.partial", &random_hex()[..8]);
    (temp, true)
}

/// Whether `name` is an upload's temporary name (`NAME.XXXXXXXX.partial`, 8 hex digits).
pub(super) fn is_temporary(name: &str) -> bool {
    name.strip_suffix(".partial").and_then(|n| n.rsplit_once('.')).is_some_and(|(stem, tag)| {
        !stem.is_empty() && tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// The headers of a PUT: the time where the vendor takes it.
fn put_headers(inner: &Inner, mtime: SystemTime) -> Vec<(&'static str, String)> {
    let mut extra = vec![("content-type", "application/octet-stream".to_string())];
    if inner.opts.quirks.use_oc_mtime {
        extra.push(("x-oc-mtime", unix_seconds(mtime).to_string()));
    }
    extra
}

/// One PUT whose body can be sent again; a 409 for a file at the top makes the served folder
/// first (rclone makes it on the first write).
fn put(inner: &Inner, url: &str, body: Body<'_>, mtime: SystemTime, path: &VfsPath) -> Result<()> {
    let vpath = path.as_str();
    let extra = put_headers(inner, mtime);
    let mut resp = inner.call("PUT", url, &extra, body, vpath)?;
    if resp.status() == 409 && path.parent().is_root() {
        inner.make_root()?;
        resp = inner.call("PUT", url, &extra, body, vpath)?;
    }
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        409 => Err(Error::with_detail(ErrorKind::NotFound, vpath, "The directory does not exist")),
        status => Err(status_error(status, vpath)),
    }
}

/// Moves a whole temporary upload over the target, or deletes it if that fails.
fn settle(inner: &Inner, temp: &str, path: &VfsPath, mtime: SystemTime) -> Result<()> {
    let moved = inner.r#move(temp, &inner.url(path, false), Some(mtime), path.as_str());
    if moved.is_err() {
        forget(inner, temp, path);
    }
    moved
}

/// Deletes a temporary upload, logging what it could not delete.
fn forget(inner: &Inner, temp: &str, path: &VfsPath) {
    if let Err(e) = inner.delete(temp, path.as_str()) {
        if e.kind != ErrorKind::NotFound {
            log::warn!("webdav: {}: temporary upload {temp} left behind: {e}", path.as_str());
        }
    }
}

/// A whole body (in memory or a file) to the target, by way of a temporary name if needed.
fn put_whole(inner: &Inner, path: &VfsPath, body: Body<'_>, mtime: SystemTime) -> Result<()> {
    let (url, temporary) = put_url(inner, path);
    match put(inner, &url, body, mtime, path) {
        Ok(()) if temporary => settle(inner, &url, path, mtime),
        Ok(()) => Ok(()),
        Err(e) => {
            if temporary {
                forget(inner, &url, path);
            }
            Err(e)
        }
    }
}

/// Whether an upload of `size` bytes goes up in Nextcloud chunks.
fn chunks_for(inner: &Inner, size: u64) -> bool {
    let o = &inner.opts;
    o.quirks.can_chunk && o.chunk_size > 0 && size > o.chunk_size
}

/// Replaces `path` with the whole local `file` of `size` bytes, with `mtime`.
pub(super) fn upload_file(
    inner: &Inner,
    path: &VfsPath,
    file: &std::fs::File,
    size: u64,
    mtime: SystemTime,
) -> Result<()> {
    if !chunks_for(inner, size) {
        return put_whole(inner, path, Body::File { file, offset: 0, len: size }, mtime);
    }
    let mut up = ChunkedUpload::start(inner, inner.url(path, false), path.as_str())?;
    let sent = (|| {
        let mut offset = 0;
        while offset < size {
            let len = inner.opts.chunk_size.min(size - offset);
            up.put(inner, Body::File { file, offset, len })?;
            offset += len;
        }
        up.finish(inner, mtime)
    })();
    if sent.is_err() {
        up.abort(inner);
    }
    sent
}

/// The body of a PUT sent as it arrives: buffers from the writer, each handed back once sent
/// (so the upload reuses a few buffers instead of mapping fresh pages for every one), an error
/// once aborted.
struct Piped {
    from: Receiver<Vec<u8>>,
    back: std::sync::mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    aborted: Arc<AtomicBool>,
}

impl Read for Piped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            match self.from.recv() {
                Ok(next) => {
                    let done = std::mem::replace(&mut self.current, next);
                    if done.capacity() > 0 {
                        let _ = self.back.send(done);
                    }
                    self.pos = 0;
                }
                Err(_) if self.aborted.load(Ordering::Acquire) => {
                    return Err(std::io::Error::other("the upload was aborted"));
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A PUT in flight on its own thread, fed through a channel.
struct Streaming {
    to: Option<SyncSender<Vec<u8>>>,
    /// Buffers the PUT has sent, for the next writes.
    spare: Receiver<Vec<u8>>,
    aborted: Arc<AtomicBool>,
    put: Option<JoinHandle<std::result::Result<u16, String>>>,
    url: String,
    temporary: bool,
}

impl Streaming {
    fn start(inner: &Arc<Inner>, path: &VfsPath, mtime: SystemTime) -> Streaming {
        let (url, temporary) = put_url(inner, path);
        let (to, from) = sync_channel::<Vec<u8>>(4);
        let (back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        let aborted = Arc::new(AtomicBool::new(false));
        let body = Piped { from, back, current: Vec::new(), pos: 0, aborted: aborted.clone() };
        let (inner, target) = (inner.clone(), url.clone());
        let put = std::thread::spawn(move || {
            let mut b = inner.request("PUT", &target);
            for (k, v) in put_headers(&inner, mtime) {
                b = b.header(k, v);
            }
            let request = b.body(ureq::SendBody::from_owned_reader(body)).map_err(|e| e.to_string())?;
            let resp = inner.client.send(request).map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let _ = resp.into_body().with_config().limit(1 << 16).read_to_vec();
            Ok(status)
        });
        Streaming { to: Some(to), spare, aborted, put: Some(put), url, temporary }
    }

    /// Waits for the PUT's answer.
    fn answer(&mut self, vpath: &str) -> Result<()> {
        self.to = None;
        let Some(put) = self.put.take() else { return Err(Error::new(ErrorKind::Other, vpath)) };
        match put.join() {
            Ok(Ok(200..=299)) => Ok(()),
            Ok(Ok(409)) => Err(Error::with_detail(ErrorKind::NotFound, vpath, "The directory does not exist")),
            Ok(Ok(status)) => Err(status_error(status, vpath)),
            Ok(Err(e)) => Err(transport_error(e, vpath)),
            Err(_) => Err(Error::with_detail(ErrorKind::Other, vpath, "The upload thread failed")),
        }
    }

    fn abort(&mut self) {
        self.aborted.store(true, Ordering::Release);
        self.to = None;
        if let Some(put) = self.put.take() {
            let _ = put.join();
        }
    }
}

/// Where a streamed upload's bytes are.
enum State {
    /// In memory, not sent yet.
    Gathering(Vec<u8>),
    /// Being sent.
    Streaming(Streaming),
    /// In an unnamed temporary file, sent at commit.
    Spooled(std::fs::File),
    /// Going up in Nextcloud chunks; the next chunk's bytes so far.
    Chunks(ChunkedUpload, Vec<u8>),
    /// Committed or aborted.
    Done,
}

/// A streamed upload; dropping it without `commit` aborts it.
pub(super) struct WebdavWrite {
    inner: Arc<Inner>,
    path: VfsPath,
    mtime: SystemTime,
    state: State,
    written: u64,
}

/// An unnamed file in the temporary folder (`TMPDIR`), gone when closed.
fn spool_file() -> std::io::Result<std::fs::File> {
    let dir = std::env::temp_dir();
    let unnamed =
        std::fs::OpenOptions::new().read(true).write(true).mode(0o600).custom_flags(libc::O_TMPFILE).open(&dir);
    match unnamed {
        Ok(f) => Ok(f),
        Err(_) => {
            // A file system without O_TMPFILE: a private name, unlinked at once.
            let name = dir.join(format!(".ftpvfs-upload-{}", random_hex()));
            let f = std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&name)?;
            std::fs::remove_file(&name)?;
            Ok(f)
        }
    }
}

impl WebdavWrite {
    pub(super) fn new(inner: Arc<Inner>, path: &VfsPath) -> WebdavWrite {
        WebdavWrite {
            inner,
            path: path.clone(),
            mtime: SystemTime::now(),
            state: State::Gathering(Vec::new()),
            written: 0,
        }
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::from_io(e, self.path.as_str())
    }

    /// Leaves gathering once the bytes outgrow what is gathered.
    fn outgrow(&mut self, gathered: Vec<u8>) -> Result<()> {
        let inner = self.inner.clone();
        let o = &inner.opts;
        if o.quirks.can_chunk && o.chunk_size > 0 {
            let up = ChunkedUpload::start(&inner, inner.url(&self.path, false), self.path.as_str())?;
            self.state = State::Chunks(up, gathered);
            return self.send_chunks();
        }
        if o.quirks.can_stream {
            let mut s = Streaming::start(&inner, &self.path, self.mtime);
            let sent = s.to.as_ref().is_some_and(|to| to.send(gathered).is_ok());
            if !sent {
                let e = s.answer(self.path.as_str()).err();
                return Err(e.unwrap_or_else(|| Error::new(ErrorKind::Other, self.path.as_str())));
            }
            self.state = State::Streaming(s);
            return Ok(());
        }
        let mut file = spool_file().map_err(|e| self.io_error(e))?;
        file.write_all(&gathered).map_err(|e| self.io_error(e))?;
        self.state = State::Spooled(file);
        Ok(())
    }

    /// Sends every full chunk gathered.
    fn send_chunks(&mut self) -> Result<()> {
        let size = usize::try_from(self.inner.opts.chunk_size).unwrap_or(usize::MAX);
        let inner = self.inner.clone();
        if let State::Chunks(up, buf) = &mut self.state {
            while buf.len() >= size && !buf.is_empty() {
                up.put(&inner, Body::Bytes(&buf[..size]))?;
                buf.drain(..size);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let inner = self.inner.clone();
        let path = self.path.clone();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Gathering(buf) => put_whole(&inner, &path, Body::Bytes(&buf), self.mtime),
            State::Streaming(mut s) => match s.answer(path.as_str()) {
                Ok(()) if s.temporary => settle(&inner, &s.url, &path, self.mtime),
                Ok(()) => Ok(()),
                Err(e) => {
                    if s.temporary {
                        forget(&inner, &s.url, &path);
                    }
                    Err(e)
                }
            },
            State::Spooled(mut file) => {
                file.flush().and_then(|()| file.rewind()).map_err(|e| self.io_error(e))?;
                put_whole(&inner, &path, Body::File { file: &file, offset: 0, len: self.written }, self.mtime)
            }
            State::Chunks(mut up, rest) => {
                let sent = (|| {
                    if !rest.is_empty() {
                        up.put(&inner, Body::Bytes(&rest))?;
                    }
                    up.finish(&inner, self.mtime)
                })();
                if sent.is_err() {
                    up.abort(&inner);
                }
                sent
            }
            State::Done => Ok(()),
        }
    }

    fn give_up(&mut self) {
        let inner = self.inner.clone();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Streaming(mut s) => {
                s.abort();
                if s.temporary {
                    forget(&inner, &s.url, &self.path);
                } else {
                    // An atomic PUT that broke off leaves nothing; a server that kept the part
                    // it got keeps the old file's name with it: never the case for the vendors
                    // with atomic PUTs.
                }
            }
            State::Chunks(up, _) => up.abort(&inner),
            _ => {}
        }
    }
}

impl WriteStream for WebdavWrite {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.written += buf.len() as u64;
        match &mut self.state {
            State::Gathering(gathered) => {
                gathered.extend_from_slice(buf);
                let o = &self.inner.opts;
                let limit = if o.quirks.can_chunk && o.chunk_size > 0 {
                    usize::try_from(o.chunk_size).unwrap_or(usize::MAX).max(GATHER)
                } else {
                    GATHER
                };
                if gathered.len() > limit {
                    let gathered = std::mem::take(gathered);
                    self.outgrow(gathered)?;
                }
                Ok(())
            }
            State::Streaming(s) => {
                let mut next = s.spare.try_recv().unwrap_or_default();
                next.clear();
                next.extend_from_slice(buf);
                if s.to.as_ref().is_some_and(|to| to.send(next).is_ok()) {
                    return Ok(());
                }
                // The PUT ended early: its answer says why.
                let e = s.answer(self.path.as_str()).err();
                Err(e.unwrap_or_else(|| {
                    Error::with_detail(ErrorKind::Other, self.path.as_str(), "The server ended the upload early")
                }))
            }
            State::Spooled(file) => file.write_all(buf).map_err(|e| Error::from_io(e, self.path.as_str())),
            State::Chunks(_, gathered) => {
                gathered.extend_from_slice(buf);
                self.send_chunks()
            }
            State::Done => Err(Error::with_detail(ErrorKind::Other, self.path.as_str(), "The upload is over")),
        }
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        self.finish()?;
        Ok(self.written)
    }

    fn abort(mut self: Box<Self>) {
        self.give_up();
    }
}

impl Drop for WebdavWrite {
    fn drop(&mut self) {
        self.give_up();
    }
}

impl Inner {
    /// A request builder with the remote's headers and authentication (for the one request
    /// that is not retried: a PUT sent as it arrives).
    fn request(&self, method: &str, url: &str) -> http::request::Builder {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.builder(method, url)
    }
}
