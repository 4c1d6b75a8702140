//! `--data-dir`: accounts, objects, events, idempotency keys, clocks and pending webhook
//! deliveries on disk, so a mock killed at any moment comes back with everything it
//! answered for.
//!
//! Layout of the directory:
//! * `journal-<gen>.log`: one record per step that changed something (`changes.rs`),
//!   appended by the step seam under the account's lock before the step returns, so before
//!   any response that reports the change is sent;
//! * `snapshot-<gen>.log`: the whole state when generation `gen` began, same record format;
//! * `LOCK`: held while a mock uses the directory.
//!
//! Compaction starts generation `gen + 1`: new records go to `journal-<gen+1>.log` at once,
//! then each account is written to `snapshot-<gen+1>.log` under its own lock (steps go on
//! meanwhile, on the other accounts and between accounts), which is renamed into place
//! when complete; then older files are deleted. Start-up reads the newest snapshot and every
//! journal from its generation on. A record also in the snapshot is applied twice, which
//! is harmless: records set states (`changes.rs`).
//!
//! A record is on disk (in the kernel's cache) when its step ends: a killed process loses
//! nothing. `--fsync` also waits for the disk, for machines that lose power.

mod changes;
mod frame;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use crate::engine::agenda::Job;
use crate::engine::delivery;
use crate::store::{Account, Store, lock};

pub(crate) use changes::take_record;

/// Why a data directory cannot be used. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is in use by another mock-stripe (it holds the directory's LOCK file)")]
    Locked { path: PathBuf },
    #[error(
        "{path} is corrupt at byte {offset}: {reason}. Nothing was loaded; move the \
         directory aside to start empty, or restore it from a copy"
    )]
    Corrupt {
        path: PathBuf,
        offset: usize,
        reason: String,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What start-up found.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub accounts: usize,
    pub records: usize,
    /// A torn last record that was dropped: the file and how many bytes.
    pub torn: Option<(PathBuf, usize)>,
}

/// The journal being appended to.
struct Segment {
    generation: u64,
    file: File,
    bytes: u64,
}

/// An open data directory.
pub(crate) struct DataDir {
    dir: PathBuf,
    /// Held (locked) for as long as the mock runs.
    _lock: File,
    fsync: bool,
    segment: Mutex<Segment>,
    /// The journal is compacted once it is this large and larger than the last snapshot
    /// (so rewriting the snapshot costs at most as much as what was appended since).
    compact_after: u64,
    last_snapshot: AtomicU64,
    compacting: AtomicBool,
    /// Told when a compaction is due.
    pub compaction_due: tokio::sync::Notify,
}

fn journal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("journal-{generation:010}.log"))
}

fn snapshot_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snapshot-{generation:010}.log"))
}

/// `(snapshots, journals)` by generation.
fn list(dir: &Path) -> Result<(Vec<u64>, Vec<u64>), StorageError> {
    let (mut snapshots, mut journals) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let generation = |prefix: &str| {
            name.strip_prefix(prefix)?
                .strip_suffix(".log")?
                .parse::<u64>()
                .ok()
        };
        if let Some(g) = generation("snapshot-") {
            snapshots.push(g);
        } else if let Some(g) = generation("journal-") {
            journals.push(g);
        } else if name.ends_with(".tmp") {
            // A snapshot whose writing was interrupted: never renamed, never read.
            let _ = fs::remove_file(entry.path());
        }
    }
    snapshots.sort_unstable();
    journals.sort_unstable();
    Ok((snapshots, journals))
}

impl DataDir {
    /// Opens (creating it if needed) and locks `dir`, loads what it holds into `store`, and
    /// starts a new generation with a fresh snapshot.
    pub fn open(
        dir: &Path,
        store: &Store,
        fsync: bool,
        compact_after: u64,
    ) -> Result<(DataDir, LoadReport), StorageError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let lock_path = dir.join("LOCK");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StorageError::Locked {
                    path: dir.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
        }

