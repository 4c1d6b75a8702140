//! Starting the mock, talking to it, and a webhook receiver that records what it gets.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

pub struct TestMock {
    pub mock: MockStripe,
    pub base: String,
    pub http: reqwest::Client,
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
    let base = mock.base_url();
    TestMock {
        mock,
        base,
        http: client(),
    }
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

impl TestMock {
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
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let statuses: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let queued = statuses.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let queued = queued.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        let queued = queued.clone();
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
                            });
                            let status = queued.lock().unwrap().pop_front().unwrap_or(200);
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
        }
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.statuses
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
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
