//! The direct PaymentIntents API over HTTP: create and confirm with Stripe's test
//! PaymentMethods, the 402 of a decline, 3-D Secure through the browser page and back to
//! the `return_url`, manual capture (direct and from Checkout), cancel, a SEPA debit that
//! settles when the clock advances, and the webhooks each sends.

use serde_json::Value;
use stripe_webhook::EventObject;

use crate::helpers::{KEY_A, KEY_B, Receiver, SECRET, spawn_mock, verify};

/// POSTs a form; answers `(status, JSON)`.
async fn post(t: &crate::helpers::TestMock, path: &str, form: &str) -> (u16, Value) {
    let resp = t.post(KEY_A, path, form).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn confirm_with_a_test_card_sends_the_events_with_the_request() {
    let mut rx = Receiver::start().await;
    let t = spawn_mock(vec![rx.target()]).await;
    let resp = t
        .post_idem(
            KEY_A,
            "/v1/payment_intents",
            "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true\
             &payment_method_types[]=card&metadata[order]=42&description=Order+42",
            "pi-create-1",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_string();
    let pi: Value = resp.json().await.unwrap();
    assert!(pi["id"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount_received"], 2000);
    assert_eq!(pi["metadata"]["order"], "42");
    assert_eq!(pi["amount_details"], serde_json::json!({"tip": {}}));
    assert!(pi["payment_method"].as_str().unwrap().starts_with("pm_"));

    // A replay with the same key is the same intent, not a second payment.
    let again = t
        .post_idem(
            KEY_A,
            "/v1/payment_intents",
            "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true\
             &payment_method_types[]=card&metadata[order]=42&description=Order+42",
            "pi-create-1",
        )
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], pi["id"]);
    let listed = t.get_json(KEY_A, "/v1/payment_intents").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let got = rx.next_n(3).await;
    let kinds: Vec<_> = got.iter().map(|r| r.event_type()).collect();
    assert_eq!(
        kinds,
        [
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded"
        ]
    );
    for r in &got {
        let v = r.json();
        assert_eq!(v["request"]["id"], request_id.as_str());
        assert_eq!(v["request"]["idempotency_key"], "pi-create-1");
        let event = verify(r, SECRET);
        if let EventObject::PaymentIntentSucceeded(p) = event.data.object {
            assert_eq!(p.id.as_str(), pi["id"].as_str().unwrap());
        }
    }

    // The charge, by id and in the lists.
    let charge_id = pi["latest_charge"].as_str().unwrap();
    let charge = t
        .get_json(
            KEY_A,
            &format!("/v1/charges/{charge_id}?expand[]=payment_intent"),
        )
        .await;
    assert_eq!(charge["payment_intent"]["id"], pi["id"]);
    assert_eq!(charge["captured"], true);
    let by_pi = t
        .get_json(
            KEY_A,
            &format!("/v1/charges?payment_intent={}", pi["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(by_pi["data"][0]["id"], charge_id);
    // Another key sees none of it.
    let other = t.get(KEY_B, &format!("/v1/charges/{charge_id}")).await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_decline_is_a_402_card_error_and_the_intent_can_be_retried() {
    let t = spawn_mock(vec![]).await;
    let (status, v) = post(
        &t,
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true",
    )
    .await;
    assert_eq!(status, 402);
    let e = &v["error"];
    assert_eq!(
        (&e["type"], &e["code"], &e["decline_code"]),
        (
            &"card_error".into(),
            &"card_declined".into(),
            &"generic_decline".into()
        )
    );
    assert_eq!(
        e["doc_url"],
        "https://stripe.com/docs/error-codes/card-declined"
    );
    assert!(e["charge"].as_str().unwrap().starts_with("ch_"));
    assert_eq!(e["payment_method"]["object"], "payment_method");
    let id = e["payment_intent"]["id"].as_str().unwrap();
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{id}/confirm"),
        "payment_method=pm_card_visa",
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &"succeeded".into()));
    let failed = t.get_json(KEY_A, "/v1/charges").await;
    let statuses: Vec<_> = failed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].clone())
        .collect();
    assert_eq!(statuses, ["succeeded", "failed"]);
    assert_eq!(
        t.event_types(KEY_A).await,
        [
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.payment_failed",
            "charge.failed",
            "payment_intent.created"
        ]
    );
}

/// The 3-D Secure challenge page of a PaymentIntent, answered like a browser.
#[tokio::test]
async fn three_d_secure_through_the_page_and_back_to_the_return_url() {
    let t = spawn_mock(vec![]).await;
    for (outcome, status, redirect_status) in [
        ("complete", "succeeded", "succeeded"),
        ("fail", "requires_payment_method", "failed"),
    ] {
        let (code, pi) = post(
            &t,
            "/v1/payment_intents",
            "amount=3000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true\
             &return_url=https://shop.test/order/9",
        )
        .await;
        assert_eq!((code, &pi["status"]), (200, &"requires_action".into()));
        let id = pi["id"].as_str().unwrap();
        let next = &pi["next_action"];
        assert_eq!(next["type"], "redirect_to_url");
        assert_eq!(
            next["redirect_to_url"]["return_url"],
            "https://shop.test/order/9"
        );
        let url = next["redirect_to_url"]["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{}/c/3ds/{id}?challenge=", t.base)));
        let page = t.http.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("3D Secure 2 Test Page"), "{html}");
        assert!(html.contains("$30.00"));
        assert!(html.contains(&format!("action=\"/c/3ds/{id}\"")));
        let token = url.split("challenge=").nth(1).unwrap();
        let answer = t
            .http
            .post(t.url(&format!("/c/3ds/{id}")))
            .form(&[("challenge", token), ("outcome", outcome)])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303);
        let location = answer.headers()["location"].to_str().unwrap();
        let back = url::Url::parse(location).unwrap();
        assert_eq!(back.path(), "/order/9");
        let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(q["payment_intent"], id);
        assert_eq!(
            q["payment_intent_client_secret"],
            pi["client_secret"].as_str().unwrap()
        );
        assert_eq!(q["redirect_status"], redirect_status);
        let now = t
            .get_json(KEY_A, &format!("/v1/payment_intents/{id}"))
            .await;
        assert_eq!(now["status"], status);
        assert_eq!(now["next_action"], Value::Null);
        // The page is answered once.
        let stale = t.http.get(url).send().await.unwrap();
        assert!(
            stale
                .text()
                .await
                .unwrap()
                .contains("Nothing to authenticate")
        );
    }
    let unknown = t.http.get(t.url("/c/3ds/pi_nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn direct_manual_capture_partial_capture_and_cancel() {
    let t = spawn_mock(vec![]).await;
    let create = "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true\
        &capture_method=manual";
    let (_, pi) = post(&t, "/v1/payment_intents", create).await;
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(pi["amount_capturable"], 5000);
    let id = pi["id"].as_str().unwrap();
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{id}/capture"),
        "amount_to_capture=4500",
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &"succeeded".into()));
    assert_eq!(v["amount_received"], 4500);
    let (status, v) = post(&t, &format!("/v1/payment_intents/{id}/capture"), "").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "payment_intent_unexpected_state");
    assert_eq!(v["error"]["payment_intent"]["id"], id);

    let (_, pi) = post(&t, "/v1/payment_intents", create).await;
    let id = pi["id"].as_str().unwrap();
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{id}/cancel"),
        "cancellation_reason=abandoned",
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &"canceled".into()));
    let charge = t
        .get_json(
            KEY_A,
            &format!("/v1/charges/{}", v["latest_charge"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (&charge["refunded"], &charge["captured"]),
        (&true.into(), &false.into())
    );
}

/// `payment_intent_data[capture_method]=manual` in Checkout: paid on the page, the intent
/// waits for its capture; then `capture` and `cancel` through the API.
#[tokio::test]
async fn checkout_with_manual_capture_then_capture_or_cancel() {
    let t = spawn_mock(vec![]).await;
    let mut intents = Vec::new();
    for _ in 0..2 {
        let form = format!(
            "{}&payment_intent_data[capture_method]=manual",
            crate::helpers::SESSION_FORM
        );
        let resp = t.post(KEY_A, "/v1/checkout/sessions", &form).await;
        assert_eq!(resp.status(), 200);
        let session: Value = resp.json().await.unwrap();
        let paid = t
            .pay(session["url"].as_str().unwrap(), "4242424242424242")
            .await;
        assert_eq!(paid.status(), 303);
        let done = t
            .get_json(
                KEY_A,
                &format!(
                    "/v1/checkout/sessions/{}?expand[]=payment_intent",
                    session["id"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(
            (&done["status"], &done["payment_status"]),
            (&"complete".into(), &"paid".into())
        );
        let pi = &done["payment_intent"];
        assert_eq!(pi["status"], "requires_capture");
        assert_eq!(pi["capture_method"], "manual");
        assert_eq!(pi["amount_capturable"], 3998);
        intents.push(pi["id"].as_str().unwrap().to_string());
    }
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{}/capture", intents[0]),
        "",
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &"succeeded".into()));
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{}/cancel", intents[1]),
        "",
    )
    .await;
    assert_eq!((status, &v["status"]), (200, &"canceled".into()));
    let kinds = t.event_types(KEY_A).await;
    assert!(kinds.contains(&"payment_intent.amount_capturable_updated".into()));
    assert_eq!(kinds[0], "payment_intent.canceled");
    assert!(kinds.contains(&"charge.captured".into()));
}

#[tokio::test]
async fn payment_methods_by_token_number_and_iban() {
    let t = spawn_mock(vec![]).await;
    let (status, pm) = post(
        &t,
        "/v1/payment_methods",
        "type=card&card[token]=tok_visa&billing_details[email]=jenny@example.com",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(pm["card"]["last4"], "4242");
    let id = pm["id"].as_str().unwrap();
    let got = t
        .get_json(KEY_A, &format!("/v1/payment_methods/{id}"))
        .await;
    assert_eq!(got["billing_details"]["email"], "jenny@example.com");
    let visa = t.get_json(KEY_A, "/v1/payment_methods/pm_card_visa").await;
    assert_eq!(visa["card"]["brand"], "visa");
    let missing = t.get(KEY_A, "/v1/payment_methods/pm_nope").await;
    assert_eq!(missing.status(), 404);
    let (status, v) = post(
        &t,
        "/v1/payment_methods",
        "type=card&card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2040",
    )
    .await;
    assert_eq!(status, 402);
    assert_eq!(
        (&v["error"]["code"], &v["error"]["param"]),
        (&"incorrect_number".into(), &"card[number]".into())
    );
    let (status, sepa) = post(
        &t,
        "/v1/payment_methods",
        "type=sepa_debit&sepa_debit[iban]=AT611904300234573201",
    )
    .await;
    assert_eq!(
        (status, &sepa["sepa_debit"]["last4"]),
        (200, &"3201".into())
    );
}

/// A SEPA debit through the API: `processing`, then settled when the account's clock passes
/// the delay; the failing IBAN fails.
#[tokio::test]
async fn a_sepa_debit_settles_when_the_clock_advances() {
    let t = spawn_mock(vec![]).await;
    t.pin_clock(KEY_A, 1_800_000_000).await;
    let mut ids = Vec::new();
    for iban in ["AT611904300234573201", "AT861904300235473202"] {
        let (_, pm) = post(
            &t,
            "/v1/payment_methods",
            &format!("type=sepa_debit&sepa_debit[iban]={iban}"),
        )
        .await;
        let (status, pi) = post(
            &t,
            "/v1/payment_intents",
            &format!(
                "amount=1500&currency=eur&payment_method_types[]=sepa_debit&confirm=true\
                 &payment_method={}",
                pm["id"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!((status, &pi["status"]), (200, &"processing".into()));
        ids.push(pi["id"].as_str().unwrap().to_string());
    }
    t.advance(KEY_A, 3 * 86_400).await;
    let settled = t
        .get_json(KEY_A, &format!("/v1/payment_intents/{}", ids[0]))
        .await;
    assert_eq!(settled["status"], "succeeded");
    let failed = t
        .get_json(KEY_A, &format!("/v1/payment_intents/{}", ids[1]))
        .await;
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(failed["last_payment_error"]["code"], "debit_not_authorized");
}

#[tokio::test]
async fn list_update_and_errors() {
    let t = spawn_mock(vec![]).await;
    let mut customers = Vec::new();
    for _ in 0..2 {
        let (_, c) = post(&t, "/v1/customers", "email=jenny@example.com").await;
        customers.push(c["id"].as_str().unwrap().to_string());
    }
    let (one, two) = (&customers[0], &customers[1]);
    for customer in [one, two, one] {
        let (status, _) = post(
            &t,
            "/v1/payment_intents",
            &format!("amount=1000&currency=usd&customer={customer}"),
        )
        .await;
        assert_eq!(status, 200);
    }
    let mine = t
        .get_json(
            KEY_A,
            &format!("/v1/payment_intents?customer={one}&limit=1"),
        )
        .await;
    assert_eq!(
        (mine["data"].as_array().unwrap().len(), &mine["has_more"]),
        (1, &true.into())
    );
    let id = mine["data"][0]["id"].as_str().unwrap();
    let (status, v) = post(
        &t,
        &format!("/v1/payment_intents/{id}"),
        "amount=1200&metadata[step]=2&payment_method=pm_card_visa",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&v["amount"], &v["status"]),
        (&1200.into(), &"requires_confirmation".into())
    );
    let (status, v) = post(&t, "/v1/payment_intents", "amount=10&currency=usd").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (400, &"amount_too_small".into())
    );
    let missing = t.get(KEY_A, "/v1/payment_intents/pi_nope").await;
    assert_eq!(missing.status(), 404);
    let (status, v) = post(&t, "/v1/payment_intents/pi_nope/confirm", "").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (404, &"resource_missing".into())
    );
}
