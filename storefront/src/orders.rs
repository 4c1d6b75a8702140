//! Orders: the shop's record of a purchase, from Buy (pending) to the signed
//! webhook (paid) to the receipt. Plain functions over a connection or a
//! transaction, so tests drive them without HTTP.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, SqlErr,
};

use crate::catalogue::{self, Product};
use crate::db::entities::orders::{self, Column};
use crate::mail::{MailError, Mailer, Receipt, receipt_key};

pub use orders::{Model as Order, OrderStatus};

#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("{0:?} has no price and can't be bought")]
    NotForSale(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Records that a shopper clicked Buy, before any call to Stripe, so an
/// abandoned or failed checkout is a visible state rather than nothing.
pub async fn create_pending(
    db: &impl ConnectionTrait,
    product: &Product,
) -> Result<Order, CreateOrderError> {
    let amount = product
        .price_cents
        .ok_or_else(|| CreateOrderError::NotForSale(product.name.clone()))?;
    let order = orders::ActiveModel {
        id: NotSet,
        product_id: Set(product.id),
        status: Set(OrderStatus::Pending),
        amount_cents: Set(amount),
        currency: Set(product.currency.clone()),
        checkout_session_id: Set(None),
        buyer_email: Set(None),
        created_at: Set(Utc::now().fixed_offset()),
        paid_at: Set(None),
        receipt_sent_at: Set(None),
        receipt_claimed_at: Set(None),
    };
    // INSERT … RETURNING: one round trip (sea-orm's `insert` reads the row back with a
    // second statement on SQLite).
    let mut query = orders::Entity::insert(order).into_query();
    query.returning_all();
    let statement = db.get_database_backend().build(&query);
    Order::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or(CreateOrderError::Db(DbErr::RecordNotInserted))
}

/// Stores the Checkout Session created for a pending order. Only fills an empty
/// slot: an order is paid through one session, never re-pointed at another.
pub async fn attach_checkout_session(
    db: &impl ConnectionTrait,
    order_id: i64,
    session_id: &str,
) -> Result<bool, DbErr> {
    let result = orders::Entity::update_many()
        .set(orders::ActiveModel {
            checkout_session_id: Set(Some(session_id.to_owned())),
            ..Default::default()
        })
        .filter(Column::Id.eq(order_id))
        .filter(Column::CheckoutSessionId.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn find(db: &impl ConnectionTrait, order_id: i64) -> Result<Option<Order>, DbErr> {
    orders::Entity::find_by_id(order_id).one(db).await
}

pub async fn find_by_checkout_session(
    db: &impl ConnectionTrait,
    session_id: &str,
) -> Result<Option<Order>, DbErr> {
    orders::Entity::find()
        .filter(Column::CheckoutSessionId.eq(session_id))
        .one(db)
        .await
}

/// Every order, oldest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Order>, DbErr> {
    orders::Entity::find()
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// Paid orders, oldest first.
pub async fn paid_orders(db: &impl ConnectionTrait) -> Result<Vec<Order>, DbErr> {
    orders::Entity::find()
        .filter(Column::Status.eq(OrderStatus::Paid))
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// What a `checkout.session.completed` event with `payment_status = paid` tells us.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompletedCheckout {
    pub session_id: String,
    /// From the session's `metadata[order_id]`: finds the order if the session
    /// id was never stored on it (e.g. the process stopped right after creating it).
    pub order_id: Option<i64>,
    pub buyer_email: Option<String>,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkPaid {
    /// This call moved the order from pending to paid.
    Recorded(Order),
    /// The order was already paid (a redelivery, or another event for the same session).
    AlreadyPaid(Order),
    /// No order of ours matches the session.
    UnknownOrder,
}

impl MarkPaid {
    pub fn order(&self) -> Option<&Order> {
        match self {
            MarkPaid::Recorded(order) | MarkPaid::AlreadyPaid(order) => Some(order),
            MarkPaid::UnknownOrder => None,
        }
    }
}

/// Moves the order of a completed checkout to `paid`.
///
/// Idempotent: a second call for the same session changes nothing and says
/// `AlreadyPaid`. The status check in the UPDATE and the unique index on
/// `checkout_session_id` keep it so even when two deliveries race.
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    checkout: &CompletedCheckout,
) -> Result<MarkPaid, DbErr> {
    Ok(record_payment(db, checkout, None).await?.outcome)
}

/// What [`record_payment`] did: the order's new state, and the receipt claim it took
/// with the payment, if it was asked to and the order has an address to write to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub outcome: MarkPaid,
    /// Set only when this call moved the order to paid (`Recorded`), `claim_at` was
    /// given and the buyer's address is one a receipt can go to.
    pub claim: Option<ReceiptClaim>,
}

/// [`mark_paid`], and with `claim_at` also claims the order's receipt in the same
/// statement (see [`claim_receipt`]): the payment and the claim are one commit, so a
/// receipt whose writer dies before finishing is claimed, never unclaimed and unsent
/// without a trace, and the sweep ([`crate::receipts::sweep`]) sends it once the claim expires.
///
/// No transaction: the common case (the session id was stored at Buy) is one
/// conditional UPDATE, which commits by itself; the rest reads, then updates
/// conditionally, so a race between two deliveries changes the order once.
pub async fn record_payment(
    db: &impl ConnectionTrait,
    checkout: &CompletedCheckout,
    claim_at: Option<DateTime<Utc>>,
) -> Result<Payment, DbErr> {
    let now = Utc::now();
    // Whole microseconds: what PostgreSQL stores, so the claim reads back equal.
    let claimed_at = claim_at
        .filter(|_| checkout.buyer_email.as_deref().is_some_and(deliverable))
        .map(|at| at.trunc_subsecs(6).fixed_offset());

    // Fast path: the order holds this session id, is unpaid, and the amount is the one
    // it expects (a different amount takes the slow path, which logs it).
    let mut fast = paid_change(checkout, now, claimed_at)
        .filter(Column::CheckoutSessionId.eq(checkout.session_id.as_str()))
        .filter(Column::Status.ne(OrderStatus::Paid));
    if let Some(amount) = checkout.amount_cents {
        fast = fast.filter(Column::AmountCents.eq(amount));
    }
    if let Some(order) = update_returning(db, fast).await?.pop() {
        return Ok(recorded(order, claimed_at));
    }

    let mut attempts = 0;
    loop {
        attempts += 1;
        match record_payment_slowly(db, checkout, now, claimed_at).await {
            // Another delivery stored this session id on another order first: run
            // again, and the lookup by session id now finds it.
            Err(err)
                if attempts == 1
                    && matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
            other => return other,
        }
    }
}

fn recorded(order: Order, claimed_at: Option<DateTimeWithTimeZone>) -> Payment {
    let claim = claimed_at.map(|claimed_at| ReceiptClaim {
        order: order.clone(),
        claimed_at,
        took_over: false,
    });
    Payment {
        outcome: MarkPaid::Recorded(order),
        claim,
    }
}

/// An address lettre can send to: a receipt for any other is never written, so it is
/// never claimed (and the sweep never retries it).
pub fn deliverable(email: &str) -> bool {
    email.parse::<lettre::message::Mailbox>().is_ok()
}

/// The UPDATE that records a payment, before its WHERE clause.
fn paid_change(
    checkout: &CompletedCheckout,
    now: DateTime<Utc>,
    claimed_at: Option<DateTimeWithTimeZone>,
) -> sea_orm::UpdateMany<orders::Entity> {
    let mut change = orders::ActiveModel {
        status: Set(OrderStatus::Paid),
        paid_at: Set(Some(now.fixed_offset())),
        checkout_session_id: Set(Some(checkout.session_id.clone())),
        ..Default::default()
    };
    if let Some(email) = &checkout.buyer_email {
        change.buyer_email = Set(Some(email.clone()));
    }
    if let Some(amount) = checkout.amount_cents {
        change.amount_cents = Set(amount);
    }
    if let Some(currency) = &checkout.currency {
        change.currency = Set(currency.to_ascii_lowercase());
    }
    if claimed_at.is_some() {
        // An order that was not paid has never been claimed (only paid ones are).
        change.receipt_claimed_at = Set(claimed_at);
    }
    orders::Entity::update_many().set(change)
}

/// Runs `update` with `RETURNING` the changed rows, in one round trip (SQLite since
/// 3.35 and PostgreSQL both have it; sea-orm's own `exec_with_returning` needs a
/// feature for SQLite).
async fn update_returning(
    db: &impl ConnectionTrait,
    update: sea_orm::UpdateMany<orders::Entity>,
) -> Result<Vec<Order>, DbErr> {
    let mut query = update.into_query();
    query.returning_all();
    let statement = db.get_database_backend().build(&query);
    Order::find_by_statement(statement).all(db).await
}

async fn record_payment_slowly(
    db: &impl ConnectionTrait,
    checkout: &CompletedCheckout,
    now: DateTime<Utc>,
    claimed_at: Option<DateTimeWithTimeZone>,
) -> Result<Payment, DbErr> {
    let already = |order| Payment {
        outcome: MarkPaid::AlreadyPaid(order),
        claim: None,
    };
    let unknown = Payment {
        outcome: MarkPaid::UnknownOrder,
        claim: None,
    };
    let order = match find_by_checkout_session(db, &checkout.session_id).await? {
        Some(order) => order,
        None => {
            let Some(order_id) = checkout.order_id else {
                return Ok(unknown);
            };
            match find(db, order_id).await? {
                // The session id was never stored on it: adopt it.
                Some(order) if order.checkout_session_id.is_none() => order,
                // It belongs to another session: this event is not about this order.
                Some(order) => {
                    tracing::warn!(
                        order_id,
                        order_session = ?order.checkout_session_id,
                        event_session = %checkout.session_id,
                        "event's metadata names an order tied to another Checkout Session"
                    );
                    return Ok(unknown);
                }
                None => return Ok(unknown),
            }
        }
    };
    if order.status == OrderStatus::Paid {
        return Ok(already(order));
    }

    if let Some(amount) = checkout.amount_cents
        && amount != order.amount_cents
    {
        // Recorded as paid (Stripe took the money) but worth a look.
        tracing::warn!(
            order_id = order.id,
            expected = order.amount_cents,
            paid = amount,
            "amount paid differs from the order"
        );
    }

    let update = paid_change(checkout, now, claimed_at)
        .filter(Column::Id.eq(order.id))
        // Still the session we read (or none: adopting it), so a concurrent Buy can't
        // have re-pointed the order in between.
        .filter(
            sea_orm::Condition::any()
                .add(Column::CheckoutSessionId.is_null())
                .add(Column::CheckoutSessionId.eq(checkout.session_id.as_str())),
        )
        // A delayed payment that settles moves an awaiting order; an expired or failed
        // one was never paid, but Stripe took the money now: record it all the same.
        .filter(Column::Status.ne(OrderStatus::Paid));
    if let Some(order) = update_returning(db, update).await?.pop() {
        return Ok(recorded(order, claimed_at));
    }
    // Paid by a delivery that raced us between the read and the update.
    let order = find(db, order.id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("order {}", order.id)))?;
    Ok(already(order))
}

/// What an unpaid turn of a checkout did to its order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The order moved to the new status.
    Moved(Order),
    /// The order was not in a status this event applies to (a redelivery, or it was
    /// paid meanwhile); nothing changed.
    Unchanged(Order),
    /// No order of ours matches the session.
    UnknownOrder,
}

