//! Shrinking a failing run to a minimal reproduction (`tumult shrink`).
//!
//! Starting from a scenario and a seed whose run fails a check, the shrinker
//! tries smaller scenarios, greedily: fewer nemesis steps, fewer nodes
//! (voters kept valid), shards, clients and keys, a shorter duration and a
//! lower rate. A candidate is kept when its run, in memory, still fails the
//! same check with the same seed (or, failing that, another seed of the
//! scenario's seed list). The edits are made on the TOML text itself
//! (`toml_edit`), so the result keeps the file's comments and layout and can
//! be committed as a regression scenario.
//!
//! ```no_run
//! use tumult_harness::run::{CheckName, RunOptions};
//! use tumult_harness::scenario::parse_file;
//! use tumult_harness::shrink::{shrink, ShrinkOptions};
//!
//! let s = parse_file("scenarios/stale-local-reads.toml").unwrap();
//! let shrunk = shrink(&s, 1, CheckName::Linearizable, &ShrinkOptions::new(RunOptions::in_memory())).unwrap();
//! assert!(shrunk.scenario.workload.clients <= s.workload.clients);
//! println!("{}", shrunk.source);
//! ```

use crate::run::{run_seed, CheckName, RunOptions, RunResult};
use crate::scenario::{format_duration, parse_str, Scenario, StepKind};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml_edit::{value, Array, DocumentMut, Item};
use tumult_models::artifact::VERDICT_FILE;

/// How to shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// How each candidate runs (`mutant` included); `out` is ignored.
    pub run: RunOptions,
    /// Other seeds to try when a candidate passes with the current seed.
    pub other_seeds: Vec<u64>,
    /// At most this many other seeds per candidate.
    pub seeds_per_candidate: usize,
    /// Stop after this many candidate runs.
    pub max_runs: usize,
    /// Print each accepted step to stderr.
    pub verbose: bool,
}

impl ShrinkOptions {
    /// Defaults: no other seeds, at most 150 runs, quiet.
    pub fn new(run: RunOptions) -> ShrinkOptions {
        ShrinkOptions {
            run: RunOptions { out: None, ..run },
            other_seeds: Vec::new(),
            seeds_per_candidate: 2,
            max_runs: 150,
            verbose: false,
        }
    }
}

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The shrunk scenario file's text.
    pub source: String,
    /// It, parsed.
    pub scenario: Scenario,
    /// The seed with which it fails.
    pub seed: u64,
    /// The check it fails.
    pub check: CheckName,
    /// What each accepted step did, in order.
    pub steps: Vec<String>,
    /// Candidate runs made.
    pub runs: usize,
}

/// Whether `r` failed `check`.
pub fn fails(r: &RunResult, check: CheckName) -> bool {
    r.verdict.checks.get(&check).is_some_and(|c| c.failed())
}

/// A measure of size: smaller is simpler (compared as a tuple).
pub fn size(s: &Scenario) -> (usize, u32, u32, u32, u32, Duration, u64) {
    (
        s.nemesis.len(),
        s.cluster.nodes,
        s.cluster.shards,
        s.workload.clients,
        s.workload.keys,
        s.workload.duration,
        s.workload.rate as u64,
    )
}

/// Whether `a` is strictly smaller than `b` in at least one dimension and
/// larger in none.
pub fn smaller(a: &Scenario, b: &Scenario) -> bool {
    let (x, y) = (size(a), size(b));
    let le = x.0 <= y.0
        && x.1 <= y.1
        && x.2 <= y.2
        && x.3 <= y.3
        && x.4 <= y.4
        && x.5 <= y.5
        && x.6 <= y.6;
    le && x != y
}

struct Shrinker<'a> {
    file: String,
    check: CheckName,
    opts: &'a ShrinkOptions,
    runs: usize,
}

impl Shrinker<'_> {
    /// Runs `candidate`; Some(seed) if it still fails the check.
    fn still_fails(&mut self, candidate: &Scenario, seed: u64) -> Option<u64> {
        let seeds = std::iter::once(seed).chain(
            self.opts
                .other_seeds
                .iter()
                .copied()
                .filter(|s| *s != seed)
                .take(self.opts.seeds_per_candidate),
        );
        for s in seeds {
            if self.runs >= self.opts.max_runs {
                return None;
            }
            self.runs += 1;
            let r = run_seed(candidate, s, &self.opts.run);
            if fails(&r, self.check) {
                return Some(s);
            }
        }
        None
    }

    fn parse(&self, doc: &DocumentMut) -> Option<Scenario> {
        parse_str(&self.file, &doc.to_string()).ok()
    }
}

