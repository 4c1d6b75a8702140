//! Receipts after the answer: the webhook claims a paid order's receipt in the same
//! commit that records the payment, answers Stripe, and hands the claim to this queue;
//! one worker task writes the receipts that are waiting, together, and records them sent
//! in one statement.
//!
//! Nothing is lost with the process: a claim is in the database before the 2xx, so a
//! receipt whose writer died (kill -9, a power cut, a failed write) is a paid order with
//! no `receipt_sent_at` and a claim that expires. The sweep ([`sweep`]), run by the
//! worker at start-up and then every [`sweep_interval`], claims such orders again
//! (compare-and-set, so one process of several sharing a database wins) and sends them;
//! a receipt that reached the outbox before the crash is found there and recorded, not
//! written twice (see `orders::send_receipt_if_due`).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use tokio::sync::mpsc;

use crate::db::entities::products;
use crate::mail::{MailError, Mailer, Receipt, receipt_key};
use crate::orders::{self, Claim, ReceiptClaim};

/// The most receipts written and recorded together.
const MAX_BATCH: usize = 64;

/// The most unsent receipts one sweep looks at; the next sweep takes the rest.
const SWEEP_LIMIT: u64 = 500;

/// How often the worker looks for receipts left unsent: half the claim timeout (a claim
/// left by a dead writer is taken over at most 1.5 timeouts after it was made), at most
/// every 30 s, at least every 50 ms.
pub fn sweep_interval(claim_timeout: Duration) -> Duration {
    (claim_timeout / 2).clamp(Duration::from_millis(50), Duration::from_secs(30))
}

/// Where the webhook leaves the receipts it claimed.
#[derive(Clone, Debug)]
pub struct ReceiptQueue {
    tx: mpsc::UnboundedSender<ReceiptClaim>,
}

impl ReceiptQueue {
    /// Hands `claim` to the worker; gives it back if no worker is running.
    pub fn push(&self, claim: ReceiptClaim) -> Result<(), Box<ReceiptClaim>> {
        self.tx.send(claim).map_err(|returned| Box::new(returned.0))
    }
}

/// The other end of a [`ReceiptQueue`]: run it with [`ReceiptWorker::run`].
#[derive(Debug)]
pub struct ReceiptWorker {
    rx: mpsc::UnboundedReceiver<ReceiptClaim>,
}

pub fn queue() -> (ReceiptQueue, ReceiptWorker) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ReceiptQueue { tx }, ReceiptWorker { rx })
}

impl ReceiptWorker {
    /// [`ReceiptWorker::run`] on the shop's own database and mailer, as a `'static`
    /// future for `tokio::spawn`.
    pub async fn run_owned(self, state: crate::web::SharedState, stop: impl Future<Output = ()>) {
        self.run(&state.db, &state.mailer, stop).await
    }

    /// Sweeps once, then writes queued receipts as they come and sweeps every
    /// [`sweep_interval`], until `stop` completes; then writes what is still queued.
    pub async fn run<C: ConnectionTrait>(
        mut self,
        db: &C,
        mailer: &Mailer,
        stop: impl Future<Output = ()>,
    ) {
        let mut sweeps = tokio::time::interval(sweep_interval(mailer.receipt_claim_timeout()));
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = std::pin::pin!(stop);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                Some(first) = self.rx.recv() => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match self.rx.try_recv() {
                            Ok(claim) => batch.push(claim),
                            Err(_) => break,
                        }
                    }
                    send_claimed(db, mailer, batch).await;
                }
                _ = sweeps.tick() => {
                    if let Err(err) = sweep(db, mailer).await {
                        tracing::warn!(error = %err, "receipt sweep failed; trying again later");
                    }
                }
            }
        }
        // Whatever was queued before the stop; later ones are the sweep's.
        self.rx.close();
        let mut rest = Vec::new();
        while let Some(claim) = self.rx.recv().await {
            rest.push(claim);
        }
        for batch in rest.chunks(MAX_BATCH) {
            send_claimed(db, mailer, batch.to_vec()).await;
        }
    }
}

