//! Checkout Session API over HTTP: create, retrieve, isolation, list, expire, line items.

use serde_json::Value;

use crate::helpers::{KEY_A, KEY_B, SESSION_FORM, spawn_mock};

#[tokio::test]
async fn create_then_retrieve_returns_the_same_session() {
    let t = spawn_mock(vec![]).await;
    let created = t.create_session(KEY_A).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"));
    assert_eq!(created["status"], "open");
    assert_eq!(created["payment_status"], "unpaid");
    assert_eq!(created["amount_total"], 3998);
    assert_eq!(created["url"], format!("{}/c/pay/{id}", t.base));
    assert_eq!(
        created["success_url"],
        "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(created["payment_intent"], Value::Null);

    let fetched = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(fetched, created);
    // SDKs percent-encode ids in paths: an escaped id is the same id.
    let escaped = id.replacen('_', "%5F", 2);
    let fetched = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{escaped}"))
        .await;
    assert_eq!(fetched["id"], id);
}

#[tokio::test]
async fn keys_never_see_each_others_sessions() {
    let t = spawn_mock(vec![]).await;
    let created = t.create_session(KEY_A).await;
    let id = created["id"].as_str().unwrap();

    let resp = t.get(KEY_B, &format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "resource_missing");
    assert_eq!(v["error"]["param"], "session");
    assert_eq!(
        v["error"]["message"],
        format!("No such checkout.session: '{id}'")
    );

    let list_b = t.get_json(KEY_B, "/v1/checkout/sessions").await;
    assert_eq!(list_b["data"].as_array().unwrap().len(), 0);
    let resp = t
        .post(KEY_B, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;
    assert_eq!(resp.status(), 404);
    // Still open for its owner.
    let mine = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
        .await;
    assert_eq!(mine["status"], "open");
}

#[tokio::test]
async fn validation_errors_come_back_with_param_and_code() {
    let t = spawn_mock(vec![]).await;
    let resp = t
        .post(
            KEY_A,
            "/v1/checkout/sessions",
            &SESSION_FORM.replace("mode=payment", ""),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "parameter_missing");
    assert_eq!(v["error"]["param"], "mode");
    assert_eq!(
        v["error"]["doc_url"],
        "https://stripe.com/docs/error-codes/parameter-missing"
    );

    let resp = t
        .post(
            KEY_A,
            "/v1/checkout/sessions",
            &format!("{SESSION_FORM}&line_items[0][foo]=1"),
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "parameter_unknown");
    assert_eq!(v["error"]["param"], "line_items[0][foo]");
}

#[tokio::test]
async fn legacy_line_items_depend_on_the_version_in_use() {
    let t = spawn_mock(vec![]).await;
    let legacy = "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Book\
        &line_items[0][amount]=2900&line_items[0][currency]=usd&line_items[0][quantity]=1";
    let with_version = |v: &'static str| {
        t.http
            .post(t.url("/v1/checkout/sessions"))
            .bearer_auth(KEY_A)
            .header("stripe-version", v)
            .body(legacy)
            .send()
    };

    // The account's default is the latest version: refused, with Stripe's message and the
    // mock's hint.
    let resp = t.post(KEY_A, "/v1/checkout/sessions", legacy).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("You cannot use `line_items.amount`, `line_items.currency`, `line_items.name`, `line_items.description`, or `line_items.images` in this API version.")
            && message.contains("--api-version 2020-08-27"),
        "{message}"
    );
    let resp = with_version("2023-10-16").await.unwrap();
    assert_eq!(resp.status(), 400);

    // An old version in the header: accepted, with the old behaviour.
    let resp = with_version("2020-08-27").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["stripe-version"], "2020-08-27");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["amount_total"], 2900);
    assert_eq!(v["ui_mode"], "hosted");
    assert!(v["payment_intent"].as_str().unwrap().starts_with("pi_"));

    // An old default for the account: accepted without a header.
    let resp = t
        .post(KEY_A, "/_config/settings", "api_version=2020-08-27")
        .await;
    assert_eq!(resp.status(), 200);
    let resp = t.post(KEY_A, "/v1/checkout/sessions", legacy).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["stripe-version"], "2020-08-27");
}

#[tokio::test]
async fn list_is_newest_first_with_cursors_and_status_filter() {
    let t = spawn_mock(vec![]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            t.create_session(KEY_A).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let page = t.get_json(KEY_A, "/v1/checkout/sessions?limit=2").await;
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["url"], "/v1/checkout/sessions");
    let next = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions?limit=2&starting_after={}", ids[1]),
        )
        .await;
    assert_eq!(next["data"][0]["id"], ids[0].as_str());
    assert_eq!(next["has_more"], false);
    let prev = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions?ending_before={}", ids[0]),
        )
        .await;
    assert_eq!(prev["data"].as_array().unwrap().len(), 2);
    assert_eq!(prev["data"][0]["id"], ids[2].as_str());

    t.post(
        KEY_A,
        &format!("/v1/checkout/sessions/{}/expire", ids[1]),
        "",
    )
    .await;
    let expired = t
        .get_json(KEY_A, "/v1/checkout/sessions?status=expired")
        .await;
    assert_eq!(expired["data"].as_array().unwrap().len(), 1);
    assert_eq!(expired["data"][0]["id"], ids[1].as_str());
}

