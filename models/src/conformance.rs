//! Trace conformance: rebuilds every shard's cluster state from the engine's
//! protocol trace and, after every event, checks the invariants of
//! [`crate::invariants`] (the very functions the stateright model checks)
//! and each server's own step against the model's rules: terms and commit
//! indexes never decrease, one vote per term, no truncation at or below the
//! commit index, a leader commits by counting only entries of its term,
//! applied entries are committed ones, only committed entries are compacted,
//! a follower truncates only a conflicting suffix (never an entry the
//! replacing Append carries with the same term), a leader appends a
//! membership change only after committing an entry of its term and while
//! no other change is uncommitted, a server that is not a voter of its own
//! configuration never campaigns, and a restarted server recovers the ballot
//! and the log it reported before the crash (a `start` event with `vote`,
//! `last_index` and `last_term`: every engine event is emitted only once
//! what it reports is durable).
//!
//! The input is independent of the history file: one [`TraceRecord`] per
//! trace line (node name, shard, the event as a JSON object with its fields
//! inline, time, history index). Besides the engine's events, the pseudo
//! events `crash`, `restart` and `start` (or a call to
//! [`Conformance::restart`]) tell the checker a node lost its volatile state,
//! after which its commit index may start again from its snapshot.
//!
//! ```
//! use serde_json::json;
//! use tumult_models::conformance::check_trace;
//!
//! let trace = vec![
//!     ("n1".to_string(), 0, json!({"event": "become-leader", "term": 1}), 10, 0),
//!     ("n2".to_string(), 0, json!({"event": "become-leader", "term": 1}), 20, 1),
//! ];
//! let err = check_trace(trace).unwrap_err();
//! assert!(err.to_string().contains("election-safety"));
//! ```

use crate::invariants::{
    applied_safely, check_server_transition, check_truncate, election_safety, leader_complete,
    log_matching_between, ClusterState, Index, LogEntry, NodeId, Payload, Role, Rule, ServerState,
    Snapshot, Term, Violation,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One trace line of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// The node that emitted it (`n1`, `n2`, ...).
    pub node: String,
    /// The shard (Raft group).
    pub shard: u64,
    /// The event: `{"event": "<kebab-case name>", ...fields}`.
    pub event: Value,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// Position in the history.
    pub index: u64,
}

impl From<(String, u64, Value, u64, u64)> for TraceRecord {
    fn from((node, shard, event, time, index): (String, u64, Value, u64, u64)) -> Self {
        TraceRecord {
            node,
            shard,
            event,
            time,
            index,
        }
    }
}

/// The first event after which a rule no longer held.
#[derive(Clone, Debug, PartialEq)]
pub struct ConformanceViolation {
    /// History index of the event.
    pub index: u64,
    /// Its time.
    pub time: u64,
    /// The node that emitted it.
    pub node: String,
    /// Its shard.
    pub shard: u64,
    /// The event itself.
    pub event: Value,
    /// The rule broken.
    pub rule: Rule,
    /// What was seen.
    pub message: String,
    /// The relevant state: every server of the shard, as rebuilt before the event.
    pub state: String,
}

impl fmt::Display for ConformanceViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} at history index {} (time {} ns), node {}, shard {}: {}",
            self.rule, self.index, self.time, self.node, self.shard, self.message
        )?;
        writeln!(f, "  event: {}", self.event)?;
        write!(f, "  state before the event:\n{}", self.state)
    }
}

/// Why a trace could not be accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum ConformanceError {
    /// A trace line lacks a field or has one of the wrong type.
    Malformed {
        /// History index of the line.
        index: u64,
        /// What is wrong.
        message: String,
    },
    /// The trace breaks a rule.
    Violation(Box<ConformanceViolation>),
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConformanceError::Malformed { index, message } => {
                write!(
                    f,
                    "malformed trace event at history index {index}: {message}"
                )
            }
            ConformanceError::Violation(v) => v.fmt(f),
        }
    }
}

impl std::error::Error for ConformanceError {}

/// What a clean trace amounted to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events checked.
    pub events: u64,
    /// Shards seen.
    pub shards: usize,
    /// Nodes seen.
    pub nodes: usize,
    /// Highest index known committed, per shard.
    pub committed: BTreeMap<u64, Index>,
}

