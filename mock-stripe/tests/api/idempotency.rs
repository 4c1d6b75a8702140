//! Idempotent POSTs over HTTP: replay, mismatch, in-use, what is (not) stored, expiry on the
//! account clock, and how injected API faults interact with keys.

use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, SESSION_FORM, spawn_mock};

const SESSIONS: &str = "/v1/checkout/sessions";

fn replayed(resp: &reqwest::Response) -> Option<&str> {
    resp.headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn same_key_same_params_replays_the_first_answer_byte_for_byte() {
    let t = spawn_mock(vec![]).await;
    let first = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "order-42").await;
    assert_eq!(first.status(), 200);
    assert_eq!(replayed(&first), None, "the first answer is not a replay");
    let first_body = first.bytes().await.unwrap();

    // The same parameters spelled differently (`+` vs `%20`, other order) are the same request.
    let respelled = SESSION_FORM.replace("T-shirt+%26+cap", "T-shirt%20%26%20cap");
    for form in [SESSION_FORM, respelled.as_str()] {
        let again = t.post_idem(KEY_A, SESSIONS, form, "order-42").await;
        assert_eq!(again.status(), 200);
        assert_eq!(replayed(&again), Some("true"));
        assert_eq!(again.headers()["idempotency-key"], "order-42");
        assert_eq!(again.bytes().await.unwrap(), first_body, "byte-identical");
    }
    assert_eq!(t.session_ids(KEY_A).await.len(), 1, "executed once");

    // Keys belong to one account: B's request with A's key runs.
    let b = t.post_idem(KEY_B, SESSIONS, SESSION_FORM, "order-42").await;
    assert_eq!(replayed(&b), None);
    assert_eq!(t.session_ids(KEY_B).await.len(), 1);
}

#[tokio::test]
async fn same_key_other_params_is_400_idempotency_error() {
    let t = spawn_mock(vec![]).await;
    let first = t
        .post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-mismatch")
        .await;
    assert_eq!(first.status(), 200);
    let other = format!("{SESSION_FORM}&metadata[x]=1");
    let resp = t.post_idem(KEY_A, SESSIONS, &other, "k-mismatch").await;
    assert_eq!(resp.status(), 400);
    assert_eq!(replayed(&resp), None);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "idempotency_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'k-mismatch'"),
        "{v}"
    );
    // Another path with the same key is another request too.
    let resp = t
        .post_idem(
            KEY_A,
            "/v1/webhook_endpoints",
            "url=http://127.0.0.1:9/x&enabled_events[]=*",
            "k-mismatch",
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(t.session_ids(KEY_A).await.len(), 1);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_is_409_key_in_use() {
    let t = spawn_mock(vec![]).await;
    t.add_fault(
        KEY_A,
        "target=api&kind=delay&seconds=1&path=/v1/checkout/sessions",
    )
    .await;
    let (http, url) = (t.http.clone(), t.url(SESSIONS));
    let first = tokio::spawn(async move {
        let resp = http
            .post(url)
            .bearer_auth(KEY_A)
            .header("idempotency-key", "k-busy")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(SESSION_FORM)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap())
    });
    // The delay rule is taken, and the key claimed, by the first request.
    t.faults_used_up(KEY_A).await;

    let busy = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-busy").await;
    assert_eq!(busy.status(), 409);
    let v: Value = busy.json().await.unwrap();
    assert_eq!(v["error"]["type"], "idempotency_error", "{v}");
    assert_eq!(v["error"]["code"], "idempotency_key_in_use", "{v}");

    let (status, body) = first.await.unwrap();
    assert_eq!(status, 200);
    // Once it is over, the retry gets its answer.
    let retry = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-busy").await;
    assert_eq!(replayed(&retry), Some("true"));
    assert_eq!(retry.bytes().await.unwrap(), body);
    assert_eq!(t.session_ids(KEY_A).await.len(), 1);
}

#[tokio::test]
async fn a_validation_failure_leaves_the_key_free() {
    let t = spawn_mock(vec![]).await;
    // No line items: refused before anything is created.
    let bad = "mode=payment&success_url=https://shop.test/ok";
    let resp = t.post_idem(KEY_A, SESSIONS, bad, "k-fix-and-retry").await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "line_items", "{v}");

    // Fixed and retried with the same key: it runs (no idempotency_error).
    let resp = t
        .post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-fix-and-retry")
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(replayed(&resp), None);
    assert_eq!(t.session_ids(KEY_A).await.len(), 1);
}

