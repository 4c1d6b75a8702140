use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use storefront::{Application, Settings, Tuning};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const WEBHOOK_SECRET: &str = "whsec_test_storefront_api_tests";
pub const BUYER_EMAIL: &str = "jenny.rosen@example.com";

pub struct TestApp {
    pub base_url: String,
    pub db: DatabaseConnection,
    pub outbox: PathBuf,
    /// Keeps cookies, never follows redirects (tests look at each hop).
    pub client: reqwest::Client,
    pub webhook_secret: String,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// How to start a test shop; `Default` is a SQLite shop whose Stripe is unreachable.
pub struct AppOptions {
    pub stripe_api_base: String,
    /// `None`: a SQLite file in the app's temporary folder.
    pub database_url: Option<String>,
    pub secret_key: String,
    pub webhook_secret: String,
    pub session_key: Option<Vec<u8>>,
    pub tuning: Tuning,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            stripe_api_base: unreachable_base(),
            database_url: None,
            secret_key: "sk_test_storefront".to_owned(),
            webhook_secret: WEBHOOK_SECRET.to_owned(),
            session_key: None,
            tuning: Tuning::default(),
        }
    }
}

/// A shop whose Stripe is unreachable (nothing listens on that port).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with_stripe(stripe_api_base: &str) -> TestApp {
    spawn_app_with(AppOptions {
        stripe_api_base: stripe_api_base.to_owned(),
        ..AppOptions::default()
    })
    .await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let database_url = options.database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shop.sqlite").display()
        )
    });
    let settings = Settings {
        database_url,
        stripe_api_base: options.stripe_api_base,
        stripe_secret_key: options.secret_key.into(),
        stripe_publishable_key: "pk_test_storefront".to_owned(),
        stripe_webhook_secret: options.webhook_secret.clone().into(),
        public_url: None,
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        mail_outbox: outbox.clone(),
        session_key: options.session_key,
    };
    let app = Application::build_tuned(settings, options.tuning)
        .await
        .expect("the shop starts");
    let base_url = app.base_url();
    assert_eq!(base_url, format!("http://127.0.0.1:{}", app.port()));
    let db = app.database();
    let server = tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        base_url,
        db,
        outbox,
        client: browser(),
        webhook_secret: options.webhook_secret,
        _dir: dir,
        server,
    }
}

/// A client as a browser is: its own cookie jar; redirects are not followed (tests look
/// at each hop).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PostgreSQL database made for one test and dropped after it, on the server
/// `TEST_POSTGRES_URL` names (its user must be allowed to create databases). `None`, with
/// a message, when the variable is unset, unless `REQUIRE_POSTGRES_TESTS` is set.
pub struct ScratchPostgres {
    pub url: String,
    admin_url: String,
    name: String,
}

pub async fn scratch_postgres(test: &str) -> Option<ScratchPostgres> {
    let Some(admin_url) = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("REQUIRE_POSTGRES_TESTS").is_none(),
            "REQUIRE_POSTGRES_TESTS is set but TEST_POSTGRES_URL is not"
        );
        eprintln!(
            "skipped {test}: set TEST_POSTGRES_URL (e.g. postgres://postgres:postgres@127.0.0.1/postgres) to run it"
        );
        return None;
    };
    let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
    // Lowercase letters and digits only: a safe unquoted identifier.
    let name = format!("storefront_test_{:016x}", rand::random::<u64>());
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .expect("TEST_POSTGRES_URL reaches a server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("creating a scratch database");
    let _ = admin.close().await;
    url.set_path(&format!("/{name}"));
    Some(ScratchPostgres {
        url: url.to_string(),
        admin_url,
        name,
    })
}

impl Drop for ScratchPostgres {
    /// Best effort, on a thread of its own (Drop can't await): a leftover database
    /// costs disk, not correctness.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

pub fn unreachable_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// Loads the product page and returns its Buy form's CSRF token.
    pub async fn csrf_token(&self, product_id: i64) -> String {
        let html = self.get_html(&format!("/products/{product_id}")).await;
        hidden_input(&html, "csrf_token").expect("the product page has a csrf_token input")
    }

    pub async fn post_buy(&self, product_id: i64, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/products/{product_id}/buy")))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_webhook(&self, payload: &str, signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .body(payload.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        request.send().await.unwrap()
    }

    /// Posts `payload` signed with the shop's secret, as Stripe would.
    pub async fn deliver(&self, payload: &str) -> reqwest::Response {
        let signature =
            stripe_webhook::Webhook::generate_test_header(payload, &self.webhook_secret, None);
        self.post_webhook(payload, Some(&signature)).await
    }

    /// Waits until the receipts due are written: the shop writes a receipt after it
    /// answers the webhook.
    pub async fn settle_receipts(&self) {
        settle_receipts(&self.db).await;
    }

    /// The `.eml` files in the outbox, as text, once the receipts due are written.
    pub async fn emails(&self) -> Vec<String> {
        self.settle_receipts().await;
        self.outbox_now()
    }

