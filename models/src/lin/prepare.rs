//! From a tumult history to operations per key: pair each invoke with its
//! process's completion, drop what certainly did not happen, leave what may
//! have happened open to the end, and translate into the workload's spec.

use super::spec::{
    CasOutcome, Completion, HistorySpec, KeyOps, ListAppendSpec, ListOp, OpMeta, Operation,
    RegisterOp, RegisterSpec, Seen, Spec, Taken,
};
use crate::history::{ClientOp, Entry, Function, History, HistoryError, OpType, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Operations of every key, plus what was left out.
pub(crate) struct Keyed<M: Spec> {
    pub keys: Vec<KeyOps<M>>,
    /// Operations dropped before checking (fail, indeterminate reads).
    pub dropped: usize,
    /// Operations left open to the end (info, or no completion).
    pub open: usize,
    /// The order the system claims (see [`super::witness`]), when the
    /// history has one: each key's operations' request ids, aligned with
    /// `keys`, and the log index where each request took effect.
    pub claims: Option<Claims>,
}

/// Request ids per key and operation, and where each took effect.
pub(crate) struct Claims {
    pub requests: Vec<Vec<Option<RequestId>>>,
    pub applied: HashMap<RequestId, u64>,
}

impl<M: Spec> Keyed<M> {
    /// Operations without a claimed order.
    pub(crate) fn new(keys: Vec<KeyOps<M>>, dropped: usize, open: usize) -> Keyed<M> {
        Keyed {
            keys,
            dropped,
            open,
            claims: None,
        }
    }
}

/// A client request's id: `[client, seq]`.
pub(crate) type RequestId = [u64; 2];

/// An operation and the request id its invoke line names.
type Claimed<M> = (Operation<M>, Option<RequestId>);

/// The request id an invoke line carries (`"request": [client, seq]`).
fn request_of(op: &ClientOp) -> Option<RequestId> {
    match op.extra.get("request")?.as_array()?.as_slice() {
        [c, s] => Some([c.as_u64()?, s.as_u64()?]),
        _ => None,
    }
}

/// A tumult history, translated for its workload.
pub(crate) enum Prepared {
    Register(Keyed<RegisterSpec>),
    ListAppend(Keyed<ListAppendSpec>),
}

/// An invoke and its completion.
struct Pair {
    invoke: ClientOp,
    invoke_line: usize,
    invoke_pos: usize,
    completion: Option<(ClientOp, usize, usize)>,
}

impl Pair {
    fn meta(&self, open: bool) -> OpMeta {
        OpMeta {
            process: self.invoke.process,
            index: self.invoke.index,
            invoke_line: self.invoke_line,
            complete_line: self.completion.as_ref().map(|c| c.1),
            invoke_time: self.invoke.time,
            complete_time: self.completion.as_ref().map(|c| c.0.time),
            open,
        }
    }

    /// The completion's type; `Info` when there is none.
    fn outcome(&self) -> OpType {
        self.completion
            .as_ref()
            .map_or(OpType::Info, |c| c.0.op_type)
    }
}

/// Pairs each invoke with its process's completion as the history streams
/// by: a pair leaves as soon as it completes, so only the outstanding
/// invokes are held.
#[derive(Default)]
struct Pairer {
    outstanding: HashMap<u64, Pair>,
}

impl Pairer {
    /// Takes the client operation at `pos` (line `line`); returns the pair
    /// it completes.
    fn feed(
        &mut self,
        pos: usize,
        line: usize,
        op: ClientOp,
    ) -> Result<Option<Pair>, HistoryError> {
        if op.op_type == OpType::Invoke {
            if let Some(prev) = self.outstanding.get(&op.process) {
                return Err(HistoryError::line(
                    line,
                    format!(
                        "process {} invokes again while its `{}` from line {} is still open \
                         (a process has at most one outstanding operation; after `info` a client \
                         continues as a new process)",
                        op.process, prev.invoke.f, prev.invoke_line
                    ),
                ));
            }
            self.outstanding.insert(
                op.process,
                Pair {
                    invoke: op,
                    invoke_line: line,
                    invoke_pos: pos,
                    completion: None,
                },
            );
            return Ok(None);
        }
        let Some(mut p) = self.outstanding.remove(&op.process) else {
            return Err(HistoryError::line(
                line,
                format!(
                    "`{}` of process {} with no open `invoke` (a completion must follow its process's invoke)",
                    op.op_type, op.process
                ),
            ));
        };
        if p.invoke.f != op.f || p.invoke.key != op.key {
            return Err(HistoryError::line(
                line,
                format!(
                    "`{}` of process {} is a `{}` of key {:?}, but its invoke on line {} is a `{}` of key {:?}",
                    op.op_type, op.process, op.f, op.key, p.invoke_line, p.invoke.f, p.invoke.key
                ),
            ));
        }
        p.completion = Some((op, line, pos));
        Ok(Some(p))
    }

    /// The invokes that never completed, in history order.
    fn finish(self) -> Vec<Pair> {
        let mut open: Vec<Pair> = self.outstanding.into_values().collect();
        open.sort_by_key(|p| p.invoke_pos);
        open
    }
}

/// The records of a history, with their line numbers, as they stream by.
pub(crate) type Records<'a> = Box<dyn Iterator<Item = Result<(usize, Entry), HistoryError>> + 'a>;

/// The records of an in-memory history.
pub(crate) fn records_of(history: &History) -> Records<'_> {
    Box::new(
        history
            .records
            .iter()
            .map(|r| Ok((r.line, r.entry.clone()))),
    )
}

