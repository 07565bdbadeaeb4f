//! The history format of SPEC.md §3: one JSON object a line, client
//! operations with Jepsen's field names, nemesis events and protocol trace
//! events, in the order they happened.
//!
//! [`Entry`] is one line. Writing is deterministic and compact: fields come
//! in the order of SPEC.md's examples (`index`, `type`, then the kind's own
//! fields, `time` last but for a client operation's `error`), so the same
//! entries always give the same bytes. Reading keeps every line's number, so
//! later stages (pairing, checking) can name the line of a problem.
//!
//! ```
//! use tumult_models::history::{ClientOp, Entry, Function, OpType, Value, read_history};
//!
//! let op = Entry::Client(ClientOp::new(0, OpType::Invoke, 3, Function::Write, "k1", Value::Int(5), 1_200_000));
//! let line = op.to_line();
//! assert_eq!(line, r#"{"index":0,"type":"invoke","process":3,"f":"write","key":"k1","value":5,"time":1200000}"#);
//! let history = read_history(line.as_bytes()).unwrap();
//! assert_eq!(history.records[0].line, 1);
//! assert_eq!(history.records[0].entry, op);
//! ```

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value as Json};
use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::Path;

/// `type` of a client operation line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpType {
    /// The client sent the request.
    Invoke,
    /// It happened.
    Ok,
    /// It certainly did not take effect (a cas with `"error":"mismatch"` did
    /// run and found another value).
    Fail,
    /// Unknown: it may or may not have happened (timeout, lost leader).
    Info,
}

impl OpType {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    fn parse(s: &str) -> Option<OpType> {
        Some(match s {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `f` of a client operation: register (read, write, cas), list-append
/// (append, read), or a function of your own application's workload
/// ([`Function::Other`], e.g. a bank's `transfer`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// Read a key: an integer or null (register), a list (list-append).
    Read,
    /// Write an integer (register).
    Write,
    /// Compare-and-set, value `[expected, new]` (register).
    Cas,
    /// Append an integer to the key's list (list-append).
    Append,
    /// Any other name: an operation of a workload of your own, which its
    /// own spec reads (`lin::check_history_with`).
    Other(String),
}

impl Function {
    /// The JSON spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Function::Read => "read",
            Function::Write => "write",
            Function::Cas => "cas",
            Function::Append => "append",
            Function::Other(name) => name,
        }
    }

    /// The function spelled `s`: a built-in one, or [`Function::Other`]
    /// for any other name of letters, digits, `-` and `_` starting with a
    /// letter.
    pub fn parse(s: &str) -> Option<Function> {
        Some(match s {
            "read" => Function::Read,
            "write" => Function::Write,
            "cas" => Function::Cas,
            "append" => Function::Append,
            _ if s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Function::Other(s.to_string())
            }
            _ => return None,
        })
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `value` of a client operation. Which shape is right depends on `f` and
/// `type`: a write or append carries an integer, a cas `[expected, new]`, a
/// register read an integer or `null` (never written), a list-append read
/// the whole list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// An integer.
    Int(i64),
    /// A list of integers (`[expected, new]` for a cas).
    List(Vec<i64>),
}

impl Value {
    fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int(i) => Json::from(*i),
            Value::List(l) => Json::Array(l.iter().map(|i| Json::from(*i)).collect()),
        }
    }

    fn from_json(v: &Json) -> Result<Value, String> {
        const WANT: &str = "expected null, an integer or a list of integers";
        match v {
            Json::Null => Ok(Value::Null),
            Json::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| format!("field `value`: {n} is not a 64-bit integer")),
            Json::Array(items) => items
                .iter()
                .map(|i| i.as_i64())
                .collect::<Option<Vec<i64>>>()
                .map(Value::List)
                .ok_or_else(|| format!("field `value`: {WANT}, found {v}")),
            _ => Err(format!("field `value`: {WANT}, found {v}")),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// A client operation line (Jepsen's field names).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOp {
    /// Position of the line in the history.
    pub index: u64,
    /// `type`: invoke, ok, fail or info.
    pub op_type: OpType,
    /// The client; at most one operation outstanding per process.
    pub process: u64,
    /// The operation.
    pub f: Function,
    /// The key.
    pub key: String,
    /// Argument (invoke) or result (completion).
    pub value: Value,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// Why it failed or is indeterminate (`"mismatch"` for a cas that found another value).
    pub error: Option<String>,
    /// Fields this format does not define, kept in order (written after `error`).
    pub extra: Map<String, Json>,
}

