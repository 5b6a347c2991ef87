//! `RemoteSpec`: what REMOTE:PATH names, parsed as rclone parses it, and `resolve`, which turns
//! it into a backend choice using the config file and the environment.
//!
//! Grammar (rclone `fs/fspath`):
//! * no `:`, or a `/` or `\` before the first `:` → a local path;
//! * `name:path` → section `[name]` of the config file (or `RCLONE_CONFIG_<NAME>_TYPE`);
//! * `:backend:path` → an on-the-fly remote of that backend type;
//! * either may carry a connection string: `name,key=value,key2="v,2":path`; keys are
//!   `[A-Za-z0-9_.]`, a bare key means `true`, values are unquoted (up to `,` or `:`) or quoted
//!   with `'` or `"` where a doubled quote is a literal one.
//!
//! Option precedence, highest first: connection string, `RCLONE_CONFIG_<NAME>_<KEY>`, the config
//! file, `RCLONE_<BACKEND>_<KEY>`, defaults.

pub mod config_crypt;
pub mod config_file;
pub mod obscure;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use config_file::ConfigFile;

/// A parsed REMOTE:PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSpec {
    /// A plain local path.
    Local(String),
    /// `name:path` (a config section) or `:backend:path` (on the fly), with connection-string
    /// options.
    Named {
        /// The config section, or `None` for `:backend:`.
        name: Option<String>,
        /// The backend for `:backend:` remotes.
        backend: Option<String>,
        /// Connection-string options, in order.
        options: Vec<(String, String)>,
        /// The path inside the remote.
        path: String,
    },
}

/// Why a REMOTE:PATH or its configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// The text is not a valid REMOTE:PATH (a usage error).
    Syntax(String),
    /// The remote is valid but cannot be set up (missing section, unsupported backend...).
    Config(String),
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Syntax(m) | RemoteError::Config(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RemoteError {}

impl RemoteSpec {
    /// Parses REMOTE:PATH.
    ///
    /// # Errors
    /// [`RemoteError::Syntax`] for a bad remote name or connection string.
    pub fn parse(text: &str) -> Result<RemoteSpec, RemoteError> {
        let bad = |why: &str| RemoteError::Syntax(format!("invalid remote {text:?}: {why}"));
        let Some(colon) = text.find(':') else { return Ok(RemoteSpec::Local(text.to_string())) };
        if text[..colon].contains(['/', '\\']) {
            return Ok(RemoteSpec::Local(text.to_string()));
        }
        let (on_the_fly, rest) = match text.strip_prefix(':') {
            Some(r) => (true, r),
            None => (false, text),
        };
        // The head is the name (or backend) up to the first ',' or ':'.
        let head_end = rest.find([',', ':']).ok_or_else(|| bad("missing ':' after the backend name"))?;
        let head = &rest[..head_end];
        let mut options = Vec::new();
        let mut pos = head_end;
        while rest[pos..].starts_with(',') {
            pos += 1;
            let key_len = rest[pos..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len() - pos);
            if key_len == 0 {
                return Err(bad("empty option name in the connection string"));
            }
            let key = rest[pos..pos + key_len].to_string();
            pos += key_len;
            let value = if rest[pos..].starts_with('=') {
                pos += 1;
                let (v, used) =
                    option_value(&rest[pos..]).ok_or_else(|| bad("unterminated quote in the connection string"))?;
                pos += used;
                v
            } else {
                "true".to_string()
            };
            options.push((key, value));
        }
        let path = rest[pos..].strip_prefix(':').ok_or_else(|| bad("expected ',' or ':' after an option"))?;
        if on_the_fly {
            if !head.chars().all(|c| c.is_ascii_alphanumeric()) || head.is_empty() {
                return Err(bad("the backend name must be letters and digits"));
            }
            Ok(RemoteSpec::Named {
                name: None,
                backend: Some(head.to_ascii_lowercase()),
                options,
                path: path.to_string(),
            })
        } else {
            check_name(head).map_err(bad)?;
            Ok(RemoteSpec::Named { name: Some(head.to_string()), backend: None, options, path: path.to_string() })
        }
    }
}

impl fmt::Display for RemoteSpec {
    /// The REMOTE:PATH text; option values are always double-quoted (quotes doubled), so the
    /// text parses back to the same spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteSpec::Local(p) => f.write_str(p),
            RemoteSpec::Named { name, backend, options, path } => {
                match (name, backend) {
                    (Some(n), _) => f.write_str(n)?,
                    (None, Some(b)) => write!(f, ":{b}")?,
                    (None, None) => {}
                }
                for (k, v) in options {
                    write!(f, ",{k}=\"{}\"", v.replace('"', "\"\""))?;
                }
                write!(f, ":{path}")
            }
        }
    }
}

