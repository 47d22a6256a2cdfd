//! The store: open/registry/locking, the public operations, and the single writer thread that
//! group-commits, wipes and compacts.
//!
//! Threading model: any thread may call any method. Reads (`get`, `len`, `stats`, ...) take a
//! read lock on the in-memory index and decrypt outside it. Writes are queued to one writer
//! thread per store, which drains the whole queue, appends every record of the batch plus one
//! commit record, fsyncs once, wipes superseded records, applies the batch to the index, and
//! only then completes the waiters. A write is therefore visible to readers only once durable.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{
    Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard,
    RwLockWriteGuard, Weak,
};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::hmac;
use zeroize::Zeroizing;

use crate::completion::{self, Completer, Completion};
use crate::crypto::{self, KeyBytes, RecoveryKey};
use crate::format::{
    self, Decoded, GenKeys, Header, FLAG_HARDWARE_BOUND, FLAG_PASSPHRASE, FLAG_RECOVERY,
    FRAME_HEADER, HEADER_LEN, MAX_KEY, MAX_SANDBOX, MAX_VALUE,
};
use crate::{Error, HardwareId};

/// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// Below this a passphrase-derived key is too cheap to guess.
pub const MIN_PBKDF2_ITERATIONS: u32 = 100_000;
/// A key-mode secret must carry at least 256 bits.
pub const MIN_KEY_SECRET_LEN: usize = 32;
const MIN_PASSPHRASE_LEN: usize = 8;
/// Ops drained per batch: bounds the latency one huge burst adds to the next waiter.
const MAX_BATCH_OPS: usize = 4096;
/// Rotation aliases are followed at most this deep (a token rotated repeatedly within grace).
const MAX_ALIAS_DEPTH: usize = 16;
const SESSION_TOKEN_BYTES: usize = 32;

type Tag = [u8; 32];
type Done<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

fn done_of<T: Send + 'static>(c: Completer<T>) -> Done<T> {
    Box::new(move |r| c.complete(r))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// ---------------------------------------------------------------------------------------------
// Options and reports.

/// How to open (or create) a store.
///
/// The KDF rule: a secret given with [`Options::with_key`] must be high-entropy key material
/// (>= 32 bytes, e.g. `openssl rand -hex 32`) and goes through HKDF-SHA256; one given with
/// [`Options::with_passphrase`] is human-chosen and goes through PBKDF2-HMAC-SHA256 first. The
/// choice is recorded in the header; opening with the other kind is refused (InvalidArgument).
#[derive(Clone)]
pub struct Options {
    secret: Zeroizing<Vec<u8>>,
    passphrase_iterations: Option<u32>,
    hardware_bound: bool,
    hardware_id: Option<HardwareId>,
    recovery_key: bool,
    create: bool,
}

impl Options {
    /// A high-entropy secret (>= 32 bytes), derived with HKDF.
    pub fn with_key(secret: impl AsRef<[u8]>) -> Options {
        Options {
            secret: Zeroizing::new(secret.as_ref().to_vec()),
            passphrase_iterations: None,
            hardware_bound: true,
            hardware_id: None,
            recovery_key: false,
            create: true,
        }
    }

    /// A human-chosen passphrase, derived with PBKDF2 ([`DEFAULT_PBKDF2_ITERATIONS`]).
    pub fn with_passphrase(passphrase: impl AsRef<[u8]>) -> Options {
        Options {
            passphrase_iterations: Some(DEFAULT_PBKDF2_ITERATIONS),
            ..Options::with_key(passphrase)
        }
    }

    /// PBKDF2 iterations for a store created by this call (an existing store keeps its own).
    pub fn pbkdf2_iterations(mut self, iterations: u32) -> Options {
        if self.passphrase_iterations.is_some() {
            self.passphrase_iterations = Some(iterations);
        }
        self
    }

    /// `false` leaves the hardware id out of the key (containers whose MAC changes). Default true.
    pub fn hardware_bound(mut self, bound: bool) -> Options {
        self.hardware_bound = bound;
        self
    }

    /// Uses this hardware id instead of detecting one (tests; deployments with their own id).
    /// Ignored when `hardware_bound(false)`.
    pub fn hardware_id(mut self, id: HardwareId) -> Options {
        self.hardware_id = Some(id);
        self
    }

    /// At creation, also wrap the key with a recovery key returned once in [`OpenReport`].
    /// Without it a store cannot be moved to new hardware. Default false.
    pub fn recovery_key(mut self, on: bool) -> Options {
        self.recovery_key = on;
        self
    }

    /// Create the file if it does not exist. Default true.
    pub fn create_if_missing(mut self, on: bool) -> Options {
        self.create = on;
        self
    }

    fn validate(&self) -> Result<(), Error> {
        match self.passphrase_iterations {
            None if self.secret.len() < MIN_KEY_SECRET_LEN => Err(Error::invalid(format!(
                "a key secret needs at least {MIN_KEY_SECRET_LEN} bytes; use with_passphrase() for a passphrase"
            ))),
            Some(_) if self.secret.len() < MIN_PASSPHRASE_LEN => {
                Err(Error::invalid(format!("a passphrase needs at least {MIN_PASSPHRASE_LEN} bytes")))
            }
            Some(n) if n < MIN_PBKDF2_ITERATIONS => {
                Err(Error::invalid(format!("PBKDF2 needs at least {MIN_PBKDF2_ITERATIONS} iterations")))
            }
            _ => Ok(()),
        }
    }

    fn hardware(&self) -> Result<Option<HardwareId>, Error> {
        if !self.hardware_bound {
            return Ok(None);
        }
        match self.hardware_id {
            Some(id) => Ok(Some(id)),
            None => HardwareId::detect().map(Some),
        }
    }

    /// Refuses a mismatch with the header before any (possibly slow) key derivation.
    fn check_header(&self, header: &Header) -> Result<(), Error> {
        let file_passphrase = header.flags & FLAG_PASSPHRASE != 0;
        if file_passphrase != self.passphrase_iterations.is_some() {
            return Err(Error::invalid(if file_passphrase {
                "this store was created with a passphrase; open it with Options::with_passphrase"
            } else {
                "this store was created with a key secret; open it with Options::with_key"
            }));
        }
        let file_bound = header.flags & FLAG_HARDWARE_BOUND != 0;
        if file_bound != self.hardware_bound {
            return Err(Error::invalid(if file_bound {
                "this store is hardware-bound; open it with hardware_bound(true)"
            } else {
                "this store is not hardware-bound; open it with hardware_bound(false)"
            }));
        }
        Ok(())
    }

