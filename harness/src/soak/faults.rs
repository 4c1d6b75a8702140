//! Faults injected during a soak through the mock's control API, at random, while the
//! shoppers run: webhook deliveries of `checkout.session.completed` that fail with a 500,
//! time out, arrive twice, out of order, late or never (besides forged ones), and API
//! answers to session creation that are 5xx, 429, lost, slow or cut off.
//!
//! Webhook faults can pile up freely: Stripe retries until the shop answers 2xx (the soak
//! gives the mock a long retry schedule), and the end of the soak resends what was
//! dropped. API faults cannot: the shop makes three attempts at creating a session and
//! then shows the shopper an error page, which is right when Stripe is down. So API
//! faults go through a gate: at most one rule (of at most two hits) at a time, and a
//! pause after it is used up that outlasts the shop's retries, so no single purchase can
//! meet more than two of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_stripe::control_client::{Control, ControlError, Fault};
use rand::Rng;
use rand::rngs::StdRng;

use crate::properties::WebhookFault;

const SESSIONS: &str = "/v1/checkout/sessions";
const COMPLETED: &str = "checkout.session.completed";

/// After an API rule is used up, the next waits this long: longer than the shop's
/// pauses between attempts (200 ms, then 400 ms) plus the attempts themselves.
const API_COOLDOWN: Duration = Duration::from_secs(2);

/// One fault rule, as drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// Session creation answers this status (5xx or 429), not executed.
    ApiStatus { status: u16, count: u32 },
    /// Session creation runs, but the answer is lost.
    ApiTimeout,
    /// Session creation is answered `seconds` late (well inside the shop's 10 s timeout).
    ApiDelay { seconds: u64 },
    /// The connection is cut before session creation runs.
    ApiDrop,
    /// One delivery of `checkout.session.completed` faulted (the property test's rules:
    /// duplicate, timeout, 500, forged signature, 600 s late, dropped).
    Webhook(WebhookFault),
    /// One delivery of `checkout.session.completed` held until the next one went out.
    WebhookReorder,
}

/// A fault drawn for one flow, and the webhook fault it becomes when it is an API fault
/// and the API gate is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drawn {
    pub fault: Injected,
    pub instead: Injected,
}

impl Drawn {
    /// A quarter of the faults are on the API.
    pub fn draw(rng: &mut StdRng) -> Drawn {
        let fault = if rng.random_bool(0.25) {
            Injected::draw_api(rng)
        } else {
            Injected::draw_webhook(rng)
        };
        Drawn {
            fault,
            instead: Injected::draw_webhook(rng),
        }
    }
}

impl Injected {
    fn draw_api(rng: &mut StdRng) -> Injected {
        match rng.random_range(0..4) {
            0 => Injected::ApiStatus {
                status: [500, 502, 503, 429][rng.random_range(0..4)],
                count: rng.random_range(1..=2),
            },
            1 => Injected::ApiTimeout,
            2 => Injected::ApiDelay {
                seconds: rng.random_range(1..=3),
            },
            _ => Injected::ApiDrop,
        }
    }

    fn draw_webhook(rng: &mut StdRng) -> Injected {
        match rng.random_range(0..7) {
            0 => Injected::Webhook(WebhookFault::Status500),
            1 => Injected::Webhook(WebhookFault::Timeout),
            2 => Injected::Webhook(WebhookFault::Duplicate),
            3 => Injected::Webhook(WebhookFault::Delay),
            4 => Injected::Webhook(WebhookFault::Drop),
            5 => Injected::Webhook(WebhookFault::BadSignature),
            _ => Injected::WebhookReorder,
        }
    }

    pub fn is_api(self) -> bool {
        !matches!(self, Injected::Webhook(_) | Injected::WebhookReorder)
    }

    /// How many requests or deliveries the rule hits.
    pub fn hits(self) -> u32 {
        match self {
            Injected::ApiStatus { count, .. } => count,
            _ => 1,
        }
    }

    /// A short name for the tally.
    pub fn label(self) -> String {
        match self {
            Injected::ApiStatus { status, .. } => format!("api {status}"),
            Injected::ApiTimeout => "api lost answer".into(),
            Injected::ApiDelay { .. } => "api slow".into(),
            Injected::ApiDrop => "api cut".into(),
            Injected::Webhook(f) => match f {
                WebhookFault::Duplicate => "webhook duplicate",
                WebhookFault::Timeout => "webhook timeout",
                WebhookFault::Status500 => "webhook 500",
                WebhookFault::BadSignature => "webhook forged",
                WebhookFault::Delay => "webhook 600 s late",
                WebhookFault::Drop => "webhook dropped",
            }
            .into(),
            Injected::WebhookReorder => "webhook reordered".into(),
        }
    }

    fn rule(self) -> Fault {
        match self {
            Injected::ApiStatus { status, count } => {
                Fault::api_status(status).count(count).path(SESSIONS)
            }
            Injected::ApiTimeout => Fault::api_timeout().path(SESSIONS),
            Injected::ApiDelay { seconds } => Fault::api_delay(seconds).path(SESSIONS),
            Injected::ApiDrop => Fault::api_drop().path(SESSIONS),
            Injected::Webhook(f) => f.rule(),
            Injected::WebhookReorder => Fault::webhook_reorder().event_type(COMPLETED),
        }
    }
}

/// Adds the rules and counts them; shared by every shopper.
pub struct Injector {
    control: Control,
    /// Held while an API rule is out (and through its cooldown).
    api_gate: Arc<tokio::sync::Mutex<()>>,
    tally: Mutex<Tally>,
}

#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Hits added, by kind.
    pub added: BTreeMap<String, u32>,
    /// Calls whose connection broke before the answer: the rule may or may not exist.
    pub unconfirmed: u32,
}

impl Injector {
    pub fn new(control: Control) -> Arc<Injector> {
        Arc::new(Injector {
            control,
            api_gate: Arc::new(tokio::sync::Mutex::new(())),
            tally: Mutex::new(Tally::default()),
        })
    }

    /// Adds the drawn fault, or its webhook stand-in while another API fault is out.
    pub async fn inject(&self, drawn: Drawn) -> anyhow::Result<()> {
        let (fault, gate) = if drawn.fault.is_api() {
            match self.api_gate.clone().try_lock_owned() {
                Ok(gate) => (drawn.fault, Some(gate)),
                Err(_) => (drawn.instead, None),
            }
        } else {
            (drawn.fault, None)
        };
        let added = self.control.add_fault(&fault.rule()).await;
        {
            let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
            match added {
                Ok(_) => *tally.added.entry(fault.label()).or_default() += fault.hits(),
                // A keep-alive connection the mock closed as it was reused: not the shop's
                // doing, and not worth stopping the soak for.
                Err(ControlError::Transport(e)) => {
                    tracing::warn!(error = %e, "adding a fault: no answer; it may or may not be in place");
                    tally.unconfirmed += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(gate) = gate {
            let control = self.control.clone();
            tokio::spawn(async move {
                // Until no API rule is left (used up, or cleared at the end): only this
                // gate adds them. Then the cooldown.
                let mut errors = 0;
                loop {
                    match control.faults().await {
                        Ok(rules) if !rules.iter().any(|r| r["target"] == "api") => break,
                        Ok(_) => errors = 0,
                        Err(_) if errors < 50 => errors += 1,
                        Err(_) => break,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(API_COOLDOWN).await;
                drop(gate);
            });
        }
        Ok(())
    }

    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
