//! The delivery state of one account: pending deliveries (each one event on its way to one
//! target), the bounded attempt log, and what changed since the data directory's journal
//! last looked.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::protocol::auth::mask_key;

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
    /// By id. A B-tree, not a hash map: while an endpoint is down its deliveries pile up
    /// here (each waits for its retries), and a hash map growing moves them all at once
    /// under the account's lock; a B-tree grows by small nodes, and keeps id order.
    pending: BTreeMap<u64, Pending>,
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
            pending: BTreeMap::new(),
            next_id: 0,
            log: VecDeque::new(),
            log_capacity,
            log_seq: 0,
            changed: None,
        }
    }

    /// Queues a new delivery under the next id.
    pub fn add(&mut self, pending: Pending) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.mark(id);
        self.pending.insert(id, pending);
        id
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
        self.pending.iter().map(|(id, p)| (*id, p)).collect()
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

    /// Pending deliveries held back for `label`'s endpoint by a reorder fault, in id order.
    pub fn held_for(&self, label: &str, except: u64) -> Vec<u64> {
        self.pending
            .iter()
            .filter(|(id, p)| {
                **id != except && p.held == Some(Hold::Reorder) && p.target.label() == label
            })
            .map(|(id, _)| *id)
            .collect()
    }
}
