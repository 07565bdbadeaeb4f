//! Symmetry reduction: servers are interchangeable, so a state and any
//! renaming of its servers behave alike. Each state is replaced by the least
//! renaming (in the derived order) among those that list the servers by a
//! name-free signature; only servers with equal signatures are permuted, so
//! the search is small and the representative is canonical.

use super::{Action, LeaderLog, Message, RaftModel, RaftState, Volatile};
use crate::invariants::{
    ClusterState, Committed, Ghost, LogEntry, NodeId, Payload, Role, ServerState, Snapshot,
    Violation,
};

/// A renaming of servers: `map[old] = new` (index 0 unused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renaming {
    map: Vec<NodeId>,
}

impl Renaming {
    /// The renaming that changes nothing, for `n` servers.
    pub fn identity(n: usize) -> Self {
        Renaming {
            map: (0..=n as NodeId).collect(),
        }
    }

    /// The renaming `old -> map[old]`; `map[0]` is ignored and `map` must be
    /// a permutation of `0..map.len()` that fixes 0.
    pub fn from_map(map: Vec<NodeId>) -> Self {
        Renaming { map }
    }

    /// The new name of `id`.
    pub fn apply(&self, id: NodeId) -> NodeId {
        self.map.get(id as usize).copied().unwrap_or(id)
    }

    /// The renaming that undoes this one.
    pub fn inverse(&self) -> Self {
        let mut map = vec![0; self.map.len()];
        for (old, &new) in self.map.iter().enumerate() {
            map[new as usize] = old as NodeId;
        }
        Renaming { map }
    }
}

/// Values that name servers, and can be renamed.
pub trait Rename {
    /// A copy with every server name replaced by its new name.
    fn rename(&self, r: &Renaming) -> Self;
}

impl Rename for NodeId {
    fn rename(&self, r: &Renaming) -> Self {
        r.apply(*self)
    }
}

fn rename_set(v: &[NodeId], r: &Renaming) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = v.iter().map(|&id| r.apply(id)).collect();
    out.sort_unstable();
    out
}

impl Rename for Payload {
    fn rename(&self, r: &Renaming) -> Self {
        match self {
            Payload::Config(v) => Payload::Config(rename_set(v, r)),
            p => p.clone(),
        }
    }
}

impl Rename for LogEntry {
    fn rename(&self, r: &Renaming) -> Self {
        LogEntry {
            term: self.term,
            payload: self.payload.rename(r),
        }
    }
}

impl Rename for Snapshot {
    fn rename(&self, r: &Renaming) -> Self {
        Snapshot {
            index: self.index,
            term: self.term,
            voters: rename_set(&self.voters, r),
        }
    }
}

impl Rename for ServerState {
    fn rename(&self, r: &Renaming) -> Self {
        ServerState {
            term: self.term,
            vote: self.vote.map(|v| r.apply(v)),
            role: self.role,
            snapshot: self.snapshot.rename(r),
            log: self.log.iter().map(|e| e.rename(r)).collect(),
            commit: self.commit,
            applied: self.applied,
        }
    }
}

impl Rename for Ghost {
    fn rename(&self, r: &Renaming) -> Self {
        Ghost {
            leaders: self
                .leaders
                .iter()
                .map(|(&t, &l)| (t, r.apply(l)))
                .collect(),
            committed: self
                .committed
                .iter()
                .map(|(&i, c)| {
                    (
                        i,
                        Committed {
                            entry: c.entry.rename(r),
                            term: c.term,
                        },
                    )
                })
                .collect(),
            applied: self
                .applied
                .iter()
                .map(|(&i, e)| (i, e.rename(r)))
                .collect(),
        }
    }
}

impl Rename for ClusterState {
    fn rename(&self, r: &Renaming) -> Self {
        ClusterState {
            servers: self
                .servers
                .iter()
                .map(|(&id, s)| (r.apply(id), s.rename(r)))
                .collect(),
            ghost: self.ghost.rename(r),
        }
    }
}

