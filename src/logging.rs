//! Logging setup: env_logger with rclone-like lines (`2026/11/24 22:00:00 INFO  : text`) on
//! stderr, or appended to `--log-file`. `-v`/`-vv`/`--log-level` choose the level; RUST_LOG,
//! when set, wins. A failed login is one line in a fixed format (see
//! `session::login::failed_login_line`), which `dist/fail2ban/filter.d/ftpvfs.conf` matches.
//!
//! Levels: the default shows start/stop, warnings and errors (rclone's NOTICE); `-v` adds one
//! line per login, transfer and disconnect; `-vv` adds every command and reply (never a
//! password: PASS is logged as `PASS ****`).

use std::io::Write;

use log::LevelFilter;

/// Installs the logger, writing to `file` (appended, created mode 0640) or stderr. Safe to
/// call once; later calls are ignored.
///
/// # Errors
/// The log file cannot be opened.
pub fn init(level: LevelFilter, file: Option<&std::path::Path>) -> Result<(), String> {
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
    builder.format(|buf, record| {
        let label = match record.level() {
            log::Level::Error => "ERROR",
            log::Level::Warn => "WARN ",
            log::Level::Info => "INFO ",
            log::Level::Debug => "DEBUG",
            log::Level::Trace => "TRACE",
        };
        let stamp = crate::ftp::time::log_stamp(std::time::SystemTime::now());
        writeln!(buf, "{stamp} {label}: {}", record.args())
    });
    match file {
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
    let _ = builder.try_init();
    Ok(())
}