fn set_int(doc: &mut DocumentMut, table: &str, key: &str, v: i64) {
    doc[table][key] = value(v);
}

/// Candidate edits of `doc` (whose parse is `s`), most promising first.
fn candidates(doc: &DocumentMut, s: &Scenario) -> Vec<(String, DocumentMut)> {
    let mut out = Vec::new();
    // Fewer nemesis steps: all of them, then each one (last first).
    let steps = doc
        .get("nemesis")
        .and_then(Item::as_array_of_tables)
        .map_or(0, |a| a.len());
    if steps > 1 {
        let mut d = doc.clone();
        d.remove("nemesis");
        out.push(("remove every nemesis step".to_string(), d));
    }
    for i in (0..steps).rev() {
        let mut d = doc.clone();
        let arr = d["nemesis"].as_array_of_tables_mut().expect("checked");
        arr.remove(i);
        if arr.is_empty() {
            d.remove("nemesis");
        }
        out.push((format!("remove nemesis step {}", i + 1), d));
    }
    // Fewer nodes (voters kept to the remaining nodes).
    let c = &s.cluster;
    for nodes in halvings(c.nodes, 1) {
        let mut d = doc.clone();
        set_int(&mut d, "cluster", "nodes", i64::from(nodes));
        if d["cluster"].get("voters").is_some() {
            let mut voters = Array::new();
            for v in c.voters.iter().filter(|v| **v <= nodes) {
                voters.push(format!("n{v}"));
            }
            d["cluster"]["voters"] = value(voters);
        }
        out.push((format!("nodes {} -> {nodes}", c.nodes), d));
    }
    for shards in halvings(c.shards, 1) {
        let mut d = doc.clone();
        set_int(&mut d, "cluster", "shards", i64::from(shards));
        out.push((format!("shards {} -> {shards}", c.shards), d));
    }
    let w = &s.workload;
    for clients in halvings(w.clients, 1) {
        let mut d = doc.clone();
        set_int(&mut d, "workload", "clients", i64::from(clients));
        out.push((format!("clients {} -> {clients}", w.clients), d));
    }
    for keys in halvings(w.keys, 1) {
        let mut d = doc.clone();
        set_int(&mut d, "workload", "keys", i64::from(keys));
        out.push((format!("keys {} -> {keys}", w.keys), d));
    }
    // Shorter, but not before the last nemesis step.
    let last_step = s
        .nemesis
        .iter()
        .map(|n| match &n.kind {
            StepKind::Fixed { at, .. } => *at,
            StepKind::Random { until, .. } => *until,
        })
        .max()
        .unwrap_or(Duration::ZERO);
    let floor = (last_step + Duration::from_millis(500)).max(Duration::from_secs(1));
    let mut tried: Vec<Duration> = Vec::new();
    for d in [floor, w.duration / 2, w.duration * 3 / 4] {
        let d = Duration::from_millis(d.as_millis() as u64 / 100 * 100).max(floor);
        if d < w.duration && !tried.contains(&d) {
            tried.push(d);
            let mut doc2 = doc.clone();
            doc2["workload"]["duration"] = value(format_duration(d));
            let what = format!(
                "duration {} -> {}",
                format_duration(w.duration),
                format_duration(d)
            );
            out.push((what, doc2));
        }
    }
    let rate = w.rate.round() as i64;
    for r in [rate / 2, rate * 3 / 4] {
        if r >= 10 && r < rate {
            let mut doc2 = doc.clone();
            doc2["workload"]["rate"] = value(r);
            out.push((format!("rate {rate} -> {r}"), doc2));
        }
    }
    out
}

/// `n` halved, then decremented: the smaller values worth trying, smallest first.
fn halvings(n: u32, min: u32) -> Vec<u32> {
    let mut v = Vec::new();
    let mut h = n / 2;
    while h >= min && h < n {
        if !v.contains(&h) {
            v.push(h);
        }
        h = (h + n).div_ceil(2);
        if h == n {
            break;
        }
    }
    if n > min && !v.contains(&(n - 1)) {
        v.push(n - 1);
    }
    v
}

