//! Nemesis actions (the `do` of a `[[nemesis]]` step) and their arguments.

use std::fmt;
use std::str::FromStr;

use super::{DurationRange, Selector};

/// The name of a nemesis action, without its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    Crash,
    Restart,
    Bounce,
    Partition,
    PartitionOneway,
    PartitionHalves,
    PartitionMajoritiesRing,
    Isolate,
    Heal,
    Hold,
    Release,
    Slow,
    Flaky,
    CrashMinority,
    CrashLeader,
    RestartAll,
    AddMember,
    RemoveMember,
    TransferLeader,
    DiskFault,
    Pause,
    Resume,
}

/// An argument key of a nemesis step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arg {
    Nodes,
    Groups,
    From,
    To,
    Latency,
    Rate,
    Shard,
    Node,
    Kind,
}

impl Arg {
    /// Every argument key, in a fixed order.
    pub const ALL: [Arg; 9] = [
        Arg::Nodes,
        Arg::Groups,
        Arg::From,
        Arg::To,
        Arg::Latency,
        Arg::Rate,
        Arg::Shard,
        Arg::Node,
        Arg::Kind,
    ];

    /// The key as written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Arg::Nodes => "nodes",
            Arg::Groups => "groups",
            Arg::From => "from",
            Arg::To => "to",
            Arg::Latency => "latency",
            Arg::Rate => "rate",
            Arg::Shard => "shard",
            Arg::Node => "node",
            Arg::Kind => "kind",
        }
    }

    /// The argument with this key, if any.
    pub fn from_name(name: &str) -> Option<Arg> {
        Arg::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl ActionKind {
    /// Every action of SPEC.md §2, in the order of its table.
    pub const ALL: [ActionKind; 22] = [
        ActionKind::Crash,
        ActionKind::Restart,
        ActionKind::Bounce,
        ActionKind::Partition,
        ActionKind::PartitionOneway,
        ActionKind::PartitionHalves,
        ActionKind::PartitionMajoritiesRing,
        ActionKind::Isolate,
        ActionKind::Heal,
        ActionKind::Hold,
        ActionKind::Release,
        ActionKind::Slow,
        ActionKind::Flaky,
        ActionKind::CrashMinority,
        ActionKind::CrashLeader,
        ActionKind::RestartAll,
        ActionKind::AddMember,
        ActionKind::RemoveMember,
        ActionKind::TransferLeader,
        ActionKind::DiskFault,
        ActionKind::Pause,
        ActionKind::Resume,
    ];

    /// The name used in `do` and in the history's nemesis events.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Crash => "crash",
            ActionKind::Restart => "restart",
            ActionKind::Bounce => "bounce",
            ActionKind::Partition => "partition",
            ActionKind::PartitionOneway => "partition-oneway",
            ActionKind::PartitionHalves => "partition-halves",
            ActionKind::PartitionMajoritiesRing => "partition-majorities-ring",
            ActionKind::Isolate => "isolate",
            ActionKind::Heal => "heal",
            ActionKind::Hold => "hold",
            ActionKind::Release => "release",
            ActionKind::Slow => "slow",
            ActionKind::Flaky => "flaky",
            ActionKind::CrashMinority => "crash-minority",
            ActionKind::CrashLeader => "crash-leader",
            ActionKind::RestartAll => "restart-all",
            ActionKind::AddMember => "add-member",
            ActionKind::RemoveMember => "remove-member",
            ActionKind::TransferLeader => "transfer-leader",
            ActionKind::DiskFault => "disk-fault",
            ActionKind::Pause => "pause",
            ActionKind::Resume => "resume",
        }
    }

    /// The arguments this action requires.
    pub fn required_args(self) -> &'static [Arg] {
        match self {
            ActionKind::Crash
            | ActionKind::Restart
            | ActionKind::Bounce
            | ActionKind::Isolate
            | ActionKind::Pause
            | ActionKind::Resume => &[Arg::Nodes],
            ActionKind::Partition | ActionKind::Hold | ActionKind::Release => &[Arg::Groups],
            ActionKind::PartitionOneway => &[Arg::From, Arg::To],
            ActionKind::PartitionHalves
            | ActionKind::PartitionMajoritiesRing
            | ActionKind::Heal
            | ActionKind::CrashMinority
            | ActionKind::RestartAll => &[],
            ActionKind::Slow => &[Arg::Latency],
            ActionKind::Flaky => &[Arg::Rate],
            ActionKind::CrashLeader | ActionKind::TransferLeader => &[Arg::Shard],
            ActionKind::AddMember | ActionKind::RemoveMember => &[Arg::Node, Arg::Shard],
            ActionKind::DiskFault => &[Arg::Nodes, Arg::Kind],
        }
    }

    /// The arguments this action accepts but does not require.
    pub fn optional_args(self) -> &'static [Arg] {
        match self {
            ActionKind::TransferLeader => &[Arg::To],
            _ => &[],
        }
    }

    /// Whether the action takes `arg` at all.
    pub fn takes(self, arg: Arg) -> bool {
        self.required_args().contains(&arg) || self.optional_args().contains(&arg)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ActionKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown action \"{s}\" (known: {})", names.join(", "))
            })
    }
}

