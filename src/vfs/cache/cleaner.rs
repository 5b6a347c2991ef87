//! Eviction, every `--vfs-cache-poll-interval`: items unused for `--vfs-cache-max-age` go
//! first, then the least recently used until the bytes held are under `--vfs-cache-max-size`.
//! Open, dirty and uploading items are never evicted, so the cache may stay above the size
//! until they are closed and uploaded (as the spec warns).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::vfs::cache::{lock_map, Cache};

/// Starts the cleaner thread; it stops when the cache is dropped.
pub fn start(cache: &Arc<Cache>) {
    let weak = Arc::downgrade(cache);
    let interval = cache.opts.poll_interval.max(Duration::from_millis(100));
    let spawned = std::thread::Builder::new().name("ftpvfs-cache-cleaner".into()).spawn(move || run(&weak, interval));
    if let Err(e) = spawned {
        log::error!("vfs cache: cannot start the cleaner: {e}");
    }
}

fn run(weak: &Weak<Cache>, interval: Duration) {
    let mut next = Instant::now() + interval;
    loop {
        std::thread::sleep(Duration::from_millis(200).min(interval));
        let Some(cache) = weak.upgrade() else { return };
        if Instant::now() >= next {
            clean(&cache, SystemTime::now());
            next = Instant::now() + interval;
        }
    }
}

/// One pass of eviction.
pub fn clean(cache: &Cache, now: SystemTime) {
    let mut items = lock_map(&cache.items);
    let before_count = items.len();
    let before_bytes: u64 = items.values().map(|i| i.lock().meta.ranges.total()).sum();
    // (path, atime, bytes) of every item that may go.
    let mut idle: Vec<_> = items
        .iter()
        .filter_map(|(p, i)| {
            let st = i.lock();
            (st.opens == 0 && !st.meta.dirty && !st.uploading)
                .then(|| (p.clone(), st.meta.atime, st.meta.ranges.total()))
        })
        .collect();
    idle.sort_by_key(|(_, atime, _)| *atime);
    let mut total = before_bytes;
    let mut evict = Vec::new();
    for (path, atime, bytes) in idle {
        let too_old = now.duration_since(atime).unwrap_or_default() > cache.opts.max_age;
        let too_big = cache.opts.max_size.is_some_and(|max| total > max);
        if too_old || too_big {
            total -= bytes;
            evict.push(path);
        }
    }
    for path in &evict {
        items.remove(path);
        let _ = std::fs::remove_file(cache.data_path(path));
        let _ = std::fs::remove_file(cache.meta_path(path));
    }
    if !evict.is_empty() {
        log::info!(
            "vfs cache: cleaned: objects {} (was {before_count}), total size {total} (was {before_bytes})",
            items.len()
        );
    }
}
