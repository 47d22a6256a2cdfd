use std::fmt;
use std::io;

/// The engine's error: a private kind with public predicates, so callers match on meaning
/// rather than on variants that may grow.
pub struct Error {
    kind: Kind,
    source: Option<io::Error>,
    context: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Binding or listening failed (the source carries the OS error, e.g. EADDRINUSE).
    Listen,
    /// A host name that does not resolve to any address.
    Resolve,
    /// The request id is unknown: the request was answered already or its client went away.
    UnknownRequest,
    /// A response operation out of order (a second head, a write after end...).
    InvalidState,
    /// A header name or value that HTTP does not allow.
    InvalidHeader,
    /// A status code outside 100..=999.
    InvalidStatus,
}

impl Error {
    pub(crate) fn listen(source: io::Error, context: String) -> Self {
        Error {
            kind: Kind::Listen,
            source: Some(source),
            context,
        }
    }
    pub(crate) fn resolve(host: &str, source: Option<io::Error>) -> Self {
        Error {
            kind: Kind::Resolve,
            source,
            context: host.to_owned(),
        }
    }
    pub(crate) fn unknown_request(id: u64) -> Self {
        Error {
            kind: Kind::UnknownRequest,
            source: None,
            context: format!("request {id}"),
        }
    }
    pub(crate) fn invalid_state(what: &str) -> Self {
        Error {
            kind: Kind::InvalidState,
            source: None,
            context: what.to_owned(),
        }
    }
    pub(crate) fn invalid_header(what: String) -> Self {
        Error {
            kind: Kind::InvalidHeader,
            source: None,
            context: what,
        }
    }
    pub(crate) fn invalid_status(status: u32) -> Self {
        Error {
            kind: Kind::InvalidStatus,
            source: None,
            context: status.to_string(),
        }
    }

    pub fn is_listen(&self) -> bool {
        self.kind == Kind::Listen
    }
    pub fn is_resolve(&self) -> bool {
        self.kind == Kind::Resolve
    }
    /// The request was already answered or its client disconnected: usually not worth reporting.
    pub fn is_unknown_request(&self) -> bool {
        self.kind == Kind::UnknownRequest
    }
    pub fn is_invalid_state(&self) -> bool {
        self.kind == Kind::InvalidState
    }
    pub fn is_invalid_header(&self) -> bool {
        self.kind == Kind::InvalidHeader
    }
    pub fn is_invalid_status(&self) -> bool {
        self.kind == Kind::InvalidStatus
    }
    /// The OS error behind a listen failure, for errno-style codes.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Listen => write!(f, "listen {}", self.context)?,
            Kind::Resolve => write!(f, "cannot resolve host {:?}", self.context)?,
            Kind::UnknownRequest => write!(f, "{} is not in flight", self.context)?,
            Kind::InvalidState => write!(f, "invalid response state: {}", self.context)?,
            Kind::InvalidHeader => write!(f, "invalid header: {}", self.context)?,
            Kind::InvalidStatus => write!(f, "invalid status code: {}", self.context)?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}
