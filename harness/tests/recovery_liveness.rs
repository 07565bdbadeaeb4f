//! The recovery phase (SPEC.md §2): with `liveness = "core"` only a majority
//! core comes back and recovery is judged on it; a recovery that fails says
//! why, per shard.

use tumult_harness::run::{run_seed, CheckName, Outcome, RunOptions};
use tumult_harness::scenario::parse_str;

/// Two of five nodes crashed and one cut off at the end of the chaos.
const CORE: &str = r#"
name = "core"
[cluster]
nodes = 5
shards = 2
[workload]
clients = 4
keys = 4
rate = 80
duration = "4s"
[[nemesis]]
at = "1s"
do = "crash"
nodes = ["n1", "n2"]
[[nemesis]]
at = "3s"
do = "isolate"
nodes = ["n3"]
[expect]
liveness = "core"
"#;

#[test]
fn a_core_recovers_while_the_others_stay_down_and_cut_off() {
    let s = parse_str("core.toml", CORE).expect("valid");
    for seed in 1..=3 {
        let r = run_seed(&s, seed, &RunOptions::in_memory());
        let history = String::from_utf8(r.history.clone()).expect("utf-8");
        let heal = history
            .lines()
            .find(|l| l.contains("\"final\":\"core\""))
            .expect("a core heal is recorded");
        let v: serde_json::Value = serde_json::from_str(heal).expect("json");
        let core: Vec<&str> = v["value"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n.as_str().expect("name"))
            .collect();
        assert!(core.len() >= 3, "a majority of five: {core:?}");
        // Nodes outside the core that were down stay down: no Start after the heal.
        let heal_index = v["index"].as_u64().expect("index");
        for n in ["n1", "n2"].iter().filter(|n| !core.contains(n)) {
            let restarted = history.lines().any(|l| {
                let e: serde_json::Value = serde_json::from_str(l).expect("json");
                e["index"].as_u64() > Some(heal_index) && e["node"] == *n && e["event"] == "start"
            });
            assert!(
                !restarted,
                "seed {seed}: {n} is outside the core {core:?} and stays down"
            );
        }
        let recovery = &r.verdict.checks[&CheckName::Recovery];
        assert_eq!(
            recovery.result,
            Outcome::Pass,
            "seed {seed}: {}",
            recovery.detail
        );
        assert!(r.verdict.met, "seed {seed}: {}", r.verdict.summary_line());
    }
}

#[test]
fn a_failed_recovery_is_classified_per_shard() {
    // Every node crashes just before the heal; 100 ms is less than any
    // election timeout, so no shard can have a leader when it is judged.
    let text = r#"
name = "no-leader"
[cluster]
nodes = 3
shards = 2
[workload]
clients = 2
keys = 2
rate = 50
duration = "3s"
[[nemesis]]
at = "2900ms"
do = "crash"
nodes = ["all"]
[expect]
recovery = "100ms"
"#;
    let s = parse_str("no-leader.toml", text).expect("valid");
    let r = run_seed(&s, 1, &RunOptions::in_memory());
    let recovery = &r.verdict.checks[&CheckName::Recovery];
    assert_eq!(recovery.result, Outcome::Fail);
    for shard in 0..2 {
        let want = format!(
            "shard {shard}: no leader (voters n1,n2,n3; up and connected to the core: n1,n2,n3)"
        );
        assert!(recovery.detail.contains(&want), "{}", recovery.detail);
    }
    assert!(
        recovery.detail.contains("clients with no ok operation"),
        "{}",
        recovery.detail
    );
}