/// Claims and sends every receipt that is due and not claimed by a live writer: paid
/// orders with an address and no `receipt_sent_at`, whose claim is absent or expired.
/// The number of receipts sent.
pub async fn sweep(db: &impl ConnectionTrait, mailer: &Mailer) -> Result<usize, DbErr> {
    let due = orders::receipts_due(db, SWEEP_LIMIT).await?;
    let timeout = mailer.receipt_claim_timeout();
    let mut claims = Vec::new();
    for order in due {
        // An address no receipt can go to stays unsent; the webhook logged it.
        if !order
            .buyer_email
            .as_deref()
            .is_some_and(orders::deliverable)
        {
            continue;
        }
        match orders::claim_receipt(db, order.id, Utc::now(), timeout).await? {
            Claim::Claimed(claim) => {
                tracing::warn!(
                    order_id = claim.order.id,
                    took_over = claim.took_over,
                    "a paid order's receipt was left unsent (its writer stopped or failed); sending it"
                );
                claims.push(claim);
            }
            Claim::Settled(_) | Claim::Held { .. } => {}
        }
    }
    let mut sent = 0;
    for batch in claims.chunks(MAX_BATCH) {
        sent += send_claimed(db, mailer, batch.to_vec()).await;
    }
    Ok(sent)
}

/// Writes the receipts of `claims` into the outbox (one blocking task, one sync of the
/// folder) and records them sent (one statement). A receipt that could not be written
/// gives its claim back, for the sweep to retry; one written but not recorded (the
/// database failed) keeps its claim, which expires, and the sweep then finds the file
/// and records it. The number recorded.
pub async fn send_claimed(
    db: &impl ConnectionTrait,
    mailer: &Mailer,
    claims: Vec<ReceiptClaim>,
) -> usize {
    if claims.is_empty() {
        return 0;
    }
    let names = match product_names(db, &claims).await {
        Ok(names) => names,
        Err(err) => {
            tracing::warn!(error = %err, "reading product names for receipts failed; the sweep retries");
            for claim in &claims {
                release(db, claim).await;
            }
            return 0;
        }
    };
    let mut rendered = Vec::with_capacity(claims.len());
    let mut to_write = Vec::with_capacity(claims.len());
    for claim in claims {
        let order = &claim.order;
        let receipt = Receipt {
            order_id: order.id,
            product_name: names
                .get(&order.product_id)
                .cloned()
                .unwrap_or_else(|| format!("product #{}", order.product_id)),
            amount_cents: order.amount_cents,
            currency: order.currency.clone(),
            buyer_email: order.buyer_email.clone().unwrap_or_default(),
            key: receipt_key(order.id, order.checkout_session_id.as_deref()),
        };
        match mailer.render(&receipt) {
            Ok(bytes) => {
                to_write.push((receipt.key, bytes));
                rendered.push(claim);
            }
            Err(err) => {
                failed(&claim, &err);
                release(db, &claim).await;
            }
        }
    }
    let results = mailer.write_receipts(to_write).await;
    let mut written = Vec::with_capacity(rendered.len());
    for (claim, result) in rendered.into_iter().zip(results) {
        match result {
            Ok(done) => {
                if !done.new {
                    tracing::warn!(
                        order_id = claim.order.id,
                        message_id = %done.id,
                        "the receipt was already in the outbox (written by a writer that stopped before recording it); recording it, not sending it again"
                    );
                }
                written.push(claim);
            }
            Err(err) => {
                failed(&claim, &err);
                release(db, &claim).await;
            }
        }
    }
    // Written: from here on a claim is never released, only completed or left to
    // expire, so no other process starts a second receipt while these are out.
    match orders::complete_receipts(db, &written).await {
        Ok(recorded) => {
            for claim in &written {
                if recorded.contains(&claim.order.id) {
                    tracing::info!(order_id = claim.order.id, "receipt written");
                } else {
                    tracing::warn!(
                        order_id = claim.order.id,
                        "the receipt claim was taken over while the receipt was written; the other writer records it"
                    );
                }
            }
            recorded.len()
        }
        Err(err) => {
            tracing::warn!(error = %err, receipts = written.len(), "recording receipts as sent failed; their claims expire and the sweep records them");
            0
        }
    }
}

fn failed(claim: &ReceiptClaim, err: &MailError) {
    tracing::error!(order_id = claim.order.id, error = %err, "writing the receipt failed; the sweep retries");
}

