//! `tumult mutants`: runs the suite against each deliberate engine bug and
//! prints which check caught it, with the first scenario and seed that did.

use super::run::{bad, default_jobs, load};
use super::Exit;
use crate::mutants::{catalogue, names, order_runs, table, Finding};
use crate::run::RunOptions;
use crate::scenario::files_in;
use std::path::PathBuf;

/// Arguments of `tumult mutants`.
#[derive(Debug, clap::Args)]
pub struct MutantsArgs {
    /// Directory of scenario files (`*.toml`, searched recursively).
    #[arg(long, default_value = "scenarios")]
    pub suite: PathBuf,
    /// Seeds for every scenario (default: each file's `[run] seeds`).
    #[arg(long)]
    pub seeds: Option<String>,
    /// Only these mutants (repeatable; default: all).
    #[arg(long = "mutant")]
    pub mutants: Vec<String>,
    /// Mutants hunted in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Give up on a mutant after this much wall time (it counts as escaped),
    /// so the whole catalogue has a bound; `0s` for no limit.
    #[arg(long, default_value = "100s")]
    pub budget: String,
    /// Where the runs' directories go (one subdirectory per mutant).
    #[arg(long, default_value = "target/tumult-mutants")]
    pub out: PathBuf,
    /// Print every run.
    #[arg(long, short)]
    pub verbose: bool,
    /// Also write the findings as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Hunt each mutant with `tumult explore` (from scratch) instead of the suite.
    #[arg(long)]
    pub explore: bool,
    /// With --explore: how long to explore for each mutant.
    #[arg(long, default_value = "2m", requires = "explore")]
    pub time: String,
    /// With --explore: the explore seed.
    #[arg(long, default_value_t = 1, requires = "explore")]
    pub seed: u64,
    /// With --explore: draw every run afresh (no coverage feedback).
    #[arg(long, requires = "explore")]
    pub no_feedback: bool,
}

