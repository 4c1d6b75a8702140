//! The payment page's 3-D Secure challenge and bank debits, driven like a browser: what the
//! payer sees, and what the shop's endpoint receives.

use std::time::Duration;

use crate::helpers::{Receiver, TestMock, client, spawn_mock};

const KEY: &str = "sk_test_challenges";

fn page_of(session: &serde_json::Value) -> String {
    session["url"].as_str().unwrap().to_string()
}

/// The hidden challenge token of a 3-D Secure page.
fn challenge_token(html: &str) -> String {
    let at = html.find("name=\"challenge\"").expect("a challenge token");
    let value = &html[at..];
    let start = value.find("value=\"").unwrap() + 7;
    value[start..start + value[start..].find('"').unwrap()].to_string()
}

async fn answer(mock: &TestMock, page: &str, token: &str, outcome: &str) -> reqwest::Response {
    mock.http
        .post(format!("{page}/authenticate"))
        .form(&[("challenge", token), ("outcome", outcome)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_3ds_card_is_challenged_then_paid_when_the_payer_completes() {
    let mut hook = Receiver::start().await;
    let mock = spawn_mock(vec![hook.target()]).await;
    let session = mock.create_session(KEY).await;
    let page = page_of(&session);

    let resp = mock.pay(&page, "4000 0000 0000 3220").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Complete authentication") && html.contains("Fail authentication"));
    let token = challenge_token(&html);
    let hooked = hook.wait_for("payment_intent.requires_action").await;
    assert_eq!(hooked.json()["data"]["object"]["status"], "requires_action");

    // A forged token changes nothing.
    let forged = answer(&mock, &page, "3ds_forged", "complete").await;
    assert_eq!(forged.status(), 200);
    let open = mock
        .get_json(
            KEY,
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(open["status"], "open");

    let done = answer(&mock, &page, &token, "complete").await;
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://shop.test/ok?session_id=cs_test_"),
        "{location}"
    );
    let completed = hook.wait_for("checkout.session.completed").await;
    assert_eq!(completed.json()["data"]["object"]["payment_status"], "paid");
    // Answering again is a double submit: the browser goes where it would have gone.
    let again = answer(&mock, &page, &token, "complete").await;
    assert_eq!(again.status(), 303);
}

#[tokio::test]
async fn failing_3ds_shows_the_error_and_the_payer_can_pay_with_another_card() {
    let mut hook = Receiver::start().await;
    let mock = spawn_mock(vec![hook.target()]).await;
    let session = mock.create_session(KEY).await;
    let page = page_of(&session);
    let html = mock
        .pay(&page, "4000002760003184")
        .await
        .text()
        .await
        .unwrap();
    let failed = answer(&mock, &page, &challenge_token(&html), "fail").await;
    assert_eq!(failed.status(), 402);
    let html = failed.text().await.unwrap();
    assert!(
        html.contains("payment_intent_authentication_failure"),
        "{html}"
    );
    assert!(
        html.contains("id=\"cardNumber\""),
        "the form is shown again"
    );
    let event = hook.wait_for("payment_intent.payment_failed").await;
    assert_eq!(
        event.json()["data"]["object"]["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    // A reload of the page the browser is left on (the answer's URL) shows the form again.
    let reload = client()
        .get(format!("{page}/authenticate"))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    assert!(reload.text().await.unwrap().contains("id=\"cardNumber\""));
    assert_eq!(mock.pay(&page, "4242424242424242").await.status(), 303);
}

fn euro_session_form() -> String {
    "mode=payment&success_url=https://shop.test/ok&payment_method_types[]=sepa_debit\
     &payment_method_types[]=card&line_items[0][price_data][currency]=eur\
     &line_items[0][price_data][unit_amount]=2500\
     &line_items[0][price_data][product_data][name]=Book&line_items[0][quantity]=1"
        .to_string()
}

#[tokio::test]
async fn a_sepa_debit_completes_unpaid_then_settles_when_the_clock_passes_the_delay() {
    let mut hook = Receiver::start().await;
    let mock = spawn_mock(vec![hook.target()]).await;
    // Pin the clock first, so nothing settles until the test says so.
    let pinned = mock
        .post(KEY, "/_config/clock", "frozen_at=1800000000")
        .await;
    assert_eq!(pinned.status(), 200);
    let created = mock
        .post(KEY, "/v1/checkout/sessions", &euro_session_form())
        .await;
    assert_eq!(created.status(), 200);
    let session: serde_json::Value = created.json().await.unwrap();
    let page = page_of(&session);
    let html = client()
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"iban\"") && html.contains("id=\"cardNumber\""));

    let bad = mock
        .http
        .post(&page)
        .form(&[
            ("paymentMethod", "sepa_debit"),
            ("email", "b@e.test"),
            ("iban", "AT00 1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("Your IBAN is invalid."));
    let paid = mock
        .http
        .post(&page)
        .form(&[
            ("paymentMethod", "sepa_debit"),
            ("email", "b@e.test"),
            ("iban", "AT61 1904 3002 3457 3201"),
            ("billingName", "Jenny Rosen"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let completed = hook.wait_for("checkout.session.completed").await;
    assert_eq!(
        completed.json()["data"]["object"]["payment_status"],
        "unpaid"
    );

    let advanced = mock
        .post(KEY, "/_config/clock/advance", "seconds=259200")
        .await;
    assert_eq!(advanced.status(), 200);
    let settled = hook
        .wait_for("checkout.session.async_payment_succeeded")
        .await;
    let object = &settled.json()["data"]["object"];
    assert_eq!(object["payment_status"], "paid");
    assert_eq!(settled.json()["created"], 1_800_000_000 + 259_200);
}

#[tokio::test]
async fn headless_bank_debit_failure_sends_async_payment_failed() {
    let mut hook = Receiver::start().await;
    let mock = spawn_mock(vec![hook.target()]).await;
    mock.post(KEY, "/_config/settings", "async_payment_delay=60")
        .await;
    mock.post(KEY, "/_config/clock", "frozen_at=1800000000")
        .await;
    let session = mock.create_session(KEY).await;
    let id = session["id"].as_str().unwrap();
    let done = mock
        .post(
            KEY,
            &format!("/_config/checkout/sessions/{id}/complete"),
            "payment_method=us_bank_account&outcome=failed",
        )
        .await;
    assert_eq!(done.status(), 200);
    let body: serde_json::Value = done.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["payment_status"].as_str()),
        (Some("complete"), Some("unpaid"))
    );
    // A SEPA debit in a dollar session is refused with the reason.
    let other = mock.create_session(KEY).await;
    let refused = mock
        .post(
            KEY,
            &format!(
                "/_config/checkout/sessions/{}/complete",
                other["id"].as_str().unwrap()
            ),
            "payment_method=sepa_debit",
        )
        .await;
    assert_eq!(refused.status(), 400);

    mock.post(KEY, "/_config/clock/advance", "seconds=59").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        hook.drain()
            .iter()
            .all(|r| r.event_type() != "checkout.session.async_payment_failed"),
        "not before the delay"
    );
    mock.post(KEY, "/_config/clock/advance", "seconds=1").await;
    let failed = hook.wait_for("checkout.session.async_payment_failed").await;
    assert_eq!(failed.json()["data"]["object"]["id"], id);
    let pi = mock
        .get_json(
            KEY,
            &format!(
                "/v1/payment_intents/{}",
                failed.json()["data"]["object"]["payment_intent"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(pi["status"], "requires_payment_method");
    assert_eq!(pi["last_payment_error"]["code"], "no_account");
    assert_eq!(
        pi["last_payment_error"]["payment_method_type"],
        "us_bank_account"
    );
}
