//! Snapshots and restart (§7), including snapshot fetches that land late.

use super::*;

#[test]
fn s7_lagging_follower_installs_the_leaders_snapshot() {
    let mut c = Cluster::new(3, true, true);
    c.elect(1);
    c.tick(2);
    c.isolate(3);
    for i in 0..10u8 {
        c.propose(1, &[i]);
    }
    c.tick(2);
    let applied = c.status(1).applied;
    let meta = c.node(1).snapshot_meta(applied).unwrap();
    c.node_mut(1).snapshot_taken(meta.clone());
    c.process(1);
    assert_eq!(c.disks[&1].snapshot, Some(meta.clone()));
    assert!(c.disks[&1].entries.is_empty());
    c.heal();
    c.tick(20);
    assert!(c
        .sent
        .iter()
        .any(|(f, t, m)| (*f, *t) == (1, 3) && matches!(m, Message::InstallSnapshot { .. })));
    assert!(c
        .events(3)
        .iter()
        .any(|e| matches!(e, TraceEvent::InstallSnapshot { index, .. } if *index == meta.index)));
    assert_eq!(c.status(3).snapshot_index, meta.index);
    c.propose(1, b"after");
    c.tick(3);
    assert_eq!(c.status(3).commit, c.status(1).commit);
    assert_eq!(
        c.commands(3),
        vec![b"after".to_vec()],
        "earlier ones came in the snapshot"
    );
    assert_eq!(
        c.disks[&3].snapshot.as_ref().map(|s| s.index),
        Some(meta.index)
    );
}

#[test]
fn s7_snapshot_older_than_commit_is_just_acked() {
    let mut f = restored(2, 1, &[(1, 1), (2, 1), (3, 1)]);
    f.step(
        1,
        Message::Heartbeat {
            term: 1,
            commit: 3,
            ctx: 0,
        },
    );
    f.ready();
    f.advance();
    let meta = SnapshotMeta {
        index: 2,
        term: 1,
        membership: Membership::new([1, 2, 3]),
    };
    f.step(1, Message::InstallSnapshot { term: 1, meta });
    let rd = f.ready();
    assert_eq!(rd.fetch_snapshot, None);
    assert_eq!(messages_to(&rd, 1), vec![append_resp(1, true, 3)]);
}

/// Follower 2 (log `[(1, 1)]`) is asked by the leader of term 3 to fetch a
/// snapshot at (50, 3); returns it, the snapshot and the Ready asking.
fn asked_to_fetch_at_50() -> (Raft, SnapshotMeta, Ready) {
    let mut f = restored(2, 1, &[(1, 1)]);
    let meta = SnapshotMeta {
        index: 50,
        term: 3,
        membership: Membership::new([1, 2, 3]),
    };
    f.step(
        1,
        Message::InstallSnapshot {
            term: 3,
            meta: meta.clone(),
        },
    );
    let rd = f.ready();
    assert_eq!(rd.fetch_snapshot, Some((1, meta.clone())));
    (f, meta, rd)
}

#[test]
fn s7_follower_asks_to_fetch_then_acks_after_install() {
    let (mut f, meta, rd) = asked_to_fetch_at_50();
    assert!(
        rd.messages.is_empty(),
        "no ack before the snapshot is installed"
    );
    f.advance();
    f.snapshot_installed(meta.clone());
    let rd = f.ready();
    assert_eq!(rd.truncate_from, Some(51));
    assert_eq!(rd.compact, Some(meta.clone()));
    assert_eq!(messages_to(&rd, 1), vec![append_resp(3, true, 50)]);
    let s = f.status();
    assert_eq!((s.commit, s.applied, s.last_index), (50, 50, 50));
}

#[test]
fn restart_from_recovered_restores_ballot_log_and_membership() {
    let mut c = Cluster::with(&[1, 2, 3, 4], &[1, 2, 3], |id| config(id, true, true));
    c.elect(1);
    c.tick(2);
    c.propose(1, b"a");
    c.node_mut(1)
        .propose_membership(Membership::new([1, 2, 3, 4]))
        .unwrap();
    c.stabilize();
    c.tick(2);
    let before = c.status(2);
    c.crash(2);
    c.restart(2);
    let after = c.status(2);
    assert_eq!((after.term, after.vote), (before.term, before.vote));
    assert_eq!(after.last_index, before.last_index);
    assert_eq!(after.commit, 0, "commit restarts at the snapshot index");
    assert_eq!(
        after.membership,
        Membership::new([1, 2, 3, 4]),
        "from the log's last Config"
    );
    assert_eq!(after.role, Role::Follower);
    c.tick(3);
    assert_eq!(c.status(2).commit, c.status(1).commit);
    // Restart with a compacted log: commit starts at the snapshot.
    let applied = c.status(1).applied;
    let meta = c.node(1).snapshot_meta(applied).unwrap();
    c.node_mut(1).snapshot_taken(meta.clone());
    c.process(1);
    c.crash(1);
    c.restart(1);
    let s = c.status(1);
    assert_eq!((s.commit, s.snapshot_index), (meta.index, meta.index));
    assert_eq!(s.membership, Membership::new([1, 2, 3, 4]));
    c.tick(40);
    let l = c.elect_any();
    c.propose(l, b"b");
    c.tick(3);
    assert_eq!(c.commands(4), vec![b"a".to_vec(), b"b".to_vec()]);
}

