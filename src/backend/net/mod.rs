//! What the HTTP remotes share, written once: a blocking HTTP/1.1 client with a keep-alive
//! pool (ureq, fed our ring-based rustls provider and the system's roots), the timeouts and
//! retry rules every request follows ([`retry`]), a bounded XML reader ([`xml`]) and the time
//! formats HTTP and S3 use ([`http_time`]). Backends run on worker threads, so every call here
//! blocks; none can hang, since every socket has a connect and a read/write timeout.

pub mod http_time;
pub mod retry;
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
            .max_redirects(0)
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
