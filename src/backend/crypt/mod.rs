//! The crypt backend: a Backend over another Backend that stores every file in rclone's crypt
//! format and every name encrypted as rclone encrypts it, so `rclone` and ftpvfs read what
//! the other wrote on the same remote (`cipher`: keys, header, 64 KiB secretbox blocks,
//! sizes; `names`: standard EME names, obfuscate, off). Reads at any offset fetch only the
//! header and the blocks they need; a block that fails authentication fails the read (unless
//! `pass_bad_blocks`), so a client never gets corrupt bytes with a 226.

pub mod base32768;
pub mod cipher;
pub mod names;
pub mod options;

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;
use std::time::SystemTime;

use cipher::{decrypted_size, BlockCipher, Keys, Nonce, BLOCK_DATA, BLOCK_SIZE, HEADER_SIZE, MAGIC};
use names::NameCipher;
pub use options::CryptOptions;

use crate::backend::{
    check_rename, Backend, Entry, Error, ErrorKind, Features, ReadStream, Result, Usage, WriteMode, WriteStream,
};
use crate::vfs::VfsPath;

/// An encrypted view of a directory of another backend.
pub struct CryptBackend {
    inner: Arc<dyn Backend>,
    names: NameCipher,
    blocks: Arc<BlockCipher>,
    opts: CryptOptions,
}

impl CryptBackend {
    /// Wraps `inner` (already opened at the crypt remote's `remote = ...` path). The served
    /// directory inside it (`secret:sub/dir`) is made if missing, as a local root is: it is
    /// the FTP root, which always exists (on an object store it may have no object yet).
    pub fn new(inner: Box<dyn Backend>, opts: CryptOptions) -> CryptBackend {
        let keys = Keys::derive(&opts.password, &opts.password2);
        let backend = CryptBackend {
            inner: Arc::from(inner),
            names: NameCipher::new(&keys, opts.name_mode.clone()),
            blocks: Arc::new(BlockCipher::new(&keys)),
            opts,
        };
        let mut dir = VfsPath::root();
        for segment in backend.opts.root.split('/').filter(|s| !s.is_empty()) {
            let stored = if backend.opts.directory_name_encryption {
                backend.names.encrypt(segment, false)
            } else {
                segment.to_string()
            };
            let Ok(next) = dir.child(&stored) else { break };
            dir = next;
            if backend.inner.stat(&dir).is_err() {
                if let Err(e) = backend.inner.mkdir(&dir) {
                    log::warn!("crypt: cannot make the served directory {:?}: {e}", backend.opts.root);
                }
            }
        }
        backend
    }

    /// The wrapped path of a plaintext path: the crypt root's segments, then the path's,
    /// each encrypted (directories only with `directory_name_encryption`), the last one as a
    /// file when `last_is_file`.
    fn map(&self, path: &VfsPath, last_is_file: bool) -> Result<VfsPath> {
        let root = self.opts.root.split('/').filter(|s| !s.is_empty());
        let segments: Vec<&str> = root.chain(path.components()).collect();
        let mut out = VfsPath::root();
        for (i, seg) in segments.iter().enumerate() {
            let is_file = last_is_file && i + 1 == segments.len();
            let stored = if is_file || self.opts.directory_name_encryption {
                self.names.encrypt(seg, is_file)
            } else {
                seg.to_string()
            };
            out = out.child(&stored).map_err(|_| {
                Error::with_detail(
                    ErrorKind::InvalidName,
                    path.as_str(),
                    "The encrypted name is too long or not allowed",
                )
            })?;
        }
        Ok(out)
    }

    fn plain_name(&self, stored: &str, is_file: bool) -> std::result::Result<String, String> {
        if !is_file && !self.opts.directory_name_encryption {
            return Ok(stored.to_string());
        }
        self.names.decrypt(stored, is_file)
    }

    fn plain_entry(&self, mut e: Entry, name: String) -> Entry {
        e.name = name;
        if !e.is_dir() && !self.opts.no_data_encryption {
            e.size = decrypted_size(e.size).unwrap_or(0);
        }
        e
    }

