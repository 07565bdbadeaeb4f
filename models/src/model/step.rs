//! The protocol: which actions are enabled, and what each one does.
//!
//! One function per message kind, as in etcd/raft's `step`; the paper's rules
//! are named where they are enforced.

use super::{Action, Body, Bug, LeaderLog, Message, RaftModel, RaftState, Volatile};
use crate::invariants::{
    check_transition, check_truncate, Index, LogEntry, NodeId, Payload, Role, ServerState,
    Snapshot, Term, Violation,
};

fn quorum(voters: &[NodeId]) -> usize {
    voters.len() / 2 + 1
}

fn note(state: &mut RaftState, result: Result<(), Violation>) {
    if let Err(v) = result {
        if state.broken.is_none() {
            state.broken = Some(v);
        }
    }
}

impl RaftModel {
    fn bug(&self, bug: Bug) -> bool {
        self.config.bug == Some(bug)
    }

    /// Every action enabled in `state`, in a deterministic order.
    pub(super) fn enabled_actions(&self, state: &RaftState, actions: &mut Vec<Action>) {
        let cfg = &self.config;
        for (&id, s) in &state.cluster.servers {
            let vol = &state.volatile[&id];
            let voters = s.voters();
            if s.role != Role::Leader && s.term < cfg.max_term && voters.contains(&id) {
                actions.push(Action::Timeout(id));
            }
            if s.role == Role::PreCandidate
                && vol.granted.iter().filter(|v| voters.contains(v)).count() >= quorum(voters)
            {
                actions.push(Action::Campaign(id));
            }
            if s.role == Role::Leader {
                actions.push(Action::StepDown(id));
            }
            for (&from, other) in &state.cluster.servers {
                if other.term > s.term {
                    actions.push(Action::LearnTerm { node: id, from });
                }
            }
            if s.role == Role::PreCandidate {
                for &voter in voters {
                    let v = &state.cluster.servers[&voter];
                    // §9.6: a voter grants a pre-vote for a term above its own to
                    // an up-to-date log, unless it hears from a leader.
                    if !vol.granted.contains(&voter)
                        && s.term + 1 > v.term
                        && v.role != Role::Leader
                        && !state.volatile[&voter].lease
                        && v.is_up_to_date(s.last_index(), s.last_term())
                    {
                        actions.push(Action::PreVote {
                            voter,
                            candidate: id,
                        });
                    }
                }
            }
            if s.role == Role::Leader {
                let last = s.last_index();
                if last < cfg.max_log {
                    if cfg.client_requests {
                        actions.push(Action::Propose(id));
                    }
                    if cfg.membership
                        && s.config_index() <= s.commit
                        && (self.bug(Bug::EarlyMembershipChange)
                            || s.term_at(s.commit) == Some(s.term))
                    {
                        for other in self.ids() {
                            let mut next: Vec<NodeId> = voters.to_vec();
                            if let Some(p) = next.iter().position(|&v| v == other) {
                                if next.len() == 1 {
                                    continue;
                                }
                                next.remove(p);
                            } else {
                                next.push(other);
                                next.sort_unstable();
                            }
                            actions.push(Action::ChangeMembership(id, next));
                        }
                    }
                }
                for &peer in voters.iter().filter(|&&p| p != id) {
                    let matched = vol.matched.get(&peer).copied().unwrap_or(0);
                    if cfg.transfer && s.term < cfg.max_term && matched == last {
                        actions.push(Action::TransferLeader {
                            leader: id,
                            to: peer,
                        });
                    }
                }
            }
            if cfg.compaction && s.commit > s.snapshot.index {
                actions.push(Action::Compact(id));
            }
            if cfg.crashes
                && (s.role != Role::Follower
                    || s.commit != s.snapshot.index
                    || s.applied != s.snapshot.index
                    || *vol != Volatile::default())
            {
                actions.push(Action::Restart(id));
            }
        }
        for m in &state.network {
            actions.push(Action::Deliver(m.clone()));
        }
        for (&(term, leader), rec) in &state.sent {
            for (&to, f) in &state.cluster.servers {
                if to == leader || f.term > term {
                    continue;
                }
                let last = rec.last_index();
                for prev in rec.base.index..=last {
                    for end in prev..=last {
                        let top = rec.commit.min(end);
                        actions.push(Action::Append {
                            leader,
                            term,
                            to,
                            prev,
                            end,
                            commit: 0,
                        });
                        for commit in (f.commit + 1).max(1)..=top {
                            actions.push(Action::Append {
                                leader,
                                term,
                                to,
                                prev,
                                end,
                                commit,
                            });
                        }
                    }
                }
                if cfg.compaction {
                    for index in (f.commit + 1).max(rec.base.index).max(1)..=rec.snapshot {
                        actions.push(Action::InstallSnapshot {
                            leader,
                            term,
                            to,
                            index,
                        });
                    }
                }
            }
        }
    }

