//! The production consensus core under stateright (`tumult model --impl`).
//!
//! [`crate::model`] checks a hand-written specification; this module checks
//! the engine's own [`Raft`], unchanged, driven only through its public API
//! exactly as the node layer drives it: `tick`, `step`, `propose`,
//! `read_index`, `transfer_leader`, `propose_membership`, `snapshot_taken`,
//! `snapshot_wanted` / `snapshot_installed`, and the `ready` / `advance`
//! cycle. A state holds every server's core (`None` while it is down), its
//! durable [`Disk`] (what the Readys made durable: ballot, snapshot,
//! entries), a snapshot fetch under way, and the network: a set of messages
//! that any action may deliver in any order, deliver and keep (duplication),
//! or never deliver (loss; `drops` also removes them, which only tells
//! states apart that behave alike).
//!
//! Each action feeds one input to one core and then handles its Readys the
//! way the node does: persist (hard state, truncation, compaction, entries,
//! in that order), send, apply, `advance`. A Ready is made durable before
//! any other action runs, so a crash loses exactly the volatile state: the
//! core is rebuilt from its disk with [`Raft::new`]. A snapshot fetch is an
//! action of its own ([`CoreAction::FetchDone`]) that may come after any
//! other, so the late install race (a fetch that completes after a newer
//! leader's Appends were acknowledged) is a reachable interleaving.
//!
//! What is checked, in every reachable state:
//! - the trace the cores emit, replayed by [`crate::conformance`] (the very
//!   rules and invariants a simulated run's trace is judged by), so every
//!   step the implementation takes is checked against the specification's
//!   step rules (refinement on the shared invariant state);
//! - the invariants of [`crate::invariants`] over the state rebuilt directly
//!   from the cores and their disks, independently of the trace;
//! - that each core's log and ballot are what its disk holds after every
//!   Ready (the persistence rule), and that a confirmed read-index read is at
//!   or above every entry that was committed when it was asked (§6.4).
//!
//! Bounds keep the space finite: terms, log length, and budgets of crashes,
//! reads, membership changes and transfers. Election timeouts are fixed at
//! two ticks and heartbeats at one (the interleaving of ticks across servers
//! is the nondeterminism), and a tick action runs a server's clock until it
//! has something to say. The network keeps at most `link_capacity`
//! messages of one kind per link and forgets messages the receiver would
//! ignore; both only lose messages, which Raft must survive anyway, so they
//! prune behaviours without adding any. Server ids are not reduced by symmetry: the core
//! keys its state and its seeded timer by its id, and renaming would mean
//! reaching into its private state.
//!
//! ```
//! use tumult_models::core_model::{CoreConfig, CoreModel};
//! use tumult_models::model::{check, Limits};
//! use std::time::Duration;
//!
//! let config = CoreConfig { servers: 2, voters: 2, max_term: 1, max_log: 1, ..CoreConfig::quiet() };
//! let report = check(&CoreModel::new(config), &Limits::new(1, Duration::from_secs(60)), &mut |_| {});
//! assert!(report.counterexample.is_none());
//! ```

mod display;

use crate::conformance::{Conformance, ConformanceError, TraceRecord};
use crate::invariants::{self, ClusterState, LogEntry, Rule, ServerState, Snapshot, Violation};
use crate::model::{Explain, Halt, Replay, Search, Step};
use stateright::{Model, Property};
use std::collections::BTreeMap;
use std::sync::Arc;
use tumult_engine::mutants::Mutant;
use tumult_engine::raft::{
    Config, Entry, HardState, Index, Membership, Message, NodeId, Payload, Raft, Ready, Recovered,
    Role, SnapshotMeta, Term,
};
use tumult_trace::TraceEvent;

/// The mutants that live in the core (the others are in storage or the
/// node layer, which this model does not run).
pub const CORE_MUTANTS: [Mutant; 12] = [
    Mutant::CommitOldTerm,
    Mutant::VoteIgnoresLog,
    Mutant::ReadWithoutQuorum,
    Mutant::FollowerCommitPastAppend,
    Mutant::StaleAppendTruncates,
    Mutant::ConflictKeepsSuffix,
    Mutant::LeaderIgnoresHigherTerm,
    Mutant::MembershipBeforeTermCommit,
    Mutant::TwoMembershipChanges,
    Mutant::RemovedNotFenced,
    Mutant::SnapshotKeepsSuffix,
    Mutant::LateSnapshotInstall,
];

/// The cores' election timeout range in ticks, `[min, max)`: one value, two
/// ticks (heartbeats every tick), so the timer draws nothing and only the
/// order of the servers' ticks is nondeterministic.
pub const ELECTION_TICKS: (u32, u32) = (2, 3);

