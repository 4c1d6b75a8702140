//! The system under test: a fresh stack (mock + shop) per case, driven over HTTP like the
//! scenarios drive it, and compared with the model after every step.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;

use super::model::{COMPLETED, Card, Model, SessionState, Transition, shopper_email};
use super::products;
use crate::catalogue::CatalogueProduct;
use crate::patience::{ANSWER_WAIT, CatchUp, Patience};
use crate::scenarios::Ctx;
use crate::scenarios::steps::{self, Checkout};
use crate::shop::OrderRecord;
use crate::shopper::{Shopper, excerpt};
use crate::timeline::Actor;

/// The instant every case pins the account's clock at (2027-01-15), so a replay sees the
/// same times.
pub const PINNED_AT: i64 = 1_800_000_000;

/// One bought session, as its shopper holds it.
struct Bought {
    shopper: Shopper,
    /// Where Buy led: the session's payment page (its `url`).
    payment_url: url::Url,
    /// The page the shopper is on (after a decline: the payment page, answered).
    checkout: Checkout,
    product: CatalogueProduct,
    email: String,
}

pub(crate) struct System {
    pub ctx: Ctx,
    bought: Vec<Bought>,
}

impl System {
    pub fn new(ctx: Ctx) -> System {
        System {
            ctx,
            bought: Vec::new(),
        }
    }

    /// Pins the account's clock: from here on it moves only when a step moves it.
    pub async fn pin_clock(&self) -> anyhow::Result<()> {
        self.ctx
            .control
            .pin_clock(PINNED_AT)
            .await
            .context("pinning the account's clock")
    }

    /// The session ids, in buying order.
    pub fn session_ids(&self) -> Vec<String> {
        self.bought
            .iter()
            .map(|b| b.checkout.session_id.clone())
            .collect()
    }

    /// Runs one step. `before` is the model before it.
    pub async fn apply(&mut self, before: &Model, transition: &Transition) -> anyhow::Result<()> {
        match *transition {
            Transition::Buy { product } => {
                let product = products()[product].clone();
                let shopper = self.ctx.shopper()?;
                let checkout = steps::open_payment_page(&self.ctx, &shopper, &product).await?;
                let email = shopper_email(self.bought.len());
                self.bought.push(Bought {
                    shopper,
                    payment_url: checkout.payment_page.url.clone(),
                    checkout,
                    product,
                    email,
                });
            }
            Transition::Pay { session, card } => {
                let state = before.sessions[session].state;
                self.pay(session, card, state).await?;
            }
            Transition::ReturnWithoutPaying { session } => {
                let b = &self.bought[session];
                let url = self.success_url(&b.checkout.session_id).await?;
                let visit = b.shopper.open(&url).await?;
                ensure!(
                    visit.page.status < 500,
                    "opening the success URL {url} gave an error page ({}): {}",
                    visit.page.status,
                    excerpt(visit.page.text())
                );
            }
            Transition::FaultNextCompletion { fault } => {
                self.ctx.note_stripe(format!("fault rule: {fault:?}"));
                self.ctx.control.add_fault(&fault.rule()).await?;
            }
            Transition::AdvanceClock { seconds } => {
                self.ctx
                    .note_stripe(format!("advance the clock {seconds} s"));
                self.ctx.control.advance(seconds).await?;
            }
            Transition::Redeliver { session } => {
                let event = self.completed_event(session).await?;
                self.ctx.note_stripe(format!("redeliver {event}"));
                self.ctx.control.redeliver(&event).await?;
            }
        }
        Ok(())
    }

    async fn pay(&mut self, session: usize, card: Card, state: SessionState) -> anyhow::Result<()> {
        let ctx = &self.ctx;
        let b = &mut self.bought[session];
        match state {
            SessionState::Open => {}
            SessionState::Paid => {
                let visit = b.shopper.open(&b.payment_url).await?;
                ensure!(
                    visit.page.status == 200 && visit.page.contains_text("already paid"),
                    "the payment page of a paid session should say it is paid; got {}: {}",
                    visit.page.status,
                    excerpt(visit.page.text())
                );
                return Ok(());
            }
            SessionState::Expired => {
                let visit = b.shopper.open(&b.payment_url).await?;
                ensure!(
                    visit.page.status == 410 && visit.page.contains_text("no longer available"),
                    "the payment page of an expired session should say it is gone; got {}: {}",
                    visit.page.status,
                    excerpt(visit.page.text())
                );
                return Ok(());
            }
        }
        let page = &b.checkout.payment_page;
        match card {
            Card::Succeeds => {
                let landing = steps::pay(ctx, &b.shopper, page, card.number(), &b.email).await?;
                steps::expect_thank_you(ctx, &landing, &b.checkout, &b.product)?;
            }
            Card::Declined => {
                let visit = steps::submit_card(&b.shopper, page, card.number(), &b.email).await?;
                steps::expect_declined(ctx, &visit, "Your card was declined.")?;
                b.checkout.payment_page = visit.page;
            }
            Card::ThreeDSecureCompleted | Card::ThreeDSecureFailed => {
                let challenge = steps::submit_card(&b.shopper, page, card.number(), &b.email)
                    .await?
                    .expect_status(StatusCode::OK)?;
                let mut form = challenge
                    .page
                    .form_with_input("challenge")
                    .with_context(|| {
                        format!(
                            "{} should lead to the 3-D Secure page; got: {}",
                            card.number(),
                            excerpt(challenge.page.text())
                        )
                    })?;
                let complete = card == Card::ThreeDSecureCompleted;
                form.set("outcome", if complete { "complete" } else { "fail" });
                let answered = b.shopper.submit(&form).await?;
                if complete {
                    let answered = answered.expect_status(StatusCode::OK)?;
                    steps::expect_back_at_shop(ctx, &answered, "3-D Secure")?;
                    steps::expect_thank_you(ctx, &answered, &b.checkout, &b.product)?;
                } else {
                    steps::expect_declined(ctx, &answered, "failed authentication")?;
                    b.checkout.payment_page = answered.page;
                }
            }
        }
        Ok(())
    }

