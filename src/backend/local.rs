//! The local-disk backend: the only code that touches `std::fs` for served data.
//!
//! SECURITY: the served root cannot be escaped.
//! * Paths arrive as `VfsPath`, already normalised inside `/` (no `..`, NUL, CR, LF).
//! * Symlinks are not served (as rclone's local backend without `-L`): listings skip them,
//!   every directory on the way to a name is checked not to be a symlink, and files are opened
//!   with `O_NOFOLLOW`, so a link pointing out of the root leads nowhere. A local user racing
//!   to swap a checked directory for a link is outside this threat model (FTP clients cannot
//!   create links); `openat2(RESOLVE_BENEATH)` would close that window.
//! * Only regular files and directories are served; devices, FIFOs and sockets are skipped.
//!
//! Uploads that replace a file are written to a hidden `.NAME.<id>.ftpvfs-partial` in the
//! same directory and renamed over the name only when complete, so no reader ever sees a
//! half-written file and a failed upload leaves the old file intact. Partial files are hidden
//! from listings.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::backend::{
    Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

/// Suffix of in-progress uploads; names ending in it are never listed.
pub const PARTIAL_SUFFIX: &str = ".ftpvfs-partial";

/// File systems on which opening a cached path and stat'ing the open file never wait for a
/// device or a network: ext2/3/4, XFS, btrfs, F2FS, tmpfs and overlayfs (containers). On
/// others (NFS and FUSE open with a request to a server or a daemon) `open_read_now` is off.
const OPEN_ON_THE_LOOP_FS: [u64; 6] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010, 0x0102_1994, 0x794C_7630];

/// A directory on local disk served as `/`.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    /// The root directory, held open for `open_read_now` (`None` if it could not be opened or
    /// is not on a file system of [`OPEN_ON_THE_LOOP_FS`]: every open then goes through the
    /// worker path).
    root_dir: Option<File>,
    next_partial: AtomicU64,
    /// This process's id, for partial file names (asked once: glibc does not cache getpid).
    pid: u32,
}

impl LocalBackend {
    /// Serves `root`, which should be an absolute, canonical directory path.
    pub fn new(root: PathBuf) -> LocalBackend {
        use std::os::fd::AsFd;
        let root_dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&root)
            .ok()
            .filter(|dir| crate::sys::fs_type(dir.as_fd()).is_ok_and(|t| OPEN_ON_THE_LOOP_FS.contains(&t)));
        LocalBackend { root, root_dir, next_partial: AtomicU64::new(0), pid: std::process::id() }
    }

    /// The real path of `p`, after checking that no directory on the way is a symlink.
    fn real(&self, p: &VfsPath) -> Result<PathBuf> {
        let mut real = self.root.clone();
        let mut components = p.components().peekable();
        while let Some(c) = components.next() {
            real.push(c);
            if components.peek().is_some() {
                match fs::symlink_metadata(&real) {
                    Ok(m) if m.file_type().is_dir() => {}
                    Ok(m) if m.file_type().is_symlink() => return Err(Error::new(ErrorKind::NotFound, p.as_str())),
                    Ok(_) => return Err(Error::new(ErrorKind::NotADirectory, p.as_str())),
                    Err(e) => return Err(Error::from_io(e, p.as_str())),
                }
            }
        }
        Ok(real)
    }

    /// lstat of the final component; symlinks and special files read as absent.
    fn lstat(&self, p: &VfsPath, real: &Path) -> Result<fs::Metadata> {
        let m = fs::symlink_metadata(real).map_err(|e| Error::from_io(e, p.as_str()))?;
        if m.is_file() || m.is_dir() {
            Ok(m)
        } else {
            Err(Error::new(ErrorKind::NotFound, p.as_str()))
        }
    }

    fn partial_path(&self, target: &Path) -> Option<PathBuf> {
        let name = target.file_name()?.to_str()?;
        let id = self.next_partial.fetch_add(1, Ordering::Relaxed);
        // Keep the temporary name within NAME_MAX.
        let short: String = name.chars().take(160).collect();
        Some(target.with_file_name(format!(".{short}.{}-{id}{PARTIAL_SUFFIX}", self.pid)))
    }
}

