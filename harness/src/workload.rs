//! What a run replicates, what its clients do, and what its history is held
//! to: the application each node runs (a [`RaftApp`]), the clients'
//! operations (Jepsen's client and generator in one: what to send next and
//! how to record the reply), and the sequential model the linearizability
//! checker uses ([`tumult_models::lin::spec::HistorySpec`]).
//!
//! The built-in key-value workloads (`register`, `list-append`) are one user
//! of this API ([`KvWorkload`]); your own application is another: implement
//! [`Workload`], write scenarios with `[workload] kind = "app"`, and run them
//! with [`crate::run::run_seed_with`]. `harness/examples/bank` is a complete
//! example (README, "Testing your own app").
//!
//! Everything the simulator does stays deterministic as long as a
//! generator draws only from the `rng` it is handed and the app's `apply`
//! depends only on the commands it applied.

use crate::app::{Command, KvApp, Query, Reply};
use crate::scenario::{Mix, Scenario, SplitMix64, WorkloadKind};
use std::collections::BTreeMap;
use tumult_engine::node::RaftApp;
use tumult_models::history::{Function, History, HistoryError, Value};
use tumult_models::lin::{self, CheckOptions};

/// An application under test and the workload that exercises it.
pub trait Workload: Send + Sync + 'static {
    /// The application one node replicates, fresh: its state comes from the
    /// log and the snapshots (a restarted node gets a new one).
    fn app(&self, scenario: &Scenario) -> Box<dyn RaftApp>;
    /// The operations of client `client` (0-based) for the whole run.
    fn generator(&self, scenario: &Scenario, client: u32) -> Box<dyn Generator>;
    /// Checks the client operations of a history of this workload (for your
    /// own spec: [`lin::check_history_with`]).
    fn check(&self, history: &History, opts: &CheckOptions) -> Result<lin::Report, HistoryError>;
}

/// One client's operations: what it sends next and what the replies mean.
pub trait Generator: Send {
    /// The next operation while the workload runs, drawn from `rng` only.
    fn next(&mut self, rng: &mut SplitMix64) -> Request;
    /// The reads after the final heal that show every key's end state.
    fn final_reads(&mut self) -> Vec<Request>;
    /// What the app's reply to `request` means, as the history records it.
    fn complete(&mut self, request: &Request, reply: &[u8]) -> Completion;
}

/// One operation: what the history records at its invoke, and what goes to
/// the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `f` in the history.
    pub f: Function,
    /// `key`: it places the operation on a shard, and the checker splits
    /// the history by it.
    pub key: String,
    /// `value` of the invoke.
    pub value: Value,
    /// The bytes the app receives.
    pub body: Body,
}

/// What goes to the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Replicated through the log, then [`RaftApp::apply`]; retried with
    /// the same request id, so it is applied at most once.
    Command(Vec<u8>),
    /// Answered by [`RaftApp::read`] (linearizable unless the scenario's
    /// `[workload] read` is `local`).
    Query(Vec<u8>),
}

/// How an operation that got a reply ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Completion {
    /// `ok`, recording this `value`.
    Ok(Value),
    /// `fail` with this `error`: the operation certainly had no effect
    /// (`"mismatch"` tells the checker a cas ran and found another value).
    Fail(String),
    /// `info` with this `error`: unknown whether it took effect.
    Info(String),
}

/// The built-in key-value workloads of `[workload] kind`: `register` (read,
/// write, cas) and `list-append` (append, read), over [`KvApp`].
pub struct KvWorkload;

impl Workload for KvWorkload {
    fn app(&self, scenario: &Scenario) -> Box<dyn RaftApp> {
        Box::new(KvApp::new(scenario.cluster.snapshot_every))
    }

    fn generator(&self, scenario: &Scenario, client: u32) -> Box<dyn Generator> {
        let w = &scenario.workload;
        Box::new(KvGenerator {
            list: w.kind == WorkloadKind::ListAppend,
            mix: w.mix,
            keys: w.keys,
            clients: w.clients,
            client,
            counter: 0,
            known: BTreeMap::new(),
        })
    }

