//! A peer's bytes, all the way into a live consensus core.
//!
//! Input: one setup byte, then up to 16 protobuf `Batch`es, each prefixed
//! with its length (varint), as they arrive on the `Deliver` streams of the
//! node's peers. Each batch is taken the way the node's service takes it
//! (`node/service.rs`): an unknown sender, or any message that
//! [`transport::decode`] refuses or that is addressed to another node,
//! refuses the whole batch with an error (the stream ends; the next batch is
//! a new one); otherwise every message is stepped into a core that the setup
//! byte built through earlier, well-formed steps (follower with a log,
//! leader with followers, leader with a compacted log, a restarted follower
//! with a snapshot, candidate, pre-candidate, spare, single-voter leader).
//! Whatever the peers claim, nothing may panic. Bytes after the last batch
//! that decodes are ignored; the service's certificate and cluster checks,
//! which come before decoding, are not modelled.
//!
//! [`transport::decode`]: tumult_engine::transport::decode
//!
//! A message's `shard` field means nothing to one core, so the target reads
//! it as the driver's schedule around that message: ticks before the step,
//! and whether a Ready is handled, a command proposed, a read started, the
//! log compacted, a transfer or a membership change asked for, or a pending
//! snapshot fetch completed after it.
//!
//! Handling a Ready follows its documented contract on a simulated disk, and
//! the target checks what a node relies on whatever its peers send: the
//! term never decreases, a vote in a term never changes, commit never moves
//! back, committed entries are handed out once, in order, appended entries
//! follow the stored log, and every message it sends survives encoding and
//! its peer's decoding (which checks it) unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use tumult_engine::raft::{
    Config, Entry, HardState, Index, Membership, Message, NodeId, Payload, Raft, Recovered,
    SnapshotMeta, Term,
};
use tumult_engine::transport::{decode, encode, pb};

/// The node under test.
const ME: NodeId = 1;
/// The nodes that may send to it (the service refuses any other sender).
/// n4 is a node of the cluster but not a voter of the shard at first.
const PEERS: [NodeId; 3] = [2, 3, 4];

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut wire)) = data.split_first() else {
        return;
    };
    let mut node = Node::new(setup);
    for _ in 0..16 {
        let Ok(batch) = pb::Batch::decode_length_delimited(&mut wire) else {
            break;
        };
        if let Some(decoded) = accept(batch) {
            node.deliver(decoded);
        }
    }
    node.drain();
    node.install();
    node.drain();
});

/// A batch as the service takes it: its sender and messages, or None when
/// the service refuses the whole batch.
fn accept(batch: pb::Batch) -> Option<(NodeId, Vec<(u64, Message)>)> {
    if batch.messages.len() > 64 {
        return None;
    }
    if !PEERS.contains(&batch.from) {
        return None; // PERMISSION_DENIED: unknown sender
    }
    let mut decoded = Vec::with_capacity(batch.messages.len());
    for m in batch.messages {
        match decode(m) {
            // The error must describe itself: it becomes the status text.
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return None; // INVALID_ARGUMENT
            }
            Ok((_, to, _)) if to != ME => return None, // INVALID_ARGUMENT
            Ok((shard, _, msg)) => decoded.push((shard, msg)),
        }
    }
    Some((batch.from, decoded))
}

/// A core, the disk it writes to and the application it feeds.
struct Node {
    raft: Raft,
    /// The durable ballot.
    hard_state: HardState,
    /// The durable log after `base`.
    disk: Vec<Entry>,
    /// The durable snapshot (the compacted prefix), index 0 if none.
    base: SnapshotMeta,
    /// The last entry handed to the application, index and term.
    applied: (Index, Term),
    /// Commit seen in the last status.
    commit: Index,
    /// A snapshot fetch under way.
    fetching: Option<SnapshotMeta>,
}

impl Node {
    /// Steps a delivered batch's messages, each with the schedule its
    /// `shard` field asks for.
    fn deliver(&mut self, (from, messages): (NodeId, Vec<(u64, Message)>)) {
        for (ctl, msg) in messages {
            for _ in 0..(ctl & 7) {
                self.raft.tick();
            }
            self.raft.step(from, msg);
            if ctl & 8 != 0 {
                self.drain();
            }
            self.control(ctl >> 4);
        }
    }

