//! Arbitrary text as a Jepsen etcd log.
//!
//! [`parse_jepsen_etcd`] must return a register history or an error naming
//! a line, never panic.
//!
//! [`parse_jepsen_etcd`]: tumult_models::lin::corpus::parse_jepsen_etcd

#![no_main]

use libfuzzer_sys::fuzz_target;
use tumult_models::history::Entry;
use tumult_models::lin::corpus::{parse_jepsen_etcd, ETCD_KEY};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(history) = parse_jepsen_etcd(text) {
        for record in &history.records {
            let Entry::Client(op) = &record.entry else {
                panic!("a jepsen log gives client operations only");
            };
            assert_eq!(op.key, ETCD_KEY);
        }
    }
});
