//! `POST /products/{id}/buy`, structure-aware: well-formed forms (and JSON, multipart,
//! unescaped ones) with hostile fields (prices, quantities, amounts the shop must ignore;
//! huge, multibyte, NUL and control characters), the CSRF token missing, forged,
//! mutated, another browser's, duplicated or misnamed, and the cookies missing, bogus,
//! tampered or doubled. The shop must answer exactly what the request deserves (413, 404,
//! 403, 400 or 303 to Checkout, in the order the handler checks), as a page, and record
//! one pending order at the product's own price for a 303, nothing otherwise.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use storefront::orders::OrderStatus;

use crate::strategies::{
    Bytes, Cookies, Encoding, ProductSegment, cookies, encoding, extra_header, first_field,
    hostile_text, number_text, percent_decode, percent_encode, product_segment,
};
use crate::{Shop, exchange, hyper_refusal, stripe, unchanged};
use http_fuzz::wire::Request;

/// Where the form's `csrf_token` comes from.
#[derive(Clone, Debug)]
pub enum Token {
    Missing,
    Alices,
    Bobs,
    Forged(String),
    /// Alice's with one character changed.
    Mutated(Index),
    /// Alice's with something appended.
    Suffixed(String),
    /// Alice's, cut short.
    Truncated(Index),
    /// Two `csrf_token` fields: the shop reads the first.
    Twice {
        alices_first: bool,
        other: String,
    },
    /// Alice's, under another name.
    Misnamed(String),
}

fn token() -> BoxedStrategy<Token> {
    prop_oneof![
        16 => Just(Token::Alices),
        2 => Just(Token::Missing),
        1 => Just(Token::Bobs),
        2 => hostile_text().prop_map(Token::Forged),
        2 => any::<Index>().prop_map(Token::Mutated),
        1 => prop_oneof![
            "[A-Za-z0-9+/]{1,8}={0,2}",
            hostile_text(),
        ]
        .prop_map(Token::Suffixed),
        1 => any::<Index>().prop_map(Token::Truncated),
        2 => (any::<bool>(), hostile_text())
            .prop_map(|(alices_first, other)| Token::Twice { alices_first, other }),
        1 => prop::sample::select(vec![
            "CSRF_TOKEN", "csrf_token[]", "csrf-token", " csrf_token", "csrf_token ",
            "csrf%5Ftoken", "csrftoken", "_csrf",
        ])
        .prop_map(|name| Token::Misnamed(name.to_owned())),
    ]
    .boxed()
}

impl Token {
    fn fields(&self, alice: &str, bob: &str) -> Vec<(String, String)> {
        let field = |v: &str| ("csrf_token".to_owned(), v.to_owned());
        match self {
            Token::Missing => vec![],
            Token::Alices => vec![field(alice)],
            Token::Bobs => vec![field(bob)],
            Token::Forged(forged) => vec![field(forged)],
            Token::Mutated(at) => vec![field(&crate::strategies::tamper(alice, at))],
            Token::Suffixed(suffix) => vec![field(&format!("{alice}{suffix}"))],
            Token::Truncated(at) => vec![field(&alice[..at.index(alice.len())])],
            Token::Twice {
                alices_first: true,
                other,
            } => vec![field(alice), field(other)],
            Token::Twice {
                alices_first: false,
                other,
            } => vec![field(other), field(alice)],
            Token::Misnamed(name) => vec![(name.clone(), alice.to_owned())],
        }
    }
}

/// A field the shop has no business reading: what a tampering client adds.
fn extra_field() -> BoxedStrategy<(String, String)> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "price", "price_cents", "amount", "unit_amount", "quantity", "product_id",
            "currency", "email", "order_id", "success_url", "cancel_url", "status",
        ])
        .prop_map(str::to_owned),
        1 => hostile_text(),
    ];
    let value = prop_oneof![number_text(), hostile_text()];
    (name, value).boxed()
}

#[derive(Clone, Debug)]
pub struct BuyCase {
    product: ProductSegment,
    before: Vec<(String, String)>,
    token: Token,
    after: Vec<(String, String)>,
    encoding: Encoding,
    /// `None`: the encoding's own; `Some("")`: no header.
    content_type: Option<String>,
    cookies: Cookies,
    /// Alice's token in the query string too (the shop reads the body only).
    token_in_query: bool,
    headers: Vec<(String, Bytes)>,
}

