//! The Multi-Raft feature set through the client API: leadership transfer,
//! snapshot catch-up, read-index versus local reads under a partition,
//! exactly-once retried writes, and check-quorum.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use tumult_engine::client::Attempt;
use tumult_engine::node::ReadMode;
use tumult_engine::raft::{NodeId, RequestId};
use tumult_engine::trace::TraceEvent;

fn count_of(reply: &[u8]) -> u64 {
    u64::from_be_bytes(reply.try_into().expect("a count"))
}

/// Writes `values` to shard 0 through the cluster client, in order.
fn write_all(sim: &mut turmoil::Sim<'_>, name: &str, n: u64, id: u64, values: Vec<String>) {
    let out = task(sim, name, async move {
        let mut c = client(n, id);
        for v in values {
            c.write(0, v.into_bytes())
                .await
                .expect("write acknowledged");
        }
    });
    assert!(
        run_for(sim, Duration::from_secs(60), |_| finished(&out)),
        "{name} finished"
    );
}

#[test]
fn transfer_through_the_client_makes_the_named_node_leader() {
    let mut sim = sim(51, Duration::from_secs(60));
    let cluster = Spec::new(3, 1).start(&mut sim);
    write_all(&mut sim, "warm", 3, 1, vec!["a".into()]);
    let (old, old_term) = cluster.trace.leader(0).unwrap();
    let target = (1..=3).rev().find(|i| *i != old).unwrap();
    let since = sim.elapsed();
    let t = task(&mut sim, "admin", async move {
        let mut c = client(3, 2);
        c.transfer_leader(0, Some(target)).await?;
        // Wait for the handover, then check the target's own view.
        for _ in 0..50 {
            let st = c
                .status(target, 0)
                .await
                .map_err(|s| tumult_engine::node::ClientError::Refused(s.message().to_string()))?;
            if st.role == "leader" {
                return Ok(st);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(tumult_engine::node::ClientError::Refused(
            "target never led".into(),
        ))
    });
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| finished(&t)));
    let st = take(&t).expect("transfer completed");
    assert_eq!(st.leader, target);
    let (now, term) = cluster.trace.leader(0).unwrap();
    assert_eq!(now, target);
    assert!(term > old_term);
    assert!(
        cluster
            .trace
            .of(old, 0, since)
            .contains(&TraceEvent::TransferLeader {
                term: old_term,
                to: target
            }),
        "n{old} handed over with TimeoutNow"
    );
    // The new leader takes writes.
    write_all(&mut sim, "after", 3, 3, vec!["b".into()]);
    assert_eq!(cluster.trace.leader(0).unwrap().0, target);
}

#[test]
fn follower_down_during_compaction_catches_up_through_a_snapshot() {
    let mut sim = sim(52, Duration::from_secs(120));
    let mut spec = Spec::new(3, 1);
    spec.snapshot_every = Some(10);
    let cluster = spec.start(&mut sim);
    write_all(
        &mut sim,
        "w1",
        3,
        1,
        (0..5).map(|k| format!("a{k}")).collect(),
    );
    let (leader, _) = cluster.trace.leader(0).unwrap();
    let lagger = (1..=3).find(|i| *i != leader).unwrap();
    sim.crash(format!("n{lagger}"));
    write_all(
        &mut sim,
        "w2",
        3,
        2,
        (0..45).map(|k| format!("b{k}")).collect(),
    );
    let compacted = cluster
        .trace
        .of(leader, 0, Duration::ZERO)
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Compact { index, .. } => Some(*index),
            _ => None,
        })
        .max()
        .expect("the leader compacted its log");
    assert!(compacted >= 40, "compacted up to {compacted}");
    let restarted = sim.elapsed();
    sim.bounce(format!("n{lagger}"));
    assert!(
        run_for(&mut sim, Duration::from_secs(20), |_| {
            let s = cluster.state(lagger, 0);
            s.len() == 50 && s == cluster.state(leader, 0)
        }),
        "n{lagger} converged to the leader's state: {} vs {} commands",
        cluster.state(lagger, 0).len(),
        cluster.state(leader, 0).len()
    );
    let installs: Vec<u64> = cluster
        .trace
        .of(lagger, 0, restarted)
        .iter()
        .filter_map(|e| match e {
            TraceEvent::InstallSnapshot { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert!(
        !installs.is_empty(),
        "n{lagger} installed a snapshot after its restart"
    );
    // It keeps up with later writes through the log.
    write_all(&mut sim, "w3", 3, 3, vec!["c".into()]);
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| (1..=3)
        .all(|i| cluster.state(i, 0).len() == 51)));
    assert_eq!(cluster.state(lagger, 0), cluster.state(leader, 0));
}

/// What the client saw reading from an isolated old leader.
struct Reads {
    local_on_old: Attempt,
    linearizable_on_old: Attempt,
    linearizable_on_new: Attempt,
}