    /// The session's success URL with its id filled in, as Stripe sends shoppers there.
    async fn success_url(&self, session_id: &str) -> anyhow::Result<url::Url> {
        let session: serde_json::Value = self
            .api(&format!("v1/checkout/sessions/{session_id}"))
            .await?;
        let template = session["success_url"]
            .as_str()
            .with_context(|| format!("{session_id} has no success_url"))?;
        let url = template.replace("{CHECKOUT_SESSION_ID}", session_id);
        url::Url::parse(&url).with_context(|| format!("the success URL {url:?}"))
    }

    /// The id of session `index`'s `checkout.session.completed`.
    async fn completed_event(&self, index: usize) -> anyhow::Result<String> {
        let session_id = &self.bought[index].checkout.session_id;
        let events = self
            .api(&format!("v1/events?type={COMPLETED}&limit=100"))
            .await?;
        events["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["data"]["object"]["id"] == session_id.as_str())
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("the mock has no {COMPLETED} for {session_id}"))
    }

    async fn api(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let stack = &self.ctx.stack;
        let response = reqwest::Client::new()
            .get(format!("{}{path}", stack.mock_url))
            .basic_auth(&stack.secret_key, Some(""))
            .send()
            .await
            .with_context(|| format!("GET {path} on the mock"))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        ensure!(
            status.is_success(),
            "GET {path} on the mock: {status} {body}"
        );
        Ok(body)
    }

