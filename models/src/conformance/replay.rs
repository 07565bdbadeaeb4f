//! Replay: rebuilds a server's abstract state from its events, one
//! exhaustive match over [`TraceEvent`] (a new event does not compile until
//! it is handled here), checking each step against [`super::rules`].

use super::rules::{
    adopt_term, check_install_keeps_suffix, check_membership_change, check_voter, inconsistent,
};
use super::TraceEvent;
use crate::invariants::{
    check_truncate, ClusterState, Index, LogEntry, NodeId, Payload, Role, Rule, ServerState,
    Snapshot, Term, Violation,
};

/// Which parts of the state an event changed.
#[derive(Default)]
pub(super) struct Touched {
    pub(super) log: bool,
    pub(super) role: bool,
    pub(super) commit: bool,
}

/// A copy of a server without its log, for the step comparisons.
pub(super) fn header(s: &ServerState) -> ServerState {
    ServerState {
        term: s.term,
        vote: s.vote,
        role: s.role,
        snapshot: Snapshot::default(),
        log: Vec::new(),
        commit: s.commit,
        applied: s.applied,
    }
}

/// A `start` event: the node recovered its ballot and log from disk. What it
/// reported before (every event is emitted once its writes are durable) must
/// be there: the term, the vote in that term, and every entry it appended
/// (it may hold more, written but not reported before a crash). A start
/// line of an older history, without `last_index` and `last_term`, reads
/// as an empty log.
///
/// With the recovered log's terms (`terms`, runs of `[first index, term]`),
/// every entry it reported must be there with its term, and the entries it
/// holds beyond them (synced, but the process was killed before their trace
/// line went out: real mode's SIGKILL can fall there, the simulator's crash
/// cannot) are taken into its log with their terms.
pub(super) fn recover(
    s: &mut ServerState,
    id: NodeId,
    term: Term,
    vote: Option<NodeId>,
    (last_index, last_term): (Index, Term),
    terms: &[(Index, Term)],
) -> Result<(), Violation> {
    let fail = |message: String| Err(Violation::new(Rule::Durability, Some(id), message));
    if term < s.term {
        return fail(format!(
            "n{id} restarted in term {term}, but had reached term {} before",
            s.term
        ));
    }
    if term == s.term {
        if let Some(v) = s.vote {
            if vote != Some(v) {
                return fail(format!(
                    "n{id} voted for n{v} in term {term} and restarted in that term with {}",
                    vote.map_or("no vote".to_string(), |w| format!("a vote for n{w}"))
                ));
            }
        }
    }
    if last_index < s.last_index() {
        return fail(format!(
            "n{id} restarted with its log ending at index {last_index}, but had appended up to {}",
            s.last_index()
        ));
    }
    if last_index == s.last_index() && last_term != s.last_term() {
        return fail(format!(
            "n{id} restarted with index {last_index} of term {last_term}, but had appended it with term {}",
            s.last_term()
        ));
    }
    if let Some(&(first, _)) = terms.first() {
        let term_of = |index: Index| {
            let run = terms.partition_point(|(from, _)| *from <= index);
            (run > 0 && index >= first && index <= last_index).then(|| terms[run - 1].1)
        };
        for index in first.max(s.snapshot.index + 1)..=s.last_index() {
            let (Some(had), Some(holds)) = (s.term_at(index), term_of(index)) else {
                continue;
            };
            if had != holds {
                return fail(format!(
                    "n{id} restarted with index {index} of term {holds}, but had appended it with term {had}"
                ));
            }
        }
        let unreported: Vec<Term> = (s.last_index() + 1..=last_index)
            .map_while(term_of)
            .collect();
        if !unreported.is_empty() {
            append(s, id, s.last_index() + 1, &unreported)?;
        }
    }
    if term > s.term {
        s.term = term;
        s.vote = vote;
    } else if s.vote.is_none() {
        s.vote = vote;
    }
    Ok(())
}

