use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(super) enum Products {
    Table,
    Id,
    Name,
    Description,
    PriceCents,
    Currency,
    ImageUrl,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Products::Id))
                    .col(string(Products::Name))
                    .col(text(Products::Description))
                    // Nullable: a product without a price can't be bought yet.
                    .col(big_integer_null(Products::PriceCents))
                    .col(string_len(Products::Currency, 3))
                    .col(string_null(Products::ImageUrl))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await
    }
}
