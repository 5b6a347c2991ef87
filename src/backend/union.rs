//! The union backend (rclone's `union`): several upstreams merged into one tree. Listings merge
//! every upstream (a name several hold shows the copy the search policy picks); reads use that
//! copy; new files and directories go where the create policy says; removals, renames and time
//! changes reach the upstreams the action policy picks. Upstreams tagged `:ro` are never
//! written, `:nc` never get new files. rclone's policies: `all`, `ff`, `mfs`, `lfs`, `lus`,
//! `lno`, `rand`, each also `ep*` (existing path only), and `newest`; defaults action `epall`,
//! create `epmfs`, search `ff`. Free and used space come from each upstream and are read again
//! after `cache_time`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::backend::{
    check_rename, Backend, Entry, Error, ErrorKind, Features, ReadStream, Result, Usage, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

/// How an upstream may be used (`:ro`, `:nc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Never written (`:ro`).
    ReadOnly,
    /// Written, but no new files (`:nc`).
    NoCreate,
}

/// How a policy picks among the upstreams it considers (rclone's policy names without `ep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every one (`all`; for a search, the first).
    All,
    /// The first in config order (`ff`).
    First,
    /// The most free space (`mfs`; unknown counts as unlimited).
    MostFree,
    /// The least free space (`lfs`; unknown counts as unlimited).
    LeastFree,
    /// The least used space (`lus`; unknown counts as 0).
    LeastUsed,
    /// The fewest objects (`lno`; no remote here counts objects, so as rclone with such
    /// upstreams: every one counts 0, and the first wins).
    LeastObjects,
    /// One at random (`rand`).
    Random,
    /// The one whose file (for a creation: whose parent directory) is the newest (`newest`).
    Newest,
}

/// One policy: what it picks, and whether it considers only upstreams where the path (for a
/// creation: its parent directory) exists (`ep*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How it picks.
    pub select: Select,
    /// `ep*`: existing path only.
    pub existing_path: bool,
}

impl Policy {
    /// Reads one of rclone's policy names.
    ///
    /// # Errors
    /// A name rclone does not have.
    pub fn parse(name: &str) -> std::result::Result<Policy, String> {
        let (existing_path, rest) = match name.strip_prefix("ep") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let select = match rest {
            "all" => Select::All,
            "ff" => Select::First,
            "mfs" => Select::MostFree,
            "lfs" => Select::LeastFree,
            "lus" => Select::LeastUsed,
            "lno" => Select::LeastObjects,
            "rand" => Select::Random,
            "newest" if !existing_path => Select::Newest,
            _ => {
                return Err(format!(
                    "{name:?} is not a union policy (all, epall, ff, epff, mfs, epmfs, lfs, eplfs, lus, eplus, lno, eplno, rand, eprand, newest)"
                ))
            }
        };
        // newest implies an existing path, as in rclone.
        Ok(Policy { select, existing_path: existing_path || select == Select::Newest })
    }
}

/// The three policies of a union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    /// `action_policy` (`epall`): where removals, renames and time changes apply.
    pub action: Policy,
    /// `create_policy` (`epmfs`): where new files and directories go.
    pub create: Policy,
    /// `search_policy` (`ff`): which copy reads, stats and listings show.
    pub search: Policy,
    /// `min_free_space` (1Gi): `lfs` and `eplfs` pass over upstreams with less free space.
    pub min_free_space: u64,
}

impl Policies {
    /// Reads rclone's policy names (empty: rclone's defaults).
    ///
    /// # Errors
    /// A name that is not a policy, named with the key it was given for.
    pub fn parse(action: &str, create: &str, search: &str) -> std::result::Result<Policies, String> {
        let one = |key: &str, value: &str, default: &str| {
            Policy::parse(if value.is_empty() { default } else { value }).map_err(|e| format!("union {key}: {e}"))
        };
        Ok(Policies {
            action: one("action_policy", action, "epall")?,
            create: one("create_policy", create, "epmfs")?,
            search: one("search_policy", search, "ff")?,
            min_free_space: 1 << 30,
        })
    }
}

/// One upstream.
pub struct Upstream {
    backend: Arc<dyn Backend>,
    access: Access,
    name: String,
}

/// Upstreams merged into one tree.
pub struct UnionBackend {
    upstreams: Vec<Upstream>,
    policies: Policies,
    cache_time: Duration,
    /// Each upstream's free and used bytes, when last read.
    space: Mutex<BTreeMap<usize, (Instant, Space)>>,
}

/// What an upstream says of its space (`None`: it does not know).
#[derive(Debug, Clone, Copy, Default)]
struct Space {
    free: Option<u64>,
    used: Option<u64>,
}

