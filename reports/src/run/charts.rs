//! The run page's charts, drawn as inline SVG by `plotters`: throughput over
//! simulated time, Jepsen's `latency-raw` (every operation as a point: its
//! invocation time against its latency, log scale, one marker per kind,
//! coloured ok / fail / info), per-kind latency quantiles over time, all
//! with the nemesis periods shaded behind them, and the latency table.

use crate::analysis::{self, Band, Op, Status};
use crate::html::{esc, FIG_W};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

const CHART_H: u32 = 260;
/// At most this many marks in `latency-raw`: points that would land in the
/// same cell of the figure (same kind, outcome, and a few pixels of time
/// and latency) are drawn once, with cells growing until the marks fit, so
/// a page of 100,000 operations stays small.
pub const MAX_RAW_MARKS: usize = 1_500;

const OK: RGBColor = RGBColor(0x3f, 0xae, 0x5a);
const FAIL: RGBColor = RGBColor(0xd9, 0x53, 0x4f);
const INFO: RGBColor = RGBColor(0xf0, 0xad, 0x4e);
/// p50, p95, p99, max.
const QUANTILES: [(f64, &str, RGBColor); 4] = [
    (50.0, "p50", RGBColor(0x4e, 0x79, 0xa7)),
    (95.0, "p95", RGBColor(0x59, 0xa1, 0x4f)),
    (99.0, "p99", RGBColor(0xb0, 0x7a, 0xa1)),
    (100.0, "max", RGBColor(0x79, 0x70, 0x6e)),
];

/// `#rrggbb` (the channels' CSS colours) as a plotters colour.
fn rgb(hex: &str) -> RGBColor {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(0x80);
    RGBColor(c(1), c(3), c(5))
}

fn status_color(s: Status) -> RGBColor {
    match s {
        Status::Ok => OK,
        Status::Fail => FAIL,
        Status::Info | Status::Pending => INFO,
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn latency_ms(op: &Op) -> f64 {
    op.end.saturating_sub(op.start) as f64 / 1e6
}

/// One figure: `draw` paints the drawing area; the SVG gets `id` and the
/// `chart` class. A drawing error (none is expected from a string backend)
/// becomes a note instead of a figure.
fn figure(id: &str, title: &str, note: &str, draw: impl FnOnce(&Area) -> DrawResult) -> String {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, (FIG_W as u32, CHART_H)).into_drawing_area();
        draw(&root).and_then(|()| root.present())
    };
    let mut s = format!("<h3>{}", esc(title));
    if !note.is_empty() {
        s.push_str(&format!(" <span class=\"muted\">({})</span>", esc(note)));
    }
    s.push_str("</h3>");
    match drawn {
        Ok(()) => {
            s.push_str(&svg.replacen("<svg ", &format!("<svg id=\"{id}\" class=\"chart\" "), 1))
        }
        Err(e) => s.push_str(&format!(
            "<p id=\"{id}\" class=\"muted\">not drawn: {}</p>",
            esc(&e.to_string())
        )),
    }
    s
}

/// Shades the nemesis periods over the whole height of a chart.
fn shade<X, Y>(
    chart: &mut ChartContext<SVGBackend, Cartesian2d<X, Y>>,
    bands: &[Band],
    (y0, y1): (Y::ValueType, Y::ValueType),
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    chart.draw_series(bands.iter().map(|b| {
        Rectangle::new(
            [(secs(b.start), y0.clone()), (secs(b.end), y1.clone())],
            rgb(b.channel.color()).mix(0.14).filled(),
        )
    }))?;
    Ok(())
}

