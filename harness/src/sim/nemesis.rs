//! The nemesis: resolves selectors against the live cluster and applies
//! faults to a [`World`]: turmoil's network, hosts and the nodes' simulated
//! disks ([`super::SimWorld`]), or real processes and the proxies between
//! them (`crate::real`). Every action is recorded as a `nemesis` event in
//! the history.

use super::recorder::Shared;
use crate::scenario::{Action, DiskFaultKind, DurationRange, Selector, SplitMix64};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tumult_engine::raft::NodeId;

/// What the nemesis acts on. Each call takes effect at once; the nemesis
/// keeps track of what is in force and calls again to undo it.
pub trait World {
    /// Time since the start of the run (ns): simulated, or monotonic wall time.
    fn now(&self) -> u64;
    /// The node dies at once; writes it had not synced are lost.
    fn crash(&mut self, n: NodeId);
    /// A crashed node starts again from what its disk holds.
    fn start(&mut self, n: NodeId);
    /// Messages from `from` to `to` are dropped (`true`) or pass again.
    fn cut(&mut self, from: NodeId, to: NodeId, cut: bool);
    /// Messages between `a` and `b` wait (`true`) or are delivered.
    fn hold(&mut self, a: NodeId, b: NodeId, hold: bool);
    /// The one-way delay of every link between nodes, from now on.
    fn latency(&mut self, range: DurationRange);
    /// The node stops (`true`) or goes on.
    fn pause(&mut self, n: NodeId, paused: bool);
    /// The node's disk misbehaves as `fault`, or is healed (`None`).
    fn disk(&mut self, n: NodeId, fault: Option<DiskFaultKind>);
}

/// A membership or transfer request, run by the admin client host.
#[derive(Debug, Clone)]
pub enum AdminRequest {
    /// add-member / remove-member.
    Membership {
        /// The key of the request in `Recorder::membership_requests`.
        id: u64,
        shard: u64,
        node: NodeId,
        add: bool,
    },
    /// transfer-leader.
    Transfer { shard: u64, to: Option<NodeId> },
}

/// The nemesis' view of the cluster and the faults in force.
pub struct Nemesis {
    nodes: u32,
    recorder: Shared,
    rng: SplitMix64,
    /// Nodes the nemesis crashed (and has not restarted).
    pub crashed: BTreeSet<NodeId>,
    /// Nodes the nemesis paused (and has not resumed).
    pub paused: BTreeSet<NodeId>,
    /// Directed links cut by partitions.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Directed links cut by the flaky network, until a time (ns).
    flaky_cut: BTreeMap<(NodeId, NodeId), u64>,
    /// Directed links currently cut in turmoil.
    applied_cut: BTreeSet<(NodeId, NodeId)>,
    /// Unordered pairs currently held.
    held: BTreeSet<(NodeId, NodeId)>,
    /// Chance per link per second of a short failure.
    pub flaky: f64,
    admin: mpsc::UnboundedSender<AdminRequest>,
    /// The scenario's voters.
    voters: BTreeSet<NodeId>,
}

/// The name of node `n` (also its turmoil host).
pub fn host(n: NodeId) -> String {
    format!("n{n}")
}

/// Every unordered pair of distinct nodes in different groups, as (low, high).
fn pairs_across(groups: &[BTreeSet<NodeId>]) -> BTreeSet<(NodeId, NodeId)> {
    let mut pairs = BTreeSet::new();
    for (i, g) in groups.iter().enumerate() {
        for h in &groups[i + 1..] {
            for a in g {
                for b in h {
                    if a != b {
                        pairs.insert(((*a).min(*b), (*a).max(*b)));
                    }
                }
            }
        }
    }
    pairs
}

fn names(nodes: &BTreeSet<NodeId>) -> Json {
    Json::Array(nodes.iter().map(|n| Json::String(host(*n))).collect())
}

