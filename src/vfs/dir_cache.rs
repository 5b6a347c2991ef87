//! `DirCache`: directory listings kept for `--dir-cache-time`, as rclone's VFS keeps them.
//!
//! * A listing is reused while it is younger than the cache time; a stat is answered from the
//!   parent's fresh listing when there is one (so a name created behind the server's back shows
//!   up when that listing expires, as in rclone), else from the backend.
//! * Every change made through the VFS forgets the listings it touches, so it shows at once.
//! * SIGHUP (and later `vfs/forget`) forgets everything.
//! * Bounded: past `MAX_CACHED_ENTRIES` entries in all, the whole cache is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::backend::Entry;
use crate::vfs::VfsPath;

/// Most directory entries held across all cached listings.
pub const MAX_CACHED_ENTRIES: usize = 1_000_000;

struct Cached {
    read_at: Instant,
    entries: Arc<Vec<Entry>>,
}

/// Cached listings by directory.
pub struct DirCache {
    ttl: Duration,
    dirs: Mutex<HashMap<VfsPath, Cached>>,
    /// Bumped by every forget: a listing read before a change is not stored after it.
    epoch: std::sync::atomic::AtomicU64,
}

impl DirCache {
    /// A cache keeping listings for `ttl` (zero: nothing is cached).
    pub fn new(ttl: Duration) -> DirCache {
        DirCache { ttl, dirs: Mutex::new(HashMap::new()), epoch: Default::default() }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<VfsPath, Cached>> {
        self.dirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh listing of `dir`, if one is cached.
    pub fn get(&self, dir: &VfsPath, now: Instant) -> Option<Arc<Vec<Entry>>> {
        let dirs = self.lock();
        dirs.get(dir).filter(|c| now.duration_since(c.read_at) < self.ttl).map(|c| c.entries.clone())
    }

    /// The current epoch: take it before reading a listing, and give it to [`DirCache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Remembers a listing (sorted by name) read at `now`, unless something was forgotten since
    /// `epoch` (the listing may predate that change).
    pub fn put(&self, dir: &VfsPath, entries: Arc<Vec<Entry>>, now: Instant, epoch: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut dirs = self.lock();
        if self.epoch() != epoch {
            return;
        }
        let held: usize = dirs.values().map(|c| c.entries.len()).sum();
        if held + entries.len() > MAX_CACHED_ENTRIES {
            dirs.clear();
        }
        dirs.insert(dir.clone(), Cached { read_at: now, entries });
    }

    /// What the parent's fresh listing says about `path`: `Some(Some(entry))`, `Some(None)`
    /// (known absent), or `None` (no fresh listing; ask the backend).
    pub fn lookup(&self, path: &VfsPath, now: Instant) -> Option<Option<Entry>> {
        if path.is_root() {
            return None;
        }
        let listing = self.get(&path.parent(), now)?;
        let name = path.name();
        Some(listing.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| listing[i].clone()))
    }

    /// Forgets the listing of `dir` (something in it changed).
    pub fn forget_dir(&self, dir: &VfsPath) {
        let mut dirs = self.lock();
        self.bump();
        dirs.remove(dir);
    }

    /// Forgets `dir` and every listing below it (it was removed or renamed).
    pub fn forget_tree(&self, dir: &VfsPath) {
        let mut dirs = self.lock();
        self.bump();
        dirs.retain(|k, _| !k.starts_with(dir));
    }

    /// Forgets everything (SIGHUP).
    pub fn forget_all(&self) {
        let mut dirs = self.lock();
        self.bump();
        dirs.clear();
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// How many listings and entries are held (rc `vfs/stats`).
    pub fn size(&self) -> (usize, usize) {
        let dirs = self.lock();
        (dirs.len(), dirs.values().map(|c| c.entries.len()).sum())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::backend::EntryKind;

    fn e(name: &str) -> Entry {
        Entry { name: name.into(), kind: EntryKind::File, size: 1, mtime: SystemTime::UNIX_EPOCH }
    }

    fn p(s: &str) -> VfsPath {
        VfsPath::root().resolve(s).unwrap()
    }

    #[test]
    fn listings_expire_and_answer_stats() {
        let c = DirCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        c.put(&p("/d"), Arc::new(vec![e("a"), e("c")]), t0, c.epoch());
        assert_eq!(c.lookup(&p("/d/a"), t0).unwrap().unwrap().name, "a");
        assert_eq!(c.lookup(&p("/d/b"), t0), Some(None), "known absent");
        assert_eq!(c.lookup(&p("/x/a"), t0), None, "unknown");
        assert!(c.get(&p("/d"), t0 + Duration::from_secs(10)).is_none(), "expired");
        c.put(&p("/d/sub"), Arc::new(vec![]), t0, c.epoch());
        c.forget_tree(&p("/d"));
        assert!(c.get(&p("/d/sub"), t0).is_none() && c.get(&p("/d"), t0).is_none());
    }

    #[test]
    fn zero_cache_time_caches_nothing() {
        let c = DirCache::new(Duration::ZERO);
        let t0 = Instant::now();
        c.put(&p("/"), Arc::new(vec![e("a")]), t0, c.epoch());
        assert!(c.get(&p("/"), t0).is_none());
    }
}
