//! One run: a scenario and a seed through the simulator, the checks over its
//! history, and the run directory of SPEC.md §4 (`scenario.toml`,
//! `history.jsonl`, `verdict.json`, `log.txt`).
//!
//! This is also the library API for users who want to run a scenario from
//! their own `cargo test`:
//!
//! ```no_run
//! use tumult_harness::run::{run_seed, RunOptions};
//! use tumult_harness::scenario::parse_str;
//!
//! let scenario = parse_str("inline.toml", r#"
//!     [cluster]
//!     nodes = 3
//!     shards = 1
//!     [workload]
//!     clients = 2
//!     keys = 2
//!     duration = "3s"
//! "#).expect("valid scenario");
//! let result = run_seed(&scenario, 1, &RunOptions::in_memory());
//! assert!(result.met_expectation(), "{}", result.summary());
//! ```

use crate::scenario::{Check, Scenario, Verdict as Expected};
use crate::sim::{self, SimOutcome};
use serde::Serialize;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tumult_models::history::{Entry, History, OpType};
use tumult_models::lin::{self, CheckOptions};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where run directories go (`OUT/SCENARIO/seed-N`); `None`: write nothing.
    pub out: Option<PathBuf>,
    /// Time limit of the linearizability checker per run.
    pub check_timeout: Duration,
    /// Memory budget of the linearizability checker per run (bytes): past
    /// it the check ends `unknown` instead of exhausting the machine.
    pub check_memory: u64,
    /// The engine's log level in `log.txt`.
    pub log_level: tracing::Level,
    /// A deliberate engine bug to run with (feature `mutants`; see `crate::mutants`).
    pub mutant: Option<String>,
}

impl RunOptions {
    /// Runs without writing a run directory.
    pub fn in_memory() -> RunOptions {
        RunOptions {
            out: None,
            check_timeout: Duration::from_secs(120),
            check_memory: CheckOptions::default().memory_budget,
            log_level: tracing::Level::INFO,
            mutant: None,
        }
    }

    /// Writes run directories under `out`.
    pub fn writing_to(out: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            out: Some(out.into()),
            ..RunOptions::in_memory()
        }
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    /// `pass`, `fail` or `unknown`.
    pub result: String,
    /// What it found, for a human.
    pub detail: String,
    /// Figures: operations, keys, seconds, events and the like.
    pub figures: BTreeMap<String, Json>,
}

impl CheckResult {
    fn new(result: &str, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            result: result.to_string(),
            detail: detail.into(),
            figures: BTreeMap::new(),
        }
    }

    fn figure(mut self, name: &str, value: impl Into<Json>) -> CheckResult {
        self.figures.insert(name.to_string(), value.into());
        self
    }

    /// Whether the check failed.
    pub fn failed(&self) -> bool {
        self.result == "fail"
    }
}

/// Counts of completed operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Counts {
    fn all(&self) -> u64 {
        self.ok + self.fail + self.info
    }
    fn availability(&self) -> f64 {
        if self.all() == 0 {
            0.0
        } else {
            self.ok as f64 / self.all() as f64
        }
    }
}

/// `verdict.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunVerdict {
    pub scenario: String,
    /// The scenario file, as given.
    pub file: String,
    pub seed: u64,
    /// `pass`, `fail` or `unknown`.
    pub verdict: String,
    /// `pass` or `fail`, from `[expect]`.
    pub expected: String,
    /// The checks whose failure counts (from `[expect] checks`, plus `assertion`).
    pub counted_checks: Vec<String>,
    /// Whether the run met its expectation.
    pub met: bool,
    pub checks: BTreeMap<String, CheckResult>,
    pub counts: Counts,
    /// ok / all, overall and per phase (`workload`, `recovery`, `final-reads`).
    pub availability: BTreeMap<String, f64>,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Client operations per wall second.
    pub ops_per_wall_second: f64,
    /// Peak resident memory of the process so far, in KiB (Linux only, else 0).
    pub peak_rss_kib: u64,
    pub history_entries: usize,
    pub history_sha256: String,
    /// The command that reproduces the run.
    pub reproduce: String,
    /// The deliberate engine bug the run had (`tumult run --mutant`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
}

