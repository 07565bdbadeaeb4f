//! Trace conformance on small synthetic traces: a clean run passes, and each
//! broken rule is reported at the event that broke it; each step rule fires
//! on a trace that breaks it and stays quiet on the same trace done right.

use serde_json::{json, Value};
use tumult_models::conformance::{check_trace, ConformanceError, TraceRecord};
use tumult_models::invariants::Rule;

fn trace(events: &[(&str, Value)]) -> Vec<TraceRecord> {
    events
        .iter()
        .enumerate()
        .map(|(i, (node, ev))| TraceRecord {
            node: node.to_string(),
            shard: 0,
            event: serde_json::from_value(ev.clone()).expect("a well-formed trace event"),
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

fn passes(events: &[(&str, Value)]) {
    if let Err(e) = check_trace(trace(events)) {
        panic!("unexpected: {e}");
    }
}

fn violation(events: &[(&str, Value)]) -> (u64, Rule, String) {
    match check_trace(trace(events)) {
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
    assert_eq!(violation(&t), (7, Rule::ElectionSafety, "n3".into()));
}

#[test]
fn a_double_vote_is_caught() {
    let mut t = clean();
    t.truncate(5);
    t.push((
        "n2",
        json!({"event": "vote-granted", "term": 1, "candidate": 3}),
    ));
    assert_eq!(violation(&t), (5, Rule::OneVotePerTerm, "n2".into()));
}

#[test]
fn a_truncation_at_or_below_commit_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push(("n2", json!({"event": "truncate", "term": 1, "from": 2})));
    assert_eq!(violation(&t), (15, Rule::TruncateCommitted, "n2".into()));
}

#[test]
fn an_overwrite_of_committed_entries_without_truncate_event_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push((
        "n2",
        json!({"event": "append", "term": 1, "from": 2, "to": 2, "terms": [2]}),
    ));
    assert_eq!(violation(&t), (15, Rule::TruncateCommitted, "n2".into()));
}

#[test]
fn a_commit_going_backwards_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push((
        "n2",
        json!({"event": "commit", "term": 1, "index": 1, "entry_term": 1}),
    ));
    assert_eq!(violation(&t), (15, Rule::CommitMonotonic, "n2".into()));
}

#[test]
fn a_commit_may_start_over_after_a_restart() {
    let mut t = clean();
    t.truncate(17);
    t.push(("n2", json!({"event": "stop", "reason": "restart"})));
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
    assert_eq!(violation(&t), (5, Rule::CommitOldTerm, "n1".into()));
}

#[test]
fn applying_something_else_than_what_was_committed_is_caught() {
    let mut t = clean();
    t.truncate(15);
    t.push(("n2", json!({"event": "apply", "index": 1, "entry_term": 2})));
    assert_eq!(violation(&t).1, Rule::AppliedCommitted);
}

#[test]
fn malformed_events_do_not_become_trace_events() {
    // A commit without its fields is refused where the line is read (the
    // history reader names the line); it never reaches conformance.
    let e = serde_json::from_value::<tumult_models::conformance::TraceEvent>(
        json!({"event": "commit"}),
    );
    assert!(e.is_err(), "{e:?}");
}

/// n1 leads term 1 with n2's vote; both hold entries 1..=2 of term 1.
fn elected() -> Vec<(&'static str, Value)> {
    vec![
        ("n1", json!({"event": "become-candidate", "term": 1})),
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
    ]
}

fn with(
    mut t: Vec<(&'static str, Value)>,
    more: &[(&'static str, Value)],
) -> Vec<(&'static str, Value)> {
    t.extend_from_slice(more);
    t
}

// --- durability: a restarted node recovers what it reported -------------

#[test]
fn a_vote_lost_in_a_crash_is_caught() {
    let t = with(
        elected(),
        &[(
            "n2",
            json!({"event": "start", "term": 1, "snapshot": 0, "last_index": 2, "last_term": 1}),
        )],
    );
    assert_eq!(violation(&t), (6, Rule::Durability, "n2".into()));
}

#[test]
fn a_vote_recovered_after_a_crash_passes() {
    passes(&with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "start", "term": 1, "vote": 1, "snapshot": 0, "last_index": 2, "last_term": 1}),
            ),
            // A node that never voted in its term may restart without a vote.
            (
                "n3",
                json!({"event": "start", "term": 0, "snapshot": 0, "last_index": 0, "last_term": 0}),
            ),
        ],
    ));
}

#[test]
fn a_term_lost_in_a_crash_is_caught() {
    let t = with(
        elected(),
        &[(
            "n1",
            json!({"event": "start", "term": 0, "snapshot": 0, "last_index": 2, "last_term": 1}),
        )],
    );
    assert_eq!(violation(&t), (6, Rule::Durability, "n1".into()));
}

