//! The on-disk encoding of log entries, ballots and snapshot descriptions.
//!
//! A hand-written binary format: one version byte, then LEB128 varints and
//! length-prefixed byte strings. Decoding never panics and never allocates
//! more than the input could describe: garbage yields [`CodecError`].
//!
//! ```
//! use tumult_engine::raft::{Entry, Payload};
//! use tumult_engine::storage::codec;
//!
//! let e = Entry { index: 7, term: 2, payload: Payload::Noop };
//! assert_eq!(codec::decode_entry(&codec::encode_entry(&e)).unwrap(), e);
//! assert!(codec::decode_entry(&[0xff, 0x01]).is_err());
//! ```

use crate::raft::{Entry, HardState, Membership, Payload, RequestId, SnapshotMeta};

/// The format version written in the first byte of every record.
pub const VERSION: u8 = 1;

const TAG_NOOP: u8 = 0;
const TAG_COMMAND: u8 = 1;
const TAG_CONFIG: u8 = 2;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, CodecError> {
    Err(CodecError(msg.into()))
}

/// Encodes a log entry.
pub fn encode_entry(e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.push(VERSION);
    put_varint(&mut out, e.index);
    put_varint(&mut out, e.term);
    match &e.payload {
        Payload::Noop => out.push(TAG_NOOP),
        Payload::Command { request, data } => {
            out.push(TAG_COMMAND);
            match request {
                None => out.push(0),
                Some(r) => {
                    out.push(1);
                    put_varint(&mut out, r.client);
                    put_varint(&mut out, r.seq);
                }
            }
            put_bytes(&mut out, data);
        }
        Payload::Config(m) => {
            out.push(TAG_CONFIG);
            put_membership(&mut out, m);
        }
    }
    out
}

/// Decodes a log entry written by [`encode_entry`].
pub fn decode_entry(buf: &[u8]) -> Result<Entry, CodecError> {
    let mut r = Reader::new(buf, "entry")?;
    let index = r.varint("index")?;
    let term = r.varint("term")?;
    let payload = match r.byte("payload tag")? {
        TAG_NOOP => Payload::Noop,
        TAG_COMMAND => {
            let request = match r.byte("request flag")? {
                0 => None,
                1 => Some(RequestId {
                    client: r.varint("request client")?,
                    seq: r.varint("request seq")?,
                }),
                other => return err(format!("entry: bad request flag {other}")),
            };
            let data = r.bytes("command data")?.to_vec();
            Payload::Command { request, data }
        }
        TAG_CONFIG => Payload::Config(r.membership()?),
        other => return err(format!("entry: unknown payload tag {other}")),
    };
    r.finish()?;
    Ok(Entry {
        index,
        term,
        payload,
    })
}

/// Encodes a ballot.
pub fn encode_hard_state(hs: &HardState) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    out.push(VERSION);
    put_varint(&mut out, hs.term);
    match hs.vote {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_varint(&mut out, v);
        }
    }
    out
}

/// Decodes a ballot written by [`encode_hard_state`].
pub fn decode_hard_state(buf: &[u8]) -> Result<HardState, CodecError> {
    let mut r = Reader::new(buf, "hard state")?;
    let term = r.varint("term")?;
    let vote = match r.byte("vote flag")? {
        0 => None,
        1 => Some(r.varint("vote")?),
        other => return err(format!("hard state: bad vote flag {other}")),
    };
    r.finish()?;
    Ok(HardState { term, vote })
}

/// Encodes a snapshot description.
pub fn encode_snapshot_meta(m: &SnapshotMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.push(VERSION);
    put_varint(&mut out, m.index);
    put_varint(&mut out, m.term);
    put_membership(&mut out, &m.membership);
    out
}

