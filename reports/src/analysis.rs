//! What a report shows, computed from a history: client operations paired
//! into intervals, nemesis periods, leadership per shard, and throughput and
//! latency over simulated time.

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use tumult_models::history::{Entry, History, OpType};

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// `ok`: it happened.
    Ok,
    /// `fail`: it certainly did not take effect.
    Fail,
    /// `info`: unknown.
    Info,
    /// Never completed before the history ended.
    Pending,
}

impl Status {
    /// One letter, as the timeline's data encodes it.
    pub fn code(self) -> char {
        match self {
            Status::Ok => 'o',
            Status::Fail => 'f',
            Status::Info => 'i',
            Status::Pending => 'p',
        }
    }

    /// The word, for tables.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Info => "info",
            Status::Pending => "pending",
        }
    }

    /// How bad it is, for choosing what one pixel shows.
    fn severity(self) -> u8 {
        match self {
            Status::Ok => 1,
            Status::Pending => 2,
            Status::Fail => 3,
            Status::Info => 4,
        }
    }
}

/// One client operation: its invocation paired with its completion.
#[derive(Clone, Debug)]
pub struct Op {
    pub process: u64,
    pub f: String,
    pub key: String,
    /// The invocation's value.
    pub arg: String,
    /// The completion's value (empty while pending).
    pub result: String,
    pub error: Option<String>,
    pub status: Status,
    /// Simulated nanoseconds.
    pub start: u64,
    pub end: u64,
    /// 1-based lines of the invocation and the completion in `history.jsonl`.
    pub invoke_line: usize,
    pub complete_line: usize,
}

impl Op {
    /// `write k1 5 -> ok`, for tooltips and tables.
    pub fn describe(&self) -> String {
        let mut s = format!("p{} {} {} {}", self.process, self.f, self.key, self.arg);
        s.push_str(&format!(" → {}", self.status.word()));
        if !self.result.is_empty() && self.result != self.arg {
            s.push_str(&format!(" {}", self.result));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" ({e})"));
        }
        s
    }
}

/// Pairs every invocation with its completion, in invocation order.
pub fn pair_ops(history: &History, end_of_run: u64) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::new();
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for rec in &history.records {
        let Entry::Client(c) = &rec.entry else {
            continue;
        };
        match c.op_type {
            OpType::Invoke => {
                open.insert(c.process, ops.len());
                ops.push(Op {
                    process: c.process,
                    f: c.f.to_string(),
                    key: c.key.clone(),
                    arg: c.value.to_string(),
                    result: String::new(),
                    error: None,
                    status: Status::Pending,
                    start: c.time,
                    end: end_of_run.max(c.time),
                    invoke_line: rec.line,
                    complete_line: 0,
                });
            }
            t => {
                let Some(i) = open.remove(&c.process) else {
                    continue;
                };
                let op = &mut ops[i];
                op.status = match t {
                    OpType::Ok => Status::Ok,
                    OpType::Fail => Status::Fail,
                    _ => Status::Info,
                };
                op.end = c.time.max(op.start);
                op.result = c.value.to_string();
                op.error = c.error.clone();
                op.complete_line = rec.line;
            }
        }
    }
    ops
}

/// The last time anything happened in the history.
pub fn end_time(history: &History) -> u64 {
    history
        .records
        .iter()
        .map(|r| r.entry.time())
        .max()
        .unwrap_or(0)
}

/// What a nemesis period disturbs; each kind is one row of the timeline's
/// nemesis strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    Partition,
    Hold,
    Crash,
    Disk,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Partition,
        Channel::Hold,
        Channel::Crash,
        Channel::Disk,
    ];

    /// CSS class suffix and legend word.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Partition => "partition",
            Channel::Hold => "hold",
            Channel::Crash => "crash",
            Channel::Disk => "disk-fault",
        }
    }

    /// Fill colour of the band.
    pub fn color(self) -> &'static str {
        match self {
            Channel::Partition => "#f28e2b",
            Channel::Hold => "#9c6ade",
            Channel::Crash => "#e15759",
            Channel::Disk => "#8c6d31",
        }
    }
}

/// A period during which a fault was in force.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub channel: Channel,
    pub start: u64,
    pub end: u64,
    pub label: String,
}

/// A nemesis event that is not a period (a heal, a transfer, a membership change).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub time: u64,
    pub label: String,
}

/// Nemesis periods and point events.
#[derive(Clone, Debug, Default)]
pub struct Nemesis {
    pub bands: Vec<Band>,
    pub markers: Vec<Marker>,
    /// Every nemesis event, for the table: (time, f, value, error).
    pub events: Vec<(u64, String, String, Option<String>)>,
}

