//! One API version per request (contract §1.3): the request's `Stripe-Version`, else the
//! account's default (`--api-version`, or `/_config/settings`). What changed on 2022-08-01
//! follows it; events carry the account's version, or the endpoint's own.

use std::time::Duration;

use mock_stripe::{Config, MockStripe, RetrySchedule, WebhookTarget};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// A mock whose accounts default to `api_version`, forwarding to `webhooks`.
pub async fn spawn_at(api_version: &str, webhooks: Vec<WebhookTarget>) -> TestMock {
    let mock = MockStripe::start(Config {
        port: 0,
        webhooks,
        retry_schedule: RetrySchedule::Custom(vec![Duration::from_millis(100)]),
        webhook_timeout: Duration::from_secs(3),
        api_version: api_version.into(),
        ..Config::default()
    })
    .await
    .expect("mock starts");
    TestMock::new(mock)
}

/// What the seed application sends (stripe-python 2.56, no `Stripe-Version`): legacy
/// inline line items.
const SEED_APP_FORM: &str = "payment_method_types[]=card&client_reference_id=7\
    &line_items[0][name]=T-shirt&line_items[0][description]=Comfortable+cotton+t-shirt\
    &line_items[0][images][]=https://example.com/t-shirt.png\
    &line_items[0][amount]=2000&line_items[0][currency]=usd&line_items[0][quantity]=1\
    &mode=payment\
    &success_url=https://shop.test/success?session_id={CHECKOUT_SESSION_ID}\
    &cancel_url=https://shop.test/cancel";

/// The acceptance check of the issue: started with `--api-version 2020-08-27`, an app written
/// before 2022-08-01 completes a purchase: its webhook reads `session['customer']` and
/// retrieves that Customer.
#[tokio::test]
async fn an_app_from_2020_completes_a_purchase_and_finds_its_customer() {
    let mut hook = Receiver::start().await;
    let t = spawn_at("2020-08-27", vec![hook.target()]).await;

    let resp = t.post(KEY_A, "/v1/checkout/sessions", SEED_APP_FORM).await;
    assert_eq!(resp.headers()["stripe-version"], "2020-08-27");
    let status = resp.status();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["amount_total"], 2000);
    assert_eq!(created["ui_mode"], "hosted");
    assert_eq!(created["customer_creation"], "always");
    // Before 2022-08-01 the PaymentIntent exists from creation.
    let pi = created["payment_intent"].as_str().unwrap().to_string();
    assert!(pi.starts_with("pi_"), "{created}");
    let intent = t
        .get_json(KEY_A, &format!("/v1/payment_intents/{pi}"))
        .await;
    assert_eq!(intent["status"], "requires_payment_method");

    // The shopper pays on the hosted page.
    let resp = t
        .pay(created["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);

    // The shop's webhook: checkout.session.completed, at the account's version.
    let received = hook.wait_for("checkout.session.completed").await;
    let event = received.json();
    assert_eq!(event["api_version"], "2020-08-27");
    let session = &event["data"]["object"];
    assert_eq!(
        session["payment_intent"],
        pi.as_str(),
        "the same PaymentIntent, reused"
    );
    let customer = session["customer"]
        .as_str()
        .unwrap_or_else(|| panic!("session['customer'] is set before 2022-08-01: {session}"));
    assert!(customer.starts_with("cus_"), "{customer}");

    // …and retrieves that Customer, as the seed app's webhook does.
    let resp = t.get(KEY_A, &format!("/v1/customers/{customer}")).await;
    let status = resp.status();
    let found: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["id"], customer);
    assert_eq!(found["email"], "buyer@example.com");
    assert_eq!(found["name"], "Jenny Rosen");
}

#[tokio::test]
async fn from_2022_08_01_a_guest_gets_no_customer_and_no_early_payment_intent() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let created = t.create_session(KEY_A).await;
    assert_eq!(created["payment_intent"], Value::Null);
    assert_eq!(created["customer_creation"], "if_required");
    t.pay(created["url"].as_str().unwrap(), "4242424242424242")
        .await;
    let event = hook.wait_for("checkout.session.completed").await.json();
    assert_eq!(event["api_version"], mock_stripe::DEFAULT_API_VERSION);
    assert_eq!(event["data"]["object"]["customer"], Value::Null);
    assert!(event["data"]["object"]["payment_intent"].is_string());
}

