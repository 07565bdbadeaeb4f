//! The gRPC service of a node: peers deliver Raft messages and fetch
//! snapshots; clients write, read and administer. Every request is checked
//! before it reaches the driver: a malformed message or an unknown shard is an
//! error status for the caller, never a panic here.
//!
//! The service speaks to the driver only through its input channel
//! ([`Input`], answered on a [`Reply`]) and the set of [`KnownShards`]; it
//! serves snapshots straight from the store.

use super::{decode, pb, Credentials, PeerIdentity};
use crate::node::config::NodeConfig;
use crate::node::input::{ClientError, Input, KnownShards, ReadMode, Reply};
use crate::node::metrics::Counters;
use crate::raft::{NodeId, RequestId, ShardId};
use crate::storage::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

/// The `Tumult` gRPC service of one node.
pub(crate) struct Service {
    id: NodeId,
    peers: BTreeMap<NodeId, String>,
    inputs: mpsc::Sender<Input>,
    known: KnownShards,
    chunk: usize,
    store: Arc<Store>,
    credentials: Credentials,
    /// Mutual TLS is on: a batch must come from the node its certificate names.
    tls: bool,
    counters: Arc<Counters>,
}

impl Service {
    /// The service of the node `config` describes.
    pub(crate) fn new(
        config: &NodeConfig,
        inputs: mpsc::Sender<Input>,
        known: KnownShards,
        store: Arc<Store>,
        counters: Arc<Counters>,
    ) -> Service {
        Service {
            id: config.id,
            peers: config.peers.clone(),
            inputs,
            known,
            chunk: config.snapshot_chunk.max(1),
            store,
            credentials: config.credentials.clone(),
            tls: config.tls.is_some(),
            counters,
        }
    }

    /// Every call must carry the cluster's token (when one is configured).
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        self.credentials.verify(request.metadata())
    }

    /// The preamble of every call about one shard: the token, then the
    /// shard must be one this node hosts.
    fn admit<T: OfShard>(&self, request: Request<T>) -> Result<T, Status> {
        self.authorize(&request)?;
        let req = request.into_inner();
        self.check_shard(req.shard())?;
        Ok(req)
    }

    fn check_shard(&self, shard: ShardId) -> Result<(), Status> {
        if self
            .known
            .read()
            .expect("known shards lock")
            .contains(&shard)
        {
            Ok(())
        } else {
            Err(Status::not_found(format!(
                "node {} does not host shard {shard}",
                self.id
            )))
        }
    }

    /// Checks one batch of a `Deliver` stream and hands its messages to the
    /// driver; messages for unknown shards are dropped and counted in `tally`.
    async fn deliver_batch(
        &self,
        batch: pb::Batch,
        who: Option<PeerIdentity>,
        tally: &mut Tally,
    ) -> Result<(), Status> {
        if !self.peers.contains_key(&batch.from) || batch.from == self.id {
            return Err(Status::permission_denied(format!(
                "unknown sender node {}",
                batch.from
            )));
        }
        if self.tls && who != Some(PeerIdentity::Node(batch.from)) {
            tracing::warn!(
                node = self.id,
                from = batch.from,
                ?who,
                "refused a batch: certificate mismatch"
            );
            self.counters.add(batch.from, 1, |c| &c.messages_refused);
            return Err(Status::permission_denied(format!(
                "a batch from node {} over a connection whose certificate names {}",
                batch.from,
                match who {
                    Some(PeerIdentity::Node(n)) => format!("node {n}"),
                    Some(PeerIdentity::Client) => "a client".to_string(),
                    None => "nobody".to_string(),
                }
            )));
        }
        if let Err(status) = self.credentials.verify_cluster(batch.from, &batch.cluster) {
            tracing::warn!(
                node = self.id,
                from = batch.from,
                "refused a batch: {}",
                status.message()
            );
            self.counters.add(batch.from, 1, |c| &c.messages_refused);
            return Err(status);
        }
        // A malformed message rejects the whole batch: the sender is broken.
        let mut decoded = Vec::with_capacity(batch.messages.len());
        for m in batch.messages {
            let (shard, to, msg) = decode(m).map_err(|e| {
                tracing::warn!(node = self.id, from = batch.from, "refused a batch: {e}");
                self.counters.add(batch.from, 1, |c| &c.messages_refused);
                Status::invalid_argument(e.to_string())
            })?;
            if to != self.id {
                return Err(Status::invalid_argument(format!(
                    "message for node {to} delivered to node {}",
                    self.id
                )));
            }
            decoded.push((shard, msg));
        }
        // Messages for shards this node does not host are refused one by one:
        // the rest of the batch (other shards' heartbeats) is still delivered,
        // so a shard created on the sender first cannot starve every other.
        let (messages, unknown): (Vec<_>, Vec<_>) = {
            let known = self.known.read().expect("known shards lock");
            decoded
                .into_iter()
                .partition(|(shard, _)| known.contains(shard))
        };
        let received = messages.len() as u64;
        if !messages.is_empty() {
            self.inputs
                .send(Input::Peer {
                    from: batch.from,
                    messages,
                })
                .await
                .map_err(|_| Status::unavailable("node stopped"))?;
        }
        self.counters.add(batch.from, 1, |c| &c.deliver_received);
        self.counters
            .add(batch.from, received, |c| &c.messages_received);
        tally.delivered += received;
        if !unknown.is_empty() {
            tracing::debug!(
                node = self.id,
                from = batch.from,
                "{} message(s) for shard(s) not hosted here dropped",
                unknown.len()
            );
            tally.dropped += unknown.len() as u64;
            tally.unknown_shards.extend(unknown.iter().map(|(s, _)| *s));
        }
        Ok(())
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Input) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inputs
            .send(make(tx))
            .await
            .map_err(|_| ClientError::Stopped("node stopped".into()))?;
        rx.await
            .map_err(|_| ClientError::Stopped("node stopped".into()))?
    }

    fn respond(
        &self,
        result: Result<Vec<u8>, ClientError>,
    ) -> Result<Response<pb::ClientResponse>, Status> {
        use pb::client_response::Result as R;
        let result = match result {
            Ok(bytes) => R::Ok(bytes),
            Err(ClientError::NotLeader { leader }) => R::NotLeader(pb::NotLeader {
                leader: leader.unwrap_or(0),
                address: leader
                    .and_then(|l| self.peers.get(&l).cloned())
                    .unwrap_or_default(),
            }),
            Err(e) => return Err(status_of(e)),
        };
        Ok(Response::new(pb::ClientResponse {
            result: Some(result),
        }))
    }
}

