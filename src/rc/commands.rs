//! The rc commands, as rclone names and answers them: `rc/noop`, `core/version`,
//! `core/stats`, `core/quit`, `core/bwlimit`, `vfs/forget`, `vfs/refresh`, `vfs/stats`, `vfs/queue`. Pure
//! functions of the request and a snapshot of the server; what needs the backend
//! (`vfs/refresh`) is handed back as work for a worker thread.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::server::stats::Stats;
use crate::session::Shared;
use crate::vfs::{Vfs, VfsPath};

/// What the server knows when a command runs.
pub struct RcContext<'a> {
    /// Shared session state (the VFS or the auth proxy, options).
    pub shared: &'a Shared,
    /// Counters.
    pub stats: Stats,
    /// Control connections open now.
    pub sessions: usize,
    /// File transfers running now.
    pub transferring: usize,
    /// Passive ports handed out now, and the range's size.
    pub passive_ports: (usize, usize),
}

/// Blocking work for a worker; its result is the reply.
pub type RcWork = Box<dyn FnOnce() -> Result<Value, String> + Send>;

/// What to do with a command.
pub enum RcOutcome {
    /// Answer now.
    Reply(u16, Value),
    /// Answer with the result of this work, run on a worker.
    Work(RcWork),
    /// Answer, then stop the server as SIGTERM would.
    Quit(Value),
}

/// The error body rclone sends.
pub fn error_body(status: u16, command: &str, params: &Map<String, Value>, message: &str) -> Value {
    json!({ "error": message, "input": params, "path": command, "status": status })
}

fn fail(command: &str, params: &Map<String, Value>, status: u16, message: &str) -> RcOutcome {
    RcOutcome::Reply(status, error_body(status, command, params, message))
}

/// Every VFS the command acts on: the served one, or every cached auth-proxy login's.
pub(crate) fn vfses(shared: &Shared) -> Vec<Arc<Vfs>> {
    let mut all: Vec<Arc<Vfs>> = shared.vfs.iter().cloned().collect();
    if let Some(proxy) = &shared.proxy {
        all.extend(proxy.vfses());
    }
    all
}

fn bool_param(params: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match params.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s == "0" || s.is_empty() => Ok(false),
        Some(other) => Err(format!("{key}: {other} is not a boolean")),
    }
}

/// The paths named by `key`, `key2`, `key3`... (rclone's convention), resolved in the VFS.
fn paths(params: &Map<String, Value>, key: &str) -> Result<Vec<(String, VfsPath)>, String> {
    let mut out = Vec::new();
    for (k, v) in params {
        let suffix = k.strip_prefix(key).unwrap_or("x");
        if !(suffix.is_empty() || suffix.chars().all(|c| c.is_ascii_digit())) {
            continue;
        }
        let text = v.as_str().ok_or_else(|| format!("{k} must be a string"))?;
        let path = VfsPath::root().resolve(text).map_err(|e| format!("{k}: {e}"))?;
        out.push((text.to_string(), path));
    }
    Ok(out)
}

