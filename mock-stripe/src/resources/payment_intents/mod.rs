//! PaymentIntents (contract §2.7): those Checkout creates when the customer first submits
//! payment (since API 2022-08-01), and the direct API custom payment pages and the Stripe
//! CLI's fixtures use: create (with `confirm=true`), confirm, capture, cancel, update,
//! list, retrieve.
//!
//! - `params`: request parameters → typed inputs;
//! - `object`: the stored PaymentIntent, `payment_intent_data`, and their JSON;
//! - `lifecycle`: confirm (card, 3-D Secure, bank debit), capture, cancel, update, and the
//!   events each emits.
//!
//! Charges live in `resources/charges.rs` and are re-exported here for the modules that
//! knew them from here.

mod lifecycle;
mod object;
mod params;

pub(crate) use crate::resources::charges::{Charge, ChargeCard, ChargeMethod};
pub(crate) use lifecycle::{authenticate, settle};
pub(crate) use object::{
    CancellationReason, CaptureMethod, LastError, MethodType, PaymentIntent, PaymentIntentData,
    PaymentIntentJson, PiStatus,
};

use crate::protocol::expand::Expand;
use crate::protocol::list::{ListJson, paginate};
use crate::protocol::{ApiError, ApiResult, Params, Reply, RequestCtx};
use crate::resources::events::{EventRequest, emit, snapshot};
use crate::resources::{expandable, payment_methods};
use crate::store::Account;
use lifecycle::no_such;
use object::PaymentIntentData as Data;

const KIND: &str = "payment_intent";

fn request_of(ctx: &RequestCtx) -> EventRequest {
    EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    }
}

/// The intent as JSON with what `x` expands, at the request's version.
fn render(account: &Account, id: &str, x: &Expand, ctx: &RequestCtx) -> ApiResult<Reply> {
    let pi = account.payment_intents.get(id).ok_or_else(|| no_such(id))?;
    let v = ctx.version_for(account);
    expandable::reply(account, KIND, &pi.json(None), x, &v)
}

/// What the router indexes so that the browser reaches the intent's 3-D Secure page
/// (`/c/3ds/{id}`) without a key: the id, while the intent waits for the payer.
fn needs_browser(account: &Account, id: &str) -> Option<String> {
    account
        .payment_intents
        .get(id)
        .filter(|pi| pi.next_action.is_some())
        .map(|pi| pi.id.clone())
}

