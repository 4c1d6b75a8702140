use reqwest::StatusCode;

use crate::helpers::{hidden_input, spawn_app};

#[tokio::test]
async fn the_index_lists_the_seeded_products_with_prices() {
    let app = spawn_app().await;
    let html = app.get_html("/").await;
    for name in [
        "Sourdough Masterclass",
        "Weeknight Dinners E-book",
        "Knife Skills Cheat Sheet",
        "Café Crème Brûlée Guide",
        "Upcoming: Pasta From Scratch",
    ] {
        assert!(
            html.contains(name),
            "{name} missing from the index:\n{html}"
        );
    }
    for price in ["$29.00", "$12.99", "$5.00", "$7.50"] {
        assert!(html.contains(price), "{price} missing from the index");
    }
    assert!(html.contains("Not for sale yet"));
    assert!(html.contains(r#"href="/products/1""#));
}

#[tokio::test]
async fn a_product_page_has_a_buy_form_with_a_csrf_token() {
    let app = spawn_app().await;
    let html = app.get_html("/products/1").await;
    assert!(html.contains("Sourdough Masterclass"));
    assert!(html.contains("$29.00"));
    assert!(
        html.contains(r#"<form method="post" action="/products/1/buy">"#),
        "{html}"
    );
    let token = hidden_input(&html, "csrf_token").expect("a csrf_token input");
    assert!(token.len() > 20, "token {token:?}");
}

#[tokio::test]
async fn descriptions_are_escaped() {
    let app = spawn_app().await;
    let html = app.get_html("/products/4").await;
    assert!(
        html.contains("torches &amp; ramekins") || html.contains("torches &#38; ramekins"),
        "{html}"
    );
    assert!(!html.contains("torches & ramekins"));
}

#[tokio::test]
async fn a_product_without_price_has_no_buy_form() {
    let app = spawn_app().await;
    let html = app.get_html("/products/5").await;
    assert!(html.contains("Upcoming: Pasta From Scratch"));
    assert!(html.contains("Not for sale yet"));
    assert!(!html.contains("/buy"), "{html}");
}

#[tokio::test]
async fn unknown_or_malformed_product_ids_get_the_404_page() {
    let app = spawn_app().await;
    for path in [
        "/products/999",
        "/products/abc",
        "/products/-1",
        "/products/0",
        "/products/1.5",
        "/no-such-page",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "GET {path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "GET {path}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("Page not found"), "GET {path}: {html}");
    }
}

#[tokio::test]
async fn the_health_check_answers() {
    let app = spawn_app().await;
    assert_eq!(app.get_html("/healthz").await, "ok");
}
