//! The VFS disk cache (`--vfs-cache-mode minimal|writes|full`), as rclone's `vfscache`:
//!
//! * Layout: `<cache-dir>/vfs/<remote>/<root>/<path>` holds each file's (sparse) data and
//!   `<cache-dir>/vfsMeta/<remote>/<root>/<path>` its [`meta::Meta`] (JSON, saved atomically).
//!   A lock file beside that data directory (`<root>.ftpvfs.lock`) keeps a second ftpvfs out.
//! * Writes (modes writes and full) go to a new copy of the item's data, renamed over it when
//!   the upload from the client ends, so a reader never sees a half-written version; the item
//!   is then dirty and queued for upload `--vfs-write-back` later (see [`writeback`]).
//! * Reads in full mode fetch only the missing byte ranges of the sparse file (plus
//!   `--vfs-read-ahead`), shared by every reader of the item; reads of a dirty item come from
//!   the cache in every mode. A remote file whose size or modtime changed is fetched afresh
//!   unless the cached copy is dirty.
//! * Dirty items survive a crash: at start every item whose metadata says dirty is queued.
//! * Eviction ([`cleaner`]) every `--vfs-cache-poll-interval`: by age, then by total size,
//!   never an open, dirty or uploading item.
//!
//! Mode minimal caches nothing for FTP: it only buffers files opened for read and write at
//! once, which FTP never does; it otherwise behaves as off.

pub mod cleaner;
pub mod handles;
pub mod meta;
pub mod ranges;
pub mod writeback;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::backend::{Backend, Entry, EntryKind, Error, ErrorKind, Result};
use crate::vfs::dir_cache::DirCache;
use crate::vfs::VfsPath;
use meta::Meta;

/// `--vfs-cache-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// No disk cache.
    #[default]
    Off,
    /// Only read+write opens are cached (FTP makes none: behaves as off).
    Minimal,
    /// Writes go through the cache; reads stream from the remote.
    Writes,
    /// Reads and writes go through the cache.
    Full,
}

impl CacheMode {
    /// Parses `off|minimal|writes|full`.
    pub fn parse(text: &str) -> Option<CacheMode> {
        match text {
            "off" => Some(CacheMode::Off),
            "minimal" => Some(CacheMode::Minimal),
            "writes" => Some(CacheMode::Writes),
            "full" => Some(CacheMode::Full),
            _ => None,
        }
    }

    /// Whether uploads go through the disk cache.
    pub fn caches_writes(self) -> bool {
        matches!(self, CacheMode::Writes | CacheMode::Full)
    }
}

/// The cache flags and where this remote's cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// `--vfs-cache-mode`.
    pub mode: CacheMode,
    /// `--cache-dir`.
    pub dir: PathBuf,
    /// The remote's name in the cache layout (`local`, `memory`, a config name, `proxy-...`).
    pub name: String,
    /// The remote's root inside it (an absolute path without its leading `/`, or empty).
    pub root: String,
    /// `--vfs-cache-max-age`.
    pub max_age: Duration,
    /// `--vfs-cache-max-size` (`None`: off).
    pub max_size: Option<u64>,
    /// `--vfs-cache-poll-interval`.
    pub poll_interval: Duration,
    /// `--vfs-write-back`.
    pub write_back: Duration,
    /// `--transfers`: uploads at once.
    pub transfers: usize,
    /// `--vfs-read-ahead`: bytes fetched past each read in full mode.
    pub read_ahead: u64,
}

impl CacheOptions {
    /// The default `--cache-dir`: `$XDG_CACHE_HOME/ftpvfs`, else `~/.cache/ftpvfs`.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("ftpvfs"),
            None => std::env::var_os("HOME")
                .map_or_else(|| std::env::temp_dir().join("ftpvfs-cache"), |h| PathBuf::from(h).join(".cache/ftpvfs")),
        }
    }
}

