//! Refinement: the production core (`tumult model --impl`) against the
//! specification (`tumult model`) over the same small bounds.
//!
//! Both state spaces are enumerated to the end and projected onto the state
//! they share, the invariants' view of every server (term, vote, whether it leads,
//! snapshot, the log's entry terms and configurations, commit index). Every step the
//! implementation takes must be allowed by the specification: its projected
//! successor is the projected state itself (a step the specification does
//! not see, such as a message sent) or is reached from it by one or more of
//! the specification's steps (the specification folds some exchanges into
//! one step and splits others). Every projected state the implementation
//! reaches is therefore one the specification reaches.

use stateright::Model;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use tumult_models::core_model::{CoreConfig, CoreModel};
use tumult_models::invariants::{ClusterState, Index, NodeId, Payload, Role, Term};
use tumult_models::model::{ModelConfig, RaftModel};

/// One server as both models see it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Projected {
    term: Term,
    vote: Option<NodeId>,
    /// Leads its term. Candidates and pre-candidates are not told apart
    /// from followers: a candidate whose election timed out becomes a
    /// pre-candidate of the same term in the core, a step the
    /// specification's bounds leave out when the next term is past them.
    leader: bool,
    snapshot: (Index, Term),
    /// Entry terms, with the voters of configuration entries.
    log: Vec<(Term, Option<Vec<NodeId>>)>,
    commit: Index,
}

type Cluster = Vec<Projected>;

fn project(c: &ClusterState) -> Cluster {
    c.servers
        .values()
        .map(|s| Projected {
            term: s.term,
            vote: s.vote,
            leader: s.role == Role::Leader,
            snapshot: (s.snapshot.index, s.snapshot.term),
            log: s
                .log
                .iter()
                .map(|e| match &e.payload {
                    Payload::Config(v) => (e.term, Some(v.clone())),
                    _ => (e.term, None),
                })
                .collect(),
            commit: s.commit,
        })
        .collect()
}

/// Every projected step `(before, after)` of `model`'s reachable states,
/// `before != after`, and every projected state.
fn projected_steps<M>(
    model: &M,
    project: impl Fn(&M::State) -> Cluster,
    limit: usize,
) -> (BTreeSet<Cluster>, BTreeSet<(Cluster, Cluster)>)
where
    M: Model,
    M::State: Clone + Hash + Eq,
{
    // Fingerprints only, and a stack: the core's states are large.
    let fingerprint = |s: &M::State| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stack = Vec::new();
    for s in model.init_states() {
        if seen.insert(fingerprint(&s)) {
            stack.push(s);
        }
    }
    let mut states = BTreeSet::new();
    let mut steps = BTreeSet::new();
    let mut actions = Vec::new();
    while let Some(s) = stack.pop() {
        assert!(seen.len() <= limit, "more than {limit} states");
        let p = project(&s);
        actions.clear();
        model.actions(&s, &mut actions);
        for a in actions.drain(..) {
            let Some(next) = model.next_state(&s, a) else {
                continue;
            };
            let q = project(&next);
            if q != p {
                steps.insert((p.clone(), q));
            }
            if seen.insert(fingerprint(&next)) {
                stack.push(next);
            }
        }
        states.insert(p);
    }
    (states, steps)
}

/// The projected states reachable from each state in `graph`'s steps.
struct Reach {
    next: BTreeMap<Cluster, Vec<Cluster>>,
    memo: BTreeMap<Cluster, BTreeSet<Cluster>>,
}

impl Reach {
    fn new(steps: &BTreeSet<(Cluster, Cluster)>) -> Self {
        let mut next: BTreeMap<Cluster, Vec<Cluster>> = BTreeMap::new();
        for (a, b) in steps {
            next.entry(a.clone()).or_default().push(b.clone());
        }
        Reach {
            next,
            memo: BTreeMap::new(),
        }
    }

    fn reaches(&mut self, from: &Cluster, to: &Cluster) -> bool {
        if !self.memo.contains_key(from) {
            let mut seen = BTreeSet::new();
            let mut queue = VecDeque::from([from.clone()]);
            while let Some(s) = queue.pop_front() {
                for n in self.next.get(&s).into_iter().flatten() {
                    if seen.insert(n.clone()) {
                        queue.push_back(n.clone());
                    }
                }
            }
            self.memo.insert(from.clone(), seen);
        }
        self.memo[from].contains(to)
    }
}

fn show(c: &Cluster) -> String {
    c.iter()
        .enumerate()
        .map(|(k, s)| format!("n{}: {s:?}", k + 1))
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// Checks the implementation's steps at these bounds against the specification's.
fn refines(servers: usize, max_term: Term, max_log: Index) {
    let spec = {
        let mut m = RaftModel::new(ModelConfig {
            servers,
            voters: servers,
            max_term,
            max_log,
            crashes: false,
            compaction: false,
            membership: false,
            transfer: false,
            ..ModelConfig::default()
        });
        // Server names are compared as they are.
        m.symmetry = false;
        m
    };
    let core = CoreModel::new(CoreConfig {
        servers,
        voters: servers,
        max_term,
        max_log,
        ..CoreConfig::quiet()
    });
    let start = std::time::Instant::now();
    let (spec_states, spec_steps) = projected_steps(&spec, |s| project(&s.cluster), 2_000_000);
    let (core_states, core_steps) = projected_steps(&core, |s| project(&s.cluster()), 2_000_000);
    eprintln!(
        "{servers} servers, term {max_term}, log {max_log}: specification {} projected states, \
         {} steps; implementation {} projected states, {} steps",
        spec_states.len(),
        spec_steps.len(),
        core_states.len(),
        core_steps.len()
    );
    eprintln!("  enumerated in {:.1} s", start.elapsed().as_secs_f64());
    let mut reach = Reach::new(&spec_steps);
    let bad: Vec<&(Cluster, Cluster)> = core_steps
        .iter()
        .filter(|(a, b)| !reach.reaches(a, b))
        .collect();
    for (a, b) in bad.iter().skip(1).take(12) {
        eprintln!("also:\n    {}\n  ->\n    {}", show(a), show(b));
    }
    if let Some((a, b)) = bad.first() {
        panic!(
            "{} of the implementation's {} steps are not the specification's; the first:\n  from\n    {}\n  to\n    {}\n  (known to the specification: {}, {})",
            bad.len(),
            core_steps.len(),
            show(a),
            show(b),
            spec_states.contains(a),
            spec_states.contains(b)
        );
    }
    let missing = core_states.difference(&spec_states).count();
    assert_eq!(missing, 0, "states the specification never reaches");
    // The implementation does reach states beyond the initial one.
    assert!(core_states.len() > 10, "{}", core_states.len());
}

// Larger bounds (3 servers, or a second term) give the core more than
// 2,000,000 states: it keeps every message in flight and every tick phase,
// which the specification abstracts away.
#[test]
fn two_cores_in_one_term_with_one_entry_refine_the_specification() {
    refines(2, 1, 1);
}

#[test]
fn two_cores_in_one_term_with_two_entries_refine_the_specification() {
    refines(2, 1, 2);
}
