//! The sequential specifications, one key each, and the operations the
//! linearizability search orders.
//!
//! - [`RegisterSpec`]: read, write, cas over an integer register that starts
//!   out `null`.
//! - [`ListAppendSpec`]: append(v) and read -> whole list, starting `[]`.
//! - [`KvSpec`]: porcupine's string key-value test model (get, put, append
//!   of strings), for the `porcupine-kv` corpus format.
//!
//! Operations that may or may not have happened (`info`) are open until the
//! end of the history, so "it did not happen" is the same as "it happened
//! last". That lets every step be deterministic: an indeterminate cas
//! applies when the register holds its expected value and is a no-op
//! otherwise.

use crate::history::{Function, Value};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Where an operation came from, for reports and the visualization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpMeta {
    /// The client process.
    pub process: u64,
    /// `index` of the invoke.
    pub index: u64,
    /// Line of the invoke.
    pub invoke_line: usize,
    /// Line of the completion, if there was one.
    pub complete_line: Option<usize>,
    /// `time` of the invoke.
    pub invoke_time: u64,
    /// `time` of the completion, if there was one.
    pub complete_time: Option<u64>,
    /// The operation may or may not have happened: it stays open to the end.
    pub open: bool,
}

impl fmt::Display for OpMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {}, line {}", self.process, self.invoke_line)?;
        match self.complete_line {
            Some(l) => write!(f, "-{l}")?,
            None => write!(f, " (no completion)")?,
        }
        if self.open {
            write!(f, ", indeterminate")?;
        }
        Ok(())
    }
}

/// How an operation may be dropped while shrinking a violation so that the
/// smaller set still proves the whole history is not linearizable.
///
/// Dropping an operation that leaves the state alone (a read, a cas that
/// found another value) is always sound. Dropping state changers `R` is
/// sound when no remaining operation refers to a value set by `R`, and no
/// remaining [`Role::Blocker`] expects a value that a remaining operation
/// may set. Proof sketch: take a linearization of the whole history and
/// remove `R`. Every remaining read or cas that succeeded saw a value set
/// by the last effective changer before it, which is not in `R` (else the
/// reader refers to a value of `R`), so it sees the same value; an
/// indeterminate cas that had no effect is moved to the end, where it may
/// land since it is open; and a cas mismatch sees some value set by a
/// remaining operation (or the initial one), never its expected value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Leaves the state alone; `refs` are the values it saw.
    Observer {
        /// Values it saw.
        refs: Vec<i64>,
    },
    /// Leaves the state alone but observed "not `expected`" (a cas
    /// mismatch), which dropping a write could make false.
    Blocker {
        /// The value the state did not hold.
        expected: i64,
    },
    /// May change the state.
    Changer {
        /// Values it may set.
        sets: Vec<i64>,
        /// Values it requires.
        refs: Vec<i64>,
    },
    /// Never dropped.
    Pinned,
}

/// The sequential specification of one key, with what the checker layer
/// needs.
///
/// Every step is deterministic: an operation either cannot happen in a
/// state, or it leads to exactly one next state.
pub trait Spec: 'static {
    /// Name of the workload (`register`, `list-append`, `kv`).
    const NAME: &'static str;
    /// What one key holds. Equal states must hash equally: the search
    /// remembers the configurations it explored by state.
    type State: Clone + Eq + Hash + fmt::Debug + Send + Sync;
    /// An operation, input and output together.
    type Op: Clone + fmt::Debug + Send + Sync;

    /// The state before any operation.
    fn init() -> Self::State;
    /// The state after `op`, or `None` when `op` cannot happen in `state`
    /// (a read that returned another value, a cas whose outcome does not fit).
    fn step(state: &Self::State, op: &Self::Op) -> Option<Self::State>;
    /// How the operation may be dropped while shrinking.
    fn role(op: &Self::Op) -> Role;
    /// The operation as the reports show it, e.g. `cas(5, 7) -> mismatch`.
    fn describe_operation(op: &Self::Op) -> String;
    /// The state as the reports show it.
    fn describe_state(state: &Self::State) -> String;
    /// Bytes of memory `state` holds outside itself (an estimate), which the
    /// search counts against its memory budget for every state it keeps.
    fn state_heap_bytes(_state: &Self::State) -> usize {
        0
    }
}

