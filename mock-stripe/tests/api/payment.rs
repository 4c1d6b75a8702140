//! Paying on the hosted page: the 303 to the success URL, the session state, the events,
//! and the webhook that arrives before the redirect.

use serde_json::Value;
use stripe_webhook::EventObject;

use crate::helpers::{KEY_A, Receiver, SECRET, spawn_mock, verify};

#[tokio::test]
async fn page_shows_items_total_and_the_stripe_form() {
    let t = spawn_mock(vec![]).await;
    let session = t.create_session(KEY_A).await;
    let page = t
        .http
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let html = page.text().await.unwrap();
    for id in [
        "email",
        "cardNumber",
        "cardExpiry",
        "cardCvc",
        "billingName",
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\" name=\"{id}\"")),
            "input {id}"
        );
    }
    // Escaped by askama (numeric references): never the raw `&`.
    assert!(html.contains("T-shirt &#38; cap"), "{html}");
    assert!(html.contains("Qty 2"));
    assert!(html.contains("$39.98"));
    assert!(
        html.contains("value=\"buyer@example.com\""),
        "email prefilled from customer_email"
    );
    assert!(
        html.contains("href=\"https://shop.test/cart\""),
        "back link to cancel_url"
    );
    assert!(html.contains("method=\"post\""));

    let unknown = t
        .http
        .get(t.url("/c/pay/cs_test_doesnotexist"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn paying_with_4242_completes_the_session_and_notifies_before_redirecting() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let session = t.create_session(KEY_A).await;
    let id = session["id"].as_str().unwrap();

    let resp = t
        .pay(session["url"].as_str().unwrap(), "4242 4242 4242 4242")
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("https://shop.test/ok?session_id={id}")
    );

    // Delivered before the redirect: already in the receiver, no waiting.
    let received = hook.drain();
    let completed = received
        .iter()
        .find(|r| r.event_type() == "checkout.session.completed")
        .expect("checkout.session.completed delivered before the 303");
    assert!(completed.content_type.starts_with("application/json"));
    assert_eq!(
        completed.user_agent,
        "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    );
    assert!(completed.signature.starts_with("t=") && completed.signature.contains(",v1="));
    let event = verify(completed, SECRET);
    let EventObject::CheckoutSessionCompleted(s) = event.data.object else {
        panic!("typed session")
    };
    assert_eq!(s.id.as_str(), id);
    assert_eq!(completed.json()["data"]["object"]["payment_status"], "paid");

    let after = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(after["status"], "complete");
    assert_eq!(after["payment_status"], "paid");
    assert_eq!(after["url"], Value::Null);
    assert_eq!(after["customer_details"]["email"], "buyer@example.com");
    assert_eq!(after["customer_details"]["name"], "Jenny Rosen");
    let pi_id = after["payment_intent"].as_str().unwrap();
    assert!(pi_id.starts_with("pi_"));

    let pi = t
        .get_json(KEY_A, &format!("/v1/payment_intents/{pi_id}"))
        .await;
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 3998);
    assert!(pi["latest_charge"].as_str().unwrap().starts_with("ch_"));

    assert_eq!(
        t.event_types(KEY_A).await,
        [
            "checkout.session.completed",
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.created"
        ],
        "newest first"
    );
}

#[tokio::test]
async fn double_submit_redirects_again_without_new_events() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let session = t.create_session(KEY_A).await;
    let url = session["url"].as_str().unwrap();
    let first = t.pay(url, "4242424242424242").await;
    assert_eq!(first.status(), 303);
    let events_before = t.event_types(KEY_A).await.len();

    let second = t.pay(url, "4242424242424242").await;
    assert_eq!(second.status(), 303);
    assert_eq!(second.headers()["location"], first.headers()["location"]);
    assert_eq!(t.event_types(KEY_A).await.len(), events_before);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let completed = hook
        .drain()
        .into_iter()
        .filter(|r| r.event_type() == "checkout.session.completed")
        .count();
    assert_eq!(completed, 1);

    let page = t.http.get(url).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("already paid"));
}

#[tokio::test]
async fn declined_card_keeps_the_session_open_and_shows_the_message() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let session = t.create_session(KEY_A).await;
    let id = session["id"].as_str().unwrap();

    let resp = t
        .pay(session["url"].as_str().unwrap(), "4000 0000 0000 0002")
        .await;
    assert_eq!(resp.status(), 402);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Your card was declined."));
    assert!(html.contains("data-decline-code=\"generic_decline\""));
    assert!(
        html.contains("value=\"buyer@example.com\""),
        "entered email kept"
    );
    assert!(html.contains("value=\"Jenny Rosen\""), "entered name kept");

    let after = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(after["status"], "open");
    assert_eq!(after["payment_status"], "unpaid");
    assert!(after["url"].is_string());
    let types = t.event_types(KEY_A).await;
    assert_eq!(
        types,
        [
            "payment_intent.payment_failed",
            "charge.failed",
            "payment_intent.created"
        ]
    );
    hook.wait_for("charge.failed").await;
    assert!(
        hook.drain()
            .iter()
            .all(|r| r.event_type() != "checkout.session.completed")
    );

    // Insufficient funds has its own message.
    let resp = t
        .pay(session["url"].as_str().unwrap(), "4000000000009995")
        .await;
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Your card has insufficient funds.")
    );
}

#[tokio::test]
async fn invalid_input_is_explained_and_charges_nothing() {
    let t = spawn_mock(vec![]).await;
    let session = t.create_session(KEY_A).await;
    let url = session["url"].as_str().unwrap();
    let resp = t.pay(url, "4242 4242 4242 4241").await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Your card number is incorrect.")
    );

    let resp = t
        .http
        .post(url)
        .form(&[
            ("email", ""),
            ("cardNumber", "4242424242424242"),
            ("cardExpiry", "12/34"),
            ("cardCvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Your email is incomplete.")
    );

    let resp = t
        .http
        .post(url)
        .form(&[
            ("email", "a@b.test"),
            ("cardNumber", "4242424242424242"),
            ("cardExpiry", "13 / 30"),
            ("cardCvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("data-code=\"invalid_expiry_month\"")
    );
    assert!(
        t.event_types(KEY_A).await.is_empty(),
        "no PaymentIntent for input errors"
    );
}
