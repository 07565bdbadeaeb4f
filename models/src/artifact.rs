//! The run artefacts everyone reads, typed once: `verdict.json` (a run's
//! verdict and each check's outcome with its evidence), a suite's
//! `summary.json`, and [`RunDir`], the one reader of a run directory
//! (`scenario.toml`, `history.jsonl`, `verdict.json`, `log.txt`).
//!
//! The harness writes these types; reports, shrink and the mutant catalogue
//! read them back through [`RunDir`]. Evidence (the key,
//! history lines and index, node and shard a violation is about) is data
//! here, never prose to be parsed back.
//!
//! ```
//! use tumult_models::artifact::{CheckName, CheckResult, Evidence, Outcome};
//!
//! let c = CheckResult::new(Outcome::Fail, "key k0 is not linearizable")
//!     .with_evidence(Evidence { key: Some("k0".into()), ..Evidence::default() });
//! let json = serde_json::to_string(&c).unwrap();
//! let back: CheckResult = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.evidence.key.as_deref(), Some("k0"));
//! assert_eq!(CheckName::from_name("model"), Some(CheckName::Model));
//! ```

use crate::history::{read_history_file, History};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What a check (or a whole run) came to.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not decided: the checker ran out of time or memory.
    #[default]
    Unknown,
    /// Does not apply to this run (e.g. the model check of a system that
    /// writes no protocol trace); never counted as passed or failed.
    Skipped,
}

