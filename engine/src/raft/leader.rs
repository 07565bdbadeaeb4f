//! The leader side of replication: the heartbeat and check-quorum clock
//! (§6.2), proposals, sending Append and snapshots to each follower,
//! counting acknowledgements into a commit (§5.3, §5.4.2), leadership
//! transfer (§3.10) and confirming reads.

use super::progress::Progress;
use super::*;

impl Raft {
    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        let snapshot_patience = self.cfg.election_ticks_max;
        if self.tracker.tick_snapshots(snapshot_patience) {
            // A follower never acked its snapshot: offer it again.
            self.pending_entries = true;
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
                if !self.tracker.quorum_was_active(&self.membership, self.id) {
                    let term = self.term;
                    self.become_follower(term, None);
                    return;
                }
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.pending_heartbeat = true;
        }
    }

    pub(super) fn check_can_propose(&self) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader,
            });
        }
        if self.transferee.is_some() {
            return Err(RaftError::TransferInProgress);
        }
        if !self.membership.contains(self.id) && !crate::mutant!(self.cfg.mutant, RemovedNotFenced)
        {
            return Err(RaftError::Removed);
        }
        Ok(())
    }

    pub(super) fn append_as_leader(&mut self, payload: Payload) -> Index {
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
    pub(super) fn sync_progress(&mut self) {
        let next = self.log.last_index() + 1;
        self.tracker.sync(&self.other_voters(), next);
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
    pub(super) fn maybe_commit(&mut self) -> bool {
        let index = self
            .tracker
            .committed(&self.membership, self.id, self.log.persisted());
        if index <= self.log.committed
            || (self.log.term(index) != Some(self.term)
                && !crate::mutant!(self.cfg.mutant, CommitOldTerm))
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
            && !crate::mutant!(self.cfg.mutant, RemovedNotFenced)
        {
            self.flush();
            let term = self.term;
            self.become_follower(term, None);
        }
        true
    }

    /// Sends what the batching flags ask for: entries and commit index
    /// to every follower, and a heartbeat round.
    pub(super) fn flush(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let peers = self.tracker.peers();
        if self.pending_entries || self.pending_commit {
            let commit = self.pending_commit;
            for &p in &peers {
                self.send_all_appends(p, commit);
            }
        }
        if self.pending_heartbeat {
            for &p in &peers {
                let matched = self.tracker.matched(p);
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
    pub(super) fn send_all_appends(&mut self, to: NodeId, allow_empty: bool) {
        let mut allow_empty = allow_empty;
        while self.send_append(to, allow_empty) {
            allow_empty = false;
        }
    }

    /// Sends one Append (or an InstallSnapshot when the entries it needs are
    /// compacted). Returns whether it carried entries and more may follow.
    pub(super) fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let Some(pr) = self.tracker.get(to) else {
            return false;
        };
        if pr.is_paused() {
            return false;
        }
        let next = pr.next();
        let prev_index = next - 1;
        assert!(prev_index <= self.log.last_index());
        let Some(prev_term) = self.log.term(prev_index) else {
            // The entries it needs are compacted: send the snapshot instead.
            let meta = self.log.snapshot().clone();
            assert!(meta.index > prev_index);
            self.tracker
                .get_mut(to)
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
        let pr = self.tracker.get_mut(to).expect("checked");
        pr.sent(last, carried);
        let more = carried && pr.is_replicating();
        self.send(to, msg);
        more
    }

    /// A follower's reply reached us: its progress, marked active this
    /// check-quorum round (`None` unless we lead and track it).
    fn reply_from(&mut self, from: NodeId) -> Option<&mut Progress> {
        if self.role != Role::Leader {
            return None;
        }
        let pr = self.tracker.get_mut(from)?;
        pr.heard();
        Some(pr)
    }

    pub(super) fn handle_append_resp(&mut self, from: NodeId, success: bool, index: Index) {
        let last = self.log.last_index();
        let Some(pr) = self.reply_from(from) else {
            return;
        };
        if success {
            debug_assert!(index <= last, "refused by check_claims");
            if pr.acked(index) {
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

    pub(super) fn handle_heartbeat_resp(&mut self, from: NodeId, ctx: u64) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.log.last_index();
        if self
            .reply_from(from)
            .is_some_and(|pr| pr.heartbeat_answered(last))
        {
            self.send_all_appends(from, true);
        }
        if self.membership.contains(from) {
            self.read_only.ack(from, ctx);
            self.release_reads();
        }
    }

    pub(super) fn maybe_send_timeout_now(&mut self) {
        let Some(to) = self.transferee else { return };
        if self.timeout_now_sent {
            return;
        }
        if self
            .tracker
            .get(to)
            .is_some_and(|p| p.matched() == self.log.last_index())
        {
            self.timeout_now_sent = true;
            self.events.push(TraceEvent::TransferLeader {
                term: self.term,
                to,
            });
            self.send(to, Message::TimeoutNow { term: self.term });
        }
    }

    pub(super) fn register_read(&mut self, ctx: u64) {
        if crate::mutant!(self.cfg.mutant, ReadWithoutQuorum) {
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

    pub(super) fn release_reads(&mut self) {
        for rs in self.read_only.release(&self.membership) {
            self.events.push(TraceEvent::ReadIndex {
                term: self.term,
                index: rs.index,
            });
            self.reads.push(rs);
        }
    }
}
