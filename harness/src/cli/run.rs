//! `tumult run`, `tumult suite` and `tumult replay`.

use super::Exit;
use crate::run::{replay, run_seed, RunOptions, RunResult};
use crate::scenario::{parse_file, parse_seeds, Partition, Scenario};
use crate::suite::Skipped;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Arguments of `tumult run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Run this one seed.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run these seeds: `N`, `A..=B`, `A..B` or `1,5,9` (default: each file's `[run] seeds`).
    #[arg(long)]
    pub seeds: Option<String>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Arguments of `tumult suite`.
#[derive(Debug, clap::Args)]
pub struct SuiteArgs {
    /// Directory of scenario files (`*.toml`, searched recursively).
    #[arg(default_value = "scenarios")]
    pub dir: PathBuf,
    /// Seeds for every scenario (default: each file's `[run] seeds`).
    #[arg(long)]
    pub seeds: Option<String>,
    /// Run only the K-th of N disjoint slices of the (scenario, seed) list.
    #[arg(long)]
    pub partition: Option<String>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// How `run` and `suite` execute their runs, and where results go.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Where run directories and the index of the runs go.
    #[arg(long, default_value = "target/tumult")]
    pub out: PathBuf,
    /// Seeds run in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Do not write each run's `report.html`.
    #[arg(long)]
    pub no_report: bool,
    /// Run with this deliberate engine bug (builds with the feature `mutants`; see `tumult mutants`).
    #[arg(long)]
    pub mutant: Option<String>,
    /// Memory each run's linearizability check may hold, like 512MiB or 4GiB;
    /// past it the check is `unknown` instead of exhausting the machine
    /// (runs in parallel: up to --jobs times this).
    #[arg(long, default_value = "4GiB", value_parser = tumult_models::lin::parse_size)]
    pub memory: u64,
    /// Run against real processes on this machine instead of the simulator
    /// (one `tumult node` process per node, a proxy per link; default --jobs 1).
    #[arg(long)]
    pub real: bool,
}

impl ExecArgs {
    /// Runs `runs`, writes their reports and the index (with `junit`), and
    /// says how it went.
    fn execute(
        self,
        runs: &[(Scenario, u64)],
        skipped: &[Skipped],
        label: &str,
        junit: Option<&Path>,
    ) -> Exit {
        if let Err(e) = crate::mutants::validate(self.mutant.as_deref()) {
            return bad(e);
        }
        let start = std::time::Instant::now();
        let real = if self.real {
            match std::env::current_exe() {
                Ok(p) => Some(p),
                Err(e) => return bad(format!("--real: cannot find the tumult executable: {e}")),
            }
        } else {
            None
        };
        // Real runs share the machine's cores with their node processes.
        let jobs = self
            .jobs
            .unwrap_or_else(|| if self.real { 1 } else { default_jobs() });
        let opts = RunOptions {
            mutant: self.mutant,
            check_memory: self.memory,
            real,
            ..RunOptions::writing_to(&self.out)
        };
        let results = execute(runs, &opts, jobs, label);
        let outcome = conclude(&results, start.elapsed().as_secs_f64());
        if !self.no_report {
            crate::suite::write_reports(&results, jobs);
        }
        if let Err(e) = crate::suite::write_index(&self.out, &results, skipped, junit) {
            eprintln!("tumult: {e}");
            return Exit::BadInput;
        }
        outcome
    }
}

/// Arguments of `tumult replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A run directory (`OUT/SCENARIO/seed-N`).
    pub run_dir: PathBuf,
}

pub(crate) fn bad(msg: impl std::fmt::Display) -> Exit {
    eprintln!("tumult: {msg}");
    Exit::BadInput
}

pub(crate) fn load(files: &[PathBuf], seeds: Option<&str>) -> Result<Vec<(Scenario, u64)>, String> {
    let override_seeds = match seeds {
        Some(s) => Some(parse_seeds(s).map_err(|e| format!("--seeds: {e}"))?),
        None => None,
    };
    let mut runs = Vec::new();
    let mut names = std::collections::BTreeMap::new();
    for f in files {
        let scenario = parse_file(f).map_err(|e| e.to_string())?;
        if let Some(other) = names.insert(scenario.name.clone(), f.clone()) {
            return Err(format!(
                "{}: scenario name \"{}\" is also used by {}; run directories would collide",
                f.display(),
                scenario.name,
                other.display()
            ));
        }
        let seeds = override_seeds
            .clone()
            .unwrap_or_else(|| scenario.run.seeds.clone());
        for seed in seeds {
            runs.push((scenario.clone(), seed));
        }
    }
    Ok(runs)
}

pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs every (scenario, seed) on `jobs` threads; results in input order.
/// The results keep verdicts, not histories (those are in the run
/// directories): a sweep of many seeds would otherwise hold every history in
/// memory at once.
pub fn execute(
    runs: &[(Scenario, u64)],
    opts: &RunOptions,
    jobs: usize,
    label: &str,
) -> Vec<RunResult> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(runs.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {elapsed} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..runs.len()).collect());
    let results: Mutex<Vec<Option<RunResult>>> =
        Mutex::new((0..runs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(runs.len().max(1)) {
            scope.spawn(|| loop {
                let Some(i) = queue.lock().expect("queue").pop_front() else {
                    return;
                };
                let (scenario, seed) = &runs[i];
                bar.set_message(format!("{} seed {seed}", scenario.name));
                let mut result = run_seed(scenario, *seed, opts);
                result.history = Vec::new();
                bar.println(result.summary());
                if bar.is_hidden() {
                    println!("{}", result.summary());
                }
                bar.inc(1);
                results.lock().expect("results")[i] = Some(result);
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every run finished"))
        .collect()
}

/// Prints the suite's figures and decides the exit code.
fn conclude(results: &[RunResult], wall: f64) -> Exit {
    let met = results.iter().filter(|r| r.met_expectation()).count();
    let unknown = results
        .iter()
        .filter(|r| r.verdict.verdict == crate::run::Outcome::Unknown)
        .count();
    let sim: f64 = results.iter().map(|r| r.verdict.sim_seconds).sum();
    let ops: u64 = results.iter().map(|r| r.verdict.counts.all()).sum();
    let peak = crate::run::peak_rss_kib();
    println!(
        "{met}/{} runs met their expectation; {:.0} simulated s in {:.1} wall s ({:.1}x real time), {:.0} client ops/wall s, peak memory {:.1} MiB",
        results.len(),
        sim,
        wall,
        sim / wall.max(1e-9),
        ops as f64 / wall.max(1e-9),
        peak as f64 / 1024.0
    );
    for r in results.iter().filter(|r| !r.met_expectation()) {
        println!("  UNEXPECTED {}", r.summary());
        println!("    reproduce: {}", r.verdict.reproduce);
    }
    if met == results.len() {
        Exit::Pass
    } else if results
        .iter()
        .filter(|r| !r.met_expectation())
        .all(|r| r.verdict.verdict == crate::run::Outcome::Unknown)
        && unknown > 0
    {
        Exit::Inconclusive
    } else {
        Exit::Fail
    }
}

/// `tumult run`.
pub fn run(args: RunArgs) -> Exit {
    let seeds = args.seed.map(|s| s.to_string()).or(args.seeds);
    let runs = match load(&args.files, seeds.as_deref()) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    if let Some(why) = runs
        .iter()
        .find_map(|(s, _)| crate::real::unfit(s, args.exec.real))
    {
        return bad(why);
    }
    args.exec.execute(&runs, &[], "run", None)
}

/// The runs that can run in this mode (real or simulated); each scenario
/// that cannot is listed as skipped with the reason, never run or passed.
pub(crate) fn skip_unfit(
    runs: Vec<(Scenario, u64)>,
    real: bool,
) -> (Vec<(Scenario, u64)>, Vec<Skipped>) {
    let mut skipped = std::collections::BTreeMap::new();
    let kept: Vec<(Scenario, u64)> = runs
        .into_iter()
        .filter(|(s, _)| match crate::real::unfit(s, real) {
            Some(why) => {
                skipped.insert(s.name.clone(), why);
                false
            }
            None => true,
        })
        .collect();
    let needs = if real {
        "needs the simulator"
    } else {
        "needs real mode"
    };
    for (name, why) in &skipped {
        println!("SKIPPED {name} ({needs}): {why}");
    }
    if !skipped.is_empty() {
        println!("{} scenarios skipped", skipped.len());
    }
    let skipped = skipped
        .into_iter()
        .map(|(scenario, why)| Skipped {
            scenario,
            reason: format!("{needs}: {why}"),
        })
        .collect();
    (kept, skipped)
}

/// `tumult suite`.
pub fn suite(args: SuiteArgs) -> Exit {
    let files = match crate::scenario::files_in(&args.dir) {
        Ok(f) if f.is_empty() => {
            return bad(format!("{}: no *.toml scenario files", args.dir.display()))
        }
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let runs = match load(&files, args.seeds.as_deref()) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let runs: Vec<(Scenario, u64)> = match &args.partition {
        Some(p) => match p.parse::<Partition>() {
            Ok(p) => p.select(&runs).into_iter().cloned().collect(),
            Err(e) => return bad(format!("--partition: {e}")),
        },
        None => runs,
    };
    let (runs, skipped) = skip_unfit(runs, args.exec.real);
    args.exec
        .execute(&runs, &skipped, "suite", args.junit.as_deref())
}

/// `tumult replay`.
pub fn replay_cmd(args: ReplayArgs) -> Exit {
    match replay(&args.run_dir) {
        Err(e) => bad(e),
        Ok((recorded, new, result)) => {
            println!("recorded history sha256 {recorded}");
            println!("replayed history sha256 {new}");
            if recorded == new {
                println!("identical: {}", result.summary());
                Exit::Pass
            } else {
                println!("DIFFERENT: the run is not deterministic");
                Exit::Fail
            }
        }
    }
}
