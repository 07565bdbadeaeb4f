//! The report of one run directory (`scenario.toml`, `history.jsonl`,
//! `verdict.json`, `log.txt`, `history.lin.html`): one self-contained HTML
//! page with the verdict, the command that reproduces the run, a timeline
//! of every client operation under the nemesis periods, the leadership of
//! every shard, throughput and latency over simulated time, and the
//! evidence of any violation.
//!
//! The page's size does not grow with the history: operations are drawn on
//! a canvas, exactly when there are few, as one cell per lane and pixel
//! column (the worst outcome overlapping it) when there are many.

use crate::analysis::{self, Channel, Op, Status};
use crate::html::{
    esc, ms, page_end, page_start, script_json, secs, svg_bands, time_grid, x_of, FIG_W, GUTTER,
    PLOT_W,
};
use crate::ReportError;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tumult_models::history::{read_history_file, Entry, History};

/// At most this many operations are drawn one by one (with tooltips);
/// beyond, the timeline is rasterized.
pub const EXACT_OPS: usize = 3000;
/// `history.lin.html` up to this size is embedded in the page; larger, it is linked.
pub const EMBED_LIN_BYTES: u64 = 4 << 20;
/// Rows of the offending key's operations shown for a linearizability violation.
const LIN_ROWS: usize = 120;

/// What a run directory holds.
pub struct RunDir {
    pub dir: PathBuf,
    pub verdict: Json,
    pub scenario_text: Option<String>,
    pub scenario: Option<toml::Table>,
    pub history: Result<History, String>,
    pub log: Option<String>,
}

impl RunDir {
    /// Reads a run directory; `verdict.json` must exist, the rest may be missing.
    pub fn load(dir: &Path) -> Result<RunDir, ReportError> {
        let vpath = dir.join("verdict.json");
        let text = std::fs::read_to_string(&vpath).map_err(|e| ReportError::io(&vpath, e))?;
        let verdict: Json = serde_json::from_str(&text)
            .map_err(|e| ReportError::Input(format!("{}:{}: {e}", vpath.display(), e.line())))?;
        let scenario_text = std::fs::read_to_string(dir.join("scenario.toml")).ok();
        let scenario = scenario_text
            .as_deref()
            .and_then(|t| t.parse::<toml::Table>().ok());
        let hpath = dir.join("history.jsonl");
        let history = if hpath.exists() {
            read_history_file(&hpath).map_err(|e| format!("{}: {e}", hpath.display()))
        } else {
            Err(format!("{}: missing", hpath.display()))
        };
        let log = std::fs::read_to_string(dir.join("log.txt")).ok();
        Ok(RunDir {
            dir: dir.to_path_buf(),
            verdict,
            scenario_text,
            scenario,
            history,
            log,
        })
    }

    fn v_str(&self, field: &str) -> String {
        match self.verdict.get(field) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    fn clients(&self) -> Option<u64> {
        self.scenario
            .as_ref()?
            .get("workload")?
            .get("clients")?
            .as_integer()
            .map(|c| c as u64)
    }

    fn description(&self) -> Option<String> {
        self.scenario
            .as_ref()?
            .get("description")?
            .as_str()
            .map(str::to_string)
    }
}

/// The path of `target` as a link from a page written at `page`: relative
/// when `target` lies under the page's directory, else absolute.
pub fn link_from(page: &Path, target: &Path) -> String {
    let base = page.parent().unwrap_or(Path::new("."));
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (b, t) = (abs(base), abs(target));
    match t.strip_prefix(&b) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => format!("file://{}", t.display()),
    }
}

/// Renders the run directory `dir` as the page to be written at `page`.
pub fn render(dir: &Path, page: &Path) -> Result<String, ReportError> {
    let run = RunDir::load(dir)?;
    Ok(render_loaded(&run, page))
}

