//! Writes the seed inputs of the engine's fuzz targets into `seeds/` (or the
//! folder given as the argument):
//! `cargo run --manifest-path engine/fuzz/Cargo.toml --example make_seeds`.
//!
//! `rpc_step` seeds are a setup byte and length-delimited `Batch`es (see the
//! target's doc for what the setup byte and each message's `shard` field
//! select);
//! `storage_codec` seeds are records as the store writes them.

use prost::Message as _;
use std::fs;
use std::path::{Path, PathBuf};
use tumult_engine::raft::{
    Entry, HardState, Membership, Message, Payload, RequestId, SnapshotMeta,
};
use tumult_engine::storage::codec;
use tumult_engine::transport::{encode, pb};

/// Handle the Ready after the step.
const READY: u64 = 8;
/// Complete a pending snapshot fetch after the step.
const INSTALL: u64 = 64 << 4;

/// A seed's name, setup byte, and batches: each a sender and its messages
/// with their `shard` fields.
type Seed = (&'static str, u8, Vec<(u64, Vec<(u64, Message)>)>);

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"),
        PathBuf::from,
    );
    let three = Membership::new([1, 2, 3]);
    let cmd = |index, term| Entry {
        index,
        term,
        payload: Payload::Command {
            request: Some(RequestId { client: 9, seq: 1 }),
            data: b"put k 1".to_vec(),
        },
    };
    let append = |term, prev_index, prev_term, entries, commit| Message::Append {
        term,
        prev_index,
        prev_term,
        entries,
        commit,
    };
    let ack = |term, success, index| Message::AppendResp {
        term,
        success,
        index,
    };
    let vote_resp = |term, granted| Message::VoteResp { term, granted };
    let rpc: Vec<Seed> = vec![
        (
            "follower-append",
            0,
            vec![(
                2,
                vec![(READY, append(2, 5, 2, vec![cmd(6, 2), cmd(7, 2)], 6))],
            )],
        ),
        (
            "follower-conflict",
            0,
            vec![(3, vec![(READY, append(3, 3, 2, vec![cmd(4, 3)], 4))])],
        ),
        (
            "follower-heartbeat-vote",
            0,
            vec![
                (
                    2,
                    vec![(
                        2,
                        Message::Heartbeat {
                            term: 2,
                            commit: 5,
                            ctx: 1,
                        },
                    )],
                ),
                (
                    3,
                    vec![
                        (
                            7 | READY,
                            Message::Vote {
                                term: 3,
                                last_index: 9,
                                last_term: 2,
                                transfer: false,
                            },
                        ),
                        (0, Message::TimeoutNow { term: 3 }),
                    ],
                ),
            ],
        ),
        (
            "leader-acks",
            1,
            vec![
                (
                    3,
                    vec![
                        (READY, ack(3, false, 2)),
                        (READY | (1 << 4), ack(3, true, 6)),
                        (READY | (2 << 4), Message::HeartbeatResp { term: 3, ctx: 0 }),
                    ],
                ),
                (
                    2,
                    vec![
                        (READY, ack(3, true, 7)),
                        (READY, Message::HeartbeatResp { term: 3, ctx: 0 }),
                    ],
                ),
            ],
        ),
        (
            "leader-higher-term",
            1,
            vec![(2, vec![(READY, ack(9, false, 0))])],
        ),
        (
            "compacted-leader-snapshot-ack",
            2,
            vec![(3, vec![(READY, ack(3, true, 4))])],
        ),
        (
            "restarted-install-snapshot",
            3,
            vec![(
                2,
                vec![(
                    READY | INSTALL,
                    Message::InstallSnapshot {
                        term: 5,
                        meta: SnapshotMeta {
                            index: 9,
                            term: 5,
                            membership: three.clone(),
                        },
                    },
                )],
            )],
        ),
        (
            "candidate-wins",
            4,
            vec![
                (3, vec![(READY, vote_resp(3, false))]),
                (2, vec![(READY, vote_resp(3, true))]),
            ],
        ),
        (
            "precandidate-prevotes",
            5,
            vec![
                (
                    3,
                    vec![(
                        READY,
                        Message::PreVoteResp {
                            term: 3,
                            granted: true,
                        },
                    )],
                ),
                (
                    2,
                    vec![(
                        READY,
                        Message::PreVote {
                            term: 4,
                            last_index: 3,
                            last_term: 2,
                        },
                    )],
                ),
            ],
        ),
        (
            "spare-added",
            6,
            vec![(
                2,
                vec![(
                    READY,
                    append(
                        1,
                        0,
                        0,
                        vec![Entry {
                            index: 1,
                            term: 1,
                            payload: Payload::Config(Membership::new([1, 2])),
                        }],
                        1,
                    ),
                )],
            )],
        ),
        (
            "single-voter-leader",
            7,
            vec![(
                4,
                vec![(
                    READY,
                    Message::Heartbeat {
                        term: 5,
                        commit: 2,
                        ctx: 0,
                    },
                )],
            )],
        ),
    ];
    let out = dir.join("rpc_step");
    fs::create_dir_all(&out).unwrap();
    for (name, setup, batches) in rpc {
        let mut bytes = vec![setup];
        for (from, msgs) in batches {
            let batch = pb::Batch {
                from,
                messages: msgs.iter().map(|(ctl, m)| encode(*ctl, 1, m)).collect(),
                ..Default::default()
            };
            bytes.extend(batch.encode_length_delimited_to_vec());
        }
        fs::write(out.join(name), bytes).unwrap();
    }

    let out = dir.join("storage_codec");
    fs::create_dir_all(&out).unwrap();
    let records: Vec<(&str, Vec<u8>)> = vec![
        (
            "entry-noop",
            codec::encode_entry(&Entry {
                index: 1,
                term: 1,
                payload: Payload::Noop,
            }),
        ),
        ("entry-command", codec::encode_entry(&cmd(300, 7))),
        (
            "entry-config",
            codec::encode_entry(&Entry {
                index: 9,
                term: 4,
                payload: Payload::Config(Membership::new([1, 2, 3, 200])),
            }),
        ),
        (
            "hard-state",
            codec::encode_hard_state(&HardState {
                term: 9,
                vote: Some(3),
            }),
        ),
        (
            "snapshot-meta",
            codec::encode_snapshot_meta(&SnapshotMeta {
                index: 77,
                term: 5,
                membership: three,
            }),
        ),
    ];
    for (name, bytes) in records {
        fs::write(out.join(name), bytes).unwrap();
    }
}
