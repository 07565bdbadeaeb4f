//! Running the exhaustive check: breadth-first search over the model, with
//! figures, progress and the shortest counterexample in readable form, so
//! that callers (the `tumult model` command, tests) need not drive stateright.

use super::{Action, RaftModel, RaftState, Step};
use stateright::{Checker, HasDiscoveries, Model};
use std::fmt;
use std::time::{Duration, Instant};

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
pub struct Counterexample {
    /// The property broken.
    pub property: &'static str,
    /// The initial state.
    pub initial: RaftState,
    /// Each step and the state after it, with consistent server names.
    pub steps: Vec<Step>,
}

impl fmt::Display for Counterexample {
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
pub struct CheckReport {
    /// Final figures.
    pub progress: Progress,
    /// The first safety property found broken, with its shortest path (single thread) or a short one.
    pub counterexample: Option<Counterexample>,
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
        let start = Instant::now();
        let mut builder = self
            .clone()
            .checker()
            .threads(threads.max(1))
            .finish_when(HasDiscoveries::AnyFailures);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let checker = builder.spawn_bfs();
        let figures = |c: &dyn Checker<RaftModel>| Progress {
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
        for p in self.properties() {
            let found = discoveries.get(p.name);
            match (p.expectation.discovery_is_failure(), found) {
                (true, Some(path)) if report.counterexample.is_none() => {
                    let actions: Vec<Action> = path.clone().into_actions();
                    let (initial, steps) = self.replay(&actions);
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
}
