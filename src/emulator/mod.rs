//! An emulator of HSS's image synchronization behind Huawei Cloud's API gateway, for tests that
//! need no cloud account (feature `emulator`).
//!
//! It verifies the signatures of every algorithm of the official SDKs (SDK-HMAC-SHA256,
//! SDK-HMAC-SM3, V11-HMAC-SHA256 for its [`region`](Emulator::region) and
//! [`service`](Emulator::service), SDK-ECDSA-P256-SHA256, SDK-SM2-SM3) from the raw request (its
//! own canonicalization), `X-Sdk-Date` within 15 minutes, security tokens and IAM tokens;
//! routes each request to its operation of the spec and checks every parameter against the
//! spec's rules (400 `HSS.0001` naming the parameter and the rule; an unparsable body is
//! `HSS.0002`); answers like the real service (each answer with an `X-Request-Id`); and can be
//! scripted with responses and faults. It serves http, or https with a CA it makes at start
//! ([`Emulator::tls`]).
//!
//! The service keeps per-project state ([`RunningEmulator::state`]): every project has the
//! same registries (`ListRegistry`; [`default_registries`] unless [`Emulator::registries`]);
//! `CreateImageSynchronizeTask` starts a task over every registry or the ones listed, which
//! `ListImageScanTask` shows as `manualSync` with its `task_status` going from 0 to 100 over
//! [`Emulator::task_seconds`] of the emulator's clock, and `ListAssociateRegistries` with each
//! registry `running`, then `finished` or `failed` ([`Emulator::fail_registry`]); a task can
//! also end terminated or timed out ([`Emulator::end_tasks`]). The
//! deprecated `RunImageSynchronize` counts its calls per image type ([`SyncRecord`]), and every
//! project its accepted synchronizations ([`RunningEmulator::project_calls`]).
//!
//! It can model an account ([`Emulator::projects`]): IAM lists its projects, region projects
//! and sub-projects over the regions HSS serves (`GET /v3/auth/projects`), and HSS serves
//! those only; a project's calls can fail ([`Emulator::fail_project`]); the gateway can throttle
//! each access key per operation ([`Emulator::rate_limit`], 429 `APIG.0308`). Its clock can be
//! moved forward ([`RunningEmulator::advance_clock`]) so that tests need not wait for tasks
//! or throttling windows.
//!
//! On the same listener it also serves what the credential providers and project discovery talk
//! to: IAM (`GET /v3/projects`, `GET /v3/auth/projects`, the federated login), STS
//! (`assume-with-oidc`), the ECS metadata service and CCE pod identity ([`IdentityEndpoint`];
//! configured with [`Emulator::oidc_agency`], [`Emulator::federated_login`],
//! [`Emulator::ecs_agency`], [`Emulator::pod_identity_token`], [`Emulator::iam_projects`]). The temporary keys they hand
//! out are accepted for API calls until they expire
//! ([`Emulator::temporary_credentials_lifetime`]); [`RunningEmulator::identity_calls`] counts
//! the calls.
//!
//! It stays bounded whatever it is sent: the exchange log keeps the latest exchanges with their
//! bodies cut ([`RunningEmulator::exchanges`]); the state keeps at most [`MAX_PROJECTS`]
//! projects (or the account's, at most [`MAX_ACCOUNT_PROJECTS`], created as they are first
//! called) of at most [`MAX_TASKS_PER_PROJECT`] tasks; the throttling windows are bounded in
//! number and length ([`MAX_RATE_LIMIT`]); slow request heads and bodies and idle
//! connections time out; connections are capped ([`Emulator::max_connections`]); and a refusal
//! never grows with a repeated signed header.
//!
//! ```
//! use hss_image_sync::Error;
//! use hss_image_sync::emulator::{Action, Emulator};
//! use hss_image_sync::types::{CreateImageSynchronizeTaskRequestInfo, ImageType, TaskKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let emulator = Emulator::new().task_seconds(0).start().await.unwrap();
//! let client = emulator.client_builder().build().unwrap();
//!
//! // Synchronize every registry; the task is then listed (it ends at once: task_seconds(0)).
//! let every_registry = CreateImageSynchronizeTaskRequestInfo {
//!     sync_all_registries: true,
//!     registry_info: vec![],
//! };
//! client
//!     .create_image_synchronize_task(|op| op.body(every_registry))
//!     .await
//!     .unwrap();
//! let tasks = client
//!     .list_image_scan_task(|op| op.type_(TaskKind::ImageSync))
//!     .await
//!     .unwrap()
//!     .into_inner();
//! assert_eq!(tasks.data_list[0].task_status, Some(100));
//! assert_eq!(tasks.data_list[0].success_num, Some(3));
//!
//! // The deprecated call still works, and is counted.
//! client
//!     .run_image_synchronize(ImageType::PrivateImage, |op| op)
//!     .await
//!     .unwrap();
//! let state = emulator.state();
//! assert_eq!(state.sync_record(emulator.project_id(), ImageType::PrivateImage).unwrap().count, 1);
//!
//! // A throttled answer: the client honours Retry-After and tries again.
//! emulator.push(Action::too_many_requests_after(0));
//! let done = client.list_registry(|op| op).await.unwrap();
//! assert_eq!(done.attempts, 2);
//!
//! // A 403 is not retried, and reaches the caller with its status and request ID.
//! emulator.push(Action::error(403, "HSS.1005", "no permission"));
//! let err = client.list_registry(|op| op).await.unwrap_err();
//! assert!(matches!(err, Error::Service(ref e) if e.status == 403 && e.request_id.is_some()));
//! emulator.stop();
//! # }
//! ```

