//! The protocol event vocabulary of tumult: what a server did, in the order
//! it did it, and the small id types the events name.
//!
//! A leaf crate (serde only), so that the engine, which emits the events,
//! and the models, which check them, share one typed form.
//!
//! Serialized with `"event": "<kebab-case name>"` and the fields inline, e.g.
//! `{"event":"become-leader","term":4}`. An event's own log position is
//! written `log_index` (SPEC.md section 3), so that inside a history line
//! `index` always means the line's position; `index` is still read.

use serde::{Deserialize, Serialize};

/// A server of the cluster. Nodes are numbered from 1 (`n1`, `n2`, ...).
pub type NodeId = u64;
/// A Raft group. Every shard is an independent consensus instance.
pub type ShardId = u64;
/// A Raft term.
pub type Term = u64;
/// A log index. Index 0 is the empty prefix; the first entry has index 1.
pub type Index = u64;

/// One protocol step of one server in one shard.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceEvent {
    /// The server adopted a higher term (and cleared its vote).
    TermChange { term: Term },
    /// The server started a pre-vote round for `term` (its term is unchanged).
    StartPreVote { term: Term },
    /// The server became a candidate in `term` and voted for itself.
    BecomeCandidate { term: Term },
    /// The server became leader of `term`.
    BecomeLeader { term: Term },
    /// The server became a follower in `term`, of `leader` if known.
    BecomeFollower {
        term: Term,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        leader: Option<NodeId>,
    },
    /// The server granted its vote in `term` to `candidate` (durable before the reply leaves).
    VoteGranted { term: Term, candidate: NodeId },
    /// The server granted a pre-vote for `term` to `candidate` (not durable, no term change).
    PreVoteGranted { term: Term, candidate: NodeId },
    /// Entries `from..=to` (with the given terms) were appended to the log.
    /// `terms[i]` is the term of entry `from + i`.
    Append {
        term: Term,
        from: Index,
        to: Index,
        terms: Vec<Term>,
    },
    /// Entries at and above `from` were removed from the log (conflicting suffix).
    Truncate { term: Term, from: Index },
    /// The commit index advanced to `index`; `entry_term` is the term of that entry.
    Commit {
        term: Term,
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
        entry_term: Term,
    },
    /// The entry at `index` of term `entry_term` was applied to the state machine.
    Apply {
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
        entry_term: Term,
        /// The client request (`[client, seq]`) whose command took effect
        /// here; absent for no-ops, configurations, commands without a
        /// request id, and a retry that was already applied.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        request: Option<[u64; 2]>,
    },
    /// The log up to `index` was replaced by a snapshot taken at (`index`, `entry_term`).
    Compact {
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
        entry_term: Term,
    },
    /// A snapshot up to (`index`, `entry_term`) received from the leader was installed.
    InstallSnapshot {
        term: Term,
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
        entry_term: Term,
    },
    /// The membership in force changed to `voters` (an entry at `index` carries it).
    Membership {
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
        voters: Vec<NodeId>,
    },
    /// A leader sent TimeoutNow to `to`, handing over leadership.
    TransferLeader { term: Term, to: NodeId },
    /// A read at commit index `index` was confirmed by a quorum in `term`.
    ReadIndex {
        term: Term,
        #[serde(rename = "log_index", alias = "index")]
        index: Index,
    },
    /// A message from `from` was refused and dropped: it was malformed or
    /// claimed something this server knows to be impossible (a second leader
    /// of its term, an acknowledgement past its log, a rewrite of a committed
    /// entry). Real peers running this engine never send one, so in the
    /// simulator it is an engine bug; in production, a broken or forged peer.
    RefusedMessage {
        from: NodeId,
        /// The message kind (`Append`, `AppendResp`, ...).
        message: String,
        why: String,
    },
    /// The node stopped itself (for example after a storage error).
    Stop { reason: String },
    /// The node (re)started this shard from its disk: volatile state (commit
    /// index, role) starts over; `term`, `vote`, `snapshot` and the last log
    /// entry (`last_index`, `last_term`; the snapshot's when the log is
    /// empty) are what it recovered. Every event before a crash was emitted
    /// only once what it reports was durable, so a checker can compare the
    /// two.
    Start {
        term: Term,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        vote: Option<NodeId>,
        snapshot: Index,
        /// Absent in histories written before it was reported.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        last_index: Option<Index>,
        /// Absent in histories written before it was reported.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        last_term: Option<Term>,
        /// The terms of the recovered log, as runs: `[first index, term]`
        /// of each run of entries of one term, from the log's first entry
        /// to `last_index`. A process killed between a write's sync and its
        /// trace line holds entries it never reported; with these a checker
        /// learns their terms. Absent in older histories and for an empty log.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        terms: Vec<(Index, Term)>,
    },
}

impl TraceEvent {
    /// The event's name as serialized (`"become-leader"`, `"append"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            TraceEvent::TermChange { .. } => "term-change",
            TraceEvent::StartPreVote { .. } => "start-pre-vote",
            TraceEvent::BecomeCandidate { .. } => "become-candidate",
            TraceEvent::BecomeLeader { .. } => "become-leader",
            TraceEvent::BecomeFollower { .. } => "become-follower",
            TraceEvent::VoteGranted { .. } => "vote-granted",
            TraceEvent::PreVoteGranted { .. } => "pre-vote-granted",
            TraceEvent::Append { .. } => "append",
            TraceEvent::Truncate { .. } => "truncate",
            TraceEvent::Commit { .. } => "commit",
            TraceEvent::Apply { .. } => "apply",
            TraceEvent::Compact { .. } => "compact",
            TraceEvent::InstallSnapshot { .. } => "install-snapshot",
            TraceEvent::Membership { .. } => "membership",
            TraceEvent::TransferLeader { .. } => "transfer-leader",
            TraceEvent::ReadIndex { .. } => "read-index",
            TraceEvent::RefusedMessage { .. } => "refused-message",
            TraceEvent::Stop { .. } => "stop",
            TraceEvent::Start { .. } => "start",
        }
    }

    /// The term the event names, if it has a `term` field.
    pub fn term(&self) -> Option<Term> {
        match self {
            TraceEvent::TermChange { term }
            | TraceEvent::StartPreVote { term }
            | TraceEvent::BecomeCandidate { term }
            | TraceEvent::BecomeLeader { term }
            | TraceEvent::BecomeFollower { term, .. }
            | TraceEvent::VoteGranted { term, .. }
            | TraceEvent::PreVoteGranted { term, .. }
            | TraceEvent::Append { term, .. }
            | TraceEvent::Truncate { term, .. }
            | TraceEvent::Commit { term, .. }
            | TraceEvent::InstallSnapshot { term, .. }
            | TraceEvent::TransferLeader { term, .. }
            | TraceEvent::ReadIndex { term, .. }
            | TraceEvent::Start { term, .. } => Some(*term),
            TraceEvent::Apply { .. }
            | TraceEvent::Compact { .. }
            | TraceEvent::Membership { .. }
            | TraceEvent::RefusedMessage { .. }
            | TraceEvent::Stop { .. } => None,
        }
    }
}

/// Where a node's trace events go, besides `tracing`.
pub trait TraceSink: Send + Sync + 'static {
    /// Called for every event, in the order the node produced them.
    fn emit(&self, node: NodeId, shard: ShardId, event: &TraceEvent);
}

/// A sink that drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl TraceSink for NoTrace {
    fn emit(&self, _node: NodeId, _shard: ShardId, _event: &TraceEvent) {}
}
