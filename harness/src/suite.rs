//! The suite's index: `summary.json` (and, on request, JUnit XML) over the
//! runs of one `tumult run` or `tumult suite`.

use crate::run::RunResult;
use serde_json::json;
use std::path::Path;

/// Writes `summary.json` under `out`, and JUnit XML to `junit` if given.
pub fn write_index(out: &Path, results: &[RunResult], junit: Option<&Path>) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let runs: Vec<_> = results
        .iter()
        .map(|r| {
            let v = &r.verdict;
            json!({
                "scenario": v.scenario,
                "seed": v.seed,
                "verdict": v.verdict,
                "expected": v.expected,
                "met": v.met,
                "sim_seconds": v.sim_seconds,
                "wall_seconds": v.wall_seconds,
                "history_sha256": v.history_sha256,
                "dir": r.dir.as_ref().map(|d| d.display().to_string()),
            })
        })
        .collect();
    let summary = json!({
        "runs": runs,
        "total": results.len(),
        "met": results.iter().filter(|r| r.met_expectation()).count(),
    });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&summary).expect("json"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(junit) = junit {
        std::fs::write(junit, junit_xml(results)).map_err(|e| format!("{}: {e}", junit.display()))?;
    }
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per (scenario, seed).
pub fn junit_xml(results: &[RunResult]) -> String {
    let failures = results.iter().filter(|r| !r.met_expectation()).count();
    let time: f64 = results.iter().map(|r| r.verdict.wall_seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"tumult\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">\n",
        results.len()
    ));
    x.push_str(&format!(
        "  <testsuite name=\"tumult\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n",
        results.len()
    ));
    for r in results {
        let v = &r.verdict;
        x.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"seed-{}\" time=\"{:.3}\"",
            escape(&v.scenario),
            v.seed,
            v.wall_seconds
        ));
        if r.met_expectation() {
            x.push_str("/>\n");
        } else {
            x.push_str(">\n");
            x.push_str(&format!(
                "      <failure message=\"verdict {} (expected {})\">{}\nreproduce: {}</failure>\n",
                escape(&v.verdict),
                escape(&v.expected),
                escape(&r.summary()),
                escape(&v.reproduce)
            ));
            x.push_str("    </testcase>\n");
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
