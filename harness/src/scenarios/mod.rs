//! The scenario catalogue: named purchase flows, each proving a checkout under one thing
//! Stripe can do to it (declines, 3-D Secure, delayed payments, expiry, late, duplicated,
//! reordered, failing, dropped or forged webhooks, an API that fails mid-checkout, a
//! crowd). Each runs on a fresh stack and is judged on four things: what the shopper saw,
//! what the shop recorded, what the mock delivered (and the shop's answers), and what
//! email went out. Every step lands on the scenario's [`Timeline`].

mod api;
mod crowd;
pub mod external;
mod payments;
pub mod steps;
mod webhooks;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use mock_stripe::control_client::Control;
use serde::Serialize;

use crate::patience;
use crate::stack::{Stack, StackOptions};
use crate::timeline::{Actor, Step, Timeline};

/// Every scenario `harness run` knows, in the order it reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    PayWithTestCard,
    DeclineGenericThenPay,
    DeclineInsufficientFundsThenPay,
    DeclineExpiredCardThenPay,
    DeclineIncorrectCvcThenPay,
    CancelAtPaymentPage,
    SessionExpires,
    ThreeDSecureCompleted,
    ThreeDSecureFailedThenPay,
    DelayedPaymentSucceeds,
    DelayedPaymentFails,
    WebhookDuplicated,
    WebhookAfterRedirect,
    WebhookDelayedMinutes,
    WebhooksReordered,
    WebhookFailsThenRetried,
    WebhookDropped,
    WebhookForgedSignature,
    WebhookReplayedOldSignature,
    ApiRateLimitedOnCreate,
    ApiErrorsOnCreate,
    ApiTimeoutOnCreate,
    ApiDownThenTryAgain,
    ManyShoppers,
}

