//! Every kind of bad scenario file is refused with the file, the line of
//! the offending item and its field path.

use tumult_harness::scenario::{parse_file, parse_str, ScenarioError};

const FILE: &str = "scenarios/x.toml";

/// A valid base: 5 nodes, 4 shards, 20 s. Lines 1..=12.
const BASE: &str = r#"name = "x"
description = "base"
[cluster]
nodes = 5
shards = 4
[network]
latency = ["1ms", "5ms"]
[workload]
clients = 5
keys = 8
duration = "20s"
"#;

fn refuse(extra: &str) -> ScenarioError {
    let src = format!("{BASE}{extra}");
    match parse_str(FILE, &src) {
        Ok(s) => panic!("accepted:\n{src}\n{s:#?}"),
        Err(e) => e,
    }
}

/// Line number of the `n`-th line of `extra` (1-based) once appended to BASE.
fn at(n: usize) -> usize {
    BASE.lines().count() + n
}

#[track_caller]
fn assert_err(e: &ScenarioError, line: usize, field: &str, needle: &str) {
    assert_eq!(e.file, FILE, "{e}");
    assert_eq!(e.line, line, "wrong line in: {e}");
    assert_eq!(e.field, field, "wrong field in: {e}");
    assert!(
        e.message.contains(needle),
        "message of {e} does not contain {needle:?}"
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{FILE}:{line}: {field}")),
        "{shown}"
    );
}

#[test]
fn base_is_valid() {
    parse_str(FILE, BASE).unwrap();
}

#[test]
fn display_names_file_line_and_field() {
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"n1\"], [\"n9\"]]\n");
    assert_eq!(
        e.to_string(),
        format!(
            "{FILE}:{}: nemesis[0].groups[1][0]: unknown node \"n9\" (cluster has n1..n5)",
            at(4)
        )
    );
}

#[test]
fn bad_toml_syntax() {
    let e = refuse("[expect\nverdict = \"pass\"\n");
    assert_eq!(e.line, at(1), "{e}");
    assert_eq!(e.field, "");
    assert!(e.message.contains("invalid TOML"), "{e}");
    let e = parse_str(FILE, "[cluster]\nnodes = 5\nnodes = 6\n").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn unknown_keys_everywhere() {
    let e = parse_str(FILE, &format!("colour = \"red\"\n{BASE}")).unwrap_err();
    assert_err(&e, 1, "colour", "unknown key \"colour\"");
    let e = parse_str(
        FILE,
        &BASE.replace("shards = 4\n", "shards = 4\nvoterz = []\n"),
    )
    .unwrap_err();
    assert_err(&e, 6, "cluster.voterz", "unknown key \"voterz\"");
    let e = parse_str(FILE, &BASE.replace("latency =", "latancy =")).unwrap_err();
    assert_err(&e, 7, "network.latancy", "unknown key");
    assert_err(
        &refuse("mix = 3\n"),
        at(1),
        "workload.mix",
        "expected a table",
    );
    assert_err(
        &refuse("[expect]\nverdict = \"pass\"\nchekcs = []\n"),
        at(3),
        "expect.chekcs",
        "unknown key",
    );
    assert_err(
        &refuse("[run]\nseed = 3\n"),
        at(2),
        "run.seed",
        "unknown key",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"heal\"\nwhen = \"now\"\n"),
        at(4),
        "nemesis[0].when",
        "unknown key",
    );
    let e = parse_str(
        FILE,
        &BASE.replace("keys = 8\n", "keys = 8\nmix = { read = 1, scan = 2 }\n"),
    )
    .unwrap_err();
    assert_err(&e, 11, "workload.mix.scan", "unknown operation \"scan\"");
    let e = parse_str(
        FILE,
        &BASE.replace(
            "keys = 8\n",
            "keys = 8\nkind = \"list-append\"\nmix = { read = 1, cas = 2 }\n",
        ),
    )
    .unwrap_err();
    assert_err(&e, 12, "workload.mix.cas", "list-append");
}

