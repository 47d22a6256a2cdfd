//! The crate's single error type.
//!
//! Hyper-style: the kind is private so new kinds can be added without breaking callers, who ask
//! questions through predicates (`is_key()`, ...), which the binding maps to its JS codes.
//! `Error` is `Clone` because one failed fsync fails every waiter of its batch.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// An error from XEMS. See the `is_*` predicates for what went wrong.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: Kind,
    msg: String,
    offset: Option<u64>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Wrong secret, other hardware, or wrong recovery key: the wrapped key did not open.
    Key,
    /// The file is damaged or was tampered with (anything but a droppable torn tail).
    Integrity,
    /// Another process holds the store.
    Locked,
    /// The operating system refused a read, write or fsync.
    Io,
    /// The store was closed (or is closing) before the operation ran.
    Closed,
    /// The caller passed something unusable (empty key, conflicting options, ...).
    InvalidArgument,
    /// The store file or its directory can be written by other users.
    Permissions,
}

impl Error {
    fn new(kind: Kind, msg: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                msg: msg.into(),
                offset: None,
                source: None,
            }),
        }
    }

    pub(crate) fn key(msg: impl Into<String>) -> Error {
        Error::new(Kind::Key, msg)
    }

    pub(crate) fn integrity(msg: impl Into<String>, offset: Option<u64>) -> Error {
        let mut e = Error::new(Kind::Integrity, msg);
        e.inner.offset = offset;
        e
    }

    pub(crate) fn locked(msg: impl Into<String>) -> Error {
        Error::new(Kind::Locked, msg)
    }

    pub(crate) fn io(msg: impl Into<String>, err: std::io::Error) -> Error {
        let mut e = Error::new(Kind::Io, msg);
        e.inner.source = Some(Arc::new(err));
        e
    }

    pub(crate) fn closed() -> Error {
        Error::new(Kind::Closed, "the store is closed")
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::new(Kind::InvalidArgument, msg)
    }

    pub(crate) fn permissions(msg: impl Into<String>) -> Error {
        Error::new(Kind::Permissions, msg)
    }

    /// The secret, the hardware id or the recovery key does not open this store.
    pub fn is_key(&self) -> bool {
        self.inner.kind == Kind::Key
    }

    /// The file is corrupt or was tampered with; [`Error::offset`] says where when known.
    pub fn is_integrity(&self) -> bool {
        self.inner.kind == Kind::Integrity
    }

    /// Another process has the file open.
    pub fn is_locked(&self) -> bool {
        self.inner.kind == Kind::Locked
    }

    /// An operating-system I/O failure (the `source()` is the `std::io::Error`).
    pub fn is_io(&self) -> bool {
        self.inner.kind == Kind::Io
    }

    /// The store is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::Closed
    }

    /// The arguments or options were rejected.
    pub fn is_invalid_argument(&self) -> bool {
        self.inner.kind == Kind::InvalidArgument
    }

    /// The store file or its directory is writable by other users, so the store refused it.
    pub fn is_permissions(&self) -> bool {
        self.inner.kind == Kind::Permissions
    }

    /// Byte offset in the file of the damage, for integrity errors that can name one.
    pub fn offset(&self) -> Option<u64> {
        self.inner.offset
    }

    fn kind_str(&self) -> &'static str {
        match self.inner.kind {
            Kind::Key => "key error",
            Kind::Integrity => "integrity error",
            Kind::Locked => "locked",
            Kind::Io => "i/o error",
            Kind::Closed => "closed",
            Kind::InvalidArgument => "invalid argument",
            Kind::Permissions => "unsafe permissions",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "xems {}: {}", self.kind_str(), self.inner.msg)?;
        if let Some(off) = self.inner.offset {
            write!(f, " (at byte offset {off})")?;
        }
        if let Some(src) = &self.inner.source {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("xems::Error");
        d.field("kind", &self.inner.kind)
            .field("msg", &self.inner.msg);
        if let Some(off) = self.inner.offset {
            d.field("offset", &off);
        }
        if let Some(src) = &self.inner.source {
            d.field("source", src);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_and_display() {
        let e = Error::integrity("frame fails authentication", Some(300));
        assert!(e.is_integrity() && !e.is_key() && !e.is_locked());
        assert_eq!(e.offset(), Some(300));
        assert!(e.to_string().contains("offset 300"), "{e}");
        let io = Error::io("fsync", std::io::Error::other("disk gone"));
        assert!(io.is_io() && io.source().is_some());
        assert!(io.to_string().contains("disk gone"));
        assert!(Error::key("x").is_key());
        assert!(Error::locked("x").is_locked());
        assert!(Error::closed().is_closed());
        assert!(Error::invalid("x").is_invalid_argument());
        let p = Error::permissions("x");
        assert!(p.is_permissions() && !p.is_invalid_argument());
    }
}
