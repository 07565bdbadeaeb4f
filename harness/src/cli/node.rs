//! `tumult node`: one engine node as an OS process, with the built-in
//! key-value app, configured from a scenario file as in the simulator.
//! Real mode (`tumult run --real`) starts one per node; it writes its
//! protocol trace on stdout as history lines (JSON), stamped with the
//! machine's monotonic clock since `--epoch`, and its log on stderr. It
//! exits when the node stops (a disk failure, a broken assertion).

use super::Exit;
use crate::scenario::parse_file;
use crate::sim::node_config;
use crate::sim::recorder::monotonic_ns;
use crate::workload::{KvWorkload, Workload};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tumult_engine::mutants::Mutant;
use tumult_engine::node::{Env, Node};
use tumult_engine::raft::{NodeId, ShardId};
use tumult_engine::trace::{TraceEvent, TraceSink};
use tumult_models::history::{Entry, TraceEvent as TraceLine};

/// Arguments of `tumult node`.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// The scenario whose `[cluster]` and `[engine]` set the node up.
    #[arg(long)]
    pub scenario: PathBuf,
    /// This node's id (1 is n1).
    #[arg(long)]
    pub id: NodeId,
    /// Address to listen on, like 127.0.0.1:7001.
    #[arg(long)]
    pub listen: String,
    /// How to reach another node: ID=HOST:PORT (repeated).
    #[arg(long = "peer", value_parser = parse_peer)]
    pub peers: Vec<(NodeId, String)>,
    /// Directory of the node's database.
    #[arg(long)]
    pub data: PathBuf,
    /// The run's seed (seeds the election timeouts, as in the simulator).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The run's start on the machine's monotonic clock (ns); trace times count from it.
    #[arg(long, default_value_t = 0)]
    pub epoch: u64,
    /// Run with this deliberate engine bug (builds with the feature `mutants`).
    #[arg(long)]
    pub mutant: Option<String>,
}

fn parse_peer(s: &str) -> Result<(NodeId, String), String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("--peer {s}: expected ID=HOST:PORT"))?;
    let id = id
        .parse::<NodeId>()
        .map_err(|e| format!("--peer {s}: node id: {e}"))?;
    if addr.is_empty() {
        return Err(format!("--peer {s}: empty address"));
    }
    Ok((id, addr.to_string()))
}

/// The trace as history lines on stdout.
struct StdoutTrace {
    epoch: u64,
}

impl TraceSink for StdoutTrace {
    fn emit(&self, node: NodeId, shard: ShardId, event: &TraceEvent) {
        let mut out = std::io::stdout().lock();
        // Stamped under the lock, so the lines go out in time order.
        let line = Entry::Trace(TraceLine {
            index: 0,
            node: format!("n{node}"),
            shard: Some(shard),
            event: event.clone(),
            time: monotonic_ns().saturating_sub(self.epoch),
        })
        .to_line();
        // stdout is line-buffered: the line is in the pipe before the node
        // acts on what it records. Nobody reading it: the run is over.
        if writeln!(out, "{line}").is_err() {
            std::process::exit(1);
        }
    }
}

/// Runs `tumult node` until the node stops.
pub fn run(args: NodeArgs) -> Exit {
    // The engine's log goes to stderr (the run's nodes/nI.log).
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let scenario = match parse_file(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tumult node: {e}");
            return Exit::BadInput;
        }
    };
    let nodes = u64::from(scenario.cluster.nodes);
    if args.id == 0 || args.id > nodes {
        eprintln!(
            "tumult node: --id {}: the scenario has nodes 1..={nodes}",
            args.id
        );
        return Exit::BadInput;
    }
    let mutant = match args.mutant.as_deref().map(Mutant::for_flag).transpose() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("tumult node: {e}");
            return Exit::BadInput;
        }
    };
    let mut peers: BTreeMap<NodeId, String> = args.peers.into_iter().collect();
    peers.insert(args.id, args.listen.clone());
    if let Some(missing) = (1..=nodes).find(|n| !peers.contains_key(n)) {
        eprintln!("tumult node: no --peer for n{missing}");
        return Exit::BadInput;
    }
    let mut config = node_config(&scenario, args.id, peers, args.data, args.seed);
    config.listen = Some(args.listen);
    config.mutant = mutant;
    let app = KvWorkload.app(&scenario);
    let env = Env {
        trace: Arc::new(StdoutTrace { epoch: args.epoch }),
        ..Env::production()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tumult node: cannot start a runtime: {e}");
            return Exit::BadInput;
        }
    };
    let id = args.id;
    let listen = config.listen.clone().unwrap_or_default();
    runtime.block_on(async move {
        match Node::start(config, env, app).await {
            Ok(node) => {
                eprintln!("tumult node: n{id} listening on {listen}");
                let why = node.stopped().await;
                eprintln!("tumult node: n{id} stopped: {why}");
            }
            // The engine reported `stop` on every shard.
            Err(e) => eprintln!("tumult node: n{id} failed to start: {e}"),
        }
    });
    Exit::Fail
}
