//! `POST /webhooks/stripe`: events for a fresh order of the case's own (pending, or paid
//! with its receipt sent), as Stripe sends them or with hostile fields (any JSON in place
//! of ids, amounts, emails, metadata, the object itself), arbitrary JSON, text, bytes and
//! deeply nested JSON; under a signature that is valid (also among junk entries, in
//! uppercase hex), or broken (missing, garbled, wrong secret, over another body, stale,
//! from the future, extreme or unparsable timestamps, no `v1`, spaces).
//!
//! Whatever the body: no 5xx, JSON answers. A broken signature is a 400 that changes
//! nothing. A valid one over Stripe's own event does exactly what that event means; over
//! a hostile one, a 200 or a 400 that touches no other order, never a paid one, and sends
//! at most the one receipt its order is due.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use storefront::db::entities;
use storefront::orders::{Order, OrderStatus};
use stripe_webhook::Webhook;

use crate::helpers::{
    BUYER_EMAIL, WEBHOOK_SECRET, completed_event, event_json, scratch_postgres, session_json,
};
use crate::strategies::{Bytes, hostile_text, number_text};
use crate::{Shop, exchange, unchanged};
use http_fuzz::wire::Request;

/// The `Stripe-Signature` header.
#[derive(Clone, Debug)]
pub enum Signature {
    /// Signed with the secret at now + `skew` seconds (within the 300 s tolerance).
    Fresh {
        skew: i64,
    },
    /// A fresh signature among entries that don't match (other `v1`s, `v0`, unknown keys).
    AmongJunk {
        before: Vec<String>,
        after: Vec<String>,
    },
    /// A fresh signature in uppercase hex.
    Uppercase,
    /// A stale `t`, then the fresh one the signature is over: the last `t` counts.
    TwoTimestamps {
        fresh_last: bool,
    },
    Missing,
    Empty,
    WrongSecret(String),
    /// A valid signature of a slightly different body.
    OtherBody,
    /// Signed with the secret at now − `secs` / now + `secs`, outside the tolerance.
    Stale {
        secs: i64,
    },
    Future {
        secs: i64,
    },
    /// Signed with the secret at an extreme time.
    AtTime(i64),
    /// `t` that is no number, with a signature over the body at now.
    BadTime(String),
    NoTimestamp,
    NoV1,
    /// The fresh header and an entry without `=`.
    PairWithoutEquals(String),
    /// `t=…, v1=…`: the key is then ` v1`.
    Spaces,
    Garbled(String),
    Bytes(Bytes),
    /// A fresh signature, then one junk entry this many times `v1=0` long.
    Huge(usize),
}

/// Text a header value can carry (hyper refuses control characters).
fn header_safe(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

fn junk_entry() -> BoxedStrategy<String> {
    prop_oneof![
        "v1=[0-9a-f]{64}",
        "v1=[0-9a-zA-Z]{0,70}",
        "v0=[0-9a-f]{64}",
        "[a-z0-9]{1,4}=[ -+--~]{0,20}",
        Just("v1=".to_owned()),
    ]
    .boxed()
}

fn signature() -> BoxedStrategy<Signature> {
    prop_oneof![
        24 => (-250i64..=250).prop_map(|skew| Signature::Fresh { skew }),
        2 => (
            prop::collection::vec(junk_entry(), 0..4),
            prop::collection::vec(junk_entry(), 0..4)
        )
            .prop_map(|(before, after)| Signature::AmongJunk { before, after }),
        1 => Just(Signature::Uppercase),
        1 => any::<bool>().prop_map(|fresh_last| Signature::TwoTimestamps { fresh_last }),
        2 => Just(Signature::Missing),
        1 => Just(Signature::Empty),
        2 => prop_oneof![Just(String::new()), "whsec_[A-Za-z0-9]{0,40}", hostile_text()]
            .prop_map(Signature::WrongSecret),
        2 => Just(Signature::OtherBody),
        2 => prop_oneof![301i64..400, 400i64..4_000_000_000]
            .prop_map(|secs| Signature::Stale { secs }),
        // From 310 s: the shop's clock reads a little later than the case's `now`, which
        // brings a future `t` closer (a stale one only further).
        1 => prop_oneof![310i64..400, 400i64..4_000_000_000]
            .prop_map(|secs| Signature::Future { secs }),
        2 => prop_oneof![
            prop::sample::select(vec![
                i64::MIN, i64::MIN + 1, i64::MIN + 300, -1, 0, 1, i64::MAX - 1, i64::MAX,
            ]),
            any::<i64>(),
        ]
        .prop_map(Signature::AtTime),
        1 => prop_oneof![number_text(), hostile_text().prop_map(|t| header_safe(&t))]
            .prop_map(Signature::BadTime),
        1 => Just(Signature::NoTimestamp),
        1 => Just(Signature::NoV1),
        1 => "[a-z0-9 ]{0,10}".prop_map(Signature::PairWithoutEquals),
        1 => Just(Signature::Spaces),
        2 => hostile_text().prop_map(|t| Signature::Garbled(header_safe(&t))),
        1 => prop::collection::vec(
            any::<u8>().prop_filter("a header value byte", |b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f)),
            0..120,
        )
        .prop_map(|bytes| Signature::Bytes(Bytes(bytes))),
        1 => (1usize..20_000).prop_map(Signature::Huge),
    ]
    .boxed()
}

