//! The one seam for every state change. An API request, a payment on the hosted page, a
//! control call or a clock tick runs as one step against its account:
//!
//! 1. lock the account;
//! 2. run a plain function over `&mut Account` (resources record the events they emit);
//! 3. route what was emitted: freeze each event's body and queue one delivery per endpoint
//!    that receives it, due now on the account's clock;
//! 4. unlock, then wake the driver for what is due.
//!
//! Idempotency and the data directory's journal (`storage/`) hook in here, once, for
//! everything: a step's changes are appended to the journal before it returns.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::Engine;
use super::agenda::Job;
use super::delivery::{self, AttemptPlan};
use crate::WebhookTarget;
use crate::resources::checkout_sessions;
use crate::store::{Account, AccountRef, lock};

/// How the deliveries of a step are queued.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Routing<'a> {
    /// Deliveries of this event type are held back until [`Engine::release`].
    pub hold: Option<&'a str>,
}

/// What a step returns: the function's value and the deliveries it queued.
pub(crate) struct Stepped<T> {
    pub value: T,
    /// `(delivery id, event type)` of every delivery queued by this step.
    pub deliveries: Vec<(u64, String)>,
}

impl<T> Stepped<T> {
    /// The deliveries of one event type.
    pub fn deliveries_of(&self, event_type: &str) -> Vec<u64> {
        self.deliveries
            .iter()
            .filter(|(_, t)| t == event_type)
            .map(|(id, _)| *id)
            .collect()
    }
}

