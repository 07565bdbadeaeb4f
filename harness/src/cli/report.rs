//! `tumult report DIR [-o FILE]`: renders a run directory as `report.html`
//! or a suite directory as `index.html` (SPEC.md §1).

use super::Exit;
use std::path::PathBuf;

/// Arguments of `tumult report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory (`OUT/SCENARIO/seed-N`) or a suite directory (`OUT`, with `summary.json`).
    pub dir: PathBuf,
    /// Write the page here (default: `DIR/report.html` for a run, `DIR/index.html` for a suite).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

/// `tumult report`.
pub fn run(args: ReportArgs) -> Exit {
    match tumult_reports::render(&args.dir, args.output.as_deref()) {
        Ok(page) => {
            println!("{}", page.display());
            Exit::Pass
        }
        Err(e) => {
            eprintln!("tumult: {e}");
            Exit::BadInput
        }
    }
}
