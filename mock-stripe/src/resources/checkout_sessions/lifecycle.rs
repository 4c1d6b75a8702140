//! The state machine (contract §2.3): pay (complete or decline), expire on request or when
//! time is up, and the events each transition emits, in order.

use super::object::{
    CustomerDetails, Expansion, Mode, PaymentStatus, PendingAuthentication, Session, Status,
};
use crate::cards::{Card, CardError, Outcome};
use crate::ids::prefix;
use crate::protocol::error::CardDetails;
use crate::protocol::{ApiError, ApiResult};
use crate::resources::events::{EventObject, EventRequest, emit, snapshot, versioned};
use crate::resources::payment_intents::{
    CancellationReason, Charge, ChargeCard, ChargeMethod, LastError, MethodType, PaymentIntent,
    PiStatus,
};
use crate::resources::payment_methods;
use crate::store::Account;

/// A session as an event carries it: a copy, rendered at the account's version and at each
/// endpoint's own (never expanded).
pub(crate) fn session_object(session: &Session) -> EventObject {
    versioned(session.clone(), |s, v| {
        snapshot(&s.json(v, &Expansion::default()))
    })
}

/// Moves an open session to `expired`: cancels a PaymentIntent left by declines, then
/// emits `checkout.session.expired`. The caller checked the status.
fn do_expire(account: &mut Account, id: &str, request: &EventRequest) -> ApiResult<()> {
    let now = account.now();
    let Some(session) = account.sessions.get_mut(id) else {
        return Ok(());
    };
    session.status = Status::Expired;
    let session = session.clone();
    if let Some(pi_id) = &session.payment_intent
        && let Some(pi) = account.payment_intents.get_mut(pi_id)
        && pi.status == PiStatus::RequiresPaymentMethod
    {
        pi.status = PiStatus::Canceled;
        pi.canceled_at = Some(now);
        pi.cancellation_reason = Some(CancellationReason::Abandoned);
        let obj = snapshot(&pi.json(None))?;
        emit(account, "payment_intent.canceled", obj, request)?;
    }
    let obj = session_object(&session);
    emit(account, "checkout.session.expired", obj, request)
}

/// Expires the session if its `expires_at` has passed (expiry is evaluated lazily on
/// access, and by the sweeper in the background).
pub(crate) fn refresh(account: &mut Account, id: &str) -> ApiResult<()> {
    let now = account.now();
    let due = account
        .sessions
        .get(id)
        .is_some_and(|s| s.status == Status::Open && now >= s.expires_at);
    if due {
        do_expire(account, id, &EventRequest::default())
    } else {
        Ok(())
    }
}

/// The agenda's expiry job: expires the session if it is still open and its time is up
/// (a session paid or expired meanwhile is left alone).
pub(crate) fn expire_if_due(account: &mut Account, id: &str) -> ApiResult<()> {
    refresh(account, id)
}

/// `POST /v1/checkout/sessions/{id}/expire` semantics: only from `open`.
pub(crate) fn expire(account: &mut Account, id: &str, request: &EventRequest) -> ApiResult<()> {
    refresh(account, id)?;
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    if session.status != Status::Open {
        return Err(ApiError::bad_request(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `{}`.",
            session.status.as_str()
        )));
    }
    do_expire(account, id, request)
}

/// What the payer typed, checked.
pub(crate) struct Payer<'a> {
    pub card: &'a Card,
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// For cards that require 3-D Secure: `None` asks the payer (the challenge page),
    /// `Some(true)` / `Some(false)` answers it at once (headless completion).
    pub authenticated: Option<bool>,
}

/// The result of submitting the payment form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PayResult {
    /// Paid now (or, for a bank debit, submitted); events emitted. Carries the redirect URL.
    Completed(Option<String>),
    /// Paid earlier (double submit): nothing new happens.
    AlreadyComplete(Option<String>),
    Expired,
    Declined(CardError),
    /// The card requires 3-D Secure: the payer must answer the challenge `token`.
    RequiresAuthentication {
        token: String,
    },
}

