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
//! Layout: [`log`](self) keeps entries and cursors, `progress` the leader's
//! view of each follower, `quorum` the majority arithmetic, `read_only` the
//! read-index protocol.

mod log;
mod progress;
mod quorum;
mod read_only;
mod types;

#[cfg(test)]
mod tests;

pub use types::*;

use crate::trace::TraceEvent;
use log::RaftLog;
use progress::{Progress, ProgressState};
use quorum::VoteResult;
use read_only::ReadOnly;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tunables of one replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This server.
    pub id: NodeId,
    /// Randomized election timeout in `[min, max)` ticks, drawn again at every reset.
    pub election_ticks_min: u32,
    pub election_ticks_max: u32,
    /// A leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// Run a pre-vote round before a real election (dissertation §9.6).
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
        }
    }

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
    }
}

/// What a replica currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// splitmix64: a tiny deterministic PRNG for election timeouts.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The consensus state machine of one replica of one shard.
#[derive(Clone, Debug)]
pub struct Raft {
    shard: ShardId,
    id: NodeId,
    cfg: Config,
    rng: Rng,

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

    /// Leader: every other voter's log.
    progress: BTreeMap<NodeId, Progress>,
    /// (Pre-)candidate: answers received.
    votes: BTreeMap<NodeId, bool>,

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
            rng: Rng(seed),
            cfg: config,
            term: hs.term,
            vote: hs.vote,
            role: Role::Follower,
            leader: None,
            log,
            initial,
            membership: Membership::default(),
            membership_index: 0,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
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

    // ----------------------------------------------------------------------
    // Inputs
    // ----------------------------------------------------------------------

    /// One logical clock tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    fn tick_election(&mut self) {
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        // §4.2.2: a server that is not a voter never starts an election
        // (a spare, or a server removed from the configuration).
        if self.election_elapsed < self.randomized_timeout || !self.promotable() {
            return;
        }
        if self.cfg.pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate(false);
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        let snapshot_patience = self.cfg.election_ticks_max;
        for pr in self.progress.values_mut() {
            if let ProgressState::Snapshot(_) = pr.state {
                pr.snapshot_ticks += 1;
                if pr.snapshot_ticks >= snapshot_patience {
                    // The follower never acked: offer the snapshot again.
                    pr.become_probe();
                    self.pending_entries = true;
                }
            }
        }
        if self.transferee.is_some() {
            self.transfer_elapsed += 1;
            if self.transfer_elapsed >= self.cfg.election_ticks_min {
                // §3.10: abort a transfer that did not complete within an election timeout.
                self.transferee = None;
                self.timeout_now_sent = false;
            }
        }
        if self.election_elapsed >= self.cfg.election_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                // §6.2: a leader that cannot reach a majority within an
                // election timeout steps down, so clients look elsewhere.
                let active = self
                    .membership
                    .voters
                    .iter()
                    .filter(|&&v| {
                        v == self.id || self.progress.get(&v).is_some_and(|p| p.recent_active)
                    })
                    .count();
                if active < self.membership.quorum() {
                    let term = self.term;
                    self.become_follower(term, None);
                    return;
                }
                for pr in self.progress.values_mut() {
                    pr.recent_active = false;
                }
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.pending_heartbeat = true;
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
        if let Err(why) = msg.check() {
            self.reject(from, &msg, why);
            return;
        }
        if let Err(why) = self.check_claims(from, &msg) {
            self.reject(from, &msg, why);
            return;
        }
        let mterm = msg.term();
        if mterm > self.term
            && !(self.role == Role::Leader && crate::mutant!(LeaderIgnoresHigherTerm))
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