impl UnionBackend {
    /// The union of `upstreams` (name for messages, backend, access), in config order.
    pub fn new(
        upstreams: Vec<(String, Box<dyn Backend>, Access)>,
        policies: Policies,
        cache_time: Duration,
    ) -> UnionBackend {
        UnionBackend {
            upstreams: upstreams
                .into_iter()
                .map(|(name, b, access)| Upstream { backend: Arc::from(b), access, name })
                .collect(),
            policies,
            cache_time,
            space: Mutex::default(),
        }
    }

    /// The upstreams holding `path`, in config order, with what each says about it.
    fn holders(&self, path: &VfsPath) -> Result<Vec<(usize, Entry)>> {
        let mut found = Vec::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            match u.backend.stat(path) {
                Ok(e) => found.push((i, e)),
                Err(e) if e.kind == ErrorKind::NotFound || e.kind == ErrorKind::NotADirectory => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    /// Where an action (remove, rename, set time) on `path` applies: the action policy over
    /// the writable upstreams that hold it (`all`: over every writable upstream).
    fn action_targets(&self, path: &VfsPath) -> Result<Vec<usize>> {
        let holders = self.holders(path)?;
        if holders.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        let writable: Vec<(usize, Option<SystemTime>)> = holders
            .iter()
            .filter(|(i, _)| self.upstreams[*i].access != Access::ReadOnly)
            .map(|(i, e)| (*i, Some(e.mtime)))
            .collect();
        if writable.is_empty() {
            return Err(Error::with_detail(ErrorKind::ReadOnly, path.as_str(), "Only read-only upstreams hold this"));
        }
        let policy = self.policies.action;
        if policy.select == Select::All && !policy.existing_path {
            return Ok((0..self.upstreams.len()).filter(|i| self.upstreams[*i].access != Access::ReadOnly).collect());
        }
        Ok(self.select(policy.select, writable))
    }

    /// The copy of `path` that reads and stats use: the search policy over the holders.
    fn search(&self, holders: &[(usize, Entry)]) -> Option<usize> {
        let candidates = holders.iter().map(|(i, e)| (*i, Some(e.mtime))).collect();
        let select = match self.policies.search.select {
            Select::All => Select::First,
            other => other,
        };
        self.select(select, candidates).first().copied()
    }

    fn space(&self, i: usize) -> Space {
        let mut cache = self.space.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, space)) = cache.get(&i) {
            if at.elapsed() < self.cache_time {
                return *space;
            }
        }
        let backend = &self.upstreams[i].backend;
        let usage = backend.usage().unwrap_or_default();
        let free = backend.available(&VfsPath::root()).ok().flatten().or(usage.free);
        let space = Space { free, used: usage.used };
        cache.insert(i, (Instant::now(), space));
        space
    }

    fn free_space(&self, i: usize) -> Option<u64> {
        self.space(i).free
    }

    /// Picks among `candidates` (upstream, modification time of what it holds there), in
    /// config order; ties go to the first, as in rclone.
    fn select(&self, select: Select, candidates: Vec<(usize, Option<SystemTime>)>) -> Vec<usize> {
        let by = |key: &dyn Fn(usize) -> u64, most: bool| -> Vec<usize> {
            let mut best: Option<(usize, u64)> = None;
            for (i, _) in &candidates {
                let k = key(*i);
                let better = match best {
                    None => true,
                    Some((_, b)) => (most && k > b) || (!most && k < b),
                };
                if better {
                    best = Some((*i, k));
                }
            }
            best.map(|(i, _)| i).into_iter().collect()
        };
        match select {
            Select::All => candidates.into_iter().map(|(i, _)| i).collect(),
            Select::First => candidates.into_iter().take(1).map(|(i, _)| i).collect(),
            Select::MostFree => by(&|i| self.space(i).free.unwrap_or(u64::MAX), true),
            Select::LeastFree => {
                // rclone: below min_free_space an upstream is not considered (unknown: unlimited).
                let roomy: Vec<_> = candidates
                    .iter()
                    .copied()
                    .filter(|(i, _)| self.space(*i).free.is_none_or(|f| f >= self.policies.min_free_space))
                    .collect();
                self.select_least_free(roomy)
            }
            Select::LeastUsed => by(&|i| self.space(i).used.unwrap_or(0), false),
            Select::LeastObjects => candidates.into_iter().take(1).map(|(i, _)| i).collect(),
            Select::Random => {
                if candidates.is_empty() {
                    return Vec::new();
                }
                let pick = random_below(candidates.len());
                vec![candidates[pick].0]
            }
            Select::Newest => {
                let mut best: Option<(usize, SystemTime)> = None;
                for (i, t) in &candidates {
                    let t = t.unwrap_or(SystemTime::UNIX_EPOCH);
                    if best.is_none_or(|(_, b)| t > b) {
                        best = Some((*i, t));
                    }
                }
                best.map(|(i, _)| i).into_iter().collect()
            }
        }
    }

