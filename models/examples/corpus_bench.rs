//! Times porcupine's corpus (102 etcd logs + 6 kv logs) through
//! `tumult_models::lin` and through porcupine-rs called directly, in the same
//! run, and prints the ratio.
//!
//! `cargo run --release -p tumult-models --example corpus_bench [ROUNDS]`
//!
//! The direct side's events are parsed before timing; the layer's time
//! includes parsing the text (`lin::check_text`), translating, pairing and
//! checking per key. The layer runs with `tumult check`'s options except
//! shrinking and drawing (timed separately at the end): a verdict-only
//! comparison. Both sides use every core: porcupine's `check_events` checks
//! a one-partition etcd log on the calling thread and starts one thread per
//! kv key, stopping them all at the first violation; the layer checks keys
//! on one worker per core and stops them too. Set `BENCH_TRACE=1` for
//! per-file times and, per kv key, its cost alone and in the layer.

use porcupine::{Event, EventModel, Model};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tumult_models::lin::{self, CheckOptions, Format, Verdict};

/// Jepsen etcd register, as porcupine's own etcd test sees it: input and
/// output events, outputs possibly unknown.
#[derive(Clone)]
struct Etcd;

#[derive(Clone, Debug)]
enum EtcdIn {
    Read,
    Write(i64),
    Cas(i64, i64),
}

#[derive(Clone, Debug)]
enum EtcdOut {
    Read(Option<i64>),
    Write,
    Cas(bool),
    Unknown,
}

impl Model for Etcd {
    type State = Option<i64>;
    type Op = (EtcdIn, EtcdOut);
    type Metadata = ();
    fn init() -> Option<i64> {
        None
    }
    fn step(s: &Option<i64>, (i, o): &(EtcdIn, EtcdOut)) -> (bool, Option<i64>) {
        let unknown = matches!(o, EtcdOut::Unknown);
        match (i, o) {
            (EtcdIn::Read, EtcdOut::Read(v)) => (v == s, *s),
            (EtcdIn::Read, _) => (unknown, *s),
            (EtcdIn::Write(v), _) => (true, Some(*v)),
            (EtcdIn::Cas(from, to), o) => {
                let holds = *s == Some(*from);
                let ok = match o {
                    EtcdOut::Cas(ok) => *ok == holds,
                    _ => unknown,
                };
                (ok, if holds { Some(*to) } else { *s })
            }
        }
    }
}

impl EventModel for Etcd {
    type Input = EtcdIn;
    type Output = EtcdOut;
    fn combine(i: &EtcdIn, o: &EtcdOut) -> (EtcdIn, EtcdOut) {
        (i.clone(), o.clone())
    }
}

fn etcd_events(text: &str) -> Vec<Event<Etcd>> {
    let mut events = Vec::new();
    let mut open: BTreeMap<u32, usize> = BTreeMap::new();
    let mut next = 0;
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 7 || t[1] != "jepsen.util" {
            continue;
        }
        let p: u32 = t[3].parse().unwrap();
        let num = |s: &str| {
            s.trim_matches(|c| c == '[' || c == ']')
                .parse::<i64>()
                .unwrap()
        };
        let call = |v| Event::Call {
            client_id: Some(p),
            value: v,
            id: next,
            metadata: None,
        };
        let ret = |id, v| Event::Return {
            client_id: Some(p),
            value: v,
            id,
            metadata: None,
        };
        match (t[4], t[5]) {
            (":invoke", f) => {
                let input = match f {
                    ":read" => EtcdIn::Read,
                    ":write" => EtcdIn::Write(num(t[6])),
                    _ => EtcdIn::Cas(num(t[6]), num(t[7])),
                };
                events.push(call(input));
                open.insert(p, next);
                next += 1;
            }
            (":ok", ":read") => {
                let v = (t[6] != "nil").then(|| num(t[6]));
                events.push(ret(open.remove(&p).unwrap(), EtcdOut::Read(v)));
            }
            (":ok", ":write") => events.push(ret(open.remove(&p).unwrap(), EtcdOut::Write)),
            (ty @ (":ok" | ":fail"), ":cas") => {
                events.push(ret(open.remove(&p).unwrap(), EtcdOut::Cas(ty == ":ok")))
            }
            (":fail", ":read") => events.push(ret(open.remove(&p).unwrap(), EtcdOut::Unknown)),
            _ => {} // :info ... :timed-out: stays open
        }
    }
    for (p, id) in open {
        events.push(Event::Return {
            client_id: Some(p),
            value: EtcdOut::Unknown,
            id,
            metadata: None,
        });
    }
    events
}

/// porcupine's string kv model, partitioned by key.
#[derive(Clone)]
struct Kv;

#[derive(Clone, Debug)]
enum KvIn {
    Get(String),
    Put(String, String),
    Append(String, String),
}

