//! Opening the driver: recovering every shard from the store (its log, its
//! ballot, its snapshot and the application state in it) and giving each
//! core its configuration.

use super::{Driver, Shard};
use crate::buggify::Buggify;
use crate::node::app::{RaftApp, Sessions};
use crate::node::config::{Env, NodeConfig, NodeError};
use crate::node::input::{Input, KnownShards};
use crate::node::metrics::Counters;
use crate::node::peers::{LinkSettings, Peers};
use crate::raft::{Config, Membership, Raft, Recovered, ShardId, SnapshotMeta};
use crate::storage::Store;
use crate::trace::TraceEvent;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

impl Driver {
    /// Opens the store and recovers every shard found on disk or named in
    /// `config.shards` (emitting each one's `Start` trace event); connects
    /// nothing yet.
    pub(crate) fn open(
        config: NodeConfig,
        env: Env,
        mut app: Box<dyn RaftApp>,
        inputs: mpsc::Sender<Input>,
        counters: Arc<Counters>,
    ) -> Result<Driver, NodeError> {
        let store = Arc::new(
            Store::open(Arc::clone(&env.disk), &config.data_dir)?.with_mutant(config.mutant),
        );
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
            let mut terms: Vec<(u64, u64)> = Vec::new();
            for e in &recovered.entries {
                if terms.last().is_none_or(|(_, t)| *t != e.term) {
                    terms.push((e.index, e.term));
                }
            }
            let start = TraceEvent::Start {
                term: recovered.hard_state.term,
                vote: recovered.hard_state.vote,
                snapshot: snapshot.as_ref().map_or(0, |(m, _)| m.index),
                last_index: Some(last_index),
                last_term: Some(last_term),
                terms,
            };
            env.trace.emit(config.id, shard, &start);
            let s = Self::recover_shard(&config, &mut *app, shard, initial, recovered, snapshot)?;
            shards.insert(shard, s);
        }
        let known = Arc::new(RwLock::new(shards.keys().copied().collect()));
        let peers = Peers::new(
            LinkSettings {
                me: config.id,
                network: Arc::clone(&env.network),
                link: config.link,
                max_batch_bytes: config.max_batch_bytes(),
                credentials: config.credentials.clone(),
                counters: Arc::clone(&counters),
            },
            config.peers.clone(),
        );
        let buggify = Buggify::new(&config.faults, config.id);
        Ok(Driver {
            buggify,
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

    /// The core's configuration for `shard`: the node's timing and limits,
    /// and a seed of its own for the shard's election timeouts.
    fn raft_config(config: &NodeConfig, shard: ShardId) -> Config {
        let mut c = Config::new(config.id, mix(mix(config.seed, config.id), shard));
        c.election_ticks_min = config.election_ticks.0;
        c.election_ticks_max = config.election_ticks.1;
        c.heartbeat_ticks = config.heartbeat_ticks;
        c.pre_vote = config.pre_vote;
        c.check_quorum = config.check_quorum;
        c.max_append_entries = config.max_append_entries;
        c.max_append_bytes = config.max_append_bytes();
        c.mutant = config.mutant;
        c
    }

    /// Rebuilds one shard from what its store held (nothing, for a new
    /// shard): the application restored from the snapshot, the core from the
    /// log and ballot. Refuses a corrupt snapshot or a ballot older than the
    /// log.
    pub(super) fn recover_shard(
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
            lagging: Vec::new(),
            lag_ticks: 0,
            snapshot_put_off: 0,
            commit_hold: BTreeMap::new(),
        })
    }

    /// The shards hosted, for the gRPC service.
    pub(crate) fn known_shards(&self) -> KnownShards {
        Arc::clone(&self.known)
    }

    /// The store, for serving snapshots without the driver.
    pub(crate) fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }
}

/// Mixes two ids into a seed.
fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 finalizer over the combination: distinct timers per (node, shard).
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
