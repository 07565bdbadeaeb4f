//! The `linearizable` check: the client history, per key, against the
//! workload's sequential specification.

use super::Limits;
use crate::workload::Workload;
use std::path::Path;
use tumult_models::artifact::{CheckResult, Evidence, Lines, Outcome};
use tumult_models::history::{Entry, History};
use tumult_models::lin::{self, CheckOptions};

/// Operations of a violation named at each end of the check's one-line detail.
const SHOWN: usize = 6;

/// Checks the client operations of a history. With `dir`, a violation's
/// visualization goes to `dir/history.lin.html`.
pub fn check(
    workload: &dyn Workload,
    entries: &[Entry],
    limits: Limits,
    dir: Option<&Path>,
) -> CheckResult {
    let history = History::from_entries(entries.iter().cloned());
    let opts = CheckOptions {
        timeout: limits.timeout,
        memory_budget: limits.memory,
        html: dir.map(|d| d.join("history.lin.html")),
        ..CheckOptions::default()
    };
    let report = match workload.check(&history, &opts) {
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
            // The one-line detail names the first and the last few; the
            // evidence keeps every line, and history.lin.html draws them.
            let mut shown: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
            if shown.len() > 2 * SHOWN {
                let hidden = shown.len() - 2 * SHOWN;
                shown.splice(
                    SHOWN..SHOWN + hidden,
                    [format!(
                        "... {hidden} more (verdict.json has every line) ..."
                    )],
                );
            }
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
