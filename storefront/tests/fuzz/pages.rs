//! Every route but the Buy form and the webhook's POST, with every method: the index,
//! product pages, the return from Checkout (`post_checkout`, with hostile `status` and
//! `session_id`), the stylesheet, the health check, and paths the shop doesn't have; with
//! hostile ids, queries, cookies, headers and bodies. Each gets exactly its status
//! (200, 303 back to the product, 404, 405, 413), errors as pages, and no order changes.

use proptest::prelude::*;

use crate::strategies::{
    Bytes, Cookies, ProductSegment, cookies, extra_header, hostile_text, percent_decode,
    percent_encode, product_segment,
};
use crate::{Shop, exchange, hyper_refusal, unchanged};
use http_fuzz::wire::Request;

#[derive(Clone, Debug)]
pub enum Route {
    Index,
    Product(ProductSegment),
    PostCheckout(ProductSegment),
    /// Buy with a method other than POST.
    Buy(ProductSegment),
    Stylesheet,
    Health,
    /// The webhook with a method other than POST.
    Webhook,
    /// A path the shop doesn't serve.
    Unknown(String),
    /// As is, dots and doubled slashes included.
    Raw(&'static OddPath),
}

/// A path near the shop's routes, sent as is, with the status it gets for GET (and
/// HEAD), for POST, and for other methods.
#[derive(Debug)]
pub struct OddPath {
    path: &'static str,
    get: u16,
    post: u16,
    other: u16,
}

const fn odd(path: &'static str, get: u16, post: u16, other: u16) -> OddPath {
    OddPath {
        path,
        get,
        post,
        other,
    }
}

const ODD_PATHS: &[OddPath] = &[
    // Nothing is served from the file system, and no path is normalised into a route.
    odd("/products", 404, 404, 404),
    odd("/products/", 404, 404, 404),
    odd("/static/", 404, 404, 404),
    odd("/static/../Cargo.toml", 404, 404, 404),
    odd("/%2e%2e/%2e%2e/etc/passwd", 404, 404, 404),
    odd("/static/shop.css/", 404, 404, 404),
    odd("/healthz/", 404, 404, 404),
    odd("/webhooks/", 404, 404, 404),
    odd("/webhooks/stripe/", 404, 404, 404),
    odd("//", 404, 404, 404),
    odd("/./", 404, 404, 404),
    odd("/index.html", 404, 404, 404),
    odd("/products/1/", 404, 404, 404),
    odd("/products/1/buy/", 404, 404, 404),
    odd("/products/1/post_checkout/x", 404, 404, 404),
    odd("/products/1/%62uy", 404, 404, 404),
    // An empty or `/` id still has the route's shape: Buy refuses a POST without a token
    // first, the pages find no product.
    odd("/products//buy", 405, 403, 405),
    odd("/products//post_checkout", 404, 405, 405),
    odd("/products/%2F", 404, 405, 405),
];

fn route() -> BoxedStrategy<Route> {
    prop_oneof![
        2 => Just(Route::Index),
        3 => product_segment().prop_map(Route::Product),
        4 => product_segment().prop_map(Route::PostCheckout),
        1 => product_segment().prop_map(Route::Buy),
        1 => Just(Route::Stylesheet),
        1 => Just(Route::Health),
        1 => Just(Route::Webhook),
        1 => hostile_text().prop_map(Route::Unknown),
        1 => (0..ODD_PATHS.len()).prop_map(|i| Route::Raw(&ODD_PATHS[i])),
    ]
    .boxed()
}

impl Route {
    fn path(&self) -> String {
        match self {
            Route::Index => "/".to_owned(),
            Route::Product(id) => format!("/products/{}", id.encoded()),
            Route::PostCheckout(id) => format!("/products/{}/post_checkout", id.encoded()),
            Route::Buy(id) => format!("/products/{}/buy", id.encoded()),
            Route::Stylesheet => "/static/shop.css".to_owned(),
            Route::Health => "/healthz".to_owned(),
            Route::Webhook => "/webhooks/stripe".to_owned(),
            Route::Unknown(text) => format!("/x/{}", percent_encode(text)),
            Route::Raw(odd) => odd.path.to_owned(),
        }
    }

