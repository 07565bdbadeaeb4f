//! The tumult testbed: scenario files, the simulated world, clients, the
//! nemesis, histories, and the `tumult` command line.

pub mod cli;
pub mod scenario;