async fn release(db: &impl ConnectionTrait, claim: &ReceiptClaim) {
    if let Err(err) = orders::release_receipt(db, claim).await {
        // The claim then expires by itself.
        tracing::warn!(order_id = claim.order.id, error = %err, "could not release the receipt claim");
    }
}

/// The names of the products of `claims`' orders, in one query.
async fn product_names(
    db: &impl ConnectionTrait,
    claims: &[ReceiptClaim],
) -> Result<HashMap<i64, String>, DbErr> {
    let mut ids: Vec<i64> = claims.iter().map(|c| c.order.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(products::Entity::find()
        .filter(products::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{self, Product};
    use crate::orders::{CompletedCheckout, MarkPaid, ReceiptOutcome};
    use sea_orm::DatabaseConnection;

    fn mailer(dir: &std::path::Path, timeout: Duration) -> Mailer {
        Mailer::new(dir, "Shop <shop@example.test>".parse().unwrap())
            .unwrap()
            .with_receipt_claim_timeout(timeout)
    }

    fn completed(session_id: &str, order_id: i64, email: Option<&str>) -> CompletedCheckout {
        CompletedCheckout {
            session_id: session_id.into(),
            order_id: Some(order_id),
            buyer_email: email.map(str::to_owned),
            amount_cents: Some(2900),
            currency: Some("usd".into()),
        }
    }

    /// Pays a new order as the webhook does (payment and claim in one commit).
    async fn pay(db: &DatabaseConnection, product: &Product, session: &str) -> ReceiptClaim {
        let order = orders::create_pending(db, product).await.unwrap();
        orders::attach_checkout_session(db, order.id, session)
            .await
            .unwrap();
        let payment = orders::record_payment(
            db,
            &completed(session, order.id, Some("jenny@example.com")),
            Some(Utc::now()),
        )
        .await
        .unwrap();
        assert!(matches!(payment.outcome, MarkPaid::Recorded(_)));
        payment
            .claim
            .expect("a newly paid order's receipt is claimed")
    }

    fn emls(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn the_payment_and_the_receipt_claim_are_one_commit() {
        let (db, products) = catalogue::seeded_test_db().await;
        let claim = pay(&db, &products[0], "cs_test_one").await;
        let stored = orders::find(&db, claim.order.id).await.unwrap().unwrap();
        assert_eq!(stored.status, "paid");
        assert_eq!(stored.receipt_claimed_at, Some(claim.claimed_at));
        assert_eq!(claim.order, stored);

        // A redelivery records nothing and claims nothing.
        let again = orders::record_payment(
            &db,
            &completed("cs_test_one", claim.order.id, Some("jenny@example.com")),
            Some(Utc::now()),
        )
        .await
        .unwrap();
        assert!(
            matches!(again.outcome, MarkPaid::AlreadyPaid(_)),
            "{again:?}"
        );
        assert_eq!(again.claim, None);

        // Without an address, or with one no mail can go to, nothing is claimed.
        for (session, email) in [
            ("cs_test_none", None),
            ("cs_test_bad", Some("not an address")),
        ] {
            let order = orders::create_pending(&db, &products[0]).await.unwrap();
            let payment =
                orders::record_payment(&db, &completed(session, order.id, email), Some(Utc::now()))
                    .await
                    .unwrap();
            assert!(matches!(payment.outcome, MarkPaid::Recorded(_)));
            assert_eq!(payment.claim, None);
            let stored = orders::find(&db, order.id).await.unwrap().unwrap();
            assert_eq!(stored.receipt_claimed_at, None);
        }
    }

    #[tokio::test]
    async fn claimed_receipts_are_written_together_and_recorded_once() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let mailer = mailer(dir.path(), Duration::from_secs(300));
        let claims = vec![
            pay(&db, &products[0], "cs_test_b1").await,
            pay(&db, &products[1], "cs_test_b2").await,
            pay(&db, &products[2], "cs_test_b3").await,
        ];
        assert_eq!(send_claimed(&db, &mailer, claims.clone()).await, 3);
        assert_eq!(emls(dir.path()).len(), 3);
        for (claim, product) in claims.iter().zip(&products) {
            let key = receipt_key(claim.order.id, claim.order.checkout_session_id.as_deref());
            let text = std::fs::read_to_string(dir.path().join(format!("{key}.eml"))).unwrap();
            assert!(text.contains(&product.name), "{text}");
            let stored = orders::find(&db, claim.order.id).await.unwrap().unwrap();
            assert!(stored.receipt_sent_at.is_some());
        }
        // The same claims again: nothing more is recorded, no file is added.
        assert_eq!(send_claimed(&db, &mailer, claims).await, 0);
        assert_eq!(emls(dir.path()).len(), 3);
        assert_eq!(sweep(&db, &mailer).await.unwrap(), 0);
    }

    /// The regression the sweep exists for: the process answered 2xx (payment and claim
    /// committed) and died before writing the receipt. Stripe won't redeliver; the sweep
    /// sends it once the dead writer's claim expires, exactly once.
    #[tokio::test]
    async fn a_receipt_left_unsent_by_a_crash_after_the_answer_is_sent_by_the_sweep() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(300);
        let mailer = mailer(dir.path(), timeout);
        let lost = pay(&db, &products[0], "cs_test_lost").await;
        drop(lost); // the process dies here, before the worker wrote it

        // Within the claim's timeout the sweep leaves it to its (maybe live) writer.
        assert_eq!(sweep(&db, &mailer).await.unwrap(), 0);
        assert!(emls(dir.path()).is_empty());

        tokio::time::sleep(timeout).await;
        assert_eq!(sweep(&db, &mailer).await.unwrap(), 1);
        assert_eq!(emls(dir.path()).len(), 1);
        let orders = orders::receipts_due(&db, 10).await.unwrap();
        assert!(orders.is_empty(), "{orders:?}");
        assert_eq!(sweep(&db, &mailer).await.unwrap(), 0, "sent once");
        assert_eq!(emls(dir.path()).len(), 1);
    }

    /// Died after writing, before recording: the sweep finds the file and records it.
    #[tokio::test]
    async fn a_receipt_written_but_not_recorded_is_recorded_by_the_sweep_not_rewritten() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_millis(200);
        let mailer = mailer(dir.path(), timeout);
        let claim = pay(&db, &products[0], "cs_test_half").await;
        let order = &claim.order;
        let receipt = Receipt {
            order_id: order.id,
            product_name: products[0].name.clone(),
            amount_cents: order.amount_cents,
            currency: order.currency.clone(),
            buyer_email: "jenny@example.com".into(),
            key: receipt_key(order.id, order.checkout_session_id.as_deref()),
        };
        assert!(mailer.send_receipt(&receipt).await.unwrap().new);
        let before = std::fs::read(dir.path().join(format!("{}.eml", receipt.key))).unwrap();

        tokio::time::sleep(timeout).await;
        assert_eq!(sweep(&db, &mailer).await.unwrap(), 1);
        assert_eq!(emls(dir.path()).len(), 1);
        let after = std::fs::read(dir.path().join(format!("{}.eml", receipt.key))).unwrap();
        assert_eq!(before, after, "the same file, untouched");
        assert_eq!(
            orders::send_receipt_if_due(&db, &mailer, order.id)
                .await
                .unwrap(),
            ReceiptOutcome::AlreadySent
        );
    }

    /// The worker writes what the webhook queues, and at stop what is still queued.
    #[tokio::test]
    async fn the_worker_writes_queued_receipts_and_drains_at_stop() {
        let (db, products) = catalogue::seeded_test_db().await;
        let dir = tempfile::tempdir().unwrap();
        let mailer = mailer(dir.path(), Duration::from_secs(300));
        let (queue, worker) = queue();
        let first = pay(&db, &products[0], "cs_test_w1").await;
        let second = pay(&db, &products[1], "cs_test_w2").await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        queue.push(first).unwrap();
        let run = worker.run(&db, &mailer, async {
            let _ = stopped.await;
        });
        let drive = async {
            // Stop at once: the first may or may not be written before the stop; both
            // must be written by the time the worker returns.
            queue.push(second).unwrap();
            stop.send(()).unwrap();
        };
        tokio::join!(run, drive);
        assert_eq!(emls(dir.path()).len(), 2);
        assert!(orders::receipts_due(&db, 10).await.unwrap().is_empty());
    }
}
