//! What the fuzzers send: hostile text, product ids in paths, cookies, and how a form is
//! encoded; with the few rules the oracles need (how the shop decodes each).

use proptest::prelude::*;
use proptest::sample::Index;

use crate::Shopper;

/// Text a client may type or forge: printable unicode, any char (NUL, controls, lone
/// surrogates can't occur in a `String`), markup, numbers that overflow, percent signs,
/// and huge strings (past the shop's 256 KB body limit at times).
pub fn hostile_text() -> BoxedStrategy<String> {
    prop_oneof![
        12 => "\\PC{0,40}",
        9 => prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        9 => prop::sample::select(vec![
            "", " ", "\0", "\r\n", "\n\nX-Injected: 1", "%", "%zz", "%00", "%ff%fe", "+", "&",
            "=", "&&==", ";", "é", "💳", "\u{202e}", "\u{feff}", "\u{0}\u{0}", "<script>alert(1)</script>",
            "\"><img src=x onerror=alert(1)>", "' OR 1=1 --", "../../etc/passwd",
            "{CHECKOUT_SESSION_ID}", "null", "true", "[]", "{}", "csrf_token", "csrf_token=x",
        ])
        .prop_map(str::to_owned),
        6 => number_text(),
        1 => (1usize..70_000).prop_map(|n| "a".repeat(n)),
        1 => (1usize..30_000).prop_map(|n| "é💳\0".repeat(n)),
        1 => (260_000usize..300_000).prop_map(|n| "z".repeat(n)),
    ]
    .boxed()
}

/// Numbers as text, mostly ones that break a naive parse.
pub fn number_text() -> BoxedStrategy<String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-0",
            "-1",
            "1",
            "2900",
            "-2900",
            "0.01",
            "1e3",
            "1e309",
            "NaN",
            "inf",
            "-inf",
            "0x10",
            "1_000",
            " 1",
            "1 ",
            "+1",
            "01",
            "１",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "99999999999999999999999999999999",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
    .boxed()
}

/// Bytes a case sends, shown as (lossy, cut) text when a failing case is printed rather
/// than one number a line.
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = http_fuzz::wire::cut(&String::from_utf8_lossy(&self.0), 200);
        write!(f, "b{text:?}")
    }
}

/// Percent-encodes every byte but the unreserved ones, as a path segment or a query
/// value may carry anything.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The id segment of `/products/{id}…`.
#[derive(Clone, Debug)]
pub enum ProductSegment {
    /// A number, as written.
    Id(i64),
    /// Any text, percent-encoded.
    Text(String),
    /// As is: encodings and spellings of numbers, broken escapes.
    Raw(&'static str),
}

pub fn product_segment() -> BoxedStrategy<ProductSegment> {
    prop_oneof![
        8 => (1i64..=4).prop_map(ProductSegment::Id),
        1 => (5i64..=6).prop_map(ProductSegment::Id),
        2 => prop::sample::select(vec![0, -1, 7, 1000, i64::MAX, i64::MIN])
            .prop_map(ProductSegment::Id),
        2 => hostile_text().prop_map(ProductSegment::Text),
        2 => prop::sample::select(vec![
            "01", "%31", "%32", "1%00", "1.0", "+1", "%2B1", "1%2F", "%FF", "%E2%82", "%C3%28",
            "1e0", "0x1", "%EF%BC%91", "..", ".", "%2E%2E", "1%20", "%20", "1;a", "1,2", "1%0A",
            "%", "%1", "%%31", "99999999999999999999",
        ])
        .prop_map(ProductSegment::Raw),
    ]
    .boxed()
}

impl ProductSegment {
    /// As it goes in the request target.
    pub fn encoded(&self) -> String {
        match self {
            ProductSegment::Id(id) => id.to_string(),
            ProductSegment::Text(text) => percent_encode(text),
            ProductSegment::Raw(raw) => (*raw).to_owned(),
        }
    }

