//! Counterexamples of the core model in words: each action, and each
//! server's role, ballot, log (index:term and kind), commit and applied
//! indexes, membership and fetch, from the core's own status and its disk.

use super::{CoreAction, CoreState, Envelope};
use std::fmt;
use tumult_engine::raft::{Entry, Message, Payload, Role};

fn voters<'a>(v: impl IntoIterator<Item = &'a u64>) -> String {
    let names: Vec<String> = v.into_iter().map(|id| format!("n{id}")).collect();
    format!("{{{}}}", names.join(","))
}

fn entry(e: &Entry) -> String {
    match &e.payload {
        Payload::Noop => format!("{}:t{} noop", e.index, e.term),
        Payload::Command { .. } => format!("{}:t{} cmd", e.index, e.term),
        Payload::Config(m) => format!("{}:t{} config{}", e.index, e.term, voters(&m.voters)),
    }
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{} -> n{}: ", self.from, self.to)?;
        match &self.msg {
            Message::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                let e: Vec<String> = entries.iter().map(entry).collect();
                write!(
                    f,
                    "Append(term {term}, prev {prev_index}@t{prev_term}, [{}], commit {commit})",
                    e.join(", ")
                )
            }
            Message::InstallSnapshot { term, meta } => write!(
                f,
                "InstallSnapshot(term {term}, up to {}@t{}, voters {})",
                meta.index,
                meta.term,
                voters(&meta.membership.voters)
            ),
            other => write!(f, "{other:?}"),
        }
    }
}

impl fmt::Display for CoreAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreAction::Tick(id) => write!(f, "n{id} ticks"),
            CoreAction::Deliver(e) => write!(f, "deliver {e}"),
            CoreAction::Duplicate(e) => write!(f, "deliver a copy of {e}"),
            CoreAction::Drop(e) => write!(f, "lose {e}"),
            CoreAction::Propose(id) => write!(f, "n{id} appends a client command"),
            CoreAction::Read(id) => write!(f, "n{id} starts a read-index read"),
            CoreAction::Transfer(id, to) => write!(f, "n{id} hands leadership to n{to}"),
            CoreAction::ChangeMembership(id, v) => {
                write!(f, "n{id} proposes the voters {}", voters(v))
            }
            CoreAction::Snapshot(id) => write!(f, "n{id} snapshots its applied prefix"),
            CoreAction::FetchDone(id) => write!(f, "n{id}'s snapshot fetch completes"),
            CoreAction::Crash(id) => write!(f, "n{id} crashes"),
            CoreAction::Restart(id) => write!(f, "n{id} restarts from its disk"),
        }
    }
}

impl fmt::Display for CoreState {
    /// One line per server, then the messages in flight and any violation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, s) in self.servers.iter().enumerate() {
            let id = k + 1;
            let log: Vec<String> = s.disk.entries.iter().map(entry).collect();
            let snap = match &s.disk.snapshot {
                Some(m) => format!(" snapshot {}@t{}", m.index, m.term),
                None => String::new(),
            };
            let ballot = format!(
                "term {} vote {}",
                s.disk.hard_state.term,
                s.disk
                    .hard_state
                    .vote
                    .map_or("-".to_string(), |v| format!("n{v}"))
            );
            match &s.core {
                None => write!(f, "n{id}: down, {ballot} log [{}]{snap}", log.join(", "))?,
                Some(core) => {
                    let st = core.status();
                    let role = match st.role {
                        Role::Follower => "follower",
                        Role::PreCandidate => "pre-candidate",
                        Role::Candidate => "candidate",
                        Role::Leader => "leader",
                    };
                    write!(
                        f,
                        "n{id}: {role} {ballot} log [{}]{snap} commit {} applied {} voters {}",
                        log.join(", "),
                        st.commit,
                        st.applied,
                        voters(&st.membership.voters)
                    )?;
                }
            }
            if let Some((leader, meta)) = &s.fetch {
                write!(f, " fetching {}@t{} from n{leader}", meta.index, meta.term)?;
            }
            writeln!(f)?;
        }
        write!(f, "{} message(s) in the network", self.network.len())?;
        if let Some(v) = &self.broken {
            write!(f, "\nbroken: {v}")?;
        }
        Ok(())
    }
}