#[test]
fn wrong_types() {
    let e = parse_str(FILE, &BASE.replace("nodes = 5", "nodes = \"5\"")).unwrap_err();
    assert_err(
        &e,
        4,
        "cluster.nodes",
        "expected an integer, found a string",
    );
    let e = parse_str(FILE, &BASE.replace("duration = \"20s\"", "duration = 20")).unwrap_err();
    assert_err(&e, 11, "workload.duration", "expected a duration string");
    let e = parse_str(FILE, &BASE.replace("name = \"x\"", "name = 3")).unwrap_err();
    assert_err(&e, 1, "name", "expected a string");
    let e = parse_str(
        FILE,
        &BASE.replace("latency = [\"1ms\", \"5ms\"]", "latency = [\"1ms\", 5]"),
    )
    .unwrap_err();
    assert_err(&e, 7, "network.latency[1]", "expected a duration");
    assert_err(
        &refuse("[expect]\nchecks = \"model\"\n"),
        at(2),
        "expect.checks",
        "expected a list",
    );
    assert_err(
        &refuse("[expect]\nverdict = true\n"),
        at(2),
        "expect.verdict",
        "found a boolean",
    );
    assert_err(
        &refuse("[run]\nseeds = 1.5\n"),
        at(2),
        "run.seeds",
        "found a float",
    );
    let e = parse_str(FILE, &format!("nemesis = 4\n{BASE}")).unwrap_err();
    assert_err(&e, 1, "nemesis", "array of tables");
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [1]\n"),
        at(4),
        "nemesis[0].nodes[0]",
        "found an integer",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash-leader\"\nshard = \"0\"\n"),
        at(4),
        "nemesis[0].shard",
        "expected a shard number",
    );
}

#[test]
fn bad_enumerations() {
    let e = parse_str(
        FILE,
        &BASE.replace("keys = 8\n", "keys = 8\nkind = \"queue\"\n"),
    )
    .unwrap_err();
    assert_err(&e, 11, "workload.kind", "unknown value \"queue\"");
    let e = parse_str(
        FILE,
        &BASE.replace("keys = 8\n", "keys = 8\nread = \"stale\"\n"),
    )
    .unwrap_err();
    assert_err(&e, 11, "workload.read", "\"linearizable\" or \"local\"");
    assert_err(
        &refuse("[expect]\nverdict = \"maybe\"\n"),
        at(2),
        "expect.verdict",
        "unknown value",
    );
    assert_err(
        &refuse("[expect]\nchecks = [\"model\",\n  \"speed\"]\n"),
        at(3),
        "expect.checks[1]",
        "unknown value \"speed\"",
    );
    assert_err(
        &refuse("[expect]\nchecks = [\"model\", \"model\"]\n"),
        at(2),
        "expect.checks[1]",
        "twice",
    );
}

#[test]
fn missing_required_fields() {
    let e = parse_str(
        FILE,
        "[workload]\nclients = 1\nkeys = 1\nduration = \"1s\"\n",
    )
    .unwrap_err();
    assert_err(&e, 1, "cluster", "missing table [cluster]");
    let e = parse_str(FILE, "[cluster]\nnodes = 1\nshards = 1\n").unwrap_err();
    assert_err(&e, 1, "workload", "missing table [workload]");
    let e = parse_str(FILE, &BASE.replace("shards = 4\n", "")).unwrap_err();
    assert_err(&e, 3, "cluster.shards", "missing");
    let e = parse_str(FILE, &BASE.replace("nodes = 5\n", "")).unwrap_err();
    assert_err(&e, 3, "cluster.nodes", "missing");
    for key in ["clients", "keys", "duration"] {
        let src: String = BASE
            .lines()
            .filter(|l| !l.starts_with(key))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = parse_str(FILE, &src).unwrap_err();
        assert_err(&e, 8, &format!("workload.{key}"), "missing");
    }
}