#[tokio::test]
async fn expire_closes_the_session_once() {
    let t = spawn_mock(vec![]).await;
    let id = t.create_session(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = t
        .post(KEY_A, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "expired");
    assert_eq!(v["url"], Value::Null);

    let resp = t
        .post(KEY_A, &format!("/v1/checkout/sessions/{id}/expire"), "")
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
    );
    assert_eq!(t.event_types(KEY_A).await, ["checkout.session.expired"]);

    // The page says so instead of offering a form.
    let page = t
        .http
        .get(t.url(&format!("/c/pay/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 410);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("This Checkout Session is no longer available")
    );
}

#[tokio::test]
async fn line_items_list_and_expand() {
    let t = spawn_mock(vec![]).await;
    let id = t.create_session(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let items = t
        .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}/line_items"))
        .await;
    assert_eq!(items["object"], "list");
    assert_eq!(
        items["url"],
        format!("/v1/checkout/sessions/{id}/line_items")
    );
    let item = &items["data"][0];
    assert!(item["id"].as_str().unwrap().starts_with("li_"));
    assert_eq!(item["object"], "item");
    assert_eq!(item["description"], "T-shirt & cap");
    assert_eq!(item["quantity"], 2);
    assert_eq!(item["amount_total"], 3998);
    assert_eq!(item["price"]["object"], "price");
    assert_eq!(item["price"]["unit_amount"], 1999);
    assert!(
        item["price"]["product"]
            .as_str()
            .unwrap()
            .starts_with("prod_")
    );

    let expanded = t
        .get_json(
            KEY_A,
            &format!("/v1/checkout/sessions/{id}?expand[]=line_items"),
        )
        .await;
    assert_eq!(expanded["line_items"]["data"][0]["id"], item["id"]);
    let resp = t
        .get(KEY_A, &format!("/v1/checkout/sessions/{id}?expand[]=nope"))
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn metadata_update_merges_and_deletes() {
    let t = spawn_mock(vec![]).await;
    let form = format!("{SESSION_FORM}&metadata[a]=1&metadata[b]=2");
    let id = t
        .post(KEY_A, "/v1/checkout/sessions", &form)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = t
        .post(
            KEY_A,
            &format!("/v1/checkout/sessions/{id}"),
            "metadata[a]=&metadata[c]=3",
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["metadata"], serde_json::json!({"b": "2", "c": "3"}));
    let resp = t
        .post(
            KEY_A,
            &format!("/v1/checkout/sessions/{id}"),
            "success_url=https://x.test/",
        )
        .await;
    assert_eq!(resp.status(), 400);
}

/// Answers are served from a cache of recently rendered JSON: every read after a change
/// (update, payment, expiry, a clock moving past `expires_at`) shows the change, in
/// retrieve and in list alike, and each API version gets its own rendering.
#[tokio::test]
async fn reads_after_every_kind_of_change_show_the_change() {
    let t = spawn_mock(vec![]).await;
    let read = |id: String| {
        let t = &t;
        async move {
            let one = t
                .get_json(KEY_A, &format!("/v1/checkout/sessions/{id}"))
                .await;
            let list = t.get_json(KEY_A, "/v1/checkout/sessions?limit=100").await;
            let listed = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == id.as_str())
                .cloned()
                .unwrap();
            assert_eq!(listed, one, "list and retrieve agree");
            one
        }
    };
    let paid = t.session_id(KEY_A).await;
    let expired = t.session_id(KEY_A).await;
    let timed_out = t.session_id(KEY_A).await;
    for id in [&paid, &expired, &timed_out] {
        assert_eq!(read(id.clone()).await["status"], "open");
    }

    let resp = t
        .post(
            KEY_A,
            &format!("/v1/checkout/sessions/{paid}"),
            "metadata[note]=changed",
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(read(paid.clone()).await["metadata"]["note"], "changed");

    let (status, _) = t.complete(KEY_A, &paid, "").await;
    assert_eq!(status, 200);
    let after = read(paid.clone()).await;
    assert_eq!(after["status"], "complete");
    assert_eq!(after["payment_status"], "paid");

    t.expire(KEY_A, &expired).await;
    assert_eq!(read(expired.clone()).await["status"], "expired");

    t.pin_clock(KEY_A, 4_000_000_000).await;
    assert_eq!(read(timed_out.clone()).await["status"], "expired");

    // Another version, another rendering: the legacy shape before 2022-08-01.
    let resp = t
        .http
        .get(t.url(&format!("/v1/checkout/sessions/{paid}")))
        .bearer_auth(KEY_A)
        .header("Stripe-Version", "2020-08-27")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let old: Value = resp.json().await.unwrap();
    assert_eq!(old["id"], paid.as_str());
    assert_ne!(old, read(paid.clone()).await, "versions render differently");
}
