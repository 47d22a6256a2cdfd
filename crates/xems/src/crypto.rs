//! Key hierarchy and AEAD helpers (all primitives from `ring`).
//!
//! ```text
//! secret ──(HKDF, or PBKDF2 then HKDF for passphrases)── + hardware id ──> wrap key ─┐
//! recovery key ──(HKDF)──────────────────────────────────────────> recovery wrap key ┤ AES-256-GCM
//!                                                                                    v
//!                        data key ("master" in the code; random, stored only wrapped)
//!                                     ├─ HKDF "records"+generation ─> record key (AES-256-GCM)
//!                                     └─ HKDF "header" ─────────────> header MAC key (HMAC-SHA256)
//! ```
//!
//! Every derived byte buffer we own is `Zeroizing` (wiped on drop). `ring` does not wipe its
//! expanded AES key schedules; that limit is documented in `docs/xem-format.md`.

use std::num::NonZeroU32;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac, pbkdf2};
use zeroize::Zeroizing;

use crate::Error;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const TAG_LEN: usize = 16;
/// nonce + 32-byte ciphertext + tag.
pub(crate) const WRAP_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// Fills `buf` from the OS CSPRNG.
pub(crate) fn random(buf: &mut [u8]) -> Result<(), Error> {
    SystemRandom::new().fill(buf).map_err(|_| {
        Error::io(
            "random",
            std::io::Error::other("system random source failed"),
        )
    })
}

pub(crate) fn random_key() -> Result<KeyBytes, Error> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    random(&mut k[..])?;
    Ok(k)
}

struct OutLen(usize);
impl hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (extract with `salt`, expand with the concatenation of `info`) to 32 bytes.
pub(crate) fn hkdf(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> KeyBytes {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    // expand/fill only fail when the output is longer than 255 hash lengths; 32 bytes never is.
    if let Ok(okm) = prk.expand(info, OutLen(KEY_LEN)) {
        let _ = okm.fill(&mut out[..]);
    }
    out
}

/// PBKDF2-HMAC-SHA256: deliberately slow, for human-chosen passphrases only.
pub(crate) fn pbkdf2(secret: &[u8], salt: &[u8], iterations: NonZeroU32) -> KeyBytes {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        secret,
        &mut out[..],
    );
    out
}

/// Wraps the master key: `nonce | AES-256-GCM(master) | tag`, authenticated with `ad`.
pub(crate) fn wrap(
    master: &KeyBytes,
    wrap_key: &KeyBytes,
    ad: &[u8],
) -> Result<[u8; WRAP_LEN], Error> {
    let sealed = AeadKey::new(wrap_key).seal(ad, &master[..])?;
    let mut out = [0u8; WRAP_LEN];
    out.copy_from_slice(&sealed);
    Ok(out)
}

/// Opens a wrapped master key; `None` means wrong key or tampered header (indistinguishable).
pub(crate) fn unwrap(wrapped: &[u8; WRAP_LEN], wrap_key: &KeyBytes, ad: &[u8]) -> Option<KeyBytes> {
    let pt = AeadKey::new(wrap_key).open(ad, wrapped)?;
    if pt.len() != KEY_LEN {
        return None;
    }
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    k.copy_from_slice(&pt);
    Some(k)
}

/// HMAC-SHA256 key (header MAC, in-memory index tags).
pub(crate) fn hmac_key(key: &KeyBytes) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &key[..])
}

/// AES-256-GCM with a fresh random 96-bit nonce per seal.
///
/// Random nonces are safe here: a store writes far fewer than the 2^32 messages per key after
/// which random 96-bit nonces become a collision risk, and compaction moves to a new key.
pub(crate) struct AeadKey(LessSafeKey);

impl AeadKey {
    pub(crate) fn new(key: &KeyBytes) -> AeadKey {
        // AES-256 accepts every 32-byte key, so UnboundKey::new cannot fail here.
        match UnboundKey::new(&AES_256_GCM, &key[..]) {
            Ok(k) => AeadKey(LessSafeKey::new(k)),
            Err(_) => unreachable!("AES-256-GCM rejects a 32-byte key"),
        }
    }

