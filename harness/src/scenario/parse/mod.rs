//! From TOML text to a validated [`Scenario`], with a line for every error.
//!
//! [`spanned`] reads the TOML and keeps the span of every key and value;
//! this module is the grammar, one function per table of SPEC.md section 2
//! ([`nemesis`] holds the steps and their actions), so that every unknown
//! key, wrong type and bad value is reported at its own line with its field
//! path.

mod nemesis;
mod spanned;

use std::path::Path;
use std::time::Duration;

use super::*;
use nemesis::Shape;
use spanned::*;

const TOP_KEYS: [&str; 11] = [
    "name",
    "description",
    "cluster",
    "network",
    "workload",
    "nemesis",
    "expect",
    "run",
    "engine",
    "faults",
    "system",
];

pub(super) fn parse(file: &str, src: &str, app: bool) -> Res<Scenario> {
    let ctx = Ctx { file, src, app };
    let root_node = read(&ctx)?;
    let root = Tbl::of(&ctx, &root_node, "")?;
    root.check_keys(&ctx, &TOP_KEYS)?;
    let table = |key: &str, what: &str| {
        root.get(key).ok_or_else(|| ScenarioError {
            file: file.to_string(),
            line: 1,
            field: key.to_string(),
            message: format!("missing table [{key}] (required, with {what})"),
        })
    };
    let name = name(&ctx, root.get("name"))?;
    let description = root.opt("description", String::new(), |n, f| {
        as_str(&ctx, n, f).map(str::to_string)
    })?;
    let cluster = cluster(&ctx, table("cluster", "nodes and shards")?)?;
    let workload = workload(&ctx, table("workload", "clients, keys and duration")?)?;
    let shape = Shape {
        nodes: cluster.nodes,
        shards: cluster.shards,
    };
    let scenario = Scenario {
        name,
        description,
        file: file.to_string(),
        source: src.to_string(),
        network: root.opt("network", Network::default(), |n, _| network(&ctx, n))?,
        nemesis: root.opt("nemesis", Vec::new(), |n, _| {
            nemesis::nemesis(&ctx, n, &shape, workload.duration)
        })?,
        expect: root.opt("expect", Expect::default(), |n, _| expect(&ctx, n))?,
        engine: root.opt("engine", Engine::default(), |n, _| engine(&ctx, n))?,
        faults: root.opt("faults", Faults::default(), |n, _| faults(&ctx, n))?,
        run: root.opt("run", Run::default(), |n, _| run(&ctx, n))?,
        system: root.opt("system", System::Tumult, |n, _| system(&ctx, n))?,
        cluster,
        workload,
    };
    if scenario.system == System::Etcd {
        etcd_fits(&ctx, &root, &scenario)?;
    }
    Ok(scenario)
}

/// `[system]`: what runs the scenario.
fn system(ctx: &Ctx, node: &Node) -> Res<System> {
    let t = Tbl::of(ctx, node, "system")?;
    t.check_keys(ctx, &["kind"])?;
    t.opt("kind", System::Tumult, |n, f| {
        one_of(
            ctx,
            n,
            f,
            &[("tumult", System::Tumult), ("etcd", System::Etcd)],
        )
    })
}

/// An etcd cluster is one Raft group with etcd's own knobs, and its
/// clients run the register workload through etcd's key-value API.
fn etcd_fits(ctx: &Ctx, root: &Tbl, s: &Scenario) -> Res<()> {
    let sys = Tbl::of(
        ctx,
        root.get("system").expect("[system] was read"),
        "system",
    )?;
    let refuse = |why: String| Err(sys.err_at(ctx, "kind", why));
    if s.cluster.shards != 1 {
        return refuse(format!(
            "kind = \"etcd\" is one Raft group: [cluster] shards must be 1, not {}",
            s.cluster.shards
        ));
    }
    if s.workload.kind != WorkloadKind::Register {
        return refuse(
            "kind = \"etcd\" runs the register workload (read, write, cas through etcd's key-value API)"
                .into(),
        );
    }
    for table in ["engine", "faults"] {
        if root.get(table).is_some() {
            return refuse(format!(
                "kind = \"etcd\" does not take [{table}] (the engine's knobs and fault sites)"
            ));
        }
    }
    for step in &s.nemesis {
        let actions: Vec<&Action> = match &step.kind {
            StepKind::Fixed { action, .. } => vec![action],
            StepKind::Random { actions, .. } => actions.iter().collect(),
        };
        for a in actions {
            if matches!(
                a,
                Action::AddMember { .. }
                    | Action::RemoveMember { .. }
                    | Action::TransferLeader { .. }
                    | Action::DiskFault { .. }
            ) {
                return refuse(format!(
                    "kind = \"etcd\" runs crash, pause and network faults; `{}` is the engine's",
                    a.name()
                ));
            }
        }
    }
    Ok(())
}

