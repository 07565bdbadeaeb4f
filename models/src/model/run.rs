//! Running the exhaustive check: breadth-first search over a model, with
//! figures, progress and the shortest counterexample in readable form, so
//! that callers (the `tumult model` command, tests) need not drive stateright.
//! It serves both the specification ([`RaftModel`]) and the production core
//! under the checker ([`crate::core_model::CoreModel`]).

use super::{Action, RaftModel, RaftState, Step};
use stateright::{Checker, HasDiscoveries, Model};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tumult_engine::raft::rng::SplitMix64;

/// A replayed path: the initial state, then each step with the state after it.
pub type Replay<A, S> = (S, Vec<Step<A, S>>);

/// A model the runner can check and whose paths it can explain.
pub trait Explain: Model + Clone + Send + Sync + 'static {
    /// Replays a path of the checker from the initial state, in the names a
    /// reader follows.
    fn replay(&self, actions: &[Self::Action]) -> Replay<Self::Action, Self::State>;
    /// The switch [`check`] turns on to stop the search early (the
    /// memory budget): a model offers no actions while it is on.
    fn halt(&self) -> &Halt;
}

impl Explain for RaftModel {
    fn replay(&self, actions: &[Action]) -> (RaftState, Vec<Step>) {
        RaftModel::replay(self, actions)
    }

    fn halt(&self) -> &Halt {
        &self.halt
    }
}

/// Stops a search from outside stateright, which has no cancellation of its
/// own: shared by every clone of a model, so the checker's workers see it.
#[derive(Clone, Debug, Default)]
pub struct Halt(Arc<AtomicBool>);

impl Halt {
    /// Whether the search is being stopped.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed)
    }
}

/// How a search runs and when it gives up.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Worker threads.
    pub threads: usize,
    /// Give up after this long.
    pub timeout: Option<Duration>,
    /// Give up once the process's resident memory passes this many bytes
    /// (checked every 50 ms; breadth-first frontiers of large states grow fast).
    pub memory: Option<u64>,
    /// How the state space is walked.
    pub search: Search,
    /// How often `progress` is called.
    pub every: Duration,
}

impl Limits {
    /// Breadth-first on `threads` threads, no budget, progress every `every`.
    pub fn new(threads: usize, every: Duration) -> Self {
        Limits {
            threads,
            timeout: None,
            memory: None,
            search: Search::BreadthFirst,
            every,
        }
    }
}

/// How [`check`] walks the state space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Level by level: shortest counterexamples, exhaustive, and a frontier
    /// that holds whole states (the memory budget matters here).
    BreadthFirst,
    /// Exhaustive too, memory bounded by the depth; counterexamples need
    /// not be the shortest.
    DepthFirst,
    /// Random walks from the initial state, each until it closes a cycle
    /// or no action is enabled (stateright's simulation), choices drawn
    /// from this seed: never exhaustive, little memory, and it reaches deep
    /// states a breadth-first search of a large model never gets to.
    Random(u64),
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Search::BreadthFirst => f.write_str("bfs"),
            Search::DepthFirst => f.write_str("dfs"),
            Search::Random(seed) => write!(f, "random:{seed}"),
        }
    }
}

impl std::str::FromStr for Search {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bfs" => Ok(Search::BreadthFirst),
            "dfs" => Ok(Search::DepthFirst),
            "random" => Ok(Search::Random(1)),
            _ => match s.strip_prefix("random:").map(str::parse::<u64>) {
                Some(Ok(seed)) => Ok(Search::Random(seed)),
                _ => Err(format!(
                    "{s:?} is not a search: bfs, dfs, random or random:SEED"
                )),
            },
        }
    }
}

/// The process's resident memory in bytes (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// How far a running check got.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// States generated, repeats included.
    pub states: usize,
    /// Distinct states.
    pub unique: usize,
    /// Deepest level of the search so far.
    pub depth: usize,
    /// Wall seconds since the start.
    pub seconds: f64,
}

/// A path from the initial state to a state that breaks a property.
#[derive(Clone, Debug)]
pub struct Counterexample<A = Action, S = RaftState> {
    /// The property broken.
    pub property: &'static str,
    /// The initial state.
    pub initial: S,
    /// Each step and the state after it, with consistent server names.
    pub steps: Vec<Step<A, S>>,
}

