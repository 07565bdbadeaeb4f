//! The engine in turmoil's simulator: elections, replication, crashes and
//! recovery from the simulated disk, with 3 and 5 nodes.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::client::Client;
use tumult_engine::raft::NodeId;
use tumult_engine::trace::TraceEvent;
use tumult_engine::transport::TurmoilNetwork;

/// Commands applied by `node` to shard 0, in index order, without no-ops.
fn commands(applied: &Applied, node: NodeId) -> Vec<Vec<u8>> {
    applied
        .lock()
        .unwrap()
        .get(&node)
        .and_then(|s| s.get(&0))
        .map(|log| log.values().cloned().collect())
        .unwrap_or_default()
}

/// A client host that writes `count` distinct values to shard 0 and records
/// each acknowledged one.
fn writer(
    sim: &mut turmoil::Sim<'_>,
    n: u64,
    count: usize,
    acked: &Arc<Mutex<Vec<Vec<u8>>>>,
) -> Arc<AtomicBool> {
    let acked = Arc::clone(acked);
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&done);
    sim.client("client", async move {
        let mut client = Client::new(Arc::new(TurmoilNetwork), peers(n), 1);
        client.deadline = Duration::from_secs(20);
        for k in 0..count {
            let value = format!("w{k}").into_bytes();
            match client.write(0, value.clone()).await {
                Ok(_) => acked.lock().unwrap().push(value),
                Err(e) => tracing::info!("write {k} not acknowledged: {e}"),
            }
        }
        finished.store(true, Ordering::SeqCst);
        Ok(())
    });
    done
}

fn replicate_in_order(n: u64, seed: u64) {
    let mut sim = sim(seed, Duration::from_secs(300));
    let applied = Applied::default();
    let trace = Arc::new(Collect::default());
    start_cluster(&mut sim, n, 1, &applied, &trace);
    let acked = Arc::new(Mutex::new(Vec::new()));
    writer(&mut sim, n, 1000, &acked);

    let all_done = run_until(&mut sim, Duration::from_secs(250), |_| {
        let a = acked.lock().unwrap().len();
        a == 1000 && (1..=n).all(|i| commands(&applied, i).len() >= 1000)
    });
    let (leader, term) = trace.leader(0).expect("a leader was elected");
    assert!((1..=n).contains(&leader) && term >= 1);
    assert!(
        all_done,
        "1000 writes acknowledged and applied on all {n} nodes"
    );
    let reference = commands(&applied, 1);
    let expected: Vec<Vec<u8>> = (0..1000).map(|k| format!("w{k}").into_bytes()).collect();
    assert_eq!(
        reference, expected,
        "writes applied once each, in the order they were acknowledged"
    );
    for i in 2..=n {
        assert_eq!(
            commands(&applied, i),
            reference,
            "n{i} applied the same sequence as n1"
        );
    }
}

#[test]
fn three_nodes_elect_a_leader_and_apply_1000_writes_in_the_same_order() {
    replicate_in_order(3, 1);
}

#[test]
fn five_nodes_elect_a_leader_and_apply_1000_writes_in_the_same_order() {
    replicate_in_order(5, 2);
}

fn leader_crash(n: u64, seed: u64) {
    let mut sim = sim(seed, Duration::from_secs(300));
    let applied = Applied::default();
    let trace = Arc::new(Collect::default());
    start_cluster(&mut sim, n, 1, &applied, &trace);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let done = writer(&mut sim, n, 400, &acked);

    // Let some writes through, then crash the leader.
    assert!(run_until(&mut sim, Duration::from_secs(60), |_| acked
        .lock()
        .unwrap()
        .len()
        >= 100));
    let (old, old_term) = trace.leader(0).expect("a leader");
    sim.crash(format!("n{old}"));
    assert!(run_until(&mut sim, Duration::from_secs(200), |_| done
        .load(Ordering::SeqCst)));
    let (new, new_term) = trace.leader(0).expect("a leader after the crash");
    assert_ne!(new, old, "a new leader was elected after n{old} crashed");
    assert!(new_term > old_term);
    // Every acknowledged write is in the log of every live node.
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "most writes were acknowledged ({} of 400)",
        acked.len()
    );
    assert!(
        run_until(&mut sim, Duration::from_secs(280), |_| {
            (1..=n).filter(|i| *i != old).all(|i| {
                let have: BTreeSet<Vec<u8>> = commands(&applied, i).into_iter().collect();
                acked.iter().all(|v| have.contains(v))
            })
        }),
        "no acknowledged write was lost"
    );
}

#[test]
fn three_nodes_survive_a_leader_crash_without_losing_acknowledged_writes() {
    leader_crash(3, 3);
}

#[test]
fn five_nodes_survive_a_leader_crash_without_losing_acknowledged_writes() {
    leader_crash(5, 4);
}

#[test]
fn whole_cluster_crash_recovers_ballot_and_log_from_disk() {
    let n = 3;
    let mut sim = sim(5, Duration::from_secs(300));
    let applied = Applied::default();
    let trace = Arc::new(Collect::default());
    start_cluster(&mut sim, n, 1, &applied, &trace);
    let acked = Arc::new(Mutex::new(Vec::new()));
    writer(&mut sim, n, 300, &acked);
    assert!(run_until(&mut sim, Duration::from_secs(60), |_| acked
        .lock()
        .unwrap()
        .len()
        >= 150));
    let term_before = trace.leader(0).expect("a leader").1;
    let acked_before = acked.lock().unwrap().clone();
    for i in 1..=n {
        sim.crash(format!("n{i}"));
    }
    // Forget what was applied: after the restart it must be rebuilt from disk.
    applied.lock().unwrap().clear();
    sim.step().unwrap();
    for i in 1..=n {
        sim.bounce(format!("n{i}"));
    }
    let events_at_restart = trace.0.lock().unwrap().len();
    assert!(
        run_until(&mut sim, Duration::from_secs(250), |_| {
            (1..=n).all(|i| {
                let have: BTreeSet<Vec<u8>> = commands(&applied, i).into_iter().collect();
                acked_before.iter().all(|v| have.contains(v))
            })
        }),
        "every write acknowledged before the crash is applied again on every node"
    );
    // The ballot was recovered: no node went back to a term it had left.
    let after = trace.0.lock().unwrap()[events_at_restart..].to_vec();
    let new_term = after
        .iter()
        .filter_map(|(_, _, _, e)| match e {
            TraceEvent::BecomeLeader { term } => Some(*term),
            _ => None,
        })
        .max()
        .expect("a leader after the restart");
    assert!(
        new_term > term_before,
        "terms continue from the recovered ballot ({term_before} -> {new_term})"
    );
}

/// The whole trace of a short run, as text with simulated times.
fn trace_of_run(seed: u64) -> String {
    let mut sim = sim(seed, Duration::from_secs(60));
    let applied = Applied::default();
    let trace = Arc::new(Collect::default());
    start_cluster(&mut sim, 3, 2, &applied, &trace);
    let acked = Arc::new(Mutex::new(Vec::new()));
    writer(&mut sim, 3, 50, &acked);
    run_until(&mut sim, Duration::from_secs(10), |_| false);
    let events = trace.0.lock().unwrap();
    assert!(!events.is_empty());
    events.iter().map(|e| format!("{e:?}\n")).collect()
}

#[test]
fn same_seed_gives_the_same_trace_and_no_wall_clock_leaks_in() {
    let a = trace_of_run(11);
    let b = trace_of_run(11);
    assert_eq!(a, b, "two runs with one seed must be identical");
}
