//! https: a certificate authority made when the emulator starts, a server certificate it
//! signs, and the TLS accept side (rustls with aws-lc-rs, as the client uses).
//!
//! The CA's private key is dropped once the server certificate is signed, so nothing else can
//! ever be issued under it; trusting its certificate trusts this one emulator run only.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::sync::Arc;
use std::time::SystemTime;
use tokio_rustls::TlsAcceptor;

/// The TLS side of a running emulator.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    /// The CA certificate, PEM.
    pub ca_pem: String,
}

fn failed(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("emulator TLS setup: {what}: {e}"))
}

/// Sets the validity: from the first day of last month to the first day of the month after
/// next year's same month (about 14 months; under the 825 days some platforms allow).
fn set_validity(params: &mut CertificateParams) {
    let now = crate::signer::sdk_date::format(SystemTime::now()).unwrap_or_default();
    let year: i32 = now.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2025);
    let month: u8 = now.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(1);
    let (from_year, from_month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let (to_year, to_month) = if month == 12 {
        (year + 2, 1)
    } else {
        (year + 1, month + 1)
    };
    params.not_before = rcgen::date_time_ymd(from_year, from_month, 1);
    params.not_after = rcgen::date_time_ymd(to_year, to_month, 1);
}

/// A fresh CA and a server certificate for `names` (DNS names or IP addresses) signed by it.
pub(crate) fn generate(names: &[String]) -> io::Result<Tls> {
    let ca_key = KeyPair::generate().map_err(|e| failed("CA key", e))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| failed("CA", e))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "hss-image-sync emulator CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut ca);
    let ca_certificate = ca.self_signed(&ca_key).map_err(|e| failed("CA", e))?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().map_err(|e| failed("server key", e))?;
    let mut server = CertificateParams::new(names.to_vec())
        .map_err(|e| failed("server certificate names", e))?;
    server.distinguished_name.push(
        DnType::CommonName,
        names
            .first()
            .map_or("hss-image-sync emulator", String::as_str),
    );
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    set_validity(&mut server);
    let server_certificate = server
        .signed_by(&server_key, &issuer)
        .map_err(|e| failed("server certificate", e))?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = crate::http::crypto_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(vec![server_certificate.der().clone()], key)
        .map_err(|e| failed("server certificate", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_certificate.pem(),
    })
}
