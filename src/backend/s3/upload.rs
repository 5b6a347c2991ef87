//! Uploads to S3. A streamed upload (an FTP STOR in cache mode off) gathers its first
//! `chunk_size` bytes: a file that ends within them is one PUT with `Content-MD5`; a longer one
//! becomes a multipart upload whose parts go out `upload_concurrency` at a time while the next
//! is filled, so memory stays at `chunk_size x (upload_concurrency + 1)`. With the size unknown
//! the part size doubles every 1,000 parts, so 10,000 parts always reach S3's 5 TiB limit. A
//! whole local file (the disk cache's write-back) is hashed first, then sent as one PUT below
//! `upload_cutoff` or as parts of rclone's computed size with `md5chksum` metadata above it.
//! S3 shows an object only once its PUT or CompleteMultipartUpload succeeds, so a failed or
//! aborted upload leaves the old object as it was; a multipart upload that does not complete
//! is aborted, leaving no parts behind.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use base64::Engine;
use md5::{Digest, Md5};

use super::client::{Body, FileRange, S3Error};
use super::sign::hex;
use super::{Inner, Loc};
use crate::backend::{Error, Result, WriteStream};

/// Parts after which a streamed upload's part size doubles.
const PARTS_PER_SIZE: u32 = 1000;

/// What the parts uploaded so far have given back.
#[derive(Default)]
struct PartResults {
    /// Part number → (ETag, MD5 of the part).
    done: BTreeMap<u32, (String, [u8; 16])>,
    /// The first failure.
    error: Option<S3Error>,
}

/// A multipart upload in progress.
struct Multipart {
    upload_id: String,
    sender: Option<SyncSender<(u32, Vec<u8>)>>,
    workers: Vec<JoinHandle<()>>,
    results: Arc<Mutex<PartResults>>,
    next_number: u32,
    /// Part buffers the uploaders are done with, for the next parts: the upload allocates at
    /// most `upload_concurrency + 1` of them, and never frees one on another thread.
    spare: Receiver<Vec<u8>>,
}

/// A streamed upload; dropping it without `commit` aborts it.
pub(super) struct S3Write {
    inner: Arc<Inner>,
    loc: Loc,
    vpath: String,
    mtime: SystemTime,
    part_size: usize,
    buf: Vec<u8>,
    multipart: Option<Multipart>,
    written: u64,
    finished: bool,
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl S3Write {
    pub(super) fn new(inner: Arc<Inner>, loc: Loc, vpath: &str) -> S3Write {
        let part_size = usize::try_from(inner.opts.chunk_size).unwrap_or(usize::MAX);
        S3Write {
            inner,
            loc,
            vpath: vpath.to_string(),
            mtime: SystemTime::now(),
            part_size,
            buf: Vec::new(),
            multipart: None,
            written: 0,
            finished: false,
        }
    }

    fn fail(&self, e: S3Error) -> Error {
        self.inner.error(e, &self.vpath)
    }

    /// Hands the full buffer to the part uploaders, starting the multipart upload first.
    fn send_part(&mut self) -> Result<()> {
        if self.multipart.is_none() {
            let upload_id = self.inner.create_multipart(&self.loc, self.mtime, None).map_err(|e| self.fail(e))?;
            let (sender, receiver) = sync_channel::<(u32, Vec<u8>)>(0);
            let receiver = Arc::new(Mutex::new(receiver));
            let (spare_tx, spare) = channel::<Vec<u8>>();
            let results = Arc::new(Mutex::new(PartResults::default()));
            let workers = (0..self.inner.opts.upload_concurrency)
                .map(|_| {
                    let (inner, loc, upload_id) = (self.inner.clone(), self.loc.clone(), upload_id.clone());
                    let (receiver, results, spare_tx) = (receiver.clone(), results.clone(), spare_tx.clone());
                    std::thread::spawn(move || loop {
                        let next = receiver.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        let Ok((number, data)) = next else { return };
                        let outcome = inner.upload_part(&loc, &upload_id, number, Body::Bytes(&data), md5_of(&data));
                        let _ = spare_tx.send(data);
                        let mut r = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        match outcome {
                            Ok(done) => {
                                r.done.insert(number, done);
                            }
                            Err(e) => {
                                r.error.get_or_insert(e);
                            }
                        }
                    })
                })
                .collect();
            self.multipart =
                Some(Multipart { upload_id, sender: Some(sender), workers, results, next_number: 1, spare });
        }
        let Some(mp) = self.multipart.as_mut() else { return Ok(()) };
        if let Some(e) = mp.results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).error.clone() {
            return Err(self.inner.error(e, &self.vpath));
        }
        if mp.next_number > self.inner.opts.max_upload_parts as u32 {
            return Err(Error::with_detail(
                crate::backend::ErrorKind::NoSpace,
                self.vpath.clone(),
                "The upload is larger than S3 allows in one object",
            ));
        }
        let number = mp.next_number;
        mp.next_number += 1;
        // The next buffer is taken from the spares only once this one is handed over: taken
        // before, it would be a (`upload_concurrency + 2`)th buffer while the send waits.
        let data = std::mem::take(&mut self.buf);
        if let Some(sender) = &mp.sender {
            if sender.send((number, data)).is_err() {
                return Err(Error::with_detail(
                    crate::backend::ErrorKind::Other,
                    self.vpath.clone(),
                    "The part uploaders stopped",
                ));
            }
        }
        if let Ok(mut spare) = mp.spare.try_recv() {
            spare.clear();
            self.buf = spare;
        }
        if number % PARTS_PER_SIZE == 0 {
            self.part_size = self.part_size.saturating_mul(2).min(5 << 30);
        }
        Ok(())
    }

