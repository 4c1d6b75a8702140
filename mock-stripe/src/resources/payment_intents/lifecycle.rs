//! The PaymentIntent state machine of the direct API (Stripe's PaymentIntent lifecycle):
//! confirm (charge a card, ask for 3-D Secure, submit a bank debit), the payer's 3-D
//! Secure answer, capture, cancel, a bank debit settling, and the events each emits, in
//! order. Declines answer 402 `card_error` after their state change and events are kept.

use super::object::{
    CaptureMethod, ConfirmationMethod, LastError, MethodType, NextAction, PiStatus,
    unexpected_state,
};
use super::params::{CaptureIn, ConfirmIn, UpdateIn};
use crate::cards::{self, CardError, DeclineCode, ErrorCode, Outcome};
use crate::engine::agenda::Job;
use crate::ids::prefix;
use crate::protocol::error::CardDetails;
use crate::protocol::{ApiError, ApiResult};
use crate::resources::charges::{Capture, Charge};
use crate::resources::events::{EventRequest, emit, snapshot};
use crate::resources::payment_methods::{self, PaymentMethod};
use crate::resources::{check_metadata, refunds};
use crate::store::Account;

pub(super) fn no_such(id: &str) -> ApiError {
    ApiError::no_such("payment_intent", id, "intent", true)
}

/// The Checkout Session a PaymentIntent belongs to, and whether it is still open.
fn checkout_session(account: &Account, pi_id: &str) -> Option<(String, bool)> {
    account
        .sessions
        .rows()
        .iter()
        .find(|s| s.payment_intent.as_deref() == Some(pi_id))
        .map(|s| {
            (
                s.id.clone(),
                s.status == crate::resources::checkout_sessions::Status::Open,
            )
        })
}

/// The method types the mock can charge; others are refused when named.
pub(super) fn check_method_types(types: &[String], param: &str) -> ApiResult<()> {
    if types.is_empty() {
        return Err(ApiError::invalid(
            param,
            "payment_method_types must name at least one payment method type.",
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if MethodType::parse(t).is_none() {
            return Err(ApiError::invalid(
                format!("{param}[{i}]"),
                format!(
                    "The payment method type \"{t}\" is invalid. mock-stripe simulates card, \
                     sepa_debit and us_bank_account."
                ),
            ));
        }
    }
    Ok(())
}

/// Stripe's bounds on an amount: the currency's minimum charge, and eight digits.
pub(super) fn check_amount(amount: i64, currency: &str) -> ApiResult<()> {
    let minimum = crate::money::minimum_charge(currency);
    if amount < minimum {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("amount_too_small"),
            format!(
                "Amount must be at least {} {currency}",
                crate::money::format_amount(minimum, currency)
            ),
        )
        .with_param("amount"));
    }
    if amount > 99_999_999 {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("amount_too_large"),
            format!(
                "Amount must be no more than {}",
                crate::money::format_amount(99_999_999, currency)
            ),
        )
        .with_param("amount"));
    }
    Ok(())
}

/// The 402 a declined confirm answers: the card error with the charge, the PaymentIntent
/// and the PaymentMethod (contract §4).
fn card_error(account: &Account, pi_id: &str, error: &CardError) -> ApiError {
    let pi = account.payment_intents.get(pi_id);
    let pm = pi
        .and_then(|p| p.payment_method.as_deref())
        .and_then(|id| account.payment_methods.get(id));
    ApiError::card(
        error.code.as_str(),
        error.message.clone(),
        CardDetails {
            decline_code: error.decline_code.map(|d| d.as_str().to_string()),
            charge: pi.and_then(|p| p.last_payment_error.as_ref()?.charge.clone()),
            payment_intent: pi.and_then(|p| serde_json::to_value(p.json(None)).ok()),
            payment_method: pm.and_then(|p| serde_json::to_value(p.json()).ok()),
        },
    )
}

