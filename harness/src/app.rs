//! The key-value test application the engine replicates in a run: integer
//! registers (read, write, compare-and-set) and lists (append, read), so that
//! a lost, duplicated or reordered write becomes visible to the checkers.
//!
//! Keys are placed on shards by a stable hash ([`shard_of`]). The app takes a
//! snapshot of a shard every `snapshot_every` applied entries, so log
//! compaction and snapshot installation are exercised in every long run.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tumult_engine::node::RaftApp;
use tumult_engine::raft::{Index, ShardId};

/// A command, replicated through the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Command {
    /// Sets a register.
    Write { key: String, value: i64 },
    /// Sets a register to `new` if it holds `expected`.
    Cas {
        key: String,
        expected: i64,
        new: i64,
    },
    /// Appends to a list.
    Append { key: String, value: i64 },
}

/// A read of one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The key.
    pub key: String,
}

/// What a command or query answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// The command took effect.
    Done,
    /// A cas whose register did not hold the expected value: no effect.
    Mismatch,
    /// A register's value (None: never written).
    Value(Option<i64>),
    /// A list.
    List(Vec<i64>),
    /// The bytes did not decode as a command or query.
    Malformed(String),
}

/// The value stored under a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stored {
    /// A register.
    Register(i64),
    /// A list.
    List(Vec<i64>),
}

/// The stable placement of a key on a shard: FNV-1a of the key's bytes.
pub fn shard_of(key: &str, shards: u32) -> ShardId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % u64::from(shards.max(1))
}

/// The replicated key-value state of every shard of one node.
#[derive(Debug, Default)]
pub struct KvApp {
    shards: BTreeMap<ShardId, BTreeMap<String, Stored>>,
    snapshot_every: u64,
}

impl KvApp {
    /// An empty store that snapshots every `snapshot_every` applied entries per shard.
    pub fn new(snapshot_every: u64) -> KvApp {
        KvApp {
            shards: BTreeMap::new(),
            snapshot_every,
        }
    }

    fn encode(reply: &Reply) -> Vec<u8> {
        serde_json::to_vec(reply).expect("replies serialize")
    }
}

impl RaftApp for KvApp {
    fn apply(&mut self, shard: ShardId, _index: Index, command: &[u8]) -> Vec<u8> {
        let state = self.shards.entry(shard).or_default();
        let reply = match serde_json::from_slice::<Command>(command) {
            Err(e) => Reply::Malformed(e.to_string()),
            Ok(Command::Write { key, value }) => {
                state.insert(key, Stored::Register(value));
                Reply::Done
            }
            Ok(Command::Cas { key, expected, new }) => match state.get(&key) {
                Some(Stored::Register(v)) if *v == expected => {
                    state.insert(key, Stored::Register(new));
                    Reply::Done
                }
                _ => Reply::Mismatch,
            },
            Ok(Command::Append { key, value }) => {
                match state.entry(key).or_insert_with(|| Stored::List(Vec::new())) {
                    Stored::List(l) => {
                        l.push(value);
                        Reply::Done
                    }
                    Stored::Register(_) => Reply::Malformed("append to a register".into()),
                }
            }
        };
        Self::encode(&reply)
    }

    fn read(&mut self, shard: ShardId, query: &[u8]) -> Vec<u8> {
        let reply = match serde_json::from_slice::<Query>(query) {
            Err(e) => Reply::Malformed(e.to_string()),
            Ok(q) => match self.shards.get(&shard).and_then(|s| s.get(&q.key)) {
                None => Reply::Value(None),
                Some(Stored::Register(v)) => Reply::Value(Some(*v)),
                Some(Stored::List(l)) => Reply::List(l.clone()),
            },
        };
        Self::encode(&reply)
    }

    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        let state = self.shards.get(&shard).cloned().unwrap_or_default();
        serde_json::to_vec(&state).expect("state serializes")
    }

    fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
        let state = if snapshot.is_empty() {
            BTreeMap::new()
        } else {
            // A snapshot this app wrote: a decoding failure is a broken invariant.
            serde_json::from_slice(snapshot).expect("a snapshot written by KvApp decodes")
        };
        self.shards.insert(shard, state);
    }

    fn should_snapshot(&self, _shard: ShardId, applied: Index, snapshot_index: Index) -> bool {
        self.snapshot_every > 0 && applied >= snapshot_index + self.snapshot_every
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(c: &Command) -> Vec<u8> {
        serde_json::to_vec(c).unwrap()
    }

    fn reply(b: Vec<u8>) -> Reply {
        serde_json::from_slice(&b).unwrap()
    }

    #[test]
    fn registers_lists_and_cas_behave() {
        let mut app = KvApp::new(10);
        let q = |k: &str| serde_json::to_vec(&Query { key: k.into() }).unwrap();
        assert_eq!(reply(app.read(0, &q("k1"))), Reply::Value(None));
        app.apply(
            0,
            1,
            &cmd(&Command::Write {
                key: "k1".into(),
                value: 5,
            }),
        );
        let miss = app.apply(
            0,
            2,
            &cmd(&Command::Cas {
                key: "k1".into(),
                expected: 4,
                new: 9,
            }),
        );
        assert_eq!(reply(miss), Reply::Mismatch);
        let hit = app.apply(
            0,
            3,
            &cmd(&Command::Cas {
                key: "k1".into(),
                expected: 5,
                new: 9,
            }),
        );
        assert_eq!(reply(hit), Reply::Done);
        assert_eq!(reply(app.read(0, &q("k1"))), Reply::Value(Some(9)));
        app.apply(
            0,
            4,
            &cmd(&Command::Append {
                key: "k2".into(),
                value: 1,
            }),
        );
        app.apply(
            0,
            5,
            &cmd(&Command::Append {
                key: "k2".into(),
                value: 2,
            }),
        );
        assert_eq!(reply(app.read(0, &q("k2"))), Reply::List(vec![1, 2]));
        let snap = app.snapshot(0);
        let mut other = KvApp::new(10);
        other.restore(0, &snap);
        assert_eq!(reply(other.read(0, &q("k2"))), Reply::List(vec![1, 2]));
        assert!(app.should_snapshot(0, 10, 0) && !app.should_snapshot(0, 9, 0));
    }

    #[test]
    fn placement_is_stable_and_spreads() {
        assert_eq!(shard_of("k1", 4), shard_of("k1", 4));
        let used: std::collections::BTreeSet<_> =
            (0..32).map(|i| shard_of(&format!("k{i}"), 4)).collect();
        assert_eq!(used.len(), 4);
    }
}
