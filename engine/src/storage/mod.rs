//! Durable state of a node: logs, ballots and snapshots of all its shards.
//!
//! One redb database per node holds every shard, so that the log writes of
//! all shards go to disk in one transaction ([`Store::write`]) and one sync
//! ([`Store::sync`]). The file system is injected ([`Disk`]): real files in
//! production, turmoil's simulated disk in the testbed.
//!
//! # Durability
//!
//! Writes ([`Store::write`], [`Store::remove_shard`], [`Store::put_meta`])
//! go into one open redb transaction. [`Store::sync`] commits it durably and
//! really syncs the file: one commit per sync, however many writes it
//! carries. Reads see what the last `sync` made durable, which is exactly
//! what a crash would leave: a crash before `sync` loses every write since
//! the previous one. redb never overwrites the pages of its last durable
//! commit with later ones, so torn writes of unsynced pages (written early
//! when redb's write buffer fills) cannot damage synced state.
//!
//! Dropping a `Store` is a power loss: nothing it would write on the way out
//! reaches the disk. Use [`Store::close`] for a graceful shutdown.
//!
//! After a failed write or sync the store is *poisoned*: every later write
//! or sync fails, so the node stops instead of acknowledging what is not on
//! disk.
//!
//! ```
//! use std::sync::Arc;
//! use tumult_engine::raft::{Entry, HardState, Payload};
//! use tumult_engine::storage::{ShardWrite, StdDisk, Store};
//!
//! let dir = std::env::temp_dir().join(format!("tumult-store-doc-{}", std::process::id()));
//! let store = Store::open(Arc::new(StdDisk), &dir).unwrap();
//! store.write(&[ShardWrite {
//!     shard: 7,
//!     hard_state: Some(HardState { term: 1, vote: Some(1) }),
//!     entries: vec![Entry { index: 1, term: 1, payload: Payload::Noop }],
//!     ..Default::default()
//! }]).unwrap();
//! store.sync().unwrap();
//! assert_eq!(store.load(7).unwrap().entries.len(), 1);
//! store.close().unwrap();
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod backend;
pub mod codec;
mod disk;
#[cfg(test)]
mod tests;

#[cfg(feature = "turmoil")]
pub use disk::TurmoilDisk;
pub use disk::{Disk, DiskFaults, DiskFile, FaultyDisk, StdDisk};

use crate::raft::{Entry, HardState, Index, Recovered, ShardId, SnapshotMeta};
use backend::{Backend, SharedFile};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The database file's name inside the store's directory.
pub const DB_FILE: &str = "tumult.redb";

/// Log entries of all shards, keyed by (shard, index).
const ENTRIES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("entries");
/// Each shard's ballot.
const HARD_STATE: TableDefinition<u64, &[u8]> = TableDefinition::new("hard_state");
/// Each shard's snapshot description.
const SNAP_META: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot_meta");
/// Each shard's snapshot bytes (kept apart so `load` does not read them).
const SNAP_DATA: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot_data");
/// Node-level metadata.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("node_meta");

/// What went wrong in storage. Every message says what the store was doing.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The file system failed.
    #[error("storage I/O failed while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// redb failed (this includes I/O errors it met).
    #[error("database error while {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: redb::Error,
    },
    /// Stored data does not decode or breaks an invariant of the log.
    #[error("corrupt {what} of shard {shard}: {detail}")]
    Corrupt {
        what: &'static str,
        shard: ShardId,
        detail: String,
    },
    /// An earlier write or sync failed; the store refuses to go on.
    #[error("store refuses to {op}: poisoned by an earlier failure: {cause}")]
    Poisoned { op: &'static str, cause: String },
}

trait DbContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T, StorageError>;
}

impl<T, E: Into<redb::Error>> DbContext<T> for Result<T, E> {
    fn ctx(self, context: impl Into<String>) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::Db {
            context: context.into(),
            source: e.into(),
        })
    }
}

fn io_ctx(context: impl Into<String>) -> impl FnOnce(io::Error) -> StorageError {
    move |source| StorageError::Io {
        context: context.into(),
        source,
    }
}

