//! API faults (`/_config/faults` with `target=api`): what the client sees, what was (not)
//! executed, path filters, counts, listing, clearing and bad rules.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, SESSION_FORM, spawn_mock};

const SESSIONS: &str = "/v1/checkout/sessions";

#[tokio::test]
async fn status_429_is_a_rate_limit_with_retry_after_and_500_an_api_error() {
    let t = spawn_mock(vec![]).await;
    let rule = t
        .add_fault(KEY_A, "target=api&kind=status&status=429")
        .await;
    assert_eq!(rule["object"], "mock_fault");
    assert_eq!(
        (
            rule["target"].as_str(),
            rule["kind"].as_str(),
            rule["status"].as_u64()
        ),
        (Some("api"), Some("status"), Some(429))
    );
    assert!(rule["id"].as_str().unwrap().starts_with("flt_"));
    t.add_fault(KEY_A, "target=api&kind=status&status=500")
        .await;

    let limited = t.post(KEY_A, SESSIONS, SESSION_FORM).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert!(limited.headers().contains_key("request-id"));
    let v: Value = limited.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");

    let broken = t.post(KEY_A, SESSIONS, SESSION_FORM).await;
    assert_eq!(broken.status(), 500);
    assert!(!broken.headers().contains_key("retry-after"));
    let v: Value = broken.json().await.unwrap();
    assert_eq!(v["error"]["type"], "api_error", "{v}");

    assert!(t.session_ids(KEY_A).await.is_empty(), "neither executed");
    let ok = t.post(KEY_A, SESSIONS, SESSION_FORM).await;
    assert_eq!(ok.status(), 200, "rules used up");
    assert_eq!(t.session_ids(KEY_A).await.len(), 1);
}

#[tokio::test]
async fn timeout_executes_but_loses_the_answer_and_drop_loses_the_request() {
    let t = spawn_mock(vec![]).await;
    t.add_fault(KEY_A, "target=api&kind=timeout&seconds=0")
        .await;
    let err = t
        .http
        .post(t.url(SESSIONS))
        .bearer_auth(KEY_A)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(SESSION_FORM)
        .send()
        .await;
    assert!(err.is_err(), "no answer: {err:?}");
    assert_eq!(t.session_ids(KEY_A).await.len(), 1, "timeout: created");

    t.add_fault(KEY_A, "target=api&kind=drop").await;
    let err = t
        .http
        .post(t.url(SESSIONS))
        .bearer_auth(KEY_A)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(SESSION_FORM)
        .send()
        .await;
    assert!(err.is_err(), "no answer: {err:?}");
    assert_eq!(t.session_ids(KEY_A).await.len(), 1, "drop: not created");
}

#[tokio::test]
async fn path_filter_counts_listing_and_clearing() {
    let t = spawn_mock(vec![]).await;
    t.add_fault(
        KEY_A,
        "target=api&kind=status&status=503&count=3&path=/v1/webhook_endpoints",
    )
    .await;
    // Other paths are untouched, and so is the other account.
    assert_eq!(t.post(KEY_A, SESSIONS, SESSION_FORM).await.status(), 200);
    assert_eq!(t.get(KEY_B, "/v1/webhook_endpoints").await.status(), 200);
    let listed = t.faults(KEY_A).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["remaining"], 3);
    assert_eq!(listed[0]["path"], "/v1/webhook_endpoints");

    assert_eq!(t.get(KEY_A, "/v1/webhook_endpoints").await.status(), 503);
    let listed = t.faults(KEY_A).await;
    assert_eq!(listed[0]["remaining"], 2, "one used");
    assert_eq!(t.get(KEY_A, "/v1/webhook_endpoints").await.status(), 503);
    assert_eq!(t.get(KEY_A, "/v1/webhook_endpoints").await.status(), 503);
    assert!(t.faults(KEY_A).await.is_empty(), "used up");
    assert_eq!(t.get(KEY_A, "/v1/webhook_endpoints").await.status(), 200);

    // Rules apply in the order created; DELETE clears them all.
    t.add_fault(KEY_A, "target=api&kind=status&status=502&count=5")
        .await;
    t.add_fault(KEY_A, "target=webhook&kind=drop").await;
    let kinds: Vec<Value> = t
        .faults(KEY_A)
        .await
        .iter()
        .map(|f| f["kind"].clone())
        .collect();
    assert_eq!(kinds, ["status", "drop"]);
    assert_eq!(t.get(KEY_A, SESSIONS).await.status(), 502);
    let cleared = t
        .control(KEY_A, Method::DELETE, "/_config/faults", "")
        .await;
    assert_eq!(cleared["deleted"], 2);
    assert!(t.faults(KEY_A).await.is_empty());
    assert_eq!(t.get(KEY_A, SESSIONS).await.status(), 200);
}

#[tokio::test]
async fn bad_fault_rules_are_400_with_param() {
    let t = spawn_mock(vec![]).await;
    for (form, param) in [
        ("target=api&kind=explode", "kind"),
        ("target=api&kind=duplicate", "kind"),
        ("target=api&kind=bad_signature", "kind"),
        ("target=api&kind=reorder", "kind"),
        ("target=both&kind=drop", "target"),
        ("kind=drop", "target"),
        ("target=api", "kind"),
        ("target=api&kind=status", "status"),
        ("target=api&kind=status&status=600", "status"),
        ("target=api&kind=status&status=200", "status"),
        ("target=api&kind=drop&status=500", "status"),
        ("target=api&kind=drop&count=0", "count"),
        ("target=api&kind=drop&count=-1", "count"),
        ("target=api&kind=delay", "seconds"),
        ("target=api&kind=delay&seconds=-1", "seconds"),
        ("target=api&kind=delay&seconds=121", "seconds"),
        ("target=api&kind=drop&path=/v2/x", "path"),
        ("target=webhook&kind=drop&path=/v1/events", "path"),
        (
            "target=api&kind=drop&event_type=charge.succeeded",
            "event_type",
        ),
        ("target=webhook&kind=drop&colour=red", "colour"),
    ] {
        let (status, v) = t
            .call(Some(KEY_A), Method::POST, "/_config/faults", form)
            .await;
        assert_eq!(status, 400, "{form}: {v}");
        assert_eq!(v["error"]["param"], param, "{form}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{form}: {v}");
    }
    assert!(t.faults(KEY_A).await.is_empty(), "nothing was added");
}
