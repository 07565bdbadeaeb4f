//! `tumult explore`: swarm-random scenarios run with the engine's fault
//! sites on, guided by coverage (see [`draw`] and [`coverage`]).
//!
//! Runs go in generations of [`GENERATION`] runs: every scenario of a generation is
//! drawn from the state at its start (the explore seed, the run's index, the
//! parents so far), the generation runs in parallel, and its results are
//! folded in run order. So the same explore seed and binary draw the same
//! scenarios, whatever `--jobs` and the thread timing; `--time` only decides
//! how many generations run.
//!
//! A run whose history reaches coverage features no earlier run reached
//! becomes a *parent* (written to `DIR/parents/`); with feedback, half of
//! the later runs perturb a parent (its scenario with a new simulation seed,
//! and sometimes one table redrawn) instead of drawing afresh. The first run
//! that fails a check is shrunk and written to `DIR/found/NAME.toml`, and
//! exploring stops.

pub mod coverage;
pub mod draw;
pub mod merge;

use crate::run::{run_seed, CheckName, Outcome, RunOptions};
use crate::scenario::{parse_str, Partition, Scenario, SplitMix64};
use crate::shrink::{shrink, ShrinkOptions};
use coverage::Features;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tumult_engine::buggify::Site;
use tumult_models::artifact::ExploreSummary;
use tumult_models::history::read_history;
use tumult_reports::suite::{groups_html, Group, RunSummary};

/// Runs per generation (drawn together, folded in order).
pub const GENERATION: u64 = 8;

/// When exploring stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// After this many runs (of this machine's partition).
    Runs(u64),
    /// After this much wall time (the generation under way finishes).
    Time(Duration),
}

/// How to explore.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    pub budget: Budget,
    pub jobs: usize,
    /// The explore seed: run `i` draws from `(seed, i)`.
    pub seed: u64,
    /// Where parents, findings and the summary go (nothing is written without it).
    pub out: Option<PathBuf>,
    /// Start from the parents an earlier explore saved in this directory.
    pub from: Option<PathBuf>,
    /// Perturb parents (true) or draw every run afresh (`--no-feedback`).
    pub feedback: bool,
    /// Run only the run indexes of this slice (`--partition K/N`).
    pub partition: Partition,
    /// The deliberate engine bug to run with (`tumult mutants --explore`).
    pub mutant: Option<String>,
    /// Shrink a finding before writing it.
    pub shrink: bool,
    /// Print a line per generation.
    pub progress: bool,
}

impl ExploreOptions {
    /// `runs` runs from seed `seed`, on one thread, writing nothing.
    pub fn runs(runs: u64, seed: u64) -> ExploreOptions {
        ExploreOptions {
            budget: Budget::Runs(runs),
            jobs: 1,
            seed,
            out: None,
            from: None,
            feedback: true,
            partition: Partition::WHOLE,
            mutant: None,
            shrink: true,
            progress: false,
        }
    }
}

/// A failing run.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The failing scenario (shrunk, if shrinking found a smaller one).
    pub scenario: Scenario,
    /// The seed it fails with.
    pub seed: u64,
    /// The check that caught it.
    pub check: CheckName,
    /// The one-line summary of the original failing run.
    pub summary: String,
    /// Where it was written, if anywhere.
    pub file: Option<PathBuf>,
    /// Runs made before it, and wall seconds since the start.
    pub after_runs: u64,
    pub after_seconds: f64,
}

/// What an explore did.
#[derive(Clone, Debug, Default)]
pub struct ExploreReport {
    pub runs: u64,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    /// Distinct coverage features reached.
    pub features: usize,
    /// (runs so far, features so far) after each generation.
    pub growth: Vec<(u64, usize)>,
    pub parents: usize,
    /// Runs whose checker gave up (`unknown`): not findings.
    pub unknown: u64,
    pub finding: Option<Finding>,
}

impl ExploreReport {
    pub fn runs_per_hour(&self) -> f64 {
        self.runs as f64 * 3600.0 / self.wall_seconds.max(1e-9)
    }

    /// One line for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "explore: {} runs, {:.0} simulated s in {:.1} wall s ({:.0} runs/hour), {} coverage features, {} parents, {} unknown, {}",
            self.runs,
            self.sim_seconds,
            self.wall_seconds,
            self.runs_per_hour(),
            self.features,
            self.parents,
            self.unknown,
            match &self.finding {
                None => "nothing found".to_string(),
                Some(f) => format!(
                    "FOUND after {} runs ({:.1} s): {} fails {} with seed {}",
                    f.after_runs, f.after_seconds, f.scenario.name, f.check, f.seed
                ),
            }
        )
    }
}

