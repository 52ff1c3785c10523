//! The identity services' memory: their settings, the temporary keys handed out (which the
//! gateway accepts until they expire), IAM and metadata session tokens, call counters and
//! scripts, all bounded.

use super::super::script::Action;
use super::super::server::LAST_WRITABLE_SECS;
use crate::signer::sdk_date;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The lifetime of keys from the ECS metadata service and CCE pod identity, unless
/// [`Emulator::temporary_credentials_lifetime`](crate::emulator::Emulator::temporary_credentials_lifetime)
/// sets one. STS and the IAM federated login give the lifetime the request asks for.
pub const DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME: Duration = Duration::from_secs(3600);
/// The most temporary keys the emulator remembers (and so accepts).
pub const MAX_ISSUED_KEYS: usize = 10_000;
/// The most IAM tokens, and the most metadata session tokens, it remembers.
pub(super) const MAX_TOKENS: usize = 4096;
/// How long an unscoped IAM token from the federated login lives.
pub(super) const UNSCOPED_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The longest metadata session token the service hands out (6 hours, what the SDKs ask).
pub(super) const MAX_SESSION_TOKEN_TTL: u64 = 21_600;
/// Without `duration_seconds`, STS keys live an hour and IAM keys 15 minutes.
pub(super) const DEFAULT_STS_DURATION: i64 = 3600;
pub(super) const DEFAULT_IAM_DURATION: i64 = 900;
/// The longest lifetime asked for that is honoured (a day).
pub(super) const MAX_DURATION_SECS: u64 = 86_400;
/// The metadata service's answer for an instance without an agency; final for the clients.
pub const NO_AGENCY: &str = "Please configure Cloud Service Agency first";
/// The account (domain) the emulator's projects belong to.
pub(crate) const DOMAIN_ID: &str = "d0e1f2a3b4c54d6e8f9a0b1c2d3e4f5a";

/// An identity endpoint of the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdentityEndpoint {
    /// IAM `GET /v3/projects?name={region}` (project discovery), signed.
    IamProjects,
    /// IAM `GET /v3/auth/projects` (every project of the account), signed.
    IamAuthProjects,
    /// IAM `POST /v3.0/OS-AUTH/id-token/tokens` (federated login, step 1).
    IamIdTokenLogin,
    /// IAM `POST /v3.0/OS-CREDENTIAL/securitytokens` (federated login, step 2).
    IamSecurityTokens,
    /// STS `POST /v5/agencies/assume-with-oidc`.
    StsAssumeWithOidc,
    /// ECS metadata `PUT /meta-data/latest/api/token`.
    MetadataToken,
    /// ECS metadata `GET /openstack/latest/securitykey`.
    MetadataSecurityKey,
    /// CCE pod identity `POST /pod-identity/credentials`.
    PodIdentity,
}

impl IdentityEndpoint {
    /// Every identity endpoint.
    pub const ALL: [IdentityEndpoint; 8] = [
        IdentityEndpoint::IamProjects,
        IdentityEndpoint::IamAuthProjects,
        IdentityEndpoint::IamIdTokenLogin,
        IdentityEndpoint::IamSecurityTokens,
        IdentityEndpoint::StsAssumeWithOidc,
        IdentityEndpoint::MetadataToken,
        IdentityEndpoint::MetadataSecurityKey,
        IdentityEndpoint::PodIdentity,
    ];

