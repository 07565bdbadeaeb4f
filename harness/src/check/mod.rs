//! The checks every run goes through, and nothing else: `assertion` (no
//! panic or broken engine assertion, the clients finished), `linearizable`
//! (what clients saw), `model` (what the servers did) and `recovery` (the
//! cluster came back after the final heal). Each turns a simulated run into
//! one typed [`CheckResult`] of the run artefact schema.

mod linearizable;
pub mod model;

use crate::scenario::Scenario;
use crate::sim::SimOutcome;
use crate::workload::Workload;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tumult_models::artifact::{CheckName, CheckResult, Outcome};

/// The linearizability checker's limits per run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time limit.
    pub timeout: Duration,
    /// Memory budget (bytes): past it the check ends `unknown`.
    pub memory: u64,
}

/// Runs every check over a finished simulation. With `dir`, the
/// linearizability checker writes its visualization there.
pub fn all(
    scenario: &Scenario,
    workload: &dyn Workload,
    outcome: &SimOutcome,
    limits: Limits,
    dir: Option<&Path>,
) -> BTreeMap<CheckName, CheckResult> {
    let mut checks = BTreeMap::new();
    checks.insert(CheckName::Assertion, assertion(outcome));
    checks.insert(
        CheckName::Linearizable,
        linearizable::check(workload, &outcome.entries, limits, dir),
    );
    let model = match scenario.system {
        crate::scenario::System::Tumult => model::check(&outcome.entries),
        crate::scenario::System::Etcd => CheckResult::new(
            Outcome::Skipped,
            "etcd writes no protocol trace: the model check does not apply",
        ),
    };
    checks.insert(CheckName::Model, model);
    checks.insert(CheckName::Recovery, recovery(scenario, outcome));
    checks
}

/// Panics and broken engine assertions inside the simulation, and clients
/// that never finished their final reads.
fn assertion(outcome: &SimOutcome) -> CheckResult {
    if !outcome.completed {
        let panics = if outcome.panics.is_empty() {
            String::new()
        } else {
            format!(" ({})", outcome.panics.join(" | "))
        };
        return CheckResult::new(
            Outcome::Fail,
            format!(
                "the clients did not finish their final reads within the run's time limit{panics}"
            ),
        );
    }
    if outcome.panics.is_empty() {
        CheckResult::new(Outcome::Pass, "no panic or broken assertion")
    } else {
        CheckResult::new(Outcome::Fail, outcome.panics.join(" | "))
            .figure("panics", outcome.panics.len())
    }
}

/// After the final heal every shard has a leader and every client completes
/// an operation within `[expect] recovery`.
fn recovery(scenario: &Scenario, outcome: &SimOutcome) -> CheckResult {
    let r = &outcome.recovery;
    if r.passed {
        CheckResult::new(
            Outcome::Pass,
            format!("recovered {:.2}s after the final heal", r.seconds),
        )
    } else {
        CheckResult::new(Outcome::Fail, r.detail.clone())
    }
    .figure("seconds", r.seconds)
    .figure("limit_seconds", scenario.expect.recovery.as_secs_f64())
}
