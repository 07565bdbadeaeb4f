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

use crate::check;
use crate::scenario::{Scenario, WorkloadKind};
use crate::sim::{self, SimOutcome};
use crate::workload::{KvWorkload, Workload};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tumult_engine::mutants::Mutant;
pub use tumult_models::artifact::{CheckName, CheckResult, Counts, Expected, Outcome, RunVerdict};
use tumult_models::artifact::{
    Latency, RunDir, HISTORY_FILE, LOG_FILE, SCENARIO_FILE, VERDICT_FILE,
};
use tumult_models::history::{Entry, OpType};
use tumult_models::lin::CheckOptions;

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
    /// Real mode: the run's nodes are processes of this `tumult` executable
    /// (its `node` subcommand) instead of simulated hosts (see `crate::real`).
    pub real: Option<PathBuf>,
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
            real: None,
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
        self.verdict.summary_line()
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

/// Simulates one seed of a scenario of a built-in workload (`register`,
/// `list-append`), checks its history, and (with `opts.out`) writes its run
/// directory.
///
/// # Panics
///
/// On a scenario of `[workload] kind = "app"`, which needs its
/// application: [`run_seed_with`].
pub fn run_seed(scenario: &Scenario, seed: u64, opts: &RunOptions) -> RunResult {
    assert!(
        scenario.workload.kind != WorkloadKind::App,
        "scenario {}: kind = \"app\" needs its application: run it with run_seed_with",
        scenario.name
    );
    let workload: Arc<dyn Workload> = Arc::new(KvWorkload);
    run_seed_with(scenario, &workload, seed, opts)
}

/// [`run_seed`] for your own application: the nodes replicate `workload`'s
/// app, its clients run its operations, and its spec checks the history
/// (see [`crate::workload`] and the README, "Testing your own app").
pub fn run_seed_with(
    scenario: &Scenario,
    workload: &Arc<dyn Workload>,
    seed: u64,
    opts: &RunOptions,
) -> RunResult {
    let started = Instant::now();
    let scenario = Arc::new(scenario.clone());
    let log = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(opts.log_level)
        .finish();
    let mutant = opts.mutant.as_deref().map(|name| {
        // Callers validate flags and files first (see `mutants::validate`).
        Mutant::for_flag(name).unwrap_or_else(|e| panic!("{e}"))
    });
    let dir = opts
        .out
        .as_ref()
        .map(|out| run_dir(out, &scenario.name, seed));
    if let Some(dir) = &dir {
        // Best effort to start clean; errors surface on the writes below.
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::create_dir_all(dir);
    }
    let outcome = tracing::subscriber::with_default(subscriber, || match &opts.real {
        Some(program) => crate::real::run(
            &scenario,
            workload,
            seed,
            &crate::real::RealOptions {
                program: program.clone(),
                dir: dir.clone(),
                mutant: opts.mutant.clone(),
            },
        ),
        None => sim::simulate(&scenario, workload, seed, mutant),
    });
    let history = history_bytes(&outcome.entries);
    let limits = check::Limits {
        timeout: opts.check_timeout,
        memory: opts.check_memory,
    };
    let checks = check::all(
        &scenario,
        workload.as_ref(),
        &outcome,
        limits,
        dir.as_deref(),
    );
    let wall = started.elapsed().as_secs_f64();
    let mut verdict = make_verdict(&scenario, seed, &outcome, checks, &history, wall);
    if let Some(m) = &opts.mutant {
        verdict.reproduce.push_str(&format!(" --mutant {m}"));
        verdict.mutant = Some(m.clone());
    }
    if opts.real.is_some() {
        verdict.reproduce.push_str(" --real");
        verdict.real = true;
    }
    if let Some(dir) = &dir {
        let write = |name: &str, bytes: &[u8]| {
            if let Err(e) = std::fs::write(dir.join(name), bytes) {
                eprintln!("tumult: cannot write {}: {e}", dir.join(name).display());
            }
        };
        write(SCENARIO_FILE, scenario.source.as_bytes());
        write(HISTORY_FILE, &history);
        let json = serde_json::to_vec_pretty(&verdict).expect("verdict serializes");
        write(VERDICT_FILE, &json);
        write(LOG_FILE, &log.0.lock().expect("log buffer"));
    }
    RunResult {
        verdict,
        dir,
        history,
    }
}

fn make_verdict(
    scenario: &Scenario,
    seed: u64,
    outcome: &SimOutcome,
    checks: BTreeMap<CheckName, CheckResult>,
    history: &[u8],
    wall: f64,
) -> RunVerdict {
    let listed = scenario.expect.checks.clone();
    let mut counted = listed.clone();
    counted.push(CheckName::Assertion);
    let any = |r: Outcome| {
        counted
            .iter()
            .any(|c| checks.get(c).is_some_and(|x| x.result == r))
    };
    let verdict = if any(Outcome::Fail) {
        Outcome::Fail
    } else if any(Outcome::Unknown) {
        Outcome::Unknown
    } else {
        Outcome::Pass
    };
    let expected = scenario.expect.verdict;
    // An expected failure must be caught by one of the listed checks (not only by an assertion).
    let met = match expected {
        Expected::Pass => verdict == Outcome::Pass,
        Expected::Fail => listed
            .iter()
            .any(|c| checks.get(c).is_some_and(CheckResult::failed)),
    };
    let mut phases: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut overall = Counts::default();
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut latencies: Vec<f64> = Vec::new();
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
                    if t == OpType::Ok {
                        latencies.push(op.time.saturating_sub(at) as f64 / 1e6);
                    }
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
        verdict,
        expected,
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
        real: false,
        latency_ms: {
            latencies.sort_by(f64::total_cmp);
            Latency::of_sorted(&latencies)
        },
    }
}

/// What a run directory records: its scenario (parsed under its original
/// file name, so it keeps its name), its seed, its mutant and `verdict.json`.
pub struct RecordedRun {
    pub scenario: Scenario,
    pub run: RunDir,
}

impl RecordedRun {
    /// The recorded verdict.
    pub fn verdict(&self) -> &RunVerdict {
        &self.run.verdict
    }
}

/// Reads a run directory and parses its `scenario.toml`.
pub fn read_run_dir(dir: &Path) -> Result<RecordedRun, String> {
    let run = RunDir::load(dir).map_err(|e| e.to_string())?;
    let file = if run.verdict.file.is_empty() {
        SCENARIO_FILE
    } else {
        &run.verdict.file
    };
    let source = run.scenario_text().map_err(|e| e.to_string())?;
    let scenario = crate::scenario::parse_str(file, &source).map_err(|e| e.to_string())?;
    Ok(RecordedRun { scenario, run })
}

/// Re-runs the scenario and seed recorded in `dir` and compares digests.
/// Returns (recorded digest, new digest, the new run).
pub fn replay(dir: &Path) -> Result<(String, String, RunResult), String> {
    let recorded = read_run_dir(dir)?;
    if recorded.verdict().real {
        return Err(format!(
            "{}: a real run (processes on this machine, wall-clock timing) cannot be replayed byte for byte; run it again with `{}`",
            dir.display(),
            recorded.verdict().reproduce
        ));
    }
    let history = recorded.run.history_bytes().map_err(|e| e.to_string())?;
    let opts = RunOptions {
        mutant: recorded.verdict().mutant.clone(),
        ..RunOptions::in_memory()
    };
    crate::mutants::validate(opts.mutant.as_deref())?;
    let result = run_seed(&recorded.scenario, recorded.verdict().seed, &opts);
    Ok((sha256_hex(&history), sha256_hex(&result.history), result))
}