/// The session, if it can still be paid; otherwise what the payer should be told.
pub(super) fn open_session<'a>(
    account: &'a mut Account,
    id: &str,
) -> ApiResult<Result<&'a Session, PayResult>> {
    refresh(account, id)?;
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    Ok(match session.status {
        Status::Complete => Err(PayResult::AlreadyComplete(session.redirect_url())),
        Status::Expired => Err(PayResult::Expired),
        Status::Open => Ok(session),
    })
}

/// The session's PaymentIntent, created (with `payment_intent.created`) on the first attempt
/// and reused by later ones.
pub(super) fn ensure_payment_intent(
    account: &mut Account,
    id: &str,
    method_type: &str,
    request: &EventRequest,
) -> ApiResult<String> {
    let now = account.now();
    let session = account.sessions.get(id).expect("checked by the caller");
    if let Some(pi) = &session.payment_intent {
        let pi = pi.clone();
        if let Some(p) = account.payment_intents.get_mut(&pi) {
            p.payment_method_types = vec![method_type.to_string()];
        }
        return Ok(pi);
    }
    let (amount, currency, data) = (
        session.amount_total.unwrap_or(0),
        session.currency.clone().unwrap_or_else(|| "usd".into()),
        session
            .payment_intent_data
            .as_deref()
            .cloned()
            .unwrap_or_default(),
    );
    let mut pi = PaymentIntent::new(&mut account.ids, now, amount, &currency, &data);
    pi.payment_method_types = vec![method_type.to_string()];
    let pi_id = pi.id.clone();
    let obj = snapshot(&pi.json(None))?;
    account.payment_intents.insert(pi);
    account
        .sessions
        .get_mut(id)
        .expect("checked by the caller")
        .payment_intent = Some(pi_id.clone());
    emit(account, "payment_intent.created", obj, request)?;
    Ok(pi_id)
}

/// Before API 2022-08-01 a payment-mode session's PaymentIntent exists from creation
/// (`payment_intent` is set in the create answer, `payment_intent.created` comes with the
/// create call); paying reuses it. Later versions defer it to the first payment attempt.
pub(crate) fn create_intent_up_front(
    account: &mut Account,
    id: &str,
    request: &EventRequest,
) -> ApiResult<()> {
    let Some(session) = account.sessions.get(id) else {
        return Ok(());
    };
    if session.mode != Mode::Payment || !session.pre_2022_08_01() {
        return Ok(());
    }
    let methods = session.payment_method_types().to_vec();
    let pi_id = ensure_payment_intent(account, id, "card", request)?;
    if let Some(pi) = account.payment_intents.get_mut(&pi_id) {
        pi.payment_method_types = methods;
    }
    Ok(())
}

/// Pays an open session by card (contract §2.3).
///
/// Success: the session becomes `complete`/`paid` and the events `payment_intent.created`
/// (first attempt only), `charge.succeeded`, `payment_intent.succeeded`,
/// `checkout.session.completed` are emitted in that order. A decline leaves the session open
/// and emits `payment_intent.created` (first attempt), `charge.failed`,
/// `payment_intent.payment_failed`. A card that requires 3-D Secure first emits
/// `payment_intent.requires_action` and waits for [`authenticate`], unless the payer's
/// answer came with the payment (`Payer::authenticated`).
pub(crate) fn pay(account: &mut Account, id: &str, payer: &Payer<'_>) -> ApiResult<PayResult> {
    pay_with_method(account, id, payer, None)
}

