//! Jepsen-style clients as turmoil hosts: each runs the workload mix at its
//! share of the scenario's rate, one operation outstanding at a time, and
//! records `invoke` then `ok`, `fail` or `info` with simulated time.
//!
//! A client sends to its home node first, follows redirects, and tries the
//! other nodes in order when a node does not answer, retrying a write with the
//! same request id until the operation's timeout. An operation that ran out
//! of time leaves the next one (while no leader is known) starting after the
//! last node it tried, not at home again. After an `info` it goes on as a
//! fresh process, as in Jepsen.

use super::recorder::{Clock, Shared};
use super::Phase;
use crate::app::shard_of;
use crate::scenario::{ReadMode, Scenario, SplitMix64};
use crate::workload::{Body, Completion, Generator, Request, Workload};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::client::{Attempt, Client};
use tumult_engine::node::ReadMode as EngineRead;
use tumult_engine::raft::{NodeId, RequestId};
use tumult_engine::transport::LinkConfig;
use tumult_models::history::{ClientOp, OpType, Value};

/// What the driver learns from each client.
#[derive(Clone, Debug, Default)]
pub struct ClientState {
    /// Completed an `ok` operation after the final heal.
    pub recovered: bool,
    /// Finished its final reads.
    pub done: bool,
}

/// Everything one client host needs.
#[derive(Clone)]
pub struct ClientSpec {
    /// 0-based client number.
    pub id: u32,
    /// The run's seed.
    pub seed: u64,
    pub scenario: Arc<Scenario>,
    /// What the client sends and how it reads the replies.
    pub workload: Arc<dyn Workload>,
    pub nodes: BTreeMap<NodeId, String>,
    pub recorder: Shared,
    pub phase: Arc<AtomicU8>,
    pub state: Arc<Mutex<Vec<ClientState>>>,
    /// Plain turmoil TCP, or TLS over it (`[engine] tls`); real TCP in real mode.
    pub network: Arc<dyn tumult_engine::transport::Network>,
    /// Where the history's times come from.
    pub clock: Clock,
    /// The cluster is etcd (real mode, feature `etcd`): `nodes` are its
    /// members' client addresses, reached through its v3 API.
    pub etcd: bool,
}

struct Worker {
    spec: ClientSpec,
    client: Client,
    rng: SplitMix64,
    generator: Box<dyn Generator>,
    process: u64,
    attempt_timeout: Duration,
    /// The etcd session of an etcd cluster's client.
    #[cfg(feature = "etcd")]
    etcd: Option<crate::real::etcd::Session>,
    /// Where the next operation starts when no leader is known: the node
    /// after the last one an operation that ran out of time tried, so that
    /// nodes that do not answer (cut off from the others, but reachable
    /// from the client) cost one operation, not every one.
    resume_at: Option<NodeId>,
}

/// Runs one client to the end of the run.
pub async fn run(spec: ClientSpec) -> Result<(), Box<dyn std::error::Error>> {
    let w = &spec.scenario.workload;
    let attempt_timeout = (w.timeout / 3).max(Duration::from_millis(100));
    let link = LinkConfig {
        connect_timeout: Duration::from_millis(200).min(attempt_timeout),
        request_timeout: attempt_timeout,
        ..LinkConfig::default()
    };
    let client = Client::new(
        Arc::clone(&spec.network),
        spec.nodes.clone(),
        u64::from(spec.id) + 1,
    )
    .with_link(link);
    let rng = SplitMix64::new(spec.seed ^ (0xC11E_0000_0000_0000 | u64::from(spec.id)));
    let generator = spec.workload.generator(&spec.scenario, spec.id);
    #[cfg(feature = "etcd")]
    let etcd = spec.etcd.then(|| {
        let home = u64::from(spec.id % spec.scenario.cluster.nodes) + 1;
        crate::real::etcd::Session::new(&spec.nodes, home)
    });
    let mut worker = Worker {
        #[cfg(feature = "etcd")]
        etcd,
        process: u64::from(spec.id),
        spec,
        client,
        rng,
        generator,
        attempt_timeout,
        resume_at: None,
    };
    worker.workload().await;
    worker.final_reads().await;
    let id = worker.spec.id as usize;
    worker.spec.state.lock().expect("client state")[id].done = true;
    Ok(())
}

impl Worker {
    fn home(&self) -> NodeId {
        u64::from(self.spec.id % self.spec.scenario.cluster.nodes) + 1
    }

    fn phase(&self) -> Phase {
        Phase::from(self.spec.phase.load(Ordering::SeqCst))
    }

    async fn workload(&mut self) {
        let w = self.spec.scenario.workload.clone();
        let rate = if w.rate > 0.0 { w.rate } else { 1.0 };
        let interval = Duration::from_secs_f64(f64::from(w.clients) / rate);
        // Spread the clients' first operations over one interval.
        let offset = self
            .rng
            .below(u64::try_from(interval.as_nanos()).unwrap_or(1).max(1));
        let mut next = tokio::time::Instant::now() + Duration::from_nanos(offset);
        loop {
            tokio::time::sleep_until(next).await;
            let phase = self.phase();
            if phase >= Phase::FinalReads {
                return;
            }
            next += interval;
            let now = tokio::time::Instant::now();
            if next < now {
                next = now;
            }
            let request = self.generator.next(&mut self.rng);
            let ok = self.perform(request).await;
            if ok && phase == Phase::Recovery {
                let id = self.spec.id as usize;
                self.spec.state.lock().expect("client state")[id].recovered = true;
            }
        }
    }

