//! Majority arithmetic over a membership: the committed index of a set of
//! match indexes, and the outcome of an election.

use super::types::{Index, Membership, NodeId};
use std::collections::BTreeMap;

/// The outcome of counting votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VoteResult {
    Won,
    Lost,
    Pending,
}

/// The highest index that a majority of voters holds, given each voter's
/// match index (`matched`). Empty memberships commit nothing.
pub(crate) fn committed_index(voters: &Membership, matched: impl Fn(NodeId) -> Index) -> Index {
    if voters.voters.is_empty() {
        return 0;
    }
    let mut m: Vec<Index> = voters.voters.iter().map(|&v| matched(v)).collect();
    m.sort_unstable_by(|a, b| b.cmp(a));
    m[voters.quorum() - 1]
}

/// Counts the votes of voters only; answers from non-voters are ignored.
pub(crate) fn vote_result(voters: &Membership, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let (mut yes, mut no) = (0, 0);
    for v in &voters.voters {
        match votes.get(v) {
            Some(true) => yes += 1,
            Some(false) => no += 1,
            None => {}
        }
    }
    let q = voters.quorum();
    if voters.voters.is_empty() {
        VoteResult::Lost
    } else if yes >= q {
        VoteResult::Won
    } else if no + q > voters.voters.len() {
        // Even if every missing voter said yes, no majority is possible.
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

/// Whether the voters in `acks` form a majority.
pub(crate) fn has_quorum<'a>(
    voters: &Membership,
    acks: impl IntoIterator<Item = &'a NodeId>,
) -> bool {
    let n = acks.into_iter().filter(|id| voters.contains(**id)).count();
    !voters.voters.is_empty() && n >= voters.quorum()
}
