//! Arbitrary text as a scenario file.
//!
//! [`parse_str`] must return a scenario or a [`ScenarioError`] that names
//! the file, and never panic, whatever the text.
//!
//! [`parse_str`]: tumult_harness::scenario::parse_str
//! [`ScenarioError`]: tumult_harness::scenario::ScenarioError

#![no_main]

use libfuzzer_sys::fuzz_target;
use tumult_harness::scenario::parse_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_str("fuzz.toml", text) {
        Ok(scenario) => {
            let _ = scenario.cluster.node_names();
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.contains("fuzz.toml"),
                "the error names no file: {shown}"
            );
        }
    }
});
