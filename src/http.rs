//! The crate's HTTP client, one factory for the HSS client and the credential providers alike:
//! reqwest over rustls with the aws-lc-rs provider and the platform's certificate verifier, plus the
//! extra CA certificates a caller adds. It sits below both so that `credentials` never reaches
//! up into `client` for it, and imports nothing of the crate: its failures are a [`SetupError`]
//! of its own, which the client turns into `Error::Config` and the providers into their
//! `CredentialsError`.
//!
//! The platform's roots are loaded at the first TLS handshake, not when the client is built:
//! reading the system CA store is most of a one-shot CLI call's time, and a call to an
//! `http://` endpoint (the emulator) never needs it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use rustls_platform_verifier::Verifier;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Default connect timeout, of the HSS client and of the credential providers' requests.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the HTTP client could not be made: which setting (`tls` or `http`) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub(crate) struct SetupError {
    pub(crate) setting: &'static str,
    pub(crate) problem: String,
}

/// CA certificates to trust besides the platform's.
#[derive(Clone, Debug)]
pub(crate) enum ExtraRoots {
    Pem(Vec<u8>),
    File(PathBuf),
}

/// A CA bundle is a few certificates; anything larger is not one.
const MAX_CA_BUNDLE_BYTES: u64 = 4 << 20;

/// Our own reqwest client: rustls with [`crypto_provider`] (aws-lc-rs unless the application
/// installed another) and the platform's certificate verifier, made at the first handshake;
/// nothing here can panic. Only connecting has a timeout here: the rest is set per request (the
/// HSS client's attempts and deadline, each provider's fetch).
pub(crate) fn http_client(
    connect_timeout: Duration,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<reqwest::Client, SetupError> {
    let tls_error = |e: &dyn std::fmt::Display| SetupError {
        setting: "tls",
        problem: e.to_string(),
    };
    let provider = crypto_provider();
    let verifier = LazyVerifier {
        extra_roots,
        provider: provider.clone(),
        verifier: OnceLock::new(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(connect_timeout)
        .http1_title_case_headers()
        // A redirect would carry X-Auth-Token or X-Security-Token to another host (reqwest
        // drops only Authorization) and turn the POST into a GET: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        // reqwest's own retry layer only ever retries HTTP/2 and HTTP/3 refusals, which this
        // HTTP/1.1 client never gets, yet it clones every request (headers, body) in case:
        // off. Retries, where there are any, are the HSS client's own (`client::call`).
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .map_err(|e| SetupError {
            setting: "http",
            problem: e.to_string(),
        })
}

/// The TLS provider of the HTTP client (and of the emulator's server): the process-wide default
/// when the application installed one (`CryptoProvider::install_default`, as rustls asks
/// libraries to respect), else aws-lc-rs, this crate's own, named explicitly so that nothing
/// depends on which rustls features other crates of the build turn on (with two providers
/// enabled, rustls's implicit default would panic). aws-lc-rs is rustls's default: it offers
/// post-quantum key exchange (X25519MLKEM768) first, and rustls 0.23.48 deprecates the *ring*
/// provider for lacking it.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return installed.clone();
    }
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The platform verifier (system roots and `SSL_CERT_FILE`/`SSL_CERT_DIR`, plus the extra
/// roots), made once, at the first certificate it is asked about. A failure to make it (no
/// CA certificate at all) is kept and is that handshake's error, and every later one's.
#[derive(Debug)]
struct LazyVerifier {
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<Verifier, rustls::Error>>,
}

impl LazyVerifier {
    fn get(&self) -> Result<&Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    /// What the provider verifies, which is what the platform verifier answers too; asked
    /// when the ClientHello is written, so it must not load the roots.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificates of every extra CA source, each of which must hold at least one.
pub(crate) fn extra_roots(
    sources: &[ExtraRoots],
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let mut roots = Vec::new();
    for source in sources {
        let (pem, named) = match source {
            ExtraRoots::Pem(pem) => (pem.clone(), "the PEM given".to_owned()),
            ExtraRoots::File(path) => (read_ca_file(path)?, path.display().to_string()),
        };
        let bad = |why: String| SetupError {
            setting: "tls",
            problem: format!("CA certificates in {named}: {why}"),
        };
        let before = roots.len();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            // Parsed now, as the verifier will parse it at the first handshake: a block that
            // is not a certificate is a configuration error, not a failed connection later.
            rustls::RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| {
                    bad(format!(
                        "certificate {} is not a usable X.509 CA certificate: {e}",
                        roots.len() - before + 1
                    ))
                })?;
            roots.push(cert);
        }
        if roots.len() == before {
            return Err(bad("no PEM CERTIFICATE block".into()));
        }
    }
    Ok(roots)
}

fn read_ca_file(path: &Path) -> Result<Vec<u8>, SetupError> {
    use std::io::Read;
    let bad = |why: String| SetupError {
        setting: "tls",
        problem: format!("CA bundle {}: {why}", path.display()),
    };
    let metadata = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !metadata.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_BUNDLE_BYTES + 1).read_to_end(&mut pem))
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_BUNDLE_BYTES {
        return Err(bad(format!("larger than {MAX_CA_BUNDLE_BYTES} bytes")));
    }
    Ok(pem)
}

