//! End-to-end purchase flows: shoppers open a product page in the storefront, press Buy
//! (the shop creates a pending order and a Checkout Session on mock-stripe), load the
//! hosted payment page and post its form with 4242… (as the harness's shopper does, over
//! HTTP, no browser), mock-stripe delivers `checkout.session.completed` to the shop, which
//! commits the order and answers 2xx, and only then (redirect timing `before`, the default
//! and Stripe's order) sends the shopper back to the shop's success URL and on to the
//! product page with the thank-you message.
//!
//! Both servers are their binaries, as separate processes wired as `harness up` wires them
//! (`--webhook` forwarding every event of the account to the shop): in the load
//! generator's process they would share its runtime and allocator, which no deployment
//! does. After each run the shop's database must hold exactly one paid order per
//! completed flow, or the run fails: a flow counts only if the order really committed.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use sea_orm::{ConnectionTrait, Database as Db, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};

use crate::loadgen::{self, Load, Request};
use crate::servers::{self, Process};

/// The card every shopper pays with: Stripe's always-succeeding Visa.
const CARD: &str = "4242 4242 4242 4242";
const SHOP_KEY: &str = "sk_test_bench_shop";
const WEBHOOK_SECRET: &str = "whsec_bench_flows_0123456789abcdef";
const COMPLETED: &str = "checkout.session.completed";
/// How often the mock's delivery log is read during the window: it keeps the last
/// `--delivery-log` attempts (1000 by default), a second or so of deliveries at full load.
const LOG_POLL: Duration = Duration::from_secs(1);

/// Where the storefront keeps its orders.
#[derive(Clone, Debug)]
pub enum Database {
    /// A SQLite file in a temporary folder (the storefront's default kind).
    Sqlite,
    /// A database made for the run on this server (its user may create databases) and
    /// dropped afterwards, as the harness does.
    Postgres { admin_url: String },
}

impl Database {
    pub fn label(&self) -> &'static str {
        match self {
            Database::Sqlite => "SQLite",
            Database::Postgres { .. } => "PostgreSQL",
        }
    }
}

/// One measured run of `shoppers` concurrent shoppers.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRow {
    pub database: String,
    pub shoppers: usize,
    /// Completed flows started inside the measured window.
    pub flows: u64,
    /// Flows that failed at any step (unexpected status, missing redirect, transport).
    pub errors: u64,
    pub rate: f64,
    /// A whole flow: product page to the thank-you page.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The payment form's POST to its redirect: the charge, the webhook delivered and
    /// committed by the shop, then the redirect (an upper bound of payment → shop's 2xx).
    pub pay_p50_ms: f64,
    pub pay_p99_ms: f64,
    /// First attempts of `checkout.session.completed` read from the mock's delivery log
    /// (request sent → the shop's answer read; whole milliseconds, truncated).
    pub webhook_samples: usize,
    pub webhook_p50_ms: f64,
    pub webhook_p99_ms: f64,
    /// Attempts (any event) in the log that did not get a 2xx.
    pub webhook_failures: usize,
    /// Deliveries the shop gets per flow (every event is forwarded; it acts on one).
    pub deliveries_per_flow: f64,
}

/// Runs `shoppers` shoppers against a fresh shop and mock for warm-up + duration.
pub async fn measure(
    mock_bin: &Path,
    shop_bin: &Path,
    database: &Database,
    shoppers: usize,
    load: Load,
) -> Result<FlowRow> {
    let stack = Stack::start(mock_bin, shop_bin, database).await?;
    let result = drive(&stack, shoppers, load).await;
    stack.stop_and_check(result, database, shoppers).await
}

/// The mock and the shop, wired to each other, each with its own port.
struct Stack {
    mock: Process,
    shop: Process,
    /// The shop's database and outbox (SQLite file inside).
    dir: tempfile::TempDir,
    database_url: String,
    scratch: Option<Scratch>,
    /// Product ids that have a Buy form.
    products: Vec<u64>,
}

