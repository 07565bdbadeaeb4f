//! Parsers for the two formats of porcupine's test corpus
//! (`shared/corpus/porcupine`, described in its EXPECTED.md).
//!
//! - `jepsen-etcd`: Jepsen's etcd register logs, e.g.
//!   `INFO  jepsen.util - 3\t:invoke\t:write\t4`. Parsed into a tumult
//!   [`History`] of register operations on one key, `etcd`, so they are
//!   checked by exactly the path tumult's own histories take. Lines not
//!   from `jepsen.util` are ignored, as in porcupine; a `jepsen.util` line
//!   that is not an operation is an error. `:fail :cas` is a cas mismatch;
//!   `:timed-out` (after `:info` or `:fail`) is indeterminate.
//! - `porcupine-kv`: Clojure-map lines such as
//!   `{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}`
//!   for porcupine's string key-value model (get, put, append). `:fail`
//!   completions are dropped and `:info` ones stay open; unlike porcupine,
//!   an operation still open at the end is indeterminate (porcupine makes a
//!   pending get return "").

use super::jepsen::{keyword_map, read_one};
use super::prepare::Keyed;
use super::spec::{KeyOps, KvOp, KvSpec, OpMeta, Operation};
use crate::history::{ClientOp, Entry, Function, History, HistoryError, OpType, Record, Value};
use clojure_reader::edn::Edn;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The single key the etcd logs are put on.
pub const ETCD_KEY: &str = "etcd";

/// Parses a Jepsen etcd log into a register history on key [`ETCD_KEY`].
/// Entry `time`s are the line numbers (the logs have no timestamps).
pub fn parse_jepsen_etcd(text: &str) -> Result<History, HistoryError> {
    let mut records = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let tokens: Vec<&str> = raw.split_whitespace().collect();
        if tokens.len() < 2 || tokens[0] != "INFO" || tokens[1] != "jepsen.util" {
            continue;
        }
        let err =
            |what: &str| HistoryError::line(line, format!("{what} in jepsen log line {raw:?}"));
        if tokens.len() < 6 || tokens[2] != "-" {
            return Err(err(
                "truncated operation (expected `- PROCESS :type :f VALUE`)",
            ));
        }
        let process: u64 = tokens[3]
            .parse()
            .map_err(|_| err(&format!("process {:?} is not a number", tokens[3])))?;
        let op_type = match tokens[4] {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            t => return Err(err(&format!("unknown type {t:?}"))),
        };
        let f = match tokens[5] {
            ":read" => Function::Read,
            ":write" => Function::Write,
            ":cas" => Function::Cas,
            f => return Err(err(&format!("unknown function {f:?}"))),
        };
        let rest = tokens[6..].join(" ");
        let int = |s: &str| -> Result<i64, HistoryError> {
            s.parse()
                .map_err(|_| err(&format!("value {s:?} is not an integer")))
        };
        let mut error = None;
        let (op_type, value) =
            if rest == ":timed-out" && op_type != OpType::Invoke && op_type != OpType::Ok {
                error = Some("timed-out".to_string());
                (OpType::Info, Value::Null)
            } else {
                let value = match (&f, rest.as_str()) {
                    (_, "nil") => Value::Null,
                    (Function::Cas, r) => {
                        let inner = r
                            .strip_prefix('[')
                            .and_then(|r| r.strip_suffix(']'))
                            .ok_or_else(|| err("a cas value must be `[expected new]`"))?;
                        let parts: Vec<&str> = inner.split_whitespace().collect();
                        if parts.len() != 2 {
                            return Err(err("a cas value must be `[expected new]`"));
                        }
                        Value::List(vec![int(parts[0])?, int(parts[1])?])
                    }
                    (_, r) => Value::Int(int(r)?),
                };
                if op_type == OpType::Fail && f == Function::Cas {
                    error = Some("mismatch".to_string());
                } else if op_type == OpType::Fail {
                    return Err(err("only a cas can `:fail` without `:timed-out`"));
                }
                (op_type, value)
            };
        let index = records.len() as u64;
        let mut op = ClientOp::new(index, op_type, process, f, ETCD_KEY, value, line as u64);
        op.error = error;
        records.push(Record {
            line,
            entry: Entry::Client(op),
        });
    }
    Ok(History { records })
}

