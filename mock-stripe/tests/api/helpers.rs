//! Starting the mock, talking to it, and a webhook receiver that records what it gets.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mock_stripe::{Config, MockStripe, RetrySchedule, WebhookTarget};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub const KEY_A: &str = "sk_test_accountA1234";
pub const KEY_B: &str = "sk_test_accountB5678";
pub const SECRET: &str = "whsec_integration_test_secret_0001";

/// A mock started in this process, and the calls tests make to it (through [`Api`]).
pub struct TestMock {
    pub mock: MockStripe,
    pub api: Api,
}

/// Calls to a mock at `base`: one in this process, or a `mock-stripe` child process.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn at(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: client(),
        }
    }
}

impl std::ops::Deref for TestMock {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestMock {
    pub fn new(mock: MockStripe) -> TestMock {
        let api = Api::at(&mock.base_url());
        TestMock { mock, api }
    }
}

/// A client that does not follow redirects (tests look at the 303 itself) and ignores
/// proxies from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// Starts a mock on an ephemeral port with a fast retry schedule.
pub async fn spawn_mock(webhooks: Vec<WebhookTarget>) -> TestMock {
    let mock = MockStripe::start(Config {
        port: 0,
        webhooks,
        retry_schedule: RetrySchedule::Custom(vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
        ]),
        webhook_timeout: Duration::from_secs(3),
        ..Config::default()
    })
    .await
    .expect("mock starts");
    TestMock::new(mock)
}

pub const SESSION_FORM: &str = "mode=payment\
    &success_url=https%3A%2F%2Fshop.test%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D\
    &cancel_url=https://shop.test/cart\
    &customer_email=buyer%40example.com\
    &client_reference_id=order_42\
    &line_items[0][price_data][currency]=usd\
    &line_items[0][price_data][unit_amount]=1999\
    &line_items[0][price_data][product_data][name]=T-shirt+%26+cap\
    &line_items[0][quantity]=2";

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, key: &str, path: &str, form: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, key: &str, path: &str) -> Value {
        let resp = self.get(key, path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    pub async fn create_session(&self, key: &str) -> Value {
        let resp = self.post(key, "/v1/checkout/sessions", SESSION_FORM).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Submits the hosted payment form like a browser.
    pub async fn pay(&self, page_url: &str, card: &str) -> reqwest::Response {
        self.http
            .post(page_url)
            .form(&[
                ("email", "buyer@example.com"),
                ("cardNumber", card),
                ("cardExpiry", "12 / 34"),
                ("cardCvc", "123"),
                ("billingName", "Jenny Rosen"),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn event_types(&self, key: &str) -> Vec<String> {
        let v = self.get_json(key, "/v1/events?limit=100").await;
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    }
}

/// One request the receiver got.
#[derive(Debug)]
pub struct Received {
    pub signature: String,
    pub content_type: String,
    pub user_agent: String,
    pub body: String,
    /// When the receiver got it (before answering).
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_string()
    }
}

/// A webhook endpoint on port 0. Answers with the queued statuses first, then 200.
pub struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    /// How long the receiver waits before answering (after recording).
    slowness: Arc<Mutex<Duration>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let statuses: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let queued = statuses.clone();
        let slowness: Arc<Mutex<Duration>> = Arc::default();
        let slow = slowness.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let queued = queued.clone();
                let slow = slow.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        let queued = queued.clone();
                        let slow = slow.clone();
                        async move {
                            let header = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string()
                            };
                            let (signature, content_type, user_agent) = (
                                header("stripe-signature"),
                                header("content-type"),
                                header("user-agent"),
                            );
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            // Recorded before answering: a test that saw the redirect can rely on it.
                            let _ = tx.send(Received {
                                signature,
                                content_type,
                                user_agent,
                                body: String::from_utf8(body.to_vec()).unwrap(),
                                at: Instant::now(),
                            });
                            let status = queued.lock().unwrap().pop_front().unwrap_or(200);
                            let wait = *slow.lock().unwrap();
                            tokio::time::sleep(wait).await;
                            let mut resp =
                                hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            url: format!("http://{addr}/webhook"),
            rx,
            statuses,
            slowness,
        }
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.statuses
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    /// Forgets the statuses queued by [`Receiver::fail_next`]: 200 from now on.
    pub fn accept_all(&self) {
        self.statuses.lock().unwrap().clear();
    }

    /// Answers every request this much later (after recording it).
    pub fn answer_after(&self, wait: Duration) {
        *self.slowness.lock().unwrap() = wait;
    }

    pub fn target(&self) -> WebhookTarget {
        WebhookTarget {
            url: self.url.clone(),
            secret: SECRET.into(),
        }
    }

    /// Everything received so far, without waiting.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(r) = self.rx.try_recv() {
            out.push(r);
        }
        out
    }

    /// Waits (up to 5 s) for a request carrying an event of this type.
    pub async fn wait_for(&mut self, event_type: &str) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let r = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event_type} received within 5 s"))
                .expect("receiver alive");
            if r.event_type() == event_type {
                return r;
            }
        }
    }
}

/// Verifies with async-stripe, the way a Rust shop would.
pub fn verify(r: &Received, secret: &str) -> stripe_webhook::Event {
    stripe_webhook::Webhook::construct_event(&r.body, &r.signature, secret)
        .unwrap_or_else(|e| panic!("signature/payload rejected: {e:?}"))
}

