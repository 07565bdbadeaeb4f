//! The linearizability search over the operations of one key: Wing and
//! Gong's backtracking with Lowe's memo of explored configurations, every
//! byte it holds counted against a memory budget.
//!
//! The operations become a list of entries, each operation's call and its
//! return, in time order. The search walks the list from the front. At a
//! call it tries to *linearize* the operation: to apply it to the spec and,
//! if the spec allows it, take its call and return out of the list, push
//! the choice on a stack and start again from the front. At a return it
//! has met an operation that must already have taken effect and has not:
//! the last choice is undone (its entries go back into the list) and the
//! walk resumes after the undone call. An empty list is a linearization;
//! a return met with nothing left to undo means there is none.
//!
//! A configuration is the set of operations linearized so far (a bitset)
//! with the spec's state. Two paths that reach the same configuration have
//! the same futures, so a choice that leads to a configuration seen before
//! is not taken again: that memo is what makes the search practical, and
//! it is also all of its memory. The memo keeps its entries in chunks of
//! [`CHUNK`] (bitset words, hash, state) and finds them through an open
//! addressing table of entry numbers; the set's hash is kept up to date by
//! xor-ing one fixed random word per operation, so a lookup costs one
//! state hash and, on a hit, one bitset comparison.
//!
//! Every allocation the search makes (the list, the stack, the memo's
//! chunks and table, and the heap a state holds beyond itself, see
//! [`Spec::state_heap_bytes`]) is charged, before it is made, to a
//! [`MemoryPool`] that the searches of one check share. A search that
//! cannot get the bytes it needs halts with [`Halt::Memory`] instead of
//! allocating, and frees everything when it returns. The deadline and the
//! stop flag are looked at every [`CHECK_EVERY`] steps. A halted search
//! decides nothing: only [`Found::Linearizable`] and
//! [`Found::NotLinearizable`] are verdicts.

use super::spec::{Operation, Spec};
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Memory that the searches of one check share, in bytes.
#[derive(Debug)]
pub(crate) struct MemoryPool {
    budget: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    /// A pool of `budget` bytes.
    pub(crate) fn new(budget: u64) -> MemoryPool {
        MemoryPool {
            budget: usize::try_from(budget).unwrap_or(usize::MAX),
            used: AtomicUsize::new(0),
        }
    }

    /// Bytes held by searches right now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn try_take(&self, bytes: usize) -> bool {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(bytes).filter(|&n| n <= self.budget) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// When a search must give up.
pub(crate) struct Limits<'a> {
    /// Wall-clock time by which it must have ended.
    pub deadline: Instant,
    /// Once set, the search ends at once (another key was found not
    /// linearizable).
    pub stop: Option<&'a AtomicBool>,
    /// Where its memory comes from.
    pub pool: &'a MemoryPool,
}

/// Why a search ended without deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Halt {
    /// The deadline passed.
    Deadline,
    /// The stop flag was set.
    Stopped,
    /// It needed more memory than the pool had left.
    Memory {
        /// Bytes it held when it halted.
        held: usize,
        /// Bytes it asked for on top of them.
        wanted: usize,
        /// `true`: it alone would have held more than the whole budget;
        /// `false`: other searches held part of the budget at the time.
        alone: bool,
    },
}

/// What a search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// There is a linearization.
    Linearizable,
    /// There is none.
    NotLinearizable,
    /// It ended before deciding.
    Halted(Halt),
}

/// A search's result with its figures.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // the figures are for tests and tracing
pub(crate) struct Searched {
    /// The result.
    pub found: Found,
    /// Configurations remembered.
    pub states: usize,
    /// Most bytes held at once (as charged to the pool).
    pub peak_bytes: usize,
}

/// How many steps pass between looks at the clock and the stop flag.
const CHECK_EVERY: u64 = 1024;
/// Entries per memo chunk.
const CHUNK: usize = 1024;
/// An empty slot of the memo's table.
const EMPTY: u32 = u32::MAX;
/// Bytes taken from the pool at a time (at most a 64th of the budget), so
/// that searches running at once do not fight over the pool's counter.
const SLAB: usize = 1 << 20;
/// Bytes an allocation costs beyond what it holds (the allocator's own).
const ALLOC_OVERHEAD: usize = 16;

