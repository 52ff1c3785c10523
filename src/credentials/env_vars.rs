//! [`EnvVars`]: where every provider reads its variables.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Where providers read their variables: the process environment (the default), or a lookup of
/// your own, so that tests, or several clients in one process, do not share process-wide state.
///
/// A variable that is set but empty counts as unset, as in the official SDKs.
///
/// ```
/// use hss_image_sync::credentials::{EnvVars, EnvironmentProvider};
///
/// let env = EnvVars::from_pairs([("HUAWEICLOUD_SDK_AK", "AK"), ("HUAWEICLOUD_SDK_SK", "SK")]);
/// assert_eq!(env.get("HUAWEICLOUD_SDK_AK").as_deref(), Some("AK"));
/// let provider = EnvironmentProvider::new().with_env(env);
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct EnvVars(Arc<Lookup>);

/// How [`EnvVars`] finds a variable's value.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl EnvVars {
    /// The process environment, read at each lookup.
    pub fn process() -> Self {
        EnvVars(Arc::new(|name| std::env::var(name).ok()))
    }

    /// Variables from a lookup function.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        EnvVars(Arc::new(lookup))
    }

    /// Fixed variables; every other one is unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        EnvVars(Arc::new(move |name| map.get(name).cloned()))
    }

    /// The value of `name`, if it is set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }
}

impl Default for EnvVars {
    fn default() -> Self {
        EnvVars::process()
    }
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvVars(..)")
    }
}