    fn new(setup: u8) -> Node {
        let mut cfg = Config::new(ME, u64::from(setup));
        cfg.pre_vote = setup & 0x10 == 0;
        // Pre-vote needs check-quorum (the core refuses it alone).
        cfg.check_quorum = cfg.pre_vote || setup & 0x20 == 0;
        cfg.max_append_entries = if setup & 0x40 == 0 { 64 } else { 1 };
        let three = Membership::new([1, 2, 3]);
        let recovered = |term: Term, entries: Vec<Entry>| Recovered {
            hard_state: HardState { term, vote: None },
            snapshot: None,
            entries,
        };
        let mut node = match setup & 0x7 {
            // A follower of n2 in term 2 with five entries, three committed.
            0 => {
                let mut n = Node::start(cfg, three, Recovered::default());
                n.raft.step(
                    2,
                    Message::Append {
                        term: 2,
                        prev_index: 0,
                        prev_term: 0,
                        entries: vec![noop(1, 1), cmd(2, 1), noop(3, 2), cmd(4, 2), cmd(5, 2)],
                        commit: 2,
                    },
                );
                n.drain();
                n.raft.step(
                    2,
                    Message::Heartbeat {
                        term: 2,
                        commit: 3,
                        ctx: 0,
                    },
                );
                n.drain();
                n
            }
            // The leader of term 3: n2 holds everything, n3 is probed.
            1 => Node::leader(cfg, three, recovered(2, log3())),
            // The same leader after compacting its log up to its commit.
            2 => {
                let mut n = Node::leader(cfg, three, recovered(2, log3()));
                n.compact();
                n.raft.step(
                    3,
                    Message::AppendResp {
                        term: 3,
                        success: false,
                        index: 1,
                    },
                );
                n.drain();
                n
            }
            // A restarted follower: a snapshot at 5, then a config adding n4.
            3 => Node::start(
                cfg,
                three.clone(),
                Recovered {
                    hard_state: HardState {
                        term: 4,
                        vote: Some(3),
                    },
                    snapshot: Some(SnapshotMeta {
                        index: 5,
                        term: 3,
                        membership: three,
                    }),
                    entries: vec![
                        cmd(6, 3),
                        Entry {
                            index: 7,
                            term: 4,
                            payload: Payload::Config(Membership::new([1, 2, 3, 4])),
                        },
                    ],
                },
            ),
            // A candidate of term 3.
            4 => {
                let mut n = Node::start(cfg, three, recovered(2, log3()));
                n.raft.campaign();
                n.drain();
                n
            }
            // A pre-candidate (or, without pre-vote, a candidate) after its timeout.
            5 => {
                let mut n = Node::start(cfg, three, recovered(2, log3()));
                for _ in 0..40 {
                    n.raft.tick();
                }
                n.drain();
                n
            }
            // A spare that waits to be added.
            6 => Node::start(cfg, Membership::default(), Recovered::default()),
            // The leader of a single-voter shard.
            _ => {
                let mut n = Node::start(cfg, Membership::new([1]), recovered(2, log3()));
                n.raft.campaign();
                n.drain();
                n.propose();
                n.drain();
                n
            }
        };
        if setup & 0x80 != 0 {
            // Some time passes before the batch arrives.
            for _ in 0..5 {
                node.raft.tick();
            }
            node.drain();
        }
        node
    }

    /// A core restored from `recovered`, with a disk that holds exactly that.
    fn start(cfg: Config, initial: Membership, recovered: Recovered) -> Node {
        let base = recovered.snapshot.clone().unwrap_or_default();
        let applied = (base.index, base.term);
        let hard_state = recovered.hard_state;
        let disk = recovered.entries.clone();
        let raft = Raft::new(7, cfg, initial, recovered);
        Node {
            raft,
            hard_state,
            disk,
            base,
            applied,
            commit: applied.0,
            fetching: None,
        }
    }

    /// The leader of term 3 of `initial`, elected by n2, which then
    /// acknowledged the whole log; two more commands are proposed after that.
    fn leader(cfg: Config, initial: Membership, recovered: Recovered) -> Node {
        let mut n = Node::start(cfg, initial, recovered);
        n.raft.campaign();
        n.drain();
        let term = n.raft.status().term;
        n.raft.step(
            2,
            Message::VoteResp {
                term,
                granted: true,
            },
        );
        n.drain();
        let last = n.raft.status().last_index;
        n.raft.step(
            2,
            Message::AppendResp {
                term,
                success: true,
                index: last,
            },
        );
        n.drain();
        n.propose();
        n.propose();
        n.drain();
        n
    }

