//! Nemesis schedules: the file's steps, expanded for one seed into concrete,
//! time-ordered steps.

use std::time::Duration;

use super::{Action, DurationRange, Scenario, StepKind};

/// splitmix64: a tiny, fast, well-mixed PRNG (Steele, Lea, Flood 2014).
///
/// Used for schedules so they depend on nothing but the seed; the same
/// seed always gives the same sequence on every platform.
///
/// ```
/// use tumult_harness::scenario::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number uniform in `0..n` (`n > 0`), by multiply-shift (Lemire),
    /// whose bias is at most n / 2^64.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0) has no values");
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A number uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// A duration uniform in `[range.min, range.max]`, to the nanosecond.
    pub fn duration(&mut self, range: DurationRange) -> Duration {
        let lo = range.min.as_nanos().min(u64::MAX as u128) as u64;
        let hi = range.max.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(self.between(lo, hi.max(lo)))
    }
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
                    t = match t.checked_add(rng.duration(*every)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_values() {
        // First outputs of splitmix64 seeded with 0 (reference implementation).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn between_stays_in_range() {
        let mut r = SplitMix64::new(42);
        for _ in 0..10_000 {
            let x = r.between(3, 7);
            assert!((3..=7).contains(&x));
        }
        assert_eq!(r.between(5, 5), 5);
        let _ = r.between(0, u64::MAX);
    }
}
