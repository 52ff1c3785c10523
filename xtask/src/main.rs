//! Maintainer tasks: `cargo xtask regen [--check]`, `cargo xtask downstream [--fresh]`,
//! `cargo xtask bench [--quick]`, `cargo xtask ci`.

mod bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

const SNAPSHOT: &str = "src/generated/client.rs";
const USAGE: &str = "usage: cargo xtask <regen [--check] | downstream [--fresh] | bench [--quick] | ci>
  regen          regenerate src/generated/client.rs from spec/ (build.rs, feature `codegen`)
  regen --check  fail if the committed snapshot differs from what the spec generates
  downstream     build tests/downstream (a tiny user crate) and check it compiles no codegen or CLI crate
  downstream --fresh  build a copy of it without its lockfile (newest dependencies), warnings denied
  bench          every side-by-side comparison of BENCHMARKS.md (signing, end to end, one-shot
                 CLI, emulator, downstream build), A and B interleaved; rewrites BENCHMARKS.md's
                 tables and target/bench/summary.json (not part of ci)
  bench --quick  the same with fewer rounds (under 5 minutes)
  ci             everything CI runs: fmt, clippy, docs (with and without features), regen --check,
                 downstream (also once freshly resolved, warnings denied), a publish dry
                 run, the oracle's vector check and self-test, all tests, the fuzz corpus replay";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["regen"] => regen(false),
        ["regen", "--check"] => regen(true),
        ["downstream"] => downstream(),
        ["downstream", "--fresh"] => downstream_fresh(),
        ["bench"] => bench::bench(false),
        ["bench", "--quick"] => bench::bench(true),
        ["ci"] => ci(),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The checkout xtask works on: the nearest directory, from the current one up, whose
/// `Cargo.toml` is this workspace's (a `[workspace]` with the `xtask` member). Found at run
/// time, so a copied checkout (with its `target/`) works on itself, not on the original.
fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let found = std::env::current_dir()
            .map_err(|e| format!("the current directory: {e}"))
            .and_then(|dir| find_root(&dir));
        found.unwrap_or_else(|message| {
            eprintln!("xtask: {message}");
            std::process::exit(1)
        })
    })
    .clone()
}

fn find_root(start: &Path) -> Result<PathBuf, String> {
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| is_this_workspace(&manifest))
        })
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "no Cargo.toml with a [workspace] whose members include \"xtask\" in {} or \
                 above it: run cargo xtask inside the hss-image-sync checkout",
                start.display()
            )
        })
}

/// The workspace's manifest, not a member's nor tests/downstream's (which has an empty
/// `[workspace]` of its own).
fn is_this_workspace(manifest: &str) -> bool {
    let mut in_workspace = false;
    let mut has_workspace = false;
    let mut has_xtask = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_workspace = line == "[workspace]";
            has_workspace |= in_workspace;
        } else if in_workspace && line.starts_with("members") && line.contains("\"xtask\"") {
            has_xtask = true;
        }
    }
    has_workspace && has_xtask
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

/// Builds the library with `codegen`, so build.rs generates from the spec, and returns the
/// generated file.
fn generate() -> Result<String, String> {
    let output = cargo()
        .args([
            "build",
            "--package",
            "hss-image-sync",
            "--lib",
            "--features",
            "codegen",
        ])
        .args(["--message-format", "json"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        // The compiler's messages came as JSON on stdout: show them as cargo would.
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Ok(message) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(rendered) = message["message"]["rendered"].as_str()
            {
                eprint!("{rendered}");
            }
        }
        return Err("building with --features codegen failed".into());
    }
    let out_dir = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "build-script-executed")
        .filter(|msg| {
            msg["package_id"]
                .as_str()
                .is_some_and(|id| id.contains("hss-image-sync"))
        })
        .find_map(|msg| msg["out_dir"].as_str().map(PathBuf::from))
        .ok_or("cargo reported no build-script output for hss-image-sync")?;
    std::fs::read_to_string(out_dir.join("client.rs")).map_err(|e| e.to_string())
}

fn regen(check: bool) -> Result<(), String> {
    let generated = generate()?;
    let path = root().join(SNAPSHOT);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if generated == committed {
        eprintln!("xtask: {SNAPSHOT} is up to date with the spec");
        return Ok(());
    }
    if check {
        return Err(format!(
            "{SNAPSHOT} is stale: the spec, the generator or the crate's version changed; run \
             `cargo xtask regen` and commit"
        ));
    }
    let first = |text: &str| text.lines().next().unwrap_or_default().to_owned();
    spec_change_has_a_new_version(&first(&committed), &first(&generated))?;
    std::fs::write(&path, generated).map_err(|e| e.to_string())?;
    eprintln!("xtask: wrote {SNAPSHOT}");
    Ok(())
}

