//! `tumult shrink` on a run that fails: the stale local reads scenario,
//! which is expected to fail the linearizability check. The shrunk scenario
//! must be smaller and still fail the same check with its seed.

use std::path::PathBuf;
use tumult_harness::run::{run_seed, CheckName, RunOptions};
use tumult_harness::scenario::parse_file;
use tumult_harness::shrink::{fails, shrink_run_dir, smaller, ShrinkOptions};

#[test]
fn shrinks_stale_local_reads_to_a_smaller_failing_scenario() {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/stale-local-reads.toml");
    let original = parse_file(&file).expect("the scenario parses");
    let seed = original.run.seeds[0];
    let out = std::env::temp_dir().join(format!("tumult-shrink-test-{}", std::process::id()));
    let run = run_seed(&original, seed, &RunOptions::writing_to(&out));
    assert!(fails(&run, CheckName::Linearizable), "{}", run.summary());
    let dir = run.dir.clone().expect("a run directory");

    let mut opts = ShrinkOptions::new(RunOptions::in_memory());
    opts.max_runs = 10;
    let (path, shrunk) = shrink_run_dir(&dir, None, opts).expect("shrinks");
    assert_eq!(path, dir.join("shrunk.toml"));
    assert_eq!(shrunk.check, CheckName::Linearizable);
    assert!(!shrunk.steps.is_empty(), "no smaller scenario found");
    assert!(smaller(&shrunk.scenario, &original), "{:?}", shrunk.steps);

    // The file written is a scenario a user can commit: it parses, pins the
    // seed, and fails the same check as its [expect] says.
    let again = parse_file(&path).expect("the shrunk file parses");
    assert_eq!(again.run.seeds, vec![shrunk.seed]);
    let rerun = run_seed(&again, shrunk.seed, &RunOptions::in_memory());
    assert!(
        fails(&rerun, CheckName::Linearizable),
        "{}",
        rerun.summary()
    );
    assert!(rerun.met_expectation(), "{}", rerun.summary());
    let _ = std::fs::remove_dir_all(&out);
}
