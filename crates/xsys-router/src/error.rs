//! The crate's one error type.

use std::fmt;

use crate::LayerId;

/// Why the table refused an insertion or an update.
///
/// The kind is private so that new cases do not break callers; ask with the predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// path-to-regexp would throw for this pattern; `message` is its message.
    Pattern {
        message: String,
        pattern: String,
        index: Option<usize>,
    },
    /// A non-ASCII character decides where a parameter name ends. path-to-regexp
    /// decides with Unicode `ID_Continue`, which this crate does not carry a table for,
    /// so it refuses rather than guess.
    Unsupported {
        pattern: String,
        index: usize,
    },
    DuplicateLayer(LayerId),
    UnknownLayer(LayerId),
}

impl Error {
    pub(crate) fn pattern(message: String, pattern: &str, index: Option<usize>) -> Self {
        Self {
            kind: Kind::Pattern {
                message,
                pattern: pattern.to_owned(),
                index,
            },
        }
    }

    pub(crate) fn unsupported(pattern: &str, index: usize) -> Self {
        Self {
            kind: Kind::Unsupported {
                pattern: pattern.to_owned(),
                index,
            },
        }
    }

    pub(crate) fn duplicate_layer(id: LayerId) -> Self {
        Self {
            kind: Kind::DuplicateLayer(id),
        }
    }

    pub(crate) fn unknown_layer(id: LayerId) -> Self {
        Self {
            kind: Kind::UnknownLayer(id),
        }
    }

    /// Express (path-to-regexp) rejects this pattern too; the message is path-to-regexp's.
    pub fn is_invalid_pattern(&self) -> bool {
        matches!(self.kind, Kind::Pattern { .. })
    }

    /// Express accepts the pattern but the table cannot mirror it exactly;
    /// the caller must let JS route instead of using this table.
    pub fn is_unsupported(&self) -> bool {
        matches!(self.kind, Kind::Unsupported { .. })
    }

    /// `insert` was given an id the table already holds.
    pub fn is_duplicate_layer(&self) -> bool {
        matches!(self.kind, Kind::DuplicateLayer(_))
    }

    /// `set_methods` was given an id the table does not hold.
    pub fn is_unknown_layer(&self) -> bool {
        matches!(self.kind, Kind::UnknownLayer(_))
    }

    /// Index (in characters, as path-to-regexp counts) in the pattern where the problem is, when known.
    pub fn index(&self) -> Option<usize> {
        match &self.kind {
            Kind::Pattern { index, .. } => *index,
            Kind::Unsupported { index, .. } => Some(*index),
            Kind::DuplicateLayer(_) | Kind::UnknownLayer(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            // Same text as path-to-regexp's PathError, without its help link.
            Kind::Pattern {
                message, pattern, ..
            } => write!(f, "{message}: {pattern}"),
            Kind::Unsupported { pattern, index } => write!(
                f,
                "non-ASCII character at index {index} would decide where a parameter name ends; \
                 only ASCII parameter names can be matched natively: {pattern}"
            ),
            Kind::DuplicateLayer(id) => write!(f, "layer {} is already in the route table", id.0),
            Kind::UnknownLayer(id) => write!(f, "layer {} is not in the route table", id.0),
        }
    }
}

impl std::error::Error for Error {}