/// Moves the order of `checkout` to `to` if it is in one of `from`, in one conditional
/// UPDATE (so a redelivery or a race changes nothing twice). Never touches a paid order.
pub async fn transition(
    db: &impl ConnectionTrait,
    checkout: &CompletedCheckout,
    from: &[OrderStatus],
    to: OrderStatus,
) -> Result<Transition, DbErr> {
    let order = match find_by_checkout_session(db, &checkout.session_id).await? {
        Some(order) => order,
        None => match checkout.order_id {
            Some(id) => match find(db, id).await? {
                Some(order) if order.checkout_session_id.is_none() => order,
                _ => return Ok(Transition::UnknownOrder),
            },
            None => return Ok(Transition::UnknownOrder),
        },
    };
    let mut change = orders::ActiveModel {
        status: Set(to),
        checkout_session_id: Set(Some(checkout.session_id.clone())),
        ..Default::default()
    };
    if let Some(email) = &checkout.buyer_email {
        change.buyer_email = Set(Some(email.clone()));
    }
    let updated = orders::Entity::update_many()
        .set(change)
        .filter(Column::Id.eq(order.id))
        .filter(Column::Status.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    let order = find(db, order.id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("order {}", order.id)))?;
    Ok(if updated.rows_affected == 1 {
        Transition::Moved(order)
    } else {
        Transition::Unchanged(order)
    })
}

