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
                body: crate::protocol::to_json(&e.json().unwrap()).unwrap(),
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

// --- PaymentIntents (direct API), PaymentMethods, Charges, Refunds -------------------------

#[rustfmt::skip]
const REFUND_FIELDS: &[&str] = &[
    "id", "object", "amount", "balance_transaction", "charge", "created", "currency", "customer",
    "customer_account", "metadata", "payment_intent", "payment_method", "reason",
    "receipt_number", "source_transfer_reversal", "status", "transfer_reversal",
];
#[rustfmt::skip]
const PAYMENT_METHOD_FIELDS: &[&str] = &[
    "id", "object", "billing_details", "created", "customer", "customer_account", "livemode",
    "metadata", "type",
];
#[rustfmt::skip]
const PAYMENT_METHOD_CARD_FIELDS: &[&str] = &[
    "brand", "checks", "country", "display_brand", "exp_month", "exp_year", "funding",
    "generated_from", "last4", "networks", "regulated_status", "three_d_secure_usage", "wallet",
];
#[rustfmt::skip]
const SEPA_DEBIT_FIELDS: &[&str] = &[
    "bank_code", "branch_code", "country", "fingerprint", "generated_from", "last4",
];
#[rustfmt::skip]
const US_BANK_ACCOUNT_FIELDS: &[&str] = &[
    "account_holder_type", "account_type", "bank_name", "financial_connections_account",
    "fingerprint", "last4", "networks", "routing_number", "status_details",
];

fn api_ctx() -> RequestCtx {
    RequestCtx {
        request_id: "req_compat".into(),
        version: None,
        idempotency_key: Some("idem_compat".into()),
    }
}

fn wire(q: &str) -> Params {
    Params::decode(&[q.as_bytes()]).unwrap()
}

/// Creates a PaymentIntent through the API function; a decline's 402 is part of the flow.
fn intent(a: &mut Account, q: &str) -> Value {
    use crate::resources::payment_intents;
    match payment_intents::create(a, &wire(q), &api_ctx(), "http://127.0.0.1:12111") {
        Ok((reply, _)) => json_of(reply),
        Err(e) if e.status.as_u16() == 402 => {
            serde_json::from_slice::<Value>(&e.body()).unwrap()["error"]["payment_intent"].clone()
        }
        Err(e) => panic!("{q}: {}", e.message),
    }
}

fn ok(r: crate::protocol::ApiResult<crate::protocol::Reply>) -> Value {
    match r {
        Ok(r) => json_of(r),
        Err(e) => panic!("{}", e.message),
    }
}

/// A charge of any method: the card details only when it is a card payment.
fn assert_any_charge(what: &str, ch: &Value) {
    if ch["payment_method_details"]["type"] == "card" {
        assert_charge(what, ch);
    } else {
        assert_fields(what, ch, CHARGE_FIELDS);
        assert_fields(&format!("{what}.outcome"), &ch["outcome"], OUTCOME_FIELDS);
    }
}

fn assert_payment_method(what: &str, pm: &Value) {
    assert_fields(what, pm, PAYMENT_METHOD_FIELDS);
    assert_fields(
        &format!("{what}.billing_details"),
        &pm["billing_details"],
        BILLING_DETAILS_FIELDS,
    );
    let (key, fields) = match pm["type"].as_str() {
        Some("card") => ("card", PAYMENT_METHOD_CARD_FIELDS),
        Some("sepa_debit") => ("sepa_debit", SEPA_DEBIT_FIELDS),
        Some("us_bank_account") => ("us_bank_account", US_BANK_ACCOUNT_FIELDS),
        other => panic!("{what}: unexpected type {other:?}"),
    };
    assert_fields(&format!("{what}.{key}"), &pm[key], fields);
}

