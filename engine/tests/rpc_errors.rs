//! A malformed or unknown RPC gets a gRPC error status, never a panic, and
//! the node keeps working afterwards. `Deliver` is a client-streaming call:
//! each case sends a stream (of one batch, unless it says otherwise) and
//! closes it.

mod common;

use bytes::{Buf, BufMut};
use common::*;
use std::sync::Arc;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tumult_engine::transport::pb::{self, tumult_client::TumultClient};
use tumult_engine::transport::{channel, LinkConfig, Network, TurmoilNetwork};

/// Sends and receives message bodies as raw bytes, bypassing protobuf.
#[derive(Default)]
struct RawCodec;
struct Raw;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

async fn raw_call(ch: Channel, method: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("not ready: {e}")))?;
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(method),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A client-streaming call of `method` whose stream carries `bodies`, raw.
async fn raw_stream(
    ch: Channel,
    method: &'static str,
    bodies: Vec<Vec<u8>>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("not ready: {e}")))?;
    grpc.client_streaming(
        tonic::Request::new(futures::stream::iter(bodies)),
        PathAndQuery::from_static(method),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A `Deliver` stream that carries `batches` and then closes.
fn stream(batches: Vec<pb::Batch>) -> impl futures::Stream<Item = pb::Batch> + Send + 'static {
    futures::stream::iter(batches)
}

fn heartbeat(shard: u64, to: u64) -> pb::RaftMessage {
    pb::RaftMessage {
        shard,
        to,
        body: Some(pb::raft_message::Body::Heartbeat(pb::Heartbeat {
            term: 0,
            commit: 0,
            ctx: 0,
        })),
    }
}

fn append(shard: u64, term: u64, prev_index: u64, entries: Vec<(u64, u64)>) -> pb::RaftMessage {
    pb::RaftMessage {
        shard,
        to: 1,
        body: Some(pb::raft_message::Body::Append(pb::Append {
            term,
            prev_index,
            prev_term: 0,
            entries: entries
                .into_iter()
                .map(|(index, term)| pb::Entry {
                    index,
                    term,
                    payload: Some(pb::entry::Payload::Noop(pb::Noop {})),
                })
                .collect(),
            commit: 0,
        })),
    }
}

fn code<T>(r: Result<T, Status>) -> Option<Code> {
    r.err().map(|s| s.code())
}

