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

use super::recorder::{host_now, Shared};
use super::Phase;
use crate::app::{shard_of, Command, Query, Reply};
use crate::scenario::{ReadMode, Scenario, SplitMix64, WorkloadKind};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::client::{Attempt, Client};
use tumult_engine::node::ReadMode as EngineRead;
use tumult_engine::raft::NodeId;
use tumult_engine::transport::LinkConfig;
use tumult_models::history::{ClientOp, Function, OpType, Value};

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
    pub nodes: BTreeMap<NodeId, String>,
    pub recorder: Shared,
    pub phase: Arc<AtomicU8>,
    pub state: Arc<Mutex<Vec<ClientState>>>,
    /// Plain turmoil TCP, or TLS over it (`[engine] tls`).
    pub network: Arc<dyn tumult_engine::transport::Network>,
}

enum Op {
    Read,
    Write(i64),
    Cas(i64, i64),
    Append(i64),
}

impl Op {
    fn function(&self) -> Function {
        match self {
            Op::Read => Function::Read,
            Op::Write(_) => Function::Write,
            Op::Cas(..) => Function::Cas,
            Op::Append(_) => Function::Append,
        }
    }
    fn invoke_value(&self) -> Value {
        match self {
            Op::Read => Value::Null,
            Op::Write(v) | Op::Append(v) => Value::Int(*v),
            Op::Cas(a, b) => Value::List(vec![*a, *b]),
        }
    }
}

/// How an operation ended.
enum Outcome {
    Ok(Value),
    Fail(String),
    Info(String),
}