    /// Proposes a single-server membership change: `voters` must differ from
    /// the current membership by exactly one voter (leader only).
    pub fn propose_membership(&mut self, voters: Membership) -> Result<Index, RaftError> {
        self.check_can_propose()?;
        // Dissertation §4.1 (and the 2015 single-server bug): a leader may
        // change the membership only after committing an entry of its term.
        if self.log.term(self.log.committed) != Some(self.term)
            && !crate::mutant!(MembershipBeforeTermCommit)
        {
            return Err(RaftError::NotCommittedInTerm);
        }
        // §4.1: at most one uncommitted configuration at a time.
        if self.membership_index > self.log.committed && !crate::mutant!(TwoMembershipChanges) {
            return Err(RaftError::ChangeInProgress);
        }
        if voters.voters.is_empty() {
            return Err(RaftError::InvalidChange(
                "a shard needs at least one voter".to_string(),
            ));
        }
        let changed = self
            .membership
            .voters
            .symmetric_difference(&voters.voters)
            .count();
        if changed != 1 {
            return Err(RaftError::InvalidChange(format!(
                "a change adds or removes exactly one voter; {:?} -> {:?} changes {changed}",
                self.membership.voters, voters.voters
            )));
        }
        Ok(self.append_as_leader(Payload::Config(voters)))
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
        if crate::mutant!(LateSnapshotInstall) {
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

    // ----------------------------------------------------------------------
    // Outputs
    // ----------------------------------------------------------------------

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
            .max_by_key(|v| {
                (
                    self.progress.get(v).map_or(0, |p| p.matched),
                    std::cmp::Reverse(*v),
                )
            })
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

    // ----------------------------------------------------------------------
    // Role changes
    // ----------------------------------------------------------------------

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
        }
    }

    fn promotable(&self) -> bool {
        self.membership.contains(self.id)
            || (crate::mutant!(RemovedNotFenced) && self.membership_index > 0)
    }

    /// Heard from a leader within the minimum election timeout.
    fn in_lease(&self) -> bool {
        self.leader.is_some() && self.election_elapsed < self.cfg.election_ticks_min
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let span = u64::from(self.cfg.election_ticks_max - self.cfg.election_ticks_min);
        self.randomized_timeout = self.cfg.election_ticks_min + (self.rng.next() % span) as u32;
    }

    /// Common to every role change: adopt `term` (clearing the vote if it is
    /// new), forget leader-only and candidate-only state.
    fn reset(&mut self, term: Term) {
        if term != self.term {
            assert!(term > self.term, "§5.1: terms only increase");
            self.term = term;
            self.vote = None;
        }
        if self.role == Role::Leader {
            self.failed_reads.extend(self.read_only.fail_all());
        }
        self.leader = None;
        self.votes.clear();
        self.progress.clear();
        self.transferee = None;
        self.timeout_now_sent = false;
        self.pending_entries = false;
        self.pending_commit = false;
        self.pending_heartbeat = false;
        self.heartbeat_elapsed = 0;
        self.reset_election_timer();
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        let changed = self.role != Role::Follower || term != self.term || leader != self.leader;
        if term > self.term {
            self.events.push(TraceEvent::TermChange { term });
        }
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
        if changed {
            self.events
                .push(TraceEvent::BecomeFollower { term, leader });
        }
    }

