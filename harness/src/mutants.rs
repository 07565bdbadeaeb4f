//! The mutant catalogue: the engine's deliberate Raft bugs (feature
//! `mutants`, see `tumult_engine::mutants`) run against the suite, to prove
//! that the testbed catches each of them (`tumult mutants`).
//!
//! A run *catches* a mutant when its verdict differs from its scenario's
//! expectation: an expected-pass run fails a counted check (`assertion`
//! included: a broken engine assertion counts). For each mutant the runs go
//! cheapest first and stop at the first catch.
//!
//! Without the feature every function here still exists, but only "no
//! mutant" is valid.
//!
//! ```no_run
//! # #[cfg(feature = "mutants")] {
//! use tumult_harness::mutants::{hunt, order_runs};
//! use tumult_harness::run::RunOptions;
//! use tumult_harness::scenario::parse_file;
//!
//! let s = parse_file("scenarios/leader-isolation.toml").unwrap();
//! let runs = order_runs(s.run.seeds.iter().map(|&seed| (s.clone(), seed)).collect());
//! let finding = hunt("leader-ignores-higher-term", &runs, &RunOptions::in_memory());
//! assert!(finding.caught());
//! # }
//! ```

use crate::run::{run_seed, CheckName, CheckResult, Outcome, RunOptions, RunVerdict};
use crate::scenario::{Scenario, StepKind};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tumult_engine::mutants::Mutant;
use tumult_models::artifact::RunDir;

/// Whether this build has the mutants compiled in.
pub fn available() -> bool {
    tumult_engine::mutants::AVAILABLE
}

/// The names of every mutant of this build (none without the feature).
pub fn names() -> Vec<&'static str> {
    if !available() {
        return Vec::new();
    }
    Mutant::ALL.iter().map(|m| m.name()).collect()
}

/// The one-line description of a mutant.
pub fn description(name: &str) -> &'static str {
    Mutant::from_name(name).map_or("", |m| m.description())
}

/// Checks that `name` (if any) is a mutant of this build.
pub fn validate(name: Option<&str>) -> Result<(), String> {
    name.map_or(Ok(()), |n| Mutant::for_flag(n).map(drop))
}

/// A rough cost of one run of `s`, to run cheap scenarios first: simulated
/// seconds times the work per simulated second (nodes, shards, operations).
pub fn cost(s: &Scenario) -> f64 {
    let secs = s.workload.duration.as_secs_f64() + 2.0;
    let nodes = f64::from(s.cluster.nodes);
    let shards = f64::from(s.cluster.shards);
    let steps = s
        .nemesis
        .iter()
        .map(|n| match &n.kind {
            StepKind::Fixed { .. } => 1.0,
            StepKind::Random { .. } => 4.0,
        })
        .sum::<f64>();
    secs * (nodes * (1.0 + shards / 4.0) + s.workload.rate / 40.0) * (1.0 + steps / 20.0)
}

/// Orders runs cheapest first (stable: equal costs keep their order), and
/// the first seed of every scenario before the other seeds. Scenarios
/// expected to fail are left out: a mutant cannot be caught by them.
pub fn order_runs(runs: Vec<(Scenario, u64)>) -> Vec<(Scenario, u64)> {
    let mut runs: Vec<(Scenario, u64)> = runs
        .into_iter()
        .filter(|(s, _)| s.expect.verdict == crate::scenario::Expected::Pass)
        .collect();
    let mut rank: std::collections::BTreeMap<String, usize> = Default::default();
    let ranked: Vec<usize> = runs
        .iter()
        .map(|(s, _)| {
            let n = rank.entry(s.name.clone()).or_insert(0);
            *n += 1;
            *n - 1
        })
        .collect();
    let mut keyed: Vec<(usize, usize)> = ranked.into_iter().zip(0..).collect();
    keyed.sort_by(|a, b| {
        let ca = cost(&runs[a.1].0);
        let cb = cost(&runs[b.1].0);
        a.0.cmp(&b.0).then(ca.total_cmp(&cb)).then(a.1.cmp(&b.1))
    });
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    let mut slots: Vec<Option<(Scenario, u64)>> = runs.drain(..).map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("each once"))
        .collect()
}