    fn select_least_free(&self, candidates: Vec<(usize, Option<SystemTime>)>) -> Vec<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, _) in candidates {
            let free = self.space(i).free.unwrap_or(u64::MAX);
            if best.is_none_or(|(_, b)| free < b) {
                best = Some((i, free));
            }
        }
        best.map(|(i, _)| i).into_iter().collect()
    }

    /// Where something new at `path` goes: the create policy over the upstreams that may get
    /// new files (for `ep*` and `newest`, those whose copy of the parent directory exists).
    fn create_targets(&self, path: &VfsPath) -> Result<Vec<usize>> {
        let parent = path.parent();
        let policy = self.policies.create;
        let mut candidates = Vec::new();
        for i in (0..self.upstreams.len()).filter(|i| self.upstreams[*i].access == Access::ReadWrite) {
            if !policy.existing_path {
                candidates.push((i, None));
                continue;
            }
            match self.upstreams[i].backend.stat(&parent) {
                Ok(e) if e.is_dir() => candidates.push((i, Some(e.mtime))),
                Ok(_) => {}
                Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::NotADirectory) => {}
                Err(e) => return Err(e),
            }
        }
        let chosen = self.select(policy.select, candidates);
        if chosen.is_empty() {
            return Err(Error::with_detail(
                ErrorKind::NotFound,
                path.as_str(),
                "No writable upstream holds the directory for this",
            ));
        }
        Ok(chosen)
    }

    /// Applies `op` to each upstream in `targets`; the first error wins, after trying all.
    fn each(&self, targets: &[usize], mut op: impl FnMut(&Upstream) -> Result<()>) -> Result<()> {
        let mut first_error = None;
        for i in targets {
            if let Err(e) = op(&self.upstreams[*i]) {
                log::warn!("union: upstream {}: {e}", self.upstreams[*i].name);
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Backend for UnionBackend {
    fn features(&self) -> Features {
        Features { write_in_place: self.upstreams.iter().all(|u| u.backend.features().write_in_place) }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        let holders = self.holders(path)?;
        let chosen = self.search(&holders).ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))?;
        holders
            .into_iter()
            .find(|(i, _)| *i == chosen)
            .map(|(_, e)| e)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        // Each name with every upstream's entry for it; the search policy picks which shows.
        let mut merged: BTreeMap<String, Vec<(usize, Entry)>> = BTreeMap::new();
        let mut found = false;
        for (i, u) in self.upstreams.iter().enumerate() {
            match u.backend.list(path) {
                Ok(entries) => {
                    found = true;
                    for e in entries {
                        merged.entry(e.name.clone()).or_default().push((i, e));
                    }
                }
                Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::NotADirectory) => {}
                Err(e) => return Err(e),
            }
        }
        if !found {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        Ok(merged
            .into_values()
            .filter_map(|mut copies| {
                let chosen = if copies.len() == 1 { copies[0].0 } else { self.search(&copies)? };
                let at = copies.iter().position(|(i, _)| *i == chosen)?;
                Some(copies.swap_remove(at).1)
            })
            .collect())
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let holders = self.holders(path)?;
        let i = self.search(&holders).ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))?;
        self.upstreams[i].backend.open_read(path, offset, len)
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        // An existing file is updated where it is (the first writable holder); a new one goes
        // where the create policy says (the first chosen upstream).
        let holders = self.holders(path)?;
        if holders.iter().any(|(_, e)| e.is_dir()) {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        if holders.is_empty() {
            let target = self.create_targets(path)?[0];
            return self.upstreams[target].backend.open_write(path, mode);
        }
        // An existing file: every writable copy the action policy picks is updated, as
        // rclone's union updates each (epall: every writable copy).
        let writable: Vec<(usize, Option<SystemTime>)> = holders
            .iter()
            .filter(|(i, _)| self.upstreams[*i].access != Access::ReadOnly)
            .map(|(i, e)| (*i, Some(e.mtime)))
            .collect();
        if writable.is_empty() {
            return Err(Error::with_detail(ErrorKind::ReadOnly, path.as_str(), "Only read-only upstreams hold this"));
        }
        let targets = self.select(self.policies.action.select, writable);
        let mut streams = Vec::with_capacity(targets.len());
        for i in targets {
            match self.upstreams[i].backend.open_write(path, mode) {
                Ok(w) => streams.push((self.upstreams[i].name.clone(), w)),
                Err(e) => {
                    streams.into_iter().for_each(|(_, w): (String, Box<dyn WriteStream>)| w.abort());
                    return Err(e);
                }
            }
        }
        if streams.len() == 1 {
            return Ok(streams.remove(0).1);
        }
        Ok(Box::new(CopiesWrite { streams }))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        if !self.holders(path)?.is_empty() {
            return Err(Error::new(ErrorKind::AlreadyExists, path.as_str()));
        }
        let targets = self.create_targets(path)?;
        self.each(&targets, |u| u.backend.mkdir(path))
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        if !self.list(path)?.is_empty() {
            return Err(Error::new(ErrorKind::NotEmpty, path.as_str()));
        }
        let targets = self.action_targets(path)?;
        self.each(&targets, |u| match u.backend.rmdir(path) {
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            other => other,
        })
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let targets = self.action_targets(path)?;
        self.each(&targets, |u| match u.backend.remove(path) {
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            other => other,
        })
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let targets = self.action_targets(from)?;
        self.each(&targets, |u| {
            if u.backend.stat(from).is_err() {
                return Ok(());
            }
            let parent = to.parent();
            if !parent.is_root() && u.backend.stat(&parent).is_err() {
                // The target directory lives on another upstream: make it here too.
                let mut dir = VfsPath::root();
                for c in parent.components() {
                    dir = dir.child(c).map_err(|_| Error::new(ErrorKind::InvalidName, to.as_str()))?;
                    if u.backend.stat(&dir).is_err() {
                        u.backend.mkdir(&dir)?;
                    }
                }
            }
            u.backend.rename(from, to)
        })
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let targets = self.action_targets(path)?;
        self.each(&targets, |u| match u.backend.set_modtime(path, mtime) {
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            other => other,
        })
    }

    fn usage(&self) -> Result<Usage> {
        let mut total = Usage { total: Some(0), used: Some(0), free: Some(0) };
        for u in &self.upstreams {
            let part = u.backend.usage()?;
            total.total = total.total.zip(part.total).map(|(a, b)| a + b);
            total.used = total.used.zip(part.used).map(|(a, b)| a + b);
            total.free = total.free.zip(part.free).map(|(a, b)| a + b);
        }
        Ok(total)
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        let _ = self.stat(path)?;
        Ok((0..self.upstreams.len())
            .filter(|i| self.upstreams[*i].access == Access::ReadWrite)
            .map(|i| self.free_space(i))
            .try_fold(0u64, |acc, f| f.map(|f| acc.saturating_add(f))))
    }
}

