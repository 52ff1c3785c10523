//! `hss-image-sync sync`.

use crate::terminal::{json_for_terminal, printable};
use clap::Args;
use hss_image_sync::emulator::{Emulator, RunningEmulator};
use hss_image_sync::{
    AuthToken, Error, HssClient, HssClientBuilder, ImageType, RetryPolicy, SyncRequest, credentials,
};
use std::process::ExitCode;
use std::time::Duration;

/// Exit status when the input or configuration is invalid and nothing was sent.
const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Which SWR image repositories to synchronize.
    #[arg(long, value_enum)]
    image_type: ImageType,

    /// HSS region, e.g. cn-north-4; the endpoint is https://hss.<region>.myhuaweicloud.com
    /// (.eu for eu-west-101) unless HUAWEICLOUD_SDK_REGION_HSS_<REGION> overrides it.
    #[arg(long, required_unless_present_any = ["endpoint", "emulator"])]
    region: Option<String>,

    /// Explicit endpoint, e.g. https://hss.cn-north-4.myhuaweicloud.com or http://127.0.0.1:8080;
    /// wins over --region.
    #[arg(long)]
    endpoint: Option<String>,

    /// Run against an embedded emulator on 127.0.0.1 with its demo credentials (no cloud account
    /// needed), and show what it verified.
    #[arg(long, conflicts_with_all = ["region", "endpoint", "auth_token"])]
    emulator: bool,

    /// Project ID (1..256 characters); defaults to the credentials' project_id.
    #[arg(long)]
    project_id: Option<String>,

    /// Enterprise project ID (1..256 characters): "0" is the default project, "all_granted_eps"
    /// all of them. Not sent unless given (the service then uses "0").
    #[arg(long)]
    enterprise_project_id: Option<String>,

    /// Value of the API's `region` header (0..128 characters). Not sent unless given.
    #[arg(long)]
    region_header: Option<String>,

    /// Authenticate with this IAM token (X-Auth-Token) instead of signing with AK/SK.
    #[arg(long, env = "HUAWEICLOUD_SDK_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,

    /// Also trust the CA certificates in this PEM file (a gateway behind a private CA, or
    /// `hss-image-sync emulator --tls --ca-out FILE`). The platform's roots, and
    /// SSL_CERT_FILE when set, are trusted as well.
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<std::path::PathBuf>,

    /// Timeout of the whole call in seconds, retries and the delays between them included.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,

    /// Attempts in all, first try included. Connection failures and resets, attempt timeouts,
    /// 408, 429 and 503 (honouring Retry-After), 500, 502 and 504 are retried with exponential
    /// backoff and full jitter (1 s base, 20 s cap); other errors are not. Retrying is safe:
    /// synchronizing twice has the same effect as once.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,

    /// One attempt only (same as --max-attempts 1).
    #[arg(long, conflicts_with = "max_attempts")]
    no_retry: bool,
}

