//! The Stripe.js stand-in, for pages that call `Stripe(pk).redirectToCheckout({sessionId})`.
//!
//! * `GET /v3/` (and `/v3`, as js.stripe.com serves both): the script (`stripe-v3.js`).
//! * `GET /v3/checkout/sessions/{id}?key=pk_test_…[&stripe_account=acct_…]`: what the
//!   script asks before redirecting: the session's payment page, or the error Stripe.js
//!   resolves with. A publishable key `pk_test_X` belongs to the account of `sk_test_X`.
//!
//! Why here and not under `/v1` or `/_config`: `/v1` takes secret keys only, as on Stripe
//! (a `pk_` key there stays a 401 `secret_key_required`), and `/_config` needs the secret
//! key (and off loopback the control token), which a page never has. So the one lookup a
//! publishable key may make lives beside the script: it answers only an open session's
//! payment URL, which anyone holding the session id could open anyway. Answers carry
//! `Access-Control-Allow-Origin: *`, since the page is on the shop's origin.

use std::sync::Arc;

use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use crate::app::App;
use crate::protocol::{ApiError, ApiResult, auth, to_json};
use crate::resources::checkout_sessions::{self, Status};
use crate::server::{Resp, json_error, json_response};

const SCRIPT: &str = include_str!("stripe-v3.js");

/// The prefix of the session lookup.
const SESSIONS: &str = "/v3/checkout/sessions/";

pub(crate) fn route(app: &Arc<App>, req: &Request<Incoming>) -> Resp {
    let path = req.uri().path();
    let mut resp = match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/v3" | "/v3/") => script(app),
        (&Method::GET, p) if p.starts_with(SESSIONS) => {
            let id = percent_encoding::percent_decode_str(&p[SESSIONS.len()..])
                .decode_utf8_lossy()
                .into_owned();
            match lookup(app, &id, req.uri().query().unwrap_or("")) {
                Ok(r) => r,
                Err(e) => json_error(&e),
            }
        }
        _ => json_error(&ApiError::unrecognized_url(req.method().as_str(), path)),
    };
    resp.headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp
}

fn script(app: &App) -> Resp {
    let body = SCRIPT.replace("__MOCK_BASE_URL__", &app.base_url);
    let mut resp = json_response(StatusCode::OK, body.into_bytes());
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `pk_test_X` → `sk_test_X`, with Stripe's 401s for anything else.
fn secret_key_of(publishable: Option<&str>) -> ApiResult<String> {
    let Some(pk) = publishable.filter(|k| !k.is_empty()) else {
        return Err(auth::authenticate(None).unwrap_err());
    };
    let invalid = || {
        ApiError::unauthorized(
            None,
            format!("Invalid API Key provided: {}", auth::mask_key(pk)),
        )
    };
    let suffix = pk.strip_prefix("pk_test_").ok_or_else(invalid)?;
    let well_formed = !suffix.is_empty()
        && suffix.len() <= 247
        && suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(invalid());
    }
    Ok(format!("sk_test_{suffix}"))
}

#[derive(Serialize)]
struct Redirect<'a> {
    id: &'a str,
    object: &'static str,
    url: &'a str,
}

fn lookup(app: &App, id: &str, query: &str) -> ApiResult<Resp> {
    let mut key = None;
    let mut connected = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "key" => key = Some(v.into_owned()),
            "stripe_account" => connected = Some(v.into_owned()),
            _ => {}
        }
    }
    let secret = secret_key_of(key.as_deref())?;
    let connected = auth::connected_account(connected.as_ref().map(|c| c.as_bytes()), &secret)?;
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Some("resource_missing"),
            format!("No such payment_page: '{id}'"),
        )
    };
    // A key never used holds no session: no account is made for it here.
    let account = app
        .store
        .existing_account(&secret, connected.as_deref())
        .ok_or_else(missing)?;
    // A step: looking may expire the session (lazy expiry emits its event).
    let view = app
        .engine
        .step(&account, |acc| checkout_sessions::page_view(acc, id))
        .value?;
    let view = view.ok_or_else(missing)?;
    match view.status {
        Status::Open => {
            let url = format!("{}/c/pay/{}", app.base_url, view.id);
            let body = to_json(&Redirect {
                id: &view.id,
                object: "checkout.session",
                url: &url,
            })?;
            Ok(json_response(StatusCode::OK, body))
        }
        Status::Expired => Err(ApiError::bad_request(
            "This Checkout Session has expired: create a new one to try again.",
        )),
        Status::Complete => Err(ApiError::bad_request(
            "This Checkout Session is already complete.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_name_their_secret_key() {
        assert_eq!(
            secret_key_of(Some("pk_test_abc123")).unwrap(),
            "sk_test_abc123"
        );
        for bad in [
            "sk_test_abc",
            "pk_live_abc",
            "pk_test_",
            "pk_test_a b",
            "hello",
        ] {
            let e = secret_key_of(Some(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{bad}");
            assert!(e.message.starts_with("Invalid API Key provided"), "{bad}");
        }
        let e = secret_key_of(None).unwrap_err();
        assert!(e.message.starts_with("You did not provide an API key."));
    }

    #[test]
    fn the_script_defines_stripe_and_redirect_to_checkout() {
        assert!(SCRIPT.contains("window.Stripe = Stripe"));
        assert!(SCRIPT.contains("Stripe.prototype.redirectToCheckout"));
        assert!(SCRIPT.contains(SESSIONS));
    }
}