/// Every event the direct payment API emits (confirm, decline, 3-D Secure, manual capture,
/// partial capture, cancel, a SEPA debit settling, refunds created, updated and failing)
/// verifies and parses into its typed object in async-stripe-webhook (no extra crate
/// feature: these objects are all in `async-stripe-shared`), and carries every field the
/// official SDKs type as always present.
#[test]
fn payment_api_events_parse_into_their_typed_objects() {
    use crate::resources::{payment_intents, refunds};
    let mut a = account();
    let visa = intent(
        &mut a,
        "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa",
    );
    intent(
        &mut a,
        "amount=2000&currency=usd&confirm=true&payment_method=pm_card_chargeDeclined",
    );
    let challenged = intent(
        &mut a,
        "amount=2000&currency=usd&confirm=true&payment_method=pm_card_threeDSecure2Required\
         &return_url=https://shop.test/back",
    );
    let id = challenged["id"].as_str().unwrap();
    let token = a
        .payment_intents
        .get(id)
        .unwrap()
        .next_action
        .clone()
        .unwrap()
        .token;
    payment_intents::authenticate(&mut a, id, &token, true)
        .unwrap()
        .unwrap();
    let held = intent(
        &mut a,
        "amount=5000&currency=usd&confirm=true&payment_method=pm_card_mastercard&capture_method=manual",
    );
    let held_id = held["id"].as_str().unwrap();
    ok(payment_intents::capture(
        &mut a,
        held_id,
        &wire("amount_to_capture=4000"),
        &api_ctx(),
    ));
    let released = intent(
        &mut a,
        "amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa&capture_method=manual",
    );
    ok(payment_intents::cancel(
        &mut a,
        released["id"].as_str().unwrap(),
        &wire(""),
        &api_ctx(),
    ));
    let sepa = intent(
        &mut a,
        "amount=1500&currency=eur&confirm=true&payment_method_types[]=sepa_debit\
         &payment_method_data[type]=sepa_debit&payment_method_data[sepa_debit][iban]=AT611904300234573201",
    );
    payment_intents::settle(&mut a, sepa["id"].as_str().unwrap()).unwrap();
    let refund = ok(refunds::create(
        &mut a,
        &wire(&format!(
            "payment_intent={}&amount=500",
            visa["id"].as_str().unwrap()
        )),
        &api_ctx(),
    ));
    let refund_id = refund["id"].as_str().unwrap();
    ok(refunds::update(
        &mut a,
        refund_id,
        &wire("metadata[note]=x"),
        &api_ctx(),
    ));
    let failing = intent(
        &mut a,
        "amount=900&currency=usd&confirm=true&payment_method=pm_card_refundFail",
    );
    let failed = ok(refunds::create(
        &mut a,
        &wire(&format!(
            "payment_intent={}",
            failing["id"].as_str().unwrap()
        )),
        &api_ctx(),
    ));
    refunds::settle(&mut a, failed["id"].as_str().unwrap()).unwrap();

    let mut seen = std::collections::BTreeSet::new();
    for d in &take_outbox(&mut a) {
        let event = verify(d);
        let raw: Value = serde_json::from_slice(&d.body).unwrap();
        let object = &raw["data"]["object"];
        match object["object"].as_str() {
            Some("payment_intent") => {
                assert_fields(&d.event_type, object, PAYMENT_INTENT_FIELDS);
                assert!(object.get("amount_details").is_some(), "{}", d.event_type);
            }
            Some("charge") => assert_any_charge(&d.event_type, object),
            Some("refund") => assert_fields(&d.event_type, object, REFUND_FIELDS),
            other => panic!("{}: unexpected object {other:?}", d.event_type),
        }
        let typed = match (&event.data.object, d.event_type.as_str()) {
            (EventObject::PaymentIntentCreated(_), "payment_intent.created") => true,
            (EventObject::PaymentIntentSucceeded(pi), "payment_intent.succeeded") => {
                pi.amount_received > 0
            }
            (EventObject::PaymentIntentPaymentFailed(pi), "payment_intent.payment_failed") => {
                pi.last_payment_error.is_some()
            }
            (EventObject::PaymentIntentRequiresAction(pi), "payment_intent.requires_action") => pi
                .next_action
                .as_ref()
                .and_then(|n| n.redirect_to_url.as_ref())
                .and_then(|r| r.url.as_deref())
                .is_some_and(|u| u.contains("/c/3ds/")),
            (
                EventObject::PaymentIntentAmountCapturableUpdated(pi),
                "payment_intent.amount_capturable_updated",
            ) => pi.amount_capturable == 5000,
            (EventObject::PaymentIntentCanceled(pi), "payment_intent.canceled") => {
                pi.canceled_at.is_some()
            }
            (EventObject::PaymentIntentProcessing(_), "payment_intent.processing") => true,
            (EventObject::ChargeSucceeded(ch), "charge.succeeded") => ch.paid,
            (EventObject::ChargeFailed(ch), "charge.failed") => ch.failure_code.is_some(),
            (EventObject::ChargePending(ch), "charge.pending") => !ch.paid,
            (EventObject::ChargeCaptured(ch), "charge.captured") => {
                ch.captured && ch.amount_captured == 4000
            }
            (EventObject::ChargeRefunded(ch), "charge.refunded") => ch.amount_refunded > 0,
            (EventObject::RefundCreated(r), "refund.created") => r.amount > 0,
            (EventObject::RefundUpdated(r), "refund.updated") => r.amount > 0,
            (EventObject::RefundFailed(r), "refund.failed") => {
                r.failure_reason.as_deref() == Some("expired_or_canceled_card")
            }
            (EventObject::ChargeRefundUpdated(r), "charge.refund.updated") => r.amount > 0,
            _ => false,
        };
        assert!(
            typed,
            "{} parsed wrongly:\n{}",
            d.event_type,
            String::from_utf8_lossy(&d.body)
        );
        let request = &raw["request"];
        assert_eq!(
            request["id"].as_str().is_some(),
            request["idempotency_key"] == "idem_compat",
            "{}: request",
            d.event_type
        );
        seen.insert(d.event_type.clone());
    }
    for kind in [
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "charge.failed",
        "charge.captured",
        "charge.pending",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
    ] {
        assert!(seen.contains(kind), "{kind} was not emitted: {seen:?}");
    }
}

