//! The application a node replicates, and the exactly-once table the node
//! keeps beside it.

use crate::raft::{Index, RequestId, ShardId};
use std::collections::BTreeMap;

/// The replicated application: a deterministic state machine per shard.
///
/// The node calls `apply` for every committed command, in log order, exactly
/// once per index (a retried client write with the same [`RequestId`] is
/// filtered out before it reaches the application). It decides when to take
/// a snapshot through `should_snapshot`; the engine then compacts the log
/// behind it and streams the snapshot to followers that are too far behind.
///
/// ```
/// use tumult_engine::node::RaftApp;
/// use tumult_engine::raft::{Index, ShardId};
/// use std::collections::BTreeMap;
///
/// /// Counts the commands applied to each shard.
/// #[derive(Default)]
/// struct Counter(BTreeMap<ShardId, u64>);
///
/// impl RaftApp for Counter {
///     fn apply(&mut self, shard: ShardId, _index: Index, _command: &[u8]) -> Vec<u8> {
///         let n = self.0.entry(shard).or_default();
///         *n += 1;
///         n.to_be_bytes().to_vec()
///     }
///     fn read(&mut self, shard: ShardId, _query: &[u8]) -> Vec<u8> {
///         self.0.get(&shard).copied().unwrap_or(0).to_be_bytes().to_vec()
///     }
///     fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
///         self.read(shard, &[])
///     }
///     fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
///         let n = snapshot.try_into().map(u64::from_be_bytes).unwrap_or(0);
///         self.0.insert(shard, n);
///     }
/// }
/// ```
pub trait RaftApp: Send + 'static {
    /// Applies a committed command and returns the reply for the client.
    fn apply(&mut self, shard: ShardId, index: Index, command: &[u8]) -> Vec<u8>;
    /// Answers a query against the current state (already applied up to the
    /// read's index for linearizable reads).
    fn read(&mut self, shard: ShardId, query: &[u8]) -> Vec<u8>;
    /// Serializes the state of `shard`.
    fn snapshot(&mut self, shard: ShardId) -> Vec<u8>;
    /// Replaces the state of `shard` with a snapshot (empty slice: the empty state).
    fn restore(&mut self, shard: ShardId, snapshot: &[u8]);
    /// Whether to snapshot `shard` now, having applied up to `applied`, with
    /// the latest snapshot at `snapshot_index`. Default: never.
    fn should_snapshot(&self, _shard: ShardId, _applied: Index, _snapshot_index: Index) -> bool {
        false
    }
}

/// An application chosen at run time (a testbed runs whichever app its
/// workload brings).
impl RaftApp for Box<dyn RaftApp> {
    fn apply(&mut self, shard: ShardId, index: Index, command: &[u8]) -> Vec<u8> {
        (**self).apply(shard, index, command)
    }
    fn read(&mut self, shard: ShardId, query: &[u8]) -> Vec<u8> {
        (**self).read(shard, query)
    }
    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        (**self).snapshot(shard)
    }
    fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
        (**self).restore(shard, snapshot)
    }
    fn should_snapshot(&self, shard: ShardId, applied: Index, snapshot_index: Index) -> bool {
        (**self).should_snapshot(shard, applied, snapshot_index)
    }
}

/// For every client, the last request applied, its reply and the log index
/// it was applied at. It is part of the replicated state: rebuilt by
/// replaying the log and carried in snapshots, so it survives leader changes
/// and restarts.
///
/// Clients issue one request at a time, so the latest sequence number per
/// client is enough to recognise a retry.
///
/// The table is bounded: it holds at most `capacity` clients, and recording
/// a new client beyond that forgets the one whose last request is oldest in
/// the log. Which client is forgotten depends only on the log (the indexes
/// at which requests were applied), never on a clock, so every replica and
/// every snapshot keeps the same table. The guarantee: a retry is applied at
/// most once as long as fewer than `capacity` other clients have written
/// since the client's last applied request; a client forgotten meanwhile is
/// treated as new (its retry may apply again), so size `capacity` above the
/// number of clients that write concurrently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sessions {
    capacity: usize,
    /// client -> (seq, reply, index applied at).
    last: BTreeMap<u64, (u64, Vec<u8>, u64)>,
    /// (index applied at, client): the order in which clients are forgotten.
    by_index: std::collections::BTreeSet<(u64, u64)>,
}

/// Clients remembered per shard unless configured otherwise.
pub(crate) const DEFAULT_SESSIONS: usize = 100_000;

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_capacity(DEFAULT_SESSIONS)
    }
}

/// What to do with a command carrying a request id.
pub(crate) enum Dedup {
    /// New: apply it.
    Apply,
    /// Already applied: answer with the recorded reply.
    Duplicate(Vec<u8>),
    /// Older than the client's latest request: nobody waits for it.
    Stale,
}

/// Marks the encoding that carries indexes (an older one starts with the
/// entry count, which is never this).
const INDEXED: u64 = u64::MAX;

impl Sessions {
    pub(crate) fn with_capacity(capacity: usize) -> Sessions {
        Sessions {
            capacity: capacity.max(1),
            last: BTreeMap::new(),
            by_index: Default::default(),
        }
    }

    pub(crate) fn check(&self, r: RequestId) -> Dedup {
        match self.last.get(&r.client) {
            Some((seq, reply, _)) if *seq == r.seq => Dedup::Duplicate(reply.clone()),
            Some((seq, _, _)) if *seq > r.seq => Dedup::Stale,
            _ => Dedup::Apply,
        }
    }