    /// The product it names: the segment percent-decoded (as the router does) and read
    /// as a positive integer. Text that isn't UTF-8 once decoded names no product.
    pub fn product_id(&self) -> Option<i64> {
        let encoded = self.encoded();
        let decoded = percent_decode(encoded.as_bytes());
        let id = String::from_utf8(decoded).ok()?.parse::<i64>().ok()?;
        (id > 0).then_some(id)
    }
}

/// `%XX` → the byte; a `%` not followed by two hex digits stays as it is.
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// What the `Cookie` header carries.
#[derive(Clone, Debug)]
pub enum Cookies {
    /// Alice's cookies, as her browser sends them.
    Alice,
    /// Another browser's.
    Bob,
    None,
    CsrfOnly,
    SessionOnly,
    /// Both names, hostile values.
    Bogus {
        csrf: String,
        session: String,
    },
    /// Alice's, with one character of one cookie changed.
    Tampered {
        csrf: bool,
        at: Index,
    },
    /// A bogus `storefront-csrf` before Alice's: the shop reads the first.
    BogusFirst(String),
    /// Alice's, then a bogus `storefront-csrf` (ignored).
    AliceFirst(String),
    /// Alice's among many other cookies.
    Crowded(usize),
    /// Any bytes a header value may hold.
    Raw(Bytes),
}

/// A cookie value: printable, no `;` (which would end it), sometimes huge.
fn cookie_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[!#-:<-~]{0,80}",
        1 => "[A-Za-z0-9+/=]{1,300}",
        1 => (1usize..16_000).prop_map(|n| "c".repeat(n)),
    ]
    .boxed()
}

pub fn cookies() -> BoxedStrategy<Cookies> {
    prop_oneof![
        16 => Just(Cookies::Alice),
        1 => Just(Cookies::Bob),
        2 => Just(Cookies::None),
        1 => Just(Cookies::CsrfOnly),
        1 => Just(Cookies::SessionOnly),
        1 => (cookie_text(), cookie_text())
            .prop_map(|(csrf, session)| Cookies::Bogus { csrf, session }),
        2 => (any::<bool>(), any::<Index>())
            .prop_map(|(csrf, at)| Cookies::Tampered { csrf, at }),
        1 => cookie_text().prop_map(Cookies::BogusFirst),
        1 => cookie_text().prop_map(Cookies::AliceFirst),
        1 => (1usize..200).prop_map(Cookies::Crowded),
        1 => prop::collection::vec(
            // What hyper lets through in a header value (others are its bare 400).
            any::<u8>().prop_filter("a header value byte", |b| {
                *b == b'\t' || (*b >= 0x20 && *b != 0x7f)
            }),
            0..200,
        )
        .prop_map(|bytes| Cookies::Raw(Bytes(bytes))),
    ]
    .boxed()
}

/// One character of `value` (in its first half, so base64 padding is never what
/// changes) replaced by another base64 character: the decoded bytes differ.
pub fn tamper(value: &str, at: &Index) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return "x".to_owned();
    }
    let i = at.index(chars.len().div_ceil(2));
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

impl Cookies {
    /// The `Cookie` header, if any.
    pub fn header(&self, alice: &Shopper, bob: &Shopper) -> Option<Vec<u8>> {
        let csrf = |v: &str| format!("storefront-csrf={v}");
        let session = |v: &str| format!("storefront-session={v}");
        let text = match self {
            Cookies::Alice => alice.cookie_header(),
            Cookies::Bob => bob.cookie_header(),
            Cookies::None => return None,
            Cookies::CsrfOnly => csrf(&alice.csrf_cookie),
            Cookies::SessionOnly => session(&alice.session_cookie),
            Cookies::Bogus {
                csrf: c,
                session: s,
            } => format!("{}; {}", csrf(c), session(s)),
            Cookies::Tampered { csrf: true, at } => format!(
                "{}; {}",
                csrf(&tamper(&alice.csrf_cookie, at)),
                session(&alice.session_cookie)
            ),
            Cookies::Tampered { csrf: false, at } => format!(
                "{}; {}",
                csrf(&alice.csrf_cookie),
                session(&tamper(&alice.session_cookie, at))
            ),
            Cookies::BogusFirst(bogus) => format!("{}; {}", csrf(bogus), alice.cookie_header()),
            Cookies::AliceFirst(bogus) => format!("{}; {}", alice.cookie_header(), csrf(bogus)),
            Cookies::Crowded(n) => {
                let mut parts: Vec<String> = (0..*n).map(|i| format!("other{i}=v{i}")).collect();
                parts.insert(n / 2, alice.cookie_header());
                parts.join("; ")
            }
            Cookies::Raw(bytes) => return Some(bytes.0.clone()),
        };
        Some(text.into_bytes())
    }