/// The trace checker: feed it events in history order.
#[derive(Clone, Debug, Default)]
pub struct Conformance {
    shards: BTreeMap<u64, ClusterState>,
    names: BTreeMap<String, NodeId>,
    events: u64,
    /// (shard, node) -> (index, term) of the entry the node's last event,
    /// a truncation, removed: the next event must replace it by an entry of
    /// another term.
    truncated: BTreeMap<(u64, NodeId), (Index, Term)>,
}

fn field(event: &Value, name: &str) -> Result<u64, String> {
    event
        .get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("field {name:?} missing or not an unsigned integer in {event}"))
}

/// An event's own log position: `log_index` (SPEC.md section 3), or
/// `index` in events written before that rule.
fn log_index(event: &Value) -> Result<u64, String> {
    if event.get("log_index").is_some() {
        field(event, "log_index")
    } else {
        field(event, "index")
    }
}

fn ids(event: &Value, name: &str) -> Result<Vec<NodeId>, String> {
    let list = event
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("field {name:?} missing or not a list in {event}"))?;
    let mut out = list
        .iter()
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| format!("field {name:?} holds a non-integer in {event}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// What a violation report shows of one server: a copy of its state
/// without the log, plus the terms of the last few entries. Taken before
/// every event, so it is kept cheap; it is only rendered on a violation.
struct ServerBrief {
    id: NodeId,
    role: Role,
    term: Term,
    vote: Option<NodeId>,
    snapshot: (Index, Term),
    log_len: usize,
    tail: [Term; BRIEF_TAIL],
    commit: Index,
    applied: Index,
}

/// Entries shown at the end of each log in a violation report.
const BRIEF_TAIL: usize = 8;

/// The cluster's state before an event, as a violation report shows it.
struct Before(Vec<ServerBrief>);

fn brief(state: &ClusterState) -> Before {
    Before(
        state
            .servers
            .iter()
            .map(|(&id, s)| {
                let mut tail = [0; BRIEF_TAIL];
                let shown = s.log.len().min(BRIEF_TAIL);
                for (slot, e) in tail.iter_mut().zip(&s.log[s.log.len() - shown..]) {
                    *slot = e.term;
                }
                ServerBrief {
                    id,
                    role: s.role,
                    term: s.term,
                    vote: s.vote,
                    snapshot: (s.snapshot.index, s.snapshot.term),
                    log_len: s.log.len(),
                    tail,
                    commit: s.commit,
                    applied: s.applied,
                }
            })
            .collect(),
    )
}

impl Before {
    fn describe(&self) -> String {
        let mut out = String::new();
        for s in &self.0 {
            let shown = s.log_len.min(BRIEF_TAIL);
            let first = s.snapshot.0 + 1 + (s.log_len - shown) as Index;
            let tail: Vec<String> = s.tail[..shown]
                .iter()
                .enumerate()
                .map(|(k, term)| format!("{}@t{term}", first + k as Index))
                .collect();
            out.push_str(&format!(
                "    n{}: {:?} term {} vote {} snapshot {}@t{} log(last {}) [{}{}] commit {} applied {}\n",
                s.id,
                s.role,
                s.term,
                s.vote.map_or("-".into(), |v| format!("n{v}")),
                s.snapshot.0,
                s.snapshot.1,
                shown,
                if s.log_len > BRIEF_TAIL { "..., " } else { "" },
                tail.join(", "),
                s.commit,
                s.applied
            ));
        }
        out
    }
}

/// A copy of a server without its log, for the step comparisons.
fn header(s: &ServerState) -> ServerState {
    ServerState {
        term: s.term,
        vote: s.vote,
        role: s.role,
        snapshot: Snapshot::default(),
        log: Vec::new(),
        commit: s.commit,
        applied: s.applied,
    }
}

impl Conformance {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events checked so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The state rebuilt for `shard`.
    pub fn shard(&self, shard: u64) -> Option<&ClusterState> {
        self.shards.get(&shard)
    }

    /// The numeric id of a node name (`n3` is 3; other names get ids from 1,000,000 on).
    pub fn node_id(&mut self, name: &str) -> NodeId {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = name
            .strip_prefix('n')
            .and_then(|d| d.parse::<NodeId>().ok())
            .filter(|_| !name[1..].starts_with('0') || name == "n0")
            .unwrap_or(1_000_000 + self.names.len() as NodeId);
        self.names.insert(name.to_string(), id);
        id
    }

    /// The node lost its volatile state (crash, stop, restart): in every shard
    /// it is a follower again whose commit and applied indexes start over
    /// from its snapshot.
    pub fn restart(&mut self, node: &str) {
        let id = self.node_id(node);
        for cluster in self.shards.values_mut() {
            if let Some(s) = cluster.servers.get_mut(&id) {
                s.role = Role::Follower;
                s.commit = s.snapshot.index;
                s.applied = s.snapshot.index;
            }
        }
    }

    /// Checks one event; the first broken rule is returned with its context.
    pub fn observe(&mut self, record: &TraceRecord) -> Result<(), ConformanceError> {
        self.events += 1;
        let malformed = |message: String| ConformanceError::Malformed {
            index: record.index,
            message,
        };
        let name = record
            .event
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(format!("no \"event\" name in {}", record.event)))?
            .to_string();
        let violation = |v: Violation, before: Before| {
            ConformanceError::Violation(Box::new(ConformanceViolation {
                index: record.index,
                time: record.time,
                node: record.node.clone(),
                shard: record.shard,
                event: record.event.clone(),
                rule: v.rule,
                message: v.message,
                state: before.describe(),
            }))
        };
        if name == "start" {
            let id = self.node_id(&record.node);
            self.truncated.remove(&(record.shard, id));
            if let Some(cluster) = self.shards.get_mut(&record.shard) {
                if cluster.servers.contains_key(&id) {
                    let before = brief(cluster);
                    let s = cluster.servers.get_mut(&id).expect("checked");
                    recover(s, id, &record.event)
                        .map_err(malformed)?
                        .map_err(|v| violation(v, before))?;
                }
            }
        }
        if matches!(name.as_str(), "crash" | "restart" | "start" | "stop") {
            self.restart(&record.node);
            return Ok(());
        }
        let id = self.node_id(&record.node);
        let cluster = self.shards.entry(record.shard).or_default();
        cluster
            .servers
            .entry(id)
            .or_insert_with(|| ServerState::new(&[]));
        let before = brief(cluster);
        let prev = header(&cluster.servers[&id]);
        // §5.3: what a truncation removed must not come back unchanged.
        let removed = self.truncated.remove(&(record.shard, id));
        if name == "truncate" {
            let from = field(&record.event, "from").map_err(malformed)?;
            if let Some(t) = cluster.servers[&id].term_at(from) {
                self.truncated.insert((record.shard, id), (from, t));
            }
        }
        let stale = match removed {
            Some((from, old)) if name == "append" => {
                let same = field(&record.event, "from").ok() == Some(from)
                    && record
                        .event
                        .get("terms")
                        .and_then(Value::as_array)
                        .and_then(|t| t.first())
                        .and_then(Value::as_u64)
                        == Some(old);
                same.then(|| {
                    Violation::new(
                        Rule::TruncateMatching,
                        Some(id),
                        format!(
                            "n{id} truncated its log from index {from} and appended the same \
                             entry (term {old}) there again: only a conflicting suffix may be \
                             removed (§5.3)"
                        ),
                    )
                })
            }
            _ => None,
        };
        if let Some(v) = stale {
            return Err(violation(v, before));
        }
        let outcome = apply(cluster, id, &name, &record.event)
            .map_err(malformed)?
            .and_then(|touched| {
                let next = &cluster.servers[&id];
                check_server_transition(id, &prev, next, false)?;
                election_safety(cluster)?;
                if touched.log {
                    for &other in cluster.servers.keys() {
                        if other != id {
                            log_matching_between(cluster, id, other)?;
                        }
                    }
                }
                if touched.log || touched.role || touched.commit {
                    for (&leader, s) in &cluster.servers {
                        if s.role == Role::Leader {
                            leader_complete(cluster, leader)?;
                        }
                    }
                }
                if touched.commit {
                    applied_safely(cluster, id)?;
                }
                Ok(())
            });
        outcome.map_err(|v: Violation| violation(v, before))
    }

    /// What the checker saw, once every event went through.
    pub fn summary(&self) -> Summary {
        Summary {
            events: self.events,
            shards: self.shards.len(),
            nodes: self.names.len(),
            committed: self
                .shards
                .iter()
                .map(|(&k, c)| {
                    (
                        k,
                        c.ghost.committed.keys().next_back().copied().unwrap_or(0),
                    )
                })
                .collect(),
        }
    }
}

