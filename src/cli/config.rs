//! `Config`: what the flags mean once all are known. Here the remote is resolved, defaults
//! that depend on the process (uid, gid, umask) are filled in, and flags whose feature is not
//! in this release are refused by name.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use crate::auth::Secret;
use crate::cli::args::{RawArgs, Value};
use crate::cli::flags::{Support, SERVE_FLAGS};
use crate::cli::units::PortRange;
use crate::cli::CliError;
use crate::server::limits::Limits;
use crate::vfs::VfsOptions;

/// Everything the server needs to start, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind the control listener to.
    pub addr: SocketAddr,
    /// What is served as `/`.
    pub served: Served,
    /// The one user name that may log in.
    pub user: String,
    /// Its password; empty means any password is accepted.
    pub pass: Secret<String>,
    /// Whether `--user` was given (so a public listener is not open to anyone).
    pub user_given: bool,
    /// IPv4 address advertised in PASV replies instead of the control connection's.
    pub public_ip: Option<Ipv4Addr>,
    /// Ports used for passive data connections.
    pub passive_ports: PortRange,
    /// VFS behaviour (read-only, perms, owner, seek, modtime).
    pub vfs: VfsOptions,
    /// Log verbosity from `-v`/`--log-level` (RUST_LOG wins when set).
    pub log_level: LevelFilter,
    /// Where log lines go and how they look (`--log-file`, `--syslog`, `--log-format`).
    pub log: crate::logging::LogOptions,
    /// `--xferlog`: a line per file transfer, in the standard xferlog format.
    pub xferlog: Option<PathBuf>,
    /// `--proxy-protocol-from`: balancers whose connections start with a PROXY header.
    pub proxy_protocol_from: crate::server::proxy_header::TrustedProxies,
    /// `--bwlimit`: the limit all transfers share (empty: none).
    pub bwlimit: crate::data::bandwidth::Timetable,
    /// `--bwlimit-file`: the limit of each transfer on its own (empty: none).
    pub bwlimit_file: crate::data::bandwidth::Timetable,
    /// FTPS: certificate chain file, key file and policy, when `--cert`/`--key` are given.
    pub tls: Option<(PathBuf, PathBuf, crate::tls::TlsPolicy)>,
    /// `--auth-proxy` program and `--auth-proxy-timeout`.
    pub auth_proxy: Option<(String, Duration)>,
    /// `--rc` and its address and credentials.
    pub rc: Option<crate::rc::RcOptions>,
    /// `--metrics-addr`: `/metrics` on its own listener.
    pub metrics: Option<crate::rc::RcOptions>,
    /// The disk cache's flags (`None` in mode off); the remote's name and root in the cache
    /// layout are filled in from what is served.
    pub cache: Option<crate::vfs::cache::CacheOptions>,
}

