//! How a node is set up, the world it runs in, and why it stops.

use crate::raft::{Membership, NodeId, ShardId};
use crate::storage::{Disk, StdDisk, StorageError};
use crate::trace::{NoTrace, TraceSink};
use crate::transport::{Credentials, LinkConfig, Network, ServerLimits, TcpNetwork, TlsConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Address of every node of the cluster, this one included ("host:port").
    pub peers: BTreeMap<NodeId, String>,
    /// Address to listen on; default: this node's entry in `peers`.
    pub listen: Option<String>,
    /// Directory of the node's database.
    pub data_dir: PathBuf,
    /// Length of one logical tick of every shard's core.
    pub tick: Duration,
    /// Election timeout range in ticks, `[min, max)`.
    pub election_ticks: (u32, u32),
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u32,
    /// Pre-vote (§9.6) on or off; on needs `check_quorum`
    /// ([`crate::raft::PRE_VOTE_NEEDS_CHECK_QUORUM`]).
    pub pre_vote: bool,
    /// Check-quorum on or off.
    pub check_quorum: bool,
    /// Most entries in one append message.
    pub max_append_entries: usize,
    /// Seeds the cores' election timeouts (mixed with node and shard ids).
    pub seed: u64,
    /// Connection timing.
    pub link: LinkConfig,
    /// Shards to host from the start, with the membership to bootstrap them
    /// with when the disk holds nothing for them. An empty membership makes
    /// this node a spare for that shard: it waits to be added. Shards found on
    /// disk are always hosted.
    pub shards: Vec<(ShardId, Membership)>,
    /// Bytes per chunk when streaming a snapshot.
    pub snapshot_chunk: usize,
    /// The largest gRPC message this node accepts (and peers, configured
    /// alike, accept from it). Everything the node sends is sized below it:
    /// an Append carries at most a quarter of it in entries (at least one
    /// entry), a peer batch at most seven eighths (at least one message),
    /// and a client write of more than three quarters is refused, so no
    /// message is ever too large to be delivered.
    pub max_message_bytes: usize,
    /// The cluster's id and bearer token (see [`Credentials`]): calls without
    /// the token and peer batches of another cluster are refused; the node
    /// sends both on its own calls to peers.
    pub credentials: Credentials,
    /// Requests (client calls, peer batches) queued for the driver at most;
    /// beyond it their senders wait.
    pub max_queued_inputs: usize,
    /// Connections and calls per connection the server takes on at once.
    pub server_limits: ServerLimits,
    /// Clients whose last request each shard remembers for exactly-once
    /// retries; beyond it the client whose last request is oldest in the log
    /// is forgotten (decided from the log alone, so replicas agree). Must be
    /// the same on every node of the cluster.
    pub max_sessions: usize,
    /// Mutual TLS for every connection, to peers and from clients (see
    /// [`TlsNetwork`](crate::transport::TlsNetwork)): a peer's batch must come from the node its
    /// certificate names. `None`: plain TCP.
    pub tls: Option<TlsConfig>,
    /// The deliberate bug this node runs with (see [`crate::mutants`]): handed
    /// to every core and the store, so it holds on whatever thread or process
    /// runs the node. Only builds with the feature `mutants` act on it.
    pub mutant: Option<crate::mutants::Mutant>,
    /// Fault sites enabled on this node and how often each fires (see
    /// [`crate::buggify`]); empty, the default, outside the simulator.
    pub faults: crate::buggify::FaultSites,
}

impl NodeConfig {
    /// Most entry bytes in one Append (see [`NodeConfig::max_message_bytes`]).
    pub fn max_append_bytes(&self) -> u64 {
        (self.max_message_bytes / 4) as u64
    }
    /// Most bytes in one peer batch.
    pub fn max_batch_bytes(&self) -> usize {
        self.max_message_bytes / 8 * 7
    }
    /// Largest command a client may write.
    pub fn max_write_bytes(&self) -> usize {
        self.max_message_bytes / 4 * 3
    }
}

/// The length of a tick unless configured otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_millis(50);

/// The election timeout range in ticks unless configured otherwise.
pub const DEFAULT_ELECTION_TICKS: (u32, u32) = (10, 20);

/// A leader's heartbeat interval in ticks unless configured.
pub const DEFAULT_HEARTBEAT_TICKS: u32 = 2;

impl NodeConfig {
    /// A configuration with the defaults: 50 ms ticks, elections after
    /// 10..20 ticks, heartbeats every 2 ticks, pre-vote and check-quorum on.
    pub fn new(id: NodeId, peers: BTreeMap<NodeId, String>, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id,
            peers,
            listen: None,
            data_dir,
            tick: DEFAULT_TICK,
            election_ticks: DEFAULT_ELECTION_TICKS,
            heartbeat_ticks: DEFAULT_HEARTBEAT_TICKS,
            pre_vote: true,
            check_quorum: true,
            max_append_entries: 64,
            seed: 0,
            link: LinkConfig::default(),
            shards: Vec::new(),
            snapshot_chunk: 64 * 1024,
            max_message_bytes: 64 * 1024 * 1024,
            credentials: Credentials::default(),
            max_queued_inputs: 1024,
            server_limits: ServerLimits::default(),
            max_sessions: super::app::DEFAULT_SESSIONS,
            tls: None,
            mutant: None,
            faults: crate::buggify::FaultSites::default(),
        }
    }
}

/// Draws how long one storage sync takes (the simulator draws it from the
/// scenario's `fsync` range; production uses no extra delay).
pub type SyncLatency = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The world a node runs in: its network, its disk, the sync latency and
/// where its trace goes.
#[derive(Clone)]
pub struct Env {
    /// Sockets.
    pub network: Arc<dyn Network>,
    /// Files.
    pub disk: Arc<dyn Disk>,
    /// Extra simulated time every sync takes; the node awaits it between the
    /// write and the sync, so a crash can fall in between.
    pub sync_latency: SyncLatency,
    /// Protocol events.
    pub trace: Arc<dyn TraceSink>,
}

impl Env {
    /// Real TCP, real files, no injected latency, no trace sink.
    pub fn production() -> Env {
        Env {
            network: Arc::new(TcpNetwork),
            disk: Arc::new(StdDisk),
            sync_latency: Arc::new(|| Duration::ZERO),
            trace: Arc::new(NoTrace),
        }
    }
}

/// Why a node stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// The disk failed; the node stopped rather than acknowledge unwritten data.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The listener could not be opened.
    #[error("cannot listen on {addr}: {why}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        why: String,
    },
    /// Asked to stop.
    #[error("shut down")]
    Shutdown,
    /// The TLS configuration is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The driver broke an invariant and panicked; the node stopped rather
    /// than run on in a state it cannot vouch for.
    #[error("node crashed: {0}")]
    Crashed(String),
}

impl From<StorageError> for NodeError {
    fn from(e: StorageError) -> Self {
        NodeError::Storage(e.to_string())
    }
}
