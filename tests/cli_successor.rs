//! The successor operations from the command line, against `hss-image-sync emulator` as a
//! process: `registries list`, `sync --registries`, `tasks list`, `tasks show`, the deprecated
//! `sync --image-type`, `--dry-run` of each, and refused input.

use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY};
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hss-image-sync");

/// A running `hss-image-sync emulator`, killed when dropped.
struct EmulatorProcess {
    child: Child,
    endpoint: String,
}

impl EmulatorProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .env_clear()
            .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let endpoint = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_owned();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        EmulatorProcess { child, endpoint }
    }

    /// `hss-image-sync ARGS --endpoint <this emulator>` with the demo keys.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .env_clear()
            .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
            .env("HOME", std::env::temp_dir())
            .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
            .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
            .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
            .args(args)
            .args(["--endpoint", &self.endpoint])
            .output()
            .unwrap()
    }

    /// [`cli`](Self::cli), which must succeed, its stdout as JSON.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {value}"))
}

#[test]
fn registries_sync_and_tasks_end_to_end() {
    // The Harbor registry of the default set fails; the task takes a second.
    let probe = EmulatorProcess::start(&[]);
    let registries = probe.json(&["registries", "list"]);
    drop(probe);
    let registries = registries.as_array().unwrap().clone();
    assert_eq!(registries.len(), 3, "{registries:?}");
    let harbor = registries
        .iter()
        .find(|r| r["registry_type"] == "Harbor")
        .unwrap();
    let harbor_id = field(harbor, "id").to_owned();
    let swr = registries
        .iter()
        .find(|r| r["registry_type"] == "SwrPrivate")
        .unwrap();
    let swr_id = field(swr, "id").to_owned();

    let emulator = EmulatorProcess::start(&["--task-seconds", "1", "--fail-registry", &harbor_id]);
    let only_harbor = emulator.json(&["registries", "list", "--type", "Harbor"]);
    assert_eq!(only_harbor.as_array().unwrap().len(), 1);

    // Two registries named by ID:TYPE.
    let named = format!("{swr_id}:SwrPrivate,{harbor_id}:Harbor");
    let out = emulator.cli(&["sync", "--registries", &named]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["attempts"], 1);
    assert!(answer["request_id"].is_string());

    let tasks = emulator.json(&["tasks", "list", "--task-type", "manualSync"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["task_type"], "manualSync");
    assert!(tasks[0]["begin_time"].as_i64().unwrap() > 0);
    let task_id = field(&tasks[0], "task_id").to_owned();

    // Wait (bounded) for the task to finish, as a user would with `tasks show`.
    let started = Instant::now();
    let shown = loop {
        let shown = emulator.json(&["tasks", "show", &task_id]);
        let status = shown["task"]["task_status"].as_i64().unwrap();
        assert!((-3..=100).contains(&status), "{shown}");
        if status == 100 || status < 0 {
            break shown;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not done: {shown}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(shown["task"]["failed_num"], 1, "{shown}");
    let mut statuses: Vec<(String, String)> = shown["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                field(r, "registry_type").into(),
                field(r, "sync_status").into(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("Harbor".to_owned(), "failed".to_owned()),
            ("SwrPrivate".to_owned(), "finished".to_owned())
        ]
    );
    let failed = shown["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sync_status"] == "failed")
        .unwrap();
    assert!(!field(failed, "failed_reason").is_empty());
    assert_eq!(
        emulator
            .json(&["tasks", "list", "--status", "finished"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // `sync` alone is every registry, through the successor.
    emulator.json(&["sync"]);
    assert_eq!(
        emulator.json(&["tasks", "list"]).as_array().unwrap().len(),
        2
    );

    // The deprecated call says so, in one line on stderr.
    let out = emulator.cli(&["sync", "--image-type", "private_image"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("deprecated")).count(),
        1,
        "{stderr}"
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["error_code"], 0);
}

#[test]
fn every_command_has_a_dry_run_that_sends_nothing() {
    let emulator = EmulatorProcess::start(&[]);
    let endpoint = emulator.endpoint.clone();
    let project = DEMO_PROJECT_ID;
    for (args, first_line) in [
        (
            vec!["sync", "--dry-run"],
            format!("POST {endpoint}/v5/{project}/image/image-sync/tasks"),
        ),
        (
            vec!["registries", "list", "--dry-run", "--name", "a b"],
            format!(
                "GET {endpoint}/v5/{project}/image/registries?limit=200&offset=0&registry_name=a%20b"
            ),
        ),
        (
            vec!["tasks", "list", "--dry-run"],
            format!("GET {endpoint}/v5/{project}/image/tasks?limit=200&offset=0&type=image_sync"),
        ),
        (
            vec!["tasks", "show", "a/b", "--dry-run"],
            format!(
                "GET {endpoint}/v5/{project}/image/image-sync/tasks/a%2Fb/registries?limit=200&offset=0"
            ),
        ),
    ] {
        let out = emulator.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().next(), Some(first_line.as_str()), "{args:?}");
        let authorization = stdout
            .lines()
            .find(|l| l.starts_with("Authorization: "))
            .unwrap();
        assert!(
            authorization.starts_with(&format!(
                "Authorization: SDK-HMAC-SHA256 Access={DEMO_ACCESS_KEY}, SignedHeaders="
            )) && authorization.ends_with(", Signature=******"),
            "{authorization}"
        );
    }
    assert!(
        emulator
            .json(&["tasks", "list"])
            .as_array()
            .unwrap()
            .is_empty(),
        "a dry run created a task"
    );
}

#[test]
fn bad_input_is_refused_before_sending_naming_the_option() {
    let emulator = EmulatorProcess::start(&[]);
    for (args, named) in [
        (vec!["sync", "--registries", "no-type"], "registries"),
        (vec!["sync", "--registries", "r1:Quay"], "registry_type"),
        (vec!["sync", "--image-type", "public_image"], "image_type"),
        (vec!["tasks", "list", "--status", "running"], "status"),
        (vec!["tasks", "show", ""], "task_id"),
        (vec!["registries", "list", "--name", ""], "name"),
    ] {
        let out = emulator.cli(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    assert!(
        emulator
            .json(&["tasks", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