/// Cluster size, bounds, budgets and settings of the core under the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreConfig {
    /// Servers `n1..=nN` (1..=5).
    pub servers: usize,
    /// The initial voters are `n1..=nV`; the rest are spares that can be added.
    pub voters: usize,
    /// No server's term exceeds this (states past it are not explored).
    pub max_term: Term,
    /// No log grows past this index.
    pub max_log: Index,
    /// Leaders append client commands (besides their no-ops and configurations).
    pub client_requests: bool,
    /// Crashes in one path.
    pub crashes: u8,
    /// Read-index reads in one path.
    pub reads: u8,
    /// Membership changes proposed in one path.
    pub changes: u8,
    /// Leadership transfers started in one path.
    pub transfers: u8,
    /// Servers compact their applied prefix; leaders send snapshots.
    pub compaction: bool,
    /// A message may be delivered and stay in the network.
    pub duplicates: bool,
    /// A message may be removed without being delivered.
    pub drops: bool,
    /// Messages of one kind kept in flight on one link; a newer one makes
    /// the oldest lost. Bounds the network (every subset of the messages
    /// ever sent would otherwise be a state) at the price of how far back
    /// a reordered or duplicated message can come from.
    pub link_capacity: usize,
    /// The cores' pre-vote setting (needs `check_quorum`).
    pub pre_vote: bool,
    /// The cores' check-quorum setting.
    pub check_quorum: bool,
    /// Most entries in one Append (the engine's `max_append_entries`; 1
    /// makes a leader send an older suffix entry by entry).
    pub max_append_entries: usize,
    /// The deliberate bug the cores run with (builds with the feature `mutants`).
    pub mutant: Option<Mutant>,
}

impl Default for CoreConfig {
    /// Three voters, terms up to 2, logs up to 2 entries, one crash, one
    /// read, one membership change, one transfer, compaction and
    /// duplication on, pre-vote and check-quorum on (the engine's defaults).
    fn default() -> Self {
        CoreConfig {
            servers: 3,
            voters: 3,
            max_term: 2,
            max_log: 2,
            client_requests: true,
            crashes: 1,
            reads: 1,
            changes: 1,
            transfers: 1,
            compaction: true,
            duplicates: true,
            drops: false,
            link_capacity: 2,
            pre_vote: true,
            check_quorum: true,
            max_append_entries: 64,
            mutant: None,
        }
    }
}

impl CoreConfig {
    /// Elections and replication only: no crashes, reads, changes,
    /// transfers, compaction or duplicates (the defaults' bounds).
    pub fn quiet() -> Self {
        CoreConfig {
            crashes: 0,
            reads: 0,
            changes: 0,
            transfers: 0,
            compaction: false,
            duplicates: false,
            ..CoreConfig::default()
        }
    }

