//! Deliberate bugs ("mutants") that re-create known Raft bugs, so the testbed
//! can prove it catches them (`tumult mutants`).
//!
//! The active mutant is part of a node's configuration
//! ([`NodeConfig::mutant`](crate::node::NodeConfig), copied into each core's
//! [`Config::mutant`](crate::raft::Config) and the store's
//! [`Store::with_mutant`](crate::storage::Store::with_mutant)), so every
//! thread and process that runs the node sees the same one. The hooks
//! ([`mutant!`](crate::mutant)) are compiled only with the cargo feature
//! `mutants`: without it each is the constant `false` and the engine has no
//! extra code path at all; the catalogue below exists in every build, so a
//! configuration can name a mutant either way.
//!
//! ```
//! use tumult_engine::mutants::Mutant;
//!
//! let active = Some(Mutant::VoteIgnoresLog);
//! assert_eq!(tumult_engine::mutant!(active, VoteIgnoresLog), cfg!(feature = "mutants"));
//! assert!(!tumult_engine::mutant!(active, CommitOldTerm));
//! assert_eq!(Mutant::from_name("vote-ignores-log"), Some(Mutant::VoteIgnoresLog));
//! ```

/// Whether this build acts on mutants (the cargo feature `mutants`).
pub const AVAILABLE: bool = cfg!(feature = "mutants");

/// One deliberate bug. Each is a hook of a line or two in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutant {
    /// §5.4.2 / Figure 8: a leader commits an entry of an older term by
    /// counting replicas.
    CommitOldTerm,
    /// The vote is not made durable before the reply leaves (it is lost on a
    /// crash, so the server may vote twice in one term).
    VoteNotPersisted,
    /// §5.4.1: votes (and pre-votes) granted without the log up-to-date check.
    VoteIgnoresLog,
    /// §6.4: read-index reads served without confirming leadership with a quorum.
    ReadWithoutQuorum,
    /// §5.3: a follower advances its commit index to the leader's, past the
    /// last entry this Append proved it holds from this leader.
    FollowerCommitPastAppend,
    /// §5.3: a matching but duplicated or reordered (stale) Append truncates
    /// the entries that follow it.
    StaleAppendTruncates,
    /// sorock 0.12: after a conflict the new entries overwrite the old ones,
    /// but the extra old entries after them are not removed.
    ConflictKeepsSuffix,
    /// sorock 0.12: an entry's term read back from storage is the previous
    /// entry's term.
    WrongEntryTerm,
    /// Appends (and the leader's own copy) are acknowledged before the write is synced.
    AckBeforeSync,
    /// §5.1: a leader does not step down when it sees a higher term.
    LeaderIgnoresHigherTerm,
    /// Dissertation §4.1 (the 2015 single-server bug): a membership change is
    /// accepted before the leader has committed an entry of its term.
    MembershipBeforeTermCommit,
    /// §4.1: a second membership change is accepted while one is uncommitted.
    TwoMembershipChanges,
    /// §4.2.2: a server removed from the configuration is not fenced: it
    /// keeps campaigning and leading.
    RemovedNotFenced,
    /// A retried client write (same request id) is applied twice.
    RetryAppliedTwice,
    /// A follower installing a snapshot keeps its own conflicting log
    /// (it holds an entry at the snapshot's index, of another term).
    SnapshotKeepsSuffix,
    /// A snapshot fetch that completes after the log moved past it (a newer
    /// leader's Appends arrived meanwhile and were acknowledged) still
    /// replaces the log, discarding acknowledged entries after the snapshot.
    LateSnapshotInstall,
}

