//! Storage errors stop the node with a clear error rather than acknowledge
//! what was not written: a leader whose disk fails stops (`NodeError::Storage`
//! and a `stop` trace event), the others elect a new leader, and every write a
//! client saw acknowledged is on the survivors.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::node::NodeError;
use tumult_engine::storage::DiskFaults;
use tumult_engine::trace::TraceEvent;

fn leader_disk_fails(seed: u64, break_disk: impl Fn(&DiskFaults)) {
    let mut sim = sim(seed, Duration::from_secs(120));
    let mut spec = Spec::new(3, 1);
    spec.faulty_disk = true;
    let cluster = spec.start(&mut sim);
    let acked: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let log = Arc::clone(&acked);
    let writer = task(&mut sim, "writer", async move {
        let mut c = client(3, 1);
        for k in 0..120 {
            let v = format!("w{k}").into_bytes();
            if c.write(0, v.clone()).await.is_ok() {
                log.lock().unwrap().push(v);
            }
        }
    });
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| acked
        .lock()
        .unwrap()
        .len()
        >= 30));
    let (old, old_term) = cluster.trace.leader(0).expect("a leader");
    let broken_at = sim.elapsed();
    break_disk(&cluster.faults[&old]);

    assert!(
        run_for(&mut sim, Duration::from_secs(60), |_| finished(&writer)),
        "the writer finished"
    );
    // The leader stopped, and said why.
    match cluster.stopped(old) {
        Some(NodeError::Storage(why)) => assert!(why.contains("injected"), "{why}"),
        other => panic!("n{old} should have stopped on a storage error, got {other:?}"),
    }
    let stops: Vec<String> = cluster
        .trace
        .of(old, 0, broken_at)
        .into_iter()
        .filter_map(|e| match e {
            TraceEvent::Stop { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 1, "one stop event: {stops:?}");
    // The others carried on under a new leader.
    let (new, new_term) = cluster.trace.leader(0).expect("a leader");
    assert_ne!(new, old);
    assert!(new_term > old_term);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "writes continued: {} acked",
        acked.len()
    );
    // Nothing acknowledged is missing from a survivor, and nothing applied twice.
    let survivors: Vec<u64> = (1..=3).filter(|i| *i != old).collect();
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| survivors.iter().all(
            |i| {
                let have: BTreeSet<Vec<u8>> = cluster.state(*i, 0).into_iter().collect();
                acked.iter().all(|v| have.contains(v))
            }
        )),
        "every acknowledged write is on n{survivors:?}"
    );
    for i in &survivors {
        let state = cluster.state(*i, 0);
        let distinct: BTreeSet<&Vec<u8>> = state.iter().collect();
        assert_eq!(distinct.len(), state.len(), "n{i} applied a write twice");
        assert!(cluster.stopped(*i).is_none());
    }
}

#[test]
fn leader_whose_writes_fail_stops_and_no_acknowledged_write_is_lost() {
    leader_disk_fails(31, |f| f.set_fail_writes(true));
}

#[test]
fn leader_whose_syncs_fail_stops_and_no_acknowledged_write_is_lost() {
    leader_disk_fails(32, |f| f.set_fail_syncs(true));
}

#[test]
fn leader_out_of_space_stops_and_no_acknowledged_write_is_lost() {
    leader_disk_fails(33, |f| f.set_no_space(true));
}

/// A disk whose records decode but contradict each other (a ballot older
/// than the log it belongs to) stops the node at start-up with an error
/// naming the shard and the record, never a panic in the core.
#[test]
fn inconsistent_records_on_disk_are_a_clear_start_up_error() {
    use tumult_engine::raft::{Entry, HardState, Payload};
    use tumult_engine::storage::{ShardWrite, StdDisk, Store};
    let dir = std::env::temp_dir().join(format!("tumult-inconsistent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(Arc::new(StdDisk), &dir).unwrap();
    store
        .write(&[ShardWrite {
            shard: 3,
            hard_state: Some(HardState {
                term: 1,
                vote: None,
            }),
            entries: vec![Entry {
                index: 1,
                term: 2,
                payload: Payload::Noop,
            }],
            ..Default::default()
        }])
        .unwrap();
    store.close().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = tumult_engine::node::NodeConfig::new(1, peers(1), dir.clone());
    config.listen = Some("127.0.0.1:0".into());
    let started = rt.block_on(tumult_engine::node::Node::start(
        config,
        tumult_engine::node::Env::production(),
        Recorder::new(1, Default::default()),
    ));
    let _ = std::fs::remove_dir_all(&dir);
    match started {
        Err(NodeError::Storage(why)) => assert!(
            why.contains("shard 3") && why.contains("hard state") && why.contains("term 1"),
            "{why}"
        ),
        Err(other) => panic!("expected a storage error, got {other}"),
        Ok(_) => panic!("a node started on an inconsistent disk"),
    }
}
