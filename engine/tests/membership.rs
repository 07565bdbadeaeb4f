//! Membership changes through the client API, under writes: adding a spare,
//! removing a follower, removing the leader, and a removed node that keeps
//! campaigning without disturbing the rest.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tumult_engine::raft::NodeId;
use tumult_engine::trace::TraceEvent;

type Acked = Arc<Mutex<Vec<Vec<u8>>>>;

/// A client that writes `w0, w1, ...` to shard 0 until `stop` is set,
/// recording what was acknowledged.
fn writer(sim: &mut turmoil::Sim<'_>, n: u64, stop: &Arc<AtomicBool>) -> (Acked, Out<()>) {
    let acked: Acked = Arc::default();
    let log = Arc::clone(&acked);
    let stop = Arc::clone(stop);
    let done = task(sim, "writer", async move {
        let mut c = client(n, 1);
        let mut k = 0;
        while !stop.load(Ordering::SeqCst) {
            let v = format!("w{k}").into_bytes();
            k += 1;
            if c.write(0, v.clone()).await.is_ok() {
                log.lock().unwrap().push(v);
            }
        }
    });
    (acked, done)
}

fn count(acked: &Acked) -> usize {
    acked.lock().unwrap().len()
}

/// The voters `node` last adopted in shard 0, from its trace.
fn voters_of(cluster: &Cluster, node: NodeId) -> Option<Vec<NodeId>> {
    cluster
        .trace
        .of(node, 0, Duration::ZERO)
        .into_iter()
        .rev()
        .find_map(|e| match e {
            TraceEvent::Membership { voters, .. } => Some(voters),
            _ => None,
        })
}

/// Every acknowledged write is applied, once, on each of `nodes`.
fn all_applied(cluster: &Cluster, acked: &Acked, nodes: &[NodeId]) -> bool {
    let acked = acked.lock().unwrap();
    nodes.iter().all(|i| {
        let state = cluster.state(*i, 0);
        let have: BTreeSet<&Vec<u8>> = state.iter().collect();
        have.len() == state.len() && acked.iter().all(|v| have.contains(v))
    })
}

#[test]
fn spare_is_added_then_a_follower_removed_under_writes() {
    let mut sim = sim(41, Duration::from_secs(120));
    let mut spec = Spec::new(4, 1);
    spec.voters = vec![1, 2, 3];
    let cluster = spec.start(&mut sim);
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, done) = writer(&mut sim, 4, &stop);
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| count(
        &acked
    ) >= 20));
    assert!(cluster.state(4, 0).is_empty(), "a spare applies nothing");

    let add = task(&mut sim, "admin-add", async move {
        client(4, 2).change_membership(0, 4, true).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &add
    )));
    take(&add).expect("n4 added");
    let at = count(&acked);
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| count(
        &acked
    ) >= at + 20));
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| all_applied(
            &cluster,
            &acked,
            &[1, 2, 3, 4]
        )),
        "n4 caught up with every write, including those before it joined"
    );
    assert_eq!(voters_of(&cluster, 4), Some(vec![1, 2, 3, 4]));

    // Remove a follower (not n4, not the leader).
    let (leader, _) = cluster.trace.leader(0).unwrap();
    let gone = (1..=3).find(|i| *i != leader).unwrap();
    let remove = task(&mut sim, "admin-remove", async move {
        client(4, 3).change_membership(0, gone, false).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &remove
    )));
    take(&remove).expect("follower removed");
    let at = count(&acked);
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| count(
        &acked
    ) >= at + 20));
    stop.store(true, Ordering::SeqCst);
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &done
    )));
    let rest: Vec<NodeId> = (1..=4).filter(|i| *i != gone).collect();
    let expected: Vec<NodeId> = rest.clone();
    for i in &rest {
        assert_eq!(voters_of(&cluster, *i), Some(expected.clone()), "n{i}");
    }
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| all_applied(
        &cluster, &acked, &rest
    )));
    assert_eq!(
        cluster.trace.leader(0).unwrap().0,
        leader,
        "removing a follower does not change the leader"
    );
}

#[test]
fn removed_leader_steps_down_and_the_remaining_voters_carry_on() {
    let mut sim = sim(42, Duration::from_secs(120));
    let cluster = Spec::new(3, 1).start(&mut sim);
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, done) = writer(&mut sim, 3, &stop);
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| count(
        &acked
    ) >= 20));
    let (old, old_term) = cluster.trace.leader(0).unwrap();
    let removed_at = sim.elapsed();
    let remove = task(&mut sim, "admin", async move {
        client(3, 2).change_membership(0, old, false).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &remove
    )));
    take(&remove).expect("leader removed");
    let at = count(&acked);
    assert!(
        run_for(&mut sim, Duration::from_secs(30), |_| count(&acked)
            >= at + 30),
        "writes continue after the leader's removal"
    );
    stop.store(true, Ordering::SeqCst);
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &done
    )));

    // The old leader handed over (or stepped down) and never led again.
    assert!(
        cluster
            .trace
            .of(old, 0, removed_at)
            .iter()
            .any(|e| matches!(e, TraceEvent::BecomeFollower { term, .. } if *term >= old_term)),
        "n{old} stepped down"
    );
    assert!(
        cluster
            .trace
            .of(old, 0, removed_at)
            .iter()
            .any(|e| matches!(e, TraceEvent::TransferLeader { .. })),
        "n{old} handed leadership over with TimeoutNow before its removal"
    );
    let elections = cluster.trace.elections(0, removed_at);
    assert!(!elections.is_empty(), "a new leader was elected");
    assert!(elections.iter().all(|(_, n, t)| *n != old && *t > old_term));
    let rest: Vec<NodeId> = (1..=3).filter(|i| *i != old).collect();
    for i in &rest {
        assert_eq!(voters_of(&cluster, *i), Some(rest.clone()));
    }
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| all_applied(
        &cluster, &acked, &rest
    )));
}