/// One upload written to several upstreams' copies of a file. A write that fails fails the
/// upload (every copy is then aborted); at the end each copy is committed, and one that fails
/// is logged and makes the upload report its error.
struct CopiesWrite {
    streams: Vec<(String, Box<dyn WriteStream>)>,
}

impl WriteStream for CopiesWrite {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        for (_, w) in &mut self.streams {
            w.write_all(buf)?;
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64> {
        let (mut written, mut first_error) = (0, None);
        for (name, w) in self.streams {
            match w.commit() {
                Ok(n) => written = n,
                Err(e) => {
                    log::warn!("union: upstream {name}: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(written), Err)
    }

    fn abort(self: Box<Self>) {
        for (_, w) in self.streams {
            w.abort();
        }
    }
}

/// A number below `n` (> 0), from the standard library's per-process random hash keys.
fn random_below(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    (h.finish() % n as u64) as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn policies_have_rclones_names_and_defaults() {
        let d = Policies::parse("", "", "").unwrap();
        let p = |select, existing_path| Policy { select, existing_path };
        assert_eq!(d.action, p(Select::All, true));
        assert_eq!(d.create, p(Select::MostFree, true));
        assert_eq!(d.search, p(Select::First, false));
        let q = Policies::parse("all", "lfs", "newest").unwrap();
        assert_eq!(
            (q.action, q.create, q.search),
            (p(Select::All, false), p(Select::LeastFree, false), p(Select::Newest, true))
        );
        assert_eq!(Policy::parse("eprand").unwrap(), p(Select::Random, true));
        assert_eq!(Policy::parse("lno").unwrap(), p(Select::LeastObjects, false));
        for (a, c, s) in [("mostly", "", ""), ("", "epnewest", ""), ("", "", "ep")] {
            assert!(Policies::parse(a, c, s).unwrap_err().contains("is not a union policy"));
        }
    }

    #[test]
    fn random_picks_stay_in_range_and_vary() {
        let picks: std::collections::BTreeSet<usize> = (0..200).map(|_| random_below(3)).collect();
        assert_eq!(picks, [0, 1, 2].into_iter().collect());
    }
}
