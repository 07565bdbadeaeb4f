//! `tumult check HISTORY [--format F] [--timeout S] [--memory SIZE]`: checks
//! a recorded history for linearizability (`tumult_models::lin`) and prints
//! the verdict with its figures.
//!
//! Exit codes: 0 linearizable, 1 a violation, 2 bad input (the message names
//! the file, the line and what is wrong), 3 inconclusive (out of time, or a
//! key's search needed more than the memory budget).
//! A violation's operations are drawn into `NAME.lin.html` next to the
//! history (`--html` elsewhere, `--no-html` not at all).

use super::Exit;
use std::path::PathBuf;
use std::time::Duration;
use tumult_models::history::HistoryError;
use tumult_models::lin::jepsen::{self, JepsenModel, JepsenOptions};
use tumult_models::lin::{self, CheckOptions, Format, KeyResult, Report, Verdict};

/// Arguments of `tumult check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The history file.
    pub history: PathBuf,
    /// Its format: tumult (history.jsonl), porcupine-kv, jepsen-etcd or jepsen-edn
    /// (Jepsen's history.edn).
    #[arg(long, default_value = "tumult", value_parser = parse_format)]
    pub format: Format,
    /// The Knossos model of a jepsen-edn history: register, cas-register or multi-register.
    #[arg(long, value_parser = parse_model)]
    pub model: Option<JepsenModel>,
    /// The initial value of a jepsen-edn history's registers, as EDN (default nil).
    #[arg(long, value_parser = parse_initial)]
    pub initial: Option<String>,
    /// Give up after this many seconds (the verdict is then inconclusive, exit 3).
    #[arg(long, default_value = "300", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Memory the checker's searches may hold at once, like 512MiB or 4GiB; a key whose
    /// search needs more is inconclusive (exit 3) instead of exhausting the machine.
    #[arg(long, default_value = "4GiB", value_parser = lin::parse_size)]
    pub memory: u64,
    /// Seconds allowed for shrinking a violation to a small set of operations (0: report all of the key's).
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub shrink: Duration,
    /// Where to write the visualization of a violation (default: NAME.lin.html next to the history).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Do not write the visualization.
    #[arg(long, conflicts_with = "html")]
    pub no_html: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_model(s: &str) -> Result<JepsenModel, String> {
    s.parse()
}

fn parse_initial(s: &str) -> Result<String, String> {
    jepsen::parse_initial(s).map(|_| s.to_string())
}

/// Seconds, optionally fractional, optionally with an `s` suffix.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    let secs: f64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{s:?} is not a non-negative number of seconds"))
}

/// Runs the check.
pub fn run(args: CheckArgs) -> Exit {
    let file = args.history.display().to_string();
    let edn = args.format == Format::JepsenEdn;
    if !edn && (args.model.is_some() || args.initial.is_some()) {
        eprintln!(
            "tumult check: --model and --initial apply to --format jepsen-edn only (the format {} names its model)",
            args.format
        );
        return Exit::BadInput;
    }
    if edn && args.model.is_none() {
        eprintln!(
            "tumult check: --format jepsen-edn needs --model register, cas-register or multi-register"
        );
        return Exit::BadInput;
    }
    let html = if args.no_html {
        None
    } else {
        Some(
            args.html
                .clone()
                .unwrap_or_else(|| lin::html_path_for(&args.history)),
        )
    };
    let opts = CheckOptions {
        timeout: args.timeout,
        shrink: (!args.shrink.is_zero()).then_some(args.shrink),
        html,
        threads: 0,
        memory_budget: args.memory,
        jepsen: JepsenOptions {
            model: args.model.unwrap_or_default(),
            initial: args.initial.clone(),
        },
    };
    let report = match lin::check_file(&args.history, args.format, &opts) {
        Ok(r) => r,
        Err(HistoryError::Line { line, message }) => {
            eprintln!(
                "tumult check: {file}:{line}: {message} (format {})",
                args.format
            );
            return Exit::BadInput;
        }
        Err(HistoryError::Io(e)) => {
            eprintln!("tumult check: {file}: {e}");
            return Exit::BadInput;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("tumult check: cannot print the report: {e}"),
        }
    } else {
        print!("{}", render(&file, &report));
    }
    match report.verdict {
        Verdict::Ok => Exit::Pass,
        Verdict::Violation { .. } => Exit::Fail,
        Verdict::Unknown => Exit::Inconclusive,
    }
}

/// At most this many operations of a violation are listed.
const MAX_LISTED: usize = 50;

/// The text output: a verdict line with figures, then details.
pub fn render(file: &str, r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let figures = format!(
        "{}; {} operations, {} keys, {:.2} s; {} dropped, {} indeterminate",
        r.model, r.operations, r.keys, r.seconds, r.dropped, r.indeterminate
    );
    match &r.verdict {
        Verdict::Ok => {
            let _ = writeln!(out, "{file}: linearizable ({figures})");
        }
        Verdict::Unknown => {
            let reason = r.reason.clone().unwrap_or_else(|| {
                let unknown: Vec<&str> = r
                    .per_key
                    .iter()
                    .filter(|k| matches!(k.result, KeyResult::Unknown | KeyResult::OverBudget))
                    .map(|k| k.key.as_str())
                    .collect();
                format!("undecided keys: {}", unknown.join(", "))
            });
            let _ = writeln!(out, "{file}: inconclusive: {reason} ({figures})");
            if r.per_key.iter().any(|k| k.result == KeyResult::OverBudget) {
                let _ = writeln!(
                    out,
                    "  a larger budget may decide it: --memory SIZE (e.g. 8GiB)"
                );
            }
        }
        Verdict::Violation {
            key,
            ops,
            key_operations,
            minimal,
            shrink_seconds,
            html,
            html_error,
        } => {
            let _ = writeln!(out, "{file}: NOT linearizable: key {key:?} ({figures})");
            let how = if *minimal {
                "no single one of them can be dropped"
            } else {
                "not proven minimal: shrinking ran out of time or skipped slow candidates"
            };
            let _ = writeln!(
                out,
                "  these {} of the key's {key_operations} operations cannot be linearized ({how}; shrunk in {shrink_seconds:.2} s):",
                ops.len()
            );
            for op in ops.iter().take(MAX_LISTED) {
                let _ = writeln!(out, "    {op}");
            }
            if ops.len() > MAX_LISTED {
                let _ = writeln!(out, "    ... and {} more", ops.len() - MAX_LISTED);
            }
            if let Some(h) = html {
                let _ = writeln!(out, "  visualization: {}", h.display());
            }
            if let Some(e) = html_error {
                let _ = writeln!(out, "  visualization not written: {e}");
            }
        }
    }
    out
}