#[test]
fn malformed_and_unknown_rpcs_get_error_statuses_and_the_node_keeps_working() {
    let mut sim = sim(21, Duration::from_secs(120));
    let cluster = Spec::new(3, 2).start(&mut sim);
    let out = task(&mut sim, "probe", async move {
        let mut cl = client(3, 1);
        let first = cl.write(0, b"before".to_vec()).await;
        let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
        let ch = channel(&net, &addr(1), &LinkConfig::default());
        let mut n1 = TumultClient::new(ch.clone());
        let batch = |from: u64, messages: Vec<pb::RaftMessage>| pb::Batch {
            from,
            messages,
            cluster: "tumult".into(),
        };
        let one = |from: u64, messages: Vec<pb::RaftMessage>| stream(vec![batch(from, messages)]);
        let mut got: Vec<(&str, Option<Code>, Code)> = Vec::new();

        // Bodies that are not protobuf at all.
        for (what, body) in [
            ("garbage Deliver body", vec![0xff; 16]),
            ("truncated length prefix", vec![0x12, 0x80]),
            ("field of a length beyond the body", vec![0x12, 0x7f, 0x01]),
        ] {
            let r = raw_stream(ch.clone(), "/tumult.v1.Tumult/Deliver", vec![body]).await;
            got.push((what, code(r), Code::Internal));
        }
        let r = raw_call(ch.clone(), "/tumult.v1.Tumult/Write", vec![0xff; 9]).await;
        got.push(("garbage Write body", code(r), Code::Internal));
        let r = raw_call(ch.clone(), "/tumult.v1.Tumult/NoSuchMethod", vec![]).await;
        got.push(("unknown method", code(r), Code::Unimplemented));
        let r = raw_call(ch.clone(), "/no.such.Service/Deliver", vec![]).await;
        got.push(("unknown service", code(r), Code::Unimplemented));

        // Well-formed protobuf that does not describe a valid message.
        let no_body = pb::RaftMessage {
            shard: 0,
            to: 1,
            body: None,
        };
        let r = n1.deliver(one(2, vec![no_body])).await;
        got.push(("message with no body", code(r), Code::InvalidArgument));
        let r = n1.deliver(one(2, vec![heartbeat(99, 1)])).await;
        got.push(("message for an unknown shard", code(r), Code::NotFound));
        let r = n1.deliver(one(2, vec![heartbeat(0, 3)])).await;
        got.push(("message for another node", code(r), Code::InvalidArgument));
        let r = n1.deliver(one(9, vec![heartbeat(0, 1)])).await;
        got.push(("unknown sender", code(r), Code::PermissionDenied));
        let r = n1.deliver(one(1, vec![heartbeat(0, 1)])).await;
        got.push((
            "sender claims to be the receiver",
            code(r),
            Code::PermissionDenied,
        ));
        let r = n1
            .deliver(one(2, vec![append(0, 1, 0, vec![(1, 1), (3, 1)])]))
            .await;
        got.push(("non-contiguous entries", code(r), Code::InvalidArgument));
        let r = n1
            .deliver(one(2, vec![append(0, 1, 0, vec![(1, 5)])]))
            .await;
        got.push((
            "entry newer than its leader",
            code(r),
            Code::InvalidArgument,
        ));
        let r = n1
            .deliver(one(2, vec![append(0, 3, 0, vec![(1, 3), (2, 2)])]))
            .await;
        got.push(("entry terms decreasing", code(r), Code::InvalidArgument));
        let r = n1
            .deliver(one(2, vec![append(0, 1, 0, vec![(0, 1)])]))
            .await;
        got.push(("entry at index 0", code(r), Code::InvalidArgument));
        let mut no_payload = append(0, 1, 0, vec![(1, 1)]);
        if let Some(pb::raft_message::Body::Append(a)) = &mut no_payload.body {
            a.entries[0].payload = None;
        }
        let r = n1.deliver(one(2, vec![no_payload])).await;
        got.push(("entry with no payload", code(r), Code::InvalidArgument));
        let no_meta = pb::RaftMessage {
            shard: 0,
            to: 1,
            body: Some(pb::raft_message::Body::InstallSnapshot(
                pb::InstallSnapshot {
                    term: 1,
                    meta: None,
                },
            )),
        };
        let r = n1.deliver(one(2, vec![no_meta])).await;
        got.push((
            "install-snapshot without meta",
            code(r),
            Code::InvalidArgument,
        ));

        // Streams of several batches: a bad batch ends the stream whatever
        // came before it; unknown shards are reported when the stream ends.
        let good = || batch(2, vec![heartbeat(0, 1)]);
        let no_body = pb::RaftMessage {
            shard: 0,
            to: 1,
            body: None,
        };
        let r = n1
            .deliver(stream(vec![good(), good(), batch(2, vec![no_body])]))
            .await;
        got.push((
            "malformed batch after good ones",
            code(r),
            Code::InvalidArgument,
        ));
        let r = n1
            .deliver(stream(vec![good(), batch(9, vec![heartbeat(0, 1)])]))
            .await;
        got.push((
            "unknown sender after a good batch",
            code(r),
            Code::PermissionDenied,
        ));
        let r = raw_stream(
            ch.clone(),
            "/tumult.v1.Tumult/Deliver",
            vec![prost::Message::encode_to_vec(&good()), vec![0xff; 16]],
        )
        .await;
        got.push(("garbage body after a good batch", code(r), Code::Internal));
        let r = n1
            .deliver(stream(vec![
                good(),
                batch(2, vec![heartbeat(99, 1)]),
                good(),
            ]))
            .await;
        got.push(("unknown shard amid good batches", code(r), Code::NotFound));
        // A stream of good batches that its sender closes is acknowledged.
        let clean = n1.deliver(stream(vec![good(), good(), good()])).await;

        // Client calls naming what does not exist.
        let r = n1
            .write(pb::WriteRequest {
                shard: 99,
                request: None,
                data: b"x".to_vec(),
            })
            .await;
        got.push(("write for an unknown shard", code(r), Code::NotFound));
        let r = n1
            .read(pb::ReadRequest {
                shard: 99,
                query: vec![],
                mode: 0,
            })
            .await;
        got.push(("read of an unknown shard", code(r), Code::NotFound));
        let r = n1
            .read(pb::ReadRequest {
                shard: 0,
                query: vec![],
                mode: 7,
            })
            .await;
        got.push(("unknown read mode", code(r), Code::InvalidArgument));
        let r = n1
            .change_membership(pb::MembershipRequest {
                shard: 0,
                node: 9,
                add: true,
            })
            .await;
        got.push((
            "membership change naming an unknown node",
            code(r),
            Code::InvalidArgument,
        ));
        let r = n1
            .transfer_leader(pb::TransferRequest { shard: 99, to: 2 })
            .await;
        got.push(("transfer in an unknown shard", code(r), Code::NotFound));
        let r = n1.status(pb::StatusRequest { shard: 99 }).await;
        got.push(("status of an unknown shard", code(r), Code::NotFound));
        let r = n1
            .fetch_snapshot(pb::SnapshotRequest {
                shard: 99,
                index: 1,
            })
            .await;
        got.push(("snapshot of an unknown shard", code(r), Code::NotFound));
        let r = n1
            .fetch_snapshot(pb::SnapshotRequest { shard: 1, index: 1 })
            .await;
        got.push(("snapshot where none was taken", code(r), Code::NotFound));

        // The node still works.
        let after = cl.write(0, b"after".to_vec()).await;
        let other_shard = cl.write(1, b"other".to_vec()).await;
        (first, got, clean.map(|_| ()), after, other_shard)
    });
    assert!(run_for(&mut sim, Duration::from_secs(60), |_| finished(
        &out
    )));
    let (first, got, clean, after, other_shard) = take(&out);
    assert!(first.is_ok(), "the first write succeeded: {first:?}");
    for (what, code, want) in &got {
        assert_eq!(*code, Some(*want), "{what}: expected status {want:?}");
    }
    assert!(clean.is_ok(), "a closed stream of good batches: {clean:?}");
    assert!(after.is_ok(), "a later write succeeds: {after:?}");
    assert!(
        other_shard.is_ok(),
        "the other shard works: {other_shard:?}"
    );
    assert!(run_for(&mut sim, Duration::from_secs(10), |_| {
        (1..=3).all(|i| cluster.state(i, 0) == vec![b"before".to_vec(), b"after".to_vec()])
    }));
    for i in 1..=3 {
        assert!(
            cluster.stopped(i).is_none(),
            "n{i} stopped: {:?}",
            cluster.stopped(i)
        );
    }
}

