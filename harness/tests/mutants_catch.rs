//! The testbed catches a deliberate engine bug through the library API
//! (feature `mutants`): a leader that does not step down on a higher term
//! meets the new leader's Append after a leadership transfer.
#![cfg(feature = "mutants")]

use tumult_harness::mutants::{catching_check, hunt, names};
use tumult_harness::run::{run_seed, RunOptions};
use tumult_harness::scenario::parse_str;

const SCENARIO: &str = r#"
[cluster]
nodes = 3
shards = 1

[workload]
clients = 2
keys = 2
rate = 50
duration = "4s"

[[nemesis]]
at = "1s"
do = "transfer-leader"
shard = 0
"#;

#[test]
fn every_mutant_has_a_name() {
    assert_eq!(names().len(), 16);
}

#[test]
fn a_leader_ignoring_a_higher_term_is_caught() {
    let s = parse_str("mutant-transfer.toml", SCENARIO).expect("valid scenario");
    // Without the mutant the scenario passes ...
    let clean = run_seed(&s, 1, &RunOptions::in_memory());
    assert!(clean.met_expectation(), "{}", clean.summary());
    assert_eq!(clean.verdict.mutant, None);
    // ... with it, a run catches it.
    let runs: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|seed| (s.clone(), seed))
        .collect();
    let f = hunt(
        "leader-ignores-higher-term",
        &runs,
        &RunOptions::in_memory(),
    );
    assert!(f.caught(), "escaped: {f:?}");
    let seed = f.seed.expect("a seed");
    let opts = RunOptions {
        mutant: Some("leader-ignores-higher-term".into()),
        ..RunOptions::in_memory()
    };
    let r = run_seed(&s, seed, &opts);
    assert_eq!(
        r.verdict.mutant.as_deref(),
        Some("leader-ignores-higher-term")
    );
    assert_eq!(catching_check(&r.verdict).map(|(c, _)| c), f.check);
}

/// `tumult explore` finds a planted bug by itself, from scratch: a vote
/// that is not made durable shows up as a durability violation once a
/// drawn scenario crashes a node that voted.
#[test]
fn explore_finds_a_planted_bug_by_itself() {
    use tumult_harness::explore::{explore, ExploreOptions};
    let opts = ExploreOptions {
        mutant: Some("vote-not-persisted".into()),
        shrink: false,
        jobs: 2,
        ..ExploreOptions::runs(32, 1)
    };
    let report = explore(&opts).unwrap();
    let f = report.finding.expect("explore finds vote-not-persisted");
    assert_eq!(f.check.name(), "model", "{}", f.summary);
    assert!(f.summary.contains("Durability"), "{}", f.summary);
}
