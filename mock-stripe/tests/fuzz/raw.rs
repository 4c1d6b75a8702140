//! Bytes on the socket: request lines, headers and bodies HTTP libraries never send
//! (bad methods and versions, control bytes, conflicting `Content-Length`, broken chunked
//! bodies, folded, huge or too many headers, messages cut short). The answer may be hyper's
//! own bare 4xx, or a close, but never a 5xx or a stall, and the mock keeps serving.

use std::time::Duration;

use http_fuzz::raw::{self, RawCase, judge};
use proptest::prelude::*;

use crate::{Harness, strategies};

fn target() -> BoxedStrategy<Vec<u8>> {
    let paths = vec![
        "/v1/customers",
        "/v1/checkout/sessions",
        "/v1/payment_intents/{pi}/confirm",
        "/_config/health",
        "/_config/faults",
        "/c/pay/{cs}",
        "/c/3ds/{pi3ds}",
        "/v3/",
        "/v3/checkout/sessions/{cs}",
        "*",
        "http://127.0.0.1/v1/customers",
        "/",
        "",
        "//",
        "/v1/../_config/health",
        "/%",
        "/v1/customers?a=%ff",
        "/v1/customers#frag",
    ];
    raw::target(paths, "/v1/customers?email=")
}

/// The generic families (`http_fuzz::raw`), with the API key and `Stripe-Version`, and the
/// mock's body limit (1 MiB) plus one.
fn header() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => Just(b"Authorization: Bearer sk_test_fuzz0001".to_vec()),
        2 => raw::content_length("1048577"),
        2 => raw::transfer_encoding(),
        1 => raw::content_type(),
        1 => raw::expect(),
        1 => raw::host(),
        1 => raw::connection(),
        1 => raw::upgrade(),
        1 => raw::named("Stripe-Version", vec!["2020-08-27", "x"]),
        1 => raw::folded(),
        2 => raw::any_header(),
        1 => raw::long_header(),
        1 => raw::many_headers(),
    ]
    .boxed()
}

/// Requests that keep the connection alive one time in ten.
fn case() -> impl Strategy<Value = RawCase> {
    raw::case(
        target(),
        header(),
        raw::body(&["name=x&email=a@b.test", "mode=payment", "{\"a\":1}"]),
        prop::bool::weighted(0.9),
    )
}

/// The mock's own JSON errors are in Stripe's envelope.
fn error_shape(r: &http_fuzz::wire::Reply) -> Result<(), &'static str> {
    let json = r.content_type().starts_with("application/json");
    if !json || r.json().is_some_and(|v| v["error"]["type"].is_string()) {
        Ok(())
    } else {
        Err("JSON error without Stripe's envelope")
    }
}

#[test]
fn fuzz_raw_bytes_on_the_socket() {
    // Short read timeouts: requests cut short end in seconds, not in 30 s.
    let h = Harness::start(mock_stripe::Config {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..Harness::default_config()
    });
    h.campaign("raw", 300, case(), |h, c| {
        let f = h.fixtures(crate::KEY);
        let target = strategies::resolve(&String::from_utf8_lossy(&c.target), &f);
        let raw = c.bytes_to(target.as_bytes());
        let reply = h.send_raw(&raw);
        judge(&raw, &reply, error_shape)
    });
}