/// The entry for a stat'ed regular file or directory.
pub(super) fn entry_from(name: String, m: &fs::Metadata) -> Entry {
    let kind = if m.is_dir() { EntryKind::Dir } else { EntryKind::File };
    Entry {
        name,
        kind,
        size: if m.is_dir() { 0 } else { m.len() },
        mtime: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

fn nofollow() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    o
}

impl Backend for LocalBackend {
    fn features(&self) -> Features {
        Features { write_in_place: true }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        let real = self.real(path)?;
        let m = self.lstat(path, &real)?;
        Ok(entry_from(path.name().to_string(), &m))
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let real = self.real(path)?;
        if !self.lstat(path, &real)?.is_dir() {
            return Err(Error::new(ErrorKind::NotADirectory, path.as_str()));
        }
        let read = fs::read_dir(&real).map_err(|e| Error::from_io(e, path.as_str()))?;
        // Symlinks, devices, FIFOs, sockets and partial uploads are not served.
        let served = |name: &str, ft: fs::FileType| (ft.is_file() || ft.is_dir()) && !name.ends_with(PARTIAL_SUFFIX);
        let mut out = super::dir_scan::scan(read, served, path.as_str())?;
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let real = self.real(path)?;
        // Non-blocking so that a FIFO (never served) cannot hold this thread waiting for a
        // writer; cleared below once the file is known to be a regular one.
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&real)
            .map_err(|e| Error::from_io(e, path.as_str()))?;
        let m = file.metadata().map_err(|e| Error::from_io(e, path.as_str()))?;
        if m.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        if !m.is_file() {
            return Err(Error::new(ErrorKind::NotFound, path.as_str()));
        }
        {
            use std::os::fd::AsFd;
            crate::sys::clear_nonblocking(file.as_fd()).map_err(|e| Error::from_io(e, path.as_str()))?;
        }
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).map_err(|e| Error::from_io(e, path.as_str()))?;
        }
        Ok(Box::new(LocalRead { file, position: offset, remaining: len, path: path.as_str().to_string() }))
    }

    /// SECURITY: `openat2` under the root directory with `RESOLVE_BENEATH` and
    /// `RESOLVE_NO_SYMLINKS` is at least as strict as `real` + `O_NOFOLLOW` (no symlink
    /// anywhere, nothing outside the root); `RESOLVE_CACHED` makes it fail instead of reading a
    /// directory from storage, `RESOLVE_NO_XDEV` keeps it on the root's own (local) file
    /// system, and anything but a regular file is left to `open_read`.
    fn open_read_now(&self, path: &VfsPath) -> Option<(Box<dyn ReadStream>, Entry)> {
        use std::os::fd::AsFd;
        let root = self.root_dir.as_ref()?;
        let name = path.components().last()?.to_string();
        let relative: PathBuf = path.components().collect();
        let file = File::from(crate::sys::open_cached_beneath(root.as_fd(), &relative).ok()?);
        let m = file.metadata().ok()?;
        if !m.is_file() {
            return None;
        }
        crate::sys::clear_nonblocking(file.as_fd()).ok()?;
        let entry = entry_from(name, &m);
        Some((Box::new(LocalRead { file, position: 0, remaining: None, path: path.as_str().to_string() }), entry))
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        if path.is_root() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let real = self.real(path)?;
        let existing = match fs::symlink_metadata(&real) {
            Ok(m) if m.is_dir() => return Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            Ok(m) if !m.is_file() => {
                return Err(Error::with_detail(ErrorKind::PermissionDenied, path.as_str(), "Not a regular file"))
            }
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::from_io(e, path.as_str())),
        };
        let client_path = path.as_str().to_string();
        match mode {
            WriteMode::Replace => {
                let partial =
                    self.partial_path(&real).ok_or_else(|| Error::new(ErrorKind::InvalidName, path.as_str()))?;
                let file = nofollow()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(&partial)
                    .map_err(|e| Error::from_io(e, path.as_str()))?;
                Ok(Box::new(LocalWrite {
                    file,
                    written: 0,
                    path: client_path,
                    commit: Commit::RenameOver { partial, target: real },
                    // Renaming over an existing file makes ext4 write the new one out in that
                    // call (its guard against empty files after a crash): spread that along the
                    // upload instead.
                    written_back: existing.is_some().then_some(0),
                    splice_refused: false,
                }))
            }
            WriteMode::At(offset) => {
                let size = existing.as_ref().map_or(0, MetadataExt::size);
                if offset > size {
                    return Err(Error::with_detail(
                        ErrorKind::Unsupported,
                        path.as_str(),
                        "Restart offset is beyond the end of the file",
                    ));
                }
                let mut file = nofollow()
                    .write(true)
                    .create(true)
                    .mode(0o666)
                    .open(&real)
                    .map_err(|e| Error::from_io(e, path.as_str()))?;
                file.seek(SeekFrom::Start(offset)).map_err(|e| Error::from_io(e, path.as_str()))?;
                Ok(Box::new(LocalWrite::in_place(file, client_path)))
            }
            WriteMode::Append => {
                let file = nofollow()
                    .append(true)
                    .create(true)
                    .mode(0o666)
                    .open(&real)
                    .map_err(|e| Error::from_io(e, path.as_str()))?;
                let mut stream = LocalWrite::in_place(file, client_path);
                stream.splice_refused = true;
                Ok(Box::new(stream))
            }
        }
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        let real = self.real(path)?;
        fs::create_dir(&real).map_err(|e| Error::from_io(e, path.as_str()))
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        let real = self.real(path)?;
        if !self.lstat(path, &real)?.is_dir() {
            return Err(Error::new(ErrorKind::NotADirectory, path.as_str()));
        }
        fs::remove_dir(&real).map_err(|e| Error::from_io(e, path.as_str()))
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let real = self.real(path)?;
        if self.lstat(path, &real)?.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        super::free_later::remove_file(&real).map_err(|e| Error::from_io(e, path.as_str()))
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        crate::backend::check_rename(from, to)?;
        let real_from = self.real(from)?;
        self.lstat(from, &real_from)?;
        let real_to = self.real(to)?;
        if let Ok(m) = fs::symlink_metadata(&real_to) {
            if m.is_dir() && real_to != real_from {
                return Err(Error::new(ErrorKind::AlreadyExists, to.as_str()));
            }
        }
        super::free_later::rename_over(&real_from, &real_to).map_err(|e| Error::from_io(e, to.as_str()))
    }

    fn usage(&self) -> Result<crate::backend::Usage> {
        let s = crate::sys::fs_space(&self.root).map_err(|e| Error::from_io(e, "/"))?;
        Ok(crate::backend::Usage { total: Some(s.total), used: Some(s.used), free: Some(s.free) })
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        let real = self.real(path)?;
        self.lstat(path, &real)?;
        crate::sys::available_bytes(&real).map(Some).map_err(|e| Error::from_io(e, path.as_str()))
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let real = self.real(path)?;
        self.lstat(path, &real)?;
        let file = nofollow().read(true).open(&real).map_err(|e| Error::from_io(e, path.as_str()))?;
        file.set_modified(mtime).map_err(|e| Error::from_io(e, path.as_str()))
    }
}