/// Not enough memory: `alone` as in [`Halt::Memory`].
struct OutOfMemory {
    wanted: usize,
    alone: bool,
}

/// A search's share of the pool.
struct Account<'a> {
    pool: &'a MemoryPool,
    /// Bytes taken from the pool.
    taken: usize,
    /// Bytes of those in use.
    used: usize,
    peak: usize,
}

impl<'a> Account<'a> {
    fn new(pool: &'a MemoryPool) -> Account<'a> {
        Account {
            pool,
            taken: 0,
            used: 0,
            peak: 0,
        }
    }

    /// Charges `bytes` about to be allocated.
    fn charge(&mut self, bytes: usize) -> Result<(), OutOfMemory> {
        let want = self.used.saturating_add(bytes);
        if want > self.taken {
            let need = want - self.taken;
            let slab = need.max(SLAB.min(self.pool.budget / 64));
            if self.pool.try_take(slab) {
                self.taken += slab;
            } else if slab > need && self.pool.try_take(need) {
                self.taken += need;
            } else {
                return Err(OutOfMemory {
                    wanted: bytes,
                    alone: want > self.pool.budget,
                });
            }
        }
        self.used = want;
        self.peak = self.peak.max(want);
        Ok(())
    }
}

impl Drop for Account<'_> {
    fn drop(&mut self) {
        self.pool.give_back(self.taken);
    }
}

/// A small fast hasher for states (deterministic: no random keys).
#[derive(Default)]
struct StateHasher(u64);

impl StateHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(0x9e6c_63d0_676a_9a99);
    }
}