/// PaymentMethods are not emitted by the mock's flows: wrapped in the event that carries
/// them on Stripe (`payment_method.attached`), each type parses in async-stripe, and all
/// carry the fields the SDKs always get. So do the API answers of the other new objects.
#[test]
fn payment_methods_refunds_and_charges_carry_every_field_and_parse() {
    use crate::resources::{charges, payment_intents, payment_methods, refunds};
    let mut a = account();
    for q in [
        "type=card&card[token]=tok_visa&billing_details[name]=Jenny+Rosen",
        "type=card&card[number]=5555555555554444&card[exp_month]=12&card[exp_year]=2034&card[cvc]=123",
        "type=sepa_debit&sepa_debit[iban]=AT611904300234573201&billing_details[email]=b@e.test",
        "type=us_bank_account&us_bank_account[routing_number]=110000000&us_bank_account[account_number]=000123456789",
    ] {
        let pm = ok(payment_methods::create(&mut a, &wire(q), &api_ctx()));
        assert_payment_method(q, &pm);
        let event = serde_json::json!({
            "id": "evt_compat", "object": "event", "api_version": "2026-09-30.endive",
            "created": NOW, "data": {"object": pm}, "livemode": false, "pending_webhooks": 0,
            "request": {"id": null, "idempotency_key": null}, "type": "payment_method.attached",
        });
        let d = Delivery {
            event_type: "payment_method.attached".into(),
            body: serde_json::to_vec(&event).unwrap(),
        };
        let EventObject::PaymentMethodAttached(parsed) = verify(&d).data.object else {
            panic!("{q}: not a PaymentMethod")
        };
        assert_eq!(parsed.id.as_str(), pm["id"].as_str().unwrap());
    }
    let pi = intent(
        &mut a,
        "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa",
    );
    let pi_id = pi["id"].as_str().unwrap();
    let got = ok(payment_intents::retrieve(
        &mut a,
        pi_id,
        &wire("expand[]=payment_method&expand[]=latest_charge"),
        &api_ctx(),
    ));
    assert_fields("payment intent", &got, PAYMENT_INTENT_FIELDS);
    assert_payment_method("expanded payment_method", &got["payment_method"]);
    assert_charge("expanded latest_charge", &got["latest_charge"]);
    let listed = ok(charges::list(&mut a, &wire(""), &api_ctx()));
    assert_charge("listed charge", &listed["data"][0]);
    let refund = ok(refunds::create(
        &mut a,
        &wire(&format!("payment_intent={pi_id}")),
        &api_ctx(),
    ));
    assert_fields("refund", &refund, REFUND_FIELDS);
}

// ---------------------------------------------------------------------------------------
// Products, prices, customers, coupons, promotion codes, search results.
// ---------------------------------------------------------------------------------------