impl Stack {
    async fn start(mock_bin: &Path, shop_bin: &Path, database: &Database) -> Result<Stack> {
        let dir = tempfile::Builder::new()
            .prefix("bench-flows-")
            .tempdir()
            .context("creating a temporary folder")?;
        let (database_url, scratch) = match database {
            Database::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("storefront.sqlite").display()
                ),
                None,
            ),
            Database::Postgres { admin_url } => {
                let scratch = Scratch::create(admin_url).await?;
                (scratch.url.clone(), Some(scratch))
            }
        };
        let (mock_port, shop_port) = (servers::free_port()?, servers::free_port()?);
        let mock_addr: SocketAddr = (Ipv4Addr::LOCALHOST, mock_port).into();
        let shop_addr: SocketAddr = (Ipv4Addr::LOCALHOST, shop_port).into();

        let mut cmd = Command::new(mock_bin);
        cmd.args(["--port", &mock_port.to_string()])
            .args(["--webhook", &format!("http://{shop_addr}/webhooks/stripe")])
            .args(["--webhook-secret", WEBHOOK_SECRET]);
        let health = Request {
            api_key: None,
            ..Request::get("/_config/health", "")
        };
        let mock = Process::spawn(cmd, mock_addr, health, Duration::from_secs(10))
            .await
            .with_context(|| format!("starting {}", mock_bin.display()))?;

        let mut cmd = Command::new(shop_bin);
        cmd.env("DATABASE_URL", &database_url)
            .env("STRIPE_API_BASE", format!("http://{mock_addr}"))
            .env("STRIPE_SECRET_KEY", SHOP_KEY)
            .env("STRIPE_PUBLISHABLE_KEY", "pk_test_bench_shop")
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("HOST", "127.0.0.1")
            .env("PORT", shop_port.to_string())
            .env("MAIL_OUTBOX", dir.path().join("outbox"))
            .env("SESSION_KEY", "ab".repeat(64));
        let health = Request {
            api_key: None,
            ..Request::get("/healthz", "")
        };
        // Migrations on a new PostgreSQL database take a while.
        let shop = Process::spawn(cmd, shop_addr, health, Duration::from_secs(60))
            .await
            .with_context(|| format!("starting {}", shop_bin.display()))?;

        let products = for_sale(shop_addr).await?;
        Ok(Stack {
            mock,
            shop,
            dir,
            database_url,
            scratch,
            products,
        })
    }

    /// Stops both, then counts the paid orders: one per completed flow, or `result` fails.
    async fn stop_and_check(
        self,
        result: Result<(FlowRow, u64)>,
        database: &Database,
        shoppers: usize,
    ) -> Result<FlowRow> {
        let Stack {
            mock,
            shop,
            dir,
            database_url,
            scratch,
            ..
        } = self;
        drop(shop);
        drop(mock);
        let paid = paid_orders(&database_url).await;
        if let Some(s) = scratch {
            s.drop_database().await;
        }
        drop(dir);
        let (mut row, completed) = result?;
        let paid = paid.context("counting the shop's paid orders")?;
        ensure!(
            paid == completed,
            "{} flows completed with {shoppers} shoppers on {}, but the shop has {paid} paid orders",
            completed,
            database.label()
        );
        row.database = database.label().into();
        Ok(row)
    }
}

/// Product ids with a Buy form (the catalogue's, found the way a shopper finds them).
async fn for_sale(shop: SocketAddr) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let mut client = Client::new(shop);
    for id in 1.. {
        let resp = client
            .send(get(shop, &format!("/products/{id}"), &Jar::default()))
            .await?;
        match resp.status() {
            StatusCode::OK if csrf_token(resp.body()).is_some() => ids.push(id),
            StatusCode::OK => {}
            _ => break,
        }
    }
    ensure!(!ids.is_empty(), "the shop has no product for sale");
    Ok(ids)
}

