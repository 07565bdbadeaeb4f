//! Times porcupine's corpus (102 etcd logs + 6 kv logs) through
//! `tumult_models::lin` (our own search) and, with feature
//! `bench-porcupine`, through porcupine-rs called directly, in the same run,
//! and prints the ratio. Without the feature it prints our times beside the
//! numbers the layer had when it still ran porcupine-rs inside.
//!
//! `cargo run --release -p tumult-models --example corpus_bench --features bench-porcupine [ROUNDS]`
//!
//! With `go` installed (`apt-get install golang-go`), it also builds
//! `../shared/bench/porcupine-go` (Go porcupine v1.3.0, vendored there) and
//! runs it on the same files each round, alternating with ours, and prints
//! tumult / Go per format: Go's time is the check inside its process
//! (parsing excluded), ours includes parsing the text, so the ratio is
//! conservative. Without `go` it says so and skips that column.
//!
//! The direct side's events are parsed before timing; the layer's time
//! includes parsing the text (`lin::check_text`), translating, pairing and
//! checking per key. The layer runs with `tumult check`'s options except
//! shrinking and drawing (timed separately at the end): a verdict-only
//! comparison. Both sides use every core: porcupine's `check_events` checks
//! a one-partition etcd log on the calling thread and starts one thread per
//! kv key, stopping them all at the first violation; the layer checks keys
//! on one worker per core and stops them too. Set `BENCH_TRACE=1` for
//! per-file times and, per kv key, its cost alone and in the layer. The
//! process's peak resident memory is printed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tumult_models::lin::{self, CheckOptions, Format, Verdict};

#[cfg(feature = "bench-porcupine")]
mod direct {
    use porcupine::{Event, EventModel, Model};
    use std::collections::BTreeMap;

    /// Jepsen etcd register, as porcupine's own etcd test sees it: input and
    /// output events, outputs possibly unknown.
    #[derive(Clone)]
    pub struct Etcd;

    #[derive(Clone, Debug)]
    pub enum EtcdIn {
        Read,
        Write(i64),
        Cas(i64, i64),
    }

    #[derive(Clone, Debug)]
    pub enum EtcdOut {
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

