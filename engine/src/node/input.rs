//! The driver's vocabulary: the inputs it takes, the replies it sends and the
//! errors they carry. The node's handle and the gRPC service
//! (`transport::service`) both speak to the driver in these terms only.

use crate::raft::{Index, Membership, Message, NodeId, RequestId, ShardId, SnapshotMeta};
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use tokio::sync::oneshot;

/// Why a client request did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// This node is not the leader of the shard; try `leader`.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader, if this node knows it.
        leader: Option<NodeId>,
    },
    /// This node does not host the shard.
    #[error("unknown shard {0}")]
    UnknownShard(ShardId),
    /// Refused before anything was proposed: it certainly did not happen.
    #[error("refused: {0}")]
    Refused(String),
    /// Leadership changed after the request was proposed: it may or may not
    /// take effect.
    #[error("leadership lost; the outcome is unknown")]
    Indeterminate,
    /// The node stopped.
    #[error("node stopped: {0}")]
    Stopped(String),
}

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Read-index: the leader confirms its leadership with a quorum and
    /// serves once it has applied up to the commit index it saw.
    Linearizable,
    /// Served by whichever replica receives it, from its applied state:
    /// possibly stale.
    Local,
}

/// The state of one shard on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardStatus {
    /// The shard.
    pub shard: ShardId,
    /// "follower", "pre-candidate", "candidate" or "leader".
    pub role: String,
    /// Current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// Commit index.
    pub commit: Index,
    /// Applied index.
    pub applied: Index,
    /// Last log index.
    pub last_index: Index,
    /// Voters in force.
    pub membership: Membership,
    /// Index of the latest snapshot.
    pub snapshot_index: Index,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A request to the driver.
pub(crate) enum Input {
    /// Raft messages from a peer.
    Peer {
        from: NodeId,
        messages: Vec<(ShardId, Message)>,
    },
    Write {
        shard: ShardId,
        request: Option<RequestId>,
        data: Vec<u8>,
        reply: Reply<Vec<u8>>,
    },
    Read {
        shard: ShardId,
        query: Vec<u8>,
        mode: ReadMode,
        reply: Reply<Vec<u8>>,
    },
    ChangeMembership {
        shard: ShardId,
        node: NodeId,
        add: bool,
        reply: Reply<Vec<u8>>,
    },
    Transfer {
        shard: ShardId,
        to: Option<NodeId>,
        reply: Reply<Vec<u8>>,
    },
    Status {
        shard: ShardId,
        reply: Reply<ShardStatus>,
    },
    AddShard {
        shard: ShardId,
        membership: Membership,
        reply: Reply<()>,
    },
    RemoveShard {
        shard: ShardId,
        reply: Reply<()>,
    },
    SnapshotFetched {
        shard: ShardId,
        result: Option<(SnapshotMeta, Vec<u8>)>,
    },
}

/// The shards this node hosts, shared by the driver with the gRPC service so
/// it can refuse messages for unknown shards.
pub(crate) type KnownShards = Arc<RwLock<BTreeSet<ShardId>>>;
