//! The hosted payment page, `GET`/`POST /c/pay/{session_id}`: what the session's `url`
//! points at. A browser has no API key, so the session is found through the global
//! session index.

pub(crate) mod page;

use std::time::Duration;

use http::StatusCode;

use crate::cards;
use crate::protocol::Params;
use crate::protocol::form::Value;
use crate::resources::checkout_sessions::{self, PageView, PayResult, Payer, Status};
use crate::server::App;
use crate::store::lock;
use page::{FormState, PageError};

/// An HTML answer, or a redirect.
pub(crate) struct HtmlReply {
    pub status: StatusCode,
    pub body: String,
    pub location: Option<String>,
}

impl HtmlReply {
    fn html(status: StatusCode, body: String) -> Self {
        HtmlReply {
            status,
            body,
            location: None,
        }
    }

    fn see_other(location: String) -> Self {
        HtmlReply {
            status: StatusCode::SEE_OTHER,
            body: String::new(),
            location: Some(location),
        }
    }
}

fn not_found() -> HtmlReply {
    HtmlReply::html(
        StatusCode::NOT_FOUND,
        page::notice_page(
            "Checkout Session not found",
            "There is no Checkout Session at this address. Check the link, or start the checkout again from the shop.",
            None,
        ),
    )
}

fn expired_page(view: &PageView) -> HtmlReply {
    HtmlReply::html(
        StatusCode::GONE,
        page::notice_page(
            "This Checkout Session is no longer available",
            "It has expired. Go back to the shop to start a new checkout.",
            view.cancel_url
                .as_deref()
                .map(|u| (u, "Return to the shop")),
        ),
    )
}

fn paid_page(view: &PageView) -> HtmlReply {
    HtmlReply::html(
        StatusCode::OK,
        page::notice_page(
            "This Checkout Session is already paid",
            "Your payment was received. There is nothing left to do here.",
            view.redirect.as_deref().map(|u| (u, "Return to the shop")),
        ),
    )
}

fn internal_error() -> HtmlReply {
    HtmlReply::html(
        StatusCode::INTERNAL_SERVER_ERROR,
        page::notice_page(
            "Something went wrong",
            "mock-stripe could not process this page. See its log.",
            None,
        ),
    )
}

/// `GET /c/pay/{id}`
pub(crate) fn show(app: &App, id: &str) -> HtmlReply {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let (view, outbox) = {
        let mut acc = lock(&account);
        let view = checkout_sessions::page_view(&mut acc, id);
        (view, acc.take_outbox())
    };
    // Lazy expiry may have emitted `checkout.session.expired`.
    app.deliverer.dispatch(&account, outbox, None);
    match view {
        Ok(Some(view)) => match view.status {
            Status::Open => {
                let form = FormState {
                    email: view.customer_email.clone().unwrap_or_default(),
                    name: String::new(),
                };
                HtmlReply::html(StatusCode::OK, page::form_page(&view, &form, None))
            }
            Status::Complete => paid_page(&view),
            Status::Expired => expired_page(&view),
        },
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!("hosted page for {id}: {}", e.message);
            internal_error()
        }
    }
}

fn field(params: &Params, name: &str) -> String {
    match params.root.get(name) {
        Some(Value::Str(s)) => s.trim().to_string(),
        _ => String::new(),
    }
}

fn email_problem(email: &str) -> Option<&'static str> {
    if email.is_empty() {
        return Some("Your email is incomplete.");
    }
    let ok = email.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && d.contains('.') && !d.ends_with('.') && !d.starts_with('.')
    }) && !email.contains(char::is_whitespace);
    (!ok).then_some("Your email address is invalid.")
}

enum Step {
    Done(HtmlReply),
    /// Paid: redirect once the first delivery attempts of `checkout.session.completed` are over.
    Redirect(Option<String>, Vec<tokio::sync::oneshot::Receiver<()>>),
}

