//! Refunds: `POST /v1/refunds` for a charge or a PaymentIntent, full or partial (never
//! more than the charge has left), retrieve, update (metadata), cancel, list; and the
//! refunds Stripe makes itself when an authorization is released (a canceled or partially
//! captured PaymentIntent).
//!
//! A card refund succeeds at once (the test card `4000 0000 0000 5126` fails later); a bank
//! debit's is `pending` until the account's `async_payment_delay` has passed.
//!
//! Events, as Stripe sends them for the account's API version: `charge.refunded` for every
//! refund; from 2024-10-28.acacia also `refund.created`, `refund.updated` and
//! `refund.failed` (before it those were only sent for refunds without a charge, which the
//! mock does not make); `charge.refund.updated` whenever a refund changes, at every version.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::agenda::Job;
use crate::ids::prefix;
use crate::protocol::expand::Expand;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::version::ApiVersion;
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx};
use crate::resources::charges::{Capture, ChargeMethod};
use crate::resources::events::{EventRequest, emit, snapshot};
use crate::resources::expandable;
use crate::resources::payment_intents::PiStatus;
use crate::resources::{check_metadata, one_of, string_enum};
use crate::store::{Account, Keyed};

string_enum! {
    /// `reason`: the ones an app may give, and Stripe's own for released authorizations.
    pub(crate) enum RefundReason {
        Duplicate = "duplicate",
        Fraudulent = "fraudulent",
        RequestedByCustomer = "requested_by_customer",
    }
}

string_enum! {
    pub(crate) enum RefundStatus {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
        Canceled = "canceled",
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub payment_method: String,
    pub customer: Option<String>,
    pub reason: Option<RefundReason>,
    pub metadata: BTreeMap<String, String>,
    pub status: RefundStatus,
    pub failure_reason: Option<String>,
    /// A card refund that fails when its settlement job runs (`4000 0000 0000 5126`).
    pub fails_later: bool,
}

impl Keyed for Refund {
    fn key(&self) -> &str {
        &self.id
    }
}

/// From this version on, `refund.*` events are sent for refunds of charges too.
pub(crate) fn sends_refund_events(v: &ApiVersion) -> bool {
    !v.before(2024, 10, 28)
}

#[derive(Serialize)]
pub(crate) struct RefundJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: i64,
    balance_transaction: (),
    charge: &'a str,
    created: i64,
    currency: &'a str,
    customer: Option<&'a str>,
    customer_account: (),
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'a str>,
    metadata: &'a BTreeMap<String, String>,
    payment_intent: &'a str,
    payment_method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_reason: Option<&'static str>,
    reason: Option<&'static str>,
    receipt_number: (),
    source_transfer_reversal: (),
    status: &'static str,
    transfer_reversal: (),
}

impl Refund {
    pub fn json(&self) -> RefundJson<'_> {
        RefundJson {
            id: &self.id,
            object: "refund",
            amount: self.amount,
            balance_transaction: (),
            charge: &self.charge,
            created: self.created,
            currency: &self.currency,
            customer: self.customer.as_deref(),
            customer_account: (),
            failure_reason: self.failure_reason.as_deref(),
            metadata: &self.metadata,
            payment_intent: &self.payment_intent,
            payment_method: &self.payment_method,
            pending_reason: (self.status == RefundStatus::Pending).then_some("processing"),
            reason: self.reason.map(RefundReason::as_str),
            receipt_number: (),
            source_transfer_reversal: (),
            status: self.status.as_str(),
            transfer_reversal: (),
        }
    }
}

