//! Active-mode data connections (PORT/EPRT): a non-blocking connect from the control
//! connection's local address to the client's address, which the session already checked to
//! be the control peer.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

/// Starts connecting from `local_ip` (any port) to `target`. Completion shows as writability;
/// then [`connect_result`] tells whether it worked.
///
/// # Errors
/// Socket creation, bind or an immediate connect failure.
pub fn start_connect(local_ip: IpAddr, target: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(target), Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))?;
    if local_ip.is_ipv4() == target.is_ipv4() {
        socket.bind(&SocketAddr::new(local_ip, 0).into())?;
    }
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// After a writable event: `Ok(true)` connected, `Ok(false)` still in progress.
///
/// # Errors
/// The connect failed (refused, unreachable).
pub fn connect_result(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}