impl Scenario {
    pub const ALL: [Scenario; 24] = [
        Scenario::PayWithTestCard,
        Scenario::DeclineGenericThenPay,
        Scenario::DeclineInsufficientFundsThenPay,
        Scenario::DeclineExpiredCardThenPay,
        Scenario::DeclineIncorrectCvcThenPay,
        Scenario::CancelAtPaymentPage,
        Scenario::SessionExpires,
        Scenario::ThreeDSecureCompleted,
        Scenario::ThreeDSecureFailedThenPay,
        Scenario::DelayedPaymentSucceeds,
        Scenario::DelayedPaymentFails,
        Scenario::WebhookDuplicated,
        Scenario::WebhookAfterRedirect,
        Scenario::WebhookDelayedMinutes,
        Scenario::WebhooksReordered,
        Scenario::WebhookFailsThenRetried,
        Scenario::WebhookDropped,
        Scenario::WebhookForgedSignature,
        Scenario::WebhookReplayedOldSignature,
        Scenario::ApiRateLimitedOnCreate,
        Scenario::ApiErrorsOnCreate,
        Scenario::ApiTimeoutOnCreate,
        Scenario::ApiDownThenTryAgain,
        Scenario::ManyShoppers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PayWithTestCard => "pay-with-test-card",
            Scenario::DeclineGenericThenPay => "decline-generic-then-pay",
            Scenario::DeclineInsufficientFundsThenPay => "decline-insufficient-funds-then-pay",
            Scenario::DeclineExpiredCardThenPay => "decline-expired-card-then-pay",
            Scenario::DeclineIncorrectCvcThenPay => "decline-incorrect-cvc-then-pay",
            Scenario::CancelAtPaymentPage => "cancel-at-payment-page",
            Scenario::SessionExpires => "session-expires",
            Scenario::ThreeDSecureCompleted => "3ds-completed",
            Scenario::ThreeDSecureFailedThenPay => "3ds-failed-then-pay",
            Scenario::DelayedPaymentSucceeds => "delayed-payment-succeeds",
            Scenario::DelayedPaymentFails => "delayed-payment-fails",
            Scenario::WebhookDuplicated => "webhook-duplicated",
            Scenario::WebhookAfterRedirect => "webhook-after-redirect",
            Scenario::WebhookDelayedMinutes => "webhook-delayed-minutes",
            Scenario::WebhooksReordered => "webhooks-reordered",
            Scenario::WebhookFailsThenRetried => "webhook-fails-then-retried",
            Scenario::WebhookDropped => "webhook-dropped",
            Scenario::WebhookForgedSignature => "webhook-forged-signature",
            Scenario::WebhookReplayedOldSignature => "webhook-replayed-old-signature",
            Scenario::ApiRateLimitedOnCreate => "api-429-on-session-create",
            Scenario::ApiErrorsOnCreate => "api-500-on-session-create",
            Scenario::ApiTimeoutOnCreate => "api-timeout-on-session-create",
            Scenario::ApiDownThenTryAgain => "api-down-then-try-again",
            Scenario::ManyShoppers => "32-shoppers-at-once",
        }
    }

    /// One line for `harness list` and the reports.
    pub fn summary(self) -> &'static str {
        match self {
            Scenario::PayWithTestCard => {
                "Pay with 4242: the thank-you page, one paid order, one receipt."
            }
            Scenario::DeclineGenericThenPay => {
                "4000…0002 is declined with Stripe's message and records nothing; 4242 then pays once."
            }
            Scenario::DeclineInsufficientFundsThenPay => {
                "4000…9995 (insufficient funds) is declined, nothing recorded; 4242 then pays once."
            }
            Scenario::DeclineExpiredCardThenPay => {
                "4000…0069 (expired card) is declined, nothing recorded; 4242 then pays once."
            }
            Scenario::DeclineIncorrectCvcThenPay => {
                "4000…0127 (incorrect CVC) is declined, nothing recorded; 4242 then pays once."
            }
            Scenario::CancelAtPaymentPage => {
                "Back from the payment page: the error flash, no order paid, no email."
            }
            Scenario::SessionExpires => {
                "Left unpaid for a day (clock advanced): checkout.session.expired expires the order; the page is gone."
            }
            Scenario::ThreeDSecureCompleted => {
                "4000…3220 asks for 3-D Secure; completing it pays once."
            }
            Scenario::ThreeDSecureFailedThenPay => {
                "Failing 3-D Secure shows Stripe's error and records nothing; 4242 then pays once."
            }
            Scenario::DelayedPaymentSucceeds => {
                "A bank debit completes unpaid (no receipt), then settles days later: paid, one receipt."
            }
            Scenario::DelayedPaymentFails => {
                "A bank debit completes unpaid, then fails days later: recorded as failed, no receipt."
            }
            Scenario::WebhookDuplicated => {
                "checkout.session.completed arrives twice: one paid order, one receipt."
            }
            Scenario::WebhookAfterRedirect => {
                "The shopper is back before the webhook: the order is paid once it arrives, never before."
            }
            Scenario::WebhookDelayedMinutes => {
                "The webhook comes five minutes late: nothing is fulfilled from the redirect; then paid once."
            }
            Scenario::WebhooksReordered => {
                "Two purchases whose completions arrive in the wrong order: both paid, two receipts."
            }
            Scenario::WebhookFailsThenRetried => {
                "The first two deliveries fail; Stripe's retries (clock advanced) pay the order once."
            }
            Scenario::WebhookDropped => {
                "The webhook never arrives: the redirect alone fulfils nothing, no email."
            }
            Scenario::WebhookForgedSignature => {
                "A delivery with a forged signature is refused (4xx); the genuine retry pays once."
            }
            Scenario::WebhookReplayedOldSignature => {
                "A genuine event replayed with an old signature is refused; a redelivery changes nothing."
            }
            Scenario::ApiRateLimitedOnCreate => {
                "Creating the session is rate limited (429) once: the shop retries, one session, paid once."
            }
            Scenario::ApiErrorsOnCreate => {
                "Creating the session fails twice with 500: the shop retries, one session, paid once."
            }
            Scenario::ApiTimeoutOnCreate => {
                "The session is created but the answer is lost: the retry with the same key gets it back; one session."
            }
            Scenario::ApiDownThenTryAgain => {
                "Stripe is down at Buy: a clear page, nothing paid; trying again works, one paid order."
            }
            Scenario::ManyShoppers => {
                "32 shoppers at once over every product: 32 paid orders at the right prices, 32 receipts."
            }
        }
    }

    /// Runs the scenario on `ctx`'s stack, which nothing else has used.
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Scenario::PayWithTestCard => payments::pay_with_test_card(ctx).await,
            Scenario::DeclineGenericThenPay => {
                payments::decline_then_pay(ctx, "4000 0000 0000 0002", "Your card was declined.")
                    .await
            }
            Scenario::DeclineInsufficientFundsThenPay => {
                payments::decline_then_pay(
                    ctx,
                    "4000 0000 0000 9995",
                    "Your card has insufficient funds.",
                )
                .await
            }
            Scenario::DeclineExpiredCardThenPay => {
                payments::decline_then_pay(ctx, "4000 0000 0000 0069", "Your card has expired.")
                    .await
            }
            Scenario::DeclineIncorrectCvcThenPay => {
                payments::decline_then_pay(
                    ctx,
                    "4000 0000 0000 0127",
                    "Your card's security code is incorrect.",
                )
                .await
            }
            Scenario::CancelAtPaymentPage => payments::cancel_at_payment_page(ctx).await,
            Scenario::SessionExpires => payments::session_expires(ctx).await,
            Scenario::ThreeDSecureCompleted => payments::three_d_secure(ctx, true).await,
            Scenario::ThreeDSecureFailedThenPay => payments::three_d_secure(ctx, false).await,
            Scenario::DelayedPaymentSucceeds => payments::delayed_payment(ctx, true).await,
            Scenario::DelayedPaymentFails => payments::delayed_payment(ctx, false).await,
            Scenario::WebhookDuplicated => webhooks::duplicated(ctx).await,
            Scenario::WebhookAfterRedirect => webhooks::after_redirect(ctx).await,
            Scenario::WebhookDelayedMinutes => webhooks::delayed_minutes(ctx).await,
            Scenario::WebhooksReordered => webhooks::reordered(ctx).await,
            Scenario::WebhookFailsThenRetried => webhooks::fails_then_retried(ctx).await,
            Scenario::WebhookDropped => webhooks::dropped(ctx).await,
            Scenario::WebhookForgedSignature => webhooks::forged_signature(ctx).await,
            Scenario::WebhookReplayedOldSignature => webhooks::replayed_old_signature(ctx).await,
            Scenario::ApiRateLimitedOnCreate => {
                api::retried_create(ctx, api::Trouble::RateLimited).await
            }
            Scenario::ApiErrorsOnCreate => {
                api::retried_create(ctx, api::Trouble::ServerErrors).await
            }
            Scenario::ApiTimeoutOnCreate => {
                api::retried_create(ctx, api::Trouble::LostAnswer).await
            }
            Scenario::ApiDownThenTryAgain => api::down_then_try_again(ctx).await,
            Scenario::ManyShoppers => crowd::many_shoppers(ctx, 32).await,
        }
    }

    /// The scenarios whose name contains `pattern` (all of them for `None`).
    pub fn matching(pattern: Option<&str>) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| pattern.is_none_or(|p| s.name().contains(p)))
            .collect()
    }
}

