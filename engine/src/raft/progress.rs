//! What the leader knows about each follower's log: the highest index known
//! to match (`matched`), the next index to send (`next`), and how to send.
//!
//! - `Probe`: the leader does not know where the logs diverge; it sends one
//!   Append at a time and waits for the answer (or the next heartbeat reply).
//! - `Replicate`: the logs match up to `matched`; the leader streams entries
//!   optimistically, at most [`MAX_INFLIGHT`] Appends ahead.
//! - `Snapshot`: the follower needs a snapshot; nothing is sent until it acks.

use super::types::Index;
use std::collections::VecDeque;

/// At most this many Appends carrying entries are outstanding per follower.
pub(crate) const MAX_INFLIGHT: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressState {
    Probe,
    Replicate,
    /// Waiting for the follower to install the snapshot up to this index.
    Snapshot(Index),
}

#[derive(Debug, Clone)]
pub(crate) struct Progress {
    /// The highest index known to be replicated on the follower.
    pub matched: Index,
    /// The index of the next entry to send.
    pub next: Index,
    pub state: ProgressState,
    /// In Probe: an Append was sent and no answer has arrived yet.
    pub probe_sent: bool,
    /// In Replicate: the last index of each outstanding Append.
    pub inflight: VecDeque<Index>,
    /// Heard from the follower since the last check-quorum round.
    pub recent_active: bool,
    /// Ticks spent in the Snapshot state.
    pub snapshot_ticks: u32,
}

impl Progress {
    pub(crate) fn new(next: Index) -> Progress {
        assert!(next >= 1);
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: true,
            snapshot_ticks: 0,
        }
    }

    /// Whether the leader must hold back Appends to this follower.
    pub(crate) fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= MAX_INFLIGHT,
            ProgressState::Snapshot(_) => true,
        }
    }

    pub(crate) fn become_probe(&mut self) {
        self.next = self.matched + 1;
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
    }

    pub(crate) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    pub(crate) fn become_snapshot(&mut self, index: Index) {
        self.state = ProgressState::Snapshot(index);
        self.probe_sent = false;
        self.inflight.clear();
        self.snapshot_ticks = 0;
    }

    /// An Append ending at `last` was sent.
    pub(crate) fn sent(&mut self, last: Index, carried_entries: bool) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate => {
                if carried_entries {
                    assert!(last >= self.next, "an Append carries entries from next on");
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
            ProgressState::Snapshot(_) => unreachable!("no Append while sending a snapshot"),
        }
    }

    /// The follower acknowledged holding up to `index`. Returns whether that was news.
    pub(crate) fn ack(&mut self, index: Index) -> bool {
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        if index <= self.matched {
            return false;
        }
        self.matched = index;
        self.next = self.next.max(index + 1);
        true
    }

    /// The follower refused an Append; `hint` is the index it suggests trying next.
    /// Returns whether the progress moved (false for a stale refusal).
    pub(crate) fn reject(&mut self, hint: Index) -> bool {
        if hint <= self.matched {
            // Stale: the follower has since acknowledged more than that.
            return false;
        }
        self.next = hint.min(self.next).max(self.matched + 1);
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
        true
    }
}
