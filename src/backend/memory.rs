//! An in-memory tree (for `:memory:` remotes in a later release, for tests and for the
//! whole-session fuzz target). Files are shared byte vectors, so a reader keeps the version it
//! opened while a writer replaces the file on commit.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::backend::{
    Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

#[derive(Debug, Clone)]
enum Node {
    Dir { mtime: SystemTime },
    File { data: Arc<Vec<u8>>, mtime: SystemTime },
}

type Tree = BTreeMap<String, Node>;

/// Faults to inject, for tests of retries and partial reads (`:memory,fail_uploads=3:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryFaults {
    /// `fail_uploads`: the next N uploads (commits) fail with a transient error.
    pub fail_uploads: u32,
    /// `slow_reads`: each read of a file waits this long first.
    pub read_delay: std::time::Duration,
}

/// The counters and fault budget a tree shares with its streams.
#[derive(Debug, Default)]
struct Shared {
    fail_uploads: std::sync::atomic::AtomicU32,
    read_delay: std::time::Duration,
    bytes_read: std::sync::atomic::AtomicU64,
}

/// A file system held in memory; the root always exists.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    tree: Arc<Mutex<Tree>>,
    shared: Arc<Shared>,
}

impl MemoryBackend {
    /// An empty tree.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// An empty tree with faults to inject.
    pub fn with_faults(faults: MemoryFaults) -> MemoryBackend {
        let shared = Shared {
            fail_uploads: std::sync::atomic::AtomicU32::new(faults.fail_uploads),
            read_delay: faults.read_delay,
            bytes_read: Default::default(),
        };
        MemoryBackend { tree: Arc::default(), shared: Arc::new(shared) }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn entry(name: &str, node: &Node) -> Entry {
    match node {
        Node::Dir { mtime } => Entry { name: name.to_string(), kind: EntryKind::Dir, size: 0, mtime: *mtime },
        Node::File { data, mtime } => {
            Entry { name: name.to_string(), kind: EntryKind::File, size: data.len() as u64, mtime: *mtime }
        }
    }
}

/// Checks that the parent of `path` is an existing directory.
fn parent_is_dir(tree: &Tree, path: &VfsPath) -> Result<()> {
    let parent = path.parent();
    if parent.is_root() {
        return Ok(());
    }
    match tree.get(parent.as_str()) {
        Some(Node::Dir { .. }) => Ok(()),
        Some(Node::File { .. }) => Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
        None => Err(Error::new(ErrorKind::NotFound, path.as_str())),
    }
}

fn children<'a>(tree: &'a Tree, dir: &VfsPath) -> impl Iterator<Item = (&'a String, &'a Node)> {
    let prefix = if dir.is_root() { "/".to_string() } else { format!("{}/", dir.as_str()) };
    let plen = prefix.len();
    tree.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter(move |(k, _)| !k[plen..].contains('/'))
}

impl Backend for MemoryBackend {
    fn bytes_read(&self) -> Option<u64> {
        Some(self.shared.bytes_read.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn features(&self) -> Features {
        Features { write_in_place: true }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        if path.is_root() {
            return Ok(Entry { name: String::new(), kind: EntryKind::Dir, size: 0, mtime: SystemTime::UNIX_EPOCH });
        }
        let tree = self.lock();
        tree.get(path.as_str())
            .map(|n| entry(path.name(), n))
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let tree = self.lock();
        if !path.is_root() {
            match tree.get(path.as_str()) {
                Some(Node::Dir { .. }) => {}
                Some(Node::File { .. }) => return Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
                None => return Err(Error::new(ErrorKind::NotFound, path.as_str())),
            }
        }
        Ok(children(&tree, path).map(|(k, n)| entry(k.rsplit('/').next().unwrap_or(""), n)).collect())
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let tree = self.lock();
        match tree.get(path.as_str()) {
            Some(Node::File { data, .. }) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
                let end = match len {
                    Some(l) => start.saturating_add(usize::try_from(l).unwrap_or(usize::MAX)).min(data.len()),
                    None => data.len(),
                };
                Ok(Box::new(MemRead { data: data.clone(), pos: start, end, shared: self.shared.clone() }))
            }
            Some(Node::Dir { .. }) => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            None if path.is_root() => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            None => Err(Error::new(ErrorKind::NotFound, path.as_str())),
        }
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        if path.is_root() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let tree = self.lock();
        parent_is_dir(&tree, path)?;
        let existing = match tree.get(path.as_str()) {
            Some(Node::Dir { .. }) => return Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            Some(Node::File { data, .. }) => Some(data.clone()),
            None => None,
        };
        let (buf, pos) = match mode {
            WriteMode::Replace => (Vec::new(), 0),
            WriteMode::Append => {
                let b = existing.map(|d| d.as_ref().clone()).unwrap_or_default();
                let n = b.len();
                (b, n)
            }
            WriteMode::At(offset) => {
                let b = existing.map(|d| d.as_ref().clone()).unwrap_or_default();
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                if at > b.len() {
                    return Err(Error::with_detail(
                        ErrorKind::Unsupported,
                        path.as_str(),
                        "Restart offset is beyond the end of the file",
                    ));
                }
                (b, at)
            }
        };
        Ok(Box::new(MemWrite {
            tree: self.tree.clone(),
            path: path.clone(),
            buf,
            pos,
            written: 0,
            shared: self.shared.clone(),
        }))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        let mut tree = self.lock();
        if path.is_root() || tree.contains_key(path.as_str()) {
            return Err(Error::new(ErrorKind::AlreadyExists, path.as_str()));
        }
        parent_is_dir(&tree, path)?;
        tree.insert(path.as_str().to_string(), Node::Dir { mtime: SystemTime::now() });
        Ok(())
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        let mut tree = self.lock();
        match tree.get(path.as_str()) {
            Some(Node::Dir { .. }) => {}
            Some(Node::File { .. }) => return Err(Error::new(ErrorKind::NotADirectory, path.as_str())),
            None => return Err(Error::new(ErrorKind::NotFound, path.as_str())),
        }
        if children(&tree, path).next().is_some() {
            return Err(Error::new(ErrorKind::NotEmpty, path.as_str()));
        }
        tree.remove(path.as_str());
        Ok(())
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let mut tree = self.lock();
        match tree.get(path.as_str()) {
            Some(Node::File { .. }) => {
                tree.remove(path.as_str());
                Ok(())
            }
            Some(Node::Dir { .. }) => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            None if path.is_root() => Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            None => Err(Error::new(ErrorKind::NotFound, path.as_str())),
        }
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        crate::backend::check_rename(from, to)?;
        let mut tree = self.lock();
        let node = tree.get(from.as_str()).cloned().ok_or_else(|| Error::new(ErrorKind::NotFound, from.as_str()))?;
        parent_is_dir(&tree, to)?;
        if from == to {
            return Ok(());
        }
        match (tree.get(to.as_str()), &node) {
            (Some(Node::Dir { .. }), _) => return Err(Error::new(ErrorKind::AlreadyExists, to.as_str())),
            (Some(Node::File { .. }), Node::Dir { .. }) => {
                return Err(Error::new(ErrorKind::NotADirectory, to.as_str()))
            }
            _ => {}
        }
        // Move the node and, for a directory, everything below it.
        let prefix = format!("{}/", from.as_str());
        let moved: Vec<(String, Node)> = tree
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        tree.remove(from.as_str());
        tree.insert(to.as_str().to_string(), node);
        for (k, n) in moved {
            tree.remove(&k);
            tree.insert(format!("{}/{}", to.as_str(), &k[prefix.len()..]), n);
        }
        Ok(())
    }

    fn set_modtime(&self, path: &VfsPath, when: SystemTime) -> Result<()> {
        let mut tree = self.lock();
        match tree.get_mut(path.as_str()) {
            Some(Node::Dir { mtime }) | Some(Node::File { mtime, .. }) => {
                *mtime = when;
                Ok(())
            }
            None => Err(Error::new(ErrorKind::NotFound, path.as_str())),
        }
    }
}

struct MemRead {
    data: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
    shared: Arc<Shared>,
}

impl ReadStream for MemRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if !self.shared.read_delay.is_zero() {
            std::thread::sleep(self.shared.read_delay);
        }
        let n = buf.len().min(self.end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        self.shared.bytes_read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

struct MemWrite {
    tree: Arc<Mutex<Tree>>,
    path: VfsPath,
    buf: Vec<u8>,
    pos: usize,
    written: u64,
    shared: Arc<Shared>,
}

impl WriteStream for MemWrite {
    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        let end = self.pos + data.len();
        if end > self.buf.len() {
            self.buf.resize(end, 0);
        }
        self.buf[self.pos..end].copy_from_slice(data);
        self.pos = end;
        self.written += data.len() as u64;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<u64> {
        let injected = self.shared.fail_uploads.fetch_update(
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
            |n| n.checked_sub(1),
        );
        if injected.is_ok() {
            return Err(Error::with_detail(
                ErrorKind::Transient,
                self.path.as_str(),
                "Injected failure (fail_uploads)",
            ));
        }
        let mut tree = self.tree.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        parent_is_dir(&tree, &self.path)?;
        if let Some(Node::Dir { .. }) = tree.get(self.path.as_str()) {
            return Err(Error::new(ErrorKind::IsDirectory, self.path.as_str()));
        }
        tree.insert(self.path.as_str().to_string(), Node::File { data: Arc::new(self.buf), mtime: SystemTime::now() });
        Ok(self.written)
    }

    fn abort(self: Box<Self>) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> VfsPath {
        VfsPath::root().resolve(s).unwrap()
    }

    fn put(b: &MemoryBackend, path: &str, data: &[u8], mode: WriteMode) {
        let mut w = b.open_write(&p(path), mode).unwrap();
        w.write_all(data).unwrap();
        w.commit().unwrap();
    }

    fn get(b: &MemoryBackend, path: &str) -> Vec<u8> {
        let mut r = b.open_read(&p(path), 0, None).unwrap();
        let mut out = vec![0; 1024];
        let n = r.read(&mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn files_dirs_and_write_modes() {
        let b = MemoryBackend::new();
        b.mkdir(&p("d")).unwrap();
        assert_eq!(b.mkdir(&p("d")).unwrap_err().kind, ErrorKind::AlreadyExists);
        assert_eq!(b.mkdir(&p("x/y")).unwrap_err().kind, ErrorKind::NotFound);
        put(&b, "d/f", b"0123456789", WriteMode::Replace);
        put(&b, "d/f", b"ab", WriteMode::At(3));
        put(&b, "d/f", b"Z", WriteMode::Append);
        assert_eq!(get(&b, "d/f"), b"012ab56789Z");
        assert_eq!(b.list(&p("/")).unwrap().len(), 1);
        assert_eq!(b.list(&p("d")).unwrap()[0].size, 11);
        assert_eq!(b.rmdir(&p("d")).unwrap_err().kind, ErrorKind::NotEmpty);
        b.rename(&p("d"), &p("e")).unwrap();
        assert_eq!(get(&b, "e/f"), b"012ab56789Z");
        assert!(b.stat(&p("d/f")).is_err());
        assert!(b.rename(&p("e"), &p("e/inner")).is_err());
        b.remove(&p("e/f")).unwrap();
        b.rmdir(&p("e")).unwrap();
        assert!(b.list(&p("/")).unwrap().is_empty());
    }

    #[test]
    fn a_reader_keeps_the_version_it_opened() {
        let b = MemoryBackend::new();
        put(&b, "f", b"old", WriteMode::Replace);
        let mut r = b.open_read(&p("f"), 0, None).unwrap();
        put(&b, "f", b"new!", WriteMode::Replace);
        let mut buf = [0u8; 8];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"old");
        assert_eq!(get(&b, "f"), b"new!");
    }
}
