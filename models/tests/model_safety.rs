//! The correct protocol: exhaustive checks of small clusters find no
//! counterexample and reach the `sometimes` properties; symmetry reduction
//! is canonical; replayed paths keep server names.

use stateright::Model;
use std::time::Duration;
use tumult_models::model::{properties, Action, ModelConfig, RaftModel, Rename, Renaming};

fn run(config: ModelConfig) -> tumult_models::model::CheckReport {
    let report = RaftModel::new(config).check(2, None, Duration::from_secs(3600), &mut |_| {});
    if let Some(cx) = &report.counterexample {
        panic!("unexpected counterexample:\n{cx}");
    }
    report
}

#[test]
fn three_servers_one_term_every_feature_is_safe_and_commits() {
    let report = run(ModelConfig {
        max_term: 1,
        max_log: 2,
        ..ModelConfig::default()
    });
    assert!(
        report.unreached.is_empty(),
        "unreached: {:?}",
        report.unreached
    );
    assert!(report.progress.unique > 100);
}

#[test]
fn a_spare_server_is_added_safely() {
    let report = run(ModelConfig {
        servers: 3,
        voters: 2,
        max_term: 1,
        max_log: 2,
        crashes: false,
        ..ModelConfig::default()
    });
    assert!(!report.unreached.contains(&properties::MEMBERSHIP_COMMITTED));
}

#[test]
fn two_terms_without_crashes_or_compaction_are_safe() {
    run(ModelConfig {
        max_term: 2,
        max_log: 2,
        crashes: false,
        compaction: false,
        membership: false,
        ..ModelConfig::default()
    });
}

#[test]
fn canonical_form_is_the_same_for_every_renaming() {
    let model = RaftModel::new(ModelConfig::default());
    // Walk a few steps without canonicalization, then compare renamings.
    let mut raw = model.initial_state();
    let mut actions = Vec::new();
    for _ in 0..6 {
        actions.clear();
        model.actions(&raw, &mut actions);
        let Some(next) = actions.iter().rev().find_map(|a| model.raw_step(&raw, a)) else {
            break;
        };
        raw = next;
    }
    let (canonical, _) = model.canonicalize(&raw);
    for perm in [[0, 2, 1, 3], [0, 3, 2, 1], [0, 2, 3, 1]] {
        let renaming = Renaming::from_map(perm.to_vec());
        let renamed = raw.rename(&renaming);
        assert_eq!(model.canonicalize(&renamed).0, canonical);
    }
}

#[test]
fn replay_keeps_server_names() {
    let model = RaftModel::new(ModelConfig {
        pre_vote: false,
        ..ModelConfig::default()
    });
    // n2 times out, then its vote request to n1 is delivered.
    let init = model.init_states().remove(0);
    let (_, to_canonical) = model.canonicalize(&model.initial_state());
    let a1 = Action::Timeout(2).rename(&to_canonical);
    let s1 = model.next_state(&init, a1.clone()).unwrap();
    let mut actions = Vec::new();
    model.actions(&s1, &mut actions);
    let deliver = actions
        .into_iter()
        .find(|a| matches!(a, Action::Deliver(_)))
        .unwrap();
    let (_, steps) = model.replay(&[a1, deliver]);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].action, Action::Timeout(2));
    match &steps[1].action {
        Action::Deliver(m) => assert_eq!(m.from, 2),
        a => panic!("{a}"),
    }
}