/// Renders an already loaded run directory.
pub fn render_loaded(run: &RunDir, page: &Path) -> String {
    let scenario = run.v_str("scenario");
    let seed = run.v_str("seed");
    let mut h = page_start(&format!("tumult: {scenario} seed {seed}"));
    header(&mut h, run);
    checks(&mut h, run);
    match &run.history {
        Err(e) => h.push_str(&format!(
            "<h2>History</h2><p class=\"fail\">The history could not be read: <code>{}</code></p>",
            esc(e)
        )),
        Ok(history) => {
            let end = analysis::end_time(history)
                .max(
                    (run.verdict
                        .get("sim_seconds")
                        .and_then(Json::as_f64)
                        .unwrap_or(0.0)
                        * 1e9) as u64,
                )
                .max(1);
            let ops = analysis::pair_ops(history, end);
            let nemesis = analysis::nemesis(history, end);
            violations(&mut h, run, history, &ops, page);
            timeline(&mut h, &ops, &nemesis, run.clients(), end);
            leadership(&mut h, history, &nemesis.bands, end);
            charts(&mut h, &ops, &nemesis.bands, end);
            nemesis_table(&mut h, &nemesis);
        }
    }
    files(&mut h, run);
    h.push_str(&page_end());
    h
}

fn badge(result: &str) -> String {
    let class = match result {
        "pass" | "fail" | "unknown" => result,
        _ => "unknown",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(result))
}

fn header(h: &mut String, run: &RunDir) {
    let v = &run.verdict;
    let met = v.get("met").and_then(Json::as_bool).unwrap_or(false);
    h.push_str(&format!(
        "<h1>{} <span class=\"muted\">seed {}</span> {} {}</h1>",
        esc(&run.v_str("scenario")),
        esc(&run.v_str("seed")),
        badge(&run.v_str("verdict")),
        if met {
            format!(
                "<span class=\"badge met\" id=\"met\">expected {}: met</span>",
                esc(&run.v_str("expected"))
            )
        } else {
            format!(
                "<span class=\"badge unmet\" id=\"met\">expected {}: NOT met</span>",
                esc(&run.v_str("expected"))
            )
        }
    ));
    if let Some(d) = run.description() {
        h.push_str(&format!("<p class=\"desc\">{}</p>", esc(&d)));
    }
    let repro = run.v_str("reproduce");
    if !repro.is_empty() {
        h.push_str(&format!(
            "<div class=\"repro\"><span>Reproduce:</span><code id=\"reproduce\">{}</code></div>",
            esc(&repro)
        ));
    }
    let counts = v.get("counts");
    let count = |k: &str| {
        counts
            .and_then(|c| c.get(k))
            .and_then(Json::as_u64)
            .unwrap_or(0)
    };
    let avail = |k: &str| {
        v.get("availability")
            .and_then(|a| a.get(k))
            .and_then(Json::as_f64)
            .map_or("–".to_string(), |a| format!("{:.1}%", a * 100.0))
    };
    let f = |k: &str| v.get(k).and_then(Json::as_f64).unwrap_or(0.0);
    h.push_str("<div class=\"summary-grid\">");
    for (value, label) in [
        (format!("{:.1}s", f("sim_seconds")), "simulated"),
        (format!("{:.1}s", f("wall_seconds")), "wall"),
        (format!("{}", count("ok")), "ok"),
        (format!("{}", count("fail")), "fail"),
        (format!("{}", count("info")), "info"),
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
        esc(&run.v_str("history_sha256")),
        esc(&run.v_str("history_entries"))
    ));
}

/// The `counted_checks` of a `verdict.json`, if it lists them.
pub fn counted_checks(verdict: &Json) -> Option<Vec<String>> {
    verdict
        .get("counted_checks")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
}