    /// Whose CSRF cookie the shop reads from this header (the first cookie of that name
    /// counts): that shopper's form token is the valid one.
    pub fn csrf_owner<'a>(&self, alice: &'a Shopper, bob: &'a Shopper) -> Option<&'a Shopper> {
        match self {
            Cookies::Alice
            | Cookies::CsrfOnly
            | Cookies::AliceFirst(_)
            | Cookies::Crowded(_)
            | Cookies::Tampered { csrf: false, .. } => Some(alice),
            Cookies::Bob => Some(bob),
            // A bogus value that happens to be a real one can't be generated (those are
            // 88 random base64 characters).
            Cookies::BogusFirst(_)
            | Cookies::Bogus { .. }
            | Cookies::None
            | Cookies::SessionOnly
            | Cookies::Tampered { csrf: true, .. }
            | Cookies::Raw(_) => None,
        }
    }
}

/// How a form's fields become the body.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded`, as browsers encode it.
    Form,
    /// `key=value&…` with nothing escaped (raw `&`, `=`, `%`, `+`, bytes).
    Unescaped,
    /// A JSON object of the fields.
    Json,
    /// `multipart/form-data`.
    Multipart,
}

pub fn encoding() -> BoxedStrategy<Encoding> {
    prop_oneof![
        12 => Just(Encoding::Form),
        2 => Just(Encoding::Unescaped),
        1 => Just(Encoding::Json),
        1 => Just(Encoding::Multipart),
    ]
    .boxed()
}

impl Encoding {
    pub fn body(self, fields: &[(String, String)]) -> Vec<u8> {
        match self {
            Encoding::Form => url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish()
                .into_bytes(),
            Encoding::Unescaped => fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes(),
            Encoding::Json => {
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect();
                serde_json::Value::Object(object).to_string().into_bytes()
            }
            Encoding::Multipart => {
                let mut body = String::new();
                for (k, v) in fields {
                    body.push_str(&format!(
                        "--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                    ));
                }
                body.push_str("--XyZ--\r\n");
                body.into_bytes()
            }
        }
    }

    /// The `Content-Type` a client using this encoding sends.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Form | Encoding::Unescaped => "application/x-www-form-urlencoded",
            Encoding::Json => "application/json",
            Encoding::Multipart => "multipart/form-data; boundary=XyZ",
        }
    }
}

/// The first value of `name` in a urlencoded body, decoded as the shop's forms are.
pub fn first_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A header a client may add, or forge.
pub fn extra_header() -> BoxedStrategy<(String, Bytes)> {
    let named = |name: &'static str| {
        prop_oneof![
            "[ -~]{0,60}".prop_map(String::into_bytes),
            prop::collection::vec(
                any::<u8>().prop_filter("a header value", |b| *b >= 0x20 && *b != 0x7f),
                0..60
            ),
        ]
        .prop_map(move |v| (name.to_owned(), Bytes(v)))
    };
    prop_oneof![
        named("Accept"),
        named("Accept-Language"),
        named("Referer"),
        named("Origin"),
        named("User-Agent"),
        named("X-Forwarded-For"),
        named("X-Forwarded-Proto"),
        named("Stripe-Signature"),
        named("Authorization"),
        named("If-None-Match"),
        named("Range"),
        ("[A-Za-z][A-Za-z0-9-]{0,20}", "[ -~]{0,60}")
            .prop_map(|(name, value)| (format!("X-{name}"), Bytes(value.into_bytes()))),
    ]
    .boxed()
}
