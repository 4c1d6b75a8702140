//! Property-based fuzzing of every mock-stripe endpoint over HTTP (proptest): `/v1`,
//! `/_config`, the hosted pages (`/c/pay`, `/c/3ds`), Stripe.js (`/v3`), raw bytes on the
//! socket, and the webhook signature. Whatever a client sends: no panic (anywhere in the
//! process, background tasks included), no 5xx, a Stripe-shaped JSON error on `/v1` and
//! `/_config` (an HTML page on the payment pages), an answer within a deadline, and the
//! server answering the next request.
//!
//! `cargo test -p mock-stripe --test fuzz` runs a short campaign with a fixed seed (a few
//! hundred cases per target). The long one is the same tests with more cases:
//!
//! ```sh
//! FUZZ_CASES=20000 cargo test -p mock-stripe --test fuzz -- --nocapture
//! ```
//!
//! `FUZZ_SEED=n` changes the seed; each test prints its figures (cases, answers by status).

mod client;
mod control;
mod mixed;
mod pages;
mod raw;
mod signature;
mod strategies;
mod v1;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_fuzz::campaign::{self, Panics, Tally};
use http_fuzz::wire::{self, ReadUntil, Reply, Request};
use mock_stripe::{Config, MockStripe, RetrySchedule, WebhookTarget};
use proptest::strategy::Strategy;
use proptest::test_runner::TestCaseError;

/// How long one request may take before the case fails as a stall. Generous: a debug
/// build on a loaded CI machine; handlers that wait on purpose wait at most 1 s here.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// The fixed seed of the campaigns (`FUZZ_SEED` overrides it).
const SEED: u64 = 0x5712_1be5;

/// Which kind of answer a path must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `/v1`, `/_config`, `/v3/checkout/sessions/…` and unknown paths: JSON, errors in
    /// Stripe's envelope.
    Json,
    /// `/c/pay/…`, `/c/3ds/…`: HTML pages (a browser's), errors as pages too.
    Page,
}

pub fn family_of(path: &str) -> Family {
    if path.starts_with("/c/pay/") || path.starts_with("/c/3ds/") {
        Family::Page
    } else {
        Family::Json
    }
}

/// The account keys the fuzzers use; each test has its own mock, so they never meet.
pub const KEY: &str = "sk_test_fuzz0001";
pub const OTHER_KEY: &str = "sk_test_fuzz0002";

/// Ids of live objects per account, substituted for `{name}` placeholders in requests.
pub type Fixtures = HashMap<&'static str, String>;

/// A running mock, a webhook receiver, and the figures of a campaign.
pub struct Harness {
    /// Panics on the harness's runtime threads (`fuzz-mock-{n}`: the mock's handlers and
    /// background tasks).
    panics: Panics,
    control_token: Option<String>,
    pub rt: tokio::runtime::Runtime,
    pub mock: MockStripe,
    pub addr: SocketAddr,
    pub receiver: String,
    fixtures: Mutex<HashMap<String, Fixtures>>,
    tally: Tally,
}

impl Harness {
    pub fn start(config: Config) -> Arc<Harness> {
        let control_token = config.control_token.clone();
        let (rt, panics) = campaign::server_runtime("fuzz-mock-");
        let (mock, receiver) = rt.block_on(async {
            let receiver = client::start_receiver().await;
            let mock = MockStripe::start(Config {
                port: 0,
                seed: Some(7),
                webhooks: vec![WebhookTarget {
                    url: receiver.clone(),
                    secret: "whsec_fuzz".into(),
                }],
                retry_schedule: RetrySchedule::Custom(vec![Duration::from_millis(200)]),
                webhook_timeout: Duration::from_secs(1),
                ..config
            })
            .await
            .expect("mock starts");
            (mock, receiver)
        });
        let addr = mock.local_addr();
        Arc::new(Harness {
            panics,
            control_token,
            rt,
            mock,
            addr,
            receiver,
            fixtures: Mutex::default(),
            tally: Tally::default(),
        })
    }

    pub fn default_config() -> Config {
        Config::default()
    }

    /// Sends one request of a case and returns the answer, or why there was none.
    pub fn send(&self, req: &Request) -> Result<Reply, String> {
        self.send_raw(&req.to_bytes())
    }

    /// Sends raw bytes (anything at all) of a case; counted in the campaign's figures.
    pub fn send_raw(&self, raw: &[u8]) -> Result<Reply, String> {
        let reply = self.send_uncounted(raw);
        self.tally.count(&reply);
        reply
    }

    /// Set-up calls and liveness probes: not part of the figures.
    fn send_uncounted(&self, raw: &[u8]) -> Result<Reply, String> {
        // No half-close: the bytes may keep the connection alive, so one whole answer is
        // enough.
        self.rt.block_on(wire::exchange(
            self.addr,
            raw,
            false,
            ReadUntil::CloseOrAnswer,
            DEADLINE,
        ))
    }

