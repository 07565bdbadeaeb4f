//! Unique states per second of the production core under the checker
//! (`tumult model --impl`) against the specification (`tumult model`), at
//! the same bounds and threads, in one run:
//!
//! ```text
//! cargo run --release -p tumult-models --example model_speed [SECONDS] [THREADS]
//! ```
//!
//! Each search is breadth-first for SECONDS (default 20) on THREADS
//! (default 2) with a 6 GiB memory budget, at 3 servers, terms up to 2 and
//! logs up to 2 with every feature both models have (crashes, compaction,
//! one membership change, one transfer; the core also has one read-index
//! read and duplicated deliveries). The rate is measured over the whole
//! search, so an early frontier of cheap states does not flatter either.

use std::time::Duration;
use tumult_models::core_model::{CoreConfig, CoreModel};
use tumult_models::model::{check, Limits, ModelConfig, Progress, RaftModel};

fn rate(p: &Progress) -> f64 {
    p.unique as f64 / p.seconds.max(1e-9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(20, |a| a.parse().expect("SECONDS"));
    let threads: usize = args.next().map_or(2, |a| a.parse().expect("THREADS"));
    let limits = Limits {
        timeout: Some(Duration::from_secs(seconds)),
        memory: Some(6 << 30),
        ..Limits::new(threads, Duration::from_secs(3600))
    };
    let spec = check(
        &RaftModel::new(ModelConfig::default()),
        &limits,
        &mut |_| {},
    );
    let core = check(&CoreModel::new(CoreConfig::default()), &limits, &mut |_| {});
    let spec_line = (
        spec.progress,
        spec.out_of_memory,
        spec.timed_out,
        spec.counterexample.map(|c| c.property),
    );
    let core_line = (
        core.progress,
        core.out_of_memory,
        core.timed_out,
        core.counterexample.map(|c| c.property),
    );
    for (name, (p, oom, timed_out, cx)) in [("specification", spec_line), ("core", core_line)] {
        println!(
            "{name:14} {:>10} unique {:>11} generated  depth {:>3}  {:>6.1} s  {:>8.0} unique/s{}",
            p.unique,
            p.states,
            p.depth,
            p.seconds,
            rate(&p),
            if oom.is_some() {
                "  (stopped by the memory budget)"
            } else if timed_out {
                ""
            } else {
                "  (exhausted)"
            }
        );
        if let Some(property) = cx {
            println!("  counterexample: {property}");
        }
    }
    println!(
        "core / specification, unique states per second: {:.2}",
        rate(&core_line.0) / rate(&spec_line.0)
    );
}
