//! The `hss-image-sync emulator` command as a process: https with `--tls --ca-out` and
//! `sync --ca-bundle`, memory that stays bounded, connections that cannot lock it out, and the
//! CLI's successor commands against it.

use hss_image_sync::emulator::{DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY};
use hss_image_sync::types::ImageType;
use hss_image_sync::{Credentials, HssClient};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hss-image-sync");

/// Tests that open thousands of sockets run one at a time.
static MANY_SOCKETS: Mutex<()> = Mutex::new(());

/// A running `hss-image-sync emulator`, killed when dropped.
struct EmulatorProcess {
    child: Child,
    endpoint: String,
}

impl EmulatorProcess {
    /// Starts `emulator --listen 127.0.0.1:0 ARGS`, its open-file limit first set by `ulimit`
    /// options (e.g. `-S -n 1024`) when given, and waits for its `listening on` line. Its log
    /// (stdout) is read and thrown away.
    fn start(args: &[&str], ulimit: Option<&str>) -> Self {
        let (emulator, mut stdout) = Self::start_with_log(args, ulimit);
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        emulator
    }

    /// [`start`](Self::start), its log left to the caller to read (or not).
    fn start_with_log(
        args: &[&str],
        ulimit: Option<&str>,
    ) -> (Self, std::io::BufReader<std::process::ChildStdout>) {
        let mut command = match ulimit {
            None => Command::new(BIN),
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
                    .arg(BIN);
                sh
            }
        };
        let mut child = command
            .env_clear()
            // Never the real metadata address, whatever a test forgets to configure.
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
        (EmulatorProcess { child, endpoint }, stdout)
    }

    fn addr(&self) -> String {
        self.endpoint.split_once("://").unwrap().1.to_owned()
    }

    /// The process's resident memory (VmRSS), in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: u64 = line
            .trim_start_matches("VmRSS:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    }

    /// CPU time used so far (user + system), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// The share of one core it used over `window`, while nothing is asked of it.
    fn cpu_share_at_rest(&self, window: Duration) -> f64 {
        // Linux reports CPU time in USER_HZ = 100 ticks per second.
        let before = self.cpu_ticks();
        std::thread::sleep(window);
        (self.cpu_ticks() - before) as f64 / 100.0 / window.as_secs_f64()
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Request number `i`, written in `parts` on a connection of its own; its whole answer, which
/// must come within 30 s.
async fn exchange(addr: &str, parts: &[&[u8]], i: usize) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    for part in parts {
        stream.write_all(part).await.unwrap();
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("request {i} not answered in 30 s"))
        .unwrap();
    answer
}

/// A fresh, empty folder for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hss-emulator-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `hss-image-sync sync ARGS` with the demo keys in the environment and an empty home.
fn sync(args: &[&str], home: &Path) -> Output {
    sync_with_env(args, home, &[])
}

/// [`sync`] with more environment variables.
fn sync_with_env(args: &[&str], home: &Path, env: &[(&str, &Path)]) -> Output {
    Command::new(BIN)
        .env_clear()
        .envs(env.iter().copied())
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("HOME", home)
        .env("HUAWEICLOUD_SDK_AK", DEMO_ACCESS_KEY)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SECRET_KEY)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .arg("sync")
        .args(args)
        .output()
        .unwrap()
}

