//! Real mode (`tumult run --real`): the same scenario file against real
//! processes on this machine. Each node is a `tumult node` process on
//! loopback with its own data directory (real redb, real fsync); the
//! clients are real gRPC clients in this process; the nemesis kills
//! (SIGKILL), pauses (SIGSTOP/SIGCONT) and restarts processes and steers
//! one userspace proxy per directed link ([`proxy`]). The seed draws the
//! same schedule and workload as in the simulator; times are monotonic
//! wall-clock nanoseconds since the start, the same clock in every
//! process, and the nodes' traces are merged with the clients' operations
//! in time order. The same checks judge the history.
//!
//! What needs the simulator is refused before anything starts
//! ([`refusal`]): disk faults, `[faults]` sites, TLS (the run's
//! certificates live in memory) and your own app (its nodes would need
//! your binary).

pub mod etcd;
pub mod process;
pub mod proxy;

use crate::scenario::{Action, DurationRange, Scenario, StepKind, System, WorkloadKind};
use crate::sim::client::{self, ClientSpec, ClientState};
use crate::sim::nemesis::{AdminRequest, Nemesis, World};
use crate::sim::recorder::{monotonic_ns, Clock, Recorder, Shared};
use crate::sim::{serve_admin, Conductor, Phase, SimOutcome};
use crate::workload::Workload;
use process::{Launch, Nodes};
use proxy::Proxies;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::raft::NodeId;
use tumult_engine::transport::TcpNetwork;

/// Why `scenario` cannot run in real mode, if it cannot: the first thing
/// that needs the simulator.
pub fn refusal(scenario: &Scenario) -> Option<String> {
    let file = &scenario.file;
    for (i, step) in scenario.nemesis.iter().enumerate() {
        let actions: Vec<&Action> = match &step.kind {
            StepKind::Fixed { action, .. } => vec![action],
            StepKind::Random { actions, .. } => actions.iter().collect(),
        };
        if let Some(a) = actions
            .iter()
            .find(|a| matches!(a, Action::DiskFault { .. }))
        {
            return Some(format!(
                "{file}: [[nemesis]] step {}: `{}` needs the simulator's disk (a real file system cannot tear writes or fail on demand)",
                i + 1,
                a.name()
            ));
        }
    }
    if let Some(site) = scenario.faults.fire.keys().next() {
        return Some(format!(
            "{file}: [faults] {}: fault sites need the simulator",
            site.name()
        ));
    }
    if scenario.engine.tls {
        return Some(format!(
            "{file}: [engine] tls: real mode runs plain TCP (the run's certificates exist only in the simulator's process)"
        ));
    }
    if scenario.workload.kind == WorkloadKind::App {
        return Some(format!(
            "{file}: [workload] kind = \"app\": real mode runs the built-in key-value app; your app's nodes need your own binary"
        ));
    }
    None
}

/// Why `scenario` cannot run in this mode (`real`, or the simulator), if
/// it cannot: the simulator runs only the engine; real mode refuses what
/// needs the simulator ([`refusal`]) and etcd where it is missing.
pub fn unfit(scenario: &Scenario, real: bool) -> Option<String> {
    let file = &scenario.file;
    match (scenario.system, real) {
        (System::Etcd, false) => Some(format!(
            "{file}: [system] kind = \"etcd\" runs only in real mode (tumult run --real)"
        )),
        (System::Etcd, true) => etcd::missing().map(|why| format!("{file}: {why}")),
        (System::Tumult, true) => refusal(scenario),
        (System::Tumult, false) => None,
    }
}

/// How a real run starts its nodes.
#[derive(Clone, Debug)]
pub struct RealOptions {
    /// The `tumult` executable whose `node` subcommand runs a node.
    pub program: PathBuf,
    /// The run directory (node data and logs go under `nodes/`); `None`:
    /// a temporary directory, removed afterwards.
    pub dir: Option<PathBuf>,
    /// The deliberate engine bug every node process runs with.
    pub mutant: Option<String>,
}

/// A free address on loopback (the kernel's choice of port, released for
/// the process that will listen on it).
fn loopback_addr() -> Result<String, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string())
        .map_err(|e| format!("no free port on loopback: {e}"))
}

/// The real world as the nemesis' [`World`].
struct RealWorld {
    epoch: u64,
    nodes: Nodes,
    proxies: Proxies,
}

impl World for RealWorld {
    fn now(&self) -> u64 {
        monotonic_ns().saturating_sub(self.epoch)
    }
    fn crash(&mut self, n: NodeId) {
        self.nodes.kill(n);
    }
    fn start(&mut self, n: NodeId) {
        self.nodes.start(n);
    }
    fn cut(&mut self, from: NodeId, to: NodeId, cut: bool) {
        self.proxies.cut(from, to, cut);
    }
    fn hold(&mut self, a: NodeId, b: NodeId, hold: bool) {
        self.proxies.hold(a, b, hold);
    }
    fn latency(&mut self, range: DurationRange) {
        self.proxies.latency(range);
    }
    fn pause(&mut self, n: NodeId, paused: bool) {
        self.nodes.pause(n, paused);
    }
    fn disk(&mut self, _n: NodeId, _fault: Option<crate::scenario::DiskFaultKind>) {
        // Disk faults are refused before a real run starts (`refusal`);
        // healing a real disk is nothing to do.
    }
}

