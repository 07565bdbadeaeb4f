//! `tumult shrink RUN_DIR`: searches for a smaller scenario that still
//! fails the run's check with its seed, and writes it as a scenario file.

use super::run::bad;
use super::Exit;
use crate::run::RunOptions;
use crate::shrink::{shrink_run_dir, ShrinkOptions};
use std::path::PathBuf;

/// Arguments of `tumult shrink`.
#[derive(Debug, clap::Args)]
pub struct ShrinkArgs {
    /// A failing run directory (`OUT/SCENARIO/seed-N`).
    pub run_dir: PathBuf,
    /// Where to write the shrunk scenario (default: RUN_DIR/shrunk.toml).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Stop after this many candidate runs.
    #[arg(long, default_value_t = 150)]
    pub max_runs: usize,
}

/// `tumult shrink`.
pub fn run(args: ShrinkArgs) -> Exit {
    let mut opts = ShrinkOptions::new(RunOptions::in_memory());
    opts.max_runs = args.max_runs;
    opts.verbose = true;
    match shrink_run_dir(&args.run_dir, args.out.as_deref(), opts) {
        Err(e) => bad(e),
        Ok((path, shrunk)) => {
            for step in &shrunk.steps {
                println!("  {step}");
            }
            println!(
                "shrunk in {} runs: fails `{}` with seed {}; {} nemesis steps, {} nodes, {} shards, {} clients, {} keys, {}",
                shrunk.runs,
                shrunk.check,
                shrunk.seed,
                shrunk.scenario.nemesis.len(),
                shrunk.scenario.cluster.nodes,
                shrunk.scenario.cluster.shards,
                shrunk.scenario.workload.clients,
                shrunk.scenario.workload.keys,
                crate::scenario::format_duration(shrunk.scenario.workload.duration),
            );
            println!("{}", path.display());
            Exit::Pass
        }
    }
}
