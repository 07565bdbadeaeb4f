//! The file system the engine writes to, injected by the embedder.
//!
//! The engine never calls `std::fs`: production passes [`StdDisk`], the
//! simulator passes `TurmoilDisk` (feature `turmoil`), whose writes are lost
//! on a simulated crash unless synced. [`FaultyDisk`] wraps either and fails
//! writes or syncs on command, for a disk-fault nemesis.
//!
//! ```
//! use std::sync::Arc;
//! use tumult_engine::storage::{Disk, StdDisk};
//!
//! let dir = std::env::temp_dir().join(format!("tumult-disk-doc-{}", std::process::id()));
//! let disk: Arc<dyn Disk> = Arc::new(StdDisk);
//! disk.create_dir_all(&dir).unwrap();
//! let f = disk.open(&dir.join("f")).unwrap();
//! f.write_all_at(b"abc", 0).unwrap();
//! f.sync_data().unwrap();
//! assert_eq!(f.len().unwrap(), 3);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A file system: opens files and creates directories.
pub trait Disk: Send + Sync + 'static {
    /// Opens `path` for read+write, creating it (and making its directory entry durable) if missing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Creates `path` and its missing parents, durably.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
}

/// An open file, addressed by offset.
#[allow(clippy::len_without_is_empty)]
pub trait DiskFile: Send + Sync + std::fmt::Debug + 'static {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; fails if the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`. Not durable until [`DiskFile::sync_data`].
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Truncates or extends (with zeros) the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes every earlier write durable.
    fn sync_data(&self) -> io::Result<()>;
}

/// The real file system: `std::fs` with positional I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdDisk;

#[derive(Debug)]
struct StdFile(std::fs::File);

fn sync_std_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn parent_or_dot(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl Disk for StdDisk {
    fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if !existed {
            file.sync_all()?;
            sync_std_dir(parent_or_dot(path))?;
        }
        Ok(Box::new(StdFile(file)))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let missing: Vec<&Path> = path
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .collect();
        std::fs::create_dir_all(path)?;
        for dir in missing.iter().rev() {
            sync_std_dir(dir)?;
            sync_std_dir(parent_or_dot(dir))?;
        }
        Ok(())
    }
}

impl DiskFile for StdFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

/// turmoil's simulated, per-host file system (feature `unstable-fs`).
///
/// Every call must run inside a turmoil host (it uses the current host's
/// file system). Writes are pending until synced; `Sim::crash` drops pending
/// writes and files whose directory entry was never synced.
///
/// One deviation from a plain shim: growing a file with `set_len` first
/// writes its last byte, so turmoil's capacity limit (ENOSPC), which it only
/// checks on writes, also applies to growth.
#[cfg(feature = "turmoil")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilDisk;

#[cfg(feature = "turmoil")]
mod sim {
    use super::{parent_or_dot, Disk, DiskFile};
    use std::io;
    use std::path::Path;
    use turmoil::fs::shim::std::fs as tfs;

    #[derive(Debug)]
    pub(super) struct TurmoilFile(tfs::File);

    impl Disk for super::TurmoilDisk {
        fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
            let existed = tfs::exists(path);
            let file = tfs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            if !existed {
                file.sync_all()?;
                tfs::sync_dir(parent_or_dot(path))?;
            }
            Ok(Box::new(TurmoilFile(file)))
        }

        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            let missing: Vec<&Path> = path
                .ancestors()
                .take_while(|p| !p.as_os_str().is_empty() && !tfs::exists(p))
                .collect();
            for dir in missing.iter().rev() {
                tfs::create_dir(dir)?;
                tfs::sync_dir(dir)?;
                tfs::sync_dir(parent_or_dot(dir))?;
            }
            Ok(())
        }
    }

    impl DiskFile for TurmoilFile {
        fn len(&self) -> io::Result<u64> {
            Ok(self.0.metadata()?.len())
        }
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
        }
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            let cur = self.len()?;
            if len > cur {
                // turmoil checks capacity on writes only: claim the growth with a write.
                std::os::unix::fs::FileExt::write_all_at(&self.0, &[0], len - 1)?;
            }
            self.0.set_len(len)
        }
        fn sync_data(&self) -> io::Result<()> {
            self.0.sync_data()
        }
    }
}

