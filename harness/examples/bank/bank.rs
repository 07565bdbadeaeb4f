//! A bank under test: your own application run through tumult's scenarios.
//!
//! Each key (`b0`, `b1`, ...) is a bank of [`ACCOUNTS`] accounts that start
//! with [`OPENING`] each. A transfer moves an amount between two accounts of
//! one bank if the payer has it, and is refused (`insufficient`) otherwise;
//! a read returns every balance. Money is conserved: the sequential model
//! ([`BankSpec`]) is the exact balances, so a lost, repeated or invented
//! transfer, or a read from a replica that diverged, is not linearizable.
//!
//! Three pieces make an app testable (`tumult_harness::workload`): the
//! replicated state machine ([`BankApp`], a `RaftApp`), the clients'
//! operations ([`BankClient`], a `Generator`: what to send, how to record
//! the reply) and the model ([`BankSpec`], a `HistorySpec`). [`Bank`] ties
//! them together as a `Workload`; `Bank { broken: true }` replicates
//! [`BankApp`] with a deliberate bug, which the scenarios must catch.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tumult_engine::node::RaftApp;
use tumult_engine::raft::{Index, ShardId};
use tumult_harness::scenario::{Scenario, SplitMix64};
use tumult_harness::workload::{Body, Completion, Generator, Request, Workload};
use tumult_models::history::{Function, History, HistoryError, Value};
use tumult_models::lin::spec::{Completion as Ended, HistorySpec, Role, Spec, Taken};
use tumult_models::lin::{self, CheckOptions};

/// Accounts per bank.
pub const ACCOUNTS: usize = 5;
/// Each account's opening balance.
pub const OPENING: i64 = 100;

/// What the clients send through the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub bank: String,
    pub from: usize,
    pub to: usize,
    pub amount: i64,
}

/// A read of one bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub bank: String,
}

/// What the app answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Done,
    Insufficient,
    Balances(Vec<i64>),
    Malformed(String),
}

/// The replicated banks of every shard of one node.
#[derive(Debug, Default)]
pub struct BankApp {
    shards: BTreeMap<ShardId, BTreeMap<String, Vec<i64>>>,
    snapshot_every: u64,
    /// The bug of `Bank { broken: true }`: every 13th transfer this
    /// process applies credits one more than it debits. The count is the
    /// process's own, in neither the log nor the snapshots, so the replicas
    /// disagree once one restarts, and money appears from nowhere.
    broken: bool,
    applied_here: u64,
}

impl BankApp {
    fn answer(a: &Answer) -> Vec<u8> {
        serde_json::to_vec(a).expect("answers serialize")
    }
}

impl RaftApp for BankApp {
    fn apply(&mut self, shard: ShardId, _index: Index, command: &[u8]) -> Vec<u8> {
        let t = match serde_json::from_slice::<Transfer>(command) {
            Ok(t) if t.from < ACCOUNTS && t.to < ACCOUNTS && t.amount > 0 => t,
            Ok(t) => return Self::answer(&Answer::Malformed(format!("{t:?}"))),
            Err(e) => return Self::answer(&Answer::Malformed(e.to_string())),
        };
        let bank = self
            .shards
            .entry(shard)
            .or_default()
            .entry(t.bank)
            .or_insert_with(|| vec![OPENING; ACCOUNTS]);
        if bank[t.from] < t.amount {
            return Self::answer(&Answer::Insufficient);
        }
        self.applied_here += 1;
        let bonus = i64::from(self.broken && self.applied_here.is_multiple_of(13));
        bank[t.from] -= t.amount;
        bank[t.to] += t.amount + bonus;
        Self::answer(&Answer::Done)
    }

    fn read(&mut self, shard: ShardId, query: &[u8]) -> Vec<u8> {
        match serde_json::from_slice::<Audit>(query) {
            Ok(a) => {
                let balances = self
                    .shards
                    .get(&shard)
                    .and_then(|s| s.get(&a.bank))
                    .cloned()
                    .unwrap_or_else(|| vec![OPENING; ACCOUNTS]);
                Self::answer(&Answer::Balances(balances))
            }
            Err(e) => Self::answer(&Answer::Malformed(e.to_string())),
        }
    }

    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        let banks = self.shards.get(&shard).cloned().unwrap_or_default();
        serde_json::to_vec(&banks).expect("banks serialize")
    }

    fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
        let banks = if snapshot.is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_slice(snapshot).expect("a snapshot written by BankApp decodes")
        };
        self.shards.insert(shard, banks);
    }

    fn should_snapshot(&self, _shard: ShardId, applied: Index, snapshot_index: Index) -> bool {
        self.snapshot_every > 0 && applied >= snapshot_index + self.snapshot_every
    }
}

/// The bank as a workload: its app, its clients and its model.
pub struct Bank {
    /// Replicate the broken app (see [`BankApp`]).
    pub broken: bool,
}

impl Workload for Bank {
    fn app(&self, scenario: &Scenario) -> Box<dyn RaftApp> {
        Box::new(BankApp {
            snapshot_every: scenario.cluster.snapshot_every,
            broken: self.broken,
            ..BankApp::default()
        })
    }

    fn generator(&self, scenario: &Scenario, _client: u32) -> Box<dyn Generator> {
        Box::new(BankClient {
            banks: scenario.workload.keys,
        })
    }

    fn check(&self, history: &History, opts: &CheckOptions) -> Result<lin::Report, HistoryError> {
        lin::check_history_with::<BankSpec>(history, opts)
    }
}

/// One client: a third of its operations read a bank, the rest transfer
/// up to 60 between two of its accounts.
pub struct BankClient {
    banks: u32,
}

fn transfer() -> Function {
    Function::Other("transfer".into())
}

