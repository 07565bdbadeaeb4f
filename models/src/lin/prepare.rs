//! From a tumult history to operations per key: pair each invoke with its
//! process's completion, drop what certainly did not happen, leave what may
//! have happened open to the end, and translate into the workload's spec.

use super::spec::{
    CasOutcome, Completion, HistorySpec, KeyOps, ListAppendSpec, ListOp, OpMeta, Operation,
    RegisterOp, RegisterSpec, Spec, Taken,
};
use crate::history::{ClientOp, Entry, Function, History, HistoryError, OpType, Value};
use std::collections::{BTreeMap, HashMap};

/// Operations of every key, plus what was left out.
pub(crate) struct Keyed<M: Spec> {
    pub keys: Vec<KeyOps<M>>,
    /// Operations dropped before checking (fail, indeterminate reads).
    pub dropped: usize,
    /// Operations left open to the end (info, or no completion).
    pub open: usize,
}

/// A tumult history, translated for its workload.
pub(crate) enum Prepared {
    Register(Keyed<RegisterSpec>),
    ListAppend(Keyed<ListAppendSpec>),
}

/// An invoke and its completion.
struct Pair<'a> {
    invoke: &'a ClientOp,
    invoke_line: usize,
    invoke_pos: usize,
    completion: Option<(&'a ClientOp, usize, usize)>,
}

impl Pair<'_> {
    fn meta(&self, open: bool) -> OpMeta {
        OpMeta {
            process: self.invoke.process,
            index: self.invoke.index,
            invoke_line: self.invoke_line,
            complete_line: self.completion.map(|c| c.1),
            invoke_time: self.invoke.time,
            complete_time: self.completion.map(|c| c.0.time),
            open,
        }
    }

    /// The completion's type; `Info` when there is none.
    fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.0.op_type)
    }

    /// Call and return times: positions in the history; open operations
    /// return after everything (`end`).
    fn times(&self, open: bool, end: i64) -> (i64, i64) {
        let ret = match self.completion {
            Some((_, _, pos)) if !open => pos as i64,
            _ => end,
        };
        (self.invoke_pos as i64, ret)
    }
}

fn pair(history: &History) -> Result<Vec<Pair<'_>>, HistoryError> {
    let mut pairs: Vec<Pair<'_>> = Vec::new();
    let mut outstanding: HashMap<u64, usize> = HashMap::new();
    for (pos, rec) in history.records.iter().enumerate() {
        let Entry::Client(op) = &rec.entry else {
            continue;
        };
        if op.op_type == OpType::Invoke {
            if let Some(&open) = outstanding.get(&op.process) {
                let prev = &pairs[open];
                return Err(HistoryError::line(
                    rec.line,
                    format!(
                        "process {} invokes again while its `{}` from line {} is still open \
                         (a process has at most one outstanding operation; after `info` a client \
                         continues as a new process)",
                        op.process, prev.invoke.f, prev.invoke_line
                    ),
                ));
            }
            outstanding.insert(op.process, pairs.len());
            pairs.push(Pair {
                invoke: op,
                invoke_line: rec.line,
                invoke_pos: pos,
                completion: None,
            });
            continue;
        }
        let Some(i) = outstanding.remove(&op.process) else {
            return Err(HistoryError::line(
                rec.line,
                format!(
                    "`{}` of process {} with no open `invoke` (a completion must follow its process's invoke)",
                    op.op_type, op.process
                ),
            ));
        };
        let p = &mut pairs[i];
        if p.invoke.f != op.f || p.invoke.key != op.key {
            return Err(HistoryError::line(
                rec.line,
                format!(
                    "`{}` of process {} is a `{}` of key {:?}, but its invoke on line {} is a `{}` of key {:?}",
                    op.op_type, op.process, op.f, op.key, p.invoke_line, p.invoke.f, p.invoke.key
                ),
            ));
        }
        p.completion = Some((op, rec.line, pos));
    }
    Ok(pairs)
}

fn bad_value(line: usize, what: &str, v: &Value) -> HistoryError {
    HistoryError::line(line, format!("field `value`: {what}, found {v}"))
}