/// Runs one scenario with one seed against real processes.
pub fn run(
    scenario: &Arc<Scenario>,
    workload: &Arc<dyn Workload>,
    seed: u64,
    opts: &RealOptions,
) -> SimOutcome {
    let (base, temporary) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "tumult-real-{}-{}",
                std::process::id(),
                monotonic_ns()
            )),
            true,
        ),
    };
    let outcome = run_in(scenario, workload, seed, opts, &base.join("nodes"));
    if temporary {
        let _ = std::fs::remove_dir_all(&base);
    } else {
        // The nodes' logs stay; their databases go.
        for n in 1..=scenario.cluster.nodes {
            let _ = std::fs::remove_dir_all(base.join("nodes").join(format!("n{n}")));
        }
        let _ = std::fs::remove_file(base.join("nodes").join("scenario.toml"));
    }
    outcome
}

fn failed(why: String) -> SimOutcome {
    SimOutcome {
        entries: Vec::new(),
        heal_at: 0,
        final_reads_at: 0,
        recovery: crate::sim::Recovery {
            passed: false,
            seconds: 0.0,
            detail: why.clone(),
        },
        panics: vec![why],
        sim_seconds: 0.0,
        completed: false,
    }
}

fn run_in(
    scenario: &Arc<Scenario>,
    workload: &Arc<dyn Workload>,
    seed: u64,
    opts: &RealOptions,
    dir: &Path,
) -> SimOutcome {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return failed(format!("cannot create {}: {e}", dir.display()));
    }
    let scenario_file = dir.join("scenario.toml");
    if let Err(e) = std::fs::write(&scenario_file, &scenario.source) {
        return failed(format!("cannot write {}: {e}", scenario_file.display()));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return failed(format!("cannot start a runtime: {e}")),
    };
    let local = tokio::task::LocalSet::new();
    let outcome = local.block_on(&runtime, drive(scenario, workload, seed, opts, dir));
    // Dropping the set ends the proxies and clients still running.
    drop(local);
    outcome
}

async fn drive(
    scenario: &Arc<Scenario>,
    workload: &Arc<dyn Workload>,
    seed: u64,
    opts: &RealOptions,
    dir: &Path,
) -> SimOutcome {
    let c = &scenario.cluster;
    let w = &scenario.workload;
    let epoch = monotonic_ns();
    let recorder: Shared = Arc::new(Mutex::new(Recorder {
        clock: Clock::Real { epoch },
        ..Recorder::default()
    }));
    let setup = match scenario.system {
        System::Tumult => engine_cluster(scenario, seed, opts, dir, epoch).await,
        System::Etcd => etcd_cluster(scenario, seed, dir).await,
    };
    let (launch, addrs, proxies) = match setup {
        Ok(s) => s,
        Err(why) => return failed(why),
    };
    let mut world = RealWorld {
        epoch,
        nodes: Nodes::new(launch, Arc::clone(&recorder)),
        proxies,
    };
    for i in 1..=u64::from(c.nodes) {
        world.nodes.start(i);
    }

    let phase = Arc::new(AtomicU8::new(Phase::Workload as u8));
    let states = Arc::new(Mutex::new(vec![ClientState::default(); w.clients as usize]));
    let network: Arc<dyn tumult_engine::transport::Network> = Arc::new(TcpNetwork);
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
            network: Arc::clone(&network),
            clock: Clock::Real { epoch },
            etcd: scenario.system == System::Etcd,
        };
        tokio::task::spawn_local(async move {
            let _ = client::run(spec).await;
        });
    }
    let (admin_tx, admin_rx) = tokio::sync::mpsc::unbounded_channel::<AdminRequest>();
    match scenario.system {
        System::Tumult => {
            tokio::task::spawn_local(serve_admin(
                admin_rx,
                Arc::clone(&recorder),
                addrs.clone(),
                Arc::clone(&network),
            ));
        }
        // No membership changes or transfers (refused at parse time); the
        // leader comes from the members' status.
        #[cfg(feature = "etcd")]
        System::Etcd => {
            tokio::task::spawn_local(etcd::watch_leaders(addrs.clone(), Arc::clone(&recorder)));
        }
        #[cfg(not(feature = "etcd"))]
        System::Etcd => {}
    }
    let nemesis = Nemesis::new(
        c.nodes,
        c.voters.iter().map(|v| u64::from(*v)).collect(),
        seed,
        Arc::clone(&recorder),
        scenario.network.flaky,
        admin_tx,
    );
    let mut conductor = Conductor::new(
        scenario,
        seed,
        nemesis,
        Arc::clone(&recorder),
        phase,
        Arc::clone(&states),
    );
    let final_reads_budget = Duration::from_secs(30) + w.timeout * (w.keys + 2);
    let limit = w.duration + scenario.expect.recovery + final_reads_budget;
    let mut completed = false;
    loop {
        conductor.advance(&mut world);
        if states.lock().expect("client state").iter().all(|s| s.done) {
            completed = true;
            break;
        }
        if Duration::from_nanos(world.now()) >= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end = world.now();
    world.nodes.shutdown();
    let mut outcome = conductor.outcome(end, completed);
    outcome.panics.append(&mut world.nodes.problems);
    let mut r = recorder.lock().expect("recorder");
    outcome.panics.append(&mut r.problems);
    outcome.panics.extend(node_panics(dir, c.nodes));
    outcome.entries = merge(std::mem::take(&mut r.entries));
    outcome
}

