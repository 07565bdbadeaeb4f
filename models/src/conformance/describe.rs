//! The human text of a conformance failure: the state of every server of
//! the shard before the event, and the violation's and error's `Display`.

use super::{ConformanceError, ConformanceViolation};
use crate::invariants::{ClusterState, Index, NodeId, Role, Term};
use std::fmt;

/// What a violation report shows of one server: a copy of its state
/// without the log, plus the terms of the last few entries. Taken before
/// every event, so it is kept cheap; it is only rendered on a violation.
pub(super) struct ServerBrief {
    id: NodeId,
    role: Role,
    term: Term,
    vote: Option<NodeId>,
    snapshot: (Index, Term),
    log_len: usize,
    tail: [Term; BRIEF_TAIL],
    commit: Index,
    applied: Index,
}

/// Entries shown at the end of each log in a violation report.
const BRIEF_TAIL: usize = 8;

/// The cluster's state before an event, as a violation report shows it.
pub(super) struct Before(Vec<ServerBrief>);

pub(super) fn brief(state: &ClusterState) -> Before {
    Before(
        state
            .servers
            .iter()
            .map(|(&id, s)| {
                let mut tail = [0; BRIEF_TAIL];
                let shown = s.log.len().min(BRIEF_TAIL);
                for (slot, e) in tail.iter_mut().zip(&s.log[s.log.len() - shown..]) {
                    *slot = e.term;
                }
                ServerBrief {
                    id,
                    role: s.role,
                    term: s.term,
                    vote: s.vote,
                    snapshot: (s.snapshot.index, s.snapshot.term),
                    log_len: s.log.len(),
                    tail,
                    commit: s.commit,
                    applied: s.applied,
                }
            })
            .collect(),
    )
}

impl Before {
    pub(super) fn describe(&self) -> String {
        let mut out = String::new();
        for s in &self.0 {
            let shown = s.log_len.min(BRIEF_TAIL);
            let first = s.snapshot.0 + 1 + (s.log_len - shown) as Index;
            let tail: Vec<String> = s.tail[..shown]
                .iter()
                .enumerate()
                .map(|(k, term)| format!("{}@t{term}", first + k as Index))
                .collect();
            out.push_str(&format!(
                "    n{}: {:?} term {} vote {} snapshot {}@t{} log(last {}) [{}{}] commit {} applied {}\n",
                s.id,
                s.role,
                s.term,
                s.vote.map_or("-".into(), |v| format!("n{v}")),
                s.snapshot.0,
                s.snapshot.1,
                shown,
                if s.log_len > BRIEF_TAIL { "..., " } else { "" },
                tail.join(", "),
                s.commit,
                s.applied
            ));
        }
        out
    }
}

impl fmt::Display for ConformanceViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} at history index {} (time {} ns), node {}, shard {}: {}",
            self.rule, self.index, self.time, self.node, self.shard, self.message
        )?;
        writeln!(
            f,
            "  event: {}",
            serde_json::to_value(&self.event).unwrap_or_default()
        )?;
        write!(f, "  state before the event:\n{}", self.state)
    }
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConformanceError::Malformed { index, message } => {
                write!(
                    f,
                    "malformed trace event at history index {index}: {message}"
                )
            }
            ConformanceError::Violation(v) => v.fmt(f),
        }
    }
}
