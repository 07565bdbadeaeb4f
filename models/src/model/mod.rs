//! A stateright model of one Raft group, checked exhaustively for small clusters.
//!
//! The model follows the rules the engine implements (Raft dissertation):
//! randomized timeouts become a nondeterministic [`Action::Timeout`]; pre-vote
//! (a pre-candidate asks for `term + 1` without changing its term, voters
//! refuse while they hear from a leader); RequestVote with the §5.4.1
//! up-to-date check and one durable vote per term; leadership transfer
//! (TimeoutNow makes the target campaign at once, without pre-vote); a no-op
//! appended by every new leader; AppendEntries with the consistency check,
//! truncation of only the conflicting suffix and follower commit
//! `min(leaderCommit, last index received)`; the §5.4.2 commit rule; log
//! compaction up to the commit index; InstallSnapshot; crash and restart
//! (term, vote, log and snapshot survive, commit falls back to the snapshot);
//! single-server membership changes (effective when appended, reverted when
//! truncated, one uncommitted at a time, proposed only after the leader
//! committed an entry of its term, a removed leader steps down once the
//! change commits).
//!
//! Pre-vote is modelled as one step per grant ([`Action::PreVote`]): the
//! voter's conditions are evaluated when the grant counts; the election
//! itself is a step of its own ([`Action::Campaign`]). A reply that refuses
//! still carries its sender's term ([`Action::LearnTerm`]), and a leader may
//! step down in its term ([`Action::StepDown`], check-quorum). These three
//! were found missing by the refinement test against the production core
//! (models/tests/refinement.rs), which reaches such states.
//!
//! The network is a set of messages that are never removed once sent:
//! delivering a message again is duplication, never delivering it is loss,
//! delivering in any order is reordering. Messages that can no longer change
//! anything (older than their receiver's term) are dropped to keep the state
//! space small. Only successful replies are modelled: a refusal carries
//! nothing a lost message would not. Leaders keep no `nextIndex`; they send
//! any suffix of their log they like (again nondeterministic).
//!
//! Safety properties are the functions of [`crate::invariants`], evaluated on
//! every reachable state; the step invariants are evaluated on every
//! transition and remembered in [`RaftState::broken`]. [`Bug`] variants break
//! one rule each, so the tests can show the checker catches them.
//!
//! Symmetry: servers are interchangeable, so every successor state is
//! replaced by a canonical representative of its class under renaming of the
//! servers ([`RaftModel::canonicalize`]). This works with stateright's BFS
//! (which has no symmetry support of its own in 0.31) and keeps counterexamples
//! shortest; [`RaftModel::replay`] renames them back so a printed
//! counterexample keeps consistent server names.
//!
//! ```
//! use stateright::{Checker, Model};
//! use tumult_models::model::{ModelConfig, RaftModel};
//!
//! let config = ModelConfig { servers: 2, voters: 2, max_term: 1, max_log: 1, ..ModelConfig::default() };
//! let checker = RaftModel::new(config).checker().spawn_bfs().join();
//! assert!(checker.discovery("election safety").is_none());
//! ```

mod display;
mod run;
mod step;
mod symmetry;

use crate::invariants::{
    election_safety, leader_completeness, log_matching, state_machine_safety, ClusterState, Index,
    LogEntry, NodeId, Payload, Rule, Snapshot, Term, Violation,
};
use stateright::{Model, Property};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use display::Step;
pub use run::{
    check, CheckReport, Counterexample, Explain, Halt, Limits, Progress, Replay, Search,
};
pub use symmetry::{Rename, Renaming};

/// A deliberately broken rule, to show the checker finds what it must.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// A leader commits an entry of an older term by counting replicas (breaks §5.4.2).
    CommitOldTerm,
    /// A server grants a second vote in a term it already voted in.
    DoubleVote,
    /// A leader proposes a membership change before it committed an entry of its term.
    EarlyMembershipChange,
}

impl Bug {
    /// Every variant.
    pub const ALL: [Bug; 3] = [
        Bug::CommitOldTerm,
        Bug::DoubleVote,
        Bug::EarlyMembershipChange,
    ];

