//! The events this crate emits, signed by `signature::sign`, must be accepted and parsed by
//! async-stripe's webhook verifier (1.0.0-rc.10): it checks the signature and deserialises
//! `data.object` into the typed Stripe object, failing on any missing required field.

use stripe_webhook::{EventObject, Webhook};

use crate::cards;
use crate::clock::Clock;
use crate::protocol::version::ApiVersion;
use crate::protocol::{Params, RequestCtx};
use crate::resources::checkout_sessions::{self, Payer};
use crate::resources::events::{Delivery, EventRequest};
use crate::signature::sign;
use crate::store::Account;
use crate::{WebhookTarget, store::GlobalTargets};

const NOW: i64 = 1_700_000_000;
const SECRET: &str = "whsec_test_secret_for_fake_stripe_0123456789";

fn account() -> Account {
    // One forward-to target, so every event has a delivery (and thus a body) in the outbox.
    let globals: GlobalTargets = std::sync::Arc::new(std::sync::RwLock::new(vec![WebhookTarget {
        url: "http://127.0.0.1:9/hook".into(),
        secret: SECRET.into(),
    }]));
    Account::new(Clock::Fixed(NOW), globals)
}

fn new_session(a: &mut Account, version: Option<&str>) -> String {
    let wire = "mode=payment&success_url=https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}\
        &cancel_url=https://shop.test/cart&client_reference_id=order_42&metadata[order_id]=42\
        &customer_email=buyer@example.com&payment_intent_data[metadata][order_id]=42\
        &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
        &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=2";
    let params = Params::decode(&[wire.as_bytes()]).unwrap();
    let ctx = RequestCtx {
        request_id: "req_1".into(),
        version: version.map(|v| ApiVersion::parse(v).unwrap()),
        idempotency_key: None,
    };
    checkout_sessions::create_session(a, &params, &ctx, "http://127.0.0.1:12111")
        .unwrap()
        .0
}

fn verify(d: &Delivery) -> stripe_webhook::Event {
    let body = std::str::from_utf8(&d.body).unwrap();
    let header = sign(SECRET, NOW, &d.body);
    Webhook::construct_event_with_timestamp(body, &header, SECRET, NOW + 10)
        .unwrap_or_else(|e| panic!("{} did not verify/parse: {e:?}\n{body}", d.event_type))
}

fn pay(a: &mut Account, id: &str, number: &str) {
    let card = cards::check(number, "12/34", "123", NOW).unwrap();
    checkout_sessions::pay(
        a,
        id,
        &Payer {
            card: &card,
            email: "buyer@example.com",
            name: Some("Jenny Rosen"),
        },
    )
    .unwrap();
}

#[test]
fn completed_session_event_verifies_and_parses_as_a_checkout_session() {
    for version in [None, Some("2026-09-30.endive"), Some("2023-10-16")] {
        let mut a = account();
        let id = new_session(&mut a, version);
        pay(&mut a, &id, "4242 4242 4242 4242");
        let outbox = a.take_outbox();
        let completed = outbox
            .iter()
            .find(|d| d.event_type == "checkout.session.completed")
            .unwrap();
        let event = verify(completed);
        let EventObject::CheckoutSessionCompleted(session) = event.data.object else {
            panic!("not parsed as a checkout session ({version:?})")
        };
        assert_eq!(session.id.as_str(), id);
        assert_eq!(session.amount_total, Some(3998));
        assert_eq!(session.client_reference_id.as_deref(), Some("order_42"));
        assert!(session.url.is_none());
        assert!(session.payment_intent.is_some());
        assert_eq!(
            session.customer_details.and_then(|d| d.email).as_deref(),
            Some("buyer@example.com")
        );
    }
}

#[test]
fn every_emitted_event_parses_into_its_typed_object() {
    let mut a = account();
    let declined = new_session(&mut a, None);
    pay(&mut a, &declined, "4000000000000002");
    checkout_sessions::expire(&mut a, &declined, &EventRequest::default()).unwrap();
    let paid = new_session(&mut a, None);
    pay(&mut a, &paid, "4242424242424242");

    let outbox = a.take_outbox();
    let mut seen = Vec::new();
    for d in &outbox {
        let event = verify(d);
        let typed = match (&event.data.object, d.event_type) {
            (EventObject::PaymentIntentCreated(pi), "payment_intent.created") => pi.amount == 3998,
            (EventObject::ChargeFailed(ch), "charge.failed") => {
                ch.failure_code.as_deref() == Some("card_declined")
            }
            (EventObject::PaymentIntentPaymentFailed(pi), "payment_intent.payment_failed") => {
                pi.last_payment_error
                    .as_ref()
                    .and_then(|e| e.decline_code.as_deref())
                    == Some("generic_decline")
            }
            (EventObject::PaymentIntentCanceled(_), "payment_intent.canceled") => true,
            (EventObject::CheckoutSessionExpired(s), "checkout.session.expired") => {
                s.id.as_str() == declined
            }
            (EventObject::ChargeSucceeded(ch), "charge.succeeded") => ch.paid && ch.amount == 3998,
            (EventObject::PaymentIntentSucceeded(pi), "payment_intent.succeeded") => {
                pi.amount_received == 3998
            }
            (EventObject::CheckoutSessionCompleted(s), "checkout.session.completed") => {
                s.id.as_str() == paid
            }
            _ => false,
        };
        assert!(
            typed,
            "{} parsed into the wrong object or with wrong values",
            d.event_type
        );
        seen.push(d.event_type);
    }
    assert_eq!(
        seen,
        [
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed",
            "payment_intent.canceled",
            "checkout.session.expired",
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.completed",
        ]
    );
}

#[test]
fn tampered_body_or_wrong_secret_is_rejected() {
    let mut a = account();
    let id = new_session(&mut a, None);
    pay(&mut a, &id, "4242424242424242");
    let d = a.take_outbox().pop().unwrap();
    let body = std::str::from_utf8(&d.body).unwrap();
    let header = sign(SECRET, NOW, &d.body);
    assert!(Webhook::construct_event_with_timestamp(body, &header, "whsec_other", NOW).is_err());
    let tampered = body.replacen("3998", "1", 1);
    assert!(Webhook::construct_event_with_timestamp(&tampered, &header, SECRET, NOW).is_err());
    // Older than the SDK's 300 s tolerance.
    assert!(Webhook::construct_event_with_timestamp(body, &header, SECRET, NOW + 301).is_err());
}
