//! The crate's one error type.

use std::fmt;

/// Why a stage could not be built from the options it was given.
///
/// The kind is private so that new cases do not break callers; ask with the predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The npm package throws for these options when the middleware is created; the message is
    /// the package's own, so the binding can throw the same text.
    InvalidOption,
    /// As `InvalidOption`, where the package's throw is JavaScript's own `TypeError` (reading a
    /// property of `null`, calling what is not a function).
    InvalidOptionType,
    /// The package accepts these options, but what they do cannot be decided here (a function,
    /// a stateful RegExp, a value Node would reject per request): the stage must stay in JS.
    NotNative,
}

impl Error {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::InvalidOption,
            message: message.into(),
        }
    }

    /// An option the package trips over with a JavaScript `TypeError`.
    pub(crate) fn invalid_type(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::InvalidOptionType,
            message: message.into(),
        }
    }

    pub(crate) fn not_native(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::NotNative,
            message: message.into(),
        }
    }

    /// helmet, cors or express-rate-limit would throw this message when the middleware is made.
    pub fn is_invalid_option(&self) -> bool {
        matches!(self.kind, Kind::InvalidOption | Kind::InvalidOptionType)
    }

    /// The package's throw is a `TypeError` (from JavaScript itself) rather than an `Error`.
    pub fn is_type_error(&self) -> bool {
        self.kind == Kind::InvalidOptionType
    }

    /// The options are valid but only the JS middleware can honour them; keep the stage in JS.
    pub fn is_not_native(&self) -> bool {
        self.kind == Kind::NotNative
    }

    /// The message alone, as the npm package words it when it throws.
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

/// What a package prints (but does not throw) when it is set up with questionable options.
///
/// The stage still behaves exactly as the package does; the binding prints these once, through
/// `console.warn` or `console.error` as `level` says, so users see what they would see with the
/// npm package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// express-rate-limit's validation code (`ERR_ERL_*`, `WRN_ERL_*`); helmet's warnings have none.
    pub code: Option<&'static str>,
    pub message: String,
    pub level: WarningLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningLevel {
    /// `console.warn` (helmet, express-rate-limit's change warnings).
    Warn,
    /// `console.error` (express-rate-limit's validation errors, which are logged, not thrown).
    Error,
}
