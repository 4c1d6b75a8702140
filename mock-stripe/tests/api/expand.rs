//! `expand[]` (contract §1.10) and list pagination (§1.9) over HTTP.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn paid_session(t: &TestMock) -> String {
    let s = t.create_session(KEY_A).await;
    let id = s["id"].as_str().unwrap().to_string();
    t.control(
        KEY_A,
        Method::POST,
        &format!("/_config/checkout/sessions/{id}/complete"),
        "",
    )
    .await;
    id
}

#[tokio::test]
async fn nested_paths_expand_across_resources() {
    let t = spawn_mock(vec![]).await;
    let id = paid_session(&t).await;
    let resp = t
        .get(
            KEY_A,
            &format!(
                "/v1/checkout/sessions/{id}?expand[]=payment_intent.latest_charge&expand[]=line_items.data.price.product"
            ),
        )
        .await;
    let text = resp.text().await.unwrap();
    let compact: String = text.split_whitespace().collect();
    assert!(
        compact.starts_with(r#"{"id":"cs_test_"#)
            && compact.contains(r#""payment_intent":{"id":"pi_"#),
        "id first, as Stripe: {compact:.80}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["payment_intent"]["object"], "payment_intent");
    assert_eq!(v["payment_intent"]["latest_charge"]["object"], "charge");
    assert_eq!(v["payment_intent"]["latest_charge"]["amount"], 3998);
    assert_eq!(
        v["line_items"]["data"][0]["price"]["product"]["object"],
        "product"
    );
    // A charge expands back to its PaymentIntent (4 levels is the limit, and allowed).
    let v = t
        .get_json(
            KEY_A,
            &format!(
                "/v1/checkout/sessions/{id}?expand[]=payment_intent.latest_charge.payment_intent"
            ),
        )
        .await;
    assert_eq!(
        v["payment_intent"]["latest_charge"]["payment_intent"]["object"],
        "payment_intent"
    );
    // Unmodelled links expand to what they are: null.
    let v = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions/{id}?expand[]=invoice&expand[]=customer"),
        )
        .await;
    assert_eq!(v["invoice"], Value::Null);
    // Without expand the ids stay ids.
    let v = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert!(v["payment_intent"].is_string());
    assert!(v.get("line_items").is_none());
}

#[tokio::test]
async fn lists_expand_with_data_and_refuse_without_it() {
    let t = spawn_mock(vec![]).await;
    paid_session(&t).await;
    let v = t
        .get_json(
            KEY_A,
            "/v1/checkout/sessions?expand[]=data.payment_intent.latest_charge&expand[]=data.line_items",
        )
        .await;
    assert_eq!(
        v["data"][0]["payment_intent"]["latest_charge"]["object"],
        "charge"
    );
    assert_eq!(v["data"][0]["line_items"]["object"], "list");

    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::GET,
            "/v1/checkout/sessions?expand[]=payment_intent",
            "",
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "This property cannot be expanded (payment_intent). You may want to try expanding 'data.payment_intent' instead."
    );
    assert_eq!(v["error"]["param"], "expand");
    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::GET,
            "/v1/checkout/sessions?expand[]=data.line_items.data.price.product",
            "",
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "property_expansion_max_depth");
}

#[tokio::test]
async fn expanding_what_stripe_does_not_allow_is_a_400_before_anything_happens() {
    let t = spawn_mock(vec![]).await;
    for path in [
        "url",
        "payment_intent.nope",
        "line_items.data.price",
        "metadata",
    ] {
        let (status, v) = t
            .call(
                Some(KEY_A),
                Method::POST,
                "/v1/checkout/sessions",
                &format!("{SESSION_FORM}&expand[]={path}"),
            )
            .await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(
            v["error"]["message"],
            format!("This property cannot be expanded ({path}).")
        );
    }
    let listed = t.get_json(KEY_A, "/v1/checkout/sessions").await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let (status, _) = t
        .call(
            Some(KEY_A),
            Method::GET,
            "/v1/events?expand[]=data.request",
            "",
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn pages_stay_consistent_while_new_objects_arrive() {
    let t = spawn_mock(vec![]).await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(
            t.create_session(KEY_A).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // Walk forward two at a time; every step inserts a new session (newer than everything).
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/checkout/sessions?limit=2&starting_after={c}"),
            None => "/v1/checkout/sessions?limit=2".to_string(),
        };
        let page = t.get_json(KEY_A, &path).await;
        t.create_session(KEY_A).await;
        let ids: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        seen.extend(ids.iter().cloned());
        if page["has_more"] == false {
            break;
        }
        cursor = ids.last().cloned();
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "no gaps, no repeats, newest first");

    // Backwards from the oldest: `ending_before` pages are newest first too, and see the
    // sessions created meanwhile.
    let page = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions?limit=3&ending_before={}", created[0]),
        )
        .await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            created[3].as_str(),
            created[2].as_str(),
            created[1].as_str()
        ]
    );
    assert_eq!(page["has_more"], true);
}