impl Nemesis {
    pub fn new(
        nodes: u32,
        voters: BTreeSet<NodeId>,
        seed: u64,
        recorder: Shared,
        flaky: f64,
        admin: mpsc::UnboundedSender<AdminRequest>,
    ) -> Nemesis {
        Nemesis {
            nodes,
            recorder,
            rng: SplitMix64::new(seed ^ 0x4E45_4D45_5349_5300),
            crashed: BTreeSet::new(),
            paused: BTreeSet::new(),
            cut: BTreeSet::new(),
            flaky_cut: BTreeMap::new(),
            applied_cut: BTreeSet::new(),
            held: BTreeSet::new(),
            flaky,
            admin,
            voters,
        }
    }

    fn all(&self) -> BTreeSet<NodeId> {
        (1..=u64::from(self.nodes)).collect()
    }

    /// Nodes that are down: crashed by the nemesis or stopped by themselves.
    pub fn down(&self) -> BTreeSet<NodeId> {
        let stopped = self.recorder.lock().expect("recorder").stopped.clone();
        self.crashed.union(&stopped).copied().collect()
    }

    fn leader(&self, shard: u32) -> Option<NodeId> {
        let r = self.recorder.lock().expect("recorder");
        r.leaders.get(&u64::from(shard)).map(|(n, _)| *n)
    }

    fn sample(&mut self, from: &BTreeSet<NodeId>, count: usize) -> BTreeSet<NodeId> {
        let mut pool: Vec<NodeId> = from.iter().copied().collect();
        let mut out = BTreeSet::new();
        while out.len() < count && !pool.is_empty() {
            let i = self.rng.below(pool.len() as u64) as usize;
            out.insert(pool.swap_remove(i));
        }
        out
    }

    /// Resolves one selector (`rest` is resolved by the caller).
    fn resolve(&mut self, s: &Selector) -> BTreeSet<NodeId> {
        let all = self.all();
        let n = all.len();
        match s {
            Selector::Node(i) => [u64::from(*i)].into(),
            Selector::Leader(shard) => self.leader(*shard).into_iter().collect(),
            Selector::Followers(shard) => {
                let leader = self.leader(*shard);
                all.into_iter().filter(|x| Some(*x) != leader).collect()
            }
            Selector::Random => self.sample(&all, 1),
            Selector::RandomMinority => self.sample(&all, (n - 1) / 2),
            Selector::RandomMajority => self.sample(&all, n / 2 + 1),
            Selector::All => all,
            Selector::Crashed => self.down(),
            Selector::Rest => BTreeSet::new(),
        }
    }

    fn resolve_list(&mut self, list: &[Selector]) -> BTreeSet<NodeId> {
        let mut out = BTreeSet::new();
        for s in list {
            out.extend(self.resolve(s));
        }
        out
    }

    fn resolve_groups(&mut self, groups: &[Vec<Selector>]) -> Vec<BTreeSet<NodeId>> {
        let mut resolved: Vec<BTreeSet<NodeId>> =
            groups.iter().map(|g| self.resolve_list(g)).collect();
        let named: BTreeSet<NodeId> = resolved.iter().flatten().copied().collect();
        let rest: BTreeSet<NodeId> = self.all().difference(&named).copied().collect();
        for (g, sel) in resolved.iter_mut().zip(groups) {
            if sel.contains(&Selector::Rest) {
                g.extend(rest.iter().copied());
            }
        }
        resolved
    }

    fn record(&self, f: &str, value: Option<Json>, error: Option<String>, time: u64) {
        self.recorder
            .lock()
            .expect("recorder")
            .nemesis(f, value, error, time);
    }

    /// Applies the cut set to turmoil: partitions and flaky failures combined.
    fn sync_links(&mut self, w: &mut dyn World) {
        let mut want: BTreeSet<(NodeId, NodeId)> = self.cut.clone();
        want.extend(self.flaky_cut.keys().copied());
        for (a, b) in want
            .difference(&self.applied_cut)
            .copied()
            .collect::<Vec<_>>()
        {
            w.cut(a, b, true);
        }
        for (a, b) in self
            .applied_cut
            .difference(&want)
            .copied()
            .collect::<Vec<_>>()
        {
            w.cut(a, b, false);
        }
        self.applied_cut = want;
    }

