//! Property checks driven by the fuzz targets in `fuzz_targets/`, kept here as plain functions so
//! that `cargo test --lib` can replay the committed corpus on the stable toolchain.
//!
//! - [`input`]: the record format of the signer and emulator inputs, and shared helpers;
//! - [`signer`]: `signer_canonicalization`, [`check_signer`];
//! - [`error_body`]: `error_body`, [`check_error_body`];
//! - [`emulator_verify`]: `emulator_verify`, [`check_emulator_verify`].
//!
//! Inputs that showed a library bug stay as regression inputs: `finding-*` in the corpus
//! (replayed with it) and in `artifacts/<target>/` (replayed by `findings_stay_fixed`).
//! FUZZING.md lists them.

mod emulator_verify;
mod error_body;
mod input;
mod signer;

pub use emulator_verify::check_emulator_verify;
pub use error_body::check_error_body;
pub use signer::check_signer;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn files(dir: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.expect("readable directory").path())
                .filter(|p| p.is_file())
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    fn replay(dir: &str, check: fn(&[u8])) {
        let inputs = files(dir);
        assert!(!inputs.is_empty(), "{dir} is empty");
        replay_files(inputs, check);
    }

    fn replay_files(inputs: Vec<PathBuf>, check: fn(&[u8])) {
        for file in inputs {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails", file.display());
        }
    }

    #[test]
    fn replay_signer_canonicalization_corpus() {
        replay("corpus/signer_canonicalization", check_signer);
    }

    #[test]
    fn replay_error_body_corpus() {
        replay("corpus/error_body", check_error_body);
    }

    #[test]
    fn replay_emulator_verify_corpus() {
        replay("corpus/emulator_verify", check_emulator_verify);
    }

    /// Every finding's reproducer `artifacts/<target>/finding-*` passes: the bugs stay fixed.
    #[test]
    fn findings_stay_fixed() {
        type Check = fn(&[u8]);
        let targets: [(&str, Check); 3] = [
            ("signer_canonicalization", check_signer),
            ("error_body", check_error_body),
            ("emulator_verify", check_emulator_verify),
        ];
        let mut replayed = 0;
        for (target, check) in targets {
            let findings: Vec<PathBuf> = files(&format!("artifacts/{target}"))
                .into_iter()
                .filter(|file| {
                    file.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("finding-"))
                })
                .collect();
            replayed += findings.len();
            replay_files(findings, check);
        }
        assert!(replayed > 0, "no finding reproducers found");
    }
}
