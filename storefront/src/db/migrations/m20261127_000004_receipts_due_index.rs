//! An index for the receipt sweep (`receipts::sweep`), which every instance runs at
//! start-up and then every half claim timeout: paid orders whose receipt is unsent are
//! few, and with this index finding them reads only those, not every paid order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Status,
    ReceiptSentAt,
}

const INDEX: &str = "idx_orders_status_receipt_sent_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Orders::Table)
                    .col(Orders::Status)
                    .col(Orders::ReceiptSentAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Orders::Table).to_owned())
            .await
    }
}
