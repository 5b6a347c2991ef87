//! Every flag of `rclone serve ftp` (and the global rclone flags it uses), defined once:
//! name, value kind, default, help text, and whether this release implements it. The parser,
//! `--help` and the tests all read this table.

/// What kind of value a flag takes, and so how its text is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// No value (`--read-only`), or `--flag=true|false`.
    Bool,
    /// `off|minimal|writes|full`.
    CacheMode,
    /// rclone's bandwidth timetable (`10M`, `1M:100k`, `08:00,512k 12:00,off`).
    Bandwidth,
    /// A verbosity counter (`-v`, `-vv`).
    Count,
    /// rclone duration (`5m0s`).
    Duration,
    /// An unsigned integer.
    Int,
    /// `DEBUG|INFO|NOTICE|ERROR`.
    LogLevel,
    /// Octal mode (`0777`).
    Mode,
    /// `first-last` port range.
    PortRange,
    /// rclone size (`128M`, `off`).
    Size,
    /// Free text.
    Text,
}

/// Whether this release implements a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Implemented: the value takes effect.
    Now,
    /// Parsed and checked, then refused at startup, naming the feature that brings it.
    Later(&'static str),
    /// Implemented for some values only; the config layer refuses the others by name.
    Partly,
}

/// One command-line flag.
#[derive(Debug, Clone, Copy)]
pub struct FlagDef {
    /// Long name without the dashes.
    pub name: &'static str,
    /// One-letter alias, if any.
    pub short: Option<char>,
    /// Kind of value.
    pub kind: ValueKind,
    /// Default as rclone prints it, "" for none.
    pub default: &'static str,
    /// One-line help.
    pub help: &'static str,
    /// Implemented now or later.
    pub support: Support,
}

const fn flag(
    name: &'static str,
    kind: ValueKind,
    default: &'static str,
    help: &'static str,
    support: Support,
) -> FlagDef {
    FlagDef { name, short: None, kind, default, help, support }
}

use Support::{Later, Now};
use ValueKind::*;

/// Why rclone's `--metrics-*` options beyond address and Basic auth are refused.
const METRICS_HTTP: &str =
    "the metrics server speaks plain HTTP, with Basic auth from --metrics-user/--metrics-pass only";

