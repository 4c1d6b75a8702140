//! Products, Prices, Coupons and Promotion Codes over HTTP, and Checkout Sessions made of
//! them: a price id in `line_items`, discounts applied to what the shopper pays.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, TestMock, column, spawn_mock};

async fn ok(t: &TestMock, method: Method, path: &str, form: &str) -> Value {
    let (status, v) = t.call(Some(KEY_A), method.clone(), path, form).await;
    assert_eq!(status, 200, "{method} {path} {form}: {v}");
    v
}

async fn err(t: &TestMock, method: Method, path: &str, form: &str) -> (u16, Value) {
    let (status, v) = t.call(Some(KEY_A), method, path, form).await;
    assert!(status >= 400, "{path} {form}: {v}");
    (status, v["error"].clone())
}

#[tokio::test]
async fn products_and_prices_round_trip_with_filters_and_pages() {
    let t = spawn_mock(vec![]).await;
    let book = ok(
        &t,
        Method::POST,
        "/v1/products",
        "name=Book&metadata[sku]=B1",
    )
    .await;
    let book = book["id"].as_str().unwrap().to_string();
    assert!(book.starts_with("prod_"));
    let mut price_ids = Vec::new();
    for (amount, key) in [
        (1500, "book_std"),
        (2500, "book_deluxe"),
        (900, "book_pocket"),
    ] {
        let p = ok(
            &t,
            Method::POST,
            "/v1/prices",
            &format!("product={book}&unit_amount={amount}&currency=usd&lookup_key={key}"),
        )
        .await;
        price_ids.push(p["id"].as_str().unwrap().to_string());
    }
    let club = ok(
        &t,
        Method::POST,
        "/v1/prices",
        "product_data[name]=Club&unit_amount=900&currency=eur&recurring[interval]=year",
    )
    .await;
    assert_eq!(club["type"], "recurring");
    assert_eq!(club["recurring"]["interval"], "year");

    // Newest first; `starting_after` seeks through the table.
    let page = ok(&t, Method::GET, "/v1/prices?limit=2", "").await;
    assert_eq!(page["data"][0]["id"], club["id"]);
    assert_eq!(page["has_more"], true);
    let last = page["data"][1]["id"].as_str().unwrap();
    let next = ok(
        &t,
        Method::GET,
        &format!("/v1/prices?limit=2&starting_after={last}"),
        "",
    )
    .await;
    assert_eq!(
        column(&next, "id"),
        vec![
            Value::from(price_ids[1].clone()),
            Value::from(price_ids[0].clone())
        ]
    );
    assert_eq!(next["has_more"], false);

    let mine = ok(
        &t,
        Method::GET,
        &format!("/v1/prices?product={book}&type=one_time"),
        "",
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 3);
    let by_key = ok(
        &t,
        Method::GET,
        "/v1/prices?lookup_keys[]=book_std&lookup_keys[]=book_pocket&expand[]=data.product",
        "",
    )
    .await;
    assert_eq!(
        column(&by_key, "unit_amount"),
        vec![Value::from(900), Value::from(1500)]
    );
    assert_eq!(by_key["data"][0]["product"]["name"], "Book");

    // Moving a lookup key.
    let (status, e) = err(
        &t,
        Method::POST,
        "/v1/prices",
        &format!("product={book}&unit_amount=1600&currency=usd&lookup_key=book_std"),
    )
    .await;
    assert_eq!((status, e["param"].as_str()), (400, Some("lookup_key")));
    let moved = ok(
        &t,
        Method::POST,
        "/v1/prices",
        &format!(
            "product={book}&unit_amount=1600&currency=usd&lookup_key=book_std&transfer_lookup_key=true"
        ),
    )
    .await;
    let old = ok(&t, Method::GET, &format!("/v1/prices/{}", price_ids[0]), "").await;
    assert_eq!(old["lookup_key"], Value::Null);
    assert_eq!(moved["lookup_key"], "book_std");

    // Update, archive, expand.
    let archived = ok(
        &t,
        Method::POST,
        &format!("/v1/products/{book}"),
        &format!("default_price={}&description=Hardback", price_ids[1]),
    )
    .await;
    assert_eq!(archived["default_price"], price_ids[1].as_str());
    let expanded = ok(
        &t,
        Method::GET,
        &format!("/v1/products/{book}?expand[]=default_price"),
        "",
    )
    .await;
    assert_eq!(expanded["default_price"]["unit_amount"], 2500);
    let active = ok(&t, Method::GET, "/v1/products?active=true", "").await;
    assert_eq!(active["data"].as_array().unwrap().len(), 2);

    // Another key sees none of it.
    let (status, _) = t
        .call(
            Some(KEY_B),
            Method::GET,
            &format!("/v1/products/{book}"),
            "",
        )
        .await;
    assert_eq!(status, 404);
    let types = t.event_types(KEY_A).await;
    for kind in [
        "product.created",
        "price.created",
        "price.updated",
        "product.updated",
    ] {
        assert!(types.iter().any(|k| k == kind), "{kind}: {types:?}");
    }
}

