//! Single-server membership changes (dissertation §4).

use super::*;

#[test]
fn s4_1_add_and_remove_a_voter() {
    let mut c = Cluster::with(&[1, 2, 3, 4], &[1, 2, 3], |id| config(id, true, true));
    c.elect(1);
    c.tick(2);
    c.propose(1, b"a");
    // The spare never campaigns while it waits.
    assert_eq!(
        c.status(4).term,
        0,
        "nobody talks to a spare until it is added"
    );
    let i = c
        .node_mut(1)
        .propose_membership(Membership::new([1, 2, 3, 4]))
        .unwrap();
    assert_eq!(
        c.status(1).membership,
        Membership::new([1, 2, 3, 4]),
        "effective when appended"
    );
    c.stabilize();
    c.tick(4);
    for id in 1..=4 {
        assert!(c.status(id).commit >= i);
        assert_eq!(c.status(id).membership, Membership::new([1, 2, 3, 4]));
    }
    assert_eq!(c.commands(4), vec![b"a".to_vec()]);
    // With 4 voters, 3 are a quorum: losing n2 and n3 stalls commits.
    c.propose(1, b"b");
    c.node_mut(1)
        .propose_membership(Membership::new([1, 2, 3]))
        .unwrap();
    c.stabilize();
    c.tick(4);
    for id in 1..=3 {
        assert_eq!(c.status(id).membership, Membership::new([1, 2, 3]));
    }
    // The removed node is not told about its removal in general; it never
    // campaigns once it knows, and it cannot disrupt the others.
    c.tick(100);
    assert_eq!(c.leader(), Some(1));
    assert_eq!(c.status(1).term, 1);
}

#[test]
fn s4_1_refuses_a_second_change_while_one_is_uncommitted() {
    let mut c = Cluster::with(&[1, 2, 3, 4, 5], &[1, 2, 3], |id| config(id, true, true));
    c.elect(1);
    c.tick(2);
    c.node_mut(1)
        .propose_membership(Membership::new([1, 2, 3, 4]))
        .unwrap();
    assert_eq!(
        c.node_mut(1)
            .propose_membership(Membership::new([1, 2, 3, 4, 5])),
        Err(RaftError::ChangeInProgress)
    );
    c.stabilize();
    c.tick(2);
    c.node_mut(1)
        .propose_membership(Membership::new([1, 2, 3, 4, 5]))
        .unwrap();
    // Not single-server changes:
    c.stabilize();
    c.tick(2);
    assert!(matches!(
        c.node_mut(1).propose_membership(Membership::new([1, 2])),
        Err(RaftError::InvalidChange(_))
    ));
    assert!(matches!(
        c.node_mut(1)
            .propose_membership(Membership::new([1, 2, 3, 4, 5])),
        Err(RaftError::InvalidChange(_))
    ));
}

#[test]
fn s4_1_refuses_a_change_before_committing_in_its_term() {
    let mut l = restored(1, 0, &[]);
    l.campaign();
    l.step(
        2,
        Message::VoteResp {
            term: 1,
            granted: true,
        },
    );
    assert!(l.status().is_leader());
    assert_eq!(
        l.propose_membership(Membership::new([1, 2, 3, 4])),
        Err(RaftError::NotCommittedInTerm)
    );
    let err = RaftError::NotLeader { leader: Some(3) };
    assert_eq!(err.to_string(), "this node is not the leader (leader: n3)");
}

#[test]
fn s4_1_configuration_reverts_when_truncated() {
    let mut f = restored(2, 1, &[(1, 1)]);
    f.step(
        1,
        Message::Append {
            term: 1,
            prev_index: 1,
            prev_term: 1,
            entries: vec![Entry {
                index: 2,
                term: 1,
                payload: Payload::Config(Membership::new([1, 2, 3, 4])),
            }],
            commit: 1,
        },
    );
    assert_eq!(
        f.status().membership,
        Membership::new([1, 2, 3, 4]),
        "effective once in the log"
    );
    f.ready();
    f.advance();
    f.step(3, append(2, (1, 1), entries(&[(2, 2)]), 1));
    assert_eq!(
        f.status().membership,
        Membership::new([1, 2, 3]),
        "reverted with the truncation"
    );
}

#[test]
fn s4_2_2_removed_leader_steps_down_once_the_change_commits() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    let i = c
        .node_mut(1)
        .propose_membership(Membership::new([2, 3]))
        .unwrap();
    assert_eq!(
        c.node_mut(1).propose(None, vec![1]),
        Err(RaftError::Removed)
    );
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Follower);
    assert!(c.status(1).commit >= i);
    let l = c.elect_any();
    assert!(l == 2 || l == 3);
    c.propose(l, b"after");
    let starts = c
        .events(1)
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraceEvent::StartPreVote { .. } | TraceEvent::BecomeCandidate { .. }
            )
        })
        .count();
    c.tick(100);
    let later = c
        .events(1)
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraceEvent::StartPreVote { .. } | TraceEvent::BecomeCandidate { .. }
            )
        })
        .count();
    assert_eq!(starts, later, "a removed node never campaigns");
    assert_eq!(c.leader(), Some(l));
}

#[test]
fn spare_node_waits_until_a_leader_contacts_it() {
    let mut r = Raft::new(
        1,
        config(4, true, true),
        Membership::default(),
        Recovered::default(),
    );
    for _ in 0..1000 {
        r.tick();
    }
    assert_eq!(r.status().term, 0);
    assert_eq!(r.status().role, Role::Follower);
    assert!(!r.has_ready());
}