/// An off-session payment (or one that may not ask the payer) with a card that needs
/// 3-D Secure: declined by the issuer (contract §4, `4000 0027 6000 3184`).
fn authentication_required() -> CardError {
    CardError {
        code: ErrorCode::AuthenticationRequired,
        decline_code: Some(DeclineCode::AuthenticationRequired),
        message: "Your card was declined. This transaction requires authentication.".into(),
    }
}

/// The PaymentMethod to confirm with: the one given (a test id becomes a new one), the
/// one described inline, else the one attached.
fn payment_method_for(account: &mut Account, pi_id: &str, c: &mut ConfirmIn) -> ApiResult<String> {
    if let Some(new) = c.payment_method_data.take() {
        return Ok(new.record(account));
    }
    if let Some(id) = c.payment_method.take() {
        return payment_methods::resolve(account, &id, "payment_method");
    }
    let pi = account
        .payment_intents
        .get(pi_id)
        .expect("checked by the caller");
    pi.payment_method.clone().ok_or_else(|| {
        unexpected_state(
            pi,
            "You cannot confirm this PaymentIntent because it's missing a payment method. You \
             can either update the PaymentIntent with a payment method and then confirm it \
             again, or confirm it again directly with a payment method."
                .into(),
        )
    })
}

/// Whether `pm` may pay an intent with these `types`, `currency` and capture: its type is
/// listed, and a bank debit is in its currency and captured automatically.
pub(super) fn check_compatible(
    types: &[String],
    currency: &str,
    manual_capture: bool,
    pm: &PaymentMethod,
) -> ApiResult<()> {
    let t = pm.method_type().as_str();
    if !types.iter().any(|x| x == t) {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("payment_intent_incompatible_payment_method"),
            format!(
                "The PaymentMethod provided ({t}) is not allowed for this PaymentIntent. Please \
                 attach a PaymentMethod of one of the following types: {}. Alternatively, \
                 update the allowed payment_method_types for this PaymentIntent to include \
                 \"{t}\".",
                types.join(", ")
            ),
        )
        .with_param("payment_method"));
    }
    if let MethodType::Bank(kind) = pm.method_type() {
        if currency != kind.currency() {
            return Err(ApiError::invalid(
                "currency",
                format!(
                    "The currency provided ({currency}) is invalid. Payments with {t} support \
                     the following currencies: {}.",
                    kind.currency()
                ),
            ));
        }
        if manual_capture {
            return Err(ApiError::invalid(
                "capture_method",
                format!(
                    "The payment method type {t} does not support manual capture: use \
                     capture_method=automatic."
                ),
            ));
        }
    }
    Ok(())
}

