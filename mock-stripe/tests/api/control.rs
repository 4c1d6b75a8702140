//! The rest of the control API: the attempt log and redelivery, settings, emptying
//! accounts, health, localstripe's `/_config/webhooks`, errors, and the control token.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    KEY_A, KEY_B, Received, Receiver, SECRET, client, column, eventually, spawn_mock, verify,
};
use mock_stripe::{Config, MockStripe};

#[tokio::test]
async fn the_attempt_log_and_redelivery_to_one_endpoint() {
    let mut hook = Receiver::start().await;
    let mut other = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let (we, secret) = t
        .endpoint(KEY_A, &hook.url, &["checkout.session.expired"])
        .await;
    t.endpoint(KEY_A, &other.url, &["checkout.session.expired"])
        .await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    let first = hook.wait_for("checkout.session.expired").await;
    other.wait_for("checkout.session.expired").await;
    let event = first.json()["id"].as_str().unwrap().to_string();

    let log = eventually("both attempts logged", || {
        let (t, event) = (&t, &event);
        async move {
            let log = t.deliveries(KEY_A, &format!("event={event}")).await;
            (log["data"].as_array().unwrap().len() == 2).then_some(log)
        }
    })
    .await;
    assert_eq!(log["object"], "list");
    let mine = t
        .deliveries(KEY_A, &format!("event={event}&endpoint={we}"))
        .await;
    assert_eq!(column(&mine, "endpoint"), [we.as_str()]);
    let r = &mine["data"][0];
    assert_eq!(r["attempt"], 1);
    assert_eq!(r["status"], 200);
    assert_eq!(r["succeeded"], true);
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["fault"], Value::Null);
    assert_eq!(r["next_retry_at"], Value::Null);
    assert_eq!(r["response_body"], "ok");
    assert_eq!(r["url"], hook.url.as_str());
    assert_eq!(r["event_type"], "checkout.session.expired");
    assert!(r["latency_ms"].is_u64());
    assert!(r["id"].as_str().unwrap().starts_with("whatt_"));
    let limited = t.deliveries(KEY_A, "limit=1").await;
    assert_eq!(limited["data"].as_array().unwrap().len(), 1);

    // Resend to one endpoint: the same event, signed afresh (for the bytes, see
    // `redelivery_resends_the_same_bytes`).
    let sent = t
        .control(
            KEY_A,
            Method::POST,
            &format!("/_config/events/{event}/redeliver"),
            &format!("endpoint={we}"),
        )
        .await;
    assert_eq!(sent["deliveries_queued"], 1);
    let again = hook.wait_for("checkout.session.expired").await;
    verify(&again, &secret);
    let without_pending = |r: &Received| {
        let mut v = r.json();
        v.as_object_mut().unwrap().remove("pending_webhooks");
        v
    };
    assert_eq!(
        without_pending(&again),
        without_pending(&first),
        "the same event"
    );
    let mine = eventually("the resend logged", || {
        let (t, event, we) = (&t, &event, &we);
        async move {
            let log = t
                .deliveries(KEY_A, &format!("event={event}&endpoint={we}"))
                .await;
            (log["data"].as_array().unwrap().len() == 2).then_some(log)
        }
    })
    .await;
    assert_eq!(column(&mine, "succeeded"), [true, true]);
    assert!(other.drain().is_empty(), "only the endpoint asked for");

    // Without `endpoint`: every endpoint that receives the event's type.
    let sent = t
        .control(
            KEY_A,
            Method::POST,
            &format!("/_config/events/{event}/redeliver"),
            "",
        )
        .await;
    assert_eq!(sent["deliveries_queued"], 2);
    hook.wait_for("checkout.session.expired").await;
    other.wait_for("checkout.session.expired").await;

    let redeliver = format!("/_config/events/{event}/redeliver");
    for (method, path, form, status, param) in [
        (
            Method::POST,
            "/_config/events/evt_nope/redeliver",
            "",
            404,
            "id",
        ),
        (
            Method::POST,
            redeliver.as_str(),
            "endpoint=we_nope",
            400,
            "endpoint",
        ),
        (Method::GET, "/_config/deliveries?limit=0", "", 400, "limit"),
        (
            Method::GET,
            "/_config/deliveries?limit=1001",
            "",
            400,
            "limit",
        ),
    ] {
        let (got, v) = t.call(Some(KEY_A), method, path, form).await;
        assert_eq!(
            (got, v["error"]["param"].as_str()),
            (status, Some(param)),
            "{path}: {v}"
        );
    }
    // Another account cannot resend A's event.
    let (got, _) = t.call(Some(KEY_B), Method::POST, &redeliver, "").await;
    assert_eq!(got, 404);
}

