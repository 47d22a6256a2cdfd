//! HTTP methods: the ones a request may carry (Node's parser list) and the sets Express routes
//! record.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// A set of HTTP methods a layer answers.
///
/// Nine methods get their own bit, the ones Express apps route by name most; every other method
/// name shares [`Methods::OTHER`], so a set holding it can no longer say exactly which methods it
/// allows. [`Methods::ALL`] marks `app.all()`
/// routes and middleware, which answer any method.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Methods(u16);

/// The request methods Node's HTTP parser accepts (`http.METHODS`), spelled as they must be
/// sent (upper case). A request with any other method is refused with 400, as by Node.
pub const HTTP_METHODS: [&str; 35] = [
    "ACL",
    "BIND",
    "CHECKOUT",
    "CONNECT",
    "COPY",
    "DELETE",
    "GET",
    "HEAD",
    "LINK",
    "LOCK",
    "M-SEARCH",
    "MERGE",
    "MKACTIVITY",
    "MKCALENDAR",
    "MKCOL",
    "MOVE",
    "NOTIFY",
    "OPTIONS",
    "PATCH",
    "POST",
    "PROPFIND",
    "PROPPATCH",
    "PURGE",
    "PUT",
    "QUERY",
    "REBIND",
    "REPORT",
    "SEARCH",
    "SOURCE",
    "SUBSCRIBE",
    "TRACE",
    "UNBIND",
    "UNLINK",
    "UNLOCK",
    "UNSUBSCRIBE",
];

/// Whether a request may carry this method (exactly as spelled in [`HTTP_METHODS`]).
pub fn is_http_method(name: &[u8]) -> bool {
    HTTP_METHODS.iter().any(|known| known.as_bytes() == name)
}

/// Names of the named bits, in bit order.
const NAMES: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// The named bits in the order Express's `Allow` header lists them: it sorts the names.
const ALLOW_ORDER: [Methods; 9] = [
    Methods::CONNECT,
    Methods::DELETE,
    Methods::GET,
    Methods::HEAD,
    Methods::OPTIONS,
    Methods::PATCH,
    Methods::POST,
    Methods::PUT,
    Methods::TRACE,
];

impl Methods {
    /// The empty set.
    pub const NONE: Self = Self(0);
    #[allow(missing_docs)]
    pub const GET: Self = Self(1);
    #[allow(missing_docs)]
    pub const HEAD: Self = Self(1 << 1);
    #[allow(missing_docs)]
    pub const POST: Self = Self(1 << 2);
    #[allow(missing_docs)]
    pub const PUT: Self = Self(1 << 3);
    #[allow(missing_docs)]
    pub const PATCH: Self = Self(1 << 4);
    #[allow(missing_docs)]
    pub const DELETE: Self = Self(1 << 5);
    #[allow(missing_docs)]
    pub const OPTIONS: Self = Self(1 << 6);
    #[allow(missing_docs)]
    pub const TRACE: Self = Self(1 << 7);
    #[allow(missing_docs)]
    pub const CONNECT: Self = Self(1 << 8);
    /// Any method without its own bit (PROPFIND, QUERY, ...).
    pub const OTHER: Self = Self(1 << 9);
    /// `app.all()` routes and middleware: every method.
    pub const ALL: Self = Self(1 << 10);

    /// The bit of one HTTP method name, compared ASCII case-insensitively because
    /// Express lower-cases both route methods and the request method.
    /// Names without a bit of their own give [`Methods::OTHER`].
    pub fn from_name(name: &str) -> Self {
        NAMES
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
            .map_or(Self::OTHER, |bit| Self(1 << bit))
    }

    /// The raw bits, for crossing the napi boundary as a number.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The set from raw bits; bits that name no method are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Self {
        Self(bits & 0x07ff)
    }

    /// Both sets together.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Every method of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// No method at all.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether a route with these methods may handle a request with method `request`
    /// (one bit, from [`Methods::from_name`]), as router@2's `Route._handlesMethod` decides:
    /// `all` handles everything and HEAD falls back to GET.
    ///
    /// Exact for the named methods. For [`Methods::OTHER`] the set cannot tell PROPFIND from
    /// REPORT, so it answers `true` whenever the route has some other method: "maybe".
    pub const fn may_handle(self, request: Self) -> bool {
        if self.0 & Self::ALL.0 != 0 || self.0 & request.0 != 0 {
            return true;
        }
        request.0 == Self::HEAD.0 && self.0 & Self::GET.0 != 0
    }

    /// The `Allow` header (and body) of Express's automatic OPTIONS answer for routes whose
    /// methods add up to `self` (the engine answers it natively): names sorted, comma-space
    /// separated, HEAD added where GET is, `all` not listed (router@2 `Route._methods` and
    /// `sendOptionsResponse`).
    ///
    /// `None` when the set holds [`Methods::OTHER`]: the names are unknown here, so JS must
    /// answer. An empty set gives an empty string, but Express sends no OPTIONS answer for
    /// it: it falls through to its 404.
    pub fn allow_header(self) -> Option<String> {
        if self.contains(Self::OTHER) {
            return None;
        }
        let listed = if self.contains(Self::GET) {
            self.union(Self::HEAD)
        } else {
            self
        };
        let names: Vec<&str> = ALLOW_ORDER
            .iter()
            .filter(|bit| listed.contains(**bit))
            .filter_map(|bit| bit.name())
            .collect();
        Some(names.join(", "))
    }

    /// The name of a single named bit.
    fn name(self) -> Option<&'static str> {
        if self.0.count_ones() != 1 {
            return None;
        }
        NAMES.get(self.0.trailing_zeros() as usize).copied()
    }
}

impl BitOr for Methods {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl BitOrAssign for Methods {
    fn bitor_assign(&mut self, other: Self) {
        *self = self.union(other);
    }
}

impl fmt::Debug for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for bit in 0..11 {
            let one = Self(1 << bit);
            if self.contains(one) {
                set.entry(&format_args!(
                    "{}",
                    one.name().unwrap_or(if bit == 9 { "OTHER" } else { "ALL" })
                ));
            }
        }
        set.finish()
    }
}
