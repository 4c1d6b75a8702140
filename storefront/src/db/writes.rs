//! Group commit for SQLite: the writes of concurrent requests share one transaction,
//! so one sync of the log makes a batch of them durable.
//!
//! SQLite has one writer, and with `synchronous=FULL` every commit waits for the disk.
//! Requests that each commit on their own queue behind each other's syncs; here one
//! task takes every write waiting at that moment, runs them in order in one
//! transaction, commits once, and only then answers each caller: a caller hears `Ok`
//! only once its write is as durable as its own commit would have made it. A write
//! that fails (a unique violation) is undone by SQLite alone (a failed statement rolls
//! back itself, not the transaction) and its caller gets the error; the others commit.
//! So a write given to [`Writes::run`] must change at most one row set with one
//! statement (the reads around it are free), or a failure could leave half of it.
//!
//! PostgreSQL commits concurrent transactions together by itself, and a failed statement
//! there aborts the whole transaction: writes run directly on the pool. So does an
//! in-memory SQLite database (tests), whose one connection is all there is.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{DatabaseConnection, DatabaseExecutor, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most writes in one transaction.
const MAX_BATCH: usize = 128;

/// Hands the caller its result once the batch's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn for<'a> FnOnce(DatabaseExecutor<'a>) -> BoxFuture<'a, Deliver> + Send>;

/// Where the shop's order writes go: see the module's documentation.
#[derive(Clone, Debug)]
pub struct Writes {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Direct(DatabaseConnection),
    Grouped(mpsc::UnboundedSender<Job>),
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Direct(_) => "Direct",
            Mode::Grouped(_) => "Grouped",
        })
    }
}

impl Writes {
    /// Writes straight to `db`, each on its own.
    pub fn direct(db: DatabaseConnection) -> Writes {
        Writes {
            mode: Mode::Direct(db),
        }
    }

    /// Group commit on `db` (a SQLite file's one writer connection), by a task spawned
    /// here; it ends when the last clone of the returned `Writes` is dropped.
    pub fn grouped(db: DatabaseConnection) -> Writes {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(commit_in_groups(db, rx));
        Writes {
            mode: Mode::Grouped(tx),
        }
    }

    /// Runs `write` and returns its result once it is committed.
    pub async fn run<T, E, F>(&self, write: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
        F: for<'a> FnOnce(DatabaseExecutor<'a>) -> BoxFuture<'a, Result<T, E>> + Send + 'static,
    {
        let jobs = match &self.mode {
            Mode::Direct(db) => return write(DatabaseExecutor::Connection(db)).await,
            Mode::Grouped(jobs) => jobs,
        };
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |db| {
            Box::pin(async move {
                let result = write(db).await;
                let deliver: Deliver = Box::new(move |commit| {
                    let _ = answer.send(match commit {
                        Ok(()) => result,
                        Err(cause) => Err(E::from(DbErr::Custom(format!(
                            "committing the batch failed: {cause}"
                        )))),
                    });
                });
                deliver
            })
        });
        let stopped = || E::from(DbErr::Custom("the database writer stopped".to_owned()));
        jobs.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// The writer task: each round takes every write waiting (up to [`MAX_BATCH`]), runs
/// them in one transaction and commits; a write alone runs without one (it commits by
/// itself, and BEGIN and COMMIT would be two more trips to SQLite's thread). A round runs
/// on a task of its own, so a panic in one write fails its round's callers, not every
/// later write.
async fn commit_in_groups(db: DatabaseConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let db = db.clone();
        let round = tokio::spawn(async move {
            if batch.len() == 1 {
                let deliver = (batch.remove(0))(DatabaseExecutor::Connection(&db)).await;
                deliver(Ok(()));
                return;
            }
            let txn = match db.begin().await {
                Ok(txn) => txn,
                Err(err) => {
                    // Dropping the batch tells its callers the writer failed them.
                    tracing::error!(error = %err, "starting a write transaction failed");
                    return;
                }
            };
            let mut delivers = Vec::with_capacity(batch.len());
            for job in batch {
                delivers.push(job(DatabaseExecutor::Transaction(&txn)).await);
            }
            let commit = txn.commit().await.map_err(|e| e.to_string());
            if let Err(err) = &commit {
                tracing::error!(error = %err, writes = delivers.len(), "committing a batch of writes failed");
            }
            for deliver in delivers {
                deliver(commit.clone());
            }
        });
        if let Err(err) = round.await {
            tracing::error!(error = %err, "a batch of writes panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::orders::{self, CreateOrderError};
    use sea_orm::SqlErr;

    /// Many writes at once on a SQLite file: each caller gets its own result, committed
    /// (another connection sees it), and one that fails (a session id already taken)
    /// fails alone.
    #[tokio::test]
    async fn grouped_writes_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shop.sqlite").display()
        );
        let db = crate::db::connect_and_migrate(&url).await.unwrap();
        catalogue::seed_if_empty(&db).await.unwrap();
        let product = catalogue::find(&db, 1).await.unwrap().unwrap();
        let writes = crate::db::writes(&url, &db);
        assert!(matches!(writes.mode, Mode::Grouped(_)));

        let creates: Vec<_> = (0..20)
            .map(|_| {
                let (writes, product) = (writes.clone(), product.clone());
                tokio::spawn(async move {
                    writes
                        .run(move |db| {
                            Box::pin(async move { orders::create_pending(&db, &product).await })
                        })
                        .await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for create in creates {
            let order: Result<orders::Order, CreateOrderError> = create.await.unwrap();
            ids.push(order.unwrap().id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 20, "each caller got its own order");

        let attach = |order_id: i64| {
            let writes = writes.clone();
            tokio::spawn(async move {
                writes
                    .run(move |db| {
                        Box::pin(async move {
                            orders::attach_checkout_session(&db, order_id, "cs_test_same").await
                        })
                    })
                    .await
            })
        };
        let (first, second) = (attach(ids[0]), attach(ids[1]));
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert!(first.unwrap());
        let err = second.unwrap_err();
        assert!(
            matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "{err:?}"
        );

        // Committed: a connection of its own sees every order, the failed write undone.
        let reader = crate::db::connect_reader(&url, &db).await.unwrap();
        let all = orders::all(&reader).await.unwrap();
        assert_eq!(all.len(), 20);
        let attached: Vec<_> = all
            .iter()
            .filter(|o| o.checkout_session_id.is_some())
            .map(|o| o.id)
            .collect();
        assert_eq!(attached, [ids[0]]);
    }
}
