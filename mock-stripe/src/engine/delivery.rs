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

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::oneshot;

use super::agenda::Job;
use super::faults::FaultKind;
use crate::WebhookTarget;
use crate::protocol::auth::mask_key;
use crate::store::Account;

/// Where one delivery goes.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum Target {
    /// A `/v1/webhook_endpoints` endpoint of the account.
    Endpoint {
        id: String,
        url: String,
        secret: String,
    },
    /// A global "forward-to" target (config, CLI, `add_webhook`).
    Forward { url: String, secret: String },
    /// A Connect endpoint (`connect=true`) of the platform, for an event of one of its
    /// connected accounts.
    Connect {
        id: String,
        url: String,
        secret: String,
    },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), mask_key(self.secret()))
    }
}

impl Target {
    pub fn url(&self) -> &str {
        match self {
            Target::Endpoint { url, .. }
            | Target::Forward { url, .. }
            | Target::Connect { url, .. } => url,
        }
    }

    pub fn secret(&self) -> &str {
        match self {
            Target::Endpoint { secret, .. }
            | Target::Forward { secret, .. }
            | Target::Connect { secret, .. } => secret,
        }
    }

    /// `we_…` for account endpoints, the URL for forward-to targets.
    pub fn label(&self) -> &str {
        match self {
            Target::Endpoint { id, .. } | Target::Connect { id, .. } => id,
            Target::Forward { url, .. } => url,
        }
    }
}

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

/// Why a delivery waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Hold {
    /// Redirect timing `after`: released by the payment page once it answered.
    Redirect,
    /// A `reorder` fault: released when the next delivery to the same endpoint has been
    /// attempted (or by its fallback job).
    Reorder,
}

/// One event on its way to one target.
pub(crate) struct Pending {
    pub event_id: String,
    pub event_type: String,
    pub body: Bytes,
    pub target: Target,
    /// Attempts made so far.
    pub attempts: u32,
    /// Bumped each time the delivery is (re)scheduled; older agenda jobs are stale.
    pub generation: u32,
    /// Held back until released, and why.
    pub held: Option<Hold>,
    /// Told when the first attempt is over, whatever its outcome.
    pub first_attempt_waiters: Vec<oneshot::Sender<()>>,
    /// A fault put the first attempt off (delay, reorder): nobody should wait for it.
    pub deferred: bool,
}

/// A pending delivery as a data directory keeps it (who waits for its first attempt is
/// not kept: nobody does after a restart).
#[derive(Serialize, serde::Deserialize)]
struct StoredPending {
    event_id: String,
    event_type: String,
    /// Event bodies are JSON, so text.
    body: String,
    target: Target,
    attempts: u32,
    generation: u32,
    held: Option<Hold>,
    deferred: bool,
}

impl Serialize for Pending {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredPending {
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
            target: self.target.clone(),
            attempts: self.attempts,
            generation: self.generation,
            held: self.held,
            deferred: self.deferred,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Pending {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = StoredPending::deserialize(d)?;
        Ok(Pending {
            event_id: p.event_id,
            event_type: p.event_type,
            body: Bytes::from(p.body),
            target: p.target,
            attempts: p.attempts,
            generation: p.generation,
            held: p.held,
            first_attempt_waiters: Vec::new(),
            deferred: p.deferred,
        })
    }
}

/// The record of one delivery attempt, as `/_config/deliveries` shows it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub(crate) struct AttemptRecord {
    pub id: String,
    /// When, on the account's clock (unix seconds).
    pub created: i64,
    pub event: String,
    pub event_type: String,
    /// `we_…`, or the forward-to URL.
    pub endpoint: String,
    pub url: String,
    pub attempt: u32,
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    /// A connection error, a timeout, or what an injected fault did.
    pub error: Option<String>,
    pub succeeded: bool,
    pub latency_ms: u64,
    /// The first 1 KB of the endpoint's answer.
    pub response_body: String,
    /// The fault that shaped this attempt, if any.
    pub fault: Option<String>,
    /// When the next attempt is due, if one is scheduled (account clock, unix seconds).
    pub next_retry_at: Option<i64>,
}