/// `POST /v1/payment_intents`. Also returns the id when the intent waits for 3-D Secure
/// (the router indexes it for the challenge page).
pub(crate) fn create(
    account: &mut Account,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(Reply, Option<String>)> {
    let input = params::read_create(params, account.now())?;
    lifecycle::check_amount(input.amount, &input.currency)?;
    let c = input.common;
    if let Some(customer) = &c.customer {
        crate::resources::customers::existing(account, customer, "customer")?;
    }
    if let Some(types) = &c.payment_method_types {
        lifecycle::check_method_types(types, "payment_method_types")?;
    }
    let metadata = c.metadata.map(|m| m.to_map()).unwrap_or_default();
    let data = Data {
        capture_method: c.capture_method.unwrap_or_default(),
        description: c.description,
        metadata,
        receipt_email: c.receipt_email,
        setup_future_usage: c.setup_future_usage,
        shipping: c.shipping,
        statement_descriptor: c.statement_descriptor,
        statement_descriptor_suffix: c.statement_descriptor_suffix,
        transfer_group: c.transfer_group,
    };
    let mut confirm_in = input.confirm_in;
    // The payment method is attached at creation; with `confirm` it must be there and fit,
    // or nothing is created (only a decline leaves the intent behind, as on Stripe).
    let attached = match (
        confirm_in.payment_method_data.take(),
        confirm_in.payment_method.take(),
    ) {
        (Some(new), _) => Some(new.record(account)),
        (None, Some(id)) => Some(payment_methods::resolve(account, &id, "payment_method")?),
        (None, None) => None,
    };
    let types = c
        .payment_method_types
        .clone()
        .unwrap_or_else(|| vec!["card".into()]);
    if input.confirm {
        let Some(pm) = &attached else {
            return Err(ApiError::new(
                http::StatusCode::BAD_REQUEST,
                Some("payment_intent_unexpected_state"),
                "You cannot confirm this PaymentIntent because it's missing a payment method. \
                 You can either update the PaymentIntent with a payment method and then confirm \
                 it again, or confirm it again directly with a payment method.",
            ));
        };
        lifecycle::check_compatible(
            &types,
            &input.currency,
            data.capture_method == CaptureMethod::Manual,
            account.payment_methods.get(pm).expect("resolved"),
        )?;
    }
    let now = account.now();
    let mut pi = PaymentIntent::new(&mut account.ids, now, input.amount, &input.currency, &data);
    pi.payment_method_types = c
        .payment_method_types
        .unwrap_or_else(|| vec!["card".into()]);
    pi.customer = c.customer;
    if let Some(m) = input.confirmation_method {
        pi.confirmation_method = m;
    }
    if let Some(pm) = attached {
        pi.payment_method = Some(pm);
        pi.status = PiStatus::RequiresConfirmation;
    }
    let id = pi.id.clone();
    let obj = snapshot(&pi.json(None))?;
    account.payment_intents.insert(pi);
    let request = request_of(ctx);
    emit(account, "payment_intent.created", obj, &request)?;
    if input.confirm {
        lifecycle::confirm(account, &id, confirm_in, &request, base_url)?;
    }
    Ok((
        render(account, &id, &input.expand, ctx)?,
        needs_browser(account, &id),
    ))
}

/// `GET /v1/payment_intents/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let (client_secret, expand) = params::read_retrieve(params)?;
    let pi = account.payment_intents.get(id).ok_or_else(|| no_such(id))?;
    if client_secret.is_some_and(|s| s != pi.client_secret) {
        return Err(ApiError::invalid(
            "client_secret",
            "The client_secret provided does not match the client_secret associated with the \
             PaymentIntent.",
        ));
    }
    render(account, id, &expand, ctx)
}

/// `POST /v1/payment_intents/{id}`
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let input = params::read_update(params, account.now())?;
    let expand = input.expand.clone();
    lifecycle::update(account, id, input)?;
    render(account, id, &expand, ctx)
}

/// `POST /v1/payment_intents/{id}/confirm`. Also returns the id when the intent waits for
/// 3-D Secure.
pub(crate) fn confirm(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
    base_url: &str,
) -> ApiResult<(Reply, Option<String>)> {
    let (input, expand) = params::read_confirm(params, account.now())?;
    lifecycle::confirm(account, id, input, &request_of(ctx), base_url)?;
    Ok((
        render(account, id, &expand, ctx)?,
        needs_browser(account, id),
    ))
}

/// `POST /v1/payment_intents/{id}/capture`
pub(crate) fn capture(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let input = params::read_capture(params)?;
    let expand = input.expand.clone();
    lifecycle::capture(account, id, input, &request_of(ctx))?;
    render(account, id, &expand, ctx)
}

/// `POST /v1/payment_intents/{id}/cancel`
pub(crate) fn cancel(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let (reason, expand) = params::read_cancel(params)?;
    lifecycle::cancel(account, id, reason, &request_of(ctx))?;
    render(account, id, &expand, ctx)
}

/// `GET /v1/payment_intents`: newest first; `customer` and `created` filters.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let q = params::read_list(params)?;
    let intents = &account.payment_intents;
    let (data, has_more) = paginate(
        intents.rows(),
        |id| intents.position(id),
        |pi: &PaymentIntent| {
            q.customer
                .as_deref()
                .is_none_or(|c| pi.customer.as_deref() == Some(c))
                && q.created.matches(pi.created)
        },
        &q.page,
        "payment_intent",
    )?;
    let data: Vec<_> = data.into_iter().map(|pi| pi.json(None)).collect();
    let list = ListJson::new(data, has_more, "/v1/payment_intents".into());
    let v = ctx.version_for(account);
    expandable::reply_list(account, KIND, &list, &q.expand, &v)
}

#[cfg(test)]
mod tests;