/// What a scenario works with: its stack, its timeline, and the control API of the
/// shop's account on the mock.
pub struct Ctx {
    pub stack: Stack,
    pub timeline: Arc<Timeline>,
    pub control: Control,
    seen_attempts: Mutex<HashSet<String>>,
    seen_emails: Mutex<usize>,
}

impl Ctx {
    pub fn new(stack: Stack, timeline: Arc<Timeline>) -> Ctx {
        let control = Control::new(stack.mock_url.as_str(), &stack.secret_key);
        Ctx {
            stack,
            timeline,
            control,
            seen_attempts: Mutex::new(HashSet::new()),
            seen_emails: Mutex::new(0),
        }
    }

    /// A new shopper (own cookies) whose steps land on the timeline.
    pub fn shopper(&self) -> anyhow::Result<crate::shopper::Shopper> {
        crate::shopper::Shopper::recorded(self.timeline.clone())
    }

    /// Something the harness did to (mock) Stripe.
    pub fn note_stripe(&self, what: impl Into<String>) {
        self.timeline.record(Actor::Stripe, what, None);
    }

    /// Records the delivery attempts and emails that happened since the last look.
    pub async fn observe(&self) -> anyhow::Result<()> {
        self.observe_deliveries().await?;
        self.observe_email()
    }

    /// Records the delivery attempts that happened since the last look.
    pub async fn observe_deliveries(&self) -> anyhow::Result<()> {
        let attempts = self
            .control
            .deliveries(None)
            .await
            .context("reading the mock's delivery log")?;
        let fresh: Vec<_> = {
            let mut seen = self.seen_attempts.lock().unwrap_or_else(|p| p.into_inner());
            attempts
                .into_iter()
                .rev()
                .filter(|a| seen.insert(a.id.clone()))
                .collect()
        };
        for a in fresh {
            let answer = match (a.status, &a.error) {
                (Some(s), _) => s.to_string(),
                (None, Some(e)) => e.clone(),
                (None, None) => "no answer".into(),
            };
            let fault = a
                .fault
                .as_deref()
                .map(|f| format!(" [fault: {f}]"))
                .unwrap_or_default();
            self.timeline.record(
                Actor::Webhook,
                format!(
                    "{} attempt {} → {answer} in {} ms{fault}",
                    a.event_type, a.attempt, a.latency_ms
                ),
                (!a.response_body.is_empty()).then(|| a.response_body.clone()),
            );
        }
        Ok(())
    }

    /// Records the emails sent since the last look.
    fn observe_email(&self) -> anyhow::Result<()> {
        let mails = self.stack.receipts()?;
        let mut seen = self.seen_emails.lock().unwrap_or_else(|p| p.into_inner());
        for mail in mails.iter().skip(*seen) {
            let subject = mail
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("(no subject)")
                .to_string();
            self.timeline.record(
                Actor::Email,
                format!("email: {subject}"),
                Some(mail.clone()),
            );
        }
        *seen = mails.len();
        Ok(())
    }
}

