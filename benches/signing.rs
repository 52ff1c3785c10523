//! Signing throughput of `signer::sign` on the seed request, for the side-by-side comparison
//! with the official Python SDK that `cargo xtask bench` runs (see BENCHMARKS.md).
//!
//! Prints one line: `rust_sign_ns_per_op <median of 7 rounds>`.

use hss_image_sync::signer::{self, SignableRequest};
use secrecy::SecretString;
use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

const ROUNDS: usize = 7;
const PER_ROUND: u32 = 50_000;

fn main() {
    let query = vec![(
        "enterprise_project_id".to_owned(),
        "all_granted_eps".to_owned(),
    )];
    let headers = vec![
        ("region".to_owned(), "cn-north-4".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "User-Agent".to_owned(),
            "huaweicloud-usdk-python/3.0; bench".to_owned(),
        ),
        (
            "X-Project-Id".to_owned(),
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_owned(),
        ),
    ];
    let request = SignableRequest {
        method: "POST",
        host: "hss.cn-north-4.myhuaweicloud.com",
        path: "/v5/0a1b2c3d4e5f60718293a4b5c6d7e8f9/image/synchronize",
        query: &query,
        headers: &headers,
        body: br#"{"image_type": "private_image"}"#,
    };
    let sk = SecretString::from("xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo");
    let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);

    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..PER_ROUND {
                let signed = signer::sign(black_box(&request), "HPUAL8FWGBJPNSCL4E2X", &sk, time);
                black_box(signed.ok());
            }
            started.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("rust_sign_ns_per_op {:.0}", rounds[ROUNDS / 2]);
}
