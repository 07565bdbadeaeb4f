//! Linearizability of client histories, checked per key by our own
//! Wing-Gong-Lowe search (`search.rs`), whose memory is bounded.
//!
//! A history is split by key (a key-value store is linearizable when every
//! key is), each key is checked against its sequential spec (see [`spec`]),
//! and the verdict is [`Verdict::Ok`], [`Verdict::Violation`] (naming the
//! key and a small set of its operations that cannot be linearized) or
//! [`Verdict::Unknown`] when the time ran out, or a key's search needed more
//! than [`CheckOptions::memory_budget`], first ([`Report::reason`] says
//! which): neither ever becomes a violation, and running out of memory
//! never aborts the process.
//!
//! List-append keys need no search: the reads fix the order of the appends,
//! so [`list_append`] decides each key in one pass (keys whose appended
//! values repeat still go to the generic search).
//!
//! How a tumult history is read (SPEC.md §3): each `invoke` is paired with
//! the next completion of the same process. `ok` happened between the two
//! lines; `info` (or no completion at all) may or may not have happened and
//! stays open until the end of the history; a cas `fail` with
//! `"error":"mismatch"` ran and found another value; every other `fail` is
//! dropped, as are reads that did not return. Time is the order of lines.
//!
//! ```
//! use tumult_models::history::read_history;
//! use tumult_models::lin::{check_history, CheckOptions, Verdict};
//!
//! let text = r#"{"index":0,"type":"invoke","process":0,"f":"write","key":"k","value":1,"time":0}
//! {"index":1,"type":"ok","process":0,"f":"write","key":"k","value":1,"time":1}
//! {"index":2,"type":"invoke","process":1,"f":"read","key":"k","value":null,"time":2}
//! {"index":3,"type":"ok","process":1,"f":"read","key":"k","value":null,"time":3}
//! "#;
//! let report = check_history(&read_history(text.as_bytes()).unwrap(), &CheckOptions::default()).unwrap();
//! let Verdict::Violation { key, ops, .. } = &report.verdict else { panic!() };
//! assert_eq!(key, "k");
//! assert_eq!(ops.len(), 2); // the write and the stale read
//! ```

pub mod corpus;
mod draw;
mod engine;
pub mod jepsen;
mod list_append;
mod prepare;
mod search;
pub mod spec;
mod witness;

use crate::history::{history_records, History, HistoryError};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Wall-clock limit for the whole check; when it runs out the verdict is
    /// [`Verdict::Unknown`] (unless a violation was already found).
    pub timeout: Duration,
    /// Time allowed for shrinking a violation (within `timeout`); `None`
    /// reports all operations of the violating key (list-append: the
    /// conflict found, unshrunk).
    pub shrink: Option<Duration>,
    /// Where to write the HTML visualization of a violation, if anywhere.
    pub html: Option<PathBuf>,
    /// Worker threads checking keys in parallel; 0 = one per core.
    pub threads: usize,
    /// Bytes the searches of the check may hold at once: their memo of
    /// explored configurations, stacks and lists (keys checked at the same
    /// time share it). A key whose search alone needs more ends
    /// [`KeyResult::OverBudget`]; shrinking and drawing a violation stay
    /// within it too.
    pub memory_budget: u64,
    /// The model and initial value of a Jepsen EDN history
    /// ([`Format::JepsenEdn`]; other formats name their model themselves).
    pub jepsen: jepsen::JepsenOptions,
}

/// The default [`CheckOptions::memory_budget`]: 4 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;

impl Default for CheckOptions {
    /// 300 s, 10 s of shrinking, no HTML, one thread per core, 4 GiB.
    fn default() -> CheckOptions {
        CheckOptions {
            timeout: Duration::from_secs(300),
            shrink: Some(Duration::from_secs(10)),
            html: None,
            threads: 0,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            jepsen: jepsen::JepsenOptions::default(),
        }
    }
}

