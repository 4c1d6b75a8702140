//! Property-based fuzzing of every storefront route over HTTP (proptest): the pages
//! (`/`, `/products/{id}`, `/static/shop.css`, `/healthz`, unknown paths, every method),
//! the Buy form (`POST /products/{id}/buy`), the return from Checkout
//! (`GET /products/{id}/post_checkout`), the Stripe webhook (`POST /webhooks/stripe`), and
//! raw bytes on the socket. Whatever a client sends: no panic anywhere in the shop, no 5xx,
//! an error page (HTML, with its status and a message) on the pages and a JSON error on the
//! webhook, the status the request deserves, no order created, changed or lost by a
//! request that should not touch one, and a shop that still serves pages and sells
//! afterwards. (The shop has no accounts or creator pages: these are all its routes, as
//! `storefront::app` builds them.)
//!
//! `cargo test -p storefront --test fuzz` runs a short campaign with a fixed seed (64
//! cases per target, a few seconds). The long one is the same tests with more cases:
//!
//! ```sh
//! FUZZ_CASES=5000 cargo test -p storefront --test fuzz -- --nocapture
//! ```
//!
//! `FUZZ_SEED=n` changes the seed; each test prints its figures (cases, answers by status).
//! With `TEST_POSTGRES_URL` set, the webhook is fuzzed on PostgreSQL too. Each receipt and
//! each SQLite write is flushed to disk: where that is slow, `TMPDIR=/dev/shm` keeps the
//! shops' files in memory (several times faster, the same code).

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod buy;
mod pages;
mod raw;
mod strategies;
mod stripe;
mod webhook;

use std::net::SocketAddr;
use std::time::Duration;

use helpers::{AppOptions, TestApp, completed_event, hidden_input, spawn_app_with};
use http_fuzz::campaign::{self, Panics, Tally};
use http_fuzz::wire::{self, ReadUntil, Reply, Request, cut};
use proptest::strategy::Strategy;
use proptest::test_runner::{TestCaseError, TestError};
use storefront::orders::{Order, OrderStatus};

/// How long one request may take before the case fails as a stall: generous, for a debug
/// build on a loaded machine (a Buy calls the fake Stripe; nothing else waits on purpose).
pub const DEADLINE: Duration = Duration::from_secs(15);

/// The short campaign's cases per target.
pub const DEFAULT_CASES: u32 = 64;

/// The fixed seed of the campaigns (`FUZZ_SEED` overrides it).
const SEED: u64 = 0x5707_ef20;

/// A browser's identity with the shop: its cookies and the Buy form's token.
#[derive(Clone, Debug)]
pub struct Shopper {
    /// The value of the `storefront-csrf` cookie.
    pub csrf_cookie: String,
    /// The value of the `storefront-session` cookie (holding a flash message).
    pub session_cookie: String,
    /// The `csrf_token` of the Buy form, valid with `csrf_cookie` only.
    pub token: String,
}

impl Shopper {
    /// Both cookies, as a browser sends them.
    pub fn cookie_header(&self) -> String {
        format!(
            "storefront-csrf={}; storefront-session={}",
            self.csrf_cookie, self.session_cookie
        )
    }
}

/// A running shop (SQLite, a fake Stripe that opens a fresh session per Buy), two
/// shoppers, and the figures of a campaign.
pub struct Shop {
    /// Panics on the shop's runtime threads (`fuzz-shop-{n}`: its handlers and the tasks
    /// they spawn).
    panics: Panics,
    app: Option<TestApp>,
    pub stripe: stripe::FakeCheckout,
    addr: SocketAddr,
    /// Whose cookies and token the cases use.
    pub alice: Shopper,
    /// Another browser: its token is no good with Alice's cookies, and the reverse.
    pub bob: Shopper,
    tally: Tally,
    rt: tokio::runtime::Runtime,
}

impl Drop for Shop {
    /// The shop's connections and tasks close inside its runtime.
    fn drop(&mut self) {
        let _inside = self.rt.enter();
        self.app.take();
    }
}

