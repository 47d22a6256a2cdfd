//! The two file-system calls send makes, `stat` and `open`, and what Node would report of them:
//! the modification time as a JavaScript Date holds it, and errors by errno.
//!
//! Every path this crate hands to the operating system goes through here, so the traversal
//! tests can see (in test builds) each one.

use std::fs::{File, Metadata};
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Directory,
    /// A FIFO, socket or device: send would stream it, blocking on it; left to JS.
    Other,
}

/// What changes whenever a file's content may have: a cached copy is good only while the
/// identity read by this request's `stat` equals the one read when it was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    /// Any write or chmod moves the change time, even when the modification time is set back.
    ctime: (i64, i64),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub(crate) kind: Kind,
    pub(crate) size: u64,
    /// `stat.mtime.getTime()` in Node: `Math.round(sec * 1e3 + nsec / 1e6)`.
    pub(crate) mtime_ms: i64,
    pub(crate) identity: Identity,
}

/// A failed call, as Node's error would describe it.
#[derive(Debug, Clone)]
pub(crate) struct FsError {
    /// The OS errno (positive; Node's `err.errno` is its negation on Unix).
    pub(crate) errno: i32,
}

impl FsError {
    pub(crate) fn of(error: &io::Error) -> FsError {
        // Every error of stat/open carries an errno; EIO stands in for one that would not.
        FsError {
            errno: error.raw_os_error().unwrap_or(EIO),
        }
    }

    /// send's `onStatError`: these three are a 404, everything else a 500.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self.errno, ENOENT | ENOTDIR | ENAMETOOLONG)
    }

    pub(crate) fn is_enoent(&self) -> bool {
        self.errno == ENOENT
    }
}

#[cfg(unix)]
use libc::{EIO, ENAMETOOLONG, ENOENT, ENOTDIR};
// Windows is not served natively (see `StaticFiles::new`); these keep the crate compiling.
#[cfg(not(unix))]
const ENOENT: i32 = 2;
#[cfg(not(unix))]
const EIO: i32 = 5;
#[cfg(not(unix))]
const ENOTDIR: i32 = 20;
#[cfg(not(unix))]
const ENAMETOOLONG: i32 = 38;

/// `fs.stat(path)`: follows symbolic links, as send does.
pub(crate) fn stat(path: &str) -> Result<Stat, FsError> {
    record(path);
    std::fs::metadata(path)
        .map(|m| Stat::of(&m))
        .map_err(|e| FsError::of(&e))
}

/// Opens the file for reading and reads its metadata again from the open descriptor.
pub(crate) fn open(path: &str) -> Result<(File, Stat), FsError> {
    record(path);
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO put in the file's place after the stat must not block an I/O thread.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| FsError::of(&e))?;
    let stat = fstat(&file).map_err(|e| FsError::of(&e))?;
    Ok((file, stat))
}

pub(crate) fn fstat(file: &File) -> io::Result<Stat> {
    file.metadata().map(|m| Stat::of(&m))
}

impl Stat {
    #[cfg(unix)]
    fn of(m: &Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        let kind = kind_of(m);
        Stat {
            kind,
            size: m.size(),
            mtime_ms: node_date_ms(m.mtime(), m.mtime_nsec()),
            identity: Identity {
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            },
        }
    }

    #[cfg(not(unix))]
    fn of(m: &Metadata) -> Stat {
        let time = |t: io::Result<std::time::SystemTime>| -> (i64, i64) {
            match t.map(|t| t.duration_since(std::time::UNIX_EPOCH)) {
                Ok(Ok(d)) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
                _ => (0, 0),
            }
        };
        let mtime = time(m.modified());
        Stat {
            kind: kind_of(m),
            size: m.len(),
            mtime_ms: node_date_ms(mtime.0, mtime.1),
            identity: Identity {
                size: m.len(),
                mtime,
                ctime: time(m.created()),
            },
        }
    }
}

fn kind_of(m: &Metadata) -> Kind {
    if m.is_dir() {
        Kind::Directory
    } else if m.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

/// Node builds `stat.mtime` as `new Date(Math.round(sec * 1e3 + nsec / 1e6))`, in doubles.
pub(crate) fn node_date_ms(sec: i64, nsec: i64) -> i64 {
    let ms = sec as f64 * 1e3 + nsec as f64 / 1e6;
    // Math.round: the nearest integer, ties towards +infinity.
    let floor = ms.floor();
    let rounded = if ms - floor >= 0.5 {
        floor + 1.0
    } else {
        floor
    };
    rounded as i64
}

#[cfg(test)]
thread_local! {
    /// While `Some`, every path handed to the OS on this thread, for the traversal tests.
    static TOUCHED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns the paths it handed to the OS (test builds only).
#[cfg(test)]
pub(crate) fn touched_during(f: impl FnOnce()) -> Vec<String> {
    TOUCHED.with(|t| *t.borrow_mut() = Some(Vec::new()));
    f();
    TOUCHED.with(|t| t.borrow_mut().take().unwrap_or_default())
}

#[cfg(test)]
fn record(path: &str) {
    TOUCHED.with(|t| {
        if let Some(paths) = t.borrow_mut().as_mut() {
            paths.push(path.to_owned());
        }
    });
}

#[cfg(not(test))]
#[inline(always)]
fn record(_path: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modification_times_round_as_node_s_dates() {
        // `touch -d` then `fs.statSync(f).mtime.getTime()` on Node 20, 22 and 24.
        assert_eq!(node_date_ms(1_577_836_800, 999_600_000), 1_577_836_801_000);
        assert_eq!(node_date_ms(1_577_836_800, 400_000), 1_577_836_800_000);
        assert_eq!(node_date_ms(1_577_836_800, 500_500_000), 1_577_836_800_501);
        assert_eq!(node_date_ms(-1, 999_600_000), 0);
        assert_eq!(node_date_ms(-1, 0), -1000);
        assert_eq!(node_date_ms(0, 500_000), 1);
    }

    #[test]
    fn not_found_errors_are_send_s_three() {
        let missing = stat("/definitely/not/here").unwrap_err();
        assert!(missing.is_enoent() && missing.is_not_found());
        let file = std::env::current_exe().expect("test binary");
        let below_a_file = format!("{}/x", file.display());
        let not_dir = stat(&below_a_file).unwrap_err();
        assert!(!not_dir.is_enoent() && not_dir.is_not_found());
        let too_long = stat(&format!("/{}", "a".repeat(5000))).unwrap_err();
        assert!(too_long.is_not_found(), "{too_long:?}");
    }
}
