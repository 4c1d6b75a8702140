//! `POST /_config/checkout/sessions/{id}/complete`: paying headlessly, as the hosted page
//! would, with Stripe's test cards.

use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, Receiver, SECRET, spawn_mock, verify};

#[tokio::test]
async fn completing_pays_the_session_and_sends_the_four_events() {
    let mut hook = Receiver::start().await;
    let t = spawn_mock(vec![hook.target()]).await;
    let id = t.session_id(KEY_A).await;
    let (status, session) = t
        .complete(
            KEY_A,
            &id,
            "card=4242+4242+4242+4242&email=jenny%40example.com&name=Jenny+Rosen",
        )
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["id"], id.as_str());
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    assert_eq!(session["customer_details"]["email"], "jenny@example.com");
    assert_eq!(session["customer_details"]["name"], "Jenny Rosen");
    assert_eq!(
        t.get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
            .await,
        session,
        "the answer is the session as retrieved"
    );

    // Emitted in this order (the list is newest first).
    let mut emitted = t.event_types(KEY_A).await;
    emitted.reverse();
    let expected = [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ];
    assert_eq!(emitted, expected);
    // The endpoint gets each once, signed. (Stripe does not promise arrival order, and the
    // mock's attempts run concurrently: compare as sets, and order by `created`/emission.)
    let got = hook.next_n(4).await;
    let mut types: Vec<String> = got.iter().map(|r| r.event_type()).collect();
    types.sort();
    let mut sorted = expected.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(types, sorted);
    for r in &got {
        verify(r, SECRET);
    }
    let completed = got
        .iter()
        .find(|r| r.event_type() == "checkout.session.completed")
        .unwrap();
    assert_eq!(completed.json()["data"]["object"]["id"], id.as_str());
    assert!(hook.drain().is_empty());
}