struct LocalRead {
    file: File,
    /// The file's position, kept here as `read` moves it (sendfile and `pread` take explicit
    /// offsets and leave it alone), so no `lseek` is needed to know it.
    position: u64,
    /// Bytes left in the requested range; `None` reads to the end.
    remaining: Option<u64>,
    path: String,
}

impl ReadStream for LocalRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let want = match self.remaining {
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        loop {
            match self.file.read(&mut buf[..want]) {
                Ok(n) => {
                    if let Some(left) = self.remaining.as_mut() {
                        *left -= n as u64;
                    }
                    self.position += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_io(e, self.path.as_str())),
            }
        }
    }

    fn sendfile_source(&self) -> Option<(std::os::fd::BorrowedFd<'_>, u64)> {
        use std::os::fd::AsFd;
        // The range limit is the chunked reader's, which exists for remotes that bill by
        // request; the sender bounds itself by the file's size at open.
        Some((self.file.as_fd(), self.position))
    }
}

enum Commit {
    /// Rename the hidden partial file over the target on commit; remove it on abort.
    RenameOver { partial: PathBuf, target: PathBuf },
    /// Written in place; nothing to do.
    InPlace,
}

struct LocalWrite {
    file: File,
    written: u64,
    path: String,
    commit: Commit,
    /// When replacing an existing file: how much of the upload has been sent to storage
    /// ([`WRITEBACK_STEP`] at a time, without waiting for it).
    written_back: Option<u64>,
    /// splice(2) cannot write this file: opened with `O_APPEND` (APPE), or it refused once (a
    /// file system without splice support).
    splice_refused: bool,
}

/// How much a replacing upload writes before starting that part's writeback. Measured on ext4
/// with a 1 GiB file: renaming over the old file took 260-350 ms when the new one was still all
/// dirty, and no measurable time when its writeback had been started every 8 MiB (the writes
/// took 40-80 ms longer).
const WRITEBACK_STEP: u64 = 8 << 20;

