//! The `.xem` byte layout (see `docs/xem-format.md` for the prose version) and the open-time
//! recovery walk that decides, for every byte of the file, whether it is a live record, a wiped
//! record, commit metadata, a droppable torn tail, or damage.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use ring::{digest, hmac};
use zeroize::Zeroizing;

use crate::crypto::{self, AeadKey, KeyBytes, TAG_LEN, WRAP_LEN};
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

pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const FRAME_HEADER: usize = 8;
/// Smallest frame: header, nonce, a one-byte record kind, tag.
pub(crate) const MIN_FRAME: usize = FRAME_HEADER + NONCE_LEN + 1 + TAG_LEN;
/// Bounds a frame so a damaged length field cannot make us allocate or skip gigabytes.
pub(crate) const MAX_FRAME: usize = 64 << 20;
pub(crate) const TYPE_RECORD: u8 = b'R';
pub(crate) const TYPE_WIPED: u8 = b'W';

const KIND_VALUE: u8 = 1;
const KIND_ALIAS: u8 = 2;
const KIND_COMMIT: u8 = 3;

pub(crate) const MAX_SANDBOX: usize = 255;
pub(crate) const MAX_KEY: usize = 1024;
pub(crate) const MAX_VALUE: usize = 16 << 20;

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

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
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

/// Record encryption for one file generation. A new generation (after compaction) gets a new
/// key, so a record from an older generation of the file cannot authenticate in a newer one.
pub(crate) struct GenKeys {
    pub generation: u64,
    pub file_id: [u8; 16],
    key: AeadKey,
}

impl GenKeys {
    pub(crate) fn new(master: &KeyBytes, file_id: [u8; 16], generation: u64) -> GenKeys {
        let k = crypto::hkdf(
            &file_id,
            &master[..],
            &[b"xems/v1/records/", &generation.to_le_bytes()],
        );
        GenKeys {
            generation,
            file_id,
            key: AeadKey::new(&k),
        }
    }

    /// Associated data of a record: file id, generation, offset and frame length. A record
    /// therefore authenticates only in this file, this generation, at this exact place.
    fn ad(&self, offset: u64, frame_len: u32) -> [u8; 47] {
        let mut ad = [0u8; 47];
        ad[..11].copy_from_slice(b"xems/v1/rec");
        ad[11..27].copy_from_slice(&self.file_id);
        ad[27..35].copy_from_slice(&self.generation.to_le_bytes());
        ad[35..43].copy_from_slice(&offset.to_le_bytes());
        ad[43..47].copy_from_slice(&frame_len.to_le_bytes());
        ad
    }

    /// Builds a whole frame (`len | 'R' | 0 0 0 | nonce | ciphertext | tag`) for `offset`.
    pub(crate) fn seal_frame(&self, offset: u64, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let len = frame_len(plaintext.len())?;
        let body = self.key.seal(&self.ad(offset, len), plaintext)?;
        let mut frame = Vec::with_capacity(len as usize);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&[TYPE_RECORD, 0, 0, 0]);
        frame.extend_from_slice(&body);
        Ok(frame)
    }

    /// Opens a frame body (everything after the 8-byte frame header).
    pub(crate) fn open_body(
        &self,
        offset: u64,
        frame_len: u32,
        body: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        self.key.open(&self.ad(offset, frame_len), body)
    }

    fn open_frame(&self, offset: u64, frame: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let len = u32::try_from(frame.len()).ok()?;
        self.open_body(offset, len, &frame[FRAME_HEADER..])
    }
}

pub(crate) fn frame_len(plaintext_len: usize) -> Result<u32, Error> {
    let len = FRAME_HEADER + NONCE_LEN + plaintext_len + TAG_LEN;
    if len > MAX_FRAME {
        return Err(Error::invalid(format!(
            "record of {len} bytes exceeds the {MAX_FRAME}-byte frame limit"
        )));
    }
    Ok(len as u32)
}

/// Parses a frame header at `pos`: `(len, type)` if it is structurally a frame that fits.
fn frame_header(file: &[u8], pos: u64) -> Option<(u32, u8)> {
    let p = usize::try_from(pos).ok()?;
    let h = file.get(p..p.checked_add(FRAME_HEADER)?)?;
    let len = le32(h, 0);
    let typ = h[4];
    if (len as usize) < MIN_FRAME || len as usize > MAX_FRAME || h[5..8] != [0, 0, 0] {
        return None;
    }
    if typ != TYPE_RECORD && typ != TYPE_WIPED {
        return None;
    }
    if p + len as usize > file.len() {
        return None;
    }
    Some((len, typ))
}

