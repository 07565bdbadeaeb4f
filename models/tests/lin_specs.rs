//! The sequential specs through whole tumult histories: what must pass, what
//! must be caught, and how bad input is refused (with its line).

use std::time::Duration;
use tumult_models::history::{
    read_history, ClientOp, Entry, Function, History, NemesisEvent, OpType, Value,
};
use tumult_models::lin::{
    check_history, check_text, CheckOptions, Format, KeyResult, Report, Verdict,
};

/// Builds a history from compact steps: `(process, type, f, key, value, error)`.
struct H(Vec<Entry>);

impl H {
    fn new() -> H {
        H(Vec::new())
    }
    fn op(mut self, p: u64, t: OpType, f: Function, key: &str, v: Value) -> H {
        let i = self.0.len() as u64;
        self.0
            .push(Entry::Client(ClientOp::new(i, t, p, f, key, v, i * 1000)));
        self
    }
    fn err(mut self, p: u64, t: OpType, f: Function, key: &str, v: Value, e: &str) -> H {
        let i = self.0.len() as u64;
        self.0.push(Entry::Client(
            ClientOp::new(i, t, p, f, key, v, i * 1000).with_error(e),
        ));
        self
    }
    /// invoke + ok, sequentially.
    fn write(self, p: u64, key: &str, v: i64) -> H {
        self.op(p, OpType::Invoke, Function::Write, key, Value::Int(v))
            .op(p, OpType::Ok, Function::Write, key, Value::Int(v))
    }
    fn read(self, p: u64, key: &str, v: Option<i64>) -> H {
        let out = v.map_or(Value::Null, Value::Int);
        self.op(p, OpType::Invoke, Function::Read, key, Value::Null)
            .op(p, OpType::Ok, Function::Read, key, out)
    }
    fn append(self, p: u64, key: &str, v: i64) -> H {
        self.op(p, OpType::Invoke, Function::Append, key, Value::Int(v))
            .op(p, OpType::Ok, Function::Append, key, Value::Int(v))
    }
    fn read_list(self, p: u64, key: &str, l: &[i64]) -> H {
        self.op(p, OpType::Invoke, Function::Read, key, Value::Null)
            .op(p, OpType::Ok, Function::Read, key, Value::List(l.to_vec()))
    }
    fn check(self) -> Report {
        check_history(&History::from_entries(self.0), &CheckOptions::default())
            .expect("valid history")
    }
    fn ok(self) -> bool {
        let r = self.check();
        assert_ne!(r.verdict, Verdict::Unknown);
        r.is_ok()
    }
}

fn cas(e: i64, n: i64) -> Value {
    Value::List(vec![e, n])
}

use Function::{Append, Cas, Read, Write};
use OpType::{Fail, Info, Invoke, Ok as Done};

#[test]
fn register_sequential_reads_see_writes() {
    assert!(H::new()
        .read(0, "k", None)
        .write(0, "k", 1)
        .read(1, "k", Some(1))
        .ok());
}

#[test]
fn register_stale_read_is_caught() {
    let r = H::new()
        .write(0, "k", 1)
        .write(0, "k", 2)
        .read(1, "k", Some(1))
        .check();
    let Verdict::Violation {
        key, ops, minimal, ..
    } = &r.verdict
    else {
        panic!("{:?}", r.verdict)
    };
    assert_eq!(key, "k");
    assert!(*minimal);
    let shown: Vec<&str> = ops.iter().map(|o| o.operation.as_str()).collect();
    // The stale read, the write it saw and the write that overwrote it (the
    // first cannot be left out: without it the read would be blamed for a
    // value nobody wrote, which proves nothing about the whole history).
    assert_eq!(shown, ["write(1)", "write(2)", "read() -> 1"]);
    assert_eq!(ops[2].invoke_line, 5);
    assert_eq!(ops[2].complete_line, Some(6));
}

