//! `/_config/clock`: show, pin, advance, release; what falls due when the clock moves
//! (session expiry, delivery retries), and the errors of a bad advance.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    KEY_A, KEY_B, Receiver, SECRET, SESSION_FORM, column, signed_at, spawn_mock, verify,
};

const T: i64 = 1_900_000_000;

fn wall_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn show_pin_advance_and_release() {
    let t = spawn_mock(vec![]).await;
    let real = t.control(KEY_A, Method::GET, "/_config/clock", "").await;
    assert_eq!(real["object"], "mock_clock");
    assert_eq!(real["mode"], "real");
    assert!(
        (real["now"].as_i64().unwrap() - wall_now()).abs() <= 2,
        "{real}"
    );

    t.pin_clock(KEY_A, T).await;
    let created = t.create_session(KEY_A).await;
    assert_eq!(
        created["created"], T,
        "objects are stamped with the account clock"
    );
    assert_eq!(created["expires_at"], T + 86_400);
    // A virtual clock stands still.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let shown = t.control(KEY_A, Method::GET, "/_config/clock", "").await;
    assert_eq!(
        (shown["mode"].as_str(), shown["now"].as_i64()),
        (Some("virtual"), Some(T))
    );
    assert_eq!(shown["now_ms"], T * 1000);
    assert_eq!(shown["scheduled"], 1, "the session's expiry: {shown}");

    let moved = t.advance(KEY_A, 90).await;
    assert_eq!(
        (moved["now"].as_i64(), moved["now_ms"].as_i64()),
        (Some(T + 90), Some((T + 90) * 1000))
    );

    // Per account: B's clock is still real.
    let b = t.control(KEY_B, Method::GET, "/_config/clock", "").await;
    assert_eq!(b["mode"], "real");

    let released = t.control(KEY_A, Method::DELETE, "/_config/clock", "").await;
    assert_eq!(released["mode"], "real");
    assert!((released["now"].as_i64().unwrap() - wall_now()).abs() <= 2);
}

#[tokio::test]
async fn a_session_expires_exactly_when_the_clock_passes_expires_at() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.pin_clock(KEY_A, T).await;
    let form = format!("{SESSION_FORM}&expires_at={}", T + 1800);
    let resp = t.post(KEY_A, "/v1/checkout/sessions", &form).await;
    assert_eq!(resp.status(), 200);
    let session: Value = resp.json().await.unwrap();
    let id = session["id"].as_str().unwrap();

    // One second short: nothing happens (advance answers after everything due has run).
    t.advance(KEY_A, 1799).await;
    assert!(hook.drain().is_empty());
    let s = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(s["status"], "open");

    // Reaching expires_at: expired, and the endpoint was told before advance answered.
    t.advance(KEY_A, 1).await;
    let got = hook.drain();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event_type(), "checkout.session.expired");
    verify(&got[0], SECRET);
    let event = got[0].json();
    assert_eq!(event["created"], T + 1800, "created == expires_at");
    assert_eq!(event["data"]["object"]["id"], id);
    assert_eq!(event["data"]["object"]["status"], "expired");
    let s = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(s["status"], "expired");

    // Once only.
    t.advance(KEY_A, 86_400).await;
    assert!(hook.drain().is_empty());
    assert_eq!(t.event_types(KEY_A).await, ["checkout.session.expired"]);
}

#[tokio::test]
async fn bad_clock_moves_are_400_with_param() {
    let t = spawn_mock(vec![]).await;
    for (path, form, param) in [
        ("/_config/clock/advance", "seconds=-1", "seconds"),
        ("/_config/clock/advance", "", "seconds"),
        ("/_config/clock/advance", "seconds=abc", "seconds"),
        ("/_config/clock/advance", "seconds=316224001", "seconds"),
        ("/_config/clock/advance", "seconds=1&minutes=2", "minutes"),
        ("/_config/clock", "", "frozen_at"),
        ("/_config/clock", "frozen_at=-5", "frozen_at"),
        ("/_config/clock", "frozen_at=253402300800", "frozen_at"),
    ] {
        let (status, v) = t.call(Some(KEY_A), Method::POST, path, form).await;
        assert_eq!(status, 400, "{path} {form}: {v}");
        assert_eq!(
            v["error"]["type"], "invalid_request_error",
            "{path} {form}: {v}"
        );
        assert_eq!(v["error"]["param"], param, "{path} {form}: {v}");
    }
    let (_, v) = t
        .call(Some(KEY_A), Method::POST, "/_config/clock/advance", "")
        .await;
    assert_eq!(v["error"]["code"], "parameter_missing");
    // Nothing moved.
    let shown = t.control(KEY_A, Method::GET, "/_config/clock", "").await;
    assert_eq!(shown["mode"], "real");
}

