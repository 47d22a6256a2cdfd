//! The 256-byte file header (see `docs/xem-format.md`, section 2) and the key schedule of the
//! wraps it holds: the secret (+ hardware id) and the recovery key each wrap the data key.

use std::num::NonZeroU32;

use ring::{digest, hmac};
use zeroize::Zeroizing;

use crate::crypto::{self, KeyBytes, WRAP_LEN};
use crate::frame::{le16, le32, le64};
use crate::{Error, HardwareId};

pub(crate) const MAGIC: &[u8; 4] = b"XEMS";
pub(crate) const VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = 256;

pub(crate) const FLAG_HARDWARE_BOUND: u16 = 1;
pub(crate) const FLAG_PASSPHRASE: u16 = 2;
pub(crate) const FLAG_RECOVERY: u16 = 4;
const KNOWN_FLAGS: u16 = FLAG_HARDWARE_BOUND | FLAG_PASSPHRASE | FLAG_RECOVERY;

// Header field offsets.
const H_VERSION: usize = 4;
const H_FLAGS: usize = 6;
const H_ITER: usize = 8;
const H_FILE_ID: usize = 12;
const H_SALT: usize = 28;
/// Bytes 0..60 (magic..salt) never change for a given wrap: they are the wraps' associated data.
const IDENTITY_LEN: usize = 60;
const H_GEN: usize = 60;
const H_HW_WRAP: usize = 68;
const H_RECOVERY_WRAP: usize = H_HW_WRAP + WRAP_LEN; // 128
const H_RESERVED: usize = H_RECOVERY_WRAP + WRAP_LEN; // 188
const H_MAC: usize = 192;
const H_CHECKSUM: usize = 224;

/// The decoded fixed-size file header.
#[derive(Clone)]
pub(crate) struct Header {
    pub flags: u16,
    pub iterations: u32,
    pub file_id: [u8; 16],
    pub salt: [u8; 32],
    pub generation: u64,
    pub hw_wrap: [u8; WRAP_LEN],
    pub recovery_wrap: [u8; WRAP_LEN],
}

impl Header {
    /// Associated data of both key wraps: magic, version, flags, iterations, file id, salt.
    /// Changing any of them (e.g. clearing the hardware-bound flag) makes the wraps fail.
    pub(crate) fn identity(&self) -> [u8; IDENTITY_LEN] {
        let mut b = [0u8; IDENTITY_LEN];
        b[..4].copy_from_slice(MAGIC);
        b[H_VERSION..H_VERSION + 2].copy_from_slice(&VERSION.to_le_bytes());
        b[H_FLAGS..H_FLAGS + 2].copy_from_slice(&self.flags.to_le_bytes());
        b[H_ITER..H_ITER + 4].copy_from_slice(&self.iterations.to_le_bytes());
        b[H_FILE_ID..H_FILE_ID + 16].copy_from_slice(&self.file_id);
        b[H_SALT..H_SALT + 32].copy_from_slice(&self.salt);
        b
    }