/// The spec checksum and crate version a generated file's first line names
/// (`..., fnv1a-64 <checksum>, crate <version>`).
fn generated_from(header: &str) -> Option<(&str, &str)> {
    let (_, rest) = header.split_once(", fnv1a-64 ")?;
    let (checksum, version) = rest.split_once(", crate ")?;
    Some((checksum, version))
}

/// The models are the spec's, so a changed spec is a new version of the crate: refuses to
/// regenerate from a changed spec while Cargo.toml still has (or is below) the version the
/// committed snapshot was generated for.
fn spec_change_has_a_new_version(committed: &str, generated: &str) -> Result<(), String> {
    let (Some((old_spec, old_version)), Some((new_spec, new_version))) =
        (generated_from(committed), generated_from(generated))
    else {
        return Ok(());
    };
    let numbers = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|n| n.parse().ok()).collect() };
    let newer = match (numbers(new_version), numbers(old_version)) {
        (Some(new), Some(old)) => new > old,
        _ => new_version != old_version,
    };
    if old_spec != new_spec && !newer {
        return Err(format!(
            "the spec changed since {SNAPSHOT} was generated for hss-image-sync {old_version}: \
             the models are the spec's, so a spec change is a version change. Raise `version` \
             in Cargo.toml above {old_version}, then run `cargo xtask regen` again"
        ));
    }
    Ok(())
}

/// Crates a library user must never compile.
const FORBIDDEN_FOR_USERS: &[&str] = &[
    "progenitor",
    "progenitor-impl",
    "typify",
    "typify-impl",
    "openapiv3",
    "serde_norway",
    "prettyplease",
    "clap",
    "tracing-subscriber",
];

fn downstream() -> Result<(), String> {
    let manifest = root().join("tests/downstream/Cargo.toml");
    let manifest = manifest.to_str().ok_or("non-UTF-8 path")?;
    let tree = cargo()
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "--edges",
            "normal,build",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .map_err(|e| e.to_string())?;
    if !tree.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&tree.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&tree.stdout);
    let mut crates: Vec<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    crates.sort_unstable();
    crates.dedup();
    let found: Vec<&&str> = crates
        .iter()
        .filter(|c| FORBIDDEN_FOR_USERS.contains(c))
        .collect();
    if !found.is_empty() {
        return Err(format!("a library user would compile {found:?}"));
    }
    eprintln!(
        "xtask: downstream crate depends on {} crates, none of {FORBIDDEN_FOR_USERS:?}",
        crates.len()
    );
    run(cargo().args(["build", "--manifest-path", manifest]))
}

