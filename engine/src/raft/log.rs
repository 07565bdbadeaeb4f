//! The in-memory log of one replica: the entries after the latest snapshot,
//! split into what storage already holds (durable), what was handed to
//! storage but not yet confirmed (in flight), and what was not handed out yet
//! (unstable). It also tracks the commit and apply cursors.
//!
//! Cursors, always ordered: `snapshot.index <= applied <= committed <= last_index()`
//! and `persisted <= handed <= last_index()`.

use super::types::{Entry, Index, SnapshotMeta, Term};
use std::collections::VecDeque;

/// The log of one replica of one shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RaftLog {
    /// The compacted prefix. `index == 0` when the log was never compacted.
    snapshot: SnapshotMeta,
    /// Entries after the snapshot: `entries[i].index == snapshot.index + 1 + i`.
    entries: Vec<Entry>,
    /// The highest index known to be committed.
    pub committed: Index,
    /// The highest index handed to the application (in `Ready::committed`).
    pub applied: Index,
    /// Entries up to here are durable (storage confirmed through `advance`).
    persisted: Index,
    /// Entries up to here were handed to storage (durable or in flight).
    handed: Index,
    /// For each Ready not yet confirmed by `advance`, the `handed` level it carried.
    in_flight: VecDeque<Index>,
    /// Storage must delete entries at and above this index (a conflicting suffix
    /// that was already handed out).
    pending_truncate: Option<Index>,
    /// Storage may delete entries up to this snapshot.
    pending_compact: Option<SnapshotMeta>,
}

