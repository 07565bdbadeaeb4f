//! Scenario files (SPEC.md §2): parsing, validation, seeds and nemesis schedules.
//!
//! A scenario file is parsed into a typed [`Scenario`] with every default
//! filled in, or refused with a [`ScenarioError`] that names the file, the
//! line and the field. Nothing here runs anything: node selectors such as
//! `leader:0` stay [`Selector`]s for the simulator to resolve, and
//! [`expand_schedule`] turns the nemesis steps into concrete, time-ordered
//! steps for one seed.
//!
//! ```
//! use tumult_harness::scenario::{parse_str, expand_schedule, Action};
//!
//! let scenario = parse_str("scenarios/demo.toml", r#"
//!     [cluster]
//!     nodes = 3
//!     shards = 2
//!
//!     [workload]
//!     clients = 3
//!     keys = 4
//!     duration = "10s"
//!
//!     [[nemesis]]
//!     at = "2s"
//!     do = "crash"
//!     nodes = ["leader:0"]
//! "#).unwrap();
//! assert_eq!(scenario.name, "demo");
//! assert_eq!(scenario.run.seeds, vec![1, 2, 3, 4, 5]);
//! let steps = expand_schedule(&scenario, 1);
//! assert!(matches!(steps[0].action, Action::Crash { .. }));
//! ```

mod action;
mod duration;
mod error;
mod parse;
mod schedule;
mod seeds;
mod selector;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use action::{Action, ActionKind, Arg, DiskFaultKind};
pub use duration::{format_duration, parse_duration, DurationError};
pub use error::ScenarioError;
pub use schedule::{draw_duration, expand_schedule, ScheduledStep, SplitMix64};
pub use seeds::{parse_seeds, partition_runs, Partition, PartitionError, SeedsError, MAX_SEEDS};
pub use selector::{Selector, SelectorError, SelectorKind};
pub use tumult_models::artifact::{CheckName, Expected};

/// The largest cluster a scenario may ask for (nodes are n1..n9).
pub const MAX_NODES: u32 = 9;
/// The largest number of shards a scenario may ask for.
pub const MAX_SHARDS: u32 = 1024;
/// The most firings a random step may have in its window (checked
/// statically from `from`, `until` and the shortest gap of `every`).
pub const MAX_FIRINGS: u64 = 10_000;
/// The default `[run] seeds`.
pub const DEFAULT_SEEDS: &str = "1..=5";

/// A parsed and validated scenario file, with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`; default: the file stem. Never empty, never contains `/` or `\`.
    pub name: String,
    /// `description`; default empty.
    pub description: String,
    /// The file name the scenario was parsed from, as given.
    pub file: String,
    /// The exact input text (a run directory keeps it as `scenario.toml`).
    pub source: String,
    /// `[cluster]`.
    pub cluster: Cluster,
    /// `[network]`.
    pub network: Network,
    /// `[workload]`.
    pub workload: Workload,
    /// `[[nemesis]]` steps in file order.
    pub nemesis: Vec<NemesisStep>,
    /// `[expect]`.
    pub expect: Expect,
    /// `[run]`.
    pub run: Run,
    /// `[engine]`: engine knobs.
    pub engine: Engine,
    /// `[faults]`: fault sites.
    pub faults: Faults,
    /// `[system] kind`: what runs the scenario.
    pub system: System,
}

/// `[system] kind`: the system under test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum System {
    /// The tumult engine (default).
    #[default]
    Tumult,
    /// A cluster of Debian's `etcd-server` (3.4), real mode only.
    Etcd,
}

/// `[engine]`: how the engine itself is set up for the run. A knob left
/// out keeps the engine's default (`NodeConfig::new`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engine {
    /// `tls`: every connection (node to node, client to node) is mutual TLS,
    /// with certificates made for the run. Default false.
    pub tls: bool,
    /// `election_ticks = [min, max]`: the election timeout is drawn from
    /// `[min, max)` ticks (of 10 ms); default [10, 20].
    pub election_ticks: Option<(u32, u32)>,
    /// `heartbeat_ticks`: a leader's heartbeat interval; default 2, below
    /// the election timeout's `min`.
    pub heartbeat_ticks: Option<u32>,
    /// `max_append_entries`: most entries in one Append; default 64.
    pub max_append_entries: Option<u32>,
    /// `pre_vote`: the pre-vote round (§9.6); default true.
    pub pre_vote: Option<bool>,
    /// `check_quorum`: leaders step down without a quorum; default true.
    pub check_quorum: Option<bool>,
}

