//! The index of a suite (or of one `tumult run`): `summary.json`,
//! `index.html` (every (scenario, seed) with its verdict, time and a link to
//! its report), `summary.md` (for a CI job to post as a comment) and JUnit
//! XML.

use crate::html::{esc, page_end, page_start};
use crate::run::link_from;
use crate::ReportError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tumult_models::artifact::{
    percentile, read_summary, CheckResult, Outcome, RunDir, RunVerdict, Skipped, SuiteSummary,
    SummaryRow,
};

/// What the index needs of one run: its verdict and where its directory is.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub run: RunVerdict,
    /// The run directory, if one was written.
    pub dir: Option<PathBuf>,
}

impl RunSummary {
    /// The summary of a verdict.
    pub fn from_verdict(v: &RunVerdict, dir: Option<PathBuf>) -> RunSummary {
        RunSummary {
            run: v.clone(),
            dir,
        }
    }

    /// The summary of a `summary.json` row whose run directory is gone: the
    /// failed checks are known by name only.
    pub fn from_row(r: &SummaryRow) -> RunSummary {
        let checks = r
            .failed_checks
            .iter()
            .map(|c| (*c, CheckResult::new(Outcome::Fail, "")))
            .collect();
        let run = RunVerdict {
            scenario: r.scenario.clone(),
            seed: r.seed,
            verdict: r.verdict,
            expected: r.expected,
            met: r.met,
            checks,
            sim_seconds: r.sim_seconds,
            wall_seconds: r.wall_seconds,
            history_sha256: r.history_sha256.clone(),
            reproduce: r.reproduce.clone(),
            availability: r
                .availability
                .map(|a| [("overall".to_string(), a)].into_iter().collect())
                .unwrap_or_default(),
            latency_ms: r.latency_ms,
            ..RunVerdict::default()
        };
        RunSummary {
            run,
            dir: r.dir.as_ref().map(PathBuf::from),
        }
    }

    /// Its row of `summary.json`.
    pub fn row(&self) -> SummaryRow {
        let v = &self.run;
        SummaryRow {
            scenario: v.scenario.clone(),
            seed: v.seed,
            verdict: v.verdict,
            expected: v.expected,
            met: v.met,
            sim_seconds: v.sim_seconds,
            wall_seconds: v.wall_seconds,
            history_sha256: v.history_sha256.clone(),
            dir: self.dir.as_ref().map(|d| d.display().to_string()),
            reproduce: v.reproduce.clone(),
            failed_checks: v.failed_checks().map(|(n, _)| n).collect(),
            availability: v.availability.get("overall").copied(),
            latency_ms: v.latency_ms,
        }
    }
}

/// `summary.json`.
pub fn summary(runs: &[RunSummary]) -> SuiteSummary {
    SuiteSummary {
        runs: runs.iter().map(RunSummary::row).collect(),
        total: runs.len(),
        met: runs.iter().filter(|r| r.run.met).count(),
        skipped: Vec::new(),
    }
}

