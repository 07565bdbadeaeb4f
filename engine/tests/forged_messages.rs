//! One forged but well-formed message must never stop a node. Each case
//! reads the cluster's state through the unauthenticated `Status` RPC (as an
//! attacker can), sends the forged message over real gRPC in a `Deliver`
//! batch that claims to come from a configured peer, and then checks that
//! the target refused and counted it, that no node stopped, and that the
//! cluster still elects a new leader (the old one is crashed) and commits.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tumult_engine::raft::MAX_CLAIM;
use tumult_engine::transport::pb::{self, raft_message::Body, tumult_client::TumultClient};
use tumult_engine::transport::{channel, LinkConfig, Network, TurmoilNetwork};

/// What the forger learned about shard 0 before forging.
#[derive(Clone, Debug)]
struct View {
    leader: u64,
    term: u64,
    /// The leader's last index and commit index.
    last: u64,
    commit: u64,
    /// A follower, and the other one.
    follower: u64,
    other: u64,
}

/// A forged message: who it claims to come from, whom it goes to, the body.
struct Forgery {
    from: u64,
    to: u64,
    body: Body,
}

fn entries(list: &[(u64, u64)]) -> Vec<pb::Entry> {
    list.iter()
        .map(|&(index, term)| pb::Entry {
            index,
            term,
            payload: Some(pb::entry::Payload::Noop(pb::Noop {})),
        })
        .collect()
}

/// Runs one forgery against a 3-node cluster; `expect` is the status the
/// Deliver call must end with (Ok for a message refused by the core, an
/// error code for one refused at decode).
fn forged(seed: u64, forge: impl Fn(&View) -> Forgery + 'static, expect: Option<Code>) {
    let mut sim = sim(seed, Duration::from_secs(120));
    let cluster = Spec::new(3, 1).start(&mut sim);
    cluster
        .fail_on_stop
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let out = task(&mut sim, "forger", async move {
        let mut cl = client(3, 1);
        for k in 0..3 {
            cl.write(0, format!("before-{k}").into_bytes())
                .await
                .expect("write before");
        }
        // Let the commit index reach every follower.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut statuses = Vec::new();
        for n in 1..=3 {
            statuses.push(cl.status(n, 0).await.expect("status"));
        }
        let l = statuses
            .iter()
            .find(|s| s.role == "leader")
            .expect("a leader");
        let followers: Vec<u64> = (1..=3).filter(|&n| n != l.node).collect();
        let view = View {
            leader: l.node,
            term: l.term,
            last: l.last_index,
            commit: l.commit,
            follower: followers[0],
            other: followers[1],
        };
        let f = forge(&view);
        let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
        let mut target = TumultClient::new(channel(&net, &addr(f.to), &LinkConfig::default()));
        let batch = pb::Batch {
            from: f.from,
            cluster: "tumult".into(),
            messages: vec![pb::RaftMessage {
                shard: 0,
                to: f.to,
                body: Some(f.body),
            }],
        };
        let r = target.deliver(futures::stream::iter(vec![batch])).await;
        let code = r.err().map(|s| s.code());
        // The target still answers and the shard still commits.
        tokio::time::sleep(Duration::from_millis(500)).await;
        cl.status(f.to, 0).await.expect("the target still answers");
        cl.write(0, b"after".to_vec()).await.expect("write after");
        (view, f.from, f.to, code)
    });
    assert!(
        run_for(&mut sim, Duration::from_secs(60), |_| finished(&out)),
        "the forger finished"
    );
    let (view, from, to, code) = take(&out);
    assert_eq!(code, expect, "Deliver's status");
    let refused = cluster.node(to).expect("target running").metrics().peers[&from].messages_refused;
    assert_eq!(
        refused, 1,
        "n{to} refused and counted the forged message from n{from}"
    );
    // Elections still work: without the old leader the other two elect one
    // and commit.
    sim.crash(format!("n{}", view.leader));
    let after = task(&mut sim, "writer", async move {
        let mut cl = client(3, 2);
        cl.write(0, b"without the old leader".to_vec()).await
    });
    assert!(
        run_for(&mut sim, Duration::from_secs(30), |_| finished(&after)),
        "a write without the old leader finished"
    );
    take(&after).expect("a new leader committed");
    let (leader, term) = cluster.trace.leader(0).expect("a leader");
    assert_ne!(leader, view.leader);
    assert!(term > view.term && term < 1000, "new leader's term {term}");
    for n in 1..=3 {
        assert!(
            cluster.stopped(n).is_none(),
            "n{n} stopped: {:?}",
            cluster.stopped(n)
        );
    }
}

