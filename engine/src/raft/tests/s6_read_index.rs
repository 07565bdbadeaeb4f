//! Read-index (§6.4) and check-quorum (§6.2).

use super::*;

#[test]
fn s6_4_read_index_waits_for_a_heartbeat_quorum() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    let commit = c.status(1).commit;
    c.node_mut(1).read_index(7).unwrap();
    let rd = c.node_mut(1).ready();
    assert!(
        rd.reads.is_empty(),
        "not confirmed before a heartbeat round"
    );
    let ctx = match messages_to(&rd, 2).as_slice() {
        [Message::Heartbeat { ctx, .. }] => *ctx,
        other => panic!("expected a heartbeat, got {other:?}"),
    };
    c.node_mut(1).advance();
    // A reply to an older round does not confirm it.
    let term = c.status(1).term;
    c.node_mut(1)
        .step(2, Message::HeartbeatResp { term, ctx: ctx - 1 });
    assert!(c.node_mut(1).ready().reads.is_empty());
    c.node_mut(1).advance();
    c.node_mut(1).step(2, Message::HeartbeatResp { term, ctx });
    let rd = c.node_mut(1).ready();
    assert_eq!(
        rd.reads,
        vec![ReadState {
            ctx: 7,
            index: commit
        }]
    );
    assert!(rd.events.contains(&TraceEvent::ReadIndex {
        term,
        index: commit
    }));
}

#[test]
fn s6_4_deposed_leader_fails_its_pending_reads() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    c.isolate(1);
    c.node_mut(1).read_index(9).unwrap();
    c.tick(30);
    assert_ne!(c.status(1).role, Role::Leader, "check-quorum deposed it");
    assert!(c.reads.get(&1).is_none_or(|r| r.is_empty()));
    assert_eq!(c.failed_reads[&1], vec![9]);
}

#[test]
fn s6_4_single_voter_confirms_reads_at_once_after_committing_in_its_term() {
    let mut r = Raft::new(
        1,
        config(1, true, true),
        Membership::new([1]),
        Recovered::default(),
    );
    r.campaign();
    // The no-op is not committed yet: the read waits for it.
    r.read_index(5).unwrap();
    let rd = r.ready();
    assert!(rd.reads.is_empty());
    r.advance();
    let rd = r.ready();
    assert_eq!(rd.reads, vec![ReadState { ctx: 5, index: 1 }]);
    r.advance();
    r.read_index(6).unwrap();
    assert_eq!(r.ready().reads, vec![ReadState { ctx: 6, index: 1 }]);
    assert_eq!(
        Raft::new(
            2,
            config(2, true, true),
            Membership::new([1, 2]),
            Recovered::default()
        )
        .read_index(1),
        Err(RaftError::NotLeader { leader: None })
    );
}

#[test]
fn s6_2_check_quorum_leader_steps_down_when_isolated() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(5);
    assert!(c.status(1).is_leader(), "a healthy leader stays");
    c.isolate(1);
    // It notices within two election timeouts (one full round without acks).
    c.tick(20);
    assert_eq!(c.status(1).role, Role::Follower);
    let l = c.elect_any();
    assert!(l != 1);
    // Without check-quorum an isolated leader keeps believing.
    let mut c = Cluster::new(3, false, false);
    c.elect(1);
    c.isolate(1);
    c.tick(50);
    assert!(c.status(1).is_leader());
}
