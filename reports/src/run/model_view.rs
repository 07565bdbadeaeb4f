//! A model (trace conformance) violation drawn for a person: the rule that
//! broke with its section of the paper, a table of the shard's servers as
//! the checker rebuilt them just before the failing event (role, term,
//! vote, commit, applied, snapshot, the log's tail with entry terms, the
//! entries on which servers disagree highlighted), and a protocol timeline
//! of each server's roles and terms around it with the event marked.
//!
//! The state is not parsed back from the check's text: the page replays
//! the history's trace with the same checker up to the failing event
//! ([`tumult_models::conformance::replay_to`]).

use crate::html::{esc, FIG_W};
use plotters::prelude::*;
use std::collections::BTreeMap;
use tumult_models::conformance::{replay_to, ConformanceError, TraceEvent, TraceRecord};
use tumult_models::history::{Entry, History};
use tumult_models::invariants::{ClusterState, Index, NodeId, Role, Term};

/// Entries shown at the end of each server's log.
pub const LOG_TAIL: usize = 10;
/// The protocol timeline shows this much simulated time before the event.
const WINDOW_BEFORE: u64 = 6_000_000_000;
/// ... and this much after it.
const WINDOW_AFTER: u64 = 1_500_000_000;

fn trace_records(history: &History) -> impl Iterator<Item = TraceRecord> + '_ {
    history.records.iter().filter_map(|r| match &r.entry {
        Entry::Trace(t) => Some(TraceRecord::from(t)),
        _ => None,
    })
}

/// The rule, the servers' table and the protocol timeline of the violation
/// at history index `index` (`rule_figure`: what the check recorded, used
/// when the replay does not reach a violation, as for a hand-made verdict).
pub(super) fn render(
    h: &mut String,
    history: &History,
    index: u64,
    shard: Option<u64>,
    rule_figure: Option<&str>,
) {
    let replayed = replay_to(trace_records(history), index);
    match &replayed.error {
        Some(ConformanceError::Violation(v)) if v.index == index => {
            h.push_str(&format!(
                "<p id=\"model-rule\"><b>{}</b> <span class=\"muted\">({})</span> broken by <b>{}</b> in shard {}: {}</p>",
                esc(v.rule.name()),
                esc(v.rule.section()),
                esc(&v.node),
                v.shard,
                esc(&v.message)
            ));
        }
        Some(e) => h.push_str(&format!(
            "<p id=\"model-rule\" class=\"muted\">Replaying the trace stops elsewhere: {}</p>",
            esc(e.to_string().lines().next().unwrap_or_default())
        )),
        None => h.push_str(&format!(
            "<p id=\"model-rule\" class=\"muted\">Replaying the trace to history index {index} finds nothing wrong{}; the check recorded the rule {}.</p>",
            if replayed.before.is_none() { " (no trace event has that index)" } else { "" },
            esc(rule_figure.unwrap_or("(not named)"))
        )),
    }
    let culprit = history.records.iter().find_map(|r| match &r.entry {
        Entry::Trace(t) if t.index == index => Some((t.node.clone(), t.time, t.shard.unwrap_or(0))),
        _ => None,
    });
    if let Some(before) = &replayed.before {
        servers_table(h, before, culprit.as_ref().map(|c| c.0.as_str()));
    }
    if let Some((node, time, s)) = culprit {
        h.push_str(&protocol_timeline(history, shard.unwrap_or(s), time, &node));
    }
}

