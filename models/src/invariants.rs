//! Raft's safety invariants as plain functions over an abstract cluster state.
//!
//! The same functions judge two worlds: the stateright model
//! ([`crate::model`]) evaluates them in every reachable state of a small
//! cluster, and the trace checker ([`crate::conformance`]) evaluates them after
//! every protocol event of a simulated run, over the state it rebuilt from the
//! engine's trace.
//!
//! The state is what the servers hold ([`ServerState`]: ballot, role, log,
//! snapshot, commit and applied indexes) plus a [`Ghost`]: facts about the
//! past that no server needs to remember but the invariants do (who led each
//! term, which entries were committed and applied, and in which term).
//!
//! State invariants: [`election_safety`], [`log_matching`],
//! [`leader_completeness`], [`state_machine_safety`] (all four at once:
//! [`check_state`]). Step invariants compare a state with its successor:
//! [`check_transition`] (term and commit never go backwards, one vote per
//! term), [`check_truncate`] (no truncation at or below the commit index).
//!
//! ```
//! use tumult_models::invariants::{check_state, ClusterState, Role};
//!
//! let mut cluster = ClusterState::new([1, 2, 3], &[1, 2, 3]);
//! cluster.servers.get_mut(&1).unwrap().role = Role::Leader;
//! cluster.servers.get_mut(&1).unwrap().term = 1;
//! assert!(check_state(&cluster).is_ok());
//! cluster.servers.get_mut(&2).unwrap().role = Role::Leader;
//! cluster.servers.get_mut(&2).unwrap().term = 1;
//! assert!(check_state(&cluster).is_err()); // two leaders in term 1
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// A server, numbered from 1 as the engine's `NodeId`.
pub type NodeId = u64;
/// A Raft term.
pub type Term = u64;
/// A log index; 0 is the empty prefix, the first entry has index 1.
pub type Index = u64;

/// What a server is doing in its current term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Follows a leader, or waits for one.
    #[default]
    Follower,
    /// Asks for pre-votes for `term + 1` without changing its term.
    PreCandidate,
    /// Campaigns in its term and voted for itself.
    Candidate,
    /// Leads its term.
    Leader,
}

/// What a log entry carries, as far as the observer knows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Payload {
    /// Not known (a trace names entries by index and term only).
    Unknown,
    /// The entry a new leader appends at the start of its term.
    Noop,
    /// An application command, by id.
    Command(u64),
    /// A configuration: the full new voter set, ascending.
    Config(Vec<NodeId>),
}

/// One log entry: the term of the leader that created it and its payload.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogEntry {
    /// The term in which a leader created the entry.
    pub term: Term,
    /// What it carries.
    pub payload: Payload,
}

impl LogEntry {
    /// An entry of `term` carrying `payload`.
    pub fn new(term: Term, payload: Payload) -> Self {
        LogEntry { term, payload }
    }

    /// Whether two entries can be the same entry: equal terms, and equal
    /// payloads unless one of them is [`Payload::Unknown`].
    pub fn same_as(&self, other: &LogEntry) -> bool {
        self.term == other.term
            && (self.payload == other.payload
                || self.payload == Payload::Unknown
                || other.payload == Payload::Unknown)
    }
}

/// The log prefix a server replaced by a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snapshot {
    /// The last index the snapshot covers (0: no snapshot).
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The voters in force at `index` (empty when unknown).
    pub voters: Vec<NodeId>,
}

/// One server's state, as far as safety is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerState {
    /// Current term (durable).
    pub term: Term,
    /// The candidate voted for in `term` (durable).
    pub vote: Option<NodeId>,
    /// Role in `term` (volatile).
    pub role: Role,
    /// The compacted prefix (durable).
    pub snapshot: Snapshot,
    /// Entries `snapshot.index + 1 ..= last_index()` (durable).
    pub log: Vec<LogEntry>,
    /// Highest index known committed (volatile; reset to `snapshot.index` on restart).
    pub commit: Index,
    /// Highest index applied to the state machine (volatile, like `commit`).
    pub applied: Index,
}