/// [`pay`] with a PaymentMethod that exists already (`pm_…`, Checkout's own
/// `POST /v1/payment_pages/{id}/confirm`): the charge and the PaymentIntent name it instead
/// of a new one recorded from what the payer typed.
pub(crate) fn pay_with_method(
    account: &mut Account,
    id: &str,
    payer: &Payer<'_>,
    method: Option<&str>,
) -> ApiResult<PayResult> {
    let request = EventRequest::default(); // a browser, not an API call
    let session = match open_session(account, id)? {
        Ok(s) => s,
        Err(answer) => return Ok(answer),
    };
    let details = CustomerDetails {
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
    };

    if session.mode == Mode::Setup || session.amount_total == Some(0) {
        // Saving a card for later, or a session a discount made free: no money moves, so
        // no PaymentIntent.
        super::catalog::on_completion(account, id, Some(payer.email), payer.name, &request, None)?;
        let session = account.sessions.get_mut(id).expect("looked up above");
        session.status = Status::Complete;
        session.customer_details = Some(Box::new(details));
        let session = session.clone();
        let obj = session_object(&session);
        emit(account, "checkout.session.completed", obj, &request)?;
        return Ok(PayResult::Completed(session.redirect_url()));
    }

    let pi_id = ensure_payment_intent(account, id, "card", &request)?;
    if crate::cards::requires_authentication(&payer.card.number) {
        match payer.authenticated {
            None => {
                let token = account.ids.with_len("3ds_", 24);
                let pi = account
                    .payment_intents
                    .get_mut(&pi_id)
                    .expect("ensured above");
                pi.status = PiStatus::RequiresAction;
                pi.payment_method = Some(account.ids.object(prefix::PAYMENT_METHOD));
                let obj = snapshot(&pi.json(None))?;
                account
                    .sessions
                    .get_mut(id)
                    .expect("looked up above")
                    .pending_authentication = Some(Box::new(PendingAuthentication {
                    token: token.clone(),
                    card: payer.card.clone(),
                    email: payer.email.to_string(),
                    name: payer.name.map(str::to_string),
                }));
                emit(account, "payment_intent.requires_action", obj, &request)?;
                return Ok(PayResult::RequiresAuthentication { token });
            }
            Some(false) => return fail_authentication(account, id, &pi_id, &request),
            Some(true) => {}
        }
    }
    let charged = Charged {
        session: id,
        payment_intent: &pi_id,
        method,
    };
    charge_card(account, &charged, payer, details, &request)
}

/// The payer's answer to a 3-D Secure challenge: `complete` charges the card as its row in
/// the test-card table says; failing leaves the session open with
/// `payment_intent.payment_failed` (`payment_intent_authentication_failure`). A stale or
/// unknown `token` (the page was answered already) is `None`.
pub(crate) fn authenticate(
    account: &mut Account,
    id: &str,
    token: &str,
    complete: bool,
) -> ApiResult<Option<PayResult>> {
    let request = EventRequest::default();
    let session = match open_session(account, id)? {
        Ok(s) => s,
        Err(answer) => return Ok(Some(answer)),
    };
    let matches = session
        .pending_authentication
        .as_ref()
        .is_some_and(|p| p.token == token);
    let (Some(pi_id), true) = (session.payment_intent.clone(), matches) else {
        return Ok(None);
    };
    let pending = account
        .sessions
        .get_mut(id)
        .expect("looked up above")
        .pending_authentication
        .take()
        .expect("matched above");
    if !complete {
        return fail_authentication(account, id, &pi_id, &request).map(Some);
    }
    let payer = Payer {
        card: &pending.card,
        email: &pending.email,
        name: pending.name.as_deref(),
        authenticated: Some(true),
    };
    let details = CustomerDetails {
        email: Some(pending.email.clone()),
        name: pending.name.clone(),
    };
    let charged = Charged {
        session: id,
        payment_intent: &pi_id,
        method: None,
    };
    charge_card(account, &charged, &payer, details, &request).map(Some)
}

fn fail_authentication(
    account: &mut Account,
    id: &str,
    pi_id: &str,
    request: &EventRequest,
) -> ApiResult<PayResult> {
    let error = CardError::from(crate::cards::AUTHENTICATION_FAILED);
    if let Some(s) = account.sessions.get_mut(id) {
        s.pending_authentication = None;
    }
    let pi = account
        .payment_intents
        .get_mut(pi_id)
        .expect("created before the challenge");
    pi.status = PiStatus::RequiresPaymentMethod;
    pi.last_payment_error = Some(LastError {
        error: error.clone(),
        method_type: MethodType::Card,
        charge: None,
    });
    let obj = snapshot(&pi.json(None))?;
    emit(account, "payment_intent.payment_failed", obj, request)?;
    Ok(PayResult::Declined(error))
}

