//! Webhook delivery (contract §3.6): routing emitted events to endpoints, the queue of
//! pending deliveries, the attempts themselves, retries and the attempt log.
//!
//! Rules:
//! * resources only record events; routing them to endpoints happens here, in the same
//!   step (under the same lock) as the change that emitted them;
//! * a delivery's attempts are jobs on the account's agenda, due on the account's clock: the
//!   first one now, each retry after the schedule's next delay; a virtual clock that stands
//!   still holds retries until it is advanced;
//! * attempts run outside the lock, concurrently, and never block the API; each is signed
//!   afresh with real wall time (`t=`), over the same bytes;
//! * 2xx is success; any other status, a refused connection or a timeout is a failure;
//!   redirects are not followed;
//! * the attempt log keeps the last `log_capacity` attempts per account.

use std::time::Duration;

use bytes::Bytes;

use super::agenda::Job;
use super::faults::FaultKind;
use crate::WebhookTarget;
use crate::protocol::auth::mask_key;
use crate::store::Account;

mod queue;

pub(crate) use queue::{AttemptRecord, Deliveries, Hold, Pending, Target};

/// When the retries of a failed delivery fall due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetrySchedule {
    /// Seconds: retries after 1 s, 5 s and 25 s, so a test run sees them.
    Compressed,
    /// Stripe's live schedule: exponential backoff for up to 3 days (the last of 10 retries
    /// about 66 hours after the first attempt). Use it with a virtual clock.
    Stripe,
    /// These delays, in order. Empty: no retries.
    Custom(Vec<Duration>),
}

impl RetrySchedule {
    pub fn delays(&self) -> Vec<Duration> {
        let secs = |s: &[u64]| s.iter().map(|&s| Duration::from_secs(s)).collect();
        match self {
            RetrySchedule::Compressed => secs(&[1, 5, 25]),
            RetrySchedule::Stripe => secs(&[
                60,
                5 * 60,
                30 * 60,
                2 * 3600,
                5 * 3600,
                10 * 3600,
                12 * 3600,
                12 * 3600,
                12 * 3600,
                12 * 3600,
            ]),
            RetrySchedule::Custom(d) => d.clone(),
        }
    }