/// How an operation of a tumult history ended, as [`HistorySpec::operation`] reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Completion<'a> {
    /// `ok`, with the completion's `value`.
    Ok(&'a Value),
    /// `fail` (it certainly did not take effect, or, like a cas mismatch,
    /// ran and observed something), with its `error`.
    Fail(Option<&'a str>),
    /// `info`, or no completion at all: it may or may not have happened.
    Unknown,
}

/// What the checker does with one operation of a history.
#[derive(Clone, Debug, PartialEq)]
pub enum Taken<Op> {
    /// Leave it out: it did not happen, or says nothing (a failed read).
    Drop,
    /// It happened between its invoke and its completion.
    Closed(Op),
    /// It may have happened at any time after its invoke (`info`).
    Open(Op),
}

/// A sequential spec that reads its operations from a tumult history: the
/// model of your own application's workload, checked by
/// [`crate::lin::check_history_with`] with the same search, budgets and
/// reports as the built-in workloads. The history is split by `key`, and
/// each key is checked from [`Spec::init`] on its own.
pub trait HistorySpec: Spec {
    /// The operation `f`, invoked with `value`, that ended as
    /// `completion`; an error says what is wrong with its fields (the
    /// checker adds the line).
    fn operation(
        f: &Function,
        value: &Value,
        completion: Completion<'_>,
    ) -> Result<Taken<Self::Op>, String>;
}

/// One operation of a key: when it was called and returned, what it did
/// and where it came from.
///
/// Times only order the operations: an operation that returned before
/// another was called precedes it; an open one returns after everything.
pub struct Operation<M: Spec> {
    /// The client process.
    pub client_id: Option<u32>,
    /// When it was called.
    pub call_time: i64,
    /// When it returned.
    pub return_time: i64,
    /// What it did.
    pub op: M::Op,
    /// Where it came from.
    pub metadata: Option<OpMeta>,
}

impl<M: Spec> Clone for Operation<M> {
    fn clone(&self) -> Self {
        Operation {
            client_id: self.client_id,
            call_time: self.call_time,
            return_time: self.return_time,
            op: self.op.clone(),
            metadata: self.metadata,
        }
    }
}

impl<M: Spec> fmt::Debug for Operation<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("client_id", &self.client_id)
            .field("call_time", &self.call_time)
            .field("return_time", &self.return_time)
            .field("op", &self.op)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// A cas's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CasOutcome {
    /// It swapped: the register held `expected`.
    Ok,
    /// It found another value (`fail` with `"error":"mismatch"`).
    Mismatch,
    /// Indeterminate (`info`): swapped if the register held `expected`, or never happened.
    Unknown,
}

/// A register operation (input and output together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that returned this value (`None`: never written).
    Read(Option<i64>),
    /// A write.
    Write(i64),
    /// A compare-and-set.
    Cas {
        /// Value it compares with.
        expected: i64,
        /// Value it sets.
        new: i64,
        /// What the client learned.
        outcome: CasOutcome,
    },
}

impl fmt::Display for RegisterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterOp::Read(Some(v)) => write!(f, "read() -> {v}"),
            RegisterOp::Read(None) => write!(f, "read() -> null"),
            RegisterOp::Write(v) => write!(f, "write({v})"),
            RegisterOp::Cas {
                expected,
                new,
                outcome,
            } => {
                let out = match outcome {
                    CasOutcome::Ok => "ok",
                    CasOutcome::Mismatch => "mismatch",
                    CasOutcome::Unknown => "?",
                };
                write!(f, "cas({expected}, {new}) -> {out}")
            }
        }
    }
}

