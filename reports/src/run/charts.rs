//! The run page's charts: throughput and latency over simulated time, with
//! the nemesis periods behind them, and the latency table.

use crate::analysis::{self, Op};
use crate::html::{esc, svg_bands, time_grid, x_of, FIG_W, GUTTER, PLOT_W};

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

pub(super) fn charts(h: &mut String, ops: &[Op], bands: &[analysis::Band], end: u64) {
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
