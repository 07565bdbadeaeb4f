//! The vocabulary shared by the consensus core, storage, transport and node layers.
//!
//! Everything here is plain data: no I/O, no clocks. The core consumes and
//! produces these values; the other layers persist and carry them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The id types (`NodeId`, `ShardId`, `Term`, `Index`) live in `tumult-trace`.
pub use tumult_trace::{Index, NodeId, ShardId, Term};

/// The highest term or index a peer may claim. Far beyond any real cluster
/// (2^62 elections or entries), and low enough that the core's `+ 1`s on
/// terms and indexes can never overflow.
pub const MAX_CLAIM: u64 = 1 << 62;

/// Identifies one client request, so that a retried write is applied once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// A client chosen identifier, unique per client session.
    pub client: u64,
    /// Increases with every new request of the client; a retry reuses it.
    pub seq: u64,
}

/// The voting members of a shard. Single-server changes: every configuration
/// entry carries the whole new set, and differs from the previous one by at
/// most one server (Raft dissertation §4.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Membership {
    /// The voters, in ascending order.
    pub voters: BTreeSet<NodeId>,
}

impl Membership {
    /// A membership of the given voters.
    pub fn new(voters: impl IntoIterator<Item = NodeId>) -> Self {
        Membership {
            voters: voters.into_iter().collect(),
        }
    }

    /// The smallest number of voters that is a majority.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Whether `id` is a voter.
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Payload {
    /// The entry a new leader appends at the start of its term (§8).
    Noop,
    /// An application command.
    Command {
        /// Set for client writes, so that a retry is applied once.
        request: Option<RequestId>,
        /// The application's bytes.
        data: Vec<u8>,
    },
    /// A new membership, effective as soon as it is in the log (§4.1).
    Config(Membership),
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 1.
    pub index: Index,
    /// The term of the leader that created it.
    pub term: Term,
    /// What it carries.
    pub payload: Payload,
}

impl Entry {
    /// About how many bytes the entry takes in a message: its payload plus
    /// a fixed overhead for index, term and framing.
    pub fn size(&self) -> u64 {
        let payload = match &self.payload {
            Payload::Noop => 0,
            Payload::Command { data, .. } => data.len(),
            Payload::Config(m) => 8 * m.voters.len(),
        };
        payload as u64 + 32
    }
}

/// The durable ballot of a server: its current term and its vote in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this server has seen.
    pub term: Term,
    /// The candidate it voted for in `term`, if any.
    pub vote: Option<NodeId>,
}

/// Describes a snapshot: the log prefix it replaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The index of the last entry the snapshot includes.
    pub index: Index,
    /// The term of that entry.
    pub term: Term,
    /// The membership in force at `index`.
    pub membership: Membership,
}

/// What a server's disk held when it started: the input to the core's constructor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The ballot.
    pub hard_state: HardState,
    /// The latest snapshot, if the log was ever compacted.
    pub snapshot: Option<SnapshotMeta>,
    /// The entries after the snapshot, contiguous and in order.
    pub entries: Vec<Entry>,
}

