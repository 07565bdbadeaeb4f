//! The recovery check of phase 2 (SPEC.md §2): after the final heal every
//! shard must have a leader and every client must complete an operation.
//! A failure is classified per shard, so a report says why: no leader
//! although a quorum is up and connected, no quorum reachable, or a leader
//! whose replication is stuck (nothing committed since the heal).

use super::client::ClientState;
use super::nemesis::Nemesis;
use super::recorder::Shared;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tumult_engine::raft::{NodeId, ShardId};

/// Whether the cluster has recovered, and if not, what is missing.
/// `core` is whom recovery is judged on (every node, or the core of
/// `liveness = "core"`); `heal_at` is the final heal's time (ns).
pub(super) fn recovery_status(
    recorder: &Shared,
    clients: &Mutex<Vec<ClientState>>,
    nemesis: &Nemesis,
    core: &BTreeSet<NodeId>,
    shards: u64,
    heal_at: u64,
) -> (bool, String) {
    let waiting: Vec<usize> = clients
        .lock()
        .expect("client state")
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.recovered)
        .map(|(i, _)| i + 1)
        .collect();
    let (leaderless, latest, last_commit, leading) = {
        // Released before asking the nemesis, which locks the recorder too.
        let r = recorder.lock().expect("recorder");
        let latest: BTreeMap<ShardId, BTreeSet<NodeId>> = r
            .memberships
            .iter()
            .filter_map(|(s, m)| Some((*s, m.values().next_back()?.clone())))
            .collect();
        (
            r.leaderless(shards),
            latest,
            r.last_commit.clone(),
            r.leading.clone(),
        )
    };
    if leaderless.is_empty() && waiting.is_empty() {
        return (true, String::new());
    }
    let mut parts = Vec::new();
    for shard in &leaderless {
        let voters = latest
            .get(shard)
            .cloned()
            .unwrap_or_else(|| nemesis.initial_voters().clone());
        let reachable = nemesis.reachable(&voters, core);
        let class = if reachable.len() * 2 > voters.len() {
            "no leader"
        } else {
            "no quorum reachable"
        };
        parts.push(format!(
            "shard {shard}: {class} (voters {}; up and connected to the core: {})",
            list(&voters),
            list(&reachable)
        ));
    }
    if !waiting.is_empty() {
        for shard in (0..shards).filter(|s| !leaderless.contains(s)) {
            if last_commit.get(&shard).is_none_or(|&t| t < heal_at) {
                let leader = leading
                    .iter()
                    .find(|(s, _)| *s == shard)
                    .map_or_else(|| "?".to_string(), |(_, n)| format!("n{n}"));
                parts.push(format!(
                    "shard {shard}: stuck replication (its leader {leader} committed nothing since the heal)"
                ));
            }
        }
        let names: Vec<String> = waiting.iter().map(|c| format!("c{c}")).collect();
        parts.push(format!(
            "clients with no ok operation: {}",
            names.join(", ")
        ));
    }
    (false, parts.join("; "))
}

fn list(nodes: &BTreeSet<NodeId>) -> String {
    if nodes.is_empty() {
        return "none".into();
    }
    nodes
        .iter()
        .map(|n| format!("n{n}"))
        .collect::<Vec<_>>()
        .join(",")
}