/// rclone's remote-name rule: letters and digits (any script), `_ - . + @` and space; not
/// starting with `-` or space, not ending with space.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty remote name");
    }
    if name.starts_with(['-', ' ']) || name.ends_with(' ') {
        return Err("a remote name cannot start with '-' or a space, or end with a space");
    }
    if !name.chars().all(|c| c.is_alphanumeric() || "_-.+@ ".contains(c)) {
        return Err("a remote name may only hold letters, digits, '_', '-', '.', '+', '@' and spaces");
    }
    Ok(())
}

/// One option value: quoted (`'..'` or `".."`, a doubled quote is literal) or up to `,`/`:`.
/// Returns the value and the bytes used.
fn option_value(s: &str) -> Option<(String, usize)> {
    let Some(q) = s.chars().next().filter(|c| *c == '\'' || *c == '"') else {
        let end = s.find([',', ':']).unwrap_or(s.len());
        return Some((s[..end].to_string(), end));
    };
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == q {
            if chars.peek().map(|(_, n)| *n) == Some(q) {
                out.push(q);
                chars.next();
                continue;
            }
            return Some((out, i + 1));
        }
        out.push(c);
    }
    None
}

/// What a remote resolved to: the backend to build and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A local directory.
    Local(PathBuf),
    /// A fresh in-memory tree (the path is the directory served inside it), with faults to
    /// inject (test options `fail_uploads`, `slow_reads`).
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
    /// Several remotes side by side, one directory of the root each (rclone's combine).
    #[cfg(feature = "wrappers")]
    Combine(Vec<(String, Resolved)>),
    /// Large files as chunks over another remote (rclone's chunker).
    #[cfg(feature = "wrappers")]
    Chunker(Box<crate::backend::chunker::ChunkerOptions>, Box<Resolved>),
    /// Several remotes merged into one tree (rclone's union), with their access tags.
    #[cfg(feature = "wrappers")]
    Union(Vec<(String, Resolved, crate::backend::union::Access)>, crate::backend::union::Policies, std::time::Duration),
    /// An encrypted view (rclone's crypt) of another remote.
    #[cfg(feature = "crypt")]
    Crypt(Box<crate::backend::crypt::CryptOptions>, Box<Resolved>),
}