    /// Checks the bounds; the message says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=5).contains(&self.servers) {
            return Err(format!("servers must be 1..=5, not {}", self.servers));
        }
        if self.voters == 0 || self.voters > self.servers {
            return Err(format!(
                "voters must be 1..={} (the number of servers), not {}",
                self.servers, self.voters
            ));
        }
        if !(1..=6).contains(&self.max_term) {
            return Err(format!("max-term must be 1..=6, not {}", self.max_term));
        }
        if !(1..=6).contains(&self.max_log) {
            return Err(format!("max-log must be 1..=6, not {}", self.max_log));
        }
        if self.max_append_entries == 0 {
            return Err("max-append-entries must be at least 1".to_string());
        }
        if !(1..=8).contains(&self.link_capacity) {
            return Err(format!(
                "link-capacity must be 1..=8, not {}",
                self.link_capacity
            ));
        }
        if self.pre_vote && !self.check_quorum {
            return Err(format!(
                "pre-vote needs check-quorum: {}",
                tumult_engine::raft::PRE_VOTE_NEEDS_CHECK_QUORUM
            ));
        }
        if let Some(m) = self.mutant {
            if !CORE_MUTANTS.contains(&m) {
                return Err(format!(
                    "bug {m} lives outside the consensus core (storage or the node layer); \
                     the core's mutants are {}",
                    CORE_MUTANTS.map(|m| m.name()).join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Bounds and a search measured to expose `mutant` (the README's
    /// table), or `None` for the one no bounds tried here exposed yet
    /// (follower-commit-past-append). Three servers, elections and
    /// replication only, unless the mutant needs more; random walks where
    /// the bounds are too large to exhaust.
    pub fn demo(mutant: Mutant) -> Option<(CoreConfig, Search)> {
        let quiet = CoreConfig {
            mutant: Some(mutant),
            ..CoreConfig::quiet()
        };
        let deep = CoreConfig {
            max_term: 3,
            max_log: 3,
            ..quiet.clone()
        };
        let walk = Search::Random(1);
        Some(match mutant {
            Mutant::VoteIgnoresLog | Mutant::ConflictKeepsSuffix => (deep, walk),
            Mutant::LeaderIgnoresHigherTerm | Mutant::StaleAppendTruncates => {
                (quiet, Search::BreadthFirst)
            }
            Mutant::MembershipBeforeTermCommit => (
                CoreConfig {
                    changes: 1,
                    ..quiet
                },
                Search::BreadthFirst,
            ),
            Mutant::RemovedNotFenced => (CoreConfig { changes: 1, ..deep }, walk),
            Mutant::TwoMembershipChanges => (CoreConfig { changes: 2, ..deep }, walk),
            Mutant::SnapshotKeepsSuffix | Mutant::LateSnapshotInstall => (
                CoreConfig {
                    compaction: true,
                    ..deep
                },
                walk,
            ),
            Mutant::ReadWithoutQuorum => (CoreConfig { reads: 3, ..deep }, walk),
            // A leader re-elected in term 2 sends its term-1 entry alone.
            Mutant::CommitOldTerm => (
                CoreConfig {
                    servers: 2,
                    voters: 2,
                    max_append_entries: 1,
                    ..quiet
                },
                Search::BreadthFirst,
            ),
            _ => return None,
        })
    }
}

/// What a server's disk holds: everything a Ready made durable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Disk {
    /// The ballot.
    pub hard_state: HardState,
    /// The latest snapshot's metadata, once the log was compacted.
    pub snapshot: Option<SnapshotMeta>,
    /// The entries after the snapshot.
    pub entries: Vec<Entry>,
}

impl Disk {
    /// Makes a Ready durable, in the order [`Ready`] prescribes.
    fn persist(&mut self, rd: &Ready) {
        if let Some(hs) = rd.hard_state {
            self.hard_state = hs;
        }
        if let Some(from) = rd.truncate_from {
            self.entries.retain(|e| e.index < from);
        }
        if let Some(meta) = &rd.compact {
            self.entries.retain(|e| e.index > meta.index);
            self.snapshot = Some(meta.clone());
        }
        self.entries.extend(rd.entries.iter().cloned());
    }

    /// What the server restarts from.
    fn recovered(&self) -> Recovered {
        Recovered {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
        }
    }

    /// The snapshot's index and term (0, 0 without one).
    fn base(&self) -> (Index, Term) {
        self.snapshot.as_ref().map_or((0, 0), |m| (m.index, m.term))
    }

    /// The last index and its term.
    fn last(&self) -> (Index, Term) {
        self.entries
            .last()
            .map_or(self.base(), |e| (e.index, e.term))
    }
}

/// One server: its core while up, its disk, and a snapshot fetch under way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Server {
    /// The running core; `None` while the server is down.
    pub core: Option<Raft>,
    /// What survives a crash.
    pub disk: Disk,
    /// The snapshot the core asked to fetch, from that leader.
    pub fetch: Option<(NodeId, SnapshotMeta)>,
}

/// A message in the network.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What it says.
    pub msg: Message,
}

/// How much of each budget a path used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Used {
    pub crashes: u8,
    pub reads: u8,
    pub changes: u8,
    pub transfers: u8,
}

/// Interesting things a path reached (for the `sometimes` properties).
pub mod seen {
    /// A leader was elected.
    pub const LEADER: u8 = 1;
    /// A client command was committed.
    pub const COMMITTED: u8 = 2;
    /// A snapshot fetched from a leader was installed.
    pub const INSTALLED: u8 = 4;
    /// A membership change was committed.
    pub const MEMBERSHIP: u8 = 8;
    /// A read-index read was confirmed.
    pub const READ: u8 = 16;
}

/// One state: the servers, the network, the trace checker and the path's facts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CoreState {
    /// `servers[k]` is server `n{k+1}`. Shared between a state and the
    /// states that follow it until a step changes the server (a step
    /// changes one), so the search's frontier holds each server once.
    pub servers: Vec<Arc<Server>>,
    /// Messages sent and not (yet) removed, in the order they were sent;
    /// see [`CoreConfig::link_capacity`].
    pub network: Vec<Envelope>,
    /// The cores' trace so far, replayed against the specification's rules
    /// (shared like the servers until an event changes it).
    pub trace: Arc<Conformance>,
    /// Reads asked and not answered: context -> (leader, the highest index
    /// committed anywhere when it was asked).
    pub reads: BTreeMap<u64, (NodeId, Index)>,
    /// Budgets spent.
    pub used: Used,
    /// [`seen`] flags.
    pub seen: u8,
    /// The first violation found on the path (sticky).
    pub broken: Option<Violation>,
}

impl CoreState {
    fn server(&self, id: NodeId) -> &Server {
        &self.servers[(id - 1) as usize]
    }

    fn server_mut(&mut self, id: NodeId) -> &mut Server {
        Arc::make_mut(&mut self.servers[(id - 1) as usize])
    }

    fn core(&self, id: NodeId) -> Option<&Raft> {
        self.server(id).core.as_ref()
    }

    fn core_mut(&mut self, id: NodeId) -> Option<&mut Raft> {
        self.server_mut(id).core.as_mut()
    }