/// `tumult mutants`.
pub fn run(args: MutantsArgs) -> Exit {
    if !crate::mutants::available() {
        return bad("this tumult was built without mutants; rebuild with `cargo build --release -p tumult-harness --features mutants`");
    }
    let mutants: Vec<String> = if args.mutants.is_empty() {
        names().into_iter().map(str::to_string).collect()
    } else {
        args.mutants.clone()
    };
    for m in &mutants {
        if let Err(e) = crate::mutants::validate(Some(m)) {
            return bad(e);
        }
    }
    if args.explore {
        return hunt_by_exploring(&args, &mutants);
    }
    let files = match files_in(&args.suite) {
        Ok(f) if f.is_empty() => {
            return bad(format!(
                "{}: no *.toml scenario files",
                args.suite.display()
            ))
        }
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let runs = match load(&files, args.seeds.as_deref()) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let runs = order_runs(super::run::skip_unfit(runs, false).0);
    let started = std::time::Instant::now();
    let done = |f: &Finding| {
        let what = match (&f.check, &f.scenario, f.seed) {
            (Some(c), Some(s), Some(seed)) => {
                format!("caught by {c} in {s} seed {seed}: {}", f.detail)
            }
            _ => "ESCAPED every run".to_string(),
        };
        let mut detail = what;
        if detail.len() > 200 {
            let mut cut = 200;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
            detail.push('…');
        }
        eprintln!(
            "{}: {detail} ({} runs, {:.1}s wall)",
            f.mutant, f.runs, f.wall_seconds
        );
    };
    let opts = RunOptions::in_memory();
    let budget = match crate::scenario::parse_duration(&args.budget) {
        Ok(d) if d.is_zero() => None,
        Ok(d) => Some(d),
        Err(e) => return bad(format!("--budget: {e}")),
    };
    let verbose = args.verbose;
    let seen = |line: &str| {
        if verbose {
            eprintln!("  {line}");
        }
    };
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    // Each run in a child process: a run that aborts cannot stop the catalogue.
    // A private copy of this executable, so that a rebuild meanwhile cannot
    // swap the binary the children run.
    let _ = std::fs::create_dir_all(&args.out);
    let isolate = std::env::current_exe().ok().map(|exe| {
        let copy = args.out.join(format!("tumult-{}", std::process::id()));
        match std::fs::copy(&exe, &copy) {
            Ok(_) => (copy, args.out.clone()),
            Err(_) => (exe, args.out.clone()),
        }
    });
    let findings = catalogue(
        &mutants,
        &runs,
        &opts,
        jobs,
        budget,
        isolate.clone(),
        &seen,
        &done,
    );
    print!("{}", table(&findings));
    let caught = findings.iter().filter(|f| f.caught()).count();
    println!(
        "{caught}/{} mutants caught over {} (scenario, seed) runs available; {:.1} wall s",
        findings.len(),
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some((exe, _)) = &isolate {
        if exe.starts_with(&args.out) {
            let _ = std::fs::remove_file(exe);
        }
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&findings).expect("findings serialize");
        if let Err(e) = std::fs::write(path, json) {
            eprintln!("tumult: {}: {e}", path.display());
        }
    }
    if findings.iter().all(Finding::caught) {
        Exit::Pass
    } else {
        Exit::Fail
    }
}

/// `tumult mutants --explore`: explore from scratch against each mutant for
/// `--time`, and print whether and how fast each was found.
fn hunt_by_exploring(args: &MutantsArgs, mutants: &[String]) -> Exit {
    use crate::explore::{explore, Budget, ExploreOptions};
    let time = match crate::scenario::parse_duration(&args.time) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            return bad(format!(
                "--time {}: expected a duration like 90s",
                args.time
            ))
        }
    };
    let mut found_in: Vec<f64> = Vec::new();
    println!(
        "{:<30} {:<6} {:<12} {:>8} {:>6}  first failing run",
        "mutant", "found", "check", "wall s", "runs"
    );
    for m in mutants {
        let opts = ExploreOptions {
            budget: Budget::Time(time),
            jobs: args.jobs.unwrap_or_else(default_jobs),
            out: Some(args.out.join(format!("explore-{m}"))),
            mutant: Some(m.clone()),
            shrink: false,
            feedback: !args.no_feedback,
            ..ExploreOptions::runs(0, args.seed)
        };
        let report = match explore(&opts) {
            Ok(r) => r,
            Err(e) => return bad(e),
        };
        // A run that fails without the mutant too catches nothing: it is a
        // bug of the engine or the testbed, named so that it gets fixed.
        let clean = crate::run::RunOptions {
            check_timeout: std::time::Duration::from_secs(20),
            check_memory: 1 << 30,
            ..crate::run::RunOptions::in_memory()
        };
        let finding = report
            .finding
            .as_ref()
            .filter(|f| !crate::mutants::clean_fails(&f.scenario, f.seed, clean.clone(), None));
        match finding {
            Some(f) => {
                found_in.push(f.after_seconds);
                println!(
                    "{:<30} {:<6} {:<12} {:>8.1} {:>6}  {} seed {}",
                    m,
                    "yes",
                    f.check.name(),
                    f.after_seconds,
                    f.after_runs,
                    f.scenario.name,
                    f.seed
                );
            }
            None => println!(
                "{:<30} {:<6} {:<12} {:>8.1} {:>6}  -",
                m, "NO", "-", report.wall_seconds, report.runs
            ),
        }
    }
    found_in.sort_by(f64::total_cmp);
    let median = found_in
        .get(found_in.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    println!(
        "{}/{} mutants found by exploring ({} per mutant, {}); median time to detection {median:.1} s",
        found_in.len(),
        mutants.len(),
        args.time,
        if args.no_feedback {
            "no feedback"
        } else {
            "coverage feedback"
        }
    );
    if found_in.len() == mutants.len() {
        Exit::Pass
    } else {
        Exit::Fail
    }
}
