//! Linearizability of list-append keys without search: the reads fix the
//! order of the appends, so one pass over that order decides a key.
//!
//! A key's operations are appends of integers and reads that return the
//! whole list (`[]` at first). Failed operations and reads that did not
//! return are already gone (see `prepare`); an `ok` operation took effect
//! once, between its invoke and its completion; an indeterminate append
//! (`info`, or no completion) took effect at most once, at some time after
//! its invoke. Real time is the generic checker's: `a` must come before `b`
//! exactly when `a` completed before `b` was invoked (`a.return < b.call`).
//!
//! # Why the reads decide it
//!
//! Suppose every value is appended at most once on the key (otherwise the
//! key goes to the generic search, [`Decision::RepeatedValues`]). Take any
//! linearization and let `L` be the list at its end: the values of the
//! appends that took effect, in linearization order. The list only grows,
//! so every read returned a prefix of `L`. Hence:
//!
//! 1. All reads are prefixes of one another; in particular of the longest
//!    one, `O` (two reads that differ at some position are a violation).
//! 2. Every value of `O` was appended, and no value shows up twice in it.
//! 3. `L` starts with `O`; the appends of `O` are linearized in `O`'s order,
//!    and a read of length `k` lies after the `k`-th of them and before the
//!    `(k+1)`-th: its slot is fixed. Every append outside `O` lies after the
//!    last append of `O` and after every read (it is the `|O|+1`-th or a
//!    later element of `L`, and no read is that long).
//!
//! So a linearization, if there is one, is a chain of groups, in this
//! order: the reads of length 0, the first append of `O`, the reads of
//! length 1, the second append, ..., the reads of length `|O|`, then the
//! appends outside `O`. Within a group the order is free: reads do not
//! change the list, and the appends outside `O` end the history. Those
//! outside appends that are indeterminate may equally never have happened
//! (they come last and no read saw them), so they constrain nothing.
//!
//! Conversely every chain of groups whose order respects real time is a
//! linearization: each read sees exactly the appends before it, which are
//! the first `k` of `O`, i.e. what it returned.
//!
//! # Real time along the chain
//!
//! An order `s_1, s_2, ...` respects real time when no `s_j` completed
//! before some earlier `s_i` was invoked: `s_j.return >= max(s_i.call, i <
//! j)` for every `j`. Let `P` be the latest invoke among the groups before
//! `s_j`'s group. Every order of a group needs each member's return to be
//! at least `P`; ordering the group by invoke time needs nothing more (a
//! member's return is after its own invoke, hence after the invokes of the
//! members before it). So the key is linearizable exactly when every
//! operation of the chain completed no earlier than the latest invoke of
//! the groups before its own; indeterminate operations never complete, so
//! they only move `P`. One pass decides it, in time linear in the key's
//! operations and the total length of its reads.
//!
//! # The proof of a violation
//!
//! A violation names a small set of the key's operations that on its own
//! cannot be linearized, closed as the generic checker's shrinking requires
//! (see [`super::spec::Role`]): with every read come the appends of the
//! values it returned, so the set proves something about the whole key.
//! When `s_j` completed before the invoke of an earlier `s_i`, the set is:
//! - `s_i` a read, `s_j` an append it lacks: the read began after the
//!   append completed (a stale read);
//! - both reads: the list shrank;
//! - `s_i` an append, `s_j` a read that holds its value: the read returned
//!   the value before anyone appended it;
//! - both appends: the shortest read that holds both shows them in the
//!   other order than real time allows (for an append outside `O`, the
//!   shortest read that holds `s_i` shows it without `s_j`, which came
//!   first).
//!
//! The set is then shrunk further, one operation at a time, with this same
//! checker, within the shrinking budget.

use super::engine::{self, Outcome};
use super::spec::{KeyOps, ListAppendSpec, ListOp, OpMeta, Operation};
use super::{CheckOptions, KeyReport, KeyResult, Verdict, ViolationOp};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

type Op = Operation<ListAppendSpec>;

/// Why a set of operations cannot be linearized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// Indices (into the operations checked) of a set that on its own
    /// cannot be linearized, ascending.
    pub ops: Vec<usize>,
    /// What is wrong, in one sentence.
    pub reason: String,
}

/// What [`decide`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Linearizable,
    Violation(Conflict),
    /// A value is appended more than once: the reads do not fix the order,
    /// so the key needs the generic search.
    RepeatedValues,
}

fn list(op: &Op) -> &[i64] {
    match &op.op {
        ListOp::Read(l) => l,
        ListOp::Append(_) => &[],
    }
}

/// An operation as the reports show it, with where it is in the history.
fn show(op: &Op) -> String {
    let what = match &op.op {
        ListOp::Append(v) => format!("append({v})"),
        ListOp::Read(l) if l.len() <= 8 => format!("read() -> {l:?}"),
        ListOp::Read(l) => format!(
            "read() -> [{}, {}, {}, .., {}] ({} values)",
            l[0],
            l[1],
            l[2],
            l[l.len() - 1],
            l.len()
        ),
    };
    match &op.metadata {
        Some(m) => format!("{what} [{m}]"),
        None => what,
    }
}

