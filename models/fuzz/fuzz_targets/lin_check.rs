//! Small arbitrary histories, checked for linearizability.
//!
//! Input: a format byte (tumult, porcupine-kv or jepsen-etcd), then the
//! text, at most 2 KiB. [`check_text`] must give a report or an error
//! naming a line, never panic; the search runs under a short timeout, so an
//! expensive history ends as "unknown", not as a hang.
//!
//! [`check_text`]: tumult_models::lin::check_text

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use tumult_models::lin::{check_text, CheckOptions, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if rest.len() > 2048 {
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let opts = CheckOptions {
        timeout: Duration::from_millis(200),
        shrink: Some(Duration::from_millis(20)),
        html: None,
        threads: 1,
        ..CheckOptions::default()
    };
    if let Ok(report) = check_text(text, format, &opts) {
        let _ = report.is_ok();
    }
});
