//! What "correct" means for tumult, defined once: the history format, the
//! sequential specifications checked for linearizability, the Raft safety
//! invariants, the stateright model of the protocol, and trace conformance.

pub mod artifact;
pub mod conformance;
pub mod core_model;
pub mod history;
pub mod invariants;
pub mod lin;
pub mod model;
