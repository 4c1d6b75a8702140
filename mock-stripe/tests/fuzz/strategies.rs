//! Generators: values and parameter names (Stripe's and hostile ones), forms mutated from
//! requests that work, ids, headers; and the live objects (`{placeholders}`) cases refer to.

use proptest::prelude::*;

use crate::{Fixtures, Harness, KEY, OTHER_KEY};
use http_fuzz::wire::Request;

/// Parameter names the mock reads somewhere (any route), for keys that mean something.
const NAMES: &[&str] = &[
    "active",
    "address",
    "adjustable_quantity",
    "allow_promotion_codes",
    "amount",
    "amount_off",
    "amount_to_capture",
    "api_version",
    "applies_to",
    "automatic_payment_methods",
    "billing_address_collection",
    "billing_details",
    "cancel_url",
    "cancellation_reason",
    "capture_method",
    "card",
    "charge",
    "client_reference_id",
    "code",
    "confirm",
    "connect",
    "coupon",
    "created",
    "currency",
    "customer",
    "customer_creation",
    "customer_email",
    "default_price",
    "default_price_data",
    "description",
    "discounts",
    "duration",
    "duration_in_months",
    "email",
    "enabled",
    "enabled_events",
    "ending_before",
    "expand",
    "expires_at",
    "gte",
    "iban",
    "interval",
    "line_items",
    "limit",
    "lookup_key",
    "lookup_keys",
    "max_redemptions",
    "metadata",
    "minimum_amount",
    "minimum_amount_currency",
    "mode",
    "name",
    "off_session",
    "page",
    "payment_intent",
    "payment_intent_data",
    "payment_method",
    "payment_method_types",
    "percent_off",
    "phone",
    "price",
    "price_data",
    "product",
    "product_data",
    "products",
    "promotion",
    "promotion_code",
    "quantity",
    "query",
    "reason",
    "receipt_email",
    "recurring",
    "redeem_by",
    "restrictions",
    "return_url",
    "setup_future_usage",
    "starting_after",
    "status",
    "success_url",
    "token",
    "transfer_lookup_key",
    "type",
    "ui_mode",
    "unit_amount",
    "unit_amount_decimal",
    "url",
    "number",
    "exp_month",
    "exp_year",
    "cvc",
    "sepa_debit",
    "us_bank_account",
    "routing_number",
    "account_number",
    "mandate_data",
];

/// Values that mean something somewhere, `{placeholders}` for live objects included.
const GOOD_VALUES: &[&str] = &[
    "",
    "usd",
    "eur",
    "gbp",
    "jpy",
    "1",
    "0",
    "-1",
    "2",
    "100",
    "1999",
    "true",
    "false",
    "payment",
    "setup",
    "subscription",
    "manual",
    "automatic",
    "always",
    "if_required",
    "card",
    "sepa_debit",
    "us_bank_account",
    "pm_card_visa",
    "pm_card_chargeDeclined",
    "pm_card_authenticationRequired",
    "tok_visa",
    "tok_chargeDeclined",
    "4242424242424242",
    "4000000000000002",
    "4000002500003155",
    "4000000000005126",
    "AT611904300234573201",
    "110000000",
    "000123456789",
    "month",
    "year",
    "once",
    "forever",
    "repeating",
    "requested_by_customer",
    "duplicate",
    "fraudulent",
    "https://shop.test/ok",
    "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}",
    "http://127.0.0.1:1/hook",
    "*",
    "checkout.session.*",
    "2020-08-27",
    "2026-09-30.endive",
    "data.payment_intent",
    "payment_intent.latest_charge",
    "line_items",
    "customer",
    "email:'fuzz@example.com'",
    "metadata['k']:'v'",
    "amount>100",
    "{prod}",
    "{price}",
    "{cus}",
    "{coupon}",
    "{promo}",
    "{cs}",
    "{pi}",
    "{ch}",
    "{pi3ds}",
    "{pim}",
    "{re}",
    "{we}",
    "{pm}",
    "{evt}",
    "{receiver}",
];

