//! The `tumult` command line: one subcommand per file, dispatched here.
//!
//! Exit codes (SPEC.md §1): 0 every run met its expectation, 1 at least one
//! did not, 2 bad usage or bad input, 3 inconclusive.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod check;
pub mod explore;
pub mod model;
pub mod mutants;
pub mod node;
pub mod report;
pub mod run;
pub mod shrink;

/// What a command concluded, as the process exit code of SPEC.md §1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every run met its expectation (check: linearizable; model: no counterexample).
    Pass = 0,
    /// At least one run did not.
    Fail = 1,
    /// Bad usage or bad input.
    BadInput = 2,
    /// A checker ran out of time and nothing failed.
    Inconclusive = 3,
}

impl From<Exit> for ExitCode {
    fn from(o: Exit) -> ExitCode {
        ExitCode::from(o as u8)
    }
}

/// tumult: a Multi-Raft engine and the Jepsen-style testbed that proves it right.
#[derive(Debug, Parser)]
#[command(name = "tumult", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios in the simulator and check every history.
    Run(run::RunArgs),
    /// Run every scenario of a directory.
    Suite(run::SuiteArgs),
    /// Re-run a recorded run and confirm its history is byte-identical.
    Replay(run::ReplayArgs),
    /// Check a recorded history for linearizability.
    Check(check::CheckArgs),
    /// Exhaustively check the stateright model of the protocol.
    Model(model::ModelArgs),
    /// Render a run or suite directory as one self-contained HTML page.
    Report(report::ReportArgs),
    /// Run the suite against each deliberate engine bug and show which check catches it.
    Mutants(mutants::MutantsArgs),
    /// Shrink a failing run to a minimal scenario that still fails the same check.
    Shrink(shrink::ShrinkArgs),
    /// Draw whole scenarios from seeds and run them with the engine's fault sites, guided by coverage.
    Explore(explore::ExploreArgs),
    /// Run one engine node as a process (what `run --real` starts for each node).
    Node(node::NodeArgs),
}

/// Parses the command line and runs the subcommand; usage errors exit 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Pass
            };
            let _ = e.print();
            return code.into();
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Suite(args) => run::suite(args),
        Command::Replay(args) => run::replay_cmd(args),
        Command::Check(args) => check::run(args),
        Command::Model(args) => model::run(args),
        Command::Report(args) => report::run(args),
        Command::Mutants(args) => mutants::run(args),
        Command::Shrink(args) => shrink::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Node(args) => node::run(args),
    };
    outcome.into()
}