/// Applies one event to the node's state. The outer error is a malformed
/// event, the inner one a broken rule.
pub(super) fn apply(
    cluster: &mut ClusterState,
    id: NodeId,
    ev: &TraceEvent,
) -> Result<Result<Touched, Violation>, String> {
    let mut touched = Touched::default();
    let s = cluster.servers.get_mut(&id).expect("created by the caller");
    let result: Result<(), Violation> = match *ev {
        TraceEvent::TermChange { term } => adopt_term(s, id, term, "a term change"),
        TraceEvent::StartPreVote { term } => {
            // The pre-vote asks for term + 1 without changing the term.
            touched.role = true;
            if term + 1 < s.term && term < s.term {
                Err(Violation::new(
                    Rule::TermMonotonic,
                    Some(id),
                    format!(
                        "n{id} starts a pre-vote for term {term} while in term {}",
                        s.term
                    ),
                ))
            } else {
                check_voter(s, id, &format!("starts a pre-vote for term {term}")).map(|()| {
                    s.role = Role::PreCandidate;
                })
            }
        }
        TraceEvent::BecomeCandidate { term } => {
            touched.role = true;
            check_voter(s, id, &format!("becomes candidate in term {term}"))
                .and_then(|()| adopt_term(s, id, term, "becoming candidate"))
                .and_then(|()| match s.vote {
                    Some(v) if v != id => Err(Violation::new(
                        Rule::OneVotePerTerm,
                        Some(id),
                        format!("n{id} campaigns in term {term}, where it voted for n{v}"),
                    )),
                    _ => {
                        s.vote = Some(id);
                        s.role = Role::Candidate;
                        Ok(())
                    }
                })
        }
        TraceEvent::BecomeLeader { term } => {
            touched.role = true;
            adopt_term(s, id, term, "becoming leader").and_then(|()| {
                s.role = Role::Leader;
                cluster.ghost.record_leader(term, id)
            })
        }
        TraceEvent::BecomeFollower { term, leader } => {
            touched.role = true;
            // A follower names the leader it heard from in `term`: the one
            // that became leader of that term (its become-leader event is
            // emitted before any of its messages leave).
            match (leader, cluster.ghost.leaders.get(&term)) {
                (Some(l), Some(&actual)) if l != actual => Err(Violation::new(
                    Rule::ElectionSafety,
                    Some(id),
                    format!("n{id} follows n{l} in term {term}, which n{actual} leads"),
                )),
                _ => adopt_term(s, id, term, "becoming follower").map(|()| s.role = Role::Follower),
            }
        }
        TraceEvent::VoteGranted { term, candidate } => {
            adopt_term(s, id, term, "a vote").and_then(|()| match s.vote {
                Some(v) if v != candidate => Err(Violation::new(
                    Rule::OneVotePerTerm,
                    Some(id),
                    format!("n{id} votes for n{candidate} in term {term}, having voted for n{v}"),
                )),
                _ => {
                    s.vote = Some(candidate);
                    Ok(())
                }
            })
        }
        TraceEvent::PreVoteGranted { term, candidate: _ } => {
            // No durable effect; the pre-vote is for a term above the voter's.
            if term <= s.term {
                Err(Violation::new(
                    Rule::TermMonotonic,
                    Some(id),
                    format!(
                        "n{id} grants a pre-vote for term {term}, not above its term {}",
                        s.term
                    ),
                ))
            } else {
                Ok(())
            }
        }
        TraceEvent::Append {
            term,
            from,
            to,
            ref terms,
        } => {
            if from == 0 || to + 1 < from || terms.len() as u64 != to + 1 - from {
                return Err(format!(
                    "append from {from} to {to} with {} terms",
                    terms.len()
                ));
            }
            touched.log = true;
            adopt_term(s, id, term, "an append").and_then(|()| append(s, id, from, terms))
        }
        TraceEvent::Truncate { term, from } => {
            touched.log = true;
            adopt_term(s, id, term, "a truncation")
                .and_then(|()| check_truncate(id, s, from))
                .map(|()| truncate(s, from))
        }
        TraceEvent::Commit {
            term,
            index,
            entry_term,
        } => {
            touched.commit = true;
            adopt_term(s, id, term, "a commit")
                .and_then(|()| commit(cluster, id, term, index, entry_term))
        }
        TraceEvent::Apply {
            index, entry_term, ..
        } => {
            touched.commit = true;
            apply_entry(cluster, id, index, entry_term)
        }
        TraceEvent::Compact { index, entry_term } => {
            touched.log = true;
            compact(s, id, index, entry_term)
        }
        TraceEvent::InstallSnapshot {
            term,
            index,
            entry_term,
        } => {
            touched.log = true;
            touched.commit = true;
            adopt_term(s, id, term, "a snapshot install")
                .and_then(|()| check_install_keeps_suffix(s, id, index, entry_term))
                .and_then(|()| {
                    install(s, index, entry_term);
                    let entry = LogEntry::new(entry_term, Payload::Unknown);
                    cluster.ghost.record_commit(index, &entry, term)
                })
        }
        TraceEvent::Membership { index, ref voters } => {
            let mut voters = voters.clone();
            voters.sort_unstable();
            voters.dedup();
            // A leader's configuration in force changes only when it appends one.
            let proposed = s.role == Role::Leader
                && index == s.last_index()
                && index > s.commit
                && s.term_at(index) == Some(s.term);
            let verdict = if proposed {
                check_membership_change(s, id, index)
            } else {
                Ok(())
            };
            if index == s.snapshot.index {
                s.snapshot.voters = voters;
            } else if let Some(e) = s.entry_mut(index) {
                touched.log = true;
                e.payload = Payload::Config(voters);
            }
            verdict
        }
        TraceEvent::TransferLeader { term, .. } | TraceEvent::ReadIndex { term, .. } => {
            if s.role != Role::Leader || term != s.term {
                Err(inconsistent(
                    id,
                    format!(
                        "n{id} acts as leader of term {term} ({}) while {:?} in term {}",
                        ev.name(),
                        s.role,
                        s.term
                    ),
                ))
            } else {
                Ok(())
            }
        }
        // A server refused a peer's message as malformed or impossible. Every
        // peer of a simulated cluster runs the engine, so the sender broke a
        // protocol rule (or the receiver's view of its own state is wrong).
        TraceEvent::RefusedMessage {
            from,
            ref message,
            ref why,
        } => Err(inconsistent(
            id,
            format!("n{id} refused {message} from n{from}: {why}"),
        )),
        // The node lost its volatile state: the caller restarts it in every
        // shard (and checks a start against what the node reported).
        TraceEvent::Start { .. } | TraceEvent::Stop { .. } => Ok(()),
    };
    Ok(result.map(|()| touched))
}

