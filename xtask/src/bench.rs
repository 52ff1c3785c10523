//! `cargo xtask bench [--quick]`: every side-by-side comparison of BENCHMARKS.md, each one
//! measured in the same run with its two sides interleaved round by round (A B, then B A, ...)
//! so that drift of the machine hits both; then BENCHMARKS.md's generated section and
//! `target/bench/summary.json` are rewritten.
//!
//! Each comparison checks that both sides did the same work: equal signatures for the
//! benchmark's inputs, every call answered 200 (for ours, accepted by the emulator after it
//! verified the signature), both builds succeeding.

mod fanout;

use crate::{cargo, oracle_python, root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const DEMO_AK: &str = "HSSEMULATORDEMOAK001";
const DEMO_SK: &str = "hss-emulator-demo-secret-key-0000000000";
const DEMO_PROJECT: &str = "0e5d1c2b3a4f45e6a7b8c9d0e1f2a3b4";

/// `program` pinned to logical CPU `cpu` with `taskset`, when there are two CPUs or more and
/// `taskset` runs; else unpinned. The sequential end-to-end comparisons pin the emulator and the
/// clients to different CPUs: unpinned, the kernel puts the two processes of a ping-pong on one
/// CPU in some rounds and on two in others, and a wake-up across CPUs on this kind of VM costs
/// tens of microseconds, so rounds differed threefold by where they ran, not by the client.
fn pinned(cpu: usize, program: &Path) -> Command {
    if pinning() {
        let mut cmd = Command::new("taskset");
        cmd.arg("-c").arg(cpu.to_string()).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Whether [`pinned`] pins: two CPUs or more, and CPUs 0 and 1 allowed to this process
/// (found out once).
fn pinning() -> bool {
    static PINNING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PINNING.get_or_init(|| {
        std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
            && ["0", "1"].iter().all(|cpu| {
                Command::new("taskset")
                    .args(["-c", cpu, "true"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    })
}

/// How many rounds (or pairs) each comparison runs, and how much work a round is.
struct Plan {
    sign_rounds: usize,
    e2e_rounds: usize,
    process_pairs: usize,
    curl_pairs: usize,
    build_pairs: usize,
    feature_builds: bool,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                sign_rounds: 7,
                e2e_rounds: 5,
                process_pairs: 5,
                curl_pairs: 15,
                // One pair still, to stay quick: its ratio says little (a single cold build
                // swings with the machine's load); the full run's pairs are the figure.
                build_pairs: 1,
                feature_builds: false,
            }
        } else {
            Plan {
                sign_rounds: 21,
                // The end-to-end rounds spread most (other load on the shared machine decides
                // a round now and then): more of them, for a steadier median.
                e2e_rounds: 21,
                process_pairs: 11,
                curl_pairs: 41,
                // Cold builds of ~30 s each drift with the shared machine's load: enough pairs
                // for the median of the interleaved ratios to hold still.
                build_pairs: 7,
                feature_builds: true,
            }
        }
    }
}

/// Min, median, max of some samples.
#[derive(Clone, Copy, Debug)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(samples: &[f64]) -> Spread {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Spread {
            min: sorted.first().copied().unwrap_or(f64::NAN),
            median,
            max: sorted.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn json(&self) -> Value {
        json!({"min": round(self.min), "median": round(self.median), "max": round(self.max)})
    }
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        (x * 10.0).round() / 10.0
    } else {
        (x * 1000.0).round() / 1000.0
    }
}

/// One comparison: samples of A and B, interleaved, and the ratio reported.
struct Comparison {
    key: &'static str,
    what: &'static str,
    /// `A` and `B` as shown, with their unit.
    a: (&'static str, Vec<f64>),
    b: (&'static str, Vec<f64>),
    unit: &'static str,
    /// The ratio of each round (or pair) as the key defines it.
    ratios: Vec<f64>,
    target: Target,
    command: String,
    checked: String,
}

#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtLeast(t) => format!("≥ {t}"),
            Target::AtMost(t) => format!("≤ {t}"),
        }
    }
}

impl Comparison {
    fn ratio(&self) -> Spread {
        Spread::of(&self.ratios)
    }
}

/// A helper process driven one line at a time.
struct Driven {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Driven {
    fn spawn(name: &str, cmd: &mut Command) -> Result<Driven, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Driven {
            name: name.to_owned(),
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", self.name))?;
        if n == 0 {
            return Err(format!("{} ended early", self.name));
        }
        Ok(line.trim_end().to_owned())
    }

    fn ask(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}").map_err(|e| format!("{}: {e}", self.name))?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        self.line()
    }

    /// Sends `command`, expects `<word> <number> [failures]`; fails on any failure.
    fn number(&mut self, command: &str) -> Result<f64, String> {
        let answer = self.ask(command)?;
        let words: Vec<&str> = answer.split_whitespace().collect();
        if let Some(failures) = words.get(2)
            && *failures != "0"
        {
            return Err(format!(
                "{}: {failures} calls failed in `{command}`",
                self.name
            ));
        }
        words
            .get(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("{}: unexpected answer {answer:?}", self.name))
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server process started by us, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `cmd`, whose first stdout line is `listening on URL`; the rest of its stdout
    /// (the emulator's per-request log) is read and dropped.
    fn start(cmd: &mut Command) -> Result<Server, String> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{cmd:?}: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut first = String::new();
        stdout.read_line(&mut first).map_err(|e| e.to_string())?;
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("{cmd:?} printed {first:?}"))?
            .to_owned();
        if !url.starts_with("http://127.0.0.1:") {
            return Err(format!("{cmd:?} listens on {url}, not on loopback"));
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(Server { child, url })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release executables the comparisons run.
struct Artifacts {
    cli: PathBuf,
    signing: PathBuf,
    bench_client: PathBuf,
    bench_fanout: PathBuf,
    hyper_server: PathBuf,
    load: PathBuf,
}

fn build_artifacts() -> Result<Artifacts, String> {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--features", "cli"])
        .args(["--bin", "hss-image-sync", "--bench", "signing"])
        .args([
            "--example",
            "bench_client",
            "--example",
            "bench_fanout",
            "--example",
            "bench_hyper_server",
        ])
        .args(["--example", "load", "--message-format", "json"])
        .stderr(Stdio::inherit());
    eprintln!("xtask: running {cmd:?}");
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("the release build failed".into());
    }
    let mut found = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && let (Some(name), Some(exe)) =
                (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            found.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    let get = |name: &str| {
        found
            .get(name)
            .cloned()
            .ok_or_else(|| format!("cargo built no executable {name}"))
    };
    Ok(Artifacts {
        cli: get("hss-image-sync")?,
        signing: get("signing")?,
        bench_client: get("bench_client")?,
        bench_fanout: get("bench_fanout")?,
        hyper_server: get("bench_hyper_server")?,
        load: get("load")?,
    })
}

/// Runs `first` then `second` in even rounds, the other way round in odd ones.
fn interleaved<A, B>(
    rounds: usize,
    mut a: impl FnMut() -> Result<A, String>,
    mut b: impl FnMut() -> Result<B, String>,
) -> Result<(Vec<A>, Vec<B>), String> {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            xs.push(a()?);
            ys.push(b()?);
        } else {
            ys.push(b()?);
            xs.push(a()?);
        }
    }
    Ok((xs, ys))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(if o.stdout.is_empty() {
                    &o.stderr
                } else {
                    &o.stdout
                })
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
            })
            .unwrap_or_default()
    };
    json!({
        "cpu": model,
        "cores": cores,
        "sha_ni": has("sha_ni"),
        "avx2": has("avx2"),
        "rustc": version("rustc", "--version"),
        "curl": version("curl", "--version"),
    })
}

