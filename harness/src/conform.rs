//! Bridges a run's history to the trace conformance checker of
//! `tumult-models`: the engine's protocol trace is replayed into the abstract
//! cluster state and checked against the model's rules and invariants after
//! every event.

use crate::run::CheckResult;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::time::Instant;
use tumult_models::conformance::{check_trace, ConformanceError, TraceRecord};
use tumult_models::history::Entry;

/// Checks the engine trace of a history against the protocol's rules.
pub fn check(entries: &[Entry]) -> CheckResult {
    let started = Instant::now();
    let records = entries.iter().filter_map(|e| match e {
        Entry::Trace(t) => {
            let mut event = Map::new();
            event.insert("event".into(), Json::String(t.event.clone()));
            for (k, v) in &t.fields {
                event.insert(k.clone(), v.clone());
            }
            Some(TraceRecord {
                node: t.node.clone(),
                shard: t.shard.unwrap_or(0),
                event: Json::Object(event),
                time: t.time,
                index: t.index,
            })
        }
        _ => None,
    });
    let (result, detail, mut figures) = match check_trace(records) {
        Ok(summary) => {
            let mut f = BTreeMap::new();
            f.insert("events".to_string(), Json::from(summary.events));
            f.insert("shards".to_string(), Json::from(summary.shards));
            f.insert("nodes".to_string(), Json::from(summary.nodes));
            (
                "pass",
                format!("{} trace events conform to the model", summary.events),
                f,
            )
        }
        Err(ConformanceError::Violation(v)) => {
            let mut f = BTreeMap::new();
            f.insert("index".to_string(), Json::from(v.index));
            f.insert("shard".to_string(), Json::from(v.shard));
            f.insert("node".to_string(), Json::String(v.node.clone()));
            f.insert("rule".to_string(), Json::String(format!("{:?}", v.rule)));
            f.insert("state".to_string(), Json::String(v.state.clone()));
            (
                "fail",
                format!(
                    "history index {}: {} shard {} {}: {:?} broken: {}",
                    v.index, v.node, v.shard, v.event, v.rule, v.message
                ),
                f,
            )
        }
        Err(e @ ConformanceError::Malformed { .. }) => ("fail", e.to_string(), BTreeMap::new()),
    };
    figures.insert(
        "seconds".to_string(),
        Json::from(started.elapsed().as_secs_f64()),
    );
    CheckResult {
        result: result.into(),
        detail,
        figures,
    }
}
