//! Tests of the consensus core, named after the rule they defend (section
//! numbers of the Raft paper, or of Ongaro's dissertation where noted).
//!
//! `Cluster` is a small deterministic in-memory harness: it routes messages
//! between cores, makes every Ready "durable" on an in-memory disk before
//! sending its messages, and checks on every Ready the invariants the rest
//! of the engine relies on: election safety, state machine safety, and the
//! persistence rule (a granted vote or an append acknowledgement leaves only
//! once the disk holds what it promises).

use super::*;
use crate::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod faults;
mod persistence;
mod s3_10_transfer;
mod s4_membership;
mod s5_2_election;
mod s5_3_replication;
mod s5_4_2_commit;
mod s6_read_index;
mod s7_snapshots;

// --------------------------------------------------------------------------
// Harness
// --------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Disk {
    hard_state: HardState,
    snapshot: Option<SnapshotMeta>,
    entries: Vec<Entry>,
}

impl Disk {
    fn base(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }

    fn last_index(&self) -> Index {
        self.entries.last().map_or(self.base(), |e| e.index)
    }

    fn term(&self, index: Index) -> Option<Term> {
        if index == self.base() {
            return Some(self.snapshot.as_ref().map_or(0, |s| s.term));
        }
        self.entries
            .iter()
            .find(|e| e.index == index)
            .map(|e| e.term)
    }

    /// Applies a Ready's writes in the documented order.
    fn write(&mut self, rd: &Ready) {
        if let Some(hs) = rd.hard_state {
            assert!(hs.term >= self.hard_state.term, "persisted term went back");
            self.hard_state = hs;
        }
        if let Some(t) = rd.truncate_from {
            self.entries.retain(|e| e.index < t);
        }
        if let Some(m) = &rd.compact {
            self.entries.retain(|e| e.index > m.index);
            self.snapshot = Some(m.clone());
        }
        for e in &rd.entries {
            assert_eq!(
                e.index,
                self.last_index() + 1,
                "disk append is not contiguous"
            );
            self.entries.push(e.clone());
        }
    }

    fn recovered(&self) -> Recovered {
        Recovered {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
        }
    }
}

/// A tiny deterministic PRNG for fault injection in tests.
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Cluster {
    nodes: BTreeMap<NodeId, Raft>,
    configs: BTreeMap<NodeId, Config>,
    initial: BTreeMap<NodeId, Membership>,
    disks: BTreeMap<NodeId, Disk>,
    net: VecDeque<(NodeId, NodeId, Message)>,
    /// Directed links that drop everything.
    cut: BTreeSet<(NodeId, NodeId)>,
    down: BTreeSet<NodeId>,
    /// Election safety: at most one leader per term.
    leaders: BTreeMap<Term, NodeId>,
    /// State machine safety: what was committed at each index, by anyone.
    committed: BTreeMap<Index, Entry>,
    applied: BTreeMap<NodeId, Vec<Entry>>,
    reads: BTreeMap<NodeId, Vec<ReadState>>,
    failed_reads: BTreeMap<NodeId, Vec<u64>>,
    events: BTreeMap<NodeId, Vec<TraceEvent>>,
    /// Every message sent, for assertions.
    sent: Vec<(NodeId, NodeId, Message)>,
    /// The highest (term, index) each node acknowledged holding to a leader.
    acked: BTreeMap<NodeId, (Term, Index)>,
    /// Snapshot fetches are served automatically when set.
    auto_snapshot: bool,
    /// With faults on: fetches complete at a random later delivery instead
    /// of at once (a real fetch is asynchronous), so they can land after the
    /// shard moved on.
    late_fetches: bool,
    fetches: Vec<(NodeId, SnapshotMeta)>,
    /// Fault injection: (rng, drop %, duplicate %, reorder).
    faults: Option<(TestRng, u64, u64)>,
}

fn config(id: NodeId, pre_vote: bool, check_quorum: bool) -> Config {
    let mut c = Config::new(id, 42);
    c.pre_vote = pre_vote;
    c.check_quorum = check_quorum;
    c
}

impl Cluster {
    fn new(n: u64, pre_vote: bool, check_quorum: bool) -> Cluster {
        let ids: Vec<NodeId> = (1..=n).collect();
        Cluster::with(&ids, &ids, |id| config(id, pre_vote, check_quorum))
    }

    /// Nodes `ids`; those in `voters` start with `voters` as their initial
    /// membership, the others are spares (empty membership).
    fn with(ids: &[NodeId], voters: &[NodeId], cfg: impl Fn(NodeId) -> Config) -> Cluster {
        let mut c = Cluster {
            nodes: BTreeMap::new(),
            configs: BTreeMap::new(),
            initial: BTreeMap::new(),
            disks: BTreeMap::new(),
            net: VecDeque::new(),
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            applied: BTreeMap::new(),
            reads: BTreeMap::new(),
            failed_reads: BTreeMap::new(),
            events: BTreeMap::new(),
            sent: Vec::new(),
            acked: BTreeMap::new(),
            auto_snapshot: true,
            late_fetches: false,
            fetches: Vec::new(),
            faults: None,
        };
        for &id in ids {
            let initial = if voters.contains(&id) {
                Membership::new(voters.iter().copied())
            } else {
                Membership::default()
            };
            let cfg = cfg(id);
            c.nodes.insert(
                id,
                Raft::new(1, cfg.clone(), initial.clone(), Recovered::default()),
            );
            c.configs.insert(id, cfg);
            c.initial.insert(id, initial);
            c.disks.insert(id, Disk::default());
        }
        c
    }

    fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[&id]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Raft {
        self.nodes.get_mut(&id).unwrap()
    }

    fn status(&self, id: NodeId) -> Status {
        self.node(id).status()
    }

    fn live(&self) -> Vec<NodeId> {
        self.nodes
            .keys()
            .copied()
            .filter(|id| !self.down.contains(id))
            .collect()
    }

    /// Takes and handles every Ready of `id`, checking the invariants.
    fn process(&mut self, id: NodeId) {
        if self.down.contains(&id) {
            return;
        }
        let mut rounds = 0;
        while self.nodes[&id].has_ready() {
            rounds += 1;
            assert!(rounds < 1000, "n{id} never runs out of Readies");
            let rd = self.nodes.get_mut(&id).unwrap().ready();
            let disk = self.disks.get_mut(&id).unwrap();
            disk.write(&rd);
            // Nothing acknowledged is lost: within the term it acknowledged
            // them in, a node's disk keeps every entry it told the leader it
            // holds (the leader counts them toward commit quorums).
            if let Some(&(term, index)) = self.acked.get(&id) {
                if disk.hard_state.term == term {
                    assert!(
                        disk.last_index() >= index,
                        "n{id} acknowledged entries up to {index} in term {term}, but its disk now ends at {}",
                        disk.last_index()
                    );
                }
            }
            for ev in &rd.events {
                if let TraceEvent::BecomeLeader { term } = ev {
                    let prev = self.leaders.insert(*term, id);
                    assert!(
                        prev.is_none() || prev == Some(id),
                        "election safety: n{} and n{id} lead term {term}",
                        prev.unwrap()
                    );
                }
            }
            // The persistence rule, checked against the disk.
            for (to, m) in &rd.messages {
                match m {
                    Message::VoteResp {
                        term,
                        granted: true,
                    } => {
                        assert_eq!(
                            disk.hard_state,
                            HardState {
                                term: *term,
                                vote: Some(*to)
                            },
                            "n{id} granted a vote it has not persisted"
                        );
                    }
                    Message::AppendResp {
                        term,
                        success: true,
                        index,
                    } => {
                        let acked = self.acked.entry(id).or_insert((*term, *index));
                        if (*term, *index) > *acked {
                            *acked = (*term, *index);
                        }
                        assert!(disk.hard_state.term >= *term);
                        assert!(
                            disk.last_index() >= *index,
                            "n{id} acked {index} but its disk ends at {}",
                            disk.last_index()
                        );
                        let node_term = self.nodes[&id].log.term(*index);
                        if let (Some(a), Some(b)) = (node_term, disk.term(*index)) {
                            assert_eq!(a, b, "n{id} acked an entry its disk holds differently");
                        }
                    }
                    _ => {}
                }
            }
            for e in &rd.committed {
                let prev = self.committed.entry(e.index).or_insert_with(|| e.clone());
                assert_eq!(
                    prev, e,
                    "state machine safety: two entries committed at {}",
                    e.index
                );
            }
            self.applied
                .entry(id)
                .or_default()
                .extend(rd.committed.iter().cloned());
            self.reads
                .entry(id)
                .or_default()
                .extend(rd.reads.iter().copied());
            self.failed_reads
                .entry(id)
                .or_default()
                .extend(rd.failed_reads.iter().copied());
            for e in &rd.events {
                // Every peer here is an honest core: nothing may be refused.
                assert!(
                    !matches!(e, TraceEvent::RefusedMessage { .. }),
                    "n{id}: {e:?}"
                );
            }
            self.events
                .entry(id)
                .or_default()
                .extend(rd.events.iter().cloned());
            for (to, m) in rd.messages {
                self.sent.push((id, to, m.clone()));
                if !self.cut.contains(&(id, to)) && !self.down.contains(&to) {
                    self.net.push_back((id, to, m));
                }
            }
            self.nodes.get_mut(&id).unwrap().advance();
            if let Some((_, meta)) = rd.fetch_snapshot {
                if self.late_fetches && self.faults.is_some() {
                    if !self.fetches.iter().any(|(n, _)| *n == id) {
                        self.fetches.push((id, meta));
                    }
                } else if self.auto_snapshot && self.nodes[&id].snapshot_wanted(&meta) {
                    self.nodes.get_mut(&id).unwrap().snapshot_installed(meta);
                }
            }
        }
    }

    fn process_all(&mut self) {
        for id in self.live() {
            self.process(id);
        }
    }

