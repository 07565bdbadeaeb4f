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

/// For every client, the last request applied and its reply. It is part of
/// the replicated state: rebuilt by replaying the log and carried in
/// snapshots, so it survives leader changes and restarts.
///
/// Clients issue one request at a time, so the latest sequence number per
/// client is enough to recognise a retry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sessions {
    last: BTreeMap<u64, (u64, Vec<u8>)>,
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

impl Sessions {
    pub(crate) fn check(&self, r: RequestId) -> Dedup {
        match self.last.get(&r.client) {
            Some((seq, reply)) if *seq == r.seq => Dedup::Duplicate(reply.clone()),
            Some((seq, _)) if *seq > r.seq => Dedup::Stale,
            _ => Dedup::Apply,
        }
    }

    pub(crate) fn record(&mut self, r: RequestId, reply: Vec<u8>) {
        self.last.insert(r.client, (r.seq, reply));
    }

    /// Encodes the table followed by the application's snapshot.
    pub(crate) fn encode_with(&self, app: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + app.len());
        out.extend_from_slice(&(self.last.len() as u64).to_le_bytes());
        for (client, (seq, reply)) in &self.last {
            out.extend_from_slice(&client.to_le_bytes());
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&(reply.len() as u64).to_le_bytes());
            out.extend_from_slice(reply);
        }
        out.extend_from_slice(app);
        out
    }

    /// Splits a snapshot made by [`Sessions::encode_with`].
    pub(crate) fn decode(blob: &[u8]) -> Option<(Sessions, &[u8])> {
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
        let n = u64_of(&mut b)?;
        let mut last = BTreeMap::new();
        for _ in 0..n {
            let client = u64_of(&mut b)?;
            let seq = u64_of(&mut b)?;
            let len = usize::try_from(u64_of(&mut b)?).ok()?;
            let reply = take(&mut b, len)?.to_vec();
            last.insert(client, (seq, reply));
        }
        Some((Sessions { last }, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_survive_a_snapshot_round_trip() {
        let mut s = Sessions::default();
        s.record(RequestId { client: 7, seq: 3 }, b"ok".to_vec());
        let blob = s.encode_with(b"app");
        let (back, app) = Sessions::decode(&blob).expect("decodes");
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
        assert!(Sessions::decode(&blob[..5]).is_none());
    }
}