    /// Puts `e` in the network. A copy of a message already there adds
    /// nothing; past `capacity` messages of one kind on one link the oldest
    /// is lost; a message of a term past `max_term` (a pre-vote round
    /// nobody can win within the bounds) is lost at once. Loss is always
    /// allowed, so this prunes behaviours and never adds one. The network
    /// is kept sorted by link and kind, in send order within one kind:
    /// that order is all that tells its states apart.
    fn send(&mut self, e: Envelope, capacity: usize, max_term: Term) {
        if e.msg.term() > max_term || self.network.contains(&e) {
            return;
        }
        let key = |o: &Envelope| (o.from, o.to, o.msg.kind());
        let same = |o: &Envelope| key(o) == key(&e);
        if self.network.iter().filter(|o| same(o)).count() >= capacity {
            let oldest = self.network.iter().position(same).expect("counted");
            self.network.remove(oldest);
        }
        let at = self.network.partition_point(|o| key(o) <= key(&e));
        self.network.insert(at, e);
    }

    /// Forgets messages whose delivery can no longer do anything: older
    /// than their receiver's term and of a kind the core then ignores
    /// (only a stale Append, heartbeat or pre-vote earns a reply).
    fn forget_stale(&mut self) {
        let terms: Vec<Term> = self
            .servers
            .iter()
            .map(|s| s.disk.hard_state.term)
            .collect();
        self.network.retain(|e| {
            e.msg.term() >= terms[(e.to - 1) as usize]
                || matches!(
                    e.msg,
                    Message::Append { .. } | Message::Heartbeat { .. } | Message::PreVote { .. }
                )
        });
    }

    fn unsend(&mut self, e: &Envelope) -> bool {
        match self.network.iter().position(|o| o == e) {
            Some(k) => {
                self.network.remove(k);
                true
            }
            None => false,
        }
    }

    fn broke(&mut self, v: Violation) {
        if self.broken.is_none() {
            self.broken = Some(v);
        }
    }

    /// The highest index any server has committed so far.
    fn committed_anywhere(&self) -> Index {
        self.trace
            .shard(0)
            .and_then(|c| c.ghost.committed.keys().next_back().copied())
            .unwrap_or(0)
    }

    fn observe(&mut self, id: NodeId, event: TraceEvent) {
        let record = TraceRecord {
            node: format!("n{id}"),
            shard: 0,
            event,
            time: 0,
            index: 0,
        };
        match Arc::make_mut(&mut self.trace).observe(&record) {
            Ok(()) => {}
            Err(ConformanceError::Violation(v)) => {
                self.broke(Violation::new(v.rule, Some(id), v.message));
            }
            Err(ConformanceError::Malformed { message, .. }) => self.broke(Violation::new(
                Rule::Inconsistent,
                Some(id),
                format!("the trace cannot be replayed: {message}"),
            )),
        }
    }

    /// Handles every Ready of server `id` as the node does: persist, send,
    /// apply (serve reads), fetch, advance.
    fn drain(&mut self, id: NodeId, capacity: usize, max_term: Term) {
        loop {
            let server = self.server_mut(id);
            let Some(core) = server.core.as_mut() else {
                return;
            };
            if !core.has_ready() {
                break;
            }
            let rd = core.ready();
            server.disk.persist(&rd);
            if let Some(f) = rd.fetch_snapshot.clone() {
                server.fetch = Some(f);
            }
            core.advance();
            let leader = core.status().role == Role::Leader;
            if leader {
                self.seen |= seen::LEADER;
            }
            for event in rd.events {
                if matches!(event, TraceEvent::InstallSnapshot { .. }) {
                    self.seen |= seen::INSTALLED;
                }
                self.observe(id, event);
            }
            for (to, msg) in rd.messages {
                self.send(Envelope { from: id, to, msg }, capacity, max_term);
            }
            for e in &rd.committed {
                match e.payload {
                    Payload::Command { .. } => self.seen |= seen::COMMITTED,
                    Payload::Config(_) => self.seen |= seen::MEMBERSHIP,
                    Payload::Noop => {}
                }
            }
            for r in rd.reads {
                self.seen |= seen::READ;
                if let Some((_, floor)) = self.reads.remove(&r.ctx) {
                    if r.index < floor {
                        self.broke(Violation::new(
                            Rule::StaleRead,
                            Some(id),
                            format!(
                                "n{id} confirmed read {} at index {}, below index {floor}, \
                                 committed before the read was asked",
                                r.ctx, r.index
                            ),
                        ));
                    }
                }
            }
            for ctx in rd.failed_reads {
                self.reads.remove(&ctx);
            }
        }
        self.check_disk(id);
    }