fn checks(h: &mut String, run: &RunDir) {
    h.push_str("<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>result</th><th>counts</th><th>figures</th><th>detail</th></tr>");
    let counted = counted_checks(&run.verdict).unwrap_or_default();
    if let Some(Json::Object(checks)) = run.verdict.get("checks") {
        for (name, c) in checks {
            let result = c.get("result").and_then(Json::as_str).unwrap_or("?");
            let detail = c.get("detail").and_then(Json::as_str).unwrap_or("");
            let figures = match c.get("figures") {
                Some(Json::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = match v.as_f64() {
                            Some(f) if f.fract() != 0.0 => format!("{f:.3}"),
                            _ => v.to_string(),
                        };
                        format!("{k} {v}")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            let first_line = detail.lines().next().unwrap_or("");
            h.push_str(&format!(
                "<tr data-check=\"{}\"><td><b>{}</b></td><td>{}</td><td>{}</td><td class=\"muted\">{}</td><td>{}</td></tr>",
                esc(name),
                esc(name),
                badge(result),
                if counted.contains(name) { "yes" } else { "<span class=\"muted\">no</span>" },
                esc(&figures),
                esc(first_line)
            ));
        }
    }
    h.push_str("</table>");
}

/// Parses `[lines A-B]` and `[line A]` references out of a checker's detail.
fn cited_lines(detail: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut rest = detail;
    while let Some(i) = rest.find("[line") {
        rest = &rest[i + 5..];
        let body: String = rest
            .trim_start_matches('s')
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        let mut parts = body.split('-').filter_map(|p| p.parse::<usize>().ok());
        if let Some(a) = parts.next() {
            out.push((a, parts.next().unwrap_or(a)));
        }
    }
    out
}

/// The number after `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let i = text.find(marker)? + marker.len();
    text[i..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn failed_check<'a>(run: &'a RunDir, name: &str) -> Option<&'a Json> {
    run.verdict
        .get("checks")?
        .get(name)
        .filter(|c| c.get("result").and_then(Json::as_str) == Some("fail"))
}

fn violations(h: &mut String, run: &RunDir, history: &History, ops: &[Op], page: &Path) {
    if let Some(lin) = failed_check(run, "linearizable") {
        let detail = lin.get("detail").and_then(Json::as_str).unwrap_or("");
        h.push_str("<h2 id=\"lin-violation\">Linearizability violation</h2>");
        h.push_str(&format!("<pre>{}</pre>", esc(detail)));
        lin_violation(h, detail, ops);
        let lin_html = run.dir.join("history.lin.html");
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
    for name in ["model", "assertion", "recovery"] {
        let Some(c) = failed_check(run, name) else {
            continue;
        };
        let detail = c.get("detail").and_then(Json::as_str).unwrap_or("");
        let title = match name {
            "model" => "Model (trace conformance) violation",
            "assertion" => "Assertion failure",
            _ => "Recovery failure",
        };
        h.push_str(&format!(
            "<h2 id=\"{name}-violation\">{title}</h2><pre>{}</pre>",
            esc(detail)
        ));
        if name == "model" {
            model_context(h, c, detail, history);
        }
    }
}

fn lin_violation(h: &mut String, detail: &str, ops: &[Op]) {
    let key = detail
        .find("key ")
        .map(|i| {
            detail[i + 4..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let cited = cited_lines(detail);
    let is_cited = |o: &Op| {
        cited
            .iter()
            .any(|&(a, b)| (a..=b).contains(&o.invoke_line) || (a..=b).contains(&o.complete_line))
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
        esc(&key),
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

fn entry_line(e: &Entry) -> String {
    e.to_line()
}

fn model_context(h: &mut String, check: &Json, detail: &str, history: &History) {
    let figures = check.get("figures");
    let fig = |k: &str| figures.and_then(|f| f.get(k)).and_then(Json::as_u64);
    let index = fig("index")
        .or_else(|| fig("history_index"))
        .or_else(|| number_after(detail, "history index"))
        .or_else(|| number_after(detail, "index"));
    let Some(index) = index else {
        h.push_str(
            "<p class=\"muted\">The detail names no history index; no trace context shown.</p>",
        );
        return;
    };
    let shard = fig("shard").or_else(|| number_after(detail, "shard"));
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
            esc(&entry_line(&r.entry))
        ));
    }
    let r = &history.records[pos];
    h.push_str(&format!(
        "<tr class=\"focus\"><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
        r.line,
        esc(&entry_line(&r.entry))
    ));
    for r in after {
        h.push_str(&format!(
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            r.line,
            esc(&entry_line(&r.entry))
        ));
    }
    h.push_str("</table>");
}

fn status_color(s: Status) -> &'static str {
    match s {
        Status::Ok => "#3fae5a",
        Status::Fail => "#d9534f",
        Status::Info => "#f0ad4e",
        Status::Pending => "#9aa0a6",
    }
}

fn legend(h: &mut String, with_ops: bool) {
    h.push_str("<div class=\"legend\">");
    if with_ops {
        for s in [Status::Ok, Status::Fail, Status::Info, Status::Pending] {
            h.push_str(&format!(
                "<span><i style=\"background:{}\"></i>{}</span>",
                status_color(s),
                s.word()
            ));
        }
    }
    for c in Channel::ALL {
        h.push_str(&format!(
            "<span><i style=\"background:{};opacity:.45\"></i>{}</span>",
            c.color(),
            c.name()
        ));
    }
    h.push_str("</div>");
}

fn timeline(
    h: &mut String,
    ops: &[Op],
    nemesis: &analysis::Nemesis,
    clients: Option<u64>,
    end: u64,
) {
    h.push_str(&format!(
        "<h2>Timeline of client operations <span class=\"muted\">({} operations)</span></h2>",
        ops.len()
    ));
    legend(h, true);
    // The nemesis strip: one row per kind of fault, and the point events.
    let channels: Vec<Channel> = Channel::ALL
        .into_iter()
        .filter(|c| nemesis.bands.iter().any(|b| b.channel == *c))
        .collect();
    let row_h = 16.0;
    let strip_h = (channels.len() as f64 + 1.0) * row_h + 4.0;
    let mut svg = format!("<svg id=\"nemesis-strip\" width=\"{FIG_W}\" height=\"{strip_h:.0}\">");
    svg.push_str(&time_grid(end, 0.0, strip_h, false));
    for (i, c) in channels.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            GUTTER - 8,
            y + 11.0,
            c.name()
        ));
        for b in nemesis.bands.iter().filter(|b| b.channel == *c) {
            let x0 = x_of(b.start, end);
            let w = (x_of(b.end, end) - x0).max(2.0);
            svg.push_str(&format!(
                "<rect class=\"strip\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"><title>{} ({}–{})</title></rect>",
                row_h - 3.0,
                c.color(),
                esc(&b.label),
                secs(b.start),
                secs(b.end)
            ));
            if w > 60.0 {
                let max_chars = (w / 6.2) as usize;
                let mut label: String = b.label.chars().take(max_chars).collect();
                if label.len() < b.label.len() {
                    label.pop();
                    label.push('…');
                }
                svg.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#fff;font-size:10px\">{}</text>",
                    x0 + 3.0,
                    y + 10.0,
                    esc(&label)
                ));
            }
        }
    }
    let y = channels.len() as f64 * row_h + 2.0;
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">events</text>",
        GUTTER - 8,
        y + 11.0
    ));
    for m in &nemesis.markers {
        let x = x_of(m.time, end);
        svg.push_str(&format!(
            "<g class=\"nemesis-marker\"><title>{} at {}</title><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{:.1}\" stroke=\"#344054\" stroke-width=\"2\"/><path d=\"M{:.1},{y:.1} l8,0 l-4,6 z\" fill=\"#344054\"/></g>",
            esc(&m.label),
            secs(m.time),
            y + row_h - 2.0,
            x - 4.0
        ));
    }
    svg.push_str("</svg>");
    h.push_str(&svg);

    let lanes = analysis::lanes(ops, clients);
    let lane_h = (640 / lanes.labels.len().max(1)).clamp(3, 14);
    let height = lanes.labels.len().max(1) * lane_h;
    let ticks: Vec<f64> = {
        let step = crate::html::tick_step(end);
        (0..=end / step).map(|i| x_of(i * step, end)).collect()
    };
    let mut data = json!({
        "width": FIG_W, "gutter": GUTTER, "plotW": PLOT_W, "laneH": lane_h, "height": height,
        "span": end / 1000, "lanes": lanes.labels, "ticks": ticks,
    });
    let mode = if ops.len() <= EXACT_OPS {
        let rows: Vec<Json> = ops
            .iter()
            .map(|o| {
                json!([
                    lanes.of[&o.process],
                    o.start / 1000,
                    o.end / 1000,
                    o.status.code().to_string(),
                    o.describe()
                ])
            })
            .collect();
        data["ops"] = Json::Array(rows);
        "ops"
    } else {
        data["cells"] = json!(analysis::rasterize(ops, &lanes, PLOT_W, end));
        "raster"
    };
    data["mode"] = json!(mode);
    if lanes.folded {
        h.push_str("<p class=\"muted\">Too many processes to draw one lane each: each lane is a client, whose successive processes follow one another.</p>");
    }
    if mode == "raster" {
        h.push_str(&format!(
            "<p class=\"muted\">{} operations: each pixel column of a lane shows the worst outcome (info &gt; fail &gt; pending &gt; ok) among the operations that overlap it.</p>",
            ops.len()
        ));
    }
    h.push_str(&format!(
        "<div id=\"timeline\" data-mode=\"{mode}\" data-ops=\"{}\"><canvas id=\"timeline-canvas\" width=\"{FIG_W}\" height=\"{height}\"></canvas>",
        ops.len()
    ));
    for b in &nemesis.bands {
        let x0 = x_of(b.start, end);
        let w = (x_of(b.end, end) - x0).max(1.0);
        h.push_str(&format!(
            "<div class=\"overlay nemesis-band nb-{}\" style=\"left:{x0:.1}px;width:{w:.1}px;background:{}\"></div>",
            b.channel.name(),
            b.channel.color()
        ));
    }
    h.push_str("</div>");
    h.push_str(&format!(
        "<svg width=\"{FIG_W}\" height=\"18\">{}</svg>",
        time_grid(end, 0.0, 2.0, true)
    ));
    h.push_str(&format!(
        "<div id=\"tip\"></div><script type=\"application/json\" id=\"timeline-data\">{}</script>",
        script_json(&data)
    ));
    h.push_str(TIMELINE_JS);
}

