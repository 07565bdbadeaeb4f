//! A client of a tumult cluster: finds the leader of each shard, follows
//! redirects, and retries a write with the same request id so that it is
//! applied once.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use tumult_engine::client::Client;
//! use tumult_engine::transport::TcpNetwork;
//!
//! let nodes: BTreeMap<u64, String> =
//!     (1..=3).map(|i| (i, format!("127.0.0.1:{}", 7000 + i))).collect();
//! let mut client = Client::new(Arc::new(TcpNetwork), nodes, 42);
//! client.write(0, b"set x 1".to_vec()).await?;
//! # Ok(()) }
//! ```

use crate::node::{ClientError, ReadMode};
use crate::raft::{NodeId, RequestId, ShardId};
use crate::transport::pb::{self, tumult_client::TumultClient};
use crate::transport::{channel, client, AuthChannel, Credentials, LinkConfig, Network};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What one attempt against one node gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Done, with the reply.
    Ok(Vec<u8>),
    /// That node is not the leader; it named this one (if it knows).
    Redirect(Option<NodeId>),
    /// Certainly had no effect (refused before proposing, unknown shard).
    Refused(String),
    /// Unknown outcome: timeout, lost connection, lost leadership.
    Unknown(String),
}

fn attempt_of(result: Result<tonic::Response<pb::ClientResponse>, tonic::Status>) -> Attempt {
    use pb::client_response::Result as R;
    match result {
        Ok(resp) => match resp.into_inner().result {
            Some(R::Ok(bytes)) => Attempt::Ok(bytes),
            Some(R::NotLeader(nl)) => Attempt::Redirect((nl.leader != 0).then_some(nl.leader)),
            None => Attempt::Unknown("empty response".into()),
        },
        Err(status) => match status.code() {
            tonic::Code::FailedPrecondition
            | tonic::Code::NotFound
            | tonic::Code::InvalidArgument
            | tonic::Code::Unauthenticated
            | tonic::Code::PermissionDenied => Attempt::Refused(status.message().to_string()),
            _ => Attempt::Unknown(format!("{}: {}", status.code(), status.message())),
        },
    }
}

/// A cluster client. Not thread-safe: one outstanding request at a time.
pub struct Client {
    network: Arc<dyn Network>,
    link: LinkConfig,
    nodes: BTreeMap<NodeId, String>,
    conns: BTreeMap<NodeId, TumultClient<AuthChannel>>,
    credentials: Credentials,
    leaders: BTreeMap<ShardId, NodeId>,
    client_id: u64,
    seq: u64,
    /// How long `write`, `read` and the admin calls keep retrying.
    pub deadline: Duration,
    /// Pause between two rounds over all nodes.
    pub backoff: Duration,
}

impl Client {
    /// A client of the cluster whose nodes are at `nodes`; `client_id` must be
    /// unique among the clients of the cluster (it keys exactly-once writes).
    pub fn new(
        network: Arc<dyn Network>,
        nodes: BTreeMap<NodeId, String>,
        client_id: u64,
    ) -> Client {
        Client {
            network,
            link: LinkConfig::default(),
            nodes,
            conns: BTreeMap::new(),
            credentials: Credentials::default(),
            leaders: BTreeMap::new(),
            client_id,
            seq: 0,
            deadline: Duration::from_secs(10),
            backoff: Duration::from_millis(50),
        }
    }

    /// Sets the connection timing (the request timeout bounds one attempt).
    pub fn with_link(mut self, link: LinkConfig) -> Client {
        self.link = link;
        self.conns.clear();
        self
    }

    /// Sends `token` on every call (for a cluster that requires one).
    pub fn with_token(mut self, token: &str) -> Client {
        self.credentials = self.credentials.with_token(token);
        self.conns.clear();
        self
    }

    /// The next request id of this client.
    pub fn next_request(&mut self) -> RequestId {
        self.seq += 1;
        RequestId {
            client: self.client_id,
            seq: self.seq,
        }
    }

    /// The node this client believes leads `shard`.
    pub fn leader_hint(&self, shard: ShardId) -> Option<NodeId> {
        self.leaders.get(&shard).copied()
    }

    fn conn(&mut self, node: NodeId) -> Option<TumultClient<AuthChannel>> {
        if !self.conns.contains_key(&node) {
            let addr = self.nodes.get(&node)?;
            let c = client(channel(&self.network, addr, &self.link), &self.credentials);
            self.conns.insert(node, c);
        }
        self.conns.get(&node).cloned()
    }

    /// Forgets the connection to `node` and every belief that it leads a
    /// shard (after a timeout: it may be stalled, or a deposed leader cut off
    /// from the rest that still answers nothing).
    pub fn reset(&mut self, node: NodeId) {
        self.conns.remove(&node);
        self.leaders.retain(|_, l| *l != node);
    }

    /// One write attempt against one node.
    pub async fn write_once(
        &mut self,
        node: NodeId,
        shard: ShardId,
        request: RequestId,
        data: Vec<u8>,
    ) -> Attempt {
        let Some(mut c) = self.conn(node) else {
            return Attempt::Refused(format!("unknown node {node}"));
        };
        let r = c
            .write(pb::WriteRequest {
                shard,
                request: Some(request.into()),
                data,
            })
            .await;
        self.note(node, shard, attempt_of(r))
    }