/// Shrinks `scenario`, which fails `check` with `seed`, to a smaller one
/// that still fails it. Errors if the original run does not fail the check.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    check: CheckName,
    opts: &ShrinkOptions,
) -> Result<Shrunk, String> {
    let mut sh = Shrinker {
        file: scenario.file.clone(),
        check,
        opts,
        runs: 0,
    };
    let mut doc: DocumentMut = scenario
        .source
        .parse()
        .map_err(|e| format!("{}: {e}", scenario.file))?;
    // Pin the seed list to the seed that fails, and name the result.
    let mut current = scenario.clone();
    let mut seed = match sh.still_fails(&current, seed) {
        Some(s) => s,
        None => {
            return Err(format!(
                "{} seed {seed} does not fail the check `{check}`{}",
                scenario.name,
                opts.run
                    .mutant
                    .as_ref()
                    .map(|m| format!(" with mutant {m}"))
                    .unwrap_or_default()
            ))
        }
    };
    let mut steps = Vec::new();
    'outer: loop {
        for (what, cand) in candidates(&doc, &current) {
            let Some(parsed) = sh.parse(&cand) else {
                continue;
            };
            if !smaller(&parsed, &current) {
                continue;
            }
            if let Some(s) = sh.still_fails(&parsed, seed) {
                if opts.verbose {
                    eprintln!("tumult shrink: {what} (seed {s}): still fails {check}");
                }
                steps.push(if s == seed {
                    what
                } else {
                    format!("{what} (seed {s})")
                });
                seed = s;
                doc = cand;
                current = parsed;
                continue 'outer;
            }
            if sh.runs >= opts.max_runs {
                break 'outer;
            }
        }
        break;
    }
    let source = finish(
        &mut doc,
        &current,
        scenario,
        seed,
        check,
        opts.run.mutant.as_deref(),
    );
    let scenario_out = parse_str(&scenario.file, &source).map_err(|e| e.to_string())?;
    Ok(Shrunk {
        source,
        scenario: scenario_out,
        seed,
        check,
        steps,
        runs: sh.runs,
    })
}

/// Names the shrunk scenario, pins its seed and says where it came from.
fn finish(
    doc: &mut DocumentMut,
    current: &Scenario,
    original: &Scenario,
    seed: u64,
    check: CheckName,
    mutant: Option<&str>,
) -> String {
    let name = if original.name.ends_with("-shrunk") {
        original.name.clone()
    } else {
        format!("{}-shrunk", original.name)
    };
    doc["name"] = value(name);
    let how = match mutant {
        Some(m) => format!("with the engine mutant `{m}` (tumult run FILE --mutant {m})"),
        None => "as expected by [expect]".to_string(),
    };
    doc["description"] = value(format!(
        "Shrunk by `tumult shrink` from {} seed {seed}: fails the check `{check}` {how}. {}",
        original.file,
        current.description.trim()
    ));
    if doc.get("run").is_none() {
        doc["run"] = toml_edit::table();
    }
    doc["run"]["seeds"] = value(seed.to_string());
    let header = format!(
        "# Minimal reproduction written by `tumult shrink` (scenario {}, seed {seed}, check {check}{}).\n",
        original.name,
        mutant.map(|m| format!(", mutant {m}")).unwrap_or_default()
    );
    let body = doc.to_string();
    if body.starts_with("# Minimal reproduction") {
        body
    } else {
        header + &body
    }
}

/// What `verdict.json` of a run directory says about the run to shrink:
/// (scenario, seed, failed check, mutant).
pub fn load_run(dir: &Path) -> Result<(Scenario, u64, CheckName, Option<String>), String> {
    let recorded = crate::run::read_run_dir(dir)?;
    let v = recorded.verdict();
    let check = v.caught_by().ok_or_else(|| {
        format!(
            "{}: the run failed no check: nothing to shrink",
            recorded.run.path(VERDICT_FILE).display()
        )
    })?;
    let (seed, mutant) = (v.seed, v.mutant.clone());
    Ok((recorded.scenario, seed, check, mutant))
}

/// Shrinks the failing run in `dir` and writes the result to `out`
/// (default `dir/shrunk.toml`). Returns the path and the result.
pub fn shrink_run_dir(
    dir: &Path,
    out: Option<&Path>,
    mut opts: ShrinkOptions,
) -> Result<(PathBuf, Shrunk), String> {
    let (scenario, seed, check, mutant) = load_run(dir)?;
    crate::mutants::validate(mutant.as_deref())?;
    opts.run.mutant = mutant;
    if opts.other_seeds.is_empty() {
        opts.other_seeds = scenario.run.seeds.clone();
    }
    let shrunk = shrink(&scenario, seed, check, &opts)?;
    let path = out.map_or_else(|| dir.join("shrunk.toml"), Path::to_path_buf);
    std::fs::write(&path, &shrunk.source)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok((path, shrunk))
}