/// Drives the stack with `shoppers` closed-loop shoppers; the row, and how many flows
/// completed in all (warm-up and tail included), for the check against the database.
async fn drive(stack: &Stack, shoppers: usize, load: Load) -> Result<(FlowRow, u64)> {
    let measure_from = Instant::now() + load.warmup;
    let end = measure_from + load.duration;
    let log = Arc::new(Mutex::new(DeliveryLog::default()));
    let poller = tokio::spawn(poll_deliveries(
        stack.mock.addr,
        log.clone(),
        measure_from,
        end,
    ));
    let products = Arc::new(stack.products.clone());
    let mut workers = Vec::with_capacity(shoppers);
    for w in 0..shoppers {
        let (shop, mock, products) = (stack.shop.addr, stack.mock.addr, products.clone());
        workers.push(tokio::spawn(async move {
            shopper(w, shop, mock, &products, measure_from, end).await
        }));
    }
    let mut tally = Tally::default();
    let mut first_error = None;
    for h in workers {
        let t = h.await?;
        tally.flow_us.extend(t.flow_us);
        tally.pay_us.extend(t.pay_us);
        tally.errors += t.errors;
        tally.completed += t.completed;
        first_error = first_error.or(t.first_error);
    }
    poller.abort();
    // The last second's deliveries, read once the shoppers are done.
    read_deliveries(stack.mock.addr, &log).await?;
    if tally.flow_us.is_empty() {
        bail!(
            "no purchase flow completed with {shoppers} shoppers in {:?} ({} errors; first: {})",
            load.duration,
            tally.errors,
            first_error.unwrap_or_default()
        );
    }
    if let Some(e) = &first_error {
        eprintln!("bench: {} failed flow(s); first: {e}", tally.errors);
    }
    tally.flow_us.sort_unstable();
    tally.pay_us.sort_unstable();
    let log = log.lock().unwrap_or_else(|p| p.into_inner());
    let mut hooks: Vec<u32> = log
        .attempts
        .values()
        .filter(|a| a.event_type == COMPLETED && a.attempt == 1)
        .map(|a| u32::try_from(a.latency_ms.saturating_mul(1000)).unwrap_or(u32::MAX))
        .collect();
    hooks.sort_unstable();
    let completed_seen = log
        .attempts
        .values()
        .filter(|a| a.event_type == COMPLETED)
        .count();
    let row = FlowRow {
        database: String::new(),
        shoppers,
        flows: tally.flow_us.len() as u64,
        errors: tally.errors,
        rate: tally.flow_us.len() as f64 / load.duration.as_secs_f64(),
        p50_ms: loadgen::percentile_ms(&tally.flow_us, 0.50),
        p99_ms: loadgen::percentile_ms(&tally.flow_us, 0.99),
        pay_p50_ms: loadgen::percentile_ms(&tally.pay_us, 0.50),
        pay_p99_ms: loadgen::percentile_ms(&tally.pay_us, 0.99),
        webhook_samples: hooks.len(),
        webhook_p50_ms: loadgen::percentile_ms(&hooks, 0.50),
        webhook_p99_ms: loadgen::percentile_ms(&hooks, 0.99),
        webhook_failures: log.attempts.values().filter(|a| !a.succeeded).count(),
        deliveries_per_flow: log.attempts.len() as f64 / completed_seen.max(1) as f64,
    };
    Ok((row, tally.completed))
}

#[derive(Default)]
struct Tally {
    /// Whole flows started in the window, in microseconds.
    flow_us: Vec<u32>,
    pay_us: Vec<u32>,
    errors: u64,
    /// Every completed flow, warm-up and tail included.
    completed: u64,
    first_error: Option<String>,
}

