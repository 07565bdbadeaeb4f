//! The error a refused scenario file produces: file, line, field, reason.

use std::fmt;

/// A scenario file refused before anything runs.
///
/// Displays as `FILE:LINE: FIELD: MESSAGE`, for example
/// `scenarios/x.toml:14: nemesis[2].groups: unknown node "n9" (cluster has n1..n5)`.
/// `line` is 1-based and comes from the TOML span of the offending item;
/// it is 0 only when the file could not be read at all. `field` is the
/// path of the offending item (`cluster.nodes`, `nemesis[0].groups[1][0]`;
/// array indexes are 0-based), empty for a TOML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file name as given to the parser.
    pub file: String,
    /// 1-based line of the offending item; 0 if the file could not be read.
    pub line: usize,
    /// Path of the offending field, e.g. `workload.mix.cas`.
    pub field: String,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}
