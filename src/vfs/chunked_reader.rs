//! `ChunkedReader`: reads a file as a series of ranged requests, as rclone's chunked reader
//! does, so a remote that bills or limits by requested range is never asked for more than is
//! read. The first request is `--vfs-read-chunk-size` bytes; each next one doubles, up to
//! `--vfs-read-chunk-size-limit` (unlimited when `off`; a limit below the chunk size means fixed
//! chunks). A chunk size of `off` (or 0) makes one open-ended request.

use std::sync::Arc;

use crate::backend::{Backend, Error, ErrorKind, ReadStream, Result};
use crate::vfs::VfsPath;

/// Chunk sizes for the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPolicy {
    /// First request size; `None` (off) or 0 means one open-ended request.
    pub initial: Option<u64>,
    /// Largest request; `None` means keep doubling.
    pub limit: Option<u64>,
}

impl ChunkPolicy {
    /// The size of the request after one of `size` bytes.
    fn next(self, size: u64) -> u64 {
        match self.limit {
            Some(limit) if limit <= self.initial.unwrap_or(0) => size,
            Some(limit) => size.saturating_mul(2).min(limit),
            None => size.saturating_mul(2),
        }
    }
}

/// A sequential reader over ranged backend requests.
pub struct ChunkedReader {
    backend: Arc<dyn Backend>,
    path: VfsPath,
    policy: ChunkPolicy,
    /// Where the next byte comes from.
    pos: u64,
    /// The file's size when opened: no request starts at or past it.
    size: u64,
    /// The open request and the bytes it still owes.
    current: Option<(Box<dyn ReadStream>, u64)>,
    /// The size of the next request.
    next_size: u64,
}

impl ChunkedReader {
    /// A reader of `path` (of `size` bytes) from `offset`; the first request is made at once,
    /// so a missing file fails here.
    ///
    /// # Errors
    /// As [`Backend::open_read`].
    pub fn open(
        backend: Arc<dyn Backend>,
        path: VfsPath,
        offset: u64,
        size: u64,
        policy: ChunkPolicy,
    ) -> Result<ChunkedReader> {
        let mut r = ChunkedReader {
            backend,
            path,
            policy,
            pos: offset,
            size,
            current: None,
            next_size: policy.initial.unwrap_or(0),
        };
        r.open_next()?;
        Ok(r)
    }

    fn open_next(&mut self) -> Result<()> {
        let len = match self.policy.initial {
            None | Some(0) => None,
            Some(_) => {
                let len = self.next_size;
                self.next_size = self.policy.next(len);
                Some(len)
            }
        };
        let stream = self.backend.open_read(&self.path, self.pos, len)?;
        self.current = Some((stream, len.unwrap_or(u64::MAX)));
        Ok(())
    }
}