fn mix(a: u64, b: u64) -> u64 {
    SplitMix64::new(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// A parent: a scenario that reached new coverage.
#[derive(Clone, Debug)]
struct Parent {
    source: String,
}

/// What explore's index groups a run under: the draw's focus, or a
/// perturbed parent.
const PERTURBED: &str = "perturbed parent";

/// The scenario of run `i`: a fresh draw, or (with feedback) a perturbed
/// parent; and its group in the index.
fn scenario_for(
    opts: &ExploreOptions,
    i: u64,
    parents: &[Parent],
) -> (Scenario, u64, &'static str) {
    let s = mix(opts.seed, i);
    let name = format!("explore-{}-{i}", opts.seed);
    let mut r = SplitMix64::new(s);
    if opts.feedback && !parents.is_empty() && r.below(2) == 0 {
        let p = &parents[r.below(parents.len() as u64) as usize];
        if let Some((scenario, seed)) = perturb(&p.source, &name, s, &mut r) {
            return (scenario, seed, PERTURBED);
        }
    }
    let d = draw::draw(&name, s);
    let scenario = parse_str(&format!("{name}.toml"), &d.source)
        .unwrap_or_else(|e| panic!("a drawn scenario does not parse: {e}\n{}", d.source));
    (scenario, d.seed, d.focus)
}

/// Met runs listed under each group of explore's index (every unmet one is).
const LISTED_PER_GROUP: usize = 50;

/// A parent with a new name and simulation seed, and one mutation in a
/// third of the cases each: one fault site switched on, off or retuned; one
/// table (network, faults, engine, the nemesis or expect) redrawn; or one
/// freshly drawn nemesis step added to the parent's.
fn perturb(source: &str, name: &str, s: u64, r: &mut SplitMix64) -> Option<(Scenario, u64)> {
    let mut doc: toml_edit::DocumentMut = source.parse().ok()?;
    let seed = s & i64::MAX as u64;
    doc["name"] = toml_edit::value(name);
    doc["run"]["seeds"] = toml_edit::value(seed as i64);
    let renamed = doc.clone();
    match r.below(4) {
        0 => {}
        1 => {
            let site = Site::ALL[r.below(Site::ALL.len() as u64) as usize].name();
            if !doc.contains_key("faults") {
                doc["faults"] = toml_edit::table();
            }
            let faults = doc["faults"].as_table_mut()?;
            if faults.contains_key(site) && r.below(2) == 0 {
                faults.remove(site);
            } else {
                faults[site] = toml_edit::value([0.05, 0.25, 1.0][r.below(3) as usize]);
            }
        }
        2 => {
            let fresh: toml_edit::DocumentMut = draw::draw(name, mix(s, 1)).source.parse().ok()?;
            let key = ["network", "faults", "engine", "nemesis", "expect"][r.below(5) as usize];
            match fresh.get(key) {
                Some(item) => doc[key] = item.clone(),
                None => {
                    doc.remove(key);
                }
            }
        }
        _ => {
            let fresh: toml_edit::DocumentMut = draw::draw(name, mix(s, 2)).source.parse().ok()?;
            let step = fresh["nemesis"].as_array_of_tables()?.get(0)?.clone();
            doc["nemesis"].as_array_of_tables_mut()?.push(step);
        }
    }
    draw::fit_slow(&mut doc);
    let parse = |doc: &toml_edit::DocumentMut| parse_str(&format!("{name}.toml"), &doc.to_string());
    // A redrawn nemesis may not fit the parent's cluster: then keep the parent's.
    let scenario = parse(&doc).or_else(|_| parse(&renamed)).ok()?;
    Some((scenario, seed))
}

/// One finished run, as the loop folds it in.
struct Done {
    scenario: Scenario,
    seed: u64,
    features: Features,
    sim_seconds: f64,
    outcome: Outcome,
    met: bool,
    caught_by: Option<CheckName>,
    summary: String,
    /// Its group in the index and its row there.
    group: &'static str,
    row: RunSummary,
}

fn run_one(scenario: Scenario, seed: u64, group: &'static str, run: &RunOptions) -> Done {
    let r = run_seed(&scenario, seed, run);
    let features = read_history(&r.history[..])
        .map(|h| coverage::features(&h.entries().cloned().collect::<Vec<_>>()))
        .unwrap_or_default();
    Done {
        features,
        sim_seconds: r.verdict.sim_seconds,
        outcome: r.verdict.verdict,
        met: r.verdict.met,
        caught_by: r.verdict.caught_by(),
        summary: r.verdict.summary_line(),
        group,
        // Only what a row shows: no check details.
        row: RunSummary::from_row(&RunSummary::from_verdict(&r.verdict, None).row()),
        scenario,
        seed,
    }
}

/// Explores until the budget is spent or something fails.
pub fn explore(opts: &ExploreOptions) -> Result<ExploreReport, String> {
    let started = Instant::now();
    // Shorter checker bounds than a suite run: a run the checker cannot
    // decide quickly ends `unknown` (counted, not a finding) and exploring
    // goes on.
    let run = RunOptions {
        mutant: opts.mutant.clone(),
        check_timeout: Duration::from_secs(20),
        check_memory: 1 << 30,
        ..RunOptions::in_memory()
    };
    let mut parents: Vec<Parent> = Vec::new();
    let mut covered = Features::new();
    if let Some(from) = &opts.from {
        parents = load_parents(from)?;
        covered = read_coverage(from)?;
    }
    if let Some(out) = &opts.out {
        for d in ["parents", "found", "unknown"] {
            std::fs::create_dir_all(out.join(d))
                .map_err(|e| format!("{}: cannot create: {e}", out.join(d).display()))?;
        }
    }
    let mut report = ExploreReport::default();
    // The index's rows: runs by focus, figures over all, a few listed.
    let mut groups: Vec<Group> = Vec::new();
    let per_generation = GENERATION;
    let mut next_index = 0u64;
    loop {
        let spent = match opts.budget {
            Budget::Runs(n) => report.runs >= n,
            Budget::Time(t) => started.elapsed() >= t,
        };
        if spent {
            break;
        }
        let want = match opts.budget {
            Budget::Runs(n) => (n - report.runs).min(per_generation),
            Budget::Time(_) => per_generation,
        };
        // This machine's run indexes: i with i mod N == K - 1.
        let mut batch = Vec::new();
        while (batch.len() as u64) < want {
            let i = next_index;
            next_index += 1;
            if i % opts.partition.count as u64 == (opts.partition.index - 1) as u64 {
                batch.push(scenario_for(opts, i, &parents));
            }
        }
        let done = run_batch(batch, &run, opts.jobs);
        for d in done {
            report.runs += 1;
            report.sim_seconds += d.sim_seconds;
            let g = match groups.iter().position(|g| g.name == d.group) {
                Some(k) => k,
                None => {
                    groups.push(Group::new(d.group));
                    groups.len() - 1
                }
            };
            let keep = !d.met || groups[g].shown.len() < LISTED_PER_GROUP;
            groups[g].add(d.row.clone(), keep);
            let before = covered.len();
            covered.extend(d.features.iter().copied());
            if covered.len() > before {
                save_parent(opts, &d.scenario)?;
                parents.push(Parent {
                    source: d.scenario.source.clone(),
                });
            }
            if d.outcome == Outcome::Unknown {
                // Not a finding, but kept to look at (`tumult run` it).
                save_scenario(opts, "unknown", &d.scenario)?;
                report.unknown += 1;
                continue;
            }
            if !d.met && report.finding.is_none() {
                report.finding = Some(found(opts, &run, d, report.runs, started)?);
            }
        }
        report.features = covered.len();
        report.parents = parents.len();
        report.growth.push((report.runs, covered.len()));
        report.wall_seconds = started.elapsed().as_secs_f64();
        if opts.progress {
            eprintln!("{}", report.summary());
        }
        if report.finding.is_some() {
            break;
        }
    }
    report.wall_seconds = started.elapsed().as_secs_f64();
    if let Some(out) = &opts.out {
        let summary = ExploreSummary {
            seeds: vec![opts.seed],
            partitions: vec![opts.partition.to_string()],
            runs: report.runs,
            sim_seconds: report.sim_seconds,
            wall_seconds: report.wall_seconds,
            features: report.features,
            parents: report.parents,
            unknown: report.unknown,
            found: report
                .finding
                .iter()
                .filter_map(|f| f.file.as_ref()?.file_name()?.to_str().map(str::to_string))
                .collect(),
            growth: report.growth.clone(),
            merged_from: Vec::new(),
        };
        write_summary(out, &summary, &covered)?;
        write_index(out, &report, &groups)?;
    }
    Ok(report)
}

fn run_batch(
    batch: Vec<(Scenario, u64, &'static str)>,
    run: &RunOptions,
    jobs: usize,
) -> Vec<Done> {
    let n = batch.len();
    let slots: Vec<std::sync::Mutex<Option<Done>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    let work = std::sync::Mutex::new(batch.into_iter().enumerate().collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let next = work.lock().expect("work").pop();
                let Some((i, (s, seed, group))) = next else {
                    return;
                };
                let d = run_one(s, seed, group, run);
                *slots[i].lock().expect("slot") = Some(d);
            });
        }
    });
    slots
        .into_iter()
        .map(|s| s.into_inner().expect("slot").expect("every run finished"))
        .collect()
}

