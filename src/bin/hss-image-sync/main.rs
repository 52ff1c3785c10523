//! `hss-image-sync`: the command-line tool over the library.

mod connection;
mod emulator;
mod fanout;
mod journal;
mod notes;
mod output;
mod progress;
mod projects;
mod registries;
mod render;
mod status;
mod sync;
mod tasks;
mod terminal;
mod whoami;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// Synchronize the image lists of your registries (SWR, Harbor, ...) into Huawei Cloud HSS (Host
/// Security Service), so that HSS scans those images, and follow the synchronization tasks
/// (APIs CreateImageSynchronizeTask, ListImageScanTask, ListAssociateRegistries, ListRegistry).
///
/// Authentication: AK/SK signing (SDK-HMAC-SHA256 unless --signing-algorithm) with keys from
/// the first of these that is configured, the official SDKs' chain:
/// (1) OIDC: HUAWEICLOUD_OIDC_PROVIDER_URN, HUAWEICLOUD_OIDC_AGENCY_URN and
/// HUAWEICLOUD_OIDC_ID_TOKEN or HUAWEICLOUD_OIDC_TOKEN_FILE, traded at STS for temporary keys;
/// (2) the environment: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (with
/// HUAWEICLOUD_SDK_SECURITY_TOKEN, HUAWEICLOUD_SDK_PROJECT_ID), or HUAWEICLOUD_SDK_IDP_ID and
/// HUAWEICLOUD_SDK_ID_TOKEN_FILE for a federated login through IAM;
/// (3) the profile file: HUAWEICLOUD_SDK_CREDENTIALS_FILE or ~/.huaweicloud/credentials,
/// section [basic]: ak, sk, security_token, project_id (or idp_id, id_token_file);
/// (4) ECS metadata: the agency of the ECS instance this runs on;
/// (5) CCE pod identity: HC_CONTAINER_CREDENTIALS_FULL_URI and
/// HC_CONTAINER_AUTHORIZATION_TOKEN_FILE.
/// Temporary keys are fetched again before they expire. Or an IAM token (X-Auth-Token) from
/// HUAWEICLOUD_SDK_AUTH_TOKEN or --auth-token-file, which wins over AK/SK.
///
/// Exit status: 0 success; 1 the service refused (an error answer, or a 200 whose error_code is
/// not 0: retrying will not help); 2 invalid input or configuration (a TLS mismatch included),
/// nothing sent; 3 retry later: no answer, or 408/429/5xx after the retries; 4 a task, a
/// registry, or in a run over many targets a target, failed (when every target failed alike,
/// that failure's status instead); 5 gave up waiting (`sync --wait`) while a task still ran;
/// 130 interrupted before every target started.
///
/// HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured.
#[derive(Debug, Parser)]
#[command(name = "hss-image-sync", version, max_term_width = 100)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// How results are printed on stdout: json (one document per result, each naming its
    /// target; errors too), table (fits the terminal) or text (plain lines).
    #[arg(long, global = true, value_enum, default_value_t = render::Format::Json)]
    output: render::Format,

    /// No progress on stderr for `sync --wait` (by default bars on a terminal, else one JSON
    /// line per change).
    #[arg(long, global = true)]
    no_progress: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ask HSS to synchronize the image lists of every registry, or of those named
    /// (CreateImageSynchronizeTask); with --image-type, the deprecated RunImageSynchronize.
    Sync(sync::SyncArgs),
    /// Image synchronization tasks: list them, or show one with its registries.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// The registries connected to HSS, with the IDs and types `sync --registries` takes.
    #[command(subcommand)]
    Registries(registries::RegistriesCommand),
    /// List the HSS regions this tool knows, with their endpoints (after any
    /// HUAWEICLOUD_SDK_REGION_HSS_<REGION> override).
    Regions,
    /// Show what a call would use: credential source, access key (masked), expiry of temporary
    /// keys, signing algorithm, endpoint, and the project ID and how it was found. Nothing
    /// secret is printed, and nothing is sent to HSS (IAM may be asked for the project ID,
    /// once, within --timeout).
    #[command(
        mut_arg("emulator", |arg| arg.help(
            "What a call to the embedded emulator would use (its endpoint and demo keys); the \
             emulator is started, and asked nothing"
        )),
        mut_arg("max_attempts", |arg| arg.hide(true)),
        mut_arg("no_retry", |arg| arg.hide(true))
    )]
    Whoami(whoami::WhoamiArgs),
    /// The projects `sync --all-projects` covers: every project of the account (IAM) in the
    /// regions HSS serves, region projects and their sub-projects.
    Projects(projects::ProjectsArgs),
    /// Serve an emulator of HSS behind the API gateway (signature checks, validation, state),
    /// logging one line per request, until interrupted.
    Emulator(emulator::EmulatorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout, e.g.
    /// `hss-image-sync completions bash > /etc/bash_completion.d/hss-image-sync`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, e.g. `hss-image-sync man | man -l -`.
    Man,
}