#[rustfmt::skip]
const CUSTOMER_FIELDS: &[&str] = &[
    "id", "object", "balance", "created", "default_source", "description", "email",
    "invoice_settings", "livemode", "metadata", "shipping",
];
#[rustfmt::skip]
const CUSTOMER_INVOICE_SETTINGS_FIELDS: &[&str] = &[
    "custom_fields", "default_payment_method", "footer", "rendering_options",
];
#[rustfmt::skip]
const PRICE_RECURRING_FIELDS: &[&str] = &[
    "interval", "interval_count", "meter", "trial_period_days", "usage_type",
];
#[rustfmt::skip]
const COUPON_FIELDS: &[&str] = &[
    "id", "object", "amount_off", "created", "currency", "duration", "duration_in_months",
    "livemode", "max_redemptions", "metadata", "name", "percent_off", "redeem_by",
    "times_redeemed", "valid",
];
#[rustfmt::skip]
const PROMOTION_CODE_FIELDS: &[&str] = &[
    "id", "object", "active", "code", "created", "customer", "customer_account", "expires_at",
    "livemode", "max_redemptions", "metadata", "promotion", "restrictions", "times_redeemed",
];
#[rustfmt::skip]
const PROMOTION_CODE_RESTRICTIONS_FIELDS: &[&str] = &[
    "first_time_transaction", "minimum_amount", "minimum_amount_currency",
];
#[rustfmt::skip]
const SEARCH_RESULT_FIELDS: &[&str] = &["object", "data", "has_more", "next_page", "url"];

/// `object` wrapped in an event of type `kind`, as if Stripe had sent it: proves the API's
/// answers parse into async-stripe's typed objects, not only the events.
fn as_event(kind: &str, object: &Value) -> Delivery {
    let event = serde_json::json!({
        "id": "evt_wrapped", "object": "event", "api_version": "2026-09-30.endive",
        "created": NOW, "data": {"object": object}, "livemode": false,
        "pending_webhooks": 0, "request": {"id": null, "idempotency_key": null}, "type": kind,
    });
    Delivery {
        event_type: kind.to_string(),
        body: serde_json::to_vec(&event).unwrap(),
    }
}

/// What every catalog, customer and discount event must parse into, with the values a
/// shop reads.
fn check_catalog_event(d: &Delivery) {
    let event = verify(d);
    let typed = match (&event.data.object, d.event_type.as_str()) {
        (EventObject::ProductCreated(p), "product.created") => !p.name.is_empty(),
        (EventObject::ProductUpdated(p), "product.updated") => !p.name.is_empty(),
        (EventObject::ProductDeleted(_), "product.deleted") => true,
        (EventObject::PriceCreated(p), "price.created") => p.unit_amount.is_some(),
        (EventObject::PriceUpdated(_), "price.updated") => true,
        (EventObject::CustomerCreated(c), "customer.created") => c.id.as_str().starts_with("cus_"),
        (EventObject::CustomerUpdated(c), "customer.updated") => c.email.is_some(),
        (EventObject::CustomerDeleted(c), "customer.deleted") => c.id.as_str().starts_with("cus_"),
        (EventObject::CouponCreated(c), "coupon.created") => c.valid,
        (EventObject::PromotionCodeCreated(p), "promotion_code.created") => p.active,
        (EventObject::PromotionCodeUpdated(p), "promotion_code.updated") => !p.active,
        (EventObject::CheckoutSessionCompleted(s), "checkout.session.completed") => {
            s.customer.is_some()
                && s.total_details.as_ref().map(|t| t.amount_discount) == Some(1000)
        }
        // The payment's own events are checked by the tests above.
        (_, kind) if kind.starts_with("payment_intent.") || kind.starts_with("charge.") => true,
        _ => false,
    };
    assert!(
        typed,
        "{} parsed into the wrong object or with wrong values:\n{}",
        d.event_type,
        String::from_utf8_lossy(&d.body)
    );
}

