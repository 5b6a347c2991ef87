//! The chunker backend (rclone's `chunker`): files larger than `chunk_size` are stored as
//! chunk files (`NAME.rclone_chunk.001`, `.002`... by `name_format`, counted from
//! `start_from`) plus, with `meta_format = simplejson`, a small metadata object under the
//! file's own name (`{"ver":1,"size":N,"nchunks":K,"md5":"..."}`, rclone's field order, with
//! `"sha1"` instead of `"md5"` for `hash_type = sha1`);
//! smaller files are stored as they are. Listings show each composite file once, with the sum
//! of its chunks' sizes; a read at an offset opens only the chunks it needs. Uploads write
//! chunks under temporary names (`..._<id>`) and rename them when the upload completes, as
//! rclone's `transactions = rename` does, so a failed upload leaves the old file whole.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use md5::{Digest, Md5};
use sha1::Sha1;

use crate::backend::{
    check_rename, Backend, Entry, EntryKind, Error, ErrorKind, Features, ReadStream, Result, Usage, WriteMode,
    WriteStream,
};
use crate::vfs::VfsPath;

/// How a chunker remote stores files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkerOptions {
    /// `remote`: the wrapped remote.
    pub remote: String,
    /// `chunk_size` (2 GiB).
    pub chunk_size: u64,
    /// The part of `name_format` before the number (after `*`), e.g. `.rclone_chunk.`.
    pub infix: String,
    /// The `#` count: digits the number is padded to.
    pub digits: usize,
    /// `start_from` (1).
    pub start_from: u64,
    /// `meta_format = simplejson` (true) or `none`.
    pub metadata: bool,
    /// `hash_type`: the whole-file hash kept in a composite file's metadata.
    pub hash: HashType,
}

/// The whole-file hash a chunker remote keeps in its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    /// `none`.
    None,
    /// `md5` (default) and `md5quick`.
    Md5,
    /// `sha1` and `sha1quick`.
    Sha1,
}

