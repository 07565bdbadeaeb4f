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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ProgressState {
    Probe,
    Replicate,
    /// Waiting for the follower to install the snapshot up to this index.
    Snapshot(Index),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Progress {
    /// The highest index known to be replicated on the follower.
    matched: Index,
    /// The index of the next entry to send.
    next: Index,
    state: ProgressState,
    /// In Probe: an Append was sent and no answer has arrived yet.
    probe_sent: bool,
    /// In Replicate: the last index of each outstanding Append.
    inflight: VecDeque<Index>,
    /// Heard from the follower since the last check-quorum round.
    recent_active: bool,
    /// Ticks spent in the Snapshot state.
    snapshot_ticks: u32,
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

    /// The highest index known to be replicated on the follower.
    pub(crate) fn matched(&self) -> Index {
        self.matched
    }

    /// The index of the next entry to send.
    pub(crate) fn next(&self) -> Index {
        self.next
    }

    /// Whether the leader streams entries to this follower.
    pub(crate) fn is_replicating(&self) -> bool {
        self.state == ProgressState::Replicate
    }

    /// Heard from the follower since the last check-quorum round.
    pub(crate) fn recent_active(&self) -> bool {
        self.recent_active
    }

    /// The follower answered (anything): it is active this round.
    pub(crate) fn heard(&mut self) {
        self.recent_active = true;
    }

    /// A new check-quorum round starts.
    pub(crate) fn forget_activity(&mut self) {
        self.recent_active = false;
    }

    /// One tick while waiting for a snapshot install: after `patience`
    /// ticks without an ack, probe again (the snapshot is offered anew).
    /// Returns whether the progress went back to probing.
    pub(crate) fn tick_snapshot(&mut self, patience: u32) -> bool {
        if let ProgressState::Snapshot(_) = self.state {
            self.snapshot_ticks += 1;
            if self.snapshot_ticks >= patience {
                self.become_probe();
                return true;
            }
        }
        false
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

    fn become_replicate(&mut self) {
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

    /// A successful Append reply up to `index`: the follower is known to
    /// hold it, and the leader streams from now on (a pending snapshot
    /// counts as installed once it is covered). Returns whether that was news.
    pub(crate) fn acked(&mut self, index: Index) -> bool {
        let news = self.ack(index);
        match self.state {
            ProgressState::Probe => self.become_replicate(),
            ProgressState::Snapshot(pending) if self.matched >= pending => self.become_replicate(),
            _ => {}
        }
        news
    }

    /// A heartbeat reply. If the follower lags the leader's `last` index,
    /// an Append may have been lost: make room to send again, and return
    /// true (the leader should send).
    pub(crate) fn heartbeat_answered(&mut self, last: Index) -> bool {
        if self.matched >= last {
            return false;
        }
        match self.state {
            ProgressState::Probe => self.probe_sent = false,
            ProgressState::Replicate if self.is_paused() => {
                self.inflight.pop_front();
            }
            _ => {}
        }
        true
    }

    /// The follower acknowledged holding up to `index`. Returns whether that was news.
    fn ack(&mut self, index: Index) -> bool {
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