/// Resolves a remote spec against the config file and the environment.
///
/// # Errors
/// [`RemoteError::Config`] for a missing section, a section without `type`, or a backend this
/// release cannot serve.
pub fn resolve(
    spec: &RemoteSpec,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, RemoteError> {
    resolve_within(spec, config, env, 0)
}

/// How deep remotes may wrap remotes (alias of a crypt of an alias...): a loop is an error,
/// not a stack overflow.
const MAX_WRAPPING: usize = 8;

fn resolve_within(
    spec: &RemoteSpec,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Resolved, RemoteError> {
    if depth > MAX_WRAPPING {
        return Err(RemoteError::Config(format!(
            "remotes wrap each other more than {MAX_WRAPPING} deep (does one point at itself?)"
        )));
    }
    let (name, backend, conn_opts, path) = match spec {
        RemoteSpec::Local(p) => return Ok(Resolved::Local(PathBuf::from(if p.is_empty() { "." } else { p }))),
        RemoteSpec::Named { name, backend, options, path } => (name, backend, options, path),
    };
    let mut opts: BTreeMap<String, String> = BTreeMap::new();
    let backend = match (name, backend) {
        (Some(name), _) => {
            let env_prefix = format!("RCLONE_CONFIG_{}_", env_name(name));
            let section = config.section(name);
            let env_type = env(&format!("{env_prefix}TYPE"));
            if section.is_none() && env_type.is_none() {
                return Err(RemoteError::Config(format!(
                    "didn't find section in config file ({name:?}): define [{name}] in {} or set {env_prefix}TYPE",
                    config.describe()
                )));
            }
            if let Some(section) = section {
                opts.extend(section.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            // RCLONE_CONFIG_<NAME>_<KEY> beats the file, for the keys the file has and every
            // key the remote's type knows (a remote may live in the environment alone).
            if let Some(t) = env(&format!("{env_prefix}TYPE")) {
                opts.insert("type".into(), t);
            }
            let backend_type = opts.get("type").cloned().unwrap_or_default();
            let known = known_keys(&backend_type).iter().map(|k| k.to_string());
            let keys: Vec<String> = opts.keys().cloned().chain(known).chain(["root".to_string()]).collect();
            for key in keys {
                if let Some(v) = env(&format!("{env_prefix}{}", env_name(&key))) {
                    opts.insert(key, v);
                }
            }
            opts.get("type").cloned().ok_or_else(|| RemoteError::Config(format!("remote {name:?} has no type")))?
        }
        (None, Some(b)) => b.clone(),
        (None, None) => return Err(RemoteError::Config("remote without a name or backend".into())),
    };
    for (k, v) in conn_opts {
        opts.insert(k.clone(), v.clone());
    }
    match backend.as_str() {
        #[cfg(feature = "crypt")]
        "crypt" => resolve_crypt(opts, path, name.as_deref(), config, env, depth),
        "alias" => resolve_alias(&opts, path, name.as_deref(), config, env, depth),
        #[cfg(feature = "wrappers")]
        "combine" => resolve_combine(&opts, path, config, env, depth),
        #[cfg(feature = "wrappers")]
        "union" => resolve_union(&opts, path, config, env, depth),
        #[cfg(feature = "wrappers")]
        "chunker" => {
            let chunker = crate::backend::chunker::ChunkerOptions::from_map(&opts).map_err(RemoteError::Config)?;
            if name.as_deref().is_some_and(|n| chunker.remote.starts_with(&format!("{n}:"))) {
                return Err(RemoteError::Config(
                    "can't point chunker remote at itself - check the value of the remote setting".into(),
                ));
            }
            let inner =
                below(&chunker.remote, path).map_err(|e| RemoteError::Config(format!("chunker option remote: {e}")))?;
            Ok(Resolved::Chunker(Box::new(chunker), Box::new(resolve_within(&inner, config, env, depth + 1)?)))
        }
        _ => resolve_backend(&backend, opts, path, env),
    }
}

/// The items of a combine or union remote's `upstreams` (space-separated, `"` quoted).
#[cfg(feature = "wrappers")]
fn upstream_items(opts: &BTreeMap<String, String>, kind: &str, form: &str) -> Result<Vec<String>, RemoteError> {
    let text = opts
        .get("upstreams")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| RemoteError::Config(format!("{kind}: needs upstreams = \"{form}\" ...")))?;
    Ok(split_quoted(text))
}

/// A combine remote: `upstreams = "dir=remote:path" ...`, each upstream resolved in turn. A
/// path after `combine:` inside an upstream (`all:docs/2026`) serves that upstream below it.
#[cfg(feature = "wrappers")]
fn resolve_combine(
    opts: &BTreeMap<String, String>,
    path: &str,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Resolved, RemoteError> {
    let bad = |m: String| RemoteError::Config(format!("combine: {m}"));
    let inside = path.trim_matches('/');
    let mut upstreams: Vec<(String, Resolved)> = Vec::new();
    for item in upstream_items(opts, "combine", "dir=remote:path")? {
        let (dir, remote) =
            item.split_once('=').ok_or_else(|| bad(format!("upstream {item:?} is not dir=remote:path")))?;
        let dir = dir.trim();
        if dir.is_empty() || dir.contains('/') || dir == "." || dir == ".." {
            return Err(bad(format!("upstream directory {dir:?} must be one non-empty name")));
        }
        if upstreams.iter().any(|(d, _)| d == dir) {
            return Err(bad(format!("upstream directory {dir:?} is given twice")));
        }
        if !inside.is_empty() {
            // A path inside serves that upstream (below it, the rest of the path), as rclone's
            // combine returns the upstream's own remote for a root inside it.
            let (first, rest) = inside.split_once('/').unwrap_or((inside, ""));
            if first == dir {
                let spec = below(remote, rest).map_err(|e| bad(e.to_string()))?;
                return resolve_within(&spec, config, env, depth + 1);
            }
            continue;
        }
        let spec = RemoteSpec::parse(remote).map_err(|e| bad(e.to_string()))?;
        upstreams.push((dir.to_string(), resolve_within(&spec, config, env, depth + 1)?));
    }
    if !inside.is_empty() {
        return Err(bad(format!(
            "{path:?} is not inside any upstream (the root holds only the upstreams' directories)"
        )));
    }
    Ok(Resolved::Combine(upstreams))
}

/// A union remote: `upstreams = "remote:path[:ro|:nc]" ...` and rclone's policies.
#[cfg(feature = "wrappers")]
fn resolve_union(
    opts: &BTreeMap<String, String>,
    path: &str,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Resolved, RemoteError> {
    use crate::backend::union::{Access, Policies};
    let bad = |m: String| RemoteError::Config(format!("union: {m}"));
    for key in opts.keys() {
        let known = [
            "type",
            "description",
            "upstreams",
            "action_policy",
            "create_policy",
            "search_policy",
            "cache_time",
            "min_free_space",
        ];
        if key == "remotes" {
            return Err(bad("the deprecated remotes option is not supported: use upstreams".into()));
        }
        if !known.contains(&key.as_str()) {
            log::warn!("union option {key} is unknown and ignored");
        }
    }
    let get = |k: &str| opts.get(k).map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default();
    let mut policies = Policies::parse(&get("action_policy"), &get("create_policy"), &get("search_policy"))
        .map_err(RemoteError::Config)?;
    let cache_time = match opts.get("cache_time").filter(|v| !v.is_empty()) {
        None => std::time::Duration::from_secs(120),
        Some(v) => crate::cli::units::parse_duration(v).map_err(|e| bad(format!("cache_time: {e}")))?,
    };
    if let Some(v) = opts.get("min_free_space").filter(|v| !v.is_empty()) {
        let size = crate::cli::units::parse_size(v).map_err(|e| bad(format!("min_free_space: {e}")))?;
        policies.min_free_space = size.unwrap_or(u64::MAX);
    }
    let mut upstreams = Vec::new();
    for item in upstream_items(opts, "union", "remote:path")? {
        let (remote, access) = match item.rsplit_once(':') {
            Some((r, "ro")) => (r.to_string(), Access::ReadOnly),
            Some((r, "nc")) => (r.to_string(), Access::NoCreate),
            Some((_, "writeback")) => return Err(bad(format!("the :writeback tag ({item:?}) is not supported yet"))),
            _ => (item.clone(), Access::ReadWrite),
        };
        let remote = if path.trim_matches('/').is_empty() {
            remote
        } else {
            // union:sub serves sub of every upstream.
            format!("{}/{}", remote.trim_end_matches('/'), path.trim_matches('/'))
        };
        let spec = RemoteSpec::parse(&remote).map_err(|e| bad(e.to_string()))?;
        upstreams.push((remote.clone(), resolve_within(&spec, config, env, depth + 1)?, access));
    }
    Ok(Resolved::Union(upstreams, policies, cache_time))
}

/// The spec of `path` below the remote `target` (`other:dir` and `sub` give `other:dir/sub`).
fn below(target: &str, path: &str) -> Result<RemoteSpec, RemoteError> {
    let join = |base: &str| -> String {
        match (base.trim_end_matches('/'), path.trim_start_matches('/')) {
            (b, "") => b.to_string(),
            ("", p) if base.is_empty() => p.to_string(),
            (b, p) => format!("{b}/{p}"),
        }
    };
    Ok(match RemoteSpec::parse(target)? {
        RemoteSpec::Local(p) => RemoteSpec::Local(join(&p)),
        RemoteSpec::Named { name, backend, options, path: inner } => {
            RemoteSpec::Named { name, backend, options, path: join(&inner) }
        }
    })
}

/// An alias remote: `remote = other:path`, and `alias:sub` is `other:path/sub`.
fn resolve_alias(
    opts: &BTreeMap<String, String>,
    path: &str,
    name: Option<&str>,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Resolved, RemoteError> {
    for key in opts.keys().filter(|k| !["type", "remote", "description"].contains(&k.as_str())) {
        log::warn!("alias option {key} is unknown and ignored");
    }
    let target = opts.get("remote").filter(|r| !r.is_empty()).ok_or_else(|| {
        RemoteError::Config("an alias remote needs remote= (the remote and path it stands for)".into())
    })?;
    if name.is_some_and(|n| target.starts_with(&format!("{n}:"))) {
        return Err(RemoteError::Config(
            "can't point alias remote at itself - check the value of the remote setting".into(),
        ));
    }
    let spec = below(target, path).map_err(|e| RemoteError::Config(format!("alias option remote: {e}")))?;
    resolve_within(&spec, config, env, depth + 1)
}

#[cfg(feature = "crypt")]
/// A crypt remote: its options, and the remote it wraps (resolved in turn, so a crypt over
/// any remote this build serves works).
fn resolve_crypt(
    opts: BTreeMap<String, String>,
    path: &str,
    name: Option<&str>,
    config: &ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<Resolved, RemoteError> {
    let mut opts = opts;
    backend_env_defaults("crypt", &mut opts, env);
    let crypt = crate::backend::crypt::CryptOptions::from_map(&opts, path, name).map_err(RemoteError::Config)?;
    let inner_spec =
        RemoteSpec::parse(&crypt.remote).map_err(|e| RemoteError::Config(format!("crypt option remote: {e}")))?;
    let inner = resolve_within(&inner_spec, config, env, depth + 1)?;
    Ok(Resolved::Crypt(Box::new(crypt), Box::new(inner)))
}

/// The backend of type `backend` with options `opts` (already merged by precedence) serving
/// `path`; `env` supplies `RCLONE_<BACKEND>_<KEY>` defaults (the auth proxy passes none).
///
/// # Errors
/// [`RemoteError::Config`] for a backend this release cannot serve or a bad option.
pub fn resolve_backend(
    backend: &str,
    mut opts: BTreeMap<String, String>,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, RemoteError> {
    let path = &path.to_string();
    match backend {
        "local" => Ok(Resolved::Local(PathBuf::from(if path.is_empty() { "." } else { path }))),
        "memory" => {
            let mut faults = crate::backend::memory::MemoryFaults::default();
            if let Some(n) = opts.get("fail_uploads") {
                faults.fail_uploads =
                    n.parse().map_err(|_| RemoteError::Config(format!("memory option fail_uploads: {n:?}")))?;
            }
            if let Some(d) = opts.get("slow_reads") {
                faults.read_delay = crate::cli::units::parse_duration(d)
                    .map_err(|e| RemoteError::Config(format!("memory option slow_reads: {e}")))?;
            }
            Ok(Resolved::Memory(path.clone(), faults))
        }
        "ftp" => {
            backend_env_defaults("ftp", &mut opts, env);
            crate::backend::ftp::FtpOptions::from_map(&opts, path).map(Resolved::Ftp).map_err(RemoteError::Config)
        }
        #[cfg(feature = "s3")]
        "s3" => {
            backend_env_defaults("s3", &mut opts, env);
            crate::backend::s3::S3Options::from_map(&opts, path)
                .map(|o| Resolved::S3(Box::new(o)))
                .map_err(RemoteError::Config)
        }
        #[cfg(feature = "http")]
        "http" => {
            backend_env_defaults("http", &mut opts, env);
            crate::backend::http::HttpOptions::from_map(&opts, path)
                .map(|o| Resolved::Http(Box::new(o)))
                .map_err(RemoteError::Config)
        }
        #[cfg(feature = "webdav")]
        "webdav" => {
            backend_env_defaults("webdav", &mut opts, env);
            crate::backend::webdav::WebdavOptions::from_map(&opts, path)
                .map(|o| Resolved::Webdav(Box::new(o)))
                .map_err(RemoteError::Config)
        }
        other => Err(RemoteError::Config(format!(
            "backend {other:?} is not supported yet: this build serves {} remotes",
            SERVED_TYPES.join(", ")
        ))),
    }
}

/// A remote's boolean option as the ftp and http remotes read it: missing, empty, `false`,
/// `0` or `no` is false; `true`, `1` or `yes` is true (any case); anything else is an error
/// naming `backend` and `key`.
///
/// # Errors
/// A value that is neither.
pub fn bool_option(backend: &str, key: &str, value: Option<&str>) -> Result<bool, String> {
    match value.filter(|v| !v.is_empty()).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(v) => Err(format!("{backend} option {key}: {v:?} is not true or false")),
    }
}

/// Splits a line on spaces, with `"` quoting (a doubled `""` is a literal quote), as rclone
/// splits `--password-command` and combine's `upstreams`.
pub fn split_quoted(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut started) = (false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' | '\t' if !quoted => {
                if started || !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                }
                started = false;
            }
            c => current.push(c),
        }
    }
    if started || !current.is_empty() {
        args.push(current);
    }
    args
}

/// The remote types this build serves.
pub const SERVED_TYPES: &[&str] = &[
    "alias",
    #[cfg(feature = "wrappers")]
    "chunker",
    #[cfg(feature = "wrappers")]
    "combine",
    "local",
    #[cfg(feature = "wrappers")]
    "union",
    "memory",
    "ftp",
    #[cfg(feature = "crypt")]
    "crypt",
    #[cfg(feature = "s3")]
    "s3",
    #[cfg(feature = "http")]
    "http",
    #[cfg(feature = "webdav")]
    "webdav",
];

/// The option keys a remote type reads (what `RCLONE_CONFIG_<NAME>_<KEY>` and
/// `RCLONE_<TYPE>_<KEY>` may set).
fn known_keys(backend: &str) -> &'static [&'static str] {
    match backend {
        "ftp" => &crate::backend::ftp::options::KNOWN,
        #[cfg(feature = "s3")]
        "s3" => &crate::backend::s3::options::KNOWN,
        #[cfg(feature = "http")]
        "http" => &crate::backend::http::options::KNOWN,
        #[cfg(feature = "webdav")]
        "webdav" => &crate::backend::webdav::options::KNOWN,
        "memory" => &["fail_uploads", "slow_reads"],
        #[cfg(feature = "crypt")]
        "crypt" => &crate::backend::crypt::options::KNOWN,
        _ => &[],
    }
}

/// `RCLONE_<TYPE>_<KEY>` fills in what neither the remote nor its environment set.
fn backend_env_defaults(backend: &str, opts: &mut BTreeMap<String, String>, env: &dyn Fn(&str) -> Option<String>) {
    for key in known_keys(backend) {
        if !opts.contains_key(*key) {
            if let Some(v) = env(&format!("RCLONE_{}_{}", env_name(backend), env_name(key))) {
                opts.insert((*key).to_string(), v);
            }
        }
    }
}

impl Resolved {
    /// Hands rclone's global network flags (and `--use-server-modtime`, to s3) to every HTTP
    /// remote in this tree (wrapped ones too).
    #[cfg(any(feature = "s3", feature = "http", feature = "webdav"))]
    pub fn set_network_flags(&mut self, net: &crate::backend::net::NetOptions, server_modtime: bool) {
        // Only s3 reads the time flag.
        let _ = server_modtime;
        match self {
            #[cfg(feature = "s3")]
            Resolved::S3(opts) => {
                opts.net = *net;
                opts.server_modtime = server_modtime;
            }
            #[cfg(feature = "http")]
            Resolved::Http(opts) => opts.net = *net,
            #[cfg(feature = "webdav")]
            Resolved::Webdav(opts) => opts.net = *net,
            #[cfg(feature = "wrappers")]
            Resolved::Combine(upstreams) => {
                upstreams.iter_mut().for_each(|(_, r)| r.set_network_flags(net, server_modtime));
            }
            #[cfg(feature = "wrappers")]
            Resolved::Union(upstreams, _, _) => {
                upstreams.iter_mut().for_each(|(_, r, _)| r.set_network_flags(net, server_modtime));
            }
            #[cfg(feature = "wrappers")]
            Resolved::Chunker(_, inner) => inner.set_network_flags(net, server_modtime),
            #[cfg(feature = "crypt")]
            Resolved::Crypt(_, inner) => inner.set_network_flags(net, server_modtime),
            _ => {}
        }
    }

    /// Whether nothing can be changed on this remote (http; a crypt or chunker over one; a
    /// union or combine of such remotes only).
    pub fn read_only_by_nature(&self) -> bool {
        match self {
            #[cfg(feature = "http")]
            Resolved::Http(_) => true,
            #[cfg(feature = "wrappers")]
            Resolved::Combine(upstreams) => upstreams.iter().all(|(_, r)| r.read_only_by_nature()),
            #[cfg(feature = "wrappers")]
            Resolved::Union(upstreams, _, _) => upstreams.iter().all(|(_, r, _)| r.read_only_by_nature()),
            #[cfg(feature = "wrappers")]
            Resolved::Chunker(_, inner) => inner.read_only_by_nature(),
            #[cfg(feature = "crypt")]
            Resolved::Crypt(_, inner) => inner.read_only_by_nature(),
            _ => false,
        }
    }

    /// Builds the backend. A local directory that does not exist is created (unless
    /// `read_only`); an ftp remote connects once, so a wrong address, password or certificate
    /// is reported here.
    ///
    /// # Errors
    /// What went wrong, for the operator.
    pub fn open(&self, read_only: bool) -> Result<Box<dyn crate::backend::Backend>, String> {
        Ok(match self {
            Resolved::Local(path) => {
                Box::new(crate::backend::local::LocalBackend::new(prepare_local(path, read_only)?))
            }
            Resolved::Memory(_, faults) => Box::new(crate::backend::memory::MemoryBackend::with_faults(*faults)),
            Resolved::Ftp(opts) => Box::new(crate::backend::ftp::FtpBackend::connect(opts.clone())?),
            #[cfg(feature = "s3")]
            Resolved::S3(opts) => Box::new(crate::backend::s3::S3Backend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "http")]
            Resolved::Http(opts) => Box::new(crate::backend::http::HttpBackend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "webdav")]
            Resolved::Webdav(opts) => Box::new(crate::backend::webdav::WebdavBackend::connect(opts.as_ref().clone())?),
            #[cfg(feature = "wrappers")]
            Resolved::Combine(upstreams) => {
                let mut opened = Vec::with_capacity(upstreams.len());
                for (dir, r) in upstreams {
                    opened.push((dir.clone(), r.open(read_only).map_err(|e| format!("combine upstream {dir}: {e}"))?));
                }
                Box::new(crate::backend::combine::CombineBackend::new(opened))
            }
            #[cfg(feature = "wrappers")]
            Resolved::Chunker(opts, inner) => {
                Box::new(crate::backend::chunker::ChunkerBackend::new(inner.open(read_only)?, opts.as_ref().clone()))
            }
            #[cfg(feature = "wrappers")]
            Resolved::Union(upstreams, policies, cache_time) => {
                let mut opened = Vec::with_capacity(upstreams.len());
                for (name, r, access) in upstreams {
                    let backend = r.open(read_only).map_err(|e| format!("union upstream {name}: {e}"))?;
                    opened.push((name.clone(), backend, *access));
                }
                Box::new(crate::backend::union::UnionBackend::new(opened, *policies, *cache_time))
            }
            #[cfg(feature = "crypt")]
            Resolved::Crypt(opts, inner) => {
                Box::new(crate::backend::crypt::CryptBackend::new(inner.open(read_only)?, opts.as_ref().clone()))
            }
        })
    }
}