#[test]
fn a_message_for_an_unknown_shard_does_not_cost_the_rest_of_its_batch() {
    // A shard created on the sender before the receiver (or removed on the
    // receiver) must not make every other shard's messages in the same
    // batch disappear.
    let mut sim = sim(22, Duration::from_secs(60));
    let cluster = Spec::new(3, 2).start(&mut sim);
    let warm = task(&mut sim, "warm", async move {
        let mut cl = client(3, 1);
        cl.write(1, b"x".to_vec()).await
    });
    assert!(run_for(&mut sim, Duration::from_secs(20), |_| finished(
        &warm
    )));
    take(&warm).expect("shard 1 works");
    let sent = sim.elapsed();
    let out = task(&mut sim, "mixed", async move {
        let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
        let mut n1 = TumultClient::new(channel(&net, &addr(1), &LinkConfig::default()));
        // TimeoutNow in a far-ahead term: n1 campaigns in shard 1 at once,
        // which shows in its trace.
        let timeout_now = pb::RaftMessage {
            shard: 1,
            to: 1,
            body: Some(pb::raft_message::Body::TimeoutNow(pb::TimeoutNow {
                term: 50,
            })),
        };
        n1.deliver(stream(vec![pb::Batch {
            from: 2,
            cluster: "tumult".into(),
            messages: vec![heartbeat(99, 1), timeout_now],
        }]))
        .await
    });
    assert!(run_for(&mut sim, Duration::from_secs(5), |_| finished(
        &out
    )));
    let status = take(&out).expect_err("the unknown shard is reported");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains("99"), "{}", status.message());
    assert!(
        run_for(&mut sim, Duration::from_secs(2), |_| cluster
            .trace
            .of(1, 1, sent)
            .iter()
            .any(|e| matches!(
                e,
                tumult_engine::trace::TraceEvent::BecomeCandidate { term: 51 }
            ))),
        "the shard-1 message of the same batch was delivered"
    );
}
