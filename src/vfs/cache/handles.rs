//! Open files on the cache: `CachedWriter` (STOR, APPE, REST+STOR in modes writes and full)
//! and `CachedReader` (full mode, and dirty items in every mode).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::backend::{Entry, Error, ErrorKind, ReadStream, Result, WriteMode, WriteStream};
use crate::vfs::cache::{meta, Cache, Item};
use crate::vfs::VfsPath;

/// Bytes fetched from the remote per request at least (and what one read moves).
const FETCH_STEP: u64 = 256 * 1024;

fn io_err(path: &VfsPath) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::from_io(e, path.as_str())
}

impl Cache {
    /// Opens `path` for writing through the cache. `remote` is the file's current entry (the
    /// remote's, or the cache's own for a dirty file), `None` for a new file.
    ///
    /// # Errors
    /// The cache file cannot be made, the existing content cannot be fetched, or an offset is
    /// past the end.
    pub fn open_write(
        self: &Arc<Self>,
        path: &VfsPath,
        mode: WriteMode,
        remote: Option<&Entry>,
    ) -> Result<Box<dyn WriteStream>> {
        let (size, mtime) = remote.map_or((0, SystemTime::now()), |e| (e.size, e.mtime));
        let item = self.open_item(path, size, mtime);
        let opened = self.start_write(path, &item, mode, remote);
        if opened.is_err() {
            self.release(path, &item);
        }
        opened
    }

    fn start_write(
        self: &Arc<Self>,
        path: &VfsPath,
        item: &Arc<Item>,
        mode: WriteMode,
        remote: Option<&Entry>,
    ) -> Result<Box<dyn WriteStream>> {
        let temp = self.temp_path(path);
        if let Some(dir) = temp.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(path))?;
        }
        let keep_old = !matches!(mode, WriteMode::Replace) && remote.is_some();
        let old_size = if keep_old {
            // Rewrites keep the rest of the file: the whole current version must be here.
            let size = self.fill_whole(path, item, remote)?;
            std::fs::copy(self.data_path(path), &temp).map_err(io_err(path))?;
            size
        } else {
            File::create(&temp).map_err(io_err(path))?;
            0
        };
        let pos = match mode {
            WriteMode::Replace => 0,
            WriteMode::Append => old_size,
            WriteMode::At(offset) if offset > old_size => {
                let _ = std::fs::remove_file(&temp);
                return Err(Error::with_detail(
                    ErrorKind::Unsupported,
                    path.as_str(),
                    "Restart offset is beyond the end of the file",
                ));
            }
            WriteMode::At(offset) => offset,
        };
        let file = std::fs::OpenOptions::new().write(true).open(&temp).map_err(io_err(path))?;
        Ok(Box::new(CachedWriter {
            cache: self.clone(),
            item: item.clone(),
            path: path.clone(),
            temp,
            file: Some(file),
            pos,
            end: old_size,
            keep_on_abort: !matches!(mode, WriteMode::Replace),
            splice_refused: false,
        }))
    }

    /// Makes sure the item's data file holds the whole current version; returns its size.
    fn fill_whole(self: &Arc<Self>, path: &VfsPath, item: &Arc<Item>, remote: Option<&Entry>) -> Result<u64> {
        let (size, complete, dirty) = {
            let st = item.lock();
            (st.meta.size, st.meta.ranges.contains(0, st.meta.size), st.meta.dirty)
        };
        if dirty || complete && self.data_path(path).is_file() {
            return Ok(size);
        }
        let size = remote.map_or(size, |e| e.size);
        self.reset_item(path, item, remote)?;
        let mut reader = CachedReader::on(self, item, path, 0, size, false)?;
        reader.ensure(0, size)?;
        Ok(size)
    }

    /// Empties the item and sizes it like the remote file (its content is stale or unknown).
    fn reset_item(&self, path: &VfsPath, item: &Item, remote: Option<&Entry>) -> Result<()> {
        let data = self.data_path(path);
        if let Some(dir) = data.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(path))?;
        }
        let mut st = item.lock();
        let (size, mtime) = remote.map_or((st.meta.size, st.meta.mtime), |e| (e.size, e.mtime));
        // A new file, not a truncation of the old one: readers of the old keep their version.
        let fresh = self.temp_path(path);
        let f = File::create(&fresh).map_err(io_err(path))?;
        f.set_len(size).map_err(io_err(path))?;
        crate::backend::free_later::rename_over(&fresh, &data).map_err(io_err(path))?;
        st.meta.size = size;
        st.meta.mtime = mtime;
        st.meta.ranges = super::ranges::RangeSet::new();
        st.meta.fingerprint = meta::fingerprint(size, mtime);
        st.generation += 1;
        Ok(())
    }

    /// Opens `path` for reading through the cache when the cache should serve it: a file with
    /// local changes (every mode), or any file in full mode. `None`: read the remote directly.
    ///
    /// # Errors
    /// The cache file cannot be prepared.
    pub fn open_read(
        self: &Arc<Self>,
        path: &VfsPath,
        offset: u64,
        entry: &Entry,
    ) -> Option<Result<Box<dyn ReadStream>>> {
        let local = self.local_entry(path).is_some();
        if !local && self.opts.mode != super::CacheMode::Full {
            return None;
        }
        let item = self.open_item(path, entry.size, entry.mtime);
        let prepared = (|| {
            if !local {
                let (fp, present) = {
                    let st = item.lock();
                    (st.meta.fingerprint.clone(), self.data_path(path).is_file())
                };
                if fp != meta::fingerprint(entry.size, entry.mtime) || !present {
                    if !fp.is_empty() {
                        log::debug!("vfs cache: {path} changed on the remote: fetching it afresh");
                    }
                    self.reset_item(path, &item, Some(entry))?;
                }
            }
            let size = item.lock().meta.size;
            CachedReader::on(self, &item, path, offset, size, true).map(|r| Box::new(r) as Box<dyn ReadStream>)
        })();
        if prepared.is_err() {
            self.release(path, &item);
        }
        Some(prepared)
    }
}

