//! Committing entries from previous terms (§5.4.2, Figure 8).

use super::*;

#[test]
fn s5_4_2_does_not_commit_previous_term_by_counting() {
    // Figure 8 (c): n1 wins term 4 holding (2, t2), which reaches a majority.
    let mut l = restored(1, 3, &[(1, 1), (2, 2)]);
    l.campaign();
    l.ready();
    l.advance();
    l.step(
        2,
        Message::VoteResp {
            term: 4,
            granted: true,
        },
    );
    assert!(l.status().is_leader());
    let rd = l.ready();
    assert_eq!(
        rd.entries.last().map(|e| (e.index, e.term)),
        Some((3, 4)),
        "the no-op of term 4"
    );
    l.advance();
    // n2 and n3 hold index 2 (term 2) but not yet the no-op.
    for f in [2, 3] {
        l.step(f, append_resp(4, true, 2));
    }
    assert_eq!(
        l.status().commit,
        0,
        "an entry of term 2 is not committed by counting"
    );
    assert!(l.ready().committed.is_empty());
    l.advance();
    // Once the term-4 no-op is on a majority, everything before it commits.
    l.step(2, append_resp(4, true, 3));
    assert_eq!(l.status().commit, 3);
    let rd = l.ready();
    assert_eq!(
        rd.committed
            .iter()
            .map(|e| (e.index, e.term))
            .collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 4)]
    );
}

#[test]
fn s5_4_2_figure_8_in_a_cluster() {
    let mut c = Cluster::new(5, false, false);
    // (a) n1 leads term 1, its entry reaches only n2.
    c.elect(1);
    c.tick(3);
    for id in 3..=5 {
        c.cut.insert((1, id));
    }
    c.propose(1, b"t1");
    // (b) n1 crashes; n5 leads with n3, n4 and writes an entry nobody gets.
    c.crash(1);
    c.heal();
    for id in [1, 2, 3, 4] {
        c.cut.insert((5, id));
    }
    c.cut.remove(&(5, 3));
    c.cut.remove(&(5, 4));
    c.node_mut(5).campaign();
    c.process(5);
    while !c.status(5).is_leader() {
        assert!(c.deliver_one());
    }
    // Its no-op and later entries stay on n5 alone.
    c.cut.insert((5, 3));
    c.cut.insert((5, 4));
    c.node_mut(5).propose(None, b"t5".to_vec()).unwrap();
    c.stabilize();
    // (c) n5 crashes, n1 restarts and wins; its old entry reaches n3.
    c.crash(5);
    c.heal();
    c.restart(1);
    c.cut.insert((1, 4));
    // n3 and n4 voted for n5 in term 2: n1 needs a second round.
    for _ in 0..3 {
        if c.leader() != Some(1) {
            c.node_mut(1).campaign();
            c.stabilize();
        }
    }
    assert_eq!(c.leader(), Some(1));
    // The term-1 entry is committed only together with n1's no-op of its
    // new term; n5's term-2 entries never are.
    let index_of_t1 = c
        .committed
        .values()
        .find(|e| e.payload != Payload::Noop && e.term == 1);
    assert_eq!(index_of_t1.map(|e| e.index), Some(2));
    assert!(c.committed.values().all(|e| e.term != 2));
    c.heal();
    c.restart(5);
    c.tick(30);
    assert_eq!(c.commands(5), vec![b"t1".to_vec()]);
}