impl Hasher for StateHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A well-spread 64-bit word from `x` (a bijective mixer).
fn spread(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_state<S: Hash>(s: &S) -> u64 {
    let mut h = StateHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// One chunk of memo entries.
struct Chunk<S> {
    /// `CHUNK * words` words: entry `k`'s set is `bits[k * words..][..words]`.
    bits: Vec<u64>,
    hashes: Vec<u64>,
    states: Vec<S>,
}

/// The configurations explored: (set of linearized operations, state).
struct Memo<S> {
    words: usize,
    chunks: Vec<Chunk<S>>,
    len: usize,
    /// Entry numbers by hash, linear probing, at most half full.
    table: Vec<u32>,
}

impl<S: Eq + Clone> Memo<S> {
    const FIRST_TABLE: usize = 1024;

    fn chunk_bytes(words: usize) -> usize {
        CHUNK * (words * 8 + 8 + size_of::<S>()) + 3 * ALLOC_OVERHEAD + size_of::<Chunk<S>>()
    }

    fn new(words: usize, acct: &mut Account<'_>) -> Result<Memo<S>, OutOfMemory> {
        acct.charge(Self::FIRST_TABLE * 4 + ALLOC_OVERHEAD)?;
        Ok(Memo {
            words,
            chunks: Vec::new(),
            len: 0,
            table: vec![EMPTY; Self::FIRST_TABLE],
        })
    }

    /// Remembers (`bits`, `state`) with hash `h`; `false` if it was known.
    fn insert<M: Spec<State = S>>(
        &mut self,
        h: u64,
        bits: &[u64],
        state: &S,
        acct: &mut Account<'_>,
    ) -> Result<bool, OutOfMemory> {
        let w = self.words;
        let mut mask = self.table.len() - 1;
        let mut slot = (h as usize) & mask;
        loop {
            let e = self.table[slot];
            if e == EMPTY {
                break;
            }
            let (c, k) = (e as usize / CHUNK, e as usize % CHUNK);
            let chunk = &self.chunks[c];
            if chunk.hashes[k] == h
                && chunk.bits[k * w..(k + 1) * w] == *bits
                && chunk.states[k] == *state
            {
                return Ok(false);
            }
            slot = (slot + 1) & mask;
        }
        if self.len >= (EMPTY as usize) - 1 {
            return Err(OutOfMemory {
                wanted: 0,
                alone: true,
            });
        }
        // Room first, then the entry.
        if self.len.is_multiple_of(CHUNK) {
            acct.charge(Self::chunk_bytes(w) + size_of::<Chunk<S>>())?;
            self.chunks.push(Chunk {
                bits: Vec::with_capacity(CHUNK * w),
                hashes: Vec::with_capacity(CHUNK),
                states: Vec::with_capacity(CHUNK),
            });
        }
        if (self.len + 1) * 2 > self.table.len() {
            // The old table stays charged: allocators keep much of what is
            // freed (measured: without this, a search at a 512 MiB budget
            // held 640 MB), and both tables live while the entries move.
            acct.charge(self.table.len() * 2 * 4 + ALLOC_OVERHEAD)?;
            self.grow_table();
            mask = self.table.len() - 1;
            slot = (h as usize) & mask;
            while self.table[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
        }
        let heap = M::state_heap_bytes(state);
        if heap > 0 {
            acct.charge(heap)?;
        }
        let chunk = self
            .chunks
            .last_mut()
            .expect("a chunk with room was just ensured");
        chunk.bits.extend_from_slice(bits);
        chunk.hashes.push(h);
        chunk.states.push(state.clone());
        self.table[slot] = self.len as u32;
        self.len += 1;
        Ok(true)
    }

    fn grow_table(&mut self) {
        let size = self.table.len() * 2;
        let mask = size - 1;
        let mut table = vec![EMPTY; size];
        for (c, chunk) in self.chunks.iter().enumerate() {
            for (k, &h) in chunk.hashes.iter().enumerate() {
                let mut slot = (h as usize) & mask;
                while table[slot] != EMPTY {
                    slot = (slot + 1) & mask;
                }
                table[slot] = (c * CHUNK + k) as u32;
            }
        }
        self.table = table;
    }
}

/// The longest partial linearizations seen, for drawing a violation.
pub(crate) struct Partials {
    /// Distinct partial linearizations (operation indices in order),
    /// longest first.
    pub seqs: Vec<Vec<usize>>,
    /// Per operation, the longest of `seqs` that holds it.
    pub best: Vec<Option<usize>>,
}

/// What [`Partials`] is built from during the search.
struct Longest {
    best_len: Vec<u32>,
    best: Vec<u32>,
    seqs: Vec<Vec<u32>>,
}

impl Longest {
    fn new(n: usize) -> Longest {
        Longest {
            best_len: vec![0; n],
            best: vec![EMPTY; n],
            seqs: Vec::new(),
        }
    }

    /// The stack (calls of the operations linearized, in order) is one
    /// entry longer: keep it if it is the longest yet for one of them.
    fn record<S>(&mut self, stack: &[(u32, S)], acct: &mut Account<'_>) -> Result<(), OutOfMemory> {
        let d = stack.len() as u32;
        if stack
            .iter()
            .all(|(c, _)| self.best_len[(c / 2) as usize] >= d)
        {
            return Ok(());
        }
        acct.charge(stack.len() * 4 + 24 + ALLOC_OVERHEAD)?;
        let id = self.seqs.len() as u32;
        let seq: Vec<u32> = stack.iter().map(|(c, _)| c / 2).collect();
        for &i in &seq {
            if self.best_len[i as usize] < d {
                self.best_len[i as usize] = d;
                self.best[i as usize] = id;
            }
        }
        self.seqs.push(seq);
        Ok(())
    }

    /// The sequences still some operation's best, longest first.
    fn finish(self) -> Partials {
        let mut used: Vec<u32> = self.best.iter().copied().filter(|&b| b != EMPTY).collect();
        used.sort_unstable();
        used.dedup();
        // Longest first; equal lengths in the order they were found.
        used.sort_by_key(|&id| (std::cmp::Reverse(self.seqs[id as usize].len()), id));
        let mut renumber = vec![EMPTY; self.seqs.len()];
        for (new, &old) in used.iter().enumerate() {
            renumber[old as usize] = new as u32;
        }
        Partials {
            seqs: used
                .iter()
                .map(|&id| self.seqs[id as usize].iter().map(|&i| i as usize).collect())
                .collect(),
            best: self
                .best
                .iter()
                .map(|&b| (b != EMPTY).then(|| renumber[b as usize] as usize))
                .collect(),
        }
    }
}

/// Whether `ops` can be linearized, within `limits`.
pub(crate) fn check<M: Spec>(ops: &[Operation<M>], limits: &Limits<'_>) -> Searched {
    search(ops, limits, None)
}

/// [`check`], also keeping for every operation the longest partial
/// linearization that holds it (costlier: for drawing small sets).
pub(crate) fn explain<M: Spec>(ops: &[Operation<M>], limits: &Limits<'_>) -> (Searched, Partials) {
    let mut longest = Longest::new(ops.len());
    let searched = search(ops, limits, Some(&mut longest));
    (searched, longest.finish())
}

fn search<M: Spec>(
    ops: &[Operation<M>],
    limits: &Limits<'_>,
    mut longest: Option<&mut Longest>,
) -> Searched {
    let mut acct = Account::new(limits.pool);
    let halted = |h: Halt, states: usize, acct: &Account<'_>| Searched {
        found: Found::Halted(h),
        states,
        peak_bytes: acct.peak,
    };
    let oom = |e: OutOfMemory, states: usize, acct: &Account<'_>| Searched {
        found: Found::Halted(Halt::Memory {
            held: acct.used,
            wanted: e.wanted,
            alone: e.alone,
        }),
        states,
        peak_bytes: acct.peak,
    };
    let n = ops.len();
    if n == 0 {
        return Searched {
            found: Found::Linearizable,
            states: 0,
            peak_bytes: 0,
        };
    }
    let stopped = || limits.stop.is_some_and(|s| s.load(Ordering::Relaxed));
    if stopped() {
        return halted(Halt::Stopped, 0, &acct);
    }
    if Instant::now() >= limits.deadline {
        return halted(Halt::Deadline, 0, &acct);
    }
    // Entries: 2i is operation i's call, 2i + 1 its return, `head` (2n) the
    // list's sentinel. Entry numbers must fit in a u32.
    if n >= (EMPTY as usize - 2) / 2 {
        return oom(
            OutOfMemory {
                wanted: usize::MAX,
                alone: true,
            },
            0,
            &acct,
        );
    }
    let words = n.div_ceil(64);
    let fixed = (2 * n + 1) * 2 * 4 // the list
        + 2 * n * 24                // sorting it
        + n * 8                     // the set's hash words
        + words * 8                 // the set
        + n * size_of::<(u32, M::State)>() // the stack
        + if longest.is_some() { n * 8 } else { 0 } // best per operation
        + 5 * ALLOC_OVERHEAD;
    if let Err(e) = acct.charge(fixed) {
        return oom(e, 0, &acct);
    }
    let head = 2 * n as u32;
    let (mut next, mut prev) = {
        let mut order: Vec<(i64, u8, u32)> = Vec::with_capacity(2 * n);
        for (i, o) in ops.iter().enumerate() {
            // A return never precedes its own call; at equal times calls
            // come first (the operations overlap).
            order.push((o.call_time, 0, 2 * i as u32));
            order.push((o.return_time.max(o.call_time), 1, 2 * i as u32 + 1));
        }
        order.sort_unstable();
        let mut next = vec![head; 2 * n + 1];
        let mut prev = vec![head; 2 * n + 1];
        let mut last = head;
        for &(_, _, e) in &order {
            next[last as usize] = e;
            prev[e as usize] = last;
            last = e;
        }
        next[last as usize] = head;
        prev[head as usize] = last;
        (next, prev)
    };
    let keys: Vec<u64> = (0..n as u64)
        .map(|i| spread(i ^ 0x5bd1_e995_0000_0000))
        .collect();
    let mut memo = match Memo::<M::State>::new(words, &mut acct) {
        Ok(m) => m,
        Err(e) => return oom(e, 0, &acct),
    };
    let mut bits = vec![0u64; words];
    let mut set_hash = 0u64;
    let mut state = M::init();
    let mut stack: Vec<(u32, M::State)> = Vec::with_capacity(n);
    let mut steps: u64 = 0;
    let mut e = next[head as usize];
    while next[head as usize] != head {
        steps += 1;
        if steps.is_multiple_of(CHECK_EVERY) {
            if stopped() {
                return halted(Halt::Stopped, memo.len, &acct);
            }
            if Instant::now() >= limits.deadline {
                return halted(Halt::Deadline, memo.len, &acct);
            }
        }
        if e != head && e % 2 == 0 {
            // A call: try to linearize its operation here.
            let i = (e / 2) as usize;
            if let Some(after) = M::step(&state, &ops[i].op) {
                bits[i / 64] |= 1 << (i % 64);
                set_hash ^= keys[i];
                let h = spread(set_hash ^ hash_state(&after));
                match memo.insert::<M>(h, &bits, &after, &mut acct) {
                    Ok(true) => {
                        let before = std::mem::replace(&mut state, after);
                        stack.push((e, before));
                        // Lift the call and its return out of the list.
                        for x in [e, e + 1] {
                            let (p, q) = (prev[x as usize], next[x as usize]);
                            next[p as usize] = q;
                            prev[q as usize] = p;
                        }
                        if let Some(l) = longest.as_deref_mut() {
                            if let Err(err) = l.record(&stack, &mut acct) {
                                return oom(err, memo.len, &acct);
                            }
                        }
                        e = next[head as usize];
                        continue;
                    }
                    Ok(false) => {}
                    Err(err) => return oom(err, memo.len, &acct),
                }
                bits[i / 64] &= !(1 << (i % 64));
                set_hash ^= keys[i];
            }
            e = next[e as usize];
        } else {
            // A return whose operation has not taken effect (or, which
            // cannot happen, the end of the list): undo the last choice.
            let Some((call, before)) = stack.pop() else {
                return Searched {
                    found: Found::NotLinearizable,
                    states: memo.len,
                    peak_bytes: acct.peak,
                };
            };
            let i = (call / 2) as usize;
            state = before;
            bits[i / 64] &= !(1 << (i % 64));
            set_hash ^= keys[i];
            // Put the return back, then the call (the reverse of lifting).
            for x in [call + 1, call] {
                let (p, q) = (prev[x as usize], next[x as usize]);
                next[p as usize] = x;
                prev[q as usize] = x;
            }
            e = next[call as usize];
        }
    }
    Searched {
        found: Found::Linearizable,
        states: memo.len,
        peak_bytes: acct.peak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::spec::{
        CasOutcome, KvOp, KvSpec, ListAppendSpec, ListOp, RegisterOp, RegisterSpec,
    };
    use std::time::Duration;

    /// Operations from `(call, return, op)`; `None` returns after everything.
    fn ops<M: Spec>(spec: &[(i64, Option<i64>, M::Op)]) -> Vec<Operation<M>> {
        spec.iter()
            .enumerate()
            .map(|(i, (c, r, op))| Operation {
                client_id: Some(i as u32),
                call_time: *c,
                return_time: r.unwrap_or(i64::MAX),
                op: op.clone(),
                metadata: None,
            })
            .collect()
    }

    fn found<M: Spec>(ops: &[Operation<M>], budget: u64) -> Searched {
        let pool = MemoryPool::new(budget);
        let limits = Limits {
            deadline: Instant::now() + Duration::from_secs(30),
            stop: None,
            pool: &pool,
        };
        let r = check(ops, &limits);
        assert_eq!(pool.used(), 0, "a search gives back all it took");
        r
    }

    fn verdict<M: Spec>(spec: &[(i64, Option<i64>, M::Op)]) -> bool {
        match found(&ops::<M>(spec), 1 << 30).found {
            Found::Linearizable => true,
            Found::NotLinearizable => false,
            Found::Halted(h) => panic!("halted: {h:?}"),
        }
    }

    use RegisterOp::{Read, Write};
    fn cas(expected: i64, new: i64, outcome: CasOutcome) -> RegisterOp {
        RegisterOp::Cas {
            expected,
            new,
            outcome,
        }
    }

    #[test]
    fn sequential_register_histories() {
        assert!(verdict::<RegisterSpec>(&[]));
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(1), Read(None)),
            (2, Some(3), Write(1)),
            (4, Some(5), Read(Some(1))),
        ]));
        assert!(!verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(3), Write(2)),
            (4, Some(5), Read(Some(1))),
        ]));
        assert!(!verdict::<RegisterSpec>(&[(0, Some(1), Read(Some(7)))]));
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // write(2) overlaps the read: the read may see 1 or 2.
        for seen in [1, 2] {
            assert!(verdict::<RegisterSpec>(&[
                (0, Some(1), Write(1)),
                (2, Some(5), Write(2)),
                (3, Some(4), Read(Some(seen))),
            ]));
        }
        // Two reads inside one write cannot see new then old.
        assert!(!verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(9), Write(2)),
            (3, Some(4), Read(Some(2))),
            (5, Some(6), Read(Some(1))),
        ]));
        // Equal times overlap.
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(5), Read(Some(1))),
            (5, Some(6), Write(1)),
        ]));
    }

    #[test]
    fn cas_outcomes() {
        use CasOutcome::*;
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(3), cas(1, 2, Ok)),
            (4, Some(5), Read(Some(2))),
        ]));
        assert!(!verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(3), cas(1, 2, Mismatch)),
        ]));
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(3), cas(3, 2, Mismatch)),
            (4, Some(5), Read(Some(1))),
        ]));
        // Two successful cas from the same value: only one can have swapped.
        assert!(!verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(5), cas(1, 2, Ok)),
            (3, Some(6), cas(1, 3, Ok)),
        ]));
        // A chain of cas that only works in one order, given concurrently.
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(1), Write(0)),
            (2, Some(10), cas(2, 3, Ok)),
            (3, Some(10), cas(1, 2, Ok)),
            (4, Some(10), cas(0, 1, Ok)),
            (11, Some(12), Read(Some(3))),
        ]));
    }

    #[test]
    fn open_operations_may_or_may_not_have_happened() {
        use CasOutcome::Unknown;
        // An open write, seen, then unseen: no.
        assert!(!verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, None, Write(2)),
            (3, Some(4), Read(Some(2))),
            (5, Some(6), Read(Some(1))),
        ]));
        // Unseen, then seen: yes.
        assert!(verdict::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, None, Write(2)),
            (3, Some(4), Read(Some(1))),
            (5, Some(6), Read(Some(2))),
        ]));
        // An open cas swaps only from its expected value.
        for (seen, ok) in [(1, true), (2, true), (3, false)] {
            assert_eq!(
                verdict::<RegisterSpec>(&[
                    (0, Some(1), Write(1)),
                    (2, None, cas(1, 2, Unknown)),
                    (3, Some(4), Read(Some(seen))),
                ]),
                ok,
                "read {seen}"
            );
        }
    }

    #[test]
    fn list_append_and_kv() {
        let read = |l: &[i64]| ListOp::Read(l.into());
        assert!(verdict::<ListAppendSpec>(&[
            (0, Some(3), ListOp::Append(1)),
            (1, Some(4), ListOp::Append(2)),
            (5, Some(6), read(&[2, 1])),
        ]));
        assert!(!verdict::<ListAppendSpec>(&[
            (0, Some(3), ListOp::Append(1)),
            (1, Some(4), ListOp::Append(2)),
            (5, Some(6), read(&[2, 1])),
            (7, Some(8), read(&[1, 2])),
        ]));
        let s = |x: &str| -> std::sync::Arc<str> { x.into() };
        assert!(verdict::<KvSpec>(&[
            (0, Some(1), KvOp::Put(s("a"))),
            (2, Some(5), KvOp::Append(s("b"))),
            (3, Some(4), KvOp::Get(s("a"))),
            (6, Some(7), KvOp::Get(s("ab"))),
        ]));
        assert!(!verdict::<KvSpec>(&[
            (0, Some(1), KvOp::Put(s("a"))),
            (2, Some(3), KvOp::Get(s(""))),
        ]));
    }

    /// `n` concurrent writes and `n` concurrent reads, each of one written
    /// value, then a read of a value nobody wrote: not linearizable, but
    /// only after trying a great many orders of the writes and reads.
    fn hard(n: i64) -> Vec<Operation<RegisterSpec>> {
        let mut spec = Vec::new();
        for v in 0..n {
            spec.push((v, Some(1000 + v), Write(v)));
            spec.push((100 + v, Some(2000 + v), Read(Some(n - 1 - v))));
        }
        spec.push((3000, Some(3001), Read(Some(-1))));
        ops::<RegisterSpec>(&spec)
    }

    #[test]
    fn a_small_budget_halts_a_hard_search_and_a_big_one_decides_it() {
        let ops = hard(10);
        let t = Instant::now();
        let full = found(&ops, 1 << 30);
        eprintln!(
            "hard(10): {} states, {} bytes at most, {:?}",
            full.states,
            full.peak_bytes,
            t.elapsed()
        );
        assert_eq!(full.found, Found::NotLinearizable);
        assert!(full.states > 10_000, "{} states", full.states);
        let small = found(&ops, full.peak_bytes as u64 / 2);
        let Found::Halted(Halt::Memory { held, alone, .. }) = small.found else {
            panic!("{:?}", small.found)
        };
        assert!(alone);
        assert!(held <= full.peak_bytes / 2 && small.peak_bytes <= full.peak_bytes / 2);
        assert!(small.states < full.states);
    }

    #[test]
    fn the_stop_flag_and_the_deadline_halt_a_search() {
        let ops = hard(14);
        let pool = MemoryPool::new(1 << 32);
        let stop = AtomicBool::new(true);
        let limits = Limits {
            deadline: Instant::now() + Duration::from_secs(30),
            stop: Some(&stop),
            pool: &pool,
        };
        assert_eq!(check(&ops, &limits).found, Found::Halted(Halt::Stopped));
        let limits = Limits {
            deadline: Instant::now(),
            stop: None,
            pool: &pool,
        };
        assert_eq!(check(&ops, &limits).found, Found::Halted(Halt::Deadline));
        let limits = Limits {
            deadline: Instant::now() + Duration::from_millis(5),
            stop: None,
            pool: &pool,
        };
        let t = Instant::now();
        let r = check(&hard(40), &limits);
        assert!(
            matches!(r.found, Found::Halted(Halt::Deadline)),
            "{:?}",
            r.found
        );
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn searches_share_the_pool() {
        let ops = hard(10);
        let alone = found(&ops, 1 << 30);
        let pool = MemoryPool::new(alone.peak_bytes as u64 * 3 / 2);
        let mut other = Account::new(&pool);
        assert!(other.charge(alone.peak_bytes).is_ok());
        let limits = Limits {
            deadline: Instant::now() + Duration::from_secs(30),
            stop: None,
            pool: &pool,
        };
        let r = check(&ops, &limits);
        assert!(
            matches!(r.found, Found::Halted(Halt::Memory { alone: false, .. })),
            "{:?}",
            r.found
        );
        drop(other);
        assert_eq!(check(&ops, &limits).found, Found::NotLinearizable);
    }

    #[test]
    fn partial_linearizations_hold_every_operation() {
        let ops = ops::<RegisterSpec>(&[
            (0, Some(1), Write(1)),
            (2, Some(3), Write(2)),
            (4, Some(5), Read(Some(1))),
        ]);
        let pool = MemoryPool::new(1 << 20);
        let limits = Limits {
            deadline: Instant::now() + Duration::from_secs(5),
            stop: None,
            pool: &pool,
        };
        let (r, p) = explain(&ops, &limits);
        assert_eq!(r.found, Found::NotLinearizable);
        assert_eq!(p.seqs, vec![vec![0, 1]]);
        assert_eq!(p.best, vec![Some(0), Some(0), None]);
    }
}
