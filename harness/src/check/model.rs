//! The `model` check. Bridges a run's history to the trace conformance checker of
//! `tumult-models`: the engine's protocol trace is replayed into the abstract
//! cluster state and checked against the model's rules and invariants after
//! every event.

use std::time::Instant;
use tumult_models::artifact::{CheckResult, Evidence, Outcome};
use tumult_models::conformance::{check_trace, ConformanceError, TraceRecord};
use tumult_models::history::Entry;

/// Checks the engine trace of a history against the protocol's rules.
pub fn check(entries: &[Entry]) -> CheckResult {
    let started = Instant::now();
    let records = entries.iter().filter_map(|e| match e {
        Entry::Trace(t) => Some(TraceRecord::from(t)),
        _ => None,
    });
    let result = match check_trace(records) {
        Ok(summary) => CheckResult::new(
            Outcome::Pass,
            format!("{} trace events conform to the model", summary.events),
        )
        .figure("events", summary.events)
        .figure("shards", summary.shards)
        .figure("nodes", summary.nodes),
        Err(ConformanceError::Violation(v)) => CheckResult::new(
            Outcome::Fail,
            format!(
                "history index {}: {} shard {} {}: {:?} broken: {}",
                v.index,
                v.node,
                v.shard,
                serde_json::to_value(&v.event).unwrap_or_default(),
                v.rule,
                v.message
            ),
        )
        .figure("rule", format!("{:?}", v.rule))
        .figure("state", v.state.clone())
        .with_evidence(Evidence {
            history_index: Some(v.index),
            node: Some(v.node.clone()),
            shard: Some(v.shard),
            ..Evidence::default()
        }),
        Err(e @ ConformanceError::Malformed { .. }) => {
            CheckResult::new(Outcome::Fail, e.to_string())
        }
    };
    result.figure("seconds", started.elapsed().as_secs_f64())
}
