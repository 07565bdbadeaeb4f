//! The bank example (`harness/examples/bank`): an application of a user's
//! own, run through nemesis scenarios with its own model. The correct app
//! passes every scenario; the broken one (an apply that depends on the
//! process's own count) is caught by the linearizability check.

#[path = "../examples/bank/bank.rs"]
#[allow(dead_code)]
mod bank;

use std::path::Path;
use std::sync::Arc;
use tumult_harness::run::{run_seed_with, RunOptions};
use tumult_harness::scenario::{files_in, parse_app_file, parse_str, Scenario};
use tumult_harness::workload::Workload;
use tumult_models::artifact::{CheckName, Outcome};

fn scenarios() -> Vec<Scenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bank/scenarios");
    let files = files_in(&dir).expect("the bank's scenarios");
    assert_eq!(files.len(), 3, "{files:?}");
    files
        .iter()
        .map(|f| parse_app_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn the_bank_conserves_money_through_partitions_crashes_and_membership_changes() {
    let bank: Arc<dyn Workload> = Arc::new(bank::Bank { broken: false });
    for s in scenarios() {
        let r = run_seed_with(&s, &bank, 1, &RunOptions::in_memory());
        assert!(r.met_expectation(), "{}", r.summary());
        let lin = &r.verdict.checks[&CheckName::Linearizable];
        assert_eq!(lin.result, Outcome::Pass, "{}: {}", s.name, lin.detail);
        // Transfers and audits both happened: the history exercised the model.
        let ok = r.verdict.counts.ok;
        assert!(ok > 100, "{}: only {ok} operations completed", s.name);
    }
}

#[test]
fn a_bank_whose_apply_depends_on_the_process_is_caught() {
    let broken: Arc<dyn Workload> = Arc::new(bank::Bank { broken: true });
    let s = &scenarios()[0];
    let r = run_seed_with(s, &broken, 1, &RunOptions::in_memory());
    let lin = &r.verdict.checks[&CheckName::Linearizable];
    assert_eq!(lin.result, Outcome::Fail, "{}: {}", s.name, lin.detail);
    assert!(lin.detail.contains("not linearizable"), "{}", lin.detail);
}

#[test]
fn the_tumult_command_refuses_an_app_scenario_with_its_line() {
    let text = "[cluster]\nnodes = 3\nshards = 1\n[workload]\nkind = \"app\"\nclients = 1\nkeys = 1\nduration = \"1s\"\n";
    let e = parse_str("bank.toml", text).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (5, "workload.kind"), "{e}");
    assert!(e.message.contains("run_seed_with"), "{e}");
}
