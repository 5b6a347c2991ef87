//! The `ftpvfs` binary: parse the command line, bind, serve. Errors go to stderr as
//! `ftpvfs: <what failed>: <why>` with rclone's exit codes (2 usage, 1 everything else).

use std::process::ExitCode;

use ftpvfs::cli::{self, help, CliError, Invocation};
use ftpvfs::server::limits::Limits;
use ftpvfs::server::Server;

fn main() -> ExitCode {
    ftpvfs::sys::return_large_buffers_to_the_system();
    let invocation = match cli::parse(std::env::args_os().skip(1)) {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let raw = match invocation {
        Invocation::Help => {
            print!("{}", help::top_help());
            return ExitCode::SUCCESS;
        }
        Invocation::ServeHelp => {
            print!("{}", help::serve_help());
            return ExitCode::SUCCESS;
        }
        Invocation::Version => {
            print!("{}", help::version());
            return ExitCode::SUCCESS;
        }
        Invocation::Rc(args) => {
            let call = match ftpvfs::rc::client::parse_args(&args) {
                Ok(c) => c,
                Err(e) => return fail(&CliError::Usage(e)),
            };
            return match ftpvfs::rc::client::call(&call) {
                Ok((200, body)) => {
                    print!("{body}");
                    ExitCode::SUCCESS
                }
                Ok((status, body)) => {
                    eprint!("{body}");
                    fail(&CliError::Fatal(format!("rc {}: HTTP {status}", call.command)))
                }
                Err(e) => fail(&CliError::Fatal(format!("rc: {e}"))),
            };
        }
        Invocation::Obscure(password) => {
            return match ftpvfs::remote::obscure::obscure(&password) {
                Ok(o) => {
                    println!("{o}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&CliError::Fatal(format!("obscure: {e}"))),
            };
        }
        Invocation::Serve(raw) => raw,
    };
    let config = match cli::Config::from_args(&raw) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if let Err(e) = ftpvfs::logging::init(config.log_level, &config.log) {
        return fail(&CliError::Fatal(e));
    }
    // Before any thread starts: systemd's variables are read and removed from the environment.
    let systemd = match ftpvfs::server::systemd::take_from_env() {
        Ok(s) => s,
        Err(e) => return fail(&CliError::Fatal(e.to_string())),
    };
    let limits = match cli::config::limits_from_args(&raw, Limits::default()) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let tls = match &config.tls {
        None => None,
        Some((cert, key, policy)) => match ftpvfs::tls::TlsContext::load(cert, key, *policy) {
            Ok(t) => Some(t),
            Err(e) => return fail(&CliError::Fatal(format!("TLS: {e}"))),
        },
    };
    let vfs = if config.auth_proxy.is_some() {
        None
    } else {
        let opened = config
            .served
            .open()
            .and_then(|backend| ftpvfs::vfs::Vfs::with_cache(backend, config.vfs, config.cache.clone()));
        match opened {
            Ok(v) => Some(v),
            Err(e) => return fail(&CliError::Fatal(e)),
        }
    };
    let xferlog = match config.xferlog.as_deref().map(ftpvfs::xferlog::XferLog::open).transpose() {
        Ok(x) => x,
        Err(e) => {
            let path = config.xferlog.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            return fail(&CliError::Fatal(format!("--xferlog {path}: {e}")));
        }
    };
    let server = match Server::bind(&config, vfs, limits, tls, xferlog, systemd) {
        Ok(s) => s,
        Err(e) => return fail(&CliError::Fatal(format!("cannot listen on {}: {e}", config.addr))),
    };
    let addr = server.local_addr();
    let mode = match &config.tls {
        None => "plain FTP",
        Some((_, _, p)) if p.implicit => "implicit FTPS",
        Some(_) => "explicit FTPS (AUTH TLS)",
    };
    log::info!("Serving FTP on {addr} (root {}, {mode})", config.served.describe());
    if !addr.ip().is_loopback() && !config.user_given {
        log::warn!(
            "listening on {addr}, beyond loopback, with no --user: anyone who can reach it may log in as \
             \"anonymous\"{}",
            if config.vfs.read_only { " (read-only)" } else { " and change files" }
        );
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&CliError::Fatal(format!("server stopped: {e}"))),
    }
}

fn fail(e: &CliError) -> ExitCode {
    eprintln!("ftpvfs: {e}");
    ExitCode::from(e.exit_code())
}
