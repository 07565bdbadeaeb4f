//! `tumult model [--impl] [--servers N] [--max-term T] [--max-log L] [--threads N] [--bug NAME]`:
//! exhaustively checks the stateright model of the protocol
//! (`tumult_models::model`, the specification) or, with `--impl`, the
//! engine's production core itself (`tumult_models::core_model`) with
//! breadth-first search, and prints the figures of the search or the
//! shortest counterexample as numbered steps. `--serve ADDR` opens the
//! search in stateright's web explorer instead.
//!
//! Exit codes: 0 no counterexample, 1 a counterexample, 2 bad arguments,
//! 3 timed out.

use super::Exit;
use std::fmt;
use std::hash::Hash;
use std::io::IsTerminal;
use std::time::Duration;
use tumult_engine::mutants::Mutant;
use tumult_models::core_model::{CoreConfig, CoreModel};
use tumult_models::model::{check, Bug, Explain, Limits, ModelConfig, RaftModel, Search};

/// Arguments of `tumult model`.
#[derive(Clone, Debug, clap::Args)]
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
    /// Check a deliberately broken variant: commit-old-term, double-vote or
    /// early-membership-change; with --impl (and --features mutants) a core
    /// mutant, with its demo bounds unless bounds are given.
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
    /// Check the engine's production consensus core (`engine::raft::Raft`,
    /// unchanged) instead of the specification; `--bug` then names a core
    /// mutant (builds with `--features mutants`).
    #[arg(long = "impl")]
    pub implementation: bool,
    /// With --impl: crashes in one path.
    #[arg(long, default_value_t = 1)]
    pub max_crashes: u8,
    /// With --impl: read-index reads in one path (0: none).
    #[arg(long, default_value_t = 1)]
    pub max_reads: u8,
    /// With --impl: messages may also be removed without delivery (loss is
    /// already never delivering; this only tells more states apart).
    #[arg(long)]
    pub drops: bool,
    /// With --impl: messages of one kind in flight on one link; a newer one
    /// makes the oldest lost.
    #[arg(long, default_value_t = 2)]
    pub link_capacity: usize,
    /// With --impl: leave out duplicated deliveries.
    #[arg(long)]
    pub no_duplicates: bool,
    /// With --impl: most entries in one Append (the engine's
    /// max_append_entries; 1 sends an older suffix entry by entry).
    #[arg(long, default_value_t = 64)]
    pub max_append_entries: usize,
    /// With --impl: membership changes proposed in one path (0: none; the
    /// same as --no-membership).
    #[arg(long, default_value_t = 1)]
    pub max_changes: u8,
    /// Give up (inconclusive, exit 3) once the checker holds this much
    /// memory, like 512MiB or 8GiB.
    #[arg(long, default_value = "8GiB", value_parser = tumult_models::lin::parse_size)]
    pub memory: u64,
    /// How to walk the state space: bfs (breadth-first: exhaustive,
    /// shortest counterexamples), dfs (depth-first: exhaustive, memory
    /// bounded by the depth) or random[:SEED] (random walks from the
    /// initial state, never exhaustive: for bounds too large to exhaust).
    #[arg(long, default_value = "bfs", value_name = "bfs|dfs|random[:SEED]")]
    pub search: Search,
    /// Open the search in stateright's web explorer at this address (for
    /// example localhost:3000) instead of checking.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
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

    fn core_config(&self) -> Result<CoreConfig, String> {
        let mutant = match &self.bug {
            None => None,
            Some(name) => Some(Mutant::for_flag(name).map_err(|e| e.replace("--mutant", "--bug"))?),
        };
        let on = |off: bool, n: u8| if off { 0 } else { n };
        let config = CoreConfig {
            servers: self.servers,
            voters: self.voters.unwrap_or(self.servers),
            max_term: self.max_term,
            max_log: self.max_log,
            client_requests: !self.no_client_requests,
            crashes: on(self.no_crashes, self.max_crashes),
            reads: self.max_reads,
            changes: on(self.no_membership, self.max_changes),
            transfers: on(self.no_transfer, 1),
            compaction: !self.no_compaction,
            duplicates: !self.no_duplicates,
            drops: self.drops,
            link_capacity: self.link_capacity,
            pre_vote: !self.no_pre_vote,
            check_quorum: true,
            max_append_entries: self.max_append_entries,
            mutant,
        };
        if self.no_noop || self.no_symmetry {
            return Err(format!(
                "--{} applies to the specification only: the core always appends its no-op \
                 and is not reduced by symmetry",
                if self.no_noop {
                    "no-noop"
                } else {
                    "no-symmetry"
                }
            ));
        }
        config.validate().map_err(|e| format!("--{e}"))?;
        Ok(config)
    }
}

/// Runs the model check.
pub fn run(args: ModelArgs) -> Exit {
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        eprintln!("tumult model: --threads must be at least 1");
        return Exit::BadInput;
    }
    if matches!(args.search, Search::Random(_)) && args.timeout.is_none() {
        eprintln!("tumult model: --search random walks until --timeout SECONDS; give one");
        return Exit::BadInput;
    }
    if args.implementation {
        return run_core(&args, threads);
    }
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tumult model: {e}");
            return Exit::BadInput;
        }
    };
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
    let exit = search(&model, &args, threads);
    if exit == Exit::Pass || exit == Exit::Inconclusive {
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
    }
    exit
}