/// tests/downstream built once more in a copy without its lockfile: the newest versions
/// every requirement allows, as a new user gets them, with warnings denied. Every lockfile of
/// the repository pins versions, so a deprecation in a dependency's new release (rustls
/// 0.23.48 deprecated `crypto::ring::default_provider`) would otherwise be seen by users first.
/// `-D warnings` reaches only path crates (this one and the copy): cargo caps lints of
/// registry crates. The copy enables the `emulator` feature, so all of the library is built.
fn downstream_fresh() -> Result<(), String> {
    let dir = root().join("target/downstream-fresh");
    let src = root().join("tests/downstream");
    let _ = std::fs::remove_dir_all(dir.join("crate"));
    std::fs::create_dir_all(dir.join("crate/src")).map_err(|e| e.to_string())?;
    let manifest = std::fs::read_to_string(src.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let dependency = "hss-image-sync = { path = \"../..\" }";
    if !manifest.contains(dependency) {
        return Err(format!(
            "tests/downstream/Cargo.toml: expected the line `{dependency}`"
        ));
    }
    let root_path = root().display().to_string().replace('\\', "/");
    let manifest = manifest.replace(
        dependency,
        &format!("hss-image-sync = {{ path = {root_path:?}, features = [\"emulator\"] }}"),
    );
    std::fs::write(dir.join("crate/Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::copy(src.join("src/main.rs"), dir.join("crate/src/main.rs"))
        .map_err(|e| e.to_string())?;
    let manifest = dir.join("crate/Cargo.toml");
    run(cargo()
        .args(["build", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(dir.join("target"))
        .env("RUSTFLAGS", "-D warnings"))
}

fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--features",
        "cli",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The library as a downstream crate builds it: default features only.
    run(cargo().args(["clippy", "--lib", "--", "-D", "warnings"]))?;
    // The docs with every feature, and as a user builds them locally: no features, where no
    // link may point at the emulator.
    run(cargo()
        .args(["doc", "--no-deps", "--features", "cli"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    run(cargo()
        .args(["doc", "--no-deps", "--lib"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    regen(true)?;
    downstream()?;
    downstream_fresh()?;
    // The crate stays publishable: packaged files, metadata, and a build of the package alone.
    run(cargo().args([
        "publish",
        "--dry-run",
        "--allow-dirty",
        "--package",
        "hss-image-sync",
    ]))?;
    let python = oracle_python()?;
    vectors_reproducible(&python)?;
    run(Command::new(&python)
        .arg("tests/oracle/selftest_verify_server.py")
        .current_dir(root()))?;
    test_offline(&python)?;
    // The fuzz crate's own tests replay its committed corpus (stable toolchain, no fuzzer).
    run(cargo().args(["test", "--manifest-path", "fuzz/Cargo.toml", "--lib"]))
}

/// Builds every test, then runs them in a network namespace that has only loopback, so that a
/// test trying to reach anything off this machine (the metadata address 169.254.169.254, a
/// cloud endpoint) fails at once instead of sending anything. Where namespaces are not
/// available, runs them normally and says so.
fn test_offline(python: &str) -> Result<(), String> {
    let test_args = ["test", "--workspace", "--features", "cli"];
    run(cargo().args(test_args).arg("--no-run"))?;
    let isolated = Command::new("unshare")
        .args(["-n", "--", "ip", "link", "set", "lo", "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!(
            "xtask: WARNING: cannot create a network namespace (needs root and `unshare`, `ip`); \
             the tests run with this machine's network"
        );
        return run(cargo()
            .args(test_args)
            .env("HSS_ORACLE_PYTHON", python)
            .env("HSS_REQUIRE_ORACLE", "1"));
    }
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: running the tests in a network namespace with only loopback");
    run(Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(cargo_bin)
        .args(test_args)
        .arg("--offline")
        .current_dir(root())
        .env("HSS_ORACLE_PYTHON", python)
        .env("HSS_REQUIRE_ORACLE", "1"))
}

/// Re-records the deterministic SDK vectors (the signers', and the client's and the successor
/// operations' wire captures) and fails if any committed file changes, appears or goes.
fn vectors_reproducible(python: &str) -> Result<(), String> {
    for script in [
        "tests/oracle/record_vectors.py",
        "tests/oracle/record_algorithms.py",
        "tests/oracle/record_successor_vectors.py",
    ] {
        run(Command::new(python).arg(script).current_dir(root()))?;
    }
    let status = Command::new("git")
        .args(["status", "--porcelain", "--", "tests/vectors"])
        .current_dir(root())
        .output()
        .map_err(|e| e.to_string())?;
    let changed = String::from_utf8_lossy(&status.stdout);
    if !changed.trim().is_empty() {
        return Err(format!(
            "the official SDK no longer reproduces the committed vectors:\n{changed}"
        ));
    }
    Ok(())
}

/// Sets up the official Python SDK in a venv (the signing oracle) and returns its python.
fn oracle_python() -> Result<String, String> {
    let output = Command::new("bash")
        .arg(root().join("tests/oracle/setup_venv.sh"))
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err("tests/oracle/setup_venv.sh failed".into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "setup_venv.sh printed no python path".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_spec_needs_a_higher_version() {
        let header = |spec: &str, version: &str| {
            format!("// @generated by build.rs from spec/x.yaml, fnv1a-64 {spec}, crate {version}")
        };
        assert_eq!(
            generated_from(&header("00ff", "0.2.0")),
            Some(("00ff", "0.2.0"))
        );
        // Same spec: any version (a release without a spec change).
        assert!(
            spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("aa", "0.2.1")).is_ok()
        );
        assert!(
            spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("aa", "0.2.0")).is_ok()
        );
        // Changed spec: only with a higher version.
        let err = spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("bb", "0.2.0"))
            .unwrap_err();
        assert!(
            err.contains("Raise `version`") && err.contains("0.2.0"),
            "{err}"
        );
        assert!(
            spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("bb", "0.1.9")).is_err()
        );
        assert!(
            spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("bb", "0.10.0")).is_ok()
        );
        assert!(
            spec_change_has_a_new_version(&header("aa", "0.2.0"), &header("bb", "0.3.0")).is_ok()
        );
        // A snapshot from before versions were recorded: nothing to compare with.
        assert!(
            spec_change_has_a_new_version("// @generated ..., fnv1a-64 aa", &header("bb", "0.2.0"))
                .is_ok()
        );
    }

    #[test]
    fn the_root_is_the_workspace_with_the_xtask_member() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let root = find_root(&here).unwrap();
        assert_eq!(
            root,
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
        );
        // tests/downstream has a [workspace] of its own, without members: skipped.
        assert_eq!(find_root(&root.join("tests/downstream/src")).unwrap(), root);
        assert!(!is_this_workspace("[package]\nname = \"x\"\n[workspace]\n"));
        assert!(!is_this_workspace(
            "[workspace]\n[dependencies]\nmembers = [\"xtask\"]\n"
        ));
        assert!(find_root(Path::new("/")).is_err());
    }
}