    /// `compressed`, `stripe`, or delays in seconds separated by commas (`1,5,25`; `none`
    /// for no retries).
    pub fn parse(s: &str) -> Result<RetrySchedule, String> {
        match s.trim() {
            "compressed" => Ok(RetrySchedule::Compressed),
            "stripe" => Ok(RetrySchedule::Stripe),
            "none" | "" => Ok(RetrySchedule::Custom(Vec::new())),
            list => list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 30.0 * 86_400.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| {
                            format!(
                                "expected `compressed`, `stripe`, `none` or seconds like `1,5,25`, got {s:?}"
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(RetrySchedule::Custom),
        }
    }
}

/// Queues one delivery of an event (whose body is frozen) to `target`. Returns its id.
/// Held deliveries wait for [`release`]; the others are due now.
pub(crate) fn enqueue(
    account: &mut Account,
    event_id: &str,
    event_type: &str,
    body: Bytes,
    target: Target,
    held: Option<Hold>,
) -> u64 {
    let id = account.deliveries.add(Pending {
        event_id: event_id.to_string(),
        event_type: event_type.to_string(),
        body,
        target,
        attempts: 0,
        generation: 0,
        held,
        first_attempt_waiters: Vec::new(),
        deferred: false,
    });
    if held.is_none() {
        let now = account.clock.now_ms();
        schedule(account, id, now);
    }
    id
}

/// (Re)schedules delivery `id`'s next attempt at `due_ms`; older jobs for it become stale.
pub(crate) fn schedule(account: &mut Account, id: u64, due_ms: i64) {
    let Some(p) = account.deliveries.get_mut(id) else {
        return;
    };
    p.generation += 1;
    p.held = None;
    let generation = p.generation;
    account.agenda.schedule(
        due_ms,
        Job::Attempt {
            delivery: id,
            generation,
        },
    );
}

/// Releases held deliveries: their next attempt is due now.
pub(crate) fn release(account: &mut Account, ids: &[u64]) {
    let now = account.clock.now_ms();
    for &id in ids {
        if account.deliveries.get(id).is_some_and(|p| p.held.is_some()) {
            schedule(account, id, now);
        }
    }
}

/// The current state of an account endpoint (it may have been deleted, disabled or edited
/// since the event). Forward-to targets are fixed. A platform's Connect endpoint is looked
/// up in the platform (lock order: connected account, then platform).
pub(crate) fn current_target(account: &Account, target: &Target) -> Option<Target> {
    match target {
        Target::Forward { .. } => Some(target.clone()),
        Target::Endpoint { id, .. } => {
            let ep = account.webhook_endpoints.get(id)?;
            (!ep.disabled).then(|| Target::Endpoint {
                id: ep.id.clone(),
                url: ep.url.clone(),
                secret: ep.secret.clone(),
            })
        }
        Target::Connect { id, .. } => {
            let platform = crate::store::lock(&account.connect.as_ref()?.platform);
            let ep = platform.webhook_endpoints.get(id)?;
            (!ep.disabled && ep.connect).then(|| Target::Connect {
                id: ep.id.clone(),
                url: ep.url.clone(),
                secret: ep.secret.clone(),
            })
        }
    }
}

/// Everything one attempt needs, taken out of the account under the lock.
pub(crate) struct AttemptPlan {
    pub delivery: u64,
    /// When the attempt started, on the account's clock.
    pub started_ms: i64,
    pub attempt: u32,
    pub event_id: String,
    pub event_type: String,
    pub body: Bytes,
    pub target: Target,
    pub fault: Option<FaultKind>,
}

/// What to do for a due `Attempt` job: `None` when the job is stale, the delivery is
/// finished, or a fault consumed it (drop, delay, reorder).
pub(crate) fn plan_attempt(
    account: &mut Account,
    delivery: u64,
    generation: u32,
) -> Option<AttemptPlan> {
    let p = account.deliveries.get_mut(delivery)?;
    match p.held {
        _ if p.generation != generation => return None,
        Some(Hold::Redirect) => return None,
        // A reorder's fallback job: nothing came after it in time, so it goes now.
        Some(Hold::Reorder) => p.held = None,
        None => {}
    }
    let p = account.deliveries.get(delivery)?;
    let Some(target) = current_target(account, &p.target) else {
        // Endpoint deleted or disabled: Stripe makes no further attempts.
        finish(account, delivery);
        return None;
    };
    let event_type = p.event_type.clone();
    let fault = account.faults.take_webhook(&event_type);
    let now = account.clock.now_ms();
    match fault {
        Some(FaultKind::Drop) => {
            let p = account.deliveries.get(delivery)?;
            let record = AttemptRecord {
                id: String::new(),
                created: now.div_euclid(1000),
                event: p.event_id.clone(),
                event_type,
                endpoint: target.label().to_string(),
                url: target.url().to_string(),
                attempt: p.attempts + 1,
                status: None,
                error: Some("dropped by an injected fault: never delivered".into()),
                succeeded: false,
                latency_ms: 0,
                response_body: String::new(),
                fault: Some(FaultKind::Drop.name().to_string()),
                next_retry_at: None,
            };
            account.deliveries.record(record);
            finish(account, delivery);
            None
        }
        Some(FaultKind::Delay(secs)) => {
            schedule(account, delivery, now + secs as i64 * 1000);
            // A payment page waiting on this first attempt must not wait for the delay.
            release_waiters(account, delivery);
            None
        }
        Some(FaultKind::Reorder(secs)) => {
            // Held until the next delivery to this endpoint has been attempted; the job
            // scheduled here is the fallback if none comes.
            schedule(account, delivery, now + secs as i64 * 1000);
            if let Some(p) = account.deliveries.get_mut(delivery) {
                p.held = Some(Hold::Reorder);
            }
            release_waiters(account, delivery);
            None
        }
        _ => {
            let p = account.deliveries.get_mut(delivery)?;
            p.attempts += 1;
            Some(AttemptPlan {
                delivery,
                started_ms: now,
                attempt: p.attempts,
                event_id: p.event_id.clone(),
                event_type,
                body: p.body.clone(),
                target,
                fault,
            })
        }
    }
}

/// What an attempt came to.
pub(crate) struct AttemptOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub response_body: String,
}

/// Records an attempt; on success or after the last retry the delivery is finished,
/// otherwise the next retry is scheduled on the account's clock.
pub(crate) fn settle_attempt(
    account: &mut Account,
    plan: &AttemptPlan,
    outcome: AttemptOutcome,
    retry_delays: &[Duration],
) {
    // The delivery is gone when the account was emptied while the attempt ran: record
    // nothing in the new account's log.
    if account.deliveries.get(plan.delivery).is_none() {
        return;
    }
    let forced_timeout = matches!(plan.fault, Some(FaultKind::Timeout(_)));
    let succeeded = !forced_timeout && outcome.status.is_some_and(|s| (200..300).contains(&s));
    let now = account.clock.now_ms();
    // A virtual clock may have been advanced while the attempt ran: the retry is due after
    // the attempt in the clock's time, so the advance runs it if it falls before its end.
    let failed_at = if account.clock.is_virtual() {
        plan.started_ms
    } else {
        now
    };
    let next_retry = (!succeeded)
        .then(|| retry_delays.get(plan.attempt as usize - 1))
        .flatten()
        .map(|d| failed_at + d.as_millis() as i64);
    let error = if forced_timeout {
        Some("timed out (injected fault: the endpoint received the attempt)".to_string())
    } else {
        outcome.error
    };
    account.deliveries.record(AttemptRecord {
        id: String::new(),
        created: now.div_euclid(1000),
        event: plan.event_id.clone(),
        event_type: plan.event_type.clone(),
        endpoint: plan.target.label().to_string(),
        url: plan.target.url().to_string(),
        attempt: plan.attempt,
        status: outcome.status,
        error,
        succeeded,
        latency_ms: outcome.latency_ms,
        response_body: outcome.response_body,
        fault: plan.fault.map(|k| k.name().to_string()),
        next_retry_at: next_retry.map(|ms| ms.div_euclid(1000)),
    });
    if let Some(p) = account.deliveries.get_mut(plan.delivery) {
        for w in p.first_attempt_waiters.drain(..) {
            let _ = w.send(());
        }
    }
    if succeeded {
        if let Some(ev) = account.events.get_mut(&plan.event_id) {
            ev.pending_webhooks = (ev.pending_webhooks - 1).max(0);
        }
        finish(account, plan.delivery);
    } else if let Some(due) = next_retry {
        schedule(account, plan.delivery, due);
    } else {
        tracing::warn!(
            event = %plan.event_id,
            "giving up on {} after {} attempts (secret {})",
            plan.target.url(),
            plan.attempt,
            mask_key(plan.target.secret())
        );
        finish(account, plan.delivery);
    }
    // An attempt to this endpoint happened: deliveries a reorder fault held back go now.
    let held = account
        .deliveries
        .held_for(plan.target.label(), plan.delivery);
    release(account, &held);
}

/// Tells anyone waiting for this delivery's first attempt not to wait any longer.
fn release_waiters(account: &mut Account, id: u64) {
    if let Some(p) = account.deliveries.get_mut(id) {
        p.deferred = true;
        for w in p.first_attempt_waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Removes a delivery, telling anyone waiting for its first attempt.
fn finish(account: &mut Account, id: u64) {
    if let Some(mut p) = account.deliveries.remove(id) {
        for w in p.first_attempt_waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Routes one event to every target that receives it, at the time it is emitted: the
/// account's endpoints; for a connected account, its platform's Connect endpoints too
/// (lock order: connected account, then platform); and the forward-to targets (which get
/// connected accounts' events too, as `stripe listen --forward-to` does). Each target comes
/// with the API version its endpoint is pinned to (`None`: the event's).
pub(crate) fn targets_for(
    account: &Account,
    globals: &[WebhookTarget],
    event_type: &str,
) -> Vec<(Target, Option<String>)> {
    let mut targets: Vec<(Target, Option<String>)> = account
        .webhook_endpoints
        .rows()
        .iter()
        .filter(|e| e.receives(event_type, false))
        .map(|e| {
            let target = Target::Endpoint {
                id: e.id.clone(),
                url: e.url.clone(),
                secret: e.secret.clone(),
            };
            (target, e.api_version.clone())
        })
        .collect();
    if let Some(link) = &account.connect {
        let platform = crate::store::lock(&link.platform);
        targets.extend(
            platform
                .webhook_endpoints
                .rows()
                .iter()
                .filter(|e| e.receives(event_type, true))
                .map(|e| {
                    let target = Target::Connect {
                        id: e.id.clone(),
                        url: e.url.clone(),
                        secret: e.secret.clone(),
                    };
                    (target, e.api_version.clone())
                }),
        );
    }
    targets.extend(globals.iter().map(|g| {
        let target = Target::Forward {
            url: g.url.clone(),
            secret: g.secret.clone(),
        };
        (target, None)
    }));
    targets
}

/// The HTTP side of an attempt: sign, POST, read the start of the answer.
pub(crate) async fn send(client: &reqwest::Client, plan: &AttemptPlan) -> AttemptOutcome {
    let secret = match plan.fault {
        // A secret the endpoint cannot know: the signature is well formed but wrong.
        Some(FaultKind::BadSignature) => "whsec_injected_fault_wrong_secret".to_string(),
        _ => plan.target.secret().to_string(),
    };
    if let Some(FaultKind::Status(status)) = plan.fault {
        // Not sent: the attempt counts as this answer, so it is retried like one.
        return AttemptOutcome {
            status: Some(status),
            error: None,
            latency_ms: 0,
            response_body: "(not sent: an injected fault answered for the endpoint)".into(),
        };
    }
    let copies = if plan.fault == Some(FaultKind::Duplicate) {
        2
    } else {
        1
    };
    let mut outcome = None;
    for _ in 0..copies {
        outcome = Some(post(client, plan, &secret).await);
    }
    outcome.expect("at least one copy is sent")
}

/// How much of an endpoint's answer is kept in the attempt log.
const RESPONSE_EXCERPT: usize = 1024;

async fn post(client: &reqwest::Client, plan: &AttemptPlan, secret: &str) -> AttemptOutcome {
    // Real time, not the account clock: receivers check `t` against their own clock.
    let signature = crate::signature::sign(secret, super::clock::wall_now(), &plan.body);
    let started = std::time::Instant::now();
    let result = client
        .post(plan.target.url())
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
        .body(plan.body.clone())
        .send()
        .await;
    let mut outcome = AttemptOutcome {
        status: None,
        error: None,
        latency_ms: 0,
        response_body: String::new(),
    };
    match result {
        Ok(mut resp) => {
            outcome.status = Some(resp.status().as_u16());
            let mut excerpt = Vec::new();
            while excerpt.len() < RESPONSE_EXCERPT {
                match resp.chunk().await {
                    Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            excerpt.truncate(RESPONSE_EXCERPT);
            outcome.response_body = String::from_utf8_lossy(&excerpt).into_owned();
        }
        Err(e) if e.is_timeout() => outcome.error = Some("timed out".into()),
        Err(e) => outcome.error = Some(describe(&e)),
    }
    outcome.latency_ms = started.elapsed().as_millis() as u64;
    match (outcome.status, &outcome.error) {
        (Some(s), _) => {
            tracing::info!(event = %plan.event_id, "<-- [{s}] POST {} {}", plan.target.url(), plan.event_type)
        }
        (None, Some(e)) => {
            tracing::warn!(event = %plan.event_id, "<-- [ERR] POST {} {}: {e}", plan.target.url(), plan.event_type)
        }
        (None, None) => {}
    }
    outcome
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedules() {
        assert_eq!(RetrySchedule::Compressed.delays().len(), 3);
        let stripe: Duration = RetrySchedule::Stripe.delays().iter().sum();
        assert!(stripe < Duration::from_secs(3 * 86_400), "{stripe:?}");
        assert!(stripe > Duration::from_secs(2 * 86_400), "{stripe:?}");
        assert_eq!(
            RetrySchedule::parse("1, 2.5,10").unwrap().delays(),
            [
                Duration::from_secs(1),
                Duration::from_millis(2500),
                Duration::from_secs(10)
            ]
        );
        assert!(RetrySchedule::parse("none").unwrap().delays().is_empty());
        assert!(RetrySchedule::parse("soon").is_err());
        assert!(RetrySchedule::parse("-1").is_err());
    }

    #[test]
    fn the_log_keeps_the_newest() {
        let mut d = Deliveries::new(2);
        for attempt in 1..=3 {
            d.record(AttemptRecord {
                id: String::new(),
                created: 0,
                event: "evt_1".into(),
                event_type: "charge.succeeded".into(),
                endpoint: "we_1".into(),
                url: "http://x.test/".into(),
                attempt,
                status: Some(500),
                error: None,
                succeeded: false,
                latency_ms: 1,
                response_body: String::new(),
                fault: None,
                next_retry_at: None,
            });
        }
        let attempts: Vec<u32> = d.log().map(|r| r.attempt).collect();
        assert_eq!(attempts, [3, 2]);
    }
}
