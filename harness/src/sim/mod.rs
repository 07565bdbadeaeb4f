//! The simulated world of one run: N engine nodes with S shards each on
//! turmoil's network and file system, the clients, the nemesis and the three
//! phases of SPEC.md §2 (workload and faults; final heal and recovery; final
//! reads).

pub mod client;
pub mod nemesis;
pub mod recorder;
mod recovery;

use crate::scenario::{
    draw_duration, DiskFaultKind, DurationRange, Liveness, Scenario, SplitMix64, StepKind,
};
use crate::workload::Workload;
use client::{ClientSpec, ClientState};
use nemesis::{host, AdminRequest, Nemesis, World};
use recorder::{nanos, Recorder, Shared, Sink};
use recovery::recovery_status;
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tumult_engine::buggify::{FaultSites, FaultSwitch};
use tumult_engine::client::Client;
use tumult_engine::mutants::Mutant;
use tumult_engine::node::{Env, Node, NodeConfig};
use tumult_engine::raft::{Membership, NodeId};
use tumult_engine::storage::{DiskFaults, FaultyDisk, TurmoilDisk};
use tumult_engine::transport::TurmoilNetwork;
use tumult_models::history::Entry;

/// The phase of a run, shared with the clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Phase 1: clients issue operations and the nemesis acts.
    Workload = 1,
    /// Phase 2: after the final heal, until recovery or its deadline.
    Recovery = 2,
    /// Phase 3: every client reads every key once.
    FinalReads = 3,
}

impl From<u8> for Phase {
    fn from(v: u8) -> Phase {
        match v {
            0 | 1 => Phase::Workload,
            2 => Phase::Recovery,
            _ => Phase::FinalReads,
        }
    }
}

/// What the recovery check saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// Every shard had a leader and every client completed an operation in time.
    pub passed: bool,
    /// Simulated seconds from the final heal until recovery (or the deadline).
    pub seconds: f64,
    /// What was missing, if it failed.
    pub detail: String,
}

/// Everything a simulated run produced.
pub struct SimOutcome {
    /// The history, in order.
    pub entries: Vec<Entry>,
    /// Simulated time of the final heal and of the start of the final reads (ns).
    pub heal_at: u64,
    /// Start of phase 3 (ns).
    pub final_reads_at: u64,
    /// The recovery check.
    pub recovery: Recovery,
    /// Panics and broken assertions inside the simulation.
    pub panics: Vec<String>,
    /// Simulated seconds the run took.
    pub sim_seconds: f64,
    /// Whether every client finished its final reads.
    pub completed: bool,
}

/// The nodes' address book.
pub fn addresses(nodes: u32) -> BTreeMap<NodeId, String> {
    (1..=u64::from(nodes))
        .map(|i| (i, format!("n{i}:7000")))
        .collect()
}

/// The simulator as the nemesis' [`World`]: turmoil's hosts and links
/// and the nodes' simulated disks.
pub struct SimWorld<'s, 'a> {
    sim: &'s mut turmoil::Sim<'a>,
    faults: &'s mut SimFaults,
}

/// What the simulator's world keeps between steps.
pub struct SimFaults {
    nodes: u32,
    /// Every host other than the nodes: the clients and the nemesis.
    others: Vec<String>,
    disks: BTreeMap<NodeId, DiskFaults>,
    /// Holds in force on each pair of hosts (low, high): one for a `hold`
    /// of the pair and one for each paused end; turmoil holds the pair
    /// while any is.
    holds: BTreeMap<(String, String), u32>,
}

impl SimFaults {
    /// The world of `nodes` nodes (hosts n1..nN), with `others` the other
    /// hosts (clients, the nemesis) and each node's simulated disk.
    pub fn new(nodes: u32, others: Vec<String>, disks: BTreeMap<NodeId, DiskFaults>) -> SimFaults {
        SimFaults {
            nodes,
            others,
            disks,
            holds: BTreeMap::new(),
        }
    }

    /// The world of `sim` as the nemesis acts on it now.
    pub fn world<'s, 'a>(&'s mut self, sim: &'s mut turmoil::Sim<'a>) -> SimWorld<'s, 'a> {
        SimWorld { sim, faults: self }
    }
}