impl ReadStream for ChunkedReader {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.current.is_none() {
            if self.pos >= self.size {
                return Ok(0);
            }
            self.open_next()?;
        }
        let Some((stream, owed)) = self.current.as_mut() else { return Ok(0) };
        let want = buf.len().min(usize::try_from(*owed).unwrap_or(usize::MAX));
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            // This request ended before its range did: the file is shorter than it was when
            // opened. Sending what there is as complete would hide that.
            self.current = None;
            if self.pos < self.size {
                return Err(Error::with_detail(
                    ErrorKind::Transient,
                    self.path.as_str(),
                    "The file changed while being read (it ended early)",
                ));
            }
            return Ok(0);
        }
        *owed -= n as u64;
        self.pos += n as u64;
        if *owed == 0 {
            self.current = None;
        }
        Ok(n)
    }

    fn sendfile_source(&self) -> Option<(std::os::fd::BorrowedFd<'_>, u64)> {
        self.current.as_ref().and_then(|(s, _)| s.sendfile_source())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::backend::memory::MemoryBackend;
    use crate::backend::{Entry, Features, WriteMode, WriteStream};

    /// Records every ranged request.
    struct Recording {
        inner: MemoryBackend,
        requests: Mutex<Vec<(u64, Option<u64>)>>,
    }

    impl Backend for Recording {
        fn features(&self) -> Features {
            self.inner.features()
        }
        fn stat(&self, p: &VfsPath) -> Result<Entry> {
            self.inner.stat(p)
        }
        fn list(&self, p: &VfsPath) -> Result<Vec<Entry>> {
            self.inner.list(p)
        }
        fn open_read(&self, p: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
            self.requests.lock().unwrap().push((offset, len));
            self.inner.open_read(p, offset, len)
        }
        fn open_write(&self, p: &VfsPath, m: WriteMode) -> Result<Box<dyn WriteStream>> {
            self.inner.open_write(p, m)
        }
        fn mkdir(&self, p: &VfsPath) -> Result<()> {
            self.inner.mkdir(p)
        }
        fn rmdir(&self, p: &VfsPath) -> Result<()> {
            self.inner.rmdir(p)
        }
        fn remove(&self, p: &VfsPath) -> Result<()> {
            self.inner.remove(p)
        }
        fn rename(&self, a: &VfsPath, b: &VfsPath) -> Result<()> {
            self.inner.rename(a, b)
        }
        fn set_modtime(&self, p: &VfsPath, t: std::time::SystemTime) -> Result<()> {
            self.inner.set_modtime(p, t)
        }
    }

    fn read_all(initial: Option<u64>, limit: Option<u64>, offset: u64) -> (Vec<u8>, Vec<(u64, Option<u64>)>) {
        let b = Arc::new(Recording { inner: MemoryBackend::new(), requests: Mutex::new(Vec::new()) });
        let path = VfsPath::root().resolve("f").unwrap();
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut w = b.open_write(&path, WriteMode::Replace).unwrap();
        w.write_all(&data).unwrap();
        w.commit().unwrap();
        let mut r = ChunkedReader::open(b.clone(), path, offset, 1000, ChunkPolicy { initial, limit }).unwrap();
        let (mut out, mut buf) = (Vec::new(), [0u8; 64]);
        loop {
            match r.read(&mut buf).unwrap() {
                0 => break,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(out, data[offset as usize..]);
        let requests = b.requests.lock().unwrap().clone();
        (out, requests)
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error_not_a_short_success() {
        let b = Arc::new(MemoryBackend::new());
        let path = VfsPath::root().resolve("f").unwrap();
        let mut w = b.open_write(&path, WriteMode::Replace).unwrap();
        w.write_all(&[7u8; 500]).unwrap();
        w.commit().unwrap();
        // Opened believing it holds 1000 bytes: 500 arrive, then an error.
        let mut r = ChunkedReader::open(b, path, 0, 1000, ChunkPolicy { initial: Some(300), limit: None }).unwrap();
        let mut buf = [0u8; 1000];
        let mut got = 0;
        let err = loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("a short file ended as if complete after {got} bytes"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!((got, err.kind), (500, ErrorKind::Transient));
    }

    #[test]
    fn chunks_double_up_to_the_limit() {
        let (_, req) = read_all(Some(100), Some(300), 0);
        assert_eq!(req, vec![(0, Some(100)), (100, Some(200)), (300, Some(300)), (600, Some(300)), (900, Some(300))]);
    }

    #[test]
    fn unlimited_doubling_fixed_chunks_and_one_request() {
        let (_, req) = read_all(Some(100), None, 0);
        assert_eq!(req, vec![(0, Some(100)), (100, Some(200)), (300, Some(400)), (700, Some(800))]);
        let (_, req) = read_all(Some(400), Some(0), 0);
        assert_eq!(req, vec![(0, Some(400)), (400, Some(400)), (800, Some(400))], "a limit below the size fixes it");
        let (_, req) = read_all(None, None, 250);
        assert_eq!(req, vec![(250, None)], "off: one open-ended request");
    }
}
