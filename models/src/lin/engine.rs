//! Checks the keys of a history with our search (see [`search`]), one key
//! at a time on a few worker threads, within one deadline and one memory
//! budget; shrinks a violation to a small set of operations that still
//! cannot be linearized and draws it.
//!
//! Only a search that ran to its end decides: one halted by the deadline,
//! by the memory budget or because another key was found not linearizable
//! decides nothing.

use super::search::{self, Found, Halt, Limits, MemoryPool};
use super::spec::{KeyOps, Operation, Role, Spec};
use super::{CheckOptions, KeyReport, KeyResult, Verdict, ViolationOp};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// A deadline `timeout` after `start`, saturating far in the future.
pub(crate) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(start)
}

/// Searches `ops` until `deadline`, `stop` or the pool's end.
fn check_until<M: Spec>(
    ops: &[Operation<M>],
    deadline: Instant,
    stop: Option<&AtomicBool>,
    pool: &MemoryPool,
) -> Found {
    let limits = Limits {
        deadline,
        stop,
        pool,
    };
    search::check(ops, &limits).found
}

/// `ops` without the indeterminate operations that may only have set values
/// nobody saw, when no operation of the key is a [`Role::Blocker`].
///
/// Such an operation cannot decide the verdict, and it is what makes
/// list-append histories explode: the search remembers every order of
/// every subset of the open appends. Dropping it keeps the verdict both ways:
/// - a linearization of the rest extends to one of the whole, with the
///   dropped operations last (they are open, so they may end at any time;
///   an append, a write and an indeterminate cas are legal in any state);
/// - from a linearization of the whole, removing them leaves every other
///   operation seeing what it saw: each read or cas saw a value set by a
///   changer that is not dropped (no dropped value was seen), and without
///   blockers no operation relies on a value being absent (the same argument
///   as the shrinking roles of [`Role`]).
fn without_unobserved_open_changes<M: Spec>(ops: &[Operation<M>]) -> Vec<Operation<M>> {
    let roles: Vec<Role> = ops.iter().map(|o| M::role(&o.op)).collect();
    if roles.iter().any(|r| matches!(r, Role::Blocker { .. })) {
        return ops.to_vec();
    }
    let seen: BTreeSet<i64> = roles
        .iter()
        .flat_map(|r| match r {
            Role::Observer { refs } | Role::Changer { refs, .. } => refs.as_slice(),
            Role::Blocker { .. } | Role::Pinned => &[],
        })
        .copied()
        .collect();
    ops.iter()
        .zip(&roles)
        .filter(|(o, role)| {
            let open = o.metadata.as_ref().is_some_and(|m| m.open);
            let unseen = match role {
                Role::Changer { sets, .. } => sets.iter().all(|v| !seen.contains(v)),
                _ => false,
            };
            !(open && unseen)
        })
        .map(|(o, _)| o.clone())
        .collect()
}

/// What the per-key stage found.
pub(crate) struct Outcome {
    pub verdict: Verdict,
    pub per_key: Vec<KeyReport>,
}

/// Bounds of the first time slice a key gets while other keys wait for a
/// thread; each time a key runs out of its slice it goes to the back of the
/// queue and later gets `SLICE_GROWTH` times more.
const MIN_FIRST_SLICE: Duration = Duration::from_millis(20);
const MAX_FIRST_SLICE: Duration = Duration::from_millis(500);
/// Wall time the first pass over all keys may take at most when every key
/// is hard (it sets the first slice between the bounds above).
const FIRST_PASS: Duration = Duration::from_secs(2);
const SLICE_GROWTH: u32 = 4;

/// The first slice for `keys` keys on `workers` threads: as long as the
/// first pass over all keys stays within [`FIRST_PASS`], so that typical
/// keys finish without a restart while a violation behind many hard keys is
/// still reached soon.
fn first_slice(keys: usize, workers: usize) -> Duration {
    let passes = keys.div_ceil(workers.max(1)).max(1) as u32;
    (FIRST_PASS / passes).clamp(MIN_FIRST_SLICE, MAX_FIRST_SLICE)
}

