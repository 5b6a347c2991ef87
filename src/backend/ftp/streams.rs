//! The ftp backend's file streams. Each holds a pooled connection for its transfer. A stream
//! that ends properly (end of data, its range read, commit, abort) reads the server's final
//! reply and gives the connection back; one dropped in any other state closes it, without
//! blocking (drops may happen on the reactor thread).

use crate::backend::ftp::conn::{DataStream, FtpError};
use crate::backend::ftp::error_for;
use crate::backend::ftp::pool::Lease;
use crate::backend::{ReadStream, Result, WriteStream};

/// A download: `RETR` (after `REST` for an offset), limited to the range asked for.
pub struct FtpRead {
    lease: Option<Lease>,
    data: Option<DataStream>,
    /// Bytes still wanted (`None`: to the end).
    left: Option<u64>,
    path: String,
}

impl FtpRead {
    /// A stream over a started transfer.
    pub fn new(lease: Lease, data: DataStream, len: Option<u64>, path: &str) -> FtpRead {
        FtpRead { lease: Some(lease), data: Some(data), left: len, path: path.to_string() }
    }

    /// Ends the transfer: at the end of the data (`early` false) the final reply must be a
    /// success; after reading only a range (`early` true) the data connection is closed and
    /// whatever the server says about that is accepted.
    fn finish(&mut self, early: bool) -> Result<()> {
        let Some(mut lease) = self.lease.take() else { return Ok(()) };
        if let Some(data) = self.data.take() {
            if early {
                data.abandon();
            }
        }
        let result = if early {
            lease.conn().closing_reply().map(|_| ()).map_err(FtpError::Io)
        } else {
            lease.conn().end_transfer().map(|_| ())
        };
        match result {
            Ok(()) => {
                lease.release();
                Ok(())
            }
            Err(e @ FtpError::Reply(_)) => {
                lease.release();
                Err(error_for(e, &self.path))
            }
            Err(e) => Err(error_for(e, &self.path)),
        }
    }
}

impl ReadStream for FtpRead {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let want = match self.left {
            Some(0) => {
                self.finish(true)?;
                return Ok(0);
            }
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let Some(data) = self.data.as_mut() else { return Ok(0) };
        match data.read(&mut buf[..want]) {
            Ok(0) => {
                self.finish(false)?;
                Ok(0)
            }
            Ok(n) => {
                if let Some(left) = self.left.as_mut() {
                    *left -= n as u64;
                    if *left == 0 {
                        // The range is read: end the transfer now, so the connection is reused
                        // (a reader that got its range does not call again). The data is good
                        // whatever the server says about the early close.
                        if let Err(e) = self.finish(true) {
                            log::debug!("ftp backend: ending a ranged read of {}: {e}", self.path);
                        }
                    }
                }
                Ok(n)
            }
            Err(e) => {
                self.data = None;
                self.lease = None;
                Err(error_for(FtpError::Io(e), &self.path))
            }
        }
    }
}

/// An upload: `STOR` (to a hidden name renamed on commit, or after `REST`) or `APPE`.
pub struct FtpWrite {
    lease: Option<Lease>,
    data: Option<DataStream>,
    /// For a replacing upload: the hidden name written and the final name.
    rename: Option<(String, String)>,
    written: u64,
    path: String,
}

impl FtpWrite {
    /// A stream over a started transfer.
    pub fn new(lease: Lease, data: DataStream, rename: Option<(String, String)>, path: &str) -> FtpWrite {
        FtpWrite { lease: Some(lease), data: Some(data), rename, written: 0, path: path.to_string() }
    }
}

impl WriteStream for FtpWrite {
    fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let Some(data) = self.data.as_mut() else {
            return Err(error_for(FtpError::Io(std::io::Error::other("the upload was closed")), &self.path));
        };
        match data.write_all(buf) {
            Ok(()) => {
                self.written += buf.len() as u64;
                Ok(())
            }
            Err(e) => Err(error_for(FtpError::Io(e), &self.path)),
        }
    }

    fn commit(mut self: Box<Self>) -> Result<u64> {
        let (Some(mut lease), Some(data)) = (self.lease.take(), self.data.take()) else {
            return Err(error_for(FtpError::Io(std::io::Error::other("the upload was closed")), &self.path));
        };
        let timeout = lease.conn().close_timeout();
        if let Err(e) = data.finish_upload(timeout) {
            return Err(error_for(FtpError::Io(e), &self.path));
        }
        let result = lease.conn().end_transfer().and_then(|_| match &self.rename {
            Some((temp, target)) => {
                lease.conn().expect(&format!("RNFR {temp}"), &[350])?;
                lease.conn().expect(&format!("RNTO {target}"), &[250, 200]).map(|_| ())
            }
            None => Ok(()),
        });
        match result {
            Ok(_) => {
                lease.release();
                Ok(self.written)
            }
            Err(e) => {
                if let (Some((temp, _)), FtpError::Reply(_)) = (&self.rename, &e) {
                    let _ = lease.conn().command(&format!("DELE {temp}"));
                    lease.release();
                }
                Err(error_for(e, &self.path))
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        let Some(mut lease) = self.lease.take() else { return };
        if let Some(data) = self.data.take() {
            data.abandon();
        }
        if lease.conn().closing_reply().is_err() {
            return;
        }
        if let Some((temp, _)) = &self.rename {
            match lease.conn().command(&format!("DELE {temp}")) {
                Ok(_) => lease.release(),
                Err(e) => log::warn!("ftp backend: could not remove the partial upload {temp}: {e}"),
            }
        } else {
            lease.release();
        }
    }
}
