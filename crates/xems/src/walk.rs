//! The open-time walk: decides, for every byte after the header, whether it is a live record, a
//! wiped record, commit metadata, a droppable torn tail, or damage (docs/xem-format.md,
//! "Opening and recovery").

use std::collections::HashMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::frame::{
    decode, frame_header, is_canonical_wiped, Decoded, GenKeys, FRAME_HEADER, MIN_FRAME,
    TYPE_RECORD, TYPE_WIPED,
};
use crate::header::HEADER_LEN;
use crate::Error;

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
/// * A file written by compaction (`compacted`: generation > 0) starts with the batch the
///   compaction wrote and fsynced before renaming the file into place: it can never be torn,
///   so damage to it (or its absence) is an Integrity error, never a dropped tail.
pub(crate) fn load(file: &[u8], keys: &GenKeys, compacted: bool) -> Result<Loaded, Error> {
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
        let undeclared: Vec<u64> = last
            .unauth
            .iter()
            .filter(|&&(o, l)| declared.get(&o) != Some(&l))
            .map(|&(o, _)| o)
            .collect();
        if let Some(&first) = undeclared.first() {
            // Torn writes leave garbage: never a record written elsewhere, never a wiped frame
            // (wipes follow the fsync of the commit that declares them).
            if undeclared
                .iter()
                .any(|&o| keys.moved_from(file, o).is_some())
            {
                return Err(moved(first));
            }
            if let Some(&o) = undeclared
                .iter()
                .find(|&&o| matches!(frame_header(file, o), Some((_, TYPE_WIPED))))
            {
                return Err(undeclared_wipe(o));
            }
            committed_end = last.start;
            batches.pop();
        }
    }
    if compacted && committed_end == HEADER_LEN as u64 {
        return Err(Error::integrity(
            "the records written by the last compaction are damaged or missing",
            Some(HEADER_LEN as u64),
        ));
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
            if !is_canonical_wiped(&file[o as usize..(o + u64::from(l)) as usize], o) {
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

fn undeclared_wipe(at: u64) -> Error {
    Error::integrity(
        "a wiped record is no longer declared dead (the commit that did was cut off or damaged)",
        Some(at),
    )
}

fn moved(first_bad: u64) -> Error {
    Error::integrity(
        "an authentic record lies away from where it was written (bytes inserted or removed)",
        Some(first_bad),
    )
}

/// Decides whether the bytes after the last good commit can be a torn last batch. They are
/// searched byte by byte (only on this failure path) for authenticated frames, because a damaged
/// length field can hide frames from the walk, even swallow them up to the end of the file. A
/// commit of a later batch, or anything after the commit of the damaged batch itself, proves
/// the damage is mid-file, and so does an authentic frame away from its place or a wiped frame:
/// a torn write leaves a prefix of the batch and garbage, never records written elsewhere, and
/// nothing in it has been wiped yet.
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
        if keys.moved_from(file, o).is_some() {
            return Err(moved(first_bad));
        }
        if let Some((_, TYPE_WIPED)) = frame_header(file, o) {
            return Err(undeclared_wipe(o));
        }
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
    use std::time::Instant;

    use zeroize::Zeroizing;

    use super::*;
    use crate::frame::{encode_commit, encode_entry, wiped_tail};
    use crate::fuzzing::{budget, Rng};

    /// A file of frames that all authenticate (as someone holding the key could write them)
    /// but say nonsense: commits naming wrong batch starts or random dead ranges, records with
    /// odd names, wiped and garbage frames, cut and flipped at random.
    fn nonsense_file(rng: &mut Rng, keys: &GenKeys) -> Vec<u8> {
        let mut file = vec![0u8; HEADER_LEN];
        let mut batch_start = HEADER_LEN as u64;
        let mut frames: Vec<(u64, u32)> = Vec::new();
        for _ in 0..rng.below(24) {
            let at = file.len() as u64;
            match rng.below(6) {
                0 | 1 => {
                    let key = format!("k{}", rng.below(6));
                    let n = rng.below(64) as usize;
                    let pt =
                        encode_entry(rng.below(4) == 0, rng.below(3), "sb", &key, &rng.bytes(n));
                    file.extend(keys.seal_frame(at, &pt).unwrap_or_default());
                }
                2 => {
                    let dead: Vec<(u64, u32)> = (0..rng.below(4))
                        .filter_map(|_| match rng.below(3) {
                            0 => frames.get(rng.below(frames.len() as u64) as usize).copied(),
                            _ => Some((rng.below(file.len() as u64 + 64), rng.below(200) as u32)),
                        })
                        .collect();
                    let start = if rng.below(4) == 0 {
                        rng.next()
                    } else {
                        batch_start
                    };
                    let commit = encode_commit(start, &dead);
                    file.extend(keys.seal_frame(at, &commit).unwrap_or_default());
                    batch_start = file.len() as u64;
                }
                3 => {
                    let n = rng.below(80);
                    let pt = rng.bytes(n as usize);
                    file.extend(keys.seal_frame(at, &pt).unwrap_or_default());
                }
                4 => {
                    let len = 37 + rng.below(60) as u32;
                    file.extend(len.to_le_bytes());
                    file.extend(wiped_tail(at, len));
                }
                _ => {
                    let n = rng.below(40) as usize;
                    file.extend(rng.bytes(n));
                }
            }
            frames.push((at, (file.len() as u64 - at) as u32));
        }
        if rng.below(3) == 0 && file.len() > HEADER_LEN {
            let cut = HEADER_LEN + rng.below((file.len() - HEADER_LEN) as u64) as usize;
            file.truncate(cut);
        }
        if rng.below(3) == 0 && file.len() > HEADER_LEN {
            let i = HEADER_LEN + rng.below((file.len() - HEADER_LEN) as u64) as usize;
            file[i] ^= 1 << rng.below(8);
        }
        file
    }

    /// The walk never panics, and what it accepts is consistent: records inside the committed
    /// part, each authenticating at its offset as the entry it claims to be, and the dropped
    /// tail exactly the rest of the file.
    #[test]
    fn fuzz_walk_of_authenticated_nonsense() {
        let (seed, until) = budget("fuzz_walk_of_authenticated_nonsense");
        let mut rng = Rng::new(seed);
        let keys = GenKeys::new(&Zeroizing::new([5u8; 32]), [8u8; 16], 2);
        let (mut cases, mut accepted) = (0u64, 0u64);
        while Instant::now() < until {
            let file = nonsense_file(&mut rng, &keys);
            let ctx = format!("seed {seed}, case {cases}");
            cases += 1;
            let Ok(l) = load(&file, &keys, rng.below(2) == 0) else {
                continue;
            };
            accepted += 1;
            let len = file.len() as u64;
            assert!(
                l.committed_end <= len && l.committed_end >= HEADER_LEN as u64,
                "{ctx}"
            );
            match l.dropped_tail {
                Some((o, n)) => assert_eq!((o, o + n), (l.committed_end, len), "{ctx}"),
                None => assert_eq!(l.committed_end, len, "{ctx}"),
            }
            for r in &l.records {
                let end = r.offset + u64::from(r.len);
                assert!(
                    r.offset >= HEADER_LEN as u64 && end <= l.committed_end,
                    "{ctx}"
                );
                let pt = keys.open_body(r.offset, r.len, &r.body);
                let pt = pt.unwrap_or_else(|| panic!("{ctx}: record does not open"));
                match decode(&pt) {
                    Some(Decoded::Entry {
                        sandbox,
                        key,
                        alias,
                        ..
                    }) => {
                        assert_eq!(
                            (sandbox, key, alias),
                            ("sb", r.key.as_str(), r.alias),
                            "{ctx}"
                        )
                    }
                    _ => panic!("{ctx}: accepted record is not an entry"),
                }
            }
            for &(o, n) in &l.unclean_dead {
                assert!(o + u64::from(n) <= l.committed_end, "{ctx}");
            }
        }
        eprintln!("{cases} files, {accepted} accepted");
        assert!(cases > 0);
    }
}
