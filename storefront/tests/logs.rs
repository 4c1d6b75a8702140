//! Secrets never reach the logs. A test binary of its own, so the subscriber that records
//! every log line (of every crate the shop uses, every thread, at TRACE) is global and
//! sees only this purchase.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

use helpers::{AppOptions, FakeStripe, completed_event, hidden_input, spawn_app_with};

/// Every formatted log line, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// The `name=value` pairs of a response's Set-Cookie headers.
fn cookies_set(response: &reqwest::Response) -> Vec<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn open_session() -> serde_json::Value {
    json!({
        "id": "cs_test_logs_1",
        "object": "checkout.session",
        "amount_subtotal": 2900,
        "amount_total": 2900,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "expires_at": 1_700_086_400,
        "livemode": false,
        "metadata": {},
        "mode": "payment",
        "payment_intent": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "url": "https://checkout.stripe.test/c/pay/cs_test_logs_1"
    })
}

/// A whole purchase, with its failures: Stripe refusing the first Buy, then Buy, the
/// signed webhook, the receipt, forged and stale deliveries, the return page. Then no
/// log line holds the secret key, the webhook secret, the session key, or the value of
/// any cookie the shop set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_purchase_logs_no_secret() {
    let logs = Captured::default();
    let writer = logs.clone();
    // Everything at TRACE, but the test's own browser: reqwest and its cookie jar
    // (`cookie_store` logs the cookies it stores) are dev-dependencies, not the shop's.
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(EnvFilter::new("trace,reqwest=off,cookie_store=off"))
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("the only subscriber in this binary");

    let secret_key = format!("sk_test_{}", random_hex(24));
    let webhook_secret = format!("whsec_{}", random_hex(24));
    let session_key: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    let stripe = FakeStripe::scripted(vec![
        (
            400,
            json!({"error": {"type": "invalid_request_error", "message": "No such price"}}),
        ),
        (200, open_session()),
    ])
    .await;
    let app = spawn_app_with(AppOptions {
        stripe_api_base: stripe.base_url.clone(),
        secret_key: secret_key.clone(),
        webhook_secret: webhook_secret.clone(),
        session_key: Some(session_key.clone()),
        ..AppOptions::default()
    })
    .await;

    let mut cookies = Vec::new();
    let page = app.get("/products/1").await;
    cookies.extend(cookies_set(&page));
    let token = hidden_input(&page.text().await.unwrap(), "csrf_token").unwrap();

    let refused = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    cookies.extend(cookies_set(&refused));
    let bought = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(bought.status(), StatusCode::SEE_OTHER);
    cookies.extend(cookies_set(&bought));
    let order = app.orders().await.pop().unwrap();

    let event = completed_event("evt_logs", "cs_test_logs_1", order.id, 2900);
    let paid = app.deliver(&event).await;
    assert_eq!(paid.status(), StatusCode::OK);
    assert_eq!(
        paid.json::<serde_json::Value>().await.unwrap()["receipt"],
        "queued"
    );
    let forged = stripe_webhook::Webhook::generate_test_header(&event, "whsec_forged", None);
    let stale = stripe_webhook::Webhook::generate_test_header(
        &event,
        &webhook_secret,
        Some(chrono::Utc::now().timestamp() - 3600),
    );
    for signature in [forged, stale] {
        let response = app.post_webhook(&event, Some(&signature)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let back = app
        .get("/products/1/post_checkout?status=success&session_id=cs_test_logs_1")
        .await;
    cookies.extend(cookies_set(&back));
    let thanks = app.get("/products/1").await;
    cookies.extend(cookies_set(&thanks));
    assert!(
        thanks
            .text()
            .await
            .unwrap()
            .contains("Thanks for purchasing")
    );
    assert_eq!(app.emails().await.len(), 1);

    let text = logs.text();
    // The capture works: the purchase's own lines are there.
    for expected in [
        "order paid",
        "receipt written",
        "webhook rejected",
        "creating the Checkout Session failed",
    ] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the logs:\n{text}"
        );
    }
    assert!(
        cookies.iter().any(|(name, _)| name == "storefront-session")
            && cookies.iter().any(|(name, _)| name == "storefront-csrf"),
        "{cookies:?}"
    );

    let mut secrets = vec![
        ("the secret key", secret_key.clone()),
        (
            "the secret key's random part",
            secret_key["sk_test_".len()..].to_owned(),
        ),
        ("the webhook secret", webhook_secret.clone()),
        (
            "the webhook secret's random part",
            webhook_secret["whsec_".len()..].to_owned(),
        ),
        ("the session key", hex::encode(&session_key)),
        ("the CSRF token", token.clone()),
    ];
    for (name, value) in &cookies {
        assert!(value.len() >= 16, "{name}={value}");
        secrets.push(("a cookie", format!("{name}={value}")));
        secrets.push(("a cookie's value", value.clone()));
    }
    for (what, secret) in &secrets {
        if let Some(at) = text.find(secret.as_str()) {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!("{what} is in the logs: {}", &text[line_start..line_end]);
        }
    }
    if std::env::var_os("SHOW_LOGS").is_some() {
        eprintln!("{text}");
    }
    eprintln!(
        "{} log lines of a purchase at TRACE, none with a secret",
        text.lines().count()
    );
}