    async fn final_reads(&mut self) {
        for request in self.generator.final_reads() {
            self.perform(request).await;
        }
    }

    /// The history line of `request`'s operation, of type `op_type`.
    fn line(&self, op_type: OpType, request: &Request, value: Value) -> ClientOp {
        ClientOp::new(
            0,
            op_type,
            self.process,
            request.f.clone(),
            request.key.clone(),
            value,
            self.spec.clock.now(),
        )
    }

    fn record(&self, op: ClientOp) {
        self.spec.recorder.lock().expect("recorder").client(op);
    }

    /// Runs one operation to its end; true if it completed `ok`.
    async fn perform(&mut self, request: Request) -> bool {
        let id = self.client.next_request();
        let mut invoke = self.line(OpType::Invoke, &request, request.value.clone());
        if matches!(request.body, Body::Command(_)) && !self.spec.etcd {
            // The engine's id of the command: the trace's `apply` of the
            // entry where it took effect names it too.
            invoke
                .extra
                .insert("request".into(), serde_json::json!([id.client, id.seq]));
        }
        self.record(invoke);
        match self.execute(&request, id).await {
            Completion::Ok(value) => {
                self.record(self.line(OpType::Ok, &request, value));
                true
            }
            Completion::Fail(error) => {
                let fail = self.line(OpType::Fail, &request, request.value.clone());
                self.record(fail.with_error(error));
                false
            }
            Completion::Info(error) => {
                let info = self.line(OpType::Info, &request, request.value.clone());
                self.record(info.with_error(error));
                self.process += u64::from(self.spec.scenario.workload.clients);
                false
            }
        }
    }

    async fn execute(&mut self, request: &Request, id: RequestId) -> Completion {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = self.etcd.as_mut() {
            return etcd
                .execute(request, self.spec.scenario.workload.timeout)
                .await;
        }
        let scenario = Arc::clone(&self.spec.scenario);
        let shard = shard_of(&request.key, scenario.cluster.shards);
        let timeout = scenario.workload.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mode = match scenario.workload.read {
            ReadMode::Linearizable => EngineRead::Linearizable,
            ReadMode::Local => EngineRead::Local,
        };
        let nodes: Vec<NodeId> = self.spec.nodes.keys().copied().collect();
        let home = self.home();
        let mut node = match (&request.body, mode) {
            // A local read is served by the node that receives it: the home node.
            (Body::Query(_), EngineRead::Local) => home,
            _ => self
                .client
                .leader_hint(shard)
                .or(self.resume_at)
                .unwrap_or(home),
        };
        let mut maybe_applied = false;
        let mut last_error = String::from("timeout");
        let mut tries = 0usize;
        // Nodes that did not answer within an attempt: a redirect to one of
        // them (from a follower cut off with a deposed leader) is not
        // followed; the client goes on to the next node in order instead.
        let mut stalled: BTreeSet<NodeId> = BTreeSet::new();
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tries += 1;
            let budget = (deadline - now).min(self.attempt_timeout);
            let attempt = match &request.body {
                Body::Command(c) => {
                    tokio::time::timeout(budget, self.client.write_once(node, shard, id, c.clone()))
                        .await
                }
                Body::Query(q) => {
                    tokio::time::timeout(
                        budget,
                        self.client.read_once(node, shard, q.clone(), mode),
                    )
                    .await
                }
            };
            let attempt = attempt.unwrap_or_else(|_| {
                self.client.reset(node);
                Attempt::Unknown("timeout".into())
            });
            match attempt {
                Attempt::Ok(bytes) => {
                    self.resume_at = None;
                    return self.generator.complete(request, &bytes);
                }
                Attempt::Redirect(Some(leader))
                    if leader != node && !stalled.contains(&leader) && tries <= nodes.len() * 4 =>
                {
                    node = leader;
                    continue;
                }
                Attempt::Redirect(_) => last_error = "no leader".into(),
                Attempt::Refused(why) => last_error = why,
                Attempt::Unknown(why) => {
                    stalled.insert(node);
                    maybe_applied = true;
                    last_error = why;
                }
            }
            // Next node in order after this one; pause briefly between rounds.
            let pos = nodes.iter().position(|n| *n == node).unwrap_or(0);
            node = nodes[(pos + 1) % nodes.len()];
            if tries.is_multiple_of(nodes.len()) {
                let pause = Duration::from_millis(20)
                    .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
                tokio::time::sleep(pause).await;
            }
        }
        // Out of time: the next operation goes on from where this one stopped.
        self.resume_at = Some(node);
        if matches!(request.body, Body::Command(_)) && !maybe_applied {
            // Every attempt was refused before anything was proposed.
            Completion::Fail(last_error)
        } else {
            Completion::Info(last_error)
        }
    }
}
