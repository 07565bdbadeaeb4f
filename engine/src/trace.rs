//! Structured protocol events: what a server did, in the order it did it.
//!
//! The consensus core emits them in every [`crate::raft::Ready`]; the node
//! layer adds what only it knows (durability, application) and hands every
//! event to `tracing` and to an embedder-provided [`TraceSink`]. The harness
//! writes them into the history as `trace` lines, and the trace checker in
//! `tumult-models` rebuilds the cluster's state from them.
//!
//! The vocabulary lives in the leaf crate `tumult-trace` (shared with
//! `tumult-models`); this module re-exports it.
//!
//! Serialized with `"event": "<kebab-case name>"` and the fields inline, e.g.
//! `{"event":"become-leader","term":4}`. An event's own log position is
//! written `log_index` (SPEC.md section 3), so that inside a history line
//! `index` always means the line's position; `index` is still read.

pub use tumult_trace::*;
