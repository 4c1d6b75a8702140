//! Products (`/v1/products`): create (with `default_price_data`), retrieve, update, list,
//! delete, and the `product.created` / `product.updated` / `product.deleted` events.
//!
//! Products made inline from a Checkout Session's `price_data[product_data]` are built with
//! [`Product::inline`] and kept in the session's line item only (Stripe's one-off products).

use std::collections::BTreeMap;

use serde::Serialize;

use super::prices::{self, Price, PriceJson};
use super::{check_metadata, check_url, clearable, event_request, one_of, string_enum};
use crate::protocol::expand::Expand;
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx};
use crate::resources::events::{emit, snapshot};
use crate::resources::expandable;
use crate::store::{Account, Keyed};

/// Stripe's limits on a product's parameters.
const MAX_IMAGES: usize = 8;
const MAX_FEATURES: usize = 15;
const MAX_STATEMENT_DESCRIPTOR: usize = 22;
const MAX_UNIT_LABEL: usize = 12;

string_enum! {
    /// `product.type`.
    pub(crate) enum ProductType {
        Good = "good",
        Service = "service",
    }
}

/// A product as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Product {
    pub id: String,
    pub created: i64,
    pub updated: i64,
    pub active: bool,
    pub name: String,
    pub description: Option<String>,
    pub images: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub url: Option<String>,
    pub shippable: Option<bool>,
    pub statement_descriptor: Option<String>,
    pub unit_label: Option<String>,
    pub tax_code: Option<String>,
    pub default_price: Option<String>,
    pub kind: ProductType,
    pub marketing_features: Vec<String>,
}

impl Keyed for Product {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Product {
    /// A one-off product made from `product_data` (inline prices; never listed). Stripe
    /// renders such products `active: false`.
    pub fn inline(
        id: String,
        now: i64,
        name: String,
        description: Option<String>,
        images: Vec<String>,
        metadata: BTreeMap<String, String>,
    ) -> Product {
        Product {
            id,
            created: now,
            updated: now,
            active: false,
            name,
            description,
            images,
            metadata,
            url: None,
            shippable: None,
            statement_descriptor: None,
            unit_label: None,
            tax_code: None,
            default_price: None,
            kind: ProductType::Service,
            marketing_features: Vec::new(),
        }
    }

    pub fn json<'a>(&'a self, default_price: Option<&'a Price>) -> ProductJson<'a> {
        ProductJson {
            id: &self.id,
            object: "product",
            active: self.active,
            created: self.created,
            default_price: match (default_price, &self.default_price) {
                (Some(p), _) => Some(PriceRef::Object(Box::new(p.json(None)))),
                (None, Some(id)) => Some(PriceRef::Id(id)),
                (None, None) => None,
            },
            description: self.description.as_deref(),
            images: &self.images,
            livemode: false,
            marketing_features: self
                .marketing_features
                .iter()
                .map(|name| Feature { name })
                .collect(),
            metadata: &self.metadata,
            name: &self.name,
            package_dimensions: (),
            shippable: self.shippable,
            statement_descriptor: self.statement_descriptor.as_deref(),
            tax_code: self.tax_code.as_deref(),
            tax_details: (),
            kind: self.kind.as_str(),
            unit_label: self.unit_label.as_deref(),
            updated: self.updated,
            url: self.url.as_deref(),
        }
    }
}

/// The JSON of a one-off product made from `product_data` (see [`Product::inline`]), from
/// the parts it can have: the same as [`Product::json`] of the equivalent stored product.
pub(crate) fn one_off_json<'a>(
    id: &'a str,
    created: i64,
    name: &'a str,
    description: Option<&'a str>,
    images: &'a [String],
    metadata: &'a BTreeMap<String, String>,
) -> ProductJson<'a> {
    ProductJson {
        id,
        object: "product",
        active: false,
        created,
        default_price: None,
        description,
        images,
        livemode: false,
        marketing_features: Vec::new(),
        metadata,
        name,
        package_dimensions: (),
        shippable: None,
        statement_descriptor: None,
        tax_code: None,
        tax_details: (),
        kind: ProductType::Service.as_str(),
        unit_label: None,
        updated: created,
        url: None,
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum PriceRef<'a> {
    Id(&'a str),
    Object(Box<PriceJson<'a>>),
}

#[derive(Serialize)]
struct Feature<'a> {
    name: &'a str,
}

/// The JSON of a product (every field the official SDKs type as always present).
#[derive(Serialize)]
pub(crate) struct ProductJson<'a> {
    id: &'a str,
    object: &'static str,
    active: bool,
    created: i64,
    default_price: Option<PriceRef<'a>>,
    description: Option<&'a str>,
    images: &'a [String],
    livemode: bool,
    marketing_features: Vec<Feature<'a>>,
    metadata: &'a BTreeMap<String, String>,
    name: &'a str,
    package_dimensions: (),
    shippable: Option<bool>,
    statement_descriptor: Option<&'a str>,
    tax_code: Option<&'a str>,
    tax_details: (),
    #[serde(rename = "type")]
    kind: &'static str,
    unit_label: Option<&'a str>,
    updated: i64,
    url: Option<&'a str>,
}