/// How a scenario ended.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed { message: String },
    Skipped { reason: String },
}

/// One scenario's result, with its timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub summary: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
    pub timeline: Vec<Step>,
}

impl ScenarioReport {
    /// Passed or skipped: nothing wrong was found.
    pub fn passed(&self) -> bool {
        !matches!(self.outcome, Outcome::Failed { .. })
    }

    pub fn skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped { .. })
    }
}

/// Runs one scenario on a fresh stack. A crash (a panic) is that scenario's failure.
pub async fn run_isolated(scenario: Scenario, options: StackOptions) -> ScenarioReport {
    run_on_fresh_stack(scenario, options, None).await
}

/// Runs one scenario in headless Chromium (see [`crate::browser`]) on a fresh stack.
pub async fn run_in_browser(
    scenario: Scenario,
    options: StackOptions,
    driver: Arc<crate::browser::Driver>,
) -> ScenarioReport {
    let mut report = run_on_fresh_stack(scenario, options, Some(driver)).await;
    report.name = format!("{} (browser)", scenario.name());
    report
}

async fn run_on_fresh_stack(
    scenario: Scenario,
    options: StackOptions,
    browser: Option<Arc<crate::browser::Driver>>,
) -> ScenarioReport {
    let started = Instant::now();
    let timeline = Arc::new(Timeline::default());
    let t = timeline.clone();
    let task = tokio::spawn(async move {
        let stack = Stack::start(options).await.context("starting the stack")?;
        let ctx = Ctx::new(stack, t);
        let run = async {
            match &browser {
                Some(driver) => crate::browser::run(scenario, &ctx, driver).await,
                None => scenario.run(&ctx).await,
            }
        };
        let result = before_the_deadline(run).await;
        // What happened last (the shop's answers, the email) belongs on the timeline too.
        let _ = ctx.observe().await;
        ctx.stack.shutdown().await;
        result
    });
    let outcome = match task.await {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(e)) => Outcome::Failed {
            message: format!("{e:#}"),
        },
        Err(e) => Outcome::Failed {
            message: format!("the scenario crashed: {e}"),
        },
    };
    if let Outcome::Failed { message } = &outcome {
        timeline.record(Actor::Check, format!("FAILED: {message}"), None);
    }
    ScenarioReport {
        name: scenario.name().to_string(),
        summary: scenario.summary().to_string(),
        outcome,
        seconds: started.elapsed().as_secs_f64(),
        timeline: timeline.steps(),
    }
}

/// Runs one scenario against a shop and a Stripe the harness did not start. Run them one
/// at a time: they share the shop's account (its faults, its clock, its delivery log).
pub async fn run_external(scenario: Scenario, shop: &external::ExternalShop) -> ScenarioReport {
    let started = Instant::now();
    let timeline = Arc::new(Timeline::default());
    let stack = Stack::external(
        shop.shop_url.clone(),
        shop.stripe_base.clone(),
        shop.stripe_key.clone(),
    );
    let ctx = Ctx::new(stack, timeline.clone());
    let has_control = ctx.control.healthy().await;
    let outcome = match external::unsupported(scenario, has_control) {
        Some(reason) => Outcome::Skipped {
            reason: reason.to_string(),
        },
        None => {
            let result = before_the_deadline(external::run(scenario, &ctx, shop)).await;
            if has_control {
                let _ = ctx.observe_deliveries().await;
                // Leave no fault behind for the next scenario.
                let _ = ctx.control.clear_faults().await;
            }
            match result {
                Ok(()) => Outcome::Passed,
                Err(e) => {
                    let message = format!("{e:#}");
                    timeline.record(Actor::Check, format!("FAILED: {message}"), None);
                    Outcome::Failed { message }
                }
            }
        }
    };
    ScenarioReport {
        name: scenario.name().to_string(),
        summary: scenario.summary().to_string(),
        outcome,
        seconds: started.elapsed().as_secs_f64(),
        timeline: timeline.steps(),
    }
}

/// A scenario that runs longer than this (in running time, see [`crate::patience`]) is
/// stuck: report it and go on.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(120);

/// A scenario's outcome, or its failure for running past [`SCENARIO_DEADLINE`].
async fn before_the_deadline(run: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    patience::within(SCENARIO_DEADLINE, run)
        .await
        .unwrap_or_else(|| {
            Err(anyhow::anyhow!(
                "did not finish within {SCENARIO_DEADLINE:?}"
            ))
        })
}
