//! Signatures made by our signer, with every algorithm, checked by the official Python SDK
//! (tests/oracle/verify_algorithms.py): the SDK derives the keys from the AK/SK and verifies
//! (ECDSA, SM2) or recomputes (SM3, V11) each signature; changed signatures are refused.
//!
//! Needs the oracle venv (see tests/oracle_interop.rs); skipped, saying so, without it.

mod common;

use common::oracle::oracle_python;
use hss_image_sync::signer::{self, Algorithm, SignableRequest, SigningParams};
use secrecy::SecretString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

/// Requests signed for the oracle, varied in keys, bodies, headers and time.
fn cases() -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    let keys = [
        (
            "HPUAL8FWGBJPNSCL4E2X",
            "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo",
        ),
        ("QUIRKAK0540", "QUIRKSK-sm2-za-search"),
        ("QUIRKAK0863", "QUIRKSK-sm2-za-search"),
        ("AK-0+/=_~.x", "sk with spaces/+=%&?#é中文🔑"),
    ];
    // SDK-HMAC-SHA256 has its own interop tests (tests/oracle_interop.rs, signing vectors).
    for algorithm in Algorithm::ALL.into_iter().skip(1) {
        for (i, (ak, sk)) in keys.iter().enumerate() {
            for body in ["", r#"{"image_type": "shared_image"}"#] {
                let headers = vec![
                    ("Content-Type".to_owned(), "application/json".to_owned()),
                    ("X-Project-Id".to_owned(), format!("project-{i}")),
                    ("X-Security-Token".to_owned(), format!("token/{i}+=")),
                ];
                let query = [("enterprise_project_id".to_owned(), format!("ep {i}"))];
                let request = SignableRequest {
                    method: if body.is_empty() { "GET" } else { "POST" },
                    host: "hss.cn-north-4.myhuaweicloud.com",
                    path: "/v5/p/image/synchronize",
                    query: &query,
                    headers: &headers,
                    body: body.as_bytes(),
                };
                let sk = SecretString::from(*sk);
                let time = UNIX_EPOCH + Duration::from_secs(1_710_000_000 + 86_399 * i as u64);
                let params =
                    SigningParams::new(algorithm, ak, &sk, time).with_scope("cn-north-4", "hss");
                let signed = signer::sign_with(&request, &params).unwrap();
                lines.push(serde_json::json!({
                    "algorithm": algorithm.name(),
                    "ak": ak,
                    "sk": secrecy::ExposeSecret::expose_secret(&sk),
                    "region": "cn-north-4",
                    "service": "hss",
                    "string_to_sign": signed.string_to_sign,
                    "signature": signed.signature,
                    "canonical_request": signed.canonical_request.as_str(),
                }));
            }
        }
    }
    lines
}

/// The same signature with its last hex digit changed.
fn tampered(mut case: serde_json::Value) -> serde_json::Value {
    let signature = case["signature"].as_str().unwrap().to_owned();
    let (head, last) = signature.split_at(signature.len() - 1);
    let flipped = if last == "0" { "1" } else { "0" };
    case["signature"] = format!("{head}{flipped}").into();
    case
}

#[test]
fn the_official_sdk_accepts_our_signatures_with_every_algorithm() {
    let Some(python) = oracle_python() else {
        eprintln!(
            "skipped: no oracle python (run `cargo xtask ci`, or tests/oracle/setup_venv.sh)"
        );
        return;
    };
    let good = cases();
    let bad: Vec<serde_json::Value> = good.iter().cloned().map(tampered).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(root.join("tests/oracle/verify_algorithms.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start verify_algorithms.py");
    let mut stdin = child.stdin.take().unwrap();
    let all: Vec<serde_json::Value> = good.iter().chain(&bad).cloned().collect();
    let writer = std::thread::spawn(move || {
        for line in all {
            writeln!(stdin, "{line}").unwrap();
        }
    });
    let verdicts: Vec<serde_json::Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(verdicts.len(), good.len() * 2);
    let (accepted, refused) = verdicts.split_at(good.len());
    for (case, verdict) in good.iter().zip(accepted) {
        assert_eq!(verdict["ok"], true, "{verdict} for {case}");
    }
    for (case, verdict) in bad.iter().zip(refused) {
        assert_eq!(verdict["ok"], false, "tampered signature accepted: {case}");
    }
}