/// Checks every key; on a violation, shrinks and draws the violating key
/// (the first in key order, should two be found at the same time).
///
/// Keys are checked on `opts.threads` workers from a queue, biggest first.
/// When a key is found not linearizable, the checks still running are
/// stopped at once and no new one starts. While other
/// keys wait for a thread, a check gets a time slice (see [`first_slice`]):
/// a key that runs out of it goes to the back of the queue and starts again
/// later with `SLICE_GROWTH` times more, so a hard key delays a violation
/// in a waiting key by at most one slice. Once no key waits, every check
/// runs to the deadline: a restart could not help anyone. Restarts cost at
/// most 4/3 of the time a key needs, and none for keys that finish within
/// their first slice.
///
/// The searches running at the same time share `opts.memory_budget`. A
/// key whose search alone needs more is [`KeyResult::OverBudget`]; one
/// that ran short while other searches held part of the budget goes back
/// to the queue and runs again with the budget to itself.
pub(crate) fn check_keys<M: Spec>(
    keys: &[&KeyOps<M>],
    opts: &CheckOptions,
    start: Instant,
) -> Outcome {
    let deadline = deadline_after(start, opts.timeout);
    let n = keys.len();
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let workers = threads.min(n).max(1);
    let pruned: Vec<KeyOps<M>> = keys
        .iter()
        .map(|k| KeyOps {
            key: k.key.clone(),
            ops: without_unobserved_open_changes(&k.ops),
        })
        .collect();
    let pool = MemoryPool::new(opts.memory_budget);
    let results = run_queue(&pruned, first_slice(n, workers), deadline, workers, &pool);

    let per_key: Vec<KeyReport> = keys
        .iter()
        .zip(results)
        .map(|(k, (result, seconds))| KeyReport {
            key: k.key.clone(),
            result,
            operations: k.ops.len(),
            seconds,
        })
        .collect();

    let violating = per_key
        .iter()
        .position(|r| r.result == KeyResult::Violation);
    let verdict = match violating {
        Some(i) => violation(&pruned[i], per_key[i].seconds, opts, deadline, &pool),
        None if per_key
            .iter()
            .any(|r| matches!(r.result, KeyResult::Unknown | KeyResult::OverBudget)) =>
        {
            Verdict::Unknown
        }
        None => Verdict::Ok,
    };
    Outcome { verdict, per_key }
}

/// Searches only the keys `subset` (indices into `keys`) whose result an
/// earlier stage left open, writes their results into `per_key` (aligned
/// with `keys`) and returns the search's verdict (`Ok` with nothing to
/// search).
pub(crate) fn check_subset<M: Spec>(
    keys: &[KeyOps<M>],
    subset: &[usize],
    per_key: &mut [KeyReport],
    opts: &CheckOptions,
    start: Instant,
) -> Verdict {
    if subset.is_empty() {
        return Verdict::Ok;
    }
    let searched: Vec<&KeyOps<M>> = subset.iter().map(|&i| &keys[i]).collect();
    let outcome = check_keys(&searched, opts, start);
    for (&i, r) in subset.iter().zip(outcome.per_key) {
        per_key[i] = r;
    }
    outcome.verdict
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks the keys on `workers` threads from a queue (biggest keys first,
/// so one slow key does not start last); returns each key's result and
/// seconds. A key not decided when a violation was found is `Skipped`;
/// one out of time at the deadline is `Unknown`; one whose search alone
/// needed more than the pool is `OverBudget`.
fn run_queue<M: Spec>(
    keys: &[KeyOps<M>],
    first: Duration,
    deadline: Instant,
    workers: usize,
    pool: &MemoryPool,
) -> Vec<(KeyResult, f64)> {
    let n = keys.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i].ops.len()));
    // (key, its next slice, whether it must have the pool to itself)
    let waiting: Mutex<VecDeque<(usize, Duration, bool)>> =
        Mutex::new(order.into_iter().map(|i| (i, first, false)).collect());
    let results: Vec<Mutex<(KeyResult, f64)>> = (0..n)
        .map(|_| Mutex::new((KeyResult::Unknown, 0.0)))
        .collect();
    // Set once a key is found not linearizable: stops every other check.
    let stop = AtomicBool::new(false);
    // Searches share the pool (read); a key that ran short of memory while
    // others held part of it runs alone (write).
    let sharing = RwLock::new(());
    let work = || {
        // The key this worker holds, its next slice and whether it runs alone.
        let mut held: Option<(usize, Duration, bool)> = None;
        loop {
            if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                break;
            }
            // Keep the key just out of time when no other key waits for a
            // thread, else queue it and take the next.
            let ((key, slice, exclusive), alone) = {
                let mut q = lock(&waiting);
                let next = match held.take() {
                    Some(h) if q.is_empty() => h,
                    Some(h) => {
                        q.push_back(h);
                        q.pop_front().expect("just pushed")
                    }
                    None => match q.pop_front() {
                        Some(k) => k,
                        None => break,
                    },
                };
                // Once the queue is empty it stays empty (a key is only
                // queued in exchange for another): nobody waits any more.
                (next, q.is_empty())
            };
            let run = || {
                let t0 = Instant::now();
                let until = if alone {
                    deadline
                } else {
                    deadline_after(t0, slice).min(deadline)
                };
                let found = check_until(&keys[key].ops, until, Some(&stop), pool);
                (found, t0.elapsed().as_secs_f64())
            };
            let (found, seconds) = if exclusive {
                let _alone = sharing.write().unwrap_or_else(|e| e.into_inner());
                run()
            } else {
                let _shared = sharing.read().unwrap_or_else(|e| e.into_inner());
                run()
            };
            let decided = match found {
                Found::Linearizable => Some(KeyResult::Ok),
                Found::NotLinearizable => {
                    stop.store(true, Ordering::SeqCst);
                    Some(KeyResult::Violation)
                }
                Found::Halted(Halt::Memory { alone: false, .. }) if !exclusive => {
                    // Others held part of the pool: again, with all of it.
                    held = Some((key, slice, true));
                    None
                }
                Found::Halted(Halt::Memory { .. }) => Some(KeyResult::OverBudget),
                Found::Halted(Halt::Deadline | Halt::Stopped) => {
                    held = Some((key, slice.saturating_mul(SLICE_GROWTH), exclusive));
                    None
                }
            };
            let mut r = lock(&results[key]);
            r.1 += seconds;
            if let Some(d) = decided {
                r.0 = d;
            }
        }
    };
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    let found = stop.into_inner();
    results
        .into_iter()
        .map(|m| {
            let (result, seconds) = m.into_inner().unwrap_or_else(|e| e.into_inner());
            match result {
                KeyResult::Unknown if found => (KeyResult::Skipped, seconds),
                r => (r, seconds),
            }
        })
        .collect()
}