fn case() -> impl Strategy<Value = BuyCase> {
    (
        product_segment(),
        prop::collection::vec(extra_field(), 0..3),
        token(),
        prop::collection::vec(extra_field(), 0..3),
        encoding(),
        prop::option::weighted(
            0.2,
            prop_oneof![
                Just(String::new()),
                Just("text/plain".to_owned()),
                Just("application/x-www-form-urlencoded; charset=iso-8859-1".to_owned()),
                "[ -~]{0,40}",
            ],
        ),
        cookies(),
        prop::bool::weighted(0.1),
        prop::collection::vec(extra_header(), 0..3),
    )
        .prop_map(
            |(
                product,
                before,
                token,
                after,
                encoding,
                content_type,
                cookies,
                token_in_query,
                headers,
            )| BuyCase {
                product,
                before,
                token,
                after,
                encoding,
                content_type,
                cookies,
                token_in_query,
                headers,
            },
        )
}

impl BuyCase {
    fn request(&self, shop: &Shop) -> Request {
        let mut fields = self.before.clone();
        fields.extend(self.token.fields(&shop.alice.token, &shop.bob.token));
        fields.extend(self.after.iter().cloned());
        let mut target = format!("/products/{}/buy", self.product.encoded());
        if self.token_in_query {
            target.push_str(&format!(
                "?csrf_token={}",
                percent_encode(&shop.alice.token)
            ));
        }
        let mut req = Request::new("POST", &target).body(self.encoding.body(&fields));
        match self.content_type.as_deref() {
            None => req = req.header("Content-Type", self.encoding.content_type()),
            Some("") => {}
            Some(other) => req = req.header("Content-Type", other),
        }
        if let Some(cookie) = self.cookies.header(&shop.alice, &shop.bob) {
            req = req.header("Cookie", cookie);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value.0.clone());
        }
        req
    }
}

/// What the request deserves, in the order the shop checks: the body's size (before any
/// handler), the path, the token (nothing happens without a valid one), the product.
fn expected_statuses(case: &BuyCase, req: &Request, shop: &Shop) -> Vec<u16> {
    if let Some(statuses) = hyper_refusal(req) {
        return statuses;
    }
    vec![expected_status(case, req, shop)]
}

fn expected_status(case: &BuyCase, req: &Request, shop: &Shop) -> u16 {
    if req.body.len() > 256 * 1024 {
        return 413;
    }
    let decodable = String::from_utf8(percent_decode(case.product.encoded().as_bytes())).is_ok();
    if !decodable {
        return 404;
    }
    let token_ok = case
        .cookies
        .csrf_owner(&shop.alice, &shop.bob)
        .is_some_and(|owner| first_field(&req.body, "csrf_token") == Some(owner.token.clone()));
    if !token_ok {
        return 403;
    }
    match case.product.product_id() {
        Some(1..=4) => 303,
        Some(5) => 400,
        _ => 404,
    }
}

#[test]
fn fuzz_the_buy_form() {
    let shop = Shop::start();
    let prices: HashMap<i64, i64> = (1..=4)
        .map(|id| {
            let price = shop.block_on(shop.app().product(id)).price_cents.unwrap();
            (id, price)
        })
        .collect();
    shop.campaign("buy", case(), |shop, case| {
        let req = case.request(shop);
        let before = shop.orders();
        let sessions_before = shop.stripe.created();
        let reply = exchange(shop, &req)?;
        let expected = expected_statuses(&case, &req, shop);
        prop_assert!(
            expected.contains(&reply.status),
            "expected {:?}: {} -> {}",
            expected,
            req.shown(),
            reply.summary()
        );
        let mut after = shop.orders();
        if reply.status != 303 {
            prop_assert_eq!(shop.stripe.created(), sessions_before, "Stripe was called");
            return unchanged(&before, &after, &req);
        }

        // One order more, pending, at the product's price whatever the form said.
        let location = reply.header("location").unwrap_or_default().to_owned();
        let session_id = location
            .strip_prefix(stripe::CHECKOUT_URL)
            .ok_or_else(|| TestCaseError::fail(format!("not sent to Checkout: {location}")))?;
        prop_assert_eq!(shop.stripe.created(), sessions_before + 1);
        prop_assert_eq!(after.len(), before.len() + 1);
        let new = after.pop().unwrap();
        let id = case.product.product_id().unwrap();
        prop_assert_eq!(new.product_id, id);
        prop_assert_eq!(new.status, OrderStatus::Pending);
        prop_assert_eq!(new.amount_cents, prices[&id]);
        prop_assert_eq!(new.currency.as_str(), "usd");
        prop_assert_eq!(new.checkout_session_id.as_deref(), Some(session_id));
        prop_assert_eq!(new.buyer_email, None);
        unchanged(&before, &after, &req)
    });
}
