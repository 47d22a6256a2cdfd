//! The native static stage: `express.static` layers at the top of the app, answered before JS.
//!
//! lib/ compiles the app's leading layers: each `express.static(root, options)` mounted by
//! `app.use` before any other layer becomes a stage here, keyed by its index in the stack (the
//! route mirror holds its path). For a request, the layers that match it are visited in stack
//! order while they are stages:
//!
//! - a stage that answers (a file, a 304, a redirect, a 405) answers the request: JS never sees it;
//! - a stage that falls through (`next()`) is dropped from the request's candidate layers, so the
//!   JS router does not run that layer a second time, and the next matching layer is visited;
//! - anything else (an error serve-static would pass to `next(err)`, a case only JS settles)
//!   stops the walk: JS runs that layer itself, with identical results, then the rest.
//!
//! Before a stage looks at a file, the engine's static path rule (`static_path`) refuses every
//! spelling but the plain one, as the JS middleware does.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response};
use xsys_static::{Outcome, Request, StaticFiles};

use crate::body::ResponseBody;
use crate::head::latin1_header_value;
use crate::{static_files, static_path, Error};

/// The stages of the app's current stack, by layer index.
#[derive(Default)]
pub struct StaticStages {
    stages: RwLock<Arc<HashMap<u32, Arc<StaticFiles>>>>,
    lead: RwLock<Arc<LeadHeaders>>,
}

/// What the app puts on every response before any layer runs (Express's X-Powered-By): the
/// names in the case given, in order.
pub(crate) type LeadHeaders = Vec<(String, HeaderName, HeaderValue)>;

/// What the stages made of a request.
pub(crate) enum StageAnswer {
    /// A stage answered it.
    Respond(Response<ResponseBody>),
    /// The first `answered` matching layers fell through natively; the rest is JS's.
    Continue { answered: usize },
}

impl StaticStages {
    /// Forgets every stage (the stack changed; lib/ registers the new ones).
    pub fn clear(&self) {
        *self.stages.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(HashMap::new());
    }