/// A write to a new version of the item, made current on commit.
struct CachedWriter {
    cache: Arc<Cache>,
    item: Arc<Item>,
    path: VfsPath,
    temp: std::path::PathBuf,
    file: Option<File>,
    pos: u64,
    /// The size of the new version so far.
    end: u64,
    /// REST+STOR and APPE keep what was written when aborted (the client resumes); a
    /// replacing STOR leaves the old version.
    keep_on_abort: bool,
    /// The cache's file system refused a splice: uploads write from memory.
    splice_refused: bool,
}

impl CachedWriter {
    fn finish(&mut self) -> Result<u64> {
        let Some(file) = self.file.take() else { return Err(Error::new(ErrorKind::Other, self.path.as_str())) };
        file.sync_data().map_err(io_err(&self.path))?;
        drop(file);
        let data = self.cache.data_path(&self.path);
        let mut st = self.item.lock();
        crate::backend::free_later::rename_over(&self.temp, &data).map_err(io_err(&self.path))?;
        st.meta.size = self.end;
        st.meta.ranges = super::ranges::RangeSet::from_pairs([(0, self.end)]);
        st.meta.mtime = SystemTime::now();
        st.meta.dirty = true;
        st.removed = false;
        st.generation += 1;
        let meta = st.meta.clone();
        drop(st);
        self.cache.save_meta(&self.path, &meta);
        let wb = self.cache.opts.write_back;
        self.cache.enqueue(&self.path, Instant::now() + wb, wb);
        self.cache.dirs.forget_dir(&self.path.parent());
        Ok(self.end)
    }
}

impl WriteStream for CachedWriter {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_ref() else { return Err(Error::new(ErrorKind::Other, self.path.as_str())) };
        file.write_all_at(buf, self.pos).map_err(io_err(&self.path))?;
        self.pos += buf.len() as u64;
        self.end = self.end.max(self.pos);
        Ok(())
    }

    fn takes_splice(&self) -> bool {
        !self.splice_refused
    }

    fn write_from_pipe(&mut self, pipe: std::os::fd::BorrowedFd<'_>, len: usize) -> Result<()> {
        let Some(file) = self.file.as_ref() else { return Err(Error::new(ErrorKind::Other, self.path.as_str())) };
        let moved = crate::backend::from_pipe::write_from_pipe(pipe, file, Some(&mut self.pos), len)
            .map_err(io_err(&self.path))?;
        self.splice_refused = moved == crate::backend::from_pipe::Moved::ThroughMemory;
        self.end = self.end.max(self.pos);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        self.finish()
    }

    fn abort(mut self: Box<Self>) {
        if self.keep_on_abort {
            if let Err(e) = self.finish() {
                log::warn!("vfs cache: keeping the partial write of {}: {e}", self.path);
            }
        }
    }
}

impl Drop for CachedWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
        self.cache.release(&self.path, &self.item);
    }
}

/// A reader of the item's data file that fetches missing ranges from the remote first.
pub struct CachedReader {
    cache: Arc<Cache>,
    item: Arc<Item>,
    path: VfsPath,
    file: File,
    pos: u64,
    size: u64,
    /// An open remote stream and the position it is at, reused while reads are sequential.
    fetch: Option<(Box<dyn ReadStream>, u64)>,
    /// This reader holds an open count of the item, released on drop.
    owns_open: bool,
    /// The item's version when opened; a write committed since made the item describe
    /// another file than the one this reader has open.
    generation: u64,
    /// The whole file was present when opened: nothing is ever fetched.
    complete: bool,
    /// After the item changed under a partial read: the rest comes straight from the remote.
    direct: Option<Box<dyn ReadStream>>,
}