/// A finished run.
pub struct RunResult {
    pub verdict: RunVerdict,
    /// The run directory, if one was written.
    pub dir: Option<PathBuf>,
    /// The history as written to `history.jsonl` (empty in the results of
    /// `tumult run` and `tumult suite`, which keep only verdicts).
    pub history: Vec<u8>,
}

impl RunResult {
    /// Whether the run met its scenario's expectation.
    pub fn met_expectation(&self) -> bool {
        self.verdict.met
    }

    /// One line: scenario, seed, verdict and what failed.
    pub fn summary(&self) -> String {
        let v = &self.verdict;
        let failed: Vec<String> = v
            .checks
            .iter()
            .filter(|(_, c)| c.failed())
            .map(|(n, c)| format!("{n}: {}", c.detail))
            .collect();
        let mark = if v.met { "ok" } else { "UNEXPECTED" };
        let mut s = format!(
            "{} seed {}: {} (expected {}) [{mark}] {:.1}s sim in {:.1}s wall ({:.1}x, {:.0} ops/s, {:.0} MiB peak)",
            v.scenario,
            v.seed,
            v.verdict,
            v.expected,
            v.sim_seconds,
            v.wall_seconds,
            v.speed,
            v.ops_per_wall_second,
            v.peak_rss_kib as f64 / 1024.0
        );
        if !failed.is_empty() {
            s.push_str(" — ");
            s.push_str(&failed.join("; "));
        }
        s
    }
}

/// SHA-256 of bytes, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serializes a history exactly as `history.jsonl` holds it.
pub fn history_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    tumult_models::history::write_history(&mut out, entries)
        .expect("writing to memory cannot fail");
    out
}

/// Peak resident set size of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The run directory of (scenario, seed) under `out`.
pub fn run_dir(out: &Path, scenario: &str, seed: u64) -> PathBuf {
    out.join(scenario).join(format!("seed-{seed}"))
}

/// Simulates one seed of a scenario, checks its history, and (with
/// `opts.out`) writes its run directory.
pub fn run_seed(scenario: &Scenario, seed: u64, opts: &RunOptions) -> RunResult {
    let started = Instant::now();
    let scenario = Arc::new(scenario.clone());
    let log = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(opts.log_level)
        .finish();
    let outcome = tracing::subscriber::with_default(subscriber, || {
        crate::mutants::scope(opts.mutant.as_deref(), || sim::simulate(&scenario, seed))
    });
    let history = history_bytes(&outcome.entries);
    let dir = opts
        .out
        .as_ref()
        .map(|out| run_dir(out, &scenario.name, seed));
    if let Some(dir) = &dir {
        // Best effort to start clean; errors surface on the writes below.
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::create_dir_all(dir);
    }
    let checks = run_checks(&scenario, &outcome, opts, dir.as_deref());
    let wall = started.elapsed().as_secs_f64();
    let mut verdict = make_verdict(&scenario, seed, &outcome, checks, &history, wall);
    if let Some(m) = &opts.mutant {
        verdict.reproduce.push_str(&format!(" --mutant {m}"));
        verdict.mutant = Some(m.clone());
    }
    if let Some(dir) = &dir {
        let write = |name: &str, bytes: &[u8]| {
            if let Err(e) = std::fs::write(dir.join(name), bytes) {
                eprintln!("tumult: cannot write {}: {e}", dir.join(name).display());
            }
        };
        write("scenario.toml", scenario.source.as_bytes());
        write("history.jsonl", &history);
        let json = serde_json::to_vec_pretty(&verdict).expect("verdict serializes");
        write("verdict.json", &json);
        write("log.txt", &log.0.lock().expect("log buffer"));
    }
    RunResult {
        verdict,
        dir,
        history,
    }
}

