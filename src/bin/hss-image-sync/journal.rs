//! `--journal FILE`: what a fan-out has done, so that a rerun after a crash, `kill -9` or
//! Ctrl-C continues where the run stopped instead of syncing every target again.
//!
//! One JSON object per line: a header naming the run (a digest of its targets and options),
//! then a record per step of a target (`synced`, then with `--wait` `finished`). Each record is
//! appended and flushed to the disk before the run goes on, so a record in the file is a step
//! that happened. A crash can leave a last line half written: it is ignored, with a warning, and
//! cut off before the next record is appended. A journal of another run is refused.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The format's version, in the header.
const VERSION: u32 = 1;
/// How the header line starts, as [`Journal::append`] writes it.
const HEADER_START: &[u8] = br#"{"record":"journal""#;
/// A journal larger than this is not read (1,000 targets take about 300 KB).
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Line {
    /// The first line: which run this journal belongs to.
    Journal {
        version: u32,
        run: String,
        targets: usize,
    },
    /// `CreateImageSynchronizeTask` (or the deprecated call) succeeded for `target`.
    Synced {
        target: String,
        /// The earliest `begin_time` of its task, in ms since the epoch (for `--wait`).
        not_before_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// The task of `target` ended (with `--wait`).
    Finished {
        target: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
    },
}

/// What the journal knows of a target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prior {
    /// `not_before_ms` of its `synced` record.
    pub synced: Option<i64>,
    /// `ok` of its `finished` record.
    pub finished: Option<bool>,
}

/// An open journal: what earlier runs recorded, and the file to append to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    prior: HashMap<String, Prior>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for the run digested as `run` over `targets`
    /// targets. Refuses a journal of another run, or one damaged before its last line.
    pub fn open(path: &Path, run: &str, targets: usize) -> Result<Journal, String> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot open the journal {shown}: {e}"))?;
        let size = file
            .metadata()
            .map_err(|e| format!("cannot read the journal {shown}: {e}"))?
            .len();
        if size > MAX_JOURNAL_BYTES {
            return Err(format!(
                "the journal {shown} is larger than {} MiB: not a journal of this tool",
                MAX_JOURNAL_BYTES >> 20
            ));
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| format!("cannot read the journal {shown}: {e}"))?;
        let header = Line::Journal {
            version: VERSION,
            run: run.to_owned(),
            targets,
        };
        let (prior, good_len) = if text.is_empty() {
            (HashMap::new(), 0)
        } else {
            read(&text, &header).map_err(|why| format!("the journal {shown} {why}"))?
        };
        if good_len < text.len() {
            let line = text[..good_len].iter().filter(|b| **b == b'\n').count() + 1;
            eprintln!(
                "warning: the journal {shown} ends in a half-written line {line} (a run was \
                 interrupted while writing it): ignored"
            );
            file.set_len(good_len as u64)
                .map_err(|e| format!("cannot repair the journal {shown}: {e}"))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot write the journal {shown}: {e}"))?;
        let journal = Journal {
            path: path.to_owned(),
            file: Mutex::new(file),
            prior,
        };
        if good_len == 0 {
            journal
                .append(&header)
                .map_err(|e| format!("cannot write the journal {shown}: {e}"))?;
        }
        Ok(journal)
    }

    /// What earlier runs recorded for `target`.
    pub fn prior(&self, target: &str) -> Prior {
        self.prior.get(target).cloned().unwrap_or_default()
    }

    /// Appends `line` and flushes it to the disk.
    pub fn append(&self, line: &Line) -> Result<(), String> {
        let mut text = serde_json::to_vec(line).map_err(|e| e.to_string())?;
        text.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&text)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write the journal {}: {e}", self.path.display()))
    }
}