pub async fn run(args: SyncArgs) -> ExitCode {
    let emulator = if args.emulator {
        match Emulator::new().start().await {
            Ok(running) => Some(running),
            Err(e) => {
                eprintln!("error: cannot start the embedded emulator: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let built = build_client(&args, emulator.as_ref());
    // The client holds its own copy, wiped when it is dropped; this one goes now.
    let mut args = args;
    if let Some(token) = args.auth_token.as_mut() {
        zeroize::Zeroize::zeroize(token);
    }
    let client = match built {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let code = sync(&client, &args).await;
    if let Some(running) = emulator {
        show_verification(&running);
    }
    code
}

/// What the embedded emulator checked, on stderr.
fn show_verification(emulator: &RunningEmulator) {
    for exchange in emulator.exchanges() {
        eprintln!("emulator: {}", exchange.log_line());
        if let Some(canonical) = &exchange.canonical_request {
            eprintln!("emulator: signature verified over the canonical request:");
            for line in canonical.to_string().lines() {
                eprintln!("emulator:   {line}");
            }
        }
    }
    let state = emulator.state();
    if let Ok(json) = serde_json::to_string(&state) {
        eprintln!("emulator: state {json}");
    }
}

fn retry_policy(args: &SyncArgs) -> RetryPolicy {
    RetryPolicy::default().with_max_attempts(if args.no_retry { 1 } else { args.max_attempts })
}

fn timeout(args: &SyncArgs) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| Error::InvalidInput {
            field: "--timeout",
            rule: "must be a positive number of seconds".into(),
        })
}

async fn sync(client: &HssClient, args: &SyncArgs) -> ExitCode {
    let mut request = SyncRequest::new(args.image_type);
    if let Some(id) = &args.project_id {
        request = request.project_id(id);
    }
    if let Some(id) = &args.enterprise_project_id {
        request = request.enterprise_project_id(id);
    }
    if let Some(region) = &args.region_header {
        request = request.region_header(region);
    }
    match client.run_image_synchronize(&request).await {
        Ok(response) => {
            match serde_json::to_string_pretty(&response) {
                Ok(json) => println!("{}", json_for_terminal(&json)),
                Err(e) => eprintln!("error: cannot print the response: {e}"),
            }
            if let Some(id) = &response.request_id {
                eprintln!("request id: {}", printable(id));
            }
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

/// The client for the call: pointed at the embedded emulator with its keys, or configured
/// from the arguments and the credential chain.
fn build_client(args: &SyncArgs, emulator: Option<&RunningEmulator>) -> Result<HssClient, Error> {
    let mut builder = match emulator {
        Some(running) => running.client_builder(),
        None => configured(HssClient::builder(), args)?,
    };
    if let Some(file) = &args.ca_bundle {
        builder = builder.ca_bundle_file(file);
    }
    builder
        .timeout(timeout(args)?)
        .retry(retry_policy(args))
        .build()
}

fn configured(mut builder: HssClientBuilder, args: &SyncArgs) -> Result<HssClientBuilder, Error> {
    if let Some(endpoint) = &args.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(region) = &args.region {
        builder = builder.region(region);
    }
    Ok(match &args.auth_token {
        // An IAM token carries no project: take the one configured for the official SDKs.
        Some(token) => {
            let builder = builder.auth_token(AuthToken::new(token));
            match credentials::default_project_id() {
                Some(project_id) => builder.project_id(project_id),
                None => builder,
            }
        }
        None => builder.credentials(credentials::default_chain()?),
    })
}

/// Prints what went wrong on stderr and picks the exit status.
fn report(error: &Error) -> ExitCode {
    match error {
        Error::Service(e) => {
            eprintln!("error: the service refused the request");
            eprintln!("status: {}", e.status);
            eprintln!(
                "request id: {}",
                printable(e.request_id.as_deref().unwrap_or("none"))
            );
            eprintln!("error code: {}", printable(&e.error_code));
            eprintln!("error message: {}", printable(&e.error_msg));
            if let Some(encoded) = &e.encoded_authorization_message {
                eprintln!("encoded authorization message: {}", printable(encoded));
            }
            eprintln!("attempts: {}", e.attempts);
            ExitCode::FAILURE
        }
        Error::NonZeroErrorCode {
            error_code,
            description,
            request_id,
            ..
        } => {
            eprintln!("error: synchronization failed");
            eprintln!("status: 200");
            eprintln!(
                "request id: {}",
                printable(request_id.as_deref().unwrap_or("none"))
            );
            eprintln!("error code: {error_code}");
            eprintln!("error message: {}", printable(description));
            ExitCode::FAILURE
        }
        Error::InvalidInput { .. } | Error::Config { .. } | Error::Credentials(_) => {
            eprintln!("error: {}", printable(&with_causes(error)));
            ExitCode::from(EXIT_INVALID)
        }
        other => {
            eprintln!("error: {}", printable(&with_causes(other)));
            ExitCode::FAILURE
        }
    }
}

/// The error and its chain of causes, `: `-separated (reqwest's own text says only "error
/// sending request"; the causes say refused, reset, certificate ...).
fn with_causes(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
