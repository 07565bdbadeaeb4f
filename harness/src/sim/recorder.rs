//! The history of a run as it happens: client operations, nemesis events and
//! the engine's trace, in one sequence, each stamped with simulated time.
//!
//! The simulation is single-threaded, so the order in which hosts and the
//! nemesis record is deterministic, and so is the history.

use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::raft::{Index, NodeId, ShardId, Term};
use tumult_engine::trace::{TraceEvent, TraceSink};
use tumult_models::history::{ClientOp, Entry, NemesisEvent, TraceEvent as TraceLine};

/// Where a run's times come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The simulator's clock of the host that asks.
    #[default]
    Sim,
    /// The machine's monotonic clock since `epoch` (ns of [`monotonic_ns`]),
    /// the same in every process of a real run.
    Real { epoch: u64 },
}

impl Clock {
    /// Nanoseconds since the start of the run.
    pub fn now(self) -> u64 {
        match self {
            Clock::Sim => host_now(),
            Clock::Real { epoch } => monotonic_ns().saturating_sub(epoch),
        }
    }
}

/// The machine's monotonic clock (`CLOCK_MONOTONIC`), in nanoseconds: one
/// time base for every process of a real run.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass and nothing else;
    // CLOCK_MONOTONIC exists on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The history so far and what the nemesis needs to know of the cluster.
#[derive(Default)]
pub struct Recorder {
    /// Where times come from.
    pub clock: Clock,
    /// Every entry, in order; `index` is the position (real runs renumber
    /// the merged history at the end).
    pub entries: Vec<Entry>,
    /// Per shard: the node that most recently became leader in the highest term.
    pub leaders: BTreeMap<ShardId, (NodeId, Term)>,
    /// Nodes that stopped themselves (e.g. after a disk failure), until restarted.
    pub stopped: BTreeSet<NodeId>,
    /// (shard, node) pairs where the node currently acts as leader.
    pub leading: BTreeSet<(ShardId, NodeId)>,
    /// Per shard: the voters of every membership a node took up, by the
    /// index of the entry that carries it.
    pub memberships: BTreeMap<ShardId, BTreeMap<Index, BTreeSet<NodeId>>>,
    /// Per shard: when a node last committed an entry (ns).
    pub last_commit: BTreeMap<ShardId, u64>,
    /// Membership changes the nemesis asked for that have not completed,
    /// by request number: (shard, node, add). One can still land after the
    /// final heal, so the liveness core must hold a majority of its result.
    pub membership_requests: BTreeMap<u64, (ShardId, NodeId, bool)>,
    /// Trace lines of a real run's node processes that could not be read.
    pub problems: Vec<String>,
}

/// The recorder, shared by hosts, clients and the nemesis.
pub type Shared = Arc<Mutex<Recorder>>;

/// Simulated time inside a host, in nanoseconds.
pub fn host_now() -> u64 {
    nanos(turmoil::sim_elapsed().unwrap_or_default())
}

/// A duration in nanoseconds.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Recorder {
    fn next_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Appends a client operation (its index is assigned here).
    pub fn client(&mut self, mut op: ClientOp) {
        op.index = self.next_index();
        self.entries.push(Entry::Client(op));
    }

    /// Appends a nemesis event.
    pub fn nemesis(&mut self, f: &str, value: Option<Json>, error: Option<String>, time: u64) {
        let mut extra = Map::new();
        if let Some(e) = error {
            extra.insert("error".into(), Json::String(e));
        }
        let index = self.next_index();
        self.entries.push(Entry::Nemesis(NemesisEvent {
            index,
            f: f.to_string(),
            value,
            time,
            extra,
        }));
    }

    /// A node went down: it leads nothing any more.
    pub fn node_down(&mut self, node: NodeId) {
        self.leading.retain(|(_, n)| *n != node);
    }

    /// What a system without a trace (etcd) reports of its leader: the
    /// node that leads `shard` now in `term`, or none.
    pub fn observe_leader(&mut self, shard: ShardId, leader: Option<(NodeId, Term)>) {
        self.leading.retain(|(s, _)| *s != shard);
        if let Some((node, term)) = leader {
            let newer = self.leaders.get(&shard).is_none_or(|(_, t)| term >= *t);
            if newer {
                self.leaders.insert(shard, (node, term));
            }
            self.leading.insert((shard, node));
        }
    }

    /// Shards in `0..shards` that no live node leads.
    pub fn leaderless(&self, shards: u64) -> Vec<ShardId> {
        (0..shards)
            .filter(|s| {
                !self
                    .leading
                    .iter()
                    .any(|(shard, n)| shard == s && !self.stopped.contains(n))
            })
            .collect()
    }

    /// Appends an engine trace event.
    pub fn trace(&mut self, node: NodeId, shard: ShardId, event: &TraceEvent, time: u64) {
        match event {
            TraceEvent::BecomeLeader { term } => {
                let newer = self.leaders.get(&shard).is_none_or(|(_, t)| *term >= *t);
                if newer {
                    self.leaders.insert(shard, (node, *term));
                }
                self.leading.insert((shard, node));
            }
            TraceEvent::BecomeFollower { .. } | TraceEvent::BecomeCandidate { .. } => {
                self.leading.remove(&(shard, node));
            }
            TraceEvent::Stop { .. } => {
                self.stopped.insert(node);
                self.node_down(node);
            }
            TraceEvent::Membership { index, voters } => {
                self.memberships
                    .entry(shard)
                    .or_default()
                    .insert(*index, voters.iter().copied().collect());
            }
            TraceEvent::Commit { .. } => {
                self.last_commit.insert(shard, time);
            }
            _ => {}
        }
        let index = self.next_index();
        self.entries.push(Entry::Trace(TraceLine {
            index,
            node: format!("n{node}"),
            shard: Some(shard),
            event: event.clone(),
            time,
        }));
    }
}

/// Feeds one node's trace into the recorder.
pub struct Sink(pub Shared);

impl TraceSink for Sink {
    fn emit(&self, node: NodeId, shard: ShardId, event: &TraceEvent) {
        let time = host_now();
        self.0
            .lock()
            .expect("recorder lock")
            .trace(node, shard, event, time);
    }
}
