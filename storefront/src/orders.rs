//! Orders: the shop's record of a purchase, from Buy (pending) to the signed
//! webhook (paid) to the receipt. Plain functions over a connection or a
//! transaction, so tests drive them without HTTP.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionSession, TransactionTrait,
};

use crate::catalogue::{self, Product};
use crate::db::entities::orders::{self, Column};
use crate::mail::{MailError, Mailer, Receipt};

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
    }
    .insert(db)
    .await?;
    Ok(order)
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

/// Moves the order of a completed checkout to `paid`, in one transaction.
///
/// Idempotent: a second call for the same session changes nothing and says
/// `AlreadyPaid`. The status check in the UPDATE and the unique index on
/// `checkout_session_id` keep it so even when two deliveries race.
pub async fn mark_paid(
    db: &impl TransactionTrait,
    checkout: &CompletedCheckout,
) -> Result<MarkPaid, DbErr> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let txn = db.begin().await?;
        match mark_paid_in(&txn, checkout).await {
            Ok(outcome) => {
                txn.commit().await?;
                return Ok(outcome);
            }
            // Another delivery stored this session id on the order first: run
            // again, and the lookup by session id now finds it.
            Err(err)
                if attempts == 1
                    && matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
            {
                txn.rollback().await?;
            }
            Err(err) => return Err(err), // dropping `txn` rolls back
        }
    }
}

async fn mark_paid_in(
    txn: &impl ConnectionTrait,
    checkout: &CompletedCheckout,
) -> Result<MarkPaid, DbErr> {
    let order = match find_by_checkout_session(txn, &checkout.session_id).await? {
        Some(order) => order,
        None => {
            let Some(order_id) = checkout.order_id else {
                return Ok(MarkPaid::UnknownOrder);
            };
            match find(txn, order_id).await? {
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
                    return Ok(MarkPaid::UnknownOrder);
                }
                None => return Ok(MarkPaid::UnknownOrder),
            }
        }
    };
    if order.status == OrderStatus::Paid {
        return Ok(MarkPaid::AlreadyPaid(order));
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

    let mut change = orders::ActiveModel {
        status: Set(OrderStatus::Paid),
        paid_at: Set(Some(Utc::now().fixed_offset())),
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
    let updated = orders::Entity::update_many()
        .set(change)
        .filter(Column::Id.eq(order.id))
        // A delayed payment that settles moves an awaiting order; an expired or failed
        // one was never paid, but Stripe took the money now: record it all the same.
        .filter(Column::Status.ne(OrderStatus::Paid))
        .exec(txn)
        .await?;

    let order = find(txn, order.id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("order {}", order.id)))?;
    Ok(if updated.rows_affected == 1 {
        MarkPaid::Recorded(order)
    } else {
        MarkPaid::AlreadyPaid(order)
    })
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
    /// Written to the outbox; the message id.
    Sent(String),
    AlreadySent,
    /// The order isn't paid (or doesn't exist): nothing to confirm.
    NotPaid,
    /// Stripe gave us no address to write to.
    NoBuyerEmail,
}

/// Sends the receipt for a paid order once: the mail is written first, then
/// `receipt_sent_at` is set. A failed mail leaves it unset, so the next delivery
/// of the event tries again; a sent one is never sent again.
pub async fn send_receipt_if_due(
    db: &impl ConnectionTrait,
    mailer: &Mailer,
    order_id: i64,
) -> Result<ReceiptOutcome, ReceiptError> {
    let _one_at_a_time = mailer.lock_receipts().await;
    let Some(order) = find(db, order_id).await? else {
        return Ok(ReceiptOutcome::NotPaid);
    };
    if order.status != OrderStatus::Paid {
        return Ok(ReceiptOutcome::NotPaid);
    }
    if order.receipt_sent_at.is_some() {
        return Ok(ReceiptOutcome::AlreadySent);
    }
    let Some(buyer_email) = order.buyer_email.clone() else {
        return Ok(ReceiptOutcome::NoBuyerEmail);
    };
    let product_name = match catalogue::find(db, order.product_id).await? {
        Some(product) => product.name,
        None => format!("product #{}", order.product_id),
    };
    let receipt = Receipt {
        order_id: order.id,
        product_name,
        amount_cents: order.amount_cents,
        currency: order.currency.clone(),
        buyer_email,
    };
    let message_id = mailer.send_receipt(&receipt).await?;
    mark_receipt_sent(db, order.id).await?;
    Ok(ReceiptOutcome::Sent(message_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::connect_and_migrate;
    use sea_orm::DatabaseConnection;

    async fn seeded_db() -> (DatabaseConnection, Vec<Product>) {
        let db = connect_and_migrate("sqlite::memory:").await.unwrap();
        catalogue::seed_if_empty(&db).await.unwrap();
        let products = catalogue::all(&db).await.unwrap();
        (db, products)
    }

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
        let (db, products) = seeded_db().await;
        assert_eq!(products.len(), 5);
        assert_eq!(catalogue::seed_if_empty(&db).await.unwrap(), 0);
        assert_eq!(catalogue::all(&db).await.unwrap().len(), 5);
        assert_eq!(products[0].name, "Sourdough Masterclass");
        assert_eq!(products[0].price_cents, Some(2900));
        assert_eq!(products[4].price_cents, None);
    }

    #[tokio::test]
    async fn a_product_without_price_gets_no_order() {
        let (db, products) = seeded_db().await;
        let unpriced = products.iter().find(|p| p.price_cents.is_none()).unwrap();
        assert!(matches!(
            create_pending(&db, unpriced).await,
            Err(CreateOrderError::NotForSale(_))
        ));
        assert!(all(&db).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pending_then_paid_twice_gives_one_paid_order() {
        let (db, products) = seeded_db().await;
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
        let (db, products) = seeded_db().await;
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
        let (db, products) = seeded_db().await;
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
        let (db, products) = seeded_db().await;
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
        let (db, products) = seeded_db().await;
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
}