    /// Delivers one message; returns false if the network was empty.
    fn deliver_one(&mut self) -> bool {
        let land = !self.fetches.is_empty()
            && match &mut self.faults {
                Some((rng, _, _)) => rng.chance(1),
                None => false,
            };
        if land {
            self.land_a_fetch();
            return true;
        }
        let picked = match &mut self.faults {
            None => self.net.pop_front(),
            Some((rng, drop, dup)) => {
                if self.net.is_empty() {
                    None
                } else {
                    let i = (rng.next() % self.net.len() as u64) as usize;
                    let m = self.net.remove(i).unwrap();
                    if rng.chance(*dup) {
                        self.net.push_back(m.clone());
                    }
                    if rng.chance(*drop) {
                        return true;
                    }
                    Some(m)
                }
            }
        };
        let Some((from, to, m)) = picked else {
            return false;
        };
        if self.down.contains(&to) || self.cut.contains(&(from, to)) {
            return true;
        }
        self.node_mut(to).step(from, m);
        self.process(to);
        true
    }

    /// Runs until no message is in flight.
    fn stabilize(&mut self) {
        self.process_all();
        let mut steps = 0;
        while self.deliver_one() {
            steps += 1;
            assert!(steps < 200_000, "the cluster does not stabilize");
        }
    }

    fn tick(&mut self, ticks: u32) {
        for _ in 0..ticks {
            for id in self.live() {
                self.node_mut(id).tick();
            }
            self.stabilize();
        }
    }

    fn leader(&self) -> Option<NodeId> {
        self.live()
            .into_iter()
            .filter(|&id| self.node(id).status().is_leader())
            .max_by_key(|&id| self.node(id).status().term)
    }

    /// Ticks until some node leads; returns it.
    fn elect_any(&mut self) -> NodeId {
        for _ in 0..500 {
            if let Some(l) = self.leader() {
                return l;
            }
            self.tick(1);
        }
        panic!("no leader elected");
    }

    fn elect(&mut self, id: NodeId) -> NodeId {
        self.node_mut(id).campaign();
        self.stabilize();
        assert_eq!(self.leader(), Some(id));
        id
    }

    fn isolate(&mut self, id: NodeId) {
        for other in self.nodes.keys().copied().collect::<Vec<_>>() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Completes one pending fetch, picked at random: installed if the node
    /// still wants it when it lands, like the node layer does.
    fn land_a_fetch(&mut self) {
        let Some((rng, _, _)) = &mut self.faults else {
            return;
        };
        if self.fetches.is_empty() {
            return;
        }
        let i = (rng.next() % self.fetches.len() as u64) as usize;
        let (id, meta) = self.fetches.swap_remove(i);
        if self.nodes[&id].snapshot_wanted(&meta) {
            self.nodes.get_mut(&id).unwrap().snapshot_installed(meta);
            self.process(id);
        }
    }

    fn crash(&mut self, id: NodeId) {
        self.fetches.retain(|(n, _)| *n != id);
        self.down.insert(id);
        self.net.retain(|(f, t, _)| *f != id && *t != id);
    }

    /// Restarts `id` from what its disk holds.
    fn restart(&mut self, id: NodeId) {
        let r = Raft::new(
            1,
            self.configs[&id].clone(),
            self.initial[&id].clone(),
            self.disks[&id].recovered(),
        );
        self.nodes.insert(id, r);
        self.down.remove(&id);
    }

    fn propose(&mut self, id: NodeId, data: &[u8]) -> Index {
        let i = self.node_mut(id).propose(None, data.to_vec()).unwrap();
        self.stabilize();
        i
    }

    fn commands(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.applied
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|e| match &e.payload {
                Payload::Command { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn events(&self, id: NodeId) -> &[TraceEvent] {
        self.events.get(&id).map_or(&[], |v| v.as_slice())
    }
}

fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command {
            request: None,
            data: vec![index as u8],
        },
    }
}

fn entries(spec: &[(Index, Term)]) -> Vec<Entry> {
    spec.iter().map(|&(i, t)| entry(i, t)).collect()
}

fn terms(r: &Raft) -> Vec<(Index, Term)> {
    r.log_entries().iter().map(|e| (e.index, e.term)).collect()
}

/// A lone core with the given disk contents, in a 3-voter shard.
fn restored(id: NodeId, term: Term, log: &[(Index, Term)]) -> Raft {
    Raft::new(
        1,
        config(id, false, false),
        Membership::new([1, 2, 3]),
        Recovered {
            hard_state: HardState { term, vote: None },
            snapshot: None,
            entries: entries(log),
        },
    )
}

/// An Append of `term` after `prev` (index, term), carrying `entries` and
/// the leader's `commit`.
fn append(term: Term, prev: (Index, Term), entries: Vec<Entry>, commit: Index) -> Message {
    Message::Append {
        term,
        prev_index: prev.0,
        prev_term: prev.1,
        entries,
        commit,
    }
}

/// A follower's answer to an Append.
fn append_resp(term: Term, success: bool, index: Index) -> Message {
    Message::AppendResp {
        term,
        success,
        index,
    }
}

fn messages_to(rd: &Ready, to: NodeId) -> Vec<Message> {
    rd.messages
        .iter()
        .filter(|(t, _)| *t == to)
        .map(|(_, m)| m.clone())
        .collect()
}