fn violation<M: Spec>(
    key: &KeyOps<M>,
    found_in: f64,
    opts: &CheckOptions,
    deadline: Instant,
    pool: &MemoryPool,
) -> Verdict {
    let t0 = Instant::now();
    let shrink_deadline = match opts.shrink {
        Some(budget) => deadline_after(t0, budget).min(deadline),
        None => t0,
    };
    let (kept, minimal) = if opts.shrink.is_some() {
        shrink(
            &key.ops,
            shrink_deadline,
            Duration::from_secs_f64(found_in),
            pool,
        )
    } else {
        ((0..key.ops.len()).collect(), false)
    };
    let shrink_seconds = t0.elapsed().as_secs_f64();
    let mut ops: Vec<Operation<M>> = kept.iter().map(|&i| key.ops[i].clone()).collect();
    ops.sort_by_key(|o| (o.call_time, o.return_time));
    let (html, html_error) = match &opts.html {
        Some(path) => match draw(&key.key, &ops, path, pool) {
            Ok(()) => (Some(path.clone()), None),
            Err(e) => (None, Some(format!("{}: {e}", path.display()))),
        },
        None => (None, None),
    };
    let described = ops
        .iter()
        .map(|o| {
            let meta = o.metadata.unwrap_or(super::spec::OpMeta {
                process: o.client_id.unwrap_or(0) as u64,
                index: 0,
                invoke_line: 0,
                complete_line: None,
                invoke_time: 0,
                complete_time: None,
                open: false,
            });
            ViolationOp {
                process: meta.process,
                operation: M::describe_operation(&o.op),
                index: meta.index,
                invoke_line: meta.invoke_line,
                complete_line: meta.complete_line,
                invoke_time: meta.invoke_time,
                complete_time: meta.complete_time,
                indeterminate: meta.open,
            }
        })
        .collect();
    Verdict::Violation {
        key: key.key.clone(),
        ops: described,
        key_operations: key.ops.len(),
        minimal,
        shrink_seconds,
        html,
        html_error,
    }
}

