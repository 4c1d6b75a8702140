//! The seed catalogue the storefront starts with, read from `fixtures/` so the
//! flows assert against the same data the shop was seeded from.

use serde::Deserialize;

const CATALOGUE_JSON: &str = include_str!("../../fixtures/catalogue.json");

#[derive(Clone, Debug, Deserialize)]
struct Catalogue {
    products: Vec<RawProduct>,
}

#[derive(Clone, Debug, Deserialize)]
struct RawProduct {
    name: String,
    price_cents: Option<i64>,
}

/// A product a shopper can buy.
#[derive(Clone, Debug)]
pub struct CatalogueProduct {
    pub name: String,
    pub price_cents: i64,
}

impl CatalogueProduct {
    /// The price as both pages and receipts show it, e.g. `$29.00`. Written here
    /// rather than borrowed from `storefront::money`, so the flows check the shop's
    /// formatting instead of repeating it.
    pub fn price_label(&self) -> String {
        format!("${}.{:02}", self.price_cents / 100, self.price_cents % 100)
    }
}

/// Every product that has a price, in catalogue order.
pub fn for_sale() -> Vec<CatalogueProduct> {
    // The fixture is compiled in; a malformed one fails the harness's own tests.
    let catalogue: Catalogue =
        serde_json::from_str(CATALOGUE_JSON).expect("fixtures/catalogue.json is valid");
    catalogue
        .products
        .into_iter()
        .filter_map(|p| {
            p.price_cents.map(|price_cents| CatalogueProduct {
                name: p.name,
                price_cents,
            })
        })
        .collect()
}

/// The first product for sale: what the flows buy.
pub fn first_for_sale() -> CatalogueProduct {
    for_sale()
        .into_iter()
        .next()
        .expect("fixtures/catalogue.json has a product with a price")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_products_for_sale_and_formats_prices() {
        let products = for_sale();
        assert!(products.len() >= 2);
        let p = CatalogueProduct {
            name: "x".into(),
            price_cents: 2905,
        };
        assert_eq!(p.price_label(), "$29.05");
        assert_eq!(
            CatalogueProduct {
                name: "x".into(),
                price_cents: 500
            }
            .price_label(),
            "$5.00"
        );
    }
}
