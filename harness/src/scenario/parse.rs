//! From TOML text to a validated [`Scenario`], with a line for every error.
//!
//! The TOML is parsed with `toml_edit`, which keeps the byte span of every
//! key and value; the tree is copied into a small spanned form and then
//! walked by hand, so that every unknown key, wrong type and bad value is
//! reported at its own line with its field path.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use super::*;

type Res<T> = Result<T, ScenarioError>;

/// A TOML value with the span of its text.
#[derive(Debug)]
struct Node {
    span: Range<usize>,
    val: Val,
}

#[derive(Debug)]
enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    key: String,
    key_span: Range<usize>,
    node: Node,
}

impl Val {
    fn type_name(&self) -> &'static str {
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
struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let bytes = self.src.as_bytes();
        let end = offset.min(bytes.len());
        1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
    }

    fn err(&self, span: &Range<usize>, field: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: self.line(span.start),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn wrong_type(&self, node: &Node, field: &str, expected: &str) -> ScenarioError {
        self.err(
            &node.span,
            field,
            format!("expected {expected}, found {}", node.val.type_name()),
        )
    }
}

/// A table being read: knows its path, and which keys it allows.
struct Tbl<'a> {
    path: String,
    span: Range<usize>,
    entries: &'a [Entry],
}

impl<'a> Tbl<'a> {
    fn of(ctx: &Ctx, node: &'a Node, path: &str) -> Res<Tbl<'a>> {
        match &node.val {
            Val::Table(entries) => Ok(Tbl {
                path: path.to_string(),
                span: node.span.clone(),
                entries,
            }),
            _ => Err(ctx.wrong_type(node, path, "a table")),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn require(&self, ctx: &Ctx, key: &str, what: &str) -> Res<&'a Node> {
        self.get(key).ok_or_else(|| {
            ctx.err(
                &self.span,
                &self.field(key),
                format!("missing (required: {what})"),
            )
        })
    }

    fn check_keys(&self, ctx: &Ctx, allowed: &[&str]) -> Res<()> {
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

fn as_str<'a>(ctx: &Ctx, node: &'a Node, field: &str) -> Res<&'a str> {
    match &node.val {
        Val::Str(s) => Ok(s),
        _ => Err(ctx.wrong_type(node, field, "a string")),
    }
}

fn as_bool(ctx: &Ctx, node: &Node, field: &str) -> Res<bool> {
    match node.val {
        Val::Bool(b) => Ok(b),
        _ => Err(ctx.wrong_type(node, field, "true or false")),
    }
}

fn as_array<'a>(ctx: &Ctx, node: &'a Node, field: &str, what: &str) -> Res<&'a [Node]> {
    match &node.val {
        Val::Array(a) => Ok(a),
        _ => Err(ctx.wrong_type(node, field, what)),
    }
}

