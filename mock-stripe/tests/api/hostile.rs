//! Requests that once stalled or killed the mock: each must now be a quick Stripe-shaped
//! 4xx, and the mock must keep serving.

use std::time::{Duration, Instant};

use crate::helpers::spawn_mock;

const KEY: &str = "sk_test_hostile";

#[tokio::test]
async fn deeply_nested_brackets_are_a_400_not_a_crash() {
    let mock = spawn_mock(vec![]).await;
    // About 60 KB of `[x]`: this used to overflow the stack and abort the process.
    let body = format!("a{}=1", "[x]".repeat(20_000));
    let resp = mock.post(KEY, "/v1/checkout/sessions", &body).await;
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("nested"),
        "{err}"
    );
    // Still alive and serving.
    assert_eq!(mock.create_session(KEY).await["object"], "checkout.session");
}

#[tokio::test]
async fn wildcard_event_filters_answer_quickly_and_long_ones_are_refused() {
    let mock = spawn_mock(vec![]).await;
    let session = mock.create_session(KEY).await;
    let id = session["id"].as_str().unwrap();
    mock.post(KEY, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;
    // With backtracking this ran for minutes while holding the account's lock.
    let started = Instant::now();
    let pattern = format!("{}b", "*a".repeat(14));
    let resp = mock.get(KEY, &format!("/v1/events?type={pattern}")).await;
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let listed: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);

    let long = "*".repeat(101);
    let resp = mock.get(KEY, &format!("/v1/events?type={long}")).await;
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "type");
    // The filter still works for what Stripe's users write.
    let expired = mock
        .get_json(KEY, "/v1/events?type=checkout.session.*")
        .await;
    assert_eq!(expired["data"][0]["type"], "checkout.session.expired");
}
