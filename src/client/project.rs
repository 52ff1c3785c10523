//! Which project a call is for: given on the request or the client, carried by the credentials,
//! or found the way the official SDKs find it: IAM's `GET /v3/projects?name={region}`, signed
//! with the same credentials, remembered per IAM endpoint, access key and region.

use super::HssClient;
use crate::credentials::{Credentials, IAM_ENDPOINT_VARIABLE};
use crate::error::Error;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Regions with an IAM endpoint of their own (`https://iam.{region}.myhuaweicloud.com`), as the
/// official SDKs list them; other regions use the global `https://iam.myhuaweicloud.com`.
const IAM_REGIONS: &[&str] = &[
    "cn-north-1",
    "cn-north-2",
    "cn-north-4",
    "cn-north-9",
    "cn-north-12",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-east-5",
    "cn-south-1",
    "cn-south-2",
    "cn-southwest-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "af-south-1",
    "sa-brazil-1",
    "la-south-2",
    "la-north-2",
    "na-mexico-1",
    "eu-west-0",
    "my-kualalumpur-1",
    "ru-moscow-1",
    "me-east-1",
    "ae-ad-1",
    "tr-west-1",
];

/// An IAM project listing is a few hundred bytes; this is plenty.
const MAX_IAM_ANSWER_BYTES: usize = 256 * 1024;

/// Project IDs found, by (IAM endpoint, access key, region). Shared by clones of the client;
/// held across a lookup, so that concurrent first calls ask IAM once.
/// Projects remembered per client before the cache starts over.
const MAX_CACHED_PROJECTS: usize = 64;

pub(crate) type ProjectCache = Arc<tokio::sync::Mutex<HashMap<(String, String, String), String>>>;

/// How the project of a call was found (for `whoami`-style diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProjectSource {
    /// Set on the request.
    Request,
    /// Set on the client builder.
    Client,
    /// Carried by the credentials (`HUAWEICLOUD_SDK_PROJECT_ID`, the profile file ...).
    Credentials,
    /// Looked up in IAM for the client's region.
    Iam,
}

/// The IAM endpoint for `region`: the configured one, else `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else
/// the region's own, else the global one. A configured one is checked as every endpoint is.
pub(crate) fn iam_endpoint(configured: Option<&str>, region: &str) -> Result<String, Error> {
    if let Some(endpoint) = configured {
        return checked_iam_endpoint("iam_endpoint", endpoint);
    }
    if let Some(endpoint) = std::env::var(IAM_ENDPOINT_VARIABLE)
        .ok()
        .filter(|e| !e.trim().is_empty())
    {
        return checked_iam_endpoint(IAM_ENDPOINT_VARIABLE, &endpoint);
    }
    Ok(if IAM_REGIONS.contains(&region) {
        format!("https://iam.{region}.myhuaweicloud.com")
    } else {
        "https://iam.myhuaweicloud.com".to_owned()
    })
}

/// An IAM endpoint as requests are made to it (`scheme://host[:port][/path]`, no trailing `/`),
/// after the crate's one endpoint check (no white space or control characters, http(s), a host,
/// no user info) and without a query or fragment. Errors name `setting`, never the endpoint.
pub(crate) fn checked_iam_endpoint(setting: &'static str, endpoint: &str) -> Result<String, Error> {
    let bad = |problem: String| Error::Config { setting, problem };
    let url = crate::http::check_endpoint(endpoint).map_err(bad)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment".into()));
    }
    Ok(format!(
        "{}{}",
        url.origin().ascii_serialization(),
        url.path().trim_end_matches('/')
    ))
}

tokio::task_local! {
    /// The deadline of the call in progress on this task, when a project lookup and the call
    /// it is for share one.
    static DEADLINE: tokio::time::Instant;
}

/// The deadline of a call starting now: the one of the call in progress on this task if there
/// is one (a project lookup and the call it is for share it), else `total` from now.
pub(crate) fn deadline(total: Duration) -> tokio::time::Instant {
    DEADLINE.try_with(|deadline| *deadline).unwrap_or_else(|_| {
        let now = tokio::time::Instant::now();
        // A total too large to add to the clock: never, in practice.
        now.checked_add(total)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
    })
}