/// Sets `receipt_sent_at` unless it is already set; `true` if this call set it.
///
/// Unconditional on the claim: for repairs by hand. The webhook path records through
/// [`complete_receipt`], which checks that its claim still holds.
pub async fn mark_receipt_sent(db: &impl ConnectionTrait, order_id: i64) -> Result<bool, DbErr> {
    let result = orders::Entity::update_many()
        .set(orders::ActiveModel {
            receipt_sent_at: Set(Some(Utc::now().fixed_offset())),
            ..Default::default()
        })
        .filter(Column::Id.eq(order_id))
        .filter(Column::ReceiptSentAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A paid order whose receipt hasn't been written yet.
pub fn needs_receipt(order: &Order) -> bool {
    order.status == OrderStatus::Paid && order.receipt_sent_at.is_none()
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Mail(#[from] MailError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Written to the outbox by this call (or found there, written by an earlier one
    /// that stopped before recording it) and recorded; the message id.
    Sent(String),
    AlreadySent,
    /// The order isn't paid (or doesn't exist): nothing to confirm.
    NotPaid,
    /// Stripe gave us no address to write to.
    NoBuyerEmail,
    /// Another writer (in this process or another) holds a fresh claim on the receipt
    /// and didn't finish while we waited. Nothing is lost: the claim is committed, so
    /// its holder sends the receipt or, if it died, the sweep does once the claim expires.
    InProgress,
}

/// Proof that this caller, and no other, may write an order's receipt now: the
/// `receipt_claimed_at` value it stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptClaim {
    pub order: Order,
    pub claimed_at: DateTimeWithTimeZone,
    /// The claim replaced a stale one (its holder died or hung past the timeout).
    pub took_over: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours: write the receipt, then [`complete_receipt`] (or [`release_receipt`]).
    Claimed(ReceiptClaim),
    /// Nothing to write: already sent, not paid, or no address.
    Settled(ReceiptOutcome),
    /// Someone else's claim, made at `since`, still within the timeout (or another
    /// delivery claimed or sent it between our read and our update).
    Held { since: Option<DateTimeWithTimeZone> },
}

/// Claims an order's receipt with one conditional UPDATE, a compare-and-set on
/// `receipt_claimed_at`: it succeeds only if the receipt is unsent and the column still
/// holds what we read (empty, or a claim older than `timeout`). Two callers racing for
/// the same order (two processes, one database) can't both succeed: PostgreSQL re-checks
/// the WHERE clause on the row the first one changed, SQLite runs writes one at a time.
pub async fn claim_receipt(
    db: &impl ConnectionTrait,
    order_id: i64,
    now: DateTime<Utc>,
    timeout: Duration,
) -> Result<Claim, DbErr> {
    let Some(order) = find(db, order_id).await? else {
        return Ok(Claim::Settled(ReceiptOutcome::NotPaid));
    };
    if order.status != OrderStatus::Paid {
        return Ok(Claim::Settled(ReceiptOutcome::NotPaid));
    }
    if order.receipt_sent_at.is_some() {
        return Ok(Claim::Settled(ReceiptOutcome::AlreadySent));
    }
    if order.buyer_email.is_none() {
        return Ok(Claim::Settled(ReceiptOutcome::NoBuyerEmail));
    }
    let previous = order.receipt_claimed_at;
    if let Some(since) = previous {
        let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        let expired = since
            .with_timezone(&Utc)
            .checked_add_signed(timeout)
            .is_some_and(|expiry| expiry <= now);
        if !expired {
            return Ok(Claim::Held { since: previous });
        }
    }
    // Whole microseconds: what PostgreSQL stores, so the value reads back equal.
    let claimed_at = now.trunc_subsecs(6).fixed_offset();
    let claim = orders::Entity::update_many()
        .set(orders::ActiveModel {
            receipt_claimed_at: Set(Some(claimed_at)),
            ..Default::default()
        })
        .filter(Column::Id.eq(order_id))
        .filter(Column::Status.eq(OrderStatus::Paid))
        .filter(Column::ReceiptSentAt.is_null());
    let claim = match previous {
        None => claim.filter(Column::ReceiptClaimedAt.is_null()),
        Some(stale) => claim.filter(Column::ReceiptClaimedAt.eq(stale)),
    };
    if claim.exec(db).await?.rows_affected != 1 {
        return Ok(Claim::Held { since: previous });
    }
    Ok(Claim::Claimed(ReceiptClaim {
        order: Order {
            receipt_claimed_at: Some(claimed_at),
            ..order
        },
        claimed_at,
        took_over: previous.is_some(),
    }))
}

/// Records the receipt as sent if `claim` still holds; `false` if another delivery
/// took the claim over meanwhile (it then records the receipt itself).
pub async fn complete_receipt(
    db: &impl ConnectionTrait,
    claim: &ReceiptClaim,
) -> Result<bool, DbErr> {
    let result = orders::Entity::update_many()
        .set(orders::ActiveModel {
            receipt_sent_at: Set(Some(Utc::now().fixed_offset())),
            ..Default::default()
        })
        .filter(Column::Id.eq(claim.order.id))
        .filter(Column::ReceiptSentAt.is_null())
        .filter(Column::ReceiptClaimedAt.eq(claim.claimed_at))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives the claim up (nothing was written), so the next delivery retries at once.
pub async fn release_receipt(
    db: &impl ConnectionTrait,
    claim: &ReceiptClaim,
) -> Result<bool, DbErr> {
    let result = orders::Entity::update_many()
        .set(orders::ActiveModel {
            receipt_claimed_at: Set(None),
            ..Default::default()
        })
        .filter(Column::Id.eq(claim.order.id))
        .filter(Column::ReceiptSentAt.is_null())
        .filter(Column::ReceiptClaimedAt.eq(claim.claimed_at))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the receipts of `claims` as sent, each only if its claim still holds, in
/// one statement (one commit for a batch of receipts); the ids of the orders recorded.
/// A claim taken over meanwhile is left to its new holder, as in [`complete_receipt`].
pub async fn complete_receipts(
    db: &impl ConnectionTrait,
    claims: &[ReceiptClaim],
) -> Result<Vec<i64>, DbErr> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let mut held = sea_orm::Condition::any();
    for claim in claims {
        held = held.add(
            sea_orm::Condition::all()
                .add(Column::Id.eq(claim.order.id))
                .add(Column::ReceiptClaimedAt.eq(claim.claimed_at)),
        );
    }
    let update = orders::Entity::update_many()
        .set(orders::ActiveModel {
            receipt_sent_at: Set(Some(Utc::now().fixed_offset())),
            ..Default::default()
        })
        .filter(Column::ReceiptSentAt.is_null())
        .filter(held);
    Ok(update_returning(db, update)
        .await?
        .into_iter()
        .map(|order| order.id)
        .collect())
}

/// Paid orders whose receipt is still to be written and could be (an address is
/// known), oldest first, at most `limit`: what [`crate::receipts::sweep`] looks at. Includes
/// those claimed by a delivery still at work; the claim decides.
pub async fn receipts_due(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Order>, DbErr> {
    orders::Entity::find()
        .filter(Column::Status.eq(OrderStatus::Paid))
        .filter(Column::ReceiptSentAt.is_null())
        .filter(Column::BuyerEmail.is_not_null())
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The longest a delivery waits for another one's claim on the same receipt to finish
/// (writing a receipt takes milliseconds), so that its answer can say "sent"; then it
/// leaves the receipt to that claim (see [`ReceiptOutcome::InProgress`]). Never more
/// than half the claim timeout.
const MAX_CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const CLAIM_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Sends the receipt for a paid order once, across processes sharing the database (the
/// webhook's path for a redelivery; a newly paid order's receipt is claimed with the
/// payment and written by `receipts`' worker, the same three steps for a batch):
///
/// 1. **claim**: [`claim_receipt`] sets `receipt_claimed_at` by compare-and-set; only
///    one delivery gets it. The others wait (briefly) for it to finish.
/// 2. **write**: the receipt goes into the outbox under a name of its own
///    (`order-{id}-{session}.eml`), whole or not at all, never over an existing one.
/// 3. **mark**: [`complete_receipt`] sets `receipt_sent_at` if the claim still holds.
///
/// A failed write releases the claim (nothing was sent, the next delivery retries).
/// A crash, or a database error, between claim and mark leaves the claim in place:
/// it expires after the mailer's claim timeout, and the receipt sweep or the next
/// delivery of the event claims again. If the crash came after the write, that delivery finds the file
/// already in the outbox, writes nothing, and records it: one receipt either way.
pub async fn send_receipt_if_due(
    db: &impl ConnectionTrait,
    mailer: &Mailer,
    order_id: i64,
) -> Result<ReceiptOutcome, ReceiptError> {
    let timeout = mailer.receipt_claim_timeout();
    let give_up = tokio::time::Instant::now() + (timeout / 2).min(MAX_CLAIM_WAIT);
    let claim = loop {
        match claim_receipt(db, order_id, Utc::now(), timeout).await? {
            Claim::Claimed(claim) => break claim,
            Claim::Settled(outcome) => return Ok(outcome),
            Claim::Held { since } => {
                if tokio::time::Instant::now() >= give_up {
                    tracing::info!(order_id, claimed_at = ?since, "another delivery is writing this receipt");
                    return Ok(ReceiptOutcome::InProgress);
                }
                tokio::time::sleep(CLAIM_POLL).await;
            }
        }
    };
    if claim.took_over {
        tracing::warn!(
            order_id,
            "a stale receipt claim (its delivery stopped before finishing) expired; claimed it again"
        );
    }
    let order = &claim.order;
    let product_name = match catalogue::find(db, order.product_id).await {
        Ok(Some(product)) => product.name,
        Ok(None) => format!("product #{}", order.product_id),
        Err(err) => {
            release_after_failure(db, &claim).await;
            return Err(err.into());
        }
    };
    let receipt = Receipt {
        order_id: order.id,
        product_name,
        amount_cents: order.amount_cents,
        currency: order.currency.clone(),
        buyer_email: order.buyer_email.clone().unwrap_or_default(),
        key: receipt_key(order.id, order.checkout_session_id.as_deref()),
    };
    let written = match mailer.send_receipt(&receipt).await {
        Ok(written) => written,
        Err(err) => {
            release_after_failure(db, &claim).await;
            return Err(err.into());
        }
    };
    if !written.new {
        tracing::warn!(
            order_id,
            message_id = %written.id,
            "the receipt was already in the outbox (written by a delivery that stopped before recording it); recording it, not sending it again"
        );
    }
    // Written: from here on the claim is never released, only completed or left to
    // expire, so no other process starts a second receipt while this one is out.
    if !complete_receipt(db, &claim).await? {
        tracing::warn!(
            order_id,
            "the receipt claim was taken over while the receipt was written; the other delivery records it"
        );
    }
    Ok(ReceiptOutcome::Sent(written.id))
}

async fn release_after_failure(db: &impl ConnectionTrait, claim: &ReceiptClaim) {
    if let Err(err) = release_receipt(db, claim).await {
        // The claim then expires by itself.
        tracing::warn!(order_id = claim.order.id, error = %err, "could not release the receipt claim");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DatabaseConnection;

    fn completed(session_id: &str, order_id: Option<i64>) -> CompletedCheckout {
        CompletedCheckout {
            session_id: session_id.into(),
            order_id,
            buyer_email: Some("jenny@example.com".into()),
            amount_cents: Some(2900),
            currency: Some("usd".into()),
        }
    }

    #[tokio::test]
    async fn seeding_happens_once() {
        let (db, products) = catalogue::seeded_test_db().await;
        assert_eq!(products.len(), 5);
        assert_eq!(catalogue::seed_if_empty(&db).await.unwrap(), 0);
        assert_eq!(catalogue::all(&db).await.unwrap().len(), 5);
        assert_eq!(products[0].name, "Sourdough Masterclass");
        assert_eq!(products[0].price_cents, Some(2900));
        assert_eq!(products[4].price_cents, None);
    }

    #[tokio::test]
    async fn a_product_without_price_gets_no_order() {
        let (db, products) = catalogue::seeded_test_db().await;
        let unpriced = products.iter().find(|p| p.price_cents.is_none()).unwrap();
        assert!(matches!(
            create_pending(&db, unpriced).await,
            Err(CreateOrderError::NotForSale(_))
        ));
        assert!(all(&db).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pending_then_paid_twice_gives_one_paid_order() {
        let (db, products) = catalogue::seeded_test_db().await;
        let order = create_pending(&db, &products[0]).await.unwrap();
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.amount_cents, 2900);
        assert!(
            attach_checkout_session(&db, order.id, "cs_test_1")
                .await
                .unwrap()
        );
        assert!(paid_orders(&db).await.unwrap().is_empty());

        let first = mark_paid(&db, &completed("cs_test_1", Some(order.id)))
            .await
            .unwrap();
        let MarkPaid::Recorded(paid) = first else {
            panic!("expected Recorded, got {first:?}")
        };
        assert_eq!(paid.status, "paid");
        assert_eq!(paid.buyer_email.as_deref(), Some("jenny@example.com"));
        assert!(paid.paid_at.is_some());
        assert!(paid.receipt_sent_at.is_none());

        let second = mark_paid(&db, &completed("cs_test_1", Some(order.id)))
            .await
            .unwrap();
        assert!(
            matches!(second, MarkPaid::AlreadyPaid(ref o) if o.id == order.id),
            "{second:?}"
        );
        let paid_orders = paid_orders(&db).await.unwrap();
        assert_eq!(paid_orders.len(), 1);
        assert_eq!(
            paid_orders[0].paid_at, paid.paid_at,
            "the second call must not touch the order"
        );
        assert_eq!(
            find_by_checkout_session(&db, "cs_test_1")
                .await
                .unwrap()
                .unwrap()
                .id,
            order.id
        );
    }

    #[tokio::test]
    async fn the_order_is_found_by_metadata_when_the_session_id_was_not_stored() {
        let (db, products) = catalogue::seeded_test_db().await;
        let order = create_pending(&db, &products[1]).await.unwrap();
        let outcome = mark_paid(&db, &completed("cs_test_late", Some(order.id)))
            .await
            .unwrap();
        let MarkPaid::Recorded(paid) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(paid.checkout_session_id.as_deref(), Some("cs_test_late"));
        // And the session can't be re-attached elsewhere afterwards.
        assert!(
            !attach_checkout_session(&db, order.id, "cs_test_other")
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn foreign_sessions_change_nothing() {
        let (db, products) = catalogue::seeded_test_db().await;
        let order = create_pending(&db, &products[0]).await.unwrap();
        attach_checkout_session(&db, order.id, "cs_test_mine")
            .await
            .unwrap();

        assert_eq!(
            mark_paid(&db, &completed("cs_test_unknown", None))
                .await
                .unwrap(),
            MarkPaid::UnknownOrder
        );
        assert_eq!(
            mark_paid(&db, &completed("cs_test_unknown", Some(9999)))
                .await
                .unwrap(),
            MarkPaid::UnknownOrder
        );
        // Metadata pointing at an order that belongs to another session.
        assert_eq!(
            mark_paid(&db, &completed("cs_test_unknown", Some(order.id)))
                .await
                .unwrap(),
            MarkPaid::UnknownOrder
        );
        assert!(paid_orders(&db).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn one_session_id_belongs_to_one_order() {
        let (db, products) = catalogue::seeded_test_db().await;
        let a = create_pending(&db, &products[0]).await.unwrap();
        let b = create_pending(&db, &products[0]).await.unwrap();
        attach_checkout_session(&db, a.id, "cs_test_same")
            .await
            .unwrap();
        let err = attach_checkout_session(&db, b.id, "cs_test_same")
            .await
            .unwrap_err();
        assert!(
            matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_receipt_is_sent_once_and_retried_after_a_failure() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), "Shop <shop@example.test>".parse().unwrap()).unwrap();
        let eml_count = || std::fs::read_dir(dir.path()).unwrap().count();

        let order = create_pending(&db, &products[0]).await.unwrap();
        assert_eq!(
            send_receipt_if_due(&db, &mailer, order.id).await.unwrap(),
            ReceiptOutcome::NotPaid
        );

        // A buyer address the mailer can't use: the mail fails and receipt_sent_at stays empty.
        let mut bad = completed("cs_test_r", Some(order.id));
        bad.buyer_email = Some("not an address".into());
        mark_paid(&db, &bad).await.unwrap();
        assert!(send_receipt_if_due(&db, &mailer, order.id).await.is_err());
        let order_now = find(&db, order.id).await.unwrap().unwrap();
        assert!(needs_receipt(&order_now));
        assert_eq!(
            order_now.receipt_claimed_at, None,
            "a failed write releases its claim"
        );
        assert_eq!(eml_count(), 0);

        // Fixed (as a later event would carry it): the retry sends, once.
        orders::Entity::update_many()
            .set(orders::ActiveModel {
                buyer_email: Set(Some("jenny@example.com".into())),
                ..Default::default()
            })
            .filter(Column::Id.eq(order.id))
            .exec(&db)
            .await
            .unwrap();
        assert!(matches!(
            send_receipt_if_due(&db, &mailer, order.id).await.unwrap(),
            ReceiptOutcome::Sent(_)
        ));
        assert_eq!(
            send_receipt_if_due(&db, &mailer, order.id).await.unwrap(),
            ReceiptOutcome::AlreadySent
        );
        assert_eq!(eml_count(), 1);
        let order_now = find(&db, order.id).await.unwrap().unwrap();
        assert!(order_now.receipt_sent_at.is_some());
        assert!(!needs_receipt(&order_now));
        assert!(
            !mark_receipt_sent(&db, order.id).await.unwrap(),
            "already set stays as it was"
        );
    }

    async fn paid_order(db: &DatabaseConnection, products: &[Product], session: &str) -> Order {
        let order = create_pending(db, &products[0]).await.unwrap();
        let outcome = mark_paid(db, &completed(session, Some(order.id)))
            .await
            .unwrap();
        outcome.order().unwrap().clone()
    }

    fn outbox_files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_receipt_claim_is_exclusive_until_it_expires() {
        let (db, products) = catalogue::seeded_test_db().await;
        let order = paid_order(&db, &products, "cs_test_claim").await;
        let timeout = Duration::from_secs(300);
        let t0 = Utc::now();

        let Claim::Claimed(first) = claim_receipt(&db, order.id, t0, timeout).await.unwrap() else {
            panic!("the first claim succeeds")
        };
        assert!(!first.took_over);
        let stored = find(&db, order.id).await.unwrap().unwrap();
        assert_eq!(
            stored.receipt_claimed_at,
            Some(first.claimed_at),
            "it reads back equal"
        );

        // Within the timeout, nobody else gets it.
        for later in [chrono::Duration::zero(), chrono::Duration::seconds(299)] {
            let claim = claim_receipt(&db, order.id, t0 + later, timeout)
                .await
                .unwrap();
            assert_eq!(
                claim,
                Claim::Held {
                    since: Some(first.claimed_at)
                }
            );
        }

        // Past it, the claim is stale: the next one takes it over, and the first holder
        // (back from the dead) can no longer record or release anything.
        let Claim::Claimed(second) =
            claim_receipt(&db, order.id, t0 + chrono::Duration::seconds(300), timeout)
                .await
                .unwrap()
        else {
            panic!("a stale claim is taken over")
        };
        assert!(second.took_over);
        assert!(!release_receipt(&db, &first).await.unwrap());
        assert!(!complete_receipt(&db, &first).await.unwrap());
        assert!(complete_receipt(&db, &second).await.unwrap());
        assert_eq!(
            claim_receipt(&db, order.id, t0 + chrono::Duration::days(1), timeout)
                .await
                .unwrap(),
            Claim::Settled(ReceiptOutcome::AlreadySent)
        );
        assert!(
            !complete_receipt(&db, &second).await.unwrap(),
            "recorded once"
        );
    }

    #[tokio::test]
    async fn unpaid_or_addressless_orders_are_never_claimed() {
        let (db, products) = catalogue::seeded_test_db().await;
        let pending = create_pending(&db, &products[0]).await.unwrap();
        let timeout = Duration::from_secs(300);
        assert_eq!(
            claim_receipt(&db, pending.id, Utc::now(), timeout)
                .await
                .unwrap(),
            Claim::Settled(ReceiptOutcome::NotPaid)
        );
        assert_eq!(
            claim_receipt(&db, 9999, Utc::now(), timeout).await.unwrap(),
            Claim::Settled(ReceiptOutcome::NotPaid)
        );
        let mut no_email = completed("cs_test_noemail", Some(pending.id));
        no_email.buyer_email = None;
        mark_paid(&db, &no_email).await.unwrap();
        assert_eq!(
            claim_receipt(&db, pending.id, Utc::now(), timeout)
                .await
                .unwrap(),
            Claim::Settled(ReceiptOutcome::NoBuyerEmail)
        );
        assert_eq!(
            find(&db, pending.id)
                .await
                .unwrap()
                .unwrap()
                .receipt_claimed_at,
            None
        );
    }

    /// Killed after claiming, before writing: the receipt waits for the claim to expire,
    /// then the next delivery sends it, once.
    #[tokio::test]
    async fn a_crash_between_claim_and_write_delays_the_receipt_but_loses_nothing() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(400);
        let mailer = Mailer::new(dir.path(), "Shop <shop@example.test>".parse().unwrap())
            .unwrap()
            .with_receipt_claim_timeout(timeout);
        let order = paid_order(&db, &products, "cs_test_crash1").await;
        let Claim::Claimed(_dead) = claim_receipt(&db, order.id, Utc::now(), timeout)
            .await
            .unwrap()
        else {
            panic!()
        };

        // A redelivery now waits for the holder, which never finishes, then leaves it.
        let started = std::time::Instant::now();
        assert_eq!(
            send_receipt_if_due(&db, &mailer, order.id).await.unwrap(),
            ReceiptOutcome::InProgress
        );
        assert!(started.elapsed() >= timeout / 2, "it waited for the holder");
        assert!(outbox_files(dir.path()).is_empty());

        tokio::time::sleep(timeout / 2).await;
        let outcome = send_receipt_if_due(&db, &mailer, order.id).await.unwrap();
        assert!(matches!(outcome, ReceiptOutcome::Sent(_)), "{outcome:?}");
        assert_eq!(outbox_files(dir.path()).len(), 1);
        assert!(!needs_receipt(&find(&db, order.id).await.unwrap().unwrap()));
    }

    /// Killed after writing, before recording: the next delivery (once the claim expires)
    /// finds the receipt in the outbox and records it without writing a second one.
    #[tokio::test]
    async fn a_crash_between_write_and_mark_never_sends_twice() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(200);
        let mailer = Mailer::new(dir.path(), "Shop <shop@example.test>".parse().unwrap())
            .unwrap()
            .with_receipt_claim_timeout(timeout);
        let order = paid_order(&db, &products, "cs_test_crash2").await;
        let Claim::Claimed(dead) = claim_receipt(&db, order.id, Utc::now(), timeout)
            .await
            .unwrap()
        else {
            panic!()
        };
        let receipt = Receipt {
            order_id: order.id,
            product_name: products[0].name.clone(),
            amount_cents: order.amount_cents,
            currency: order.currency.clone(),
            buyer_email: "jenny@example.com".into(),
            key: receipt_key(order.id, order.checkout_session_id.as_deref()),
        };
        assert!(mailer.send_receipt(&receipt).await.unwrap().new);
        drop(dead); // the process dies here
        let before = outbox_files(dir.path());
        assert_eq!(before.len(), 1);

        tokio::time::sleep(timeout).await;
        let outcome = send_receipt_if_due(&db, &mailer, order.id).await.unwrap();
        assert_eq!(outcome, ReceiptOutcome::Sent(receipt.key.clone()));
        assert_eq!(outbox_files(dir.path()), before, "the same single file");
        assert!(
            find(&db, order.id)
                .await
                .unwrap()
                .unwrap()
                .receipt_sent_at
                .is_some()
        );
        assert_eq!(
            send_receipt_if_due(&db, &mailer, order.id).await.unwrap(),
            ReceiptOutcome::AlreadySent
        );
    }

    /// Concurrent deliveries in one process: one claims and writes, the others wait for it
    /// and report the receipt sent.
    #[tokio::test]
    async fn concurrent_senders_write_one_receipt() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), "Shop <shop@example.test>".parse().unwrap()).unwrap();
        let order = paid_order(&db, &products, "cs_test_many").await;
        let outcomes = futures_join_all(
            (0..8)
                .map(|_| send_receipt_if_due(&db, &mailer, order.id))
                .collect(),
        )
        .await;
        let sent = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(ReceiptOutcome::Sent(_))))
            .count();
        assert_eq!(sent, 1, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Ok(ReceiptOutcome::Sent(_) | ReceiptOutcome::AlreadySent))),
            "{outcomes:?}"
        );
        assert_eq!(outbox_files(dir.path()).len(), 1);
    }

    /// Polls every future on this task until all are done (no extra dependency).
    async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => *output = Some(value),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        outputs.into_iter().map(Option::unwrap).collect()
    }
}
