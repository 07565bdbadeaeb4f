//! The report of one run directory (`scenario.toml`, `history.jsonl`,
//! `verdict.json`, `log.txt`, `history.lin.html`): one self-contained HTML
//! page with the verdict, the command that reproduces the run, a timeline
//! of every client operation under the nemesis periods, the leadership of
//! every shard, throughput and latency over simulated time, and the
//! evidence of any violation.
//!
//! The page's size does not grow with the history: operations are drawn on
//! a canvas, exactly when there are few, as one cell per lane and pixel
//! column (the worst outcome overlapping it) when there are many.
//!
//! Loading is [`tumult_models::artifact::RunDir`]'s; this module lays out
//! the page from [`page`], [`evidence`], [`timeline`] and [`charts`].

mod charts;
mod evidence;
mod model_view;
mod page;
mod timeline;

use crate::analysis;
use crate::html::{esc, page_end, page_start};
use crate::ReportError;
use std::path::Path;
use tumult_models::artifact::RunDir;
use tumult_models::history::History;

/// At most this many operations are drawn one by one (with tooltips);
/// beyond, the timeline is rasterized.
pub const EXACT_OPS: usize = 3000;
/// `history.lin.html` up to this size is embedded in the page; larger, it is linked.
pub const EMBED_LIN_BYTES: u64 = 4 << 20;

/// A run directory with everything its page shows read in.
pub struct LoadedRun {
    pub run: RunDir,
    pub scenario_text: Option<String>,
    /// `scenario.toml` as a TOML table, for its description and client count.
    pub scenario: Option<toml::Table>,
    pub history: Result<History, String>,
    pub log: Option<String>,
}

impl LoadedRun {
    /// Reads a run directory; `verdict.json` must exist, the rest may be missing.
    pub fn load(dir: &Path) -> Result<LoadedRun, ReportError> {
        let run = RunDir::load(dir).map_err(|e| ReportError::Input(e.to_string()))?;
        let scenario_text = run.scenario_text().ok();
        let scenario = scenario_text
            .as_deref()
            .and_then(|t| t.parse::<toml::Table>().ok());
        Ok(LoadedRun {
            history: run.history(),
            log: run.log(),
            scenario_text,
            scenario,
            run,
        })
    }

    fn clients(&self) -> Option<u64> {
        self.scenario
            .as_ref()?
            .get("workload")?
            .get("clients")?
            .as_integer()
            .map(|c| c as u64)
    }

    fn description(&self) -> Option<String> {
        self.scenario
            .as_ref()?
            .get("description")?
            .as_str()
            .map(str::to_string)
    }
}

/// The path of `target` as a link from a page written at `page`: relative
/// when `target` lies under the page's directory, else absolute.
pub fn link_from(page: &Path, target: &Path) -> String {
    let base = page.parent().unwrap_or(Path::new("."));
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (b, t) = (abs(base), abs(target));
    match t.strip_prefix(&b) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => format!("file://{}", t.display()),
    }
}

/// Renders the run directory `dir` as the page to be written at `page`.
pub fn render(dir: &Path, page: &Path) -> Result<String, ReportError> {
    let run = LoadedRun::load(dir)?;
    Ok(render_loaded(&run, page))
}

/// Renders an already loaded run directory.
pub fn render_loaded(run: &LoadedRun, page: &Path) -> String {
    let v = &run.run.verdict;
    let mut h = page_start(&format!("tumult: {} seed {}", v.scenario, v.seed));
    page::header(&mut h, run);
    page::checks(&mut h, run);
    match &run.history {
        Err(e) => h.push_str(&format!(
            "<h2>History</h2><p class=\"fail\">The history could not be read: <code>{}</code></p>",
            esc(e)
        )),
        Ok(history) => {
            let end = analysis::end_time(history)
                .max((v.sim_seconds * 1e9) as u64)
                .max(1);
            let ops = analysis::pair_ops(history, end);
            let nemesis = analysis::nemesis(history, end);
            evidence::violations(&mut h, run, history, &ops, page);
            timeline::timeline(&mut h, &ops, &nemesis, run.clients(), end);
            timeline::leadership(&mut h, history, &nemesis.bands, end);
            charts::charts(&mut h, &ops, &nemesis.bands, end);
            page::nemesis_table(&mut h, &nemesis);
        }
    }
    page::files(&mut h, run);
    h.push_str(&page_end());
    h
}
