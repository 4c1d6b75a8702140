//! Webhook faults (`/_config/faults` with `target=webhook`), seen from the receiving
//! endpoint and from the attempt log. Each test makes one event per session by expiring it
//! through the API, delivered to a forward-to target with the fast test retry schedule.

use serde_json::Value;

use crate::helpers::{
    KEY_A, Receiver, SECRET, TestMock, column, eventually, spawn_mock, verifies, verify,
};

/// The attempt log of one event once `done` says it is complete.
async fn log_when(t: &TestMock, event: &str, done: impl Fn(&Value) -> bool) -> Value {
    let done = &done;
    eventually("the attempt log", || async move {
        let log = t.deliveries(KEY_A, &format!("event={event}")).await;
        done(&log).then_some(log)
    })
    .await
}

fn succeeded_once(log: &Value) -> bool {
    column(log, "succeeded").contains(&Value::Bool(true)) && log["pending"] == 0
}

#[tokio::test]
async fn status_fault_fails_the_first_attempts_then_delivery_recovers() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=status&status=503&count=2")
        .await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    let got = hook.next_n(1).await;
    let event = got[0].json()["id"].as_str().unwrap().to_string();
    let log = log_when(&t, &event, succeeded_once).await;
    assert_eq!(column(&log, "attempt"), [3, 2, 1], "{log}");
    assert_eq!(column(&log, "status"), [200, 503, 503], "{log}");
    assert_eq!(
        column(&log, "fault"),
        [Value::Null, "status".into(), "status".into()],
        "{log}"
    );
    // The failed attempts were not sent: the endpoint saw only the one that succeeded.
    verify(&got[0], SECRET);
    assert!(hook.drain().is_empty());
    assert!(t.faults(KEY_A).await.is_empty(), "used up");
}

#[tokio::test]
async fn timeout_fault_makes_the_endpoint_receive_the_event_twice() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=timeout").await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;

    let got = hook.next_n(2).await;
    for r in &got {
        assert_eq!(r.event_type(), "checkout.session.expired");
        verify(r, SECRET);
    }
    assert_eq!(got[0].body, got[1].body, "the same event, retried");
    let event = got[0].json()["id"].as_str().unwrap().to_string();
    let log = log_when(&t, &event, succeeded_once).await;
    assert_eq!(column(&log, "attempt"), [2, 1]);
    assert_eq!(column(&log, "succeeded"), [true, false]);
    assert_eq!(column(&log, "fault"), [Value::Null, "timeout".into()]);
    assert!(
        log["data"][1]["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{log}"
    );
    assert!(log["data"][1]["next_retry_at"].is_i64());
}

#[tokio::test]
async fn duplicate_fault_sends_one_attempt_twice() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=duplicate").await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;

    let got = hook.next_n(2).await;
    assert_eq!(got[0].body, got[1].body);
    for r in &got {
        verify(r, SECRET);
    }
    let event = got[0].json()["id"].as_str().unwrap().to_string();
    let log = log_when(&t, &event, succeeded_once).await;
    assert_eq!(column(&log, "attempt"), [1], "one attempt, two copies");
    assert_eq!(column(&log, "fault"), ["duplicate"]);
    assert!(hook.drain().is_empty());
}

#[tokio::test]
async fn reorder_fault_swaps_two_events() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=reorder").await;
    let first = t.session_id(KEY_A).await;
    let second = t.session_id(KEY_A).await;
    t.expire(KEY_A, &first).await;
    // The first event's delivery has met the fault and is held back.
    t.faults_used_up(KEY_A).await;
    t.expire(KEY_A, &second).await;

    let got = hook.next_n(2).await;
    let order: Vec<Value> = got
        .iter()
        .map(|r| r.json()["data"]["object"]["id"].clone())
        .collect();
    assert_eq!(order, [second.as_str(), first.as_str()], "swapped");
    for r in &got {
        verify(r, SECRET);
    }
}

#[tokio::test]
async fn delay_fault_holds_the_delivery_until_the_virtual_clock_passes_it() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.pin_clock(KEY_A, 1_900_000_000).await;
    t.add_fault(KEY_A, "target=webhook&kind=delay&seconds=60")
        .await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    t.faults_used_up(KEY_A).await;
    assert!(hook.drain().is_empty(), "delayed");

    t.advance(KEY_A, 59).await;
    assert!(hook.drain().is_empty(), "still delayed after 59 s");
    t.advance(KEY_A, 1).await;
    let got = hook.drain();
    assert_eq!(got.len(), 1, "{got:?}");
    verify(&got[0], SECRET);
    assert_eq!(
        got[0].json()["created"],
        1_900_000_000,
        "the event is as old as it was"
    );
}

#[tokio::test]
async fn bad_signature_fault_is_rejected_by_the_shop_then_the_retry_verifies() {
    let mut hook = Receiver::start().await;
    // The shop answers 400 to a signature it cannot verify.
    hook.fail_next(&[400]);
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=bad_signature")
        .await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;

    let got = hook.next_n(2).await;
    assert!(got[0].signature.starts_with("t=") && got[0].signature.contains(",v1="));
    assert!(
        !verifies(&got[0], SECRET),
        "well formed, but signed with another secret"
    );
    verify(&got[1], SECRET);
    assert_eq!(got[0].body, got[1].body);
    let event = got[0].json()["id"].as_str().unwrap().to_string();
    let log = log_when(&t, &event, succeeded_once).await;
    assert_eq!(column(&log, "status"), [200, 400]);
    assert_eq!(column(&log, "fault"), [Value::Null, "bad_signature".into()]);
}

#[tokio::test]
async fn drop_fault_never_delivers_and_says_so_in_the_log() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(KEY_A, "target=webhook&kind=drop").await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;

    let t = &t;
    let log = eventually("the drop in the log", || async move {
        let log = t.deliveries(KEY_A, "").await;
        (!column(&log, "fault").is_empty()).then_some(log)
    })
    .await;
    assert_eq!(column(&log, "fault"), ["drop"]);
    assert_eq!(column(&log, "succeeded"), [false]);
    assert_eq!(column(&log, "next_retry_at"), [Value::Null], "no retry");
    assert_eq!(column(&log, "status"), [Value::Null]);
    assert!(
        log["data"][0]["error"]
            .as_str()
            .unwrap()
            .contains("dropped"),
        "{log}"
    );
    assert_eq!(log["pending"], 0, "nothing left to send");
    assert!(hook.drain().is_empty(), "never delivered");
    assert_eq!(column(&log, "event_type"), ["checkout.session.expired"]);
}

#[tokio::test]
async fn webhook_faults_filter_by_event_type() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.add_fault(
        KEY_A,
        "target=webhook&kind=drop&event_type=checkout.session.completed",
    )
    .await;
    let expired = t.session_id(KEY_A).await;
    t.expire(KEY_A, &expired).await;
    hook.wait_for("checkout.session.expired").await;
    assert_eq!(t.faults(KEY_A).await.len(), 1, "other types pass untouched");

    let paid = t.session_id(KEY_A).await;
    let (status, _) = t.complete(KEY_A, &paid, "").await;
    assert_eq!(status, 200);
    t.faults_used_up(KEY_A).await;
    let log = t.deliveries(KEY_A, "").await;
    let dropped: Vec<&Value> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["fault"] == "drop")
        .collect();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0]["event_type"], "checkout.session.completed");
    // The payment's other three events arrive; the completed one does not.
    let mut types: Vec<String> = hook
        .next_n(3)
        .await
        .iter()
        .map(|r| r.event_type())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "charge.succeeded",
            "payment_intent.created",
            "payment_intent.succeeded"
        ]
    );
}
