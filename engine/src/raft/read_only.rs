//! Read-index (dissertation §6.4): linearizable reads without writing to the log.
//!
//! The leader records its commit index for the read, then confirms that it
//! is still the leader with a round of heartbeats. Every read gets a round
//! number; heartbeats carry the latest round as `ctx`, and a reply echoing
//! `ctx` confirms every read of that round or earlier. Once a majority
//! (including the leader) has confirmed a read, it is released as a
//! [`ReadState`]: the application may serve it once it has applied `index`.

use super::quorum::has_quorum;
use super::types::{Index, Membership, NodeId};
use super::ReadState;
use std::collections::{BTreeSet, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PendingRead {
    ctx: u64,
    index: Index,
    round: u64,
    acks: BTreeSet<NodeId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct ReadOnly {
    /// The latest round handed out. Never reset, so stale replies of an older
    /// term can never be mistaken for a newer round (they also fail the term check).
    round: u64,
    pending: VecDeque<PendingRead>,
    /// §6.4 step 1: reads that wait for the leader to commit an entry of its term.
    waiting_commit: Vec<u64>,
}

impl ReadOnly {
    /// The round the next heartbeat confirms.
    pub(crate) fn round(&self) -> u64 {
        self.round
    }

    pub(crate) fn wait_for_commit(&mut self, ctx: u64) {
        self.waiting_commit.push(ctx);
    }

    pub(crate) fn take_waiting(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.waiting_commit)
    }

    /// Registers a read at `index`, acknowledged by `me` if it votes. Returns the round.
    pub(crate) fn add(&mut self, ctx: u64, index: Index, me: Option<NodeId>) -> u64 {
        self.round += 1;
        if let Some(last) = self.pending.back() {
            assert!(last.index <= index, "read indexes follow the commit index");
        }
        self.pending.push_back(PendingRead {
            ctx,
            index,
            round: self.round,
            acks: me.into_iter().collect(),
        });
        self.round
    }

    /// `from` answered a heartbeat of round `ctx`.
    pub(crate) fn ack(&mut self, from: NodeId, ctx: u64) {
        for r in self.pending.iter_mut().filter(|r| r.round <= ctx) {
            r.acks.insert(from);
        }
    }

    /// Releases the reads confirmed by a majority of `voters`, oldest first.
    /// A confirmed read also confirms every older one.
    pub(crate) fn release(&mut self, voters: &Membership) -> Vec<ReadState> {
        let confirmed = self
            .pending
            .iter()
            .rposition(|r| has_quorum(voters, r.acks.iter()));
        match confirmed {
            None => Vec::new(),
            Some(pos) => self
                .pending
                .drain(..=pos)
                .map(|r| ReadState {
                    ctx: r.ctx,
                    index: r.index,
                })
                .collect(),
        }
    }

    /// Leadership is lost: every read still pending fails.
    pub(crate) fn fail_all(&mut self) -> Vec<u64> {
        let mut out: Vec<u64> = self.waiting_commit.drain(..).collect();
        out.extend(self.pending.drain(..).map(|r| r.ctx));
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.waiting_commit.is_empty()
    }
}
