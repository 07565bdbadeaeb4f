//! Test fixtures: a recording key-value app and a turmoil cluster of engine nodes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tumult_engine::node::{Env, Node, NodeConfig, NodeError, RaftApp};
use tumult_engine::raft::{Index, Membership, NodeId, ShardId};
use tumult_engine::storage::{Disk, DiskFaults, FaultyDisk, TurmoilDisk};
use tumult_engine::trace::{TraceEvent, TraceSink};
use tumult_engine::transport::TurmoilNetwork;

/// What every node applied: node -> shard -> index -> command. Survives crashes
/// (it lives outside the simulated hosts), and re-applying an index after a
/// restart must give the very same command.
pub type Applied = Arc<Mutex<BTreeMap<NodeId, BTreeMap<ShardId, BTreeMap<Index, Vec<u8>>>>>>;

/// The application state of every node: node -> shard -> commands applied
/// (restored from snapshots included), mirrored after every change.
pub type States = Arc<Mutex<BTreeMap<NodeId, BTreeMap<ShardId, Vec<Vec<u8>>>>>>;

/// Appends every command to a per-shard list; `read` returns the list length.
pub struct Recorder {
    pub node: NodeId,
    pub applied: Applied,
    pub state: BTreeMap<ShardId, Vec<Vec<u8>>>,
    /// Snapshot after this many entries applied since the last snapshot.
    pub snapshot_every: Option<u64>,
    /// Where the state is mirrored for the test to look at.
    pub states: Option<States>,
}

impl Recorder {
    pub fn new(node: NodeId, applied: Applied) -> Recorder {
        Recorder {
            node,
            applied,
            state: BTreeMap::new(),
            snapshot_every: None,
            states: None,
        }
    }

