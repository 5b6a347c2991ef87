//! `RangedRead`: a file read as a ranged GET, reopened from where it broke off (up to
//! `--low-level-retries` times), and refused rather than mixed when the file changed between
//! two requests (its `ETag`, else its `Last-Modified`, differs). A server that ignores `Range`
//! and sends the whole file has the bytes before the offset skipped. Shared by the http and
//! webdav remotes, which differ only in how they send the GET ([`RangeSource`]).

use std::io::Read as _;

use super::{body_from, http, retry, status_error};
use crate::backend::{Error, ErrorKind, ReadStream, Result};

/// How a remote sends the GETs of one read.
pub trait RangeSource: Send {
    /// Sends a GET of the file, with `range` as its `Range` header when given, retried as the
    /// remote retries requests.
    ///
    /// # Errors
    /// The connection failed every time.
    fn get(&self, range: Option<String>) -> Result<http::Response<ureq::Body>>;
    /// `--low-level-retries`: how often a broken answer is reopened.
    fn tries(&self) -> u32;
}

/// A read of one file.
pub struct RangedRead {
    source: Box<dyn RangeSource>,
    vpath: String,
    pos: u64,
    /// One past the last byte wanted, if bounded.
    end: Option<u64>,
    body: Option<ureq::BodyReader<'static>>,
    /// Where the open answer's body ends, from its length.
    body_end: Option<u64>,
    /// The first answer's `ETag` or `Last-Modified`.
    validator: Option<String>,
}

impl RangedRead {
    /// Opens the file at `vpath` from `offset`, for `len` bytes or to the end.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, or the failure after the retries.
    pub fn open(source: Box<dyn RangeSource>, vpath: &str, offset: u64, len: Option<u64>) -> Result<RangedRead> {
        let mut r = RangedRead {
            source,
            vpath: vpath.to_string(),
            pos: offset,
            end: len.map(|l| offset.saturating_add(l)),
            body: None,
            body_end: None,
            validator: None,
        };
        r.request()?;
        Ok(r)
    }

    /// Starts the GET from `pos`.
    fn request(&mut self) -> Result<()> {
        if self.end.is_some_and(|e| self.pos >= e) {
            return Ok(());
        }
        let range = match (self.pos, self.end) {
            (pos, Some(end)) => Some(format!("bytes={pos}-{}", end - 1)),
            (0, None) => None,
            (pos, None) => Some(format!("bytes={pos}-")),
        };
        let resp = self.source.get(range)?;
        let status = resp.status().as_u16();
        if status == 416 {
            self.end = Some(self.pos);
            return Ok(());
        }
        if !(200..300).contains(&status) {
            return Err(status_error(status, &self.vpath));
        }
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let validator = header("etag").or_else(|| header("last-modified"));
        match (&self.validator, validator) {
            (None, v) => self.validator = v,
            (Some(old), Some(new)) if *old != new => {
                // Reopened after a break, and the file is another one now: never mix versions.
                return Err(Error::with_detail(
                    ErrorKind::Transient,
                    self.vpath.clone(),
                    "The file changed while being read",
                ));
            }
            _ => {}
        }
        let (parts, body) = resp.into_parts();
        let (body, body_end) = body_from(status, &parts.headers, body, self.pos, &self.vpath)?;
        self.body_end = body_end;
        self.body = Some(body);
        Ok(())
    }

    /// After a break: another try from `pos`, or the error once the tries are used up.
    fn reopen(&mut self, tries: u32, cause: &str) -> Result<()> {
        self.body = None;
        if tries >= self.source.tries().max(1) {
            log::warn!("reading {} at {}: {cause}; giving up", self.vpath, self.pos);
            return Err(Error::with_detail(
                ErrorKind::Transient,
                self.vpath.clone(),
                "The server's answer kept breaking off",
            ));
        }
        log::info!("reading {} at {}: {cause}; reopening", self.vpath, self.pos);
        std::thread::sleep(retry::backoff(tries));
        self.request()
    }
}

impl ReadStream for RangedRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut tries = 0;
        loop {
            let Some(body) = self.body.as_mut() else { return Ok(0) };
            let want = match self.end {
                Some(end) => buf.len().min(usize::try_from(end - self.pos).unwrap_or(usize::MAX)),
                None => buf.len(),
            };
            match body.read(&mut buf[..want]) {
                Ok(0) if want > 0 && self.body_end.is_some_and(|e| self.pos < e) => {
                    tries += 1;
                    self.reopen(tries, "the answer broke off")?;
                }
                Ok(n) => {
                    self.pos += n as u64;
                    if n == 0 || self.end.is_some_and(|e| self.pos >= e) {
                        self.body = None;
                    }
                    return Ok(n);
                }
                Err(e) => {
                    tries += 1;
                    self.reopen(tries, &e.to_string())?;
                }
            }
        }
    }
}