/// Values no SDK sends.
const BAD_VALUES: &[&str] = &[
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e308",
    "NaN",
    "Infinity",
    "-0",
    "+5",
    "0x10",
    "1.5",
    " 1",
    "1 ",
    "２",
    "٣",
    "😀",
    "ключ",
    "\u{0}",
    "\u{202e}",
    "'",
    "\"",
    "\\",
    "%",
    "%zz",
    "&",
    "=",
    "[",
    "]",
    "a[b]",
    "<script>",
    "javascript:alert(1)",
    "http://",
    "https://",
    "ftp://x.test",
    "//x.test",
    "http://[::1",
    "null",
    "undefined",
    "[]",
    "{}",
    "2147483648",
    "4294967296",
    "253402300800",
    "-62135596801",
];

pub fn value() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(GOOD_VALUES).prop_map(str::to_string),
        3 => prop::sample::select(BAD_VALUES).prop_map(str::to_string),
        2 => "\\PC{0,20}",
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<u64>().prop_map(|i| format!("{i}{i}")),
        1 => (1usize..3000, prop::sample::select(vec!["x", "é", "😀", "%", "["]))
            .prop_map(|(n, c)| c.repeat(n)),
    ]
    .boxed()
}

fn segment() -> BoxedStrategy<String> {
    prop_oneof![
        5 => prop::sample::select(NAMES).prop_map(|n| format!("[{n}]")),
        3 => (0u32..4).prop_map(|i| format!("[{i}]")),
        2 => Just("[]".to_string()),
        1 => prop::sample::select(vec![
            "[99999999999999999999]", "[-1]", "[ ]", "[😀]", "[", "]", "[[]]", "[a]b", "[%5B]",
        ])
        .prop_map(str::to_string),
        1 => "\\PC{0,6}".prop_map(|s| format!("[{s}]")),
    ]
    .boxed()
}

pub fn key() -> BoxedStrategy<String> {
    let name = prop_oneof![
        8 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => prop::sample::select(vec!["", "0", " ", "😀", "%", "&", "+", "a b", "\u{0}"])
            .prop_map(str::to_string),
        1 => "\\PC{0,10}",
    ];
    (name, prop::collection::vec(segment(), 0..5))
        .prop_map(|(n, s)| format!("{n}{}", s.concat()))
        .boxed()
}

/// An id in a path: a live object of any kind (most of the time), or junk.
pub fn id() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "{prod}", "{price}", "{cus}", "{coupon}", "{promo}", "{cs}", "{pi}", "{ch}",
            "{pi3ds}", "{pim}", "{re}", "{we}", "{pm}", "{evt}",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "", "search", "cs_test_", "pi_", "%", "%00", "%ff%fe", "%2F", "..", ".", "😀",
            "%F0%9F%98%80", "a%20b", "cs_test_a%2Fb", "%25", "x?y", "x#y",
        ])
        .prop_map(str::to_string),
        1 => "[A-Za-z0-9_%.~-]{0,40}",
        1 => (1usize..20_000).prop_map(|n| "i".repeat(n)),
    ]
    .boxed()
}

/// How a form goes on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    /// As typed (a value with `&` or `=` splits: that is fuzz too).
    Raw,
    /// `form_urlencoded`, as the SDKs do.
    Encoded,
    /// Brackets as `%5B`/`%5D`, values encoded: Node's `qs`.
    Brackets,
}

/// A form with `{placeholders}`, resolved against live objects when sent.
#[derive(Clone, Debug)]
pub struct Form {
    pub pairs: Vec<(String, String)>,
    pub encoding: Encoding,
}

