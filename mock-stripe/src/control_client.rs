//! A typed client for the control API (`/_config/`), for Rust tests that embed the mock
//! (or drive one running elsewhere): complete payments, move the clock, inject faults,
//! read what was delivered.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use mock_stripe::control_client::{Completion, Control, Fault};
//! use mock_stripe::{Config, MockStripe};
//!
//! let mock = MockStripe::start(Config { port: 0, ..Config::default() }).await?;
//! let key = "sk_test_doc";
//! let control = Control::new(&mock.base_url(), key);
//! control.pin_clock(1_800_000_000).await?;
//! // The next API call to create a session fails with a 503 (nothing runs).
//! control.add_fault(&Fault::api_status(503).path("/v1/checkout/sessions")).await?;
//!
//! // What the app under test would do, here with plain HTTP:
//! let create = || {
//!     reqwest::Client::new()
//!         .post(format!("{}/v1/checkout/sessions", mock.base_url()))
//!         .basic_auth(key, Some(""))
//!         .form(&[
//!             ("mode", "payment"),
//!             ("success_url", "https://shop.test/ok"),
//!             ("line_items[0][price_data][currency]", "usd"),
//!             ("line_items[0][price_data][unit_amount]", "1999"),
//!             ("line_items[0][price_data][product_data][name]", "Book"),
//!             ("line_items[0][quantity]", "1"),
//!         ])
//!         .send()
//! };
//! assert_eq!(create().await?.status(), 503);
//! let session: serde_json::Value = create().await?.json().await?;
//!
//! // Pay it without a browser, then let a day pass: nothing expires a paid session.
//! let paid = control.complete(session["id"].as_str().unwrap(), &Completion::default()).await?;
//! assert_eq!(paid["payment_status"], "paid");
//! control.advance(86_400).await?;
//! assert_eq!(control.clock().await?.now, 1_800_086_400);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use serde::Deserialize;
use serde_json::Value;

/// What went wrong talking to the control API.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The mock could not be reached, or the answer could not be read.
    #[error("control API unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The mock answered with an error (Stripe's envelope): status and message.
    #[error("control API answered {status}: {message}")]
    Api {
        status: u16,
        message: String,
        body: Value,
    },
}

/// One account's control API: every call is scoped to the secret key's account.
#[derive(Clone, Debug)]
pub struct Control {
    base: String,
    key: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// How to pay a session headlessly (`POST /_config/checkout/sessions/{id}/complete`).
#[derive(Clone, Debug, Default)]
pub struct Completion {
    /// A test card number (default `4242 4242 4242 4242`).
    pub card: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// For 3-D Secure cards: `Some(false)` fails the challenge (default: completed).
    pub three_d_secure: Option<bool>,
    /// `sepa_debit` or `us_bank_account`: a delayed payment instead of a card.
    pub bank_debit: Option<String>,
    /// With `bank_debit`: whether the debit settles (default) or fails.
    pub bank_debit_succeeds: Option<bool>,
}

/// A fault rule for `POST /_config/faults`.
#[derive(Clone, Debug)]
pub struct Fault {
    fields: Vec<(&'static str, String)>,
}

impl Fault {
    fn new(target: &str, kind: &str) -> Fault {
        Fault {
            fields: vec![("target", target.into()), ("kind", kind.into())],
        }
    }

