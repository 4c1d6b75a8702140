//! Database access: connection, schema (migrations) and the table entities.
//!
//! One schema serves SQLite and PostgreSQL: money is `i64` cents, enums are
//! strings, timestamps carry a time zone.

pub mod entities;
pub mod migrations;
pub mod writes;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// Connects to `database_url` and brings the schema up to date.
pub async fn connect_and_migrate(database_url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(database_url);
    // sqlx would log every statement at info; sea-orm still traces them at debug.
    options.sqlx_logging(false);
    if database_url.starts_with("sqlite:") {
        // One connection (sea-orm's SQLite default, made explicit): writes never
        // contend, so no busy timeout is needed. Never recycle it, or an
        // in-memory database would vanish with it.
        // WAL: a commit appends to the log and syncs it once, where the default
        // rollback journal is created, synced and deleted besides the database
        // being synced: about three times the fsyncs, on the one connection every
        // request waits for. Synchronous stays FULL: a committed order survives a
        // power cut.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            });
    } else {
        options
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10));
    }
    let db = Database::connect(options).await?;
    migrations::Migrator::up(&db, None).await?;
    Ok(db)
}

/// Where the shop's order writes go: grouped into shared commits on a SQLite file (see
/// [`writes`]), straight to the pool elsewhere.
pub fn writes(database_url: &str, db: &DatabaseConnection) -> writes::Writes {
    if is_sqlite_file(database_url) {
        writes::Writes::grouped(db.clone())
    } else {
        writes::Writes::direct(db.clone())
    }
}

fn is_sqlite_file(database_url: &str) -> bool {
    let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
    database_url.starts_with("sqlite:") && !in_memory
}

/// Connections for reads beside the writer on SQLite.
const SQLITE_READERS: u32 = 4;

/// A pool for page reads (the catalogue), beside `writer`.
///
/// On a SQLite file it is a pool of its own: the writer is one connection, and every
/// statement waits its turn on it, page reads behind commits that wait for the disk. In
/// WAL mode readers don't wait for the writer (they see the last commit), so reads go
/// through up to [`SQLITE_READERS`] read-only connections of their own. An in-memory
/// SQLite database exists only on its one connection, and PostgreSQL's pool already
/// runs statements side by side: there it is `writer` itself.
pub async fn connect_reader(
    database_url: &str,
    writer: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if !is_sqlite_file(database_url) {
        return Ok(writer.clone());
    }
    let mut options = ConnectOptions::new(database_url);
    options
        .sqlx_logging(false)
        .max_connections(SQLITE_READERS)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // The writer created the file and chose WAL; a reader never writes.
        .map_sqlx_sqlite_opts(|o| o.read_only(true).create_if_missing(false));
    Database::connect(options).await
}

/// Any number, the same in every storefront: names the PostgreSQL advisory lock that
/// one starting process holds while it migrates and seeds.
const STARTUP_LOCK_KEY: i64 = 0x5354_4f52_4546_524e; // "STOREFRN"

/// Held by one starting process at a time while it migrates the schema and seeds the
/// catalogue, so instances started together on one PostgreSQL database neither race
/// their migrations nor both seed an empty catalogue. (SQLite needs none: one file, one
/// process.) The lock belongs to its own connection, so a process that dies holding it
/// releases it with the connection.
pub struct StartupLock(Option<DatabaseConnection>);

pub async fn startup_lock(database_url: &str) -> Result<StartupLock, DbErr> {
    if database_url.starts_with("sqlite:") {
        return Ok(StartupLock(None));
    }
    let mut options = ConnectOptions::new(database_url);
    options
        .sqlx_logging(false)
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10));
    let connection = Database::connect(options).await?;
    connection
        .execute_unprepared(&format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
        .await?;
    Ok(StartupLock(Some(connection)))
}

impl StartupLock {
    pub async fn release(self) {
        if let Some(connection) = self.0 {
            // Closing the connection releases the lock anyway.
            let _ = connection
                .execute_unprepared(&format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
                .await;
            let _ = connection.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receipt-claim migration and the receipt sweep's index go down and up again
    /// (SQLite; PostgreSQL runs them up in the integration tests).
    #[tokio::test]
    async fn the_latest_migrations_are_reversible() {
        let db = connect_and_migrate("sqlite::memory:").await.unwrap();
        let index_exists = |db: &DatabaseConnection| {
            let db = db.clone();
            async move {
                let statement = sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT name FROM sqlite_master WHERE type = 'index' \
                     AND name = 'idx_orders_status_receipt_sent_at'",
                );
                db.query_one_raw(statement).await.unwrap().is_some()
            }
        };
        assert!(index_exists(&db).await);
        migrations::Migrator::down(&db, Some(1)).await.unwrap();
        assert!(!index_exists(&db).await);
        db.execute_unprepared("SELECT receipt_claimed_at FROM orders")
            .await
            .unwrap();
        migrations::Migrator::down(&db, Some(1)).await.unwrap();
        assert!(
            db.execute_unprepared("SELECT receipt_claimed_at FROM orders")
                .await
                .is_err()
        );
        migrations::Migrator::up(&db, None).await.unwrap();
        db.execute_unprepared("SELECT receipt_claimed_at FROM orders")
            .await
            .unwrap();
        assert!(index_exists(&db).await);
    }
}