/// How one mutant fared.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// The mutant's name.
    pub mutant: String,
    /// The bug it re-creates.
    pub description: String,
    /// The check that caught it (`linearizable`, `model`, `recovery`,
    /// `assertion`), or None if it escaped.
    pub check: Option<String>,
    /// The scenario and seed of the catching run.
    pub scenario: Option<String>,
    pub file: Option<String>,
    pub seed: Option<u64>,
    /// What the failed check said.
    pub detail: String,
    /// Runs until the catch (or all of them).
    pub runs: usize,
    /// Simulated seconds of those runs, together.
    pub sim_seconds: f64,
    /// Wall seconds of the hunt.
    pub wall_seconds: f64,
}

impl Finding {
    /// Whether a run caught the mutant.
    pub fn caught(&self) -> bool {
        self.check.is_some()
    }
}

/// The check that makes a run miss its expectation, if it does, with its
/// detail: the check [`RunVerdict::caught_by`] names, or `expectation` for
/// an expected failure that passed.
pub fn catching_check(v: &RunVerdict) -> Option<(String, String)> {
    if v.met {
        return None;
    }
    Some(match v.caught_by() {
        Some(c) => (c.name().to_string(), v.checks[&c].detail.clone()),
        None => (
            "expectation".to_string(),
            format!("verdict {} where {} was expected", v.verdict, v.expected),
        ),
    })
}