fn append(s: &mut ServerState, id: NodeId, from: Index, terms: &[Term]) -> Result<(), Violation> {
    if from > s.last_index() + 1 {
        return Err(inconsistent(
            id,
            format!(
                "n{id} appends from index {from}, but its log ends at {}",
                s.last_index()
            ),
        ));
    }
    for (k, &t) in terms.iter().enumerate() {
        let index = from + k as Index;
        if index <= s.snapshot.index {
            continue;
        }
        match s.term_at(index) {
            Some(old) if old == t => {}
            Some(_) => {
                // Overwriting without a truncate event is a truncation all the same.
                check_truncate(id, s, index)?;
                truncate(s, index);
                s.log.push(LogEntry::new(t, Payload::Unknown));
            }
            None => s.log.push(LogEntry::new(t, Payload::Unknown)),
        }
    }
    Ok(())
}

fn truncate(s: &mut ServerState, from: Index) {
    if from > s.snapshot.index {
        s.log.truncate((from - s.snapshot.index - 1) as usize);
    }
}

fn commit(
    cluster: &mut ClusterState,
    id: NodeId,
    term: Term,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    let s = &cluster.servers[&id];
    if index < s.commit {
        return Err(Violation::new(
            Rule::CommitMonotonic,
            Some(id),
            format!(
                "n{id}'s commit index goes from {} back to {index}",
                s.commit
            ),
        ));
    }
    match s.term_at(index) {
        Some(t) if t != entry_term => {
            return Err(inconsistent(
                id,
                format!(
                    "n{id} commits index {index} as term {entry_term}, but holds term {t} there"
                ),
            ))
        }
        None if index > s.last_index() => {
            return Err(inconsistent(
                id,
                format!(
                    "n{id} commits index {index}, beyond its last index {}",
                    s.last_index()
                ),
            ))
        }
        _ => {}
    }
    if s.role == Role::Leader && term == s.term && entry_term != term {
        return Err(Violation::new(
            Rule::CommitOldTerm,
            Some(id),
            format!(
                "n{id}, leader of term {term}, commits index {index} of term {entry_term} (§5.4.2)"
            ),
        ));
    }
    let newly: Vec<(Index, LogEntry)> = (s.commit + 1..=index)
        .filter_map(|i| s.entry(i).map(|e| (i, e.clone())))
        .collect();
    for (i, e) in newly {
        cluster.ghost.record_commit(i, &e, term)?;
    }
    if index == s.snapshot.index || s.entry(index).is_none() {
        cluster
            .ghost
            .record_commit(index, &LogEntry::new(entry_term, Payload::Unknown), term)?;
    }
    cluster.servers.get_mut(&id).unwrap().commit = index;
    Ok(())
}

