//! Secure wipe: overwriting superseded frames in place, whole files that are no longer reachable
//! by name, and leftovers of interrupted operations. Best effort below the filesystem (SSDs,
//! copy-on-write, journals): see docs/xem-format.md, "Secure wipe".

use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use crate::crypto;
use crate::files::{self, sync, write_at, Leftover};
use crate::frame::{self, FRAME_HEADER};
use crate::Error;

/// Overwrites frames in place: random bytes over the body, fsync, then type `W` and zeros,
/// fsync. The length field and offset hint are kept so the frame chain stays walkable; the
/// commit that declared
/// these frames dead is already durable, so a crash at any point here is recoverable.
pub(crate) fn wipe_frames(
    file: &File,
    frames: &[(u64, u32)],
    fsyncs: &AtomicU64,
) -> Result<(), Error> {
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
        write_at(file, off + 4, &frame::wiped_tail(off, len))
            .map_err(|e| Error::io("wipe (zero pass)", e))?;
    }
    sync(file, fsyncs).map_err(|e| Error::io("fsync after wipe (zero pass)", e))
}

/// Best-effort overwrite of a whole file that is no longer reachable by name (old generation
/// after compaction or rebind): random, fsync, zeros, fsync.
pub(crate) fn wipe_whole_file(file: &File, fsyncs: &AtomicU64) -> Result<(), Error> {
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

/// Removes the leftover temporary at `path` (a compaction or rebind that crashed before its
/// rename). It is never followed: a symlink, a hard link or another user's file is only
/// unlinked; our own plain file holds ciphertext and is overwritten first. Returns whether
/// something was there.
pub(crate) fn discard_leftover(
    path: &Path,
    owner: Option<u32>,
    fsyncs: &AtomicU64,
) -> Result<bool, Error> {
    match files::open_leftover(path, owner) {
        Leftover::Absent => return Ok(false),
        Leftover::Ours(file) => {
            let _ = wipe_whole_file(&file, fsyncs);
        }
        Leftover::Foreign => {}
    }
    files::unlink(path).map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
    Ok(true)
}
