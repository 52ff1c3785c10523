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