    /// Lets everything due now run (deliveries included) and waits until the mock's log
    /// shows every attempt the model expects; then checks the mock's side: the shop
    /// answered 2xx to exactly the genuine deliveries.
    pub async fn settle(&self, model: &Model) -> anyhow::Result<()> {
        // A resend is sent by the mock's driver, not by the call that asked for it: its
        // attempt may show in the log a moment later.
        let mut patience = Patience::new(ANSWER_WAIT);
        loop {
            self.ctx.control.advance(0).await?;
            let (attempts, others): (Vec<_>, Vec<_>) = self
                .ctx
                .control
                .deliveries(None)
                .await?
                .into_iter()
                .partition(|a| a.event_type == COMPLETED);
            // No fault hits other events: a shop answers each 2xx, even those it ignores
            // (Stripe retries anything else, and disables endpoints that keep failing).
            if let Some(refused) = others.iter().find(|a| !a.succeeded) {
                bail!(
                    "the shop did not answer 2xx to a genuine {} ({}): {}",
                    refused.event_type,
                    refused.event,
                    match (refused.status, &refused.error) {
                        (Some(s), _) => format!("it answered {s} {}", refused.response_body),
                        (None, Some(e)) => e.clone(),
                        (None, None) => "no answer".into(),
                    }
                );
            }
            if attempts.len() >= model.attempts_logged || patience.run_out() {
                let succeeded = attempts.iter().filter(|a| a.succeeded).count();
                if (attempts.len(), succeeded) == (model.attempts_logged, model.attempts_succeeded)
                {
                    return Ok(());
                }
                let labels = self.event_labels().await;
                let log: Vec<String> = attempts
                    .iter()
                    .rev()
                    .map(|a| {
                        format!(
                            "{} attempt {}: {}{}",
                            labels
                                .iter()
                                .find(|(event, _)| *event == a.event)
                                .map_or(a.event.as_str(), |(_, label)| label.as_str()),
                            a.attempt,
                            match (a.status, &a.error) {
                                (Some(s), _) => format!("answered {s}"),
                                (None, Some(e)) => e.clone(),
                                (None, None) => "no answer".into(),
                            },
                            a.fault
                                .as_deref()
                                .map(|f| format!(" [fault {f}]"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                bail!(
                    "the mock attempted {COMPLETED} {} time(s), {succeeded} answered 2xx; a correct shop gets {} attempt(s), {} answered 2xx (it must answer 2xx to every genuine delivery and refuse forged ones):\n    {}",
                    attempts.len(),
                    model.attempts_logged,
                    model.attempts_succeeded,
                    log.join("\n    ")
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `(event id, "session #n's completion")` for every completed event, for messages.
    async fn event_labels(&self) -> Vec<(String, String)> {
        let Ok(events) = self
            .api(&format!("v1/events?type={COMPLETED}&limit=100"))
            .await
        else {
            return Vec::new();
        };
        let ids = self.session_ids();
        events["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let event = e["id"].as_str()?.to_owned();
                let session = e["data"]["object"]["id"].as_str()?;
                let n = ids.iter().position(|id| id == session)? + 1;
                Some((event, format!("session #{n}'s {COMPLETED}")))
            })
            .collect()
    }

    /// The shop agrees with the model. A shop that is only behind (records after
    /// answering) is waited for (see [`CatchUp`]); anything it recorded wrongly fails at
    /// once.
    pub async fn check(&self, model: &Model) -> anyhow::Result<()> {
        let mut catch_up = CatchUp::default();
        loop {
            let problems = self.compare(model).await?;
            if problems.is_empty() {
                return Ok(());
            }
            let behind = problems.iter().all(|p| p.behind);
            if !behind || catch_up.give_up(self.ctx.stack.shop_busy().await?) {
                let lines: Vec<String> = problems.into_iter().map(|p| p.text).collect();
                bail!("{}", lines.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn compare(&self, model: &Model) -> anyhow::Result<Vec<Problem>> {
        let orders = self
            .ctx
            .stack
            .orders()
            .await
            .context("reading the orders")?;
        let receipts = self.ctx.stack.receipts().context("reading the receipts")?;
        let mut problems = Vec::new();
        let mut expected_receipts = 0;
        for (i, (m, b)) in model.sessions.iter().zip(&self.bought).enumerate() {
            let n = i + 1;
            let id = &b.checkout.session_id;
            let mine: Vec<&OrderRecord> = orders
                .iter()
                .filter(|o| o.session_id.as_deref() == Some(id.as_str()))
                .collect();
            let [order] = mine[..] else {
                problems.push(Problem::wrong(format!(
                    "session #{n} ({id}) has {} orders in the shop, expected exactly one",
                    mine.len()
                )));
                continue;
            };
            let price = b.product.price_cents;
            if order.amount_cents != price {
                problems.push(Problem::wrong(format!(
                    "session #{n}: order {} is for {} cents, {} costs {price}",
                    order.id, order.amount_cents, b.product.name
                )));
            }
            let expected = m.expected_status();
            if order.status != expected {
                let text = format!(
                    "session #{n}: order {} is {:?}, a correct shop shows {expected:?} ({})",
                    order.id,
                    order.status,
                    m.explain()
                );
                // Still pending where the model moved on: perhaps only behind.
                problems.push(if order.status == "pending" {
                    Problem::behind(text)
                } else {
                    Problem::wrong(text)
                });
            }
            if order.status == "paid" && order.buyer_email.as_deref() != Some(b.email.as_str()) {
                problems.push(Problem::wrong(format!(
                    "session #{n}: the paid order {} names the buyer {:?}, the shopper paid as {}",
                    order.id, order.buyer_email, b.email
                )));
            }
            let theirs: Vec<&String> = receipts.iter().filter(|r| r.contains(&b.email)).collect();
            let want = m.expected_receipts();
            expected_receipts += want;
            if theirs.len() != want {
                let text = format!(
                    "session #{n}: {} receipt(s) to {}, a correct shop sends {want} ({})",
                    theirs.len(),
                    b.email,
                    m.explain()
                );
                problems.push(if theirs.len() < want {
                    Problem::behind(text)
                } else {
                    Problem::wrong(text)
                });
            }
            for receipt in theirs {
                for needle in [b.product.name.clone(), b.product.price_label()] {
                    if !receipt.contains(&needle) {
                        problems.push(Problem::wrong(format!(
                            "session #{n}: a receipt does not name {needle:?}:\n{receipt}"
                        )));
                    }
                }
            }
        }
        let ours: Vec<&str> = self
            .bought
            .iter()
            .map(|b| b.checkout.session_id.as_str())
            .collect();
        for order in &orders {
            if !order
                .session_id
                .as_deref()
                .is_some_and(|s| ours.contains(&s))
            {
                problems.push(Problem::wrong(format!(
                    "order {} ({:?}, session {:?}) belongs to no purchase made",
                    order.id, order.status, order.session_id
                )));
            }
        }
        if receipts.len() > expected_receipts {
            problems.push(Problem::wrong(format!(
                "{} receipt(s) went out, a correct shop sends {expected_receipts}",
                receipts.len()
            )));
        }
        if !problems.is_empty() {
            self.ctx.timeline.record(
                Actor::Shop,
                format!(
                    "orders: {}; {} receipt(s)",
                    orders
                        .iter()
                        .map(|o| format!("{} {}", o.id, o.status))
                        .collect::<Vec<_>>()
                        .join(", "),
                    receipts.len()
                ),
                None,
            );
        }
        Ok(problems)
    }
}

struct Problem {
    text: String,
    /// The shop shows less than it will once it caught up (not something wrong).
    behind: bool,
}

impl Problem {
    fn wrong(text: String) -> Problem {
        Problem {
            text,
            behind: false,
        }
    }

    fn behind(text: String) -> Problem {
        Problem { text, behind: true }
    }
}