fn run_checks(
    scenario: &Scenario,
    outcome: &SimOutcome,
    opts: &RunOptions,
    dir: Option<&Path>,
) -> BTreeMap<String, CheckResult> {
    let mut checks = BTreeMap::new();
    // assertion: panics and broken engine assertions inside the simulation.
    let assertion = if outcome.panics.is_empty() {
        CheckResult::new("pass", "no panic or broken assertion")
    } else {
        CheckResult::new("fail", outcome.panics.join(" | ")).figure("panics", outcome.panics.len())
    };
    checks.insert("assertion".to_string(), assertion);

    // linearizable.
    let history = History::from_entries(outcome.entries.iter().cloned());
    let lin_opts = CheckOptions {
        timeout: opts.check_timeout,
        memory_budget: opts.check_memory,
        html: dir.map(|d| d.join("history.lin.html")),
        ..CheckOptions::default()
    };
    let lin = match lin::check_history(&history, &lin_opts) {
        Ok(report) => {
            let (result, detail) = match &report.verdict {
                lin::Verdict::Ok => ("pass", "linearizable".to_string()),
                lin::Verdict::Unknown => (
                    "unknown",
                    report
                        .reason
                        .clone()
                        .unwrap_or_else(|| "the checker ran out of time".to_string()),
                ),
                lin::Verdict::Violation { key, ops, .. } => {
                    let shown: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
                    (
                        "fail",
                        format!("key {key} is not linearizable: {}", shown.join("; ")),
                    )
                }
            };
            CheckResult::new(result, detail)
                .figure("operations", report.operations)
                .figure("keys", report.keys)
                .figure("seconds", report.seconds)
                .figure("indeterminate", report.indeterminate)
        }
        Err(e) => CheckResult::new("fail", format!("the history is malformed: {e}")),
    };
    checks.insert("linearizable".to_string(), lin);

    // model: protocol conformance of the engine trace.
    checks.insert("model".to_string(), crate::conform::check(&outcome.entries));

    // recovery.
    let r = &outcome.recovery;
    let recovery = if r.passed {
        CheckResult::new(
            "pass",
            format!("recovered {:.2}s after the final heal", r.seconds),
        )
    } else {
        CheckResult::new("fail", r.detail.clone())
    }
    .figure("seconds", r.seconds)
    .figure("limit_seconds", scenario.expect.recovery.as_secs_f64());
    checks.insert("recovery".to_string(), recovery);
    if !outcome.completed {
        checks.insert(
            "assertion".to_string(),
            CheckResult::new(
                "fail",
                format!(
                    "the clients did not finish their final reads within the run's time limit{}",
                    if outcome.panics.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", outcome.panics.join(" | "))
                    }
                ),
            ),
        );
    }
    checks
}