#[tokio::test]
async fn every_decline_card_is_a_402_card_error_and_the_session_stays_open() {
    let t = spawn_mock(vec![]).await;
    let id = t.session_id(KEY_A).await;
    let mut payment_intent: Option<Value> = None;
    for (card, code, decline_code) in [
        ("4000000000000002", "card_declined", Some("generic_decline")),
        (
            "4000000000009995",
            "card_declined",
            Some("insufficient_funds"),
        ),
        ("4000000000009987", "card_declined", Some("lost_card")),
        ("4000000000009979", "card_declined", Some("stolen_card")),
        ("4000000000000069", "expired_card", None),
        ("4000000000000127", "incorrect_cvc", None),
        ("4000000000000119", "processing_error", None),
        (
            "4000000000006975",
            "card_declined",
            Some("card_velocity_exceeded"),
        ),
        ("4100000000000019", "card_declined", Some("fraudulent")),
        // Declined because the form always sends a CVC.
        ("4000000000000101", "incorrect_cvc", None),
        // Attaches to a Customer, but every charge fails.
        ("4000000000000341", "card_declined", Some("generic_decline")),
    ] {
        let (status, v) = t.complete(KEY_A, &id, &format!("card={card}")).await;
        assert_eq!(status, 402, "{card}: {v}");
        let e = &v["error"];
        assert_eq!(e["type"], "card_error", "{card}: {v}");
        assert_eq!(e["code"], code, "{card}: {v}");
        assert_eq!(e["decline_code"].as_str(), decline_code, "{card}: {v}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        let charge = e["charge"]
            .as_str()
            .unwrap_or_else(|| panic!("{card}: {v}"));
        assert!(charge.starts_with("ch_"), "{card}: {v}");
        let pi = &e["payment_intent"];
        assert_eq!(pi["object"], "payment_intent", "{card}: {v}");
        assert_eq!(pi["status"], "requires_payment_method", "{card}: {v}");
        assert_eq!(pi["latest_charge"], charge, "{card}: {v}");
        // Every attempt reuses the session's PaymentIntent.
        let pi_id = pi["id"].clone();
        assert_eq!(*payment_intent.get_or_insert(pi_id.clone()), pi_id);

        let s = t
            .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
            .await;
        assert_eq!(s["status"], "open", "{card}");
        assert_eq!(s["payment_status"], "unpaid", "{card}");
    }

    // A number that fails the Luhn check never reaches the charge.
    let (status, v) = t.complete(KEY_A, &id, "card=4242424242424241").await;
    assert_eq!(status, 402, "{v}");
    assert_eq!(v["error"]["type"], "card_error");
    assert_eq!(v["error"]["code"], "incorrect_number");
    assert_eq!(v["error"]["param"], "card");
    assert!(v["error"].get("charge").is_none(), "{v}");

    // The session is still payable.
    let (status, v) = t.complete(KEY_A, &id, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["payment_intent"], payment_intent.unwrap());
}

/// The rest of the test-card table: every card that pays, and the 3-D Secure cards
/// answered both ways (those that decline after authentication decline).
#[tokio::test]
async fn every_succeeding_and_3ds_card_gives_stripes_outcome() {
    let t = spawn_mock(vec![]).await;
    for card in [
        "4242424242424242",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
        "4000056655665556",
        "4000000000000077",
        "4000000000000259",
    ] {
        let id = t.session_id(KEY_A).await;
        let (status, v) = t.complete(KEY_A, &id, &format!("card={card}")).await;
        assert_eq!(status, 200, "{card}: {v}");
        assert_eq!(v["payment_status"], "paid", "{card}");
    }
    for (card, completed_declines) in [
        ("4000000000003220", None),
        ("4000002500003155", None),
        ("4000002760003184", None),
        ("4000008260003178", Some("insufficient_funds")),
        ("4000008400001629", Some("generic_decline")),
    ] {
        let id = t.session_id(KEY_A).await;
        let (status, v) = t
            .complete(KEY_A, &id, &format!("card={card}&three_d_secure=fail"))
            .await;
        assert_eq!(status, 402, "{card} failing 3-D Secure: {v}");
        assert_eq!(v["error"]["code"], "payment_intent_authentication_failure");
        assert!(v["error"].get("charge").is_none(), "no charge is made: {v}");
        let (status, v) = t
            .complete(KEY_A, &id, &format!("card={card}&three_d_secure=complete"))
            .await;
        match completed_declines {
            None => assert_eq!(
                (status, v["payment_status"].as_str()),
                (200, Some("paid")),
                "{card}: {v}"
            ),
            Some(code) => {
                assert_eq!(status, 402, "{card}: {v}");
                assert_eq!(v["error"]["decline_code"], code, "{card}: {v}");
            }
        }
    }
    let id = t.session_id(KEY_A).await;
    let (status, v) = t.complete(KEY_A, &id, "three_d_secure=sometimes").await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("three_d_secure")),
        "{v}"
    );
}

#[tokio::test]
async fn only_open_sessions_of_the_callers_account_can_be_completed() {
    let t = spawn_mock(vec![]).await;
    let id = t.session_id(KEY_A).await;

    // Another account's session does not exist for it.
    let (status, v) = t.complete(KEY_B, &id, "").await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "resource_missing");
    let (status, v) = t.complete(KEY_A, "cs_test_nosuchsession", "").await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "resource_missing");
    assert_eq!(v["error"]["param"], "session");
    assert_eq!(
        v["error"]["message"],
        "No such checkout.session: 'cs_test_nosuchsession'"
    );

    let (status, _) = t.complete(KEY_A, &id, "").await;
    assert_eq!(status, 200);
    let (status, v) = t.complete(KEY_A, &id, "").await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "session");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`complete`"),
        "{v}"
    );

    let expired = t.session_id(KEY_A).await;
    t.expire(KEY_A, &expired).await;
    let (status, v) = t.complete(KEY_A, &expired, "").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`expired`"),
        "{v}"
    );

    // Unknown parameters are refused.
    let open = t.session_id(KEY_A).await;
    let (status, v) = t.complete(KEY_A, &open, "cvc=123").await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "cvc");
    assert_eq!(t.event_types(KEY_B).await.len(), 0, "B saw nothing");
}