impl AttemptRecord {
    /// Its number in the account's log (`whatt_00000042` is 42).
    pub fn seq(&self) -> u64 {
        self.id
            .strip_prefix("whatt_")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// The delivery state of one account.
pub(crate) struct Deliveries {
    pending: HashMap<u64, Pending>,
    next_id: u64,
    log: VecDeque<AttemptRecord>,
    log_capacity: usize,
    log_seq: u64,
    /// Pending deliveries changed since the journal last took them (`None`: no data
    /// directory).
    changed: Option<HashSet<u64>>,
}

impl Deliveries {
    pub fn new(log_capacity: usize) -> Deliveries {
        Deliveries {
            pending: HashMap::new(),
            next_id: 0,
            log: VecDeque::new(),
            log_capacity,
            log_seq: 0,
            changed: None,
        }
    }

    /// Remembers which pending deliveries change, for the journal.
    pub fn track_changes(&mut self) {
        self.changed = Some(HashSet::new());
    }

    fn mark(&mut self, id: u64) {
        if let Some(c) = &mut self.changed {
            c.insert(id);
        }
    }

    /// Ids of the pending deliveries changed (or ended) since the last call.
    pub fn take_changed(&mut self) -> Vec<u64> {
        self.changed
            .as_mut()
            .map(|c| c.drain().collect())
            .unwrap_or_default()
    }

    /// Every pending delivery (for a snapshot), in id order.
    pub fn pending(&self) -> Vec<(u64, &Pending)> {
        let mut all: Vec<(u64, &Pending)> = self.pending.iter().map(|(id, p)| (*id, p)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }

    /// `(ids issued, attempts logged)`: the counters a restart must go on from.
    pub fn counters(&self) -> (u64, u64) {
        (self.next_id, self.log_seq)
    }

    /// Puts back what a journal recorded (not marked as changed).
    pub fn restore_counters(&mut self, issued: u64, attempts: u64) {
        self.next_id = self.next_id.max(issued);
        self.log_seq = self.log_seq.max(attempts);
    }

    pub fn restore_pending(&mut self, id: u64, pending: Pending) {
        self.pending.insert(id, pending);
    }

    pub fn forget_pending(&mut self, id: u64) {
        self.pending.remove(&id);
    }

    /// Attempts logged after number `after`, oldest first.
    pub fn attempts_after(&self, after: u64) -> impl Iterator<Item = &AttemptRecord> {
        self.log.iter().filter(move |r| r.seq() > after)
    }

    /// Puts back a logged attempt unless the log has it already (a snapshot and the journal
    /// after it may both carry it).
    pub fn restore_attempt(&mut self, record: AttemptRecord) {
        if self
            .log
            .back()
            .is_some_and(|last| last.seq() >= record.seq())
        {
            return;
        }
        self.log_seq = self.log_seq.max(record.seq());
        if self.log_capacity == 0 {
            return;
        }
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    /// How many delivery ids were handed out.
    pub fn issued(&self) -> u64 {
        self.next_id
    }

    /// Hands out ids after `issued` (an account emptied keeps counting).
    pub fn continue_after(&mut self, issued: u64) {
        self.next_id = self.next_id.max(issued);
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    pub fn get(&self, id: u64) -> Option<&Pending> {
        self.pending.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Pending> {
        self.mark(id);
        self.pending.get_mut(&id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Pending> {
        self.mark(id);
        self.pending.remove(&id)
    }

    /// Attempts, newest first.
    pub fn log(&self) -> impl Iterator<Item = &AttemptRecord> {
        self.log.iter().rev()
    }

    pub fn record(&mut self, mut record: AttemptRecord) {
        self.log_seq += 1;
        record.id = format!("whatt_{:08}", self.log_seq);
        if self.log_capacity == 0 {
            return;
        }
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    /// Pending deliveries held back for `label`'s endpoint by a reorder fault.
    pub fn held_for(&self, label: &str, except: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(id, p)| {
                **id != except && p.held == Some(Hold::Reorder) && p.target.label() == label
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
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
    let d = &mut account.deliveries;
    d.next_id += 1;
    let id = d.next_id;
    d.mark(id);
    d.pending.insert(
        id,
        Pending {
            event_id: event_id.to_string(),
            event_type: event_type.to_string(),
            body,
            target,
            attempts: 0,
            generation: 0,
            held,
            first_attempt_waiters: Vec::new(),
            deferred: false,
        },
    );
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
        .as_slice()
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
                .as_slice()
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
