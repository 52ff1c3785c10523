//! The emulator (`hss-image-sync emulator`) against Huawei's official Python SDK as the client
//! (tests/oracle/sdk_against_emulator.py): what the SDK signs is accepted, what is tampered with
//! after signing is refused with 401 APIG.0301, invalid bodies get HSS.0001/HSS.0002, unknown
//! routes APIG.0101, every answer has an X-Request-Id. With each of the SDK's signing algorithms
//! (SDK-HMAC-SHA256, SDK-HMAC-SM3, V11-HMAC-SHA256 through a derived predicate, SDK-ECDSA-P256-SHA256,
//! SDK-SM2-SM3). Once with a permanent access key, once with a temporary one (`--security-token`).
//!
//! Needs the oracle venv: `HSS_ORACLE_PYTHON` (set by `cargo xtask ci`), else
//! `target/oracle-venv/bin/python` if it exists. Without either the test says so and passes,
//! unless `HSS_REQUIRE_ORACLE=1` (also set by `cargo xtask ci`) makes that a failure.

mod common;

use common::oracle::{checks_passed, oracle_python};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const AK: &str = "EMUSDKINTEROPAK00001";
const SK: &str = "emulator-sdk-interop-secret-key-7Qm2xV9";
const SECURITY_TOKEN: &str = concat!(
    "sts-token/gQpJb3JpZ2luX2tleV9pZBI0Y24tbm9ydGgtNC9zdHMvdGVtcG9yYXJ5L2NyZWRlbnRpYWxz",
    "L2V4YW1wbGUtdG9rZW4tdmFsdWUtdGhhdC1pcy1xdWl0ZS1sb25nLWFuZC1oYXMtYmFzZTY0LWNoYXJzKy89PQ=="
);

/// `hss-image-sync emulator` as a child process; its stdout is drained into `lines` by a
/// thread so the pipe never fills. Killed on drop.
struct EmulatorProcess {
    child: Child,
    endpoint: String,
    lines: Arc<Mutex<Vec<String>>>,
    drain: Option<JoinHandle<()>>,
}

impl EmulatorProcess {
    /// Started with `--ak AK --sk SK`, the token if any, and `extra` arguments.
    fn start(security_token: Option<&str>, extra: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hss-image-sync"));
        cmd.args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--ak",
            AK,
            "--sk",
            SK,
        ])
        .env_remove("HSS_EMULATOR_SK")
        .env_remove("HSS_EMULATOR_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Some(token) = security_token {
            cmd.args(["--security-token", token]);
        }
        cmd.args(extra);
        let mut child = cmd.spawn().expect("start hss-image-sync emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        // From here on, a panic kills the child through Drop.
        let mut emulator = EmulatorProcess {
            child,
            endpoint: String::new(),
            lines: Arc::default(),
            drain: None,
        };
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .expect("read the emulator's first line");
        emulator.endpoint = first
            .trim_end()
            .strip_prefix("listening on ")
            .filter(|endpoint| endpoint.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("the emulator's first line is {first:?}"))
            .to_owned();
        let lines = emulator.lines.clone();
        emulator.drain = Some(std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        }));
        emulator
    }

    fn log_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The log lines once at least `count` have arrived (or after 30 s: slack for a loaded machine).
    fn wait_for_lines(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.log_lines();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// Runs the SDK script against a fresh emulator and checks its report and the emulator's log.
fn sdk_against_emulator(security_token: Option<&str>) {
    let Some(python) = oracle_python() else {
        eprintln!("skipped: no oracle python (run `bash tests/oracle/setup_venv.sh`)");
        return;
    };
    let emulator = EmulatorProcess::start(security_token, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/sdk_against_emulator.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .arg(&emulator.endpoint)
        .args(["--ak", AK, "--sk", SK])
        .stdin(Stdio::null());
    if let Some(token) = security_token {
        cmd.args(["--security-token", token]);
    }
    let out = cmd.output().expect("run sdk_against_emulator.py");
    let (passed, report) = checks_passed("sdk_against_emulator.py", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(passed >= 100, "only {passed} checks passed:\n{report}");

    // The emulator logged one line per request it answered (the script counts the responses),
    // with both verdicts, the expected error codes, and never the secret key or the token.
    let (responses, lines) = logged_answers(&emulator, &stdout, &report);
    let log = lines.join("\n");
    assert!(responses >= 20, "{log}");
    let verdict = |word: &str| lines.iter().filter(|l| l.contains(word)).count();
    assert!(verdict(" accepted auth=SDK-HMAC-SHA256 ") >= 5, "{log}");
    assert!(verdict(" rejected ") >= 10, "{log}");
    // Every algorithm was used, accepted untampered and refused tampered; V11 also for a scope
    // that names another region.
    for algorithm in [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SM3",
        "V11-HMAC-SHA256",
        "SDK-ECDSA-P256-SHA256",
        "SDK-SM2-SM3",
    ] {
        assert!(
            verdict(&format!(" accepted auth={algorithm} ")) >= 3,
            "{algorithm}:\n{log}"
        );
        assert!(
            verdict(&format!(" rejected auth={algorithm} code=APIG.0301 ")) >= 3,
            "{algorithm}:\n{log}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" rejected auth=V11-HMAC-SHA256 ")
                && l.contains("credential scope region")),
        "{log}"
    );
    assert_eq!(verdict(" scripted "), 0, "{log}");
    for code in ["APIG.0301", "APIG.0101", "HSS.0001", "HSS.0002"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" rejected ") && l.contains(&format!(" code={code} "))),
            "no rejection with {code}:\n{log}"
        );
    }
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" -> ") && l.contains(" request_id=")),
        "{log}"
    );
    assert!(
        !log.contains(SK),
        "the secret key appears in the emulator log"
    );
    // The emulator's 401 messages quote the canonical request with the signed
    // `x-security-token:` value masked: the token appears nowhere.
    if let Some(token) = security_token {
        assert!(
            !log.contains(token),
            "the security token appears in the emulator log"
        );
        if log.contains("canonicalRequest:") && log.contains("|x-security-token:") {
            assert!(log.contains("|x-security-token:******|"));
        }
    }
}

