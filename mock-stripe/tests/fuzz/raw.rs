//! Bytes on the socket: request lines, headers and bodies HTTP libraries never send
//! (bad methods and versions, control bytes, conflicting `Content-Length`, broken chunked
//! bodies, folded, huge or too many headers, messages cut short). The answer may be hyper's
//! own bare 4xx, or a close, but never a 5xx or a stall, and the mock keeps serving.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::client::Reply;
use crate::{Harness, strategies};

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
    ]);
    prop_oneof![
        6 => (path.clone(), prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(p, junk)| {
            let mut t = p.as_bytes().to_vec();
            t.extend(junk);
            t
        }),
        3 => path.prop_map(|p| p.as_bytes().to_vec()),
        1 => (1usize..80_000).prop_map(|n| {
            let mut t = b"/v1/customers?email=".to_vec();
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
        4 => Just(b"Authorization: Bearer sk_test_fuzz0001".to_vec()),
        2 => named("Content-Length", vec![
            "0", "5", "12", "-1", "+5", "18446744073709551616", "5, 5", "5,6", "abc", " 5",
            "99999999", "1048577", "0x10",
        ]),
        2 => named("Transfer-Encoding", vec![
            "chunked", "gzip", "chunked, chunked", "identity", "gzip, chunked", "CHUNKED", "",
        ]),
        1 => named("Content-Type", vec![
            "application/x-www-form-urlencoded", "application/json", "multipart/form-data",
        ]),
        1 => named("Expect", vec!["100-continue", "200-ok"]),
        1 => named("Host", vec!["", "a b", "127.0.0.1:1", "[::1"]),
        1 => named("Connection", vec!["keep-alive", "Upgrade", "close, TE"]),
        1 => named("Upgrade", vec!["websocket", "h2c"]),
        1 => named("Stripe-Version", vec!["2020-08-27", "x"]),
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
            "name=x&email=a@b.test", "mode=payment", "{\"a\":1}",
        ])
        .prop_map(|b| b.as_bytes().to_vec()),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub struct RawCase {
    method: Vec<u8>,
    target: Vec<u8>,
    version: &'static str,
    eol: &'static str,
    headers: Vec<Vec<u8>>,
    close: bool,
    body: Vec<u8>,
    /// Send only this many bytes (then wait for the answer).
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
        prop::bool::weighted(0.9),
        body(),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(
            |(method, target, version, eol, headers, close, body, cut)| RawCase {
                method,
                target,
                version,
                eol,
                headers,
                close,
                body,
                cut,
            },
        )
}

impl RawCase {
    fn bytes(&self, f: &crate::Fixtures) -> Vec<u8> {
        let target = strategies::resolve(&String::from_utf8_lossy(&self.target), f);
        let mut out = self.method.clone();
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(b"Host: 127.0.0.1");
        out.extend_from_slice(self.eol.as_bytes());
        if self.close {
            out.extend_from_slice(b"Connection: close");
            out.extend_from_slice(self.eol.as_bytes());
        }
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
    let shown = || String::from_utf8_lossy(&raw[..raw.len().min(300)]).into_owned();
    match reply {
        Ok(r) if r.status >= 500 => Err(TestCaseError::fail(format!(
            "a 5xx for {:?}: {}",
            shown(),
            r.summary()
        ))),
        // A HEAD answer has no body.
        Ok(_) if raw.starts_with(b"HEAD ") => Ok(()),
        Ok(r) if r.status >= 400 && r.content_type().starts_with("application/json") => {
            if r.json()["error"]["type"].is_string() {
                Ok(())
            } else {
                Err(TestCaseError::fail(format!(
                    "JSON error without Stripe's envelope for {:?}: {}",
                    shown(),
                    r.summary()
                )))
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
    // Short read timeouts: requests cut short end in seconds, not in 30 s.
    let h = Harness::start(mock_stripe::Config {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..Harness::default_config()
    });
    h.campaign("raw", 300, case(), |h, c| {
        let f = h.fixtures(crate::KEY);
        let raw = c.bytes(&f);
        let reply = h.send_raw(&raw);
        judge(&raw, &reply)
    });
}
