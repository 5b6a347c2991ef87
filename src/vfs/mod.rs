//! The VFS: the synchronous facade that worker jobs call, over one `Backend`, with a directory
//! cache (`dir_cache`) and, above cache mode off, a disk cache (`cache`). In mode off it follows
//! the spec's open rules: reads stream from the backend, writes stream to it, and a write
//! handle cannot seek except where the backend can write in place. In modes writes and full,
//! writes go through the disk cache (so REST + STOR and APPE work on every remote) and files
//! not yet uploaded are listed from it. It enforces `--read-only`, `--no-seek` and
//! `--no-modtime`.

pub mod cache;
pub mod chunked_reader;
pub mod dir_cache;
pub mod path;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use path::{PathError, VfsPath};

use crate::backend::{Backend, Entry, Error, ErrorKind, ReadStream, Result, Usage, WriteMode, WriteStream};

/// VFS behaviour chosen by flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfsOptions {
    /// `--read-only`: every change is refused with `ReadOnly`.
    pub read_only: bool,
    /// `--no-seek`: reads must start at 0 and writes cannot restart.
    pub no_seek: bool,
    /// `--no-modtime`: files show their directory's time; MFMT is accepted and ignored.
    pub no_modtime: bool,
    /// `--file-perms`, before the umask.
    pub file_perms: u32,
    /// `--dir-perms`, before the umask.
    pub dir_perms: u32,
    /// `--umask`.
    pub umask: u32,
    /// `--uid` shown in listings.
    pub uid: u32,
    /// `--gid` shown in listings.
    pub gid: u32,
    /// `--dir-cache-time`: how long a directory listing is reused (zero: never).
    pub dir_cache_time: Duration,
    /// `--vfs-read-chunk-size` and `--vfs-read-chunk-size-limit`.
    pub chunks: chunked_reader::ChunkPolicy,
    /// `--vfs-case-insensitive`: a name that does not exist as typed but exists once with
    /// another case is used as it exists.
    pub case_insensitive: bool,
    /// `--buffer-size`: bytes of a download read ahead of the client, in memory.
    pub buffer_size: u64,
    /// `--vfs-used-is-size`: the used space is the sum of all file sizes (a walk of the whole
    /// remote), not what the backend reports.
    pub used_is_size: bool,
    /// `--vfs-cache-mode`.
    pub cache_mode: cache::CacheMode,
}

impl VfsOptions {
    /// Permission bits listed for files.
    pub fn file_mode(&self) -> u32 {
        self.file_perms & !self.umask & 0o7777
    }

    /// Permission bits listed for directories.
    pub fn dir_mode(&self) -> u32 {
        self.dir_perms & !self.umask & 0o7777
    }
}

impl Default for VfsOptions {
    fn default() -> Self {
        VfsOptions {
            read_only: false,
            no_seek: false,
            no_modtime: false,
            file_perms: 0o666,
            dir_perms: 0o777,
            umask: 0o022,
            uid: 1000,
            gid: 1000,
            dir_cache_time: Duration::from_secs(300),
            chunks: chunked_reader::ChunkPolicy { initial: Some(128 << 20), limit: None },
            case_insensitive: false,
            buffer_size: 16 << 20,
            used_is_size: false,
            cache_mode: cache::CacheMode::Off,
        }
    }
}

/// The virtual file system one server (or, later, one auth-proxy user) serves.
pub struct Vfs {
    /// The remote, behind [`Counted`](crate::backend::counted::Counted) (the same object as
    /// `counted`).
    backend: Arc<dyn Backend>,
    counted: Arc<crate::backend::counted::Counted>,
    options: VfsOptions,
    dirs: Arc<dir_cache::DirCache>,
    /// The last space figures and when they were taken (kept for `--dir-cache-time`).
    usage: std::sync::Mutex<Option<(Instant, Usage)>>,
    /// The disk cache (`--vfs-cache-mode` above off).
    cache: Option<Arc<cache::Cache>>,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfs").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Vfs {
    /// A VFS over `backend`.
    pub fn new(backend: Box<dyn Backend>, options: VfsOptions) -> Arc<Vfs> {
        let dirs = Arc::new(dir_cache::DirCache::new(options.dir_cache_time));
        let counted = Arc::new(crate::backend::counted::Counted::new(backend));
        Arc::new(Vfs { backend: counted.clone(), counted, options, dirs, usage: Default::default(), cache: None })
    }

