//! Trace conformance on small synthetic traces: a clean run passes, and each
//! broken rule is reported at the event that broke it.

use serde_json::{json, Value};
use tumult_models::conformance::{check_trace, Conformance, ConformanceError, TraceRecord};
use tumult_models::invariants::Rule;

fn trace(events: &[(&str, Value)]) -> Vec<TraceRecord> {
    events
        .iter()
        .enumerate()
        .map(|(i, (node, ev))| TraceRecord {
            node: node.to_string(),
            shard: 0,
            event: ev.clone(),
            time: i as u64 * 1000,
            index: i as u64,
        })
        .collect()
}

/// n1 is elected in term 1, replicates its no-op and a command to n2 and n3,
/// commits, applies, compacts; n2 then takes over in term 2.
fn clean() -> Vec<(&'static str, Value)> {
    vec![
        ("n1", json!({"event": "start-pre-vote", "term": 0})),
        (
            "n2",
            json!({"event": "pre-vote-granted", "term": 1, "candidate": 1}),
        ),
        ("n1", json!({"event": "become-candidate", "term": 1})),
        ("n2", json!({"event": "term-change", "term": 1})),
        (
            "n2",
            json!({"event": "vote-granted", "term": 1, "candidate": 1}),
        ),
        ("n1", json!({"event": "become-leader", "term": 1})),
        (
            "n1",
            json!({"event": "append", "term": 1, "from": 1, "to": 2, "terms": [1, 1]}),
        ),
        (
            "n2",
            json!({"event": "become-follower", "term": 1, "leader": 1}),
        ),
        (
            "n2",
            json!({"event": "append", "term": 1, "from": 1, "to": 2, "terms": [1, 1]}),
        ),
        ("n3", json!({"event": "term-change", "term": 1})),
        (
            "n3",
            json!({"event": "append", "term": 1, "from": 1, "to": 1, "terms": [1]}),
        ),
        (
            "n1",
            json!({"event": "commit", "term": 1, "index": 2, "entry_term": 1}),
        ),
        ("n1", json!({"event": "apply", "index": 1, "entry_term": 1})),
        ("n1", json!({"event": "apply", "index": 2, "entry_term": 1})),
        (
            "n2",
            json!({"event": "commit", "term": 1, "index": 2, "entry_term": 1}),
        ),
        ("n2", json!({"event": "apply", "index": 1, "entry_term": 1})),
        ("n2", json!({"event": "apply", "index": 2, "entry_term": 1})),
        (
            "n1",
            json!({"event": "compact", "index": 2, "entry_term": 1}),
        ),
        ("n1", json!({"event": "read-index", "term": 1, "index": 2})),
        (
            "n1",
            json!({"event": "transfer-leader", "term": 1, "to": 2}),
        ),
        ("n2", json!({"event": "become-candidate", "term": 2})),
        (
            "n3",
            json!({"event": "vote-granted", "term": 2, "candidate": 2}),
        ),
        ("n2", json!({"event": "become-leader", "term": 2})),
        (
            "n1",
            json!({"event": "become-follower", "term": 2, "leader": 2}),
        ),
        (
            "n2",
            json!({"event": "append", "term": 2, "from": 3, "to": 3, "terms": [2]}),
        ),
        (
            "n3",
            json!({"event": "install-snapshot", "term": 2, "index": 2, "entry_term": 1}),
        ),
        (
            "n3",
            json!({"event": "append", "term": 2, "from": 3, "to": 3, "terms": [2]}),
        ),
        (
            "n2",
            json!({"event": "commit", "term": 2, "index": 3, "entry_term": 2}),
        ),
        (
            "n2",
            json!({"event": "membership", "index": 3, "voters": [1, 2, 3]}),
        ),
    ]
}

fn violation(events: Vec<(&'static str, Value)>) -> (u64, Rule, String) {
    match check_trace(trace(&events)) {
        Ok(s) => panic!("no violation found in {} events", s.events),
        Err(ConformanceError::Violation(v)) => {
            println!("{v}");
            (v.index, v.rule, v.node)
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_clean_trace_passes() {
    let summary = check_trace(trace(&clean())).unwrap();
    assert_eq!(summary.events, clean().len() as u64);
    assert_eq!(summary.committed[&0], 3);
    assert_eq!(summary.nodes, 3);
}

#[test]
fn two_leaders_in_a_term_are_caught() {
    let mut t = clean();
    t.truncate(6);
    t.push(("n3", json!({"event": "become-candidate", "term": 1})));
    t.push(("n3", json!({"event": "become-leader", "term": 1})));
    assert_eq!(violation(t), (7, Rule::ElectionSafety, "n3".into()));
}

#[test]
fn a_double_vote_is_caught() {
    let mut t = clean();
    t.truncate(5);
    t.push((
        "n2",
        json!({"event": "vote-granted", "term": 1, "candidate": 3}),
    ));
    assert_eq!(violation(t), (5, Rule::OneVotePerTerm, "n2".into()));
}

#[test]
fn a_truncation_at_or_below_commit_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push(("n2", json!({"event": "truncate", "term": 1, "from": 2})));
    assert_eq!(violation(t), (15, Rule::TruncateCommitted, "n2".into()));
}

#[test]
fn an_overwrite_of_committed_entries_without_truncate_event_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push((
        "n2",
        json!({"event": "append", "term": 1, "from": 2, "to": 2, "terms": [2]}),
    ));
    assert_eq!(violation(t), (15, Rule::TruncateCommitted, "n2".into()));
}

#[test]
fn a_commit_going_backwards_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push((
        "n2",
        json!({"event": "commit", "term": 1, "index": 1, "entry_term": 1}),
    ));
    assert_eq!(violation(t), (15, Rule::CommitMonotonic, "n2".into()));
}

#[test]
fn a_commit_may_start_over_after_a_restart() {
    let mut t = clean();
    t.truncate(17);
    t.push(("n2", json!({"event": "restart"})));
    t.push((
        "n2",
        json!({"event": "commit", "term": 1, "index": 1, "entry_term": 1}),
    ));
    t.push(("n2", json!({"event": "apply", "index": 1, "entry_term": 1})));
    check_trace(trace(&t)).unwrap();
}

#[test]
fn a_leader_committing_an_older_term_by_counting_is_caught() {
    let t = vec![
        ("n1", json!({"event": "become-candidate", "term": 1})),
        ("n1", json!({"event": "become-leader", "term": 1})),
        (
            "n1",
            json!({"event": "append", "term": 1, "from": 1, "to": 1, "terms": [1]}),
        ),
        ("n1", json!({"event": "become-candidate", "term": 3})),
        ("n1", json!({"event": "become-leader", "term": 3})),
        (
            "n1",
            json!({"event": "commit", "term": 3, "index": 1, "entry_term": 1}),
        ),
    ];
    assert_eq!(violation(t), (5, Rule::CommitOldTerm, "n1".into()));
}

#[test]
fn applying_something_else_than_what_was_committed_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push(("n2", json!({"event": "apply", "index": 1, "entry_term": 2})));
    assert_eq!(violation(t).1, Rule::AppliedCommitted);
}

#[test]
fn malformed_events_are_reported_as_such() {
    let mut c = Conformance::new();
    let r = TraceRecord::from(("n1".to_string(), 0, json!({"event": "commit"}), 0, 7));
    match c.observe(&r) {
        Err(ConformanceError::Malformed { index, .. }) => assert_eq!(index, 7),
        other => panic!("{other:?}"),
    }
}
