//! Connect: `Stripe-Account: acct_…` acts on a connected account of the key's account, with
//! its own objects, events and endpoints; the platform's Connect endpoints get its events.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const SELLER: &str = "acct_1SellerOne";
const OTHER_SELLER: &str = "acct_1SellerTwo";

impl Api {
    async fn as_seller(
        &self,
        method: Method,
        account: &str,
        path: &str,
        form: &str,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(KEY_A)
            .header("stripe-account", account);
        if !form.is_empty() {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_string());
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_connected_account_has_its_own_objects() {
    let t = spawn_mock(vec![]).await;
    let (status, seller_session) = t
        .as_seller(Method::POST, SELLER, "/v1/checkout/sessions", SESSION_FORM)
        .await;
    assert_eq!(status, 200, "{seller_session}");
    let id = seller_session["id"].as_str().unwrap();
    let path = format!("/v1/checkout/sessions/{id}");

    // The seller sees it; the platform itself and another seller do not.
    let (status, _) = t.as_seller(Method::GET, SELLER, &path, "").await;
    assert_eq!(status, 200);
    assert_eq!(t.get(KEY_A, &path).await.status(), 404);
    let (status, _) = t.as_seller(Method::GET, OTHER_SELLER, &path, "").await;
    assert_eq!(status, 404);
    let platform = t.get_json(KEY_A, "/v1/checkout/sessions").await;
    assert_eq!(platform["data"].as_array().unwrap().len(), 0);
    let (_, listed) = t
        .as_seller(Method::GET, SELLER, "/v1/checkout/sessions", "")
        .await;
    assert_eq!(listed["data"][0]["id"], id);

    // Another key naming the same acct id reaches another account (accounts are per key).
    let resp = t
        .http
        .get(t.url(&path))
        .bearer_auth(KEY_B)
        .header("stripe-account", SELLER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_malformed_stripe_account_is_refused_as_stripe_does() {
    let t = spawn_mock(vec![]).await;
    for bad in [
        "cus_123",
        "acct_",
        "acct_has-dash",
        &format!("acct_{}", "x".repeat(300)),
    ] {
        let (status, v) = t
            .as_seller(Method::GET, bad, "/v1/checkout/sessions", "")
            .await;
        assert_eq!(status, 403, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "account_invalid");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("The provided key 'sk_test_****1234' does not have access to account"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn connected_events_go_to_the_platforms_connect_endpoints_with_their_account() {
    let mut platform_hook = Receiver::start().await;
    let mut connect_hook = Receiver::start().await;
    let mut seller_hook = Receiver::start().await;
    let mut forward = Receiver::start().await;
    let t = spawn_mock(vec![forward.target()]).await;
    let create =
        |url: &str, connect: bool| format!("url={url}&enabled_events[]=*&connect={connect}");
    let (status, _) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/v1/webhook_endpoints",
            &create(&platform_hook.url, false),
        )
        .await;
    assert_eq!(status, 200);
    let (status, connect_ep) = t
        .call(
            Some(KEY_A),
            Method::POST,
            "/v1/webhook_endpoints",
            &create(&connect_hook.url, true),
        )
        .await;
    assert_eq!(status, 200);
    // The seller's own endpoint, registered through the platform with Stripe-Account.
    let (status, seller_ep) = t
        .as_seller(
            Method::POST,
            SELLER,
            "/v1/webhook_endpoints",
            &create(&seller_hook.url, false),
        )
        .await;
    assert_eq!(status, 200);

    let (_, session) = t
        .as_seller(Method::POST, SELLER, "/v1/checkout/sessions", SESSION_FORM)
        .await;
    // The shopper pays on the hosted page, which finds the session without a key.
    let resp = t
        .pay(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(resp.status(), 303);

    let via_connect = connect_hook.wait_for("checkout.session.completed").await;
    let event = via_connect.json();
    assert_eq!(event["account"], SELLER);
    assert_eq!(event["data"]["object"]["id"], session["id"]);
    verify(&via_connect, connect_ep["secret"].as_str().unwrap());
    let own = seller_hook.wait_for("checkout.session.completed").await;
    assert_eq!(own.json()["id"], event["id"]);
    verify(&own, seller_ep["secret"].as_str().unwrap());
    // `stripe listen --forward-to` forwards Connect events too.
    let forwarded = forward.wait_for("checkout.session.completed").await;
    assert_eq!(forwarded.json()["account"], SELLER);

    // The platform's own endpoint gets only the platform's events.
    let platform_session = t.create_session(KEY_A).await;
    t.pay(
        platform_session["url"].as_str().unwrap(),
        "4242424242424242",
    )
    .await;
    let mine = platform_hook.wait_for("checkout.session.completed").await;
    let mine = mine.json();
    assert_eq!(mine["data"]["object"]["id"], platform_session["id"]);
    assert!(mine.get("account").is_none(), "{mine}");
    for r in platform_hook.drain() {
        assert!(r.json().get("account").is_none(), "{}", r.body);
    }

    // Events are listed per account.
    let (_, seller_events) = t.as_seller(Method::GET, SELLER, "/v1/events", "").await;
    assert!(
        seller_events["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["account"] == SELLER)
    );
    let platform_events = t.get_json(KEY_A, "/v1/events?limit=100").await;
    assert!(
        platform_events["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("account").is_none())
    );
}

#[tokio::test]
async fn control_calls_take_stripe_account_too() {
    let t = spawn_mock(vec![]).await;
    let (_, session) = t
        .as_seller(Method::POST, SELLER, "/v1/checkout/sessions", SESSION_FORM)
        .await;
    let id = session["id"].as_str().unwrap();
    let (status, done) = t
        .as_seller(
            Method::POST,
            SELLER,
            &format!("/_config/checkout/sessions/{id}/complete"),
            "",
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let (_, got) = t
        .as_seller(
            Method::GET,
            SELLER,
            &format!("/v1/checkout/sessions/{id}"),
            "",
        )
        .await;
    assert_eq!(got["status"], "complete");
    // The connected account starts with its platform's settings.
    t.control(
        KEY_A,
        Method::POST,
        "/_config/settings",
        "api_version=2020-08-27",
    )
    .await;
    let (_, v) = t
        .as_seller(Method::GET, OTHER_SELLER, "/_config/settings", "")
        .await;
    assert_eq!(v["api_version"], "2020-08-27");
}