fn corrupt(what: &'static str, shard: ShardId, detail: impl ToString) -> StorageError {
    StorageError::Corrupt {
        what,
        shard,
        detail: detail.to_string(),
    }
}

/// The changes to one shard's durable state, applied in field order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardWrite {
    /// The shard.
    pub shard: ShardId,
    /// Replaces the ballot.
    pub hard_state: Option<HardState>,
    /// Deletes entries >= this, first.
    pub truncate_from: Option<Index>,
    /// Then appended: contiguous, starting right after the last entry kept
    /// (or the snapshot, or 0). A gap or overlap is a caller bug and panics.
    pub entries: Vec<Entry>,
    /// Replaces the stored snapshot. Entries <= `meta.index` are deleted;
    /// later entries are kept only if the entry at `meta.index` has
    /// `meta.term`, else all entries are deleted.
    pub snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    /// Deletes entries <= this. A stored snapshot must cover them.
    pub compact_to: Option<Index>,
}

/// The durable state of all shards of one node, in one redb database.
pub struct Store {
    db: Option<Database>,
    file: Arc<SharedFile>,
    /// Set by the first failed write or sync; says what failed.
    poisoned: Mutex<Option<String>>,
    /// The transaction that collects the writes since the last sync.
    pending: Mutex<Option<WriteTransaction>>,
    /// The deliberate bug of the node (see [`Store::with_mutant`]).
    mutant: Option<crate::mutants::Mutant>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("file", &self.file)
            .field("poisoned", &self.poisoned.lock().unwrap())
            .finish()
    }
}