/// The signature of `payload` at `t`, with the shop's secret.
fn sign(payload: &str, t: i64) -> String {
    Webhook::generate_test_header(payload, WEBHOOK_SECRET, Some(t))
}

fn v1_of(header: &str) -> &str {
    header.split_once(",v1=").map_or("", |(_, v1)| v1)
}

impl Signature {
    /// The header for `body` (`None`: no header), signed now or as the variant says.
    fn header(&self, body: &[u8], now: i64) -> Option<Vec<u8>> {
        let payload = String::from_utf8_lossy(body);
        let fresh = || sign(&payload, now);
        let text = match self {
            Signature::Fresh { skew } => sign(&payload, now + skew),
            Signature::AmongJunk { before, after } => {
                let mut entries = before.clone();
                entries.push(fresh());
                entries.extend(after.iter().cloned());
                entries.join(",")
            }
            Signature::Uppercase => format!("t={now},v1={}", v1_of(&fresh()).to_uppercase()),
            Signature::TwoTimestamps { fresh_last } => {
                let v1 = v1_of(&fresh()).to_owned();
                let stale = now - 1000;
                if *fresh_last {
                    format!("t={stale},t={now},v1={v1}")
                } else {
                    format!("t={now},t={stale},v1={v1}")
                }
            }
            Signature::Missing => return None,
            Signature::Empty => String::new(),
            Signature::WrongSecret(secret) => {
                Webhook::generate_test_header(&payload, secret, Some(now))
            }
            Signature::OtherBody => sign(&format!("{payload} "), now),
            Signature::Stale { secs } => sign(&payload, now - secs),
            Signature::Future { secs } => sign(&payload, now + secs),
            Signature::AtTime(t) => sign(&payload, *t),
            Signature::BadTime(t) => format!("t={t},v1={}", v1_of(&fresh())),
            Signature::NoTimestamp => format!("v1={}", v1_of(&fresh())),
            Signature::NoV1 => format!("t={now}"),
            Signature::PairWithoutEquals(junk) => format!("{},{junk}", fresh()),
            Signature::Spaces => format!("t={now}, v1={}", v1_of(&fresh())),
            Signature::Garbled(text) => text.clone(),
            Signature::Bytes(bytes) => return Some(bytes.0.clone()),
            Signature::Huge(n) => format!("{},{}", fresh(), "v1=0".repeat(*n)),
        };
        Some(text.into_bytes())
    }

    /// Whether Stripe's rules accept it (a `v1` that matches, a `t` within 300 s).
    fn accepted(&self, now: i64) -> bool {
        match self {
            Signature::Fresh { .. }
            | Signature::AmongJunk { .. }
            | Signature::Uppercase
            | Signature::Huge(_) => true,
            Signature::TwoTimestamps { fresh_last } => *fresh_last,
            Signature::AtTime(t) => t.checked_sub(now).is_some_and(|d| d.abs() <= 300),
            _ => false,
        }
    }
}