/// The canonical form of a local directory to serve, created first if missing (unless
/// `read_only`).
///
/// # Errors
/// Not a directory, cannot be created, or cannot be resolved.
pub fn prepare_local(path: &std::path::Path, read_only: bool) -> Result<PathBuf, String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{}: not a directory", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !read_only => {
            std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            log::info!("created the served directory {}", path.display());
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The environment-variable form of a name or key: upper case, non-alphanumerics as `_`.
fn env_name(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn named(name: Option<&str>, backend: Option<&str>, options: &[(&str, &str)], path: &str) -> RemoteSpec {
        RemoteSpec::Named {
            name: name.map(str::to_string),
            backend: backend.map(str::to_string),
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            path: path.to_string(),
        }
    }

    #[test]
    fn forms_of_remote_path() {
        assert_eq!(RemoteSpec::parse("./files").unwrap(), RemoteSpec::Local("./files".into()));
        assert_eq!(RemoteSpec::parse("/srv/a:b").unwrap(), RemoteSpec::Local("/srv/a:b".into()));
        assert_eq!(RemoteSpec::parse("dir/x:y").unwrap(), RemoteSpec::Local("dir/x:y".into()));
        assert_eq!(RemoteSpec::parse("remote:path/x").unwrap(), named(Some("remote"), None, &[], "path/x"));
        assert_eq!(RemoteSpec::parse("my remote@x:").unwrap(), named(Some("my remote@x"), None, &[], ""));
        assert_eq!(RemoteSpec::parse(":local:/srv").unwrap(), named(None, Some("local"), &[], "/srv"));
        assert_eq!(RemoteSpec::parse(":memory:bucket/dir").unwrap(), named(None, Some("memory"), &[], "bucket/dir"));
    }

    #[test]
    fn connection_strings() {
        assert_eq!(
            RemoteSpec::parse(":sftp,host=example.com,user=me:dir").unwrap(),
            named(None, Some("sftp"), &[("host", "example.com"), ("user", "me")], "dir")
        );
        assert_eq!(
            RemoteSpec::parse("r,flag,k=\"a,b:c\",q='it''s':p").unwrap(),
            named(Some("r"), None, &[("flag", "true"), ("k", "a,b:c"), ("q", "it's")], "p")
        );
        for bad in ["-r:x", " r:x", "r :x", "r!:x", ":bad-name:x", "r,=v:x", "r,k=\"open:x", ":local"] {
            assert!(matches!(RemoteSpec::parse(bad), Err(RemoteError::Syntax(_))), "{bad:?}");
        }
    }

    #[test]
    fn an_alias_stands_for_its_remote_and_path() {
        let cfg = ConfigFile::parse(
            "[disk]\ntype = alias\nremote = /srv/data\n[m]\ntype = alias\nremote = :memory:base\n[loop]\ntype = alias\nremote = loop2:\n[loop2]\ntype = alias\nremote = loop:x\n[me]\ntype = alias\nremote = me:x\n",
            "t",
        );
        let no_env = |_: &str| None;
        let r = |s: &str| resolve(&RemoteSpec::parse(s).unwrap(), &cfg, &no_env);
        assert_eq!(r("disk:sub/dir").unwrap(), Resolved::Local("/srv/data/sub/dir".into()));
        assert_eq!(r("disk:").unwrap(), Resolved::Local("/srv/data".into()));
        assert_eq!(r("m:x").unwrap(), Resolved::Memory("base/x".into(), Default::default()));
        assert!(matches!(r("loop:"), Err(RemoteError::Config(m)) if m.contains("deep")));
        assert!(matches!(r("me:"), Err(RemoteError::Config(m)) if m.contains("itself")));
    }

    #[test]
    #[cfg(feature = "wrappers")]
    fn combine_upstreams_are_parsed_as_rclone_writes_them() {
        let no_env = |_: &str| None;
        let r = |up: &str, path: &str| {
            let mut opts = BTreeMap::new();
            opts.insert("upstreams".to_string(), up.to_string());
            resolve_combine(&opts, path, &ConfigFile::default(), &no_env, 0)
        };
        match r("a=/x \"b c=:memory:y\"", "").unwrap() {
            Resolved::Combine(u) => {
                assert_eq!(u[0], ("a".into(), Resolved::Local("/x".into())));
                assert_eq!(u[1], ("b c".into(), Resolved::Memory("y".into(), Default::default())));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["", "noequals", "=/x", "a/b=/x", "a=/x a=/y"] {
            assert!(r(bad, "").is_err(), "{bad:?}");
        }
        assert_eq!(
            r("a=/x \"b c=:memory:y\"", "b c/sub/").unwrap(),
            Resolved::Memory("y/sub".into(), Default::default())
        );
        assert_eq!(r("a=/x", "a").unwrap(), Resolved::Local("/x".into()));
        assert!(r("a=/x", "elsewhere/f").unwrap_err().to_string().contains("not inside any upstream"));
        assert_eq!(split_quoted(r#"pass show "my ""key"" x""#), ["pass", "show", r#"my "key" x"#]);
    }

    #[test]
    fn resolution_precedence_and_errors() {
        let cfg = ConfigFile::parse("[disk]\ntype = local\n[mem]\ntype = memory\n[s3]\ntype = s3\n", "test.conf");
        let no_env = |_: &str| None;
        assert_eq!(
            resolve(&RemoteSpec::parse("disk:/srv").unwrap(), &cfg, &no_env).unwrap(),
            Resolved::Local("/srv".into())
        );
        assert_eq!(
            resolve(&RemoteSpec::parse("mem:b").unwrap(), &cfg, &no_env).unwrap(),
            Resolved::Memory("b".into(), Default::default())
        );
        assert!(
            matches!(resolve(&RemoteSpec::parse("nope:x").unwrap(), &cfg, &no_env), Err(RemoteError::Config(m)) if m.starts_with("didn't find section"))
        );
        let cfg_sftp = ConfigFile::parse("[h]\ntype = sftp\n", "test.conf");
        assert!(
            matches!(resolve(&RemoteSpec::parse("h:b").unwrap(), &cfg_sftp, &no_env), Err(RemoteError::Config(m)) if m.contains("not supported yet"))
        );
        // An env-defined remote, and env beating the file.
        let env = |k: &str| match k {
            "RCLONE_CONFIG_ENVR_TYPE" => Some("memory".to_string()),
            "RCLONE_CONFIG_DISK_TYPE" => Some("memory".to_string()),
            _ => None,
        };
        assert_eq!(
            resolve(&RemoteSpec::parse("envr:x").unwrap(), &cfg, &env).unwrap(),
            Resolved::Memory("x".into(), Default::default())
        );
        assert_eq!(
            resolve(&RemoteSpec::parse("disk:x").unwrap(), &cfg, &env).unwrap(),
            Resolved::Memory("x".into(), Default::default())
        );
    }
}
