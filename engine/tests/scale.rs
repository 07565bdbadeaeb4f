//! Many shards on few nodes: 200 shards on 3 nodes elect leaders and take
//! writes; with 1,000 shards, heartbeats between two nodes travel as one
//! `Deliver` call per heartbeat interval, not one per shard.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use tumult_engine::node::NodeMetrics;
use tumult_engine::raft::ShardId;

#[test]
fn two_hundred_shards_on_three_nodes_all_elect_leaders_and_accept_writes() {
    const SHARDS: u64 = 200;
    let mut sim = sim(61, Duration::from_secs(120));
    let cluster = Spec::new(3, SHARDS).start(&mut sim);
    let out = task(&mut sim, "writer", async move {
        let mut c = client(3, 1);
        let mut failed = Vec::new();
        for shard in 0..SHARDS {
            if let Err(e) = c.write(shard, format!("s{shard}").into_bytes()).await {
                failed.push((shard, e));
            }
        }
        failed
    });
    assert!(run_for(&mut sim, Duration::from_secs(60), |_| finished(
        &out
    )));
    let failed = take(&out);
    assert!(failed.is_empty(), "writes failed: {failed:?}");
    let mut leaders = std::collections::BTreeMap::new();
    for shard in 0..SHARDS {
        let (leader, _) = cluster
            .trace
            .leader(shard)
            .unwrap_or_else(|| panic!("shard {shard} has no leader"));
        *leaders.entry(leader).or_insert(0) += 1;
    }
    assert_eq!(leaders.values().sum::<u64>(), SHARDS);
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| (1..=3).all(|i| {
            (0..SHARDS).all(|s: ShardId| cluster.state(i, s) == vec![format!("s{s}").into_bytes()])
        })),
        "every node applied every shard's write"
    );
}

#[test]
fn heartbeats_of_a_thousand_shards_travel_as_one_deliver_per_interval() {
    const SHARDS: u64 = 1000;
    const K: u64 = 20;
    let mut sim = sim(62, Duration::from_secs(120));
    let mut spec = Spec::new(3, SHARDS);
    // n1 times out first in every shard and leads them all; heartbeats every tick.
    spec.configure = Some(Arc::new(|id, c| {
        c.heartbeat_ticks = 1;
        c.election_ticks = if id == 1 { (3, 6) } else { (40, 60) };
    }));
    let cluster = spec.start(&mut sim);
    assert!(
        run_for(&mut sim, Duration::from_secs(20), |_| (0..SHARDS)
            .all(|s| cluster.trace.leader(s).is_some_and(|(l, _)| l == 1))),
        "n1 leads every shard"
    );
    // Let the elections' traffic settle, then count over K heartbeat intervals.
    run_for(&mut sim, Duration::from_secs(2), |_| false);
    let metrics = |i| cluster.node(i).expect("started").metrics();
    let before: Vec<NodeMetrics> = (1..=3).map(metrics).collect();
    let interval = Duration::from_millis(50);
    let start = sim.elapsed();
    run_until(&mut sim, start + interval * K as u32, |_| false);
    let after: Vec<NodeMetrics> = (1..=3).map(metrics).collect();
    for to in [2u64, 3] {
        let (b, a) = (&before[0].peers[&to], &after[0].peers[&to]);
        let delivers = a.deliver_sent - b.deliver_sent;
        let messages = a.messages_sent - b.messages_sent;
        eprintln!(
            "n1 -> n{to}: {delivers} Deliver calls carried {messages} messages in {K} intervals"
        );
        assert!(
            (K - 2..=K + 2).contains(&delivers),
            "n1 -> n{to}: {delivers} Deliver calls in {K} heartbeat intervals"
        );
        assert!(
            messages >= SHARDS * (K - 1),
            "n1 -> n{to}: {messages} heartbeats in {K} intervals"
        );
        assert_eq!(a.deliver_failed, b.deliver_failed, "no failed Deliver");
        // And the answers come back batched the same way.
        let back = &after[(to - 1) as usize].peers[&1];
        let back_before = &before[(to - 1) as usize].peers[&1];
        let replies = back.deliver_sent - back_before.deliver_sent;
        assert!(
            (K - 2..=K + 2).contains(&replies),
            "n{to} -> n1: {replies} Deliver calls in {K} intervals"
        );
        let received = after[(to - 1) as usize].peers[&1].deliver_received
            - before[(to - 1) as usize].peers[&1].deliver_received;
        assert!((K - 3..=K + 3).contains(&received));
    }
}

#[test]
fn shards_are_added_and_removed_at_run_time() {
    use tumult_engine::raft::Membership;
    let mut sim = sim(71, Duration::from_secs(120));
    let cluster = Spec::new(3, 1).start(&mut sim);
    assert!(run_for(&mut sim, Duration::from_secs(5), |_| (1..=3)
        .all(|i| cluster.node(i).is_some())));
    let nodes: Vec<_> = (1..=3).map(|i| cluster.node(i).expect("running")).collect();
    let out = task(&mut sim, "admin", async move {
        for n in &nodes {
            n.add_shard(5, Membership::new([1, 2, 3]))
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut c = client(3, 1);
        c.write(5, b"hello".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        let mut applied = Vec::new();
        for n in &nodes {
            // Followers learn the commit with the next heartbeat.
            let mut st = n.status(5).await.map_err(|e| e.to_string())?;
            for _ in 0..50 {
                if st.applied >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                st = n.status(5).await.map_err(|e| e.to_string())?;
            }
            applied.push(st.applied);
        }
        for n in &nodes {
            n.remove_shard(5).await.map_err(|e| e.to_string())?;
        }
        c.deadline = Duration::from_secs(2);
        let after = c.write(5, b"again".to_vec()).await;
        let shard0 = c.write(0, b"still".to_vec()).await.is_ok();
        Ok::<_, String>((applied, after.is_err(), shard0))
    });
    assert!(run_for(&mut sim, Duration::from_secs(60), |_| finished(
        &out
    )));
    let (applied, refused, shard0) = take(&out).expect("shard added, written, removed");
    assert!(
        applied.iter().all(|a| *a >= 2),
        "every node applied the no-op and the write: {applied:?}"
    );
    assert!(refused, "a removed shard takes no more writes");
    assert!(shard0, "the other shard is untouched");
}
