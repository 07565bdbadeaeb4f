//! The checker's own search (models/src/lin/search.rs) through whole
//! histories: it agrees with a brute-force checker on thousands of small
//! random register histories (with cas and indeterminate operations), and
//! its memory budget turns a hard history into `unknown`, never an abort.

use std::time::Duration;
use tumult_models::history::{ClientOp, Entry, Function, History, OpType, Value};
use tumult_models::lin::{check_history, CheckOptions, KeyResult, Report, Verdict};

fn check(entries: &[Entry], opts: &CheckOptions) -> Report {
    check_history(&History::from_entries(entries.iter().cloned()), opts).expect("valid history")
}

/// A deterministic random number generator (xorshift), seeded per case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One operation as the brute force sees it.
#[derive(Clone, Debug)]
struct Op {
    f: Function,
    /// write: the value; cas: (expected, new); read: what it returned.
    arg: (Option<i64>, i64),
    /// cas: Some(true) swapped, Some(false) mismatch, None indeterminate.
    cas_ok: Option<bool>,
    call: usize,
    /// `None`: open to the end.
    ret: Option<usize>,
}

/// Builds a random register history of at most `max_ops` operations on one
/// key by `procs` processes, and the operations the brute force checks.
fn random_history(rng: &mut Rng, procs: u64, max_ops: usize) -> (Vec<Entry>, Vec<Op>) {
    let mut entries = Vec::new();
    let mut ops: Vec<Op> = Vec::new();
    // Per process: the index in `ops` of its open operation.
    let mut busy: Vec<Option<usize>> = vec![None; procs as usize];
    let mut process_id: Vec<u64> = (0..procs).collect();
    let mut next_process = procs;
    let mut written: Vec<i64> = Vec::new();
    let mut next_value = 1;
    let push = |entries: &mut Vec<Entry>, t, p, f: &Function, v: Value, err: Option<&str>| {
        let i = entries.len() as u64;
        let mut op = ClientOp::new(i, t, p, f.clone(), "k", v, i * 10);
        if let Some(e) = err {
            op = op.with_error(e);
        }
        entries.push(Entry::Client(op));
        entries.len() - 1
    };
    let seen = |rng: &mut Rng, written: &[i64]| -> Option<i64> {
        // Mostly values that were written, sometimes null or a stranger.
        match rng.below(10) {
            0 => None,
            1 => Some(99),
            _ if written.is_empty() => None,
            _ => Some(written[rng.below(written.len() as u64) as usize]),
        }
    };
    let mut invoked = 0;
    loop {
        let all_idle = busy.iter().all(Option::is_none);
        if invoked >= max_ops && all_idle {
            break;
        }
        let p = rng.below(procs) as usize;
        match busy[p] {
            None if invoked < max_ops => {
                let (f, v, arg) = match rng.below(3) {
                    0 => (Function::Read, Value::Null, (None, 0)),
                    1 => {
                        let v = next_value;
                        next_value += 1;
                        written.push(v);
                        (Function::Write, Value::Int(v), (Some(v), 0))
                    }
                    _ => {
                        let e = seen(rng, &written).unwrap_or(0);
                        let n = next_value;
                        next_value += 1;
                        written.push(n);
                        (Function::Cas, Value::List(vec![e, n]), (Some(e), n))
                    }
                };
                let call = push(&mut entries, OpType::Invoke, process_id[p], &f, v, None);
                ops.push(Op {
                    f,
                    arg,
                    cas_ok: None,
                    call,
                    ret: None,
                });
                busy[p] = Some(ops.len() - 1);
                invoked += 1;
            }
            None => {}
            Some(i) => {
                let proc_ = process_id[p];
                let op = &mut ops[i];
                let f = op.f.clone();
                match f {
                    Function::Read => {
                        let v = seen(rng, &written);
                        op.arg = (v, 0);
                        let value = v.map_or(Value::Null, Value::Int);
                        op.ret = Some(push(&mut entries, OpType::Ok, proc_, &f, value, None));
                    }
                    Function::Write => {
                        let v = Value::Int(op.arg.0.unwrap_or(0));
                        if rng.below(4) == 0 {
                            push(&mut entries, OpType::Info, proc_, &f, v, Some("timeout"));
                            process_id[p] = next_process;
                            next_process += 1;
                        } else {
                            op.ret = Some(push(&mut entries, OpType::Ok, proc_, &f, v, None));
                        }
                    }
                    Function::Cas => {
                        let v = Value::List(vec![op.arg.0.unwrap_or(0), op.arg.1]);
                        match rng.below(3) {
                            0 => {
                                push(&mut entries, OpType::Info, proc_, &f, v, Some("timeout"));
                                process_id[p] = next_process;
                                next_process += 1;
                            }
                            1 => {
                                op.cas_ok = Some(false);
                                op.ret = Some(push(
                                    &mut entries,
                                    OpType::Fail,
                                    proc_,
                                    &f,
                                    v,
                                    Some("mismatch"),
                                ));
                            }
                            _ => {
                                op.cas_ok = Some(true);
                                op.ret = Some(push(&mut entries, OpType::Ok, proc_, &f, v, None));
                            }
                        }
                    }
                    Function::Append | Function::Other(_) => {
                        unreachable!("only reads, writes and cas here")
                    }
                }
                busy[p] = None;
            }
        }
    }
    (entries, ops)
}

