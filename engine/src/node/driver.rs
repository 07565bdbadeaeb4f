//! The driver: one task that owns every shard's core, the store and the
//! application, and turns their outputs into writes, messages and replies in
//! the order durability requires.

mod inputs;
mod open;

use super::app::{Dedup, RaftApp, Sessions};
use super::config::{Env, NodeConfig, NodeError};
use super::input::{ClientError, Input, KnownShards, Reply};
use super::metrics::Counters;
use super::peers::Peers;
use crate::buggify::{Buggify, Site};
use crate::raft::{
    Entry, Index, Membership, Message, NodeId, Payload, Raft, Ready, ShardId, SnapshotMeta, Term,
};
use crate::storage::{ShardWrite, Store};
use crate::trace::TraceEvent;
use crate::transport::encode;
use crate::transport::pb::RaftMessage;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Most inputs handled in one turn before the cores' output is processed.
const MAX_INPUTS_PER_TURN: usize = 4096;
/// Most rounds of persist-send-apply in one turn.
const MAX_ROUNDS_PER_TURN: usize = 16;

/// One hosted shard: its core, its application sessions, how far it has
/// applied, and the clients waiting on it.
struct Shard {
    raft: Raft,
    /// The last request of each client, for exactly-once retries.
    sessions: Sessions,
    /// Term of the last applied entry.
    applied_term: Term,
    /// Index of the last applied entry.
    applied: Index,
    /// The membership in force at `applied`.
    applied_membership: Membership,
    /// Index of the latest snapshot taken or installed.
    snapshot_index: Index,
    /// Proposals waiting to be applied: index -> (term proposed in, reply).
    waiting: BTreeMap<Index, (Term, Reply<Vec<u8>>)>,
    /// Reads waiting for the leader's confirmation: ctx -> (query, reply).
    confirming: BTreeMap<u64, (Vec<u8>, Reply<Vec<u8>>)>,
    /// Confirmed reads waiting for `applied` to reach their index.
    serving: Vec<(Index, Vec<u8>, Reply<Vec<u8>>)>,
    /// A snapshot to write with the next batch.
    snapshot_to_write: Option<(SnapshotMeta, Vec<u8>)>,
    /// A snapshot fetch from the leader is under way.
    fetching: bool,
    /// Committed entries not applied yet: applied at once, unless the fault
    /// site `apply-lag` holds them back for `lag_ticks` more ticks.
    lagging: Vec<Entry>,
    lag_ticks: u32,
    /// The fault site `compaction-lag` put the next snapshot off until
    /// `applied` passes this index.
    snapshot_put_off: Index,
    /// The fault site `commit-lag`: the commit index this shard's leader
    /// advertises to a peer is capped at `.0` for `.1` more ticks.
    commit_hold: BTreeMap<NodeId, (Index, u32)>,
}

/// Owns every shard of the node; runs as one task (see [`Driver::run`]) fed
/// by the node's input channel.
pub(crate) struct Driver {
    config: NodeConfig,
    env: Env,
    app: Box<dyn RaftApp>,
    /// Shared with the service, which serves snapshots straight from it
    /// (a read transaction) without the driver.
    store: Arc<Store>,
    shards: BTreeMap<ShardId, Shard>,
    known: KnownShards,
    peers: Peers,
    inputs: mpsc::Sender<Input>,
    next_ctx: u64,
    counters: Arc<Counters>,
    /// The node's draws at its fault sites (inert unless configured).
    buggify: Buggify,
}