#[derive(Debug)]
struct KvLine {
    process: u64,
    op_type: OpType,
    f: String,
    key: String,
    value: Option<String>,
}

fn kv_line(text: &str) -> Result<KvLine, String> {
    let form = read_one(text)?;
    let mut map = keyword_map(&form)?;
    let mut take = |k: &str| map.remove(k).ok_or_else(|| format!("missing :{k}"));
    let process = match &take("process")? {
        Edn::Int(p) if *p >= 0 => *p as u64,
        v => {
            return Err(format!(
                ":process must be a non-negative integer, found {v}"
            ))
        }
    };
    let op_type = match &take("type")? {
        Edn::Key(t) => match &**t {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return Err(format!("unknown :type :{t}")),
        },
        v => return Err(format!(":type must be a keyword, found {v}")),
    };
    let f = match &take("f")? {
        Edn::Key(f) if matches!(&**f, "get" | "put" | "append") => f.to_string(),
        v => return Err(format!(":f must be :get, :put or :append, found {v}")),
    };
    let key = match &take("key")? {
        Edn::Str(k) => k.to_string(),
        v => return Err(format!(":key must be a string, found {v}")),
    };
    let value = match &take("value")? {
        Edn::Str(v) => Some(v.to_string()),
        Edn::Nil => None,
        v => return Err(format!(":value must be a string or nil, found {v}")),
    };
    Ok(KvLine {
        process,
        op_type,
        f,
        key,
        value,
    })
}