impl Config {
    /// Builds the config from checked flags.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a missing REMOTE:PATH, a bad `--addr` or `--public-ip`, and flags
    /// this release does not implement; [`CliError::Fatal`] when the root cannot be used.
    pub fn from_args(raw: &RawArgs) -> Result<Config, CliError> {
        refuse_later_flags(raw)?;
        let proxy_given = flag_text(raw, "auth-proxy").is_some_and(|p| !p.trim().is_empty());
        let remote = match (raw.remote.as_deref(), proxy_given) {
            (Some(r), false) => r,
            (None, true) => "",
            (Some(_), true) => {
                return Err(CliError::Usage(
                    "with --auth-proxy, give no REMOTE:PATH: the proxy decides what each login serves".into(),
                ))
            }
            (None, false) => {
                return Err(CliError::Usage("serve needs a REMOTE:PATH argument, e.g. `ftpvfs serve ./files`".into()))
            }
        };
        let vfs = VfsOptions {
            read_only: flag_bool(raw, "read-only"),
            no_seek: flag_bool(raw, "no-seek"),
            no_modtime: flag_bool(raw, "no-modtime"),
            file_perms: flag_mode(raw, "file-perms").unwrap_or(0o666),
            dir_perms: flag_mode(raw, "dir-perms").unwrap_or(0o777),
            umask: flag_mode(raw, "umask").unwrap_or_else(process_umask),
            uid: flag_u32(raw, "uid")?.unwrap_or_else(|| process_owner().0),
            gid: flag_u32(raw, "gid")?.unwrap_or_else(|| process_owner().1),
            // Zero caches nothing; `off` keeps listings until SIGHUP or a change through us.
            dir_cache_time: match raw.values.get("dir-cache-time") {
                Some(Value::Duration(d)) => *d,
                _ => Duration::from_secs(300),
            },
            chunks: crate::vfs::chunked_reader::ChunkPolicy {
                initial: match raw.values.get("vfs-read-chunk-size") {
                    Some(Value::Size(s)) => *s,
                    _ => Some(128 << 20),
                },
                limit: match raw.values.get("vfs-read-chunk-size-limit") {
                    Some(Value::Size(s)) => *s,
                    _ => None,
                },
            },
            case_insensitive: flag_bool(raw, "vfs-case-insensitive"),
            buffer_size: match raw.values.get("buffer-size") {
                Some(Value::Size(s)) => s.unwrap_or(0),
                _ => 16 << 20,
            },
            used_is_size: flag_bool(raw, "vfs-used-is-size"),
            cache_mode: match raw.values.get("vfs-cache-mode") {
                Some(Value::Text(m)) => crate::vfs::cache::CacheMode::parse(m).unwrap_or_default(),
                _ => crate::vfs::cache::CacheMode::Off,
            },
        };
        let auth_proxy = flag_text(raw, "auth-proxy").filter(|p| !p.trim().is_empty()).map(|p| {
            let timeout = match raw.values.get("auth-proxy-timeout") {
                Some(Value::Duration(d)) if !d.is_zero() => *d,
                _ => Duration::from_secs(10),
            };
            (p, timeout)
        });
        if auth_proxy.is_some() && (raw.given("user") || raw.given("pass")) {
            return Err(CliError::Usage(
                "--auth-proxy and --user/--pass cannot be used together: the proxy decides every login".into(),
            ));
        }
        let served = if let Some((program, _)) = &auth_proxy {
            Served::AuthProxy(program.clone())
        } else {
            let password = crate::remote::config_crypt::PasswordSource {
                command: flag_text(raw, "password-command").filter(|c| !c.trim().is_empty()),
                ask: !matches!(raw.values.get("ask-password"), Some(Value::Bool(false))),
            };
            resolve_remote(remote, flag_text(raw, "config").as_deref(), vfs.read_only, &password)?
        };
        #[cfg(any(feature = "s3", feature = "http", feature = "webdav"))]
        let served = match served {
            #[cfg(feature = "http")]
            Served::Http(mut opts) => {
                opts.net = net_options(raw);
                Served::Http(opts)
            }
            #[cfg(feature = "webdav")]
            Served::Webdav(mut opts) => {
                opts.net = net_options(raw);
                Served::Webdav(opts)
            }
            #[cfg(feature = "s3")]
            Served::S3(mut opts) => {
                opts.net = net_options(raw);
                opts.server_modtime = vfs.no_modtime || flag_bool(raw, "use-server-modtime");
                Served::S3(opts)
            }
            #[cfg(feature = "wrappers")]
            Served::Composed(mut inner) => {
                inner.set_network_flags(&net_options(raw), vfs.no_modtime || flag_bool(raw, "use-server-modtime"));
                Served::Composed(inner)
            }
            #[cfg(feature = "crypt")]
            Served::Crypt(opts, mut inner) => {
                inner.set_network_flags(&net_options(raw), vfs.no_modtime || flag_bool(raw, "use-server-modtime"));
                Served::Crypt(opts, inner)
            }
            other => other,
        };
        // A remote that cannot change (http) is served as with --read-only, so that a write
        // is refused at once and never accepted into the cache only to fail on upload.
        let vfs = VfsOptions { read_only: vfs.read_only || served.read_only_by_nature(), ..vfs };
        let cache = cache_options(raw, vfs.cache_mode, &served);
        Ok(Config {
            addr: parse_addr("addr", &flag_text(raw, "addr").unwrap_or_else(|| "localhost:2121".into()))?,
            served,
            user: flag_text(raw, "user").unwrap_or_else(|| "anonymous".into()),
            pass: Secret::new(flag_text(raw, "pass").unwrap_or_default()),
            user_given: raw.given("user"),
            public_ip: match flag_text(raw, "public-ip").filter(|s| !s.is_empty()) {
                None => None,
                Some(ip) => Some(ip.parse().map_err(|_| {
                    CliError::Usage(format!("invalid value {ip:?} for --public-ip: expected an IPv4 address"))
                })?),
            },
            passive_ports: match raw.values.get("passive-port") {
                Some(Value::PortRange(r)) => *r,
                _ => PortRange { first: 30000, last: 32000 },
            },
            vfs,
            auth_proxy,
            rc: rc_options(raw)?,
            metrics: metrics_options(raw)?,
            cache,
            log_level: log_level(raw),
            log: log_options(raw)?,
            xferlog: flag_text(raw, "xferlog").filter(|f| !f.is_empty()).map(PathBuf::from),
            proxy_protocol_from: {
                let text = flag_text(raw, "proxy-protocol-from").unwrap_or_default();
                crate::server::proxy_header::TrustedProxies::parse(&text)
                    .map_err(|e| CliError::Usage(format!("invalid value for --proxy-protocol-from: {e}")))?
            },
            bwlimit: bandwidth(raw, "bwlimit")?,
            bwlimit_file: bandwidth(raw, "bwlimit-file")?,
            tls: tls_config(raw)?,
        })
    }
}