    /// What `path` is, and where it is stored.
    fn find(&self, path: &VfsPath) -> Result<(Entry, VfsPath)> {
        let as_file = self.map(path, true)?;
        match self.inner.stat(&as_file) {
            Ok(e) if !e.is_dir() || as_file == self.map(path, false)? => {
                return Ok((self.plain_entry(e, path.name().to_string()), as_file))
            }
            Ok(_) => {}
            Err(e) if e.kind != ErrorKind::NotFound => return Err(Error { path: path.as_str().into(), ..e }),
            Err(_) => {}
        }
        let as_dir = self.map(path, false)?;
        match self.inner.stat(&as_dir) {
            Ok(e) if e.is_dir() => Ok((self.plain_entry(e, path.name().to_string()), as_dir)),
            Ok(_) => Err(Error::new(ErrorKind::NotFound, path.as_str())),
            Err(e) => Err(Error { path: path.as_str().into(), ..e }),
        }
    }

    fn relabel(e: Error, path: &VfsPath) -> Error {
        Error { path: path.as_str().into(), ..e }
    }
}

impl Backend for CryptBackend {
    fn features(&self) -> Features {
        Features { write_in_place: false }
    }

    fn stat(&self, path: &VfsPath) -> Result<Entry> {
        if path.is_root() {
            let mapped = self.map(path, false)?;
            return self.inner.stat(&mapped).map(|mut e| {
                e.name = String::new();
                e
            });
        }
        self.find(path).map(|(e, _)| e)
    }

    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>> {
        let dir = self.map(path, false)?;
        let stored = self.inner.list(&dir).map_err(|e| Self::relabel(e, path))?;
        let mut entries = Vec::with_capacity(stored.len());
        let mut bad = 0usize;
        for e in stored {
            match self.plain_name(&e.name, !e.is_dir()) {
                Ok(name) => entries.push(self.plain_entry(e, name)),
                Err(why) => {
                    bad += 1;
                    let kind = if e.is_dir() { "dir" } else { "file" };
                    if self.opts.strict_names {
                        log::error!("crypt: {path}: {}: undecryptable {kind} name detected: {why}", e.name);
                    } else {
                        log::warn!("crypt: {path}: skipping undecryptable {kind} name {:?}: {why}", e.name);
                    }
                }
            }
        }
        if bad > 0 && self.opts.strict_names {
            return Err(Error::with_detail(
                ErrorKind::Other,
                path.as_str(),
                "The directory holds names that do not decrypt (strict_names)",
            ));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>> {
        let stored = self.map(path, true)?;
        if self.opts.no_data_encryption {
            return self.inner.open_read(&stored, offset, len).map_err(|e| Self::relabel(e, path));
        }
        let block = offset / BLOCK_DATA;
        let discard = (offset % BLOCK_DATA) as usize;
        // The blocks covering [offset, offset + len), whole.
        let wanted = len.map(|l| {
            let last = (offset + l).div_ceil(BLOCK_DATA);
            (last - block) * BLOCK_SIZE
        });
        let (mut header_stream, body) = if block == 0 {
            let s = self
                .inner
                .open_read(&stored, 0, wanted.map(|w| w + HEADER_SIZE))
                .map_err(|e| Self::relabel(e, path))?;
            (s, None)
        } else {
            let h = self.inner.open_read(&stored, 0, Some(HEADER_SIZE)).map_err(|e| Self::relabel(e, path))?;
            (h, Some(()))
        };
        let mut header = [0u8; HEADER_SIZE as usize];
        read_full(header_stream.as_mut(), &mut header).map_err(|e| Self::relabel(e, path))?;
        if &header[..8] != MAGIC {
            return Err(Error::with_detail(
                ErrorKind::Other,
                path.as_str(),
                "not an encrypted file - bad magic string",
            ));
        }
        let mut nonce = Nonce([0u8; 24]);
        nonce.0.copy_from_slice(&header[8..32]);
        nonce.add(block);
        let stream = match body {
            None => header_stream,
            Some(()) => self
                .inner
                .open_read(&stored, HEADER_SIZE + block * BLOCK_SIZE, wanted)
                .map_err(|e| Self::relabel(e, path))?,
        };
        let decoder = BlockDecoder {
            inner: stream,
            blocks: self.blocks.clone(),
            nonce,
            pass_bad_blocks: self.opts.pass_bad_blocks,
            path: path.as_str().to_string(),
        };
        let ahead = wanted.is_none_or(|w| w > 2 * BLOCK_SIZE);
        Ok(Box::new(CryptRead::new(decoder, discard, len, ahead)))
    }

    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>> {
        if mode != WriteMode::Replace {
            return Err(Error::with_detail(
                ErrorKind::Unsupported,
                path.as_str(),
                "Encrypted files cannot be written in place",
            ));
        }
        let stored = self.map(path, true)?;
        let mut inner = self.inner.open_write(&stored, WriteMode::Replace).map_err(|e| Self::relabel(e, path))?;
        let mut nonce = Nonce([0u8; 24]);
        if !self.opts.no_data_encryption {
            let random = rustls::crypto::ring::default_provider().secure_random;
            random
                .fill(&mut nonce.0)
                .map_err(|_| Error::with_detail(ErrorKind::Other, path.as_str(), "No random numbers for the nonce"))?;
            let mut header = Vec::with_capacity(HEADER_SIZE as usize);
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&nonce.0);
            inner.write_all(&header)?;
        }
        Ok(Box::new(CryptWrite {
            inner: Some(inner),
            blocks: self.blocks.clone(),
            nonce,
            plain: Vec::with_capacity(BLOCK_DATA as usize),
            sealed: Vec::with_capacity(BLOCK_SIZE as usize),
            written: 0,
            passthrough: self.opts.no_data_encryption,
        }))
    }

    fn mkdir(&self, path: &VfsPath) -> Result<()> {
        if self.find(path).is_ok() {
            return Err(Error::new(ErrorKind::AlreadyExists, path.as_str()));
        }
        let dir = self.map(path, false)?;
        self.inner.mkdir(&dir).map_err(|e| Self::relabel(e, path))
    }

    fn rmdir(&self, path: &VfsPath) -> Result<()> {
        if path.is_root() {
            return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be removed"));
        }
        let dir = self.map(path, false)?;
        self.inner.rmdir(&dir).map_err(|e| Self::relabel(e, path))
    }

    fn remove(&self, path: &VfsPath) -> Result<()> {
        let (e, stored) = self.find(path)?;
        if e.is_dir() {
            return Err(Error::new(ErrorKind::IsDirectory, path.as_str()));
        }
        self.inner.remove(&stored).map_err(|e| Self::relabel(e, path))
    }

    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()> {
        check_rename(from, to)?;
        let (e, src) = self.find(from)?;
        let dst = self.map(to, !e.is_dir())?;
        self.inner.rename(&src, &dst).map_err(|e| Self::relabel(e, from))
    }

    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()> {
        let (_, stored) = self.find(path)?;
        self.inner.set_modtime(&stored, mtime).map_err(|e| Self::relabel(e, path))
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

    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        let dir = self.map(path, false)?;
        self.inner.available(&dir).map_err(|e| Self::relabel(e, path))
    }
}

/// Reads until `buf` is full.
fn read_full(stream: &mut dyn ReadStream, buf: &mut [u8]) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let n = stream.read(&mut buf[got..])?;
        if n == 0 {
            return Err(Error::with_detail(ErrorKind::Other, "", "file is too short to be encrypted"));
        }
        got += n;
    }
    Ok(())
}

