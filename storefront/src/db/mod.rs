//! Database access: connection, schema (migrations) and the table entities.
//!
//! One schema serves SQLite and PostgreSQL: money is `i64` cents, enums are
//! strings, timestamps carry a time zone.

pub mod entities;
pub mod migrations;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// Connects to `database_url` and brings the schema up to date.
pub async fn connect_and_migrate(database_url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(database_url);
    // sqlx would log every statement at info; sea-orm still traces them at debug.
    options.sqlx_logging(false);
    if database_url.starts_with("sqlite:") {
        // One connection (sea-orm's SQLite default, made explicit): writes never
        // contend, so no WAL or busy timeout is needed. Never recycle it, or an
        // in-memory database would vanish with it.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    } else {
        options
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10));
    }
    let db = Database::connect(options).await?;
    migrations::Migrator::up(&db, None).await?;
    Ok(db)
}