impl<A: fmt::Display, S: fmt::Display> fmt::Display for Counterexample<A, S> {
    /// A numbered sequence of steps, each followed by the servers' states.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let indent = |text: String| -> String {
            text.lines()
                .map(|l| format!("      {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        writeln!(
            f,
            "\"{}\" is violated after {} steps:",
            self.property,
            self.steps.len()
        )?;
        writeln!(f, "   0. initial state")?;
        writeln!(f, "{}", indent(self.initial.to_string()))?;
        for (k, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:4}. {}", k + 1, step.action)?;
            writeln!(f, "{}", indent(step.state.to_string()))?;
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Clone, Debug)]
pub struct CheckReport<A = Action, S = RaftState> {
    /// Final figures.
    pub progress: Progress,
    /// The first safety property found broken, with its shortest path (single thread) or a short one.
    pub counterexample: Option<Counterexample<A, S>>,
    /// Other safety properties found broken.
    pub also_violated: Vec<&'static str>,
    /// `sometimes` properties never reached (the bounds may be too small).
    pub unreached: Vec<&'static str>,
    /// The time limit stopped the search before the state space was exhausted.
    pub timed_out: bool,
    /// The memory budget stopped it (the resident bytes it reached).
    pub out_of_memory: Option<u64>,
}

impl<A, S> CheckReport<A, S> {
    /// Neither a counterexample nor the whole state space: the search gave up.
    pub fn inconclusive(&self) -> bool {
        self.counterexample.is_none() && (self.timed_out || self.out_of_memory.is_some())
    }
}

impl RaftModel {
    /// Checks the model by breadth-first search on `threads` threads, until
    /// the first counterexample, the end of the state space, or `timeout`;
    /// `progress` is called about every `every`.
    pub fn check(
        &self,
        threads: usize,
        timeout: Option<Duration>,
        every: Duration,
        progress: &mut dyn FnMut(Progress),
    ) -> CheckReport {
        let limits = Limits {
            timeout,
            ..Limits::new(threads, every)
        };
        check(self, &limits, progress)
    }
}

