//! `express.static(root, options)` as a native stage: its options from JS to xsys-static, and
//! the stage lib/prelude.ts compiles into an app's prelude when it leads the app's stack.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi::Env;
use napi_derive::napi;
use xsys_static::{CacheLimits, Dotfiles, MaxAge, Options, StaticFiles};

use crate::errors::{throw, NOT_NATIVE};

/// serve-static's middleware for one root and set of options (with its cache of small files),
/// shared by every prelude the middleware is compiled into.
#[napi]
pub struct StaticStage {
    pub(crate) inner: Arc<StaticFiles>,
}

#[napi]
impl StaticStage {
    /// Throws a NOT_NATIVE error with the reason when the engine cannot serve these files (the
    /// JS middleware then serves them, as it would anyway).
    #[napi(factory)]
    pub fn create(env: Env, root: String, options: StaticOptions) -> napi::Result<Self> {
        let files = Options::try_from(options).and_then(|options| StaticFiles::new(&root, options));
        match files {
            Ok(files) => Ok(StaticStage {
                inner: Arc::new(files),
            }),
            Err(error) => Err(throw(&env, NOT_NATIVE, &error.to_string())),
        }
    }
}

/// serve-static's options as lib/static.ts has read them, with serve-static's and send's rules
/// (defaults, truthiness, `maxAge` / `maxage`, lists): plain values only.
#[napi(object)]
pub struct StaticOptions {
    pub accept_ranges: bool,
    pub cache_control: bool,
    /// `'allow'`, `'deny'` or `'ignore'`.
    pub dotfiles: String,
    pub etag: bool,
    pub extensions: Vec<String>,
    pub fallthrough: bool,
    pub immutable: bool,
    pub index: Vec<String>,
    pub last_modified: bool,
    /// send's `maxAge`: a number of milliseconds (`Number(value)`), or a string it reads with
    /// the `ms` package.
    pub max_age: Either<f64, String>,
    pub redirect: bool,
}

impl TryFrom<StaticOptions> for Options {
    type Error = xsys_static::Error;

    fn try_from(js: StaticOptions) -> Result<Options, xsys_static::Error> {
        Ok(Options {
            accept_ranges: js.accept_ranges,
            cache_control: js.cache_control,
            dotfiles: js.dotfiles.parse::<Dotfiles>()?,
            etag: js.etag,
            extensions: js.extensions,
            fallthrough: js.fallthrough,
            immutable: js.immutable,
            index: js.index,
            last_modified: js.last_modified,
            max_age: match js.max_age {
                Either::A(ms) => MaxAge::from_millis(ms),
                Either::B(text) => MaxAge::parse(&text),
            },
            redirect: js.redirect,
            cache: CacheLimits::default(),
        })
    }
}