impl Driver {
    /// The driver's loop: each turn takes the tick or up to
    /// `MAX_INPUTS_PER_TURN` inputs, then `process`es what the cores decided.
    /// Ends on shutdown, or when the store fails (every shard's trace gets a
    /// `Stop` and every pending reply is dropped).
    pub(crate) async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut shutdown: watch::Receiver<bool>,
        stopped: watch::Sender<Option<NodeError>>,
    ) {
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => {
                    let _ = stopped.send(Some(NodeError::Shutdown));
                    return;
                }
                _ = ticker.tick() => {
                    let ticks = if self.buggify.fires(Site::ExtraTick) { 2 } else { 1 };
                    for s in self.shards.values_mut() {
                        for _ in 0..ticks {
                            s.raft.tick();
                        }
                    }
                    self.catch_up();
                    self.peers.release_held();
                }
                input = inputs.recv() => {
                    let Some(input) = input else { return };
                    self.handle(input);
                    for _ in 1..MAX_INPUTS_PER_TURN {
                        match inputs.try_recv() {
                            Ok(input) => self.handle(input),
                            Err(_) => break,
                        }
                    }
                }
            }
            if let Err(e) = self.process().await {
                tracing::error!(node = self.config.id, "stopping: {e}");
                let reason = e.to_string();
                for shard in self.shards.keys() {
                    self.env.trace.emit(
                        self.config.id,
                        *shard,
                        &TraceEvent::Stop {
                            reason: reason.clone(),
                        },
                    );
                }
                // Dropping the shards drops every pending reply: clients see the node stop.
                self.shards.clear();
                let _ = stopped.send(Some(e));
                return;
            }
        }
    }

    /// Persists, sends, applies and answers until the cores have nothing more.
    async fn process(&mut self) -> Result<(), NodeError> {
        for _ in 0..MAX_ROUNDS_PER_TURN {
            let mut readies: Vec<(ShardId, Ready)> = Vec::new();
            let mut writes: Vec<ShardWrite> = Vec::new();
            for (id, s) in self.shards.iter_mut() {
                let has = s.raft.has_ready();
                if !has && s.snapshot_to_write.is_none() {
                    continue;
                }
                let mut ready = if has {
                    s.raft.ready()
                } else {
                    Ready::default()
                };
                let write = ShardWrite {
                    shard: *id,
                    hard_state: ready.hard_state,
                    truncate_from: ready.truncate_from,
                    // Only storage needs the entries: move them, do not copy.
                    entries: std::mem::take(&mut ready.entries),
                    snapshot: s.snapshot_to_write.take(),
                    compact_to: ready.compact.as_ref().map(|m| m.index),
                };
                if write.hard_state.is_some()
                    || write.truncate_from.is_some()
                    || !write.entries.is_empty()
                    || write.snapshot.is_some()
                    || write.compact_to.is_some()
                {
                    writes.push(write);
                }
                readies.push((*id, ready));
            }
            if readies.is_empty() {
                return Ok(());
            }
            let unsynced = !writes.is_empty() && crate::mutant!(self.config.mutant, AckBeforeSync);
            if !writes.is_empty() && !unsynced {
                // One transaction for every shard's writes; nothing below runs
                // until it is durable.
                self.store.write(&writes)?;
                let latency = (self.env.sync_latency)()
                    + self.buggify.delay(Site::SlowSync).unwrap_or_default();
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                off_the_runtime(|| self.store.sync())?;
            }
            let mut outgoing: BTreeMap<NodeId, Vec<RaftMessage>> = BTreeMap::new();
            for (id, ready) in readies {
                self.after_persist(id, ready, &mut outgoing);
            }
            for (to, batch) in outgoing {
                self.peers.send(to, batch, &mut self.buggify);
            }
            if unsynced {
                self.store.write(&writes)?; // mutant AckBeforeSync: made durable after sending
                tokio::time::sleep((self.env.sync_latency)()).await;
                self.store.sync()?;
            }
        }
        Ok(())
    }

    /// What one shard's `Ready` leads to once its writes are durable: its
    /// trace events are emitted, its messages queued in `outgoing`, its
    /// committed entries applied, its confirmed reads served, and a snapshot
    /// taken or fetched when due.
    fn after_persist(
        &mut self,
        id: ShardId,
        mut ready: Ready,
        outgoing: &mut BTreeMap<NodeId, Vec<RaftMessage>>,
    ) {
        let me = self.config.id;
        let Some(s) = self.shards.get_mut(&id) else {
            return;
        };
        for event in &ready.events {
            tracing::debug!(node = me, shard = id, ?event, "trace");
            if let TraceEvent::RefusedMessage { from, message, why } = event {
                tracing::warn!(
                    node = me,
                    shard = id,
                    from,
                    "refused {message} from n{from}: {why}"
                );
                self.counters.add(*from, 1, |c| &c.messages_refused);
            }
            self.env.trace.emit(me, id, event);
        }
        for (to, msg) in &mut ready.messages {
            hold_commit(s, *to, msg, &mut self.buggify);
            outgoing.entry(*to).or_default().push(encode(id, *to, msg));
        }
        s.raft.advance();
        if s.lagging.is_empty() && !ready.committed.is_empty() {
            if let Some(ticks) = self.buggify.ticks(Site::ApplyLag) {
                s.lag_ticks = ticks;
            }
        }
        s.lagging.extend(ready.committed);
        if s.lag_ticks == 0 {
            apply(
                me,
                id,
                s,
                &mut *self.app,
                &*self.env.trace,
                self.config.mutant,
            );
        }
        for r in ready.reads {
            if let Some((query, reply)) = s.confirming.remove(&r.ctx) {
                s.serving.push((r.index, query, reply));
            }
        }
        for ctx in ready.failed_reads {
            if let Some((_, reply)) = s.confirming.remove(&ctx) {
                let _ = reply.send(Err(ClientError::NotLeader {
                    leader: s.raft.status().leader,
                }));
            }
        }
        serve_reads(id, s, &mut *self.app);
        let mut fetch = None;
        if let Some((leader, meta)) = ready.fetch_snapshot {
            if !s.fetching {
                s.fetching = true;
                fetch = Some((leader, meta));
            }
        }
        if s.applied > s.snapshot_index.max(s.snapshot_put_off)
            && self.app.should_snapshot(id, s.applied, s.snapshot_index)
            && !put_off_snapshot(s, &mut self.buggify)
        {
            let meta = s
                .raft
                .snapshot_meta(s.applied)
                .unwrap_or_else(|| SnapshotMeta {
                    index: s.applied,
                    term: s.applied_term,
                    membership: s.applied_membership.clone(),
                });
            debug_assert_eq!((meta.index, meta.term), (s.applied, s.applied_term));
            let blob = s.sessions.encode_with(&self.app.snapshot(id));
            s.snapshot_index = meta.index;
            s.raft.snapshot_taken(meta.clone());
            s.snapshot_to_write = Some((meta, blob));
        }
        if let Some((leader, meta)) = fetch {
            if !self.fetch_snapshot(id, leader, meta) {
                if let Some(s) = self.shards.get_mut(&id) {
                    s.fetching = false;
                }
            }
        }
    }

    /// Starts fetching `meta` from `leader`; the result comes back as an
    /// input. False if it could not start (the leader has no address).
    fn fetch_snapshot(&mut self, shard: ShardId, leader: NodeId, meta: SnapshotMeta) -> bool {
        let inputs = self.inputs.clone();
        let late = self.buggify.delay(Site::LateSnapshot);
        let Some(addr) = self.peers.address(leader).map(str::to_string) else {
            return false;
        };
        let network = Arc::clone(&self.env.network);
        let link = self.config.link;
        let max_message_bytes = self.config.max_message_bytes;
        let credentials = self.config.credentials.clone();
        let spawner = Arc::clone(&self.env.network);
        spawner.spawn(Box::pin(async move {
            let fetch = crate::transport::fetch_snapshot(
                network,
                addr,
                link,
                &credentials,
                max_message_bytes,
                shard,
                meta.index,
            );
            let result = match tokio::time::timeout(std::time::Duration::from_secs(30), fetch).await
            {
                Ok(Ok(Some((got, data)))) if got.index >= meta.index => Some((got, data)),
                Ok(Ok(_)) => None,
                Ok(Err(e)) => {
                    tracing::debug!(shard, "snapshot fetch failed: {e}");
                    None
                }
                Err(_) => None,
            };
            if let Some(late) = late {
                tokio::time::sleep(late).await;
            }
            let _ = inputs.send(Input::SnapshotFetched { shard, result }).await;
        }));
        true
    }

    /// Applies the entries the fault site `apply-lag` held back, and serves
    /// the reads that were waiting for them.
    fn catch_up(&mut self) {
        let me = self.config.id;
        for (&id, s) in self.shards.iter_mut() {
            s.lag_ticks = s.lag_ticks.saturating_sub(1);
            let on = self.buggify.is_on();
            s.commit_hold.retain(|_, (_, ticks)| {
                *ticks -= 1;
                *ticks > 0 && on
            });
            if s.lag_ticks > 0 || s.lagging.is_empty() {
                continue;
            }
            apply(
                me,
                id,
                s,
                &mut *self.app,
                &*self.env.trace,
                self.config.mutant,
            );
            serve_reads(id, s, &mut *self.app);
        }
    }
}