impl ClientOp {
    /// A client operation without `error` or extra fields.
    pub fn new(
        index: u64,
        op_type: OpType,
        process: u64,
        f: Function,
        key: impl Into<String>,
        value: Value,
        time: u64,
    ) -> ClientOp {
        ClientOp {
            index,
            op_type,
            process,
            f,
            key: key.into(),
            value,
            time,
            error: None,
            extra: Map::new(),
        }
    }

    /// Sets `error`.
    pub fn with_error(mut self, error: impl Into<String>) -> ClientOp {
        self.error = Some(error.into());
        self
    }
}

/// A fault injected by the nemesis (`"type":"nemesis"`).
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisEvent {
    /// Position of the line in the history.
    pub index: u64,
    /// The action (`partition`, `heal`, `crash`, ...).
    pub f: String,
    /// Its arguments, if any (e.g. the partition's groups).
    pub value: Option<Json>,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// Other fields (e.g. `error` of a refused membership change), written after `time`.
    pub extra: Map<String, Json>,
}

/// A protocol trace event of the engine (`"type":"trace"`).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// Position of the line in the history.
    pub index: u64,
    /// The node that emitted it.
    pub node: String,
    /// The shard (raft group), absent for node-wide events.
    pub shard: Option<u64>,
    /// The event, typed: written as its `event` name and its own fields
    /// (`term`, ...) between `shard` and `time`.
    pub event: tumult_trace::TraceEvent,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// `invoke`, `ok`, `fail` or `info`.
    Client(ClientOp),
    /// `nemesis`.
    Nemesis(NemesisEvent),
    /// `trace`.
    Trace(TraceEvent),
}

impl Entry {
    /// The `index` field.
    pub fn index(&self) -> u64 {
        match self {
            Entry::Client(o) => o.index,
            Entry::Nemesis(n) => n.index,
            Entry::Trace(t) => t.index,
        }
    }

    /// The `time` field.
    pub fn time(&self) -> u64 {
        match self {
            Entry::Client(o) => o.time,
            Entry::Nemesis(n) => n.time,
            Entry::Trace(t) => t.time,
        }
    }

    /// The entry as one compact JSON line, without the newline.
    pub fn to_line(&self) -> String {
        // Serializing our own types into a String cannot fail.
        serde_json::to_string(self).expect("history entries always serialize")
    }