/// Which parts of the state an event changed.
#[derive(Default)]
struct Touched {
    log: bool,
    role: bool,
    commit: bool,
}

fn inconsistent(id: NodeId, message: String) -> Violation {
    Violation::new(Rule::Inconsistent, Some(id), message)
}

/// A `start` event: the node recovered its ballot and log from disk. What it
/// reported before (every event is emitted once its writes are durable) must
/// be there: the term, the vote in that term, and every entry it appended
/// (it may hold more, written but not reported before a crash). Start
/// events without the recovered log (older histories) are not checked.
fn recover(s: &mut ServerState, id: NodeId, ev: &Value) -> Result<Result<(), Violation>, String> {
    let term = field(ev, "term")?;
    let vote = match ev.get("vote") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("field \"vote\" is not an unsigned integer in {ev}"))?,
        ),
    };
    let fail = |message: String| Ok(Err(Violation::new(Rule::Durability, Some(id), message)));
    let (Some(last_index), Some(last_term)) = (
        ev.get("last_index").and_then(Value::as_u64),
        ev.get("last_term").and_then(Value::as_u64),
    ) else {
        // An older history: its start events name neither the log nor the vote.
        return Ok(Ok(()));
    };
    if term < s.term {
        return fail(format!(
            "n{id} restarted in term {term}, but had reached term {} before",
            s.term
        ));
    }
    if term == s.term {
        if let Some(v) = s.vote {
            if vote != Some(v) {
                return fail(format!(
                    "n{id} voted for n{v} in term {term} and restarted in that term with {}",
                    vote.map_or("no vote".to_string(), |w| format!("a vote for n{w}"))
                ));
            }
        }
    }
    if last_index < s.last_index() {
        return fail(format!(
            "n{id} restarted with its log ending at index {last_index}, but had appended up to {}",
            s.last_index()
        ));
    }
    if last_index == s.last_index() && last_term != s.last_term() {
        return fail(format!(
            "n{id} restarted with index {last_index} of term {last_term}, but had appended it with term {}",
            s.last_term()
        ));
    }
    if term > s.term {
        s.term = term;
        s.vote = vote;
    } else if s.vote.is_none() {
        s.vote = vote;
    }
    Ok(Ok(()))
}