/// Draws the timeline from `#timeline-data` on the canvas.
const TIMELINE_JS: &str = r#"<script>(function(){
var D=JSON.parse(document.getElementById('timeline-data').textContent);
var cv=document.getElementById('timeline-canvas'),box=document.getElementById('timeline');
var dpr=window.devicePixelRatio||1,W=D.width,H=D.height,LH=D.laneH;
cv.width=W*dpr;cv.height=H*dpr;cv.style.width=W+'px';cv.style.height=H+'px';
var c=cv.getContext('2d');c.scale(dpr,dpr);
var col={o:'#3fae5a',f:'#d9534f',i:'#f0ad4e',p:'#9aa0a6'};
for(var l=0;l<D.lanes.length;l++){if(l%2){c.fillStyle='#f7f8fa';c.fillRect(D.gutter,l*LH,D.plotW,LH);}}
c.strokeStyle='#e4e7ec';c.lineWidth=1;
D.ticks.forEach(function(x){c.beginPath();c.moveTo(Math.round(x)+.5,0);c.lineTo(Math.round(x)+.5,H);c.stroke();});
function X(t){return D.gutter+t/Math.max(D.span,1)*D.plotW;}
var pad=LH>6?1:0,drawn=0;
if(D.mode==='ops'){
  D.ops.forEach(function(o){var x0=X(o[1]),w=Math.max(1.5,X(o[2])-x0);c.fillStyle=col[o[3]];c.fillRect(x0,o[0]*LH+pad,w,LH-2*pad);drawn++;});
}else{
  D.cells.forEach(function(row,l){var i=0;while(i<row.length){var ch=row[i],j=i+1;while(j<row.length&&row[j]===ch)j++;
    if(ch!==' '){c.fillStyle=col[ch];c.fillRect(D.gutter+i,l*LH+pad,j-i,LH-2*pad);drawn++;}i=j;}});
}
c.fillStyle='#475467';c.font='11px system-ui,sans-serif';c.textAlign='right';c.textBaseline='middle';
if(LH>=9){D.lanes.forEach(function(n,l){c.fillText(n,D.gutter-8,l*LH+LH/2);});}
else{c.fillText(D.lanes.length+' lanes',D.gutter-8,H/2);}
box.setAttribute('data-rendered',String(drawn));
if(D.mode==='ops'){var tip=document.getElementById('tip');
  cv.addEventListener('mousemove',function(e){var r=cv.getBoundingClientRect(),x=e.clientX-r.left,y=e.clientY-r.top;
    var l=Math.floor(y/LH),t=(x-D.gutter)/D.plotW*D.span,hit=null;
    for(var k=0;k<D.ops.length;k++){var o=D.ops[k];if(o[0]===l&&o[1]<=t+D.span/D.plotW&&o[2]>=t-D.span/D.plotW){hit=o;break;}}
    if(hit){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';
      tip.textContent=hit[4]+'  ['+(hit[1]/1000).toFixed(1)+'–'+(hit[2]/1000).toFixed(1)+' ms]';}else{tip.style.display='none';}});
  cv.addEventListener('mouseleave',function(){tip.style.display='none';});}
})();</script>"#;

