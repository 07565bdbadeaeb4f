//! Seed lists (`N`, `A..=B`, `A..B`, `1,5,9`) and `--partition K/N`.

use std::fmt;
use std::str::FromStr;

/// At most this many seeds in one list, so a typo like `1..=99999999999`
/// is refused instead of exhausting memory.
pub const MAX_SEEDS: u64 = 1_000_000;

/// Why a seed list or a partition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedsError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SeedsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad seeds \"{}\": {}", self.input, self.message)
    }
}

impl std::error::Error for SeedsError {}

/// Parses a seed list: `N`, `A..=B` (inclusive), `A..B` (exclusive) or a
/// comma list whose items are any of those (`1,5,9`, `1..=3,10`). Returns
/// the seeds sorted and without duplicates.
///
/// ```
/// use tumult_harness::scenario::parse_seeds;
/// assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
/// assert_eq!(parse_seeds("1..3").unwrap(), vec![1, 2]);
/// assert_eq!(parse_seeds("9, 1,5,5").unwrap(), vec![1, 5, 9]);
/// assert!(parse_seeds("3..1").is_err());
/// ```
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, SeedsError> {
    let err = |message: String| SeedsError {
        input: text.to_string(),
        message,
    };
    if text.trim().is_empty() {
        return Err(err(
            "empty (write N, A..=B, A..B or a comma list like 1,5,9)".into(),
        ));
    }
    let mut seeds = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(err("empty item in the comma list".into()));
        }
        let number = |s: &str| -> Result<u64, SeedsError> {
            let s = s.trim();
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '_') {
                return Err(err(format!(
                    "\"{s}\" is not a seed (seeds are non-negative integers)"
                )));
            }
            s.replace('_', "")
                .parse()
                .map_err(|_| err(format!("\"{s}\" is too large for a 64-bit seed")))
        };
        let (lo, hi) = if let Some((a, b)) = item.split_once("..=") {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(err(format!("range {item} is empty ({a} > {b})")));
            }
            (a, b)
        } else if let Some((a, b)) = item.split_once("..") {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return Err(err(format!(
                    "range {item} is empty (A..B excludes B; write {a}..={a} for one seed)"
                )));
            }
            (a, b - 1)
        } else {
            let n = number(item)?;
            (n, n)
        };
        let count = (hi - lo).saturating_add(1);
        if count > MAX_SEEDS || seeds.len() as u64 + count > MAX_SEEDS {
            return Err(err(format!("more than {MAX_SEEDS} seeds")));
        }
        seeds.extend(lo..=hi);
    }
    seeds.sort_unstable();
    seeds.dedup();
    Ok(seeds)
}

/// Why a `--partition K/N` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad partition \"{}\": {}", self.input, self.message)
    }
}

impl std::error::Error for PartitionError {}

/// `--partition K/N`: the K-th (1-based) of N disjoint slices of a run list.
///
/// Slices are dealt round robin (item `i` goes to slice `i % N`), so heavy
/// scenarios that sit next to each other in the list are spread over the
/// machines; together the N slices hold every item exactly once. The caller
/// must build the list in a deterministic order (e.g. sorted file paths,
/// then seeds) on every machine.
///
/// ```
/// use tumult_harness::scenario::Partition;
/// let p: Partition = "2/3".parse().unwrap();
/// assert_eq!(p.select(&[10, 11, 12, 13, 14, 15, 16]), vec![&11, &14]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    /// K, 1-based: which slice.
    pub index: usize,
    /// N: how many slices.
    pub count: usize,
}

impl Partition {
    /// The whole list: `1/1`.
    pub const WHOLE: Partition = Partition { index: 1, count: 1 };

    /// A partition `index/count`, checked (1 <= index <= count).
    pub fn new(index: usize, count: usize) -> Result<Partition, PartitionError> {
        if count == 0 || index == 0 || index > count {
            return Err(PartitionError {
                input: format!("{index}/{count}"),
                message: "a partition is K/N with 1 <= K <= N".into(),
            });
        }
        Ok(Partition { index, count })
    }

    /// Whether the item at position `position` of the full list is in this slice.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    /// The items of this slice, in their original order.
    pub fn select<'a, T>(&self, items: &'a [T]) -> Vec<&'a T> {
        items
            .iter()
            .enumerate()
            .filter(|(i, _)| self.contains(*i))
            .map(|(_, t)| t)
            .collect()
    }
}

impl Default for Partition {
    fn default() -> Self {
        Partition::WHOLE
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| PartitionError {
            input: s.to_string(),
            message: message.to_string(),
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("a partition is K/N, e.g. 2/4"))?;
        let k: usize = k
            .trim()
            .parse()
            .map_err(|_| bad("K in K/N must be a positive integer"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("N in K/N must be a positive integer"))?;
        Partition::new(k, n).map_err(|_| bad("a partition is K/N with 1 <= K <= N"))
    }
}

/// Parses `K/N` and returns the K-th of N disjoint slices of `runs`; a
/// shorthand for `s.parse::<Partition>()?.select(runs)`.
pub fn partition_runs<'a, T>(spec: &str, runs: &'a [T]) -> Result<Vec<&'a T>, PartitionError> {
    Ok(spec.parse::<Partition>()?.select(runs))
}
