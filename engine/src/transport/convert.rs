//! Conversions between the core's types and their wire form. Decoding checks
//! every field a peer could leave out, so a malformed message is an error
//! status for the sender, never a panic in the receiver.

use super::pb;
use crate::raft::{Entry, Membership, Message, Payload, RequestId, SnapshotMeta};

/// A message from the wire that does not describe a valid value.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what}: {why}")]
pub struct DecodeError {
    /// The message or field.
    pub what: &'static str,
    /// What is wrong with it.
    pub why: String,
}

fn missing(what: &'static str) -> DecodeError {
    DecodeError {
        what,
        why: "required field missing".into(),
    }
}

impl From<&Membership> for pb::Membership {
    fn from(m: &Membership) -> Self {
        pb::Membership {
            voters: m.voters.iter().copied().collect(),
        }
    }
}

impl From<pb::Membership> for Membership {
    fn from(m: pb::Membership) -> Self {
        Membership::new(m.voters)
    }
}

impl From<RequestId> for pb::RequestId {
    fn from(r: RequestId) -> Self {
        pb::RequestId {
            client: r.client,
            seq: r.seq,
        }
    }
}

impl From<pb::RequestId> for RequestId {
    fn from(r: pb::RequestId) -> Self {
        RequestId {
            client: r.client,
            seq: r.seq,
        }
    }
}

impl From<&SnapshotMeta> for pb::SnapshotMeta {
    fn from(m: &SnapshotMeta) -> Self {
        pb::SnapshotMeta {
            index: m.index,
            term: m.term,
            membership: Some((&m.membership).into()),
        }
    }
}

impl TryFrom<pb::SnapshotMeta> for SnapshotMeta {
    type Error = DecodeError;
    fn try_from(m: pb::SnapshotMeta) -> Result<Self, DecodeError> {
        Ok(SnapshotMeta {
            index: m.index,
            term: m.term,
            membership: m
                .membership
                .ok_or(missing("SnapshotMeta.membership"))?
                .into(),
        })
    }
}

impl From<&Entry> for pb::Entry {
    fn from(e: &Entry) -> Self {
        use pb::entry::Payload as P;
        let payload = match &e.payload {
            Payload::Noop => P::Noop(pb::Noop {}),
            Payload::Command { request, data } => P::Command(pb::Command {
                request: request.map(Into::into),
                data: data.clone(),
            }),
            Payload::Config(m) => P::Config(m.into()),
        };
        pb::Entry {
            index: e.index,
            term: e.term,
            payload: Some(payload),
        }
    }
}

impl TryFrom<pb::Entry> for Entry {
    type Error = DecodeError;
    fn try_from(e: pb::Entry) -> Result<Self, DecodeError> {
        use pb::entry::Payload as P;
        let payload = match e.payload.ok_or(missing("Entry.payload"))? {
            P::Noop(_) => Payload::Noop,
            P::Command(c) => Payload::Command {
                request: c.request.map(Into::into),
                data: c.data,
            },
            P::Config(m) => Payload::Config(m.into()),
        };
        if e.index == 0 {
            return Err(DecodeError {
                what: "Entry.index",
                why: "index 0 holds no entry".into(),
            });
        }
        Ok(Entry {
            index: e.index,
            term: e.term,
            payload,
        })
    }
}

/// Encodes a message of `shard` for node `to`.
pub fn encode(shard: u64, to: u64, m: &Message) -> pb::RaftMessage {
    use pb::raft_message::Body as B;
    let body = match m {
        Message::PreVote {
            term,
            last_index,
            last_term,
        } => B::PreVote(pb::PreVote {
            term: *term,
            last_index: *last_index,
            last_term: *last_term,
        }),
        Message::PreVoteResp { term, granted } => B::PreVoteResp(pb::VoteResp {
            term: *term,
            granted: *granted,
        }),
        Message::Vote {
            term,
            last_index,
            last_term,
            transfer,
        } => B::Vote(pb::Vote {
            term: *term,
            last_index: *last_index,
            last_term: *last_term,
            transfer: *transfer,
        }),
        Message::VoteResp { term, granted } => B::VoteResp(pb::VoteResp {
            term: *term,
            granted: *granted,
        }),
        Message::Append {
            term,
            prev_index,
            prev_term,
            entries,
            commit,
        } => B::Append(pb::Append {
            term: *term,
            prev_index: *prev_index,
            prev_term: *prev_term,
            entries: entries.iter().map(Into::into).collect(),
            commit: *commit,
        }),
        Message::AppendResp {
            term,
            success,
            index,
        } => B::AppendResp(pb::AppendResp {
            term: *term,
            success: *success,
            index: *index,
        }),
        Message::Heartbeat { term, commit, ctx } => B::Heartbeat(pb::Heartbeat {
            term: *term,
            commit: *commit,
            ctx: *ctx,
        }),
        Message::HeartbeatResp { term, ctx } => B::HeartbeatResp(pb::HeartbeatResp {
            term: *term,
            ctx: *ctx,
        }),
        Message::TimeoutNow { term } => B::TimeoutNow(pb::TimeoutNow { term: *term }),
        Message::InstallSnapshot { term, meta } => B::InstallSnapshot(pb::InstallSnapshot {
            term: *term,
            meta: Some(meta.into()),
        }),
    };
    pb::RaftMessage {
        shard,
        to,
        body: Some(body),
    }
}

/// Decodes a message; returns its shard, its addressee and the message.
pub fn decode(m: pb::RaftMessage) -> Result<(u64, u64, Message), DecodeError> {
    use pb::raft_message::Body as B;
    let msg = match m.body.ok_or(missing("RaftMessage.body"))? {
        B::PreVote(v) => Message::PreVote {
            term: v.term,
            last_index: v.last_index,
            last_term: v.last_term,
        },
        B::PreVoteResp(r) => Message::PreVoteResp {
            term: r.term,
            granted: r.granted,
        },
        B::Vote(v) => Message::Vote {
            term: v.term,
            last_index: v.last_index,
            last_term: v.last_term,
            transfer: v.transfer,
        },
        B::VoteResp(r) => Message::VoteResp {
            term: r.term,
            granted: r.granted,
        },
        B::Append(a) => {
            let entries = a
                .entries
                .into_iter()
                .map(Entry::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Message::Append {
                term: a.term,
                prev_index: a.prev_index,
                prev_term: a.prev_term,
                entries,
                commit: a.commit,
            }
        }
        B::AppendResp(r) => Message::AppendResp {
            term: r.term,
            success: r.success,
            index: r.index,
        },
        B::Heartbeat(h) => Message::Heartbeat {
            term: h.term,
            commit: h.commit,
            ctx: h.ctx,
        },
        B::HeartbeatResp(h) => Message::HeartbeatResp {
            term: h.term,
            ctx: h.ctx,
        },
        B::TimeoutNow(t) => Message::TimeoutNow { term: t.term },
        B::InstallSnapshot(s) => Message::InstallSnapshot {
            term: s.term,
            meta: s.meta.ok_or(missing("InstallSnapshot.meta"))?.try_into()?,
        },
    };
    msg.check().map_err(|why| DecodeError {
        what: msg.kind(),
        why,
    })?;
    Ok((m.shard, m.to, msg))
}