/// `confirm`: charges the attached (or given) payment method. Card: `succeeded` (or
/// `requires_capture`), a 402 decline, or `requires_action` with a 3-D Secure page at
/// `{base_url}/c/3ds/{id}`. Bank debit: `processing` until it settles on the account's
/// clock ([`settle`]).
pub(super) fn confirm(
    account: &mut Account,
    pi_id: &str,
    mut c: ConfirmIn,
    request: &EventRequest,
    base_url: &str,
) -> ApiResult<()> {
    let pi = account
        .payment_intents
        .get(pi_id)
        .ok_or_else(|| no_such(pi_id))?;
    if let Some((session, _)) = checkout_session(account, pi_id) {
        return Err(unexpected_state(
            pi,
            format!(
                "You cannot confirm this PaymentIntent: Checkout Session {session} created it \
                 and confirms it when the customer pays on the session's page."
            ),
        ));
    }
    match pi.status {
        PiStatus::RequiresPaymentMethod
        | PiStatus::RequiresConfirmation
        | PiStatus::RequiresAction => {}
        PiStatus::Succeeded => {
            return Err(unexpected_state(
                pi,
                "You cannot confirm this PaymentIntent because it has already succeeded after \
                 being previously confirmed."
                    .into(),
            ));
        }
        other => {
            return Err(unexpected_state(
                pi,
                format!(
                    "You cannot confirm this PaymentIntent because it has a status of {}. Only \
                     a PaymentIntent with one of the following statuses may be confirmed: \
                     requires_payment_method, requires_confirmation, requires_action.",
                    other.as_str()
                ),
            ));
        }
    }
    if let Some(types) = &c.payment_method_types {
        check_method_types(types, "payment_method_types")?;
    }
    let new_method = c.payment_method.is_some() || c.payment_method_data.is_some();
    let pm_id = payment_method_for(account, pi_id, &mut c)?;
    // Checked against the intent as the confirm leaves it, before anything changes.
    let pi = account.payment_intents.get(pi_id).expect("looked up");
    check_compatible(
        c.payment_method_types
            .as_deref()
            .unwrap_or(&pi.payment_method_types),
        &pi.currency,
        c.capture_method.unwrap_or(pi.data.capture_method) == CaptureMethod::Manual,
        account.payment_methods.get(&pm_id).expect("resolved"),
    )?;
    {
        let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
        if let Some(e) = c.receipt_email.take() {
            pi.data.receipt_email = Some(e);
        }
        if let Some(s) = c.setup_future_usage {
            pi.data.setup_future_usage = Some(s);
        }
        if let Some(m) = c.capture_method {
            pi.data.capture_method = m;
        }
        if let Some(types) = c.payment_method_types.take() {
            pi.payment_method_types = types;
        }
        if let Some(s) = c.shipping.take() {
            pi.data.shipping = Some(s);
        }
    }
    let card = account
        .payment_methods
        .get(&pm_id)
        .expect("resolved")
        .card()
        .cloned();
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    if new_method || pi.payment_method.as_deref() != Some(pm_id.as_str()) {
        pi.authenticated = false;
    }
    pi.payment_method = Some(pm_id.clone());
    pi.next_action = None;
    let Some(card) = card else {
        return submit_bank_debit(account, pi_id, &pm_id, request);
    };
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    if cards::requires_authentication(&card.number) && !pi.authenticated {
        if c.off_session || c.error_on_requires_action {
            return charge_card(account, pi_id, Some(authentication_required()), request);
        }
        let token = account.ids.with_len("3ds_", 24);
        let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
        pi.status = PiStatus::RequiresAction;
        pi.last_payment_error = None;
        pi.next_action = Some(NextAction {
            url: format!("{base_url}/c/3ds/{pi_id}?challenge={token}"),
            return_url: c.return_url.take(),
            token,
        });
        let obj = snapshot(&pi.json(None))?;
        return emit(account, "payment_intent.requires_action", obj, request);
    }
    charge_card(account, pi_id, None, request)
}

/// Charges the intent's card: the charge, then the intent as the card's row says (or
/// declined with `forced`). A decline answers the 402 after recording everything.
fn charge_card(
    account: &mut Account,
    pi_id: &str,
    forced: Option<CardError>,
    request: &EventRequest,
) -> ApiResult<()> {
    let now = account.now();
    let pi = account
        .payment_intents
        .get(pi_id)
        .expect("checked by the caller");
    let pm_id = pi.payment_method.clone().expect("attached by the caller");
    let pm = account.payment_methods.get(&pm_id).expect("resolved");
    let card = pm.card().expect("a card").clone();
    let failure = forced.or(match cards::outcome(&card.number) {
        Outcome::Succeeds => None,
        Outcome::Declined(e) => Some(e),
    });
    let charge = Charge {
        id: account.ids.object(prefix::CHARGE),
        created: now,
        amount: pi.amount,
        currency: pi.currency.clone(),
        payment_intent: pi_id.to_string(),
        payment_method: pm_id,
        method: pm.charge_method(),
        email: pm.billing.email.clone(),
        name: pm.billing.name.clone(),
        pending: false,
        failure: failure.clone(),
        description: pi.data.description.clone(),
        capture: pi.new_charge_capture(),
        amount_refunded: 0,
        customer: pi.customer.clone(),
    };
    let charge_obj = snapshot(&charge.json())?;
    let charge_id = charge.id.clone();
    account.charges.insert(charge);
    let pi = account.payment_intents.get_mut(pi_id).expect("checked");
    pi.latest_charge = Some(charge_id.clone());
    pi.next_action = None;
    match failure {
        Some(error) => {
            pi.status = PiStatus::RequiresPaymentMethod;
            pi.authenticated = false;
            pi.last_payment_error = Some(LastError {
                error: error.clone(),
                method_type: MethodType::Card,
                charge: Some(charge_id),
            });
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.failed", charge_obj, request)?;
            emit(account, "payment_intent.payment_failed", pi_obj, request)?;
            Err(card_error(account, pi_id, &error))
        }
        None => {
            let pi_event = pi.card_charge_succeeded();
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.succeeded", charge_obj, request)?;
            emit(account, pi_event, pi_obj, request)
        }
    }
}

