//! What every command that talks to HSS shares: where to connect, how to authenticate, time
//! limits; building the client from them; and reporting errors with an exit status.

use crate::notes;
use crate::status::with_causes;
use crate::terminal::printable;
use clap::Args;
use hss_image_sync::emulator::RunningEmulator;
use hss_image_sync::{AuthToken, Error, HssClient, HssClientBuilder, RetryPolicy, credentials};
use std::process::ExitCode;
use std::time::Duration;

pub use crate::status::EXIT_INVALID;

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// HSS region, e.g. cn-north-4 (any case; `hss-image-sync regions` lists them); the endpoint
    /// is https://hss.<region>.myhuaweicloud.com (.eu for eu-west-101) unless
    /// HUAWEICLOUD_SDK_REGION_HSS_<REGION> overrides it. HUAWEICLOUD_SDK_REGION is this tool's
    /// own variable, not the official SDKs'.
    #[arg(long, env = "HUAWEICLOUD_SDK_REGION", required_unless_present_any = ["endpoint", "emulator"])]
    region: Option<String>,

    /// Explicit endpoint, e.g. https://hss.cn-north-4.myhuaweicloud.com or http://127.0.0.1:8080;
    /// wins over --region.
    #[arg(long)]
    endpoint: Option<String>,

    /// Run against an embedded emulator on 127.0.0.1 with its demo credentials (no cloud account
    /// needed), and show what it verified.
    /// An IAM token from the environment is ignored.
    #[arg(long, conflicts_with_all = ["endpoint"])]
    pub emulator: bool,

    /// Project ID (1..256 characters); defaults to the credentials' project_id
    /// (HUAWEICLOUD_SDK_PROJECT_ID, the profile file), else the project IAM lists for --region.
    /// `sync` takes several (repeated or comma-separated), all in --region.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub project_id: Vec<String>,

    /// IAM endpoint for looking up the project ID (default: HUAWEICLOUD_SDK_IAM_ENDPOINT, else
    /// the region's IAM endpoint).
    #[arg(long, value_name = "URL")]
    iam_endpoint: Option<String>,

    /// Take the keys from this section of the profile file (HUAWEICLOUD_SDK_CREDENTIALS_FILE or
    /// ~/.huaweicloud/credentials) instead of the default chain: `[NAME]` with the keys of
    /// `[basic]` (ak, sk, security_token, project_id, or idp_id and id_token_file), so that one
    /// file serves several accounts.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Authenticate with this IAM token (X-Auth-Token) instead of signing with AK/SK. Prefer
    /// the environment or --auth-token-file: a command line is visible to other users.
    #[arg(long, env = "HUAWEICLOUD_SDK_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,

    /// Read the IAM token from this file (`-`: standard input), trimmed. Wins over
    /// HUAWEICLOUD_SDK_AUTH_TOKEN.
    #[arg(long, value_name = "PATH")]
    auth_token_file: Option<std::path::PathBuf>,

    /// Signing algorithm, named as in the Authorization header: SDK-HMAC-SHA256 (default),
    /// SDK-HMAC-SM3, V11-HMAC-SHA256 (derived keys for --region and service hss),
    /// SDK-ECDSA-P256-SHA256 or SDK-SM2-SM3.
    #[arg(long, value_name = "NAME")]
    signing_algorithm: Option<hss_image_sync::signer::Algorithm>,

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

impl ConnectionArgs {
    /// The embedded emulator when `--emulator` asks for it, and the client; on failure, the
    /// error is reported and its exit status returned.
    pub async fn connect(&mut self) -> Result<(Option<RunningEmulator>, HssClient), ExitCode> {
        let emulator = self.start_emulator().await?;
        let client = self.client(emulator.as_ref()).map_err(|e| report(&e))?;
        Ok((emulator, client))
    }

    /// The embedded emulator when `--emulator` asks for it, and the client's configuration
    /// without a project (for clients of several regions and projects).
    pub async fn connect_builder(
        &mut self,
    ) -> Result<(Option<RunningEmulator>, HssClientBuilder), ExitCode> {
        let emulator = self.start_emulator().await?;
        let builder = self.builder(emulator.as_ref()).map_err(|e| report(&e))?;
        Ok((emulator, builder))
    }