    /// The persistence rule: after its Readys the core holds what its disk holds.
    fn check_disk(&mut self, id: NodeId) {
        let server = self.server(id);
        let Some(core) = &server.core else {
            return;
        };
        let st = core.status();
        let disk = &server.disk;
        let why = if disk.hard_state.term != st.term || disk.hard_state.vote != st.vote {
            Some(format!(
                "n{id} is in term {} with vote {:?} but its disk holds term {} vote {:?}",
                st.term, st.vote, disk.hard_state.term, disk.hard_state.vote
            ))
        } else if disk.base().0 != st.snapshot_index {
            Some(format!(
                "n{id}'s log starts after {} but its disk's snapshot is at {}",
                st.snapshot_index,
                disk.base().0
            ))
        } else if disk.entries != core.log_entries() {
            Some(format!(
                "n{id}'s log {:?} differs from its disk's {:?}",
                terms(core.log_entries()),
                terms(&disk.entries)
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.broke(Violation::new(Rule::Durability, Some(id), why));
        }
    }

    /// The cluster as [`crate::invariants`] sees it, built from the cores
    /// and their disks (a down server keeps its disk; its role is follower
    /// and its commit index its snapshot's), with the trace's ghost history.
    pub fn cluster(&self) -> ClusterState {
        let mut cluster = ClusterState::default();
        for (k, s) in self.servers.iter().enumerate() {
            let id = k as NodeId + 1;
            let (snap_index, snap_term) = s.disk.base();
            let snap_voters = s
                .disk
                .snapshot
                .as_ref()
                .map(|m| m.membership.voters.iter().copied().collect())
                .unwrap_or_default();
            let (role, commit, applied) = match &s.core {
                Some(c) => {
                    let st = c.status();
                    (role_of(st.role), st.commit, st.applied)
                }
                None => (invariants::Role::Follower, snap_index, snap_index),
            };
            cluster.servers.insert(
                id,
                ServerState {
                    term: s.disk.hard_state.term,
                    vote: s.disk.hard_state.vote,
                    role,
                    snapshot: Snapshot {
                        index: snap_index,
                        term: snap_term,
                        voters: snap_voters,
                    },
                    log: s.disk.entries.iter().map(log_entry).collect(),
                    commit,
                    applied,
                },
            );
        }
        if let Some(c) = self.trace.shard(0) {
            cluster.ghost = c.ghost.clone();
        }
        cluster
    }
}

fn terms(entries: &[Entry]) -> Vec<(Index, Term)> {
    entries.iter().map(|e| (e.index, e.term)).collect()
}

fn role_of(role: Role) -> invariants::Role {
    match role {
        Role::Follower => invariants::Role::Follower,
        Role::PreCandidate => invariants::Role::PreCandidate,
        Role::Candidate => invariants::Role::Candidate,
        Role::Leader => invariants::Role::Leader,
    }
}

/// An entry as the invariants see it; the trace names entries by term
/// only, so commands carry no id (equal terms at one index are one entry).
fn log_entry(e: &Entry) -> LogEntry {
    let payload = match &e.payload {
        Payload::Noop | Payload::Command { .. } => invariants::Payload::Unknown,
        Payload::Config(m) => invariants::Payload::Config(m.voters.iter().copied().collect()),
    };
    LogEntry::new(e.term, payload)
}

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CoreAction {
    /// One logical clock tick of a server.
    Tick(NodeId),
    /// The message is delivered and leaves the network.
    Deliver(Envelope),
    /// The message is delivered and stays (it will arrive again).
    Duplicate(Envelope),
    /// The message is lost.
    Drop(Envelope),
    /// The leader appends a client command.
    Propose(NodeId),
    /// The leader starts a read-index read.
    Read(NodeId),
    /// The leader hands leadership to the other server.
    Transfer(NodeId, NodeId),
    /// The leader proposes this voter set.
    ChangeMembership(NodeId, Vec<NodeId>),
    /// The server snapshots its applied prefix and compacts its log.
    Snapshot(NodeId),
    /// The snapshot fetch under way completes now (installed if still wanted).
    FetchDone(NodeId),
    /// The server crashes: its volatile state and its fetch are lost.
    Crash(NodeId),
    /// The server restarts from its disk.
    Restart(NodeId),
}

impl CoreAction {
    /// The server whose core takes the input.
    pub fn node(&self) -> Option<NodeId> {
        Some(match self {
            CoreAction::Tick(n)
            | CoreAction::Propose(n)
            | CoreAction::Read(n)
            | CoreAction::Transfer(n, _)
            | CoreAction::ChangeMembership(n, _)
            | CoreAction::Snapshot(n)
            | CoreAction::FetchDone(n)
            | CoreAction::Crash(n)
            | CoreAction::Restart(n) => *n,
            CoreAction::Deliver(e) | CoreAction::Duplicate(e) | CoreAction::Drop(e) => e.to,
        })
    }
}

thread_local! {
    /// Set while a core takes an input under [`CoreModel::step`].
    static IN_CORE_STEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panic hook quiet about a core's panic inside
/// [`CoreModel::step`], which reports it as a violation with its message
/// (a search may reach the failing assertion many times); every other
/// panic is reported as before.
fn quiet_core_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CORE_STEP.with(|f| f.get()) {
                earlier(info);
            }
        }));
    });
}

