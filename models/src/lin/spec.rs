//! The sequential specifications, one key each, as porcupine-rs models.
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

use porcupine::{Model, Operation};
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

/// A porcupine-rs model of one key, with what the checker layer needs.
pub trait Spec: Model<Metadata = OpMeta> + 'static {
    /// Name of the workload (`register`, `list-append`, `kv`).
    const NAME: &'static str;
    /// How the operation may be dropped while shrinking.
    fn role(op: &Self::Op) -> Role;
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

impl Model for RegisterSpec {
    type State = Option<i64>;
    type Op = RegisterOp;
    type Metadata = OpMeta;

    fn init() -> Option<i64> {
        None
    }

    fn step(state: &Option<i64>, op: &RegisterOp) -> (bool, Option<i64>) {
        match *op {
            RegisterOp::Read(v) => (*state == v, *state),
            RegisterOp::Write(v) => (true, Some(v)),
            RegisterOp::Cas {
                expected,
                new,
                outcome,
            } => {
                let holds = *state == Some(expected);
                match outcome {
                    CasOutcome::Ok => (holds, if holds { Some(new) } else { *state }),
                    CasOutcome::Mismatch => (!holds, *state),
                    CasOutcome::Unknown => (true, if holds { Some(new) } else { *state }),
                }
            }
        }
    }

    fn describe_operation(op: &RegisterOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Option<i64>) -> String {
        show_register(state)
    }

    fn describe_metadata(meta: Option<&OpMeta>) -> String {
        meta.map_or_else(String::new, OpMeta::to_string)
    }
}

impl Spec for RegisterSpec {
    const NAME: &'static str = "register";

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
    Read(Arc<[i64]>),
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

impl Model for ListAppendSpec {
    type State = Seq<i64>;
    type Op = ListOp;
    type Metadata = OpMeta;

    fn init() -> Seq<i64> {
        Seq::empty()
    }

    fn step(state: &Seq<i64>, op: &ListOp) -> (bool, Seq<i64>) {
        match op {
            ListOp::Append(v) => (true, state.extended(&[*v])),
            ListOp::Read(l) => (state.as_slice() == &l[..], state.clone()),
        }
    }

    fn describe_operation(op: &ListOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Seq<i64>) -> String {
        format!("{state:?}")
    }

    fn describe_metadata(meta: Option<&OpMeta>) -> String {
        meta.map_or_else(String::new, OpMeta::to_string)
    }
}

impl Spec for ListAppendSpec {
    const NAME: &'static str = "list-append";

    fn role(op: &ListOp) -> Role {
        match op {
            ListOp::Append(v) => Role::Changer {
                sets: vec![*v],
                refs: vec![],
            },
            ListOp::Read(l) => Role::Observer { refs: l.to_vec() },
        }
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

impl Model for KvSpec {
    type State = Seq<u8>;
    type Op = KvOp;
    type Metadata = OpMeta;

    fn init() -> Seq<u8> {
        Seq::empty()
    }

    fn step(state: &Seq<u8>, op: &KvOp) -> (bool, Seq<u8>) {
        match op {
            KvOp::Get(v) => (state.as_slice() == v.as_bytes(), state.clone()),
            KvOp::Put(v) => (true, Seq::from_slice(v.as_bytes())),
            KvOp::Append(v) => (true, state.extended(v.as_bytes())),
        }
    }

    fn describe_operation(op: &KvOp) -> String {
        op.to_string()
    }

    fn describe_state(state: &Seq<u8>) -> String {
        format!("{:?}", String::from_utf8_lossy(state.as_slice()))
    }

    fn describe_metadata(meta: Option<&OpMeta>) -> String {
        meta.map_or_else(String::new, OpMeta::to_string)
    }
}

impl Spec for KvSpec {
    const NAME: &'static str = "kv";

    fn role(op: &KvOp) -> Role {
        match op {
            KvOp::Get(_) => Role::Observer { refs: vec![] },
            // A put or append shapes every later string: never dropped.
            KvOp::Put(_) | KvOp::Append(_) => Role::Pinned,
        }
    }
}

/// The operations of one key.
pub(crate) struct KeyOps<M: Model> {
    pub key: String,
    pub ops: Vec<Operation<M>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<M: Model>(ops: &[M::Op]) -> bool {
        let mut s = M::init();
        for op in ops {
            let (ok, next) = M::step(&s, op);
            if !ok {
                return false;
            }
            s = next;
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
