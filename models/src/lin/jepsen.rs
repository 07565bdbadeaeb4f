//! Jepsen's own history files (`history.edn`), checked with Knossos's
//! models and semantics (`tumult check --format jepsen-edn --model M`).
//!
//! The file is an EDN vector of operation maps, or one map per line (or
//! any run of maps); a map may be a tagged record such as
//! `#jepsen.history.Op{...}`. It is read by the `clojure-reader` crate: it
//! has no dependencies and hands back the unread rest of the input after
//! each form, which gives every operation its line. Keys are keywords:
//! `:process`, `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f`,
//! `:value`, and optionally `:time` and `:index`; anything else is ignored.
//! Operations whose `:process` is not an integer (the nemesis) and client
//! operations of other functions are skipped.
//!
//! As in Knossos: an invoke is paired with the next completion of its
//! process; `:ok` happened between the two (with the completion's value),
//! `:fail` did not happen, and `:info` (or no completion) may or may not
//! have happened (with the invoke's value) and stays open to the end. A
//! read whose value is nil matches any state, so it constrains nothing and
//! is dropped, as are reads that did not return. Values compare as EDN data
//! (`1` and `1.0` differ, as in Clojure).
//!
//! Models:
//! - `register`: `:read`, `:write`;
//! - `cas-register`: and `:cas` with value `[old new]`;
//! - `multi-register`: `:txn` with value `[[:read k v] [:write k v] ...]`,
//!   applied in order (an open txn keeps only its writes: its reads were
//!   never returned).
//!
//! `--initial V` (EDN, default nil) is the value of the register, or of
//! every key of the multi-register, before the history.
//!
//! Jepsen's `independent` workloads, where every value is a `[k v]` tuple,
//! are recognised from the invokes and checked per key `k`.

