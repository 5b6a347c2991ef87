//! systemd integration: socket activation (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`: the
//! descriptor named `rc` serves the remote control, the first other one FTP, instead of
//! binding `--addr`/`--rc-addr`) and the notify protocol (`NOTIFY_SOCKET`: `READY=1` once
//! serving, `RELOADING=1` and `READY=1` around a SIGHUP, `STOPPING=1` on shutdown, and
//! `WATCHDOG=1` from the event loop at half of `WATCHDOG_USEC`). The variables are removed from
//! the environment once read, so the auth proxy's children never see them.

use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// What systemd handed this process: listening sockets by role, and where to notify.
#[derive(Debug, Default)]
pub struct Activation {
    /// The FTP control listener.
    pub ftp: Option<TcpListener>,
    /// The rc listener (the descriptor named `rc`).
    pub rc: Option<TcpListener>,
    /// `NOTIFY_SOCKET`.
    pub notifier: Option<Notifier>,
}

/// Takes what systemd passed in the environment (call it before any thread starts: the
/// variables are removed).
///
/// # Errors
/// A passed descriptor that is not a listening TCP socket, or more than one FTP socket.
pub fn take_from_env() -> io::Result<Activation> {
    let notifier = Notifier::from_env();
    Ok(Activation { notifier, ..take_sockets()? })
}

fn take_sockets() -> io::Result<Activation> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let mut found = Activation::default();
    let (Some(pid), Some(fds)) = (pid, fds) else { return Ok(found) };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(found);
    }
    let count: i32 = fds.trim().parse().map_err(|_| io::Error::other(format!("LISTEN_FDS={fds:?} is not a number")))?;
    let names: Vec<&str> = names.split(':').collect();
    for i in 0..count.clamp(0, 16) {
        let fd = 3 + i;
        let name = names.get(i as usize).copied().unwrap_or("");
        let listener = crate::sys::inherited_listener(fd)
            .map_err(|e| io::Error::new(e.kind(), format!("socket activation, descriptor {fd} ({name:?}): {e}")))?;
        let slot = if name == "rc" { &mut found.rc } else { &mut found.ftp };
        if slot.is_some() {
            return Err(io::Error::other(format!("socket activation passed a second {name:?} socket (fd {fd})")));
        }
        *slot = Some(listener);
    }
    Ok(found)
}

/// Where state changes are reported to systemd.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: Target,
    /// How often the event loop must say it is alive (half of `WATCHDOG_USEC`).
    pub watchdog: Option<Duration>,
}

#[derive(Debug)]
enum Target {
    Path(std::path::PathBuf),
    Abstract(Vec<u8>),
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` names, if any (`/path` or `@abstract`).
    pub fn from_env() -> Option<Notifier> {
        let target = std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog_usec = std::env::var("WATCHDOG_USEC").ok().and_then(|v| v.trim().parse::<u64>().ok());
        let watchdog_pid = std::env::var("WATCHDOG_PID").ok().and_then(|v| v.trim().parse::<u32>().ok());
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(var);
        }
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()).to_vec();
        let target = match bytes.strip_prefix(b"@") {
            Some(name) => Target::Abstract(name.to_vec()),
            None if bytes.starts_with(b"/") => Target::Path(std::path::PathBuf::from(target)),
            None => {
                log::warn!("NOTIFY_SOCKET {target:?} is neither a path nor @abstract: not notifying");
                return None;
            }
        };
        let socket = match UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("NOTIFY_SOCKET: {e}");
                return None;
            }
        };
        let watchdog = watchdog_usec
            .filter(|u| *u > 0 && watchdog_pid.is_none_or(|p| p == std::process::id()))
            .map(|u| Duration::from_micros(u / 2));
        Some(Notifier { socket, target, watchdog })
    }

    /// Sends one state message (`READY=1`, `STOPPING=1`...); failures are logged, not fatal.
    pub fn send(&self, state: &str) {
        let sent = match &self.target {
            Target::Path(p) => self.socket.send_to(state.as_bytes(), p),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|a| self.socket.send_to_addr(state.as_bytes(), &a))
            }
        };
        if let Err(e) = sent {
            log::warn!("NOTIFY_SOCKET: sending {state:?}: {e}");
        }
    }
}