    /// Waits for every part in flight; returns the parts or the first error.
    fn finish_parts(mp: &mut Multipart) -> std::result::Result<BTreeMap<u32, (String, [u8; 16])>, S3Error> {
        mp.sender = None;
        for w in mp.workers.drain(..) {
            let _ = w.join();
        }
        let mut r = mp.results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match r.error.take() {
            Some(e) => Err(e),
            None => Ok(std::mem::take(&mut r.done)),
        }
    }

    fn abort_multipart(&mut self) {
        if let Some(mut mp) = self.multipart.take() {
            let _ = Self::finish_parts(&mut mp);
            self.inner.abort_multipart(&self.loc, &mp.upload_id);
        }
    }
}

impl WriteStream for S3Write {
    fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let room = self.part_size - self.buf.len();
            let n = room.min(data.len());
            if self.buf.len() + n > self.buf.capacity() {
                // A small file keeps a small buffer; past 256 KiB the buffer is one part, exactly
                // (doubling would overshoot the memory bound).
                let first = self.buf.capacity() == 0 && self.buf.len() + n <= 256 << 10;
                let want = if first { 256 << 10 } else { self.part_size };
                self.buf.reserve_exact(want.min(self.part_size) - self.buf.len());
            }
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            self.written += n as u64;
            if self.buf.len() == self.part_size {
                self.send_part()?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        self.finished = true;
        let result = if self.multipart.is_none() {
            let data = std::mem::take(&mut self.buf);
            self.inner.put_object(&self.loc, Body::Bytes(&data), self.mtime, md5_of(&data), false)
        } else {
            let last = !self.buf.is_empty();
            let sent = if last { self.send_part() } else { Ok(()) };
            if let Err(e) = sent {
                self.abort_multipart();
                return Err(e);
            }
            let Some(mut mp) = self.multipart.take() else { return Ok(self.written) };
            match Self::finish_parts(&mut mp)
                .and_then(|parts| self.inner.complete_multipart(&self.loc, &mp.upload_id, &parts, true))
            {
                Ok(()) => Ok(()),
                Err(e) => {
                    self.inner.abort_multipart(&self.loc, &mp.upload_id);
                    Err(e)
                }
            }
        };
        result.map_err(|e| self.fail(e))?;
        self.inner.after_upload(&self.loc, self.written, self.mtime, &self.vpath)?;
        Ok(self.written)
    }

    fn abort(mut self: Box<Self>) {
        self.finished = true;
        self.abort_multipart();
    }
}