/// An event for the case's order, as Stripe sends it (before any mutation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    CompletedPaid,
    CompletedUnpaid,
    AsyncSucceeded,
    AsyncFailed,
    Expired,
    /// A type the shop doesn't act on.
    Other(&'static str),
}

fn kind() -> BoxedStrategy<Kind> {
    prop_oneof![
        4 => Just(Kind::CompletedPaid),
        1 => Just(Kind::CompletedUnpaid),
        1 => Just(Kind::AsyncSucceeded),
        1 => Just(Kind::AsyncFailed),
        1 => Just(Kind::Expired),
        1 => prop::sample::select(vec!["fuzz.unknown", "checkout.session.unknown", ""])
            .prop_map(Kind::Other),
    ]
    .boxed()
}

impl Kind {
    fn event_type(self) -> &'static str {
        match self {
            Kind::CompletedPaid | Kind::CompletedUnpaid => "checkout.session.completed",
            Kind::AsyncSucceeded => "checkout.session.async_payment_succeeded",
            Kind::AsyncFailed => "checkout.session.async_payment_failed",
            Kind::Expired => "checkout.session.expired",
            Kind::Other(other) => other,
        }
    }

    fn payment_status(self) -> &'static str {
        match self {
            Kind::CompletedPaid | Kind::AsyncSucceeded => "paid",
            _ => "unpaid",
        }
    }
}

/// What a field holds when Stripe sends it.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Text,
    Integer,
    /// Anything else (objects, booleans): any JSON in its place.
    Other,
}

/// Where in the event a mutation lands.
const FIELDS: &[(&[&str], Shape)] = &[
    (&["id"], Shape::Text),
    (&["type"], Shape::Text),
    (&["created"], Shape::Integer),
    (&["api_version"], Shape::Text),
    (&["livemode"], Shape::Other),
    (&["data"], Shape::Other),
    (&["data", "object"], Shape::Other),
    (&["data", "object", "id"], Shape::Text),
    (&["data", "object", "object"], Shape::Text),
    (&["data", "object", "metadata"], Shape::Other),
    (&["data", "object", "metadata", "order_id"], Shape::Text),
    (&["data", "object", "amount_total"], Shape::Integer),
    (&["data", "object", "currency"], Shape::Text),
    (&["data", "object", "customer_details"], Shape::Other),
    (
        &["data", "object", "customer_details", "email"],
        Shape::Text,
    ),
    (&["data", "object", "customer_email"], Shape::Text),
    (&["data", "object", "payment_status"], Shape::Text),
    (&["data", "object", "status"], Shape::Text),
    (&["data", "object", "mode"], Shape::Text),
    (&["data", "object", "expires_at"], Shape::Integer),
];

#[derive(Clone, Debug)]
pub enum Mutation {
    Set(Value),
    Remove,
}

/// Text Stripe might send in a field, and text it never would (NUL, markup, huge).
fn text_value() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => hostile_text(),
        // What a buyer may type as an email, or an id or a currency may look like; a NUL,
        // which PostgreSQL can't store (SQLite can).
        1 => prop::sample::select(vec![
            "a@b", "a@b.c", "\"quoted space\"@example.com", "jenny@example.com\r\nBcc: x@y.z",
            "jenny@ex ample.com", "jenny@例え.jp", "ｊｅｎｎｙ@example.com", "@", "a@",
            "cs_test_a1", "usd", "eur", "USD", "xxx", "paid", "unpaid", "no_payment_required",
            "complete", "expired", "payment", "subscription", "checkout.session",
            "jenny\u{0}@example.com", "cs_test_\u{0}", "us\u{0}d", "\u{0}",
        ])
        .prop_map(str::to_owned),
    ]
    .prop_map(Value::from)
    .boxed()
}

/// Integers at and past the bounds (past i64 is a parse error, as it should be).
fn integer_value() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => any::<i64>().prop_map(Value::from),
        2 => prop::sample::select(vec![
            json!(0), json!(-1), json!(1), json!(2900), json!(i64::MIN), json!(i64::MAX),
            json!(u64::MAX), json!(1.5), json!(-0.0), json!(1e300),
        ]),
    ]
    .boxed()
}

