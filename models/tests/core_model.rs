//! The production core under stateright (`tumult model --impl`): small
//! bounds are searched to the end without a counterexample, and the search
//! reaches a leader.

use std::time::Duration;
use tumult_models::core_model::{properties, CoreConfig, CoreModel};
use tumult_models::model::{check, Limits};

#[test]
fn two_real_cores_elect_a_leader_and_break_no_invariant() {
    let config = CoreConfig {
        servers: 2,
        voters: 2,
        max_term: 1,
        max_log: 1,
        ..CoreConfig::quiet()
    };
    let limits = Limits {
        timeout: Some(Duration::from_secs(600)),
        ..Limits::new(2, Duration::from_secs(5))
    };
    let report = check(&CoreModel::new(config), &limits, &mut |_| {});
    assert!(
        report.counterexample.is_none(),
        "{}",
        report.counterexample.unwrap()
    );
    assert!(!report.timed_out);
    assert!(report.progress.unique > 1000, "{:?}", report.progress);
    // One entry fits the log: the new leader's no-op, so no command commits.
    assert_eq!(report.unreached, vec![properties::VALUE_COMMITTED]);
}