/// The records of `text` by target, and the length of its whole lines; an error if its header
/// is not `expected` or a line before the last is not a record.
fn read(text: &[u8], expected: &Line) -> Result<(HashMap<String, Prior>, usize), String> {
    let mut prior: HashMap<String, Prior> = HashMap::new();
    let mut good_len = 0;
    let mut lines = text.split_inclusive(|b| *b == b'\n').enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let last = lines.peek().is_none();
        let whole = raw.ends_with(b"\n");
        let parsed: Result<Line, _> = serde_json::from_slice(raw);
        // A torn last line is what a crash in the middle of a write leaves: no newline, and
        // (for the header) the start of one of ours.
        let torn = last && !whole && (index > 0 || raw.starts_with(HEADER_START));
        let line = match parsed {
            Ok(line) if whole => line,
            _ if torn => break,
            Ok(_) | Err(_) => {
                return Err(format!(
                    "is damaged at line {}: not a record of this tool",
                    index + 1
                ));
            }
        };
        if index == 0 {
            if !matches!(line, Line::Journal { .. }) {
                return Err("is not a journal of this tool (no header line)".into());
            }
            if &line != expected {
                return Err(
                    "was written for other targets or options: use another file for \
                            this run, or delete it to start over"
                        .into(),
                );
            }
        } else {
            match line {
                Line::Journal { .. } => {
                    return Err(format!("has a second header at line {}", index + 1));
                }
                Line::Synced {
                    target,
                    not_before_ms,
                    ..
                } => prior.entry(target).or_default().synced = Some(not_before_ms),
                Line::Finished { target, ok, .. } => {
                    prior.entry(target).or_default().finished = Some(ok)
                }
            }
        }
        good_len += raw.len();
    }
    Ok((prior, good_len))
}

/// A digest of a run: what makes two runs the same (targets and options), as hex.
pub fn run_digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hss-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        dir
    }

    fn synced(target: &str) -> Line {
        Line::Synced {
            target: target.into(),
            not_before_ms: 1_700_000_000_000,
            request_id: None,
        }
    }

    #[test]
    fn a_rerun_sees_what_was_recorded() {
        let path = temp("rerun");
        let journal = Journal::open(&path, "run-a", 2).unwrap();
        assert_eq!(journal.prior("r/p1"), Prior::default());
        journal.append(&synced("r/p1")).unwrap();
        journal
            .append(&Line::Finished {
                target: "r/p1".into(),
                ok: true,
                task_id: Some("t".into()),
            })
            .unwrap();
        drop(journal);
        let again = Journal::open(&path, "run-a", 2).unwrap();
        assert_eq!(
            again.prior("r/p1"),
            Prior {
                synced: Some(1_700_000_000_000),
                finished: Some(true)
            }
        );
        assert_eq!(again.prior("r/p2"), Prior::default());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "one header only: {text}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_before_appending() {
        let path = temp("torn");
        let journal = Journal::open(&path, "run-a", 2).unwrap();
        journal.append(&synced("r/p1")).unwrap();
        drop(journal);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"record":"synced","target":"r/p2","not_bef"#)
            .unwrap();
        drop(file);
        let again = Journal::open(&path, "run-a", 2).unwrap();
        assert_eq!(again.prior("r/p2"), Prior::default());
        again.append(&synced("r/p2")).unwrap();
        drop(again);
        let third = Journal::open(&path, "run-a", 2).unwrap();
        assert!(third.prior("r/p2").synced.is_some());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_journal_of_another_run_or_damaged_inside_is_refused() {
        let path = temp("other");
        let journal = Journal::open(&path, "run-a", 2).unwrap();
        journal.append(&synced("r/p1")).unwrap();
        drop(journal);
        let err = Journal::open(&path, "run-b", 2).unwrap_err();
        assert!(err.contains("other targets or options"), "{err}");

        let text = std::fs::read_to_string(&path).unwrap();
        let damaged = text.replacen("\"synced\"", "\"syn", 1) + text.lines().nth(1).unwrap() + "\n";
        std::fs::write(&path, damaged).unwrap();
        let err = Journal::open(&path, "run-a", 2).unwrap_err();
        assert!(err.contains("damaged at line 2"), "{err}");

        // Someone else's file is never cut, with or without a last newline.
        for other in ["not json at all\n", "not json at all", "{\"a\":1}\n"] {
            std::fs::write(&path, other).unwrap();
            let err = Journal::open(&path, "run-a", 2).unwrap_err();
            assert!(
                err.contains("damaged") || err.contains("not a journal"),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), other);
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_digest_separates_its_parts() {
        assert_ne!(run_digest(&["ab", "c"]), run_digest(&["a", "bc"]));
        assert_eq!(run_digest(&["x"]), run_digest(&["x"]));
        assert_eq!(run_digest(&["x"]).len(), 24);
    }
}