/// Any JSON: leaves that break types and bounds, nested a few levels.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        text_value(),
        integer_value(),
        any::<f64>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "id",
                        "object",
                        "type",
                        "data",
                        "metadata",
                        "order_id",
                        "email",
                        "amount_total",
                        "currency",
                        "payment_status",
                    ])
                    .prop_map(str::to_owned),
                    "\\PC{0,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A field and what becomes of it: mostly a value of its own shape (so the event still
/// parses and the value reaches the shop), at times any JSON, or nothing.
fn mutation() -> BoxedStrategy<(usize, Mutation)> {
    (0..FIELDS.len())
        .prop_flat_map(|field| {
            let shaped = match FIELDS[field].1 {
                Shape::Text => text_value(),
                Shape::Integer => integer_value(),
                Shape::Other => any_json(),
            };
            let mutation = prop_oneof![
                6 => shaped.prop_map(Mutation::Set),
                2 => any_json().prop_map(Mutation::Set),
                1 => Just(Mutation::Remove),
            ];
            (Just(field), mutation)
        })
        .boxed()
}

/// Sets or removes the value at `path` (creating objects on the way when setting).
fn mutate(event: &mut Value, path: &[&str], mutation: &Mutation) {
    let (last, parents) = path.split_last().expect("paths are not empty");
    let mut at = event;
    for key in parents {
        if !at.is_object() {
            return;
        }
        at = at
            .as_object_mut()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
    let Some(object) = at.as_object_mut() else {
        return;
    };
    match mutation {
        Mutation::Set(value) => {
            object.insert(last.to_string(), value.clone());
        }
        Mutation::Remove => {
            object.remove(*last);
        }
    }
}

#[derive(Clone, Debug)]
pub enum Body {
    /// An event for the case's order, mutated as listed.
    Event {
        kind: Kind,
        mutations: Vec<(usize, Mutation)>,
    },
    Json(Value),
    Text(String),
    Bytes(Bytes),
    /// `[[[…]]]` or `{"a":{"a":…}}`, this deep.
    Deep {
        depth: usize,
        objects: bool,
    },
}

fn body() -> BoxedStrategy<Body> {
    prop_oneof![
        6 => (kind(), Just(Vec::new())).prop_map(|(kind, mutations)| Body::Event { kind, mutations }),
        6 => (kind(), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(kind, mutations)| Body::Event { kind, mutations }),
        2 => any_json().prop_map(Body::Json),
        1 => hostile_text().prop_map(Body::Text),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Body::Bytes(Bytes(b))),
        1 => (1usize..100_000, any::<bool>()).prop_map(|(depth, objects)| Body::Deep { depth, objects }),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub struct WebhookCase {
    /// The case's order is paid already (receipt sent) rather than pending.
    paid_before: bool,
    product: i64,
    body: Body,
    signature: Signature,
    content_type: Option<&'static str>,
}

fn case() -> impl Strategy<Value = WebhookCase> {
    (
        prop::bool::weighted(0.3),
        1i64..=4,
        body(),
        signature(),
        prop::sample::select(vec![
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ]),
    )
        .prop_map(
            |(paid_before, product, body, signature, content_type)| WebhookCase {
                paid_before,
                product,
                body,
                signature,
                content_type,
            },
        )
}

/// The case's own order, made before the request.
struct Target {
    order: Order,
    session_id: String,
    price: i64,
}

fn prepare(shop: &Shop, case: &WebhookCase, n: usize) -> Target {
    let session_id = format!("cs_test_wh_{n}");
    let app = shop.app();
    let price = shop
        .block_on(app.product(case.product))
        .price_cents
        .unwrap();
    let order = shop.block_on(app.pending_order(case.product, &session_id));
    if case.paid_before {
        let paid = shop.block_on(app.deliver(&completed_event(
            &format!("evt_wh_setup_{n}"),
            &session_id,
            order.id,
            price,
        )));
        assert_eq!(paid.status(), 200);
        // Its receipt is written after the answer: the case starts once it is.
        shop.block_on(app.settle_receipts());
    }
    let order = shop
        .block_on(storefront::orders::find(&app.db, order.id))
        .unwrap()
        .unwrap();
    Target {
        order,
        session_id,
        price,
    }
}

fn body_bytes(case: &WebhookCase, target: &Target, n: usize) -> Vec<u8> {
    match &case.body {
        Body::Event { kind, mutations } => {
            let mut session = session_json(
                &target.session_id,
                target.order.id,
                kind.payment_status(),
                target.price,
            );
            if *kind == Kind::Expired {
                session["status"] = "expired".into();
            }
            let mut event: Value = serde_json::from_str(&event_json(
                &format!("evt_wh_{n}"),
                kind.event_type(),
                session,
            ))
            .unwrap();
            for (field, mutation) in mutations {
                mutate(&mut event, FIELDS[*field].0, mutation);
            }
            event.to_string().into_bytes()
        }
        Body::Json(value) => value.to_string().into_bytes(),
        Body::Text(text) => text.clone().into_bytes(),
        Body::Bytes(bytes) => bytes.0.clone(),
        Body::Deep { depth, objects } => {
            let (open, close) = if *objects {
                (r#"{"a":"#, "}")
            } else {
                ("[", "]")
            };
            let mut deep = open.repeat(*depth);
            deep.push('0');
            deep.push_str(&close.repeat(*depth));
            deep.into_bytes()
        }
    }
}

/// What Stripe's own event (unmutated, validly signed) must do: the answer's `outcome`
/// (and `receipt`), the order's status afterwards, and whether a receipt is written.
fn expected_outcome(kind: Kind, paid_before: bool) -> (&'static str, Option<&'static str>) {
    match (kind, paid_before) {
        (Kind::Other(_), _) => ("ignored", None),
        // Written after the answer: the order's receipt_sent_at shows it was.
        (Kind::CompletedPaid | Kind::AsyncSucceeded, false) => ("paid", Some("queued")),
        (Kind::CompletedPaid | Kind::AsyncSucceeded, true) => ("paid", Some("already_sent")),
        (_, true) => ("unchanged", None),
        (Kind::CompletedUnpaid, false) => ("awaiting_payment", None),
        (Kind::AsyncFailed, false) => ("payment_failed", None),
        (Kind::Expired, false) => ("expired", None),
    }
}

fn status_after(kind: Kind, paid_before: bool) -> OrderStatus {
    match (kind, paid_before) {
        (_, true) | (Kind::CompletedPaid | Kind::AsyncSucceeded, false) => OrderStatus::Paid,
        (Kind::CompletedUnpaid, false) => OrderStatus::AwaitingPayment,
        (Kind::AsyncFailed, false) => OrderStatus::PaymentFailed,
        (Kind::Expired, false) => OrderStatus::Expired,
        (Kind::Other(_), false) => OrderStatus::Pending,
    }
}

#[test]
fn fuzz_the_stripe_webhook() {
    campaign(&Shop::start(), "webhook");
}

/// The same on PostgreSQL, which refuses text SQLite stores (a NUL byte), when
/// `TEST_POSTGRES_URL` names a server.
#[test]
fn fuzz_the_stripe_webhook_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) =
        runtime.block_on(scratch_postgres("fuzz_the_stripe_webhook_on_postgresql"))
    else {
        return;
    };
    let shop = Shop::start_on(Some(database.url.clone()));
    campaign(&shop, "webhook on postgresql");
    // The database goes after the shop that uses it.
    drop(shop);
    drop(database);
}

fn campaign(shop: &Shop, name: &str) {
    bystanders(shop);
    let counter = std::sync::atomic::AtomicUsize::new(0);
    shop.campaign(name, case(), |shop, case| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let target = prepare(shop, &case, n);
        let verdict = deliver_and_judge(shop, &case, &target, n);
        // Judged: its order goes, so the table stays the bystanders and one order (each
        // case reads it whole, twice).
        let db = &shop.app().db;
        shop.block_on(entities::orders::Entity::delete_by_id(target.order.id).exec(db))
            .expect("deleting the case's order");
        verdict
    });
}

