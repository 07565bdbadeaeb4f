//! tumult-engine: a Multi-Raft engine. Many Raft groups ("shards") per node,
//! gRPC between nodes, durable state in redb.
//!
//! The layers, bottom up: [`raft`] is the consensus core of one shard, a pure
//! state machine; [`storage`] keeps logs and ballots on disk; [`transport`]
//! carries messages between nodes; [`node`] drives many shards with timers,
//! batching and the application; [`client`] finds leaders and retries;
//! [`trace`] describes what happened.

pub mod client;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod node;
pub mod raft;
pub mod storage;
pub mod trace;
pub mod transport;

/// `mutant!(Name)`: whether the deliberate bug `Name` of
/// [`mutants::Mutant`](crate::mutants) is active on this thread. Without the
/// feature `mutants` it is the constant `false`, so the hook costs nothing.
#[cfg(feature = "mutants")]
#[macro_export]
macro_rules! mutant {
    ($name:ident) => {
        $crate::mutants::is_active($crate::mutants::Mutant::$name)
    };
}

/// `mutant!(Name)`: always `false` without the feature `mutants`.
#[cfg(not(feature = "mutants"))]
#[macro_export]
macro_rules! mutant {
    ($name:ident) => {
        false
    };
}