fn nodes_of(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(items)) => items
            .iter()
            .flat_map(|i| match i {
                Json::String(s) => vec![s.clone()],
                Json::Array(_) => nodes_of(Some(i)),
                _ => vec![],
            })
            .collect(),
        Some(Json::Object(m)) => nodes_of(m.get("nodes")),
        Some(Json::String(s)) if s != "final" => vec![s.clone()],
        _ => vec![],
    }
}

fn groups_label(v: Option<&Json>) -> String {
    match v {
        Some(Json::Array(groups)) if groups.iter().all(|g| g.is_array()) => groups
            .iter()
            .map(|g| nodes_of(Some(g)).join(","))
            .collect::<Vec<_>>()
            .join(" | "),
        Some(v) => nodes_of(Some(v)).join(","),
        None => String::new(),
    }
}

const PARTITIONS: [&str; 5] = [
    "partition",
    "partition-oneway",
    "partition-halves",
    "partition-majorities-ring",
    "isolate",
];
const CRASHES: [&str; 4] = ["crash", "crash-leader", "crash-minority", "kill"];

struct Open {
    start: u64,
    label: String,
}

/// Derives nemesis periods: a partition, hold, crash or disk fault starts a
/// band; heal, release or restart ends it. A node that stopped itself (trace
/// event `stop`) counts as crashed until it is restarted.
pub fn nemesis(history: &History, end_of_run: u64) -> Nemesis {
    let mut out = Nemesis::default();
    let mut open: BTreeMap<Channel, Open> = BTreeMap::new();
    let mut down: BTreeSet<String> = BTreeSet::new();
    fn close(out: &mut Nemesis, open: &mut BTreeMap<Channel, Open>, ch: Channel, t: u64) {
        if let Some(o) = open.remove(&ch) {
            out.bands.push(Band {
                channel: ch,
                start: o.start,
                end: t.max(o.start),
                label: o.label,
            });
        }
    }
    fn set_down(
        out: &mut Nemesis,
        open: &mut BTreeMap<Channel, Open>,
        down: &BTreeSet<String>,
        t: u64,
    ) {
        close(out, open, Channel::Crash, t);
        if !down.is_empty() {
            let label = format!(
                "down: {}",
                down.iter().cloned().collect::<Vec<_>>().join(",")
            );
            open.insert(Channel::Crash, Open { start: t, label });
        }
    }
    for rec in &history.records {
        match &rec.entry {
            Entry::Nemesis(n) => {
                let t = n.time;
                let f = n.f.as_str();
                let value = n.value.as_ref();
                let error = n.extra.get("error").map(|e| match e {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                });
                out.events.push((
                    t,
                    n.f.clone(),
                    value.map(|v| v.to_string()).unwrap_or_default(),
                    error.clone(),
                ));
                if error.is_some() {
                    out.markers.push(Marker {
                        time: t,
                        label: format!("{f} (refused)"),
                    });
                    continue;
                }
                if PARTITIONS.contains(&f) {
                    close(&mut out, &mut open, Channel::Partition, t);
                    let label = format!("{f} {}", groups_label(value));
                    open.insert(Channel::Partition, Open { start: t, label });
                } else if f == "hold" {
                    let prev = open.remove(&Channel::Hold);
                    if let Some(p) = &prev {
                        out.bands.push(Band {
                            channel: Channel::Hold,
                            start: p.start,
                            end: t,
                            label: p.label.clone(),
                        });
                    }
                    open.insert(
                        Channel::Hold,
                        Open {
                            start: t,
                            label: format!("hold {}", groups_label(value)),
                        },
                    );
                } else if f == "release" {
                    close(&mut out, &mut open, Channel::Hold, t);
                } else if CRASHES.contains(&f) {
                    let nodes = nodes_of(value);
                    if !nodes.is_empty() {
                        down.extend(nodes);
                        set_down(&mut out, &mut open, &down, t);
                    }
                } else if f == "restart" {
                    for n in nodes_of(value) {
                        down.remove(&n);
                    }
                    set_down(&mut out, &mut open, &down, t);
                } else if f == "restart-all" {
                    down.clear();
                    set_down(&mut out, &mut open, &down, t);
                } else if f == "disk-fault" {
                    let kind = match value {
                        Some(Json::Object(m)) => m
                            .get("kind")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_string(),
                        _ => String::new(),
                    };
                    let prev = open.remove(&Channel::Disk);
                    let mut label = format!("disk-fault {kind} {}", nodes_of(value).join(","));
                    if let Some(p) = prev {
                        out.bands.push(Band {
                            channel: Channel::Disk,
                            start: p.start,
                            end: t,
                            label: p.label.clone(),
                        });
                        label = format!("{}; {label}", p.label);
                    }
                    open.insert(Channel::Disk, Open { start: t, label });
                } else if f == "heal" {
                    close(&mut out, &mut open, Channel::Partition, t);
                    close(&mut out, &mut open, Channel::Hold, t);
                    close(&mut out, &mut open, Channel::Disk, t);
                    let last = value.and_then(Json::as_str) == Some("final");
                    // liveness = "core": {"final": "core", "nodes": [...]}
                    let core = value
                        .and_then(|v| v.get("final"))
                        .is_some()
                        .then(|| nodes_of(value));
                    if last {
                        down.clear();
                        set_down(&mut out, &mut open, &down, t);
                    }
                    if let Some(core) = &core {
                        for n in core {
                            down.remove(n);
                        }
                        set_down(&mut out, &mut open, &down, t);
                    }
                    out.markers.push(Marker {
                        time: t,
                        label: match (&core, last) {
                            (Some(core), _) => format!("final heal of the core {}", core.join(",")),
                            (None, true) => "final heal".into(),
                            (None, false) => "heal".into(),
                        },
                    });
                } else {
                    let detail = value.map(|v| v.to_string()).unwrap_or_default();
                    out.markers.push(Marker {
                        time: t,
                        label: format!("{f} {detail}").trim().to_string(),
                    });
                }
            }
            Entry::Trace(tr) if tr.event.name() == "stop" && down.insert(tr.node.clone()) => {
                set_down(&mut out, &mut open, &down, tr.time);
            }
            _ => {}
        }
    }
    for ch in Channel::ALL {
        close(&mut out, &mut open, ch, end_of_run);
    }
    out.bands.sort_by_key(|b| (b.start, b.channel));
    out
}

