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

#[test]
fn explores_on_several_machines_merge_into_one_directory() {
    use tumult_harness::explore::merge::merge;
    use tumult_harness::scenario::Partition;
    let tmp = std::env::temp_dir().join(format!("tumult-explore-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut dirs = Vec::new();
    let mut parts = Vec::new();
    for index in 1..=2 {
        let dir = tmp.join(format!("part{index}"));
        let report = explore(&ExploreOptions {
            out: Some(dir.clone()),
            partition: Partition { index, count: 2 },
            ..ExploreOptions::runs(6, 9)
        })
        .unwrap();
        assert!(report.finding.is_none(), "{}", report.summary());
        // The index: the runs by focus, each group's figures over its runs.
        let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(index.contains("6/6 met their expectation"), "{index}");
        let rows = index.matches("<tr class=\"scenario").count();
        assert!((1..=5).contains(&rows), "{rows} groups");
        assert_eq!(
            index.matches("<tr class=\"run\"").count(),
            6,
            "every run listed"
        );
        dirs.push(dir);
        parts.push(report);
    }
    let out = tmp.join("merged");
    let m = merge(&dirs, &out).unwrap();
    assert_eq!(m.summary.runs, 12);
    assert_eq!(m.summary.partitions, vec!["1/2", "2/2"]);
    let most = parts.iter().map(|p| p.features).max().unwrap();
    assert_eq!(m.largest_part, most);
    assert!(m.summary.features > most, "{}", m.line());
    let parents = std::fs::read_dir(out.join("parents")).unwrap().count();
    assert_eq!(parents, parts.iter().map(|p| p.parents).sum::<usize>());
    assert_eq!(m.summary.parents, parents);
    // The merged directory is a starting point like any other.
    let from = explore(&ExploreOptions {
        from: Some(out.clone()),
        ..ExploreOptions::runs(2, 10)
    })
    .unwrap();
    assert!(from.features >= m.summary.features, "{}", from.summary());
    // Merging into one of the inputs is refused.
    assert!(merge(&dirs, &dirs[0]).is_err());
    let _ = std::fs::remove_dir_all(&tmp);
}