    fn check(&self, history: &History, opts: &CheckOptions) -> Result<lin::Report, HistoryError> {
        lin::check_history(history, opts)
    }
}

/// A client of the key-value workloads: unique written values, and a cas
/// only when it knows a value to compare with.
struct KvGenerator {
    list: bool,
    mix: Mix,
    keys: u32,
    clients: u32,
    client: u32,
    counter: i64,
    /// The last value this client wrote or read per key.
    known: BTreeMap<String, i64>,
}

impl KvGenerator {
    fn unique_value(&mut self) -> i64 {
        self.counter += 1;
        self.counter * i64::from(self.clients) + i64::from(self.client) + 1
    }

    fn command(f: Function, key: &str, value: Value, command: Command) -> Request {
        Request {
            f,
            key: key.to_string(),
            value,
            body: Body::Command(serde_json::to_vec(&command).expect("commands serialize")),
        }
    }

    fn read(key: &str) -> Request {
        let query = Query {
            key: key.to_string(),
        };
        Request {
            f: Function::Read,
            key: key.to_string(),
            value: Value::Null,
            body: Body::Query(serde_json::to_vec(&query).expect("queries serialize")),
        }
    }
}

impl Generator for KvGenerator {
    fn next(&mut self, rng: &mut SplitMix64) -> Request {
        let key = format!("k{}", rng.below(u64::from(self.keys)));
        let mut pick = rng.below(self.mix.total().max(1));
        let mut take = |w: u32| {
            if pick < u64::from(w) {
                true
            } else {
                pick -= u64::from(w);
                false
            }
        };
        if take(self.mix.read) {
            return Self::read(&key);
        }
        if self.list {
            let value = self.unique_value();
            let append = Command::Append {
                key: key.clone(),
                value,
            };
            return Self::command(Function::Append, &key, Value::Int(value), append);
        }
        if take(self.mix.write) {
            let value = self.unique_value();
            let write = Command::Write {
                key: key.clone(),
                value,
            };
            return Self::command(Function::Write, &key, Value::Int(value), write);
        }
        match self.known.get(&key).copied() {
            Some(expected) => {
                let new = self.unique_value();
                let cas = Command::Cas {
                    key: key.clone(),
                    expected,
                    new,
                };
                Self::command(Function::Cas, &key, Value::List(vec![expected, new]), cas)
            }
            // Nothing known to compare with: read instead.
            None => Self::read(&key),
        }
    }

    fn final_reads(&mut self) -> Vec<Request> {
        (0..self.keys)
            .map(|k| Self::read(&format!("k{k}")))
            .collect()
    }

    fn complete(&mut self, request: &Request, reply: &[u8]) -> Completion {
        let reply = match serde_json::from_slice::<Reply>(reply) {
            Ok(reply) => reply,
            Err(e) => return Completion::Info(format!("undecodable reply: {e}")),
        };
        let done = match reply {
            Reply::Done => request.value.clone(),
            Reply::Mismatch => return Completion::Fail("mismatch".into()),
            // A list-append read of a never-appended key is the empty list.
            Reply::Value(None) if self.list => Value::List(Vec::new()),
            Reply::Value(v) => v.map_or(Value::Null, Value::Int),
            Reply::List(l) => Value::List(l),
            Reply::Malformed(why) => return Completion::Fail(format!("malformed: {why}")),
        };
        match (&request.f, &request.value, &done) {
            (Function::Write, Value::Int(v), _) | (Function::Read, _, Value::Int(v)) => {
                self.known.insert(request.key.clone(), *v);
            }
            (Function::Cas, Value::List(l), _) if l.len() == 2 => {
                self.known.insert(request.key.clone(), l[1]);
            }
            _ => {}
        }
        Completion::Ok(done)
    }
}