/// Switches for the faults a [`FaultyDisk`] injects. Cheap to clone; all
/// clones control the same disk. Meant for a nemesis that breaks one node's
/// disk at a chosen moment (turmoil's `FsConfig` is fixed per simulation).
#[derive(Debug, Clone, Default)]
pub struct DiskFaults(Arc<FaultFlags>);

#[derive(Debug, Default)]
struct FaultFlags {
    fail_writes: AtomicBool,
    fail_syncs: AtomicBool,
    no_space: AtomicBool,
    torn_writes: AtomicBool,
}

impl DiskFaults {
    /// While set, writes and `set_len` fail with an I/O error (EIO).
    pub fn set_fail_writes(&self, on: bool) {
        self.0.fail_writes.store(on, Ordering::SeqCst);
    }
    /// While set, syncs fail with an I/O error (EIO), as after a lost write-back.
    pub fn set_fail_syncs(&self, on: bool) {
        self.0.fail_syncs.store(on, Ordering::SeqCst);
    }
    /// While set, writes and growth fail with ENOSPC.
    pub fn set_no_space(&self, on: bool) {
        self.0.no_space.store(on, Ordering::SeqCst);
    }
    /// While set, a write reaches the disk only partly (its first half,
    /// rounded down to whole 512-byte blocks) and then fails with an I/O
    /// error, as a device that tore the write and reported it.
    pub fn set_torn_writes(&self, on: bool) {
        self.0.torn_writes.store(on, Ordering::SeqCst);
    }
    /// Clears every fault.
    pub fn heal(&self) {
        self.set_torn_writes(false);
        self.set_fail_writes(false);
        self.set_fail_syncs(false);
        self.set_no_space(false);
    }

    fn check_write(&self) -> io::Result<()> {
        if self.0.no_space.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left on device",
            ));
        }
        if self.0.fail_writes.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: write I/O error"));
        }
        Ok(())
    }

    fn check_sync(&self) -> io::Result<()> {
        if self.0.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: sync I/O error"));
        }
        Ok(())
    }
}

/// A [`Disk`] that forwards to another and injects the faults its
/// [`DiskFaults`] switches on. A failed write or sync changes nothing,
/// except a torn write, which leaves part of its data behind.
pub struct FaultyDisk<D> {
    inner: D,
    faults: DiskFaults,
}

impl<D: Disk> FaultyDisk<D> {
    /// Wraps `inner` under existing switches (so that they outlive one
    /// incarnation of a node, as a simulated disk does).
    pub fn with_faults(inner: D, faults: DiskFaults) -> Self {
        FaultyDisk { inner, faults }
    }

    /// Wraps `inner`; the returned switches control its faults.
    pub fn new(inner: D) -> (Self, DiskFaults) {
        let faults = DiskFaults::default();
        (
            FaultyDisk {
                inner,
                faults: faults.clone(),
            },
            faults,
        )
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn DiskFile>,
    faults: DiskFaults,
}

impl<D: Disk> Disk for FaultyDisk<D> {
    fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        Ok(Box::new(FaultyFile {
            inner: self.inner.open(path)?,
            faults: self.faults.clone(),
        }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
}

impl DiskFile for FaultyFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.faults.check_write()?;
        if self.faults.0.torn_writes.load(Ordering::SeqCst) {
            let keep = (buf.len() / 2) / 512 * 512;
            if keep > 0 {
                self.inner.write_all_at(&buf[..keep], offset)?;
            }
            return Err(io::Error::other("injected: torn write"));
        }
        self.inner.write_all_at(buf, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.check_write()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.faults.check_sync()?;
        self.inner.sync_data()
    }
}