/// Runs one (scenario, seed) with `mutant` in a child `tumult run` (the
/// executable `exe`) writing under `out`, so that a run that aborts the
/// process (a panic while unwinding) cannot take the catalogue down with it.
/// An aborted run counts as failing `assertion`. Returns its verdict.
pub fn run_isolated(
    exe: &Path,
    out: &Path,
    scenario: &Scenario,
    seed: u64,
    mutant: Option<&str>,
) -> RunVerdict {
    let started = Instant::now();
    let output = std::process::Command::new(exe)
        .arg("run")
        .arg(&scenario.file)
        .args(["--seed", &seed.to_string(), "--jobs", "1", "--out"])
        .arg(out)
        .args(mutant.map(|m| ["--mutant", m]).into_iter().flatten())
        .stdin(std::process::Stdio::null())
        .output();
    if let Ok(run) = RunDir::load(&crate::run::run_dir(out, &scenario.name, seed)) {
        return run.verdict;
    }
    let (met, assertion) = match output {
        // Exit 2 is bad usage or bad input, not a broken engine: no catch.
        Ok(o) if o.status.code() == Some(2) => {
            let err = String::from_utf8_lossy(&o.stderr);
            (true, CheckResult::new(Outcome::Unknown, err.trim()))
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let tail: Vec<&str> = err.lines().rev().take(3).collect();
            let why = format!(
                "the run aborted ({}): {}",
                o.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
            (false, CheckResult::new(Outcome::Fail, why))
        }
        Err(e) => (
            false,
            CheckResult::new(Outcome::Fail, format!("cannot run {}: {e}", exe.display())),
        ),
    };
    RunVerdict {
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        seed,
        verdict: assertion.result,
        met,
        counted_checks: vec![CheckName::Assertion],
        checks: [(CheckName::Assertion, assertion)].into_iter().collect(),
        wall_seconds: started.elapsed().as_secs_f64(),
        mutant: mutant.map(str::to_string),
        ..RunVerdict::default()
    }
}

/// Runs `runs` in order with `mutant` until one catches it.
pub fn hunt(mutant: &str, runs: &[(Scenario, u64)], opts: &RunOptions) -> Finding {
    hunt_with(mutant, runs, opts, None, None, &|_| {})
}

/// One line about a finished run, for progress output.
fn line(v: &RunVerdict) -> String {
    format!(
        "[{}] {}",
        v.mutant.as_deref().unwrap_or("-"),
        v.summary_line()
    )
}

/// [`hunt`], giving up once `budget` of wall time is spent (the mutant then
/// counts as escaped), and showing each run to `seen`.
pub fn hunt_with(
    mutant: &str,
    runs: &[(Scenario, u64)],
    opts: &RunOptions,
    budget: Option<std::time::Duration>,
    isolate: Option<(&Path, &Path)>,
    seen: &(dyn Fn(&str) + Sync),
) -> Finding {
    let started = Instant::now();
    let opts = RunOptions {
        mutant: Some(mutant.to_string()),
        ..opts.clone()
    };
    let mut finding = Finding {
        mutant: mutant.to_string(),
        description: description(mutant).to_string(),
        check: None,
        scenario: None,
        file: None,
        seed: None,
        detail: String::new(),
        runs: 0,
        sim_seconds: 0.0,
        wall_seconds: 0.0,
    };
    for (scenario, seed) in runs {
        if budget.is_some_and(|b| started.elapsed() >= b) {
            finding.detail = format!(
                "wall-time budget of {:.0}s spent",
                budget.unwrap_or_default().as_secs_f64()
            );
            break;
        }
        let v = match isolate {
            Some((exe, out)) => run_isolated(exe, &out.join(mutant), scenario, *seed, Some(mutant)),
            None => run_seed(scenario, *seed, &opts).verdict,
        };
        seen(&line(&v));
        finding.runs += 1;
        finding.sim_seconds += v.sim_seconds;
        if let Some((check, detail)) = catching_check(&v) {
            if clean_fails(scenario, *seed, opts_clean(&opts), isolate) {
                // The engine without the mutant fails this run too: not a catch.
                continue;
            }
            finding.check = Some(check);
            finding.scenario = Some(scenario.name.clone());
            finding.file = Some(scenario.file.clone());
            finding.seed = Some(*seed);
            finding.detail = detail;
            break;
        }
    }
    finding.wall_seconds = started.elapsed().as_secs_f64();
    finding
}

fn opts_clean(opts: &RunOptions) -> RunOptions {
    RunOptions {
        mutant: None,
        ..opts.clone()
    }
}

/// Whether the run of (scenario, seed) misses its expectation without any
/// mutant (asked once per process): such a run cannot catch a mutant.
pub fn clean_fails(
    scenario: &Scenario,
    seed: u64,
    opts: RunOptions,
    isolate: Option<(&Path, &Path)>,
) -> bool {
    static CLEAN: std::sync::Mutex<std::collections::BTreeMap<(String, u64), bool>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let key = (scenario.name.clone(), seed);
    if let Some(&f) = CLEAN.lock().expect("clean cache").get(&key) {
        return f;
    }
    let v = match isolate {
        Some((exe, out)) => run_isolated(exe, &out.join("no-mutant"), scenario, seed, None),
        None => run_seed(scenario, seed, &opts).verdict,
    };
    let fails = catching_check(&v).is_some();
    if fails {
        eprintln!(
            "tumult mutants: {} seed {seed} fails without any mutant too; it catches nothing",
            scenario.name
        );
    }
    CLEAN.lock().expect("clean cache").insert(key, fails);
    fails
}

/// Hunts every mutant of `mutants` on `jobs` threads (one mutant per thread
/// at a time); `done` sees each finding as it completes. Findings in input order.
#[allow(clippy::too_many_arguments)] // each is one knob of `tumult mutants`
pub fn catalogue(
    mutants: &[String],
    runs: &[(Scenario, u64)],
    opts: &RunOptions,
    jobs: usize,
    budget: Option<std::time::Duration>,
    isolate: Option<(PathBuf, PathBuf)>,
    seen: &(dyn Fn(&str) + Sync),
    done: &(dyn Fn(&Finding) + Sync),
) -> Vec<Finding> {
    let isolate = isolate.as_ref().map(|(e, o)| (e.as_path(), o.as_path()));
    let queue =
        std::sync::Mutex::new((0..mutants.len()).collect::<std::collections::VecDeque<_>>());
    let found = std::sync::Mutex::new(vec![None; mutants.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(mutants.len().max(1)) {
            scope.spawn(|| loop {
                let Some(i) = queue.lock().expect("queue").pop_front() else {
                    return;
                };
                let f = hunt_with(&mutants[i], runs, opts, budget, isolate, seen);
                done(&f);
                found.lock().expect("findings")[i] = Some(f);
            });
        }
    });
    found
        .into_inner()
        .expect("findings")
        .into_iter()
        .map(|f| f.expect("every mutant hunted"))
        .collect()
}

/// The catalogue as a text table.
pub fn table(findings: &[Finding]) -> String {
    let mut rows = vec![[
        "mutant".to_string(),
        "caught".to_string(),
        "by".to_string(),
        "scenario/seed".to_string(),
        "runs".to_string(),
        "sim s".to_string(),
        "wall s".to_string(),
    ]];
    for f in findings {
        rows.push([
            f.mutant.clone(),
            if f.caught() { "yes" } else { "NO" }.to_string(),
            f.check.clone().unwrap_or_else(|| "-".into()),
            match (&f.scenario, f.seed) {
                (Some(s), Some(seed)) => format!("{s}/{seed}"),
                _ => "-".into(),
            },
            f.runs.to_string(),
            format!("{:.1}", f.sim_seconds),
            format!("{:.1}", f.wall_seconds),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}