fn stale_reads(seed: u64, check_quorum: bool) {
    let mut sim = sim(seed, Duration::from_secs(120));
    let mut spec = Spec::new(3, 1);
    spec.configure = Some(Arc::new(move |_, c| {
        c.check_quorum = check_quorum;
        // Pre-vote needs check-quorum.
        c.pre_vote = check_quorum;
    }));
    let cluster = spec.start(&mut sim);
    write_all(&mut sim, "w1", 3, 1, vec!["old".into()]);
    let (old, _) = cluster.trace.leader(0).unwrap();
    let cut = sim.elapsed();
    for o in (1..=3).filter(|i| *i != old) {
        sim.partition(format!("n{old}"), format!("n{o}"));
    }
    assert!(
        run_for(&mut sim, Duration::from_secs(20), |_| !cluster
            .trace
            .elections(0, cut)
            .is_empty()),
        "the majority side elected a new leader"
    );
    let new = cluster.trace.elections(0, cut)[0].1;
    assert_ne!(new, old);
    let out = task(&mut sim, "reader", async move {
        let mut c = client(3, 2);
        let rid = c.next_request();
        loop {
            if let Attempt::Ok(_) = c.write_once(new, 0, rid, b"new".to_vec()).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Reads {
            local_on_old: c.read_once(old, 0, vec![], ReadMode::Local).await,
            linearizable_on_old: c.read_once(old, 0, vec![], ReadMode::Linearizable).await,
            linearizable_on_new: c.read_once(new, 0, vec![], ReadMode::Linearizable).await,
        }
    });
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &out
    )));
    let reads = take(&out);
    assert_eq!(
        reads.linearizable_on_new,
        Attempt::Ok(2u64.to_be_bytes().to_vec()),
        "the new leader serves the new value"
    );
    assert_eq!(
        reads.local_on_old,
        Attempt::Ok(1u64.to_be_bytes().to_vec()),
        "a local read on the isolated node returns the stale value"
    );
    match &reads.linearizable_on_old {
        Attempt::Ok(v) => panic!(
            "a linearizable read on the isolated old leader returned {} command(s)",
            count_of(v)
        ),
        Attempt::Unknown(_) => {} // timed out: leadership never confirmed
        Attempt::Redirect(_) => assert!(check_quorum, "only a deposed leader redirects"),
        Attempt::Refused(why) => panic!("unexpected refusal: {why}"),
    }
    // After the heal the old leader learns the new term and serves nothing stale.
    for o in (1..=3).filter(|i| *i != old) {
        sim.repair(format!("n{old}"), format!("n{o}"));
    }
    let after = task(&mut sim, "reader2", async move {
        let mut c = client(3, 3);
        c.read(0, vec![], ReadMode::Linearizable).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &after
    )));
    assert_eq!(take(&after).map(|v| count_of(&v)), Ok(2));
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| cluster
        .state(old, 0)
        .len()
        == 2));
}

#[test]
fn read_index_on_a_partitioned_leader_never_returns_a_stale_value_but_local_reads_do() {
    // Without check-quorum the isolated leader keeps believing it leads:
    // only the read-index round stops a stale answer.
    stale_reads(53, false);
}

#[test]
fn read_index_with_check_quorum_on_a_partitioned_leader_is_not_stale() {
    stale_reads(54, true);
}

#[test]
fn write_retried_after_the_leader_crashed_mid_request_is_applied_once() {
    let mut sim = sim(55, Duration::from_secs(120));
    let cluster = Spec::new(3, 1).start(&mut sim);
    write_all(&mut sim, "warm", 3, 1, vec!["warm".into()]);
    let (old, _) = cluster.trace.leader(0).unwrap();
    run_for(&mut sim, Duration::from_secs(1), |_| false);
    let sent = sim.elapsed();
    let rid = RequestId { client: 77, seq: 1 };
    let out = task(&mut sim, "retrier", async move {
        let mut c = client(3, 77);
        let first = c.write_once(old, 0, rid, b"once".to_vec()).await;
        let mut attempts = 0;
        loop {
            for node in (1..=3).filter(|n| *n != old) {
                attempts += 1;
                if let Attempt::Ok(reply) = c.write_once(node, 0, rid, b"once".to_vec()).await {
                    // The same request id, once more, after it was acknowledged.
                    let again = c.write_once(node, 0, rid, b"once".to_vec()).await;
                    return (first, reply, again, attempts);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Crash the leader once a follower holds the entry, before the follower's
    // acknowledgement can have reached it (so the client never hears back).
    let replicated = |cluster: &Cluster| {
        (1..=3).filter(|i| *i != old).any(|i| {
            cluster
                .trace
                .of(i, 0, sent)
                .iter()
                .any(|e| matches!(e, TraceEvent::Append { .. }))
        })
    };
    assert!(run_for(&mut sim, Duration::from_secs(5), |_| replicated(
        &cluster
    )));
    sim.crash(format!("n{old}"));
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &out
    )));
    let (first, reply, again, attempts) = take(&out);
    assert!(
        matches!(first, Attempt::Unknown(_)),
        "the first attempt's outcome was unknown to the client: {first:?}"
    );
    assert!(attempts >= 1);
    assert_eq!(
        count_of(&reply),
        2,
        "the retry answers with the reply of the one application"
    );
    assert_eq!(
        again,
        Attempt::Ok(reply.clone()),
        "a duplicate gets the same reply"
    );
    let once = |i: NodeId| {
        cluster
            .state(i, 0)
            .iter()
            .filter(|c| c.as_slice() == b"once")
            .count()
    };
    sim.bounce(format!("n{old}"));
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| (1..=3)
        .all(|i| cluster.state(i, 0).len() == 2)));
    for i in 1..=3 {
        assert_eq!(once(i), 1, "n{i} applied the retried write exactly once");
        assert_eq!(
            cluster.state(i, 0),
            vec![b"warm".to_vec(), b"once".to_vec()]
        );
    }
}