#[test]
fn an_acknowledged_entry_lost_in_a_crash_is_caught() {
    let t = with(
        elected(),
        &[(
            "n2",
            json!({"event": "start", "term": 1, "vote": 1, "snapshot": 0, "last_index": 1, "last_term": 1}),
        )],
    );
    assert_eq!(violation(&t), (6, Rule::Durability, "n2".into()));
}

#[test]
fn an_entry_recovered_with_another_term_is_caught() {
    let t = with(
        elected(),
        &[(
            "n2",
            json!({"event": "start", "term": 1, "vote": 1, "snapshot": 0, "last_index": 2, "last_term": 0}),
        )],
    );
    assert_eq!(violation(&t), (6, Rule::Durability, "n2".into()));
}

#[test]
fn more_than_was_reported_may_be_recovered() {
    // Written but not reported before the crash (the node stopped between
    // its write and its report): allowed, and so is an older history's
    // start event without the recovered log.
    passes(&with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "start", "term": 2, "vote": 3, "snapshot": 0, "last_index": 5, "last_term": 1}),
            ),
            ("n1", json!({"event": "start", "term": 1, "snapshot": 0})),
        ],
    ));
}

#[test]
fn entries_synced_but_never_reported_are_taken_from_the_recovered_terms() {
    // Found by real mode (list-append-chaos, a bounce): the node was killed
    // after syncing entry 3 and before its trace line went out, then
    // restarted holding it, and the leader committed it. With the start
    // event's terms the checker knows entry 3 and its term.
    passes(&with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "start", "term": 1, "vote": 1, "snapshot": 0, "last_index": 3, "last_term": 1, "terms": [[1, 1]]}),
            ),
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "become-follower", "term": 1, "leader": 1}),
            ),
            (
                "n2",
                json!({"event": "commit", "term": 1, "log_index": 3, "entry_term": 1}),
            ),
        ],
    ));
    // Without the terms, the commit is past what n2 is known to hold.
    let t = with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "start", "term": 1, "vote": 1, "snapshot": 0, "last_index": 3, "last_term": 1}),
            ),
            (
                "n2",
                json!({"event": "commit", "term": 1, "log_index": 3, "entry_term": 1}),
            ),
        ],
    );
    assert_eq!(violation(&t).0, 7);
}

#[test]
fn a_reported_entry_recovered_with_another_term_inside_the_log_is_caught() {
    // n2 reported entries 1..=2 of term 1; its disk says entry 1 is of term 2.
    let t = with(
        elected(),
        &[(
            "n2",
            json!({"event": "start", "term": 2, "vote": 1, "snapshot": 0, "last_index": 2, "last_term": 1, "terms": [[1, 2], [2, 1]]}),
        )],
    );
    assert_eq!(violation(&t), (6, Rule::Durability, "n2".into()));
}

#[test]
fn a_recovered_vote_is_remembered() {
    // n2 recovers a vote for n3 in term 2 it had not reported: it may not
    // vote for n1 in term 2 afterwards.
    let t = with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "start", "term": 2, "vote": 3, "snapshot": 0, "last_index": 2, "last_term": 1}),
            ),
            (
                "n2",
                json!({"event": "vote-granted", "term": 2, "candidate": 1}),
            ),
        ],
    );
    assert_eq!(violation(&t), (7, Rule::OneVotePerTerm, "n2".into()));
}

// --- truncate-matching: only a conflicting suffix is removed --------------

#[test]
fn a_truncation_of_a_matching_entry_is_caught() {
    // A duplicated Append of entry 2 (term 1) removes entry 2 and puts the
    // same entry back.
    let t = with(
        elected(),
        &[
            ("n2", json!({"event": "truncate", "term": 1, "from": 2})),
            (
                "n2",
                json!({"event": "append", "term": 1, "from": 2, "to": 2, "terms": [1]}),
            ),
        ],
    );
    assert_eq!(violation(&t), (7, Rule::TruncateMatching, "n2".into()));
}

#[test]
fn a_truncation_of_a_conflicting_entry_passes() {
    passes(&with(
        elected(),
        &[
            ("n3", json!({"event": "become-candidate", "term": 2})),
            (
                "n2",
                json!({"event": "vote-granted", "term": 2, "candidate": 3}),
            ),
            ("n3", json!({"event": "become-leader", "term": 2})),
            (
                "n3",
                json!({"event": "append", "term": 2, "from": 1, "to": 2, "terms": [1, 2]}),
            ),
            ("n2", json!({"event": "truncate", "term": 2, "from": 2})),
            (
                "n2",
                json!({"event": "append", "term": 2, "from": 2, "to": 2, "terms": [2]}),
            ),
        ],
    ));
}