/// Dissertation §4.2.2: only a voter of its own configuration campaigns
/// (unknown configurations are not judged).
fn check_voter(s: &ServerState, id: NodeId, what: &str) -> Result<(), Violation> {
    let voters = s.voters();
    if voters.is_empty() || voters.contains(&id) {
        return Ok(());
    }
    Err(Violation::new(
        Rule::NonVoterCampaign,
        Some(id),
        format!("n{id} {what}, but it is not a voter of its configuration {voters:?}"),
    ))
}

/// Dissertation §4.1: the leader `s` appends a membership change at `index`
/// only once it committed an entry of its term, and only when its previous
/// change is committed.
fn check_membership_change(s: &ServerState, id: NodeId, index: Index) -> Result<(), Violation> {
    let fail = |message: String| Err(Violation::new(Rule::MembershipChange, Some(id), message));
    if let Some(t) = s.term_at(s.commit) {
        if t != s.term {
            return fail(format!(
                "n{id}, leader of term {}, appends a membership change at index {index} before \
                 committing an entry of its term (its commit index {} holds term {t})",
                s.term, s.commit
            ));
        }
    }
    let previous = s.config_index();
    if previous > s.commit && previous < index {
        return fail(format!(
            "n{id}, leader of term {}, appends a membership change at index {index} while the \
             change at index {previous} is not committed (commit index {})",
            s.term, s.commit
        ));
    }
    Ok(())
}

/// Adopts `term` if it is newer; an event naming an older term than the
/// node's own is a step back.
fn adopt_term(s: &mut ServerState, id: NodeId, term: Term, what: &str) -> Result<(), Violation> {
    if term < s.term {
        return Err(Violation::new(
            Rule::TermMonotonic,
            Some(id),
            format!(
                "n{id} reports {what} in term {term} while in term {}",
                s.term
            ),
        ));
    }
    if term > s.term {
        s.term = term;
        s.vote = None;
        if s.role != Role::Follower {
            s.role = Role::Follower;
        }
    }
    Ok(())
}