/// Orders no case's event is about, in each state an event could wrongly move them from:
/// pending, paid with its receipt sent, awaiting a bank debit, expired.
fn bystanders(shop: &Shop) {
    let app = shop.app();
    for (n, kind) in [
        None,
        Some(Kind::CompletedPaid),
        Some(Kind::CompletedUnpaid),
        Some(Kind::Expired),
    ]
    .into_iter()
    .enumerate()
    {
        let session_id = format!("cs_test_bystander_{n}");
        let order = shop.block_on(app.pending_order(1, &session_id));
        let Some(kind) = kind else { continue };
        let mut session = session_json(&session_id, order.id, kind.payment_status(), 2900);
        if kind == Kind::Expired {
            session["status"] = "expired".into();
        }
        let event = event_json(&format!("evt_bystander_{n}"), kind.event_type(), session);
        assert_eq!(shop.block_on(app.deliver(&event)).status(), 200);
    }
}

/// Sends the case's request and judges the answer, the orders and the outbox.
fn deliver_and_judge(
    shop: &Shop,
    case: &WebhookCase,
    target: &Target,
    n: usize,
) -> Result<(), TestCaseError> {
    let body = body_bytes(case, target, n);
    let now = chrono::Utc::now().timestamp();
    let mut req = Request::new("POST", "/webhooks/stripe").body(body.clone());
    if let Some(content_type) = case.content_type {
        req = req.header("Content-Type", content_type);
    }
    if let Some(signature) = case.signature.header(&body, now) {
        req = req.header("Stripe-Signature", signature);
    }
    // Receipts first: counting them waits for those written after an answer (the
    // setup's payment), so `before` is settled too.
    let emails_before = shop.emails();
    let before = shop.orders();
    let reply = exchange(shop, &req)?;
    // Receipts first: counting them waits for those written after the answer.
    let emails = shop.emails() - emails_before;
    let after = shop.orders();

    if body.len() > 256 * 1024 {
        prop_assert_eq!(reply.status, 413, "{} -> {}", req.shown(), reply.summary());
        prop_assert_eq!(emails, 0);
        return unchanged(&before, &after, &req);
    }
    let signed = case.signature.accepted(now) && std::str::from_utf8(&body).is_ok();
    if !signed {
        prop_assert_eq!(reply.status, 400, "{} -> {}", req.shown(), reply.summary());
        prop_assert_eq!(emails, 0);
        return unchanged(&before, &after, &req);
    }

    // Signed: no other order moves, whatever the event says.
    let others = |orders: &[Order]| -> Vec<Order> {
        orders
            .iter()
            .filter(|o| o.id != target.order.id)
            .cloned()
            .collect()
    };
    unchanged(&others(&before), &others(&after), &req)?;
    let order = after
        .iter()
        .find(|o| o.id == target.order.id)
        .cloned()
        .ok_or_else(|| TestCaseError::fail("the case's order is gone"))?;
    let answer = reply.json().unwrap_or_default();

    match &case.body {
        Body::Event { kind, mutations } if mutations.is_empty() => {
            let (outcome, receipt) = expected_outcome(*kind, case.paid_before);
            prop_assert_eq!(reply.status, 200, "{} -> {}", req.shown(), reply.summary());
            prop_assert_eq!(&answer["outcome"], outcome, "{}", answer);
            if let Some(receipt) = receipt {
                prop_assert_eq!(&answer["receipt"], receipt, "{}", answer);
            }
            prop_assert_eq!(emails, usize::from(receipt == Some("queued")));
            prop_assert_eq!(order.status, status_after(*kind, case.paid_before));
            if case.paid_before || matches!(kind, Kind::Other(_)) {
                prop_assert_eq!(&order, &target.order, "the order changed");
            } else if order.status == OrderStatus::Paid {
                prop_assert_eq!(order.amount_cents, target.price);
                prop_assert_eq!(order.buyer_email.as_deref(), Some(BUYER_EMAIL));
                prop_assert!(order.paid_at.is_some() && order.receipt_sent_at.is_some());
            }
        }
        _ => {
            prop_assert!(
                reply.status == 200 || reply.status == 400,
                "{} -> {}",
                req.shown(),
                reply.summary()
            );
            if case.paid_before {
                prop_assert_eq!(&order, &target.order, "a paid order changed");
            }
            prop_assert!(emails <= 1);
            if emails == 1 {
                prop_assert!(order.status == OrderStatus::Paid && !case.paid_before);
            }
            if order.status == OrderStatus::Paid {
                prop_assert!(order.paid_at.is_some());
            }
        }
    }
    Ok(())
}