/// Throughput of ok, fail and info completions, in buckets of completion time.
fn throughput(ops: &[Op], bands: &[Band], end: u64) -> String {
    let s = analysis::series(ops, end);
    let ymax = [&s.ok, &s.fail, &s.info]
        .iter()
        .flat_map(|v| v.iter())
        .fold(1.0f64, |a, &b| a.max(b))
        * 1.1;
    let x_end = secs(end).max(1e-3);
    let mid = |i: usize| secs(i as u64 * s.bucket + s.bucket / 2).min(x_end);
    let note = format!(
        "ops/s, buckets of {} ms, by completion time",
        s.bucket / 1_000_000
    );
    figure("chart-throughput", "Throughput", &note, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_end, 0f64..ymax)?;
        shade(&mut chart, bands, (0.0, ymax))?;
        chart
            .configure_mesh()
            .x_desc("simulated s")
            .y_desc("ops/s")
            .light_line_style(WHITE)
            .draw()?;
        for (name, color, values) in [
            ("ok", OK, &s.ok),
            ("fail", FAIL, &s.fail),
            ("info", INFO, &s.info),
        ] {
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(i, v)| (mid(i), *v)),
                    color.stroke_width(2),
                ))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
}

type LatencyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

/// A chart of simulated seconds against latency in ms on a log scale, the
/// nemesis periods shaded.
fn latency_axes<'a, 'b: 'a>(
    root: &'a Area<'b>,
    x_end: f64,
    (lo, hi): (f64, f64),
    bands: &[Band],
    x_desc: &str,
) -> Result<LatencyChart<'a, 'b>, DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_end, (lo..hi).log_scale())?;
    shade(&mut chart, bands, (lo, hi))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("latency ms")
        .light_line_style(WHITE)
        .draw()?;
    Ok(chart)
}

/// The latency axis of a set of operations: a log range around them.
fn latency_range(ops: &[&Op]) -> (f64, f64) {
    let (lo, hi) = ops
        .iter()
        .map(|o| latency_ms(o))
        .fold((f64::MAX, 0.0f64), |(lo, hi), l| (lo.min(l), hi.max(l)));
    if hi <= 0.0 {
        return (0.01, 10.0);
    }
    let lo = (lo.max(0.001) / 2.0).max(hi / 1e6);
    (lo, hi * 2.0)
}

/// The operations of `latency-raw` after merging points that share a cell:
/// (kind, outcome) -> (invocation s, latency ms), and the cell size in
/// pixels that made them fit.
type Marks = BTreeMap<(String, Status), Vec<(f64, f64)>>;

/// Merges points into cells of `px` pixels (time by log-latency) of a
/// `w` x `h` plot, growing the cells until at most [`MAX_RAW_MARKS`] remain.
pub fn raw_marks(ops: &[&Op], end: u64, (lo, hi): (f64, f64), (w, h): (f64, f64)) -> (Marks, u32) {
    let span = end.max(1) as f64;
    let (llo, lhi) = (lo.ln(), hi.ln());
    let mut px = 2u32;
    loop {
        let cell = f64::from(px);
        let mut seen = std::collections::BTreeSet::new();
        let mut marks = Marks::new();
        let mut n = 0usize;
        for op in ops {
            let l = latency_ms(op).max(lo);
            let cx = (op.start as f64 / span * w / cell) as u64;
            let cy = ((l.ln() - llo) / (lhi - llo) * h / cell) as u64;
            if seen.insert((op.f.as_str(), op.status.code(), cx, cy)) {
                marks
                    .entry((op.f.clone(), op.status))
                    .or_default()
                    .push((secs(op.start), l));
                n += 1;
            }
        }
        if n <= MAX_RAW_MARKS || px >= 256 {
            return (marks, px);
        }
        px *= 2;
    }
}