/// A bandwidth timetable flag; not given (or given empty) is no limit.
fn bandwidth(raw: &RawArgs, name: &str) -> Result<crate::data::bandwidth::Timetable, CliError> {
    match flag_text(raw, name).filter(|t| !t.trim().is_empty()) {
        None => Ok(crate::data::bandwidth::Timetable::default()),
        Some(text) => crate::data::bandwidth::Timetable::parse(&text)
            .map_err(|e| CliError::Usage(format!("invalid value {text:?} for --{name}: {e}"))),
    }
}

/// rclone's global network flags, for the remotes that open connections of their own.
#[cfg(any(feature = "s3", feature = "http", feature = "webdav"))]
fn net_options(raw: &RawArgs) -> crate::backend::net::NetOptions {
    let defaults = crate::backend::net::NetOptions::default();
    let duration = |name: &str, default: Duration| match raw.values.get(name) {
        Some(Value::Duration(d)) => *d,
        _ => default,
    };
    crate::backend::net::NetOptions {
        connect_timeout: duration("contimeout", defaults.connect_timeout),
        io_timeout: duration("timeout", defaults.io_timeout),
        low_level_retries: match raw.values.get("low-level-retries") {
            Some(Value::Int(n)) => u32::try_from(*n).unwrap_or(u32::MAX).max(1),
            _ => defaults.low_level_retries,
        },
    }
}

/// `--cert`/`--key` and the TLS policy flags, which need them.
fn tls_config(raw: &RawArgs) -> Result<Option<(PathBuf, PathBuf, crate::tls::TlsPolicy)>, CliError> {
    let cert = flag_text(raw, "cert").filter(|s| !s.is_empty());
    let key = flag_text(raw, "key").filter(|s| !s.is_empty());
    let policy = crate::tls::TlsPolicy {
        implicit: flag_bool(raw, "implicit-tls"),
        required: !flag_bool(raw, "tls-optional"),
        require_reuse: flag_bool(raw, "tls-require-reuse"),
    };
    match (cert, key) {
        (Some(c), Some(k)) => Ok(Some((PathBuf::from(c), PathBuf::from(k), policy))),
        (None, None) => {
            for name in ["implicit-tls", "tls-optional", "tls-require-reuse"] {
                if raw.given(name) {
                    return Err(CliError::Usage(format!("--{name} needs --cert and --key")));
                }
            }
            Ok(None)
        }
        _ => Err(CliError::Usage("--cert and --key must be given together".into())),
    }
}

/// Refuses, by name, any flag given whose feature is not in this release.
fn refuse_later_flags(raw: &RawArgs) -> Result<(), CliError> {
    for def in SERVE_FLAGS {
        if let (Support::Later(why), true) = (def.support, raw.given(def.name)) {
            return Err(CliError::Usage(format!("--{} is not supported yet: {why}", def.name)));
        }
    }
    Ok(())
}