/// Property names, as reported by the checker.
pub mod properties {
    pub use crate::model::properties::{
        ELECTION_SAFETY, LEADER_COMPLETENESS, LOG_MATCHING, MONOTONIC, NO_COMMITTED_TRUNCATION,
        ONE_VOTE, STATE_MACHINE_SAFETY,
    };
    /// Every step follows the specification's step rules (conformance).
    pub const STEP_RULES: &str = "every step follows the specification";
    /// The core's ballot and log are what its disk holds; a restart recovers them.
    pub const DURABILITY: &str = "the core holds what its disk holds";
    /// A confirmed read is at or above every entry committed before it was asked.
    pub const LINEARIZABLE_READS: &str = "reads see every earlier commit";
    /// The core never fails one of its own assertions.
    pub const CORE_ASSERTIONS: &str = "the core's assertions hold";
    /// Some server becomes leader.
    pub const LEADER_ELECTED: &str = "a leader is elected";
    /// Some client command gets committed.
    pub const VALUE_COMMITTED: &str = "a value is committed";
    /// Some snapshot fetched from a leader is installed.
    pub const SNAPSHOT_INSTALLED: &str = "a snapshot is installed";
    /// Some membership change gets committed.
    pub const MEMBERSHIP_COMMITTED: &str = "a membership change completes";
    /// Some read-index read is confirmed.
    pub const READ_CONFIRMED: &str = "a read is confirmed";
}

/// The stateright model of the production core.
#[derive(Clone, Debug)]
pub struct CoreModel {
    /// Size, bounds, budgets and settings.
    pub config: CoreConfig,
    /// Stops the search early (see [`crate::model::check`]).
    pub halt: Halt,
}