pub fn bench(quick: bool) -> Result<(), String> {
    let started = Instant::now();
    let plan = Plan::new(quick);
    let load_start = load_average();
    let python = oracle_python()?;
    let python_version = Command::new(&python)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let art = build_artifacts()?;
    let out_dir = root().join("target/bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;

    let mut comparisons = Vec::new();
    let mut extra = serde_json::Map::new();
    comparisons.extend(sign(&plan, &art, &python, &mut extra)?);
    let emulator =
        Server::start(Command::new(&art.cli).args(["emulator", "--listen", "127.0.0.1:0"]))?;
    {
        // The sequential comparisons' own emulator, pinned to CPU 0 (see `pinned`).
        let pinned_emulator =
            Server::start(pinned(0, &art.cli).args(["emulator", "--listen", "127.0.0.1:0"]))?;
        comparisons.extend(e2e(
            &plan,
            &art,
            &python,
            &emulator,
            &pinned_emulator,
            &mut extra,
        )?);
    }
    comparisons.extend(one_shot(&plan, &art, &python, &emulator, &out_dir)?);
    comparisons.push(emulator_vs_hyper(&plan, &art, &emulator)?);
    drop(emulator);
    comparisons.extend(fanout::fanout(&plan, &art, &python, &mut extra)?);
    memory(&art, &python, &mut extra)?;
    comparisons.push(downstream_builds(&plan, &out_dir, &mut extra)?);
    let load_end = load_average();

    let elapsed = started.elapsed();
    let mut summary = serde_json::Map::new();
    for c in &comparisons {
        summary.insert(c.key.into(), json!(round(c.ratio().median)));
    }
    let mut details = serde_json::Map::new();
    for c in &comparisons {
        details.insert(
            c.key.into(),
            json!({
                "what": c.what,
                "target": c.target.text(),
                "met": c.target.met(c.ratio().median),
                "ratio": c.ratio().json(),
                "rounds": c.ratios.len(),
                "a": {"name": c.a.0, "unit": c.unit, "spread": Spread::of(&c.a.1).json()},
                "b": {"name": c.b.0, "unit": c.unit, "spread": Spread::of(&c.b.1).json()},
                "command": c.command,
                "checked": c.checked,
            }),
        );
    }
    summary.insert("quick".into(), json!(quick));
    summary.insert(
        "machine".into(),
        json!({"info": machine(), "python": python_version,
               "load_average_start": load_start, "load_average_end": load_end}),
    );
    summary.insert("seconds".into(), json!(elapsed.as_secs()));
    summary.insert("details".into(), Value::Object(details));
    summary.insert("also".into(), Value::Object(extra));
    let summary = Value::Object(summary);
    let path = out_dir.join("summary.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| e.to_string())?;
    write_markdown(&comparisons, &summary)?;
    println!("{}", table(&comparisons));
    eprintln!(
        "xtask: wrote {} and BENCHMARKS.md in {:.0} s (load average {load_start} at the start, \
         {load_end} at the end)",
        path.display(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Signing: ours against the Python SDK's Signer, and against the bare hashing.
fn sign(
    plan: &Plan,
    art: &Artifacts,
    python: &str,
    extra: &mut serde_json::Map<String, Value>,
) -> Result<Vec<Comparison>, String> {
    let mut ours = Driven::spawn("signing bench", Command::new(&art.signing).arg("--serve"))?;
    let mut py = Driven::spawn(
        "bench_sign.py",
        Command::new(python)
            .args(["tests/oracle/bench_sign.py", "--serve"])
            .current_dir(root()),
    )?;
    let (ours_sig, py_sig) = (ours.line()?, py.line()?);
    if ours_sig != py_sig || !ours_sig.starts_with("signature ") {
        return Err(format!(
            "the signers disagree: ours {ours_sig:?}, the SDK's {py_sig:?}"
        ));
    }
    // Warm-up, then rounds of about 50 ms per side.
    ours.number("key 20000")?;
    py.number("python 500")?;
    let kinds = [
        "key",
        "sign",
        "floor-writes",
        "floor-sha2",
        "floor-ring",
        "floor-sha2-rekey",
    ];
    let mut rust: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut pys = Vec::new();
    for round in 0..plan.sign_rounds {
        let mut rust_round = |rust: &mut BTreeMap<&str, Vec<f64>>| -> Result<(), String> {
            for kind in kinds {
                let n = if kind.starts_with("floor") {
                    100_000
                } else {
                    40_000
                };
                rust.entry(kind)
                    .or_default()
                    .push(ours.number(&format!("{kind} {n}"))?);
            }
            Ok(())
        };
        if round % 2 == 0 {
            rust_round(&mut rust)?;
            pys.push(py.number("python 2000")?);
        } else {
            pys.push(py.number("python 2000")?);
            rust_round(&mut rust)?;
        }
    }
    let key = rust["key"].clone();
    let floor: Vec<f64> = rust["floor-sha2"]
        .iter()
        .zip(&rust["floor-ring"])
        .map(|(a, b)| a.min(*b))
        .collect();
    let mut backends = serde_json::Map::new();
    for (kind, samples) in &rust {
        backends.insert((*kind).into(), Spread::of(samples).json());
    }
    backends.insert("python".into(), Spread::of(&pys).json());
    extra.insert("sign_ns_per_op".into(), Value::Object(backends));
    let one_shot: Vec<f64> = pys.iter().zip(&rust["sign"]).map(|(p, r)| p / r).collect();
    extra.insert(
        "sign_one_shot_vs_python".into(),
        Spread::of(&one_shot).json(),
    );
    let one_shot_floor: Vec<f64> = rust["sign"]
        .iter()
        .zip(&rust["floor-sha2-rekey"])
        .map(|(s, f)| s / f)
        .collect();
    extra.insert(
        "sign_one_shot_vs_floor_with_key_setup".into(),
        Spread::of(&one_shot_floor).json(),
    );
    // How far from the floor the least a signer must write per request already is (see
    // benches/signing.rs): the part of `sign_vs_floor` that no signer writing and hashing its
    // whole canonical request at every call can remove.
    let writes_floor: Vec<f64> = rust["floor-writes"]
        .iter()
        .zip(&floor)
        .map(|(w, f)| w / f)
        .collect();
    extra.insert(
        "sign_floor_writes_vs_floor".into(),
        Spread::of(&writes_floor).json(),
    );
    let signature = ours_sig.trim_start_matches("signature ").to_owned();
    Ok(vec![
        Comparison {
            key: "sign_vs_python",
            what: "official Python SDK `Signer.sign` time / ours (`SigningKey::sign_headers`), same request and inputs, the time handed to both as a time value",
            a: ("Python SDK Signer.sign", pys.clone()),
            b: ("ours", key.clone()),
            unit: "ns/op",
            ratios: pys.iter().zip(&key).map(|(p, r)| p / r).collect(),
            target: Target::AtLeast(12.0),
            command:
                "cargo bench --bench signing -- --serve; python tests/oracle/bench_sign.py --serve"
                    .into(),
            checked: format!("both compute signature {signature}"),
        },
        Comparison {
            key: "sign_vs_floor",
            what: "ours / SHA-256(body) + SHA-256(canonical request) + HMAC-SHA256(string to sign, key state made once), fastest backend each round",
            a: ("ours", key.clone()),
            b: ("bare hashing", floor.clone()),
            unit: "ns/op",
            ratios: key.iter().zip(&floor).map(|(k, f)| k / f).collect(),
            // One signing path, no memo: it writes and hashes the whole canonical request each
            // time, where the floor hashes a ready-made one.
            target: Target::AtMost(2.5),
            command: "cargo bench --bench signing -- --serve".into(),
            checked: "the floor's HMAC (sha2 and ring) equals our signature".into(),
        },
    ])
}

/// The official SDK's `HssClient` (`tests/oracle/bench_e2e.py`) against `url`, pinned to CPU 1
/// as the sequential clients are, once it has made its first call.
fn python_client(python: &str, url: &str) -> Result<Driven, String> {
    let mut py = Driven::spawn(
        "bench_e2e.py",
        pinned(1, Path::new(python))
            .arg("tests/oracle/bench_e2e.py")
            .arg(url)
            .args([
                "--ak",
                DEMO_AK,
                "--sk",
                DEMO_SK,
                "--project-id",
                DEMO_PROJECT,
            ])
            .current_dir(root()),
    )?;
    if py.line()? != "ready" {
        return Err(format!("bench_e2e.py did not get ready against {url}"));
    }
    Ok(py)
}

/// End to end against the emulator: ours against raw reqwest (sequential, 64 concurrent) and
/// against the Python SDK's HssClient (sequential).
fn e2e(
    plan: &Plan,
    art: &Artifacts,
    python: &str,
    emulator: &Server,
    pinned_emulator: &Server,
    extra: &mut serde_json::Map<String, Value>,
) -> Result<Vec<Comparison>, String> {
    // Concurrent rounds: processes unpinned, sharing both CPUs.
    let mut client = Driven::spawn(
        "bench_client",
        Command::new(&art.bench_client).arg(&emulator.url),
    )?;
    // Sequential rounds: the clients pinned to CPU 1, their emulator to CPU 0.
    let mut seq = Driven::spawn(
        "bench_client (pinned)",
        pinned(1, &art.bench_client).arg(&pinned_emulator.url),
    )?;
    let mut py = python_client(python, &pinned_emulator.url)?;
    // Warm-up: connections open, code paged in.
    seq.number("ours 500 1")?;
    seq.number("raw 500 1")?;
    client.number("ours 2000 64")?;
    client.number("raw 2000 64")?;
    py.number("python 50")?;

    let rounds = plan.e2e_rounds;
    // Rounds of about half a second each: shorter ones (2,000 sequential calls, 0.2 s) let a
    // moment of other load on this shared machine decide a round.
    let (ours_seq, raw_seq) = {
        let cell = std::cell::RefCell::new(&mut seq);
        interleaved(
            rounds,
            || cell.borrow_mut().number("ours 5000 1"),
            || cell.borrow_mut().number("raw 5000 1"),
        )?
    };
    let (ours_conc, raw_conc) = {
        let cell = std::cell::RefCell::new(&mut client);
        interleaved(
            rounds,
            || cell.borrow_mut().number("ours 25000 64"),
            || cell.borrow_mut().number("raw 25000 64"),
        )?
    };
    let (ours_py, pys) = interleaved(
        rounds,
        || seq.number("ours 5000 1"),
        || py.number("python 500"),
    )?;
    // The ceiling of `e2e_vs_python` on this machine: both sides against a bare hyper server
    // (no signature check, no work) in the emulator's place, ours replaced by the raw
    // re-sending of a signed request. No client built on reqwest (as the generated code is)
    // and no server beats this pair; the SDK gains from the bare server too. Every call of
    // both must succeed, as in the comparisons (`Driven::number`).
    {
        let bare = Server::start(pinned(0, &art.hyper_server).arg("127.0.0.1:0"))?;
        let mut py_bare = python_client(python, &bare.url)?;
        let to_bare = format!("raw 5000 1 {}", bare.url);
        seq.number(&to_bare.replace("5000", "500"))?;
        py_bare.number("python 50")?;
        let (raw_bare, py_bare_rates) = interleaved(
            rounds,
            || seq.number(&to_bare),
            || py_bare.number("python 500"),
        )?;
        let ceiling: Vec<f64> = raw_bare
            .iter()
            .zip(&py_bare_rates)
            .map(|(x, y)| x / y)
            .collect();
        extra.insert(
            "e2e_ceiling_vs_python".into(),
            json!({
                "ratio": Spread::of(&ceiling).json(),
                "raw_reqwest_calls_per_s": Spread::of(&raw_bare).json(),
                "python_calls_per_s": Spread::of(&py_bare_rates).json(),
            }),
        );
    }
    let ratio = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x / y).collect::<Vec<_>>();
    // What a client with no overhead at all would reach against the Python SDK here: the raw
    // re-sending of a signed request (rounds of the first comparison) over the SDK's rounds.
    extra.insert(
        "e2e_raw_reqwest_vs_python".into(),
        json!(round(Spread::of(&raw_seq).median / Spread::of(&pys).median)),
    );
    let command = "hss-image-sync emulator --listen 127.0.0.1:0; cargo run --release --features emulator --example bench_client -- URL".to_owned();
    let (on_0, on_1) = if pinning() {
        ("taskset -c 0 ", "taskset -c 1 ")
    } else {
        ("", "")
    };
    let pinned_command = format!(
        "{on_0}hss-image-sync emulator --listen 127.0.0.1:0; {on_1}target/release/examples/bench_client URL"
    );
    Ok(vec![
        Comparison {
            key: "e2e_vs_raw_reqwest",
            what: "our client's sequential calls/s / raw reqwest POSTing the request our client signed, same emulator",
            a: ("ours", ours_seq.clone()),
            b: ("raw reqwest", raw_seq.clone()),
            unit: "calls/s",
            ratios: ratio(&ours_seq, &raw_seq),
            target: Target::AtLeast(0.85),
            command: pinned_command.clone(),
            checked:
                "every call of both answered 200 (ours: a successful RunImageSynchronize answer)"
                    .into(),
        },
        Comparison {
            key: "e2e_concurrent_vs_raw_reqwest",
            what: "the same with 64 concurrent calls (one client shared by 64 tasks)",
            a: ("ours", ours_conc.clone()),
            b: ("raw reqwest", raw_conc.clone()),
            unit: "calls/s",
            ratios: ratio(&ours_conc, &raw_conc),
            target: Target::AtLeast(0.85),
            command: command.clone(),
            checked: "every call of both answered 200".into(),
        },
        Comparison {
            key: "e2e_vs_python",
            what: "our client's sequential calls/s / the official Python HssClient's, same emulator",
            a: ("ours", ours_py.clone()),
            b: ("Python SDK HssClient", pys.clone()),
            unit: "calls/s",
            ratios: ratio(&ours_py, &pys),
            target: Target::AtLeast(10.0),
            command: format!(
                "{pinned_command}; {on_1}python tests/oracle/bench_e2e.py URL --ak AK --sk SK --project-id ID"
            ),
            checked: "every call of both succeeded (error_code 0)".into(),
        },
    ])
}

/// Wall time of a process run; fails unless it exits 0 and its stdout has `expect`.
fn timed(cmd: &mut Command, expect: &str) -> Result<f64, String> {
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    let wall = started.elapsed().as_secs_f64() * 1e3;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.contains(expect) {
        return Err(format!(
            "{cmd:?} failed ({}): {stdout} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(wall)
}

/// The environment of a one-shot call: the demo keys, nothing else of ours.
fn one_shot_env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("HUAWEICLOUD_SDK_AK", DEMO_AK)
        .env("HUAWEICLOUD_SDK_SK", DEMO_SK)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT)
        .current_dir(home)
}

/// One-shot wall times: our CLI against a Python script using the SDK, and against curl.
fn one_shot(
    plan: &Plan,
    art: &Artifacts,
    python: &str,
    emulator: &Server,
    out_dir: &Path,
) -> Result<Vec<Comparison>, String> {
    let home = out_dir.join("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let script = root().join("tests/oracle/bench_cli.py");
    let ours = || {
        timed(
            one_shot_env(&mut Command::new(&art.cli), &home)
                .args(["sync", "--endpoint", &emulator.url])
                .args(["--image-type", "private_image"]),
            "\"error_code\": 0",
        )
    };
    let py = || {
        timed(
            one_shot_env(&mut Command::new(python), &home)
                .arg(&script)
                .arg(&emulator.url),
            "error_code",
        )
    };
    // Warm-up of the page cache for both.
    ours()?;
    py()?;
    let (ours_py, pys) = interleaved(plan.process_pairs, ours, py)?;

    // curl re-sends the request our client signs now (the emulator accepts it for 15 minutes).
    let mut client = Driven::spawn(
        "bench_client",
        Command::new(&art.bench_client).arg(&emulator.url),
    )?;
    let presigned: Value =
        serde_json::from_str(&client.ask("presign")?).map_err(|e| format!("presign: {e}"))?;
    drop(client);
    let mut curl_args: Vec<String> =
        vec!["-sS".into(), "--fail".into(), "-X".into(), "POST".into()];
    for pair in presigned["headers"]
        .as_array()
        .ok_or("presign: no headers")?
    {
        let (name, value) = (
            pair[0].as_str().unwrap_or(""),
            pair[1].as_str().unwrap_or(""),
        );
        curl_args.push("-H".into());
        curl_args.push(format!("{name}: {value}"));
    }
    curl_args.push("--data-binary".into());
    curl_args.push(presigned["body"].as_str().unwrap_or("").into());
    curl_args.push(presigned["url"].as_str().unwrap_or("").into());
    let curl = || {
        timed(
            one_shot_env(&mut Command::new("curl"), &home).args(&curl_args),
            "\"error_code\"",
        )
    };
    curl()?;
    let (ours_curl, curls) = interleaved(plan.curl_pairs, ours, curl)?;
    let ratio = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x / y).collect::<Vec<_>>();
    Ok(vec![
        Comparison {
            key: "cli_vs_python",
            what: "one-shot wall time: a Python script making the call with the official SDK / `hss-image-sync sync` (release)",
            a: ("Python SDK script", pys.clone()),
            b: ("hss-image-sync sync", ours_py.clone()),
            unit: "ms",
            ratios: ratio(&pys, &ours_py),
            target: Target::AtLeast(100.0),
            command: "HUAWEICLOUD_SDK_AK=.. HUAWEICLOUD_SDK_SK=.. HUAWEICLOUD_SDK_PROJECT_ID=.. hss-image-sync sync --endpoint URL --image-type private_image; python tests/oracle/bench_cli.py URL".into(),
            checked: "both exit 0 with error_code 0 in the answer".into(),
        },
        Comparison {
            key: "cli_vs_curl",
            what: "one-shot wall time: `hss-image-sync sync` (release) / `curl` POSTing the same signed request",
            a: ("hss-image-sync sync", ours_curl.clone()),
            b: ("curl", curls.clone()),
            unit: "ms",
            ratios: ratio(&ours_curl, &curls),
            target: Target::AtMost(1.1),
            command: "hss-image-sync sync --endpoint URL --image-type private_image; curl -sS --fail -X POST -H .. --data-binary BODY URL".into(),
            checked: "both exit 0; the emulator answered 200 with error_code 0 to both".into(),
        },
    ])
}

/// The emulator's verified calls/s against a bare hyper server's, load from another process.
fn emulator_vs_hyper(
    plan: &Plan,
    art: &Artifacts,
    emulator: &Server,
) -> Result<Comparison, String> {
    let hyper = Server::start(Command::new(&art.hyper_server).arg("127.0.0.1:0"))?;
    let mut load = Driven::spawn(
        "bench_client (load)",
        Command::new(&art.bench_client).arg(&emulator.url),
    )?;
    let to_emulator = format!("raw 20000 64 {}", emulator.url);
    let to_hyper = format!("raw 20000 64 {}", hyper.url);
    load.number(&to_emulator.replace("20000", "3000"))?;
    load.number(&to_hyper.replace("20000", "3000"))?;
    let (emu, bare) = {
        let cell = std::cell::RefCell::new(&mut load);
        interleaved(
            plan.e2e_rounds,
            || cell.borrow_mut().number(&to_emulator),
            || cell.borrow_mut().number(&to_hyper),
        )?
    };
    Ok(Comparison {
        key: "emulator_vs_raw_hyper",
        what: "the emulator's verified calls/s / a bare hyper server answering 200, same load (64 connections, a signed request re-sent) from a separate process",
        a: ("hss-image-sync emulator", emu.clone()),
        b: ("bare hyper", bare.clone()),
        unit: "calls/s",
        ratios: emu.iter().zip(&bare).map(|(a, b)| a / b).collect(),
        target: Target::AtLeast(0.7),
        command: "hss-image-sync emulator --listen 127.0.0.1:0; cargo run --release --features emulator --example bench_hyper_server; bench_client URL: raw 20000 64 URL".into(),
        checked: "every call answered 200 by both (the emulator verified each signature)".into(),
    })
}

/// Peak RSS of one CLI call, and of the emulator under examples/load.rs's 10,000 calls.
fn memory(
    art: &Artifacts,
    python: &str,
    extra: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let emulator =
        Server::start(Command::new(&art.cli).args(["emulator", "--listen", "127.0.0.1:0"]))?;
    let home = root().join("target/bench/home");
    let mut samples = Vec::new();
    for _ in 0..3 {
        let out = one_shot_env(&mut Command::new(python), &home)
            .arg(root().join("tests/oracle/bench_rss.py"))
            .arg(&art.cli)
            .args(["sync", "--endpoint", &emulator.url])
            .args(["--image-type", "private_image"])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.get(3) != Some(&"0") {
            return Err(format!("the CLI call under bench_rss.py failed: {text}"));
        }
        samples.push(words[1].parse::<f64>().map_err(|e| e.to_string())?);
    }
    extra.insert("peak_rss_cli_call_kib".into(), Spread::of(&samples).json());
    let load = Command::new(&art.load)
        .args(["10000", "256", "--endpoint", &emulator.url])
        .output()
        .map_err(|e| e.to_string())?;
    if !load.status.success() {
        return Err(format!(
            "examples/load.rs against the emulator failed: {}",
            String::from_utf8_lossy(&load.stdout)
        ));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", emulator.pid()))
        .map_err(|e| e.to_string())?;
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or("no VmHWM")?;
    extra.insert("peak_rss_emulator_10000_calls_kib".into(), json!(hwm));
    let report = String::from_utf8_lossy(&load.stdout);
    extra.insert(
        "load_10000_calls_against_the_emulator".into(),
        json!(report.lines().map(str::trim).collect::<Vec<_>>()),
    );
    // The same load in one process (client and emulator together), as examples/load.rs runs.
    let inprocess = Command::new(&art.load)
        .args(["10000", "256"])
        .output()
        .map_err(|e| e.to_string())?;
    if !inprocess.status.success() {
        return Err("examples/load.rs failed".into());
    }
    extra.insert(
        "load_10000_calls_in_process".into(),
        json!(
            String::from_utf8_lossy(&inprocess.stdout)
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
        ),
    );
    Ok(())
}

/// One cold debug build of a crate in `dir` (its own target directory, emptied first).
struct Build {
    seconds: f64,
    crates: usize,
    build_script_run_s: Option<f64>,
}

fn cold_build(manifest_dir: &Path, target: &Path, features: &[&str]) -> Result<Build, String> {
    let _ = std::fs::remove_dir_all(target);
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--offline",
        "--timings",
        "--message-format",
        "json",
    ])
    .arg("--manifest-path")
    .arg(manifest_dir.join("Cargo.toml"))
    .env("CARGO_TARGET_DIR", target)
    // As a dependency from crates.io is compiled: cargo compiles only local (path) packages
    // incrementally, and the user crate reaches hss-image-sync by path. Both sides alike.
    .env("CARGO_INCREMENTAL", "0")
    .stderr(Stdio::null());
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let started = Instant::now();
    let out = cmd.output().map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("{cmd:?} failed"));
    }
    let mut packages = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Ok(msg) = serde_json::from_str::<Value>(line)
            && msg["reason"] == "compiler-artifact"
            && let Some(id) = msg["package_id"].as_str()
        {
            packages.insert(id.to_owned());
        }
    }
    let timings =
        std::fs::read_to_string(target.join("cargo-timings/cargo-timing.html")).unwrap_or_default();
    let build_script_run_s = timings
        .split_once("UNIT_DATA = ")
        .and_then(|(_, rest)| rest.split_once(";\n"))
        .and_then(|(data, _)| serde_json::from_str::<Value>(data).ok())
        .and_then(|units| {
            units.as_array()?.iter().find_map(|u| {
                (u["name"] == "hss-image-sync" && u["mode"] == "run-custom-build")
                    .then(|| u["duration"].as_f64())
                    .flatten()
            })
        });
    Ok(Build {
        seconds,
        // The crate itself is not one a user "compiles as a dependency", but cargo does
        // compile it: counted.
        crates: packages.len(),
        build_script_run_s,
    })
}

/// A copy of tests/downstream (the crate depends on this checkout by absolute path), so that
/// building it leaves tests/downstream's lockfile alone.
fn user_crate(out_dir: &Path) -> Result<PathBuf, String> {
    let dir = out_dir.join("downstream-user");
    let src = root().join("tests/downstream");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let manifest = std::fs::read_to_string(src.join("Cargo.toml")).map_err(|e| e.to_string())?;
    let root_path = root().display().to_string().replace('\\', "/");
    let manifest = manifest.replace("path = \"../..\"", &format!("path = {root_path:?}"));
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    for file in ["src/main.rs", "Cargo.lock"] {
        let _ = std::fs::copy(src.join(file), dir.join(file));
    }
    Ok(dir)
}

fn downstream_builds(
    plan: &Plan,
    out_dir: &Path,
    extra: &mut serde_json::Map<String, Value>,
) -> Result<Comparison, String> {
    let user = user_crate(out_dir)?;
    let baseline = root().join("benches/downstream-baseline");
    let (user_target, base_target) = (out_dir.join("build-user"), out_dir.join("build-baseline"));
    // Fetch (offline later) and warm the page cache.
    for dir in [&user, &baseline] {
        let _ = cargo()
            .args(["fetch", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .stderr(Stdio::null())
            .status();
    }
    let (users, bases) = interleaved(
        plan.build_pairs,
        || cold_build(&user, &user_target, &[]),
        || cold_build(&baseline, &base_target, &[]),
    )?;
    let user_s: Vec<f64> = users.iter().map(|b| b.seconds).collect();
    let base_s: Vec<f64> = bases.iter().map(|b| b.seconds).collect();
    extra.insert("downstream_crates_compiled".into(), json!(users[0].crates));
    extra.insert("baseline_crates_compiled".into(), json!(bases[0].crates));
    extra.insert(
        "build_script_run_s_cargo_timings".into(),
        json!(
            users
                .iter()
                .filter_map(|b| b.build_script_run_s)
                .collect::<Vec<_>>()
        ),
    );
    extra.insert(
        "build_script_run_ms".into(),
        build_script_time(&user_target)?,
    );
    if plan.feature_builds {
        let features = ["hss-image-sync/ecdsa", "hss-image-sync/sm2"];
        let with_target = out_dir.join("build-user-features");
        let (without, with) = interleaved(
            2,
            || cold_build(&user, &user_target, &[]),
            || cold_build(&user, &with_target, &features),
        )?;
        let without: Vec<f64> = without.iter().map(|b| b.seconds).collect();
        let with: Vec<f64> = with.iter().map(|b| b.seconds).collect();
        extra.insert(
            "downstream_build_features_ecdsa_sm2".into(),
            json!({
                "without_s": Spread::of(&without).json(),
                "with_s": Spread::of(&with).json(),
                "ratio": Spread::of(&with.iter().zip(&without).map(|(a, b)| a / b).collect::<Vec<_>>()).json(),
            }),
        );
        let _ = std::fs::remove_dir_all(&with_target);
    }
    let _ = std::fs::remove_dir_all(&user_target);
    let _ = std::fs::remove_dir_all(&base_target);
    Ok(Comparison {
        key: "downstream_build_vs_baseline",
        what: "cold debug build of a tiny crate using hss-image-sync (tests/downstream) / one using reqwest + serde_json + tokio with the same TLS setup (benches/downstream-baseline)",
        a: ("tests/downstream", user_s.clone()),
        b: ("benches/downstream-baseline", base_s.clone()),
        unit: "s",
        ratios: user_s.iter().zip(&base_s).map(|(a, b)| a / b).collect(),
        target: Target::AtMost(1.15),
        command: "CARGO_TARGET_DIR=(empty) CARGO_INCREMENTAL=0 cargo build --offline --manifest-path {tests/downstream,benches/downstream-baseline}/Cargo.toml".into(),
        checked: "both builds succeed".into(),
    })
}

/// hss-image-sync's build script, run as cargo runs it (cwd the package, a fresh OUT_DIR),
/// 21 times: the median and the spread in ms.
fn build_script_time(target: &Path) -> Result<Value, String> {
    let build = target.join("debug/build");
    let script = std::fs::read_dir(&build)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("hss-image-sync-"))
        })
        .map(|p| p.join("build-script-build"))
        .find(|p| p.exists())
        .ok_or("no build script of hss-image-sync was built")?;
    let out = target.join("build-script-out");
    let mut samples = Vec::new();
    for _ in 0..21 {
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let status = Command::new(&script)
            .current_dir(root())
            .env("OUT_DIR", &out)
            .env("CARGO_MANIFEST_DIR", root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        if !status.success() {
            return Err("the build script failed when run alone".into());
        }
    }
    Ok(Spread::of(&samples).json())
}

fn fmt_num(x: f64) -> String {
    if x >= 1000.0 {
        let n = x.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn spread_text(s: Spread) -> String {
    format!(
        "{} / **{}** / {}",
        fmt_num(s.min),
        fmt_num(s.median),
        fmt_num(s.max)
    )
}

fn table(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "| key | ratio min / **median** / max | target | met | A (min / **median** / max) | B (min / **median** / max) | rounds |\n|---|---|---|---|---|---|---|\n",
    );
    for c in comparisons {
        let r = c.ratio();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {}: {} {} | {}: {} {} | {} |\n",
            c.key,
            spread_text(r),
            c.target.text(),
            if c.target.met(r.median) {
                "yes"
            } else {
                "**no**"
            },
            c.a.0,
            spread_text(Spread::of(&c.a.1)),
            c.unit,
            c.b.0,
            spread_text(Spread::of(&c.b.1)),
            c.unit,
            c.ratios.len()
        ));
    }
    out
}

