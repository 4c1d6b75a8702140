//! What a journal record says: the changes one step made to one account, as the new state
//! of each thing it touched (an object, a pending delivery, a saved idempotent answer, the
//! account's small state) or its removal.
//!
//! Every change sets a state rather than describing a move, so applying a record twice, or
//! applying one that a snapshot already contains, ends in the same account. That is what
//! lets compaction write a snapshot while steps go on (see `mod.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::agenda::{AgendaChange, Job};
use crate::engine::clock::Clock;
use crate::engine::delivery::{AttemptRecord, Pending};
use crate::engine::faults::Fault;
use crate::ids::IdGen;
use crate::protocol::idempotency::StoredKey;
use crate::resources::checkout_sessions::Session;
use crate::resources::events::Event;
use crate::resources::payment_intents::{Charge, PaymentIntent};
use crate::resources::payment_methods::PaymentMethod;
use crate::resources::refunds::Refund;
use crate::resources::webhook_endpoints::WebhookEndpoint;
use crate::resources::{
    coupons::Coupon, customers::Customer, prices::Price, products::Product,
    promotion_codes::PromotionCode,
};
use crate::store::{Account, AccountSettings};

/// Where the store keeps an account: its API key, and a connected account's `acct_…` id.
pub(crate) type AccountKey = (String, Option<String>);

/// An account's small state, written whenever it differs from the last one written.
#[derive(Serialize, Deserialize)]
struct Header {
    clock: Clock,
    ids: IdGen,
    settings: AccountSettings,
    faults: Vec<Fault>,
    deliveries_issued: u64,
    attempts_logged: u64,
    jobs_issued: u64,
}

fn header_of(acc: &Account) -> Header {
    let (deliveries_issued, attempts_logged) = acc.deliveries.counters();
    Header {
        clock: acc.clock.clone(),
        ids: acc.ids.clone(),
        settings: acc.settings.clone(),
        faults: acc.faults.list().to_vec(),
        deliveries_issued,
        attempts_logged,
        jobs_issued: acc.agenda.issued(),
    }
}