fn show_register(state: &Option<i64>) -> String {
    state.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// Integer register, initially `null`.
#[derive(Clone, Copy, Debug)]
pub struct RegisterSpec;

impl Spec for RegisterSpec {
    const NAME: &'static str = "register";
    type State = Option<i64>;
    type Op = RegisterOp;

    fn init() -> Option<i64> {
        None
    }

    fn step(state: &Option<i64>, op: &RegisterOp) -> Option<Option<i64>> {
        match *op {
            RegisterOp::Read(v) => (*state == v).then_some(*state),
            RegisterOp::Write(v) => Some(Some(v)),
            RegisterOp::Cas {
                expected,
                new,
                outcome,
            } => {
                let holds = *state == Some(expected);
                match outcome {
                    CasOutcome::Ok => holds.then_some(Some(new)),
                    CasOutcome::Mismatch => (!holds).then_some(*state),
                    CasOutcome::Unknown => Some(if holds { Some(new) } else { *state }),
                }
            }
        }
    }

    fn role(op: &RegisterOp) -> Role {
        match *op {
            RegisterOp::Read(v) => Role::Observer {
                refs: v.into_iter().collect(),
            },
            RegisterOp::Write(v) => Role::Changer {
                sets: vec![v],
                refs: vec![],
            },
            RegisterOp::Cas {
                expected,
                outcome: CasOutcome::Mismatch,
                ..
            } => Role::Blocker { expected },
            RegisterOp::Cas { expected, new, .. } => Role::Changer {
                sets: vec![new],
                refs: vec![expected],
            },
        }
    }

    fn describe_operation(op: &RegisterOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Option<i64>) -> String {
        show_register(state)
    }
}

/// A sequence shared between states, with its hash kept up to date, so the
/// checker's state cache clones and hashes it in O(1).
#[derive(Clone)]
pub struct Seq<T> {
    items: Arc<Vec<T>>,
    hash: u64,
}

const SEQ_SEED: u64 = 0x243f_6a88_85a3_08d3;

fn seq_mix(h: u64, x: i64) -> u64 {
    (h ^ (x as u64))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(31)
        .wrapping_add(0x1000_0000_01b3)
}

impl<T: Copy + Eq + Into<i64>> Seq<T> {
    /// The empty sequence.
    pub fn empty() -> Seq<T> {
        Seq {
            items: Arc::new(Vec::new()),
            hash: SEQ_SEED,
        }
    }

    /// A sequence holding `items`.
    pub fn from_slice(items: &[T]) -> Seq<T> {
        Seq::empty().extended(items)
    }

    /// This sequence followed by `more`.
    pub fn extended(&self, more: &[T]) -> Seq<T> {
        let mut items = Vec::with_capacity(self.items.len() + more.len());
        items.extend_from_slice(&self.items);
        items.extend_from_slice(more);
        let hash = more.iter().fold(self.hash, |h, &x| seq_mix(h, x.into()));
        Seq {
            items: Arc::new(items),
            hash,
        }
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// Bytes the sequence holds on the heap (an estimate: the shared
    /// allocation, its items and the allocator's overhead), counted in
    /// full by every holder.
    pub fn heap_bytes(&self) -> usize {
        // Arc counts + Vec header, the items, two allocations' overhead.
        16 + 24 + self.items.len() * std::mem::size_of::<T>() + 2 * 16
    }
}

impl<T: Eq> PartialEq for Seq<T> {
    fn eq(&self, other: &Seq<T>) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.items, &other.items) || self.items == other.items)
    }
}

impl<T: Eq> Eq for Seq<T> {}

impl<T> Hash for Seq<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<T: fmt::Debug> fmt::Debug for Seq<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

/// A list-append operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListOp {
    /// Appended this value.
    Append(i64),
    /// Read the whole list.
    Read(Seen),
}

/// What a list-append read returned: a prefix of a list that the reads of
/// one key share (they are prefixes of one another unless the key is not
/// linearizable), so a key's reads hold its list once.
#[derive(Clone, Default)]
pub struct Seen {
    all: Arc<[i64]>,
    len: usize,
}

impl Seen {
    /// The first `len` values of `all`.
    pub fn prefix(all: &Arc<[i64]>, len: usize) -> Seen {
        assert!(len <= all.len(), "a prefix of at most the whole list");
        Seen {
            all: Arc::clone(all),
            len,
        }
    }
}

impl std::ops::Deref for Seen {
    type Target = [i64];
    fn deref(&self) -> &[i64] {
        &self.all[..self.len]
    }
}

impl From<&[i64]> for Seen {
    fn from(l: &[i64]) -> Seen {
        Seen {
            all: l.into(),
            len: l.len(),
        }
    }
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        **self == **other
    }
}

impl Eq for Seen {}

impl Hash for Seen {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl fmt::Display for ListOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListOp::Append(v) => write!(f, "append({v})"),
            ListOp::Read(l) => write!(f, "read() -> {l:?}"),
        }
    }
}

/// List of integers, initially empty; append adds at the end.
#[derive(Clone, Copy, Debug)]
pub struct ListAppendSpec;

impl Spec for ListAppendSpec {
    const NAME: &'static str = "list-append";
    type State = Seq<i64>;
    type Op = ListOp;

    fn init() -> Seq<i64> {
        Seq::empty()
    }

    fn step(state: &Seq<i64>, op: &ListOp) -> Option<Seq<i64>> {
        match op {
            ListOp::Append(v) => Some(state.extended(&[*v])),
            ListOp::Read(l) => (state.as_slice() == &l[..]).then(|| state.clone()),
        }
    }

    fn role(op: &ListOp) -> Role {
        match op {
            ListOp::Append(v) => Role::Changer {
                sets: vec![*v],
                refs: vec![],
            },
            ListOp::Read(l) => Role::Observer { refs: l.to_vec() },
        }
    }

    fn describe_operation(op: &ListOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Seq<i64>) -> String {
        format!("{state:?}")
    }