impl RaftLog {
    /// A log restored from disk: everything it holds is durable.
    pub(crate) fn restore(snapshot: Option<SnapshotMeta>, entries: Vec<Entry>) -> RaftLog {
        let snapshot = snapshot.unwrap_or_default();
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(
                e.index,
                snapshot.index + 1 + i as u64,
                "recovered log is not contiguous after the snapshot"
            );
        }
        for w in entries.windows(2) {
            assert!(w[0].term <= w[1].term, "recovered log terms decrease");
        }
        if let Some(first) = entries.first() {
            assert!(
                first.term >= snapshot.term,
                "recovered log older than its snapshot"
            );
        }
        let last = snapshot.index + entries.len() as u64;
        RaftLog {
            committed: snapshot.index,
            applied: snapshot.index,
            persisted: last,
            handed: last,
            snapshot,
            entries,
            in_flight: VecDeque::new(),
            pending_truncate: None,
            pending_compact: None,
        }
    }

    pub(crate) fn snapshot(&self) -> &SnapshotMeta {
        &self.snapshot
    }

    pub(crate) fn last_index(&self) -> Index {
        self.snapshot.index + self.entries.len() as u64
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot.term, |e| e.term)
    }

    pub(crate) fn persisted(&self) -> Index {
        self.persisted
    }

    /// The term of the entry at `index`, if the log can tell (not compacted
    /// away, not beyond the end). Index 0 has term 0.
    pub(crate) fn term(&self, index: Index) -> Option<Term> {
        if index == self.snapshot.index {
            return Some(self.snapshot.term);
        }
        if index < self.snapshot.index || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - self.snapshot.index - 1) as usize].term)
    }

    /// Entries `lo..=hi`, all of which must be in the log.
    pub(crate) fn slice(&self, lo: Index, hi: Index) -> Vec<Entry> {
        if lo > hi {
            return Vec::new();
        }
        assert!(lo > self.snapshot.index && hi <= self.last_index());
        let base = self.snapshot.index + 1;
        self.entries[(lo - base) as usize..=(hi - base) as usize].to_vec()
    }

    /// Entries after the snapshot, in order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// §5.4.1: a log is at least as up to date as ours if its last term is
    /// higher, or the same with an index at least as high.
    pub(crate) fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Appends entries that directly follow the last one.
    pub(crate) fn append(&mut self, entries: &[Entry]) {
        for e in entries {
            assert_eq!(
                e.index,
                self.last_index() + 1,
                "log append is not contiguous"
            );
            assert!(e.term >= self.last_term(), "log terms must not decrease");
            self.entries.push(e.clone());
        }
    }

    /// Removes the entries at and above `from` (a conflicting suffix).
    pub(crate) fn truncate(&mut self, from: Index) {
        assert!(
            from > self.committed,
            "§5.3: a committed entry is never truncated"
        );
        assert!(from > self.snapshot.index);
        if from > self.last_index() {
            return;
        }
        self.entries
            .truncate((from - self.snapshot.index - 1) as usize);
        if from <= self.handed {
            // Storage holds (or will hold) entries we dropped: tell it.
            self.pending_truncate = Some(self.pending_truncate.map_or(from, |t| t.min(from)));
            self.handed = from - 1;
        }
        self.persisted = self.persisted.min(from - 1);
        for f in self.in_flight.iter_mut() {
            *f = (*f).min(from - 1);
        }
    }

    /// Raises the commit index (never lowers it).
    pub(crate) fn commit_to(&mut self, index: Index) -> bool {
        if index <= self.committed {
            return false;
        }
        assert!(
            index <= self.last_index(),
            "commit beyond the end of the log"
        );
        self.committed = index;
        true
    }

    /// Drops the prefix up to `meta.index`, which the application has snapshotted.
    pub(crate) fn compact(&mut self, meta: SnapshotMeta) {
        assert!(
            meta.index <= self.applied,
            "snapshot of entries not yet applied"
        );
        assert!(meta.index > self.snapshot.index);
        assert_eq!(
            self.term(meta.index),
            Some(meta.term),
            "snapshot term does not match log"
        );
        let drop = (meta.index - self.snapshot.index) as usize;
        self.entries.drain(..drop);
        // Applied entries were persisted before they were applied.
        self.persisted = self.persisted.max(meta.index);
        self.handed = self.handed.max(meta.index);
        self.pending_compact = Some(meta.clone());
        self.snapshot = meta;
    }

    /// Replaces the whole log by a snapshot received from the leader.
    pub(crate) fn install(&mut self, meta: SnapshotMeta) {
        self.entries.clear();
        self.committed = meta.index;
        self.applied = meta.index;
        self.persisted = meta.index;
        self.handed = meta.index;
        for f in self.in_flight.iter_mut() {
            *f = (*f).min(meta.index);
        }
        // Whatever storage holds beyond the snapshot is not ours any more.
        self.pending_truncate = Some(meta.index + 1);
        self.pending_compact = Some(meta.clone());
        self.snapshot = meta;
    }

    /// Whether there is anything to hand to storage.
    pub(crate) fn has_unstable(&self) -> bool {
        self.handed < self.last_index()
            || self.pending_truncate.is_some()
            || self.pending_compact.is_some()
    }

    /// Hands the pending writes to storage: (truncate_from, entries, compact).
    /// Records an in-flight level that the next `stable()` confirms.
    pub(crate) fn take_unstable(&mut self) -> (Option<Index>, Vec<Entry>, Option<SnapshotMeta>) {
        let truncate = self.pending_truncate.take();
        let entries = self.slice(self.handed + 1, self.last_index());
        self.handed = self.last_index();
        self.in_flight.push_back(self.handed);
        (truncate, entries, self.pending_compact.take())
    }

    /// Storage confirmed the oldest Ready still in flight.
    pub(crate) fn stable(&mut self) -> bool {
        match self.in_flight.pop_front() {
            Some(level) if level > self.persisted => {
                self.persisted = level;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn has_next_committed(&self) -> bool {
        self.committed > self.applied
    }

    /// Committed entries not handed to the application yet; marks them applied.
    pub(crate) fn take_committed(&mut self) -> Vec<Entry> {
        let out = self.slice(self.applied + 1, self.committed);
        self.applied = self.committed;
        out
    }
}