/// Draws `ops` (known not linearizable) with the longest partial
/// linearizations our search finds in at most 10 s (see [`super::draw`]).
fn draw<M: Spec>(
    key: &str,
    ops: &[Operation<M>],
    path: &Path,
    pool: &MemoryPool,
) -> std::io::Result<()> {
    let limits = Limits {
        deadline: deadline_after(Instant::now(), Duration::from_secs(10)),
        stop: None,
        pool,
    };
    let (searched, partials) = search::explain(ops, &limits);
    let complete = !matches!(searched.found, Found::Halted(_));
    std::fs::write(path, super::draw::page(key, ops, &partials, complete))
}

/// Greedily drops operations (chunks first, then single ones) while the rest
/// stays not linearizable, using only drops that keep the rest a proof
/// against the whole history (see [`Role`]). Returns the kept indices and
/// whether shrinking finished (before the deadline, and without skipping a
/// candidate that took too long).
pub(crate) fn shrink<M: Spec>(
    ops: &[Operation<M>],
    deadline: Instant,
    found_in: Duration,
    pool: &MemoryPool,
) -> (Vec<usize>, bool) {
    // A candidate that takes much longer than the whole key did is skipped.
    let per_try = found_in.saturating_mul(4).max(Duration::from_millis(100));
    let roles: Vec<Role> = ops.iter().map(|o| M::role(&o.op)).collect();
    let mut cur: Vec<usize> = (0..ops.len()).collect();
    let mut dropping = vec![false; ops.len()];
    let mut gave_up = false;
    // Phase 0 drops only state-preserving operations; phase 1 also drops
    // state changers. Repeat both until nothing moves.
    'rounds: loop {
        let mut progress = false;
        for changers in [false, true] {
            let mut chunk = cur.len().div_ceil(2).max(1);
            loop {
                let mut changed = false;
                let mut i = 0;
                while i < cur.len() {
                    let window = &cur[i..(i + chunk).min(cur.len())];
                    let drop: Vec<usize> = window
                        .iter()
                        .copied()
                        .filter(|&j| match roles[j] {
                            Role::Observer { .. } | Role::Blocker { .. } => true,
                            Role::Changer { .. } => changers,
                            Role::Pinned => false,
                        })
                        .collect();
                    for &j in &drop {
                        dropping[j] = true;
                    }
                    let sound = !drop.is_empty() && sound_to_drop(&roles, &cur, &drop, &dropping);
                    let rest: Vec<usize> = if sound {
                        cur.iter().copied().filter(|&j| !dropping[j]).collect()
                    } else {
                        Vec::new()
                    };
                    for &j in &drop {
                        dropping[j] = false;
                    }
                    if !sound {
                        i += chunk;
                        continue;
                    }
                    let sub: Vec<Operation<M>> = rest.iter().map(|&j| ops[j].clone()).collect();
                    let until = deadline_after(Instant::now(), per_try).min(deadline);
                    match check_until(&sub, until, None, pool) {
                        Found::NotLinearizable => {
                            cur = rest;
                            changed = true;
                            progress = true;
                        }
                        Found::Linearizable => i += chunk,
                        Found::Halted(_) => {
                            gave_up = true;
                            if Instant::now() >= deadline {
                                break 'rounds;
                            }
                            i += chunk;
                        }
                    }
                }
                if chunk == 1 {
                    if !changed {
                        break;
                    }
                } else {
                    chunk = chunk.div_ceil(2);
                }
            }
        }
        if !progress {
            break;
        }
    }
    (cur, !gave_up)
}

/// Whether dropping `drop` from `cur` keeps the rest a proof (see [`Role`]).
fn sound_to_drop(roles: &[Role], cur: &[usize], drop: &[usize], dropping: &[bool]) -> bool {
    let sets_of = |j: usize| match &roles[j] {
        Role::Changer { sets, .. } => sets.as_slice(),
        _ => &[],
    };
    let dropped_sets: HashSet<i64> = drop.iter().flat_map(|&j| sets_of(j)).copied().collect();
    if !drop
        .iter()
        .any(|&j| matches!(roles[j], Role::Changer { .. }))
    {
        return true;
    }
    let rest = || cur.iter().copied().filter(|&j| !dropping[j]);
    let rest_sets: HashSet<i64> = rest().flat_map(sets_of).copied().collect();
    rest().all(|j| match &roles[j] {
        Role::Blocker { expected } => !rest_sets.contains(expected),
        Role::Observer { refs } | Role::Changer { refs, .. } => {
            refs.iter().all(|r| !dropped_sets.contains(r))
        }
        Role::Pinned => true,
    })
}