impl KvIn {
    fn key(&self) -> &str {
        match self {
            KvIn::Get(k) | KvIn::Put(k, _) | KvIn::Append(k, _) => k,
        }
    }
}

impl Model for Kv {
    type State = String;
    type Op = (KvIn, String);
    type Metadata = ();
    fn init() -> String {
        String::new()
    }
    fn step(s: &String, (i, o): &(KvIn, String)) -> (bool, String) {
        match i {
            KvIn::Get(_) => (o == s, s.clone()),
            KvIn::Put(_, v) => (true, v.clone()),
            KvIn::Append(_, v) => (true, format!("{s}{v}")),
        }
    }
}

impl EventModel for Kv {
    type Input = KvIn;
    type Output = String;
    fn combine(i: &KvIn, o: &String) -> (KvIn, String) {
        (i.clone(), o.clone())
    }
    fn partition_events(history: &[Event<Kv>]) -> Vec<Vec<Event<Kv>>> {
        let mut key_of = BTreeMap::new();
        let mut parts: BTreeMap<String, Vec<Event<Kv>>> = BTreeMap::new();
        for e in history {
            let key = match e {
                Event::Call { value, id, .. } => {
                    key_of.insert(*id, value.key().to_string());
                    value.key().to_string()
                }
                Event::Return { id, .. } => key_of[id].clone(),
            };
            parts.entry(key).or_default().push(e.clone());
        }
        parts.into_values().collect()
    }
}

