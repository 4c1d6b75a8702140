//! Hostile input and what every page carries: escaping, body limits, security headers.

use reqwest::StatusCode;
use storefront::catalogue::{self, NewProduct};
use storefront::web::security::CONTENT_SECURITY_POLICY;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{FakeStripe, TestApp, spawn_app, spawn_app_with_stripe};

const HOSTILE_NAME: &str = r#"<script>alert("name")</script>"#;
const HOSTILE_DESCRIPTION: &str = r#""><img src=x onerror=alert(1)> & <b>bold</b>"#;

/// Whether `html` shows `text` escaped (askama writes `<` as `&#60;`; `&lt;` would do too).
fn shows_escaped(html: &str, text: &str) -> bool {
    let numeric = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;");
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    html.contains(&numeric) || html.contains(&named)
}

/// No markup of the attacker's survives: no tag, no attribute break-out, no script URL.
fn assert_inert(html: &str, page: &str) {
    // No raw `<` of the attacker's (so no tag), no raw `"` (so no attribute break-out).
    for raw in ["<script", "<img", "<b>", r#"alert("name")"#, "javascript:"] {
        assert!(!html.contains(raw), "{page} contains {raw:?}:\n{html}");
    }
}

#[tokio::test]
async fn a_product_named_script_is_escaped_on_every_page() {
    let stripe = FakeStripe::start(200, serde_json::json!({})).await;
    let app = spawn_app_with_stripe(&stripe.base_url).await;
    let priced = catalogue::add(
        &app.db,
        NewProduct {
            name: HOSTILE_NAME.to_owned(),
            description: HOSTILE_DESCRIPTION.to_owned(),
            price_cents: Some(100),
            image_url: Some("javascript:alert(1)".to_owned()),
        },
    )
    .await
    .unwrap();
    let unpriced = catalogue::add(
        &app.db,
        NewProduct {
            name: HOSTILE_NAME.to_owned(),
            description: HOSTILE_DESCRIPTION.to_owned(),
            price_cents: None,
            image_url: None,
        },
    )
    .await
    .unwrap();

    let index = app.get_html("/").await;
    assert_inert(&index, "the index");
    assert!(shows_escaped(&index, HOSTILE_NAME), "{index}");

    let page = app.get_html(&format!("/products/{}", priced.id)).await;
    assert_inert(&page, "the product page");
    assert!(shows_escaped(&page, HOSTILE_NAME), "{page}");
    assert!(shows_escaped(&page, HOSTILE_DESCRIPTION), "{page}");
    assert!(
        !page.contains("<img"),
        "a javascript: image URL is not shown"
    );

    // The name travels through the flash message (the session cookie) to the next page.
    let back = app
        .get(&format!(
            "/products/{}/post_checkout?status=success&session_id=cs_test_x",
            priced.id
        ))
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let flashed = app.get_html(&format!("/products/{}", priced.id)).await;
    assert!(
        shows_escaped(&flashed, &format!("Thanks for purchasing {HOSTILE_NAME}")),
        "{flashed}"
    );
    assert_inert(&flashed, "the page with the flash");

    // And through an error page: Buy on the unpriced one.
    let token = app.csrf_token(priced.id).await; // the unpriced page has no form
    let refused = app.post_buy(unpriced.id, &[("csrf_token", &token)]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let error = refused.text().await.unwrap();
    assert!(shows_escaped(&error, HOSTILE_NAME), "{error}");
    assert_inert(&error, "the error page");
}

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
];

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {what}"
        );
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/products/1",
        "/no-such-page",
        "/products/1/buy",
        "/static/shop.css",
        "/healthz",
    ] {
        let response = app.get(path).await;
        assert_security_headers(&response, &format!("GET {path} ({})", response.status()));
    }
    let forged = app.post_buy(1, &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&forged, "a refused Buy");
    let unsigned = app.post_webhook("{}", None).await;
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&unsigned, "a refused webhook");
}

