//! The union backend (rclone's `union`): several upstreams merged into one tree. Listings merge
//! every upstream (the first in config order wins a name); reads find the file with the search
//! policy; new files and directories go where the create policy says; removals, renames and
//! time changes reach every upstream the action policy picks. Upstreams tagged `:ro` are never
//! written, `:nc` never get new files. Policies as rclone names them: action `epall` (default)
//! or `all`; create `epmfs` (default), `mfs`, `ff`, `epff`, `all`, `epall`; search `ff`
//! (default) or `epff`. Free space for `mfs` comes from each upstream's AVBL figure (unknown
//! counts as unlimited, as in rclone) and is read again after `cache_time`.

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

/// The policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    /// `action_policy`: true for `all`, false for `epall`.
    pub action_all: bool,
    /// `create_policy`.
    pub create: CreatePolicy,
    /// `search_policy`: both `ff` and `epff` take the first upstream in config order that has
    /// the path (rclone's `ff` takes whichever answers first).
    pub search_first: bool,
}

/// `create_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatePolicy {
    /// Every eligible upstream.
    All {
        /// `ep*`: only upstreams whose copy of the parent directory exists.
        existing_path: bool,
    },
    /// The first eligible upstream in config order.
    FirstFound {
        /// As for `All`.
        existing_path: bool,
    },
    /// The eligible upstream with the most free space.
    MostFree {
        /// As for `All`.
        existing_path: bool,
    },
}

impl Policies {
    /// Reads rclone's policy names.
    ///
    /// # Errors
    /// A policy rclone has that this release does not (lfs, newest, rand...), or an unknown one.
    pub fn parse(action: &str, create: &str, search: &str) -> std::result::Result<Policies, String> {
        let action_all = match action {
            "" | "epall" => false,
            "all" => true,
            other => return Err(format!("union action_policy {other:?} is not supported yet (epall, all)")),
        };
        let create = match create {
            "" | "epmfs" => CreatePolicy::MostFree { existing_path: true },
            "mfs" => CreatePolicy::MostFree { existing_path: false },
            "ff" => CreatePolicy::FirstFound { existing_path: false },
            "epff" => CreatePolicy::FirstFound { existing_path: true },
            "all" => CreatePolicy::All { existing_path: false },
            "epall" => CreatePolicy::All { existing_path: true },
            other => {
                return Err(format!(
                    "union create_policy {other:?} is not supported yet (epmfs, mfs, ff, epff, all, epall)"
                ))
            }
        };
        let search_first = match search {
            "" | "ff" | "epff" => true,
            other => return Err(format!("union search_policy {other:?} is not supported yet (ff, epff)")),
        };
        Ok(Policies { action_all, create, search_first })
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
    free: Mutex<BTreeMap<usize, (Instant, Option<u64>)>>,
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
            free: Mutex::default(),
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

    /// Where an action (remove, rename, set time) on `path` applies: the writable upstreams
    /// that hold it (`epall`), or every writable upstream (`all`).
    fn action_targets(&self, path: &VfsPath) -> Result<Vec<usize>> {
        let holders = self.holders(path)?;
        if holders.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        let writable: Vec<usize> =
            holders.iter().map(|(i, _)| *i).filter(|i| self.upstreams[*i].access != Access::ReadOnly).collect();
        if writable.is_empty() {
            return Err(Error::with_detail(ErrorKind::ReadOnly, path.as_str(), "Only read-only upstreams hold this"));
        }
        if self.policies.action_all {
            return Ok((0..self.upstreams.len()).filter(|i| self.upstreams[*i].access != Access::ReadOnly).collect());
        }
        Ok(writable)
    }

    fn free_space(&self, i: usize) -> Option<u64> {
        let mut cache = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, free)) = cache.get(&i) {
            if at.elapsed() < self.cache_time {
                return *free;
            }
        }
        let free = self.upstreams[i].backend.available(&VfsPath::root()).ok().flatten();
        cache.insert(i, (Instant::now(), free));
        free
    }

    /// Where something new at `path` goes: the create policy over the upstreams that may get
    /// new files (and, for `ep*`, whose copy of the parent exists).
    fn create_targets(&self, path: &VfsPath) -> Result<Vec<usize>> {
        let parent = path.parent();
        let existing = |i: usize| parent.is_root() || self.upstreams[i].backend.stat(&parent).is_ok_and(|e| e.is_dir());
        let eligible: Vec<usize> =
            (0..self.upstreams.len()).filter(|i| self.upstreams[*i].access == Access::ReadWrite).collect();
        let ep = match self.policies.create {
            CreatePolicy::All { existing_path }
            | CreatePolicy::FirstFound { existing_path }
            | CreatePolicy::MostFree { existing_path } => existing_path,
        };
        let candidates: Vec<usize> =
            if ep { eligible.into_iter().filter(|i| existing(*i)).collect() } else { eligible };
        let chosen: Vec<usize> = match self.policies.create {
            CreatePolicy::All { .. } => candidates,
            CreatePolicy::FirstFound { .. } => candidates.into_iter().take(1).collect(),
            // Unknown free space counts as unlimited; ties go to the first in config order.
            CreatePolicy::MostFree { .. } => candidates
                .iter()
                .copied()
                .max_by(|a, b| {
                    let fa = self.free_space(*a).unwrap_or(u64::MAX);
                    let fb = self.free_space(*b).unwrap_or(u64::MAX);
                    fa.cmp(&fb).then(b.cmp(a))
                })
                .into_iter()
                .collect(),
        };
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
        let mut holders = self.holders(path)?;
        if holders.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        Ok(holders.remove(0).1)
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let mut merged: BTreeMap<String, Entry> = BTreeMap::new();
        let mut found = false;
        for u in &self.upstreams {
            match u.backend.list(path) {
                Ok(entries) => {
                    found = true;
                    for e in entries {
                        merged.entry(e.name.clone()).or_insert(e);
                    }
                }
                Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::NotADirectory) => {}
                Err(e) => return Err(e),
            }
        }
        if !found {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        Ok(merged.into_values().collect())
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let holders = self.holders(path)?;
        let (i, _) = holders.first().ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))?;
        self.upstreams[*i].backend.open_read(path, offset, len)
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        // An existing file is updated where it is (the first writable holder); a new one goes
        // where the create policy says (the first chosen upstream).
        let holders = self.holders(path)?;
        if holders.iter().any(|(_, e)| e.is_dir()) {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let target = match holders.iter().find(|(i, _)| self.upstreams[*i].access != Access::ReadOnly) {
            Some((i, _)) => *i,
            None if !holders.is_empty() => {
                return Err(Error::with_detail(
                    ErrorKind::ReadOnly,
                    path.as_str(),
                    "Only read-only upstreams hold this",
                ))
            }
            None => self.create_targets(path)?[0],
        };
        self.upstreams[target].backend.open_write(path, mode)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn policies_have_rclones_names_and_defaults() {
        let d = Policies::parse("", "", "").unwrap();
        assert_eq!(
            d,
            Policies { action_all: false, create: CreatePolicy::MostFree { existing_path: true }, search_first: true }
        );
        assert_eq!(
            Policies::parse("all", "ff", "epff").unwrap().create,
            CreatePolicy::FirstFound { existing_path: false }
        );
        for (a, c, s) in [("eplus", "", ""), ("", "lfs", ""), ("", "", "newest")] {
            assert!(Policies::parse(a, c, s).unwrap_err().contains("not supported yet"));
        }
    }
}
