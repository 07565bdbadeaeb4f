//! What the driver does with each kind of input: [`Driver::handle`]
//! dispatches, and one method per kind steps the core, queues the reply to
//! wait for what the core decides, or answers at once.

use super::{Driver, Shard};
use crate::node::app::Sessions;
use crate::node::input::{ClientError, Input, ReadMode, Reply, ShardStatus};
use crate::node::metrics::Counters;
use crate::raft::{
    Index, Membership, Message, NodeId, RaftError, Recovered, RequestId, Role, ShardId,
    SnapshotMeta,
};

impl Driver {
    /// Takes one input. Nothing here waits for the disk: what the cores
    /// decide is persisted, sent and answered by `process` after the turn.
    pub(super) fn handle(&mut self, input: Input) {
        match input {
            Input::Peer { from, messages } => self.on_peer(from, messages),
            Input::Write {
                shard,
                request,
                data,
                reply,
            } => self.on_write(shard, request, data, reply),
            Input::Read {
                shard,
                query,
                mode,
                reply,
            } => self.on_read(shard, query, mode, reply),
            Input::ChangeMembership {
                shard,
                node,
                add,
                reply,
            } => self.on_change_membership(shard, node, add, reply),
            Input::Transfer { shard, to, reply } => self.on_transfer(shard, to, reply),
            Input::Status { shard, reply } => self.on_status(shard, reply),
            Input::AddShard {
                shard,
                membership,
                reply,
            } => self.on_add_shard(shard, membership, reply),
            Input::RemoveShard { shard, reply } => self.on_remove_shard(shard, reply),
            Input::SnapshotFetched { shard, result } => self.on_snapshot_fetched(shard, result),
        }
    }

    /// Steps each shard's core with its messages from peer `from`; messages
    /// for a shard not hosted here are dropped.
    fn on_peer(&mut self, from: NodeId, messages: Vec<(ShardId, Message)>) {
        for (shard, msg) in messages {
            match self.shards.get_mut(&shard) {
                Some(s) => s.raft.step(from, msg),
                None => tracing::debug!(
                    node = self.config.id,
                    shard,
                    "message for unknown shard dropped"
                ),
            }
        }
    }

    /// Proposes a client's command; the reply waits until its entry is
    /// applied. A command too large to replicate is refused.
    fn on_write(
        &mut self,
        shard: ShardId,
        request: Option<RequestId>,
        data: Vec<u8>,
        reply: Reply<Vec<u8>>,
    ) {
        let Some(s) = self.shards.get_mut(&shard) else {
            let _ = reply.send(Err(ClientError::UnknownShard(shard)));
            return;
        };
        let limit = self.config.max_write_bytes();
        if data.len() > limit {
            let _ = reply.send(Err(ClientError::Refused(format!(
                "a command of {} bytes exceeds the largest write of {limit} bytes",
                data.len()
            ))));
            return;
        }
        let proposed = s.raft.propose(request, data);
        wait_for_apply(s, proposed, reply);
    }

