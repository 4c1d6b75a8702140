//! The control API, under `/_config/` (a prefix no Stripe path uses): what tests reach in
//! with. Authenticated with the account's secret key like `/v1`, and scoped to that
//! account; form-encoded bodies, JSON answers, Stripe-shaped errors.
//!
//! - `checkout`: complete a session headlessly, as the payment page would;
//! - `clock`: read, pin, advance, or release the account's clock;
//! - `faults`: inject API and webhook faults;
//! - `deliveries`: the attempt log, and redelivery of an event;
//! - `account`: settings, emptying the account, health, localstripe's `/_config/webhooks`;
//! - `dashboard`: an HTML page to look at an account, with a Resend button per event.
//!
//! When the mock listens beyond loopback it has a control token, and every call here must
//! carry it in `X-Control-Token` (compared in constant time).

mod account;
mod checkout;
mod clock;
mod dashboard;
mod deliveries;
mod faults;

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use crate::app::App;
use crate::protocol::{ApiError, ApiResult, Params, RequestCtx, auth, to_json};
use crate::router::{read_params, segments};
use crate::server::{Resp, json_error, json_response};
use crate::store::AccountRef;

/// A control call, as the handlers see it.
pub(crate) struct Call<'a> {
    pub app: &'a Arc<App>,
    /// `None` only for the calls that work without a key (health, localstripe's).
    pub account: Option<AccountRef>,
    pub params: Params,
    pub ctx: RequestCtx,
}

impl Call<'_> {
    /// The caller's account; calls that need one are refused without a key before here.
    pub fn account(&self) -> ApiResult<&AccountRef> {
        self.account.as_ref().ok_or_else(|| {
            auth::authenticate(None)
                .err()
                .unwrap_or_else(|| ApiError::bad_request("This call needs an API key."))
        })
    }
}

/// A JSON answer.
pub(crate) fn ok<T: Serialize + ?Sized>(value: &T) -> ApiResult<Resp> {
    Ok(json_response(StatusCode::OK, to_json(value)?))
}

pub(crate) async fn route(app: &Arc<App>, req: Request<Incoming>, request_id: &str) -> Resp {
    match route_inner(app, req, request_id).await {
        Ok(resp) => resp,
        Err(e) => json_error(&e),
    }
}

/// Whether a call works without an API key.
fn keyless(method: &Method, segs: &[&str]) -> bool {
    matches!(
        (method.as_str(), segs),
        ("GET", ["health"])
            | ("GET", ["dashboard"])
            | ("POST", ["dashboard", "redeliver"])
            | ("POST", ["webhooks", _])
            | ("DELETE", ["data"])
    )
}

async fn route_inner(app: &Arc<App>, req: Request<Incoming>, request_id: &str) -> ApiResult<Resp> {
    if let Some(token) = &app.control_token {
        let given = req
            .headers()
            .get("x-control-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !constant_time_eq(given, token.as_bytes()) {
            return Err(ApiError::unauthorized(
                None,
                "This mock-stripe listens beyond loopback: control calls need its control token in the X-Control-Token header.",
            ));
        }
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let owned = segments(path.trim_start_matches("/_config").trim_start_matches('/'));
    let segs: Vec<&str> = owned.iter().map(|s| &**s).collect();
    let authorization = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let connected = req
        .headers()
        .get("stripe-account")
        .map(|v| v.as_bytes().to_vec());
    let account = match authorization {
        Some(h) => {
            let key = auth::authenticate(Some(&h))?;
            let acct = auth::connected_account(connected.as_deref(), &key)?;
            Some(app.store.account_for(&key, acct.as_deref())?)
        }
        None if keyless(&method, &segs) => None,
        None => return Err(auth::authenticate(None).unwrap_err()),
    };
    let params = read_params(req).await?;
    let call = Call {
        app,
        account,
        params,
        ctx: RequestCtx {
            request_id: request_id.to_string(),
            version: None,
            idempotency_key: None,
        },
    };
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["health"]) => ok(&serde_json::json!({"object": "health", "status": "ok"})),
        ("GET", ["dashboard"]) => dashboard::show(&call),
        ("POST", ["dashboard", "redeliver"]) => dashboard::resend(&call),
        ("POST", ["checkout", "sessions", id, "complete"]) => checkout::complete(&call, id).await,
        ("GET", ["clock"]) => clock::show(&call),
        ("POST", ["clock"]) => clock::pin(&call),
        ("POST", ["clock", "advance"]) => clock::advance(&call).await,
        ("DELETE", ["clock"]) => clock::release(&call),
        ("GET", ["faults"]) => faults::list(&call),
        ("POST", ["faults"]) => faults::create(&call),
        ("DELETE", ["faults"]) => faults::clear(&call),
        ("GET", ["deliveries"]) => deliveries::list(&call),
        ("POST", ["events", id, "redeliver"]) => deliveries::redeliver(&call, id),
        ("GET", ["settings"]) => account::settings(&call),
        ("POST", ["settings"]) => account::update_settings(&call),
        ("DELETE", ["data"]) => account::clear_data(&call),
        ("POST", ["webhooks", id]) => account::register_webhook(&call, id),
        _ => Err(ApiError::unrecognized_url(method.as_str(), &path)),
    }
}

/// Compares secrets without an early exit, so timing does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