impl ServerState {
    /// A fresh server whose initial configuration is `voters`.
    pub fn new(voters: &[NodeId]) -> Self {
        ServerState {
            snapshot: Snapshot {
                voters: voters.to_vec(),
                ..Snapshot::default()
            },
            ..ServerState::default()
        }
    }

    /// Index of the last entry (the snapshot's index when the log is empty).
    pub fn last_index(&self) -> Index {
        self.snapshot.index + self.log.len() as Index
    }

    /// Term of the last entry (the snapshot's term when the log is empty).
    pub fn last_term(&self) -> Term {
        self.log.last().map_or(self.snapshot.term, |e| e.term)
    }

    /// The entry at `index`, if the log holds it (not compacted, not beyond the end).
    pub fn entry(&self, index: Index) -> Option<&LogEntry> {
        if index <= self.snapshot.index {
            return None;
        }
        self.log.get((index - self.snapshot.index - 1) as usize)
    }

    /// Mutable access to the entry at `index`, if the log holds it.
    pub fn entry_mut(&mut self, index: Index) -> Option<&mut LogEntry> {
        if index <= self.snapshot.index {
            return None;
        }
        self.log.get_mut((index - self.snapshot.index - 1) as usize)
    }

    /// The term at `index`: 0 at index 0, the snapshot's term at its index,
    /// the entry's term in the log, `None` if compacted away or beyond the end.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.index {
            Some(self.snapshot.term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    /// The voters in force at `index`: the last configuration entry at or
    /// below it, else the snapshot's.
    pub fn voters_at(&self, index: Index) -> &[NodeId] {
        let upto = index
            .min(self.last_index())
            .saturating_sub(self.snapshot.index) as usize;
        self.log[..upto]
            .iter()
            .rev()
            .find_map(|e| match &e.payload {
                Payload::Config(v) => Some(v.as_slice()),
                _ => None,
            })
            .unwrap_or(&self.snapshot.voters)
    }

    /// The voters in force now: a configuration takes effect when appended.
    pub fn voters(&self) -> &[NodeId] {
        self.voters_at(self.last_index())
    }

    /// Index of the last configuration entry in the log (the snapshot's index if none).
    pub fn config_index(&self) -> Index {
        self.log
            .iter()
            .rposition(|e| matches!(e.payload, Payload::Config(_)))
            .map_or(self.snapshot.index, |p| {
                self.snapshot.index + p as Index + 1
            })
    }

    /// §5.4.1: whether a log ending at (`last_index`, `last_term`) is at least
    /// as up to date as this server's.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }
}

/// An entry known to be committed, and the first term in which it was.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Committed {
    /// The committed entry.
    pub entry: LogEntry,
    /// The (earliest) term of a server that committed it.
    pub term: Term,
}

/// Facts about the past that the invariants need and no server keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ghost {
    /// Who became leader in each term.
    pub leaders: BTreeMap<Term, NodeId>,
    /// Every index known committed, with its entry.
    pub committed: BTreeMap<Index, Committed>,
    /// Every index applied by some server, with the entry first applied there.
    pub applied: BTreeMap<Index, LogEntry>,
}

impl Ghost {
    /// Records that `node` became leader of `term`; a second leader of the
    /// same term breaks election safety.
    pub fn record_leader(&mut self, term: Term, node: NodeId) -> Result<(), Violation> {
        match self.leaders.get(&term) {
            Some(&other) if other != node => Err(Violation::new(
                Rule::ElectionSafety,
                Some(node),
                format!("n{node} became leader of term {term}, which n{other} already leads"),
            )),
            _ => {
                self.leaders.insert(term, node);
                Ok(())
            }
        }
    }