/// Applies one event to the node's state. The outer error is a malformed
/// event, the inner one a broken rule.
fn apply(
    cluster: &mut ClusterState,
    id: NodeId,
    name: &str,
    ev: &Value,
) -> Result<Result<Touched, Violation>, String> {
    let mut touched = Touched::default();
    let s = cluster.servers.get_mut(&id).expect("created by the caller");
    let result: Result<(), Violation> = match name {
        "term-change" => {
            let term = field(ev, "term")?;
            adopt_term(s, id, term, "a term change")
        }
        "start-pre-vote" => {
            // The pre-vote asks for term + 1 without changing the term.
            let term = field(ev, "term")?;
            touched.role = true;
            if term + 1 < s.term && term < s.term {
                Err(Violation::new(
                    Rule::TermMonotonic,
                    Some(id),
                    format!(
                        "n{id} starts a pre-vote for term {term} while in term {}",
                        s.term
                    ),
                ))
            } else {
                check_voter(s, id, &format!("starts a pre-vote for term {term}")).map(|()| {
                    s.role = Role::PreCandidate;
                })
            }
        }
        "become-candidate" => {
            let term = field(ev, "term")?;
            touched.role = true;
            check_voter(s, id, &format!("becomes candidate in term {term}"))
                .and_then(|()| adopt_term(s, id, term, "becoming candidate"))
                .and_then(|()| match s.vote {
                    Some(v) if v != id => Err(Violation::new(
                        Rule::OneVotePerTerm,
                        Some(id),
                        format!("n{id} campaigns in term {term}, where it voted for n{v}"),
                    )),
                    _ => {
                        s.vote = Some(id);
                        s.role = Role::Candidate;
                        Ok(())
                    }
                })
        }
        "become-leader" => {
            let term = field(ev, "term")?;
            touched.role = true;
            adopt_term(s, id, term, "becoming leader").and_then(|()| {
                s.role = Role::Leader;
                cluster.ghost.record_leader(term, id)
            })
        }
        "become-follower" => {
            let term = field(ev, "term")?;
            touched.role = true;
            let leader = ev.get("leader").and_then(Value::as_u64);
            // A follower names the leader it heard from in `term`: the one
            // that became leader of that term (its become-leader event is
            // emitted before any of its messages leave).
            match (leader, cluster.ghost.leaders.get(&term)) {
                (Some(l), Some(&actual)) if l != actual => Err(Violation::new(
                    Rule::ElectionSafety,
                    Some(id),
                    format!("n{id} follows n{l} in term {term}, which n{actual} leads"),
                )),
                _ => adopt_term(s, id, term, "becoming follower").map(|()| s.role = Role::Follower),
            }
        }
        "vote-granted" => {
            let term = field(ev, "term")?;
            let candidate = field(ev, "candidate")?;
            adopt_term(s, id, term, "a vote").and_then(|()| match s.vote {
                Some(v) if v != candidate => Err(Violation::new(
                    Rule::OneVotePerTerm,
                    Some(id),
                    format!("n{id} votes for n{candidate} in term {term}, having voted for n{v}"),
                )),
                _ => {
                    s.vote = Some(candidate);
                    Ok(())
                }
            })
        }
        "pre-vote-granted" => {
            // No durable effect; the pre-vote is for a term above the voter's.
            let term = field(ev, "term")?;
            field(ev, "candidate")?;
            if term <= s.term {
                Err(Violation::new(
                    Rule::TermMonotonic,
                    Some(id),
                    format!(
                        "n{id} grants a pre-vote for term {term}, not above its term {}",
                        s.term
                    ),
                ))
            } else {
                Ok(())
            }
        }
        "append" => {
            let term = field(ev, "term")?;
            let from = field(ev, "from")?;
            let to = field(ev, "to")?;
            let terms = ev
                .get("terms")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("field \"terms\" missing or not a list in {ev}"))?
                .iter()
                .map(|t| {
                    t.as_u64()
                        .ok_or_else(|| format!("non-integer term in {ev}"))
                })
                .collect::<Result<Vec<Term>, String>>()?;
            if from == 0 || to + 1 < from || terms.len() as u64 != to + 1 - from {
                return Err(format!(
                    "append from {from} to {to} with {} terms",
                    terms.len()
                ));
            }
            touched.log = true;
            adopt_term(s, id, term, "an append").and_then(|()| append(s, id, from, &terms))
        }
        "truncate" => {
            let term = field(ev, "term")?;
            let from = field(ev, "from")?;
            touched.log = true;
            adopt_term(s, id, term, "a truncation")
                .and_then(|()| check_truncate(id, s, from))
                .map(|()| truncate(s, from))
        }
        "commit" => {
            let term = field(ev, "term")?;
            let index = log_index(ev)?;
            let entry_term = field(ev, "entry_term")?;
            touched.commit = true;
            adopt_term(s, id, term, "a commit")
                .and_then(|()| commit(cluster, id, term, index, entry_term))
        }
        "apply" => {
            let index = log_index(ev)?;
            let entry_term = field(ev, "entry_term")?;
            touched.commit = true;
            apply_entry(cluster, id, index, entry_term)
        }
        "compact" => {
            let index = log_index(ev)?;
            let entry_term = field(ev, "entry_term")?;
            touched.log = true;
            compact(s, id, index, entry_term)
        }
        "install-snapshot" => {
            let term = field(ev, "term")?;
            let index = log_index(ev)?;
            let entry_term = field(ev, "entry_term")?;
            touched.log = true;
            touched.commit = true;
            adopt_term(s, id, term, "a snapshot install").and_then(|()| {
                install(s, index, entry_term);
                let entry = LogEntry::new(entry_term, Payload::Unknown);
                cluster.ghost.record_commit(index, &entry, term)
            })
        }
        "membership" => {
            let index = log_index(ev)?;
            let voters = ids(ev, "voters")?;
            // A leader's configuration in force changes only when it appends one.
            let proposed = s.role == Role::Leader
                && index == s.last_index()
                && index > s.commit
                && s.term_at(index) == Some(s.term);
            let verdict = if proposed {
                check_membership_change(s, id, index)
            } else {
                Ok(())
            };
            if index == s.snapshot.index {
                s.snapshot.voters = voters;
            } else if let Some(e) = s.entry_mut(index) {
                touched.log = true;
                e.payload = Payload::Config(voters);
            }
            verdict
        }
        "transfer-leader" | "read-index" => {
            let term = field(ev, "term")?;
            if s.role != Role::Leader || term != s.term {
                Err(inconsistent(
                    id,
                    format!(
                        "n{id} acts as leader of term {term} ({name}) while {:?} in term {}",
                        s.role, s.term
                    ),
                ))
            } else {
                Ok(())
            }
        }
        // A server refused a peer's message as malformed or impossible. Every
        // peer of a simulated cluster runs the engine, so the sender broke a
        // protocol rule (or the receiver's view of its own state is wrong).
        "refused-message" => {
            let text = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
            let from = field(ev, "from")?;
            Err(inconsistent(
                id,
                format!(
                    "n{id} refused {} from n{from}: {}",
                    text("message"),
                    text("why")
                ),
            ))
        }
        // Unknown events are left for newer checkers.
        _ => Ok(()),
    };
    Ok(result.map(|()| touched))
}