#[tokio::test]
async fn keys_expire_after_24_hours_on_the_account_clock() {
    let t = spawn_mock(vec![]).await;
    t.pin_clock(KEY_A, 1_900_000_000).await;
    let first = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-day").await;
    assert_eq!(first.status(), 200);
    let other = format!("{SESSION_FORM}&metadata[attempt]=2");

    t.advance(KEY_A, 86_399).await;
    let resp = t.post_idem(KEY_A, SESSIONS, &other, "k-day").await;
    assert_eq!(
        resp.status(),
        400,
        "still remembered one second before 24 h"
    );

    t.advance(KEY_A, 1).await;
    let resp = t.post_idem(KEY_A, SESSIONS, &other, "k-day").await;
    assert_eq!(
        resp.status(),
        200,
        "forgotten after 24 h: the new request runs"
    );
    assert_eq!(replayed(&resp), None);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["metadata"]["attempt"], "2");
    assert_eq!(v["created"], 1_900_086_400);
    assert_eq!(t.session_ids(KEY_A).await.len(), 2);
}

#[tokio::test]
async fn an_injected_status_fault_is_not_executed_nor_stored() {
    let t = spawn_mock(vec![]).await;
    t.add_fault(KEY_A, "target=api&kind=status&status=500")
        .await;
    let failed = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-flaky").await;
    assert_eq!(failed.status(), 500);
    let v: Value = failed.json().await.unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert!(t.session_ids(KEY_A).await.is_empty(), "nothing executed");

    // The SDK's automatic retry, same key: executes now, once.
    let retry = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-flaky").await;
    assert_eq!(retry.status(), 200);
    assert_eq!(replayed(&retry), None, "the 500 was not stored");
    let body = retry.bytes().await.unwrap();
    let again = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-flaky").await;
    assert_eq!(replayed(&again), Some("true"));
    assert_eq!(again.bytes().await.unwrap(), body);
    assert_eq!(t.session_ids(KEY_A).await.len(), 1, "exactly one session");
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_retrying_with_the_same_key() {
    let t = spawn_mock(vec![]).await;
    // Executes, then hangs up without answering.
    t.add_fault(KEY_A, "target=api&kind=timeout&seconds=0")
        .await;
    let lost = t
        .http
        .post(t.url(SESSIONS))
        .bearer_auth(KEY_A)
        .header("idempotency-key", "k-lost")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(SESSION_FORM)
        .send()
        .await;
    assert!(lost.is_err(), "the connection closes without an answer");
    let ids = t.session_ids(KEY_A).await;
    assert_eq!(ids.len(), 1, "but the session was created");

    let retry = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, "k-lost").await;
    assert_eq!(retry.status(), 200);
    assert_eq!(replayed(&retry), Some("true"));
    let v: Value = retry.json().await.unwrap();
    assert_eq!(v["id"], ids[0].as_str());
    assert_eq!(t.session_ids(KEY_A).await.len(), 1);
}

#[tokio::test]
async fn keys_are_for_posts_and_at_most_255_characters() {
    let t = spawn_mock(vec![]).await;
    let long = "k".repeat(256);
    let resp = t.post_idem(KEY_A, SESSIONS, SESSION_FORM, &long).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "Idempotency-Key", "{v}");
    let ok = t
        .post_idem(KEY_A, SESSIONS, SESSION_FORM, &"k".repeat(255))
        .await;
    assert_eq!(ok.status(), 200);

    // A GET with a key is not stored: the next GET sees the new state.
    let list = |n: usize| {
        let t = &t;
        async move {
            let resp = t
                .http
                .get(t.url(SESSIONS))
                .bearer_auth(KEY_A)
                .header("idempotency-key", "k-get")
                .send()
                .await
                .unwrap();
            assert_eq!(replayed(&resp), None);
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), n);
        }
    };
    list(1).await;
    t.create_session(KEY_A).await;
    list(2).await;
}
