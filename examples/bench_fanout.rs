//! The raw side of `cargo xtask bench`'s `fanout_vs_raw_reqwest`: the same signed
//! `CreateImageSynchronizeTask` requests our fan-out sends, one per project of the emulator's
//! account, sent from a raw reqwest client at the same concurrency.
//!
//! ```sh
//! hss-image-sync emulator --listen 127.0.0.1:0 --projects 1000   # prints `listening on http://ADDR`
//! cargo run --release --features emulator --example bench_fanout -- http://ADDR 32
//! ```
//!
//! Lists the account's projects (IAM), signs one request per project with our client
//! (`prepare`: the bytes it would send, signature included; the emulator accepts a signature for
//! 15 minutes), then times only the sending, and prints `raw <targets/s> <failures> <targets>`.
//! A request is a failure unless it is answered 200.

use futures_util::StreamExt;
use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_SECRET_KEY};
use hss_image_sync::types::CreateImageSynchronizeTaskRequestInfo;
use hss_image_sync::{Credentials, HssClient, PreparedRequest};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(concurrency)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_fanout http://ADDR CONCURRENCY");
        std::process::exit(2);
    };
    let concurrency: usize = concurrency.parse().expect("a concurrency");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (rate, failures, targets) = runtime.block_on(async {
        let ours = HssClient::builder()
            .endpoint(&endpoint)
            .iam_endpoint(&endpoint)
            .region("cn-north-4")
            .credentials(Credentials::new(DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
            .build()
            .expect("our client");
        let projects = ours
            .account_projects()
            .await
            .expect("the account's projects");
        let every_registry = CreateImageSynchronizeTaskRequestInfo {
            sync_all_registries: true,
            registry_info: Vec::new(),
        };
        let mut requests = Vec::with_capacity(projects.len());
        for project in &projects {
            let op = ours
                .operations()
                .create_image_synchronize_task()
                .project_id(project.id.as_str())
                .body(every_registry.clone());
            requests.push(ours.prepare(op).await.expect("a signed request"));
        }
        let raw = raw_client();
        let started = Instant::now();
        let failures = futures_util::stream::iter(requests)
            .map(|request| send(&raw, request))
            .buffer_unordered(concurrency)
            .filter(|ok| std::future::ready(!ok))
            .count()
            .await;
        let secs = started.elapsed().as_secs_f64();
        (projects.len() as f64 / secs, failures, projects.len())
    });
    println!("raw {rate:.1} {failures} {targets}");
}

async fn send(raw: &reqwest::Client, request: PreparedRequest) -> bool {
    let mut builder = raw.post(&request.url).body(request.body);
    for header in &request.headers {
        builder = builder.header(header.name.as_str(), header.value.as_str());
    }
    match builder.send().await {
        Ok(answer) => answer.status() == 200 && answer.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// A plain reqwest client for loopback http (no redirects, no retries).
fn raw_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .expect("raw client")
}
