//! What the HTTP remotes share, written once: a blocking HTTP/1.1 client with a keep-alive
//! pool (ureq, fed our ring-based rustls provider and the system's roots), the timeouts and
//! retry rules every request follows ([`retry`]), a bounded XML reader ([`xml`]) and the time
//! formats HTTP and S3 use ([`http_time`]). Backends run on worker threads, so every call here
//! blocks; none can hang, since every socket has a connect and a read/write timeout.

pub mod body;
pub mod http_time;
pub mod ranged_read;
pub mod retry;
pub mod settings;
pub mod url;
#[cfg(any(feature = "s3", feature = "webdav"))]
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

pub use ureq::http;

/// Network settings from rclone's global flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetOptions {
    /// `--contimeout`: how long a connection may take to open (rclone: 1m).
    pub connect_timeout: Duration,
    /// `--timeout`: how long a read or write may wait for the peer (rclone: 5m).
    pub io_timeout: Duration,
    /// `--low-level-retries`: tries of one request before its error is reported (rclone: 10).
    pub low_level_retries: u32,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            connect_timeout: Duration::from_secs(60),
            io_timeout: Duration::from_secs(300),
            low_level_retries: 10,
        }
    }
}

/// A pooled HTTP client. Cheap to share between threads (`Arc` inside).
#[derive(Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    /// The settings it was built with.
    pub options: NetOptions,
}

impl HttpClient {
    /// A client that checks certificates against the system roots (`SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` honoured), or checks nothing when `check_certificate` is false, and
    /// takes `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` from the environment as rclone
    /// does. Redirects are not followed: S3 and WebDAV answer them with meaning.
    ///
    /// # Errors
    /// No root certificate could be loaded while certificates are to be checked.
    pub fn new(options: NetOptions, check_certificate: bool) -> Result<HttpClient, String> {
        HttpClient::build(options, check_certificate, 0)
    }

    /// As [`new`](Self::new), but following up to `redirects` redirects, as Go's client does
    /// for rclone's http remote (a web directory often answers `/dir` with a 301 to `/dir/`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn following_redirects(
        options: NetOptions,
        check_certificate: bool,
        redirects: u32,
    ) -> Result<HttpClient, String> {
        HttpClient::build(options, check_certificate, redirects)
    }

    fn build(options: NetOptions, check_certificate: bool, redirects: u32) -> Result<HttpClient, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider);
        if check_certificate {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::debug!("loading system root certificates: {e}");
            }
            let roots: Vec<ureq::tls::Certificate<'static>> =
                found.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
            if roots.is_empty() {
                log::warn!("no trusted root certificates found: https endpoints will fail (install ca-certificates or set SSL_CERT_FILE)");
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
        } else {
            tls = tls.disable_verification(true);
        }
        let io = Some(options.io_timeout).filter(|d| !d.is_zero());
        let config = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .max_redirects(redirects)
            .user_agent(concat!("ftpvfs/", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity")
            .timeout_connect(Some(options.connect_timeout).filter(|d| !d.is_zero()))
            .timeout_per_read(io)
            .timeout_per_write(io)
            .max_idle_connections(64)
            .max_idle_connections_per_host(32)
            .max_idle_age(Duration::from_secs(50))
            .build();
        Ok(HttpClient { agent: config.new_agent(), options })
    }

    /// Sends one request (no retry: see [`retry`]); a status of 4xx or 5xx is a response,
    /// not an error.
    ///
    /// # Errors
    /// The connection failed, timed out or broke.
    pub fn send<B: ureq::AsSendBody>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        self.agent.run(request)
    }
}

/// A status that is not a success, as a storage error (`path` names the file).
pub fn status_error(status: u16, path: &str) -> crate::backend::Error {
    use crate::backend::{Error, ErrorKind};
    let kind = match status {
        404 | 410 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::PermissionDenied,
        507 => ErrorKind::NoSpace,
        _ if retry::status_is_retryable(status) => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    let mut e = Error::new(kind, path);
    e.source = Some(std::io::Error::other(format!("HTTP {status}")));
    e
}

/// A request that could not be sent or answered, as a storage error (`path` names the file).
pub fn transport_error(e: String, path: &str) -> crate::backend::Error {
    let mut err = crate::backend::Error::new(crate::backend::ErrorKind::Transient, path);
    err.source = Some(std::io::Error::other(e));
    err
}

/// Whether a transport error is worth another try (a reset, a timeout, a refused or broken
/// connection), as opposed to a bad URL or a TLS certificate that will fail the same way again.
pub fn transport_error_is_retryable(e: &ureq::Error) -> bool {
    !matches!(
        e,
        ureq::Error::BadUri(_)
            | ureq::Error::HostNotFound
            | ureq::Error::InvalidProxyUrl
            | ureq::Error::Rustls(_)
            | ureq::Error::Tls(_)
    )
}

/// Where the body of a ranged answer starts, from its `Content-Range` (`bytes 100-199/1000`).
pub fn content_range_start(value: &str) -> Option<u64> {
    value.trim().strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// The body of a successful GET that asked for the bytes from `pos`, positioned at `pos`, and
/// the offset where the body ends (when its length is known). Where the body starts comes from
/// `Content-Range` (rclone serve s3 sends one even with a 200), else a 206 starts where asked
/// and a 200 is the whole file, whose bytes before `pos` are skipped (servers that ignore
/// `Range`). Shared by the remotes that read files with ranged GETs, so that a read reopened
/// after a break lands on the same byte in each.
///
/// # Errors
/// The answer starts after `pos`, or ends before it (`vpath` names the file).
pub fn body_from(
    status: u16,
    headers: &http::HeaderMap,
    body: ureq::Body,
    pos: u64,
    vpath: &str,
) -> crate::backend::Result<(ureq::BodyReader<'static>, Option<u64>)> {
    use crate::backend::{Error, ErrorKind};
    use std::io::Read;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let length: Option<u64> = header("content-length").and_then(|l| l.trim().parse().ok());
    let start = match header("content-range").and_then(content_range_start) {
        Some(start) => start,
        None if status == 206 => pos,
        None => 0,
    };
    if start > pos {
        return Err(Error::with_detail(ErrorKind::Other, vpath, "The server answered another byte range"));
    }
    let mut reader = body.into_reader();
    let skip = pos - start;
    if skip > 0 {
        let skipped =
            std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink()).map_err(|e| Error::from_io(e, vpath))?;
        if skipped != skip {
            return Err(Error::with_detail(ErrorKind::Transient, vpath, "The file is shorter than it was"));
        }
    }
    Ok((reader, length.map(|l| start + l)))
}
