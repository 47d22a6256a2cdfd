//! Sessions: random 256-bit tokens naming encrypted values, rotated with a grace period.
//!
//! The rule that keeps rotation safe: only [`Store::create_session`] makes a token. Saving and
//! destroying act on the session a token names *now*: a rotated-away token within its grace
//! period names its successor, and after the grace (or once destroyed) it names nothing, so a
//! stale request can never bring a session back under an old token.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::completion::{self, Completion};
use crate::crypto;
use crate::frame::{MAX_KEY, MAX_SANDBOX, MAX_VALUE};
use crate::ops::Op;
use crate::store::{check_name, ttl_ms};
use crate::{Error, Store};

const SESSION_TOKEN_BYTES: usize = 32;

fn new_token() -> Result<String, Error> {
    let mut raw = Zeroizing::new([0u8; SESSION_TOKEN_BYTES]);
    crypto::random(&mut raw[..])?;
    Ok(crypto::base64url(&raw[..]))
}

impl Store {
    /// Creates a session holding `data`; resolves (once durable) to its random 256-bit token.
    pub fn create_session(
        &self,
        sandbox: &str,
        data: &[u8],
        ttl: Option<Duration>,
    ) -> Completion<String> {
        let token = match new_token() {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        let (c, f) = completion::pair::<String>();
        let inner = self.set(sandbox, &token, data, ttl);
        inner.on_complete(move |r| c.complete(r.map(|()| token)));
        f
    }

    /// The session's data, if the token is live (or an old token within its grace period).
    pub fn resolve_session(
        &self,
        sandbox: &str,
        token: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        self.get(sandbox, token)
    }

    /// Replaces the data of the session `token` names now: the token's own session, or, for
    /// a token rotated away less than its grace period ago, its successor's. Never creates a
    /// session: resolves to false (and writes nothing) for a token that names none, such as
    /// one rotated away longer ago than its grace, or destroyed. `ttl: None` keeps the
    /// session's expiry; `Some` restarts it.
    pub fn save_session(
        &self,
        sandbox: &str,
        token: &str,
        data: &[u8],
        ttl: Option<Duration>,
    ) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("token", token, MAX_KEY))
            .and_then(|()| {
                if data.len() > MAX_VALUE {
                    Err(Error::invalid(format!(
                        "session data exceeds {MAX_VALUE} bytes"
                    )))
                } else {
                    Ok(())
                }
            });
        let expires_at = match check.and_then(|()| ttl.map(|t| ttl_ms(Some(t))).transpose()) {
            Ok(e) => e,
            Err(e) => return completion::ready(Err(e)),
        };
        self.submit(Ok(()), |done| Op::SaveSession {
            sandbox: sandbox.to_owned(),
            token: Zeroizing::new(token.to_owned()),
            value: Zeroizing::new(data.to_vec()),
            expires_at,
            done,
        })
    }

    /// Issues a new token for the session; the old one resolves for `grace`, then never.
    /// Resolves to `None` if `token` is not a live session (e.g. already rotated).
    pub fn rotate_session(
        &self,
        sandbox: &str,
        token: &str,
        grace: Duration,
    ) -> Completion<Option<String>> {
        let new = match new_token() {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        let (c, f) = completion::pair::<Option<String>>();
        self.rotate(sandbox, token, &new, grace)
            .on_complete(move |r| c.complete(r.map(|ok| ok.then_some(new))));
        f
    }

    /// Destroys (and wipes) the session `token` names: with a token rotated away within its
    /// grace period, the successor session too (logging out from a stale tab ends the
    /// session). Resolves to whether a live session was destroyed.
    pub fn destroy_session(&self, sandbox: &str, token: &str) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("token", token, MAX_KEY));
        self.submit(check, |done| Op::DestroySession {
            sandbox: sandbox.to_owned(),
            token: Zeroizing::new(token.to_owned()),
            done,
        })
    }
}