impl LocalWrite {
    /// A write into the file itself (REST+STOR, APPE): nothing to rename, no writeback ahead.
    fn in_place(file: File, path: String) -> LocalWrite {
        LocalWrite { file, written: 0, path, commit: Commit::InPlace, written_back: None, splice_refused: false }
    }

    /// Counts `len` more bytes written and, for a replacing upload, starts writeback of each
    /// [`WRITEBACK_STEP`] as it fills.
    fn wrote(&mut self, len: usize) {
        self.written += len as u64;
        if let Some(done) = self.written_back {
            if self.written - done >= WRITEBACK_STEP {
                use std::os::fd::AsFd;
                // Best effort: a file system without it just leaves the work to the rename.
                let started = crate::sys::start_writeback(self.file.as_fd(), done, self.written - done);
                self.written_back = started.is_ok().then_some(self.written);
            }
        }
    }
}

impl WriteStream for LocalWrite {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        self.file.write_all(buf).map_err(|e| Error::from_io(e, self.path.as_str()))?;
        self.wrote(buf.len());
        Ok(())
    }

    fn takes_splice(&self) -> bool {
        !self.splice_refused
    }

    fn write_from_pipe(&mut self, pipe: std::os::fd::BorrowedFd<'_>, len: usize) -> Result<()> {
        let moved = super::from_pipe::write_from_pipe(pipe, &self.file, None, len)
            .map_err(|e| Error::from_io(e, self.path.as_str()))?;
        if moved == super::from_pipe::Moved::ThroughMemory {
            log::debug!("{}: the file takes no splice; writing through memory", self.path);
            self.splice_refused = true;
        }
        self.wrote(len);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        self.file.flush().map_err(|e| Error::from_io(e, self.path.as_str()))?;
        if let Commit::RenameOver { partial, target } = std::mem::replace(&mut self.commit, Commit::InPlace) {
            if let Err(e) = super::free_later::rename_over(&partial, &target) {
                let _ = fs::remove_file(&partial);
                return Err(Error::from_io(e, self.path.as_str()));
            }
        }
        Ok(self.written)
    }

    fn abort(mut self: Box<Self>) {
        if let Commit::RenameOver { partial, .. } = std::mem::replace(&mut self.commit, Commit::InPlace) {
            let _ = fs::remove_file(partial);
        }
    }
}

impl Drop for LocalWrite {
    fn drop(&mut self) {
        // A stream dropped without commit or abort (a bug, or a panic unwinding) must not leave
        // its partial file behind.
        if let Commit::RenameOver { partial, .. } = &self.commit {
            let _ = fs::remove_file(partial);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, LocalBackend) {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().canonicalize().unwrap());
        (dir, b)
    }

    fn p(s: &str) -> VfsPath {
        VfsPath::root().resolve(s).unwrap()
    }

