//! Leader election (§5.2), the vote restriction (§5.4.1), pre-vote (§9.6) and leader stickiness (§4.2.3).

use super::*;

#[test]
fn s5_2_election_without_pre_vote_elects_one_leader() {
    let mut c = Cluster::new(3, false, false);
    let l = c.elect_any();
    let term = c.status(l).term;
    assert_eq!(term, 1);
    for id in 1..=3 {
        assert_eq!(c.status(id).leader, Some(l));
        assert_eq!(c.status(id).term, term);
    }
    assert!(!c
        .events(l)
        .iter()
        .any(|e| matches!(e, TraceEvent::StartPreVote { .. })));
    // The leader's no-op of its term commits everywhere.
    c.tick(4);
    for id in 1..=3 {
        assert_eq!(c.status(id).commit, 1);
    }
}

#[test]
fn s9_6_election_with_pre_vote_elects_one_leader() {
    let mut c = Cluster::new(5, true, true);
    let l = c.elect_any();
    assert_eq!(
        c.status(l).term,
        1,
        "a successful pre-vote costs no extra term"
    );
    assert!(c
        .events(l)
        .iter()
        .any(|e| matches!(e, TraceEvent::StartPreVote { term: 1 })));
    for id in 1..=5 {
        assert_eq!(c.status(id).leader, Some(l));
    }
}

#[test]
fn s9_6_partitioned_node_rejoining_does_not_raise_term_with_pre_vote() {
    let mut c = Cluster::new(3, true, true);
    let l = c.elect(1);
    let term = c.status(l).term;
    c.isolate(3);
    c.tick(200);
    assert_eq!(
        c.status(3).term,
        term,
        "a pre-candidate does not bump its term"
    );
    assert_eq!(c.status(l).role, Role::Leader);
    c.heal();
    c.tick(30);
    assert_eq!(c.leader(), Some(l));
    for id in 1..=3 {
        assert_eq!(c.status(id).term, term, "n{id}");
        assert_eq!(c.status(id).leader, Some(l));
    }
}

#[test]
fn without_pre_vote_partitioned_node_rejoining_raises_term() {
    let mut c = Cluster::new(3, false, false);
    let l = c.elect(1);
    let term = c.status(l).term;
    c.isolate(3);
    c.tick(200);
    assert!(
        c.status(3).term > term + 3,
        "candidates bump their term every timeout"
    );
    c.heal();
    c.tick(60);
    let l2 = c.elect_any();
    assert!(
        c.status(l2).term > term,
        "the rejoining node disrupted the cluster"
    );
}

#[test]
fn s5_2_vote_is_never_granted_twice_in_a_term() {
    let mut r = restored(1, 0, &[]);
    let vote = |t| Message::Vote {
        term: t,
        last_index: 0,
        last_term: 0,
        transfer: false,
    };
    r.step(2, vote(1));
    r.step(3, vote(1));
    r.step(2, vote(1)); // a duplicate of the request we granted
    let rd = r.ready();
    assert_eq!(
        rd.hard_state,
        Some(HardState {
            term: 1,
            vote: Some(2)
        })
    );
    assert_eq!(
        messages_to(&rd, 2),
        vec![
            Message::VoteResp {
                term: 1,
                granted: true
            };
            2
        ]
    );
    assert_eq!(
        messages_to(&rd, 3),
        vec![Message::VoteResp {
            term: 1,
            granted: false
        }]
    );
    // Two candidates of the same term in a cluster: at most one wins.
    let mut c = Cluster::new(3, false, false);
    c.node_mut(1).campaign();
    c.node_mut(2).campaign();
    c.stabilize();
    let leaders: Vec<_> = (1..=3).filter(|&i| c.status(i).is_leader()).collect();
    assert!(leaders.len() <= 1, "{leaders:?}");
}

#[test]
fn s5_4_1_vote_refused_to_a_less_up_to_date_log() {
    let mut r = restored(1, 2, &[(1, 1), (2, 2)]);
    r.step(
        2,
        Message::Vote {
            term: 3,
            last_index: 5,
            last_term: 1,
            transfer: false,
        },
    );
    r.step(
        3,
        Message::Vote {
            term: 3,
            last_index: 2,
            last_term: 2,
            transfer: false,
        },
    );
    let rd = r.ready();
    assert_eq!(
        messages_to(&rd, 2),
        vec![Message::VoteResp {
            term: 3,
            granted: false
        }]
    );
    assert_eq!(
        messages_to(&rd, 3),
        vec![Message::VoteResp {
            term: 3,
            granted: true
        }]
    );
}

#[test]
fn vote_reply_leaves_only_in_the_ready_that_persists_the_vote() {
    let mut r = restored(1, 0, &[]);
    r.step(
        2,
        Message::Vote {
            term: 4,
            last_index: 0,
            last_term: 0,
            transfer: false,
        },
    );
    assert!(r.has_ready());
    let rd = r.ready();
    assert!(rd.messages.contains(&(
        2,
        Message::VoteResp {
            term: 4,
            granted: true
        }
    )));
    assert_eq!(
        rd.hard_state,
        Some(HardState {
            term: 4,
            vote: Some(2)
        }),
        "the reply's Ready carries the vote to persist first"
    );
    assert!(rd.events.contains(&TraceEvent::VoteGranted {
        term: 4,
        candidate: 2
    }));
    r.advance();
    assert!(!r.has_ready());
    // A candidate's requests also travel with its persisted self-vote.
    let mut c = restored(1, 4, &[]);
    c.campaign();
    let rd = c.ready();
    assert_eq!(
        rd.hard_state,
        Some(HardState {
            term: 5,
            vote: Some(1)
        })
    );
    assert_eq!(rd.messages.len(), 2);
}