#[test]
fn check_quorum_leader_cut_off_from_the_majority_steps_down_within_an_election_timeout() {
    let mut sim = sim(56, Duration::from_secs(60));
    let cluster = Spec::new(3, 1).start(&mut sim);
    write_all(&mut sim, "warm", 3, 1, vec!["a".into()]);
    let (old, term) = cluster.trace.leader(0).unwrap();
    let cut = sim.elapsed();
    for o in (1..=3).filter(|i| *i != old) {
        sim.partition(format!("n{old}"), format!("n{o}"));
    }
    let stepped_down = || {
        cluster.trace.events().into_iter().find_map(|(t, n, s, e)| {
            let down =
                matches!(e, TraceEvent::BecomeFollower { term: tm, leader: None } if tm == term);
            (n == old && s == 0 && t >= cut && down).then_some(t)
        })
    };
    assert!(run_for(&mut sim, Duration::from_secs(5), |_| stepped_down(
    )
    .is_some()));
    // Defaults: 50 ms ticks, election timeout 10..20 ticks (at most 1 s).
    let took = stepped_down().unwrap() - cut;
    assert!(
        took <= Duration::from_millis(1000),
        "n{old} stepped down {took:?} after losing the majority"
    );
}

#[test]
fn a_stale_retry_older_than_the_clients_latest_request_is_refused_not_acknowledged() {
    let mut sim = sim(56, Duration::from_secs(60));
    let cluster = Spec::new(3, 1).start(&mut sim);
    write_all(&mut sim, "warm", 3, 1, vec!["warm".into()]);
    let (leader, _) = cluster.trace.leader(0).unwrap();
    let out = task(&mut sim, "pipeliner", async move {
        let mut c = client(3, 78);
        let newer = c
            .write_once(
                leader,
                0,
                RequestId { client: 78, seq: 2 },
                b"second".to_vec(),
            )
            .await;
        // A pipelining client's earlier request, arriving late.
        let stale = c
            .write_once(
                leader,
                0,
                RequestId { client: 78, seq: 1 },
                b"first".to_vec(),
            )
            .await;
        (newer, stale)
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &out
    )));
    let (newer, stale) = take(&out);
    assert!(matches!(newer, Attempt::Ok(_)), "{newer:?}");
    match stale {
        Attempt::Refused(why) => assert!(why.contains("older than"), "{why}"),
        other => panic!("a stale request must be refused, not {other:?}"),
    }
    run_for(&mut sim, Duration::from_secs(1), |_| false);
    for i in 1..=3 {
        assert_eq!(
            cluster.state(i, 0),
            vec![b"warm".to_vec(), b"second".to_vec()],
            "n{i} never applied the stale request"
        );
    }
}

#[test]
fn writes_larger_than_half_the_message_limit_replicate_and_oversized_ones_are_refused() {
    // Two writes of 3 MiB with a 4 MiB message limit: one Append carrying
    // both (or a peer batch holding both Appends) would exceed the limit and
    // be refused by every follower forever.
    let mut sim = sim(57, Duration::from_secs(60));
    let mut spec = Spec::new(3, 1);
    spec.configure = Some(Arc::new(|_, c| c.max_message_bytes = 4 << 20));
    let cluster = spec.start(&mut sim);
    let out = task(&mut sim, "big", async move {
        let mut c = client(3, 1);
        let a = c.write(0, vec![b'a'; 3 << 20]).await;
        let b = c.write(0, vec![b'b'; 3 << 20]).await;
        let too_big = c.write(0, vec![b'c'; (3 << 20) + 1]).await;
        (a, b, too_big)
    });
    assert!(run_for(&mut sim, Duration::from_secs(30), |_| finished(
        &out
    )));
    let (a, b, too_big) = take(&out);
    a.expect("first large write");
    b.expect("second large write");
    assert!(
        matches!(&too_big, Err(tumult_engine::node::ClientError::Refused(why)) if why.contains("exceeds")),
        "{too_big:?}"
    );
    assert!(
        run_for(&mut sim, Duration::from_secs(10), |_| (1..=3)
            .all(|i| cluster.state(i, 0).len() == 2)),
        "every node applied both large writes"
    );
}
