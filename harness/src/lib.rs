//! The tumult testbed: scenario files, the simulated world, clients, the
//! nemesis, histories, and the `tumult` command line.

pub mod cli;
pub mod scenario;
pub mod app;
pub mod sim;
pub mod conform;
pub mod run;
pub mod mutants;
pub mod shrink;
pub mod suite;