#[test]
fn ack_beyond_the_leaders_log_is_refused() {
    forged(
        101,
        |v| Forgery {
            from: v.follower,
            to: v.leader,
            body: Body::AppendResp(pb::AppendResp {
                term: v.term,
                success: true,
                index: v.last + 1000,
            }),
        },
        None,
    );
}

/// A heartbeat of the current term, as if `from` led it.
fn heartbeat(v: &View, from: u64, to: u64) -> Forgery {
    Forgery {
        from,
        to,
        body: Body::Heartbeat(pb::Heartbeat {
            term: v.term,
            commit: v.commit,
            ctx: 0,
        }),
    }
}

#[test]
fn heartbeat_from_a_non_leader_to_the_leader_is_refused() {
    forged(102, |v| heartbeat(v, v.follower, v.leader), None);
}

#[test]
fn heartbeat_from_a_non_leader_to_a_follower_is_refused() {
    forged(103, |v| heartbeat(v, v.other, v.follower), None);
}

#[test]
fn append_from_a_non_leader_in_the_current_term_is_refused() {
    forged(
        104,
        |v| Forgery {
            from: v.other,
            to: v.follower,
            body: Body::Append(pb::Append {
                term: v.term,
                prev_index: v.last,
                prev_term: v.term,
                entries: entries(&[(v.last + 1, v.term)]),
                commit: v.commit,
            }),
        },
        None,
    );
}

#[test]
fn install_snapshot_from_a_non_leader_in_the_current_term_is_refused() {
    forged(
        105,
        |v| Forgery {
            from: v.follower,
            to: v.leader,
            body: Body::InstallSnapshot(pb::InstallSnapshot {
                term: v.term,
                meta: Some(pb::SnapshotMeta {
                    index: v.last + 50,
                    term: v.term,
                    membership: Some(pb::Membership {
                        voters: vec![1, 2, 3],
                    }),
                }),
            }),
        },
        None,
    );
}

#[test]
fn timeout_now_with_the_largest_term_is_refused_at_decode() {
    forged(
        106,
        |v| Forgery {
            from: v.leader,
            to: v.follower,
            body: Body::TimeoutNow(pb::TimeoutNow { term: u64::MAX }),
        },
        Some(Code::InvalidArgument),
    );
}

#[test]
fn append_with_the_largest_term_is_refused_at_decode() {
    forged(
        107,
        |v| Forgery {
            from: v.leader,
            to: v.follower,
            body: Body::Append(pb::Append {
                term: u64::MAX,
                prev_index: 0,
                prev_term: 0,
                entries: Vec::new(),
                commit: 0,
            }),
        },
        Some(Code::InvalidArgument),
    );
}

#[test]
fn heartbeat_with_a_term_past_the_largest_claim_is_refused_at_decode() {
    forged(
        108,
        |v| Forgery {
            from: v.leader,
            to: v.follower,
            body: Body::Heartbeat(pb::Heartbeat {
                term: MAX_CLAIM + 1,
                commit: 0,
                ctx: 0,
            }),
        },
        Some(Code::InvalidArgument),
    );
}

#[test]
fn append_with_prev_index_0_and_a_nonzero_prev_term_is_refused_at_decode() {
    forged(
        109,
        |v| Forgery {
            from: v.leader,
            to: v.follower,
            body: Body::Append(pb::Append {
                term: v.term,
                prev_index: 0,
                prev_term: 1,
                entries: Vec::new(),
                commit: 0,
            }),
        },
        Some(Code::InvalidArgument),
    );
}

#[test]
fn append_rewriting_committed_entries_is_refused() {
    forged(
        110,
        |v| {
            // Entry 1 (the first leader's no-op, committed) given a later term.
            assert!(v.commit >= 1);
            Forgery {
                from: v.leader,
                to: v.follower,
                body: Body::Append(pb::Append {
                    term: v.term + 1,
                    prev_index: 0,
                    prev_term: 0,
                    entries: entries(&[(1, v.term + 1)]),
                    commit: 0,
                }),
            }
        },
        None,
    );
}

#[test]
fn snapshot_newer_than_its_term_is_refused_at_decode() {
    forged(
        111,
        |v| Forgery {
            from: v.leader,
            to: v.follower,
            body: Body::InstallSnapshot(pb::InstallSnapshot {
                term: v.term,
                meta: Some(pb::SnapshotMeta {
                    index: 10,
                    term: v.term + 5,
                    membership: Some(pb::Membership {
                        voters: vec![1, 2, 3],
                    }),
                }),
            }),
        },
        Some(Code::InvalidArgument),
    );
}