/// `{"id": …, "object": "product", "deleted": true}`
#[derive(Serialize)]
pub(crate) struct DeletedJson<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub deleted: bool,
}

// ---------------------------------------------------------------------------------------
// Phase 1: parameters.
// ---------------------------------------------------------------------------------------

/// The product parameters create and update share (update: `None` = unchanged; for the
/// clearable ones `Some(None)` = cleared).
#[derive(Default)]
struct ProductIn {
    name: Option<String>,
    active: Option<bool>,
    description: Option<Option<String>>,
    images: Option<Vec<String>>,
    metadata: Option<crate::protocol::form::MapUpdate>,
    url: Option<Option<String>>,
    shippable: Option<bool>,
    statement_descriptor: Option<Option<String>>,
    unit_label: Option<Option<String>>,
    tax_code: Option<Option<String>>,
    marketing_features: Option<Vec<String>>,
}

fn read_common(f: &mut Fields<'_>) -> ApiResult<ProductIn> {
    let mut p = ProductIn {
        name: f.owned("name")?,
        active: f.bool("active")?,
        description: clearable(f, "description")?,
        images: f.string_list("images")?,
        metadata: f.string_map("metadata")?,
        url: clearable(f, "url")?,
        shippable: f.bool("shippable")?,
        statement_descriptor: clearable(f, "statement_descriptor")?,
        unit_label: clearable(f, "unit_label")?,
        tax_code: clearable(f, "tax_code")?,
        marketing_features: None,
    };
    if let Some(items) = f.list("marketing_features")? {
        let mut names = Vec::with_capacity(items.len());
        for item in &items {
            let mut o = item.fields()?;
            let name = o
                .owned("name")?
                .ok_or_else(|| ApiError::missing(&format!("{}[name]", item.path)))?;
            o.finish()?;
            names.push(name);
        }
        p.marketing_features = Some(names);
    }
    // Accepted, not modelled: they only matter for shipping labels and Stripe Tax.
    for key in ["package_dimensions", "tax_details"] {
        f.ignore(key);
    }
    Ok(p)
}

