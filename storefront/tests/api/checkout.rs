use reqwest::StatusCode;
use serde_json::json;
use storefront::orders::OrderStatus;

use crate::helpers::{
    BUYER_EMAIL, FakeStripe, browser, completed_event, hidden_input, location, spawn_app,
    spawn_app_with_stripe,
};

const SESSION_URL: &str = "https://checkout.stripe.test/c/pay/cs_test_fake_1";

/// What Stripe answers to a create: an open, unpaid session with a `url`.
fn open_session() -> serde_json::Value {
    json!({
        "id": "cs_test_fake_1",
        "object": "checkout.session",
        "amount_subtotal": 2900,
        "amount_total": 2900,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "expires_at": 1_700_086_400,
        "livemode": false,
        "metadata": {},
        "mode": "payment",
        "payment_intent": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "url": SESSION_URL
    })
}

#[tokio::test]
async fn buy_without_a_csrf_token_is_refused_and_records_nothing() {
    let stripe = FakeStripe::start(200, open_session()).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let _ = app.csrf_token(1).await; // a session cookie exists, but no token is sent

    for form in [
        &[][..],
        &[("csrf_token", "")][..],
        &[("csrf_token", "forged")][..],
    ] {
        let response = app.post_buy(1, form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "form {form:?}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("Your session expired, reload the page and try again"),
            "{html}"
        );
    }
    assert!(app.orders().await.is_empty());
    assert!(stripe.received().is_empty(), "Stripe must not be called");
}

/// Two browsers (two cookie jars) on ONE shop: a token is bound to the browser it was
/// issued to, not merely to the shop's key, so Bob's token is useless in Alice's browser
/// (as it would be in an attacker's page submitting Alice's browser).
#[tokio::test]
async fn a_token_from_another_browser_is_refused() {
    let mut second = open_session();
    second["id"] = "cs_test_fake_2".into();
    let stripe = FakeStripe::scripted(vec![(200, open_session()), (200, second)]).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let (alice, bob) = (browser(), browser());
    let page = |client: reqwest::Client| {
        let url = app.url("/products/1");
        async move {
            let html = client.get(url).send().await.unwrap().text().await.unwrap();
            hidden_input(&html, "csrf_token").unwrap()
        }
    };
    let bobs_token = page(bob.clone()).await;
    let alices_token = page(alice.clone()).await;
    assert_ne!(alices_token, bobs_token);
    let buy = |client: &reqwest::Client, token: &str| {
        client
            .post(app.url("/products/1/buy"))
            .form(&[("csrf_token", token)])
            .send()
    };

    let response = buy(&alice, &bobs_token).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(app.orders().await.is_empty());
    assert!(stripe.received().is_empty(), "Stripe must not be called");

    // Each browser's own token works, on the same shop.
    for (client, token) in [(&bob, &bobs_token), (&alice, &alices_token)] {
        let response = buy(client, token).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.orders().await.len(), 2);
}

#[tokio::test]
async fn buy_creates_a_pending_order_then_a_session_and_redirects_to_it() {
    let stripe = FakeStripe::start(200, open_session()).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;

    let response = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), SESSION_URL);

    let orders = app.orders().await;
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.product_id, 1);
    assert_eq!(order.amount_cents, 2900);
    assert_eq!(order.checkout_session_id.as_deref(), Some("cs_test_fake_1"));
    assert!(
        storefront::orders::paid_orders(&app.db)
            .await
            .unwrap()
            .is_empty()
    );

    let requests = stripe.received();
    assert_eq!(requests.len(), 1);
    let (request_line, body) = &requests[0];
    assert_eq!(request_line, "POST /v1/checkout/sessions");
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["mode"], "payment");
    assert_eq!(form["client_reference_id"], "1");
    assert_eq!(form["metadata[order_id]"], order.id.to_string());
    assert_eq!(form["metadata[product_id]"], "1");
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "2900");
    assert_eq!(form["line_items[0][price_data][currency]"], "usd");
    assert_eq!(
        form["line_items[0][price_data][product_data][name]"],
        "Sourdough Masterclass"
    );
    assert_eq!(form["line_items[0][quantity]"], "1");
    // The placeholder arrives with its braces, for Stripe to fill in.
    assert_eq!(
        form["success_url"],
        format!(
            "{}/products/1/post_checkout?status=success&session_id={{CHECKOUT_SESSION_ID}}",
            app.base_url
        )
    );
    assert_eq!(
        form["cancel_url"],
        format!(
            "{}/products/1/post_checkout?status=cancel&session_id={{CHECKOUT_SESSION_ID}}",
            app.base_url
        )
    );
    assert!(!body.contains("%7B"), "braces were percent-encoded: {body}");
}

#[tokio::test]
async fn a_product_without_price_cannot_be_bought() {
    let stripe = FakeStripe::start(200, open_session()).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;
    let response = app.post_buy(5, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Upcoming: Pasta From Scratch can&#39;t be bought yet: it has no price."),
        "{html}"
    );
    assert!(app.orders().await.is_empty());
    assert!(stripe.received().is_empty());
}