impl Rename for Volatile {
    fn rename(&self, r: &Renaming) -> Self {
        Volatile {
            lease: self.lease,
            granted: self.granted.iter().map(|&g| r.apply(g)).collect(),
            matched: self
                .matched
                .iter()
                .map(|(&p, &m)| (r.apply(p), m))
                .collect(),
        }
    }
}

impl Rename for LeaderLog {
    fn rename(&self, r: &Renaming) -> Self {
        LeaderLog {
            base: self.base.rename(r),
            entries: self.entries.iter().map(|e| e.rename(r)).collect(),
            commit: self.commit,
            snapshot: self.snapshot,
        }
    }
}

impl Rename for Message {
    fn rename(&self, r: &Renaming) -> Self {
        Message {
            from: r.apply(self.from),
            to: r.apply(self.to),
            body: self.body.clone(),
        }
    }
}

impl Rename for Violation {
    fn rename(&self, r: &Renaming) -> Self {
        Violation {
            rule: self.rule,
            node: self.node.map(|n| r.apply(n)),
            message: self.message.clone(),
        }
    }
}

impl Rename for RaftState {
    fn rename(&self, r: &Renaming) -> Self {
        RaftState {
            cluster: self.cluster.rename(r),
            volatile: self
                .volatile
                .iter()
                .map(|(&id, v)| (r.apply(id), v.rename(r)))
                .collect(),
            network: self.network.iter().map(|m| m.rename(r)).collect(),
            sent: self
                .sent
                .iter()
                .map(|(&(t, l), log)| ((t, r.apply(l)), log.rename(r)))
                .collect(),
            broken: self.broken.as_ref().map(|v| v.rename(r)),
        }
    }
}

impl Rename for Action {
    fn rename(&self, r: &Renaming) -> Self {
        match self {
            Action::Timeout(id) => Action::Timeout(r.apply(*id)),
            Action::PreVote { voter, candidate } => Action::PreVote {
                voter: r.apply(*voter),
                candidate: r.apply(*candidate),
            },
            Action::Campaign(id) => Action::Campaign(r.apply(*id)),
            Action::LearnTerm { node, from } => Action::LearnTerm {
                node: r.apply(*node),
                from: r.apply(*from),
            },
            Action::StepDown(id) => Action::StepDown(r.apply(*id)),
            Action::Deliver(m) => Action::Deliver(m.rename(r)),
            Action::Propose(id) => Action::Propose(r.apply(*id)),
            Action::ChangeMembership(id, v) => {
                Action::ChangeMembership(r.apply(*id), rename_set(v, r))
            }
            Action::Append {
                leader,
                term,
                to,
                prev,
                end,
                commit,
            } => Action::Append {
                leader: r.apply(*leader),
                term: *term,
                to: r.apply(*to),
                prev: *prev,
                end: *end,
                commit: *commit,
            },
            Action::InstallSnapshot {
                leader,
                term,
                to,
                index,
            } => Action::InstallSnapshot {
                leader: r.apply(*leader),
                term: *term,
                to: r.apply(*to),
                index: *index,
            },
            Action::TransferLeader { leader, to } => Action::TransferLeader {
                leader: r.apply(*leader),
                to: r.apply(*to),
            },
            Action::Compact(id) => Action::Compact(r.apply(*id)),
            Action::Restart(id) => Action::Restart(r.apply(*id)),
        }
    }
}

/// A server's description without names: what stays the same under renaming.
type Signature = (
    (u64, Role, u8, bool, bool),
    Vec<(u64, u8)>,
    (u64, u64, usize),
    (u64, u64),
    (usize, Vec<u64>),
    (usize, usize, Vec<u64>),
);

fn payload_tag(p: &Payload) -> u8 {
    match p {
        Payload::Unknown => 0,
        Payload::Noop => 1,
        Payload::Command(_) => 2,
        Payload::Config(v) => 3 + v.len() as u8,
    }
}