impl Mutant {
    /// Every mutant, in catalogue order.
    pub const ALL: [Mutant; 16] = [
        Mutant::CommitOldTerm,
        Mutant::VoteNotPersisted,
        Mutant::VoteIgnoresLog,
        Mutant::ReadWithoutQuorum,
        Mutant::FollowerCommitPastAppend,
        Mutant::StaleAppendTruncates,
        Mutant::ConflictKeepsSuffix,
        Mutant::WrongEntryTerm,
        Mutant::AckBeforeSync,
        Mutant::LeaderIgnoresHigherTerm,
        Mutant::MembershipBeforeTermCommit,
        Mutant::TwoMembershipChanges,
        Mutant::RemovedNotFenced,
        Mutant::RetryAppliedTwice,
        Mutant::SnapshotKeepsSuffix,
        Mutant::LateSnapshotInstall,
    ];

    /// The name used on the command line and in `verdict.json`.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::CommitOldTerm => "commit-old-term",
            Mutant::VoteNotPersisted => "vote-not-persisted",
            Mutant::VoteIgnoresLog => "vote-ignores-log",
            Mutant::ReadWithoutQuorum => "read-without-quorum",
            Mutant::FollowerCommitPastAppend => "follower-commit-past-append",
            Mutant::StaleAppendTruncates => "stale-append-truncates",
            Mutant::ConflictKeepsSuffix => "conflict-keeps-suffix",
            Mutant::WrongEntryTerm => "wrong-entry-term",
            Mutant::AckBeforeSync => "ack-before-sync",
            Mutant::LeaderIgnoresHigherTerm => "leader-ignores-higher-term",
            Mutant::MembershipBeforeTermCommit => "membership-before-term-commit",
            Mutant::TwoMembershipChanges => "two-membership-changes",
            Mutant::RemovedNotFenced => "removed-not-fenced",
            Mutant::RetryAppliedTwice => "retry-applied-twice",
            Mutant::SnapshotKeepsSuffix => "snapshot-keeps-suffix",
            Mutant::LateSnapshotInstall => "late-snapshot-install",
        }
    }

    /// The known bug it re-creates, in one line.
    pub fn description(self) -> &'static str {
        match self {
            Mutant::CommitOldTerm => {
                "leader commits an older term's entry by counting replicas (Figure 8)"
            }
            Mutant::VoteNotPersisted => "vote not persisted before replying",
            Mutant::VoteIgnoresLog => "vote granted without the log up-to-date check",
            Mutant::ReadWithoutQuorum => "reads served without confirming leadership",
            Mutant::FollowerCommitPastAppend => {
                "follower commit index advanced past the last entry it holds from this leader"
            }
            Mutant::StaleAppendTruncates => {
                "a matching but duplicated or reordered append truncates the log"
            }
            Mutant::ConflictKeepsSuffix => {
                "extra entries after a conflict not removed (sorock 0.12)"
            }
            Mutant::WrongEntryTerm => {
                "an entry's term read back as the previous entry's term (sorock 0.12)"
            }
            Mutant::AckBeforeSync => "append acknowledged before it is synced",
            Mutant::LeaderIgnoresHigherTerm => "leader does not step down on a higher term",
            Mutant::MembershipBeforeTermCommit => {
                "membership change accepted before the leader commits an entry of its term"
            }
            Mutant::TwoMembershipChanges => "two membership changes in flight",
            Mutant::RemovedNotFenced => "a removed server is not fenced",
            Mutant::RetryAppliedTwice => "retried client write applied twice",
            Mutant::SnapshotKeepsSuffix => "snapshot install keeping the conflicting log suffix",
            Mutant::LateSnapshotInstall => {
                "a late snapshot fetch replaces a log that moved past it, dropping acknowledged entries"
            }
        }
    }

    /// The mutant a `--mutant NAME` flag asks for, if this build acts on
    /// mutants (see [`AVAILABLE`]) and knows `name`; else why not.
    pub fn for_flag(name: &str) -> Result<Mutant, String> {
        if !AVAILABLE {
            return Err(format!(
                "--mutant {name}: this tumult was built without mutants; rebuild with `--features mutants`"
            ));
        }
        Mutant::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
            format!(
                "--mutant {name}: no such mutant; known: {}",
                known.join(", ")
            )
        })
    }

    /// The mutant called `name` (see [`Mutant::name`]).
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl std::fmt::Display for Mutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