    /// Parses one JSON object. The error names the field that is wrong.
    pub fn from_json(v: Json) -> Result<Entry, String> {
        let Json::Object(mut map) = v else {
            return Err(format!("expected a JSON object, found {}", kind_of(&v)));
        };
        let ty = take_str(&mut map, "type")?;
        let index = take_u64(&mut map, "index")?;
        let entry = match ty.as_str() {
            "nemesis" => {
                let f = take_str(&mut map, "f")?;
                let value = map.remove("value");
                let time = take_u64(&mut map, "time")?;
                Entry::Nemesis(NemesisEvent {
                    index,
                    f,
                    value,
                    time,
                    extra: map,
                })
            }
            "trace" => {
                let node = take_str(&mut map, "node")?;
                let shard = match map.remove("shard") {
                    None | Some(Json::Null) => None,
                    Some(v) => Some(v.as_u64().ok_or_else(|| {
                        format!("field `shard`: expected a non-negative integer, found {v}")
                    })?),
                };
                match map.get("event") {
                    Some(Json::String(_)) => {}
                    Some(v) => return Err(format!("field `event`: expected a string, found {v}")),
                    None => return Err("missing field `event`".to_string()),
                }
                let time = take_u64(&mut map, "time")?;
                let name = map["event"].as_str().unwrap_or_default().to_string();
                let event = serde_json::from_value(Json::Object(map))
                    .map_err(|e| format!("trace event {name:?}: {e}"))?;
                Entry::Trace(TraceEvent {
                    index,
                    node,
                    shard,
                    event,
                    time,
                })
            }
            other => {
                let op_type = OpType::parse(other).ok_or_else(|| {
                    format!(
                        "field `type`: unknown type {other:?} (expected invoke, ok, fail, info, nemesis or trace)"
                    )
                })?;
                let process = take_u64(&mut map, "process")?;
                let f_name = take_str(&mut map, "f")?;
                let f = Function::parse(&f_name).ok_or_else(|| {
                    format!(
                        "field `f`: {f_name:?} is not a function name (read, write, cas, append, \
                         or your workload's own: letters, digits, `-` and `_`, starting with a letter)"
                    )
                })?;
                let key = take_str(&mut map, "key")?;
                let value = match map.remove("value") {
                    None => Value::Null,
                    Some(v) => Value::from_json(&v)?,
                };
                let time = take_u64(&mut map, "time")?;
                let error = match map.remove("error") {
                    None | Some(Json::Null) => None,
                    Some(Json::String(s)) => Some(s),
                    Some(v) => return Err(format!("field `error`: expected a string, found {v}")),
                };
                Entry::Client(ClientOp {
                    index,
                    op_type,
                    process,
                    f,
                    key,
                    value,
                    time,
                    error,
                    extra: map,
                })
            }
        };
        Ok(entry)
    }
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn take_str(map: &mut Map<String, Json>, field: &str) -> Result<String, String> {
    match map.remove(field) {
        Some(Json::String(s)) => Ok(s),
        Some(v) => Err(format!("field `{field}`: expected a string, found {v}")),
        None => Err(format!("missing field `{field}`")),
    }
}

fn take_u64(map: &mut Map<String, Json>, field: &str) -> Result<u64, String> {
    match map.remove(field) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("field `{field}`: expected a non-negative integer, found {v}")),
        None => Err(format!("missing field `{field}`")),
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Entry::Client(o) => {
                m.serialize_entry("index", &o.index)?;
                m.serialize_entry("type", o.op_type.as_str())?;
                m.serialize_entry("process", &o.process)?;
                m.serialize_entry("f", o.f.as_str())?;
                m.serialize_entry("key", &o.key)?;
                m.serialize_entry("value", &o.value.to_json())?;
                m.serialize_entry("time", &o.time)?;
                if let Some(e) = &o.error {
                    m.serialize_entry("error", e)?;
                }
                for (k, v) in &o.extra {
                    m.serialize_entry(k, v)?;
                }
            }
            Entry::Nemesis(n) => {
                m.serialize_entry("index", &n.index)?;
                m.serialize_entry("type", "nemesis")?;
                m.serialize_entry("f", &n.f)?;
                if let Some(v) = &n.value {
                    m.serialize_entry("value", v)?;
                }
                m.serialize_entry("time", &n.time)?;
                for (k, v) in &n.extra {
                    m.serialize_entry(k, v)?;
                }
            }
            Entry::Trace(t) => {
                m.serialize_entry("index", &t.index)?;
                m.serialize_entry("type", "trace")?;
                m.serialize_entry("node", &t.node)?;
                if let Some(shard) = t.shard {
                    m.serialize_entry("shard", &shard)?;
                }
                // The event's own fields in serde_json's map order, after its name.
                let mut fields = match serde_json::to_value(&t.event) {
                    Ok(Json::Object(fields)) => fields,
                    _ => return Err(serde::ser::Error::custom("a trace event is an object")),
                };
                fields.remove("event");
                m.serialize_entry("event", t.event.name())?;
                for (k, v) in &fields {
                    m.serialize_entry(k, v)?;
                }
                m.serialize_entry("time", &t.time)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
        let v = Json::deserialize(d)?;
        Entry::from_json(v).map_err(serde::de::Error::custom)
    }
}

/// An entry and the (1-based) line it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// 1-based line number in the source file (for messages).
    pub line: usize,
    /// The entry.
    pub entry: Entry,
}

/// A whole history, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The entries with their line numbers.
    pub records: Vec<Record>,
}

impl History {
    /// A history built in memory: entry `i` is on line `i + 1`, as
    /// [`write_history`] would write it.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> History {
        History {
            records: entries
                .into_iter()
                .enumerate()
                .map(|(i, entry)| Record { line: i + 1, entry })
                .collect(),
        }
    }

    /// The entries, without line numbers.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.records.iter().map(|r| &r.entry)
    }
}

/// A history that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A line is wrong.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

