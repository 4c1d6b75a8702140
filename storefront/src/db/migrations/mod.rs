//! Schema history. Run at start-up; each migration runs once per database.

use sea_orm_migration::prelude::*;

mod m20250101_000001_create_products;
mod m20250101_000002_create_orders;
mod m20250601_000003_receipt_claim;
mod m20261127_000004_receipts_due_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_create_products::Migration),
            Box::new(m20250101_000002_create_orders::Migration),
            Box::new(m20250601_000003_receipt_claim::Migration),
            Box::new(m20261127_000004_receipts_due_index::Migration),
        ]
    }
}
