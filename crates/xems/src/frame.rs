//! Frames (`len | type | reserved | nonce | ciphertext | tag`), the record key of one file
//! generation that seals them, and the record plaintexts inside (value, alias, commit).

use zeroize::Zeroizing;

use crate::crypto::{self, AeadKey, KeyBytes, TAG_LEN};
use crate::Error;

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

/// Little-endian readers; callers have checked the bounds.
pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
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
        frame.push(TYPE_RECORD);
        frame.extend_from_slice(&offset_hint(offset));
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

    /// Where the authentic record frame found at `pos` was written, if that was elsewhere
    /// (located through its offset hint, then proven by authenticating it there).
    pub(crate) fn moved_from(&self, file: &[u8], pos: u64) -> Option<u64> {
        const SPAN: u64 = 1 << 24;
        let (len, typ, hint) = raw_frame_header(file, pos)?;
        if typ != TYPE_RECORD || hint == offset_hint(pos) {
            return None;
        }
        let frame = &file[pos as usize..pos as usize + len as usize];
        let low = u64::from(u32::from_le_bytes([hint[0], hint[1], hint[2], 0]));
        let near = (pos & !(SPAN - 1)) | low;
        [Some(near), near.checked_sub(SPAN), near.checked_add(SPAN)]
            .into_iter()
            .flatten()
            .find(|&from| self.open_frame(from, frame).is_some())
    }

    pub(crate) fn open_frame(&self, offset: u64, frame: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
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

/// Low 24 bits of a frame's own offset, kept in its header (bytes 5..8). Only a locator, not a
/// security check (the offset is authenticated as associated data): it lets the opener tell an
/// authentic frame that was moved, because bytes were inserted or removed before it, from the
/// garbage of a torn write.
pub(crate) fn offset_hint(offset: u64) -> [u8; 3] {
    let b = offset.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Length, type and offset hint of a structurally valid frame header at `pos` whose frame
/// fits in the file; the hint is not checked against `pos`.
fn raw_frame_header(file: &[u8], pos: u64) -> Option<(u32, u8, [u8; 3])> {
    let p = usize::try_from(pos).ok()?;
    let h = file.get(p..p.checked_add(FRAME_HEADER)?)?;
    let len = le32(h, 0);
    let typ = h[4];
    if (len as usize) < MIN_FRAME || len as usize > MAX_FRAME {
        return None;
    }
    if typ != TYPE_RECORD && typ != TYPE_WIPED {
        return None;
    }
    if p.checked_add(len as usize)? > file.len() {
        return None;
    }
    Some((len, typ, [h[5], h[6], h[7]]))
}

/// Parses a frame header at `pos`: `(len, type)` if it is structurally a frame that fits and
/// belongs at `pos` (its hint names `pos`). One encoding per frame: a changed hint is damage,
/// like any other changed byte.
pub(crate) fn frame_header(file: &[u8], pos: u64) -> Option<(u32, u8)> {
    let (len, typ, hint) = raw_frame_header(file, pos)?;
    (hint == offset_hint(pos)).then_some((len, typ))
}

/// The bytes written at `offset + 4` by the final wipe pass: type `W`, the offset hint, zero
/// body. The length field and the hint stay, so the frame chain remains walkable and a wiped
/// frame differs from its record in its type byte and body only.
pub(crate) fn wiped_tail(offset: u64, frame_len: u32) -> Vec<u8> {
    let mut v = vec![0u8; frame_len as usize - 4];
    v[0] = TYPE_WIPED;
    v[1..4].copy_from_slice(&offset_hint(offset));
    v
}

pub(crate) fn is_canonical_wiped(frame: &[u8], offset: u64) -> bool {
    frame[4] == TYPE_WIPED
        && frame[5..8] == offset_hint(offset)
        && frame[FRAME_HEADER..].iter().all(|&b| b == 0)
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::fuzzing::{budget, Rng};

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

    /// Re-encodes what `decode` accepted: it must give back the input byte for byte (one
    /// encoding per record, nothing ignored).
    fn reencode(d: &Decoded<'_>) -> Vec<u8> {
        match d {
            Decoded::Entry {
                alias,
                expires_at,
                sandbox,
                key,
                rest,
            } => encode_entry(*alias, *expires_at, sandbox, key, rest).to_vec(),
            Decoded::Commit { batch_start, dead } => encode_commit(*batch_start, dead),
        }
    }

    fn random_text(rng: &mut Rng, max: u64) -> String {
        const PIECES: [&str; 6] = ["a", "Z", "-", "\u{e9}", "\u{4e2d}", "\u{1f600}"];
        let mut s = String::new();
        for _ in 0..rng.below(max) {
            s.push_str(PIECES[rng.below(PIECES.len() as u64) as usize]);
        }
        s
    }

    fn random_record(rng: &mut Rng) -> Vec<u8> {
        match rng.below(3) {
            0 => {
                let mut sandbox = random_text(rng, 60);
                sandbox.truncate(255);
                while !sandbox.is_char_boundary(sandbox.len()) {
                    sandbox.pop();
                }
                let key = random_text(rng, 200);
                let alias = rng.below(2) == 0;
                let rest = if alias {
                    random_text(rng, 50).into_bytes()
                } else {
                    let n = rng.below(300) as usize;
                    rng.bytes(n)
                };
                encode_entry(alias, rng.next(), &sandbox, &key, &rest).to_vec()
            }
            1 => {
                let dead: Vec<(u64, u32)> = (0..rng.below(20))
                    .map(|_| (rng.next(), rng.next() as u32))
                    .collect();
                encode_commit(rng.next(), &dead)
            }
            _ => {
                let n = rng.below(120) as usize;
                rng.bytes(n)
            }
        }
    }

    /// The record decoder on random, structured and mutated plaintexts: never a panic, and
    /// whatever it accepts re-encodes to exactly its input.
    #[test]
    fn fuzz_record_decoder() {
        let (seed, until) = budget("fuzz_record_decoder");
        let mut rng = Rng::new(seed);
        let mut cases = 0u64;
        while Instant::now() < until {
            for _ in 0..256 {
                let mut pt = random_record(&mut rng);
                if rng.below(2) == 0 && !pt.is_empty() {
                    match rng.below(3) {
                        0 => pt.truncate(rng.below(pt.len() as u64) as usize),
                        1 => {
                            let i = rng.below(pt.len() as u64) as usize;
                            pt[i] ^= 1 << rng.below(8);
                        }
                        _ => {
                            let n = rng.below(16) as usize;
                            pt.extend(rng.bytes(n));
                        }
                    }
                }
                if let Some(d) = decode(&pt) {
                    assert_eq!(reencode(&d), pt, "seed {seed}, case {cases}");
                }
                cases += 1;
            }
        }
        assert!(cases > 0);
    }

    /// Sealed frames: any changed byte after the 8-byte frame header makes the frame fail to
    /// open; the right offset and generation give back the exact plaintext.
    #[test]
    fn fuzz_sealed_frames() {
        let (seed, until) = budget("fuzz_sealed_frames");
        let mut rng = Rng::new(seed);
        let master = Zeroizing::new(<[u8; 32]>::try_from(rng.bytes(32)).unwrap_or([9; 32]));
        let k = GenKeys::new(&master, [3; 16], rng.below(5));
        while Instant::now() < until {
            let pt = random_record(&mut rng);
            let offset = 256 + rng.below(1 << 20);
            let mut f = k.seal_frame(offset, &pt).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                k.open_frame(offset, &f).as_deref().map(|v| v.as_slice()),
                Some(&pt[..])
            );
            let i = FRAME_HEADER + rng.below((f.len() - FRAME_HEADER) as u64) as usize;
            f[i] ^= 1 << rng.below(8);
            assert!(
                k.open_frame(offset, &f).is_none(),
                "seed {seed}: flipped byte {i} opened"
            );
        }
    }
}
