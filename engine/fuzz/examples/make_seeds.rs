//! Writes the seed inputs of the engine's fuzz targets into `seeds/` (or the
//! folder given as the argument):
//! `cargo run --manifest-path engine/fuzz/Cargo.toml --example make_seeds`.
//!
//! `rpc_step` seeds are a setup byte and an encoded `Batch` (see the target's
//! doc for what the setup byte and each message's `shard` field select);
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
    let rpc: Vec<(&str, u8, u64, Vec<(u64, Message)>)> = vec![
        (
            "follower-append",
            0,
            2,
            vec![(
                READY,
                Message::Append {
                    term: 2,
                    prev_index: 5,
                    prev_term: 2,
                    entries: vec![cmd(6, 2), cmd(7, 2)],
                    commit: 6,
                },
            )],
        ),
        (
            "follower-conflict",
            0,
            3,
            vec![(
                READY,
                Message::Append {
                    term: 3,
                    prev_index: 3,
                    prev_term: 2,
                    entries: vec![cmd(4, 3)],
                    commit: 4,
                },
            )],
        ),
        (
            "follower-heartbeat-vote",
            0,
            3,
            vec![
                (
                    2,
                    Message::Heartbeat {
                        term: 2,
                        commit: 5,
                        ctx: 1,
                    },
                ),
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
        (
            "leader-acks",
            1,
            3,
            vec![
                (
                    READY,
                    Message::AppendResp {
                        term: 3,
                        success: false,
                        index: 2,
                    },
                ),
                (
                    READY | (1 << 4),
                    Message::AppendResp {
                        term: 3,
                        success: true,
                        index: 6,
                    },
                ),
                (READY | (2 << 4), Message::HeartbeatResp { term: 3, ctx: 0 }),
            ],
        ),
        (
            "leader-higher-term",
            1,
            2,
            vec![(
                READY,
                Message::AppendResp {
                    term: 9,
                    success: false,
                    index: 0,
                },
            )],
        ),
        (
            "compacted-leader-snapshot-ack",
            2,
            3,
            vec![(
                READY,
                Message::AppendResp {
                    term: 3,
                    success: true,
                    index: 4,
                },
            )],
        ),
        (
            "restarted-install-snapshot",
            3,
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
        ),
        (
            "candidate-wins",
            4,
            2,
            vec![(
                READY,
                Message::VoteResp {
                    term: 3,
                    granted: true,
                },
            )],
        ),
        (
            "precandidate-prevotes",
            5,
            3,
            vec![
                (
                    READY,
                    Message::PreVoteResp {
                        term: 3,
                        granted: true,
                    },
                ),
                (
                    READY,
                    Message::PreVote {
                        term: 4,
                        last_index: 3,
                        last_term: 2,
                    },
                ),
            ],
        ),
        (
            "spare-added",
            6,
            2,
            vec![(
                READY,
                Message::Append {
                    term: 1,
                    prev_index: 0,
                    prev_term: 0,
                    entries: vec![Entry {
                        index: 1,
                        term: 1,
                        payload: Payload::Config(Membership::new([1, 2])),
                    }],
                    commit: 1,
                },
            )],
        ),
        (
            "single-voter-leader",
            7,
            4,
            vec![(
                READY,
                Message::Heartbeat {
                    term: 5,
                    commit: 2,
                    ctx: 0,
                },
            )],
        ),
    ];
    let out = dir.join("rpc_step");
    fs::create_dir_all(&out).unwrap();
    for (name, setup, from, msgs) in rpc {
        let batch = pb::Batch {
            from,
            messages: msgs.iter().map(|(ctl, m)| encode(*ctl, 1, m)).collect(),
        };
        let mut bytes = vec![setup];
        bytes.extend(batch.encode_to_vec());
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