/// `POST /c/pay/{id}`: validate the form, charge the card, then (on success) wait for the
/// first delivery attempt of `checkout.session.completed` to every endpoint, bounded by
/// `delivery_timeout`, and answer `303 See Other` to the success URL.
pub(crate) async fn submit(app: &App, id: &str, body: &[u8]) -> HtmlReply {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let params = Params::decode(&[body]).unwrap_or_default();
    let form = FormState {
        email: field(&params, "email"),
        name: field(&params, "billingName"),
    };

    let step = {
        // Everything below runs under the account lock and never awaits.
        let mut acc = lock(&account);
        let step = submit_locked(&mut acc, id, &params, &form);
        let outbox = acc.take_outbox();
        drop(acc);
        let wait_for = matches!(step, Step::Redirect(..)).then_some("checkout.session.completed");
        let waits = app.deliverer.dispatch(&account, outbox, wait_for);
        match step {
            Step::Redirect(url, _) => Step::Redirect(url, waits),
            done => done,
        }
    };
    match step {
        Step::Done(reply) => reply,
        Step::Redirect(url, waits) => {
            wait_first_attempts(waits, app.delivery_timeout).await;
            match url {
                Some(u) => HtmlReply::see_other(u),
                None => HtmlReply::html(
                    StatusCode::OK,
                    page::notice_page(
                        "Payment complete",
                        "Thank you: your payment was received.",
                        None,
                    ),
                ),
            }
        }
    }
}

async fn wait_first_attempts(waits: Vec<tokio::sync::oneshot::Receiver<()>>, timeout: Duration) {
    let all = async {
        for w in waits {
            // An error only means the delivery task ended early (shutdown): nothing to wait for.
            let _ = w.await;
        }
    };
    if tokio::time::timeout(timeout, all).await.is_err() {
        tracing::warn!("webhook targets still busy after {timeout:?}: redirecting anyway");
    }
}

fn submit_locked(
    acc: &mut crate::store::Account,
    id: &str,
    params: &Params,
    form: &FormState,
) -> Step {
    let view = match checkout_sessions::page_view(acc, id) {
        Ok(Some(v)) => v,
        Ok(None) => return Step::Done(not_found()),
        Err(e) => {
            tracing::error!("payment page for {id}: {}", e.message);
            return Step::Done(internal_error());
        }
    };
    match view.status {
        // A double submit: the first one paid; send the browser where it would have gone.
        Status::Complete => {
            return match view.redirect.clone() {
                Some(u) => Step::Done(HtmlReply::see_other(u)),
                None => Step::Done(paid_page(&view)),
            };
        }
        Status::Expired => return Step::Done(expired_page(&view)),
        Status::Open => {}
    }
    let rerender = |status: StatusCode, code: &str, decline_code: Option<&str>, message: &str| {
        let e = PageError {
            code,
            decline_code,
            message,
        };
        Step::Done(HtmlReply::html(
            status,
            page::form_page(&view, form, Some(&e)),
        ))
    };
    if let Some(message) = email_problem(&form.email) {
        return rerender(StatusCode::BAD_REQUEST, "email_invalid", None, message);
    }
    let card = match cards::check(
        &field(params, "cardNumber"),
        &field(params, "cardExpiry"),
        &field(params, "cardCvc"),
        acc.now(),
    ) {
        Ok(card) => card,
        Err(e) => return rerender(StatusCode::BAD_REQUEST, e.code, e.decline_code, e.message),
    };
    let name = (!form.name.is_empty()).then_some(form.name.as_str());
    match checkout_sessions::pay(
        acc,
        id,
        &Payer {
            card: &card,
            email: &form.email,
            name,
        },
    ) {
        Ok(PayResult::Completed(url)) => {
            tracing::info!(session = %id, "paid with card ending {}", card.last4());
            Step::Redirect(url, Vec::new())
        }
        Ok(PayResult::AlreadyComplete(Some(url))) => Step::Done(HtmlReply::see_other(url)),
        Ok(PayResult::AlreadyComplete(None)) => Step::Done(paid_page(&view)),
        Ok(PayResult::Expired) => Step::Done(expired_page(&view)),
        Ok(PayResult::Declined(e)) => {
            tracing::info!(session = %id, "card ending {} declined: {}", card.last4(), e.decline_code.unwrap_or(e.code));
            rerender(
                StatusCode::PAYMENT_REQUIRED,
                e.code,
                e.decline_code,
                e.message,
            )
        }
        Err(e) => {
            tracing::error!("payment for {id}: {}", e.message);
            Step::Done(internal_error())
        }
    }
}