    /// Derives the wrap key and opens the header's wrapped master key with it.
    fn unwrap_master(&self, header: &Header) -> Result<KeyBytes, Error> {
        self.check_header(header)?;
        let hw = self.hardware()?;
        let wk = format::wrap_key(
            &self.secret,
            header.passphrase_iterations(),
            &header.salt,
            &header.file_id,
            hw.as_ref(),
        );
        crypto::unwrap(&header.hw_wrap, &wk, &header.identity())
            .ok_or_else(|| Error::key("the secret or the hardware id does not open this store"))
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("secret", &"<redacted>")
            .field("passphrase_iterations", &self.passphrase_iterations)
            .field("hardware_bound", &self.hardware_bound)
            .field("hardware_id", &self.hardware_id)
            .field("recovery_key", &self.recovery_key)
            .field("create", &self.create)
            .finish()
    }
}

/// What [`Store::open`] found and did.
#[derive(Debug)]
pub struct OpenReport {
    /// The file did not exist and was created.
    pub created: bool,
    /// The store was already open in this process: this is the same shared store.
    pub shared: bool,
    /// Set once, on creation with [`Options::recovery_key`]; store it offline.
    pub recovery_key: Option<RecoveryKey>,
    /// A torn or unauthenticated tail (an unacknowledged last batch) was truncated.
    pub dropped_tail: Option<DroppedTail>,
    /// Records whose wipe had been interrupted (crash) and were wiped again.
    pub rewiped: u64,
    /// Live (unexpired) values after opening.
    pub live_records: u64,
}

/// A truncated tail: `bytes` bytes from `offset` were not a complete, authenticated batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedTail {
    pub offset: u64,
    pub bytes: u64,
}

/// Counters and sizes (see [`Store::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Unexpired values.
    pub live_records: u64,
    /// Unexpired rotation aliases (old tokens within their grace period).
    pub aliases: u64,
    /// Expired entries not yet purged (never returned).
    pub expired_pending: u64,
    pub sandboxes: u64,
    pub file_size: u64,
    /// Bytes of frames the index points at.
    pub live_bytes: u64,
    /// Wiped frames and commit records: reclaimed by compaction.
    pub dead_bytes: u64,
    /// Compaction generation of the file.
    pub generation: u64,
    /// Write operations made durable since open.
    pub writes: u64,
    /// Group commits (one append + one fsync each) since open.
    pub batches: u64,
    /// fsync calls since open (appends, wipe passes, compactions).
    pub fsyncs: u64,
    /// Records overwritten in place since open.
    pub wiped_records: u64,
    pub compactions: u64,
}

// ---------------------------------------------------------------------------------------------
// Shared state.

#[derive(Clone)]
struct Entry {
    offset: u64,
    len: u32,
    alias: bool,
    expires_at: u64,
    /// nonce | ciphertext | tag: values stay encrypted in memory.
    body: Arc<[u8]>,
}

impl Entry {
    fn expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }
}

type Index = HashMap<String, HashMap<Tag, Entry>>;

struct State {
    sandboxes: Index,
    gen: Arc<GenKeys>,
    end: u64,
    live_bytes: u64,
}

enum Op {
    Set {
        sandbox: String,
        key: Zeroizing<String>,
        value: Zeroizing<Vec<u8>>,
        expires_at: u64,
        done: Done<()>,
    },
    Del {
        sandbox: String,
        key: Zeroizing<String>,
        done: Done<bool>,
    },
    Rotate {
        sandbox: String,
        old: Zeroizing<String>,
        new: Zeroizing<String>,
        grace_ms: u64,
        done: Done<bool>,
    },
    Purge {
        sandbox: String,
        tag: Tag,
        offset: u64,
    },
    PurgeExpired {
        done: Done<u64>,
    },
    Clear {
        sandbox: String,
        done: Done<u64>,
    },
    Compact {
        done: Done<()>,
    },
    Close {
        done: Option<Done<()>>,
    },
}

impl Op {
    fn fail(self, e: Error) {
        match self {
            Op::Set { done, .. } | Op::Compact { done } => done(Err(e)),
            Op::Del { done, .. } | Op::Rotate { done, .. } => done(Err(e)),
            Op::PurgeExpired { done } | Op::Clear { done, .. } => done(Err(e)),
            Op::Purge { .. } => {}
            Op::Close { done } => {
                if let Some(d) = done {
                    d(Ok(()))
                }
            }
        }
    }
}

#[derive(Default)]
struct Queue {
    ops: VecDeque<Op>,
    /// close() was called: no new work is accepted.
    closing: bool,
    /// The writer has exited.
    dead: bool,
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    batches: AtomicU64,
    fsyncs: AtomicU64,
    wiped: AtomicU64,
    compactions: AtomicU64,
}

struct Shared {
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    closing: AtomicBool,
    closed: Mutex<bool>,
    closed_cv: Condvar,
    state: RwLock<State>,
    /// Random per open: the index is keyed by HMAC(key), so tokens are not held in plaintext.
    index_key: hmac::Key,
    counters: Counters,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn tag(&self, key: &str) -> Tag {
        let mut t = [0u8; 32];
        t.copy_from_slice(hmac::sign(&self.index_key, key.as_bytes()).as_ref());
        t
    }

    fn submit(&self, op: Op) {
        let mut q = lock(&self.queue);
        if q.closing || q.dead {
            drop(q);
            op.fail(Error::closed());
            return;
        }
        q.ops.push_back(op);
        drop(q);
        self.queue_cv.notify_one();
    }

    fn submit_close(&self, done: Option<Done<()>>) {
        let mut q = lock(&self.queue);
        if q.dead {
            drop(q);
            if let Some(d) = done {
                d(Ok(()));
            }
            return;
        }
        q.closing = true;
        self.closing.store(true, Ordering::SeqCst);
        q.ops.push_back(Op::Close { done });
        drop(q);
        self.queue_cv.notify_one();
    }

    fn is_closed(&self) -> bool {
        *lock(&self.closed)
    }