impl Form {
    pub fn wire(&self, f: &Fixtures) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        self.pairs
            .iter()
            .map(|(k, v)| {
                let (k, v) = (resolve(k, f), resolve(v, f));
                match self.encoding {
                    Encoding::Raw => format!("{k}={v}"),
                    Encoding::Encoded => format!("{}={}", enc(&k), enc(&v)),
                    Encoding::Brackets => {
                        format!("{}={}", k.replace('[', "%5B").replace(']', "%5D"), enc(&v))
                    }
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        1 => Just(Encoding::Raw),
        3 => Just(Encoding::Encoded),
        1 => Just(Encoding::Brackets),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    Keep,
    Value(String),
    Key(String),
    Drop,
    Twice,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        40 => Just(Edit::Keep),
        3 => value().prop_map(Edit::Value),
        1 => key().prop_map(Edit::Key),
        2 => Just(Edit::Drop),
        1 => Just(Edit::Twice),
    ]
}

fn pairs_of(template: &str) -> Vec<(String, String)> {
    template
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A request that works (`template`, placeholders allowed), mutated: values replaced, keys
/// renamed or deeper, pairs dropped or repeated, a few pairs added.
pub fn mutated(template: &str) -> BoxedStrategy<Form> {
    let base = pairs_of(template);
    let n = base.len();
    (
        prop::collection::vec(edit(), n),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec((key(), value()), 1..4),
        ],
        encoding(),
    )
        .prop_map(move |(edits, extra, encoding)| {
            let mut pairs = Vec::new();
            for ((k, v), e) in base.iter().zip(edits) {
                match e {
                    Edit::Keep => pairs.push((k.clone(), v.clone())),
                    Edit::Value(nv) => pairs.push((k.clone(), nv)),
                    Edit::Key(nk) => pairs.push((nk, v.clone())),
                    Edit::Drop => {}
                    Edit::Twice => {
                        pairs.push((k.clone(), v.clone()));
                        pairs.push((k.clone(), v.clone()));
                    }
                }
            }
            pairs.extend(extra);
            Form { pairs, encoding }
        })
        .boxed()
}

/// Replaces `{name}` with the live object's id (unknown names stay as they are).
pub fn resolve(s: &str, f: &Fixtures) -> String {
    if !s.contains('{') {
        return s.to_string();
    }
    let mut out = s.to_string();
    for (name, id) in f {
        out = out.replace(&format!("{{{name}}}"), id);
    }
    out
}

/// Headers of an API call: the key (most of the time), a version, an idempotency key, a
/// connected account, a content type, each now and then wrong.
pub fn api_headers() -> BoxedStrategy<Vec<(String, Vec<u8>)>> {
    let auth = prop_oneof![
        30 => Just(Some(format!("Bearer {KEY}").into_bytes())),
        1 => Just(Some(format!("Bearer {OTHER_KEY}").into_bytes())),
        1 => Just(None),
        1 => prop::sample::select(vec![
            "Bearer ", "Bearer pk_test_fuzz0001", "Bearer sk_live_x", "Basic c2tfdGVzdF9mdXp6MDAwMTo=",
            "Basic !!", "Digest x", "sk_test_fuzz0001", "Bearer sk_test_\u{ff}",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ];
    let version = prop_oneof![
        10 => Just(None),
        1 => prop::sample::select(vec![
            "2020-08-27", "2022-08-01", "2024-10-28.acacia", "2026-09-30.endive", "2099-12-31",
            "2020-13-01", "1970-01-01", "latest", "", "2020-08-27.", "9999-99-99", "2020-08-27.a b",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
    ];
    let idempotency = prop_oneof![
        10 => Just(None),
        1 => prop::sample::select(vec!["k1", "k2", "", "😀"]).prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => (250usize..300).prop_map(|n| Some(vec![b'k'; n])),
    ];
    let account = prop_oneof![
        30 => Just(None),
        1 => prop::sample::select(vec!["acct_1Fuzz", "acct_", "acct_x y", "", "cus_1"])
            .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => (1usize..400).prop_map(|n| Some(format!("acct_{}", "a".repeat(n)).into_bytes())),
    ];
    let content_type = prop_oneof![
        20 => Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        1 => prop::sample::select(vec![
            "application/json", "multipart/form-data; boundary=x", "text/plain", "",
            "application/x-www-form-urlencoded; charset=utf-8", "APPLICATION/JSON",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => Just(None),
    ];
    (auth, version, idempotency, account, content_type)
        .prop_map(|(a, v, i, s, c)| {
            let mut h = Vec::new();
            let named = [
                ("Authorization", a),
                ("Stripe-Version", v),
                ("Idempotency-Key", i),
                ("Stripe-Account", s),
                ("Content-Type", c),
            ];
            for (name, value) in named {
                if let Some(v) = value {
                    // A header value cannot hold control bytes but tab on the wire: httparse
                    // refuses the whole request, a bare 400 (the raw fuzzer covers that).
                    let v: Vec<u8> = v
                        .into_iter()
                        .filter(|b| *b == b'\t' || !(b.is_ascii_control()))
                        .collect();
                    h.push((name.to_string(), v));
                }
            }
            h
        })
        .boxed()
}

/// A method: usually the route's, now and then another (or none HTTP knows).
pub fn method(usual: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        10 => Just(usual.to_string()),
        2 => prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"])
            .prop_map(str::to_string),
        1 => prop::sample::select(vec!["FUZZ", "get", "TRACE", "CONNECT-ISH"]).prop_map(str::to_string),
    ]
    .boxed()
}

pub const SESSION_FORM: &str = "mode=payment\
    &success_url=https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}\
    &cancel_url=https://shop.test/cart&customer_email=buyer@example.com\
    &line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
    &line_items[0][price_data][product_data][name]=T-shirt&line_items[0][quantity]=2";

fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Makes one live object of every kind for `key` (new ones each time).
pub fn make_fixtures(h: &Harness, key: &str) -> Fixtures {
    let mut f = Fixtures::new();
    f.insert("receiver", h.receiver.clone());
    let prod = id_of(&h.ok(key, "POST", "/v1/products", "name=Fuzz+product"));
    let price = id_of(&h.ok(
        key,
        "POST",
        "/v1/prices",
        &format!("product={prod}&currency=usd&unit_amount=1500"),
    ));
    let cus = id_of(&h.ok(
        key,
        "POST",
        "/v1/customers",
        "email=fuzz@example.com&name=Fuzz",
    ));
    let coupon = id_of(&h.ok(key, "POST", "/v1/coupons", "percent_off=10&duration=once"));
    let promo = id_of(&h.ok(
        key,
        "POST",
        "/v1/promotion_codes",
        &format!("promotion[type]=coupon&promotion[coupon]={coupon}"),
    ));
    let session = h.ok(key, "POST", "/v1/checkout/sessions", SESSION_FORM);
    let pi = h.ok(
        key,
        "POST",
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true",
    );
    let pi3ds = h.ok(
        key,
        "POST",
        "/v1/payment_intents",
        "amount=3000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true\
         &return_url=https://shop.test/back",
    );
    let pim = h.ok(
        key,
        "POST",
        "/v1/payment_intents",
        "amount=2500&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
    );
    let re = id_of(&h.ok(
        key,
        "POST",
        "/v1/refunds",
        &format!("payment_intent={}&amount=100", id_of(&pi)),
    ));
    // Endpoints are capped per account: one is enough, made once.
    let listed = h.ok(key, "GET", "/v1/webhook_endpoints", "limit=1");
    let we = match listed["data"][0]["id"].as_str() {
        Some(id) => id.to_string(),
        None => id_of(&h.ok(
            key,
            "POST",
            "/v1/webhook_endpoints",
            &format!("url={}&enabled_events[]=*", h.receiver),
        )),
    };
    let pm = id_of(&h.ok(
        key,
        "POST",
        "/v1/payment_methods",
        "type=card&card[token]=tok_visa",
    ));
    let events = h.ok(key, "GET", "/v1/events", "limit=1");
    let challenge = pi3ds["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .and_then(|u| u.split_once("challenge="))
        .map(|(_, c)| c.to_string())
        .unwrap_or_default();
    f.insert("prod", prod);
    f.insert("price", price);
    f.insert("cus", cus);
    f.insert("coupon", coupon);
    f.insert("promo", promo);
    f.insert("cs", id_of(&session));
    f.insert(
        "ch",
        pi["latest_charge"].as_str().unwrap_or("ch_x").to_string(),
    );
    f.insert("pi", id_of(&pi));
    f.insert("pi3ds", id_of(&pi3ds));
    f.insert("challenge3ds", challenge);
    f.insert("pim", id_of(&pim));
    f.insert("re", re);
    f.insert("we", we);
    f.insert("pm", pm);
    f.insert("evt", id_of(&events["data"][0]));
    f
}

/// A request for `h`'s mock from its parts (the path and form resolved against `f`).
pub fn build(
    method: &str,
    path: &str,
    form: &Form,
    in_query: bool,
    headers: &[(String, Vec<u8>)],
    f: &Fixtures,
) -> Request {
    let path = resolve(path, f);
    let wire = form.wire(f);
    let mut r = Request::new(method, &path);
    let query = in_query || method == "GET" || method == "HEAD";
    if query && !wire.is_empty() {
        // A target is visible ASCII on the wire: what the encoding left raw is escaped.
        r.target = format!("{path}?{}", escape_target(&wire));
    } else {
        r.body = wire.into_bytes();
    }
    r.target = escape_target(&r.target);
    r.headers = headers.to_vec();
    r
}

/// Percent-encodes what may not appear in a request target (controls, spaces, non-ASCII,
/// `#` and the characters `http::Uri` refuses), as clients do, leaving `%` sequences and
/// everything else as they are. (The raw fuzzer sends targets as they come.)
pub fn escape_target(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && !b"#\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