    /// A VFS over `backend` with the disk cache `cache` describes (none for mode off).
    ///
    /// # Errors
    /// The cache directory cannot be used (see [`cache::Cache::open`]).
    pub fn with_cache(
        backend: Box<dyn Backend>,
        options: VfsOptions,
        cache: Option<cache::CacheOptions>,
    ) -> std::result::Result<Arc<Vfs>, String> {
        let dirs = Arc::new(dir_cache::DirCache::new(options.dir_cache_time));
        let counted = Arc::new(crate::backend::counted::Counted::new(backend));
        let backend: Arc<dyn Backend> = counted.clone();
        let cache = match cache.filter(|c| c.mode != cache::CacheMode::Off) {
            Some(opts) => Some(cache::Cache::open(opts, backend.clone(), dirs.clone())?),
            None => None,
        };
        Ok(Arc::new(Vfs { backend, counted, options, dirs, usage: Default::default(), cache }))
    }

    /// Bytes read from the backend's files, where the backend counts them.
    pub fn backend_bytes_read(&self) -> Option<u64> {
        self.backend.bytes_read()
    }

    /// Calls to the remote and their storage failures, by operation.
    pub fn backend_operations(&self) -> Vec<crate::backend::counted::OperationCount> {
        self.counted.operations()
    }

    /// Requests sent to the remote, where the backend counts them.
    pub fn backend_requests(&self) -> Option<u64> {
        self.backend.requests()
    }

    /// The disk cache, if any.
    pub fn cache(&self) -> Option<&Arc<cache::Cache>> {
        self.cache.as_ref()
    }

    /// The cache, when writes go through it.
    fn write_cache(&self) -> Option<&Arc<cache::Cache>> {
        self.cache.as_ref().filter(|c| c.options().mode.caches_writes())
    }

    /// The options in force.
    pub fn options(&self) -> &VfsOptions {
        &self.options
    }

    fn writable(&self, path: &VfsPath) -> Result<()> {
        if self.options.read_only {
            Err(Error::new(ErrorKind::ReadOnly, path.as_str()))
        } else {
            Ok(())
        }
    }

    fn adjust(&self, mut e: Entry, dir_mtime: impl FnOnce() -> SystemTime) -> Entry {
        if self.options.no_modtime && !e.is_dir() {
            e.mtime = dir_mtime();
        }
        e
    }

    /// Stats a path.
    ///
    /// # Errors
    /// As [`Backend::stat`].
    pub fn stat(&self, path: &VfsPath) -> Result<Entry> {
        let path = &self.fix(path);
        let e = self.stat_exact(path)?;
        Ok(self.adjust(e, || self.stat(&path.parent()).map(|d| d.mtime).unwrap_or(SystemTime::UNIX_EPOCH)))
    }