    fn wait_closed(&self) {
        let mut c = lock(&self.closed);
        while !*c {
            c = self
                .closed_cv
                .wait(c)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn live_records(&self) -> u64 {
        let now = now_ms();
        let st = self.read();
        st.sandboxes
            .values()
            .flat_map(|m| m.values())
            .filter(|e| !e.alias && !e.expired(now))
            .count() as u64
    }
}

// ---------------------------------------------------------------------------------------------
// Registry: one store per canonical path per process.

struct RegistryEntry {
    store: Weak<StoreInner>,
    /// Outlives `store` until the writer has released the file, so a re-open can wait for it.
    shared: Weak<Shared>,
}

static REGISTRY: LazyLock<Mutex<HashMap<PathBuf, RegistryEntry>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Canonical path even for a file that does not exist yet (canonical parent + file name).
fn canonical(path: &Path) -> Result<PathBuf, Error> {
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} is not a file path", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(parent)
        .map_err(|e| Error::io(format!("cannot resolve directory {}", parent.display()), e))?;
    Ok(dir.join(name))
}

/// Locks the registry once no store of `canon` is still shutting down, so that an open right
/// after `close()` (or after dropping the last handle) does not find the file still locked by
/// our own writer. Waits without holding the registry lock: a closing writer may be running
/// completion callbacks that themselves open stores.
fn lock_registry_for(canon: &Path) -> MutexGuard<'static, HashMap<PathBuf, RegistryEntry>> {
    loop {
        let reg = lock(&REGISTRY);
        let closing = reg.get(canon).and_then(|e| {
            let shared = e.shared.upgrade()?;
            let handles_gone = e.store.strong_count() == 0;
            let shutting_down = handles_gone || shared.closing.load(Ordering::SeqCst);
            (shutting_down && !shared.is_closed()).then_some(shared)
        });
        match closing {
            None => return reg,
            Some(shared) => {
                drop(reg);
                shared.wait_closed();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The public handle.

/// An open XEMS store. Cheap to clone; all clones (and every `open` of the same path in this
/// process) share one store, one file lock and one writer thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    shared: Arc<Shared>,
    path: PathBuf,
    header: Header,
    writer: Mutex<Option<JoinHandle<()>>>,
    writer_thread: ThreadId,
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

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn check_name(what: &str, s: &str, max: usize) -> Result<(), Error> {
    if s.is_empty() || s.len() > max {
        return Err(Error::invalid(format!(
            "{what} must be 1..={max} bytes, got {}",
            s.len()
        )));
    }
    Ok(())
}

fn ttl_ms(ttl: Option<Duration>) -> Result<u64, Error> {
    match ttl {
        None => Ok(0),
        Some(d) if d.is_zero() => Err(Error::invalid(
            "ttl must be positive (use None for no expiry)",
        )),
        Some(d) => {
            Ok(now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)))
        }
    }
}

fn new_token() -> Result<String, Error> {
    let mut raw = Zeroizing::new([0u8; SESSION_TOKEN_BYTES]);
    crypto::random(&mut raw[..])?;
    Ok(crypto::base64url(&raw[..]))
}

impl Store {
    /// Opens (or creates) the store at `path`.
    ///
    /// A second `open` of the same file in this process returns the same store (`report.shared`)
    /// after checking the secret; another process gets a Locked error. Nothing is written to the
    /// file before the key has been verified.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<(Store, OpenReport), Error> {
        options.validate()?;
        let canon = canonical(path.as_ref())?;
        let mut reg = lock_registry_for(&canon);
        // A closed store's handles may live on (they report Closed); it is replaced below.
        let existing = reg
            .get(&canon)
            .and_then(|e| e.store.upgrade())
            .filter(|i| !i.shared.closing.load(Ordering::SeqCst));
        if let Some(inner) = existing {
            if thread::current().id() == inner.writer_thread {
                return Err(Error::invalid(
                    "cannot open a store from inside its own completion callback",
                ));
            }
            options.unwrap_master(&inner.header)?;
            let live_records = inner.shared.live_records();
            let report = OpenReport {
                created: false,
                shared: true,
                recovery_key: None,
                dropped_tail: None,
                rewiped: 0,
                live_records,
            };
            return Ok((Store { inner }, report));
        }
        reg.retain(|_, e| e.shared.strong_count() > 0);
        let (inner, report) = open_fresh(&canon, &options)?;
        reg.insert(
            canon,
            RegistryEntry {
                store: Arc::downgrade(&inner),
                shared: Arc::downgrade(&inner.shared),
            },
        );
        Ok((Store { inner }, report))
    }

    /// Re-binds a closed store to this machine and/or a new secret, using the recovery key
    /// returned at creation. Records are untouched (their key derives from the master key,
    /// which does not change); only the header's wraps are rewritten (temp file + rename).
    pub fn rebind(
        path: impl AsRef<Path>,
        recovery: &RecoveryKey,
        options: Options,
    ) -> Result<(), Error> {
        options.validate()?;
        let canon = canonical(path.as_ref())?;
        let reg = lock_registry_for(&canon);
        if reg
            .get(&canon)
            .and_then(|e| e.shared.upgrade())
            .is_some_and(|sh| !sh.is_closed())
        {
            return Err(Error::invalid(
                "the store is open in this process; close it before rebinding",
            ));
        }
        let hw = options.hardware()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&canon)
            .map_err(|e| Error::io(format!("cannot open {}", canon.display()), e))?;
        lock_file(&file, &canon)?;
        if !same_file(&file, &canon)? {
            return Err(Error::locked(
                "the store file is being replaced by another process",
            ));
        }
        let mut bytes = Vec::new();
        (&file)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", e))?;
        let old = Header::parse(&bytes)?;
        if old.flags & FLAG_RECOVERY == 0 {
            return Err(Error::invalid(
                "this store was created without a recovery key",
            ));
        }
        let rwk = format::recovery_wrap_key(&recovery.0, &old.salt, &old.file_id);
        let master = crypto::unwrap(&old.recovery_wrap, &rwk, &old.identity())
            .ok_or_else(|| Error::key("the recovery key does not open this store"))?;
        let mac = format::header_mac_key(&master, &old.file_id);
        Header::verify_mac(&bytes, &mac)?;

        let mut h = old.clone();
        crypto::random(&mut h.salt)?;
        h.flags = FLAG_RECOVERY
            | if hw.is_some() { FLAG_HARDWARE_BOUND } else { 0 }
            | if options.passphrase_iterations.is_some() {
                FLAG_PASSPHRASE
            } else {
                0
            };
        h.iterations = options.passphrase_iterations.unwrap_or(0);
        let wk = format::wrap_key(
            &options.secret,
            h.passphrase_iterations(),
            &h.salt,
            &h.file_id,
            hw.as_ref(),
        );
        h.hw_wrap = crypto::wrap(&master, &wk, &h.identity())?;
        let rwk = format::recovery_wrap_key(&recovery.0, &h.salt, &h.file_id);
        h.recovery_wrap = crypto::wrap(&master, &rwk, &h.identity())?;
        let mut out = h.encode(&mac).to_vec();
        out.extend_from_slice(&bytes[HEADER_LEN..]);
        let fsyncs = AtomicU64::new(0);
        let (new_file, dir_err) = replace_file(&canon, "rebind", &out, &fsyncs)?;
        // The old inode still holds the old wraps: overwrite it (best effort) before letting go.
        let _ = wipe_whole_file(&file, &fsyncs);
        drop(file);
        drop(new_file);
        drop(reg);
        dir_err.map_or(Ok(()), Err)
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn submit<T: Send + 'static>(
        &self,
        check: Result<(), Error>,
        make: impl FnOnce(Done<T>) -> Op,
    ) -> Completion<T> {
        if let Err(e) = check {
            return completion::ready(Err(e));
        }
        let (c, f) = completion::pair();
        self.shared().submit(make(done_of(c)));
        f
    }