fn append(s: &mut ServerState, id: NodeId, from: Index, terms: &[Term]) -> Result<(), Violation> {
    if from > s.last_index() + 1 {
        return Err(inconsistent(
            id,
            format!(
                "n{id} appends from index {from}, but its log ends at {}",
                s.last_index()
            ),
        ));
    }
    for (k, &t) in terms.iter().enumerate() {
        let index = from + k as Index;
        if index <= s.snapshot.index {
            continue;
        }
        match s.term_at(index) {
            Some(old) if old == t => {}
            Some(_) => {
                // Overwriting without a truncate event is a truncation all the same.
                check_truncate(id, s, index)?;
                truncate(s, index);
                s.log.push(LogEntry::new(t, Payload::Unknown));
            }
            None => s.log.push(LogEntry::new(t, Payload::Unknown)),
        }
    }
    Ok(())
}

fn truncate(s: &mut ServerState, from: Index) {
    if from > s.snapshot.index {
        s.log.truncate((from - s.snapshot.index - 1) as usize);
    }
}

fn commit(
    cluster: &mut ClusterState,
    id: NodeId,
    term: Term,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    let s = &cluster.servers[&id];
    if index < s.commit {
        return Err(Violation::new(
            Rule::CommitMonotonic,
            Some(id),
            format!(
                "n{id}'s commit index goes from {} back to {index}",
                s.commit
            ),
        ));
    }
    match s.term_at(index) {
        Some(t) if t != entry_term => {
            return Err(inconsistent(
                id,
                format!(
                    "n{id} commits index {index} as term {entry_term}, but holds term {t} there"
                ),
            ))
        }
        None if index > s.last_index() => {
            return Err(inconsistent(
                id,
                format!(
                    "n{id} commits index {index}, beyond its last index {}",
                    s.last_index()
                ),
            ))
        }
        _ => {}
    }
    if s.role == Role::Leader && term == s.term && entry_term != term {
        return Err(Violation::new(
            Rule::CommitOldTerm,
            Some(id),
            format!(
                "n{id}, leader of term {term}, commits index {index} of term {entry_term} (§5.4.2)"
            ),
        ));
    }
    let newly: Vec<(Index, LogEntry)> = (s.commit + 1..=index)
        .filter_map(|i| s.entry(i).map(|e| (i, e.clone())))
        .collect();
    for (i, e) in newly {
        cluster.ghost.record_commit(i, &e, term)?;
    }
    if index == s.snapshot.index || s.entry(index).is_none() {
        cluster
            .ghost
            .record_commit(index, &LogEntry::new(entry_term, Payload::Unknown), term)?;
    }
    cluster.servers.get_mut(&id).unwrap().commit = index;
    Ok(())
}