/// Records a refund of `amount` of `charge_id` (checked by the caller) and emits
/// `charge.refunded` (and `refund.created` from 2024-10-28). Returns its id.
fn record(
    account: &mut Account,
    charge_id: &str,
    amount: i64,
    reason: Option<RefundReason>,
    metadata: BTreeMap<String, String>,
    request: &EventRequest,
    released: bool,
) -> ApiResult<String> {
    let now = account.now();
    let id = account.ids.object(prefix::REFUND);
    let charge = account
        .charges
        .get_mut(charge_id)
        .expect("checked by the caller");
    let card_fails = account
        .payment_methods
        .get(&charge.payment_method)
        .and_then(|pm| pm.card())
        .is_some_and(|card| crate::cards::refund_fails(&card.number));
    let (status, fails_later) = match &charge.method {
        // An authorization released is never pending.
        ChargeMethod::Bank(_) if charge.capture != Capture::Authorized => {
            (RefundStatus::Pending, false)
        }
        _ => (RefundStatus::Succeeded, card_fails && !released),
    };
    charge.amount_refunded += amount;
    let refund = Refund {
        id: id.clone(),
        created: now,
        amount,
        currency: charge.currency.clone(),
        charge: charge_id.to_string(),
        payment_intent: charge.payment_intent.clone(),
        payment_method: charge.payment_method.clone(),
        customer: charge.customer.clone(),
        reason,
        metadata,
        status,
        failure_reason: None,
        fails_later,
    };
    let charge_obj = snapshot(&charge.json())?;
    let refund_obj = snapshot(&refund.json())?;
    account.refunds.insert(refund);
    if status == RefundStatus::Pending || fails_later {
        let due = (now + account.settings.async_payment_delay_secs).saturating_mul(1000);
        account.agenda.schedule(due, Job::SettleRefund(id.clone()));
    }
    emit(account, "charge.refunded", charge_obj, request)?;
    if sends_refund_events(account.api_version()) {
        emit(account, "refund.created", refund_obj, request)?;
    }
    Ok(id)
}

/// Releases `amount` of an authorization (a canceled or partially captured PaymentIntent):
/// a refund Stripe makes itself.
pub(crate) fn release(
    account: &mut Account,
    charge_id: &str,
    amount: i64,
    request: &EventRequest,
) -> ApiResult<()> {
    record(
        account,
        charge_id,
        amount,
        None,
        BTreeMap::new(),
        request,
        true,
    )
    .map(|_| ())
}

fn no_such_refund(id: &str) -> ApiError {
    ApiError::no_such("refund", id, "id", true)
}

fn request_of(ctx: &RequestCtx) -> EventRequest {
    EventRequest {
        id: Some(ctx.request_id.clone()),
        idempotency_key: ctx.idempotency_key.clone(),
    }
}

fn render(account: &Account, id: &str, x: &Expand, ctx: &RequestCtx) -> ApiResult<Reply> {
    let refund = account.refunds.get(id).ok_or_else(|| no_such_refund(id))?;
    let v = ctx.version_for(account);
    expandable::reply(account, "refund", &refund.json(), x, &v)
}