#[test]
fn s9_6_pre_vote_refused_while_a_leader_is_heard_and_does_not_change_terms() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    let term = c.status(1).term;
    // n3 asks for a pre-vote while n2 hears from the leader.
    c.node_mut(2).step(
        3,
        Message::PreVote {
            term: term + 1,
            last_index: 100,
            last_term: term,
        },
    );
    let rd = c.node_mut(2).ready();
    assert_eq!(
        messages_to(&rd, 3),
        vec![Message::PreVoteResp {
            term,
            granted: false
        }]
    );
    assert_eq!(c.status(2).term, term);
    assert_eq!(rd.hard_state, None);
}

#[test]
fn s4_2_3_leader_stickiness_ignores_disruptive_votes_but_not_transfers() {
    let mut c = Cluster::new(3, false, true);
    c.elect(1);
    let term = c.status(1).term;
    let vote = |transfer| Message::Vote {
        term: term + 5,
        last_index: 100,
        last_term: term,
        transfer,
    };
    c.node_mut(2).step(3, vote(false));
    assert_eq!(c.status(2).term, term, "ignored within the leader lease");
    assert!(c.node_mut(2).ready().messages.is_empty());
    c.node_mut(2).step(3, vote(true));
    assert_eq!(c.status(2).term, term + 5);
    assert_eq!(c.status(2).vote, Some(3));
}

/// Ticks until the core starts an election; how many it took.
fn ticks_to_campaign(r: &mut Raft) -> u32 {
    for t in 1..=1000 {
        r.tick();
        if r.status().role != Role::Follower {
            return t;
        }
    }
    panic!("never campaigned");
}

#[test]
fn s5_2_a_follower_refusing_a_stale_candidate_keeps_its_election_timer() {
    // Figure 2: the timer restarts for an Append from the leader or a
    // granted vote, not for a higher term alone. Otherwise candidates whose
    // logs cannot win keep resetting the servers whose logs can.
    let log = [(1, 1), (2, 1), (3, 1)];
    let timeout = ticks_to_campaign(&mut restored(1, 1, &log));
    assert!(timeout > 3);
    let mut r = restored(1, 1, &log);
    for _ in 0..timeout - 2 {
        r.tick();
    }
    r.step(
        3,
        Message::Vote {
            term: 5,
            last_index: 1,
            last_term: 1,
            transfer: false,
        },
    );
    let rd = r.ready();
    assert!(
        messages_to(&rd, 3).iter().any(|m| matches!(
            m,
            Message::VoteResp {
                term: 5,
                granted: false
            }
        )),
        "the stale candidate is refused"
    );
    r.advance();
    assert_eq!((r.status().term, r.status().role), (5, Role::Follower));
    r.tick();
    assert_eq!(r.status().role, Role::Follower);
    r.tick();
    assert_eq!(
        (r.status().role, r.status().term),
        (Role::Candidate, 6),
        "the up-to-date follower campaigns on its original deadline"
    );
    // A vote it grants does restart the timer.
    let mut g = restored(1, 1, &log);
    for _ in 0..timeout - 2 {
        g.tick();
    }
    g.step(
        3,
        Message::Vote {
            term: 5,
            last_index: 3,
            last_term: 1,
            transfer: false,
        },
    );
    g.tick();
    g.tick();
    assert_eq!(g.status().role, Role::Follower);
}

/// The explore finding (run 1544): four voters; the leader n2 reaches only
/// n1, whose log its uncommitted entries put ahead of n3's and n4's. n1
/// refuses their pre-votes (their logs are behind) and, hearing from n2,
/// never campaigns itself: with pre-vote on and check-quorum off nothing
/// ever changes. Check-quorum makes n2 step down, n1 campaigns, and the
/// majority n1, n3, n4 goes on. Pre-vote without check-quorum is refused.
fn a_leader_reaching_only_a_follower_ahead(check_quorum: bool) -> Cluster {
    let mut c = Cluster::with(&[1, 2, 3, 4], &[1, 2, 3, 4], |id| {
        let mut cfg = config(id, false, check_quorum);
        cfg.pre_vote = true;
        cfg.check_quorum = check_quorum;
        cfg
    });
    c.elect(2);
    for other in [3, 4] {
        c.cut.insert((2, other));
        c.cut.insert((other, 2));
    }
    c.propose(2, b"uncommitted");
    c
}

#[test]
fn s9_6_with_check_quorum_a_leader_cut_off_from_the_majority_steps_down_and_it_goes_on() {
    let mut c = a_leader_reaching_only_a_follower_ahead(true);
    assert!(c.node(1).status().last_index > c.node(3).status().last_index);
    let mut leader = None;
    for _ in 0..300 {
        c.tick(1);
        if let Some(l) = c.leader().filter(|&l| l != 2) {
            leader = Some(l);
            break;
        }
    }
    let l = leader.expect("the connected majority n1, n3, n4 elects a leader");
    assert_eq!(l, 1, "only n1's log is up to date enough");
    let index = c.propose(l, b"after");
    c.tick(3);
    assert!(c.node(l).status().commit >= index, "and commits through it");
}

#[test]
#[should_panic(expected = "pre_vote needs check_quorum")]
fn s9_6_pre_vote_without_check_quorum_is_refused() {
    a_leader_reaching_only_a_follower_ahead(false);
}