/// What is served: a local directory (canonical) or a fresh in-memory tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// A local directory.
    Local(PathBuf),
    /// An in-memory tree (`:memory:` or a `type = memory` remote); the text is REMOTE:PATH.
    Memory(String, crate::backend::memory::MemoryFaults),
    /// A directory of an FTP server.
    Ftp(crate::backend::ftp::FtpOptions),
    /// A bucket (or every bucket) of an S3 store.
    #[cfg(feature = "s3")]
    S3(Box<crate::backend::s3::S3Options>),
    /// A web server's directory, read-only.
    #[cfg(feature = "http")]
    Http(Box<crate::backend::http::HttpOptions>),
    /// A folder of a WebDAV server.
    #[cfg(feature = "webdav")]
    Webdav(Box<crate::backend::webdav::WebdavOptions>),
    /// Remotes composed of other remotes (combine, union), opened as resolved.
    #[cfg(feature = "wrappers")]
    Composed(Box<crate::remote::Resolved>),
    /// rclone's crypt over another remote.
    #[cfg(feature = "crypt")]
    Crypt(Box<crate::backend::crypt::CryptOptions>, Box<crate::remote::Resolved>),
    /// Whatever `--auth-proxy`'s program says, per login.
    AuthProxy(String),
}

impl Served {
    /// For the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            Served::Local(p) => p.display().to_string(),
            Served::Memory(spec, _) => format!("{spec} (in memory)"),
            Served::Ftp(o) => format!("ftp://{}@{}:{}/{}", o.user, o.host, o.port, o.root.trim_start_matches('/')),
            #[cfg(feature = "s3")]
            Served::S3(o) => format!("s3 {} {}", if o.endpoint.is_empty() { "AWS" } else { &o.endpoint }, o.root),
            #[cfg(feature = "http")]
            Served::Http(o) => format!("{}{} (read-only)", o.url.text(), o.root),
            #[cfg(feature = "webdav")]
            Served::Webdav(o) => format!("webdav {}{} ({:?})", o.url.text(), o.root, o.vendor),
            #[cfg(feature = "wrappers")]
            Served::Composed(_) => "a combine, union or chunker remote".to_string(),
            #[cfg(feature = "crypt")]
            Served::Crypt(o, _) => format!("crypt over {} ({})", o.remote, o.root),
            Served::AuthProxy(program) => format!("per login, from --auth-proxy {program}"),
        }
    }

    /// Builds the backend (an ftp remote connects once here, so a wrong address, password or
    /// certificate stops the start-up with a clear message).
    ///
    /// # Errors
    /// What went wrong, for the operator.
    pub fn open(&self) -> Result<Box<dyn crate::backend::Backend>, String> {
        Ok(match self {
            Served::Local(root) => Box::new(crate::backend::local::LocalBackend::new(root.clone())),
            Served::Memory(_, faults) => Box::new(crate::backend::memory::MemoryBackend::with_faults(*faults)),
            Served::Ftp(opts) => Box::new(crate::backend::ftp::FtpBackend::connect(opts.clone())?),
            #[cfg(feature = "s3")]
            Served::S3(opts) => Box::new(crate::backend::s3::S3Backend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "http")]
            Served::Http(opts) => Box::new(crate::backend::http::HttpBackend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "webdav")]
            Served::Webdav(opts) => Box::new(crate::backend::webdav::WebdavBackend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "crypt")]
            Served::Crypt(opts, inner) => {
                Box::new(crate::backend::crypt::CryptBackend::new(inner.open(false)?, opts.as_ref().clone()))
            }
            #[cfg(feature = "wrappers")]
            Served::Composed(resolved) => resolved.open(false)?,
            Served::AuthProxy(_) => return Err("with --auth-proxy, each login opens its own backend".into()),
        })
    }

    /// Whether nothing can be changed on this remote whatever the flags (http, or a crypt or
    /// chunker over one).
    pub fn read_only_by_nature(&self) -> bool {
        match self {
            #[cfg(feature = "http")]
            Served::Http(_) => true,
            #[cfg(feature = "wrappers")]
            Served::Composed(inner) => inner.read_only_by_nature(),
            #[cfg(feature = "crypt")]
            Served::Crypt(_, inner) => inner.read_only_by_nature(),
            _ => false,
        }
    }
}