/// A message between the replicas of one shard. The node layer adds the
/// shard and the sender and carries it; delivery may lose, delay, duplicate
/// and reorder messages, and the core must be safe under all of these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Message {
    /// Pre-vote (§9.6 of the dissertation): would you vote for me in `term`?
    /// `term` is the sender's current term + 1; nobody changes term for it.
    PreVote {
        term: Term,
        last_index: Index,
        last_term: Term,
    },
    /// The answer to a pre-vote. `term` is the pre-vote's term when granted,
    /// the responder's own term when refused.
    PreVoteResp { term: Term, granted: bool },
    /// RequestVote (§5.2). `transfer` is set when the candidate campaigns
    /// because the leader handed over with TimeoutNow, so voters do not
    /// refuse it for having heard from a leader recently.
    Vote {
        term: Term,
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    /// The answer to RequestVote.
    VoteResp { term: Term, granted: bool },
    /// AppendEntries (§5.3).
    Append {
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// The answer to AppendEntries. On success `index` is the highest index
    /// the follower now holds from this leader; on failure it is a hint: the
    /// index the leader should try next.
    AppendResp {
        term: Term,
        success: bool,
        index: Index,
    },
    /// A heartbeat: leadership and commit index (never past what the follower
    /// is known to hold). `ctx` identifies the read-index round it confirms.
    Heartbeat { term: Term, commit: Index, ctx: u64 },
    /// The answer to a heartbeat, echoing `ctx`.
    HeartbeatResp { term: Term, ctx: u64 },
    /// Leadership transfer: campaign now, skipping pre-vote.
    TimeoutNow { term: Term },
    /// The follower is behind the leader's compacted log: fetch this snapshot.
    InstallSnapshot { term: Term, meta: SnapshotMeta },
}

impl Message {
    /// The message kind (`Append`, `AppendResp`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Message::PreVote { .. } => "PreVote",
            Message::PreVoteResp { .. } => "PreVoteResp",
            Message::Vote { .. } => "Vote",
            Message::VoteResp { .. } => "VoteResp",
            Message::Append { .. } => "Append",
            Message::AppendResp { .. } => "AppendResp",
            Message::Heartbeat { .. } => "Heartbeat",
            Message::HeartbeatResp { .. } => "HeartbeatResp",
            Message::TimeoutNow { .. } => "TimeoutNow",
            Message::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }

    /// Checks what a message claims on its own, whatever the receiver's
    /// state: terms and indexes within [`MAX_CLAIM`], an Append's entries
    /// contiguous after `prev_index` with terms that never decrease, start at
    /// `prev_term` or later and never exceed the sender's term,
    /// `prev_index == 0` exactly when `prev_term == 0`, a snapshot not newer
    /// than the term that sends it. Transport decoding and [`Raft::step`]
    /// both apply it.
    ///
    /// [`Raft::step`]: crate::raft::Raft::step
    pub fn check(&self) -> Result<(), String> {
        let bounded = |what: &str, v: u64| {
            if v > MAX_CLAIM {
                Err(format!(
                    "{what} {v} is beyond the largest allowed ({MAX_CLAIM})"
                ))
            } else {
                Ok(())
            }
        };
        // Index 0 (the empty prefix) has term 0, and only index 0 does.
        let position = |what: &str, index: Index, term: Term| {
            if (index == 0) != (term == 0) {
                Err(format!(
                    "{what} ({index}, {term}): index 0 has term 0 and only index 0 does"
                ))
            } else {
                Ok(())
            }
        };
        bounded("term", self.term())?;
        match self {
            Message::PreVote {
                last_index,
                last_term,
                ..
            }
            | Message::Vote {
                last_index,
                last_term,
                ..
            } => {
                bounded("last_index", *last_index)?;
                bounded("last_term", *last_term)?;
                position("last entry", *last_index, *last_term)?;
            }
            Message::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                bounded("prev_index", *prev_index)?;
                bounded("commit", *commit)?;
                position("prev", *prev_index, *prev_term)?;
                if prev_term > term {
                    return Err(format!(
                        "prev_term {prev_term} is newer than the Append's term {term}"
                    ));
                }
                let mut floor = *prev_term;
                for (i, e) in entries.iter().enumerate() {
                    let want = prev_index.checked_add(1 + i as u64);
                    if Some(e.index) != want || e.index > MAX_CLAIM {
                        return Err(format!(
                            "entry {i} has index {}, not {} (entries follow prev_index contiguously)",
                            e.index,
                            prev_index.saturating_add(1 + i as u64)
                        ));
                    }
                    if e.term < floor || e.term > *term {
                        return Err(format!(
                            "entry {} has term {}: terms never decrease along a log and never exceed the leader's term {term}",
                            e.index, e.term
                        ));
                    }
                    floor = e.term;
                }
            }
            Message::AppendResp { index, .. } => bounded("index", *index)?,
            Message::Heartbeat { commit, .. } => bounded("commit", *commit)?,
            Message::InstallSnapshot { term, meta } => {
                bounded("snapshot index", meta.index)?;
                if meta.index == 0 || meta.term == 0 {
                    return Err(format!(
                        "snapshot ({}, {}) covers no entry",
                        meta.index, meta.term
                    ));
                }
                if meta.term > *term {
                    return Err(format!(
                        "snapshot term {} is newer than the message's term {term}",
                        meta.term
                    ));
                }
            }
            Message::PreVoteResp { .. }
            | Message::VoteResp { .. }
            | Message::HeartbeatResp { .. }
            | Message::TimeoutNow { .. } => {}
        }
        Ok(())
    }

    /// The term the message carries.
    pub fn term(&self) -> Term {
        match self {
            Message::PreVote { term, .. }
            | Message::PreVoteResp { term, .. }
            | Message::Vote { term, .. }
            | Message::VoteResp { term, .. }
            | Message::Append { term, .. }
            | Message::AppendResp { term, .. }
            | Message::Heartbeat { term, .. }
            | Message::HeartbeatResp { term, .. }
            | Message::TimeoutNow { term }
            | Message::InstallSnapshot { term, .. } => *term,
        }
    }
}
