//! How fast the simulator runs the engine, against turmoil's own floor.
//!
//! `cargo bench -p tumult-harness --bench sim_speed [-- SECONDS]` runs, in one
//! process and one after the other:
//!
//! 1. **turmoil floor** (the baseline): a turmoil world with the builder
//!    settings and host count of the 5-node scenario below (5 nodes, 5
//!    clients, the nemesis), where every host only sleeps on a 50 ms timer.
//!    No sockets, no disk, no engine: what stepping that many hosts a
//!    simulated millisecond at a time costs by itself. No scenario with that
//!    many hosts can run faster than this.
//! 2. **gRPC floor**: the same hosts, where 200 writes per second cost only
//!    the gRPC traffic any replicated write needs (see [`grpc_floor`]). No
//!    engine, no disk: what the transport costs by itself.
//! 3. **idle cluster**: the 5-node, 4-shard cluster with 5 clients at one
//!    operation per second (heartbeats, timers, the clients' connections).
//! 4. **200 ops/s**: the same cluster under 200 client operations per
//!    second, the issue's speed scenario.
//!
//! For each it prints simulated seconds per wall second (x real time) and
//! the ratio to the floor; for the tumult runs, also client operations per
//! wall second and the seconds the checkers took (included in the wall
//! time). The whole run is timed, as `tumult run` reports it.

use std::time::{Duration, Instant, SystemTime};
use tumult_harness::run::{run_seed, CheckName, RunOptions};
use tumult_harness::scenario::parse_str;

/// The allocator of the `tumult` binary, so the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scenario(rate: u32, seconds: u64) -> String {
    format!(
        r#"name = "speed-5x4-{rate}"
[cluster]
nodes = 5
shards = 4
[workload]
clients = 5
keys = 8
rate = {rate}
duration = "{seconds}s"
[run]
seeds = "1"
"#
    )
}

/// A turmoil world with the builder settings of a tumult run.
fn world<'a>(sim: Duration, latency: (Duration, Duration)) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(1)
        .simulation_duration(sim + Duration::from_secs(5))
        .min_message_latency(latency.0)
        .max_message_latency(latency.1)
        .build()
}

