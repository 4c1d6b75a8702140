//! Line items as stored (compact one-off prices and products, full copies of catalog
//! ones) and their JSON (contract §2.6).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::object::TaxBehavior;
use crate::resources::prices::{NO_METADATA, OneOffPriceJson, Price, PriceJson, ProductRef};
use crate::resources::products::{self, Product, ProductJson};

/// `line_items[][adjustable_quantity]`: echoed (the mock's page has no quantity picker).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct AdjustableQuantity {
    pub enabled: bool,
    pub maximum: Option<i64>,
    pub minimum: Option<i64>,
}

/// A line item as stored. Its price and product are kept as they were when the session
/// was created: a catalog price's copy, or the one-off price `price_data` made. One-off
/// prices and products (most line items) keep only the parts they can have (the rest of
/// their JSON is fixed), about a third of the memory of full copies; catalog ones are
/// full copies. Saved in data directories as full copies (`StoredLineItem`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredLineItem", into = "StoredLineItem")]
pub(crate) struct LineItem {
    pub id: String,
    /// The product's name when the session was created (a one-off product's name, kept
    /// only here).
    pub description: String,
    pub quantity: i64,
    /// quantity × unit price, before discounts (no taxes are modelled).
    pub amount: i64,
    /// This item's share of the session's discount.
    pub amount_discount: i64,
    pub metadata: BTreeMap<String, String>,
    /// Boxed: rarely given.
    pub adjustable_quantity: Option<Box<AdjustableQuantity>>,
    pub price: ItemPrice,
    pub product: ItemProduct,
}

