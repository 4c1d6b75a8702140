//! The hosted payment page, `GET`/`POST /c/pay/{session_id}`: what the session's `url`
//! points at. A browser has no API key, so the session is found through the global
//! session index.

pub(crate) mod page;
pub(crate) mod three_d_secure;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use crate::app::App;
use crate::bank_debits::{self, BankKind};
use crate::cards::{self, CardError, DeclineCode};
use crate::engine::step::Routing;
use crate::protocol::ApiError;
use crate::protocol::Params;
use crate::protocol::form::Value;
use crate::resources::checkout_sessions::{self, PageView, PayResult, Payer, Status};
use crate::server::{Resp, html_response};
use crate::store::{AccountRef, RedirectTiming};
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

/// Whether `path` is one of the browser's pages (`/c/pay/…`, `/c/3ds/…`), whose errors
/// are pages too.
pub(crate) fn is_page(path: &str) -> bool {
    path.starts_with("/c/pay/") || path.starts_with("/c/3ds/")
}

/// A refused request to a page (wrong method, body too large or too slow, URI too long):
/// a page with the error's status and message, for the browser that sent it.
pub(crate) fn error_page(e: &ApiError) -> Resp {
    let title = match e.status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "Page not found",
        _ => "This request could not be processed",
    };
    html_response(e.status, page::notice_page(title, &e.message, None), None)
}

/// `/c/pay/{id}`: the page, and the form's submission.
pub(crate) async fn route(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let rest = path.trim_start_matches("/c/pay/");
    let (raw_id, action) = rest.split_once('/').unwrap_or((rest, ""));
    let id = percent_decode_str(raw_id).decode_utf8_lossy().into_owned();
    let reply = match (req.method().clone(), action) {
        (Method::GET | Method::HEAD, "") => show(app, &id),
        // A reload after answering 3-D Secure: show the session's page as it is now.
        (Method::GET | Method::HEAD, AUTHENTICATE) => show(app, &id),
        (Method::POST, "" | AUTHENTICATE) => {
            match crate::router::read_body(req.into_body()).await {
                Ok(body) if action.is_empty() => submit(app, &id, &body).await,
                Ok(body) => answer_challenge(app, &id, &body).await,
                Err(e) => return error_page(&e),
            }
        }
        _ => return error_page(&ApiError::unrecognized_url(req.method().as_str(), &path)),
    };
    html_response(reply.status, reply.body, reply.location.as_deref())
}

/// Where the 3-D Secure page posts the payer's answer: `/c/pay/{id}/authenticate`.
const AUTHENTICATE: &str = "authenticate";

/// `GET /c/pay/{id}`
fn show(app: &App, id: &str) -> HtmlReply {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    // A step: lazy expiry may emit `checkout.session.expired`.
    let view = app
        .engine
        .step(&account, |acc| checkout_sessions::page_view(acc, id))
        .value;
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
    /// Paid: redirect, timed against the first delivery of `checkout.session.completed`.
    Redirect(Option<String>),
}

/// The event a shop fulfils on, whose first delivery the redirect is timed against.
const COMPLETED: &str = "checkout.session.completed";

/// With `after` timing, how long after the redirect the held deliveries go out (real time:
/// this is about the order two network requests arrive in, not simulated time).
const AFTER_REDIRECT_BEAT: Duration = Duration::from_millis(500);

/// `POST /c/pay/{id}`: validate the form, charge the card, then (on success) redirect to
/// the success URL, timed as the account's `redirect_timing` says.
async fn submit(app: &Arc<App>, id: &str, body: &[u8]) -> HtmlReply {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let params = Params::decode(&[body]).unwrap_or_default();
    let form = FormState {
        email: field(&params, "email"),
        name: field(&params, "billingName"),
    };
    let timing = crate::store::lock(&account).settings.redirect_timing;
    let stepped = app.engine.step_routed(
        &account,
        Routing {
            hold: (timing == RedirectTiming::After).then_some(COMPLETED),
        },
        |acc| submit_locked(acc, id, &params, &form),
    );
    finish_payment(app, &account, timing, stepped).await
}

/// `POST /c/pay/{id}/authenticate`: the payer completed or failed 3-D Secure.
async fn answer_challenge(app: &Arc<App>, id: &str, body: &[u8]) -> HtmlReply {
    let Some(account) = app.store.session_account(id) else {
        return not_found();
    };
    let params = Params::decode(&[body]).unwrap_or_default();
    let token = field(&params, "challenge");
    let complete = field(&params, "outcome") == "complete";
    let timing = crate::store::lock(&account).settings.redirect_timing;
    let stepped = app.engine.step_routed(
        &account,
        Routing {
            hold: (timing == RedirectTiming::After).then_some(COMPLETED),
        },
        |acc| {
            let view = match checkout_sessions::page_view(acc, id) {
                Ok(Some(v)) => v,
                Ok(None) => return Step::Done(not_found()),
                Err(e) => {
                    tracing::error!("3-D Secure for {id}: {}", e.message);
                    return Step::Done(internal_error());
                }
            };
            let form = FormState {
                email: view.customer_email.clone().unwrap_or_default(),
                name: String::new(),
            };
            match checkout_sessions::authenticate(acc, id, &token, complete) {
                // Answered already, or a forged token: show the session as it is now.
                Ok(None) => Step::Done(HtmlReply::html(
                    StatusCode::OK,
                    page::form_page(&view, &form, None),
                )),
                Ok(Some(result)) => payment_step(id, &view, &form, result, "3-D Secure card"),
                Err(e) => {
                    tracing::error!("3-D Secure for {id}: {}", e.message);
                    Step::Done(internal_error())
                }
            }
        },
    );
    finish_payment(app, &account, timing, stepped).await
}

