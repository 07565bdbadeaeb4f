//! The suite's index and reports over the runs of one `tumult run` or
//! `tumult suite`: `summary.json`, `summary.md`, `index.html` and, on
//! request, JUnit XML (rendered by `tumult-reports`), and each run's
//! `report.html`.

use crate::run::RunResult;
use std::path::Path;
pub use tumult_models::artifact::Skipped;
use tumult_reports::RunSummary;

/// What the reports need of a finished run.
pub fn run_summary(r: &RunResult) -> RunSummary {
    RunSummary::from_verdict(&r.verdict, r.dir.clone())
}

/// Writes `summary.json`, `summary.md` and `index.html` under `out`, and
/// JUnit XML to `junit` if given.
pub fn write_index(
    out: &Path,
    results: &[RunResult],
    skipped: &[Skipped],
    junit: Option<&Path>,
) -> Result<(), String> {
    let runs: Vec<RunSummary> = results.iter().map(run_summary).collect();
    tumult_reports::suite::write_index(out, &runs, skipped, junit).map_err(|e| e.to_string())
}

/// Writes `report.html` in the directory of every run that has one, on up
/// to `jobs` threads; a report that cannot be written is reported on
/// stderr and does not change the outcome.
pub fn write_reports(results: &[RunResult], jobs: usize) {
    let dirs: Vec<&Path> = results.iter().filter_map(|r| r.dir.as_deref()).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, dirs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(dir) = dirs.get(i) else { return };
                if let Err(e) = tumult_reports::write_run_report(dir, None) {
                    eprintln!("tumult: report: {e}");
                }
            });
        }
    });
}

/// JUnit XML: one test suite per scenario, one test case per seed.
pub fn junit_xml(results: &[RunResult]) -> String {
    let runs: Vec<RunSummary> = results.iter().map(run_summary).collect();
    tumult_reports::suite::junit_xml(&runs, &[])
}
