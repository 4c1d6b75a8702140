//! What "exactly once" means where concurrency is real: PostgreSQL, a pool of connections
//! per shop, several shops on one database, a multi-threaded runtime. (SQLite, with one
//! connection, runs every statement one after the other and can't show a race.)
//!
//! Each test makes its own database on the server `TEST_POSTGRES_URL` names, and is
//! skipped with a message when that is unset (unless `REQUIRE_POSTGRES_TESTS` is set).

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use storefront::orders::{self, Claim};
use storefront::{Tuning, catalogue};

use crate::helpers::{AppOptions, TestApp, completed_event, scratch_postgres, spawn_app_with};

fn on(database_url: &str) -> AppOptions {
    AppOptions {
        database_url: Some(database_url.to_owned()),
        ..AppOptions::default()
    }
}

/// Delivers `event` to `app` as Stripe does: again after any answer but a 2xx (a 503
/// means another delivery is writing the receipt). Returns the 2xx answer's `receipt`:
/// `queued` from the delivery that recorded the payment (the receipt is written after
/// the answer), `already_sent` from the others.
async fn deliver_until_acknowledged(app: &TestApp, event: &str) -> String {
    for _ in 0..50 {
        let response = app.deliver(event).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        match status {
            StatusCode::OK => return body["receipt"].as_str().unwrap_or("").to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("answered {other}: {body}"),
        }
    }
    panic!("never acknowledged")
}

/// The same event, delivered 16 times at once to one shop on PostgreSQL: one paid order,
/// one receipt, and exactly one of the deliveries reports having queued it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_record_once_and_mail_once_on_postgresql() {
    let Some(pg) =
        scratch_postgres("concurrent_duplicate_deliveries_record_once_and_mail_once_on_postgresql")
            .await
    else {
        return;
    };
    let app = std::sync::Arc::new(spawn_app_with(on(&pg.url)).await);
    let order = app.pending_order(2, "cs_test_pg_race").await;
    let event = completed_event("evt_pg_race", "cs_test_pg_race", order.id, 1299);

    let deliveries: Vec<_> = (0..16)
        .map(|_| {
            let (app, event) = (app.clone(), event.clone());
            tokio::spawn(async move { deliver_until_acknowledged(&app, &event).await })
        })
        .collect();
    let mut receipts = Vec::new();
    for delivery in deliveries {
        receipts.push(delivery.await.unwrap());
    }
    assert_eq!(
        receipts.iter().filter(|r| *r == "queued").count(),
        1,
        "{receipts:?}"
    );
    assert!(
        receipts
            .iter()
            .all(|r| r == "queued" || r == "already_sent"),
        "{receipts:?}"
    );
    assert_eq!(orders::paid_orders(&app.db).await.unwrap().len(), 1);
    assert_eq!(app.emails().await.len(), 1);
    let order = orders::find(&app.db, order.id).await.unwrap().unwrap();
    assert!(order.receipt_sent_at.is_some() && order.receipt_claimed_at.is_some());
}