impl SimWorld<'_, '_> {
    fn hold_hosts(&mut self, a: String, b: String, hold: bool) {
        let pair = if a < b { (a, b) } else { (b, a) };
        let count = self.faults.holds.entry(pair.clone()).or_default();
        if hold {
            *count += 1;
            if *count == 1 {
                self.sim.hold(pair.0, pair.1);
            }
        } else if *count > 0 {
            *count -= 1;
            if *count == 0 {
                self.faults.holds.remove(&pair);
                self.sim.release(pair.0, pair.1);
            }
        }
    }
}

impl World for SimWorld<'_, '_> {
    fn now(&self) -> u64 {
        nanos(self.sim.elapsed())
    }
    fn crash(&mut self, n: NodeId) {
        self.sim.crash(host(n));
    }
    fn start(&mut self, n: NodeId) {
        self.sim.bounce(host(n));
    }
    fn cut(&mut self, from: NodeId, to: NodeId, cut: bool) {
        if cut {
            self.sim.partition_oneway(host(from), host(to));
        } else {
            self.sim.repair_oneway(host(from), host(to));
        }
    }
    fn hold(&mut self, a: NodeId, b: NodeId, hold: bool) {
        self.hold_hosts(host(a), host(b), hold);
    }
    fn latency(&mut self, range: DurationRange) {
        // Links between engine nodes only: clients reach every node as
        // before (SPEC.md section 2).
        for a in 1..=u64::from(self.faults.nodes) {
            for b in (1..=u64::from(self.faults.nodes)).filter(|b| *b != a) {
                // Both bounds: a max below the links' old min would make
                // turmoil's delay range negative (a panic explore found).
                self.sim.set_link_latency(host(a), host(b), range.min);
                self.sim
                    .set_link_max_message_latency(host(a), host(b), range.max);
            }
        }
    }
    /// turmoil cannot stop a host's clock: a paused node's every link (to
    /// the other nodes, the clients and the nemesis) is held, so nothing
    /// reaches it and nothing it sends leaves, but its timers and its disk
    /// go on; on resume it sees what waited at once, as a continued process
    /// does, and what it sent while paused arrives too.
    fn pause(&mut self, n: NodeId, paused: bool) {
        let mut peers: Vec<String> = (1..=u64::from(self.faults.nodes))
            .filter(|m| *m != n)
            .map(host)
            .collect();
        peers.extend(self.faults.others.iter().cloned());
        for p in peers {
            self.hold_hosts(host(n), p, paused);
        }
    }
    fn disk(&mut self, n: NodeId, fault: Option<DiskFaultKind>) {
        let Some(d) = self.faults.disks.get(&n) else {
            return;
        };
        match fault {
            None => d.heal(),
            Some(DiskFaultKind::IoErrors) => {
                d.set_fail_writes(true);
                d.set_fail_syncs(true);
            }
            Some(DiskFaultKind::Full) => d.set_no_space(true),
            Some(DiskFaultKind::TornWrites) => d.set_torn_writes(true),
        }
    }
}

fn uses_disk_fault(scenario: &Scenario, kind: DiskFaultKind) -> bool {
    use crate::scenario::Action;
    let hit = |a: &Action| matches!(a, Action::DiskFault { kind: k, .. } if *k == kind);
    scenario.nemesis.iter().any(|s| match &s.kind {
        StepKind::Fixed { action, .. } => hit(action),
        StepKind::Random { actions, .. } => actions.iter().any(hit),
    })
}

thread_local! {
    static PANICS: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once) a panic hook that, on a thread running a simulation,
/// records the panic for that run instead of printing it.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = PANICS.with(|p| {
                if let Some(list) = p.borrow_mut().as_mut() {
                    let at = info
                        .location()
                        .map(|l| format!(" at {l}"))
                        .unwrap_or_default();
                    let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                        (*s).to_string()
                    } else if let Some(s) = info.payload().downcast_ref::<String>() {
                        s.clone()
                    } else {
                        "panic".to_string()
                    };
                    list.push(format!("{msg}{at}"));
                    true
                } else {
                    false
                }
            });
            if !captured {
                previous(info);
            }
        }));
    });
}