    fn cut_between(&mut self, a: &BTreeSet<NodeId>, b: &BTreeSet<NodeId>) {
        for x in a {
            for y in b {
                if x != y {
                    self.cut.insert((*x, *y));
                    self.cut.insert((*y, *x));
                }
            }
        }
    }

    fn cut_groups(&mut self, groups: &[BTreeSet<NodeId>]) {
        for (a, b) in pairs_across(groups) {
            self.cut.insert((a, b));
            self.cut.insert((b, a));
        }
    }

    fn crash(&mut self, w: &mut dyn World, n: NodeId) {
        if self.paused.remove(&n) {
            w.pause(n, false);
        }
        if !self.crashed.contains(&n) {
            w.crash(n);
            self.crashed.insert(n);
            self.recorder.lock().expect("recorder").node_down(n);
        }
    }

    fn restart(&mut self, w: &mut dyn World, n: NodeId) {
        let stopped = self.recorder.lock().expect("recorder").stopped.contains(&n);
        if stopped && !self.crashed.contains(&n) {
            // A node that stopped itself is restarted from what its disk holds.
            w.crash(n);
        }
        if self.crashed.contains(&n) || stopped {
            w.start(n);
            self.crashed.remove(&n);
            let mut r = self.recorder.lock().expect("recorder");
            r.stopped.remove(&n);
            r.node_down(n);
        }
    }

    /// Removes every partition, hold, flaky failure and disk fault.
    fn heal(&mut self, w: &mut dyn World) {
        self.cut.clear();
        self.flaky_cut.clear();
        self.sync_links(w);
        for (a, b) in std::mem::take(&mut self.held) {
            w.hold(a, b, false);
        }
        for n in self.all() {
            w.disk(n, None);
        }
    }

    /// Paused nodes of `nodes` go on.
    fn resume(&mut self, w: &mut dyn World, nodes: &BTreeSet<NodeId>) {
        for n in nodes {
            if self.paused.remove(n) {
                w.pause(*n, false);
            }
        }
    }

    /// The final heal of phase 2: also stops the flaky network and restarts every node that is down.
    pub fn final_heal(&mut self, w: &mut dyn World) {
        let now = w.now();
        self.flaky = 0.0;
        self.heal(w);
        let paused = self.paused.clone();
        self.resume(w, &paused);
        for n in self.down() {
            self.restart(w, n);
        }
        self.record("heal", Some(json!("final")), None, now);
    }

    /// The final heal of `[expect] liveness = "core"`: heals the links
    /// between the nodes of `core`, their disks and holds, resumes those
    /// that are paused and restarts those that are down; every other node, and every link to one, stays
    /// as the chaos left it. The flaky network stops.
    ///
    /// With `isolate` (the engine runs without pre-vote) every node outside
    /// the core is also cut off from the core: without pre-vote, a server
    /// that still reaches part of the core raises the term of whoever
    /// answers it at each of its timeouts and splits the core's votes for
    /// as long as it stays (the disruptive server of the Raft
    /// dissertation, §4.2.3 and §9.6), which Raft without pre-vote does
    /// not claim to outlast. With pre-vote the engine must outlast it.
    pub fn final_heal_core(&mut self, w: &mut dyn World, core: &BTreeSet<NodeId>, isolate: bool) {
        let now = w.now();
        self.flaky = 0.0;
        let inside = |(a, b): &(NodeId, NodeId)| core.contains(a) && core.contains(b);
        self.cut.retain(|l| !inside(l));
        self.flaky_cut.retain(|l, _| !inside(l));
        let others: BTreeSet<NodeId> = self.all().difference(core).copied().collect();
        if isolate {
            self.cut_between(&others, core);
            self.cut_between(core, &others);
        }
        self.sync_links(w);
        for (a, b) in self.held.clone() {
            if inside(&(a, b)) {
                w.hold(a, b, false);
                self.held.remove(&(a, b));
            }
        }
        for n in core {
            w.disk(*n, None);
        }
        self.resume(w, core);
        for n in self.down().intersection(core).copied().collect::<Vec<_>>() {
            self.restart(w, n);
        }
        let value = if isolate && !others.is_empty() {
            json!({"final": "core", "nodes": names(core), "isolated": names(&others)})
        } else {
            json!({"final": "core", "nodes": names(core)})
        };
        self.record("heal", Some(value), None, now);
    }

