//! Keeping temporary keys between calls: fetched once, shared by clones of the client, fetched
//! again shortly before they expire, one fetch at a time however many calls wait.

use super::provider::checked;
use super::{Credentials, CredentialsError, ProvideCredentials};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The official SDKs fetch new keys when less than this is left.
const REFRESH_MARGIN: Duration = Duration::from_secs(40 * 60);

/// A provider's credentials, cached until shortly before they expire.
///
/// "Shortly" is the official SDKs' 40 minutes, but at most half the keys' lifetime, so that keys
/// that live less than 40 minutes are not fetched again on every call (as the SDKs do). A
/// failed refresh while the old keys are still valid keeps them (with a warning); with no valid
/// keys it is an error naming the provider. Clones share the cache.
///
/// ```
/// use hss_image_sync::credentials::{CredentialsCache, Credentials};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cache = CredentialsCache::new(Credentials::new("AK", "SK"));
/// assert_eq!(cache.get().await.unwrap().access_key_id(), "AK");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CredentialsCache {
    provider: Arc<dyn ProvideCredentials>,
    /// The keys; read without waiting for a fetch in progress.
    current: Arc<RwLock<Option<Cached>>>,
    /// Held for the length of a fetch: one at a time.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Clone)]
struct Cached {
    credentials: Credentials,
    fetched_at: SystemTime,
}

impl Cached {
    /// Whether these keys should be replaced at `now`.
    fn stale(&self, now: SystemTime) -> bool {
        let Some(expiry) = self.credentials.expiry() else {
            return false; // permanent keys
        };
        let lifetime = expiry
            .duration_since(self.fetched_at)
            .unwrap_or(Duration::ZERO);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        expiry
            .duration_since(now)
            .map_or(true, |left| left < margin)
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.credentials
            .expiry()
            .is_some_and(|expiry| expiry <= now)
    }
}

impl CredentialsCache {
    /// A cache in front of `provider`.
    pub fn new(provider: impl ProvideCredentials + 'static) -> Self {
        Self::from_arc(Arc::new(provider))
    }

    /// A cache in front of a shared provider.
    pub fn from_arc(provider: Arc<dyn ProvideCredentials>) -> Self {
        CredentialsCache {
            provider,
            current: Arc::default(),
            fetching: Arc::default(),
        }
    }