impl ChunkerOptions {
    /// Reads rclone's chunker keys.
    ///
    /// # Errors
    /// A missing remote, a bad size or format, or a setting not supported yet.
    pub fn from_map(opts: &BTreeMap<String, String>) -> std::result::Result<ChunkerOptions, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        for key in opts.keys() {
            let known = [
                "type",
                "description",
                "remote",
                "chunk_size",
                "name_format",
                "start_from",
                "meta_format",
                "hash_type",
                "fail_hard",
                "transactions",
            ];
            if !known.contains(&key.as_str()) {
                log::warn!("chunker option {key} is unknown and ignored");
            }
        }
        let remote =
            get("remote").ok_or("a chunker remote needs remote= (the remote that holds the chunks)")?.to_string();
        let chunk_size = match get("chunk_size") {
            None => 2 << 30,
            Some(v) => crate::cli::units::parse_size(v)
                .map_err(|e| format!("chunker option chunk_size: {e}"))?
                .filter(|n| *n > 0)
                .ok_or("chunker option chunk_size must be above 0")?,
        };
        let format = get("name_format").unwrap_or("*.rclone_chunk.###");
        let (infix, digits) = match format
            .strip_prefix('*')
            .map(|rest| (rest.trim_end_matches('#'), rest.len() - rest.trim_end_matches('#').len()))
        {
            Some((infix, digits)) if digits > 0 && !infix.contains(['*', '#', '/']) => (infix.to_string(), digits),
            _ => return Err(format!("chunker option name_format {format:?} is not supported yet (only *<text>###)")),
        };
        let start_from = match get("start_from") {
            None => 1,
            Some(v) => v.parse().map_err(|_| format!("chunker option start_from: {v:?}"))?,
        };
        let metadata = match get("meta_format").unwrap_or("simplejson") {
            "simplejson" => true,
            "none" => false,
            other => return Err(format!("chunker option meta_format {other:?} is unknown")),
        };
        // The quick forms take a source's hash where rclone copies from a remote that has one;
        // an FTP upload has none, so both compute it, as the plain forms do.
        let hash = match get("hash_type").unwrap_or("md5") {
            "md5" | "md5quick" => HashType::Md5,
            "sha1" | "sha1quick" => HashType::Sha1,
            "none" => HashType::None,
            other @ ("md5all" | "sha1all") => {
                return Err(format!(
                    "chunker option hash_type {other:?} is not supported yet (md5, sha1, md5quick, sha1quick, none)"
                ))
            }
            other => return Err(format!("chunker option hash_type {other:?} is unknown")),
        };
        if hash != HashType::None && !metadata {
            return Err("chunker: a hash_type other than none needs meta_format = simplejson (as in rclone)".into());
        }
        if let Some(t) = get("transactions").filter(|t| *t != "rename") {
            return Err(format!("chunker option transactions {t:?} is not supported yet (rename)"));
        }
        Ok(ChunkerOptions { remote, chunk_size, infix, digits, start_from, metadata, hash })
    }

    /// The name of chunk `index` (0-based) of `base`.
    fn chunk_name(&self, base: &str, index: u64) -> String {
        format!("{base}{}{:0width$}", self.infix, index + self.start_from, width = self.digits)
    }

    /// If `name` is a chunk file: its base name, 0-based index, and whether it is temporary.
    fn parse_chunk(&self, name: &str) -> Option<(String, u64, bool)> {
        let at = name.rfind(self.infix.as_str())?;
        let (base, rest) = (&name[..at], &name[at + self.infix.len()..]);
        if base.is_empty() {
            return None;
        }
        // Control chunks: `_<type>`; temporary ones: `<digits>_<xactid>` or `<digits>..tmp_<n>`.
        if rest.starts_with('_') {
            return Some((base.to_string(), u64::MAX, true));
        }
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() < self.digits {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        let temporary = match tail {
            "" => false,
            t if t.starts_with('_')
                && (5..=10).contains(&t.len())
                && t[1..].chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()) =>
            {
                true
            }
            t if t.starts_with("..tmp_") => true,
            _ => return None,
        };
        Some((base.to_string(), n.checked_sub(self.start_from)?, temporary))
    }
}

/// A composite file as a listing shows it.
struct Composite {
    /// (index, size) of each data chunk, sorted.
    chunks: Vec<(u64, u64)>,
    /// The object under the file's own name (metadata, or the whole small file).
    own: Option<Entry>,
}

/// Files split into chunks over another backend.
pub struct ChunkerBackend {
    inner: Arc<dyn Backend>,
    opts: ChunkerOptions,
    next_id: AtomicU64,
}