/// One node's leadership of one shard in one term.
#[derive(Clone, Debug, PartialEq)]
pub struct Reign {
    pub node: String,
    pub term: u64,
    pub start: u64,
    pub end: u64,
    /// Whether it ended because the run ended.
    pub open: bool,
    /// Sub-row within the shard's row (overlapping reigns, e.g. a deposed
    /// leader that has not heard of its successor yet).
    pub row: usize,
}

/// Leadership per shard.
#[derive(Clone, Debug, Default)]
pub struct Leadership {
    /// shard -> reigns in order of start.
    pub shards: BTreeMap<u64, Vec<Reign>>,
    /// Every node named in the trace, in order.
    pub nodes: Vec<String>,
}

impl Leadership {
    /// Rows of a shard (1 when no reigns overlap).
    pub fn rows(&self, shard: u64) -> usize {
        self.shards
            .get(&shard)
            .map_or(1, |r| r.iter().map(|x| x.row + 1).max().unwrap_or(1))
    }
}

/// Who led which shard in which term, from `become-leader` and the role
/// changes (`become-follower`, `become-candidate`, `term-change`, `stop`)
/// and crashes that end a reign.
pub fn leadership(history: &History, end_of_run: u64) -> Leadership {
    let mut out = Leadership::default();
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    let mut open: BTreeMap<(u64, String), (u64, u64)> = BTreeMap::new(); // (shard, node) -> (term, start)
    let mut done: BTreeMap<u64, Vec<Reign>> = BTreeMap::new();
    let end = |done: &mut BTreeMap<u64, Vec<Reign>>,
               shard: u64,
               node: &str,
               term: u64,
               start: u64,
               t: u64,
               o: bool| {
        done.entry(shard).or_default().push(Reign {
            node: node.to_string(),
            term,
            start,
            end: t.max(start),
            open: o,
            row: 0,
        });
    };
    for rec in &history.records {
        match &rec.entry {
            Entry::Trace(tr) => {
                nodes.insert(tr.node.clone());
                let t = tr.time;
                match (tr.event.name(), tr.shard) {
                    ("become-leader", Some(s)) => {
                        let term = tr.event.term().unwrap_or(0);
                        if let Some((oterm, ostart)) = open.remove(&(s, tr.node.clone())) {
                            end(&mut done, s, &tr.node, oterm, ostart, t, false);
                        }
                        open.insert((s, tr.node.clone()), (term, t));
                    }
                    ("become-follower" | "become-candidate" | "term-change" | "stop", Some(s)) => {
                        if let Some((oterm, ostart)) = open.remove(&(s, tr.node.clone())) {
                            end(&mut done, s, &tr.node, oterm, ostart, t, false);
                        }
                    }
                    ("stop", None) => {
                        let keys: Vec<_> = open
                            .keys()
                            .filter(|(_, n)| *n == tr.node)
                            .cloned()
                            .collect();
                        for k in keys {
                            let (oterm, ostart) = open.remove(&k).expect("present");
                            end(&mut done, k.0, &k.1, oterm, ostart, t, false);
                        }
                    }
                    _ => {}
                }
            }
            Entry::Nemesis(n) if CRASHES.contains(&n.f.as_str()) || n.f == "bounce" => {
                if n.extra.contains_key("error") {
                    continue;
                }
                for node in nodes_of(n.value.as_ref()) {
                    let keys: Vec<_> = open.keys().filter(|(_, o)| *o == node).cloned().collect();
                    for k in keys {
                        let (oterm, ostart) = open.remove(&k).expect("present");
                        end(&mut done, k.0, &k.1, oterm, ostart, n.time, false);
                    }
                }
            }
            _ => {}
        }
    }
    for ((s, node), (term, start)) in open {
        end(&mut done, s, &node, term, start, end_of_run, true);
    }
    for (shard, mut reigns) in done {
        reigns.sort_by_key(|r| (r.start, r.term));
        let mut row_ends: Vec<u64> = Vec::new();
        for r in &mut reigns {
            let row = row_ends
                .iter()
                .position(|&e| e <= r.start)
                .unwrap_or(row_ends.len());
            if row == row_ends.len() {
                row_ends.push(r.end);
            } else {
                row_ends[row] = r.end;
            }
            r.row = row;
        }
        out.shards.insert(shard, reigns);
    }
    // Natural order: n2 before n10.
    let mut nodes: Vec<String> = nodes.into_iter().collect();
    nodes.sort_by_key(|n| {
        let digits: String = n.chars().filter(|c| c.is_ascii_digit()).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), n.clone())
    });
    out.nodes = nodes;
    out
}