/// `name`: the run directory's name; default the file's stem.
fn name(ctx: &Ctx, node: Option<&Node>) -> Res<String> {
    let Some(n) = node else {
        return Ok(Path::new(ctx.file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "scenario".to_string()));
    };
    let s = as_str(ctx, n, "name")?;
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
    Ok(s.to_string())
}

/// `[cluster]`.
fn cluster(ctx: &Ctx, node: &Node) -> Res<Cluster> {
    let c = Tbl::of(ctx, node, "cluster")?;
    c.check_keys(
        ctx,
        &["nodes", "shards", "voters", "snapshot_every", "fsync"],
    )?;
    let nodes = as_u32(
        ctx,
        c.require(ctx, "nodes", "nodes = 1..=9")?,
        "cluster.nodes",
        1,
        MAX_NODES,
    )?;
    let shards = as_u32(
        ctx,
        c.require(ctx, "shards", "the number of raft groups, e.g. shards = 4")?,
        "cluster.shards",
        1,
        MAX_SHARDS,
    )?;
    let shape = Shape { nodes, shards };
    Ok(Cluster {
        nodes,
        shards,
        voters: c.opt("voters", (1..=nodes).collect(), |n, f| {
            voters(ctx, n, f, &shape)
        })?,
        snapshot_every: c.opt("snapshot_every", 1000, |n, f| {
            as_int(ctx, n, f, 1, i64::MAX).map(|i| i as u64)
        })?,
        fsync: c.opt("fsync", Cluster::DEFAULT_FSYNC, |n, f| {
            as_duration_range(ctx, n, f, false)
        })?,
    })
}