/// The flags of `ftpvfs serve`, in the order `--help` prints them.
pub const SERVE_FLAGS: &[FlagDef] = &[
    flag("addr", Text, "localhost:2121", "IPaddress:Port or :Port to bind server to", Now),
    flag("ask-password", Bool, "true", "Allow prompt for password for encrypted configuration", Now),
    flag("auth-proxy", Text, "", "A program to use to create the backend from the auth", Now),
    flag(
        "auth-proxy-timeout",
        Duration,
        "10s",
        "[ftpvfs] How long --auth-proxy's program may take before the login fails",
        Now,
    ),
    flag(
        "ban-after",
        Int,
        "20",
        "[ftpvfs] Failed logins from one IP (within 15 minutes) before it is banned (0: never)",
        Now,
    ),
    flag("ban-time", Duration, "1m0s", "[ftpvfs] How long a banned IP is refused (421)", Now),
    flag("buffer-size", Size, "16Mi", "In memory buffer size when reading files for each --transfer", Now),
    flag(
        "bwlimit",
        Bandwidth,
        "",
        "Bandwidth limit in KiB/s, or use suffix B|K|M|G|T|P or a full timetable (shared by all transfers)",
        Now,
    ),
    flag(
        "bwlimit-file",
        Bandwidth,
        "",
        "Bandwidth limit per file in KiB/s, or use suffix B|K|M|G|T|P or a full timetable",
        Now,
    ),
    flag("cache-dir", Text, "", "Directory rclone will use for caching", Now),
    flag("cert", Text, "", "TLS PEM key (concatenation of certificate and CA certificate)", Now),
    flag("config", Text, "", "Config file (default: rclone's search order; 'notfound' for none)", Now),
    flag("contimeout", Duration, "1m0s", "Connect timeout of the remote's connections (the HTTP remotes)", Now),
    flag(
        "data-timeout",
        Duration,
        "1m0s",
        "[ftpvfs] Wait this long for a data connection, or for a stalled one to move",
        Now,
    ),
    flag("dir-cache-time", Duration, "5m0s", "Time to cache directory entries for", Now),
    flag("dir-perms", Mode, "0777", "Directory permissions", Now),
    flag("file-perms", Mode, "0666", "File permissions", Now),
    flag("gid", Int, "", "Override the gid field set by the filesystem (default: the current gid)", Now),
    flag("idle-timeout", Duration, "5m0s", "[ftpvfs] Close a logged-in session idle this long (0: never)", Now),
    flag("implicit-tls", Bool, "", "[ftpvfs] TLS from the first byte on --addr (as rclone), not AUTH TLS", Now),
    flag("key", Text, "", "TLS PEM Private key", Now),
    flag("log-file", Text, "", "Log everything to this file (appended; created 0640)", Now),
    flag(
        "log-format",
        Text,
        "date,time",
        "Comma separated list of log format options (date,time,microseconds,UTC,pid,nolevel,json)",
        Now,
    ),
    flag("log-level", LogLevel, "NOTICE", "Log level DEBUG|INFO|NOTICE|ERROR", Now),
    flag("login-timeout", Duration, "1m0s", "[ftpvfs] Close a session not logged in this long after connecting", Now),
    flag(
        "low-level-retries",
        Int,
        "10",
        "Number of low level retries of one request to the remote (the HTTP remotes)",
        Now,
    ),
    flag(
        "max-bad-commands",
        Int,
        "10",
        "[ftpvfs] Unknown, or refused before login, commands before a session is closed",
        Now,
    ),
    flag("max-connections", Int, "10000", "[ftpvfs] Most control connections at once; more get 421", Now),
    flag(
        "max-connections-per-ip",
        Int,
        "0",
        "[ftpvfs] Most control connections from one IP (0: only --max-connections)",
        Now,
    ),
    flag("max-list-entries", Int, "500000", "[ftpvfs] Most entries in one listing; a larger directory gets 550", Now),
    flag("metrics-addr", Text, "", "IPaddress:Port or :Port to bind the metrics server to (off when empty)", Now),
    flag("metrics-allow-origin", Text, "", "Origin which cross-domain request (CORS) can be executed from", Later(METRICS_HTTP)),
    flag("metrics-baseurl", Text, "", "Prefix for URLs - leave blank for root", Now),
    flag("metrics-cert", Text, "", "TLS PEM key (concatenation of certificate and CA certificate)", Later(METRICS_HTTP)),
    flag("metrics-client-ca", Text, "", "Client certificate authority to verify clients with", Later(METRICS_HTTP)),
    flag("metrics-htpasswd", Text, "", "A htpasswd file - if not provided no authentication is done", Later(METRICS_HTTP)),
    flag("metrics-key", Text, "", "TLS PEM Private key", Later(METRICS_HTTP)),
    flag("metrics-max-header-bytes", Int, "4096", "Maximum size of request header", Later(METRICS_HTTP)),
    flag("metrics-min-tls-version", Text, "tls1.0", "Minimum TLS version that is acceptable", Later(METRICS_HTTP)),
    flag("metrics-pass", Text, "", "Password for the metrics server's Basic auth", Now),
    flag("metrics-realm", Text, "", "Realm for authentication (default \"ftpvfs metrics\")", Now),
    flag("metrics-salt", Text, "dlPL2MqE", "Password hashing salt", Later(METRICS_HTTP)),
    flag("metrics-server-read-timeout", Duration, "1h0m0s", "Timeout for server reading data", Later(METRICS_HTTP)),
    flag("metrics-server-write-timeout", Duration, "1h0m0s", "Timeout for server writing data", Later(METRICS_HTTP)),
    flag("metrics-template", Text, "", "User-specified template", Later(METRICS_HTTP)),
    flag("metrics-user", Text, "", "User name for the metrics server's Basic auth (none when empty)", Now),
    flag(
        "no-checksum",
        Bool,
        "",
        "Don't compare checksums on up/download (no backend of this release has hashes to compare)",
        Now,
    ),
    flag("no-modtime", Bool, "", "Don't read/write the modification time (can speed things up)", Now),
    flag("no-seek", Bool, "", "Don't allow seeking in files", Now),
    flag("pass", Text, "", "Password for authentication (empty value allow every password)", Now),
    flag("passive-port", PortRange, "30000-32000", "Passive port range to use", Now),
    flag(
        "password-command",
        Text,
        "",
        "Command for supplying password for encrypted configuration (its output is the password)",
        Now,
    ),
    flag("poll-interval", Duration, "1m0s", "Time to wait between polling for changes (only on remotes that report changes; local and memory do not, as in rclone)", Now),
    flag(
        "proxy-protocol-from",
        Text,
        "",
        "[ftpvfs] Balancers (CIDR[,CIDR...]) whose connections, control and passive, start with a PROXY protocol v1/v2 header",
        Now,
    ),
    flag("public-ip", Text, "", "Public IP address to advertise for passive connections", Now),
    flag("rc", Bool, "", "Enable the remote control server", Now),
    flag("rc-addr", Text, "localhost:5572", "IPaddress:Port or :Port to bind the rc server to", Now),
    flag("rc-enable-metrics", Bool, "", "Enable the Prometheus metrics path at the remote control server", Now),
    flag("rc-no-auth", Bool, "", "Don't require auth for the rc server (must be asked for)", Now),
    flag("rc-pass", Text, "", "Password for the rc server's Basic auth", Now),
    flag("rc-user", Text, "", "User name for the rc server's Basic auth", Now),
    flag("read-only", Bool, "", "Only allow read-only access", Now),
    flag("syslog", Bool, "", "Use Syslog for logging", Now),
    flag("syslog-facility", Text, "DAEMON", "Facility for syslog, e.g. KERN,USER,...", Now),
    flag("timeout", Duration, "5m0s", "IO idle timeout of the remote's connections (the HTTP remotes)", Now),
    flag(
        "tls-optional",
        Bool,
        "",
        "[ftpvfs] With a certificate, still allow clear-text logins and PROT C transfers",
        Now,
    ),
    flag(
        "tls-require-reuse",
        Bool,
        "",
        "[ftpvfs] Refuse a TLS data connection that does not resume the control session",
        Now,
    ),
    flag("transfers", Int, "4", "Number of file transfers to run in parallel", Now),
    flag("uid", Int, "", "Override the uid field set by the filesystem (default: the current uid)", Now),
    flag("umask", Mode, "", "Override the permission bits set by the filesystem (default: the process umask)", Now),
    flag("use-json-log", Bool, "", "Use json log format", Now),
    flag(
        "use-server-modtime",
        Bool,
        "",
        "Use the server's modified time instead of the object's metadata (saves a HEAD per S3 object)",
        Now,
    ),
    flag("user", Text, "anonymous", "User name for authentication", Now),
    flag("vfs-cache-max-age", Duration, "1h0m0s", "Max time since last access of objects in the cache", Now),
    flag("vfs-cache-max-size", Size, "off", "Max total size of objects in the cache", Now),
    flag("vfs-cache-mode", CacheMode, "off", "Cache mode off|minimal|writes|full", Now),
    flag("vfs-cache-poll-interval", Duration, "1m0s", "Interval to poll the cache for stale objects", Now),
    flag("vfs-case-insensitive", Bool, "", "If a file name not found, find a case insensitive match", Now),
    flag("vfs-read-ahead", Size, "0", "Extra read ahead over --buffer-size when using cache-mode full", Now),
    flag("vfs-read-chunk-size", Size, "128Mi", "Read the source objects in chunks", Now),
    flag("vfs-read-chunk-size-limit", Size, "off", "Max chunk doubling size ('off' is unlimited)", Now),
    flag(
        "vfs-read-wait",
        Duration,
        "20ms",
        "Time to wait for in-sequence read before seeking (FTP reads are always in sequence)",
        Now,
    ),
    flag(
        "vfs-used-is-size",
        Bool,
        "",
        "Use the rclone size algorithm for Used size (shown by STAT)",
        Now,
    ),
    flag("vfs-write-back", Duration, "5s", "Time to writeback files after last use when using cache", Now),
    flag(
        "vfs-write-wait",
        Duration,
        "1s",
        "Time to wait for in-sequence write before giving error (FTP writes are always in sequence)",
        Now,
    ),
    flag(
        "xferlog",
        Text,
        "",
        "[ftpvfs] Append a line per file transfer to this file, in the standard xferlog format",
        Now,
    ),
    FlagDef {
        name: "verbose",
        short: Some('v'),
        kind: Count,
        default: "",
        help: "Print lots more stuff (repeat for more)",
        support: Now,
    },
];