    /// API requests answer `status` (not executed, not stored under their idempotency key).
    pub fn api_status(status: u16) -> Fault {
        Fault::new("api", "status").with("status", status)
    }
    /// API requests run, then the connection closes without an answer.
    pub fn api_timeout() -> Fault {
        Fault::new("api", "timeout")
    }
    /// API requests are answered `seconds` later (their idempotency key held meanwhile).
    pub fn api_delay(seconds: u64) -> Fault {
        Fault::new("api", "delay").with("seconds", seconds)
    }
    /// API requests are dropped: the connection closes, nothing runs.
    pub fn api_drop() -> Fault {
        Fault::new("api", "drop")
    }
    /// Deliveries are not sent and count as this answer (so they are retried).
    pub fn webhook_status(status: u16) -> Fault {
        Fault::new("webhook", "status").with("status", status)
    }
    /// Deliveries reach the endpoint but count as timed out (so the retry duplicates them).
    pub fn webhook_timeout() -> Fault {
        Fault::new("webhook", "timeout")
    }
    /// Deliveries are sent twice.
    pub fn webhook_duplicate() -> Fault {
        Fault::new("webhook", "duplicate")
    }
    /// A delivery waits until the next one to the same endpoint was attempted.
    pub fn webhook_reorder() -> Fault {
        Fault::new("webhook", "reorder")
    }
    /// Deliveries are attempted `seconds` later on the account's clock.
    pub fn webhook_delay(seconds: u64) -> Fault {
        Fault::new("webhook", "delay").with("seconds", seconds)
    }
    /// Deliveries are signed with a secret the endpoint does not know.
    pub fn webhook_bad_signature() -> Fault {
        Fault::new("webhook", "bad_signature")
    }
    /// Deliveries are never sent.
    pub fn webhook_drop() -> Fault {
        Fault::new("webhook", "drop")
    }

    /// How many requests or deliveries the rule hits (default 1).
    pub fn count(self, count: u32) -> Fault {
        self.with("count", count)
    }
    /// API faults: only this path (`/v1/checkout/sessions`).
    pub fn path(self, path: &str) -> Fault {
        self.with("path", path)
    }
    /// Webhook faults: only events of this type.
    pub fn event_type(self, event_type: &str) -> Fault {
        self.with("event_type", event_type)
    }

    fn with(mut self, key: &'static str, value: impl ToString) -> Fault {
        self.fields.push((key, value.to_string()));
        self
    }
}

/// One delivery attempt, as `GET /_config/deliveries` reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct DeliveryAttempt {
    pub id: String,
    /// On the account's clock (unix seconds).
    pub created: i64,
    pub event: String,
    pub event_type: String,
    /// `we_…`, or the forward-to URL.
    pub endpoint: String,
    pub url: String,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub succeeded: bool,
    pub latency_ms: u64,
    pub response_body: String,
    pub fault: Option<String>,
    pub next_retry_at: Option<i64>,
}

/// The account's clock, as `GET /_config/clock` reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct ClockState {
    /// `real` or `virtual`.
    pub mode: String,
    pub now: i64,
    pub now_ms: i64,
    pub scheduled: usize,
}

#[derive(Deserialize)]
struct ListOf<T> {
    data: Vec<T>,
}

impl Control {
    /// The control API of the account of `secret_key` on the mock at `base_url`
    /// (`http://127.0.0.1:12111`).
    pub fn new(base_url: &str, secret_key: &str) -> Control {
        Control {
            base: base_url.trim_end_matches('/').to_string(),
            key: secret_key.to_string(),
            token: None,
            http: reqwest::Client::builder()
                .no_proxy()
                // The mock closes a keep-alive connection idle for 30 s; reusing one it is
                // closing fails the call ("connection closed before message completed").
                .pool_idle_timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
        }
    }