impl CachedReader {
    /// A reader of `path` from `offset` (the item is already counted as open; `owns_open`:
    /// this reader releases that count when dropped).
    fn on(
        cache: &Arc<Cache>,
        item: &Arc<Item>,
        path: &VfsPath,
        offset: u64,
        size: u64,
        owns_open: bool,
    ) -> Result<CachedReader> {
        let file =
            std::fs::OpenOptions::new().read(true).write(true).open(cache.data_path(path)).map_err(io_err(path))?;
        let (generation, complete) = {
            let st = item.lock();
            (st.generation, st.meta.ranges.contains(0, size))
        };
        Ok(CachedReader {
            cache: cache.clone(),
            item: item.clone(),
            path: path.clone(),
            file,
            pos: offset.min(size),
            size,
            fetch: None,
            owns_open,
            generation,
            complete,
            direct: None,
        })
    }

    /// Fetches whatever of `[start, end)` is missing, plus `--vfs-read-ahead`.
    fn ensure(&mut self, start: u64, end: u64) -> Result<()> {
        loop {
            let missing = self.item.lock().meta.ranges.first_missing(start, end);
            let Some((from, to)) = missing else { return Ok(()) };
            let item = self.item.clone();
            let _one_download = item.download.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Another reader may have fetched it while we waited.
            let Some((from, to)) = self.item.lock().meta.ranges.first_missing(from, to) else { continue };
            let ahead = self.cache.opts.read_ahead;
            let until = to.saturating_add(ahead).max(from + FETCH_STEP).min(self.size);
            self.fetch_range(from, until)?;
        }
    }

    fn fetch_range(&mut self, from: u64, until: u64) -> Result<()> {
        let mut stream = match self.fetch.take() {
            Some((s, at)) if at == from => s,
            _ => self.cache.backend.open_read(&self.path, from, Some(self.size - from))?,
        };
        let mut buf = vec![0u8; usize::try_from(FETCH_STEP).unwrap_or(256 * 1024)];
        let mut at = from;
        while at < until {
            // Never overwrite bytes already present (they may be newer than the remote's).
            let stop = self
                .item
                .lock()
                .meta
                .ranges
                .pairs()
                .iter()
                .find(|&&(s, _)| s > at)
                .map_or(until, |&(s, _)| s.min(until));
            if stop <= at {
                break;
            }
            let want = usize::try_from((stop - at).min(FETCH_STEP)).unwrap_or(buf.len());
            let n = stream.read(&mut buf[..want])?;
            if n == 0 {
                return Err(Error::with_detail(
                    ErrorKind::Transient,
                    self.path.as_str(),
                    "The file changed while being read (it ended early)",
                ));
            }
            self.file.write_all_at(&buf[..n], at).map_err(io_err(&self.path))?;
            self.item.lock().meta.ranges.insert(at, at + n as u64);
            at += n as u64;
        }
        self.fetch = Some((stream, at));
        Ok(())
    }
}

impl ReadStream for CachedReader {
    /// A file wholly in the cache goes out with sendfile from the cache file, as a local file.
    fn sendfile_source(&self) -> Option<(std::os::fd::BorrowedFd<'_>, u64)> {
        use std::os::fd::AsFd;
        self.complete.then(|| (self.file.as_fd(), self.pos))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let end = self.size.min(self.pos + buf.len() as u64);
        if !self.complete && self.item.lock().generation != self.generation {
            // A new version was written over the item while this reader fetched parts of the
            // old one: finish the old one from the remote, leaving the cache alone.
            if self.direct.is_none() {
                self.direct = Some(self.cache.backend.open_read(&self.path, self.pos, Some(self.size - self.pos))?);
            }
            let want = usize::try_from(end - self.pos).unwrap_or(buf.len());
            let n = self.direct.as_mut().map_or(Ok(0), |d| d.read(&mut buf[..want]))?;
            self.pos += n as u64;
            return Ok(n);
        }
        if !self.complete {
            self.ensure(self.pos, end)?;
        }
        let want = usize::try_from(end - self.pos).unwrap_or(buf.len());
        let n = self.file.read_at(&mut buf[..want], self.pos).map_err(io_err(&self.path))?;
        if n == 0 {
            return Err(Error::with_detail(
                ErrorKind::Other,
                self.path.as_str(),
                "The cache file is shorter than expected",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Drop for CachedReader {
    fn drop(&mut self) {
        if std::mem::take(&mut self.owns_open) {
            self.cache.release(&self.path, &self.item);
        }
    }
}