    #[test]
    fn replace_is_invisible_until_commit_and_abort_keeps_the_old_file() {
        let (dir, b) = setup();
        fs::write(dir.path().join("f"), b"old").unwrap();
        let mut w = b.open_write(&p("f"), WriteMode::Replace).unwrap();
        w.write_all(b"new data").unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"old");
        assert_eq!(b.list(&p("/")).unwrap().len(), 1, "the partial file is hidden");
        w.abort();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"old");
        let mut w = b.open_write(&p("f"), WriteMode::Replace).unwrap();
        w.write_all(b"new data").unwrap();
        assert_eq!(w.commit().unwrap(), 8);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"new data");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no partial left behind");
    }

    #[test]
    fn open_read_now_opens_only_plain_files_inside_the_root() {
        let (dir, b) = setup();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", dir.path().join("d/link")).unwrap();
        std::os::unix::fs::symlink("d", dir.path().join("dlink")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(dir.path().join("fifo")).status().unwrap().success());
        match b.open_read_now(&p("/d/f")) {
            None if b.root_dir.is_none() => {
                // The test directory is not on a file system of OPEN_ON_THE_LOOP_FS.
            }
            Some((mut stream, entry)) => {
                assert_eq!((entry.name.as_str(), entry.size), ("f", 5));
                let mut buf = [0u8; 16];
                assert_eq!(stream.read(&mut buf).unwrap(), 5);
                assert_eq!(stream.sendfile_source().map(|(_, pos)| pos), Some(5));
            }
            None => {
                // Only a kernel without openat2's RESOLVE_CACHED (before 5.12) may say no here.
                let root = File::open(dir.path()).unwrap();
                let e = crate::sys::open_cached_beneath(std::os::fd::AsFd::as_fd(&root), Path::new("d/f")).unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            }
        }
        for refused in ["/d/link", "/dlink/f", "/out/passwd", "/d", "/", "/fifo", "/missing"] {
            assert!(b.open_read_now(&p(refused)).is_none(), "{refused} is left to open_read");
        }
    }

    #[test]
    fn a_large_replacing_upload_written_back_as_it_goes_lands_whole() {
        // Over WRITEBACK_STEP several times, in odd-sized pieces, over a file that is open for
        // reading meanwhile: the reader keeps the old bytes, the name gets every new byte.
        let (dir, b) = setup();
        fs::write(dir.path().join("f"), vec![1u8; 3 << 20]).unwrap();
        let mut reader = File::open(dir.path().join("f")).unwrap();
        let data: Vec<u8> = (0..(3 * WRITEBACK_STEP + 12_345) as usize).map(|i| (i % 251) as u8).collect();
        let mut w = b.open_write(&p("f"), WriteMode::Replace).unwrap();
        for piece in data.chunks(1_000_003) {
            w.write_all(piece).unwrap();
        }
        assert_eq!(w.commit().unwrap(), data.len() as u64);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), data);
        let mut old = Vec::new();
        reader.read_to_end(&mut old).unwrap();
        assert_eq!(old, vec![1u8; 3 << 20]);
        b.remove(&p("f")).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bytes_from_a_pipe_land_in_order_spliced_or_through_memory() {
        use std::io::Write as _;
        use std::os::fd::AsFd;
        let (dir, b) = setup();
        fs::write(dir.path().join("f"), b"0123456789").unwrap();
        let pipe = crate::sys::Pipe::new(1 << 16).unwrap();
        let feed = |w: &mut Box<dyn WriteStream>, bytes: &[u8]| {
            File::from(pipe.write_end.try_clone().unwrap()).write_all(bytes).unwrap();
            w.write_from_pipe(pipe.read_end.as_fd(), bytes.len()).unwrap();
        };
        // A restarted upload is spliced at its offset.
        let mut w = b.open_write(&p("f"), WriteMode::At(3)).unwrap();
        assert!(w.takes_splice());
        feed(&mut w, b"ab");
        feed(&mut w, b"cd");
        assert_eq!(w.commit().unwrap(), 4);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"012abcd789");
        // An appending one cannot be spliced: asked anyway, it writes through memory.
        let mut w = b.open_write(&p("f"), WriteMode::Append).unwrap();
        assert!(!w.takes_splice());
        feed(&mut w, b"XYZ");
        w.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"012abcd789XYZ");
    }

    #[test]
    fn write_at_keeps_the_tail_and_append_appends() {
        let (dir, b) = setup();
        fs::write(dir.path().join("f"), b"0123456789").unwrap();
        let mut w = b.open_write(&p("f"), WriteMode::At(3)).unwrap();
        w.write_all(b"ab").unwrap();
        w.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"012ab56789");
        let mut w = b.open_write(&p("f"), WriteMode::Append).unwrap();
        w.write_all(b"Z").unwrap();
        w.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"012ab56789Z");
        assert!(b.open_write(&p("f"), WriteMode::At(100)).is_err());
    }

    #[test]
    fn ranged_reads_stop_at_the_range_or_the_end() {
        let (dir, b) = setup();
        fs::write(dir.path().join("f"), b"0123456789").unwrap();
        let read_all = |offset, len| {
            let mut r = b.open_read(&p("f"), offset, len).unwrap();
            let (mut out, mut buf) = (Vec::new(), [0u8; 4]);
            loop {
                match r.read(&mut buf).unwrap() {
                    0 => return out,
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
        };
        assert_eq!(read_all(2, Some(5)), b"23456");
        assert_eq!(read_all(8, Some(5)), b"89");
        assert_eq!(read_all(3, None), b"3456789");
    }

    #[test]
    fn symlinks_out_of_the_root_lead_nowhere() {
        let (dir, b) = setup();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("flink")).unwrap();
        assert!(b.list(&p("/")).unwrap().is_empty());
        assert_eq!(b.stat(&p("link")).unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(b.open_read(&p("link/secret"), 0, None).err().unwrap().kind, ErrorKind::NotFound);
        assert_eq!(b.open_read(&p("flink"), 0, None).err().unwrap().kind, ErrorKind::NotFound);
        assert!(b.open_write(&p("link/new"), WriteMode::Replace).is_err());
        assert!(b.list(&p("link")).is_err());
        assert!(!outside.path().join("new").exists());
    }
}
