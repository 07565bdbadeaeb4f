//! tumult-engine: a Multi-Raft engine. Many Raft groups ("shards") per node,
//! gRPC between nodes, durable state in redb.
//!
//! The layers, bottom up: [`raft`] is the consensus core of one shard, a pure
//! state machine; [`storage`] keeps logs and ballots on disk; [`transport`]
//! carries messages between nodes; [`node`] drives many shards with timers,
//! batching and the application; [`client`] finds leaders and retries;
//! [`trace`] describes what happened.

pub mod buggify;
pub mod client;
pub mod mutants;
pub mod node;
pub mod raft;
pub mod storage;
pub mod trace;
pub mod transport;

/// `mutant!(active, Name)`: whether `active` (an `Option<Mutant>` taken
/// from the node's configuration, [`NodeConfig::mutant`](crate::node::NodeConfig)
/// or [`Config::mutant`](crate::raft::Config)) is the deliberate bug `Name`
/// of [`mutants::Mutant`]. Without the feature `mutants` it is the constant
/// `false`, so the hook costs nothing.
#[cfg(feature = "mutants")]
#[macro_export]
macro_rules! mutant {
    ($active:expr, $name:ident) => {
        $active == Some($crate::mutants::Mutant::$name)
    };
}

/// `mutant!(active, Name)`: always `false` without the feature `mutants`.
#[cfg(not(feature = "mutants"))]
#[macro_export]
macro_rules! mutant {
    ($active:expr, $name:ident) => {{
        let _ = &$active;
        false
    }};
}