impl ChunkerBackend {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Backend>, opts: ChunkerOptions) -> ChunkerBackend {
        ChunkerBackend { inner: Arc::from(inner), opts, next_id: AtomicU64::new(0) }
    }

    fn child(dir: &VfsPath, name: &str) -> Result<VfsPath> {
        dir.child(name).map_err(|_| Error::new(ErrorKind::InvalidName, name))
    }

    /// The directory's entries grouped: plain entries, and composites by name.
    fn scan(&self, dir: &VfsPath) -> Result<(Vec<Entry>, BTreeMap<String, Composite>)> {
        let mut plain = Vec::new();
        let mut composites: BTreeMap<String, Composite> = BTreeMap::new();
        for e in self.inner.list(dir)? {
            match (!e.is_dir()).then(|| self.opts.parse_chunk(&e.name)).flatten() {
                Some((base, index, false)) if index != u64::MAX => {
                    composites
                        .entry(base)
                        .or_insert(Composite { chunks: Vec::new(), own: None })
                        .chunks
                        .push((index, e.size));
                }
                Some(_) => {} // temporary and control chunks are hidden
                None => plain.push(e),
            }
        }
        let mut rest = Vec::new();
        for e in plain {
            match composites.get_mut(&e.name) {
                Some(c) if !e.is_dir() => c.own = Some(e),
                _ => rest.push(e),
            }
        }
        for c in composites.values_mut() {
            c.chunks.sort_unstable();
        }
        Ok((rest, composites))
    }

    fn composite_entry(name: &str, c: &Composite) -> Entry {
        Entry {
            name: name.to_string(),
            kind: EntryKind::File,
            size: c.chunks.iter().map(|(_, s)| s).sum(),
            mtime: c.own.as_ref().map_or(SystemTime::UNIX_EPOCH, |o| o.mtime),
        }
    }

    /// What `path` is: a composite (with its chunks) or a plain entry.
    fn find(&self, path: &VfsPath) -> Result<(Entry, Option<Composite>)> {
        let (plain, mut composites) = self.scan(&path.parent())?;
        if let Some(c) = composites.remove(path.name()) {
            return Ok((Self::composite_entry(path.name(), &c), Some(c)));
        }
        plain
            .into_iter()
            .find(|e| e.name == path.name())
            .map(|e| (e, None))
            .ok_or_else(|| Error::new(ErrorKind::NotFound, path.as_str()))
    }

    /// Every stored name of the file at `path` (own object and chunks).
    fn stored_names(&self, path: &VfsPath, c: &Option<Composite>) -> Vec<String> {
        let mut names = vec![path.name().to_string()];
        if let Some(c) = c {
            names.retain(|_| c.own.is_some());
            names.extend(c.chunks.iter().map(|(i, _)| self.opts.chunk_name(path.name(), *i)));
        }
        names
    }
}

impl Backend for ChunkerBackend {
    fn features(&self) -> Features {
        Features { write_in_place: false }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        if path.is_root() {
            return self.inner.stat(path);
        }
        self.find(path).map(|(e, _)| e)
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let (mut entries, composites) = self.scan(path)?;
        entries.extend(composites.iter().map(|(n, c)| Self::composite_entry(n, c)));
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let (entry, composite) = self.find(path)?;
        let Some(c) = composite else { return self.inner.open_read(path, offset, len) };
        if entry.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let parent = path.parent();
        let mut pieces = Vec::new();
        let (mut start, end) = (0u64, len.map_or(entry.size, |l| offset.saturating_add(l).min(entry.size)));
        for (i, size) in &c.chunks {
            let (lo, hi) = (start, start + size);
            start = hi;
            if hi <= offset || lo >= end {
                continue;
            }
            let from = offset.saturating_sub(lo);
            let to = end.min(hi) - lo;
            pieces.push((Self::child(&parent, &self.opts.chunk_name(path.name(), *i))?, from, to - from));
        }
        Ok(Box::new(ChunkRead { inner: self.inner.clone(), pieces, current: None, path: path.as_str().to_string() }))
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        if mode != WriteMode::Replace {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "Chunked files cannot be written in place",
            ));
        }
        let old = match self.find(path) {
            Ok((e, _)) if e.is_dir() => return Err(Error::new(ErrorKind::IsDirectory, path.as_str())),
            Ok((_, c)) => self.stored_names(path, &c),
            Err(e) if e.kind == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 1000;
        let xact: String = {
            const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
            let mut n = id % 1_679_616; // four base-36 digits, as rclone's ids
            let mut s = [b'0'; 4];
            for d in s.iter_mut().rev() {
                *d = DIGITS[(n % 36) as usize];
                n /= 36;
            }
            String::from_utf8_lossy(&s).into_owned()
        };
        Ok(Box::new(ChunkWrite {
            backend: ChunkerRef { inner: self.inner.clone(), opts: self.opts.clone() },
            path: path.clone(),
            xact,
            old,
            chunks: Vec::new(),
            current: None,
            in_chunk: 0,
            total: 0,
            md5: Md5::new(),
            sha1: Sha1::new(),
        }))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        self.inner.mkdir(path)
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        self.inner.rmdir(path)
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let (e, c) = self.find(path)?;
        if e.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        let parent = path.parent();
        for name in self.stored_names(path, &c) {
            self.inner.remove(&Self::child(&parent, &name)?)?;
        }
        Ok(())
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let (e, c) = self.find(from)?;
        if e.is_dir() || c.is_none() {
            return self.inner.rename(from, to);
        }
        let (fp, tp) = (from.parent(), to.parent());
        if let Ok((_, old)) = self.find(to) {
            for name in self.stored_names(to, &old) {
                let _ = self.inner.remove(&Self::child(&tp, &name)?);
            }
        }
        for name in self.stored_names(from, &c) {
            let new_name = match name.strip_prefix(from.name()) {
                Some(rest) => format!("{}{rest}", to.name()),
                None => name.clone(),
            };
            self.inner.rename(&Self::child(&fp, &name)?, &Self::child(&tp, &new_name)?)?;
        }
        Ok(())
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        match self.find(path)? {
            (_, Some(c)) if c.own.is_none() => {
                let first = c.chunks.first().map(|(i, _)| *i).unwrap_or(0);
                self.inner.set_modtime(&Self::child(&path.parent(), &self.opts.chunk_name(path.name(), first))?, mtime)
            }
            _ => self.inner.set_modtime(path, mtime),
        }
    }

    fn usage(&self) -> Result<Usage> {
        self.inner.usage()
    }

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        self.inner.available(&if self.stat(path).is_ok_and(|e| e.is_dir()) { path.clone() } else { path.parent() })
    }
}

