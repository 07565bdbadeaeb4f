//! Membership changes one server at a time (dissertation §4.1): proposing a
//! new configuration and deriving the configuration in force from the log.

use super::*;

impl Raft {
    /// Proposes a single-server membership change: `voters` must differ from
    /// the current membership by exactly one voter (leader only).
    pub fn propose_membership(&mut self, voters: Membership) -> Result<Index, RaftError> {
        self.check_can_propose()?;
        // Dissertation §4.1 (and the 2015 single-server bug): a leader may
        // change the membership only after committing an entry of its term.
        if self.log.term(self.log.committed) != Some(self.term)
            && !crate::mutant!(self.cfg.mutant, MembershipBeforeTermCommit)
        {
            return Err(RaftError::NotCommittedInTerm);
        }
        // §4.1: at most one uncommitted configuration at a time.
        if self.membership_index > self.log.committed
            && !crate::mutant!(self.cfg.mutant, TwoMembershipChanges)
        {
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

    /// The membership from the snapshot, else `initial`, with its index.
    pub(super) fn base_membership(&self) -> (Membership, Index) {
        let snap = self.log.snapshot();
        if snap.index > 0 {
            (snap.membership.clone(), snap.index)
        } else {
            (self.initial.clone(), 0)
        }
    }

    /// §4.1: the latest configuration in the log, else the snapshot's, else `initial`.
    pub(super) fn latest_membership(&self) -> (Membership, Index) {
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

    pub(super) fn refresh_membership(&mut self) {
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
}
