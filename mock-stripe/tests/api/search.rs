//! The search endpoints over HTTP: Stripe's query language, `search_result` pages followed
//! by `next_page`, and `GET /v1/payment_intents/search` no longer read as the id `search`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, TestMock, spawn_mock};

async fn search(t: &TestMock, path: &str, query: &str, extra: &str) -> (u16, Value) {
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .finish();
    t.call(Some(KEY_A), Method::GET, &format!("{path}?{q}{extra}"), "")
        .await
}

#[tokio::test]
async fn customers_search_pages_with_next_page() {
    let t = spawn_mock(vec![]).await;
    for i in 0..5 {
        let (status, _) = t
            .call(
                Some(KEY_A),
                Method::POST,
                "/v1/customers",
                &format!(
                    "email=buyer{i}%40example.com&name=Buyer+{i}&metadata[tier]={}",
                    if i % 2 == 0 { "gold" } else { "silver" }
                ),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, page) = search(
        &t,
        "/v1/customers/search",
        "metadata['tier']:'gold'",
        "&limit=2",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["object"], "search_result");
    assert_eq!(page["url"], "/v1/customers/search");
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["email"], "buyer4@example.com");
    let next = page["next_page"].as_str().unwrap();
    let (_, rest) = search(
        &t,
        "/v1/customers/search",
        "metadata['tier']:'gold'",
        &format!("&limit=2&page={next}"),
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["email"], "buyer0@example.com");
    assert_eq!(
        (rest["has_more"].clone(), rest["next_page"].clone()),
        (false.into(), Value::Null)
    );

    let (_, v) = search(
        &t,
        "/v1/customers/search",
        "email~'buyer3' OR name:'buyer 1'",
        "",
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (status, e) = search(
        &t,
        "/v1/customers/search",
        "email:'a' AND name:'b' OR name:'c'",
        "",
    )
    .await;
    assert_eq!((status, e["error"]["param"].as_str()), (400, Some("query")));
    let (status, e) = search(&t, "/v1/customers/search", "planet:'mars'", "").await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unsupported search field")
    );
    let (status, e) = t
        .call(Some(KEY_A), Method::GET, "/v1/customers/search", "")
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("parameter_missing"))
    );
    let (status, _) = t
        .call(
            Some(KEY_B),
            Method::GET,
            "/v1/customers/search?query=email%3A%27buyer0%40example.com%27",
            "",
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn payment_intents_search_is_a_search_not_a_retrieve() {
    let t = spawn_mock(vec![]).await;
    let session = t.create_session(KEY_A).await;
    let resp = t
        .pay(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);
    let (status, v) = search(
        &t,
        "/v1/payment_intents/search",
        "status:'succeeded' AND amount>1000",
        "",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "search_result");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["amount"], 3998);
    let (_, v) = search(&t, "/v1/payment_intents/search", "-currency:'usd'", "").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn products_and_prices_search() {
    let t = spawn_mock(vec![]).await;
    let (_, book) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/v1/products",
            "name=Blue+Book&metadata[shelf]=A1",
        )
        .await;
    let book = book["id"].as_str().unwrap();
    t.call(
        Some(KEY_A),
        Method::POST,
        "/v1/products",
        "name=Mug&active=false",
    )
    .await;
    t.call(
        Some(KEY_A),
        Method::POST,
        "/v1/prices",
        &format!("product={book}&unit_amount=1500&currency=usd&lookup_key=blue_book"),
    )
    .await;
    let (_, v) = search(
        &t,
        "/v1/products/search",
        "active:'true' AND name~'book'",
        "",
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["url"], "/v1/products/search");
    let (_, v) = search(
        &t,
        "/v1/prices/search",
        &format!("product:'{book}' lookup_key:'blue_book'"),
        "&expand[]=total_count",
    )
    .await;
    assert_eq!(v["data"][0]["unit_amount"], 1500);
    assert_eq!(v["total_count"], 1);
}
