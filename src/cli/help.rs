//! `--help` and `--version` text, generated from the flag table.

use std::fmt::Write;

use crate::cli::flags::{Support, ValueKind, SERVE_FLAGS};

/// `ftpvfs --version`.
pub fn version() -> String {
    format!("ftpvfs {}\n", env!("CARGO_PKG_VERSION"))
}

/// `ftpvfs --help`.
pub fn top_help() -> String {
    format!(
        "ftpvfs {} - serve a folder or storage remote over FTP\n\n\
         Usage:\n  ftpvfs serve REMOTE:PATH [flags]   serve REMOTE:PATH over FTP (see `ftpvfs serve --help`)\n  \
         ftpvfs obscure PASSWORD            print the password obscured as rclone.conf stores it\n  \
         ftpvfs --help                      this text\n  ftpvfs --version                   print the version\n\n\
         Example:\n  ftpvfs serve ./files --addr 127.0.0.1:2121 --user me --pass secret\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `ftpvfs serve --help`: every flag with its value kind, default and status.
pub fn serve_help() -> String {
    let mut out = String::from(
        "Serve REMOTE:PATH over FTP. REMOTE:PATH is a local path (./files, /srv/ftp, :local:/srv/ftp),\n\
         :memory:, or a local or memory remote from rclone.conf (name:path, with name,key=value:path).\n\n\
         Usage:\n  ftpvfs serve REMOTE:PATH [flags]\n\nFlags:\n",
    );
    let rows: Vec<(String, &str, String)> = SERVE_FLAGS
        .iter()
        .map(|f| {
            let name = match f.short {
                Some(c) => format!("-{c}, --{}", f.name),
                None => format!("    --{}", f.name),
            };
            let kind = match f.kind {
                ValueKind::Bool | ValueKind::Count => "",
                ValueKind::CacheMode => " CacheMode",
                ValueKind::Bandwidth => " BwTimetable",
                ValueKind::Duration => " duration",
                ValueKind::Int => " int",
                ValueKind::LogLevel => " level",
                ValueKind::Mode => " FileMode",
                ValueKind::PortRange => " ports",
                ValueKind::Size => " SizeSuffix",
                ValueKind::Text => " string",
            };
            let mut help = f.help.to_string();
            if !f.default.is_empty() {
                let _ = write!(help, " (default {})", f.default);
            }
            if let Support::Later(why) = f.support {
                let _ = write!(help, " [not supported yet: {why}]");
            }
            (format!("{name}{kind}"), "", help)
        })
        .collect();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (name, _, help) in rows {
        let _ = writeln!(out, "  {name:<width$}   {help}");
    }
    out.push_str("  -h, --help   help for serve\n\nRUST_LOG overrides -v and --log-level when set.\n");
    out
}