#[tokio::test]
async fn retries_wait_for_the_virtual_clock_then_run_in_order() {
    let mut hook = Receiver::start().await;
    hook.fail_next(&[500, 500]);
    let t = spawn_mock(vec![]).await;
    let (we, secret) = t
        .endpoint(KEY_A, &hook.url, &["checkout.session.completed"])
        .await;
    t.pin_clock(KEY_A, T).await;
    let id = t.session_id(KEY_A).await;
    let (status, v) = t.complete(KEY_A, &id, "").await;
    assert_eq!(status, 200, "{v}");

    // The first attempt is over before /complete answers (redirect timing `before`).
    let first = hook.drain();
    assert_eq!(first.len(), 1, "{first:?}");
    // With a real clock the retries would come 100 ms and 300 ms later; this one stands still.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(hook.drain().is_empty(), "no retry until the clock moves");
    let log = t.deliveries(KEY_A, "").await;
    assert_eq!(column(&log, "attempt"), [1]);
    assert_eq!(log["pending"], 1);

    // Past both delays (100 ms, then 200 ms): both retries run before advance answers.
    let moved = t.advance(KEY_A, 1).await;
    assert_eq!(moved["now"], T + 1);
    let retries = hook.drain();
    assert_eq!(retries.len(), 2, "{retries:?}");
    let all: Vec<_> = first.iter().chain(&retries).collect();
    for r in &all {
        assert_eq!(r.event_type(), "checkout.session.completed");
        assert_eq!(r.body, all[0].body, "the same bytes every time");
        verify(r, &secret);
        // Signed afresh, in real time (receivers compare `t` with their own clock).
        assert!((signed_at(r) - wall_now()).abs() <= 5, "{}", r.signature);
    }

    let log = t.deliveries(KEY_A, &format!("endpoint={we}")).await;
    assert_eq!(column(&log, "attempt"), [3, 2, 1]);
    assert_eq!(column(&log, "status"), [200, 500, 500]);
    assert_eq!(column(&log, "succeeded"), [true, false, false]);
    // Due 100 ms and 300 ms after T: within second T of the account clock.
    assert_eq!(
        column(&log, "next_retry_at"),
        [Value::Null, T.into(), T.into()]
    );
    assert_eq!(
        column(&log, "endpoint"),
        [we.as_str(), we.as_str(), we.as_str()]
    );
    assert_eq!(log["pending"], 0);
    let event = all[0].json();
    for r in column(&log, "event") {
        assert_eq!(r, event["id"]);
    }
}

#[tokio::test]
async fn one_advance_runs_what_falls_due_in_time_order() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.pin_clock(KEY_A, T).await;
    let mut ids = Vec::new();
    // Created in the opposite order of their expiry.
    for expires_at in [T + 3600, T + 1800] {
        let form = format!("{SESSION_FORM}&expires_at={expires_at}");
        let v: Value = t
            .post(KEY_A, "/v1/checkout/sessions", &form)
            .await
            .json()
            .await
            .unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let moved = t.advance(KEY_A, 7200).await;
    assert_eq!(moved["now"], T + 7200);
    let got = hook.drain();
    let seen: Vec<(Value, Value)> = got
        .iter()
        .map(|r| {
            let e = r.json();
            (e["data"]["object"]["id"].clone(), e["created"].clone())
        })
        .collect();
    assert_eq!(
        seen,
        [
            (ids[1].as_str().into(), (T + 1800).into()),
            (ids[0].as_str().into(), (T + 3600).into())
        ]
    );
}

#[tokio::test]
async fn pinning_past_expires_at_expires_the_session_at_once() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let id = t.session_id(KEY_A).await;
    let later = wall_now() + 2 * 86_400;
    t.pin_clock(KEY_A, later).await;
    let got = hook.wait_for("checkout.session.expired").await;
    verify(&got, SECRET);
    assert_eq!(got.json()["data"]["object"]["id"], id.as_str());
    let s = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(s["status"], "expired");
}

#[tokio::test]
async fn retries_stop_after_the_schedule_or_when_the_endpoint_is_deleted() {
    let mut hook = Receiver::start().await;
    hook.fail_next(&[500, 500, 500, 500]);
    let t = spawn_mock(vec![]).await;
    let (we, _) = t
        .endpoint(KEY_A, &hook.url, &["checkout.session.expired"])
        .await;
    t.pin_clock(KEY_A, T).await;

    // The test schedule has two retries: three attempts, then the mock gives up.
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    hook.next_n(1).await;
    t.attempts_logged(KEY_A, 1).await;
    t.advance(KEY_A, 3600).await;
    assert_eq!(hook.drain().len(), 2);
    let log = t.deliveries(KEY_A, "").await;
    assert_eq!(column(&log, "attempt"), [3, 2, 1]);
    assert_eq!(column(&log, "succeeded"), [false, false, false]);
    assert_eq!(log["data"][0]["next_retry_at"], Value::Null, "given up");
    assert_eq!(log["pending"], 0);

    // A failed delivery whose endpoint is deleted is not retried.
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    hook.next_n(1).await;
    t.attempts_logged(KEY_A, 4).await;
    let gone = t
        .http
        .delete(t.url(&format!("/v1/webhook_endpoints/{we}")))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);
    t.advance(KEY_A, 3600).await;
    assert!(hook.drain().is_empty());
    let log = t.deliveries(KEY_A, "").await;
    assert_eq!(log["pending"], 0);
    assert_eq!(log["data"].as_array().unwrap().len(), 4, "no new attempt");
}

#[tokio::test]
async fn advance_runs_the_retry_of_an_attempt_that_was_in_flight() {
    let mut hook = Receiver::start().await;
    hook.fail_next(&[500]);
    // The shop takes 300 ms to answer: the attempt is still running when advance starts.
    hook.answer_after(Duration::from_millis(300));
    let t = spawn_mock(vec![hook.target()]).await;
    t.pin_clock(KEY_A, T).await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    hook.next_n(1).await;

    // The retry is due 100 ms after the attempt, at T + 0.1 s: well inside this advance.
    t.advance(KEY_A, 60).await;
    let log = t.deliveries(KEY_A, "").await;
    assert_eq!(column(&log, "attempt"), [2, 1], "{log}");
    assert_eq!(hook.drain().len(), 1, "the retry reached the shop");
}