/// The bytes written at `offset + 4` by the final wipe pass: type `W`, reserved, zero body.
/// The length field stays, so the frame chain remains walkable.
pub(crate) fn wiped_tail(frame_len: u32) -> Vec<u8> {
    let mut v = vec![0u8; frame_len as usize - 4];
    v[0] = TYPE_WIPED;
    v
}

fn is_canonical_wiped(frame: &[u8]) -> bool {
    frame[4] == TYPE_WIPED && frame[5..].iter().all(|&b| b == 0)
}

// ---------------------------------------------------------------------------------------------
// Record plaintexts.

/// Value: `1 | expires_at u64 | sandbox_len u8 | sandbox | key_len u16 | key | value`.
pub(crate) fn encode_entry(
    alias: bool,
    expires_at: u64,
    sandbox: &str,
    key: &str,
    rest: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(
        1 + 8 + 1 + sandbox.len() + 2 + key.len() + rest.len(),
    ));
    v.push(if alias { KIND_ALIAS } else { KIND_VALUE });
    v.extend_from_slice(&expires_at.to_le_bytes());
    v.push(sandbox.len() as u8);
    v.extend_from_slice(sandbox.as_bytes());
    v.extend_from_slice(&(key.len() as u16).to_le_bytes());
    v.extend_from_slice(key.as_bytes());
    v.extend_from_slice(rest);
    v
}

/// Commit: `3 | batch_start u64 | count u32 | count × (offset u64, len u32)`.
pub(crate) fn encode_commit(batch_start: u64, dead: &[(u64, u32)]) -> Vec<u8> {
    let mut v = Vec::with_capacity(13 + dead.len() * 12);
    v.push(KIND_COMMIT);
    v.extend_from_slice(&batch_start.to_le_bytes());
    v.extend_from_slice(&(dead.len() as u32).to_le_bytes());
    for (o, l) in dead {
        v.extend_from_slice(&o.to_le_bytes());
        v.extend_from_slice(&l.to_le_bytes());
    }
    v
}

pub(crate) enum Decoded<'a> {
    Entry {
        alias: bool,
        expires_at: u64,
        sandbox: &'a str,
        key: &'a str,
        rest: &'a [u8],
    },
    Commit {
        batch_start: u64,
        dead: Vec<(u64, u32)>,
    },
}