impl CoreModel {
    /// A model of `config`.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid ([`CoreConfig::validate`]).
    pub fn new(config: CoreConfig) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid core model configuration: {e}");
        }
        quiet_core_panics();
        CoreModel {
            config,
            halt: Halt::default(),
        }
    }

    fn ids(&self) -> impl Iterator<Item = NodeId> {
        1..=self.config.servers as NodeId
    }

    fn raft_config(&self, id: NodeId) -> Config {
        Config {
            election_ticks_min: ELECTION_TICKS.0,
            election_ticks_max: ELECTION_TICKS.1,
            heartbeat_ticks: 1,
            pre_vote: self.config.pre_vote,
            check_quorum: self.config.check_quorum,
            max_append_entries: self.config.max_append_entries,
            mutant: self.config.mutant,
            ..Config::new(id, 0)
        }
    }

    /// Servers `n1..=nV` start with the voters `n1..=nV`; spares with none.
    fn initial(&self, id: NodeId) -> Membership {
        if id as usize <= self.config.voters {
            Membership::new(1..=self.config.voters as NodeId)
        } else {
            Membership::default()
        }
    }

    fn boot(&self, id: NodeId, disk: &Disk) -> Raft {
        Raft::new(0, self.raft_config(id), self.initial(id), disk.recovered())
    }

    /// The initial state: every server up, empty disks, no messages.
    pub fn initial_state(&self) -> CoreState {
        CoreState {
            servers: self
                .ids()
                .map(|id| {
                    Arc::new(Server {
                        core: Some(self.boot(id, &Disk::default())),
                        disk: Disk::default(),
                        fetch: None,
                    })
                })
                .collect(),
            network: Vec::new(),
            trace: Arc::new(Conformance::new()),
            reads: BTreeMap::new(),
            used: Used::default(),
            seen: 0,
            broken: None,
        }
    }

    /// The state after `action`, or `None` if it changes nothing, is not
    /// enabled, or leaves the bounds. A panic of a core (one of its own
    /// assertions) is a [`Rule::CoreAssertion`] violation, not the end of
    /// the search: the panic message is printed and the path stops there.
    pub fn step(&self, last: &CoreState, action: &CoreAction) -> Option<CoreState> {
        IN_CORE_STEP.with(|f| f.set(true));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.step_unguarded(last, action)
        }));
        IN_CORE_STEP.with(|f| f.set(false));
        match result {
            Ok(next) => next,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".to_string());
                let mut s = last.clone();
                s.broken = Some(Violation::new(
                    Rule::CoreAssertion,
                    action.node(),
                    format!("the core panicked on \"{action}\": {what}"),
                ));
                Some(s)
            }
        }
    }

    fn step_unguarded(&self, last: &CoreState, action: &CoreAction) -> Option<CoreState> {
        let c = &self.config;
        let mut s = last.clone();
        let touched = match action {
            CoreAction::Tick(id) => {
                // The clock runs until the core has something to say, at most
                // an election timeout: a tick that changes only a counter
                // commutes with every delivery (a lease holds at both counts).
                let core = s.core_mut(*id)?;
                for _ in 0..ELECTION_TICKS.1 {
                    core.tick();
                    if core.has_ready() {
                        break;
                    }
                }
                *id
            }
            CoreAction::Deliver(e) | CoreAction::Duplicate(e) => {
                if matches!(action, CoreAction::Deliver(_)) && !s.unsend(e) {
                    return None;
                }
                s.core_mut(e.to)?.step(e.from, e.msg.clone());
                e.to
            }
            CoreAction::Drop(e) => {
                s.unsend(e).then_some(())?;
                return Some(s);
            }
            CoreAction::Propose(id) => {
                s.core_mut(*id)?.propose(None, Vec::new()).ok()?;
                *id
            }
            CoreAction::Read(id) => {
                let ctx = u64::from(s.used.reads);
                let floor = s.committed_anywhere();
                s.core_mut(*id)?.read_index(ctx).ok()?;
                s.reads.insert(ctx, (*id, floor));
                s.used.reads += 1;
                *id
            }
            CoreAction::Transfer(id, to) => {
                s.core_mut(*id)?.transfer_leader(*to).ok()?;
                s.used.transfers += 1;
                *id
            }
            CoreAction::ChangeMembership(id, voters) => {
                s.core_mut(*id)?
                    .propose_membership(Membership::new(voters.iter().copied()))
                    .ok()?;
                s.used.changes += 1;
                *id
            }
            CoreAction::Snapshot(id) => {
                let core = s.core_mut(*id)?;
                let st = core.status();
                if st.applied <= st.snapshot_index {
                    return None;
                }
                let meta = core.snapshot_meta(st.applied)?;
                core.snapshot_taken(meta);
                *id
            }
            CoreAction::FetchDone(id) => {
                let server = s.server_mut(*id);
                let (_, meta) = server.fetch.take()?;
                let core = server.core.as_mut()?;
                // The node's rule: restore only a snapshot the core still wants.
                if core.snapshot_wanted(&meta) {
                    core.snapshot_installed(meta);
                }
                *id
            }
            CoreAction::Crash(id) => {
                let server = s.server_mut(*id);
                server.core.take()?;
                server.fetch = None;
                s.reads.retain(|_, (leader, _)| leader != id);
                s.used.crashes += 1;
                s.observe(
                    *id,
                    TraceEvent::Stop {
                        reason: "crash".into(),
                    },
                );
                return Some(s);
            }
            CoreAction::Restart(id) => {
                if s.core(*id).is_some() {
                    return None;
                }
                let disk = s.server(*id).disk.clone();
                let (last_index, last_term) = disk.last();
                s.server_mut(*id).core = Some(self.boot(*id, &disk));
                s.observe(
                    *id,
                    TraceEvent::Start {
                        term: disk.hard_state.term,
                        vote: disk.hard_state.vote,
                        snapshot: disk.base().0,
                        last_index: Some(last_index),
                        last_term: Some(last_term),
                        // A core's disk reports every write it holds.
                        terms: Vec::new(),
                    },
                );
                *id
            }
        };
        s.drain(touched, c.link_capacity, c.max_term);
        s.forget_stale();
        let server = s.server(touched);
        if server.disk.hard_state.term > c.max_term || server.disk.last().0 > c.max_log {
            return None;
        }
        if s.broken.is_none() {
            if let Err(v) = invariants::check_state(&s.cluster()) {
                s.broke(v);
            }
        }
        Some(s)
    }

    fn leader_actions(
        &self,
        state: &CoreState,
        id: NodeId,
        core: &Raft,
        out: &mut Vec<CoreAction>,
    ) {
        let c = &self.config;
        let st = core.status();
        if c.client_requests && st.last_index < c.max_log {
            out.push(CoreAction::Propose(id));
        }
        if state.used.reads < c.reads {
            out.push(CoreAction::Read(id));
        }
        if state.used.transfers < c.transfers && st.transferee.is_none() {
            for &to in st.membership.voters.iter().filter(|&&v| v != id) {
                out.push(CoreAction::Transfer(id, to));
            }
        }
        if state.used.changes < c.changes && st.last_index < c.max_log {
            for other in self.ids() {
                let mut voters = st.membership.voters.clone();
                if !voters.remove(&other) {
                    voters.insert(other);
                }
                if !voters.is_empty() {
                    out.push(CoreAction::ChangeMembership(
                        id,
                        voters.into_iter().collect(),
                    ));
                }
            }
        }
    }
}

impl Model for CoreModel {
    type State = CoreState;
    type Action = CoreAction;

    fn init_states(&self) -> Vec<CoreState> {
        vec![self.initial_state()]
    }