/// Reads the needed ranges of the needed chunks, one after another.
struct ChunkRead {
    inner: Arc<dyn Backend>,
    /// (chunk path, offset in it, length), in order.
    pieces: Vec<(VfsPath, u64, u64)>,
    current: Option<Box<dyn ReadStream>>,
    path: String,
}

impl ReadStream for ChunkRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            if self.current.is_none() {
                if self.pieces.is_empty() {
                    return Ok(0);
                }
                let (chunk, offset, len) = self.pieces.remove(0);
                self.current = Some(
                    self.inner
                        .open_read(&chunk, offset, Some(len))
                        .map_err(|e| Error { path: self.path.clone(), ..e })?,
                );
            }
            let Some(stream) = self.current.as_mut() else { return Ok(0) };
            let n = stream.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.current = None;
        }
    }
}

/// What a write stream needs of its backend.
struct ChunkerRef {
    inner: Arc<dyn Backend>,
    opts: ChunkerOptions,
}

/// Writes chunks under temporary names; commit renames them and writes the metadata.
struct ChunkWrite {
    backend: ChunkerRef,
    path: VfsPath,
    xact: String,
    /// The stored names of the file being replaced.
    old: Vec<String>,
    /// Temporary names of the chunks written so far.
    chunks: Vec<String>,
    current: Option<Box<dyn WriteStream>>,
    in_chunk: u64,
    total: u64,
    md5: Md5,
    sha1: Sha1,
}

impl ChunkWrite {
    fn temp_name(&self, index: u64) -> String {
        format!("{}_{}", self.backend.opts.chunk_name(self.path.name(), index), self.xact)
    }

    fn at(&self, name: &str) -> Result<VfsPath> {
        ChunkerBackend::child(&self.path.parent(), name)
    }

    fn finish_chunk(&mut self) -> Result<()> {
        if let Some(w) = self.current.take() {
            w.commit()?;
        }
        Ok(())
    }

    fn discard(&mut self) {
        if let Some(w) = self.current.take() {
            w.abort();
        }
        for name in std::mem::take(&mut self.chunks) {
            if let Ok(p) = self.at(&name) {
                let _ = self.backend.inner.remove(&p);
            }
        }
    }
}