/// Sends the browser on once a payment step is over: a page, or the timed redirect.
async fn finish_payment(
    app: &Arc<App>,
    account: &AccountRef,
    timing: RedirectTiming,
    stepped: crate::engine::step::Stepped<Step>,
) -> HtmlReply {
    let completed = stepped.deliveries_of(COMPLETED);
    match stepped.value {
        Step::Done(reply) => reply,
        Step::Redirect(url) => {
            redirect_timed(app, account, timing, completed).await;
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

/// Waits (or not) before the browser is sent on, as `timing` says. `completed` are the
/// deliveries of `checkout.session.completed` the payment queued.
pub(crate) async fn redirect_timed(
    app: &Arc<App>,
    account: &AccountRef,
    timing: RedirectTiming,
    completed: Vec<u64>,
) {
    match timing {
        RedirectTiming::Before => {
            if !app
                .engine
                .wait_first_attempts(account, &completed, app.webhook_timeout)
                .await
            {
                tracing::warn!(
                    "webhook targets still busy after {:?}: redirecting anyway",
                    app.webhook_timeout
                );
            }
        }
        RedirectTiming::After => {
            let (app, account) = (app.clone(), account.clone());
            tokio::spawn(async move {
                tokio::time::sleep(AFTER_REDIRECT_BEAT).await;
                app.engine.release(&account, &completed);
            });
        }
        RedirectTiming::Concurrent => {}
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
    let rerender_error = |e: &CardError| {
        rerender(
            StatusCode::BAD_REQUEST,
            e.code.as_str(),
            e.decline_code.map(DeclineCode::as_str),
            &e.message,
        )
    };
    if let Some(message) = email_problem(&form.email) {
        return rerender(StatusCode::BAD_REQUEST, "email_invalid", None, message);
    }
    let name = (!form.name.is_empty()).then_some(form.name.as_str());
    let method = field(params, "paymentMethod");
    if let Some(kind) = BankKind::parse(&method).filter(|k| view.methods.contains(&k.as_str())) {
        let bank = match kind {
            BankKind::SepaDebit => bank_debits::check_iban(&field(params, "iban")),
            BankKind::UsBankAccount => bank_debits::check_us_account(
                &field(params, "routingNumber"),
                &field(params, "accountNumber"),
            ),
        };
        let bank = match bank {
            Ok(b) => b,
            Err(e) => return rerender_error(&e),
        };
        let label = format!("{} ending {}", kind.as_str(), bank.last4);
        return match checkout_sessions::pay_by_bank(acc, id, &bank, &form.email, name) {
            Ok(result) => payment_step(id, &view, form, result, &label),
            Err(e) => {
                tracing::error!("payment for {id}: {}", e.message);
                Step::Done(internal_error())
            }
        };
    }
    if !view.methods.contains(&"card") {
        return rerender(
            StatusCode::BAD_REQUEST,
            "payment_method_unavailable",
            None,
            "This payment method is not available for this Checkout Session.",
        );
    }
    let card = match cards::check(
        &field(params, "cardNumber"),
        &field(params, "cardExpiry"),
        &field(params, "cardCvc"),
        acc.now(),
    ) {
        Ok(card) => card,
        Err(e) => return rerender_error(&e),
    };
    let result = checkout_sessions::pay(
        acc,
        id,
        &Payer {
            card: &card,
            email: &form.email,
            name,
            authenticated: None,
        },
    );
    let label = format!("card ending {}", card.last4());
    match result {
        Ok(result) => payment_step(id, &view, form, result, &label),
        Err(e) => {
            tracing::error!("payment for {id}: {}", e.message);
            Step::Done(internal_error())
        }
    }
}

/// What the browser gets for the result of a payment attempt.
fn payment_step(
    id: &str,
    view: &PageView,
    form: &FormState,
    result: PayResult,
    label: &str,
) -> Step {
    match result {
        PayResult::Completed(url) => {
            tracing::info!(session = %id, "paid with {label}");
            Step::Redirect(url)
        }
        PayResult::AlreadyComplete(Some(url)) => Step::Done(HtmlReply::see_other(url)),
        PayResult::AlreadyComplete(None) => Step::Done(paid_page(view)),
        PayResult::Expired => Step::Done(expired_page(view)),
        PayResult::RequiresAuthentication { token } => {
            let action = format!("/c/pay/{}/{AUTHENTICATE}", view.id);
            Step::Done(HtmlReply::html(
                StatusCode::OK,
                page::three_d_secure_page(view, &action, &token),
            ))
        }
        PayResult::Declined(e) => {
            let decline_code = e.decline_code.map(DeclineCode::as_str);
            tracing::info!(session = %id, "{label} declined: {}", decline_code.unwrap_or(e.code.as_str()));
            let error = PageError {
                code: e.code.as_str(),
                decline_code,
                message: &e.message,
            };
            Step::Done(HtmlReply::html(
                StatusCode::PAYMENT_REQUIRED,
                page::form_page(view, form, Some(&error)),
            ))
        }
    }
}
