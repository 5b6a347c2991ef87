//! The VFS: the synchronous facade that worker jobs call, over one `Backend`. In cache mode
//! off (the only mode in this release) it follows the spec's open rules: reads stream from the
//! backend, writes stream to it, and a write handle cannot seek except where the backend can
//! write in place (REST + STOR and APPE on local disk). It enforces `--read-only`, `--no-seek`
//! and `--no-modtime`. Directory caching and the disk cache come in later releases behind this
//! same facade.

pub mod path;

use std::sync::Arc;
use std::time::SystemTime;

pub use path::{PathError, VfsPath};

use crate::backend::{Backend, Entry, Error, ErrorKind, ReadStream, Result, WriteMode, WriteStream};

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
        }
    }
}

/// The virtual file system one server (or, later, one auth-proxy user) serves.
pub struct Vfs {
    backend: Box<dyn Backend>,
    options: VfsOptions,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfs").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Vfs {
    /// A VFS over `backend`.
    pub fn new(backend: Box<dyn Backend>, options: VfsOptions) -> Arc<Vfs> {
        Arc::new(Vfs { backend, options })
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
        let e = self.backend.stat(path)?;
        Ok(self.adjust(e, || self.backend.stat(&path.parent()).map(|d| d.mtime).unwrap_or(SystemTime::UNIX_EPOCH)))
    }

    /// Lists a directory, sorted by name.
    ///
    /// # Errors
    /// As [`Backend::list`].
    pub fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let entries = self.backend.list(path)?;
        if !self.options.no_modtime {
            return Ok(entries);
        }
        let dir_time = self.backend.stat(path).map(|d| d.mtime).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(entries.into_iter().map(|e| self.adjust(e, || dir_time)).collect())
    }

    /// Opens a file for reading at `offset`.
    ///
    /// # Errors
    /// `Unsupported` for a non-zero offset under `--no-seek`; otherwise as the backend.
    pub fn open_read(&self, path: &VfsPath, offset: u64) -> Result<Box<dyn ReadStream>> {
        if offset > 0 && self.options.no_seek {
            return Err(Error::with_detail(ErrorKind::Unsupported, path.as_str(), "Seeking is disabled (--no-seek)"));
        }
        self.backend.open_read(path, offset, None)
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
        if in_place && (self.options.no_seek || !self.backend.features().write_in_place) {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "Writing at an offset needs --vfs-cache-mode writes on this remote",
            ));
        }
        let mode = if mode == WriteMode::At(0) { WriteMode::Replace } else { mode };
        self.backend.open_write(path, mode)
    }

    /// Makes a directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn mkdir(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        self.backend.mkdir(path)
    }

    /// Removes an empty directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn rmdir(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        self.backend.rmdir(path)
    }

    /// Removes a file.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn remove(&self, path: &VfsPath) -> Result<()> {
        self.writable(path)?;
        self.backend.remove(path)
    }

    /// Renames a file or directory.
    ///
    /// # Errors
    /// `ReadOnly`, or as the backend.
    pub fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        self.writable(from)?;
        self.backend.rename(from, to)
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
        self.backend.set_modtime(path, mtime)
    }
}
