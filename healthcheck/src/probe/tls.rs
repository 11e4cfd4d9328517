//! TLS client side of the negotiate checks (https, pops, imaps, ldaps, mysql, pgsql): rustls
//! with the certificate checked as [`TlsVerify`] says. ldirectord's HTTPS check (LWP in Debian
//! 12) verifies the chain against the system CA store but not the name ([`TlsVerify::Chain`]);
//! its mail and LDAP checks verify nothing ([`TlsVerify::None`]).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::cap::{Capped, TooLarge};
use super::{ProbeError, TlsVerify};

/// Connects TCP to `addr` (capped, see `cap`) and runs a TLS handshake over it.
pub(crate) async fn connect(
    addr: SocketAddr,
    verify: TlsVerify,
) -> Result<TlsStream<Capped<TcpStream>>, ProbeError> {
    let tcp = super::line::connect(addr).await?;
    wrap(tcp, addr, verify).await
}

/// Runs a TLS client handshake over an open connection. The server name is the
/// real server's IP address (no SNI is sent for an IP, as with ldirectord).
pub(crate) async fn wrap<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: S,
    addr: SocketAddr,
    verify: TlsVerify,
) -> Result<TlsStream<S>, ProbeError> {
    wrap_named(tcp, ServerName::IpAddress(addr.ip().into()), verify).await
}

/// Runs a TLS client handshake with `name` as the server name: a DNS name is sent as SNI
/// (and checked with [`TlsVerify::Full`]), an IP address is not sent.
pub(crate) async fn wrap_named<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: S,
    name: ServerName<'static>,
    verify: TlsVerify,
) -> Result<TlsStream<S>, ProbeError> {
    TlsConnector::from(client_config(verify)?)
        .connect(name, tcp)
        .await
        .map_err(|e| match TooLarge::find(&e) {
            Some(too_large) => ProbeError::TooLarge(too_large),
            None => ProbeError::Tls(e.to_string()),
        })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// One client configuration per verification mode, built on first use (loading the
/// system's CA store is costly; a check must not pay for it every time).
fn client_config(verify: TlsVerify) -> Result<Arc<ClientConfig>, ProbeError> {
    static CONFIGS: [OnceLock<Result<Arc<ClientConfig>, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match verify {
        TlsVerify::None => &CONFIGS[0],
        TlsVerify::Chain => &CONFIGS[1],
        TlsVerify::Full => &CONFIGS[2],
    };
    slot.get_or_init(|| build_config(verify).map(Arc::new))
        .clone()
        .map_err(ProbeError::Tls)
}

fn build_config(verify: TlsVerify) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        TlsVerify::None => Arc::new(NoVerify(provider)),
        TlsVerify::Chain | TlsVerify::Full => {
            let platform = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| format!("cannot load the system's CA certificates: {e}"))?;
            if verify == TlsVerify::Chain {
                Arc::new(ChainOnly(Arc::new(platform)))
            } else {
                Arc::new(platform)
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Verifies the certificate chain but not the name in it, as LWP does with
/// `verify_hostname => 0`. The name is checked after the chain, so a name error means the
/// chain itself was good.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate, but still checks the handshake signatures, so the
/// connection is at least to whoever holds the presented key.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS acceptor with the self-signed test certificate in `testdata/`.
#[cfg(test)]
pub(crate) fn test_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    let certs = vec![CertificateDer::from_pem_slice(include_bytes!("testdata/cert.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::pem::PemObject;
    use std::path::Path;
    use std::process::{Command, Stdio};

    fn openssl(dir: &Path, args: &[&str]) {
        let ok = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS tests")
            .success();
        assert!(ok, "openssl {args:?}");
    }

    fn cert(dir: &Path, name: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(dir.join(name)).unwrap()
    }

    /// A CA, a server certificate for www.example.test signed by it, and a self-signed one.
    fn pki(dir: &Path) {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=Test CA"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign"]);
        openssl(dir, &ca);
        let mut csr = vec!["req", "-new", "-subj", "/CN=www.example.test"];
        csr.extend(ec);
        csr.extend(["-keyout", "srv.key", "-out", "srv.csr"]);
        openssl(dir, &csr);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:www.example.test\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "srv.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "srv.pem",
            ],
        );
        let mut own = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=www.example.test",
        ];
        own.extend(ec);
        own.extend(["-keyout", "own.key", "-out", "own.pem"]);
        openssl(dir, &own);
    }

    #[test]
    fn chain_only_accepts_a_trusted_chain_under_any_name_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        pki(dir.path());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert(dir.path(), "ca.pem")).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let full = Arc::clone(&webpki);
        let chain = ChainOnly(webpki);
        let now = UnixTime::now();
        let srv = cert(dir.path(), "srv.pem");
        let own = cert(dir.path(), "own.pem");
        let right = ServerName::try_from("www.example.test").unwrap();
        let ip = ServerName::IpAddress(std::net::Ipv4Addr::new(192, 0, 2, 1).into());

        // Full verification: chain and name.
        assert!(full.verify_server_cert(&srv, &[], &right, &[], now).is_ok());
        assert!(full.verify_server_cert(&srv, &[], &ip, &[], now).is_err());
        // Chain only (ldirectord's HTTPS check): the name does not matter ...
        assert!(chain
            .verify_server_cert(&srv, &[], &right, &[], now)
            .is_ok());
        assert!(chain.verify_server_cert(&srv, &[], &ip, &[], now).is_ok());
        // ... but a certificate no trusted CA signed is refused, whatever the name.
        assert!(chain
            .verify_server_cert(&own, &[], &right, &[], now)
            .is_err());
        assert!(chain.verify_server_cert(&own, &[], &ip, &[], now).is_err());
    }
}