    /// A well-formed form request with the key, for setting things up.
    pub fn call(&self, key: &str, method: &str, path: &str, form: &str) -> Reply {
        let req = client::form(method, path, key, form);
        self.send_uncounted(&req.to_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `call` that must answer 200 with JSON.
    pub fn ok(&self, key: &str, method: &str, path: &str, form: &str) -> serde_json::Value {
        let reply = self.call(key, method, path, form);
        assert_eq!(
            reply.status,
            200,
            "{method} {path} {form}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// The fixtures of `key`, made on first use.
    pub fn fixtures(&self, key: &str) -> Fixtures {
        if let Some(f) = self.fixtures.lock().unwrap().get(key) {
            return f.clone();
        }
        self.refresh_fixtures(key)
    }

    /// Makes a fresh set of objects for `key` (open sessions get paid or expired by cases).
    pub fn refresh_fixtures(&self, key: &str) -> Fixtures {
        let f = strategies::make_fixtures(self, key);
        self.fixtures
            .lock()
            .unwrap()
            .insert(key.to_string(), f.clone());
        f
    }

    /// Fails the case when the process panicked, or the server no longer answers.
    pub fn still_alive(&self, panics_before: usize) -> Result<(), TestCaseError> {
        let panics = self.panics.count();
        if panics != panics_before {
            return Err(TestCaseError::fail(format!(
                "{} panic(s) in the mock (see the log above)",
                panics - panics_before
            )));
        }
        let mut health = Request::new("GET", "/_config/health");
        if let Some(t) = &self.control_token {
            health = health.header("X-Control-Token", t.as_bytes());
        }
        match self.send_uncounted(&health.to_bytes()) {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(TestCaseError::fail(format!(
                "health answered {} afterwards",
                r.status
            ))),
            Err(e) => Err(TestCaseError::fail(format!(
                "health did not answer afterwards: {e}"
            ))),
        }
    }

    /// Runs a campaign: `test` for each generated case, then the liveness checks.
    pub fn campaign<S: Strategy>(
        self: &Arc<Self>,
        name: &str,
        default_cases: u32,
        strategy: S,
        test: impl Fn(&Harness, S::Value) -> Result<(), TestCaseError>,
    ) where
        S::Value: std::fmt::Debug,
    {
        let result = campaign::run(name, default_cases, SEED, &self.tally, &strategy, |case| {
            let before = self.panics.count();
            test(self, case)?;
            self.still_alive(before)
        });
        if let Err(e) = result {
            panic!("fuzz {name}: {e}");
        }
    }
}

/// What every answer to a client's request must be: on time (checked by `send`), never a
/// 5xx, and shaped for its family.
pub fn judge(req: &Request, reply: &Reply) -> Result<(), TestCaseError> {
    let what = || {
        format!(
            "{} {} -> {}",
            req.method,
            req.shown_target(),
            reply.summary()
        )
    };
    if reply.status >= 500 {
        return Err(TestCaseError::fail(format!("a 5xx: {}", what())));
    }
    if reply.status < 400 {
        if reply.content_type().starts_with("application/json") {
            serde_json::from_slice::<serde_json::Value>(&reply.body)
                .map_err(|e| TestCaseError::fail(format!("invalid JSON ({e}): {}", what())))?;
        }
        return Ok(());
    }
    // HEAD answers have no body to judge.
    if req.method == "HEAD" {
        return Ok(());
    }
    match family_of(req.path()) {
        Family::Json => {
            if !reply.content_type().starts_with("application/json") {
                return Err(TestCaseError::fail(format!(
                    "error without JSON: {}",
                    what()
                )));
            }
            let v: serde_json::Value = serde_json::from_slice(&reply.body)
                .map_err(|e| TestCaseError::fail(format!("invalid JSON ({e}): {}", what())))?;
            if !v["error"]["type"].is_string() || !v["error"]["message"].is_string() {
                return Err(TestCaseError::fail(format!(
                    "error without Stripe's envelope: {}",
                    what()
                )));
            }
        }
        Family::Page => {
            if !reply.content_type().starts_with("text/html") {
                return Err(TestCaseError::fail(format!(
                    "page error that is not a page: {}",
                    what()
                )));
            }
        }
    }
    Ok(())
}

/// Sends and judges.
pub fn exchange(h: &Harness, req: &Request) -> Result<Reply, TestCaseError> {
    let reply = h.send(req).map_err(|e| {
        TestCaseError::fail(format!(
            "no answer to {} {}: {e}",
            req.method,
            req.shown_target()
        ))
    })?;
    judge(req, &reply)?;
    Ok(reply)
}