/// A declined payment of session `id` as the API answers it (402 `card_error`): the
/// decline, with the failed charge and the session's PaymentIntent attached as Stripe
/// attaches them.
pub(crate) fn decline_error(account: &Account, id: &str, e: CardError) -> ApiError {
    let pi = account
        .sessions
        .get(id)
        .and_then(|s| s.payment_intent.as_deref())
        .and_then(|p| account.payment_intents.get(p));
    ApiError::card(
        e.code.as_str(),
        e.message,
        CardDetails {
            decline_code: e.decline_code.map(|d| d.as_str().to_string()),
            charge: pi.and_then(|p| p.last_payment_error.as_ref().and_then(|e| e.charge.clone())),
            payment_intent: pi.and_then(|p| serde_json::to_value(p.json(None)).ok()),
            ..Default::default()
        },
    )
}

/// What a card charge is for: the session, its PaymentIntent, and the PaymentMethod to
/// name (`None`: record the card the payer typed as a new one).
struct Charged<'a> {
    session: &'a str,
    payment_intent: &'a str,
    method: Option<&'a str>,
}

/// Charges the card: the charge and the events of a success or a decline.
fn charge_card(
    account: &mut Account,
    charged: &Charged<'_>,
    payer: &Payer<'_>,
    details: CustomerDetails,
    request: &EventRequest,
) -> ApiResult<PayResult> {
    let (id, pi_id) = (charged.session, charged.payment_intent);
    let now = account.now();
    let outcome = crate::cards::outcome(&payer.card.number);
    let (amount, currency, description, capture, customer) = {
        let pi = account
            .payment_intents
            .get(pi_id)
            .expect("created by the caller");
        (
            pi.amount,
            pi.currency.clone(),
            pi.data.description.clone(),
            pi.new_charge_capture(),
            pi.customer.clone(),
        )
    };
    let charge = Charge {
        id: account.ids.object(prefix::CHARGE),
        created: now,
        amount,
        currency,
        payment_intent: pi_id.to_string(),
        payment_method: match charged.method {
            Some(pm) => pm.to_string(),
            None => {
                payment_methods::record_card(account, payer.card, Some(payer.email), payer.name)
            }
        },
        method: ChargeMethod::Card(ChargeCard::from(payer.card)),
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
        pending: false,
        failure: match &outcome {
            Outcome::Succeeds => None,
            Outcome::Declined(e) => Some(e.clone()),
        },
        description,
        capture,
        amount_refunded: 0,
        customer,
    };
    let charge_obj = snapshot(&charge.json())?;
    let (charge_id, pm_id) = (charge.id.clone(), charge.payment_method.clone());
    account.charges.insert(charge);
    let pi = account
        .payment_intents
        .get_mut(pi_id)
        .expect("created by the caller");
    pi.latest_charge = Some(charge_id.clone());
    pi.payment_method = Some(pm_id);

    match outcome {
        Outcome::Declined(error) => {
            pi.status = PiStatus::RequiresPaymentMethod;
            pi.last_payment_error = Some(LastError {
                error: error.clone(),
                method_type: MethodType::Card,
                charge: Some(charge_id),
            });
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.failed", charge_obj, request)?;
            emit(account, "payment_intent.payment_failed", pi_obj, request)?;
            Ok(PayResult::Declined(error))
        }
        Outcome::Succeeds => {
            // `succeeded`, or `requires_capture` with `capture_method=manual` (the session
            // is paid either way, as on Stripe).
            let pi_event = pi.card_charge_succeeded();
            let charge_obj = super::catalog::on_completion(
                account,
                id,
                Some(payer.email),
                payer.name,
                request,
                Some(&charge_id),
            )?
            .unwrap_or(charge_obj);
            let pi = account
                .payment_intents
                .get_mut(pi_id)
                .expect("created by the caller");
            let pi_obj = snapshot(&pi.json(None))?;
            let session = account.sessions.get_mut(id).expect("checked by the caller");
            session.status = Status::Complete;
            session.payment_status = PaymentStatus::Paid;
            session.customer_details = Some(Box::new(details));
            session.pending_authentication = None;
            let session = session.clone();
            let session_obj = session_object(&session);
            emit(account, "charge.succeeded", charge_obj, request)?;
            emit(account, pi_event, pi_obj, request)?;
            emit(account, "checkout.session.completed", session_obj, request)?;
            Ok(PayResult::Completed(session.redirect_url()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::cards::{DeclineCode, ErrorCode};
    use crate::engine::clock::Clock;
    use crate::resources::test_support::event_types;

    #[test]
    fn paying_completes_once_with_events_in_order() {
        let mut a = account();
        let id = new_session(&mut a);
        let c = card("4242424242424242");
        let payer = Payer {
            card: &c,
            email: "buyer@example.com",
            name: Some("Jenny Rosen"),
            authenticated: None,
        };
        let r = pay(&mut a, &id, &payer).unwrap();
        assert_eq!(
            r,
            PayResult::Completed(Some(format!("https://shop.test/ok?session_id={id}")))
        );
        assert_eq!(
            event_types(&a),
            [
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed"
            ]
        );
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(
            (s.status, s.payment_status),
            (Status::Complete, PaymentStatus::Paid)
        );
        let pi = a
            .payment_intents
            .get(s.payment_intent.as_deref().unwrap())
            .unwrap();
        assert_eq!(pi.status, PiStatus::Succeeded);
        assert_eq!(pi.amount, 3998);
        let completed = &a.events.rows()[3];
        let obj: serde_json::Value =
            serde_json::from_str(completed.object().unwrap().get()).unwrap();
        assert_eq!(obj["status"], "complete");
        assert_eq!(obj["url"], serde_json::Value::Null);
        assert_eq!(obj["customer_details"]["email"], "buyer@example.com");
        assert_eq!(obj["customer_details"]["name"], "Jenny Rosen");
        assert!(obj.get("line_items").is_none());
        assert_eq!(completed.api_version, "2026-09-30.endive");

        // A second submit changes nothing.
        let again = pay(&mut a, &id, &payer).unwrap();
        assert!(matches!(again, PayResult::AlreadyComplete(Some(_))));
        assert_eq!(a.events.len(), 4);
    }

    #[test]
    fn decline_keeps_session_open_then_retry_succeeds() {
        let mut a = account();
        let id = new_session(&mut a);
        let bad = card("4000000000000002");
        let r = pay(
            &mut a,
            &id,
            &Payer {
                card: &bad,
                email: "b@e.test",
                name: None,
                authenticated: None,
            },
        )
        .unwrap();
        let PayResult::Declined(e) = r else {
            panic!("{r:?}")
        };
        assert_eq!(e.decline_code, Some(DeclineCode::GenericDecline));
        assert_eq!(
            event_types(&a),
            [
                "payment_intent.created",
                "charge.failed",
                "payment_intent.payment_failed"
            ]
        );
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(s.status, Status::Open);
        let pi_id = s.payment_intent.clone().unwrap();

        let good = card("4242424242424242");
        let r = pay(
            &mut a,
            &id,
            &Payer {
                card: &good,
                email: "b@e.test",
                name: None,
                authenticated: None,
            },
        )
        .unwrap();
        assert!(matches!(r, PayResult::Completed(_)));
        assert_eq!(
            a.sessions.get(&id).unwrap().payment_intent.as_deref(),
            Some(pi_id.as_str())
        );
        assert_eq!(
            &event_types(&a)[3..],
            [
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed"
            ]
        );
    }

    #[test]
    fn expire_only_from_open() {
        let mut a = account();
        let id = new_session(&mut a);
        expire(
            &mut a,
            &id,
            &EventRequest {
                id: Some("req_1".into()),
                idempotency_key: None,
            },
        )
        .unwrap();
        assert_eq!(a.sessions.get(&id).unwrap().status, Status::Expired);
        assert_eq!(event_types(&a), ["checkout.session.expired"]);
        assert_eq!(a.events.rows()[0].request.id.as_deref(), Some("req_1"));
        let e = expire(&mut a, &id, &EventRequest::default()).unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
        );
        let e = expire(&mut a, "cs_test_nope", &EventRequest::default()).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.param.as_deref()),
            (404, Some("session"))
        );
        assert_eq!(
            pay(
                &mut a,
                &id,
                &Payer {
                    card: &card("4242424242424242"),
                    email: "x@y.test",
                    name: None,
                    authenticated: None,
                }
            )
            .unwrap(),
            PayResult::Expired
        );
    }

    #[test]
    fn time_passing_expires_lazily_and_cancels_a_declined_intent() {
        let mut a = account();
        let id = new_session(&mut a);
        let bad = card("4000000000009995");
        pay(
            &mut a,
            &id,
            &Payer {
                card: &bad,
                email: "b@e.test",
                name: None,
                authenticated: None,
            },
        )
        .unwrap();
        a.clock = Clock::at(NOW + 86_400);
        expire_if_due(&mut a, &id).unwrap();
        assert_eq!(a.sessions.get(&id).unwrap().status, Status::Expired);
        assert_eq!(
            &event_types(&a)[3..],
            ["payment_intent.canceled", "checkout.session.expired"]
        );
        expire_if_due(&mut a, &id).unwrap();
        assert_eq!(a.events.len(), 5, "expired exactly once");
    }

    #[test]
    fn three_d_secure_waits_for_the_payer_then_charges_as_the_card_says() {
        let mut a = account();
        let id = new_session(&mut a);
        let c = card("4000000000003220");
        let payer = Payer {
            card: &c,
            email: "b@e.test",
            name: None,
            authenticated: None,
        };
        let PayResult::RequiresAuthentication { token } = pay(&mut a, &id, &payer).unwrap() else {
            panic!("a 3-D Secure card asks first")
        };
        assert_eq!(a.sessions.get(&id).unwrap().status, Status::Open);
        assert_eq!(authenticate(&mut a, &id, "3ds_forged", true).unwrap(), None);
        let done = authenticate(&mut a, &id, &token, true).unwrap().unwrap();
        assert!(matches!(done, PayResult::Completed(_)));
        assert_eq!(
            authenticate(&mut a, &id, &token, true).unwrap(),
            Some(PayResult::AlreadyComplete(done_url(&a, &id)))
        );
        assert_eq!(
            event_types(&a),
            [
                "payment_intent.created",
                "payment_intent.requires_action",
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.completed"
            ]
        );

        // Authenticated, then declined by the issuer (4000 0082 6000 3178).
        let id = new_session(&mut a);
        let c = card("4000008260003178");
        let payer = Payer {
            card: &c,
            email: "b@e.test",
            name: None,
            authenticated: Some(true),
        };
        let PayResult::Declined(e) = pay(&mut a, &id, &payer).unwrap() else {
            panic!("declined after authentication")
        };
        assert_eq!(e.decline_code, Some(DeclineCode::InsufficientFunds));
    }

    fn done_url(a: &Account, id: &str) -> Option<String> {
        a.sessions.get(id).unwrap().redirect_url()
    }

    #[test]
    fn failing_three_d_secure_leaves_the_session_open() {
        let mut a = account();
        let id = new_session(&mut a);
        let c = card("4000002760003184");
        let payer = Payer {
            card: &c,
            email: "b@e.test",
            name: None,
            authenticated: None,
        };
        let PayResult::RequiresAuthentication { token } = pay(&mut a, &id, &payer).unwrap() else {
            panic!("asks first")
        };
        let Some(PayResult::Declined(e)) = authenticate(&mut a, &id, &token, false).unwrap() else {
            panic!("failing authentication declines")
        };
        assert_eq!(e.code, ErrorCode::PaymentIntentAuthenticationFailure);
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(s.status, Status::Open);
        assert!(s.pending_authentication.is_none());
        let pi = a
            .payment_intents
            .get(s.payment_intent.as_deref().unwrap())
            .unwrap();
        assert_eq!(pi.status, PiStatus::RequiresPaymentMethod);
        assert_eq!(
            event_types(&a).last(),
            Some(&"payment_intent.payment_failed")
        );
    }
}
