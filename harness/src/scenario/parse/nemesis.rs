//! `[[nemesis]]`: fixed and random steps, their actions and the node
//! selectors they take.

use std::time::Duration;

use super::spanned::*;
use crate::scenario::*;

const STEP_KEYS: [&str; 13] = [
    "at", "from", "until", "every", "do", "nodes", "groups", "to", "latency", "rate", "shard",
    "node", "kind",
];

/// `[[nemesis]]`: every step, in file order.
pub(super) fn nemesis(
    ctx: &Ctx,
    node: &Node,
    shape: &Shape,
    duration: Duration,
) -> Res<Vec<NemesisStep>> {
    let steps = as_array(ctx, node, "nemesis", "an array of tables ([[nemesis]])")?;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| nemesis_step(ctx, step, i, shape, duration))
        .collect()
}

/// One step: fixed (with `at`) or random (`from`, `until`, `every`).
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
    let do_node = step.require(ctx, "do", "the action, e.g. do = \"crash\"")?;
    let kind = if let Some(at_node) = step.get("at") {
        fixed_step(ctx, &step, at_node, do_node, shape, duration)?
    } else if let Some(every_node) = step.get("every") {
        random_step(ctx, &step, every_node, do_node, shape, duration)?
    } else {
        return Err(ctx.err(
            &step.span,
            &path,
            "a step needs `at` (a fixed step) or `from`, `until` and `every` (a random step)",
        ));
    };
    Ok(NemesisStep { index, line, kind })
}

/// A point in time of the step (`at`, `from`, `until`), within the workload.
fn step_time(ctx: &Ctx, step: &Tbl, node: &Node, key: &str, duration: Duration) -> Res<Duration> {
    let t = as_time(ctx, node, &step.field(key))?;
    if t > duration {
        return Err(ctx.err(
            &node.span,
            &step.field(key),
            format!(
                "{} is after the end of the workload (duration = {})",
                format_duration(t),
                format_duration(duration)
            ),
        ));
    }
    Ok(t)
}

/// `at = ...`: one action at one time.
fn fixed_step(
    ctx: &Ctx,
    step: &Tbl,
    at_node: &Node,
    do_node: &Node,
    shape: &Shape,
    duration: Duration,
) -> Res<StepKind> {
    for key in ["until", "every"] {
        if let Some(e) = step.entry(key) {
            return Err(ctx.err(
                &e.key_span,
                &step.field(key),
                format!("a fixed step (with `at`) takes no `{key}`; a random step has from, until, every and no `at`"),
            ));
        }
    }
    let at = step_time(ctx, step, at_node, "at", duration)?;
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
    let action = build_action(ctx, kind, &Args { step }, shape, &missing)?;
    Ok(StepKind::Fixed { at, action })
}

/// `from`, `until`, `every`: actions drawn from `do` at random gaps.
fn random_step(
    ctx: &Ctx,
    step: &Tbl,
    every_node: &Node,
    do_node: &Node,
    shape: &Shape,
    duration: Duration,
) -> Res<StepKind> {
    let (from, until) = window(ctx, step, duration)?;
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
    let names = drawn_actions(ctx, step, do_node)?;
    let args = Args { step };
    let mut actions = Vec::new();
    for (kind, n, f) in &names {
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
    Ok(StepKind::Random {
        from,
        until,
        every,
        actions,
    })
}

/// A random step's `from` and `until` (default: the end of the workload).
fn window(ctx: &Ctx, step: &Tbl, duration: Duration) -> Res<(Duration, Duration)> {
    let from_node = step.require(
        ctx,
        "from",
        "when the random schedule starts, e.g. from = \"2s\"",
    )?;
    let from = step_time(ctx, step, from_node, "from", duration)?;
    let Some(n) = step.get("until") else {
        if duration <= from {
            return Err(ctx.err(
                &from_node.span,
                &step.field("from"),
                format!(
                    "leaves no time before the end of the workload ({}); add an `until`",
                    format_duration(duration)
                ),
            ));
        }
        return Ok((from, duration));
    };
    let until = step_time(ctx, step, n, "until", duration)?;
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
    Ok((from, until))
}

/// A random step's `do`: one action name or a list, each with its node and
/// field; every argument of the step must be taken by one of them.
fn drawn_actions<'a>(
    ctx: &Ctx,
    step: &Tbl<'a>,
    do_node: &'a Node,
) -> Res<Vec<(ActionKind, &'a Node, String)>> {
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
    let mut out = Vec::new();
    for (n, f) in names {
        let kind = action_kind(ctx, n, &f)?;
        if kind == ActionKind::PartitionOneway {
            return Err(ctx.err(
                &n.span,
                &f,
                "\"partition-oneway\" cannot be drawn by a random step (its `from` would clash with the step's window); use a fixed step with `at`",
            ));
        }
        out.push((kind, n, f));
    }
    for e in step.entries {
        if let Some(arg) = Arg::from_name(&e.key) {
            if arg == Arg::From {
                continue; // the window start here
            }
            if !out.iter().any(|(k, _, _)| k.takes(arg)) {
                return Err(ctx.err(
                    &e.key_span,
                    &step.field(&e.key),
                    format!("no action in `do` takes `{}`", e.key),
                ));
            }
        }
    }
    Ok(out)
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
pub(super) struct Shape {
    pub(super) nodes: u32,
    pub(super) shards: u32,
}

/// Where `rest` may appear.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum RestOk {
    No,
    InGroup,
}

pub(super) fn selector(
    ctx: &Ctx,
    node: &Node,
    field: &str,
    shape: &Shape,
    rest: RestOk,
) -> Res<Selector> {
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
        ActionKind::Pause => Action::Pause { nodes: nodes()? },
        ActionKind::Resume => Action::Resume { nodes: nodes()? },
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

fn takes_text(kind: ActionKind) -> String {
    let mut args: Vec<&str> = kind.required_args().iter().map(|a| a.name()).collect();
    args.extend(kind.optional_args().iter().map(|a| a.name()));
    if args.is_empty() {
        " (it takes no arguments)".to_string()
    } else {
        format!(" (it takes: {})", args.join(", "))
    }
}