/// What a real run starts: how to launch each node, where clients reach
/// each node, and the proxies between them.
type Setup = (BTreeMap<NodeId, Launch>, BTreeMap<NodeId, String>, Proxies);

/// The engine's nodes: `tumult node` processes, each dialling its peers
/// through the proxy of the link.
async fn engine_cluster(
    scenario: &Scenario,
    seed: u64,
    opts: &RealOptions,
    dir: &Path,
    epoch: u64,
) -> Result<Setup, String> {
    let mut addrs: BTreeMap<NodeId, String> = BTreeMap::new();
    for i in 1..=u64::from(scenario.cluster.nodes) {
        addrs.insert(i, loopback_addr()?);
    }
    let proxies = Proxies::start(&addrs, scenario.network.latency, seed)
        .await
        .map_err(|e| format!("cannot open the link proxies: {e}"))?;
    let mut launch = BTreeMap::new();
    for (&i, listen) in &addrs {
        let mut args = vec![
            "node".to_string(),
            "--scenario".into(),
            dir.join("scenario.toml").display().to_string(),
            "--id".into(),
            i.to_string(),
            "--listen".into(),
            listen.clone(),
            "--data".into(),
            dir.join(format!("n{i}")).display().to_string(),
            "--seed".into(),
            seed.to_string(),
            "--epoch".into(),
            epoch.to_string(),
        ];
        for &j in addrs.keys().filter(|j| **j != i) {
            args.push("--peer".into());
            args.push(format!("{j}={}", proxies.addrs[&(i, j)]));
        }
        if let Some(m) = &opts.mutant {
            args.push("--mutant".into());
            args.push(m.clone());
        }
        let log = dir.join(format!("n{i}.log"));
        let program = opts.program.clone();
        launch.insert(
            i,
            Launch {
                program,
                args,
                log,
                trace: true,
            },
        );
    }
    Ok((launch, addrs, proxies))
}

/// An etcd cluster: one member per node, each advertising its proxy.
async fn etcd_cluster(scenario: &Scenario, seed: u64, dir: &Path) -> Result<Setup, String> {
    let mut peers = BTreeMap::new();
    let mut clients = BTreeMap::new();
    for i in 1..=u64::from(scenario.cluster.nodes) {
        peers.insert(i, loopback_addr()?);
        clients.insert(i, loopback_addr()?);
    }
    let proxies = Proxies::start_per_target(&peers, scenario.network.latency, seed, etcd::sender)
        .await
        .map_err(|e| format!("cannot open the member proxies: {e}"))?;
    let mut members = BTreeMap::new();
    for (&i, peer) in &peers {
        let via = proxies.addrs[&(i, i)].clone();
        members.insert(
            i,
            etcd::Member {
                client: clients[&i].clone(),
                peer: peer.clone(),
                advertised: via,
            },
        );
    }
    Ok((etcd::launch(&members, dir, seed), clients, proxies))
}

/// The history in time order (each process's own order kept for equal
/// times), numbered afresh.
fn merge(mut entries: Vec<tumult_models::history::Entry>) -> Vec<tumult_models::history::Entry> {
    use tumult_models::history::Entry;
    entries.sort_by_key(Entry::time);
    for (i, e) in entries.iter_mut().enumerate() {
        let i = i as u64;
        match e {
            Entry::Client(o) => o.index = i,
            Entry::Nemesis(n) => n.index = i,
            Entry::Trace(t) => t.index = i,
        }
    }
    entries
}

/// Panics the node processes wrote to their logs.
fn node_panics(dir: &Path, nodes: u32) -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=nodes {
        let Ok(log) = std::fs::read_to_string(dir.join(format!("n{n}.log"))) else {
            continue;
        };
        for line in log.lines().filter(|l| l.contains("panicked at")) {
            out.push(format!("n{n}: {line}"));
        }
    }
    out
}