/// One shopper: flow after flow until `end`, each as a new visitor (empty cookie jar) over
/// the same keep-alive connections, as a load generator reuses them.
async fn shopper(
    w: usize,
    shop: SocketAddr,
    mock: SocketAddr,
    products: &[u64],
    measure_from: Instant,
    end: Instant,
) -> Tally {
    let mut t = Tally::default();
    let (mut shop_client, mut mock_client) = (Client::new(shop), Client::new(mock));
    let mut seq = 0usize;
    while Instant::now() < end {
        let product = products[(w + seq) % products.len()];
        let email = format!("shopper{w}-{seq}@bench.test");
        seq += 1;
        let t0 = Instant::now();
        let result = flow(&mut shop_client, &mut mock_client, product, &email).await;
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        match result {
            Ok(pay) => {
                t.completed += 1;
                if t0 >= measure_from {
                    t.flow_us.push(us(t0.elapsed()));
                    t.pay_us.push(us(pay));
                }
            }
            Err(e) => {
                if t0 >= measure_from {
                    t.errors += 1;
                }
                t.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    t
}

/// One purchase, step by step, each step checked; returns how long the payment POST took.
async fn flow(shop: &mut Client, mock: &mut Client, product: u64, email: &str) -> Result<Duration> {
    let mut jar = Jar::default();
    let product_path = format!("/products/{product}");

    let page = shop.send(get(shop.addr, &product_path, &jar)).await?;
    expect(&page, StatusCode::OK, "product page")?;
    jar.absorb(page.headers());
    let token = csrf_token(page.body()).context("no csrf_token on the product page")?;

    let body = form(&[("csrf_token", &token)]);
    let buy = shop
        .send(post(shop.addr, &format!("{product_path}/buy"), &jar, body))
        .await?;
    expect(&buy, StatusCode::SEE_OTHER, "Buy")?;
    jar.absorb(buy.headers());
    let pay_page = path_on(&buy, mock.addr, "Buy")?;
    ensure!(
        pay_page.starts_with("/c/pay/cs_test_"),
        "Buy led to {pay_page}, not a payment page"
    );

    // The payment page sets no cookie; the mock is another site for the shopper.
    let page = mock
        .send(get(mock.addr, &pay_page, &Jar::default()))
        .await?;
    expect(&page, StatusCode::OK, "payment page")?;
    ensure!(
        contains(page.body(), b"name=\"cardNumber\""),
        "the payment page has no card form"
    );

    let body = form(&[
        ("email", email),
        ("cardNumber", CARD),
        ("cardExpiry", "12 / 34"),
        ("cardCvc", "123"),
        ("billingName", "Bench Shopper"),
    ]);
    let t0 = Instant::now();
    let paid = mock
        .send(post(mock.addr, &pay_page, &Jar::default(), body))
        .await?;
    let pay = t0.elapsed();
    expect(&paid, StatusCode::SEE_OTHER, "paying")?;
    let success = path_on(&paid, shop.addr, "paying")?;
    ensure!(
        success.contains("status=success"),
        "paying led to {success}, not the success URL"
    );

    let back = shop.send(get(shop.addr, &success, &jar)).await?;
    expect(&back, StatusCode::SEE_OTHER, "the success URL")?;
    jar.absorb(back.headers());
    let landing = path_on(&back, shop.addr, "the success URL")?;
    let page = shop.send(get(shop.addr, &landing, &jar)).await?;
    expect(&page, StatusCode::OK, "the page after paying")?;
    ensure!(
        contains(page.body(), b"Thanks for purchasing"),
        "no thank-you message after paying"
    );
    Ok(pay)
}

/// One keep-alive connection to a server, reopened after a transport error.
struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client { addr, sender: None }
    }

    async fn send(&mut self, req: http::Request<Full<Bytes>>) -> Result<http::Response<Bytes>> {
        let sender = match self.sender.as_mut() {
            Some(s) => s,
            None => self.sender.insert(loadgen::connect(self.addr).await?),
        };
        let what = format!("{} {}", req.method(), req.uri());
        match loadgen::send_raw(sender, req).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                self.sender = None;
                Err(e.context(what))
            }
        }
    }
}

/// The cookies one shopper holds for the shop.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn absorb(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Some((name, value)) = text.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let name = name.trim();
            self.0.retain(|(n, _)| n != name);
            let removed = text.to_ascii_lowercase().contains("max-age=0");
            if !removed {
                self.0.push((name.to_string(), value.trim().to_string()));
            }
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

fn request(
    method: Method,
    addr: SocketAddr,
    path: &str,
    jar: &Jar,
    body: Option<String>,
) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    if let Some(c) = jar.header() {
        b = b.header(header::COOKIE, c);
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    // Only paths from our own format!s and the servers' Location headers get here, both
    // already checked to be paths; a bad one is a bug in the shop or the mock.
    b.body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap_or_else(|_| http::Request::new(Full::new(Bytes::new())))
}

fn get(addr: SocketAddr, path: &str, jar: &Jar) -> http::Request<Full<Bytes>> {
    request(Method::GET, addr, path, jar, None)
}

fn post(addr: SocketAddr, path: &str, jar: &Jar, body: String) -> http::Request<Full<Bytes>> {
    request(Method::POST, addr, path, jar, Some(body))
}

fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

fn expect(resp: &http::Response<Bytes>, status: StatusCode, step: &str) -> Result<()> {
    if resp.status() != status {
        let body = String::from_utf8_lossy(resp.body());
        bail!(
            "{step}: expected {status}, got {}: {}",
            resp.status(),
            body.chars().take(300).collect::<String>()
        );
    }
    Ok(())
}

/// The path and query of a redirect's `Location`, which must point at `addr` (or be a
/// path on the server that answered).
fn path_on(resp: &http::Response<Bytes>, addr: SocketAddr, step: &str) -> Result<String> {
    let location = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .with_context(|| format!("{step}: a redirect without Location"))?;
    if location.starts_with('/') {
        return Ok(location.to_string());
    }
    let url = url::Url::parse(location).with_context(|| format!("{step}: Location {location}"))?;
    let points_at = url.host_str() == Some("127.0.0.1") && url.port() == Some(addr.port());
    ensure!(points_at, "{step}: redirected to {location}, not to {addr}");
    Ok(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    })
}