    /// Sets the headers the stages' responses start with, as a block of `name:value` lines.
    pub fn set_lead_headers(&self, block: &str) -> Result<(), Error> {
        let mut lead = Vec::new();
        for line in block.split('\n').filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| Error::invalid_header(format!("{line:?} has no ':'")))?;
            let lower = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid_header(format!("name {name:?}")))?;
            let value = latin1_header_value(value)
                .ok_or_else(|| Error::invalid_header(format!("value of {name}")))?;
            lead.push((name.to_owned(), lower, value));
        }
        *self.lead.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(lead);
        Ok(())
    }

    /// Makes the layer at `layer` a native stage.
    pub fn insert(&self, layer: u32, files: StaticFiles) {
        let mut stages = self.stages.write().unwrap_or_else(|e| e.into_inner());
        let mut next = HashMap::clone(&stages);
        next.insert(layer, Arc::new(files));
        *stages = Arc::new(next);
    }

    pub fn is_empty(&self) -> bool {
        self.stages
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Visits the stages among `layers` (the layers matching the request, in stack order, each
    /// with the part of the path it matched) from the first, as long as they fall through. `target` is the request target as sent,
    /// `pathname` the path its one reading gives.
    pub(crate) fn answer(
        &self,
        method: &Method,
        target: &str,
        pathname: &str,
        headers: &HeaderMap,
        layers: &[(u32, &str)],
    ) -> StageAnswer {
        let stages = Arc::clone(&self.stages.read().unwrap_or_else(|e| e.into_inner()));
        // An absolute-form or `*` target rewrites req.url differently when a mount is stripped.
        if stages.is_empty() || !target.starts_with('/') {
            return StageAnswer::Continue { answered: 0 };
        }
        // url.format of the original reading gives back its path and search, and its fragment:
        // a redirect for a target with one is left to JS.
        let original_search =
            (!target.contains('#')).then(|| target.find('?').map_or("", |q| &target[q..]));
        let is_get = *method == Method::GET || *method == Method::HEAD;
        let mut answered = 0;
        for (layer, matched) in layers {
            let Some(files) = stages.get(layer) else {
                break;
            };
            let path = path_at_layer(pathname, matched);
            if is_get && static_path::refusal(&path).is_some() {
                // lib/static.ts: answered as for a file that does not exist.
                if files.options().fallthrough {
                    answered += 1;
                    continue;
                }
                break;
            }
            let outcome = files.serve(&Request {
                method,
                path: &path,
                original_path: pathname,
                original_search,
                headers,
            });
            match outcome {
                Outcome::Respond(response) => {
                    let lead = Arc::clone(&self.lead.read().unwrap_or_else(|e| e.into_inner()));
                    return StageAnswer::Respond(static_files::response(response, &lead));
                }
                Outcome::Next => answered += 1,
                Outcome::Forward(_) | Outcome::NeedsJs(_) => break,
            }
        }
        StageAnswer::Continue { answered }
    }
}

/// The path of `req.url` once Express's router has trimmed a middleware's matched path: the
/// rest of the path, given a leading `/` if it lost it.
fn path_at_layer<'p>(pathname: &'p str, matched: &str) -> std::borrow::Cow<'p, str> {
    let rest = pathname.get(matched.len()..).unwrap_or("");
    if rest.starts_with('/') {
        std::borrow::Cow::Borrowed(rest)
    } else {
        std::borrow::Cow::Owned(format!("/{rest}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xsys_static::Options;

    struct Site {
        dir: std::path::PathBuf,
        stages: StaticStages,
    }

    impl Drop for Site {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn site(name: &str, stages: &[(u32, Options)]) -> Site {
        let dir =
            std::env::temp_dir().join(format!("xsys-http-stage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("a.txt"), b"file a").expect("write");
        std::fs::write(dir.join("sub/index.html"), b"sub index").expect("write");
        let site = Site {
            stages: StaticStages::default(),
            dir,
        };
        site.stages
            .set_lead_headers("X-Powered-By:Express\n")
            .expect("lead");
        for (layer, options) in stages {
            let files =
                StaticFiles::new(site.dir.to_str().expect("utf8"), options.clone()).expect("new");
            site.stages.insert(*layer, files);
        }
        site
    }

    fn layer(id: u32, path: &str) -> (u32, &str) {
        (id, path)
    }

    fn ask(site: &Site, method: Method, target: &str, layers: &[(u32, &str)]) -> StageAnswer {
        let pathname = crate::target::read(target).pathname.expect("a path");
        site.stages
            .answer(&method, target, pathname, &HeaderMap::new(), layers)
    }

    async fn respond(answer: StageAnswer) -> (u16, HeaderMap, Vec<u8>) {
        let StageAnswer::Respond(response) = answer else {
            panic!("expected a response")
        };
        let (parts, body) = response.into_parts();
        let body = body.into_bytes().await.expect("body").to_vec();
        (parts.status.as_u16(), parts.headers, body)
    }

    fn answered(answer: StageAnswer) -> usize {
        match answer {
            StageAnswer::Continue { answered } => answered,
            StageAnswer::Respond(r) => panic!("answered natively: {}", r.status()),
        }
    }

    #[tokio::test]
    async fn a_stage_answers_a_file_at_the_root_and_under_a_mount() {
        let site = site("answers", &[(0, Options::default())]);
        let (status, headers, body) =
            respond(ask(&site, Method::GET, "/a.txt", &[layer(0, "")])).await;
        assert_eq!((status, body.as_slice()), (200, &b"file a"[..]));
        assert_eq!(headers["x-powered-by"], "Express");
        let (_, _, body) = respond(ask(
            &site,
            Method::GET,
            "/static/a.txt?v=1",
            &[layer(0, "/static")],
        ))
        .await;
        assert_eq!(body, b"file a");
        // The mount point itself redirects to its slash, keeping the query.
        let (status, headers, _) = respond(ask(
            &site,
            Method::GET,
            "/static?v=1",
            &[layer(0, "/static")],
        ))
        .await;
        assert_eq!(status, 301);
        assert_eq!(headers["location"], "/static/?v=1");
        let (_, _, body) = respond(ask(
            &site,
            Method::GET,
            "/STATIC/sub/",
            &[layer(0, "/STATIC")],
        ))
        .await;
        assert_eq!(body, b"sub index");
    }

    #[test]
    fn misses_fall_through_and_leave_the_rest_to_js() {
        let site = site(
            "misses",
            &[(0, Options::default()), (1, Options::default())],
        );
        assert_eq!(
            answered(ask(
                &site,
                Method::GET,
                "/nope",
                &[layer(0, ""), layer(1, ""), layer(4, "")]
            )),
            2
        );
        assert_eq!(
            answered(ask(
                &site,
                Method::POST,
                "/a.txt",
                &[layer(0, ""), layer(4, "")]
            )),
            1
        );
        // A layer that is not a stage ends the walk, even if a stage matches after it.
        assert_eq!(
            answered(ask(
                &site,
                Method::GET,
                "/nope",
                &[layer(3, ""), layer(1, "")]
            )),
            0
        );
    }

    #[tokio::test]
    async fn a_later_stage_answers_what_an_earlier_one_missed() {
        let site = site("later", &[(0, Options::default()), (1, Options::default())]);
        let (_, _, body) = respond(ask(
            &site,
            Method::GET,
            "/assets/a.txt",
            &[layer(0, ""), layer(1, "/assets")],
        ))
        .await;
        assert_eq!(body, b"file a");
    }

    #[test]
    fn another_spelling_is_a_miss_and_errors_go_to_js() {
        let lenient = site("spelling", &[(0, Options::default())]);
        for target in ["/./a.txt", "/x/../a.txt", "//a.txt", "/%61.txt", "/a%2ftxt"] {
            assert_eq!(
                answered(ask(&lenient, Method::GET, target, &[layer(0, "")])),
                1,
                "{target}"
            );
        }
        let strict = site(
            "strict",
            &[(
                0,
                Options {
                    fallthrough: false,
                    ..Options::default()
                },
            )],
        );
        // serve-static would call next(err): JS runs the layer and its error handlers.
        for target in ["/./a.txt", "/nope"] {
            assert_eq!(
                answered(ask(&strict, Method::GET, target, &[layer(0, "")])),
                0,
                "{target}"
            );
        }
    }

    #[test]
    fn targets_whose_reading_js_must_format_are_left_to_it() {
        let site = site("forms", &[(0, Options::default())]);
        assert_eq!(
            answered(ask(&site, Method::GET, "http://h/nope", &[layer(0, "")])),
            0
        );
        // A redirect would carry the fragment: JS builds it.
        assert_eq!(
            answered(ask(&site, Method::GET, "/sub#x", &[layer(0, "")])),
            0
        );
    }

    #[test]
    fn cleared_stages_answer_nothing() {
        let site = site("cleared", &[(0, Options::default())]);
        site.stages.clear();
        assert!(site.stages.is_empty());
        assert_eq!(
            answered(ask(&site, Method::GET, "/a.txt", &[layer(0, "")])),
            0
        );
    }
}
