//! The service behind the gateway: one small handler per operation of the spec, on the state.
//! A call reaches a handler only once the gateway authenticated it and `validate` checked its
//! parameters and body against the spec, so a handler deals with what the service decides
//! (which registries, which tasks, which page).

use super::state::{MAX_PROJECTS, State, SyncTask, TaskEnd, TaskRegistry};
use super::validate::{CallBody, Invalid, ValidCall, invalid};
use crate::generated::types;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// Default of [`Emulator::task_seconds`](super::Emulator::task_seconds): long enough for a
/// client to see a task run, short enough for tests.
pub const DEFAULT_TASK_SECONDS: u64 = 2;

/// `limit` when a list request has none (the spec's default).
const DEFAULT_LIMIT: usize = 10;

/// The service's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The registries every project has (`ListRegistry`).
    pub registries: Vec<types::RegistryInfo>,
    /// Registry IDs whose synchronization fails.
    pub failing: BTreeSet<String>,
    /// How long a synchronization task runs.
    pub task_duration: Duration,
    /// Project IDs whose calls fail ([`FAILED_PROJECT_ERROR_CODE`]).
    pub failing_projects: BTreeSet<String>,
    /// The most projects the state keeps: [`MAX_PROJECTS`], or the account's size if larger.
    pub max_projects: usize,
    /// How every task ends, when not by itself.
    pub task_end: Option<TaskEnd>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            registries: default_registries(),
            failing: BTreeSet::new(),
            task_duration: Duration::from_secs(DEFAULT_TASK_SECONDS),
            failing_projects: BTreeSet::new(),
            max_projects: MAX_PROJECTS,
            task_end: None,
        }
    }
}

/// The `error_code` (with 403) of an HSS call for a project the account does not have (with
/// [`Emulator::projects`](super::Emulator::projects)): IAM does not list it, or it is IAM's
/// `MOS`. Final: retrying does not help.
pub const UNKNOWN_PROJECT_ERROR_CODE: &str = "HSS.1007";

/// The `error_code` (with 403) of every HSS call for a project of
/// [`Emulator::fail_project`](super::Emulator::fail_project): HSS is not enabled for it. Final:
/// retrying does not help.
pub const FAILED_PROJECT_ERROR_CODE: &str = "HSS.1008";

/// Why the service refuses every call for `project_id`, if it does: 403 for a project the
/// account does not have, or one whose calls fail.
pub(crate) fn refuse_project(
    project_id: &str,
    shared: &super::server::Shared,
) -> Option<(u16, &'static str, String)> {
    if let Some(account) = &shared.config.account
        && account.index_of(project_id).is_none()
    {
        return Some((
            403,
            UNKNOWN_PROJECT_ERROR_CODE,
            format!(
                "project_id: the project {project_id} does not exist in this account, or HSS \
                 does not serve it"
            ),
        ));
    }
    if shared.config.hss.failing_projects.contains(project_id) {
        return Some((
            403,
            FAILED_PROJECT_ERROR_CODE,
            format!(
                "project_id: HSS is not enabled for the project {project_id}: enable a \
                 container security edition for it first"
            ),
        ));
    }
    None
}

/// The registries of every project unless configured: an SWR private, an SWR shared and a
/// Harbor registry, all connected.
pub fn default_registries() -> Vec<types::RegistryInfo> {
    let registry = |id: &str, name: &str, kind: &str, addr: &str, namespace: &str, images| {
        types::RegistryInfo {
            id: Some(id.to_owned()),
            registry_name: Some(name.to_owned()),
            registry_type: Some(kind.to_owned()),
            api_version: Some("V2".to_owned()),
            protocol: Some("https".to_owned()),
            registry_addr: Some(addr.to_owned()),
            namespace: Some(namespace.to_owned()),
            get_scan_image_channel: Some(if kind == "Harbor" { "Other" } else { "Swr" }.to_owned()),
            status: Some("success".to_owned()),
            images_num: Some(images),
            ..Default::default()
        }
    };
    let swr = "swr.cn-north-4.myhuaweicloud.com";
    let mut harbor = registry(
        "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c03",
        "harbor-ci",
        "Harbor",
        "harbor.example.com",
        "library",
        40,
    );
    harbor.registry_username = Some("robot$hss".to_owned());
    vec![
        registry(
            "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c01",
            "swr-private",
            "SwrPrivate",
            swr,
            "team-a",
            12,
        ),
        registry(
            "9b2f6c1e-3d4a-4f5b-8c7d-0e1f2a3b4c02",
            "swr-shared",
            "SwrShared",
            swr,
            "shared",
            3,
        ),
        harbor,
    ]
}

