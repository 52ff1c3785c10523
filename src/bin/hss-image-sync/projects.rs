//! Which targets (projects in regions) a command covers: `--all-projects` (every project of the
//! account, from IAM), `--regions a,b|all` (each region's own project), `--project-id a,b`
//! (projects of --region); and `projects`, which lists what `--all-projects` covers.

use crate::connection::{ConnectionArgs, report, report_for};
use crate::fanout::Target;
use crate::render;
use clap::Args;
use hss_image_sync::{AccountProject, Error, HssClient, region};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ProjectsArgs {
    /// Only these regions: a comma-separated list, or `all` (the default).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    regions: Vec<String>,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(mut args: ProjectsArgs) -> ExitCode {
    let regions = match regions_filter(&args.regions) {
        Ok(regions) => regions,
        Err(e) => return report(&e),
    };
    let (_emulator, client) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    match client.account_projects().await {
        Ok(projects) => {
            let shown: Vec<serde_json::Value> = projects
                .iter()
                .filter(|p| {
                    regions
                        .as_ref()
                        .is_none_or(|r| r.contains(&p.region.as_str()))
                })
                .map(|p| {
                    serde_json::json!({
                        "region": p.region,
                        "project_id": p.id,
                        "project_name": p.name,
                        "parent_id": p.parent_id,
                    })
                })
                .collect();
            render::print(&serde_json::Value::Array(shown));
            ExitCode::SUCCESS
        }
        Err(e) => report_for(&e, Some(client.credential_source())),
    }
}

/// `--regions`: `None` for every region (`all`, or not given), else the regions named, each
/// checked.
pub fn regions_filter(given: &[String]) -> Result<Option<Vec<&'static str>>, Error> {
    if given.is_empty() || (given.len() == 1 && given[0].trim().eq_ignore_ascii_case("all")) {
        return Ok(None);
    }
    let mut regions = Vec::new();
    for name in given {
        let known = region::known(name).ok_or_else(|| Error::InvalidInput {
            field: "--regions",
            rule: format!(
                "{} is not a region HSS serves (`hss-image-sync regions` lists them; or `all`)",
                crate::terminal::printable(name.trim())
            ),
        })?;
        if !regions.contains(&known) {
            regions.push(known);
        }
    }
    Ok(Some(regions))
}

/// What a `sync` covers.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// `--all-projects`: every project of the account, sub-projects included.
    pub all_projects: bool,
    /// `--regions` (`None`: every region, when asked for with `all`).
    pub regions: Option<Option<Vec<&'static str>>>,
    /// `--project-id`, all in `region`.
    pub project_ids: Vec<String>,
    /// `--region`.
    pub region: Option<String>,
}

impl Coverage {
    /// Whether more than the client's own project is asked for.
    pub fn is_many(&self) -> bool {
        self.all_projects || self.regions.is_some() || self.project_ids.len() > 1
    }

    /// The targets: from IAM's account listing for `--all-projects` and `--regions`, else the
    /// projects given in `--region`.
    pub async fn targets(&self, client: &HssClient) -> Result<Vec<Target>, Error> {
        if let Some(filter) = self.regions.clone().or(self.all_projects.then_some(None)) {
            let projects = client.account_projects().await?;
            let targets: Vec<Target> = projects
                .into_iter()
                .filter(|p| self.all_projects || !p.is_sub_project())
                .filter(|p| {
                    filter
                        .as_ref()
                        .is_none_or(|r| r.contains(&p.region.as_str()))
                })
                .map(target_of)
                .collect();
            if targets.is_empty() {
                return Err(Error::InvalidInput {
                    field: "--regions",
                    rule: "IAM lists no project of the account in those regions (`hss-image-sync \
                           projects` shows the account's projects)"
                        .into(),
                });
            }
            return Ok(targets);
        }
        let region = self.region.clone().ok_or_else(|| Error::InvalidInput {
            field: "--region",
            rule: "required with several --project-id (they are projects of that region)".into(),
        })?;
        let region = region::known(&region).map_or(region, str::to_owned);
        let mut targets: Vec<Target> = Vec::new();
        for id in &self.project_ids {
            if !targets.iter().any(|t| &t.project_id == id) {
                targets.push(Target {
                    region: region.clone(),
                    project_id: id.clone(),
                    project_name: None,
                });
            }
        }
        Ok(targets)
    }
}

fn target_of(project: AccountProject) -> Target {
    Target {
        region: project.region,
        project_id: project.id,
        project_name: Some(project.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_all_or_known_names() {
        assert_eq!(regions_filter(&[]).unwrap(), None);
        assert_eq!(regions_filter(&["ALL".into()]).unwrap(), None);
        assert_eq!(
            regions_filter(&[
                "CN-North-4".into(),
                "cn-north-4".into(),
                "ap-southeast-1".into()
            ])
            .unwrap(),
            Some(vec!["cn-north-4", "ap-southeast-1"])
        );
        let err = regions_filter(&["cn-north-4".into(), "https://x".into()]).unwrap_err();
        assert!(err.to_string().contains("--regions"), "{err}");
        assert!(err.to_string().contains("not a region"), "{err}");
    }
}