/// `work` bounded by [`deadline`]`(total)`, which the calls it makes share: fetching
/// credentials (STS, a federated login, the metadata service, pod identity), the IAM project
/// lookup and the call itself. When the time is up, a timeout ([`DeadlineExceeded`]).
pub(crate) async fn within_deadline<T>(
    total: Duration,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    // Tokio's timers panic outside a Tokio runtime: an error instead.
    super::call::require_runtime()?;
    let deadline = deadline(total);
    let bounded = tokio::time::timeout_at(deadline, work);
    // Inside another such scope (a lookup within a call), the deadline is already shared.
    let outcome = if DEADLINE.try_with(|_| ()).is_ok() {
        bounded.await
    } else {
        DEADLINE.scope(deadline, bounded).await
    };
    outcome.unwrap_or_else(|_elapsed| Err(Error::deadline_exceeded(total, 0)))
}

/// `work` with [`deadline`]`(total)` shared by what it runs, each part of which bounds itself
/// by it: a project lookup ([`within_deadline`]) and the call it is for (`call`, which counts
/// its attempts). No timer of its own: a call would otherwise wait on two for one deadline.
pub(crate) async fn sharing_deadline<T>(total: Duration, work: impl Future<Output = T>) -> T {
    if DEADLINE.try_with(|_| ()).is_ok() {
        return work.await;
    }
    DEADLINE.scope(deadline(total), work).await
}

impl HssClient {
    /// The project of a call, and how it was found; within the total timeout, credentials and
    /// IAM lookup included.
    pub(crate) async fn project_id(
        &self,
        requested: Option<&str>,
    ) -> Result<(String, ProjectSource), Error> {
        // Given on the request or the client: nothing to fetch, no deadline to set.
        if let Some(id) = requested {
            return Ok((id.to_owned(), ProjectSource::Request));
        }
        if let Some(id) = &self.project_id {
            return Ok((id.clone(), ProjectSource::Client));
        }
        within_deadline(self.total_timeout, self.find_project_id()).await
    }

    /// The credentials' project, else IAM's for the region.
    async fn find_project_id(&self) -> Result<(String, ProjectSource), Error> {
        let creds = self
            .hooks()
            .credentials()
            .await
            .map_err(Error::Credentials)?;
        if let Some(id) = creds.as_ref().and_then(Credentials::project_id) {
            return Ok((id.to_owned(), ProjectSource::Credentials));
        }
        match (&creds, &self.region) {
            (Some(creds), Some(region)) => {
                // Checked as for a call, before they sign the IAM request.
                super::call::check_credentials(creds)?;
                let id = self.discover_project_id(creds, region).await?;
                Ok((id, ProjectSource::Iam))
            }
            _ => Err(Error::InvalidInput {
                field: "project_id",
                rule: "required: set it in the credentials (HUAWEICLOUD_SDK_PROJECT_ID), on the \
                       client builder or on the request, or give a region so that it can be \
                       looked up in IAM with AK/SK credentials"
                    .into(),
            }),
        }
    }

    /// IAM's project of that region's name, from the cache or asked once.
    async fn discover_project_id(
        &self,
        creds: &Credentials,
        region: &str,
    ) -> Result<String, Error> {
        let endpoint = iam_endpoint(self.iam_endpoint.as_deref(), region)?;
        let key = (
            endpoint.clone(),
            creds.access_key_id().to_owned(),
            region.to_owned(),
        );
        let mut known = self.projects.lock().await;
        if let Some(id) = known.get(&key) {
            return Ok(id.clone());
        }
        let id = self.list_projects(&endpoint, creds, region).await?;
        // Keyed by AK as the SDKs do, so temporary keys add an entry at each refresh: bounded.
        if known.len() >= MAX_CACHED_PROJECTS {
            known.clear();
        }
        known.insert(key, id.clone());
        Ok(id)
    }

