//! The browser's side: the payment page `/c/pay/{id}` (and its 3-D Secure answer
//! `/c/pay/{id}/authenticate`), a PaymentIntent's challenge page `/c/3ds/{pi}`, and
//! Stripe.js (`/v3/`, `/v3/checkout/sessions/{id}`). Open sessions are renewed every few
//! cases, since cases pay them.

use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategies::{self, Form};
use crate::{Harness, KEY, exchange};
use http_fuzz::wire::Request;

const PAY: &str = "email=buyer@example.com&cardNumber=4242424242424242&cardExpiry=12 / 34\
    &cardCvc=123&billingName=Jenny Rosen";

pub const ROUTES: &[(&str, &str, &[&str])] = &[
    ("GET", "/c/pay/{id}", &["", "x=1"]),
    ("HEAD", "/c/pay/{id}", &[""]),
    (
        "POST",
        "/c/pay/{id}",
        &[
            PAY,
            "email=buyer@example.com&cardNumber=4000002500003155&cardExpiry=12/34&cardCvc=123",
            "email=buyer@example.com&cardNumber=4000000000000002&cardExpiry=01 / 20&cardCvc=1",
            "email=buyer@example.com&cardNumber=4000000000005126&cardExpiry=12 / 2034&cardCvc=1234",
            "email=buyer@example.com&paymentMethod=sepa_debit&iban=AT611904300234573201&billingName=A",
            "email=buyer@example.com&paymentMethod=us_bank_account&routingNumber=110000000\
         &accountNumber=000123456789&billingName=A",
        ],
    ),
    (
        "POST",
        "/c/pay/{id}/authenticate",
        &["challenge=x&outcome=complete", "outcome=fail"],
    ),
    ("GET", "/c/3ds/{id}", &["challenge={challenge3ds}", ""]),
    (
        "POST",
        "/c/3ds/{id}",
        &[
            "challenge={challenge3ds}&outcome=complete",
            "challenge={challenge3ds}&outcome=fail",
        ],
    ),
    ("GET", "/v3/", &[""]),
    ("GET", "/v3", &[""]),
    (
        "GET",
        "/v3/checkout/sessions/{id}",
        &[
            "key=pk_test_fuzz0001",
            "key=pk_test_fuzz0001&stripe_account=acct_1Fuzz",
            "key=sk_test_fuzz0001",
        ],
    ),
];

fn natural_id(path: &str) -> &'static str {
    if path.starts_with("/c/3ds/") {
        "{pi3ds}"
    } else {
        "{cs}"
    }
}

#[derive(Clone, Debug)]
pub struct PageCase {
    method: String,
    path: String,
    form: Form,
    content_type: Option<&'static str>,
    /// When the answer is a 3-D Secure page, answer it with this outcome.
    follow: Option<Form>,
}

pub fn case() -> impl Strategy<Value = PageCase> {
    (0..ROUTES.len()).prop_flat_map(|i| {
        let (method, path, forms) = ROUTES[i];
        let id = prop_oneof![
            6 => Just(natural_id(path).to_string()),
            2 => strategies::id(),
        ];
        let content_type = prop_oneof![
            8 => Just(Some("application/x-www-form-urlencoded")),
            1 => prop::sample::select(vec![
                Some("multipart/form-data; boundary=x"),
                Some("application/json"),
                None,
            ]),
        ];
        let follow = prop::option::weighted(
            0.8,
            strategies::mutated("challenge={token}&outcome=complete"),
        );
        (
            strategies::method(method),
            id,
            prop::sample::select(forms.to_vec()).prop_flat_map(strategies::mutated),
            content_type,
            follow,
        )
            .prop_map(move |(method, id, form, content_type, follow)| PageCase {
                method,
                path: path.replace("{id}", &id),
                form,
                content_type,
                follow,
            })
    })
}

/// The hidden challenge token of a 3-D Secure page.
fn challenge_token(html: &str) -> Option<String> {
    let at = html.find("name=\"challenge\"")?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    Some(rest[start..start + rest[start..].find('"')?].to_string())
}

/// Sends one case (and answers a 3-D Secure page it gets) and judges the answers.
pub fn run(h: &Harness, c: &PageCase, f: &mut crate::Fixtures) -> Result<(), TestCaseError> {
    let mut req = strategies::build(&c.method, &c.path, &c.form, false, &[], f);
    if let Some(ct) = c.content_type {
        req.headers
            .push(("Content-Type".into(), ct.as_bytes().to_vec()));
    }
    let reply = exchange(h, &req)?;
    if let (Some(follow), Some(token)) = (&c.follow, challenge_token(&reply.text())) {
        f.insert("token", token);
        // The payment page's challenge posts to `…/authenticate`, a PaymentIntent's to
        // its own page.
        let path = req.path();
        let target = if path.starts_with("/c/pay/") && !path.ends_with("/authenticate") {
            format!("{path}/authenticate")
        } else {
            path.to_owned()
        };
        let mut answer = Request::new("POST", &strategies::escape_target(&target));
        answer.headers.push((
            "Content-Type".into(),
            b"application/x-www-form-urlencoded".to_vec(),
        ));
        answer.body = follow.wire(f).into_bytes();
        exchange(h, &answer)?;
    }
    Ok(())
}

#[test]
fn fuzz_payment_pages_and_stripe_js() {
    let h = Harness::start(Harness::default_config());
    let counter = AtomicU32::new(0);
    h.campaign("pages", 400, case(), |h, c| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let mut f = if n.is_multiple_of(10) {
            h.refresh_fixtures(KEY)
        } else {
            h.fixtures(KEY)
        };
        run(h, &c, &mut f)
    });
}
