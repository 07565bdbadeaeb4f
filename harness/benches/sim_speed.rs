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
//! 2. **idle cluster**: the 5-node, 4-shard cluster with 5 clients at one
//!    operation per second (heartbeats, timers, the clients' connections).
//! 3. **200 ops/s**: the same cluster under 200 client operations per
//!    second, the issue's speed scenario.
//!
//! For each it prints simulated seconds per wall second (x real time) and
//! the ratio to the floor; for the tumult runs, also client operations per
//! wall second and the seconds the checkers took (included in the wall
//! time). The whole run is timed, as `tumult run` reports it.

use std::time::{Duration, Instant, SystemTime};

/// The allocator of the `tumult` binary, so the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tumult_harness::run::{run_seed, RunOptions};
use tumult_harness::scenario::parse_str;

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

/// Sim seconds per wall second of an idle turmoil world with `hosts` hosts.
fn floor(hosts: usize, sim: Duration, latency: (Duration, Duration)) -> f64 {
    let mut world = world(sim, latency);
    for h in 0..hosts {
        world.host(format!("h{h}"), || async {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    let t = Instant::now();
    while world.elapsed() < sim {
        world.step().expect("idle world steps");
    }
    sim.as_secs_f64() / t.elapsed().as_secs_f64()
}

/// The gRPC floor: the same world (5 node hosts, 5 client hosts, one idle
/// nemesis host), where each client write costs only the gRPC calls that any
/// replicated write over this transport needs: the client's call to the
/// leader, and one `Deliver` from the leader to each of the 4 followers,
/// answered at once (the leader replies after 2 answers, a majority with
/// itself). No engine, no disk, no history: what 200 writes per second cost
/// in turmoil over tonic and HTTP/2 alone, with the engine's own transport
/// (`channel`, `serve`, `TurmoilNetwork`).
mod grpc_floor {
    use futures::stream::{FuturesUnordered, StreamExt};
    use std::sync::Arc;
    use std::time::Duration;
    use tonic::transport::Channel;
    use tonic::{Request, Response, Status};
    use tumult_engine::transport::pb::{self, tumult_client::TumultClient, tumult_server};
    use tumult_engine::transport::{channel, serve, LinkConfig, Network, TurmoilNetwork};

    struct Floor {
        followers: Vec<TumultClient<Channel>>,
    }

    type Chunks = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<pb::SnapshotChunk, Status>> + Send + 'static>,
    >;

    fn unused<T>() -> Result<Response<T>, Status> {
        Err(Status::unimplemented("not part of the floor"))
    }

    #[tonic::async_trait]
    impl tumult_server::Tumult for Floor {
        async fn deliver(&self, _: Request<pb::Batch>) -> Result<Response<pb::DeliverAck>, Status> {
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
            let mut calls: FuturesUnordered<_> = self
                .followers
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    let batch = pb::Batch {
                        from: 1,
                        messages: vec![pb::RaftMessage {
                            shard: w.shard,
                            to: 2,
                            body: None,
                        }],
                    };
                    async move { f.deliver(batch).await.is_ok() }
                })
                .collect();
            let mut acks = 0;
            while let Some(ok) = calls.next().await {
                acks += usize::from(ok);
                if acks == 2 {
                    break;
                }
            }
            // The leader answers at a majority; the other calls go on.
            tokio::task::spawn_local(async move { while calls.next().await.is_some() {} });
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
        let link = LinkConfig::default();
        for n in 1..=5u64 {
            world.host(format!("n{n}"), move || async move {
                let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
                let followers = if n == 1 {
                    (2..=5)
                        .map(|p| TumultClient::new(channel(&net, &format!("n{p}:7000"), &link)))
                        .collect()
                } else {
                    Vec::new()
                };
                let listener = net.bind("0.0.0.0:7000").await?;
                let server = tumult_server::TumultServer::new(Floor { followers });
                serve(net, listener, server, std::future::pending()).await;
                Ok(())
            });
        }
        let period = Duration::from_secs(5) / rate;
        for c in 0..5u32 {
            world.host(format!("c{c}"), move || async move {
                let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
                let mut leader = TumultClient::new(channel(&net, "n1:7000", &link));
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
                }
            });
        }
        let t = std::time::Instant::now();
        while world.elapsed() < sim {
            world.step().expect("gRPC floor world steps");
        }
        sim.as_secs_f64() / t.elapsed().as_secs_f64()
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
    w.host("nemesis", || async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let grpc = grpc_floor::run(&mut w, sim, 200);
    println!(
        "gRPC floor (same hosts, 200 writes/s as 5 unary calls each, no engine or disk): \
         {grpc:.1}x real time ({:.2} of the floor)",
        grpc / base
    );
    for (label, rate) in [("idle cluster (1 op/s)", 1), ("200 ops/s", 200)] {
        let s = parse_str("<bench>", &scenario(rate, seconds)).expect("bench scenario parses");
        let r = run_seed(&s, 1, &RunOptions::in_memory());
        let v = &r.verdict;
        assert!(v.met, "bench run failed: {}", r.summary());
        let checks: f64 = v
            .checks
            .iter()
            .filter(|(name, _)| ["linearizable", "model"].contains(&name.as_str()))
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
    }
    println!("goal: 50x real time at 200 ops/s");
}
