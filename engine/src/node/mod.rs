//! Hosts many shards on one node: timers, batching, the apply loop,
//! snapshots, and the client API.
//!
//! One task (the driver) owns every shard's consensus core, the store and the
//! application. Each turn it takes what arrived (peer messages, client
//! requests, the tick), steps the cores, writes what all shards must persist
//! in ONE storage transaction, waits for the sync (and the injected sync
//! latency), and only then sends the messages that depend on those writes, one
//! batch per peer, applies committed entries and answers clients.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use tumult_engine::node::{Env, Node, NodeConfig, RaftApp};
//! use tumult_engine::raft::{Index, Membership, ShardId};
//!
//! struct Echo;
//! impl RaftApp for Echo {
//!     fn apply(&mut self, _: ShardId, _: Index, c: &[u8]) -> Vec<u8> { c.to_vec() }
//!     fn read(&mut self, _: ShardId, _: &[u8]) -> Vec<u8> { Vec::new() }
//!     fn snapshot(&mut self, _: ShardId) -> Vec<u8> { Vec::new() }
//!     fn restore(&mut self, _: ShardId, _: &[u8]) {}
//! }
//!
//! let peers: BTreeMap<u64, String> =
//!     (1..=3).map(|i| (i, format!("127.0.0.1:{}", 7000 + i))).collect();
//! let mut config = NodeConfig::new(1, peers, "/tmp/tumult-n1".into());
//! config.shards = vec![(0, Membership::new([1, 2, 3]))];
//! let node = Node::start(config, Env::production(), Echo).await?;
//! let reply = node.write(0, None, b"hello".to_vec()).await;
//! # Ok(()) }
//! ```

mod app;
mod driver;
mod metrics;
mod peers;
mod service;

pub use app::RaftApp;
pub use metrics::{NodeMetrics, PeerMetrics};

