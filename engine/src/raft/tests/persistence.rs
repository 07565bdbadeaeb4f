//! The persistence rule: nothing leaves before the write it depends on is durable (§10.2.1).

use super::*;

#[test]
fn s10_2_1_leader_counts_itself_only_after_advance() {
    // Single voter: the entry is committed only when its own write is durable.
    let mut r = Raft::new(
        1,
        config(1, true, true),
        Membership::new([1]),
        Recovered::default(),
    );
    r.campaign();
    assert!(r.status().is_leader());
    let rd = r.ready();
    assert_eq!(rd.entries.len(), 1);
    assert_eq!(r.status().commit, 0, "not durable yet");
    r.advance();
    assert_eq!(r.status().commit, 1);
    assert_eq!(r.ready().committed.len(), 1);
    r.advance();

    // Three voters: one follower's ack is not a majority without the leader's own copy.
    let mut l = restored(1, 0, &[]);
    l.campaign();
    l.ready();
    l.advance();
    l.step(
        2,
        Message::VoteResp {
            term: 1,
            granted: true,
        },
    );
    l.ready();
    l.advance();
    let index = l.propose(None, b"x".to_vec()).unwrap();
    l.step(
        2,
        Message::AppendResp {
            term: 1,
            success: true,
            index,
        },
    );
    assert!(
        l.status().commit < index,
        "own entry not durable: no majority"
    );
    let rd = l.ready();
    assert_eq!(rd.entries.last().unwrap().index, index);
    l.advance();
    assert_eq!(l.status().commit, index);
}

#[test]
fn ready_entries_and_truncation_track_what_was_handed_out() {
    let mut f = restored(2, 1, &[]);
    f.step(1, append(1, (0, 0), entries(&[(1, 1), (2, 1), (3, 1)]), 0));
    let rd1 = f.ready();
    assert_eq!(rd1.entries.len(), 3);
    // Before the first Ready is durable, a new leader overwrites 3.
    f.step(4, append(2, (2, 1), entries(&[(3, 2)]), 0));
    f.advance();
    assert_eq!(
        f.status().persisted,
        2,
        "the replaced entry does not count as durable"
    );
    let rd2 = f.ready();
    assert_eq!(rd2.truncate_from, Some(3));
    assert_eq!(rd2.entries, entries(&[(3, 2)]));
    f.advance();
    assert_eq!(f.status().persisted, 3);
}