fn bad_value(line: usize, what: &str, v: &Value) -> HistoryError {
    HistoryError::line(line, format!("field `value`: {what}, found {v}"))
}

/// Pairs and translates a tumult history as its records stream by (a file
/// read line by line): it holds the outstanding invokes and the translated
/// operations, whose list-append reads share one list per key. The
/// workload is recognised from the operations: `append` means list-append,
/// `write` or `cas` register; a history of reads only goes by what the
/// reads returned.
pub(crate) fn prepare_stream(records: Records<'_>) -> Result<Prepared, HistoryError> {
    let mut pairer = Pairer::default();
    // The workload, from the first append, write or cas: (list-append?, f, line).
    let mut kind: Option<(bool, Function, usize)> = None;
    // Pairs completed before the workload was known (reads).
    let mut waiting: Vec<Pair> = Vec::new();
    let mut register = Builder::<RegisterSpec>::default();
    let mut list = ListBuilder::default();
    let mut count = 0;
    // Where each client request took effect, from the trace's applies.
    let mut applied: HashMap<RequestId, u64> = HashMap::new();
    for (pos, record) in records.enumerate() {
        let (line, entry) = record?;
        count = pos + 1;
        let op = match entry {
            Entry::Client(op) => op,
            Entry::Trace(t) => {
                if let tumult_trace::TraceEvent::Apply {
                    index,
                    request: Some(r),
                    ..
                } = t.event
                {
                    applied.entry(r).or_insert(index);
                }
                continue;
            }
            Entry::Nemesis(_) => continue,
        };
        if op.op_type == OpType::Invoke {
            let is_list = match &op.f {
                Function::Other(_) => return Err(not_built_in(line, &op.f)),
                Function::Read => None,
                Function::Append => Some(true),
                Function::Write | Function::Cas => Some(false),
            };
            match (&kind, is_list) {
                (None, Some(l)) => kind = Some((l, op.f.clone(), line)),
                (Some((k, earlier, earlier_line)), Some(l)) if *k != l => {
                    return Err(HistoryError::line(
                        line,
                        format!(
                            "field `f`: `{}` in a history that has a `{earlier}` on line \
                             {earlier_line} (a history holds one workload: register \
                             read/write/cas or list-append append/read)",
                            op.f
                        ),
                    ));
                }
                _ => {}
            }
        }
        let Some(p) = pairer.feed(pos, line, op)? else {
            continue;
        };
        match &kind {
            None => waiting.push(p),
            Some((true, ..)) => {
                for w in waiting.drain(..) {
                    list.add(w)?;
                }
                list.add(p)?;
            }
            Some((false, ..)) => {
                for w in waiting.drain(..) {
                    register.add(&w, register_op(&w)?);
                }
                register.add(&p, register_op(&p)?);
            }
        }
    }
    let is_list = match &kind {
        Some((l, ..)) => *l,
        None => waiting.iter().any(|p| {
            matches!(&p.completion, Some((c, _, _)) if c.op_type == OpType::Ok && matches!(c.value, Value::List(_)))
        }),
    };
    let end = count as i64 + 1;
    let rest = waiting.into_iter().chain(pairer.finish());
    if is_list {
        for p in rest {
            list.add(p)?;
        }
        Ok(Prepared::ListAppend(list.finish(end)))
    } else {
        for p in rest {
            register.add(&p, register_op(&p)?);
        }
        let claims = (!applied.is_empty()).then_some(applied);
        Ok(Prepared::Register(register.finish(end, claims)))
    }
}

fn not_built_in(line: usize, f: &Function) -> HistoryError {
    HistoryError::line(
        line,
        format!(
            "field `f`: `{f}` is not an operation of the built-in workloads (register: read, \
             write, cas; list-append: append, read); a history of your own workload is \
             checked against its own spec (lin::check_history_with)"
        ),
    )
}