    /// The name used on the command line (`--bug NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Bug::CommitOldTerm => "commit-old-term",
            Bug::DoubleVote => "double-vote",
            Bug::EarlyMembershipChange => "early-membership-change",
        }
    }

    /// The variant called `name`.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The smallest configuration known to expose the bug quickly.
    pub fn demo_config(self) -> ModelConfig {
        let quiet = ModelConfig {
            client_requests: false,
            pre_vote: false,
            crashes: false,
            compaction: false,
            transfer: false,
            membership: false,
            bug: Some(self),
            ..ModelConfig::default()
        };
        match self {
            // Figure 8 of the paper: four terms are needed; the no-ops of
            // terms 1 and 2 are the entries that compete for index 1.
            Bug::CommitOldTerm => ModelConfig {
                max_term: 4,
                max_log: 1,
                ..quiet
            },
            Bug::DoubleVote => ModelConfig {
                max_term: 1,
                max_log: 1,
                ..quiet
            },
            // Ongaro's single-server change bug: two removals from an even
            // configuration have disjoint quorums. Without no-ops the
            // configuration entries are the first entries of their terms.
            Bug::EarlyMembershipChange => ModelConfig {
                servers: 4,
                voters: 4,
                max_term: 3,
                max_log: 1,
                noop: false,
                membership: true,
                ..quiet
            },
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the model explores: cluster size, bounds, which features are on, which bug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// Servers in the model, `n1..=nN` (1..=6).
    pub servers: usize,
    /// The initial voters are `n1..=nV`; the rest are spares that can be added.
    pub voters: usize,
    /// No server's term exceeds this.
    pub max_term: Term,
    /// No log grows beyond this index.
    pub max_log: Index,
    /// A new leader appends a no-op (§8).
    pub noop: bool,
    /// Leaders append client commands (besides their no-ops and configurations).
    pub client_requests: bool,
    /// Elections start with a pre-vote round.
    pub pre_vote: bool,
    /// Servers crash and restart.
    pub crashes: bool,
    /// Servers compact their committed log prefix; leaders send snapshots.
    pub compaction: bool,
    /// Leaders propose single-server membership changes.
    pub membership: bool,
    /// Leaders hand over leadership with TimeoutNow.
    pub transfer: bool,
    /// A deliberately broken rule.
    pub bug: Option<Bug>,
}

impl Default for ModelConfig {
    /// Three voters, terms up to 2, logs up to 2 entries, every feature on.
    fn default() -> Self {
        ModelConfig {
            servers: 3,
            voters: 3,
            max_term: 2,
            max_log: 2,
            noop: true,
            client_requests: true,
            pre_vote: true,
            crashes: true,
            compaction: true,
            membership: true,
            transfer: true,
            bug: None,
        }
    }
}

impl ModelConfig {
    /// Checks the bounds; the message says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=6).contains(&self.servers) {
            return Err(format!("servers must be 1..=6, not {}", self.servers));
        }
        if self.voters == 0 || self.voters > self.servers {
            return Err(format!(
                "voters must be 1..={} (the number of servers), not {}",
                self.servers, self.voters
            ));
        }
        if !(1..=8).contains(&self.max_term) {
            return Err(format!("max-term must be 1..=8, not {}", self.max_term));
        }
        if !(1..=8).contains(&self.max_log) {
            return Err(format!("max-log must be 1..=8, not {}", self.max_log));
        }
        Ok(())
    }
}

/// What one message says.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Body {
    /// Vote for me in `term`; my log ends at (`last_index`, `last_term`).
    Vote {
        term: Term,
        last_index: Index,
        last_term: Term,
    },
    /// I voted for you in `term`.
    VoteGranted { term: Term },
    /// My log matches yours up to `match_index` (the reply to AppendEntries and InstallSnapshot).
    AppendOk { term: Term, match_index: Index },
    /// Campaign now, in `term + 1`, without pre-vote.
    TimeoutNow { term: Term },
}

impl Body {
    /// The term the message carries.
    pub fn term(&self) -> Term {
        match *self {
            Body::Vote { term, .. }
            | Body::VoteGranted { term }
            | Body::AppendOk { term, .. }
            | Body::TimeoutNow { term } => term,
        }
    }
}

/// A message in the network.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Message {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What it says.
    pub body: Body,
}

/// What a server keeps in memory only, beyond [`crate::invariants::ServerState`].
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Volatile {
    /// Heard from the leader of its term since its last timeout (refuses pre-votes).
    pub lease: bool,
    /// Pre-votes or votes received in the current round, itself included.
    pub granted: BTreeSet<NodeId>,
    /// Leader only: the highest index known replicated on each peer.
    pub matched: BTreeMap<NodeId, Index>,
}

/// Everything a leader held during its term, from which any AppendEntries or
/// InstallSnapshot it could have sent can be rebuilt.
///
/// In a term a leader's log only grows and its commit and snapshot indexes
/// only rise, so every message it sent earlier is a message it could build
/// from this record: a suffix starting at or after `base` and a commit index
/// no higher than `commit`. Delivering such a message at any time, any
/// number of times, models delay, reordering and duplication; never
/// delivering it models loss. The record replaces a set of messages that
/// would grow with every send.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaderLog {
    /// The leader's snapshot when it was elected (nothing before it can be sent).
    pub base: Snapshot,
    /// The leader's entries after `base.index`, compacted ones included.
    pub entries: Vec<LogEntry>,
    /// The highest commit index the leader reached in the term.
    pub commit: Index,
    /// The highest snapshot index the leader reached in the term.
    pub snapshot: Index,
}

