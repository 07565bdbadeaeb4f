//! A small spanned-TOML reader: `toml_edit` parses the text and keeps the
//! byte span of every key and value; [`read`] copies the document into a
//! [`Node`] tree that the grammar walks, and [`Ctx`] turns spans into the
//! `FILE:LINE: field: message` errors of SPEC.md section 5.
//!
//! `toml_edit` is used rather than `toml`'s `Spanned` because the grammar
//! needs document order (the first unknown key is the one reported) and the
//! span of every key as well as of every value, which serde-based reading
//! does not give without a custom deserializer per field.

use std::ops::Range;
use std::time::Duration;

use crate::scenario::{
    format_duration, parse_duration, DurationError, DurationRange, ScenarioError,
};

pub(super) type Res<T> = Result<T, ScenarioError>;

/// Parses `ctx.src` as TOML: the document's root table, or the TOML
/// syntax error at its line.
pub(super) fn read(ctx: &Ctx) -> Res<Node> {
    let doc = toml_edit::ImDocument::parse(ctx.src).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ctx.err(&span, "", format!("invalid TOML: {message}"))
    })?;
    Ok(convert_item(doc.as_item(), &(0..0)))
}

/// A TOML value with the span of its text.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) span: Range<usize>,
    pub(super) val: Val,
}

#[derive(Debug)]
pub(super) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) key_span: Range<usize>,
    pub(super) node: Node,
}

impl Val {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Bool(_) => "a boolean",
            Val::Datetime => "a date-time",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
        }
    }
}

fn convert_item(item: &toml_edit::Item, fallback: &Range<usize>) -> Node {
    use toml_edit::Item;
    match item {
        Item::None => Node {
            span: fallback.clone(),
            val: Val::Table(Vec::new()),
        },
        Item::Value(v) => convert_value(v, fallback),
        Item::Table(t) => {
            let span = t.span().unwrap_or_else(|| fallback.clone());
            let mut entries = Vec::new();
            for (k, item) in t.iter() {
                let key_span = t
                    .get_key_value(k)
                    .and_then(|(key, _)| key.span())
                    .unwrap_or_else(|| span.clone());
                let fb = item.span().unwrap_or_else(|| key_span.clone());
                entries.push(Entry {
                    key: k.to_string(),
                    key_span,
                    node: convert_item(item, &fb),
                });
            }
            Node {
                span,
                val: Val::Table(entries),
            }
        }
        Item::ArrayOfTables(a) => {
            let span = a.span().unwrap_or_else(|| fallback.clone());
            let items = a
                .iter()
                .map(|t| {
                    let item = Item::Table(t.clone());
                    convert_item(&item, &span)
                })
                .collect();
            Node {
                span,
                val: Val::Array(items),
            }
        }
    }
}

fn convert_value(v: &toml_edit::Value, fallback: &Range<usize>) -> Node {
    use toml_edit::Value;
    let span = v.span().unwrap_or_else(|| fallback.clone());
    let val = match v {
        Value::String(s) => Val::Str(s.value().clone()),
        Value::Integer(i) => Val::Int(*i.value()),
        Value::Float(f) => Val::Float(*f.value()),
        Value::Boolean(b) => Val::Bool(*b.value()),
        Value::Datetime(_) => Val::Datetime,
        Value::Array(a) => Val::Array(a.iter().map(|x| convert_value(x, &span)).collect()),
        Value::InlineTable(t) => {
            let mut entries = Vec::new();
            for (k, x) in t.iter() {
                let key_span = t
                    .get_key_value(k)
                    .and_then(|(key, _)| key.span())
                    .unwrap_or_else(|| span.clone());
                entries.push(Entry {
                    key: k.to_string(),
                    key_span: key_span.clone(),
                    node: convert_value(x, &key_span),
                });
            }
            Val::Table(entries)
        }
    };
    Node { span, val }
}