#[test]
fn official_sdk_client_against_emulator_with_permanent_key() {
    sdk_against_emulator(None);
}

#[test]
fn official_sdk_client_against_emulator_with_temporary_key() {
    sdk_against_emulator(Some(SECURITY_TOKEN));
}

/// The registry the emulator is told to fail in the successor test: the Harbor one of
/// `hss_image_sync::emulator::default_registries`.
const FAILING_REGISTRY: &str = "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c03";

/// The SDK's four successor operations (CreateImageSynchronizeTask, ListImageScanTask,
/// ListAssociateRegistries, ListRegistry) against the emulator
/// (tests/oracle/sdk_successor_against_emulator.py): every SDK signature accepted, every answer
/// parsed by the SDK's models, tasks followed to their end, filters and pages, invalid
/// parameters refused with 400 HSS.0001.
#[test]
fn official_sdk_successor_operations_against_emulator() {
    let Some(python) = oracle_python() else {
        eprintln!("skipped: no oracle python (run `bash tests/oracle/setup_venv.sh`)");
        return;
    };
    let emulator = EmulatorProcess::start(
        None,
        &["--task-seconds", "1", "--fail-registry", FAILING_REGISTRY],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracle/sdk_successor_against_emulator.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&emulator.endpoint)
        .args(["--ak", AK, "--sk", SK])
        .args([
            "--failing-registry",
            FAILING_REGISTRY,
            "--task-seconds",
            "1",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run sdk_successor_against_emulator.py");
    let (passed, report) = checks_passed("sdk_successor_against_emulator.py", &out);
    assert!(passed >= 70, "only {passed} checks passed:\n{report}");

    // One log line per answer: the SDK's every request verified (accepted, or refused by the
    // service with HSS.0001 only), each of the four operations served.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (_, lines) = logged_answers(&emulator, &stdout, &report);
    let log = lines.join("\n");
    assert!(
        lines.iter().all(|l| l.contains(" auth=SDK-HMAC-SHA256 ")
            && (l.contains(" -> 200 accepted ")
                || l.contains(" -> 400 rejected ") && l.contains(" code=HSS.0001 "))),
        "{log}"
    );
    for path in [
        "/image/image-sync/tasks ",
        "/image/image-sync/tasks?",
        "/image/tasks?",
        "/image/registries ",
        "/image/registries?",
        "/image/image-sync/tasks/a%2Fb%20c/registries ",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("/v5/0a1b2c3d4e5f60718293a4b5c6d7e8f9{path}"))),
            "no request to {path}:\n{log}"
        );
    }
    // The SDK's `a%2Fb%20c` is the task ID `a/b c` to the emulator.
    assert!(log.contains("no task a/b c"), "{log}");
    assert!(
        !log.contains(SK),
        "the secret key appears in the emulator log"
    );
}

/// How many answers a script's report counted, and the emulator's log line for each (there
/// must be exactly one per answer).
fn logged_answers(emulator: &EmulatorProcess, stdout: &str, report: &str) -> (usize, Vec<String>) {
    let responses: usize = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("ok   all ")?
                .strip_suffix(" responses carry X-Request-Id and Date")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no response count in the report:\n{report}"));
    let lines = emulator.wait_for_lines(responses);
    assert_eq!(
        lines.len(),
        responses,
        "log lines for {responses} responses:\n{}",
        lines.join("\n")
    );
    (responses, lines)
}