    /// Records that `entry` at `index` was committed by a server in `term`;
    /// a different entry committed at the same index breaks state machine safety.
    pub fn record_commit(
        &mut self,
        index: Index,
        entry: &LogEntry,
        term: Term,
    ) -> Result<(), Violation> {
        match self.committed.get_mut(&index) {
            Some(c) => {
                if !c.entry.same_as(entry) {
                    return Err(Violation::new(
                        Rule::StateMachineSafety,
                        None,
                        format!(
                            "index {index} committed as {:?} in term {} and as {entry:?} in term {term}",
                            c.entry, c.term
                        ),
                    ));
                }
                if c.entry.payload == Payload::Unknown {
                    c.entry.payload = entry.payload.clone();
                }
                c.term = c.term.min(term);
            }
            None => {
                self.committed.insert(
                    index,
                    Committed {
                        entry: entry.clone(),
                        term,
                    },
                );
            }
        }
        Ok(())
    }

    /// Records that `node` applied `entry` at `index`; a different entry
    /// applied at the same index, by anyone, breaks state machine safety.
    pub fn record_apply(
        &mut self,
        node: NodeId,
        index: Index,
        entry: &LogEntry,
    ) -> Result<(), Violation> {
        match self.applied.get_mut(&index) {
            Some(first) => {
                if !first.same_as(entry) {
                    return Err(Violation::new(
                        Rule::StateMachineSafety,
                        Some(node),
                        format!(
                            "n{node} applied {entry:?} at index {index}, where {first:?} was applied before"
                        ),
                    ));
                }
                if first.payload == Payload::Unknown {
                    first.payload = entry.payload.clone();
                }
            }
            None => {
                self.applied.insert(index, entry.clone());
            }
        }
        Ok(())
    }
}

/// The whole cluster: every server's state and the ghost history.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterState {
    /// Every server by id.
    pub servers: BTreeMap<NodeId, ServerState>,
    /// What happened before.
    pub ghost: Ghost,
}

impl ClusterState {
    /// Fresh servers `ids`, every one starting with the configuration `voters`.
    pub fn new(ids: impl IntoIterator<Item = NodeId>, voters: &[NodeId]) -> Self {
        ClusterState {
            servers: ids
                .into_iter()
                .map(|id| (id, ServerState::new(voters)))
                .collect(),
            ghost: Ghost::default(),
        }
    }
}

/// The rule a violation broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// At most one leader per term (§5.2).
    ElectionSafety,
    /// Two logs with an entry of the same index and term agree up to it (§5.3).
    LogMatching,
    /// A committed entry is in the log of every leader of a later term (§5.4).
    LeaderCompleteness,
    /// No two servers apply (or commit) different entries at the same index (§5.4.3).
    StateMachineSafety,
    /// A server's term never decreases.
    TermMonotonic,
    /// A server's commit index never decreases, except when it restarts.
    CommitMonotonic,
    /// A server votes for at most one candidate per term.
    OneVotePerTerm,
    /// No truncation at or below the commit index.
    TruncateCommitted,
    /// §5.4.2: a leader commits by counting replicas only entries of its term.
    CommitOldTerm,
    /// Applied entries are committed, in order, and equal the committed ones.
    AppliedCommitted,
    /// Only committed entries are compacted into a snapshot.
    CompactUncommitted,
    /// A step names a state the server cannot be in (its own log or term disagree).
    Inconsistent,
    /// What a server reported before a crash (its ballot, the entries it
    /// appended) is what it recovers from its disk afterwards.
    Durability,
    /// §5.3: a follower removes only a conflicting suffix: the entry it
    /// truncates differs in term from the one that replaces it.
    TruncateMatching,
    /// Dissertation §4.1: a leader appends a membership change only after it
    /// committed an entry of its term, and only when no earlier change is
    /// uncommitted.
    MembershipChange,
    /// Dissertation §4.2.2: a server that is not a voter of its own
    /// configuration never starts an election.
    NonVoterCampaign,
    /// §6.4: a read the leader confirms at an index below an entry that was
    /// already committed when the read was asked misses a completed write.
    StaleRead,
    /// The consensus core's own assertion failed (a state it guarantees
    /// never to be in; a node stops there). Only the model of the core
    /// reports it, from the core's panic.
    CoreAssertion,
}