/// The one check of every endpoint the crate is configured with (the HSS endpoint, IAM, STS,
/// the ECS metadata service, the pod-identity URI): `text` trimmed, without white space or
/// control characters anywhere (the URL parser would drop a tab or a line break and connect to
/// what is left), an `http` or `https` URL with a host and without user info (the crate sets
/// its own authorization; a password there would be sent and echoed). The problem never
/// quotes the text: it may hold a password.
pub(crate) fn check_endpoint(text: &str) -> Result<reqwest::Url, String> {
    let text = text.trim();
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "must not contain white space or control characters (found U+{:04X})",
            c as u32
        ));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err("must be an http:// or https:// URL".into());
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("the scheme must be https or http".into());
    }
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("user info is not allowed".into());
    }
    if authority.is_empty() {
        return Err("no host".into());
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("user info is not allowed".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_provider_offers_post_quantum_key_exchange_first() {
        // No test of this binary installs a process default, so this is the crate's own.
        assert!(CryptoProvider::get_default().is_none());
        let provider = crypto_provider();
        let first = provider.kx_groups.first().map(|group| group.name());
        assert_eq!(first, Some(rustls::NamedGroup::X25519MLKEM768));
    }

    #[test]
    fn extra_roots_must_hold_certificates() {
        for pem in [
            &b""[..],
            b"not pem",
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
            // Base64 that decodes, but not to a certificate.
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        ] {
            let err = extra_roots(&[ExtraRoots::Pem(pem.to_vec())]).unwrap_err();
            assert_eq!(err.setting, "tls", "{err}");
            if pem.starts_with(b"-----BEGIN CERTIFICATE-----\n") && !pem.contains(&b'!') {
                assert!(
                    err.problem.contains("certificate 1 is not a usable X.509"),
                    "{err}"
                );
            }
        }
        let dir = std::env::temp_dir();
        let err = extra_roots(&[ExtraRoots::File(dir.clone())]).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = extra_roots(&[ExtraRoots::File(dir.join("no-such-ca-bundle.pem"))]).unwrap_err();
        assert!(err.to_string().contains("no-such-ca-bundle.pem"), "{err}");
    }

    #[test]
    fn endpoints_are_checked_one_way_and_never_quoted() {
        for (text, why) in [
            ("http://127.0.0.1:80\t81", "U+0009"),
            ("https://iam.example\n.com", "U+000A"),
            ("https://iam.exa mple.com", "U+0020"),
            ("https://iam.example.com/\u{85}x", "U+0085"),
            ("https://user:PASSWORD@iam.example.com", "user info"),
            ("https://PASSWORD@iam.example.com/v3", "user info"),
            ("https://:PASSWORD@iam.example.com", "user info"),
            ("ftp://iam.example.com", "scheme"),
            ("iam.example.com", "http:// or https://"),
            ("https://", "no host"),
            ("https:///PASSWORD", "no host"),
            ("http://[PASSWORD", "not a URL"),
        ] {
            let problem = check_endpoint(text).unwrap_err();
            assert!(problem.contains(why), "{text:?}: {problem}");
            assert!(
                !problem.contains("PASSWORD") && !problem.contains("example"),
                "{problem}"
            );
        }
        for (text, host) in [
            (" https://IAM.example.com/ ", "iam.example.com"),
            ("http://127.0.0.1:8080/path?q=a@b", "127.0.0.1"),
            ("HTTPS://[::1]:9443", "[::1]"),
        ] {
            assert_eq!(
                check_endpoint(text).unwrap().host_str(),
                Some(host),
                "{text}"
            );
        }
    }
}