fn apply_entry(
    cluster: &mut ClusterState,
    id: NodeId,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    let s = &cluster.servers[&id];
    let fail = |message: String| Err(Violation::new(Rule::AppliedCommitted, Some(id), message));
    if index <= s.applied {
        return fail(format!(
            "n{id} applies index {index}, having applied up to {}",
            s.applied
        ));
    }
    if index > s.commit {
        return fail(format!(
            "n{id} applies index {index} above its commit index {}",
            s.commit
        ));
    }
    let entry = match s.entry(index) {
        Some(e) if e.term != entry_term => {
            return fail(format!(
                "n{id} applies index {index} as term {entry_term}, but holds term {} there",
                e.term
            ))
        }
        Some(e) => e.clone(),
        None => LogEntry::new(entry_term, Payload::Unknown),
    };
    if let Some(c) = cluster.ghost.committed.get(&index) {
        if !c.entry.same_as(&entry) {
            return fail(format!(
                "n{id} applies {entry:?} at index {index}, where {:?} was committed",
                c.entry
            ));
        }
    }
    cluster.ghost.record_apply(id, index, &entry)?;
    cluster.servers.get_mut(&id).unwrap().applied = index;
    Ok(())
}

fn compact(
    s: &mut ServerState,
    id: NodeId,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    if index > s.commit {
        return Err(Violation::new(
            Rule::CompactUncommitted,
            Some(id),
            format!(
                "n{id} compacts up to index {index}, above its commit index {}",
                s.commit
            ),
        ));
    }
    if index <= s.snapshot.index {
        return Ok(());
    }
    match s.term_at(index) {
        Some(t) if t != entry_term => Err(inconsistent(
            id,
            format!(
                "n{id} compacts up to index {index} as term {entry_term}, but holds term {t} there"
            ),
        )),
        _ => {
            let voters = s.voters_at(index).to_vec();
            let drop = ((index - s.snapshot.index) as usize).min(s.log.len());
            s.log.drain(..drop);
            s.snapshot = Snapshot {
                index,
                term: entry_term,
                voters,
            };
            Ok(())
        }
    }
}

fn install(s: &mut ServerState, index: Index, entry_term: Term) {
    if index <= s.snapshot.index {
        return;
    }
    // The engine replaces its whole log by an installed snapshot (it asks
    // for one only when it does not hold the entry at its index).
    let voters = s.voters_at(index).to_vec();
    s.log.clear();
    s.snapshot = Snapshot {
        index,
        term: entry_term,
        voters,
    };
    s.commit = s.commit.max(index);
    s.applied = s.applied.max(index);
}