    /// The successor of `last` under `action`, before canonicalization, with
    /// the step invariants checked; `None` if nothing changes.
    pub fn raw_step(&self, last: &RaftState, action: &Action) -> Option<RaftState> {
        let mut st = last.clone();
        let mut restarted = None;
        match action {
            Action::Timeout(id) => self.timeout(&mut st, *id),
            Action::PreVote { voter, candidate } => {
                st.volatile
                    .get_mut(candidate)
                    .unwrap()
                    .granted
                    .insert(*voter);
            }
            Action::Campaign(id) => self.campaign(&mut st, *id),
            Action::LearnTerm { node, from } => {
                let term = st.cluster.servers[from].term;
                self.observe_term(&mut st, *node, term);
            }
            Action::StepDown(id) => {
                st.cluster.servers.get_mut(id).unwrap().role = Role::Follower;
                st.volatile.insert(*id, Volatile::default());
            }
            Action::Deliver(m) => self.deliver(&mut st, m),
            Action::Propose(id) => self.append_as_leader(&mut st, *id, Payload::Command(1)),
            Action::ChangeMembership(id, voters) => {
                self.append_as_leader(&mut st, *id, Payload::Config(voters.clone()))
            }
            Action::Append {
                leader,
                term,
                to,
                prev,
                end,
                commit,
            } => {
                let rec = &st.sent[&(*term, *leader)];
                let prev_term = rec.term_at(*prev);
                let entries = rec.slice(prev + 1, *end).to_vec();
                self.append_entries(
                    &mut st, *leader, *to, *term, *prev, prev_term, &entries, *commit,
                );
            }
            Action::InstallSnapshot {
                leader,
                term,
                to,
                index,
            } => {
                let snapshot = st.sent[&(*term, *leader)].snapshot_at(*index);
                self.install_snapshot(&mut st, *leader, *to, *term, snapshot);
            }
            Action::TransferLeader { leader, to } => {
                let term = st.cluster.servers[leader].term;
                send(&mut st, *leader, *to, Body::TimeoutNow { term });
            }
            Action::Compact(id) => {
                let s = st.cluster.servers.get_mut(id).unwrap();
                let at = s.commit;
                let snapshot = Snapshot {
                    index: at,
                    term: s.term_at(at).expect("the commit index is in the log"),
                    voters: s.voters_at(at).to_vec(),
                };
                s.log.drain(..(at - s.snapshot.index) as usize);
                s.snapshot = snapshot;
            }
            Action::Restart(id) => {
                let s = st.cluster.servers.get_mut(id).unwrap();
                s.role = Role::Follower;
                s.commit = s.snapshot.index;
                s.applied = s.snapshot.index;
                st.volatile.insert(*id, Volatile::default());
                restarted = Some(*id);
            }
        }
        record_leaders(&mut st);
        collect_garbage(&mut st, self.bug(Bug::DoubleVote));
        if st == *last {
            return None;
        }
        if st.broken.is_none() {
            let restarted: Vec<NodeId> = restarted.into_iter().collect();
            let checked = check_transition(&last.cluster, &st.cluster, &restarted);
            note(&mut st, checked);
        }
        Some(st)
    }