#[tokio::test]
async fn buying_an_unknown_product_is_a_404() {
    let app = spawn_app().await;
    let token = app.csrf_token(1).await;
    for id in ["999", "abc"] {
        let response = app
            .client
            .post(app.url(&format!("/products/{id}/buy")))
            .form(&[("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
    }
    assert!(app.orders().await.is_empty());
}

#[tokio::test]
async fn stripe_unreachable_shows_502_and_leaves_the_order_pending() {
    let app = spawn_app().await; // nothing listens at its STRIPE_API_BASE
    let token = app.csrf_token(2).await;
    let response = app.post_buy(2, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("We couldn&#39;t reach the payment provider, please try again"),
        "{html}"
    );

    let orders = app.orders().await;
    assert_eq!(
        orders.len(),
        1,
        "the pending order stays, as a record of the attempt"
    );
    assert_eq!(orders[0].status, "pending");
    assert_eq!(orders[0].checkout_session_id, None);
}

#[tokio::test]
async fn a_stripe_error_answer_is_a_502_too() {
    let stripe = FakeStripe::start(
        400,
        json!({"error": {"type": "invalid_request_error", "code": "parameter_missing", "message": "Missing required param: success_url.", "param": "success_url"}}),
    )
    .await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;
    let response = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(stripe.received().len(), 1);
    assert_eq!(app.orders().await[0].status, "pending");
}

/// A 500, then a 429, then the session: the shop retried with one idempotency key, so at
/// most one session exists for the order whatever the provider executed.
#[tokio::test]
async fn session_creation_is_retried_with_one_idempotency_key() {
    let stripe = FakeStripe::scripted(vec![
        (500, json!({"error": {"type": "api_error", "message": "boom"}})),
        (429, json!({"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}})),
        (200, open_session()),
    ])
    .await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;
    let response = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let keys = stripe.idempotency_keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let order = &app.orders().await[0];
    let expected = format!("order-{}", order.id);
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(expected.as_str())),
        "{keys:?}"
    );
    assert!(order.checkout_session_id.is_some());
}

#[tokio::test]
async fn a_provider_that_keeps_failing_gets_a_clear_page_and_no_session() {
    let stripe = FakeStripe::start(
        503,
        json!({"error": {"type": "api_error", "message": "down"}}),
    )
    .await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;
    let response = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("please try again"));
    assert_eq!(
        stripe.received().len(),
        3,
        "three attempts, then the shopper is told"
    );
    assert_eq!(app.orders().await[0].checkout_session_id, None);
}

#[tokio::test]
async fn buying_is_a_post_only() {
    let stripe = FakeStripe::start(200, open_session()).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let _ = app.get("/products/1").await;
    let response = app.get("/products/1/buy").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        stripe.received().is_empty(),
        "viewing pages must never create sessions"
    );
    assert!(app.orders().await.is_empty());
}

#[tokio::test]
async fn returning_with_success_flashes_thanks_once() {
    let app = spawn_app().await;
    let response = app
        .get("/products/1/post_checkout?status=success&session_id=cs_test_abc")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/products/1");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("storefront-session="));
    let cookie = cookie.expect("the flash travels in the session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Thanks"),
        "the session cookie is encrypted: {cookie}"
    );

    let html = app.get_html("/products/1").await;
    assert!(
        html.contains(
            "Thanks for purchasing Sourdough Masterclass. You will receive an email shortly"
        ),
        "{html}"
    );
    assert!(html.contains("flash-success"));
    let again = app.get_html("/products/1").await;
    assert!(
        !again.contains("Thanks for purchasing"),
        "a flash shows once"
    );
    // The return page is no proof of payment: nothing recorded.
    assert!(app.orders().await.is_empty());
}

#[tokio::test]
async fn returning_with_cancel_flashes_the_error() {
    let app = spawn_app().await;
    let response = app
        .get("/products/2/post_checkout?status=cancel&session_id=cs_test_abc")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/products/2");
    let html = app.get_html("/products/2").await;
    assert!(
        html.contains("There was an error while attempting to purchase this product. Try again"),
        "{html}"
    );
    assert!(html.contains("flash-danger"));
}

#[tokio::test]
async fn post_checkout_never_records_a_purchase() {
    let app = spawn_app().await;
    let order = app.pending_order(1, "cs_test_pending").await;
    let response = app
        .get("/products/1/post_checkout?status=success&session_id=cs_test_pending")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let order_now = storefront::orders::find(&app.db, order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order_now.status, "pending");
    assert!(app.emails().await.is_empty());
}

#[tokio::test]
async fn odd_returns_just_show_the_product() {
    let app = spawn_app().await;
    for query in [
        "",
        "?status=success",
        "?status=bogus&session_id=cs_1",
        "?session_id=cs_1",
        "?status=success&session_id=",
        "?%zz=%%",
    ] {
        let response = app.get(&format!("/products/3/post_checkout{query}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{query}");
        assert_eq!(location(&response), "/products/3", "{query}");
        let html = app.get_html("/products/3").await;
        assert!(!html.contains("class=\"flash"), "{query}: {html}");
    }
    let response = app
        .get("/products/999/post_checkout?status=success&session_id=cs_1")
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn buy_then_the_webhook_then_the_return_is_the_whole_purchase() {
    let stripe = FakeStripe::start(200, open_session()).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let token = app.csrf_token(1).await;
    let response = app.post_buy(1, &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let order = app.orders().await.pop().unwrap();

    // Stripe notifies the shop first, then sends the shopper back.
    let event = completed_event("evt_whole", "cs_test_fake_1", order.id, 2900);
    assert_eq!(app.deliver(&event).await.status(), StatusCode::OK);
    let response = app
        .get("/products/1/post_checkout?status=success&session_id=cs_test_fake_1")
        .await;
    assert_eq!(location(&response), "/products/1");
    let html = app.get_html("/products/1").await;
    assert!(html.contains(
        "Thanks for purchasing Sourdough Masterclass. You will receive an email shortly"
    ));

    let paid = storefront::orders::paid_orders(&app.db).await.unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].id, order.id);
    assert_eq!(paid[0].buyer_email.as_deref(), Some(BUYER_EMAIL));
    let emails = app.emails().await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains("Sourdough Masterclass") && emails[0].contains(BUYER_EMAIL));
}
