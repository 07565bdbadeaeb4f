//! The follower side of replication: accepting a leader, Append (§5.3),
//! heartbeats and InstallSnapshot (§7).

use super::*;

impl Raft {
    /// A message of our term from `from`, who is therefore the leader of it
    /// ([`Raft::check_claims`] refused it if another node leads the term).
    pub(super) fn accept_leader(&mut self, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            let term = self.term;
            self.become_follower(term, Some(from));
        }
        self.election_elapsed = 0;
    }

    pub(super) fn handle_append(
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
        let mut first_new = if crate::mutant!(self.cfg.mutant, StaleAppendTruncates) {
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
                if crate::mutant!(self.cfg.mutant, ConflictKeepsSuffix) {
                    kept = self.log.slice(last_new + 1, self.log.last_index());
                }
                self.log.truncate(from_index);
                self.events.push(TraceEvent::Truncate {
                    term: self.term,
                    from: from_index,
                });
                if membership_touched {
                    // The configuration reverts with the truncated entry;
                    // reported now, so that one the new entries bring back
                    // at the same index is reported too.
                    self.refresh_membership();
                }
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
        let last_new = if crate::mutant!(self.cfg.mutant, FollowerCommitPastAppend) {
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
    pub(super) fn reject_hint(&self, prev_index: Index, prev_term: Term) -> Index {
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

    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit: Index, ctx: u64) {
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

    pub(super) fn handle_install_snapshot(&mut self, from: NodeId, meta: SnapshotMeta) {
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
            || (crate::mutant!(self.cfg.mutant, SnapshotKeepsSuffix)
                && meta.index <= self.log.last_index())
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
}