const BEGIN: &str =
    "<!-- bench:begin (generated by `cargo xtask bench`; edits here are overwritten) -->";
const END: &str = "<!-- bench:end -->";

fn write_markdown(comparisons: &[Comparison], summary: &Value) -> Result<(), String> {
    let machine = &summary["machine"];
    let info = &machine["info"];
    let also = &summary["also"];
    let mut text = String::new();
    text.push_str(BEGIN);
    text.push('\n');
    text.push_str(&format!(
        "\nLast run: `cargo xtask bench{}` ({} s). Machine: {}, {} cores, SHA extensions (`sha_ni`): {}, \
         AVX2: {}; {}; {}; {}. Load average (1, 5, 15 min) {} at the start, {} at the end.\n\n",
        if summary["quick"] == true { " --quick" } else { "" },
        summary["seconds"],
        info["cpu"].as_str().unwrap_or("?"),
        info["cores"],
        if info["sha_ni"] == true { "yes" } else { "no" },
        if info["avx2"] == true { "yes" } else { "no" },
        info["rustc"].as_str().unwrap_or("?"),
        machine["python"].as_str().unwrap_or("?"),
        info["curl"].as_str().unwrap_or("?").split(" (").next().unwrap_or("?"),
        machine["load_average_start"].as_str().unwrap_or("?"),
        machine["load_average_end"].as_str().unwrap_or("?"),
    ));
    text.push_str(&table(comparisons));
    text.push_str("\nWhat each key measures, how its two sides were checked to do the same work, and the command:\n\n");
    for c in comparisons {
        text.push_str(&format!(
            "- `{}`: {}. Checked: {}. `{}`\n",
            c.key, c.what, c.checked, c.command
        ));
    }
    let ns = &also["sign_ns_per_op"];
    let spread = |v: &Value| -> String {
        format!(
            "{} / **{}** / {}",
            fmt_num(v["min"].as_f64().unwrap_or(f64::NAN)),
            fmt_num(v["median"].as_f64().unwrap_or(f64::NAN)),
            fmt_num(v["max"].as_f64().unwrap_or(f64::NAN))
        )
    };
    text.push_str("\nSigning, each kind in ns per signature (min / **median** / max):\n\n| kind | ns/op |\n|---|---|\n");
    for (kind, label) in [
        (
            "key",
            "ours: `SigningKey::sign_headers`, key made once (as the client does, per credential)",
        ),
        (
            "sign",
            "ours: `signer::sign` (one-shot: AK/SK in, every intermediate string out)",
        ),
        (
            "floor-writes",
            "floor-sha2 plus only the bytes a signer must write per request, nothing checked",
        ),
        (
            "floor-sha2",
            "floor: the bare hashing, RustCrypto `sha2`, HMAC key state made once",
        ),
        (
            "floor-ring",
            "floor: the bare hashing, `ring`, HMAC key made once",
        ),
        (
            "floor-sha2-rekey",
            "floor with the HMAC key set up per request (`sha2`)",
        ),
        ("python", "official Python SDK `Signer.sign`"),
    ] {
        text.push_str(&format!("| {label} | {} |\n", spread(&ns[kind])));
    }
    text.push_str(&format!(
        "\nOne-shot `signer::sign`: Python / ours {}; ours / floor with per-request key setup {}. \
         The least a signer must write, over the floor (`floor-writes` / fastest floor): {}.\n",
        spread(&also["sign_one_shot_vs_python"]),
        spread(&also["sign_one_shot_vs_floor_with_key_setup"]),
        spread(&also["sign_floor_writes_vs_floor"])
    ));
    text.push_str(&format!(
        "\nA client with no overhead at all (raw reqwest re-sending a signed request) reaches {:.1}x \
         the Python SDK's sequential calls/s against this emulator (medians of the rounds above).\n",
        also["e2e_raw_reqwest_vs_python"].as_f64().unwrap_or(f64::NAN)
    ));
    let ceiling = &also["e2e_ceiling_vs_python"];
    text.push_str(&format!(
        "With a bare hyper server in the emulator's place (pinned as the emulator is), raw reqwest \
         makes {} calls/s and the Python SDK {}: {} (the ceiling of `e2e_vs_python` on this \
         machine for any client built on reqwest and any server).\n",
        spread(&ceiling["raw_reqwest_calls_per_s"]),
        spread(&ceiling["python_calls_per_s"]),
        spread(&ceiling["ratio"]),
    ));
    text.push_str(&format!(
        "\nAlso measured:\n\n\
         - peak RSS of one `hss-image-sync sync` call (release, `tests/oracle/bench_rss.py`): {} KiB;\n\
         - peak RSS (VmHWM) of `hss-image-sync emulator` after `examples/load.rs --endpoint` sent it 10,000 calls (256 concurrent, one in ten with a wrong key): {} KiB;\n\
         - hss-image-sync's build script, run alone as cargo runs it: {} ms (cargo --timings: {} s);\n\
         - packages cargo compiles in a cold build of the downstream user crate, the user crate and hss-image-sync included: {} (the baseline crate: {});\n",
        spread(&also["peak_rss_cli_call_kib"]),
        fmt_num(
            also["peak_rss_emulator_10000_calls_kib"]
                .as_f64()
                .unwrap_or(f64::NAN)
        ),
        spread(&also["build_script_run_ms"]),
        also["build_script_run_s_cargo_timings"],
        also["downstream_crates_compiled"],
        also["baseline_crates_compiled"],
    ));
    if let Some(f) = also.get("downstream_build_features_ecdsa_sm2") {
        text.push_str(&format!(
            "- cold debug build of the downstream crate with the features `ecdsa` and `sm2` / without: {} (with {} s, without {} s);\n",
            spread(&f["ratio"]),
            spread(&f["with_s"]),
            spread(&f["without_s"]),
        ));
    } else {
        text.push_str(
            "- the build-time cost of the features `ecdsa` and `sm2`: not measured by `--quick`;\n",
        );
    }
    for (key, label) in [
        (
            "load_10000_calls_against_the_emulator",
            "`examples/load.rs 10000 256 --endpoint URL` (client side)",
        ),
        (
            "load_10000_calls_in_process",
            "`examples/load.rs 10000 256` (client and emulator in one process)",
        ),
    ] {
        let lines: Vec<String> = also[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str())
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect()
            })
            .unwrap_or_default();
        text.push_str(&format!("- {label}: {}.\n", lines.join("; ")));
    }
    text.push('\n');
    text.push_str(END);

    let path = root().join("BENCHMARKS.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let updated = match (current.find(BEGIN), current.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{}{}", &current[..b], text, &current[e + END.len()..])
        }
        _ => format!("{current}\n{text}\n"),
    };
    std::fs::write(&path, updated).map_err(|e| e.to_string())
}