/// What one `Deliver` stream has carried so far.
#[derive(Default)]
struct Tally {
    /// Messages handed to the driver.
    delivered: u64,
    /// Messages dropped because their shard is not hosted here, and those shards.
    dropped: u64,
    unknown_shards: BTreeSet<ShardId>,
}

/// A request about one shard.
trait OfShard {
    fn shard(&self) -> ShardId;
}

macro_rules! of_shard {
    ($($t:ty),*) => {
        $(impl OfShard for $t {
            fn shard(&self) -> ShardId {
                self.shard
            }
        })*
    };
}

of_shard!(
    pb::SnapshotRequest,
    pb::WriteRequest,
    pb::ReadRequest,
    pb::MembershipRequest,
    pb::TransferRequest,
    pb::StatusRequest
);

/// How a client error travels: `FailedPrecondition` and `NotFound` mean the
/// request certainly had no effect; `Unavailable` means its outcome is unknown.
pub(crate) fn status_of(e: ClientError) -> Status {
    match e {
        ClientError::UnknownShard(_) => Status::not_found(e.to_string()),
        ClientError::Refused(_) | ClientError::NotLeader { .. } => {
            Status::failed_precondition(e.to_string())
        }
        ClientError::Indeterminate | ClientError::Stopped(_) => Status::unavailable(e.to_string()),
    }
}

