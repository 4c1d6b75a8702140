//! Checkout's own payment-page API (contract §5.4): `GET /v1/payment_pages/{cs}` and
//! `POST /v1/payment_pages/{cs}/confirm`. Stripe does not document it; Checkout's page calls
//! it from the browser, and the Stripe CLI's Checkout fixtures (`stripe trigger
//! checkout.session.completed`) call it with a PaymentMethod made by
//! `POST /v1/payment_methods`. The confirm pays the session through the same functions as
//! the hosted page (`checkout_sessions::pay`, `pay_by_bank`), so it emits the same events
//! in the same order; only the PaymentMethod is the one given instead of one recorded
//! from what the payer typed.
//!
//! The mock answers both with a small summary of the session (`object: "payment_page"`):
//! the CLI only needs a JSON 200. A card that requires 3-D Secure is authenticated at once,
//! as headless completion does (there is no browser to ask).

use serde::Serialize;

use crate::bank_debits::BankKind;
use crate::protocol::{ApiError, ApiResult, Fields, Params, Reply};
use crate::resources::checkout_sessions::{
    self, Mode, PayResult, Payer, Status, pay_by_bank_with_method, pay_with_method,
};
use crate::resources::payment_methods::{self, Details};
use crate::store::Account;

#[derive(Serialize)]
struct PageJson<'a> {
    id: &'a str,
    object: &'static str,
    amount_total: i64,
    cancel_url: Option<&'a str>,
    currency: &'a str,
    customer_email: Option<&'a str>,
    livemode: bool,
    mode: Mode,
    payment_intent: Option<&'a str>,
    payment_method_types: &'a [&'static str],
    payment_status: checkout_sessions::PaymentStatus,
    session_id: &'a str,
    status: Status,
    success_url: Option<&'a str>,
}

fn no_such(id: &str) -> ApiError {
    ApiError::no_such("payment_page", id, "id", true)
}

/// The page's JSON, after lazy expiry.
fn render(account: &mut Account, id: &str) -> ApiResult<Reply> {
    let view = checkout_sessions::page_view(account, id)?.ok_or_else(|| no_such(id))?;
    let session = account.sessions.get(id).ok_or_else(|| no_such(id))?;
    Reply::json(&PageJson {
        id: &session.id,
        object: "payment_page",
        amount_total: view.total,
        cancel_url: session.cancel_url.as_deref(),
        currency: &view.currency,
        customer_email: view.customer_email.as_deref(),
        livemode: false,
        mode: session.mode,
        payment_intent: session.payment_intent.as_deref(),
        payment_method_types: &view.methods,
        payment_status: session.payment_status,
        session_id: &session.id,
        status: session.status,
        success_url: session.success_url.as_deref(),
    })
}

/// `GET /v1/payment_pages/{id}`
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    Fields::root(params).finish()?;
    render(account, id)
}

fn not_open(id: &str, status: Status) -> ApiError {
    ApiError::bad_request(format!(
        "Only Checkout Sessions with a status in [\"open\"] can be confirmed. This Checkout Session ({id}) has a status of `{}`.",
        status.as_str()
    ))
}

/// `POST /v1/payment_pages/{id}/confirm` with `payment_method` (a `pm_…` of the account, or
/// a test PaymentMethod such as `pm_card_visa`), optionally `expected_amount`,
/// `expected_payment_method_type` and `email` (else the PaymentMethod's billing email, else
/// the session's).
pub(crate) fn confirm(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let method = f.owned("payment_method")?;
    let expected_amount = f.int("expected_amount")?;
    let expected_type = f
        .one_of(
            "expected_payment_method_type",
            &["card", "sepa_debit", "us_bank_account"],
        )?
        .map(str::to_string);
    let email = f.owned("email")?;
    f.finish()?;
    let method = method.ok_or_else(|| ApiError::missing("payment_method"))?;

    let view = checkout_sessions::page_view(account, id)?.ok_or_else(|| no_such(id))?;
    if view.status != Status::Open {
        return Err(not_open(id, view.status));
    }
    if let Some(expected) = expected_amount
        && expected != view.total
    {
        return Err(ApiError::invalid(
            "expected_amount",
            format!(
                "The amount due for this Checkout Session is {}, not the expected_amount {expected}.",
                view.total
            ),
        ));
    }
    let pm_id = payment_methods::resolve(account, &method, "payment_method")?;
    let pm = account
        .payment_methods
        .get(&pm_id)
        .expect("resolve returns a stored PaymentMethod");
    let kind = pm.method_type().as_str();
    if let Some(expected) = &expected_type
        && expected != kind
    {
        return Err(ApiError::invalid(
            "expected_payment_method_type",
            format!(
                "The PaymentMethod {pm_id} is of type {kind}, not the expected_payment_method_type {expected}."
            ),
        ));
    }
    if !view.methods.contains(&kind) {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("payment_method_unavailable"),
            format!(
                "The PaymentMethod type {kind} is not available for this Checkout Session (it offers {}).",
                view.methods.join(", ")
            ),
        )
        .with_param("payment_method"));
    }
    let email = email
        .or_else(|| pm.billing.email.clone())
        .or_else(|| view.customer_email.clone())
        .ok_or_else(|| ApiError::missing("email"))?;
    let name = pm.billing.name.clone();
    let details = pm.details.clone();

    let result = match &details {
        Details::Card { card, .. } => {
            let payer = Payer {
                card,
                email: &email,
                name: name.as_deref(),
                authenticated: Some(true),
            };
            pay_with_method(account, id, &payer, Some(&pm_id))?
        }
        Details::Bank(bank) => {
            debug_assert!(BankKind::parse(kind).is_some());
            pay_by_bank_with_method(account, id, bank, &email, name.as_deref(), Some(&pm_id))?
        }
    };
    match result {
        PayResult::Completed(_) => render(account, id),
        PayResult::Declined(e) => Err(checkout_sessions::decline_error(account, id, e)),
        PayResult::AlreadyComplete(_) => Err(not_open(id, Status::Complete)),
        PayResult::Expired => Err(not_open(id, Status::Expired)),
        PayResult::RequiresAuthentication { .. } => Err(ApiError::internal(
            "the payment page's confirm answers 3-D Secure itself; it cannot be left waiting",
        )),
    }
}