    /// The provider's name.
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }

    /// Current credentials: the cached ones, or fresh ones when there are none or they are
    /// about to expire. Calls that arrive during a fetch wait for it and share its result.
    pub async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(fresh) = self.fresh(SystemTime::now()) {
            return Ok(fresh);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Whoever held the lock before may have fetched already.
        let now = SystemTime::now();
        if let Some(fresh) = self.fresh(now) {
            return Ok(fresh);
        }
        // Whatever the provider (one of the crate's, or the caller's own), its values are
        // checked before anything is signed or logged with them.
        let name = self.provider.name();
        let fetched = self.provider.provide_credentials().await;
        match fetched.and_then(|credentials| checked(name, credentials)) {
            Ok(credentials) => {
                if let Some(expiry) = credentials.expiry() {
                    tracing::debug!(
                        provider = self.provider.name(),
                        expires_in_secs =
                            expiry.duration_since(now).map_or(0, |left| left.as_secs()),
                        "fetched temporary credentials"
                    );
                }
                self.store(Cached {
                    credentials: credentials.clone(),
                    fetched_at: now,
                });
                Ok(credentials)
            }
            Err(error) => match self.read() {
                Some(cached) if !cached.expired(now) => {
                    tracing::warn!(
                        provider = self.provider.name(),
                        %error,
                        "could not refresh credentials; using the current ones until they expire"
                    );
                    Ok(cached.credentials)
                }
                _ => Err(error),
            },
        }
    }

    /// The credentials last fetched, without fetching (for masking and diagnostics).
    pub fn peek(&self) -> Option<Credentials> {
        self.read().map(|c| c.credentials)
    }

    /// Runs `f` with the credentials last fetched, under the read lock (no clone of them).
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(Option<&Credentials>) -> R) -> R {
        f(self.current().as_ref().map(|cached| &cached.credentials))
    }

    fn fresh(&self, now: SystemTime) -> Option<Credentials> {
        self.read()
            .filter(|cached| !cached.stale(now))
            .map(|cached| cached.credentials)
    }

    fn read(&self) -> Option<Cached> {
        self.current().clone()
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Option<Cached>> {
        // A panic while holding the lock cannot leave `Cached` half-written: use it anyway.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn store(&self, cached: Cached) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cached);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::ProvideFuture;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Hands out keys numbered by fetch, living `lifetime`, or fails when told to.
    #[derive(Debug)]
    struct Counting {
        fetches: AtomicU32,
        lifetime: Duration,
        fail_from: u32,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials(&self) -> ProvideFuture<'_> {
            Box::pin(async move {
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                // Long enough for concurrent callers to pile up behind this fetch.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if n >= self.fail_from {
                    return Err(CredentialsError::Fetch {
                        provider: "counting",
                        message: format!("fetch {n} refused"),
                        source: None,
                    });
                }
                Ok(Credentials::new(format!("AK{n}"), "SK")
                    .with_expiry(SystemTime::now() + self.lifetime))
            })
        }

        fn name(&self) -> &'static str {
            "counting"
        }
    }

    fn counting(lifetime: Duration, fail_from: u32) -> (CredentialsCache, Arc<Counting>) {
        let provider = Arc::new(Counting {
            fetches: AtomicU32::new(0),
            lifetime,
            fail_from,
        });
        (CredentialsCache::from_arc(provider.clone()), provider)
    }

    #[tokio::test]
    async fn one_fetch_however_many_callers_wait() {
        let (cache, provider) = counting(Duration::from_secs(3600), u32::MAX);
        let waiting: Vec<_> = (0..16)
            .map(|_| {
                let clone = cache.clone();
                tokio::spawn(async move { clone.get().await })
            })
            .collect();
        for task in waiting {
            assert_eq!(task.await.unwrap().unwrap().access_key_id(), "AK1");
        }
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
        // Still fresh: no second fetch.
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AK1");
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keys_near_their_expiry_are_replaced() {
        // 100 s of life: refreshed in their last 50 s, i.e. at once here.
        let (cache, provider) = counting(Duration::from_secs(100), u32::MAX);
        let stale = Cached {
            credentials: Credentials::new("OLD", "SK")
                .with_expiry(SystemTime::now() + Duration::from_secs(30)),
            fetched_at: SystemTime::now() - Duration::from_secs(70),
        };
        cache.store(stale);
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AK1");
        assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
        // 2 h keys are kept until their last 40 minutes.
        let fresh = Cached {
            credentials: Credentials::new("KEEP", "SK")
                .with_expiry(SystemTime::now() + Duration::from_secs(41 * 60)),
            fetched_at: SystemTime::now() - Duration::from_secs(79 * 60),
        };
        assert!(!fresh.stale(SystemTime::now()));
        assert!(
            Cached {
                fetched_at: fresh.fetched_at,
                credentials: fresh
                    .credentials
                    .clone()
                    .with_expiry(SystemTime::now() + Duration::from_secs(39 * 60)),
            }
            .stale(SystemTime::now())
        );
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_valid_keys_and_reports_expired_ones() {
        let (cache, _) = counting(Duration::from_secs(3600), 1);
        let valid = Cached {
            credentials: Credentials::new("STILL", "SK")
                .with_expiry(SystemTime::now() + Duration::from_secs(60)),
            fetched_at: SystemTime::now() - Duration::from_secs(3540),
        };
        cache.store(valid);
        assert_eq!(cache.get().await.unwrap().access_key_id(), "STILL");
        let expired = Cached {
            credentials: Credentials::new("GONE", "SK")
                .with_expiry(SystemTime::now() - Duration::from_secs(1)),
            fetched_at: SystemTime::now() - Duration::from_secs(3601),
        };
        cache.store(expired);
        let err = cache.get().await.unwrap_err();
        assert!(err.to_string().starts_with("counting: fetch"), "{err}");
    }

    #[tokio::test]
    async fn values_of_any_provider_are_checked_before_use() {
        for (credentials, field) in [
            (Credentials::new("AK\nX", "SK"), "access key (AK)"),
            (
                Credentials::new("AK", "SECRET\nSECOND-LINE"),
                "secret key (SK)",
            ),
            (
                Credentials::new("AK", "SK").with_security_token("T\r\nSECOND-LINE"),
                "security token",
            ),
            (
                Credentials::new("AK", "SK").with_project_id("p\u{1b}[2J"),
                "project ID",
            ),
        ] {
            let err = CredentialsCache::new(credentials).get().await.unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                matches!(&err, CredentialsError::InvalidValue { provider: "static", field: f, .. } if f == field),
                "{shown}"
            );
            assert!(
                !shown.contains("SECOND-LINE") && !shown.contains("SECRET"),
                "{shown}"
            );
        }
        let fine = Credentials::new("AK", "SK")
            .with_security_token("T")
            .with_project_id("p");
        assert!(CredentialsCache::new(fine).get().await.is_ok());
    }
}