use super::prepare::Keyed;
use super::spec::{KeyOps, OpMeta, Operation, Role, Spec};
use crate::history::HistoryError;
use clojure_reader::edn::{self, Edn};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A Knossos model, chosen with `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JepsenModel {
    /// Read and write.
    #[default]
    Register,
    /// Read, write and compare-and-set.
    CasRegister,
    /// Transactions of reads and writes over many registers.
    MultiRegister,
}

impl JepsenModel {
    /// Every model.
    pub const ALL: [JepsenModel; 3] = [
        JepsenModel::Register,
        JepsenModel::CasRegister,
        JepsenModel::MultiRegister,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            JepsenModel::Register => "register",
            JepsenModel::CasRegister => "cas-register",
            JepsenModel::MultiRegister => "multi-register",
        }
    }
}

impl fmt::Display for JepsenModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JepsenModel {
    type Err = String;
    fn from_str(s: &str) -> Result<JepsenModel, String> {
        JepsenModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown model {s:?} (expected register, cas-register or multi-register)")
            })
    }
}

/// How to read a Jepsen history: the model and the initial value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JepsenOptions {
    /// The model.
    pub model: JepsenModel,
    /// The initial value, as EDN text; `None` is nil.
    pub initial: Option<String>,
}

/// A value as the checker compares it: nil, an integer, or any other EDN
/// value by its printed form (the reader prints maps and sets in a fixed
/// order, so equal values print alike).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JVal {
    /// nil.
    Nil,
    /// An integer.
    Int(i64),
    /// Any other value, printed.
    Other(Arc<str>),
}

impl JVal {
    fn of(e: &Edn<'_>) -> JVal {
        match e {
            Edn::Nil => JVal::Nil,
            Edn::Int(i) => JVal::Int(*i),
            other => JVal::Other(other.to_string().into()),
        }
    }

    /// The value as a number for shrinking's bookkeeping of which
    /// operation refers to which value: equal values give equal numbers;
    /// two values that collide only make shrinking keep more.
    fn code(&self) -> i64 {
        match self {
            JVal::Nil => i64::MIN,
            JVal::Int(i) => *i,
            JVal::Other(s) => fnv(s.as_bytes(), 0),
        }
    }
}

fn fnv(bytes: &[u8], seed: u64) -> i64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl fmt::Display for JVal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JVal::Nil => f.write_str("nil"),
            JVal::Int(i) => write!(f, "{i}"),
            JVal::Other(s) => f.write_str(s),
        }
    }
}

/// A register operation of a Jepsen history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JRegisterOp {
    /// The value before the history (`--initial`); never dropped.
    Initial(JVal),
    /// A read that returned this (non-nil) value.
    Read(JVal),
    /// A write.
    Write(JVal),
    /// A compare-and-set; `certain` when it returned `:ok`, otherwise it
    /// may or may not have happened.
    Cas {
        /// The value it compares with.
        expected: JVal,
        /// The value it sets.
        new: JVal,
        /// It returned `:ok`.
        certain: bool,
    },
}

/// Knossos's `register` (`CAS = false`) or `cas-register` (`CAS = true`).
#[derive(Clone, Copy, Debug)]
pub struct JepsenRegisterSpec<const CAS: bool>;

impl<const CAS: bool> Spec for JepsenRegisterSpec<CAS> {
    const NAME: &'static str = if CAS { "cas-register" } else { "register" };
    type State = JVal;
    type Op = JRegisterOp;

    fn init() -> JVal {
        JVal::Nil
    }

    fn step(state: &JVal, op: &JRegisterOp) -> Option<JVal> {
        match op {
            JRegisterOp::Initial(v) | JRegisterOp::Write(v) => Some(v.clone()),
            JRegisterOp::Read(v) => (state == v).then(|| state.clone()),
            JRegisterOp::Cas {
                expected,
                new,
                certain,
            } => {
                if state == expected {
                    Some(new.clone())
                } else if *certain {
                    None
                } else {
                    Some(state.clone())
                }
            }
        }
    }

    fn role(op: &JRegisterOp) -> Role {
        match op {
            JRegisterOp::Initial(_) => Role::Pinned,
            JRegisterOp::Read(v) => Role::Observer {
                refs: vec![v.code()],
            },
            JRegisterOp::Write(v) => Role::Changer {
                sets: vec![v.code()],
                refs: vec![],
            },
            JRegisterOp::Cas { expected, new, .. } => Role::Changer {
                sets: vec![new.code()],
                refs: vec![expected.code()],
            },
        }
    }

    fn describe_operation(op: &JRegisterOp) -> String {
        match op {
            JRegisterOp::Initial(v) => format!("initially {v}"),
            JRegisterOp::Read(v) => format!(":read -> {v}"),
            JRegisterOp::Write(v) => format!(":write {v}"),
            JRegisterOp::Cas {
                expected,
                new,
                certain,
            } => format!(
                ":cas [{expected} {new}] -> {}",
                if *certain { "ok" } else { "?" }
            ),
        }
    }

    fn describe_state(state: &JVal) -> String {
        state.to_string()
    }
}

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Micro {
    /// `[:read k v]` with a non-nil `v`.
    Read(JVal, JVal),
    /// `[:write k v]`.
    Write(JVal, JVal),
}

/// A transaction of Knossos's `multi-register`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    /// The micro-operations, in order.
    pub micro: Arc<[Micro]>,
    /// The initial values (`--initial`); never dropped.
    pub initial: bool,
}

/// Knossos's `multi-register`: a map from keys to values, every key nil
/// until written.
#[derive(Clone, Copy, Debug)]
pub struct JepsenMultiRegisterSpec;

impl Spec for JepsenMultiRegisterSpec {
    const NAME: &'static str = "multi-register";
    /// The keys written so far and their values, by key.
    type State = Arc<BTreeMap<JVal, JVal>>;
    type Op = Txn;

    fn init() -> Self::State {
        Arc::default()
    }

    fn step(state: &Self::State, op: &Txn) -> Option<Self::State> {
        let mut next: Option<BTreeMap<JVal, JVal>> = None;
        for m in op.micro.iter() {
            let now = next.as_ref().unwrap_or(state);
            match m {
                Micro::Read(k, v) => {
                    if now.get(k).unwrap_or(&JVal::Nil) != v {
                        return None;
                    }
                }
                Micro::Write(k, v) => {
                    if now.get(k) != Some(v) {
                        next.get_or_insert_with(|| (**state).clone())
                            .insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Some(next.map_or_else(|| Arc::clone(state), Arc::new))
    }

    fn role(op: &Txn) -> Role {
        if op.initial {
            return Role::Pinned;
        }
        let mut refs = Vec::new();
        for m in op.micro.iter() {
            match m {
                Micro::Read(k, v) => refs.push(fnv(k.to_string().as_bytes(), v.code() as u64)),
                // A transaction that writes is kept whole (dropping it is
                // only sound per key).
                Micro::Write(..) => return Role::Pinned,
            }
        }
        Role::Observer { refs }
    }

    fn describe_operation(op: &Txn) -> String {
        if op.initial {
            return format!(
                "initially {}",
                op.micro.first().map_or_else(String::new, |m| {
                    match m {
                        Micro::Read(_, v) | Micro::Write(_, v) => v.to_string(),
                    }
                })
            );
        }
        let parts: Vec<String> = op
            .micro
            .iter()
            .map(|m| match m {
                Micro::Read(k, v) => format!("[:read {k} {v}]"),
                Micro::Write(k, v) => format!("[:write {k} {v}]"),
            })
            .collect();
        format!(":txn [{}]", parts.join(" "))
    }

    fn describe_state(state: &Self::State) -> String {
        let parts: Vec<String> = state.iter().map(|(k, v)| format!("{k} {v}")).collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn state_heap_bytes(state: &Self::State) -> usize {
        state.len() * 2 * std::mem::size_of::<(JVal, JVal)>()
    }
}

/// A Jepsen history, translated for its model.
pub(crate) enum Parsed {
    Register(Keyed<JepsenRegisterSpec<false>>),
    CasRegister(Keyed<JepsenRegisterSpec<true>>),
    MultiRegister(Keyed<JepsenMultiRegisterSpec>),
}

/// One operation map of the file.
struct Op<'e> {
    line: usize,
    pos: usize,
    process: u64,
    kind: Kind,
    f: String,
    value: Edn<'e>,
    time: Option<u64>,
    index: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// The forms of the file with the line each starts on: the elements of a
/// top-level vector, or every top-level form.
fn forms(text: &str) -> Result<Vec<(usize, Edn<'_>)>, HistoryError> {
    let mut rest = text;
    let mut line = 1;
    // Skips whitespace, commas and comments, counting lines.
    let skip = |rest: &mut &str, line: &mut usize| loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        *line += rest[..rest.len() - trimmed.len()].matches('\n').count();
        *rest = trimmed;
        if rest.starts_with(';') {
            let end = rest.find('\n').unwrap_or(rest.len());
            *rest = &rest[end..];
        } else {
            break;
        }
    };
    skip(&mut rest, &mut line);
    let in_vector = rest.starts_with('[');
    if in_vector {
        rest = &rest[1..];
    }
    let mut out = Vec::new();
    loop {
        skip(&mut rest, &mut line);
        if rest.is_empty() {
            if in_vector {
                return Err(HistoryError::line(
                    line,
                    "the file ends before the `]` that closes the vector of operations",
                ));
            }
            break;
        }
        if in_vector && rest.starts_with(']') {
            rest = &rest[1..];
            skip(&mut rest, &mut line);
            if !rest.is_empty() {
                return Err(HistoryError::line(
                    line,
                    "unexpected text after the vector of operations",
                ));
            }
            break;
        }
        let (form, after) = edn::read(rest).map_err(|e| {
            let at = e.line.map_or(line, |l| line + l - 1);
            let column = e
                .column
                .map_or_else(String::new, |c| format!(", column {c}"));
            HistoryError::line(at, format!("not EDN ({:?}{column})", e.code))
        })?;
        out.push((line, form));
        line += rest[..rest.len() - after.len()].matches('\n').count();
        rest = after;
    }
    Ok(out)
}

fn keyword<'a>(e: &'a Edn<'_>) -> Option<&'a str> {
    match e {
        Edn::Key(k) => Some(k),
        _ => None,
    }
}

/// The entries of an operation map (or a tagged record of one) whose keys
/// are keywords, by name without the colon.
pub(crate) fn keyword_map<'e>(form: &Edn<'e>) -> Result<BTreeMap<String, Edn<'e>>, String> {
    let map = match form {
        Edn::Map(m) => m,
        Edn::Tagged(_, inner) => match &**inner {
            Edn::Map(m) => m,
            other => return Err(format!("an operation must be a map, found {other}")),
        },
        other => return Err(format!("an operation must be a map, found {other}")),
    };
    Ok(map
        .iter()
        .filter_map(|(k, v)| keyword(k).map(|k| (k.to_string(), v.clone())))
        .collect())
}

/// The one EDN form of `text` (a line).
pub(crate) fn read_one(text: &str) -> Result<Edn<'_>, String> {
    match edn::read(text) {
        Ok((form, rest)) if rest.trim().is_empty() => Ok(form),
        Ok((_, rest)) => Err(format!("unexpected {:?} after the map", rest.trim())),
        Err(e) if e.code == clojure_reader::error::Code::UnexpectedEOF => {
            Err("truncated line: the map is not closed".into())
        }
        Err(e) => Err(format!(
            "not EDN ({:?}{})",
            e.code,
            e.column
                .map_or_else(String::new, |c| format!(", column {c}"))
        )),
    }
}

/// The operation map of a form, `None` for one that is not a client's.
fn op<'e>(line: usize, pos: usize, form: Edn<'e>) -> Result<Option<Op<'e>>, HistoryError> {
    let err = |m: String| HistoryError::line(line, m);
    let mut map = keyword_map(&form).map_err(err)?;
    let process = match map.remove("process") {
        Some(Edn::Int(p)) if p >= 0 => p as u64,
        Some(Edn::Int(p)) => return Err(err(format!(":process {p} is negative"))),
        // The nemesis, or another non-client process.
        Some(_) => return Ok(None),
        None => return Err(err("the operation has no :process".into())),
    };
    let kind = match map.remove("type") {
        Some(t) => match keyword(&t) {
            Some("invoke") => Kind::Invoke,
            Some("ok") => Kind::Ok,
            Some("fail") => Kind::Fail,
            Some("info") => Kind::Info,
            _ => {
                return Err(err(format!(
                    ":type must be :invoke, :ok, :fail or :info, found {t}"
                )))
            }
        },
        None => return Err(err("the operation has no :type".into())),
    };
    let f = match map.remove("f") {
        Some(f) => match keyword(&f) {
            Some(k) => k.to_string(),
            None => return Err(err(format!(":f must be a keyword, found {f}"))),
        },
        None => return Err(err("the operation has no :f".into())),
    };
    let number = |name: &str, e: Option<Edn<'_>>| match e {
        None => Ok(None),
        Some(Edn::Int(i)) if i >= 0 => Ok(Some(i as u64)),
        Some(other) => Err(err(format!(
            ":{name} must be a non-negative integer, found {other}"
        ))),
    };
    let time = number("time", map.remove("time"))?;
    let index = number("index", map.remove("index"))?;
    Ok(Some(Op {
        line,
        pos,
        process,
        kind,
        f,
        value: map.remove("value").unwrap_or(Edn::Nil),
        time,
        index,
    }))
}

/// A register function's value, or a transaction's micro-operations.
enum Body {
    Read(JVal),
    Write(JVal),
    Cas(JVal, JVal),
    Txn(Vec<Micro>),
}

fn pair_of<'a, 'e>(e: &'a Edn<'e>) -> Option<(&'a Edn<'e>, &'a Edn<'e>)> {
    match e {
        Edn::Vector(v) | Edn::List(v) if v.len() == 2 => Some((&v[0], &v[1])),
        _ => None,
    }
}

fn is_seq(e: &Edn<'_>) -> bool {
    matches!(e, Edn::Vector(_) | Edn::List(_))
}

/// The body of `f` with value `value` (a client value, not a tuple).
fn body(f: &str, value: &Edn<'_>) -> Result<Body, String> {
    match f {
        "read" => Ok(Body::Read(JVal::of(value))),
        "write" => Ok(Body::Write(JVal::of(value))),
        "cas" => match pair_of(value) {
            Some((a, b)) => Ok(Body::Cas(JVal::of(a), JVal::of(b))),
            None if *value == Edn::Nil => Err(":cas needs a value [old new], found nil".into()),
            None => Err(format!(":cas needs a value [old new], found {value}")),
        },
        _ => {
            let (Edn::Vector(items) | Edn::List(items)) = value else {
                return Err(format!(
                    ":txn needs a vector of [:read k v] / [:write k v], found {value}"
                ));
            };
            let mut micro = Vec::new();
            for m in items {
                let parts: &[Edn<'_>] = match m {
                    Edn::Vector(p) | Edn::List(p) => p,
                    _ => &[],
                };
                match (parts.first().and_then(keyword), parts.len()) {
                    (Some("read"), 3) => {
                        let v = JVal::of(&parts[2]);
                        // A nil read matches any state.
                        if v != JVal::Nil {
                            micro.push(Micro::Read(JVal::of(&parts[1]), v));
                        }
                    }
                    (Some("write"), 3) => {
                        micro.push(Micro::Write(JVal::of(&parts[1]), JVal::of(&parts[2])));
                    }
                    _ => {
                        return Err(format!(
                            "a :txn micro-operation must be [:read k v] or [:write k v], found {m}"
                        ))
                    }
                }
            }
            Ok(Body::Txn(micro))
        }
    }
}

/// The value of `--initial`: one EDN value.
pub fn parse_initial(text: &str) -> Result<JVal, String> {
    match edn::read(text) {
        Ok((value, rest)) if rest.trim().is_empty() => Ok(JVal::of(&value)),
        Ok(_) => Err(format!("{text:?} is more than one EDN value")),
        Err(e) => Err(format!("{text:?} is not an EDN value ({:?})", e.code)),
    }
}

/// Parses a Jepsen history for `opts.model`.
pub(crate) fn parse(text: &str, opts: &JepsenOptions) -> Result<Parsed, HistoryError> {
    let model = opts.model;
    let initial = match &opts.initial {
        None => JVal::Nil,
        Some(t) => parse_initial(t).map_err(|m| HistoryError::line(1, m))?,
    };
    let functions: &[&str] = match model {
        JepsenModel::Register => &["read", "write"],
        JepsenModel::CasRegister => &["read", "write", "cas"],
        JepsenModel::MultiRegister => &["txn"],
    };
    let forms = forms(text)?;
    // Open operations return after everything.
    let end = forms.len() as i64 + 1;
    let mut ops = Vec::new();
    for (pos, (line, form)) in forms.into_iter().enumerate() {
        let Some(o) = op(line, pos, form)? else {
            continue;
        };
        if functions.contains(&o.f.as_str()) {
            ops.push(o);
            continue;
        }
        let other = match o.f.as_str() {
            "cas" => Some("cas-register"),
            "read" | "write" if model == JepsenModel::MultiRegister => Some("register"),
            "txn" => Some("multi-register"),
            _ => None,
        };
        if let Some(other) = other {
            return Err(HistoryError::line(
                o.line,
                format!(
                    ":f :{} is not an operation of the model {model}; try --model {other}",
                    o.f
                ),
            ));
        }
    }
    // Jepsen's `independent` tuples: every invoke's value is `[k v]` (and a
    // cas's `v` a pair, a txn's `v` a vector of micro-operations, whose
    // plain values are vectors of vectors).
    let invokes = ops.iter().filter(|o| o.kind == Kind::Invoke);
    let independent = invokes.clone().count() > 0
        && invokes.into_iter().all(|o| match pair_of(&o.value) {
            Some((k, v)) => match o.f.as_str() {
                "cas" => pair_of(v).is_some(),
                "txn" => !is_seq(k) && is_seq(v),
                _ => true,
            },
            None => false,
        });
    let mut outstanding: HashMap<u64, usize> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut dropped = 0;
    let mut taken: Vec<Option<Op<'_>>> = ops.into_iter().map(Some).collect();
    for i in 0..taken.len() {
        let o = taken[i].as_ref().expect("not yet taken");
        if o.kind == Kind::Invoke {
            if let Some(&prev) = outstanding.get(&o.process) {
                let p = taken[prev].as_ref().expect("open invoke");
                return Err(HistoryError::line(
                    o.line,
                    format!(
                        "process {} invokes again while its :{} from line {} is still open",
                        o.process, p.f, p.line
                    ),
                ));
            }
            outstanding.insert(o.process, i);
            continue;
        }
        let Some(inv) = outstanding.remove(&o.process) else {
            return Err(HistoryError::line(
                o.line,
                format!("a completion of process {} with no open :invoke", o.process),
            ));
        };
        let done = taken[i].take().expect("completion");
        let inv = taken[inv].take().expect("invoke");
        if inv.f != done.f {
            return Err(HistoryError::line(
                done.line,
                format!(
                    "the completion :{} of process {} does not match its :invoke :{} on line {}",
                    done.f, done.process, inv.f, inv.line
                ),
            ));
        }
        match finish(inv, Some(done), independent, end)? {
            Some(p) => pending.push(p),
            None => dropped += 1,
        }
    }
    // Invokes that never completed may or may not have happened.
    let mut never: Vec<usize> = outstanding.into_values().collect();
    never.sort_unstable();
    for i in never {
        let inv = taken[i].take().expect("open invoke");
        match finish(inv, None, independent, end)? {
            Some(p) => pending.push(p),
            None => dropped += 1,
        }
    }
    pending.sort_by_key(|p| p.call_time);
    let open = pending.iter().filter(|p| p.meta.open).count();
    let single = model.name();
    Ok(match model {
        JepsenModel::Register => {
            Parsed::Register(registers(pending, single, &initial, dropped, open))
        }
        JepsenModel::CasRegister => {
            Parsed::CasRegister(registers(pending, single, &initial, dropped, open))
        }
        JepsenModel::MultiRegister => {
            Parsed::MultiRegister(multi(pending, single, &initial, dropped, open))
        }
    })
}

/// An operation that happened or may have, before it is given to its model.
struct Pending {
    key: Option<String>,
    body: Body,
    call_time: i64,
    return_time: i64,
    meta: OpMeta,
}

/// An invoke and its completion (`None`: there is none) as an operation,
/// or `None` when it certainly did not happen or constrains nothing.
fn finish(
    inv: Op<'_>,
    done: Option<Op<'_>>,
    independent: bool,
    end: i64,
) -> Result<Option<Pending>, HistoryError> {
    let kind = done.as_ref().map_or(Kind::Info, |d| d.kind);
    if kind == Kind::Fail {
        return Ok(None);
    }
    let open = kind != Kind::Ok;
    // Knossos: an :ok op has its completion's value, an :info one its invoke's.
    let (source, line) = match &done {
        Some(d) if !open => (&d.value, d.line),
        _ => (&inv.value, inv.line),
    };
    let (key, value) = if independent {
        match pair_of(source) {
            Some((k, v)) => (Some(k.to_string()), v),
            None => {
                return Err(HistoryError::line(
                    line,
                    format!(
                        "the invokes are Jepsen `independent` [k v] tuples, but this :value is {source}"
                    ),
                ))
            }
        }
    } else {
        (None, source)
    };
    let body = match body(&inv.f, value).map_err(|m| HistoryError::line(line, m))? {
        // A read that did not return, or returned nil, matches any state.
        Body::Read(_) if open => return Ok(None),
        Body::Read(JVal::Nil) => return Ok(None),
        Body::Txn(micro) => {
            let micro: Vec<Micro> = if open {
                micro
                    .into_iter()
                    .filter(|m| matches!(m, Micro::Write(..)))
                    .collect()
            } else {
                micro
            };
            if micro.is_empty() {
                return Ok(None);
            }
            Body::Txn(micro)
        }
        b => b,
    };
    let meta = OpMeta {
        process: inv.process,
        index: inv.index.unwrap_or(inv.pos as u64),
        invoke_line: inv.line,
        complete_line: done.as_ref().map(|d| d.line),
        invoke_time: inv.time.unwrap_or(inv.line as u64),
        complete_time: done.as_ref().map(|d| d.time.unwrap_or(d.line as u64)),
        open,
    };
    Ok(Some(Pending {
        key,
        body,
        call_time: inv.pos as i64,
        return_time: match &done {
            Some(d) if !open => d.pos as i64,
            _ => end,
        },
        meta,
    }))
}

fn operation<M: Spec>(p: &Pending, op: M::Op) -> Operation<M> {
    Operation {
        client_id: Some(p.meta.process as u32),
        call_time: p.call_time,
        return_time: p.return_time,
        op,
        metadata: Some(p.meta),
    }
}

/// The operation that sets the initial value before everything.
fn initially<M: Spec>(op: M::Op) -> Operation<M> {
    Operation {
        client_id: None,
        call_time: -2,
        return_time: -1,
        op,
        metadata: None,
    }
}

fn registers<const CAS: bool>(
    pending: Vec<Pending>,
    single: &str,
    initial: &JVal,
    dropped: usize,
    open: usize,
) -> Keyed<JepsenRegisterSpec<CAS>> {
    let mut keys: BTreeMap<String, Vec<Operation<JepsenRegisterSpec<CAS>>>> = BTreeMap::new();
    for p in pending {
        let op = match &p.body {
            Body::Read(v) => JRegisterOp::Read(v.clone()),
            Body::Write(v) => JRegisterOp::Write(v.clone()),
            Body::Cas(expected, new) => JRegisterOp::Cas {
                expected: expected.clone(),
                new: new.clone(),
                certain: !p.meta.open,
            },
            // Not a function of a register model (parse refused it).
            Body::Txn(_) => continue,
        };
        let key = p.key.clone().unwrap_or_else(|| single.to_string());
        let ops = keys.entry(key).or_insert_with(|| {
            if *initial == JVal::Nil {
                Vec::new()
            } else {
                vec![initially(JRegisterOp::Initial(initial.clone()))]
            }
        });
        ops.push(operation(&p, op));
    }
    keyed(keys, dropped, open)
}

fn multi(
    pending: Vec<Pending>,
    single: &str,
    initial: &JVal,
    dropped: usize,
    open: usize,
) -> Keyed<JepsenMultiRegisterSpec> {
    let mut keys: BTreeMap<String, Vec<Operation<JepsenMultiRegisterSpec>>> = BTreeMap::new();
    let mut registers: BTreeMap<String, BTreeSet<JVal>> = BTreeMap::new();
    for p in pending {
        let Body::Txn(micro) = &p.body else {
            continue;
        };
        let key = p.key.clone().unwrap_or_else(|| single.to_string());
        let regs = registers.entry(key.clone()).or_default();
        for m in micro {
            let (Micro::Read(k, _) | Micro::Write(k, _)) = m;
            regs.insert(k.clone());
        }
        let op = Txn {
            micro: micro.clone().into(),
            initial: false,
        };
        keys.entry(key).or_default().push(operation(&p, op));
    }
    if *initial != JVal::Nil {
        for (key, ops) in keys.iter_mut() {
            let micro: Vec<Micro> = registers[key]
                .iter()
                .map(|k| Micro::Write(k.clone(), initial.clone()))
                .collect();
            ops.insert(
                0,
                initially(Txn {
                    micro: micro.into(),
                    initial: true,
                }),
            );
        }
    }
    keyed(keys, dropped, open)
}

fn keyed<M: Spec>(
    keys: BTreeMap<String, Vec<Operation<M>>>,
    dropped: usize,
    open: usize,
) -> Keyed<M> {
    let keys = keys
        .into_iter()
        .map(|(key, ops)| KeyOps { key, ops })
        .collect();
    Keyed::new(keys, dropped, open)
}
