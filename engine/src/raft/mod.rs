//! The consensus core of one shard: a pure, deterministic state machine.
//!
//! No I/O, no clock, no threads, no unordered iteration, no ambient
//! randomness: the inputs are [`Raft::tick`], [`Raft::step`] (a message from a
//! peer), proposals, and [`Raft::advance`] ("the last Ready is durable"); the
//! outputs are collected in a [`Ready`]. The same inputs always give the same
//! outputs, which is what lets the model checker and the simulator drive it.
//!
//! # Driving the core
//!
//! ```
//! use tumult_engine::raft::{Config, Membership, Raft, Recovered};
//!
//! let mut r = Raft::new(1, Config::new(1, 7), Membership::new([1]), Recovered::default());
//! r.campaign(); // a single voter elects itself
//! loop {
//!     if !r.has_ready() {
//!         break;
//!     }
//!     let rd = r.ready();
//!     // 1. persist rd.hard_state, rd.truncate_from, rd.entries, rd.compact (fsync)
//!     // 2. send rd.messages
//!     // 3. apply rd.committed, serve rd.reads once applied
//!     r.advance();
//! }
//! assert!(r.status().is_leader());
//! let index = r.propose(None, b"x".to_vec()).unwrap();
//! let rd = r.ready();
//! assert_eq!(rd.entries.last().unwrap().index, index);
//! r.advance(); // only now does the leader count its own copy
//! assert_eq!(r.status().commit, index);
//! ```
//!
//! # Persistence rule
//!
//! Every message in a [`Ready`] may depend on that Ready's `hard_state`,
//! `truncate_from` and `entries` (a vote reply on the vote, an AppendResp on
//! the entries): the node sends them only after those writes are durable, and
//! makes Readies durable in the order it took them. The leader counts its own
//! log toward a commit quorum only up to what [`Raft::advance`] confirmed.
//!
//! Layout, after etcd/raft: this file holds the state machine, its public
//! API and the `step` dispatch; `election` the timer, pre-vote and vote;
//! `leader` and `follower` the two sides of replication (Append, heartbeats,
//! snapshots); `membership` configuration changes; `log` keeps entries and
//! cursors, `tracker` (private maps of `progress`, the leader's view of
//! each follower, and of the votes of a campaign), `quorum` the majority
//! arithmetic, `read_only` the read-index protocol, `rng` the
//! seeded election-timeout PRNG.

mod election;
mod follower;
mod leader;
mod log;
mod membership;
mod progress;
mod quorum;
mod read_only;
pub mod rng;
mod tracker;
mod types;

#[cfg(test)]
mod tests;

pub use types::*;

use crate::trace::TraceEvent;
use log::RaftLog;
use quorum::VoteResult;
use read_only::ReadOnly;
use rng::SplitMix64;
use serde::{Deserialize, Serialize};
use tracker::Tracker;

/// Why pre-vote is refused without check-quorum: a leader cut off from the
/// majority that still reaches one follower keeps it loyal, and when its
/// uncommitted entries put that follower's log ahead, the follower refuses
/// every other server's pre-vote while never campaigning itself, so the
/// majority stays without a leader for ever (found by tumult explore: the
/// known weakness of pre-vote alone). Check-quorum makes such a leader
/// step down.
pub const PRE_VOTE_NEEDS_CHECK_QUORUM: &str = "a leader cut off from the majority that \
    still reaches a follower whose log it put ahead would keep the majority from electing \
    anyone; check_quorum makes it step down";

/// Tunables of one replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// This server.
    pub id: NodeId,
    /// Randomized election timeout in `[min, max)` ticks, drawn again at every reset.
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    /// A leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// Run a pre-vote round before a real election (dissertation §9.6).
    /// Needs `check_quorum` ([`PRE_VOTE_NEEDS_CHECK_QUORUM`]).
    pub pre_vote: bool,
    /// A leader steps down if it has not heard from a quorum within an election
    /// timeout; followers that heard from a leader recently refuse votes.
    pub check_quorum: bool,
    /// Most entries carried by one Append.
    pub max_append_entries: usize,
    /// Most entry bytes ([`Entry::size`]) carried by one Append; an Append
    /// always carries at least one entry, whatever its size.
    pub max_append_bytes: u64,
    /// Seed of the election-timeout PRNG.
    pub seed: u64,
    /// The deliberate bug this core runs with (see [`crate::mutants`]); only
    /// builds with the feature `mutants` act on it.
    pub mutant: Option<crate::mutants::Mutant>,
}