#[tokio::test]
async fn one_version_per_request_header_then_account_default() {
    let t = spawn_mock(vec![]).await;
    let id = t.create_session(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/checkout/sessions/{id}");

    // No header: the account's default, named in the answer.
    let resp = t.get(KEY_A, &path).await;
    assert_eq!(
        resp.headers()["stripe-version"],
        mock_stripe::DEFAULT_API_VERSION
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap()["ui_mode"],
        "hosted_page"
    );

    // A header wins, for that request only.
    let resp = t
        .http
        .get(t.url(&path))
        .bearer_auth(KEY_A)
        .header("stripe-version", "2024-06-20")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["stripe-version"], "2024-06-20");
    assert_eq!(resp.json::<Value>().await.unwrap()["ui_mode"], "hosted");

    // The account's default changes with /_config/settings, for that account only.
    let v = t
        .control(
            KEY_A,
            Method::POST,
            "/_config/settings",
            "api_version=2025-03-31.basil",
        )
        .await;
    assert_eq!(v["api_version"], "2025-03-31.basil");
    let resp = t.get(KEY_A, &path).await;
    assert_eq!(resp.headers()["stripe-version"], "2025-03-31.basil");
    assert_eq!(resp.json::<Value>().await.unwrap()["ui_mode"], "hosted");
    let resp = t.get(KEY_B, "/v1/events").await;
    assert_eq!(
        resp.headers()["stripe-version"],
        mock_stripe::DEFAULT_API_VERSION
    );

    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/_config/settings",
            "api_version=latest",
        )
        .await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("api_version"))
    );
    // Emptying the account brings the server's default back.
    t.control(KEY_A, Method::DELETE, "/_config/data", "").await;
    let v = t.control(KEY_A, Method::GET, "/_config/settings", "").await;
    assert_eq!(v["api_version"], mock_stripe::DEFAULT_API_VERSION);
}

#[tokio::test]
async fn events_carry_the_accounts_version_not_the_requests() {
    let t = spawn_at("2024-06-20", vec![]).await;
    let resp = t
        .http
        .post(t.url("/v1/checkout/sessions"))
        .bearer_auth(KEY_A)
        .header("stripe-version", "2026-03-25.dahlia")
        .body(SESSION_FORM)
        .send()
        .await
        .unwrap();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["ui_mode"], "hosted_page");
    let id = created["id"].as_str().unwrap();
    t.post(KEY_A, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;
    let events = t.get_json(KEY_A, "/v1/events").await;
    let expired = &events["data"][0];
    assert_eq!(expired["type"], "checkout.session.expired");
    assert_eq!(expired["api_version"], "2024-06-20");
    assert_eq!(expired["data"]["object"]["ui_mode"], "hosted");
    assert!(expired.get("account").is_none());
}

