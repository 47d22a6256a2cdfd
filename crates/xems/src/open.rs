//! Opening a store file: creating it atomically, or locking, checking and loading an existing
//! one (torn tail dropped, interrupted wipes finished, leftovers removed), then starting the
//! writer thread. Nothing is written to an existing file before its key has been verified.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, SystemTime};

use ring::hmac;

use crate::crypto::{self, KeyBytes, RecoveryKey};
use crate::files::{self, lock_file, same_file, sibling, sync, sync_dir};
use crate::frame::GenKeys;
use crate::header::{self, Header, HEADER_LEN};
use crate::index::{Entry, State};
use crate::options::Options;
use crate::report::{DroppedTail, OpenReport};
use crate::shared::{lock, Counters, Shared};
use crate::walk::{self, LoadedRecord};
use crate::wipe::{discard_leftover, wipe_frames};
use crate::writer::Writer;
use crate::{Error, HardwareId};

/// Suffixes of the temporaries a compaction or a rebind writes before renaming them in place.
pub(crate) const TEMP_SUFFIXES: [&str; 2] = ["compact.tmp", "rebind.tmp"];
/// A `.creating` file older than this was left by a creator that died before linking it.
const STALE_CREATING: Duration = Duration::from_secs(60);

/// One open store: what every handle shares.
pub(crate) struct StoreInner {
    pub shared: Arc<Shared>,
    pub path: PathBuf,
    pub header: Header,
    writer: Mutex<Option<JoinHandle<()>>>,
    pub writer_thread: ThreadId,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        // Last handle gone: flush and release the file so the path can be opened again at once.
        self.shared.submit_close(None);
        if thread::current().id() != self.writer_thread {
            if let Some(h) = lock(&self.writer).take() {
                let _ = h.join();
            }
        }
    }
}

/// Opens or creates the store at `canon` (no store of that path is open in this process).
pub(crate) fn open_fresh(
    canon: &Path,
    options: &Options,
) -> Result<(Arc<StoreInner>, OpenReport), Error> {
    let hw = options.hardware()?;
    files::check_store_dir(canon)?;
    for _ in 0..8 {
        match files::open_store_file(canon) {
            Ok(file) => {
                lock_file(&file, canon)?;
                if !same_file(&file, canon)? {
                    continue;
                }
                files::check_store_file(&file, canon)?;
                return open_existing(canon, file, options);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !options.create {
                    return Err(Error::io(
                        format!("no XEMS store at {}", canon.display()),
                        e,
                    ));
                }
                if let Some(opened) = create(canon, options, hw.as_ref())? {
                    return Ok(opened);
                }
            }
            Err(e) if is_symlink_refusal(&e) => {
                return Err(Error::invalid(format!(
                    "{} became a symbolic link while opening it",
                    canon.display()
                )))
            }
            Err(e) => return Err(Error::io(format!("cannot open {}", canon.display()), e)),
        }
    }
    Err(Error::locked(format!(
        "{} keeps being replaced by another process",
        canon.display()
    )))
}

/// `open(O_NOFOLLOW)` on a symlink fails with ELOOP.
fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Creates a new store atomically: header written and fsynced in a locked temp file (0600),
/// then hard-linked into place (fails if another process created it first: we then open theirs).
fn create(
    canon: &Path,
    options: &Options,
    hw: Option<&HardwareId>,
) -> Result<Option<(Arc<StoreInner>, OpenReport)>, Error> {
    let master = crypto::random_key()?;
    let mut file_id = [0u8; 16];
    crypto::random(&mut file_id)?;
    let mut salt = [0u8; 32];
    crypto::random(&mut salt)?;
    let mut header = Header {
        flags: options.flags(hw.is_some(), options.recovery_key),
        iterations: options.passphrase_iterations.unwrap_or(0),
        file_id,
        salt,
        generation: 0,
        hw_wrap: [0; crypto::WRAP_LEN],
        recovery_wrap: [0; crypto::WRAP_LEN],
    };
    let identity = header.identity();
    let wk = header::wrap_key(
        &options.secret,
        header.passphrase_iterations(),
        &salt,
        &file_id,
        hw,
    );
    header.hw_wrap = crypto::wrap(&master, &wk, &identity)?;
    let recovery = if options.recovery_key {
        let rk = RecoveryKey::generate()?;
        header.recovery_wrap = crypto::wrap(
            &master,
            &header::recovery_wrap_key(&rk.0, &salt, &file_id),
            &identity,
        )?;
        Some(rk)
    } else {
        None
    };
    let mac = header::header_mac_key(&master, &file_id);
    let bytes = header.encode(&mac);

    let mut rnd = [0u8; 8];
    crypto::random(&mut rnd)?;
    let tmp = sibling(canon, &format!("{}.creating", crypto::hex(&rnd)));
    let file = files::create_private(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    let staged = (|| {
        lock_file(&file, &tmp)?;
        (&file)
            .write_all(&bytes)
            .map_err(|e| Error::io("write header", e))?;
        file.sync_all()
            .map_err(|e| Error::io("fsync new store", e))?;
        match fs::hard_link(&tmp, canon) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(format!("cannot create {}", canon.display()), e)),
        }
    })();
    let _ = fs::remove_file(&tmp);
    if !staged? {
        return Ok(None);
    }
    sync_dir(canon).map_err(|e| Error::io("fsync directory", e))?;
    let gen = GenKeys::new(&master, file_id, 0);
    let loaded = Loaded {
        header,
        master,
        mac,
        gen,
        records: Vec::new(),
        end: HEADER_LEN as u64,
    };
    let inner = start(canon, file, loaded, Counters::default(), options)?;
    let report = OpenReport {
        created: true,
        shared: false,
        recovery_key: recovery,
        dropped_tail: None,
        rewiped: 0,
        live_records: 0,
    };
    Ok(Some((inner, report)))
}

