//! A TCP proxy between a remote backend and its server that misbehaves on demand, for the
//! fault tests: it passes bytes through, answers new connections with `503 SlowDown`, cuts
//! connections off after some bytes of the answer, or stalls them (reads the request, never
//! answers). Listens on 127.0.0.1 port 0; each fault applies to the next connections opened.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// Answer the first request of the next `n` connections with 503 SlowDown and close.
    SlowDown(u32),
    /// Reset the next `n` connections after `after` bytes of the server's answer.
    Reset {
        /// Connections to break.
        n: u32,
        /// Bytes passed before the reset.
        after: u64,
    },
    /// Read requests on every new connection and never answer.
    Stall,
}

/// A running proxy.
pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    /// Connections accepted so far.
    pub accepted: Arc<Mutex<u32>>,
    /// The client side of every connection open now (closed when a fault is set, so that a
    /// client's pooled connections cannot dodge it).
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT` or `127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr =
            upstream.trim_start_matches("http://").trim_end_matches('/').parse().expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let fault = Arc::new(Mutex::new(Fault::None));
        let accepted = Arc::new(Mutex::new(0));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (f, a, o) = (fault.clone(), accepted.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                *a.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                if let Ok(c) = client.try_clone() {
                    o.lock().unwrap_or_else(|e| e.into_inner()).push(c);
                }
                let now = {
                    let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                    let now = *f;
                    *f = match now {
                        Fault::SlowDown(n) if n > 1 => Fault::SlowDown(n - 1),
                        Fault::Reset { n, after } if n > 1 => Fault::Reset { n: n - 1, after },
                        Fault::SlowDown(_) | Fault::Reset { .. } => Fault::None,
                        other => other,
                    };
                    now
                };
                std::thread::spawn(move || serve(client, upstream, now));
            }
        });
        FaultProxy { addr, fault, accepted, open }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets what happens to the next connections, and closes the open ones.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
        for c in self.open.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u32 {
        *self.accepted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::SlowDown(_) => {
            let _ = read_request_head(&client);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
            let reply = format!(
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut c = &client;
            let _ = c.write_all(reply.as_bytes());
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Stall => {
            let mut c = &client;
            let mut buf = [0u8; 64 << 10];
            let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
            while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
        }
        Fault::None | Fault::Reset { .. } => {
            let Ok(server) = TcpStream::connect(upstream) else { return };
            let limit = match fault {
                Fault::Reset { after, .. } => Some(after),
                _ => None,
            };
            let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                (Ok(c), Ok(s)) => (c, s),
                _ => return,
            };
            std::thread::spawn(move || pump(c2, s2, None));
            pump(server, client, limit);
        }
    }
}

/// Copies `from` to `to`; with a limit, resets both after that many bytes.
fn pump(mut from: TcpStream, mut to: TcpStream, limit: Option<u64>) {
    let mut buf = [0u8; 64 << 10];
    let mut passed = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = match limit {
            Some(l) if passed + n as u64 >= l => {
                let take = (l - passed) as usize;
                let _ = to.write_all(&buf[..take]);
                // Both ways at once: the client sees the answer break off mid-body.
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
            _ => n,
        };
        passed += n as u64;
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn read_request_head(mut s: &TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}
