//! The 3-D Secure page of a PaymentIntent confirmed through the API,
//! `GET`/`POST /c/3ds/{pi}`: what `next_action.redirect_to_url.url` points at. The same
//! challenge as Checkout's ("Complete authentication" / "Fail authentication"); the answer
//! sends the payer to the confirm's `return_url` with Stripe's query
//! (`payment_intent`, `payment_intent_client_secret`, `redirect_status`).
//!
//! A browser has no API key: the intent is found through the index the router fills
//! when an intent starts waiting for the payer.

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use super::page;
use crate::app::App;
use crate::protocol::form::Value;
use crate::protocol::{ApiError, Params};
use crate::resources::payment_intents::{self, PiStatus};
use crate::server::{Resp, html_response};

/// Where the page posts the answer: the page's own path.
const PREFIX: &str = "/c/3ds/";

fn field(params: &Params, name: &str) -> String {
    match params.root.get(name) {
        Some(Value::Str(s)) => s.trim().to_string(),
        _ => String::new(),
    }
}

fn notice(status: StatusCode, title: &str, message: &str, link: Option<&str>) -> Resp {
    let body = page::notice_page(title, message, link.map(|u| (u, "Return to the shop")));
    html_response(status, body, None)
}

fn not_found() -> Resp {
    notice(
        StatusCode::NOT_FOUND,
        "Authentication not found",
        "There is no 3D Secure authentication at this address.",
        None,
    )
}

fn not_pending() -> Resp {
    notice(
        StatusCode::OK,
        "Nothing to authenticate",
        "This payment is not waiting for authentication (it was answered already, or \
         confirmed again since).",
        None,
    )
}

/// `/c/3ds/{pi}`: the challenge, and the payer's answer.
pub(crate) async fn route(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let raw_id = path.trim_start_matches(PREFIX);
    if raw_id.is_empty() || raw_id.contains('/') {
        return not_found();
    }
    let id = percent_decode_str(raw_id).decode_utf8_lossy().into_owned();
    match *req.method() {
        Method::GET | Method::HEAD => {
            let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
            let params = Params::decode(&[&query]).unwrap_or_default();
            show(app, &id, &field(&params, "challenge"))
        }
        Method::POST => match crate::router::read_body(req.into_body()).await {
            Ok(body) => answer(app, &id, &body),
            Err(e) => super::error_page(&e),
        },
        _ => super::error_page(&ApiError::unrecognized_url(req.method().as_str(), &path)),
    }
}

/// `GET /c/3ds/{pi}?challenge=…`
fn show(app: &App, id: &str, token: &str) -> Resp {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let acc = crate::store::lock(&account);
    let Some(pi) = acc.payment_intents.get(id) else {
        return not_found();
    };
    let waiting = pi.status == PiStatus::RequiresAction
        && pi.next_action.as_ref().is_some_and(|a| a.token == token);
    if !waiting {
        return not_pending();
    }
    let action = format!("{PREFIX}{id}");
    let body = page::challenge_page(pi.amount, &pi.currency, &action, token);
    html_response(StatusCode::OK, body, None)
}

/// `POST /c/3ds/{pi}` with `challenge` and `outcome=complete|fail`.
fn answer(app: &App, id: &str, body: &[u8]) -> Resp {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let params = Params::decode(&[body]).unwrap_or_default();
    let token = field(&params, "challenge");
    let complete = field(&params, "outcome") == "complete";
    let result = app
        .engine
        .step(&account, |acc| {
            payment_intents::authenticate(acc, id, &token, complete)
        })
        .value;
    match result {
        Ok(Some(done)) => match done.redirect {
            Some(url) => html_response(StatusCode::SEE_OTHER, String::new(), Some(&url)),
            None if done.status == PiStatus::RequiresPaymentMethod => notice(
                StatusCode::OK,
                "Authentication failed",
                "The payment was not made. You can close this window.",
                None,
            ),
            None => notice(
                StatusCode::OK,
                "Authentication complete",
                "You can close this window.",
                None,
            ),
        },
        Ok(None) => not_pending(),
        Err(e) => {
            tracing::error!("3-D Secure for {id}: {}", e.message);
            notice(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "mock-stripe could not process this page. See its log.",
                None,
            )
        }
    }
}
