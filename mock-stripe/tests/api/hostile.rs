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

#[tokio::test]
async fn headless_completion_with_a_one_digit_card_is_a_card_error() {
    // Found by the fuzzer (tests/fuzz): the brand of a card number shorter than 4 digits
    // sliced past its end, and the control API answered a 500.
    let mock = spawn_mock(vec![]).await;
    for card in ["1", "42", "", "x"] {
        let session = mock.create_session(KEY).await;
        let id = session["id"].as_str().unwrap();
        let resp = mock
            .post(
                KEY,
                &format!("/_config/checkout/sessions/{id}/complete"),
                &format!("card={card}"),
            )
            .await;
        let status = resp.status();
        let err: serde_json::Value = resp.json().await.unwrap();
        if card.is_empty() {
            // `card=` is unset: the default card pays.
            assert_eq!(status, 200, "{err}");
            continue;
        }
        assert_eq!(status, 402, "card={card}: {err}");
        assert_eq!(err["error"]["type"], "card_error");
    }
}

#[tokio::test]
async fn test_cards_still_pay_when_the_clock_is_pinned_far_ahead() {
    // Found by the fuzzer: at 9999 `pm_card_visa` was "No such PaymentMethod", and from
    // 2095 headless completion's default card had expired.
    let mock = spawn_mock(vec![]).await;
    for (key, frozen_at) in [
        ("sk_test_hostile_2100", 4_102_444_800i64),
        ("sk_test_hostile_9999", 253_402_300_799),
    ] {
        let pinned = mock
            .post(key, "/_config/clock", &format!("frozen_at={frozen_at}"))
            .await;
        assert_eq!(pinned.status(), 200);
        let resp = mock
            .post(
                key,
                "/v1/payment_intents",
                "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true",
            )
            .await;
        let status = resp.status();
        let pi: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{frozen_at}: {pi}");
        assert_eq!(pi["status"], "succeeded");
        let session = mock.create_session(key).await;
        let id = session["id"].as_str().unwrap();
        let resp = mock
            .post(
                key,
                &format!("/_config/checkout/sessions/{id}/complete"),
                "",
            )
            .await;
        let status = resp.status();
        let done: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{frozen_at}: {done}");
    }
}

#[tokio::test]
async fn the_clock_cannot_be_advanced_past_9999() {
    // Found by the fuzzer: pinning stops at 9999-12-31 but advancing went on, past the last
    // four-digit year, where no test card had a valid expiry any more.
    let mock = spawn_mock(vec![]).await;
    let key = "sk_test_hostile_clock_end";
    let pinned = mock
        .post(key, "/_config/clock", "frozen_at=253402214400")
        .await;
    assert_eq!(pinned.status(), 200);
    let resp = mock
        .post(key, "/_config/clock/advance", "seconds=172800")
        .await;
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["param"], "seconds");
    // Up to the last second is fine.
    let resp = mock
        .post(key, "/_config/clock/advance", "seconds=86399")
        .await;
    assert_eq!(resp.status(), 200);
    let clock: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(clock["now"], 253_402_300_799i64);
    let pi = mock
        .post(
            key,
            "/v1/payment_intents",
            "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true",
        )
        .await;
    assert_eq!(pi.status(), 200);
}

#[tokio::test]
async fn a_card_expiry_of_one_wide_character_is_an_input_error_on_the_page() {
    // Found by the fuzzer: `cardExpiry=𑵠` (four bytes, one character) was split inside the
    // character and the payment page answered 500.
    let mock = spawn_mock(vec![]).await;
    let session = mock.create_session(KEY).await;
    let resp = mock
        .http
        .post(session["url"].as_str().unwrap())
        .form(&[
            ("email", "buyer@example.com"),
            ("cardNumber", "4242424242424242"),
            ("cardExpiry", "𑵠"),
            ("cardCvc", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("incomplete_expiry"), "{html}");
}
