//! Draws a violation as one self-contained HTML page (no scripts): the
//! key's operations on a timeline, one lane per client process, and the
//! longest partial linearizations the search found, each step with the
//! state after it and, where it got stuck, why none of the operations that
//! could come next fits.

use super::search::Partials;
use super::spec::{Operation, Spec};
use std::collections::BTreeMap;
use std::fmt::Write;

/// At most this many partial linearizations are listed.
const MAX_PARTIALS: usize = 20;
/// Horizontal room per distinct time on the timeline, in pixels.
const STEP: usize = 26;
const LANE: usize = 30;
const LEFT: usize = 110;

/// Escapes text for HTML content and double-quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn meta_text<M: Spec>(o: &Operation<M>) -> String {
    o.metadata.map_or_else(String::new, |m| m.to_string())
}

fn process<M: Spec>(o: &Operation<M>) -> u64 {
    o.metadata
        .map(|m| m.process)
        .or(o.client_id.map(u64::from))
        .unwrap_or(0)
}

fn is_open<M: Spec>(o: &Operation<M>) -> bool {
    o.metadata.is_some_and(|m| m.open)
}

/// The page for `ops` of `key`, known not linearizable; `partials` from
/// the search (see [`super::search::explain`]); `complete` is false when
/// that search ended early, so the partial linearizations may not be the
/// longest.
pub(crate) fn page<M: Spec>(
    key: &str,
    ops: &[Operation<M>],
    partials: &Partials,
    complete: bool,
) -> String {
    let mut h = String::new();
    let title = format!(
        "key {key:?}: {} operations that cannot be linearized ({} spec)",
        ops.len(),
        M::NAME
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:sans-serif;margin:1.5em;color:#222}}\
         table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}}\
         th{{background:#f3f3f3}} code{{font-size:13px}}\
         .lin{{fill:#cdebd3;stroke:#3a8a4d}} .out{{fill:#f6d0d0;stroke:#b03a3a}}\
         .mid{{fill:#d7e3f5;stroke:#4a6fa5}} .open{{stroke-dasharray:4 3}}\
         .stuck{{color:#b03a3a}} .note{{color:#666}}\
         svg text{{font-size:11px;font-family:monospace}}\
         </style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if ops.is_empty() {
        h.push_str("<p>No operations.</p></body></html>\n");
        return h;
    }
    h.push_str(
        "<p class=\"note\">Each bar runs from an operation's call to its return; a dashed bar \
         never returned (indeterminate: it may take effect at any time after its call, or \
         never). Green: in the longest partial linearization found; blue: in a shorter one; \
         red: in none (no linearization of the others could be extended by it).</p>\n",
    );
    if !complete {
        h.push_str(
            "<p class=\"note\">The search for partial linearizations ended early (time or \
             memory): the ones below may not be the longest.</p>\n",
        );
    }
    timeline(&mut h, ops, partials);
    linearizations(&mut h, ops, partials);
    operations_table(&mut h, ops, partials);
    h.push_str("</body></html>\n");
    h
}

fn timeline<M: Spec>(h: &mut String, ops: &[Operation<M>], partials: &Partials) {
    // Distinct times, compressed to ranks; open operations end past them.
    let mut times: Vec<i64> = ops
        .iter()
        .flat_map(|o| [o.call_time, o.return_time])
        .collect();
    times.sort_unstable();
    times.dedup();
    let rank = |t: i64| times.partition_point(|&x| x < t);
    let lanes: BTreeMap<u64, usize> = {
        let mut ps: Vec<u64> = ops.iter().map(process).collect();
        ps.sort_unstable();
        ps.dedup();
        ps.into_iter().enumerate().map(|(i, p)| (p, i)).collect()
    };
    let width = LEFT + (times.len() + 1) * STEP + 40;
    let height = lanes.len() * LANE + 20;
    let _ = write!(
        h,
        "<h2>Timeline</h2>\n<svg id=\"timeline\" width=\"{width}\" height=\"{height}\" \
         xmlns=\"http://www.w3.org/2000/svg\">\n"
    );
    for (p, lane) in &lanes {
        let y = 10 + lane * LANE;
        let _ = writeln!(
            h,
            "<text x=\"4\" y=\"{}\">process {p}</text><line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" \
             y2=\"{}\" stroke=\"#eee\"/>",
            y + 16,
            y + LANE / 2,
            width - 10,
            y + LANE / 2
        );
    }
    let longest = partials.seqs.first();
    for (i, o) in ops.iter().enumerate() {
        let open = is_open(o);
        let x0 = LEFT + rank(o.call_time) * STEP;
        let x1 = if open {
            LEFT + times.len() * STEP + 20
        } else {
            LEFT + rank(o.return_time) * STEP + STEP / 2
        };
        let y = 10 + lanes[&process(o)] * LANE + 3;
        let class = match partials.best.get(i).copied().flatten() {
            None => "out",
            Some(_) if longest.is_some_and(|l| l.contains(&i)) => "lin",
            Some(_) => "mid",
        };
        let label = format!("#{} {}", i + 1, M::describe_operation(&o.op));
        let shown: String = if label.chars().count() > (x1 - x0) / 7 {
            let keep = ((x1 - x0) / 7).saturating_sub(1);
            label
                .chars()
                .take(keep)
                .chain(std::iter::once('…'))
                .collect()
        } else {
            label.clone()
        };
        let _ = writeln!(
            h,
            "<g><title>{}</title><rect class=\"{class}{}\" x=\"{x0}\" y=\"{y}\" width=\"{}\" \
             height=\"{}\" rx=\"3\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            esc(&format!("{label}\n{}", meta_text(o))),
            if open { " open" } else { "" },
            (x1 - x0).max(4),
            LANE - 8,
            x0 + 3,
            y + 15,
            esc(&shown)
        );
    }
    h.push_str("</svg>\n");
}

fn linearizations<M: Spec>(h: &mut String, ops: &[Operation<M>], partials: &Partials) {
    let _ = writeln!(
        h,
        "<h2>Longest partial linearizations</h2>\n<p class=\"note\">{} found (each the longest \
         holding some operation){}.</p>",
        partials.seqs.len(),
        if partials.seqs.len() > MAX_PARTIALS {
            format!("; the first {MAX_PARTIALS} are shown")
        } else {
            String::new()
        }
    );
    if partials.seqs.is_empty() {
        h.push_str(
            "<p class=\"stuck\">No operation can be linearized first: every operation that \
             could come first is impossible from the initial state.</p>\n",
        );
    }
    for (n, seq) in partials.seqs.iter().take(MAX_PARTIALS).enumerate() {
        let _ = writeln!(
            h,
            "<h3 id=\"partial-{}\">Partial linearization {} ({} of {} operations)</h3>\n\
             <table><tr><th>step</th><th>operation</th><th>process</th><th>state after</th></tr>\n\
             <tr><td></td><td><i>initial</i></td><td></td><td><code>{}</code></td></tr>",
            n + 1,
            n + 1,
            seq.len(),
            ops.len(),
            esc(&M::describe_state(&M::init()))
        );
        let mut state = M::init();
        let mut done = vec![false; ops.len()];
        for (step, &i) in seq.iter().enumerate() {
            let Some(o) = ops.get(i) else { break };
            let after = M::step(&state, &o.op);
            let shown = after
                .as_ref()
                .map_or_else(|| "(not allowed)".to_string(), M::describe_state);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><code>#{} {}</code></td><td>{}</td><td><code>{}</code></td></tr>",
                step + 1,
                i + 1,
                esc(&M::describe_operation(&o.op)),
                process(o),
                esc(&shown)
            );
            match after {
                Some(s) => state = s,
                None => break,
            }
            done[i] = true;
        }
        h.push_str("</table>\n");
        // What could come next: operations not linearized whose call comes
        // before every such operation's return.
        let first_return = ops
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .map(|(o, _)| o.return_time)
            .min();
        let Some(first_return) = first_return else {
            continue;
        };
        let mut why = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            if done[i] || o.call_time > first_return {
                continue;
            }
            let verdict = match M::step(&state, &o.op) {
                None => format!(
                    "impossible from <code>{}</code>",
                    esc(&M::describe_state(&state))
                ),
                Some(s) => format!(
                    "possible (the state becomes <code>{}</code>), but the search found no way on from there",
                    esc(&M::describe_state(&s))
                ),
            };
            why.push(format!(
                "<li><code>#{} {}</code> (process {}): {verdict}</li>",
                i + 1,
                esc(&M::describe_operation(&o.op)),
                process(o)
            ));
        }
        let _ = writeln!(
            h,
            "<p class=\"stuck\">Stuck here. Operations that could come next:</p><ul>{}</ul>",
            why.join("")
        );
    }
}

fn operations_table<M: Spec>(h: &mut String, ops: &[Operation<M>], partials: &Partials) {
    h.push_str(
        "<h2>Operations</h2>\n<table id=\"ops\"><tr><th>#</th><th>process</th><th>operation</th>\
         <th>where</th><th>longest partial linearization holding it</th></tr>\n",
    );
    for (i, o) in ops.iter().enumerate() {
        let best = match partials.best.get(i).copied().flatten() {
            Some(b) if b < MAX_PARTIALS => format!(
                "<a href=\"#partial-{}\">{}</a> ({} operations)",
                b + 1,
                b + 1,
                partials.seqs[b].len()
            ),
            Some(b) => format!("{} ({} operations)", b + 1, partials.seqs[b].len()),
            None => "none".to_string(),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td>{best}</td></tr>",
            i + 1,
            process(o),
            esc(&M::describe_operation(&o.op)),
            if is_open(o) {
                " <i>(indeterminate)</i>"
            } else {
                ""
            },
            esc(&meta_text(o))
        );
    }
    h.push_str("</table>\n");
}