fn apply_entry(
    cluster: &mut ClusterState,
    id: NodeId,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    let s = &cluster.servers[&id];
    let fail = |message: String| Err(Violation::new(Rule::AppliedCommitted, Some(id), message));
    if index <= s.applied {
        return fail(format!(
            "n{id} applies index {index}, having applied up to {}",
            s.applied
        ));
    }
    if index > s.commit {
        return fail(format!(
            "n{id} applies index {index} above its commit index {}",
            s.commit
        ));
    }
    let entry = match s.entry(index) {
        Some(e) if e.term != entry_term => {
            return fail(format!(
                "n{id} applies index {index} as term {entry_term}, but holds term {} there",
                e.term
            ))
        }
        Some(e) => e.clone(),
        None => LogEntry::new(entry_term, Payload::Unknown),
    };
    if let Some(c) = cluster.ghost.committed.get(&index) {
        if !c.entry.same_as(&entry) {
            return fail(format!(
                "n{id} applies {entry:?} at index {index}, where {:?} was committed",
                c.entry
            ));
        }
    }
    cluster.ghost.record_apply(id, index, &entry)?;
    cluster.servers.get_mut(&id).unwrap().applied = index;
    Ok(())
}

fn compact(
    s: &mut ServerState,
    id: NodeId,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    if index > s.commit {
        return Err(Violation::new(
            Rule::CompactUncommitted,
            Some(id),
            format!(
                "n{id} compacts up to index {index}, above its commit index {}",
                s.commit
            ),
        ));
    }
    if index <= s.snapshot.index {
        return Ok(());
    }
    match s.term_at(index) {
        Some(t) if t != entry_term => Err(inconsistent(
            id,
            format!(
                "n{id} compacts up to index {index} as term {entry_term}, but holds term {t} there"
            ),
        )),
        _ => {
            let voters = s.voters_at(index).to_vec();
            let drop = ((index - s.snapshot.index) as usize).min(s.log.len());
            s.log.drain(..drop);
            s.snapshot = Snapshot {
                index,
                term: entry_term,
                voters,
            };
            Ok(())
        }
    }
}

fn install(s: &mut ServerState, index: Index, entry_term: Term) {
    if index <= s.snapshot.index {
        return;
    }
    // The engine replaces its whole log by an installed snapshot (it asks
    // for one only when it does not hold the entry at its index).
    let voters = s.voters_at(index).to_vec();
    s.log.clear();
    s.snapshot = Snapshot {
        index,
        term: entry_term,
        voters,
    };
    s.commit = s.commit.max(index);
    s.applied = s.applied.max(index);
}

/// Checks a whole trace in order; the summary if every event conforms.
pub fn check_trace<I>(records: I) -> Result<Summary, ConformanceError>
where
    I: IntoIterator,
    I::Item: Into<TraceRecord>,
{
    let mut checker = Conformance::new();
    for r in records {
        checker.observe(&r.into())?;
    }
    Ok(checker.summary())
}