/// A bank debit: `charge.pending`, `payment_intent.processing`; settles after the account's
/// `async_payment_delay`.
fn submit_bank_debit(
    account: &mut Account,
    pi_id: &str,
    pm_id: &str,
    request: &EventRequest,
) -> ApiResult<()> {
    let now = account.now();
    let pi = account
        .payment_intents
        .get(pi_id)
        .expect("checked by the caller");
    let pm = account.payment_methods.get(pm_id).expect("resolved");
    let charge = Charge {
        id: account.ids.object(prefix::CHARGE),
        created: now,
        amount: pi.amount,
        currency: pi.currency.clone(),
        payment_intent: pi_id.to_string(),
        payment_method: pm_id.to_string(),
        method: pm.charge_method(),
        email: pm.billing.email.clone(),
        name: pm.billing.name.clone(),
        pending: true,
        failure: None,
        description: pi.data.description.clone(),
        capture: Capture::Full,
        amount_refunded: 0,
        customer: pi.customer.clone(),
    };
    let charge_obj = snapshot(&charge.json())?;
    let charge_id = charge.id.clone();
    account.charges.insert(charge);
    let pi = account.payment_intents.get_mut(pi_id).expect("checked");
    pi.latest_charge = Some(charge_id);
    pi.status = PiStatus::Processing;
    pi.last_payment_error = None;
    let pi_obj = snapshot(&pi.json(None))?;
    emit(account, "charge.pending", charge_obj, request)?;
    emit(account, "payment_intent.processing", pi_obj, request)?;
    let due = (now + account.settings.async_payment_delay_secs).saturating_mul(1000);
    account
        .agenda
        .schedule(due, Job::SettlePaymentIntent(pi_id.to_string()));
    Ok(())
}

/// The agenda's job for a bank debit of the direct API: it settles
/// (`charge.succeeded`, `payment_intent.succeeded`) or fails (`charge.failed`,
/// `payment_intent.payment_failed`) as its test account number says.
pub(crate) fn settle(account: &mut Account, pi_id: &str) -> ApiResult<()> {
    let Some(pi) = account.payment_intents.get(pi_id) else {
        return Ok(());
    };
    if pi.status != PiStatus::Processing {
        return Ok(());
    }
    let Some(charge) = pi
        .latest_charge
        .clone()
        .and_then(|c| account.charges.get_mut(&c))
    else {
        return Ok(());
    };
    let (failure, method_type) = match &charge.method {
        crate::resources::charges::ChargeMethod::Bank(b) => {
            (b.failure.clone(), MethodType::Bank(b.kind))
        }
        crate::resources::charges::ChargeMethod::Card(_) => (None, MethodType::Card),
    };
    charge.pending = false;
    charge.failure = failure.clone();
    let charge_id = charge.id.clone();
    let charge_obj = snapshot(&charge.json())?;
    let request = EventRequest::default();
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    match failure {
        None => {
            pi.status = PiStatus::Succeeded;
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.succeeded", charge_obj, &request)?;
            emit(account, "payment_intent.succeeded", pi_obj, &request)
        }
        Some(error) => {
            pi.status = PiStatus::RequiresPaymentMethod;
            pi.last_payment_error = Some(LastError {
                error,
                method_type,
                charge: Some(charge_id),
            });
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.failed", charge_obj, &request)?;
            emit(account, "payment_intent.payment_failed", pi_obj, &request)
        }
    }
}