impl WriteStream for ChunkWrite {
    fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        match self.backend.opts.hash {
            HashType::Md5 => self.md5.update(data),
            HashType::Sha1 => self.sha1.update(data),
            HashType::None => {}
        }
        while !data.is_empty() {
            if self.current.is_none() {
                let name = self.temp_name(self.chunks.len() as u64);
                let stream = self.backend.inner.open_write(&self.at(&name)?, WriteMode::Replace)?;
                self.chunks.push(name);
                self.current = Some(stream);
                self.in_chunk = 0;
            }
            let room = self.backend.opts.chunk_size - self.in_chunk;
            let n = usize::try_from(room).unwrap_or(usize::MAX).min(data.len());
            if let Some(w) = self.current.as_mut() {
                w.write_all(&data[..n])?;
            }
            self.in_chunk += n as u64;
            self.total += n as u64;
            data = &data[n..];
            if self.in_chunk == self.backend.opts.chunk_size {
                self.finish_chunk()?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        if let Err(e) = self.finish_chunk() {
            self.discard();
            return Err(e);
        }
        let inner = self.backend.inner.clone();
        let parent = self.path.parent();
        // The old version goes first, except names the new one reuses (renamed over).
        let result = (|| -> Result<()> {
            if self.chunks.len() <= 1 {
                // A small file: stored as it is, under its own name.
                let whole = self.path.clone();
                match self.chunks.first() {
                    Some(temp) => inner.rename(&self.at(temp)?, &whole)?,
                    None => inner.open_write(&whole, WriteMode::Replace)?.commit().map(|_| ())?,
                }
                for old in &self.old {
                    if old != self.path.name() {
                        let _ = inner.remove(&ChunkerBackend::child(&parent, old)?);
                    }
                }
                return Ok(());
            }
            let mut finals = Vec::new();
            for (i, temp) in self.chunks.iter().enumerate() {
                let name = self.backend.opts.chunk_name(self.path.name(), i as u64);
                inner.rename(&self.at(temp)?, &self.at(&name)?)?;
                finals.push(name);
            }
            for old in &self.old {
                if !finals.contains(old) && old != self.path.name() {
                    let _ = inner.remove(&ChunkerBackend::child(&parent, old)?);
                }
            }
            if self.backend.opts.metadata {
                let hex = |digest: &[u8]| -> String { digest.iter().map(|b| format!("{b:02x}")).collect() };
                let hash = match self.backend.opts.hash {
                    HashType::Md5 => format!(",\"md5\":\"{}\"", hex(&std::mem::take(&mut self.md5).finalize())),
                    HashType::Sha1 => format!(",\"sha1\":\"{}\"", hex(&std::mem::take(&mut self.sha1).finalize())),
                    HashType::None => String::new(),
                };
                let json = format!("{{\"ver\":1,\"size\":{},\"nchunks\":{}{hash}}}", self.total, self.chunks.len());
                let mut w = inner.open_write(&self.path, WriteMode::Replace)?;
                w.write_all(json.as_bytes())?;
                w.commit()?;
            } else if self.old.iter().any(|o| o == self.path.name()) {
                let _ = inner.remove(&self.path);
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(self.total),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        self.discard();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chunk_names_as_rclone_writes_them() {
        let o = ChunkerOptions::from_map(&[("remote".to_string(), "/x".to_string())].into_iter().collect()).unwrap();
        assert_eq!(o.chunk_name("big.iso", 0), "big.iso.rclone_chunk.001");
        assert_eq!(o.chunk_name("big.iso", 1234), "big.iso.rclone_chunk.1235");
        assert_eq!(o.parse_chunk("big.iso.rclone_chunk.001"), Some(("big.iso".into(), 0, false)));
        assert_eq!(o.parse_chunk("big.iso.rclone_chunk.002_a1b2"), Some(("big.iso".into(), 1, true)));
        assert_eq!(o.parse_chunk("big.iso.rclone_chunk._meta").map(|c| c.2), Some(true));
        assert_eq!(o.parse_chunk("big.iso"), None);
        assert_eq!(o.parse_chunk("big.iso.rclone_chunk.01"), None);
        assert_eq!(o.chunk_size, 2 << 30);
    }
}