/// A host that only sleeps on a 50 ms timer.
async fn idle() -> turmoil::Result {
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Steps `world` until `sim` has passed; sim seconds per wall second.
fn step_for(world: &mut turmoil::Sim<'_>, sim: Duration) -> f64 {
    let t = Instant::now();
    while world.elapsed() < sim {
        world.step().expect("the bench's world steps");
    }
    sim.as_secs_f64() / t.elapsed().as_secs_f64()
}

/// Sim seconds per wall second of an idle turmoil world with `hosts` hosts.
fn floor(hosts: usize, sim: Duration, latency: (Duration, Duration)) -> f64 {
    let mut world = world(sim, latency);
    for h in 0..hosts {
        world.host(format!("h{h}"), idle);
    }
    step_for(&mut world, sim)
}

/// The gRPC floor: the same world (5 node hosts, 5 client hosts, one idle
/// nemesis host), where each client write costs only the gRPC traffic that
/// any replicated write over this transport needs: the client's unary call to
/// the leader, one `Deliver` message from the leader to each of the 4
/// followers, and one message back from each follower (the leader replies
/// after 2 answers, a majority with itself). As in the engine, `Deliver`
/// messages travel on long-lived client-streaming calls, one per direction
/// and pair (leader to each follower, each follower to the leader), opened
/// at the first message and kept open; each write's messages go out at once,
/// not coalesced with other writes'. No engine, no disk, no history: what 200
/// writes per second cost in turmoil over tonic and HTTP/2 alone, with the
/// engine's own transport (`channel`, `stream_channel`, `serve`,
/// `TurmoilNetwork`).
mod grpc_floor {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::{mpsc, oneshot};
    use tonic::{Request, Response, Status};
    use tumult_engine::transport::pb::{self, tumult_client::TumultClient, tumult_server};
    use tumult_engine::transport::{
        channel, serve, stream_channel, LinkConfig, Network, ServerLimits, TurmoilNetwork,
    };

    /// Writes waiting for answers: write id -> (answers so far, the reply).
    type Waiting = Arc<Mutex<BTreeMap<u64, (usize, Option<oneshot::Sender<()>>)>>>;

    struct Floor {
        /// On the leader: the stream to each follower.
        followers: Vec<mpsc::UnboundedSender<pb::Batch>>,
        /// On a follower: the stream to the leader.
        leader: Option<mpsc::UnboundedSender<pb::Batch>>,
        waiting: Waiting,
        next_id: AtomicU64,
    }

    /// A link: one `Deliver` stream to `addr`, opened at the first message.
    fn link(net: &Arc<dyn Network>, addr: String) -> mpsc::UnboundedSender<pb::Batch> {
        let (tx, mut rx) = mpsc::unbounded_channel::<pb::Batch>();
        let mut client = TumultClient::new(stream_channel(net, &addr, &LinkConfig::default()));
        net.spawn(Box::pin(async move {
            let Some(first) = rx.recv().await else { return };
            let rest = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|batch| (batch, rx))
            });
            let stream = futures::StreamExt::chain(futures::stream::once(async { first }), rest);
            if let Err(status) = client.deliver(stream).await {
                panic!("the floor's stream to {addr} failed: {status}");
            }
        }));
        tx
    }

    fn message(shard: u64, body: pb::raft_message::Body) -> pb::Batch {
        pb::Batch {
            from: 0,
            cluster: String::new(),
            messages: vec![pb::RaftMessage {
                shard,
                to: 0,
                body: Some(body),
            }],
        }
    }

    type Chunks = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<pb::SnapshotChunk, Status>> + Send + 'static>,
    >;

    fn unused<T>() -> Result<Response<T>, Status> {
        Err(Status::unimplemented("not part of the floor"))
    }

    #[tonic::async_trait]
    impl tumult_server::Tumult for Floor {
        async fn deliver(
            &self,
            request: Request<tonic::Streaming<pb::Batch>>,
        ) -> Result<Response<pb::DeliverAck>, Status> {
            use pb::raft_message::Body;
            let mut stream = request.into_inner();
            while let Some(batch) = stream.message().await? {
                for m in batch.messages {
                    match m.body {
                        // A follower answers each message of the leader.
                        Some(Body::Heartbeat(h)) => {
                            let leader = self.leader.as_ref().expect("only followers get these");
                            let answer = Body::HeartbeatResp(pb::HeartbeatResp {
                                term: h.term,
                                ctx: h.ctx,
                            });
                            let _ = leader.send(message(m.shard, answer));
                        }
                        // The leader counts answers; at 2 the write is done.
                        Some(Body::HeartbeatResp(r)) => {
                            let mut waiting = self.waiting.lock().expect("waiting lock");
                            let done = waiting.get_mut(&r.ctx).map(|(answers, reply)| {
                                *answers += 1;
                                if *answers == 2 {
                                    if let Some(reply) = reply.take() {
                                        let _ = reply.send(());
                                    }
                                }
                                *answers == 4
                            });
                            if done == Some(true) {
                                waiting.remove(&r.ctx);
                            }
                        }
                        _ => return Err(Status::invalid_argument("not part of the floor")),
                    }
                }
            }
            Ok(Response::new(pb::DeliverAck {}))
        }
        type FetchSnapshotStream = Chunks;
        async fn fetch_snapshot(
            &self,
            _: Request<pb::SnapshotRequest>,
        ) -> Result<Response<Chunks>, Status> {
            unused()
        }
        async fn write(
            &self,
            request: Request<pb::WriteRequest>,
        ) -> Result<Response<pb::ClientResponse>, Status> {
            let w = request.into_inner();
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (reply, replied) = oneshot::channel();
            self.waiting
                .lock()
                .expect("waiting lock")
                .insert(id, (0, Some(reply)));
            for f in &self.followers {
                let append = pb::raft_message::Body::Heartbeat(pb::Heartbeat {
                    term: 1,
                    commit: 0,
                    ctx: id,
                });
                let _ = f.send(message(w.shard, append));
            }
            // The leader answers at a majority; the other answers still come.
            replied
                .await
                .map_err(|_| Status::internal("the floor lost a write"))?;
            Ok(Response::new(pb::ClientResponse {
                result: Some(pb::client_response::Result::Ok(w.data)),
            }))
        }
        async fn read(
            &self,
            _: Request<pb::ReadRequest>,
        ) -> Result<Response<pb::ClientResponse>, Status> {
            unused()
        }
        async fn change_membership(
            &self,
            _: Request<pb::MembershipRequest>,
        ) -> Result<Response<pb::ClientResponse>, Status> {
            unused()
        }
        async fn transfer_leader(
            &self,
            _: Request<pb::TransferRequest>,
        ) -> Result<Response<pb::ClientResponse>, Status> {
            unused()
        }
        async fn status(
            &self,
            _: Request<pb::StatusRequest>,
        ) -> Result<Response<pb::StatusResponse>, Status> {
            unused()
        }
    }

    /// Sim seconds per wall second at `rate` writes per second.
    pub fn run(world: &mut turmoil::Sim<'_>, sim: Duration, rate: u32) -> f64 {
        let link_config = LinkConfig::default();
        for n in 1..=5u64 {
            world.host(format!("n{n}"), move || async move {
                let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
                let (followers, leader) = if n == 1 {
                    let followers = (2..=5).map(|p| link(&net, format!("n{p}:7000"))).collect();
                    (followers, None)
                } else {
                    (Vec::new(), Some(link(&net, "n1:7000".to_string())))
                };
                let listener = net.bind("0.0.0.0:7000").await?;
                let server = tumult_server::TumultServer::new(Floor {
                    followers,
                    leader,
                    waiting: Waiting::default(),
                    next_id: AtomicU64::new(0),
                });
                serve(
                    net,
                    listener,
                    server,
                    link_config,
                    ServerLimits::default(),
                    std::future::pending(),
                )
                .await;
                Ok(())
            });
        }
        let period = Duration::from_secs(5) / rate;
        let written = Arc::new(AtomicU64::new(0));
        for c in 0..5u32 {
            let written = Arc::clone(&written);
            world.host(format!("c{c}"), move || {
                let written = Arc::clone(&written);
                async move {
                    let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
                    let mut leader = TumultClient::new(channel(&net, "n1:7000", &link_config));
                    let mut tick = tokio::time::interval(period);
                    let mut seq = 0u64;
                    loop {
                        tick.tick().await;
                        seq += 1;
                        let request = pb::WriteRequest {
                            shard: u64::from(c % 4),
                            request: Some(pb::RequestId {
                                client: u64::from(c),
                                seq,
                            }),
                            data: seq.to_be_bytes().to_vec(),
                        };
                        let reply = leader.write(request).await?;
                        assert!(reply.into_inner().result.is_some());
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let speed = super::step_for(world, sim);
        // Every client wrote about once per period: the floor did its work.
        let expected = (sim.as_secs_f64() * f64::from(rate)) as u64;
        let written = written.load(Ordering::Relaxed);
        assert!(
            written * 10 >= expected * 9,
            "the gRPC floor wrote {written} of about {expected} writes"
        );
        speed
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the first number is the duration.
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let hosts = 5 + 5 + 1;
    let sim = Duration::from_secs(seconds);
    let latency = (Duration::from_millis(1), Duration::from_millis(5));
    let base = floor(hosts, sim, latency);
    println!("turmoil floor ({hosts} idle hosts, 1 ms tick): {base:.1}x real time (baseline)");
    let mut w = world(sim, latency);
    w.host("nemesis", idle);
    let grpc = grpc_floor::run(&mut w, sim, 200);
    println!(
        "gRPC floor (same hosts, 200 writes/s as 1 unary call + 4 streamed messages and 4 \
         answers each, no engine or disk): {grpc:.1}x real time ({:.2} of the floor)",
        grpc / base
    );
    let mut loaded = base;
    for (label, rate) in [("idle cluster (1 op/s)", 1), ("200 ops/s", 200)] {
        let s = parse_str("<bench>", &scenario(rate, seconds)).expect("bench scenario parses");
        let r = run_seed(&s, 1, &RunOptions::in_memory());
        let v = &r.verdict;
        assert!(v.met, "bench run failed: {}", r.summary());
        let checks: f64 = v
            .checks
            .iter()
            .filter(|(name, _)| [CheckName::Linearizable, CheckName::Model].contains(name))
            .filter_map(|(_, c)| c.figures.get("seconds").and_then(|s| s.as_f64()))
            .sum();
        println!(
            "5 nodes x 4 shards, {label}: {:.1} sim s in {:.2} wall s = {:.1}x real time \
             ({:.2} of the floor), {:.0} client ops/wall s, checkers {:.2} s, peak {:.0} MiB",
            v.sim_seconds,
            v.wall_seconds,
            v.speed,
            v.speed / base,
            v.ops_per_wall_second,
            checks,
            v.peak_rss_kib as f64 / 1024.0
        );
        loaded = v.speed;
    }
    // Wall milliseconds per simulated second: what each layer costs, against
    // what the goal allows.
    let ms = |speed: f64| 1000.0 / speed;
    println!(
        "goal: 50x real time at 200 ops/s, a budget of {:.1} wall ms per simulated second; \
         turmoil's stepping takes {:.1}, the gRPC traffic of 200 writes/s {:.1} more, \
         the rest of the engine, the history and the checkers {:.1} more",
        ms(50.0),
        ms(base),
        ms(grpc) - ms(base),
        ms(loaded) - ms(grpc)
    );
}
