//! `hss-image-sync sync`: `CreateImageSynchronizeTask` for every registry or those named;
//! with `--image-type`, the deprecated `RunImageSynchronize`. With `--wait`, until the task
//! ends; with `--all-projects`, `--regions` or several `--project-id`, over many targets (see
//! `fanout`).

use crate::connection::{ConnectionArgs, report};
use crate::fanout::{FanOut, Target, WaitSettings};
use crate::journal::{Journal, run_digest};
use crate::output;
use crate::progress::Progress;
use crate::projects::{Coverage, regions_filter};
use clap::Args;
use hss_image_sync::types::{self, CreateImageSynchronizeTaskRequestInfo, RegistryRef};
use hss_image_sync::{Error, HssClient, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The registries whose image lists to synchronize: `all`, or ID:TYPE[,ID:TYPE...] with the
    /// IDs and types `registries list` shows (TYPE: SwrPrivate, SwrShared, SwrEnterprise,
    /// Harbor, Jfrog, Other). The default, with neither this nor --image-type.
    #[arg(long, conflicts_with = "image_type")]
    registries: Option<String>,

    /// Use the deprecated RunImageSynchronize for SWR private_image or shared_image
    /// repositories instead (any case).
    #[arg(long)]
    image_type: Option<String>,

    /// Enterprise project ID (1..256 characters): "0" is the default project, "all_granted_eps"
    /// all of them. Not sent unless given (the service then uses "0").
    #[arg(long)]
    enterprise_project_id: Option<String>,

    /// Value of the API's `region` header (0..128 characters). Not sent unless given.
    #[arg(long)]
    region_header: Option<String>,

    /// Print the fully signed request (method, URL, headers with the signature and tokens
    /// masked, body) and exit 0 without sending it. The project ID may still be looked up in
    /// IAM.
    #[arg(long, conflicts_with_all = ["wait", "journal", "all_projects", "regions"])]
    dry_run: bool,

    /// Wait until each task ends: exit 0 when every registry finished, 4 when the task or a
    /// registry failed (each named with its reason), 5 when --wait-timeout ran out first.
    #[arg(long, conflicts_with = "image_type")]
    wait: bool,

    /// How long --wait waits: seconds, or with a unit (90s, 15m, 2h).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    wait_timeout: Duration,

    /// Shortest and longest delay between two polls of a task, in seconds (the delay grows
    /// from the one to the other). Polls also keep to --rate.
    #[arg(long, value_name = "SECONDS", default_value_t = 12.0, hide = true)]
    poll_min: f64,
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0, hide = true)]
    poll_max: f64,

    /// Every project of the account in the regions HSS serves, sub-projects included (IAM
    /// lists them; `hss-image-sync projects` shows them). With --regions, only those regions.
    #[arg(long, conflicts_with = "image_type")]
    all_projects: bool,

    /// Regions to cover, comma-separated, or `all`: each region's own project (with
    /// --all-projects, every project of those regions). With --endpoint, every region's calls
    /// go to that one URL (a proxy, or the emulator).
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        conflicts_with = "image_type"
    )]
    regions: Vec<String>,

    /// Targets synced at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,

    /// Calls a minute per API for these credentials, shared by every target: N/min, or `off`
    /// (no pace until HSS throttles; then slower). The default is HSS's documented budget.
    #[arg(long, value_name = "N/min|off", default_value = "5/min", value_parser = parse_rate)]
    rate: Rate,

    /// Record each target's progress in FILE, so that a rerun with the same targets and
    /// options continues where an interrupted run stopped: a target synced (and with --wait,
    /// finished) is not called again.
    #[arg(long, value_name = "FILE", conflicts_with = "image_type")]
    journal: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(mut args: SyncArgs) -> ExitCode {
    let coverage = match coverage(&args) {
        Ok(coverage) => coverage,
        Err(e) => return report(&e),
    };
    if coverage.is_many() || args.wait || args.journal.is_some() {
        if args.region_header.is_some() {
            return report(&Error::InvalidInput {
                field: "--region-header",
                rule: "not with --wait, --journal or several targets".into(),
            });
        }
        return many(args, coverage).await;
    }
    let (emulator, client) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let code = match sync(&client, &args).await {
        Ok(code) | Err(code) => code,
    };
    if let Some(running) = emulator.filter(|_| !args.dry_run) {
        output::show_verification(&running);
    }
    code
}

