//! Small HTML and SVG helpers shared by the run and suite pages: escaping,
//! the stylesheet, the page's fixed geometry and the simulated-time axis.

use crate::analysis::Band;

/// Width of every figure, CSS pixels.
pub const FIG_W: usize = 1200;
/// Left gutter of every figure (lane and row labels).
pub const GUTTER: usize = 90;
/// Width of the plotting area: one pixel column per raster cell.
pub const PLOT_W: usize = 1080;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block: `</` cannot end it early.
pub fn script_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .expect("json")
        .replace("</", "<\\/")
}

/// x of a simulated time (ns) in a figure.
pub fn x_of(t: u64, span: u64) -> f64 {
    GUTTER as f64 + (t as f64 / span.max(1) as f64) * PLOT_W as f64
}

/// Seconds, compactly.
pub fn secs(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 10.0 || s == s.trunc() {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A tick's label: seconds with as many decimals as the step needs.
pub fn tick_label(t: u64, step: u64) -> String {
    let decimals = match step {
        s if s >= 1_000_000_000 => 0,
        s if s >= 100_000_000 => 1,
        s if s >= 10_000_000 => 2,
        _ => 3,
    };
    format!("{:.*}s", decimals, t as f64 / 1e9)
}

/// Milliseconds with three decimals.
pub fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// A round tick step (ns) giving about 10 ticks over `span`.
pub fn tick_step(span: u64) -> u64 {
    let raw = span / 10;
    let mut unit: u64 = 1_000_000;
    loop {
        for m in [1, 2, 5] {
            if unit * m >= raw {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

/// Vertical grid lines and labels of the time axis, as SVG, for a plot
/// area from `top` to `bottom`; labels go below `bottom`.
pub fn time_grid(span: u64, top: f64, bottom: f64, labels: bool) -> String {
    let step = tick_step(span.max(1));
    let mut s = String::new();
    let mut t = 0;
    while t <= span {
        let x = x_of(t, span);
        s.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>"
        ));
        if labels {
            s.push_str(&format!(
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 13.0,
                tick_label(t, step)
            ));
        }
        t += step;
    }
    s
}

/// Nemesis bands as translucent SVG rectangles from `top` to `bottom`.
pub fn svg_bands(bands: &[Band], span: u64, top: f64, bottom: f64) -> String {
    let mut s = String::new();
    for b in bands {
        let x0 = x_of(b.start, span);
        let w = (x_of(b.end, span) - x0).max(1.0);
        s.push_str(&format!(
            "<rect class=\"nemesis-band nb-{}\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}–{}</title></rect>",
            b.channel.name(),
            bottom - top,
            b.channel.color(),
            esc(&b.label),
            secs(b.start),
            secs(b.end)
        ));
    }
    s
}

/// The stylesheet of every page.
pub const CSS: &str = r#"
:root { --ok:#3fae5a; --fail:#d9534f; --info:#f0ad4e; --pending:#9aa0a6; --ink:#1d2330; --muted:#667085; --line:#e4e7ec; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0; background: #f5f6f8; }
main { width: 1260px; margin: 0 auto; padding: 18px 30px 60px; background: #fff; min-height: 100vh; }
h1 { font-size: 22px; margin: 6px 0 2px; }
h2 { font-size: 17px; margin: 26px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 14px; margin: 14px 0 6px; }
p.desc { color: var(--muted); margin: 2px 0 10px; }
code, pre, .mono { font-family: ui-monospace, "JetBrains Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; overflow: auto; max-height: 420px; white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; padding-right: 14px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600; font-size: 12.5px; color: #fff; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--fail); } .badge.unknown { background: var(--info); }
.badge.met { background: #2e6fdb; } .badge.unmet { background: #7a1f1f; } .badge.real { background: #6b4fbb; } .badge.skipped { background: #8a8f98; }
.repro { display: flex; gap: 8px; align-items: center; margin: 8px 0; }
.repro code { background: #10151f; color: #e6edf3; padding: 6px 10px; border-radius: 6px; font-size: 13px; }
.summary-grid { display: flex; gap: 28px; flex-wrap: wrap; margin: 8px 0; }
.summary-grid div b { display: block; font-size: 18px; }
.summary-grid div span { color: var(--muted); font-size: 12px; }
.figure { position: relative; width: 1200px; }
.figure svg { display: block; }
svg text { font-size: 11px; fill: #475467; }
svg .tick { font-size: 10.5px; }
svg .grid { stroke: #eef0f3; stroke-width: 1; }
svg .axis { stroke: #98a2b3; stroke-width: 1; }
.nemesis-band { opacity: .16; }
svg .strip { opacity: .85; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin: 4px 0 4px 90px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
#timeline { position: relative; width: 1200px; }
#timeline canvas { display: block; }
#timeline .overlay { position: absolute; top: 0; bottom: 0; pointer-events: none; opacity: .38; mix-blend-mode: multiply; border-left: 1px solid rgba(0,0,0,.35); }
#tip { position: fixed; pointer-events: none; background: #10151f; color: #fff; font: 12px ui-monospace, Menlo, monospace; padding: 4px 7px; border-radius: 4px; display: none; z-index: 10; white-space: nowrap; }
tr.cited td { background: #fff3cd; }
tr.focus td { background: #fde2e1; font-weight: 600; }
tr.culprit td { background: #fff3cd; }
span.entry { padding: 0 3px; border-radius: 3px; } span.entry.committed { text-decoration: underline; }
span.entry.conflict { background: #f8c9c6; color: #7a1f1f; font-weight: 600; }
.muted { color: var(--muted); }
iframe.lin { width: 1200px; height: 640px; border: 1px solid var(--line); border-radius: 6px; }
details { margin: 6px 0; } summary { cursor: pointer; color: #2e6fdb; }
tr.unmet td { background: #fde2e1; }
tr.scenario td { font-weight: 600; } tr.run td.seed { padding-left: 28px; font-weight: 400; }
button.open { border: 0; background: none; cursor: pointer; color: #2e6fdb; font-size: 12px; padding: 0 4px 0 0; }
input.filter { padding: 4px 8px; width: 320px; border: 1px solid #cfd4dc; border-radius: 6px; }
"#;

/// The start of a page up to `<main>`.
pub fn page_start(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style>\
<script>window.__reportErrors=[];window.addEventListener('error',function(e){{window.__reportErrors.push(String(e.message||e));}});</script></head><body><main>\n",
        esc(title)
    )
}

/// The end of a page: reports script errors into the DOM (`#js-errors`) and
/// marks the page ready (`body[data-report-ready]`), for the tests.
pub fn page_end() -> String {
    "<ul id=\"js-errors\"></ul><script>(function(){var e=window.__reportErrors;var ul=document.getElementById('js-errors');\
e.forEach(function(m){var li=document.createElement('li');li.textContent=m;ul.appendChild(li);});\
document.body.setAttribute('data-report-ready', e.length ? 'errors' : '1');})();</script>\n</main></body></html>\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            script_json(&serde_json::json!({"a": "</script>"})),
            r#"{"a":"<\/script>"}"#
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(20_000_000_000), 2_000_000_000);
        assert_eq!(secs(2_500_000_000), "2.5s");
        assert_eq!(secs(12_000_000_000), "12s");
        assert_eq!(tick_label(150_000_000, 50_000_000), "0.15s");
    }
}