    pub(crate) fn encode(&self, mac_key: &hmac::Key) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..IDENTITY_LEN].copy_from_slice(&self.identity());
        b[H_GEN..H_GEN + 8].copy_from_slice(&self.generation.to_le_bytes());
        b[H_HW_WRAP..H_HW_WRAP + WRAP_LEN].copy_from_slice(&self.hw_wrap);
        b[H_RECOVERY_WRAP..H_RECOVERY_WRAP + WRAP_LEN].copy_from_slice(&self.recovery_wrap);
        let mac = hmac::sign(mac_key, &b[..H_MAC]);
        b[H_MAC..H_CHECKSUM].copy_from_slice(mac.as_ref());
        let sum = digest::digest(&digest::SHA256, &b[..H_CHECKSUM]);
        b[H_CHECKSUM..].copy_from_slice(sum.as_ref());
        b
    }

    /// Structural checks only (no key needed): these run before any key derivation so damage
    /// is reported as damage, not as a wrong secret.
    pub(crate) fn parse(file: &[u8]) -> Result<Header, Error> {
        if file.len() < HEADER_LEN {
            return Err(Error::integrity(
                format!("file is {} bytes, shorter than a XEMS header", file.len()),
                Some(0),
            ));
        }
        if &file[..4] != MAGIC {
            return Err(Error::integrity("not a XEMS file (bad magic)", Some(0)));
        }
        let version = le16(file, H_VERSION);
        if version != VERSION {
            return Err(Error::integrity(
                format!("unsupported XEMS format version {version}"),
                Some(H_VERSION as u64),
            ));
        }
        let sum = digest::digest(&digest::SHA256, &file[..H_CHECKSUM]);
        if sum.as_ref() != &file[H_CHECKSUM..HEADER_LEN] {
            return Err(Error::integrity(
                "header checksum mismatch (header damaged)",
                Some(0),
            ));
        }
        let flags = le16(file, H_FLAGS);
        if flags & !KNOWN_FLAGS != 0 || file[H_RESERVED..H_MAC].iter().any(|&b| b != 0) {
            return Err(Error::integrity(
                "header has unknown flags or non-zero reserved bytes",
                Some(H_FLAGS as u64),
            ));
        }
        let iterations = le32(file, H_ITER);
        if (flags & FLAG_PASSPHRASE != 0) != (iterations != 0) {
            return Err(Error::integrity(
                "header iteration count does not match its KDF flag",
                Some(H_ITER as u64),
            ));
        }
        let mut h = Header {
            flags,
            iterations,
            file_id: [0; 16],
            salt: [0; 32],
            generation: le64(file, H_GEN),
            hw_wrap: [0; WRAP_LEN],
            recovery_wrap: [0; WRAP_LEN],
        };
        h.file_id.copy_from_slice(&file[H_FILE_ID..H_FILE_ID + 16]);
        h.salt.copy_from_slice(&file[H_SALT..H_SALT + 32]);
        h.hw_wrap
            .copy_from_slice(&file[H_HW_WRAP..H_HW_WRAP + WRAP_LEN]);
        h.recovery_wrap
            .copy_from_slice(&file[H_RECOVERY_WRAP..H_RECOVERY_WRAP + WRAP_LEN]);
        Ok(h)
    }

    /// The keyed check: the checksum alone can be recomputed by anyone, the MAC only with the
    /// master key. It authenticates the generation and the recovery wrap.
    pub(crate) fn verify_mac(file: &[u8], mac_key: &hmac::Key) -> Result<(), Error> {
        hmac::verify(mac_key, &file[..H_MAC], &file[H_MAC..H_CHECKSUM]).map_err(|_| {
            Error::integrity(
                "header authentication failed (header tampered with)",
                Some(0),
            )
        })
    }

    pub(crate) fn passphrase_iterations(&self) -> Option<NonZeroU32> {
        if self.flags & FLAG_PASSPHRASE != 0 {
            NonZeroU32::new(self.iterations)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key schedule.

/// The key that wraps the master key for this secret (and hardware).
///
/// Key mode: the secret is already high-entropy, HKDF suffices. Passphrase mode: PBKDF2 first to
/// make guessing expensive. Either way the hardware id joins the HKDF input, and the bound flag
/// joins the info, so a bound and an unbound derivation never agree.
pub(crate) fn wrap_key(
    secret: &[u8],
    passphrase_iterations: Option<NonZeroU32>,
    salt: &[u8; 32],
    file_id: &[u8; 16],
    hardware: Option<&HardwareId>,
) -> KeyBytes {
    let base: Zeroizing<Vec<u8>> = match passphrase_iterations {
        Some(iter) => Zeroizing::new(crypto::pbkdf2(secret, salt, iter).to_vec()),
        None => Zeroizing::new(secret.to_vec()),
    };
    let mut ikm = Zeroizing::new(Vec::with_capacity(base.len() + 40));
    ikm.extend_from_slice(&(base.len() as u64).to_le_bytes());
    ikm.extend_from_slice(&base);
    let bound: &[u8] = match hardware {
        Some(hw) => {
            ikm.extend_from_slice(hw.as_bytes());
            b"bound"
        }
        None => b"unbound",
    };
    crypto::hkdf(salt, &ikm, &[b"xems/v1/wrap/", bound, file_id])
}

pub(crate) fn recovery_wrap_key(
    recovery: &KeyBytes,
    salt: &[u8; 32],
    file_id: &[u8; 16],
) -> KeyBytes {
    crypto::hkdf(salt, &recovery[..], &[b"xems/v1/recovery-wrap/", file_id])
}

pub(crate) fn header_mac_key(master: &KeyBytes, file_id: &[u8; 16]) -> hmac::Key {
    crypto::hmac_key(&crypto::hkdf(file_id, &master[..], &[b"xems/v1/header"]))
}
