//! Running the exhaustive check: breadth-first search over a model, with
//! figures, progress and the shortest counterexample in readable form, so
//! that callers (the `tumult model` command, tests) need not drive stateright.
//! It serves both the specification ([`RaftModel`]) and the production core
//! under the checker ([`crate::core_model::CoreModel`]).

use super::{Action, RaftModel, RaftState, Step};
use stateright::{Checker, HasDiscoveries, Model};
use std::fmt;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A replayed path: the initial state, then each step with the state after it.
pub type Replay<A, S> = (S, Vec<Step<A, S>>);

/// A model the runner can check and whose paths it can explain.
pub trait Explain: Model + Clone + Send + Sync + 'static {
    /// Replays a path of the checker from the initial state, in the names a
    /// reader follows.
    fn replay(&self, actions: &[Self::Action]) -> Replay<Self::Action, Self::State>;
}

impl Explain for RaftModel {
    fn replay(&self, actions: &[Action]) -> (RaftState, Vec<Step>) {
        RaftModel::replay(self, actions)
    }
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
        check(self, threads, timeout, every, progress)
    }
}

/// Checks `model` by breadth-first search on `threads` threads, until the
/// first counterexample, the end of the state space, or `timeout`;
/// `progress` is called about every `every`.
pub fn check<M>(
    model: &M,
    threads: usize,
    timeout: Option<Duration>,
    every: Duration,
    progress: &mut dyn FnMut(Progress),
) -> CheckReport<M::Action, M::State>
where
    M: Explain,
    M::State: Clone + fmt::Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + fmt::Debug + PartialEq + Send + Sync + 'static,
{
    let start = Instant::now();
    let mut builder = model
        .clone()
        .checker()
        .threads(threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    let checker = builder.spawn_bfs();
    let figures = |c: &dyn Checker<M>| Progress {
        states: c.state_count(),
        unique: c.unique_state_count(),
        depth: c.max_depth(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let mut last = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50).min(every));
        if last.elapsed() >= every {
            last = Instant::now();
            progress(figures(&checker));
        }
    }
    let checker = checker.join();
    let done = figures(&checker);
    let discoveries = checker.discoveries();
    let mut report = CheckReport {
        progress: done,
        counterexample: None,
        also_violated: Vec::new(),
        unreached: Vec::new(),
        timed_out: timeout.is_some_and(|t| done.seconds >= t.as_secs_f64()),
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
