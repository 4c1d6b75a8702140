//! The end of a soak: let everything Stripe still owes the shop arrive before judging.
//! Faults are cleared; the account's clock moves two days on, which expires the sessions
//! left unpaid and runs every retry and late delivery still waiting; then the events that
//! never reached the shop (dropped ones) are resent, as an operator would from Stripe's
//! dashboard, until the mock has nothing pending and every checkout event was delivered.

use std::time::{Duration, Instant};

use anyhow::Context;
use mock_stripe::control_client::Control;
use serde_json::Value;
use url::Url;

use crate::patience::Patience;

/// Past the sessions' 24-hour expiry and the soak's whole retry schedule.
const FIRST_ADVANCE_SECONDS: i64 = 2 * 86_400;
/// How long the mock may take to send what is due now (resends) before the clock is
/// moved for what is due later (their retries).
const IDLE_PATIENCE: Duration = Duration::from_secs(3);
/// Settling takes two rounds when the shop takes everything it is sent (the second finds
/// nothing left to resend); more only when deliveries keep failing.
const ROUNDS: u32 = 4;
/// The events the shop acts on.
const CHECKOUT_EVENTS: [&str; 2] = ["checkout.session.completed", "checkout.session.expired"];

/// What settling took.
#[derive(Clone, Debug, Default)]
pub struct Settled {
    /// Fault hits not used when the shoppers were done (cleared).
    pub unused_fault_hits: u32,
    /// Checkout events resent because they never reached the shop.
    pub resent: usize,
    /// Deliveries the mock still had pending at the end (0 when settled).
    pub pending: u64,
    /// Checkout events never delivered at the end (0 when settled).
    pub undelivered: Vec<String>,
    pub seconds: f64,
}

/// The mock's `/v1` and `/_config` as the shop's account sees them.
pub struct Account {
    pub control: Control,
    pub mock_url: Url,
    pub secret_key: String,
    http: reqwest::Client,
}

impl Account {
    /// With connections of its own: none left idle by the soak that the mock may be
    /// closing (it closes keep-alive connections idle for 30 s).
    pub fn new(mock_url: Url, secret_key: String) -> Account {
        Account {
            control: Control::new(mock_url.as_str(), &secret_key),
            mock_url,
            secret_key,
            http: reqwest::Client::new(),
        }
    }

    /// `GET` a path of the mock with the account's key, as JSON.
    async fn get(&self, path_and_query: &str) -> anyhow::Result<Value> {
        let url = self.mock_url.join(path_and_query)?;
        let answer = self
            .http
            .get(url.clone())
            .basic_auth(&self.secret_key, Some(""))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = answer.status();
        let body: Value = answer.json().await.with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(status.is_success(), "GET {url}: {status} {body}");
        Ok(body)
    }

    /// Every object of a Stripe list, page by page (`query` without `limit`).
    pub async fn list_all(&self, path: &str, query: &str) -> anyhow::Result<Vec<Value>> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let mut page_query = format!("{query}&limit=100");
            if let Some(last) = all.last().and_then(|o| o["id"].as_str()) {
                page_query.push_str(&format!("&starting_after={last}"));
            }
            let page = self.get(&format!("{path}?{page_query}")).await?;
            let data = page["data"].as_array().context("a Stripe list")?;
            all.extend(data.iter().cloned());
            if page["has_more"] != true || data.is_empty() {
                return Ok(all);
            }
        }
    }

    /// Deliveries the mock has not finished (waiting, retrying, held, in flight).
    pub async fn pending_deliveries(&self) -> anyhow::Result<u64> {
        let log = self.get("/_config/deliveries?limit=1").await?;
        log["pending"]
            .as_u64()
            .context("`pending` in /_config/deliveries")
    }

    /// Checkout events no endpoint has answered 2xx to (Stripe's `delivery_success=false`).
    async fn undelivered_checkout_events(&self) -> anyhow::Result<Vec<String>> {
        let types: String = CHECKOUT_EVENTS
            .iter()
            .map(|t| format!("&types[]={t}"))
            .collect();
        let events = self
            .list_all("/v1/events", &format!("delivery_success=false{types}"))
            .await?;
        Ok(events
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_string))
            .collect())
    }

    /// Waits until nothing is pending; `false` if something still is after `budget` (of
    /// running time, see [`Patience`]).
    async fn idle_within(&self, budget: Duration) -> anyhow::Result<bool> {
        let mut patience = Patience::new(budget);
        loop {
            if self.pending_deliveries().await? == 0 {
                return Ok(true);
            }
            if patience.run_out() {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Clears the faults and runs the clock, deliveries and resends until the shop has been
/// told everything.
pub async fn settle(account: &Account) -> anyhow::Result<Settled> {
    let started = Instant::now();
    let control = &account.control;
    let unused_fault_hits = control
        .faults()
        .await?
        .iter()
        .filter_map(|rule| rule["remaining"].as_u64())
        .sum::<u64>() as u32;
    control.clear_faults().await?;
    // Two days pass at once (an attempt in flight meanwhile is retried on the new time).
    control
        .advance(FIRST_ADVANCE_SECONDS)
        .await
        .context("advancing the account's clock")?;
    let mut resent = 0;
    for _ in 0..ROUNDS {
        if !account.idle_within(IDLE_PATIENCE).await? {
            // Due later on the (now virtual) clock: bring it forward.
            control.advance(86_400).await?;
            account.idle_within(IDLE_PATIENCE).await?;
        }
        let undelivered = account.undelivered_checkout_events().await?;
        if undelivered.is_empty() {
            break;
        }
        for event in &undelivered {
            control.redeliver(event).await?;
        }
        resent += undelivered.len();
    }
    Ok(Settled {
        unused_fault_hits,
        resent,
        pending: account.pending_deliveries().await?,
        undelivered: account.undelivered_checkout_events().await?,
        seconds: started.elapsed().as_secs_f64(),
    })
}