fn found(
    opts: &ExploreOptions,
    run: &RunOptions,
    d: Done,
    after_runs: u64,
    started: Instant,
) -> Result<Finding, String> {
    let after_seconds = started.elapsed().as_secs_f64();
    let check = d.caught_by.unwrap_or(CheckName::Assertion);
    let (mut scenario, mut seed) = (d.scenario, d.seed);
    if opts.shrink {
        let mut so = ShrinkOptions::new(run.clone());
        so.max_runs = 60;
        if let Ok(s) = shrink(&scenario, seed, check, &so) {
            scenario = s.scenario;
            seed = s.seed;
        }
    }
    let mut file = None;
    if let Some(out) = &opts.out {
        let path = out.join("found").join(format!("{}.toml", scenario.name));
        let text = format!(
            "# Found by tumult explore (seed {}): fails `{check}` with seed {seed}{}.\n# Reproduce: tumult run {}{}\n{}",
            opts.seed,
            opts.mutant
                .as_ref()
                .map(|m| format!(" under mutant {m}"))
                .unwrap_or_default(),
            path.display(),
            opts.mutant
                .as_ref()
                .map(|m| format!(" --mutant {m}"))
                .unwrap_or_default(),
            scenario.source
        );
        std::fs::write(&path, text)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        file = Some(path);
    }
    Ok(Finding {
        scenario,
        seed,
        check,
        summary: d.summary,
        file,
        after_runs,
        after_seconds,
    })
}

