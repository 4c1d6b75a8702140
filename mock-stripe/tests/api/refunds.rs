//! Refunds over HTTP: partial and full refunds of a Checkout payment and of a direct
//! PaymentIntent, Stripe's error for refunding more than is left, the charge's
//! `amount_refunded`/`refunded`, and the events each API version sends (verified by
//! async-stripe, as a Rust shop would).

use serde_json::Value;
use stripe_webhook::EventObject;

use crate::helpers::{KEY_A, Receiver, SECRET, spawn_mock, verify};

async fn post(t: &crate::helpers::TestMock, path: &str, form: &str) -> (u16, Value) {
    let resp = t.post(KEY_A, path, form).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn refunding_a_checkout_payment_in_two_parts() {
    let mut rx = Receiver::start().await;
    let t = spawn_mock(vec![rx.target()]).await;
    let session = t.create_session(KEY_A).await;
    let paid = t
        .pay(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(paid.status(), 303);
    rx.wait_for("checkout.session.completed").await;
    let pi = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
        )
        .await["payment_intent"]
        .as_str()
        .unwrap()
        .to_string();

    let resp = t
        .post_idem(
            KEY_A,
            "/v1/refunds",
            &format!(
                "payment_intent={pi}&amount=1000&reason=requested_by_customer&metadata[rma]=7"
            ),
            "refund-1",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_string();
    let first: Value = resp.json().await.unwrap();
    assert_eq!(
        (&first["status"], &first["amount"], &first["payment_intent"]),
        (&"succeeded".into(), &1000.into(), &pi.as_str().into())
    );
    let charge_id = first["charge"].as_str().unwrap().to_string();

    // The default version (after 2024-10-28): `charge.refunded` and `refund.created`.
    let refunded = rx.wait_for("charge.refunded").await;
    let created = rx.wait_for("refund.created").await;
    for r in [&refunded, &created] {
        assert_eq!(r.json()["request"]["id"], request_id.as_str());
        assert_eq!(r.json()["request"]["idempotency_key"], "refund-1");
    }
    let EventObject::ChargeRefunded(ch) = verify(&refunded, SECRET).data.object else {
        panic!("charge.refunded carries a Charge")
    };
    assert_eq!((ch.amount_refunded, ch.refunded), (1000, false));
    let EventObject::RefundCreated(r) = verify(&created, SECRET).data.object else {
        panic!("refund.created carries a Refund")
    };
    assert_eq!(r.id.as_str(), first["id"].as_str().unwrap());

    let (status, v) = post(
        &t,
        "/v1/refunds",
        &format!("charge={charge_id}&amount=3000"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        (&v["error"]["type"], &v["error"]["param"]),
        (&"invalid_request_error".into(), &"amount".into())
    );
    assert_eq!(
        v["error"]["message"],
        "Refund amount ($30.00) is greater than unrefunded amount on charge ($29.98)"
    );
    let (status, rest) = post(&t, "/v1/refunds", &format!("charge={charge_id}")).await;
    assert_eq!((status, &rest["amount"]), (200, &2998.into()));
    let charge = t.get_json(KEY_A, &format!("/v1/charges/{charge_id}")).await;
    assert_eq!(
        (&charge["amount_refunded"], &charge["refunded"]),
        (&3998.into(), &true.into())
    );
    let (status, v) = post(&t, "/v1/refunds", &format!("charge={charge_id}")).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (400, &"charge_already_refunded".into())
    );

    let list = t
        .get_json(KEY_A, &format!("/v1/refunds?payment_intent={pi}"))
        .await;
    let amounts: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].clone())
        .collect();
    assert_eq!(amounts, [2998, 1000]);
    let one = t
        .get_json(
            KEY_A,
            &format!(
                "/v1/refunds/{}?expand[]=charge",
                first["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(one["charge"]["id"], charge_id.as_str());
    assert_eq!(one["metadata"]["rma"], "7");

    // Updating the metadata: `charge.refund.updated` and `refund.updated`.
    let (status, _) = post(
        &t,
        &format!("/v1/refunds/{}", first["id"].as_str().unwrap()),
        "metadata[rma]=8",
    )
    .await;
    assert_eq!(status, 200);
    let updated = rx.wait_for("charge.refund.updated").await;
    assert!(matches!(
        verify(&updated, SECRET).data.object,
        EventObject::ChargeRefundUpdated(_)
    ));
    rx.wait_for("refund.updated").await;
}

/// Before 2024-10-28.acacia, Stripe sent no `refund.*` event for refunds of a charge.
#[tokio::test]
async fn an_older_account_version_gets_only_the_charge_events() {
    let t = spawn_mock(vec![]).await;
    t.control(
        KEY_A,
        reqwest::Method::POST,
        "/_config/settings",
        "api_version=2023-10-16",
    )
    .await;
    let (_, pi) = post(
        &t,
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true",
    )
    .await;
    let (status, refund) = post(
        &t,
        "/v1/refunds",
        &format!("payment_intent={}", pi["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    post(
        &t,
        &format!("/v1/refunds/{}", refund["id"].as_str().unwrap()),
        "metadata[x]=1",
    )
    .await;
    let kinds = t.event_types(KEY_A).await;
    assert_eq!(&kinds[..2], ["charge.refund.updated", "charge.refunded"]);
    assert!(!kinds.iter().any(|k| k.starts_with("refund.")), "{kinds:?}");
}

#[tokio::test]
async fn refund_errors() {
    let t = spawn_mock(vec![]).await;
    let (status, v) = post(&t, "/v1/refunds", "amount=100").await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "One of the following params should be provided for this request: payment_intent or charge."
    );
    let (status, v) = post(&t, "/v1/refunds", "charge=ch_nope").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (400, &"resource_missing".into())
    );
    let missing = t.get(KEY_A, "/v1/refunds/re_nope").await;
    assert_eq!(missing.status(), 404);
    let (_, held) = post(
        &t,
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
    )
    .await;
    let (status, v) = post(
        &t,
        "/v1/refunds",
        &format!("payment_intent={}", held["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 400, "{v}");
}