/// The policy is strict (no inline script or style, no framing) and the pages live
/// with it: nothing inline that it would block, the stylesheet served from our origin.
#[tokio::test]
async fn the_content_security_policy_is_strict_and_the_pages_keep_to_it() {
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    assert!(
        !CONTENT_SECURITY_POLICY.contains("script-src"),
        "no script may load"
    );

    let app = spawn_app().await;
    for path in ["/", "/products/1", "/products/5", "/no-such-page"] {
        let html = app.get(path).await.text().await.unwrap();
        for inline in ["<script", "<style", " style="] {
            assert!(!html.contains(inline), "{path} has {inline:?}: {html}");
        }
        assert!(!has_event_handler(&html), "{path}: {html}");
        assert!(
            html.contains(r#"<link rel="stylesheet" href="/static/shop.css">"#),
            "{path}"
        );
    }
    let css = app.get("/static/shop.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains(".flash-success"));
}

/// An inline event handler attribute (` onclick=`, ` onload=`, …).
fn has_event_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

const TOO_BIG: usize = 1024 * 1024;

/// A body over the limit, declared with Content-Length, is a 413 on every route, before
/// any handler: JSON for the webhook, a page for the rest.
#[tokio::test]
async fn a_huge_body_is_a_413_on_every_route() {
    let app = spawn_app().await;
    let huge = "a".repeat(TOO_BIG);
    let requests = [
        ("POST", "/webhooks/stripe", true),
        ("POST", "/products/1/buy", false),
        ("GET", "/", false),
        ("GET", "/products/1", false),
        ("POST", "/products/1", false),
        ("GET", "/healthz", false),
        ("PUT", "/no-such-page", false),
    ];
    for (method, path, json) in requests {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("Stripe-Signature", "t=1,v1=00")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path}"
        );
        assert_security_headers(&response, path);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        if json {
            assert!(
                content_type.starts_with("application/json"),
                "{content_type}"
            );
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(
                error["error"].as_str().unwrap().contains("larger than"),
                "{body}"
            );
        } else {
            assert!(content_type.starts_with("text/html"), "{content_type}");
            assert!(body.contains("Request too large"), "{body}");
        }
    }
    assert!(app.orders().await.is_empty());
}

/// Without a Content-Length (chunked), the handlers that read a body stop at the limit:
/// a 413 too, never a 500.
#[tokio::test]
async fn a_huge_chunked_body_is_a_413_too() {
    let app = spawn_app().await;
    let (status, body) = chunked_post(
        &app,
        "/webhooks/stripe",
        &[("Stripe-Signature", "t=1,v1=00")],
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains(r#""error""#), "{body}");
    let (status, body) = chunked_post(&app, "/products/1/buy", &[]).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("Request too large"), "{body}");
}

/// Headers have limits too (hyper's: 100 headers, about 400 KB): a 431, never a 500.
#[tokio::test]
async fn huge_or_countless_headers_are_a_431() {
    let app = spawn_app().await;
    let huge = app
        .client
        .get(app.url("/"))
        .header("X-Huge", "a".repeat(512 * 1024))
        .send()
        .await;
    let mut countless = app.client.get(app.url("/"));
    for i in 0..200 {
        countless = countless.header(format!("X-Many-{i}"), "a");
    }
    for (what, response) in [("huge", huge), ("countless", countless.send().await)] {
        let status = response.unwrap().status();
        assert_eq!(
            status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{what} headers"
        );
    }
    // And it still serves.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

/// Just under the limit is read (and judged on its merits: a bad signature here).
#[tokio::test]
async fn a_body_at_the_limit_is_read() {
    let app = spawn_app().await;
    let body = "a".repeat(256 * 1024);
    let response = app.post_webhook(&body, Some("t=1,v1=00")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// POSTs a 1 MB body in chunks over a raw connection; returns the status and the body
/// read so far. The shop may answer (and close) before the upload ends.
async fn chunked_post(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let upload = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "a".repeat(64 * 1024));
        for _ in 0..TOO_BIG / (64 * 1024) {
            writer.write_all(chunk.as_bytes()).await?;
        }
        writer.write_all(b"0\r\n\r\n").await?;
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), reader.read(&mut buf)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if answer.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            Err(_) => panic!("no answer within 10 s"),
        }
    }
    upload.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    (status, text)
}

/// Found by fuzzing (`tests/fuzz`): a path whose %-escapes aren't UTF-8 once decoded got
/// poem's bare text 400 ("invalid path params"), whatever the route or method. It names
/// no page: the 404 page, before any CSRF check or lookup.
#[tokio::test]
async fn a_path_that_is_not_utf8_once_decoded_is_the_404_page() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/products/%FF"),
        (
            "GET",
            "/products/%C3%28/post_checkout?status=success&session_id=cs_test_x",
        ),
        ("POST", "/products/%FF/buy"),
        ("OPTIONS", "/products/%E2%82/buy"),
        ("GET", "/%FF"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_security_headers(&response, path);
        let html = response.text().await.unwrap();
        assert!(html.contains("Page not found"), "{method} {path}: {html}");
    }
    assert!(app.orders().await.is_empty());
}

/// A client that opens connections and says nothing is disconnected after `IDLE_TIMEOUT`,
/// and the shop goes on serving. (A request whose head has begun is waited for: poem
/// closes idle connections gracefully and has no header read timeout.)
#[tokio::test]
async fn silent_connections_are_closed_after_the_idle_timeout() {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        tuning: storefront::Tuning {
            idle_timeout: std::time::Duration::from_secs(1),
            ..storefront::Tuning::default()
        },
        ..Default::default()
    })
    .await;
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    for _ in 0..3 {
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut buf = [0u8; 1024];
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a silent connection stayed open");
    }
    let page = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}