/// A line item's price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ItemPrice {
    /// Made from `price_data`: inactive, one-time, no lookup key, nickname or metadata,
    /// its product the line item's.
    OneOff(OneOffPrice),
    /// A copy of a catalog price (or of any price a one-off one could not stand for).
    Copy(Box<Price>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OneOffPrice {
    pub id: Box<str>,
    pub created: i64,
    pub unit_amount: Option<i64>,
    /// `None` when it is `unit_amount`'s digits (the price was given in whole units).
    pub unit_amount_decimal: Option<Box<str>>,
    pub currency: Currency,
    pub tax_behavior: TaxBehavior,
}

/// A three-letter currency code, in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Currency([u8; 3]);

impl Currency {
    fn new(code: &str) -> Option<Currency> {
        <[u8; 3]>::try_from(code.as_bytes())
            .ok()
            .filter(|b| b.is_ascii())
            .map(Currency)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A line item's product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ItemProduct {
    pub id: Box<str>,
    pub description: Option<String>,
    pub kind: ItemProductKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ItemProductKind {
    /// Made from `product_data` ([`Product::inline`]); named by the line item's
    /// `description`. `extra`: its images and metadata, when it has any.
    OneOff {
        created: i64,
        extra: Option<Box<ProductExtra>>,
    },
    /// A copy of a catalog product (or of any product a one-off one could not stand for).
    Copy(Box<Product>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProductExtra {
    pub images: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

/// A line item with full copies of its price and product: how line items are saved (the
/// format data directories had before line items were kept compactly).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLineItem {
    id: String,
    description: String,
    quantity: i64,
    amount: i64,
    amount_discount: i64,
    metadata: BTreeMap<String, String>,
    adjustable_quantity: Option<AdjustableQuantity>,
    price: Price,
    product: Product,
}

impl From<StoredLineItem> for LineItem {
    fn from(s: StoredLineItem) -> LineItem {
        LineItem::new(
            s.id,
            s.quantity,
            s.amount,
            s.metadata,
            s.adjustable_quantity,
            s.price,
            s.product,
        )
        .with_description(s.description)
    }
}

impl From<LineItem> for StoredLineItem {
    fn from(li: LineItem) -> StoredLineItem {
        StoredLineItem {
            price: li.full_price(),
            product: li.full_product(),
            adjustable_quantity: li.adjustable_quantity.map(|a| *a),
            id: li.id,
            description: li.description,
            quantity: li.quantity,
            amount: li.amount,
            amount_discount: li.amount_discount,
            metadata: li.metadata,
        }
    }
}

impl LineItem {
    /// A line item for `quantity` of `price` (of `product`), described by the product's
    /// name, with no discount yet. One-off prices and products are kept compactly.
    pub(super) fn new(
        id: String,
        quantity: i64,
        amount: i64,
        metadata: BTreeMap<String, String>,
        adjustable_quantity: Option<AdjustableQuantity>,
        price: Price,
        product: Product,
    ) -> LineItem {
        // Kept compactly, they are still exactly what was given (checked in tests).
        #[cfg(debug_assertions)]
        let given = (price.clone(), product.clone());
        let description = product.name.clone();
        let one_off_product = product.id == price.product
            && !product.active
            && product.updated == product.created
            && product.url.is_none()
            && product.shippable.is_none()
            && product.statement_descriptor.is_none()
            && product.unit_label.is_none()
            && product.tax_code.is_none()
            && product.default_price.is_none()
            && product.kind == crate::resources::products::ProductType::Service
            && product.marketing_features.is_empty();
        let product = if one_off_product {
            let Product {
                id,
                created,
                description,
                images,
                metadata,
                ..
            } = product;
            ItemProduct {
                id: id.into_boxed_str(),
                description,
                kind: ItemProductKind::OneOff {
                    created,
                    extra: (!images.is_empty() || !metadata.is_empty())
                        .then(|| Box::new(ProductExtra { images, metadata })),
                },
            }
        } else {
            ItemProduct {
                id: product.id.clone().into_boxed_str(),
                description: product.description.clone(),
                kind: ItemProductKind::Copy(Box::new(product)),
            }
        };
        let currency = Currency::new(&price.currency);
        let price = match currency {
            Some(currency)
                if !price.active
                    && price.product == *product.id
                    && price.lookup_key.is_none()
                    && price.metadata.is_empty()
                    && price.nickname.is_none()
                    && price.recurring.is_none() =>
            {
                let whole = price
                    .unit_amount
                    .is_some_and(|u| u.to_string() == price.unit_amount_decimal);
                ItemPrice::OneOff(OneOffPrice {
                    id: price.id.into_boxed_str(),
                    created: price.created,
                    unit_amount: price.unit_amount,
                    unit_amount_decimal: (!whole)
                        .then(|| price.unit_amount_decimal.into_boxed_str()),
                    currency,
                    tax_behavior: price.tax_behavior,
                })
            }
            _ => ItemPrice::Copy(Box::new(price)),
        };
        let item = LineItem {
            id,
            description,
            quantity,
            amount,
            amount_discount: 0,
            metadata,
            adjustable_quantity: adjustable_quantity.map(Box::new),
            price,
            product,
        };
        #[cfg(debug_assertions)]
        debug_assert_eq!((item.full_price(), item.full_product()), given);
        item
    }

    /// `description` as saved, should it differ from the product's name: a one-off product
    /// is named by the description, so such a product is then kept as a full copy.
    fn with_description(mut self, description: String) -> LineItem {
        if description != self.description {
            if let ItemProductKind::OneOff { .. } = self.product.kind {
                let product = self.full_product();
                self.product.kind = ItemProductKind::Copy(Box::new(product));
            }
            self.description = description;
        }
        self
    }

    pub fn currency(&self) -> &str {
        match &self.price {
            ItemPrice::OneOff(p) => p.currency.as_str(),
            ItemPrice::Copy(p) => &p.currency,
        }
    }

    /// The price as a full [`Price`].
    pub fn full_price(&self) -> Price {
        match &self.price {
            ItemPrice::Copy(p) => (**p).clone(),
            ItemPrice::OneOff(p) => Price {
                id: p.id.to_string(),
                created: p.created,
                active: false,
                currency: p.currency.as_str().to_string(),
                unit_amount: p.unit_amount,
                unit_amount_decimal: p.unit_amount_decimal().into_owned(),
                product: self.product.id.to_string(),
                lookup_key: None,
                metadata: BTreeMap::new(),
                nickname: None,
                recurring: None,
                tax_behavior: p.tax_behavior,
            },
        }
    }

    /// The product as a full [`Product`].
    pub fn full_product(&self) -> Product {
        match &self.product.kind {
            ItemProductKind::Copy(p) => (**p).clone(),
            ItemProductKind::OneOff { created, extra } => Product::inline(
                self.product.id.to_string(),
                *created,
                self.description.clone(),
                self.product.description.clone(),
                extra.as_ref().map(|e| e.images.clone()).unwrap_or_default(),
                extra
                    .as_ref()
                    .map(|e| e.metadata.clone())
                    .unwrap_or_default(),
            ),
        }
    }

    fn product_json(&self) -> ProductJson<'_> {
        match &self.product.kind {
            ItemProductKind::Copy(p) => p.json(None),
            ItemProductKind::OneOff { created, extra } => products::one_off_json(
                &self.product.id,
                *created,
                &self.description,
                self.product.description.as_deref(),
                extra.as_ref().map_or(&[], |e| &e.images[..]),
                extra.as_ref().map_or(&NO_METADATA, |e| &e.metadata),
            ),
        }
    }

    fn price_json(&self, expand_product: bool) -> PriceJson<'_> {
        let product = |id| match expand_product {
            true => ProductRef::Object(Box::new(self.product_json())),
            false => ProductRef::Id(id),
        };
        match &self.price {
            ItemPrice::Copy(p) => p.json_with(product(&p.product)),
            ItemPrice::OneOff(p) => OneOffPriceJson {
                id: &p.id,
                created: p.created,
                currency: p.currency.as_str(),
                unit_amount: p.unit_amount,
                unit_amount_decimal: p.unit_amount_decimal(),
                tax_behavior: p.tax_behavior,
                product: product(&self.product.id),
            }
            .json(),
        }
    }
}

impl OneOffPrice {
    fn unit_amount_decimal(&self) -> Cow<'_, str> {
        match (&self.unit_amount_decimal, self.unit_amount) {
            (Some(d), _) => Cow::Borrowed(d),
            (None, Some(u)) => Cow::Owned(u.to_string()),
            (None, None) => Cow::Borrowed(""),
        }
    }
}

/// A line item (`object: "item"`, contract §2.6) with its embedded Price.
#[derive(Serialize)]
pub(crate) struct ItemJson<'a> {
    id: &'a str,
    object: &'static str,
    adjustable_quantity: Option<AdjustableQuantity>,
    amount_discount: i64,
    amount_subtotal: i64,
    amount_tax: i64,
    amount_total: i64,
    currency: &'a str,
    description: &'a str,
    metadata: &'a BTreeMap<String, String>,
    price: PriceJson<'a>,
    quantity: i64,
}

impl LineItem {
    /// `_created` is unused: a line item's price and product carry their own times.
    pub(super) fn json(&self, _created: i64, expand_product: bool) -> ItemJson<'_> {
        ItemJson {
            id: &self.id,
            object: "item",
            adjustable_quantity: self.adjustable_quantity.as_deref().copied(),
            amount_discount: self.amount_discount,
            amount_subtotal: self.amount,
            amount_tax: 0,
            amount_total: self.amount - self.amount_discount,
            currency: self.currency(),
            description: &self.description,
            metadata: &self.metadata,
            price: self.price_json(expand_product),
            quantity: self.quantity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    /// Line items keep one-off prices and products compactly: they render, and are saved,
    /// exactly as the full copies they stand for.
    #[test]
    fn compact_line_items_render_as_full_copies() {
        use super::super::object::Session;
        use crate::resources::test_support::call;
        use crate::resources::{prices, products};
        let mut a = account();
        let prod = call(
            products::create,
            &mut a,
            "name=Book&description=Hardback&images[0]=https://img.test/b.png&metadata[k]=v",
        )
        .unwrap();
        let prod = prod["id"].as_str().unwrap().to_string();
        let price = call(
            prices::create,
            &mut a,
            &format!("product={prod}&currency=eur&unit_amount=1500&lookup_key=book&nickname=B"),
        )
        .unwrap();
        let price = price["id"].as_str().unwrap().to_string();
        let item = |i: usize, rest: &str| {
            format!(
                "&line_items[{i}][quantity]={}&{}",
                i + 1,
                rest.replace("[]", &format!("[{i}]"))
            )
        };
        let eur =
            |i: usize, pd: &str| item(i, &format!("line_items[][price_data][currency]=EUR&{pd}"));
        let wire = [
            eur(0, "line_items[][price_data][unit_amount]=1999&line_items[][price_data][product_data][name]=Tee"),
            eur(1, "line_items[][price_data][unit_amount_decimal]=33.335&line_items[][price_data][tax_behavior]=inclusive\
                 &line_items[][price_data][product_data][name]=Mug&line_items[][price_data][product_data][description]=White\
                 &line_items[][price_data][product_data][images][0]=https://img.test/m.png\
                 &line_items[][price_data][product_data][metadata][sku]=M1&line_items[][metadata][gift]=yes"),
            eur(2, "line_items[][price_data][unit_amount_decimal]=250&line_items[][price_data][product_data][name]=Pin"),
            eur(3, &format!("line_items[][price_data][unit_amount]=700&line_items[][price_data][product]={prod}")),
            item(4, &format!("line_items[][price]={price}&line_items[][adjustable_quantity][enabled]=true")),
        ]
        .concat();
        let v = try_create(
            &mut a,
            &format!("mode=payment&success_url=https://shop.test/ok{wire}&expand[]=line_items"),
            None,
        )
        .unwrap();
        let id = v["id"].as_str().unwrap();
        let legacy = try_create(
            &mut a,
            "mode=payment&success_url=https://shop.test/ok&line_items[0][name]=Old&line_items[0][amount]=990\
             &line_items[0][currency]=usd&line_items[0][quantity]=1&line_items[0][description]=Legacy",
            Some("2020-08-27"),
        )
        .unwrap();
        let legacy = legacy["id"].as_str().unwrap();
        let mut items: Vec<LineItem> = a.sessions.get(id).unwrap().line_items.clone();
        items.extend(a.sessions.get(legacy).unwrap().line_items.clone());
        let one_off = |li: &LineItem| {
            (
                matches!(li.price, ItemPrice::OneOff(_)),
                matches!(li.product.kind, ItemProductKind::OneOff { .. }),
            )
        };
        let kinds: Vec<_> = items.iter().map(one_off).collect();
        assert_eq!(
            kinds,
            [
                (true, true),
                (true, true),
                (true, true),
                (true, false),
                (false, false),
                (true, true)
            ]
        );
        for li in &items {
            for expand in [false, true] {
                let compact = serde_json::to_string(&li.price_json(expand)).unwrap();
                let (price, product) = (li.full_price(), li.full_product());
                let full = serde_json::to_string(&price.json(expand.then_some(&product))).unwrap();
                assert_eq!(compact, full);
            }
            // Saved as full copies, read back compact.
            let saved = serde_json::to_value(li).unwrap();
            assert_eq!(
                saved["price"],
                serde_json::to_value(li.full_price()).unwrap()
            );
            assert_eq!(
                saved["product"],
                serde_json::to_value(li.full_product()).unwrap()
            );
            let back: LineItem = serde_json::from_value(saved).unwrap();
            assert_eq!((&back, one_off(&back)), (li, one_off(li)));
        }
        let mug = &items[1].full_price();
        assert_eq!(
            (
                mug.unit_amount,
                mug.unit_amount_decimal.as_str(),
                mug.currency.as_str()
            ),
            (None, "33.335", "eur")
        );
        assert_eq!(items[0].full_price().unit_amount_decimal, "1999");
        let shown = &v["line_items"]["data"];
        assert_eq!(shown[1]["price"]["product"], items[1].product.id.as_ref());
        assert_eq!(shown[1]["metadata"], serde_json::json!({"gift": "yes"}));
        assert_eq!(shown[4]["price"]["lookup_key"], "book");
        // A whole session round-trips through its saved form.
        let s = a.sessions.get(id).unwrap();
        let back: Session = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
        let v = crate::protocol::version::ApiVersion::parse("2026-09-30.endive").unwrap();
        let x = super::super::object::Expansion {
            line_items: true,
            products: true,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&back.json(&v, &x)).unwrap(),
            serde_json::to_string(&s.json(&v, &x)).unwrap()
        );
        assert_eq!(
            serde_json::to_value(s).unwrap()["payment_method_types"],
            serde_json::json!(["card"])
        );
    }
}
