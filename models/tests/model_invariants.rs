//! The invariant functions on hand-built cluster states.

use tumult_models::invariants::*;

fn cluster() -> ClusterState {
    ClusterState::new([1, 2, 3], &[1, 2, 3])
}

fn log(terms: &[Term]) -> Vec<LogEntry> {
    terms
        .iter()
        .map(|&t| LogEntry::new(t, Payload::Unknown))
        .collect()
}

#[test]
fn election_safety_counts_past_leaders() {
    let mut c = cluster();
    c.ghost.record_leader(1, 1).unwrap();
    assert_eq!(
        c.ghost.record_leader(1, 2).unwrap_err().rule,
        Rule::ElectionSafety
    );
    let s = c.servers.get_mut(&3).unwrap();
    s.term = 1;
    s.role = Role::Leader;
    assert_eq!(election_safety(&c).unwrap_err().rule, Rule::ElectionSafety);
}

#[test]
fn log_matching_finds_a_divergence_below_a_common_entry() {
    let mut c = cluster();
    c.servers.get_mut(&1).unwrap().log = log(&[1, 1, 2]);
    c.servers.get_mut(&2).unwrap().log = log(&[1, 2, 2]);
    assert_eq!(log_matching(&c).unwrap_err().rule, Rule::LogMatching);
    c.servers.get_mut(&2).unwrap().log = log(&[1, 1, 3]);
    assert!(log_matching(&c).is_ok());
}

#[test]
fn log_matching_compares_through_snapshots() {
    let mut c = cluster();
    let a = c.servers.get_mut(&1).unwrap();
    a.snapshot = Snapshot {
        index: 2,
        term: 1,
        voters: vec![],
    };
    a.log = log(&[2]);
    c.servers.get_mut(&2).unwrap().log = log(&[1, 2, 2]);
    assert_eq!(log_matching(&c).unwrap_err().rule, Rule::LogMatching);
}

#[test]
fn leader_completeness_needs_committed_entries_in_later_leaders() {
    let mut c = cluster();
    c.ghost
        .record_commit(1, &LogEntry::new(1, Payload::Noop), 1)
        .unwrap();
    let s = c.servers.get_mut(&2).unwrap();
    s.term = 2;
    s.role = Role::Leader;
    s.log = log(&[2]);
    assert_eq!(
        leader_completeness(&c).unwrap_err().rule,
        Rule::LeaderCompleteness
    );
    c.servers.get_mut(&2).unwrap().log = log(&[1, 2]);
    assert!(leader_completeness(&c).is_ok());
}

#[test]
fn state_machine_safety_compares_applied_entries() {
    let mut c = cluster();
    c.ghost
        .record_apply(1, 1, &LogEntry::new(1, Payload::Command(7)))
        .unwrap();
    let err = c
        .ghost
        .record_apply(2, 1, &LogEntry::new(2, Payload::Command(7)));
    assert_eq!(err.unwrap_err().rule, Rule::StateMachineSafety);
    let s = c.servers.get_mut(&3).unwrap();
    s.log = log(&[2]);
    s.commit = 1;
    s.applied = 1;
    assert_eq!(
        state_machine_safety(&c).unwrap_err().rule,
        Rule::StateMachineSafety
    );
}

#[test]
fn transitions_keep_terms_votes_and_commits() {
    let prev = cluster();
    let mut next = prev.clone();
    next.servers.get_mut(&1).unwrap().vote = Some(2);
    assert!(check_transition(&prev, &next, &[]).is_ok());
    let mut again = next.clone();
    again.servers.get_mut(&1).unwrap().vote = Some(3);
    assert_eq!(
        check_transition(&next, &again, &[]).unwrap_err().rule,
        Rule::OneVotePerTerm
    );

    let mut a = cluster();
    a.servers.get_mut(&1).unwrap().commit = 2;
    a.servers.get_mut(&1).unwrap().term = 2;
    let mut b = a.clone();
    b.servers.get_mut(&1).unwrap().commit = 1;
    assert_eq!(
        check_transition(&a, &b, &[]).unwrap_err().rule,
        Rule::CommitMonotonic
    );
    assert!(check_transition(&a, &b, &[1]).is_ok());
    b.servers.get_mut(&1).unwrap().term = 1;
    assert_eq!(
        check_transition(&a, &b, &[1]).unwrap_err().rule,
        Rule::TermMonotonic
    );
}

#[test]
fn truncation_at_or_below_commit_is_refused() {
    let mut s = ServerState::new(&[1]);
    s.log = log(&[1, 1]);
    s.commit = 1;
    assert_eq!(
        check_truncate(1, &s, 1).unwrap_err().rule,
        Rule::TruncateCommitted
    );
    assert!(check_truncate(1, &s, 2).is_ok());
}