    /// The election timer fires: pre-vote first (if on), else campaign.
    fn timeout(&self, st: &mut RaftState, id: NodeId) {
        if !self.config.pre_vote {
            return self.campaign(st, id);
        }
        let s = st.cluster.servers.get_mut(&id).unwrap();
        s.role = Role::PreCandidate;
        let voters = s.voters().to_vec();
        let vol = st.volatile.get_mut(&id).unwrap();
        vol.lease = false;
        vol.granted = [id].into();
        vol.matched.clear();
        if vol.granted.len() >= quorum(&voters) {
            self.campaign(st, id);
        }
    }

    /// §5.2: become a candidate of `term + 1`, vote for itself, ask for votes.
    fn campaign(&self, st: &mut RaftState, id: NodeId) {
        let s = st.cluster.servers.get_mut(&id).unwrap();
        s.term += 1;
        s.vote = Some(id);
        s.role = Role::Candidate;
        let (term, last_index, last_term) = (s.term, s.last_index(), s.last_term());
        let voters = s.voters().to_vec();
        let vol = st.volatile.get_mut(&id).unwrap();
        vol.lease = false;
        vol.granted = [id].into();
        vol.matched.clear();
        if vol.granted.len() >= quorum(&voters) {
            return self.become_leader(st, id);
        }
        for &peer in voters.iter().filter(|&&p| p != id) {
            let body = Body::Vote {
                term,
                last_index,
                last_term,
            };
            send(st, id, peer, body);
        }
    }

    /// A quorum voted: lead, and append a no-op to commit the log of earlier terms (§8).
    fn become_leader(&self, st: &mut RaftState, id: NodeId) {
        let s = st.cluster.servers.get_mut(&id).unwrap();
        s.role = Role::Leader;
        let term = s.term;
        let vol = st.volatile.get_mut(&id).unwrap();
        vol.lease = true;
        vol.granted.clear();
        vol.matched.clear();
        let recorded = st.cluster.ghost.record_leader(term, id);
        note(st, recorded);
        if self.config.noop && st.cluster.servers[&id].last_index() < self.config.max_log {
            self.append_as_leader(st, id, Payload::Noop);
        }
    }

    fn append_as_leader(&self, st: &mut RaftState, id: NodeId, payload: Payload) {
        let s = st.cluster.servers.get_mut(&id).unwrap();
        let term = s.term;
        s.log.push(LogEntry { term, payload });
        self.advance_commit(st, id);
    }

    /// §5.3, §5.4.2: commit the highest index a quorum of the current voters
    /// holds, but only if its entry is of the leader's term; a leader that is
    /// no longer a voter steps down once that configuration is committed (§4.2.2).
    fn advance_commit(&self, st: &mut RaftState, id: NodeId) {
        let s = &st.cluster.servers[&id];
        let vol = &st.volatile[&id];
        let voters = s.voters();
        let mut target = None;
        for n in (s.commit + 1..=s.last_index()).rev() {
            let holders = voters
                .iter()
                .filter(|&&v| {
                    if v == id {
                        s.last_index() >= n
                    } else {
                        vol.matched.get(&v).copied().unwrap_or(0) >= n
                    }
                })
                .count();
            if holders >= quorum(voters)
                && (self.bug(Bug::CommitOldTerm) || s.term_at(n) == Some(s.term))
            {
                target = Some(n);
                break;
            }
        }
        if let Some(n) = target {
            commit_to(st, id, n);
        }
        let s = st.cluster.servers.get_mut(&id).unwrap();
        if !s.voters().contains(&id) && s.commit >= s.config_index() {
            s.role = Role::Follower;
            let vol = st.volatile.get_mut(&id).unwrap();
            vol.lease = false;
            vol.matched.clear();
        }
    }