/// `POST /v1/refunds`
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let charge = f.owned("charge")?;
    let payment_intent = f.owned("payment_intent")?;
    let amount = f.int("amount")?;
    let reason: Option<RefundReason> = one_of(&mut f, "reason")?;
    let metadata = f
        .string_map("metadata")?
        .map(|m| m.to_map())
        .unwrap_or_default();
    check_metadata("metadata", &metadata)?;
    let x = expandable::read(&mut f, "refund")?;
    for key in [
        "instructions_email",
        "refund_application_fee",
        "reverse_transfer",
        "origin",
        "customer",
        "currency",
    ] {
        f.ignore(key);
    }
    f.finish()?;

    let charge_id = match (&charge, &payment_intent) {
        (None, None) => {
            return Err(ApiError::bad_request(
                "One of the following params should be provided for this request: \
                 payment_intent or charge.",
            ));
        }
        (Some(c), pi) => {
            let ch = account
                .charges
                .get(c)
                .ok_or_else(|| ApiError::no_such("charge", c, "charge", false))?;
            if let Some(pi) = pi
                && ch.payment_intent != *pi
            {
                return Err(ApiError::invalid(
                    "payment_intent",
                    format!("Charge {c} does not belong to PaymentIntent {pi}."),
                ));
            }
            c.clone()
        }
        (None, Some(pi_id)) => {
            let pi = account.payment_intents.get(pi_id).ok_or_else(|| {
                ApiError::no_such("payment_intent", pi_id, "payment_intent", false)
            })?;
            let charge = pi
                .latest_charge
                .as_deref()
                .and_then(|c| account.charges.get(c))
                .filter(|c| c.succeeded());
            match (pi.status, charge) {
                (PiStatus::Succeeded | PiStatus::RequiresCapture, Some(c)) => c.id.clone(),
                _ => {
                    return Err(ApiError::invalid(
                        "payment_intent",
                        format!(
                            "PaymentIntent {pi_id} does not have a successful charge to refund."
                        ),
                    ));
                }
            }
        }
    };
    let ch = account.charges.get(&charge_id).expect("looked up");
    if ch.failure.is_some() {
        return Err(ApiError::invalid(
            "charge",
            format!("Charge {charge_id} has failed: there is nothing to refund."),
        ));
    }
    if ch.pending {
        return Err(ApiError::invalid(
            "charge",
            format!(
                "Charge {charge_id} is pending: it can be refunded once it has succeeded \
                 (mock-stripe does not simulate refunds of pending debits)."
            ),
        ));
    }
    if ch.capture == Capture::Authorized {
        return Err(ApiError::invalid(
            "charge",
            format!(
                "Charge {charge_id} has not been captured: cancel its PaymentIntent (POST \
                 /v1/payment_intents/{}/cancel) to release the authorization.",
                ch.payment_intent
            ),
        ));
    }
    let left = ch.refundable();
    if left == 0 {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("charge_already_refunded"),
            format!("Charge {charge_id} has already been refunded."),
        )
        .with_param("charge"));
    }
    let amount = amount.unwrap_or(left);
    if amount < 1 {
        return Err(ApiError::too_small("amount", 1));
    }
    if amount > left {
        let fmt = |n| crate::money::format_amount(n, &ch.currency);
        return Err(ApiError::invalid(
            "amount",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                fmt(amount),
                fmt(left)
            ),
        ));
    }
    let id = record(
        account,
        &charge_id,
        amount,
        reason,
        metadata,
        &request_of(ctx),
        false,
    )?;
    render(account, &id, &x, ctx)
}

/// `GET /v1/refunds/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let x = expandable::read(&mut f, "refund")?;
    f.finish()?;
    render(account, id, &x, ctx)
}

/// Emits what a changed refund sends: `charge.refund.updated`, and from 2024-10-28
/// `refund.updated` (plus `refund.failed` when it failed).
fn emit_updated(account: &mut Account, id: &str, request: &EventRequest) -> ApiResult<()> {
    let refund = account.refunds.get(id).expect("checked by the caller");
    let failed = refund.status == RefundStatus::Failed;
    let obj = || snapshot(&refund.json());
    let (a, b, c) = (obj()?, obj()?, obj()?);
    emit(account, "charge.refund.updated", a, request)?;
    if sends_refund_events(account.api_version()) {
        emit(account, "refund.updated", b, request)?;
        if failed {
            emit(account, "refund.failed", c, request)?;
        }
    }
    Ok(())
}

/// `POST /v1/refunds/{id}`: `metadata` only.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let metadata = f.string_map("metadata")?;
    let x = expandable::read(&mut f, "refund")?;
    f.finish()?;
    let refund = account
        .refunds
        .get_mut(id)
        .ok_or_else(|| no_such_refund(id))?;
    if let Some(m) = metadata {
        let mut updated = refund.metadata.clone();
        m.apply(&mut updated);
        check_metadata("metadata", &updated)?;
        refund.metadata = updated;
        emit_updated(account, id, &request_of(ctx))?;
    }
    render(account, id, &x, ctx)
}

/// `POST /v1/refunds/{id}/cancel`: only a `pending` refund (a bank debit's) can be.
pub(crate) fn cancel(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let x = expandable::read(&mut f, "refund")?;
    f.finish()?;
    let refund = account
        .refunds
        .get_mut(id)
        .ok_or_else(|| no_such_refund(id))?;
    if refund.status != RefundStatus::Pending {
        return Err(ApiError::invalid(
            "refund",
            format!(
                "Refund {id} cannot be canceled because it has a status of {}. Only refunds \
                 with a status of pending or requires_action can be canceled.",
                refund.status.as_str()
            ),
        ));
    }
    refund.status = RefundStatus::Canceled;
    let (charge_id, amount) = (refund.charge.clone(), refund.amount);
    if let Some(c) = account.charges.get_mut(&charge_id) {
        c.amount_refunded -= amount;
    }
    emit_updated(account, id, &request_of(ctx))?;
    render(account, id, &x, ctx)
}