    /// Its path.
    pub fn path(self) -> &'static str {
        match self {
            IdentityEndpoint::IamProjects => "/v3/projects",
            IdentityEndpoint::IamAuthProjects => "/v3/auth/projects",
            IdentityEndpoint::IamIdTokenLogin => "/v3.0/OS-AUTH/id-token/tokens",
            IdentityEndpoint::IamSecurityTokens => "/v3.0/OS-CREDENTIAL/securitytokens",
            IdentityEndpoint::StsAssumeWithOidc => "/v5/agencies/assume-with-oidc",
            IdentityEndpoint::MetadataToken => "/meta-data/latest/api/token",
            IdentityEndpoint::MetadataSecurityKey => "/openstack/latest/securitykey",
            IdentityEndpoint::PodIdentity => "/pod-identity/credentials",
        }
    }

    /// Its method.
    pub fn method(self) -> &'static str {
        match self {
            IdentityEndpoint::IamProjects
            | IdentityEndpoint::IamAuthProjects
            | IdentityEndpoint::MetadataSecurityKey => "GET",
            IdentityEndpoint::MetadataToken => "PUT",
            _ => "POST",
        }
    }

    /// The endpoint a request path is for.
    pub(crate) fn route(raw_path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.path() == raw_path)
    }

    pub(super) fn index(self) -> usize {
        Self::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// How many requests each identity endpoint received (whatever the answer), and how many
/// temporary keys were handed out ([`RunningEmulator::identity_calls`](crate::emulator::RunningEmulator::identity_calls)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IdentityCalls {
    /// IAM `GET /v3/projects`.
    pub iam_projects: u64,
    /// IAM `GET /v3/auth/projects`.
    pub iam_auth_projects: u64,
    /// IAM `POST /v3.0/OS-AUTH/id-token/tokens`.
    pub iam_id_token_login: u64,
    /// IAM `POST /v3.0/OS-CREDENTIAL/securitytokens`.
    pub iam_security_tokens: u64,
    /// STS `POST /v5/agencies/assume-with-oidc`.
    pub sts_assume_with_oidc: u64,
    /// ECS metadata `PUT /meta-data/latest/api/token`.
    pub metadata_token: u64,
    /// ECS metadata `GET /openstack/latest/securitykey`.
    pub metadata_security_key: u64,
    /// CCE pod identity `POST /pod-identity/credentials`.
    pub pod_identity: u64,
    /// Temporary keys handed out, by any endpoint.
    pub credentials_issued: u64,
}

impl IdentityCalls {
    /// The requests `endpoint` received.
    pub fn get(&self, endpoint: IdentityEndpoint) -> u64 {
        match endpoint {
            IdentityEndpoint::IamProjects => self.iam_projects,
            IdentityEndpoint::IamAuthProjects => self.iam_auth_projects,
            IdentityEndpoint::IamIdTokenLogin => self.iam_id_token_login,
            IdentityEndpoint::IamSecurityTokens => self.iam_security_tokens,
            IdentityEndpoint::StsAssumeWithOidc => self.sts_assume_with_oidc,
            IdentityEndpoint::MetadataToken => self.metadata_token,
            IdentityEndpoint::MetadataSecurityKey => self.metadata_security_key,
            IdentityEndpoint::PodIdentity => self.pod_identity,
        }
    }
}

/// The identity provider and agency STS trusts, and the id token it accepts.
#[derive(Clone)]
pub(crate) struct OidcTrust {
    pub provider_urn: String,
    pub agency_urn: String,
    pub id_token: SecretString,
}

/// The identity provider IAM's federated login accepts, and its id token.
#[derive(Clone)]
pub(crate) struct Federation {
    pub idp_id: String,
    pub id_token: SecretString,
}

/// What the builder configured.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    pub oidc: Option<OidcTrust>,
    pub federation: Option<Federation>,
    pub ecs_agency: bool,
    pub pod_token: Option<SecretString>,
    /// Region -> project IDs, as set by the builder (the default region is added at start).
    pub projects: BTreeMap<String, Vec<String>>,
    pub lifetime: Option<Duration>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySettings")
            .field(
                "oidc",
                &self.oidc.as_ref().map(|o| (&o.provider_urn, &o.agency_urn)),
            )
            .field("federation", &self.federation.as_ref().map(|f| &f.idp_id))
            .field("ecs_agency", &self.ecs_agency)
            .field("pod_identity", &self.pod_token.is_some())
            .field("projects", &self.projects)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Settings {
    /// The settings to serve: IAM lists `default_project` for the emulator's `region` unless
    /// told otherwise.
    pub fn resolved(&self, default_project: &str, region: &str) -> Settings {
        let mut settings = self.clone();
        settings
            .projects
            .entry(region.to_owned())
            .or_insert_with(|| vec![default_project.to_owned()]);
        settings
    }
}