impl Outcome {
    /// The name as written in `verdict.json`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
            Outcome::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a scenario expects of its runs (`[expect] verdict`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    #[default]
    Pass,
    Fail,
}

impl Expected {
    /// The name as written in a scenario file and in `verdict.json`.
    pub fn name(self) -> &'static str {
        match self {
            Expected::Pass => "pass",
            Expected::Fail => "fail",
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the checks a run goes through. `assertion` (panics and broken
/// engine assertions) always counts; the others are listed in `[expect] checks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckName {
    /// No panic or broken assertion inside the simulation, and the clients finished.
    Assertion,
    /// Linearizability of the client history, per key.
    Linearizable,
    /// Protocol conformance and invariants over the engine trace.
    Model,
    /// After the final heal every shard has a leader and every client completes an op.
    Recovery,
}

impl CheckName {
    /// Every check, in the order of `verdict.json`.
    pub const ALL: [CheckName; 4] = [
        CheckName::Assertion,
        CheckName::Linearizable,
        CheckName::Model,
        CheckName::Recovery,
    ];

    /// The name as written in a scenario file and in `verdict.json`.
    pub fn name(self) -> &'static str {
        match self {
            CheckName::Assertion => "assertion",
            CheckName::Linearizable => "linearizable",
            CheckName::Model => "model",
            CheckName::Recovery => "recovery",
        }
    }

    /// The check called `name`.
    pub fn from_name(name: &str) -> Option<CheckName> {
        CheckName::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lines `first..=last` of `history.jsonl` (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lines {
    pub first: usize,
    pub last: usize,
}

impl Lines {
    /// Whether `line` is one of them.
    pub fn contains(&self, line: usize) -> bool {
        (self.first..=self.last).contains(&line)
    }
}

/// What a failed check points at, as data: every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The key that is not linearizable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The history lines of the operations (or events) cited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<Lines>,
    /// The `index` (history position) of the event at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_index: Option<u64>,
    /// The node that emitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Its shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
}

impl Evidence {
    /// Whether it points at nothing.
    pub fn is_empty(&self) -> bool {
        *self == Evidence::default()
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub result: Outcome,
    /// What it found, for a human.
    #[serde(default)]
    pub detail: String,
    /// Figures: operations, keys, seconds, events and the like.
    #[serde(default)]
    pub figures: BTreeMap<String, Json>,
    /// What a failure points at.
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
}

impl CheckResult {
    /// A result with no figures and no evidence.
    pub fn new(result: Outcome, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            result,
            detail: detail.into(),
            figures: BTreeMap::new(),
            evidence: Evidence::default(),
        }
    }

    /// With one more figure.
    pub fn figure(mut self, name: &str, value: impl Into<Json>) -> CheckResult {
        self.figures.insert(name.to_string(), value.into());
        self
    }

    /// With its evidence.
    pub fn with_evidence(mut self, evidence: Evidence) -> CheckResult {
        self.evidence = evidence;
        self
    }

    /// Whether the check failed.
    pub fn failed(&self) -> bool {
        self.result == Outcome::Fail
    }

    /// The figure `name` as an unsigned integer.
    pub fn figure_u64(&self, name: &str) -> Option<u64> {
        self.figures.get(name).and_then(Json::as_u64)
    }
}

/// Counts of completed operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Counts {
    /// Every completed operation.
    pub fn all(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    /// ok / all (0 without operations).
    pub fn availability(&self) -> f64 {
        if self.all() == 0 {
            0.0
        } else {
            self.ok as f64 / self.all() as f64
        }
    }
}

/// The nearest-rank percentile `p` (0..=100) of values sorted ascending.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latency of a run's ok operations, in milliseconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

impl Latency {
    /// Of latencies in milliseconds sorted ascending; `None` without any.
    pub fn of_sorted(sorted: &[f64]) -> Option<Latency> {
        Some(Latency {
            p50: percentile(sorted, 50.0)?,
            p99: percentile(sorted, 99.0)?,
        })
    }
}

/// `verdict.json`: one run's verdict (SPEC.md §4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunVerdict {
    pub scenario: String,
    /// The scenario file, as given.
    #[serde(default)]
    pub file: String,
    pub seed: u64,
    pub verdict: Outcome,
    /// From `[expect] verdict`.
    pub expected: Expected,
    /// The checks whose failure counts (from `[expect] checks`, plus `assertion`).
    /// Files written before this field existed count every check.
    #[serde(default)]
    pub counted_checks: Vec<CheckName>,
    /// Whether the run met its expectation.
    pub met: bool,
    pub checks: BTreeMap<CheckName, CheckResult>,
    #[serde(default)]
    pub counts: Counts,
    /// ok / all, overall and per phase (`workload`, `recovery`, `final-reads`).
    #[serde(default)]
    pub availability: BTreeMap<String, f64>,
    #[serde(default)]
    pub sim_seconds: f64,
    #[serde(default)]
    pub wall_seconds: f64,
    /// Simulated seconds per wall second.
    #[serde(default)]
    pub speed: f64,
    /// Client operations per wall second.
    #[serde(default)]
    pub ops_per_wall_second: f64,
    /// Peak resident memory of the process so far, in KiB (Linux only, else 0).
    #[serde(default)]
    pub peak_rss_kib: u64,
    #[serde(default)]
    pub history_entries: usize,
    #[serde(default)]
    pub history_sha256: String,
    /// The command that reproduces the run.
    #[serde(default)]
    pub reproduce: String,
    /// The deliberate engine bug the run had (`tumult run --mutant`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// Latency of the ok operations (absent without any, and in files
    /// written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
    /// A real run (`tumult run --real`): processes on this machine, times
    /// in wall-clock nanoseconds; absent for the simulator.
    #[serde(default, skip_serializing_if = "is_false")]
    pub real: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl RunVerdict {
    /// The checks whose failure counts: `counted_checks`, or every check
    /// for a file that does not list them.
    pub fn counted(&self) -> Vec<CheckName> {
        if self.counted_checks.is_empty() {
            CheckName::ALL.to_vec()
        } else {
            self.counted_checks.clone()
        }
    }

    /// The check that explains a failed run: the first failed counted check,
    /// `assertion` first (a panic explains the rest), except that a run
    /// expected to fail must fail one of its listed checks.
    pub fn caught_by(&self) -> Option<CheckName> {
        let mut order = self.counted();
        order.sort_by_key(|c| (*c != CheckName::Assertion, *c));
        if self.expected == Expected::Fail {
            order.retain(|c| *c != CheckName::Assertion);
        }
        order
            .into_iter()
            .find(|c| self.checks.get(c).is_some_and(CheckResult::failed))
    }

    /// The failed checks with their details, in `verdict.json`'s order.
    pub fn failed_checks(&self) -> impl Iterator<Item = (CheckName, &CheckResult)> {
        self.checks
            .iter()
            .filter(|(_, c)| c.failed())
            .map(|(n, c)| (*n, c))
    }

    /// One line: scenario, seed, verdict, figures and what failed.
    pub fn summary_line(&self) -> String {
        let mark = if self.met { "ok" } else { "UNEXPECTED" };
        let mut s = format!(
            "{} seed {}: {} (expected {}) [{mark}] {:.1}s sim in {:.1}s wall",
            self.scenario,
            self.seed,
            self.verdict,
            self.expected,
            self.sim_seconds,
            self.wall_seconds,
        );
        // Rows read back from summary.json alone carry no throughput figures.
        if self.speed > 0.0 || self.ops_per_wall_second > 0.0 || self.peak_rss_kib > 0 {
            s.push_str(&format!(
                " ({:.1}x, {:.0} ops/s, {:.0} MiB peak)",
                self.speed,
                self.ops_per_wall_second,
                self.peak_rss_kib as f64 / 1024.0
            ));
        }
        let failed: Vec<String> = self
            .failed_checks()
            .map(|(n, c)| format!("{n}: {}", c.detail))
            .collect();
        if !failed.is_empty() {
            s.push_str(" — ");
            s.push_str(&failed.join("; "));
        }
        s
    }
}

/// Why an artefact could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

fn read_text(path: &Path) -> Result<String, ArtifactError> {
    std::fs::read_to_string(path).map_err(|source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ArtifactError> {
    serde_json::from_str(text).map_err(|e| ArtifactError::Invalid {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Reads a `verdict.json`.
fn read_verdict(path: &Path) -> Result<RunVerdict, ArtifactError> {
    parse_json(path, &read_text(path)?)
}

/// The file names of a run directory.
pub const VERDICT_FILE: &str = "verdict.json";
pub const HISTORY_FILE: &str = "history.jsonl";
pub const SCENARIO_FILE: &str = "scenario.toml";
pub const LOG_FILE: &str = "log.txt";

/// A run directory: `verdict.json` read and typed, the rest read on demand.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub dir: PathBuf,
    pub verdict: RunVerdict,
}

impl RunDir {
    /// Reads the run directory `dir`; its `verdict.json` must exist.
    pub fn load(dir: &Path) -> Result<RunDir, ArtifactError> {
        Ok(RunDir {
            dir: dir.to_path_buf(),
            verdict: read_verdict(&dir.join(VERDICT_FILE))?,
        })
    }

    /// The path of a file of the run directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// `scenario.toml`, the exact input of the run.
    pub fn scenario_text(&self) -> Result<String, ArtifactError> {
        read_text(&self.path(SCENARIO_FILE))
    }

    /// `history.jsonl`, parsed.
    pub fn history(&self) -> Result<History, String> {
        let path = self.path(HISTORY_FILE);
        if !path.exists() {
            return Err(format!("{}: missing", path.display()));
        }
        read_history_file(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `history.jsonl`, as bytes.
    pub fn history_bytes(&self) -> Result<Vec<u8>, ArtifactError> {
        let path = self.path(HISTORY_FILE);
        std::fs::read(&path).map_err(|source| ArtifactError::Io { path, source })
    }

    /// `log.txt`, if it is there.
    pub fn log(&self) -> Option<String> {
        std::fs::read_to_string(self.path(LOG_FILE)).ok()
    }
}

/// One run in a suite's `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub scenario: String,
    pub seed: u64,
    pub verdict: Outcome,
    pub expected: Expected,
    pub met: bool,
    #[serde(default)]
    pub sim_seconds: f64,
    #[serde(default)]
    pub wall_seconds: f64,
    #[serde(default)]
    pub history_sha256: String,
    /// The run directory, if one was written.
    #[serde(default)]
    pub dir: Option<String>,
    #[serde(default)]
    pub reproduce: String,
    #[serde(default)]
    pub failed_checks: Vec<CheckName>,
    /// Overall availability (ok / all), when the run had operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
}

/// A suite's `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteSummary {
    pub runs: Vec<SummaryRow>,
    pub total: usize,
    pub met: usize,
    /// Scenarios that were not run in this mode, with the reason (e.g. a
    /// disk fault in real mode, etcd in the simulator); never passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// A scenario a suite did not run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub scenario: String,
    pub reason: String,
}

/// Reads a `summary.json`.
pub fn read_summary(path: &Path) -> Result<SuiteSummary, ArtifactError> {
    parse_json(path, &read_text(path)?)
}

/// An explore directory's `explore.json` (written by `tumult explore`,
/// summed by `tumult explore --merge`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExploreSummary {
    /// The explore seeds, one per merged directory (or the one).
    pub seeds: Vec<u64>,
    /// The `--partition` of each (`K/N`).
    pub partitions: Vec<String>,
    pub runs: u64,
    pub sim_seconds: f64,
    /// Wall seconds, summed over the machines.
    pub wall_seconds: f64,
    /// Distinct coverage features (the union, when merged).
    pub features: usize,
    pub parents: usize,
    /// Runs whose checker gave up.
    pub unknown: u64,
    /// The files in `found/`.
    pub found: Vec<String>,
    /// (runs so far, features so far) after each generation; empty when merged.
    #[serde(default)]
    pub growth: Vec<(u64, usize)>,
    /// The directories merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// Reads an `explore.json`.
pub fn read_explore_summary(path: &Path) -> Result<ExploreSummary, ArtifactError> {
    parse_json(path, &read_text(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(expected: Expected, failed: &[CheckName]) -> RunVerdict {
        let checks = CheckName::ALL
            .into_iter()
            .map(|c| {
                let r = if failed.contains(&c) {
                    Outcome::Fail
                } else {
                    Outcome::Pass
                };
                (c, CheckResult::new(r, format!("{c} detail")))
            })
            .collect();
        RunVerdict {
            scenario: "s".into(),
            file: "s.toml".into(),
            seed: 3,
            verdict: if failed.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail
            },
            expected,
            counted_checks: vec![
                CheckName::Linearizable,
                CheckName::Recovery,
                CheckName::Assertion,
            ],
            met: failed.is_empty() == (expected == Expected::Pass),
            checks,
            counts: Counts::default(),
            availability: BTreeMap::new(),
            sim_seconds: 1.0,
            wall_seconds: 1.0,
            speed: 1.0,
            ops_per_wall_second: 0.0,
            peak_rss_kib: 0,
            history_entries: 0,
            history_sha256: String::new(),
            reproduce: String::new(),
            mutant: None,
            latency_ms: None,
            real: false,
        }
    }

    #[test]
    fn an_assertion_explains_the_rest_unless_the_run_was_expected_to_fail() {
        let v = verdict(Expected::Pass, &[CheckName::Recovery, CheckName::Assertion]);
        assert_eq!(v.caught_by(), Some(CheckName::Assertion));
        let v = verdict(Expected::Fail, &[CheckName::Recovery, CheckName::Assertion]);
        assert_eq!(v.caught_by(), Some(CheckName::Recovery));
        // model is not counted here.
        let v = verdict(Expected::Pass, &[CheckName::Model]);
        assert_eq!(v.caught_by(), None);
    }

    #[test]
    fn the_summary_line_prints_only_measured_figures() {
        let v = verdict(Expected::Pass, &[CheckName::Recovery]);
        let line = v.summary_line();
        assert!(
            line.starts_with(
                "s seed 3: fail (expected pass) [UNEXPECTED] 1.0s sim in 1.0s wall (1.0x"
            ),
            "{line}"
        );
        assert!(line.ends_with(" — recovery: recovery detail"), "{line}");
        // A row known only from summary.json has no throughput figures.
        let row = RunVerdict { speed: 0.0, ..v };
        assert!(
            !row.summary_line().contains("0.0x"),
            "{}",
            row.summary_line()
        );
    }

    #[test]
    fn a_verdict_round_trips_and_names_checks_as_spec_does() {
        let v = verdict(Expected::Pass, &[CheckName::Linearizable]);
        let text = serde_json::to_string_pretty(&v).unwrap();
        assert!(text.contains("\"linearizable\": {"), "{text}");
        assert!(text.contains("\"result\": \"fail\""), "{text}");
        let back: RunVerdict = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn a_verdict_without_the_newer_fields_still_loads() {
        let old = r#"{"scenario":"a","seed":1,"verdict":"pass","expected":"pass","met":true,
            "checks":{"model":{"result":"pass","detail":"ok","figures":{"index":4}}}}"#;
        let v: RunVerdict = serde_json::from_str(old).unwrap();
        assert_eq!(v.counted(), CheckName::ALL.to_vec());
        assert!(v.checks[&CheckName::Model].evidence.is_empty());
        assert_eq!(v.checks[&CheckName::Model].figure_u64("index"), Some(4));
    }

    #[test]
    fn a_broken_verdict_names_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("tumult-artifact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(VERDICT_FILE);
        std::fs::write(&path, "{\n\"scenario\": \"a\",\n\"seed\": \"x\"\n}").unwrap();
        let e = RunDir::load(&dir).unwrap_err().to_string();
        assert!(e.contains("verdict.json:3:"), "{e}");
        assert!(e.contains("seed") || e.contains("invalid type"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
