//! Finding the official-SDK oracle's python for the interop tests.

use std::path::{Path, PathBuf};

/// `HSS_ORACLE_PYTHON` (set by `cargo xtask ci`), else `target/oracle-venv/bin/python` if it
/// exists. `None` means "skip, saying so", unless `HSS_REQUIRE_ORACLE` (also set by
/// `cargo xtask ci`) makes a missing oracle a failure.
pub fn oracle_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("HSS_ORACLE_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oracle-venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    assert!(
        std::env::var_os("HSS_REQUIRE_ORACLE").is_none(),
        "HSS_REQUIRE_ORACLE is set but no oracle python was found"
    );
    None
}

/// Checks the output of an oracle script run: printed (for the test log), exited 0, and its
/// last line `N passed, M failed` with M = 0. Returns N and the whole report (stdout and
/// stderr).
pub fn checks_passed(script: &str, out: &std::process::Output) -> (usize, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.is_empty() {
        eprintln!("{stderr}");
    }
    let report = format!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{report}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .strip_suffix(" failed")
        .and_then(|rest| rest.split_once(" passed, "))
        .and_then(|(p, f)| Some((p.parse::<usize>().ok()?, f.parse::<usize>().ok()?)))
        .unwrap_or_else(|| panic!("last line is not `N passed, M failed`: {last:?}\n{report}"));
    assert_eq!(failed, 0, "{report}");
    (passed, report)
}