/// Decides one key (see the module doc).
pub(crate) fn decide(ops: &[Op]) -> Decision {
    // Lookups only: nothing iterates this map.
    let mut append_of: HashMap<i64, usize> = HashMap::new();
    let mut reads: Vec<usize> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        match &o.op {
            ListOp::Append(v) => {
                if append_of.insert(*v, i).is_some() {
                    return Decision::RepeatedValues;
                }
            }
            ListOp::Read(_) => reads.push(i),
        }
    }
    let violation = |mut set: Vec<usize>, reason: String| {
        // Close the set: every read comes with the appends it saw.
        let mut refs: Vec<usize> = Vec::new();
        for &i in &set {
            refs.extend(list(&ops[i]).iter().filter_map(|v| append_of.get(v)));
        }
        set.extend(refs);
        let set: BTreeSet<usize> = set.into_iter().collect();
        Decision::Violation(Conflict {
            ops: set.into_iter().collect(),
            reason,
        })
    };

    // 1. Every read is a prefix of the longest (the first of the longest).
    let longest = reads
        .iter()
        .copied()
        .max_by_key(|&i| (list(&ops[i]).len(), std::cmp::Reverse(i)));
    let order: &[i64] = longest.map_or(&[], |i| list(&ops[i]));
    for &r in &reads {
        let l = list(&ops[r]);
        let Some(d) = l.iter().zip(order).position(|(a, b)| a != b) else {
            continue;
        };
        // The shortest read that agrees with `order` past position `d`
        // (`order`'s own read does).
        let witness = reads
            .iter()
            .copied()
            .filter(|&w| {
                let wl = list(&ops[w]);
                wl.len() > d && wl[..=d] == order[..=d]
            })
            .min_by_key(|&w| (list(&ops[w]).len(), w))
            .expect("the longest read agrees with itself");
        let reason = format!(
            "{} and {} disagree at position {}: {} vs {}; every read must be a prefix of the \
             one list that appends build",
            show(&ops[witness]),
            show(&ops[r]),
            d + 1,
            order[d],
            l[d]
        );
        return violation(vec![witness, r], reason);
    }
    // From here on a read of length > p holds `order[p]`.
    let shortest_longer_than = |p: usize| {
        reads
            .iter()
            .copied()
            .filter(|&r| list(&ops[r]).len() > p)
            .min_by_key(|&r| (list(&ops[r]).len(), r))
            .expect("the longest read is longer")
    };

    // 2. Every value of `order` was appended, once.
    let mut position: Vec<Option<usize>> = vec![None; ops.len()];
    let mut chain: Vec<usize> = Vec::with_capacity(order.len());
    for (p, v) in order.iter().enumerate() {
        let Some(&a) = append_of.get(v) else {
            let r = shortest_longer_than(p);
            let reason = format!(
                "{} returned {v} at position {}, but no operation appended {v}",
                show(&ops[r]),
                p + 1
            );
            return violation(vec![r], reason);
        };
        if let Some(q) = position[a] {
            let r = shortest_longer_than(p);
            let reason = format!(
                "{} returned {v} twice (positions {} and {}), but it was appended once",
                show(&ops[r]),
                q + 1,
                p + 1
            );
            return violation(vec![r], reason);
        }
        position[a] = Some(p);
        chain.push(a);
    }

    // 3. The reads of each length, in operation order.
    let mut slot: Vec<Vec<usize>> = vec![Vec::new(); order.len() + 1];
    for &r in &reads {
        slot[list(&ops[r]).len()].push(r);
    }

    // 4. Along the chain, every operation must complete no earlier than
    // the latest invoke of the groups before its own.
    let mut latest: Option<usize> = None;
    let later = |latest: Option<usize>, i: usize| match latest {
        Some(l) if ops[l].call_time >= ops[i].call_time => Some(l),
        _ => Some(i),
    };
    let too_early = |latest: Option<usize>, j: usize| match latest {
        Some(i) if ops[j].return_time < ops[i].call_time => Some(i),
        _ => None,
    };
    let rt = |i: usize, j: usize| -> Decision {
        let (si, sj) = (show(&ops[i]), show(&ops[j]));
        match (&ops[i].op, &ops[j].op, position[i], position[j]) {
            (ListOp::Read(li), ListOp::Append(v), _, _) => violation(
                vec![i, j],
                format!(
                    "{sj} completed before {si} was invoked, yet that read has no {v} (it \
                     returned {} values)",
                    li.len()
                ),
            ),
            (ListOp::Read(li), ListOp::Read(lj), _, _) => violation(
                vec![i, j],
                format!(
                    "{sj} completed before {si} was invoked, yet returned more values ({} vs \
                     {}): the list cannot shrink",
                    lj.len(),
                    li.len()
                ),
            ),
            (ListOp::Append(v), ListOp::Read(_), _, _) => violation(
                vec![j],
                format!("{sj} returned {v} and completed before {si} was invoked"),
            ),
            (ListOp::Append(_), ListOp::Append(_), Some(_), Some(y)) => {
                let r = shortest_longer_than(y);
                violation(
                    vec![i, j, r],
                    format!(
                        "{} shows {si} before {sj}, but {sj} completed before {si} was invoked",
                        show(&ops[r])
                    ),
                )
            }
            (ListOp::Append(_), ListOp::Append(_), Some(x), None) => {
                let r = shortest_longer_than(x);
                violation(
                    vec![i, j, r],
                    format!(
                        "{sj} completed before {si} was invoked, yet {} has the later append \
                         without the earlier",
                        show(&ops[r])
                    ),
                )
            }
            (ListOp::Append(_), ListOp::Append(_), None, _) => {
                unreachable!("an append outside the reads is never earlier in the chain")
            }
        }
    };
    for k in 0..=order.len() {
        if k > 0 {
            let a = chain[k - 1];
            if let Some(i) = too_early(latest, a) {
                return rt(i, a);
            }
            latest = later(latest, a);
        }
        let before = latest;
        for &r in &slot[k] {
            if let Some(i) = too_early(before, r) {
                return rt(i, r);
            }
            latest = later(latest, r);
        }
    }
    // 5. Appends no read saw come last (indeterminate ones never complete,
    // so they pass).
    for (a, o) in ops.iter().enumerate() {
        if matches!(o.op, ListOp::Append(_)) && position[a].is_none() {
            if let Some(i) = too_early(latest, a) {
                return rt(i, a);
            }
        }
    }
    Decision::Linearizable
}