#[test]
fn catalog_customer_and_discount_objects_and_events_parse_in_async_stripe() {
    use crate::resources::test_support::call;
    use crate::resources::{coupons, customers, prices, products, promotion_codes, search};

    let mut a = account();
    let ctx = api_ctx();
    // Products and prices (one-time, recurring, inline product), updated and archived.
    let book = call(
        products::create,
        &mut a,
        "name=Book&default_price_data[currency]=usd&default_price_data[unit_amount]=2000\
         &metadata[sku]=B1&expand[]=default_price",
    )
    .unwrap();
    assert_fields("product", &book, PRODUCT_FIELDS);
    assert_fields(
        "expanded default_price",
        &book["default_price"],
        PRICE_FIELDS,
    );
    let book_id = book["id"].as_str().unwrap().to_string();
    let monthly = call(
        prices::create,
        &mut a,
        "product_data[name]=Club&currency=usd&unit_amount=900&recurring[interval]=month\
         &lookup_key=club&expand[]=product",
    )
    .unwrap();
    assert_fields("recurring price", &monthly, PRICE_FIELDS);
    assert_fields(
        "price.recurring",
        &monthly["recurring"],
        PRICE_RECURRING_FIELDS,
    );
    assert_fields(
        "expanded price.product",
        &monthly["product"],
        PRODUCT_FIELDS,
    );
    prices::update(
        &mut a,
        monthly["id"].as_str().unwrap(),
        &wire("metadata[tier]=gold"),
        &ctx,
    )
    .unwrap();
    products::update(&mut a, &book_id, &wire("description=Hardback"), &ctx).unwrap();
    let mug = call(products::create, &mut a, "name=Mug").unwrap();
    products::delete(&mut a, mug["id"].as_str().unwrap(), &wire(""), &ctx).unwrap();
    // Customers.
    let jenny = call(
        customers::create,
        &mut a,
        "email=jenny@example.com&name=Jenny",
    )
    .unwrap();
    assert_fields("customer", &jenny, CUSTOMER_FIELDS);
    assert_fields(
        "customer.invoice_settings",
        &jenny["invoice_settings"],
        CUSTOMER_INVOICE_SETTINGS_FIELDS,
    );
    let jenny_id = jenny["id"].as_str().unwrap().to_string();
    customers::update(&mut a, &jenny_id, &wire("phone=%2B15555550100"), &ctx).unwrap();
    let sam = call(customers::create, &mut a, "email=sam@example.com").unwrap();
    customers::delete(&mut a, sam["id"].as_str().unwrap(), &wire(""), &ctx).unwrap();
    // Coupons and promotion codes.
    let coupon = call(
        coupons::create,
        &mut a,
        "id=TENOFF&amount_off=1000&currency=usd",
    )
    .unwrap();
    assert_fields("coupon", &coupon, COUPON_FIELDS);
    let promo = call(
        promotion_codes::create,
        &mut a,
        "promotion[type]=coupon&promotion[coupon]=TENOFF&code=TEN",
    )
    .unwrap();
    assert_fields("promotion code", &promo, PROMOTION_CODE_FIELDS);
    assert_fields(
        "promotion_code.restrictions",
        &promo["restrictions"],
        PROMOTION_CODE_RESTRICTIONS_FIELDS,
    );
    let spare = call(promotion_codes::create, &mut a, "coupon=TENOFF&code=SPARE").unwrap();
    promotion_codes::update(
        &mut a,
        spare["id"].as_str().unwrap(),
        &wire("active=false"),
        &ctx,
    )
    .unwrap();
    // A session of the catalog price, discounted, that makes a Customer when paid.
    let price = book["default_price"]["id"].as_str().unwrap();
    let wire_session = format!(
        "mode=payment&success_url=https://shop.test/ok&line_items[0][price]={price}\
         &line_items[0][quantity]=2&customer_creation=always\
         &discounts[0][promotion_code]={}",
        promo["id"].as_str().unwrap()
    );
    let (session, _) = checkout_sessions::create_session(
        &mut a,
        &wire(&wire_session),
        &ctx,
        "http://127.0.0.1:12111",
    )
    .unwrap();
    pay(&mut a, &session, "4242424242424242");

    let outbox = take_outbox(&mut a);
    for d in &outbox {
        check_catalog_event(d);
    }
    let kinds: Vec<&str> = outbox.iter().map(|d| d.event_type.as_str()).collect();
    for kind in [
        "product.created",
        "price.created",
        "price.updated",
        "product.updated",
        "product.deleted",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "coupon.created",
        "promotion_code.created",
        "promotion_code.updated",
        "checkout.session.completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} not emitted: {kinds:?}");
    }

    // The API's answers parse as typed objects too.
    let retrieved = [
        (
            "product.created",
            ok(products::retrieve(&mut a, &book_id, &wire(""), &ctx)),
        ),
        ("price.created", monthly.clone()),
        (
            "customer.created",
            ok(customers::retrieve(&mut a, &jenny_id, &wire(""))),
        ),
        (
            "coupon.created",
            ok(coupons::retrieve(&mut a, "TENOFF", &wire(""))),
        ),
        ("promotion_code.created", promo.clone()),
    ];
    for (kind, object) in &retrieved {
        check_catalog_event(&as_event(kind, object));
    }
    let found = ok(search::customers(
        &mut a,
        &wire("query=email%3A%27jenny%40example.com%27"),
    ));
    assert_fields("search result", &found, SEARCH_RESULT_FIELDS);
    assert_fields(
        "customer in a search result",
        &found["data"][0],
        CUSTOMER_FIELDS,
    );
    let found = ok(search::prices(
        &mut a,
        &wire("query=lookup_key%3A%27club%27"),
    ));
    assert_fields("price in a search result", &found["data"][0], PRICE_FIELDS);
}