    fn become_pre_candidate(&mut self) {
        assert!(self.role != Role::Leader);
        assert!(self.promotable());
        // §9.6: a pre-candidate keeps its term and vote.
        let term = self.term;
        self.reset(term);
        self.role = Role::PreCandidate;
        self.events
            .push(TraceEvent::StartPreVote { term: term + 1 });
        self.votes.insert(self.id, true);
        if quorum::vote_result(&self.membership, &self.votes) == VoteResult::Won {
            self.become_candidate(false);
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for v in self.other_voters() {
            self.send(
                v,
                Message::PreVote {
                    term: term + 1,
                    last_index,
                    last_term,
                },
            );
        }
    }

    fn become_candidate(&mut self, transfer: bool) {
        assert!(self.role != Role::Leader);
        assert!(self.promotable());
        // §5.2: increment the term, vote for self, ask everyone else.
        let term = self.term + 1;
        self.reset(term);
        self.role = Role::Candidate;
        self.vote = Some(self.id);
        self.events.push(TraceEvent::BecomeCandidate { term });
        self.votes.insert(self.id, true);
        if quorum::vote_result(&self.membership, &self.votes) == VoteResult::Won {
            self.become_leader();
            return;
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for v in self.other_voters() {
            self.send(
                v,
                Message::Vote {
                    term,
                    last_index,
                    last_term,
                    transfer,
                },
            );
        }
    }

    fn become_leader(&mut self) {
        assert_eq!(
            self.role,
            Role::Candidate,
            "only a candidate becomes leader"
        );
        assert_eq!(self.vote, Some(self.id));
        let term = self.term;
        self.reset(term);
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.sync_progress();
        self.events.push(TraceEvent::BecomeLeader { term });
        // §8: a new leader appends a no-op of its term, so it can commit
        // (and learn the commit index) without waiting for a client.
        self.append_as_leader(Payload::Noop);
    }

    fn other_voters(&self) -> Vec<NodeId> {
        self.membership
            .voters
            .iter()
            .copied()
            .filter(|&v| v != self.id)
            .collect()
    }

    // ----------------------------------------------------------------------
    // Elections
    // ----------------------------------------------------------------------

    fn handle_pre_vote(&mut self, from: NodeId, term: Term, last_index: Index, last_term: Term) {
        // §9.6: grant only for a term above ours (a candidate behind in term
        // learns ours from the refusal and catches up first), to an up-to-date
        // log, and only if we have not heard from a leader within the minimum
        // election timeout.
        let can_vote = term > self.term;
        let grant = can_vote && !self.in_lease() && self.log.is_up_to_date(last_index, last_term);
        if grant {
            self.events.push(TraceEvent::PreVoteGranted {
                term,
                candidate: from,
            });
            self.send(
                from,
                Message::PreVoteResp {
                    term,
                    granted: true,
                },
            );
        } else {
            self.send(
                from,
                Message::PreVoteResp {
                    term: self.term,
                    granted: false,
                },
            );
        }
    }

    fn handle_pre_vote_resp(&mut self, from: NodeId, term: Term, granted: bool) {
        if self.role != Role::PreCandidate {
            return;
        }
        let ours = if granted {
            term == self.term + 1
        } else {
            term == self.term
        };
        if !ours {
            return;
        }
        self.votes.entry(from).or_insert(granted);
        match quorum::vote_result(&self.membership, &self.votes) {
            VoteResult::Won => self.become_candidate(false),
            VoteResult::Lost => {
                let t = self.term;
                self.become_follower(t, None);
            }
            VoteResult::Pending => {}
        }
    }

    fn handle_vote(&mut self, from: NodeId, last_index: Index, last_term: Term) {
        // §5.2: at most one vote per term, first come first served (a repeat
        // of the same request is granted again); §5.4.1: only to a log at
        // least as up to date as ours.
        let can_vote = self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none());
        if can_vote && self.log.is_up_to_date(last_index, last_term) {
            self.vote = Some(from);
            self.reset_election_timer();
            self.events.push(TraceEvent::VoteGranted {
                term: self.term,
                candidate: from,
            });
            // Leaves only with the Ready that persists the vote.
            self.send(
                from,
                Message::VoteResp {
                    term: self.term,
                    granted: true,
                },
            );
        } else {
            self.send(
                from,
                Message::VoteResp {
                    term: self.term,
                    granted: false,
                },
            );
        }
    }

    fn handle_vote_resp(&mut self, from: NodeId, granted: bool) {
        if self.role != Role::Candidate {
            return;
        }
        self.votes.entry(from).or_insert(granted);
        match quorum::vote_result(&self.membership, &self.votes) {
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => {
                let t = self.term;
                self.become_follower(t, None);
            }
            VoteResult::Pending => {}
        }
    }

    fn handle_timeout_now(&mut self, _from: NodeId) {
        // §3.10: the leader handed over: campaign at once, skipping pre-vote,
        // with `transfer` set so that voters in a leader lease still answer.
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        self.become_candidate(true);
    }

    // ----------------------------------------------------------------------
    // What a peer may claim
    // ----------------------------------------------------------------------

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

    // ----------------------------------------------------------------------
    // Follower side of replication
    // ----------------------------------------------------------------------

    /// A message of our term from `from`, who is therefore the leader of it
    /// ([`Raft::check_claims`] refused it if another node leads the term).
    fn accept_leader(&mut self, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            let term = self.term;
            self.become_follower(term, Some(from));
        }
        self.election_elapsed = 0;
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        mut prev_index: Index,
        mut prev_term: Term,
        mut entries: Vec<Entry>,
        leader_commit: Index,
    ) {
        self.accept_leader(from);
        // Message::check: entries contiguous after prev_index, terms in
        // [prev_term, term]; check_claims: no committed entry rewritten.
        let last_new = prev_index + entries.len() as u64;
        let committed = self.log.committed;
        if prev_index < committed {
            // Our committed prefix is in every later leader's log (§5.4.3
            // leader completeness): skip it, even where it is compacted.
            if last_new <= committed {
                self.send(
                    from,
                    Message::AppendResp {
                        term: self.term,
                        success: true,
                        index: committed,
                    },
                );
                return;
            }
            entries.drain(..(committed - prev_index) as usize);
            prev_index = committed;
            prev_term = self
                .log
                .term(committed)
                .expect("the commit index is never compacted away");
        }

        // §5.3: refuse unless we hold the entry before the new ones.
        if self.log.term(prev_index) != Some(prev_term) {
            let hint = self.reject_hint(prev_index, prev_term);
            self.send(
                from,
                Message::AppendResp {
                    term: self.term,
                    success: false,
                    index: hint,
                },
            );
            return;
        }

        // §5.3: delete only from the first entry that conflicts (same index,
        // different term); entries we already hold stay, and so does what
        // follows them, so a stale or reordered Append never truncates.
        let mut first_new = if crate::mutant!(StaleAppendTruncates) {
            0
        } else {
            entries.len()
        };
        for (i, e) in entries.iter().enumerate() {
            if self.log.term(e.index) != Some(e.term) {
                first_new = i;
                break;
            }
        }
        if first_new < entries.len() {
            let from_index = entries[first_new].index;
            let mut membership_touched = false;
            let mut kept = Vec::new(); // mutant ConflictKeepsSuffix
            if from_index <= self.log.last_index() {
                assert!(
                    from_index > self.log.committed,
                    "§5.3: a committed entry is never truncated"
                );
                membership_touched |= self
                    .log
                    .entries()
                    .iter()
                    .any(|e| e.index >= from_index && matches!(e.payload, Payload::Config(_)));
                if crate::mutant!(ConflictKeepsSuffix) {
                    kept = self.log.slice(last_new + 1, self.log.last_index());
                }
                self.log.truncate(from_index);
                self.events.push(TraceEvent::Truncate {
                    term: self.term,
                    from: from_index,
                });
            }
            let new = &entries[first_new..];
            membership_touched |= new.iter().any(|e| matches!(e.payload, Payload::Config(_)));
            self.log.append(new);
            self.log.append(&kept);
            self.events.push(TraceEvent::Append {
                term: self.term,
                from: from_index,
                to: last_new,
                terms: new.iter().map(|e| e.term).collect(),
            });
            if membership_touched {
                // §4.1: a configuration takes effect as soon as it is in the
                // log, and reverts if it is truncated away.
                self.refresh_membership();
            }
        }

        // §5.3: commit = min(leaderCommit, index of last new entry): never
        // past what this Append proved we hold from this leader.
        let last_new = if crate::mutant!(FollowerCommitPastAppend) {
            self.log.last_index()
        } else {
            last_new
        };
        self.commit_to(leader_commit.min(last_new));
        self.send(
            from,
            Message::AppendResp {
                term: self.term,
                success: true,
                index: last_new,
            },
        );
    }