impl Store {
    /// Opens the store in `dir` (creating the directory and the database if
    /// needed). After a crash redb recovers the last synced transaction.
    pub fn open(disk: Arc<dyn Disk>, dir: &Path) -> Result<Store, StorageError> {
        disk.create_dir_all(dir)
            .map_err(io_ctx(format!("creating directory {}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let opening = || format!("opening {}", path.display());
        let file = SharedFile::new(disk.open(&path).map_err(io_ctx(opening()))?);
        let db = Database::builder()
            .create_with_backend(Backend(file.clone()))
            .ctx(opening())?;
        let store = Store {
            db: Some(db),
            file,
            poisoned: Mutex::new(None),
            pending: Mutex::new(None),
            mutant: None,
        };
        // Create the tables, so that readers always find them.
        let txn = store.db().begin_write().ctx(opening())?;
        {
            txn.open_table(ENTRIES).ctx(opening())?;
            txn.open_table(HARD_STATE).ctx(opening())?;
            txn.open_table(SNAP_META).ctx(opening())?;
            txn.open_table(SNAP_DATA).ctx(opening())?;
            txn.open_table(META).ctx(opening())?;
        }
        txn.commit().ctx(opening())?;
        store
            .file
            .sync()
            .map_err(io_ctx(format!("syncing {}", path.display())))?;
        Ok(store)
    }

    /// The store with the node's deliberate bug (see [`crate::mutants`]);
    /// only builds with the feature `mutants` act on it.
    pub fn with_mutant(mut self, mutant: Option<crate::mutants::Mutant>) -> Store {
        self.mutant = mutant;
        self
    }

    fn db(&self) -> &Database {
        self.db.as_ref().expect("store is open")
    }

    fn check_poisoned(&self, op: &'static str) -> Result<(), StorageError> {
        match &*self.poisoned.lock().unwrap() {
            Some(cause) => Err(StorageError::Poisoned {
                op,
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Runs a mutation; its failure poisons the store.
    fn mutate(
        &self,
        op: &'static str,
        f: impl FnOnce() -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.check_poisoned(op)?;
        let result = f();
        if let Err(e) = &result {
            let mut p = self.poisoned.lock().unwrap();
            if p.is_none() {
                *p = Some(e.to_string());
            }
        }
        result
    }

    /// The pending transaction. A caller bug that panicked inside it (see
    /// [`Store::write`]) took it out first, so a poisoned lock is harmless.
    fn pending(&self) -> std::sync::MutexGuard<'_, Option<WriteTransaction>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in the pending transaction (opened if needed). Its failure
    /// poisons the store and drops the transaction.
    fn in_pending(
        &self,
        op: &'static str,
        context: &dyn Fn() -> String,
        f: impl FnOnce(&WriteTransaction) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        self.mutate(op, || {
            let mut pending = self.pending();
            let txn = match pending.take() {
                Some(txn) => txn,
                None => self.db().begin_write().ctx(context())?,
            };
            f(&txn)?;
            *pending = Some(txn);
            Ok(())
        })
    }

    /// Whether an earlier failure poisoned the store (and what it was).
    pub fn poisoned(&self) -> Option<String> {
        self.poisoned.lock().unwrap().clone()
    }

    /// Shards with any stored state, ascending.
    pub fn shards(&self) -> Result<Vec<ShardId>, StorageError> {
        let ctx = "listing shards";
        let txn = self.db().begin_read().ctx(ctx)?;
        let mut out = std::collections::BTreeSet::new();
        for def in [HARD_STATE, SNAP_META] {
            let t = txn.open_table(def).ctx(ctx)?;
            for kv in t.iter().ctx(ctx)? {
                out.insert(kv.ctx(ctx)?.0.value());
            }
        }
        // Skip-scan: one seek per shard with entries.
        let t = txn.open_table(ENTRIES).ctx(ctx)?;
        let mut from = 0u64;
        loop {
            let next = t.range((from, 0)..).ctx(ctx)?.next();
            match next {
                None => break,
                Some(kv) => {
                    let (shard, _) = kv.ctx(ctx)?.0.value();
                    out.insert(shard);
                    match shard.checked_add(1) {
                        Some(s) => from = s,
                        None => break,
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// What is stored for `shard` (all defaults if nothing is).
    pub fn load(&self, shard: ShardId) -> Result<Recovered, StorageError> {
        let txn = self
            .db()
            .begin_read()
            .ctx(format!("loading shard {shard}"))?;
        load_in(&txn, shard, self.mutant)
    }

    /// Every shard's state, read in one transaction.
    pub fn load_all(&self) -> Result<BTreeMap<ShardId, Recovered>, StorageError> {
        let shards = self.shards()?;
        let txn = self.db().begin_read().ctx("loading all shards")?;
        shards
            .into_iter()
            .map(|s| Ok((s, load_in(&txn, s, self.mutant)?)))
            .collect()
    }

    /// The stored snapshot of `shard`, with its bytes.
    pub fn load_snapshot(
        &self,
        shard: ShardId,
    ) -> Result<Option<(SnapshotMeta, Vec<u8>)>, StorageError> {
        let ctx = || format!("loading the snapshot of shard {shard}");
        let txn = self.db().begin_read().ctx(ctx())?;
        let metas = txn.open_table(SNAP_META).ctx(ctx())?;
        let Some(m) = metas.get(shard).ctx(ctx())? else {
            return Ok(None);
        };
        let meta = codec::decode_snapshot_meta(m.value())
            .map_err(|e| corrupt("snapshot meta", shard, e))?;
        let datas = txn.open_table(SNAP_DATA).ctx(ctx())?;
        let data = match datas.get(shard).ctx(ctx())? {
            Some(d) => d.value().to_vec(),
            None => return Err(corrupt("snapshot", shard, "meta stored without data")),
        };
        Ok(Some((meta, data)))
    }

    /// Applies `batch` (all shards together) to the pending transaction:
    /// readable and durable after the next [`Store::sync`].
    ///
    /// # Panics
    ///
    /// If a write breaks the log's shape (see [`ShardWrite`]): a caller bug.
    pub fn write(&self, batch: &[ShardWrite]) -> Result<(), StorageError> {
        if batch.is_empty() {
            return self.check_poisoned("write");
        }
        let ctx = || format!("writing a batch of {} shard writes", batch.len());
        self.in_pending("write", &ctx, |txn| {
            let mut t = Tables {
                entries: txn.open_table(ENTRIES).ctx(ctx())?,
                hard_state: txn.open_table(HARD_STATE).ctx(ctx())?,
                snap_meta: txn.open_table(SNAP_META).ctx(ctx())?,
                snap_data: txn.open_table(SNAP_DATA).ctx(ctx())?,
                mutant: self.mutant,
            };
            batch.iter().try_for_each(|w| t.apply(w))
        })
    }

    /// Makes every write so far durable (and readable): one durable commit
    /// of the pending transaction, then a real sync of the file.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.mutate("sync", || {
            if let Some(txn) = self.pending().take() {
                txn.commit().ctx("committing durably")?;
            }
            self.file
                .sync()
                .map_err(io_ctx("syncing the database file"))
        })
    }

    /// Deletes everything stored for `shard`, in the pending transaction:
    /// gone for readers and durably after the next [`Store::sync`].
    pub fn remove_shard(&self, shard: ShardId) -> Result<(), StorageError> {
        let ctx = || format!("removing shard {shard}");
        self.in_pending("remove a shard", &ctx, |txn| {
            let mut entries = txn.open_table(ENTRIES).ctx(ctx())?;
            entries
                .retain_in((shard, 0)..=(shard, u64::MAX), |_, _| false)
                .ctx(ctx())?;
            for def in [HARD_STATE, SNAP_META, SNAP_DATA] {
                txn.open_table(def).ctx(ctx())?.remove(shard).ctx(ctx())?;
            }
            Ok(())
        })
    }

    /// Stores small node-level metadata, in the pending transaction:
    /// readable and durable after the next [`Store::sync`].
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let ctx = || format!("writing metadata {key:?}");
        self.in_pending("put metadata", &ctx, |txn| {
            txn.open_table(META)
                .ctx(ctx())?
                .insert(key, value)
                .ctx(ctx())?;
            Ok(())
        })
    }

    /// Reads node-level metadata.
    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let ctx = || format!("reading metadata {key:?}");
        let txn = self.db().begin_read().ctx(ctx())?;
        let t = txn.open_table(META).ctx(ctx())?;
        Ok(t.get(key).ctx(ctx())?.map(|v| v.value().to_vec()))
    }

    /// Graceful shutdown: syncs, lets redb close cleanly (so the next open
    /// needs no repair) and syncs that too.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.sync()?;
        drop(self.db.take());
        self.file
            .sync()
            .map_err(io_ctx("syncing the database file at close"))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Power-loss semantics: redb's shutdown writes must not reach the disk.
        self.file.detach();
        drop(self.pending().take());
        drop(self.db.take());
    }
}

struct Tables<'t> {
    entries: redb::Table<'t, (u64, u64), &'static [u8]>,
    hard_state: redb::Table<'t, u64, &'static [u8]>,
    snap_meta: redb::Table<'t, u64, &'static [u8]>,
    snap_data: redb::Table<'t, u64, &'static [u8]>,
    mutant: Option<crate::mutants::Mutant>,
}

impl Tables<'_> {
    fn ctx(shard: ShardId) -> String {
        format!("writing shard {shard}")
    }

    fn snapshot_index(&self, shard: ShardId) -> Result<Option<Index>, StorageError> {
        match self.snap_meta.get(shard).ctx(Self::ctx(shard))? {
            None => Ok(None),
            Some(m) => Ok(Some(
                codec::decode_snapshot_meta(m.value())
                    .map_err(|e| corrupt("snapshot meta", shard, e))?
                    .index,
            )),
        }
    }

    fn delete_entries(
        &mut self,
        shard: ShardId,
        range: std::ops::RangeInclusive<Index>,
    ) -> Result<(), StorageError> {
        let (lo, hi) = range.into_inner();
        if lo > hi {
            return Ok(());
        }
        self.entries
            .retain_in((shard, lo)..=(shard, hi), |_, _| false)
            .ctx(Self::ctx(shard))
    }

    fn apply(&mut self, w: &ShardWrite) -> Result<(), StorageError> {
        let shard = w.shard;
        let ctx = || Self::ctx(shard);
        if let Some(hs) = &w.hard_state {
            let hs = &HardState {
                vote: hs
                    .vote
                    .filter(|_| !crate::mutant!(self.mutant, VoteNotPersisted)),
                ..*hs
            };
            self.hard_state
                .insert(shard, codec::encode_hard_state(hs).as_slice())
                .ctx(ctx())?;
        }
        if let Some(from) = w.truncate_from {
            self.delete_entries(shard, from..=u64::MAX)?;
        }
        if let Some(first) = w.entries.first() {
            let last = match self
                .entries
                .range((shard, 0)..=(shard, u64::MAX))
                .ctx(ctx())?
                .next_back()
            {
                Some(kv) => kv.ctx(ctx())?.0.value().1,
                None => self.snapshot_index(shard)?.unwrap_or(0),
            };
            assert_eq!(
                first.index,
                last + 1,
                "shard {shard}: appended entries must follow the last kept entry {last}"
            );
            for (i, e) in w.entries.iter().enumerate() {
                assert_eq!(
                    e.index,
                    first.index + i as u64,
                    "shard {shard}: appended entries must be contiguous"
                );
                self.entries
                    .insert((shard, e.index), codec::encode_entry(e).as_slice())
                    .ctx(ctx())?;
            }
        }
        if let Some((meta, data)) = &w.snapshot {
            let matches = match self.entries.get((shard, meta.index)).ctx(ctx())? {
                Some(v) => {
                    codec::decode_entry(v.value())
                        .map_err(|e| corrupt("log entry", shard, e))?
                        .term
                        == meta.term
                }
                None => false,
            };
            if matches {
                self.delete_entries(shard, 0..=meta.index)?;
            } else {
                self.delete_entries(shard, 0..=u64::MAX)?;
            }
            self.snap_meta
                .insert(shard, codec::encode_snapshot_meta(meta).as_slice())
                .ctx(ctx())?;
            self.snap_data.insert(shard, data.as_slice()).ctx(ctx())?;
        }
        if let Some(to) = w.compact_to {
            let covered = self.snapshot_index(shard)?.unwrap_or(0);
            assert!(
                to <= covered,
                "shard {shard}: compact_to {to} beyond the stored snapshot at {covered}"
            );
            self.delete_entries(shard, 0..=to)?;
        }
        Ok(())
    }
}

fn load_in(
    txn: &redb::ReadTransaction,
    shard: ShardId,
    mutant: Option<crate::mutants::Mutant>,
) -> Result<Recovered, StorageError> {
    let ctx = || format!("loading shard {shard}");
    let hard_state = match txn
        .open_table(HARD_STATE)
        .ctx(ctx())?
        .get(shard)
        .ctx(ctx())?
    {
        Some(v) => {
            codec::decode_hard_state(v.value()).map_err(|e| corrupt("hard state", shard, e))?
        }
        None => HardState::default(),
    };
    let snapshot = match txn
        .open_table(SNAP_META)
        .ctx(ctx())?
        .get(shard)
        .ctx(ctx())?
    {
        Some(v) => Some(
            codec::decode_snapshot_meta(v.value())
                .map_err(|e| corrupt("snapshot meta", shard, e))?,
        ),
        None => None,
    };
    let table = txn.open_table(ENTRIES).ctx(ctx())?;
    let mut entries = Vec::new();
    let first = snapshot.as_ref().map_or(1, |s| s.index + 1);
    let range = table.range((shard, 0)..=(shard, u64::MAX)).ctx(ctx())?;
    let mut prev_term = snapshot.as_ref().map_or(0, |s| s.term); // mutant WrongEntryTerm
    for (expect, kv) in (first..).zip(range) {
        let (k, v) = kv.ctx(ctx())?;
        let index = k.value().1;
        let mut e = codec::decode_entry(v.value()).map_err(|e| corrupt("log entry", shard, e))?;
        if crate::mutant!(mutant, WrongEntryTerm) {
            e.term = std::mem::replace(&mut prev_term, e.term);
        }
        if e.index != index || index != expect {
            return Err(corrupt(
                "log",
                shard,
                format!(
                    "entry stored at {index} says {}, expected {expect}",
                    e.index
                ),
            ));
        }
        let floor = entries
            .last()
            .map_or(snapshot.as_ref().map_or(0, |s| s.term), |p: &Entry| p.term);
        if e.term < floor {
            return Err(corrupt(
                "log",
                shard,
                format!(
                    "entry {index} has term {}, older than the term {floor} before it",
                    e.term
                ),
            ));
        }
        entries.push(e);
    }
    Ok(Recovered {
        hard_state,
        snapshot,
        entries,
    })
}