/// Shrinks `conflict` (over `ops`) one operation at a time while the rest
/// still cannot be linearized, dropping only what keeps it a proof: any
/// read, and appends no remaining read saw. Returns the smaller conflict
/// (indices into `ops`) and whether it ran to the end before `deadline`.
pub(crate) fn shrink(ops: &[Op], conflict: Conflict, deadline: Instant) -> (Conflict, bool) {
    let mut cur = conflict;
    loop {
        let mut progress = false;
        // Reads first (they hold appends in the set), then appends; in
        // operation order.
        let candidates: Vec<usize> = {
            let (mut r, a): (Vec<usize>, Vec<usize>) = cur
                .ops
                .iter()
                .partition(|&&i| matches!(ops[i].op, ListOp::Read(_)));
            r.extend(a);
            r
        };
        // Values the reads of the set saw: their appends must stay.
        let seen_by = |set: &[usize]| -> BTreeSet<i64> {
            set.iter().flat_map(|&i| list(&ops[i])).copied().collect()
        };
        let mut seen = seen_by(&cur.ops);
        for c in candidates {
            if Instant::now() >= deadline {
                return (cur, false);
            }
            if cur.ops.binary_search(&c).is_err() {
                continue; // already gone with an earlier drop
            }
            if matches!(ops[c].op, ListOp::Append(v) if seen.contains(&v)) {
                continue;
            }
            let rest: Vec<usize> = cur.ops.iter().copied().filter(|&i| i != c).collect();
            let sub: Vec<Op> = rest.iter().map(|&i| ops[i].clone()).collect();
            if let Decision::Violation(found) = decide(&sub) {
                cur = Conflict {
                    ops: found.ops.iter().map(|&i| rest[i]).collect(),
                    reason: found.reason,
                };
                seen = seen_by(&cur.ops);
                progress = true;
            }
        }
        if !progress {
            return (cur, true);
        }
    }
}

/// Checks every key of a list-append history: with [`decide`] where the
/// appended values are unique, with the generic search (`engine`) where
/// they are not. The verdict names the first violating key in key order
/// among those decided here; keys left to the generic search are checked
/// only when none is found (else they are `Skipped`).
pub(crate) fn check_keys(
    keys: &[KeyOps<ListAppendSpec>],
    opts: &CheckOptions,
    start: Instant,
) -> Outcome {
    let deadline = engine::deadline_after(start, opts.timeout);
    let mut per_key: Vec<KeyReport> = Vec::with_capacity(keys.len());
    let mut generic: Vec<usize> = Vec::new();
    let mut found: Option<(usize, Conflict)> = None;
    for (i, k) in keys.iter().enumerate() {
        let t0 = Instant::now();
        let result = if t0 >= deadline {
            KeyResult::Unknown
        } else {
            match decide(&k.ops) {
                Decision::Linearizable => KeyResult::Ok,
                Decision::Violation(c) => {
                    if found.is_none() {
                        found = Some((i, c));
                    }
                    KeyResult::Violation
                }
                Decision::RepeatedValues => {
                    generic.push(i);
                    KeyResult::Unknown
                }
            }
        };
        per_key.push(KeyReport {
            key: k.key.clone(),
            result,
            operations: k.ops.len(),
            seconds: t0.elapsed().as_secs_f64(),
        });
    }

    if let Some((i, conflict)) = found {
        for r in &mut per_key {
            if r.result == KeyResult::Unknown {
                r.result = KeyResult::Skipped;
            }
        }
        let verdict = violation(&keys[i], conflict, opts, deadline);
        return Outcome { verdict, per_key };
    }

    let generic_verdict = engine::check_subset(keys, &generic, &mut per_key, opts, start);
    let verdict = match generic_verdict {
        Verdict::Ok
            if per_key
                .iter()
                .any(|r| matches!(r.result, KeyResult::Unknown | KeyResult::OverBudget)) =>
        {
            Verdict::Unknown
        }
        v => v,
    };
    Outcome { verdict, per_key }
}