/// Runs one command.
pub fn run(command: &str, params: &Map<String, Value>, ctx: &RcContext<'_>) -> RcOutcome {
    match command {
        "rc/noop" => RcOutcome::Reply(200, Value::Object(params.clone())),
        "core/version" => {
            let version = env!("CARGO_PKG_VERSION");
            let decomposed: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
            RcOutcome::Reply(
                200,
                json!({
                    "version": format!("v{version}"),
                    "decomposed": decomposed,
                    "isGit": false,
                    "isBeta": false,
                    "os": std::env::consts::OS,
                    "arch": std::env::consts::ARCH,
                    "goVersion": "none (ftpvfs is written in Rust)",
                    "linking": "static",
                    "goTags": "none",
                }),
            )
        }
        "core/stats" => {
            let elapsed = ctx.stats.started.elapsed().as_secs_f64();
            let requests = vfses(ctx.shared).iter().filter_map(|v| v.backend_requests()).reduce(|a, b| a + b);
            let read = vfses(ctx.shared).iter().filter_map(|v| v.backend_bytes_read()).reduce(|a, b| a + b);
            RcOutcome::Reply(
                200,
                json!({
                    "bytes": ctx.stats.bytes,
                    "transfers": ctx.stats.transfers,
                    "errors": ctx.stats.errors,
                    "elapsedTime": elapsed,
                    "speed": if elapsed > 0.0 { ctx.stats.bytes as f64 / elapsed } else { 0.0 },
                    "sessions": ctx.sessions,
                    "totalSessions": ctx.stats.sessions,
                    "transferring": ctx.transferring,
                    "backendRequests": requests,
                    "backendBytesRead": read,
                }),
            )
        }
        "core/quit" => RcOutcome::Quit(json!({})),
        "core/bwlimit" => {
            if let Some(rate) = params.get("rate") {
                let Some(rate) = rate.as_str() else {
                    return fail(command, params, 500, "expecting string value for key \"rate\"");
                };
                if let Err(e) = ctx.shared.bandwidth.set(rate) {
                    return fail(command, params, 500, &e);
                }
            }
            let limit = ctx.shared.bandwidth.report();
            RcOutcome::Reply(
                200,
                json!({
                    "rate": limit.rate,
                    "bytesPerSecond": limit.bytes_per_second,
                    "bytesPerSecondTx": limit.bytes_per_second_tx,
                    "bytesPerSecondRx": limit.bytes_per_second_rx,
                }),
            )
        }
        "vfs/forget" => {
            let (files, dirs) = match (paths(params, "file"), paths(params, "dir")) {
                (Ok(f), Ok(d)) => (f, d),
                (Err(e), _) | (_, Err(e)) => return fail(command, params, 400, &e),
            };
            let all = vfses(ctx.shared);
            if files.is_empty() && dirs.is_empty() {
                for vfs in &all {
                    vfs.forget_all();
                }
                return RcOutcome::Reply(200, json!({ "forgotten": [] }));
            }
            let mut forgotten = Vec::new();
            for (is_dir, list) in [(false, files), (true, dirs)] {
                for (text, path) in list {
                    for vfs in &all {
                        vfs.forget(&path, is_dir);
                    }
                    forgotten.push(text);
                }
            }
            RcOutcome::Reply(200, json!({ "forgotten": forgotten }))
        }
        "vfs/refresh" => {
            let recursive = match bool_param(params, "recursive") {
                Ok(r) => r,
                Err(e) => return fail(command, params, 400, &e),
            };
            let mut dirs = match paths(params, "dir") {
                Ok(d) => d,
                Err(e) => return fail(command, params, 400, &e),
            };
            if dirs.is_empty() {
                dirs.push((String::new(), VfsPath::root()));
            }
            let all = vfses(ctx.shared);
            RcOutcome::Work(Box::new(move || {
                let mut result = Map::new();
                for (text, dir) in dirs {
                    let mut status = "OK".to_string();
                    for vfs in &all {
                        if let Err(e) = vfs.refresh(&dir, recursive) {
                            status = e.client_message();
                        }
                    }
                    result.insert(text, Value::String(status));
                }
                Ok(json!({ "result": result }))
            }))
        }
        "vfs/stats" => {
            let all = vfses(ctx.shared);
            let (dirs, entries) = all.iter().map(|v| v.cache_size()).fold((0, 0), |(d, f), (d2, f2)| (d + d2, f + f2));
            let o = &ctx.shared.vfs_options;
            let (mut files, mut bytes, mut queued, mut uploading) = (0usize, 0u64, 0usize, 0usize);
            let mut backend_read = None::<u64>;
            let backend_requests = all.iter().filter_map(|v| v.backend_requests()).reduce(|a, b| a + b);
            for v in &all {
                if let Some(c) = v.cache() {
                    let (f, b) = c.size();
                    files += f;
                    bytes += b;
                    for (_, _, up) in c.queue_snapshot() {
                        if up {
                            uploading += 1;
                        } else {
                            queued += 1;
                        }
                    }
                }
                if let Some(n) = v.backend_bytes_read() {
                    backend_read = Some(backend_read.unwrap_or(0) + n);
                }
            }
            let disk_cache = all.iter().find_map(|v| v.cache()).map(|c| {
                let opts = c.options();
                json!({
                    "path": opts.dir.display().to_string(),
                    "files": files,
                    "bytesUsed": bytes,
                    "uploadsQueued": queued,
                    "uploadsInProgress": uploading,
                })
            });
            RcOutcome::Reply(
                200,
                json!({
                    "fs": if ctx.shared.proxy.is_some() { "auth proxy" } else { "served remote" },
                    "vfses": all.len(),
                    "inUse": ctx.sessions,
                    "metadataCache": { "dirs": dirs, "files": entries },
                    "opt": {
                        "CacheMode": format!("{:?}", o.cache_mode).to_lowercase(),
                        "DirCacheTime": o.dir_cache_time.as_secs_f64(),
                        "ReadOnly": o.read_only,
                        "NoSeek": o.no_seek,
                        "NoModTime": o.no_modtime,
                        "CaseInsensitive": o.case_insensitive,
                        "BufferSize": o.buffer_size,
                        "UsedIsSize": o.used_is_size,
                    },
                    "diskCache": disk_cache,
                    "backendBytesRead": backend_read,
                    "backendRequests": backend_requests,
                }),
            )
        }
        // Cache mode off uploads as it goes: its queue is always empty.
        "vfs/queue" => {
            let queue: Vec<Value> = vfses(ctx.shared)
                .iter()
                .filter_map(|v| v.cache().map(|c| c.queue_snapshot()))
                .flatten()
                .map(|(name, expiry, uploading)| json!({ "name": name, "expiry": expiry, "uploading": uploading }))
                .collect();
            RcOutcome::Reply(200, json!({ "queue": queue }))
        }
        _ => fail(command, params, 404, &format!("couldn't find method {command:?}")),
    }
}