/// Jepsen's `latency-raw`: every completed operation (ok, fail, info; a
/// pending one has no latency) at its invocation time and latency.
fn latency_raw(ops: &[Op], bands: &[Band], end: u64) -> String {
    let done: Vec<&Op> = ops.iter().filter(|o| o.status != Status::Pending).collect();
    let (lo, hi) = latency_range(&done);
    let plot = (f64::from(FIG_W as u32 - 80), f64::from(CHART_H - 50));
    let (marks, px) = raw_marks(&done, end, (lo, hi), plot);
    let drawn: usize = marks.values().map(Vec::len).sum();
    let note = if drawn < done.len() {
        format!(
            "{} operations as {drawn} marks: operations of one kind and outcome within {px} px are drawn once",
            done.len()
        )
    } else {
        format!("{} operations", done.len())
    };
    let kinds: Vec<String> = {
        let mut k: Vec<String> = marks.keys().map(|(f, _)| f.clone()).collect();
        k.dedup();
        k
    };
    let x_end = secs(end).max(1e-3);
    figure(
        "chart-latency-raw",
        "Latency, every operation (latency-raw)",
        &note,
        |root| {
            let mut chart = latency_axes(root, x_end, (lo, hi), bands, "invocation, simulated s")?;
            for ((f, status), points) in &marks {
                let color = status_color(*status).mix(0.75);
                let shape = kinds.iter().position(|k| k == f).unwrap_or(0) % 4;
                let label = format!("{f} {}", status.word());
                let anno = match shape {
                    0 => chart
                        .draw_series(points.iter().map(|p| Circle::new(*p, 2, color.filled())))?,
                    1 => chart.draw_series(
                        points
                            .iter()
                            .map(|p| TriangleMarker::new(*p, 3, color.filled())),
                    )?,
                    2 => chart.draw_series(
                        points
                            .iter()
                            .map(|p| Cross::new(*p, 3, color.stroke_width(1))),
                    )?,
                    _ => chart.draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new(*p, 3, color.stroke_width(1))),
                    )?,
                };
                anno.label(label).legend(move |(x, y)| match shape {
                    0 => EmptyElement::at((x, y)) + Circle::new((6, 0), 3, color.filled()),
                    1 => EmptyElement::at((x, y)) + Circle::new((6, 0), 3, color.filled()),
                    _ => EmptyElement::at((x, y)) + Circle::new((6, 0), 3, color.stroke_width(1)),
                });
            }
            legend(&mut chart)
        },
    )
}

/// Latency quantiles per kind of ok operation over time (Jepsen's
/// `latency-quantiles`): p50, p95, p99 and max in buckets of completion
/// time; kinds are told apart by the line's dashes.
fn latency_quantiles(ops: &[Op], bands: &[Band], end: u64) -> String {
    let ok: Vec<&Op> = ops.iter().filter(|o| o.status == Status::Ok).collect();
    let (lo, hi) = latency_range(&ok);
    let bucket = analysis::nice_bucket(end.max(1), 60);
    let mut by: BTreeMap<&str, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for op in &ok {
        by.entry(op.f.as_str())
            .or_default()
            .entry(op.end / bucket)
            .or_default()
            .push(latency_ms(op));
    }
    let x_end = secs(end).max(1e-3);
    let note = format!("ok operations, buckets of {} ms", bucket / 1_000_000);
    figure(
        "chart-latency",
        "Latency quantiles by kind",
        &note,
        |root| {
            let mut chart = latency_axes(root, x_end, (lo, hi), bands, "completion, simulated s")?;
            for (k, (f, buckets)) in by.iter_mut().enumerate() {
                for l in buckets.values_mut() {
                    l.sort_by(|a, b| a.total_cmp(b));
                }
                for (q, name, color) in QUANTILES {
                    let points: Vec<(f64, f64)> = buckets
                        .iter()
                        .filter_map(|(b, l)| {
                            let v = analysis::percentile(l, q)?;
                            Some((secs(b * bucket + bucket / 2).min(x_end), v.max(lo)))
                        })
                        .collect();
                    let style = color.stroke_width(if k == 0 { 2 } else { 1 });
                    let anno = if k % 2 == 0 {
                        chart.draw_series(LineSeries::new(points, style))?
                    } else {
                        chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?
                    };
                    anno.label(format!("{f} {name}"))
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
                }
            }
            legend(&mut chart)
        },
    )
}

