//! The rules a server's step must follow and the invariants checked after
//! every event: a term never goes back, one vote per term, only voters
//! campaign, a leader changes membership one committed step at a time, and
//! the shared predicates of [`crate::invariants`] on the rebuilt cluster.

use super::replay::Touched;
use crate::invariants::{
    applied_safely, check_server_transition, election_safety, leader_complete,
    log_matching_between, ClusterState, Index, NodeId, Role, Rule, ServerState, Term, Violation,
};

pub(super) fn inconsistent(id: NodeId, message: String) -> Violation {
    Violation::new(Rule::Inconsistent, Some(id), message)
}

/// Dissertation §4.2.2: only a voter of its own configuration campaigns
/// (unknown configurations are not judged).
pub(super) fn check_voter(s: &ServerState, id: NodeId, what: &str) -> Result<(), Violation> {
    let voters = s.voters();
    if voters.is_empty() || voters.contains(&id) {
        return Ok(());
    }
    Err(Violation::new(
        Rule::NonVoterCampaign,
        Some(id),
        format!("n{id} {what}, but it is not a voter of its configuration {voters:?}"),
    ))
}

/// Dissertation §4.1: the leader `s` appends a membership change at `index`
/// only once it committed an entry of its term, and only when its previous
/// change is committed.
pub(super) fn check_membership_change(
    s: &ServerState,
    id: NodeId,
    index: Index,
) -> Result<(), Violation> {
    let fail = |message: String| Err(Violation::new(Rule::MembershipChange, Some(id), message));
    if let Some(t) = s.term_at(s.commit) {
        if t != s.term {
            return fail(format!(
                "n{id}, leader of term {}, appends a membership change at index {index} before \
                 committing an entry of its term (its commit index {} holds term {t})",
                s.term, s.commit
            ));
        }
    }
    let previous = s.config_index();
    if previous > s.commit && previous < index {
        return fail(format!(
            "n{id}, leader of term {}, appends a membership change at index {index} while the \
             change at index {previous} is not committed (commit index {})",
            s.term, s.commit
        ));
    }
    Ok(())
}

/// Adopts `term` if it is newer; an event naming an older term than the
/// node's own is a step back.
/// §7: a snapshot whose last included entry the log already holds (same
/// index and term) keeps the entries that follow it; replacing the log then
/// drops entries the server may have acknowledged to a leader.
pub(super) fn check_install_keeps_suffix(
    s: &ServerState,
    id: NodeId,
    index: Index,
    entry_term: Term,
) -> Result<(), Violation> {
    if index > s.snapshot.index && s.term_at(index) == Some(entry_term) && s.last_index() > index {
        return Err(Violation::new(
            Rule::TruncateMatching,
            Some(id),
            format!(
                "n{id} installs a snapshot up to index {index} (term {entry_term}) and drops its \
                 entries {}..={}, though its log already holds that entry: the entries after a \
                 matching last included entry are kept (§7)",
                index + 1,
                s.last_index()
            ),
        ));
    }
    Ok(())
}

pub(super) fn adopt_term(
    s: &mut ServerState,
    id: NodeId,
    term: Term,
    what: &str,
) -> Result<(), Violation> {
    if term < s.term {
        return Err(Violation::new(
            Rule::TermMonotonic,
            Some(id),
            format!(
                "n{id} reports {what} in term {term} while in term {}",
                s.term
            ),
        ));
    }
    if term > s.term {
        s.term = term;
        s.vote = None;
        if s.role != Role::Follower {
            s.role = Role::Follower;
        }
    }
    Ok(())
}

/// §5.3: a truncation removed the entry (`from`, `old`); an append that
/// puts the same entry back shows the suffix did not conflict.
pub(super) fn stale_truncation(id: NodeId, from: Index, old: Term) -> Violation {
    Violation::new(
        Rule::TruncateMatching,
        Some(id),
        format!(
            "n{id} truncated its log from index {from} and appended the same \
             entry (term {old}) there again: only a conflicting suffix may be \
             removed (§5.3)"
        ),
    )
}

/// The invariants after node `id`'s event changed `touched` (`prev` is
/// the node before the event, without its log).
pub(super) fn after_event(
    cluster: &ClusterState,
    id: NodeId,
    prev: &ServerState,
    touched: &Touched,
) -> Result<(), Violation> {
    let next = &cluster.servers[&id];
    check_server_transition(id, prev, next, false)?;
    election_safety(cluster)?;
    if touched.log {
        for &other in cluster.servers.keys() {
            if other != id {
                log_matching_between(cluster, id, other)?;
            }
        }
    }
    if touched.log || touched.role || touched.commit {
        for (&leader, s) in &cluster.servers {
            if s.role == Role::Leader {
                leader_complete(cluster, leader)?;
            }
        }
    }
    if touched.commit {
        applied_safely(cluster, id)?;
    }
    Ok(())
}