    /// What the node's driver may do between two messages, chosen by `bits`.
    fn control(&mut self, bits: u64) {
        if bits & 1 != 0 {
            self.propose();
        }
        if bits & 2 != 0 {
            let _ = self.raft.read_index(bits);
        }
        if bits & 4 != 0 {
            self.drain();
            self.compact();
        }
        if bits & 8 != 0 {
            let _ = self.raft.transfer_leader((bits >> 7) % 4 + 1);
        }
        if bits & 16 != 0 {
            let mut voters = self.raft.status().membership;
            let node = (bits >> 7) % 4 + 1;
            if !voters.voters.remove(&node) {
                voters.voters.insert(node);
            }
            let _ = self.raft.propose_membership(voters);
        }
        if bits & 32 != 0 {
            self.drain();
        }
        if bits & 64 != 0 {
            self.install();
        }
    }

    /// The snapshot fetch under way completes: the node restores it only if
    /// the core still wants it (the log may have moved on meanwhile).
    fn install(&mut self) {
        if let Some(meta) = self.fetching.take() {
            if self.raft.snapshot_wanted(&meta) {
                self.raft.snapshot_installed(meta.clone());
                assert!(meta.index > self.applied.0, "installed an applied snapshot");
                self.applied = (meta.index, meta.term);
            }
        }
    }

    fn propose(&mut self) {
        let _ = self.raft.propose(None, b"x".to_vec());
    }

    /// Snapshots the application at what it applied, as the node does.
    fn compact(&mut self) {
        let applied = self.applied.0;
        if applied > self.raft.status().snapshot_index {
            let meta = self
                .raft
                .snapshot_meta(applied)
                .expect("the applied index is in the log");
            self.raft.snapshot_taken(meta);
        }
    }

    /// Handles Readies until there are none, as the driver does: persist,
    /// send (dropped here), apply, start a snapshot fetch, advance.
    fn drain(&mut self) {
        for _ in 0..16 {
            if !self.raft.has_ready() {
                return;
            }
            let rd = self.raft.ready();
            if let Some(hs) = rd.hard_state {
                assert!(hs.term >= self.hard_state.term, "term went back: {hs:?}");
                if hs.term == self.hard_state.term && self.hard_state.vote.is_some() {
                    assert_eq!(hs.vote, self.hard_state.vote, "vote changed in a term");
                }
                self.hard_state = hs;
            }
            if let Some(from) = rd.truncate_from {
                assert!(
                    from > self.commit,
                    "truncating committed entries from {from}"
                );
                self.disk.retain(|e| e.index < from);
            }
            if let Some(meta) = rd.compact {
                assert!(meta.index >= self.base.index, "compacted back to {meta:?}");
                self.disk.retain(|e| e.index > meta.index);
                self.base = meta;
            }
            for e in rd.entries {
                let last = self.disk.last().map_or(self.base.index, |l| l.index);
                assert_eq!(e.index, last + 1, "appended entries do not follow the log");
                self.disk.push(e);
            }
            for (to, m) in &rd.messages {
                assert_ne!(*to, ME, "a message to itself");
                // What this node sends must pass its peer's decoding as is.
                match decode(encode(7, *to, m)) {
                    Ok((7, t, back)) if t == *to && back == *m => {}
                    other => panic!("n{ME} sends {m:?} to n{to}, which decodes as {other:?}"),
                }
            }
            for e in rd.committed {
                assert_eq!(
                    e.index,
                    self.applied.0 + 1,
                    "committed entries out of order"
                );
                self.applied = (e.index, e.term);
            }
            if let Some((_, meta)) = rd.fetch_snapshot {
                // The fetch completes later (see `install`).
                self.fetching = Some(meta);
            }
            self.raft.advance();
            let st = self.raft.status();
            assert!(st.commit >= self.commit, "commit went back");
            assert!(st.commit <= st.last_index, "commit past the log");
            assert!(st.applied <= st.commit, "applied past commit");
            self.commit = st.commit;
        }
    }
}

fn noop(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Noop,
    }
}

fn cmd(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command {
            request: None,
            data: vec![index as u8],
        },
    }
}

/// Three entries of terms 1, 1, 2.
fn log3() -> Vec<Entry> {
    vec![noop(1, 1), cmd(2, 1), noop(3, 2)]
}
