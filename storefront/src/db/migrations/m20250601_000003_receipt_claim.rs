//! The receipt claim: which process is writing an order's receipt, and since when.
//!
//! `receipt_claimed_at` is set by one conditional UPDATE before the receipt is written
//! and compared again when `receipt_sent_at` is recorded, so two storefront processes
//! on one database never both write it (see `orders::send_receipt_if_due`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    ReceiptClaimedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(timestamp_with_time_zone_null(Orders::ReceiptClaimedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::ReceiptClaimedAt)
                    .to_owned(),
            )
            .await
    }
}