#[tokio::test]
async fn redelivery_resends_the_same_bytes() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    let first = hook.wait_for("checkout.session.expired").await;
    let event = first.json()["id"].as_str().unwrap().to_string();
    t.control(
        KEY_A,
        Method::POST,
        &format!("/_config/events/{event}/redeliver"),
        "",
    )
    .await;
    let again = hook.wait_for("checkout.session.expired").await;
    verify(&again, SECRET);
    assert_eq!(again.body, first.body, "the same bytes, signed afresh");
}

#[tokio::test]
async fn settings_are_per_account_and_validated() {
    let t = spawn_mock(vec![]).await;
    let shown = t.control(KEY_A, Method::GET, "/_config/settings", "").await;
    assert_eq!(shown["object"], "mock_settings");
    assert_eq!(shown["redirect_timing"], "before");
    for timing in ["after", "concurrent", "before", "after"] {
        t.set_redirect_timing(KEY_A, timing).await;
    }
    let shown = t.control(KEY_A, Method::GET, "/_config/settings", "").await;
    assert_eq!(shown["redirect_timing"], "after");
    let b = t.control(KEY_B, Method::GET, "/_config/settings", "").await;
    assert_eq!(b["redirect_timing"], "before", "B is untouched");

    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/_config/settings",
            "redirect_timing=sometimes",
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "redirect_timing");
    let (status, v) = t
        .call(Some(KEY_A), Method::POST, "/_config/settings", "speed=fast")
        .await;
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("speed")));
}

