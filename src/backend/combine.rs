//! The combine backend (rclone's `combine`): several remotes side by side, each under a
//! directory of the root (`upstreams = "photos=s3:bucket" "docs=/srv/docs"`). The root lists
//! one directory per upstream and holds nothing else; every other path belongs to the upstream
//! its first component names. A rename between upstreams copies the file and removes the
//! original (directories cannot move between upstreams).

use std::sync::Arc;
use std::time::SystemTime;

use crate::backend::{
    check_rename, Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, Usage, WriteMode,
    WriteStream,
};
use crate::vfs::VfsPath;

/// Upstreams by directory name.
pub struct CombineBackend {
    upstreams: Vec<(String, Arc<dyn Backend>)>,
}

impl CombineBackend {
    /// The backend over `upstreams` (directory name, opened backend), in any order.
    pub fn new(mut upstreams: Vec<(String, Box<dyn Backend>)>) -> CombineBackend {
        upstreams.sort_by(|a, b| a.0.cmp(&b.0));
        CombineBackend { upstreams: upstreams.into_iter().map(|(n, b)| (n, Arc::from(b))).collect() }
    }

    /// The upstream and the path inside it; `None` for the root.
    fn locate(&self, path: &VfsPath) -> Result<Option<(&Arc<dyn Backend>, VfsPath)>> {
        let mut parts = path.components();
        let Some(first) = parts.next() else { return Ok(None) };
        let (_, backend) = self
            .upstreams
            .iter()
            .find(|(n, _)| n == first)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))?;
        let mut inner = VfsPath::root();
        for p in parts {
            inner = inner.child(p).map_err(|_| Error::new(ErrorKind::InvalidName, path.as_str()))?;
        }
        Ok(Some((backend, inner)))
    }

    fn upstream(&self, path: &VfsPath) -> Result<(&Arc<dyn Backend>, VfsPath)> {
        self.locate(path)?.ok_or_else(|| {
            Error::with_detail(
                ErrorKind::PermissionDenied,
                "/",
                "The root of a combine remote holds only its upstreams",
            )
        })
    }

    fn relabel(e: Error, path: &VfsPath) -> Error {
        Error { path: path.as_str().into(), ..e }
    }
}

fn root_time() -> SystemTime {
    // rclone's --default-time for directories it cannot date.
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800)
}

impl Backend for CombineBackend {
    fn features(&self) -> Features {
        Features { write_in_place: self.upstreams.iter().all(|(_, b)| b.features().write_in_place) }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        match self.locate(path)? {
            None => Ok(Entry { name: String::new(), kind: EntryKind::Dir, size: 0, mtime: root_time() }),
            Some((b, inner)) if inner.is_root() => b.stat(&inner).map(|mut e| {
                e.name = path.name().to_string();
                e
            }),
            Some((b, inner)) => b.stat(&inner).map_err(|e| Self::relabel(e, path)),
        }
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        match self.locate(path)? {
            None => Ok(self
                .upstreams
                .iter()
                .map(|(n, _)| Entry { name: n.clone(), kind: EntryKind::Dir, size: 0, mtime: root_time() })
                .collect()),
            Some((b, inner)) => b.list(&inner).map_err(|e| Self::relabel(e, path)),
        }
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let (b, inner) = self.upstream(path)?;
        b.open_read(&inner, offset, len).map_err(|e| Self::relabel(e, path))
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        let (b, inner) = self.upstream(path)?;
        if inner.is_root() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        b.open_write(&inner, mode).map_err(|e| Self::relabel(e, path))
    }

    fn upload_file(&self, path: &VfsPath, file: &std::fs::File, size: u64, mtime: SystemTime) -> Option<Result<()>> {
        match self.upstream(path) {
            Ok((b, inner)) => b.upload_file(&inner, file, size, mtime).map(|r| r.map_err(|e| Self::relabel(e, path))),
            Err(e) => Some(Err(e)),
        }
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        match self.locate(path) {
            Ok(Some((b, inner))) if !inner.is_root() => b.mkdir(&inner).map_err(|e| Self::relabel(e, path)),
            Ok(_) => Err(Error::new(ErrorKind::AlreadyExists, path.as_str())),
            Err(_) => Err(Error::with_detail(
                ErrorKind::PermissionDenied,
                path.as_str(),
                "The root of a combine remote holds only its upstreams",
            )),
        }
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        let (b, inner) = self.upstream(path)?;
        if inner.is_root() {
            return Err(Error::with_detail(
                ErrorKind::PermissionDenied,
                path.as_str(),
                "An upstream cannot be removed",
            ));
        }
        b.rmdir(&inner).map_err(|e| Self::relabel(e, path))
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let (b, inner) = self.upstream(path)?;
        b.remove(&inner).map_err(|e| Self::relabel(e, path))
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let (src, src_path) = self.upstream(from)?;
        let (dst, dst_path) = self.upstream(to)?;
        if src_path.is_root() || dst_path.is_root() {
            return Err(Error::with_detail(
                ErrorKind::PermissionDenied,
                from.as_str(),
                "An upstream cannot be renamed",
            ));
        }
        if Arc::ptr_eq(src, dst) {
            return src.rename(&src_path, &dst_path).map_err(|e| Self::relabel(e, from));
        }
        // Between upstreams: copy the file, keep its time, then remove the original.
        let entry = src.stat(&src_path).map_err(|e| Self::relabel(e, from))?;
        if entry.is_dir() {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                from.as_str(),
                "Directories cannot move between the upstreams of a combine remote",
            ));
        }
        let mut reader = src.open_read(&src_path, 0, None).map_err(|e| Self::relabel(e, from))?;
        let mut writer = dst.open_write(&dst_path, WriteMode::Replace).map_err(|e| Self::relabel(e, to))?;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    writer.abort();
                    return Err(Self::relabel(e, from));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write_all(&buf[..n]) {
                writer.abort();
                return Err(Self::relabel(e, to));
            }
        }
        let written = writer.commit().map_err(|e| Self::relabel(e, to))?;
        if written != entry.size {
            return Err(Error::with_detail(ErrorKind::Transient, from.as_str(), "The file changed while being moved"));
        }
        if let Err(e) = dst.set_modtime(&dst_path, entry.mtime) {
            log::debug!("combine: keeping the new time of {to}: {e}");
        }
        src.remove(&src_path).map_err(|e| Self::relabel(e, from))
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let (b, inner) = self.upstream(path)?;
        b.set_modtime(&inner, mtime).map_err(|e| Self::relabel(e, path))
    }

    fn usage(&self) -> Result<Usage> {
        Ok(Usage::default())
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        match self.locate(path)? {
            None => Ok(None),
            Some((b, inner)) => b.available(&inner).map_err(|e| Self::relabel(e, path)),
        }
    }
}