/// Indexes at which two servers that hold an entry disagree on its term.
fn conflicts(state: &ClusterState) -> BTreeMap<Index, ()> {
    let mut terms: BTreeMap<Index, Term> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for s in state.servers.values() {
        for (k, e) in s.log.iter().enumerate() {
            let i = s.snapshot.index + 1 + k as Index;
            match terms.get(&i) {
                Some(&t) if t != e.term => {
                    out.insert(i, ());
                }
                Some(_) => {}
                None => {
                    terms.insert(i, e.term);
                }
            }
        }
    }
    out
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Follower => "follower",
        Role::PreCandidate => "pre-candidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

fn node_name(id: NodeId) -> String {
    format!("n{id}")
}

fn servers_table(h: &mut String, state: &ClusterState, culprit: Option<&str>) {
    let conflict = conflicts(state);
    h.push_str("<h3>The shard's servers just before the event</h3><table id=\"model-nodes\"><tr><th>node</th><th>role</th><th class=\"num\">term</th><th>vote</th><th class=\"num\">commit</th><th class=\"num\">applied</th><th>snapshot</th><th>log tail (index@term)</th></tr>");
    for (&id, s) in &state.servers {
        let name = node_name(id);
        let shown = s.log.len().min(LOG_TAIL);
        let first = s.snapshot.index + 1 + (s.log.len() - shown) as Index;
        let mut tail = String::new();
        if s.log.len() > shown {
            tail.push_str("<span class=\"muted\">… </span>");
        }
        for (k, e) in s.log[s.log.len() - shown..].iter().enumerate() {
            let i = first + k as Index;
            let mut class = vec!["entry"];
            if conflict.contains_key(&i) {
                class.push("conflict");
            }
            if i <= s.commit {
                class.push("committed");
            }
            tail.push_str(&format!(
                "<span class=\"{}\" title=\"index {i}, term {}\">{i}@t{}</span> ",
                class.join(" "),
                e.term,
                e.term
            ));
        }
        h.push_str(&format!(
            "<tr{}><td><b>{name}</b></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}@t{}</td><td class=\"mono\">{}</td></tr>",
            if culprit == Some(name.as_str()) { " class=\"culprit\"" } else { "" },
            role_name(s.role),
            s.term,
            s.vote.map_or("–".to_string(), node_name),
            s.commit,
            s.applied,
            s.snapshot.index,
            s.snapshot.term,
            tail.trim_end()
        ));
    }
    h.push_str("</table><p class=\"muted\">Highlighted: entries on which servers disagree (same index, other term); underlined: committed as the server knows it; the row of the server whose event broke the rule is marked.</p>");
}

/// A segment of one server's protocol state: [start, end) in a role and term.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub start: u64,
    pub end: u64,
    /// `None` while the server is down (stopped, crashed).
    pub role: Option<Role>,
    pub term: Term,
}

/// Each server's roles and terms in `shard` over `[from, to)`, from the trace.
pub fn segments(
    history: &History,
    shard: u64,
    from: u64,
    to: u64,
) -> BTreeMap<String, Vec<Segment>> {
    let mut out: BTreeMap<String, Vec<Segment>> = BTreeMap::new();
    for r in &history.records {
        let Entry::Trace(t) = &r.entry else { continue };
        if t.time >= to {
            break;
        }
        // Node-wide events (stop) concern every shard.
        if t.shard.is_some_and(|s| s != shard) {
            continue;
        }
        let prev = out
            .get(&t.node)
            .and_then(|v| v.last())
            .map(|s| (s.role, s.term));
        let (_, term) = prev.unwrap_or((Some(Role::Follower), 0));
        let next = match &t.event {
            TraceEvent::TermChange { term } => (Some(Role::Follower), *term),
            TraceEvent::StartPreVote { .. } => (Some(Role::PreCandidate), term),
            TraceEvent::BecomeCandidate { term } => (Some(Role::Candidate), *term),
            TraceEvent::BecomeLeader { term } => (Some(Role::Leader), *term),
            TraceEvent::BecomeFollower { term, .. } => (Some(Role::Follower), *term),
            TraceEvent::Start { term, .. } => (Some(Role::Follower), *term),
            TraceEvent::Stop { .. } => (None, term),
            _ => continue,
        };
        if prev == Some(next) {
            continue;
        }
        let segs = out.entry(t.node.clone()).or_default();
        if let Some(last) = segs.last_mut() {
            last.end = t.time;
        }
        segs.push(Segment {
            start: t.time,
            end: to,
            role: next.0,
            term: next.1,
        });
    }
    for segs in out.values_mut() {
        segs.retain(|s| s.end > from);
        for s in segs.iter_mut() {
            s.start = s.start.max(from);
        }
    }
    out
}

fn role_color(r: Option<Role>) -> RGBColor {
    match r {
        Some(Role::Leader) => RGBColor(0x4e, 0x79, 0xa7),
        Some(Role::Candidate) => RGBColor(0xf2, 0x8e, 0x2b),
        Some(Role::PreCandidate) => RGBColor(0xed, 0xc9, 0x48),
        Some(Role::Follower) => RGBColor(0xc9, 0xd3, 0xdf),
        None => RGBColor(0x55, 0x55, 0x55),
    }
}