/// Parses a porcupine kv log into operations per key.
pub(crate) fn parse_porcupine_kv(text: &str) -> Result<Keyed<KvSpec>, HistoryError> {
    struct Open {
        line: usize,
        pos: usize,
        l: KvLine,
    }
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let end = lines.len() as i64 + 1;
    let mut outstanding: HashMap<u64, Open> = HashMap::new();
    let mut keys: BTreeMap<String, Vec<Operation<KvSpec>>> = BTreeMap::new();
    let (mut dropped, mut open_ops) = (0, 0);
    let mut index = 0u64;
    let mut finish = |inv: Open,
                      done: Option<(usize, usize, &KvLine)>,
                      keys: &mut BTreeMap<_, Vec<_>>| {
        let value: Arc<str> = inv.l.value.as_deref().unwrap_or("").into();
        let outcome = done.map_or(OpType::Info, |d| d.2.op_type);
        let open = outcome == OpType::Info;
        let op = match (inv.l.f.as_str(), outcome) {
            (_, OpType::Fail) | ("get", OpType::Info) => {
                dropped += 1;
                return;
            }
            ("get", _) => KvOp::Get(done.and_then(|d| d.2.value.as_deref()).unwrap_or("").into()),
            ("put", _) => KvOp::Put(value),
            _ => KvOp::Append(value),
        };
        if open {
            open_ops += 1;
        }
        let meta = OpMeta {
            process: inv.l.process,
            index,
            invoke_line: inv.line,
            complete_line: done.map(|d| d.0),
            invoke_time: inv.line as u64,
            complete_time: done.map(|d| d.0 as u64),
            open,
        };
        index += 1;
        keys.entry(inv.l.key.clone()).or_default().push(Operation {
            client_id: Some(inv.l.process as u32),
            call_time: inv.pos as i64,
            return_time: match done {
                Some((_, pos, _)) if !open => pos as i64,
                _ => end,
            },
            op,
            metadata: Some(meta),
        });
    };
    for (pos, &(line, text)) in lines.iter().enumerate() {
        let l = kv_line(text).map_err(|m| HistoryError::line(line, m))?;
        if l.op_type == OpType::Invoke {
            if let Some(prev) = outstanding.get(&l.process) {
                return Err(HistoryError::line(
                    line,
                    format!(
                        "process {} invokes again while its :{} from line {} is still open",
                        l.process, prev.l.f, prev.line
                    ),
                ));
            }
            outstanding.insert(l.process, Open { line, pos, l });
            continue;
        }
        let Some(inv) = outstanding.remove(&l.process) else {
            return Err(HistoryError::line(
                line,
                format!(
                    "`{}` of process {} with no open `invoke`",
                    l.op_type, l.process
                ),
            ));
        };
        if inv.l.f != l.f {
            return Err(HistoryError::line(
                line,
                format!(
                    "`{}` of process {} is a :{}, but its invoke on line {} is a :{}",
                    l.op_type, l.process, l.f, inv.line, inv.l.f
                ),
            ));
        }
        finish(inv, Some((line, pos, &l)), &mut keys);
    }
    let mut still_open: Vec<Open> = outstanding.into_values().collect();
    still_open.sort_by_key(|o| o.pos);
    for inv in still_open {
        finish(inv, None, &mut keys);
    }
    let mut keys: Vec<KeyOps<KvSpec>> = keys
        .into_iter()
        .map(|(key, ops)| KeyOps { key, ops })
        .collect();
    for k in &mut keys {
        k.ops.sort_by_key(|o| o.call_time);
    }
    Ok(Keyed::new(keys, dropped, open_ops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_lines() {
        let h = parse_jepsen_etcd(
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]\nsomething else\nINFO  jepsen.util - 3\t:fail\t:cas\t[1 2]\n\
             INFO  jepsen.util - 4\t:invoke\t:read\tnil\nINFO  jepsen.util - 4\t:fail\t:read\t:timed-out\n",
        )
        .unwrap();
        assert_eq!(h.records.len(), 4);
        assert_eq!(h.records[1].line, 3);
        let Entry::Client(op) = &h.records[1].entry else {
            panic!()
        };
        assert_eq!(op.error.as_deref(), Some("mismatch"));
        assert_eq!(op.value, Value::List(vec![1, 2]));
        let Entry::Client(op) = &h.records[3].entry else {
            panic!()
        };
        assert_eq!(op.op_type, OpType::Info);
        let err = parse_jepsen_etcd("INFO  jepsen.util - 3\t:invoke\t:cas\t[1").unwrap_err();
        assert!(err.to_string().starts_with("line 1:"), "{err}");
        let err = parse_jepsen_etcd("\nINFO  jepsen.util - 3\t:invoke").unwrap_err();
        assert!(err.to_string().starts_with("line 2: truncated"), "{err}");
    }

    #[test]
    fn kv_lines() {
        let l = kv_line(r#"{:process 9, :type :invoke, :f :append, :key "0", :value "x \"9\" y"}"#)
            .unwrap();
        assert_eq!(l.value.as_deref(), Some("x \"9\" y"));
        assert!(kv_line(r#"{:process 9, :type :invoke, :f :app"#)
            .unwrap_err()
            .contains("truncated"));
        let k = parse_porcupine_kv(
            "{:process 1, :type :invoke, :f :put, :key \"a\", :value \"x\"}\n\
             {:process 2, :type :invoke, :f :get, :key \"a\", :value nil}\n\
             {:process 1, :type :ok, :f :put, :key \"a\", :value \"x\"}\n\
             {:process 2, :type :ok, :f :get, :key \"a\", :value \"x\"}\n",
        )
        .unwrap();
        assert_eq!(k.keys.len(), 1);
        assert_eq!(k.keys[0].ops.len(), 2);
        let Err(err) =
            parse_porcupine_kv("{:process 1, :type :ok, :f :put, :key \"a\", :value \"x\"}")
        else {
            panic!("accepted a completion without invoke")
        };
        assert!(err.to_string().contains("no open `invoke`"), "{err}");
    }
}