/// What the payer's answer on the 3-D Secure page led to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authenticated {
    /// `return_url` with Stripe's query (`payment_intent`, `payment_intent_client_secret`,
    /// `redirect_status`), when the confirm gave one.
    pub redirect: Option<String>,
    /// The intent's status now.
    pub status: PiStatus,
}

/// The payer's answer to the 3-D Secure challenge `token` of a `requires_action` intent:
/// `complete` charges the card as its row says (or, with `confirmation_method=manual`,
/// waits for the server's confirm); failing leaves `requires_payment_method` with
/// `payment_intent_authentication_failure`. `None` for a stale or unknown token.
pub(crate) fn authenticate(
    account: &mut Account,
    pi_id: &str,
    token: &str,
    complete: bool,
) -> ApiResult<Option<Authenticated>> {
    let Some(pi) = account.payment_intents.get_mut(pi_id) else {
        return Ok(None);
    };
    let pending = pi.status == PiStatus::RequiresAction
        && pi.next_action.as_ref().is_some_and(|a| a.token == token);
    if !pending {
        return Ok(None);
    }
    let action = pi.next_action.take().expect("checked above");
    let request = EventRequest::default();
    if !complete {
        pi.status = PiStatus::RequiresPaymentMethod;
        pi.last_payment_error = Some(LastError {
            error: CardError::from(cards::AUTHENTICATION_FAILED),
            method_type: MethodType::Card,
            charge: None,
        });
        let obj = snapshot(&pi.json(None))?;
        emit(account, "payment_intent.payment_failed", obj, &request)?;
    } else if pi.confirmation_method == ConfirmationMethod::Manual {
        // The server confirms again (and then the card is charged without asking).
        pi.authenticated = true;
        pi.status = PiStatus::RequiresConfirmation;
    } else {
        pi.authenticated = true;
        // A decline is recorded like any other; the payer is sent back either way.
        let _ = charge_card(account, pi_id, None, &request);
    }
    let pi = account.payment_intents.get(pi_id).expect("looked up");
    let redirect_status = match pi.status {
        PiStatus::RequiresPaymentMethod => "failed",
        PiStatus::Processing => "processing",
        _ => "succeeded",
    };
    Ok(Some(Authenticated {
        redirect: action.return_url.map(|u| {
            let mut url = url::Url::parse(&u).expect("checked when confirmed");
            url.query_pairs_mut()
                .append_pair("payment_intent", &pi.id)
                .append_pair("payment_intent_client_secret", &pi.client_secret)
                .append_pair("redirect_status", redirect_status);
            url.to_string()
        }),
        status: pi.status,
    }))
}

