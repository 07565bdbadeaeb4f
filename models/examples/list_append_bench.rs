//! Times `tumult check` on a large list-append history: by default
//! 1,000,000 operations over 2,000 keys from 32 processes, 1% of them timed
//! out (half of those took effect) and a crash every 20,000 operations that
//! leaves every outstanding operation indeterminate, as Jepsen's clients do.
//! It writes the history as a tumult `history.jsonl` (a linearizable one,
//! and a copy with one read's first two values swapped, which must be
//! caught), then checks each in a child process of its own, so each gets its
//! own peak resident memory.
//!
//! ```text
//! cargo run --release -p tumult-models --example list_append_bench [OPS] [KEYS]
//! ```
//!
//! The baseline, measured in the same run: reading the same file line by
//! line without parsing it (the floor of any checker that reads the text).
//! Goal (issue "Performance"): 1,000,000 operations in under 10 s and 1 GiB.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tumult_models::lin::{self, CheckOptions, Format, Verdict};

const PROCESSES: u64 = 32;
const CRASH_EVERY: u64 = 20_000;

/// SplitMix64: the same history for the same arguments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An operation a process has outstanding.
struct Pending {
    process: u64,
    key: u64,
    /// The appended value, or `None` for a read.
    append: Option<i64>,
    /// What the read saw, once it took effect.
    seen: Option<Vec<i64>>,
    /// Whether it took effect.
    applied: bool,
    /// It will time out; if so, `applied` says whether it took effect.
    times_out: bool,
}

struct Writer {
    out: BufWriter<File>,
    index: u64,
    time: u64,
}

impl Writer {
    fn line(&mut self, ty: &str, p: &Pending, value: &str, error: Option<&str>) {
        let f = if p.append.is_some() { "append" } else { "read" };
        let error = error.map_or(String::new(), |e| format!(",\"error\":\"{e}\""));
        writeln!(
            self.out,
            "{{\"index\":{},\"type\":\"{ty}\",\"process\":{},\"f\":\"{f}\",\"key\":\"k{}\",\"value\":{value},\"time\":{}{error}}}",
            self.index, p.process, p.key, self.time
        )
        .expect("write the history");
        self.index += 1;
        self.time += 1_000;
    }
}

fn list(l: &[i64]) -> String {
    let items: Vec<String> = l.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(","))
}

/// Writes a linearizable history of `ops` operations over `keys` keys to
/// `path`; returns the line of a read completion (0-based) with at least
/// three values, near the middle, to corrupt.
fn generate(path: &Path, ops: u64, keys: u64) -> usize {
    let mut rng = Rng(7);
    let mut lists: Vec<Vec<i64>> = vec![Vec::new(); keys as usize];
    let mut slots: Vec<Option<Pending>> = (0..PROCESSES).map(|_| None).collect();
    // Slot s runs processes s, s + PROCESSES, ...: a new one after each
    // indeterminate operation.
    let mut pids: Vec<u64> = (0..PROCESSES).collect();
    let mut next_value = 0i64;
    let mut w = Writer {
        out: BufWriter::new(File::create(path).expect("create the history")),
        index: 0,
        time: 0,
    };
    let (mut invoked, mut last_crash, mut target) = (0u64, 0u64, None);
    let complete =
        |w: &mut Writer, p: Pending, error: Option<&str>, target: &mut Option<usize>| match (
            error, &p.append, &p.seen,
        ) {
            (Some(e), Some(v), _) => w.line("info", &p, &v.to_string(), Some(e)),
            (Some(e), None, _) => w.line("info", &p, "null", Some(e)),
            (None, Some(v), _) => w.line("ok", &p, &v.to_string(), None),
            (None, None, seen) => {
                let seen = seen.as_deref().expect("a completed read took effect");
                if target.is_none() && w.index as f64 > 0.5 * (2 * ops) as f64 && seen.len() >= 3 {
                    *target = Some(w.index as usize);
                }
                w.line("ok", &p, &list(seen), None)
            }
        };
    while invoked < ops || slots.iter().any(Option::is_some) {
        if invoked >= last_crash + CRASH_EVERY && slots.iter().any(Option::is_some) {
            last_crash = invoked;
            // A crash: every outstanding operation is indeterminate, and
            // its process continues as a new one.
            for slot in slots.iter_mut() {
                if let Some(mut p) = slot.take() {
                    if !p.applied && rng.below(2) == 0 {
                        if let Some(v) = p.append {
                            lists[p.key as usize].push(v);
                        }
                        p.applied = true;
                    }
                    complete(&mut w, p, Some("crash"), &mut target);
                }
            }
            for pid in pids.iter_mut() {
                *pid += PROCESSES;
            }
            continue;
        }
        let s = rng.below(PROCESSES) as usize;
        match slots[s].take() {
            None if invoked < ops => {
                let key = rng.below(keys);
                let append = (rng.below(2) == 0).then(|| {
                    next_value += 1;
                    next_value
                });
                let p = Pending {
                    process: pids[s],
                    key,
                    append,
                    seen: None,
                    applied: false,
                    times_out: rng.below(100) == 0,
                };
                let value = append.map_or("null".to_string(), |v| v.to_string());
                w.line("invoke", &p, &value, None);
                invoked += 1;
                slots[s] = Some(p);
            }
            None => {}
            Some(mut p) if !(p.applied || p.times_out && rng.below(2) == 0) => {
                match p.append {
                    Some(v) => lists[p.key as usize].push(v),
                    None => p.seen = Some(lists[p.key as usize].clone()),
                }
                p.applied = true;
                slots[s] = Some(p);
            }
            Some(p) if p.times_out => {
                complete(&mut w, p, Some("timeout"), &mut target);
                pids[s] += PROCESSES;
            }
            Some(p) if p.applied => complete(&mut w, p, None, &mut target),
            Some(p) => slots[s] = Some(p),
        }
    }
    w.out.flush().expect("flush the history");
    target.expect("a read of three values near the middle")
}