    fn deliver(&self, st: &mut RaftState, m: &Message) {
        let (from, to) = (m.from, m.to);
        match &m.body {
            Body::Vote {
                term,
                last_index,
                last_term,
            } => {
                self.observe_term(st, to, *term);
                let s = st.cluster.servers.get_mut(&to).unwrap();
                let free = s.vote.is_none() || s.vote == Some(from);
                // §5.2, §5.4.1: one vote per term, only for an up-to-date log.
                if *term == s.term
                    && (free || self.bug(Bug::DoubleVote))
                    && s.is_up_to_date(*last_index, *last_term)
                {
                    s.vote = Some(from);
                    send(st, to, from, Body::VoteGranted { term: *term });
                }
            }
            Body::VoteGranted { term } => {
                let s = &st.cluster.servers[&to];
                if s.role == Role::Candidate && *term == s.term {
                    let voters = s.voters().to_vec();
                    let vol = st.volatile.get_mut(&to).unwrap();
                    vol.granted.insert(from);
                    let got = vol.granted.iter().filter(|v| voters.contains(v)).count();
                    if got >= quorum(&voters) {
                        self.become_leader(st, to);
                    }
                }
            }
            Body::AppendOk { term, match_index } => {
                self.observe_term(st, to, *term);
                let s = &st.cluster.servers[&to];
                if s.role == Role::Leader && *term == s.term {
                    let vol = st.volatile.get_mut(&to).unwrap();
                    let m = vol.matched.entry(from).or_insert(0);
                    *m = (*m).max(*match_index);
                    self.advance_commit(st, to);
                }
            }
            Body::TimeoutNow { term } => {
                self.observe_term(st, to, *term);
                let s = &st.cluster.servers[&to];
                if *term == s.term
                    && s.role != Role::Leader
                    && s.term < self.config.max_term
                    && s.voters().contains(&to)
                {
                    self.campaign(st, to);
                }
            }
        }
    }

    /// §5.1: a higher term makes a server a follower of that term with no vote.
    fn observe_term(&self, st: &mut RaftState, id: NodeId, term: Term) {
        let s = st.cluster.servers.get_mut(&id).unwrap();
        if term > s.term {
            s.term = term;
            s.vote = None;
            s.role = Role::Follower;
            st.volatile.insert(id, Volatile::default());
        }
    }

    /// A message from the leader of `term`: follow it if the term is current.
    fn accept_leader(&self, st: &mut RaftState, id: NodeId, term: Term) -> bool {
        self.observe_term(st, id, term);
        let s = st.cluster.servers.get_mut(&id).unwrap();
        if term < s.term || s.role == Role::Leader {
            return false;
        }
        s.role = Role::Follower;
        let vol = st.volatile.get_mut(&id).unwrap();
        vol.lease = true;
        vol.granted.clear();
        true
    }

    /// §7: a snapshot from the leader of `term` replaces the log prefix it covers.
    fn install_snapshot(
        &self,
        st: &mut RaftState,
        from: NodeId,
        to: NodeId,
        term: Term,
        snapshot: Snapshot,
    ) {
        if !self.accept_leader(st, to, term) {
            return;
        }
        let s = st.cluster.servers.get_mut(&to).unwrap();
        if snapshot.index > s.commit {
            // Keep the log after the snapshot if it holds the snapshot's last entry.
            if s.term_at(snapshot.index) == Some(snapshot.term) {
                s.log.drain(..(snapshot.index - s.snapshot.index) as usize);
            } else {
                s.log.clear();
            }
            s.commit = snapshot.index;
            s.applied = snapshot.index;
            s.snapshot = snapshot.clone();
        }
        let body = Body::AppendOk {
            term,
            match_index: snapshot.index,
        };
        send(st, to, from, body);
    }