const NODE_COLORS: [&str; 10] = [
    "#4e79a7", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac",
    "#e15759", "#f28e2b",
];

fn leadership(h: &mut String, history: &History, bands: &[analysis::Band], end: u64) {
    let lead = analysis::leadership(history, end);
    let mut shards: Vec<u64> = analysis::shards_seen(history).into_iter().collect();
    shards.extend(lead.shards.keys().copied());
    shards.sort_unstable();
    shards.dedup();
    h.push_str("<h2>Leadership per shard</h2>");
    if shards.is_empty() {
        h.push_str("<p class=\"muted\">No trace events.</p>");
        return;
    }
    h.push_str("<div class=\"legend\">");
    for (i, n) in lead.nodes.iter().enumerate() {
        h.push_str(&format!(
            "<span><i style=\"background:{}\"></i>{}</span>",
            NODE_COLORS[i % NODE_COLORS.len()],
            esc(n)
        ));
    }
    h.push_str("<span>bar: node · term of its leadership; shaded: nemesis periods</span></div>");
    let sub_h = if shards.len() > 40 { 8.0 } else { 16.0 };
    let mut y = 0.0;
    let mut body = String::new();
    for s in &shards {
        let rows = lead.rows(*s);
        body.push_str(&format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">shard {s}</text>",
            GUTTER - 8,
            y + sub_h * rows as f64 / 2.0 + 4.0
        ));
        for r in lead.shards.get(s).map(Vec::as_slice).unwrap_or(&[]) {
            let ni = lead.nodes.iter().position(|n| *n == r.node).unwrap_or(0);
            let x0 = x_of(r.start, end);
            let w = (x_of(r.end, end) - x0).max(2.0);
            let ry = y + r.row as f64 * sub_h + 1.0;
            body.push_str(&format!(
                "<rect class=\"reign\" x=\"{x0:.1}\" y=\"{ry:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"><title>shard {s}: {} leader in term {} from {} to {}{}</title></rect>",
                sub_h - 2.0,
                NODE_COLORS[ni % NODE_COLORS.len()],
                esc(&r.node),
                r.term,
                ms(r.start),
                ms(r.end),
                if r.open { " (end of history)" } else { "" }
            ));
            if w > 40.0 && sub_h >= 12.0 {
                body.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#fff;font-size:10px\">{} · t{}</text>",
                    x0 + 3.0,
                    ry + sub_h - 5.0,
                    esc(&r.node),
                    r.term
                ));
            }
        }
        y += sub_h * rows as f64 + 4.0;
    }
    let height = y + 2.0;
    h.push_str(&format!(
        "<svg id=\"leadership\" width=\"{FIG_W}\" height=\"{:.0}\">{}{}{}</svg>",
        height + 18.0,
        time_grid(end, 0.0, height, true),
        svg_bands(bands, end, 0.0, height),
        body
    ));
}

fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

type Line<'a> = (&'a str, &'a str, Vec<Option<f64>>);

fn line_chart(
    id: &str,
    title: &str,
    unit: &str,
    lines: &[Line],
    bucket: u64,
    bands: &[analysis::Band],
    end: u64,
) -> String {
    let (top, bottom) = (8.0, 168.0);
    let max = lines
        .iter()
        .flat_map(|l| l.2.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let ymax = nice_ceil(max);
    let y_of = |v: f64| bottom - v / ymax * (bottom - top);
    let mut s = format!("<h3>{}</h3><div class=\"legend\">", esc(title));
    for (name, color, _) in lines {
        s.push_str(&format!(
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(name)
        ));
    }
    s.push_str(&format!(
        "</div><svg class=\"chart\" id=\"{id}\" width=\"{FIG_W}\" height=\"{:.0}\">",
        bottom + 20.0
    ));
    s.push_str(&time_grid(end, top, bottom, true));
    s.push_str(&svg_bands(bands, end, top, bottom));
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let y = y_of(v);
        s.push_str(&format!(
            "<line class=\"grid\" x1=\"{GUTTER}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            GUTTER + PLOT_W,
            GUTTER - 6,
            y + 4.0,
            if ymax < 10.0 { format!("{v:.2}") } else { format!("{v:.0}") }
        ));
    }
    s.push_str(&format!(
        "<text x=\"4\" y=\"{:.0}\" class=\"tick\">{}</text><line class=\"axis\" x1=\"{GUTTER}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\"/>",
        top + 8.0,
        esc(unit),
        GUTTER + PLOT_W
    ));
    for (name, color, values) in lines {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = x_of(i as u64 * bucket + bucket / 2, end);
                    d.push_str(&format!(
                        "{}{x:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        y_of(*v)
                    ));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        s.push_str(&format!(
            "<path class=\"series\" data-series=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" stroke-linejoin=\"round\"/>",
            esc(name),
            d.trim_end()
        ));
    }
    s.push_str("</svg>");
    s
}

