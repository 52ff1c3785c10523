//! What the CLI prints for people and pipelines: `--output json|table|text`, errors as JSON,
//! `--version` with the commit and features, completions, the man page, and `--profile`.

use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_SECRET_KEY, Emulator, RunningEmulator};
use serde_json::Value;
use std::process::Output;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hss-image-sync");

fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", std::env::temp_dir().join("hss-cli-output-no-home"))
        .args(args);
    command
}

/// The CLI against `emulator`, with its keys in the environment.
fn against(emulator: &RunningEmulator, args: &[&str]) -> Command {
    let mut command = bare(args);
    command
        .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
        .args(["--endpoint", &emulator.endpoint()])
        .args(["--iam-endpoint", &emulator.endpoint()])
        .args(["--region", "cn-north-4"]);
    command
}

async fn output(mut command: Command) -> Output {
    command.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn version_names_the_commit_and_the_features() {
    let out = output(bare(&["--version"])).await;
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("hss-image-sync {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("commit "), "{text}");
    assert!(!text.contains("commit ;"), "{text}");
    assert!(
        text.contains("features: cli, emulator, ecdsa, sm2"),
        "{text}"
    );
}

#[tokio::test]
async fn completions_and_the_man_page_come_from_the_commands() {
    let out = output(bare(&["completions", "bash"])).await;
    assert!(out.status.success());
    let bash = stdout(&out);
    assert!(
        bash.contains("complete -F") && bash.contains("hss-image-sync"),
        "{bash}"
    );
    assert!(bash.contains("--all-projects") && bash.contains("--journal"));
    let out = output(bare(&["completions", "zsh"])).await;
    assert!(stdout(&out).starts_with("#compdef hss-image-sync"));
    let out = output(bare(&["completions", "fish"])).await;
    assert!(stdout(&out).contains("complete -c hss-image-sync"));
    let out = output(bare(&["completions", "powershell"])).await;
    assert!(stdout(&out).contains("Register-ArgumentCompleter"));
    let out = output(bare(&["completions", "tcsh"])).await;
    assert_eq!(out.status.code(), Some(2));

    let out = output(bare(&["man"])).await;
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH hss-image-sync"), "{page}");
    assert!(
        page.contains("Exit status"),
        "the exit statuses are documented"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_print_as_json_a_table_that_fits_or_text() {
    let emulator = Emulator::new().start().await.unwrap();
    let out = output(against(&emulator, &["registries", "list"])).await;
    assert!(out.status.success());
    let json: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.len(), 3);
    // Each result names its target.
    assert!(
        json.iter()
            .all(|r| r["project_id"] == emulator.project_id())
    );

    let mut table = against(&emulator, &["registries", "list", "--output", "table"]);
    table.env("COLUMNS", "100");
    let out = output(table).await;
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.lines().count() > 3, "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than the terminal: {line}"
        );
    }
    assert!(text.contains("registry_type"), "{text}");

    let out = output(against(
        &emulator,
        &["registries", "list", "--output", "text"],
    ))
    .await;
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.contains("registry_type=")), "{text}");
}