    fn actions(&self, state: &CoreState, out: &mut Vec<CoreAction>) {
        if state.broken.is_some() || self.halt.is_set() {
            return;
        }
        let c = &self.config;
        for id in self.ids() {
            let server = state.server(id);
            let Some(core) = &server.core else {
                out.push(CoreAction::Restart(id));
                continue;
            };
            out.push(CoreAction::Tick(id));
            if core.status().role == Role::Leader {
                self.leader_actions(state, id, core, out);
            }
            if c.compaction {
                let st = core.status();
                if st.applied > st.snapshot_index {
                    out.push(CoreAction::Snapshot(id));
                }
            }
            if server.fetch.is_some() {
                out.push(CoreAction::FetchDone(id));
            }
            if state.used.crashes < c.crashes {
                out.push(CoreAction::Crash(id));
            }
        }
        for e in &state.network {
            if state.core(e.to).is_some() {
                out.push(CoreAction::Deliver(e.clone()));
                if c.duplicates {
                    out.push(CoreAction::Duplicate(e.clone()));
                }
            }
            if c.drops {
                out.push(CoreAction::Drop(e.clone()));
            }
        }
    }

    fn next_state(&self, last: &CoreState, action: CoreAction) -> Option<CoreState> {
        self.step(last, &action)
    }

    fn format_action(&self, action: &CoreAction) -> String {
        action.to_string()
    }

    fn properties(&self) -> Vec<Property<Self>> {
        use properties::*;
        fn broke(s: &CoreState, rules: &[Rule]) -> bool {
            s.broken.as_ref().is_some_and(|v| rules.contains(&v.rule))
        }
        vec![
            Property::always(ELECTION_SAFETY, |_, s: &CoreState| {
                !broke(s, &[Rule::ElectionSafety])
            }),
            Property::always(LOG_MATCHING, |_, s: &CoreState| {
                !broke(s, &[Rule::LogMatching])
            }),
            Property::always(LEADER_COMPLETENESS, |_, s: &CoreState| {
                !broke(s, &[Rule::LeaderCompleteness])
            }),
            Property::always(STATE_MACHINE_SAFETY, |_, s: &CoreState| {
                !broke(s, &[Rule::StateMachineSafety, Rule::AppliedCommitted])
            }),
            Property::always(MONOTONIC, |_, s: &CoreState| {
                !broke(s, &[Rule::TermMonotonic, Rule::CommitMonotonic])
            }),
            Property::always(ONE_VOTE, |_, s: &CoreState| {
                !broke(s, &[Rule::OneVotePerTerm])
            }),
            Property::always(NO_COMMITTED_TRUNCATION, |_, s: &CoreState| {
                !broke(s, &[Rule::TruncateCommitted])
            }),
            Property::always(STEP_RULES, |_, s: &CoreState| {
                !broke(
                    s,
                    &[
                        Rule::CommitOldTerm,
                        Rule::CompactUncommitted,
                        Rule::Inconsistent,
                        Rule::TruncateMatching,
                        Rule::MembershipChange,
                        Rule::NonVoterCampaign,
                    ],
                )
            }),
            Property::always(DURABILITY, |_, s: &CoreState| {
                !broke(s, &[Rule::Durability])
            }),
            Property::always(LINEARIZABLE_READS, |_, s: &CoreState| {
                !broke(s, &[Rule::StaleRead])
            }),
            Property::always(CORE_ASSERTIONS, |_, s: &CoreState| {
                !broke(s, &[Rule::CoreAssertion])
            }),
            Property::sometimes(LEADER_ELECTED, |_, s: &CoreState| {
                s.seen & seen::LEADER != 0
            }),
            Property::sometimes(VALUE_COMMITTED, |m: &CoreModel, s: &CoreState| {
                !m.config.client_requests || s.seen & seen::COMMITTED != 0
            }),
            Property::sometimes(SNAPSHOT_INSTALLED, |m: &CoreModel, s: &CoreState| {
                !m.config.compaction || s.seen & seen::INSTALLED != 0
            }),
            Property::sometimes(MEMBERSHIP_COMMITTED, |m: &CoreModel, s: &CoreState| {
                m.config.changes == 0 || s.seen & seen::MEMBERSHIP != 0
            }),
            Property::sometimes(READ_CONFIRMED, |m: &CoreModel, s: &CoreState| {
                m.config.reads == 0 || s.seen & seen::READ != 0
            }),
        ]
    }
}

impl Explain for CoreModel {
    fn replay(&self, actions: &[CoreAction]) -> Replay<CoreAction, CoreState> {
        let init = self.initial_state();
        let mut state = init.clone();
        let mut steps = Vec::new();
        for a in actions {
            let Some(next) = self.step(&state, a) else {
                break;
            };
            state = next;
            steps.push(Step {
                action: a.clone(),
                state: state.clone(),
            });
        }
        (init, steps)
    }

    fn halt(&self) -> &Halt {
        &self.halt
    }
}
