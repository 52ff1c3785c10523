//! Every project the credentials can use, for calls across an account: IAM's
//! `GET /v3/auth/projects`, each project mapped to the HSS region it belongs to.
//!
//! A region's own project is named after the region; a sub-project has a name of its own and
//! the region project's ID as `parent_id`. Projects in regions HSS does not serve (IAM's `MOS`,
//! say), disabled projects, and IDs that could not be used in a path are left out.

use super::HssClient;
use super::project::{checked_project_id, iam_endpoint, within_deadline};
use crate::error::Error;
use crate::region;

/// The largest account listing read: 10,000 projects take about 3 MB.
const MAX_ACCOUNT_ANSWER_BYTES: usize = 8 << 20;

/// A project of the account in a region HSS serves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct AccountProject {
    /// The project ID (the path's `project_id`).
    pub id: String,
    /// IAM's name for it: the region for a region's own project.
    pub name: String,
    /// The region it belongs to.
    pub region: String,
    /// The region project's ID, for a sub-project.
    pub parent_id: Option<String>,
}

impl AccountProject {
    /// A project, for tests of code that takes one.
    pub fn new(id: impl Into<String>, name: impl Into<String>, region: impl Into<String>) -> Self {
        AccountProject {
            id: id.into(),
            name: name.into(),
            region: region.into(),
            parent_id: None,
        }
    }

    /// Whether it is a sub-project of its region's project.
    pub fn is_sub_project(&self) -> bool {
        self.parent_id.is_some()
    }
}

#[derive(serde::Deserialize)]
struct Listing {
    #[serde(default)]
    projects: Vec<Listed>,
}

#[derive(serde::Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

impl HssClient {
    /// Every project the credentials can use, in the regions HSS serves, region projects
    /// first, each region's sub-projects after it (IAM's `GET /v3/auth/projects`, which needs
    /// no IAM permission). Needs AK/SK credentials; within the client's total timeout.
    pub async fn account_projects(&self) -> Result<Vec<AccountProject>, Error> {
        within_deadline(self.total_timeout, self.list_account_projects()).await
    }

    async fn list_account_projects(&self) -> Result<Vec<AccountProject>, Error> {
        let creds = self
            .hooks()
            .credentials()
            .await
            .map_err(Error::Credentials)?
            .ok_or_else(|| Error::Config {
                setting: "credentials",
                problem: "listing the account's projects in IAM needs AK/SK credentials, not \
                          an IAM token"
                    .into(),
            })?;
        super::call::check_credentials(&creds)?;
        let endpoint = iam_endpoint(
            self.iam_endpoint.as_deref(),
            self.region.as_deref().unwrap_or_default(),
        )?;
        let answer = self
            .iam_get(
                &endpoint,
                &creds,
                "/v3/auth/projects",
                &[],
                MAX_ACCOUNT_ANSWER_BYTES,
            )
            .await?;
        let fail = |why: String| Error::InvalidResponse {
            status: answer.status,
            request_id: Some(answer.trace_id.clone()),
            message: format!("IAM's list of the account's projects: {why}"),
        };
        if !(200..300).contains(&answer.status) {
            let fields = crate::error_body::parse(answer.status, &answer.body);
            return Err(Error::Service(
                crate::error::ServiceError::new(
                    answer.status,
                    self.mask(&fields.error_code),
                    self.mask(&fields.error_msg),
                )
                .with_request_id(answer.trace_id.clone()),
            ));
        }
        let listing: Listing = serde_json::from_slice(&answer.body)
            .map_err(|e| fail(format!("not a project list: {e}")))?;
        Ok(in_regions(listing.projects))
    }
}

/// The listed projects HSS can serve, each with its region: region projects in the order of
/// [`region::REGIONS`], each followed by its sub-projects in IAM's order.
fn in_regions(listed: Vec<Listed>) -> Vec<AccountProject> {
    let usable: Vec<Listed> = listed
        .into_iter()
        .filter(|p| p.enabled != Some(false))
        .filter(|p| {
            let ok = checked_project_id(&p.id).is_ok();
            if !ok {
                tracing::warn!("IAM listed a project ID that cannot be used: left out");
            }
            ok
        })
        .collect();
    // Each project's region when its name is one (a region's own project), found once.
    let named: Vec<(&Listed, Option<&'static str>)> =
        usable.iter().map(|p| (p, region::known(&p.name))).collect();
    let mut projects: Vec<AccountProject> = Vec::new();
    for region in region::REGIONS {
        for (own, _) in named.iter().filter(|(_, r)| *r == Some(*region)) {
            projects.push(AccountProject::new(&own.id, &own.name, *region));
            let subs = named
                .iter()
                .filter(|(p, r)| r.is_none() && p.parent_id.as_deref() == Some(own.id.as_str()));
            for (sub, _) in subs {
                projects.push(AccountProject {
                    parent_id: Some(own.id.clone()),
                    ..AccountProject::new(&sub.id, &sub.name, *region)
                });
            }
        }
    }
    projects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, name: &str, parent: &str) -> Listed {
        Listed {
            id: id.into(),
            name: name.into(),
            parent_id: Some(parent.into()),
            enabled: None,
        }
    }

    #[test]
    fn projects_map_to_their_regions_and_the_rest_is_left_out() {
        let domain = "d0";
        let projects = in_regions(vec![
            listed("p-sub", "cn-north-4_team", "p-cn4"),
            listed("p-mos", "MOS", domain),
            listed("p-cn4", "cn-north-4", domain),
            listed("p-ap1", "ap-southeast-1", domain),
            listed("p-orphan", "team_x", "nobody"),
            listed("p-bad\n", "cn-east-3", domain),
            Listed {
                enabled: Some(false),
                ..listed("p-off", "cn-east-2", domain)
            },
        ]);
        let shown: Vec<(&str, &str, bool)> = projects
            .iter()
            .map(|p| (p.id.as_str(), p.region.as_str(), p.is_sub_project()))
            .collect();
        let cn4 = region::REGIONS
            .iter()
            .position(|r| *r == "cn-north-4")
            .unwrap();
        let ap1 = region::REGIONS
            .iter()
            .position(|r| *r == "ap-southeast-1")
            .unwrap();
        let mut expected = vec![
            ("p-cn4", "cn-north-4", false),
            ("p-sub", "cn-north-4", true),
        ];
        let ap = ("p-ap1", "ap-southeast-1", false);
        if ap1 < cn4 {
            expected.insert(0, ap);
        } else {
            expected.push(ap);
        }
        assert_eq!(shown, expected);
        assert_eq!(
            projects
                .iter()
                .find(|p| p.id == "p-sub")
                .unwrap()
                .parent_id
                .as_deref(),
            Some("p-cn4")
        );
    }
}