/// Creates a webhook endpoint and returns `(id, secret)`.
async fn endpoint(t: &TestMock, key: &str, form: &str) -> (String, String) {
    let resp = t.post(key, "/v1/webhook_endpoints", form).await;
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].is_string(), "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn an_endpoint_with_its_own_version_gets_events_rendered_for_it() {
    let mut plain = Receiver::start().await;
    let mut pinned = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let (_, plain_secret) = endpoint(
        &t,
        KEY_A,
        &format!(
            "url={}&enabled_events[]=checkout.session.completed",
            plain.url
        ),
    )
    .await;
    let (pinned_id, pinned_secret) = endpoint(
        &t,
        KEY_A,
        &format!(
            "url={}&enabled_events[]=checkout.session.completed&api_version=2024-06-20",
            pinned.url
        ),
    )
    .await;
    let created = t.create_session(KEY_A).await;
    t.pay(created["url"].as_str().unwrap(), "4242424242424242")
        .await;

    let a = plain.wait_for("checkout.session.completed").await;
    let b = pinned.wait_for("checkout.session.completed").await;
    let (ja, jb) = (a.json(), b.json());
    assert_eq!(ja["id"], jb["id"], "one event, two renderings");
    assert_eq!(ja["api_version"], mock_stripe::DEFAULT_API_VERSION);
    assert_eq!(ja["data"]["object"]["ui_mode"], "hosted_page");
    assert_eq!(jb["api_version"], "2024-06-20");
    assert_eq!(jb["data"]["object"]["ui_mode"], "hosted");
    assert!(jb["data"]["object"].get("shipping_details").is_some());
    // Each is signed with its endpoint's secret and parses in async-stripe.
    verify(&a, &plain_secret);
    verify(&b, &pinned_secret);

    // The events API shows the account's rendering.
    let event_id = ja["id"].as_str().unwrap();
    let stored = t.get_json(KEY_A, &format!("/v1/events/{event_id}")).await;
    assert_eq!(stored["api_version"], mock_stripe::DEFAULT_API_VERSION);

    // A resend to the pinned endpoint sends the same bytes as its first delivery.
    t.control(
        KEY_A,
        Method::POST,
        &format!("/_config/events/{event_id}/redeliver"),
        &format!("endpoint={pinned_id}"),
    )
    .await;
    let again = pinned.wait_for("checkout.session.completed").await;
    assert_eq!(again.body, b.body, "frozen per (event, version)");
}

#[tokio::test]
async fn events_filter_by_type_types_and_created() {
    let t = spawn_mock(vec![]).await;
    t.pin_clock(KEY_A, 1_800_000_000).await;
    let first = t.create_session(KEY_A).await;
    t.post(
        KEY_A,
        &format!(
            "/v1/checkout/sessions/{}/expire",
            first["id"].as_str().unwrap()
        ),
        "",
    )
    .await;
    t.advance(KEY_A, 100).await;
    let second = t.create_session(KEY_A).await;
    t.control(
        KEY_A,
        Method::POST,
        &format!(
            "/_config/checkout/sessions/{}/complete",
            second["id"].as_str().unwrap()
        ),
        "",
    )
    .await;

    let types = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    };
    let all = t.get_json(KEY_A, "/v1/events?limit=100").await;
    assert_eq!(
        types(&all),
        [
            "checkout.session.completed",
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.created",
            "checkout.session.expired"
        ]
    );
    let v = t
        .get_json(KEY_A, "/v1/events?type=checkout.session.completed")
        .await;
    assert_eq!(types(&v), ["checkout.session.completed"]);
    let v = t
        .get_json(KEY_A, "/v1/events?type=checkout.session.*")
        .await;
    assert_eq!(
        types(&v),
        ["checkout.session.completed", "checkout.session.expired"]
    );
    let v = t
        .get_json(
            KEY_A,
            "/v1/events?types[]=charge.succeeded&types[]=checkout.session.expired",
        )
        .await;
    assert_eq!(types(&v), ["charge.succeeded", "checkout.session.expired"]);
    let v = t
        .get_json(KEY_A, "/v1/events?created[gte]=1800000050")
        .await;
    assert_eq!(types(&v).len(), 4);
    let v = t.get_json(KEY_A, "/v1/events?created[lt]=1800000050").await;
    assert_eq!(types(&v), ["checkout.session.expired"]);
    let v = t
        .get_json(
            KEY_A,
            "/v1/events?created[gt]=1800000000&created[lte]=1800000100",
        )
        .await;
    assert_eq!(types(&v).len(), 4);
    for e in all["data"].as_array().unwrap() {
        assert_eq!(e["api_version"], mock_stripe::DEFAULT_API_VERSION);
    }

    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::GET,
            "/v1/events?type=charge.succeeded&types[]=charge.failed",
            "",
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::GET,
            "/v1/events?expand[]=data.data.object",
            "",
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "This property cannot be expanded (data.data)."
    );
}