/// Decodes a snapshot description written by [`encode_snapshot_meta`].
pub fn decode_snapshot_meta(buf: &[u8]) -> Result<SnapshotMeta, CodecError> {
    let mut r = Reader::new(buf, "snapshot meta")?;
    let index = r.varint("index")?;
    let term = r.varint("term")?;
    let membership = r.membership()?;
    r.finish()?;
    Ok(SnapshotMeta {
        index,
        term,
        membership,
    })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_membership(out: &mut Vec<u8>, m: &Membership) {
    put_varint(out, m.voters.len() as u64);
    for v in &m.voters {
        put_varint(out, *v);
    }
}

/// A bounds-checked cursor over one record.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Result<Self, CodecError> {
        let mut r = Reader { buf, pos: 0, what };
        match r.byte("version")? {
            VERSION => Ok(r),
            v => err(format!(
                "{what}: unknown format version {v} (expected {VERSION})"
            )),
        }
    }

    fn byte(&mut self, field: &str) -> Result<u8, CodecError> {
        match self.buf.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => err(format!("{}: truncated at {field}", self.what)),
        }
    }

    fn varint(&mut self, field: &str) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte(field)?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return err(format!("{}: {field} overflows u64", self.what));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err(format!(
            "{}: {field} varint longer than 10 bytes",
            self.what
        ))
    }

    fn bytes(&mut self, field: &str) -> Result<&'a [u8], CodecError> {
        let len = self.varint(field)?;
        let left = (self.buf.len() - self.pos) as u64;
        if len > left {
            return err(format!(
                "{}: {field} claims {len} bytes but only {left} remain",
                self.what
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn membership(&mut self) -> Result<Membership, CodecError> {
        let n = self.varint("voter count")?;
        // Each voter takes at least one byte: reject counts the input cannot hold.
        if n > (self.buf.len() - self.pos) as u64 {
            return err(format!("{}: voter count {n} exceeds the record", self.what));
        }
        let mut voters = std::collections::BTreeSet::new();
        for _ in 0..n {
            let v = self.varint("voter")?;
            if !voters.insert(v) {
                return err(format!("{}: voter {v} listed twice", self.what));
            }
        }
        Ok(Membership { voters })
    }

    fn finish(self) -> Result<(), CodecError> {
        if self.pos != self.buf.len() {
            return err(format!(
                "{}: {} trailing bytes",
                self.what,
                self.buf.len() - self.pos
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Entry> {
        vec![
            Entry {
                index: 1,
                term: 1,
                payload: Payload::Noop,
            },
            Entry {
                index: u64::MAX,
                term: u64::MAX - 1,
                payload: Payload::Command {
                    request: Some(RequestId {
                        client: 300,
                        seq: 1 << 40,
                    }),
                    data: b"hello".to_vec(),
                },
            },
            Entry {
                index: 5,
                term: 3,
                payload: Payload::Command {
                    request: None,
                    data: vec![],
                },
            },
            Entry {
                index: 9,
                term: 4,
                payload: Payload::Config(Membership::new([1, 2, 3, 200])),
            },
        ]
    }

    #[test]
    fn entries_round_trip() {
        for e in samples() {
            assert_eq!(decode_entry(&encode_entry(&e)).unwrap(), e);
        }
    }

    #[test]
    fn hard_state_and_meta_round_trip() {
        for hs in [
            HardState::default(),
            HardState {
                term: 9,
                vote: Some(3),
            },
        ] {
            assert_eq!(decode_hard_state(&encode_hard_state(&hs)).unwrap(), hs);
        }
        let m = SnapshotMeta {
            index: 77,
            term: 5,
            membership: Membership::new([1, 2, 3]),
        };
        assert_eq!(decode_snapshot_meta(&encode_snapshot_meta(&m)).unwrap(), m);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        // Every truncation and every single-byte corruption of valid records,
        // plus a deterministic stream of pseudo-random buffers.
        for e in samples() {
            let good = encode_entry(&e);
            for cut in 0..good.len() {
                assert!(decode_entry(&good[..cut]).is_err(), "prefix {cut} of {e:?}");
            }
            for i in 0..good.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[i] ^= flip;
                    let _ = decode_entry(&bad);
                }
            }
            let mut long = good.clone();
            long.push(0);
            assert!(decode_entry(&long).is_err());
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..2000usize {
            let mut buf = Vec::with_capacity(len % 64);
            for _ in 0..len % 64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            if !buf.is_empty() {
                buf[0] = VERSION;
            }
            let _ = decode_entry(&buf);
            let _ = decode_hard_state(&buf);
            let _ = decode_snapshot_meta(&buf);
        }
        assert!(decode_entry(&[]).is_err());
        assert!(decode_entry(&[2, 1, 1, 0]).is_err());
        // A varint that never ends, and one that overflows.
        assert!(decode_hard_state(&[
            VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ])
        .is_err());
        assert!(decode_hard_state(&[
            VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0
        ])
        .is_err());
        // A data length far beyond the buffer does not allocate it.
        assert!(
            decode_entry(&[VERSION, 1, 1, TAG_COMMAND, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err()
        );
        assert!(decode_snapshot_meta(&[VERSION, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }
}