/// A key the gateway accepts: its secret, the security token it must carry, and its expiry.
pub(crate) struct KeyEntry {
    pub secret: SecretString,
    pub security_token: Option<SecretString>,
    pub expiry: Option<SystemTime>,
}

pub(super) struct TemporaryKey {
    pub(super) secret: SecretString,
    pub(super) security_token: SecretString,
}

/// Values by key with an expiry each, at most `cap` of them: when full, the expired ones go,
/// then the oldest.
pub(super) struct Bounded<V> {
    pub(super) entries: HashMap<String, (V, SystemTime)>,
    pub(super) order: VecDeque<String>,
    pub(super) cap: usize,
}

impl<V> Bounded<V> {
    pub(super) fn new(cap: usize) -> Self {
        Bounded {
            entries: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    pub(super) fn insert(&mut self, key: String, value: V, expiry: SystemTime, now: SystemTime) {
        if self.entries.len() >= self.cap {
            self.entries.retain(|_, (_, expiry)| *expiry > now);
            let entries = &self.entries;
            self.order.retain(|k| entries.contains_key(k));
        }
        while self.entries.len() >= self.cap {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(key.clone());
        self.entries.insert(key, (value, expiry));
    }

    pub(super) fn get(&self, key: &str) -> Option<&(V, SystemTime)> {
        self.entries.get(key)
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }
}

/// The identity services' state, in the emulator's `Shared`.
pub(crate) struct Identity {
    pub(super) oidc: Option<OidcTrust>,
    pub(super) federation: Option<Federation>,
    pub(super) ecs_agency: bool,
    pub(super) pod_token: Option<SecretString>,
    pub(super) lifetime: Option<Duration>,
    pub(super) projects: Mutex<BTreeMap<String, Vec<String>>>,
    pub(super) keys: Mutex<Bounded<TemporaryKey>>,
    pub(super) unscoped_tokens: Mutex<Bounded<()>>,
    pub(super) session_tokens: Mutex<Bounded<()>>,
    pub(super) calls: [AtomicU64; 8],
    pub(super) issued: AtomicU64,
    pub(super) scripts: Mutex<BTreeMap<IdentityEndpoint, VecDeque<Action>>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves the value whole: a panic elsewhere does not matter.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Identity {
    pub fn new(settings: Settings) -> Self {
        Identity {
            oidc: settings.oidc,
            federation: settings.federation,
            ecs_agency: settings.ecs_agency,
            pod_token: settings.pod_token,
            lifetime: settings.lifetime,
            projects: Mutex::new(settings.projects),
            keys: Mutex::new(Bounded::new(MAX_ISSUED_KEYS)),
            unscoped_tokens: Mutex::new(Bounded::new(MAX_TOKENS)),
            session_tokens: Mutex::new(Bounded::new(MAX_TOKENS)),
            calls: Default::default(),
            issued: AtomicU64::new(0),
            scripts: Mutex::default(),
        }
    }

    /// A temporary key handed out earlier (expired or not).
    pub fn temporary_key(&self, access_key: &str) -> Option<KeyEntry> {
        let keys = lock(&self.keys);
        let (key, expiry) = keys.get(access_key)?;
        Some(KeyEntry {
            secret: key.secret.clone(),
            security_token: Some(key.security_token.clone()),
            expiry: Some(*expiry),
        })
    }

    /// The access keys handed out that are still remembered, oldest first.
    pub fn issued_access_keys(&self) -> Vec<String> {
        let keys = lock(&self.keys);
        keys.order
            .iter()
            .filter(|ak| keys.contains(ak))
            .cloned()
            .collect()
    }

    pub fn count(&self, endpoint: IdentityEndpoint) {
        self.calls[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn calls(&self) -> IdentityCalls {
        let get = |e: IdentityEndpoint| self.calls[e.index()].load(Ordering::Relaxed);
        IdentityCalls {
            iam_projects: get(IdentityEndpoint::IamProjects),
            iam_auth_projects: get(IdentityEndpoint::IamAuthProjects),
            iam_id_token_login: get(IdentityEndpoint::IamIdTokenLogin),
            iam_security_tokens: get(IdentityEndpoint::IamSecurityTokens),
            sts_assume_with_oidc: get(IdentityEndpoint::StsAssumeWithOidc),
            metadata_token: get(IdentityEndpoint::MetadataToken),
            metadata_security_key: get(IdentityEndpoint::MetadataSecurityKey),
            pod_identity: get(IdentityEndpoint::PodIdentity),
            credentials_issued: self.issued.load(Ordering::Relaxed),
        }
    }

    pub fn set_projects(&self, region: String, ids: Vec<String>) {
        lock(&self.projects).insert(region, ids);
    }

    pub fn push(&self, endpoint: IdentityEndpoint, action: Action) {
        lock(&self.scripts)
            .entry(endpoint)
            .or_default()
            .push_back(action);
    }

    pub fn pending(&self) -> usize {
        lock(&self.scripts).values().map(VecDeque::len).sum()
    }

    pub fn pop_action(&self, endpoint: IdentityEndpoint) -> Option<Action> {
        lock(&self.scripts).get_mut(&endpoint)?.pop_front()
    }

    /// Hands out a new temporary key living `lifetime` (whole seconds, at least one, its expiry
    /// on a whole second), remembered so that the gateway accepts it: `{"access", "secret",
    /// "securitytoken", "expires_at"}`.
    pub(super) fn issue(&self, now: SystemTime, lifetime: Duration) -> Value {
        let expiry = whole_second_after(now, lifetime.max(Duration::from_secs(1)));
        let mut keys = lock(&self.keys);
        let access_key = loop {
            let candidate = random_text(20, UPPER_ALNUM);
            if !keys.contains(&candidate) {
                break candidate;
            }
        };
        let secret = random_text(40, ALNUM);
        let security_token = format!("emulator-sts-token/{}", random_text(160, ALNUM));
        keys.insert(
            access_key.clone(),
            TemporaryKey {
                secret: SecretString::from(secret.clone()),
                security_token: SecretString::from(security_token.clone()),
            },
            expiry,
            now,
        );
        drop(keys);
        self.issued.fetch_add(1, Ordering::Relaxed);
        json!({
            "access": access_key,
            "secret": secret,
            "securitytoken": security_token,
            "expires_at": sts_time(expiry),
        })
    }

    /// The configured lifetime, else `asked` seconds (bounded to a day).
    pub(super) fn lifetime_for(&self, asked: i64) -> Duration {
        self.lifetime.unwrap_or_else(|| {
            Duration::from_secs(
                u64::try_from(asked)
                    .unwrap_or(1)
                    .clamp(1, MAX_DURATION_SECS),
            )
        })
    }
}

pub(super) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub(super) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(super) fn random_text(len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect()
}

/// `now + lifetime`, rounded up to a whole second (so the expiry written is the exact one);
/// at most the last second an expiry can be written with.
pub(super) fn whole_second_after(now: SystemTime, lifetime: Duration) -> SystemTime {
    let last = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_WRITABLE_SECS);
    let at = now.checked_add(lifetime).unwrap_or(last).min(last);
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// `YYYY-MM-DDTHH:MM:SS.000000Z`, as STS and IAM write times (and the SDKs require).
pub(super) fn sts_time(at: SystemTime) -> String {
    let t = sdk_date::format(at).unwrap_or_else(|| "19700101T000000Z".to_owned());
    format!(
        "{}-{}-{}T{}:{}:{}.000000Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[9..11],
        &t[11..13],
        &t[13..15]
    )
}