/// `DIR/coverage.json`: the features reached, sorted (what `--from` and
/// `--merge` read back).
const COVERAGE_FILE: &str = "coverage.json";
const SUMMARY_FILE: &str = "explore.json";

/// Writes `DIR/explore.json` and `DIR/coverage.json`.
fn write_summary(out: &Path, summary: &ExploreSummary, covered: &Features) -> Result<(), String> {
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
    };
    let json = serde_json::to_string_pretty(summary).expect("the summary serializes");
    write(SUMMARY_FILE, json + "\n")?;
    let features: Vec<u64> = covered.iter().copied().collect();
    write(
        COVERAGE_FILE,
        serde_json::to_string(&features).expect("features serialize") + "\n",
    )
}

/// The features an earlier explore saved in `dir`.
/// `DIR/index.html`: the runs by focus, rendered as a suite's scenarios are.
fn write_index(out: &Path, report: &ExploreReport, groups: &[Group]) -> Result<(), String> {
    let page = out.join("index.html");
    let met = groups.iter().map(|g| g.met).sum();
    let total = groups.iter().map(|g| g.runs).sum();
    let intro = format!(
        "{}. Runs are grouped by what their draw focused on; a perturbed parent is a parent's scenario with one change. {}",
        tumult_reports::html::esc(&report.summary()),
        match &report.finding {
            Some(f) => format!(
                "The finding is in <code>found/{}.toml</code>.",
                tumult_reports::html::esc(&f.scenario.name)
            ),
            None => String::new(),
        }
    );
    let html = groups_html("tumult explore", "focus", met, total, &intro, groups, &page);
    std::fs::write(&page, html).map_err(|e| format!("{}: cannot write: {e}", page.display()))
}

fn read_coverage(dir: &Path) -> Result<Features, String> {
    let path = dir.join(COVERAGE_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let features: Vec<u64> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}: not a list of coverage features: {e}",
            path.display(),
            e.line()
        )
    })?;
    Ok(features.into_iter().collect())
}

fn save_parent(opts: &ExploreOptions, s: &Scenario) -> Result<(), String> {
    save_scenario(opts, "parents", s)
}

/// Writes `s` to `DIR/FOLDER/NAME.toml` when explore has an `--out`.
fn save_scenario(opts: &ExploreOptions, folder: &str, s: &Scenario) -> Result<(), String> {
    let Some(out) = &opts.out else { return Ok(()) };
    let path = out.join(folder).join(format!("{}.toml", s.name));
    std::fs::write(&path, &s.source).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

fn load_parents(dir: &Path) -> Result<Vec<Parent>, String> {
    crate::scenario::files_in(&dir.join("parents"))?
        .into_iter()
        .map(|p| {
            let source = std::fs::read_to_string(&p)
                .map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
            parse_str(&p.display().to_string(), &source).map_err(|e| e.to_string())?;
            Ok(Parent { source })
        })
        .collect()
}