/// One cached file.
pub struct Item {
    state: Mutex<ItemState>,
    /// Held while fetching ranges: one download per item at a time, shared by its readers.
    download: Mutex<()>,
    /// Signalled when an upload of this item ends.
    uploaded: Condvar,
}

/// An item's mutable state.
pub struct ItemState {
    /// What the metadata file says (kept in memory, saved on changes).
    pub meta: Meta,
    /// Open readers and writers (an open item is never evicted).
    pub opens: usize,
    /// An upload is running.
    pub uploading: bool,
    /// Bumped by every committed write, so an upload of an older version does not clear
    /// `dirty`.
    pub generation: u64,
    /// The file was removed while uploading: remove it from the remote once that ends.
    pub removed: bool,
    /// A rename is in progress: no upload may start.
    pub renaming: bool,
}

impl Item {
    fn new(meta: Meta) -> Arc<Item> {
        Arc::new(Item {
            state: Mutex::new(ItemState {
                meta,
                opens: 0,
                uploading: false,
                generation: 0,
                removed: false,
                renaming: false,
            }),
            download: Mutex::new(()),
            uploaded: Condvar::new(),
        })
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, ItemState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The cache of one remote.
pub struct Cache {
    opts: CacheOptions,
    backend: Arc<dyn Backend>,
    dirs: Arc<DirCache>,
    data_root: PathBuf,
    meta_root: PathBuf,
    items: Mutex<HashMap<VfsPath, Arc<Item>>>,
    queue: Mutex<writeback::Queue>,
    queue_changed: Condvar,
    next_temp: AtomicU64,
    /// Held for the cache's life: a second ftpvfs on this directory is refused.
    _lock: File,
}

fn lock_map<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cache {
    /// Opens (creating) the cache directory, takes its lock, loads what a previous run left
    /// (queueing every dirty item for upload), and starts the uploaders and the cleaner.
    ///
    /// # Errors
    /// The directory cannot be made or used, or another ftpvfs holds it.
    pub fn open(
        opts: CacheOptions,
        backend: Arc<dyn Backend>,
        dirs: Arc<DirCache>,
    ) -> std::result::Result<Arc<Cache>, String> {
        let rel = Path::new(&opts.name).join(opts.root.trim_start_matches('/'));
        let data_root = opts.dir.join("vfs").join(&rel);
        let meta_root = opts.dir.join("vfsMeta").join(&rel);
        for d in [&data_root, &meta_root] {
            std::fs::create_dir_all(d).map_err(|e| format!("cache directory {}: {e}", d.display()))?;
        }
        // Beside the data tree, not in it: no remote file name can clash with it.
        let lock_name = format!(
            "{}.ftpvfs.lock",
            data_root.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        let lock_path = data_root.with_file_name(lock_name);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cache lock {}: {e}", lock_path.display()))?;
        if !crate::sys::try_lock_exclusive(&lock).map_err(|e| format!("cache lock {}: {e}", lock_path.display()))? {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(format!(
                "the cache directory {} is in use by another ftpvfs ({}): two servers on one cache \
                 can corrupt it; give each its own --cache-dir",
                data_root.display(),
                holder.trim()
            ));
        }
        let _ = lock.set_len(0);
        let _ = std::fs::write(&lock_path, format!("pid {}\n", std::process::id()));
        check_sparse(&data_root);
        log::debug!("vfs cache: data in {}, metadata in {}", data_root.display(), meta_root.display());
        let cache = Arc::new(Cache {
            opts,
            backend,
            dirs,
            data_root,
            meta_root,
            items: Mutex::new(HashMap::new()),
            queue: Mutex::new(writeback::Queue::default()),
            queue_changed: Condvar::new(),
            next_temp: AtomicU64::new(0),
            _lock: lock,
        });
        cache.load_previous();
        writeback::start(&cache);
        cleaner::start(&cache);
        Ok(cache)
    }

    /// The options.
    pub fn options(&self) -> &CacheOptions {
        &self.opts
    }

    fn data_path(&self, path: &VfsPath) -> PathBuf {
        self.data_root.join(path.as_str().trim_start_matches('/'))
    }

    fn meta_path(&self, path: &VfsPath) -> PathBuf {
        self.meta_root.join(path.as_str().trim_start_matches('/'))
    }

    /// Saves an item's metadata (logged on failure: the data stays, and a dirty item is still
    /// queued in memory).
    fn save_meta(&self, path: &VfsPath, meta: &Meta) {
        if let Err(e) = meta.save(&self.meta_path(path)) {
            log::error!("vfs cache: saving metadata of {path}: {e}");
        }
    }

    /// Loads every item a previous run left; drops data without metadata (and the reverse),
    /// temporary files, and empty directories; queues dirty items for upload.
    fn load_previous(&self) {
        let mut metas = Vec::new();
        walk(&self.meta_root, &mut |file| metas.push(file.to_path_buf()));
        let mut queued = 0;
        for meta_file in metas {
            let Ok(rel) = meta_file.strip_prefix(&self.meta_root) else { continue };
            let text = format!("/{}", rel.to_string_lossy());
            let (Ok(path), Some(meta)) = (VfsPath::root().resolve(&text), Meta::load(&meta_file)) else {
                let _ = std::fs::remove_file(&meta_file);
                continue;
            };
            if !self.data_path(&path).is_file() {
                let _ = std::fs::remove_file(&meta_file);
                continue;
            }
            if meta.dirty {
                log::info!("vfs cache: {path} was not uploaded before the last stop: queued");
                self.enqueue(&path, Instant::now() + self.opts.write_back, self.opts.write_back);
                queued += 1;
            }
            lock_map(&self.items).insert(path, Item::new(meta));
        }
        let items = lock_map(&self.items);
        let mut stray = Vec::new();
        walk(&self.data_root, &mut |file| {
            let rel =
                file.strip_prefix(&self.data_root).map(|r| format!("/{}", r.to_string_lossy())).unwrap_or_default();
            let known = VfsPath::root().resolve(&rel).is_ok_and(|p| items.contains_key(&p));
            if !known {
                stray.push(file.to_path_buf());
            }
        });
        drop(items);
        for f in stray {
            let _ = std::fs::remove_file(f);
        }
        prune_empty_dirs(&self.data_root);
        prune_empty_dirs(&self.meta_root);
        if queued > 0 {
            log::info!("vfs cache: {queued} file(s) to upload from the last run");
        }
    }

    /// The item for `path`, made (empty, sized like `remote`) if there is none; counted as
    /// open until [`Cache::release`].
    fn open_item(&self, path: &VfsPath, size: u64, mtime: SystemTime) -> Arc<Item> {
        let mut items = lock_map(&self.items);
        let item = items.entry(path.clone()).or_insert_with(|| Item::new(Meta::new(size, mtime))).clone();
        let mut st = item.lock();
        st.opens += 1;
        st.meta.atime = SystemTime::now();
        drop(st);
        item
    }

    /// Ends a use of an item and saves its metadata.
    fn release(&self, path: &VfsPath, item: &Item) {
        let mut st = item.lock();
        st.opens = st.opens.saturating_sub(1);
        st.meta.atime = SystemTime::now();
        let meta = st.meta.clone();
        drop(st);
        if lock_map(&self.items).get(path).is_some_and(|i| std::ptr::eq(Arc::as_ptr(i), item)) {
            self.save_meta(path, &meta);
        }
    }

    /// What the cache says about a file with local changes (dirty or uploading), which wins
    /// over the remote's entry.
    pub fn local_entry(&self, path: &VfsPath) -> Option<Entry> {
        let item = lock_map(&self.items).get(path).cloned()?;
        let st = item.lock();
        (st.meta.dirty || st.uploading).then(|| Entry {
            name: path.name().to_string(),
            kind: EntryKind::File,
            size: st.meta.size,
            mtime: st.meta.mtime,
        })
    }

    /// Puts files with local changes into a listing of `dir` (replacing the remote's entries,
    /// adding new ones), keeping it sorted.
    pub fn overlay(&self, dir: &VfsPath, entries: &mut Vec<Entry>) {
        let items: Vec<(VfsPath, Arc<Item>)> = lock_map(&self.items)
            .iter()
            .filter(|(p, _)| !p.is_root() && &p.parent() == dir)
            .map(|(p, i)| (p.clone(), i.clone()))
            .collect();
        for (path, item) in items {
            let st = item.lock();
            if !(st.meta.dirty || st.uploading) || st.removed {
                continue;
            }
            let e = Entry {
                name: path.name().to_string(),
                kind: EntryKind::File,
                size: st.meta.size,
                mtime: st.meta.mtime,
            };
            match entries.binary_search_by(|x| x.name.as_str().cmp(path.name())) {
                Ok(i) => entries[i] = e,
                Err(i) => entries.insert(i, e),
            }
        }
    }

    /// Whether a directory holds files with local changes (it is then not empty).
    pub fn has_local_files_under(&self, dir: &VfsPath) -> bool {
        lock_map(&self.items).iter().any(|(p, i)| {
            p != dir && p.starts_with(dir) && {
                let st = i.lock();
                (st.meta.dirty || st.uploading) && !st.removed
            }
        })
    }

    fn temp_path(&self, path: &VfsPath) -> PathBuf {
        let id = self.next_temp.fetch_add(1, Ordering::Relaxed);
        let data = self.data_path(path);
        let name = data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        data.with_file_name(format!(".{name}.ftpvfs-w{id}"))
    }

    /// A file was removed: forget its item (a running upload is undone when it ends).
    pub fn remove(&self, path: &VfsPath) {
        let item = lock_map(&self.items).remove(path);
        if let Some(item) = item {
            let mut st = item.lock();
            st.removed = true;
            st.meta.dirty = false;
        }
        lock_map(&self.queue).remove(path);
        let _ = std::fs::remove_file(self.data_path(path));
        let _ = std::fs::remove_file(self.meta_path(path));
    }

    /// Whether `path` exists only in the cache (dirty, never uploaded, not on the remote).
    pub fn only_local(&self, path: &VfsPath) -> bool {
        self.local_entry(path).is_some() && self.backend.stat(path).is_err()
    }

    /// Starts renaming `from`: waits (up to a minute) for uploads under it to finish, then
    /// holds back new ones until [`Cache::end_rename`], so no upload writes the old name after
    /// the remote rename.
    ///
    /// # Errors
    /// `Transient` if an upload is still running after a minute.
    pub fn begin_rename(&self, from: &VfsPath) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let items = lock_map(&self.items);
            let affected: Vec<Arc<Item>> =
                items.iter().filter(|(p, _)| *p == from || p.starts_with(from)).map(|(_, i)| i.clone()).collect();
            let busy = affected.iter().find(|i| i.lock().uploading).cloned();
            let Some(item) = busy else {
                for i in &affected {
                    i.lock().renaming = true;
                }
                return Ok(());
            };
            drop(items);
            if Instant::now() >= deadline {
                return Err(Error::with_detail(
                    ErrorKind::Transient,
                    from.as_str(),
                    "The file is being uploaded; try again",
                ));
            }
            let st = item.lock();
            if st.uploading {
                let _ = item.uploaded.wait_timeout(st, Duration::from_millis(200));
            }
        }
    }

    /// Ends a rename begun with [`Cache::begin_rename`]: when it happened (`done`), the items
    /// under `from` move to `to` (data, metadata and queue entries).
    pub fn end_rename(&self, from: &VfsPath, to: &VfsPath, done: bool) {
        let mut items = lock_map(&self.items);
        let moving: Vec<VfsPath> = items.keys().filter(|p| *p == from || p.starts_with(from)).cloned().collect();
        let mut queue = lock_map(&self.queue);
        for p in moving {
            let Some(item) = items.get(&p).cloned() else { continue };
            item.lock().renaming = false;
            if !done {
                continue;
            }
            let suffix = &p.as_str()[from.as_str().len()..];
            let Ok(new) = VfsPath::root().resolve(&format!("{}{suffix}", to.as_str())) else { continue };
            items.remove(&p);
            for (a, b) in [(self.data_path(&p), self.data_path(&new)), (self.meta_path(&p), self.meta_path(&new))] {
                if let Some(dir) = b.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::rename(a, b);
            }
            queue.rename(&p, &new);
            items.insert(new, item);
        }
    }

    /// Sets a cached file's modification time (uploaded with it). During an upload, the
    /// upload in flight carries the old time: the item stays dirty, so it goes again.
    pub fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) {
        let item = lock_map(&self.items).get(path).cloned();
        if let Some(item) = item {
            let mut st = item.lock();
            if st.uploading {
                st.generation += 1;
            }
            st.meta.mtime = mtime;
            let meta = st.meta.clone();
            drop(st);
            self.save_meta(path, &meta);
        }
    }

