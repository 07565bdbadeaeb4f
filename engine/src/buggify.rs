//! Fault sites ("buggify", after FoundationDB): places in the engine where a
//! test may make the node misbehave in ways the protocol must tolerate: a
//! snapshot fetch that completes late, a peer batch that is delayed,
//! duplicated or overtaken, an apply that lags its commit, a slow storage
//! sync, a spurious extra tick.
//!
//! The sites are compiled into every build and inert unless the node's
//! configuration enables them ([`NodeConfig::faults`](crate::node::NodeConfig)):
//! the simulator harness does, from a run's seed; production never does. A
//! site fires with its configured chance each time it is reached, drawn from
//! a PRNG seeded by the configuration, so a simulated run stays
//! byte-for-byte reproducible.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::raft::rng::SplitMix64;

/// One fault site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// A finished snapshot fetch is handed to the core only after a delay
    /// (up to [`Site::max_delay`]), so the log may move on meanwhile.
    LateSnapshot,
    /// A batch of messages to one peer leaves after a delay, so later
    /// batches on the same link overtake it.
    BatchDelay,
    /// A batch of messages to one peer is sent twice.
    BatchDuplicate,
    /// A batch of messages to one peer is held back and sent after the next
    /// one on the same link.
    BatchReorder,
    /// Committed entries are applied up to [`Site::max_ticks`] ticks later
    /// than they could be.
    ApplyLag,
    /// A storage sync takes longer (up to [`Site::max_delay`]).
    SlowSync,
    /// A timer tick is delivered twice to every core of the node.
    ExtraTick,
    /// A snapshot that is due is put off until the shard has applied up to
    /// four times as many entries again (a random number), so the nodes' compaction
    /// points drift apart (a leader may then still hold entries a follower
    /// was asked to fetch a snapshot for).
    CompactionLag,
    /// A leader's Appends and heartbeats to its followers advertise a commit
    /// index no further than the first Append's previous entry, for up to
    /// [`Site::max_ticks`] ticks: followers learn of commits late (any
    /// commit index up to the leader's is a correct one to send).
    CommitLag,
}

impl Site {
    /// Every site, in the order of the README's table.
    pub const ALL: [Site; 9] = [
        Site::LateSnapshot,
        Site::BatchDelay,
        Site::BatchDuplicate,
        Site::BatchReorder,
        Site::ApplyLag,
        Site::SlowSync,
        Site::ExtraTick,
        Site::CompactionLag,
        Site::CommitLag,
    ];