/// `[faults]`: the engine's fault sites ("buggify", see
/// `tumult_engine::buggify`) enabled for the run, each with the chance it
/// fires each time it is reached. Empty by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub fire: std::collections::BTreeMap<tumult_engine::buggify::Site, f64>,
}

/// An inclusive range of durations, `[min, max]`, drawn uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationRange {
    pub min: Duration,
    pub max: Duration,
}

impl DurationRange {
    /// `[min, max]`; the parser guarantees `min <= max`.
    pub const fn new(min: Duration, max: Duration) -> Self {
        DurationRange { min, max }
    }
}

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// `nodes`: 1..=9, named n1..nN.
    pub nodes: u32,
    /// `shards`: raft groups 0..S-1, each on every voter.
    pub shards: u32,
    /// `voters`: initial members as 1-based node numbers, ascending; default all.
    /// The other nodes are spares (for `add-member`).
    pub voters: Vec<u32>,
    /// `snapshot_every`: applied entries per shard between snapshots; default 1000.
    pub snapshot_every: u64,
    /// `fsync`: simulated time a sync takes; default `["0ms", "1ms"]`.
    pub fsync: DurationRange,
}

impl Cluster {
    /// The default `fsync`.
    pub const DEFAULT_FSYNC: DurationRange =
        DurationRange::new(Duration::ZERO, Duration::from_millis(1));

    /// Node names `n1..nN`.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|n| format!("n{n}")).collect()
    }
}

/// `[network]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// `latency`: one-way delay; default `["1ms", "5ms"]`.
    pub latency: DurationRange,
    /// `flaky`: chance per link per second that it fails for a short while; default 0.
    pub flaky: f64,
}

impl Default for Network {
    fn default() -> Network {
        Network {
            latency: DurationRange::new(Duration::from_millis(1), Duration::from_millis(5)),
            flaky: 0.0,
        }
    }
}

/// `[workload] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// `register`: read, write, cas on integer registers.
    Register,
    /// `list-append`: append(k, v) and read(k) -> list.
    ListAppend,
    /// `app`: your own application and its workload, given by the program
    /// that runs the file ([`crate::workload::Workload`]).
    App,
}

impl WorkloadKind {
    /// The name as written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::App => "app",
        }
    }
}

/// `[workload] read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// `linearizable`: reads go through the leader and are linearizable.
    Linearizable,
    /// `local`: served by whichever replica receives it; stale reads allowed.
    Local,
}

impl ReadMode {
    /// The name as written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Linearizable => "linearizable",
            ReadMode::Local => "local",
        }
    }
}

/// `[workload] mix`: operation weights. `register` uses read, write and
/// cas; `list-append` uses read and append; the unused ones are 0. The
/// default gives equal weight (1) to each operation of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mix {
    pub read: u32,
    pub write: u32,
    pub cas: u32,
    pub append: u32,
}

impl Mix {
    /// Equal weights for the operations of `kind`.
    pub fn default_for(kind: WorkloadKind) -> Mix {
        match kind {
            WorkloadKind::Register => Mix {
                read: 1,
                write: 1,
                cas: 1,
                append: 0,
            },
            WorkloadKind::ListAppend => Mix {
                read: 1,
                write: 0,
                cas: 0,
                append: 1,
            },
            // Unused: the app's generator picks its operations.
            WorkloadKind::App => Mix {
                read: 1,
                write: 0,
                cas: 0,
                append: 0,
            },
        }
    }

    /// The sum of the weights (always > 0 after parsing).
    pub fn total(&self) -> u64 {
        self.read as u64 + self.write as u64 + self.cas as u64 + self.append as u64
    }
}

