//! The evidence of a violation on the run page, drawn from the typed
//! [`Evidence`] of each failed check: the offending key's operations around a
//! linearizability violation, the trace around a model violation.

use super::timeline::status_color;
use super::{link_from, LoadedRun, EMBED_LIN_BYTES};
use crate::analysis::Op;
use crate::html::{esc, ms, time_grid, x_of, FIG_W, GUTTER, PLOT_W};
use std::path::Path;
use tumult_models::artifact::{CheckName, CheckResult, Evidence};
use tumult_models::history::{Entry, History};

/// Rows of the offending key's operations shown for a linearizability violation.
const LIN_ROWS: usize = 120;

fn failed(run: &LoadedRun, name: CheckName) -> Option<&CheckResult> {
    run.run.verdict.checks.get(&name).filter(|c| c.failed())
}

pub(super) fn violations(
    h: &mut String,
    run: &LoadedRun,
    history: &History,
    ops: &[Op],
    page: &Path,
) {
    if let Some(lin) = failed(run, CheckName::Linearizable) {
        h.push_str("<h2 id=\"lin-violation\">Linearizability violation</h2>");
        h.push_str(&format!("<pre>{}</pre>", esc(&lin.detail)));
        lin_violation(h, &lin.evidence, ops);
        let lin_html = run.run.dir.join("history.lin.html");
        if let Ok(meta) = std::fs::metadata(&lin_html) {
            let href = link_from(page, &lin_html);
            h.push_str(&format!(
                "<h3>The checker's visualization</h3><p><a id=\"lin-link\" href=\"{}\">history.lin.html</a> (the checker's view of the offending key)</p>",
                esc(&href)
            ));
            if meta.len() <= EMBED_LIN_BYTES {
                if let Ok(text) = std::fs::read_to_string(&lin_html) {
                    h.push_str(&format!(
                        "<iframe class=\"lin\" id=\"lin-frame\" title=\"linearizability visualization\" sandbox=\"allow-scripts\" srcdoc=\"{}\"></iframe>",
                        esc(&text)
                    ));
                }
            }
        }
    }
    for name in [CheckName::Model, CheckName::Assertion, CheckName::Recovery] {
        let Some(c) = failed(run, name) else {
            continue;
        };
        let title = match name {
            CheckName::Model => "Model (trace conformance) violation",
            CheckName::Assertion => "Assertion failure",
            _ => "Recovery failure",
        };
        h.push_str(&format!("<h2 id=\"{name}-violation\">{title}</h2>"));
        if name == CheckName::Model {
            model_context(h, c, history);
        } else {
            h.push_str(&format!("<pre>{}</pre>", esc(&c.detail)));
        }
    }
}