#[test]
fn register_concurrent_read_may_see_either_value() {
    for seen in [1, 2] {
        let h = H::new()
            .write(0, "k", 1)
            .op(0, Invoke, Write, "k", Value::Int(2))
            .op(1, Invoke, Read, "k", Value::Null)
            .op(1, Done, Read, "k", Value::Int(seen))
            .op(0, Done, Write, "k", Value::Int(2));
        assert!(h.ok(), "concurrent read saw {seen}");
    }
}

#[test]
fn cas_mismatch_means_the_register_held_another_value() {
    // The register held 1: a cas expecting 1 cannot have found another value.
    let bad = H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Cas, "k", cas(1, 2))
        .err(1, Fail, Cas, "k", cas(1, 2), "mismatch");
    assert!(!bad.ok());
    // Expecting 3 it rightly found another value, and changed nothing.
    let good = H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Cas, "k", cas(3, 2))
        .err(1, Fail, Cas, "k", cas(3, 2), "mismatch")
        .read(2, "k", Some(1));
    assert!(good.ok());
    // A fail for another reason is dropped: it says nothing about the value.
    let refused = H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Cas, "k", cas(1, 2))
        .err(1, Fail, Cas, "k", cas(1, 2), "not-leader")
        .read(2, "k", Some(1));
    let r = refused.check();
    assert!(r.is_ok());
    assert_eq!(r.dropped, 1);
    // A cas that succeeded needs the expected value.
    assert!(H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Cas, "k", cas(1, 2))
        .op(1, Done, Cas, "k", cas(1, 2))
        .read(2, "k", Some(2))
        .ok());
    assert!(!H::new()
        .write(0, "k", 5)
        .op(1, Invoke, Cas, "k", cas(1, 2))
        .op(1, Done, Cas, "k", cas(1, 2))
        .ok());
}

/// A write that timed out may or may not have happened, at any time after
/// its invoke; once seen, it cannot be unseen.
#[test]
fn info_write_may_or_may_not_have_happened() {
    let base = || {
        H::new()
            .write(0, "k", 1)
            .op(1, Invoke, Write, "k", Value::Int(2))
            .err(1, Info, Write, "k", Value::Int(2), "timeout")
    };
    assert!(base().read(2, "k", Some(1)).ok(), "it did not happen (yet)");
    assert!(base().read(2, "k", Some(2)).ok(), "it happened");
    assert!(
        base().read(2, "k", Some(1)).read(2, "k", Some(2)).ok(),
        "it happened late"
    );
    assert!(
        !base().read(2, "k", Some(2)).read(2, "k", Some(1)).ok(),
        "seen, then unseen"
    );
    let r = base().check();
    assert_eq!(r.indeterminate, 1);
    // No completion at all is the same as info.
    let pending = H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Write, "k", Value::Int(2))
        .read(2, "k", Some(2))
        .read(2, "k", Some(1));
    assert!(!pending.ok());
    // An info cas takes effect only if the register held its expected value.
    let info_cas = |seen| {
        H::new()
            .write(0, "k", 1)
            .op(1, Invoke, Cas, "k", cas(1, 2))
            .err(1, Info, Cas, "k", cas(1, 2), "timeout")
            .read(2, "k", Some(seen))
    };
    assert!(info_cas(1).ok() && info_cas(2).ok() && !info_cas(3).ok());
}

#[test]
fn failed_and_info_reads_are_dropped() {
    let r = H::new()
        .write(0, "k", 1)
        .op(1, Invoke, Read, "k", Value::Null)
        .err(1, Fail, Read, "k", Value::Null, "not-leader")
        .op(2, Invoke, Read, "k", Value::Null)
        .err(2, Info, Read, "k", Value::Null, "timeout")
        .check();
    assert!(r.is_ok());
    assert_eq!((r.operations, r.dropped), (1, 2));
}