    fn mirror(&self, shard: ShardId) {
        if let Some(states) = &self.states {
            let list = self.state.get(&shard).cloned().unwrap_or_default();
            states
                .lock()
                .unwrap()
                .entry(self.node)
                .or_default()
                .insert(shard, list);
        }
    }
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
        drop(all);
        let list = self.state.entry(shard).or_default();
        list.push(command.to_vec());
        let reply = (list.len() as u64).to_be_bytes().to_vec();
        self.mirror(shard);
        reply
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
        self.mirror(shard);
    }
    fn should_snapshot(&self, _shard: ShardId, applied: Index, snapshot_index: Index) -> bool {
        self.snapshot_every
            .is_some_and(|every| applied >= snapshot_index + every)
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

/// `TUMULT_TEST_SEED`, or 0.
pub fn extra_seed() -> u64 {
    std::env::var("TUMULT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A simulation with fixed epoch and latencies. `TUMULT_TEST_SEED=<n>` mixes
/// `n` into every test's seed, to try a test under other schedules.
pub fn sim<'a>(seed: u64, duration: Duration) -> turmoil::Sim<'a> {
    let seed = seed ^ extra_seed().wrapping_mul(0x9E37_79B9_7F4A_7C15);
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
    let mut spec = Spec::new(n, shards);
    spec.applied = Arc::clone(applied);
    spec.trace = Arc::clone(trace);
    let cluster = spec.start(sim);
    // These clusters are expected to run without a node stopping.
    cluster
        .fail_on_stop
        .store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Tweaks the configuration of node `id` before it starts.
pub type Configure = Arc<dyn Fn(NodeId, &mut NodeConfig) + Send + Sync>;

/// How to build a turmoil cluster of engine nodes.
pub struct Spec {
    /// Hosts n1..=nodes, all in every node's peer list.
    pub nodes: u64,
    /// Shards 0..shards on every node.
    pub shards: u64,
    /// The initial voters of every shard; the other nodes host the shards as
    /// spares (empty membership) and wait to be added.
    pub voters: Vec<NodeId>,
    pub snapshot_every: Option<u64>,
    /// Per-node overrides of `snapshot_every`.
    pub snapshot_every_on: BTreeMap<NodeId, Option<u64>>,
    /// Put every node's disk behind a `FaultyDisk`.
    pub faulty_disk: bool,
    pub configure: Option<Configure>,
    pub applied: Applied,
    pub trace: Arc<Collect>,
}

/// A started cluster: what the nodes did, their handles, their disks' fault switches.
pub struct Cluster {
    pub nodes: u64,
    pub applied: Applied,
    pub states: States,
    pub trace: Arc<Collect>,
    /// The latest handle of every node (replaced when a node restarts).
    pub handles: Arc<Mutex<BTreeMap<NodeId, Node>>>,
    /// Why nodes stopped on their own (a crash is not a stop).
    pub stops: Arc<Mutex<BTreeMap<NodeId, NodeError>>>,
    pub faults: BTreeMap<NodeId, DiskFaults>,
    /// When set, a node that stops fails the simulation step.
    pub fail_on_stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Spec {
    pub fn new(nodes: u64, shards: u64) -> Spec {
        Spec {
            nodes,
            shards,
            voters: (1..=nodes).collect(),
            snapshot_every: None,
            snapshot_every_on: BTreeMap::new(),
            faulty_disk: false,
            configure: None,
            applied: Applied::default(),
            trace: Arc::new(Collect::default()),
        }
    }

    pub fn start(self, sim: &mut turmoil::Sim<'_>) -> Cluster {
        let cluster = Cluster {
            nodes: self.nodes,
            applied: self.applied,
            states: States::default(),
            trace: self.trace,
            handles: Arc::default(),
            stops: Arc::default(),
            faults: BTreeMap::new(),
            fail_on_stop: Arc::default(),
        };
        let mut cluster = cluster;
        let voters = Membership::new(self.voters.iter().copied());
        for i in 1..=self.nodes {
            // The disk (and its fault switches) outlives restarts of the host.
            let disk: Arc<dyn Disk> = if self.faulty_disk {
                let (disk, faults) = FaultyDisk::new(TurmoilDisk);
                cluster.faults.insert(i, faults);
                Arc::new(disk)
            } else {
                Arc::new(TurmoilDisk)
            };
            let membership = if voters.contains(i) {
                voters.clone()
            } else {
                Membership::default()
            };
            let every = *self
                .snapshot_every_on
                .get(&i)
                .unwrap_or(&self.snapshot_every);
            let (n, shards) = (self.nodes, self.shards);
            let configure = self.configure.clone();
            let applied = Arc::clone(&cluster.applied);
            let states = Arc::clone(&cluster.states);
            let trace = Arc::clone(&cluster.trace);
            let handles = Arc::clone(&cluster.handles);
            let stops = Arc::clone(&cluster.stops);
            let fail_on_stop = Arc::clone(&cluster.fail_on_stop);
            sim.host(addr(i).split(':').next().unwrap(), move || {
                let mut config = NodeConfig::new(i, peers(n), "/data/tumult".into());
                config.listen = Some("0.0.0.0:7000".into());
                config.seed = 7 ^ extra_seed();
                config.shards = (0..shards).map(|s| (s, membership.clone())).collect();
                if let Some(f) = &configure {
                    f(i, &mut config);
                }
                let env = Env {
                    network: Arc::new(TurmoilNetwork),
                    disk: Arc::clone(&disk),
                    sync_latency: Arc::new(|| Duration::from_millis(1)),
                    trace: Arc::clone(&trace) as Arc<dyn TraceSink>,
                };
                let mut app = Recorder::new(i, Arc::clone(&applied));
                app.snapshot_every = every;
                app.states = Some(Arc::clone(&states));
                let handles = Arc::clone(&handles);
                let stops = Arc::clone(&stops);
                let fail_on_stop = Arc::clone(&fail_on_stop);
                async move {
                    let node = Node::start(config, env, app).await?;
                    handles.lock().unwrap().insert(i, node.clone());
                    let why = node.stopped().await;
                    stops.lock().unwrap().insert(i, why.clone());
                    if fail_on_stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return Err(why.into());
                    }
                    Ok(())
                }
            });
        }
        cluster
    }
}

impl Cluster {
    /// The handle of node `i`, once it started.
    pub fn node(&self, i: NodeId) -> Option<Node> {
        self.handles.lock().unwrap().get(&i).cloned()
    }

    /// The state of `shard` on node `i`: the commands it applied, in order.
    pub fn state(&self, i: NodeId, shard: ShardId) -> Vec<Vec<u8>> {
        self.states
            .lock()
            .unwrap()
            .get(&i)
            .and_then(|s| s.get(&shard))
            .cloned()
            .unwrap_or_default()
    }

    /// Why node `i` stopped on its own, if it did.
    pub fn stopped(&self, i: NodeId) -> Option<NodeError> {
        self.stops.lock().unwrap().get(&i).cloned()
    }
}

impl Collect {
    /// Every event, with time, node and shard.
    pub fn events(&self) -> Vec<(Duration, NodeId, ShardId, TraceEvent)> {
        self.0.lock().unwrap().clone()
    }

    /// Events of `node` in `shard` at or after `since`.
    pub fn of(&self, node: NodeId, shard: ShardId, since: Duration) -> Vec<TraceEvent> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, n, s, _)| *n == node && *s == shard && *t >= since)
            .map(|(_, _, _, e)| e.clone())
            .collect()
    }

    /// The highest term `node` is known to have reached in `shard`.
    pub fn term(&self, node: NodeId, shard: ShardId) -> u64 {
        self.of(node, shard, Duration::ZERO)
            .iter()
            .filter_map(|e| match e {
                TraceEvent::TermChange { term }
                | TraceEvent::BecomeCandidate { term }
                | TraceEvent::BecomeLeader { term }
                | TraceEvent::BecomeFollower { term, .. } => Some(*term),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Leaders elected in `shard` at or after `since`: (time, node, term).
    pub fn elections(&self, shard: ShardId, since: Duration) -> Vec<(Duration, NodeId, u64)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, s, _)| *s == shard && *t >= since)
            .filter_map(|(t, n, _, e)| match e {
                TraceEvent::BecomeLeader { term } => Some((*t, *n, *term)),
                _ => None,
            })
            .collect()
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

/// Steps the simulation for at most `span` more simulated time, until `done`.
pub fn run_for(
    sim: &mut turmoil::Sim<'_>,
    span: Duration,
    done: impl FnMut(&mut turmoil::Sim<'_>) -> bool,
) -> bool {
    let deadline = sim.elapsed() + span;
    run_until(sim, deadline, done)
}

/// The output of a task running as a turmoil client, once it finished.
pub type Out<T> = Arc<Mutex<Option<T>>>;

/// Runs `fut` as a turmoil client host called `name`; its output lands in the
/// returned slot.
pub fn task<T: Send + 'static>(
    sim: &mut turmoil::Sim<'_>,
    name: &str,
    fut: impl std::future::Future<Output = T> + 'static,
) -> Out<T> {
    let out: Out<T> = Arc::default();
    let slot = Arc::clone(&out);
    sim.client(name, async move {
        let v = fut.await;
        *slot.lock().unwrap() = Some(v);
        Ok(())
    });
    out
}

/// Takes a task's output (panics if it did not finish).
pub fn take<T>(out: &Out<T>) -> T {
    out.lock().unwrap().take().expect("task finished")
}

/// Whether a task finished.
pub fn finished<T>(out: &Out<T>) -> bool {
    out.lock().unwrap().is_some()
}

/// A cluster client over turmoil's network.
pub fn client(n: u64, id: u64) -> tumult_engine::client::Client {
    let mut c = tumult_engine::client::Client::new(Arc::new(TurmoilNetwork), peers(n), id);
    c.deadline = Duration::from_secs(20);
    c
}
