//! HTML, Markdown and JUnit renderings of tumult runs and suites.
//!
//! This crate reads run directories only (SPEC.md §4): `verdict.json`,
//! `history.jsonl` (through [`tumult_models::history`]), `scenario.toml`,
//! `log.txt` and `history.lin.html`; a suite directory adds `summary.json`.
//! Every page is self-contained: inline CSS, SVG and script, nothing fetched.
//!
//! ```no_run
//! use std::path::Path;
//!
//! // A run directory gets `report.html`, a suite directory `index.html`.
//! let written = tumult_reports::render(Path::new("target/tumult/baseline/seed-1"), None).unwrap();
//! println!("{}", written.display());
//! ```

use std::path::{Path, PathBuf};

pub mod analysis;
pub mod html;
pub mod run;
pub mod suite;

pub use suite::RunSummary;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file holds something this crate cannot read.
    #[error("{0}")]
    Input(String),
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirKind {
    /// `SCENARIO/seed-N/` with `verdict.json`.
    Run,
    /// An `--out` directory with `summary.json`.
    Suite,
}

/// Tells a run directory from a suite directory.
pub fn dir_kind(dir: &Path) -> Result<DirKind, ReportError> {
    if dir.join("verdict.json").is_file() {
        Ok(DirKind::Run)
    } else if dir.join("summary.json").is_file() {
        Ok(DirKind::Suite)
    } else {
        Err(ReportError::Input(format!(
            "{}: neither a run directory (no verdict.json) nor a suite directory (no summary.json)",
            dir.display()
        )))
    }
}

/// Writes the report of the run directory `dir` at `out` (default
/// `DIR/report.html`); returns the path written.
pub fn write_run_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ReportError> {
    let page = out.map_or_else(|| dir.join("report.html"), Path::to_path_buf);
    let html = run::render(dir, &page)?;
    std::fs::write(&page, html).map_err(|e| ReportError::io(&page, e))?;
    Ok(page)
}

/// Writes the index of the suite directory `dir` at `out` (default
/// `DIR/index.html`), first rendering the report of every run that has
/// none; returns the path written.
pub fn write_suite_report(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ReportError> {
    let runs = suite::load_suite(dir)?;
    for r in &runs {
        if let Some(d) = &r.dir {
            if !d.join("report.html").exists() {
                write_run_report(d, None)?;
            }
        }
    }
    let page = out.map_or_else(|| dir.join("index.html"), Path::to_path_buf);
    std::fs::write(&page, suite::index_html(&runs, &page))
        .map_err(|e| ReportError::io(&page, e))?;
    Ok(page)
}

/// Renders a run or suite directory; returns the page written.
pub fn render(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ReportError> {
    match dir_kind(dir)? {
        DirKind::Run => write_run_report(dir, out),
        DirKind::Suite => write_suite_report(dir, out),
    }
}