/// Turns REMOTE:PATH into what to serve, with the config file and the environment (see
/// `remote/`). A local directory that does not exist is created (unless read-only).
fn resolve_remote(
    remote: &str,
    config_path: Option<&str>,
    read_only: bool,
    password: &crate::remote::config_crypt::PasswordSource,
) -> Result<Served, CliError> {
    use crate::remote::{config_file::ConfigFile, RemoteError, RemoteSpec, Resolved};
    let spec = RemoteSpec::parse(remote).map_err(|e| CliError::Usage(e.to_string()))?;
    let env = |k: &str| std::env::var(k).ok();
    // A named remote, or a wrapper (`:crypt,remote=name:`) that may name one.
    let needs_config = match &spec {
        RemoteSpec::Named { name: Some(_), .. } => true,
        RemoteSpec::Named { options, .. } => options.iter().any(|(k, _)| k == "remote"),
        RemoteSpec::Local(_) => false,
    };
    let config = if needs_config {
        ConfigFile::load_with(config_path.map(std::path::Path::new), &env, password)
            .map_err(|e| CliError::Fatal(format!("config: {e}")))?
    } else {
        ConfigFile::default()
    };
    let resolved = crate::remote::resolve(&spec, &config, &env).map_err(|e| match e {
        RemoteError::Syntax(m) => CliError::Usage(m),
        RemoteError::Config(m) => CliError::Fatal(m),
    })?;
    let path = match resolved {
        Resolved::Memory(_, faults) => return Ok(Served::Memory(remote.to_string(), faults)),
        Resolved::Ftp(opts) => return Ok(Served::Ftp(opts)),
        #[cfg(feature = "s3")]
        Resolved::S3(opts) => return Ok(Served::S3(opts)),
        #[cfg(feature = "http")]
        Resolved::Http(opts) => return Ok(Served::Http(opts)),
        #[cfg(feature = "webdav")]
        Resolved::Webdav(opts) => return Ok(Served::Webdav(opts)),
        #[cfg(feature = "wrappers")]
        r @ (Resolved::Combine(_) | Resolved::Union(..) | Resolved::Chunker(..)) => {
            return Ok(Served::Composed(Box::new(r)))
        }
        #[cfg(feature = "crypt")]
        Resolved::Crypt(opts, inner) => return Ok(Served::Crypt(opts, inner)),
        Resolved::Local(path) => path,
    };
    crate::remote::prepare_local(&path, read_only).map(Served::Local).map_err(CliError::Fatal)
}

/// The cache flags, and where this remote's cache lives (rclone's layout: the remote's name,
/// then its root).
fn cache_options(
    raw: &RawArgs,
    mode: crate::vfs::cache::CacheMode,
    served: &Served,
) -> Option<crate::vfs::cache::CacheOptions> {
    use crate::vfs::cache::{CacheMode, CacheOptions};
    if mode == CacheMode::Off {
        return None;
    }
    let duration = |name: &str, default: Duration| match raw.values.get(name) {
        Some(Value::Duration(d)) => *d,
        _ => default,
    };
    let (name, root) = match served {
        Served::Local(p) => ("local".to_string(), p.display().to_string()),
        Served::Memory(..) => ("memory".to_string(), String::new()),
        Served::Ftp(o) => (format!("ftp-{}@{}-{}", o.user, o.host, o.port), o.root.clone()),
        #[cfg(feature = "s3")]
        Served::S3(o) => {
            (format!("s3-{}", o.endpoint.split("://").nth(1).unwrap_or("aws").replace([':', '/'], "-")), o.root.clone())
        }
        #[cfg(feature = "http")]
        Served::Http(o) => {
            (format!("http-{}", o.url.host.replace([':', '/'], "-")), format!("{}{}", o.url.path, o.root))
        }
        #[cfg(feature = "webdav")]
        Served::Webdav(o) => {
            (format!("webdav-{}", o.url.host.replace([':', '/'], "-")), format!("{}{}", o.url.path, o.root))
        }
        #[cfg(feature = "wrappers")]
        Served::Composed(_) => ("composed".to_string(), String::new()),
        #[cfg(feature = "crypt")]
        Served::Crypt(o, _) => (format!("crypt-{}", o.remote.replace([':', '/'], "-")), o.root.clone()),
        Served::AuthProxy(_) => ("proxy".to_string(), String::new()),
    };
    Some(CacheOptions {
        mode,
        dir: flag_text(raw, "cache-dir")
            .filter(|d| !d.is_empty())
            .map_or_else(CacheOptions::default_dir, PathBuf::from),
        name,
        root: root.trim_start_matches('/').to_string(),
        max_age: duration("vfs-cache-max-age", Duration::from_secs(3600)),
        max_size: match raw.values.get("vfs-cache-max-size") {
            Some(Value::Size(s)) => *s,
            _ => None,
        },
        poll_interval: duration("vfs-cache-poll-interval", Duration::from_secs(60)),
        write_back: duration("vfs-write-back", Duration::from_secs(5)),
        transfers: match raw.values.get("transfers") {
            Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(4).max(1),
            _ => 4,
        },
        read_ahead: match raw.values.get("vfs-read-ahead") {
            Some(Value::Size(s)) => s.unwrap_or(0),
            _ => 0,
        },
    })
}

