//! Logging setup: env_logger with rclone-like lines (`2026/11/24 22:00:00 INFO  : text`) on
//! stderr, appended to `--log-file`, or sent to the local syslog (`--syslog`, facility
//! `--syslog-facility`). `--log-format` picks the parts of a line as rclone's does (`date`,
//! `time`, `microseconds`, `UTC`, `pid`, `nolevel`, `json`; times are always UTC here), and
//! `--use-json-log` gives one JSON object per line. `-v`/`-vv`/`--log-level` choose the level;
//! RUST_LOG, when set, wins. A failed login is one line in a fixed format (see
//! `session::login::failed_login_line`), which `dist/fail2ban/filter.d/ftpvfs.conf` matches.
//!
//! Levels: the default shows start/stop, warnings and errors (rclone's NOTICE); `-v` adds one
//! line per login, transfer and disconnect; `-vv` adds every command and reply (never a
//! password: PASS is logged as `PASS ****`).

use std::io::Write;
use std::os::unix::net::UnixDatagram;

use log::LevelFilter;

/// Where log lines go and how they look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `--log-file`: appended there instead of stderr.
    pub file: Option<std::path::PathBuf>,
    /// `--syslog`, with the facility's number (`--syslog-facility`, default DAEMON = 3).
    pub syslog: Option<u8>,
    /// `--log-format`.
    pub format: LogFormat,
}

/// The parts of a line (`--log-format`, rclone's default `date,time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFormat {
    /// `date`: `YYYY/MM/DD`.
    pub date: bool,
    /// `time`: `HH:MM:SS`.
    pub time: bool,
    /// `microseconds`: `.uuuuuu` after the time.
    pub microseconds: bool,
    /// `pid`: `[PID] ` before the level.
    pub pid: bool,
    /// `nolevel`: no level label.
    pub nolevel: bool,
    /// `json` (or `--use-json-log`): `{"time":...,"level":...,"msg":...,"source":"ftpvfs"}`.
    pub json: bool,
}

impl Default for LogFormat {
    fn default() -> LogFormat {
        LogFormat { date: true, time: true, microseconds: false, pid: false, nolevel: false, json: false }
    }
}

impl LogFormat {
    /// Reads rclone's `--log-format` list.
    ///
    /// # Errors
    /// A part rclone does not have (`shortfile` and `longfile` name Go source files: refused
    /// as not supported).
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        let mut f = LogFormat { date: false, time: false, ..LogFormat::default() };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "date" => f.date = true,
                "time" => f.time = true,
                "microseconds" => f.microseconds = true,
                "UTC" => {} // every ftpvfs time is UTC already
                "pid" => f.pid = true,
                "nolevel" => f.nolevel = true,
                "json" => f.json = true,
                "shortfile" | "longfile" => {
                    return Err(format!(
                        "--log-format {part} is not supported yet (it names Go source files in rclone)"
                    ))
                }
                other => {
                    return Err(format!(
                        "--log-format: unknown part {other:?} (date, time, microseconds, UTC, pid, nolevel, json)"
                    ))
                }
            }
        }
        Ok(f)
    }
}

/// syslog's facility numbers by rclone's `--syslog-facility` names.
///
/// # Errors
/// An unknown name.
pub fn syslog_facility(name: &str) -> Result<u8, String> {
    const NAMES: [&str; 24] = [
        "KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR", "NEWS", "UUCP", "CRON", "AUTHPRIV", "FTP", "", "",
        "", "", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7",
    ];
    let upper = name.trim().to_ascii_uppercase();
    NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == upper)
        .map(|i| i as u8)
        .ok_or_else(|| format!("--syslog-facility {name:?}: not a syslog facility (DAEMON, FTP, LOCAL0..LOCAL7, ...)"))
}

/// The local syslog socket: `/dev/log`, or `FTPVFS_SYSLOG_SOCKET` (for tests, and containers
/// that mount the host's socket elsewhere).
fn syslog_socket() -> std::path::PathBuf {
    std::env::var_os("FTPVFS_SYSLOG_SOCKET").map_or_else(|| "/dev/log".into(), Into::into)
}

/// Sends each log record as one datagram to the syslog socket.
struct SyslogWriter {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl Write for SyslogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = buf.strip_suffix(b"\n").unwrap_or(buf);
        // A syslog that is gone loses the line; logging never fails the server.
        let _ = self.socket.send_to(line, &self.path);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// syslog's severity for a level (INFO is rclone's NOTICE, the default level).
fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 5,
        log::Level::Debug => 6,
        log::Level::Trace => 7,
    }
}