    /// One read attempt against one node.
    pub async fn read_once(
        &mut self,
        node: NodeId,
        shard: ShardId,
        query: Vec<u8>,
        mode: ReadMode,
    ) -> Attempt {
        let Some(mut c) = self.conn(node) else {
            return Attempt::Refused(format!("unknown node {node}"));
        };
        let mode = match mode {
            ReadMode::Linearizable => pb::ReadMode::Linearizable,
            ReadMode::Local => pb::ReadMode::Local,
        };
        let r = c
            .read(pb::ReadRequest {
                shard,
                query,
                mode: mode as i32,
            })
            .await;
        self.note(node, shard, attempt_of(r))
    }

    fn note(&mut self, node: NodeId, shard: ShardId, a: Attempt) -> Attempt {
        match &a {
            Attempt::Ok(_) => {
                self.leaders.insert(shard, node);
            }
            Attempt::Redirect(Some(l)) => {
                self.leaders.insert(shard, *l);
            }
            Attempt::Redirect(None) => {
                self.leaders.remove(&shard);
            }
            Attempt::Unknown(_) => {
                self.leaders.remove(&shard);
                self.reset(node);
            }
            Attempt::Refused(_) => {}
        }
        a
    }

    /// The order to try nodes in: the believed leader first, then the rest.
    fn candidates(&self, shard: ShardId) -> Vec<NodeId> {
        let mut order: Vec<NodeId> = Vec::new();
        if let Some(l) = self.leaders.get(&shard) {
            order.push(*l);
        }
        order.extend(
            self.nodes
                .keys()
                .copied()
                .filter(|n| Some(n) != self.leaders.get(&shard)),
        );
        order
    }

    async fn retry<F>(&mut self, shard: ShardId, mut once: F) -> Result<Vec<u8>, ClientError>
    where
        F: for<'a> FnMut(&'a mut Client, NodeId) -> futures::future::BoxFuture<'a, Attempt>,
    {
        let start = tokio::time::Instant::now();
        let mut last = ClientError::NotLeader { leader: None };
        let mut unknown = false;
        while start.elapsed() < self.deadline {
            let mut tried = 0;
            let mut node = self.candidates(shard)[0];
            while tried < self.nodes.len() * 2 && start.elapsed() < self.deadline {
                tried += 1;
                match once(self, node).await {
                    Attempt::Ok(bytes) => return Ok(bytes),
                    Attempt::Redirect(Some(l)) if l != node => {
                        node = l;
                        continue;
                    }
                    Attempt::Redirect(leader) => last = ClientError::NotLeader { leader },
                    Attempt::Refused(why) => last = ClientError::Refused(why),
                    Attempt::Unknown(_) => unknown = true,
                }
                let c = self.candidates(shard);
                node = c[tried % c.len()];
            }
            tokio::time::sleep(self.backoff).await;
        }
        Err(if unknown {
            ClientError::Indeterminate
        } else {
            last
        })
    }

    /// Writes to `shard`, retrying with one request id until it is applied or
    /// the deadline passes (then the outcome is unknown).
    pub async fn write(&mut self, shard: ShardId, data: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        let request = self.next_request();
        self.retry(shard, move |c, node| {
            let data = data.clone();
            Box::pin(async move { c.write_once(node, shard, request, data).await })
        })
        .await
    }

    /// Reads from `shard`.
    pub async fn read(
        &mut self,
        shard: ShardId,
        query: Vec<u8>,
        mode: ReadMode,
    ) -> Result<Vec<u8>, ClientError> {
        self.retry(shard, move |c, node| {
            let query = query.clone();
            Box::pin(async move { c.read_once(node, shard, query, mode).await })
        })
        .await
    }

    /// Adds (`add`) or removes `node` as a voter of `shard`, through its leader.
    pub async fn change_membership(
        &mut self,
        shard: ShardId,
        member: NodeId,
        add: bool,
    ) -> Result<(), ClientError> {
        self.retry(shard, move |c, node| {
            Box::pin(async move {
                let Some(mut conn) = c.conn(node) else {
                    return Attempt::Refused(format!("unknown node {node}"));
                };
                let r = conn
                    .change_membership(pb::MembershipRequest {
                        shard,
                        node: member,
                        add,
                    })
                    .await;
                c.note(node, shard, attempt_of(r))
            })
        })
        .await
        .map(drop)
    }

    /// Hands leadership of `shard` to `to` (or a follower of the leader's choice).
    pub async fn transfer_leader(
        &mut self,
        shard: ShardId,
        to: Option<NodeId>,
    ) -> Result<(), ClientError> {
        self.retry(shard, move |c, node| {
            Box::pin(async move {
                let Some(mut conn) = c.conn(node) else {
                    return Attempt::Refused(format!("unknown node {node}"));
                };
                let r = conn
                    .transfer_leader(pb::TransferRequest {
                        shard,
                        to: to.unwrap_or(0),
                    })
                    .await;
                c.note(node, shard, attempt_of(r))
            })
        })
        .await
        .map(drop)
    }

    /// The state of `shard` on `node`.
    pub async fn status(
        &mut self,
        node: NodeId,
        shard: ShardId,
    ) -> Result<pb::StatusResponse, tonic::Status> {
        let Some(mut c) = self.conn(node) else {
            return Err(tonic::Status::invalid_argument(format!(
                "unknown node {node}"
            )));
        };
        c.status(pb::StatusRequest { shard })
            .await
            .map(|r| r.into_inner())
    }
}