    /// For a mock listening beyond loopback: its `--control-token`.
    pub fn with_token(mut self, token: &str) -> Control {
        self.token = Some(token.to_string());
        self
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<Value, ControlError> {
        let mut req = self
            .http
            .request(method, format!("{}/_config{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(t) = &self.token {
            req = req.header("x-control-token", t);
        }
        if !form.is_empty() {
            req = req.form(form);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ControlError::Api {
                status,
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or("(no message)")
                    .to_string(),
                body,
            })
        }
    }

    /// Pays an open session as the payment page would; answers the session. A decline is
    /// an [`ControlError::Api`] with status 402 and Stripe's card error.
    pub async fn complete(
        &self,
        session_id: &str,
        how: &Completion,
    ) -> Result<Value, ControlError> {
        let mut form = Vec::new();
        if let Some(c) = &how.card {
            form.push(("card", c.clone()));
        }
        if let Some(e) = &how.email {
            form.push(("email", e.clone()));
        }
        if let Some(n) = &how.name {
            form.push(("name", n.clone()));
        }
        if let Some(ok) = how.three_d_secure {
            form.push((
                "three_d_secure",
                if ok { "complete" } else { "fail" }.into(),
            ));
        }
        if let Some(b) = &how.bank_debit {
            form.push(("payment_method", b.clone()));
            let ok = how.bank_debit_succeeds.unwrap_or(true);
            form.push(("outcome", if ok { "succeeded" } else { "failed" }.into()));
        }
        self.call(
            reqwest::Method::POST,
            &format!("/checkout/sessions/{session_id}/complete"),
            &form,
        )
        .await
    }

    pub async fn clock(&self) -> Result<ClockState, ControlError> {
        let v = self.call(reqwest::Method::GET, "/clock", &[]).await?;
        serde_json::from_value(v).map_err(|e| ControlError::Api {
            status: 200,
            message: e.to_string(),
            body: Value::Null,
        })
    }

    /// Pins the account's clock at `unix` seconds (it stays there until moved).
    pub async fn pin_clock(&self, unix: i64) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::POST,
            "/clock",
            &[("frozen_at", unix.to_string())],
        )
        .await
        .map(drop)
    }

    /// Moves the clock forward, running everything that falls due, before it returns.
    pub async fn advance(&self, seconds: i64) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::POST,
            "/clock/advance",
            &[("seconds", seconds.to_string())],
        )
        .await
        .map(drop)
    }

    /// Back to real time.
    pub async fn release_clock(&self) -> Result<(), ControlError> {
        self.call(reqwest::Method::DELETE, "/clock", &[])
            .await
            .map(drop)
    }

    pub async fn add_fault(&self, fault: &Fault) -> Result<Value, ControlError> {
        let form: Vec<(&str, String)> = fault.fields.clone();
        self.call(reqwest::Method::POST, "/faults", &form).await
    }

    /// The active fault rules with their remaining counts.
    pub async fn faults(&self) -> Result<Vec<Value>, ControlError> {
        let v = self.call(reqwest::Method::GET, "/faults", &[]).await?;
        Ok(v["data"].as_array().cloned().unwrap_or_default())
    }

    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.call(reqwest::Method::DELETE, "/faults", &[])
            .await
            .map(drop)
    }

    /// Delivery attempts, newest first (at most 1000), optionally of one event.
    pub async fn deliveries(
        &self,
        event: Option<&str>,
    ) -> Result<Vec<DeliveryAttempt>, ControlError> {
        let path = match event {
            Some(e) => format!("/deliveries?limit=1000&event={e}"),
            None => "/deliveries?limit=1000".to_string(),
        };
        let v = self.call(reqwest::Method::GET, &path, &[]).await?;
        let list: ListOf<DeliveryAttempt> =
            serde_json::from_value(v).map_err(|e| ControlError::Api {
                status: 200,
                message: e.to_string(),
                body: Value::Null,
            })?;
        Ok(list.data)
    }

    /// Sends an event again, to every endpoint that receives it.
    pub async fn redeliver(&self, event_id: &str) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::POST,
            &format!("/events/{event_id}/redeliver"),
            &[],
        )
        .await
        .map(drop)
    }

    /// `before`, `after` or `concurrent`.
    pub async fn set_redirect_timing(&self, timing: &str) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::POST,
            "/settings",
            &[("redirect_timing", timing.to_string())],
        )
        .await
        .map(drop)
    }

    /// How long a bank debit takes to settle, on the account's clock.
    pub async fn set_async_payment_delay(&self, seconds: i64) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::POST,
            "/settings",
            &[("async_payment_delay", seconds.to_string())],
        )
        .await
        .map(drop)
    }

    /// Empties the account.
    pub async fn clear_data(&self) -> Result<(), ControlError> {
        self.call(reqwest::Method::DELETE, "/data", &[])
            .await
            .map(drop)
    }

    /// Whether the mock answers at all (`GET /_config/health`).
    pub async fn healthy(&self) -> bool {
        self.call(reqwest::Method::GET, "/health", &[])
            .await
            .is_ok()
    }
}