/// `[workload]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `kind`; default register.
    pub kind: WorkloadKind,
    /// `clients` (>= 1); each has a home node, round robin over the nodes.
    pub clients: u32,
    /// `keys` (>= 1): k0..k(K-1).
    pub keys: u32,
    /// `mix`; default equal weights.
    pub mix: Mix,
    /// `rate`: operations per simulated second, all clients together; default 100.
    pub rate: f64,
    /// `duration`: simulated time that clients issue operations (phase 1).
    pub duration: Duration,
    /// `timeout`: no reply by then and the op is `info`; default 1s.
    pub timeout: Duration,
    /// `read`; default linearizable.
    pub read: ReadMode,
}

/// One `[[nemesis]]` entry of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisStep {
    /// 0-based position among the file's `[[nemesis]]` entries.
    pub index: usize,
    /// 1-based line of the entry in the file.
    pub line: usize,
    /// What the step does and when.
    pub kind: StepKind,
}

/// A fixed step or a random schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `at` + one `do` action with its arguments.
    Fixed { at: Duration, action: Action },
    /// `from`, `until`, `every` and a list of actions drawn uniformly (a
    /// name listed twice is drawn twice as often). Each action already
    /// carries the step's arguments that it takes.
    Random {
        from: Duration,
        until: Duration,
        every: DurationRange,
        actions: Vec<Action>,
    },
}

/// `[expect]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// `verdict`; default pass.
    pub verdict: Expected,
    /// `checks`; default [`Expect::LISTABLE`], without duplicates.
    pub checks: Vec<CheckName>,
    /// `recovery`: how long phase 2 may take; default 10s.
    pub recovery: Duration,
    /// `liveness`: what the final heal brings back; default all.
    pub liveness: Liveness,
}

/// `[expect] liveness`: which nodes the final heal heals and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Liveness {
    /// Every node (`"all"`).
    #[default]
    All,
    /// A majority core of the voters, drawn from the seed (`"core"`); the
    /// other nodes stay as the chaos left them, and recovery is judged on
    /// the core.
    Core,
}

impl Liveness {
    /// The value's spelling in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Liveness::All => "all",
            Liveness::Core => "core",
        }
    }
}

impl Expect {
    /// The checks `[expect] checks` may list, in SPEC.md's order (the
    /// default list); `assertion` always counts and is not listed.
    pub const LISTABLE: [CheckName; 3] = [
        CheckName::Linearizable,
        CheckName::Model,
        CheckName::Recovery,
    ];
}

impl Default for Expect {
    fn default() -> Expect {
        Expect {
            verdict: Expected::Pass,
            checks: Expect::LISTABLE.to_vec(),
            recovery: Duration::from_secs(10),
            liveness: Liveness::All,
        }
    }
}

/// `[run]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The seeds, sorted and deduplicated.
    pub seeds: Vec<u64>,
    /// The seeds as written (default `"1..=5"`).
    pub seeds_text: String,
}

impl Default for Run {
    fn default() -> Run {
        Run {
            seeds: parse_seeds(DEFAULT_SEEDS).expect("the default seeds parse"),
            seeds_text: DEFAULT_SEEDS.to_string(),
        }
    }
}

/// Parses and validates a scenario from text. `file` names it in errors
/// and gives the default `name` (its stem).
pub fn parse_str(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    parse::parse(file, source, false)
}

/// [`parse_str`] that also accepts `[workload] kind = "app"`: a scenario
/// for your own application, run with [`crate::run::run_seed_with`].
pub fn parse_app_str(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    parse::parse(file, source, true)
}

/// [`parse_file`] that also accepts `[workload] kind = "app"`.
pub fn parse_app_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    parse_path(path.as_ref(), true)
}

/// Reads and parses a scenario file. An unreadable file is a
/// [`ScenarioError`] with line 0.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
    parse_path(path.as_ref(), false)
}

fn parse_path(path: &Path, app: bool) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: 0,
        field: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    parse::parse(&file, &source, app)
}

/// Every scenario file (`*.toml`) under `dir`, its subdirectories included,
/// sorted by path: a suite directory, or the parents and findings an
/// explore saved.
pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| format!("{}: cannot read directory: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
