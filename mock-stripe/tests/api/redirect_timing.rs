//! Redirect timing (`/_config/settings` `redirect_timing`): the order in which the shop sees
//! the browser's redirect and the first `checkout.session.completed`, on the hosted page and
//! on `/_config/…/complete`.

use std::time::{Duration, Instant};

use crate::helpers::{KEY_A, Receiver, SECRET, TestMock, spawn_mock, verify};

const COMPLETED: &str = "checkout.session.completed";

/// Pays on the hosted page: when the 303 arrived.
async fn pay_on_page(t: &TestMock) -> Instant {
    let s = t.create_session(KEY_A).await;
    let resp = t.pay(s["url"].as_str().unwrap(), "4242424242424242").await;
    let answered = Instant::now();
    assert_eq!(resp.status(), 303);
    answered
}

/// Pays through the control API: when its answer arrived.
async fn pay_headless(t: &TestMock) -> Instant {
    let id = t.session_id(KEY_A).await;
    let (status, v) = t.complete(KEY_A, &id, "").await;
    let answered = Instant::now();
    assert_eq!(status, 200, "{v}");
    answered
}

#[tokio::test]
async fn before_the_webhook_arrives_first() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let shown = t
        .control(KEY_A, reqwest::Method::GET, "/_config/settings", "")
        .await;
    assert_eq!(shown["redirect_timing"], "before", "the default");

    let answered = pay_on_page(&t).await;
    let hook_at = hook.wait_for(COMPLETED).await.at;
    assert!(hook_at < answered, "webhook, then the 303");

    let answered = pay_headless(&t).await;
    let got = hook.wait_for(COMPLETED).await;
    assert!(got.at < answered, "webhook, then the answer");
    verify(&got, SECRET);
}

/// With `after`, pays both ways and checks the answer came first, the webhook a beat later.
async fn assert_after(t: &TestMock, hook: &mut Receiver, secret: &str) {
    for headless in [false, true] {
        let answered = if headless {
            pay_headless(t).await
        } else {
            pay_on_page(t).await
        };
        let got = hook.wait_for(COMPLETED).await;
        assert!(
            got.at > answered,
            "the answer, then the webhook (headless: {headless})"
        );
        // About 500 ms later: long enough for a browser to land on the success page first.
        assert!(
            got.at - answered >= Duration::from_millis(300),
            "the webhook came only {:?} after the answer (headless: {headless})",
            got.at - answered
        );
        verify(&got, secret);
    }
}

#[tokio::test]
async fn after_the_redirect_arrives_first_and_the_webhook_a_beat_later() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let (_, secret) = t.endpoint(KEY_A, &hook.url, &[COMPLETED]).await;
    t.set_redirect_timing(KEY_A, "after").await;
    assert_after(&t, &mut hook, &secret).await;
}

#[tokio::test]
async fn after_holds_the_webhook_even_when_the_endpoint_gets_every_event() {
    // A forward-to target (`stripe listen`) also receives charge.succeeded and the
    // payment_intent events of the same payment.
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.set_redirect_timing(KEY_A, "after").await;
    assert_after(&t, &mut hook, SECRET).await;
}

#[tokio::test]
async fn concurrent_redirects_and_delivers_without_waiting() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    t.set_redirect_timing(KEY_A, "concurrent").await;
    let answered = pay_on_page(&t).await;
    let got = hook.wait_for(COMPLETED).await;
    verify(&got, SECRET);
    // Whatever the order, the two are close together: nothing is held back.
    let gap = if got.at > answered {
        got.at - answered
    } else {
        answered - got.at
    };
    assert!(gap < Duration::from_millis(300), "{gap:?}");
}