    /// Serves a read: a local one at once from the applied state; a
    /// linearizable one once the leader has confirmed its leadership
    /// (`after_persist` serves it when `applied` reaches its index).
    fn on_read(&mut self, shard: ShardId, query: Vec<u8>, mode: ReadMode, reply: Reply<Vec<u8>>) {
        let Some(s) = self.shards.get_mut(&shard) else {
            let _ = reply.send(Err(ClientError::UnknownShard(shard)));
            return;
        };
        match mode {
            ReadMode::Local => {
                let _ = reply.send(Ok(self.app.read(shard, &query)));
            }
            ReadMode::Linearizable => {
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                match s.raft.read_index(ctx) {
                    Ok(()) => {
                        s.confirming.insert(ctx, (query, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(refusal(e)));
                    }
                }
            }
        }
    }

    /// Proposes adding or removing one voter (a single-server change); the
    /// reply waits until the change is applied. A leader asked to remove
    /// itself hands leadership over first (TimeoutNow) and answers
    /// `NotLeader` naming the target, which removes it.
    fn on_change_membership(
        &mut self,
        shard: ShardId,
        node: NodeId,
        add: bool,
        reply: Reply<Vec<u8>>,
    ) {
        let Some(s) = self.shards.get_mut(&shard) else {
            let _ = reply.send(Err(ClientError::UnknownShard(shard)));
            return;
        };
        let mut voters = s.raft.status().membership;
        let changed = if add {
            voters.voters.insert(node)
        } else {
            voters.voters.remove(&node)
        };
        if !changed {
            let verb = if add {
                "already a voter"
            } else {
                "not a voter"
            };
            let _ = reply.send(Err(ClientError::Refused(format!(
                "n{node} is {verb} of shard {shard}"
            ))));
            return;
        }
        if !add && node == self.config.id && s.raft.status().is_leader() {
            // A leader asked to remove itself hands leadership over
            // first (TimeoutNow), and the new leader removes it: the
            // shard never waits out an election timeout for it.
            if let Some(target) = s.raft.most_up_to_date_follower() {
                if s.raft.transfer_leader(target).is_ok() {
                    let _ = reply.send(Err(ClientError::NotLeader {
                        leader: Some(target),
                    }));
                    return;
                }
            }
        }
        let proposed = s.raft.propose_membership(voters);
        wait_for_apply(s, proposed, reply);
    }

    /// Hands leadership over to `to`, or with `None` to the most up-to-date
    /// follower (else any other voter); answers once the handover started.
    fn on_transfer(&mut self, shard: ShardId, to: Option<NodeId>, reply: Reply<Vec<u8>>) {
        let Some(s) = self.shards.get_mut(&shard) else {
            let _ = reply.send(Err(ClientError::UnknownShard(shard)));
            return;
        };
        let status = s.raft.status();
        let target = to
            .or_else(|| s.raft.most_up_to_date_follower())
            .or_else(|| {
                status
                    .membership
                    .voters
                    .iter()
                    .copied()
                    .find(|v| *v != self.config.id)
            });
        let result = match target {
            Some(t) => s
                .raft
                .transfer_leader(t)
                .map(|_| Vec::new())
                .map_err(refusal),
            None => Err(ClientError::Refused(
                "no other voter to hand leadership to".into(),
            )),
        };
        let _ = reply.send(result);
    }

    /// Answers with the shard's state on this node.
    fn on_status(&mut self, shard: ShardId, reply: Reply<ShardStatus>) {
        let result = match self.shards.get(&shard) {
            Some(s) => Ok(status_of(shard, s)),
            None => Err(ClientError::UnknownShard(shard)),
        };
        let _ = reply.send(result);
    }

    /// Starts hosting a new, empty shard bootstrapped with `membership`
    /// (nothing happens if it is hosted already).
    fn on_add_shard(&mut self, shard: ShardId, membership: Membership, reply: Reply<()>) {
        if !self.shards.contains_key(&shard) {
            let s = Self::recover_shard(
                &self.config,
                &mut *self.app,
                shard,
                membership,
                Recovered::default(),
                None,
            );
            match s {
                Ok(s) => {
                    self.shards.insert(shard, s);
                    self.known.write().expect("known shards lock").insert(shard);
                }
                Err(e) => {
                    let _ = reply.send(Err(ClientError::Refused(e.to_string())));
                    return;
                }
            }
        }
        let _ = reply.send(Ok(()));
    }

    /// Stops hosting a shard: drops its core and its waiters, empties its
    /// application state and deletes it from the store, durably, before the
    /// reply.
    fn on_remove_shard(&mut self, shard: ShardId, reply: Reply<()>) {
        if self.shards.remove(&shard).is_none() {
            let _ = reply.send(Err(ClientError::UnknownShard(shard)));
            return;
        }
        self.known
            .write()
            .expect("known shards lock")
            .remove(&shard);
        self.app.restore(shard, &[]);
        // Durable before the reply: a removed shard must not come
        // back at the next restart.
        let result = self
            .store
            .remove_shard(shard)
            .and_then(|()| self.store.sync())
            .map_err(|e| ClientError::Refused(e.to_string()));
        let _ = reply.send(result);
    }

    /// Installs a snapshot fetched from the leader (see `fetch_snapshot`),
    /// unless the shard's log moved past it meanwhile; it is written with
    /// the shard's next batch. Waiters below it learn nothing more: they are
    /// answered `Indeterminate`.
    fn on_snapshot_fetched(&mut self, shard: ShardId, result: Option<(SnapshotMeta, Vec<u8>)>) {
        let Some(s) = self.shards.get_mut(&shard) else {
            return;
        };
        s.fetching = false;
        let Some((meta, blob)) = result else { return };
        // The fetch ran while the shard went on: a newer leader may
        // have replicated past the snapshot meanwhile, and this node
        // acknowledged those entries. Installing would discard them.
        if meta.index <= s.applied || !s.raft.snapshot_wanted(&meta) {
            tracing::info!(
                node = self.config.id,
                shard,
                index = meta.index,
                applied = s.applied,
                "fetched snapshot no longer wanted: the log moved past it; dropped"
            );
            Counters::bump(&self.counters.snapshots_dropped);
            return;
        }
        let Some((sessions, data)) = Sessions::decode(&blob, self.config.max_sessions) else {
            tracing::warn!(
                node = self.config.id,
                shard,
                "fetched snapshot is malformed; ignored"
            );
            return;
        };
        self.app.restore(shard, data);
        s.sessions = sessions;
        s.applied = meta.index;
        s.applied_term = meta.term;
        s.applied_membership = meta.membership.clone();
        s.snapshot_index = meta.index;
        s.raft.snapshot_installed(meta.clone());
        Counters::bump(&self.counters.snapshots_installed);
        s.snapshot_to_write = Some((meta, blob));
        // Entries below the snapshot will never be applied here: their waiters cannot learn their fate.
        let later = s.waiting.split_off(&(s.applied + 1));
        for (_, (_, reply)) in std::mem::replace(&mut s.waiting, later) {
            let _ = reply.send(Err(ClientError::Indeterminate));
        }
    }
}

/// A proposal's reply waits for its entry (index and the term it was
/// proposed in) to be applied; a refused proposal is answered at once.
fn wait_for_apply(s: &mut Shard, proposed: Result<Index, RaftError>, reply: Reply<Vec<u8>>) {
    match proposed {
        Ok(index) => {
            let term = s.raft.status().term;
            s.waiting.insert(index, (term, reply));
        }
        Err(e) => {
            let _ = reply.send(Err(refusal(e)));
        }
    }
}

/// How a core's refusal reaches the client.
fn refusal(e: RaftError) -> ClientError {
    match e {
        RaftError::NotLeader { leader } => ClientError::NotLeader { leader },
        other => ClientError::Refused(other.to_string()),
    }
}

/// What [`Input::Status`] answers for `shard`.
fn status_of(shard: ShardId, s: &Shard) -> ShardStatus {
    let st = s.raft.status();
    ShardStatus {
        shard,
        role: match st.role {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
        .to_string(),
        term: st.term,
        leader: st.leader,
        commit: st.commit,
        applied: s.applied,
        last_index: st.last_index,
        membership: st.membership,
        snapshot_index: s.snapshot_index,
    }
}