/// Phase 2 for the shared parameters: limits.
fn check_common(p: &ProductIn) -> ApiResult<()> {
    if p.name.as_deref() == Some("") {
        return Err(ApiError::missing("name"));
    }
    if let Some(images) = &p.images
        && images.len() > MAX_IMAGES
    {
        return Err(ApiError::invalid(
            "images",
            format!("You may only specify up to {MAX_IMAGES} images."),
        ));
    }
    if let Some(Some(u)) = &p.url {
        check_url("url", u)?;
    }
    if let Some(Some(s)) = &p.statement_descriptor
        && s.chars().count() > MAX_STATEMENT_DESCRIPTOR
    {
        return Err(ApiError::invalid(
            "statement_descriptor",
            format!(
                "The statement descriptor must be at most {MAX_STATEMENT_DESCRIPTOR} characters."
            ),
        ));
    }
    if let Some(Some(s)) = &p.unit_label
        && s.chars().count() > MAX_UNIT_LABEL
    {
        return Err(ApiError::invalid(
            "unit_label",
            format!("The unit label must be at most {MAX_UNIT_LABEL} characters."),
        ));
    }
    if let Some(features) = &p.marketing_features
        && features.len() > MAX_FEATURES
    {
        return Err(ApiError::invalid(
            "marketing_features",
            format!("You may only specify up to {MAX_FEATURES} marketing features."),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Domain functions.
// ---------------------------------------------------------------------------------------

/// The product behind an id given as a parameter (`price[product]` …): 400 when missing.
pub(crate) fn existing<'a>(account: &'a Account, id: &str, param: &str) -> ApiResult<&'a Product> {
    account
        .products
        .get(id)
        .ok_or_else(|| ApiError::no_such("product", id, param, false))
}

fn find<'a>(account: &'a Account, id: &str) -> ApiResult<&'a Product> {
    account
        .products
        .get(id)
        .ok_or_else(|| ApiError::no_such("product", id, "id", true))
}

/// Inserts a new product and emits `product.created`.
pub(crate) fn insert(account: &mut Account, product: Product, ctx: &RequestCtx) -> ApiResult<()> {
    let obj = snapshot(&product.json(None))?;
    account.products.insert(product);
    emit(account, "product.created", obj, &event_request(ctx))
}

/// A product id is free: not taken, and of characters Stripe allows in ids.
fn check_custom_id(account: &Account, id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(ApiError::invalid(
            "id",
            format!("Invalid id: {id}. Ids may only contain letters, digits, `_` and `-`."),
        ));
    }
    if account.products.get(id).is_some() {
        return Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            Some("resource_already_exists"),
            "Product already exists.",
        )
        .with_param("id"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------

/// The answer: the product with `expand[]` applied (`default_price`, …).
fn render(account: &Account, id: &str, x: &Expand, ctx: &RequestCtx) -> ApiResult<Reply> {
    let product = find(account, id)?;
    let v = ctx.version_for(account);
    expandable::reply(account, "product", &product.json(None), x, &v)
}

/// `POST /v1/products`
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let p = read_common(&mut f)?;
    let id = f.owned("id")?;
    let kind: Option<ProductType> = one_of(&mut f, "type")?;
    let default_price = f
        .object("default_price_data")?
        .map(prices::read_price_data)
        .transpose()?;
    let expand = expandable::read(&mut f, "product")?;
    f.finish()?;

    let name = p.name.clone().ok_or_else(|| ApiError::missing("name"))?;
    check_common(&p)?;
    let metadata = p.metadata.map(|m| m.to_map()).unwrap_or_default();
    check_metadata("metadata", &metadata)?;
    if let Some(id) = &id {
        check_custom_id(account, id)?;
    }
    let now = account.now();
    let id = id.unwrap_or_else(|| account.ids.object(crate::ids::prefix::PRODUCT));
    let price = default_price
        .map(|d| prices::build(account, d, id.clone(), now, "default_price_data"))
        .transpose()?;
    let product = Product {
        id: id.clone(),
        created: now,
        updated: now,
        active: p.active.unwrap_or(true),
        name,
        description: p.description.flatten(),
        images: p.images.unwrap_or_default(),
        metadata,
        url: p.url.flatten(),
        shippable: p.shippable,
        statement_descriptor: p.statement_descriptor.flatten(),
        unit_label: p.unit_label.flatten(),
        tax_code: p.tax_code.flatten(),
        default_price: price.as_ref().map(|p| p.id.clone()),
        kind: kind.unwrap_or(ProductType::Service),
        marketing_features: p.marketing_features.unwrap_or_default(),
    };
    insert(account, product, ctx)?;
    if let Some(price) = price {
        prices::insert(account, price, ctx)?;
    }
    render(account, &id, &expand, ctx)
}

/// `GET /v1/products/{id}`
pub(crate) fn retrieve(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let expand = expandable::read(&mut f, "product")?;
    f.finish()?;
    render(account, id, &expand, ctx)
}

