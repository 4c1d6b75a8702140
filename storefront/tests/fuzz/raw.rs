//! Bytes on the socket: request lines, headers and bodies HTTP libraries never send (odd
//! methods and versions, bytes in the target, conflicting `Content-Length`, broken
//! chunked bodies, huge or countless headers, messages cut short), aimed at every route.
//! The write side is closed after the bytes, so a message cut short ends there. The
//! answer may be hyper's own bare 4xx, or a close, but never a 5xx or a stall; an answer
//! of the shop's is a page or a JSON error; and the shop keeps serving and selling.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::Shop;
use crate::client::{Reply, cut};

fn method() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PRI",
        ])
        .prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Za-z]{0,12}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
    .boxed()
}

fn target() -> BoxedStrategy<Vec<u8>> {
    let path = prop::sample::select(vec![
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
    ]);
    prop_oneof![
        6 => (path.clone(), prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(p, junk)| {
            let mut t = p.as_bytes().to_vec();
            t.extend(junk);
            t
        }),
        3 => path.prop_map(|p| p.as_bytes().to_vec()),
        1 => (1usize..80_000).prop_map(|n| {
            let mut t = b"/products/1/post_checkout?session_id=".to_vec();
            t.extend(std::iter::repeat_n(b'a', n));
            t
        }),
    ]
    .boxed()
}

fn header() -> BoxedStrategy<Vec<u8>> {
    let named = |name: &'static str, values: Vec<&'static str>| {
        prop::sample::select(values).prop_map(move |v| format!("{name}: {v}").into_bytes())
    };
    prop_oneof![
        2 => named("Content-Length", vec![
            "0", "5", "12", "-1", "+5", "18446744073709551616", "5, 5", "5,6", "abc", " 5",
            "99999999", "262145", "0x10",
        ]),
        2 => named("Transfer-Encoding", vec![
            "chunked", "gzip", "chunked, chunked", "identity", "gzip, chunked", "CHUNKED", "",
        ]),
        2 => named("Content-Type", vec![
            "application/x-www-form-urlencoded", "application/json", "multipart/form-data",
        ]),
        2 => named("Stripe-Signature", vec!["t=1,v1=00", "", "t=,v1=", "v1", "t=1"]),
        2 => named("Cookie", vec![
            "storefront-csrf=x", "storefront-session=%", "a", "=", ";;;", "storefront-csrf=",
        ]),
        1 => named("Expect", vec!["100-continue", "200-ok"]),
        1 => named("Host", vec!["", "a b", "127.0.0.1:1", "[::1"]),
        1 => named("Connection", vec!["keep-alive", "Upgrade", "close, TE"]),
        1 => named("Upgrade", vec!["websocket", "h2c"]),
        1 => Just(b" folded continuation".to_vec()),
        2 => ("[!#-'*+.0-9A-Z^-z|~-]{1,20}", prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(n, v)| {
                let mut h = n.into_bytes();
                h.extend_from_slice(b": ");
                h.extend(v);
                h
            }),
        1 => (1usize..80_000).prop_map(|n| {
            let mut h = b"X-Long: ".to_vec();
            h.extend(std::iter::repeat_n(b'v', n));
            h
        }),
        1 => (1usize..160).prop_map(|n| {
            (0..n)
                .map(|i| format!("X-Many-{i}: v"))
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes()
        }),
    ]
    .boxed()
}

fn body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        2 => prop::collection::vec(any::<u8>(), 0..200),
        2 => prop::sample::select(vec![
            "5\r\nhello\r\n0\r\n\r\n", "z\r\n", "ffffffffffffffffff\r\nx\r\n", "5\r\nhel",
            "0\r\n\r\n", "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", "3\r\nabcdef\r\n",
            "csrf_token=x", "csrf_token=%", "{\"id\":\"evt_1\"}", "{\"a\":[[[[",
        ])
        .prop_map(|b| b.as_bytes().to_vec()),
    ]
    .boxed()
}

#[derive(Clone)]
pub struct RawCase {
    method: Vec<u8>,
    target: Vec<u8>,
    version: &'static str,
    eol: &'static str,
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
    /// Send only this many bytes.
    cut: Option<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = RawCase> {
    (
        method(),
        target(),
        prop::sample::select(vec![
            "HTTP/1.1",
            "HTTP/1.1",
            "HTTP/1.1",
            "HTTP/1.0",
            "HTTP/2.0",
            "HTTP/1.2",
            "http/1.1",
            "",
            "HTTP/1.1 x",
        ]),
        prop::sample::select(vec!["\r\n", "\r\n", "\r\n", "\n"]),
        prop::collection::vec(header(), 0..8),
        body(),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(
            |(method, target, version, eol, headers, body, cut)| RawCase {
                method,
                target,
                version,
                eol,
                headers,
                body,
                cut,
            },
        )
}

/// Bytes as text (lossy), so a failing case reads as the request it is.
impl std::fmt::Debug for RawCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        f.debug_struct("RawCase")
            .field("method", &text(&self.method))
            .field("target", &text(&self.target))
            .field("version", &self.version)
            .field("eol", &self.eol)
            .field(
                "headers",
                &self.headers.iter().map(|h| text(h)).collect::<Vec<_>>(),
            )
            .field("body", &text(&self.body))
            .field("cut", &self.cut)
            .finish()
    }
}

impl RawCase {
    fn bytes(&self) -> Vec<u8> {
        let mut out = self.method.clone();
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.push(b' ');
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(b"Host: 127.0.0.1");
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(b"Connection: close");
        out.extend_from_slice(self.eol.as_bytes());
        for h in &self.headers {
            out.extend_from_slice(h);
            out.extend_from_slice(self.eol.as_bytes());
        }
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(&self.body);
        if let Some(cut) = &self.cut {
            out.truncate(cut.index(out.len() + 1));
        }
        out
    }
}

fn judge(raw: &[u8], reply: &Result<Reply, String>) -> Result<(), TestCaseError> {
    let shown = || cut(&String::from_utf8_lossy(raw), 300);
    let fail = |why: &str, r: &Reply| {
        Err(TestCaseError::fail(format!(
            "{why} for {:?}: {}",
            shown(),
            r.summary()
        )))
    };
    match reply {
        Ok(r) if r.status >= 500 => fail("a 5xx", r),
        // The shop's own answers (hyper's bare ones have no security headers, no body).
        Ok(r) if r.status >= 400 && r.header("x-content-type-options").is_some() => {
            // A HEAD answer has no body.
            if raw.starts_with(b"HEAD ") {
                return Ok(());
            }
            let page = r.content_type().starts_with("text/html")
                && r.text().contains(&format!("Error {}", r.status));
            let json = r.content_type().starts_with("application/json")
                && r.json().is_some_and(|v| v["error"].is_string());
            if page || json {
                Ok(())
            } else {
                fail("an error that is neither a page nor a JSON error", r)
            }
        }
        Ok(_) => Ok(()),
        Err(e) if e.contains("stall") => Err(TestCaseError::fail(format!("{e} for {:?}", shown()))),
        // hyper closes on what it cannot parse; that is an answer too.
        Err(_) => Ok(()),
    }
}

#[test]
fn fuzz_raw_bytes_on_the_socket() {
    let shop = Shop::start();
    shop.campaign("raw", case(), |shop, case| {
        let before = shop.orders();
        let raw = case.bytes();
        let reply = shop.send_raw(&raw, true);
        judge(&raw, &reply)?;
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