#[test]
fn out_of_range_numbers() {
    let e = parse_str(FILE, &BASE.replace("nodes = 5", "nodes = 10")).unwrap_err();
    assert_err(&e, 4, "cluster.nodes", "between 1 and 9");
    let e = parse_str(FILE, &BASE.replace("nodes = 5", "nodes = 0")).unwrap_err();
    assert_err(&e, 4, "cluster.nodes", "out of range");
    let e = parse_str(FILE, &BASE.replace("shards = 4", "shards = -1")).unwrap_err();
    assert_err(&e, 5, "cluster.shards", "out of range");
    let e = parse_str(FILE, &BASE.replace("clients = 5", "clients = 0")).unwrap_err();
    assert_err(&e, 9, "workload.clients", "out of range");
    let e = parse_str(FILE, &BASE.replace("keys = 8\n", "keys = 8\nrate = 0\n")).unwrap_err();
    assert_err(&e, 11, "workload.rate", "out of range");
    let e = parse_str(
        FILE,
        &BASE.replace("latency = [\"1ms\", \"5ms\"]", "flaky = 1.5"),
    )
    .unwrap_err();
    assert_err(&e, 7, "network.flaky", "between 0 and 1");
    let e = parse_str(
        FILE,
        &BASE.replace(
            "latency = [\"1ms\", \"5ms\"]",
            "latency = [\"5ms\", \"1ms\"]",
        ),
    )
    .unwrap_err();
    assert_err(&e, 7, "network.latency", "greater than max");
    let e = parse_str(
        FILE,
        &BASE.replace("latency = [\"1ms\", \"5ms\"]", "latency = [\"5ms\"]"),
    )
    .unwrap_err();
    assert_err(&e, 7, "network.latency", "two durations");
    let e = parse_str(
        FILE,
        &BASE.replace("keys = 8\n", "keys = 8\nmix = { read = 0, write = 0 }\n"),
    )
    .unwrap_err();
    assert_err(&e, 11, "workload.mix", "every weight is 0");
    let e = parse_str(
        FILE,
        &BASE.replace("keys = 8\n", "keys = 8\nmix = { read = -1 }\n"),
    )
    .unwrap_err();
    assert_err(&e, 11, "workload.mix.read", "out of range");
}

#[test]
fn bad_durations() {
    let e = parse_str(FILE, &BASE.replace("\"20s\"", "\"20 parsecs\"")).unwrap_err();
    assert_err(&e, 11, "workload.duration", "unknown unit \"parsecs\"");
    let e = parse_str(FILE, &BASE.replace("\"20s\"", "\"20\"")).unwrap_err();
    assert_err(&e, 11, "workload.duration", "no unit");
    let e = parse_str(FILE, &BASE.replace("\"20s\"", "\"0s\"")).unwrap_err();
    assert_err(&e, 11, "workload.duration", "more than 0");
    let e = parse_str(FILE, &BASE.replace("\"20s\"", "\"1.2.3s\"")).unwrap_err();
    assert_err(&e, 11, "workload.duration", "not a duration");
    assert_err(
        &refuse("[expect]\nrecovery = \"soon\"\n"),
        at(2),
        "expect.recovery",
        "not a duration",
    );
}