    /// The nodes of `nodes` that are up and have no cut or held link to
    /// any node of `core` (other than themselves).
    pub fn reachable(&self, nodes: &BTreeSet<NodeId>, core: &BTreeSet<NodeId>) -> BTreeSet<NodeId> {
        let down = self.down();
        let blocked = |a: NodeId, b: NodeId| {
            self.applied_cut.contains(&(a, b))
                || self.applied_cut.contains(&(b, a))
                || self.held.contains(&(a.min(b), a.max(b)))
        };
        nodes
            .iter()
            .copied()
            .filter(|v| !down.contains(v) && !self.paused.contains(v))
            .filter(|&v| core.iter().all(|&c| c == v || !blocked(v, c)))
            .collect()
    }

    /// The scenario's voters.
    pub fn initial_voters(&self) -> &BTreeSet<NodeId> {
        &self.voters
    }

    /// Every node of the cluster.
    pub fn nodes(&self) -> BTreeSet<NodeId> {
        self.all()
    }

    /// A core for `liveness = "core"`, drawn from the seed: nodes taken in
    /// a random order until they hold a majority of every membership a
    /// shard may be in (the scenario's voters, the last three each shard's
    /// nodes took up, and what a change still in flight would make of
    /// them), so every shard can elect a leader within it.
    pub fn draw_core(&mut self, shards: u64) -> BTreeSet<NodeId> {
        let configs: Vec<BTreeSet<NodeId>> = {
            let r = self.recorder.lock().expect("recorder");
            let mut configs = vec![self.voters.clone()];
            for shard in 0..shards {
                let mut known = vec![self.voters.clone()];
                if let Some(seen) = r.memberships.get(&shard) {
                    known.extend(seen.values().rev().take(3).cloned());
                }
                let pending = r.membership_requests.values().filter(|(s, ..)| *s == shard);
                let mut changed = Vec::new();
                for &(_, node, add) in pending {
                    for c in &known {
                        let mut c = c.clone();
                        if add {
                            c.insert(node);
                        } else {
                            c.remove(&node);
                        }
                        if !c.is_empty() {
                            changed.push(c);
                        }
                    }
                }
                configs.extend(known.into_iter().skip(1));
                configs.extend(changed);
            }
            configs
        };
        let mut order: Vec<NodeId> = self.all().into_iter().collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut core = BTreeSet::new();
        for n in order {
            let majority = |c: &BTreeSet<NodeId>| c.intersection(&core).count() * 2 > c.len();
            if configs.iter().all(majority) {
                break;
            }
            core.insert(n);
        }
        core
    }

    /// Advances the flaky network: links fail for a short while at the configured rate.
    pub fn flaky_tick(&mut self, w: &mut dyn World, period: Duration) {
        let now = w.now();
        let before = self.flaky_cut.len();
        self.flaky_cut.retain(|_, until| *until > now);
        let mut changed = before != self.flaky_cut.len();
        if self.flaky > 0.0 {
            let p = (self.flaky * period.as_secs_f64()).min(1.0);
            let threshold = (p * (1u64 << 53) as f64) as u64;
            for a in 1..=u64::from(self.nodes) {
                for b in a + 1..=u64::from(self.nodes) {
                    if (self.rng.next_u64() >> 11) < threshold {
                        let len = self.rng.between(100_000_000, 1_000_000_000);
                        self.flaky_cut.insert((a, b), now + len);
                        self.flaky_cut.insert((b, a), now + len);
                        changed = true;
                    }
                }
            }
        }
        if changed {
            self.sync_links(w);
        }
    }

