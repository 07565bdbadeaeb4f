//! The suite in `scenarios/`: every file parses, and together they use
//! every nemesis action and selector of SPEC.md, both workloads and read
//! modes, 1 to 7 nodes and 1 to 64 shards, and an expected failure.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tumult_harness::scenario::*;

fn suite() -> Vec<(PathBuf, Scenario)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let s = parse_file(&p).unwrap_or_else(|e| panic!("{e}"));
            (p, s)
        })
        .collect()
}

fn actions(s: &Scenario) -> Vec<Action> {
    s.nemesis
        .iter()
        .flat_map(|step| match &step.kind {
            StepKind::Fixed { action, .. } => vec![action.clone()],
            StepKind::Random { actions, .. } => actions.clone(),
        })
        .collect()
}

#[test]
fn every_file_parses_and_is_described() {
    let suite = suite();
    assert!(suite.len() >= 15, "only {} scenarios", suite.len());
    let mut names = BTreeSet::new();
    for (path, s) in &suite {
        assert!(
            !s.description.trim().is_empty(),
            "{}: no description",
            path.display()
        );
        assert!(names.insert(s.name.clone()), "duplicate name {}", s.name);
        assert_eq!(
            Some(s.name.as_str()),
            path.file_stem().and_then(|x| x.to_str()),
            "{}: name differs from the file stem",
            path.display()
        );
        // Every seed expands to a schedule without trouble.
        for &seed in &s.run.seeds {
            let _ = expand_schedule(s, seed);
        }
    }
}

#[test]
fn suite_uses_every_action() {
    let used: BTreeSet<ActionKind> = suite()
        .iter()
        .flat_map(|(_, s)| actions(s))
        .map(|a| a.kind())
        .collect();
    let missing: Vec<&str> = ActionKind::ALL
        .iter()
        .filter(|k| !used.contains(k))
        .map(|k| k.name())
        .collect();
    assert!(missing.is_empty(), "no scenario uses: {missing:?}");
}

#[test]
fn suite_uses_every_selector_kind() {
    let used: BTreeSet<SelectorKind> = suite()
        .iter()
        .flat_map(|(_, s)| actions(s))
        .flat_map(|a| a.selectors())
        .map(|sel| sel.kind())
        .collect();
    let missing: Vec<_> = SelectorKind::ALL
        .iter()
        .filter(|k| !used.contains(k))
        .collect();
    assert!(missing.is_empty(), "no scenario uses: {missing:?}");
}

#[test]
fn suite_spans_sizes_workloads_and_expectations() {
    let suite = suite();
    let nodes: BTreeSet<u32> = suite.iter().map(|(_, s)| s.cluster.nodes).collect();
    let shards: BTreeSet<u32> = suite.iter().map(|(_, s)| s.cluster.shards).collect();
    assert_eq!(nodes.first(), Some(&1));
    assert_eq!(nodes.last(), Some(&7));
    assert_eq!(shards.first(), Some(&1));
    assert_eq!(shards.last(), Some(&64));
    let kinds: BTreeSet<&str> = suite.iter().map(|(_, s)| s.workload.kind.name()).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    let reads: BTreeSet<&str> = suite.iter().map(|(_, s)| s.workload.read.name()).collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    let failing: Vec<&Scenario> = suite
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.expect.verdict == Expected::Fail)
        .collect();
    assert!(!failing.is_empty());
    for s in failing {
        assert_eq!(s.workload.read, ReadMode::Local, "{}", s.name);
        assert_eq!(s.expect.checks, vec![CheckName::Linearizable], "{}", s.name);
    }
}

/// Keeps the suite cheap enough for CI: a rough cost in simulated
/// node-shard-seconds plus operations, compared with the budget measured
/// for the engine (about 50x real time for 5 nodes x 4 shards at 200 ops/s).
#[test]
fn suite_stays_cheap() {
    let mut runs = 0;
    for (path, s) in suite() {
        let secs = (s.workload.duration + s.expect.recovery).as_secs_f64();
        assert!(
            s.workload.duration.as_secs() <= 30,
            "{}: long duration",
            path.display()
        );
        assert!(s.run.seeds.len() <= 5, "{}: many seeds", path.display());
        if s.cluster.shards > 16 {
            assert!(
                s.workload.rate <= 50.0,
                "{}: many shards need a low rate",
                path.display()
            );
        }
        assert!(secs <= 45.0, "{}", path.display());
        runs += s.run.seeds.len();
    }
    // 96 today: the regression scenarios explore's findings added take
    // under a second each; stale-leader-reads and pause-leader (which real
    // mode runs too) two runs each.
    assert!(runs <= 96, "{runs} runs in the suite");
}
