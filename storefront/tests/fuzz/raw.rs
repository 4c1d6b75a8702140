//! Bytes on the socket: request lines, headers and bodies HTTP libraries never send (odd
//! methods and versions, bytes in the target, conflicting `Content-Length`, broken
//! chunked bodies, huge or countless headers, messages cut short), aimed at every route.
//! The write side is closed after the bytes, so a message cut short ends there. The
//! answer may be hyper's own bare 4xx, or a close, but never a 5xx or a stall; an answer
//! of the shop's is a page or a JSON error; and the shop keeps serving and selling.

use http_fuzz::raw::{self, RawCase, judge};
use http_fuzz::wire::{Reply, cut};
use proptest::prelude::*;

use crate::Shop;

fn target() -> BoxedStrategy<Vec<u8>> {
    let paths = vec![
        "/",
        "/products/1",
        "/products/5",
        "/products/1/buy",
        "/products/1/post_checkout?status=success&session_id=cs_test_x",
        "/webhooks/stripe",
        "/static/shop.css",
        "/healthz",
        "*",
        "http://127.0.0.1/products/1",
        "",
        "//",
        "/products/%",
        "/products/%FF/buy",
        "/?a=%ff",
        "/#frag",
    ];
    raw::target(paths, "/products/1/post_checkout?session_id=")
}

/// The generic families (`http_fuzz::raw`), with the webhook's signature and the shop's
/// cookies, and the shop's body limit (256 KiB) plus one.
fn header() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => raw::content_length("262145"),
        2 => raw::transfer_encoding(),
        2 => raw::content_type(),
        2 => raw::named("Stripe-Signature", vec!["t=1,v1=00", "", "t=,v1=", "v1", "t=1"]),
        2 => raw::named("Cookie", vec![
            "storefront-csrf=x", "storefront-session=%", "a", "=", ";;;", "storefront-csrf=",
        ]),
        1 => raw::expect(),
        1 => raw::host(),
        1 => raw::connection(),
        1 => raw::upgrade(),
        1 => raw::folded(),
        2 => raw::any_header(),
        1 => raw::long_header(),
        1 => raw::many_headers(),
    ]
    .boxed()
}

/// Requests that always ask for the connection to close.
fn case() -> impl Strategy<Value = RawCase> {
    let forms = [
        "csrf_token=x",
        "csrf_token=%",
        "{\"id\":\"evt_1\"}",
        "{\"a\":[[[[",
    ];
    raw::case(target(), header(), raw::body(&forms), Just(true))
}

/// The shop's own error answers (hyper's bare ones have no security headers, no body)
/// are a page that names the status, or a JSON error.
fn error_shape(r: &Reply) -> Result<(), &'static str> {
    if r.header("x-content-type-options").is_none() {
        return Ok(());
    }
    let page = r.content_type().starts_with("text/html")
        && r.text().contains(&format!("Error {}", r.status));
    let json = r.content_type().starts_with("application/json")
        && r.json().is_some_and(|v| v["error"].is_string());
    if page || json {
        Ok(())
    } else {
        Err("an error that is neither a page nor a JSON error")
    }
}

#[test]
fn fuzz_raw_bytes_on_the_socket() {
    let shop = Shop::start();
    shop.campaign("raw", case(), |shop, case| {
        let before = shop.orders();
        let raw = case.bytes();
        let reply = shop.send_raw(&raw, true);
        judge(&raw, &reply, error_shape)?;
        // No Buy can pass without a token, no webhook without a signature.
        let after = shop.orders();
        prop_assert_eq!(
            before,
            after,
            "orders changed by {:?}",
            cut(&String::from_utf8_lossy(&raw), 300)
        );
        Ok(())
    });
}