    /// Lists a directory, sorted by name; a listing younger than `--dir-cache-time` is reused.
    ///
    /// # Errors
    /// As [`Backend::list`].
    pub fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let path = &if self.options.case_insensitive && self.stat_exact(path).is_err() {
            self.fix(path)
        } else {
            path.clone()
        };
        // A listing read while an upload finished may predate the file, and the cache no
        // longer speaks for it once the upload is done: read again when a change landed
        // between the read and the overlay (the epoch moved), a few times at most.
        let mut tries = 0;
        let entries = loop {
            tries += 1;
            let now = Instant::now();
            let epoch = self.dirs.epoch();
            let entries = match self.dirs.get(path, now) {
                Some(cached) => cached,
                None => {
                    let fresh = Arc::new(self.backend.list(path)?);
                    self.dirs.put(path, fresh.clone(), now, epoch);
                    fresh
                }
            };
            let Some(cache) = &self.cache else { break entries };
            let mut with_local = entries.as_ref().clone();
            cache.overlay(path, &mut with_local);
            if self.dirs.epoch() == epoch || tries >= 3 {
                break Arc::new(with_local);
            }
        };
        if !self.options.no_modtime {
            return Ok(entries.as_ref().clone());
        }
        let dir_time = self.stat(path).map(|d| d.mtime).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(entries.iter().cloned().map(|e| self.adjust(e, || dir_time)).collect())
    }

    /// Free bytes for uploads under `path`, when the backend knows (AVBL); `Some(0)` under
    /// `--read-only`.
    ///
    /// # Errors
    /// As [`Backend::stat`].
    pub fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        let path = self.fix(path);
        let known = self.backend.available(&path)?;
        Ok(if self.options.read_only { Some(0) } else { known })
    }

    /// Forgets every cached directory listing and the space figures (SIGHUP).
    pub fn forget_all(&self) {
        self.dirs.forget_all();
        *self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// rc `vfs/forget`: forgets what is cached about `path`: for a directory its listing and
    /// every listing below it, and for either the listing of its parent.
    pub fn forget(&self, path: &VfsPath, is_dir: bool) {
        if is_dir {
            self.dirs.forget_tree(path);
        }
        self.dirs.forget_dir(&path.parent());
    }

    /// rc `vfs/refresh`: reads `dir` afresh (and every directory below it when `recursive`).
    ///
    /// # Errors
    /// As [`Vfs::list`].
    pub fn refresh(&self, dir: &VfsPath, recursive: bool) -> Result<()> {
        let mut dirs = vec![dir.clone()];
        while let Some(d) = dirs.pop() {
            self.dirs.forget_dir(&d);
            for e in self.list(&d)? {
                if recursive && e.is_dir() {
                    if let Ok(child) = d.child(&e.name) {
                        dirs.push(child);
                    }
                }
            }
        }
        Ok(())
    }

    /// Listings and entries held by the directory cache (rc `vfs/stats`).
    pub fn cache_size(&self) -> (usize, usize) {
        self.dirs.size()
    }

    /// The remote's space figures, as rclone's VFS gives them: the backend's, with the used
    /// bytes summed over every file under `--vfs-used-is-size`, and the free bytes worked out
    /// from the total when only that is known. Kept for `--dir-cache-time`.
    ///
    /// # Errors
    /// As the backend, or as [`Vfs::list`] during the walk.
    pub fn usage(&self) -> Result<Usage> {
        let cached = *self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, usage)) = cached {
            if at.elapsed() < self.options.dir_cache_time {
                return Ok(usage);
            }
        }
        let mut usage = self.backend.usage()?;
        if self.options.used_is_size {
            usage.used = Some(self.total_file_size()?);
        }
        if let (None, Some(total), Some(used)) = (usage.free, usage.total, usage.used) {
            usage.free = Some(total.saturating_sub(used));
        }
        *self.usage.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), usage));
        Ok(usage)
    }

    /// The sum of the sizes of every file on the remote (`rclone size`).
    fn total_file_size(&self) -> Result<u64> {
        let mut total = 0u64;
        let mut dirs = vec![VfsPath::root()];
        while let Some(dir) = dirs.pop() {
            for e in self.list(&dir)? {
                if e.is_dir() {
                    if let Ok(child) = dir.child(&e.name) {
                        dirs.push(child);
                    }
                } else {
                    total = total.saturating_add(e.size);
                }
            }
        }
        Ok(total)
    }

    /// Opens a file for reading at `offset` through the chunked reader; returns it with the
    /// file's stat.
    ///
    /// # Errors
    /// `IsDirectory` for a directory, `Unsupported` for a non-zero offset under `--no-seek`;
    /// otherwise as the backend.
    pub fn open_read(&self, path: &VfsPath, offset: u64) -> Result<(Box<dyn ReadStream>, Entry)> {
        if offset > 0 && self.options.no_seek {
            return Err(Error::with_detail(ErrorKind::Unsupported, path.as_str(), "Seeking is disabled (--no-seek)"));
        }
        let path = self.fix(path);
        let entry = self.stat(&path)?;
        if entry.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let offset = offset.min(entry.size);
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.open_read(&path, offset, &entry)) {
            return cached.map(|r| (r, entry));
        }
        let reader =
            chunked_reader::ChunkedReader::open(self.backend.clone(), path, offset, entry.size, self.options.chunks)?;
        Ok((Box::new(reader), entry))
    }

    /// Opens a whole file for reading on the spot when the backend can do it without waiting
    /// for storage (see `Backend::open_read_now`); `None` means "use [`open_read`](Self::open_read)
    /// on a worker". Only without a cache, without case folding, and when the directory cache
    /// does not already know the path as missing or a directory, so the answer is the one
    /// `open_read` would give.
    pub fn open_read_now(&self, path: &VfsPath) -> Option<(Box<dyn ReadStream>, Entry)> {
        if self.cache.is_some() || self.options.case_insensitive {
            return None;
        }
        match self.dirs.lookup(path, Instant::now()) {
            Some(None) => return None,
            Some(Some(e)) if e.is_dir() => return None,
            _ => {}
        }
        self.backend.open_read_now(path)
    }

    /// `--vfs-case-insensitive`: the path with each component that does not exist as typed
    /// replaced by the one entry of its directory that matches it ignoring case. A name with no
    /// match (a new file) or more than one is left as typed.
    fn fix(&self, path: &VfsPath) -> VfsPath {
        if !self.options.case_insensitive || path.is_root() || self.stat_exact(path).is_ok() {
            return path.clone();
        }
        let mut fixed = VfsPath::root();
        for component in path.components() {
            let Ok(typed) = fixed.child(component) else { return path.clone() };
            if self.stat_exact(&typed).is_ok() {
                fixed = typed;
                continue;
            }
            let listing = self.list(&fixed).unwrap_or_default();
            let mut matches = listing.iter().filter(|e| e.name.to_lowercase() == component.to_lowercase());
            fixed = match (matches.next(), matches.next()) {
                (Some(one), None) => fixed.child(&one.name).unwrap_or(typed),
                _ => typed,
            };
        }
        fixed
    }

    fn stat_exact(&self, path: &VfsPath) -> Result<Entry> {
        if let Some(local) = self.cache.as_ref().and_then(|c| c.local_entry(path)) {
            return Ok(local);
        }
        match self.dirs.lookup(path, Instant::now()) {
            Some(Some(e)) => Ok(e),
            Some(None) => Err(Error::new(ErrorKind::NotFound, path.as_str())),
            None => self.backend.stat(path),
        }
    }

    /// Opens a file for writing.
    ///
    /// # Errors
    /// `ReadOnly` under `--read-only`; `Unsupported` for a restart under `--no-seek` or on a
    /// backend that cannot write in place; otherwise as the backend.
    pub fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        self.writable(path)?;
        let in_place = match mode {
            WriteMode::Replace | WriteMode::At(0) => false,
            WriteMode::At(_) => true,
            WriteMode::Append => true,
        };
        if let Some(cache) = self.write_cache() {
            if in_place && self.options.no_seek {
                return Err(Error::with_detail(
                    ErrorKind::Unsupported,
                    path.as_str(),
                    "Seeking is disabled (--no-seek)",
                ));
            }
            let path = &self.fix(path);
            let current = match self.stat(path) {
                Ok(e) if e.is_dir() => return Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
                Ok(e) => Some(e),
                Err(e) if e.kind == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            // The upload happens later: a missing directory must fail now, not then.
            match self.stat(&path.parent()) {
                Ok(d) if d.is_dir() => {}
                Ok(_) => return Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
                Err(e) => return Err(Error { path: path.as_str().to_string(), ..e }),
            }
            return cache.open_write(path, mode, current.as_ref());
        }
        if in_place && (self.options.no_seek || !self.backend.features().write_in_place) {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "Writing at an offset needs --vfs-cache-mode writes on this remote",
            ));
        }
        let mode = if mode == WriteMode::At(0) { WriteMode::Replace } else { mode };
        let path = &self.fix(path);
        let inner = self.backend.open_write(path, mode)?;
        Ok(Box::new(ListedWrite { inner, dirs: self.dirs.clone(), parent: path.parent() }))
    }

    /// Makes a directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn mkdir(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        let path = &self.fix(path);
        self.backend.mkdir(path)?;
        self.dirs.forget_dir(&path.parent());
        Ok(())
    }

    /// Removes an empty directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn rmdir(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        let path = &self.fix(path);
        if self.cache.as_ref().is_some_and(|c| c.has_local_files_under(path)) {
            return Err(Error::new(ErrorKind::NotEmpty, path.as_str()));
        }
        self.backend.rmdir(path)?;
        self.dirs.forget_dir(&path.parent());
        self.dirs.forget_tree(path);
        Ok(())
    }

    /// Removes a file.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn remove(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        let path = &self.fix(path);
        match &self.cache {
            Some(cache) if cache.only_local(path) => {}
            _ => self.backend.remove(path)?,
        }
        if let Some(cache) = &self.cache {
            cache.remove(path);
        }
        self.dirs.forget_dir(&path.parent());
        Ok(())
    }

    /// Renames a file or directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        self.writable(from)?;
        let (from, to) = (&self.fix(from), &self.fix(to));
        if let Some(cache) = &self.cache {
            // No upload may run on either name while they change (one would write a name that
            // no longer holds what it uploads).
            cache.begin_rename(from)?;
            if let Err(e) = cache.begin_rename(to) {
                cache.end_rename(from, from, false);
                return Err(e);
            }
        }
        let renamed = match &self.cache {
            Some(cache) if cache.only_local(from) => crate::backend::check_rename(from, to),
            _ => self.backend.rename(from, to),
        };
        if let Some(cache) = &self.cache {
            cache.end_rename(to, to, false);
            if renamed.is_ok() && from != to {
                // The target was replaced: a pending upload of its old content must not follow.
                cache.remove(to);
            }
            cache.end_rename(from, to, renamed.is_ok());
        }
        renamed?;
        for dir in [from.parent(), to.parent()] {
            self.dirs.forget_dir(&dir);
        }
        self.dirs.forget_tree(from);
        self.dirs.forget_tree(to);
        Ok(())
    }

    /// Sets a modification time (ignored under `--no-modtime`).
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        self.writable(path)?;
        if self.options.no_modtime {
            return self.backend.stat(path).map(|_| ());
        }
        let path = &self.fix(path);
        if let Some(cache) = self.cache.as_ref().filter(|c| c.local_entry(path).is_some()) {
            cache.set_modtime(path, mtime);
            self.dirs.forget_dir(&path.parent());
            return Ok(());
        }
        self.backend.set_modtime(path, mtime)?;
        self.dirs.forget_dir(&path.parent());
        Ok(())
    }
}

/// A write stream that makes its directory's cached listing forgotten when the upload ends
/// (committed, or aborted after writing in place), so the new size shows at once.
struct ListedWrite {
    inner: Box<dyn WriteStream>,
    dirs: Arc<dir_cache::DirCache>,
    parent: VfsPath,
}

impl WriteStream for ListedWrite {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.inner.write_all(buf)
    }

    fn takes_splice(&self) -> bool {
        self.inner.takes_splice()
    }

    fn write_from_pipe(&mut self, pipe: std::os::fd::BorrowedFd<'_>, len: usize) -> Result<()> {
        self.inner.write_from_pipe(pipe, len)
    }

    fn commit(self: Box<Self>) -> Result<u64> {
        let result = self.inner.commit();
        self.dirs.forget_dir(&self.parent);
        result
    }

    fn abort(self: Box<Self>) {
        self.inner.abort();
        self.dirs.forget_dir(&self.parent);
    }
}