/// Runs one scenario with one seed in the simulator, the nodes replicating
/// `workload`'s app and the clients running its operations.
pub fn simulate(
    scenario: &Arc<Scenario>,
    workload: &Arc<dyn Workload>,
    seed: u64,
    mutant: Option<Mutant>,
) -> SimOutcome {
    install_panic_hook();
    PANICS.with(|p| *p.borrow_mut() = Some(Vec::new()));
    let recorder: Shared = Arc::new(Mutex::new(Recorder::default()));
    let mut result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_world(scenario, workload, seed, mutant, Arc::clone(&recorder))
    }));
    let mut panics = PANICS.with(|p| p.borrow_mut().take()).unwrap_or_default();
    let entries = std::mem::take(&mut recorder.lock().unwrap_or_else(|e| e.into_inner()).entries);
    match &mut result {
        Ok(outcome) => {
            outcome.entries = entries;
            outcome.panics.append(&mut panics);
            result.unwrap_or_else(|_| unreachable!())
        }
        Err(_) => SimOutcome {
            entries,
            heal_at: 0,
            final_reads_at: 0,
            recovery: Recovery {
                passed: false,
                seconds: 0.0,
                detail: "the simulation panicked".into(),
            },
            panics,
            sim_seconds: 0.0,
            completed: false,
        },
    }
}

