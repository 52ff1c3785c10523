//! `fanout_vs_raw_reqwest` and `fanout_peak_rss_mb`: `sync --all-projects` over the 1,000
//! projects of an emulated account (rate limit off, 32 at once) against a raw reqwest client
//! sending the same 1,000 signed requests at the same concurrency (examples/bench_fanout.rs).

use super::{Artifacts, Comparison, Plan, Server, Spread, Target, interleaved};
use serde_json::{Value, json};
use std::process::{Command, Stdio};

const PROJECTS: &str = "1000";
const CONCURRENCY: &str = "32";

/// The demo keys of the emulator (its `DEMO_ACCESS_KEY` and `DEMO_SECRET_KEY`).
const AK: &str = "HSSEMULATORDEMOAK001";
const SK: &str = "hss-emulator-demo-secret-key-0000000000";

pub(super) fn fanout(
    plan: &Plan,
    art: &Artifacts,
    python: &str,
    extra: &mut serde_json::Map<String, Value>,
) -> Result<Vec<Comparison>, String> {
    let emulator = Server::start(Command::new(&art.cli).args([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--projects",
        PROJECTS,
    ]))?;
    let ours_args = [
        "sync",
        "--all-projects",
        "--rate",
        "off",
        "--concurrency",
        CONCURRENCY,
        "--region",
        "cn-north-4",
        "--endpoint",
        &emulator.url,
        "--iam-endpoint",
        &emulator.url,
    ];
    // The CLI, directly or under `tests/oracle/bench_rss.py` (which prints its peak RSS).
    let ours_command = |under: Option<&str>| {
        let mut cmd = match under {
            Some(python) => {
                let mut cmd = Command::new(python);
                cmd.arg(super::root().join("tests/oracle/bench_rss.py"))
                    .arg(&art.cli);
                cmd
            }
            None => Command::new(&art.cli),
        };
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
            .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .args(ours_args);
        cmd
    };
    // Targets per second of the fan-out itself (the summary's duration: after IAM's listing,
    // as the raw side's clock starts after its own listing and signing).
    let ours = || -> Result<f64, String> {
        let out = ours_command(None)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let summary: Value = text
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| format!("the fan-out printed no summary: {text}"))?;
        let summary = &summary["summary"];
        let synced = summary["outcomes"]["synced"].as_u64().unwrap_or(0);
        let targets = summary["targets"].as_u64().unwrap_or(0);
        if !out.status.success() || synced != targets || targets < 1000 {
            return Err(format!("the fan-out did not sync every target: {summary}"));
        }
        let secs = summary["duration_s"].as_f64().ok_or("no duration")?;
        Ok(targets as f64 / secs.max(1e-3))
    };
    let raw = || -> Result<f64, String> {
        let out = Command::new(&art.bench_fanout)
            .args([&emulator.url, CONCURRENCY])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["raw", rate, "0", targets] if targets.parse::<u32>().is_ok_and(|n| n >= 1000) => {
                rate.parse().map_err(|e| format!("{e}: {text}"))
            }
            _ => Err(format!("bench_fanout failed: {text}")),
        }
    };
    let (ours_rates, raw_rates) = interleaved(plan.e2e_rounds.min(11), ours, raw)?;
    // Peak RSS of the whole fan-out process.
    let mut rss_mb = Vec::new();
    for _ in 0..3 {
        let out = ours_command(Some(python))
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.first() != Some(&"peak_rss_kib") || words.get(3) != Some(&"0") {
            return Err(format!("the fan-out under bench_rss.py failed: {text}"));
        }
        let kib: f64 = words[1].parse().map_err(|e| format!("{e}"))?;
        rss_mb.push(kib / 1024.0);
    }
    extra.insert(
        "fanout_targets_per_s".into(),
        json!({"ours": Spread::of(&ours_rates).json(), "raw_reqwest": Spread::of(&raw_rates).json()}),
    );
    let command = format!(
        "hss-image-sync emulator --listen 127.0.0.1:0 --projects {PROJECTS}; \
         hss-image-sync sync --all-projects --rate off --concurrency {CONCURRENCY} --endpoint URL --iam-endpoint URL; \
         target/release/examples/bench_fanout URL {CONCURRENCY}"
    );
    Ok(vec![
        Comparison {
            key: "fanout_vs_raw_reqwest",
            what: "targets/s of `sync --all-projects` over 1,000 projects (rate limit off, 32 at once; the summary's duration, after IAM's listing) / raw reqwest sending the same 1,000 signed requests (signed before its clock starts), 32 at once",
            a: ("ours", ours_rates.clone()),
            b: ("raw reqwest", raw_rates.clone()),
            unit: "targets/s",
            ratios: ours_rates
                .iter()
                .zip(&raw_rates)
                .map(|(a, b)| a / b)
                .collect(),
            target: Target::AtLeast(0.8),
            command: command.clone(),
            checked: "every target synced by both (200, the emulator verified each signature)"
                .into(),
        },
        Comparison {
            key: "fanout_peak_rss_mb",
            what: "peak RSS (MB) of the `sync --all-projects` process over 1,000 projects (not a ratio)",
            a: ("ours", rss_mb.clone()),
            b: ("budget", vec![64.0; rss_mb.len()]),
            unit: "MB",
            ratios: rss_mb,
            target: Target::AtMost(64.0),
            command: format!("python tests/oracle/bench_rss.py {command}"),
            checked: "the fan-out exited 0".into(),
        },
    ])
}