/// Shard numbers seen anywhere in the trace (a shard with no leader still gets a row).
pub fn shards_seen(history: &History) -> BTreeSet<u64> {
    history
        .records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Trace(t) => t.shard,
            _ => None,
        })
        .collect()
}

/// Throughput and latency per time bucket.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Bucket width, nanoseconds.
    pub bucket: u64,
    /// Completions per simulated second, per bucket: ok, fail, info.
    pub ok: Vec<f64>,
    pub fail: Vec<f64>,
    pub info: Vec<f64>,
}

/// A round bucket width giving at most about `max_buckets` buckets over `span` ns.
pub fn nice_bucket(span: u64, max_buckets: u64) -> u64 {
    let raw = span / max_buckets.max(1);
    let mut unit: u64 = 1_000_000; // 1 ms
    loop {
        for m in [1, 2, 5] {
            if unit * m >= raw {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

/// Nearest-rank percentile of a sorted slice.
pub use tumult_models::artifact::percentile;

/// Buckets completions by completion time.
pub fn series(ops: &[Op], end_of_run: u64) -> Series {
    let bucket = nice_bucket(end_of_run.max(1), 120);
    let n = (end_of_run / bucket + 1) as usize;
    let mut s = Series {
        bucket,
        ok: vec![0.0; n],
        fail: vec![0.0; n],
        info: vec![0.0; n],
    };
    let per_second = 1e9 / bucket as f64;
    for op in ops {
        let b = ((op.end / bucket) as usize).min(n - 1);
        match op.status {
            Status::Ok => s.ok[b] += per_second,
            Status::Fail => s.fail[b] += per_second,
            Status::Info => s.info[b] += per_second,
            Status::Pending => {}
        }
    }
    s
}

/// Overall latency percentiles (ms) per function: (f, count, p50, p90, p99, max).
pub fn latency_table(ops: &[Op]) -> Vec<(String, usize, f64, f64, f64, f64)> {
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.status == Status::Ok) {
        let l = (op.end - op.start) as f64 / 1e6;
        by.entry(op.f.clone()).or_default().push(l);
        by.entry("all".into()).or_default().push(l);
    }
    by.into_iter()
        .map(|(f, mut l)| {
            l.sort_by(|a, b| a.total_cmp(b));
            let p = |q| percentile(&l, q).unwrap_or(0.0);
            (
                f,
                l.len(),
                p(50.0),
                p(90.0),
                p(99.0),
                *l.last().unwrap_or(&0.0),
            )
        })
        .collect()
}

/// The timeline's lanes: one per process, or, when there are too many
/// processes, one per client (a client's successive processes never
/// overlap, as a process has at most one operation outstanding).
pub struct Lanes {
    pub labels: Vec<String>,
    /// Lane of each process.
    pub of: BTreeMap<u64, usize>,
    pub folded: bool,
}

/// Most lanes drawn one per process.
pub const MAX_PROCESS_LANES: usize = 40;

/// Chooses the lanes.
pub fn lanes(ops: &[Op], clients: Option<u64>) -> Lanes {
    let procs: BTreeSet<u64> = ops.iter().map(|o| o.process).collect();
    if procs.len() <= MAX_PROCESS_LANES {
        let of = procs.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        return Lanes {
            labels: procs.iter().map(|p| format!("p{p}")).collect(),
            of,
            folded: false,
        };
    }
    let c = clients
        .filter(|&c| c > 0)
        .unwrap_or(MAX_PROCESS_LANES as u64);
    let used: BTreeSet<u64> = procs.iter().map(|p| p % c).collect();
    let index: BTreeMap<u64, usize> = used.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    Lanes {
        labels: used.iter().map(|l| format!("client {l}")).collect(),
        of: procs.iter().map(|p| (*p, index[&(p % c)])).collect(),
        folded: true,
    }
}

/// Per lane, per pixel column: the worst outcome among the operations that
/// overlap the column (`' '`: none). This bounds the page whatever the
/// history's length.
pub fn rasterize(ops: &[Op], lanes: &Lanes, width: usize, end_of_run: u64) -> Vec<String> {
    let mut cells: Vec<Vec<Option<Status>>> = vec![vec![None; width]; lanes.labels.len()];
    let span = end_of_run.max(1) as f64;
    for op in ops {
        let lane = lanes.of[&op.process];
        let a = ((op.start as f64 / span) * width as f64).floor() as usize;
        let b = ((op.end as f64 / span) * width as f64).floor() as usize;
        let row = &mut cells[lane];
        for cell in row
            .iter_mut()
            .take(b.min(width - 1) + 1)
            .skip(a.min(width - 1))
        {
            if cell.is_none_or(|c| c.severity() < op.status.severity()) {
                *cell = Some(op.status);
            }
        }
    }
    cells
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| c.map_or(' ', Status::code))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tumult_models::history::read_history;

    fn h(lines: &str) -> History {
        read_history(lines.as_bytes()).expect("history")
    }

    #[test]
    fn partition_and_heal_make_one_band_crash_and_restart_another() {
        let hist = h(concat!(
            r#"{"index":0,"type":"nemesis","f":"partition","value":[["n1"],["n2","n3"]],"time":1000}"#,
            "\n",
            r#"{"index":1,"type":"nemesis","f":"crash","value":["n2"],"time":1500}"#,
            "\n",
            r#"{"index":2,"type":"nemesis","f":"heal","time":2000}"#,
            "\n",
            r#"{"index":3,"type":"nemesis","f":"restart","value":["n2"],"time":3000}"#,
            "\n",
            r#"{"index":4,"type":"nemesis","f":"disk-fault","value":{"kind":"full","nodes":["n3"]},"time":3500}"#,
            "\n"
        ));
        let n = nemesis(&hist, 5000);
        let got: Vec<_> = n
            .bands
            .iter()
            .map(|b| (b.channel, b.start, b.end))
            .collect();
        assert_eq!(
            got,
            vec![
                (Channel::Partition, 1000, 2000),
                (Channel::Crash, 1500, 3000),
                (Channel::Disk, 3500, 5000)
            ]
        );
        assert_eq!(n.bands[0].label, "partition n1 | n2,n3");
    }

    #[test]
    fn a_reign_ends_with_a_role_change_or_a_crash() {
        let hist = h(concat!(
            r#"{"index":0,"type":"trace","node":"n1","shard":0,"event":"become-leader","term":1,"time":10}"#,
            "\n",
            r#"{"index":1,"type":"trace","node":"n2","shard":0,"event":"become-leader","term":2,"time":20}"#,
            "\n",
            r#"{"index":2,"type":"trace","node":"n1","shard":0,"event":"become-follower","term":2,"time":30}"#,
            "\n",
            r#"{"index":3,"type":"nemesis","f":"crash","value":["n2"],"time":40}"#,
            "\n"
        ));
        let l = leadership(&hist, 100);
        let r = &l.shards[&0];
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].node.as_str(), r[0].term, r[0].end, r[0].row),
            ("n1", 1, 30, 0)
        );
        assert_eq!(
            (r[1].node.as_str(), r[1].term, r[1].end, r[1].row),
            ("n2", 2, 40, 1)
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn buckets_are_round() {
        assert_eq!(nice_bucket(20_000_000_000, 120), 200_000_000);
        assert_eq!(nice_bucket(1_000_000, 120), 1_000_000);
    }
}