impl LeaderLog {
    /// The last index the leader held.
    pub fn last_index(&self) -> Index {
        self.base.index + self.entries.len() as Index
    }

    /// The term at `index` (`base.index ..= last_index()`).
    pub fn term_at(&self, index: Index) -> Term {
        if index == self.base.index {
            self.base.term
        } else {
            self.entries[(index - self.base.index - 1) as usize].term
        }
    }

    /// The entries `from ..= to`.
    pub fn slice(&self, from: Index, to: Index) -> &[LogEntry] {
        let lo = (from - self.base.index - 1) as usize;
        let hi = (to - self.base.index) as usize;
        &self.entries[lo..hi.max(lo)]
    }

    /// The snapshot of the leader's log up to `index` (`base.index ..= last_index()`).
    pub fn snapshot_at(&self, index: Index) -> Snapshot {
        let upto = (index - self.base.index) as usize;
        let voters = self.entries[..upto]
            .iter()
            .rev()
            .find_map(|e| match &e.payload {
                Payload::Config(v) => Some(v.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.base.voters.clone());
        Snapshot {
            index,
            term: self.term_at(index),
            voters,
        }
    }
}

/// One state of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RaftState {
    /// The servers' durable and volatile protocol state, and the ghost history.
    pub cluster: ClusterState,
    /// What only the model needs of each server's volatile state.
    pub volatile: BTreeMap<NodeId, Volatile>,
    /// Every message sent and still able to matter (not AppendEntries nor
    /// InstallSnapshot: those are drawn from [`RaftState::sent`]).
    pub network: BTreeSet<Message>,
    /// What each leader, by (term, id), could have sent in AppendEntries and
    /// InstallSnapshot during its term.
    pub sent: BTreeMap<(Term, NodeId), LeaderLog>,
    /// The first step invariant a transition broke (sticky).
    pub broken: Option<Violation>,
}

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The server's election timer fires: it starts a pre-vote (or an election).
    Timeout(NodeId),
    /// A voter answers a pre-candidate's pre-vote request and the answer
    /// arrives: request, grant and its delivery in one step (pre-vote
    /// changes no durable state). The grant is counted, but the election
    /// waits for [`Action::Campaign`]: two servers may grant each other's
    /// pre-votes before either campaigns.
    PreVote { voter: NodeId, candidate: NodeId },
    /// A pre-candidate that holds pre-votes of a quorum campaigns.
    Campaign(NodeId),
    /// `node` learns the higher term of `from` from a reply (a refused vote
    /// or pre-vote, an Append answered by a server of a newer term): it
    /// becomes a follower of that term with no vote (§5.1). Replies that
    /// grant are modelled by their requests' steps; this is every other one.
    LearnTerm { node: NodeId, from: NodeId },
    /// A leader that has not heard from a quorum within an election timeout
    /// steps down in its term (check-quorum, dissertation §6.2).
    StepDown(NodeId),
    /// The message is delivered (again, possibly).
    Deliver(Message),
    /// The leader appends a client command.
    Propose(NodeId),
    /// The leader appends a configuration entry with this voter set.
    ChangeMembership(NodeId, Vec<NodeId>),
    /// A server receives AppendEntries from the leader of `term`: entries
    /// `prev + 1 ..= end` of that leader's log and the commit index `commit`.
    Append {
        leader: NodeId,
        term: Term,
        to: NodeId,
        prev: Index,
        end: Index,
        commit: Index,
    },
    /// A server receives InstallSnapshot from the leader of `term`: the
    /// leader's log up to `index`.
    InstallSnapshot {
        leader: NodeId,
        term: Term,
        to: NodeId,
        index: Index,
    },
    /// The leader hands leadership to an up-to-date peer.
    TransferLeader { leader: NodeId, to: NodeId },
    /// The server replaces its log up to its commit index with a snapshot.
    Compact(NodeId),
    /// The server crashes and restarts from its durable state.
    Restart(NodeId),
}

