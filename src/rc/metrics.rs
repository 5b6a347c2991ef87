//! `GET /metrics` on the rc address (`--rc-enable-metrics`): the Prometheus text format. The
//! families rclone exports keep rclone's names (`rclone_bytes_transferred_total`,
//! `rclone_files_transferred_total`, `rclone_errors_total`, `rclone_speed`), the standard
//! `process_*` families come from `/proc/self`, and `ftpvfs_*` families give what an FTP server
//! has and rclone lacks. rclone's counters of deletions, renames, listed entries and checks are
//! not exported yet (ftpvfs does not count them).

use std::fmt::Write;

use crate::rc::commands::{vfses, RcContext};

/// One family: HELP, TYPE and its samples (labels already formatted).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {}", number(*value));
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// What `/proc/self` says: CPU seconds, resident and virtual bytes, open descriptors, start time.
fn process_figures() -> Option<(f64, f64, f64, f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let tick = 100.0; // USER_HZ, which /proc reports in on every Linux
    let cpu = (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?) / tick;
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let vsize: f64 = fields.get(20)?.parse().ok()?;
    // VmRSS in kB: /proc/self/stat counts pages, whose size varies by machine.
    let rss_kb: f64 = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))?;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok()))?;
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count) as f64;
    Some((cpu, rss_kb * 1024.0, vsize, fds, boot + start_ticks / tick))
}

