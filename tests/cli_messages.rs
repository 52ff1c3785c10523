//! What a CLI user reads when something is off: half a key pair, a malformed region, a refused
//! IAM token, a token beside keys, a project ID from the environment used with a region, the
//! help's credential chain, and `--image-type` in any case.
#![cfg(feature = "cli")]

mod common;

use common::{CaptureServer, Reply, TempDir};
use std::process::{Command, Output};

const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "HPUAL8FWGBJPNSCL4E2X";
const SK: &str = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo";

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

/// [`cli`] on a blocking thread (the capture server needs the test's runtime).
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

#[test]
fn half_a_key_pair_is_named_in_one_short_line() {
    for (set, value, message) in [
        (
            "HUAWEICLOUD_SDK_AK",
            AK,
            "HUAWEICLOUD_SDK_SK is missing (HUAWEICLOUD_SDK_AK is set)",
        ),
        (
            "HUAWEICLOUD_SDK_SK",
            SK,
            "HUAWEICLOUD_SDK_AK is missing (HUAWEICLOUD_SDK_SK is set)",
        ),
    ] {
        let out = cli(
            &["sync", "--endpoint", "http://127.0.0.1:9"],
            &[(set, value)],
        );
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr(&out), format!("error: no credentials: {message}\n"));
    }
}

#[test]
fn a_malformed_region_is_explained_without_an_override_variable() {
    let env = [("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)];
    for (region, what) in [
        ("https://user:secret-pw@hss.example", "is a URL"),
        ("cn-north-4,cn-east-3", "is a list"),
        ("", "is empty"),
        ("Frankfurt (EU)", "is not a region name"),
    ] {
        let out = cli(&["sync", "--region", region], &env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(what), "{region:?}: {err}");
        assert!(
            err.contains("a region is a name such as cn-north-4"),
            "{err}"
        );
        assert!(err.contains("`hss-image-sync regions`"), "{err}");
        assert!(!err.contains("HUAWEICLOUD_SDK_REGION_HSS_"), "{err}");
        assert!(!err.contains("secret-pw"), "{err}");
    }
    // A well-formed name HSS does not list still gets its override variable.
    let out = cli(&["sync", "--region", "xx-nowhere-1"], &env);
    assert!(
        stderr(&out).contains("HUAWEICLOUD_SDK_REGION_HSS_XX_NOWHERE_1"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_refused_iam_token_is_called_invalid_or_expired() {
    let server = CaptureServer::start(0).await;
    let refused = r#"{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information: decrypt token fail"}"#;
    server.reply_with(Reply::json(401, refused));
    let endpoint = server.endpoint();
    let out = cli_async(
        &["registries", "list", "--endpoint", &endpoint],
        &[
            ("HUAWEICLOUD_SDK_AUTH_TOKEN", "an-expired-iam-token-0001"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
        ],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hint: the gateway refused the IAM token: it is invalid or has expired"),
        "{err}"
    );
    assert!(!err.contains("SK belongs to the AK"), "{err}");
    assert!(!err.contains("an-expired-iam-token-0001"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_token_beside_the_profiles_keys_is_noted() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let dir = TempDir::new("cli-token-beside-profile");
    let profile = dir.write_str(
        "credentials",
        &format!("[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PROJECT}\n"),
    );
    let token = dir.write_str("token", "iam-token-from-file-0001\n");
    let env = [("HUAWEICLOUD_SDK_CREDENTIALS_FILE", profile.as_str())];
    // The token from a file, the keys from the profile: the token is used, and said so.
    let out = cli_async(
        &[
            "registries",
            "list",
            "--endpoint",
            &endpoint,
            "--auth-token-file",
            &token,
        ],
        &env,
    )
    .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "note: both an IAM token and an AK/SK (the profile file {profile}) are configured: \
             using the IAM token"
        )),
        "{err}"
    );
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("X-Auth-Token"),
        Some("iam-token-from-file-0001")
    );
    assert_eq!(sent.header("Authorization"), None);

    // Without keys anywhere, no note.
    let out = cli_async(
        &[
            "registries",
            "list",
            "--endpoint",
            &endpoint,
            "--auth-token-file",
            &token,
        ],
        &[("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("note: both"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_project_id_from_the_environment_with_a_region_is_named() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let env = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
        ("HUAWEICLOUD_SDK_REGION_HSS_CN_NORTH_4", endpoint.as_str()),
    ];
    let out = cli_async(&["registries", "list", "--region", "cn-north-4"], &env).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "note: project ID {PROJECT} (from HUAWEICLOUD_SDK_PROJECT_ID) is used for region \
             cn-north-4; project IDs are per region"
        )),
        "{err}"
    );
    assert!(
        server.requests()[0]
            .path()
            .starts_with(&format!("/v5/{PROJECT}/"))
    );

    // --project-id given, or no region: nothing to say.
    for args in [
        &[
            "registries",
            "list",
            "--region",
            "cn-north-4",
            "--project-id",
            PROJECT,
        ][..],
        &["registries", "list", "--endpoint", &endpoint][..],
    ] {
        let out = cli_async(args, &env).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("project IDs are per region"),
            "{}",
            stderr(&out)
        );
    }
}

#[tokio::test]
async fn the_image_type_is_taken_in_any_case() {
    let server = CaptureServer::start(0).await;
    let endpoint = server.endpoint();
    let env = [
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
    ];
    for (given, sent) in [
        ("PRIVATE_IMAGE", "private_image"),
        ("Shared_Image", "shared_image"),
    ] {
        let out = cli_async(
            &["sync", "--endpoint", &endpoint, "--image-type", given],
            &env,
        )
        .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let body = server.requests().last().unwrap().body.clone();
        assert_eq!(body, format!(r#"{{"image_type": "{sent}"}}"#).as_bytes());
    }
    let out = cli(
        &[
            "sync",
            "--endpoint",
            &endpoint,
            "--image-type",
            "public_image",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("image_type"), "{}", stderr(&out));
}

#[test]
fn help_lists_the_credential_chain_and_whoami_only_what_it_does() {
    let out = cli(&["--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    // README's table, in its order.
    let chain = [
        "HUAWEICLOUD_OIDC_PROVIDER_URN",
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_IDP_ID",
        "~/.huaweicloud/credentials",
        "ECS metadata",
        "HC_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    let at: Vec<usize> = chain
        .iter()
        .map(|topic| {
            help.find(topic)
                .unwrap_or_else(|| panic!("--help lacks {topic}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {help}");
    assert!(help.contains("HUAWEICLOUD_SDK_AUTH_TOKEN"), "{help}");

    let out = cli(&["whoami", "--help"], &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(help.contains("--timeout"), "{help}");
    for offered in ["--max-attempts", "--no-retry", "show what it verified"] {
        assert!(
            !help.contains(offered),
            "whoami --help offers {offered}: {help}"
        );
    }
    // Still accepted, as by every other command, for scripts that pass the same flags.
    let out = cli(&["whoami", "--emulator", "--max-attempts", "2"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}