    /// Returns `nonce | ciphertext | tag`.
    pub(crate) fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        // Exact capacity: the buffer never reallocates, so no stray plaintext copy is left behind.
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(ad),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| Error::invalid("record too large to encrypt"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens `nonce | ciphertext | tag`; `None` if it does not authenticate.
    pub(crate) fn open(&self, ad: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if body.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&body[..NONCE_LEN]).ok()?;
        let mut buf = Zeroizing::new(body[NONCE_LEN..].to_vec());
        let n = self
            .0
            .open_in_place(nonce, Aad::from(ad), &mut buf[..])
            .ok()?
            .len();
        buf.truncate(n);
        Some(buf)
    }
}

/// The 256-bit recovery key: returned once at creation, lets [`crate::Store::rebind`] move the
/// store to new hardware or a new secret. Not `Display` so it is not logged by accident.
pub struct RecoveryKey(pub(crate) KeyBytes);

impl RecoveryKey {
    pub(crate) fn generate() -> Result<RecoveryKey, Error> {
        Ok(RecoveryKey(random_key()?))
    }

    /// Parses the text form from [`RecoveryKey::reveal`] (hex; dashes and spaces are ignored).
    pub fn parse(text: &str) -> Result<RecoveryKey, Error> {
        let digits: Zeroizing<Vec<u8>> = Zeroizing::new(
            text.bytes()
                .filter(|b| !matches!(b, b'-' | b' ' | b'\n' | b'\r' | b'\t'))
                .collect(),
        );
        if digits.len() != KEY_LEN * 2 {
            return Err(Error::invalid("a recovery key is 64 hex digits"));
        }
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        for (i, pair) in digits.chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(|| Error::invalid("recovery key is not hex"))?;
            let lo = hex_val(pair[1]).ok_or_else(|| Error::invalid("recovery key is not hex"))?;
            k[i] = (hi << 4) | lo;
        }
        Ok(RecoveryKey(k))
    }

    /// The text form to hand to the operator once: 8 dash-separated groups of 8 hex digits.
    pub fn reveal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(KEY_LEN * 2 + 7));
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                s.push('-');
            }
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// URL-safe base64 without padding (session tokens go into cookies and headers).
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            s.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_ad_binding() {
        let k = AeadKey::new(&random_key().unwrap_or_else(|e| panic!("{e}")));
        let sealed = k.seal(b"ad-1", b"hello").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sealed.len(), 12 + 5 + 16);
        assert_eq!(
            k.open(b"ad-1", &sealed).as_deref().map(|v| v.as_slice()),
            Some(&b"hello"[..])
        );
        assert!(
            k.open(b"ad-2", &sealed).is_none(),
            "associated data must be bound"
        );
        let again = k.seal(b"ad-1", b"hello").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(sealed[..12], again[..12], "nonces must be fresh");
    }

    #[test]
    fn wrap_unwrap_rejects_other_key() {
        let master = random_key().unwrap_or_else(|e| panic!("{e}"));
        let k1 = hkdf(b"salt", b"secret-1", &[b"info"]);
        let k2 = hkdf(b"salt", b"secret-2", &[b"info"]);
        let w = wrap(&master, &k1, b"hdr").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unwrap(&w, &k1, b"hdr").map(|k| *k), Some(*master));
        assert!(unwrap(&w, &k2, b"hdr").is_none());
        assert!(unwrap(&w, &k1, b"other header").is_none());
    }

    #[test]
    fn recovery_key_text_round_trip() {
        let rk = RecoveryKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let text = rk.reveal();
        assert_eq!(text.len(), 64 + 7);
        let back = RecoveryKey::parse(&text.to_uppercase()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(*back.0, *rk.0);
        assert!(RecoveryKey::parse("abc").is_err());
        assert_eq!(format!("{rk:?}"), "RecoveryKey(<redacted>)");
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0u8; 32]).len(), 43);
    }
}