/// The whole `/metrics` body.
pub fn render(ctx: &RcContext<'_>) -> String {
    let mut out = String::with_capacity(4096);
    let s = &ctx.stats;
    let elapsed = s.started.elapsed().as_secs_f64();
    family(
        &mut out,
        "rclone_bytes_transferred_total",
        "counter",
        "Total transferred bytes since the start of the Rclone process",
        &[("", s.bytes as f64)],
    );
    family(&mut out, "rclone_errors_total", "counter", "Number of errors thrown", &[("", s.errors as f64)]);
    family(
        &mut out,
        "rclone_files_transferred_total",
        "counter",
        "Number of transferred files",
        &[("", s.transfers as f64)],
    );
    family(
        &mut out,
        "rclone_speed",
        "gauge",
        "Average speed in bytes per second since the start of the Rclone process",
        &[("", if elapsed > 0.0 { s.bytes as f64 / elapsed } else { 0.0 })],
    );
    family(&mut out, "ftpvfs_sessions_open", "gauge", "Control connections open now", &[("", ctx.sessions as f64)]);
    family(
        &mut out,
        "ftpvfs_sessions_total",
        "counter",
        "Control connections accepted since the start",
        &[("", s.sessions as f64)],
    );
    family(
        &mut out,
        "ftpvfs_transfers_in_progress",
        "gauge",
        "File transfers running now",
        &[("", ctx.transferring as f64)],
    );
    let vfs = vfses(ctx.shared);
    if let Some(requests) = vfs.iter().filter_map(|v| v.backend_requests()).reduce(|a, b| a + b) {
        family(
            &mut out,
            "ftpvfs_backend_requests_total",
            "counter",
            "Requests sent to the remote (the HTTP remotes)",
            &[("", requests as f64)],
        );
    }
    if let Some(read) = vfs.iter().filter_map(|v| v.backend_bytes_read()).reduce(|a, b| a + b) {
        family(
            &mut out,
            "ftpvfs_backend_read_bytes_total",
            "counter",
            "Bytes read from the remote's files",
            &[("", read as f64)],
        );
    }
    let mut calls = [0u64; crate::backend::counted::OPERATIONS.len()];
    let mut errors = calls;
    for v in &vfs {
        for (i, op) in v.backend_operations().iter().enumerate() {
            calls[i] += op.calls;
            errors[i] += op.errors;
        }
    }
    let labels: Vec<String> =
        crate::backend::counted::OPERATIONS.iter().map(|op| format!("{{operation=\"{op}\"}}")).collect();
    let samples = |figures: &[u64]| -> Vec<(&str, f64)> {
        labels.iter().zip(figures).map(|(l, &n)| (l.as_str(), n as f64)).collect()
    };
    family(
        &mut out,
        "ftpvfs_backend_operations_total",
        "counter",
        "Calls to the remote by operation (each may be several requests, or none when cached)",
        &samples(&calls),
    );
    family(
        &mut out,
        "ftpvfs_backend_errors_total",
        "counter",
        "Calls to the remote that failed with a storage failure (not 'not found' and other answers about names), by operation",
        &samples(&errors),
    );
    let counters = &ctx.shared.counters;
    let ok = counters.logins_ok.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let failed = counters.logins_failed.load(std::sync::atomic::Ordering::Relaxed) as f64;
    family(
        &mut out,
        "ftpvfs_logins_total",
        "counter",
        "Logins by result",
        &[("{result=\"ok\"}", ok), ("{result=\"failed\"}", failed)],
    );
    let ok = crate::tls::HANDSHAKES_OK.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let failed = crate::tls::HANDSHAKES_FAILED.load(std::sync::atomic::Ordering::Relaxed) as f64;
    family(
        &mut out,
        "ftpvfs_tls_handshakes_total",
        "counter",
        "TLS handshakes (control and data connections) by result; failed counts refused and abandoned ones",
        &[("{result=\"ok\"}", ok), ("{result=\"failed\"}", failed)],
    );
    let verbs: Vec<(String, f64)> =
        counters.commands().into_iter().map(|(v, n)| (format!("{{verb=\"{v}\"}}"), n as f64)).collect();
    let verb_samples: Vec<(&str, f64)> = verbs.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(&mut out, "ftpvfs_commands_total", "counter", "Commands received, by verb", &verb_samples);
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed) as f64;
    // rclone's families for what a sync does besides transferring; a server never checks
    // files, nor fails fatally while it runs, so those stay 0 as under `rclone serve`.
    for (name, help, value) in [
        ("rclone_checked_files_total", "Number of checked files", 0.0),
        ("rclone_files_deleted_total", "Total number of files deleted", load(&counters.files_deleted)),
        ("rclone_dirs_deleted_total", "Total number of directories deleted", load(&counters.dirs_deleted)),
        ("rclone_files_renamed_total", "Total number of files renamed", load(&counters.files_renamed)),
    ] {
        family(&mut out, name, "counter", help, &[("", value)]);
    }
    family(&mut out, "rclone_fatal_error", "gauge", "Whether a fatal error has occurred", &[("", 0.0)]);
    family(
        &mut out,
        "rclone_retry_error",
        "gauge",
        "Whether there has been an error that will be retried",
        &[("", 0.0)],
    );
    let [up, down] = s.by_direction;
    family(
        &mut out,
        "ftpvfs_transfers_total",
        "counter",
        "File transfers that ended, by direction (upload: STOR, APPE, STOU; download: RETR) and outcome",
        &[
            ("{direction=\"upload\",outcome=\"complete\"}", up[0] as f64),
            ("{direction=\"upload\",outcome=\"failed\"}", up[1] as f64),
            ("{direction=\"download\",outcome=\"complete\"}", down[0] as f64),
            ("{direction=\"download\",outcome=\"failed\"}", down[1] as f64),
        ],
    );
    family(
        &mut out,
        "ftpvfs_transferred_bytes_total",
        "counter",
        "Bytes of files moved on data connections, by direction (failed transfers included)",
        &[
            ("{direction=\"upload\"}", s.bytes_by_direction[0] as f64),
            ("{direction=\"download\"}", s.bytes_by_direction[1] as f64),
        ],
    );
    family(
        &mut out,
        "ftpvfs_passive_ports_in_use",
        "gauge",
        "Passive data ports handed out now",
        &[("", ctx.passive_ports.0 as f64)],
    );
    family(
        &mut out,
        "ftpvfs_passive_ports",
        "gauge",
        "Passive data ports in --passive-port's range",
        &[("", ctx.passive_ports.1 as f64)],
    );
    let caches: Vec<_> = vfs.iter().filter_map(|v| v.cache().cloned()).collect();
    if !caches.is_empty() {
        let (mut files, mut bytes, mut queued) = (0usize, 0u64, 0usize);
        for c in &caches {
            let (f, b) = c.size();
            files += f;
            bytes += b;
            queued += c.queue_snapshot().len();
        }
        family(&mut out, "ftpvfs_cache_files", "gauge", "Files in the disk cache", &[("", files as f64)]);
        family(&mut out, "ftpvfs_cache_bytes", "gauge", "Bytes in the disk cache", &[("", bytes as f64)]);
        family(
            &mut out,
            "ftpvfs_cache_uploads_queued",
            "gauge",
            "Files waiting for or in their upload to the remote",
            &[("", queued as f64)],
        );
    }
    let version = format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
    family(&mut out, "ftpvfs_build_info", "gauge", "The ftpvfs version, as a label", &[(&version, 1.0)]);
    if let Some((cpu, rss, vsize, fds, start)) = process_figures() {
        family(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            &[("", cpu)],
        );
        family(&mut out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", &[("", rss)]);
        family(&mut out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", &[("", vsize)]);
        family(&mut out, "process_open_fds", "gauge", "Number of open file descriptors.", &[("", fds)]);
        family(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            &[("", start)],
        );
    }
    out
}