/// `POST /v1/products/{id}`: emits `product.updated`.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let p = read_common(&mut f)?;
    let default_price = f.owned("default_price")?;
    let expand = expandable::read(&mut f, "product")?;
    f.finish()?;

    check_common(&p)?;
    find(account, id)?;
    if let Some(price_id) = &default_price {
        let price = account
            .prices
            .get(price_id)
            .ok_or_else(|| ApiError::no_such("price", price_id, "default_price", false))?;
        if price.product != id {
            return Err(ApiError::invalid(
                "default_price",
                format!(
                    "The price `{price_id}` does not belong to this product: default_price must be a price of `{id}`."
                ),
            ));
        }
        if !price.active {
            return Err(ApiError::invalid(
                "default_price",
                "The price specified is inactive. This field only accepts active prices.",
            ));
        }
    }
    let now = account.now();
    let product = account.products.get_mut(id).expect("found above");
    let mut metadata = product.metadata.clone();
    if let Some(m) = &p.metadata {
        m.apply(&mut metadata);
        check_metadata("metadata", &metadata)?;
    }
    product.metadata = metadata;
    if let Some(name) = p.name {
        product.name = name;
    }
    if let Some(active) = p.active {
        product.active = active;
    }
    if let Some(d) = p.description {
        product.description = d;
    }
    if let Some(images) = p.images {
        product.images = images;
    }
    if let Some(u) = p.url {
        product.url = u;
    }
    if let Some(s) = p.shippable {
        product.shippable = Some(s);
    }
    if let Some(s) = p.statement_descriptor {
        product.statement_descriptor = s;
    }
    if let Some(u) = p.unit_label {
        product.unit_label = u;
    }
    if let Some(t) = p.tax_code {
        product.tax_code = t;
    }
    if let Some(features) = p.marketing_features {
        product.marketing_features = features;
    }
    if default_price.is_some() {
        product.default_price = default_price;
    }
    product.updated = now;
    let obj = snapshot(&product.json(None))?;
    emit(account, "product.updated", obj, &event_request(ctx))?;
    render(account, id, &expand, ctx)
}

/// `DELETE /v1/products/{id}`: only a product without prices can go (as on Stripe).
pub(crate) fn delete(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    Fields::root(params).finish()?;
    find(account, id)?;
    if account.prices.rows().iter().any(|p| p.product == id) {
        return Err(ApiError::bad_request(
            "This product cannot be deleted because it has one or more user-created prices.",
        ));
    }
    let product = account.products.remove(id).expect("found above");
    let obj = snapshot(&product.json(None))?;
    emit(account, "product.deleted", obj, &event_request(ctx))?;
    Reply::json(&DeletedJson {
        id,
        object: "product",
        deleted: true,
    })
}

