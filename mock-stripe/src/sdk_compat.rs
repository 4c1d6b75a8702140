//! The events this crate emits, signed by `signature::sign`, must be accepted and parsed by
//! async-stripe's webhook verifier (1.0.0-rc.10): it checks the signature and deserialises
//! `data.object` into the typed Stripe object, failing on any missing required field.
//!
//! The objects must also carry every field the official SDKs (Python `stripe` 16.1.0, Node
//! `stripe` 23.1.0, both generated for API 2026-10-28.endive) type as always present: the
//! Python SDK raises `AttributeError` on reading a field the response left out, where real
//! Stripe would have sent `null`.

use stripe_webhook::{EventObject, Webhook};

use crate::cards;
use crate::protocol::version::ApiVersion;
use crate::protocol::{Params, RequestCtx};
use crate::resources::checkout_sessions::{self, Payer};
use crate::resources::events::EventRequest;
use crate::signature::sign;
use crate::store::Account;
use serde_json::Value;

const NOW: i64 = 1_700_000_000;
const SECRET: &str = "whsec_test_secret_for_fake_stripe_0123456789";

fn account() -> Account {
    Account::at(NOW)
}

/// An emitted event as a webhook would carry it.
struct Delivery {
    event_type: String,
    body: Vec<u8>,
}

