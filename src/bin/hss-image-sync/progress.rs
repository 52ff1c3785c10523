//! Progress of `sync --wait` on stderr: bars on a terminal (percent, registries done/total,
//! elapsed, ETA; and targets done/total in a fan-out), else one JSON line per change, or
//! nothing with `--no-progress`. Results go to stdout, so progress never mixes with them.

use crate::terminal::json_for_terminal;
use hss_image_sync::SyncProgress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Off with `--no-progress`.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Sets whether progress is shown in this run (from the command line).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Where progress goes. Cheap to clone; clones share the display.
#[derive(Clone)]
pub enum Progress {
    Off,
    /// One JSON line per change, on stderr.
    Lines(Arc<Mutex<HashMap<String, Seen>>>),
    Bars(Arc<Bars>),
}

/// What a line last showed of a target: percent, registries done and in all.
type Seen = (u8, u64, u64);

pub struct Bars {
    multi: MultiProgress,
    overall: Mutex<Option<ProgressBar>>,
    tasks: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars when stderr is a terminal, else JSON lines; nothing with `--no-progress`.
    pub fn new() -> Progress {
        if !ENABLED.load(Ordering::Relaxed) {
            Progress::Off
        } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Progress::Bars(Arc::new(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                overall: Mutex::new(None),
                tasks: Mutex::default(),
            }))
        } else {
            Progress::Lines(Arc::default())
        }
    }

    /// A run of `targets` targets begins (an overall bar when there are several).
    pub fn start(&self, targets: usize) {
        if let Progress::Bars(bars) = self
            && targets > 1
        {
            let bar = bars.multi.add(ProgressBar::new(targets as u64));
            bar.set_style(style(
                "targets {pos}/{len} [{bar:30}] {elapsed_precise} ETA {eta}",
            ));
            *lock(&bars.overall) = Some(bar);
        }
    }

    /// Where the task of `target` is.
    pub fn update(&self, target: &str, progress: &SyncProgress) {
        match self {
            Progress::Off => {}
            Progress::Lines(seen) => {
                let now = (
                    progress.percent,
                    progress.registries_done,
                    progress.registries_total,
                );
                if lock(seen).insert(target.to_owned(), now) == Some(now) {
                    return;
                }
                let line = serde_json::json!({
                    "event": "progress",
                    "target": target,
                    "task_id": progress.task_id,
                    "percent": progress.percent,
                    "registries_done": progress.registries_done,
                    "registries_total": progress.registries_total,
                    "registries_failed": progress.registries_failed,
                    "elapsed_s": progress.elapsed.as_secs(),
                });
                eprintln!("{}", json_for_terminal(&line.to_string()));
            }
            Progress::Bars(bars) => {
                let mut tasks = lock(&bars.tasks);
                let bar = tasks.entry(target.to_owned()).or_insert_with(|| {
                    let bar = bars.multi.add(ProgressBar::new(100));
                    bar.set_style(style(
                        "{prefix} [{bar:25}] {pos:>3}% {msg} {elapsed_precise} ETA {eta}",
                    ));
                    bar.set_prefix(target.to_owned());
                    bar
                });
                bar.set_position(u64::from(progress.percent));
                bar.set_message(format!(
                    "registries {}/{}",
                    progress.registries_done, progress.registries_total
                ));
            }
        }
    }

    /// `target` ended.
    pub fn target_done(&self, target: &str) {
        if let Progress::Bars(bars) = self {
            if let Some(bar) = lock(&bars.tasks).remove(target) {
                bar.finish_and_clear();
                bars.multi.remove(&bar);
            }
            if let Some(overall) = &*lock(&bars.overall) {
                overall.inc(1);
            }
        }
    }

    /// The run ended: bars are cleared.
    pub fn finish(&self) {
        if let Progress::Bars(bars) = self {
            for (_, bar) in lock(&bars.tasks).drain() {
                bar.finish_and_clear();
            }
            if let Some(overall) = lock(&bars.overall).take() {
                overall.finish_and_clear();
            }
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