/// `x` is removed while partitioned away, so it never learns it was removed
/// and keeps campaigning; once the partition heals, the others' terms do not
/// rise and their leader stays.
fn removed_node_cannot_disrupt(seed: u64, pre_vote: bool) {
    let mut sim = sim(seed, Duration::from_secs(120));
    let mut spec = Spec::new(3, 1);
    spec.configure = Some(Arc::new(move |_, c| c.pre_vote = pre_vote));
    let cluster = spec.start(&mut sim);
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, done) = writer(&mut sim, 3, &stop);
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| count(
        &acked
    ) >= 10));
    let (leader, _) = cluster.trace.leader(0).unwrap();
    let x = (1..=3).find(|i| *i != leader).unwrap();
    let others: Vec<NodeId> = (1..=3).filter(|i| *i != x).collect();
    for o in &others {
        sim.partition(format!("n{x}"), format!("n{o}"));
    }
    let remove = task(&mut sim, "admin", async move {
        client(3, 2).change_membership(0, x, false).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &remove
    )));
    take(&remove).expect("x removed while partitioned");
    // x campaigns in vain for a while.
    run_for(&mut sim, Duration::from_secs(5), |_| false);
    let x_events = cluster.trace.of(x, 0, Duration::ZERO);
    let campaigns = x_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraceEvent::StartPreVote { .. } | TraceEvent::BecomeCandidate { .. }
            )
        })
        .count();
    assert!(campaigns >= 2, "n{x} kept campaigning ({campaigns} rounds)");
    let terms: Vec<u64> = others.iter().map(|o| cluster.trace.term(*o, 0)).collect();
    let healed_at = sim.elapsed();
    for o in &others {
        sim.repair(format!("n{x}"), format!("n{o}"));
    }
    let at = count(&acked);
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| count(&acked)
            >= at + 20),
        "writes continue after the heal"
    );
    run_for(&mut sim, Duration::from_secs(5), |_| false);
    stop.store(true, Ordering::SeqCst);
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &done
    )));
    let after: Vec<u64> = others.iter().map(|o| cluster.trace.term(*o, 0)).collect();
    assert_eq!(after, terms, "the remaining voters' terms did not rise");
    assert!(
        cluster.trace.elections(0, healed_at).is_empty(),
        "no election after the heal"
    );
    assert_eq!(
        cluster.trace.leader(0).unwrap().0,
        leader,
        "leader unchanged"
    );
    if !pre_vote {
        assert!(
            cluster.trace.term(x, 0) > terms[0],
            "without pre-vote, n{x}'s term ran ahead while it campaigned"
        );
    }
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| all_applied(
        &cluster, &acked, &others
    )));
}

#[test]
fn removed_node_that_keeps_pre_voting_does_not_disturb_the_rest() {
    removed_node_cannot_disrupt(43, true);
}

#[test]
fn removed_node_that_keeps_campaigning_with_higher_terms_does_not_disturb_the_rest() {
    removed_node_cannot_disrupt(44, false);
}

/// A cluster bootstrapped from one node grows to three by single-server
/// changes, one at a time, and every member applies the same log.
#[test]
fn a_cluster_bootstrapped_from_one_node_grows_to_three() {
    let mut sim = sim(43, Duration::from_secs(120));
    let mut spec = Spec::new(3, 1);
    spec.voters = vec![1];
    let cluster = spec.start(&mut sim);
    let out = task(&mut sim, "admin", async move {
        let mut c = client(3, 9);
        c.write(0, b"alone".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        c.change_membership(0, 2, true)
            .await
            .map_err(|e| e.to_string())?;
        c.write(0, b"two".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        c.change_membership(0, 3, true)
            .await
            .map_err(|e| e.to_string())?;
        c.write(0, b"three".to_vec())
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    });
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &out
    )));
    take(&out).expect("bootstrap, two additions and writes");
    let want: Vec<Vec<u8>> = vec![b"alone".to_vec(), b"two".to_vec(), b"three".to_vec()];
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| (1..=3)
            .all(|i| cluster.state(i, 0) == want)),
        "every member applied the same commands"
    );
    for i in 1..=3 {
        assert_eq!(voters_of(&cluster, i), Some(vec![1, 2, 3]));
    }
}
