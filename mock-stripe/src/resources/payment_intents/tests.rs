//! Unit tests of the PaymentIntents API: the functions the router calls, over an account.

use super::*;
use crate::protocol::RequestCtx;

const NOW: i64 = 1_700_000_000;

fn ctx() -> RequestCtx {
    RequestCtx {
        request_id: "req_unit".into(),
        version: None,
        idempotency_key: Some("idem_unit".into()),
    }
}

/// `client_secret` is a typed retrieve parameter in the official SDKs: accepted when it
/// is the intent's own, refused otherwise.
#[test]
fn retrieve_accepts_the_intents_own_client_secret() {
    let mut a = Account::at(NOW);
    let pi = PaymentIntent::new(&mut a.ids, NOW, 3998, "usd", &PaymentIntentData::default());
    let (id, secret) = (pi.id.clone(), pi.client_secret.clone());
    a.payment_intents.insert(pi);
    let get = |a: &mut Account, q: &str| {
        retrieve(a, &id, &Params::decode(&[q.as_bytes()]).unwrap(), &ctx())
    };
    let v: serde_json::Value = serde_json::from_slice(
        &get(&mut a, &format!("client_secret={secret}"))
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(v["id"], id.as_str());
    let Err(e) = get(&mut a, "client_secret=pi_other_secret_x") else {
        panic!("a foreign client_secret must be refused");
    };
    assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(e.param.as_deref(), Some("client_secret"));
    // Fields Stripe always sends at 2026-10-28 are present, null when not modelled.
    for key in [
        "allowed_payment_method_types",
        "customer_account",
        "excluded_payment_method_types",
        "managed_payments",
        "payment_method_configuration_details",
        "payment_method_options",
        "payment_record",
    ] {
        assert_eq!(v.get(key), Some(&serde_json::Value::Null), "{key}");
    }
    assert_eq!(v["amount_details"], serde_json::json!({"tip": {}}));
}

const BASE: &str = "http://127.0.0.1:12111";

fn params(wire: &str) -> Params {
    Params::decode(&[wire.as_bytes()]).unwrap()
}

fn json(reply: Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap()
}

fn post(a: &mut Account, wire: &str) -> ApiResult<serde_json::Value> {
    create(a, &params(wire), &ctx(), BASE).map(|(r, _)| json(r))
}

/// The error of a call that must fail (`Reply` is not `Debug`).
fn err(r: ApiResult<Reply>) -> ApiError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn kinds(a: &Account) -> Vec<String> {
    a.events.rows().iter().map(|e| e.kind.clone()).collect()
}

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn confirm_with(a: &mut Account, id: &str, wire: &str) -> ApiResult<serde_json::Value> {
    confirm(a, id, &params(wire), &ctx(), BASE).map(|(r, _)| json(r))
}

#[test]
fn create_then_confirm_with_a_test_card_succeeds() {
    let mut a = Account::at(NOW);
    let pi = post(
        &mut a,
        "amount=2000&currency=usd&payment_method=pm_card_visa&metadata[order]=7\
         &description=Order+7&receipt_email=buyer@example.com",
    )
    .unwrap();
    assert_eq!(pi["status"], "requires_confirmation");
    let pm = pi["payment_method"].as_str().unwrap().to_string();
    assert!(pm.starts_with("pm_") && pm != "pm_card_visa", "{pm}");
    assert_eq!(pi["capture_method"], "automatic");
    assert_eq!(pi["payment_method_types"], serde_json::json!(["card"]));
    let id = id_of(&pi);
    let done = confirm_with(&mut a, &id, "").unwrap();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["amount_received"], 2000);
    let charge = a
        .charges
        .get(done["latest_charge"].as_str().unwrap())
        .unwrap();
    assert_eq!(charge.payment_method, pm);
    assert_eq!(charge.description.as_deref(), Some("Order 7"));
    assert_eq!(
        kinds(&a),
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded"
        ]
    );
    // Events caused by the API carry its request.
    for e in a.events.rows() {
        assert_eq!(e.request.id.as_deref(), Some("req_unit"));
        assert_eq!(e.request.idempotency_key.as_deref(), Some("idem_unit"));
    }
    let e = confirm_with(&mut a, &id, "").unwrap_err();
    assert_eq!(e.code, Some("payment_intent_unexpected_state"));
    assert!(e.message.contains("already succeeded"), "{}", e.message);
    let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
    assert_eq!(v["error"]["payment_intent"]["id"], id.as_str());
}

