//! The run page's frame: the header (verdict, expectation, the command that
//! reproduces the run, counts and availability), the checks table, the
//! nemesis events and the run directory's files.

use super::LoadedRun;
use crate::analysis;
use crate::html::{esc, ms};
use std::collections::BTreeMap;
use tumult_models::artifact::Outcome;

fn badge(result: Outcome) -> String {
    format!("<span class=\"badge {result}\">{result}</span>")
}

pub(super) fn header(h: &mut String, run: &LoadedRun) {
    let v = &run.run.verdict;
    h.push_str(&format!(
        "<h1>{} <span class=\"muted\">seed {}</span> {}{} {}</h1>",
        esc(&v.scenario),
        v.seed,
        badge(v.verdict),
        if v.real {
            " <span class=\"badge real\" id=\"real\">real run: processes on this machine</span>"
        } else {
            ""
        },
        if v.met {
            format!(
                "<span class=\"badge met\" id=\"met\">expected {}: met</span>",
                v.expected
            )
        } else {
            format!(
                "<span class=\"badge unmet\" id=\"met\">expected {}: NOT met</span>",
                v.expected
            )
        }
    ));
    if let Some(d) = run.description() {
        h.push_str(&format!("<p class=\"desc\">{}</p>", esc(&d)));
    }
    if !v.reproduce.is_empty() {
        h.push_str(&format!(
            "<div class=\"repro\"><span>Reproduce:</span><code id=\"reproduce\">{}</code></div>",
            esc(&v.reproduce)
        ));
    }
    let avail = |k: &str| {
        v.availability
            .get(k)
            .map_or("–".to_string(), |a| format!("{:.1}%", a * 100.0))
    };
    h.push_str("<div class=\"summary-grid\">");
    for (value, label) in [
        (
            format!("{:.1}s", v.sim_seconds),
            if v.real {
                "run (wall clock)"
            } else {
                "simulated"
            },
        ),
        (format!("{:.1}s", v.wall_seconds), "wall"),
        (format!("{}", v.counts.ok), "ok"),
        (format!("{}", v.counts.fail), "fail"),
        (format!("{}", v.counts.info), "info"),
        (avail("overall"), "availability"),
        (avail("workload"), "during faults"),
        (avail("recovery"), "recovery"),
        (avail("final-reads"), "final reads"),
    ] {
        h.push_str(&format!(
            "<div><b>{}</b><span>{label}</span></div>",
            esc(&value)
        ));
    }
    h.push_str("</div>");
    h.push_str(&format!(
        "<p class=\"muted mono\">history.jsonl sha256 {} · {} entries</p>",
        esc(&v.history_sha256),
        v.history_entries
    ));
}

pub(super) fn checks(h: &mut String, run: &LoadedRun) {
    h.push_str("<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>result</th><th>counts</th><th>figures</th><th>detail</th></tr>");
    let v = &run.run.verdict;
    let counted = v.counted();
    for (name, c) in &v.checks {
        let figures = c
            .figures
            .iter()
            .map(|(k, v)| {
                let v = match v.as_f64() {
                    Some(f) if f.fract() != 0.0 => format!("{f:.3}"),
                    _ => v.to_string(),
                };
                format!("{k} {v}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let first_line = c.detail.lines().next().unwrap_or("");
        h.push_str(&format!(
            "<tr data-check=\"{name}\"><td><b>{name}</b></td><td>{}</td><td>{}</td><td class=\"muted\">{}</td><td>{}</td></tr>",
            badge(c.result),
            if counted.contains(name) { "yes" } else { "<span class=\"muted\">no</span>" },
            esc(&figures),
            esc(first_line)
        ));
    }
    h.push_str("</table>");
}

pub(super) fn nemesis_table(h: &mut String, n: &analysis::Nemesis) {
    h.push_str(&format!(
        "<h2>Nemesis events <span class=\"muted\">({})</span></h2>",
        n.events.len()
    ));
    if n.events.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    h.push_str("<details open><summary>events</summary><table id=\"nemesis-events\"><tr><th class=\"num\">time</th><th>f</th><th>value</th><th>error</th></tr>");
    let mut by_f: BTreeMap<&str, usize> = BTreeMap::new();
    for (t, f, v, e) in n.events.iter().take(500) {
        *by_f.entry(f).or_default() += 1;
        h.push_str(&format!(
            "<tr><td class=\"num mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            ms(*t),
            esc(f),
            esc(v),
            esc(e.as_deref().unwrap_or(""))
        ));
    }
    h.push_str("</table></details>");
}

pub(super) fn files(h: &mut String, run: &LoadedRun) {
    h.push_str("<h2>Run directory</h2>");
    h.push_str(&format!(
        "<p class=\"mono muted\">{}</p>",
        esc(&run.run.dir.display().to_string())
    ));
    if let Some(t) = &run.scenario_text {
        h.push_str(&format!(
            "<details><summary>scenario.toml</summary><pre>{}</pre></details>",
            esc(t)
        ));
    }
    if let Some(log) = &run.log {
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(300)..];
        h.push_str(&format!(
            "<details><summary>log.txt ({} lines{})</summary><pre>{}</pre></details>",
            lines.len(),
            if tail.len() < lines.len() {
                ", the last 300 shown"
            } else {
                ""
            },
            esc(&tail.join("\n"))
        ));
    }
    h.push_str(&format!(
        "<details><summary>verdict.json</summary><pre>{}</pre></details>",
        esc(&serde_json::to_string_pretty(&run.run.verdict).unwrap_or_default())
    ));
}