/// `capture`: takes `amount_to_capture` (default all) of a `requires_capture` intent;
/// `charge.captured`, `payment_intent.succeeded`; a partial capture releases the rest
/// (a refund of it, `charge.refunded`).
pub(super) fn capture(
    account: &mut Account,
    pi_id: &str,
    c: CaptureIn,
    request: &EventRequest,
) -> ApiResult<()> {
    let pi = account
        .payment_intents
        .get(pi_id)
        .ok_or_else(|| no_such(pi_id))?;
    if pi.status != PiStatus::RequiresCapture {
        return Err(unexpected_state(
            pi,
            format!(
                "This PaymentIntent could not be captured because it has a status of {}. Only \
                 a PaymentIntent with one of the following statuses may be captured: \
                 requires_capture.",
                pi.status.as_str()
            ),
        ));
    }
    let amount = c.amount_to_capture.unwrap_or(pi.amount);
    if amount < 1 {
        return Err(ApiError::too_small("amount_to_capture", 1));
    }
    if amount > pi.amount {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("amount_too_large"),
            format!(
                "The amount to capture ({}) must be less than or equal to the amount \
                 capturable ({}).",
                crate::money::format_amount(amount, &pi.currency),
                crate::money::format_amount(pi.amount, &pi.currency)
            ),
        )
        .with_param("amount_to_capture"));
    }
    let mut metadata = pi.data.metadata.clone();
    if let Some(m) = &c.metadata {
        m.apply(&mut metadata);
        check_metadata("metadata", &metadata)?;
    }
    let charge_id = pi
        .latest_charge
        .clone()
        .ok_or_else(|| ApiError::internal("a PaymentIntent requiring capture has no charge"))?;
    let charge = account
        .charges
        .get_mut(&charge_id)
        .ok_or_else(|| ApiError::internal("the charge to capture is gone"))?;
    charge.capture = if amount == charge.amount {
        Capture::Full
    } else {
        Capture::Partial(amount)
    };
    let remainder = charge.amount - amount;
    let charge_obj = snapshot(&charge.json())?;
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    pi.data.metadata = metadata;
    if let Some(s) = c.statement_descriptor {
        pi.data.statement_descriptor = Some(s);
    }
    if let Some(s) = c.statement_descriptor_suffix {
        pi.data.statement_descriptor_suffix = Some(s);
    }
    pi.status = PiStatus::Succeeded;
    pi.amount_captured = (remainder > 0).then_some(amount);
    let pi_obj = snapshot(&pi.json(None))?;
    emit(account, "charge.captured", charge_obj, request)?;
    emit(account, "payment_intent.succeeded", pi_obj, request)?;
    if remainder > 0 {
        refunds::release(account, &charge_id, remainder, request)?;
    }
    Ok(())
}

/// `cancel`: from `requires_payment_method`, `requires_confirmation`, `requires_action` or
/// `requires_capture` (the authorization is released: a refund, `charge.refunded`);
/// `payment_intent.canceled`. An intent of an open Checkout Session is canceled by
/// expiring the session.
pub(super) fn cancel(
    account: &mut Account,
    pi_id: &str,
    reason: Option<super::object::CancellationReason>,
    request: &EventRequest,
) -> ApiResult<()> {
    let pi = account
        .payment_intents
        .get(pi_id)
        .ok_or_else(|| no_such(pi_id))?;
    if let Some((session, true)) = checkout_session(account, pi_id) {
        return Err(unexpected_state(
            pi,
            format!(
                "You cannot cancel this PaymentIntent because Checkout Session {session} is \
                 still open: expire the session instead (POST \
                 /v1/checkout/sessions/{session}/expire), which cancels it."
            ),
        ));
    }
    match pi.status {
        PiStatus::RequiresPaymentMethod
        | PiStatus::RequiresConfirmation
        | PiStatus::RequiresAction
        | PiStatus::RequiresCapture => {}
        other => {
            return Err(unexpected_state(
                pi,
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only \
                     a PaymentIntent with one of the following statuses may be canceled: \
                     requires_payment_method, requires_capture, requires_confirmation, \
                     requires_action.",
                    other.as_str()
                ),
            ));
        }
    }
    let release = (pi.status == PiStatus::RequiresCapture)
        .then(|| pi.latest_charge.clone())
        .flatten();
    if let Some(charge_id) = release {
        let amount = account
            .charges
            .get(&charge_id)
            .map_or(0, Charge::refundable);
        if amount > 0 {
            refunds::release(account, &charge_id, amount, request)?;
        }
    }
    let now = account.now();
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    pi.status = PiStatus::Canceled;
    pi.canceled_at = Some(now);
    pi.cancellation_reason = reason;
    pi.next_action = None;
    let obj = snapshot(&pi.json(None))?;
    emit(account, "payment_intent.canceled", obj, request)
}

