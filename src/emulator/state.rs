//! What the service remembers: per project, the deprecated call's synchronizations and the
//! synchronization tasks, both bounded.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Synchronizations of one image type in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncRecord {
    /// How many times it was synchronized.
    pub count: u64,
    /// When it was last synchronized, `YYYYMMDDTHHMMSSZ` (emulator clock).
    pub last_synchronized_at: String,
    /// The enterprise project of the last synchronization, if one was sent.
    pub last_enterprise_project_id: Option<String>,
}

/// The most projects the state keeps (each of [`State::projects`], [`State::tasks`] and
/// [`State::calls`]): any project ID a client signs for makes one, so a new project beyond them
/// replaces another. With [`Emulator::projects`](super::Emulator::projects), only the account's
/// projects are served, and the state keeps as many as the account has when that is more.
pub const MAX_PROJECTS: usize = 1000;
/// The most synchronization tasks kept per project; a new one beyond them drops the oldest.
pub const MAX_TASKS_PER_PROJECT: usize = 1000;

/// Per project: the deprecated call's records per image type (`private_image`,
/// `shared_image`), and the tasks of `CreateImageSynchronizeTask`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct State {
    /// Project ID -> image type -> record.
    pub projects: BTreeMap<String, BTreeMap<String, SyncRecord>>,
    /// Project ID -> its synchronization tasks, oldest first (at most
    /// [`MAX_TASKS_PER_PROJECT`]).
    pub tasks: BTreeMap<String, VecDeque<SyncTask>>,
    /// Project ID -> the synchronization calls it accepted.
    pub calls: BTreeMap<String, ProjectCalls>,
}

/// The synchronization calls one project accepted (answered 200: each one synchronized). Calls
/// refused (throttled, invalid, a failing project) or answered from the script are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProjectCalls {
    /// `CreateImageSynchronizeTask` calls.
    pub create: u64,
    /// `RunImageSynchronize` calls (the deprecated one).
    pub run: u64,
}

/// A task of `CreateImageSynchronizeTask`. Its progress follows from the emulator's clock:
/// it runs from `begin_time` to `end_time`, then each registry ends finished, or failed with
/// its `failed_reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncTask {
    /// The task's ID (`task_id` of `ListImageScanTask`, path of `ListAssociateRegistries`).
    pub task_id: String,
    /// When it was created, milliseconds since the epoch (emulator clock).
    pub begin_time: i64,
    /// When it ends (or ended), milliseconds since the epoch (emulator clock).
    pub end_time: i64,
    /// Whether it was asked for every registry (`sync_all_registries`).
    pub is_all: bool,
    /// The registries it synchronizes.
    pub registries: Vec<TaskRegistry>,
    /// How it ends, when not by itself ([`TaskEnd`]).
    pub end: Option<TaskEnd>,
}

/// How every task ends, for a test of a client facing HSS's other final states
/// ([`Emulator::end_tasks`](super::Emulator::end_tasks)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum TaskEnd {
    /// `task_status` -1: terminated.
    Terminated,
    /// `task_status` -2: timed out.
    TimedOut,
}

impl TaskEnd {
    /// Its `task_status`.
    pub fn task_status(self) -> i64 {
        match self {
            TaskEnd::Terminated => -1,
            TaskEnd::TimedOut => -2,
        }
    }

    /// The `failed_reason` HSS gives with it.
    pub fn reason(self) -> &'static str {
        match self {
            TaskEnd::Terminated => "the task was terminated",
            TaskEnd::TimedOut => "the task timed out",
        }
    }
}

/// `terminated` or `timed-out` (the emulator's `--end-tasks`).
impl std::str::FromStr for TaskEnd {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "terminated" => Ok(TaskEnd::Terminated),
            "timed-out" => Ok(TaskEnd::TimedOut),
            _ => Err("must be one of: terminated, timed-out".into()),
        }
    }
}

impl SyncTask {
    /// Whether it has ended at `now` (milliseconds since the epoch).
    pub fn finished_at(&self, now: i64) -> bool {
        now >= self.end_time
    }

    /// Its `task_status` at `now`: the percentage done while it runs (0..=99), then 100, or
    /// -3 (error) when every registry failed, or its [`TaskEnd`]'s.
    pub fn status_at(&self, now: i64) -> i64 {
        if !self.finished_at(now) {
            let span = (self.end_time - self.begin_time).max(1);
            return ((now - self.begin_time).max(0).saturating_mul(100) / span).clamp(0, 99);
        }
        if let Some(end) = self.end {
            return end.task_status();
        }
        let all_failed = !self.registries.is_empty()
            && self.registries.iter().all(|r| r.failed_reason.is_some());
        if all_failed { -3 } else { 100 }
    }
}

/// A registry of a [`SyncTask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskRegistry {
    /// The registry's `id` in `ListRegistry`.
    pub registry_id: String,
    /// Its name.
    pub registry_name: String,
    /// Its type (`SwrPrivate`, `Harbor`, ...).
    pub registry_type: String,
    /// Why it will fail (or failed), when it does.
    pub failed_reason: Option<String>,
}

impl State {
    /// The record of `image_type` in `project_id`, if it was ever synchronized.
    pub fn sync_record(
        &self,
        project_id: &str,
        image_type: crate::types::ImageType,
    ) -> Option<&SyncRecord> {
        self.projects
            .get(project_id)?
            .get(image_type.to_string().as_str())
    }

    /// The tasks of `project_id`, oldest first.
    pub fn tasks(&self, project_id: &str) -> impl DoubleEndedIterator<Item = &SyncTask> {
        self.tasks.get(project_id).into_iter().flatten()
    }

    pub(crate) fn record_sync(
        &mut self,
        project_id: &str,
        image_type: &str,
        at: String,
        enterprise_project_id: Option<String>,
        max_projects: usize,
    ) {
        let record = bounded_entry(&mut self.projects, project_id, max_projects)
            .entry(image_type.to_owned())
            .or_default();
        record.count += 1;
        record.last_synchronized_at = at;
        record.last_enterprise_project_id = enterprise_project_id;
    }

    /// Adds `task` to `project_id`'s tasks, dropping its oldest beyond
    /// [`MAX_TASKS_PER_PROJECT`].
    pub(crate) fn add_task(&mut self, project_id: &str, task: SyncTask, max_projects: usize) {
        let tasks = bounded_entry(&mut self.tasks, project_id, max_projects);
        if tasks.len() >= MAX_TASKS_PER_PROJECT {
            tasks.pop_front();
        }
        tasks.push_back(task);
    }

    /// Counts an accepted call of `project_id`.
    pub(crate) fn count_call(
        &mut self,
        project_id: &str,
        max_projects: usize,
        count: impl FnOnce(&mut ProjectCalls),
    ) {
        count(bounded_entry(&mut self.calls, project_id, max_projects));
    }
}

/// `map`'s entry for `project_id`; a new project beyond `max_projects` first removes the first
/// one in order (which one goes matters less than that the map stays bounded).
fn bounded_entry<'a, V: Default>(
    map: &'a mut BTreeMap<String, V>,
    project_id: &str,
    max_projects: usize,
) -> &'a mut V {
    if !map.contains_key(project_id) && map.len() >= max_projects {
        map.pop_first();
    }
    map.entry(project_id.to_owned()).or_default()
}