/// Property names, as reported by the checker.
pub mod properties {
    /// At most one leader per term.
    pub const ELECTION_SAFETY: &str = "election safety";
    /// Logs that agree on an entry agree on everything before it.
    pub const LOG_MATCHING: &str = "log matching";
    /// Committed entries are in every later leader's log.
    pub const LEADER_COMPLETENESS: &str = "leader completeness";
    /// No two servers apply different entries at one index.
    pub const STATE_MACHINE_SAFETY: &str = "state machine safety";
    /// Terms and commit indexes never go backwards.
    pub const MONOTONIC: &str = "term and commit never decrease";
    /// One vote per term.
    pub const ONE_VOTE: &str = "one vote per term";
    /// No truncation at or below the commit index.
    pub const NO_COMMITTED_TRUNCATION: &str = "no truncation of committed entries";
    /// Some client command gets committed.
    pub const VALUE_COMMITTED: &str = "a value is committed";
    /// Some membership change gets committed.
    pub const MEMBERSHIP_COMMITTED: &str = "a membership change completes";
}

/// The stateright model of one Raft group.
#[derive(Clone, Debug)]
pub struct RaftModel {
    /// Size, bounds, features and bug.
    pub config: ModelConfig,
    /// Replace every state by its canonical representative under server renaming.
    pub symmetry: bool,
    /// Stops the search early (see [`check`]).
    pub halt: Halt,
}

impl RaftModel {
    /// A model of `config`, with symmetry reduction on.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid ([`ModelConfig::validate`]).
    pub fn new(config: ModelConfig) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid model configuration: {e}");
        }
        RaftModel {
            config,
            symmetry: true,
            halt: Halt::default(),
        }
    }

    /// The server ids, `1..=servers`.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        1..=self.config.servers as NodeId
    }

    /// The initial state, before canonicalization: every server a follower in
    /// term 0 with an empty log and the initial voters.
    pub fn initial_state(&self) -> RaftState {
        let voters: Vec<NodeId> = (1..=self.config.voters as NodeId).collect();
        RaftState {
            cluster: ClusterState::new(self.ids(), &voters),
            volatile: self.ids().map(|id| (id, Volatile::default())).collect(),
            network: BTreeSet::new(),
            sent: BTreeMap::new(),
            broken: None,
        }
    }
}

fn broke(state: &RaftState, rules: &[Rule]) -> bool {
    state
        .broken
        .as_ref()
        .is_some_and(|v| rules.contains(&v.rule))
}

impl Model for RaftModel {
    type State = RaftState;
    type Action = Action;

    fn init_states(&self) -> Vec<RaftState> {
        let init = self.initial_state();
        if self.symmetry {
            vec![self.canonicalize(&init).0]
        } else {
            vec![init]
        }
    }

    fn actions(&self, state: &RaftState, actions: &mut Vec<Action>) {
        if self.halt.is_set() {
            return;
        }
        self.enabled_actions(state, actions);
    }

    fn next_state(&self, last: &RaftState, action: Action) -> Option<RaftState> {
        let next = self.raw_step(last, &action)?;
        if self.symmetry {
            Some(self.canonicalize_owned(next))
        } else {
            Some(next)
        }
    }

    fn format_action(&self, action: &Action) -> String {
        action.to_string()
    }

    fn properties(&self) -> Vec<Property<Self>> {
        use properties::*;
        vec![
            Property::always(ELECTION_SAFETY, |_, s: &RaftState| {
                election_safety(&s.cluster).is_ok() && !broke(s, &[Rule::ElectionSafety])
            }),
            Property::always(LOG_MATCHING, |_, s: &RaftState| {
                log_matching(&s.cluster).is_ok()
            }),
            Property::always(LEADER_COMPLETENESS, |_, s: &RaftState| {
                leader_completeness(&s.cluster).is_ok()
            }),
            Property::always(STATE_MACHINE_SAFETY, |_, s: &RaftState| {
                state_machine_safety(&s.cluster).is_ok()
                    && !broke(s, &[Rule::StateMachineSafety, Rule::AppliedCommitted])
            }),
            Property::always(MONOTONIC, |_, s: &RaftState| {
                !broke(s, &[Rule::TermMonotonic, Rule::CommitMonotonic])
            }),
            Property::always(ONE_VOTE, |_, s: &RaftState| {
                !broke(s, &[Rule::OneVotePerTerm])
            }),
            Property::always(NO_COMMITTED_TRUNCATION, |_, s: &RaftState| {
                !broke(s, &[Rule::TruncateCommitted, Rule::Inconsistent])
            }),
            Property::sometimes(VALUE_COMMITTED, |_, s: &RaftState| {
                s.cluster
                    .ghost
                    .committed
                    .values()
                    .any(|c| matches!(c.entry.payload, Payload::Command(_)))
            }),
            Property::sometimes(MEMBERSHIP_COMMITTED, |_, s: &RaftState| {
                s.cluster
                    .ghost
                    .committed
                    .values()
                    .any(|c| matches!(c.entry.payload, Payload::Config(_)))
            }),
        ]
    }
}