impl Shop {
    pub fn start() -> Shop {
        Shop::start_on(None)
    }

    /// A shop on the database `database_url` (`None`: a SQLite file of its own).
    pub fn start_on(database_url: Option<String>) -> Shop {
        let (rt, panics) = campaign::server_runtime("fuzz-shop-");
        let (app, stripe) = rt.block_on(async {
            let stripe = stripe::FakeCheckout::start().await;
            let app = spawn_app_with(AppOptions {
                stripe_api_base: stripe.base_url.clone(),
                database_url,
                ..AppOptions::default()
            })
            .await;
            (app, stripe)
        });
        let addr = app
            .base_url
            .trim_start_matches("http://")
            .parse()
            .expect("the shop's address");
        let mut shop = Shop {
            panics,
            app: Some(app),
            stripe,
            addr,
            alice: placeholder_shopper(),
            bob: placeholder_shopper(),
            tally: Tally::default(),
            rt,
        };
        shop.alice = shop.new_shopper();
        shop.bob = shop.new_shopper();
        // The oracle's premise: a well-formed purchase works before any fuzzing.
        shop.assert_still_sells();
        shop
    }

    pub fn app(&self) -> &TestApp {
        self.app.as_ref().expect("the shop runs until dropped")
    }

    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.rt.block_on(work)
    }

    /// Sends one request of a case; counted in the campaign's figures.
    pub fn send(&self, req: &Request) -> Result<Reply, String> {
        self.send_raw(&req.to_bytes(), false)
    }

    /// Sends raw bytes of a case (anything at all).
    pub fn send_raw(&self, raw: &[u8], half_close: bool) -> Result<Reply, String> {
        let reply = self.send_uncounted(raw, half_close);
        self.tally.count(&reply);
        reply
    }

    /// Set-up calls and checks: not part of the figures.
    pub fn send_uncounted(&self, raw: &[u8], half_close: bool) -> Result<Reply, String> {
        self.rt.block_on(wire::exchange(
            self.addr,
            raw,
            half_close,
            ReadUntil::Close,
            DEADLINE,
        ))
    }

    /// A fresh browser: loads a product page (the CSRF cookie and the form's token), then
    /// comes back from Checkout (a session cookie holding a flash message).
    fn new_shopper(&self) -> Shopper {
        let page = self
            .send_uncounted(&Request::new("GET", "/products/1").to_bytes(), false)
            .expect("the product page answers");
        assert_eq!(page.status, 200, "{}", page.summary());
        let csrf_cookie = cookie_value(&page, "storefront-csrf");
        let token = hidden_input(&page.text(), "csrf_token").expect("the Buy form's token");
        let back = Request::new(
            "GET",
            "/products/1/post_checkout?status=cancel&session_id=cs_test_setup",
        );
        let back = self
            .send_uncounted(&back.to_bytes(), false)
            .expect("the return from Checkout answers");
        assert_eq!(back.status, 303, "{}", back.summary());
        Shopper {
            csrf_cookie,
            session_cookie: cookie_value(&back, "storefront-session"),
            token,
        }
    }

    pub fn orders(&self) -> Vec<Order> {
        self.block_on(self.app().orders())
    }

    /// Receipts in the outbox (counted, not read: a long campaign writes thousands), once
    /// the receipts due are written (the shop writes them after answering the webhook).
    pub fn emails(&self) -> usize {
        self.block_on(self.app().settle_receipts());
        std::fs::read_dir(&self.app().outbox).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
    }

    /// Fails the case when the shop panicked, or no longer serves its pages.
    pub fn still_alive(&self, panics_before: usize) -> Result<(), TestCaseError> {
        let panics = self.panics.count();
        if panics != panics_before {
            return Err(TestCaseError::fail(format!(
                "{} panic(s) in the shop (see the log above)",
                panics - panics_before
            )));
        }
        for path in ["/healthz", "/"] {
            match self.send_uncounted(&Request::new("GET", path).to_bytes(), false) {
                Ok(r) if r.status == 200 => {}
                Ok(r) => {
                    return Err(TestCaseError::fail(format!(
                        "GET {path} answered {} afterwards",
                        r.summary()
                    )));
                }
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "GET {path} did not answer afterwards: {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Runs a campaign: `test` for each generated case, then the liveness checks; then
    /// the shop must still sell.
    pub fn campaign<S: Strategy>(
        &self,
        name: &str,
        strategy: S,
        test: impl Fn(&Shop, S::Value) -> Result<(), TestCaseError>,
    ) where
        S::Value: std::fmt::Debug,
    {
        let result = campaign::run(name, DEFAULT_CASES, SEED, &self.tally, &strategy, |case| {
            let before = self.panics.count();
            test(self, case)?;
            self.still_alive(before)
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, case)) => panic!(
                "fuzz {name}: {reason}\nminimal failing input: {}",
                shorten_lines(&format!("{case:#?}"))
            ),
            Err(e) => panic!("fuzz {name}: {e}"),
        }
        self.assert_still_sells();
    }

    /// A whole purchase by a new browser: product page, Buy (303 to Checkout), the signed
    /// `checkout.session.completed`, then one paid order and one receipt more.
    pub fn assert_still_sells(&self) {
        let app = self.app();
        let emails_before = self.emails();
        self.block_on(async {
            let browser = helpers::browser();
            let html = browser
                .get(app.url("/products/2"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let token = hidden_input(&html, "csrf_token").expect("the Buy form's token");
            let bought = browser
                .post(app.url("/products/2/buy"))
                .form(&[("csrf_token", token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(bought.status(), 303, "a normal Buy after fuzzing");
            let checkout = helpers::location(&bought);
            assert!(checkout.starts_with(stripe::CHECKOUT_URL), "{checkout}");
            let session_id = checkout.trim_start_matches(stripe::CHECKOUT_URL);
            let order = storefront::orders::find_by_checkout_session(&app.db, session_id)
                .await
                .unwrap()
                .expect("Buy recorded the order");
            assert_eq!(order.status, OrderStatus::Pending);
            let price = app.product(2).await.price_cents.unwrap();
            assert_eq!(order.amount_cents, price);

            let event_id = format!("evt_fuzz_sells_{}", order.id);
            let paid = app
                .deliver(&completed_event(&event_id, session_id, order.id, price))
                .await;
            assert_eq!(paid.status(), 200, "the signed webhook after fuzzing");
            let answer: serde_json::Value = paid.json().await.unwrap();
            assert_eq!(answer["outcome"], "paid", "{answer}");
            assert_eq!(answer["receipt"], "queued", "{answer}");
            let order = storefront::orders::find(&app.db, order.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(order.status, OrderStatus::Paid);
        });
        assert_eq!(self.emails(), emails_before + 1, "one receipt more");
        for path in ["/", "/products/1", "/products/5", "/static/shop.css"] {
            let page = self
                .send_uncounted(&Request::new("GET", path).to_bytes(), false)
                .unwrap_or_else(|e| panic!("GET {path}: {e}"));
            assert_eq!(page.status, 200, "GET {path}: {}", page.summary());
        }
    }
}

/// A case as a failure shows it: each line cut (huge strings print on one line).
fn shorten_lines(debug: &str) -> String {
    debug
        .lines()
        .map(|line| cut(line, 300))
        .collect::<Vec<_>>()
        .join("\n")
}

fn placeholder_shopper() -> Shopper {
    Shopper {
        csrf_cookie: String::new(),
        session_cookie: String::new(),
        token: String::new(),
    }
}

fn cookie_value(reply: &Reply, name: &str) -> String {
    reply
        .cookies_set()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} cookie set: {:?}", reply.headers))
}

/// Which kind of answer a request must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Browsers' requests: errors are the shop's error page.
    Page,
    /// `POST /webhooks/stripe`: Stripe reads JSON, errors as `{"error": "…"}`.
    Webhook,
}

/// The webhook's POSTs, and any answer of the body limit under `/webhooks/` (it goes by
/// the path alone); other methods there get the router's pages, as everywhere.
pub fn family_of(method: &str, path: &str, status: u16) -> Family {
    let webhook_post = method == "POST" && path == "/webhooks/stripe";
    if webhook_post || (status == 413 && path.starts_with("/webhooks/")) {
        Family::Webhook
    } else {
        Family::Page
    }
}

/// hyper's read buffer: a request head that doesn't fit is its bare 431.
const HYPER_MAX_HEAD: usize = 8192 + 4096 * 100;

/// hyper's own answers to a well-formed request over its limits, before the shop sees it:
/// a head over its buffer or of more than 100 header lines (431), a target over 65,534
/// bytes (414). A head past the buffer may still come whole in one read (then a long
/// target is a 414); only targets grow that large here.
pub fn hyper_refusal(req: &Request) -> Option<Vec<u16>> {
    let head = req.to_bytes().len() - req.body.len();
    // Host, Connection and Content-Length are added to the case's headers.
    let lines = req.headers.len() + 3;
    let mut statuses = Vec::new();
    if head > HYPER_MAX_HEAD || lines > 100 {
        statuses.push(431);
    }
    if req.target.len() > 65_534 {
        statuses.push(414);
    }
    (!statuses.is_empty()).then_some(statuses)
}

/// What every answer of the shop's must be (hyper's own answers to requests it can't
/// parse are judged by the raw fuzzer alone): never a 5xx, with the security headers, an
/// error page that names its status (a page) or a JSON error (the webhook), JSON from the
/// webhook, and redirects that say where.
pub fn judge(req: &Request, reply: &Reply) -> Result<(), TestCaseError> {
    let what = || format!("{} -> {}", req.shown(), reply.summary());
    let fail = |why: &str| Err(TestCaseError::fail(format!("{why}: {}", what())));
    if reply.status >= 500 {
        return fail("a 5xx");
    }
    if let Some(statuses) = hyper_refusal(req) {
        return if statuses.contains(&reply.status) {
            Ok(())
        } else {
            fail(&format!(
                "not hyper's {statuses:?} for a request over its limits"
            ))
        };
    }
    if reply.header("x-content-type-options") != Some("nosniff") {
        return fail("an answer without the security headers");
    }
    if req.method == "HEAD" {
        return Ok(());
    }
    if (300..400).contains(&reply.status) && reply.header("location").is_none() {
        return fail("a redirect without a Location");
    }
    match family_of(&req.method, req.path(), reply.status) {
        Family::Page if reply.status >= 400 => {
            if !reply.content_type().starts_with("text/html") {
                return fail("an error that is not a page");
            }
            let text = reply.text();
            if !text.contains("<h1>") || !text.contains(&format!("Error {}", reply.status)) {
                return fail("an error page without its title or status");
            }
        }
        Family::Page => {}
        Family::Webhook => {
            if !reply.content_type().starts_with("application/json") {
                return fail("a webhook answer that is not JSON");
            }
            let Some(body) = reply.json() else {
                return fail("a webhook answer with invalid JSON");
            };
            let shaped = if reply.status >= 400 {
                body["error"].is_string()
            } else {
                body["received"] == true
            };
            if !shaped {
                return fail("a webhook answer without `error` or `received`");
            }
        }
    }
    Ok(())
}

/// Sends and judges.
pub fn exchange(shop: &Shop, req: &Request) -> Result<Reply, TestCaseError> {
    let reply = shop
        .send(req)
        .map_err(|e| TestCaseError::fail(format!("no answer to {}: {e}", req.shown())))?;
    judge(req, &reply)?;
    Ok(reply)
}

/// Fails the case unless the orders are exactly as they were (same rows, same values).
pub fn unchanged(before: &[Order], after: &[Order], req: &Request) -> Result<(), TestCaseError> {
    if before == after {
        return Ok(());
    }
    let changed: Vec<String> = after
        .iter()
        .filter(|o| !before.contains(o))
        .map(|o| format!("{o:?}"))
        .collect();
    Err(TestCaseError::fail(format!(
        "orders changed ({} before, {} after; new or changed: {changed:?}) by {}",
        before.len(),
        after.len(),
        req.shown()
    )))
}
