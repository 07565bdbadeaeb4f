//! One outgoing link per peer, shared by all shards: a task that coalesces
//! whatever messages are queued into one `Deliver` call, so that the
//! heartbeats of every shard between two nodes travel as one message.

use super::metrics::Counters;
use crate::raft::NodeId;
use crate::transport::pb::{tumult_client::TumultClient, Batch, RaftMessage};
use crate::transport::{channel, LinkConfig, Network};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most messages kept queued for one peer; beyond that the oldest are
/// dropped (Raft tolerates loss, and a peer that slow is retried anyway).
const MAX_QUEUED: usize = 100_000;

pub(crate) struct Peers {
    me: NodeId,
    addresses: BTreeMap<NodeId, String>,
    network: Arc<dyn Network>,
    link: LinkConfig,
    links: BTreeMap<NodeId, mpsc::UnboundedSender<Vec<RaftMessage>>>,
    counters: Arc<Counters>,
}

impl Peers {
    pub(crate) fn new(
        me: NodeId,
        addresses: BTreeMap<NodeId, String>,
        network: Arc<dyn Network>,
        link: LinkConfig,
        counters: Arc<Counters>,
    ) -> Peers {
        Peers {
            me,
            addresses,
            network,
            link,
            links: BTreeMap::new(),
            counters,
        }
    }

    /// The address of `node`, if known.
    pub(crate) fn address(&self, node: NodeId) -> Option<&str> {
        self.addresses.get(&node).map(String::as_str)
    }

    /// Queues one batch for `to`; messages to unknown nodes are dropped.
    pub(crate) fn send(&mut self, to: NodeId, batch: Vec<RaftMessage>) {
        if batch.is_empty() || to == self.me {
            return;
        }
        let Some(addr) = self.addresses.get(&to).cloned() else {
            tracing::warn!(
                node = self.me,
                to,
                "message to a node with no address dropped"
            );
            return;
        };
        let tx = self.links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            self.network.spawn(Box::pin(link_task(
                self.me,
                to,
                addr,
                Arc::clone(&self.network),
                self.link,
                rx,
                Arc::clone(&self.counters),
            )));
            tx
        });
        self.counters
            .add(to, batch.len() as u64, |c| &c.messages_sent);
        let _ = tx.send(batch);
    }
}

async fn link_task(
    me: NodeId,
    to: NodeId,
    addr: String,
    network: Arc<dyn Network>,
    link: LinkConfig,
    mut rx: mpsc::UnboundedReceiver<Vec<RaftMessage>>,
    counters: Arc<Counters>,
) {
    let mut client = TumultClient::new(channel(&network, &addr, &link));
    while let Some(mut messages) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            messages.extend(more);
        }
        if messages.len() > MAX_QUEUED {
            let drop = messages.len() - MAX_QUEUED;
            messages.drain(..drop);
        }
        let batch = Batch { from: me, messages };
        counters.add(to, 1, |c| &c.deliver_sent);
        if let Err(status) = client.deliver(batch).await {
            counters.add(to, 1, |c| &c.deliver_failed);
            tracing::debug!(node = me, peer = %addr, "deliver failed: {status}");
            // A timed-out request may sit on a stalled connection (turmoil's
            // TCP never retransmits): start over on a fresh one.
            if matches!(
                status.code(),
                tonic::Code::DeadlineExceeded
                    | tonic::Code::Unavailable
                    | tonic::Code::Cancelled
                    | tonic::Code::Unknown
            ) {
                client = TumultClient::new(channel(&network, &addr, &link));
            }
        }
    }
}