/// `key`'s entry of `map`, made empty the first time: a new key string per
/// key, not per operation.
fn of_key<'a, V: Default>(map: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// The operations of every key, gathered pair by pair.
struct Builder<M: Spec> {
    /// Each key's operations, with their request ids.
    keys: BTreeMap<String, Vec<Claimed<M>>>,
    dropped: usize,
    open: usize,
}

impl<M: Spec> Default for Builder<M> {
    fn default() -> Self {
        Builder {
            keys: BTreeMap::new(),
            dropped: 0,
            open: 0,
        }
    }
}

impl<M: Spec> Builder<M> {
    /// Adds what `p` became; returns its position among its key's.
    fn add(&mut self, p: &Pair, taken: Taken<M::Op>) -> Option<usize> {
        let (op, open) = match taken {
            Taken::Drop => {
                self.dropped += 1;
                return None;
            }
            Taken::Closed(op) => (op, false),
            Taken::Open(op) => {
                self.open += 1;
                (op, true)
            }
        };
        // Call and return times are positions in the history; an open
        // operation returns after everything (set in `finish`).
        let return_time = match &p.completion {
            Some((_, _, pos)) if !open => *pos as i64,
            _ => i64::MAX,
        };
        let op = Operation {
            client_id: Some(p.invoke.process as u32),
            call_time: p.invoke_pos as i64,
            return_time,
            op,
            metadata: Some(p.meta(open)),
        };
        let ops = of_key(&mut self.keys, &p.invoke.key);
        ops.push((op, request_of(&p.invoke)));
        Some(ops.len() - 1)
    }

    /// Every key's operations in invoke order; open ones return at `end`.
    /// With `applied` (request id to log index, from the trace), the keys
    /// carry the order the system claims.
    fn finish(self, end: i64, applied: Option<HashMap<RequestId, u64>>) -> Keyed<M> {
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut requests = Vec::with_capacity(self.keys.len());
        for (key, mut ops) in self.keys {
            for (o, _) in &mut ops {
                if o.return_time == i64::MAX {
                    o.return_time = end;
                }
            }
            ops.sort_by_key(|(o, _)| o.call_time);
            let (ops, ids): (Vec<_>, Vec<_>) = ops.into_iter().unzip();
            keys.push(KeyOps { key, ops });
            requests.push(ids);
        }
        let mut keyed = Keyed::new(keys, self.dropped, self.open);
        keyed.claims = applied.map(|applied| Claims { requests, applied });
        keyed
    }
}

/// List-append operations, whose reads share one list per key: the
/// longest read so far, which the reads that are its prefixes point into
/// (a read that disagrees keeps its own copy).
#[derive(Default)]
struct ListBuilder {
    ops: Builder<ListAppendSpec>,
    longest: BTreeMap<String, KeyList>,
}

/// A key's longest read so far, and the reads that are its prefixes
/// (position among the key's operations, length).
#[derive(Default)]
struct KeyList {
    list: Vec<i64>,
    reads: Vec<(usize, usize)>,
}

impl ListBuilder {
    fn add(&mut self, p: Pair) -> Result<(), HistoryError> {
        let seen = match (&p.invoke.f, &p.completion) {
            (Function::Read, Some((c, _, _))) if c.op_type == OpType::Ok => match &c.value {
                Value::List(l) => Some(l.as_slice()),
                _ => None,
            },
            _ => None,
        };
        let Some(seen) = seen else {
            // Appends, reads that said nothing, and malformed values.
            let taken = list_op(&p)?;
            self.ops.add(&p, taken);
            return Ok(());
        };
        let entry = of_key(&mut self.longest, &p.invoke.key);
        let longest = &mut entry.list;
        let shares = if seen.len() <= longest.len() {
            longest[..seen.len()] == *seen
        } else if seen[..longest.len()] == longest[..] {
            longest.extend_from_slice(&seen[longest.len()..]);
            true
        } else {
            false
        };
        if !shares {
            self.ops.add(&p, Taken::Closed(ListOp::Read(seen.into())));
            return Ok(());
        }
        // Points into the key's list once it is final (`finish`).
        let placeholder = Taken::Closed(ListOp::Read(Seen::default()));
        if let Some(at) = self.ops.add(&p, placeholder) {
            entry.reads.push((at, seen.len()));
        }
        Ok(())
    }

    fn finish(mut self, end: i64) -> Keyed<ListAppendSpec> {
        for (key, KeyList { list, reads }) in std::mem::take(&mut self.longest) {
            let all: Arc<[i64]> = list.into();
            let ops = self.ops.keys.get_mut(&key).expect("a key with reads");
            for (at, len) in reads {
                ops[at].0.op = ListOp::Read(Seen::prefix(&all, len));
            }
        }
        self.ops.finish(end, None)
    }
}

