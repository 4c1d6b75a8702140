//! Webhook delivery (contract §3.6): one task per (event, target), spawned after the account
//! lock is released so a slow or failing target never slows or rolls back the API.
//!
//! Each attempt signs the same bytes with a fresh `t`; 2xx is success (redirects are not
//! followed and count as failures); otherwise the attempt is retried after each of
//! `retry_delays`. Every attempt is recorded in the account.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::clock::wall_now;
use crate::protocol::auth::mask_key;
use crate::resources::events::{Delivery, DeliveryAttempt, Target};
use crate::store::{AccountRef, lock};

#[derive(Clone)]
pub(crate) struct Deliverer {
    client: reqwest::Client,
    retry_delays: Arc<[Duration]>,
    shutdown: watch::Receiver<bool>,
}

impl Deliverer {
    pub fn new(
        retry_delays: &[Duration],
        timeout: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Deliverer> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            // Targets are local apps; a proxy from the environment must not intercept them.
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Deliverer {
            client,
            retry_delays: retry_delays.into(),
            shutdown,
        })
    }

    /// Starts delivering. For deliveries of type `wait_for`, returns receivers that fire once
    /// the first attempt is over (whatever its outcome).
    pub fn dispatch(
        &self,
        account: &AccountRef,
        deliveries: Vec<Delivery>,
        wait_for: Option<&str>,
    ) -> Vec<oneshot::Receiver<()>> {
        let mut waits = Vec::new();
        for d in deliveries {
            let first_done = if wait_for == Some(d.event_type) {
                let (tx, rx) = oneshot::channel();
                waits.push(rx);
                Some(tx)
            } else {
                None
            };
            tokio::spawn(self.clone().run(account.clone(), d, first_done));
        }
        waits
    }

    async fn run(
        mut self,
        account: AccountRef,
        d: Delivery,
        mut first_done: Option<oneshot::Sender<()>>,
    ) {
        let attempts = self.retry_delays.len() + 1;
        for attempt in 0..attempts {
            if attempt > 0 {
                let delay = self.retry_delays[attempt - 1];
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = crate::stopped(&mut self.shutdown) => return,
                }
            }
            let Some(target) = current_target(&account, &d.target) else {
                tracing::debug!(event = %d.event_id, "endpoint gone or disabled: no more attempts");
                return;
            };
            let (status, error) = self.attempt(&target, &d).await;
            let succeeded = status.is_some_and(|s| (200..300).contains(&s));
            match (status, &error) {
                (Some(s), _) => {
                    tracing::info!(event = %d.event_id, "<-- [{s}] POST {} {}", target.url(), d.event_type)
                }
                (None, Some(e)) => {
                    tracing::warn!(event = %d.event_id, "<-- [ERR] POST {} {}: {e}", target.url(), d.event_type)
                }
                (None, None) => {}
            }
            {
                // Short critical section, no await inside.
                let mut acc = lock(&account);
                let at = acc.now();
                acc.deliveries.push(DeliveryAttempt {
                    event_id: d.event_id.clone(),
                    endpoint: target.label().to_string(),
                    attempt: attempt as u32 + 1,
                    at,
                    status,
                    error,
                    succeeded,
                });
                if succeeded && let Some(ev) = acc.events.get_mut(&d.event_id) {
                    ev.pending_webhooks = (ev.pending_webhooks - 1).max(0);
                }
            }
            if let Some(tx) = first_done.take() {
                let _ = tx.send(());
            }
            if succeeded {
                return;
            }
        }
        tracing::warn!(
            event = %d.event_id,
            "giving up on {} after {attempts} attempts (secret {})",
            d.target.url(),
            mask_key(d.target.secret())
        );
    }

    async fn attempt(&self, target: &Target, d: &Delivery) -> (Option<u16>, Option<String>) {
        // Real time, not the account clock: receivers check `t` against their own clock.
        let signature = crate::signature::sign(target.secret(), wall_now(), &d.body);
        let result = self
            .client
            .post(target.url())
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header("Stripe-Signature", signature)
            .header(
                http::header::USER_AGENT,
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header(http::header::CACHE_CONTROL, "no-cache")
            .header(http::header::ACCEPT, "*/*; q=0.5, application/xml")
            .body(d.body.clone())
            .send()
            .await;
        match result {
            Ok(resp) => (Some(resp.status().as_u16()), None),
            Err(e) if e.is_timeout() => (None, Some("timed out".into())),
            Err(e) => (None, Some(describe(&e))),
        }
    }
}

/// An account endpoint may have been deleted, disabled or edited since the event: follow
/// its current state. Forward-to targets are fixed.
fn current_target(account: &AccountRef, target: &Target) -> Option<Target> {
    match target {
        Target::Forward { .. } => Some(target.clone()),
        Target::Endpoint { id, .. } => {
            let acc = lock(account);
            let ep = acc.webhook_endpoints.get(id)?;
            (!ep.disabled).then(|| Target::Endpoint {
                id: ep.id.clone(),
                url: ep.url.clone(),
                secret: ep.secret.clone(),
            })
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