struct Worker {
    spec: ClientSpec,
    client: Client,
    rng: SplitMix64,
    process: u64,
    counter: i64,
    known: BTreeMap<String, i64>,
    attempt_timeout: Duration,
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
    let mut worker = Worker {
        process: u64::from(spec.id),
        spec,
        client,
        rng,
        counter: 0,
        known: BTreeMap::new(),
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
            let key = format!("k{}", self.rng.below(u64::from(w.keys)));
            let op = self.draw(&key);
            let ok = self.perform(&key, op).await;
            if ok && phase == Phase::Recovery {
                let id = self.spec.id as usize;
                self.spec.state.lock().expect("client state")[id].recovered = true;
            }
        }
    }

    async fn final_reads(&mut self) {
        for k in 0..self.spec.scenario.workload.keys {
            let key = format!("k{k}");
            self.perform(&key, Op::Read).await;
        }
    }

    fn unique_value(&mut self) -> i64 {
        self.counter += 1;
        self.counter * i64::from(self.spec.scenario.workload.clients) + i64::from(self.spec.id) + 1
    }

    fn draw(&mut self, key: &str) -> Op {
        let mix = self.spec.scenario.workload.mix;
        let mut pick = self.rng.below(mix.total().max(1));
        let mut take = |w: u32| {
            if pick < u64::from(w) {
                true
            } else {
                pick -= u64::from(w);
                false
            }
        };
        if take(mix.read) {
            return Op::Read;
        }
        match self.spec.scenario.workload.kind {
            WorkloadKind::ListAppend => Op::Append(self.unique_value()),
            WorkloadKind::Register => {
                if take(mix.write) {
                    Op::Write(self.unique_value())
                } else {
                    match self.known.get(key).copied() {
                        Some(expected) => Op::Cas(expected, self.unique_value()),
                        // Nothing known to compare with: read instead.
                        None => Op::Read,
                    }
                }
            }
        }
    }

    fn record(&self, op_type: OpType, f: Function, key: &str, value: Value, error: Option<String>) {
        let mut op = ClientOp::new(0, op_type, self.process, f, key, value, host_now());
        op.error = error;
        self.spec.recorder.lock().expect("recorder").client(op);
    }

    /// Runs one operation to its end; true if it completed `ok`.
    async fn perform(&mut self, key: &str, op: Op) -> bool {
        let f = op.function();
        let invoke_value = op.invoke_value();
        self.record(OpType::Invoke, f, key, invoke_value.clone(), None);
        let outcome = self.execute(key, &op).await;
        match outcome {
            Outcome::Ok(value) => {
                match (&op, &value) {
                    (Op::Write(v), _) | (Op::Cas(_, v), _) => {
                        self.known.insert(key.to_string(), *v);
                    }
                    (Op::Read, Value::Int(v)) => {
                        self.known.insert(key.to_string(), *v);
                    }
                    _ => {}
                }
                let shown = if matches!(op, Op::Read) {
                    value
                } else {
                    invoke_value
                };
                self.record(OpType::Ok, f, key, shown, None);
                true
            }
            Outcome::Fail(error) => {
                self.record(OpType::Fail, f, key, invoke_value, Some(error));
                false
            }
            Outcome::Info(error) => {
                self.record(OpType::Info, f, key, invoke_value, Some(error));
                self.process += u64::from(self.spec.scenario.workload.clients);
                false
            }
        }
    }

    async fn execute(&mut self, key: &str, op: &Op) -> Outcome {
        let scenario = Arc::clone(&self.spec.scenario);
        let shard = shard_of(key, scenario.cluster.shards);
        let timeout = scenario.workload.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let request = self.client.next_request();
        let (command, query) = match op {
            Op::Read => (
                None,
                serde_json::to_vec(&Query {
                    key: key.to_string(),
                })
                .expect("query"),
            ),
            Op::Write(v) => (
                Some(Command::Write {
                    key: key.into(),
                    value: *v,
                }),
                Vec::new(),
            ),
            Op::Cas(e, n) => (
                Some(Command::Cas {
                    key: key.into(),
                    expected: *e,
                    new: *n,
                }),
                Vec::new(),
            ),
            Op::Append(v) => (
                Some(Command::Append {
                    key: key.into(),
                    value: *v,
                }),
                Vec::new(),
            ),
        };
        let command = command.map(|c| serde_json::to_vec(&c).expect("command"));
        let mode = match scenario.workload.read {
            ReadMode::Linearizable => EngineRead::Linearizable,
            ReadMode::Local => EngineRead::Local,
        };
        let nodes: Vec<NodeId> = self.spec.nodes.keys().copied().collect();
        let home = self.home();
        let mut node = match (&command, mode) {
            // A local read is served by the node that receives it: the home node.
            (None, EngineRead::Local) => home,
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
            let attempt = match &command {
                Some(c) => {
                    tokio::time::timeout(
                        budget,
                        self.client.write_once(node, shard, request, c.clone()),
                    )
                    .await
                }
                None => {
                    tokio::time::timeout(
                        budget,
                        self.client.read_once(node, shard, query.clone(), mode),
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
                    return match serde_json::from_slice::<Reply>(&bytes) {
                        Ok(Reply::Done) => Outcome::Ok(Value::Null),
                        Ok(Reply::Mismatch) => Outcome::Fail("mismatch".into()),
                        // A list-append read of a never-appended key is the empty list.
                        Ok(Reply::Value(None))
                            if scenario.workload.kind == WorkloadKind::ListAppend =>
                        {
                            Outcome::Ok(Value::List(Vec::new()))
                        }
                        Ok(Reply::Value(v)) => Outcome::Ok(v.map_or(Value::Null, Value::Int)),
                        Ok(Reply::List(l)) => Outcome::Ok(Value::List(l)),
                        Ok(Reply::Malformed(why)) => Outcome::Fail(format!("malformed: {why}")),
                        Err(e) => Outcome::Info(format!("undecodable reply: {e}")),
                    };
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
        if command.is_some() && !maybe_applied {
            // Every attempt was refused before anything was proposed.
            Outcome::Fail(last_error)
        } else {
            Outcome::Info(last_error)
        }
    }
}
