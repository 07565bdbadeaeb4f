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
pub(crate) mod config;
mod driver;
pub(crate) mod input;
pub(crate) mod metrics;
mod peers;

pub use app::RaftApp;
pub use config::{
    Env, NodeConfig, NodeError, SyncLatency, DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS,
    DEFAULT_TICK,
};
pub use input::{ClientError, ReadMode, ShardStatus};
pub use metrics::{NodeMetrics, PeerMetrics};

use crate::raft::{Membership, NodeId, RequestId, ShardId};
use crate::transport::service::Service;
use crate::transport::TlsNetwork;
use input::{Input, Reply};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

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
    /// starts the driver. A node that cannot start reports `stop` with the
    /// reason on every shard it was configured with, as one that stops
    /// itself later does.
    pub async fn start(config: NodeConfig, env: Env, app: impl RaftApp) -> Result<Node, NodeError> {
        let id = config.id;
        let shards: Vec<ShardId> = config.shards.iter().map(|(s, _)| *s).collect();
        let trace = Arc::clone(&env.trace);
        let started = Node::open(config, env, app).await;
        if let Err(e) = &started {
            let stop = crate::trace::TraceEvent::Stop {
                reason: e.to_string(),
            };
            for shard in shards {
                trace.emit(id, shard, &stop);
            }
        }
        started
    }

    async fn open(config: NodeConfig, env: Env, app: impl RaftApp) -> Result<Node, NodeError> {
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
        let svc = Service::new(&config, inputs.clone(), known, store, Arc::clone(&counters));
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
