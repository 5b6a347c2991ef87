//! FTPS (RFC 4217) with rustls: the server config built from `--cert`/`--key` (and rebuilt on
//! SIGHUP), the per-session resumption token that proves a data connection resumed its
//! control connection's session, and the non-blocking stream adapter (`stream.rs`) the reactor
//! uses for control and data sockets alike.
//!
//! Crypto provider: ring (builds with gcc alone; no cmake). TLS 1.2 and 1.3 only. ALPN: `ftp`;
//! a client offering only other protocols is refused by rustls with `no_application_protocol`
//! (no cross-protocol use of our certificate), and a client offering none is accepted.

pub mod client;
pub mod stream;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::ServerConfig;

/// TLS handshakes completed since start (control and data connections), for `/metrics`.
pub static HANDSHAKES_OK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// TLS handshakes that failed or were abandoned before completing, for `/metrics`.
pub static HANDSHAKES_FAILED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What the operator chose about TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsPolicy {
    /// TLS from the first byte on `--addr` (`--implicit-tls`), rather than AUTH TLS.
    pub implicit: bool,
    /// Without `--tls-optional`: no login before AUTH TLS and no PROT C transfers.
    pub required: bool,
    /// `--tls-require-reuse`: a protected data connection must resume its control session.
    pub require_reuse: bool,
}

/// Why TLS could not be set up from the certificate files.
#[derive(Debug)]
pub struct TlsError(pub String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// The live TLS configuration; the reactor swaps the configs on SIGHUP.
pub struct TlsContext {
    /// Config for control connections: issues session tickets.
    pub config: Arc<ServerConfig>,
    /// Config for data connections: the same certificate, sessions and ticket keys, but no
    /// tickets of its own. Clients resume the control session's; a ticket sent after the
    /// handshake of an upload is never read by clients such as Go's, and their close then
    /// becomes a TCP reset that discards the end of the upload.
    pub data_config: Arc<ServerConfig>,
    /// Operator choices.
    pub policy: TlsPolicy,
    cert: PathBuf,
    key: PathBuf,
    /// Kept across reloads so sessions and tickets issued before a reload still resume.
    sessions: Arc<dyn StoresServerSessions>,
    tickets: Arc<dyn ProducesTickets>,
}

impl fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsContext").field("cert", &self.cert).field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl TlsContext {
    /// Loads the certificate chain and key and builds the config.
    ///
    /// # Errors
    /// A file is missing, is not PEM, holds no certificate or key, or they do not match.
    pub fn load(cert: &Path, key: &Path, policy: TlsPolicy) -> Result<TlsContext, TlsError> {
        let sessions: Arc<dyn StoresServerSessions> = ServerSessionMemoryCache::new(4096);
        let tickets = rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError(format!("ticket keys: {e}")))?;
        let (config, data_config) = build_configs(cert, key, sessions.clone(), tickets.clone())?;
        Ok(TlsContext {
            config,
            data_config,
            policy,
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            sessions,
            tickets,
        })
    }

    /// Re-reads the certificate and key (SIGHUP). On failure the old config stays in force.
    ///
    /// # Errors
    /// As [`load`](Self::load); nothing changes then.
    pub fn reload(&mut self) -> Result<(), TlsError> {
        (self.config, self.data_config) =
            build_configs(&self.cert, &self.key, self.sessions.clone(), self.tickets.clone())?;
        Ok(())
    }
}

/// The control and data configs (see [`TlsContext::data_config`]).
fn build_configs(
    cert: &Path,
    key: &Path,
    sessions: Arc<dyn StoresServerSessions>,
    tickets: Arc<dyn ProducesTickets>,
) -> Result<(Arc<ServerConfig>, Arc<ServerConfig>), TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!("{}: no certificate found", cert.display())));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError(format!("{}: no private key: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| TlsError(format!("{} and {}: {e}", cert.display(), key.display())))?;
    config.alpn_protocols = vec![b"ftp".to_vec()];
    config.session_storage = sessions;
    config.ticketer = tickets;
    config.send_tls13_tickets = 4;
    let mut data = config.clone();
    data.send_tls13_tickets = 0;
    Ok((Arc::new(config), Arc::new(data)))
}

/// A random token identifying one control session's TLS session family (std's hasher keys are
/// random, so no random-number crate is needed).
pub fn new_session_token() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let v = std::collections::hash_map::RandomState::new().build_hasher().finish();
        half.copy_from_slice(&v.to_le_bytes());
    }
    out
}
