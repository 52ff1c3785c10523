//! The CLI against a server that verifies signatures with Huawei's official Python SDK
//! (tests/oracle/verify_server.py): accepted for varied project IDs, enterprise project IDs,
//! region headers and security tokens; refused with a wrong key.
//!
//! Needs the oracle venv: `HSS_ORACLE_PYTHON` (set by `cargo xtask ci`), else
//! `target/oracle-venv/bin/python` if it exists. Without either the test says so and passes,
//! unless `HSS_REQUIRE_ORACLE=1` (also set by `cargo xtask ci`) makes that a failure.

mod common;

use common::oracle::oracle_python;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const AK: &str = "HPUAL8FWGBJPNSCL4E2X";
const SK: &str = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo";

struct VerifyServer {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl VerifyServer {
    fn start(python: &Path, security_token: Option<&str>, name: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let log =
            std::env::temp_dir().join(format!("hss-oracle-{}-{name}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new(python);
        cmd.arg(root.join("tests/oracle/verify_server.py"))
            .args([
                "--ak",
                AK,
                "--sk",
                SK,
                "--port",
                "0",
                "--max-skew-seconds",
                "900",
                "--log",
            ])
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(token) = security_token {
            cmd.args(["--security-token", token]);
        }
        let mut child = cmd.spawn().expect("start verify_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("verify_server.py said {line:?}"));
        VerifyServer {
            child,
            endpoint: format!("http://{address}"),
            log,
        }
    }

    fn verdicts(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for VerifyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

struct Case {
    project_id: &'static str,
    enterprise_project_id: Option<&'static str>,
    region_header: Option<&'static str>,
    security_token: Option<&'static str>,
    image_type: &'static str,
}

fn run_cli(server: &VerifyServer, case: &Case, sk: &str) -> std::process::Output {
    let home = std::env::temp_dir().join("hss-oracle-empty-home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"));
    cmd.env_clear()
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", &home)
        .env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", sk)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", case.project_id)
        .args([
            "sync",
            "--endpoint",
            &server.endpoint,
            "--image-type",
            case.image_type,
        ]);
    if let Some(token) = case.security_token {
        cmd.env("HUAWEICLOUD_SDK_SECURITY_TOKEN", token);
    }
    if let Some(ep) = case.enterprise_project_id {
        cmd.args(["--enterprise-project-id", ep]);
    }
    if let Some(region) = case.region_header {
        cmd.args(["--region-header", region]);
    }
    cmd.output().expect("run hss-image-sync")
}

const LONG_TOKEN: &str = concat!(
    "gQpJb3JpZ2luX2tleV9pZBI0Y24tbm9ydGgtNC9zdHMvdGVtcG9yYXJ5L2NyZWRlbnRpYWxzL2V4YW1wbGUt",
    "dG9rZW4tdmFsdWUtdGhhdC1pcy1xdWl0ZS1sb25nLWFuZC1oYXMtYmFzZTY0LWNoYXJzKy89PQ=="
);

#[test]
fn official_sdk_verifier_accepts_the_cli_requests() {
    let Some(python) = oracle_python() else {
        eprintln!("skipped: no oracle python (run `bash tests/oracle/setup_venv.sh`)");
        return;
    };
    let plain = VerifyServer::start(&python, None, "plain");
    let temporary = VerifyServer::start(&python, Some(LONG_TOKEN), "temporary");
    let cases = [
        Case {
            project_id: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            enterprise_project_id: None,
            region_header: None,
            security_token: None,
            image_type: "private_image",
        },
        Case {
            project_id: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            enterprise_project_id: Some("0"),
            region_header: Some("cn-north-4"),
            security_token: None,
            image_type: "shared_image",
        },
        Case {
            project_id: "f00dcafe",
            enterprise_project_id: Some("all_granted_eps"),
            region_header: Some("ap-southeast-3"),
            security_token: None,
            image_type: "private_image",
        },
        Case {
            project_id: "proj id/é+1",
            enterprise_project_id: Some("ep id/1+é&x=y%z"),
            region_header: Some("中国-北京四"),
            security_token: None,
            image_type: "private_image",
        },
        Case {
            project_id: "p:@~*",
            enterprise_project_id: Some("企业项目 ~*'()!"),
            region_header: Some("  padded region  "),
            security_token: None,
            image_type: "shared_image",
        },
        Case {
            project_id: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            enterprise_project_id: Some("9b6e1d43-7c3a-4c5e-9d0f-2a1b3c4d5e6f"),
            region_header: Some(""),
            security_token: Some(LONG_TOKEN),
            image_type: "private_image",
        },
        Case {
            project_id: "tmp-project",
            enterprise_project_id: Some("+plus and space+"),
            region_header: Some("eu-west-101"),
            security_token: Some(LONG_TOKEN),
            image_type: "shared_image",
        },
    ];
    for case in &cases {
        let server = if case.security_token.is_some() {
            &temporary
        } else {
            &plain
        };
        let before = server.verdicts().len();
        let out = run_cli(server, case, SK);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "project {:?}: {stderr}",
            case.project_id
        );
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["error_code"], 0);
        assert_eq!(body["error_description"], "success");
        let verdicts = server.verdicts();
        assert_eq!(verdicts.len(), before + 1);
        assert_eq!(
            verdicts[before]["verdict"], "accepted",
            "{}",
            verdicts[before]
        );
    }

    // A wrong SK is refused by the SDK's verifier, and the CLI reports it.
    let out = run_cli(&plain, &cases[1], "not-the-secret-key");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("status: 401") && stderr.contains("error code: APIG.0301"),
        "{stderr}"
    );
    assert!(
        stderr.contains("request id: ") && !stderr.contains("request id: none"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-secret-key"));
    assert_eq!(plain.verdicts().last().unwrap()["verdict"], "rejected");
}