/// The verdict for `conflict` in `key`: shrunk within the budget, described
/// and drawn.
fn violation(
    key: &KeyOps<ListAppendSpec>,
    conflict: Conflict,
    opts: &CheckOptions,
    deadline: Instant,
) -> Verdict {
    let t0 = Instant::now();
    let (conflict, minimal) = match opts.shrink {
        Some(budget) => shrink(
            &key.ops,
            conflict,
            engine::deadline_after(t0, budget).min(deadline),
        ),
        None => (conflict, false),
    };
    let shrink_seconds = t0.elapsed().as_secs_f64();
    let mut ops: Vec<&Op> = conflict.ops.iter().map(|&i| &key.ops[i]).collect();
    ops.sort_by_key(|o| (o.call_time, o.return_time));
    let described: Vec<ViolationOp> = ops.iter().map(|o| describe(o)).collect();
    let (html, html_error) = match &opts.html {
        Some(path) => match draw(&key.key, &conflict.reason, &described, path) {
            Ok(()) => (Some(path.clone()), None),
            Err(e) => (None, Some(format!("{}: {e}", path.display()))),
        },
        None => (None, None),
    };
    Verdict::Violation {
        key: key.key.clone(),
        ops: described,
        key_operations: key.ops.len(),
        minimal,
        shrink_seconds,
        html,
        html_error,
    }
}