/// How a `disk-fault` makes the node's simulated disk misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiskFaultKind {
    /// `torn-writes`: a write may reach the disk only partly.
    TornWrites,
    /// `io-errors`: reads and writes fail with I/O errors.
    IoErrors,
    /// `full`: writes fail because the disk is full.
    Full,
}

impl DiskFaultKind {
    /// The name as written in a scenario file.
    pub fn name(self) -> &'static str {
        match self {
            DiskFaultKind::TornWrites => "torn-writes",
            DiskFaultKind::IoErrors => "io-errors",
            DiskFaultKind::Full => "full",
        }
    }
}

impl fmt::Display for DiskFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A nemesis action with its arguments, ready to run.
///
/// Node lists are selectors, resolved by the simulator when the step runs.
/// A group is a list of selectors; `rest` appears only inside groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The hosts die at once; writes they had not synced are lost.
    Crash { nodes: Vec<Selector> },
    /// Crashed hosts start again from what their disks hold.
    Restart { nodes: Vec<Selector> },
    /// Crash, then restart.
    Bounce { nodes: Vec<Selector> },
    /// Links between different groups are cut, both ways.
    Partition { groups: Vec<Vec<Selector>> },
    /// Messages from `from` to `to` are dropped; the other direction works.
    PartitionOneway {
        from: Vec<Selector>,
        to: Vec<Selector>,
    },
    /// Two halves, drawn from the seed.
    PartitionHalves,
    /// Jepsen's overlapping majorities ring, drawn from the seed.
    PartitionMajoritiesRing,
    /// The nodes are cut from every other node.
    Isolate { nodes: Vec<Selector> },
    /// Every partition and hold is removed (and disk faults end).
    Heal,
    /// Messages between groups are delayed until released.
    Hold { groups: Vec<Vec<Selector>> },
    /// Held messages between groups are delivered.
    Release { groups: Vec<Vec<Selector>> },
    /// The one-way link delay becomes uniform in `latency` from now on.
    Slow { latency: DurationRange },
    /// The link failure rate (chance per link per second) from now on.
    Flaky { rate: f64 },
    /// A minority of nodes, drawn from the seed, crash.
    CrashMinority,
    /// The leader of `shard` crashes.
    CrashLeader { shard: u32 },
    /// Every crashed node restarts.
    RestartAll,
    /// Single-server membership change: `node` joins `shard`.
    AddMember { node: Selector, shard: u32 },
    /// Single-server membership change: `node` leaves `shard`.
    RemoveMember { node: Selector, shard: u32 },
    /// Leadership of `shard` moves, to `to` if given.
    TransferLeader { shard: u32, to: Option<Selector> },
    /// The nodes' disks misbehave until the next `heal`.
    DiskFault {
        nodes: Vec<Selector>,
        kind: DiskFaultKind,
    },
    /// The nodes stop (SIGSTOP in real mode; every link held in the simulator).
    Pause { nodes: Vec<Selector> },
    /// Paused nodes go on.
    Resume { nodes: Vec<Selector> },
}

impl Action {
    /// Which action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Crash { .. } => ActionKind::Crash,
            Action::Restart { .. } => ActionKind::Restart,
            Action::Bounce { .. } => ActionKind::Bounce,
            Action::Partition { .. } => ActionKind::Partition,
            Action::PartitionOneway { .. } => ActionKind::PartitionOneway,
            Action::PartitionHalves => ActionKind::PartitionHalves,
            Action::PartitionMajoritiesRing => ActionKind::PartitionMajoritiesRing,
            Action::Isolate { .. } => ActionKind::Isolate,
            Action::Heal => ActionKind::Heal,
            Action::Hold { .. } => ActionKind::Hold,
            Action::Release { .. } => ActionKind::Release,
            Action::Slow { .. } => ActionKind::Slow,
            Action::Flaky { .. } => ActionKind::Flaky,
            Action::CrashMinority => ActionKind::CrashMinority,
            Action::CrashLeader { .. } => ActionKind::CrashLeader,
            Action::RestartAll => ActionKind::RestartAll,
            Action::AddMember { .. } => ActionKind::AddMember,
            Action::RemoveMember { .. } => ActionKind::RemoveMember,
            Action::TransferLeader { .. } => ActionKind::TransferLeader,
            Action::DiskFault { .. } => ActionKind::DiskFault,
            Action::Pause { .. } => ActionKind::Pause,
            Action::Resume { .. } => ActionKind::Resume,
        }
    }

    /// The action's name, as in `do`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Every selector the action's arguments mention, in argument order.
    pub fn selectors(&self) -> Vec<Selector> {
        match self {
            Action::Crash { nodes }
            | Action::Restart { nodes }
            | Action::Bounce { nodes }
            | Action::Isolate { nodes }
            | Action::Pause { nodes }
            | Action::Resume { nodes }
            | Action::DiskFault { nodes, .. } => nodes.clone(),
            Action::Partition { groups } | Action::Hold { groups } | Action::Release { groups } => {
                groups.iter().flatten().copied().collect()
            }
            Action::PartitionOneway { from, to } => from.iter().chain(to).copied().collect(),
            Action::AddMember { node, .. } | Action::RemoveMember { node, .. } => vec![*node],
            Action::TransferLeader { to, .. } => to.iter().copied().collect(),
            _ => Vec::new(),
        }
    }
}