impl Engine {
    fn globals_now(&self) -> Vec<WebhookTarget> {
        self.globals
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `change` as one step against `account` (see the module documentation).
    pub fn step<T>(
        &self,
        account: &AccountRef,
        change: impl FnOnce(&mut Account) -> T,
    ) -> Stepped<T> {
        self.step_routed(account, Routing::default(), change)
    }

    pub fn step_routed<T>(
        &self,
        account: &AccountRef,
        routing: Routing<'_>,
        change: impl FnOnce(&mut Account) -> T,
    ) -> Stepped<T> {
        let globals = self.globals_now();
        let (stepped, wake) = {
            let mut acc = lock(account);
            let value = change(&mut acc);
            let deliveries = route_emitted(&mut acc, &globals, routing);
            // On disk before the step returns, so before any answer that reports it.
            if let Some(data_dir) = &self.data_dir
                && let Some(record) = crate::storage::take_record(&mut acc)
                && let Err(e) = data_dir.append(&record)
            {
                tracing::error!("writing the journal of --data-dir failed: {e}");
            }
            (Stepped { value, deliveries }, wake_time(&acc))
        };
        if let Some(due) = wake {
            self.wake_at(account, due);
        }
        stepped
    }

    /// Runs every job of `account` that is due on its clock now: state changes in a step,
    /// delivery attempts spawned.
    pub fn run_due(self: &Arc<Self>, account: &AccountRef) {
        let globals = self.globals_now();
        // Counted as in flight from before the jobs are taken until each attempt counts
        // itself: an advance waiting for the account to be idle must not slip between.
        account.inflight.fetch_add(1, SeqCst);
        let attempts = self
            .step(account, |acc| {
                let now = acc.clock.now_ms();
                take_due(acc, now, &globals)
            })
            .value;
        for plan in attempts {
            self.spawn_attempt(account, plan);
        }
        account.inflight.fetch_sub(1, SeqCst);
        account.idle.notify_waiters();
    }

    fn spawn_attempt(self: &Arc<Self>, account: &AccountRef, plan: AttemptPlan) {
        let engine = self.clone();
        let account = account.clone();
        account.inflight.fetch_add(1, SeqCst);
        tokio::spawn(async move {
            engine.attempt(&account, plan).await;
            account.inflight.fetch_sub(1, SeqCst);
            account.idle.notify_waiters();
        });
    }

    async fn attempt(&self, account: &AccountRef, plan: AttemptPlan) {
        let outcome = delivery::send(&self.client, &plan).await;
        let delays = self.retry_delays.clone();
        self.step(account, |acc| {
            delivery::settle_attempt(acc, &plan, outcome, &delays)
        });
    }

    /// Moves a virtual clock forward to `target_ms` (a real clock becomes virtual at its
    /// current time first), running everything that falls due on the way, in time order:
    /// expiries, settlements, delivery attempts and the retries they schedule. Returns once
    /// nothing due at or before `target_ms` is left, attempts included.
    pub async fn advance_to(self: &Arc<Self>, account: &AccountRef, target_ms: i64) {
        // One advance at a time per account; the API keeps working meanwhile.
        let _gate = account.clock_gate.lock().await;
        loop {
            let globals = self.globals_now();
            let batch = self
                .step(account, |acc| {
                    let now = acc.clock.now_ms();
                    match acc.agenda.next_due() {
                        Some(due) if due <= target_ms => {
                            acc.clock.set_ms(due.max(now));
                            Some(take_due(acc, due.max(now), &globals))
                        }
                        _ => {
                            acc.clock.set_ms(target_ms.max(now));
                            None
                        }
                    }
                })
                .value;
            match batch {
                Some(plans) => {
                    let mut set = JoinSet::new();
                    for plan in plans {
                        let engine = self.clone();
                        let account = account.clone();
                        set.spawn(async move { engine.attempt(&account, plan).await });
                    }
                    while set.join_next().await.is_some() {}
                }
                None => {
                    // Attempts the driver started before the clock moved may still be
                    // running; their retries may fall due before the target.
                    if !wait_idle(account).await {
                        break;
                    }
                }
            }
        }
    }

    /// Waits until the first attempt of each of these deliveries is over (whatever the
    /// outcome), at most `timeout`. Returns false on timeout.
    pub async fn wait_first_attempts(
        &self,
        account: &AccountRef,
        ids: &[u64],
        timeout: Duration,
    ) -> bool {
        let waits: Vec<oneshot::Receiver<()>> = {
            let mut acc = lock(account);
            ids.iter()
                .filter_map(|&id| {
                    let p = acc.deliveries.get_mut(id)?;
                    (p.attempts == 0 && !p.deferred).then(|| {
                        let (tx, rx) = oneshot::channel();
                        p.first_attempt_waiters.push(tx);
                        rx
                    })
                })
                .collect()
        };
        let all = async {
            for w in waits {
                // An error only means the delivery ended without an attempt (dropped).
                let _ = w.await;
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }

    /// Releases held deliveries: due now.
    pub fn release(&self, account: &AccountRef, ids: &[u64]) {
        self.step(account, |acc| delivery::release(acc, ids));
    }

    /// Queues a new delivery of an existing event (a manual resend) to `targets`, each with
    /// the body frozen for its version.
    pub fn redeliver(
        &self,
        account: &AccountRef,
        event_id: &str,
        event_type: &str,
        targets: Vec<(delivery::Target, Bytes)>,
    ) {
        self.step(account, |acc| {
            for (t, body) in targets {
                delivery::enqueue(acc, event_id, event_type, body, t, None);
            }
        });
    }
}

/// Waits for the account's in-flight attempts to end. Returns whether there were any.
async fn wait_idle(account: &AccountRef) -> bool {
    let mut waited = false;
    loop {
        let idle = account.idle.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if account.inflight.load(SeqCst) == 0 {
            return waited;
        }
        waited = true;
        idle.await;
    }
}

/// When the driver must look at this account next, on the wall clock: a real clock's next
/// due time; a virtual clock's only when something is due already (the rest waits for an
/// advance).
pub(super) fn wake_time(acc: &Account) -> Option<i64> {
    let due = acc.agenda.next_due()?;
    if acc.clock.is_virtual() {
        (due <= acc.clock.now_ms()).then(super::clock::wall_now_ms)
    } else {
        Some(due)
    }
}

/// Pops every job due at or before `now_ms`: state changes run at once (their events are
/// routed, and the attempts those are due now too), attempts are returned to be sent.
fn take_due(acc: &mut Account, now_ms: i64, globals: &[WebhookTarget]) -> Vec<AttemptPlan> {
    let mut attempts = Vec::new();
    while let Some((_, job)) = acc.agenda.pop_due(now_ms) {
        match job {
            Job::Attempt {
                delivery,
                generation,
            } => attempts.extend(delivery::plan_attempt(acc, delivery, generation)),
            Job::ExpireSession(id) => {
                if let Err(e) = checkout_sessions::expire_if_due(acc, &id) {
                    tracing::error!("expiring {id}: {}", e.message);
                }
            }
            Job::SettlePayment(id) => {
                if let Err(e) = checkout_sessions::settle_payment(acc, &id) {
                    tracing::error!("settling the payment of {id}: {}", e.message);
                }
            }
            Job::SettlePaymentIntent(id) => {
                if let Err(e) = crate::resources::payment_intents::settle(acc, &id) {
                    tracing::error!("settling {id}: {}", e.message);
                }
            }
            Job::SettleRefund(id) => {
                if let Err(e) = crate::resources::refunds::settle(acc, &id) {
                    tracing::error!("settling {id}: {}", e.message);
                }
            }
        }
        // State jobs emit events: route them now, so their first attempts are due in this
        // same pass.
        route_emitted(acc, globals, Routing::default());
    }
    attempts
}

/// Step 3: freeze and route the events emitted by this step.
fn route_emitted(
    acc: &mut Account,
    globals: &[WebhookTarget],
    routing: Routing<'_>,
) -> Vec<(u64, String)> {
    let mut queued = Vec::new();
    for event_id in std::mem::take(&mut acc.emitted) {
        let Some(event) = acc.events.get(&event_id) else {
            continue;
        };
        let kind = event.kind.clone();
        let targets = delivery::targets_for(acc, globals, &kind);
        let Some(event) = acc.events.get_mut(&event_id) else {
            continue;
        };
        event.pending_webhooks = targets.len() as i64;
        event.routed_pending = event.pending_webhooks;
        // Frozen now, once per version: every attempt to an endpoint sends these bytes
        // (Stripe sends what the event was), rendered at the endpoint's `api_version` if it
        // has one, else at the event's.
        let mut bodies = Vec::with_capacity(targets.len());
        for (target, version) in targets {
            match event.delivery_body_at(version.as_deref()) {
                Ok(body) => bodies.push((target, body)),
                Err(e) => tracing::error!("rendering {event_id}: {}", e.message),
            }
        }
        let held = (routing.hold == Some(kind.as_str())).then_some(delivery::Hold::Redirect);
        for (target, body) in bodies {
            let id = delivery::enqueue(acc, &event_id, &kind, body, target, held);
            queued.push((id, kind.clone()));
        }
    }
    queued
}