#[test]
fn unknown_nodes_and_shards() {
    let e = parse_str(
        FILE,
        &BASE.replace("shards = 4\n", "shards = 4\nvoters = [\"n1\", \"n6\"]\n"),
    )
    .unwrap_err();
    assert_err(
        &e,
        6,
        "cluster.voters[1]",
        "unknown node \"n6\" (cluster has n1..n5)",
    );
    let e = parse_str(
        FILE,
        &BASE.replace("shards = 4\n", "shards = 4\nvoters = [\"n1\", \"n1\"]\n"),
    )
    .unwrap_err();
    assert_err(&e, 6, "cluster.voters[1]", "twice");
    let e = parse_str(
        FILE,
        &BASE.replace("shards = 4\n", "shards = 4\nvoters = [\"all\"]\n"),
    )
    .unwrap_err();
    assert_err(&e, 6, "cluster.voters[0]", "node names");
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [\"n2\", \"n7\"]\n"),
        at(4),
        "nemesis[0].nodes[1]",
        "unknown node \"n7\"",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = \"leader:4\"\n"),
        at(4),
        "nemesis[0].nodes",
        "shard 4 in \"leader:4\" is out of range (cluster has shards 0..3)",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash-leader\"\nshard = 4\n"),
        at(4),
        "nemesis[0].shard",
        "out of range",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [\"node1\"]\n"),
        at(4),
        "nemesis[0].nodes[0]",
        "unknown node selector \"node1\"",
    );
    let e = parse_str(
        FILE,
        "[cluster]\nnodes = 1\nshards = 1\n[workload]\nclients = 1\nkeys = 1\nduration = \"1s\"\n[[nemesis]]\nat = \"0s\"\ndo = \"crash\"\nnodes = \"n2\"\n",
    )
    .unwrap_err();
    assert_err(&e, 11, "nemesis[0].nodes", "cluster has only n1");
}

#[test]
fn selectors_in_the_wrong_place() {
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [\"rest\"]\n"),
        at(4),
        "nemesis[0].nodes[0]",
        "only allowed inside groups",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"rest\"], [\"n1\", \"rest\"]]\n"),
        at(4),
        "nemesis[0].groups[1]",
        "two groups",
    );
    assert_err(
        &refuse(
            "[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"n1\"], [\"n2\", \"n1\"]]\n",
        ),
        at(4),
        "nemesis[0].groups[1]",
        "\"n1\" is in two groups",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"n1\"]]\n"),
        at(4),
        "nemesis[0].groups",
        "at least two groups",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"hold\"\ngroups = [[\"n1\"], []]\n"),
        at(4),
        "nemesis[0].groups[1]",
        "empty list",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"add-member\"\nnode = \"all\"\nshard = 0\n"),
        at(4),
        "nemesis[0].node",
        "several nodes",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [\"n1\", \"n1\"]\n"),
        at(4),
        "nemesis[0].nodes[1]",
        "twice",
    );
}

#[test]
fn unknown_actions() {
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = \"explode\"\n"),
        at(3),
        "nemesis[0].do",
        "unknown action \"explode\"",
    );
    assert_err(
        &refuse("[[nemesis]]\nfrom = \"1s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\",\n \"meteor\"]\n"),
        at(6),
        "nemesis[0].do[1]",
        "unknown action \"meteor\"",
    );
    assert_err(
        &refuse("[[nemesis]]\nat = \"1s\"\ndo = [\"heal\"]\n"),
        at(3),
        "nemesis[0].do",
        "one action",
    );
}

#[test]
fn actions_missing_or_refusing_arguments() {
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\n");
    assert_err(&e, at(1), "nemesis[0].nodes", "\"crash\" needs `nodes`");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"heal\"\n\n[[nemesis]]\nat = \"2s\"\ndo = \"partition-oneway\"\nfrom = [\"n1\"]\n");
    assert_err(&e, at(5), "nemesis[1].to", "needs `to`");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"disk-fault\"\nnodes = \"n1\"\n");
    assert_err(&e, at(1), "nemesis[0].kind", "needs `kind`");
    let e = refuse(
        "[[nemesis]]\nat = \"1s\"\ndo = \"disk-fault\"\nnodes = \"n1\"\nkind = \"melted\"\n",
    );
    assert_err(&e, at(5), "nemesis[0].kind", "unknown value \"melted\"");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"add-member\"\nshard = 1\n");
    assert_err(&e, at(1), "nemesis[0].node", "needs `node`");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"heal\"\nnodes = [\"n1\"]\n");
    assert_err(&e, at(4), "nemesis[0].nodes", "does not take `nodes`");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"slow\"\nlatency = \"fast\"\n");
    assert_err(&e, at(4), "nemesis[0].latency", "not a duration");
    let e = refuse("[[nemesis]]\nat = \"1s\"\ndo = \"flaky\"\nrate = 2\n");
    assert_err(&e, at(4), "nemesis[0].rate", "between 0 and 1");
    // Random steps: a drawn action that lacks its argument.
    let e = refuse(
        "[[nemesis]]\nfrom = \"1s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\", \"crash\"]\n",
    );
    assert_err(&e, at(5), "nemesis[0].do[1]", "\"crash\" needs `nodes`");
    let e = refuse(
        "[[nemesis]]\nfrom = \"1s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\"]\nshard = 0\n",
    );
    assert_err(
        &e,
        at(6),
        "nemesis[0].shard",
        "no action in `do` takes `shard`",
    );
    let e = refuse(
        "[[nemesis]]\nfrom = \"1s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"partition-oneway\"]\nto = [\"n1\"]\n",
    );
    assert_err(&e, at(5), "nemesis[0].do[0]", "cannot be drawn");
    let e = refuse("[[nemesis]]\ndo = \"heal\"\n");
    assert_err(&e, at(1), "nemesis[0]", "needs `at`");
    let e = refuse("[[nemesis]]\nat = \"1s\"\n");
    assert_err(&e, at(1), "nemesis[0].do", "missing");
}