#[tokio::test]
async fn a_session_of_prices_with_a_promotion_code_charges_the_discounted_total() {
    let t = spawn_mock(vec![]).await;
    let book = ok(&t, Method::POST, "/v1/products", "name=Book").await;
    let book = book["id"].as_str().unwrap();
    let price = ok(
        &t,
        Method::POST,
        "/v1/prices",
        &format!("product={book}&unit_amount=1500&currency=usd"),
    )
    .await;
    let price = price["id"].as_str().unwrap();
    let coupon = ok(
        &t,
        Method::POST,
        "/v1/coupons",
        "percent_off=20&name=Spring",
    )
    .await;
    assert_eq!(coupon["percent_off"], 20.0);
    let promo = ok(
        &t,
        Method::POST,
        "/v1/promotion_codes",
        &format!(
            "promotion[type]=coupon&promotion[coupon]={}&code=SPRING20",
            coupon["id"].as_str().unwrap()
        ),
    )
    .await;
    let listed = ok(&t, Method::GET, "/v1/promotion_codes?code=SPRING20", "").await;
    assert_eq!(listed["data"][0]["id"], promo["id"]);
    let session = ok(
        &t,
        Method::POST,
        "/v1/checkout/sessions",
        &format!(
            "mode=payment&success_url=https://shop.test/ok&line_items[0][price]={price}\
             &line_items[0][quantity]=3&discounts[0][promotion_code]={}&expand[]=line_items",
            promo["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(session["amount_subtotal"], 4500);
    assert_eq!(session["total_details"]["amount_discount"], 900);
    assert_eq!(session["amount_total"], 3600);
    assert_eq!(session["line_items"]["data"][0]["amount_discount"], 900);
    assert_eq!(session["line_items"]["data"][0]["price"]["id"], price);

    let resp = t
        .pay(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);
    let id = session["id"].as_str().unwrap();
    let paid = ok(
        &t,
        Method::GET,
        &format!("/v1/checkout/sessions/{id}?expand[]=payment_intent"),
        "",
    )
    .await;
    assert_eq!(paid["payment_intent"]["amount"], 3600);
    let promo = ok(
        &t,
        Method::GET,
        &format!("/v1/promotion_codes/{}", promo["id"].as_str().unwrap()),
        "",
    )
    .await;
    assert_eq!(promo["times_redeemed"], 1);
    let coupon = ok(
        &t,
        Method::GET,
        &format!("/v1/coupons/{}", coupon["id"].as_str().unwrap()),
        "",
    )
    .await;
    assert_eq!(coupon["times_redeemed"], 1);
}

#[tokio::test]
async fn sessions_refuse_archived_prices_and_subscriptions() {
    let t = spawn_mock(vec![]).await;
    let price = ok(
        &t,
        Method::POST,
        "/v1/prices",
        "product_data[name]=Old&unit_amount=1500&currency=usd",
    )
    .await;
    let price = price["id"].as_str().unwrap();
    ok(
        &t,
        Method::POST,
        &format!("/v1/prices/{price}"),
        "active=false",
    )
    .await;
    let (status, e) = err(
        &t,
        Method::POST,
        "/v1/checkout/sessions",
        &format!("mode=payment&success_url=https://shop.test/ok&line_items[0][price]={price}&line_items[0][quantity]=1"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["param"], "line_items[0][price]");
    assert_eq!(
        e["message"],
        "The price specified is inactive. This field only accepts active prices."
    );
    let (status, e) = err(
        &t,
        Method::POST,
        "/v1/checkout/sessions",
        &format!("mode=subscription&success_url=https://shop.test/ok&line_items[0][price]={price}&line_items[0][quantity]=1"),
    )
    .await;
    assert_eq!((status, e["param"].as_str()), (400, Some("mode")));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("does not simulate subscriptions")
    );
    let (status, e) = err(&t, Method::GET, "/v1/coupons/NOPE", "").await;
    assert_eq!(
        (status, e["code"].as_str()),
        (404, Some("resource_missing"))
    );
}
