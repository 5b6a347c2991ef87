//! Nextcloud's chunked upload (version 2 of its documented protocol): `MKCOL` of an upload
//! folder below `…/dav/uploads/USER/` with the target as `Destination`, a `PUT` of each chunk
//! (`00001`, `00002`, …, each with `Destination`), then a `MOVE` of the folder's `.file` onto
//! the target with `OC-Total-Length` and `X-OC-Mtime`, which Nextcloud turns into the file at
//! once. Until that MOVE the old file stays as it was; an upload that fails or is aborted has
//! its folder deleted. While Nextcloud is still merging, it answers 423 (Locked); the MOVE is
//! then tried again after a growing pause, and a 404 after a 423 means the merge is done (as
//! rclone reads it).

use std::time::{Duration, SystemTime};

use super::{unix_seconds, Inner};
use crate::backend::net::body::Body;
use crate::backend::net::status_error;
use crate::backend::{Error, ErrorKind, Result};

/// Chunk numbers Nextcloud accepts (1 to 10,000).
pub const MAX_CHUNKS: u32 = 10_000;

/// One chunked upload in progress.
pub struct ChunkedUpload {
    /// The upload folder's URL, ending in `/`.
    folder: String,
    /// The target file's URL.
    destination: String,
    /// The last chunk number sent.
    sent: u32,
    /// Bytes sent so far.
    pub total: u64,
    vpath: String,
}

/// A random name (for an upload folder, or a temporary file), so two uploads of one file never
/// share it.
pub(super) fn random_hex() -> String {
    crate::tls::new_session_token().iter().map(|b| format!("{b:02x}")).collect()
}

impl ChunkedUpload {
    /// Starts an upload to `destination` (a file URL of the remote) by making its folder.
    ///
    /// # Errors
    /// The folder could not be made.
    pub(super) fn start(inner: &Inner, destination: String, vpath: &str) -> Result<ChunkedUpload> {
        let Some(base) = inner.opts.chunks_url() else {
            return Err(Error::with_detail(ErrorKind::Other, vpath, "No Nextcloud upload URL (see url)"));
        };
        let folder = format!("{}ftpvfs-chunked-upload-{}/", base.text(), random_hex());
        let extra = [("destination", destination.clone())];
        let resp = inner.call("MKCOL", &folder, &extra, Body::Empty, vpath)?;
        if !resp.status().is_success() {
            return Err(status_error(resp.status().as_u16(), vpath));
        }
        Ok(ChunkedUpload { folder, destination, sent: 0, total: 0, vpath: vpath.to_string() })
    }

    /// Sends the next chunk (retried as every request is: the body is in memory or a file).
    ///
    /// # Errors
    /// The chunk was refused, or more than [`MAX_CHUNKS`] were sent.
    pub(super) fn put(&mut self, inner: &Inner, body: Body<'_>) -> Result<()> {
        if self.sent >= MAX_CHUNKS {
            return Err(Error::with_detail(
                ErrorKind::NoSpace,
                self.vpath.clone(),
                "The file needs more than 10,000 chunks: raise nextcloud_chunk_size",
            ));
        }
        self.sent += 1;
        let url = format!("{}{:05}", self.folder, self.sent);
        let extra = [("destination", self.destination.clone())];
        let resp = inner.call("PUT", &url, &extra, body, &self.vpath)?;
        if !resp.status().is_success() {
            return Err(status_error(resp.status().as_u16(), &self.vpath));
        }
        self.total += body.len();
        Ok(())
    }

    /// Assembles the chunks into the target, with `mtime`.
    ///
    /// # Errors
    /// Nextcloud refused the assembly (the folder is then deleted by [`abort`](Self::abort)).
    pub(super) fn finish(&self, inner: &Inner, mtime: SystemTime) -> Result<()> {
        let mut extra = vec![
            ("destination", self.destination.clone()),
            ("overwrite", "T".to_string()),
            ("oc-total-length", self.total.to_string()),
        ];
        if inner.opts.quirks.use_oc_mtime {
            extra.push(("x-oc-mtime", unix_seconds(mtime).to_string()));
        }
        let url = format!("{}.file", self.folder);
        let mut pause = Duration::from_secs(1);
        let mut was_locked = false;
        for _ in 0..inner.opts.net.low_level_retries.max(1) {
            let resp = inner.call("MOVE", &url, &extra, Body::Empty, &self.vpath)?;
            match resp.status().as_u16() {
                200..=299 => return Ok(()),
                404 if was_locked => return Ok(()),
                423 => {
                    was_locked = true;
                    log::info!("webdav: {}: chunks still being merged (423); waiting {pause:?}", self.vpath);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
                status => return Err(status_error(status, &self.vpath)),
            }
        }
        Err(Error::with_detail(ErrorKind::Transient, self.vpath.clone(), "Nextcloud kept merging the chunks"))
    }

    /// Deletes the upload folder and the chunks in it.
    pub(super) fn abort(&self, inner: &Inner) {
        match inner.call("DELETE", &self.folder, &[], Body::Empty, &self.vpath) {
            Ok(resp) if resp.status().is_success() || resp.status() == 404 => {}
            Ok(resp) => log::warn!("webdav: {}: upload folder left behind: HTTP {}", self.vpath, resp.status()),
            Err(e) => log::warn!("webdav: {}: upload folder left behind: {e}", self.vpath),
        }
    }
}