#[test]
fn steps_outside_the_run() {
    let e = refuse("[[nemesis]]\nat = \"-1s\"\ndo = \"heal\"\n");
    assert_err(&e, at(2), "nemesis[0].at", "before time 0");
    let e = refuse("[[nemesis]]\nat = \"21s\"\ndo = \"heal\"\n");
    assert_err(
        &e,
        at(2),
        "nemesis[0].at",
        "after the end of the workload (duration = 20s)",
    );
    parse_str(
        FILE,
        &format!("{BASE}[[nemesis]]\nat = \"20s\"\ndo = \"heal\"\n"),
    )
    .unwrap();
    let e = refuse(
        "[[nemesis]]\nfrom = \"-2s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\"]\n",
    );
    assert_err(&e, at(2), "nemesis[0].from", "before time 0");
    let e = refuse(
        "[[nemesis]]\nfrom = \"5s\"\nuntil = \"5s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\"]\n",
    );
    assert_err(&e, at(3), "nemesis[0].until", "must be after from");
    let e = refuse(
        "[[nemesis]]\nfrom = \"5s\"\nuntil = \"25s\"\nevery = [\"1s\", \"2s\"]\ndo = [\"heal\"]\n",
    );
    assert_err(&e, at(3), "nemesis[0].until", "after the end");
    let e = refuse(
        "[[nemesis]]\nfrom = \"5s\"\nuntil = \"8s\"\nevery = [\"0s\", \"2s\"]\ndo = [\"heal\"]\n",
    );
    assert_err(&e, at(4), "nemesis[0].every", "more than 0");
    let e = refuse("[[nemesis]]\nfrom = \"0s\"\nevery = [\"1ns\", \"2s\"]\ndo = \"heal\"\n");
    assert_err(
        &e,
        at(3),
        "nemesis[0].every",
        "could fire up to 20000000001 times",
    );
    let e = refuse("[[nemesis]]\nat = \"1s\"\nevery = [\"1s\", \"2s\"]\ndo = \"heal\"\n");
    assert_err(&e, at(3), "nemesis[0].every", "fixed step");
}

#[test]
fn inline_nemesis_arrays_have_lines_too() {
    let e = refuse("nemesis = [\n  { at = \"1s\", do = \"heal\" },\n  { at = \"2s\", do = \"crash\", nodes = [\"n8\"] },\n]\n");
    // `nemesis = [...]` after [workload] belongs to the workload table.
    assert_err(&e, at(1), "workload.nemesis", "unknown key");
    let src = format!(
        "nemesis = [\n  {{ at = \"1s\", do = \"heal\" }},\n  {{ at = \"2s\", do = \"crash\", nodes = [\"n8\"] }},\n]\n{BASE}"
    );
    let e = parse_str(FILE, &src).unwrap_err();
    assert_err(&e, 3, "nemesis[1].nodes[0]", "unknown node \"n8\"");
}