/// The register spec, written again independently: the state after `op`, or
/// `None` if `op` cannot happen in `state`.
fn step(state: Option<i64>, op: &Op) -> Option<Option<i64>> {
    match op.f {
        Function::Read => (state == op.arg.0).then_some(state),
        Function::Write => Some(op.arg.0),
        _ => {
            let holds = state.is_some() && state == op.arg.0;
            match op.cas_ok {
                Some(true) if holds => Some(Some(op.arg.1)),
                Some(true) => None,
                Some(false) if holds => None,
                Some(false) => Some(state),
                None => Some(if holds { Some(op.arg.1) } else { state }),
            }
        }
    }
}

/// Brute force: is there an order of all operations that respects real
/// time (an operation that returned before another's call comes first) and
/// that the spec accepts? An open operation may come anywhere after its
/// call; coming last is the same as never happening.
fn linearizable(ops: &[Op]) -> bool {
    fn go(ops: &[Op], done: &mut Vec<bool>, state: Option<i64>) -> bool {
        if done.iter().all(|&d| d) {
            return true;
        }
        for i in 0..ops.len() {
            if done[i] {
                continue;
            }
            // Every operation that must precede `i` is done.
            let blocked = ops
                .iter()
                .enumerate()
                .any(|(j, o)| !done[j] && j != i && o.ret.is_some_and(|r| r < ops[i].call));
            if blocked {
                continue;
            }
            if let Some(next) = step(state, &ops[i]) {
                done[i] = true;
                if go(ops, done, next) {
                    return true;
                }
                done[i] = false;
            }
        }
        false
    }
    go(ops, &mut vec![false; ops.len()], None)
}

#[test]
fn agrees_with_brute_force_on_random_register_histories() {
    let opts = CheckOptions {
        shrink: None,
        threads: 1,
        ..CheckOptions::default()
    };
    let (mut ok, mut bad) = (0, 0);
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let procs = 2 + rng.below(3);
        let max_ops = 2 + rng.below(7) as usize;
        let (entries, ops) = random_history(&mut rng, procs, max_ops);
        let want = linearizable(&ops);
        let got = check(&entries, &opts);
        let got_ok = match &got.verdict {
            Verdict::Ok => true,
            Verdict::Violation { .. } => false,
            Verdict::Unknown => panic!("seed {seed}: unknown ({:?})", got.reason),
        };
        assert_eq!(
            got_ok, want,
            "seed {seed}: checker says linearizable={got_ok}, brute force {want}\n{ops:#?}"
        );
        if want {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    // Both kinds are well represented.
    assert!(ok > 500 && bad > 500, "{ok} linearizable, {bad} not");
}

/// `n` concurrent writes and `n` concurrent reads (each of a value one of
/// the writes wrote), all overlapping, then a read of a value nobody wrote:
/// not linearizable, but the search tries a great many orders first.
fn hard(n: i64) -> Vec<Entry> {
    let mut e = Vec::new();
    let mut line = |t, p: u64, f, v: Value| {
        let i = e.len() as u64;
        e.push(Entry::Client(ClientOp::new(i, t, p, f, "k", v, i)));
    };
    for v in 0..n {
        line(OpType::Invoke, v as u64, Function::Write, Value::Int(v));
    }
    for v in 0..n {
        line(OpType::Invoke, 100 + v as u64, Function::Read, Value::Null);
    }
    for v in 0..n {
        line(OpType::Ok, v as u64, Function::Write, Value::Int(v));
    }
    for v in 0..n {
        line(
            OpType::Ok,
            100 + v as u64,
            Function::Read,
            Value::Int(n - 1 - v),
        );
    }
    line(OpType::Invoke, 1000, Function::Read, Value::Null);
    line(OpType::Ok, 1000, Function::Read, Value::Int(-1));
    e
}

#[test]
fn a_tiny_memory_budget_makes_a_hard_history_unknown_with_the_reason() {
    let h = hard(10);
    for threads in [1, 2] {
        let tiny = CheckOptions {
            memory_budget: 256 << 10,
            threads,
            timeout: Duration::from_secs(60),
            ..CheckOptions::default()
        };
        let r = check(&h, &tiny);
        assert_eq!(r.verdict, Verdict::Unknown, "threads {threads}");
        assert_eq!(r.per_key[0].result, KeyResult::OverBudget);
        let reason = r.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("key \"k\"")
                && reason.contains("exceeded the memory budget of 256 KiB"),
            "{reason}"
        );
    }
    // The same history with room enough: the violation.
    let roomy = CheckOptions {
        memory_budget: 1 << 30,
        timeout: Duration::from_secs(60),
        shrink: None,
        ..CheckOptions::default()
    };
    let r = check(&h, &roomy);
    let Verdict::Violation { key, .. } = &r.verdict else {
        panic!("{:?} {:?}", r.verdict, r.reason)
    };
    assert_eq!(key, "k");
    assert_eq!(r.reason, None);
    eprintln!("hard(10): {:.3} s with room enough", r.seconds);
}