/// `--rc`, `--rc-addr`, `--rc-user`, `--rc-pass`, `--rc-no-auth`: no auth must be asked for.
fn rc_options(raw: &RawArgs) -> Result<Option<crate::rc::RcOptions>, CliError> {
    let given = ["rc-addr", "rc-user", "rc-pass", "rc-no-auth", "rc-enable-metrics"].into_iter().find(|f| raw.given(f));
    if !flag_bool(raw, "rc") {
        return match given {
            Some(f) => Err(CliError::Usage(format!("--{f} needs --rc"))),
            None => Ok(None),
        };
    }
    let addr = parse_addr("rc-addr", &flag_text(raw, "rc-addr").unwrap_or_else(|| "localhost:5572".into()))?;
    let user = flag_text(raw, "rc-user").filter(|u| !u.is_empty());
    let pass = flag_text(raw, "rc-pass").unwrap_or_default();
    let auth = match (user, flag_bool(raw, "rc-no-auth")) {
        (Some(_), true) => return Err(CliError::Usage("--rc-user and --rc-no-auth cannot both be given".into())),
        (Some(u), false) if pass.is_empty() => {
            return Err(CliError::Usage(format!("--rc-user {u} needs --rc-pass")));
        }
        (Some(u), false) => Some((u, Secret::new(pass))),
        (None, true) => None,
        (None, false) => {
            return Err(CliError::Usage(
                "--rc needs --rc-user and --rc-pass, or --rc-no-auth to run it without authentication".into(),
            ))
        }
    };
    Ok(Some(crate::rc::RcOptions {
        addr,
        auth,
        metrics: flag_bool(raw, "rc-enable-metrics"),
        base_url: String::new(),
        realm: "ftpvfs rc".into(),
    }))
}

/// `--metrics-addr` and its credentials: `/metrics` on a listener of its own. As in rclone,
/// it needs no credentials unless `--metrics-user` and `--metrics-pass` are given.
fn metrics_options(raw: &RawArgs) -> Result<Option<crate::rc::RcOptions>, CliError> {
    let Some(addr) = flag_text(raw, "metrics-addr").filter(|a| !a.is_empty()) else {
        return match ["metrics-user", "metrics-pass", "metrics-baseurl", "metrics-realm"]
            .into_iter()
            .find(|f| raw.given(f))
        {
            Some(f) => Err(CliError::Usage(format!("--{f} needs --metrics-addr"))),
            None => Ok(None),
        };
    };
    let addr = parse_addr("metrics-addr", &addr)?;
    let user = flag_text(raw, "metrics-user").filter(|u| !u.is_empty());
    let pass = flag_text(raw, "metrics-pass").unwrap_or_default();
    let auth = match user {
        Some(u) if pass.is_empty() => return Err(CliError::Usage(format!("--metrics-user {u} needs --metrics-pass"))),
        Some(u) => Some((u, Secret::new(pass))),
        None if !pass.is_empty() => return Err(CliError::Usage("--metrics-pass needs --metrics-user".into())),
        None => None,
    };
    let base_url = flag_text(raw, "metrics-baseurl").unwrap_or_default().trim_matches('/').to_string();
    let realm = flag_text(raw, "metrics-realm").filter(|r| !r.is_empty()).unwrap_or_else(|| "ftpvfs metrics".into());
    Ok(Some(crate::rc::RcOptions { addr, auth, metrics: true, base_url, realm }))
}