/// Checks `model` within `limits` (breadth-first unless told otherwise)
/// until the first counterexample, the end of the state space, or a limit;
/// `progress` is called about every `limits.every`.
pub fn check<M>(
    model: &M,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress),
) -> CheckReport<M::Action, M::State>
where
    M: Explain,
    M::State: Clone + fmt::Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + fmt::Debug + PartialEq + Send + Sync + 'static,
{
    let start = Instant::now();
    model.halt().set(false);
    let mut builder = model
        .clone()
        .checker()
        .threads(limits.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(t) = limits.timeout {
        builder = builder.timeout(t);
    }
    let (done, discoveries, out_of_memory) = match limits.search {
        Search::BreadthFirst => watch(model, builder.spawn_bfs(), limits, start, progress),
        Search::DepthFirst => watch(model, builder.spawn_dfs(), limits, start, progress),
        Search::Random(seed) => watch(
            model,
            builder.spawn_simulation(seed, TakenOnly(model.clone())),
            limits,
            start,
            progress,
        ),
    };
    let mut report = CheckReport {
        progress: done,
        counterexample: None,
        also_violated: Vec::new(),
        unreached: Vec::new(),
        timed_out: limits
            .timeout
            .is_some_and(|t| done.seconds >= t.as_secs_f64()),
        out_of_memory,
    };
    for p in model.properties() {
        let found = discoveries.get(p.name);
        match (p.expectation.discovery_is_failure(), found) {
            (true, Some(path)) if report.counterexample.is_none() => {
                let actions: Vec<M::Action> = path.clone().into_actions();
                let (initial, steps) = model.replay(&actions);
                report.counterexample = Some(Counterexample {
                    property: p.name,
                    initial,
                    steps,
                });
            }
            (true, Some(_)) => report.also_violated.push(p.name),
            (false, None) => report.unreached.push(p.name),
            _ => {}
        }
    }
    report
}

/// The random walk's chooser: a uniform draw among the actions the model
/// takes from the state (those whose `next_state` is `Some`).
///
/// stateright 0.31's walk records the index of each action it draws. When
/// the model ignores the action (`next_state` is `None`) it removes it with
/// `swap_remove` and draws again from the shortened list, but a discovery's
/// path is rebuilt by indexing the full list: a walk through an ignored
/// action rebuilt into another path, or into an index no action has (a
/// panic, seen in CI at two-membership-changes' demo bounds). Drawing only
/// taken actions makes the first draw at every state the one taken, so the
/// recorded indices are the full list's. The cost is each taken step
/// computed twice.
#[derive(Clone)]
struct TakenOnly<M>(M);

impl<M> stateright::Chooser<M> for TakenOnly<M>
where
    M: Model + Clone + Send + 'static,
    M::Action: Clone,
{
    type State = SplitMix64;

    fn new_state(&self, seed: u64) -> SplitMix64 {
        SplitMix64::new(seed)
    }

    fn choose_initial_state(&self, rng: &mut SplitMix64, initial: &[M::State]) -> usize {
        rng.below(initial.len() as u64) as usize
    }

    fn choose_action(
        &self,
        rng: &mut SplitMix64,
        state: &M::State,
        actions: &[M::Action],
    ) -> usize {
        let mut left: Vec<usize> = (0..actions.len()).collect();
        while !left.is_empty() {
            let i = left.swap_remove(rng.below(left.len() as u64) as usize);
            if self.0.next_state(state, actions[i].clone()).is_some() {
                return i;
            }
        }
        // Nothing is taken: the walk tries each action, and ends.
        0
    }
}

/// Property name -> the path that reached it.
type Discoveries<M> = std::collections::HashMap<
    &'static str,
    stateright::Path<<M as Model>::State, <M as Model>::Action>,
>;

/// Waits for `checker`, reporting progress and enforcing the memory budget;
/// the final figures, the discoveries and the resident bytes that stopped it.
fn watch<M, C>(
    model: &M,
    checker: C,
    limits: &Limits,
    start: Instant,
    progress: &mut dyn FnMut(Progress),
) -> (Progress, Discoveries<M>, Option<u64>)
where
    M: Explain,
    M::State: Clone + PartialEq,
    M::Action: Clone + PartialEq,
    C: Checker<M>,
{
    let figures = |c: &C| Progress {
        states: c.state_count(),
        unique: c.unique_state_count(),
        depth: c.max_depth(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let mut last = Instant::now();
    let mut out_of_memory = None;
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50).min(limits.every));
        if let (Some(budget), None) = (limits.memory, out_of_memory) {
            if let Some(rss) = resident_bytes().filter(|&b| b > budget) {
                // The workers drain what they hold without expanding it.
                model.halt().set(true);
                out_of_memory = Some(rss);
            }
        }
        if limits.timeout.is_some_and(|t| start.elapsed() >= t) {
            break;
        }
        if last.elapsed() >= limits.every {
            last = Instant::now();
            progress(figures(&checker));
        }
    }
    // stateright's workers look at its timeout (and at a discovery that
    // ends the search) only between the batches they hold, and a single
    // worker holds its whole frontier: left alone it would go on after
    // `is_done` until the space is exhausted. The halt makes them drain.
    model.halt().set(true);
    let checker = checker.join();
    // Rebuilding a discovery's path replays the model's actions.
    model.halt().set(false);
    (figures(&checker), checker.discoveries(), out_of_memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Property;

    /// A counter with six actions, every other one ignored: a walk of
    /// stateright's own chooser draws ignored actions all the time.
    #[derive(Clone, Default)]
    struct Counter {
        halt: Halt,
    }

    impl Model for Counter {
        type State = (u32, u64);
        type Action = u64;

        fn init_states(&self) -> Vec<(u32, u64)> {
            vec![(0, 1)]
        }

        fn actions(&self, state: &(u32, u64), out: &mut Vec<u64>) {
            if state.0 < 40 && !self.halt.is_set() {
                out.extend(0..6);
            }
        }

        fn next_state(&self, &(steps, x): &(u32, u64), k: u64) -> Option<(u32, u64)> {
            (k % 2 == 1).then(|| (steps + 1, (x * 7 + k) % 1_000_003))
        }

        fn properties(&self) -> Vec<Property<Self>> {
            vec![Property::always(
                "fewer than 30 steps",
                |_, s: &(u32, u64)| s.0 < 30,
            )]
        }
    }

    impl Explain for Counter {
        fn replay(&self, actions: &[u64]) -> Replay<u64, (u32, u64)> {
            let mut state = self.init_states()[0];
            let mut steps = Vec::new();
            for &a in actions {
                let Some(next) = self.next_state(&state, a) else {
                    break;
                };
                state = next;
                steps.push(Step { action: a, state });
            }
            ((0, 1), steps)
        }

        fn halt(&self) -> &Halt {
            &self.halt
        }
    }

    #[test]
    fn a_random_walks_counterexample_replays_to_the_violation() {
        for seed in 1..20 {
            let limits = Limits {
                search: Search::Random(seed),
                timeout: Some(Duration::from_secs(20)),
                ..Limits::new(1, Duration::from_secs(60))
            };
            let report = check(&Counter::default(), &limits, &mut |_| {});
            let cx = report.counterexample.expect("30 steps are reached");
            // Every action of the path is one the model took, and the last
            // state breaks the property.
            assert_eq!(cx.steps.len(), 30, "seed {seed}");
            assert!(cx.steps.iter().all(|s| s.action % 2 == 1), "seed {seed}");
        }
    }
}
