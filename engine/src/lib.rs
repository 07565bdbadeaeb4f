//! tumult-engine: a Multi-Raft engine. Many Raft groups ("shards") per node,
//! gRPC between nodes, durable state in redb.
//!
//! The layers, bottom up: [`raft`] is the consensus core of one shard, a pure
//! state machine; [`storage`] keeps logs and ballots on disk; [`transport`]
//! carries messages between nodes; [`node`] drives many shards with timers,
//! batching and the application; [`client`] finds leaders and retries;
//! [`trace`] describes what happened.

pub mod client;
pub mod node;
pub mod raft;
pub mod storage;
pub mod trace;
pub mod transport;