/// What the service answers a valid call.
pub(crate) enum Answer {
    /// The deprecated call's `{"error_code":0,"error_description":"success"}`.
    Success,
    /// 200 with no body.
    Empty,
    /// 200 with this JSON.
    Json(Vec<u8>),
}

/// What a handler sees besides the call and the state.
pub(crate) struct Context<'a> {
    pub settings: &'a Settings,
    pub now: SystemTime,
    /// Unique per request: a new task's ID derives from it.
    pub request_id: &'a str,
}

impl Context<'_> {
    fn now_ms(&self) -> i64 {
        self.now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

type Handler = fn(&ValidCall, &mut State, &Context<'_>) -> Result<Answer, Invalid>;

/// The route table: each operation of the spec, and its handler.
const HANDLERS: &[(&str, Handler)] = &[
    ("run_image_synchronize", run_image_synchronize),
    (
        "create_image_synchronize_task",
        create_image_synchronize_task,
    ),
    ("list_image_scan_task", list_image_scan_task),
    ("list_associate_registries", list_associate_registries),
    ("list_registry", list_registry),
];

/// Whether the service has a handler for `operation` (else the gateway answers 404).
pub(crate) fn serves(operation: &str) -> bool {
    HANDLERS.iter().any(|(name, _)| *name == operation)
}

/// Answers `call`, changing `state` as the service would.
pub(crate) fn handle(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    match HANDLERS.iter().find(|(name, _)| *name == call.operation) {
        Some((_, handler)) => handler(call, state, context),
        None => Err(invalid(call.operation, "not served by the emulator")),
    }
}

fn run_image_synchronize(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    let CallBody::Run(info) = &call.body else {
        return Err(invalid("body", "missing"));
    };
    let at = crate::signer::sdk_date::format(context.now).unwrap_or_default();
    let cap = context.settings.max_projects;
    state.record_sync(
        call.project_id(),
        &info.image_type.to_string(),
        at,
        call.param("enterprise_project_id").map(str::to_owned),
        cap,
    );
    state.count_call(call.project_id(), cap, |calls| calls.run += 1);
    Ok(Answer::Success)
}

fn create_image_synchronize_task(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    let CallBody::Create(info) = &call.body else {
        return Err(invalid("body", "missing"));
    };
    let registries = &context.settings.registries;
    let chosen: Vec<&types::RegistryInfo> = if info.sync_all_registries {
        registries.iter().collect()
    } else {
        if info.registry_info.is_empty() {
            return Err(invalid(
                "registry_info",
                "is required when sync_all_registries is false",
            ));
        }
        let mut chosen: Vec<&types::RegistryInfo> = Vec::new();
        for wanted in &info.registry_info {
            let id: &str = &wanted.registry_id;
            let Some(registry) = registries.iter().find(|r| r.id.as_deref() == Some(id)) else {
                return Err(invalid(
                    "registry_info.registry_id",
                    format_args!("no registry {id}"),
                ));
            };
            let kind = wanted.registry_type.to_string();
            if registry.registry_type.as_deref() != Some(kind.as_str()) {
                return Err(invalid(
                    "registry_info.registry_type",
                    format_args!("registry {id} is not {kind}"),
                ));
            }
            // The same registry listed twice is synchronized once.
            if !chosen.iter().any(|c| c.id == registry.id) {
                chosen.push(registry);
            }
        }
        chosen
    };
    let settings = context.settings;
    let task_registries = chosen
        .into_iter()
        .map(|r| {
            let id = r.id.clone().unwrap_or_default();
            let failed_reason = if settings.failing.contains(&id) {
                Some("REQUEST_API_ERROR: the registry did not answer".to_owned())
            } else if r.status.as_deref() == Some("fail") {
                Some(
                    r.fail_reason
                        .clone()
                        .unwrap_or_else(|| "SERVER_ERROR".to_owned()),
                )
            } else {
                None
            };
            TaskRegistry {
                registry_id: id,
                registry_name: r.registry_name.clone().unwrap_or_default(),
                registry_type: r.registry_type.clone().unwrap_or_default(),
                failed_reason,
            }
        })
        .collect();
    let begin_time = context.now_ms();
    let duration = i64::try_from(settings.task_duration.as_millis()).unwrap_or(i64::MAX);
    state.add_task(
        call.project_id(),
        SyncTask {
            task_id: task_id(context.request_id),
            begin_time,
            end_time: begin_time.saturating_add(duration),
            is_all: info.sync_all_registries,
            registries: task_registries,
            end: settings.task_end,
        },
        settings.max_projects,
    );
    state.count_call(call.project_id(), settings.max_projects, |calls| {
        calls.create += 1;
    });
    Ok(Answer::Empty)
}

/// A task ID shaped like HSS's (a UUID), from the request's unique ID.
fn task_id(request_id: &str) -> String {
    let hex: String = request_id
        .chars()
        .chain(std::iter::repeat('0'))
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn list_image_scan_task(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    let now = context.now_ms();
    let wanted = |name| call.param(name);
    // The emulator runs synchronization tasks only: a scan listing is empty.
    let sync = wanted("type") == Some("image_sync")
        && wanted("task_type").is_none_or(|t| t == "manualSync");
    let matching: Vec<&SyncTask> = if sync {
        state
            .tasks(call.project_id())
            // Newest first.
            .rev()
            .filter(|t| wanted("task_id").is_none_or(|id| t.task_id == id))
            .filter(|_| wanted("task_name").is_none_or(|name| TASK_NAME.contains(name)))
            .filter(|t| match wanted("task_status") {
                Some("scanning") => !t.finished_at(now),
                Some("finished") => t.finished_at(now),
                _ => true,
            })
            .collect()
    } else {
        Vec::new()
    };
    let (page, total) = paginate(call, matching);
    let answer = types::ListImageScanTaskResponse {
        data_list: page.into_iter().map(|t| task_info(t, now)).collect(),
        total_num: Some(total),
    };
    json(&answer)
}

/// Every task's name (HSS names manual synchronizations itself).
const TASK_NAME: &str = "manual image synchronization";

fn task_info(task: &SyncTask, now: i64) -> types::ImageScanTaskInfo {
    let finished = task.finished_at(now);
    let failed = task
        .registries
        .iter()
        .filter(|r| r.failed_reason.is_some())
        .count() as i64;
    let total = task.registries.len() as i64;
    let status = task.status_at(now);
    types::ImageScanTaskInfo {
        task_id: Some(task.task_id.clone()),
        task_name: Some(TASK_NAME.to_owned()),
        task_type: Some("manualSync".to_owned()),
        image_type: Some("registry".to_owned()),
        begin_time: Some(task.begin_time),
        end_time: finished.then_some(task.end_time),
        // Whole minutes left, rounded up.
        remain_min: Some(if finished {
            0
        } else {
            (task.end_time - now + 59_999) / 60_000
        }),
        task_status: Some(status),
        is_all: Some(task.is_all),
        total_num: Some(total),
        success_num: Some(if finished { total - failed } else { 0 }),
        failed_num: Some(if finished { failed } else { 0 }),
        failed_reason: match (finished, task.end) {
            (true, Some(end)) => Some(end.reason().to_owned()),
            _ => (status == -3).then(|| "every registry failed to synchronize".to_owned()),
        },
        ..Default::default()
    }
}

fn list_associate_registries(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    let now = context.now_ms();
    let task_id = call.param("task_id").unwrap_or_default();
    let Some(task) = state
        .tasks(call.project_id())
        .find(|t| t.task_id == task_id)
    else {
        return Err(invalid("task_id", format_args!("no task {task_id}")));
    };
    let finished = task.finished_at(now);
    let status = |r: &TaskRegistry| match (finished, &r.failed_reason) {
        (false, _) => "running",
        (true, None) => "finished",
        (true, Some(_)) => "failed",
    };
    let matching: Vec<&TaskRegistry> = task
        .registries
        .iter()
        .filter(|r| name_matches(call, &r.registry_name))
        .filter(|r| type_matches(call, &r.registry_type))
        .filter(|r| call.param("sync_status").is_none_or(|s| s == status(r)))
        .collect();
    let (page, total) = paginate(call, matching);
    let answer = types::ListAssociateRegistriesResponse {
        data_list: page
            .into_iter()
            .map(|r| types::AssociateRegistry {
                registry_id: Some(r.registry_id.clone()),
                registry_name: Some(r.registry_name.clone()),
                registry_type: Some(r.registry_type.clone()),
                sync_status: Some(status(r).to_owned()),
                failed_reason: r.failed_reason.clone().filter(|_| finished),
            })
            .collect(),
        total_num: Some(total),
    };
    json(&answer)
}

fn list_registry(
    call: &ValidCall,
    state: &mut State,
    context: &Context<'_>,
) -> Result<Answer, Invalid> {
    let now = context.now_ms();
    let project = call.project_id();
    let matching: Vec<&types::RegistryInfo> = context
        .settings
        .registries
        .iter()
        .filter(|r| name_matches(call, r.registry_name.as_deref().unwrap_or_default()))
        .filter(|r| type_matches(call, r.registry_type.as_deref().unwrap_or_default()))
        .filter(|r| {
            call.param("registry_id")
                .is_none_or(|id| r.id.as_deref() == Some(id))
        })
        .filter(|r| {
            call.param("registry_addr")
                .is_none_or(|addr| r.registry_addr.as_deref().is_some_and(|a| a.contains(addr)))
        })
        .filter(|r| {
            call.param("status")
                .is_none_or(|s| r.status.as_deref() == Some(s))
        })
        .collect();
    let (page, total) = paginate(call, matching);
    let data_list = page
        .into_iter()
        .map(|r| {
            let mut r = r.clone();
            // The end of the latest task of this project that synchronized it.
            let synced = state
                .tasks(project)
                .filter(|t| t.finished_at(now))
                .filter(|t| {
                    t.registries.iter().any(|tr| {
                        Some(tr.registry_id.as_str()) == r.id.as_deref()
                            && tr.failed_reason.is_none()
                    })
                })
                .map(|t| t.end_time)
                .max();
            r.latest_sync_time = synced.or(r.latest_sync_time);
            r
        })
        .collect();
    json(&types::ListRegistryResponse {
        data_list,
        total_num: Some(total),
    })
}

/// `registry_name`: a fuzzy (substring) match.
fn name_matches(call: &ValidCall, name: &str) -> bool {
    call.param("registry_name")
        .is_none_or(|wanted| name.contains(wanted))
}

/// `registry_type`: one of a comma-separated list.
fn type_matches(call: &ValidCall, kind: &str) -> bool {
    call.param("registry_type")
        .is_none_or(|wanted| wanted.split(',').any(|w| w.trim() == kind))
}

/// The page `offset`, `limit` of `items`, and how many there are.
fn paginate<T>(call: &ValidCall, items: Vec<T>) -> (Vec<T>, i64) {
    // Validated against the spec's ranges already; a failed parse means absent.
    let number = |name| call.param(name).and_then(|v| v.parse::<usize>().ok());
    let offset = number("offset").unwrap_or(0);
    let limit = number("limit").unwrap_or(DEFAULT_LIMIT);
    let total = items.len() as i64;
    (items.into_iter().skip(offset).take(limit).collect(), total)
}

/// `answer` as JSON. A list answer keeps `data_list` when it is empty (the generated models
/// leave an empty list out), so that clients which read it unconditionally, as the official
/// SDK's users do, find a list.
fn json<T: serde::Serialize>(answer: &T) -> Result<Answer, Invalid> {
    let mut value = serde_json::to_value(answer).map_err(|e| invalid("answer", e))?;
    if let Some(fields) = value.as_object_mut()
        && fields.contains_key("total_num")
    {
        fields
            .entry("data_list")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    serde_json::to_vec(&value)
        .map(Answer::Json)
        .map_err(|e| invalid("answer", e))
}
