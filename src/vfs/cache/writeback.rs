//! Write-back: dirty items are uploaded `--vfs-write-back` after their last close, by
//! `--transfers` uploader threads. A failed upload is retried after a wait that doubles each
//! time (from `--vfs-write-back`, at least 1 s) up to one minute, as the spec says; the file
//! stays listed with its new size meanwhile. An item written again while uploading stays dirty
//! (its generation changed) and is queued again.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::backend::{ErrorKind, WriteMode};
use crate::vfs::cache::{lock_map, meta, Cache};
use crate::vfs::VfsPath;

/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Items waiting for upload: when each is due, and the wait used for its last attempt.
#[derive(Default)]
pub struct Queue {
    due: HashMap<VfsPath, (Instant, Duration)>,
}

impl Queue {
    /// Queues (or re-times) `path`.
    pub fn push(&mut self, path: VfsPath, due: Instant, delay: Duration) {
        self.due.insert(path, (due, delay));
    }

    /// Drops `path` from the queue.
    pub fn remove(&mut self, path: &VfsPath) {
        self.due.remove(path);
    }

    /// Moves a queued item to its new name.
    pub fn rename(&mut self, from: &VfsPath, to: &VfsPath) {
        if let Some(v) = self.due.remove(from) {
            self.due.insert(to.clone(), v);
        }
    }

    /// Queued paths and when each is due.
    pub fn entries(&self) -> impl Iterator<Item = (&VfsPath, Instant)> {
        self.due.iter().map(|(p, (d, _))| (p, *d))
    }

    /// The earliest due item: taken out if due by `now`, else when it will be.
    fn next(&mut self, now: Instant) -> Result<(VfsPath, Duration), Option<Instant>> {
        let Some((path, (due, delay))) = self.due.iter().min_by_key(|(_, (d, _))| *d).map(|(p, v)| (p.clone(), *v))
        else {
            return Err(None);
        };
        if due > now {
            return Err(Some(due));
        }
        self.due.remove(&path);
        Ok((path, delay))
    }
}

/// Starts the uploader threads; they stop when the cache is dropped.
pub fn start(cache: &Arc<Cache>) {
    for i in 0..cache.opts.transfers.max(1) {
        let weak = Arc::downgrade(cache);
        let spawned = std::thread::Builder::new().name(format!("ftpvfs-upload-{i}")).spawn(move || uploader(&weak));
        if let Err(e) = spawned {
            log::error!("vfs cache: cannot start an uploader: {e}");
        }
    }
}

fn uploader(weak: &Weak<Cache>) {
    loop {
        let Some(cache) = weak.upgrade() else { return };
        let job = {
            let mut queue = lock_map(&cache.queue);
            match queue.next(Instant::now()) {
                Ok(job) => Some(job),
                Err(next) => {
                    // Wake at the next due time, or after a second to notice a dropped cache.
                    let wait = next.map_or(Duration::from_secs(1), |t| t.saturating_duration_since(Instant::now()));
                    let _ = cache.queue_changed.wait_timeout(queue, wait.min(Duration::from_secs(1)));
                    None
                }
            }
        };
        if let Some((path, delay)) = job {
            upload(&cache, &path, delay);
        }
    }
}

/// Uploads one item, and requeues it on failure or if it changed meanwhile.
fn upload(cache: &Cache, path: &VfsPath, delay: Duration) {
    let Some(item) = lock_map(&cache.items).get(path).cloned() else { return };
    let (generation, mtime) = {
        let mut st = item.lock();
        if !st.meta.dirty || st.uploading || st.removed {
            return;
        }
        if st.renaming {
            drop(st);
            cache.enqueue(path, Instant::now() + Duration::from_millis(200), delay);
            return;
        }
        st.uploading = true;
        (st.generation, st.meta.mtime)
    };
    let result = copy_to_remote(cache, path, mtime);
    let mut st = item.lock();
    st.uploading = false;
    item.uploaded.notify_all();
    match result {
        Ok(fingerprint) => {
            if st.removed {
                drop(st);
                let _ = cache.backend.remove(path);
                return;
            }
            // The remote's listings from before the upload are stale: forget them before the
            // item stops speaking for the file.
            cache.dirs.forget_dir(&path.parent());
            if st.generation == generation {
                st.meta.dirty = false;
                st.meta.fingerprint = fingerprint;
            }
            let (meta, still_dirty) = (st.meta.clone(), st.meta.dirty);
            drop(st);
            cache.save_meta(path, &meta);
            log::info!("vfs cache: uploaded {path} ({} bytes)", meta.size);
            if still_dirty {
                cache.enqueue(path, Instant::now() + cache.opts.write_back, cache.opts.write_back);
            }
        }
        Err(e) => {
            drop(st);
            let next = if delay.is_zero() { Duration::from_secs(1) } else { delay.saturating_mul(2) };
            let next = next.clamp(Duration::from_secs(1), MAX_RETRY_DELAY);
            log::warn!("vfs cache: upload of {path} failed: {e}; retrying in {}s", next.as_secs());
            cache.enqueue(path, Instant::now() + next, next);
        }
    }
}

/// Copies the item's data file to the remote and sets its modtime; returns the remote's new
/// fingerprint.
fn copy_to_remote(cache: &Cache, path: &VfsPath, mtime: std::time::SystemTime) -> crate::backend::Result<String> {
    let data = cache.data_path(path);
    let mut file = std::fs::File::open(&data).map_err(|e| crate::backend::Error::from_io(e, path.as_str()))?;
    let size = file.metadata().map_err(|e| crate::backend::Error::from_io(e, path.as_str()))?.len();
    if let Some(done) = cache.backend.upload_file(path, &file, size, mtime) {
        done?;
        let remote = cache.backend.stat(path)?;
        return Ok(meta::fingerprint(remote.size, remote.mtime));
    }
    let mut out = cache.backend.open_write(path, WriteMode::Replace)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| crate::backend::Error::from_io(e, path.as_str()))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
    }
    out.commit()?;
    match cache.backend.set_modtime(path, mtime) {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::Unsupported => {}
        Err(e) => log::debug!("vfs cache: keeping the remote's modtime of {path}: {e}"),
    }
    let remote = cache.backend.stat(path)?;
    Ok(meta::fingerprint(remote.size, remote.mtime))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_gives_the_earliest_due_item() {
        let mut q = Queue::default();
        let now = Instant::now();
        let (a, b) = (VfsPath::root().resolve("a").unwrap(), VfsPath::root().resolve("b").unwrap());
        q.push(a.clone(), now + Duration::from_secs(5), Duration::ZERO);
        q.push(b.clone(), now + Duration::from_secs(1), Duration::ZERO);
        assert_eq!(q.next(now).unwrap_err(), Some(now + Duration::from_secs(1)));
        assert_eq!(q.next(now + Duration::from_secs(2)).unwrap().0, b);
        q.rename(&a, &b);
        assert_eq!(q.next(now + Duration::from_secs(9)).unwrap().0, b);
        assert_eq!(q.next(now).unwrap_err(), None);
    }
}
