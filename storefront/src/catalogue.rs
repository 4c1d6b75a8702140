//! Products: reading them, and seeding an empty database from the fixture.

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryOrder, TransactionSession,
    TransactionTrait,
};
use serde::Deserialize;
use std::sync::LazyLock;

use crate::db::entities::products;
use crate::money::format_cents;

pub use products::Model as Product;

/// Compiled in, so the binary is self-contained.
const CATALOGUE_JSON: &str = include_str!("../../fixtures/catalogue.json");

#[derive(Debug, Deserialize)]
struct SeedCatalogue {
    store: Store,
    products: Vec<SeedProduct>,
}

/// Who runs the shop: named on pages and as the sender of receipts.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Store {
    pub name: String,
    pub creator_email: String,
}

fn seed_catalogue() -> Result<SeedCatalogue, DbErr> {
    serde_json::from_str(CATALOGUE_JSON)
        .map_err(|e| DbErr::Custom(format!("fixtures/catalogue.json is malformed: {e}")))
}

/// The shop described by the seed catalogue.
pub fn store() -> Store {
    static STORE: LazyLock<Store> = LazyLock::new(|| match seed_catalogue() {
        Ok(seed) => seed.store,
        // Unreachable with the fixture we ship (a test parses it); keep serving anyway.
        Err(_) => Store {
            name: "Storefront".to_owned(),
            creator_email: "shop@storefront.invalid".to_owned(),
        },
    });
    STORE.clone()
}

#[derive(Debug, Deserialize)]
struct SeedProduct {
    name: String,
    description: String,
    price_cents: Option<i64>,
    image_url: Option<String>,
}

impl Product {
    /// `$29.00`, or `None` when the product has no price yet.
    pub fn price_label(&self) -> Option<String> {
        self.price_cents
            .map(|cents| format_cents(cents, &self.currency))
    }

    /// Whether a shopper can buy it: it needs a price.
    pub fn is_for_sale(&self) -> bool {
        self.price_cents.is_some()
    }
}

/// Every product, in catalogue order.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Product>, DbErr> {
    products::Entity::find()
        .order_by_asc(products::Column::Id)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<Product>, DbErr> {
    products::Entity::find_by_id(id).one(db).await
}

/// A product to add to the catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price_cents: Option<i64>,
    pub image_url: Option<String>,
}

/// Adds a product (priced in usd) and returns it.
pub async fn add(db: &impl ConnectionTrait, product: NewProduct) -> Result<Product, DbErr> {
    products::ActiveModel {
        id: NotSet,
        name: Set(product.name),
        description: Set(product.description),
        price_cents: Set(product.price_cents),
        currency: Set("usd".to_owned()),
        image_url: Set(product.image_url),
        created_at: Set(chrono::Utc::now().fixed_offset()),
    }
    .insert(db)
    .await
}

/// Loads the seed catalogue when the products table is empty; returns how many were added.
/// An existing catalogue is left alone, so restarts and edits made in the database survive.
pub async fn seed_if_empty(db: &impl TransactionTrait) -> Result<usize, DbErr> {
    let seed = seed_catalogue()?;
    let txn = db.begin().await?;
    if products::Entity::find().count(&txn).await? > 0 {
        return Ok(0);
    }
    let count = seed.products.len();
    for p in seed.products {
        add(
            &txn,
            NewProduct {
                name: p.name,
                description: p.description,
                price_cents: p.price_cents,
                image_url: p.image_url,
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// A migrated in-memory SQLite database with the seed catalogue, and its products: what
/// the orders and receipts tests start from.
#[cfg(test)]
pub(crate) async fn seeded_test_db() -> (sea_orm::DatabaseConnection, Vec<Product>) {
    let db = crate::db::connect_and_migrate("sqlite::memory:")
        .await
        .unwrap();
    seed_if_empty(&db).await.unwrap();
    let products = all(&db).await.unwrap();
    (db, products)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_parses_and_names_the_store() {
        let seed = seed_catalogue().unwrap();
        assert_eq!(seed.products.len(), 5);
        assert_eq!(store().name, "Yumroad Test Kitchen");
        assert_eq!(store().creator_email, "creator@yumroad.test");
    }
}