/// `update`: payment fields while the intent waits for a payment method, confirmation or
/// action; afterwards (and for Checkout's intents) only descriptive ones. A new payment
/// method makes it `requires_confirmation`. Emits nothing (Stripe has no
/// `payment_intent.updated`).
pub(super) fn update(account: &mut Account, pi_id: &str, u: UpdateIn) -> ApiResult<()> {
    let pi = account
        .payment_intents
        .get(pi_id)
        .ok_or_else(|| no_such(pi_id))?;
    let editable = matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    ) && checkout_session(account, pi_id).is_none();
    let payment_fields = [
        ("amount", u.amount.is_some()),
        ("currency", u.currency.is_some()),
        ("payment_method", u.payment_method.is_some()),
        ("payment_method_data", u.payment_method_data.is_some()),
        (
            "payment_method_types",
            u.common.payment_method_types.is_some(),
        ),
        ("capture_method", u.common.capture_method.is_some()),
        ("customer", u.common.customer.is_some()),
        ("setup_future_usage", u.common.setup_future_usage.is_some()),
    ];
    if !editable && let Some((field, _)) = payment_fields.iter().find(|(_, given)| *given) {
        return Err(unexpected_state(
            pi,
            format!(
                "You cannot update {field} on this PaymentIntent because it has a status of {}{}. \
                 Only a PaymentIntent with one of the following statuses may be updated: \
                 requires_payment_method, requires_confirmation, requires_action.",
                pi.status.as_str(),
                if checkout_session(account, pi_id).is_some() {
                    " and belongs to a Checkout Session"
                } else {
                    ""
                }
            ),
        ));
    }
    let currency = u.currency.clone().unwrap_or_else(|| pi.currency.clone());
    if u.amount.is_some() || u.currency.is_some() {
        check_amount(u.amount.unwrap_or(pi.amount), &currency)?;
    }
    if let Some(types) = &u.common.payment_method_types {
        check_method_types(types, "payment_method_types")?;
    }
    if let Some(customer) = &u.common.customer {
        crate::resources::customers::existing(account, customer, "customer")?;
    }
    let mut metadata = pi.data.metadata.clone();
    if let Some(m) = &u.common.metadata {
        m.apply(&mut metadata);
        check_metadata("metadata", &metadata)?;
    }
    let pm_id = match (u.payment_method_data, u.payment_method) {
        (Some(new), _) => Some(new.record(account)),
        (None, Some(id)) => Some(payment_methods::resolve(account, &id, "payment_method")?),
        (None, None) => None,
    };
    let pi = account.payment_intents.get_mut(pi_id).expect("looked up");
    let c = u.common;
    if let Some(a) = u.amount {
        pi.amount = a;
    }
    pi.currency = currency;
    pi.data.metadata = metadata;
    if let Some(x) = c.description {
        pi.data.description = Some(x);
    }
    if let Some(x) = c.receipt_email {
        pi.data.receipt_email = Some(x);
    }
    if let Some(x) = c.statement_descriptor {
        pi.data.statement_descriptor = Some(x);
    }
    if let Some(x) = c.statement_descriptor_suffix {
        pi.data.statement_descriptor_suffix = Some(x);
    }
    if let Some(x) = c.transfer_group {
        pi.data.transfer_group = Some(x);
    }
    if let Some(x) = c.setup_future_usage {
        pi.data.setup_future_usage = Some(x);
    }
    if let Some(x) = c.shipping {
        pi.data.shipping = Some(x);
    }
    if let Some(x) = c.capture_method {
        pi.data.capture_method = x;
    }
    if let Some(x) = c.customer {
        pi.customer = Some(x);
    }
    if let Some(x) = c.payment_method_types {
        pi.payment_method_types = x;
    }
    if let Some(pm) = pm_id {
        pi.payment_method = Some(pm);
        pi.authenticated = false;
        pi.next_action = None;
        pi.status = PiStatus::RequiresConfirmation;
    }
    Ok(())
}