/// Pairs and translates a tumult history. The workload is recognised from
/// the operations: `append` means list-append, `write` or `cas` register;
/// a history of reads only goes by what the reads returned.
pub(crate) fn prepare(history: &History) -> Result<Prepared, HistoryError> {
    let pairs = pair(history)?;
    if let Some(p) = pairs
        .iter()
        .find(|p| matches!(p.invoke.f, Function::Other(_)))
    {
        return Err(HistoryError::line(
            p.invoke_line,
            format!(
                "field `f`: `{}` is not an operation of the built-in workloads (register: read, \
                 write, cas; list-append: append, read); a history of your own workload is \
                 checked against its own spec (lin::check_history_with)",
                p.invoke.f
            ),
        ));
    }
    let first = |fs: &[Function]| pairs.iter().find(|p| fs.contains(&p.invoke.f));
    let append = first(&[Function::Append]);
    let register = first(&[Function::Write, Function::Cas]);
    let is_list = match (append, register) {
        (Some(a), Some(r)) => {
            let (later, earlier) = if a.invoke_line > r.invoke_line { (a, r) } else { (r, a) };
            return Err(HistoryError::line(
                later.invoke_line,
                format!(
                    "field `f`: `{}` in a history that has a `{}` on line {} (a history holds one \
                     workload: register read/write/cas or list-append append/read)",
                    later.invoke.f, earlier.invoke.f, earlier.invoke_line
                ),
            ));
        }
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => pairs.iter().any(|p| {
            matches!(p.completion, Some((c, _, _)) if c.op_type == OpType::Ok && matches!(c.value, Value::List(_)))
        }),
    };
    let end = history.records.len() as i64 + 1;
    if is_list {
        translate(&pairs, end, list_op).map(Prepared::ListAppend)
    } else {
        translate(&pairs, end, register_op).map(Prepared::Register)
    }
}

fn translate<M: Spec>(
    pairs: &[Pair<'_>],
    end: i64,
    op_of: impl Fn(&Pair<'_>) -> Result<Taken<M::Op>, HistoryError>,
) -> Result<Keyed<M>, HistoryError> {
    let mut keys: BTreeMap<&str, Vec<Operation<M>>> = BTreeMap::new();
    let (mut dropped, mut open) = (0, 0);
    for p in pairs {
        let (op, is_open) = match op_of(p)? {
            Taken::Drop => {
                dropped += 1;
                continue;
            }
            Taken::Closed(op) => (op, false),
            Taken::Open(op) => {
                open += 1;
                (op, true)
            }
        };
        let (call_time, return_time) = p.times(is_open, end);
        keys.entry(&p.invoke.key).or_default().push(Operation {
            client_id: Some(p.invoke.process as u32),
            call_time,
            return_time,
            op,
            metadata: Some(p.meta(is_open)),
        });
    }
    Ok(Keyed {
        keys: keys
            .into_iter()
            .map(|(k, ops)| KeyOps {
                key: k.to_string(),
                ops,
            })
            .collect(),
        dropped,
        open,
    })
}

fn register_op(p: &Pair<'_>) -> Result<Taken<RegisterOp>, HistoryError> {
    let line = p.invoke_line;
    Ok(match p.invoke.f {
        Function::Read => match p.completion {
            Some((c, cline, _)) if c.op_type == OpType::Ok => match c.value {
                Value::Null => Taken::Closed(RegisterOp::Read(None)),
                Value::Int(v) => Taken::Closed(RegisterOp::Read(Some(v))),
                ref v => {
                    return Err(bad_value(
                        cline,
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
            match p.completion {
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

fn list_op(p: &Pair<'_>) -> Result<Taken<ListOp>, HistoryError> {
    let line = p.invoke_line;
    Ok(match p.invoke.f {
        Function::Read => match p.completion {
            Some((c, cline, _)) if c.op_type == OpType::Ok => match &c.value {
                Value::List(l) => Taken::Closed(ListOp::Read(l.as_slice().into())),
                v => return Err(bad_value(cline, "a list-append read returns a list", v)),
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
    let pairs = pair(history)?;
    let end = history.records.len() as i64 + 1;
    translate(&pairs, end, |p| {
        let completion = match p.completion {
            Some((c, _, _)) if c.op_type == OpType::Ok => Completion::Ok(&c.value),
            Some((c, _, _)) if c.op_type == OpType::Fail => Completion::Fail(c.error.as_deref()),
            _ => Completion::Unknown,
        };
        M::operation(&p.invoke.f, &p.invoke.value, completion).map_err(|why| {
            let line = match (&completion, p.completion) {
                (Completion::Ok(_), Some((_, cline, _))) => cline,
                _ => p.invoke_line,
            };
            HistoryError::line(
                line,
                format!("{} of key {:?}: {why}", p.invoke.f, p.invoke.key),
            )
        })
    })
}
