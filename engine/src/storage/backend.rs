//! redb's storage backend over a [`DiskFile`], with deferred sync.
//!
//! redb's `sync_data` calls only mark the file dirty; the file is really
//! synced when the [`Store`](super::Store) says so ([`SharedFile::sync`]), so
//! that the node decides when durability happens (after a simulated sync
//! latency, inside which a crash can fall).
//!
//! When the store is dropped the file is *detached* first: redb's shutdown
//! writes (which would make pending non-durable commits durable and mark the
//! file cleanly closed) are discarded. Dropping a store is a power loss;
//! a graceful shutdown is [`Store::close`](super::Store::close).

use super::disk::DiskFile;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The database file, shared by redb (through [`Backend`]) and the store.
#[derive(Debug)]
pub(crate) struct SharedFile {
    file: Box<dyn DiskFile>,
    /// Written since the last real sync.
    dirty: AtomicBool,
    /// The store is gone: refuse every write (power-loss semantics).
    detached: AtomicBool,
}

impl SharedFile {
    pub(crate) fn new(file: Box<dyn DiskFile>) -> Arc<Self> {
        Arc::new(SharedFile {
            file,
            dirty: AtomicBool::new(false),
            detached: AtomicBool::new(false),
        })
    }

    /// Makes every write so far durable. Stays dirty if the sync fails.
    pub(crate) fn sync(&self) -> io::Result<()> {
        if self.dirty.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.file.sync_data() {
                self.dirty.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn detach(&self) {
        self.detached.store(true, Ordering::SeqCst);
    }

    fn check_attached(&self) -> io::Result<()> {
        if self.detached.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "store dropped: write discarded (power-loss semantics)",
            ));
        }
        Ok(())
    }
}

/// What redb sees: a [`SharedFile`] whose syncs are deferred.
#[derive(Debug)]
pub(crate) struct Backend(pub(crate) Arc<SharedFile>);

impl redb::StorageBackend for Backend {
    // Once the store is dropped the file is not touched at all, reads
    // included: redb's shutdown may run where the file system is gone (the
    // simulation tearing a host's tasks down after its world ended, where
    // turmoil's file system panics; found by tumult explore, run 1780).
    fn len(&self) -> Result<u64, io::Error> {
        self.0.check_attached()?;
        self.0.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.0.check_attached()?;
        self.0.file.read_exact_at(out, offset)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.0.check_attached()?;
        self.0.dirty.store(true, Ordering::SeqCst);
        self.0.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        // Deferred: the store syncs for real in `Store::sync`.
        self.0.check_attached()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.0.check_attached()?;
        self.0.dirty.store(true, Ordering::SeqCst);
        self.0.file.write_all_at(data, offset)
    }
}