impl Config {
    /// Defaults: election timeout 10..20 ticks, heartbeat every 2 ticks,
    /// pre-vote and check-quorum on, 64 entries per Append.
    pub fn new(id: NodeId, seed: u64) -> Config {
        Config {
            id,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            pre_vote: true,
            check_quorum: true,
            max_append_entries: 64,
            max_append_bytes: 16 * 1024 * 1024,
            seed,
            mutant: None,
        }
    }

    /// Panics on a configuration no replica can run with
    /// ([`PRE_VOTE_NEEDS_CHECK_QUORUM`] among them).
    fn validate(&self) {
        assert!(self.id != 0, "node ids start at 1");
        assert!(self.heartbeat_ticks >= 1, "heartbeat_ticks must be >= 1");
        assert!(
            self.election_ticks_min > self.heartbeat_ticks,
            "election_ticks_min must exceed heartbeat_ticks"
        );
        assert!(
            self.election_ticks_max > self.election_ticks_min,
            "election_ticks_max must exceed election_ticks_min"
        );
        assert!(
            self.max_append_entries >= 1,
            "max_append_entries must be >= 1"
        );
        assert!(
            self.check_quorum || !self.pre_vote,
            "pre_vote needs check_quorum: {PRE_VOTE_NEEDS_CHECK_QUORUM}"
        );
    }
}

/// What a replica currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Why a request to the core was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RaftError {
    /// Only the leader accepts proposals, changes and reads.
    #[error("this node is not the leader (leader: {})", .leader.map_or("unknown".to_string(), |l| format!("n{l}")))]
    NotLeader { leader: Option<NodeId> },
    /// A membership change is already in the log and not committed yet.
    #[error("a membership change is already in progress; retry once it has committed")]
    ChangeInProgress,
    /// The leader has not committed an entry of its own term yet.
    #[error("the new leader has not committed an entry of its term yet; retry shortly")]
    NotCommittedInTerm,
    /// Leadership is being handed over; proposals are refused meanwhile.
    #[error("leadership is being transferred; retry on the new leader")]
    TransferInProgress,
    /// The requested change is not a valid single-server change.
    #[error("invalid membership change: {0}")]
    InvalidChange(String),
    /// This node is no longer a voter of the shard.
    #[error("this node was removed from the shard's membership")]
    Removed,
}

/// A read confirmed by the leader: serve it once `applied >= index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReadState {
    /// The caller's context, from [`Raft::read_index`].
    pub ctx: u64,
    /// The commit index when the read was requested.
    pub index: Index,
}

/// Everything the core produced since the last [`Raft::ready`].
///
/// Handle in this order: (1) make durable, in this order, `hard_state`,
/// `truncate_from` (delete entries >= it), `compact` (delete entries <= its
/// index, remember it as the log's base), `entries` (append); (2) send
/// `messages`; (3) apply `committed`, in order; serve `reads` once applied
/// has reached their index, fail `failed_reads`; start fetching
/// `fetch_snapshot`; (4) call [`Raft::advance`]. Readies are made durable in
/// the order they were taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Persist if Some.
    pub hard_state: Option<HardState>,
    /// Delete entries at and above this index, before appending `entries`.
    pub truncate_from: Option<Index>,
    /// Append (contiguous, following the last stored entry after truncation).
    pub entries: Vec<Entry>,
    /// Storage may delete entries up to `meta.index`; remember `meta` as the log's base.
    pub compact: Option<SnapshotMeta>,
    /// Send only after this Ready's hard_state/truncate/entries are durable.
    pub messages: Vec<(NodeId, Message)>,
    /// Newly committed entries, in order: apply after persisting.
    pub committed: Vec<Entry>,
    /// Confirmed reads.
    pub reads: Vec<ReadState>,
    /// Contexts of reads that can no longer be confirmed (leadership lost).
    pub failed_reads: Vec<u64>,
    /// Fetch this snapshot from that leader, then call [`Raft::snapshot_installed`].
    /// May repeat for a fetch already under way.
    pub fetch_snapshot: Option<(NodeId, SnapshotMeta)>,
    /// What happened, in order. A peer's message that was refused (see
    /// [`Raft::step`]) is a [`TraceEvent::RefusedMessage`]: log and count it.
    pub events: Vec<TraceEvent>,
}

