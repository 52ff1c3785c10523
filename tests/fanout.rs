//! `sync` over every project and region, `--wait`, `--journal`, `--rate`, Ctrl-C and the exit
//! statuses: the CLI as a process against an emulator of a whole account in this process
//! (127.0.0.1), whose counts say which project was synced how often.

use hss_image_sync::emulator::{
    DEMO_ACCESS_KEY, DEMO_SECRET_KEY, Emulator, RunningEmulator, default_registries,
};
use serde_json::Value;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hss-image-sync");

/// The CLI with the emulator's keys, every call (HSS and IAM) to the emulator.
fn cli(emulator: &RunningEmulator, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", std::env::temp_dir())
        .args(args)
        .args(["--region", "cn-north-4"])
        .args(["--endpoint", &emulator.endpoint()])
        .args(["--iam-endpoint", &emulator.endpoint()])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn run(emulator: &RunningEmulator, args: &[&str]) -> Output {
    cli(emulator, args).output().await.unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The projects `--all-projects` covers: the account's, less IAM's `MOS`.
fn covered(emulator: &RunningEmulator) -> Vec<String> {
    emulator
        .account_projects()
        .into_iter()
        .filter(|p| hss_image_sync::region::known(&p.region).is_some())
        .map(|p| p.id)
        .collect()
}

fn creates(emulator: &RunningEmulator, project: &str) -> u64 {
    emulator
        .project_calls()
        .get(project)
        .map_or(0, |calls| calls.create)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_lists_its_projects_by_region() {
    let emulator = Emulator::new().projects(40).start().await.unwrap();
    let client = emulator.client_builder().build().unwrap();
    let listed = client.account_projects().await.unwrap();
    let expected = covered(&emulator);
    assert_eq!(listed.len(), expected.len());
    assert!(listed.iter().all(|p| expected.contains(&p.id)));
    let subs: Vec<_> = listed.iter().filter(|p| p.is_sub_project()).collect();
    assert!(!subs.is_empty());
    for sub in subs {
        let parent = listed
            .iter()
            .find(|p| Some(&p.id) == sub.parent_id.as_ref())
            .unwrap();
        assert_eq!(parent.region, sub.region);
        assert_eq!(parent.name, parent.region);
    }

    let out = run(
        &emulator,
        &["projects", "--regions", "cn-north-4,ap-southeast-1"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let wanted = listed
        .iter()
        .filter(|p| p.region == "cn-north-4" || p.region == "ap-southeast-1")
        .count();
    assert_eq!(shown.len(), wanted);
    assert!(
        shown
            .iter()
            .all(|p| p["project_id"].is_string() && p["region"].is_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_project_is_synced_once_and_one_failing_project_hides_nothing() {
    // Project IDs follow from the account's size: learnt from a first emulator.
    let projects = covered(&Emulator::new().projects(24).start().await.unwrap());
    let failing = projects[5].clone();
    let emulator = Emulator::new()
        .projects(24)
        .fail_project(&failing)
        .start()
        .await
        .unwrap();
    assert_eq!(covered(&emulator), projects);
    let out = run(
        &emulator,
        &[
            "sync",
            "--all-projects",
            "--rate",
            "off",
            "--concurrency",
            "4",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    for project in &projects {
        let expected = u64::from(project != &failing);
        assert_eq!(creates(&emulator, project), expected, "{project}");
    }
    let lines = lines(&out);
    let (summary, targets) = lines.split_last().unwrap();
    assert_eq!(targets.len(), projects.len());
    for line in targets {
        assert_eq!(line["operation"], "create_image_synchronize_task");
        assert!(line["region"].is_string() && line["project_id"].is_string());
        let expected = if line["project_id"] == failing.as_str() {
            "failed"
        } else {
            "synced"
        };
        assert_eq!(line["outcome"], expected, "{line}");
    }
    let failed = targets.iter().find(|l| l["outcome"] == "failed").unwrap();
    assert_eq!(failed["error"]["status"], 403);
    assert_eq!(failed["error"]["exit_status"], 1);
    let summary = &summary["summary"];
    assert_eq!(summary["targets"], projects.len());
    assert_eq!(summary["outcomes"]["synced"], projects.len() - 1);
    assert_eq!(summary["outcomes"]["failed"], 1);
    assert_eq!(summary["exit_status"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_and_project_lists_pick_their_targets() {
    let emulator = Emulator::new().projects(40).start().await.unwrap();
    let accounts = emulator.account_projects();
    let own = |region: &str| {
        accounts
            .iter()
            .find(|p| p.name == region)
            .map(|p| p.id.clone())
            .unwrap()
    };
    let out = run(
        &emulator,
        &[
            "sync",
            "--regions",
            "cn-north-4,ap-southeast-1",
            "--rate",
            "off",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let synced: Vec<(String, String)> = lines(&out)
        .iter()
        .filter(|l| l["outcome"] == "synced")
        .map(|l| {
            (
                l["region"].as_str().unwrap().to_owned(),
                l["project_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(synced.len(), 2, "region projects only: {synced:?}");
    assert!(synced.contains(&("cn-north-4".into(), own("cn-north-4"))));
    assert!(synced.contains(&("ap-southeast-1".into(), own("ap-southeast-1"))));

    let (a, b) = (own("cn-north-4"), own("cn-east-3"));
    let both = format!("{a},{b}");
    let out = run(
        &emulator,
        &[
            "sync",
            "--project-id",
            &both,
            "--rate",
            "off",
            "--output",
            "text",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("project_id={a}")) && text.contains(&format!("project_id={b}")),
        "{text}"
    );
    assert!(text.contains("2 targets"), "{text}");
    assert_eq!(creates(&emulator, &b), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ends_done_failed_or_given_up_with_its_exit_status() {
    let failing = default_registries()[1].clone();
    let emulator = Emulator::new()
        .task_duration(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let fast = ["--rate", "off", "--poll-min", "0.1", "--poll-max", "0.3"];
    let out = run(&emulator, &[&["sync", "--wait"][..], &fast].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = lines(&out).pop().unwrap();
    assert_eq!(result["outcome"], "done");
    assert_eq!(result["registries_ok"], 3);
    assert_eq!(result["task_status"], 100);
    // Off a terminal: one JSON line per change on stderr, the percent growing.
    let progress: Vec<Value> = stderr(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["event"] == "progress")
        .collect();
    assert!(progress.len() >= 2, "{}", stderr(&out));
    assert!(
        progress
            .windows(2)
            .all(|w| w[0]["percent"].as_u64() <= w[1]["percent"].as_u64())
    );
    assert!(progress.windows(2).all(|w| w[0] != w[1]), "only changes");

    let emulator = Emulator::new()
        .task_seconds(0)
        .fail_registry(failing.id.clone().unwrap())
        .start()
        .await
        .unwrap();
    let out = run(
        &emulator,
        &[&["sync", "--wait", "--no-progress"][..], &fast].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let result = lines(&out).pop().unwrap();
    assert_eq!(result["outcome"], "failed");
    let failures = result["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0]["registry_id"],
        failing.id.clone().unwrap().as_str()
    );
    assert!(
        failures[0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(!stderr(&out).contains("\"progress\""), "--no-progress");

    let emulator = Emulator::new().task_seconds(3600).start().await.unwrap();
    let out = run(
        &emulator,
        &[&["sync", "--wait", "--wait-timeout", "1s"][..], &fast].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let result = lines(&out).pop().unwrap();
    assert_eq!(result["outcome"], "gave_up");
    assert!(result["task_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limiter_keeps_to_the_rate_and_a_throttling_service_is_still_served() {
    // The emulator allows two calls of an operation a second. --rate 60/min spaces them a
    // second apart: never throttled. No pace: throttled, every worker slows down, and every
    // target is still synced.
    for (rate, throttles) in [("60/min", false), ("off", true)] {
        let emulator = Emulator::new()
            .projects(8)
            .rate_limit_per(2, Duration::from_secs(1))
            .start()
            .await
            .unwrap();
        let args = [
            "sync",
            "--all-projects",
            "--rate",
            rate,
            "--concurrency",
            "8",
        ];
        let out = run(&emulator, &args).await;
        assert!(out.status.success(), "{rate}: {}", stderr(&out));
        let throttled = emulator
            .exchanges()
            .iter()
            .filter(|e| e.status == 429)
            .count();
        assert_eq!(throttled > 0, throttles, "{rate}: {throttled} throttled");
        let projects = covered(&emulator);
        assert!(
            projects.iter().all(|p| creates(&emulator, p) == 1),
            "{rate}"
        );
    }
}

/// Starts `sync` and returns it with its stdout lines as they come.
fn spawn(
    emulator: &RunningEmulator,
    args: &[&str],
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let mut child = cli(emulator, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_continues_a_killed_run_without_syncing_twice() {
    const CONCURRENCY: u64 = 8;
    let emulator = Emulator::new().projects(1000).start().await.unwrap();
    let projects = covered(&emulator);
    let dir = std::env::temp_dir().join(format!("hss-fanout-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("run.journal");
    let _ = std::fs::remove_file(&journal);
    let journal_arg = journal.to_str().unwrap();
    let args = [
        "sync",
        "--all-projects",
        "--rate",
        "off",
        "--concurrency",
        "8",
        "--journal",
        journal_arg,
    ];
    let (mut child, mut stdout) = spawn(&emulator, &args);
    // Kill -9 once a tenth of the targets are done.
    let mut seen = 0;
    while seen < projects.len() / 10 {
        stdout.next_line().await.unwrap().expect("still running");
        seen += 1;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before: u64 = projects.iter().map(|p| creates(&emulator, p)).sum();
    assert!(before < projects.len() as u64, "killed in the middle");

    let out = run(&emulator, &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let twice = projects
        .iter()
        .filter(|p| creates(&emulator, p) == 2)
        .count() as u64;
    assert!(
        projects
            .iter()
            .all(|p| (1..=2).contains(&creates(&emulator, p)))
    );
    assert!(twice <= CONCURRENCY, "{twice} synced twice");
    let summary = &lines(&out).pop().unwrap()["summary"];
    // Every target whose line was printed had been journaled first.
    assert!(summary["outcomes"]["skipped"].as_u64().unwrap() >= seen as u64);

    // A journal of other targets is refused, and changes nothing.
    let out = run(
        &emulator,
        &[
            "sync",
            "--regions",
            "cn-north-4",
            "--rate",
            "off",
            "--journal",
            journal_arg,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("other targets or options"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_starts_no_new_target_and_the_summary_says_what_is_pending() {
    let emulator = Emulator::new().projects(12).start().await.unwrap();
    let projects = covered(&emulator);
    // One Create every 2 s: Ctrl-C comes while most targets wait for their turn.
    let (mut child, mut stdout) = spawn(
        &emulator,
        &[
            "sync",
            "--all-projects",
            "--rate",
            "30/min",
            "--concurrency",
            "2",
        ],
    );
    let first = stdout.next_line().await.unwrap().unwrap();
    assert!(first.contains("\"synced\""), "{first}");
    let pid = child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let mut rest = Vec::new();
    while let Some(line) = stdout.next_line().await.unwrap() {
        rest.push(line);
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130));
    let summary: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    let pending = summary["summary"]["pending"].as_array().unwrap().len();
    let synced: u64 = projects.iter().map(|p| creates(&emulator, p)).sum();
    assert!(pending > 0);
    assert_eq!(synced as usize + pending, projects.len(), "{summary}");
    // In flight at Ctrl-C: at most the concurrency, reported before the summary.
    assert!(rest.len() - 1 <= 2, "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_quits_at_once_while_waits_are_in_flight() {
    // Tasks that take ten minutes: only the second Ctrl-C can end this run in time.
    let emulator = Emulator::new()
        .projects(4)
        .task_seconds(600)
        .start()
        .await
        .unwrap();
    let mut child = cli(
        &emulator,
        &[
            "sync",
            "--all-projects",
            "--wait",
            "--rate",
            "off",
            "--poll-min",
            "0.1",
            "--poll-max",
            "0.3",
            "--concurrency",
            "2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let pid = child.id().unwrap().to_string();
    let interrupt = || {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    // A wait is in flight once its progress is reported (JSON lines off a terminal).
    let mut seen = Vec::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        let progress = line.contains("\"event\":\"progress\"");
        seen.push(line);
        if progress {
            break;
        }
    }
    interrupt();
    // The first Ctrl-C is acknowledged, and the run goes on waiting.
    loop {
        let line = stderr.next_line().await.unwrap();
        let line = line.unwrap_or_else(|| panic!("stderr ended early: {seen:?}"));
        let acknowledged = line.starts_with("interrupted:");
        seen.push(line);
        if acknowledged {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "{seen:?}");
    interrupt();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the second Ctrl-C ends the run at once")
        .unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}");
}

/// `sync --wait` with stderr on a pseudo-terminal (util-linux `script`, which runs the CLI on
/// one and copies what it writes there to `typescript`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_the_wait_shows_a_progress_bar() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` (util-linux) on this machine");
        return;
    }
    let emulator = Emulator::new()
        .task_duration(Duration::from_millis(2500))
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hss-progress-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let typescript = dir.join("typescript");
    let cli_args = [
        "sync",
        "--wait",
        "--rate",
        "off",
        "--poll-min",
        "0.1",
        "--poll-max",
        "0.3",
        "--region",
        "cn-north-4",
        "--endpoint",
        &emulator.endpoint(),
        "--iam-endpoint",
        &emulator.endpoint(),
    ];
    // `script` runs its command with `sh -c`: every argument quoted for it.
    let command_line: Vec<String> = std::iter::once(BIN)
        .chain(cli_args)
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command_line.join(" ")])
        .arg(&typescript)
        .env_clear()
        .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", std::env::temp_dir())
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let screen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    // A bar, redrawn as the task goes: percent, registries done of total, elapsed and ETA.
    assert!(screen.contains("registries 3/3"), "{screen}");
    assert!(screen.contains("ETA"), "{screen}");
    assert!(screen.contains("100%"), "{screen}");
    assert!(screen.contains("[="), "{screen}");
    // Each drawing of the bar: the percent grows, registries are counted against the task's 3,
    // and the elapsed time (HH:MM:SS) runs: the task takes 2.5 s, and the bar is drawn from
    // its first poll (0%) to its last.
    let frames = bar_frames(&screen);
    assert!(frames.len() >= 2, "{frames:?}\n{screen}");
    assert!(
        frames.windows(2).all(|w| w[0].percent <= w[1].percent),
        "{frames:?}"
    );
    assert!(
        frames.windows(2).all(|w| w[0].elapsed <= w[1].elapsed),
        "{frames:?}"
    );
    assert!(
        frames.iter().all(|f| f.total == 3 && f.done <= 3),
        "{frames:?}"
    );
    assert!(
        frames.iter().any(|f| f.percent > 0 && f.percent < 100),
        "{frames:?}"
    );
    let (first, last) = (&frames[0], frames.last().unwrap());
    assert_eq!((last.percent, last.done), (100, 3), "{frames:?}");
    assert!(first.elapsed < last.elapsed, "{frames:?}");
    assert!(last.elapsed >= Duration::from_secs(1), "{frames:?}");
    // Not the JSON lines a pipe gets; the result itself is still JSON.
    assert!(!screen.contains("\"event\":\"progress\""), "{screen}");
    assert!(screen.contains("\"outcome\":\"done\""), "{screen}");
}

/// The fast options of a test run: no pace, and polls 0.1 to 0.3 s apart.
const FAST: [&str; 6] = ["--rate", "off", "--poll-min", "0.1", "--poll-max", "0.3"];

/// A fresh directory for one test's files.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hss-fanout-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `CreateImageSynchronizeTask` calls every project accepted so far.
fn all_creates(emulator: &RunningEmulator) -> u64 {
    emulator.project_calls().values().map(|c| c.create).sum()
}

/// The HSS calls (any operation, any answer) made for `project` so far.
fn hss_calls(emulator: &RunningEmulator, project: &str) -> usize {
    emulator
        .exchanges()
        .iter()
        .filter(|e| e.project_id.as_deref() == Some(project))
        .count()
}

/// The per-target lines of a JSON fan-out (the summary left out), by project.
fn by_project(out: &Output) -> std::collections::BTreeMap<String, Value> {
    lines(out)
        .into_iter()
        .filter(|l| l.get("summary").is_none())
        .map(|l| (l["project_id"].as_str().unwrap().to_owned(), l))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_project_id_and_regions_all_pick_their_targets() {
    // `--project-id A --project-id B`: the option given twice, not comma-separated. A region
    // project and its sub-project, both of cn-north-4.
    let emulator = Emulator::new().projects(12).start().await.unwrap();
    let accounts = emulator.account_projects();
    let a = emulator.project_id().to_owned();
    let b = accounts
        .iter()
        .find(|p| p.parent_id == a)
        .map(|p| p.id.clone())
        .expect("a sub-project of cn-north-4");
    let out = run(
        &emulator,
        &[
            "sync",
            "--project-id",
            &a,
            "--project-id",
            &b,
            "--rate",
            "off",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let results = by_project(&out);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(results.keys().cloned().collect::<Vec<_>>(), both);
    for line in results.values() {
        assert_eq!(line["outcome"], "synced", "{line}");
        assert_eq!(line["region"], "cn-north-4", "{line}");
        assert_eq!(line["operation"], "create_image_synchronize_task", "{line}");
    }
    assert_eq!(lines(&out).last().unwrap()["summary"]["targets"], 2);
    assert_eq!((creates(&emulator, &a), creates(&emulator, &b)), (1, 1));
    assert_eq!(all_creates(&emulator), 2, "no other project");

    // `--regions all`: the own project of every region HSS serves that the account has, once
    // each; no sub-project.
    let emulator = Emulator::new().projects(12).start().await.unwrap();
    let accounts = emulator.account_projects();
    let mut expected: Vec<(String, String)> = accounts
        .iter()
        .filter(|p| hss_image_sync::region::known(&p.region).is_some() && p.name == p.region)
        .map(|p| (p.region.clone(), p.id.clone()))
        .collect();
    expected.sort();
    assert!(expected.len() >= 3, "{expected:?}");
    assert!(
        accounts.len() > expected.len(),
        "the account has sub-projects"
    );
    let out = run(
        &emulator,
        &[
            "sync",
            "--regions",
            "all",
            "--rate",
            "off",
            "--concurrency",
            "4",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mut synced: Vec<(String, String)> = by_project(&out)
        .values()
        .map(|l| {
            assert_eq!(l["outcome"], "synced", "{l}");
            (
                l["region"].as_str().unwrap().to_owned(),
                l["project_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    synced.sort();
    assert_eq!(synced, expected);
    for project in &accounts {
        let once = u64::from(project.name == project.region);
        assert_eq!(creates(&emulator, &project.id), once, "{project:?}");
    }
    assert_eq!(
        lines(&out).last().unwrap()["summary"]["outcomes"]["synced"],
        expected.len()
    );
}

/// Owned arguments as the `&[&str]` that [`cli`] takes.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_skips_finished_targets_and_waits_again_for_the_others_without_syncing_twice() {
    // Tasks that take a minute on the emulator's clock, which the test moves forward.
    let emulator = Emulator::new()
        .projects(4)
        .task_seconds(60)
        .start()
        .await
        .unwrap();
    let a = emulator.project_id().to_owned();
    let b = covered(&emulator).into_iter().find(|p| *p != a).unwrap();
    let dir = scratch("wait-journal");
    let journal = dir.join("run.journal");
    // One target at a time, A first. Only --wait-timeout differs between the runs: how long to
    // wait is not what a run does, so the journal is the same run's.
    let args = |wait_timeout: &str| -> Vec<String> {
        let mut args: Vec<String> = [
            "sync",
            "--project-id",
            &format!("{a},{b}"),
            "--wait",
            "--wait-timeout",
            wait_timeout,
            "--concurrency",
            "1",
            "--journal",
            journal.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(FAST.map(String::from));
        args
    };

    // First run: A's task ends while it is waited for (the clock moves a minute on once A's
    // progress shows); B's is still running when --wait-timeout ends.
    let first = args("3s");
    let mut child = cli(&emulator, &strs(&first))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
    let a_key = format!("\"target\":\"cn-north-4/{a}\"");
    let mut seen = Vec::new();
    loop {
        let line = errors.next_line().await.unwrap();
        let line = line.unwrap_or_else(|| panic!("no progress of A: {seen:?}"));
        let progress = line.contains("\"event\":\"progress\"") && line.contains(&a_key);
        seen.push(line);
        if progress {
            break;
        }
    }
    emulator.advance_clock(Duration::from_secs(60));
    while let Some(line) = errors.next_line().await.unwrap() {
        seen.push(line);
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(5), "{seen:?}");
    let results = by_project(&out);
    assert_eq!(results[&a]["outcome"], "done", "{results:?}");
    assert_eq!(results[&b]["outcome"], "gave_up", "{results:?}");
    assert_eq!((creates(&emulator, &a), creates(&emulator, &b)), (1, 1));

    // Second run, once B's task has ended too: A is not called at all; B is waited for, and
    // found done, without being synced again.
    emulator.advance_clock(Duration::from_secs(60));
    let a_calls = hss_calls(&emulator, &a);
    let b_calls = hss_calls(&emulator, &b);
    let out = run(&emulator, &strs(&args("30s"))).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = by_project(&out);
    assert_eq!(results[&a]["outcome"], "skipped", "{results:?}");
    assert_eq!(results[&a]["reason"], "finished in an earlier run");
    assert_eq!(results[&a]["earlier_ok"], true);
    assert_eq!(results[&b]["outcome"], "done", "{results:?}");
    assert_eq!(results[&b]["registries_ok"], 3);
    assert!(results[&b]["task_id"].is_string(), "{results:?}");
    assert_eq!((creates(&emulator, &a), creates(&emulator, &b)), (1, 1));
    assert_eq!(hss_calls(&emulator, &a), a_calls, "A is not called");
    assert!(hss_calls(&emulator, &b) > b_calls, "B's task is polled");

    // Third run: both finished; nothing is called.
    let b_calls = hss_calls(&emulator, &b);
    let out = run(&emulator, &strs(&args("30s"))).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = by_project(&out);
    for project in [&a, &b] {
        assert_eq!(results[project]["outcome"], "skipped", "{results:?}");
        assert_eq!(results[project]["reason"], "finished in an earlier run");
    }
    assert_eq!(hss_calls(&emulator, &a), a_calls);
    assert_eq!(hss_calls(&emulator, &b), b_calls);
    assert_eq!((creates(&emulator, &a), creates(&emulator, &b)), (1, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_line_of_the_journal_is_named_ignored_and_cut_off() {
    let emulator = Emulator::new().projects(4).start().await.unwrap();
    let projects: Vec<String> = covered(&emulator).into_iter().take(2).collect();
    let dir = scratch("torn-journal");
    let journal = dir.join("run.journal");
    let both = projects.join(",");
    let args = [
        "sync",
        "--project-id",
        &both,
        "--rate",
        "off",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let out = run(&emulator, &args).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // A header and a record per target. A crash in the middle of writing the second record
    // leaves half of it, with no newline.
    let text = std::fs::read_to_string(&journal).unwrap();
    let records: Vec<&str> = text.lines().collect();
    assert_eq!(records.len(), 3, "{text}");
    let record: Value = serde_json::from_str(records[2]).unwrap();
    let torn = record["target"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let kept = projects.iter().find(|p| *p != torn).unwrap();
    let half = &records[2][..records[2].len() / 2];
    std::fs::write(&journal, format!("{}\n{}\n{half}", records[0], records[1])).unwrap();

    // The rerun names the torn line, goes on without it (its target is synced again, the other
    // one not), and cuts it off before appending.
    let out = run(&emulator, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let warning = stderr(&out);
    assert!(warning.contains("warning: the journal"), "{warning}");
    assert!(warning.contains("half-written line 3"), "{warning}");
    let results = by_project(&out);
    assert_eq!(results[torn]["outcome"], "synced", "{results:?}");
    assert_eq!(results[kept]["outcome"], "skipped", "{results:?}");
    assert_eq!((creates(&emulator, torn), creates(&emulator, kept)), (2, 1));
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }

    // A third run finds a whole journal: no warning, nothing synced.
    let out = run(&emulator, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("half-written"), "{}", stderr(&out));
    assert!(by_project(&out).values().all(|l| l["outcome"] == "skipped"));
    assert_eq!((creates(&emulator, torn), creates(&emulator, kept)), (2, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_the_same_targets_with_other_options_is_refused_and_nothing_is_synced() {
    let emulator = Emulator::new().projects(6).start().await.unwrap();
    let projects = covered(&emulator);
    let dir = scratch("options-journal");
    let journal = dir.join("run.journal");
    let journal_arg = journal.to_str().unwrap();
    let base = [
        "sync",
        "--all-projects",
        "--rate",
        "off",
        "--journal",
        journal_arg,
    ];
    let out = run(&emulator, &base).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(projects.iter().all(|p| creates(&emulator, p) == 1));
    let written = std::fs::read(&journal).unwrap();
    // The HSS calls so far (IAM's listing of the account is asked again by each run).
    let hss_exchanges = || {
        emulator
            .exchanges()
            .iter()
            .filter(|e| e.project_id.is_some())
            .count()
    };
    let exchanges = hss_exchanges();

    let registry = &default_registries()[0];
    let one_registry = format!(
        "{}:{}",
        registry.id.as_deref().unwrap(),
        registry.registry_type.as_deref().unwrap()
    );
    for other in [
        &["--wait"][..],
        &["--registries", &one_registry],
        &["--enterprise-project-id", "all_granted_eps"],
    ] {
        let out = run(&emulator, &[&base[..], other].concat()).await;
        assert_eq!(out.status.code(), Some(2), "{other:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("was written for other targets or options"),
            "{other:?}: {}",
            stderr(&out)
        );
        let error = lines(&out).pop().unwrap();
        assert_eq!(error["error"]["exit_status"], 2, "{error}");
        // Nothing was sent to HSS, and the journal is as it was.
        assert_eq!(hss_exchanges(), exchanges, "{other:?}");
        assert_eq!(std::fs::read(&journal).unwrap(), written, "{other:?}");
    }
    assert!(projects.iter().all(|p| creates(&emulator, p) == 1));

    // The same run with another pace is the same run: every target is skipped.
    let out = run(&emulator, &[&base[..], &["--concurrency", "2"]].concat()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let results = by_project(&out);
    assert_eq!(results.len(), projects.len());
    assert!(
        results.values().all(|l| l["outcome"] == "skipped"),
        "{results:?}"
    );
    assert!(projects.iter().all(|p| creates(&emulator, p) == 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_throttled_answer_slows_every_worker_of_the_fan_out() {
    // The gateway admits one CreateImageSynchronizeTask a 300 ms window. With no pace, eight
    // workers over projects of several regions (a client per region) start at once: one call
    // is admitted and the others are throttled. The limiter those clients share widens its
    // spacing at the first throttled answer, for every holder (at least 500 ms: wider than
    // the window), so every call after that is admitted. A worker has one call in flight at
    // a time, and its next one starts after the answer, paced: at most one throttled answer
    // per worker. Workers that each slowed only themselves (their own backoff after their own
    // 429) would keep colliding with each other until every target got through.
    const CONCURRENCY: usize = 8;
    let emulator = Emulator::new()
        .projects(8)
        .rate_limit_per(1, Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let projects = covered(&emulator);
    let regions: std::collections::BTreeSet<String> = emulator
        .account_projects()
        .into_iter()
        .map(|p| p.region)
        .collect();
    assert!(projects.len() >= CONCURRENCY, "{projects:?}");
    assert!(regions.len() > 1, "{regions:?}");
    let concurrency = CONCURRENCY.to_string();
    let out = run(
        &emulator,
        &[
            "sync",
            "--all-projects",
            "--rate",
            "off",
            "--concurrency",
            &concurrency,
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(projects.iter().all(|p| creates(&emulator, p) == 1));
    let throttled = emulator
        .exchanges()
        .iter()
        .filter(|e| e.status == 429)
        .count();
    eprintln!("{throttled} throttled answers for {CONCURRENCY} workers");
    assert!(throttled > 0, "the service throttled the first burst");
    assert!(
        throttled <= CONCURRENCY,
        "{throttled} throttled answers for {CONCURRENCY} workers"
    );
}

/// One drawing of a task's progress bar:
/// `<target> [=====>   ]  40% registries 1/3 00:00:01 ETA 2s`.
#[derive(Debug)]
struct Frame {
    percent: u32,
    done: u32,
    total: u32,
    elapsed: Duration,
}

/// Every drawing of a task's bar in what a terminal was sent.
fn bar_frames(screen: &str) -> Vec<Frame> {
    const MARK: &str = "% registries ";
    let mut frames = Vec::new();
    for (at, _) in screen.match_indices(MARK) {
        let digits = screen[..at]
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        let percent = screen[at - digits..at].parse().unwrap();
        let mut words = screen[at + MARK.len()..].split_whitespace();
        let counts = words.next().unwrap_or_default();
        let elapsed = words.next().unwrap_or_default();
        let (done, total) = counts
            .split_once('/')
            .unwrap_or_else(|| panic!("registries {counts:?}"));
        let hms: Vec<u64> = elapsed
            .split(':')
            .map(|n| {
                n.parse()
                    .unwrap_or_else(|e| panic!("elapsed {elapsed:?}: {e}"))
            })
            .collect();
        assert_eq!(hms.len(), 3, "elapsed {elapsed:?}");
        frames.push(Frame {
            percent,
            done: done.parse().unwrap(),
            total: total.parse().unwrap(),
            elapsed: Duration::from_secs(hms[0] * 3600 + hms[1] * 60 + hms[2]),
        });
    }
    frames
}