impl Drop for S3Write {
    fn drop(&mut self) {
        if !self.finished {
            self.abort_multipart();
        }
    }
}

/// Uploads a whole local file of `size` bytes with its modification time.
pub(super) fn upload_file(
    inner: &Arc<Inner>,
    loc: &Loc,
    file: &std::fs::File,
    size: u64,
    mtime: SystemTime,
    vpath: &str,
) -> Result<()> {
    let io = |e: std::io::Error| Error::from_io(e, vpath);
    let md5 = if inner.opts.disable_checksum { None } else { Some(md5_file(file, size).map_err(io)?) };
    if size < inner.opts.upload_cutoff {
        let body = Body::File { file, offset: 0, len: size };
        inner
            .put_object(loc, body, mtime, md5.unwrap_or_default(), inner.opts.disable_checksum)
            .map_err(|e| inner.error(e, vpath))?;
    } else {
        let part = inner.opts.part_size(Some(size));
        let upload_id = inner.create_multipart(loc, mtime, md5).map_err(|e| inner.error(e, vpath))?;
        let count = size.div_ceil(part).max(1);
        let next = Mutex::new(1u64);
        let results = Mutex::new(PartResults::default());
        std::thread::scope(|s| {
            for _ in 0..inner.opts.upload_concurrency.min(count as usize) {
                s.spawn(|| loop {
                    let number = {
                        let mut n = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let failed = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).error.is_some();
                        if *n > count || failed {
                            return;
                        }
                        *n += 1;
                        *n - 1
                    };
                    let offset = (number - 1) * part;
                    let len = part.min(size - offset);
                    let outcome = read_range(file, offset, len)
                        .map_err(|e| S3Error::Transport(format!("reading the cached file: {e}")))
                        .and_then(|data| {
                            inner.upload_part(loc, &upload_id, number as u32, Body::Bytes(&data), md5_of(&data))
                        });
                    let mut r = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match outcome {
                        Ok(done) => {
                            r.done.insert(number as u32, done);
                        }
                        Err(e) => {
                            r.error.get_or_insert(e);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let completed = match results.error {
            Some(e) => Err(e),
            None => inner.complete_multipart(loc, &upload_id, &results.done, true),
        };
        if let Err(e) = completed {
            inner.abort_multipart(loc, &upload_id);
            return Err(inner.error(e, vpath));
        }
    }
    inner.after_upload(loc, size, mtime, vpath)
}

fn read_range(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    FileRange::new(file, offset, len).read_to_end(&mut data)?;
    Ok(data)
}

fn md5_file(file: &std::fs::File, size: u64) -> std::io::Result<[u8; 16]> {
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut r = FileRange::new(file, 0, size);
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// The `Content-MD5` header value.
pub(super) fn content_md5(md5: [u8; 16]) -> String {
    b64(&md5)
}

/// The ETag S3 gives a multipart upload: hex MD5 of the parts' MD5s, a dash, the part count.
pub(super) fn multipart_etag(parts: &BTreeMap<u32, (String, [u8; 16])>) -> String {
    let mut all = Vec::with_capacity(parts.len() * 16);
    for (_, md5) in parts.values() {
        all.extend_from_slice(md5);
    }
    format!("{}-{}", hex(&md5_of(&all)), parts.len())
}

/// The `md5chksum` metadata value: base64 of the whole file's MD5.
pub(super) fn md5chksum(md5: [u8; 16]) -> String {
    b64(&md5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_checksums_as_s3_and_rclone_compute_them() {
        assert_eq!(content_md5(md5_of(b"")), "1B2M2Y8AsgTpgAmY7PhCfg==");
        let mut parts = BTreeMap::new();
        parts.insert(1, (String::new(), md5_of(b"a")));
        parts.insert(2, (String::new(), md5_of(b"b")));
        let mut joined = md5_of(b"a").to_vec();
        joined.extend_from_slice(&md5_of(b"b"));
        assert_eq!(multipart_etag(&parts), format!("{}-2", hex(&md5_of(&joined))));
    }
}
