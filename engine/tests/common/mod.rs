//! Test fixtures: a recording key-value app and a turmoil cluster of engine nodes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tumult_engine::node::{Env, Node, NodeConfig, RaftApp};
use tumult_engine::raft::{Index, Membership, NodeId, ShardId};
use tumult_engine::storage::TurmoilDisk;
use tumult_engine::trace::{TraceEvent, TraceSink};
use tumult_engine::transport::TurmoilNetwork;

/// What every node applied: node -> shard -> index -> command. Survives crashes
/// (it lives outside the simulated hosts), and re-applying an index after a
/// restart must give the very same command.
pub type Applied = Arc<Mutex<BTreeMap<NodeId, BTreeMap<ShardId, BTreeMap<Index, Vec<u8>>>>>>;

/// Appends every command to a per-shard list; `read` returns the list length.
pub struct Recorder {
    pub node: NodeId,
    pub applied: Applied,
    pub state: BTreeMap<ShardId, Vec<Vec<u8>>>,
}

impl RaftApp for Recorder {
    fn apply(&mut self, shard: ShardId, index: Index, command: &[u8]) -> Vec<u8> {
        let mut all = self.applied.lock().unwrap();
        let log = all.entry(self.node).or_default().entry(shard).or_default();
        if let Some(prev) = log.get(&index) {
            assert_eq!(
                prev, command,
                "n{} re-applied a different command at {index}",
                self.node
            );
        }
        log.insert(index, command.to_vec());
        let list = self.state.entry(shard).or_default();
        list.push(command.to_vec());
        (list.len() as u64).to_be_bytes().to_vec()
    }
    fn read(&mut self, shard: ShardId, _query: &[u8]) -> Vec<u8> {
        let n = self.state.get(&shard).map_or(0, Vec::len) as u64;
        n.to_be_bytes().to_vec()
    }
    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        let list = self.state.get(&shard).cloned().unwrap_or_default();
        serde_json::to_vec(&list).unwrap()
    }
    fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
        let list: Vec<Vec<u8>> = if snapshot.is_empty() {
            Vec::new()
        } else {
            serde_json::from_slice(snapshot).unwrap()
        };
        self.state.insert(shard, list);
    }
}

/// Collects trace events with the simulated time they were emitted at.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<(Duration, NodeId, ShardId, TraceEvent)>>);

impl TraceSink for Collect {
    fn emit(&self, node: NodeId, shard: ShardId, event: &TraceEvent) {
        let t = turmoil::sim_elapsed().unwrap_or_default();
        self.0.lock().unwrap().push((t, node, shard, event.clone()));
    }
}

impl Collect {
    /// The node that most recently became leader of `shard` in the highest term.
    pub fn leader(&self, shard: ShardId) -> Option<(NodeId, u64)> {
        let mut best: Option<(NodeId, u64)> = None;
        for (_, node, s, e) in self.0.lock().unwrap().iter() {
            if let (true, TraceEvent::BecomeLeader { term }) = (*s == shard, e) {
                if best.is_none_or(|(_, t)| *term >= t) {
                    best = Some((*node, *term));
                }
            }
        }
        best
    }
}

pub fn addr(i: NodeId) -> String {
    format!("n{i}:7000")
}

pub fn peers(n: u64) -> BTreeMap<NodeId, String> {
    (1..=n).map(|i| (i, addr(i))).collect()
}

pub fn sim<'a>(seed: u64, duration: Duration) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .simulation_duration(duration)
        .rng_seed(seed)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .build()
}

/// Starts `n` engine nodes hosting `shards` shards, all voters.
pub fn start_cluster(
    sim: &mut turmoil::Sim<'_>,
    n: u64,
    shards: u64,
    applied: &Applied,
    trace: &Arc<Collect>,
) {
    for i in 1..=n {
        let applied = Arc::clone(applied);
        let trace = Arc::clone(trace);
        sim.host(addr(i).split(':').next().unwrap(), move || {
            let applied = Arc::clone(&applied);
            let trace = Arc::clone(&trace);
            async move {
                let mut config = NodeConfig::new(i, peers(n), "/data/tumult".into());
                config.listen = Some("0.0.0.0:7000".into());
                config.seed = 7;
                config.shards = (0..shards).map(|s| (s, Membership::new(1..=n))).collect();
                let env = Env {
                    network: Arc::new(TurmoilNetwork),
                    disk: Arc::new(TurmoilDisk),
                    sync_latency: Arc::new(|| Duration::from_millis(1)),
                    trace,
                };
                let app = Recorder {
                    node: i,
                    applied,
                    state: BTreeMap::new(),
                };
                let node = Node::start(config, env, app).await?;
                let why = node.stopped().await;
                Err(why.into())
            }
        });
    }
}

/// Steps the simulation until `done` or the simulated deadline.
pub fn run_until(
    sim: &mut turmoil::Sim<'_>,
    deadline: Duration,
    mut done: impl FnMut(&mut turmoil::Sim<'_>) -> bool,
) -> bool {
    while sim.elapsed() < deadline {
        if done(sim) {
            return true;
        }
        sim.step().expect("simulation step");
    }
    done(sim)
}