fn lin_violation(h: &mut String, evidence: &Evidence, ops: &[Op]) {
    let Some(key) = evidence.key.as_deref() else {
        h.push_str("<p class=\"muted\">The check names no key; no operations shown.</p>");
        return;
    };
    let is_cited = |o: &Op| {
        evidence
            .lines
            .iter()
            .any(|l| l.contains(o.invoke_line) || l.contains(o.complete_line))
    };
    let key_ops: Vec<&Op> = ops.iter().filter(|o| o.key == key).collect();
    if key_ops.is_empty() {
        return;
    }
    // The window: the cited operations, with as much time again around them.
    let cited_ops: Vec<&&Op> = key_ops.iter().filter(|o| is_cited(o)).collect();
    let (lo, hi) = match (
        cited_ops.iter().map(|o| o.start).min(),
        cited_ops.iter().map(|o| o.end).max(),
    ) {
        (Some(a), Some(b)) => {
            let pad = ((b - a) / 2).max(10_000_000);
            let first = key_ops.iter().position(|o| o.end + pad >= a).unwrap_or(0);
            let last = key_ops
                .iter()
                .rposition(|o| o.start <= b + pad)
                .map_or(key_ops.len(), |i| i + 1);
            (first, last.max(first + 1))
        }
        _ => (key_ops.len().saturating_sub(LIN_ROWS), key_ops.len()),
    };
    // Never more than LIN_ROWS rows, centred on the cited operations.
    let (lo, hi) = if hi - lo > LIN_ROWS {
        let centre = key_ops.iter().position(|o| is_cited(o)).unwrap_or(lo);
        let lo2 = centre.saturating_sub(LIN_ROWS / 2).max(lo);
        (lo2, (lo2 + LIN_ROWS).min(hi))
    } else {
        (lo, hi)
    };
    let window = &key_ops[lo..hi];
    h.push_str(&format!(
        "<h3>Operations on key <code>{}</code> around the violation</h3><p class=\"muted\">{} of the key's {} operations; the ones the checker cites are highlighted.</p>",
        esc(key),
        window.len(),
        key_ops.len()
    ));
    // A small timeline of the window, one row per process.
    let t0 = window.iter().map(|o| o.start).min().unwrap_or(0);
    let t1 = window.iter().map(|o| o.end).max().unwrap_or(1).max(t0 + 1);
    let mut procs: Vec<u64> = window.iter().map(|o| o.process).collect();
    procs.sort_unstable();
    procs.dedup();
    let row_h = 16.0;
    let height = procs.len() as f64 * row_h + 24.0;
    let span = t1 - t0;
    let mut svg = format!("<svg id=\"lin-ops\" width=\"{FIG_W}\" height=\"{height:.0}\">");
    svg.push_str(&time_grid(span, 0.0, height - 20.0, false));
    for o in window {
        let row = procs.binary_search(&o.process).unwrap_or(0) as f64;
        let x0 = x_of(o.start - t0, span);
        let w = (x_of(o.end - t0, span) - x0).max(2.0);
        let color = status_color(o.status);
        let stroke = if is_cited(o) {
            " stroke=\"#111\" stroke-width=\"2\""
        } else {
            ""
        };
        svg.push_str(&format!(
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{color}\"{stroke}><title>{}</title></rect>",
            row * row_h + 2.0,
            row_h - 4.0,
            esc(&o.describe())
        ));
    }
    for (i, p) in procs.iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">p{p}</text>",
            GUTTER - 8,
            i as f64 * row_h + 12.0
        ));
    }
    svg.push_str(&format!(
        "<text class=\"tick\" x=\"{GUTTER}\" y=\"{:.0}\">{} ms</text><text class=\"tick\" x=\"{}\" y=\"{:.0}\" text-anchor=\"end\">{} ms</text></svg>",
        height - 4.0,
        ms(t0),
        GUTTER + PLOT_W,
        height - 4.0,
        ms(t1)
    ));
    h.push_str(&svg);
    h.push_str(&format!("<details{}><summary>the {} operations as a table</summary><table id=\"lin-table\"><tr><th>process</th><th>f</th><th>argument</th><th>outcome</th><th>result</th><th class=\"num\">invoked ms</th><th class=\"num\">completed ms</th><th>lines</th></tr>", if window.len() <= 30 { " open" } else { "" }, window.len()));
    for o in window {
        h.push_str(&format!(
            "<tr{}><td>p{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"num mono\">{}</td><td class=\"num mono\">{}</td><td class=\"mono\">{}-{}</td></tr>",
            if is_cited(o) { " class=\"cited\"" } else { "" },
            o.process,
            esc(&o.f),
            esc(&o.arg),
            o.status.word(),
            esc(&format!("{}{}", o.result, o.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())),
            ms(o.start),
            ms(o.end),
            o.invoke_line,
            o.complete_line
        ));
    }
    h.push_str("</table></details>");
}

fn model_context(h: &mut String, check: &CheckResult, history: &History) {
    // Files written before evidence existed carry the index and shard as figures.
    let index = check
        .evidence
        .history_index
        .or_else(|| check.figure_u64("index"));
    let Some(index) = index else {
        h.push_str(
            "<p class=\"muted\">The check names no history index; no trace context shown.</p>",
        );
        return;
    };
    let shard = check.evidence.shard.or_else(|| check.figure_u64("shard"));
    let rule = check.figures.get("rule").and_then(|v| v.as_str());
    super::model_view::render(h, history, index, shard, rule);
    h.push_str(&format!(
        "<details><summary>the check's text</summary><pre>{}</pre></details>",
        esc(&check.detail)
    ));
    let Some(pos) = history
        .records
        .iter()
        .position(|r| r.entry.index() == index)
    else {
        h.push_str(&format!(
            "<p class=\"muted\">History index {index} is not in history.jsonl.</p>"
        ));
        return;
    };
    // The lines around it: the same shard's trace events and every nemesis event.
    let relevant = |r: &tumult_models::history::Record| match &r.entry {
        Entry::Trace(t) => shard.is_none() || t.shard == shard || t.shard.is_none(),
        Entry::Nemesis(_) => true,
        Entry::Client(_) => false,
    };
    let before: Vec<_> = history.records[..pos]
        .iter()
        .rev()
        .filter(|r| relevant(r))
        .take(30)
        .collect();
    let after: Vec<_> = history.records[pos + 1..]
        .iter()
        .filter(|r| relevant(r))
        .take(12)
        .collect();
    h.push_str(&format!(
        "<h3>Trace around history index {index}{}</h3><table id=\"model-context\"><tr><th>line</th><th>history</th></tr>",
        shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
    ));
    for r in before.into_iter().rev() {
        h.push_str(&format!(
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            r.line,
            esc(&r.entry.to_line())
        ));
    }
    let r = &history.records[pos];
    h.push_str(&format!(
        "<tr class=\"focus\"><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
        r.line,
        esc(&r.entry.to_line())
    ));
    for r in after {
        h.push_str(&format!(
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            r.line,
            esc(&r.entry.to_line())
        ));
    }
    h.push_str("</table>");
}