impl ModelArgs {
    /// With `--impl --bug NAME` and every bound at its default, the
    /// mutant's demo bounds and search instead (the README's table).
    fn with_demo_bounds(&self) -> Option<ModelArgs> {
        let m = Mutant::for_flag(self.bug.as_deref()?).ok()?;
        let at_defaults = self.servers == 3
            && self.voters.is_none()
            && self.max_term == 2
            && self.max_log == 2
            && self.max_crashes == 1
            && self.max_reads == 1
            && self.max_changes == 1
            && self.max_append_entries == 64
            && self.link_capacity == 2
            && !(self.drops
                || self.no_duplicates
                || self.no_membership
                || self.no_transfer
                || self.no_compaction
                || self.no_crashes
                || self.no_client_requests
                || self.no_pre_vote)
            && self.search == Search::BreadthFirst;
        if !at_defaults {
            return None;
        }
        let (c, how) = CoreConfig::demo(m)?;
        let mut a = self.clone();
        a.servers = c.servers;
        a.voters = Some(c.voters);
        a.max_term = c.max_term;
        a.max_log = c.max_log;
        a.max_crashes = c.crashes;
        a.max_reads = c.reads;
        a.max_changes = c.changes;
        a.no_membership = c.changes == 0;
        a.no_transfer = c.transfers == 0;
        a.no_compaction = !c.compaction;
        a.no_duplicates = !c.duplicates;
        a.drops = c.drops;
        a.link_capacity = c.link_capacity;
        a.max_append_entries = c.max_append_entries;
        a.no_client_requests = !c.client_requests;
        a.search = how;
        if matches!(how, Search::Random(_)) && a.timeout.is_none() {
            a.timeout = Some(60);
        }
        println!(
            "no bounds given: {m}'s demo bounds, as if run with {}",
            demo_flags(&c, how)
        );
        Some(a)
    }
}

/// `--impl`: the production core.
fn run_core(args: &ModelArgs, threads: usize) -> Exit {
    let demo = args.with_demo_bounds();
    let args = demo.as_ref().unwrap_or(args);
    let config = match args.core_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tumult model --impl: {e}");
            return Exit::BadInput;
        }
    };
    println!(
        "model --impl (the engine's consensus core): {} servers ({} voters), max term {}, max log {}, \
         pre-vote {}, check-quorum {}, crashes {}, reads {}, membership changes {}, transfers {}, \
         compaction {}, duplicates {}, drops {}{}",
        config.servers,
        config.voters,
        config.max_term,
        config.max_log,
        on(config.pre_vote),
        on(config.check_quorum),
        config.crashes,
        config.reads,
        config.changes,
        config.transfers,
        on(config.compaction),
        on(config.duplicates),
        on(config.drops),
        config.mutant.map(|m| format!(", bug {m}")).unwrap_or_default()
    );
    let mutant = config.mutant;
    let exit = search(&CoreModel::new(config), args, threads);
    if let (Some(m), Exit::Pass | Exit::Inconclusive) = (mutant, exit) {
        match CoreConfig::demo(m) {
            Some((d, how)) => println!(
                "hint: {m} shows with --impl --bug {m} {}",
                demo_flags(&d, how)
            ),
            None => println!("hint: no bounds tried so far expose {m} (see the README's table)"),
        }
    }
    exit
}

/// The command-line flags that give `c` and `how`.
fn demo_flags(c: &CoreConfig, how: Search) -> String {
    let mut f = format!(
        "--servers {} --max-term {} --max-log {} --max-crashes {} --max-reads {} --max-changes {} \
         --max-append-entries {} --link-capacity {}",
        c.servers,
        c.max_term,
        c.max_log,
        c.crashes,
        c.reads,
        c.changes,
        c.max_append_entries,
        c.link_capacity
    );
    for (off, flag) in [
        (c.transfers == 0, " --no-transfer"),
        (!c.compaction, " --no-compaction"),
        (!c.duplicates, " --no-duplicates"),
        (!c.client_requests, " --no-client-requests"),
        (c.drops, " --drops"),
    ] {
        if off {
            f.push_str(flag);
        }
    }
    f.push_str(&format!(" --search {how}"));
    if matches!(how, Search::Random(_)) {
        f.push_str(" --timeout 60");
    }
    f
}

/// Checks (or serves) `model` and prints the figures and any counterexample.
fn search<M>(model: &M, args: &ModelArgs, threads: usize) -> Exit
where
    M: Explain,
    M::State: Clone + fmt::Debug + fmt::Display + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + fmt::Debug + fmt::Display + PartialEq + Send + Sync + 'static,
{
    if let Some(addr) = &args.serve {
        // stateright's server panics on an address it cannot bind: try it first.
        if let Err(e) = std::net::TcpListener::bind(addr.as_str()) {
            eprintln!("tumult model: --serve {addr}: cannot listen there: {e}");
            return Exit::BadInput;
        }
        println!("serving the explorer at http://{addr} (Ctrl-C to stop)");
        // Blocks for as long as the server runs.
        let _ = model
            .clone()
            .checker()
            .threads(threads)
            .serve(addr.as_str());
        return Exit::Pass;
    }
    let tty = std::io::stderr().is_terminal();
    let limits = Limits {
        timeout: args.timeout.map(Duration::from_secs),
        memory: Some(args.memory),
        search: args.search,
        ..Limits::new(threads, Duration::from_secs(2))
    };
    let report = check(model, &limits, &mut |p| {
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
    for name in &report.unreached {
        println!("warning: \"{name}\" was never reached within these bounds");
    }
    if let Some(rss) = report.out_of_memory {
        println!(
            "gave up at {:.1} GiB resident (--memory {:.1} GiB) before the state space was \
             exhausted: inconclusive (--search dfs or random needs far less)",
            rss as f64 / (1u64 << 30) as f64,
            args.memory as f64 / (1u64 << 30) as f64
        );
        return Exit::Inconclusive;
    }
    if report.timed_out {
        if matches!(args.search, Search::Random(_)) {
            println!("no counterexample on the random walks within --timeout: inconclusive");
            return Exit::Inconclusive;
        }
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