    /// The index the leader should try next after we refused an Append at
    /// (`prev_index`, `prev_term`): one past the last entry that could still
    /// match the leader's log, skipping entries whose terms cannot be in it.
    /// Always in `(commit, prev_index]`, so the leader backs off strictly.
    fn reject_hint(&self, prev_index: Index, prev_term: Term) -> Index {
        let last = self.log.last_index();
        let (mut j, bound) = if prev_index > last {
            (last, prev_term)
        } else {
            let ours = self
                .log
                .term(prev_index)
                .expect("prev_index is above the commit index");
            // The leader's terms up to prev_index are <= prev_term, and the
            // entry of term `ours` there did not match: skip that term too.
            (prev_index - 1, prev_term.min(ours.saturating_sub(1)))
        };
        while j > self.log.committed && self.log.term(j).is_some_and(|t| t > bound) {
            j -= 1;
        }
        assert!(j < prev_index);
        j + 1
    }

    fn handle_heartbeat(&mut self, from: NodeId, commit: Index, ctx: u64) {
        self.accept_leader(from);
        // The leader never sends a commit index past what it knows we hold.
        self.commit_to(commit.min(self.log.last_index()));
        self.send(
            from,
            Message::HeartbeatResp {
                term: self.term,
                ctx,
            },
        );
    }