/// The fault site `commit-lag`: caps the commit index that `msg` (an Append
/// or heartbeat of the shard's leader to `to`) advertises while a hold on
/// `to` is on, and may start one at an Append. The cap is the lowest
/// previous index of the Appends to `to` during the hold, so a follower
/// catching up holds entries it does not know are committed.
fn hold_commit(s: &mut Shard, to: NodeId, msg: &mut Message, bug: &mut Buggify) {
    let (prev, commit) = match msg {
        Message::Append {
            prev_index, commit, ..
        } => (Some(*prev_index), commit),
        Message::Heartbeat { commit, .. } => (None, commit),
        _ => return,
    };
    let hold = match (s.commit_hold.get_mut(&to), prev) {
        (Some(hold), _) => hold,
        (None, Some(prev)) => match bug.ticks(Site::CommitLag) {
            Some(ticks) => s.commit_hold.entry(to).or_insert((prev, ticks)),
            None => return,
        },
        (None, None) => return,
    };
    if let Some(prev) = prev {
        hold.0 = hold.0.min(prev);
    }
    *commit = (*commit).min(hold.0);
}

/// Whether the fault site `compaction-lag` puts off the snapshot of `s`
/// that is due now (until up to four times as many entries again are applied).
fn put_off_snapshot(s: &mut Shard, bug: &mut Buggify) -> bool {
    let Some(more) = bug.amount(Site::CompactionLag, 4 * (s.applied - s.snapshot_index)) else {
        return false;
    };
    s.snapshot_put_off = s.applied + more;
    true
}