    #[allow(clippy::too_many_arguments)]
    fn append_entries(
        &self,
        st: &mut RaftState,
        from: NodeId,
        to: NodeId,
        term: Term,
        prev_index: Index,
        prev_term: Term,
        entries: &[LogEntry],
        commit: Index,
    ) {
        if !self.accept_leader(st, to, term) {
            return;
        }
        let s = st.cluster.servers.get_mut(&to).unwrap();
        // Entries under the snapshot are committed: skip them.
        let skip = (s.snapshot.index.saturating_sub(prev_index) as usize).min(entries.len());
        let (prev, prev_t) = if skip > 0 {
            (prev_index + skip as Index, entries[skip - 1].term)
        } else {
            (prev_index, prev_term)
        };
        let last_new = prev_index + entries.len() as Index;
        if prev < s.snapshot.index {
            // Everything sent is under the snapshot.
            send(
                st,
                to,
                from,
                Body::AppendOk {
                    term,
                    match_index: last_new,
                },
            );
            return;
        }
        // §5.3: the consistency check.
        if s.term_at(prev) != Some(prev_t) {
            return;
        }
        let mut truncated = Ok(());
        for (k, e) in entries[skip..].iter().enumerate() {
            let index = prev + 1 + k as Index;
            match s.term_at(index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    // Only the conflicting suffix goes.
                    if truncated.is_ok() {
                        truncated = check_truncate(to, s, index);
                    }
                    s.log.truncate((index - s.snapshot.index - 1) as usize);
                    s.log.push(e.clone());
                }
                None => s.log.push(e.clone()),
            }
        }
        note(st, truncated);
        let s = &st.cluster.servers[&to];
        let target = commit.min(last_new);
        if target > s.commit {
            commit_to(st, to, target);
        }
        send(
            st,
            to,
            from,
            Body::AppendOk {
                term,
                match_index: last_new,
            },
        );
    }
}

/// Advances `id`'s commit (and applied) index to `to`, recording the newly
/// committed and applied entries in the ghost history.
fn commit_to(st: &mut RaftState, id: NodeId, to: Index) {
    let s = &st.cluster.servers[&id];
    let (from, term) = (s.commit, s.term);
    let entries: Vec<(Index, Option<LogEntry>)> =
        (from + 1..=to).map(|i| (i, s.entry(i).cloned())).collect();
    for (index, entry) in entries {
        let Some(entry) = entry else { continue };
        let committed = st.cluster.ghost.record_commit(index, &entry, term);
        note(st, committed);
        let applied = st.cluster.ghost.record_apply(id, index, &entry);
        note(st, applied);
    }
    let s: &mut ServerState = st.cluster.servers.get_mut(&id).unwrap();
    s.commit = to;
    s.applied = to;
}

fn send(st: &mut RaftState, from: NodeId, to: NodeId, body: Body) {
    st.network.insert(Message { from, to, body });
}

/// Keeps the record of what every current leader could send up to date.
fn record_leaders(st: &mut RaftState) {
    for (&id, s) in &st.cluster.servers {
        if s.role != Role::Leader {
            continue;
        }
        let rec = st.sent.entry((s.term, id)).or_insert_with(|| LeaderLog {
            base: s.snapshot.clone(),
            ..LeaderLog::default()
        });
        let have = rec.last_index();
        for i in have + 1..=s.last_index() {
            rec.entries.push(
                s.entry(i)
                    .expect("a leader's log only grows in its term")
                    .clone(),
            );
        }
        rec.commit = rec.commit.max(s.commit);
        rec.snapshot = rec.snapshot.max(s.snapshot.index);
    }
}

/// Drops what can no longer change its receiver. Terms only grow and every
/// handler ignores a message older than the receiver's term; a server is a candidate or a leader of a term at most
/// once, so a vote grant to a server that no longer campaigns in that term,
/// or an acknowledgement to one that no longer leads it, is dead; a vote
/// request to a server that voted in its term is dead unless votes can be
/// cast twice; an acknowledgement below what the leader knows is dead.
fn collect_garbage(st: &mut RaftState, double_vote: bool) {
    let servers = &st.cluster.servers;
    let volatile = &st.volatile;
    st.network.retain(|m| {
        let r = &servers[&m.to];
        match m.body {
            Body::Vote { term, .. } => {
                term > r.term || (term == r.term && (r.vote.is_none() || double_vote))
            }
            Body::VoteGranted { term } => {
                term > r.term || (term == r.term && r.role == Role::Candidate)
            }
            Body::AppendOk { term, match_index } => {
                term == r.term
                    && r.role == Role::Leader
                    && volatile[&m.to].matched.get(&m.from).copied().unwrap_or(0) < match_index
            }
            Body::TimeoutNow { term } => term >= r.term,
        }
    });
    st.sent.retain(|&(term, leader), _| {
        servers
            .iter()
            .any(|(&id, s)| id != leader && s.term <= term)
    });
}