// --- membership-change: after a commit of the term, one at a time --------

#[test]
fn a_membership_change_before_a_commit_of_the_term_is_caught() {
    let t = with(
        elected(),
        &[
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n1",
                json!({"event": "membership", "index": 3, "voters": [1, 2, 3, 4]}),
            ),
        ],
    );
    assert_eq!(violation(&t), (7, Rule::MembershipChange, "n1".into()));
}

#[test]
fn a_second_uncommitted_membership_change_is_caught() {
    let t = with(
        elected(),
        &[
            (
                "n1",
                json!({"event": "commit", "term": 1, "index": 2, "entry_term": 1}),
            ),
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n1",
                json!({"event": "membership", "index": 3, "voters": [1, 2, 3, 4]}),
            ),
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 4, "to": 4, "terms": [1]}),
            ),
            (
                "n1",
                json!({"event": "membership", "index": 4, "voters": [1, 2, 3, 4, 5]}),
            ),
        ],
    );
    assert_eq!(violation(&t), (10, Rule::MembershipChange, "n1".into()));
}

#[test]
fn membership_changes_one_committed_after_the_other_pass() {
    passes(&with(
        elected(),
        &[
            (
                "n1",
                json!({"event": "commit", "term": 1, "index": 2, "entry_term": 1}),
            ),
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n1",
                json!({"event": "membership", "index": 3, "voters": [1, 2, 3, 4]}),
            ),
            // A follower's configuration changes when it appends the entry.
            (
                "n2",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "membership", "index": 3, "voters": [1, 2, 3, 4]}),
            ),
            (
                "n1",
                json!({"event": "commit", "term": 1, "index": 3, "entry_term": 1}),
            ),
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 4, "to": 4, "terms": [1]}),
            ),
            (
                "n1",
                json!({"event": "membership", "index": 4, "voters": [1, 2, 3, 4, 5]}),
            ),
        ],
    ));
}

// --- non-voter-campaign: a removed server stays quiet ---------------------

/// n2 holds the configuration {n1, n3} that removed it.
fn removed() -> Vec<(&'static str, Value)> {
    with(
        elected(),
        &[
            (
                "n2",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "membership", "index": 3, "voters": [1, 3]}),
            ),
        ],
    )
}

#[test]
fn a_removed_server_starting_a_pre_vote_is_caught() {
    let t = with(
        removed(),
        &[("n2", json!({"event": "start-pre-vote", "term": 2}))],
    );
    assert_eq!(violation(&t), (8, Rule::NonVoterCampaign, "n2".into()));
}

#[test]
fn a_removed_server_becoming_candidate_is_caught() {
    let t = with(
        removed(),
        &[("n2", json!({"event": "become-candidate", "term": 2}))],
    );
    assert_eq!(violation(&t), (8, Rule::NonVoterCampaign, "n2".into()));
}

#[test]
fn voters_and_servers_of_unknown_configuration_may_campaign() {
    passes(&with(
        removed(),
        &[
            // n1 and n3 have reported no configuration.
            ("n1", json!({"event": "start-pre-vote", "term": 1})),
            ("n3", json!({"event": "start-pre-vote", "term": 1})),
            ("n3", json!({"event": "become-candidate", "term": 2})),
            // Added back, n2 may campaign again.
            (
                "n2",
                json!({"event": "append", "term": 1, "from": 4, "to": 4, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "membership", "index": 4, "voters": [1, 2, 3]}),
            ),
            ("n2", json!({"event": "start-pre-vote", "term": 2})),
        ],
    ));
}

// --- snapshots: an install keeps the entries after a matching last entry --

#[test]
fn an_install_that_drops_entries_after_a_matching_last_entry_is_caught() {
    // n2 holds 1..=3 (the last in term 1) when it installs a snapshot up to
    // 2 of term 1: the entry at 2 matches, so entry 3 must stay (§7). This
    // is the late snapshot install: a fetch that lands after the log moved on.
    let t = with(
        elected(),
        &[
            (
                "n1",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "append", "term": 1, "from": 3, "to": 3, "terms": [1]}),
            ),
            (
                "n2",
                json!({"event": "install-snapshot", "term": 1, "index": 2, "entry_term": 1}),
            ),
        ],
    );
    assert_eq!(violation(&t), (8, Rule::TruncateMatching, "n2".into()));
    // Up to its last entry, or over a conflicting one, an install is fine.
    passes(&with(
        elected(),
        &[(
            "n2",
            json!({"event": "install-snapshot", "term": 1, "index": 2, "entry_term": 1}),
        )],
    ));
}