impl HistoryError {
    /// An error about line `line`.
    pub fn line(line: usize, message: impl Into<String>) -> HistoryError {
        HistoryError::Line {
            line,
            message: message.into(),
        }
    }
}

/// Parses one line of a `history.jsonl`.
pub fn parse_line(line_no: usize, text: &str) -> Result<Entry, HistoryError> {
    let Fields(pairs) = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            format!(
                "truncated line: the JSON object ends early (column {})",
                e.column()
            )
        } else {
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m)
                .to_string();
            format!("not valid JSON at column {}: {msg}", e.column())
        };
        HistoryError::line(line_no, what)
    })?;
    // Histories written before SPEC.md's `log_index` rule repeat `index` on
    // some trace lines: the first is the line's position, the second the
    // event's log index. Any other repeated key keeps its last value, as a
    // JSON reader would.
    let mut map = Map::new();
    let mut seen_index = false;
    for (k, v) in pairs {
        if k == "index" {
            if seen_index {
                map.insert("log_index".to_string(), v);
                continue;
            }
            seen_index = true;
        }
        map.insert(k, v);
    }
    Entry::from_json(Json::Object(map)).map_err(|m| HistoryError::line(line_no, m))
}

/// A JSON object's members in their order, repeated keys included.
struct Fields(Vec<(String, Json)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Fields, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Json>()? {
                    pairs.push((k, v));
                }
                Ok(Fields(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a `history.jsonl`: one JSON object a line; blank lines are skipped.
pub fn read_history(reader: impl BufRead) -> Result<History, HistoryError> {
    let records = history_records(reader)
        .map(|r| r.map(|(line, entry)| Record { line, entry }))
        .collect::<Result<_, _>>()?;
    Ok(History { records })
}

/// The entries of a `history.jsonl` with their line numbers, one at a time
/// as the reader yields them (blank lines are skipped): for a checker that
/// does not hold the whole history.
pub fn history_records(
    reader: impl BufRead,
) -> impl Iterator<Item = Result<(usize, Entry), HistoryError>> {
    reader.split(b'\n').enumerate().filter_map(|(i, line)| {
        let line_no = i + 1;
        let bytes = match line {
            Ok(b) => b,
            Err(e) => return Some(Err(HistoryError::from(e))),
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t.trim(),
            Err(e) => return Some(Err(HistoryError::line(line_no, format!("not UTF-8: {e}")))),
        };
        if text.is_empty() {
            return None;
        }
        Some(parse_line(line_no, text).map(|entry| (line_no, entry)))
    })
}

/// Reads a `history.jsonl` file.
pub fn read_history_file(path: &Path) -> Result<History, HistoryError> {
    let file = std::fs::File::open(path)?;
    read_history(io::BufReader::new(file))
}

/// Writes entries as a `history.jsonl`: one compact line each.
pub fn write_history<'a, W: Write>(
    out: W,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> io::Result<()> {
    let mut w = HistoryWriter::new(out);
    for e in entries {
        w.write(e)?;
    }
    w.flush()
}

/// Appends entries to a `history.jsonl` as they happen.
pub struct HistoryWriter<W: Write> {
    out: W,
}

impl<W: Write> HistoryWriter<W> {
    /// Writes to `out` (wrap files in a `BufWriter`).
    pub fn new(out: W) -> HistoryWriter<W> {
        HistoryWriter { out }
    }

    /// Writes one entry and a newline.
    pub fn write(&mut self, entry: &Entry) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, entry)?;
        self.out.write_all(b"\n")
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{"index":0,"type":"invoke","process":3,"f":"write","key":"k1","value":5,"time":1200000}
{"index":1,"type":"ok","process":3,"f":"write","key":"k1","value":5,"time":4100000}
{"index":2,"type":"invoke","process":1,"f":"cas","key":"k1","value":[5,7],"time":4200000}
{"index":3,"type":"info","process":1,"f":"cas","key":"k1","value":[5,7],"time":1204200000,"error":"timeout"}
{"index":4,"type":"invoke","process":2,"f":"read","key":"k1","value":null,"time":5000000}
{"index":5,"type":"ok","process":2,"f":"read","key":"k1","value":7,"time":6000000}
{"index":6,"type":"nemesis","f":"partition","value":[["n1"],["n2","n3","n4","n5"]],"time":3000000000}
{"index":7,"type":"trace","node":"n2","shard":0,"event":"become-leader","term":4,"time":3350000000}
"#;

    #[test]
    fn spec_example_round_trips_byte_for_byte() {
        let h = read_history(SPEC_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(h.records.len(), 8);
        let mut out = Vec::new();
        write_history(&mut out, h.entries()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), SPEC_EXAMPLE);
    }

    #[test]
    fn list_values_and_extras() {
        let line = r#"{"index":9,"type":"ok","process":0,"f":"read","key":"k0","value":[1,2,3],"time":7,"node":"n1"}"#;
        let e = parse_line(1, line).unwrap();
        let Entry::Client(op) = &e else { panic!() };
        assert_eq!(op.value, Value::List(vec![1, 2, 3]));
        assert_eq!(op.extra["node"], Json::from("n1"));
        assert_eq!(e.to_line(), line);
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "\n{\"index\":0,\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"key\":\"k\",\"value\":null,\"time\":1}\n{\"index\":1,\"type\":\"done\"";
        let err = read_history(text.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("line 3: truncated line"), "{err}");
        let err = parse_line(4, r#"{"index":1,"type":"done","process":1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4") && err.contains("unknown type \"done\""),
            "{err}"
        );
        let err = parse_line(5, r#"{"index":1,"type":"ok","process":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5") && err.contains("`process`"), "{err}");
        let err = parse_line(
            6,
            r#"{"index":1,"type":"ok","process":1,"f":"read","key":"k","value":1.5,"time":0}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`value`"), "{err}");
        let err = parse_line(7, r#"[1,2]"#).unwrap_err().to_string();
        assert!(err.contains("expected a JSON object"), "{err}");
    }

    /// SPEC.md section 3: an event's log position is `log_index`; a line of
    /// an older history that repeats `index` keeps the first as its position.
    #[test]
    fn a_trace_event_log_position_is_log_index_and_old_duplicated_index_still_parses() {
        let old = r#"{"index":4587,"type":"trace","node":"n2","shard":0,"event":"install-snapshot","term":3,"index":131,"entry_term":3,"time":9}"#;
        let Entry::Trace(t) = parse_line(1, old).unwrap() else {
            panic!("a trace line")
        };
        assert_eq!(t.index, 4587);
        assert_eq!(
            t.event,
            tumult_trace::TraceEvent::InstallSnapshot {
                term: 3,
                index: 131,
                entry_term: 3
            }
        );
        // Written back, the line has each key once.
        let line = Entry::Trace(t).to_line();
        assert_eq!(line.matches("\"index\"").count(), 1, "{line}");
        assert!(line.contains("\"log_index\":131"), "{line}");
        let again = parse_line(2, &line).unwrap();
        assert_eq!(again.index(), 4587);
        assert_eq!(
            line,
            r#"{"index":4587,"type":"trace","node":"n2","shard":0,"event":"install-snapshot","entry_term":3,"log_index":131,"term":3,"time":9}"#
        );
    }

    /// History files are user input: an unknown event or a bad field is an
    /// error naming the line, never a panic.
    #[test]
    fn a_bad_trace_line_is_an_error_naming_the_line() {
        let unknown = r#"{"index":1,"type":"trace","node":"n1","shard":0,"event":"levitate","term":1,"time":2}"#;
        let err = parse_line(3, unknown).unwrap_err().to_string();
        assert!(err.starts_with("line 3: trace event \"levitate\""), "{err}");
        let bad = r#"{"index":1,"type":"trace","node":"n1","shard":0,"event":"become-leader","term":"x","time":2}"#;
        let err = parse_line(4, bad).unwrap_err().to_string();
        assert!(
            err.starts_with("line 4: trace event \"become-leader\""),
            "{err}"
        );
        let missing = r#"{"index":1,"type":"trace","node":"n1","shard":0,"event":"commit","term":1,"time":2}"#;
        let err = parse_line(5, missing).unwrap_err().to_string();
        assert!(err.contains("line 5") && err.contains("log_index"), "{err}");
        let nameless = r#"{"index":1,"type":"trace","node":"n1","shard":0,"event":7,"time":2}"#;
        let err = parse_line(6, nameless).unwrap_err().to_string();
        assert!(err.contains("line 6") && err.contains("`event`"), "{err}");
    }
}