#[test]
fn keys_are_checked_apart_and_the_violating_one_is_named() {
    let mut h = H::new();
    for k in 0..6 {
        h = h.write(k, &format!("k{k}"), k as i64 * 10).read(
            k + 10,
            &format!("k{k}"),
            Some(k as i64 * 10),
        );
    }
    let h = h.write(0, "k3", 31).read(1, "k3", Some(30));
    let r = h.check();
    assert_eq!((r.keys, r.operations), (6, 14));
    let Verdict::Violation { key, .. } = &r.verdict else {
        panic!()
    };
    assert_eq!(key, "k3");
    let k3 = r.per_key.iter().find(|k| k.key == "k3").unwrap();
    assert_eq!(k3.result, KeyResult::Violation);
    assert!(r
        .per_key
        .iter()
        .all(|k| k.key == "k3" || k.result != KeyResult::Violation));
}

/// A stale read among many unrelated operations shrinks to the operations
/// that explain it.
#[test]
fn violation_shrinks_to_a_small_proof() {
    let mut h = H::new();
    for v in 0..60 {
        h = h.write(v as u64 % 5, "k", v).read(7, "k", Some(v));
        if v == 40 {
            h = h.read(8, "k", Some(17));
        }
    }
    let r = h.check();
    let Verdict::Violation {
        ops,
        key_operations,
        minimal,
        ..
    } = &r.verdict
    else {
        panic!()
    };
    assert_eq!(*key_operations, 121);
    assert!(*minimal);
    let shown: Vec<&str> = ops.iter().map(|o| o.operation.as_str()).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert_eq!((shown[0], shown[2]), ("write(17)", "read() -> 17"));
    assert!(shown[1].starts_with("write("));
}

#[test]
fn list_append_reads_see_every_acknowledged_append_in_order() {
    assert!(H::new()
        .read_list(0, "k", &[])
        .append(1, "k", 1)
        .append(1, "k", 2)
        .read_list(0, "k", &[1, 2])
        .ok());
    // Stale: misses an append acknowledged before the read began.
    assert!(!H::new()
        .append(1, "k", 1)
        .append(1, "k", 2)
        .read_list(0, "k", &[1])
        .ok());
    // Order must be the append order.
    assert!(!H::new()
        .append(1, "k", 1)
        .append(1, "k", 2)
        .read_list(0, "k", &[2, 1])
        .ok());
    // Reads never go back.
    assert!(!H::new()
        .op(1, Invoke, Append, "k", Value::Int(1))
        .read_list(0, "k", &[1])
        .read_list(0, "k", &[])
        .ok());
    // An indeterminate append may show up, later.
    let info = || {
        H::new()
            .append(1, "k", 1)
            .op(2, Invoke, Append, "k", Value::Int(2))
            .err(2, Info, Append, "k", Value::Int(2), "timeout")
    };
    assert!(info()
        .read_list(0, "k", &[1])
        .read_list(0, "k", &[1, 2])
        .ok());
    assert!(!info()
        .read_list(0, "k", &[1, 2])
        .read_list(0, "k", &[1])
        .ok());
    let r = info()
        .read_list(0, "k", &[1, 2])
        .append(3, "k", 3)
        .read_list(0, "k", &[1, 3])
        .check();
    let Verdict::Violation { ops, .. } = &r.verdict else {
        panic!()
    };
    // Every one is needed: the first read shows that append(2) happened.
    assert_eq!(ops.len(), 5, "{ops:?}");
    assert_eq!(r.model, "list-append");
}

#[test]
fn out_of_time_is_unknown_never_a_violation() {
    let h = H::new().write(0, "k", 1).read(1, "k", Some(2));
    let opts = CheckOptions {
        timeout: Duration::ZERO,
        ..CheckOptions::default()
    };
    let r = check_history(&History::from_entries(h.0), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.per_key[0].result, KeyResult::Unknown);
}

#[test]
fn nemesis_and_trace_lines_are_ignored_by_the_checker() {
    let mut h = H::new().write(0, "k", 1);
    h.0.push(Entry::Nemesis(NemesisEvent {
        index: 2,
        f: "heal".into(),
        value: None,
        time: 5,
        extra: Default::default(),
    }));
    let text: String = h
        .read(1, "k", Some(1))
        .0
        .iter()
        .map(|e| e.to_line() + "\n")
        .collect::<String>()
        + r#"{"index":5,"type":"trace","node":"n2","shard":0,"event":"become-leader","term":4,"time":9}"#;
    let r = check_text(&text, Format::Tumult, &CheckOptions::default()).unwrap();
    assert!(r.is_ok());
    assert_eq!(r.operations, 2);
}