pub(super) fn charts(h: &mut String, ops: &[Op], bands: &[Band], end: u64) {
    h.push_str("<h2>Throughput and latency</h2>");
    h.push_str(&throughput(ops, bands, end));
    h.push_str(&latency_raw(ops, bands, end));
    h.push_str(&latency_quantiles(ops, bands, end));
    h.push_str("<table id=\"latency-table\"><tr><th>f</th><th class=\"num\">ok ops</th><th class=\"num\">p50 ms</th><th class=\"num\">p90 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th></tr>");
    for (f, n, p50, p90, p99, max) in analysis::latency_table(ops) {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{p50:.2}</td><td class=\"num\">{p90:.2}</td><td class=\"num\">{p99:.2}</td><td class=\"num\">{max:.2}</td></tr>",
            esc(&f)
        ));
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(f: &str, status: Status, start_ms: u64, latency_us: u64) -> Op {
        Op {
            process: 0,
            f: f.into(),
            key: "k".into(),
            arg: String::new(),
            result: String::new(),
            error: None,
            status,
            start: start_ms * 1_000_000,
            end: start_ms * 1_000_000 + latency_us * 1_000,
            invoke_line: 1,
            complete_line: 2,
        }
    }

    #[test]
    fn every_operation_is_a_mark_until_they_crowd_a_cell() {
        let ops: Vec<Op> = (0..200)
            .map(|i| {
                op(
                    if i % 2 == 0 { "read" } else { "write" },
                    Status::Ok,
                    i * 50,
                    1_000 + i * 100,
                )
            })
            .chain([
                op("write", Status::Info, 3_000, 500_000),
                op("read", Status::Fail, 10, 5),
            ])
            .collect();
        let refs: Vec<&Op> = ops.iter().collect();
        let range = latency_range(&refs);
        assert!(range.0 < 0.005 && range.1 > 500.0, "{range:?}");
        let (marks, px) = raw_marks(&refs, 10_000_000_000, range, (1000.0, 200.0));
        assert_eq!(px, 2);
        assert_eq!(marks.values().map(Vec::len).sum::<usize>(), ops.len());
        assert_eq!(
            marks[&("write".to_string(), Status::Info)],
            vec![(3.0, 500.0)]
        );
        // 100,000 operations of one latency: merged, and at most the cap.
        let many: Vec<Op> = (0..100_000)
            .map(|i| op("read", Status::Ok, i / 10, 700))
            .collect();
        let refs: Vec<&Op> = many.iter().collect();
        let (marks, _) = raw_marks(&refs, 10_000_000_000, latency_range(&refs), (1000.0, 200.0));
        let n: usize = marks.values().map(Vec::len).sum();
        assert!(n > 100 && n <= MAX_RAW_MARKS, "{n}");
    }

    #[test]
    fn the_charts_are_svg_with_their_ids_and_the_bands_shaded() {
        let ops: Vec<Op> = (0..50)
            .map(|i| op("read", Status::Ok, i * 100, 2_000))
            .collect();
        let bands = [Band {
            channel: analysis::Channel::Partition,
            start: 1_000_000_000,
            end: 2_000_000_000,
            label: "p".into(),
        }];
        let mut h = String::new();
        charts(&mut h, &ops, &bands, 5_000_000_000);
        for id in ["chart-throughput", "chart-latency-raw", "chart-latency"] {
            assert!(
                h.contains(&format!("<svg id=\"{id}\" class=\"chart\"")),
                "{id}: {h}"
            );
        }
        assert_eq!(
            h.matches("<circle").count(),
            50 + 1,
            "50 marks and a legend key"
        );
        assert!(
            h.contains("#F28E2B") || h.contains("#f28e2b"),
            "the partition is shaded"
        );
        assert!(h.contains("read p99") && h.contains("read ok"));
    }
}
