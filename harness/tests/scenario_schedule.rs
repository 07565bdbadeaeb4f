//! Random nemesis schedules: deterministic per seed, different across seeds,
//! inside their window, ordered by time.

use std::time::Duration;

use tumult_harness::scenario::*;

const SRC: &str = r#"
[cluster]
nodes = 5
shards = 4

[workload]
clients = 5
keys = 8
duration = "30s"

[[nemesis]]
at = "25s"
do = "heal"

[[nemesis]]
at = "1s"
do = "crash"
nodes = ["leader:0"]

[[nemesis]]
from = "2s"
until = "20s"
every = ["200ms", "1s"]
do = ["partition-halves", "crash-minority", "restart-all", "heal", "transfer-leader", "bounce"]
shard = 2
nodes = ["random"]

[[nemesis]]
from = "10s"
until = "28s"
every = ["1s", "2s"]
do = ["slow", "flaky"]
latency = ["5ms", "20ms"]
rate = 0.1
"#;

fn scenario() -> Scenario {
    parse_str("sched.toml", SRC).unwrap()
}

#[test]
fn same_seed_same_schedule() {
    let s = scenario();
    for seed in [0, 1, 2, 99, u64::MAX] {
        assert_eq!(expand_schedule(&s, seed), expand_schedule(&s, seed));
        // Parsing again gives the same schedule too.
        assert_eq!(
            expand_schedule(&s, seed),
            expand_schedule(&scenario(), seed)
        );
    }
}

#[test]
fn different_seeds_differ() {
    let s = scenario();
    let schedules: Vec<_> = (1..=20).map(|seed| expand_schedule(&s, seed)).collect();
    for i in 0..schedules.len() {
        for j in i + 1..schedules.len() {
            assert_ne!(schedules[i], schedules[j], "seeds {} and {}", i + 1, j + 1);
        }
    }
}

#[test]
fn steps_are_ordered_and_inside_their_windows() {
    let s = scenario();
    for seed in 1..=50 {
        let steps = expand_schedule(&s, seed);
        assert!(steps.windows(2).all(|w| w[0].at <= w[1].at), "seed {seed}");
        let fixed: Vec<_> = steps.iter().filter(|x| x.step < 2).collect();
        assert_eq!(fixed.len(), 2);
        assert_eq!(fixed[0].at, Duration::from_secs(1));
        assert_eq!(fixed[1].at, Duration::from_secs(25));
        assert_eq!(fixed[1].action, Action::Heal);
        let r1: Vec<_> = steps.iter().filter(|x| x.step == 2).collect();
        let r2: Vec<_> = steps.iter().filter(|x| x.step == 3).collect();
        // 18 s window, gaps of 0.2..1 s: between 18 and 91 firings.
        assert!((18..=91).contains(&r1.len()), "{}", r1.len());
        assert!((9..=18).contains(&r2.len()), "{}", r2.len());
        assert_eq!(r1[0].at, Duration::from_secs(2), "first firing at `from`");
        for w in r1.windows(2) {
            let gap = w[1].at - w[0].at;
            assert!(gap >= Duration::from_millis(200) && gap <= Duration::from_secs(1));
        }
        assert!(r1.iter().all(|x| x.at < Duration::from_secs(20)));
        assert!(r2
            .iter()
            .all(|x| x.at >= Duration::from_secs(10) && x.at < Duration::from_secs(28)));
        for x in &r1 {
            match &x.action {
                Action::TransferLeader { shard, to } => assert_eq!((*shard, *to), (2, None)),
                Action::Bounce { nodes } => assert_eq!(nodes, &vec![Selector::Random]),
                Action::PartitionHalves
                | Action::CrashMinority
                | Action::RestartAll
                | Action::Heal => {}
                other => panic!("not in the list: {other:?}"),
            }
        }
        for x in &r2 {
            match x.action {
                Action::Slow { latency } => assert_eq!(
                    latency,
                    DurationRange::new(Duration::from_millis(5), Duration::from_millis(20))
                ),
                Action::Flaky { rate } => assert_eq!(rate, 0.1),
                ref other => panic!("not in the list: {other:?}"),
            }
        }
    }
}

#[test]
fn draws_use_every_action() {
    let s = scenario();
    let mut used = std::collections::BTreeSet::new();
    for seed in 1..=10 {
        for x in expand_schedule(&s, seed) {
            if x.step == 2 {
                used.insert(x.action.kind());
            }
        }
    }
    assert_eq!(used.len(), 6, "{used:?}");
}

#[test]
fn adding_a_step_does_not_change_the_others_draws() {
    let s = scenario();
    let more = parse_str(
        "sched.toml",
        &format!("{SRC}\n[[nemesis]]\nfrom = \"0s\"\nuntil = \"30s\"\nevery = [\"3s\", \"4s\"]\ndo = \"crash-minority\"\n"),
    )
    .unwrap();
    let old: Vec<_> = expand_schedule(&s, 7);
    let new: Vec<_> = expand_schedule(&more, 7)
        .into_iter()
        .filter(|x| x.step < 4)
        .collect();
    assert_eq!(old, new);
}
