//! The same scenario, seed and binary give a byte-identical history; the
//! library API runs a scenario from a user's own test.

use tumult_harness::run::{run_seed, CheckName, Outcome, RunOptions};
use tumult_harness::scenario::parse_str;

const SCENARIO: &str = r#"
name = "determinism"
[cluster]
nodes = 3
shards = 2
[workload]
kind = "register"
clients = 3
keys = 4
rate = 80
duration = "4s"
[[nemesis]]
at = "1s"
do = "partition"
groups = [["leader:0"], ["rest"]]
[[nemesis]]
at = "2s"
do = "bounce"
nodes = ["random"]
[[nemesis]]
at = "3s"
do = "heal"
[expect]
recovery = "10s"
"#;

#[test]
fn same_seed_gives_a_byte_identical_history() {
    let s = parse_str("determinism.toml", SCENARIO).expect("valid");
    let a = run_seed(&s, 3, &RunOptions::in_memory());
    let b = run_seed(&s, 3, &RunOptions::in_memory());
    assert!(a.history.len() > 1000, "the run did something");
    assert_eq!(a.verdict.history_sha256, b.verdict.history_sha256);
    assert!(a.history == b.history, "histories differ byte for byte");
    let c = run_seed(&s, 4, &RunOptions::in_memory());
    assert_ne!(
        a.verdict.history_sha256, c.verdict.history_sha256,
        "another seed, another run"
    );
}

#[test]
fn a_user_can_run_a_scenario_from_their_own_test_and_assert_on_it() {
    let s = parse_str("determinism.toml", SCENARIO).expect("valid");
    let result = run_seed(&s, 1, &RunOptions::in_memory());
    assert!(result.met_expectation(), "{}", result.summary());
    assert_eq!(
        result.verdict.checks[&CheckName::Linearizable].result,
        Outcome::Pass
    );
    assert_eq!(
        result.verdict.checks[&CheckName::Recovery].result,
        Outcome::Pass
    );
    assert!(result.verdict.counts.ok > 100);
}

/// Runs in one process share tokio's process-wide task ids; a history must
/// not depend on them, nor on other simulations running on other threads.
#[test]
fn concurrent_runs_in_one_process_give_the_same_history() {
    let s = parse_str("determinism.toml", SCENARIO).expect("valid");
    let reference = run_seed(&s, 5, &RunOptions::in_memory()).history;
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || run_seed(&s, 5, &RunOptions::in_memory()).history)
        })
        .collect();
    for h in handles {
        assert!(
            h.join().expect("run") == reference,
            "a concurrent run differs"
        );
    }
}
