//! Leadership transfer (dissertation §3.10).

use super::*;

#[test]
fn s3_10_transfer_leader_hands_over_to_an_up_to_date_target() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    // Make n3 lag so the leader first has to catch it up.
    c.cut.insert((1, 3));
    c.propose(1, b"x");
    c.cut.clear();
    c.node_mut(1).transfer_leader(3).unwrap();
    assert_eq!(
        c.node_mut(1).propose(None, vec![]),
        Err(RaftError::TransferInProgress)
    );
    c.stabilize();
    assert_eq!(c.leader(), Some(3));
    assert_eq!(c.status(1).leader, Some(3));
    assert!(c
        .events(1)
        .iter()
        .any(|e| matches!(e, TraceEvent::TransferLeader { to: 3, .. })));
    c.propose(3, b"y");
    c.tick(3);
    assert_eq!(c.commands(1), vec![b"x".to_vec(), b"y".to_vec()]);
}

#[test]
fn s3_10_transfer_aborts_after_an_election_timeout() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    c.cut.insert((1, 3));
    c.cut.insert((3, 1));
    c.propose(1, b"x");
    c.node_mut(1).transfer_leader(3).unwrap();
    assert_eq!(
        c.node_mut(1).transfer_leader(2),
        Err(RaftError::TransferInProgress)
    );
    c.tick(10);
    assert_eq!(c.status(1).transferee, None);
    assert!(c.status(1).is_leader());
    c.node_mut(1).propose(None, vec![1]).unwrap();
}

#[test]
fn s3_10_transfer_target_is_the_follower_with_the_most_replicated_log() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    // n2 lags: only n3 has the new entry.
    c.cut.insert((1, 2));
    c.propose(1, b"x");
    assert_eq!(c.node_mut(1).most_up_to_date_follower(), Some(3));
    assert_eq!(
        c.node_mut(2).most_up_to_date_follower(),
        None,
        "only a leader knows"
    );
    c.cut.clear();
    c.tick(4);
    c.stabilize();
    // Caught up: equal logs, the lower id wins.
    assert_eq!(c.node_mut(1).most_up_to_date_follower(), Some(2));
}