    /// Queue length and uploads in progress, for rc `vfs/queue` and `vfs/stats`.
    pub fn queue_snapshot(&self) -> Vec<(String, f64, bool)> {
        let queue = lock_map(&self.queue);
        let items = lock_map(&self.items);
        let now = Instant::now();
        let mut out: Vec<(String, f64, bool)> = queue
            .entries()
            .map(|(p, due)| (p.as_str().to_string(), due.saturating_duration_since(now).as_secs_f64(), false))
            .collect();
        for (p, i) in items.iter() {
            if i.lock().uploading {
                out.push((p.as_str().to_string(), 0.0, true));
            }
        }
        out
    }

    /// Items held and bytes present, for rc `vfs/stats`.
    pub fn size(&self) -> (usize, u64) {
        let items = lock_map(&self.items);
        (items.len(), items.values().map(|i| i.lock().meta.ranges.total()).sum())
    }

    /// Waits until nothing is queued or uploading (for tests and a clean stop), at most
    /// `timeout`; true if the queue drained.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.queue_snapshot().is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn enqueue(&self, path: &VfsPath, due: Instant, delay: Duration) {
        lock_map(&self.queue).push(path.clone(), due, delay);
        self.queue_changed.notify_all();
    }
}

/// Every file under `dir` (recursively).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, f),
            Ok(t) if t.is_file() => {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.contains(".ftpvfs-w") || name.ends_with(".ftpvfs-tmp") {
                    // A write or metadata save cut short by a crash.
                    let _ = std::fs::remove_file(&p);
                } else {
                    f(&p);
                }
            }
            _ => {}
        }
    }
}

/// Removes empty directories below `dir` (not `dir` itself).
fn prune_empty_dirs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            prune_empty_dirs(&e.path());
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// The spec's warning: without sparse files (FAT, exFAT) full mode performs badly. A 1 MiB
/// hole that takes disk blocks means the file system has none.
fn check_sparse(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(".ftpvfs-sparse-probe");
    let sparse = File::create(&probe).and_then(|f| {
        f.set_len(1 << 20)?;
        f.metadata()
    });
    let _ = std::fs::remove_file(&probe);
    match sparse {
        Ok(m) if m.blocks() * 512 >= 1 << 20 => log::error!(
            "vfs cache: {} does not support sparse files: --vfs-cache-mode full will be slow and use \
             the whole size of every file read; put --cache-dir on another file system",
            dir.display()
        ),
        Ok(_) => {}
        Err(e) => log::warn!("vfs cache: cannot check for sparse files in {}: {e}", dir.display()),
    }
}