    /// The key of the site in a scenario's `[faults]` table.
    pub fn name(self) -> &'static str {
        match self {
            Site::LateSnapshot => "late-snapshot",
            Site::BatchDelay => "batch-delay",
            Site::BatchDuplicate => "batch-duplicate",
            Site::BatchReorder => "batch-reorder",
            Site::ApplyLag => "apply-lag",
            Site::SlowSync => "slow-sync",
            Site::ExtraTick => "extra-tick",
            Site::CompactionLag => "compaction-lag",
            Site::CommitLag => "commit-lag",
        }
    }

    /// The site called `name`.
    pub fn from_name(name: &str) -> Option<Site> {
        Site::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The most ticks a lagging site waits.
    pub fn max_ticks(self) -> u32 {
        match self {
            Site::ApplyLag => 20,
            Site::CommitLag => 40,
            _ => 0,
        }
    }

    /// The longest delay a delaying site adds.
    pub fn max_delay(self) -> Duration {
        match self {
            Site::LateSnapshot => Duration::from_millis(2000),
            Site::BatchDelay => Duration::from_millis(200),
            Site::SlowSync => Duration::from_millis(50),
            _ => Duration::ZERO,
        }
    }
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault sites a node runs with and how often each fires when reached
/// (a chance in `(0, 1]`); empty (the default) is a node without faults.
#[derive(Clone, Debug, Default)]
pub struct FaultSites {
    /// Chance per reach, for each enabled site.
    pub fire: BTreeMap<Site, f64>,
    /// Seeds the node's draws (mixed with the node id).
    pub seed: u64,
    /// Turns every site off at once (and back on), for all nodes that share
    /// it: the simulator switches faults off at the final heal, so recovery
    /// is judged on a fault-free engine.
    pub switch: FaultSwitch,
}

/// A shared on/off switch of a set of fault sites (on when created).
#[derive(Clone, Debug)]
pub struct FaultSwitch(Arc<AtomicBool>);

impl Default for FaultSwitch {
    fn default() -> FaultSwitch {
        FaultSwitch(Arc::new(AtomicBool::new(true)))
    }
}

impl FaultSwitch {
    /// Turns the sites on or off.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::SeqCst);
    }

    /// Whether the sites are on.
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl FaultSites {
    /// Whether no site is enabled.
    pub fn is_empty(&self) -> bool {
        self.fire.is_empty()
    }
}

/// A node's draws at its fault sites.
#[derive(Clone, Debug)]
pub struct Buggify {
    fire: BTreeMap<Site, f64>,
    rng: SplitMix64,
    switch: FaultSwitch,
}

impl Buggify {
    /// The draws of node `node` under `sites`.
    pub fn new(sites: &FaultSites, node: u64) -> Buggify {
        Buggify {
            fire: sites.fire.clone(),
            rng: SplitMix64::new(sites.seed ^ node.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xB06_6F1),
            switch: sites.switch.clone(),
        }
    }

    fn next(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Whether the sites are on (the switch was not turned off).
    pub fn is_on(&self) -> bool {
        self.switch.is_on()
    }

    /// Whether `site` fires now. A disabled site (or any, while the switch
    /// is off) never draws, so enabling one site does not change the draws
    /// of a run without it.
    pub fn fires(&mut self, site: Site) -> bool {
        let Some(&p) = self.fire.get(&site) else {
            return false;
        };
        if !self.switch.is_on() {
            return false;
        }
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// A number of ticks for `site` if it fires now: uniform in
    /// `1..=max_ticks`.
    pub fn ticks(&mut self, site: Site) -> Option<u32> {
        if !self.fires(site) {
            return None;
        }
        Some(1 + (self.next() % u64::from(site.max_ticks().max(1))) as u32)
    }

    /// An amount for `site` if it fires now: uniform in `1..=max`.
    pub fn amount(&mut self, site: Site, max: u64) -> Option<u64> {
        if !self.fires(site) {
            return None;
        }
        Some(1 + self.next() % max.max(1))
    }

    /// A delay for `site` if it fires now: uniform in `(0, max_delay]`.
    pub fn delay(&mut self, site: Site) -> Option<Duration> {
        if !self.fires(site) {
            return None;
        }
        let max = site.max_delay().as_micros() as u64;
        Some(Duration::from_micros(1 + self.next() % max.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inert_node_never_fires_and_an_enabled_site_fires_at_its_rate() {
        let mut none = Buggify::new(&FaultSites::default(), 1);
        assert!((0..1000).all(|_| !none.fires(Site::ExtraTick)));
        let sites = FaultSites {
            fire: [(Site::ExtraTick, 0.25)].into(),
            seed: 7,
            ..FaultSites::default()
        };
        let mut b = Buggify::new(&sites, 1);
        let n = (0..10_000).filter(|_| b.fires(Site::ExtraTick)).count();
        assert!((2200..2800).contains(&n), "{n}");
        assert!((0..1000).all(|_| !b.fires(Site::ApplyLag)));
        let d = (0..100).filter_map(|_| b.delay(Site::ExtraTick)).count();
        assert!(d > 0);
        // The same configuration draws the same.
        let (mut x, mut y) = (Buggify::new(&sites, 2), Buggify::new(&sites, 2));
        assert!((0..100).all(|_| x.fires(Site::ExtraTick) == y.fires(Site::ExtraTick)));
        // The switch turns every node's sites off.
        sites.switch.set(false);
        assert!((0..1000).all(|_| !b.fires(Site::ExtraTick)));
        for s in Site::ALL {
            assert_eq!(Site::from_name(s.name()), Some(s));
        }
    }
}