pub(crate) fn decode(pt: &[u8]) -> Option<Decoded<'_>> {
    match *pt.first()? {
        kind @ (KIND_VALUE | KIND_ALIAS) => {
            let expires_at = le64(pt.get(..9)?, 1);
            let sb_len = usize::from(*pt.get(9)?);
            let sandbox = std::str::from_utf8(pt.get(10..10 + sb_len)?).ok()?;
            let k_at = 10 + sb_len;
            let k_len = usize::from(u16::from_le_bytes([*pt.get(k_at)?, *pt.get(k_at + 1)?]));
            let key = std::str::from_utf8(pt.get(k_at + 2..k_at + 2 + k_len)?).ok()?;
            let rest = &pt[k_at + 2 + k_len..];
            let alias = kind == KIND_ALIAS;
            if alias && std::str::from_utf8(rest).is_err() {
                return None;
            }
            Some(Decoded::Entry {
                alias,
                expires_at,
                sandbox,
                key,
                rest,
            })
        }
        KIND_COMMIT => {
            let batch_start = le64(pt.get(..9)?, 1);
            let n = le32(pt.get(..13)?, 9) as usize;
            let list = pt.get(13..)?;
            if list.len() != n.checked_mul(12)? {
                return None;
            }
            let dead = list
                .chunks_exact(12)
                .map(|c| (le64(c, 0), le32(c, 8)))
                .collect();
            Some(Decoded::Commit { batch_start, dead })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The open-time walk.

pub(crate) struct LoadedRecord {
    pub offset: u64,
    pub len: u32,
    pub alias: bool,
    pub expires_at: u64,
    pub sandbox: String,
    pub key: Zeroizing<String>,
    /// Frame body (nonce, ciphertext, tag): kept encrypted in memory.
    pub body: Arc<[u8]>,
}

pub(crate) struct Loaded {
    /// Authenticated, committed, not-dead records in file order (later ones win).
    pub records: Vec<LoadedRecord>,
    /// End of the last complete batch; everything after it is a torn tail.
    pub committed_end: u64,
    /// `(offset, bytes)` of a dropped torn or unauthenticated tail.
    pub dropped_tail: Option<(u64, u64)>,
    /// Dead frames whose wipe did not finish (or was undone): to be wiped again.
    pub unclean_dead: Vec<(u64, u32)>,
}

/// One committed batch as found by the walk.
struct WalkedBatch {
    start: u64,
    records: Vec<LoadedRecord>,
    /// Frames of the batch that do not authenticate.
    unauth: Vec<(u64, u32)>,
    /// Frames its commit declares dead.
    dead: Vec<(u64, u32)>,
}

/// Walks every frame of `file` (already header-checked, key verified).
///
/// Rules (the "why" is in docs/xem-format.md, "Recovery"):
/// * Frames come in batches ending with an authenticated commit record naming the batch start;
///   commits chain, so frames cannot be removed, inserted or reordered unnoticed.
/// * A frame that does not authenticate is fine only if some commit declares exactly its
///   `(offset, len)` dead (it was wiped, or its wipe was interrupted).
/// * Only the last batch can be torn (the next batch is written after this one's fsync), so:
///   bytes after the last good commit are a torn tail (dropped, reported) unless an
///   authenticated commit of a *later* batch lies beyond the damage; and a last batch that
///   ends the file with its commit intact but a damaged record is torn too (pages can reach
///   the disk out of order). Damage anywhere else is an Integrity error.
pub(crate) fn load(file: &[u8], keys: &GenKeys) -> Result<Loaded, Error> {
    let eof = file.len() as u64;
    let mut pos = HEADER_LEN as u64;
    let mut cur = WalkedBatch {
        start: pos,
        records: Vec::new(),
        unauth: Vec::new(),
        dead: Vec::new(),
    };
    let mut batches: Vec<WalkedBatch> = Vec::new();
    let mut fail_at = None;

    while pos < eof {
        let Some((len, typ)) = frame_header(file, pos) else {
            fail_at = Some(pos);
            break;
        };
        let frame = &file[pos as usize..(pos + u64::from(len)) as usize];
        let opened = if typ == TYPE_RECORD {
            keys.open_frame(pos, frame)
        } else {
            None
        };
        match opened {
            None => cur.unauth.push((pos, len)),
            Some(pt) => match decode(&pt) {
                Some(Decoded::Commit { batch_start, dead }) => {
                    if batch_start != cur.start {
                        let at = cur.unauth.first().map_or(pos, |f| f.0);
                        return Err(Error::integrity(
                            "a commit record does not close the batch before it (frames missing or damaged)",
                            Some(at),
                        ));
                    }
                    cur.dead = dead;
                    let next = pos + u64::from(len);
                    batches.push(std::mem::replace(
                        &mut cur,
                        WalkedBatch {
                            start: next,
                            records: Vec::new(),
                            unauth: Vec::new(),
                            dead: Vec::new(),
                        },
                    ));
                }
                Some(Decoded::Entry {
                    alias,
                    expires_at,
                    sandbox,
                    key,
                    ..
                }) => cur.records.push(LoadedRecord {
                    offset: pos,
                    len,
                    alias,
                    expires_at,
                    sandbox: sandbox.to_owned(),
                    key: Zeroizing::new(key.to_owned()),
                    body: Arc::from(&frame[FRAME_HEADER..]),
                }),
                None => {
                    return Err(Error::integrity(
                        "an authenticated record has an unknown layout",
                        Some(pos),
                    ))
                }
            },
        }
        pos += u64::from(len);
    }

    let mut committed_end = cur.start;
    if committed_end < eof {
        let first_bad = cur
            .unauth
            .first()
            .map(|f| f.0)
            .or(fail_at)
            .unwrap_or(committed_end);
        check_tail(file, committed_end, keys, first_bad)?;
    } else if let Some(last) = batches.last() {
        // The file ends exactly at a commit: that last batch may still be torn.
        let declared: HashMap<u64, u32> = batches
            .iter()
            .flat_map(|b| b.dead.iter().copied())
            .collect();
        if last
            .unauth
            .iter()
            .any(|&(o, l)| declared.get(&o) != Some(&l))
        {
            committed_end = last.start;
            batches.pop();
        }
    }
    let dropped_tail = (committed_end < eof).then(|| (committed_end, eof - committed_end));

    let dead: HashMap<u64, u32> = batches
        .iter()
        .flat_map(|b| b.dead.iter().copied())
        .collect();
    let mut unclean_dead = Vec::new();
    let mut live = Vec::new();
    for b in batches {
        for (o, l) in b.unauth {
            if dead.get(&o) != Some(&l) {
                return Err(Error::integrity(
                    "a record fails authentication and no commit declares it wiped",
                    Some(o),
                ));
            }
            if !is_canonical_wiped(&file[o as usize..(o + u64::from(l)) as usize]) {
                unclean_dead.push((o, l));
            }
        }
        for r in b.records {
            match dead.get(&r.offset) {
                None => live.push(r),
                Some(&l) if l == r.len => unclean_dead.push((r.offset, r.len)),
                Some(_) => {
                    return Err(Error::integrity(
                        "a commit declares a frame dead with the wrong length",
                        Some(r.offset),
                    ))
                }
            }
        }
    }
    Ok(Loaded {
        records: live,
        committed_end,
        dropped_tail,
        unclean_dead,
    })
}

/// Decides whether the bytes after the last good commit can be a torn last batch. They are
/// searched byte by byte (only on this failure path) for authenticated frames, because a damaged
/// length field can hide frames from the walk, even swallow them up to the end of the file. A
/// commit of a later batch, or anything after the commit of the damaged batch itself, proves
/// the damage is mid-file.
fn check_tail(
    file: &[u8],
    committed_end: u64,
    keys: &GenKeys,
    first_bad: u64,
) -> Result<(), Error> {
    let eof = file.len() as u64;
    let mut commit_end: Option<u64> = None;
    let mut o = committed_end;
    while o + MIN_FRAME as u64 <= eof {
        if let Some((len, TYPE_RECORD)) = frame_header(file, o) {
            let frame = &file[o as usize..(o + u64::from(len)) as usize];
            if let Some(pt) = keys.open_frame(o, frame) {
                let mid_file = || {
                    Error::integrity(
                        "damaged region is followed by intact committed data (not a torn tail)",
                        Some(first_bad),
                    )
                };
                if commit_end.is_some_and(|end| o >= end) {
                    return Err(mid_file());
                }
                if let Some(Decoded::Commit { batch_start, .. }) = decode(&pt) {
                    if batch_start != committed_end {
                        return Err(mid_file());
                    }
                    commit_end = Some(o + u64::from(len));
                }
            }
        }
        o += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> GenKeys {
        GenKeys::new(&Zeroizing::new([7u8; 32]), [1u8; 16], 3)
    }

    #[test]
    fn entry_and_commit_round_trip() {
        let pt = encode_entry(false, 99, "sessions", "tok", b"value");
        match decode(&pt) {
            Some(Decoded::Entry {
                alias: false,
                expires_at: 99,
                sandbox: "sessions",
                key: "tok",
                rest,
            }) => {
                assert_eq!(rest, b"value")
            }
            _ => panic!("entry did not decode"),
        }
        let c = encode_commit(256, &[(300, 40), (400, 50)]);
        match decode(&c) {
            Some(Decoded::Commit {
                batch_start: 256,
                dead,
            }) => assert_eq!(dead, vec![(300, 40), (400, 50)]),
            _ => panic!("commit did not decode"),
        }
        assert!(
            decode(&c[..c.len() - 1]).is_none(),
            "truncated commit must not decode"
        );
    }

    #[test]
    fn frame_binds_offset_and_generation() {
        let k = keys();
        let f = k
            .seal_frame(256, b"\x03payload")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            frame_header(&f_at(256, &f), 256).map(|h| h.0 as usize),
            Some(f.len())
        );
        assert!(k.open_frame(256, &f).is_some());
        assert!(
            k.open_frame(257, &f).is_none(),
            "moved record must not open"
        );
        let other_gen = GenKeys::new(&Zeroizing::new([7u8; 32]), [1u8; 16], 4);
        assert!(
            other_gen.open_frame(256, &f).is_none(),
            "record from another generation must not open"
        );
    }

    fn f_at(offset: usize, frame: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; offset];
        v.extend_from_slice(frame);
        v
    }
}
