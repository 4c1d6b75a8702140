//! The search endpoints: `GET /v1/customers/search`, `/v1/payment_intents/search`,
//! `/v1/products/search`, `/v1/prices/search`. The query language and the page are
//! `protocol::search`; this module says which fields each resource offers (Stripe's query
//! fields for it) and reads them off the stored objects.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::protocol::search::{FieldKind, FieldValue, Schema, SearchParams, SearchResultJson};
use crate::protocol::{ApiResult, Fields, Params, Reply};
use crate::store::{Account, Table};

use super::customers::Customer;
use super::payment_intents::PaymentIntent;
use super::prices::Price;
use super::products::Product;

const CUSTOMERS: Schema = Schema {
    resource: "customers",
    fields: &[
        ("created", FieldKind::Numeric),
        ("email", FieldKind::Text),
        ("metadata", FieldKind::Metadata),
        ("name", FieldKind::Text),
        ("phone", FieldKind::Text),
    ],
};

const PAYMENT_INTENTS: Schema = Schema {
    resource: "payment_intents",
    fields: &[
        ("amount", FieldKind::Numeric),
        ("created", FieldKind::Numeric),
        ("currency", FieldKind::Token),
        ("customer", FieldKind::Token),
        ("metadata", FieldKind::Metadata),
        ("status", FieldKind::Token),
    ],
};

const PRODUCTS: Schema = Schema {
    resource: "products",
    fields: &[
        ("active", FieldKind::Token),
        ("created", FieldKind::Numeric),
        ("description", FieldKind::Text),
        ("metadata", FieldKind::Metadata),
        ("name", FieldKind::Text),
        ("shippable", FieldKind::Token),
        ("url", FieldKind::Text),
    ],
};

const PRICES: Schema = Schema {
    resource: "prices",
    fields: &[
        ("active", FieldKind::Token),
        ("created", FieldKind::Numeric),
        ("currency", FieldKind::Token),
        ("lookup_key", FieldKind::Text),
        ("metadata", FieldKind::Metadata),
        ("product", FieldKind::Token),
        ("type", FieldKind::Token),
    ],
};

fn text(s: &str) -> FieldValue<'_> {
    FieldValue::Text(Some(Cow::Borrowed(s)))
}

fn opt_text(s: Option<&str>) -> FieldValue<'_> {
    FieldValue::Text(s.map(Cow::Borrowed))
}

fn flag(b: bool) -> FieldValue<'static> {
    FieldValue::Text(Some(Cow::Borrowed(if b { "true" } else { "false" })))
}

fn meta<'a>(m: &'a BTreeMap<String, String>, key: Option<&str>) -> FieldValue<'a> {
    opt_text(key.and_then(|k| m.get(k)).map(String::as_str))
}

/// Reads the request, pages over `table`, renders each hit.
fn search<'a, T: crate::store::Keyed, J: serde::Serialize>(
    params: &Params,
    schema: &Schema,
    table: &'a Table<T>,
    live: impl Fn(&T) -> bool,
    field: impl Fn(&'a T, &str, Option<&str>) -> FieldValue<'a>,
    render: impl Fn(&'a T) -> J,
    url: &str,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let p = SearchParams::read(&mut f, schema)?;
    f.finish()?;
    let page = p.page(
        table.rows(),
        |id| table.position(id),
        |t| t.key(),
        |t: &'a T| live(t) && p.query.matches(|name, key| field(t, name, key)),
    )?;
    Reply::json(&SearchResultJson::new(page, render, url))
}

fn customer_field<'a>(c: &'a Customer, name: &str, key: Option<&str>) -> FieldValue<'a> {
    match name {
        "created" => FieldValue::Num(Some(c.created)),
        "email" => opt_text(c.email.as_deref()),
        "metadata" => meta(&c.metadata, key),
        "name" => opt_text(c.name.as_deref()),
        "phone" => opt_text(c.phone.as_deref()),
        _ => FieldValue::Text(None),
    }
}

/// `GET /v1/customers/search`
pub(crate) fn customers(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    search(
        params,
        &CUSTOMERS,
        &account.customers,
        |c| !c.deleted,
        customer_field,
        Customer::json,
        "/v1/customers/search",
    )
}

fn payment_intent_field<'a>(
    pi: &'a PaymentIntent,
    name: &str,
    key: Option<&str>,
) -> FieldValue<'a> {
    match name {
        "amount" => FieldValue::Num(Some(pi.amount)),
        "created" => FieldValue::Num(Some(pi.created)),
        "currency" => text(&pi.currency),
        "customer" => opt_text(pi.customer.as_deref()),
        "metadata" => meta(&pi.data.metadata, key),
        "status" => FieldValue::Text(
            serde_json::to_value(pi.status)
                .ok()
                .and_then(|v| v.as_str().map(|s| Cow::Owned(s.to_string()))),
        ),
        _ => FieldValue::Text(None),
    }
}

/// `GET /v1/payment_intents/search`
pub(crate) fn payment_intents(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    search(
        params,
        &PAYMENT_INTENTS,
        &account.payment_intents,
        |_| true,
        payment_intent_field,
        |pi| pi.json(None),
        "/v1/payment_intents/search",
    )
}