/// A replica's state, for the node layer, admin and tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    /// The vote in `term`.
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit: Index,
    /// The highest index handed out in `Ready::committed`.
    pub applied: Index,
    pub last_index: Index,
    /// Entries up to here are durable.
    pub persisted: Index,
    /// The index of the compacted prefix (0 if none).
    pub snapshot_index: Index,
    pub membership: Membership,
    /// The target of a leadership transfer under way.
    pub transferee: Option<NodeId>,
}

impl Status {
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}

/// The consensus state machine of one replica of one shard.
///
/// `Hash` and `Eq` compare every field, so that a model checker can tell
/// two states of the real core apart (`tumult model --impl`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Raft {
    shard: ShardId,
    id: NodeId,
    cfg: Config,
    rng: SplitMix64,

    // The ballot (durable through Ready::hard_state).
    term: Term,
    vote: Option<NodeId>,

    role: Role,
    leader: Option<NodeId>,
    log: RaftLog,

    /// Used when neither the snapshot nor the log holds a Config entry.
    initial: Membership,
    /// The configuration in force: the latest in the log (§4.1).
    membership: Membership,
    /// The index of the entry that carries `membership` (snapshot index or 0 if none).
    membership_index: Index,

    /// Leader: every other voter's progress; (pre-)candidate: the votes.
    tracker: Tracker,

    election_elapsed: u32,
    heartbeat_elapsed: u32,
    randomized_timeout: u32,

    /// Leader: leadership transfer target, ticks since it started, TimeoutNow sent.
    transferee: Option<NodeId>,
    transfer_elapsed: u32,
    timeout_now_sent: bool,

    read_only: ReadOnly,
    /// Leader: entries or a new commit index wait to be sent / a heartbeat round is due.
    pending_entries: bool,
    pending_commit: bool,
    pending_heartbeat: bool,

    /// The ballot last handed out in a Ready.
    handed_hard_state: HardState,
    msgs: Vec<(NodeId, Message)>,
    events: Vec<TraceEvent>,
    reads: Vec<ReadState>,
    failed_reads: Vec<u64>,
    fetch_snapshot: Option<(NodeId, SnapshotMeta)>,
    /// The leader, its term and the snapshot it asked us to fetch.
    snapshot_request: Option<(NodeId, Term, SnapshotMeta)>,
}