/// Two shops started together on one fresh database (as two instances behind a load
/// balancer), each with its own outbox; every order's event is delivered to both, many
/// times, all at once. One paid order and one receipt per order, in the two outboxes
/// together; one catalogue, seeded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_send_one_receipt_per_order() {
    let Some(pg) =
        scratch_postgres("two_instances_on_one_database_send_one_receipt_per_order").await
    else {
        return;
    };
    let (a, b) = tokio::join!(spawn_app_with(on(&pg.url)), spawn_app_with(on(&pg.url)));
    assert_eq!(
        catalogue::all(&a.db).await.unwrap().len(),
        5,
        "seeded once though both started on an empty database"
    );
    let apps = [std::sync::Arc::new(a), std::sync::Arc::new(b)];

    const ORDERS: usize = 12;
    const COPIES_PER_SHOP: usize = 6;
    let mut events = Vec::new();
    for i in 0..ORDERS {
        let session = format!("cs_test_two_{i}");
        let order = apps[0].pending_order(1 + (i % 4) as i64, &session).await;
        let amount = order.amount_cents;
        events.push((
            order.id,
            completed_event(&format!("evt_two_{i}"), &session, order.id, amount),
        ));
    }
    let mut deliveries = Vec::new();
    for _ in 0..COPIES_PER_SHOP {
        for (order_id, event) in &events {
            for app in &apps {
                let (app, event, order_id) = (app.clone(), event.clone(), *order_id);
                deliveries.push(tokio::spawn(async move {
                    (order_id, deliver_until_acknowledged(&app, &event).await)
                }));
            }
        }
    }
    let mut sent: HashMap<i64, usize> = HashMap::new();
    for delivery in deliveries {
        let (order_id, receipt) = delivery.await.unwrap();
        assert!(
            receipt == "queued" || receipt == "already_sent",
            "{receipt}"
        );
        *sent.entry(order_id).or_default() += usize::from(receipt == "queued");
    }
    assert_eq!(sent.len(), ORDERS);
    assert!(sent.values().all(|n| *n == 1), "{sent:?}");

    apps[0].settle_receipts().await;
    let paid = orders::paid_orders(&apps[0].db).await.unwrap();
    assert_eq!(paid.len(), ORDERS);
    assert!(paid.iter().all(|o| o.receipt_sent_at.is_some()));
    let emails: Vec<String> = apps.iter().flat_map(|app| app.outbox_now()).collect();
    assert_eq!(
        emails.len(),
        ORDERS,
        "one receipt per order, both shops together"
    );
    for (order_id, _) in &events {
        let needle = format!("Order number: {order_id}");
        assert_eq!(
            emails
                .iter()
                .filter(|e| e.lines().any(|l| l.trim_end() == needle))
                .count(),
            1,
            "order {order_id}"
        );
    }
    eprintln!(
        "two instances: {} receipts from the first shop, {} from the second",
        apps[0].outbox_now().len(),
        apps[1].outbox_now().len()
    );
}

/// The claim itself, without HTTP: two connection pools (as two processes) race for the
/// same receipts, eight claimers per order at once; exactly one wins each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipt_claims_race_across_connection_pools() {
    let Some(pg) = scratch_postgres("receipt_claims_race_across_connection_pools").await else {
        return;
    };
    let first = storefront::db::connect_and_migrate(&pg.url).await.unwrap();
    let second = storefront::db::connect_and_migrate(&pg.url).await.unwrap();
    catalogue::seed_if_empty(&first).await.unwrap();
    let product = catalogue::find(&first, 1).await.unwrap().unwrap();

    const ORDERS: usize = 20;
    let mut order_ids = Vec::new();
    for i in 0..ORDERS {
        let order = orders::create_pending(&first, &product).await.unwrap();
        let checkout = orders::CompletedCheckout {
            session_id: format!("cs_test_claim_{i}"),
            order_id: Some(order.id),
            buyer_email: Some("jenny@example.com".into()),
            ..Default::default()
        };
        orders::mark_paid(&first, &checkout).await.unwrap();
        order_ids.push(order.id);
    }
    let timeout = Tuning::default().receipt_claim_timeout;
    let mut claims = Vec::new();
    for &order_id in &order_ids {
        for n in 0..8 {
            let db = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            claims.push(tokio::spawn(async move {
                let claim = orders::claim_receipt(&db, order_id, chrono::Utc::now(), timeout)
                    .await
                    .unwrap();
                (order_id, claim)
            }));
        }
    }
    let mut won: HashMap<i64, usize> = HashMap::new();
    for claim in claims {
        let (order_id, claim) = claim.await.unwrap();
        match claim {
            Claim::Claimed(_) => *won.entry(order_id).or_default() += 1,
            Claim::Held { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(won.len(), ORDERS);
    assert!(won.values().all(|n| *n == 1), "{won:?}");
}

/// Where such text bit: PostgreSQL refuses a NUL character and text longer than its
/// column (each a 500 before the fix).
#[tokio::test]
async fn a_signed_event_with_text_the_database_cant_store_is_refused_on_postgresql() {
    let Some(pg) = scratch_postgres(
        "a_signed_event_with_text_the_database_cant_store_is_refused_on_postgresql",
    )
    .await
    else {
        return;
    };
    let app = spawn_app_with(on(&pg.url)).await;
    crate::webhooks::assert_unstorable_events_refused(&app).await;
}