    /// Runs one nemesis action now.
    pub fn apply(&mut self, w: &mut dyn World, action: &Action) {
        let now = w.now();
        let f = action.name();
        let skipped = |this: &Self| {
            this.record(
                f,
                None,
                Some("selector matched nothing; skipped".into()),
                now,
            )
        };
        match action {
            Action::Crash { nodes } => {
                let set = self.resolve_list(nodes);
                let set: BTreeSet<NodeId> = set.difference(&self.crashed).copied().collect();
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.crash(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::CrashMinority => {
                let all = self.all();
                let set = self.sample(&all, (all.len() - 1) / 2);
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.crash(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::CrashLeader { shard } => {
                let set: BTreeSet<NodeId> = self.leader(*shard).into_iter().collect();
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.crash(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::Restart { nodes } => {
                let set = self.resolve_list(nodes);
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.restart(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::RestartAll => {
                let set = self.down();
                for n in &set {
                    self.restart(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::Bounce { nodes } => {
                let set = self.resolve_list(nodes);
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.crash(w, *n);
                    self.restart(w, *n);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::Partition { groups } => {
                let groups = self.resolve_groups(groups);
                self.cut_groups(&groups);
                self.sync_links(w);
                self.record(
                    f,
                    Some(Json::Array(groups.iter().map(names).collect())),
                    None,
                    now,
                );
            }
            Action::PartitionOneway { from, to } => {
                let from_set = self.resolve_groups(std::slice::from_ref(from)).remove(0);
                let to_groups = self.resolve_groups(&[from.clone(), to.clone()]);
                let to_set = to_groups[1].clone();
                if from_set.is_empty() || to_set.is_empty() {
                    return skipped(self);
                }
                for x in &from_set {
                    for y in &to_set {
                        if x != y {
                            self.cut.insert((*x, *y));
                        }
                    }
                }
                self.sync_links(w);
                self.record(
                    f,
                    Some(json!([names(&from_set), names(&to_set)])),
                    None,
                    now,
                );
            }
            Action::PartitionHalves => {
                let all = self.all();
                let half = self.sample(&all, all.len() / 2);
                let other: BTreeSet<NodeId> = all.difference(&half).copied().collect();
                self.cut_groups(&[half.clone(), other.clone()]);
                self.sync_links(w);
                self.record(f, Some(json!([names(&half), names(&other)])), None, now);
            }
            Action::PartitionMajoritiesRing => {
                // Nodes on a ring in a seed-drawn order; each keeps links to its
                // nearest neighbours only, so each sees a majority, no two the same.
                let all = self.all();
                let ring: Vec<NodeId> = {
                    let mut pool: Vec<NodeId> = all.iter().copied().collect();
                    let mut out = Vec::new();
                    while !pool.is_empty() {
                        let i = self.rng.below(pool.len() as u64) as usize;
                        out.push(pool.remove(i));
                    }
                    out
                };
                let n = ring.len();
                let majority = n / 2 + 1;
                let reach = (majority - 1).div_ceil(2);
                for i in 0..n {
                    for j in i + 1..n {
                        let d = (j - i).min(n - (j - i));
                        if d > reach {
                            self.cut.insert((ring[i], ring[j]));
                            self.cut.insert((ring[j], ring[i]));
                        }
                    }
                }
                self.sync_links(w);
                let ring_names: Vec<String> = ring.iter().map(|n| host(*n)).collect();
                self.record(f, Some(json!(ring_names)), None, now);
            }
            Action::Isolate { nodes } => {
                let set = self.resolve_list(nodes);
                if set.is_empty() {
                    return skipped(self);
                }
                let rest: BTreeSet<NodeId> = self.all().difference(&set).copied().collect();
                // Each isolated node is cut from every other node, the other isolated ones included.
                for n in &set {
                    let others: BTreeSet<NodeId> =
                        self.all().into_iter().filter(|x| x != n).collect();
                    self.cut_between(&[*n].into(), &others);
                }
                self.sync_links(w);
                self.record(f, Some(json!([names(&set), names(&rest)])), None, now);
            }
            Action::Heal => {
                self.heal(w);
                self.record(f, None, None, now);
            }
            Action::Hold { groups } => {
                let groups = self.resolve_groups(groups);
                for pair in pairs_across(&groups) {
                    if self.held.insert(pair) {
                        w.hold(pair.0, pair.1, true);
                    }
                }
                self.record(
                    f,
                    Some(Json::Array(groups.iter().map(names).collect())),
                    None,
                    now,
                );
            }
            Action::Release { groups } => {
                let groups = self.resolve_groups(groups);
                for pair in pairs_across(&groups) {
                    if self.held.remove(&pair) {
                        w.hold(pair.0, pair.1, false);
                    }
                }
                self.record(
                    f,
                    Some(Json::Array(groups.iter().map(names).collect())),
                    None,
                    now,
                );
            }
            Action::Slow { latency } => {
                w.latency(*latency);
                let value = json!([format!("{:?}", latency.min), format!("{:?}", latency.max)]);
                self.record(f, Some(value), None, now);
            }
            Action::Flaky { rate } => {
                self.flaky = *rate;
                self.record(f, Some(json!(rate)), None, now);
            }
            Action::AddMember { node, shard } | Action::RemoveMember { node, shard } => {
                let add = matches!(action, Action::AddMember { .. });
                let Some(target) = self.resolve(node).into_iter().next() else {
                    return skipped(self);
                };
                let id = {
                    let mut r = self.recorder.lock().expect("recorder");
                    let id = r
                        .membership_requests
                        .keys()
                        .next_back()
                        .map_or(0, |k| k + 1);
                    r.membership_requests
                        .insert(id, (u64::from(*shard), target, add));
                    id
                };
                let _ = self.admin.send(AdminRequest::Membership {
                    id,
                    shard: u64::from(*shard),
                    node: target,
                    add,
                });
            }
            Action::TransferLeader { shard, to } => {
                let to = match to {
                    Some(sel) => match self.resolve(sel).into_iter().next() {
                        Some(n) => Some(n),
                        None => return skipped(self),
                    },
                    None => None,
                };
                let _ = self.admin.send(AdminRequest::Transfer {
                    shard: u64::from(*shard),
                    to,
                });
            }
            Action::Pause { nodes } => {
                // A crashed node has no process to stop.
                let down = self.down();
                let set: BTreeSet<NodeId> = self
                    .resolve_list(nodes)
                    .into_iter()
                    .filter(|n| !down.contains(n) && !self.paused.contains(n))
                    .collect();
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    self.paused.insert(*n);
                    w.pause(*n, true);
                }
                self.record(f, Some(names(&set)), None, now);
            }
            Action::Resume { nodes } => {
                let set: BTreeSet<NodeId> = self
                    .resolve_list(nodes)
                    .intersection(&self.paused)
                    .copied()
                    .collect();
                if set.is_empty() {
                    return skipped(self);
                }
                self.resume(w, &set);
                self.record(f, Some(names(&set)), None, now);
            }
            Action::DiskFault { nodes, kind } => {
                let set = self.resolve_list(nodes);
                if set.is_empty() {
                    return skipped(self);
                }
                for n in &set {
                    w.disk(*n, Some(*kind));
                }
                self.record(
                    f,
                    Some(json!({"nodes": names(&set), "kind": kind.name()})),
                    None,
                    now,
                );
            }
        }
    }
}
