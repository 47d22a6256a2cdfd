//! The crate's one error type: what `StaticFiles::new` refuses.

use std::fmt;

/// Why a static-files stage could not be built.
///
/// The kind is private so that new cases do not break callers; ask with the predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// serve-static's `root path required` (an empty root).
    Root,
    /// An option value serve-static or send would throw for.
    Option,
    /// Something this crate does not do (yet); the JS middleware does it.
    NotSupported,
}

impl Error {
    pub(crate) fn root(message: &str) -> Self {
        Error {
            kind: Kind::Root,
            message: message.to_owned(),
        }
    }

    pub(crate) fn option(message: String) -> Self {
        Error {
            kind: Kind::Option,
            message,
        }
    }

    pub(crate) fn not_supported(what: &str) -> Self {
        Error {
            kind: Kind::NotSupported,
            message: format!("{what} is not supported"),
        }
    }

    /// The root is missing or unusable (serve-static throws a TypeError).
    pub fn is_invalid_root(&self) -> bool {
        self.kind == Kind::Root
    }

    /// An option has a value the packages refuse (send throws a TypeError).
    pub fn is_invalid_option(&self) -> bool {
        self.kind == Kind::Option
    }

    /// Not done natively: keep the JS middleware.
    pub fn is_not_supported(&self) -> bool {
        self.kind == Kind::NotSupported
    }

    /// The message the packages give, e.g. `root path required`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