/// `--version`: the version, the commit built from and the enabled features.
fn version() -> &'static str {
    let features: Vec<&str> = [
        ("cli", cfg!(feature = "cli")),
        ("emulator", cfg!(feature = "emulator")),
        ("ecdsa", cfg!(feature = "ecdsa")),
        ("sm2", cfg!(feature = "sm2")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let text = format!(
        "{} (commit {}; features: {})",
        env!("CARGO_PKG_VERSION"),
        env!("HSS_IMAGE_SYNC_COMMIT"),
        features.join(", ")
    );
    // Made once per run, for clap's `&'static str`.
    Box::leak(text.into_boxed_str())
}

/// A command line clap refused, as clap prints it (exit status 2), and in json mode also as a
/// JSON error on stdout like every other error; help and `--version` print as they are.
fn usage_error(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let shown = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    // clap stopped at the error: the output asked for is read from the arguments themselves.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut asked =
        args.iter()
            .enumerate()
            .filter_map(|(i, arg)| match arg.strip_prefix("--output") {
                Some("") => args.get(i + 1).map(String::as_str),
                Some(rest) => rest.strip_prefix('='),
                None => None,
            });
    let format = asked
        .next_back()
        .and_then(|name| <render::Format as clap::ValueEnum>::from_str(name, false).ok())
        .unwrap_or_default();
    if !shown && format == render::Format::Json {
        let text = error.to_string();
        let first = text.lines().next().unwrap_or_default();
        // The same object as every other error's (exit status 2, not retryable).
        let refused = hss_image_sync::Error::InvalidInput {
            field: "command line",
            rule: first.strip_prefix("error: ").unwrap_or(first).to_owned(),
        };
        render::print_line(&serde_json::json!({ "error": status::error_json(&refused) }));
    }
    error.exit()
}

/// The exit status of a command that stopped early (`Err`, already reported) or ran.
fn done(outcome: Result<ExitCode, ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) | Err(code) => code,
    }
}

fn command() -> clap::Command {
    Cli::command().version(version())
}

fn main() -> ExitCode {
    let cli = match command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    init_logging(cli.verbose);
    render::set_format(cli.output);
    progress::set_enabled(!cli.no_progress);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Sync(args) => runtime.block_on(sync::run(args)),
        Command::Tasks(command) => done(runtime.block_on(tasks::run(command))),
        Command::Registries(command) => done(runtime.block_on(registries::run(command))),
        Command::Whoami(args) => runtime.block_on(whoami::run(args)),
        Command::Regions => {
            let regions: Vec<serde_json::Value> = hss_image_sync::region::REGIONS
                .iter()
                .map(|region| {
                    let endpoint = hss_image_sync::region::endpoint(region).unwrap_or_default();
                    serde_json::json!({ "region": region, "endpoint": endpoint })
                })
                .collect();
            render::print(&serde_json::Value::Array(regions));
            ExitCode::SUCCESS
        }
        Command::Projects(args) => runtime.block_on(projects::run(args)),
        Command::Emulator(args) => runtime.block_on(emulator::run(args)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut command(),
                "hss-image-sync",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Man => match clap_mangen::Man::new(command()).render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the manual page: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = if verbose == 0 && std::env::var_os("RUST_LOG").is_none() {
        // Without -v: warnings as one plain line each ("warning: retrying in 1.2 s after ...").
        builder.event_format(PlainLines).try_init()
    } else {
        builder.try_init()
    };
}

/// `warning: <message> <fields>`, with neither time, target nor spans.
struct PlainLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for PlainLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            _ => "debug",
        };
        write!(writer, "{level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