/// Parses the listen address of flag `--{flag}` (`--addr`, `--rc-addr`): `host:port`, `:port`
/// (all IPv4 interfaces), `[v6]:port`; `localhost` is 127.0.0.1 without a lookup. Errors name
/// the flag.
fn parse_addr(flag: &str, text: &str) -> Result<SocketAddr, CliError> {
    let bad = |why: &str| CliError::Usage(format!("invalid value {text:?} for --{flag}: {why}"));
    let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("expected host:port or :port"))?;
    let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => match h.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => (h, port)
                .to_socket_addrs()
                .map_err(|e| bad(&e.to_string()))?
                .next()
                .ok_or_else(|| bad("host has no address"))?
                .ip(),
        },
    };
    Ok(SocketAddr::new(ip, port))
}

fn log_options(raw: &RawArgs) -> Result<crate::logging::LogOptions, CliError> {
    let mut format = match flag_text(raw, "log-format") {
        Some(text) => crate::logging::LogFormat::parse(&text).map_err(CliError::Usage)?,
        None => crate::logging::LogFormat::default(),
    };
    format.json |= flag_bool(raw, "use-json-log");
    let syslog = if flag_bool(raw, "syslog") {
        let facility = flag_text(raw, "syslog-facility").unwrap_or_else(|| "DAEMON".into());
        Some(crate::logging::syslog_facility(&facility).map_err(CliError::Usage)?)
    } else {
        None
    };
    let file = flag_text(raw, "log-file").filter(|f| !f.is_empty()).map(PathBuf::from);
    if syslog.is_some() && file.is_some() {
        return Err(CliError::Usage("--syslog and --log-file cannot be used together".into()));
    }
    Ok(crate::logging::LogOptions { file, syslog, format })
}

fn log_level(raw: &RawArgs) -> LevelFilter {
    let from_level = match raw.values.get("log-level") {
        Some(Value::Text(l)) => match l.as_str() {
            "DEBUG" => LevelFilter::Debug,
            "INFO" => LevelFilter::Debug,
            "ERROR" => LevelFilter::Error,
            _ => LevelFilter::Info,
        },
        _ => LevelFilter::Info,
    };
    match raw.values.get("verbose") {
        Some(Value::Count(1)) => from_level.max(LevelFilter::Debug),
        Some(Value::Count(_)) => LevelFilter::Trace,
        _ => from_level,
    }
}

fn flag_bool(raw: &RawArgs, name: &str) -> bool {
    matches!(raw.values.get(name), Some(Value::Bool(true)))
}

fn flag_mode(raw: &RawArgs, name: &str) -> Option<u32> {
    match raw.values.get(name) {
        Some(Value::Mode(m)) => Some(*m),
        _ => None,
    }
}

fn flag_text(raw: &RawArgs, name: &str) -> Option<String> {
    match raw.values.get(name) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    }
}

fn flag_u32(raw: &RawArgs, name: &str) -> Result<Option<u32>, CliError> {
    match raw.values.get(name) {
        Some(Value::Int(n)) => u32::try_from(*n)
            .map(Some)
            .map_err(|_| CliError::Usage(format!("invalid value {n} for --{name}: out of range"))),
        _ => Ok(None),
    }
}

/// The process umask, read from /proc (reading it with umask(2) would change it); 022 when
/// /proc does not say.
fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The effective uid and gid of this process (the owner of /proc/self), 1000/1000 if unknown.
fn process_owner() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((1000, 1000))
}

/// How long a duration flag says, or its default; `0` and `off` mean "never" (a century).
fn duration_or(raw: &RawArgs, name: &str, default: Duration) -> Duration {
    match raw.values.get(name) {
        Some(Value::Duration(d)) if d.is_zero() || crate::cli::units::is_off(*d) => {
            Duration::from_secs(100 * 365 * 86_400)
        }
        Some(Value::Duration(d)) => *d,
        _ => default,
    }
}

