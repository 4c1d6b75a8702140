//! Webhook endpoints API, per-account filtering, retries, and forward-to targets.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, Receiver, SECRET, spawn_mock, verify};

#[tokio::test]
async fn account_endpoint_gets_only_its_accounts_enabled_events() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let form = format!(
        "url={}&enabled_events[]=checkout.session.completed",
        hook.url
    );
    let resp = t.post(KEY_A, "/v1/webhook_endpoints", &form).await;
    assert_eq!(resp.status(), 200);
    let endpoint: Value = resp.json().await.unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let listed = t.get_json(KEY_A, "/v1/webhook_endpoints").await;
    assert_eq!(listed["data"][0]["id"], endpoint["id"]);
    assert!(listed["data"][0].get("secret").is_none());

    // Key B pays: A's endpoint hears nothing.
    let b = t.create_session(KEY_B).await;
    assert_eq!(
        t.pay(b["url"].as_str().unwrap(), "4242424242424242")
            .await
            .status(),
        303
    );
    // Key A pays: only checkout.session.completed, signed with the endpoint's own secret.
    let a = t.create_session(KEY_A).await;
    assert_eq!(
        t.pay(a["url"].as_str().unwrap(), "4242424242424242")
            .await
            .status(),
        303
    );
    let got = hook.drain();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event_type(), "checkout.session.completed");
    assert_eq!(got[0].json()["data"]["object"]["id"], a["id"]);
    verify(&got[0], &secret);

    let deleted: Value = t
        .http
        .delete(t.url(&format!(
            "/v1/webhook_endpoints/{}",
            endpoint["id"].as_str().unwrap()
        )))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], true);
}

#[tokio::test]
async fn failed_delivery_is_retried_with_a_fresh_signature_until_2xx() {
    let mut hook = Receiver::start().await;
    hook.fail_next(&[500, 302]);
    let t = spawn_mock(vec![hook.target()]).await;
    let id = t.create_session(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.post(KEY_A, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;

    let first = hook.wait_for("checkout.session.expired").await;
    let second = hook.wait_for("checkout.session.expired").await;
    let third = hook.wait_for("checkout.session.expired").await;
    for r in [&first, &second, &third] {
        verify(r, SECRET);
        assert_eq!(r.body, first.body, "same bytes on every attempt");
    }
    let event_id = first.json()["id"].as_str().unwrap().to_string();
    assert_eq!(first.json()["pending_webhooks"], 1);
    // After the 2xx the event has nothing pending.
    let mut pending = Value::Null;
    for _ in 0..50 {
        pending =
            t.get_json(KEY_A, &format!("/v1/events/{event_id}")).await["pending_webhooks"].clone();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending, 0);
    assert_eq!(
        first.json()["request"]["id"]
            .as_str()
            .map(|s| s.starts_with("req_")),
        Some(true)
    );
}

#[tokio::test]
async fn add_webhook_at_run_time_and_events_api_filters() {
    let t = spawn_mock(vec![]).await;
    let mut hook = Receiver::start().await;
    t.mock.add_webhook(hook.target());
    let s = t.create_session(KEY_B).await;
    t.pay(s["url"].as_str().unwrap(), "4242424242424242").await;
    hook.wait_for("checkout.session.completed").await;

    let only = t
        .get_json(KEY_B, "/v1/events?type=checkout.session.*")
        .await;
    let types: Vec<&str> = only["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["checkout.session.completed"]);
    let evt = &only["data"][0];
    assert_eq!(evt["object"], "event");
    assert_eq!(evt["livemode"], false);
    assert_eq!(evt["data"]["object"]["id"], s["id"]);
    assert_eq!(
        evt["request"]["id"],
        Value::Null,
        "payment came from the page, not the API"
    );
    let one = t
        .get_json(
            KEY_B,
            &format!("/v1/events/{}", evt["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(one["id"], evt["id"]);
    assert_eq!(
        t.get(
            KEY_A,
            &format!("/v1/events/{}", evt["id"].as_str().unwrap())
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn a_dead_endpoint_does_not_slow_the_api_or_block_the_redirect_forever() {
    // Nothing listens on this port: connection refused, immediately.
    let dead = mock_stripe::WebhookTarget {
        url: "http://127.0.0.1:9/webhook".into(),
        secret: SECRET.into(),
    };
    let t = spawn_mock(vec![dead]).await;
    let s = t.create_session(KEY_A).await;
    let started = std::time::Instant::now();
    let resp = t.pay(s["url"].as_str().unwrap(), "4242424242424242").await;
    assert_eq!(resp.status(), 303);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    t.mock.shutdown().await;
}