/// Parses a size in bytes: a number with an optional unit, `B`, `KiB`,
/// `MiB`, `GiB`, `TiB` (powers of 1024) or `KB`, `MB`, `GB`, `TB` (powers
/// of 1000); `K`, `M`, `G`, `T` alone mean the binary units. Case does not
/// matter and fractions are allowed (`1.5GiB`).
///
/// ```
/// use tumult_models::lin::parse_size;
/// assert_eq!(parse_size("512MiB"), Ok(512 << 20));
/// assert_eq!(parse_size("4GiB"), Ok(4 << 30));
/// assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
/// assert_eq!(parse_size("1000"), Ok(1000));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        u => {
            return Err(format!(
                "{s:?}: unknown unit {u:?} (expected B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number with a unit, like 512MiB or 4GiB)"))?;
    let bytes = n * scale as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// A size in bytes as people read it: `512 MiB`, `4 GiB`, `1.5 GiB`, `900 B`.
///
/// ```
/// use tumult_models::lin::format_size;
/// assert_eq!(format_size(4 << 30), "4 GiB");
/// assert_eq!(format_size(3 << 19), "1.5 MiB");
/// assert_eq!(format_size(900), "900 B");
/// ```
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let shown = format!("{v:.1}");
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    format!("{shown} {}", UNITS[unit])
}

/// The overall verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every key is linearizable.
    Ok,
    /// This key is not.
    Violation {
        /// The key.
        key: String,
        /// Operations of the key that together cannot be linearized, in
        /// invoke order (every operation of the key when not shrunk).
        ops: Vec<ViolationOp>,
        /// How many operations the key has in all.
        key_operations: usize,
        /// Shrinking ran to the end: no single operation can be dropped.
        minimal: bool,
        /// Seconds spent shrinking.
        shrink_seconds: f64,
        /// The visualization written, if any.
        html: Option<PathBuf>,
        /// Why the visualization could not be written.
        html_error: Option<String>,
    },
    /// No violation found, but some key was not decided: it ran out of
    /// time or over the memory budget ([`Report::reason`] says which).
    Unknown,
}

/// One operation of a violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationOp {
    /// The client process.
    pub process: u64,
    /// The operation and what it returned, e.g. `cas(5, 7) -> mismatch`.
    pub operation: String,
    /// `index` of its invoke.
    pub index: u64,
    /// Line of its invoke.
    pub invoke_line: usize,
    /// Line of its completion (none: the history ended first).
    pub complete_line: Option<usize>,
    /// `time` of its invoke.
    pub invoke_time: u64,
    /// `time` of its completion.
    pub complete_time: Option<u64>,
    /// It may or may not have happened (`info` or no completion).
    pub indeterminate: bool,
}

impl fmt::Display for ViolationOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} {}", self.process, self.operation)?;
        if self.indeterminate {
            write!(f, " (indeterminate)")?;
        }
        match self.complete_line {
            Some(c) => write!(f, "  [lines {}-{c}]", self.invoke_line),
            None => write!(f, "  [line {}, never completed]", self.invoke_line),
        }
    }
}

/// Result of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyResult {
    /// Linearizable.
    Ok,
    /// Not linearizable.
    Violation,
    /// Not decided: out of time.
    Unknown,
    /// Not decided: its search needed more memory than
    /// [`CheckOptions::memory_budget`].
    OverBudget,
    /// Not decided: another key was found not linearizable first (its
    /// check was not started, or was stopped).
    Skipped,
}

/// One key's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Its result.
    pub result: KeyResult,
    /// Operations checked.
    pub operations: usize,
    /// Seconds its check took.
    pub seconds: f64,
}

/// What a check found, with its figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// The spec checked: `register`, `list-append` or `kv`.
    pub model: &'static str,
    /// Operations checked (after dropping failed ones).
    pub operations: usize,
    /// Keys checked.
    pub keys: usize,
    /// Wall seconds, shrinking and drawing included.
    pub seconds: f64,
    /// Operations dropped before checking (failed, or reads that did not return).
    pub dropped: usize,
    /// Operations left open to the end (may or may not have happened).
    pub indeterminate: usize,
    /// Per key, in key order.
    pub per_key: Vec<KeyReport>,
    /// Why the verdict is [`Verdict::Unknown`] (`None` otherwise): each
    /// undecided key and what stopped it, e.g. `key "k3": the search
    /// exceeded the memory budget of 4 GiB`.
    pub reason: Option<String>,
}

