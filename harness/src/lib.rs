//! The tumult testbed: scenario files, the simulated world, clients, the
//! nemesis, histories, and the `tumult` command line.

pub mod app;
pub mod check;
pub mod cli;
pub mod explore;
pub mod mutants;
pub mod real;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod suite;
pub mod tls;
pub mod workload;
