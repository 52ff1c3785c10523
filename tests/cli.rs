//! The `hss-image-sync` binary: help, exit statuses and what it prints.

mod common;

use common::{CaptureServer, Reply};
use std::process::{Command, Output};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join("hss-cli-test-empty-home");
    Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
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
            "attempts": 1,
            "project_id": PROJECT,
            "operation": "run_image_synchronize"
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
    // In JSON mode (the default) the error is a JSON object on stdout too.
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["status"], 400);
    assert_eq!(error["error"]["error_code"], "HSS.0001");
    assert_eq!(error["error"]["request_id"], "req-400");
    assert_eq!(error["error"]["retryable"], false);
    assert_eq!(error["error"]["exit_status"], 1);
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
    // A 503 after every retry: retry later.
    assert_eq!(out.status.code(), Some(3));
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

/// Hostile server text: terminal escapes (ESC, CSI, OSC, BEL, CR, C1) and echoed secrets in
/// every field the CLI prints reach the terminal escaped and masked.
#[tokio::test]
async fn server_text_is_escaped_and_secrets_masked_before_printing() {
    let sk = KEYS[1].1;
    let server = CaptureServer::start(0).await;
    let hostile = "\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m";
    let body = serde_json::json!({
        "error_code": format!("APIG.0301{hostile}{sk}"),
        "error_msg": format!("bad {hostile} {sk}"),
        "encoded_authorization_message": format!("enc{hostile}{sk}"),
    });
    let mut reply = Reply::json(401, &body.to_string());
    reply.headers[1].1 = format!("req-\u{9b}1m-{sk}");
    server.reply_with(reply);
    let endpoint = server.endpoint();
    let args = [
        "sync",
        "--endpoint",
        &endpoint,
        "--image-type",
        "private_image",
    ];
    let out = {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&args, &KEYS)
        })
        .await
        .unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(sk), "{stderr}");
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(
            !stderr.contains(c),
            "raw U+{:04X} printed: {stderr:?}",
            c as u32
        );
    }
    assert!(stderr.contains("APIG.0301\\u{1b}[2J"), "{stderr}");
    assert!(
        stderr.contains("request id: req-\\u{9b}1m-******"),
        "{stderr}"
    );

    // A 200 whose description carries the same: stdout stays valid JSON, without raw controls.
    let description = format!("done{hostile}{sk}");
    server.reply_with(Reply::json(
        200,
        &serde_json::json!({"error_code": 0, "error_description": description}).to_string(),
    ));
    let out = {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&args, &KEYS)
        })
        .await
        .unwrap()
    };
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(
            !stdout.contains(c),
            "raw U+{:04X} printed: {stdout:?}",
            c as u32
        );
    }
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["error_description"],
        format!("done\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m******")
    );
}