fn signature(state: &RaftState, id: NodeId) -> Signature {
    let s = &state.cluster.servers[&id];
    let v = &state.volatile[&id];
    let vote = match s.vote {
        None => 0,
        Some(x) if x == id => 1,
        Some(_) => 2,
    };
    let mut matched: Vec<u64> = v.matched.values().copied().collect();
    matched.sort_unstable();
    let sent = state.network.iter().filter(|m| m.from == id).count();
    let received = state.network.iter().filter(|m| m.to == id).count();
    let led: Vec<u64> = state
        .sent
        .keys()
        .filter(|&&(_, l)| l == id)
        .map(|&(t, _)| t)
        .collect();
    (
        (s.term, s.role, vote, v.lease, s.voters().contains(&id)),
        s.log
            .iter()
            .map(|e| (e.term, payload_tag(&e.payload)))
            .collect(),
        (s.snapshot.index, s.snapshot.term, s.snapshot.voters.len()),
        (s.commit, s.applied),
        (v.granted.len(), matched),
        (sent, received, led),
    )
}

/// Calls `f` with every ordering of `ids` that permutes only within runs of
/// equal signatures (`groups` gives the run lengths).
fn orderings(ids: &mut Vec<NodeId>, groups: &[usize], at: usize, f: &mut dyn FnMut(&[NodeId])) {
    let Some((&len, rest)) = groups.split_first() else {
        f(ids);
        return;
    };
    permute(ids, at + len, at, &mut |ids| {
        let mut ids = ids.to_vec();
        orderings(&mut ids, rest, at + len, f)
    });
}

fn permute(ids: &mut Vec<NodeId>, hi: usize, k: usize, f: &mut dyn FnMut(&mut Vec<NodeId>)) {
    if hi - k <= 1 {
        f(ids);
        return;
    }
    for i in k..hi {
        ids.swap(k, i);
        permute(ids, hi, k + 1, f);
        ids.swap(k, i);
    }
}

impl RaftModel {
    /// The canonical representative of `state`'s class under server renaming,
    /// and the renaming that produces it from `state`.
    pub fn canonicalize(&self, state: &RaftState) -> (RaftState, Renaming) {
        self.canonical(std::borrow::Cow::Borrowed(state))
    }

    /// [`Self::canonicalize`] of a state the caller gives up: when the
    /// renaming is the identity (a step from a canonical state mostly keeps
    /// the servers' order), the state itself is the representative, with
    /// no renamed copy made.
    pub fn canonicalize_owned(&self, state: RaftState) -> RaftState {
        self.canonical(std::borrow::Cow::Owned(state)).0
    }

    fn canonical(&self, state: std::borrow::Cow<'_, RaftState>) -> (RaftState, Renaming) {
        let mut keyed: Vec<(Signature, NodeId)> = state
            .cluster
            .servers
            .keys()
            .map(|&id| (signature(&state, id), id))
            .collect();
        keyed.sort();
        let mut groups = Vec::new();
        let mut i = 0;
        while i < keyed.len() {
            let j = (i..keyed.len())
                .find(|&j| keyed[j].0 != keyed[i].0)
                .unwrap_or(keyed.len());
            groups.push(j - i);
            i = j;
        }
        let mut ids: Vec<NodeId> = keyed.iter().map(|(_, id)| *id).collect();
        let n = ids.len();
        let identity = Renaming::identity(n);
        let mut renamings = Vec::new();
        orderings(&mut ids, &groups, 0, &mut |order| {
            // The server at position k of `order` becomes n{k+1}.
            let mut renaming = Renaming::identity(n);
            for (k, &old) in order.iter().enumerate() {
                renaming.map[old as usize] = k as NodeId + 1;
            }
            renamings.push(renaming);
        });
        // The identity last: it is the state itself, moved, not a copy.
        renamings.sort_by_key(|r| *r == identity);
        let mut best: Option<(RaftState, Renaming)> = None;
        let mut state = Some(state);
        for renaming in renamings {
            let candidate = if renaming == identity {
                state.take().expect("the identity comes last").into_owned()
            } else {
                state
                    .as_ref()
                    .expect("the state until the identity")
                    .rename(&renaming)
            };
            if best.as_ref().is_none_or(|(b, _)| candidate < *b) {
                best = Some((candidate, renaming));
            }
        }
        best.expect("at least one ordering")
    }
}