/// The events emitted since the last call, rendered as their deliveries' bodies.
fn take_outbox(a: &mut Account) -> Vec<Delivery> {
    std::mem::take(&mut a.emitted)
        .iter()
        .map(|id| {
            let e = a.events.get(id).unwrap();
            Delivery {
                event_type: e.kind.clone(),
                body: crate::protocol::to_json(&e.json()).unwrap(),
            }
        })
        .collect()
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
            authenticated: None,
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
        let outbox = take_outbox(&mut a);
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

    let outbox = take_outbox(&mut a);
    let mut seen = Vec::new();
    for d in &outbox {
        let event = verify(d);
        let typed = match (&event.data.object, d.event_type.as_str()) {
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
        seen.push(d.event_type.as_str());
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

/// 3-D Secure and bank debits emit events the plain card flow does not: they must verify
/// and parse too, with the values a shop reads.
#[test]
fn three_d_secure_and_bank_debit_events_parse_into_their_typed_objects() {
    let mut a = account();
    let challenged = new_session(&mut a, None);
    let card = cards::check("4000000000003220", "12/34", "123", NOW).unwrap();
    let payer = Payer {
        card: &card,
        email: "buyer@example.com",
        name: None,
        authenticated: None,
    };
    let checkout_sessions::PayResult::RequiresAuthentication { token } =
        checkout_sessions::pay(&mut a, &challenged, &payer).unwrap()
    else {
        panic!("a 3-D Secure card asks for authentication")
    };
    checkout_sessions::authenticate(&mut a, &challenged, &token, false).unwrap();

    // A euro session paid by SEPA debit that fails, and a US one by ACH that settles.
    let euro = |a: &mut Account| {
        let wire = "mode=payment&success_url=https://shop.test/ok\
            &line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=1500\
            &line_items[0][price_data][product_data][name]=Book&line_items[0][quantity]=1";
        let ctx = RequestCtx {
            request_id: "req_1".into(),
            version: None,
            idempotency_key: None,
        };
        let p = Params::decode(&[wire.as_bytes()]).unwrap();
        checkout_sessions::create_session(a, &p, &ctx, "http://127.0.0.1:12111")
            .unwrap()
            .0
    };
    let sepa = euro(&mut a);
    let failing = crate::bank_debits::BankKind::SepaDebit.test_account(false);
    checkout_sessions::pay_by_bank(&mut a, &sepa, &failing, "b@e.test", None).unwrap();
    checkout_sessions::settle_payment(&mut a, &sepa).unwrap();
    let ach = new_session(&mut a, None);
    let ok = crate::bank_debits::BankKind::UsBankAccount.test_account(true);
    checkout_sessions::pay_by_bank(&mut a, &ach, &ok, "b@e.test", None).unwrap();
    checkout_sessions::settle_payment(&mut a, &ach).unwrap();

    let mut seen = Vec::new();
    for d in &take_outbox(&mut a) {
        let event = verify(d);
        let typed = match (&event.data.object, d.event_type.as_str()) {
            (EventObject::PaymentIntentCreated(_), "payment_intent.created") => true,
            (EventObject::PaymentIntentRequiresAction(pi), "payment_intent.requires_action") => {
                pi.status.as_str() == "requires_action"
            }
            (EventObject::PaymentIntentPaymentFailed(pi), "payment_intent.payment_failed") => {
                let code = pi.last_payment_error.as_ref().and_then(|e| e.code.as_ref());
                code.is_some_and(|c| {
                    let c = format!("{c:?}").to_lowercase();
                    c.contains("authentication") || c.contains("debit")
                })
            }
            (EventObject::ChargePending(ch), "charge.pending") => !ch.paid,
            (EventObject::PaymentIntentProcessing(pi), "payment_intent.processing") => {
                pi.status.as_str() == "processing"
            }
            (EventObject::CheckoutSessionCompleted(s), "checkout.session.completed") => {
                s.payment_status.as_str() == "unpaid"
            }
            (EventObject::ChargeFailed(ch), "charge.failed") => {
                ch.failure_code.as_deref() == Some("debit_not_authorized")
            }
            (
                EventObject::CheckoutSessionAsyncPaymentFailed(s),
                "checkout.session.async_payment_failed",
            ) => s.id.as_str() == sepa,
            (EventObject::ChargeSucceeded(ch), "charge.succeeded") => ch.paid,
            (EventObject::PaymentIntentSucceeded(_), "payment_intent.succeeded") => true,
            (
                EventObject::CheckoutSessionAsyncPaymentSucceeded(s),
                "checkout.session.async_payment_succeeded",
            ) => s.payment_status.as_str() == "paid",
            _ => false,
        };
        assert!(
            typed,
            "{} parsed wrongly:\n{}",
            d.event_type,
            String::from_utf8_lossy(&d.body)
        );
        seen.push(d.event_type.clone());
    }
    assert_eq!(
        seen,
        [
            "payment_intent.created",
            "payment_intent.requires_action",
            "payment_intent.payment_failed",
            "payment_intent.created",
            "charge.pending",
            "payment_intent.processing",
            "checkout.session.completed",
            "charge.failed",
            "payment_intent.payment_failed",
            "checkout.session.async_payment_failed",
            "payment_intent.created",
            "charge.pending",
            "payment_intent.processing",
            "checkout.session.completed",
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout.session.async_payment_succeeded",
        ]
    );
}

#[test]
fn tampered_body_or_wrong_secret_is_rejected() {
    let mut a = account();
    let id = new_session(&mut a, None);
    pay(&mut a, &id, "4242424242424242");
    let d = take_outbox(&mut a).pop().unwrap();
    let body = std::str::from_utf8(&d.body).unwrap();
    let header = sign(SECRET, NOW, &d.body);
    assert!(Webhook::construct_event_with_timestamp(body, &header, "whsec_other", NOW).is_err());
    let tampered = body.replacen("3998", "1", 1);
    assert!(Webhook::construct_event_with_timestamp(&tampered, &header, SECRET, NOW).is_err());
    // Older than the SDK's 300 s tolerance.
    assert!(Webhook::construct_event_with_timestamp(body, &header, SECRET, NOW + 301).is_err());
}

// Fields not marked optional (`?`) in stripe-node 23.1.0's types (the same OpenAPI spec as
// stripe-python 16.1.0), per object.
#[rustfmt::skip]
const SESSION_FIELDS: &[&str] = &[
    "id", "object", "adaptive_pricing", "after_expiration", "allow_promotion_codes",
    "allowed_payment_method_types", "amount_subtotal", "amount_total", "automatic_tax",
    "billing_address_collection", "cancel_url", "client_reference_id", "client_secret",
    "collected_information", "consent", "consent_collection", "created", "currency",
    "currency_conversion", "custom_fields", "custom_text", "customer", "customer_account",
    "customer_creation", "customer_details", "customer_email", "discounts", "expires_at",
    "integration_identifier", "invoice", "invoice_creation", "livemode", "locale",
    "managed_payments", "metadata", "mode", "origin_context", "payment_intent", "payment_link",
    "payment_method_collection", "payment_method_configuration_details",
    "payment_method_options", "payment_method_types", "payment_status", "permissions",
    "recovered_from", "saved_payment_method_options", "setup_intent",
    "shipping_address_collection", "shipping_cost", "shipping_options", "status",
    "submit_type", "subscription", "success_url", "total_details", "ui_mode", "url",
    "wallet_options",
];
#[rustfmt::skip]
const AUTOMATIC_TAX_FIELDS: &[&str] = &["enabled", "liability", "provider", "status"];
#[rustfmt::skip]
const CUSTOMER_DETAILS_FIELDS: &[&str] = &[
    "address", "business_name", "email", "individual_name", "name", "phone", "tax_exempt",
    "tax_ids",
];
#[rustfmt::skip]
const PAYMENT_INTENT_FIELDS: &[&str] = &[
    "id", "object", "allowed_payment_method_types", "amount", "amount_capturable",
    "amount_received", "application", "application_fee_amount", "automatic_payment_methods",
    "canceled_at", "cancellation_reason", "capture_method", "client_secret",
    "confirmation_method", "created", "currency", "customer", "customer_account", "description",
    "excluded_payment_method_types", "last_payment_error", "latest_charge", "livemode",
    "managed_payments", "metadata", "next_action", "on_behalf_of", "payment_method",
    "payment_method_configuration_details", "payment_method_options", "payment_method_types",
    "payment_record", "processing", "receipt_email", "review", "setup_future_usage", "shipping",
    "source", "statement_descriptor", "statement_descriptor_suffix", "status", "transfer_group",
];
#[rustfmt::skip]
const CHARGE_FIELDS: &[&str] = &[
    "id", "object", "amount", "amount_captured", "amount_refunded", "application",
    "application_fee", "application_fee_amount", "balance_transaction", "billing_details",
    "calculated_statement_descriptor", "captured", "created", "currency", "customer",
    "description", "disputed", "failure_balance_transaction", "failure_code", "failure_message",
    "fraud_details", "livemode", "metadata", "on_behalf_of", "outcome", "paid", "payment_intent",
    "payment_method", "payment_method_details", "receipt_email", "receipt_number", "receipt_url",
    "refunded", "review", "shipping", "source", "source_transfer", "statement_descriptor",
    "statement_descriptor_suffix", "status", "transfer_data", "transfer_group",
];
#[rustfmt::skip]
const BILLING_DETAILS_FIELDS: &[&str] = &["address", "email", "name", "phone", "tax_id"];
#[rustfmt::skip]
const OUTCOME_FIELDS: &[&str] = &[
    "advice_code", "network_advice_code", "network_decline_code", "network_status", "reason",
    "risk_level", "seller_message", "type",
];
#[rustfmt::skip]
const CARD_DETAILS_FIELDS: &[&str] = &[
    "amount_authorized", "authorization_code", "brand", "checks", "country",
    "electronic_commerce_indicator", "exp_month", "exp_year", "funding", "installments", "last4",
    "mandate", "network", "network_transaction_id", "regulated_status", "three_d_secure",
    "transaction_link_id", "wallet",
];
#[rustfmt::skip]
const LINE_ITEM_FIELDS: &[&str] = &[
    "id", "object", "adjustable_quantity", "amount_discount", "amount_subtotal", "amount_tax",
    "amount_total", "currency", "description", "metadata", "price", "quantity",
];
#[rustfmt::skip]
const PRICE_FIELDS: &[&str] = &[
    "id", "object", "active", "billing_scheme", "created", "currency", "custom_unit_amount",
    "livemode", "lookup_key", "metadata", "nickname", "product", "recurring", "tax_behavior",
    "tiers_mode", "transform_quantity", "type", "unit_amount", "unit_amount_decimal",
];
#[rustfmt::skip]
const PRODUCT_FIELDS: &[&str] = &[
    "id", "object", "active", "created", "description", "images", "livemode",
    "marketing_features", "metadata", "name", "package_dimensions", "shippable", "tax_details",
    "type", "updated", "url",
];

fn assert_fields(what: &str, v: &Value, fields: &[&str]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
    let missing: Vec<_> = fields.iter().filter(|f| !obj.contains_key(**f)).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}");
}

fn assert_session(what: &str, s: &Value) {
    assert_fields(what, s, SESSION_FIELDS);
    assert_fields(
        &format!("{what}.automatic_tax"),
        &s["automatic_tax"],
        AUTOMATIC_TAX_FIELDS,
    );
    if !s["customer_details"].is_null() {
        let d = &s["customer_details"];
        assert_fields(
            &format!("{what}.customer_details"),
            d,
            CUSTOMER_DETAILS_FIELDS,
        );
    }
}

fn assert_charge(what: &str, ch: &Value) {
    assert_fields(what, ch, CHARGE_FIELDS);
    assert_fields(
        &format!("{what}.billing_details"),
        &ch["billing_details"],
        BILLING_DETAILS_FIELDS,
    );
    assert_fields(&format!("{what}.outcome"), &ch["outcome"], OUTCOME_FIELDS);
    let card = &ch["payment_method_details"]["card"];
    assert_fields(
        &format!("{what}.payment_method_details.card"),
        card,
        CARD_DETAILS_FIELDS,
    );
}

fn json_of(reply: crate::protocol::Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn objects_carry_every_field_the_official_sdks_always_get() {
    let mut a = account();
    let ctx = RequestCtx {
        request_id: "req_1".into(),
        version: Some(ApiVersion::parse("2026-10-28.endive").unwrap()),
        idempotency_key: None,
    };
    let params = |q: &str| Params::decode(&[q.as_bytes()]).unwrap();
    let declined = new_session(&mut a, Some("2026-10-28.endive"));
    pay(&mut a, &declined, "4000000000000002");
    checkout_sessions::expire(&mut a, &declined, &EventRequest::default()).unwrap();
    let id = new_session(&mut a, Some("2026-10-28.endive"));
    let open = json_of(checkout_sessions::retrieve(&mut a, &id, &params(""), &ctx).unwrap());
    assert_session("open session", &open);
    pay(&mut a, &id, "4242424242424242");

    let expand = params("expand[]=payment_intent.latest_charge");
    let done = json_of(checkout_sessions::retrieve(&mut a, &id, &expand, &ctx).unwrap());
    assert_session("completed session", &done);
    assert_fields(
        "payment intent",
        &done["payment_intent"],
        PAYMENT_INTENT_FIELDS,
    );
    assert_charge("charge", &done["payment_intent"]["latest_charge"]);

    let items = params("expand[]=data.price.product");
    let items = json_of(checkout_sessions::line_items(&mut a, &id, &items).unwrap());
    let item = &items["data"][0];
    assert_fields("line item", item, LINE_ITEM_FIELDS);
    assert_fields("price", &item["price"], PRICE_FIELDS);
    assert_fields("product", &item["price"]["product"], PRODUCT_FIELDS);

    // Event payloads are rendered separately (frozen at emission): check them too.
    let outbox = take_outbox(&mut a);
    for d in &outbox {
        let event: Value = serde_json::from_slice(&d.body).unwrap();
        let object = &event["data"]["object"];
        match object["object"].as_str() {
            Some("checkout.session") => assert_session(&d.event_type, object),
            Some("payment_intent") => assert_fields(&d.event_type, object, PAYMENT_INTENT_FIELDS),
            Some("charge") => assert_charge(&d.event_type, object),
            other => panic!("{}: unexpected object {other:?}", d.event_type),
        }
    }
    assert!(outbox.iter().any(|d| d.event_type == "charge.failed"));
}