/// With an IAM token the project ID comes from `HUAWEICLOUD_SDK_PROJECT_ID`, as with keys.
#[tokio::test]
async fn token_auth_takes_the_project_id_from_the_environment() {
    let server = CaptureServer::start(0).await;
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
            &[
                ("HUAWEICLOUD_SDK_AUTH_TOKEN", "iam-token-value"),
                ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = &server.requests()[0];
    assert_eq!(got.path(), format!("/v5/{PROJECT}/image/synchronize"));
    assert_eq!(got.header("X-Auth-Token"), Some("iam-token-value"));
}

/// A credentials file that is a FIFO, a device or huge is refused at once (exit 2).
#[cfg(unix)]
#[test]
fn credential_files_that_are_not_small_regular_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("hss-cli-cred-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let mut files = vec![("/dev/zero".to_owned(), "not a regular file")];
    if made.is_ok_and(|s| s.success()) {
        files.push((fifo.display().to_string(), "not a regular file"));
    }
    let big = dir.join("big");
    std::fs::write(&big, vec![b'#'; 65 * 1024]).unwrap();
    files.push((big.display().to_string(), "larger than"));
    for (file, why) in files {
        let started = std::time::Instant::now();
        let out = cli(
            &[
                "sync",
                "--region",
                "cn-north-4",
                "--image-type",
                "private_image",
                "--timeout",
                "3",
            ],
            &[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", file.as_str())],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(why), "{file}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{file}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A group- or world-readable credentials file works, with one warning.
#[cfg(unix)]
#[tokio::test]
async fn a_credentials_file_others_can_read_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("hss-cli-cred-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        format!(
            "[basic]\nak = {}\nsk = {}\nproject_id = {PROJECT}\n",
            KEYS[0].1, KEYS[1].1
        ),
    )
    .unwrap();
    let server = CaptureServer::start(0).await;
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let endpoint = server.endpoint();
        let path = file.display().to_string();
        let out = tokio::task::spawn_blocking(move || {
            cli(
                &[
                    "sync",
                    "--endpoint",
                    &endpoint,
                    "--image-type",
                    "private_image",
                ],
                &[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path.as_str())],
            )
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("chmod 600"),
            warned,
            "mode {mode:o}: {stderr}"
        );
        assert!(!stderr.contains(KEYS[1].1));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The emulator's per-request log never blocks request handling: with its stdout never read
/// after the first line (the pipe fills after a few hundred lines), requests are still answered.
#[tokio::test]
async fn the_emulator_keeps_answering_when_nobody_reads_its_log() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let endpoint = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let addr = endpoint.strip_prefix("http://").unwrap().to_owned();
    // Each request logs a line of about 150 bytes: 3,000 of them are far beyond a pipe's 64 KiB.
    for i in 0..3_000 {
        let request = format!(
            "GET /v5/{PROJECT}/image/synchronize?attempt={i} HTTP/1.1\r\nHost: {addr}\r\n\
             Connection: close\r\n\r\n"
        );
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            std::io::Result::Ok(answer)
        })
        .await;
        let status =
            answer.map(|a| a.map(|a| String::from_utf8_lossy(&a[..12.min(a.len())]).into_owned()));
        assert!(
            matches!(&status, Ok(Ok(line)) if line.starts_with("HTTP/1.1 4")),
            "request {i}: {status:?}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
}

/// An emulator clock offset that leaves the representable dates is refused at startup.
#[test]
fn the_emulator_refuses_a_clock_offset_beyond_the_calendar() {
    for offset in [
        "9223372036854775807",
        "-9223372036854775808",
        "-2000000000",
        "300000000000",
    ] {
        let out = cli(
            &[
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--clock-offset",
                offset,
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{offset}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--clock-offset"));
    }
}

/// `sync --endpoint ENDPOINT --image-type private_image`, through [`cli_async`].
async fn sync_private(endpoint: &str, env: &[(&str, &str)]) -> Output {
    cli_async(
        &[
            "sync",
            "--endpoint",
            endpoint,
            "--image-type",
            "private_image",
        ],
        env,
    )
    .await
}

/// Runs the CLI on a blocking thread (the capture server needs the test's runtime).
async fn cli_async(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli(&args, &env)
    })
    .await
    .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--dry-run` prints the signed request, tokens masked, and sends nothing.
#[tokio::test]
async fn dry_run_prints_the_signed_request_and_sends_nothing() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let mut env = KEYS.to_vec();
    env.push((
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "temporary-token-value-0001",
    ));
    let out = cli_async(
        &[
            "sync",
            "--dry-run",
            "--endpoint",
            &endpoint,
            "--image-type",
            "shared_image",
            "--enterprise-project-id",
            "0",
        ],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.starts_with(&format!(
            "POST {endpoint}/v5/{PROJECT}/image/synchronize?enterprise_project_id=0\n"
        )),
        "{shown}"
    );
    for expected in [
        "X-Sdk-Date: ",
        "Authorization: SDK-HMAC-SHA256 Access=",
        ", SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token, Signature=******\n",
        "X-Security-Token: ******",
        format!("X-Project-Id: {PROJECT}\n").as_str(),
        "\n\n{\"image_type\": \"shared_image\"}",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    assert!(!shown.contains("temporary-token-value-0001"));
    assert!(server.requests().is_empty(), "a dry run sent a request");
}

/// Exit statuses a script can act on: 3 when nothing answered (worth retrying later).
#[test]
fn no_answer_exits_3_with_the_root_cause_in_the_retry_notices() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = cli(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "private_image",
            "--max-attempts",
            "2",
        ],
        &KEYS,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    // Without -v, one plain line per retry, with the root cause, and no colour codes.
    let notice = err
        .lines()
        .find(|l| l.starts_with("warning: retrying in "))
        .unwrap_or_else(|| panic!("no retry notice in {err}"));
    assert!(
        notice.contains("refused") && notice.ends_with("(attempt 2 of 2)"),
        "{notice}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// A 503 reads as unavailable, and its retry notice says so.
#[tokio::test]
async fn retries_of_unavailable_answers_are_announced_in_one_line() {
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        503,
        r#"{"error_code":"APIG.0503","error_msg":"busy"}"#,
    ));
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &server.endpoint(),
            "--image-type",
            "private_image",
        ],
        &KEYS,
    )
    .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines().any(|l| l.starts_with("warning: retrying in ")
            && l.ends_with("after HTTP 503 (unavailable) (attempt 2 of 3)")),
        "{err}"
    );
    server.reply_with(Reply::json(
        503,
        r#"{"error_code":"APIG.0503","error_msg":"busy"}"#,
    ));
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &server.endpoint(),
            "--image-type",
            "private_image",
            "--no-retry",
        ],
        &KEYS,
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "retry later");
    assert!(
        stderr(&out).contains("error: the service is unavailable"),
        "{}",
        stderr(&out)
    );
}

/// A refused signature gets a hint naming where the keys came from; -vv shows what was signed.
#[tokio::test]
async fn a_refused_signature_gets_a_hint_and_vv_shows_the_canonical_request() {
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        401,
        r#"{"error_code":"APIG.0301","error_msg":"verify aksk signature fail"}"#,
    ));
    let mut env = KEYS.to_vec();
    env.push((
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "temporary-token-value-0002",
    ));
    let out = cli_async(
        &[
            "sync",
            "-vv",
            "--endpoint",
            &server.endpoint(),
            "--image-type",
            "private_image",
        ],
        &env,
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hint: the gateway refused the signature. The keys came from: environment"),
        "{err}"
    );
    assert!(err.contains("canonical request:\nPOST\n/v5/"), "{err}");
    assert!(err.contains("x-security-token:******"), "{err}");
    assert!(err.contains("string to sign:\nSDK-HMAC-SHA256\n"), "{err}");
    assert!(!err.contains("temporary-token-value-0002"));
    assert!(!err.contains(KEYS[1].1));
}

/// Regions: any case, a near miss suggested, the list printed, and HUAWEICLOUD_SDK_REGION read.
#[tokio::test]
async fn regions_are_forgiving_and_listed() {
    let out = cli(&["regions"], &[]);
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        list.contains(&serde_json::json!({
            "region": "cn-north-4",
            "endpoint": "https://hss.cn-north-4.myhuaweicloud.com"
        })),
        "{list:?}"
    );
    assert_eq!(list.len(), 32);
    let out = cli(&["regions", "--output", "text"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l == "endpoint=https://hss.cn-north-4.myhuaweicloud.com region=cn-north-4"),
        "{text}"
    );

    let out = cli(
        &[
            "sync",
            "--region",
            "cn-nrth-4",
            "--image-type",
            "private_image",
        ],
        &KEYS,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean cn-north-4?"),
        "{}",
        stderr(&out)
    );

    // Any case, from the environment, to an overridden endpoint.
    let server = CaptureServer::start(0).await;
    let mut env = KEYS.to_vec();
    let endpoint = server.endpoint();
    env.push(("HUAWEICLOUD_SDK_REGION", "CN-North-4"));
    env.push(("HUAWEICLOUD_SDK_REGION_HSS_CN_NORTH_4", &endpoint));
    let out = cli_async(&["sync", "--image-type", "private_image"], &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 1);
}

/// Tokens off the command line: from a file or standard input; the environment's IAM token is
/// ignored by --emulator; both AK/SK and a token in the environment say which is used.
#[tokio::test]
async fn tokens_come_from_files_and_the_choice_is_explained() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let dir = std::env::temp_dir().join(format!("hss-cli-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "  iam-token-from-file\n").unwrap();
    let file = file.display().to_string();
    let project = [("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)];
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "private_image",
            "--auth-token-file",
            &file,
        ],
        &project,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.requests()[0].header("X-Auth-Token"),
        Some("iam-token-from-file")
    );

    // Standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args([
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "private_image",
            "--auth-token-file",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"iam-token-from-stdin\n")
            .unwrap();
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.requests()[1].header("X-Auth-Token"),
        Some("iam-token-from-stdin")
    );

    // Both configured: the token wins, and the CLI says so.
    let mut env = KEYS.to_vec();
    env.push(("HUAWEICLOUD_SDK_AUTH_TOKEN", "iam-token-from-env"));
    let out = sync_private(&endpoint, &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("using the IAM token"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests()[2].header("Authorization"), None);

    // --emulator ignores a token from the environment.
    let out = cli_async(
        &["sync", "--emulator", "--image-type", "private_image"],
        &[("HUAWEICLOUD_SDK_AUTH_TOKEN", "iam-token-from-env")],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("the IAM token is ignored"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// whoami: where the keys come from, masked, and the project with how it was found.
#[test]
fn whoami_shows_the_identity_without_secrets() {
    let out = cli(
        &[
            "whoami",
            "--output",
            "text",
            "--endpoint",
            "http://127.0.0.1:9",
            "--signing-algorithm",
            "SDK-HMAC-SM3",
        ],
        &KEYS,
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    for expected in [
        "credentials: environment",
        "access key: HPUA************4E2X",
        "signing: SDK-HMAC-SM3",
        "endpoint: http://127.0.0.1:9",
        &format!("project: {PROJECT} (carried by the credentials)"),
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    assert!(!shown.contains(KEYS[1].1));
}

/// `emulator --listen localhost:0` resolves the name.
#[test]
fn the_emulator_listens_on_a_name() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        .args(["emulator", "--listen", "localhost:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let endpoint = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_default();
    let addr: std::net::SocketAddr = endpoint
        .parse()
        .unwrap_or_else(|e| panic!("{first:?}: {e}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    // A name with a port out of range is refused as invalid input.
    let out = cli(&["emulator", "--listen", "localhost:99999"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

/// `emulator --sk-file` takes the secret key from a file (or standard input), never argv.
#[test]
fn the_emulator_takes_its_secret_key_from_a_file() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("hss-cli-sk-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sk");
    std::fs::write(&file, "emulator-secret-from-file\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--ak",
            "FILEAK000001",
            "--sk-file",
        ])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let endpoint = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let out = cli(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "private_image",
        ],
        &[
            ("HUAWEICLOUD_SDK_AK", "FILEAK000001"),
            ("HUAWEICLOUD_SDK_SK", "emulator-secret-from-file"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // --ak without a secret key is refused.
    let out = cli(
        &["emulator", "--listen", "127.0.0.1:0", "--ak", "LONELY"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// HTTP_PROXY is honoured (as the README says): the request goes to the proxy, in absolute form,
/// signed for the endpoint's host; no name is looked up.
#[tokio::test]
async fn the_proxy_from_the_environment_carries_the_call() {
    let proxy = CaptureServer::start(0).await;
    let mut env = KEYS.to_vec();
    let proxy_url = proxy.endpoint();
    env.push(("HTTP_PROXY", &proxy_url));
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            "http://hss.proxied.test",
            "--image-type",
            "private_image",
        ],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let got = &proxy.requests()[0];
    assert_eq!(
        got.target,
        format!("http://hss.proxied.test/v5/{PROJECT}/image/synchronize")
    );
    assert_eq!(got.header("Host"), Some("hss.proxied.test"));
}

/// NO_PROXY is honoured too (as the README says): a host it names is reached directly, and
/// the proxy sees nothing.
#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let proxy = CaptureServer::start(0).await;
    let direct = CaptureServer::start(0).await;
    let mut env = KEYS.to_vec();
    let proxy_url = proxy.endpoint();
    env.push(("HTTP_PROXY", &proxy_url));
    env.push(("NO_PROXY", "127.0.0.1"));
    let endpoint = direct.endpoint();
    let out = sync_private(&endpoint, &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(direct.requests().len(), 1);
    assert!(proxy.requests().is_empty());
}

/// A 200 whose `error_code` is not 0 exits 1 (README, exit statuses), with the code and the
/// description.
#[tokio::test]
async fn a_failed_synchronization_in_a_200_exits_1() {
    let server = CaptureServer::start(0).await;
    server.reply_with(Reply::json(
        200,
        r#"{"error_code":7,"error_description":"image list busy"}"#,
    ));
    let endpoint = server.endpoint();
    let out = sync_private(&endpoint, &KEYS).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("synchronization failed")
            && err.contains("error code: 7")
            && err.contains("image list busy"),
        "{err}"
    );
}

/// Colour only on a terminal, and never with NO_COLOR: run under a pseudo-terminal (`script`),
/// `-vv` logs are coloured unless NO_COLOR is set.
#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let run = |no_color: bool| {
        let command = format!(
            "{} sync -vv --no-retry --endpoint http://127.0.0.1:9 --image-type private_image",
            env!("CARGO_BIN_EXE_hss-image-sync")
        );
        let mut cmd = Command::new("script");
        cmd.env_clear()
            .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .envs(KEYS.iter().copied())
            .args(["-qec", &command, "/dev/null"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let coloured = run(false);
    assert!(
        coloured.contains("\u{1b}["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = run(true);
    assert!(
        plain.contains("sending") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
}

// --- Limits that hold on every path ---------------------------------------------------------

/// `--timeout` covers fetching the credentials and looking the project up: a hanging STS ends
/// `whoami` and `sync` (without `--project-id`) at the deadline, not after STS's own 30 s. The
/// bound is generous: it is a bound, not a timing benchmark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_covers_fetching_credentials_and_the_project_lookup() {
    let (hanging, _server) = common::silent_server().await;
    let env = [
        (
            "HUAWEICLOUD_OIDC_PROVIDER_URN",
            "iam::0a1b:identity_provider:k8s",
        ),
        ("HUAWEICLOUD_OIDC_AGENCY_URN", "iam::0a1b:agency:reader"),
        ("HUAWEICLOUD_OIDC_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
        ("HUAWEICLOUD_SDK_STS_ENDPOINT", hanging.as_str()),
    ];
    let connection = [
        "--region",
        "cn-north-4",
        "--endpoint",
        hanging.as_str(),
        "--iam-endpoint",
        hanging.as_str(),
        "--timeout",
        "3",
    ];
    for command in [&["whoami"][..], &["sync"], &["sync", "--dry-run"]] {
        let args: Vec<&str> = command.iter().chain(&connection).copied().collect();
        let started = std::time::Instant::now();
        let out = cli_async(&args, &env).await;
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(3), "{command:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("total timeout of 3s"),
            "{}",
            stderr(&out)
        );
        assert!(
            took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_secs(10),
            "{command:?} took {took:?}"
        );
    }
}

/// A security token with a line break is refused before anything is signed, shown or sent,
/// from the environment and from a profile file's continuation line; `--dry-run -vv` checks
/// the credentials as a call does.
#[tokio::test]
async fn a_token_with_a_line_break_is_refused_before_anything_is_signed_or_shown() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let dir = std::env::temp_dir().join(format!("hss-cli-broken-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("credentials");
    std::fs::write(
        &profile,
        format!(
            "[basic]\nak = {}\nsk = {}\nsecurity_token = TOKEN-FIRST\n  TOKEN-SECOND\n",
            KEYS[0].1, KEYS[1].1
        ),
    )
    .unwrap();
    let profile = profile.display().to_string();
    let mut from_env = KEYS.to_vec();
    from_env.push((
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "TOKEN-FIRST\r\nTOKEN-SECOND",
    ));
    let from_profile = [("HUAWEICLOUD_SDK_CREDENTIALS_FILE", profile.as_str())];
    for (env, field) in [
        (&from_env[..], "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
        (&from_profile[..], "security_token"),
    ] {
        for extra in [
            &["--project-id", PROJECT][..],
            &["--region", "cn-north-4", "--iam-endpoint", &endpoint],
        ] {
            let mut args = vec!["sync", "--endpoint", &endpoint, "--dry-run", "-vv"];
            args.extend_from_slice(extra);
            let out = cli_async(&args, env).await;
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(err.contains(field) && err.contains("U+000"), "{err}");
            assert!(
                !err.contains("TOKEN-SECOND") && !err.contains("canonical request"),
                "{err}"
            );
            // Only the error, as JSON: no request shown.
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(shown["error"]["exit_status"], 2);
            assert!(!String::from_utf8_lossy(&out.stdout).contains("TOKEN-SECOND"));
        }
    }
    assert!(server.requests().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--iam-endpoint` and `HUAWEICLOUD_SDK_IAM_ENDPOINT` are checked as `--endpoint` is: a tab
/// is refused (the URL parser would drop it and send the signed request to what is left),
/// user info is refused and never echoed.
#[tokio::test]
async fn the_iam_endpoint_is_checked_like_the_endpoint() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let port = server.port.to_string();
    let tab = format!("http://127.0.0.1:{}\t{}", &port[..1], &port[1..]);
    let password = format!("http://admin:IAM-PASSWORD-1@127.0.0.1:{port}");
    let keys = &KEYS[..2];
    let connection = ["sync", "--endpoint", &endpoint, "--region", "cn-north-4"];
    for (flag, env_value, expected) in [
        (Some(tab.as_str()), None, "U+0009"),
        (Some(password.as_str()), None, "user info"),
        (None, Some(tab.as_str()), "U+0009"),
        (None, Some(password.as_str()), "user info"),
    ] {
        let mut args = connection.to_vec();
        if let Some(iam) = flag {
            args.extend(["--iam-endpoint", iam]);
        }
        let mut env = keys.to_vec();
        if let Some(iam) = env_value {
            env.push(("HUAWEICLOUD_SDK_IAM_ENDPOINT", iam));
        }
        let out = cli_async(&args, &env).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(
            err.contains("iam_endpoint") || err.contains("HUAWEICLOUD_SDK_IAM_ENDPOINT"),
            "{err}"
        );
        assert!(!err.contains("IAM-PASSWORD-1"), "{err}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

/// A project ID from IAM holding a line break is refused before it is logged or used: it
/// cannot forge a log line at -vv, and HSS is not called with it.
#[tokio::test]
async fn an_iam_project_id_with_a_line_break_is_refused_before_it_is_logged() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    server.reply_with(Reply::json(
        200,
        r#"{"projects": [{"id": "0a1b2c\nFORGED-LINE level=INFO all is well", "name": "cn-north-4"}]}"#,
    ));
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--region",
            "cn-north-4",
            "--iam-endpoint",
            &endpoint,
            "-vv",
        ],
        &KEYS[..2],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("project_id") && err.contains("U+000A"),
        "{err}"
    );
    assert!(!err.lines().any(|l| l.starts_with("FORGED-LINE")), "{err}");
    assert_eq!(server.requests().len(), 1, "only the IAM lookup");
}

/// Half a megabyte of error message is not printed whole: it is cut, and the cut is said.
#[tokio::test]
async fn a_long_error_message_is_cut_on_the_terminal() {
    let server = CaptureServer::start(0).await;
    let body = serde_json::json!({
        "error_code": "HSS.1001",
        "error_msg": format!("{}END-OF-MESSAGE", "x".repeat(500_000)),
    });
    server.reply_with(Reply::json(400, &body.to_string()));
    let out = sync_private(&server.endpoint(), &KEYS).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", &err[..err.len().min(500)]);
    assert!(err.len() < 16 * 1024, "{} bytes printed", err.len());
    assert!(
        err.contains("[cut: the first 4096 of"),
        "{}",
        &err[err.len().saturating_sub(300)..]
    );
    assert!(!err.contains("END-OF-MESSAGE"));
}

/// A CA bundle whose certificates do not parse is refused when the client is configured, not
/// at the first handshake.
#[tokio::test]
async fn a_ca_bundle_that_does_not_parse_is_refused_at_configuration() {
    let server = CaptureServer::start(0).await;
    let dir = std::env::temp_dir().join(format!("hss-cli-bad-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("ca.pem");
    std::fs::write(
        &bundle,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let bundle = bundle.display().to_string();
    // An http endpoint: no handshake would ever have found it.
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &server.endpoint(),
            "--image-type",
            "private_image",
            "--ca-bundle",
            &bundle,
        ],
        &KEYS,
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("X.509") && err.contains("ca.pem"), "{err}");
    assert!(server.requests().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A flag naming a file and the environment variable of the same value together: the flag
/// wins, with a note (not a usage error). Both given on the command line is still one.
#[tokio::test]
async fn a_file_flag_wins_over_its_environment_variable() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let dir = std::env::temp_dir().join(format!("hss-cli-flag-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "iam-token-from-file\n").unwrap();
    let file = file.display().to_string();
    let args = [
        "sync",
        "--endpoint",
        &endpoint,
        "--image-type",
        "private_image",
        "--auth-token-file",
        &file,
    ];
    let out = cli_async(
        &args,
        &[
            ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
            ("HUAWEICLOUD_SDK_AUTH_TOKEN", "iam-token-from-env"),
        ],
    )
    .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l == "note: --auth-token-file wins over HUAWEICLOUD_SDK_AUTH_TOKEN"),
        "{err}"
    );
    assert_eq!(
        server.requests()[0].header("X-Auth-Token"),
        Some("iam-token-from-file")
    );
    let mut both = args.to_vec();
    both.extend(["--auth-token", "iam-token-on-the-command-line"]);
    let out = cli_async(&both, &[("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("iam-token-on-the-command-line"));
    assert_eq!(server.requests().len(), 1);

    // The emulator's --sk-file and HSS_EMULATOR_SK.
    let sk = dir.join("sk");
    std::fs::write(&sk, "emulator-secret-from-file\n").unwrap();
    let (endpoint, note, mut child) = start_emulator(
        &[
            "--ak",
            "FILEAK000001",
            "--sk-file",
            &sk.display().to_string(),
        ],
        &[("HSS_EMULATOR_SK", "emulator-secret-from-env")],
    );
    let out = cli_async(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "private_image",
        ],
        &[
            ("HUAWEICLOUD_SDK_AK", "FILEAK000001"),
            ("HUAWEICLOUD_SDK_SK", "emulator-secret-from-file"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
        ],
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(note, "note: --sk-file wins over HSS_EMULATOR_SK");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts `emulator --listen 127.0.0.1:0` with `args`: its endpoint, the first line it printed
/// on stderr, and the process (to kill).
fn start_emulator(args: &[&str], env: &[(&str, &str)]) -> (String, String, std::process::Child) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"))
        .env_clear()
        .envs(env.iter().copied())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let mut note = String::new();
    let mut errors = std::io::BufReader::new(child.stderr.take().unwrap());
    errors.read_line(&mut note).unwrap();
    // The rest is read (and dropped) until the process ends: it must not write into a closed
    // pipe.
    std::thread::spawn(move || std::io::copy(&mut errors, &mut std::io::sink()));
    let endpoint = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first:?} {note:?}"))
        .to_owned();
    (endpoint, note.trim_end().to_owned(), child)
}

/// `emulator --tls --ca-out FILE` replaces FILE with a new file: a symbolic link planted there
/// is replaced, its target left intact.
#[cfg(unix)]
#[test]
fn the_ca_certificate_never_goes_through_a_planted_link() {
    let dir = std::env::temp_dir().join(format!("hss-cli-ca-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("precious");
    std::fs::write(&target, "precious content\n").unwrap();
    let link = dir.join("ca.pem");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (endpoint, _, mut child) =
        start_emulator(&["--tls", "--ca-out", &link.display().to_string()], &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(endpoint.starts_with("https://"), "{endpoint}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "precious content\n"
    );
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_file(), "still a link");
    let pem = std::fs::read_to_string(&link).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    // Nothing else left behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.pem", "precious"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