    /// Stores `value` under (`sandbox`, `key`), replacing (and wiping) any previous record.
    /// `ttl: None` never expires.
    pub fn set(&self, sandbox: &str, key: &str, value: &[u8], ttl: Option<Duration>) -> Completion {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", key, MAX_KEY))
            .and_then(|()| {
                if value.len() > MAX_VALUE {
                    Err(Error::invalid(format!("value exceeds {MAX_VALUE} bytes")))
                } else {
                    Ok(())
                }
            })
            .and_then(|()| ttl_ms(ttl));
        let expires_at = match check {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        self.submit(Ok(()), |done| Op::Set {
            sandbox: sandbox.to_owned(),
            key: Zeroizing::new(key.to_owned()),
            value: Zeroizing::new(value.to_vec()),
            expires_at,
            done,
        })
    }

    /// The value, decrypted now (no plaintext cache). Expired entries are never returned and
    /// are queued for purging; a rotated-away key resolves through its alias within the grace.
    pub fn get(&self, sandbox: &str, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        check_name("sandbox", sandbox, MAX_SANDBOX)?;
        check_name("key", key, MAX_KEY)?;
        if self.shared().closing.load(Ordering::SeqCst) {
            return Err(Error::closed());
        }
        self.resolve(sandbox, key, 0)
    }

    fn resolve(
        &self,
        sandbox: &str,
        key: &str,
        depth: usize,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let tag = self.shared().tag(key);
        let (entry, gen) = {
            let st = self.shared().read();
            (
                st.sandboxes.get(sandbox).and_then(|m| m.get(&tag)).cloned(),
                st.gen.clone(),
            )
        };
        let Some(e) = entry else { return Ok(None) };
        if e.expired(now_ms()) {
            self.shared().submit(Op::Purge {
                sandbox: sandbox.to_owned(),
                tag,
                offset: e.offset,
            });
            return Ok(None);
        }
        let pt = gen.open_body(e.offset, e.len, &e.body).ok_or_else(|| {
            Error::integrity("an in-memory record failed authentication", Some(e.offset))
        })?;
        match format::decode(&pt) {
            Some(Decoded::Entry {
                alias,
                sandbox: s,
                key: k,
                rest,
                ..
            }) if s == sandbox && k == key => {
                if !alias {
                    return Ok(Some(Zeroizing::new(rest.to_vec())));
                }
                if depth >= MAX_ALIAS_DEPTH {
                    return Ok(None);
                }
                let target = Zeroizing::new(String::from_utf8_lossy(rest).into_owned());
                self.resolve(sandbox, &target, depth + 1)
            }
            _ => Err(Error::integrity(
                "a record does not belong to the key that indexes it",
                Some(e.offset),
            )),
        }
    }

    /// Deletes (and wipes) the entry; resolves to whether a live entry existed.
    pub fn del(&self, sandbox: &str, key: &str) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", key, MAX_KEY));
        self.submit(check, |done| Op::Del {
            sandbox: sandbox.to_owned(),
            key: Zeroizing::new(key.to_owned()),
            done,
        })
    }

