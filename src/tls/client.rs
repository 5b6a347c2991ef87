//! The TLS client config for connections ftpvfs makes itself (the ftp backend): system roots
//! (honouring `SSL_CERT_FILE`/`SSL_CERT_DIR`), TLS 1.2/1.3 with ring, ALPN `ftp`, in-memory
//! session resumption (so data connections resume the control session, as servers with
//! "require reuse" demand), and optionally no certificate check (`no_check_certificate`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::tls::TlsError;

/// Builds a client config.
///
/// # Errors
/// No usable root certificate was found (when certificates are checked).
pub fn client_config(check_certificate: bool, allow_tls13: bool) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if allow_tls13 { &[&rustls::version::TLS13, &rustls::version::TLS12] } else { &[&rustls::version::TLS12] };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError(e.to_string()))?;
    let mut config = if check_certificate {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            log::debug!("loading system root certificates: {e}");
        }
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(TlsError(
                "no trusted root certificates found (install ca-certificates, set SSL_CERT_FILE, or set \
                 no_check_certificate = true)"
                    .into(),
            ));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"ftp".to_vec()];
    Ok(Arc::new(config))
}

/// `no_check_certificate`: any certificate is accepted, but handshake signatures are still
/// checked (the server must hold the key of the certificate it shows).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