#[tokio::test]
async fn emptying_an_account_forgets_its_sessions_clock_faults_and_settings() {
    let t = spawn_mock(vec![]).await;
    let a = t.create_session(KEY_A).await;
    let b = t.create_session(KEY_B).await;
    t.pin_clock(KEY_A, 1_900_000_000).await;
    t.add_fault(KEY_A, "target=webhook&kind=drop").await;
    t.set_redirect_timing(KEY_A, "after").await;

    let done = t.control(KEY_A, Method::DELETE, "/_config/data", "").await;
    assert_eq!(done["deleted"], true);
    assert_eq!(done["accounts"], 1);
    assert!(t.session_ids(KEY_A).await.is_empty());
    assert!(t.event_types(KEY_A).await.is_empty());
    let page = t.http.get(a["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 404, "the hosted page is gone too");
    let id = a["id"].as_str().unwrap();
    assert_eq!(
        t.get(KEY_A, &format!("/v1/checkout/sessions/{id}"))
            .await
            .status(),
        404
    );
    let clock = t.control(KEY_A, Method::GET, "/_config/clock", "").await;
    assert_eq!(clock["mode"], "real");
    assert!(t.faults(KEY_A).await.is_empty());
    let settings = t.control(KEY_A, Method::GET, "/_config/settings", "").await;
    assert_eq!(settings["redirect_timing"], "before");

    // B's session survives A's reset...
    assert_eq!(t.session_ids(KEY_B).await, [b["id"].as_str().unwrap()]);
    let page = t.http.get(b["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // ...but not a reset without a key (localstripe's): every account is emptied.
    let (status, done) = t.call(None, Method::DELETE, "/_config/data", "").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["accounts"], 2);
    assert!(t.session_ids(KEY_B).await.is_empty());
    let page = t.http.get(b["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 404);
}

#[tokio::test]
async fn health_needs_no_key_but_the_rest_does_and_unknown_paths_are_404() {
    let t = spawn_mock(vec![]).await;
    let (status, v) = t.call(None, Method::GET, "/_config/health", "").await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");

    for (method, path) in [
        (Method::GET, "/_config/clock"),
        (Method::GET, "/_config/faults"),
        (Method::GET, "/_config/deliveries"),
        (Method::GET, "/_config/settings"),
        (Method::POST, "/_config/clock/advance"),
    ] {
        let (status, v) = t.call(None, method.clone(), path, "").await;
        assert_eq!(status, 401, "{method} {path}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    let (status, v) = t
        .call(Some("sk_live_123456789"), Method::GET, "/_config/clock", "")
        .await;
    assert_eq!(status, 401, "{v}");

    for path in ["/_config/nothing", "/_config", "/_config/clock/rewind"] {
        let (status, v) = t.call(Some(KEY_A), Method::GET, path, "").await;
        assert_eq!(status, 404, "{path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unrecognized request URL"),
            "{path}: {v}"
        );
    }
    // The wrong method on a known path is unknown too.
    let (status, _) = t.call(Some(KEY_A), Method::PUT, "/_config/clock", "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn localstripe_webhook_registration_with_and_without_a_key() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![]).await;
    let form = format!(
        "url={}&secret=whsec_localstripe_1&events[]=checkout.session.expired",
        hook.url
    );
    let registered = t
        .control(KEY_A, Method::POST, "/_config/webhooks/local_hook", &form)
        .await;
    assert_eq!(registered["id"], "local_hook");
    let listed = t.get_json(KEY_A, "/v1/webhook_endpoints").await;
    assert_eq!(listed["data"][0]["id"], "local_hook");
    assert_eq!(listed["data"][0]["url"], hook.url.as_str());

    // Only the types asked for, signed with the given secret.
    let paid = t.session_id(KEY_A).await;
    assert_eq!(t.complete(KEY_A, &paid, "").await.0, 200);
    let id = t.session_id(KEY_A).await;
    t.expire(KEY_A, &id).await;
    let got = hook.next_n(1).await;
    assert_eq!(got[0].event_type(), "checkout.session.expired");
    verify(&got[0], "whsec_localstripe_1");
    assert!(hook.drain().is_empty(), "nothing from the payment");

    // Without a key: a forward-to target for every account (and every type).
    let mut global = Receiver::start().await;
    let form = format!("url={}&secret={SECRET}", global.url);
    let (status, v) = t
        .call(None, Method::POST, "/_config/webhooks/anything", &form)
        .await;
    assert_eq!(status, 200, "{v}");
    let id = t.session_id(KEY_B).await;
    t.expire(KEY_B, &id).await;
    let got = global.wait_for("checkout.session.expired").await;
    verify(&got, SECRET);
    assert_eq!(got.json()["data"]["object"]["id"], id.as_str());

    for (form, param) in [
        ("secret=whsec_x", "url"),
        ("url=http://127.0.0.1:9/x", "secret"),
        ("url=not-a-url&secret=whsec_x", "url"),
    ] {
        let (status, v) = t
            .call(Some(KEY_A), Method::POST, "/_config/webhooks/bad", form)
            .await;
        assert_eq!(
            (status, v["error"]["param"].as_str()),
            (400, Some(param)),
            "{form}: {v}"
        );
    }
}

#[tokio::test]
async fn beyond_loopback_the_mock_needs_a_control_token() {
    let refused = MockStripe::start(Config {
        host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 0,
        control_token: None,
        ..Config::default()
    })
    .await;
    let err = refused.err().expect("refused without a token");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("control token"), "{err}");

    let mock = MockStripe::start(Config {
        host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 0,
        control_token: Some("tok_s3cret".into()),
        ..Config::default()
    })
    .await
    .expect("starts with a token");
    assert!(mock.base_url().starts_with("http://127.0.0.1:"));
    mock.shutdown().await;
}

#[tokio::test]
async fn with_a_token_every_control_call_must_carry_it() {
    let mock = MockStripe::start(Config {
        port: 0,
        control_token: Some("tok_s3cret".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let http = client();
    let url = |p: &str| format!("{}{p}", mock.base_url());
    for token in [None, Some("wrong"), Some("tok_s3cre"), Some("tok_s3cret2")] {
        for path in ["/_config/health", "/_config/clock"] {
            let mut req = http.get(url(path)).bearer_auth(KEY_A);
            if let Some(tok) = token {
                req = req.header("x-control-token", tok);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{path} with {token:?}");
            let v: Value = resp.json().await.unwrap();
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("X-Control-Token"),
                "{v}"
            );
        }
    }
    let ok = http
        .get(url("/_config/health"))
        .header("x-control-token", "tok_s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok = http
        .get(url("/_config/clock"))
        .bearer_auth(KEY_A)
        .header("x-control-token", "tok_s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The Stripe API itself does not need it.
    let api = http
        .get(url("/v1/checkout/sessions"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    mock.shutdown().await;
}

#[tokio::test]
async fn an_attempt_in_flight_during_a_reset_does_not_touch_the_new_data() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    // The old event's attempt is still waiting for the shop when the account is emptied.
    hook.answer_after(std::time::Duration::from_millis(400));
    let old = t.session_id(KEY_A).await;
    t.expire(KEY_A, &old).await;
    let old_attempt = hook.next_n(1).await.remove(0);
    let old_event = old_attempt.json()["id"].clone();
    hook.answer_after(std::time::Duration::ZERO);
    t.control(KEY_A, Method::DELETE, "/_config/data", "").await;

    // After the reset: a new event whose first attempt fails; its retry waits for the clock.
    hook.fail_next(&[500]);
    t.pin_clock(KEY_A, 1_900_000_000).await;
    let new = t.session_id(KEY_A).await;
    t.expire(KEY_A, &new).await;
    let first = hook.next_n(1).await;
    assert_eq!(first[0].json()["data"]["object"]["id"], new.as_str());
    // Let the old attempt end (the shop answers it 400 ms after it arrived).
    let ended = old_attempt.at + std::time::Duration::from_millis(450);
    tokio::time::sleep_until(ended.into()).await;

    let log = t.deliveries(KEY_A, "").await;
    assert!(
        !column(&log, "event").contains(&old_event),
        "the emptied account's attempt is not in the new log: {log}"
    );
    t.advance(KEY_A, 1).await;
    let retry = hook.drain();
    assert_eq!(retry.len(), 1, "the new event's retry was sent");
    assert_eq!(retry[0].body, first[0].body);
}