fn register_op(p: &Pair) -> Result<Taken<RegisterOp>, HistoryError> {
    let line = p.invoke_line;
    Ok(match p.invoke.f {
        Function::Read => match &p.completion {
            Some((c, cline, _)) if c.op_type == OpType::Ok => match c.value {
                Value::Null => Taken::Closed(RegisterOp::Read(None)),
                Value::Int(v) => Taken::Closed(RegisterOp::Read(Some(v))),
                ref v => {
                    return Err(bad_value(
                        *cline,
                        "a register read returns an integer or null",
                        v,
                    ))
                }
            },
            // A read that failed or may have happened says nothing.
            _ => Taken::Drop,
        },
        Function::Write => {
            let Value::Int(v) = p.invoke.value else {
                return Err(bad_value(line, "a write takes an integer", &p.invoke.value));
            };
            match p.outcome() {
                OpType::Ok => Taken::Closed(RegisterOp::Write(v)),
                OpType::Fail => Taken::Drop,
                _ => Taken::Open(RegisterOp::Write(v)),
            }
        }
        Function::Cas => {
            let (expected, new) = match &p.invoke.value {
                Value::List(l) if l.len() == 2 => (l[0], l[1]),
                v => return Err(bad_value(line, "a cas takes [expected, new]", v)),
            };
            let cas = |outcome| RegisterOp::Cas {
                expected,
                new,
                outcome,
            };
            match &p.completion {
                Some((c, _, _)) if c.op_type == OpType::Ok => Taken::Closed(cas(CasOutcome::Ok)),
                Some((c, _, _)) if c.op_type == OpType::Fail => {
                    if c.error.as_deref() == Some("mismatch") {
                        Taken::Closed(cas(CasOutcome::Mismatch))
                    } else {
                        Taken::Drop
                    }
                }
                _ => Taken::Open(cas(CasOutcome::Unknown)),
            }
        }
        Function::Append | Function::Other(_) => {
            unreachable!(
                "workload detection keeps appends and other functions out of register histories"
            )
        }
    })
}

fn list_op(p: &Pair) -> Result<Taken<ListOp>, HistoryError> {
    let line = p.invoke_line;
    Ok(match p.invoke.f {
        Function::Read => match &p.completion {
            Some((c, cline, _)) if c.op_type == OpType::Ok => match &c.value {
                Value::List(l) => Taken::Closed(ListOp::Read(l.as_slice().into())),
                v => return Err(bad_value(*cline, "a list-append read returns a list", v)),
            },
            _ => Taken::Drop,
        },
        Function::Append => {
            let Value::Int(v) = p.invoke.value else {
                return Err(bad_value(
                    line,
                    "an append takes an integer",
                    &p.invoke.value,
                ));
            };
            match p.outcome() {
                OpType::Ok => Taken::Closed(ListOp::Append(v)),
                OpType::Fail => Taken::Drop,
                _ => Taken::Open(ListOp::Append(v)),
            }
        }
        Function::Write | Function::Cas | Function::Other(_) => {
            unreachable!("workload detection keeps writes, cas and other functions out of list-append histories")
        }
    })
}

/// Pairs a history of your own workload and translates it with `M`.
pub(crate) fn prepare_with<M: HistorySpec>(history: &History) -> Result<Keyed<M>, HistoryError> {
    let mut pairer = Pairer::default();
    let mut ops = Builder::<M>::default();
    let mut count = 0;
    let mut add = |p: Pair| -> Result<(), HistoryError> {
        let completion = match &p.completion {
            Some((c, _, _)) if c.op_type == OpType::Ok => Completion::Ok(&c.value),
            Some((c, _, _)) if c.op_type == OpType::Fail => Completion::Fail(c.error.as_deref()),
            _ => Completion::Unknown,
        };
        let taken = M::operation(&p.invoke.f, &p.invoke.value, completion).map_err(|why| {
            let line = match (&completion, &p.completion) {
                (Completion::Ok(_), Some((_, cline, _))) => *cline,
                _ => p.invoke_line,
            };
            HistoryError::line(
                line,
                format!("{} of key {:?}: {why}", p.invoke.f, p.invoke.key),
            )
        })?;
        ops.add(&p, taken);
        Ok(())
    };
    for (pos, record) in records_of(history).enumerate() {
        let (line, entry) = record?;
        count = pos + 1;
        if let Entry::Client(op) = entry {
            if let Some(p) = pairer.feed(pos, line, op)? {
                add(p)?;
            }
        }
    }
    for p in pairer.finish() {
        add(p)?;
    }
    Ok(ops.finish(count as i64 + 1, None))
}