#[test]
fn violation_html_is_written() {
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lin_specs_violation.lin.html");
    let _ = std::fs::remove_file(&path);
    let h = H::new()
        .write(0, "k", 1)
        .write(0, "k", 2)
        .read(1, "k", Some(1));
    let opts = CheckOptions {
        html: Some(path.clone()),
        ..CheckOptions::default()
    };
    let r = check_history(&History::from_entries(h.0), &opts).unwrap();
    let Verdict::Violation {
        html, html_error, ..
    } = &r.verdict
    else {
        panic!()
    };
    assert_eq!(html_error, &None);
    assert_eq!(html.as_ref(), Some(&path));
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(page.contains("<html") && page.contains("read() -> 1"));
}

/// Bad input: the error names the line and what is wrong.
fn bad(text: &str) -> String {
    match check_text(text, Format::Tumult, &CheckOptions::default()) {
        Ok(r) => panic!("accepted: {:?}", r.verdict),
        Err(e) => e.to_string(),
    }
}

const INV_W: &str =
    r#"{"index":0,"type":"invoke","process":1,"f":"write","key":"k","value":1,"time":0}"#;
const OK_W: &str =
    r#"{"index":1,"type":"ok","process":1,"f":"write","key":"k","value":1,"time":1}"#;

#[test]
fn malformed_histories_name_the_line() {
    let e = bad(&format!("{INV_W}\n{OK_W}\n{OK_W}\n"));
    assert!(
        e.starts_with("line 3:") && e.contains("no open `invoke`"),
        "{e}"
    );
    let e = bad(&format!("{INV_W}\n{INV_W}\n"));
    assert!(e.starts_with("line 2:") && e.contains("still open"), "{e}");
    let e = bad(&format!("{INV_W}\n{}", &OK_W[..40]));
    assert!(e.starts_with("line 2: truncated"), "{e}");
    let e = bad(&format!(
        "{INV_W}\n{}\n",
        OK_W.replace("\"ok\"", "\"done\"")
    ));
    assert!(
        e.starts_with("line 2:") && e.contains("unknown type \"done\""),
        "{e}"
    );
    let e = bad(&format!(
        "{INV_W}\n{}\n",
        OK_W.replace("\"write\"", "\"read\"")
    ));
    assert!(e.starts_with("line 2:") && e.contains("line 1"), "{e}");
    let e = bad(&INV_W.replace(":1,\"time\"", ":[1,2],\"time\""));
    assert!(
        e.starts_with("line 1:") && e.contains("a write takes an integer"),
        "{e}"
    );
    let e = bad(&format!(
        "{INV_W}\n{OK_W}\n{}\n",
        r#"{"index":2,"type":"invoke","process":2,"f":"append","key":"k","value":1,"time":2}"#
    ));
    assert!(
        e.starts_with("line 3:") && e.contains("one workload"),
        "{e}"
    );
    let e =
        bad(r#"{"index":0,"type":"invoke","process":1,"f":"cas","key":"k","value":[1],"time":0}"#);
    assert!(e.contains("[expected, new]"), "{e}");
    let e = bad(&format!("{INV_W}\nnot json\n"));
    assert!(e.starts_with("line 2: not valid JSON"), "{e}");
}

#[test]
fn history_files_round_trip() {
    let h = H::new().write(0, "k", 1).read(1, "k", None);
    let mut out = Vec::new();
    tumult_models::history::write_history(&mut out, &h.0).unwrap();
    let back = read_history(out.as_slice()).unwrap();
    assert_eq!(back, History::from_entries(h.0));
}

/// Sixty appends whose clients timed out, all concurrent, none ever read:
/// porcupine-rs alone would try every order of every subset of them. They
/// cannot decide the verdict, so the check is immediate either way.
#[test]
fn unobserved_indeterminate_appends_do_not_explode() {
    let mut h = H::new();
    for t in [OpType::Invoke, OpType::Info] {
        for p in 0..60 {
            h = h.op(p, t, Function::Append, "k", Value::Int(100 + p as i64));
        }
    }
    let h = h.append(100, "k", 1).read_list(101, "k", &[1]);
    let opts = CheckOptions {
        timeout: Duration::from_secs(20),
        ..CheckOptions::default()
    };
    let r = check_history(&History::from_entries(h.0.clone()), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Ok);
    assert!(r.seconds < 10.0, "took {} s", r.seconds);

    // The same, but a read that lost the acknowledged append is caught.
    let bad = H(h.0).read_list(102, "k", &[]);
    let r = check_history(&History::from_entries(bad.0), &opts).unwrap();
    assert!(
        matches!(r.verdict, Verdict::Violation { .. }),
        "{:?}",
        r.verdict
    );
}

/// An indeterminate append that a read did see is still judged: it must
/// come in the order the reads saw it.
#[test]
fn observed_indeterminate_appends_are_still_judged() {
    let base = || {
        H::new()
            .op(1, OpType::Invoke, Function::Append, "k", Value::Int(1))
            .op(1, OpType::Info, Function::Append, "k", Value::Int(1))
            .append(2, "k", 2)
    };
    assert!(base().read_list(3, "k", &[2, 1]).ok());
    assert!(base().read_list(3, "k", &[1, 2]).ok());
    assert!(!base()
        .read_list(3, "k", &[2, 1])
        .read_list(3, "k", &[1, 2])
        .ok());
}

/// The shape that made the generic search blow up: hundreds of concurrent
/// appends whose clients timed out, which later reads do see, one by one
/// and in an order of the engine's choosing. The reads fix the order, so
/// the check is immediate; a read that loses one of them is caught, with
/// the two reads that disagree and the appends they saw.
#[test]
fn observed_indeterminate_appends_do_not_explode() {
    let n = 400u64;
    let mut h = H::new();
    for t in [OpType::Invoke, OpType::Info] {
        for p in 0..n {
            h = h.op(p, t, Function::Append, "k", Value::Int(p as i64));
        }
    }
    let order: Vec<i64> = (0..n as i64).map(|i| (i * 37) % n as i64).collect();
    for len in (0..=order.len()).step_by(7) {
        h = h.read_list(1000, "k", &order[..len]);
    }
    let h = h.read_list(1000, "k", &order);
    let opts = CheckOptions {
        timeout: Duration::from_secs(20),
        ..CheckOptions::default()
    };
    let r = check_history(&History::from_entries(h.0.clone()), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Ok);
    assert!(r.seconds < 5.0, "took {} s", r.seconds);

    let mut lost = order.clone();
    lost.remove(200);
    let bad = H(h.0).read_list(1001, "k", &lost);
    let r = check_history(&History::from_entries(bad.0), &opts).unwrap();
    let Verdict::Violation { ops, minimal, .. } = &r.verdict else {
        panic!("{:?}", r.verdict)
    };
    assert!(*minimal);
    let reads: Vec<&str> = ops
        .iter()
        .filter(|o| o.operation.starts_with("read"))
        .map(|o| o.operation.as_str())
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(r.seconds < 5.0, "took {} s", r.seconds);
}

/// A spec of one's own: a counter with `incr` (by the invoke's amount,
/// ok or indeterminate) and reads of the total.
struct Counter;

#[derive(Clone, Debug)]
enum CounterOp {
    Incr(i64),
    Read(i64),
}

impl tumult_models::lin::spec::Spec for Counter {
    const NAME: &'static str = "counter";
    type State = i64;
    type Op = CounterOp;
    fn init() -> i64 {
        0
    }
    fn step(state: &i64, op: &CounterOp) -> Option<i64> {
        match *op {
            CounterOp::Incr(n) => Some(state + n),
            CounterOp::Read(seen) => (seen == *state).then_some(*state),
        }
    }
    fn role(op: &CounterOp) -> tumult_models::lin::spec::Role {
        match op {
            CounterOp::Read(_) => tumult_models::lin::spec::Role::Observer { refs: Vec::new() },
            CounterOp::Incr(_) => tumult_models::lin::spec::Role::Pinned,
        }
    }
    fn describe_operation(op: &CounterOp) -> String {
        format!("{op:?}")
    }
    fn describe_state(state: &i64) -> String {
        state.to_string()
    }
}

impl tumult_models::lin::spec::HistorySpec for Counter {
    fn operation(
        f: &Function,
        value: &Value,
        ended: tumult_models::lin::spec::Completion<'_>,
    ) -> Result<tumult_models::lin::spec::Taken<CounterOp>, String> {
        use tumult_models::lin::spec::{Completion as C, Taken as T};
        Ok(match (f.as_str(), value, ended) {
            ("incr", Value::Int(n), C::Ok(_)) => T::Closed(CounterOp::Incr(*n)),
            ("incr", Value::Int(n), C::Unknown) => T::Open(CounterOp::Incr(*n)),
            ("incr", Value::Int(_), C::Fail(_)) => T::Drop,
            (_, _, C::Ok(Value::Int(n))) if *f == Read => T::Closed(CounterOp::Read(*n)),
            (_, _, C::Fail(_) | C::Unknown) if *f == Read => T::Drop,
            (name, v, _) => return Err(format!("field `value`: not a counter op: {name} {v}")),
        })
    }
}

fn incr() -> Function {
    Function::Other("incr".into())
}

fn counter(h: H) -> Result<Report, tumult_models::history::HistoryError> {
    tumult_models::lin::check_history_with::<Counter>(
        &History::from_entries(h.0),
        &CheckOptions::default(),
    )
}

#[test]
fn a_spec_of_your_own_is_checked_like_the_built_in_ones() {
    let base = || {
        H::new()
            .op(0, Invoke, incr(), "c", Value::Int(2))
            .op(0, Done, incr(), "c", Value::Int(2))
            .op(1, Invoke, incr(), "c", Value::Int(5))
            .op(1, Info, incr(), "c", Value::Int(5))
    };
    // The indeterminate +5 may or may not have happened: 2 and 7 are fine.
    for seen in [2, 7] {
        let r = counter(base().read(2, "c", Some(seen))).unwrap();
        assert!(r.is_ok(), "read {seen}: {:?}", r.verdict);
    }
    // 5 is neither: caught, on key c.
    let r = counter(base().read(2, "c", Some(5))).unwrap();
    match r.verdict {
        Verdict::Violation { key, .. } => assert_eq!(key, "c"),
        v => panic!("a read of 5 must be a violation, got {v:?}"),
    }
    // The built-in check refuses the function with its line and points to
    // check_history_with.
    let e = check_history(&History::from_entries(base().0), &CheckOptions::default()).unwrap_err();
    assert!(e.to_string().contains("check_history_with"), "{e}");
    // The spec's own complaint gets the line.
    let bad =
        H::new()
            .op(0, Invoke, incr(), "c", Value::Null)
            .op(0, Done, incr(), "c", Value::Null);
    let e = counter(bad).unwrap_err();
    assert!(e.to_string().contains("not a counter op"), "{e}");
}

#[test]
fn a_function_name_of_your_own_is_letters_digits_dashes_and_underscores() {
    assert_eq!(
        Function::parse("transfer"),
        Some(Function::Other("transfer".into()))
    );
    assert_eq!(Function::parse("read"), Some(Read));
    for bad in ["", "1x", "-x", "a b", "a\"b", &"x".repeat(65)] {
        assert_eq!(Function::parse(bad), None, "{bad:?}");
    }
    let text =
        r#"{"type":"invoke","f":"9lives","process":0,"key":"k","value":null,"time":0,"index":0}"#;
    let e = bad(text);
    assert!(e.starts_with("line 1:") && e.contains("field `f`"), "{e}");
}