use crate::raft::{Index, Membership, NodeId, RequestId, ShardId, SnapshotMeta};
use crate::storage::{Disk, StdDisk, StorageError};
use crate::trace::{NoTrace, TraceSink};
use crate::transport::{
    Credentials, LinkConfig, Network, ServerLimits, TcpNetwork, TlsConfig, TlsNetwork,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

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
    /// Pre-vote (§9.6) on or off.
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
    /// [`TlsNetwork`]): a peer's batch must come from the node its
    /// certificate names. `None`: plain TCP.
    pub tls: Option<TlsConfig>,
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

impl NodeConfig {
    /// A configuration with the defaults: 50 ms ticks, elections after
    /// 10..20 ticks, heartbeats every 2 ticks, pre-vote and check-quorum on.
    pub fn new(id: NodeId, peers: BTreeMap<NodeId, String>, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            id,
            peers,
            listen: None,
            data_dir,
            tick: Duration::from_millis(50),
            election_ticks: (10, 20),
            heartbeat_ticks: 2,
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
            max_sessions: app::DEFAULT_SESSIONS,
            tls: None,
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

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A request to the driver.
pub(crate) enum Input {
    /// Raft messages from a peer.
    Peer {
        from: NodeId,
        messages: Vec<(ShardId, crate::raft::Message)>,
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

/// A running node: the handle to its client API. Dropping it does not stop
/// the node; [`Node::shutdown`] does.
#[derive(Clone)]
pub struct Node {
    id: NodeId,
    inputs: mpsc::Sender<Input>,
    stopped: watch::Receiver<Option<NodeError>>,
    shutdown: Arc<watch::Sender<bool>>,
    counters: Arc<metrics::Counters>,
}

impl Node {
    /// Opens the node's store, recovers its shards, starts listening and
    /// starts the driver.
    pub async fn start(config: NodeConfig, env: Env, app: impl RaftApp) -> Result<Node, NodeError> {
        // With TLS, every connection the node makes or accepts is mutual TLS.
        let env = match &config.tls {
            Some(tls) => Env {
                network: Arc::new(
                    TlsNetwork::new(Arc::clone(&env.network), tls, &config.peers)
                        .map_err(|e| NodeError::Tls(e.to_string()))?,
                ),
                ..env
            },
            None => env,
        };
        // Bounded: a flood of requests waits for room (back-pressure up to
        // the connections) instead of queueing without limit.
        let (inputs, inputs_rx) = mpsc::channel(config.max_queued_inputs.max(1));
        let (stop_tx, stopped) = watch::channel(None);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let id = config.id;
        let counters = Arc::new(metrics::Counters::new(id, config.peers.keys().copied()));
        let driver = driver::Driver::open(
            config.clone(),
            env.clone(),
            Box::new(app),
            inputs.clone(),
            Arc::clone(&counters),
        )?;
        let known = driver.known_shards();
        let store = driver.store();
        let listen = config
            .listen
            .clone()
            .or_else(|| config.peers.get(&config.id).cloned())
            .unwrap_or_else(|| "0.0.0.0:7000".to_string());
        let listener = env
            .network
            .bind(&listen)
            .await
            .map_err(|e| NodeError::Listen {
                addr: listen.clone(),
                why: e.to_string(),
            })?;
        let svc =
            service::Service::new(&config, inputs.clone(), known, store, Arc::clone(&counters));
        let max_message_bytes = config.max_message_bytes;
        let mut server_shutdown = shutdown_rx.clone();
        let mut server_stopped = stopped.clone();
        let net = Arc::clone(&env.network);
        let link = config.link;
        let limits = config.server_limits;
        env.network.spawn(Box::pin(async move {
            let signal = async move {
                tokio::select! {
                    biased;
                    _ = server_shutdown.wait_for(|s| *s) => {}
                    _ = server_stopped.wait_for(|s| s.is_some()) => {}
                }
            };
            let server = crate::transport::pb::tumult_server::TumultServer::new(svc)
                .max_decoding_message_size(max_message_bytes);
            crate::transport::serve(net, listener, server, link, limits, signal).await;
            tracing::debug!(node = id, "server ended");
        }));
        // A panic in the driver (a broken invariant) must stop the node
        // visibly: the supervisor records it, which also shuts the server.
        let supervisor_tx = stop_tx.clone();
        env.network.spawn(Box::pin(async move {
            use futures::FutureExt;
            let run = std::panic::AssertUnwindSafe(driver.run(inputs_rx, shutdown_rx, stop_tx));
            if let Err(payload) = run.catch_unwind().await {
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                tracing::error!(node = id, "driver stopped: {why}");
                supervisor_tx.send_if_modified(|s| {
                    if s.is_none() {
                        *s = Some(NodeError::Crashed(why));
                        true
                    } else {
                        false
                    }
                });
            }
        }));
        Ok(Node {
            id,
            inputs,
            stopped,
            shutdown: Arc::new(shutdown_tx),
            counters,
        })
    }

    /// Traffic counters: `Deliver` batches and streams, Raft messages, per peer. Cheap,
    /// synchronous, and readable from outside the node's runtime.
    ///
    /// ```no_run
    /// # fn f(node: &tumult_engine::node::Node) {
    /// let m = node.metrics();
    /// println!("{} deliver batches carried {} messages", m.deliver_sent(), m.messages_sent());
    /// # }
    /// ```
    pub fn metrics(&self) -> NodeMetrics {
        self.counters.snapshot()
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Input) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inputs
            .send(make(tx))
            .await
            .map_err(|_| ClientError::Stopped(self.stop_reason()))?;
        rx.await
            .map_err(|_| ClientError::Stopped(self.stop_reason()))?
    }

    fn stop_reason(&self) -> String {
        match &*self.stopped.borrow() {
            Some(e) => e.to_string(),
            None => "stopped".into(),
        }
    }

    /// Replicates a command; answers with the application's reply once it is
    /// committed and applied. With a request id, a retry is applied once.
    pub async fn write(
        &self,
        shard: ShardId,
        request: Option<RequestId>,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        self.ask(|reply| Input::Write {
            shard,
            request,
            data,
            reply,
        })
        .await
    }

    /// Reads through the application.
    pub async fn read(
        &self,
        shard: ShardId,
        query: Vec<u8>,
        mode: ReadMode,
    ) -> Result<Vec<u8>, ClientError> {
        self.ask(|reply| Input::Read {
            shard,
            query,
            mode,
            reply,
        })
        .await
    }

    /// Adds `node` to the voters of `shard` (single-server change); answers
    /// once the change is committed.
    pub async fn add_server(&self, shard: ShardId, node: NodeId) -> Result<(), ClientError> {
        self.ask(|reply| Input::ChangeMembership {
            shard,
            node,
            add: true,
            reply,
        })
        .await
        .map(drop)
    }

    /// Removes `node` from the voters of `shard`; a leader that removes
    /// itself hands leadership over first.
    pub async fn remove_server(&self, shard: ShardId, node: NodeId) -> Result<(), ClientError> {
        self.ask(|reply| Input::ChangeMembership {
            shard,
            node,
            add: false,
            reply,
        })
        .await
        .map(drop)
    }

    /// Hands leadership of `shard` to `to` (or, with `None`, to the follower
    /// with the most replicated log; the leader brings the target's log up to
    /// date before handing over).
    pub async fn transfer_leader(
        &self,
        shard: ShardId,
        to: Option<NodeId>,
    ) -> Result<(), ClientError> {
        self.ask(|reply| Input::Transfer { shard, to, reply })
            .await
            .map(drop)
    }

    /// The state of one shard on this node.
    pub async fn status(&self, shard: ShardId) -> Result<ShardStatus, ClientError> {
        self.ask(|reply| Input::Status { shard, reply }).await
    }

    /// Starts hosting a shard at run time.
    pub async fn add_shard(
        &self,
        shard: ShardId,
        membership: Membership,
    ) -> Result<(), ClientError> {
        self.ask(|reply| Input::AddShard {
            shard,
            membership,
            reply,
        })
        .await
    }

    /// Stops hosting a shard and deletes its state.
    pub async fn remove_shard(&self, shard: ShardId) -> Result<(), ClientError> {
        self.ask(|reply| Input::RemoveShard { shard, reply }).await
    }

    /// Waits until the node stops, and says why.
    pub async fn stopped(&self) -> NodeError {
        let mut rx = self.stopped.clone();
        let result = match rx.wait_for(|s| s.is_some()).await {
            Ok(s) => s.clone().unwrap_or(NodeError::Shutdown),
            Err(_) => NodeError::Shutdown,
        };
        result
    }

    /// Stops the node.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
