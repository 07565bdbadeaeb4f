//! The index of a suite (or of one `tumult run`): `summary.json`,
//! `index.html` (every (scenario, seed) with its verdict, time and a link to
//! its report), `summary.md` (for a CI job to post as a comment) and JUnit
//! XML.

use crate::html::{esc, page_end, page_start};
use crate::run::link_from;
use crate::ReportError;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

/// What the index needs of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    /// `pass`, `fail` or `unknown`.
    pub verdict: String,
    /// `pass` or `fail`.
    pub expected: String,
    pub met: bool,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub history_sha256: String,
    /// The run directory, if one was written.
    pub dir: Option<PathBuf>,
    /// The command that reproduces the run.
    pub reproduce: String,
    /// The checks that failed: (name, detail).
    pub failed_checks: Vec<(String, String)>,
    /// One line for a human (scenario, seed, verdict, figures, what failed).
    pub line: String,
}

impl RunSummary {
    /// Reads what the index needs from a `verdict.json`.
    pub fn from_verdict(v: &Json, dir: Option<PathBuf>) -> RunSummary {
        let s = |k: &str| v.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let f = |k: &str| v.get(k).and_then(Json::as_f64).unwrap_or(0.0);
        let failed_checks: Vec<(String, String)> = match v.get("checks") {
            Some(Json::Object(m)) => m
                .iter()
                .filter(|(_, c)| c.get("result").and_then(Json::as_str) == Some("fail"))
                .map(|(n, c)| {
                    (
                        n.clone(),
                        c.get("detail")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let met = v.get("met").and_then(Json::as_bool).unwrap_or(false);
        let seed = v.get("seed").and_then(Json::as_u64).unwrap_or(0);
        let mut line = format!(
            "{} seed {}: {} (expected {}) [{}] {:.1}s sim in {:.1}s wall",
            s("scenario"),
            seed,
            s("verdict"),
            s("expected"),
            if met { "ok" } else { "UNEXPECTED" },
            f("sim_seconds"),
            f("wall_seconds")
        );
        if !failed_checks.is_empty() {
            line.push_str(" — ");
            line.push_str(
                &failed_checks
                    .iter()
                    .map(|(n, d)| format!("{n}: {d}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        RunSummary {
            scenario: s("scenario"),
            seed,
            verdict: s("verdict"),
            expected: s("expected"),
            met,
            sim_seconds: f("sim_seconds"),
            wall_seconds: f("wall_seconds"),
            history_sha256: s("history_sha256"),
            dir,
            reproduce: s("reproduce"),
            failed_checks,
            line,
        }
    }
}

/// `summary.json`.
pub fn summary_json(runs: &[RunSummary]) -> Json {
    let rows: Vec<Json> = runs
        .iter()
        .map(|r| {
            json!({
                "scenario": r.scenario,
                "seed": r.seed,
                "verdict": r.verdict,
                "expected": r.expected,
                "met": r.met,
                "sim_seconds": r.sim_seconds,
                "wall_seconds": r.wall_seconds,
                "history_sha256": r.history_sha256,
                "dir": r.dir.as_ref().map(|d| d.display().to_string()),
                "reproduce": r.reproduce,
                "failed_checks": r.failed_checks.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "runs": rows,
        "total": runs.len(),
        "met": runs.iter().filter(|r| r.met).count(),
    })
}

/// Reads a suite directory's `summary.json`, completing each run from its
/// `verdict.json` when the run directory is there.
pub fn load_suite(dir: &Path) -> Result<Vec<RunSummary>, ReportError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
    let summary: Json = serde_json::from_str(&text)
        .map_err(|e| ReportError::Input(format!("{}:{}: {e}", path.display(), e.line())))?;
    let runs = summary
        .get("runs")
        .and_then(Json::as_array)
        .ok_or_else(|| {
            ReportError::Input(format!(
                "{}: field `runs` missing or not a list",
                path.display()
            ))
        })?;
    let mut out = Vec::new();
    for r in runs {
        let scenario = r.get("scenario").and_then(Json::as_str).unwrap_or("");
        let seed = r.get("seed").and_then(Json::as_u64).unwrap_or(0);
        // The recorded directory may be relative to where the suite ran: prefer the one beside summary.json.
        let beside = dir.join(scenario).join(format!("seed-{seed}"));
        let recorded = r.get("dir").and_then(Json::as_str).map(PathBuf::from);
        let run_dir = if beside.join("verdict.json").exists() {
            Some(beside)
        } else {
            recorded.filter(|d| d.join("verdict.json").exists())
        };
        let verdict = run_dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("verdict.json")).ok())
            .and_then(|t| serde_json::from_str::<Json>(&t).ok());
        out.push(RunSummary::from_verdict(
            verdict.as_ref().unwrap_or(r),
            run_dir,
        ));
    }
    Ok(out)
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test suite per scenario, one test case per seed.
pub fn junit_xml(runs: &[RunSummary]) -> String {
    let failures = runs.iter().filter(|r| !r.met).count();
    let time: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"tumult\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n",
        runs.len()
    ));
    let mut scenarios: Vec<&str> = Vec::new();
    for r in runs {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    for s in scenarios {
        let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.scenario == s).collect();
        let failures = mine.iter().filter(|r| !r.met).count();
        let time: f64 = mine.iter().map(|r| r.wall_seconds).sum();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">\n",
            xml_escape(s),
            mine.len()
        ));
        for r in mine {
            x.push_str(&format!(
                "    <testcase classname=\"tumult.{}\" name=\"seed-{}\" time=\"{:.3}\"",
                xml_escape(&r.scenario),
                r.seed,
                r.wall_seconds
            ));
            if r.met {
                x.push_str("/>\n");
                continue;
            }
            x.push_str(">\n");
            let mut body = r.line.clone();
            if let Some(d) = &r.dir {
                body.push_str(&format!("\nrun directory: {}", d.display()));
            }
            body.push_str(&format!("\nreproduce: {}", r.reproduce));
            x.push_str(&format!(
                "      <failure message=\"verdict {} (expected {})\" type=\"{}\">{}</failure>\n",
                xml_escape(&r.verdict),
                xml_escape(&r.expected),
                if r.verdict == "unknown" {
                    "inconclusive"
                } else {
                    "unexpected-verdict"
                },
                xml_escape(&body)
            ));
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown summary, for a CI job to post as a comment.
pub fn summary_md(runs: &[RunSummary]) -> String {
    let met = runs.iter().filter(|r| r.met).count();
    let sim: f64 = runs.iter().map(|r| r.sim_seconds).sum();
    let wall: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    let mut m = format!(
        "## tumult: {} {met}/{} runs met their expectation\n\n{:.0} simulated seconds, {:.1} wall seconds of runs.\n\n",
        if met == runs.len() { "✅" } else { "❌" },
        runs.len(),
        sim,
        wall
    );
    let unmet: Vec<&RunSummary> = runs.iter().filter(|r| !r.met).collect();
    if !unmet.is_empty() {
        m.push_str("### Unexpected results\n\n| scenario | seed | verdict | expected | failed checks | reproduce |\n|---|---:|---|---|---|---|\n");
        for r in &unmet {
            let failed = r
                .failed_checks
                .iter()
                .map(|(n, d)| format!("**{n}**: {}", d.lines().next().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("<br>");
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | `{}` |\n",
                md_cell(&r.scenario),
                r.seed,
                r.verdict,
                r.expected,
                md_cell(&failed),
                md_cell(&r.reproduce)
            ));
        }
        m.push('\n');
    }
    // Per scenario.
    m.push_str("<details><summary>Every scenario</summary>\n\n| scenario | runs | met | pass | fail | unknown | wall s |\n|---|---:|---:|---:|---:|---:|---:|\n");
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        if !names.contains(&r.scenario.as_str()) {
            names.push(&r.scenario);
        }
    }
    for n in names {
        let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.scenario == n).collect();
        let count = |v: &str| mine.iter().filter(|r| r.verdict == v).count();
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
            md_cell(n),
            mine.len(),
            mine.iter().filter(|r| r.met).count(),
            count("pass"),
            count("fail"),
            count("unknown"),
            mine.iter().map(|r| r.wall_seconds).sum::<f64>()
        ));
    }
    m.push_str("\n</details>\n");
    m
}

/// `index.html`, to be written at `page`.
pub fn index_html(runs: &[RunSummary], page: &Path) -> String {
    let met = runs.iter().filter(|r| r.met).count();
    let mut h = page_start("tumult suite");
    h.push_str(&format!(
        "<h1>tumult suite <span class=\"badge {}\" id=\"suite-verdict\">{met}/{} met their expectation</span></h1>",
        if met == runs.len() { "pass" } else { "fail" },
        runs.len()
    ));
    let sim: f64 = runs.iter().map(|r| r.sim_seconds).sum();
    let wall: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    h.push_str(&format!(
        "<p class=\"desc\">{sim:.0} simulated seconds in {wall:.1} wall seconds of runs.</p>\
<p><input class=\"filter\" id=\"filter\" placeholder=\"filter: scenario, verdict, check…\"></p>"
    ));
    h.push_str("<table id=\"runs\"><tr><th>scenario</th><th class=\"num\">seed</th><th>verdict</th><th>expected</th><th>met</th><th class=\"num\">sim s</th><th class=\"num\">wall s</th><th>failed checks</th><th>report</th></tr>");
    // Unexpected results first, then in run order.
    let mut order: Vec<&RunSummary> = runs.iter().filter(|r| !r.met).collect();
    order.extend(runs.iter().filter(|r| r.met));
    for r in order {
        let link = match &r.dir {
            Some(d) if d.join("report.html").exists() => {
                format!(
                    "<a href=\"{}\">report</a>",
                    esc(&link_from(page, &d.join("report.html")))
                )
            }
            Some(d) => format!(
                "<a href=\"{}\">verdict.json</a>",
                esc(&link_from(page, &d.join("verdict.json")))
            ),
            None => String::new(),
        };
        let failed = r
            .failed_checks
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let verdict_class = match r.verdict.as_str() {
            "pass" | "fail" => r.verdict.as_str(),
            _ => "unknown",
        };
        h.push_str(&format!(
            "<tr class=\"run{}\" title=\"{}\"><td>{}</td><td class=\"num\">{}</td><td><span class=\"badge {verdict_class}\">{}</span></td><td>{}</td><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.2}</td><td>{}</td><td>{link}</td></tr>",
            if r.met { "" } else { " unmet" },
            esc(&r.reproduce),
            esc(&r.scenario),
            r.seed,
            esc(&r.verdict),
            esc(&r.expected),
            if r.met { "yes" } else { "<b>NO</b>" },
            r.sim_seconds,
            r.wall_seconds,
            esc(&failed)
        ));
    }
    h.push_str("</table>");
    h.push_str("<script>(function(){var f=document.getElementById('filter');f.addEventListener('input',function(){var q=f.value.toLowerCase();\
document.querySelectorAll('#runs tr.run').forEach(function(tr){tr.style.display=tr.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});})();</script>");
    h.push_str(&page_end());
    h
}

/// Writes `summary.json`, `summary.md` and `index.html` under `out`, and
/// JUnit XML to `junit` if given.
pub fn write_index(
    out: &Path,
    runs: &[RunSummary],
    junit: Option<&Path>,
) -> Result<(), ReportError> {
    std::fs::create_dir_all(out).map_err(|e| ReportError::io(out, e))?;
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|e| ReportError::io(&path, e))
    };
    write(
        out.join("summary.json"),
        &serde_json::to_vec_pretty(&summary_json(runs)).expect("json"),
    )?;
    write(out.join("summary.md"), summary_md(runs).as_bytes())?;
    let index = out.join("index.html");
    write(index.clone(), index_html(runs, &index).as_bytes())?;
    if let Some(junit) = junit {
        if let Some(parent) = junit.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        }
        write(junit.to_path_buf(), junit_xml(runs).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scenario: &str, seed: u64, met: bool) -> RunSummary {
        RunSummary::from_verdict(
            &json!({
                "scenario": scenario, "seed": seed, "verdict": if met { "pass" } else { "fail" },
                "expected": "pass", "met": met, "sim_seconds": 10.0, "wall_seconds": 1.5,
                "reproduce": format!("tumult run scenarios/{scenario}.toml --seed {seed}"),
                "checks": {"linearizable": {"result": if met { "pass" } else { "fail" }, "detail": "key k0 <&>"}},
            }),
            None,
        )
    }

    #[test]
    fn junit_has_one_case_per_seed_and_a_failure_per_unmet_run() {
        let x = junit_xml(&[run("a", 1, true), run("a", 2, false), run("b&c", 1, true)]);
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert_eq!(x.matches("<failure ").count(), 1);
        assert_eq!(x.matches("<testsuite ").count(), 2);
        assert!(x.contains("b&amp;c") && x.contains("key k0 &lt;&amp;&gt;"));
    }

    #[test]
    fn markdown_lists_unexpected_runs_with_their_command() {
        let m = summary_md(&[run("a", 1, true), run("a", 2, false)]);
        assert!(m.contains("1/2 runs met"));
        assert!(m.contains("`tumult run scenarios/a.toml --seed 2`"));
    }
}
