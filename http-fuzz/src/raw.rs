//! Bytes on the socket: request lines, headers and bodies HTTP libraries never send (odd
//! methods and versions, bytes in the target, conflicting `Content-Length`, broken
//! chunked bodies, folded, huge or countless headers, messages cut short).
//!
//! The pieces are generic; each server's test assembles them with its own routes, its
//! own headers and bodies and its limits, and keeps the order and weights of its arms
//! (they decide which cases a seed yields).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::wire::{Reply, cut};

/// A request method: mostly real ones, some letters, some bytes.
pub fn method() -> BoxedStrategy<Vec<u8>> {
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

/// A request target: one of the server's `paths` (as is, or followed by any bytes), or
/// `long_prefix` followed by up to 80,000 bytes (past hyper's limits).
pub fn target(paths: Vec<&'static str>, long_prefix: &'static str) -> BoxedStrategy<Vec<u8>> {
    let path = prop::sample::select(paths);
    prop_oneof![
        6 => (path.clone(), prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(p, junk)| {
            let mut t = p.as_bytes().to_vec();
            t.extend(junk);
            t
        }),
        3 => path.prop_map(|p| p.as_bytes().to_vec()),
        1 => (1usize..80_000).prop_map(move |n| {
            let mut t = long_prefix.as_bytes().to_vec();
            t.extend(std::iter::repeat_n(b'a', n));
            t
        }),
    ]
    .boxed()
}

/// A header line `name: value`, the value one of `values`.
pub fn named(name: &'static str, values: Vec<&'static str>) -> BoxedStrategy<Vec<u8>> {
    prop::sample::select(values)
        .prop_map(move |v| format!("{name}: {v}").into_bytes())
        .boxed()
}

/// `Content-Length`: negative, signed, overflowing, listed twice, not a number, and
/// `over_limit` (one byte past the server's body limit).
pub fn content_length(over_limit: &'static str) -> BoxedStrategy<Vec<u8>> {
    named(
        "Content-Length",
        vec![
            "0",
            "5",
            "12",
            "-1",
            "+5",
            "18446744073709551616",
            "5, 5",
            "5,6",
            "abc",
            " 5",
            "99999999",
            over_limit,
            "0x10",
        ],
    )
}

/// `Transfer-Encoding`: chunked once, twice, last or not, in capitals, or empty.
pub fn transfer_encoding() -> BoxedStrategy<Vec<u8>> {
    named(
        "Transfer-Encoding",
        vec![
            "chunked",
            "gzip",
            "chunked, chunked",
            "identity",
            "gzip, chunked",
            "CHUNKED",
            "",
        ],
    )
}

/// `Content-Type`: a form, JSON, or multipart the server does not take.
pub fn content_type() -> BoxedStrategy<Vec<u8>> {
    named(
        "Content-Type",
        vec![
            "application/x-www-form-urlencoded",
            "application/json",
            "multipart/form-data",
        ],
    )
}

/// `Expect`: a continue, or an expectation nobody meets.
pub fn expect() -> BoxedStrategy<Vec<u8>> {
    named("Expect", vec!["100-continue", "200-ok"])
}

/// A second `Host` (one is always sent), empty or malformed.
pub fn host() -> BoxedStrategy<Vec<u8>> {
    named("Host", vec!["", "a b", "127.0.0.1:1", "[::1"])
}

/// `Connection`: keep-alive, an upgrade, or a list.
pub fn connection() -> BoxedStrategy<Vec<u8>> {
    named("Connection", vec!["keep-alive", "Upgrade", "close, TE"])
}

/// `Upgrade` to a protocol the server does not speak.
pub fn upgrade() -> BoxedStrategy<Vec<u8>> {
    named("Upgrade", vec!["websocket", "h2c"])
}

/// An obsolete folded line (it continues the header before it).
pub fn folded() -> BoxedStrategy<Vec<u8>> {
    Just(b" folded continuation".to_vec()).boxed()
}

/// A header of any token name and any bytes as its value.
pub fn any_header() -> BoxedStrategy<Vec<u8>> {
    (
        "[!#-'*+.0-9A-Z^-z|~-]{1,20}",
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(n, v)| {
            let mut h = n.into_bytes();
            h.extend_from_slice(b": ");
            h.extend(v);
            h
        })
        .boxed()
}

/// One header of up to 80,000 bytes (past hyper's head buffer).
pub fn long_header() -> BoxedStrategy<Vec<u8>> {
    (1usize..80_000)
        .prop_map(|n| {
            let mut h = b"X-Long: ".to_vec();
            h.extend(std::iter::repeat_n(b'v', n));
            h
        })
        .boxed()
}

/// Up to 160 header lines at once (past hyper's 100).
pub fn many_headers() -> BoxedStrategy<Vec<u8>> {
    (1usize..160)
        .prop_map(|n| {
            (0..n)
                .map(|i| format!("X-Many-{i}: v"))
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes()
        })
        .boxed()
}

/// A body: none, any bytes, a chunked body (whole, broken, oversized, with an extension
/// or a trailer), or one of the server's own `forms`.
pub fn body(forms: &[&'static str]) -> BoxedStrategy<Vec<u8>> {
    let mut texts = vec![
        "5\r\nhello\r\n0\r\n\r\n",
        "z\r\n",
        "ffffffffffffffffff\r\nx\r\n",
        "5\r\nhel",
        "0\r\n\r\n",
        "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
        "3\r\nabcdef\r\n",
    ];
    texts.extend_from_slice(forms);
    prop_oneof![
        2 => Just(Vec::new()),
        2 => prop::collection::vec(any::<u8>(), 0..200),
        2 => prop::sample::select(texts).prop_map(|b| b.as_bytes().to_vec()),
    ]
    .boxed()
}

/// One request as raw pieces, written out by [`RawCase::bytes`].
#[derive(Clone)]
pub struct RawCase {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: &'static str,
    pub eol: &'static str,
    pub headers: Vec<Vec<u8>>,
    /// Whether `Connection: close` is sent (else the server may keep the connection).
    pub close: bool,
    pub body: Vec<u8>,
    /// Send only this many bytes (then wait for the answer).
    pub cut: Option<prop::sample::Index>,
}

/// A whole request: a method, one of `target`, an HTTP version (mostly 1.1) and line
/// ending (mostly CRLF), up to 8 of `header`, `Connection: close` when `close` says so,
/// one of `body`, and one time in ten cut short. `close` is `Just(true)` for a server
/// that should always close; `Just` draws nothing, so it leaves the other draws alone.
pub fn case(
    target: BoxedStrategy<Vec<u8>>,
    header: BoxedStrategy<Vec<u8>>,
    body: BoxedStrategy<Vec<u8>>,
    close: impl Strategy<Value = bool>,
) -> impl Strategy<Value = RawCase> {
    (
        method(),
        target,
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
        prop::collection::vec(header, 0..8),
        close,
        body,
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
            .field("close", &self.close)
            .field("body", &text(&self.body))
            .field("cut", &self.cut)
            .finish()
    }
}

impl RawCase {
    /// The bytes sent for this case.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes_to(&self.target)
    }

    /// The bytes sent for this case, with `target` in place of the generated one (for a
    /// server whose targets name objects made at run time).
    pub fn bytes_to(&self, target: &[u8]) -> Vec<u8> {
        let mut out = self.method.clone();
        out.push(b' ');
        out.extend_from_slice(target);
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

/// The verdict on any answer to raw bytes: never a 5xx, never a stall; a HEAD answer has
/// no body to judge; another error answer must pass `error_shape` (the server's own
/// errors; `Err` says what is wrong). hyper closing on what it cannot parse is an answer
/// too.
pub fn judge(
    raw: &[u8],
    reply: &Result<Reply, String>,
    error_shape: impl Fn(&Reply) -> Result<(), &'static str>,
) -> Result<(), TestCaseError> {
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
        Ok(_) if raw.starts_with(b"HEAD ") => Ok(()),
        Ok(r) if r.status >= 400 => match error_shape(r) {
            Ok(()) => Ok(()),
            Err(why) => fail(why, r),
        },
        Ok(_) => Ok(()),
        Err(e) if e.contains("stall") => Err(TestCaseError::fail(format!("{e} for {:?}", shown()))),
        Err(_) => Ok(()),
    }
}