async fn sync(client: &HssClient, args: &SyncArgs) -> Result<ExitCode, ExitCode> {
    let eps = args.enterprise_project_id.as_deref();
    let region = args.region_header.as_deref();
    if let Some(image_type) = &args.image_type {
        eprintln!(
            "note: --image-type uses RunImageSynchronize, which HSS has deprecated; \
             --registries uses its successor"
        );
        // Any case, as regions: `PRIVATE_IMAGE` is `private_image`.
        let image_type: types::ImageType =
            output::parse("image_type", &image_type.trim().to_ascii_lowercase())?;
        let body = types::RunImageSynchronizeRequestInfo { image_type };
        let mut op = client.operations().run_image_synchronize();
        op = op.body(body);
        if let Some(eps) = eps {
            op = op.enterprise_project_id(eps);
        }
        if let Some(region) = region {
            op = op.region(region);
        }
        return Ok(output::send(client, op, args.dry_run).await);
    }
    let body = registries(args.registries.as_deref().unwrap_or("all"))?;
    let mut op = client.operations().create_image_synchronize_task();
    op = op.body(body);
    if let Some(eps) = eps {
        op = op.enterprise_project_id(eps);
    }
    if let Some(region) = region {
        op = op.region(region);
    }
    let code = output::send(client, op, args.dry_run).await;
    if code == ExitCode::SUCCESS && !args.dry_run {
        eprintln!("task created: `hss-image-sync tasks list --task-type manualSync` follows it");
    }
    Ok(code)
}

/// What the arguments cover.
fn coverage(args: &SyncArgs) -> Result<Coverage, Error> {
    let regions = (!args.regions.is_empty())
        .then(|| regions_filter(&args.regions))
        .transpose()?;
    Ok(Coverage {
        all_projects: args.all_projects,
        regions,
        project_ids: args.connection.project_id.clone(),
        region: args.connection.region().map(str::to_owned),
    })
}

/// `sync` with `--wait`, a journal or several targets: through the fan-out.
async fn many(mut args: SyncArgs, coverage: Coverage) -> ExitCode {
    let body = match registries(args.registries.as_deref().unwrap_or("all")) {
        Ok(body) => body,
        Err(code) => return code,
    };
    let (emulator, builder) = match args.connection.connect_builder().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let limiter = match args.rate {
        Rate::PerMinute(calls) => RateLimiter::per_minute(calls),
        Rate::Off => RateLimiter::unlimited(),
    };
    let mut builder = builder.rate_limiter(limiter);
    if let Some(eps) = &args.enterprise_project_id {
        builder = builder.enterprise_project_id(eps);
    }
    let region = coverage.region.clone();
    let base = match region.as_deref() {
        Some(region) => builder.clone().region(region),
        None => builder.clone(),
    };
    let base = match base.build() {
        Ok(client) => client,
        Err(e) => return report(&e),
    };
    let targets = if coverage.is_many() {
        coverage.targets(&base).await
    } else {
        one_target(&base, &coverage, region.as_deref()).await
    };
    let targets = match targets {
        Ok(targets) => targets,
        Err(e) => return crate::connection::report_for(&e, Some(base.credential_source())),
    };
    let mut clients = HashMap::new();
    for target in &targets {
        if clients.contains_key(&target.region) {
            continue;
        }
        // One connection pool for every region: their calls may all go to one endpoint.
        let client =
            if Some(target.region.as_str()) == region.as_deref() || target.region.is_empty() {
                Ok(base.clone())
            } else {
                builder
                    .clone()
                    .region(&target.region)
                    .connections_of(&base)
                    .build()
            };
        match client {
            Ok(client) => clients.insert(target.region.clone(), client),
            Err(e) => return report(&e),
        };
    }
    let journal = match &args.journal {
        Some(path) => {
            let run = run_name(
                &targets,
                &body,
                args.wait,
                args.enterprise_project_id.as_deref(),
            );
            match Journal::open(path, &run, targets.len()) {
                Ok(journal) => Some(journal),
                Err(why) => {
                    return report(&Error::InvalidInput {
                        field: "--journal",
                        rule: why,
                    });
                }
            }
        }
        None => None,
    };
    let wait = match args.wait.then(|| wait_settings(&args)).transpose() {
        Ok(wait) => wait,
        Err(e) => return report(&e),
    };
    let run = FanOut {
        clients,
        body,
        concurrency: usize::from(args.concurrency),
        wait,
        journal,
        progress: Progress::new(),
    };
    let status = run.run(targets).await;
    if let Some(running) = emulator {
        output::show_verification(&running);
    }
    ExitCode::from(status)
}