    /// `GET {iam}/v3/projects?name={region}`, signed like the SDKs sign it: `User-Agent`,
    /// `X-Sdk-Date`, `Host`, `X-Security-Token` for temporary keys; never V11.
    async fn list_projects(
        &self,
        endpoint: &str,
        creds: &Credentials,
        region: &str,
    ) -> Result<String, Error> {
        let fail = |why: String| Error::Config {
            setting: "project_id",
            problem: format!(
                "could not look up the project of region {region:?} in IAM at {endpoint}: {why}; \
                 set the project ID (HUAWEICLOUD_SDK_PROJECT_ID or --project-id) instead"
            ),
        };
        let query = [("name".to_owned(), region.to_owned())];
        let super::iam::Answer {
            status,
            body,
            trace_id,
        } = self
            .iam_get(
                endpoint,
                creds,
                "/v3/projects",
                &query,
                MAX_IAM_ANSWER_BYTES,
            )
            .await
            .map_err(|e| match e {
                Error::Config { problem, .. } => fail(problem),
                other => other,
            })?;
        if !(200..300).contains(&status) {
            let fields = crate::error_body::parse(status, &body);
            return Err(fail(format!(
                "HTTP {status}: {}: {} (X-IAM-Trace-Id {trace_id})",
                self.mask(&fields.error_code),
                self.mask(&fields.error_msg)
            )));
        }
        let listing: Listing = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("the answer is not a project list: {e}")))?;
        // Checked before it is shown, logged or used: it goes into paths, headers and logs.
        if let Some(why) = listing
            .projects
            .iter()
            .find_map(|p| checked_project_id(&p.id).err())
        {
            return Err(fail(format!(
                "IAM answered a project ID that cannot be used: project_id: {why} \
                 (X-IAM-Trace-Id {trace_id})"
            )));
        }
        match listing.projects.as_slice() {
            [] => Err(fail(format!(
                "IAM lists no project of that name (X-IAM-Trace-Id {trace_id})"
            ))),
            [one] => Ok(one.id.clone()),
            several => Err(fail(format!(
                "IAM lists {} projects of that name ({}) (X-IAM-Trace-Id {trace_id})",
                several.len(),
                several
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// A project ID as the spec's `project_id` path parameter allows it (its length), and without
/// control characters (it is sent as `X-Project-Id` and logged).
pub(super) fn checked_project_id(id: &str) -> Result<(), String> {
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ));
    }
    match crate::spec::RULES.iter().find(|r| r.name == "project_id") {
        Some(rule) => crate::spec::check(rule, id),
        None => Ok(()),
    }
}

#[derive(serde::Deserialize)]
struct Listing {
    #[serde(default)]
    projects: Vec<Project>,
}

#[derive(serde::Deserialize)]
struct Project {
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a convenience call does: a lookup, then the call, under one shared deadline.
    async fn lookup_then_call(
        total: Duration,
        lookup: Duration,
    ) -> (Result<(), Error>, tokio::time::Duration) {
        let started = tokio::time::Instant::now();
        let outcome = sharing_deadline(total, async {
            within_deadline(total, async {
                tokio::time::sleep(lookup).await;
                Ok(())
            })
            .await?;
            // A call that never answers.
            within_deadline(total, std::future::pending()).await
        })
        .await;
        (outcome, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_and_the_call_after_it_end_at_one_deadline() {
        let total = Duration::from_secs(10);
        let (outcome, took) = lookup_then_call(total, Duration::from_secs(6)).await;
        assert!(
            matches!(
                &outcome,
                Err(Error::Transport {
                    kind: crate::TransportKind::Timeout,
                    ..
                })
            ),
            "{outcome:?}"
        );
        assert_eq!(
            took, total,
            "not 6 s of lookup and then a whole timeout of its own"
        );

        // A lookup that never answers ends at the deadline too: the shared scope sets no timer,
        // the lookup bounds itself.
        let (outcome, took) = lookup_then_call(total, Duration::from_secs(3600)).await;
        assert!(outcome.is_err(), "{outcome:?}");
        assert_eq!(took, total);
    }

    #[test]
    fn iam_endpoints_by_region() {
        assert_eq!(
            iam_endpoint(None, "cn-north-4").unwrap(),
            "https://iam.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            iam_endpoint(None, "eu-west-101").unwrap(),
            "https://iam.myhuaweicloud.com"
        );
        assert_eq!(
            iam_endpoint(Some("http://127.0.0.1:9/"), "cn-north-4").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            iam_endpoint(Some(" https://IAM.example.com/base/ "), "cn-north-4").unwrap(),
            "https://iam.example.com/base"
        );
    }

    #[test]
    fn iam_endpoints_are_checked_like_the_endpoint_and_never_quoted() {
        for (endpoint, why) in [
            ("http://127.0.0.1:80\t81", "U+0009"),
            ("http://127.0.0.1:80\n81", "U+000A"),
            ("https://admin:IAM-PASSWORD@iam.example.com", "user info"),
            ("https://iam.example.com/?token=IAM-PASSWORD", "query"),
            ("iam.example.com", "http"),
        ] {
            let err = iam_endpoint(Some(endpoint), "cn-north-4").unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                matches!(&err, Error::Config { setting: "iam_endpoint", problem } if problem.contains(why)),
                "{endpoint:?}: {shown}"
            );
            assert!(
                !shown.contains("IAM-PASSWORD") && !shown.contains("example"),
                "{shown}"
            );
        }
    }
}