/// Declares the object tables once: the change variants that carry them (borrowed when
/// written, owned when read), the table names removals refer to, and the code that takes,
/// dumps and applies them.
macro_rules! tables {
    ($($variant:ident: $field:ident: $ty:ty,)+) => {
        #[derive(Clone, Copy, Debug, Serialize, Deserialize)]
        enum Table {
            $($variant,)+
        }

        #[derive(Serialize)]
        enum ChangeOut<'a> {
            Reset,
            Header(&'a Header),
            $($variant(&'a $ty),)+
            Removed { table: Table, id: &'a str },
            Delivery { id: u64, delivery: &'a Pending },
            DeliveryEnded { id: u64 },
            Attempt(&'a AttemptRecord),
            Agenda(&'a AgendaChange),
            Idempotency(&'a StoredKey),
            IdempotencyForgotten(&'a str),
        }

        #[derive(Deserialize)]
        enum ChangeIn {
            Reset,
            Header(Box<Header>),
            $($variant(Box<$ty>),)+
            Removed { table: Table, id: String },
            Delivery { id: u64, delivery: Box<Pending> },
            DeliveryEnded { id: u64 },
            Attempt(Box<AttemptRecord>),
            Agenda(AgendaChange),
            Idempotency(StoredKey),
            IdempotencyForgotten(String),
        }

        /// Ids each table changed since the last call.
        fn take_changed_ids(acc: &mut Account) -> Vec<(Table, Vec<String>)> {
            vec![$((Table::$variant, acc.$field.take_changed()),)+]
        }

        /// The change that sets (or removes) one object as the account has it now.
        fn object_change<'a>(acc: &'a Account, table: Table, id: &'a str) -> ChangeOut<'a> {
            match table {
                $(Table::$variant => match acc.$field.get(id) {
                    Some(o) => ChangeOut::$variant(o),
                    None => ChangeOut::Removed { table, id },
                },)+
            }
        }

        /// Every object of the account, in each table's order.
        fn all_objects(acc: &Account) -> Vec<ChangeOut<'_>> {
            let mut all = Vec::new();
            $(all.extend(acc.$field.rows().iter().map(ChangeOut::$variant));)+
            all
        }

        /// Applies an object change; hands back any other.
        fn apply_object(acc: &mut Account, change: ChangeIn) -> Option<ChangeIn> {
            match change {
                $(ChangeIn::$variant(o) => acc.$field.upsert(*o),)+
                ChangeIn::Removed { table, id } => match table {
                    $(Table::$variant => {
                        acc.$field.remove(&id);
                    })+
                },
                other => return Some(other),
            }
            None
        }
    };
}

tables! {
    Session: sessions: Session,
    PaymentIntent: payment_intents: PaymentIntent,
    Charge: charges: Charge,
    PaymentMethod: payment_methods: PaymentMethod,
    Refund: refunds: Refund,
    Event: events: Event,
    WebhookEndpoint: webhook_endpoints: WebhookEndpoint,
    Product: products: Product,
    Price: prices: Price,
    Customer: customers: Customer,
    Coupon: coupons: Coupon,
    PromotionCode: promotion_codes: PromotionCode,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    account: &'a AccountKey,
    changes: &'a [ChangeOut<'a>],
}

#[derive(Deserialize)]
pub(crate) struct RecordIn {
    pub account: AccountKey,
    changes: Vec<ChangeIn>,
}

fn encode(account: &AccountKey, changes: &[ChangeOut<'_>]) -> Vec<u8> {
    serde_json::to_vec(&RecordOut { account, changes })
        .expect("stored state serialises (string keys, no floats)")
}

/// Takes what this step changed in `acc` as one encoded record; `None` when it changed
/// nothing (a read).
pub(crate) fn take_record(acc: &mut Account) -> Option<Vec<u8>> {
    let journal = acc.journal.as_mut()?;
    let reset = std::mem::take(&mut journal.reset);
    let written = journal.attempts_written;
    let tables = take_changed_ids(acc);
    let deliveries = acc.deliveries.take_changed();
    let agenda = acc.agenda.take_changes();
    let keys = acc.idempotency.take_changed();
    let header = header_of(acc);
    let header_bytes = serde_json::to_vec(&header).expect("the header serialises");
    let attempts_logged = acc.deliveries.counters().1;
    let journal = acc.journal.as_mut()?;
    let header_changed = header_bytes != journal.header;
    if header_changed {
        journal.header = header_bytes;
    }
    journal.attempts_written = attempts_logged;

    let acc = &*acc;
    let mut changes = Vec::new();
    if reset {
        changes.push(ChangeOut::Reset);
    }
    if header_changed || reset {
        changes.push(ChangeOut::Header(&header));
    }
    for (table, ids) in &tables {
        changes.extend(ids.iter().map(|id| object_change(acc, *table, id)));
    }
    for &id in &deliveries {
        changes.push(match acc.deliveries.get(id) {
            Some(delivery) => ChangeOut::Delivery { id, delivery },
            None => ChangeOut::DeliveryEnded { id },
        });
    }
    changes.extend(
        acc.deliveries
            .attempts_after(written)
            .map(ChangeOut::Attempt),
    );
    changes.extend(agenda.iter().map(ChangeOut::Agenda));
    changes.extend(keys.iter().map(|k| match k {
        Ok(saved) => ChangeOut::Idempotency(saved),
        Err(key) => ChangeOut::IdempotencyForgotten(key),
    }));
    if changes.is_empty() {
        return None;
    }
    Some(encode(&acc.store_key(), &changes))
}

/// Forgets what the account has changed so far (after replaying a journal into it).
pub(crate) fn discard_changes(acc: &mut Account) {
    take_changed_ids(acc);
    acc.deliveries.take_changed();
    acc.agenda.take_changes();
    acc.idempotency.take_changed();
    let header = serde_json::to_vec(&header_of(acc)).expect("the header serialises");
    let attempts = acc.deliveries.counters().1;
    if let Some(j) = &mut acc.journal {
        j.reset = false;
        j.header = header;
        j.attempts_written = attempts;
    }
}

/// Changes per snapshot record: an account with 100,000 sessions is written as many
/// records of moderate size, not one huge one.
const SNAPSHOT_CHUNK: usize = 512;

/// The whole account as records that rebuild it from nothing (a snapshot). The first one
/// resets the account, so a snapshot also undoes anything older.
pub(crate) fn dump(acc: &Account, out: &mut dyn FnMut(Vec<u8>)) {
    let key = acc.store_key();
    let header = header_of(acc);
    out(encode(
        &key,
        &[ChangeOut::Reset, ChangeOut::Header(&header)],
    ));
    let agenda = acc.agenda.as_changes();
    let keys = acc.idempotency.all_stored();
    let mut all = all_objects(acc);
    all.extend(
        acc.deliveries
            .pending()
            .into_iter()
            .map(|(id, delivery)| ChangeOut::Delivery { id, delivery }),
    );
    all.extend(acc.deliveries.attempts_after(0).map(ChangeOut::Attempt));
    all.extend(agenda.iter().map(ChangeOut::Agenda));
    all.extend(keys.iter().map(ChangeOut::Idempotency));
    for chunk in all.chunks(SNAPSHOT_CHUNK) {
        out(encode(&key, chunk));
    }
}

/// Decodes one record.
pub(crate) fn decode(bytes: &[u8]) -> serde_json::Result<RecordIn> {
    serde_json::from_slice(bytes)
}

/// Replays a record into `acc`. Agenda jobs are collected in `jobs` (by number) and put
/// back once the whole journal is read ([`crate::engine::agenda::Agenda::restore`]).
pub(crate) fn apply(acc: &mut Account, record: RecordIn, jobs: &mut BTreeMap<u64, (i64, Job)>) {
    for change in record.changes {
        let Some(change) = apply_object(acc, change) else {
            continue;
        };
        match change {
            ChangeIn::Reset => {
                acc.reset();
                jobs.clear();
            }
            ChangeIn::Header(h) => {
                acc.clock = h.clock;
                acc.ids = h.ids;
                acc.settings = h.settings;
                acc.faults.restore(h.faults);
                acc.deliveries
                    .restore_counters(h.deliveries_issued, h.attempts_logged);
                acc.agenda.continue_after(h.jobs_issued);
            }
            ChangeIn::Delivery { id, delivery } => acc.deliveries.restore_pending(id, *delivery),
            ChangeIn::DeliveryEnded { id } => acc.deliveries.forget_pending(id),
            ChangeIn::Attempt(a) => acc.deliveries.restore_attempt(*a),
            ChangeIn::Agenda(AgendaChange::Scheduled { seq, due_ms, job }) => {
                jobs.insert(seq, (due_ms, job));
            }
            ChangeIn::Agenda(AgendaChange::Done { seq }) => {
                jobs.remove(&seq);
            }
            ChangeIn::Idempotency(k) => acc.idempotency.restore(k),
            ChangeIn::IdempotencyForgotten(k) => acc.idempotency.forget(&k),
            // Objects were applied above.
            _ => {}
        }
    }
}