/// The Buy form's hidden CSRF token. The shop renders it with askama, which escapes only
/// `"&'<>`, none of which a base64 token contains, so the attribute is the token.
fn csrf_token(html: &[u8]) -> Option<String> {
    const MARK: &str = "name=\"csrf_token\" value=\"";
    let html = std::str::from_utf8(html).ok()?;
    let start = html.find(MARK)? + MARK.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One attempt, as `/_config/deliveries` lists it (the fields used here).
#[derive(Clone, Debug, Deserialize)]
struct Attempt {
    id: String,
    event_type: String,
    attempt: u32,
    succeeded: bool,
    latency_ms: u64,
}

#[derive(Default)]
struct DeliveryLog {
    /// By attempt id: successive reads overlap.
    attempts: HashMap<String, Attempt>,
}

/// Reads the mock's delivery log every [`LOG_POLL`] while the window lasts.
async fn poll_deliveries(
    mock: SocketAddr,
    log: Arc<Mutex<DeliveryLog>>,
    measure_from: Instant,
    end: Instant,
) {
    tokio::time::sleep_until(measure_from.into()).await;
    while Instant::now() < end {
        tokio::time::sleep(LOG_POLL).await;
        // A failed read loses samples, not correctness; the final read reports errors.
        let _ = read_deliveries(mock, &log).await;
    }
}

/// The newest 1000 attempts (the most the control API lists at once).
async fn read_deliveries(mock: SocketAddr, log: &Mutex<DeliveryLog>) -> Result<()> {
    let (status, body) = loadgen::once(
        mock,
        &Request::get("/_config/deliveries?limit=1000", SHOP_KEY),
    )
    .await?;
    ensure!(status.is_success(), "/_config/deliveries answered {status}");
    #[derive(Deserialize)]
    struct List {
        data: Vec<Attempt>,
    }
    let list: List = serde_json::from_slice(&body).context("reading /_config/deliveries")?;
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    for a in list.data {
        log.attempts.insert(a.id.clone(), a);
    }
    Ok(())
}

/// Paid orders in the shop's database.
async fn paid_orders(database_url: &str) -> Result<u64> {
    let db = Db::connect(database_url).await?;
    let n = count_paid(&db).await;
    let _ = db.close().await;
    n
}

async fn count_paid(db: &DatabaseConnection) -> Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'",
        ))
        .await?
        .ok_or_else(|| anyhow!("COUNT(*) returned no row"))?;
    let n: i64 = row.try_get("", "n")?;
    Ok(u64::try_from(n)?)
}

/// A PostgreSQL database made for one run.
struct Scratch {
    admin_url: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn create(admin_url: &str) -> Result<Scratch> {
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL URL is not a URL")?;
        // Lowercase letters, digits and `_`: a safe unquoted identifier, unique per run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("bench_{}_{nanos}", std::process::id());
        let admin = Db::connect(admin_url)
            .await
            .context("connecting to PostgreSQL (--postgres)")?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
        let _ = admin.close().await;
        url.set_path(&format!("/{name}"));
        Ok(Scratch {
            admin_url: admin_url.to_string(),
            name,
            url: url.to_string(),
        })
    }

    /// Best effort: a leftover database costs disk, not correctness.
    async fn drop_database(self) {
        if let Ok(admin) = Db::connect(&self.admin_url).await {
            if let Err(e) = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await
            {
                eprintln!("note: could not drop database {}: {e}", self.name);
            }
            let _ = admin.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_read_from_the_buy_form() {
        let html = br#"<form method="post" action="/products/1/buy">
  <input type="hidden" name="csrf_token" value="ab+c/d==">"#;
        assert_eq!(csrf_token(html).as_deref(), Some("ab+c/d=="));
        assert_eq!(csrf_token(b"<p>Not for sale yet</p>"), None);
    }

    #[test]
    fn the_jar_keeps_the_latest_cookies_and_forgets_removed_ones() {
        let mut jar = Jar::default();
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, "a=1; Path=/; HttpOnly".parse().unwrap());
        h.append(header::SET_COOKIE, "b=2; Path=/".parse().unwrap());
        jar.absorb(&h);
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, "a=3; Path=/".parse().unwrap());
        h.append(header::SET_COOKIE, "b=; Max-Age=0; Path=/".parse().unwrap());
        jar.absorb(&h);
        assert_eq!(jar.header().as_deref(), Some("a=3"));
    }
}