/// The file being parsed: turns spans into lines.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) src: &'a str,
    /// Whether `[workload] kind = "app"` (your own application) is allowed.
    pub(super) app: bool,
}

impl Ctx<'_> {
    pub(super) fn line(&self, offset: usize) -> usize {
        let bytes = self.src.as_bytes();
        let end = offset.min(bytes.len());
        1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
    }

    pub(super) fn err(
        &self,
        span: &Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: self.line(span.start),
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn wrong_type(&self, node: &Node, field: &str, expected: &str) -> ScenarioError {
        self.err(
            &node.span,
            field,
            format!("expected {expected}, found {}", node.val.type_name()),
        )
    }
}

/// A table being read: knows its path, and which keys it allows.
pub(super) struct Tbl<'a> {
    pub(super) path: String,
    pub(super) span: Range<usize>,
    pub(super) entries: &'a [Entry],
}

impl<'a> Tbl<'a> {
    pub(super) fn of(ctx: &Ctx, node: &'a Node, path: &str) -> Res<Tbl<'a>> {
        match &node.val {
            Val::Table(entries) => Ok(Tbl {
                path: path.to_string(),
                span: node.span.clone(),
                entries,
            }),
            _ => Err(ctx.wrong_type(node, path, "a table")),
        }
    }

    pub(super) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error about `key`, at its value's line (the table's when absent).
    pub(super) fn err_at(&self, ctx: &Ctx, key: &str, message: impl Into<String>) -> ScenarioError {
        let span = self.get(key).map_or(&self.span, |n| &n.span);
        ctx.err(span, &self.field(key), message)
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    pub(super) fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// `read` of the value of `key` (with its field path), or `default`
    /// when the table has no `key`.
    pub(super) fn opt<T>(
        &self,
        key: &str,
        default: T,
        read: impl FnOnce(&'a Node, &str) -> Res<T>,
    ) -> Res<T> {
        match self.get(key) {
            Some(n) => read(n, &self.field(key)),
            None => Ok(default),
        }
    }

    pub(super) fn require(&self, ctx: &Ctx, key: &str, what: &str) -> Res<&'a Node> {
        self.get(key).ok_or_else(|| {
            ctx.err(
                &self.span,
                &self.field(key),
                format!("missing (required: {what})"),
            )
        })
    }

    pub(super) fn check_keys(&self, ctx: &Ctx, allowed: &[&str]) -> Res<()> {
        for e in self.entries {
            if !allowed.contains(&e.key.as_str()) {
                return Err(ctx.err(
                    &e.key_span,
                    &self.field(&e.key),
                    format!(
                        "unknown key \"{}\" (expected one of: {})",
                        e.key,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn as_str<'a>(ctx: &Ctx, node: &'a Node, field: &str) -> Res<&'a str> {
    match &node.val {
        Val::Str(s) => Ok(s),
        _ => Err(ctx.wrong_type(node, field, "a string")),
    }
}

pub(super) fn as_bool(ctx: &Ctx, node: &Node, field: &str) -> Res<bool> {
    match node.val {
        Val::Bool(b) => Ok(b),
        _ => Err(ctx.wrong_type(node, field, "true or false")),
    }
}

pub(super) fn as_array<'a>(ctx: &Ctx, node: &'a Node, field: &str, what: &str) -> Res<&'a [Node]> {
    match &node.val {
        Val::Array(a) => Ok(a),
        _ => Err(ctx.wrong_type(node, field, what)),
    }
}

pub(super) fn as_int(ctx: &Ctx, node: &Node, field: &str, lo: i64, hi: i64) -> Res<i64> {
    match node.val {
        Val::Int(i) if i >= lo && i <= hi => Ok(i),
        Val::Int(i) => {
            let range = if hi == i64::MAX {
                format!("at least {lo}")
            } else {
                format!("between {lo} and {hi}")
            };
            Err(ctx.err(
                &node.span,
                field,
                format!("{i} is out of range (must be {range})"),
            ))
        }
        _ => Err(ctx.wrong_type(node, field, "an integer")),
    }
}

pub(super) fn as_u32(ctx: &Ctx, node: &Node, field: &str, lo: u32, hi: u32) -> Res<u32> {
    as_int(ctx, node, field, lo as i64, hi as i64).map(|i| i as u32)
}

pub(super) fn as_number(ctx: &Ctx, node: &Node, field: &str) -> Res<f64> {
    let x = match node.val {
        Val::Int(i) => i as f64,
        Val::Float(f) => f,
        _ => return Err(ctx.wrong_type(node, field, "a number")),
    };
    if !x.is_finite() {
        return Err(ctx.err(&node.span, field, "must be a finite number"));
    }
    Ok(x)
}

pub(super) fn as_probability(ctx: &Ctx, node: &Node, field: &str) -> Res<f64> {
    let x = as_number(ctx, node, field)?;
    if !(0.0..=1.0).contains(&x) {
        return Err(ctx.err(
            &node.span,
            field,
            format!("{x} is out of range (a chance between 0 and 1)"),
        ));
    }
    Ok(x)
}

pub(super) fn as_duration(ctx: &Ctx, node: &Node, field: &str) -> Res<Duration> {
    let text = match &node.val {
        Val::Str(s) => s,
        _ => return Err(ctx.wrong_type(node, field, "a duration string like \"1s\"")),
    };
    parse_duration(text).map_err(|e| ctx.err(&node.span, field, format!("duration \"{text}\" {e}")))
}

/// A duration that must be more than 0.
pub(super) fn as_positive_duration(ctx: &Ctx, node: &Node, field: &str) -> Res<Duration> {
    let d = as_duration(ctx, node, field)?;
    if d.is_zero() {
        return Err(ctx.err(&node.span, field, "must be more than 0"));
    }
    Ok(d)
}

/// A point in simulated time (`at`, `from`, `until`): negative is "before time 0".
pub(super) fn as_time(ctx: &Ctx, node: &Node, field: &str) -> Res<Duration> {
    if let Val::Str(s) = &node.val {
        if parse_duration(s) == Err(DurationError::Negative) {
            return Err(ctx.err(
                &node.span,
                field,
                format!("\"{s}\" is before time 0 (steps run from 0 to the workload's duration)"),
            ));
        }
    }
    as_duration(ctx, node, field)
}

/// `[min, max]`; with `single_ok`, a lone duration means `[d, d]`.
pub(super) fn as_duration_range(
    ctx: &Ctx,
    node: &Node,
    field: &str,
    single_ok: bool,
) -> Res<DurationRange> {
    if single_ok {
        if let Val::Str(_) = node.val {
            let d = as_duration(ctx, node, field)?;
            return Ok(DurationRange::new(d, d));
        }
    }
    let what = if single_ok {
        "a duration or [min, max] like [\"1ms\", \"5ms\"]"
    } else {
        "[min, max] like [\"1ms\", \"5ms\"]"
    };
    let items = as_array(ctx, node, field, what)?;
    if items.len() != 2 {
        return Err(ctx.err(
            &node.span,
            field,
            format!("expected two durations [min, max], found {}", items.len()),
        ));
    }
    let min = as_duration(ctx, &items[0], &format!("{field}[0]"))?;
    let max = as_duration(ctx, &items[1], &format!("{field}[1]"))?;
    if min > max {
        return Err(ctx.err(
            &node.span,
            field,
            format!(
                "min {} is greater than max {}",
                format_duration(min),
                format_duration(max)
            ),
        ));
    }
    Ok(DurationRange::new(min, max))
}

pub(super) fn one_of<T: Copy>(
    ctx: &Ctx,
    node: &Node,
    field: &str,
    choices: &[(&str, T)],
) -> Res<T> {
    let s = as_str(ctx, node, field)?;
    choices
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            ctx.err(
                &node.span,
                field,
                format!("unknown value \"{s}\" (expected {})", names.join(" or ")),
            )
        })
}
