//! `Counted`: a backend that counts the calls made to the backend it wraps and their failures,
//! by operation, for `/metrics` (`ftpvfs_backend_operations_total`,
//! `ftpvfs_backend_errors_total`). The VFS wraps every remote in it, so each remote type is
//! counted the same way.
//!
//! A failure is a storage failure (a full disk, a refusal, a timeout, a server error), not an
//! answer about names (not found, already there, not empty, a directory where a file was
//! meant...), which clients cause every day and which say nothing about the remote's health.
//! Errors that surface later, from a stream (a read or an upload's final commit), count
//! under the operation that opened it only when the open itself failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::backend::{Backend, Entry, ErrorKind, Features, ReadStream, Result, Usage, WriteMode, WriteStream};
use crate::vfs::VfsPath;

/// The operations counted, in the order of [`Counted::operations`].
pub const OPERATIONS: [&str; 10] =
    ["stat", "list", "open_read", "open_write", "mkdir", "rmdir", "remove", "rename", "set_modtime", "upload_file"];

/// A backend whose calls are counted.
pub struct Counted {
    inner: Box<dyn Backend>,
    calls: [AtomicU64; OPERATIONS.len()],
    errors: [AtomicU64; OPERATIONS.len()],
}

/// One operation's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationCount {
    /// Its name, as in [`OPERATIONS`].
    pub operation: &'static str,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed with a storage failure.
    pub errors: u64,
}

impl Counted {
    /// Counts the calls to `inner`.
    pub fn new(inner: Box<dyn Backend>) -> Counted {
        Counted { inner, calls: Default::default(), errors: Default::default() }
    }

    /// Every operation's figures so far.
    pub fn operations(&self) -> Vec<OperationCount> {
        OPERATIONS
            .iter()
            .enumerate()
            .map(|(i, &operation)| OperationCount {
                operation,
                calls: self.calls[i].load(Ordering::Relaxed),
                errors: self.errors[i].load(Ordering::Relaxed),
            })
            .collect()
    }

    fn count<T>(&self, op: usize, result: Result<T>) -> Result<T> {
        self.calls[op].fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &result {
            if is_storage_failure(e.kind) {
                self.errors[op].fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }
}

/// Whether an error says the storage failed (rather than answering about a name).
pub fn is_storage_failure(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::NoSpace | ErrorKind::PermissionDenied | ErrorKind::Transient | ErrorKind::Other)
}

impl Backend for Counted {
    fn features(&self) -> Features {
        self.inner.features()
    }
    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        self.count(0, self.inner.stat(path))
    }
    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        self.count(1, self.inner.list(path))
    }
    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        self.count(2, self.inner.open_read(path, offset, len))
    }
    fn open_read_now(&self, path: &VfsPath) -> Option<(Box<dyn ReadStream>, Entry)> {
        let opened = self.inner.open_read_now(path);
        if opened.is_some() {
            self.calls[2].fetch_add(1, Ordering::Relaxed);
        }
        opened
    }
    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        self.count(3, self.inner.open_write(path, mode))
    }
    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        self.count(4, self.inner.mkdir(path))
    }
    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        self.count(5, self.inner.rmdir(path))
    }
    fn remove(&self, path: &VfsPath) -> Result<()> {
        self.count(6, self.inner.remove(path))
    }
    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        self.count(7, self.inner.rename(from, to))
    }
    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        self.count(8, self.inner.set_modtime(path, mtime))
    }
    fn usage(&self) -> Result<Usage> {
        self.inner.usage()
    }
    fn bytes_read(&self) -> Option<u64> {
        self.inner.bytes_read()
    }
    fn requests(&self) -> Option<u64> {
        self.inner.requests()
    }
    fn upload_file(&self, path: &VfsPath, file: &std::fs::File, size: u64, mtime: SystemTime) -> Option<Result<()>> {
        let result = self.inner.upload_file(path, file, size, mtime)?;
        Some(self.count(9, result))
    }
    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        self.inner.available(path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_storage_failures_are_counted_by_operation() {
        let counted = Counted::new(Box::new(crate::backend::memory::MemoryBackend::new()));
        let root = VfsPath::root();
        assert!(counted.list(&root).is_ok());
        assert!(counted.stat(&root.resolve("missing").unwrap()).is_err());
        let dir = root.resolve("d").unwrap();
        assert!(counted.mkdir(&dir).is_ok());
        assert!(counted.mkdir(&dir).is_err());
        let ops = counted.operations();
        let get = |name: &str| ops.iter().find(|o| o.operation == name).copied().unwrap();
        assert_eq!((get("list").calls, get("list").errors), (1, 0));
        // Not found and already there are answers, not failures of the storage.
        assert_eq!((get("stat").calls, get("stat").errors), (1, 0));
        assert_eq!((get("mkdir").calls, get("mkdir").errors), (2, 0));
        assert!(is_storage_failure(ErrorKind::Transient) && !is_storage_failure(ErrorKind::NotFound));
    }
}