#[tonic::async_trait]
impl pb::tumult_server::Tumult for Service {
    /// One peer's stream of batches, for as long as the peer keeps it open.
    /// Each batch is checked and handed to the driver as it arrives. A batch
    /// from an unknown sender, or with a malformed message or one addressed
    /// to another node, ends the stream with an error: the sender is broken.
    /// Messages for shards this node does not host are dropped one by one
    /// while the rest of their batch is delivered and the stream goes on; a
    /// stream that had any ends, when its sender closes it, with `NotFound`
    /// naming them instead of an ack.
    async fn deliver(
        &self,
        request: Request<tonic::Streaming<pb::Batch>>,
    ) -> Result<Response<pb::DeliverAck>, Status> {
        self.authorize(&request)?;
        let who = request.extensions().get::<PeerIdentity>().copied();
        let mut stream = request.into_inner();
        let mut tally = Tally::default();
        while let Some(batch) = stream.message().await? {
            self.deliver_batch(batch, who, &mut tally).await?;
        }
        if !tally.unknown_shards.is_empty() {
            return Err(Status::not_found(format!(
                "node {} does not host shard(s) {:?}; {} message(s) for them dropped, {} delivered",
                self.id, tally.unknown_shards, tally.dropped, tally.delivered
            )));
        }
        Ok(Response::new(pb::DeliverAck {}))
    }

    type FetchSnapshotStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<pb::SnapshotChunk, Status>> + Send + 'static>,
    >;

    async fn fetch_snapshot(
        &self,
        request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::FetchSnapshotStream>, Status> {
        let req = self.admit(request)?;
        let shard = req.shard;
        // Straight from the store (a read transaction sees what is durable):
        // serving a large snapshot never holds up the driver.
        let snapshot = self
            .store
            .load_snapshot(shard)
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let Some((meta, data)) = snapshot else {
            return Err(Status::not_found(format!("shard {shard} has no snapshot")));
        };
        let total = data.len() as u64;
        let mut chunks: Vec<Result<pb::SnapshotChunk, Status>> = Vec::new();
        let mut first = Some(pb::SnapshotMeta::from(&meta));
        let mut rest: &[u8] = &data;
        loop {
            let n = rest.len().min(self.chunk);
            let (head, tail) = rest.split_at(n);
            chunks.push(Ok(pb::SnapshotChunk {
                meta: first.take(),
                data: head.to_vec(),
                total,
            }));
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn write(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::ClientResponse>, Status> {
        let req = self.admit(request)?;
        let shard = req.shard;
        let request_id: Option<RequestId> = req.request.map(Into::into);
        let result = self
            .ask(|reply| Input::Write {
                shard,
                request: request_id,
                data: req.data,
                reply,
            })
            .await;
        self.respond(result)
    }

    async fn read(
        &self,
        request: Request<pb::ReadRequest>,
    ) -> Result<Response<pb::ClientResponse>, Status> {
        let req = self.admit(request)?;
        let mode = match pb::ReadMode::try_from(req.mode) {
            Ok(pb::ReadMode::Linearizable) => ReadMode::Linearizable,
            Ok(pb::ReadMode::Local) => ReadMode::Local,
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "unknown read mode {}",
                    req.mode
                )))
            }
        };
        let shard = req.shard;
        let result = self
            .ask(|reply| Input::Read {
                shard,
                query: req.query,
                mode,
                reply,
            })
            .await;
        self.respond(result)
    }

    async fn change_membership(
        &self,
        request: Request<pb::MembershipRequest>,
    ) -> Result<Response<pb::ClientResponse>, Status> {
        let req = self.admit(request)?;
        if !self.peers.contains_key(&req.node) {
            return Err(Status::invalid_argument(format!(
                "unknown node {}",
                req.node
            )));
        }
        let result = self
            .ask(|reply| Input::ChangeMembership {
                shard: req.shard,
                node: req.node,
                add: req.add,
                reply,
            })
            .await;
        self.respond(result)
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferRequest>,
    ) -> Result<Response<pb::ClientResponse>, Status> {
        let req = self.admit(request)?;
        let to = (req.to != 0).then_some(req.to);
        let result = self
            .ask(|reply| Input::Transfer {
                shard: req.shard,
                to,
                reply,
            })
            .await;
        self.respond(result)
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let req = self.admit(request)?;
        let st = self
            .ask(|reply| Input::Status {
                shard: req.shard,
                reply,
            })
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::StatusResponse {
            node: self.id,
            shard: st.shard,
            role: st.role,
            term: st.term,
            leader: st.leader.unwrap_or(0),
            commit: st.commit,
            applied: st.applied,
            last_index: st.last_index,
            membership: Some((&st.membership).into()),
            snapshot_index: st.snapshot_index,
        }))
    }
}