impl Raft {
    /// Restores a replica from what its disk held. `initial` is the membership
    /// used when neither the snapshot nor the log holds a Config entry; an
    /// empty `initial` with an empty log makes a spare that waits to be added.
    pub fn new(shard: ShardId, config: Config, initial: Membership, recovered: Recovered) -> Raft {
        config.validate();
        let log = RaftLog::restore(recovered.snapshot, recovered.entries);
        let hs = recovered.hard_state;
        assert!(
            hs.term >= log.last_term(),
            "recovered term {} is older than the last log entry's term {}",
            hs.term,
            log.last_term()
        );
        let seed =
            config.seed ^ config.id.rotate_left(32) ^ shard.wrapping_mul(0xA24B_AED4_963E_E407);
        let mut r = Raft {
            shard,
            id: config.id,
            rng: SplitMix64::new(seed),
            cfg: config,
            term: hs.term,
            vote: hs.vote,
            role: Role::Follower,
            leader: None,
            log,
            initial,
            membership: Membership::default(),
            membership_index: 0,
            tracker: Tracker::default(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            transferee: None,
            transfer_elapsed: 0,
            timeout_now_sent: false,
            read_only: ReadOnly::default(),
            pending_entries: false,
            pending_commit: false,
            pending_heartbeat: false,
            handed_hard_state: hs,
            msgs: Vec::new(),
            events: Vec::new(),
            reads: Vec::new(),
            failed_reads: Vec::new(),
            fetch_snapshot: None,
            snapshot_request: None,
        };
        let (m, i) = r.latest_membership();
        r.membership = m;
        r.membership_index = i;
        r.reset_election_timer();
        r
    }

    /// One logical clock tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    /// Handles a message from a peer. Any message, in any order, duplicated
    /// or stale, is safe. A message that is malformed ([`Message::check`]) or
    /// claims what this replica knows to be impossible (a second leader of
    /// its term, an acknowledgement past the leader's log, a rewrite of a
    /// committed entry) is dropped and reported as a
    /// [`TraceEvent::RefusedMessage`]: the core never asserts on what a peer sent.
    pub fn step(&mut self, from: NodeId, msg: Message) {
        if from == self.id {
            return;
        }
        if let Err(why) = msg.check().and_then(|()| self.check_claims(from, &msg)) {
            self.reject(from, &msg, why);
            return;
        }
        let mterm = msg.term();
        if mterm > self.term
            && !(self.role == Role::Leader
                && crate::mutant!(self.cfg.mutant, LeaderIgnoresHigherTerm))
        {
            if let Message::PreVote { .. } | Message::Vote { .. } = msg {
                let transfer = matches!(msg, Message::Vote { transfer: true, .. });
                let sticky = match msg {
                    Message::PreVote { .. } => true,
                    _ => self.cfg.check_quorum,
                };
                if sticky && !transfer && self.in_lease() {
                    // §4.2.3: a server that heard from a leader within the
                    // minimum election timeout neither grants a vote nor
                    // updates its term, so a removed or partitioned server
                    // cannot disrupt a healthy leader.
                    if let Message::PreVote { .. } = msg {
                        self.send(
                            from,
                            Message::PreVoteResp {
                                term: self.term,
                                granted: false,
                            },
                        );
                    }
                    return;
                }
            }
            match msg {
                // §9.6: nobody changes term for a pre-vote or a granted pre-vote.
                Message::PreVote { .. } | Message::PreVoteResp { granted: true, .. } => {}
                Message::Append { .. }
                | Message::Heartbeat { .. }
                | Message::InstallSnapshot { .. } => self.become_follower(mterm, Some(from)),
                // §5.1: a higher term makes any server a follower of that term.
                _ => self.become_follower(mterm, None),
            }
        } else if mterm < self.term {
            match msg {
                Message::Append { .. } | Message::Heartbeat { .. }
                    if self.cfg.check_quorum || self.cfg.pre_vote =>
                {
                    // A stale leader (for instance one our term ran away from
                    // while partitioned) learns the newer term and steps down.
                    self.send(
                        from,
                        Message::AppendResp {
                            term: self.term,
                            success: false,
                            index: 0,
                        },
                    );
                }
                Message::PreVote { .. } => {
                    self.send(
                        from,
                        Message::PreVoteResp {
                            term: self.term,
                            granted: false,
                        },
                    );
                }
                _ => {}
            }
            return;
        }

        // What the term handling above guarantees: only pre-votes (and
        // granted pre-vote answers) carry a term other than ours from here on.
        assert!(
            matches!(msg, Message::PreVote { .. } | Message::PreVoteResp { .. })
                || msg.term() == self.term,
            "n{} in term {} dispatches a {} of term {}",
            self.id,
            self.term,
            msg.kind(),
            msg.term()
        );
        match msg {
            Message::PreVote {
                term,
                last_index,
                last_term,
            } => self.handle_pre_vote(from, term, last_index, last_term),
            Message::PreVoteResp { term, granted } => {
                self.handle_pre_vote_resp(from, term, granted)
            }
            Message::Vote {
                last_index,
                last_term,
                ..
            } => self.handle_vote(from, last_index, last_term),
            Message::VoteResp { granted, .. } => self.handle_vote_resp(from, granted),
            Message::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                ..
            } => self.handle_append(from, prev_index, prev_term, entries, commit),
            Message::AppendResp { success, index, .. } => {
                self.handle_append_resp(from, success, index)
            }
            Message::Heartbeat { commit, ctx, .. } => self.handle_heartbeat(from, commit, ctx),
            Message::HeartbeatResp { ctx, .. } => self.handle_heartbeat_resp(from, ctx),
            Message::TimeoutNow { .. } => self.handle_timeout_now(from),
            Message::InstallSnapshot { meta, .. } => self.handle_install_snapshot(from, meta),
        }
    }

