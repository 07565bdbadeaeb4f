//! Readable counterexamples: actions and states in words, and the replay
//! that renames a canonical path back to consistent server names.

use super::symmetry::Rename;
use super::{Action, Body, Message, RaftModel, RaftState};
use crate::invariants::{LogEntry, Payload, Role, ServerState};
use std::fmt;

fn voters(v: &[u64]) -> String {
    let names: Vec<String> = v.iter().map(|id| format!("n{id}")).collect();
    format!("{{{}}}", names.join(","))
}

fn entry(e: &LogEntry) -> String {
    match &e.payload {
        Payload::Unknown => format!("t{}", e.term),
        Payload::Noop => format!("t{} noop", e.term),
        Payload::Command(c) => format!("t{} cmd{c}", e.term),
        Payload::Config(v) => format!("t{} config{}", e.term, voters(v)),
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Vote {
                term,
                last_index,
                last_term,
            } => write!(
                f,
                "RequestVote(term {term}, last {last_index}@t{last_term})"
            ),
            Body::VoteGranted { term } => write!(f, "VoteGranted(term {term})"),
            Body::AppendOk { term, match_index } => {
                write!(f, "AppendOk(term {term}, match {match_index})")
            }
            Body::TimeoutNow { term } => write!(f, "TimeoutNow(term {term})"),
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{} -> n{}: {}", self.from, self.to, self.body)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Timeout(id) => write!(f, "n{id} times out"),
            Action::PreVote { voter, candidate } => {
                write!(f, "n{voter} grants a pre-vote to n{candidate}")
            }
            Action::Campaign(id) => write!(f, "n{id} campaigns on its pre-votes"),
            Action::LearnTerm { node, from } => {
                write!(f, "n{node} learns n{from}'s term from a reply")
            }
            Action::StepDown(id) => write!(f, "n{id} steps down (check-quorum)"),
            Action::Deliver(m) => write!(f, "deliver {m}"),
            Action::Propose(id) => write!(f, "n{id} appends a client command"),
            Action::ChangeMembership(id, v) => {
                write!(f, "n{id} proposes the configuration {}", voters(v))
            }
            Action::Append {
                leader,
                term,
                to,
                prev,
                end,
                commit,
            } => {
                let what = if end == prev {
                    "no entries".to_string()
                } else {
                    format!("entries {}..={end}", prev + 1)
                };
                write!(
                    f,
                    "deliver n{leader} -> n{to}: AppendEntries(term {term}, after {prev}, {what}, commit {commit})"
                )
            }
            Action::InstallSnapshot {
                leader,
                term,
                to,
                index,
            } => write!(
                f,
                "deliver n{leader} -> n{to}: InstallSnapshot(term {term}, up to {index})"
            ),
            Action::TransferLeader { leader, to } => {
                write!(f, "n{leader} hands leadership to n{to} (TimeoutNow)")
            }
            Action::Compact(id) => write!(f, "n{id} compacts its log up to its commit index"),
            Action::Restart(id) => write!(f, "n{id} crashes and restarts"),
        }
    }
}

fn server_line(id: u64, s: &ServerState) -> String {
    let role = match s.role {
        Role::Follower => "follower",
        Role::PreCandidate => "pre-candidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    };
    let vote = s.vote.map_or("-".to_string(), |v| format!("n{v}"));
    let log: Vec<String> = s
        .log
        .iter()
        .enumerate()
        .map(|(k, e)| format!("{}:{}", s.snapshot.index + 1 + k as u64, entry(e)))
        .collect();
    let snap = if s.snapshot.index > 0 {
        format!(
            " snapshot {}@t{}{}",
            s.snapshot.index,
            s.snapshot.term,
            voters(&s.snapshot.voters)
        )
    } else {
        String::new()
    };
    format!(
        "n{id}: {role} term {} vote {vote} log [{}]{snap} commit {} voters {}",
        s.term,
        log.join(", "),
        s.commit,
        voters(s.voters())
    )
}

impl fmt::Display for RaftState {
    /// One line per server, then the number of messages in flight and any broken step rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (&id, s) in &self.cluster.servers {
            writeln!(f, "{}", server_line(id, s))?;
        }
        write!(f, "{} message(s) in the network", self.network.len())?;
        if let Some(v) = &self.broken {
            write!(f, "\nbroken: {v}")?;
        }
        Ok(())
    }
}

/// One step of a replayed path: what happened and the state after it.
#[derive(Clone, Debug)]
pub struct Step<A = Action, S = RaftState> {
    /// The action, with the server names of the replay.
    pub action: A,
    /// The state after the action.
    pub state: S,
}

impl RaftModel {
    /// Replays `actions` (a path of the checker, whose states are canonical,
    /// so names may change from one state to the next) from the initial
    /// state, renaming each action back, so that every server keeps its name
    /// for the whole run. Stops early if an action is not enabled.
    pub fn replay(&self, actions: &[Action]) -> (RaftState, Vec<Step>) {
        let init = self.initial_state();
        let mut raw = init.clone();
        let mut to_canonical = if self.symmetry {
            self.canonicalize(&raw).1
        } else {
            super::symmetry::Renaming::identity(self.config.servers)
        };
        let mut steps = Vec::new();
        for a in actions {
            let action = a.rename(&to_canonical.inverse());
            let Some(next) = self.raw_step(&raw, &action) else {
                break;
            };
            raw = next;
            if self.symmetry {
                to_canonical = self.canonicalize(&raw).1;
            }
            steps.push(Step {
                action,
                state: raw.clone(),
            });
        }
        (init, steps)
    }
}
