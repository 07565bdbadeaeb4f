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

/// Sim seconds per wall second of an idle turmoil world with `hosts` hosts.
fn floor(hosts: usize, sim: Duration, latency: (Duration, Duration)) -> f64 {
    let mut world = turmoil::Builder::new()
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(1)
        .simulation_duration(sim + Duration::from_secs(5))
        .min_message_latency(latency.0)
        .max_message_latency(latency.1)
        .build();
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

fn main() {
    // `cargo bench` passes `--bench`; the first number is the duration.
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let hosts = 5 + 5 + 1;
    let sim = Duration::from_secs(seconds);
    let base = floor(
        hosts,
        sim,
        (Duration::from_millis(1), Duration::from_millis(5)),
    );
    println!("turmoil floor ({hosts} idle hosts, 1 ms tick): {base:.1}x real time (baseline)");
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