/// Out of time and out of memory are told apart in the reason.
#[test]
fn the_reason_names_what_ran_out() {
    let r = check(
        &hard(30),
        &CheckOptions {
            timeout: Duration::from_millis(50),
            ..CheckOptions::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.per_key[0].result, KeyResult::Unknown);
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("key \"k\"") && reason.contains("ran out of time"),
        "{reason}"
    );
}

/// Like [`hard`] on key `key`, but linearizable: the last read sees the
/// value the last write in the only possible order leaves (w(n-1), r(n-1),
/// ..., w(0), r(0)), which the search reaches only after much backtracking.
fn hard_ok(n: i64, key: &str, base: u64) -> Vec<Entry> {
    hard(n)
        .into_iter()
        .map(|e| match e {
            Entry::Client(mut op) => {
                op.key = key.to_string();
                op.process += base;
                if op.value == Value::Int(-1) {
                    op.value = Value::Int(0);
                }
                Entry::Client(op)
            }
            e => e,
        })
        .collect()
}

/// Two keys that each fit the budget alone but not together: the one that
/// ran short while the other held part of the budget runs again with all
/// of it, so both are decided.
#[test]
fn keys_that_fit_the_budget_alone_are_decided_even_when_checked_together() {
    let one = hard_ok(10, "a", 0);
    let opts = |budget: u64| CheckOptions {
        memory_budget: budget,
        timeout: Duration::from_secs(60),
        threads: 2,
        ..CheckOptions::default()
    };
    // The smallest power of two that one key fits in.
    let mut fits = 1u64 << 16;
    loop {
        let r = check(&one, &opts(fits));
        if r.verdict == Verdict::Ok {
            break;
        }
        assert_eq!(r.per_key[0].result, KeyResult::OverBudget, "{:?}", r.reason);
        fits *= 2;
        assert!(fits < 1 << 32, "one key needs more than 4 GiB");
    }
    assert!(
        fits >= 1 << 20,
        "the key is too easy to test with: {fits} bytes"
    );
    // Two such keys at once need more than 1.5 times what one fits in.
    let mut both = one;
    let mut b = hard_ok(10, "b", 10_000);
    both.append(&mut b);
    let both: Vec<Entry> = both
        .into_iter()
        .enumerate()
        .map(|(i, e)| match e {
            Entry::Client(mut op) => {
                op.index = i as u64;
                op.time = i as u64;
                Entry::Client(op)
            }
            e => e,
        })
        .collect();
    let r = check(&both, &opts(fits * 3 / 2));
    assert_eq!(r.verdict, Verdict::Ok, "{:?} {:?}", r.reason, r.per_key);
    // And with the budget one key needs at most, only less: unknown.
    let r = check(&both, &opts(fits / 4));
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.per_key.iter().all(|k| k.result == KeyResult::OverBudget));
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.starts_with("keys \"a\", \"b\": the search exceeded the memory budget"),
        "{reason}"
    );
}
