//! Each deliberately broken rule must be caught by the exhaustive check, with
//! a short counterexample (BFS, the small bounds of `Bug::demo_config`).

use std::time::Duration;
use tumult_models::model::{properties, Bug, CheckReport, RaftModel};

fn check(bug: Bug) -> CheckReport {
    let model = RaftModel::new(bug.demo_config());
    let report = model.check(2, None, Duration::from_secs(3600), &mut |_| {});
    let cx = report
        .counterexample
        .as_ref()
        .unwrap_or_else(|| panic!("{bug}: no counterexample"));
    println!("{bug}: {} steps\n{cx}", cx.steps.len());
    report
}

#[test]
fn s5_4_2_committing_an_older_term_by_counting_replicas_loses_a_committed_entry() {
    let report = check(Bug::CommitOldTerm);
    let cx = report.counterexample.unwrap();
    assert_eq!(cx.property, properties::LEADER_COMPLETENESS);
    assert!(cx.steps.len() <= 20, "{} steps", cx.steps.len());
}

#[test]
fn s5_2_two_votes_in_one_term_elect_two_leaders() {
    let report = check(Bug::DoubleVote);
    let cx = report.counterexample.unwrap();
    assert_eq!(cx.property, properties::ELECTION_SAFETY);
    assert!(report.also_violated.contains(&properties::ONE_VOTE));
    assert!(cx.steps.len() <= 10, "{} steps", cx.steps.len());
}

#[test]
fn s4_1_membership_change_before_committing_in_the_term_loses_a_committed_entry() {
    let report = check(Bug::EarlyMembershipChange);
    let cx = report.counterexample.unwrap();
    assert_eq!(cx.property, properties::LEADER_COMPLETENESS);
    assert!(cx.steps.len() <= 20, "{} steps", cx.steps.len());
}

#[test]
fn the_correct_protocol_passes_the_bug_demo_bounds() {
    // The commit-old-term bounds without the bug: no counterexample.
    let mut config = Bug::CommitOldTerm.demo_config();
    config.bug = None;
    let report = RaftModel::new(config).check(2, None, Duration::from_secs(3600), &mut |_| {});
    assert!(
        report.counterexample.is_none(),
        "{}",
        report.counterexample.unwrap()
    );
}

#[test]
fn bug_names_round_trip() {
    for bug in Bug::ALL {
        assert_eq!(Bug::from_name(bug.name()), Some(bug));
    }
    assert_eq!(Bug::from_name("nope"), None);
}
