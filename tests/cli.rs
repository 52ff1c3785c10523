//! The `hss-image-sync` binary: help, exit statuses and what it prints.

mod common;

use common::{CaptureServer, Reply};
use std::process::{Command, Output};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join("hss-cli-test-empty-home");
    Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        .env("HOME", home)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

const KEYS: [(&str, &str); 3] = [
    ("HUAWEICLOUD_SDK_AK", "HPUAL8FWGBJPNSCL4E2X"),
    (
        "HUAWEICLOUD_SDK_SK",
        "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo",
    ),
    ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
];

#[test]
fn help_documents_every_flag() {
    let out = cli(&["sync", "--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--image-type",
        "private_image",
        "shared_image",
        "--region",
        "--endpoint",
        "--project-id",
        "--enterprise-project-id",
        "--region-header",
        "--auth-token",
        "HUAWEICLOUD_SDK_AUTH_TOKEN",
        "--timeout",
        "--max-attempts",
        "--no-retry",
        "--verbose",
        "--emulator",
    ] {
        assert!(help.contains(flag), "sync --help lacks {flag}");
    }
    let out = cli(&["--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    for topic in [
        "HUAWEICLOUD_SDK_AK",
        "~/.huaweicloud/credentials",
        "Exit status",
    ] {
        assert!(help.contains(topic), "--help lacks {topic}");
    }
}

#[tokio::test]
async fn success_prints_the_response_as_json() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &[
                "sync",
                "--endpoint",
                &endpoint,
                "--image-type",
                "shared_image",
                "--enterprise-project-id",
                "all_granted_eps",
            ],
            &KEYS,
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error_code": 0,
            "error_description": "success",
            "request_id": "req-200",
            "attempts": 1
        })
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("request id: req-200"));
    let got = &server.requests()[0];
    assert_eq!(
        got.target,
        format!("/v5/{PROJECT}/image/synchronize?enterprise_project_id=all_granted_eps")
    );
    assert_eq!(got.body, br#"{"image_type": "shared_image"}"#);
}

#[tokio::test]
async fn service_error_prints_status_request_id_code_and_message() {
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        400,
        r#"{"error_code":"HSS.0001","error_msg":"Invalid parameter."}"#,
    ));
    let endpoint = server.endpoint();
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &[
                "sync",
                "--endpoint",
                &endpoint,
                "--image-type",
                "private_image",
            ],
            &KEYS,
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "status: 400",
        "request id: req-400",
        "error code: HSS.0001",
        "error message: Invalid parameter.",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in {stderr}");
    }
}

#[tokio::test]
async fn invalid_input_exits_2_before_sending() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    // (extra flags, environment, what the error must name)
    type Run = (Vec<String>, Vec<(&'static str, &'static str)>, &'static str);
    let runs: Vec<Run> = vec![
        (
            vec!["--project-id".into(), "p".repeat(257)],
            KEYS.to_vec(),
            "project_id",
        ),
        (
            vec!["--enterprise-project-id".into(), "".into()],
            KEYS.to_vec(),
            "enterprise_project_id",
        ),
        (
            vec!["--region-header".into(), "r".repeat(129)],
            KEYS.to_vec(),
            "region",
        ),
        (
            vec!["--timeout".into(), "0".into()],
            KEYS.to_vec(),
            "--timeout",
        ),
        (vec![], vec![], "HUAWEICLOUD_SDK_AK"),
        (
            vec!["--auth-token".into(), "".into()],
            vec![("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)],
            "X-Auth-Token",
        ),
    ];
    for (extra, env, expected) in runs {
        let endpoint = endpoint.clone();
        let out = tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "sync",
                "--endpoint",
                &endpoint,
                "--image-type",
                "private_image",
            ];
            args.extend(extra.iter().map(String::as_str));
            cli(&args, &env)
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    let out = cli(
        &[
            "sync",
            "--region",
            "xx-nowhere-1",
            "--image-type",
            "private_image",
        ],
        &KEYS,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--endpoint"));
    let out = cli(
        &[
            "sync",
            "--endpoint",
            "http://127.0.0.1:9",
            "--image-type",
            "public_image",
        ],
        &KEYS,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects an unknown image type"
    );
    assert!(
        server.requests().is_empty(),
        "bad input reached the network"
    );
}

#[tokio::test]
async fn retries_are_logged_without_secrets_and_can_be_turned_off() {
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        503,
        r#"{"error_code":"APIG.0202","error_msg":"busy"}"#,
    ));
    let endpoint = server.endpoint();
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &[
                "-vv",
                "sync",
                "--endpoint",
                &endpoint,
                "--image-type",
                "private_image",
            ],
            &KEYS,
        )
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("retrying") && stderr.contains("503"),
        "{stderr}"
    );
    assert!(stderr.contains("attempt=2"), "{stderr}");
    assert!(!stderr.contains(KEYS[1].1), "the SK leaked into the logs");
    assert_eq!(server.requests().len(), 2);

    server.reply_with(Reply::json(
        503,
        r#"{"error_code":"APIG.0202","error_msg":"busy"}"#,
    ));
    let endpoint = server.endpoint();
    let out = tokio::task::spawn_blocking(move || {
        cli(
            &[
                "sync",
                "--endpoint",
                &endpoint,
                "--image-type",
                "private_image",
                "--no-retry",
            ],
            &KEYS,
        )
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("status: 503") && stderr.contains("attempts: 1"),
        "{stderr}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn main_job_runs_on_the_embedded_emulator() {
    let out = cli(
        &[
            "sync",
            "--emulator",
            "--image-type",
            "shared_image",
            "--region-header",
            "cn-north-4",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error_code"], 0);
    assert!(
        stderr.contains("200 accepted auth=SDK-HMAC-SHA256"),
        "{stderr}"
    );
    assert!(
        stderr.contains("signature verified over the canonical request"),
        "{stderr}"
    );
    assert!(stderr.contains("region:cn-north-4"), "{stderr}");
    assert!(stderr.contains(r#""shared_image":{"count":1"#), "{stderr}");
}
