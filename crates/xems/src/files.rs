//! File primitives with the store's hygiene rules: the store and its temporaries are private to
//! their owner (created 0600), temporaries are created exclusively and never through a link,
//! a store (or its directory) that others can write is refused, and renames are made durable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

/// Mode of every file the store creates (before the umask, which can only remove bits).
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// Creates `path` exclusively: fails if anything exists there, a symlink (even a dangling one)
/// included, so a planted link can never make us write another file.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(PRIVATE_MODE).custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

/// Opens an existing store file for reading and writing, refusing a symlink in its place (the
/// path given by the user was already resolved to its canonical form).
pub(crate) fn open_store_file(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

/// What a leftover temporary turned out to be when opened without following links.
pub(crate) enum Leftover {
    Absent,
    /// A plain file of the store's owner with no other name: safe to overwrite before unlinking.
    Ours(File),
    /// A symlink, a hard link, a FIFO, someone else's file...: unlinked, never written.
    Foreign,
}

/// Looks at a leftover temporary without following it. `owner` is the uid of the store file.
pub(crate) fn open_leftover(path: &Path, owner: Option<u32>) -> Leftover {
    let Ok(lmeta) = fs::symlink_metadata(path) else {
        return Leftover::Absent;
    };
    if !lmeta.file_type().is_file() {
        return Leftover::Foreign;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        // O_NONBLOCK: if a FIFO was swapped in since the lstat, opening it must not hang.
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path);
        let Ok(file) = opened else {
            return Leftover::Foreign;
        };
        let ours = file.metadata().is_ok_and(|m| {
            m.file_type().is_file()
                && m.nlink() == 1
                && m.ino() == lmeta.ino()
                && m.dev() == lmeta.dev()
                && owner.is_none_or(|uid| uid == m.uid())
        });
        if ours {
            Leftover::Ours(file)
        } else {
            Leftover::Foreign
        }
    }
    #[cfg(not(unix))]
    {
        let _ = owner;
        match OpenOptions::new().write(true).open(path) {
            Ok(file) => Leftover::Ours(file),
            Err(_) => Leftover::Foreign,
        }
    }
}

/// Unlinks `path` (never following it); a missing file is not an error.
pub(crate) fn unlink(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The uid owning `file` (Unix), to recognise our own leftovers.
pub(crate) fn owner_of(file: &File) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata().ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// Permission bits of `file` (0o600 where there are none).
pub(crate) fn mode_of(file: &File) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.metadata()
            .map_or(PRIVATE_MODE, |m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        PRIVATE_MODE
    }
}

fn writable_by(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "its group and all users",
        (true, false) => "its group",
        _ => "all users",
    }
}

/// Refuses a store file that is not a regular file or that its group or other users can
/// write: they could replace records with older ones, or damage it at will.
pub(crate) fn check_store_file(file: &File, path: &Path) -> Result<(), Error> {
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot stat {}", path.display()), e))?;
    if !meta.file_type().is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mode = mode_of(file);
    if mode & 0o022 != 0 {
        return Err(Error::permissions(format!(
            "{} is writable by {} (mode {mode:04o}); a store must be writable by its owner only: chmod 600 it",
            path.display(),
            writable_by(mode)
        )));
    }
    Ok(())
}

/// Refuses a directory that its group or other users can write without the sticky bit: they
/// could rename another file over the store (an old copy, say) or remove it. With the sticky
/// bit (like /tmp) others cannot touch our names; temporaries are created exclusively anyway.
pub(crate) fn check_store_dir(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = parent_dir(path);
        let meta = fs::metadata(dir)
            .map_err(|e| Error::io(format!("cannot stat directory {}", dir.display()), e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(Error::permissions(format!(
                "directory {} is writable by {} (mode {mode:04o}), who could replace or remove the store: chmod g-w,o-w it (or keep the store elsewhere)",
                dir.display(),
                writable_by(mode)
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

pub(crate) fn lock_file(file: &File, path: &Path) -> Result<(), Error> {
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
pub(crate) fn same_file(file: &File, path: &Path) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let a = file.metadata().map_err(|e| Error::io("stat", e))?;
    match fs::symlink_metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat", e)),
    }
}

#[cfg(not(unix))]
pub(crate) fn same_file(_file: &File, _path: &Path) -> Result<bool, Error> {
    Ok(true)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename or link durable. On non-Unix platforms directories cannot be opened for
/// fsync; there the rename's durability is up to the filesystem.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(parent_dir(path))?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `<path>.<suffix>`, in the store's directory.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

pub(crate) fn write_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

pub(crate) fn sync(file: &File, fsyncs: &AtomicU64) -> io::Result<()> {
    fsyncs.fetch_add(1, Ordering::Relaxed);
    file.sync_data()
}

/// Writes `bytes` to a fresh, locked `<path>.<suffix>.tmp`, fsyncs it, renames it over `path`
/// and fsyncs the directory: the path names either the old or the new complete file, never a
/// mix. A leftover temporary is unlinked first (never followed). The new file gets `mode`
/// (the old file's permissions, never more than 0644).
///
/// Returns the new (locked) file; the second value is a failed directory fsync, reported
/// separately because the rename has then already happened and the caller must use the file.
pub(crate) fn replace_file(
    path: &Path,
    suffix: &str,
    bytes: &[u8],
    mode: u32,
    fsyncs: &AtomicU64,
) -> Result<(File, Option<Error>), Error> {
    let tmp = sibling(path, &format!("{suffix}.tmp"));
    unlink(&tmp).map_err(|e| Error::io(format!("cannot remove {}", tmp.display()), e))?;
    let f = create_private(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    let result = (|| {
        // Locked before it becomes visible under the store's name.
        lock_file(&f, &tmp)?;
        (&f).write_all(bytes)
            .map_err(|e| Error::io("write temp file", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let keep = (mode & 0o644) | PRIVATE_MODE;
            if keep != PRIVATE_MODE {
                f.set_permissions(fs::Permissions::from_mode(keep))
                    .map_err(|e| Error::io("chmod temp file", e))?;
            }
        }
        #[cfg(not(unix))]
        let _ = mode;
        fsyncs.fetch_add(1, Ordering::Relaxed);
        f.sync_all().map_err(|e| Error::io("fsync temp file", e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("rename temp file over the store", e))
    })();
    match result {
        Ok(()) => {
            let dir_err = sync_dir(path)
                .err()
                .map(|e| Error::io("fsync directory after rename", e));
            Ok((f, dir_err))
        }
        Err(e) => {
            // Unlinking never follows a link, whatever is at that name now.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}
