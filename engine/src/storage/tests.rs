//! Store tests: round trips on real files, crash recovery and disk faults on
//! turmoil's simulated file system.

use super::*;
use crate::raft::{Membership, Payload};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

fn entry(index: Index, term: u64, size: usize) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command {
            request: None,
            data: vec![(index % 251) as u8; size],
        },
    }
}

fn entries(range: std::ops::RangeInclusive<Index>, term: u64) -> Vec<Entry> {
    range.map(|i| entry(i, term, 8)).collect()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tumult-storage-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn std_store(dir: &TempDir) -> Store {
    Store::open(Arc::new(StdDisk), &dir.0).unwrap()
}

#[test]
fn std_round_trips_ballot_entries_and_meta() {
    let dir = TempDir::new("roundtrip");
    let store = std_store(&dir);
    assert!(store.shards().unwrap().is_empty());
    assert_eq!(store.load(1).unwrap(), Recovered::default());
    store
        .write(&[ShardWrite {
            shard: 1,
            hard_state: Some(HardState {
                term: 3,
                vote: Some(2),
            }),
            entries: vec![
                entry(1, 1, 10),
                Entry {
                    index: 2,
                    term: 2,
                    payload: Payload::Config(Membership::new([1, 2, 3])),
                },
                Entry {
                    index: 3,
                    term: 3,
                    payload: Payload::Noop,
                },
            ],
            ..Default::default()
        }])
        .unwrap();
    store.put_meta("node_id", b"n1").unwrap();
    store.sync().unwrap();
    let before = store.load(1).unwrap();
    store.close().unwrap();

    let store = std_store(&dir);
    assert_eq!(store.shards().unwrap(), vec![1]);
    let got = store.load(1).unwrap();
    assert_eq!(got, before);
    assert_eq!(
        got.hard_state,
        HardState {
            term: 3,
            vote: Some(2)
        }
    );
    assert_eq!(got.entries.len(), 3);
    assert_eq!(
        got.entries[1].payload,
        Payload::Config(Membership::new([1, 2, 3]))
    );
    assert_eq!(
        store.get_meta("node_id").unwrap().as_deref(),
        Some(&b"n1"[..])
    );
    assert_eq!(store.get_meta("other").unwrap(), None);
}

#[test]
fn std_truncation_replaces_the_conflicting_suffix() {
    let dir = TempDir::new("truncate");
    let store = std_store(&dir);
    store
        .write(&[ShardWrite {
            shard: 5,
            entries: entries(1..=10, 1),
            ..Default::default()
        }])
        .unwrap();
    store
        .write(&[ShardWrite {
            shard: 5,
            truncate_from: Some(7),
            entries: entries(7..=8, 2),
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    drop(store);
    let got = std_store(&dir).load(5).unwrap();
    let terms: Vec<_> = got.entries.iter().map(|e| (e.index, e.term)).collect();
    assert_eq!(
        terms,
        vec![
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 1),
            (7, 2),
            (8, 2)
        ]
    );
}

#[test]
fn std_snapshot_keeps_matching_suffix_and_compaction_deletes_prefix() {
    let dir = TempDir::new("snapshot");
    let store = std_store(&dir);
    let meta = |index, term| SnapshotMeta {
        index,
        term,
        membership: Membership::new([1, 2, 3]),
    };
    store
        .write(&[ShardWrite {
            shard: 2,
            entries: entries(1..=10, 1),
            ..Default::default()
        }])
        .unwrap();
    // The entry at 5 has the snapshot's term: 6..=10 stay.
    store
        .write(&[ShardWrite {
            shard: 2,
            snapshot: Some((meta(5, 1), b"state@5".to_vec())),
            compact_to: Some(5),
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    drop(store);
    let store = std_store(&dir);
    let got = store.load(2).unwrap();
    assert_eq!(got.snapshot, Some(meta(5, 1)));
    assert_eq!(got.entries.first().map(|e| e.index), Some(6));
    assert_eq!(got.entries.len(), 5);
    assert_eq!(
        store.load_snapshot(2).unwrap(),
        Some((meta(5, 1), b"state@5".to_vec()))
    );
    // Appending continues after the last entry.
    store
        .write(&[ShardWrite {
            shard: 2,
            entries: entries(11..=11, 1),
            ..Default::default()
        }])
        .unwrap();
    // A snapshot whose term does not match the log discards the whole log.
    store
        .write(&[ShardWrite {
            shard: 2,
            snapshot: Some((meta(8, 4), b"state@8".to_vec())),
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    let got = store.load(2).unwrap();
    assert_eq!(got.snapshot, Some(meta(8, 4)));
    assert!(got.entries.is_empty());
    // After a snapshot with no entries, the log continues at its index + 1.
    store
        .write(&[ShardWrite {
            shard: 2,
            entries: entries(9..=9, 4),
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    drop(store);
    let got = std_store(&dir).load(2).unwrap();
    assert_eq!(got.entries, vec![entry(9, 4, 8)]);
}

#[test]
#[should_panic(expected = "must follow the last kept entry")]
fn append_with_a_gap_is_a_caller_bug() {
    let dir = TempDir::new("gap");
    let store = std_store(&dir);
    let _ = store.write(&[ShardWrite {
        shard: 1,
        entries: entries(2..=3, 1),
        ..Default::default()
    }]);
}

#[test]
fn std_many_shards_in_one_batch_and_remove_shard() {
    let dir = TempDir::new("many");
    let store = std_store(&dir);
    let batch: Vec<ShardWrite> = (0..1000u64)
        .map(|s| ShardWrite {
            shard: s * 3 + 1,
            hard_state: Some(HardState {
                term: s,
                vote: None,
            }),
            entries: entries(1..=5, 1),
            ..Default::default()
        })
        .collect();
    store.write(&batch).unwrap();
    store.sync().unwrap();
    store.remove_shard(4).unwrap();
    store.sync().unwrap();
    drop(store);

    let store = std_store(&dir);
    let started = std::time::Instant::now();
    let all = store.load_all().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(all.len(), 999);
    assert!(!all.contains_key(&4));
    assert_eq!(all[&7].hard_state.term, 2);
    assert_eq!(all[&7].entries, entries(1..=5, 1));
    assert_eq!(
        store.shards().unwrap(),
        all.keys().copied().collect::<Vec<_>>()
    );
    let started1 = std::time::Instant::now();
    for s in all.keys() {
        assert_eq!(store.load(*s).unwrap().entries.len(), 5);
    }
    eprintln!(
        "load_all of 999 shards: {elapsed:?}; 999 single loads: {:?}",
        started1.elapsed()
    );
}

#[test]
fn std_drop_without_sync_is_a_power_loss() {
    let dir = TempDir::new("powerloss");
    let store = std_store(&dir);
    let a = ShardWrite {
        shard: 1,
        entries: entries(1..=3, 1),
        ..Default::default()
    };
    store.write(&[a]).unwrap();
    store.sync().unwrap();
    store
        .write(&[ShardWrite {
            shard: 1,
            entries: entries(4..=6, 1),
            ..Default::default()
        }])
        .unwrap();
    drop(store);
    assert_eq!(std_store(&dir).load(1).unwrap().entries, entries(1..=3, 1));
}

#[test]
fn failed_sync_poisons_the_store() {
    let dir = TempDir::new("poison");
    let (disk, faults) = FaultyDisk::new(StdDisk);
    let store = Store::open(Arc::new(disk), &dir.0).unwrap();
    store
        .write(&[ShardWrite {
            shard: 1,
            entries: entries(1..=2, 1),
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    store
        .write(&[ShardWrite {
            shard: 1,
            entries: entries(3..=4, 1),
            ..Default::default()
        }])
        .unwrap();
    faults.set_fail_syncs(true);
    let err = store.sync().unwrap_err();
    assert!(
        err.to_string().contains("injected: sync I/O error"),
        "{err}"
    );
    faults.heal();
    let later = store
        .write(&[ShardWrite {
            shard: 2,
            entries: entries(1..=1, 1),
            ..Default::default()
        }])
        .unwrap_err();
    assert!(
        matches!(later, StorageError::Poisoned { op: "write", .. }),
        "{later}"
    );
    assert!(matches!(store.sync(), Err(StorageError::Poisoned { .. })));
    assert!(store.poisoned().is_some());
}

#[test]
fn failed_write_poisons_the_store() {
    let dir = TempDir::new("poisonw");
    let (disk, faults) = FaultyDisk::new(StdDisk);
    let store = Store::open(Arc::new(disk), &dir.0).unwrap();
    faults.set_no_space(true);
    // The failure surfaces at the write or, if redb buffered it, at the sync.
    let mut failed = None;
    for i in 1..=50u64 {
        let r = store
            .write(&[ShardWrite {
                shard: 1,
                entries: vec![entry(i, 1, 64 * 1024)],
                ..Default::default()
            }])
            .and_then(|()| store.sync());
        if let Err(e) = r {
            failed = Some(e);
            break;
        }
    }
    let e = failed.expect("ENOSPC never surfaced");
    assert!(e.to_string().contains("no space"), "{e}");
    assert!(matches!(store.sync(), Err(StorageError::Poisoned { .. })));
}

#[cfg(feature = "turmoil")]
mod sim {
    use super::*;
    use std::sync::Mutex;

    type Loaded = BTreeMap<ShardId, Recovered>;

    fn builder(seed: u64) -> turmoil::Builder {
        let mut b = turmoil::Builder::new();
        b.epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .simulation_duration(Duration::from_secs(600))
            .rng_seed(seed);
        b
    }

    fn data_dir() -> &'static Path {
        Path::new("/var/lib/tumult/n1")
    }

    fn open() -> Result<Store, StorageError> {
        Store::open(Arc::new(TurmoilDisk), data_dir())
    }

    /// A batch of appends to `shards` shards, after `last` entries each.
    fn appends(shards: u64, last: Index, n: u64, size: usize) -> Vec<ShardWrite> {
        (1..=shards)
            .map(|s| ShardWrite {
                shard: s,
                hard_state: Some(HardState {
                    term: last + n,
                    vote: Some(s),
                }),
                entries: (last + 1..=last + n).map(|i| entry(i, 1, size)).collect(),
                ..Default::default()
            })
            .collect()
    }

    /// Runs `first` in a host, crashes it once `first` has signalled, then
    /// restarts it and returns what a reopened store loads.
    fn crash_and_reload(
        b: turmoil::Builder,
        first: impl Fn(Arc<AtomicBool>) -> futures::future::BoxFuture<'static, ()> + 'static,
    ) -> Result<Loaded, StorageError> {
        let mut sim = b.build();
        let incarnation = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let out: Arc<Mutex<Option<Result<Loaded, StorageError>>>> = Arc::default();
        let (inc, rdy, o) = (incarnation.clone(), ready.clone(), out.clone());
        let first = Arc::new(first);
        sim.host("n1", move || {
            let n = inc.fetch_add(1, Ordering::SeqCst);
            let (rdy, o, first) = (rdy.clone(), o.clone(), first.clone());
            async move {
                if n == 0 {
                    first(rdy).await;
                } else {
                    let loaded = open().and_then(|s| s.load_all());
                    *o.lock().unwrap() = Some(loaded);
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let mut steps = 0;
        while !ready.load(Ordering::SeqCst) {
            sim.step().unwrap();
            steps += 1;
            assert!(steps < 10_000, "first incarnation never signalled");
        }
        sim.crash("n1");
        sim.bounce("n1");
        while out.lock().unwrap().is_none() {
            sim.step().unwrap();
        }
        let r = out.lock().unwrap().take().unwrap();
        r
    }

    #[test]
    fn crash_keeps_exactly_the_synced_batch() {
        let expected: Arc<Mutex<Loaded>> = Arc::default();
        let exp = expected.clone();
        let got = crash_and_reload(builder(1), move |ready| {
            let exp = exp.clone();
            Box::pin(async move {
                let store = open().unwrap();
                store.write(&appends(3, 0, 4, 100)).unwrap(); // batch A
                store.sync().unwrap();
                *exp.lock().unwrap() = store.load_all().unwrap();
                store.write(&appends(3, 4, 4, 100)).unwrap(); // batch B, never synced
                store.write(&appends(5, 0, 1, 100)[3..]).unwrap();
                // Reads see what is durable, as a crash would leave it.
                assert_eq!(store.load_all().unwrap(), *exp.lock().unwrap());
                ready.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(store);
            })
        })
        .unwrap();
        let expected = expected.lock().unwrap().clone();
        assert_eq!(expected.len(), 3);
        assert_eq!(expected[&1].entries.len(), 4);
        assert_eq!(got, expected);
    }

    /// Many writes between syncs and writes after the last sync, under
    /// torn writes (`block_size`) or random write-back (`sync_probability`):
    /// the reopened store holds exactly the last synced state.
    fn torture(seed: u64, configure: impl Fn(&mut turmoil::FsConfig)) {
        let mut b = builder(seed);
        configure(b.fs());
        let expected: Arc<Mutex<Loaded>> = Arc::default();
        let exp = expected.clone();
        let got = crash_and_reload(b, move |ready| {
            let exp = exp.clone();
            Box::pin(async move {
                let store = open().unwrap();
                let mut last = 0;
                for round in 0..12u64 {
                    // Big entries so that commits span many pages and reuse freed ones.
                    store.write(&appends(4, last, 3, 3000)).unwrap();
                    last += 3;
                    if round % 4 == 0 {
                        let shard = 1 + round % 4;
                        store
                            .write(&[ShardWrite {
                                shard,
                                snapshot: Some((
                                    SnapshotMeta {
                                        index: last - 1,
                                        term: 1,
                                        membership: Membership::new([1]),
                                    },
                                    vec![round as u8; 5000],
                                )),
                                ..Default::default()
                            }])
                            .unwrap();
                    }
                    if round % 3 == 2 && round < 9 {
                        store.sync().unwrap();
                        *exp.lock().unwrap() = store.load_all().unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                ready.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(store);
            })
        })
        .unwrap();
        let expected = expected.lock().unwrap().clone();
        assert_eq!(expected[&2].entries.last().map(|e| e.index), Some(27));
        assert_eq!(got, expected, "seed {seed}");
    }

    #[test]
    fn torn_writes_after_the_last_sync_never_damage_synced_state() {
        for seed in 0..8 {
            torture(seed, |fs| {
                fs.block_size(512);
            });
        }
    }

    #[test]
    fn random_write_back_never_resurrects_unsynced_writes() {
        for seed in 0..8 {
            torture(seed, |fs| {
                fs.sync_probability(0.3).block_size(4096);
            });
        }
    }

    /// Runs `body` once in a host and returns its result.
    fn in_host<T: Send + 'static>(b: turmoil::Builder, body: impl Fn() -> T + 'static) -> T {
        let mut sim = b.build();
        let out: Arc<Mutex<Option<T>>> = Arc::default();
        let o = out.clone();
        let body = Arc::new(body);
        sim.host("n1", move || {
            let (o, body) = (o.clone(), body.clone());
            async move {
                *o.lock().unwrap() = Some(body());
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        while out.lock().unwrap().is_none() {
            sim.step().unwrap();
        }
        let r = out.lock().unwrap().take().unwrap();
        r
    }

    /// Writes and syncs until something fails; then checks the store is poisoned.
    fn fill_until_error(store: &Store) -> StorageError {
        let mut last = 0;
        for _ in 0..2000 {
            let r = store
                .write(&appends(2, last, 4, 4000))
                .and_then(|()| store.sync());
            last += 4;
            if let Err(e) = r {
                let later = store.write(&appends(1, 0, 1, 1)).unwrap_err();
                assert!(matches!(later, StorageError::Poisoned { .. }), "{later}");
                assert!(matches!(store.sync(), Err(StorageError::Poisoned { .. })));
                return e;
            }
        }
        panic!("no storage error after 2000 batches");
    }

    #[test]
    fn capacity_exhaustion_is_an_error_and_poisons() {
        let mut b = builder(3);
        b.fs().capacity(4 * 1024 * 1024);
        let msg = in_host(b, || {
            let store = open().unwrap();
            fill_until_error(&store).to_string()
        });
        assert!(msg.contains("No space left on device"), "{msg}");
    }

    #[test]
    fn io_errors_are_errors_and_poison() {
        let mut b = builder(4);
        b.fs().io_error_probability(0.02);
        let msg = in_host(b, || {
            // Opening may itself fail; that must be an error too.
            for _ in 0..100 {
                match open() {
                    Ok(store) => return fill_until_error(&store).to_string(),
                    Err(e) => assert!(e.to_string().contains("I/O error"), "{e}"),
                }
            }
            panic!("open never succeeded");
        });
        assert!(msg.contains("I/O error"), "{msg}");
    }

    #[test]
    fn every_io_failing_fails_open_cleanly() {
        let mut b = builder(5);
        b.fs().io_error_probability(1.0);
        let err = in_host(b, || open().map(|_| ()).unwrap_err().to_string());
        assert!(err.contains("I/O error"), "{err}");
    }

    #[test]
    fn failed_sync_then_crash_recovers_the_previous_sync() {
        let expected: Arc<Mutex<Loaded>> = Arc::default();
        let exp = expected.clone();
        let got = crash_and_reload(builder(6), move |ready| {
            let exp = exp.clone();
            Box::pin(async move {
                let (disk, faults) = FaultyDisk::new(TurmoilDisk);
                let store = Store::open(Arc::new(disk), data_dir()).unwrap();
                store.write(&appends(2, 0, 2, 10)).unwrap();
                store.sync().unwrap();
                *exp.lock().unwrap() = store.load_all().unwrap();
                store.write(&appends(2, 2, 2, 10)).unwrap();
                faults.set_fail_syncs(true);
                assert!(store.sync().is_err());
                assert!(store.write(&appends(2, 4, 1, 10)).is_err());
                ready.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(store);
            })
        })
        .unwrap();
        assert_eq!(got, *expected.lock().unwrap());
    }
}

/// A log whose terms decrease decodes, but is a clear error naming the shard
/// and the entry when the shard is loaded, never a panic later in the core.
#[test]
fn std_log_with_decreasing_terms_is_reported_at_load_naming_shard_and_entry() {
    let dir = TempDir::new("inconsistent");
    let store = std_store(&dir);
    let mut decreasing = entries(1..=2, 3);
    decreasing.push(entry(3, 2, 8));
    store
        .write(&[ShardWrite {
            shard: 4,
            hard_state: Some(HardState {
                term: 3,
                vote: None,
            }),
            entries: decreasing,
            ..Default::default()
        }])
        .unwrap();
    store.sync().unwrap();
    let err = store.load(4).unwrap_err().to_string();
    assert!(
        err.contains("shard 4") && err.contains("entry 3 has term 2"),
        "{err}"
    );
}