fn describe(o: &Op) -> ViolationOp {
    let meta = o.metadata.unwrap_or(OpMeta {
        process: o.client_id.unwrap_or(0) as u64,
        index: 0,
        invoke_line: 0,
        complete_line: None,
        invoke_time: 0,
        complete_time: None,
        open: false,
    });
    ViolationOp {
        process: meta.process,
        operation: o.op.to_string(),
        index: meta.index,
        invoke_line: meta.invoke_line,
        complete_line: meta.complete_line,
        invoke_time: meta.invoke_time,
        complete_time: meta.complete_time,
        indeterminate: meta.open,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes a self-contained page showing the violation: the reason, the
/// operations as bars on a time line (one lane per process) and as a table.
fn draw(key: &str, reason: &str, ops: &[ViolationOp], path: &Path) -> std::io::Result<()> {
    use std::fmt::Write;
    let t_min = ops.iter().map(|o| o.invoke_time).min().unwrap_or(0);
    let t_max = ops
        .iter()
        .map(|o| o.complete_time.unwrap_or(o.invoke_time))
        .max()
        .unwrap_or(0);
    // Open operations run to the right edge, a little past the last event.
    let span = t_max.saturating_sub(t_min).max(1) as f64 * 1.1;
    let lanes: BTreeSet<u64> = ops.iter().map(|o| o.process).collect();
    let lanes: Vec<u64> = lanes.into_iter().collect();
    let (width, lane_h, left) = (1000.0, 34.0, 90.0);
    // Times of a history file need not grow: clamp what lies before `t_min`.
    let x = |t: u64| left + t.saturating_sub(t_min) as f64 / span * (width - left - 10.0);
    let mut svg = String::new();
    let height = lanes.len() as f64 * lane_h + 10.0;
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">"
    );
    for (n, p) in lanes.iter().enumerate() {
        let y = n as f64 * lane_h + 5.0;
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{}\" font-size=\"12\">process {p}</text>",
            y + 18.0
        );
    }
    for o in ops {
        let n = lanes.binary_search(&o.process).unwrap_or(0);
        let y = n as f64 * lane_h + 5.0;
        let x0 = x(o.invoke_time);
        let x1 = o
            .complete_time
            .filter(|_| !o.indeterminate)
            .map_or(width - 10.0, x);
        let fill = if o.indeterminate {
            "#f4d58d"
        } else {
            "#9cc3e6"
        };
        let _ = write!(
            svg,
            "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"26\" \
             fill=\"{fill}\" stroke=\"#444\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{}</text></g>",
            esc(&o.to_string()),
            (x1 - x0).max(2.0),
            x0 + 3.0,
            y + 17.0,
            esc(&o.operation)
        );
    }
    svg.push_str("</svg>");
    let mut rows = String::new();
    for o in ops {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            o.process,
            esc(&o.operation),
            o.invoke_line,
            o.complete_line.map_or("-".to_string(), |l| l.to_string()),
            o.invoke_time,
            if o.indeterminate {
                "indeterminate".to_string()
            } else {
                o.complete_time.map_or("-".to_string(), |t| t.to_string())
            }
        );
    }
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>key {k}: not \
         linearizable</title><style>body{{font-family:sans-serif;margin:1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}\
         </style></head><body><h1>key {k}: not linearizable (list-append)</h1><p>{r}</p>\
         {svg}<table><tr><th>process</th><th>operation</th><th>invoke line</th>\
         <th>completion line</th><th>invoke time</th><th>completion time</th></tr>{rows}\
         </table></body></html>\n",
        k = esc(key),
        r = esc(reason),
    );
    std::fs::write(path, page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ClientOp, Entry, Function, History, OpType, Value};
    use crate::lin::prepare::{prepare_stream, records_of, Prepared};
    use std::time::Duration;

    /// A history of one key `k` built line by line; each line's time is
    /// its position.
    #[derive(Default)]
    struct H(Vec<Entry>);

    impl H {
        fn line(&mut self, p: u64, t: OpType, f: Function, v: Value) -> &mut H {
            let i = self.0.len() as u64;
            self.0
                .push(Entry::Client(ClientOp::new(i, t, p, f, "k", v, i)));
            self
        }
        fn invoke_append(&mut self, p: u64, v: i64) -> &mut H {
            self.line(p, OpType::Invoke, Function::Append, Value::Int(v))
        }
        fn done_append(&mut self, p: u64, t: OpType, v: i64) -> &mut H {
            self.line(p, t, Function::Append, Value::Int(v))
        }
        fn append(&mut self, p: u64, v: i64) -> &mut H {
            self.invoke_append(p, v).done_append(p, OpType::Ok, v)
        }
        fn invoke_read(&mut self, p: u64) -> &mut H {
            self.line(p, OpType::Invoke, Function::Read, Value::Null)
        }
        fn done_read(&mut self, p: u64, l: &[i64]) -> &mut H {
            self.line(p, OpType::Ok, Function::Read, Value::List(l.to_vec()))
        }
        fn read(&mut self, p: u64, l: &[i64]) -> &mut H {
            self.invoke_read(p).done_read(p, l)
        }
        fn keys(&self) -> Vec<KeyOps<ListAppendSpec>> {
            keyed(&self.0)
        }
    }

    fn keyed(entries: &[Entry]) -> Vec<KeyOps<ListAppendSpec>> {
        match prepare_stream(records_of(&History::from_entries(entries.iter().cloned())))
            .expect("valid history")
        {
            Prepared::ListAppend(k) => k.keys,
            Prepared::Register(_) => Vec::new(),
        }
    }

    /// The operations of a conflict, as shown in reports.
    fn shown(ops: &[Op], d: &Decision) -> Vec<String> {
        match d {
            Decision::Violation(c) => c.ops.iter().map(|&i| ops[i].op.to_string()).collect(),
            d => panic!("not a violation: {d:?}"),
        }
    }

    fn opts() -> CheckOptions {
        CheckOptions {
            timeout: Duration::from_secs(60),
            shrink: Some(Duration::from_secs(10)),
            html: None,
            threads: 1,
            ..CheckOptions::default()
        }
    }

    #[test]
    fn a_keys_reads_hold_its_list_once_unless_they_disagree() {
        let mut h = H::default();
        h.append(1, 10)
            .read(2, &[10])
            .append(1, 11)
            .read(2, &[10, 11]);
        h.read(3, &[]).read(3, &[10, 11]).read(4, &[11]);
        let keys = h.keys();
        let reads: Vec<&[i64]> = keys[0]
            .ops
            .iter()
            .filter_map(|o| match &o.op {
                ListOp::Read(l) => Some(&l[..]),
                ListOp::Append(_) => None,
            })
            .collect();
        let want: [&[i64]; 5] = [&[10], &[10, 11], &[], &[10, 11], &[11]];
        assert_eq!(reads, want);
        // The agreeing reads point into one list; the one that disagrees
        // has its own.
        let first = reads[0].as_ptr();
        for r in [reads[1], reads[3]] {
            assert_eq!(r.as_ptr(), first);
        }
        assert_ne!(reads[4].as_ptr(), first);
        assert!(matches!(decide(&keys[0].ops), Decision::Violation(_)));
    }

    #[test]
    fn sequential_appends_and_reads_are_linearizable() {
        let mut h = H::default();
        h.read(0, &[]).append(1, 1).read(0, &[1]).append(1, 2);
        h.read(0, &[1, 2]).append(1, 3);
        assert_eq!(decide(&h.keys()[0].ops), Decision::Linearizable);
    }

    #[test]
    fn reads_that_disagree_are_named_with_what_they_saw() {
        let mut h = H::default();
        h.append(1, 1).append(1, 2).append(1, 3);
        h.read(0, &[1, 2, 3]).read(2, &[1, 3]);
        let ops = &h.keys()[0].ops;
        let d = decide(ops);
        assert_eq!(
            shown(ops, &d),
            [
                "append(1)",
                "append(2)",
                "append(3)",
                "read() -> [1, 2, 3]",
                "read() -> [1, 3]"
            ]
        );
        let Decision::Violation(c) = d else { panic!() };
        assert!(c.reason.contains("disagree at position 2"), "{}", c.reason);
        // The shortest read that settles position 2 is the witness.
        let mut h = H::default();
        h.append(1, 1).append(1, 2).append(1, 3);
        h.read(0, &[1, 2]).read(0, &[1, 2, 3]).read(2, &[1, 3]);
        let ops = &h.keys()[0].ops;
        assert_eq!(
            shown(ops, &decide(ops)),
            [
                "append(1)",
                "append(2)",
                "append(3)",
                "read() -> [1, 2]",
                "read() -> [1, 3]"
            ]
        );
    }

    #[test]
    fn a_value_nobody_appended_or_seen_twice_is_a_violation() {
        let mut h = H::default();
        h.append(1, 1).read(0, &[1, 7]);
        let ops = &h.keys()[0].ops;
        assert_eq!(shown(ops, &decide(ops)), ["append(1)", "read() -> [1, 7]"]);
        let mut h = H::default();
        h.append(1, 1).read(0, &[1, 1]);
        let ops = &h.keys()[0].ops;
        assert_eq!(shown(ops, &decide(ops)), ["append(1)", "read() -> [1, 1]"]);
    }

    #[test]
    fn a_failed_append_is_never_seen() {
        let mut h = H::default();
        h.invoke_append(1, 1).done_append(1, OpType::Fail, 1);
        h.read(0, &[1]);
        let ops = &h.keys()[0].ops;
        assert_eq!(shown(ops, &decide(ops)), ["read() -> [1]"]);
    }

    #[test]
    fn a_stale_read_names_the_append_it_missed() {
        let mut h = H::default();
        h.append(1, 1).append(1, 2).read(0, &[1]);
        let ops = &h.keys()[0].ops;
        let d = decide(ops);
        assert_eq!(shown(ops, &d), ["append(1)", "append(2)", "read() -> [1]"]);
        // An acknowledged append no read saw must still come after the
        // reads that began before it completed... and not after one that
        // began later.
        let mut h = H::default();
        h.append(1, 1).append(1, 5).read(0, &[1]);
        let ops = &h.keys()[0].ops;
        assert_eq!(
            shown(ops, &decide(ops)),
            ["append(1)", "append(5)", "read() -> [1]"]
        );
        let mut h = H::default();
        h.append(1, 1)
            .invoke_read(0)
            .append(1, 5)
            .done_read(0, &[1]);
        assert_eq!(decide(&h.keys()[0].ops), Decision::Linearizable);
    }

    #[test]
    fn the_list_does_not_shrink_and_values_do_not_come_early() {
        let mut h = H::default();
        h.invoke_append(1, 1).read(0, &[1]).read(2, &[]);
        let ops = &h.keys()[0].ops;
        assert_eq!(
            shown(ops, &decide(ops)),
            ["append(1)", "read() -> [1]", "read() -> []"]
        );
        // A read that completed before the append was invoked.
        let mut h = H::default();
        h.read(0, &[1]).append(1, 1);
        let ops = &h.keys()[0].ops;
        assert_eq!(shown(ops, &decide(ops)), ["read() -> [1]", "append(1)"]);
    }

    #[test]
    fn appends_go_in_read_order_only_if_real_time_allows() {
        // append(2) completed before append(1) began, but a read shows 1 first.
        let mut h = H::default();
        h.append(1, 2).append(1, 1).read(0, &[1, 2]);
        let ops = &h.keys()[0].ops;
        let d = decide(ops);
        assert_eq!(
            shown(ops, &d),
            ["append(2)", "append(1)", "read() -> [1, 2]"]
        );
        // Concurrent appends may land in either order.
        for seen in [[1, 2], [2, 1]] {
            let mut h = H::default();
            h.invoke_append(1, 1).invoke_append(2, 2);
            h.done_append(2, OpType::Ok, 2)
                .done_append(1, OpType::Ok, 1);
            h.read(0, &seen);
            assert_eq!(decide(&h.keys()[0].ops), Decision::Linearizable);
        }
        // An acknowledged append no read saw, completed before a seen one began.
        let mut h = H::default();
        h.append(1, 9).append(1, 1).read(0, &[1]);
        let ops = &h.keys()[0].ops;
        assert_eq!(
            shown(ops, &decide(ops)),
            ["append(9)", "append(1)", "read() -> [1]"]
        );
    }

    #[test]
    fn indeterminate_appends_may_land_late_or_never() {
        let mut h = H::default();
        h.invoke_append(1, 1).done_append(1, OpType::Info, 1);
        h.invoke_append(2, 2).done_append(2, OpType::Info, 2);
        h.append(3, 3)
            .read(0, &[3])
            .read(0, &[3, 2])
            .read(0, &[3, 2, 1]);
        assert_eq!(decide(&h.keys()[0].ops), Decision::Linearizable);
        // Never completed at all is the same.
        let mut h = H::default();
        h.invoke_append(1, 1).read(0, &[]).read(0, &[1]);
        assert_eq!(decide(&h.keys()[0].ops), Decision::Linearizable);
        // But not before its invoke.
        let mut h = H::default();
        h.read(0, &[1])
            .invoke_append(1, 1)
            .done_append(1, OpType::Info, 1);
        assert!(matches!(decide(&h.keys()[0].ops), Decision::Violation(_)));
    }

    #[test]
    fn repeated_values_go_to_the_generic_search() {
        let mut h = H::default();
        h.append(1, 1).append(1, 1).read(0, &[1, 1]);
        let keys = h.keys();
        assert_eq!(decide(&keys[0].ops), Decision::RepeatedValues);
        let out = check_keys(&keys, &opts(), Instant::now());
        assert_eq!(out.verdict, Verdict::Ok);
        let mut h = H::default();
        h.append(1, 1).append(1, 1).read(0, &[1]);
        let out = check_keys(&h.keys(), &opts(), Instant::now());
        assert!(matches!(out.verdict, Verdict::Violation { .. }));
    }

    #[test]
    fn a_violation_is_described_and_drawn() {
        let path = std::env::temp_dir().join(format!(
            "tumult-list-append-{}.lin.html",
            std::process::id()
        ));
        let mut h = H::default();
        h.append(1, 1).append(1, 2).read(0, &[1]);
        let o = CheckOptions {
            html: Some(path.clone()),
            ..opts()
        };
        let out = check_keys(&h.keys(), &o, Instant::now());
        let Verdict::Violation {
            key,
            ops,
            key_operations,
            minimal,
            html,
            ..
        } = out.verdict
        else {
            panic!("{:?}", out.verdict)
        };
        assert_eq!((key.as_str(), key_operations, minimal), ("k", 3, true));
        let lines: Vec<(usize, Option<usize>)> = ops
            .iter()
            .map(|o| (o.invoke_line, o.complete_line))
            .collect();
        assert_eq!(lines, [(1, Some(2)), (3, Some(4)), (5, Some(6))]);
        assert_eq!(html.as_ref(), Some(&path));
        let page = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(page.contains("<html") && page.contains("read() -&gt; [1]"));
        assert!(page.contains("completed before"), "the reason is shown");
        assert_eq!(out.per_key[0].result, KeyResult::Violation);
    }

    /// The shape that made the generic search blow up: many concurrent
    /// appends that timed out, which the reads then see one by one.
    #[test]
    fn thousands_of_observed_indeterminate_appends_are_cheap() {
        let n = 3000;
        let mut h = H::default();
        for p in 0..n {
            h.invoke_append(p, p as i64);
        }
        for p in 0..n {
            h.done_append(p, OpType::Info, p as i64);
        }
        // Reads see them in a scrambled order, growing.
        let order: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % n as i64).collect();
        for len in (0..=order.len()).step_by(100) {
            h.read(n + 1, &order[..len]);
        }
        h.read(n + 1, &order);
        let keys = h.keys();
        let t0 = Instant::now();
        assert_eq!(decide(&keys[0].ops), Decision::Linearizable);
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // The same with the last read going back by one value.
        h.read(n + 1, &order[..order.len() - 1]);
        let keys = h.keys();
        let t0 = Instant::now();
        let out = check_keys(&keys, &opts(), Instant::now());
        let Verdict::Violation { ops, minimal, .. } = out.verdict else {
            panic!()
        };
        assert!(minimal);
        // Both reads, with every append they saw.
        assert_eq!(ops.len(), n as usize + 2);
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    }

    /// The property test's draws.
    struct Rng(tumult_engine::raft::rng::SplitMix64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            (self.0.next_u64() % n as u64) as usize
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.0.next_u64() % 100 < percent
        }
    }

    /// An operation a client has outstanding in [`random_history`].
    struct Busy {
        process: u64,
        /// `Some(v)`: append(v); `None`: a read.
        append: Option<i64>,
        /// It took effect (a read: what it saw).
        effect: Option<Vec<i64>>,
    }

    /// A small history of one key from a simulated list that clients append
    /// to and read concurrently; appends time out (info) before or after
    /// taking effect, and a timed-out append may still take effect later.
    /// Some reads are then corrupted (stale, reordered, lost or invented
    /// values), and a few appends reuse a value.
    fn random_history(rng: &mut Rng) -> Vec<Entry> {
        let clients = 2 + rng.below(3);
        let budget = 3 + rng.below(10);
        let mut h = H::default();
        let mut list: Vec<i64> = Vec::new();
        let mut past: Vec<Vec<i64>> = vec![Vec::new()];
        let mut invoked: Vec<i64> = Vec::new();
        let mut late: Vec<i64> = Vec::new();
        let mut busy: Vec<Option<Busy>> = (0..clients).map(|_| None).collect();
        let mut process: Vec<u64> = (0..clients as u64).collect();
        let mut next_process = clients as u64;
        let mut issued = 0;
        let mut next_value = 1;
        let repeats = rng.chance(5);
        for _ in 0..200 {
            let c = rng.below(clients);
            match rng.below(5) {
                0 | 1 if busy[c].is_none() && issued < budget => {
                    issued += 1;
                    let p = process[c];
                    if rng.chance(60) {
                        let v = if repeats && !invoked.is_empty() && rng.chance(30) {
                            invoked[rng.below(invoked.len())]
                        } else {
                            next_value += 1;
                            next_value
                        };
                        invoked.push(v);
                        h.invoke_append(p, v);
                        busy[c] = Some(Busy {
                            process: p,
                            append: Some(v),
                            effect: None,
                        });
                    } else {
                        h.invoke_read(p);
                        busy[c] = Some(Busy {
                            process: p,
                            append: None,
                            effect: None,
                        });
                    }
                }
                2 => {
                    if let Some(b) = busy[c].as_mut().filter(|b| b.effect.is_none()) {
                        if let Some(v) = b.append {
                            list.push(v);
                            past.push(list.clone());
                        }
                        b.effect = Some(list.clone());
                    }
                }
                3 => {
                    let Some(b) = busy[c].take() else { continue };
                    let p = b.process;
                    match (b.append, b.effect) {
                        (Some(v), Some(_)) if rng.chance(75) => {
                            h.done_append(p, OpType::Ok, v);
                        }
                        (Some(v), Some(_)) => {
                            h.done_append(p, OpType::Info, v);
                        }
                        (Some(v), None) if rng.chance(50) => {
                            h.done_append(p, OpType::Fail, v);
                        }
                        (Some(v), None) => {
                            h.done_append(p, OpType::Info, v);
                            if rng.chance(50) {
                                late.push(v);
                            }
                        }
                        (None, Some(mut seen)) if rng.chance(85) => {
                            if rng.chance(25) {
                                corrupt(rng, &mut seen, &past, &invoked);
                            }
                            h.done_read(p, &seen);
                        }
                        (None, _) => {
                            let t = if rng.chance(50) {
                                OpType::Fail
                            } else {
                                OpType::Info
                            };
                            h.line(p, t, Function::Read, Value::Null);
                        }
                    }
                    // After info a client goes on as a new process; after
                    // ok or fail it may as well.
                    next_process += 1;
                    process[c] = next_process;
                }
                _ if !late.is_empty() && rng.chance(30) => {
                    list.push(late.remove(rng.below(late.len())));
                    past.push(list.clone());
                }
                _ => {}
            }
            if issued == budget && busy.iter().all(Option::is_none) {
                break;
            }
        }
        // Final reads by fresh processes, sometimes.
        for _ in 0..rng.below(3) {
            next_process += 1;
            let mut seen = list.clone();
            if rng.chance(20) {
                corrupt(rng, &mut seen, &past, &invoked);
            }
            h.read(next_process, &seen);
        }
        h.0
    }

    fn corrupt(rng: &mut Rng, seen: &mut Vec<i64>, past: &[Vec<i64>], invoked: &[i64]) {
        match rng.below(6) {
            0 => *seen = past[rng.below(past.len())].clone(),
            1 if !seen.is_empty() => {
                seen.remove(rng.below(seen.len()));
            }
            2 if seen.len() >= 2 => {
                let i = rng.below(seen.len() - 1);
                seen.swap(i, i + 1);
            }
            3 => seen.push(1000),
            4 if !seen.is_empty() => seen.push(seen[rng.below(seen.len())]),
            _ if !invoked.is_empty() => seen.push(invoked[rng.below(invoked.len())]),
            _ => {}
        }
    }

    /// This checker and the generic search agree on thousands of small
    /// random histories, linearizable and not; each violation's set of
    /// operations is closed (every read with the appends it saw) and not
    /// linearizable for the generic search either.
    #[test]
    fn agrees_with_the_generic_search_on_random_histories() {
        let mut rng = Rng(tumult_engine::raft::rng::SplitMix64::new(0x7475_6d75_6c74));
        let generic_opts = CheckOptions {
            shrink: None,
            ..opts()
        };
        let (mut ok, mut bad, mut repeated) = (0, 0, 0);
        for case in 0..20000 {
            let entries = random_history(&mut rng);
            let keys = keyed(&entries);
            if keys.is_empty() {
                continue;
            }
            let text = || {
                entries
                    .iter()
                    .map(|e| e.to_line())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let generic = engine::check_keys(
                &keys.iter().collect::<Vec<_>>(),
                &generic_opts,
                Instant::now(),
            )
            .verdict;
            assert!(generic != Verdict::Unknown, "case {case}");
            let generic_ok = generic == Verdict::Ok;
            let ours = check_keys(&keys, &opts(), Instant::now()).verdict;
            assert_eq!(
                ours == Verdict::Ok,
                generic_ok,
                "case {case}: ours {ours:?}, generic {generic:?}\n{}",
                text()
            );
            let ops = &keys[0].ops;
            match decide(ops) {
                Decision::RepeatedValues => repeated += 1,
                Decision::Linearizable => {
                    assert!(generic_ok, "case {case}\n{}", text());
                    ok += 1;
                }
                Decision::Violation(c) => {
                    assert!(!generic_ok, "case {case}\n{}", text());
                    bad += 1;
                    for (conflict, what) in [
                        (c.clone(), "found"),
                        (shrink(ops, c, deadline_far()).0, "shrunk"),
                    ] {
                        for &i in &conflict.ops {
                            for v in list(&ops[i]) {
                                let a = ops.iter().position(|o| o.op == ListOp::Append(*v));
                                assert!(
                                    a.is_none_or(|a| conflict.ops.contains(&a)),
                                    "case {case}: {what} set lacks append({v})\n{}",
                                    text()
                                );
                            }
                        }
                        let sub = KeyOps {
                            key: "k".into(),
                            ops: conflict.ops.iter().map(|&i| ops[i].clone()).collect(),
                        };
                        let v = engine::check_keys(&[&sub], &generic_opts, Instant::now()).verdict;
                        assert!(
                            matches!(v, Verdict::Violation { .. }),
                            "case {case}: {what} set {:?} is linearizable\n{}",
                            conflict.ops,
                            text()
                        );
                    }
                }
            }
        }
        assert!(
            ok > 10_000 && bad > 4000 && repeated > 200,
            "{ok} {bad} {repeated}"
        );
    }

    fn deadline_far() -> Instant {
        engine::deadline_after(Instant::now(), Duration::from_secs(60))
    }
}