    fn handle_install_snapshot(&mut self, from: NodeId, meta: SnapshotMeta) {
        self.accept_leader(from);
        if meta.index <= self.log.committed {
            // Older than what we know is committed: nothing to install.
            let index = self.log.committed;
            self.send(
                from,
                Message::AppendResp {
                    term: self.term,
                    success: true,
                    index,
                },
            );
            return;
        }
        if self.log.term(meta.index) == Some(meta.term)
            || (crate::mutant!(SnapshotKeepsSuffix) && meta.index <= self.log.last_index())
        {
            // We hold the snapshot's last entry: by log matching we hold the
            // whole prefix, so just commit it.
            self.commit_to(meta.index);
            self.send(
                from,
                Message::AppendResp {
                    term: self.term,
                    success: true,
                    index: meta.index,
                },
            );
            return;
        }
        self.snapshot_request = Some((from, self.term, meta.clone()));
        self.fetch_snapshot = Some((from, meta));
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

    // ----------------------------------------------------------------------
    // Leader side of replication
    // ----------------------------------------------------------------------

    fn check_can_propose(&self) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader,
            });
        }
        if self.transferee.is_some() {
            return Err(RaftError::TransferInProgress);
        }
        if !self.membership.contains(self.id) && !crate::mutant!(RemovedNotFenced) {
            return Err(RaftError::Removed);
        }
        Ok(())
    }

    fn append_as_leader(&mut self, payload: Payload) -> Index {
        assert_eq!(self.role, Role::Leader);
        let is_config = matches!(payload, Payload::Config(_));
        let entry = Entry {
            index: self.log.last_index() + 1,
            term: self.term,
            payload,
        };
        let index = entry.index;
        self.log.append(std::slice::from_ref(&entry));
        self.events.push(TraceEvent::Append {
            term: self.term,
            from: index,
            to: index,
            terms: vec![self.term],
        });
        self.pending_entries = true;
        if is_config {
            self.refresh_membership();
        }
        index
    }

    /// Adds progress for new voters, drops it for removed ones.
    fn sync_progress(&mut self) {
        let next = self.log.last_index() + 1;
        let voters = self.other_voters();
        self.progress.retain(|id, _| voters.contains(id));
        for v in voters {
            self.progress
                .entry(v)
                .or_insert_with(|| Progress::new(next));
        }
        if let Some(t) = self.transferee {
            if !self.membership.contains(t) {
                self.transferee = None;
                self.timeout_now_sent = false;
            }
        }
    }

    /// §5.4.2: only entries of the current term are committed by counting
    /// replicas; earlier ones are committed indirectly by them. The leader
    /// counts itself (if it is a voter) up to its durable index only.
    fn maybe_commit(&mut self) -> bool {
        let own = self.log.persisted();
        let id = self.id;
        let progress = &self.progress;
        let index = quorum::committed_index(&self.membership, |v| {
            if v == id {
                own
            } else {
                progress.get(&v).map_or(0, |p| p.matched)
            }
        });
        if index <= self.log.committed
            || (self.log.term(index) != Some(self.term) && !crate::mutant!(CommitOldTerm))
        {
            return false;
        }
        self.commit_to(index);
        self.pending_commit = true;
        // §6.4: reads waiting for the first commit of the term may proceed.
        for ctx in self.read_only.take_waiting() {
            self.register_read(ctx);
        }
        // §4.2.2: a leader that is not in the committed configuration steps down.
        if !self.membership.contains(self.id)
            && self.membership_index <= self.log.committed
            && !crate::mutant!(RemovedNotFenced)
        {
            self.flush();
            let term = self.term;
            self.become_follower(term, None);
        }
        true
    }

    /// Sends what the batching flags ask for: entries and commit index
    /// to every follower, and a heartbeat round.
    fn flush(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        if self.pending_entries || self.pending_commit {
            let commit = self.pending_commit;
            for &p in &peers {
                self.send_all_appends(p, commit);
            }
        }
        if self.pending_heartbeat {
            for &p in &peers {
                let matched = self.progress[&p].matched;
                let hb = Message::Heartbeat {
                    term: self.term,
                    commit: self.log.committed.min(matched),
                    ctx: self.read_only.round(),
                };
                self.send(p, hb);
            }
        }
        self.pending_entries = false;
        self.pending_commit = false;
        self.pending_heartbeat = false;
    }

    /// Sends as many Appends as the follower's progress allows; the first
    /// one may be empty (to carry the commit index or probe).
    fn send_all_appends(&mut self, to: NodeId, allow_empty: bool) {
        let mut allow_empty = allow_empty;
        while self.send_append(to, allow_empty) {
            allow_empty = false;
        }
    }

    /// Sends one Append (or an InstallSnapshot when the entries it needs are
    /// compacted). Returns whether it carried entries and more may follow.
    fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next;
        let prev_index = next - 1;
        assert!(prev_index <= self.log.last_index());
        let Some(prev_term) = self.log.term(prev_index) else {
            // The entries it needs are compacted: send the snapshot instead.
            let meta = self.log.snapshot().clone();
            assert!(meta.index > prev_index);
            self.progress
                .get_mut(&to)
                .expect("checked")
                .become_snapshot(meta.index);
            self.send(
                to,
                Message::InstallSnapshot {
                    term: self.term,
                    meta,
                },
            );
            return false;
        };
        let last = self
            .log
            .last_index()
            .min(prev_index + self.cfg.max_append_entries as u64);
        let mut entries = self.log.slice(next, last);
        // Capped by bytes too, so that the message stays below what the peer
        // accepts: at least one entry, then as many as fit.
        let mut bytes = 0u64;
        let fit = entries
            .iter()
            .take_while(|e| {
                bytes += e.size();
                bytes <= self.cfg.max_append_bytes
            })
            .count()
            .max(1);
        entries.truncate(fit);
        let last = entries.last().map_or(prev_index, |e| e.index);
        if entries.is_empty() && !allow_empty {
            return false;
        }
        let carried = !entries.is_empty();
        let msg = Message::Append {
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.log.committed,
        };
        self.progress
            .get_mut(&to)
            .expect("checked")
            .sent(last, carried);
        self.send(to, msg);
        carried && self.progress[&to].state == ProgressState::Replicate
    }

    fn handle_append_resp(&mut self, from: NodeId, success: bool, index: Index) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if success {
            debug_assert!(index <= last, "refused by check_claims");
            let news = pr.ack(index);
            match pr.state {
                ProgressState::Probe => pr.become_replicate(),
                ProgressState::Snapshot(pending) if pr.matched >= pending => pr.become_replicate(),
                _ => {}
            }
            if news {
                self.maybe_commit();
                if self.role != Role::Leader {
                    return;
                }
                self.maybe_send_timeout_now();
            }
            self.send_all_appends(from, false);
        } else if pr.reject(index) {
            self.send_all_appends(from, true);
        }
    }

    fn handle_heartbeat_resp(&mut self, from: NodeId, ctx: u64) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if pr.matched < last {
            match pr.state {
                ProgressState::Probe => pr.probe_sent = false,
                ProgressState::Replicate if pr.is_paused() => {
                    // An Append may have been lost: make room to send again.
                    pr.inflight.pop_front();
                }
                _ => {}
            }
            self.send_all_appends(from, true);
        }
        if self.membership.contains(from) {
            self.read_only.ack(from, ctx);
            self.release_reads();
        }
    }

    fn maybe_send_timeout_now(&mut self) {
        let Some(to) = self.transferee else { return };
        if self.timeout_now_sent {
            return;
        }
        if self
            .progress
            .get(&to)
            .is_some_and(|p| p.matched == self.log.last_index())
        {
            self.timeout_now_sent = true;
            self.events.push(TraceEvent::TransferLeader {
                term: self.term,
                to,
            });
            self.send(to, Message::TimeoutNow { term: self.term });
        }
    }

    fn register_read(&mut self, ctx: u64) {
        if crate::mutant!(ReadWithoutQuorum) {
            return self.reads.push(ReadState {
                ctx,
                index: self.log.committed,
            });
        }
        let me = self.membership.contains(self.id).then_some(self.id);
        self.read_only.add(ctx, self.log.committed, me);
        self.release_reads();
        if !self.read_only.is_empty() {
            // §6.4 step 2: confirm leadership with a fresh heartbeat round.
            self.pending_heartbeat = true;
        }
    }

    fn release_reads(&mut self) {
        for rs in self.read_only.release(&self.membership) {
            self.events.push(TraceEvent::ReadIndex {
                term: self.term,
                index: rs.index,
            });
            self.reads.push(rs);
        }
    }

    // ----------------------------------------------------------------------
    // Membership
    // ----------------------------------------------------------------------

    /// The membership from the snapshot, else `initial`, with its index.
    fn base_membership(&self) -> (Membership, Index) {
        let snap = self.log.snapshot();
        if snap.index > 0 {
            (snap.membership.clone(), snap.index)
        } else {
            (self.initial.clone(), 0)
        }
    }

    /// §4.1: the latest configuration in the log, else the snapshot's, else `initial`.
    fn latest_membership(&self) -> (Membership, Index) {
        self.log
            .entries()
            .iter()
            .rev()
            .find_map(|e| match &e.payload {
                Payload::Config(m) => Some((m.clone(), e.index)),
                _ => None,
            })
            .unwrap_or_else(|| self.base_membership())
    }

    fn refresh_membership(&mut self) {
        let (m, index) = self.latest_membership();
        if m == self.membership && index == self.membership_index {
            return;
        }
        self.membership = m;
        self.membership_index = index;
        self.events.push(TraceEvent::Membership {
            index,
            voters: self.membership.voters.iter().copied().collect(),
        });
        if self.role == Role::Leader {
            self.sync_progress();
            self.pending_entries = true;
            // The quorum changed: commit and reads may move.
            self.maybe_commit();
            if self.role == Role::Leader {
                self.release_reads();
            }
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        assert!(to != self.id, "a replica never messages itself");
        self.msgs.push((to, msg));
    }
}