    /// The methods it serves (HEAD too wherever GET is).
    fn serves(&self, method: &str) -> bool {
        match self {
            Route::Buy(_) | Route::Webhook => method == "POST",
            _ => method == "GET" || method == "HEAD",
        }
    }
}

/// The query of a return from Checkout: `status` and `session_id`, hostile, missing,
/// doubled; or any query at all on any route.
fn query() -> BoxedStrategy<Option<String>> {
    let status = prop_oneof![
        3 => prop::sample::select(vec!["success", "cancel"]).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["SUCCESS", "success ", "", "succes", "cancel\0"])
            .prop_map(str::to_owned),
        1 => hostile_text(),
    ];
    let session = prop_oneof![
        3 => "cs_test_[A-Za-z0-9]{1,30}",
        1 => Just(String::new()),
        1 => Just("   ".to_owned()),
        1 => Just("{CHECKOUT_SESSION_ID}".to_owned()),
        2 => hostile_text(),
    ];
    let pair = |name: &'static str, value: BoxedStrategy<String>| {
        prop::option::weighted(0.85, value)
            .prop_map(move |v| v.map(|v| format!("{name}={}", percent_encode(&v))))
    };
    prop_oneof![
        6 => (pair("status", status.boxed()), pair("session_id", session.boxed()), any::<bool>(), any::<bool>())
            .prop_map(|(status, session, doubled, swapped)| {
                let mut parts: Vec<String> = [status, session].into_iter().flatten().collect();
                if swapped {
                    parts.reverse();
                }
                if doubled {
                    parts.push("status=cancel&session_id=cs_test_again".to_owned());
                }
                Some(parts.join("&"))
            }),
        1 => Just(None),
        // Unescaped: broken escapes, bare `&`, `=`, `+` (what a URI may carry as is).
        1 => "[!$-;=?-Z_a-z~%]{0,80}".prop_map(Some),
        1 => (1usize..20_000).prop_map(|n| Some(format!("session_id={}&status=success", "s".repeat(n)))),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub struct PageCase {
    method: &'static str,
    route: Route,
    query: Option<String>,
    cookies: Cookies,
    headers: Vec<(String, Bytes)>,
    body: Bytes,
}

fn case() -> impl Strategy<Value = PageCase> {
    (
        prop_oneof![
            8 => Just("GET"),
            1 => Just("HEAD"),
            1 => prop::sample::select(vec![
                "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "get", "FOO", "M-SEARCH",
            ]),
        ],
        route(),
        query(),
        cookies(),
        prop::collection::vec(extra_header(), 0..3),
        prop_oneof![
            6 => Just(Vec::new()),
            2 => prop::collection::vec(any::<u8>(), 0..200),
            1 => (250_000usize..300_000).prop_map(|n| vec![b'b'; n]),
        ]
        .prop_map(Bytes),
    )
        .prop_map(|(method, route, query, cookies, headers, body)| PageCase {
            method,
            route,
            query,
            cookies,
            headers,
            body,
        })
}

impl PageCase {
    fn request(&self, shop: &Shop) -> Request {
        let mut target = self.route.path();
        if let Some(query) = &self.query {
            target.push('?');
            target.push_str(query);
        }
        let mut req = Request::new(self.method, &target).body(self.body.0.clone());
        if let Some(cookie) = self.cookies.header(&shop.alice, &shop.bob) {
            req = req.header("Cookie", cookie);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value.0.clone());
        }
        req
    }

    /// The statuses the request may get, and for a 303 where it goes: in the order
    /// they are decided (hyper's limits, the body limit, the router, the handler).
    fn expected(&self, req: &Request) -> (Vec<u16>, Option<String>) {
        if let Some(statuses) = hyper_refusal(req) {
            return (statuses, None);
        }
        if self.body.0.len() > 256 * 1024 {
            return (vec![413], None);
        }
        // A path whose escapes aren't UTF-8 names no page, whatever the method.
        if String::from_utf8(percent_decode(self.route.path().as_bytes())).is_err() {
            return (vec![404], None);
        }
        match &self.route {
            Route::Unknown(_) => return (vec![404], None),
            // `/products/`: an empty last segment is no `{id}` (an empty middle one is).
            Route::Product(id) if id.encoded().is_empty() => return (vec![404], None),
            Route::Raw(odd) => {
                let status = match self.method {
                    "GET" | "HEAD" => odd.get,
                    "POST" => odd.post,
                    _ => odd.other,
                };
                return (vec![status], None);
            }
            _ => {}
        }
        if !self.route.serves(self.method) {
            return (vec![405], None);
        }
        match &self.route {
            Route::Index | Route::Stylesheet | Route::Health => (vec![200], None),
            // No token in this body: refused before the product is looked up.
            Route::Buy(_) => (vec![403], None),
            // No signature of the shop's secret: refused.
            Route::Webhook => (vec![400], None),
            Route::Product(id) => match id.product_id() {
                Some(1..=5) => (vec![200], None),
                _ => (vec![404], None),
            },
            Route::PostCheckout(id) => match id.product_id() {
                Some(n @ 1..=5) => (vec![303], Some(format!("/products/{n}"))),
                _ => (vec![404], None),
            },
            _ => (vec![404], None),
        }
    }
}

#[test]
fn fuzz_the_pages_and_the_return_from_checkout() {
    let shop = Shop::start();
    shop.campaign("pages", case(), |shop, case| {
        let req = case.request(shop);
        let before = shop.orders();
        let reply = exchange(shop, &req)?;
        let (statuses, location) = case.expected(&req);
        prop_assert!(
            statuses.contains(&reply.status),
            "expected {:?}: {} -> {}",
            statuses,
            req.shown(),
            reply.summary()
        );
        if let Some(location) = location {
            prop_assert_eq!(reply.header("location"), Some(location.as_str()));
            // The flash it may have set reads back on the product page.
            let mut follow = Request::new("GET", &location);
            let cookies: Vec<String> = reply
                .cookies_set()
                .into_iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            if !cookies.is_empty() {
                follow = follow.header("Cookie", cookies.join("; "));
            }
            let page = exchange(shop, &follow)?;
            prop_assert_eq!(page.status, 200, "{}", page.summary());
        }
        unchanged(&before, &shop.orders(), &req)
    });
}
