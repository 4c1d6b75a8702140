use sea_orm_migration::{prelude::*, schema::*};

use super::m20250101_000001_create_products::Products;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    ProductId,
    Status,
    AmountCents,
    Currency,
    CheckoutSessionId,
    BuyerEmail,
    CreatedAt,
    PaidAt,
    ReceiptSentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Orders::Id))
                    .col(big_integer(Orders::ProductId))
                    .col(string_len(Orders::Status, 16))
                    .col(big_integer(Orders::AmountCents))
                    .col(string_len(Orders::Currency, 3))
                    // Unique: one order per Checkout Session, which is what makes a
                    // redelivered webhook a no-op. NULLs don't collide (both databases).
                    .col(
                        string_len_null(Orders::CheckoutSessionId, 255)
                            .unique_key()
                            .take(),
                    )
                    .col(string_null(Orders::BuyerEmail))
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone_null(Orders::PaidAt))
                    .col(timestamp_with_time_zone_null(Orders::ReceiptSentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orders_product_id")
                            .from(Orders::Table, Orders::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_orders_status")
                    .table(Orders::Table)
                    .col(Orders::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}