impl Rule {
    /// A short kebab-case name, stable for reports.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ElectionSafety => "election-safety",
            Rule::LogMatching => "log-matching",
            Rule::LeaderCompleteness => "leader-completeness",
            Rule::StateMachineSafety => "state-machine-safety",
            Rule::TermMonotonic => "term-monotonic",
            Rule::CommitMonotonic => "commit-monotonic",
            Rule::OneVotePerTerm => "one-vote-per-term",
            Rule::TruncateCommitted => "truncate-committed",
            Rule::CommitOldTerm => "commit-old-term",
            Rule::AppliedCommitted => "applied-committed",
            Rule::CompactUncommitted => "compact-uncommitted",
            Rule::Inconsistent => "inconsistent",
            Rule::Durability => "durability",
            Rule::TruncateMatching => "truncate-matching",
            Rule::MembershipChange => "membership-change",
            Rule::NonVoterCampaign => "non-voter-campaign",
            Rule::StaleRead => "stale-read",
            Rule::CoreAssertion => "core-assertion",
        }
    }
}

impl Rule {
    /// Where the rule comes from: the section of the Raft paper (Ongaro and
    /// Ousterhout, 2014) or of Ongaro's dissertation ("thesis") that states it.
    pub fn section(self) -> &'static str {
        match self {
            Rule::ElectionSafety => "§5.2, Figure 3",
            Rule::LogMatching => "§5.3, Figure 3",
            Rule::LeaderCompleteness => "§5.4, Figure 3",
            Rule::StateMachineSafety => "§5.4.3, Figure 3",
            Rule::TermMonotonic => "§5.1, Figure 2 (currentTerm)",
            Rule::CommitMonotonic => "Figure 2 (commitIndex)",
            Rule::OneVotePerTerm => "§5.2, Figure 2 (votedFor)",
            Rule::TruncateCommitted => "§5.4, Figure 2 (AppendEntries 3)",
            Rule::CommitOldTerm => "§5.4.2, Figure 8",
            Rule::AppliedCommitted => "§5.3, Figure 2 (lastApplied)",
            Rule::CompactUncommitted => "§7",
            Rule::Inconsistent => "Figure 2",
            Rule::Durability => "Figure 2 (persistent state)",
            Rule::TruncateMatching => "§5.3, Figure 2 (AppendEntries 3)",
            Rule::MembershipChange => "thesis §4.1",
            Rule::NonVoterCampaign => "thesis §4.2.2",
            Rule::StaleRead => "§8, thesis §6.4",
            Rule::CoreAssertion => "the core's own assertion",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken invariant: the rule, the server concerned if one is, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The server that broke it, when one did.
    pub node: Option<NodeId>,
    /// What was seen, in words.
    pub message: String,
}

impl Violation {
    /// A violation of `rule` by `node`.
    pub fn new(rule: Rule, node: Option<NodeId>, message: impl Into<String>) -> Self {
        Violation {
            rule,
            node,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

impl std::error::Error for Violation {}

/// Election safety: no two servers lead the same term, now or ever
/// (current leaders are compared with each other and with [`Ghost::leaders`]).
pub fn election_safety(state: &ClusterState) -> Result<(), Violation> {
    let mut seen: BTreeMap<Term, NodeId> = BTreeMap::new();
    for (&id, s) in &state.servers {
        if s.role != Role::Leader {
            continue;
        }
        let earlier = seen.insert(s.term, id).or_else(|| {
            state
                .ghost
                .leaders
                .get(&s.term)
                .copied()
                .filter(|&o| o != id)
        });
        if let Some(other) = earlier {
            return Err(Violation::new(
                Rule::ElectionSafety,
                Some(id),
                format!("n{other} and n{id} both lead term {}", s.term),
            ));
        }
    }
    Ok(())
}

/// Log matching: if two logs hold an entry with the same index and term
/// (a snapshot's last entry counts), they agree on every entry both hold up
/// to that index.
pub fn log_matching(state: &ClusterState) -> Result<(), Violation> {
    let ids: Vec<NodeId> = state.servers.keys().copied().collect();
    for (i, &a) in ids.iter().enumerate() {
        for &b in &ids[i + 1..] {
            log_matching_between(state, a, b)?;
        }
    }
    Ok(())
}

/// [`log_matching`] for the logs of servers `a` and `b` only.
pub fn log_matching_between(state: &ClusterState, a: NodeId, b: NodeId) -> Result<(), Violation> {
    let (Some(sa), Some(sb)) = (state.servers.get(&a), state.servers.get(&b)) else {
        return Ok(());
    };
    let top = sa.last_index().min(sb.last_index());
    let bottom = sa.snapshot.index.min(sb.snapshot.index).max(1);
    let mut anchored: Option<Index> = None;
    for index in (bottom..=top).rev() {
        let (Some(ta), Some(tb)) = (sa.term_at(index), sb.term_at(index)) else {
            continue;
        };
        match anchored {
            None if ta == tb => {
                anchored = Some(index);
                if let (Some(ea), Some(eb)) = (sa.entry(index), sb.entry(index)) {
                    if !ea.same_as(eb) {
                        return Err(Violation::new(
                            Rule::LogMatching,
                            None,
                            format!(
                                "n{a} and n{b} hold different entries at index {index} of term {ta}: {ea:?} and {eb:?}"
                            ),
                        ));
                    }
                }
            }
            None => {}
            Some(at) => {
                let same = match (sa.entry(index), sb.entry(index)) {
                    (Some(ea), Some(eb)) => ea.same_as(eb),
                    _ => ta == tb,
                };
                if !same {
                    return Err(Violation::new(
                        Rule::LogMatching,
                        None,
                        format!(
                            "n{a} and n{b} agree at index {at} (term {}) but differ at index {index} (terms {ta} and {tb})",
                            sa.term_at(at).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Leader completeness: every entry committed in term `t` is in the log (or
/// under the snapshot) of every server that leads a term later than `t`.
pub fn leader_completeness(state: &ClusterState) -> Result<(), Violation> {
    for &id in state.servers.keys() {
        leader_complete(state, id)?;
    }
    Ok(())
}

/// [`leader_completeness`] for server `id` only (nothing to check unless it leads).
pub fn leader_complete(state: &ClusterState, id: NodeId) -> Result<(), Violation> {
    let Some(s) = state.servers.get(&id) else {
        return Ok(());
    };
    if s.role != Role::Leader {
        return Ok(());
    }
    for (&index, c) in state.ghost.committed.range(1..) {
        if c.term >= s.term {
            continue;
        }
        let holds = if index < s.snapshot.index {
            true
        } else if index == s.snapshot.index {
            s.snapshot.term == c.entry.term
        } else {
            s.entry(index).is_some_and(|e| e.same_as(&c.entry))
        };
        if !holds {
            return Err(Violation::new(
                Rule::LeaderCompleteness,
                Some(id),
                format!(
                    "n{id} leads term {} without the entry {:?} at index {index} committed in term {}",
                    s.term, c.entry, c.term
                ),
            ));
        }
    }
    Ok(())
}

/// State machine safety: what every server applied (its log up to `applied`)
/// equals what was applied at the same index anywhere, and what was committed there.
pub fn state_machine_safety(state: &ClusterState) -> Result<(), Violation> {
    for &id in state.servers.keys() {
        applied_safely(state, id)?;
    }
    for (&index, applied) in &state.ghost.applied {
        if let Some(c) = state.ghost.committed.get(&index) {
            if !c.entry.same_as(applied) {
                return Err(Violation::new(
                    Rule::StateMachineSafety,
                    None,
                    format!(
                        "{applied:?} was applied at index {index}, where {:?} was committed",
                        c.entry
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// [`state_machine_safety`] for what server `id` applied (from its log) only.
pub fn applied_safely(state: &ClusterState, id: NodeId) -> Result<(), Violation> {
    let Some(s) = state.servers.get(&id) else {
        return Ok(());
    };
    for index in s.snapshot.index + 1..=s.applied.min(s.last_index()) {
        let Some(e) = s.entry(index) else { continue };
        let other = state
            .ghost
            .applied
            .get(&index)
            .or_else(|| state.ghost.committed.get(&index).map(|c| &c.entry));
        if let Some(other) = other {
            if !other.same_as(e) {
                return Err(Violation::new(
                    Rule::StateMachineSafety,
                    Some(id),
                    format!(
                        "n{id} applied {e:?} at index {index}, where {other:?} was applied or committed"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// All state invariants: election safety, log matching, leader completeness,
/// state machine safety; the first broken one.
pub fn check_state(state: &ClusterState) -> Result<(), Violation> {
    election_safety(state)?;
    log_matching(state)?;
    leader_completeness(state)?;
    state_machine_safety(state)
}

/// Step invariants between two successive states of a cluster: no server's
/// term decreases; within a term, its vote never changes once cast; its
/// commit and applied indexes never decrease, except for the servers in
/// `restarted` (their volatile state was reset to the snapshot).
pub fn check_transition(
    prev: &ClusterState,
    next: &ClusterState,
    restarted: &[NodeId],
) -> Result<(), Violation> {
    for (&id, p) in &prev.servers {
        if let Some(n) = next.servers.get(&id) {
            check_server_transition(id, p, n, restarted.contains(&id))?;
        }
    }
    Ok(())
}

/// [`check_transition`] for one server: `p` before, `n` after (only the
/// ballot, commit and applied indexes are read, so callers may pass copies
/// without the log).
pub fn check_server_transition(
    id: NodeId,
    p: &ServerState,
    n: &ServerState,
    restarted: bool,
) -> Result<(), Violation> {
    if n.term < p.term {
        return Err(Violation::new(
            Rule::TermMonotonic,
            Some(id),
            format!("n{id}'s term went from {} back to {}", p.term, n.term),
        ));
    }
    if n.term == p.term {
        if let (Some(a), Some(b)) = (p.vote, n.vote) {
            if a != b {
                return Err(Violation::new(
                    Rule::OneVotePerTerm,
                    Some(id),
                    format!("n{id} voted for n{a} and then for n{b} in term {}", n.term),
                ));
            }
        } else if p.vote.is_some() && n.vote.is_none() {
            return Err(Violation::new(
                Rule::OneVotePerTerm,
                Some(id),
                format!("n{id} forgot its vote in term {}", n.term),
            ));
        }
    }
    if !restarted {
        if n.commit < p.commit {
            return Err(Violation::new(
                Rule::CommitMonotonic,
                Some(id),
                format!(
                    "n{id}'s commit index went from {} back to {}",
                    p.commit, n.commit
                ),
            ));
        }
        if n.applied < p.applied {
            return Err(Violation::new(
                Rule::AppliedCommitted,
                Some(id),
                format!(
                    "n{id}'s applied index went from {} back to {}",
                    p.applied, n.applied
                ),
            ));
        }
    }
    Ok(())
}

/// Step rule: a server may remove its log suffix from `from` on only above
/// its commit index.
pub fn check_truncate(node: NodeId, server: &ServerState, from: Index) -> Result<(), Violation> {
    if from <= server.commit {
        return Err(Violation::new(
            Rule::TruncateCommitted,
            Some(node),
            format!(
                "n{node} truncated its log from index {from}, at or below its commit index {}",
                server.commit
            ),
        ));
    }
    Ok(())
}
