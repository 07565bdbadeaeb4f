//! An abstract coverage signal from a run's history (after Mallory's
//! happens-before event pairs): for every (node, shard) the sequence of its
//! trace events, abstracted to event names, contributes each pair and triple
//! of consecutive names; nemesis actions contribute their name paired with
//! the next trace event anywhere. A run that adds a feature no earlier run
//! had reached new protocol behaviour and becomes a parent.

use std::collections::{BTreeMap, BTreeSet};
use tumult_models::history::Entry;

/// The features one run reached.
pub type Features = BTreeSet<u64>;

fn feature(parts: &[&str]) -> u64 {
    // FNV-1a over the names: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The features of a history.
pub fn features(entries: &[Entry]) -> Features {
    let mut out = Features::new();
    let mut last: BTreeMap<(String, Option<u64>), (&'static str, &'static str)> = BTreeMap::new();
    let mut nemesis: Option<String> = None;
    for e in entries {
        match e {
            Entry::Trace(t) => {
                let name = t.event.name();
                let key = (t.node.clone(), t.shard);
                let (a, b) = last.get(&key).copied().unwrap_or(("", ""));
                out.insert(feature(&[b, name]));
                out.insert(feature(&[a, b, name]));
                last.insert(key, (b, name));
                if let Some(f) = nemesis.take() {
                    out.insert(feature(&["nemesis", &f, name]));
                }
            }
            Entry::Nemesis(n) => nemesis = Some(n.f.clone()),
            Entry::Client(_) => {}
        }
    }
    out
}
