//! The driver: one task that owns every shard's core, the store and the
//! application, and turns their outputs into writes, messages and replies in
//! the order durability requires.

use super::app::{Dedup, Sessions};
use super::peers::Peers;
use super::{
    ClientError, Env, Input, NodeConfig, NodeError, RaftApp, ReadMode, Reply, ShardStatus,
};
use crate::raft::{
    Config, Entry, Index, Membership, NodeId, Payload, Raft, RaftError, Ready, Recovered, Role,
    ShardId, SnapshotMeta, Term,
};
use crate::storage::{ShardWrite, Store};
use crate::trace::TraceEvent;
use crate::transport::encode;
use crate::transport::pb::RaftMessage;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, watch};

/// Most inputs handled in one turn before the cores' output is processed.
const MAX_INPUTS_PER_TURN: usize = 4096;
/// Most rounds of persist-send-apply in one turn.
const MAX_ROUNDS_PER_TURN: usize = 16;

/// The shards this node hosts, shared with the gRPC service so it can refuse
/// messages for unknown shards.
pub(crate) type KnownShards = Arc<RwLock<BTreeSet<ShardId>>>;

struct Shard {
    raft: Raft,
    sessions: Sessions,
    /// Term of the last applied entry.
    applied_term: Term,
    /// Index of the last applied entry.
    applied: Index,
    /// The membership in force at `applied`.
    applied_membership: Membership,
    snapshot_index: Index,
    /// Proposals waiting to be applied: index -> (term proposed in, reply).
    waiting: BTreeMap<Index, (Term, Reply<Vec<u8>>)>,
    /// Reads waiting for the leader's confirmation: ctx -> (query, reply).
    confirming: BTreeMap<u64, (Vec<u8>, Reply<Vec<u8>>)>,
    /// Confirmed reads waiting for `applied` to reach their index.
    serving: Vec<(Index, Vec<u8>, Reply<Vec<u8>>)>,
    /// A snapshot to write with the next batch.
    snapshot_to_write: Option<(SnapshotMeta, Vec<u8>)>,
    fetching: bool,
}

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
    counters: Arc<super::metrics::Counters>,
}

fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 finalizer over the combination: distinct timers per (node, shard).
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Driver {
    pub(crate) fn open(
        config: NodeConfig,
        env: Env,
        mut app: Box<dyn RaftApp>,
        inputs: mpsc::Sender<Input>,
        counters: Arc<super::metrics::Counters>,
    ) -> Result<Driver, NodeError> {
        let store = Arc::new(Store::open(Arc::clone(&env.disk), &config.data_dir)?);
        let mut ids: BTreeMap<ShardId, Membership> = BTreeMap::new();
        for shard in store.shards()? {
            ids.insert(shard, Membership::default());
        }
        for (shard, m) in &config.shards {
            ids.insert(*shard, m.clone());
        }
        let mut shards = BTreeMap::new();
        for (shard, initial) in ids {
            let recovered = store.load(shard)?;
            let snapshot = store.load_snapshot(shard)?;
            let base = recovered
                .snapshot
                .as_ref()
                .map_or((0, 0), |m| (m.index, m.term));
            let (last_index, last_term) =
                recovered.entries.last().map_or(base, |e| (e.index, e.term));
            let start = TraceEvent::Start {
                term: recovered.hard_state.term,
                vote: recovered.hard_state.vote,
                snapshot: snapshot.as_ref().map_or(0, |(m, _)| m.index),
                last_index,
                last_term,
            };
            env.trace.emit(config.id, shard, &start);
            let s = Self::recover_shard(&config, &mut *app, shard, initial, recovered, snapshot)?;
            shards.insert(shard, s);
        }
        let known = Arc::new(RwLock::new(shards.keys().copied().collect()));
        let peers = Peers::new(
            super::peers::LinkSettings {
                me: config.id,
                network: Arc::clone(&env.network),
                link: config.link,
                max_batch_bytes: config.max_batch_bytes(),
                credentials: config.credentials.clone(),
                counters: Arc::clone(&counters),
            },
            config.peers.clone(),
        );
        Ok(Driver {
            config,
            env,
            app,
            store,
            shards,
            known,
            peers,
            inputs,
            next_ctx: 1,
            counters,
        })
    }

    fn raft_config(config: &NodeConfig, shard: ShardId) -> Config {
        let mut c = Config::new(config.id, mix(mix(config.seed, config.id), shard));
        c.election_ticks_min = config.election_ticks.0;
        c.election_ticks_max = config.election_ticks.1;
        c.heartbeat_ticks = config.heartbeat_ticks;
        c.pre_vote = config.pre_vote;
        c.check_quorum = config.check_quorum;
        c.max_append_entries = config.max_append_entries;
        c.max_append_bytes = config.max_append_bytes();
        c
    }

    fn recover_shard(
        config: &NodeConfig,
        app: &mut dyn RaftApp,
        shard: ShardId,
        initial: Membership,
        recovered: Recovered,
        snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    ) -> Result<Shard, NodeError> {
        let mut sessions = Sessions::with_capacity(config.max_sessions);
        let (applied, applied_term, applied_membership) = match &snapshot {
            Some((meta, blob)) => {
                let (s, data) = Sessions::decode(blob, config.max_sessions).ok_or_else(|| {
                    NodeError::Storage(format!(
                        "shard {shard}: snapshot at {} is corrupt",
                        meta.index
                    ))
                })?;
                sessions = s;
                app.restore(shard, data);
                (meta.index, meta.term, meta.membership.clone())
            }
            None => {
                app.restore(shard, &[]);
                (0, 0, initial.clone())
            }
        };
        // What the core relies on when it restores a replica: its ballot is
        // never older than its log (terms are adopted before entries of them
        // are written, in the same transaction).
        let last_term = recovered
            .entries
            .last()
            .map_or(recovered.snapshot.as_ref().map_or(0, |m| m.term), |e| {
                e.term
            });
        if recovered.hard_state.term < last_term {
            return Err(NodeError::Storage(format!(
                "corrupt hard state of shard {shard}: term {} is older than the last log entry's term {last_term}",
                recovered.hard_state.term
            )));
        }
        let raft = Raft::new(shard, Self::raft_config(config, shard), initial, recovered);
        Ok(Shard {
            raft,
            sessions,
            applied_term,
            applied,
            applied_membership,
            snapshot_index: applied,
            waiting: BTreeMap::new(),
            confirming: BTreeMap::new(),
            serving: Vec::new(),
            snapshot_to_write: None,
            fetching: false,
        })
    }

    pub(crate) fn known_shards(&self) -> KnownShards {
        Arc::clone(&self.known)
    }

    /// The store, for serving snapshots without the driver.
    pub(crate) fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

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
                    for s in self.shards.values_mut() {
                        s.raft.tick();
                    }
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

    fn handle(&mut self, input: Input) {
        match input {
            Input::Peer { from, messages } => {
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
            Input::Write {
                shard,
                request,
                data,
                reply,
            } => {
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
                match s.raft.propose(request, data) {
                    Ok(index) => {
                        let term = s.raft.status().term;
                        s.waiting.insert(index, (term, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(refusal(e)));
                    }
                }
            }
            Input::Read {
                shard,
                query,
                mode,
                reply,
            } => {
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
            Input::ChangeMembership {
                shard,
                node,
                add,
                reply,
            } => {
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
                match s.raft.propose_membership(voters) {
                    Ok(index) => {
                        let term = s.raft.status().term;
                        s.waiting.insert(index, (term, reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(refusal(e)));
                    }
                }
            }
            Input::Transfer { shard, to, reply } => {
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
            Input::Status { shard, reply } => {
                let result = match self.shards.get(&shard) {
                    Some(s) => Ok(status_of(shard, s)),
                    None => Err(ClientError::UnknownShard(shard)),
                };
                let _ = reply.send(result);
            }
            Input::AddShard {
                shard,
                membership,
                reply,
            } => {
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
            Input::RemoveShard { shard, reply } => {
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
            Input::SnapshotFetched { shard, result } => {
                let Some(s) = self.shards.get_mut(&shard) else {
                    return;
                };
                s.fetching = false;
                let Some((meta, blob)) = result else { return };
                // The fetch ran while the shard went on: a newer leader may
                // have replicated past the snapshot meanwhile, and this node
                // acknowledged those entries. Installing would discard them.
                if meta.index <= s.applied || !s.raft.snapshot_wanted(&meta) {
                    tracing::debug!(
                        node = self.config.id,
                        shard,
                        index = meta.index,
                        "fetched snapshot no longer wanted: the log moved past it; dropped"
                    );
                    super::metrics::Counters::bump(&self.counters.snapshots_dropped);
                    return;
                }
                let Some((sessions, data)) = Sessions::decode(&blob, self.config.max_sessions)
                else {
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
                super::metrics::Counters::bump(&self.counters.snapshots_installed);
                s.snapshot_to_write = Some((meta, blob));
                // Entries below the snapshot will never be applied here: their waiters cannot learn their fate.
                let later = s.waiting.split_off(&(s.applied + 1));
                for (_, (_, reply)) in std::mem::replace(&mut s.waiting, later) {
                    let _ = reply.send(Err(ClientError::Indeterminate));
                }
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
            let unsynced = !writes.is_empty() && crate::mutant!(AckBeforeSync);
            if !writes.is_empty() && !unsynced {
                // One transaction for every shard's writes; nothing below runs
                // until it is durable.
                self.store.write(&writes)?;
                let latency = (self.env.sync_latency)();
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                self.store.sync()?;
            }
            let mut outgoing: BTreeMap<NodeId, Vec<RaftMessage>> = BTreeMap::new();
            for (id, ready) in readies {
                self.after_persist(id, ready, &mut outgoing);
            }
            for (to, batch) in outgoing {
                self.peers.send(to, batch);
            }
            if unsynced {
                self.store.write(&writes)?; // mutant AckBeforeSync: made durable after sending
                tokio::time::sleep((self.env.sync_latency)()).await;
                self.store.sync()?;
            }
        }
        Ok(())
    }

    fn after_persist(
        &mut self,
        id: ShardId,
        ready: Ready,
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
        for (to, msg) in &ready.messages {
            outgoing.entry(*to).or_default().push(encode(id, *to, msg));
        }
        s.raft.advance();
        for entry in ready.committed {
            apply(me, id, s, &mut *self.app, &*self.env.trace, entry);
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
        let applied = s.applied;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut s.serving)
            .into_iter()
            .partition(|(index, _, _)| *index <= applied);
        s.serving = later;
        for (_, query, reply) in now {
            let _ = reply.send(Ok(self.app.read(id, &query)));
        }
        let mut fetch = None;
        if let Some((leader, meta)) = ready.fetch_snapshot {
            if !s.fetching {
                s.fetching = true;
                fetch = Some((leader, meta));
            }
        }
        if s.applied > s.snapshot_index && self.app.should_snapshot(id, s.applied, s.snapshot_index)
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
    fn fetch_snapshot(&self, shard: ShardId, leader: NodeId, meta: SnapshotMeta) -> bool {
        let inputs = self.inputs.clone();
        let Some(addr) = self.peers.address(leader).map(str::to_string) else {
            return false;
        };
        let network = Arc::clone(&self.env.network);
        let link = self.config.link;
        let max_message_bytes = self.config.max_message_bytes;
        let credentials = self.config.credentials.clone();
        let spawner = Arc::clone(&self.env.network);
        spawner.spawn(Box::pin(async move {
            let fetch = super::service::fetch_snapshot(
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
            let _ = inputs.send(Input::SnapshotFetched { shard, result }).await;
        }));
        true
    }
}

/// Applies one committed entry and answers whoever waits for it.
fn apply(
    me: NodeId,
    shard: ShardId,
    s: &mut Shard,
    app: &mut dyn RaftApp,
    trace: &dyn crate::trace::TraceSink,
    entry: Entry,
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
    let reply = match &entry.payload {
        Payload::Noop => Ok(Vec::new()),
        Payload::Command { request, data } => match request {
            Some(r) if !crate::mutant!(RetryAppliedTwice) => match s.sessions.check(*r) {
                Dedup::Apply => {
                    let reply = app.apply(shard, entry.index, data);
                    s.sessions.record(*r, reply.clone(), entry.index);
                    Ok(reply)
                }
                Dedup::Duplicate(reply) => Ok(reply),
                // Skipped on every replica alike: it certainly never takes effect.
                Dedup::Stale => Err(ClientError::Refused(format!(
                    "request {} of client {} is older than the client's latest applied request; not applied",
                    r.seq, r.client
                ))),
            },
            _ => Ok(app.apply(shard, entry.index, data)),
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

fn refusal(e: RaftError) -> ClientError {
    match e {
        RaftError::NotLeader { leader } => ClientError::NotLeader { leader },
        other => ClientError::Refused(other.to_string()),
    }
}

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