/// Reads and opens one block after another from the wrapped stream.
struct BlockDecoder {
    inner: Box<dyn ReadStream>,
    blocks: Arc<BlockCipher>,
    nonce: Nonce,
    pass_bad_blocks: bool,
    path: String,
}

impl BlockDecoder {
    /// Reads the next block into `buf` and opens it there; the plaintext is `buf[..n]`.
    /// `None` at the end.
    fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>> {
        buf.resize(BLOCK_SIZE as usize, 0);
        let mut got = 0;
        while got < buf.len() {
            let n = self.inner.read(&mut buf[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if got == 0 {
            return Ok(None);
        }
        buf.truncate(got);
        let opened = self.blocks.open(&self.nonce, buf);
        self.nonce.increment();
        match opened {
            Ok(n) => Ok(Some(n)),
            Err(why) if self.pass_bad_blocks && got > 16 => {
                log::error!("crypt: {}: ignoring: {why}", self.path);
                buf.iter_mut().for_each(|b| *b = 0);
                Ok(Some(got - 16))
            }
            Err(why) => {
                log::error!("crypt: {}: {why}", self.path);
                Err(Error::with_detail(
                    ErrorKind::Other,
                    self.path.clone(),
                    "A block of the encrypted file failed authentication",
                ))
            }
        }
    }
}

/// Where a reader's plaintext blocks come from: decoded on the spot, or by a thread that
/// decrypts the next block while this one is sent (reads of more than two blocks), so the
/// decryption and the sending of a download use two cores. Either way at most three 64 KiB
/// blocks are held.
enum Blocks {
    Here(BlockDecoder),
    Ahead { decoded: Receiver<Result<Vec<u8>>>, spare: Sender<Vec<u8>> },
}

/// Decrypts a stream of sealed blocks into the reader's range.
struct CryptRead {
    source: Blocks,
    plain: Vec<u8>,
    at: usize,
    discard: usize,
    left: Option<u64>,
}

impl CryptRead {
    fn new(decoder: BlockDecoder, discard: usize, left: Option<u64>, ahead: bool) -> CryptRead {
        let source = if ahead {
            let (decoded_tx, decoded) = sync_channel::<Result<Vec<u8>>>(1);
            let (spare, spare_rx) = channel::<Vec<u8>>();
            let mut decoder = decoder;
            std::thread::spawn(move || loop {
                let mut buf = spare_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(BLOCK_SIZE as usize));
                match decoder.next(&mut buf) {
                    Ok(Some(n)) => {
                        buf.truncate(n);
                        if decoded_tx.send(Ok(buf)).is_err() {
                            return; // the reader is gone
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = decoded_tx.send(Err(e));
                        return;
                    }
                }
            });
            Blocks::Ahead { decoded, spare }
        } else {
            Blocks::Here(decoder)
        };
        CryptRead { source, plain: Vec::new(), at: 0, discard, left }
    }

    /// The next plaintext block into `self.plain`; false at the end.
    fn next_block(&mut self) -> Result<bool> {
        match &mut self.source {
            Blocks::Here(decoder) => match decoder.next(&mut self.plain)? {
                Some(n) => self.plain.truncate(n),
                None => return Ok(false),
            },
            Blocks::Ahead { decoded, spare } => match decoded.recv() {
                Ok(block) => {
                    let used = std::mem::replace(&mut self.plain, block?);
                    let _ = spare.send(used);
                }
                Err(_) => return Ok(false),
            },
        }
        self.at = self.discard.min(self.plain.len());
        self.discard = 0;
        Ok(true)
    }
}

impl ReadStream for CryptRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.left == Some(0) {
            return Ok(0);
        }
        while self.at >= self.plain.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let mut n = (self.plain.len() - self.at).min(buf.len());
        if let Some(left) = self.left {
            n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.left = Some(left - n as u64);
        }
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Encrypts a stream into sealed blocks.
struct CryptWrite {
    inner: Option<Box<dyn WriteStream>>,
    blocks: Arc<BlockCipher>,
    nonce: Nonce,
    plain: Vec<u8>,
    sealed: Vec<u8>,
    written: u64,
    passthrough: bool,
}

impl CryptWrite {
    fn flush_block(&mut self) -> Result<()> {
        self.sealed.clear();
        self.blocks.seal(&self.nonce, &self.plain, &mut self.sealed);
        self.nonce.increment();
        self.plain.clear();
        match self.inner.as_mut() {
            Some(inner) => inner.write_all(&self.sealed),
            None => Ok(()),
        }
    }
}

impl WriteStream for CryptWrite {
    fn write_all(&mut self, mut data: &[u8]) -> Result<()> {
        self.written += data.len() as u64;
        if self.passthrough {
            return match self.inner.as_mut() {
                Some(inner) => inner.write_all(data),
                None => Ok(()),
            };
        }
        while !data.is_empty() {
            let n = (BLOCK_DATA as usize - self.plain.len()).min(data.len());
            self.plain.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.plain.len() == BLOCK_DATA as usize {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        if !self.passthrough && !self.plain.is_empty() {
            self.flush_block()?;
        }
        match self.inner.take() {
            Some(inner) => inner.commit().map(|_| self.written),
            None => Ok(self.written),
        }
    }

    fn abort(mut self: Box<Self>) {
        if let Some(inner) = self.inner.take() {
            inner.abort();
        }
    }
}