    /// Records `r`, applied at log index `index`, with its reply.
    pub(crate) fn record(&mut self, r: RequestId, reply: Vec<u8>, index: u64) {
        if let Some((_, _, old)) = self.last.insert(r.client, (r.seq, reply, index)) {
            self.by_index.remove(&(old, r.client));
        }
        self.by_index.insert((index, r.client));
        while self.last.len() > self.capacity {
            let Some((_, client)) = self.by_index.pop_first() else {
                break;
            };
            self.last.remove(&client);
        }
    }

    /// Encodes the table followed by the application's snapshot.
    pub(crate) fn encode_with(&self, app: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + app.len());
        out.extend_from_slice(&INDEXED.to_le_bytes());
        out.extend_from_slice(&(self.last.len() as u64).to_le_bytes());
        for (client, (seq, reply, index)) in &self.last {
            out.extend_from_slice(&client.to_le_bytes());
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&(reply.len() as u64).to_le_bytes());
            out.extend_from_slice(reply);
        }
        out.extend_from_slice(app);
        out
    }

    /// Splits a snapshot made by [`Sessions::encode_with`] (or by an older
    /// version without indexes: its clients count as applied at index 0),
    /// into a table of `capacity` clients and the application's snapshot.
    pub(crate) fn decode(blob: &[u8], capacity: usize) -> Option<(Sessions, &[u8])> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            if b.len() < n {
                return None;
            }
            let (h, t) = b.split_at(n);
            *b = t;
            Some(h)
        }
        fn u64_of(b: &mut &[u8]) -> Option<u64> {
            take(b, 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
        }
        let mut b = blob;
        let first = u64_of(&mut b)?;
        let indexed = first == INDEXED;
        let n = if indexed { u64_of(&mut b)? } else { first };
        let mut table = Sessions::with_capacity(capacity);
        for _ in 0..n {
            let client = u64_of(&mut b)?;
            let seq = u64_of(&mut b)?;
            let index = if indexed { u64_of(&mut b)? } else { 0 };
            let len = usize::try_from(u64_of(&mut b)?).ok()?;
            let reply = take(&mut b, len)?.to_vec();
            table.record(RequestId { client, seq }, reply, index);
        }
        Some((table, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_survive_a_snapshot_round_trip() {
        let mut s = Sessions::default();
        s.record(RequestId { client: 7, seq: 3 }, b"ok".to_vec(), 12);
        let blob = s.encode_with(b"app");
        let (back, app) = Sessions::decode(&blob, DEFAULT_SESSIONS).expect("decodes");
        assert_eq!(back, s);
        assert_eq!(app, b"app");
        assert!(matches!(
            back.check(RequestId { client: 7, seq: 3 }),
            Dedup::Duplicate(r) if r == b"ok"
        ));
        assert!(matches!(
            back.check(RequestId { client: 7, seq: 2 }),
            Dedup::Stale
        ));
        assert!(matches!(
            back.check(RequestId { client: 7, seq: 4 }),
            Dedup::Apply
        ));
        assert!(Sessions::decode(&blob[..5], DEFAULT_SESSIONS).is_none());
    }

    #[test]
    fn the_client_whose_last_request_is_oldest_in_the_log_is_forgotten_first() {
        let mut s = Sessions::with_capacity(2);
        let r = |client, seq| RequestId { client, seq };
        s.record(r(1, 1), b"a".to_vec(), 10);
        s.record(r(2, 1), b"b".to_vec(), 11);
        s.record(r(1, 2), b"c".to_vec(), 12); // client 1 is now the newer
        s.record(r(3, 1), b"d".to_vec(), 13); // forgets client 2
        assert_eq!(s.last.len(), 2);
        assert!(
            matches!(s.check(r(2, 1)), Dedup::Apply),
            "client 2 forgotten"
        );
        assert!(matches!(s.check(r(1, 2)), Dedup::Duplicate(x) if x == b"c"));
        assert!(matches!(s.check(r(3, 1)), Dedup::Duplicate(x) if x == b"d"));
        // The same table after a snapshot round trip, which forgets the same.
        let (mut back, _) = Sessions::decode(&s.encode_with(b""), 2).unwrap();
        assert_eq!(back, s);
        back.record(r(4, 1), b"e".to_vec(), 14);
        s.record(r(4, 1), b"e".to_vec(), 14);
        assert_eq!(back, s);
        assert!(
            matches!(s.check(r(1, 2)), Dedup::Apply),
            "client 1 forgotten next"
        );
    }

    #[test]
    fn a_snapshot_of_the_older_encoding_still_loads() {
        let mut old = Vec::new();
        old.extend_from_slice(&1u64.to_le_bytes()); // one client
        old.extend_from_slice(&7u64.to_le_bytes());
        old.extend_from_slice(&3u64.to_le_bytes());
        old.extend_from_slice(&2u64.to_le_bytes());
        old.extend_from_slice(b"okapp");
        let (s, app) = Sessions::decode(&old, 10).expect("decodes");
        assert_eq!(app, b"app");
        assert!(matches!(
            s.check(RequestId { client: 7, seq: 3 }),
            Dedup::Duplicate(r) if r == b"ok"
        ));
    }
}
