//! The client side of `cargo xtask bench`'s end-to-end comparisons: our `HssClient` and a raw
//! reqwest client (same TLS setup, no signing: it re-sends a request our client signed) against
//! an emulator in another process. Driven from stdin, one round per line, so that the harness
//! can interleave the two (see BENCHMARKS.md).
//!
//! ```sh
//! hss-image-sync emulator --listen 127.0.0.1:0   # prints `listening on http://ADDR`
//! cargo run --release --features emulator --example bench_client -- http://ADDR
//! ```
//!
//! Commands (stdin), each answered with one line on stdout:
//!
//! - `ours N C`: N calls of `HssClient::run_image_synchronize` from C tasks sharing one client
//!   (C = 1: sequential); answers `ours <calls/s> <failures>`;
//! - `raw N C [URL]`: N POSTs of the same request, signed once by our client just before the
//!   round and re-sent as is (the emulator accepts a signature for 15 minutes), from C tasks
//!   sharing one raw reqwest client; to URL (another server, the `Host` header unchanged) when
//!   given; answers `raw <calls/s> <failures>`;
//! - `presign`: the request our client would send now, as JSON (`url`, `headers`, `body`), for
//!   `curl`.
//!
//! A call is a failure unless it is answered 200 (for ours: a successful `run_image_synchronize`, i.e.
//! the emulator verified the signature and accepted the call).

use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY};
use hss_image_sync::types::{ImageType, RunImageSynchronizeRequestInfo};
use hss_image_sync::{Credentials, HssClient};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

/// A request signed by our client, to re-send as is.
#[derive(Clone)]
struct Presigned {
    url: String,
    headers: HeaderMap,
    body: bytes::Bytes,
}

fn main() {
    let endpoint = std::env::args()
        .nth(1)
        .expect("usage: bench_client http://ADDR");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ours = HssClient::builder()
        .endpoint(&endpoint)
        .credentials(
            Credentials::new(DEMO_ACCESS_KEY, DEMO_SECRET_KEY).with_project_id(DEMO_PROJECT_ID),
        )
        .build()
        .expect("our client");
    let raw = raw_client();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["ours", n, c] => {
                let (n, c) = (n.parse().unwrap(), c.parse().unwrap());
                let (rate, failures) = runtime.block_on(run_ours(&ours, n, c));
                format!("ours {rate:.1} {failures}")
            }
            ["raw", n, c, rest @ ..] => {
                let (n, c) = (n.parse().unwrap(), c.parse().unwrap());
                let mut request = runtime.block_on(presign(&ours));
                if let Some(url) = rest.first() {
                    request.url = retarget(&request.url, url);
                }
                let (rate, failures) = runtime.block_on(run_raw(&raw, &request, n, c));
                format!("raw {rate:.1} {failures}")
            }
            ["presign"] => {
                let request = runtime.block_on(presign(&ours));
                let headers: Vec<(String, String)> = request
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "url": request.url,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&request.body),
                })
                .to_string()
            }
            _ => {
                eprintln!("bench_client: unknown command {line:?}");
                std::process::exit(2);
            }
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
}

/// A reqwest client set up as the crate's own (rustls with aws-lc-rs, the platform verifier, title
/// case headers, no redirects, no reqwest retry layer), without anything of the crate.
fn raw_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(Vec::new(), provider.clone())
            .expect("verifier");
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_title_case_headers()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .expect("raw client")
}

async fn presign(ours: &HssClient) -> Presigned {
    let body = RunImageSynchronizeRequestInfo {
        image_type: ImageType::PrivateImage,
    };
    let operation = ours
        .in_project(ours.operations().run_image_synchronize().body(body))
        .await
        .expect("operation");
    let prepared = ours.prepare(operation).await.expect("prepared request");
    let mut headers = HeaderMap::new();
    for header in &prepared.headers {
        headers.append(
            HeaderName::from_bytes(header.name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(header.value.as_bytes()).unwrap(),
        );
    }
    Presigned {
        url: prepared.url.clone(),
        headers,
        body: prepared.body.clone().into(),
    }
}

/// `url` with the scheme and authority of `base`.
fn retarget(url: &str, base: &str) -> String {
    let path_at = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(url.len());
    format!("{}{}", base.trim_end_matches('/'), &url[path_at..])
}

async fn run_ours(client: &HssClient, n: usize, c: usize) -> (f64, usize) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..c {
        let client = client.clone();
        let calls = (worker..n).step_by(c).count();
        tasks.spawn(async move {
            let mut failures = 0;
            for _ in 0..calls {
                // A non-zero `error_code` is an error of the call.
                let sent = client
                    .run_image_synchronize(ImageType::PrivateImage, |op| op)
                    .await;
                if sent.is_err() {
                    failures += 1;
                }
            }
            failures
        });
    }
    let failures: usize = tasks.join_all().await.into_iter().sum();
    (n as f64 / started.elapsed().as_secs_f64(), failures)
}

async fn run_raw(
    client: &reqwest::Client,
    request: &Presigned,
    n: usize,
    c: usize,
) -> (f64, usize) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..c {
        let (client, request) = (client.clone(), request.clone());
        let calls = (worker..n).step_by(c).count();
        tasks.spawn(async move {
            let mut failures = 0;
            for _ in 0..calls {
                let sent = client
                    .post(&request.url)
                    .headers(request.headers.clone())
                    .body(request.body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        if response.bytes().await.is_err() {
                            failures += 1;
                        }
                    }
                    _ => failures += 1,
                }
            }
            failures
        });
    }
    let failures: usize = tasks.join_all().await.into_iter().sum();
    (n as f64 / started.elapsed().as_secs_f64(), failures)
}
