//! `tumult model [--servers N] [--max-term T] [--max-log L] [--threads N] [--bug NAME]`:
//! exhaustively checks the stateright model of the protocol
//! (`tumult_models::model`) with breadth-first search, and prints the figures
//! of the search or the shortest counterexample as numbered steps.
//!
//! Exit codes: 0 no counterexample, 1 a counterexample, 2 bad arguments.

use super::Exit;
use std::io::IsTerminal;
use std::time::Duration;
use tumult_models::model::{Bug, ModelConfig, RaftModel};

/// Arguments of `tumult model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Servers in the model (1..=6).
    #[arg(long, default_value_t = 3)]
    pub servers: usize,
    /// Initial voters (default: all servers; the rest are spares that can be added).
    #[arg(long)]
    pub voters: Option<usize>,
    /// Highest term any server may reach (1..=8).
    #[arg(long, default_value_t = 2)]
    pub max_term: u64,
    /// Highest log index any server may reach (1..=8).
    #[arg(long, default_value_t = 2)]
    pub max_log: u64,
    /// Checker threads (default: the available cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Check a deliberately broken variant: commit-old-term, double-vote or early-membership-change.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
    /// New leaders append no no-op.
    #[arg(long)]
    pub no_noop: bool,
    /// Leave out client commands (leaders append only no-ops and configurations).
    #[arg(long)]
    pub no_client_requests: bool,
    /// Leave out pre-vote.
    #[arg(long)]
    pub no_pre_vote: bool,
    /// Leave out crashes and restarts.
    #[arg(long)]
    pub no_crashes: bool,
    /// Leave out log compaction and snapshots.
    #[arg(long)]
    pub no_compaction: bool,
    /// Leave out membership changes.
    #[arg(long)]
    pub no_membership: bool,
    /// Leave out leadership transfer.
    #[arg(long)]
    pub no_transfer: bool,
    /// Explore every renaming of the servers separately (no symmetry reduction).
    #[arg(long)]
    pub no_symmetry: bool,
    /// Give up after this many seconds (the result is then inconclusive, exit 3).
    #[arg(long)]
    pub timeout: Option<u64>,
}

impl ModelArgs {
    fn config(&self) -> Result<ModelConfig, String> {
        let bug = match &self.bug {
            None => None,
            Some(name) => Some(Bug::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                format!(
                    "--bug: unknown variant {name:?}; known: {}",
                    known.join(", ")
                )
            })?),
        };
        let config = ModelConfig {
            servers: self.servers,
            voters: self.voters.unwrap_or(self.servers),
            max_term: self.max_term,
            max_log: self.max_log,
            noop: !self.no_noop,
            client_requests: !self.no_client_requests,
            pre_vote: !self.no_pre_vote,
            crashes: !self.no_crashes,
            compaction: !self.no_compaction,
            membership: !self.no_membership,
            transfer: !self.no_transfer,
            bug,
        };
        config.validate().map_err(|e| format!("--{e}"))?;
        Ok(config)
    }
}

/// Runs the model check.
pub fn run(args: ModelArgs) -> Exit {
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tumult model: {e}");
            return Exit::BadInput;
        }
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        eprintln!("tumult model: --threads must be at least 1");
        return Exit::BadInput;
    }
    let mut model = RaftModel::new(config.clone());
    model.symmetry = !args.no_symmetry;
    println!(
        "model: {} servers ({} voters), max term {}, max log {}, pre-vote {}, crashes {}, compaction {}, membership {}, transfer {}, symmetry {}{}",
        config.servers,
        config.voters,
        config.max_term,
        config.max_log,
        on(config.pre_vote),
        on(config.crashes),
        on(config.compaction),
        on(config.membership),
        on(config.transfer),
        on(model.symmetry),
        config.bug.map(|b| format!(", bug {b}")).unwrap_or_default()
    );

    let tty = std::io::stderr().is_terminal();
    let timeout = args.timeout.map(Duration::from_secs);
    let report = model.check(threads, timeout, Duration::from_secs(2), &mut |p| {
        if tty {
            eprint!(
                "\r  {} states, {} unique, depth {}, {:.0} s   ",
                p.states, p.unique, p.depth, p.seconds
            );
        }
    });
    if tty {
        eprint!("\r{:70}\r", "");
    }
    let p = report.progress;
    println!("states generated: {}", p.states);
    println!("unique states:    {}", p.unique);
    println!("max depth:        {}", p.depth);
    println!("seconds:          {:.1}", p.seconds);
    println!(
        "states/second:    {:.0} (unique {:.0})",
        p.states as f64 / p.seconds.max(1e-9),
        p.unique as f64 / p.seconds.max(1e-9)
    );
    if let Some(cx) = &report.counterexample {
        println!();
        println!("COUNTEREXAMPLE: {cx}");
        for name in &report.also_violated {
            println!("also violated: \"{name}\"");
        }
        return Exit::Fail;
    }
    if let Some(bug) = config.bug {
        let d = bug.demo_config();
        println!(
            "hint: {bug} shows with --servers {} --voters {} --max-term {} --max-log {}{}{} \
             --no-client-requests --no-pre-vote --no-crashes --no-compaction --no-transfer",
            d.servers,
            d.voters,
            d.max_term,
            d.max_log,
            if d.noop { "" } else { " --no-noop" },
            if d.membership { "" } else { " --no-membership" },
        );
    }
    for name in &report.unreached {
        println!("warning: \"{name}\" was never reached within these bounds");
    }
    if report.timed_out {
        println!("timed out before the state space was exhausted: inconclusive");
        return Exit::Inconclusive;
    }
    println!("no counterexample");
    Exit::Pass
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}