/// Serves the confirmed reads whose index the shard has applied.
fn serve_reads(id: ShardId, s: &mut Shard, app: &mut dyn RaftApp) {
    let applied = s.applied;
    let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut s.serving)
        .into_iter()
        .partition(|(index, _, _)| *index <= applied);
    s.serving = later;
    for (_, query, reply) in now {
        let _ = reply.send(Ok(app.read(id, &query)));
    }
}

/// Applies the shard's committed entries that wait (`Shard::lagging`), in order.
fn apply(
    me: NodeId,
    shard: ShardId,
    s: &mut Shard,
    app: &mut dyn RaftApp,
    trace: &dyn crate::trace::TraceSink,
    mutant: Option<crate::mutants::Mutant>,
) {
    for entry in std::mem::take(&mut s.lagging) {
        apply_one(me, shard, s, app, trace, entry, mutant);
    }
}

/// Applies one committed entry and answers whoever waits for it.
fn apply_one(
    me: NodeId,
    shard: ShardId,
    s: &mut Shard,
    app: &mut dyn RaftApp,
    trace: &dyn crate::trace::TraceSink,
    entry: Entry,
    mutant: Option<crate::mutants::Mutant>,
) {
    if entry.index <= s.applied {
        // Covered by a snapshot installed meanwhile.
        return;
    }
    assert_eq!(
        entry.index,
        s.applied + 1,
        "shard {shard}: entries must be applied in order without gaps"
    );
    // The client request whose command takes effect at this entry.
    let mut took_effect = None;
    let reply = match &entry.payload {
        Payload::Noop => Ok(Vec::new()),
        Payload::Command { request, data } => match request {
            Some(r) if !crate::mutant!(mutant, RetryAppliedTwice) => match s.sessions.check(*r) {
                Dedup::Apply => {
                    let reply = app.apply(shard, entry.index, data);
                    s.sessions.record(*r, reply.clone(), entry.index);
                    took_effect = Some([r.client, r.seq]);
                    Ok(reply)
                }
                Dedup::Duplicate(reply) => Ok(reply),
                // Skipped on every replica alike: it certainly never takes effect.
                Dedup::Stale => Err(ClientError::Refused(format!(
                    "request {} of client {} is older than the client's latest applied request; not applied",
                    r.seq, r.client
                ))),
            },
            Some(r) => {
                // Mutant RetryAppliedTwice: every copy takes effect.
                took_effect = Some([r.client, r.seq]);
                Ok(app.apply(shard, entry.index, data))
            }
            None => Ok(app.apply(shard, entry.index, data)),
        },
        Payload::Config(m) => {
            s.applied_membership = m.clone();
            Ok(Vec::new())
        }
    };
    s.applied = entry.index;
    s.applied_term = entry.term;
    trace.emit(
        me,
        shard,
        &TraceEvent::Apply {
            index: entry.index,
            entry_term: entry.term,
            request: took_effect,
        },
    );
    // Waiters at or below this index learn their fate now.
    let later = s.waiting.split_off(&(entry.index + 1));
    for (index, (term, waiter)) in std::mem::replace(&mut s.waiting, later) {
        let result = if index == entry.index && term == entry.term {
            reply.clone()
        } else {
            Err(ClientError::Indeterminate)
        };
        let _ = waiter.send(result);
    }
}

/// Runs a blocking disk call (a sync) without holding up the other tasks
/// of a multi-threaded runtime: they move to another worker meanwhile
/// (several nodes in one process, clients, the gRPC service). On a
/// current-thread runtime (the simulator) it simply runs.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
