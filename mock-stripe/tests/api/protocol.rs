//! Behaviour every endpoint shares: keys, errors, request ids, encodings.

use base64::Engine as _;
use serde_json::Value;

use crate::helpers::{KEY_A, SESSION_FORM, spawn_mock};

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("request-id")
        .expect("Request-Id header")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn missing_key_is_401_with_stripe_error_and_request_id() {
    let t = spawn_mock(vec![]).await;
    let resp = t
        .http
        .post(t.url("/v1/checkout/sessions"))
        .body(SESSION_FORM)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(request_id(&resp).starts_with("req_"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key.")
    );
}

#[tokio::test]
async fn bad_keys_are_401() {
    let t = spawn_mock(vec![]).await;
    for (key, expect) in [
        ("pk_test_123456", "publishable API key"),
        (
            "sk_live_123456789",
            "Invalid API Key provided: sk_live_****6789",
        ),
        (
            "sk_test_bad$key1234",
            "Invalid API Key provided: sk_test_****1234",
        ),
    ] {
        let resp = t.get(key, "/v1/checkout/sessions").await;
        assert_eq!(resp.status(), 401, "{key}");
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains(expect),
            "{key}: {v}"
        );
    }
}

#[tokio::test]
async fn basic_auth_with_key_as_user_works() {
    let t = spawn_mock(vec![]).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{KEY_A}:"));
    let resp = t
        .http
        .get(t.url("/v1/checkout/sessions"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["url"], "/v1/checkout/sessions");
}

#[tokio::test]
async fn unknown_route_and_wrong_method_are_json_404() {
    let t = spawn_mock(vec![]).await;
    let resp = t.get(KEY_A, "/v1/foo").await;
    assert_eq!(resp.status(), 404);
    assert!(request_id(&resp).starts_with("req_"));
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/foo).")
    );

    // Outside /v1 no key is needed to learn that the URL is unknown.
    let resp = t.http.get(t.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(request_id(&resp).starts_with("req_"));

    let resp = t
        .http
        .delete(t.url("/v1/checkout/sessions"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (DELETE: /v1/checkout/sessions).")
    );
}

#[tokio::test]
async fn json_body_is_rejected_with_a_hint() {
    let t = spawn_mock(vec![]).await;
    let resp = t
        .http
        .post(t.url("/v1/checkout/sessions"))
        .bearer_auth(KEY_A)
        .header("content-type", "application/json")
        .body(r#"{"mode":"payment"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn idempotency_key_and_version_are_echoed() {
    let t = spawn_mock(vec![]).await;
    let resp = t
        .http
        .get(t.url("/v1/events"))
        .bearer_auth(KEY_A)
        .header("idempotency-key", "abc-123")
        .header("stripe-version", "2024-06-20")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["idempotency-key"], "abc-123");
    assert_eq!(resp.headers()["stripe-version"], "2024-06-20");

    let resp = t
        .http
        .get(t.url("/v1/events"))
        .bearer_auth(KEY_A)
        .header("stripe-version", "latest")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Invalid Stripe API version: latest");
}

#[tokio::test]
async fn garbage_never_causes_a_500() {
    let t = spawn_mock(vec![]).await;
    for body in [
        "a[b=1",
        "%%%",
        "line_items[99999999999999999999][x]=1",
        "a[]=1&a[x]=2",
        "&&&=&",
        "mode[]=payment",
    ] {
        let resp = t.post(KEY_A, "/v1/checkout/sessions", body).await;
        assert_eq!(resp.status(), 400, "{body}");
        assert!(request_id(&resp).starts_with("req_"));
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{body}");
    }
    let resp = t.get(KEY_A, "/v1/checkout/sessions/%FF%FE").await;
    assert_eq!(resp.status(), 404);
    let resp = t.get(KEY_A, "/v1/checkout/sessions?limit=0").await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "limit");
}

#[tokio::test]
async fn start_reports_a_taken_port() {
    let t = spawn_mock(vec![]).await;
    let taken = t.mock.local_addr();
    let err = mock_stripe::MockStripe::start(mock_stripe::Config {
        host: taken.ip(),
        port: taken.port(),
        ..Default::default()
    })
    .await
    .err()
    .expect("second bind fails");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}
