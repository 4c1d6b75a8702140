//! What happened during one scenario, step by step, recorded as it happens: the
//! shopper's requests and redirects, calls to the mock, each delivery attempt with the
//! shop's answer, what the shop recorded, the email, and each check made. Reports show it
//! as a timeline.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

/// Who did what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The shopper's browser (or HTTP client): a request, its answer, each redirect.
    Shopper,
    /// The harness talking to (mock) Stripe: a control call, a fault, the clock.
    Stripe,
    /// A webhook delivery attempt and the shop's answer.
    Webhook,
    /// What the shop recorded (orders).
    Shop,
    /// Email the shop sent.
    Email,
    /// A check the scenario made, and that it held.
    Check,
    /// A browser screenshot (PNG, base64 in `detail`).
    Screenshot,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Milliseconds since the scenario started.
    pub at_ms: u64,
    pub actor: Actor,
    pub summary: String,
    /// More to read: a page excerpt, a response body, the email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A scenario's timeline: cheap to share, appended from any task.
pub struct Timeline {
    started: Instant,
    steps: Mutex<Vec<Step>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            started: Instant::now(),
            steps: Mutex::new(Vec::new()),
        }
    }
}

/// Detail kept per step at most: timelines are read by people.
const DETAIL_LIMIT: usize = 4000;

impl Timeline {
    pub fn record(&self, actor: Actor, summary: impl Into<String>, detail: Option<String>) {
        let detail = detail.map(|mut d| {
            if d.len() > DETAIL_LIMIT && actor != Actor::Screenshot {
                let mut cut = DETAIL_LIMIT;
                while !d.is_char_boundary(cut) {
                    cut -= 1;
                }
                d.truncate(cut);
                d.push('…');
            }
            d
        });
        let step = Step {
            at_ms: self.started.elapsed().as_millis() as u64,
            actor,
            summary: summary.into(),
            detail,
        };
        self.steps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(step);
    }

    /// A check that held.
    pub fn check(&self, what: impl Into<String>) {
        self.record(Actor::Check, what, None);
    }

    pub fn steps(&self) -> Vec<Step> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