/// How long a test waits for something that should happen soon.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Polls `probe` every 10 ms until it returns `Some`, for at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The control API and the calls tests make most.
impl Api {
    /// A `/_config/…` (or any) call with a form body: `(status, JSON answer)`.
    pub async fn call(
        &self,
        key: Option<&str>,
        method: reqwest::Method,
        path: &str,
        form: &str,
    ) -> (u16, Value) {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if !form.is_empty() {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        (status, value)
    }

    /// A control call that must succeed.
    pub async fn control(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        form: &str,
    ) -> Value {
        let (status, v) = self.call(Some(key), method.clone(), path, form).await;
        assert_eq!(status, 200, "{method} {path} {form}: {v}");
        v
    }

    /// `POST` with an `Idempotency-Key`.
    pub async fn post_idem(
        &self,
        key: &str,
        path: &str,
        form: &str,
        idempotency_key: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(key)
            .header("idempotency-key", idempotency_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Pins the account's clock at `unix` seconds.
    pub async fn pin_clock(&self, key: &str, unix: i64) -> Value {
        let v = self
            .control(
                key,
                reqwest::Method::POST,
                "/_config/clock",
                &format!("frozen_at={unix}"),
            )
            .await;
        assert_eq!(
            (v["mode"].as_str(), v["now"].as_i64()),
            (Some("virtual"), Some(unix))
        );
        v
    }

    /// Advances the account's clock; answers once everything due has run.
    pub async fn advance(&self, key: &str, seconds: i64) -> Value {
        self.control(
            key,
            reqwest::Method::POST,
            "/_config/clock/advance",
            &format!("seconds={seconds}"),
        )
        .await
    }

    /// Adds a fault rule (`target=…&kind=…`).
    pub async fn add_fault(&self, key: &str, form: &str) -> Value {
        self.control(key, reqwest::Method::POST, "/_config/faults", form)
            .await
    }

    pub async fn faults(&self, key: &str) -> Vec<Value> {
        self.control(key, reqwest::Method::GET, "/_config/faults", "")
            .await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until every fault rule of the account is used up.
    pub async fn faults_used_up(&self, key: &str) {
        eventually("faults used up", || async move {
            self.faults(key).await.is_empty().then_some(())
        })
        .await;
    }

    /// The attempt log, newest first (`query` like `event=evt_…`).
    pub async fn deliveries(&self, key: &str, query: &str) -> Value {
        self.control(
            key,
            reqwest::Method::GET,
            &format!("/_config/deliveries?{query}"),
            "",
        )
        .await
    }

    /// Waits until the attempt log holds `n` attempts; returns it.
    pub async fn attempts_logged(&self, key: &str, n: usize) -> Value {
        eventually("attempts in the log", || async move {
            let log = self.deliveries(key, "").await;
            (log["data"].as_array().unwrap().len() >= n).then_some(log)
        })
        .await
    }

    pub async fn set_redirect_timing(&self, key: &str, timing: &str) {
        let v = self
            .control(
                key,
                reqwest::Method::POST,
                "/_config/settings",
                &format!("redirect_timing={timing}"),
            )
            .await;
        assert_eq!(v["redirect_timing"], timing);
    }

    /// `POST /_config/checkout/sessions/{id}/complete`.
    pub async fn complete(&self, key: &str, session: &str, form: &str) -> (u16, Value) {
        self.call(
            Some(key),
            reqwest::Method::POST,
            &format!("/_config/checkout/sessions/{session}/complete"),
            form,
        )
        .await
    }

    /// Creates a session and returns its id.
    pub async fn session_id(&self, key: &str) -> String {
        self.create_session(key).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Expires a session through the API: exactly one event, `checkout.session.expired`.
    pub async fn expire(&self, key: &str, session: &str) {
        let resp = self
            .post(key, &format!("/v1/checkout/sessions/{session}/expire"), "")
            .await;
        assert_eq!(resp.status(), 200);
    }

    /// The ids of the account's sessions.
    pub async fn session_ids(&self, key: &str) -> Vec<String> {
        self.get_json(key, "/v1/checkout/sessions?limit=100").await["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// An account webhook endpoint for these event types: `(we_…, whsec_…)`.
    pub async fn endpoint(&self, key: &str, url: &str, events: &[&str]) -> (String, String) {
        let mut form = format!("url={url}");
        for e in events {
            form.push_str(&format!("&enabled_events[]={e}"));
        }
        let resp = self.post(key, "/v1/webhook_endpoints", &form).await;
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["secret"].as_str().unwrap().to_string(),
        )
    }
}

impl Receiver {
    /// Waits for the next `n` requests, whatever their events, up to [`PATIENCE`].
    pub async fn next_n(&mut self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(r)) => out.push(r),
                _ => panic!(
                    "got {} of {n} requests within {PATIENCE:?}: {out:?}",
                    out.len()
                ),
            }
        }
        out
    }
}

/// Whether the signature verifies with `secret`, without panicking.
pub fn verifies(r: &Received, secret: &str) -> bool {
    stripe_webhook::Webhook::construct_event(&r.body, &r.signature, secret).is_ok()
}

/// The `t=` of a `Stripe-Signature` header.
pub fn signed_at(r: &Received) -> i64 {
    r.signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no t= in {:?}", r.signature))
}

/// Looks up a field in every record of a list answer.
pub fn column(list: &Value, field: &str) -> Vec<Value> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].clone())
        .collect()
}