    /// `--region` (or `HUAWEICLOUD_SDK_REGION`), as given.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Starts the embedded emulator when `--emulator` asks for it.
    async fn start_emulator(&self) -> Result<Option<RunningEmulator>, ExitCode> {
        if !self.emulator {
            return Ok(None);
        }
        match hss_image_sync::emulator::Emulator::new().start().await {
            Ok(running) => Ok(Some(running)),
            Err(e) => {
                eprintln!("error: cannot start the embedded emulator: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    }

    /// The client: pointed at the embedded emulator with its keys, or configured from the
    /// arguments and the credential chain. The arguments' copy of a token is wiped after.
    fn client(&mut self, emulator: Option<&RunningEmulator>) -> Result<HssClient, Error> {
        let project_id = match self.project_id.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => {
                return Err(Error::InvalidInput {
                    field: "--project-id",
                    rule: "one project for this command (`sync` takes several)".into(),
                });
            }
        };
        let builder = self.builder(emulator)?;
        match project_id {
            Some(id) => builder.project_id(id),
            None => builder,
        }
        .build()
    }

    /// The client's configuration, for clients of several regions and projects (`sync` over
    /// many targets); without a project. The arguments' copy of a token is wiped after.
    pub fn builder(
        &mut self,
        emulator: Option<&RunningEmulator>,
    ) -> Result<HssClientBuilder, Error> {
        if emulator.is_some() {
            if self.auth_token.take().is_some() || self.auth_token_file.take().is_some() {
                eprintln!("note: --emulator uses the emulator's keys; the IAM token is ignored");
            }
            if self.region.take().is_some() {
                eprintln!("note: --emulator ignores the region");
            }
        } else {
            if let Some(path) = self.auth_token_file.take() {
                if self.auth_token.is_some() {
                    if !from_environment(self.auth_token.as_deref(), "HUAWEICLOUD_SDK_AUTH_TOKEN") {
                        return Err(Error::InvalidInput {
                            field: "--auth-token",
                            rule: "give --auth-token or --auth-token-file, not both".into(),
                        });
                    }
                    eprintln!("note: --auth-token-file wins over HUAWEICLOUD_SDK_AUTH_TOKEN");
                }
                if let Some(token) = self.auth_token.as_mut() {
                    zeroize::Zeroize::zeroize(token);
                }
                self.auth_token = Some(read_secret_file(&path, "--auth-token-file")?);
            }
            if self.auth_token.is_some() {
                notes::token_beside_keys();
            }
            if let (Some(region), true) = (&self.region, self.project_id.is_empty()) {
                notes::project_of_region(region, self.auth_token.is_some());
            }
        }
        let built = self.configure(emulator);
        if let Some(token) = self.auth_token.as_mut() {
            zeroize::Zeroize::zeroize(token);
        }
        built
    }

    fn configure(&self, emulator: Option<&RunningEmulator>) -> Result<HssClientBuilder, Error> {
        let mut builder = match emulator {
            Some(running) => running.client_builder(),
            None => self.configured(HssClient::builder())?,
        };
        if let Some(file) = &self.ca_bundle {
            builder = builder.ca_bundle_file(file);
        }
        if let Some(algorithm) = self.signing_algorithm {
            builder = builder.signing_algorithm(algorithm);
        }
        if let Some(iam) = &self.iam_endpoint {
            builder = builder.iam_endpoint(iam);
        }
        Ok(builder.timeout(self.timeout()?).retry(
            RetryPolicy::default().with_max_attempts(if self.no_retry {
                1
            } else {
                self.max_attempts
            }),
        ))
    }

    fn configured(&self, mut builder: HssClientBuilder) -> Result<HssClientBuilder, Error> {
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(region) = &self.region {
            builder = builder.region(region);
        }
        Ok(match (&self.auth_token, &self.profile) {
            // An IAM token carries no project: take the one configured for the official SDKs.
            (Some(token), _) => {
                let builder = builder.auth_token(AuthToken::new(token));
                match credentials::default_project_id() {
                    Some(project_id) => builder.project_id(project_id),
                    None => builder,
                }
            }
            // The official SDKs' chain (OIDC, environment, profile, ECS metadata, CCE pod
            // identity), asked at the first call and refreshed by the client.
            (None, Some(name)) => {
                builder.credentials_provider(credentials::ProfileProvider::new().with_profile(name))
            }
            (None, None) => {
                let chain = match &self.region {
                    Some(region) => credentials::DefaultChain::new().with_region(region),
                    None => credentials::DefaultChain::new(),
                };
                builder.credentials_provider(chain)
            }
        })
    }

    fn timeout(&self) -> Result<Duration, Error> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| Error::InvalidInput {
                field: "--timeout",
                rule: "must be a positive number of seconds".into(),
            })
    }
}

/// Whether `value` (an argument that clap may have taken from `variable`) is the environment's:
/// a flag naming a file wins over the variable, but not over the argument given on the command
/// line.
pub fn from_environment(value: Option<&str>, variable: &str) -> bool {
    value.is_some_and(|value| std::env::var(variable).is_ok_and(|set| set == value))
}

/// A secret from a file (a token, a key): at most 64 KiB, trimmed; `-` is standard input.
pub fn read_secret_file(path: &std::path::Path, field: &'static str) -> Result<String, Error> {
    use std::io::Read;
    let bad = |why: String| Error::InvalidInput {
        field,
        rule: format!("{}: {why}", path.display()),
    };
    let mut text = String::new();
    let limit = 64 * 1024;
    let read = if path.as_os_str() == "-" {
        std::io::stdin().take(limit + 1).read_to_string(&mut text)
    } else {
        let metadata = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if !metadata.is_file() {
            return Err(bad("not a regular file".into()));
        }
        std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_string(&mut text))
    };
    read.map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > limit {
        zeroize::Zeroize::zeroize(&mut text);
        return Err(bad(format!("larger than {limit} bytes")));
    }
    let token = text.trim().to_owned();
    zeroize::Zeroize::zeroize(&mut text);
    Ok(token)
}

