//! Log replication (§5.3): conflicts, stale Appends, the follower commit rule, batching.

use super::*;

#[test]
fn s5_3_follower_truncates_only_from_the_first_conflict() {
    // The follower holds 1..4; entries 3 and 4 are of an old term 2.
    let mut f = restored(2, 2, &[(1, 1), (2, 1), (3, 2), (4, 2)]);
    // The leader of term 3 sends 2..3: 2 matches, 3 conflicts.
    f.step(1, append(3, (1, 1), entries(&[(2, 1), (3, 3)]), 0));
    let rd = f.ready();
    assert_eq!(
        rd.truncate_from,
        Some(3),
        "truncated from the conflict, not before"
    );
    assert_eq!(
        rd.entries,
        entries(&[(3, 3)]),
        "only the new entry is appended"
    );
    assert_eq!(terms(&f), vec![(1, 1), (2, 1), (3, 3)]);
    assert_eq!(messages_to(&rd, 1), vec![append_resp(3, true, 3)]);
    assert!(rd
        .events
        .contains(&TraceEvent::Truncate { term: 3, from: 3 }));
}

#[test]
fn s5_3_conflict_resolved_in_a_cluster() {
    // n1 leads term 1 and leaves uncommitted entries only on itself.
    let mut c = Cluster::new(3, false, false);
    c.elect(1);
    c.isolate(1);
    c.node_mut(1).propose(None, b"lost-1".to_vec()).unwrap();
    c.node_mut(1).propose(None, b"lost-2".to_vec()).unwrap();
    c.stabilize();
    // n2 leads term 2 and commits other entries.
    c.elect(2);
    c.propose(2, b"kept");
    c.heal();
    c.tick(30);
    let l = c.leader().unwrap();
    c.propose(l, b"after");
    c.tick(5);
    for id in 1..=3 {
        assert_eq!(
            c.commands(id),
            vec![b"kept".to_vec(), b"after".to_vec()],
            "n{id}"
        );
        assert_eq!(terms(c.node(id)), terms(c.node(l)));
    }
    assert!(c
        .events(1)
        .iter()
        .any(|e| matches!(e, TraceEvent::Truncate { from: 2, .. })));
}

#[test]
fn s5_3_duplicated_or_reordered_stale_append_does_not_truncate() {
    let mut f = restored(2, 1, &[]);
    let a1 = append(1, (0, 0), entries(&[(1, 1), (2, 1), (3, 1)]), 0);
    let a2 = append(1, (3, 1), entries(&[(4, 1), (5, 1)]), 2);
    // Reordered: the second arrives first and is refused with a hint.
    f.step(1, a2.clone());
    let rd = f.ready();
    assert_eq!(messages_to(&rd, 1), vec![append_resp(1, false, 1)]);
    f.advance();
    f.step(1, a1.clone());
    f.step(1, a2.clone());
    f.ready();
    f.advance();
    assert_eq!(f.status().last_index, 5);
    // A stale duplicate of the first: nothing is truncated, 4..5 stay.
    f.step(1, a1);
    let rd = f.ready();
    assert_eq!(rd.truncate_from, None);
    assert!(rd.entries.is_empty());
    assert_eq!(f.status().last_index, 5);
    assert_eq!(
        messages_to(&rd, 1),
        vec![append_resp(1, true, 3)],
        "the ack covers only what this Append proved"
    );
    assert_eq!(f.status().commit, 2);
}

#[test]
fn s5_3_follower_commit_never_passes_the_last_new_entry() {
    // The follower holds a stale entry 3 of term 1 that the leader may not have.
    let mut f = restored(2, 1, &[(1, 1), (2, 1), (3, 1)]);
    f.step(1, append(2, (1, 1), vec![], 3));
    assert_eq!(
        f.status().commit,
        1,
        "commit = min(leader commit, last new entry)"
    );
    f.step(
        1,
        Message::Heartbeat {
            term: 2,
            commit: 1,
            ctx: 0,
        },
    );
    assert_eq!(f.status().commit, 1);
}

#[test]
fn s5_3_reject_hint_skips_a_conflicting_term() {
    // Follower: 1:t1 2:t2 3:t2 4:t2 5:t2. Leader (term 4): 1:t1 2:t3 ... 6:t3.
    let mut f = restored(2, 2, &[(1, 1), (2, 2), (3, 2), (4, 2), (5, 2)]);
    f.step(1, append(4, (5, 3), vec![], 1));
    let rd = f.ready();
    assert_eq!(
        messages_to(&rd, 1),
        vec![append_resp(4, false, 2)],
        "every term-2 entry is skipped in one round trip"
    );
    // A follower that is simply shorter hints one past its end.
    let mut g = restored(3, 2, &[(1, 1)]);
    g.step(1, append(4, (5, 3), vec![], 1));
    let rd = g.ready();
    assert!(matches!(
        messages_to(&rd, 1)[..],
        [Message::AppendResp {
            success: false,
            index: 2,
            ..
        }]
    ));
}

#[test]
fn s5_3_replicates_a_long_log_in_batches() {
    let mut c = Cluster::with(&[1, 2, 3], &[1, 2, 3], |id| {
        let mut cfg = config(id, true, true);
        cfg.max_append_entries = 3;
        cfg
    });
    c.elect(1);
    c.isolate(3);
    for i in 0..40u8 {
        c.node_mut(1).propose(None, vec![i]).unwrap();
    }
    c.stabilize();
    c.heal();
    c.tick(20);
    assert_eq!(c.commands(3).len(), 40);
    assert!(c.sent.iter().all(|(_, _, m)| match m {
        Message::Append { entries, .. } => entries.len() <= 3,
        _ => true,
    }));
}
