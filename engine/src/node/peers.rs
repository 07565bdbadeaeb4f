//! One outgoing link per peer, shared by all shards: a task that keeps one
//! long-lived client-streaming `Deliver` call open to the peer and sends
//! whatever messages are queued as one `Batch` on it, so that the heartbeats
//! of every shard between two nodes travel as one message (one HTTP/2 DATA
//! frame on an open stream, not a call of its own).
//!
//! The link opens a stream when it has messages and none is open. A batch
//! goes into the stream as soon as the stream takes it; while it does not
//! (connecting, or HTTP/2 flow control), messages wait in the link, are
//! coalesced into the next batch and, beyond [`MAX_QUEUED`], the oldest are
//! dropped. The stream has no deadline; a dead connection is noticed by the
//! HTTP/2 keepalive (see [`stream_channel`]), which ends the call with an
//! error. When the call ends, whatever was pushed into it and not yet
//! delivered is lost (Raft tolerates loss), and the next messages open a new
//! stream, on a fresh channel if the error may mean a stalled connection:
//! turmoil's TCP never retransmits, so a connection that lost a segment
//! never recovers.
use super::metrics::Counters;
use crate::buggify::{Buggify, Site};
use crate::raft::NodeId;
use crate::transport::pb::{Batch, RaftMessage};
use crate::transport::{client, stream_channel, Credentials, LinkConfig, Network};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most messages kept queued for one peer; beyond that the oldest are
/// dropped (Raft tolerates loss, and a peer that slow is retried anyway).
const MAX_QUEUED: usize = 100_000;

/// What every link of a node shares: who sends, over what, how.
#[derive(Clone)]
pub(crate) struct LinkSettings {
    pub(crate) me: NodeId,
    pub(crate) network: Arc<dyn Network>,
    pub(crate) link: LinkConfig,
    /// Most bytes in one Batch (see `NodeConfig::max_batch_bytes`).
    pub(crate) max_batch_bytes: usize,
    pub(crate) credentials: Credentials,
    pub(crate) counters: Arc<Counters>,
}

pub(crate) struct Peers {
    settings: LinkSettings,
    addresses: BTreeMap<NodeId, String>,
    links: BTreeMap<NodeId, mpsc::UnboundedSender<Vec<RaftMessage>>>,
    /// A batch per peer held back by the fault site `batch-reorder`.
    held: BTreeMap<NodeId, Vec<RaftMessage>>,
}

impl Peers {
    pub(crate) fn new(settings: LinkSettings, addresses: BTreeMap<NodeId, String>) -> Peers {
        Peers {
            settings,
            addresses,
            links: BTreeMap::new(),
            held: BTreeMap::new(),
        }
    }

    /// The address of `node`, if known.
    pub(crate) fn address(&self, node: NodeId) -> Option<&str> {
        self.addresses.get(&node).map(String::as_str)
    }

    /// Queues one batch for `to`; messages to unknown nodes are dropped.
    /// The fault sites `batch-duplicate`, `batch-delay` and `batch-reorder`
    /// may send it twice, later, or after the next batch to `to`.
    pub(crate) fn send(&mut self, to: NodeId, batch: Vec<RaftMessage>, bug: &mut Buggify) {
        let me = self.settings.me;
        if batch.is_empty() || to == me {
            return;
        }
        let Some(addr) = self.addresses.get(&to).cloned() else {
            tracing::warn!(node = me, to, "message to a node with no address dropped");
            return;
        };
        let tx = self.links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let settings = self.settings.clone();
            self.settings
                .network
                .spawn(Box::pin(link_task(settings, to, addr, rx)));
            tx
        });
        self.settings
            .counters
            .add(to, batch.len() as u64, |c| &c.messages_sent);
        if bug.fires(Site::BatchDuplicate) {
            let _ = tx.send(batch.clone());
        }
        if let Some(delay) = bug.delay(Site::BatchDelay) {
            let tx = tx.clone();
            self.settings.network.spawn(Box::pin(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(batch);
            }));
            return;
        }
        if !self.held.contains_key(&to) && bug.fires(Site::BatchReorder) {
            self.held.insert(to, batch);
            return;
        }
        let _ = tx.send(batch);
        if let Some(held) = self.held.remove(&to) {
            let _ = tx.send(held);
        }
    }

    /// Sends the batches `batch-reorder` held back and no later batch
    /// overtook (called every tick, so none waits for long).
    pub(crate) fn release_held(&mut self) {
        for (to, batch) in std::mem::take(&mut self.held) {
            if let Some(tx) = self.links.get(&to) {
                let _ = tx.send(batch);
            }
        }
    }
}