/// The log after `(1, 1)` as a newer leader of term 4 holds it: entries
/// 2..=55 of term 3 (the snapshot at (50, 3) is a prefix of it), 56..=60 of term 4.
fn late_snapshot_leader_log() -> Vec<Entry> {
    (2..=60)
        .map(|i| entry(i, if i <= 55 { 3 } else { 4 }))
        .collect()
}

/// Follower 2 is asked by the leader of term 3 to fetch a snapshot at (50, 3).
/// Before the fetch completes, the leader of term 4 replicates 2..=60 to it,
/// and it acknowledges them.
fn follower_acked_past_a_pending_fetch() -> (Raft, SnapshotMeta) {
    let (mut f, meta, _) = asked_to_fetch_at_50();
    f.advance();
    f.step(3, append(4, (1, 1), late_snapshot_leader_log(), 10));
    let rd = f.ready();
    assert_eq!(
        messages_to(&rd, 3),
        vec![append_resp(4, true, 60)],
        "the follower acknowledges 2..=60 to the leader of term 4"
    );
    f.advance();
    (f, meta)
}

#[test]
fn s7_late_snapshot_fetch_is_dropped_once_the_log_holds_its_last_entry() {
    let (mut f, meta) = follower_acked_past_a_pending_fetch();
    // The fetch from the old leader completes only now.
    assert!(
        !f.snapshot_wanted(&meta),
        "the log moved past the snapshot: installing it would drop acknowledged entries 51..=60"
    );
    // The acknowledged suffix is still there, and replication goes on from it.
    assert_eq!(f.status().last_index, 60);
    f.step(3, append(4, (60, 4), vec![entry(61, 4)], 61));
    let rd = f.ready();
    assert_eq!(rd.truncate_from, None);
    assert_eq!(messages_to(&rd, 3), vec![append_resp(4, true, 61)]);
    assert_eq!(rd.committed.last().map(|e| e.index), Some(61));
}

#[test]
fn s7_fetched_snapshot_at_or_below_the_commit_index_is_not_wanted() {
    let mut f = restored(2, 3, &[]);
    let mut log = vec![entry(1, 1)];
    log.extend(late_snapshot_leader_log());
    f.step(
        1,
        append(
            3,
            (0, 0),
            log.into_iter().filter(|e| e.term <= 3).collect(),
            55,
        ),
    );
    // Committed to 55, not handed to the application yet: a snapshot at 50
    // would replace committed entries 51..=55 the node is about to apply.
    let meta = SnapshotMeta {
        index: 50,
        term: 3,
        membership: Membership::new([1, 2, 3]),
    };
    assert!(!f.snapshot_wanted(&meta));
}

#[test]
fn s7_snapshot_fetched_while_the_term_moved_on_but_the_log_did_not_is_installed() {
    let (mut f, meta, _) = asked_to_fetch_at_50();
    f.advance();
    // A newer leader replicated only up to 30 before the fetch completed.
    f.step(
        3,
        Message::Append {
            term: 4,
            prev_index: 1,
            prev_term: 1,
            entries: late_snapshot_leader_log()
                .into_iter()
                .filter(|e| e.index <= 30)
                .collect(),
            commit: 10,
        },
    );
    f.ready();
    f.advance();
    assert!(f.snapshot_wanted(&meta));
    f.snapshot_installed(meta.clone());
    let rd = f.ready();
    // The prefix it replaces (2..=30, acknowledged) is part of the snapshot.
    assert_eq!(rd.truncate_from, Some(51));
    assert_eq!(rd.compact, Some(meta));
    assert!(
        messages_to(&rd, 1).is_empty(),
        "no answer to the leader of a past term"
    );
    let s = f.status();
    assert_eq!((s.commit, s.applied, s.last_index, s.term), (50, 50, 50, 4));
}

#[test]
#[should_panic(expected = "that the log has moved past")]
fn s7_installing_a_snapshot_the_log_moved_past_is_a_node_bug() {
    let (mut f, meta) = follower_acked_past_a_pending_fetch();
    f.snapshot_installed(meta);
}

/// The mutant `late-snapshot-install` is the behaviour before the fix: the
/// late fetch replaces the log and acknowledged entries 51..=60 are deleted.
#[cfg(feature = "mutants")]
#[test]
fn mutant_late_snapshot_install_drops_acknowledged_entries() {
    let (mut f, meta) = follower_acked_past_a_pending_fetch();
    f.cfg.mutant = Some(crate::mutants::Mutant::LateSnapshotInstall);
    assert!(f.snapshot_wanted(&meta));
    f.snapshot_installed(meta);
    let rd = f.ready();
    assert_eq!(rd.truncate_from, Some(51));
    assert_eq!(f.status().last_index, 50);
}