        let report = load(dir, store)?;
        let (snapshots, journals) = list(dir)?;
        let newest = snapshots
            .iter()
            .chain(&journals)
            .max()
            .copied()
            .unwrap_or(0);
        let first = journal_path(dir, newest + 1);
        let data_dir = DataDir {
            dir: dir.to_path_buf(),
            _lock: lock_file,
            fsync,
            segment: Mutex::new(Segment {
                generation: newest + 1,
                file: open_journal(&first)?,
                bytes: 0,
            }),
            compact_after,
            last_snapshot: AtomicU64::new(0),
            compacting: AtomicBool::new(true),
            compaction_due: tokio::sync::Notify::new(),
        };
        // What was loaded becomes one snapshot; the torn tail, if any, goes with the old files.
        data_dir
            .write_snapshot(store, newest + 1)
            .map_err(io_at(&snapshot_path(dir, newest + 1)))?;
        Ok((data_dir, report))
    }

    /// Appends a step's record. Called under the account's lock.
    pub fn append(&self, record: &[u8]) -> io::Result<()> {
        let framed = frame::encode(record)?;
        let mut segment = self.segment.lock().unwrap_or_else(|p| p.into_inner());
        segment.file.write_all(&framed)?;
        if self.fsync {
            segment.file.sync_data()?;
        }
        segment.bytes += framed.len() as u64;
        let due =
            segment.bytes >= self.compact_after && segment.bytes >= self.last_snapshot.load(SeqCst);
        drop(segment);
        if due && !self.compacting.swap(true, SeqCst) {
            self.compaction_due.notify_one();
        }
        Ok(())
    }

    /// Starts a new generation and writes the whole store as its snapshot. Blocking: run
    /// it on a thread of its own.
    pub fn compact(&self, store: &Store) -> io::Result<()> {
        let generation = {
            let mut segment = self.segment.lock().unwrap_or_else(|p| p.into_inner());
            let generation = segment.generation + 1;
            *segment = Segment {
                generation,
                file: open_journal(&journal_path(&self.dir, generation))
                    .map_err(io::Error::other)?,
                bytes: 0,
            };
            generation
        };
        self.write_snapshot(store, generation)
    }

    fn write_snapshot(&self, store: &Store, generation: u64) -> io::Result<()> {
        let result = self.write_snapshot_inner(store, generation);
        self.compacting.store(false, SeqCst);
        result
    }

    fn write_snapshot_inner(&self, store: &Store, generation: u64) -> io::Result<()> {
        let path = snapshot_path(&self.dir, generation);
        let tmp = path.with_extension("tmp");
        let mut out = BufWriter::new(File::create(&tmp)?);
        let mut failed = None;
        let mut bytes = 0u64;
        for account in store.all_accounts() {
            let acc = lock(&account);
            changes::dump(&acc, &mut |record| {
                if failed.is_none() {
                    bytes += record.len() as u64 + 8;
                    if let Err(e) = frame::write(&mut out, &record) {
                        failed = Some(e);
                    }
                }
            });
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        self.last_snapshot.store(bytes, SeqCst);
        // The new snapshot holds everything older files did.
        let (snapshots, journals) = list(&self.dir).map_err(io::Error::other)?;
        for g in snapshots.into_iter().filter(|&g| g < generation) {
            fs::remove_file(snapshot_path(&self.dir, g))?;
        }
        for g in journals.into_iter().filter(|&g| g < generation) {
            fs::remove_file(journal_path(&self.dir, g))?;
        }
        Ok(())
    }
}

fn open_journal(path: &Path) -> Result<File, StorageError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_at(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(io_at(dir))?;
    }
    Ok(file)
}

