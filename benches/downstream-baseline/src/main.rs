//! What tests/downstream does, without hss-image-sync: a client set up as the crate sets its own
//! (rustls with aws-lc-rs, the platform verifier, title-case headers, no redirects) and a request body.

use std::sync::Arc;

#[derive(serde::Serialize)]
struct SyncRequest {
    image_type: &'static str,
}

fn client() -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(Vec::new(), provider.clone())?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_title_case_headers()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

fn main() {
    let client = client();
    let body = serde_json::to_string(&SyncRequest {
        image_type: "private_image",
    });
    let _ = tokio::sync::Mutex::new(());
    println!("{:?} {:?}", client.is_ok(), body.ok());
}
