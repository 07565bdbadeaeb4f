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
//! trace line (node name, shard, the typed [`TraceEvent`], time, history
//! index). The engine's `start` and `stop` events (or a call to
//! [`Conformance::restart`]) tell the checker a node lost its volatile
//! state, after which its commit index may start again from its snapshot.
//!
//! The module is in three parts: `replay` rebuilds the abstract cluster
//! state from each event (one exhaustive match over [`TraceEvent`], so a new
//! event does not compile until it is handled), `rules` holds the checks of
//! a server's step and the invariants checked after every event, and
//! `describe` the human text of a failure.
//!
//! ```
//! use tumult_models::conformance::check_trace;
//! use tumult_trace::TraceEvent;
//!
//! let trace = vec![
//!     ("n1".to_string(), 0, TraceEvent::BecomeLeader { term: 1 }, 10, 0),
//!     ("n2".to_string(), 0, TraceEvent::BecomeLeader { term: 1 }, 20, 1),
//! ];
//! let err = check_trace(trace).unwrap_err();
//! assert!(err.to_string().contains("election-safety"));
//! ```

mod describe;
mod replay;
mod rules;

use crate::invariants::{ClusterState, Index, NodeId, Role, Rule, ServerState, Term, Violation};
use describe::{brief, Before};
use std::collections::BTreeMap;
pub use tumult_trace::TraceEvent;

/// One trace line of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// The node that emitted it (`n1`, `n2`, ...).
    pub node: String,
    /// The shard (Raft group).
    pub shard: u64,
    /// The event.
    pub event: TraceEvent,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// Position in the history.
    pub index: u64,
}

impl From<(String, u64, TraceEvent, u64, u64)> for TraceRecord {
    fn from((node, shard, event, time, index): (String, u64, TraceEvent, u64, u64)) -> Self {
        TraceRecord {
            node,
            shard,
            event,
            time,
            index,
        }
    }
}

impl From<&crate::history::TraceEvent> for TraceRecord {
    /// A history's trace line (a node-wide event counts as shard 0's).
    fn from(t: &crate::history::TraceEvent) -> Self {
        TraceRecord {
            node: t.node.clone(),
            shard: t.shard.unwrap_or(0),
            event: t.event.clone(),
            time: t.time,
            index: t.index,
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
    pub event: TraceEvent,
    /// The rule broken.
    pub rule: Rule,
    /// What was seen.
    pub message: String,
    /// The relevant state: every server of the shard, as rebuilt before the event.
    pub state: String,
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

/// Two checkers are equal when they judge every later event alike: the
/// count of events seen so far is a statistic and takes no part (a model
/// checker that carries a checker in its state relies on it).
impl PartialEq for Conformance {
    fn eq(&self, other: &Self) -> bool {
        self.shards == other.shards
            && self.names == other.names
            && self.truncated == other.truncated
    }
}

impl Eq for Conformance {}

impl std::hash::Hash for Conformance {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.shards.hash(state);
        self.names.hash(state);
        self.truncated.hash(state);
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
        match record.event {
            TraceEvent::Start {
                term,
                vote,
                last_index,
                last_term,
                ref terms,
                ..
            } => {
                let id = self.node_id(&record.node);
                self.truncated.remove(&(record.shard, id));
                // An older history's start event names neither the log nor the vote.
                let recovered = last_index.zip(last_term);
                if let (Some(cluster), Some((last_index, last_term))) =
                    (self.shards.get_mut(&record.shard), recovered)
                {
                    if cluster.servers.contains_key(&id) {
                        let before = brief(cluster);
                        let s = cluster.servers.get_mut(&id).expect("checked");
                        replay::recover(s, id, term, vote, (last_index, last_term), terms)
                            .map_err(|v| violation(v, before))?;
                    }
                }
                self.restart(&record.node);
                return Ok(());
            }
            TraceEvent::Stop { .. } => {
                self.restart(&record.node);
                return Ok(());
            }
            _ => {}
        }
        let id = self.node_id(&record.node);
        let cluster = self.shards.entry(record.shard).or_default();
        cluster
            .servers
            .entry(id)
            .or_insert_with(|| ServerState::new(&[]));
        let before = brief(cluster);
        let prev = replay::header(&cluster.servers[&id]);
        // §5.3: what a truncation removed must not come back unchanged.
        let removed = self.truncated.remove(&(record.shard, id));
        if let TraceEvent::Truncate { from, .. } = record.event {
            if let Some(t) = cluster.servers[&id].term_at(from) {
                self.truncated.insert((record.shard, id), (from, t));
            }
        }
        if let (Some((from, old)), TraceEvent::Append { from: f, terms, .. }) =
            (removed, &record.event)
        {
            if *f == from && terms.first() == Some(&old) {
                return Err(violation(rules::stale_truncation(id, from, old), before));
            }
        }
        let outcome = replay::apply(cluster, id, &record.event)
            .map_err(malformed)?
            .and_then(|touched| rules::after_event(cluster, id, &prev, &touched));
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

/// The state a violation report shows: a trace replayed up to the event at
/// history index `index`.
#[derive(Clone, Debug, Default)]
pub struct ReplayedTo {
    /// The event's shard as rebuilt just before the event (`None` when no
    /// record has that index).
    pub before: Option<ClusterState>,
    /// What observing the event (or an earlier one) found wrong, if anything.
    pub error: Option<ConformanceError>,
}

/// Replays `records` in order up to and including the one at history index
/// `index`, as [`check_trace`] does, keeping the shard's state before it: a
/// report shows a violation from this instead of parsing its text.
pub fn replay_to<I>(records: I, index: u64) -> ReplayedTo
where
    I: IntoIterator,
    I::Item: Into<TraceRecord>,
{
    let mut checker = Conformance::new();
    for r in records {
        let r: TraceRecord = r.into();
        if r.index == index {
            let before = Some(checker.shard(r.shard).cloned().unwrap_or_default());
            return ReplayedTo {
                before,
                error: checker.observe(&r).err(),
            };
        }
        if let Err(e) = checker.observe(&r) {
            return ReplayedTo {
                before: None,
                error: Some(e),
            };
        }
    }
    ReplayedTo::default()
}