fn make_verdict(
    scenario: &Scenario,
    seed: u64,
    outcome: &SimOutcome,
    checks: BTreeMap<String, CheckResult>,
    history: &[u8],
    wall: f64,
) -> RunVerdict {
    let mut counted: Vec<String> = scenario
        .expect
        .checks
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    counted.push("assertion".into());
    let any = |r: &str| {
        counted
            .iter()
            .any(|c| checks.get(c).is_some_and(|x| x.result == r))
    };
    let verdict = if any("fail") {
        "fail"
    } else if any("unknown") {
        "unknown"
    } else {
        "pass"
    };
    let expected = match scenario.expect.verdict {
        Expected::Pass => "pass",
        Expected::Fail => "fail",
    };
    // An expected failure must be caught by one of the listed checks (not only by an assertion).
    let met = match scenario.expect.verdict {
        Expected::Pass => verdict == "pass",
        Expected::Fail => scenario
            .expect
            .checks
            .iter()
            .any(|c: &Check| checks.get(c.name()).is_some_and(|x| x.failed())),
    };
    let mut phases: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut overall = Counts::default();
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    for e in &outcome.entries {
        if let Entry::Client(op) = e {
            match op.op_type {
                OpType::Invoke => {
                    invoked.insert(op.process, op.time);
                }
                t => {
                    let at = invoked.remove(&op.process).unwrap_or(op.time);
                    let phase = if at < outcome.heal_at {
                        "workload"
                    } else if at < outcome.final_reads_at {
                        "recovery"
                    } else {
                        "final-reads"
                    };
                    for c in [&mut overall, phases.entry(phase).or_default()] {
                        match t {
                            OpType::Ok => c.ok += 1,
                            OpType::Fail => c.fail += 1,
                            _ => c.info += 1,
                        }
                    }
                }
            }
        }
    }
    let mut availability = BTreeMap::new();
    availability.insert("overall".to_string(), overall.availability());
    for p in ["workload", "recovery", "final-reads"] {
        availability.insert(
            p.to_string(),
            phases.get(p).map_or(0.0, Counts::availability),
        );
    }
    let wall = wall.max(1e-9);
    RunVerdict {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        seed,
        verdict: verdict.into(),
        expected: expected.into(),
        counted_checks: counted,
        met,
        checks,
        ops_per_wall_second: overall.all() as f64 / wall,
        counts: overall,
        availability,
        sim_seconds: outcome.sim_seconds,
        wall_seconds: wall,
        speed: outcome.sim_seconds / wall,
        peak_rss_kib: peak_rss_kib(),
        history_entries: outcome.entries.len(),
        history_sha256: sha256_hex(history),
        reproduce: format!("tumult run {} --seed {seed}", scenario.file),
        mutant: None,
    }
}

/// What a run directory records: its scenario (parsed under its original
/// file name, so it keeps its name), its seed, its mutant and `verdict.json`.
pub struct RecordedRun {
    pub scenario: Scenario,
    pub seed: u64,
    pub mutant: Option<String>,
    pub verdict: Json,
}

pub use tumult_reports::run::counted_checks;

/// Reads `scenario.toml` and `verdict.json` of a run directory.
pub fn read_run_dir(dir: &Path) -> Result<RecordedRun, String> {
    let verdict_path = dir.join("verdict.json");
    let text = std::fs::read_to_string(&verdict_path)
        .map_err(|e| format!("{}: cannot read: {e}", verdict_path.display()))?;
    let verdict: Json = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}: {e}", verdict_path.display(), e.line()))?;
    let seed = verdict.get("seed").and_then(Json::as_u64).ok_or_else(|| {
        format!(
            "{}: field `seed` missing or not an integer",
            verdict_path.display()
        )
    })?;
    let file = verdict
        .get("file")
        .and_then(Json::as_str)
        .unwrap_or("scenario.toml")
        .to_string();
    let mutant = verdict
        .get("mutant")
        .and_then(Json::as_str)
        .map(str::to_string);
    let scenario_path = dir.join("scenario.toml");
    let source = std::fs::read_to_string(&scenario_path)
        .map_err(|e| format!("{}: cannot read: {e}", scenario_path.display()))?;
    let scenario = crate::scenario::parse_str(&file, &source).map_err(|e| e.to_string())?;
    Ok(RecordedRun {
        scenario,
        seed,
        mutant,
        verdict,
    })
}

/// Re-runs the scenario and seed recorded in `dir` and compares digests.
/// Returns (recorded digest, new digest, the new run).
pub fn replay(dir: &Path) -> Result<(String, String, RunResult), String> {
    let run = read_run_dir(dir)?;
    let history_path = dir.join("history.jsonl");
    let recorded = std::fs::read(&history_path)
        .map_err(|e| format!("{}: cannot read: {e}", history_path.display()))?;
    let opts = RunOptions {
        mutant: run.mutant,
        ..RunOptions::in_memory()
    };
    crate::mutants::validate(opts.mutant.as_deref())?;
    let result = run_seed(&run.scenario, run.seed, &opts);
    Ok((sha256_hex(&recorded), sha256_hex(&result.history), result))
}

/// The JSON of a verdict, for summaries.
pub fn verdict_json(v: &RunVerdict) -> Json {
    json!(v)
}