mod account;
mod algorithms;
mod conn;
mod gateway;
mod identity;
mod script;
mod server;
mod service;
mod state;
mod throttle;
mod tls;
mod validate;
#[doc(hidden)]
pub mod verify;

pub use account::{AccountProject, MAX_ACCOUNT_PROJECTS, MOS_PROJECT_ID};
pub use gateway::{
    DEFAULT_LOGGED_EXCHANGES, Exchange, LOG_BUDGET_BYTES, LOGGED_BODY_BYTES, Verdict,
};
pub use identity::{
    DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME, IdentityCalls, IdentityEndpoint, MAX_ISSUED_KEYS,
    NO_AGENCY,
};
pub use script::{Action, ScriptedReply};
pub use server::ExchangeHook;
pub use service::{
    DEFAULT_TASK_SECONDS, FAILED_PROJECT_ERROR_CODE, UNKNOWN_PROJECT_ERROR_CODE, default_registries,
};
pub use state::{
    MAX_PROJECTS, MAX_TASKS_PER_PROJECT, ProjectCalls, State, SyncRecord, SyncTask, TaskEnd,
    TaskRegistry,
};
pub use throttle::MAX_RATE_LIMIT;
pub use verify::{DEFAULT_REGION, DEFAULT_SERVICE, RawRequest};