/// Makes a created, renamed or removed file's name durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replays the newest snapshot and the journals from its generation on into `store`.
fn load(dir: &Path, store: &Store) -> Result<LoadReport, StorageError> {
    let (snapshots, journals) = list(dir)?;
    let base = snapshots.last().copied();
    let mut files: Vec<PathBuf> = base.map(|g| snapshot_path(dir, g)).into_iter().collect();
    files.extend(
        journals
            .iter()
            .filter(|&&g| base.is_none_or(|b| g >= b))
            .map(|&g| journal_path(dir, g)),
    );
    let mut report = LoadReport::default();
    let mut jobs: HashMap<changes::AccountKey, BTreeMap<u64, (i64, Job)>> = HashMap::new();
    let last = files.len().saturating_sub(1);
    for (i, path) in files.iter().enumerate() {
        let bytes = fs::read(path).map_err(io_at(path))?;
        let read = frame::read(&bytes);
        let is_last_journal = i == last
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("journal-"));
        match read.ending {
            frame::Ending::Clean => {}
            frame::Ending::Torn if is_last_journal => {
                let dropped = bytes.len() - read.valid_len;
                tracing::warn!(
                    "{}: dropped a torn last record ({dropped} bytes): the mock stopped while \
                     writing it, before answering the request that made it",
                    path.display()
                );
                report.torn = Some((path.clone(), dropped));
            }
            frame::Ending::Torn => {
                return Err(StorageError::Corrupt {
                    path: path.clone(),
                    offset: read.valid_len,
                    reason: "the file ends inside a record, and newer files follow it".into(),
                });
            }
            frame::Ending::Corrupt(reason) => {
                return Err(StorageError::Corrupt {
                    path: path.clone(),
                    offset: read.valid_len,
                    reason,
                });
            }
        }
        let mut offset = 0;
        for payload in read.records {
            let record = changes::decode(payload).map_err(|e| StorageError::Corrupt {
                path: path.clone(),
                offset,
                reason: format!("a record does not decode ({e})"),
            })?;
            let record_offset = offset;
            offset += payload.len() + 8;
            let (key, connected) = record.account.clone();
            let account = store
                .restored_account(&key, connected.as_deref())
                .map_err(|e| StorageError::Corrupt {
                    path: path.clone(),
                    offset: record_offset,
                    reason: format!("its account could not be made ({})", e.message),
                })?;
            let jobs = jobs.entry(record.account.clone()).or_default();
            changes::apply(&mut lock(&account), record, jobs);
            report.records += 1;
        }
    }

    let accounts = store.all_accounts();
    report.accounts = accounts.len();
    for account in accounts {
        let mut acc = lock(&account);
        let jobs = jobs.remove(&acc.store_key()).unwrap_or_default();
        acc.agenda.restore(jobs);
        acc.idempotency.restored();
        resume_deliveries(&mut acc);
        changes::discard_changes(&mut acc);
        // The hosted page finds sessions (and 3-D Secure challenges) by id alone.
        for s in acc.sessions.rows() {
            store.index_session(&s.id, &account);
        }
        for pi in acc.payment_intents.rows() {
            if pi.next_action.is_some() {
                store.index_session(&pi.id, &account);
            }
        }
    }
    Ok(report)
}

/// A pending delivery with no attempt scheduled was in flight (or held for a page that
/// will never answer now) when the mock stopped: it is attempted again at once.
fn resume_deliveries(acc: &mut Account) {
    let scheduled: HashSet<(u64, u32)> = acc
        .agenda
        .jobs()
        .filter_map(|j| match j {
            Job::Attempt {
                delivery,
                generation,
            } => Some((*delivery, *generation)),
            _ => None,
        })
        .collect();
    let orphans: Vec<u64> = acc
        .deliveries
        .pending()
        .into_iter()
        .filter(|(id, p)| !scheduled.contains(&(*id, p.generation)))
        .map(|(id, _)| id)
        .collect();
    let now = acc.clock.now_ms();
    for id in orphans {
        delivery::schedule(acc, id, now);
    }
}

#[cfg(test)]
mod tests;
