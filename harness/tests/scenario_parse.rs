//! Valid scenario files: defaults, every field, every action and selector.

use std::time::Duration;

use tumult_harness::scenario::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MINIMAL: &str = r#"
[cluster]
nodes = 3
shards = 2

[workload]
clients = 4
keys = 8
duration = "15s"
"#;

#[test]
fn defaults_are_spec_defaults() {
    let s = parse_str("scenarios/minimal-one.toml", MINIMAL).unwrap();
    assert_eq!(s.name, "minimal-one");
    assert_eq!(s.description, "");
    assert_eq!(s.file, "scenarios/minimal-one.toml");
    assert_eq!(s.source, MINIMAL);
    assert_eq!(s.cluster.nodes, 3);
    assert_eq!(s.cluster.shards, 2);
    assert_eq!(s.cluster.voters, vec![1, 2, 3]);
    assert_eq!(s.cluster.node_names(), vec!["n1", "n2", "n3"]);
    assert_eq!(s.cluster.snapshot_every, 1000);
    assert_eq!(s.cluster.fsync, DurationRange::new(ms(0), ms(1)));
    assert_eq!(s.network.latency, DurationRange::new(ms(1), ms(5)));
    assert_eq!(s.network.flaky, 0.0);
    assert_eq!(s.workload.kind, WorkloadKind::Register);
    assert_eq!(s.workload.clients, 4);
    assert_eq!(s.workload.keys, 8);
    assert_eq!(
        s.workload.mix,
        Mix {
            read: 1,
            write: 1,
            cas: 1,
            append: 0
        }
    );
    assert_eq!(s.workload.rate, 100.0);
    assert_eq!(s.workload.duration, Duration::from_secs(15));
    assert_eq!(s.workload.timeout, Duration::from_secs(1));
    assert_eq!(s.workload.read, ReadMode::Linearizable);
    assert!(s.nemesis.is_empty());
    assert_eq!(s.expect.verdict, Expected::Pass);
    assert_eq!(
        s.expect.checks,
        vec![
            CheckName::Linearizable,
            CheckName::Model,
            CheckName::Recovery
        ]
    );
    assert_eq!(s.expect.recovery, Duration::from_secs(10));
    assert_eq!(s.run.seeds, vec![1, 2, 3, 4, 5]);
    assert_eq!(s.run.seeds_text, "1..=5");
    assert!(expand_schedule(&s, 1).is_empty());
}

#[test]
fn list_append_default_mix() {
    let src = MINIMAL.replace("clients = 4", "kind = \"list-append\"\nclients = 4");
    let s = parse_str("la.toml", &src).unwrap();
    assert_eq!(s.workload.kind, WorkloadKind::ListAppend);
    assert_eq!(
        s.workload.mix,
        Mix {
            read: 1,
            write: 0,
            cas: 0,
            append: 1
        }
    );
}

/// The example of SPEC.md §2, verbatim.
const SPEC_EXAMPLE: &str = r#"
name = "leader-isolation"          # default: file stem
description = "Cut the leader of shard 0 away while clients write"

[cluster]
nodes = 5                          # 1..=9, named n1..nN
shards = 4                         # raft groups; shard 0..S-1 on every voter
voters = ["n1", "n2", "n3"]        # initial members, default all nodes; the rest are spares
snapshot_every = 1000              # the test app snapshots every N applied entries per shard
fsync = ["0ms", "2ms"]             # simulated time a sync takes, uniform; writes are lost
                                   # if the node crashes before the sync completes

[network]
latency = ["1ms", "10ms"]          # one-way delay between min and max
flaky = 0.0                        # chance per link per second that it fails for a short while

[workload]
kind = "register"                  # or "list-append": append(k, v) and read(k) -> list
clients = 5
keys = 8                           # k0..k7, placed on shards by a stable hash
mix = { read = 2, write = 2, cas = 1 }   # weights (list-append: read, append)
rate = 200                         # operations per simulated second, all clients together
duration = "20s"                   # simulated time that clients issue operations
timeout = "1s"                     # no reply by then: the op is recorded as info (indeterminate)
read = "linearizable"              # or "local" (reads served by any replica, stale allowed)

[[nemesis]]                        # fixed step
at = "3s"
do = "partition"
groups = [["leader:0"], ["rest"]]

[[nemesis]]
at = "8s"
do = "heal"

[[nemesis]]                        # random schedule drawn from the seed
from = "10s"
until = "18s"
every = ["1s", "3s"]
do = ["partition-halves", "crash-minority", "restart-all", "heal", "transfer-leader"]
shard = 0                          # passed to each drawn action that takes it

[expect]
verdict = "pass"                   # or "fail": every seed must be caught by a listed check
checks = ["linearizable", "model", "recovery"]
recovery = "5s"

[run]
seeds = "1..=20"
"#;

