//! `hss-image-sync emulator`: serve the HSS emulator until interrupted.

use crate::connection::EXIT_INVALID;
use crate::terminal::printable;
use clap::Args;
use hss_image_sync::emulator::{
    DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, Emulator, Exchange, TaskEnd,
};
use std::borrow::Cow;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on, HOST:PORT (a name such as localhost is resolved; the first
    /// address is used); port 0 picks a free one. The first line printed on stdout is
    /// `listening on http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,

    /// Access key ID to accept (default: the demo key).
    #[arg(long)]
    ak: Option<String>,

    /// Secret key of --ak (default: the demo key). Prefer HSS_EMULATOR_SK or --sk-file: a
    /// command line is visible to other users.
    #[arg(long, hide_env_values = true, env = "HSS_EMULATOR_SK")]
    sk: Option<String>,

    /// Read the secret key of --ak from this file (`-`: standard input), trimmed.
    /// Wins over HSS_EMULATOR_SK.
    #[arg(long, value_name = "PATH")]
    sk_file: Option<std::path::PathBuf>,

    /// Treat the access key as temporary: require and verify this X-Security-Token.
    #[arg(long, hide_env_values = true, env = "HSS_EMULATOR_SECURITY_TOKEN")]
    security_token: Option<String>,

    /// Also accept IAM-token authentication with this X-Auth-Token.
    #[arg(long, hide_env_values = true, env = "HSS_EMULATOR_TOKEN")]
    token: Option<String>,

    /// Run the emulator's clock this many seconds ahead (negative: behind) of the system clock.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset: i64,

    /// Serve https, with a certificate made at start: a fresh CA, and a server certificate it
    /// signs for localhost, 127.0.0.1 and the --listen address. Clients must trust the CA (see
    /// --ca-out).
    #[arg(long)]
    tls: bool,

    /// With --tls: write the CA certificate (PEM, public) to FILE before serving, for
    /// `sync --ca-bundle FILE` or `curl --cacert FILE`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca_out: Option<std::path::PathBuf>,

    /// How long a synchronization task (CreateImageSynchronizeTask) runs, in seconds: its
    /// task_status goes from 0 to 100 over this time (0: it ends at once).
    #[arg(long, value_name = "N", default_value_t = hss_image_sync::emulator::DEFAULT_TASK_SECONDS)]
    task_seconds: u64,

    /// Synchronizing the registry with this ID fails (repeat for several); ListRegistry shows
    /// the IDs.
    #[arg(long, value_name = "ID")]
    fail_registry: Vec<String>,

    /// Every task ends this way instead of done: `terminated` (task_status -1) or `timed-out`
    /// (-2), with a failed_reason.
    #[arg(long, value_name = "HOW")]
    end_tasks: Option<TaskEnd>,

    /// Model an account of N projects (1..=10000) spread over the regions HSS serves, with
    /// sub-projects: IAM lists them (GET /v3/auth/projects, plus its MOS project), and HSS
    /// serves those only (any other project: 403). The region project of cn-north-4 is the
    /// demo project; the others are acc0 followed by their index in 28 hex digits.
    #[arg(long, value_name = "N", value_parser = parse_projects)]
    projects: Option<usize>,

    /// That project's HSS calls fail with 403 (HSS not enabled for it); repeat for several.
    #[arg(long, value_name = "ID")]
    fail_project: Vec<String>,

    /// Throttle like the API gateway: past N calls a minute of one HSS operation by one access
    /// key, answer 429 APIG.0308 (a sliding 60 s window; IAM is not counted). N/min or N, with
    /// N in 1..=10000; or N/s, a window of a second (for quick tests).
    #[arg(long, value_name = "N/min", value_parser = parse_rate_limit)]
    rate_limit: Option<RateLimit>,
}

/// `--projects`: a whole number in 1..=MAX_ACCOUNT_PROJECTS.
fn parse_projects(value: &str) -> Result<usize, String> {
    let max = hss_image_sync::emulator::MAX_ACCOUNT_PROJECTS;
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number of projects in 1..={max}"))
}

/// `--rate-limit`: calls per window.
#[derive(Debug, Clone, Copy)]
struct RateLimit {
    calls: u32,
    window: Duration,
}