fn label(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARN ",
        log::Level::Info => "INFO ",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

/// One line in `format` (without syslog's header), newline included.
pub fn format_line(format: &LogFormat, now: std::time::SystemTime, level: log::Level, msg: &str) -> String {
    let u = crate::ftp::time::utc(now);
    let micros = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_micros());
    if format.json {
        let time = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            u.year, u.month, u.day, u.hour, u.minute, u.second
        );
        let value = serde_json::json!({
            "time": time,
            "level": label(level).trim().to_ascii_lowercase(),
            "msg": msg,
            "source": "ftpvfs",
        });
        return format!("{value}\n");
    }
    let mut line = String::with_capacity(msg.len() + 40);
    if format.date {
        line.push_str(&format!("{:04}/{:02}/{:02} ", u.year, u.month, u.day));
    }
    if format.time {
        line.push_str(&format!("{:02}:{:02}:{:02}", u.hour, u.minute, u.second));
        if format.microseconds {
            line.push_str(&format!(".{micros:06}"));
        }
        line.push(' ');
    }
    if format.pid {
        line.push_str(&format!("[{}] ", std::process::id()));
    }
    if !format.nolevel {
        line.push_str(label(level));
        line.push_str(": ");
    }
    line.push_str(msg);
    line.push('\n');
    line
}

/// Installs the logger as `opts` says. Safe to call once; later calls are ignored.
///
/// # Errors
/// The log file cannot be opened, or the syslog socket cannot be made.
pub fn init(level: LevelFilter, opts: &LogOptions) -> Result<(), String> {
    let mut builder = env_logger::Builder::new();
    // Other crates (mio) stay at INFO and above even with -vv.
    builder.filter_level(level.min(LevelFilter::Info));
    builder.filter_module("ftpvfs", level);
    // rustls warns about harmless client quirks (an IP address as SNI); our own lines name
    // the client and the TLS error when a handshake fails.
    builder.filter_module("rustls", LevelFilter::Error);
    // The HTTP client logs every call at DEBUG; our own lines say what a request was for.
    builder.filter_module("ureq", LevelFilter::Warn);
    builder.filter_module("ureq_proto", LevelFilter::Warn);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    let format = opts.format;
    match opts.syslog {
        Some(facility) => {
            // RFC 3164 as a local syslog takes it: `<PRI>ftpvfs[PID]: message` (it adds the time).
            builder.format(move |buf, record| {
                let pri = u16::from(facility) * 8 + u16::from(severity(record.level()));
                let body = format_line(
                    &LogFormat { date: false, time: false, pid: false, ..format },
                    std::time::SystemTime::now(),
                    record.level(),
                    &record.args().to_string(),
                );
                write!(buf, "<{pri}>ftpvfs[{}]: {body}", std::process::id())
            });
            let socket = UnixDatagram::unbound().map_err(|e| format!("--syslog: {e}"))?;
            builder.target(env_logger::Target::Pipe(Box::new(SyslogWriter { socket, path: syslog_socket() })));
        }
        None => {
            builder.format(move |buf, record| {
                buf.write_all(
                    format_line(&format, std::time::SystemTime::now(), record.level(), &record.args().to_string())
                        .as_bytes(),
                )
            });
            match &opts.file {
                Some(path) => {
                    use std::os::unix::fs::OpenOptionsExt;
                    let f = std::fs::OpenOptions::new()
                        .append(true)
                        .create(true)
                        .mode(0o640)
                        .open(path)
                        .map_err(|e| format!("--log-file {}: {e}", path.display()))?;
                    builder.target(env_logger::Target::Pipe(Box::new(f)));
                }
                None => {
                    builder.target(env_logger::Target::Stderr);
                }
            }
        }
    }
    let _ = builder.try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_rclone_names_them() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_796_320_800_000_123);
        let d = LogFormat::default();
        assert_eq!(format_line(&d, t, log::Level::Info, "hi"), "2026/12/03 18:00:00 INFO : hi\n");
        let f = LogFormat::parse("time,microseconds,nolevel,UTC").unwrap_or_default();
        assert_eq!(format_line(&f, t, log::Level::Warn, "x"), "18:00:00.000123 x\n");
        let j = LogFormat::parse("json").unwrap_or_default();
        let line = format_line(&j, t, log::Level::Warn, "a \"quote\"");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "a \"quote\"");
        assert_eq!(v["time"], "2026-12-03T18:00:00.000123Z");
        assert!(LogFormat::parse("date,shortfile").is_err());
        assert!(LogFormat::parse("sideways").is_err());
    }

    #[test]
    fn syslog_facilities_by_name() {
        assert_eq!(syslog_facility("DAEMON"), Ok(3));
        assert_eq!(syslog_facility("ftp"), Ok(11));
        assert_eq!(syslog_facility("LOCAL7"), Ok(23));
        assert!(syslog_facility("NOPE").is_err());
    }
}