/// The link to one peer: see the module doc.
async fn link_task(
    settings: LinkSettings,
    to: NodeId,
    addr: String,
    mut rx: mpsc::UnboundedReceiver<Vec<RaftMessage>>,
) {
    let LinkSettings {
        me,
        network,
        link,
        max_batch_bytes,
        credentials,
        counters,
    } = settings;
    let connect = || client(stream_channel(&network, &addr, &link), &credentials);
    let cluster = credentials.cluster.to_string();
    let mut client = connect();
    // Messages not yet handed to a stream, oldest first.
    let mut pending: Vec<RaftMessage> = Vec::new();
    loop {
        // No stream is open: wait until there is something to send.
        if pending.is_empty() {
            match rx.recv().await {
                Some(messages) => pending = messages,
                None => return,
            }
        }
        take_queued(&mut rx, &mut pending);
        // Open a stream whose first message is everything queued. Capacity 1:
        // while the stream does not take batches, messages wait in `pending`
        // and are coalesced there.
        let (stream_tx, stream_rx) = mpsc::channel::<Batch>(1);
        let first = Batch {
            from: me,
            messages: take_batch(&mut pending, max_batch_bytes),
            cluster: cluster.clone(),
        };
        stream_tx
            .try_send(first)
            .expect("a new stream's channel has room for one batch");
        counters.add(to, 1, |c| &c.deliver_sent);
        let mut call_client = client.clone();
        let call = call_client.deliver(tokio_stream::wrappers::ReceiverStream::new(stream_rx));
        tokio::pin!(call);
        let ended = loop {
            tokio::select! {
                biased;
                ended = &mut call => break ended,
                more = rx.recv() => match more {
                    Some(messages) => {
                        pending.extend(messages);
                        take_queued(&mut rx, &mut pending);
                    }
                    // The node is stopping.
                    None => return,
                },
                permit = stream_tx.reserve(), if !pending.is_empty() => match permit {
                    Ok(permit) => {
                        permit.send(Batch {
                            from: me,
                            messages: take_batch(&mut pending, max_batch_bytes),
                            cluster: cluster.clone(),
                        });
                        counters.add(to, 1, |c| &c.deliver_sent);
                    }
                    // The call dropped its request stream: it is ending;
                    // wait for how.
                    Err(_) => break (&mut call).await,
                },
            }
        };
        match ended {
            // The receiver only answers a stream that its sender closed,
            // which this link never does; open a new one all the same.
            Ok(_) => tracing::debug!(node = me, peer = %addr, "deliver stream ended"),
            Err(status) => {
                counters.add(to, 1, |c| &c.deliver_failed);
                tracing::debug!(node = me, peer = %addr, "deliver stream failed: {status}");
                // The stream may have died on a stalled connection (turmoil's
                // TCP never retransmits): start over on a fresh one.
                if matches!(
                    status.code(),
                    tonic::Code::DeadlineExceeded
                        | tonic::Code::Unavailable
                        | tonic::Code::Cancelled
                        | tonic::Code::Unknown
                ) {
                    client = connect();
                }
            }
        }
    }
}

/// Moves every batch already queued in `rx` to the end of `pending`, then
/// applies the [`MAX_QUEUED`] rule: the oldest messages beyond it are dropped.
fn take_queued(rx: &mut mpsc::UnboundedReceiver<Vec<RaftMessage>>, pending: &mut Vec<RaftMessage>) {
    while let Ok(more) = rx.try_recv() {
        pending.extend(more);
    }
    if pending.len() > MAX_QUEUED {
        let drop = pending.len() - MAX_QUEUED;
        pending.drain(..drop);
    }
}

/// Takes the oldest messages of `pending` that fit in `max_bytes` of batch
/// (at least one, which the core keeps below the peer's message limit), so
/// no batch is too large for the peer to accept.
fn take_batch(pending: &mut Vec<RaftMessage>, max_bytes: usize) -> Vec<RaftMessage> {
    let mut bytes = 0usize;
    let fit = pending
        .iter()
        .take_while(|m| {
            // A message's framing inside the batch: tag and length prefix.
            bytes += prost::Message::encoded_len(*m) + 10;
            bytes <= max_bytes
        })
        .count()
        .max(1)
        .min(pending.len());
    if fit == pending.len() {
        return std::mem::take(pending);
    }
    let rest = pending.split_off(fit);
    std::mem::replace(pending, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::pb::{raft_message::Body, Heartbeat};

    fn heartbeat() -> RaftMessage {
        RaftMessage {
            shard: 0,
            to: 2,
            body: Some(Body::Heartbeat(Heartbeat {
                term: 1,
                commit: 1,
                ctx: 1,
            })),
        }
    }

    #[test]
    fn batches_are_split_by_bytes_oldest_first_with_at_least_one_message() {
        let one = prost::Message::encoded_len(&heartbeat()) + 10;
        let mut pending: Vec<RaftMessage> = (0..10).map(|_| heartbeat()).collect();
        let batch = take_batch(&mut pending, 3 * one);
        assert_eq!((batch.len(), pending.len()), (3, 7));
        let batch = take_batch(&mut pending, 1);
        assert_eq!((batch.len(), pending.len()), (1, 6), "at least one");
        let batch = take_batch(&mut pending, usize::MAX);
        assert_eq!((batch.len(), pending.len()), (6, 0));
    }
}
