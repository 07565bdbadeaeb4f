//! Counters a node keeps about its traffic, readable at any time without
//! asking the driver: how many `Deliver` batches and Raft messages went to
//! and came from each peer, and how many `Deliver` streams failed. They show
//! the Multi-Raft batching at work: with any number of shards, two nodes
//! exchange about one batch per tick.

use crate::raft::NodeId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Traffic with one peer since the node started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerMetrics {
    /// Batches pushed into `Deliver` streams to the peer (each one message
    /// of the stream). A batch pushed into a stream that then fails is
    /// counted here but may never arrive.
    pub deliver_sent: u64,
    /// `Deliver` streams to the peer that ended in an error (connect failure,
    /// lost connection found by keepalive, refused by the peer).
    pub deliver_failed: u64,
    /// Raft messages handed to the peer's link (all shards together).
    pub messages_sent: u64,
    /// Batches received from the peer on `Deliver` streams and accepted.
    pub deliver_received: u64,
    /// Raft messages received from the peer.
    pub messages_received: u64,
    /// Messages from the peer refused as malformed or impossible (a batch
    /// that fails to decode counts once): a forged or broken peer.
    pub messages_refused: u64,
}

/// A snapshot of a node's counters, from [`Node::metrics`](super::Node::metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeMetrics {
    /// Per peer.
    pub peers: BTreeMap<NodeId, PeerMetrics>,
    /// Snapshots fetched from a leader and installed.
    pub snapshots_installed: u64,
    /// Snapshots fetched from a leader but dropped on arrival because the
    /// shard's log had moved past them meanwhile (see `Raft::snapshot_wanted`).
    pub snapshots_dropped: u64,
}

impl NodeMetrics {
    /// Raft messages sent to all peers.
    pub fn messages_sent(&self) -> u64 {
        self.peers.values().map(|p| p.messages_sent).sum()
    }
    /// `Deliver` batches sent to all peers.
    pub fn deliver_sent(&self) -> u64 {
        self.peers.values().map(|p| p.deliver_sent).sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct PeerCounters {
    pub(crate) deliver_sent: AtomicU64,
    pub(crate) deliver_failed: AtomicU64,
    pub(crate) messages_sent: AtomicU64,
    pub(crate) deliver_received: AtomicU64,
    pub(crate) messages_received: AtomicU64,
    pub(crate) messages_refused: AtomicU64,
}

/// The live counters, one set per peer known at start (fixed afterwards, so
/// no lock is needed).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    peers: BTreeMap<NodeId, PeerCounters>,
    pub(crate) snapshots_installed: AtomicU64,
    pub(crate) snapshots_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn new(me: NodeId, peers: impl IntoIterator<Item = NodeId>) -> Counters {
        Counters {
            peers: peers
                .into_iter()
                .filter(|p| *p != me)
                .map(|p| (p, PeerCounters::default()))
                .collect(),
            ..Counters::default()
        }
    }

    /// Counts one on a node-wide counter.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` on the field `pick` chooses of `peer`'s counters.
    pub(crate) fn add(&self, peer: NodeId, n: u64, pick: impl Fn(&PeerCounters) -> &AtomicU64) {
        if let Some(c) = self.peers.get(&peer) {
            pick(c).fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> NodeMetrics {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NodeMetrics {
            peers: self
                .peers
                .iter()
                .map(|(id, c)| {
                    (
                        *id,
                        PeerMetrics {
                            deliver_sent: get(&c.deliver_sent),
                            deliver_failed: get(&c.deliver_failed),
                            messages_sent: get(&c.messages_sent),
                            deliver_received: get(&c.deliver_received),
                            messages_received: get(&c.messages_received),
                            messages_refused: get(&c.messages_refused),
                        },
                    )
                })
                .collect(),
            snapshots_installed: get(&self.snapshots_installed),
            snapshots_dropped: get(&self.snapshots_dropped),
        }
    }
}