/// Item 17: `emulator --tls --ca-out FILE` serves https with a CA it made, and `sync
/// --ca-bundle FILE` trusts it; without the bundle the certificate is refused.
#[test]
fn sync_over_https_with_the_ca_the_emulator_wrote() {
    let dir = scratch("tls");
    let ca = dir.join("ca.pem");
    let emulator = EmulatorProcess::start(&["--tls", "--ca-out", ca.to_str().unwrap()], None);
    assert!(
        emulator.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        emulator.endpoint
    );
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));

    let out = sync(
        &[
            "--endpoint",
            &emulator.endpoint,
            "--ca-bundle",
            ca.to_str().unwrap(),
            "--image-type",
            "private_image",
            "--timeout",
            "60",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let out = sync(
        &[
            "--endpoint",
            &emulator.endpoint,
            "--image-type",
            "private_image",
            "--no-retry",
            "--timeout",
            "60",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A TLS mismatch is configuration (exit 2), not retried, with what to do about it.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(
        stderr.contains("transport (tls) after 1 attempt(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("--ca-bundle"),
        "{stderr}"
    );

    // --ca-out needs --tls.
    let out = Command::new(BIN)
        .env_clear()
        // Never the real metadata address, whatever a test forgets to configure.
        .env("HUAWEICLOUD_SDK_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .args(["emulator", "--listen", "127.0.0.1:0", "--ca-out"])
        .arg(&ca)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The system CA store is read at the first TLS handshake, not when the client is built: with
/// no CA certificate on the system at all, a call to an `http://` endpoint works (it was a
/// configuration error, and reading the store was most of a one-shot call's time), an https
/// call works with `--ca-bundle`, and without it fails with the reason, not retried.
#[test]
fn system_roots_are_read_only_for_tls() {
    let dir = scratch("no-system-roots");
    let ca = dir.join("ca.pem");
    let empty_file = dir.join("empty.pem");
    std::fs::write(&empty_file, "").unwrap();
    let empty_dir = dir.join("certs");
    std::fs::create_dir(&empty_dir).unwrap();
    let no_roots = [
        ("SSL_CERT_FILE", empty_file.as_path()),
        ("SSL_CERT_DIR", empty_dir.as_path()),
    ];
    let common = [
        "--image-type",
        "private_image",
        "--no-retry",
        "--timeout",
        "60",
    ];

    let plain = EmulatorProcess::start(&[], None);
    let out = sync_with_env(
        &[&["--endpoint", &plain.endpoint][..], &common].concat(),
        &dir,
        &no_roots,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let tls = EmulatorProcess::start(&["--tls", "--ca-out", ca.to_str().unwrap()], None);
    let with_bundle = [
        &[
            "--endpoint",
            &tls.endpoint,
            "--ca-bundle",
            ca.to_str().unwrap(),
        ][..],
        &common,
    ]
    .concat();
    let out = sync_with_env(&with_bundle, &dir, &no_roots);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let out = sync_with_env(
        &[&["--endpoint", &tls.endpoint][..], &common].concat(),
        &dir,
        &no_roots,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("No CA certificates were loaded from the system"),
        "{stderr}"
    );
    assert!(
        stderr.contains("transport (tls) after 1 attempt(s)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The request log never holds up a request: with stdout not read (its pipe full), 10,000
/// requests are all answered, the lines that did not fit are dropped, and once stdout is read
/// again the log says how many; every request is a whole line or counted.
#[test]
fn an_unread_log_drops_lines_and_says_so() {
    let (emulator, stdout) = EmulatorProcess::start_with_log(&[], None);
    let addr = emulator.addr();
    let send = |count: usize| {
        let addr = addr.clone();
        async move {
            // Unsigned: refused, and logged.
            let request = format!(
                "POST /v5/{DEMO_PROJECT_ID}/image/synchronize HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            for i in 0..count {
                let answer = exchange(&addr, &[request.as_bytes()], i).await;
                assert!(answer.starts_with(b"HTTP/1.1 401 "), "request {i}");
            }
        }
    };
    runtime().block_on(async {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(send(1250))).collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Read the log now: every request is either a line or counted as dropped.
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if lines.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let (mut logged, mut dropped, mut notices) = (0, 0, 0);
    while let Ok(line) = read.recv_timeout(Duration::from_secs(3)) {
        if let Some(notice) = line.strip_prefix('(') {
            let (count, rest) = notice.split_once(' ').unwrap();
            assert_eq!(rest, "log lines dropped: stdout was not read)");
            dropped += count.parse::<u64>().unwrap();
            notices += 1;
        } else {
            assert!(
                line.starts_with("POST /v5/") && line.contains(" -> 401 rejected "),
                "{line}"
            );
            logged += 1;
        }
    }
    assert!(notices > 0 && dropped > 0, "{notices} notices");
    assert_eq!(
        logged + dropped,
        10_000,
        "{logged} logged, {dropped} dropped"
    );
}

/// Item 13: every request, its body included, was kept forever: 300 requests of 1 MB took
/// 385 MB that stayed. The log is bounded and keeps 4 KiB of each body.
#[test]
fn memory_stays_bounded_after_300_one_megabyte_requests() {
    let emulator = EmulatorProcess::start(&[], None);
    let addr = emulator.addr();
    runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // One request first, so that the baseline has the runtime and buffers warmed up.
        let started_with = {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let request = format!(
                "GET /_emulator/state HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            stream.read_to_end(&mut Vec::new()).await.unwrap();
            emulator.rss()
        };
        let body = vec![b'x'; 1_000_000];
        for i in 0..300 {
            let head = format!(
                "POST /v5/{DEMO_PROJECT_ID}/image/synchronize HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let answer = exchange(&addr, &[head.as_bytes(), &body], i).await;
            assert!(answer.starts_with(b"HTTP/1.1 401 "), "request {i}");
        }
        let ended_with = emulator.rss();
        eprintln!(
            "emulator RSS: {:.1} MB before, {:.1} MB after 300 requests of 1 MB",
            started_with as f64 / 1e6,
            ended_with as f64 / 1e6
        );
        assert!(
            ended_with < started_with + 100_000_000,
            "RSS grew from {started_with} to {ended_with} bytes"
        );
    });
}

/// Opens `count` connections that send nothing, each given `connect_wait` to connect; stops
/// at the first that cannot (the emulator no longer accepting).
async fn open_idle_connections(
    addr: &str,
    count: usize,
    connect_wait: Duration,
) -> Vec<tokio::net::TcpStream> {
    let mut open = Vec::with_capacity(count);
    for _ in 0..count {
        match tokio::time::timeout(connect_wait, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => open.push(stream),
            _ => break,
        }
    }
    open
}

/// Raises this test process's soft open-file limit, for thousands of client sockets; false
/// (and the test is skipped) where the hard limit does not allow enough.
fn enough_descriptors(needed: u64) -> bool {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit >= needed => true,
        other => {
            eprintln!("skipped: cannot have {needed} open files here ({other:?})");
            false
        }
    }
}

/// A signed call with a 10 s budget and no retry: it must go through at once.
async fn signed_call(endpoint: &str) -> Result<(), String> {
    let client = HssClient::builder()
        .endpoint(endpoint)
        .credentials(
            Credentials::new(DEMO_ACCESS_KEY, DEMO_SECRET_KEY).with_project_id(DEMO_PROJECT_ID),
        )
        .no_retry()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client
        .run_image_synchronize(ImageType::PrivateImage, |op| op)
        .await
        .map(drop)
        .map_err(|e| format!("{e:?}"))
}

/// Item 14: with its soft open-file limit at a common 1024, 2,000 idle connections took every
/// descriptor; the accept loop then spun on EMFILE and a normal call timed out. The command
/// raises its soft limit to the hard one, so the call still goes through, and it rests.
#[test]
fn two_thousand_idle_connections_do_not_lock_out_a_signed_call() {
    signed_call_after_idle_connections("-S -n 1024");
}

/// Item 14: where even the hard limit is low (256 here), the emulator closes the connections
/// idle the longest to accept new ones, instead of spinning on EMFILE: 2,000 idle connections
/// later, a signed call still goes through, and the process rests.
#[test]
fn at_a_low_hard_descriptor_limit_idle_connections_make_room() {
    signed_call_after_idle_connections("-n 256");
}

/// An emulator under `ulimit LIMIT` gets 2,000 idle connections, then a signed call, which
/// must go through; afterwards it must rest.
fn signed_call_after_idle_connections(limit: &str) {
    let _one_at_a_time = MANY_SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    if !enough_descriptors(2_500) {
        return;
    }
    let emulator = EmulatorProcess::start(&[], Some(limit));
    runtime().block_on(async {
        let idle = open_idle_connections(&emulator.addr(), 2_000, Duration::from_secs(5)).await;
        assert_eq!(idle.len(), 2_000, "connections accepted");
        let started = Instant::now();
        signed_call(&emulator.endpoint).await.unwrap();
        eprintln!(
            "signed call under `ulimit {limit}` with 2,000 idle connections: {:?}",
            started.elapsed()
        );
        let share = emulator.cpu_share_at_rest(Duration::from_secs(2));
        assert!(share < 0.5, "{:.0} % of a core while idle", share * 100.0);
        drop(idle);
    });
}

// The successor operations from the command line: `registries list`, `sync --registries`,
// `tasks list`, `tasks show`, the deprecated `sync --image-type`, `--dry-run` of each, and
// refused input.

impl EmulatorProcess {
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
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn field<'a>(value: &'a serde_json::Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {value}"))
}

#[test]
fn registries_sync_and_tasks_end_to_end() {
    // The Harbor registry of the default set fails; the task takes a second.
    let probe = EmulatorProcess::start(&[], None);
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

    let emulator = EmulatorProcess::start(
        &["--task-seconds", "1", "--fail-registry", &harbor_id],
        None,
    );
    let only_harbor = emulator.json(&["registries", "list", "--type", "Harbor"]);
    assert_eq!(only_harbor.as_array().unwrap().len(), 1);

    // Two registries named by ID:TYPE.
    let named = format!("{swr_id}:SwrPrivate,{harbor_id}:Harbor");
    let out = emulator.cli(&["sync", "--registries", &named]);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
    // `--task-id` picks the one task out of the two.
    let picked = emulator.json(&["tasks", "list", "--task-id", &task_id]);
    let picked = picked.as_array().unwrap();
    assert_eq!(picked.len(), 1, "{picked:?}");
    assert_eq!(field(&picked[0], "task_id"), task_id);
    let none = emulator.json(&["tasks", "list", "--task-id", "no-such-task"]);
    assert_eq!(none.as_array().unwrap().len(), 0, "{none}");

    // The deprecated call says so, in one line on stderr.
    let out = emulator.cli(&["sync", "--image-type", "private_image"]);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let stderr = lossy(&out.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.contains("deprecated")).count(),
        1,
        "{stderr}"
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["error_code"], 0);
}

#[test]
fn a_task_the_emulator_ends_terminated_or_timed_out_fails_the_wait() {
    for (how, state) in [
        ("terminated", "task terminated"),
        ("timed-out", "task timed out"),
    ] {
        let emulator = EmulatorProcess::start(&["--task-seconds", "0", "--end-tasks", how], None);
        let out = emulator.cli(&[
            "sync",
            "--wait",
            "--rate",
            "off",
            "--poll-min",
            "0.1",
            "--no-progress",
        ]);
        assert_eq!(out.status.code(), Some(4), "{how}: {}", lossy(&out.stderr));
        let stdout = lossy(&out.stdout);
        let result: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(result["outcome"], "failed", "{result}");
        assert_eq!(result["failures"][0]["name"], state, "{result}");
        assert!(result["failures"][0]["reason"].is_string(), "{result}");
    }
}

#[test]
fn every_command_has_a_dry_run_that_sends_nothing() {
    let emulator = EmulatorProcess::start(&[], None);
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
        assert!(out.status.success(), "{args:?}: {}", lossy(&out.stderr));
        let stdout = lossy(&out.stdout);
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
    let emulator = EmulatorProcess::start(&[], None);
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
            lossy(&out.stderr)
        );
        let stderr = lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        // In json mode (the default) the error is a JSON object on stdout as well, whether
        // the command line or the spec's rules refused the value.
        let error: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", lossy(&out.stdout)));
        assert_eq!(error["error"]["exit_status"], 2, "{args:?}: {error}");
        assert!(
            field(&error["error"], "message").contains(named),
            "{args:?}: {error}"
        );
        let text = emulator.cli(&[&args[..], &["--output", "text"]].concat());
        assert_eq!(text.status.code(), Some(2), "{args:?}");
        assert!(
            text.stdout.is_empty(),
            "{args:?}: text mode, errors on stderr only"
        );
    }
    // A refused enum value is told which values there are.
    let out = emulator.cli(&["tasks", "list", "--status", "running"]);
    assert!(
        lossy(&out.stderr).contains("must be one of: scanning, finished"),
        "{}",
        lossy(&out.stderr)
    );
    assert!(
        emulator
            .json(&["tasks", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