/// The server limits, from the ftpvfs-only flags over `defaults`.
///
/// # Errors
/// `--max-connections 0` or `--max-list-entries 0`.
pub fn limits_from_args(raw: &RawArgs, defaults: Limits) -> Result<Limits, CliError> {
    let max_sessions = match raw.values.get("max-connections") {
        Some(Value::Int(0)) => {
            return Err(CliError::Usage("invalid value 0 for --max-connections: must be at least 1".into()))
        }
        Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
        _ => defaults.max_sessions,
    };
    let int = |name: &str, default: u64| match raw.values.get(name) {
        Some(Value::Int(n)) => *n,
        _ => default,
    };
    let max_list_entries = match int("max-list-entries", defaults.max_list_entries as u64) {
        0 => return Err(CliError::Usage("invalid value 0 for --max-list-entries: must be at least 1".into())),
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Ok(Limits {
        max_sessions,
        max_sessions_per_ip: usize::try_from(int("max-connections-per-ip", defaults.max_sessions_per_ip as u64))
            .unwrap_or(usize::MAX),
        ban_after: u32::try_from(int("ban-after", u64::from(defaults.ban_after))).unwrap_or(u32::MAX),
        ban_time: match raw.values.get("ban-time") {
            Some(Value::Duration(d)) => *d,
            _ => defaults.ban_time,
        },
        max_bad_commands: u32::try_from(int("max-bad-commands", u64::from(defaults.max_bad_commands)))
            .unwrap_or(u32::MAX)
            .max(1),
        max_list_entries,
        idle_timeout: duration_or(raw, "idle-timeout", defaults.idle_timeout),
        login_timeout: duration_or(raw, "login-timeout", defaults.login_timeout),
        data_timeout: duration_or(raw, "data-timeout", defaults.data_timeout),
        ..defaults
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn addr_forms() {
        assert_eq!(parse_addr("addr", "localhost:2121").unwrap(), "127.0.0.1:2121".parse().unwrap());
        assert_eq!(parse_addr("addr", ":0").unwrap(), "0.0.0.0:0".parse().unwrap());
        assert_eq!(parse_addr("addr", "[::1]:21").unwrap(), "[::1]:21".parse().unwrap());
        assert!(parse_addr("addr", "nonsense").is_err());
        assert!(parse_addr("addr", "1.2.3.4:99999").is_err());
        match parse_addr("rc-addr", "nonsense") {
            Err(CliError::Usage(text)) => assert!(text.contains("for --rc-addr:"), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn remotes_resolve_to_local_or_memory_and_others_are_refused_by_name() {
        assert!(
            matches!(resolve_remote(":sftp:host", None, true, &Default::default()), Err(CliError::Fatal(m)) if m.contains("not supported yet"))
        );
        assert!(
            matches!(resolve_remote("nosuch:x", Some("notfound"), true, &Default::default()), Err(CliError::Fatal(m)) if m.starts_with("didn't find section"))
        );
        assert!(matches!(resolve_remote("-bad:x", None, true, &Default::default()), Err(CliError::Usage(_))));
        assert_eq!(
            resolve_remote(":memory:x", None, true, &Default::default()).unwrap(),
            Served::Memory(":memory:x".into(), Default::default())
        );
        let dir = tempfile::tempdir().unwrap();
        let spec = format!(":local:{}", dir.path().display());
        assert_eq!(
            resolve_remote(&spec, None, true, &Default::default()).unwrap(),
            Served::Local(dir.path().canonicalize().unwrap())
        );
    }

    #[test]
    fn cache_flags_build_the_cache_options() {
        let mut raw = RawArgs { remote: Some(".".into()), ..Default::default() };
        raw.values.insert("vfs-cache-mode", Value::Text("full".into()));
        raw.values.insert("cache-dir", Value::Text("/tmp/c".into()));
        raw.values.insert("transfers", Value::Int(2));
        raw.values.insert("vfs-write-back", Value::Duration(Duration::from_secs(1)));
        let c = Config::from_args(&raw).unwrap().cache.unwrap();
        assert_eq!((c.mode, c.dir, c.transfers), (crate::vfs::cache::CacheMode::Full, PathBuf::from("/tmp/c"), 2));
        assert_eq!((c.name.as_str(), c.write_back), ("local", Duration::from_secs(1)));
        let raw = RawArgs { remote: Some(".".into()), ..Default::default() };
        assert!(Config::from_args(&raw).unwrap().cache.is_none(), "mode off has no cache");
    }
}