impl BankClient {
    fn audit(bank: String) -> Request {
        let body = serde_json::to_vec(&Audit { bank: bank.clone() }).expect("audits serialize");
        Request {
            f: Function::Read,
            key: bank,
            value: Value::Null,
            body: Body::Query(body),
        }
    }
}

impl Generator for BankClient {
    fn next(&mut self, rng: &mut SplitMix64) -> Request {
        let bank = format!("b{}", rng.below(u64::from(self.banks)));
        if rng.below(3) == 0 {
            return Self::audit(bank);
        }
        let from = rng.below(ACCOUNTS as u64) as usize;
        let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
        let amount = 1 + rng.below(60) as i64;
        let t = Transfer {
            bank: bank.clone(),
            from,
            to,
            amount,
        };
        Request {
            f: transfer(),
            key: bank,
            value: Value::List(vec![from as i64, to as i64, amount]),
            body: Body::Command(serde_json::to_vec(&t).expect("transfers serialize")),
        }
    }

    fn final_reads(&mut self) -> Vec<Request> {
        (0..self.banks)
            .map(|b| Self::audit(format!("b{b}")))
            .collect()
    }

    fn complete(&mut self, request: &Request, reply: &[u8]) -> Completion {
        match serde_json::from_slice::<Answer>(reply) {
            Ok(Answer::Done) => Completion::Ok(request.value.clone()),
            Ok(Answer::Insufficient) => Completion::Fail("insufficient".into()),
            Ok(Answer::Balances(b)) => Completion::Ok(Value::List(b)),
            Ok(Answer::Malformed(why)) => Completion::Fail(format!("malformed: {why}")),
            Err(e) => Completion::Info(format!("undecodable reply: {e}")),
        }
    }
}

/// The sequential model of one bank: its balances.
pub struct BankSpec;

/// An operation of one bank, input and output together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankOp {
    /// A read that returned these balances.
    Read(Vec<i64>),
    /// A transfer; `done`: `Some(true)` ok, `Some(false)` refused as
    /// insufficient, `None` unknown (it may have happened).
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
        done: Option<bool>,
    },
}

impl Spec for BankSpec {
    const NAME: &'static str = "bank";
    type State = Vec<i64>;
    type Op = BankOp;

    fn init() -> Vec<i64> {
        vec![OPENING; ACCOUNTS]
    }

    fn step(state: &Vec<i64>, op: &BankOp) -> Option<Vec<i64>> {
        match op {
            BankOp::Read(seen) => (seen == state).then(|| state.clone()),
            &BankOp::Transfer {
                from,
                to,
                amount,
                done,
            } => {
                let covered = state[from] >= amount;
                match (done, covered) {
                    (Some(true), false) | (Some(false), true) => None,
                    (Some(false), false) | (None, false) => Some(state.clone()),
                    (Some(true), true) | (None, true) => {
                        let mut next = state.clone();
                        next[from] -= amount;
                        next[to] += amount;
                        Some(next)
                    }
                }
            }
        }
    }

    fn role(op: &BankOp) -> Role {
        match op {
            // A read leaves the balances alone: a violation may drop it.
            BankOp::Read(_) => Role::Observer { refs: Vec::new() },
            // Amounts are not unique values a reader could refer to, so
            // no transfer can be dropped soundly.
            BankOp::Transfer { .. } => Role::Pinned,
        }
    }

    fn describe_operation(op: &BankOp) -> String {
        match op {
            BankOp::Read(b) => format!("read -> {b:?}"),
            BankOp::Transfer {
                from,
                to,
                amount,
                done,
            } => {
                let how = match done {
                    Some(true) => "ok",
                    Some(false) => "insufficient",
                    None => "unknown",
                };
                format!("transfer {amount} from {from} to {to} -> {how}")
            }
        }
    }

    fn describe_state(state: &Vec<i64>) -> String {
        format!("{state:?} (total {})", state.iter().sum::<i64>())
    }

    fn state_heap_bytes(state: &Vec<i64>) -> usize {
        state.capacity() * std::mem::size_of::<i64>()
    }
}

impl HistorySpec for BankSpec {
    fn operation(f: &Function, value: &Value, ended: Ended<'_>) -> Result<Taken<BankOp>, String> {
        match f {
            Function::Read => Ok(match ended {
                Ended::Ok(Value::List(b)) if b.len() == ACCOUNTS => {
                    Taken::Closed(BankOp::Read(b.clone()))
                }
                Ended::Ok(v) => {
                    return Err(format!(
                        "field `value`: a read returns {ACCOUNTS} balances, found {v}"
                    ))
                }
                // A read that failed or may have happened says nothing.
                _ => Taken::Drop,
            }),
            Function::Other(name) if name == "transfer" => {
                let (from, to, amount) = match value {
                    Value::List(l)
                        if l.len() == 3
                            && (0..ACCOUNTS as i64).contains(&l[0])
                            && (0..ACCOUNTS as i64).contains(&l[1])
                            && l[2] > 0 =>
                    {
                        (l[0] as usize, l[1] as usize, l[2])
                    }
                    v => {
                        return Err(format!(
                            "field `value`: a transfer is [from, to, amount] with accounts \
                             0..{ACCOUNTS} and a positive amount, found {v}"
                        ))
                    }
                };
                let op = |done| BankOp::Transfer {
                    from,
                    to,
                    amount,
                    done,
                };
                Ok(match ended {
                    Ended::Ok(_) => Taken::Closed(op(Some(true))),
                    Ended::Fail(Some("insufficient")) => Taken::Closed(op(Some(false))),
                    Ended::Fail(_) => Taken::Drop,
                    Ended::Unknown => Taken::Open(op(None)),
                })
            }
            other => Err(format!(
                "field `f`: a bank has read and transfer, not `{other}`"
            )),
        }
    }
}