/// Looks a long flag name up in the table.
pub fn find_long(name: &str) -> Option<&'static FlagDef> {
    SERVE_FLAGS.iter().find(|f| f.name == name)
}

/// Looks a one-letter flag up in the table.
pub fn find_short(c: char) -> Option<&'static FlagDef> {
    SERVE_FLAGS.iter().find(|f| f.short == Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::check_value;

    #[test]
    fn every_default_is_a_valid_value_of_its_kind() {
        for f in SERVE_FLAGS {
            if f.default.is_empty() || matches!(f.kind, Bool | Count | Text) {
                continue;
            }
            assert!(check_value(f, f.default).is_ok(), "default of --{} is invalid", f.name);
        }
    }

    #[test]
    fn names_are_unique_and_sorted() {
        let names: Vec<_> = SERVE_FLAGS.iter().filter(|f| f.short.is_none()).map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn every_option_of_the_spec_is_defined() {
        // The Options section of shared/spec/rclone-serve-ftp.md, less -h/--help.
        let spec = [
            "addr",
            "auth-proxy",
            "cert",
            "dir-cache-time",
            "dir-perms",
            "file-perms",
            "gid",
            "key",
            "no-checksum",
            "no-modtime",
            "no-seek",
            "pass",
            "passive-port",
            "poll-interval",
            "public-ip",
            "read-only",
            "uid",
            "umask",
            "user",
            "vfs-cache-max-age",
            "vfs-cache-max-size",
            "vfs-cache-mode",
            "vfs-cache-poll-interval",
            "vfs-case-insensitive",
            "vfs-read-ahead",
            "vfs-read-chunk-size",
            "vfs-read-chunk-size-limit",
            "vfs-read-wait",
            "vfs-used-is-size",
            "vfs-write-back",
            "vfs-write-wait",
        ];
        for name in spec {
            assert_eq!(find_long(name).map(|f| f.help.starts_with("[ftpvfs]")), Some(false), "--{name}");
            assert!(find_long(name).is_some(), "--{name} is missing from the flag table");
        }
    }
}
