//! Node selectors: how a nemesis step names the nodes it acts on.
//!
//! Parsing is static (the file); resolution happens when the step runs, in
//! the simulator, because `leader:0` or `crashed` depend on the moment.

use std::fmt;
use std::str::FromStr;

/// A node selector, usable wherever a nemesis step names nodes (SPEC.md §2).
///
/// ```
/// use tumult_harness::scenario::Selector;
/// assert_eq!("n3".parse::<Selector>(), Ok(Selector::Node(3)));
/// assert_eq!("leader:0".parse::<Selector>(), Ok(Selector::Leader(0)));
/// assert_eq!(Selector::Followers(2).to_string(), "followers:2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// `nK`: the node named nK (1-based, as in the file).
    Node(u32),
    /// `leader:S`: the node that most recently became leader of shard S in
    /// the highest term, when the step runs.
    Leader(u32),
    /// `followers:S`: the voters of shard S other than its leader.
    Followers(u32),
    /// `random`: one node drawn from the seed.
    Random,
    /// `random-minority`: a minority of the nodes, drawn from the seed.
    RandomMinority,
    /// `random-majority`: a majority of the nodes, drawn from the seed.
    RandomMajority,
    /// `all`: every node.
    All,
    /// `crashed`: every node that is down (crashed, or stopped itself after a disk fault).
    Crashed,
    /// `rest`: every node not named in another group (only inside `groups`, `from`, `to`).
    Rest,
}

/// The kinds of selector, for coverage checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SelectorKind {
    Node,
    Leader,
    Followers,
    Random,
    RandomMinority,
    RandomMajority,
    All,
    Crashed,
    Rest,
}

impl SelectorKind {
    /// Every selector kind, in the order SPEC.md lists them.
    pub const ALL: [SelectorKind; 9] = [
        SelectorKind::Node,
        SelectorKind::Leader,
        SelectorKind::Followers,
        SelectorKind::Random,
        SelectorKind::RandomMinority,
        SelectorKind::RandomMajority,
        SelectorKind::All,
        SelectorKind::Crashed,
        SelectorKind::Rest,
    ];
}

impl Selector {
    /// Which kind of selector this is.
    pub fn kind(&self) -> SelectorKind {
        match self {
            Selector::Node(_) => SelectorKind::Node,
            Selector::Leader(_) => SelectorKind::Leader,
            Selector::Followers(_) => SelectorKind::Followers,
            Selector::Random => SelectorKind::Random,
            Selector::RandomMinority => SelectorKind::RandomMinority,
            Selector::RandomMajority => SelectorKind::RandomMajority,
            Selector::All => SelectorKind::All,
            Selector::Crashed => SelectorKind::Crashed,
            Selector::Rest => SelectorKind::Rest,
        }
    }

    /// The shard this selector depends on, if any (`leader:S`, `followers:S`).
    pub fn shard(&self) -> Option<u32> {
        match self {
            Selector::Leader(s) | Selector::Followers(s) => Some(*s),
            _ => None,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Node(n) => write!(f, "n{n}"),
            Selector::Leader(s) => write!(f, "leader:{s}"),
            Selector::Followers(s) => write!(f, "followers:{s}"),
            Selector::Random => f.write_str("random"),
            Selector::RandomMinority => f.write_str("random-minority"),
            Selector::RandomMajority => f.write_str("random-majority"),
            Selector::All => f.write_str("all"),
            Selector::Crashed => f.write_str("crashed"),
            Selector::Rest => f.write_str("rest"),
        }
    }
}

/// Why a selector string was refused (before any cluster is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

const EXPECTED: &str = "expected a node like \"n3\", \"leader:S\", \"followers:S\", \"random\", \
     \"random-minority\", \"random-majority\", \"all\", \"crashed\" or \"rest\"";

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SelectorError(format!("unknown node selector \"{s}\" ({EXPECTED})"));
        let shard = |rest: &str| -> Result<u32, SelectorError> {
            if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
                return Err(SelectorError(format!(
                    "bad node selector \"{s}\": the shard after ':' must be a number"
                )));
            }
            rest.parse().map_err(|_| {
                SelectorError(format!("bad node selector \"{s}\": shard number too large"))
            })
        };
        match s {
            "random" => Ok(Selector::Random),
            "random-minority" => Ok(Selector::RandomMinority),
            "random-majority" => Ok(Selector::RandomMajority),
            "all" => Ok(Selector::All),
            "crashed" => Ok(Selector::Crashed),
            "rest" => Ok(Selector::Rest),
            _ => {
                if let Some(rest) = s.strip_prefix("leader:") {
                    return shard(rest).map(Selector::Leader);
                }
                if let Some(rest) = s.strip_prefix("followers:") {
                    return shard(rest).map(Selector::Followers);
                }
                if let Some(num) = s.strip_prefix('n') {
                    if !num.is_empty()
                        && num.chars().all(|c| c.is_ascii_digit())
                        && !num.starts_with('0')
                    {
                        return num.parse().map(Selector::Node).map_err(|_| bad());
                    }
                }
                Err(bad())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for s in [
            "n1",
            "n9",
            "leader:0",
            "followers:63",
            "random",
            "random-minority",
            "random-majority",
            "all",
            "crashed",
            "rest",
        ] {
            let sel: Selector = s.parse().unwrap();
            assert_eq!(sel.to_string(), s);
        }
    }

    #[test]
    fn refuses_unknown_selectors() {
        for s in [
            "", "n", "n0", "n01", "node1", "leader", "leader:", "leader:x", "Leader:0", "n-1",
        ] {
            assert!(s.parse::<Selector>().is_err(), "{s:?} accepted");
        }
    }
}