    /// Moves the value of `old_key` to `new_key`. The old record is wiped at once; for `grace`
    /// an encrypted alias lets `old_key` still resolve (to the new value), then never again.
    /// Resolves to false if `old_key` is not a live value (missing, expired, or itself an alias).
    pub fn rotate(
        &self,
        sandbox: &str,
        old_key: &str,
        new_key: &str,
        grace: Duration,
    ) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", old_key, MAX_KEY))
            .and_then(|()| check_name("key", new_key, MAX_KEY))
            .and_then(|()| {
                if old_key == new_key {
                    Err(Error::invalid("rotation needs a different new key"))
                } else {
                    Ok(())
                }
            });
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.submit(check, |done| Op::Rotate {
            sandbox: sandbox.to_owned(),
            old: Zeroizing::new(old_key.to_owned()),
            new: Zeroizing::new(new_key.to_owned()),
            grace_ms,
            done,
        })
    }

    /// Creates a session holding `data`; resolves (once durable) to its random 256-bit token.
    pub fn create_session(
        &self,
        sandbox: &str,
        data: &[u8],
        ttl: Option<Duration>,
    ) -> Completion<String> {
        let token = match new_token() {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        let (c, f) = completion::pair::<String>();
        let inner = self.set(sandbox, &token, data, ttl);
        inner.on_complete(move |r| c.complete(r.map(|()| token)));
        f
    }

    /// The session's data, if the token is live (or an old token within its grace period).
    pub fn resolve_session(
        &self,
        sandbox: &str,
        token: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        self.get(sandbox, token)
    }

    /// Issues a new token for the session; the old one resolves for `grace`, then never.
    /// Resolves to `None` if `token` is not a live session (e.g. already rotated).
    pub fn rotate_session(
        &self,
        sandbox: &str,
        token: &str,
        grace: Duration,
    ) -> Completion<Option<String>> {
        let new = match new_token() {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        let (c, f) = completion::pair::<Option<String>>();
        self.rotate(sandbox, token, &new, grace)
            .on_complete(move |r| c.complete(r.map(|ok| ok.then_some(new))));
        f
    }

    /// Destroys (and wipes) the session; resolves to whether it existed.
    pub fn destroy_session(&self, sandbox: &str, token: &str) -> Completion<bool> {
        self.del(sandbox, token)
    }

    /// Deletes every entry of `sandbox`; resolves to how many were removed.
    pub fn clear(&self, sandbox: &str) -> Completion<u64> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX);
        self.submit(check, |done| Op::Clear {
            sandbox: sandbox.to_owned(),
            done,
        })
    }

    /// Wipes every expired entry now; resolves to how many. Reads purge lazily anyway; call
    /// this periodically so expired records do not linger on disk until the next read.
    pub fn purge_expired(&self) -> Completion<u64> {
        self.submit(Ok(()), |done| Op::PurgeExpired { done })
    }

    /// Rewrites live records into a new file generation (temp file, fsync, rename, directory
    /// fsync), dropping wiped and expired records; then overwrites the old file's blocks.
    pub fn compact(&self) -> Completion {
        self.submit(Ok(()), |done| Op::Compact { done })
    }

    /// Unexpired values in `sandbox`.
    pub fn len(&self, sandbox: &str) -> usize {
        let now = now_ms();
        let st = self.shared().read();
        st.sandboxes.get(sandbox).map_or(0, |m| {
            m.values().filter(|e| !e.alias && !e.expired(now)).count()
        })
    }

    /// True when `sandbox` holds no unexpired value.
    pub fn is_empty(&self, sandbox: &str) -> bool {
        self.len(sandbox) == 0
    }

    /// Keys of the unexpired values in `sandbox` (decrypted on demand; the index only holds
    /// keyed hashes of keys).
    pub fn keys(&self, sandbox: &str) -> Result<Vec<String>, Error> {
        let now = now_ms();
        let (entries, gen): (Vec<Entry>, _) = {
            let st = self.shared().read();
            let v = st.sandboxes.get(sandbox).map_or_else(Vec::new, |m| {
                m.values()
                    .filter(|e| !e.alias && !e.expired(now))
                    .cloned()
                    .collect()
            });
            (v, st.gen.clone())
        };
        let mut keys = Vec::with_capacity(entries.len());
        for e in entries {
            let pt = gen.open_body(e.offset, e.len, &e.body).ok_or_else(|| {
                Error::integrity("an in-memory record failed authentication", Some(e.offset))
            })?;
            match format::decode(&pt) {
                Some(Decoded::Entry { key, .. }) => keys.push(key.to_owned()),
                _ => {
                    return Err(Error::integrity(
                        "an indexed record is not a value",
                        Some(e.offset),
                    ))
                }
            }
        }
        Ok(keys)
    }

    /// Sandboxes that hold at least one entry.
    pub fn sandboxes(&self) -> Vec<String> {
        self.shared().read().sandboxes.keys().cloned().collect()
    }

    pub fn stats(&self) -> Stats {
        let now = now_ms();
        let c = &self.shared().counters;
        let st = self.shared().read();
        let mut s = Stats {
            sandboxes: st.sandboxes.len() as u64,
            file_size: st.end,
            live_bytes: st.live_bytes,
            dead_bytes: st.end.saturating_sub(HEADER_LEN as u64 + st.live_bytes),
            generation: st.gen.generation,
            writes: c.writes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            wiped_records: c.wiped.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for e in st.sandboxes.values().flat_map(|m| m.values()) {
            if e.expired(now) {
                s.expired_pending += 1;
            } else if e.alias {
                s.aliases += 1;
            } else {
                s.live_records += 1;
            }
        }
        s
    }

    /// Finishes queued writes, releases the file and its lock. Later calls on any handle of
    /// this store fail with Closed; the path can then be opened again.
    pub fn close(&self) -> Completion {
        let (c, f) = completion::pair();
        self.shared().submit_close(Some(done_of(c)));
        f
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// True if both handles are the same shared store.
    pub fn ptr_eq(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

// ---------------------------------------------------------------------------------------------
// Opening.

fn lock_file(file: &File, path: &Path) -> Result<(), Error> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(Error::locked(format!(
            "{} is open in another process",
            path.display()
        ))),
        Err(fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// Whether `file` is still the inode at `path` (a compaction elsewhere may have replaced it
/// between our open and our lock).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let a = file.metadata().map_err(|e| Error::io("stat", e))?;
    match fs::metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat", e)),
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> Result<bool, Error> {
    Ok(true)
}

/// Makes a rename or link durable. On non-Unix platforms directories cannot be opened for
/// fsync; there the rename's durability is up to the filesystem.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

fn sync(file: &File, fsyncs: &AtomicU64) -> io::Result<()> {
    fsyncs.fetch_add(1, Ordering::Relaxed);
    file.sync_data()
}

/// Overwrites frames in place: random bytes over the body, fsync, then type `W` and zeros,
/// fsync. The length field is kept so the frame chain stays walkable; the commit that declared
/// these frames dead is already durable, so a crash at any point here is recoverable.
fn wipe_frames(file: &File, frames: &[(u64, u32)], fsyncs: &AtomicU64) -> Result<(), Error> {
    if frames.is_empty() {
        return Ok(());
    }
    for &(off, len) in frames {
        let mut noise = vec![0u8; len as usize - FRAME_HEADER];
        crypto::random(&mut noise)?;
        write_at(file, off + FRAME_HEADER as u64, &noise)
            .map_err(|e| Error::io("wipe (random pass)", e))?;
    }
    sync(file, fsyncs).map_err(|e| Error::io("fsync after wipe (random pass)", e))?;
    for &(off, len) in frames {
        write_at(file, off + 4, &format::wiped_tail(len))
            .map_err(|e| Error::io("wipe (zero pass)", e))?;
    }
    sync(file, fsyncs).map_err(|e| Error::io("fsync after wipe (zero pass)", e))
}

/// Best-effort overwrite of a whole file that is no longer reachable by name (old generation
/// after compaction or rebind): random, fsync, zeros, fsync.
fn wipe_whole_file(file: &File, fsyncs: &AtomicU64) -> Result<(), Error> {
    let len = file.metadata().map_err(|e| Error::io("stat", e))?.len();
    for pass in 0..2 {
        let mut off = 0u64;
        while off < len {
            let n = (len - off).min(64 * 1024) as usize;
            let mut chunk = vec![0u8; n];
            if pass == 0 {
                crypto::random(&mut chunk)?;
            }
            write_at(file, off, &chunk).map_err(|e| Error::io("wipe old file", e))?;
            off += n as u64;
        }
        sync(file, fsyncs).map_err(|e| Error::io("fsync old file", e))?;
    }
    Ok(())
}

/// Writes `bytes` to a locked temp sibling, fsyncs it, renames it over `path` and fsyncs the
/// directory: the path names either the old or the new complete file, never a mix.
///
/// Returns the new (locked) file; the second value is a failed directory fsync, reported
/// separately because the rename has then already happened and the caller must use the file.
fn replace_file(
    path: &Path,
    suffix: &str,
    bytes: &[u8],
    fsyncs: &AtomicU64,
) -> Result<(File, Option<Error>), Error> {
    let tmp = sibling(path, &format!("{suffix}.tmp"));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
        // Locked before it becomes visible under the store's name.
        lock_file(&f, &tmp)?;
        (&f).write_all(bytes)
            .map_err(|e| Error::io("write temp file", e))?;
        fsyncs.fetch_add(1, Ordering::Relaxed);
        f.sync_all().map_err(|e| Error::io("fsync temp file", e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("rename temp file over the store", e))?;
        Ok(f)
    })();
    match result {
        Ok(f) => {
            let dir_err = sync_dir(path)
                .err()
                .map(|e| Error::io("fsync directory after rename", e));
            Ok((f, dir_err))
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn open_fresh(canon: &Path, options: &Options) -> Result<(Arc<StoreInner>, OpenReport), Error> {
    let hw = options.hardware()?;
    for _ in 0..8 {
        match OpenOptions::new().read(true).write(true).open(canon) {
            Ok(file) => {
                lock_file(&file, canon)?;
                if !same_file(&file, canon)? {
                    continue;
                }
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
            Err(e) => return Err(Error::io(format!("cannot open {}", canon.display()), e)),
        }
    }
    Err(Error::locked(format!(
        "{} keeps being replaced by another process",
        canon.display()
    )))
}

/// Creates a new store atomically: header written and fsynced in a locked temp file, then
/// hard-linked into place (fails if another process created it first: we then open theirs).
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
        flags: if hw.is_some() { FLAG_HARDWARE_BOUND } else { 0 }
            | if options.passphrase_iterations.is_some() {
                FLAG_PASSPHRASE
            } else {
                0
            }
            | if options.recovery_key {
                FLAG_RECOVERY
            } else {
                0
            },
        iterations: options.passphrase_iterations.unwrap_or(0),
        file_id,
        salt,
        generation: 0,
        hw_wrap: [0; crypto::WRAP_LEN],
        recovery_wrap: [0; crypto::WRAP_LEN],
    };
    let identity = header.identity();
    let wk = format::wrap_key(
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
            &format::recovery_wrap_key(&rk.0, &salt, &file_id),
            &identity,
        )?;
        Some(rk)
    } else {
        None
    };
    let mac = format::header_mac_key(&master, &file_id);
    let bytes = header.encode(&mac);

    let mut rnd = [0u8; 8];
    crypto::random(&mut rnd)?;
    let tmp = sibling(canon, &format!("{}.creating", crypto::hex(&rnd)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
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
    let inner = start(
        canon,
        file,
        header,
        master,
        mac,
        gen,
        Vec::new(),
        HEADER_LEN as u64,
        Counters::default(),
    )?;
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
    let mac = format::header_mac_key(&master, &header.file_id);
    Header::verify_mac(&bytes, &mac)?;
    let gen = GenKeys::new(&master, header.file_id, header.generation);
    let loaded = format::load(&bytes, &gen)?;

    // The key is verified and the whole file is understood: only now may we write.
    let counters = Counters::default();
    let mut end = bytes.len() as u64;
    let dropped_tail = loaded
        .dropped_tail
        .map(|(offset, n)| DroppedTail { offset, bytes: n });
    if let Some(t) = dropped_tail {
        file.set_len(t.offset)
            .map_err(|e| Error::io("truncate torn tail", e))?;
        sync(&file, &counters.fsyncs).map_err(|e| Error::io("fsync after truncation", e))?;
        end = t.offset;
    }
    wipe_frames(&file, &loaded.unclean_dead, &counters.fsyncs)?;
    // Leftovers of a compaction or rebind that crashed before its rename (we hold the lock,
    // so nobody else is writing them): they hold ciphertext, so wipe before unlinking.
    for suffix in ["compact.tmp", "rebind.tmp"] {
        let stale = sibling(canon, suffix);
        if let Ok(f) = OpenOptions::new().write(true).open(&stale) {
            let _ = wipe_whole_file(&f, &counters.fsyncs);
            let _ = fs::remove_file(&stale);
        }
    }
    let rewiped = loaded.unclean_dead.len() as u64;
    debug_assert_eq!(end, loaded.committed_end);
    let inner = start(
        canon,
        file,
        header,
        master,
        mac,
        gen,
        loaded.records,
        end,
        counters,
    )?;
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

#[allow(clippy::too_many_arguments)]
fn start(
    canon: &Path,
    file: File,
    header: Header,
    master: KeyBytes,
    header_mac: hmac::Key,
    gen: GenKeys,
    records: Vec<format::LoadedRecord>,
    end: u64,
    counters: Counters,
) -> Result<Arc<StoreInner>, Error> {
    let index_key = crypto::hmac_key(&crypto::random_key()?);
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        queue_cv: Condvar::new(),
        closing: AtomicBool::new(false),
        closed: Mutex::new(false),
        closed_cv: Condvar::new(),
        state: RwLock::new(State {
            sandboxes: HashMap::new(),
            gen: Arc::new(gen),
            end,
            live_bytes: 0,
        }),
        index_key,
        counters,
    });
    {
        let mut st = shared.write();
        let mut live_bytes = 0u64;
        for r in records {
            let tag = shared.tag(&r.key);
            let e = Entry {
                offset: r.offset,
                len: r.len,
                alias: r.alias,
                expires_at: r.expires_at,
                body: r.body,
            };
            live_bytes += u64::from(e.len);
            if let Some(old) = st.sandboxes.entry(r.sandbox).or_default().insert(tag, e) {
                live_bytes -= u64::from(old.len);
            }
        }
        st.live_bytes = live_bytes;
    }
    let writer = Writer {
        shared: shared.clone(),
        file: Some(file),
        path: canon.to_path_buf(),
        header: header.clone(),
        master,
        header_mac,
        end,
        failed: None,
    };
    let handle = thread::Builder::new()
        .name("xems-writer".into())
        .spawn(move || writer.run())
        .map_err(|e| Error::io("cannot start the writer thread", e))?;
    let writer_thread = handle.thread().id();
    Ok(Arc::new(StoreInner {
        shared,
        path: canon.to_path_buf(),
        header,
        writer: Mutex::new(Some(handle)),
        writer_thread,
    }))
}

// ---------------------------------------------------------------------------------------------
// The writer thread.

struct Writer {
    shared: Arc<Shared>,
    /// `None` only while dropping (the lock is released before `closed` is signalled).
    file: Option<File>,
    path: PathBuf,
    header: Header,
    /// Needed to derive the next generation's record key at compaction.
    master: KeyBytes,
    header_mac: hmac::Key,
    end: u64,
    /// After a failed fsync the on-disk state is unknown (a retried fsync can falsely succeed),
    /// so every later write fails until the store is reopened and re-verified.
    failed: Option<Error>,
}

/// One group commit being assembled.
struct Batch {
    start: u64,
    buf: Vec<u8>,
    /// Effect of the batch so far, consulted before the index so later ops see earlier ones.
    overlay: HashMap<String, HashMap<Tag, Option<Entry>>>,
    dead: Vec<(u64, u32)>,
    finishes: Vec<Done<()>>,
    writes: u64,
}

impl Batch {
    fn append(
        &mut self,
        gen: &GenKeys,
        plaintext: &[u8],
        alias: bool,
        expires_at: u64,
    ) -> Result<Entry, Error> {
        let offset = self.start + self.buf.len() as u64;
        let frame = gen.seal_frame(offset, plaintext)?;
        let e = Entry {
            offset,
            len: frame.len() as u32,
            alias,
            expires_at,
            body: Arc::from(&frame[FRAME_HEADER..]),
        };
        self.buf.extend_from_slice(&frame);
        Ok(e)
    }

    fn finish<T: Send + 'static>(&mut self, done: Done<T>, value: T) {
        self.finishes.push(Box::new(move |r: Result<(), Error>| {
            done(r.map(|()| value))
        }));
    }

    fn put(&mut self, sandbox: &str, tag: Tag, e: Option<Entry>) {
        self.overlay
            .entry(sandbox.to_owned())
            .or_default()
            .insert(tag, e);
    }

    fn finish_all(self, r: Result<(), Error>) {
        for f in self.finishes {
            f(r.clone());
        }
    }
}

impl Writer {
    fn file(&self) -> &File {
        // Only `Drop` takes the file, and nothing runs after it.
        self.file
            .as_ref()
            .unwrap_or_else(|| unreachable!("writer used after its file was released"))
    }

    fn run(mut self) {
        loop {
            let ops: Vec<Op> = {
                let mut q = lock(&self.shared.queue);
                while q.ops.is_empty() {
                    q = self
                        .shared
                        .queue_cv
                        .wait(q)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                let n = q.ops.len().min(MAX_BATCH_OPS);
                q.ops.drain(..n).collect()
            };
            let mut batch = Vec::new();
            let mut it = ops.into_iter();
            while let Some(op) = it.next() {
                match op {
                    Op::Compact { done } => {
                        self.commit(std::mem::take(&mut batch));
                        let r = self.compact();
                        done(r);
                    }
                    Op::Close { done } => {
                        // Every batch was fsynced when it completed: nothing left to flush.
                        self.commit(std::mem::take(&mut batch));
                        // Dropping releases the file lock and fails whatever is still queued.
                        drop(self);
                        for rest in it {
                            rest.fail(Error::closed());
                        }
                        if let Some(d) = done {
                            d(Ok(()));
                        }
                        return;
                    }
                    op => batch.push(op),
                }
            }
            self.commit(batch);
        }
    }

    fn lookup(&self, b: &Batch, sandbox: &str, tag: &Tag) -> Option<Entry> {
        if let Some(e) = b.overlay.get(sandbox).and_then(|m| m.get(tag)) {
            return e.clone();
        }
        self.shared
            .read()
            .sandboxes
            .get(sandbox)
            .and_then(|m| m.get(tag))
            .cloned()
    }

    /// Entries of `sandbox` (or of all sandboxes) as the batch currently sees them.
    fn visible(&self, b: &Batch, sandbox: Option<&str>) -> Vec<(String, Tag, Entry)> {
        let mut out = Vec::new();
        let st = self.shared.read();
        for (sb, m) in &st.sandboxes {
            if sandbox.is_some_and(|s| s != sb) {
                continue;
            }
            let over = b.overlay.get(sb);
            for (tag, e) in m {
                if over.is_none_or(|o| !o.contains_key(tag)) {
                    out.push((sb.clone(), *tag, e.clone()));
                }
            }
        }
        for (sb, m) in &b.overlay {
            if sandbox.is_some_and(|s| s != sb) {
                continue;
            }
            for (tag, e) in m {
                if let Some(e) = e {
                    out.push((sb.clone(), *tag, e.clone()));
                }
            }
        }
        out
    }

    /// Adds one op to the batch. `Err` means the batch cannot be built at all (the CSPRNG
    /// failed); per-op problems are reported to the op's own completion.
    fn apply(&self, b: &mut Batch, gen: &GenKeys, op: Op, now: u64) -> Result<(), Error> {
        match op {
            Op::Set {
                sandbox,
                key,
                value,
                expires_at,
                done,
            } => {
                let tag = self.shared.tag(&key);
                let prev = self.lookup(b, &sandbox, &tag);
                let pt = format::encode_entry(false, expires_at, &sandbox, &key, &value);
                let e = b.append(gen, &pt, false, expires_at)?;
                if let Some(p) = prev {
                    b.dead.push((p.offset, p.len));
                }
                b.put(&sandbox, tag, Some(e));
                b.writes += 1;
                b.finish(done, ());
            }
            Op::Del { sandbox, key, done } => {
                let tag = self.shared.tag(&key);
                let existed = match self.lookup(b, &sandbox, &tag) {
                    Some(p) => {
                        b.dead.push((p.offset, p.len));
                        b.put(&sandbox, tag, None);
                        b.writes += 1;
                        !p.expired(now)
                    }
                    None => false,
                };
                b.finish(done, existed);
            }
            Op::Rotate {
                sandbox,
                old,
                new,
                grace_ms,
                done,
            } => {
                let old_tag = self.shared.tag(&old);
                let prev = match self.lookup(b, &sandbox, &old_tag) {
                    Some(p) if !p.alias && !p.expired(now) => p,
                    _ => {
                        b.finish(done, false);
                        return Ok(());
                    }
                };
                let Some(pt) = gen.open_body(prev.offset, prev.len, &prev.body) else {
                    done(Err(Error::integrity(
                        "an in-memory record failed authentication",
                        Some(prev.offset),
                    )));
                    return Ok(());
                };
                let Some(Decoded::Entry {
                    expires_at,
                    rest: value,
                    ..
                }) = format::decode(&pt)
                else {
                    done(Err(Error::integrity(
                        "an indexed record is not a value",
                        Some(prev.offset),
                    )));
                    return Ok(());
                };
                let new_tag = self.shared.tag(&new);
                let replaced = self.lookup(b, &sandbox, &new_tag);
                let npt = format::encode_entry(false, expires_at, &sandbox, &new, value);
                let ne = b.append(gen, &npt, false, expires_at)?;
                if let Some(r) = replaced {
                    b.dead.push((r.offset, r.len));
                }
                b.put(&sandbox, new_tag, Some(ne));
                if grace_ms > 0 {
                    let until = now.saturating_add(grace_ms);
                    let apt = format::encode_entry(true, until, &sandbox, &old, new.as_bytes());
                    let ae = b.append(gen, &apt, true, until)?;
                    b.put(&sandbox, old_tag, Some(ae));
                } else {
                    b.put(&sandbox, old_tag, None);
                }
                b.dead.push((prev.offset, prev.len));
                b.writes += 1;
                b.finish(done, true);
            }
            Op::Purge {
                sandbox,
                tag,
                offset,
            } => {
                if let Some(p) = self.lookup(b, &sandbox, &tag) {
                    if p.offset == offset && p.expired(now) {
                        b.dead.push((p.offset, p.len));
                        b.put(&sandbox, tag, None);
                        b.writes += 1;
                    }
                }
            }
            Op::PurgeExpired { done } => {
                let mut n = 0u64;
                for (sb, tag, e) in self.visible(b, None) {
                    if e.expired(now) {
                        b.dead.push((e.offset, e.len));
                        b.put(&sb, tag, None);
                        n += 1;
                    }
                }
                b.writes += u64::from(n > 0);
                b.finish(done, n);
            }
            Op::Clear { sandbox, done } => {
                let mut n = 0u64;
                for (sb, tag, e) in self.visible(b, Some(&sandbox)) {
                    b.dead.push((e.offset, e.len));
                    b.put(&sb, tag, None);
                    n += u64::from(!e.alias && !e.expired(now));
                }
                b.writes += 1;
                b.finish(done, n);
            }
            Op::Compact { .. } | Op::Close { .. } => unreachable!("barriers are handled by run()"),
        }
        Ok(())
    }

    /// One group commit: append all records + a commit record, fsync once, publish, wipe,
    /// then complete every waiter.
    fn commit(&mut self, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        if let Some(e) = &self.failed {
            for op in ops {
                op.fail(e.clone());
            }
            return;
        }
        let now = now_ms();
        let gen = self.shared.read().gen.clone();
        let mut b = Batch {
            start: self.end,
            buf: Vec::new(),
            overlay: HashMap::new(),
            dead: Vec::new(),
            finishes: Vec::new(),
            writes: 0,
        };
        let mut rest = ops.into_iter();
        for op in rest.by_ref() {
            if let Err(e) = self.apply(&mut b, &gen, op, now) {
                for op in rest {
                    op.fail(e.clone());
                }
                b.finish_all(Err(e));
                return;
            }
        }
        if b.buf.is_empty() && b.dead.is_empty() {
            b.finish_all(Ok(()));
            return;
        }
        let commit_at = b.start + b.buf.len() as u64;
        match gen.seal_frame(commit_at, &format::encode_commit(b.start, &b.dead)) {
            Ok(f) => b.buf.extend_from_slice(&f),
            Err(e) => {
                b.finish_all(Err(e));
                return;
            }
        }
        if let Err(e) = write_at(self.file(), b.start, &b.buf) {
            let e = Error::io("append to store", e);
            // Take the partial batch back out; if even that fails the file state is unknown.
            if self
                .file()
                .set_len(b.start)
                .and_then(|()| self.file().sync_data())
                .is_err()
            {
                self.failed = Some(e.clone());
            }
            b.finish_all(Err(e));
            return;
        }
        if let Err(e) = sync(self.file(), &self.shared.counters.fsyncs) {
            let e = Error::io("fsync (store must be reopened)", e);
            self.failed = Some(e.clone());
            b.finish_all(Err(e));
            return;
        }
        self.end = b.start + b.buf.len() as u64;
        {
            let mut st = self.shared.write();
            for (sb, m) in std::mem::take(&mut b.overlay) {
                let map = st.sandboxes.entry(sb.clone()).or_default();
                let mut delta: i64 = 0;
                for (tag, e) in m {
                    let old = match e {
                        Some(e) => {
                            delta += i64::from(e.len);
                            map.insert(tag, e)
                        }
                        None => map.remove(&tag),
                    };
                    if let Some(o) = old {
                        delta -= i64::from(o.len);
                    }
                }
                if map.is_empty() {
                    st.sandboxes.remove(&sb);
                }
                st.live_bytes = st.live_bytes.saturating_add_signed(delta);
            }
            st.end = self.end;
        }
        let c = &self.shared.counters;
        c.batches.fetch_add(1, Ordering::Relaxed);
        c.writes.fetch_add(b.writes, Ordering::Relaxed);
        let wiped = wipe_frames(self.file(), &b.dead, &c.fsyncs);
        match wiped {
            Ok(()) => {
                c.wiped.fetch_add(b.dead.len() as u64, Ordering::Relaxed);
                b.finish_all(Ok(()));
            }
            Err(e) => {
                // The write is durable, but the promise that old bytes are gone is not kept:
                // report it. Reopening finishes the wipe (the commit declares those frames dead).
                self.failed = Some(e.clone());
                b.finish_all(Err(e));
            }
        }
    }

    fn compact(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let now = now_ms();
        let next = self.header.generation + 1;
        let new_gen = Arc::new(GenKeys::new(&self.master, self.header.file_id, next));
        let mut header = self.header.clone();
        header.generation = next;
        let mut buf = header.encode(&self.header_mac).to_vec();
        let mut index: Index = HashMap::new();
        let mut live_bytes = 0u64;
        {
            let st = self.shared.read();
            for (sb, m) in &st.sandboxes {
                for (tag, e) in m {
                    if e.expired(now) {
                        continue;
                    }
                    let pt = st.gen.open_body(e.offset, e.len, &e.body).ok_or_else(|| {
                        Error::integrity(
                            "an in-memory record failed authentication",
                            Some(e.offset),
                        )
                    })?;
                    let offset = buf.len() as u64;
                    let frame = new_gen.seal_frame(offset, &pt)?;
                    let ne = Entry {
                        offset,
                        len: frame.len() as u32,
                        alias: e.alias,
                        expires_at: e.expires_at,
                        body: Arc::from(&frame[FRAME_HEADER..]),
                    };
                    live_bytes += u64::from(ne.len);
                    buf.extend_from_slice(&frame);
                    index.entry(sb.clone()).or_default().insert(*tag, ne);
                }
            }
        }
        if buf.len() > HEADER_LEN {
            let commit = new_gen.seal_frame(
                buf.len() as u64,
                &format::encode_commit(HEADER_LEN as u64, &[]),
            )?;
            buf.extend_from_slice(&commit);
        }
        let (new_file, dir_err) =
            replace_file(&self.path, "compact", &buf, &self.shared.counters.fsyncs)?;
        let old = self.file.replace(new_file);
        self.header = header;
        self.end = buf.len() as u64;
        {
            let mut st = self.shared.write();
            st.sandboxes = index;
            st.gen = new_gen;
            st.end = self.end;
            st.live_bytes = live_bytes;
        }
        self.shared
            .counters
            .compactions
            .fetch_add(1, Ordering::Relaxed);
        if let Some(old) = old {
            // Unreachable by name now; overwrite its blocks before freeing them (best effort).
            let _ = wipe_whole_file(&old, &self.shared.counters.fsyncs);
        }
        if let Some(e) = dir_err {
            // The rename may not survive a crash: which file the path names is unknown, so
            // stop writing until the store is reopened.
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Also runs if the writer panics: waiters and later submitters must never hang.
        drop(self.file.take());
        let rest = {
            let mut q = lock(&self.shared.queue);
            q.dead = true;
            q.closing = true;
            std::mem::take(&mut q.ops)
        };
        self.shared.closing.store(true, Ordering::SeqCst);
        for op in rest {
            op.fail(Error::closed());
        }
        *lock(&self.shared.closed) = true;
        self.shared.closed_cv.notify_all();
    }
}