#[test]
fn unreadable_file() {
    let e = parse_file("/nonexistent/dir/x.toml").unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/dir/x.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn bad_seeds_in_run() {
    assert_err(
        &refuse("[run]\nseeds = \"5..1\"\n"),
        at(2),
        "run.seeds",
        "empty",
    );
    assert_err(
        &refuse("[run]\nseeds = \"1..=x\"\n"),
        at(2),
        "run.seeds",
        "not a seed",
    );
    assert_err(
        &refuse("[run]\nseeds = -3\n"),
        at(2),
        "run.seeds",
        "out of range",
    );
}

#[test]
fn bad_names() {
    let e = parse_str(FILE, &BASE.replace("name = \"x\"", "name = \"a/b\"")).unwrap_err();
    assert_err(&e, 1, "name", "run directory");
    let e = parse_str(FILE, &BASE.replace("name = \"x\"", "name = \"\"")).unwrap_err();
    assert_err(&e, 1, "name", "run directory");
}

/// Never panics, whatever the input: every prefix and some mangled versions
/// of a full scenario either parse or give an error with a line inside the file.
#[test]
fn never_panics_on_truncated_or_mangled_input() {
    let full = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/leader-isolation.toml"
    ))
    .unwrap_or_else(|_| format!("{BASE}[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"leader:0\"], [\"rest\"]]\n"));
    let lines = full.lines().count().max(1);
    let mut cuts: Vec<usize> = (0..=full.len())
        .filter(|&i| full.is_char_boundary(i))
        .collect();
    cuts.dedup();
    for cut in cuts {
        for src in [
            full[..cut].to_string(),
            format!("{}{}", &full[..cut], &full[(cut + 1).min(full.len())..]),
            format!("{}\"{}", &full[..cut], &full[cut..]),
            format!("{}]{}", &full[..cut], &full[cut..]),
        ] {
            if let Err(e) = parse_str(FILE, &src) {
                assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
            }
        }
    }
}

#[test]
fn engine_table() {
    let e = refuse("[engine]\ntls = \"yes\"\n");
    assert_err(&e, at(2), "engine.tls", "true or false");
    let e = refuse("[engine]\ntsl = true\n");
    assert_err(&e, at(2), "engine.tsl", "");
    let ok = parse_str(FILE, &format!("{BASE}[engine]\ntls = true\n")).expect("valid");
    assert!(ok.engine.tls);
    assert!(!parse_str(FILE, BASE).unwrap().engine.tls, "off by default");
}

#[test]
fn engine_knobs() {
    let e = refuse("[engine]\nelection_ticks = [20, 10]\n");
    assert_err(&e, at(2), "engine.election_ticks", "more than min");
    let e = refuse("[engine]\nelection_ticks = [10]\n");
    assert_err(&e, at(2), "engine.election_ticks", "two tick counts");
    let e = refuse("[engine]\nelection_ticks = [1, 5]\n");
    assert_err(&e, at(2), "engine.election_ticks[0]", "out of range");
    let e = refuse("[engine]\nheartbeat_ticks = 10\n");
    assert_err(&e, at(2), "engine.heartbeat_ticks", "shorter than");
    let e = refuse("[engine]\nelection_ticks = [2, 9]\n");
    assert_err(&e, at(2), "engine.election_ticks", "shorter than");
    let e = refuse("[engine]\npre_vote = 1\n");
    assert_err(&e, at(2), "engine.pre_vote", "true or false");
    // Pre-vote alone can lose liveness (what tumult explore found).
    let e = refuse("[engine]\ncheck_quorum = false\n");
    assert_err(
        &e,
        at(2),
        "engine.check_quorum",
        "needs check_quorum = true",
    );
    let e = refuse("[engine]\npre_vote = true\ncheck_quorum = false\n");
    assert_err(&e, at(2), "engine.pre_vote", "needs check_quorum = true");
    let e = refuse("[engine]\nmax_append_entries = 0\n");
    assert_err(&e, at(2), "engine.max_append_entries", "out of range");
    let ok = parse_str(
        FILE,
        &format!("{BASE}[engine]\nelection_ticks = [5, 9]\nheartbeat_ticks = 1\nmax_append_entries = 4\npre_vote = false\ncheck_quorum = false\n"),
    )
    .expect("valid");
    assert_eq!(ok.engine.election_ticks, Some((5, 9)));
    assert_eq!(ok.engine.heartbeat_ticks, Some(1));
    assert_eq!(ok.engine.max_append_entries, Some(4));
    assert_eq!(ok.engine.pre_vote, Some(false));
    assert_eq!(ok.engine.check_quorum, Some(false));
    let default = parse_str(FILE, BASE).unwrap().engine;
    assert_eq!(default.election_ticks, None, "the engine's own default");
}

