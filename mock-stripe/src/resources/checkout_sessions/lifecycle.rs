//! The state machine (contract §2.3): pay (complete or decline), expire on request or when
//! time is up, and the events each transition emits, in order.

use super::object::{CustomerDetails, Expansion, Mode, PaymentStatus, Session, Status};
use crate::cards::{Card, CardError, Outcome};
use crate::ids::prefix;
use crate::protocol::{ApiError, ApiResult};
use crate::resources::events::{EventRequest, emit, snapshot};
use crate::resources::payment_intents::{Charge, ChargeCard, LastError, PaymentIntent, PiStatus};
use crate::store::Account;

fn event_version(session: &Session) -> String {
    session.version().as_str().to_string()
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
    let v = event_version(&session);
    if let Some(pi_id) = &session.payment_intent
        && let Some(pi) = account.payment_intents.get_mut(pi_id)
        && pi.status == PiStatus::RequiresPaymentMethod
    {
        pi.status = PiStatus::Canceled;
        pi.canceled_at = Some(now);
        pi.cancellation_reason = Some("abandoned");
        let obj = snapshot(&pi.json(None))?;
        emit(account, "payment_intent.canceled", obj, &v, request)?;
    }
    let obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
    emit(account, "checkout.session.expired", obj, &v, request)
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
}

/// The result of submitting the payment form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PayResult {
    /// Paid now; events emitted. Carries the redirect URL (if any).
    Completed(Option<String>),
    /// Paid earlier (double submit): nothing new happens.
    AlreadyComplete(Option<String>),
    Expired,
    Declined(CardError),
}

/// Charges the card for an open session (contract §2.3).
///
/// Success: the session becomes `complete`/`paid` and the events `payment_intent.created`
/// (first attempt only), `charge.succeeded`, `payment_intent.succeeded`,
/// `checkout.session.completed` are emitted in that order. A decline leaves the session open
/// and emits `payment_intent.created` (first attempt), `charge.failed`,
/// `payment_intent.payment_failed`.
pub(crate) fn pay(account: &mut Account, id: &str, payer: &Payer<'_>) -> ApiResult<PayResult> {
    refresh(account, id)?;
    let now = account.now();
    let request = EventRequest::default(); // a browser, not an API call
    let session = account
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "session", true))?;
    match session.status {
        Status::Complete => return Ok(PayResult::AlreadyComplete(session.redirect_url())),
        Status::Expired => return Ok(PayResult::Expired),
        Status::Open => {}
    }
    let v = event_version(session);
    let details = CustomerDetails {
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
    };

    if session.mode == Mode::Setup {
        // Saving a card for later: no money moves, so no PaymentIntent.
        let session = account.sessions.get_mut(id).expect("looked up above");
        session.status = Status::Complete;
        session.customer_details = Some(details);
        let session = session.clone();
        let obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
        emit(account, "checkout.session.completed", obj, &v, &request)?;
        return Ok(PayResult::Completed(session.redirect_url()));
    }

    // The PaymentIntent is created on the first attempt and reused by later ones.
    let pi_id = match &session.payment_intent {
        Some(pi) => pi.clone(),
        None => {
            let pi = PaymentIntent::new(
                &mut account.ids,
                now,
                session.amount_total.unwrap_or(0),
                session.currency.as_deref().unwrap_or("usd"),
                &session.payment_intent_data,
            );
            let pi_id = pi.id.clone();
            let obj = snapshot(&pi.json(None))?;
            account.payment_intents.insert(pi);
            account
                .sessions
                .get_mut(id)
                .expect("looked up above")
                .payment_intent = Some(pi_id.clone());
            emit(account, "payment_intent.created", obj, &v, &request)?;
            pi_id
        }
    };

    let outcome = crate::cards::outcome(&payer.card.number);
    let (amount, currency, description) = {
        let pi = account.payment_intents.get(&pi_id).expect("created above");
        (pi.amount, pi.currency.clone(), pi.data.description.clone())
    };
    let charge = Charge {
        id: account.ids.object(prefix::CHARGE),
        created: now,
        amount,
        currency,
        payment_intent: pi_id.clone(),
        payment_method: account.ids.object(prefix::PAYMENT_METHOD),
        card: ChargeCard::from(payer.card),
        email: Some(payer.email.to_string()),
        name: payer.name.map(str::to_string),
        failure: match &outcome {
            Outcome::Succeeds => None,
            Outcome::Declined(e) => Some(e.clone()),
        },
        description,
    };
    let charge_obj = snapshot(&charge.json())?;
    let (charge_id, pm_id) = (charge.id.clone(), charge.payment_method.clone());
    account.charges.insert(charge);
    let pi = account
        .payment_intents
        .get_mut(&pi_id)
        .expect("created above");
    pi.latest_charge = Some(charge_id.clone());
    pi.payment_method = Some(pm_id);

    match outcome {
        Outcome::Declined(error) => {
            pi.last_payment_error = Some(LastError {
                error: error.clone(),
                charge: charge_id,
            });
            let pi_obj = snapshot(&pi.json(None))?;
            emit(account, "charge.failed", charge_obj, &v, &request)?;
            emit(
                account,
                "payment_intent.payment_failed",
                pi_obj,
                &v,
                &request,
            )?;
            Ok(PayResult::Declined(error))
        }
        Outcome::Succeeds => {
            pi.status = PiStatus::Succeeded;
            pi.last_payment_error = None;
            let pi_obj = snapshot(&pi.json(None))?;
            let session = account.sessions.get_mut(id).expect("looked up above");
            session.status = Status::Complete;
            session.payment_status = PaymentStatus::Paid;
            session.customer_details = Some(details);
            let session = session.clone();
            let session_obj = snapshot(&session.json(&session.version(), &Expansion::default()))?;
            emit(account, "charge.succeeded", charge_obj, &v, &request)?;
            emit(account, "payment_intent.succeeded", pi_obj, &v, &request)?;
            emit(
                account,
                "checkout.session.completed",
                session_obj,
                &v,
                &request,
            )?;
            Ok(PayResult::Completed(session.redirect_url()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::engine::clock::Clock;

    fn event_types(a: &Account) -> Vec<&str> {
        a.events
            .as_slice()
            .iter()
            .map(|e| e.kind.as_str())
            .collect()
    }

    #[test]
    fn paying_completes_once_with_events_in_order() {
        let mut a = account();
        let id = new_session(&mut a);
        let c = card("4242424242424242");
        let payer = Payer {
            card: &c,
            email: "buyer@example.com",
            name: Some("Jenny Rosen"),
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
        let completed = &a.events.as_slice()[3];
        let obj: serde_json::Value = serde_json::from_str(completed.object.get()).unwrap();
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
            },
        )
        .unwrap();
        let PayResult::Declined(e) = r else {
            panic!("{r:?}")
        };
        assert_eq!(e.decline_code, Some("generic_decline"));
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
        assert_eq!(a.events.as_slice()[0].request.id.as_deref(), Some("req_1"));
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
                    name: None
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
}
