//! How a store is opened: the secret and how it is derived, hardware binding, recovery key,
//! creation, and when the writer compacts on its own.

use zeroize::Zeroizing;

use crate::crypto::{self, KeyBytes};
use crate::header::{self, Header, FLAG_HARDWARE_BOUND, FLAG_PASSPHRASE, FLAG_RECOVERY};
use crate::{Error, HardwareId};

/// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// Below this a passphrase-derived key is too cheap to guess.
pub const MIN_PBKDF2_ITERATIONS: u32 = 100_000;
/// A key-mode secret must carry at least 256 bits.
pub const MIN_KEY_SECRET_LEN: usize = 32;
const MIN_PASSPHRASE_LEN: usize = 8;

/// When the writer compacts by itself: after a write, once dead bytes (wiped records and
/// commit metadata, [`crate::Stats::dead_bytes`]) make up more than `dead_percent` % of the
/// file and the file is at least `min_file_size` bytes. The size floor keeps small stores from
/// being rewritten over and over for a few hundred bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoCompaction {
    pub min_file_size: u64,
    pub dead_percent: u8,
}

impl AutoCompaction {
    /// The default: half the file is dead, and the file is at least 1 MiB.
    pub const DEFAULT: AutoCompaction = AutoCompaction {
        min_file_size: 1 << 20,
        dead_percent: 50,
    };

    /// Whether a file of `file_size` bytes with `dead_bytes` of them dead is due.
    pub(crate) fn due(&self, file_size: u64, dead_bytes: u64) -> bool {
        file_size >= self.min_file_size
            && u128::from(dead_bytes) * 100 > u128::from(file_size) * u128::from(self.dead_percent)
    }
}

impl Default for AutoCompaction {
    fn default() -> Self {
        AutoCompaction::DEFAULT
    }
}

/// How to open (or create) a store.
///
/// The KDF rule: a secret given with [`Options::with_key`] must be high-entropy key material
/// (>= 32 bytes, e.g. `openssl rand -hex 32`) and goes through HKDF-SHA256; one given with
/// [`Options::with_passphrase`] is human-chosen and goes through PBKDF2-HMAC-SHA256 first. The
/// choice is recorded in the header; opening with the other kind is refused (InvalidArgument).
#[derive(Clone)]
pub struct Options {
    pub(crate) secret: Zeroizing<Vec<u8>>,
    pub(crate) passphrase_iterations: Option<u32>,
    hardware_bound: bool,
    hardware_id: Option<HardwareId>,
    pub(crate) recovery_key: bool,
    pub(crate) create: bool,
    pub(crate) auto_compaction: Option<AutoCompaction>,
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
            auto_compaction: Some(AutoCompaction::DEFAULT),
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

    /// When the writer compacts by itself; `None` only compacts on [`crate::Store::compact`].
    /// Default [`AutoCompaction::DEFAULT`]. The first open of a store in a process decides;
    /// later opens share that store as it is.
    pub fn auto_compaction(mut self, policy: Option<AutoCompaction>) -> Options {
        self.auto_compaction = policy;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Some(p) = self.auto_compaction {
            if !(1..=99).contains(&p.dead_percent) {
                return Err(Error::invalid(
                    "auto compaction needs a dead share between 1 and 99 percent",
                ));
            }
        }
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

    pub(crate) fn hardware(&self) -> Result<Option<HardwareId>, Error> {
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

    /// The header flags of a store created (or re-bound) with these options.
    pub(crate) fn flags(&self, hardware_bound: bool, recovery: bool) -> u16 {
        let mut flags = 0;
        if hardware_bound {
            flags |= FLAG_HARDWARE_BOUND;
        }
        if self.passphrase_iterations.is_some() {
            flags |= FLAG_PASSPHRASE;
        }
        if recovery {
            flags |= FLAG_RECOVERY;
        }
        flags
    }

    /// Derives the wrap key and opens the header's wrapped master key with it.
    pub(crate) fn unwrap_master(&self, header: &Header) -> Result<KeyBytes, Error> {
        self.check_header(header)?;
        let hw = self.hardware()?;
        let wk = header::wrap_key(
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
            .field("auto_compaction", &self.auto_compaction)
            .finish()
    }
}