    /// The `.eml` files in the outbox right now.
    pub fn outbox_now(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    pub async fn orders(&self) -> Vec<storefront::orders::Order> {
        storefront::orders::all(&self.db).await.unwrap()
    }

    pub async fn product(&self, id: i64) -> storefront::catalogue::Product {
        storefront::catalogue::find(&self.db, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// A pending order tied to `session_id`, as Buy leaves it.
    pub async fn pending_order(
        &self,
        product_id: i64,
        session_id: &str,
    ) -> storefront::orders::Order {
        let product = self.product(product_id).await;
        let order = storefront::orders::create_pending(&self.db, &product)
            .await
            .unwrap();
        assert!(
            storefront::orders::attach_checkout_session(&self.db, order.id, session_id)
                .await
                .unwrap()
        );
        storefront::orders::find(&self.db, order.id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// The value of `<input … name="{name}" value="…">`, unescaped.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"name="{name}""#))?;
    let rest = &html[at..];
    let start = rest.find(r#"value=""#)? + r#"value=""#.len();
    let end = rest[start..].find('"')?;
    Some(unescape(&rest[start..start + end]))
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A Checkout Session as Stripe sends it, with the fields strongly typed clients
/// require (contract §2.1) and the ones the shop reads.
pub fn session_json(
    session_id: &str,
    order_id: i64,
    payment_status: &str,
    amount_total: i64,
) -> serde_json::Value {
    json!({
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "cancel_url": "http://shop.test/cancel",
        "client_reference_id": "1",
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null,
        "customer_details": {
            "address": {"city": null, "country": "US", "line1": null, "line2": null, "postal_code": "94103", "state": null},
            "email": BUYER_EMAIL, "name": "Jenny Rosen", "phone": null, "tax_exempt": "none", "tax_ids": []
        },
        "customer_email": null,
        "expires_at": 1_700_086_400,
        "livemode": false,
        "metadata": {"order_id": order_id.to_string(), "product_id": "1"},
        "mode": "payment",
        "payment_intent": if payment_status == "paid" { json!("pi_test_1") } else { json!(null) },
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "shipping_options": [],
        "status": "complete",
        "success_url": "http://shop.test/ok?session_id={CHECKOUT_SESSION_ID}",
        "url": null
    })
}

pub fn event_json(event_id: &str, event_type: &str, object: serde_json::Value) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type
    })
    .to_string()
}

pub fn completed_event(
    event_id: &str,
    session_id: &str,
    order_id: i64,
    amount_total: i64,
) -> String {
    event_json(
        event_id,
        "checkout.session.completed",
        session_json(session_id, order_id, "paid", amount_total),
    )
}

/// A stand-in for Stripe's API: answers every request with `status` and
/// `body`, and records what it received (method + path, form body).
pub struct FakeStripe {
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
    /// The `Idempotency-Key` header of each request, in order.
    pub idempotency_keys: Arc<Mutex<Vec<Option<String>>>>,
}

impl FakeStripe {
    pub async fn start(status: u16, body: serde_json::Value) -> FakeStripe {
        FakeStripe::scripted(vec![(status, body)]).await
    }

    /// Answers the n-th request with `answers[n]` (the last one once they run out).
    pub async fn scripted(answers: Vec<(u16, serde_json::Value)>) -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let idempotency_keys = Arc::new(Mutex::new(Vec::new()));
        let (seen, keys) = (requests.clone(), idempotency_keys.clone());
        let answers: Arc<Vec<(u16, String)>> = Arc::new(
            answers
                .into_iter()
                .map(|(status, body)| (status, body.to_string()))
                .collect(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (seen, keys, answers) = (seen.clone(), keys.clone(), answers.clone());
                tokio::spawn(async move {
                    let Some((request_line, form, key)) = read_request(&mut socket).await else {
                        return;
                    };
                    // Locks released before any await.
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        seen.push((request_line, form));
                        keys.lock().unwrap().push(key);
                        seen.len() - 1
                    };
                    let (status, body) = answers[n.min(answers.len() - 1)].clone();
                    let reason = if status == 200 { "OK" } else { "Error" };
                    let response = format!(
                        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nRequest-Id: req_fake\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeStripe {
            base_url,
            requests,
            idempotency_keys,
        }
    }

    pub fn received(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request: returns "METHOD /path", the body and the idempotency key.
async fn read_request(
    socket: &mut tokio::net::TcpStream,
) -> Option<(String, String, Option<String>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let content_length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < header_end + content_length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request_line = head
        .lines()
        .next()
        .unwrap_or("")
        .split(' ')
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let key = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("idempotency-key")
            .then(|| value.trim().to_owned())
    });
    Some((
        request_line,
        String::from_utf8_lossy(&buf[header_end..]).into_owned(),
        key,
    ))
}

/// Waits (at most 10 s, then panics) until no paid order with an address a receipt can
/// go to is without `receipt_sent_at`: the shop writes receipts after answering the
/// webhook, so a test reads the outbox once this returns.
pub async fn settle_receipts(db: &sea_orm::DatabaseConnection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let due: Vec<_> = storefront::orders::receipts_due(db, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| {
                o.buyer_email
                    .as_deref()
                    .is_some_and(storefront::orders::deliverable)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "receipts still unsent after 10 s: {due:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
