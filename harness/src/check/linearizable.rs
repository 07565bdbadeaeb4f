//! The `linearizable` check: the client history, per key, against the
//! workload's sequential specification.

use super::Limits;
use std::path::Path;
use tumult_models::artifact::{CheckResult, Evidence, Lines, Outcome};
use tumult_models::history::{Entry, History};
use tumult_models::lin::{self, CheckOptions};

/// Checks the client operations of a history. With `dir`, a violation's
/// visualization goes to `dir/history.lin.html`.
pub fn check(entries: &[Entry], limits: Limits, dir: Option<&Path>) -> CheckResult {
    let history = History::from_entries(entries.iter().cloned());
    let opts = CheckOptions {
        timeout: limits.timeout,
        memory_budget: limits.memory,
        html: dir.map(|d| d.join("history.lin.html")),
        ..CheckOptions::default()
    };
    let report = match lin::check_history(&history, &opts) {
        Ok(report) => report,
        Err(e) => return CheckResult::new(Outcome::Fail, format!("the history is malformed: {e}")),
    };
    let result = match &report.verdict {
        lin::Verdict::Ok => CheckResult::new(Outcome::Pass, "linearizable"),
        lin::Verdict::Unknown => CheckResult::new(
            Outcome::Unknown,
            report
                .reason
                .clone()
                .unwrap_or_else(|| "the checker ran out of time".to_string()),
        ),
        lin::Verdict::Violation { key, ops, .. } => {
            let shown: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
            let lines = ops
                .iter()
                .map(|o| Lines {
                    first: o.invoke_line,
                    last: o.complete_line.unwrap_or(o.invoke_line),
                })
                .collect();
            CheckResult::new(
                Outcome::Fail,
                format!("key {key} is not linearizable: {}", shown.join("; ")),
            )
            .with_evidence(Evidence {
                key: Some(key.clone()),
                lines,
                ..Evidence::default()
            })
        }
    };
    result
        .figure("operations", report.operations)
        .figure("keys", report.keys)
        .figure("seconds", report.seconds)
        .figure("indeterminate", report.indeterminate)
}
