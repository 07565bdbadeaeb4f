//! `tumult explore` on the correct engine: the same explore seed draws and
//! runs the same scenarios whatever the number of threads, and nothing fails.

use tumult_harness::explore::{explore, ExploreOptions};

#[test]
fn explore_is_deterministic_and_clean_on_the_correct_engine() {
    let one = explore(&ExploreOptions::runs(16, 3)).unwrap();
    let two = explore(&ExploreOptions {
        jobs: 2,
        ..ExploreOptions::runs(16, 3)
    })
    .unwrap();
    assert!(one.finding.is_none(), "{}", one.summary());
    assert_eq!(one.runs, 16);
    assert_eq!(one.features, two.features);
    assert_eq!(one.parents, two.parents);
    assert_eq!(one.growth, two.growth);
    assert_eq!(one.sim_seconds, two.sim_seconds);
    assert!(
        one.features > 100,
        "coverage is measured: {}",
        one.summary()
    );
    // Without feedback every run is drawn afresh: a different stream.
    let fresh = explore(&ExploreOptions {
        feedback: false,
        ..ExploreOptions::runs(16, 3)
    })
    .unwrap();
    assert!(fresh.finding.is_none(), "{}", fresh.summary());
}