#[test]
fn faults_table() {
    let e = refuse("[faults]\nlate-snapshots = 0.5\n");
    assert_err(&e, at(2), "faults.late-snapshots", "late-snapshot");
    let e = refuse("[faults]\napply-lag = 1.5\n");
    assert_err(&e, at(2), "faults.apply-lag", "between 0 and 1");
    let e = refuse("[faults]\napply-lag = \"often\"\n");
    assert_err(&e, at(2), "faults.apply-lag", "a number");
    let ok = parse_str(
        FILE,
        &format!("{BASE}[faults]\nlate-snapshot = 1.0\nbatch-delay = 0.25\nextra-tick = 0\n"),
    )
    .expect("valid");
    use tumult_engine::buggify::Site;
    assert_eq!(
        ok.faults.fire.into_iter().collect::<Vec<_>>(),
        vec![(Site::LateSnapshot, 1.0), (Site::BatchDelay, 0.25)],
        "a chance of 0 is off"
    );
    assert!(parse_str(FILE, BASE).unwrap().faults.fire.is_empty());
}

#[test]
fn expect_liveness() {
    let e = refuse("[expect]\nliveness = \"most\"\n");
    assert_err(&e, at(2), "expect.liveness", "\"core\"");
    let e = refuse("[expect]\nliveness = 3\n");
    assert_err(&e, at(2), "expect.liveness", "expected a string");
    use tumult_harness::scenario::Liveness;
    let core = parse_str(FILE, &format!("{BASE}[expect]\nliveness = \"core\"\n")).expect("valid");
    assert_eq!(core.expect.liveness, Liveness::Core);
    assert_eq!(
        parse_str(FILE, BASE).unwrap().expect.liveness,
        Liveness::All
    );
}

#[test]
fn an_etcd_system_refuses_what_only_the_engine_has() {
    // BASE has 4 shards: etcd is one Raft group.
    let e = refuse("[system]\nkind = \"etcd\"\n");
    assert_err(&e, at(2), "system.kind", "shards must be 1");
    let e = refuse("[system]\nkind = \"zookeeper\"\n");
    assert_err(&e, at(2), "system.kind", "zookeeper");
    let one_shard = BASE.replace("shards = 4", "shards = 1");
    let etcd = |extra: &str| {
        parse_str(
            FILE,
            &format!("{one_shard}[system]\nkind = \"etcd\"\n{extra}"),
        )
        .unwrap_err()
    };
    let e = etcd("[[nemesis]]\nat = \"1s\"\ndo = \"transfer-leader\"\nshard = 0\n");
    assert_err(
        &e,
        at(2),
        "system.kind",
        "`transfer-leader` is the engine's",
    );
    let e = etcd("[engine]\npre_vote = true\n");
    assert_err(&e, at(2), "system.kind", "does not take [engine]");
    let ok = format!(
        "{one_shard}[system]\nkind = \"etcd\"\n[[nemesis]]\nat = \"1s\"\ndo = \"pause\"\nnodes = [\"leader:0\"]\n"
    );
    let s = parse_str(FILE, &ok).unwrap();
    assert_eq!(s.system, tumult_harness::scenario::System::Etcd);
}