/// The reason of a [`Verdict::Unknown`]: the undecided keys and why.
fn unknown_reason(per_key: &[KeyReport], opts: &CheckOptions) -> String {
    const NAMED: usize = 5;
    let named = |keys: &[&str]| {
        let mut shown: Vec<String> = keys.iter().take(NAMED).map(|k| format!("{k:?}")).collect();
        if keys.len() > NAMED {
            shown.push(format!("and {} more", keys.len() - NAMED));
        }
        format!(
            "key{} {}",
            if keys.len() == 1 { "" } else { "s" },
            shown.join(", ")
        )
    };
    let with = |r: KeyResult| -> Vec<&str> {
        per_key
            .iter()
            .filter(|k| k.result == r)
            .map(|k| k.key.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    let over = with(KeyResult::OverBudget);
    if !over.is_empty() {
        parts.push(format!(
            "{}: the search exceeded the memory budget of {}",
            named(&over),
            format_size(opts.memory_budget)
        ));
    }
    let late = with(KeyResult::Unknown);
    if !late.is_empty() {
        parts.push(format!(
            "{}: the checker ran out of time ({} s)",
            named(&late),
            opts.timeout.as_secs_f64()
        ));
    }
    if parts.is_empty() {
        parts.push("no key was left undecided, yet no verdict was reached".to_string());
    }
    parts.join("; ")
}

impl Report {
    /// `true` when linearizable.
    pub fn is_ok(&self) -> bool {
        self.verdict == Verdict::Ok
    }
}

fn run<M: spec::Spec>(keyed: prepare::Keyed<M>, opts: &CheckOptions, start: Instant) -> Report {
    let keys: Vec<&spec::KeyOps<M>> = keyed.keys.iter().collect();
    let outcome = engine::check_keys(&keys, opts, start);
    report(keyed, outcome, opts, start)
}

/// [`run`] for a register history that may carry the order the system
/// claims: the keys whose claimed order is a witness are linearizable
/// without a search; the others are searched as usual.
fn run_register(
    keyed: prepare::Keyed<spec::RegisterSpec>,
    opts: &CheckOptions,
    start: Instant,
) -> Report {
    let Some(claims) = &keyed.claims else {
        return run(keyed, opts, start);
    };
    let mut per_key = Vec::with_capacity(keyed.keys.len());
    let mut searched = Vec::new();
    for (i, (k, ids)) in keyed.keys.iter().zip(&claims.requests).enumerate() {
        let t0 = Instant::now();
        let witnessed = witness::register_holds(&k.ops, ids, &claims.applied);
        if !witnessed {
            searched.push(i);
        }
        per_key.push(KeyReport {
            key: k.key.clone(),
            // A searched key's result replaces this one.
            result: if witnessed {
                KeyResult::Ok
            } else {
                KeyResult::Unknown
            },
            operations: k.ops.len(),
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    let verdict = engine::check_subset(&keyed.keys, &searched, &mut per_key, opts, start);
    let outcome = engine::Outcome { verdict, per_key };
    report(keyed, outcome, opts, start)
}

/// The [`Report`] of `keyed` from what the per-key stage found.
fn report<M: spec::Spec>(
    keyed: prepare::Keyed<M>,
    outcome: engine::Outcome,
    opts: &CheckOptions,
    start: Instant,
) -> Report {
    let reason =
        (outcome.verdict == Verdict::Unknown).then(|| unknown_reason(&outcome.per_key, opts));
    Report {
        verdict: outcome.verdict,
        model: M::NAME,
        operations: keyed.keys.iter().map(|k| k.ops.len()).sum(),
        keys: keyed.keys.len(),
        seconds: start.elapsed().as_secs_f64(),
        dropped: keyed.dropped,
        indeterminate: keyed.open,
        per_key: outcome.per_key,
        reason,
    }
}

/// Checks a tumult history (register or list-append, recognised from its
/// operations). Errors are bad input: a completion without an invoke, a
/// second invoke of a busy process, a value of the wrong shape.
pub fn check_history(history: &History, opts: &CheckOptions) -> Result<Report, HistoryError> {
    check_records(prepare::records_of(history), opts)
}

/// [`check_history`] of a `history.jsonl` read as it streams by: the
/// checker holds the translated operations, not the history.
fn check_records(
    records: prepare::Records<'_>,
    opts: &CheckOptions,
) -> Result<Report, HistoryError> {
    let start = Instant::now();
    Ok(match prepare::prepare_stream(records)? {
        prepare::Prepared::Register(k) => run_register(k, opts, start),
        // The reads fix the order of the appends: no search (see list_append).
        prepare::Prepared::ListAppend(k) => {
            let outcome = list_append::check_keys(&k.keys, opts, start);
            report(k, outcome, opts, start)
        }
    })
}

/// Checks a history of your own workload against its spec `M` (see
/// [`spec::HistorySpec`]): the same pairing of invokes and completions,
/// search, budgets and report as [`check_history`].
pub fn check_history_with<M: spec::HistorySpec>(
    history: &History,
    opts: &CheckOptions,
) -> Result<Report, HistoryError> {
    let start = Instant::now();
    Ok(run(prepare::prepare_with::<M>(history)?, opts, start))
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `history.jsonl` of SPEC.md §3.
    #[default]
    Tumult,
    /// porcupine's kv test logs (string get/put/append).
    PorcupineKv,
    /// Jepsen etcd register logs.
    JepsenEtcd,
    /// Jepsen's own `history.edn`, with a Knossos model
    /// ([`CheckOptions::jepsen`]).
    JepsenEdn,
}

impl Format {
    /// Every format, by name.
    pub const ALL: [Format; 4] = [
        Format::Tumult,
        Format::PorcupineKv,
        Format::JepsenEtcd,
        Format::JepsenEdn,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tumult => "tumult",
            Format::PorcupineKv => "porcupine-kv",
            Format::JepsenEtcd => "jepsen-etcd",
            Format::JepsenEdn => "jepsen-edn",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format {s:?} (expected tumult, porcupine-kv, jepsen-etcd or jepsen-edn)"
                )
            })
    }
}

/// Checks a history given as text in `format`.
pub fn check_text(text: &str, format: Format, opts: &CheckOptions) -> Result<Report, HistoryError> {
    let start = Instant::now();
    match format {
        Format::Tumult => check_records(Box::new(history_records(text.as_bytes())), opts),
        Format::JepsenEtcd => check_history(&corpus::parse_jepsen_etcd(text)?, opts),
        Format::PorcupineKv => Ok(run(corpus::parse_porcupine_kv(text)?, opts, start)),
        Format::JepsenEdn => Ok(match jepsen::parse(text, &opts.jepsen)? {
            jepsen::Parsed::Register(k) => run(k, opts, start),
            jepsen::Parsed::CasRegister(k) => run(k, opts, start),
            jepsen::Parsed::MultiRegister(k) => run(k, opts, start),
        }),
    }
}

/// Checks a history file in `format`.
pub fn check_file(
    path: &Path,
    format: Format,
    opts: &CheckOptions,
) -> Result<Report, HistoryError> {
    if format == Format::Tumult {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        return check_records(Box::new(history_records(file)), opts);
    }
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        HistoryError::line(line, "not UTF-8")
    })?;
    check_text(&text, format, opts)
}

/// Where the visualization of a violation in `history` goes: next to it,
/// `NAME.lin.html` for `NAME.EXT`.
pub fn html_path_for(history: &Path) -> PathBuf {
    let stem = history
        .file_stem()
        .map_or_else(|| "history".into(), |s| s.to_string_lossy().into_owned());
    history.with_file_name(format!("{stem}.lin.html"))
}