/// `GET /v1/refunds`: newest first; `charge`, `payment_intent`, `created` filters.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let charge = f.owned("charge")?;
    let payment_intent = f.owned("payment_intent")?;
    let created = RangeFilter::read(&mut f, "created")?;
    let x = expandable::read_list(&mut f, "refund")?;
    f.finish()?;
    let refunds = &account.refunds;
    let (data, has_more) = paginate(
        refunds.rows(),
        |id| refunds.position(id),
        |r: &Refund| {
            charge.as_deref().is_none_or(|c| r.charge == c)
                && payment_intent
                    .as_deref()
                    .is_none_or(|p| r.payment_intent == p)
                && created.matches(r.created)
        },
        &page,
        "refund",
    )?;
    let data: Vec<_> = data.into_iter().map(Refund::json).collect();
    let list = ListJson::new(data, has_more, "/v1/refunds".into());
    let v = ctx.version_for(account);
    expandable::reply_list(account, "refund", &list, &x, &v)
}

/// The agenda's job for a refund: a pending one succeeds; a card refund that fails later
/// fails (`failure_reason: expired_or_canceled_card`, the amount is no longer refunded).
pub(crate) fn settle(account: &mut Account, id: &str) -> ApiResult<()> {
    let Some(refund) = account.refunds.get_mut(id) else {
        return Ok(());
    };
    match (refund.status, refund.fails_later) {
        (RefundStatus::Pending, _) => refund.status = RefundStatus::Succeeded,
        (RefundStatus::Succeeded, true) => {
            refund.status = RefundStatus::Failed;
            refund.failure_reason = Some("expired_or_canceled_card".into());
            let (charge_id, amount) = (refund.charge.clone(), refund.amount);
            if let Some(c) = account.charges.get_mut(&charge_id) {
                c.amount_refunded -= amount;
            }
        }
        _ => return Ok(()),
    }
    emit_updated(account, id, &EventRequest::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::version::ApiVersion;
    use crate::resources::test_support::event_types;

    const NOW: i64 = 1_700_000_000;

    fn ctx() -> RequestCtx {
        RequestCtx {
            request_id: "req_refund".into(),
            version: None,
            idempotency_key: None,
        }
    }

    fn params(wire: &str) -> Params {
        Params::decode(&[wire.as_bytes()]).unwrap()
    }

    fn json(r: ApiResult<Reply>) -> serde_json::Value {
        match r {
            Ok(r) => serde_json::from_slice(&r.body).unwrap(),
            Err(e) => panic!("{}", e.message),
        }
    }

    fn err(r: ApiResult<Reply>) -> ApiError {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    /// A paid PaymentIntent of `amount` cents; returns `(pi, charge)`.
    fn paid(a: &mut Account, amount: i64, method: &str) -> (String, String) {
        let wire = format!(
            "amount={amount}&currency=usd&confirm=true&payment_method={method}&payment_method_types[]=card"
        );
        let (reply, _) = crate::resources::payment_intents::create(
            a,
            &params(&wire),
            &ctx(),
            "http://127.0.0.1:12111",
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["latest_charge"].as_str().unwrap().to_string(),
        )
    }

    fn kinds_since(a: &Account, from: usize) -> Vec<&str> {
        event_types(a).split_off(from)
    }

    #[test]
    fn partial_then_full_refunds_never_more_than_is_left() {
        let mut a = Account::at(NOW);
        let (pi, ch) = paid(&mut a, 5000, "pm_card_visa");
        let before = a.events.len();
        let r = json(create(
            &mut a,
            &params(&format!(
                "charge={ch}&amount=2000&reason=requested_by_customer&metadata[ticket]=T1"
            )),
            &ctx(),
        ));
        assert!(r["id"].as_str().unwrap().starts_with("re_"));
        assert_eq!(r["object"], "refund");
        assert_eq!(r["status"], "succeeded");
        assert_eq!(r["amount"], 2000);
        assert_eq!(
            (&r["charge"], &r["payment_intent"]),
            (&ch.as_str().into(), &pi.as_str().into())
        );
        assert_eq!(r["reason"], "requested_by_customer");
        assert_eq!(r["metadata"]["ticket"], "T1");
        let charge = a.charges.get(&ch).unwrap();
        assert_eq!(charge.amount_refunded, 2000);
        assert_eq!(
            kinds_since(&a, before),
            ["charge.refunded", "refund.created"]
        );
        let refunded = serde_json::from_str::<serde_json::Value>(
            a.events.rows()[before].object().unwrap().get(),
        )
        .unwrap();
        assert_eq!(
            (&refunded["amount_refunded"], &refunded["refunded"]),
            (&2000.into(), &false.into())
        );
        for e in a.events.rows().iter().skip(before) {
            assert_eq!(e.request.id.as_deref(), Some("req_refund"));
        }

        let e = err(create(
            &mut a,
            &params(&format!("payment_intent={pi}&amount=3001")),
            &ctx(),
        ));
        assert_eq!(
            (e.status.as_u16(), e.code, e.param.as_deref()),
            (400, None, Some("amount"))
        );
        assert_eq!(
            e.message,
            "Refund amount ($30.01) is greater than unrefunded amount on charge ($30.00)"
        );
        // By PaymentIntent, without an amount: the rest.
        let r = json(create(
            &mut a,
            &params(&format!("payment_intent={pi}")),
            &ctx(),
        ));
        assert_eq!(r["amount"], 3000);
        let charge = serde_json::to_value(a.charges.get(&ch).unwrap().json()).unwrap();
        assert_eq!(
            (&charge["amount_refunded"], &charge["refunded"]),
            (&5000.into(), &true.into())
        );
        let e = err(create(&mut a, &params(&format!("charge={ch}")), &ctx()));
        assert_eq!(e.code, Some("charge_already_refunded"));
        assert_eq!(e.message, format!("Charge {ch} has already been refunded."));

        let listed = json(list(&mut a, &params(&format!("charge={ch}")), &ctx()));
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);
        assert_eq!(listed["data"][0]["amount"], 3000, "newest first");
        let got = json(retrieve(
            &mut a,
            r["id"].as_str().unwrap(),
            &params("expand[]=charge"),
            &ctx(),
        ));
        assert_eq!(got["charge"]["object"], "charge");
    }

    #[test]
    fn what_cannot_be_refunded() {
        let mut a = Account::at(NOW);
        let e = err(create(&mut a, &params("amount=100"), &ctx()));
        assert_eq!(
            e.message,
            "One of the following params should be provided for this request: payment_intent or charge."
        );
        let e = err(create(&mut a, &params("charge=ch_nope"), &ctx()));
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("resource_missing"), Some("charge"))
        );
        let pi = crate::resources::payment_intents::create(
            &mut a,
            &params("amount=500&currency=usd"),
            &ctx(),
            "http://x.test",
        )
        .unwrap_or_else(|e| panic!("{}", e.message))
        .0;
        let pi: serde_json::Value = serde_json::from_slice(&pi.body).unwrap();
        let id = pi["id"].as_str().unwrap();
        let e = err(create(
            &mut a,
            &params(&format!("payment_intent={id}")),
            &ctx(),
        ));
        assert_eq!(
            e.message,
            format!("PaymentIntent {id} does not have a successful charge to refund.")
        );
        let e = err(create(
            &mut a,
            &params("charge=ch_x&reason=because"),
            &ctx(),
        ));
        assert_eq!(e.param.as_deref(), Some("reason"));
    }

    #[test]
    fn refund_events_follow_the_accounts_api_version() {
        let mut a = Account::at(NOW);
        a.settings.api_version = ApiVersion::parse("2024-06-20").unwrap();
        let (_, ch) = paid(&mut a, 5000, "pm_card_visa");
        let before = a.events.len();
        let r = json(create(&mut a, &params(&format!("charge={ch}")), &ctx()));
        assert_eq!(kinds_since(&a, before), ["charge.refunded"]);
        let id = r["id"].as_str().unwrap().to_string();
        let before = a.events.len();
        json(update(&mut a, &id, &params("metadata[note]=x"), &ctx()));
        assert_eq!(kinds_since(&a, before), ["charge.refund.updated"]);

        a.settings.api_version = ApiVersion::parse("2024-10-28.acacia").unwrap();
        let (_, ch) = paid(&mut a, 5000, "pm_card_visa");
        let before = a.events.len();
        let r = json(create(
            &mut a,
            &params(&format!("charge={ch}&amount=100")),
            &ctx(),
        ));
        assert_eq!(
            kinds_since(&a, before),
            ["charge.refunded", "refund.created"]
        );
        let before = a.events.len();
        let v = json(update(
            &mut a,
            r["id"].as_str().unwrap(),
            &params("metadata[note]=x"),
            &ctx(),
        ));
        assert_eq!(v["metadata"]["note"], "x");
        assert_eq!(
            kinds_since(&a, before),
            ["charge.refund.updated", "refund.updated"]
        );
        // Nothing to update: no event.
        let before = a.events.len();
        json(update(
            &mut a,
            r["id"].as_str().unwrap(),
            &params(""),
            &ctx(),
        ));
        assert_eq!(a.events.len(), before);
    }

    #[test]
    fn a_refund_of_the_refund_failure_card_fails_later() {
        let mut a = Account::at(NOW);
        let (_, ch) = paid(&mut a, 5000, "pm_card_refundFail");
        let r = json(create(&mut a, &params(&format!("charge={ch}")), &ctx()));
        assert_eq!(r["status"], "succeeded");
        let id = r["id"].as_str().unwrap().to_string();
        let due = (NOW + a.settings.async_payment_delay_secs) * 1000;
        let jobs: Vec<_> = std::iter::from_fn(|| a.agenda.pop_due(due))
            .map(|(_, j)| j)
            .collect();
        assert!(jobs.contains(&Job::SettleRefund(id.clone())), "{jobs:?}");
        let before = a.events.len();
        settle(&mut a, &id).unwrap();
        settle(&mut a, &id).unwrap();
        assert_eq!(
            kinds_since(&a, before),
            ["charge.refund.updated", "refund.updated", "refund.failed"]
        );
        let v = json(retrieve(&mut a, &id, &params(""), &ctx()));
        assert_eq!(
            (&v["status"], &v["failure_reason"]),
            (&"failed".into(), &"expired_or_canceled_card".into())
        );
        assert_eq!(a.charges.get(&ch).unwrap().amount_refunded, 0);
    }

    #[test]
    fn a_bank_debit_refund_is_pending_until_it_settles_or_is_canceled() {
        let mut a = Account::at(NOW);
        let wire = "amount=1500&currency=eur&payment_method_types[]=sepa_debit&confirm=true\
            &payment_method_data[type]=sepa_debit&payment_method_data[sepa_debit][iban]=AT611904300234573201";
        let (reply, _) = crate::resources::payment_intents::create(
            &mut a,
            &params(wire),
            &ctx(),
            "http://x.test",
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        let pi: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        let (pi, ch) = (
            pi["id"].as_str().unwrap().to_string(),
            pi["latest_charge"].as_str().unwrap().to_string(),
        );
        let e = err(create(&mut a, &params(&format!("charge={ch}")), &ctx()));
        assert!(e.message.contains("is pending"), "{}", e.message);
        crate::resources::payment_intents::settle(&mut a, &pi).unwrap();
        let first = json(create(
            &mut a,
            &params(&format!("charge={ch}&amount=500")),
            &ctx(),
        ));
        assert_eq!(
            (&first["status"], &first["pending_reason"]),
            (&"pending".into(), &"processing".into())
        );
        let second = json(create(
            &mut a,
            &params(&format!("charge={ch}&amount=500")),
            &ctx(),
        ));
        let canceled = json(cancel(
            &mut a,
            second["id"].as_str().unwrap(),
            &params(""),
            &ctx(),
        ));
        assert_eq!(canceled["status"], "canceled");
        assert_eq!(a.charges.get(&ch).unwrap().amount_refunded, 500);
        let id = first["id"].as_str().unwrap();
        settle(&mut a, id).unwrap();
        let v = json(retrieve(&mut a, id, &params(""), &ctx()));
        assert_eq!(v["status"], "succeeded");
        assert!(v.get("pending_reason").is_none());
        let e = err(cancel(&mut a, id, &params(""), &ctx()));
        assert!(
            e.message.contains("has a status of succeeded"),
            "{}",
            e.message
        );
    }
}
