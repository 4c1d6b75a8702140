//! Customers over HTTP, and on Checkout Sessions: given, or made when the session is paid.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{KEY_A, TestMock, spawn_mock};

async fn ok(t: &TestMock, method: Method, path: &str, form: &str) -> Value {
    let (status, v) = t.call(Some(KEY_A), method.clone(), path, form).await;
    assert_eq!(status, 200, "{method} {path} {form}: {v}");
    v
}

#[tokio::test]
async fn create_update_list_delete() {
    let t = spawn_mock(vec![]).await;
    let jenny = ok(
        &t,
        Method::POST,
        "/v1/customers",
        "email=jenny%40example.com&name=Jenny+Rosen&metadata[uid]=7",
    )
    .await;
    let id = jenny["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_"));
    ok(&t, Method::POST, "/v1/customers", "email=sam%40example.com").await;
    let updated = ok(
        &t,
        Method::POST,
        &format!("/v1/customers/{id}"),
        "name=&phone=%2B15555550100",
    )
    .await;
    assert_eq!(updated["name"], Value::Null);
    assert_eq!(updated["phone"], "+15555550100");

    let by_email = ok(
        &t,
        Method::GET,
        "/v1/customers?email=jenny%40example.com",
        "",
    )
    .await;
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["url"], "/v1/customers");

    let deleted = ok(&t, Method::DELETE, &format!("/v1/customers/{id}"), "").await;
    assert_eq!(
        deleted,
        json!({"id": id, "object": "customer", "deleted": true})
    );
    let again = ok(&t, Method::GET, &format!("/v1/customers/{id}"), "").await;
    assert_eq!(again, deleted);
    let all = ok(&t, Method::GET, "/v1/customers", "").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::POST,
            &format!("/v1/customers/{id}"),
            "name=x",
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("resource_missing"))
    );
    let types = t.event_types(KEY_A).await;
    assert_eq!(
        types,
        [
            "customer.deleted",
            "customer.updated",
            "customer.created",
            "customer.created"
        ]
    );
}

#[tokio::test]
async fn sessions_take_a_customer_or_make_one_when_paid() {
    let t = spawn_mock(vec![]).await;
    let session = |extra: &str| {
        format!(
            "mode=payment&success_url=https://shop.test/ok&line_items[0][price_data][currency]=usd\
             &line_items[0][price_data][unit_amount]=1999&line_items[0][price_data][product_data][name]=Tee\
             &line_items[0][quantity]=1&{extra}"
        )
    };
    let (status, v) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/v1/checkout/sessions",
            &session("customer=cus_nope"),
        )
        .await;
    assert_eq!(
        (
            status,
            v["error"]["code"].as_str(),
            v["error"]["param"].as_str()
        ),
        (400, Some("resource_missing"), Some("customer"))
    );

    let made = ok(
        &t,
        Method::POST,
        "/v1/checkout/sessions",
        &session("customer_creation=always"),
    )
    .await;
    let resp = t
        .pay(made["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);
    let id = made["id"].as_str().unwrap();
    let paid = ok(
        &t,
        Method::GET,
        &format!("/v1/checkout/sessions/{id}?expand[]=customer"),
        "",
    )
    .await;
    assert_eq!(paid["customer"]["object"], "customer");
    assert_eq!(paid["customer"]["email"], "buyer@example.com");
    assert_eq!(paid["customer"]["name"], "Jenny Rosen");
    let cus = paid["customer"]["id"].as_str().unwrap().to_string();

    // The Customer can be given to the next session; the list filters by it.
    let next = ok(
        &t,
        Method::POST,
        "/v1/checkout/sessions",
        &session(&format!("customer={cus}")),
    )
    .await;
    assert_eq!(next["customer"], cus.as_str());
    assert_eq!(next["customer_creation"], Value::Null);
    let mine = ok(
        &t,
        Method::GET,
        &format!("/v1/checkout/sessions?customer={cus}"),
        "",
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 2);
    let types = t.event_types(KEY_A).await;
    assert!(types.iter().any(|k| k == "customer.created"), "{types:?}");
}