/// `GET /v1/products`: filters `active`, `ids[]`, `shippable`, `type`, `url`, `created`.
pub(crate) fn list(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let active = f.bool("active")?;
    let ids = f.string_list("ids")?;
    let shippable = f.bool("shippable")?;
    let kind: Option<ProductType> = one_of(&mut f, "type")?;
    let url = f.owned("url")?;
    let created = RangeFilter::read(&mut f, "created")?;
    let expand = expandable::read_list(&mut f, "product")?;
    f.finish()?;

    let keep = |p: &Product| {
        active.is_none_or(|a| p.active == a)
            && ids.as_ref().is_none_or(|ids| ids.contains(&p.id))
            && shippable.is_none_or(|s| p.shippable == Some(s))
            && kind.is_none_or(|k| p.kind == k)
            && url.as_ref().is_none_or(|u| p.url.as_ref() == Some(u))
            && created.matches(p.created)
    };
    let table = &account.products;
    let (data, has_more) = paginate(
        table.rows(),
        |id| table.position(id),
        keep,
        &page,
        "product",
    )?;
    let data: Vec<_> = data.into_iter().map(|p| p.json(None)).collect();
    let list = ListJson::new(data, has_more, "/v1/products".into());
    expandable::reply_list(
        account,
        "product",
        &list,
        &expand,
        &ctx.version_for(account),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{call, ctx, event_types};

    #[test]
    fn create_retrieve_update_list_and_events() {
        let mut a = Account::at(1_700_000_000);
        let v = call(
            create,
            &mut a,
            "name=T-shirt&description=Blue&images[]=https://img.test/a.png&metadata[sku]=TS-1\
             &marketing_features[0][name]=Soft&url=https://shop.test/tshirt&type=good",
        )
        .unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("prod_"));
        assert_eq!(v["object"], "product");
        assert_eq!(v["active"], true);
        assert_eq!(v["type"], "good");
        assert_eq!(v["marketing_features"][0]["name"], "Soft");
        assert_eq!(v["default_price"], serde_json::Value::Null);
        assert_eq!(v["updated"], 1_700_000_000);
        assert_eq!(event_types(&a), ["product.created"]);

        let p = Params::decode(&[b"description=&active=false&metadata[sku]=&name=Tee".as_slice()])
            .unwrap();
        let u: serde_json::Value =
            serde_json::from_slice(&update(&mut a, &id, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(u["description"], serde_json::Value::Null);
        assert_eq!(u["active"], false);
        assert_eq!(u["name"], "Tee");
        assert_eq!(u["metadata"], serde_json::json!({}));
        assert_eq!(event_types(&a), ["product.created", "product.updated"]);

        call(create, &mut a, "name=Mug").unwrap();
        let p = Params::decode(&[b"active=true".as_slice()]).unwrap();
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 1);
        assert_eq!(l["data"][0]["name"], "Mug");
        assert_eq!(l["url"], "/v1/products");
        let l: serde_json::Value =
            serde_json::from_slice(&list(&mut a, &Params::default(), &ctx()).unwrap().body)
                .unwrap();
        assert_eq!(l["data"][1]["id"], id.as_str(), "newest first");
    }

    #[test]
    fn default_price_data_creates_a_price() {
        let mut a = Account::at(1_700_000_000);
        let v = call(
            create,
            &mut a,
            "name=Book&default_price_data[currency]=usd&default_price_data[unit_amount]=2900&expand[]=default_price",
        )
        .unwrap();
        assert_eq!(v["default_price"]["object"], "price");
        assert_eq!(v["default_price"]["unit_amount"], 2900);
        assert_eq!(v["default_price"]["product"], v["id"]);
        assert_eq!(event_types(&a), ["product.created", "price.created"]);
    }

    #[test]
    fn errors() {
        let mut a = Account::at(1_700_000_000);
        let e = call(create, &mut a, "description=x").err().unwrap();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("parameter_missing"), Some("name"))
        );
        let e = call(create, &mut a, "name=x&colour=red").err().unwrap();
        assert_eq!(e.code, Some("parameter_unknown"));
        call(create, &mut a, "name=x&id=my_product").unwrap();
        let e = call(create, &mut a, "name=x&id=my_product").err().unwrap();
        assert_eq!(e.code, Some("resource_already_exists"));
        let e = retrieve(&mut a, "prod_nope", &Params::default(), &ctx())
            .err()
            .unwrap();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "No such product: 'prod_nope'")
        );
        let e = call(create, &mut a, "name=x&type=gadget").err().unwrap();
        assert_eq!(e.param.as_deref(), Some("type"));
    }

    #[test]
    fn delete_only_without_prices() {
        let mut a = Account::at(1_700_000_000);
        let with_price = call(
            create,
            &mut a,
            "name=A&default_price_data[currency]=usd&default_price_data[unit_amount]=100",
        )
        .unwrap();
        let id = with_price["id"].as_str().unwrap();
        let e = delete(&mut a, id, &Params::default(), &ctx())
            .err()
            .unwrap();
        assert_eq!(e.status.as_u16(), 400);
        let bare = call(create, &mut a, "name=B").unwrap();
        let id = bare["id"].as_str().unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&delete(&mut a, id, &Params::default(), &ctx()).unwrap().body)
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": id, "object": "product", "deleted": true})
        );
        assert!(retrieve(&mut a, id, &Params::default(), &ctx()).is_err());
        assert_eq!(event_types(&a).last(), Some(&"product.deleted"));
    }
}