/// Roles and terms of every server of the shard around the event, the event
/// marked by a red line on its server's lane.
fn protocol_timeline(history: &History, shard: u64, at: u64, culprit: &str) -> String {
    let from = at.saturating_sub(WINDOW_BEFORE);
    let to = at + WINDOW_AFTER;
    let segs = segments(history, shard, from, to);
    let nodes: Vec<&String> = segs.keys().collect();
    let n = nodes.len().max(1);
    let height = 60 + 26 * n as u32;
    let secs = |t: u64| t as f64 / 1e9;
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, (FIG_W as u32, height)).into_drawing_area();
        let draw = || -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(56)
                .build_cartesian_2d(secs(from)..secs(to), 0f64..n as f64)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(n)
                .y_label_formatter(&|y| {
                    let k = y.floor() as usize;
                    nodes.get(k).map(|s| s.to_string()).unwrap_or_default()
                })
                .x_desc("simulated s")
                .light_line_style(WHITE)
                .draw()?;
            for (k, segs) in segs.values().enumerate() {
                let (y0, y1) = (k as f64 + 0.15, k as f64 + 0.85);
                chart.draw_series(segs.iter().map(|s| {
                    Rectangle::new(
                        [(secs(s.start), y0), (secs(s.end), y1)],
                        role_color(s.role).filled(),
                    )
                }))?;
                chart.draw_series(
                    segs.iter()
                        .filter(|s| s.role.is_some() && s.end - s.start > (to - from) / 40)
                        .map(|s| {
                            Text::new(
                                format!("t{}", s.term),
                                (secs(s.start) + secs(to - from) / 300.0, k as f64 + 0.62),
                                ("sans-serif", 11).into_font(),
                            )
                        }),
                )?;
            }
            if let Some(k) = nodes.iter().position(|n| n.as_str() == culprit) {
                chart.draw_series(std::iter::once(PathElement::new(
                    [(secs(at), k as f64), (secs(at), k as f64 + 1.0)],
                    RED.stroke_width(3),
                )))?;
            }
            root.present()
        };
        draw()
    };
    let mut s = String::from("<h3>Protocol timeline <span class=\"muted\">(roles and terms of the shard's servers around the event, marked in red; blue leader, orange candidate, yellow pre-candidate, grey follower, dark down)</span></h3>");
    match drawn {
        Ok(()) => {
            s.push_str(&svg.replacen("<svg ", "<svg id=\"model-timeline\" class=\"chart\" ", 1))
        }
        Err(e) => s.push_str(&format!(
            "<p class=\"muted\">not drawn: {}</p>",
            esc(&e.to_string())
        )),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tumult_models::history::read_history;

    fn history(lines: &[&str]) -> History {
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{{\"index\":{i},{l}}}\n"))
            .collect();
        read_history(text.as_bytes()).expect("a valid history")
    }

    #[test]
    fn two_leaders_of_one_term_are_shown_with_the_rule_the_servers_and_the_timeline() {
        let h = history(&[
            r#""type":"trace","node":"n1","shard":0,"event":"become-candidate","term":1,"time":1000"#,
            r#""type":"trace","node":"n1","shard":0,"event":"become-leader","term":1,"time":2000"#,
            r#""type":"trace","node":"n1","shard":0,"event":"append","term":1,"from":1,"to":2,"terms":[1,1],"time":3000"#,
            r#""type":"trace","node":"n2","shard":0,"event":"append","term":1,"from":1,"to":1,"terms":[1],"time":3500"#,
            r#""type":"trace","node":"n2","shard":0,"event":"become-candidate","term":1,"time":4000"#,
            r#""type":"trace","node":"n2","shard":0,"event":"become-leader","term":1,"time":5000"#,
        ]);
        let mut out = String::new();
        render(&mut out, &h, 5, Some(0), None);
        assert!(
            out.contains("<b>election-safety</b>") && out.contains("§5.2"),
            "{out}"
        );
        assert!(out.contains("id=\"model-nodes\""));
        assert!(out.contains("<tr class=\"culprit\"><td><b>n2</b>"), "{out}");
        assert!(
            out.contains(">2@t1</span>") && out.contains(">1@t1</span>"),
            "{out}"
        );
        assert!(out.contains("<svg id=\"model-timeline\""), "{out}");
        assert!(
            out.contains("stroke=\"#FF0000\""),
            "the event is marked: {out}"
        );
        let segs = segments(&h, 0, 0, 10_000);
        assert_eq!(
            segs["n1"].iter().map(|s| s.role).collect::<Vec<_>>(),
            vec![Some(Role::Candidate), Some(Role::Leader)]
        );
        assert_eq!(segs["n2"].last().unwrap().start, 5000);
    }

    #[test]
    fn disagreeing_entries_are_highlighted() {
        let h = history(&[
            r#""type":"trace","node":"n1","shard":0,"event":"append","term":1,"from":1,"to":2,"terms":[1,1],"time":1"#,
            r#""type":"trace","node":"n2","shard":0,"event":"append","term":2,"from":1,"to":2,"terms":[1,2],"time":2"#,
            r#""type":"trace","node":"n3","shard":0,"event":"term-change","term":3,"time":3"#,
        ]);
        let state = replay_to(trace_records(&h), 2).before.expect("replayed");
        let mut out = String::new();
        servers_table(&mut out, &state, Some("n3"));
        assert_eq!(out.matches("entry conflict").count(), 2, "{out}");
        assert!(out.contains("title=\"index 1, term 1\">1@t1"));
    }
}