fn as_int(ctx: &Ctx, node: &Node, field: &str, lo: i64, hi: i64) -> Res<i64> {
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

fn as_u32(ctx: &Ctx, node: &Node, field: &str, lo: u32, hi: u32) -> Res<u32> {
    as_int(ctx, node, field, lo as i64, hi as i64).map(|i| i as u32)
}

fn as_number(ctx: &Ctx, node: &Node, field: &str) -> Res<f64> {
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

fn as_probability(ctx: &Ctx, node: &Node, field: &str) -> Res<f64> {
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

fn as_duration(ctx: &Ctx, node: &Node, field: &str) -> Res<Duration> {
    let text = match &node.val {
        Val::Str(s) => s,
        _ => return Err(ctx.wrong_type(node, field, "a duration string like \"1s\"")),
    };
    parse_duration(text).map_err(|e| ctx.err(&node.span, field, format!("duration \"{text}\" {e}")))
}

/// A point in simulated time (`at`, `from`, `until`): negative is "before time 0".
fn as_time(ctx: &Ctx, node: &Node, field: &str) -> Res<Duration> {
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
fn as_duration_range(ctx: &Ctx, node: &Node, field: &str, single_ok: bool) -> Res<DurationRange> {
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

fn one_of<T: Copy>(ctx: &Ctx, node: &Node, field: &str, choices: &[(&str, T)]) -> Res<T> {
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

fn node_range(nodes: u32) -> String {
    if nodes == 1 {
        "cluster has only n1".to_string()
    } else {
        format!("cluster has n1..n{nodes}")
    }
}

fn shard_range(shards: u32) -> String {
    if shards == 1 {
        "cluster has only shard 0".to_string()
    } else {
        format!("cluster has shards 0..{}", shards - 1)
    }
}

/// What the parser knows about the cluster while reading the nemesis.
struct Shape {
    nodes: u32,
    shards: u32,
}

/// Where `rest` may appear.
#[derive(Clone, Copy, PartialEq)]
enum RestOk {
    No,
    InGroup,
}

fn selector(ctx: &Ctx, node: &Node, field: &str, shape: &Shape, rest: RestOk) -> Res<Selector> {
    let s = match &node.val {
        Val::Str(s) => s,
        _ => return Err(ctx.wrong_type(node, field, "a node selector string like \"n1\"")),
    };
    let sel: Selector = s
        .parse()
        .map_err(|e: SelectorError| ctx.err(&node.span, field, e.0))?;
    match sel {
        Selector::Node(n) if n > shape.nodes => Err(ctx.err(
            &node.span,
            field,
            format!("unknown node \"{s}\" ({})", node_range(shape.nodes)),
        )),
        Selector::Leader(sh) | Selector::Followers(sh) if sh >= shape.shards => Err(ctx.err(
            &node.span,
            field,
            format!(
                "shard {sh} in \"{s}\" is out of range ({})",
                shard_range(shape.shards)
            ),
        )),
        Selector::Rest if rest == RestOk::No => Err(ctx.err(
            &node.span,
            field,
            "\"rest\" is only allowed inside groups (groups, from, to of partition-oneway)",
        )),
        _ => Ok(sel),
    }
}

/// `nodes`: one selector or a non-empty list; `rest` not allowed.
fn selector_list(
    ctx: &Ctx,
    node: &Node,
    field: &str,
    shape: &Shape,
    rest: RestOk,
) -> Res<Vec<Selector>> {
    match &node.val {
        Val::Str(_) => Ok(vec![selector(ctx, node, field, shape, rest)?]),
        Val::Array(items) => {
            if items.is_empty() {
                return Err(ctx.err(&node.span, field, "empty list: name at least one node"));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let sel = selector(ctx, item, &format!("{field}[{i}]"), shape, rest)?;
                if out.contains(&sel) {
                    return Err(ctx.err(
                        &item.span,
                        &format!("{field}[{i}]"),
                        format!("\"{sel}\" is listed twice"),
                    ));
                }
                out.push(sel);
            }
            Ok(out)
        }
        _ => Err(ctx.wrong_type(node, field, "a node selector or a list of them")),
    }
}

/// Checks a list of groups (`groups`, or `[from, to]`) together: `rest` in
/// at most one group, no plain node in two groups.
fn check_groups(
    ctx: &Ctx,
    groups: &[Vec<Selector>],
    nodes: &[&Node],
    fields: &[String],
) -> Res<()> {
    let mut rest_seen = false;
    let mut named: Vec<u32> = Vec::new();
    for ((group, node), field) in groups.iter().zip(nodes).zip(fields) {
        if group.contains(&Selector::Rest) {
            if rest_seen {
                return Err(ctx.err(
                    &node.span,
                    field,
                    "\"rest\" appears in two groups (it means every node named in no other group)",
                ));
            }
            rest_seen = true;
        }
        for sel in group {
            if let Selector::Node(n) = sel {
                if named.contains(n) {
                    return Err(ctx.err(
                        &node.span,
                        field,
                        format!("node \"n{n}\" is in two groups"),
                    ));
                }
                named.push(*n);
            }
        }
    }
    Ok(())
}

fn groups(ctx: &Ctx, node: &Node, field: &str, shape: &Shape) -> Res<Vec<Vec<Selector>>> {
    let items = as_array(
        ctx,
        node,
        field,
        "a list of groups like [[\"n1\"], [\"rest\"]]",
    )?;
    if items.len() < 2 {
        return Err(ctx.err(
            &node.span,
            field,
            format!(
                "expected at least two groups, found {} (e.g. [[\"n1\"], [\"rest\"]])",
                items.len()
            ),
        ));
    }
    let mut out = Vec::new();
    let mut fields = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        out.push(selector_list(ctx, item, &f, shape, RestOk::InGroup)?);
        fields.push(f);
    }
    let refs: Vec<&Node> = items.iter().collect();
    check_groups(ctx, &out, &refs, &fields)?;
    Ok(out)
}

/// `node` / `to`: a selector naming one node.
fn single_node(ctx: &Ctx, node: &Node, field: &str, shape: &Shape) -> Res<Selector> {
    let sel = selector(ctx, node, field, shape, RestOk::No)?;
    match sel {
        Selector::Node(_) | Selector::Leader(_) | Selector::Followers(_) | Selector::Random => {
            Ok(sel)
        }
        _ => Err(ctx.err(
            &node.span,
            field,
            format!(
                "\"{sel}\" can name several nodes; use \"nK\", \"leader:S\", \"followers:S\" or \"random\" (one node)"
            ),
        )),
    }
}

/// The argument entries of one nemesis step.
struct Args<'a> {
    step: &'a Tbl<'a>,
}

impl Args<'_> {
    fn get(&self, arg: Arg) -> Option<&Node> {
        self.step.get(arg.name())
    }

    fn field(&self, arg: Arg) -> String {
        self.step.field(arg.name())
    }
}

/// Builds `kind` from the step's arguments. `missing` reports a missing
/// required argument.
fn build_action(
    ctx: &Ctx,
    kind: ActionKind,
    args: &Args,
    shape: &Shape,
    missing: &dyn Fn(Arg) -> ScenarioError,
) -> Res<Action> {
    let req = |arg: Arg| args.get(arg).ok_or_else(|| missing(arg));
    let nodes = || -> Res<Vec<Selector>> {
        selector_list(
            ctx,
            req(Arg::Nodes)?,
            &args.field(Arg::Nodes),
            shape,
            RestOk::No,
        )
    };
    let grps = || groups(ctx, req(Arg::Groups)?, &args.field(Arg::Groups), shape);
    let shard = || -> Res<u32> {
        let node = req(Arg::Shard)?;
        let field = args.field(Arg::Shard);
        match node.val {
            Val::Int(i) if i >= 0 && i < shape.shards as i64 => Ok(i as u32),
            Val::Int(i) => Err(ctx.err(
                &node.span,
                &field,
                format!("shard {i} is out of range ({})", shard_range(shape.shards)),
            )),
            _ => Err(ctx.wrong_type(node, &field, "a shard number")),
        }
    };
    Ok(match kind {
        ActionKind::Crash => Action::Crash { nodes: nodes()? },
        ActionKind::Restart => Action::Restart { nodes: nodes()? },
        ActionKind::Bounce => Action::Bounce { nodes: nodes()? },
        ActionKind::Isolate => Action::Isolate { nodes: nodes()? },
        ActionKind::Partition => Action::Partition { groups: grps()? },
        ActionKind::Hold => Action::Hold { groups: grps()? },
        ActionKind::Release => Action::Release { groups: grps()? },
        ActionKind::PartitionOneway => {
            let (fnode, tnode) = (req(Arg::From)?, req(Arg::To)?);
            let fields = [args.field(Arg::From), args.field(Arg::To)];
            let from = selector_list(ctx, fnode, &fields[0], shape, RestOk::InGroup)?;
            let to = selector_list(ctx, tnode, &fields[1], shape, RestOk::InGroup)?;
            let both = [from, to];
            check_groups(ctx, &both, &[fnode, tnode], &fields)?;
            let [from, to] = both;
            Action::PartitionOneway { from, to }
        }
        ActionKind::PartitionHalves => Action::PartitionHalves,
        ActionKind::PartitionMajoritiesRing => Action::PartitionMajoritiesRing,
        ActionKind::Heal => Action::Heal,
        ActionKind::CrashMinority => Action::CrashMinority,
        ActionKind::RestartAll => Action::RestartAll,
        ActionKind::Slow => Action::Slow {
            latency: as_duration_range(ctx, req(Arg::Latency)?, &args.field(Arg::Latency), true)?,
        },
        ActionKind::Flaky => Action::Flaky {
            rate: as_probability(ctx, req(Arg::Rate)?, &args.field(Arg::Rate))?,
        },
        ActionKind::CrashLeader => Action::CrashLeader { shard: shard()? },
        ActionKind::AddMember | ActionKind::RemoveMember => {
            let node = single_node(ctx, req(Arg::Node)?, &args.field(Arg::Node), shape)?;
            let shard = shard()?;
            if kind == ActionKind::AddMember {
                Action::AddMember { node, shard }
            } else {
                Action::RemoveMember { node, shard }
            }
        }
        ActionKind::TransferLeader => {
            let shard = shard()?;
            let to = match args.get(Arg::To) {
                Some(n) => Some(single_node(ctx, n, &args.field(Arg::To), shape)?),
                None => None,
            };
            Action::TransferLeader { shard, to }
        }
        ActionKind::DiskFault => {
            let nodes = nodes()?;
            let kind = one_of(
                ctx,
                req(Arg::Kind)?,
                &args.field(Arg::Kind),
                &[
                    ("torn-writes", DiskFaultKind::TornWrites),
                    ("io-errors", DiskFaultKind::IoErrors),
                    ("full", DiskFaultKind::Full),
                ],
            )?;
            Action::DiskFault { nodes, kind }
        }
    })
}

fn action_kind(ctx: &Ctx, node: &Node, field: &str) -> Res<ActionKind> {
    let s = match &node.val {
        Val::Str(s) => s,
        _ => return Err(ctx.wrong_type(node, field, "an action name like \"crash\"")),
    };
    s.parse::<ActionKind>()
        .map_err(|m| ctx.err(&node.span, field, m))
}

const STEP_KEYS: [&str; 13] = [
    "at", "from", "until", "every", "do", "nodes", "groups", "to", "latency", "rate", "shard",
    "node", "kind",
];

fn nemesis_step(
    ctx: &Ctx,
    node: &Node,
    index: usize,
    shape: &Shape,
    duration: Duration,
) -> Res<NemesisStep> {
    let path = format!("nemesis[{index}]");
    let step = Tbl::of(ctx, node, &path)?;
    step.check_keys(ctx, &STEP_KEYS)?;
    let line = ctx.line(step.span.start);
    let args = Args { step: &step };
    let end = format_duration(duration);
    let do_node = step.require(ctx, "do", "the action, e.g. do = \"crash\"")?;

    if let Some(at_node) = step.get("at") {
        for key in ["until", "every"] {
            if let Some(e) = step.entry(key) {
                return Err(ctx.err(
                    &e.key_span,
                    &step.field(key),
                    format!("a fixed step (with `at`) takes no `{key}`; a random step has from, until, every and no `at`"),
                ));
            }
        }
        let at = as_time(ctx, at_node, &step.field("at"))?;
        if at > duration {
            return Err(ctx.err(
                &at_node.span,
                &step.field("at"),
                format!(
                    "{} is after the end of the workload (duration = {end})",
                    format_duration(at)
                ),
            ));
        }
        if let Val::Array(_) = do_node.val {
            return Err(ctx.err(
                &do_node.span,
                &step.field("do"),
                "a fixed step (with `at`) does one action; a list of actions needs a random step (from, until, every)",
            ));
        }
        let kind = action_kind(ctx, do_node, &step.field("do"))?;
        for e in step.entries {
            if let Some(arg) = Arg::from_name(&e.key) {
                if !kind.takes(arg) {
                    return Err(ctx.err(
                        &e.key_span,
                        &step.field(&e.key),
                        format!(
                            "action \"{kind}\" does not take `{}`{}",
                            e.key,
                            takes_text(kind)
                        ),
                    ));
                }
            }
        }
        let missing = |arg: Arg| {
            ctx.err(
                &step.span,
                &step.field(arg.name()),
                format!("missing: action \"{kind}\" needs `{}`", arg.name()),
            )
        };
        let action = build_action(ctx, kind, &args, shape, &missing)?;
        return Ok(NemesisStep {
            index,
            line,
            kind: StepKind::Fixed { at, action },
        });
    }

    let Some(every_node) = step.get("every") else {
        return Err(ctx.err(
            &step.span,
            &path,
            "a step needs `at` (a fixed step) or `from`, `until` and `every` (a random step)",
        ));
    };
    let from_node = step.require(
        ctx,
        "from",
        "when the random schedule starts, e.g. from = \"2s\"",
    )?;
    let from = as_time(ctx, from_node, &step.field("from"))?;
    if from > duration {
        return Err(ctx.err(
            &from_node.span,
            &step.field("from"),
            format!(
                "{} is after the end of the workload (duration = {end})",
                format_duration(from)
            ),
        ));
    }
    let until = match step.get("until") {
        Some(n) => {
            let until = as_time(ctx, n, &step.field("until"))?;
            if until > duration {
                return Err(ctx.err(
                    &n.span,
                    &step.field("until"),
                    format!(
                        "{} is after the end of the workload (duration = {end})",
                        format_duration(until)
                    ),
                ));
            }
            if until <= from {
                return Err(ctx.err(
                    &n.span,
                    &step.field("until"),
                    format!(
                        "until ({}) must be after from ({})",
                        format_duration(until),
                        format_duration(from)
                    ),
                ));
            }
            until
        }
        None => {
            if duration <= from {
                return Err(ctx.err(
                    &from_node.span,
                    &step.field("from"),
                    format!(
                        "leaves no time before the end of the workload ({end}); add an `until`"
                    ),
                ));
            }
            duration
        }
    };
    let every = as_duration_range(ctx, every_node, &step.field("every"), false)?;
    if every.min.is_zero() {
        return Err(ctx.err(
            &every_node.span,
            &step.field("every"),
            "the shortest gap must be more than 0",
        ));
    }
    let firings = (until - from).as_nanos() / every.min.as_nanos() + 1;
    if firings > MAX_FIRINGS as u128 {
        return Err(ctx.err(
            &every_node.span,
            &step.field("every"),
            format!(
                "could fire up to {firings} times between from and until (at most {MAX_FIRINGS}); make the shortest gap longer"
            ),
        ));
    }

    let do_field = step.field("do");
    let names: Vec<(&Node, String)> = match &do_node.val {
        Val::Str(_) => vec![(do_node, do_field.clone())],
        Val::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, format!("{do_field}[{i}]")))
            .collect(),
        _ => return Err(ctx.wrong_type(do_node, &do_field, "a list of action names")),
    };
    if names.is_empty() {
        return Err(ctx.err(
            &do_node.span,
            &do_field,
            "empty list: name at least one action",
        ));
    }
    let mut kinds = Vec::new();
    for (n, f) in &names {
        let kind = action_kind(ctx, n, f)?;
        if kind == ActionKind::PartitionOneway {
            return Err(ctx.err(
                &n.span,
                f,
                "\"partition-oneway\" cannot be drawn by a random step (its `from` would clash with the step's window); use a fixed step with `at`",
            ));
        }
        kinds.push(kind);
    }
    for e in step.entries {
        if let Some(arg) = Arg::from_name(&e.key) {
            if arg == Arg::From {
                continue; // the window start here
            }
            if !kinds.iter().any(|k| k.takes(arg)) {
                return Err(ctx.err(
                    &e.key_span,
                    &step.field(&e.key),
                    format!("no action in `do` takes `{}`", e.key),
                ));
            }
        }
    }
    let mut actions = Vec::new();
    for (kind, (n, f)) in kinds.iter().zip(&names) {
        let missing = |arg: Arg| {
            ctx.err(
                &n.span,
                f,
                format!(
                    "action \"{kind}\" needs `{}`; add it to the step (it is passed to every drawn action that takes it)",
                    arg.name()
                ),
            )
        };
        actions.push(build_action(ctx, *kind, &args, shape, &missing)?);
    }
    Ok(NemesisStep {
        index,
        line,
        kind: StepKind::Random {
            from,
            until,
            every,
            actions,
        },
    })
}

fn takes_text(kind: ActionKind) -> String {
    let mut args: Vec<&str> = kind.required_args().iter().map(|a| a.name()).collect();
    args.extend(kind.optional_args().iter().map(|a| a.name()));
    if args.is_empty() {
        " (it takes no arguments)".to_string()
    } else {
        format!(" (it takes: {})", args.join(", "))
    }
}

pub(super) fn parse(file: &str, src: &str) -> Res<Scenario> {
    let ctx = Ctx { file, src };
    let doc = toml_edit::ImDocument::parse(src).map_err(|e| {
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
    let root_node = convert_item(doc.as_item(), &(0..0));
    let root = Tbl::of(&ctx, &root_node, "")?;
    root.check_keys(
        &ctx,
        &[
            "name",
            "description",
            "cluster",
            "network",
            "workload",
            "nemesis",
            "expect",
            "run",
            "engine",
        ],
    )?;
    let missing_table = |key: &str, what: &str| ScenarioError {
        file: file.to_string(),
        line: 1,
        field: key.to_string(),
        message: format!("missing table [{key}] (required, with {what})"),
    };

    // name, description
    let name = match root.get("name") {
        Some(n) => {
            let s = as_str(&ctx, n, "name")?;
            if s.is_empty()
                || s == "."
                || s == ".."
                || s.contains(['/', '\\'])
                || s.chars().any(char::is_control)
            {
                return Err(ctx.err(
                    &n.span,
                    "name",
                    format!("\"{s}\" cannot name a run directory (no '/', '\\', control characters, '.' or '..')"),
                ));
            }
            s.to_string()
        }
        None => Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "scenario".to_string()),
    };
    let description = match root.get("description") {
        Some(n) => as_str(&ctx, n, "description")?.to_string(),
        None => String::new(),
    };

    // [cluster]
    let cnode = root
        .get("cluster")
        .ok_or_else(|| missing_table("cluster", "nodes and shards"))?;
    let c = Tbl::of(&ctx, cnode, "cluster")?;
    c.check_keys(
        &ctx,
        &["nodes", "shards", "voters", "snapshot_every", "fsync"],
    )?;
    let nodes = as_u32(
        &ctx,
        c.require(&ctx, "nodes", "nodes = 1..=9")?,
        "cluster.nodes",
        1,
        MAX_NODES,
    )?;
    let shards = as_u32(
        &ctx,
        c.require(&ctx, "shards", "the number of raft groups, e.g. shards = 4")?,
        "cluster.shards",
        1,
        MAX_SHARDS,
    )?;
    let shape = Shape { nodes, shards };
    let voters = match c.get("voters") {
        None => (1..=nodes).collect(),
        Some(v) => {
            let items = as_array(
                &ctx,
                v,
                "cluster.voters",
                "a list of node names like [\"n1\", \"n2\"]",
            )?;
            if items.is_empty() {
                return Err(ctx.err(
                    &v.span,
                    "cluster.voters",
                    "empty list: a cluster needs at least one voter",
                ));
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let f = format!("cluster.voters[{i}]");
                let sel = selector(&ctx, item, &f, &shape, RestOk::No)?;
                let Selector::Node(n) = sel else {
                    return Err(ctx.err(
                        &item.span,
                        &f,
                        format!("voters are node names like \"n1\", not \"{sel}\""),
                    ));
                };
                if out.contains(&n) {
                    return Err(ctx.err(&item.span, &f, format!("\"n{n}\" is listed twice")));
                }
                out.push(n);
            }
            out.sort_unstable();
            out
        }
    };
    let snapshot_every = match c.get("snapshot_every") {
        Some(n) => as_int(&ctx, n, "cluster.snapshot_every", 1, i64::MAX)? as u64,
        None => 1000,
    };
    let fsync = match c.get("fsync") {
        Some(n) => as_duration_range(&ctx, n, "cluster.fsync", false)?,
        None => DurationRange::new(Duration::ZERO, Duration::from_millis(1)),
    };
    let cluster = Cluster {
        nodes,
        shards,
        voters,
        snapshot_every,
        fsync,
    };

    // [workload]
    let wnode = root
        .get("workload")
        .ok_or_else(|| missing_table("workload", "clients, keys and duration"))?;
    let w = Tbl::of(&ctx, wnode, "workload")?;
    w.check_keys(
        &ctx,
        &[
            "kind", "clients", "keys", "mix", "rate", "duration", "timeout", "read",
        ],
    )?;
    let kind = match w.get("kind") {
        Some(n) => one_of(
            &ctx,
            n,
            "workload.kind",
            &[
                ("register", WorkloadKind::Register),
                ("list-append", WorkloadKind::ListAppend),
            ],
        )?,
        None => WorkloadKind::Register,
    };
    let clients = as_u32(
        &ctx,
        w.require(&ctx, "clients", "the number of clients, e.g. clients = 5")?,
        "workload.clients",
        1,
        100_000,
    )?;
    let keys = as_u32(
        &ctx,
        w.require(&ctx, "keys", "the number of keys, e.g. keys = 8")?,
        "workload.keys",
        1,
        1_000_000,
    )?;
    let mix = match w.get("mix") {
        None => Mix::default_for(kind),
        Some(n) => {
            let m = Tbl::of(&ctx, n, "workload.mix")?;
            let allowed: &[&str] = match kind {
                WorkloadKind::Register => &["read", "write", "cas"],
                WorkloadKind::ListAppend => &["read", "append"],
            };
            for e in m.entries {
                if !allowed.contains(&e.key.as_str()) {
                    return Err(ctx.err(
                        &e.key_span,
                        &m.field(&e.key),
                        format!(
                            "unknown operation \"{}\" for a {} workload (expected: {})",
                            e.key,
                            kind.name(),
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            let weight = |key: &str| -> Res<u32> {
                match m.get(key) {
                    Some(n) => as_u32(&ctx, n, &m.field(key), 0, 1_000_000),
                    None => Ok(0),
                }
            };
            let mix = Mix {
                read: weight("read")?,
                write: weight("write")?,
                cas: weight("cas")?,
                append: weight("append")?,
            };
            if mix.total() == 0 {
                return Err(ctx.err(
                    &n.span,
                    "workload.mix",
                    "every weight is 0: give at least one operation a weight",
                ));
            }
            mix
        }
    };
    let rate = match w.get("rate") {
        Some(n) => {
            let r = as_number(&ctx, n, "workload.rate")?;
            if r <= 0.0 || r > 1_000_000.0 {
                return Err(ctx.err(
                    &n.span,
                    "workload.rate",
                    format!("{r} is out of range (operations per second, more than 0)"),
                ));
            }
            r
        }
        None => 100.0,
    };
    let dnode = w.require(
        &ctx,
        "duration",
        "how long clients run, e.g. duration = \"20s\"",
    )?;
    let duration = as_duration(&ctx, dnode, "workload.duration")?;
    if duration.is_zero() {
        return Err(ctx.err(&dnode.span, "workload.duration", "must be more than 0"));
    }
    let timeout = match w.get("timeout") {
        Some(n) => {
            let t = as_duration(&ctx, n, "workload.timeout")?;
            if t.is_zero() {
                return Err(ctx.err(&n.span, "workload.timeout", "must be more than 0"));
            }
            t
        }
        None => Duration::from_secs(1),
    };
    let read = match w.get("read") {
        Some(n) => one_of(
            &ctx,
            n,
            "workload.read",
            &[
                ("linearizable", ReadMode::Linearizable),
                ("local", ReadMode::Local),
            ],
        )?,
        None => ReadMode::Linearizable,
    };
    let workload = Workload {
        kind,
        clients,
        keys,
        mix,
        rate,
        duration,
        timeout,
        read,
    };

    // [network]
    let network = match root.get("network") {
        None => Network {
            latency: DurationRange::new(Duration::from_millis(1), Duration::from_millis(5)),
            flaky: 0.0,
        },
        Some(n) => {
            let t = Tbl::of(&ctx, n, "network")?;
            t.check_keys(&ctx, &["latency", "flaky"])?;
            Network {
                latency: match t.get("latency") {
                    Some(n) => as_duration_range(&ctx, n, "network.latency", false)?,
                    None => DurationRange::new(Duration::from_millis(1), Duration::from_millis(5)),
                },
                flaky: match t.get("flaky") {
                    Some(n) => as_probability(&ctx, n, "network.flaky")?,
                    None => 0.0,
                },
            }
        }
    };

    // [[nemesis]]
    let mut nemesis = Vec::new();
    if let Some(n) = root.get("nemesis") {
        let steps = as_array(&ctx, n, "nemesis", "an array of tables ([[nemesis]])")?;
        for (i, step) in steps.iter().enumerate() {
            nemesis.push(nemesis_step(&ctx, step, i, &shape, duration)?);
        }
    }

    // [expect]
    let expect = match root.get("expect") {
        None => Expect {
            verdict: Verdict::Pass,
            checks: Check::ALL.to_vec(),
            recovery: Duration::from_secs(10),
        },
        Some(n) => {
            let t = Tbl::of(&ctx, n, "expect")?;
            t.check_keys(&ctx, &["verdict", "checks", "recovery"])?;
            let verdict = match t.get("verdict") {
                Some(n) => one_of(
                    &ctx,
                    n,
                    "expect.verdict",
                    &[("pass", Verdict::Pass), ("fail", Verdict::Fail)],
                )?,
                None => Verdict::Pass,
            };
            let checks = match t.get("checks") {
                None => Check::ALL.to_vec(),
                Some(n) => {
                    let items = as_array(
                        &ctx,
                        n,
                        "expect.checks",
                        "a list like [\"linearizable\", \"model\"]",
                    )?;
                    if items.is_empty() {
                        return Err(ctx.err(
                            &n.span,
                            "expect.checks",
                            "empty list: name at least one of linearizable, model, recovery",
                        ));
                    }
                    let mut out = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let f = format!("expect.checks[{i}]");
                        let c = one_of(
                            &ctx,
                            item,
                            &f,
                            &[
                                ("linearizable", Check::Linearizable),
                                ("model", Check::Model),
                                ("recovery", Check::Recovery),
                            ],
                        )?;
                        if out.contains(&c) {
                            return Err(ctx.err(
                                &item.span,
                                &f,
                                format!("\"{}\" is listed twice", c.name()),
                            ));
                        }
                        out.push(c);
                    }
                    out
                }
            };
            let recovery = match t.get("recovery") {
                Some(n) => {
                    let r = as_duration(&ctx, n, "expect.recovery")?;
                    if r.is_zero() {
                        return Err(ctx.err(&n.span, "expect.recovery", "must be more than 0"));
                    }
                    r
                }
                None => Duration::from_secs(10),
            };
            Expect {
                verdict,
                checks,
                recovery,
            }
        }
    };

    // [engine]
    let engine = match root.get("engine") {
        None => Engine::default(),
        Some(n) => {
            let t = Tbl::of(&ctx, n, "engine")?;
            t.check_keys(&ctx, &["tls"])?;
            Engine {
                tls: match t.get("tls") {
                    Some(v) => as_bool(&ctx, v, "engine.tls")?,
                    None => false,
                },
            }
        }
    };

    // [run]
    let run = match root.get("run") {
        None => Run {
            seeds: parse_seeds(DEFAULT_SEEDS).unwrap_or_else(|_| vec![1, 2, 3, 4, 5]),
            seeds_text: DEFAULT_SEEDS.to_string(),
        },
        Some(n) => {
            let t = Tbl::of(&ctx, n, "run")?;
            t.check_keys(&ctx, &["seeds"])?;
            match t.get("seeds") {
                None => Run {
                    seeds: parse_seeds(DEFAULT_SEEDS).unwrap_or_else(|_| vec![1, 2, 3, 4, 5]),
                    seeds_text: DEFAULT_SEEDS.to_string(),
                },
                Some(s) => run_seeds(&ctx, s)?,
            }
        }
    };

    Ok(Scenario {
        engine,
        name,
        description,
        file: file.to_string(),
        source: src.to_string(),
        cluster,
        network,
        workload,
        nemesis,
        expect,
        run,
    })
}

/// `[run] seeds`: a string (`"1..=5"`), one integer, or a list of integers.
fn run_seeds(ctx: &Ctx, node: &Node) -> Res<Run> {
    let field = "run.seeds";
    match &node.val {
        Val::Str(s) => {
            let seeds = parse_seeds(s).map_err(|e| ctx.err(&node.span, field, e.to_string()))?;
            Ok(Run {
                seeds,
                seeds_text: s.clone(),
            })
        }
        Val::Int(_) => {
            let n = as_int(ctx, node, field, 0, i64::MAX)? as u64;
            Ok(Run {
                seeds: vec![n],
                seeds_text: n.to_string(),
            })
        }
        Val::Array(items) => {
            if items.is_empty() {
                return Err(ctx.err(&node.span, field, "empty list: name at least one seed"));
            }
            let mut seeds = Vec::new();
            for (i, item) in items.iter().enumerate() {
                seeds.push(as_int(ctx, item, &format!("{field}[{i}]"), 0, i64::MAX)? as u64);
            }
            seeds.sort_unstable();
            seeds.dedup();
            let text = seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            Ok(Run {
                seeds,
                seeds_text: text,
            })
        }
        _ => Err(ctx.wrong_type(node, field, "a seed list like \"1..=5\"")),
    }
}