fn product_field<'a>(p: &'a Product, name: &str, key: Option<&str>) -> FieldValue<'a> {
    match name {
        "active" => flag(p.active),
        "created" => FieldValue::Num(Some(p.created)),
        "description" => opt_text(p.description.as_deref()),
        "metadata" => meta(&p.metadata, key),
        "name" => text(&p.name),
        "shippable" => FieldValue::Text(
            p.shippable
                .map(|s| Cow::Borrowed(if s { "true" } else { "false" })),
        ),
        "url" => opt_text(p.url.as_deref()),
        _ => FieldValue::Text(None),
    }
}

/// `GET /v1/products/search`
pub(crate) fn products(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    search(
        params,
        &PRODUCTS,
        &account.products,
        |_| true,
        product_field,
        |p| p.json(None),
        "/v1/products/search",
    )
}

fn price_field<'a>(p: &'a Price, name: &str, key: Option<&str>) -> FieldValue<'a> {
    match name {
        "active" => flag(p.active),
        "created" => FieldValue::Num(Some(p.created)),
        "currency" => text(&p.currency),
        "lookup_key" => opt_text(p.lookup_key.as_deref()),
        "metadata" => meta(&p.metadata, key),
        "product" => text(&p.product),
        "type" => text(p.kind().as_str()),
        _ => FieldValue::Text(None),
    }
}

/// `GET /v1/prices/search`
pub(crate) fn prices(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    search(
        params,
        &PRICES,
        &account.prices,
        |_| true,
        price_field,
        |p| p.json(None),
        "/v1/prices/search",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::call;
    use crate::resources::{customers, prices as price_api, products as product_api};

    fn search_json(
        f: fn(&mut Account, &Params) -> ApiResult<Reply>,
        a: &mut Account,
        query: &str,
        extra: &str,
    ) -> ApiResult<serde_json::Value> {
        let mut wire = form_urlencoded::Serializer::new(String::new());
        wire.append_pair("query", query);
        let wire = format!("{}{extra}", wire.finish());
        let p = Params::decode(&[wire.as_bytes()])?;
        Ok(serde_json::from_slice(&f(a, &p)?.body).unwrap())
    }

    #[test]
    fn customers_by_email_metadata_and_name() {
        let mut a = Account::at(1_700_000_000);
        for (email, name, tier) in [
            ("jenny@example.com", "Jenny Rosen", "gold"),
            ("sam@example.com", "Sam Smith", "silver"),
            ("jo@example.org", "Jo Rosen", "gold"),
        ] {
            call(
                customers::create,
                &mut a,
                &format!("email={email}&name={name}&metadata[tier]={tier}"),
            )
            .unwrap();
        }
        let v = search_json(customers, &mut a, "email:'jenny@example.com'", "").unwrap();
        assert_eq!(v["object"], "search_result");
        assert_eq!(v["url"], "/v1/customers/search");
        assert_eq!(v["data"].as_array().unwrap().len(), 1);
        assert_eq!(v["data"][0]["name"], "Jenny Rosen");
        assert_eq!(v["next_page"], serde_json::Value::Null);
        let v = search_json(
            customers,
            &mut a,
            "metadata['tier']:'gold' AND name~'rosen'",
            "",
        )
        .unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][0]["name"], "Jo Rosen", "newest first");
        let v = search_json(customers, &mut a, "-metadata['tier']:'gold'", "").unwrap();
        assert_eq!(v["data"][0]["name"], "Sam Smith");
        let v = search_json(
            customers,
            &mut a,
            "name~'rosen'",
            "&limit=1&expand[]=total_count",
        )
        .unwrap();
        assert_eq!(
            (v["has_more"].clone(), v["total_count"].clone()),
            (true.into(), 2.into())
        );
        let next = v["next_page"].as_str().unwrap().to_string();
        let v = search_json(
            customers,
            &mut a,
            "name~'rosen'",
            &format!("&limit=1&page={next}"),
        )
        .unwrap();
        assert_eq!(v["data"][0]["name"], "Jenny Rosen");
        assert_eq!(v["has_more"], false);

        let e = search_json(customers, &mut a, "status:'x'", "")
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("query"));
        let e = search_json(customers, &mut a, "email:'x'", "&page=nope")
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("page"));
    }

    #[test]
    fn products_and_prices() {
        let mut a = Account::at(1_700_000_000);
        let book = call(product_api::create, &mut a, "name=Book&metadata[shelf]=A1").unwrap();
        call(product_api::create, &mut a, "name=Mug&active=false").unwrap();
        let v = search_json(products, &mut a, "active:'true'", "").unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 1);
        assert_eq!(v["data"][0]["name"], "Book");
        let v = search_json(products, &mut a, "metadata['shelf']:'A1' OR name:'mug'", "").unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 2);

        let book = book["id"].as_str().unwrap();
        call(
            price_api::create,
            &mut a,
            &format!("product={book}&currency=usd&unit_amount=1500&lookup_key=book_std"),
        )
        .unwrap();
        call(
            price_api::create,
            &mut a,
            &format!("product={book}&currency=eur&unit_amount=900&recurring[interval]=month"),
        )
        .unwrap();
        let v = search_json(
            prices,
            &mut a,
            &format!("product:'{book}' AND type:'recurring'"),
            "",
        )
        .unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 1);
        assert_eq!(v["data"][0]["currency"], "eur");
        let v = search_json(prices, &mut a, "lookup_key:'book_std'", "").unwrap();
        assert_eq!(v["data"][0]["unit_amount"], 1500);
        let v = search_json(prices, &mut a, "created>=1700000000 -currency:'usd'", "").unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 1);
    }
}