/// `--rate-limit`: `N/min` or `N` (a minute), or `N/s` (a second); N a whole number in
/// 1..=MAX_RATE_LIMIT.
fn parse_rate_limit(value: &str) -> Result<RateLimit, String> {
    let max = hss_image_sync::emulator::MAX_RATE_LIMIT;
    let trimmed = value.trim();
    let (number, window) = match trimmed.split_once('/') {
        None => (trimmed, Some(60)),
        Some((number, "min")) => (number, Some(60)),
        Some((number, "s")) => (number, Some(1)),
        Some((number, _)) => (number, None),
    };
    let calls = number.parse::<u32>().ok().filter(|n| (1..=max).contains(n));
    match (calls, window) {
        (Some(calls), Some(secs)) => Ok(RateLimit {
            calls,
            window: Duration::from_secs(secs),
        }),
        _ => Err(format!(
            "must be N/min or N (calls a minute per access key and operation), or N/s, with N \
             in 1..={max}"
        )),
    }
}

pub async fn run(mut args: EmulatorArgs) -> ExitCode {
    if !clock_offset_fits(args.clock_offset) {
        eprintln!(
            "error: invalid input: --clock-offset: {} s puts the emulator's clock outside the \
             years 1970..=9999",
            args.clock_offset
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let mut emulator = Emulator::new()
        .clock_offset_secs(args.clock_offset)
        .task_seconds(args.task_seconds);
    for id in &args.fail_registry {
        emulator = emulator.fail_registry(id);
    }
    if let Some(end) = args.end_tasks {
        emulator = emulator.end_tasks(end);
    }
    for id in &args.fail_project {
        emulator = emulator.fail_project(id);
    }
    if let Some(n) = args.projects {
        emulator = emulator.projects(n);
    }
    if let Some(limit) = args.rate_limit {
        emulator = emulator.rate_limit_per(limit.calls, limit.window);
    }
    if args.sk_file.is_some() && args.sk.is_some() {
        if !crate::connection::from_environment(args.sk.as_deref(), "HSS_EMULATOR_SK") {
            eprintln!("error: invalid input: --sk and --sk-file: give one of them, not both");
            return ExitCode::from(EXIT_INVALID);
        }
        eprintln!("note: --sk-file wins over HSS_EMULATOR_SK");
    }
    if let Some(path) = args.sk_file.take() {
        match crate::connection::read_secret_file(&path, "--sk-file") {
            Ok(sk) => {
                // The environment's copy, if any, is wiped as the file's replaces it.
                if let Some(old) = args.sk.as_mut() {
                    zeroize::Zeroize::zeroize(old);
                }
                args.sk = Some(sk);
            }
            Err(e) => {
                eprintln!("error: {}", printable(&e.to_string()));
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    if args.ak.is_some() != args.sk.is_some() {
        eprintln!(
            "error: invalid input: --ak and --sk (or --sk-file, HSS_EMULATOR_SK) go together"
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let demo = args.ak.is_none();
    if let (Some(ak), Some(sk)) = (&args.ak, &args.sk) {
        emulator = emulator.key_pair(ak, sk);
    }
    if let Some(token) = &args.security_token {
        emulator = emulator.security_token(token);
    }
    if let Some(token) = &args.token {
        emulator = emulator.auth_token(token);
    }
    // The emulator holds its own copies of the secrets; the arguments' copies go now.
    for secret in [&mut args.sk, &mut args.security_token, &mut args.token]
        .into_iter()
        .flatten()
    {
        zeroize::Zeroize::zeroize(secret);
    }
    raise_open_file_limit();
    let emulator = emulator.on_exchange(log_writer()).tls(args.tls);
    let listen = match resolve(&args.listen).await {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!(
                "error: invalid input: --listen {}: {e}",
                printable(&args.listen)
            );
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let running = match emulator.start_on(listen).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if let (Some(path), Some(pem)) = (&args.ca_out, running.ca_certificate_pem())
        && let Err(e) = write_replacing(path, pem.as_bytes())
    {
        eprintln!(
            "error: cannot write the CA certificate to {}: {e}",
            printable(&path.display().to_string())
        );
        return ExitCode::from(EXIT_INVALID);
    }
    println!("listening on {}", running.endpoint());
    if demo {
        eprintln!(
            "demo credentials: HUAWEICLOUD_SDK_AK={DEMO_ACCESS_KEY} HUAWEICLOUD_SDK_SK={DEMO_SECRET_KEY} \
             HUAWEICLOUD_SDK_PROJECT_ID={DEMO_PROJECT_ID}"
        );
    }
    eprintln!(
        "state: GET {}/_emulator/state; stop with Ctrl-C",
        running.endpoint()
    );
    if let Some(n) = args.projects {
        eprintln!(
            "account: {n} projects (GET {0}/v3/auth/projects); synchronizations per project: \
             GET {0}/_emulator/calls",
            running.endpoint()
        );
    }
    if args.tls && args.ca_out.is_none() {
        eprintln!("the CA certificate to trust (or use --ca-out FILE):");
        eprint!("{}", running.ca_certificate_pem().unwrap_or_default());
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: waiting for Ctrl-C: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `contents` to a new file beside `path`, then renames it to `path`: never through a
/// symbolic link planted there, never into a file someone else made (what was at `path` is
/// replaced, not written to; a link's target stays as it was).
fn write_replacing(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    for attempt in 0..100u32 {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.{attempt}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
        // `create_new` fails on anything already there, a symbolic link included.
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = file
            .write_all(contents)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        return written;
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free temporary name beside it",
    ))
}

/// Lines queued for stdout before new ones are dropped.
const LOG_QUEUE: usize = 4096;
/// Bytes of queued lines written to stdout at once.
const LOG_BATCH_BYTES: usize = 64 << 10;
/// The log writer's pause after each write, for lines to gather.
const LOG_PAUSE: Duration = Duration::from_millis(10);

/// The per-request log: one line per exchange, control characters escaped (a client's request
/// must not drive the operator's terminal), written by a thread of its own. Request handling
/// never waits for stdout: when nobody reads it and the queue is full, lines are dropped and
/// counted, and the count is reported once stdout moves again. The thread writes what has
/// queued up in one go and then pauses for [`LOG_PAUSE`]: under load, one write and no
/// wake-up per request (waking the writer for each line cost an eighth of the emulator's CPU).
fn log_writer() -> impl Fn(&Exchange) + Send + Sync + 'static {
    let (queue, lines) = std::sync::mpsc::sync_channel::<String>(LOG_QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let reported = dropped.clone();
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut batch = String::new();
        while let Ok(line) = lines.recv() {
            batch.clear();
            let missed = reported.swap(0, Ordering::Relaxed);
            if missed > 0 {
                batch.push_str(&format!(
                    "({missed} log lines dropped: stdout was not read)\n"
                ));
            }
            batch.push_str(&line);
            batch.push('\n');
            while batch.len() < LOG_BATCH_BYTES {
                let Ok(line) = lines.try_recv() else { break };
                batch.push_str(&line);
                batch.push('\n');
            }
            let mut out = stdout.lock();
            if out
                .write_all(batch.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return;
            }
            drop(out);
            std::thread::sleep(LOG_PAUSE);
        }
    });
    move |exchange: &Exchange| {
        let line = exchange.log_line();
        let line = match printable(&line) {
            Cow::Borrowed(_) => line,
            Cow::Owned(escaped) => escaped,
        };
        if queue.try_send(line).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Raises the soft limit on open files to the hard one: every connection takes a descriptor,
/// and a common soft limit of 1024 is far below the emulator's connection cap. (At the limit,
/// the emulator closes idle connections to accept new ones.)
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!("open-file limit: {limit}"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
}

/// Whether the emulator's clock, shifted by `offset_secs`, can still be written as a date.
fn clock_offset_fits(offset_secs: i64) -> bool {
    let now = std::time::SystemTime::now();
    let by = Duration::from_secs(offset_secs.unsigned_abs());
    let shifted = if offset_secs >= 0 {
        now.checked_add(by)
    } else {
        now.checked_sub(by)
    };
    shifted.is_some_and(|t| hss_image_sync::signer::sdk_date::format(t).is_some())
}

/// `HOST:PORT`, with a name resolved (`localhost:8080`); the first address wins.
async fn resolve(listen: &str) -> std::io::Result<SocketAddr> {
    if let Ok(addr) = listen.parse() {
        return Ok(addr);
    }
    tokio::net::lookup_host(listen)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address"))
}