#[test]
fn a_declined_confirm_answers_402_with_charge_intent_and_method() {
    let mut a = Account::at(NOW);
    let e = post(
        &mut a,
        "amount=2000&currency=usd&payment_method=pm_card_chargeDeclinedInsufficientFunds\
         &confirm=true&payment_method_types[]=card",
    )
    .unwrap_err();
    assert_eq!(e.status.as_u16(), 402);
    let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
    let err = &v["error"];
    assert_eq!(err["type"], "card_error");
    assert_eq!(err["code"], "card_declined");
    assert_eq!(err["decline_code"], "insufficient_funds");
    assert_eq!(err["message"], "Your card has insufficient funds.");
    assert!(err["charge"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(err["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(
        err["payment_intent"]["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    assert_eq!(err["payment_method"]["card"]["last4"], "9995");
    assert_eq!(
        kinds(&a),
        [
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed"
        ]
    );
    // The intent stays, and a retry with a good card succeeds.
    let id = err["payment_intent"]["id"].as_str().unwrap().to_string();
    let ok = confirm_with(&mut a, &id, "payment_method=pm_card_mastercard").unwrap();
    assert_eq!(ok["status"], "succeeded");
    assert_eq!(ok["last_payment_error"], serde_json::Value::Null);
}

#[test]
fn three_d_secure_waits_for_the_payer_then_charges() {
    let mut a = Account::at(NOW);
    let (reply, browser) = create(
        &mut a,
        &params(
            "amount=1500&currency=eur&payment_method=pm_card_authenticationRequired&confirm=true\
             &return_url=https://shop.test/back?order=9",
        ),
        &ctx(),
        BASE,
    )
    .unwrap();
    let pi = json(reply);
    let id = id_of(&pi);
    assert_eq!(
        browser.as_deref(),
        Some(id.as_str()),
        "indexed for the page"
    );
    assert_eq!(pi["status"], "requires_action");
    assert_eq!(pi["next_action"]["type"], "redirect_to_url");
    assert_eq!(
        pi["next_action"]["redirect_to_url"]["return_url"],
        "https://shop.test/back?order=9"
    );
    let url = pi["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .unwrap();
    let prefix = format!("{BASE}/c/3ds/{id}?challenge=");
    assert!(url.starts_with(&prefix), "{url}");
    let token = url[prefix.len()..].to_string();
    assert_eq!(authenticate(&mut a, &id, "3ds_forged", true).unwrap(), None);
    let done = authenticate(&mut a, &id, &token, true).unwrap().unwrap();
    assert_eq!(done.status, PiStatus::Succeeded);
    let back = done.redirect.unwrap();
    assert!(
        back.starts_with(&format!(
            "https://shop.test/back?order=9&payment_intent={id}&payment_intent_client_secret={id}_secret_"
        )) && back.ends_with("&redirect_status=succeeded"),
        "{back}"
    );
    assert_eq!(
        authenticate(&mut a, &id, &token, true).unwrap(),
        None,
        "used up"
    );
    assert_eq!(
        kinds(&a),
        [
            "payment_intent.created",
            "payment_intent.requires_action",
            "charge.succeeded",
            "payment_intent.succeeded"
        ]
    );

    // Failing it: no charge, `payment_intent_authentication_failure`.
    let pi = post(
        &mut a,
        "amount=1500&currency=usd&payment_method=pm_card_threeDSecure2Required&confirm=true",
    )
    .unwrap();
    let id = id_of(&pi);
    let token = a
        .payment_intents
        .get(&id)
        .unwrap()
        .next_action
        .clone()
        .unwrap()
        .token;
    let done = authenticate(&mut a, &id, &token, false).unwrap().unwrap();
    assert_eq!(
        (done.status, done.redirect),
        (PiStatus::RequiresPaymentMethod, None)
    );
    let pi = a.payment_intents.get(&id).unwrap();
    assert!(pi.latest_charge.is_none());
    let v = pi.json(None);
    let v = serde_json::to_value(v).unwrap();
    assert_eq!(
        v["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    assert_eq!(v["next_action"], serde_json::Value::Null);

    // Off session the issuer declines instead of asking.
    let e = post(
        &mut a,
        "amount=1500&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true\
         &off_session=true",
    )
    .unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.code),
        (402, Some("authentication_required"))
    );
}

#[test]
fn manual_confirmation_after_three_d_secure_waits_for_the_server() {
    let mut a = Account::at(NOW);
    let pi = post(
        &mut a,
        "amount=1500&currency=usd&payment_method=pm_card_threeDSecure2Required&confirm=true\
         &confirmation_method=manual",
    )
    .unwrap();
    let id = id_of(&pi);
    let token = a
        .payment_intents
        .get(&id)
        .unwrap()
        .next_action
        .clone()
        .unwrap()
        .token;
    let done = authenticate(&mut a, &id, &token, true).unwrap().unwrap();
    assert_eq!(done.status, PiStatus::RequiresConfirmation);
    let ok = confirm_with(&mut a, &id, "").unwrap();
    assert_eq!(
        ok["status"], "succeeded",
        "authenticated: no second challenge"
    );
}

#[test]
fn manual_capture_partial_capture_releases_the_rest() {
    let mut a = Account::at(NOW);
    let pi = post(
        &mut a,
        "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
    )
    .unwrap();
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(pi["amount_capturable"], 5000);
    assert_eq!(pi["amount_received"], 0);
    let id = id_of(&pi);
    let ch_id = pi["latest_charge"].as_str().unwrap().to_string();
    let ch = serde_json::to_value(a.charges.get(&ch_id).unwrap().json()).unwrap();
    assert_eq!(
        (
            &ch["status"],
            &ch["captured"],
            &ch["paid"],
            &ch["amount_captured"]
        ),
        (&"succeeded".into(), &false.into(), &true.into(), &0.into())
    );
    assert_eq!(
        ch["payment_method_details"]["card"]["capture_before"],
        NOW + 7 * 86_400
    );
    let e = err(capture(
        &mut a,
        &id,
        &params("amount_to_capture=6000"),
        &ctx(),
    ));
    assert_eq!(
        (e.code, e.param.as_deref()),
        (Some("amount_too_large"), Some("amount_to_capture"))
    );
    let done = json(capture(&mut a, &id, &params("amount_to_capture=3000"), &ctx()).unwrap());
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["amount_received"], 3000);
    assert_eq!(done["amount_capturable"], 0);
    let ch = serde_json::to_value(a.charges.get(&ch_id).unwrap().json()).unwrap();
    assert_eq!(ch["captured"], true);
    assert_eq!(ch["amount_captured"], 3000);
    assert_eq!(ch["amount_refunded"], 2000);
    assert_eq!(ch["refunded"], false);
    assert_eq!(
        kinds(&a),
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.amount_capturable_updated",
            "charge.captured",
            "payment_intent.succeeded",
            "charge.refunded",
            "refund.created"
        ]
    );
    let e = err(capture(&mut a, &id, &params(""), &ctx()));
    assert_eq!(e.code, Some("payment_intent_unexpected_state"));
    assert!(e.message.starts_with(
        "This PaymentIntent could not be captured because it has a status of succeeded."
    ));
    // What is left (3000) may be refunded, not more.
    let e = err(crate::resources::refunds::create(
        &mut a,
        &params(&format!("payment_intent={id}&amount=3001")),
        &ctx(),
    ));
    assert_eq!(
        e.message,
        "Refund amount ($30.01) is greater than unrefunded amount on charge ($30.00)"
    );
}

#[test]
fn cancel_releases_an_authorization_and_refuses_finished_intents() {
    let mut a = Account::at(NOW);
    let pi = post(
        &mut a,
        "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
    )
    .unwrap();
    let id = id_of(&pi);
    let done = json(
        cancel(
            &mut a,
            &id,
            &params("cancellation_reason=requested_by_customer"),
            &ctx(),
        )
        .unwrap(),
    );
    assert_eq!(done["status"], "canceled");
    assert_eq!(done["cancellation_reason"], "requested_by_customer");
    assert_eq!(done["canceled_at"], NOW);
    let ch = a
        .charges
        .get(done["latest_charge"].as_str().unwrap())
        .unwrap();
    assert_eq!(ch.amount_refunded, 5000);
    assert_eq!(
        &kinds(&a)[3..],
        [
            "charge.refunded",
            "refund.created",
            "payment_intent.canceled"
        ]
    );
    let e = err(cancel(&mut a, &id, &params(""), &ctx()));
    assert_eq!(e.code, Some("payment_intent_unexpected_state"));
    let e = err(cancel(
        &mut a,
        &id,
        &params("cancellation_reason=bored"),
        &ctx(),
    ));
    assert_eq!(e.param.as_deref(), Some("cancellation_reason"));
    // A fresh one without a payment method cancels at once.
    let pi = post(&mut a, "amount=5000&currency=usd").unwrap();
    let done = json(cancel(&mut a, &id_of(&pi), &params(""), &ctx()).unwrap());
    assert_eq!(
        (&done["status"], &done["cancellation_reason"]),
        (&"canceled".into(), &serde_json::Value::Null)
    );
}

#[test]
fn update_changes_payment_fields_only_before_payment() {
    let mut a = Account::at(NOW);
    let pi = post(&mut a, "amount=5000&currency=usd&metadata[a]=1").unwrap();
    let id = id_of(&pi);
    let up = |a: &mut Account, wire: &str| update(a, &id, &params(wire), &ctx()).map(json);
    let v = up(
        &mut a,
        "amount=6000&metadata[b]=2&metadata[a]=&payment_method=pm_card_visa",
    )
    .unwrap();
    assert_eq!(v["amount"], 6000);
    assert_eq!(v["metadata"], serde_json::json!({"b": "2"}));
    assert_eq!(v["status"], "requires_confirmation");
    let e = up(&mut a, "amount=10").unwrap_err();
    assert_eq!(e.code, Some("amount_too_small"));
    assert_eq!(e.message, "Amount must be at least $0.50 usd");
    confirm_with(&mut a, &id, "").unwrap();
    let e = up(&mut a, "amount=7000").unwrap_err();
    assert_eq!(e.code, Some("payment_intent_unexpected_state"));
    let v = up(&mut a, "description=Shipped&metadata[c]=3").unwrap();
    assert_eq!(v["description"], "Shipped");
    assert_eq!(v["amount"], 6000);
}

#[test]
fn create_checks_its_parameters() {
    let mut a = Account::at(NOW);
    let e = post(&mut a, "currency=usd").unwrap_err();
    assert_eq!(
        (e.code, e.param.as_deref()),
        (Some("parameter_missing"), Some("amount"))
    );
    let e = post(&mut a, "amount=100&currency=zzz").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("currency"));
    let e = post(
        &mut a,
        "amount=100&currency=usd&payment_method_types[]=ideal",
    )
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("payment_method_types[0]"));
    let e = post(&mut a, "amount=100&currency=usd&payment_method=pm_nope").unwrap_err();
    assert_eq!(e.message, "No such PaymentMethod: 'pm_nope'");
    let e = post(&mut a, "amount=100&currency=usd&return_url=https://x.test/").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("return_url"));
    let e = post(
        &mut a,
        "amount=100&currency=usd&automatic_payment_methods[enabled]=true&payment_method_types[]=card",
    )
    .unwrap_err();
    assert_eq!(e.code, Some("parameters_exclusive"));
    let e = post(&mut a, "amount=100&currency=usd&confirm=true").unwrap_err();
    assert_eq!(e.code, Some("payment_intent_unexpected_state"));
    assert!(e.message.contains("missing a payment method"));
    let e = post(&mut a, "amount=100&currency=usd&colour=blue").unwrap_err();
    assert_eq!(e.code, Some("parameter_unknown"));
    // A SEPA PaymentMethod on a card-only intent.
    let sepa = crate::resources::payment_methods::create(
        &mut a,
        &params("type=sepa_debit&sepa_debit[iban]=AT611904300234573201"),
        &ctx(),
    )
    .map(json)
    .unwrap();
    let e = post(
        &mut a,
        &format!(
            "amount=100&currency=eur&confirm=true&payment_method={}",
            id_of(&sepa)
        ),
    )
    .unwrap_err();
    assert_eq!(e.code, Some("payment_intent_incompatible_payment_method"));
    // A request that fails its checks creates nothing (only a decline leaves an intent).
    assert_eq!(a.payment_intents.rows().len(), 0);
    assert_eq!(a.events.rows().len(), 0);
}

#[test]
fn a_sepa_debit_is_processing_until_it_settles_on_the_clock() {
    let mut a = Account::at(NOW);
    for (iban, outcome, event) in [
        (
            "AT611904300234573201",
            "succeeded",
            "payment_intent.succeeded",
        ),
        (
            "AT861904300235473202",
            "requires_payment_method",
            "payment_intent.payment_failed",
        ),
    ] {
        let pi = post(
            &mut a,
            &format!(
                "amount=1500&currency=eur&payment_method_types[]=sepa_debit&confirm=true\
                 &payment_method_data[type]=sepa_debit&payment_method_data[sepa_debit][iban]={iban}\
                 &payment_method_data[billing_details][name]=Jenny"
            ),
        )
        .unwrap();
        assert_eq!(pi["status"], "processing");
        let id = id_of(&pi);
        let due = (NOW + a.settings.async_payment_delay_secs) * 1000;
        let job = crate::engine::agenda::Job::SettlePaymentIntent(id.clone());
        let jobs: Vec<_> = std::iter::from_fn(|| a.agenda.pop_due(due))
            .map(|(_, j)| j)
            .collect();
        assert!(jobs.contains(&job), "{jobs:?}");
        settle(&mut a, &id).unwrap();
        settle(&mut a, &id).unwrap();
        assert_eq!(a.payment_intents.get(&id).unwrap().status.as_str(), outcome);
        assert_eq!(kinds(&a).last().map(String::as_str), Some(event));
    }
    assert_eq!(
        kinds(&a)[..4],
        [
            "payment_intent.created",
            "charge.pending",
            "payment_intent.processing",
            "charge.succeeded"
        ]
    );
}

/// A new Customer's id.
pub(crate) fn customer(a: &mut Account) -> String {
    let r = crate::resources::customers::create(a, &params("email=jenny@example.com"), &ctx());
    id_of(&json(r.unwrap_or_else(|e| panic!("{}", e.message))))
}

#[test]
fn list_filters_by_customer_newest_first() {
    let mut a = Account::at(NOW);
    let (ca, cb) = (customer(&mut a), customer(&mut a));
    let one = id_of(&post(&mut a, &format!("amount=100&currency=usd&customer={ca}")).unwrap());
    post(&mut a, &format!("amount=100&currency=usd&customer={cb}")).unwrap();
    let two = id_of(&post(&mut a, &format!("amount=100&currency=usd&customer={ca}")).unwrap());
    let e = post(&mut a, "amount=100&currency=usd&customer=cus_nope").unwrap_err();
    assert_eq!(
        (e.code, e.param.as_deref(), e.message.as_str()),
        (
            Some("resource_missing"),
            Some("customer"),
            "No such customer: 'cus_nope'"
        )
    );
    let v = json(list(&mut a, &params(&format!("customer={ca}")), &ctx()).unwrap());
    let ids: Vec<_> = v["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, [two, one]);
    assert_eq!(v["url"], "/v1/payment_intents");
    let v = json(list(&mut a, &params("limit=1"), &ctx()).unwrap());
    assert_eq!(v["has_more"], true);
}

/// Checkout's `payment_intent_data[capture_method]=manual`: the session is paid, the
/// intent waits for the capture; capture and cancel work through the API.
#[test]
fn checkout_with_manual_capture_leaves_the_intent_to_capture() {
    use crate::resources::checkout_sessions::{self, Payer};
    let mut a = Account::at(NOW);
    let session = |a: &mut Account| {
        let wire = "mode=payment&success_url=https://shop.test/ok\
            &payment_intent_data[capture_method]=manual\
            &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=2500\
            &line_items[0][price_data][product_data][name]=Lamp&line_items[0][quantity]=1";
        let id = checkout_sessions::create_session(a, &params(wire), &ctx(), BASE)
            .unwrap()
            .0;
        let card = crate::cards::check("4242424242424242", "12/34", "123", NOW).unwrap();
        let payer = Payer {
            card: &card,
            email: "b@e.test",
            name: None,
            authenticated: None,
        };
        checkout_sessions::pay(a, &id, &payer).unwrap();
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(serde_json::to_value(s.payment_status).unwrap(), "paid");
        s.payment_intent.clone().unwrap()
    };
    let pi_id = session(&mut a);
    let pi = a.payment_intents.get(&pi_id).unwrap();
    assert_eq!(pi.status, PiStatus::RequiresCapture);
    assert_eq!(pi.amount_capturable(), 2500);
    assert!(kinds(&a).contains(&"payment_intent.amount_capturable_updated".to_string()));
    assert!(!kinds(&a).contains(&"payment_intent.succeeded".to_string()));
    // The card the payer typed is a PaymentMethod that can be retrieved.
    let pm = pi.payment_method.clone().unwrap();
    assert_eq!(
        a.payment_methods.get(&pm).unwrap().card().unwrap().number,
        "4242424242424242"
    );
    let done = json(capture(&mut a, &pi_id, &params(""), &ctx()).unwrap());
    assert_eq!(
        (&done["status"], &done["amount_received"]),
        (&"succeeded".into(), &2500.into())
    );

    let pi_id = session(&mut a);
    let done = json(cancel(&mut a, &pi_id, &params(""), &ctx()).unwrap());
    assert_eq!(done["status"], "canceled");
}

/// The Stripe CLI's `payment_intent.succeeded` fixture, as it sends it (with `shipping`).
#[test]
fn the_stripe_cli_fixture_for_payment_intent_succeeded() {
    let mut a = Account::at(NOW);
    let pi = post(
        &mut a,
        "amount=2000&confirm=true&currency=usd&description=%28created+by+Stripe+CLI%29\
         &payment_method=pm_card_visa&payment_method_types[]=card&shipping[name]=Jenny+Rosen\
         &shipping[address][line1]=510+Townsend+St&shipping[address][postal_code]=94103\
         &shipping[address][city]=San+Francisco&shipping[address][state]=CA\
         &shipping[address][country]=US",
    )
    .unwrap();
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["shipping"]["name"], "Jenny Rosen");
    assert_eq!(pi["shipping"]["address"]["city"], "San Francisco");
    assert_eq!(pi["shipping"]["address"]["line2"], serde_json::Value::Null);
    assert_eq!(pi["shipping"]["tracking_number"], serde_json::Value::Null);
    let e = post(&mut a, "amount=2000&currency=usd&shipping[name]=Jenny").unwrap_err();
    assert_eq!(e.param.as_deref(), Some("shipping[address]"));
    // After payment the tracking number can still be added.
    let id = id_of(&pi);
    let v = json(
        update(
            &mut a,
            &id,
            &params("shipping[name]=Jenny+Rosen&shipping[address][country]=US&shipping[tracking_number]=TRK1"),
            &ctx(),
        )
        .unwrap(),
    );
    assert_eq!(v["shipping"]["tracking_number"], "TRK1");
}