/// Reads a suite directory's `summary.json`, completing each run from its
/// `verdict.json` when the run directory is there.
pub fn load_suite(dir: &Path) -> Result<Vec<RunSummary>, ReportError> {
    let summary =
        read_summary(&dir.join("summary.json")).map_err(|e| ReportError::Input(e.to_string()))?;
    let mut out = Vec::new();
    for r in &summary.runs {
        // The recorded directory may be relative to where the suite ran: prefer the one beside summary.json.
        let beside = dir.join(&r.scenario).join(format!("seed-{}", r.seed));
        let recorded = r.dir.as_ref().map(PathBuf::from);
        let run_dir = [Some(beside), recorded]
            .into_iter()
            .flatten()
            .find_map(|d| RunDir::load(&d).ok());
        out.push(match run_dir {
            Some(run) => RunSummary::from_verdict(&run.verdict, Some(run.dir)),
            None => RunSummary::from_row(r),
        });
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

/// JUnit XML: one test suite per scenario, one test case per seed; a
/// skipped scenario is a suite of one skipped case with the reason.
pub fn junit_xml(runs: &[RunSummary], skipped: &[Skipped]) -> String {
    let failures = runs.iter().filter(|r| !r.run.met).count();
    let time: f64 = runs.iter().map(|r| r.run.wall_seconds).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"tumult\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">\n",
        runs.len() + skipped.len(),
        skipped.len()
    ));
    for sk in skipped {
        let name = xml_escape(&sk.scenario);
        x.push_str(&format!(
            "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\" time=\"0\">\n    <testcase classname=\"tumult.{name}\" name=\"skipped\" time=\"0\">\n      <skipped message=\"{}\"/>\n    </testcase>\n  </testsuite>\n",
            xml_escape(&sk.reason)
        ));
    }
    let mut scenarios: Vec<&str> = Vec::new();
    for r in runs {
        if !scenarios.contains(&r.run.scenario.as_str()) {
            scenarios.push(&r.run.scenario);
        }
    }
    for s in scenarios {
        let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.run.scenario == s).collect();
        let failures = mine.iter().filter(|r| !r.run.met).count();
        let time: f64 = mine.iter().map(|r| r.run.wall_seconds).sum();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">\n",
            xml_escape(s),
            mine.len()
        ));
        for r in mine {
            x.push_str(&format!(
                "    <testcase classname=\"tumult.{}\" name=\"seed-{}\" time=\"{:.3}\"",
                xml_escape(&r.run.scenario),
                r.run.seed,
                r.run.wall_seconds
            ));
            if r.run.met {
                x.push_str("/>\n");
                continue;
            }
            x.push_str(">\n");
            let mut body = r.run.summary_line();
            if let Some(d) = &r.dir {
                body.push_str(&format!("\nrun directory: {}", d.display()));
            }
            body.push_str(&format!("\nreproduce: {}", r.run.reproduce));
            x.push_str(&format!(
                "      <failure message=\"verdict {} (expected {})\" type=\"{}\">{}</failure>\n",
                r.run.verdict,
                r.run.expected,
                if r.run.verdict == Outcome::Unknown {
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
pub fn summary_md(runs: &[RunSummary], skipped: &[Skipped]) -> String {
    let met = runs.iter().filter(|r| r.run.met).count();
    let sim: f64 = runs.iter().map(|r| r.run.sim_seconds).sum();
    let wall: f64 = runs.iter().map(|r| r.run.wall_seconds).sum();
    let mut m = format!(
        "## tumult: {} {met}/{} runs met their expectation\n\n{:.0} simulated seconds, {:.1} wall seconds of runs.\n\n",
        if met == runs.len() { "✅" } else { "❌" },
        runs.len(),
        sim,
        wall
    );
    if !skipped.is_empty() {
        m.push_str("### Skipped (not run in this mode)\n\n");
        for sk in skipped {
            m.push_str(&format!(
                "- **{}**: {}\n",
                md_cell(&sk.scenario),
                md_cell(&sk.reason)
            ));
        }
        m.push('\n');
    }
    let unmet: Vec<&RunSummary> = runs.iter().filter(|r| !r.run.met).collect();
    if !unmet.is_empty() {
        m.push_str("### Unexpected results\n\n| scenario | seed | verdict | expected | failed checks | reproduce |\n|---|---:|---|---|---|---|\n");
        for r in &unmet {
            let failed = r
                .run
                .failed_checks()
                .map(|(n, c)| format!("**{n}**: {}", c.detail.lines().next().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("<br>");
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | `{}` |\n",
                md_cell(&r.run.scenario),
                r.run.seed,
                r.run.verdict,
                r.run.expected,
                md_cell(&failed),
                md_cell(&r.run.reproduce)
            ));
        }
        m.push('\n');
    }
    // Per scenario.
    m.push_str("<details><summary>Every scenario</summary>\n\n| scenario | runs | met | pass | fail | unknown | wall s |\n|---|---:|---:|---:|---:|---:|---:|\n");
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        if !names.contains(&r.run.scenario.as_str()) {
            names.push(&r.run.scenario);
        }
    }
    for n in names {
        let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.run.scenario == n).collect();
        let count = |v: Outcome| mine.iter().filter(|r| r.run.verdict == v).count();
        m.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
            md_cell(n),
            mine.len(),
            mine.iter().filter(|r| r.run.met).count(),
            count(Outcome::Pass),
            count(Outcome::Fail),
            count(Outcome::Unknown),
            mine.iter().map(|r| r.run.wall_seconds).sum::<f64>()
        ));
    }
    m.push_str("\n</details>\n");
    m
}

/// A group of runs (a scenario's seeds, or explore's runs of one focus) as
/// the index's row shows it: figures over every run added, and the runs
/// kept to be listed under it.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub name: String,
    pub runs: usize,
    pub met: usize,
    failed: BTreeMap<&'static str, usize>,
    availability: (f64, usize),
    p50s: Vec<f64>,
    p99: Option<f64>,
    sim_seconds: f64,
    wall_seconds: f64,
    /// The runs listed under the row.
    pub shown: Vec<RunSummary>,
}

impl Group {
    /// An empty group.
    pub fn new(name: impl Into<String>) -> Group {
        Group {
            name: name.into(),
            ..Group::default()
        }
    }

