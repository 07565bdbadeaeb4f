//! Bytes read back from disk, into the storage codec's decoders.
//!
//! Every decoder must return a value or a [`CodecError`] for any bytes,
//! without panicking or allocating more than the input describes; a value it
//! returns must survive a round trip through its encoder.
//!
//! [`CodecError`]: tumult_engine::storage::codec::CodecError

#![no_main]

use libfuzzer_sys::fuzz_target;
use tumult_engine::storage::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = codec::decode_entry(data) {
        assert_eq!(
            codec::decode_entry(&codec::encode_entry(&e)).as_ref(),
            Ok(&e)
        );
    }
    if let Ok(hs) = codec::decode_hard_state(data) {
        assert_eq!(
            codec::decode_hard_state(&codec::encode_hard_state(&hs)),
            Ok(hs)
        );
    }
    if let Ok(m) = codec::decode_snapshot_meta(data) {
        assert_eq!(
            codec::decode_snapshot_meta(&codec::encode_snapshot_meta(&m)).as_ref(),
            Ok(&m)
        );
    }
});