/// Prints what went wrong on stderr and picks the exit status.
pub fn report(error: &Error) -> ExitCode {
    report_for(error, None)
}

/// [`report`], with the credential source of the client for the hint on a refused signature.
pub fn report_for(error: &Error, credential_source: Option<&str>) -> ExitCode {
    if crate::render::format() == crate::render::Format::Json {
        crate::render::print_line(
            &serde_json::json!({ "error": crate::status::error_json(error) }),
        );
    }
    explain(error, credential_source);
    ExitCode::from(crate::status::exit_status(error))
}

/// What went wrong, on stderr, with a hint where one helps.
fn explain(error: &Error, credential_source: Option<&str>) {
    eprint!("{}", explanation(error, credential_source));
}

/// What [`explain`] prints: lines, each ending in a newline.
pub fn explanation(error: &Error, credential_source: Option<&str>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    macro_rules! say {
        ($($arg:tt)*) => {{
            let _ = writeln!(out, $($arg)*);
        }};
    }
    if let Error::Credentials(credentials::CredentialsError::Chain(_)) = error
        && let Some(missing) = notes::half_key_pair()
    {
        say!("error: no credentials: {missing}");
        return out;
    }
    match error {
        Error::Service(e) => {
            say!(
                "error: {}",
                match e.status {
                    429 => "the service throttled the request (retry later)",
                    502..=504 => "the service is unavailable",
                    500..=599 => "the service failed",
                    _ => "the service refused the request",
                }
            );
            say!("status: {}", e.status);
            say!(
                "request id: {}",
                printable(e.request_id.as_deref().unwrap_or("none"))
            );
            say!("error code: {}", printable(&e.error_code));
            say!("error message: {}", printable(&e.error_msg));
            if let Some(encoded) = &e.encoded_authorization_message {
                say!("encoded authorization message: {}", printable(encoded));
            }
            say!("attempts: {}", e.attempts);
            if e.status == 401 && credential_source == Some("iam-token") {
                say!("hint: {}", notes::REFUSED_TOKEN);
            } else if e.status == 401 && e.error_code.ends_with(".0301") {
                say!(
                    "hint: the gateway refused the signature. The keys came from: {}. Check \
                     that the SK belongs to the AK, and that this machine's clock is right \
                     (-vv shows the canonical request that was signed).",
                    credential_source.unwrap_or("the configured credentials")
                );
            }
        }
        Error::NonZeroErrorCode {
            error_code,
            description,
            request_id,
            ..
        } => {
            say!("error: synchronization failed");
            say!("status: 200");
            say!(
                "request id: {}",
                printable(request_id.as_deref().unwrap_or("none"))
            );
            say!("error code: {error_code}");
            say!("error message: {}", printable(description));
        }
        Error::Transport { kind, .. } => {
            say!("error: {}", printable(&with_causes(error)));
            if *kind == hss_image_sync::TransportKind::Tls
                && let Some(hint) = tls_hint(error)
            {
                say!("hint: {hint}");
            }
        }
        other => say!("error: {}", printable(&with_causes(other))),
    }
    out
}

/// What to do about a failed TLS handshake.
fn tls_hint(error: &Error) -> Option<&'static str> {
    use hss_image_sync::TlsProblem;
    Some(match error.tls_problem()? {
        TlsProblem::UnknownIssuer => {
            "the server's certificate is not signed by a CA this machine trusts: pass \
             --ca-bundle FILE (or set SSL_CERT_FILE) with the CA certificate"
        }
        TlsProblem::WrongName => {
            "the server's certificate is for another host name: check --endpoint"
        }
        TlsProblem::BadCertificate => {
            "the server's certificate was refused (expired, revoked, or not for a server)"
        }
        TlsProblem::NotTls => {
            "the endpoint does not speak TLS; if it serves plain HTTP, use http://"
        }
        _ => "the TLS handshake failed",
    })
}
