//! Arbitrary bytes as a `history.jsonl`.
//!
//! [`read_history`] must return a history or an error naming a line, never
//! panic; every entry it returns must serialize to a line it reads back.
//!
//! [`read_history`]: tumult_models::history::read_history

#![no_main]

use libfuzzer_sys::fuzz_target;
use tumult_models::history::{parse_line, read_history, HistoryError};

fuzz_target!(|data: &[u8]| {
    match read_history(data) {
        Ok(history) => {
            for record in &history.records {
                let line = record.entry.to_line();
                let back = parse_line(record.line, &line)
                    .unwrap_or_else(|e| panic!("{line} does not read back: {e}"));
                assert_eq!(back.index(), record.entry.index());
                assert_eq!(back.time(), record.entry.time());
            }
        }
        Err(HistoryError::Io(e)) => panic!("reading from memory failed: {e}"),
        Err(e) => assert!(e.to_string().starts_with("line "), "{e}"),
    }
});