    /// Appends a command (leader only). Returns its index.
    pub fn propose(
        &mut self,
        request: Option<RequestId>,
        data: Vec<u8>,
    ) -> Result<Index, RaftError> {
        self.check_can_propose()?;
        Ok(self.append_as_leader(Payload::Command { request, data }))
    }

    /// Hands leadership to `to` (leader only): proposals are refused until the
    /// transfer completes or aborts after an election timeout.
    pub fn transfer_leader(&mut self, to: NodeId) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader,
            });
        }
        if to == self.id {
            return Ok(());
        }
        if !self.membership.contains(to) {
            return Err(RaftError::InvalidChange(format!(
                "n{to} is not a voter of shard {}",
                self.shard
            )));
        }
        match self.transferee {
            Some(t) if t == to => return Ok(()),
            Some(_) => return Err(RaftError::TransferInProgress),
            None => {}
        }
        self.transferee = Some(to);
        self.transfer_elapsed = 0;
        self.timeout_now_sent = false;
        self.maybe_send_timeout_now();
        if !self.timeout_now_sent {
            // §3.10: first bring the target's log up to date.
            self.send_all_appends(to, true);
        }
        Ok(())
    }

    /// Starts a read-index round (§6.4); the result appears later in
    /// `Ready::reads` (or `Ready::failed_reads` if leadership is lost).
    pub fn read_index(&mut self, ctx: u64) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader,
            });
        }
        if self.log.term(self.log.committed) != Some(self.term) {
            // §6.4 step 1: the leader's commit index is only known to be
            // current once it has committed an entry of its own term.
            self.read_only.wait_for_commit(ctx);
            return Ok(());
        }
        self.register_read(ctx);
        Ok(())
    }

    /// Starts an election now, skipping pre-vote (for tests and bootstrap).
    pub fn campaign(&mut self) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        self.become_candidate(false);
    }

    /// The application snapshotted up to `meta.index` (<= applied): drop that
    /// log prefix. `Ready::compact` tells storage. `meta` must match
    /// [`Raft::snapshot_meta`] at that index.
    pub fn snapshot_taken(&mut self, meta: SnapshotMeta) {
        if meta.index <= self.log.snapshot().index {
            return;
        }
        assert!(
            meta.index <= self.log.applied,
            "snapshot at {} is past the applied index {}",
            meta.index,
            self.log.applied
        );
        let expected = self.snapshot_meta(meta.index);
        assert_eq!(
            Some(&meta),
            expected.as_ref(),
            "snapshot meta does not match the log"
        );
        self.events.push(TraceEvent::Compact {
            index: meta.index,
            entry_term: meta.term,
        });
        self.log.compact(meta);
    }

    /// The node fetched and restored the snapshot asked for in
    /// `Ready::fetch_snapshot`: the log is replaced by it, commit and applied
    /// jump to `meta.index`, and the leader is told. The next Ready carries
    /// `truncate_from = meta.index + 1` and `compact = meta` for storage.
    /// Check [`Raft::snapshot_wanted`] before restoring the application.
    ///
    /// The node calls it only for a snapshot [`Raft::snapshot_wanted`] still
    /// wants, right after asking: a fetch that the log has moved past (it may
    /// hold acknowledged entries after the snapshot) must be dropped, not
    /// installed.
    pub fn snapshot_installed(&mut self, meta: SnapshotMeta) {
        assert!(
            self.snapshot_wanted(&meta),
            "installed snapshot at ({}, {}) that the log has moved past (applied {}, commit {}, last {})",
            meta.index,
            meta.term,
            self.log.applied,
            self.log.committed,
            self.log.last_index()
        );
        if self.role == Role::Leader {
            let term = self.term;
            self.become_follower(term, None);
        }
        self.log.install(meta.clone());
        self.fetch_snapshot = None;
        self.events.push(TraceEvent::InstallSnapshot {
            term: self.term,
            index: meta.index,
            entry_term: meta.term,
        });
        self.refresh_membership();
        if let Some((leader, term, _)) = self.snapshot_request.take() {
            if term == self.term {
                self.send(
                    leader,
                    Message::AppendResp {
                        term,
                        success: true,
                        index: meta.index,
                    },
                );
            }
        }
    }

    /// Whether restoring a fetched snapshot at `meta` would still move this
    /// replica forward. A fetch completes asynchronously, after the world may
    /// have moved on: it is not wanted once the replica has applied or
    /// committed that far on its own, or once its log holds the snapshot's
    /// last entry (a newer leader's Appends reached it meanwhile, and it may
    /// have acknowledged entries past the snapshot that a quorum counts on).
    /// The log then catches up through ordinary replication.
    pub fn snapshot_wanted(&self, meta: &SnapshotMeta) -> bool {
        if crate::mutant!(self.cfg.mutant, LateSnapshotInstall) {
            return meta.index > self.log.applied;
        }
        meta.index > self.log.applied
            && meta.index > self.log.committed
            && self.log.term(meta.index) != Some(meta.term)
    }

    /// The snapshot metadata for the log prefix up to `index`: its term and
    /// the membership in force there. None if `index` is compacted or not in the log.
    pub fn snapshot_meta(&self, index: Index) -> Option<SnapshotMeta> {
        if index < self.log.snapshot().index {
            return None;
        }
        let term = self.log.term(index)?;
        let membership = self
            .log
            .entries()
            .iter()
            .rev()
            .filter(|e| e.index <= index)
            .find_map(|e| match &e.payload {
                Payload::Config(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.base_membership().0);
        Some(SnapshotMeta {
            index,
            term,
            membership,
        })
    }

    /// Whether [`Raft::ready`] has anything to hand out.
    pub fn has_ready(&self) -> bool {
        self.hard_state() != self.handed_hard_state
            || self.log.has_unstable()
            || self.log.has_next_committed()
            || !self.msgs.is_empty()
            || !self.events.is_empty()
            || !self.reads.is_empty()
            || !self.failed_reads.is_empty()
            || self.fetch_snapshot.is_some()
            || (self.role == Role::Leader
                && (self.pending_entries || self.pending_commit || self.pending_heartbeat))
    }

    /// Takes everything pending. Call [`Raft::advance`] once its writes are durable.
    pub fn ready(&mut self) -> Ready {
        self.flush();
        let hs = self.hard_state();
        let hard_state = (hs != self.handed_hard_state).then_some(hs);
        self.handed_hard_state = hs;
        let (truncate_from, entries, compact) = self.log.take_unstable();
        Ready {
            hard_state,
            truncate_from,
            entries,
            compact,
            messages: std::mem::take(&mut self.msgs),
            committed: self.log.take_committed(),
            reads: std::mem::take(&mut self.reads),
            failed_reads: std::mem::take(&mut self.failed_reads),
            fetch_snapshot: self.fetch_snapshot.take(),
            events: std::mem::take(&mut self.events),
        }
    }

    /// The oldest Ready not yet confirmed is durable.
    pub fn advance(&mut self) {
        if self.log.stable() && self.role == Role::Leader {
            // §10.2.1: the leader's own copy counts once it is on disk.
            self.maybe_commit();
        }
    }

    /// Role, term, leader, cursors and membership.
    /// On a leader: the voter other than itself with the highest replicated
    /// index (the lowest id among equals), the natural target of a
    /// leadership transfer. `None` on a follower or a single-voter shard.
    pub fn most_up_to_date_follower(&self) -> Option<NodeId> {
        if self.role != Role::Leader {
            return None;
        }
        self.membership
            .voters
            .iter()
            .copied()
            .filter(|v| *v != self.id)
            .max_by_key(|v| (self.tracker.matched(*v), std::cmp::Reverse(*v)))
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.id,
            role: self.role,
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit: self.log.committed,
            applied: self.log.applied,
            last_index: self.log.last_index(),
            persisted: self.log.persisted(),
            snapshot_index: self.log.snapshot().index,
            membership: self.membership.clone(),
            transferee: self.transferee,
        }
    }

    /// This replica's shard.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// This replica's node.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The entries after the snapshot (for inspection and tests).
    pub fn log_entries(&self) -> &[Entry] {
        self.log.entries()
    }

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
        }
    }

    fn promotable(&self) -> bool {
        self.membership.contains(self.id)
            || (crate::mutant!(self.cfg.mutant, RemovedNotFenced) && self.membership_index > 0)
    }

    /// Heard from a leader within the minimum election timeout.
    fn in_lease(&self) -> bool {
        self.leader.is_some() && self.election_elapsed < self.cfg.election_ticks_min
    }

    fn reject(&mut self, from: NodeId, msg: &Message, why: String) {
        self.events.push(TraceEvent::RefusedMessage {
            from,
            message: msg.kind().to_string(),
            why,
        });
    }

    /// The facts a message asserts about this replica's own term and log,
    /// checked before anything acts on them. A message of a newer term
    /// asserts nothing about ours and passes.
    fn check_claims(&self, from: NodeId, msg: &Message) -> Result<(), String> {
        if msg.term() < self.term {
            // Stale: it may differ from what we know, and is answered as stale.
            return Ok(());
        }
        if let Message::Append { entries, .. } = msg {
            // A leader of our term or a later one holds every entry we know
            // is committed (§5.4.3); a stale leader's Append may not.
            self.check_committed_prefix(entries)?;
        }
        if msg.term() > self.term {
            // A newer term asserts nothing else about ours.
            return Ok(());
        }
        match msg {
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. } => {
                // §5.2 election safety: one leader per term.
                if self.role == Role::Leader {
                    return Err(format!(
                        "claims leadership of term {} which this node leads",
                        self.term
                    ));
                }
                if let Some(l) = self.leader.filter(|&l| l != from) {
                    return Err(format!(
                        "claims leadership of term {} which n{l} holds",
                        self.term
                    ));
                }
                Ok(())
            }
            Message::AppendResp {
                success: true,
                index,
                ..
            } if self.role == Role::Leader && *index > self.log.last_index() => Err(format!(
                "acknowledges index {index} beyond this leader's log ({})",
                self.log.last_index()
            )),
            _ => Ok(()),
        }
    }

    /// §5.4.3 leader completeness: a leader's log holds every committed
    /// entry, so an Append that gives one of ours another term is impossible.
    fn check_committed_prefix(&self, entries: &[Entry]) -> Result<(), String> {
        let committed = self.log.committed;
        for e in entries.iter().take_while(|e| e.index <= committed) {
            if let Some(t) = self.log.term(e.index) {
                if t != e.term {
                    return Err(format!(
                        "rewrites committed entry {} (term {t}) with term {}",
                        e.index, e.term
                    ));
                }
            }
        }
        Ok(())
    }

    fn commit_to(&mut self, index: Index) {
        if self.log.commit_to(index) {
            let entry_term = self.log.term(index).expect("committed entry is in the log");
            self.events.push(TraceEvent::Commit {
                term: self.term,
                index,
                entry_term,
            });
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        assert!(to != self.id, "a replica never messages itself");
        self.msgs.push((to, msg));
    }
}
