//! Elections: the election timer, pre-vote (§9.6), vote (§5.2, §5.4.1),
//! leadership transfer's TimeoutNow (§3.10), and becoming follower,
//! pre-candidate, candidate or leader.

use super::*;

impl Raft {
    pub(super) fn tick_election(&mut self) {
        self.election_elapsed = self.election_elapsed.saturating_add(1);
        if self.election_elapsed < self.randomized_timeout {
            return;
        }
        // §4.2.2: a server that is not a voter never starts an election
        // (a spare, or a server removed from the configuration). Its timer
        // stops at the timeout: every count past it decides alike (it
        // campaigns at its next tick once it is a voter again, and it is
        // out of any lease), and a counter that grew with every tick would
        // make each tick of a spare a new state for the model checker.
        if !self.promotable() {
            self.election_elapsed = self.randomized_timeout;
            return;
        }
        if self.cfg.pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate(false);
        }
    }

    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let span = u64::from(self.cfg.election_ticks_max - self.cfg.election_ticks_min);
        // A one-tick range needs no draw; skipping it leaves the stream as it
        // is, so two states of the core that differ only in how often the
        // timer was reset compare equal (the model checker relies on it).
        self.randomized_timeout = self.cfg.election_ticks_min
            + if span == 1 {
                0
            } else {
                (self.rng.next_u64() % span) as u32
            };
    }

    /// Common to every role change: adopt `term` (clearing the vote if it is
    /// new), forget leader-only and candidate-only state.
    pub(super) fn reset(&mut self, term: Term) {
        if term != self.term {
            assert!(term > self.term, "§5.1: terms only increase");
            self.term = term;
            self.vote = None;
        }
        if self.role == Role::Leader {
            self.failed_reads.extend(self.read_only.fail_all());
        }
        self.leader = None;
        self.tracker.reset();
        self.transferee = None;
        self.timeout_now_sent = false;
        self.pending_entries = false;
        self.pending_commit = false;
        self.pending_heartbeat = false;
        self.heartbeat_elapsed = 0;
        self.reset_election_timer();
    }

    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        let changed = self.role != Role::Follower || term != self.term || leader != self.leader;
        if term > self.term {
            self.events.push(TraceEvent::TermChange { term });
        }
        // Figure 2: a follower's election timer restarts only for an Append
        // from the current leader or a vote it grants. A follower that only
        // learns a higher term (a candidate whose log it refuses) keeps
        // counting: were it to restart, candidates with stale logs, which
        // cannot win, would keep the up-to-date servers, which can, from
        // ever timing out first (a livelock explore found with pre-vote off).
        let keep_timer = self.role == Role::Follower && leader.is_none();
        let timer = (self.election_elapsed, self.randomized_timeout);
        self.reset(term);
        if keep_timer {
            (self.election_elapsed, self.randomized_timeout) = timer;
        }
        self.role = Role::Follower;
        self.leader = leader;
        if changed {
            self.events
                .push(TraceEvent::BecomeFollower { term, leader });
        }
    }

    pub(super) fn become_pre_candidate(&mut self) {
        assert!(self.role != Role::Leader);
        assert!(self.promotable());
        // §9.6: a pre-candidate keeps its term and vote.
        let term = self.term;
        self.reset(term);
        self.role = Role::PreCandidate;
        self.events
            .push(TraceEvent::StartPreVote { term: term + 1 });
        if self.tracker.record_vote(&self.membership, self.id, true) == VoteResult::Won {
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

    pub(super) fn become_candidate(&mut self, transfer: bool) {
        assert!(self.role != Role::Leader);
        assert!(self.promotable());
        // §5.2: increment the term, vote for self, ask everyone else.
        let term = self.term + 1;
        self.reset(term);
        self.role = Role::Candidate;
        self.vote = Some(self.id);
        self.events.push(TraceEvent::BecomeCandidate { term });
        if self.tracker.record_vote(&self.membership, self.id, true) == VoteResult::Won {
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

    pub(super) fn become_leader(&mut self) {
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

    pub(super) fn other_voters(&self) -> Vec<NodeId> {
        self.membership
            .voters
            .iter()
            .copied()
            .filter(|&v| v != self.id)
            .collect()
    }

    /// §5.4.1: whether a candidate's log (its last index and term) is at
    /// least as up to date as ours, the condition of every (pre-)vote.
    fn log_ok(&self, last_index: Index, last_term: Term) -> bool {
        crate::mutant!(self.cfg.mutant, VoteIgnoresLog)
            || self.log.is_up_to_date(last_index, last_term)
    }

    pub(super) fn handle_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
    ) {
        // §9.6: grant only for a term above ours (a candidate behind in term
        // learns ours from the refusal and catches up first), to an up-to-date
        // log, and only if we have not heard from a leader within the minimum
        // election timeout.
        let can_vote = term > self.term;
        let grant = can_vote && !self.in_lease() && self.log_ok(last_index, last_term);
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

    pub(super) fn handle_pre_vote_resp(&mut self, from: NodeId, term: Term, granted: bool) {
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
        match self.tracker.record_vote(&self.membership, from, granted) {
            VoteResult::Won => self.become_candidate(false),
            VoteResult::Lost => {
                let t = self.term;
                self.become_follower(t, None);
            }
            VoteResult::Pending => {}
        }
    }

    pub(super) fn handle_vote(&mut self, from: NodeId, last_index: Index, last_term: Term) {
        // §5.2: at most one vote per term, first come first served (a repeat
        // of the same request is granted again); §5.4.1: only to a log at
        // least as up to date as ours.
        let can_vote = self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none());
        if can_vote && self.log_ok(last_index, last_term) {
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

    pub(super) fn handle_vote_resp(&mut self, from: NodeId, granted: bool) {
        if self.role != Role::Candidate {
            return;
        }
        match self.tracker.record_vote(&self.membership, from, granted) {
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => {
                let t = self.term;
                self.become_follower(t, None);
            }
            VoteResult::Pending => {}
        }
    }

    pub(super) fn handle_timeout_now(&mut self, _from: NodeId) {
        // §3.10: the leader handed over: campaign at once, skipping pre-vote,
        // with `transfer` set so that voters in a leader lease still answer.
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        self.become_candidate(true);
    }
}