    pub fn etcd_events(text: &str) -> Vec<Event<Etcd>> {
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
    pub struct Kv;

    #[derive(Clone, Debug)]
    pub enum KvIn {
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

    pub fn kv_events(text: &str) -> Vec<Event<Kv>> {
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
}

/// Go porcupine on the same files: `../shared/bench/porcupine-go`, built
/// beside this example's binary.
struct GoPorcupine {
    exe: PathBuf,
    files: Vec<PathBuf>,
}

impl GoPorcupine {
    /// Builds the Go program, or says why it cannot.
    fn build(files: Vec<PathBuf>) -> Result<GoPorcupine, String> {
        let src = corpus().join("../../bench/porcupine-go");
        let exe = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("porcupine-go-bench");
        let out = std::process::Command::new("go")
            .args(["build", "-o"])
            .arg(&exe)
            .arg(".")
            .current_dir(&src)
            .output()
            .map_err(|e| format!("`go` is not installed ({e}); apt-get install golang-go"))?;
        if !out.status.success() {
            return Err(format!(
                "go build in {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(GoPorcupine { exe, files })
    }

    /// One round over every file: Go's in-process check time per format
    /// (etcd, kv), its verdicts compared with EXPECTED.md by the program.
    fn round(&self) -> Result<[Duration; 2], String> {
        let out = std::process::Command::new(&self.exe)
            .arg("-q")
            .arg("-expected")
            .arg(corpus().join("EXPECTED.md"))
            .args(&self.files)
            .output()
            .map_err(|e| format!("{}: {e}", self.exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "Go porcupine's verdicts differ from EXPECTED.md:\n{text}"
            ));
        }
        let check_ms = |format: &str| -> Result<Duration, String> {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().take(2).eq(["TOTAL", format]))
                .ok_or_else(|| format!("no TOTAL {format} line in Go's output:\n{text}"))?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let ms = words
                .iter()
                .position(|w| *w == "check_ms")
                .and_then(|i| words.get(i + 1))
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("no check_ms in {line:?}"))?;
            Ok(Duration::from_secs_f64(ms / 1e3))
        };
        Ok([check_ms("etcd")?, check_ms("kv")?])
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/porcupine")
}

/// Best-of-5 seconds of the layer when it still ran porcupine-rs inside
/// (commit 9910a71, this machine, measured on 2026-12-02 under the same
/// load as the new numbers): etcd logs, kv logs; and porcupine-rs direct
/// in the same runs. Printed when the bench is built without
/// `bench-porcupine`.
#[cfg(not(feature = "bench-porcupine"))]
const BEFORE_LAYER: [f64; 2] = [1.266, 0.383];
#[cfg(not(feature = "bench-porcupine"))]
const BEFORE_DIRECT: [f64; 2] = [1.411, 0.459];

/// The process's peak resident memory, from /proc (Linux).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn trace() -> bool {
    std::env::var_os("BENCH_TRACE").is_some()
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

    // Parse once for the direct side (untimed).
    #[cfg(feature = "bench-porcupine")]
    let (etcd_direct, kv_direct) = {
        let e: Vec<_> = etcd.iter().map(|(_, t)| direct::etcd_events(t)).collect();
        let k: Vec<_> = kv.iter().map(|(_, t)| direct::kv_events(t)).collect();
        (e, k)
    };
    if trace() {
        // What each kv key costs alone (porcupine direct, one partition, no
        // threads), and what the layer reports per key.
        #[cfg(feature = "bench-porcupine")]
        for ((path, _), events) in kv.iter().zip(&kv_direct) {
            use porcupine::EventModel;
            let parts = direct::Kv::partition_events(events);
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
        }
        for (path, text) in &kv {
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

    let go = GoPorcupine::build(etcd.iter().chain(&kv).map(|(p, _)| p.clone()).collect());
    if let Err(why) = &go {
        println!("Go porcupine skipped: {why}");
    }
    let mut best_go = [Duration::MAX; 2];
    #[cfg(feature = "bench-porcupine")]
    let mut best_direct = [Duration::MAX; 2];
    let mut best_layer = [Duration::MAX; 2];
    for round in 0..rounds {
        if let Ok(go) = &go {
            let t = go.round().unwrap_or_else(|e| panic!("{e}"));
            println!(
                "round {round}: Go porcupine etcd {:.3} s, kv {:.3} s",
                t[0].as_secs_f64(),
                t[1].as_secs_f64()
            );
            best_go = [best_go[0].min(t[0]), best_go[1].min(t[1])];
        }
        #[cfg(feature = "bench-porcupine")]
        let (d_etcd, d_kv, direct_etcd, direct_kv) = {
            let t = Instant::now();
            let d_etcd: Vec<bool> = etcd_direct
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if trace() {
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
                    if trace() {
                        eprintln!("direct kv: {} events, {ok}, {:?}", e.len(), t.elapsed());
                    }
                    ok
                })
                .collect();
            (d_etcd, d_kv, direct_etcd, t.elapsed())
        };

        let t = Instant::now();
        let l_etcd: Vec<bool> = etcd
            .iter()
            .map(|(path, text)| {
                let r = lin::check_text(text, Format::JepsenEtcd, &opts).unwrap();
                if trace() {
                    eprintln!("layer {}: {:?} {:.3}", path.display(), r.is_ok(), r.seconds);
                }
                assert_ne!(r.verdict, Verdict::Unknown, "{}", path.display());
                r.is_ok()
            })
            .collect();
        let layer_etcd = t.elapsed();
        let t = Instant::now();
        let l_kv: Vec<bool> = kv
            .iter()
            .map(|(path, text)| {
                let r = lin::check_text(text, Format::PorcupineKv, &opts).unwrap();
                if trace() {
                    eprintln!("layer {}: {:?} {:.3}", path.display(), r.is_ok(), r.seconds);
                }
                assert_ne!(r.verdict, Verdict::Unknown, "{}", path.display());
                r.is_ok()
            })
            .collect();
        let layer_kv = t.elapsed();
        // EXPECTED.md: 23 of the etcd logs are linearizable; the kv `-ok` ones.
        assert_eq!(l_etcd.iter().filter(|&&ok| ok).count(), 23);
        assert_eq!(l_kv, [true, false, true, false, true, false]);

        #[cfg(feature = "bench-porcupine")]
        {
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
        }
        #[cfg(not(feature = "bench-porcupine"))]
        println!(
            "round {round}: etcd layer {:.3} s; kv layer {:.3} s",
            layer_etcd.as_secs_f64(),
            layer_kv.as_secs_f64(),
        );
        best_layer = [best_layer[0].min(layer_etcd), best_layer[1].min(layer_kv)];
    }
    let layer = [best_layer[0].as_secs_f64(), best_layer[1].as_secs_f64()];
    let sum = |x: [f64; 2]| x[0] + x[1];
    #[cfg(feature = "bench-porcupine")]
    {
        let direct = [best_direct[0].as_secs_f64(), best_direct[1].as_secs_f64()];
        println!(
            "best of {rounds}: porcupine-rs direct: etcd {:.3} s, kv {:.3} s, total {:.3} s; \
             layer (parse + our search): etcd {:.3} s (x{:.2}), kv {:.3} s (x{:.2}), total {:.3} s (x{:.2})",
            direct[0],
            direct[1],
            sum(direct),
            layer[0],
            layer[0] / direct[0],
            layer[1],
            layer[1] / direct[1],
            sum(layer),
            sum(layer) / sum(direct),
        );
    }
    #[cfg(not(feature = "bench-porcupine"))]
    {
        println!(
            "best of {rounds}: layer (parse + our search): etcd {:.3} s, kv {:.3} s, total {:.3} s; \
             before (porcupine-rs inside, best of 5): etcd {:.3} s, kv {:.3} s, total {:.3} s \
             (porcupine-rs direct then: {:.3} s); ratio now/before x{:.2}",
            layer[0],
            layer[1],
            sum(layer),
            BEFORE_LAYER[0],
            BEFORE_LAYER[1],
            sum(BEFORE_LAYER),
            sum(BEFORE_DIRECT),
            sum(layer) / sum(BEFORE_LAYER),
        );
    }

    if go.is_ok() {
        let g = [best_go[0].as_secs_f64(), best_go[1].as_secs_f64()];
        println!(
            "best of {rounds}: Go porcupine (check only): etcd {:.3} s, kv {:.3} s; \
             tumult / Go: etcd x{:.2}, kv x{:.2} (goal: x0.50 or less on each)",
            g[0],
            g[1],
            layer[0] / g[0],
            layer[1] / g[1],
        );
    }

    // What `tumult check` adds on a violation: shrinking (budget 10 s each).
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
    println!("peak resident memory: {}", peak_rss());
}
