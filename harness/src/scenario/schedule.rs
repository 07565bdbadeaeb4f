//! Nemesis schedules: the file's steps, expanded for one seed into concrete,
//! time-ordered steps.

use std::time::Duration;

use super::{Action, DurationRange, Scenario, StepKind};

pub use tumult_engine::raft::rng::SplitMix64;

/// A duration uniform in `[range.min, range.max]`, to the nanosecond.
pub fn draw_duration(rng: &mut SplitMix64, range: DurationRange) -> Duration {
    let lo = range.min.as_nanos().min(u64::MAX as u128) as u64;
    let hi = range.max.as_nanos().min(u64::MAX as u128) as u64;
    Duration::from_nanos(rng.between(lo, hi.max(lo)))
}

/// One concrete nemesis step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledStep {
    /// Simulated time since the start of the run.
    pub at: Duration,
    /// What to do (selectors still unresolved: the simulator resolves them
    /// when the step runs).
    pub action: Action,
    /// Index of the `[[nemesis]]` entry this came from.
    pub step: usize,
}

/// A stream of the run's seed, distinct for each `[[nemesis]]` entry, so
/// adding a step does not change the draws of the others.
fn stream(seed: u64, step: usize) -> SplitMix64 {
    let mut mix = SplitMix64::new(seed ^ 0x6E65_6D65_7369_7321); // "nemesis!"
    let base = mix.next_u64();
    SplitMix64::new(base ^ (step as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Expands the scenario's nemesis steps for `seed` into concrete steps,
/// ordered by time (ties keep file order, then draw order).
///
/// A fixed step appears once, at `at`. A random step fires first at
/// `from`, then again after each gap drawn uniformly from `every`, for as
/// long as the time is before `until`; each firing draws its action
/// uniformly from `do`. The function is pure: same scenario and seed, same
/// schedule.
///
/// ```
/// use tumult_harness::scenario::{parse_str, expand_schedule};
/// let s = parse_str("r.toml", r#"
///     [cluster]
///     nodes = 3
///     shards = 1
///     [workload]
///     clients = 2
///     keys = 2
///     duration = "10s"
///     [[nemesis]]
///     from = "1s"
///     until = "9s"
///     every = ["1s", "2s"]
///     do = ["crash-minority", "restart-all"]
/// "#).unwrap();
/// assert_eq!(expand_schedule(&s, 4), expand_schedule(&s, 4));
/// ```
pub fn expand_schedule(scenario: &Scenario, seed: u64) -> Vec<ScheduledStep> {
    let mut out = Vec::new();
    for step in &scenario.nemesis {
        match &step.kind {
            StepKind::Fixed { at, action } => out.push(ScheduledStep {
                at: *at,
                action: action.clone(),
                step: step.index,
            }),
            StepKind::Random {
                from,
                until,
                every,
                actions,
            } => {
                if actions.is_empty() || every.min.is_zero() {
                    continue; // the parser refuses both; never loop forever
                }
                let mut rng = stream(seed, step.index);
                let mut t = *from;
                let mut fired = 0u64;
                while t < *until && fired < super::MAX_FIRINGS {
                    fired += 1;
                    let pick = rng.below(actions.len() as u64) as usize;
                    out.push(ScheduledStep {
                        at: t,
                        action: actions[pick].clone(),
                        step: step.index,
                    });
                    t = match t.checked_add(draw_duration(&mut rng, *every)) {
                        Some(next) => next,
                        None => break,
                    };
                }
            }
        }
    }
    // Stable: equal times keep file order, then draw order.
    out.sort_by_key(|s| (s.at, s.step));
    out
}