/// `[cluster] voters`: distinct node names, sorted.
fn voters(ctx: &Ctx, v: &Node, field: &str, shape: &Shape) -> Res<Vec<u32>> {
    let items = as_array(ctx, v, field, "a list of node names like [\"n1\", \"n2\"]")?;
    if items.is_empty() {
        return Err(ctx.err(
            &v.span,
            field,
            "empty list: a cluster needs at least one voter",
        ));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let sel = nemesis::selector(ctx, item, &f, shape, nemesis::RestOk::No)?;
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
    Ok(out)
}

/// `[workload]`.
fn workload(ctx: &Ctx, node: &Node) -> Res<Workload> {
    let w = Tbl::of(ctx, node, "workload")?;
    w.check_keys(
        ctx,
        &[
            "kind", "clients", "keys", "mix", "rate", "duration", "timeout", "read",
        ],
    )?;
    let kind = w.opt("kind", WorkloadKind::Register, |n, f| {
        if !ctx.app && as_str(ctx, n, f)? == "app" {
            return Err(ctx.err(
                &n.span,
                f,
                "\"app\" is your own application's workload: run the file from your tests \
                 with scenario::parse_app_file and run::run_seed_with (the tumult command runs \
                 the built-in \"register\" and \"list-append\")",
            ));
        }
        one_of(
            ctx,
            n,
            f,
            &[
                ("register", WorkloadKind::Register),
                ("list-append", WorkloadKind::ListAppend),
                ("app", WorkloadKind::App),
            ],
        )
    })?;
    let clients = as_u32(
        ctx,
        w.require(ctx, "clients", "the number of clients, e.g. clients = 5")?,
        "workload.clients",
        1,
        100_000,
    )?;
    let keys = as_u32(
        ctx,
        w.require(ctx, "keys", "the number of keys, e.g. keys = 8")?,
        "workload.keys",
        1,
        1_000_000,
    )?;
    let dnode = w.require(
        ctx,
        "duration",
        "how long clients run, e.g. duration = \"20s\"",
    )?;
    Ok(Workload {
        kind,
        clients,
        keys,
        mix: w.opt("mix", Mix::default_for(kind), |n, _| mix(ctx, n, kind))?,
        rate: w.opt("rate", 100.0, |n, f| {
            let r = as_number(ctx, n, f)?;
            if r <= 0.0 || r > 1_000_000.0 {
                return Err(ctx.err(
                    &n.span,
                    f,
                    format!("{r} is out of range (operations per second, more than 0)"),
                ));
            }
            Ok(r)
        })?,
        duration: as_positive_duration(ctx, dnode, "workload.duration")?,
        timeout: w.opt("timeout", Duration::from_secs(1), |n, f| {
            as_positive_duration(ctx, n, f)
        })?,
        read: w.opt("read", ReadMode::Linearizable, |n, f| {
            one_of(
                ctx,
                n,
                f,
                &[
                    ("linearizable", ReadMode::Linearizable),
                    ("local", ReadMode::Local),
                ],
            )
        })?,
    })
}

/// `[workload.mix]`: the weights of the operations `kind` has.
fn mix(ctx: &Ctx, node: &Node, kind: WorkloadKind) -> Res<Mix> {
    let m = Tbl::of(ctx, node, "workload.mix")?;
    let allowed: &[&str] = match kind {
        WorkloadKind::Register => &["read", "write", "cas"],
        WorkloadKind::ListAppend => &["read", "append"],
        WorkloadKind::App => {
            return Err(ctx.err(
                &node.span,
                "workload.mix",
                "an app workload has no mix: its generator picks the operations",
            ))
        }
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
    let weight = |key: &str| m.opt(key, 0, |n, f| as_u32(ctx, n, f, 0, 1_000_000));
    let mix = Mix {
        read: weight("read")?,
        write: weight("write")?,
        cas: weight("cas")?,
        append: weight("append")?,
    };
    if mix.total() == 0 {
        return Err(ctx.err(
            &node.span,
            "workload.mix",
            "every weight is 0: give at least one operation a weight",
        ));
    }
    Ok(mix)
}

/// `[network]`.
fn network(ctx: &Ctx, node: &Node) -> Res<Network> {
    let t = Tbl::of(ctx, node, "network")?;
    t.check_keys(ctx, &["latency", "flaky"])?;
    let default = Network::default();
    Ok(Network {
        latency: t.opt("latency", default.latency, |n, f| {
            as_duration_range(ctx, n, f, false)
        })?,
        flaky: t.opt("flaky", default.flaky, |n, f| as_probability(ctx, n, f))?,
    })
}

/// `[expect]`.
fn expect(ctx: &Ctx, node: &Node) -> Res<Expect> {
    let t = Tbl::of(ctx, node, "expect")?;
    t.check_keys(ctx, &["verdict", "checks", "recovery", "liveness"])?;
    let default = Expect::default();
    Ok(Expect {
        verdict: t.opt("verdict", default.verdict, |n, f| {
            one_of(
                ctx,
                n,
                f,
                &[("pass", Expected::Pass), ("fail", Expected::Fail)],
            )
        })?,
        checks: t.opt("checks", default.checks, |n, f| checks(ctx, n, f))?,
        recovery: t.opt("recovery", default.recovery, |n, f| {
            as_positive_duration(ctx, n, f)
        })?,
        liveness: t.opt("liveness", default.liveness, |n, f| {
            one_of(
                ctx,
                n,
                f,
                &[("all", Liveness::All), ("core", Liveness::Core)],
            )
        })?,
    })
}

/// `[expect] checks`: distinct names of listable checks, in file order.
fn checks(ctx: &Ctx, node: &Node, field: &str) -> Res<Vec<CheckName>> {
    let items = as_array(
        ctx,
        node,
        field,
        "a list like [\"linearizable\", \"model\"]",
    )?;
    if items.is_empty() {
        return Err(ctx.err(
            &node.span,
            field,
            "empty list: name at least one of linearizable, model, recovery",
        ));
    }
    let choices = Expect::LISTABLE.map(|c| (c.name(), c));
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let c = one_of(ctx, item, &f, &choices)?;
        if out.contains(&c) {
            return Err(ctx.err(&item.span, &f, format!("\"{}\" is listed twice", c.name())));
        }
        out.push(c);
    }
    Ok(out)
}

/// `[engine]`.
fn engine(ctx: &Ctx, node: &Node) -> Res<Engine> {
    let t = Tbl::of(ctx, node, "engine")?;
    t.check_keys(
        ctx,
        &[
            "tls",
            "election_ticks",
            "heartbeat_ticks",
            "max_append_entries",
            "pre_vote",
            "check_quorum",
        ],
    )?;
    let some_bool = |key: &str| t.opt(key, None, |n, f| as_bool(ctx, n, f).map(Some));
    let heartbeat_ticks = t.opt("heartbeat_ticks", None, |n, f| {
        as_u32(ctx, n, f, 1, 1000).map(Some)
    })?;
    let election_ticks = t.opt("election_ticks", None, |n, f| {
        let items = as_array(ctx, n, f, "[min, max] ticks like [10, 20]")?;
        let [lo, hi] = items else {
            return Err(ctx.err(
                &n.span,
                f,
                format!("expected two tick counts [min, max], found {}", items.len()),
            ));
        };
        let lo = as_u32(ctx, lo, &format!("{f}[0]"), 2, 10_000)?;
        let hi = as_u32(ctx, hi, &format!("{f}[1]"), 3, 10_000)?;
        if hi <= lo {
            return Err(ctx.err(
                &n.span,
                f,
                format!(
                    "max {hi} must be more than min {lo} (the timeout is drawn from [min, max))"
                ),
            ));
        }
        Ok(Some((lo, hi)))
    })?;
    let (min, hb) = (
        election_ticks
            .unwrap_or(tumult_engine::node::DEFAULT_ELECTION_TICKS)
            .0,
        heartbeat_ticks.unwrap_or(tumult_engine::node::DEFAULT_HEARTBEAT_TICKS),
    );
    if hb >= min {
        let key = if heartbeat_ticks.is_some() {
            "heartbeat_ticks"
        } else {
            "election_ticks"
        };
        return Err(t.err_at(
            ctx,
            key,
            format!("the heartbeat interval ({hb} ticks) must be shorter than the shortest election timeout ({min} ticks)"),
        ));
    }
    let (pre_vote, check_quorum) = (some_bool("pre_vote")?, some_bool("check_quorum")?);
    if check_quorum == Some(false) && pre_vote != Some(false) {
        let key = if pre_vote.is_some() {
            "pre_vote"
        } else {
            "check_quorum"
        };
        return Err(t.err_at(
            ctx,
            key,
            format!(
                "pre-vote (on unless pre_vote = false) needs check_quorum = true: {}",
                tumult_engine::raft::PRE_VOTE_NEEDS_CHECK_QUORUM
            ),
        ));
    }
    Ok(Engine {
        tls: t.opt("tls", false, |n, f| as_bool(ctx, n, f))?,
        election_ticks,
        heartbeat_ticks,
        max_append_entries: t.opt("max_append_entries", None, |n, f| {
            as_u32(ctx, n, f, 1, 100_000).map(Some)
        })?,
        pre_vote,
        check_quorum,
    })
}

/// `[faults]`: `site = chance`, for sites of `tumult_engine::buggify`.
fn faults(ctx: &Ctx, node: &Node) -> Res<Faults> {
    use tumult_engine::buggify::Site;
    let t = Tbl::of(ctx, node, "faults")?;
    let names: Vec<&str> = Site::ALL.iter().map(|s| s.name()).collect();
    t.check_keys(ctx, &names)?;
    let mut fire = std::collections::BTreeMap::new();
    for e in t.entries {
        let site = Site::from_name(&e.key).expect("checked above");
        let p = as_probability(ctx, &e.node, &t.field(&e.key))?;
        if p > 0.0 {
            fire.insert(site, p);
        }
    }
    Ok(Faults { fire })
}

/// `[run]`.
fn run(ctx: &Ctx, node: &Node) -> Res<Run> {
    let t = Tbl::of(ctx, node, "run")?;
    t.check_keys(ctx, &["seeds"])?;
    t.opt("seeds", Run::default(), |n, f| run_seeds(ctx, n, f))
}

/// `[run] seeds`: a string (`"1..=5"`), one integer, or a list of integers.
fn run_seeds(ctx: &Ctx, node: &Node, field: &str) -> Res<Run> {
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