use crate::HssClientBuilder;
use crate::credentials::{AuthToken, Credentials};
use conn::Limits;
use secrecy::{ExposeSecret, SecretString};
use server::{Config, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The emulator's demo access key ID.
pub const DEMO_ACCESS_KEY: &str = "HSSEMULATORDEMOAK001";
/// The emulator's demo secret key. Not a secret: it only opens the emulator.
pub const DEMO_SECRET_KEY: &str = "hss-emulator-demo-secret-key-0000000000";
/// The emulator's demo project ID.
pub const DEMO_PROJECT_ID: &str = "0e5d1c2b3a4f45e6a7b8c9d0e1f2a3b4";

/// Default of [`Emulator::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`Emulator::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`Emulator::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`Emulator::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Configures an emulator; [`start`](Emulator::start) runs it.
pub struct Emulator {
    access_key: String,
    secret_key: SecretString,
    security_token: Option<SecretString>,
    auth_token: Option<SecretString>,
    project_id: String,
    region: String,
    service: String,
    clock_offset_secs: i64,
    on_exchange: Option<ExchangeHook>,
    limits: Limits,
    logged_exchanges: usize,
    tls: bool,
    tls_names: Option<Vec<String>>,
    identity: identity::Settings,
    hss: service::Settings,
    account_projects: Option<usize>,
    rate_limit: Option<(u32, Duration)>,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("access_key", &self.access_key)
            .field("project_id", &self.project_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("clock_offset_secs", &self.clock_offset_secs)
            .field("header_read_timeout", &self.limits.header_read_timeout)
            .field("body_read_timeout", &self.limits.body_read_timeout)
            .field("idle_timeout", &self.limits.idle_timeout)
            .field("max_connections", &self.limits.max_connections)
            .field("logged_exchanges", &self.logged_exchanges)
            .field("tls", &self.tls)
            .field("tls_names", &self.tls_names)
            .field("identity", &self.identity)
            .field("hss", &self.hss)
            .field("account_projects", &self.account_projects)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// An emulator accepting the demo keys ([`DEMO_ACCESS_KEY`], [`DEMO_SECRET_KEY`]).
    pub fn new() -> Self {
        Emulator {
            access_key: DEMO_ACCESS_KEY.into(),
            secret_key: SecretString::from(DEMO_SECRET_KEY),
            security_token: None,
            auth_token: None,
            project_id: DEMO_PROJECT_ID.into(),
            region: DEFAULT_REGION.into(),
            service: DEFAULT_SERVICE.into(),
            clock_offset_secs: 0,
            on_exchange: None,
            limits: Limits {
                header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
                body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
            },
            logged_exchanges: DEFAULT_LOGGED_EXCHANGES,
            tls: false,
            tls_names: None,
            identity: identity::Settings::default(),
            hss: service::Settings::default(),
            account_projects: None,
            rate_limit: None,
        }
    }

    /// Accept this AK/SK pair instead of the demo keys.
    pub fn key_pair(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.access_key = access_key.into();
        self.secret_key = SecretString::from(secret_key.into());
        self
    }

    /// Treat the access key as temporary: requests must carry (and sign) this
    /// `X-Security-Token`.
    pub fn security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(SecretString::from(token.into()));
        self
    }

    /// Also accept IAM-token authentication with this `X-Auth-Token`.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(SecretString::from(token.into()));
        self
    }

    /// The project ID handed out by [`RunningEmulator::credentials`]; any project is served
    /// (with [`projects`](Self::projects), the account's only).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = project_id.into();
        self
    }

    /// The region this endpoint serves (default [`DEFAULT_REGION`]): a V11-HMAC-SHA256
    /// signature's credential scope must name it. A client signing with V11 needs the same
    /// region ([`HssClientBuilder::region`], with the emulator's
    /// [`endpoint`](RunningEmulator::endpoint)).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The service name a V11-HMAC-SHA256 credential scope must name (default
    /// [`DEFAULT_SERVICE`]).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Runs the emulator's clock this many seconds ahead of (or, negative, behind) the system
    /// clock, to test clock-skew handling. Responses carry this clock in `Date`. Any value is
    /// accepted: the clock stops at the ends of the years 1970..=9999, which `Date` can show,
    /// and an offset beyond what the system's time type can hold leaves it unshifted.
    pub fn clock_offset_secs(mut self, seconds: i64) -> Self {
        self.clock_offset_secs = seconds;
        self
    }

    /// Calls `hook` with every exchange (for example to log it), as it is logged (the request
    /// body cut to [`LOGGED_BODY_BYTES`]).
    pub fn on_exchange(mut self, hook: impl Fn(&Exchange) + Send + Sync + 'static) -> Self {
        self.on_exchange = Some(Arc::new(hook));
        self
    }

    /// How many of the latest exchanges [`RunningEmulator::exchanges`] keeps (default
    /// [`DEFAULT_LOGGED_EXCHANGES`]; 0 keeps none). The log also stays within
    /// [`LOG_BUDGET_BYTES`], dropping its oldest exchanges first.
    pub fn exchange_log_limit(mut self, exchanges: usize) -> Self {
        self.logged_exchanges = exchanges;
        self
    }

    /// A request head must arrive in full within this time: counted from the accept for a
    /// connection's first request (the TLS handshake included), and from the head's first
    /// byte for later ones; else the connection is closed without an answer. Default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// A request body must arrive in full within this time of its head; else the answer is
    /// 408 (APIG.0201) and the connection is closed. Default [`DEFAULT_BODY_READ_TIMEOUT`].
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body_read_timeout = timeout;
        self
    }

    /// A keep-alive connection on which nothing arrives for this long after an answer is
    /// closed. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// The most connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]; at least 1).
    /// A connection beyond it closes the one idle the longest (not handling a request); when
    /// every one is busy, new connections wait in the listen queue. The same happens when
    /// accepting fails for want of file descriptors.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// Serve https instead of http, with a certificate made at start: a fresh CA (see
    /// [`RunningEmulator::ca_certificate_pem`]; its key is thrown away once it signed) and a
    /// server certificate signed by it for `localhost`, `127.0.0.1` and the listening address.
    /// [`RunningEmulator::client_builder`] trusts that CA.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Serve https ([`tls`](Self::tls)) with the server certificate issued for these names only
    /// (DNS names or IP addresses), e.g. to test that a client refuses a certificate that does
    /// not name the host it connected to.
    pub fn tls_server_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tls = true;
        self.tls_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// STS (`POST /v5/agencies/assume-with-oidc`) trusts this identity provider for this agency,
    /// and accepts this id token: it answers temporary keys, which the emulator then accepts.
    /// Unset, STS refuses every request (403).
    pub fn oidc_agency(
        mut self,
        provider_urn: impl Into<String>,
        agency_urn: impl Into<String>,
        id_token: impl Into<String>,
    ) -> Self {
        self.identity.oidc = Some(identity::OidcTrust {
            provider_urn: provider_urn.into(),
            agency_urn: agency_urn.into(),
            id_token: SecretString::from(id_token.into()),
        });
        self
    }

    /// IAM's federated login (`POST /v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id`, then
    /// `POST /v3.0/OS-CREDENTIAL/securitytokens`) accepts this identity provider and id token.
    /// Unset, the login answers 404 (no such identity provider).
    pub fn federated_login(
        mut self,
        idp_id: impl Into<String>,
        id_token: impl Into<String>,
    ) -> Self {
        self.identity.federation = Some(identity::Federation {
            idp_id: idp_id.into(),
            id_token: SecretString::from(id_token.into()),
        });
        self
    }

    /// The ECS metadata service (`PUT /meta-data/latest/api/token`, then
    /// `GET /openstack/latest/securitykey` with `X-Metadata-Token`) answers temporary keys, as
    /// on an instance with an agency. Off (the default), it answers 401 [`NO_AGENCY`], as on an
    /// instance without one (a session token is still handed out).
    pub fn ecs_agency(mut self, on: bool) -> Self {
        self.identity.ecs_agency = on;
        self
    }

    /// CCE pod identity (`POST /pod-identity/credentials`, see
    /// [`RunningEmulator::pod_identity_uri`]) answers temporary keys to requests whose
    /// `Authorization` is this token. Unset, it answers 404.
    pub fn pod_identity_token(mut self, token: impl Into<String>) -> Self {
        self.identity.pod_token = Some(SecretString::from(token.into()));
        self
    }

    /// The projects IAM lists for `region` (`GET /v3/projects?name={region}`): none, one, or
    /// several. By default IAM lists the emulator's [`project_id`](Self::project_id) for its
    /// [`region`](Self::region) (`cn-north-4` unless set) and nothing for other regions.
    pub fn iam_projects<I, S>(mut self, region: impl Into<String>, project_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.identity.projects.insert(
            region.into(),
            project_ids.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// How long every temporary key handed out lives (whole seconds, at least 1), e.g. 2 s to
    /// test refreshing. By default STS and the federated login give the `duration_seconds`
    /// asked for, the metadata service and pod identity
    /// [`DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME`].
    pub fn temporary_credentials_lifetime(mut self, lifetime: Duration) -> Self {
        self.identity.lifetime = Some(lifetime);
        self
    }

    /// The registries of every project (`ListRegistry`), replacing the default set
    /// ([`default_registries`]: an SWR private, an SWR shared and a Harbor registry). A task
    /// synchronizes a registry whose `status` is `fail` with that failure.
    pub fn registries(
        mut self,
        registries: impl IntoIterator<Item = crate::types::RegistryInfo>,
    ) -> Self {
        self.hss.registries = registries.into_iter().collect();
        self
    }

    /// Synchronizing the registry with this ID fails (`sync_status` `failed`, with a
    /// `failed_reason`): a task then ends with `failed_num` > 0, or `task_status` -3 when
    /// every registry of it failed.
    pub fn fail_registry(mut self, registry_id: impl Into<String>) -> Self {
        self.hss.failing.insert(registry_id.into());
        self
    }

    /// Every task ends this way (`task_status` -1 or -2, with a `failed_reason`) instead of
    /// 100 (or -3), whatever its registries did.
    pub fn end_tasks(mut self, end: TaskEnd) -> Self {
        self.hss.task_end = Some(end);
        self
    }

    /// How long a synchronization task of `CreateImageSynchronizeTask` runs on the emulator's
    /// clock (default [`DEFAULT_TASK_SECONDS`]; 0 ends it at once): its `task_status` goes
    /// from 0 to 100 over this time, its registries stay `running` until then.
    pub fn task_seconds(mut self, seconds: u64) -> Self {
        self.hss.task_duration = Duration::from_secs(seconds);
        self
    }

    /// Like [`task_seconds`](Self::task_seconds), to the millisecond.
    pub fn task_duration(mut self, duration: Duration) -> Self {
        self.hss.task_duration = duration;
        self
    }

    /// Models an account of `n` projects (1..=[`MAX_ACCOUNT_PROJECTS`], clamped) spread over
    /// the regions HSS serves, with sub-projects: IAM lists them (`GET /v3/auth/projects`, and
    /// `GET /v3/projects?name=`), and HSS serves only them, each with its own tasks (any other
    /// project: 403 [`UNKNOWN_PROJECT_ERROR_CODE`]). The layout and IDs are fixed by `n`
    /// ([`RunningEmulator::account_projects`]); the region project of the emulator's
    /// [`region`](Self::region) is its [`project_id`](Self::project_id). Without it, IAM lists
    /// the emulator's project alone and HSS serves any project.
    pub fn projects(mut self, n: usize) -> Self {
        self.account_projects = Some(n);
        self
    }

    /// Models a project where HSS is not enabled: its HSS calls fail with 403
    /// [`FAILED_PROJECT_ERROR_CODE`] (not retryable); IAM still lists it.
    pub fn fail_project(mut self, project_id: impl Into<String>) -> Self {
        self.hss.failing_projects.insert(project_id.into());
        self
    }

    /// Models the gateway's throttling: past `calls_per_minute` calls of one HSS operation by
    /// one access key (or the IAM token) within any 60 s of the emulator's clock, it answers
    /// 429 `APIG.0308` without `Retry-After` (IAM calls are not counted). 0 turns it off; at
    /// most [`MAX_RATE_LIMIT`].
    pub fn rate_limit(self, calls_per_minute: u32) -> Self {
        self.rate_limit_per(calls_per_minute, Duration::from_secs(60))
    }

    /// Like [`rate_limit`](Self::rate_limit), `calls` per `window` (1 ms to an hour): e.g. a
    /// window of a second, for a test that lets throttled callers through again quickly.
    pub fn rate_limit_per(mut self, calls: u32, window: Duration) -> Self {
        self.rate_limit = (calls > 0).then_some((calls.min(MAX_RATE_LIMIT), window));
        self
    }

    /// Starts on a random port of 127.0.0.1.
    pub async fn start(self) -> std::io::Result<RunningEmulator> {
        self.start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let tls = if self.tls {
            let names = self.tls_names.clone().unwrap_or_else(|| {
                let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
                let ip = addr.ip().to_string();
                if !addr.ip().is_unspecified() && !names.contains(&ip) {
                    names.push(ip);
                }
                names
            });
            Some(tls::generate(&names)?)
        } else {
            None
        };
        let (acceptor, ca_pem) = match tls {
            Some(tls) => (Some(tls.acceptor), Some(tls.ca_pem)),
            None => (None, None),
        };
        let account = self
            .account_projects
            .map(|n| account::Account::new(n, &self.region, &self.project_id, identity::DOMAIN_ID));
        let mut identity = self.identity.clone();
        let mut hss = self.hss.clone();
        if let Some(account) = &account {
            // IAM lists each region's project for `?name=`, unless the builder set that region.
            for region in crate::region::REGIONS {
                if let Some(id) = account.region_project(region) {
                    identity
                        .projects
                        .entry((*region).to_owned())
                        .or_insert_with(|| vec![id]);
                }
            }
            hss.max_projects = hss.max_projects.max(account.len());
        }
        let identity = if account.is_some() {
            identity
        } else {
            identity.resolved(&self.project_id, &self.region)
        };
        let shared = Arc::new(Shared::new(
            Config {
                access_key: self.access_key.clone(),
                secret_key: self.secret_key.clone(),
                security_token: self.security_token.clone(),
                auth_token: self.auth_token.clone(),
                scope: verify::AcceptedScope::new(&self.region, &self.service),
                clock_offset_secs: self.clock_offset_secs,
                on_exchange: self.on_exchange.clone(),
                limits: self.limits,
                logged_exchanges: self.logged_exchanges,
                identity,
                hss,
                account,
            },
            self.rate_limit
                .map(|(calls, window)| throttle::Throttle::new(calls, window)),
            acceptor,
        ));
        let task = tokio::spawn(conn::accept_loop(listener, shared.clone()));
        Ok(RunningEmulator {
            addr,
            shared,
            task,
            ca_pem,
            settings: self,
        })
    }
}

/// A running emulator. Stops when dropped or [`stop`](Self::stop)ped.
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    ca_pem: Option<String>,
    settings: Emulator,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("addr", &self.addr)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` when serving [`tls`](Emulator::tls).
    pub fn endpoint(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM certificate of the CA made at start, when serving [`tls`](Emulator::tls): trust
    /// it to connect (builder
    /// [`add_root_certificates_pem`](HssClientBuilder::add_root_certificates_pem), CLI
    /// `--ca-bundle`). Public; its private key no longer exists.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The project ID to use (the demo one unless configured).
    pub fn project_id(&self) -> &str {
        &self.settings.project_id
    }

    /// The region whose V11 credential scopes it accepts ([`Emulator::region`]).
    pub fn region(&self) -> &str {
        &self.settings.region
    }

    /// The service whose V11 credential scopes it accepts ([`Emulator::service`]).
    pub fn service(&self) -> &str {
        &self.settings.service
    }

    /// Credentials the emulator accepts: its keys, project ID and security token.
    pub fn credentials(&self) -> Credentials {
        let s = &self.settings;
        let mut creds = Credentials::new(&s.access_key, s.secret_key.expose_secret())
            .with_project_id(&s.project_id);
        if let Some(token) = &s.security_token {
            creds = creds.with_security_token(token.expose_secret());
        }
        creds
    }

    /// The IAM token it accepts, if configured.
    pub fn auth_token(&self) -> Option<AuthToken> {
        let token = self.settings.auth_token.as_ref()?;
        Some(AuthToken::new(token.expose_secret()))
    }

    /// A client builder pointed at the emulator with its credentials, trusting its CA when it
    /// serves https.
    pub fn client_builder(&self) -> HssClientBuilder {
        // IAM too: project lookups and account listings never leave this machine.
        let builder = crate::HssClient::builder()
            .endpoint(self.endpoint())
            .iam_endpoint(self.endpoint())
            .credentials(self.credentials());
        match &self.ca_pem {
            Some(pem) => builder.add_root_certificates_pem(pem.as_bytes()),
            None => builder,
        }
    }

    /// Queues an action for the next API request (first in, first out).
    pub fn push(&self, action: Action) {
        if let Ok(mut script) = self.shared.script.lock() {
            script.push_back(action);
        }
    }

    /// Actions queued and not yet used.
    pub fn pending_actions(&self) -> usize {
        self.shared.script.lock().map_or(0, |s| s.len())
    }

    /// The latest exchanges, oldest first: the last [`DEFAULT_LOGGED_EXCHANGES`] (or
    /// [`Emulator::exchange_log_limit`]) of them, fewer if they would take more than
    /// [`LOG_BUDGET_BYTES`]. Each request body is kept up to [`LOGGED_BODY_BYTES`]
    /// ([`Exchange::body_len`] has its full length), so a long-running emulator's memory stays
    /// bounded.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared
            .exchanges
            .lock()
            .map(|e| e.to_vec())
            .unwrap_or_default()
    }

    /// The per-project synchronization state.
    pub fn state(&self) -> State {
        self.shared
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The accepted synchronization calls of every project called so far
    /// ([`ProjectCalls`]): e.g. to check that no project was synchronized twice. Also served as
    /// JSON at `GET /_emulator/calls`.
    pub fn project_calls(&self) -> std::collections::BTreeMap<String, ProjectCalls> {
        self.shared
            .state
            .lock()
            .map(|s| s.calls.clone())
            .unwrap_or_default()
    }

    /// The projects of the account ([`Emulator::projects`]) HSS serves, as IAM lists them
    /// (without `MOS`); empty without an account.
    pub fn account_projects(&self) -> Vec<AccountProject> {
        self.shared
            .config
            .account
            .as_ref()
            .map(|a| a.projects().collect())
            .unwrap_or_default()
    }

    /// Moves the emulator's clock forward by `by`, as if that time had passed: tasks progress,
    /// throttling windows slide, temporary keys age. (Signatures stay accepted while the
    /// clocks differ by less than 15 minutes.)
    pub fn advance_clock(&self, by: Duration) {
        self.shared.advance_clock(by);
    }

    /// How many requests each identity endpoint (IAM, STS, ECS metadata, pod identity)
    /// received, and how many temporary keys were handed out. Also served as JSON at
    /// `GET /_emulator/identity`.
    pub fn identity_calls(&self) -> IdentityCalls {
        self.shared.identity.calls()
    }

    /// From now on IAM lists these projects for `region` (none, one or several).
    pub fn set_iam_projects<I, S>(&self, region: impl Into<String>, project_ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.shared.identity.set_projects(
            region.into(),
            project_ids.into_iter().map(Into::into).collect(),
        );
    }

    /// Queues an action for the next request to an identity `endpoint` (first in, first out;
    /// each endpoint has its own queue, apart from the API's). A scripted request is counted
    /// and logged but not judged: it hands out nothing.
    pub fn push_identity(&self, endpoint: IdentityEndpoint, action: Action) {
        self.shared.identity.push(endpoint, action);
    }

    /// Actions queued for identity endpoints and not yet used.
    pub fn pending_identity_actions(&self) -> usize {
        self.shared.identity.pending()
    }

    /// The URL of CCE pod identity, for `HC_CONTAINER_CREDENTIALS_FULL_URI`. (STS, IAM and the
    /// metadata service are at [`endpoint`](Self::endpoint) itself.)
    pub fn pod_identity_uri(&self) -> String {
        format!(
            "{}{}",
            self.endpoint(),
            IdentityEndpoint::PodIdentity.path()
        )
    }

    /// The temporary access keys handed out that the emulator still remembers, oldest first
    /// (at most [`MAX_ISSUED_KEYS`]). Access key IDs only: not secret.
    pub fn issued_access_keys(&self) -> Vec<String> {
        self.shared.identity.issued_access_keys()
    }

    /// Stops serving and closes every connection.
    pub fn stop(self) {}
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