fn open_existing(
    canon: &Path,
    file: File,
    options: &Options,
) -> Result<(Arc<StoreInner>, OpenReport), Error> {
    let mut bytes = Vec::new();
    (&file)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("cannot read {}", canon.display()), e))?;
    let header = Header::parse(&bytes)?;
    let master = options.unwrap_master(&header)?;
    let mac = header::header_mac_key(&master, &header.file_id);
    Header::verify_mac(&bytes, &mac)?;
    let gen = GenKeys::new(&master, header.file_id, header.generation);
    let walked = walk::load(&bytes, &gen, header.generation > 0)?;

    // The key is verified and the whole file is understood: only now may we write.
    let counters = Counters::default();
    let mut end = bytes.len() as u64;
    let dropped_tail = walked
        .dropped_tail
        .map(|(offset, n)| DroppedTail { offset, bytes: n });
    if let Some(t) = dropped_tail {
        file.set_len(t.offset)
            .map_err(|e| Error::io("truncate torn tail", e))?;
        sync(&file, &counters.fsyncs).map_err(|e| Error::io("fsync after truncation", e))?;
        end = t.offset;
    }
    wipe_frames(&file, &walked.unclean_dead, &counters.fsyncs)?;
    // Leftovers of a compaction or rebind that crashed before its rename, and of a creation
    // that died before linking its file. We hold the lock, so no live writer owns them.
    let owner = files::owner_of(&file);
    for suffix in TEMP_SUFFIXES {
        let _ = discard_leftover(&sibling(canon, suffix), owner, &counters.fsyncs);
    }
    remove_stale_creating(canon);
    let rewiped = walked.unclean_dead.len() as u64;
    debug_assert_eq!(end, walked.committed_end);
    let loaded = Loaded {
        header,
        master,
        mac,
        gen,
        records: walked.records,
        end,
    };
    let inner = start(canon, file, loaded, counters, options)?;
    let live_records = inner.shared.live_records();
    Ok((
        inner,
        OpenReport {
            created: false,
            shared: false,
            recovery_key: None,
            dropped_tail,
            rewiped,
            live_records,
        },
    ))
}

/// Unlinks `<name>.<16 hex>.creating` files old enough that their creator is gone. They are
/// unlinked, never opened: one may be a second name of a live store (a creator that died
/// between linking and unlinking it).
fn remove_stale_creating(canon: &Path) {
    let (Some(dir), Some(name)) = (canon.parent(), canon.file_name()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{}.", name.to_string_lossy());
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(middle) = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".creating"))
        else {
            continue;
        };
        if middle.len() != 16 || !middle.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let old = fs::symlink_metadata(entry.path())
            .and_then(|m| m.modified())
            .is_ok_and(|t| {
                SystemTime::now()
                    .duration_since(t)
                    .is_ok_and(|age| age > STALE_CREATING)
            });
        if old {
            let _ = files::unlink(&entry.path());
        }
    }
}

/// A verified file, ready to be served.
struct Loaded {
    header: Header,
    master: KeyBytes,
    mac: hmac::Key,
    gen: GenKeys,
    records: Vec<LoadedRecord>,
    end: u64,
}

fn start(
    canon: &Path,
    file: File,
    loaded: Loaded,
    counters: Counters,
    options: &Options,
) -> Result<Arc<StoreInner>, Error> {
    let index_key = crypto::hmac_key(&crypto::random_key()?);
    let shared = Arc::new(Shared::new(
        State::new(loaded.gen, loaded.end),
        index_key,
        counters,
    ));
    {
        let mut st = shared.write();
        for r in loaded.records {
            let tag = shared.tag(&r.key);
            let e = Entry {
                offset: r.offset,
                len: r.len,
                alias: r.alias,
                expires_at: r.expires_at,
                body: r.body,
            };
            st.put(&r.sandbox, tag, Some(e));
        }
    }
    let writer = Writer {
        shared: shared.clone(),
        file: Some(file),
        path: canon.to_path_buf(),
        header: loaded.header.clone(),
        master: loaded.master,
        header_mac: loaded.mac,
        end: loaded.end,
        failed: None,
        auto_compaction: options.auto_compaction,
        auto_retry_at: 0,
    };
    let handle = thread::Builder::new()
        .name("xems-writer".into())
        .spawn(move || writer.run())
        .map_err(|e| Error::io("cannot start the writer thread", e))?;
    let writer_thread = handle.thread().id();
    Ok(Arc::new(StoreInner {
        shared,
        path: canon.to_path_buf(),
        header: loaded.header,
        writer: Mutex::new(Some(handle)),
        writer_thread,
    }))
}