#[test]
fn spec_example_parses_with_every_field() {
    let s = parse_str("spec.toml", SPEC_EXAMPLE).unwrap();
    assert_eq!(s.name, "leader-isolation");
    assert_eq!(
        s.description,
        "Cut the leader of shard 0 away while clients write"
    );
    assert_eq!(s.cluster.voters, vec![1, 2, 3]);
    assert_eq!(s.cluster.fsync, DurationRange::new(ms(0), ms(2)));
    assert_eq!(s.network.latency, DurationRange::new(ms(1), ms(10)));
    assert_eq!(
        s.workload.mix,
        Mix {
            read: 2,
            write: 2,
            cas: 1,
            append: 0
        }
    );
    assert_eq!(s.workload.rate, 200.0);
    assert_eq!(s.expect.recovery, Duration::from_secs(5));
    assert_eq!(s.run.seeds, (1..=20).collect::<Vec<u64>>());
    assert_eq!(s.nemesis.len(), 3);
    assert_eq!(s.nemesis[0].line, 27);
    assert_eq!(
        s.nemesis[0].kind,
        StepKind::Fixed {
            at: Duration::from_secs(3),
            action: Action::Partition {
                groups: vec![vec![Selector::Leader(0)], vec![Selector::Rest]]
            }
        }
    );
    assert_eq!(
        s.nemesis[1].kind,
        StepKind::Fixed {
            at: Duration::from_secs(8),
            action: Action::Heal
        }
    );
    assert_eq!(
        s.nemesis[2].kind,
        StepKind::Random {
            from: Duration::from_secs(10),
            until: Duration::from_secs(18),
            every: DurationRange::new(Duration::from_secs(1), Duration::from_secs(3)),
            actions: vec![
                Action::PartitionHalves,
                Action::CrashMinority,
                Action::RestartAll,
                Action::Heal,
                Action::TransferLeader { shard: 0, to: None },
            ]
        }
    );
}