/// A copy of `from` whose line `target` (a read) has its first two values
/// swapped: another read of the key shows them in the other order.
fn corrupt(from: &Path, to: &Path, target: usize) {
    let mut out = BufWriter::new(File::create(to).expect("create the copy"));
    for (i, line) in BufReader::new(File::open(from).expect("open the history"))
        .lines()
        .enumerate()
    {
        let mut line = line.expect("read the history");
        if i == target {
            let start = line.find("\"value\":[").expect("a read's value") + "\"value\":[".len();
            let rest = &line[start..];
            let first = rest.find(',').expect("two values");
            let second = rest[first + 1..].find([',', ']']).expect("three values") + first + 1;
            let swapped = format!(
                "{}{},{}{}",
                &line[..start],
                &rest[first + 1..second],
                &rest[..first],
                &rest[second..]
            );
            line = swapped;
        }
        writeln!(out, "{line}").expect("write the copy");
    }
    out.flush().expect("flush the copy");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l["VmHWM:".len()..]
                    .trim()
                    .trim_end_matches(" kB")
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// The child: checks `path` and prints `verdict seconds peak_kib`.
fn check_child(path: &Path) {
    let t = Instant::now();
    let r = lin::check_file(path, Format::Tumult, &CheckOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let verdict = match r.verdict {
        Verdict::Ok => "linearizable".to_string(),
        Verdict::Violation {
            ref key, ref ops, ..
        } => format!("violation-on-{key}-{}-ops", ops.len()),
        Verdict::Unknown => "unknown".to_string(),
    };
    println!(
        "{verdict} {:.3} {}",
        t.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

/// The baseline: reads the file line by line, counting lines and bytes.
fn read_floor(path: &Path) -> f64 {
    let t = Instant::now();
    let mut r = BufReader::new(File::open(path).expect("open the history"));
    let (mut lines, mut bytes, mut buf) = (0u64, 0u64, Vec::new());
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).expect("read the history");
        if n == 0 {
            break;
        }
        lines += 1;
        bytes += n as u64;
    }
    std::hint::black_box((lines, bytes));
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--check") {
        check_child(Path::new(&args[1]));
        return;
    }
    let ops: u64 = args.first().map_or(1_000_000, |s| s.parse().expect("OPS"));
    let keys: u64 = args.get(1).map_or(2_000, |s| s.parse().expect("KEYS"));
    let dir = std::env::temp_dir().join(format!("tumult-list-append-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let good = dir.join("history.jsonl");
    let bad = dir.join("history-bad.jsonl");
    let t = Instant::now();
    let target = generate(&good, ops, keys);
    corrupt(&good, &bad, target);
    let size = std::fs::metadata(&good).map_or(0, |m| m.len());
    println!(
        "{ops} operations over {keys} keys, {PROCESSES} processes: {:.0} MiB of history, written in {:.1} s",
        size as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
    let me = std::env::current_exe().expect("this program");
    for (name, path, want_ok) in [
        ("linearizable", &good, true),
        ("one read corrupted", &bad, false),
    ] {
        let floor = read_floor(path);
        let out = Command::new(&me)
            .arg("--check")
            .arg(path)
            .output()
            .expect("run the check");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        let (verdict, secs, kib): (&str, f64, u64) = (
            words[0],
            words[1].parse().unwrap(),
            words[2].parse().unwrap(),
        );
        assert_eq!(verdict == "linearizable", want_ok, "{name}: {verdict}");
        println!(
            "{name}: {verdict} in {secs:.2} s (x{:.1} the {floor:.2} s to read the file), peak {:.0} MiB",
            secs / floor,
            kib as f64 / 1024.0
        );
    }
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