    fn state_heap_bytes(state: &Seq<i64>) -> usize {
        state.heap_bytes()
    }
}

/// A string key-value operation (porcupine's kv test model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Returned this string ("" when never written).
    Get(Arc<str>),
    /// Replaced the string.
    Put(Arc<str>),
    /// Appended to the string.
    Append(Arc<str>),
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Get(v) => write!(f, "get() -> {v:?}"),
            KvOp::Put(v) => write!(f, "put({v:?})"),
            KvOp::Append(v) => write!(f, "append({v:?})"),
        }
    }
}

/// String per key, initially ""; get must return it, put replaces it,
/// append concatenates.
#[derive(Clone, Copy, Debug)]
pub struct KvSpec;

impl Spec for KvSpec {
    const NAME: &'static str = "kv";
    type State = Seq<u8>;
    type Op = KvOp;

    fn init() -> Seq<u8> {
        Seq::empty()
    }

    fn step(state: &Seq<u8>, op: &KvOp) -> Option<Seq<u8>> {
        match op {
            KvOp::Get(v) => (state.as_slice() == v.as_bytes()).then(|| state.clone()),
            KvOp::Put(v) => Some(Seq::from_slice(v.as_bytes())),
            KvOp::Append(v) => Some(state.extended(v.as_bytes())),
        }
    }

    fn role(op: &KvOp) -> Role {
        match op {
            KvOp::Get(_) => Role::Observer { refs: vec![] },
            // A put or append shapes every later string: never dropped.
            KvOp::Put(_) | KvOp::Append(_) => Role::Pinned,
        }
    }

    fn describe_operation(op: &KvOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Seq<u8>) -> String {
        format!("{:?}", String::from_utf8_lossy(state.as_slice()))
    }

    fn state_heap_bytes(state: &Seq<u8>) -> usize {
        state.heap_bytes()
    }
}

/// The operations of one key.
pub(crate) struct KeyOps<M: Spec> {
    pub key: String,
    pub ops: Vec<Operation<M>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<M: Spec>(ops: &[M::Op]) -> bool {
        let mut s = M::init();
        for op in ops {
            match M::step(&s, op) {
                Some(next) => s = next,
                None => return false,
            }
        }
        true
    }

    #[test]
    fn register_steps() {
        use RegisterOp::*;
        let cas = |e, n, outcome| Cas {
            expected: e,
            new: n,
            outcome,
        };
        assert!(run::<RegisterSpec>(&[Read(None), Write(1), Read(Some(1))]));
        assert!(!run::<RegisterSpec>(&[Write(1), Read(None)]));
        assert!(run::<RegisterSpec>(&[
            Write(1),
            cas(1, 2, CasOutcome::Ok),
            Read(Some(2))
        ]));
        assert!(!run::<RegisterSpec>(&[Write(1), cas(3, 2, CasOutcome::Ok)]));
        assert!(run::<RegisterSpec>(&[
            Write(1),
            cas(3, 2, CasOutcome::Mismatch),
            Read(Some(1))
        ]));
        assert!(!run::<RegisterSpec>(&[
            Write(1),
            cas(1, 2, CasOutcome::Mismatch)
        ]));
        assert!(run::<RegisterSpec>(&[
            Write(1),
            cas(1, 2, CasOutcome::Unknown),
            Read(Some(2))
        ]));
        assert!(run::<RegisterSpec>(&[
            Write(1),
            cas(3, 2, CasOutcome::Unknown),
            Read(Some(1))
        ]));
    }

    #[test]
    fn list_and_kv_steps() {
        let read = |l: &[i64]| ListOp::Read(l.into());
        assert!(run::<ListAppendSpec>(&[
            read(&[]),
            ListOp::Append(1),
            ListOp::Append(2),
            read(&[1, 2])
        ]));
        assert!(!run::<ListAppendSpec>(&[
            ListOp::Append(1),
            ListOp::Append(2),
            read(&[2, 1])
        ]));
        let s = |x: &str| -> Arc<str> { x.into() };
        assert!(run::<KvSpec>(&[
            KvOp::Get(s("")),
            KvOp::Append(s("ab")),
            KvOp::Append(s("c")),
            KvOp::Get(s("abc"))
        ]));
        assert!(!run::<KvSpec>(&[KvOp::Put(s("x")), KvOp::Get(s(""))]));
    }

    #[test]
    fn seq_equality_follows_contents() {
        let a = Seq::<i64>::from_slice(&[1, 2]);
        let b = Seq::<i64>::empty().extended(&[1]).extended(&[2]);
        assert_eq!(a, b);
        assert_ne!(a, Seq::from_slice(&[2, 1]));
    }
}
