//! `--xferlog FILE`: one line per file transfer in the standard xferlog format that wu-ftpd,
//! ProFTPD and vsftpd write, so existing log analysers read it:
//!
//! ```text
//! Thu Dec  3 18:00:00 2026 2 192.0.2.7 1048576 /in/scan_01.pdf b _ i r alice ftp 0 * c
//! ```
//!
//! Fields: the end time (UTC, as every ftpvfs log line), whole seconds taken (at least 1),
//! client address, bytes moved, path (blanks and control characters as `_`, so the line
//! splits on spaces), `a`scii or `b`inary, `_` (no special action), `o`utgoing (RETR) or
//! `i`ncoming (STOR, APPE, STOU), `a`nonymous or `r`eal user, the user name, `ftp`, `0` (no
//! RFC 931 authentication), `*`, and `c`omplete or `i`ncomplete. Lines are written by a thread
//! of their own, so a slow disk never holds the event loop.

use std::io::Write;
use std::net::IpAddr;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// One finished (or failed) transfer.
#[derive(Debug, Clone)]
pub struct Transfer<'a> {
    /// When it ended.
    pub end: SystemTime,
    /// How long it took.
    pub took: Duration,
    /// The client.
    pub client: IpAddr,
    /// Bytes moved on the data connection.
    pub bytes: u64,
    /// The path, as the client sees it.
    pub path: &'a str,
    /// TYPE A.
    pub ascii: bool,
    /// An upload.
    pub upload: bool,
    /// The user logged in.
    pub user: &'a str,
    /// Whether every byte moved and the reply was 226.
    pub complete: bool,
}

/// The xferlog writer.
pub struct XferLog {
    lines: Mutex<Sender<String>>,
}

impl XferLog {
    /// Opens `path` for appending (created mode 0640) and starts its writer thread.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &std::path::Path) -> std::io::Result<XferLog> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o640).open(path)?;
        let (tx, rx) = channel::<String>();
        std::thread::Builder::new().name("xferlog".into()).spawn(move || {
            for line in rx {
                if let Err(e) = file.write_all(line.as_bytes()) {
                    log::warn!("--xferlog: {e}");
                }
            }
        })?;
        Ok(XferLog { lines: Mutex::new(tx) })
    }

    /// Records one transfer.
    pub fn record(&self, t: &Transfer<'_>) {
        let line = line(t);
        let _ = self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).send(line);
    }
}

/// The xferlog line for `t`, with its newline.
pub fn line(t: &Transfer<'_>) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let u = crate::ftp::time::utc(t.end);
    let days = t.end.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let weekday = DAYS[(days % 7) as usize];
    let month = MONTHS[(u.month.clamp(1, 12) - 1) as usize];
    let seconds = t.took.as_secs_f64().round().max(1.0) as u64;
    let path: String = t.path.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).collect();
    let user: String = t.user.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).collect();
    let anonymous = matches!(t.user, "anonymous" | "ftp");
    format!(
        "{weekday} {month} {:>2} {:02}:{:02}:{:02} {} {seconds} {} {} {path} {} _ {} {} {} ftp 0 * {}\n",
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.year,
        t.client,
        t.bytes,
        if t.ascii { 'a' } else { 'b' },
        if t.upload { 'i' } else { 'o' },
        if anonymous { 'a' } else { 'r' },
        if user.is_empty() { "*" } else { &user },
        if t.complete { 'c' } else { 'i' },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_fourteen_fields_of_the_standard_format() {
        let t = Transfer {
            end: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_320_800), // 2026-12-03 18:00:00
            took: Duration::from_millis(1600),
            client: "192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            bytes: 1_048_576,
            path: "/in/scan 01.pdf",
            ascii: false,
            upload: true,
            user: "alice",
            complete: true,
        };
        assert_eq!(line(&t), "Thu Dec  3 18:00:00 2026 2 192.0.2.7 1048576 /in/scan_01.pdf b _ i r alice ftp 0 * c\n");
        let quick =
            Transfer { took: Duration::ZERO, upload: false, user: "anonymous", complete: false, ascii: true, ..t };
        assert!(line(&quick).ends_with(" 1 192.0.2.7 1048576 /in/scan_01.pdf a _ o a anonymous ftp 0 * i\n"));
    }
}
