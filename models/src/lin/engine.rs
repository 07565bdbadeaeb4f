//! Checks the keys of a history with porcupine-rs, one key at a time on a
//! few worker threads, within one deadline; shrinks a violation to a small
//! set of operations that still cannot be linearized and draws it.
//!
//! Only porcupine-rs's plain `check_operations_timeout` decides verdicts:
//! its `*_info_timeout` variants report `Illegal` when the deadline fires,
//! so the info variant is used only to draw a set already known illegal.

use super::spec::{KeyOps, Role, Spec};
use super::{CheckOptions, KeyReport, KeyResult, Verdict, ViolationOp};
use porcupine::{CheckResult, Operation};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A deadline `timeout` after `start`, saturating far in the future.
pub(crate) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(start)
}

fn check_until<M: Spec>(ops: &[Operation<M>], deadline: Instant) -> CheckResult {
    if ops.is_empty() {
        return CheckResult::Ok;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return CheckResult::Unknown;
    }
    porcupine::check_operations_timeout(ops, left)
}

/// What the per-key stage found.
pub(crate) struct Outcome {
    pub verdict: Verdict,
    pub per_key: Vec<KeyReport>,
}

/// First time slice a key gets; each later round gives the keys still
/// undecided `SLICE_GROWTH` times more.
const FIRST_SLICE: Duration = Duration::from_millis(20);
const SLICE_GROWTH: u32 = 4;

/// Checks every key; on a violation, shrinks and draws the first violating
/// key (in key order).
///
/// porcupine-rs cannot be stopped from outside except by its timeout, so
/// while several keys are undecided they are checked in rounds of growing
/// time slices (20 ms, 80 ms, ...): a key that runs out of its slice starts
/// again in the next round, and once a violation is found no new round
/// starts. A hard key then delays a violation in another key by at most one
/// slice. Restarts cost at most 4/3 of the time a key needs (usually far
/// less: most keys finish in the first slice, and the last undecided key
/// runs to the deadline without restarts).
pub(crate) fn check_keys<M: Spec>(
    keys: &[KeyOps<M>],
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
    let mut results: Vec<(KeyResult, f64)> = vec![(KeyResult::Unknown, 0.0); n];
    // Biggest keys first, so one slow key does not start last.
    let mut pending: Vec<usize> = (0..n).collect();
    pending.sort_by_key(|&i| std::cmp::Reverse(keys[i].ops.len()));
    let mut slice = FIRST_SLICE;
    while !pending.is_empty() && Instant::now() < deadline {
        // A key checked alone cannot be overtaken by another's violation:
        // it gets all the time left rather than restarts.
        let this_slice = if pending.len() == 1 {
            opts.timeout
        } else {
            slice
        };
        let round = check_round(keys, &pending, this_slice, deadline, threads);
        let mut undecided = Vec::new();
        for (&i, (result, seconds)) in pending.iter().zip(round) {
            results[i].1 += seconds;
            match result {
                CheckResult::Ok => results[i].0 = KeyResult::Ok,
                CheckResult::Illegal => results[i].0 = KeyResult::Violation,
                CheckResult::Unknown => undecided.push(i),
            }
        }
        pending = undecided;
        if results.iter().any(|r| r.0 == KeyResult::Violation) {
            for &i in &pending {
                results[i].0 = KeyResult::Skipped;
            }
            break;
        }
        slice = slice.saturating_mul(SLICE_GROWTH);
    }

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
        Some(i) => violation(&keys[i], per_key[i].seconds, opts, deadline),
        None if per_key.iter().any(|r| r.result == KeyResult::Unknown) => Verdict::Unknown,
        None => Verdict::Ok,
    };
    Outcome { verdict, per_key }
}

/// Checks the keys `which` for at most `slice` each, on `threads` workers;
/// returns each key's result and seconds, in the order of `which`. Stops
/// handing out keys once one is found not linearizable (the rest get
/// `Unknown` and no time).
fn check_round<M: Spec>(
    keys: &[KeyOps<M>],
    which: &[usize],
    slice: Duration,
    deadline: Instant,
    threads: usize,
) -> Vec<(CheckResult, f64)> {
    let results: Vec<Mutex<(CheckResult, f64)>> = which
        .iter()
        .map(|_| Mutex::new((CheckResult::Unknown, 0.0)))
        .collect();
    let next = AtomicUsize::new(0);
    let found = AtomicBool::new(false);
    let work = || loop {
        let slot = next.fetch_add(1, Ordering::Relaxed);
        if slot >= which.len() || found.load(Ordering::Relaxed) {
            break;
        }
        let t0 = Instant::now();
        let until = deadline_after(t0, slice).min(deadline);
        let result = check_until(&keys[which[slot]].ops, until);
        if result == CheckResult::Illegal {
            found.store(true, Ordering::Relaxed);
        }
        *results[slot].lock().unwrap_or_else(|e| e.into_inner()) =
            (result, t0.elapsed().as_secs_f64());
    };
    let workers = threads.min(which.len()).max(1);
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(work);
            }
        });
    }
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

fn violation<M: Spec>(
    key: &KeyOps<M>,
    found_in: f64,
    opts: &CheckOptions,
    deadline: Instant,
) -> Verdict {
    let t0 = Instant::now();
    let shrink_deadline = match opts.shrink {
        Some(budget) => deadline_after(t0, budget).min(deadline),
        None => t0,
    };
    let (kept, minimal) = if opts.shrink.is_some() {
        shrink(&key.ops, shrink_deadline, Duration::from_secs_f64(found_in))
    } else {
        ((0..key.ops.len()).collect(), false)
    };
    let shrink_seconds = t0.elapsed().as_secs_f64();
    let mut ops: Vec<Operation<M>> = kept.iter().map(|&i| key.ops[i].clone()).collect();
    ops.sort_by_key(|o| (o.call_time, o.return_time));
    let (html, html_error) = match &opts.html {
        Some(path) => match draw(&ops, path) {
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

/// Draws `ops` (known not linearizable) with porcupine-rs's visualization.
fn draw<M: Spec>(ops: &[Operation<M>], path: &Path) -> std::io::Result<()> {
    // The verdict is known; the info variant only supplies the partial
    // linearizations to draw, so its timeout misreport does not matter here.
    let (_, info) = porcupine::check_operations_info_timeout(ops, Duration::from_secs(10));
    let mut out = Vec::new();
    porcupine::visualize::<M, _>(&info, &mut out)?;
    std::fs::write(path, out)
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
                    match check_until(&sub, deadline_after(Instant::now(), per_try).min(deadline)) {
                        CheckResult::Illegal => {
                            cur = rest;
                            changed = true;
                            progress = true;
                        }
                        CheckResult::Ok => i += chunk,
                        CheckResult::Unknown => {
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
