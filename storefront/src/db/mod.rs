//! Database access: connection, schema (migrations) and the table entities.
//!
//! One schema serves SQLite and PostgreSQL: money is `i64` cents, enums are
//! strings, timestamps carry a time zone.

pub mod entities;
pub mod migrations;

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

    /// The receipt-claim migration goes down and up again (SQLite; PostgreSQL runs it up
    /// in the integration tests).
    #[tokio::test]
    async fn the_latest_migration_is_reversible() {
        let db = connect_and_migrate("sqlite::memory:").await.unwrap();
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
    }
}