fn run_world(
    scenario: &Arc<Scenario>,
    workload: &Arc<dyn Workload>,
    seed: u64,
    mutant: Option<Mutant>,
    recorder: Shared,
) -> SimOutcome {
    let c = &scenario.cluster;
    let w = &scenario.workload;
    let recovery_time = scenario.expect.recovery;
    // Generous: phase 3 ends as soon as every client has read every key.
    let final_reads_budget = Duration::from_secs(30) + w.timeout * (w.keys + 2);
    let limit = w.duration + recovery_time + final_reads_budget;

    let mut builder = turmoil::Builder::new();
    builder
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(seed)
        .simulation_duration(limit + Duration::from_secs(5))
        .min_message_latency(scenario.network.latency.min)
        .max_message_latency(
            scenario
                .network
                .latency
                .max
                .max(scenario.network.latency.min),
        );
    if uses_disk_fault(scenario, DiskFaultKind::TornWrites) {
        // Unsynced writes may reach the disk partly when a node crashes.
        builder.fs().block_size(512);
    }
    let mut sim = builder.build();

    let addrs = addresses(c.nodes);
    let pki = if scenario.engine.tls {
        Some(Arc::new(
            crate::tls::Pki::new(c.nodes).expect("certificates for the run"),
        ))
    } else {
        None
    };
    let fault_switch = FaultSwitch::default();
    let mut disks: BTreeMap<NodeId, DiskFaults> = BTreeMap::new();
    for i in 1..=u64::from(c.nodes) {
        let faults = DiskFaults::default();
        disks.insert(i, faults.clone());
        let recorder = Arc::clone(&recorder);
        let addrs = addrs.clone();
        let workload = Arc::clone(workload);
        let app_scenario = Arc::clone(scenario);
        let fsync = c.fsync;
        let rng = Arc::new(Mutex::new(SplitMix64::new(seed ^ (0xD15C_0000 + i))));
        let node_tls = pki.as_ref().map(|p| p.node(i));
        let fault_sites = FaultSites {
            fire: scenario.faults.fire.clone(),
            seed: seed ^ 0xB066_1F1E_5000_0000,
            switch: fault_switch.clone(),
        };
        sim.host(format!("n{i}"), move || {
            let recorder = Arc::clone(&recorder);
            let faults = faults.clone();
            let rng = Arc::clone(&rng);
            let app = workload.app(&app_scenario);
            let mut config =
                node_config(&app_scenario, i, addrs.clone(), "/data/tumult".into(), seed);
            config.listen = Some("0.0.0.0:7000".into());
            config.tls = node_tls.clone();
            config.mutant = mutant;
            config.faults = fault_sites.clone();
            async move {
                let env = Env {
                    network: Arc::new(TurmoilNetwork),
                    disk: Arc::new(FaultyDisk::with_faults(TurmoilDisk, faults)),
                    sync_latency: Arc::new(move || {
                        draw_duration(&mut rng.lock().expect("fsync rng"), fsync)
                    }),
                    trace: Arc::new(Sink(Arc::clone(&recorder))),
                };
                match Node::start(config, env, app).await {
                    Ok(node) => {
                        let why = node.stopped().await;
                        tracing::warn!(node = i, "node stopped: {why}");
                    }
                    // The engine reported `stop` on every shard.
                    Err(e) => tracing::warn!(node = i, "node failed to start: {e}"),
                }
                // A stopped node stays down (it counts as crashed) until restarted.
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }

    let phase = Arc::new(AtomicU8::new(Phase::Workload as u8));
    let states = Arc::new(Mutex::new(vec![ClientState::default(); w.clients as usize]));
    for id in 0..w.clients {
        let spec = ClientSpec {
            id,
            seed,
            scenario: Arc::clone(scenario),
            workload: Arc::clone(workload),
            nodes: addrs.clone(),
            recorder: Arc::clone(&recorder),
            phase: Arc::clone(&phase),
            state: Arc::clone(&states),
            network: client_network(&pki, &addrs),
            clock: recorder::Clock::Sim,
            etcd: false,
        };
        sim.client(format!("c{}", id + 1), client::run(spec));
    }

    // Membership changes and transfers run from their own host (serve_admin).
    let (admin_tx, admin_rx) = tokio::sync::mpsc::unbounded_channel::<AdminRequest>();
    let admin_rx = Arc::new(Mutex::new(Some(admin_rx)));
    {
        let recorder = Arc::clone(&recorder);
        let addrs = addrs.clone();
        let admin_net = client_network(&pki, &addrs);
        sim.host("nemesis", move || {
            // The admin host is never crashed, so it runs once and keeps the receiver.
            let rx = admin_rx.lock().expect("admin receiver").take();
            let (recorder, addrs, admin_net) =
                (Arc::clone(&recorder), addrs.clone(), Arc::clone(&admin_net));
            async move {
                if let Some(rx) = rx {
                    serve_admin(rx, recorder, addrs, admin_net).await;
                }
                Ok(())
            }
        });
    }

    let nemesis = Nemesis::new(
        c.nodes,
        c.voters.iter().map(|v| u64::from(*v)).collect(),
        seed,
        Arc::clone(&recorder),
        scenario.network.flaky,
        admin_tx,
    );
    let others = (1..=w.clients)
        .map(|i| format!("c{i}"))
        .chain(["nemesis".to_string()])
        .collect();
    let mut faults = SimFaults::new(c.nodes, others, disks);
    let mut conductor = Conductor::new(scenario, seed, nemesis, recorder, phase, states);
    conductor.fault_switch = Some(fault_switch);
    let mut completed = false;
    loop {
        conductor.advance(&mut faults.world(&mut sim));
        if sim.elapsed() >= limit {
            break;
        }
        match sim.step() {
            Ok(true) => {
                completed = true;
                break;
            }
            Ok(false) => {}
            Err(e) => {
                PANICS.with(|p| {
                    if let Some(list) = p.borrow_mut().as_mut() {
                        list.push(format!("simulation error: {e}"));
                    }
                });
                break;
            }
        }
    }
    conductor.outcome(nanos(sim.elapsed()), completed)
}

/// Runs the three phases of a run (SPEC.md section 2) against a [`World`]:
/// the nemesis schedule and the flaky network during the workload, the
/// final heal, the recovery check, and the start of the final reads. The
/// simulator and real mode call [`Conductor::advance`] as time goes by.
pub struct Conductor {
    scenario: Arc<Scenario>,
    schedule: Vec<crate::scenario::ScheduledStep>,
    next_step: usize,
    nemesis: Nemesis,
    recorder: Shared,
    phase: Arc<AtomicU8>,
    states: Arc<Mutex<Vec<ClientState>>>,
    flaky_period: Duration,
    next_flaky: Duration,
    heal_at: Option<Duration>,
    /// Whom recovery is judged on: every node, or the core of liveness = "core".
    core: std::collections::BTreeSet<NodeId>,
    final_reads_at: Option<Duration>,
    recovery: Option<Recovery>,
    /// The engine's fault sites, switched off at the final heal (recovery
    /// is judged on an engine without them).
    pub fault_switch: Option<FaultSwitch>,
}

impl Conductor {
    /// A conductor at the start of the run.
    pub fn new(
        scenario: &Arc<Scenario>,
        seed: u64,
        nemesis: Nemesis,
        recorder: Shared,
        phase: Arc<AtomicU8>,
        states: Arc<Mutex<Vec<ClientState>>>,
    ) -> Conductor {
        let flaky_period = Duration::from_millis(100);
        Conductor {
            scenario: Arc::clone(scenario),
            schedule: crate::scenario::expand_schedule(scenario, seed),
            next_step: 0,
            core: nemesis.nodes(),
            nemesis,
            recorder,
            phase,
            states,
            flaky_period,
            next_flaky: flaky_period,
            heal_at: None,
            final_reads_at: None,
            recovery: None,
            fault_switch: None,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::from(self.phase.load(Ordering::SeqCst))
    }

    /// Does what is due at the world's current time.
    pub fn advance(&mut self, world: &mut dyn World) {
        let now = Duration::from_nanos(world.now());
        let scenario = Arc::clone(&self.scenario);
        let (c, w) = (&scenario.cluster, &scenario.workload);
        match self.phase() {
            Phase::Workload => {
                while self.next_step < self.schedule.len()
                    && self.schedule[self.next_step].at <= now
                {
                    self.nemesis
                        .apply(world, &self.schedule[self.next_step].action);
                    self.next_step += 1;
                }
                if now >= self.next_flaky {
                    self.nemesis.flaky_tick(world, self.flaky_period);
                    self.next_flaky += self.flaky_period;
                }
                if now >= w.duration {
                    match scenario.expect.liveness {
                        Liveness::All => self.nemesis.final_heal(world),
                        Liveness::Core => {
                            self.core = self.nemesis.draw_core(u64::from(c.shards));
                            // Without pre-vote the nodes outside the core are cut off from it.
                            let pre_vote = scenario.engine.pre_vote.unwrap_or(true);
                            self.nemesis.final_heal_core(world, &self.core, !pre_vote);
                        }
                    }
                    if let Some(switch) = &self.fault_switch {
                        switch.set(false);
                    }
                    self.heal_at = Some(now);
                    self.phase.store(Phase::Recovery as u8, Ordering::SeqCst);
                }
            }
            Phase::Recovery => {
                let heal_at = self.heal_at.unwrap_or(now);
                let since = now.saturating_sub(heal_at);
                let (passed, detail) = recovery_status(
                    &self.recorder,
                    &self.states,
                    &self.nemesis,
                    &self.core,
                    u64::from(c.shards),
                    nanos(heal_at),
                );
                let limit = scenario.expect.recovery;
                if passed || since >= limit {
                    let detail = if passed {
                        String::new()
                    } else {
                        format!("after {limit:?}: {detail}")
                    };
                    self.recovery = Some(Recovery {
                        passed,
                        seconds: since.as_secs_f64(),
                        detail,
                    });
                    self.final_reads_at = Some(now);
                    self.phase.store(Phase::FinalReads as u8, Ordering::SeqCst);
                }
            }
            Phase::FinalReads => {}
        }
    }

    /// What the run produced so far, the run having ended at `end` (ns).
    /// Its entries and panics are filled in by the caller.
    pub fn outcome(self, end: u64, completed: bool) -> SimOutcome {
        let recovery = self.recovery.unwrap_or(Recovery {
            passed: false,
            seconds: 0.0,
            detail: "the run ended before the recovery phase completed".into(),
        });
        SimOutcome {
            entries: Vec::new(),
            heal_at: self.heal_at.map_or(end, nanos),
            final_reads_at: self.final_reads_at.map_or(end, nanos),
            recovery,
            panics: Vec::new(),
            sim_seconds: end as f64 / 1e9,
            completed,
        }
    }

    /// The nemesis, for the world's own bookkeeping.
    pub fn nemesis(&self) -> &Nemesis {
        &self.nemesis
    }
}

/// Runs the nemesis' membership changes and transfers through the
/// engine's client API as they come, and records each when it completes.
/// Each runs as its own task with its own client, as a Jepsen nemesis
/// issues them: a step does not wait for an earlier one to finish, so two
/// changes can reach a leader together (the engine must refuse the second
/// while the first is uncommitted). Idle clients are reused, so a step that
/// follows a finished one finds its connections open. Runs on a `LocalSet`
/// (a turmoil host is one).
pub async fn serve_admin(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AdminRequest>,
    recorder: Shared,
    addrs: BTreeMap<NodeId, String>,
    network: Arc<dyn tumult_engine::transport::Network>,
) {
    let idle: Rc<RefCell<Vec<Client>>> = Rc::default();
    while let Some(req) = rx.recv().await {
        let mut client = idle.borrow_mut().pop().unwrap_or_else(|| {
            let mut c = Client::new(Arc::clone(&network), addrs.clone(), 0);
            c.deadline = Duration::from_secs(5);
            c
        });
        let recorder = Arc::clone(&recorder);
        let idle = Rc::clone(&idle);
        tokio::task::spawn_local(async move {
            let (f, value, result) = match req {
                AdminRequest::Membership {
                    id,
                    shard,
                    node,
                    add,
                } => {
                    let r = client.change_membership(shard, node, add).await;
                    recorder
                        .lock()
                        .expect("recorder")
                        .membership_requests
                        .remove(&id);
                    let f = if add { "add-member" } else { "remove-member" };
                    (f, json!({"node": format!("n{node}"), "shard": shard}), r)
                }
                AdminRequest::Transfer { shard, to } => {
                    let r = client.transfer_leader(shard, to).await;
                    let to = to.map(|n| format!("n{n}"));
                    ("transfer-leader", json!({"shard": shard, "to": to}), r)
                }
            };
            let error = result.err().map(|e| e.to_string());
            let mut r = recorder.lock().expect("recorder");
            let now = r.clock.now();
            r.nemesis(f, Some(value), error, now);
            drop(r);
            idle.borrow_mut().push(client);
        });
    }
}

/// Node `id`'s configuration for a run of `scenario` with `seed`: the
/// scenario's `[engine]` knobs, and every shard bootstrapped with the
/// scenario's voters (a spare starts with none and waits to be added). The
/// same in the simulator and in a real run's node processes.
pub fn node_config(
    scenario: &Scenario,
    id: NodeId,
    peers: BTreeMap<NodeId, String>,
    data_dir: std::path::PathBuf,
    seed: u64,
) -> NodeConfig {
    let knobs = &scenario.engine;
    let mut config = NodeConfig::new(id, peers, data_dir);
    config.seed = seed;
    if let Some((lo, hi)) = knobs.election_ticks {
        config.election_ticks = (lo, hi);
    }
    if let Some(h) = knobs.heartbeat_ticks {
        config.heartbeat_ticks = h;
    }
    if let Some(m) = knobs.max_append_entries {
        config.max_append_entries = m as usize;
    }
    if let Some(p) = knobs.pre_vote {
        config.pre_vote = p;
    }
    if let Some(c) = knobs.check_quorum {
        config.check_quorum = c;
    }
    let voters = Membership::new(scenario.cluster.voters.iter().map(|v| u64::from(*v)));
    let membership = if voters.contains(id) {
        voters
    } else {
        Membership::default()
    };
    config.shards = (0..u64::from(scenario.cluster.shards))
        .map(|s| (s, membership.clone()))
        .collect();
    config
}

/// The network clients of the run use: TLS with the run's client
/// certificate when `[engine] tls` is on.
fn client_network(
    pki: &Option<Arc<crate::tls::Pki>>,
    addrs: &BTreeMap<NodeId, String>,
) -> Arc<dyn tumult_engine::transport::Network> {
    match pki {
        Some(p) => Arc::new(
            tumult_engine::transport::TlsNetwork::new(Arc::new(TurmoilNetwork), &p.client(), addrs)
                .expect("the run's own certificates are valid"),
        ),
        None => Arc::new(TurmoilNetwork),
    }
}