fn with_steps(steps: &str) -> Scenario {
    let src = format!("{MINIMAL}\n{steps}");
    match parse_str("steps.toml", &src) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn fixed(s: &Scenario, i: usize) -> &Action {
    match &s.nemesis[i].kind {
        StepKind::Fixed { action, .. } => action,
        other => panic!("not fixed: {other:?}"),
    }
}

#[test]
fn every_action_with_its_arguments() {
    use Selector::*;
    let s = with_steps(
        r#"
[[nemesis]]
at = "1s"
do = "crash"
nodes = "n1"
[[nemesis]]
at = "1s"
do = "restart"
nodes = ["crashed"]
[[nemesis]]
at = "1s"
do = "bounce"
nodes = ["random-minority"]
[[nemesis]]
at = "1s"
do = "partition"
groups = [["n1", "n2"], "rest"]
[[nemesis]]
at = "1s"
do = "partition-oneway"
from = ["leader:1"]
to = "rest"
[[nemesis]]
at = "1s"
do = "partition-halves"
[[nemesis]]
at = "1s"
do = "partition-majorities-ring"
[[nemesis]]
at = "1s"
do = "isolate"
nodes = ["followers:1"]
[[nemesis]]
at = "1s"
do = "heal"
[[nemesis]]
at = "1s"
do = "hold"
groups = [["random"], ["rest"]]
[[nemesis]]
at = "1s"
do = "release"
groups = [["random"], ["rest"]]
[[nemesis]]
at = "1s"
do = "slow"
latency = ["10ms", "50ms"]
[[nemesis]]
at = "1s"
do = "slow"
latency = "7ms"
[[nemesis]]
at = "1s"
do = "flaky"
rate = 0.25
[[nemesis]]
at = "1s"
do = "crash-minority"
[[nemesis]]
at = "1s"
do = "crash-leader"
shard = 1
[[nemesis]]
at = "1s"
do = "restart-all"
[[nemesis]]
at = "1s"
do = "add-member"
node = "n3"
shard = 0
[[nemesis]]
at = "1s"
do = "remove-member"
node = "leader:0"
shard = 0
[[nemesis]]
at = "1s"
do = "transfer-leader"
shard = 1
to = "followers:1"
[[nemesis]]
at = "1s"
do = "disk-fault"
nodes = ["random-majority", "all"]
kind = "torn-writes"
[[nemesis]]
at = "1s"
do = "disk-fault"
nodes = "n2"
kind = "io-errors"
[[nemesis]]
at = "1s"
do = "disk-fault"
nodes = "n2"
kind = "full"
[[nemesis]]
at = "1s"
do = "pause"
nodes = ["leader:0", "n3"]
[[nemesis]]
at = "2s"
do = "resume"
nodes = "all"
"#,
    );
    let expected = vec![
        Action::Crash {
            nodes: vec![Node(1)],
        },
        Action::Restart {
            nodes: vec![Crashed],
        },
        Action::Bounce {
            nodes: vec![RandomMinority],
        },
        Action::Partition {
            groups: vec![vec![Node(1), Node(2)], vec![Rest]],
        },
        Action::PartitionOneway {
            from: vec![Leader(1)],
            to: vec![Rest],
        },
        Action::PartitionHalves,
        Action::PartitionMajoritiesRing,
        Action::Isolate {
            nodes: vec![Followers(1)],
        },
        Action::Heal,
        Action::Hold {
            groups: vec![vec![Random], vec![Rest]],
        },
        Action::Release {
            groups: vec![vec![Random], vec![Rest]],
        },
        Action::Slow {
            latency: DurationRange::new(ms(10), ms(50)),
        },
        Action::Slow {
            latency: DurationRange::new(ms(7), ms(7)),
        },
        Action::Flaky { rate: 0.25 },
        Action::CrashMinority,
        Action::CrashLeader { shard: 1 },
        Action::RestartAll,
        Action::AddMember {
            node: Node(3),
            shard: 0,
        },
        Action::RemoveMember {
            node: Leader(0),
            shard: 0,
        },
        Action::TransferLeader {
            shard: 1,
            to: Some(Followers(1)),
        },
        Action::DiskFault {
            nodes: vec![RandomMajority, All],
            kind: DiskFaultKind::TornWrites,
        },
        Action::DiskFault {
            nodes: vec![Node(2)],
            kind: DiskFaultKind::IoErrors,
        },
        Action::DiskFault {
            nodes: vec![Node(2)],
            kind: DiskFaultKind::Full,
        },
        Action::Pause {
            nodes: vec![Leader(0), Node(3)],
        },
        Action::Resume { nodes: vec![All] },
    ];
    let got: Vec<Action> = (0..s.nemesis.len()).map(|i| fixed(&s, i).clone()).collect();
    assert_eq!(got, expected);
    let kinds: std::collections::BTreeSet<ActionKind> = got.iter().map(Action::kind).collect();
    assert_eq!(kinds.len(), ActionKind::ALL.len());
    for (i, step) in s.nemesis.iter().enumerate() {
        assert_eq!(step.index, i);
    }
}

#[test]
fn random_step_passes_arguments_to_the_actions_that_take_them() {
    let s = with_steps(
        r#"
[[nemesis]]
from = "2s"
every = ["500ms", "1s"]
do = ["crash", "restart", "crash-leader", "transfer-leader", "heal", "crash"]
nodes = ["random"]
shard = 1
"#,
    );
    let StepKind::Random {
        from,
        until,
        every,
        actions,
    } = &s.nemesis[0].kind
    else {
        panic!()
    };
    assert_eq!(*from, Duration::from_secs(2));
    assert_eq!(
        *until,
        Duration::from_secs(15),
        "until defaults to duration"
    );
    assert_eq!(*every, DurationRange::new(ms(500), ms(1000)));
    assert_eq!(
        actions,
        &vec![
            Action::Crash {
                nodes: vec![Selector::Random]
            },
            Action::Restart {
                nodes: vec![Selector::Random]
            },
            Action::CrashLeader { shard: 1 },
            Action::TransferLeader { shard: 1, to: None },
            Action::Heal,
            Action::Crash {
                nodes: vec![Selector::Random]
            },
        ]
    );
}

#[test]
fn seeds_forms_in_run() {
    let seeds = |v: &str| {
        parse_str("s.toml", &format!("{MINIMAL}\n[run]\nseeds = {v}\n"))
            .unwrap()
            .run
            .seeds
    };
    assert_eq!(seeds("\"1..=3\""), vec![1, 2, 3]);
    assert_eq!(seeds("\"1..3\""), vec![1, 2]);
    assert_eq!(seeds("\"9,1,5\""), vec![1, 5, 9]);
    assert_eq!(seeds("7"), vec![7]);
    assert_eq!(seeds("[3, 1, 3]"), vec![1, 3]);
}

#[test]
fn dotted_keys_and_inline_tables_are_the_same_file() {
    let src = r#"
cluster = { nodes = 2, shards = 1 }
workload.clients = 1
workload.keys = 1
workload.duration = "1s"
"#;
    let s = parse_str("dotted.toml", src).unwrap();
    assert_eq!(s.cluster.nodes, 2);
    assert_eq!(s.workload.duration, Duration::from_secs(1));
}

#[test]
fn name_defaults_to_file_stem() {
    assert_eq!(parse_str("a/b/c.d.toml", MINIMAL).unwrap().name, "c.d");
    assert_eq!(parse_str("", MINIMAL).unwrap().name, "scenario");
}

#[test]
fn parse_file_reads_from_disk() {
    let dir = std::env::temp_dir().join(format!("tumult-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("from-disk.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let s = parse_file(&path).unwrap();
    assert_eq!(s.name, "from-disk");
    std::fs::write(&path, format!("{MINIMAL}bogus = 1\n")).unwrap();
    let e = parse_file(&path).unwrap_err();
    assert_eq!(e.file, path.display().to_string());
    assert_eq!(e.line, 10);
    assert_eq!(e.field, "workload.bogus");
    let _ = std::fs::remove_dir_all(&dir);
}
