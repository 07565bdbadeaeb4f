//! `tumult explore`.

use super::run::{bad, default_jobs};
use super::Exit;
use crate::explore::{explore, Budget, ExploreOptions};
use crate::scenario::{parse_duration, Partition};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `tumult explore`.
#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// Explore for this long (wall time), e.g. `10m`, `90s`.
    #[arg(long, conflicts_with = "runs")]
    pub time: Option<String>,
    /// Explore this many runs.
    #[arg(long)]
    pub runs: Option<u64>,
    /// Parallel runs (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The explore seed: the same seed and binary draw the same scenarios.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where parents, findings (`found/`) and `explore.json` go.
    #[arg(long, default_value = "explore-out")]
    pub out: PathBuf,
    /// Start from the parents an earlier explore saved in this directory.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Draw every run afresh instead of perturbing the runs that found new coverage.
    #[arg(long)]
    pub no_feedback: bool,
    /// Run only the K-th of N disjoint streams of runs (for N machines).
    #[arg(long)]
    pub partition: Option<String>,
    /// Run with a deliberate engine bug (feature `mutants`).
    #[arg(long)]
    pub mutant: Option<String>,
    /// Merge these explore directories (from `--partition` runs on several
    /// machines) into `--out` instead of exploring.
    #[arg(long, num_args = 1.., value_name = "DIR", conflicts_with_all = ["time", "runs", "from", "partition", "mutant", "no_feedback"])]
    pub merge: Vec<PathBuf>,
}

pub fn run(args: ExploreArgs) -> Exit {
    if !args.merge.is_empty() {
        return match crate::explore::merge::merge(&args.merge, &args.out) {
            Err(e) => bad(e),
            Ok(m) => {
                println!("{}", m.line());
                println!("  merged into {}", args.out.display());
                if m.summary.found.is_empty() {
                    Exit::Pass
                } else {
                    Exit::Fail
                }
            }
        };
    }
    if let Err(e) = crate::mutants::validate(args.mutant.as_deref()) {
        return bad(e);
    }
    let budget = match (&args.time, args.runs) {
        (Some(t), _) => match parse_duration(t) {
            Ok(d) if !d.is_zero() => Budget::Time(d),
            Ok(_) => return bad(format!("--time {t}: must be more than 0")),
            Err(e) => return bad(format!("--time {t}: {e}")),
        },
        (None, Some(n)) => Budget::Runs(n),
        (None, None) => Budget::Time(std::time::Duration::from_secs(600)),
    };
    let partition = match args.partition.as_deref().map(str::parse::<Partition>) {
        None => Partition::WHOLE,
        Some(Ok(p)) => p,
        Some(Err(e)) => return bad(format!("--partition: {e}")),
    };
    let opts = ExploreOptions {
        budget,
        jobs: args.jobs.unwrap_or_else(default_jobs),
        seed: args.seed,
        out: Some(args.out),
        from: args.from,
        feedback: !args.no_feedback,
        partition,
        mutant: args.mutant,
        shrink: true,
        progress: std::io::stderr().is_terminal(),
    };
    match explore(&opts) {
        Err(e) => bad(e),
        Ok(report) => {
            println!("{}", report.summary());
            match &report.finding {
                None => Exit::Pass,
                Some(f) => {
                    println!("  first failing run: {}", f.summary);
                    if let Some(file) = &f.file {
                        println!("  written to {}", file.display());
                    }
                    Exit::Fail
                }
            }
        }
    }
}