fn charts(h: &mut String, ops: &[Op], bands: &[analysis::Band], end: u64) {
    let s = analysis::series(ops, end);
    h.push_str(&format!(
        "<h2>Throughput and latency <span class=\"muted\">(buckets of {} ms, by completion time)</span></h2>",
        s.bucket / 1_000_000
    ));
    let some = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    h.push_str(&line_chart(
        "chart-throughput",
        "Throughput",
        "ops/s",
        &[
            ("ok", "#3fae5a", some(&s.ok)),
            ("fail", "#d9534f", some(&s.fail)),
            ("info", "#f0ad4e", some(&s.info)),
        ],
        s.bucket,
        bands,
        end,
    ));
    h.push_str(&line_chart(
        "chart-latency",
        "Latency of ok operations",
        "ms",
        &[
            ("p50", "#4e79a7", s.p50.clone()),
            ("p99", "#b07aa1", s.p99.clone()),
        ],
        s.bucket,
        bands,
        end,
    ));
    h.push_str("<table id=\"latency-table\"><tr><th>f</th><th class=\"num\">ok ops</th><th class=\"num\">p50 ms</th><th class=\"num\">p90 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th></tr>");
    for (f, n, p50, p90, p99, max) in analysis::latency_table(ops) {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{p50:.2}</td><td class=\"num\">{p90:.2}</td><td class=\"num\">{p99:.2}</td><td class=\"num\">{max:.2}</td></tr>",
            esc(&f)
        ));
    }
    h.push_str("</table>");
}

fn nemesis_table(h: &mut String, n: &analysis::Nemesis) {
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

fn files(h: &mut String, run: &RunDir) {
    h.push_str("<h2>Run directory</h2>");
    h.push_str(&format!(
        "<p class=\"mono muted\">{}</p>",
        esc(&run.dir.display().to_string())
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
        esc(&serde_json::to_string_pretty(&run.verdict).unwrap_or_default())
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cites_line_ranges() {
        assert_eq!(
            cited_lines("key k0: a [lines 6004-6014]; b [lines 7-9]; c [line 12]"),
            vec![(6004, 6014), (7, 9), (12, 12)]
        );
        assert_eq!(
            number_after("rule at history index 42 (time", "history index"),
            Some(42)
        );
    }
}