/// The one target of a plain `sync`: the client's project, in its region.
async fn one_target(
    client: &HssClient,
    coverage: &Coverage,
    region: Option<&str>,
) -> Result<Vec<Target>, Error> {
    let project_id = match coverage.project_ids.as_slice() {
        [one] => one.clone(),
        _ => client.default_project_id().await?,
    };
    Ok(vec![Target {
        region: region
            .map(|r| hss_image_sync::region::known(r).map_or(r.to_owned(), str::to_owned))
            .unwrap_or_default(),
        project_id,
        project_name: None,
    }])
}

/// What makes two runs the same for `--journal`: the targets, the body, `--wait` and the
/// enterprise project (what is synchronized; not how fast, nor how long to wait).
fn run_name(
    targets: &[Target],
    body: &CreateImageSynchronizeTaskRequestInfo,
    wait: bool,
    enterprise_project_id: Option<&str>,
) -> String {
    let mut keys: Vec<String> = targets.iter().map(Target::key).collect();
    keys.sort();
    let body = serde_json::to_string(body).unwrap_or_default();
    let mut parts: Vec<&str> = vec![&body, if wait { "wait" } else { "no-wait" }];
    // Only when given, so that the journals of runs without it keep their digest.
    let eps = enterprise_project_id.map(|eps| format!("enterprise_project_id={eps}"));
    parts.extend(eps.as_deref());
    parts.extend(keys.iter().map(String::as_str));
    run_digest(&parts)
}

fn wait_settings(args: &SyncArgs) -> Result<WaitSettings, Error> {
    let seconds = |field: &'static str, value: f64| {
        Duration::try_from_secs_f64(value).map_err(|_| Error::InvalidInput {
            field,
            rule: "must be a number of seconds, 0 or more".into(),
        })
    };
    let min_delay = seconds("--poll-min", args.poll_min)?;
    let max_delay = seconds("--poll-max", args.poll_max)?.max(min_delay);
    Ok(WaitSettings {
        max_wait: args.wait_timeout,
        min_delay,
        max_delay,
    })
}

/// `--rate`.
#[derive(Debug, Clone, Copy)]
pub enum Rate {
    PerMinute(NonZeroU32),
    Off,
}

fn parse_rate(value: &str) -> Result<Rate, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(Rate::Off);
    }
    let calls = value.strip_suffix("/min").unwrap_or(value);
    calls
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .and_then(NonZeroU32::new)
        .map(Rate::PerMinute)
        .ok_or_else(|| {
            format!(
                "must be N/min with N in 1..=10000 (HSS documents {}/min per API), or off",
                RateLimiter::DOCUMENTED_CALLS_PER_MINUTE
            )
        })
}

/// A duration: seconds, or a number with `s`, `m` or `h`.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => value.split_at(at),
        None => (value, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err("must be seconds, or a number with s, m or h (90s, 15m, 2h)".into()),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok())
        .filter(|d| *d <= Duration::from_secs(7 * 24 * 3600))
        .ok_or_else(|| "must be a positive duration of at most a week (90s, 15m, 2h)".into())
}

/// `all`, or `ID:TYPE[,ID:TYPE...]`, as the create request's body.
fn registries(text: &str) -> Result<CreateImageSynchronizeTaskRequestInfo, ExitCode> {
    if text == "all" {
        return Ok(CreateImageSynchronizeTaskRequestInfo {
            sync_all_registries: true,
            registry_info: Vec::new(),
        });
    }
    let mut registry_info = Vec::new();
    for item in text.split(',') {
        let Some((id, kind)) = item.split_once(':') else {
            return Err(report(&Error::InvalidInput {
                field: "registries",
                rule: "must be `all` or ID:TYPE[,ID:TYPE...]".into(),
            }));
        };
        registry_info.push(RegistryRef {
            registry_id: output::parse("registry_id", id)?,
            registry_type: output::parse("registry_type", kind)?,
        });
    }
    Ok(CreateImageSynchronizeTaskRequestInfo {
        sync_all_registries: false,
        registry_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        for bad in ["", "0", "-3m", "10d", "8d", "m", "1e9h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(matches!(parse_rate("off"), Ok(Rate::Off)));
        assert!(matches!(parse_rate("12/min"), Ok(Rate::PerMinute(n)) if n.get() == 12));
        assert!(matches!(parse_rate("7"), Ok(Rate::PerMinute(n)) if n.get() == 7));
        for bad in ["0", "0/min", "5/s", "10001/min", "x"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