fn kv_events(text: &str) -> Vec<Event<Kv>> {
    let field = |line: &str, name: &str| -> String {
        let rest = &line[line.find(name).unwrap() + name.len()..];
        let end = rest.find([',', '}']).unwrap();
        rest[..end]
            .trim()
            .trim_matches('"')
            .trim_start_matches(':')
            .to_string()
    };
    let mut events = Vec::new();
    let mut open: BTreeMap<u32, usize> = BTreeMap::new();
    let mut next = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let p: u32 = field(line, ":process ").parse().unwrap();
        let (ty, f, key) = (
            field(line, ":type "),
            field(line, ":f "),
            field(line, ":key "),
        );
        // Values may hold commas: take everything between the quotes.
        let value = line
            .rsplit_once(":value ")
            .unwrap()
            .1
            .trim_end_matches('}')
            .trim_matches('"')
            .to_string();
        if ty == "invoke" {
            let input = match f.as_str() {
                "get" => KvIn::Get(key),
                "put" => KvIn::Put(key, value),
                _ => KvIn::Append(key, value),
            };
            events.push(Event::Call {
                client_id: Some(p),
                value: input,
                id: next,
                metadata: None,
            });
            open.insert(p, next);
            next += 1;
        } else if ty == "ok" {
            let out = if f == "get" { value } else { String::new() };
            events.push(Event::Return {
                client_id: Some(p),
                value: out,
                id: open.remove(&p).unwrap(),
                metadata: None,
            });
        }
    }
    for (p, id) in open {
        events.push(Event::Return {
            client_id: Some(p),
            value: String::new(),
            id,
            metadata: None,
        });
    }
    events
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/porcupine")
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(3, |s| s.parse().expect("ROUNDS"));
    let mut etcd = Vec::new();
    for i in 0..=102 {
        let path = corpus().join(format!("jepsen/etcd_{i:03}.log"));
        let text = std::fs::read_to_string(&path).unwrap();
        if text.is_empty() {
            continue; // etcd_095
        }
        etcd.push((path, text));
    }
    let kv: Vec<(PathBuf, String)> = [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ]
    .iter()
    .map(|n| {
        let path = corpus().join(format!("kv/{n}.txt"));
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    })
    .collect();
    assert_eq!((etcd.len(), kv.len()), (102, 6));

    // Parse once for both sides (untimed).
    let etcd_direct: Vec<Vec<Event<Etcd>>> = etcd.iter().map(|(_, t)| etcd_events(t)).collect();
    let kv_direct: Vec<Vec<Event<Kv>>> = kv.iter().map(|(_, t)| kv_events(t)).collect();
    if std::env::var_os("BENCH_TRACE").is_some() {
        // What each kv key costs alone (porcupine direct, one partition, no
        // threads), and what the layer reports per key.
        for ((path, text), events) in kv.iter().zip(&kv_direct) {
            let parts = Kv::partition_events(events);
            let costs: Vec<String> = parts
                .iter()
                .map(|p| {
                    let t = Instant::now();
                    // A key may be hard alone (the full check stops at
                    // another key's violation): bounded.
                    let ok = porcupine::check_events_timeout(p, Duration::from_secs(2));
                    format!(
                        "{}:{ok:?}:{:.1}ms",
                        p.len(),
                        t.elapsed().as_secs_f64() * 1e3
                    )
                })
                .collect();
            eprintln!("keys alone {}: {}", path.display(), costs.join(" "));
            let r = lin::check_text(
                text,
                Format::PorcupineKv,
                &CheckOptions {
                    shrink: None,
                    ..CheckOptions::default()
                },
            )
            .unwrap();
            let per: Vec<String> = r
                .per_key
                .iter()
                .map(|k| format!("{}:{:?}:{:.1}ms", k.operations, k.result, k.seconds * 1e3))
                .collect();
            eprintln!(
                "layer keys {}: {} (total {:.1}ms)",
                path.display(),
                per.join(" "),
                r.seconds * 1e3
            );
        }
    }
    let opts = CheckOptions {
        shrink: None,
        html: None,
        ..CheckOptions::default()
    };

    let (mut best_direct, mut best_layer) = ([Duration::MAX; 2], [Duration::MAX; 2]);
    for round in 0..rounds {
        let t = Instant::now();
        let d_etcd: Vec<bool> = etcd_direct
            .iter()
            .enumerate()
            .map(|(i, e)| {
                if std::env::var_os("BENCH_TRACE").is_some() {
                    eprintln!("direct etcd {i}: {} events", e.len());
                }
                porcupine::check_events(e)
            })
            .collect();
        let direct_etcd = t.elapsed();
        let t = Instant::now();
        let d_kv: Vec<bool> = kv_direct
            .iter()
            .map(|e| {
                let t = Instant::now();
                let ok = porcupine::check_events(e);
                if std::env::var_os("BENCH_TRACE").is_some() {
                    eprintln!("direct kv: {} events, {ok}, {:?}", e.len(), t.elapsed());
                }
                ok
            })
            .collect();
        let direct_kv = t.elapsed();

        let t = Instant::now();
        let l_etcd: Vec<bool> = etcd
            .iter()
            .map(|(path, text)| {
                let r = lin::check_text(text, Format::JepsenEtcd, &opts).unwrap();
                if std::env::var_os("BENCH_TRACE").is_some() {
                    eprintln!("layer {}: {:?} {:.3}", path.display(), r.is_ok(), r.seconds);
                }
                r.is_ok()
            })
            .collect();
        let layer_etcd = t.elapsed();
        let t = Instant::now();
        let l_kv: Vec<bool> = kv
            .iter()
            .map(|(path, text)| {
                let r = lin::check_text(text, Format::PorcupineKv, &opts).unwrap();
                if std::env::var_os("BENCH_TRACE").is_some() {
                    eprintln!("layer {}: {:?} {:.3}", path.display(), r.is_ok(), r.seconds);
                }
                r.is_ok()
            })
            .collect();
        let layer_kv = t.elapsed();

        assert_eq!(d_etcd, l_etcd, "etcd verdicts differ");
        assert_eq!(d_kv, l_kv, "kv verdicts differ");
        println!(
            "round {round}: etcd direct {:.3} s, layer {:.3} s (x{:.2}); kv direct {:.3} s, layer {:.3} s (x{:.2})",
            direct_etcd.as_secs_f64(),
            layer_etcd.as_secs_f64(),
            layer_etcd.as_secs_f64() / direct_etcd.as_secs_f64(),
            direct_kv.as_secs_f64(),
            layer_kv.as_secs_f64(),
            layer_kv.as_secs_f64() / direct_kv.as_secs_f64(),
        );
        best_direct = [
            best_direct[0].min(direct_etcd),
            best_direct[1].min(direct_kv),
        ];
        best_layer = [best_layer[0].min(layer_etcd), best_layer[1].min(layer_kv)];
    }
    let total_d = best_direct[0] + best_direct[1];
    let total_l = best_layer[0] + best_layer[1];
    println!(
        "best of {rounds}: direct {:.3} s, layer (parse + check) {:.3} s, ratio layer/direct {:.2}",
        total_d.as_secs_f64(),
        total_l.as_secs_f64(),
        total_l.as_secs_f64() / total_d.as_secs_f64()
    );

    // What `tumult check` adds on a violation: shrinking (budget 30 s each).
    let shrink_opts = CheckOptions {
        html: None,
        ..CheckOptions::default()
    };
    let t = Instant::now();
    let mut sizes = Vec::new();
    let mut minimal = 0;
    for (_, text) in &etcd {
        let r = lin::check_text(text, Format::JepsenEtcd, &shrink_opts).unwrap();
        if let Verdict::Violation {
            ops, minimal: m, ..
        } = &r.verdict
        {
            sizes.push(ops.len());
            minimal += usize::from(*m);
        }
    }
    sizes.sort();
    println!(
        "etcd with shrinking: {:.3} s for {} violations ({} shrunk to the end); operations kept: min {} median {} max {}",
        t.elapsed().as_secs_f64(),
        sizes.len(),
        minimal,
        sizes[0],
        sizes[sizes.len() / 2],
        sizes[sizes.len() - 1]
    );
}
