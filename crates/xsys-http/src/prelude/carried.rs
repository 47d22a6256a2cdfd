//! What the stages decided for a request that goes on to JS: its headers, `req.rateLimit`, and
//! the rate limiters' hits still to settle once the response's status is known.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Response;
use xsys_security::rate_limit::{Completion, PendingHit, RateLimit, RateLimitInfo};

use super::headers::HeaderList;
use crate::body::ResponseBody;

/// What the stages decided for a request that goes on to JS (or to a native 404).
pub(crate) struct Carried {
    pub(crate) headers: HeaderList,
    pub(crate) settlement: Settlement,
    /// `req.rateLimit` of each rate-limit stage that ran, by its ordinal among the plan's.
    pub(super) limits: Vec<(usize, RateLimitInfo)>,
    plan: u32,
    pub(super) notices: u32,
    /// How many of the plan's stages the engine ran; JS runs the rest (a static stage only JS can
    /// settle for this request, and every stage after it).
    pub(super) ran: usize,
    stages: usize,
    /// A body parser will refuse the body for its length before reading it (see body.rs).
    pub(crate) refuse_body: bool,
}

impl Carried {
    /// The state before the first of `stages` stages of plan `plan` runs.
    pub(super) fn new(headers: HeaderList, plan: u32, stages: usize) -> Carried {
        Carried {
            headers,
            settlement: Settlement::default(),
            limits: Vec::new(),
            plan,
            notices: 0,
            ran: stages,
            stages,
            refuse_body: false,
        }
    }

    /// What a request the stages did not run for starts with, for a native answer.
    pub(crate) fn plain(headers: HeaderList) -> Carried {
        Carried::new(headers, 0, 0)
    }

    /// Whether the engine ran every stage: the route mirror's candidates then stand for the
    /// rest of the stack (else JS matches it, from the first stage it runs).
    pub(crate) fn ran_all(&self) -> bool {
        self.ran == self.stages
    }

    /// Answers now with these headers, as `res.status(status).send(body)` (or `res.end()`) after
    /// the stages, and settles the rate limiters' hits.
    pub(crate) fn answer(
        self,
        status: u16,
        body: Bytes,
        utf8: bool,
        now_ms: u64,
    ) -> Response<ResponseBody> {
        self.respond(status, ResponseBody::full(body), utf8, now_ms)
    }

    /// Answers now with these headers and `body` (see [`HeaderList::response`]).
    pub(super) fn respond(
        mut self,
        status: u16,
        body: ResponseBody,
        utf8: bool,
        now_ms: u64,
    ) -> Response<ResponseBody> {
        let response = std::mem::take(&mut self.headers).response(status, body, utf8);
        self.settlement.finish_at(status, now_ms);
        response
    }

    /// What JS gets with the request (the batch's `prelude` field): the plan id, the notices, how
    /// many of the plan's stages the engine ran, the `req.rateLimit` values of each rate limiter
    /// that ran (its ordinal among the plan's rate limiters first), then the headers as
    /// `Name:value` lines:
    ///
    /// ```text
    /// <plan>\n<notices>\n<ran>\n<count>\n(<ordinal>\n<limit>\n<used>\n<remaining>\n<resetMs>\n<key>\n)*(<Name>:<value>\n)*
    /// ```
    pub(crate) fn text(&self) -> Bytes {
        use std::fmt::Write as _;
        let mut head = String::with_capacity(64);
        let _ = write!(
            head,
            "{}\n{}\n{}\n{}\n",
            self.plan,
            self.notices,
            self.ran,
            self.limits.len()
        );
        for (ordinal, info) in &self.limits {
            let _ = write!(
                head,
                "{ordinal}\n{}\n{}\n{}\n{}\n{}\n",
                xsys_security::number_to_string(info.limit),
                info.used,
                xsys_security::number_to_string(info.remaining),
                info.reset_time_ms,
                info.key
            );
        }
        let mut out = Vec::with_capacity(head.len() + 64 * self.headers.len());
        out.extend_from_slice(head.as_bytes());
        self.headers.write_lines(&mut out);
        Bytes::from(out)
    }
}

/// Rate-limit hits to take back (or not) once the response's fate is known, as
/// express-rate-limit's `'finish'` / `'close'` listeners do. Dropped unsettled, the response
/// never finished: the hits settle as aborted.
#[derive(Default)]
pub(crate) struct Settlement {
    pending: Vec<(Arc<RateLimit>, PendingHit)>,
    status: Option<u16>,
}

impl Settlement {
    /// Keeps a hit to settle with the response.
    pub(super) fn hold(&mut self, limiter: Arc<RateLimit>, hit: PendingHit) {
        self.pending.push((limiter, hit));
    }

    /// The status the response's head went out with.
    pub(crate) fn head_sent(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// The response is complete with this status.
    pub(crate) fn finish(&mut self, status: u16) {
        self.finish_at(status, now_ms());
    }

    /// A streamed response ended: it finished with the status its head had.
    pub(crate) fn finish_streamed(&mut self) {
        if let Some(status) = self.status {
            self.finish(status);
        }
    }

    pub(super) fn finish_at(&mut self, status: u16, now_ms: u64) {
        for (limiter, hit) in self.pending.drain(..) {
            limiter.settle(hit, Completion::finished(status), now_ms);
        }
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let now = now_ms();
        for (limiter, hit) in self.pending.drain(..) {
            limiter.settle(hit, Completion::Aborted, now);
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
