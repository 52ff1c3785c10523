//! Load against the in-process emulator: N signed requests from the Rust client over C
//! concurrent connections; every tenth is signed with a wrong key and must be refused.
//!
//! ```sh
//! cargo run --release --features emulator --example load -- 10000 256
//! ```
//!
//! Prints throughput, latency percentiles and the process's peak resident memory (client and
//! emulator together), and exits non-zero unless every verdict is right.
//!
//! With `--endpoint URL` the load goes to an emulator in another process (`hss-image-sync
//! emulator`, demo keys) instead, so that its memory can be read on its own (`cargo xtask
//! bench` does); the verdicts are then counted from the answers.

use hss_image_sync::emulator::{
    DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, Emulator, Verdict,
};
use hss_image_sync::types::ImageType;
use hss_image_sync::{Credentials, Error, HssClient};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint = args
        .iter()
        .position(|a| a == "--endpoint")
        .map(|at| {
            args.remove(at);
            (at < args.len()).then(|| args.remove(at))
        })
        .map(|url| url.expect("--endpoint URL"));
    let mut args = args.iter().map(|a| a.parse::<usize>());
    let requests = args.next().and_then(Result::ok).unwrap_or(10_000);
    let concurrency = args.next().and_then(Result::ok).unwrap_or(256).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(requests, concurrency, endpoint)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("FAILED: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(requests: usize, concurrency: usize, endpoint: Option<String>) -> Result<(), String> {
    // Verdicts counted as they happen: the emulator's log keeps only the latest exchanges.
    let counts = Arc::new([(); 3].map(|()| AtomicUsize::new(0)));
    let seen = counts.clone();
    let emulator = match &endpoint {
        Some(_) => None,
        None => Some(
            Emulator::new()
                .on_exchange(move |exchange| {
                    let slot = match exchange.verdict {
                        Verdict::Accepted => 0,
                        Verdict::Rejected => 1,
                        _ => 2,
                    };
                    seen[slot].fetch_add(1, Ordering::Relaxed);
                })
                .start()
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let (endpoint, project_id) = match (&emulator, endpoint) {
        (Some(running), _) => (running.endpoint(), running.project_id().to_owned()),
        (None, Some(url)) => (url, DEMO_PROJECT_ID.to_owned()),
        (None, None) => unreachable!("an endpoint or an emulator"),
    };
    let client = |sk: &str| {
        HssClient::builder()
            .endpoint(&endpoint)
            .credentials(Credentials::new(DEMO_ACCESS_KEY, sk).with_project_id(&project_id))
            .build()
            .map_err(|e| e.to_string())
    };
    let good = client(DEMO_SECRET_KEY)?;
    let bad = client("wrong-key")?;
    let external = emulator.is_none();

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (good, bad, counts) = (good.clone(), bad.clone(), counts.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut wrong = Vec::new();
            for i in (worker..requests).step_by(concurrency) {
                let is_bad = i % 10 == 0;
                let client = if is_bad { &bad } else { &good };
                let sent = Instant::now();
                let result = client
                    .run_image_synchronize(ImageType::PrivateImage, |op| op)
                    .await;
                latencies.push(sent.elapsed());
                let right = match (is_bad, &result) {
                    (false, Ok(_)) => true,
                    (true, Err(Error::Service(e))) => e.status == 401,
                    _ => false,
                };
                if !right {
                    wrong.push(format!("request {i} (bad={is_bad}): {result:?}"));
                }
                if external {
                    // No emulator hook in this process: its answers are the verdicts.
                    let slot = match &result {
                        Ok(_) => 0,
                        Err(Error::Service(e)) if e.status == 401 => 1,
                        _ => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                }
            }
            (latencies, wrong)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut wrong = Vec::new();
    while let Some(joined) = workers.join_next().await {
        let (l, w) = joined.map_err(|e| e.to_string())?;
        latencies.extend(l);
        wrong.extend(w);
    }
    let elapsed = started.elapsed();

    let [accepted, rejected, other] = [0, 1, 2].map(|i| counts[i].load(Ordering::Relaxed));
    let seen = accepted + rejected + other;
    let expected_bad = requests.div_ceil(10);
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(Duration::ZERO)
    };
    println!("requests:        {requests} ({expected_bad} with a wrong key)");
    println!("concurrency:     {concurrency}");
    println!("elapsed:         {:.3} s", elapsed.as_secs_f64());
    println!(
        "throughput:      {:.0} requests/s",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50/p99: {:.2} ms / {:.2} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!(
        "verdicts:        {accepted} accepted, {rejected} rejected, {} wrong outcomes",
        wrong.len()
    );
    println!(
        "peak RSS:        {}",
        peak_rss().unwrap_or_else(|| "unknown".into())
    );

    if let Some(first) = wrong.first() {
        return Err(format!("{} wrong outcomes, first: {first}", wrong.len()));
    }
    if seen != requests || accepted != requests - expected_bad || rejected != expected_bad {
        return Err(format!(
            "emulator saw {seen} requests, {accepted} accepted, {rejected} rejected"
        ));
    }
    Ok(())
}

/// VmHWM from /proc/self/status (Linux).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_owned())
}
