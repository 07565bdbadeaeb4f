//! Runs the bank example's scenarios (beside this file) through the
//! simulator: your own application under tumult's nemesis and checkers.
//!
//! ```text
//! cargo run --release -p tumult-harness --example bank               # every scenario, seeds 1..=3
//! cargo run --release -p tumult-harness --example bank -- --broken   # the broken app: caught
//! cargo run --release -p tumult-harness --example bank -- --seeds 1..=10 --out target/bank
//! ```
//!
//! Exits 0 when every run met its expectation (with `--broken`: when some
//! run caught the bug), 1 otherwise, 2 on a bad argument or scenario file.

mod bank;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tumult_harness::run::{run_seed_with, RunOptions};
use tumult_harness::scenario::{files_in, parse_app_file, parse_seeds};
use tumult_harness::workload::Workload;

fn main() -> ExitCode {
    let mut broken = false;
    let mut seeds = "1..=3".to_string();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--broken" => broken = true,
            "--seeds" | "--out" => {
                let Some(v) = args.next() else {
                    eprintln!("bank: {a} needs a value");
                    return ExitCode::from(2);
                };
                if a == "--seeds" {
                    seeds = v;
                } else {
                    out = Some(v.into());
                }
            }
            other => {
                eprintln!("bank: unknown argument {other:?} (--broken, --seeds S, --out DIR)");
                return ExitCode::from(2);
            }
        }
    }
    let seeds = match parse_seeds(&seeds) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bank: --seeds: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bank/scenarios");
    let files = match files_in(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bank: {e}");
            return ExitCode::from(2);
        }
    };
    let workload: Arc<dyn Workload> = Arc::new(bank::Bank { broken });
    let opts = match out {
        Some(d) => RunOptions::writing_to(d),
        None => RunOptions::in_memory(),
    };
    let (mut met, mut failed) = (0, 0);
    for file in files {
        let scenario = match parse_app_file(&file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        for &seed in &seeds {
            let r = run_seed_with(&scenario, &workload, seed, &opts);
            println!("{}", r.summary());
            if r.met_expectation() {
                met += 1;
            } else {
                failed += 1;
            }
        }
    }
    println!("{met} runs met their expectation, {failed} did not");
    let ok = if broken { failed > 0 } else { failed == 0 };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