#[tokio::test]
async fn in_json_mode_errors_are_json_on_stdout_too() {
    let out = output(bare(&[
        "sync",
        "--endpoint",
        "http://127.0.0.1:9",
        "--regions",
        "mars-1",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["exit_status"], 2);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--regions"),
        "{error}"
    );
    let out = output(bare(&[
        "sync",
        "--endpoint",
        "http://127.0.0.1:9",
        "--regions",
        "mars-1",
        "--output",
        "text",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "text mode: errors on stderr only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_names_its_section_of_the_credentials_file() {
    let emulator = Emulator::new().start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("hss-cli-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        format!(
            "[basic]\nak = WRONGWRONGWRONGAK\nsk = wrong-secret-key-000000\nproject_id = {0}\n\n\
             [work]\nak = {DEMO_ACCESS_KEY}\nsk = {DEMO_SECRET_KEY}\nproject_id = {0}\n",
            emulator.project_id()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let run = |args: &[&str]| {
        let mut command = bare(args);
        command
            .env("HUAWEICLOUD_SDK_CREDENTIALS_FILE", &file)
            .args(["--endpoint", &emulator.endpoint()]);
        command
    };
    let out = output(run(&["registries", "list", "--profile", "work"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = output(run(&["registries", "list"])).await;
    assert_eq!(out.status.code(), Some(1), "[basic]'s keys are refused");
    let out = output(run(&["registries", "list", "--profile", "nope"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[nope]"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_is_json_by_default_and_lines_in_text() {
    let emulator = Emulator::new().start().await.unwrap();
    let out = output(against(&emulator, &["whoami"])).await;
    assert!(out.status.success());
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["credentials"], "environment");
    assert_eq!(shown["project_id"], emulator.project_id());
    assert_eq!(shown["project_source"], "looked up in IAM");
    assert!(!stdout(&out).contains(DEMO_SECRET_KEY));
    let out = output(against(&emulator, &["whoami", "--output", "text"])).await;
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "project: {} (looked up in IAM)",
            emulator.project_id()
        )),
        "{text}"
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_endpoint_given_as_https_is_a_configuration_error() {
    let emulator = Emulator::new().start().await.unwrap();
    // The emulator speaks plain http; the CLI is told https.
    let https = emulator.endpoint().replacen("http://", "https://", 1);
    let command = |args: &[&str]| {
        let mut command = bare(args);
        command
            .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
            .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
            .args(["--endpoint", &https])
            .args(["--region", "cn-north-4"])
            .args(["--project-id", emulator.project_id()]);
        command
    };
    let hint = "hint: the endpoint does not speak TLS; if it serves plain HTTP, use http://";

    // JSON: the error as an object on stdout, and explained on stderr.
    let out = output(command(&["registries", "list"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["exit_status"], 2, "{error}");
    assert_eq!(error["error"]["retryable"], false, "{error}");
    assert!(error["error"].get("status").is_none(), "no answer: {error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("(tls)"), "{message}");
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));

    // Text: nothing on stdout, the same explanation on stderr.
    let out = output(command(&["registries", "list", "--output", "text"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));

    // `sync --wait` (through the fan-out, one target): the same status and explanation.
    let out = output(command(&[
        "sync",
        "--wait",
        "--rate",
        "off",
        "--poll-min",
        "0.1",
        "--poll-max",
        "0.3",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outcome"], "failed", "{result}");
    assert_eq!(result["error"]["exit_status"], 2, "{result}");
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));

    // Two targets, both failing alike: the run failed as one call, 2 and not 4.
    let two = format!(
        "{},{}",
        emulator.project_id(),
        "0123456789abcdef0123456789abcdef"
    );
    let out = output(command(&["sync", "--project-id", &two, "--rate", "off"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{lines:?}");
    assert!(
        failed.iter().all(|l| l["error"]["exit_status"] == 2),
        "{lines:?}"
    );
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));

    // Nothing reached the service as a request.
    assert!(
        emulator.exchanges().iter().all(|e| e.project_id.is_none()),
        "{:?}",
        emulator.exchanges()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_results_name_their_region_project_and_operation() {
    let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
    let out = output(against(&emulator, &["sync"])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let list = |args: &'static [&'static str]| {
        let command = against(&emulator, args);
        async move {
            let out = output(command).await;
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        }
    };
    let names_target = |result: &Value, operation: &str| {
        assert_eq!(result["region"], "cn-north-4", "{result}");
        assert_eq!(result["project_id"], emulator.project_id(), "{result}");
        assert_eq!(result["operation"], operation, "{result}");
    };
    let registries = list(&["registries", "list"]).await;
    let registries = registries.as_array().unwrap();
    assert_eq!(registries.len(), 3);
    for registry in registries {
        names_target(registry, "list_registry");
    }
    let tasks = list(&["tasks", "list"]).await;
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    names_target(&tasks[0], "list_image_scan_task");

    let task_id = tasks[0]["task_id"].as_str().unwrap().to_owned();
    let out = output(against(&emulator, &["tasks", "show", &task_id])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    names_target(&shown, "list_associate_registries");
    assert_eq!(shown["task"]["task_id"], task_id.as_str());
    assert_eq!(shown["registries"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_summary_has_a_row_per_target_in_every_format() {
    let emulator = Emulator::new()
        .projects(4)
        .task_duration(std::time::Duration::from_millis(800))
        .start()
        .await
        .unwrap();
    let projects: Vec<String> = emulator
        .account_projects()
        .into_iter()
        .map(|p| p.id)
        .take(2)
        .collect();
    let both = projects.join(",");
    let sync = |format: &str| {
        let mut command = against(
            &emulator,
            &[
                "sync",
                "--project-id",
                &both,
                "--wait",
                "--no-progress",
                "--rate",
                "off",
                "--poll-min",
                "0.1",
                "--poll-max",
                "0.3",
                "--output",
                format,
            ],
        );
        command.env("COLUMNS", "200");
        output(command)
    };

    // JSON: a line per target, each with its duration (the wait spans the 0.8 s task), then
    // the summary's counts and the run's duration.
    let out = sync("json").await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, targets) = lines.split_last().unwrap();
    assert_eq!(targets.len(), 2);
    let mut longest: f64 = 0.0;
    for line in targets {
        assert_eq!(line["outcome"], "done", "{line}");
        let duration = line["duration_s"].as_f64().unwrap();
        assert!(duration >= 0.7, "{line}");
        longest = longest.max(duration);
    }
    let summary = &summary["summary"];
    assert_eq!(summary["targets"], 2, "{summary}");
    assert_eq!(summary["outcomes"]["done"], 2, "{summary}");
    assert!(
        summary["duration_s"].as_f64().unwrap() >= longest - 0.05,
        "{summary} {longest}"
    );

    // Text: a line per target, then a row per target (target, outcome, task, registries ok
    // and failed, duration), then the counts.
    let out = sync("text").await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for project in &projects {
        let result = lines[..2]
            .iter()
            .find(|l| l.contains(&format!("project_id={project}")))
            .unwrap_or_else(|| panic!("{project}: {text}"));
        assert!(result.contains("outcome=done"), "{text}");
        let task = result
            .split(' ')
            .find_map(|pair| pair.strip_prefix("task_id="))
            .unwrap_or_else(|| panic!("{text}"));
        let row = lines[2..4]
            .iter()
            .find(|l| l.contains(&format!("target=cn-north-4/{project}")))
            .unwrap_or_else(|| panic!("{project}: {text}"));
        for field in [
            "outcome=done",
            &format!("task_id={task}"),
            "registries_ok=3",
            "registries_failed=0",
            "duration_s=",
        ] {
            assert!(row.contains(field), "{field}: {row}");
        }
    }
    assert!(lines[4].starts_with("2 targets in "), "{text}");
    assert!(lines[4].ends_with(": 2 done"), "{text}");

    // Table: the same rows, as a table under a header.
    let out = sync("table").await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.trim_matches('│').split('┆').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 3, "a header and two rows: {text}");
    let header = &rows[0];
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {text}"))
    };
    for project in &projects {
        let target = format!("cn-north-4/{project}");
        let row = rows[1..]
            .iter()
            .find(|r| r[column("target")] == target)
            .unwrap_or_else(|| panic!("{target}: {text}"));
        assert_eq!(row[column("outcome")], "done", "{text}");
        assert!(!row[column("task_id")].is_empty(), "{text}");
        assert_eq!(row[column("registries_ok")], "3", "{text}");
        assert_eq!(row[column("registries_failed")], "0", "{text}");
        let duration: f64 = row[column("duration_s")].parse().unwrap();
        assert!(duration >= 0.7, "{text}");
    }
    assert!(text.lines().last().unwrap().ends_with(": 2 done"), "{text}");
}