    /// Counts `r` in the group's figures, and lists it if `keep`.
    pub fn add(&mut self, r: RunSummary, keep: bool) {
        let v = &r.run;
        self.runs += 1;
        self.met += usize::from(v.met);
        for (c, _) in v.failed_checks() {
            *self.failed.entry(c.name()).or_default() += 1;
        }
        if let Some(a) = v.availability.get("overall") {
            self.availability.0 += a;
            self.availability.1 += 1;
        }
        if let Some(l) = v.latency_ms {
            self.p50s.push(l.p50);
            self.p99 = Some(self.p99.map_or(l.p99, |m| m.max(l.p99)));
        }
        self.sim_seconds += v.sim_seconds;
        self.wall_seconds += v.wall_seconds;
        if keep {
            self.shown.push(r);
        }
    }

    fn all_met(&self) -> bool {
        self.met == self.runs
    }

    /// Failed checks over the runs: `linearizable ×2, model`.
    fn failed_checks(&self) -> String {
        self.failed
            .iter()
            .map(|(c, &k)| {
                if k > 1 {
                    format!("{c} ×{k}")
                } else {
                    c.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The mean of the runs' overall availability.
    fn availability(&self) -> Option<f64> {
        let (sum, n) = self.availability;
        (n > 0).then(|| sum / n as f64)
    }

    /// The median of the runs' p50 and the worst of their p99.
    fn latency(&self) -> Option<(f64, f64)> {
        let mut p50 = self.p50s.clone();
        p50.sort_by(f64::total_cmp);
        Some((percentile(&p50, 50.0)?, self.p99?))
    }
}

/// The runs grouped by scenario, in order of first appearance.
fn by_scenario(runs: &[RunSummary]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for r in runs {
        let k = match groups.iter().position(|g| g.name == r.run.scenario) {
            Some(k) => k,
            None => {
                groups.push(Group::new(r.run.scenario.clone()));
                groups.len() - 1
            }
        };
        groups[k].add(r.clone(), true);
    }
    groups
}

fn run_link(r: &RunSummary, page: &Path) -> String {
    match &r.dir {
        Some(d) if d.join("report.html").exists() => format!(
            "<a href=\"{}\">report</a>",
            esc(&link_from(page, &d.join("report.html")))
        ),
        Some(d) => format!(
            "<a href=\"{}\">verdict.json</a>",
            esc(&link_from(page, &d.join("verdict.json")))
        ),
        None => String::new(),
    }
}

fn pct(a: Option<f64>) -> String {
    a.map_or("–".to_string(), |a| format!("{:.1}%", a * 100.0))
}

fn latency_cells(l: Option<(f64, f64)>) -> String {
    match l {
        Some((p50, p99)) => {
            format!("<td class=\"num\">{p50:.1}</td><td class=\"num\">{p99:.1}</td>")
        }
        None => "<td class=\"num\">–</td><td class=\"num\">–</td>".to_string(),
    }
}

/// `index.html`, to be written at `page`: one row per scenario (runs, met,
/// failed checks, availability, latency), each opening onto its seeds.
pub fn index_html(runs: &[RunSummary], page: &Path) -> String {
    let met = runs.iter().filter(|r| r.run.met).count();
    let sim: f64 = runs.iter().map(|r| r.run.sim_seconds).sum();
    let wall: f64 = runs.iter().map(|r| r.run.wall_seconds).sum();
    let groups = by_scenario(runs);
    let intro = format!(
        "{} scenarios, {} runs: {sim:.0} simulated seconds in {wall:.1} wall seconds of runs.",
        groups.len(),
        runs.len()
    );
    groups_html(
        "tumult suite",
        "scenario",
        met,
        runs.len(),
        &intro,
        &groups,
        page,
    )
}

/// A page of groups of runs (the suite's scenarios, explore's focuses):
/// `title` with `met`/`total`, the `intro` (HTML), and a row per group
/// named in the column `what`, which opens onto the runs it lists; groups
/// with an unmet run first and open.
pub fn groups_html(
    title: &str,
    what: &str,
    met: usize,
    total: usize,
    intro: &str,
    groups: &[Group],
    page: &Path,
) -> String {
    let mut h = page_start(title);
    h.push_str(&format!(
        "<h1>{} <span class=\"badge {}\" id=\"suite-verdict\">{met}/{total} met their expectation</span></h1>",
        esc(title),
        if met == total { "pass" } else { "fail" },
    ));
    h.push_str(&format!(
        "<p class=\"desc\">{intro} Availability is the mean of the runs' ok / all; latency (ok operations, ms) is the median of the runs' p50 and the worst of their p99. A row opens onto its runs.</p>\
<p><input class=\"filter\" id=\"filter\" placeholder=\"filter: scenario, verdict, check…\"></p>"
    ));
    h.push_str(&format!("<table id=\"runs\"><tr><th>{}</th><th class=\"num\">runs</th><th>met</th><th>failed checks</th><th class=\"num\">availability</th><th class=\"num\">p50 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">sim s</th><th class=\"num\">wall s</th></tr>", esc(what)));
    let mut order: Vec<&Group> = groups.iter().filter(|g| !g.all_met()).collect();
    order.extend(groups.iter().filter(|g| g.all_met()));
    for (k, g) in order.into_iter().enumerate() {
        let all_met = g.all_met();
        h.push_str(&format!(
            "<tr class=\"scenario{}\" data-group=\"g{k}\"><td><button class=\"open\" aria-expanded=\"{}\">{}</button> {}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{:.1}</td><td class=\"num\">{:.2}</td></tr>",
            if all_met { "" } else { " unmet" },
            !all_met,
            if all_met { "▸" } else { "▾" },
            esc(&g.name),
            g.runs,
            if all_met { format!("{}/{}", g.met, g.runs) } else { format!("<b>{}/{}</b>", g.met, g.runs) },
            esc(&g.failed_checks()),
            pct(g.availability()),
            latency_cells(g.latency()),
            g.sim_seconds,
            g.wall_seconds,
        ));
        // Its runs: unmet first, then in run order; shown when the group has an unmet run.
        let mut runs: Vec<&RunSummary> = g.shown.iter().filter(|r| !r.run.met).collect();
        runs.extend(g.shown.iter().filter(|r| r.run.met));
        for r in runs {
            let failed = r
                .run
                .failed_checks()
                .map(|(n, _)| n.name())
                .collect::<Vec<_>>()
                .join(", ");
            let name = if r.run.scenario == g.name {
                String::new()
            } else {
                format!("{} ", esc(&r.run.scenario))
            };
            h.push_str(&format!(
                "<tr class=\"run{}\" data-group=\"g{k}\"{} title=\"{}\"><td class=\"seed\">{name}seed {} <span class=\"badge {}\">{}</span> expected {} {}</td><td></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{:.1}</td><td class=\"num\">{:.2}</td></tr>",
                if r.run.met { "" } else { " unmet" },
                if all_met { " hidden" } else { "" },
                esc(&r.run.reproduce),
                r.run.seed,
                r.run.verdict.name(),
                r.run.verdict,
                r.run.expected,
                run_link(r, page),
                if r.run.met { "yes" } else { "<b>NO</b>" },
                esc(&failed),
                pct(r.run.availability.get("overall").copied()),
                latency_cells(r.run.latency_ms.map(|l| (l.p50, l.p99))),
                r.run.sim_seconds,
                r.run.wall_seconds,
            ));
        }
        if g.shown.len() < g.runs {
            h.push_str(&format!(
                "<tr class=\"run\" data-group=\"g{k}\"{}><td class=\"seed muted\" colspan=\"9\">{} of {} runs listed (every unmet one and the first met ones)</td></tr>",
                if all_met { " hidden" } else { "" },
                g.shown.len(),
                g.runs
            ));
        }
    }
    h.push_str("</table>");
    h.push_str("<script>(function(){\
document.querySelectorAll('#runs tr.scenario button.open').forEach(function(b){b.addEventListener('click',function(){\
var tr=b.closest('tr'),g=tr.getAttribute('data-group'),open=b.getAttribute('aria-expanded')!=='true';b.setAttribute('aria-expanded',open);b.textContent=open?'▾':'▸';\
document.querySelectorAll('#runs tr.run[data-group='+g+']').forEach(function(r){r.hidden=!open;});});});\
var f=document.getElementById('filter');f.addEventListener('input',function(){var q=f.value.toLowerCase();\
document.querySelectorAll('#runs tr.scenario').forEach(function(tr){var g=tr.getAttribute('data-group'),any=tr.textContent.toLowerCase().indexOf(q)>=0;\
document.querySelectorAll('#runs tr.run[data-group='+g+']').forEach(function(r){if(r.textContent.toLowerCase().indexOf(q)>=0)any=true;});tr.style.display=any?'':'none';});});})();</script>");
    h.push_str(&page_end());
    h
}

/// Writes `summary.json`, `summary.md` and `index.html` under `out`, and
/// JUnit XML to `junit` if given.
pub fn write_index(
    out: &Path,
    runs: &[RunSummary],
    skipped: &[Skipped],
    junit: Option<&Path>,
) -> Result<(), ReportError> {
    std::fs::create_dir_all(out).map_err(|e| ReportError::io(out, e))?;
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|e| ReportError::io(&path, e))
    };
    write(
        out.join("summary.json"),
        &serde_json::to_vec_pretty(&SuiteSummary {
            skipped: skipped.to_vec(),
            ..summary(runs)
        })
        .expect("summary serializes"),
    )?;
    write(out.join("summary.md"), summary_md(runs, skipped).as_bytes())?;
    let index = out.join("index.html");
    let mut html = index_html(runs, &index);
    if !skipped.is_empty() {
        // Before the table: which scenarios this mode could not run, and why.
        let list: String = skipped
            .iter()
            .map(|sk| format!("<li><b>{}</b>: {}</li>", esc(&sk.scenario), esc(&sk.reason)))
            .collect();
        let note = format!(
            "<div id=\"skipped\"><p>Skipped (not run in this mode):</p><ul>{list}</ul></div>"
        );
        if let Some(at) = html.find("<table") {
            html.insert_str(at, &note);
        }
    }
    write(index.clone(), html.as_bytes())?;
    if let Some(junit) = junit {
        if let Some(parent) = junit.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        }
        write(junit.to_path_buf(), junit_xml(runs, skipped).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scenario: &str, seed: u64, met: bool) -> RunSummary {
        let result = if met { Outcome::Pass } else { Outcome::Fail };
        let v = RunVerdict {
            scenario: scenario.into(),
            seed,
            verdict: result,
            met,
            sim_seconds: 10.0,
            wall_seconds: 1.5,
            reproduce: format!("tumult run scenarios/{scenario}.toml --seed {seed}"),
            checks: [(
                tumult_models::artifact::CheckName::Linearizable,
                CheckResult::new(result, "key k0 <&>"),
            )]
            .into_iter()
            .collect(),
            ..RunVerdict::default()
        };
        RunSummary::from_verdict(&v, None)
    }

    #[test]
    fn junit_has_one_case_per_seed_and_a_failure_per_unmet_run() {
        let x = junit_xml(
            &[run("a", 1, true), run("a", 2, false), run("b&c", 1, true)],
            &[],
        );
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert_eq!(x.matches("<failure ").count(), 1);
        assert_eq!(x.matches("<testsuite ").count(), 2);
        assert!(x.contains("b&amp;c") && x.contains("key k0 &lt;&amp;&gt;"));
    }

    #[test]
    fn markdown_lists_unexpected_runs_with_their_command() {
        let m = summary_md(&[run("a", 1, true), run("a", 2, false)], &[]);
        assert!(m.contains("1/2 runs met"));
        assert!(m.contains("`tumult run scenarios/a.toml --seed 2`"));
    }

    #[test]
    fn the_index_has_a_row_per_scenario_opening_onto_its_seeds() {
        let with = |mut r: RunSummary, avail: f64, p50: f64, p99: f64| {
            r.run.availability.insert("overall".into(), avail);
            r.run.latency_ms = Some(tumult_models::artifact::Latency { p50, p99 });
            r
        };
        let runs = [
            with(run("calm", 1, true), 1.0, 2.0, 9.0),
            with(run("calm", 2, true), 0.5, 4.0, 30.0),
            with(run("calm", 3, true), 0.9, 3.0, 12.0),
            with(run("stormy", 1, false), 0.25, 10.0, 100.0),
        ];
        let h = index_html(&runs, Path::new("index.html"));
        assert_eq!(h.matches("<tr class=\"scenario").count(), 2);
        assert_eq!(h.matches("<tr class=\"run").count(), 4);
        // The unmet scenario comes first, open; the calm one's seeds are hidden.
        assert!(h.find("stormy").unwrap() < h.find("calm").unwrap());
        assert_eq!(h.matches(" hidden title=").count(), 3);
        // calm: mean availability 80%, median p50 3.0, worst p99 30.0.
        let calm = &h[h.find("> calm</td>").unwrap()..];
        let calm = &calm[..calm.find("</tr>").unwrap()];
        assert!(
            calm.contains("80.0%") && calm.contains(">3.0<") && calm.contains(">30.0<"),
            "{calm}"
        );
        assert!(h.contains("<b>0/1</b>") && h.contains("linearizable"));
        // Rows of summary.json keep the figures for a directory that is gone.
        let row = &summary(&runs).runs[1];
        let back = RunSummary::from_row(row);
        assert_eq!(back.run.latency_ms, runs[1].run.latency_ms);
        assert_eq!(back.run.availability.get("overall"), Some(&0.5));
    }
}
