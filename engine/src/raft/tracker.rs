//! What a leader or candidate tracks about the other voters (after
//! etcd/raft's `tracker/`): each follower's [`Progress`] while leading, and
//! the (pre-)votes received while campaigning. The maps are private; the
//! core asks questions of them (who is a peer, what is committed, who won,
//! is a quorum active) through the majority arithmetic of [`quorum`].

use super::progress::Progress;
use super::quorum::{self, VoteResult};
use super::types::{Index, Membership, NodeId};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Tracker {
    /// Leader: every other voter's log.
    progress: BTreeMap<NodeId, Progress>,
    /// (Pre-)candidate: answers received.
    votes: BTreeMap<NodeId, bool>,
}

impl Tracker {
    /// Forgets progress and votes (a new term or role).
    pub(crate) fn reset(&mut self) {
        self.progress.clear();
        self.votes.clear();
    }

    /// Records `from`'s (pre-)vote (the first answer of each voter counts)
    /// and counts the votes of `voters`.
    pub(crate) fn record_vote(
        &mut self,
        voters: &Membership,
        from: NodeId,
        granted: bool,
    ) -> VoteResult {
        self.votes.entry(from).or_insert(granted);
        quorum::vote_result(voters, &self.votes)
    }

    /// Keeps progress for exactly `peers`: new ones start probing at `next`.
    pub(crate) fn sync(&mut self, peers: &[NodeId], next: Index) {
        self.progress.retain(|id, _| peers.contains(id));
        for &p in peers {
            self.progress
                .entry(p)
                .or_insert_with(|| Progress::new(next));
        }
    }

    /// The followers the leader replicates to, in id order.
    pub(crate) fn peers(&self) -> Vec<NodeId> {
        self.progress.keys().copied().collect()
    }

    pub(crate) fn get(&self, id: NodeId) -> Option<&Progress> {
        self.progress.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        self.progress.get_mut(&id)
    }

    /// The highest index known to be on `id` (0 if it is not tracked).
    pub(crate) fn matched(&self, id: NodeId) -> Index {
        self.progress.get(&id).map_or(0, Progress::matched)
    }

    /// The highest index a majority of `voters` holds, counting the leader
    /// `me` at `own` (its durable index).
    pub(crate) fn committed(&self, voters: &Membership, me: NodeId, own: Index) -> Index {
        quorum::committed_index(voters, |v| if v == me { own } else { self.matched(v) })
    }

    /// §6.2 check-quorum: whether a majority of `voters` (the leader `me`
    /// included) was heard from this round; then a new round starts.
    pub(crate) fn quorum_was_active(&mut self, voters: &Membership, me: NodeId) -> bool {
        let active = voters
            .voters
            .iter()
            .filter(|&&v| v == me || self.progress.get(&v).is_some_and(Progress::recent_active));
        let ok = quorum::has_quorum(voters, active);
        if ok {
            self.progress
                .values_mut()
                .for_each(Progress::forget_activity);
        }
        ok
    }

    /// One tick for every follower waiting on a snapshot; returns whether
    /// any went back to probing (and needs an Append).
    pub(crate) fn tick_snapshots(&mut self, patience: u32) -> bool {
        let mut any = false;
        for pr in self.progress.values_mut() {
            any |= pr.tick_snapshot(patience);
        }
        any
    }
}
